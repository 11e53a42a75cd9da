/**
 * The scheduler's host hooks (abi/time/scheduler.ts): `hostDeadline` ends a run exactly at a
 * moving system time, whether the guest computes or idles, and wakes nobody; `machineSteps` is
 * the same run as `runMachine`, pausing after every slice and at idle jumps, and at a stall lets
 * its host inject an event and resume (or end the run as stalled).
 */
import { describe, expect, it } from 'vitest';
import { machineSteps, runMachine, type RunPause, type RunResult } from '../../abi/time/scheduler.js';
import { NO_TIMER } from '../../abi/time/timers.js';
import { CODE, DATA, EVENT_CB, HC, asm, load, shutdownCode, world, type World } from './time-guest.js';

const VCPUOP_stop_periodic_timer = 7;
const SCHEDOP_block = 1;
const COUNT = DATA + 0x40;
const REASON = DATA + 0x30;

/** A guest that counts in a loop for ever. */
function spinner(): World {
  const w = world();
  const loop = asm.incMem(COUNT);
  load(w, CODE, [...asm.hc(HC.vcpu_op, VCPUOP_stop_periodic_timer, 0, 0), ...loop, ...asm.jmpBack(loop.length)]);
  return w;
}

/** A guest that blocks with no timer; an event on `port` runs the callback, which powers off. */
function sleeper(): { w: World; hostPort: number } {
  const w = world();
  const port = w.dom.evtchn!.allocUnbound(1, 0);
  const hostPort = w.dom.evtchn!.hostBind(port);
  expect(hostPort).toBeGreaterThan(0);
  load(w, CODE, [...asm.hc(HC.vcpu_op, VCPUOP_stop_periodic_timer, 0, 0), ...asm.hc(HC.sched_op, SCHEDOP_block, 0), ...asm.jmpSelf]);
  w.ram.bytes(EVENT_CB, shutdownCode(w, REASON));
  return { w, hostPort };
}

/** Drives machineSteps; `onPause` answers each pause (true resumes a stall). */
function drive(w: World, onPause: (p: RunPause) => boolean | undefined, extra: { hostDeadline?: () => number; hostInput?: boolean } = {}): { r: RunResult; pauses: RunPause[] } {
  const pauses: RunPause[] = [];
  const steps = machineSteps({ xen: w.xen, domains: [w.dom], ...extra });
  let answer: boolean | undefined;
  for (;;) {
    const s = steps.next(answer);
    if (s.done === true) return { r: s.value, pauses };
    pauses.push(s.value);
    answer = onPause(s.value);
  }
}

describe('hostDeadline', () => {
  it('ends a computing guest exactly at the deadline, read again before every slice', () => {
    const w = spinner();
    let reads = 0;
    const r = runMachine({ xen: w.xen, domains: [w.dom], hostDeadline: () => (reads++ < 3 ? 5_000_000 : 1_234_567) });
    expect(r.reason).toBe('host-deadline');
    expect(r.now).toBe(1_234_567); // moved after the third read; the slice was cut there exactly
    expect(r.instructions).toBe(1_234_567);
    expect(reads).toBeGreaterThan(3);
  });

  it('stops an idle jump at the deadline; NO_TIMER means none; maxTime still wins when earlier', () => {
    const w = world();
    // Blocked, with the default periodic timer only (10 ms): idle jumps towards each expiry.
    load(w, CODE, [...asm.hc(HC.sched_op, SCHEDOP_block, 0), ...asm.jmpSelf]);
    const r = runMachine({ xen: w.xen, domains: [w.dom], hostDeadline: () => 25_000_001 });
    expect(r.reason).toBe('host-deadline');
    expect(r.now).toBe(25_000_001);
    const w2 = spinner();
    const r2 = runMachine({ xen: w2.xen, domains: [w2.dom], hostDeadline: () => NO_TIMER, maxTime: 200_000 });
    expect(r2.reason).toBe('time-limit');
    const w3 = spinner();
    const r3 = runMachine({ xen: w3.xen, domains: [w3.dom], hostDeadline: () => 300_000, maxTime: 200_000 });
    expect(r3).toMatchObject({ reason: 'time-limit', now: 200_000 });
  });

  it('wakes nobody: a guest blocked with nothing pending ends as stalled', () => {
    const { w } = sleeper();
    const r = runMachine({ xen: w.xen, domains: [w.dom], hostDeadline: () => 1_000_000_000 });
    expect(r.reason).toBe('stalled');
    expect(w.v.blocked).toBe(true);
  });
});

