/**
 * vcpu_op (abi/hypercall/vcpu.ts) from guest code: the error rules, bringing up a second vCPU
 * with VCPUOP_initialise + VCPUOP_up and taking it down again, the runstate (get_runstate_info
 * and the registered area), VCPUOP_register_vcpu_info (vcpu_info and pvclock move, events still
 * arrive), and determinism of the scheduler with two vCPUs.
 */
import { describe, expect, it } from 'vitest';
import { layout } from '../../abi/public/index.js';
import { XEN_EEXIST, XEN_EFAULT, XEN_EINVAL, XEN_ENOENT, XEN_ENOSYS } from '../../abi/public/errno.js';
import { VcpuInfoArea } from '../../abi/time/pvclock.js';
import { runExactly, runMachine } from '../../abi/time/scheduler.js';
import { CODE, CODE1, DATA, EVENT_CB, HC, L4, SPARE_PFN, STACK1, asm, load, shutdownCode, signed, world, type World } from './time-guest.js';

const OP = { initialise: 0, up: 1, down: 2, is_up: 3, get_runstate_info: 4, register_runstate: 5, stop_periodic: 7, register_vcpu_info: 10, send_nmi: 11, get_physid: 12, time_area: 13 };
const CTX = 0x210000; // vcpu_guest_context (about 5 KiB)
const ARG = DATA + 0x100;
const RES = DATA + 0x800; // results, 8 bytes each
const MARK = DATA + 0x900;
const SEEN_TSC = DATA + 0x908;
const REASON = DATA + 0x910;
const RS = DATA + 0xa00;
const RS2 = DATA + 0xa80;

function call(w: World, nr: number, ...args: (number | bigint)[]): number {
  load(w, CODE, [...asm.hc(nr, ...args), ...asm.jmpSelf]);
  runExactly(w.v, 2 + args.length);
  return signed(BigInt(w.v.reg(0)) & 0xffffffffffffffffn);
}

const GC = layout('vcpu_guest_context', 'x86_64');
const off = (p: string): number => GC.find(p)!.offset;

/** A vcpu_guest_context for a kernel-mode vCPU at `rip` with stack `rsp`, Linux style. */
function guestContext(w: World, rip: number, rsp: number): void {
  new Uint8Array(w.ram.buf, CTX, GC.size).fill(0);
  const q = (p: string, v: number | bigint): void => w.ram.dv.setBigUint64(CTX + off(p), BigInt.asUintN(64, BigInt(v)), true);
  q('flags', 1 << 2); // VGCF_in_kernel
  q('user_regs.rip', rip);
  q('user_regs.rsp', rsp);
  q('user_regs.rflags', 0x1202); // IOPL 1 becomes the virtual IOPL
  q('user_regs.r12', 0x1111);
  w.ram.dv.setUint16(CTX + off('user_regs.cs'), 0xe033, true);
  w.ram.dv.setUint16(CTX + off('user_regs.ss'), 0xe02b, true);
  q('kernel_ss', 0xe02b);
  q('kernel_sp', rsp);
  q('ctrlreg', 0); // ctrlreg[0]
  w.ram.dv.setBigUint64(CTX + off('ctrlreg') + 3 * 8, BigInt(L4 * 4096), true); // xen_pfn_to_cr3
  q('event_callback_eip', EVENT_CB);
  q('gs_base_kernel', 0x7000);
  // Debug registers: DR0 a user address, DR1 in Xen's range (refused: stays 0), DR7 L0 + bits to drop.
  w.ram.dv.setBigUint64(CTX + off('debugreg') + 0 * 8, 0x450000n, true);
  w.ram.dv.setBigUint64(CTX + off('debugreg') + 1 * 8, 0xffff800000000000n, true);
  w.ram.dv.setBigUint64(CTX + off('debugreg') + 7 * 8, 0x1801n, true);
  const trap6 = CTX + off('trap_ctxt') + 6 * 16;
  w.ram.dv.setUint8(trap6, 6);
  w.ram.dv.setBigUint64(trap6 + 8, 0x450000n, true);
}

