/**
 * set_debugreg/get_debugreg and MOV to/from DRn (abi/pv/debugreg.ts, abi/hypercall/debugreg.ts)
 * against Xen's set_debugreg and x86emul_read_dr: validation and the guest's view, and the
 * breakpoints themselves — loaded into the x86 core, firing as #DB through the guest's trap
 * table with DR6 merged as Xen's do_debug does.
 */
import { describe, expect, it } from 'vitest';
import { XEN_EINVAL, XEN_ENODEV, XEN_EPERM } from '../../abi/public/errno.js';
import * as X from '../../abi/public/xen.js';
import { CR4_DE } from '../../x86/system/regs.js';
import { ARG, CODE, FEATURES, XenWithoutDe, pvDomain, type PvDomain } from './pv-domain.js';

const HANDLERS = 0x6000;
const handler = (vector: number): number => HANDLERS + vector * 16;

function domain(de = false): PvDomain {
  const p = pvDomain(de ? undefined : new XenWithoutDe(FEATURES));
  for (let v = 0; v < 256; v++) {
    p.v.trapAddress[v] = handler(v);
    p.write(handler(v), new Uint8Array([0xeb, 0xfe]));
  }
  if (de) p.v.guestCr4 = CR4_DE;
  return p;
}

const set = (p: PvDomain, reg: number, value: number | bigint): number => p.call(X.__HYPERVISOR_set_debugreg, reg, value);
const get = (p: PvDomain, reg: number): number => p.call(X.__HYPERVISOR_get_debugreg, reg);

function run(p: PvDomain, code: readonly number[], limit: number): void {
  p.write(CODE, new Uint8Array(code));
  p.v.cpu.rip = CODE;
  p.v.cpu.run(limit);
}

/** The bounce frame's words at RSP. */
function frame(p: PvDomain, n: number): number[] {
  return p.readU64(p.v.reg(4), n);
}

describe('set_debugreg / get_debugreg: validation', () => {
  it('starts with DR6 = 0xffff0ff0 and DR7 = 0x400; DR0-3 take guest addresses, -EPERM for Xen range or non-canonical', () => {
    const p = domain();
    expect([get(p, 0), get(p, 6), get(p, 7)]).toEqual([0, 0xffff0ff0, 0x400]);
    expect(set(p, 0, 0x7ffffffff000)).toBe(0);
    expect(get(p, 0)).toBe(0x7ffffffff000);
    expect(set(p, 3, 0xffff880000000000n)).toBe(0);
    expect(get(p, 3)).toBe(-0x780000000000);
    expect(set(p, 1, 0xffff800000000000n)).toBe(-XEN_EPERM); // Xen's own range
    expect(set(p, 1, 0x800000000000)).toBe(-XEN_EPERM); // non-canonical
    expect(set(p, 2, -1n)).toBe(0);
    expect(get(p, 2)).toBe(-1);
    expect(p.d.stats.list()).toContainEqual({ hypercall: 'get_debugreg', subop: 'DR3', result: 'value', count: 1 });
  });

  it('DR6: reserved bits forced (bit 12 clear, 4-11 and 16-31 set), upper half -EINVAL', () => {
    const p = domain();
    expect(set(p, 6, 0)).toBe(0);
    expect(get(p, 6)).toBe(0xffff0ff0);
    expect(set(p, 6, 0xffffffff)).toBe(0);
    expect(get(p, 6)).toBe(0xffffefff);
    expect(set(p, 6, 0x100000000n)).toBe(-XEN_EINVAL);
  });

  it('DR7: bit 10 set, bits 11/12/14/15 dropped, GD -EPERM, upper half -EINVAL; the core gets the value', () => {
    const p = domain();
    expect(set(p, 7, 0)).toBe(0);
    expect(get(p, 7)).toBe(0x400);
    expect(set(p, 7, 0xd801)).toBe(0);
    expect(get(p, 7)).toBe(0x401);
    expect(p.v.cpu.dr[7]).toBe(0x401);
    expect(set(p, 7, 0x2000)).toBe(-XEN_EPERM);
    expect(set(p, 7, 0x100000001n)).toBe(-XEN_EINVAL);
    expect(get(p, 7)).toBe(0x401);
  });

  it('without CR4.DE: DR4/DR5 alias DR6/DR7 and I/O breakpoints are -EPERM; other numbers -ENODEV', () => {
    const p = domain();
    expect(set(p, 4, 0x1)).toBe(0);
    expect(get(p, 6)).toBe(0xffff0ff1);
    expect(get(p, 4)).toBe(0xffff0ff1);
    expect(set(p, 5, 0x3)).toBe(0);
    expect(get(p, 5)).toBe(0x403);
    expect(set(p, 7, 0x20001)).toBe(-XEN_EPERM); // DR0 R/W = 10 (I/O), enabled
    expect(set(p, 7, 0x20000)).toBe(0); // not enabled: accepted as is
    for (const r of [8, 15, -1]) {
      expect(set(p, r, 0)).toBe(-XEN_ENODEV);
      expect(get(p, r)).toBe(-XEN_ENODEV);
    }
  });

  it('with CR4.DE: DR4/DR5 are -ENODEV; an I/O breakpoint is kept out of the core but read back', () => {
    const p = domain(true);
    expect(set(p, 4, 0)).toBe(-XEN_ENODEV);
    expect(get(p, 5)).toBe(-XEN_ENODEV);
    expect(set(p, 7, 0x20003 | 0x100000)).toBe(0); // DR0 I/O (L0+G0), DR1 write watch (not enabled)
    expect(get(p, 7)).toBe(0x120403);
    expect(p.v.cpu.dr[7]).toBe(0x120400);
    expect(p.v.dr7Emul).toBe(3);
  });
});

