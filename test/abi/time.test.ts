/**
 * Virtual time, timers and the scheduler (abi/time/, hypercall/timer.ts, vcpu.ts, sched.ts)
 * driven by hand-assembled guest code: singleshot timers fire VIRQ_TIMER exactly at their
 * deadline, SCHEDOP_block wakes on the timer with the upcall delivered after the hypercall,
 * idle skipping jumps time, set_timer_op 0 cancels, periodic timers, SCHEDOP_poll and
 * SCHEDOP_watchdog, the wall clock and the realtime mode.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_EPOCH_SEC, VirtualClock, type HostClock } from '../../abi/time/clock.js';
import { runExactly, runMachine } from '../../abi/time/scheduler.js';
import { NO_TIMER } from '../../abi/time/timers.js';
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOSPC, XEN_ETIME } from '../../abi/public/errno.js';
import { layout } from '../../abi/public/index.js';
import { CODE, DATA, EVENT_CB, HC, L4, asm, load, shutdownCode, signed, world, type World } from './time-guest.js';

const VCPUOP_stop_periodic_timer = 7;
const VCPUOP_set_periodic_timer = 6;
const VCPUOP_set_singleshot_timer = 8;
const SCHEDOP_block = 1;
const SCHEDOP_poll = 3;
const SCHEDOP_watchdog = 6;

const ARG = DATA + 0x100;
const RESULT = DATA + 0x10;
const SEEN_TSC = DATA + 0x20;
const REASON = DATA + 0x30;
const PORTS = DATA + 0x200;

/** The event callback: record the TSC, then power off. */
function tscThenShutdown(w: World): number[] {
  return [...asm.rdtsc64, ...asm.storeRax(SEEN_TSC), ...shutdownCode(w, REASON)];
}

/** Runs one hypercall from guest code outside the scheduler; returns RAX. */
function call(w: World, nr: number, ...args: (number | bigint)[]): number {
  const code = asm.hc(nr, ...args);
  load(w, CODE, [...code, ...asm.jmpSelf]);
  runExactly(w.v, 1 + args.length + 1);
  return signed(BigInt(w.v.reg(0)) & 0xffffffffffffffffn);
}

