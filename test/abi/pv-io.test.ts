/**
 * PV port I/O (abi/pv/io.ts) against Xen's pv/emul-priv-op.c for a domU without I/O ports: IN,
 * OUT, INS and OUTS fault with #GP(0) at CPL 3 and are emulated when guest_io_okay allows them
 * (virtual IOPL against the virtual CPL, else the guest's I/O bitmap); reads are all ones except
 * the 0xCF8 dword and the RTC index latches; refusals reach the guest's trap table as #GP(0).
 */
import { describe, expect, it } from 'vitest';
import { XEN_EPERM } from '../../abi/public/errno.js';
import * as P from '../../abi/public/physdev.js';
import * as X from '../../abi/public/xen.js';
import { CR4_DE } from '../../x86/system/regs.js';
import { ARG, CODE, FEATURES, UNMAPPED, XenWithoutDe, pvDomain, type PvDomain } from './pv-domain.js';

const HANDLERS = 0x6000;
const handler = (vector: number): number => HANDLERS + vector * 16;
const JMP_SELF = [0xeb, 0xfe];

function domain(iopl: number, de = false): PvDomain {
  const p = pvDomain(de ? undefined : new XenWithoutDe(FEATURES));
  for (let v = 0; v < 256; v++) {
    p.v.trapAddress[v] = handler(v);
    p.write(handler(v), new Uint8Array(JMP_SELF));
  }
  p.write(ARG, new Uint8Array([iopl, 0, 0, 0]));
  if (p.call(X.__HYPERVISOR_physdev_op, P.PHYSDEVOP_set_iopl, ARG) !== 0) throw new Error('set_iopl failed');
  return p;
}

/** Runs `code` (then `jmp $`) from CODE for `limit` instructions. */
function run(p: PvDomain, code: readonly number[], limit = 100): void {
  p.write(CODE, new Uint8Array([...code, ...JMP_SELF]));
  p.v.cpu.rip = CODE;
  p.v.cpu.run(limit);
}