describe('debug registers: breakpoints fire as #DB through the trap table', () => {
  it('an instruction breakpoint is a fault at the instruction; DR6.B0 reaches get_debugreg(6)', () => {
    const p = domain();
    expect(set(p, 0, CODE + 1)).toBe(0);
    expect(set(p, 7, 1)).toBe(0);
    run(p, [0x90, 0x90, 0x90, 0xeb, 0xfe], 20);
    expect(p.v.cpu.rip).toBe(handler(1));
    expect(frame(p, 3)[2]).toBe(CODE + 1);
    expect(get(p, 6)).toBe(0xffff0ff1);
    expect(p.v.cpu.dr[6]).toBe(0xffff0ff0);
  });

  it('a data write breakpoint is a trap after the instruction (DR6.B1)', () => {
    const p = domain();
    expect(set(p, 1, ARG)).toBe(0);
    expect(set(p, 7, (1 << 2) | (1 << 20) | (3 << 22))).toBe(0); // L1, write, 4 bytes
    p.v.setReg(3, ARG);
    run(p, [0x48, 0x89, 0x03, 0x90, 0xeb, 0xfe], 20); // mov %rax,(%rbx); nop
    expect(p.v.cpu.rip).toBe(handler(1));
    expect(frame(p, 3)[2]).toBe(CODE + 3);
    expect(get(p, 6)).toBe(0xffff0ff2);
  });

  it('the iret hypercall keeps RF, so the handler can step over an instruction breakpoint', () => {
    const p = domain();
    expect(set(p, 0, CODE)).toBe(0);
    expect(set(p, 7, 1)).toBe(0);
    run(p, [0x90, 0xeb, 0xfe], 5);
    expect(p.v.cpu.rip).toBe(handler(1));
    // The guest returns with RF set in the saved flags: rax, r11, rcx, flags, rip, cs, rflags, rsp, ss.
    const sp = 0x1e000;
    p.v.setReg(4, sp);
    p.u64s(sp, [0, 0, 0, 0, CODE, 0xe030, 0x10202, 0x1d000, 0xe02b]);
    p.v.setReg(0, X.__HYPERVISOR_iret);
    p.write(0x9000, new Uint8Array([0x0f, 0x05]));
    p.v.cpu.rip = 0x9000;
    p.v.cpu.run(5);
    expect(p.v.cpu.rip).toBe(CODE + 1); // the nop ran; then the jmp $ loops
  });

  it('MOV to/from DRn in kernel mode is emulated with the same rules (#UD for -ENODEV, #GP otherwise)', () => {
    const p = domain();
    p.v.setReg(0, 0x401);
    run(p, [0x0f, 0x23, 0xf8, 0x0f, 0x21, 0xf1, 0xeb, 0xfe], 3); // mov %rax,%dr7; mov %dr6,%rcx
    expect(get(p, 7)).toBe(0x401);
    expect(p.v.reg(1)).toBe(0xffff0ff0);
    expect(p.v.cpu.rip).toBe(CODE + 6);
    p.v.setReg(0, 0x2000);
    run(p, [0x0f, 0x23, 0xf8], 1); // GD: #GP(0)
    expect(p.v.cpu.rip).toBe(handler(13));
    p.v.setReg(4, 0x20000);
    run(p, [0x44, 0x0f, 0x21, 0xc0], 1); // mov %dr8,%rax: #UD
    expect(p.v.cpu.rip).toBe(handler(6));
  });
});