describe('singleshot timers and SCHEDOP_block', () => {
  it.each([
    ['sched_op', 29],
    ['the legacy sched_op_compat', 6],
  ])('a blocked vCPU (%s) is woken by VIRQ_TIMER at the deadline; time jumps there; the upcall follows the hypercall', (_name, schedOp) => {
    const w = world();
    const port = w.dom.evtchn!.bindVirq(0, 0);
    expect(port).toBeGreaterThan(0);
    w.ram.dv.setBigUint64(ARG, 5_000_000n, true);
    w.ram.dv.setUint32(ARG + 8, 0, true);
    const pre = [
      ...asm.hc(HC.vcpu_op, VCPUOP_stop_periodic_timer, 0, 0),
      ...asm.hc(HC.vcpu_op, VCPUOP_set_singleshot_timer, 0, ARG),
      ...asm.storeRax(RESULT),
      ...asm.hc(schedOp, SCHEDOP_block, 0),
    ];
    load(w, CODE, [...pre, ...asm.jmpSelf]);
    w.ram.bytes(EVENT_CB, tscThenShutdown(w));
    const r = runMachine({ xen: w.xen, domains: [w.dom] });
    expect(r.reason).toBe('ended');
    expect(w.dom.state).toEqual({ kind: 'shutdown', reason: 0, code: 0 });
    expect(w.ram.u64(RESULT)).toBe(0n);
    expect(w.ram.u64(SEEN_TSC)).toBe(5_000_000n); // the callback's first instruction, at the deadline
    expect(r.idleSkippedNs).toBeGreaterThan(4_990_000);
    expect(r.idleSkippedNs + r.instructions).toBeGreaterThanOrEqual(5_000_000);
    const t = w.dom.time!.vcpu(0);
    expect(t.timerEvents).toBe(1);
    expect(t.stateTime[2]).toBe(r.idleSkippedNs); // all the skipped time was spent blocked
    // Bounce frame: RIP right after the SCHEDOP_block SYSCALL, saved mask 0 (block unmasked).
    const sp = w.v.reg(4);
    expect(w.ram.u64(sp + 16)).toBe(BigInt(CODE + pre.length));
    expect(w.ram.u64(sp + 24) >> 32n).toBe(0n);
  });

  it('a running vCPU takes the timer upcall exactly at the deadline (the slice is cut there)', () => {
    const w = world();
    w.dom.evtchn!.bindVirq(0, 0);
    load(w, CODE, [...asm.hc(HC.vcpu_op, VCPUOP_stop_periodic_timer, 0, 0), ...asm.hc(HC.set_timer_op, 123_457), ...asm.jmpSelf]);
    w.ram.bytes(EVENT_CB, tscThenShutdown(w));
    const r = runMachine({ xen: w.xen, domains: [w.dom] });
    expect(r.reason).toBe('ended');
    expect(w.ram.u64(SEEN_TSC)).toBe(123_457n);
    expect(r.idleSkippedNs).toBe(0);
  });

  it('VCPU_SSHOTTMR_future: ignored as the 4.17 header allows, -ETIME with the older rule', () => {
    for (const [etime, want] of [[false, 0], [true, -XEN_ETIME]] as const) {
      const w = world({ time: { sshotFutureEtime: etime } });
      w.ram.dv.setBigUint64(ARG, 1n, true); // long past by the time the call runs
      w.ram.dv.setUint32(ARG + 8, 1, true);
      expect(call(w, HC.vcpu_op, VCPUOP_set_singleshot_timer, 0, ARG)).toBe(want);
      // Accepted: already past, so it fired at once; refused: never armed.
      expect(w.dom.time!.vcpu(0).singleshot).toBe(NO_TIMER);
      expect(w.dom.time!.vcpu(0).timerEvents).toBe(etime ? 0 : 1);
    }
  });

  it('singleshot timers of another vCPU are refused; a bad argument pointer is -EFAULT', () => {
    const w = world();
    expect(call(w, HC.vcpu_op, VCPUOP_set_singleshot_timer, 1, ARG)).toBe(-XEN_EINVAL);
    expect(call(w, HC.vcpu_op, VCPUOP_set_singleshot_timer, 0, 0x7f0000000000)).toBe(-XEN_EFAULT);
  });

  it('set_timer_op: 0 cancels; a negative or very distant timeout becomes now + 100 ms', () => {
    const w = world();
    const t = w.dom.time!.vcpu(0);
    expect(call(w, HC.set_timer_op, 1_000_000)).toBe(0);
    expect(t.singleshot).toBe(1_000_000);
    expect(call(w, HC.set_timer_op, 0)).toBe(0);
    expect(t.singleshot).toBe(NO_TIMER);
    expect(call(w, HC.set_timer_op, -5n)).toBe(0);
    // now() after the call counts the SYSCALL itself; the hypercall saw one tick less.
    expect(t.singleshot).toBe(w.xen.clock.now() - 1 + 100_000_000);
    expect(call(w, HC.set_timer_op, 2n ** 51n)).toBe(0);
    expect(t.singleshot).toBe(w.xen.clock.now() - 1 + 100_000_000);
    // Cancelled and no periodic timer: a blocked vCPU never wakes, the run says so.
    w.dom.evtchn!.bindVirq(0, 0);
    load(w, CODE, [...asm.hc(HC.set_timer_op, 0), ...asm.hc(HC.vcpu_op, VCPUOP_stop_periodic_timer, 0, 0), ...asm.hc(HC.sched_op, SCHEDOP_block, 0), ...asm.jmpSelf]);
    const r = runMachine({ xen: w.xen, domains: [w.dom] });
    expect(r.reason).toBe('stalled');
    expect(t.timerEvents).toBe(0);
    expect(w.v.blocked).toBe(true);
  });
});

describe('the scheduler', () => {
  it('stops when the domain crashes', () => {
    const w = world();
    load(w, CODE, [0x90, 0x90, 0x0f, 0x0b]); // ud2 with no trap table: Xen crashes the domain
    const r = runMachine({ xen: w.xen, domains: [w.dom] });
    expect(r.reason).toBe('ended');
    expect(w.dom.state).toEqual({ kind: 'crashed', why: 'no guest handler for vector 6' });
    expect(r.instructions).toBe(2);
  });

  it('runs two domains round-robin on one clock: one blocks on a timer while the other computes', () => {
    const a = world();
    const b = world({}, 1, a.xen);
    a.dom.evtchn!.bindVirq(0, 0);
    load(a, CODE, [...asm.hc(HC.vcpu_op, VCPUOP_stop_periodic_timer, 0, 0), ...asm.hc(HC.set_timer_op, 300_000), ...asm.hc(HC.sched_op, SCHEDOP_block, 0), ...asm.jmpSelf]);
    a.ram.bytes(EVENT_CB, tscThenShutdown(a));
    const loop = [...asm.incMem(DATA + 0x40)];
    load(b, CODE, [...asm.hc(HC.vcpu_op, VCPUOP_stop_periodic_timer, 0, 0), ...loop, ...asm.jmpBack(loop.length)]);
    const r = runMachine({ xen: a.xen, domains: [a.dom, b.dom], maxInstructions: 400_000 });
    expect(r.reason).toBe('instruction-limit');
    expect(a.dom.state.kind).toBe('shutdown');
    expect(a.ram.u64(SEEN_TSC)).toBe(300_000n); // the deadline, though b ran meanwhile
    expect(r.idleSkippedNs).toBe(0); // b was always runnable: no time skipped
    expect(b.ram.u64(DATA + 0x40)).toBeGreaterThan(50_000n);
  });
});