describe('vcpu_op: errors', () => {
  it('bad vcpuid -ENOENT before anything else; unknown cmd -ENOSYS; is_up; up before initialise; physid; nmi', () => {
    const w = world();
    expect(call(w, HC.vcpu_op, 99, 2, 0)).toBe(-XEN_ENOENT);
    expect(call(w, HC.vcpu_op, OP.is_up, 2, 0)).toBe(-XEN_ENOENT);
    expect(call(w, HC.vcpu_op, 99, 0, 0)).toBe(-XEN_ENOSYS);
    expect(call(w, HC.vcpu_op, 14, 0, ARG)).toBe(-XEN_ENOSYS); // register_runstate_phys_area: 4.18
    expect(call(w, HC.vcpu_op, OP.is_up, 0, 0)).toBe(1);
    expect(call(w, HC.vcpu_op, OP.is_up, 1, 0)).toBe(0);
    expect(call(w, HC.vcpu_op, OP.up, 1, 0)).toBe(-XEN_EINVAL);
    expect(call(w, HC.vcpu_op, OP.get_physid, 0, ARG)).toBe(-XEN_EINVAL);
    expect(call(w, HC.vcpu_op, OP.send_nmi, 0, ARG)).toBe(-XEN_EINVAL);
    expect(call(w, HC.vcpu_op, OP.send_nmi, 0, 0)).toBe(0);
    expect(w.dom.time!.vcpu(0).nmiPending).toBe(true);
  });

  it('initialise refuses a non-canonical RIP and a CR3 that is no frame of the domain', () => {
    const w = world();
    guestContext(w, 0x0000900000000000, STACK1);
    expect(call(w, HC.vcpu_op, OP.initialise, 1, CTX)).toBe(-XEN_EINVAL);
    guestContext(w, CODE1, STACK1);
    w.ram.dv.setBigUint64(CTX + off('ctrlreg') + 3 * 8, 0n, true);
    expect(call(w, HC.vcpu_op, OP.initialise, 1, CTX)).toBe(-XEN_EINVAL);
    expect(w.dom.vcpus[1]).toBeUndefined();
  });

  it('downing the last vCPU that is up powers the domain off', () => {
    const w = world();
    expect(call(w, HC.vcpu_op, OP.down, 0, 0)).toBe(0);
    expect(w.dom.state).toEqual({ kind: 'shutdown', reason: 0, code: 0 });
  });
});