const movDx = (port: number) => [0x66, 0xba, port & 0xff, port >> 8];
const movEax = (v: number) => [0xb8, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const movEcx = (v: number) => [0xb9, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

describe('PV port I/O: permission', () => {
  it('without IOPL or bitmap, OUT is #GP(0) at the instruction through the trap table', () => {
    const p = domain(0);
    run(p, [...movDx(0xcf8), 0xef]);
    expect(p.v.cpu.rip).toBe(handler(13));
    expect(p.readU64(p.v.reg(4), 4).slice(2)).toEqual([0, CODE + 4]); // error code 0, RIP of the OUT
    expect(p.d.ioPorts.pciCf8).toBe(0);
  });

  it('the guest kernel counts as CPL 1: IOPL 1 allows it, VMASST architectural_iopl makes it CPL 0', () => {
    const p = domain(1);
    run(p, [0xe6, 0x70, ...JMP_SELF]);
    expect(p.v.cpu.rip).toBe(CODE + 2);
    const q = domain(0);
    expect(q.call(X.__HYPERVISOR_vm_assist, X.VMASST_CMD_enable, X.VMASST_TYPE_architectural_iopl)).toBe(0);
    run(q, [0xe6, 0x70]);
    expect(q.v.cpu.rip).toBe(CODE + 2);
  });

  it('guest user mode is CPL 3: IOPL 1 is not enough, IOPL 3 is', () => {
    for (const [iopl, allowed] of [[1, false], [3, true]] as const) {
      const p = domain(iopl);
      p.v.guestTableUser = p.v.guestTable;
      p.v.kernelSp = 0x20000;
      p.v.toggleMode();
      run(p, [0xe4, 0x70]);
      expect(p.v.cpu.rip).toBe(allowed ? CODE + 2 : handler(13));
      expect(p.v.kernelMode).toBe(!allowed);
    }
  });

  it('the I/O bitmap allows ports whose bits are clear, within nr_ports; unreadable bitmap bytes refuse', () => {
    const p = domain(0);
    const bitmap = 0x12000;
    p.write(bitmap, new Uint8Array(32));
    p.write(bitmap + 0x10, new Uint8Array([0x02])); // port 0x81 denied
    p.u64s(ARG, [bitmap, 0x100]);
    expect(p.call(X.__HYPERVISOR_physdev_op, P.PHYSDEVOP_set_iobitmap, ARG)).toBe(0);
    run(p, [0xe6, 0x80]); // out %al,$0x80
    expect(p.v.cpu.rip).toBe(CODE + 2);
    p.v.setReg(4, 0x20000);
    run(p, [0x66, 0xe7, 0x80]); // out %ax,$0x80: covers 0x81
    expect(p.v.cpu.rip).toBe(handler(13));
    p.v.setReg(4, 0x20000);
    run(p, [0xe6, 0xff]); // the last port within nr_ports
    expect(p.v.cpu.rip).toBe(CODE + 2);
    run(p, [...movDx(0x100), 0xee]); // beyond nr_ports
    expect(p.v.cpu.rip).toBe(handler(13));
    p.u64s(ARG, [UNMAPPED, 0x100]);
    expect(p.call(X.__HYPERVISOR_physdev_op, P.PHYSDEVOP_set_iobitmap, ARG)).toBe(0);
    p.v.setReg(4, 0x20000);
    run(p, [0xe6, 0x80]);
    expect(p.v.cpu.rip).toBe(handler(13));
  });
});

describe('PV port I/O: what a domU reads and writes', () => {
  it('0xCF8 latches a dword and reads it back; 0xCFC reads all ones; a byte at 0xCF8 is not latched', () => {
    const p = domain(1);
    run(p, [
      ...movDx(0xcf8), ...movEax(0x80001234), 0xef, // out %eax,%dx
      ...movEax(0), 0xed, 0x89, 0xc3, // in %dx,%eax; mov %eax,%ebx
      0xee, // out %al,%dx: one byte, not the latch
      ...movDx(0xcfc), 0xed, 0x89, 0xc1, // in %dx,%eax; mov %eax,%ecx
      ...movDx(0xcfe), ...movEax(0), 0x66, 0xed, 0x89, 0xc6, // in %dx,%ax at CONFIG_DATA+2
    ]);
    expect(p.v.cpu.rip).toBe(CODE + 39);
    expect(p.v.reg(3)).toBe(0x80001234);
    expect(p.v.reg(1)).toBe(0xffffffff);
    expect(p.v.reg(6)).toBe(0xffff);
    expect(p.d.ioPorts.pciCf8).toBe(0x80001234);
  });

  it('other ports read all ones of the width and leave the rest of RAX; the RTC index latches a byte', () => {
    const p = domain(1);
    run(p, [
      ...movEax(0x11223344), 0x66, 0xe5, 0x60, 0x89, 0xc6, // in $0x60,%ax; mov %eax,%esi
      0xb0, 0x8f, 0xe6, 0x70, // mov $0x8f,%al; out %al,$0x70
      ...movEax(0), 0xe4, 0x70, 0x89, 0xc7, // in $0x70,%al; mov %eax,%edi
      0xe4, 0x71, // in $0x71,%al
      0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff, 0xe5, 0x42, // mov $-1,%rax; in $0x42,%eax: zero-extends
    ]);
    expect(p.v.reg(6)).toBe(0x1122ffff);
    expect(p.v.reg(7)).toBe(0x8f);
    expect(p.d.ioPorts.cmosIdx).toBe(0x8f);
    expect(p.v.reg(0)).toBe(0xffffffff);
  });

  it('a 16-bit write at 0x70 latches its low byte; a dword read at 0x70 gives the index then all ones', () => {
    const p = domain(1);
    run(p, [...movEax(0x1234), 0x66, 0xe7, 0x70, 0xe5, 0x70]);
    expect(p.d.ioPorts.cmosIdx).toBe(0x34);
    expect(p.v.reg(0)).toBe(0xffffff34);
  });
});

describe('PV port I/O: INS and OUTS', () => {
  it('rep outsl writes each dword (the 0xCF8 latch ends with the last); rep insb stores the RTC index', () => {
    const p = domain(1);
    p.write(ARG, new Uint8Array([0x10, 0, 0, 0x80, 0x20, 0, 0, 0x80]));
    p.v.setReg(6, ARG);
    run(p, [...movDx(0xcf8), ...movEcx(2), 0xf3, 0x6f]);
    expect(p.d.ioPorts.pciCf8).toBe(0x80000020);
    expect([p.v.reg(6), p.v.reg(1), p.v.cpu.rip]).toEqual([ARG + 8, 0, CODE + 11]);
    p.d.ioPorts.cmosIdx = 0x0a;
    p.v.setReg(7, ARG + 0x100);
    run(p, [...movDx(0x70), ...movEcx(3), 0xf3, 0x6c]);
    expect(p.readU64(ARG + 0x100, 1)).toEqual([0x0a0a0a]); // three elements, the fourth byte untouched
    expect([p.v.reg(7), p.v.reg(1)]).toEqual([ARG + 0x103, 0]);
  });

  it('a REP with a zero count is skipped before the permission check', () => {
    const p = domain(0);
    run(p, [...movDx(0xcf8), ...movEcx(0), 0xf3, 0x6e]);
    expect(p.v.cpu.rip).toBe(CODE + 11);
  });

  it('a page fault part way: #PF (write, kernel) at the first byte not written, registers count the elements done', () => {
    const p = domain(1);
    p.v.setReg(7, 0x1fffc);
    run(p, [...movDx(0x60), ...movEcx(3), 0xf3, 0x66, 0x6d]); // rep insw
    expect(p.v.cpu.rip).toBe(handler(14));
    expect(p.v.virtualCr2).toBe(0x20000);
    expect([p.v.reg(7), p.v.reg(1)]).toEqual([0x20000, 1]);
    expect(p.readU64(p.v.reg(4), 4).slice(2)).toEqual([2, CODE + 9]); // W, at the rep insw
    // An element across the end: its first byte is written, CR2 is the second.
    const q = domain(1);
    q.v.setReg(7, 0x1ffff);
    run(q, [...movDx(0x60), 0x66, 0x6d]);
    expect(q.v.virtualCr2).toBe(0x20000);
    expect(q.v.reg(7)).toBe(0x1ffff);
  });

  it('OUTS from unreadable memory is #PF with error code 0; an address in Xen\'s range is #GP(0)', () => {
    const p = domain(1);
    p.v.setReg(6, UNMAPPED);
    run(p, [...movDx(0x80), 0x6e]);
    expect(p.v.cpu.rip).toBe(handler(14));
    expect(p.readU64(p.v.reg(4), 3)[2]).toBe(0);
    const q = domain(1);
    q.v.setReg(7, -0x800000000000);
    run(q, [...movDx(0x80), 0x6c]);
    expect(q.v.cpu.rip).toBe(handler(13));
  });
});

describe('PV port I/O: debug traps after emulation', () => {
  it('RFLAGS.TF: #DB after the emulated instruction with DR6.BS', () => {
    const p = domain(1);
    p.write(CODE, new Uint8Array([0xe4, 0x70, 0x90, ...JMP_SELF]));
    p.v.cpu.rip = CODE;
    p.v.cpu.setFlags(p.v.cpu.getFlags() | 0x100);
    p.v.cpu.run(1);
    expect(p.v.cpu.rip).toBe(handler(1));
    expect(p.readU64(p.v.reg(4), 3)[2]).toBe(CODE + 2);
    expect(p.call(X.__HYPERVISOR_get_debugreg, 6)).toBe(0xffff4ff0);
  });

  it('an I/O breakpoint (CR4.DE, R/W = 10) on the port: #DB after the OUT with DR6.B2', () => {
    const p = domain(1, true);
    p.v.guestCr4 = CR4_DE;
    expect(p.call(X.__HYPERVISOR_set_debugreg, 2, 0x80)).toBe(0);
    expect(p.call(X.__HYPERVISOR_set_debugreg, 7, (1 << 4) | (2 << 24))).toBe(0);
    run(p, [0xe6, 0x81, 0xe6, 0x80, 0x90]);
    expect(p.v.cpu.rip).toBe(handler(1));
    expect(p.readU64(p.v.reg(4), 3)[2]).toBe(CODE + 4);
    expect(p.call(X.__HYPERVISOR_get_debugreg, 6)).toBe(0xffff0ff4);
    // Without CR4.DE the breakpoint cannot be set at all.
    const q = domain(1);
    expect(q.call(X.__HYPERVISOR_set_debugreg, 7, (1 << 4) | (2 << 24))).toBe(-XEN_EPERM);
  });
});