describe('periodic timers and idle skipping', () => {
  it('a 1 ms periodic timer fires every ms while the vCPU is blocked; time jumps between them', () => {
    const w = world();
    expect(call(w, HC.vcpu_op, VCPUOP_set_periodic_timer, 0, 0x7f0000000000)).toBe(-XEN_EFAULT);
    w.ram.dv.setBigUint64(ARG, 999_999n, true);
    expect(call(w, HC.vcpu_op, VCPUOP_set_periodic_timer, 0, ARG)).toBe(-XEN_EINVAL);
    w.ram.dv.setBigUint64(ARG, 2n ** 62n, true);
    expect(call(w, HC.vcpu_op, VCPUOP_set_periodic_timer, 0, ARG)).toBe(-XEN_EINVAL);
    w.ram.dv.setBigUint64(ARG, 1_000_000n, true);
    const port = w.dom.evtchn!.bindVirq(0, 0);
    w.si.setUint8(1, 1); // events masked: the VIRQ stays pending, no upcall
    load(w, CODE, [...asm.hc(HC.vcpu_op, VCPUOP_set_periodic_timer, 0, ARG), ...asm.jmpSelf]);
    const start = w.xen.clock.now();
    const r = runMachine({ xen: w.xen, domains: [w.dom], maxTime: start + 5_500_000 });
    expect(r.reason).toBe('time-limit');
    expect(w.dom.time!.vcpu(0).timerEvents).toBe(5);
    expect(port).toBeGreaterThan(0);
  });

  it('all vCPUs blocked: time jumps straight to the next periodic expiry', () => {
    const w = world();
    const port = w.dom.evtchn!.bindVirq(0, 0);
    // Event callback: count the event, clear pending, block again (with upcall_pending cleared).
    const cb = [
      ...asm.incMem(DATA + 0x40),
      ...asm.mov(3, w.si.byteOffset), 0xc6, 0x03, 0x00, // mov byte [shared_info.vcpu_info[0].upcall_pending], 0
      ...asm.mov(3, w.si.byteOffset + 8), 0x48, 0xc7, 0x03, 0, 0, 0, 0, // clear evtchn_pending_sel
      ...asm.mov(3, w.si.byteOffset + 2048), 0x48, 0xc7, 0x03, 0, 0, 0, 0, // clear evtchn_pending word 0
      ...asm.hc(HC.sched_op, SCHEDOP_block, 0),
      ...asm.jmpSelf,
    ];
    w.ram.bytes(EVENT_CB, cb);
    load(w, CODE, [...asm.hc(HC.sched_op, SCHEDOP_block, 0), ...asm.jmpSelf]);
    const r = runMachine({ xen: w.xen, domains: [w.dom], maxTime: 35_000_000 });
    expect(r.reason).toBe('time-limit');
    // The default 10 ms periodic timer: 10, 20, 30 ms.
    expect(w.ram.u64(DATA + 0x40)).toBe(3n);
    expect(r.instructions).toBeLessThan(200);
    expect(r.idleSkippedNs).toBeGreaterThan(34_000_000);
    expect(port).toBeGreaterThan(0);
  });
});