describe('machineSteps', () => {
  it('is the same run as runMachine, pausing after every slice with the running total', () => {
    const a = spinner();
    const ref = runMachine({ xen: a.xen, domains: [a.dom], maxInstructions: 123_457 });
    const b = spinner();
    const steps = machineSteps({ xen: b.xen, domains: [b.dom], maxInstructions: 123_457 });
    const totals: number[] = [];
    let s = steps.next();
    while (s.done !== true) {
      if (s.value.kind === 'slice') totals.push(s.value.instructions);
      s = steps.next();
    }
    expect(s.value).toEqual(ref);
    expect(totals).toHaveLength(ref.slices);
    expect(totals.at(-1)).toBe(123_457);
    expect(b.ram.u64(COUNT)).toBe(a.ram.u64(COUNT));
  });

  it('pauses at idle jumps (skipped in virtual time)', () => {
    const w = world();
    load(w, CODE, [...asm.hc(HC.sched_op, SCHEDOP_block, 0), ...asm.jmpSelf]);
    const { r, pauses } = drive(w, () => undefined, { hostDeadline: () => 35_000_000 });
    expect(r.reason).toBe('host-deadline');
    const idle = pauses.filter((p) => p.kind === 'idle');
    expect(idle.map((p) => (p.kind === 'idle' ? p.until : 0))).toEqual([10_000_000, 20_000_000, 30_000_000, 35_000_000]);
    expect(idle.every((p) => p.kind === 'idle' && p.skipped)).toBe(true);
  });

  it('with hostInput, pauses before each idle jump; an injection there wakes the guest before time moves', () => {
    const w = world();
    load(w, CODE, [...asm.hc(HC.sched_op, SCHEDOP_block, 0), ...asm.jmpSelf]);
    const { pauses } = drive(w, () => undefined, { hostDeadline: () => 35_000_000, hostInput: true });
    const kinds = pauses.map((p) => (p.kind === 'skip' || p.kind === 'idle' ? `${p.kind}@${p.until}` : p.kind)).filter((k) => k !== 'slice');
    expect(kinds).toEqual(['skip@10000000', 'idle@10000000', 'skip@20000000', 'idle@20000000', 'skip@30000000', 'idle@30000000', 'skip@35000000', 'idle@35000000']);

    // The host answers the first skip by raising the guest's event: the guest's callback runs
    // at the time it blocked (before 10 ms), not after the jump.
    // A sleeper that keeps the default 10 ms periodic timer, so it idles rather than stalls.
    const s = world();
    const hostPort = s.dom.evtchn!.hostBind(s.dom.evtchn!.allocUnbound(1, 0));
    load(s, CODE, [...asm.hc(HC.sched_op, SCHEDOP_block, 0), ...asm.jmpSelf]);
    s.ram.bytes(EVENT_CB, shutdownCode(s, REASON));
    let injected = false;
    const woken = drive(
      s,
      (p) => {
        if (p.kind !== 'skip' || injected) return undefined;
        injected = true;
        s.xen.events.host.send(hostPort);
        return true;
      },
      { hostInput: true },
    );
    expect(injected).toBe(true);
    expect(woken.r.reason).toBe('ended');
    expect(woken.r.now).toBeLessThan(10_000_000);
  });

  it('at a stall, the host may raise an event and resume; without an answer the run ends as stalled', () => {
    const s1 = sleeper();
    const ended = drive(s1.w, () => undefined);
    expect(ended.r.reason).toBe('stalled');
    expect(ended.pauses.at(-1)).toEqual({ kind: 'stalled' });

    const s2 = sleeper();
    let stalls = 0;
    const woken = drive(s2.w, (p) => {
      if (p.kind !== 'stalled') return undefined;
      stalls++;
      s2.w.xen.events.host.send(s2.hostPort); // the backend notifies the guest
      return true;
    });
    expect(stalls).toBe(1);
    expect(woken.r.reason).toBe('ended');
    expect(s2.w.dom.state).toEqual({ kind: 'shutdown', reason: 0, code: 0 });
  });

  it('a resumed stall with nothing injected pauses again (the host decides how long to wait)', () => {
    const { w, hostPort } = sleeper();
    let stalls = 0;
    const { r } = drive(w, (p) => {
      if (p.kind !== 'stalled') return undefined;
      stalls++;
      if (stalls === 3) w.xen.events.host.send(hostPort);
      return true;
    });
    expect(stalls).toBe(3);
    expect(r.reason).toBe('ended');
  });
});