describe('vcpu_op: a second vCPU', () => {
  it('initialise, up, runs from its context, downs itself', () => {
    const w = world();
    guestContext(w, CODE1, STACK1);
    const store = (k: number): number[] => asm.storeRax(RES + k * 8);
    load(w, CODE, [
      ...asm.hc(HC.vcpu_op, OP.initialise, 1, CTX), ...store(0),
      ...asm.hc(HC.vcpu_op, OP.initialise, 1, CTX), ...store(1),
      ...asm.hc(HC.vcpu_op, OP.is_up, 1, 0), ...store(2),
      ...asm.hc(HC.vcpu_op, OP.up, 1, 0), ...store(3),
      ...asm.hc(HC.vcpu_op, OP.is_up, 1, 0), ...store(4),
      ...asm.jmpSelf,
    ]);
    w.ram.bytes(CODE1, [...asm.mov(0, 0x5151), ...asm.storeRax(MARK), ...asm.hc(HC.vcpu_op, OP.down, 1, 0), ...asm.jmpSelf]);
    const r = runMachine({ xen: w.xen, domains: [w.dom], maxInstructions: 50_000 });
    expect(r.reason).toBe('instruction-limit');
    expect([0, 1, 2, 3, 4].map((k) => signed(w.ram.u64(RES + k * 8)))).toEqual([0, -XEN_EEXIST, 0, 0, 1]);
    expect(w.ram.u64(MARK)).toBe(0x5151n);
    const v1 = w.dom.vcpus[1]!;
    expect(v1.reg(12)).toBe(0x1111);
    expect(v1.iopl).toBe(1);
    expect(v1.kernelMode).toBe(true);
    expect(v1.cpu.segBase[5]).toBe(0x7000);
    expect(v1.trapAddress[6]).toBe(0x450000);
    expect([...v1.dr, v1.dr6, v1.dr7]).toEqual([0x450000, 0, 0, 0, 0xffff0ff0, 0x401]);
    expect([v1.cpu.dr[0], v1.cpu.dr[7]]).toEqual([0x450000, 0x401]);
    expect(v1.eventCallback).toBe(EVENT_CB);
    expect(v1.cpu.cr3).toBe(L4 * 4096);
    expect(v1.vcpuInfo).toBeInstanceOf(VcpuInfoArea);
    const t1 = w.dom.time!.vcpu(1);
    expect(t1.up).toBe(false);
    expect(t1.runstate).toBe(3); // offline
    expect(call(w, HC.vcpu_op, OP.is_up, 1, 0)).toBe(0);
    expect(w.dom.running).toBe(true);
  });

  it('is deterministic: two runs with two vCPUs interleave identically', () => {
    const snapshot = (): unknown => {
      const w = world();
      guestContext(w, CODE1, STACK1);
      const loop0 = [...asm.incMem(DATA + 0xc00)];
      load(w, CODE, [...asm.hc(HC.vcpu_op, OP.initialise, 1, CTX), ...asm.hc(HC.vcpu_op, OP.up, 1, 0), ...loop0, ...asm.jmpBack(loop0.length)]);
      const loop1 = [...asm.incMem(DATA + 0xc08), ...asm.rdtsc64, ...asm.storeRax(DATA + 0xc10)];
      w.ram.bytes(CODE1, [...loop1, ...asm.jmpBack(loop1.length)]);
      const r = runMachine({ xen: w.xen, domains: [w.dom], maxInstructions: 123_457 });
      return { r, c0: w.ram.u64(DATA + 0xc00), c1: w.ram.u64(DATA + 0xc08), tsc1: w.ram.u64(DATA + 0xc10), rip: [w.v.cpu.rip, w.dom.vcpus[1]!.cpu.rip], rs: [0, 1].map((k) => w.dom.time!.vcpu(k).stateTime) };
    };
    const a = snapshot() as { c0: bigint; c1: bigint; r: { instructions: number; slices: number } };
    expect(a.c0).toBeGreaterThan(1000n);
    expect(a.c1).toBeGreaterThan(1000n);
    expect(a.r.instructions).toBe(123_457);
    expect(a.r.slices).toBeGreaterThan(10);
    expect(snapshot()).toEqual(a);
  });
});

describe('vcpu_op: runstate', () => {
  it('get_runstate_info and the registered area account blocked and running time', () => {
    const w = world();
    w.dom.evtchn!.bindVirq(0, 0);
    load(w, CODE, [
      ...asm.hc(HC.vcpu_op, OP.register_runstate, 0, ARG),
      ...asm.hc(HC.vcpu_op, OP.stop_periodic, 0, 0),
      ...asm.hc(HC.set_timer_op, 2_000_000),
      ...asm.hc(HC.sched_op, 1, 0),
      ...asm.jmpSelf,
    ]);
    w.ram.dv.setBigUint64(ARG, BigInt(RS), true);
    w.ram.bytes(EVENT_CB, [...asm.hc(HC.vcpu_op, OP.get_runstate_info, 0, RS2), ...asm.rdtsc64, ...asm.storeRax(SEEN_TSC), ...shutdownCode(w, REASON)]);
    const r = runMachine({ xen: w.xen, domains: [w.dom] });
    expect(r.reason).toBe('ended');
    const rs = (at: number): bigint[] => [0, 8, 16, 24, 32, 40].map((k) => w.ram.u64(at + k));
    const [state, entry, running, runnable, blocked, offline] = rs(RS2);
    expect(state! & 0xffffffffn).toBe(0n); // running
    expect(entry).toBe(2_000_000n); // scheduled right at the timer
    expect(blocked).toBeGreaterThan(1_990_000n);
    // get_runstate_info ran in the SYSCALL just before the RDTSC: one tick earlier.
    expect(running! + runnable! + blocked! + offline!).toBe(w.ram.u64(SEEN_TSC) - 1n);
    // The area was last written when the slice ended (the domain had shut down): runnable since then.
    const area = rs(RS);
    expect(area[0]! & 0xffffffffn).toBe(1n);
    expect(area[1]).toBe(BigInt(r.now));
    expect(area[4]).toBe(blocked);
  });
});