describe('SCHEDOP_poll', () => {
  function pollArg(w: World, ports: number[], timeout: bigint): void {
    ports.forEach((p, k) => w.ram.dv.setUint32(PORTS + k * 4, p, true));
    w.ram.dv.setBigUint64(ARG, BigInt(PORTS), true);
    w.ram.dv.setUint32(ARG + 8, ports.length, true);
    w.ram.dv.setBigUint64(ARG + 16, timeout, true);
  }

  it('refuses too many ports and invalid ports; returns at once when a port is pending', () => {
    const w = world();
    const port = w.dom.evtchn!.bindVirq(0, 0);
    pollArg(w, [port], 0n);
    w.ram.dv.setUint32(ARG + 8, 129, true);
    expect(call(w, HC.sched_op, SCHEDOP_poll, ARG)).toBe(-XEN_EINVAL);
    pollArg(w, [port, 100], 0n);
    expect(call(w, HC.sched_op, SCHEDOP_poll, ARG)).toBe(-XEN_EINVAL);
    expect(call(w, HC.sched_op, SCHEDOP_poll, 0x7f0000000000)).toBe(-XEN_EFAULT);
    w.si.setUint8(1, 1); // masked: the pending port raises no upcall, poll still sees it
    w.dom.evtchn!.setPending(port);
    pollArg(w, [port, 100], 0n); // pending before the invalid one: 0
    expect(call(w, HC.sched_op, SCHEDOP_poll, ARG)).toBe(0);
    expect(w.v.blocked).toBe(false);
  });

  it('takes the port list from an upper-half (kernel) address', () => {
    const w = world();
    // L4 slot 511 shares the low L3: 0xffffff8000000000 + x maps x.
    w.ram.dv.setBigUint64(L4 * 4096 + 511 * 8, 0x2000n | 7n, true);
    w.v.cpu.flushTlb();
    const port = w.dom.evtchn!.bindVirq(0, 0);
    w.si.setUint8(1, 1);
    w.dom.evtchn!.setPending(port);
    pollArg(w, [port], 0n);
    w.ram.dv.setBigUint64(ARG, 0xffffff8000000000n + BigInt(PORTS), true);
    expect(call(w, HC.sched_op, SCHEDOP_poll, ARG)).toBe(0);
    w.ram.dv.setBigUint64(ARG, 0xffffff0000000000n + BigInt(PORTS), true); // not mapped
    expect(call(w, HC.sched_op, SCHEDOP_poll, ARG)).toBe(-XEN_EFAULT);
  });

  it('blocks with events masked until a polled port becomes pending (a masked timer VIRQ)', () => {
    const w = world();
    const port = w.dom.evtchn!.bindVirq(0, 0);
    w.si.setUint8(1, 1);
    pollArg(w, [port], 0n);
    w.ram.dv.setBigUint64(ARG + 0x40, 3_000_000n, true);
    load(w, CODE, [
      ...asm.hc(HC.vcpu_op, VCPUOP_stop_periodic_timer, 0, 0),
      ...asm.hc(HC.vcpu_op, VCPUOP_set_singleshot_timer, 0, ARG + 0x40),
      ...asm.hc(HC.sched_op, SCHEDOP_poll, ARG),
      ...asm.storeRax(RESULT),
      ...tscThenShutdown(w),
    ]);
    const r = runMachine({ xen: w.xen, domains: [w.dom] });
    expect(r.reason).toBe('ended');
    expect(w.ram.u64(RESULT)).toBe(0n);
    expect(w.ram.u64(SEEN_TSC)).toBe(3_000_000n + 2n); // woken at the deadline; storeRax is two instructions
  });

  it('gives up at its timeout', () => {
    const w = world();
    const port = w.dom.evtchn!.bindVirq(0, 0);
    w.si.setUint8(1, 1);
    pollArg(w, [port], 2_000_000n);
    load(w, CODE, [...asm.hc(HC.vcpu_op, VCPUOP_stop_periodic_timer, 0, 0), ...asm.hc(HC.sched_op, SCHEDOP_poll, ARG), ...tscThenShutdown(w)]);
    const r = runMachine({ xen: w.xen, domains: [w.dom] });
    expect(r.reason).toBe('ended');
    expect(w.ram.u64(SEEN_TSC)).toBe(2_000_000n);
  });
});

describe('SCHEDOP_watchdog', () => {
  it('creates up to two, refuses a third and unknown ids, and shuts the domain down on expiry', () => {
    const w = world();
    const wd = (id: number, timeout: number): number => {
      w.ram.dv.setUint32(ARG, id, true);
      w.ram.dv.setUint32(ARG + 4, timeout, true);
      return call(w, HC.sched_op, SCHEDOP_watchdog, ARG);
    };
    expect(wd(0, 1)).toBe(1);
    const armed = w.xen.clock.now();
    expect(wd(0, 30)).toBe(2);
    expect(wd(0, 30)).toBe(-XEN_ENOSPC);
    expect(wd(3, 30)).toBe(-XEN_EINVAL);
    expect(wd(2, 0)).toBe(0); // destroyed
    expect(wd(2, 5)).toBe(-XEN_EINVAL);
    const deadline = w.dom.time!.watchdog[0] as number;
    load(w, CODE, [...asm.hc(HC.vcpu_op, VCPUOP_stop_periodic_timer, 0, 0), ...asm.hc(HC.sched_op, SCHEDOP_block, 0), ...asm.jmpSelf]);
    const r = runMachine({ xen: w.xen, domains: [w.dom] });
    expect(r.reason).toBe('ended');
    expect(w.dom.state).toEqual({ kind: 'shutdown', reason: 4, code: 0 });
    expect(r.now).toBe(deadline);
    expect(deadline - armed).toBeLessThan(1_000_000_000);
    expect(deadline - armed).toBeGreaterThan(1_000_000_000 - 100);
  });
});

