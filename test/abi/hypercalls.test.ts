/**
 * The hypercall table and the first families (abi/hypercall/): guest code makes real hypercalls
 * through SYSCALL in kernel mode, the results land in RAX and in the domain's statistics, and
 * unimplemented numbers answer -ENOSYS. Guest memory is identity-mapped by page tables built
 * here.
 */
import { describe, expect, it } from 'vitest';
import { Domain } from '../../abi/hv/domain.js';
import { Xen } from '../../abi/hv/xen.js';
import { PvVcpu } from '../../abi/pv/vcpu.js';
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOSYS } from '../../abi/public/errno.js';
import { TestRam } from '../support/ram.js';

const MiB = 1 << 20;
const CODE = 0x100000;
const DATA = 0x200000;
const STACK = 0x300000;
const HANDLERS = 0x400000;

class Ram extends TestRam {
  constructor() {
    super(8 * MiB);
  }
}

interface M {
  xen: Xen;
  dom: Domain;
  v: PvVcpu;
  ram: Ram;
}

function machine(): M {
  const ram = new Ram();
  ram.u64(0x1000, 0x2000n | 7n);
  ram.u64(0x2000, 0x3000n | 7n);
  for (let k = 0; k < 4; k++) ram.u64(0x3000 + k * 8, BigInt(k * 2 * MiB) | 0x87n);
  const features = new Set(['base', 'sse', 'sse2'] as const);
  const xen = new Xen(features);
  const dom = new Domain(1, 'test');
  const v = new PvVcpu(0, ram, xen, features);
  xen.attach(v, dom);
  v.guestTable = 1;
  v.loadRoot();
  v.setReg(4, STACK);
  return { xen, dom, v, ram };
}

/** Host write of guest code: decoded blocks from before are dropped, as a loader must. */
function load(m: M, at: number, code: readonly number[]): void {
  m.ram.bytes(at, code);
  m.v.cpu.invalidateAllCode();
}

/** Makes hypercall `nr` with `args` from guest code and returns RAX. */
function hypercall(m: M, nr: number, ...args: number[]): number {
  const { v } = m;
  v.setReg(0, nr);
  [7, 6, 2, 10, 8].forEach((r, k) => v.setReg(r, args[k] ?? 0));
  load(m, CODE, [0x0f, 0x05]);
  v.cpu.rip = CODE;
  v.cpu.run(1);
  const rax = v.reg(0);
  return rax >= 2 ** 63 ? rax - 2 ** 64 : rax > 0x7fffffffffff ? rax - 2 ** 64 : rax;
}

describe('hypercall table', () => {
  it('answers an unimplemented hypercall with -ENOSYS and counts it', () => {
    const m = machine();
    expect(hypercall(m, 40)).toBe(-XEN_ENOSYS);
    expect(hypercall(m, 11)).toBe(-XEN_ENOSYS);
    expect(m.dom.stats.list()).toEqual([
      { hypercall: 'hypercall_11', subop: '', result: '-ENOSYS', count: 1 },
      { hypercall: 'xenpmu_op', subop: '', result: '-ENOSYS', count: 1 },
    ]);
  });

  it('console_io writes reach the domain; a bad buffer is -EFAULT', () => {
    const m = machine();
    m.ram.bytes(DATA, new TextEncoder().encode('hello\n'));
    expect(hypercall(m, 18, 0, 6, DATA)).toBe(0);
    expect(String.fromCharCode(...m.dom.consoleOut)).toBe('hello\n');
    expect(hypercall(m, 18, 0, 6, 0x7f0000000000)).toBe(-XEN_EFAULT);
    expect(m.dom.stats.list().map((c) => `${c.subop} ${c.result} ${c.count}`)).toEqual(['CONSOLEIO_write -EFAULT 1', 'CONSOLEIO_write ok 1']);
  });

  it('xen_version: 4.17, the feature submap, -EINVAL for another submap', () => {
    const m = machine();
    m.dom.features = (1 << 5) | (1 << 17);
    expect(hypercall(m, 17, 0, 0)).toBe((4 << 16) | 17);
    expect(hypercall(m, 17, 6, DATA)).toBe(0);
    expect(new DataView(m.ram.buf).getUint32(DATA + 4, true)).toBe((1 << 5) | (1 << 17));
    new DataView(m.ram.buf).setUint32(DATA, 1, true);
    expect(hypercall(m, 17, 6, DATA)).toBe(-XEN_EINVAL);
    expect(hypercall(m, 17, 7, 0)).toBe(4096);
  });

  it('set_trap_table then a #UD is delivered to the registered handler', () => {
    const m = machine();
    // trap_info {u8 vector, u8 flags, u16 cs, u64 address}, terminated by address 0.
    const dv = new DataView(m.ram.buf);
    dv.setUint8(DATA, 6);
    dv.setBigUint64(DATA + 8, BigInt(HANDLERS), true);
    dv.setBigUint64(DATA + 24, 0n, true);
    expect(hypercall(m, 0, DATA)).toBe(0);
    expect(m.v.trapAddress[6]).toBe(HANDLERS);
    load(m, HANDLERS, [0xeb, 0xfe]); // jmp .
    load(m, CODE, [0x0f, 0x0b]);
    m.v.cpu.rip = CODE;
    m.v.cpu.run(1);
    expect(m.v.cpu.rip).toBe(HANDLERS);
    // A non-canonical handler is refused.
    dv.setBigUint64(DATA + 8, 0x0000800000000000n, true);
    expect(hypercall(m, 0, DATA)).toBe(-XEN_EINVAL);
  });

  it('sched_op shutdown ends the domain with its reason; shutdown_code is latched first', () => {
    const m = machine();
    new DataView(m.ram.buf).setUint32(DATA, 3, true);
    expect(hypercall(m, 29, 5, DATA)).toBe(0);
    new DataView(m.ram.buf).setUint32(DATA, 0, true);
    hypercall(m, 29, 2, DATA);
    expect(m.dom.state).toEqual({ kind: 'shutdown', reason: 0, code: 3 });
    expect(m.dom.stats.total('sched_op')).toBe(2);
  });

  it('vm_assist enables and disables known types and refuses others', () => {
    const m = machine();
    expect(hypercall(m, 21, 0, 2)).toBe(0);
    expect(m.dom.vmAssist).toBe(4);
    expect(hypercall(m, 21, 1, 2)).toBe(0);
    expect(m.dom.vmAssist).toBe(0);
    expect(hypercall(m, 21, 0, 17)).toBe(-XEN_EINVAL);
  });

  it('CPUID through the forced-emulation prefix reports the Xen leaves and the hypervisor bit', () => {
    const m = machine();
    const { v, ram } = m;
    v.setReg(0, 0x40000000);
    load(m, CODE, [0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2]);
    v.cpu.rip = CODE;
    v.cpu.run(1);
    expect(v.cpu.reg32(3)).toBe(0x566e6558);
    v.setReg(0, 1);
    v.cpu.rip = CODE;
    v.cpu.run(1);
    expect(v.cpu.reg32(1) >>> 31).toBe(1);
  });
});
