/**
 * The deterministic vCPU scheduler: one virtual physical CPU runs every vCPU of the given
 * domains round-robin (domains in the order given, vCPUs by id), in slices of at most
 * SLICE_INSTRUCTIONS instructions.
 *
 *  - Time (clock.ts) advances by the instructions retired, so a slice is cut short at the
 *    earliest pending deadline: the timer fires exactly at its system time, between two
 *    instructions, and the vCPU it wakes runs in the next slice;
 *  - when no vCPU can run (all blocked or down), time jumps to the next deadline (idle
 *    skipping); in realtime mode the host's `sleepUntilMonotonic` waits instead;
 *  - runstates move between running, runnable, blocked and offline at slice boundaries, and
 *    each vCPU's pvclock record is republished when it is scheduled and after every jump;
 *  - it stops when every domain has shut down or crashed, at `maxInstructions`, at `maxTime`,
 *    or when nothing can ever run again.
 *
 * Same domains, same guest code, same options → the same interleaving, instruction for
 * instruction (no host time, no iteration over unordered collections).
 */
import type { Domain } from '../hv/domain.js';
import type { PvVcpu } from '../pv/vcpu.js';
import { RUNSTATE_blocked, RUNSTATE_offline, RUNSTATE_runnable, RUNSTATE_running } from '../public/vcpu.js';
import { type HostClock, nsToTicks, type VirtualClock } from './clock.js';
import { NO_TIMER } from './timers.js';

/** Instructions a vCPU runs before the next one gets its turn (10 µs of virtual time at 1 GHz). */
export const SLICE_INSTRUCTIONS = 10_000;

/**
 * The x86 core checks its instruction limit between decoded blocks of at most this many
 * instructions (x86/cpu.ts MAX_BLOCK) when it interprets; the last stretch before a deadline
 * is single-stepped.
 */
const CORE_BLOCK_MAX = 64;

/** Consecutive idle jumps without a single instruction run before the run counts as stalled. */
const MAX_IDLE_JUMPS = 100_000;

export interface RunMachineOptions {
  /** Anything with the machine's clock (the `Xen` object). */
  readonly xen: { readonly clock: VirtualClock };
  readonly domains: readonly Domain[];
  /** Stop after this many guest instructions (all vCPUs together). */
  readonly maxInstructions?: number;
  /** Stop once system time reaches this (ns). */
  readonly maxTime?: number;
  /** Switch the clock to realtime on this host clock (`--realtime`) before running. */
  readonly realtime?: HostClock;
}

export type StopReason =
  /** Every domain has shut down or crashed (see `Domain.state`). */
  | 'ended'
  | 'instruction-limit'
  | 'time-limit'
  /** Every vCPU is blocked or down and no timer is pending that could wake one. */
  | 'stalled';

export interface RunResult {
  readonly reason: StopReason;
  /** Guest instructions retired in this run. */
  readonly instructions: number;
  /** System time (ns) at the end. */
  readonly now: number;
  /** Slices run, and the ns skipped while idle, in this run. */
  readonly slices: number;
  readonly idleSkippedNs: number;
}

interface Entry {
  readonly d: Domain;
  readonly v: PvVcpu;
}