describe('pvclock and the wall clock', () => {
  const VI = layout('vcpu_info', 'x86_64');
  const t = (f: string): number => VI.find(`time.${f}`)!.offset;

  it('vcpu_info.time after a jump: even version, the 1 GHz scale, and the guest formula gives system time', () => {
    const w = world();
    w.dom.evtchn!.bindVirq(0, 0);
    w.ram.dv.setBigUint64(ARG, 7_000_000n, true);
    load(w, CODE, [...asm.hc(HC.vcpu_op, VCPUOP_stop_periodic_timer, 0, 0), ...asm.hc(HC.vcpu_op, VCPUOP_set_singleshot_timer, 0, ARG), ...asm.hc(HC.sched_op, SCHEDOP_block, 0), ...asm.jmpSelf]);
    w.ram.bytes(EVENT_CB, tscThenShutdown(w));
    runMachine({ xen: w.xen, domains: [w.dom] });
    const si = w.si;
    const version = si.getUint32(t('version'), true);
    expect(version % 2).toBe(0);
    expect(version).toBeGreaterThan(2);
    expect(si.getUint32(t('tsc_to_system_mul'), true)).toBe(2 ** 31);
    expect(si.getInt8(t('tsc_shift'))).toBe(1);
    expect(si.getUint8(t('flags'))).toBe(1);
    const stamp = si.getBigUint64(t('tsc_timestamp'), true);
    const sys = si.getBigUint64(t('system_time'), true);
    const tsc = w.ram.u64(SEEN_TSC);
    expect(sys + (((tsc - stamp) << 1n) * (2n ** 31n) >> 32n)).toBe(7_000_000n);
  });

  it('wc_* hold the fixed epoch (configurable), under an even wc_version', () => {
    const w = world();
    expect(w.si.getUint32(3072, true) % 2).toBe(0);
    expect(w.si.getUint32(3072, true)).toBeGreaterThan(0);
    expect(w.si.getUint32(3076, true)).toBe(DEFAULT_EPOCH_SEC);
    expect(w.si.getUint32(3080, true)).toBe(0);
    const w2 = world({ clock: { epochSec: 2 ** 33 + 5, epochNsec: 7 } });
    expect(w2.si.getUint32(3076, true)).toBe(5);
    expect(w2.si.getUint32(3084, true)).toBe(2);
    expect(w2.si.getUint32(3080, true)).toBe(7);
  });

  it('realtime: the clock follows the host from where it stood, the wall clock is the host\'s, idle sleeps', () => {
    let mono = 1_000;
    const sleeps: number[] = [];
    const host: HostClock = {
      monotonicNs: () => mono,
      wallNs: () => 1_700_000_000_000_000_000 + mono,
      sleepUntilMonotonic: (ns) => {
        sleeps.push(ns);
        mono = ns;
      },
    };
    const c = new VirtualClock();
    const cpu = { retired: 0 };
    c.add(cpu);
    cpu.retired = 500;
    c.useRealtime(host);
    expect(c.now()).toBe(500);
    mono += 250;
    cpu.retired = 10_000; // instructions no longer count
    expect(c.now()).toBe(750);
    expect(c.skipTo(1e9)).toBe(false);
    expect(c.wallclock().sec).toBe(1_700_000_000);
    // A blocked guest in realtime mode: the scheduler sleeps on the host until the deadline.
    const w = world();
    w.dom.evtchn!.bindVirq(0, 0);
    load(w, CODE, [...asm.hc(HC.vcpu_op, VCPUOP_stop_periodic_timer, 0, 0), ...asm.hc(HC.set_timer_op, 2_000_000), ...asm.hc(HC.sched_op, SCHEDOP_block, 0), ...asm.jmpSelf]);
    w.ram.bytes(EVENT_CB, tscThenShutdown(w));
    const r = runMachine({ xen: w.xen, domains: [w.dom], realtime: host });
    expect(r.reason).toBe('ended');
    expect(sleeps.length).toBeGreaterThanOrEqual(1);
    expect(Number(w.ram.u64(SEEN_TSC))).toBeGreaterThanOrEqual(2_000_000);
  });
});