describe('vcpu_op: register_vcpu_time_memory_area', () => {
  it('keeps a second pvclock copy at a guest address; a handle in Xen\'s range is -EFAULT', () => {
    const w = world();
    const COPY = DATA + 0xb00;
    w.ram.dv.setBigUint64(ARG, 0xffff800000001000n, true);
    expect(call(w, HC.vcpu_op, OP.time_area, 0, ARG)).toBe(-XEN_EFAULT);
    w.ram.dv.setBigUint64(ARG, BigInt(COPY), true);
    expect(call(w, HC.vcpu_op, OP.time_area, 0, ARG)).toBe(0);
    expect(w.ram.dv.getUint32(COPY, true)).toBe(2);
    w.dom.time!.updateTime(0);
    expect(w.ram.dv.getUint32(COPY, true)).toBe(4);
    const stamp = w.ram.u64(COPY + 8);
    expect(stamp).toBe(BigInt(w.xen.clock.ticks()));
    expect(w.ram.u64(COPY + 16)).toBe(stamp);
    expect(w.ram.dv.getUint32(COPY + 24, true)).toBe(2 ** 31);
    expect(w.ram.dv.getInt8(COPY + 28)).toBe(1);
  });
});

describe('vcpu_op: register_vcpu_info', () => {
  it('moves vcpu_info and the pvclock record; events arrive at the new place; only once', () => {
    const w = world();
    w.dom.evtchn!.bindVirq(0, 0);
    const at = SPARE_PFN * 4096 + 128;
    w.ram.dv.setBigUint64(ARG, BigInt(SPARE_PFN), true);
    w.ram.dv.setUint32(ARG + 8, 128, true);
    w.si.setUint8(1, 1); // events masked while moving (as Linux does): the marked-pending upcall waits
    load(w, CODE, [
      ...asm.hc(HC.vcpu_op, OP.register_vcpu_info, 0, ARG), ...asm.storeRax(RES),
      ...asm.hc(HC.vcpu_op, OP.register_vcpu_info, 0, ARG), ...asm.storeRax(RES + 8),
      // Xen marks everything pending after the move: the guest rescans (here: clears) first.
      ...asm.mov(3, at), 0xc6, 0x03, 0x00,
      ...asm.mov(3, at + 8), 0x48, 0xc7, 0x03, 0, 0, 0, 0,
      ...asm.hc(HC.vcpu_op, OP.stop_periodic, 0, 0),
      ...asm.hc(HC.set_timer_op, 1_000_000),
      ...asm.hc(HC.sched_op, 1, 0),
      ...asm.jmpSelf,
    ]);
    w.ram.bytes(EVENT_CB, [...asm.rdtsc64, ...asm.storeRax(SEEN_TSC), ...shutdownCode(w, REASON)]);
    const r = runMachine({ xen: w.xen, domains: [w.dom] });
    expect(r.reason).toBe('ended');
    expect(signed(w.ram.u64(RES))).toBe(0);
    expect(signed(w.ram.u64(RES + 8))).toBe(-XEN_EINVAL);
    expect(w.ram.u64(SEEN_TSC)).toBe(1_000_000n);
    const area = w.v.vcpuInfo as VcpuInfoArea;
    expect(area.offset).toBe(128);
    expect(area.dv).toBe(w.ram.frame(SPARE_PFN));
    expect(area.upcallPending()).toBe(1);
    expect(area.upcallMask()).toBe(1); // masked by the upcall's bounce
    expect(w.si.getUint8(0)).toBe(0); // the old slot is no longer used
    expect(area.timeVersion() % 2).toBe(0);
    expect(area.timeVersion()).toBeGreaterThan(0);
    expect(w.ram.dv.getUint32(at + 56, true)).toBe(2 ** 31);
  });

  it('refuses an offset that leaves no room and a frame that does not exist', () => {
    const w = world();
    w.ram.dv.setBigUint64(ARG, BigInt(SPARE_PFN), true);
    w.ram.dv.setUint32(ARG + 8, 4096 - 63, true);
    expect(call(w, HC.vcpu_op, OP.register_vcpu_info, 0, ARG)).toBe(-XEN_EINVAL);
    w.ram.dv.setBigUint64(ARG, 5000n, true);
    w.ram.dv.setUint32(ARG + 8, 0, true);
    expect(call(w, HC.vcpu_op, OP.register_vcpu_info, 0, ARG)).toBe(-XEN_EINVAL);
  });
});