/** Runs the machine; see the file comment. */
export function runMachine(opts: RunMachineOptions): RunResult {
  const clock = opts.xen.clock;
  const { domains } = opts;
  if (opts.realtime !== undefined && !clock.realtime) {
    clock.useRealtime(opts.realtime);
    for (const d of domains) d.time?.updateAllTime();
  }
  const skippedAtStart = clock.skippedTicks;
  let instructions = 0;
  let slices = 0;
  let cursor = 0;
  let idleJumps = 0;
  const result = (reason: StopReason): RunResult => ({ reason, instructions, now: clock.now(), slices, idleSkippedNs: clock.skippedTicks - skippedAtStart });

  for (;;) {
    let live = domains.filter((d) => d.running);
    if (live.length === 0) return result('ended');
    const now = clock.now();
    for (const d of live) d.time?.fireDue(now);
    live = live.filter((d) => d.running);
    if (live.length === 0) return result('ended');
    if (opts.maxInstructions !== undefined && instructions >= opts.maxInstructions) return result('instruction-limit');
    if (opts.maxTime !== undefined && now >= opts.maxTime) return result('time-limit');

    const entries = runQueue(live);
    let pick = -1;
    for (let k = 0; k < entries.length; k++) {
      const idx = (cursor + k) % entries.length;
      if (runnable(entries[idx] as Entry)) {
        pick = idx;
        break;
      }
    }
    const deadline = nextDeadline(live, opts.maxTime);

    if (pick < 0) {
      if (deadline === NO_TIMER || ++idleJumps > MAX_IDLE_JUMPS) return result('stalled');
      if (!clock.skipTo(deadline)) waitRealtime(clock, deadline);
      for (const d of live) d.time?.updateAllTime();
      continue;
    }
    cursor = pick + 1;
    const { d, v } = entries[pick] as Entry;
    let budget = SLICE_INSTRUCTIONS;
    if (deadline !== NO_TIMER && !clock.realtime) budget = Math.min(budget, Math.max(1, nsToTicks(deadline) - clock.ticks()));
    if (opts.maxInstructions !== undefined) budget = Math.min(budget, opts.maxInstructions - instructions);
    const dt = d.time;
    dt?.setRunstate(v.id, RUNSTATE_running);
    dt?.updateTime(v.id);
    // Exact only where it matters: a slice that ends at a deadline; a full slice may overrun a little.
    const ran = budget < SLICE_INSTRUCTIONS && deadline !== NO_TIMER && !clock.realtime ? runExactly(v, budget) : v.cpu.run(budget);
    instructions += ran;
    slices++;
    if (ran > 0) idleJumps = 0;
    if (dt !== undefined) {
      const t = dt.vcpu(v.id);
      dt.setRunstate(v.id, !t.up ? RUNSTATE_offline : v.blocked ? RUNSTATE_blocked : RUNSTATE_runnable);
    }
  }
}

/** The vCPUs of the live domains in scheduling order. */
function runQueue(live: readonly Domain[]): Entry[] {
  const out: Entry[] = [];
  for (const d of live) {
    d.vcpus.forEach((v) => {
      if (v !== undefined) out.push({ d, v });
    });
  }
  return out;
}

function runnable({ d, v }: Entry): boolean {
  const t = d.time?.vcpu(v.id);
  return d.running && (t === undefined || t.up) && !v.blocked && v.crashed === undefined && v.cpu.shutdownReason === undefined && !v.cpu.halted;
}

function nextDeadline(live: readonly Domain[], maxTime: number | undefined): number {
  let next = maxTime ?? NO_TIMER;
  for (const d of live) {
    const n = d.time?.nextDeadline() ?? NO_TIMER;
    if (n !== NO_TIMER && (next === NO_TIMER || n < next)) next = n;
  }
  return next;
}

/**
 * Runs `v` for exactly `n` instructions, or fewer if it stops (blocks, goes down, the domain
 * ends). The core checks its limit only between blocks, and a compiled block that jumps to its
 * own start loops inside its function (x86/jit.ts), so near a deadline: no compiled code (the
 * JIT off and the decoded blocks dropped, they are rebuilt afterwards), interpreted blocks up to
 * a block short of `n`, then single steps (the core steps one instruction at a time while
 * `breakpoints` is set; no DR7 breakpoint is enabled, so none fires).
 */
export function runExactly(v: PvVcpu, n: number): number {
  const cpu = v.cpu;
  if (n <= 0) return 0;
  const jit = cpu.jit;
  if (jit) {
    cpu.jit = false;
    cpu.invalidateAllCode();
  }
  let done = 0;
  try {
    const bulk = n - (CORE_BLOCK_MAX - 1);
    if (bulk > 0) {
      done = cpu.run(bulk);
      if (done < bulk || cpu.stopRequested) return done;
    }
    if (done >= n) return done;
    const saved = cpu.breakpoints;
    cpu.breakpoints = true;
    try {
      done += cpu.run(n - done);
    } finally {
      // Whatever the guest's own DR7 says now (a hypercall may have changed it).
      cpu.breakpoints = saved || ((cpu.dr[7] as number) & 0xff) !== 0;
    }
    return done;
  } finally {
    cpu.jit = jit;
  }
}

/** Realtime idle: the host sleeps until `deadline` (or, without a sleep, the clock is polled). */
function waitRealtime(clock: VirtualClock, deadline: number): void {
  const host = clock.hostClock;
  if (host === undefined) return;
  const delta = deadline - clock.now();
  if (delta <= 0) return;
  if (host.sleepUntilMonotonic !== undefined) {
    host.sleepUntilMonotonic(host.monotonicNs() + delta);
    return;
  }
  while (clock.now() < deadline) {
    // Busy wait: the harness should inject sleepUntilMonotonic.
  }
}
