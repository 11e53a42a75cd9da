/**
 * The deterministic vCPU scheduler: one virtual physical CPU runs every vCPU of the given
 * domains round-robin (domains in the order given, vCPUs by id), in slices of SLICE_INSTRUCTIONS
 * instructions (a plain slice ends at the core's next check of its limit, which a compiled
 * self-loop can put a few thousand instructions later; deterministic all the same).
 *
 *  - Time (clock.ts) advances by the instructions retired, so a slice is cut short at the
 *    earliest pending deadline: the timer fires exactly at its system time, between two
 *    instructions, and the vCPU it wakes runs in the next slice;
 *  - when no vCPU can run (all blocked or down), time jumps to the next deadline (idle
 *    skipping); in realtime mode the host's `sleepUntilMonotonic` waits instead;
 *  - runstates move between running, runnable, blocked and offline at slice boundaries, and
 *    each vCPU's pvclock record is republished when it is scheduled and after every jump;
 *  - it stops when every domain has shut down or crashed, at `maxInstructions`, at `maxTime` or
 *    `hostDeadline`, or when nothing can ever run again (every vCPU blocked or down and no guest
 *    timer pending, whatever `maxTime` and `hostDeadline` are).
 *
 * `runMachine` runs it to the end in one call. `machineSteps` is the same loop as a generator for
 * a host that must get control back while the guest runs (interactive console input): it pauses
 * after every slice, where realtime idle would sleep (the host waits its own way), and where the
 * run would end as stalled (the host may inject input and resume, or end it).
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

/**
 * How far past its limit one `run` can go: a compiled block that jumps to its own start loops
 * inside its function up to 4096 times (x86/jit.ts SELF_LOOP_MAX) before the core looks at the
 * limit again. Within this distance of a deadline or the instruction limit, slices run exactly.
 */
const MAX_OVERSHOOT = 4096 * CORE_BLOCK_MAX;

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
  /**
   * Called after every slice with the instructions retired so far in this run: for host-side
   * observers (a log that streams, a progress line). It must not touch guest state, so the run
   * is the same with or without it.
   */
  readonly onSlice?: (instructions: number) => void;
  /**
   * A time limit that moves (ns of system time; NO_TIMER for none), read before every slice: a
   * host-side deadline such as a console script's expect timeout. Slices are cut and idle jumps
   * stop at it as at `maxTime`, and the run ends with 'host-deadline' once system time reaches
   * it. Like `maxTime` it wakes no guest: a guest with nothing pending still ends as 'stalled'.
   */
  readonly hostDeadline?: () => number;
  /**
   * A host that feeds input as it arrives (a terminal, a pipe) on the virtual clock: before
   * virtual time jumps over an idle stretch, the loop pauses with `skip`, so input already on its
   * way lands before the jump rather than after it.
   */
  readonly hostInput?: boolean;
}

export type StopReason =
  /** Every domain has shut down or crashed (see `Domain.state`). */
  | 'ended'
  | 'instruction-limit'
  | 'time-limit'
  /** System time reached `hostDeadline()`. */
  | 'host-deadline'
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

/**
 * Where `machineSteps` hands control to its host:
 *  - `slice`: after every slice (and after `onSlice`); resume with `next()`;
 *  - `idle`: nothing can run before system time `until`. Virtual time has jumped there already
 *    (`skipped`); in realtime mode (`skipped` false) the host waits until then (sleeps, or takes
 *    host input meanwhile) before it resumes; the loop then republishes the clocks and goes on;
 *  - `skip` (only with `hostInput`, on the virtual clock): virtual time is about to jump to
 *    `until`; `next(true)` (the host injected something) looks again instead of jumping;
 *  - `stalled`: every vCPU is blocked or down and nothing pending can wake one; `next(true)`
 *    resumes (the host has injected something, or will look again), anything else ends the run
 *    as 'stalled'.
 */
export type RunPause =
  | { readonly kind: 'slice'; readonly instructions: number }
  | { readonly kind: 'idle'; readonly until: number; readonly skipped: boolean }
  | { readonly kind: 'skip'; readonly until: number }
  | { readonly kind: 'stalled' };

/** Runs the machine to its end; see the file comment. */
export function runMachine(opts: RunMachineOptions): RunResult {
  const steps = machineSteps(opts);
  for (;;) {
    const s = steps.next();
    if (s.done === true) return s.value;
    if (s.value.kind === 'idle' && !s.value.skipped) waitRealtime(opts.xen.clock, s.value.until);
  }
}

/** The scheduler's loop, pausing for its host (see `RunPause`); same run as `runMachine`'s. */
export function* machineSteps(opts: RunMachineOptions): Generator<RunPause, RunResult, boolean | undefined> {
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
  const runner = new Runner();
  try {
    for (;;) {
      let live = domains.filter((d) => d.running);
      if (live.length === 0) return result('ended');
      const now = clock.now();
      for (const d of live) d.time?.fireDue(now);
      live = live.filter((d) => d.running);
      if (live.length === 0) return result('ended');
      if (opts.maxInstructions !== undefined && instructions >= opts.maxInstructions) return result('instruction-limit');
      if (opts.maxTime !== undefined && now >= opts.maxTime) return result('time-limit');
      const hostDeadline = opts.hostDeadline?.() ?? NO_TIMER;
      if (hostDeadline !== NO_TIMER && now >= hostDeadline) return result('host-deadline');
      const limit = hostDeadline === NO_TIMER || (opts.maxTime !== undefined && opts.maxTime < hostDeadline) ? opts.maxTime : hostDeadline;

      const entries = runQueue(live);
      let pick = -1;
      for (let k = 0; k < entries.length; k++) {
        const idx = (cursor + k) % entries.length;
        if (runnable(entries[idx] as Entry)) {
          pick = idx;
          break;
        }
      }
      const deadline = nextDeadline(live, limit);

      if (pick < 0) {
        // The run's own limits wake nobody: with no guest timer left, the guest is stalled now,
        // unless the host has something to inject.
        if (nextDeadline(live, undefined) === NO_TIMER || ++idleJumps > MAX_IDLE_JUMPS) {
          if ((yield { kind: 'stalled' }) !== true) return result('stalled');
          idleJumps = 0;
          for (const d of live) d.time?.updateAllTime();
          continue;
        }
        if (opts.hostInput === true && !clock.realtime && (yield { kind: 'skip', until: deadline }) === true) {
          for (const d of live) d.time?.updateAllTime();
          continue;
        }
        yield { kind: 'idle', until: deadline, skipped: clock.skipTo(deadline) };
        for (const d of live) d.time?.updateAllTime();
        continue;
      }
      cursor = pick + 1;
      const { d, v } = entries[pick] as Entry;
      // Instructions until the next thing that must happen exactly: a deadline, the limit.
      let until = Infinity;
      if (deadline !== NO_TIMER && !clock.realtime) until = Math.max(1, nsToTicks(deadline) - clock.ticks());
      if (opts.maxInstructions !== undefined) until = Math.min(until, opts.maxInstructions - instructions);
      const budget = Math.min(SLICE_INSTRUCTIONS, until);
      const exact = until <= SLICE_INSTRUCTIONS + MAX_OVERSHOOT;
      const dt = d.time;
      dt?.setRunstate(v.id, RUNSTATE_running);
      dt?.updateTime(v.id);
      // Exact where it matters (a deadline, the instruction limit); a plain slice ends at the first
      // block boundary after SLICE_INSTRUCTIONS (deterministic too, just not a round number).
      const ran = exact ? runner.exact(v.cpu, budget) : runner.plain(v.cpu, budget);
      instructions += ran;
      slices++;
      opts.onSlice?.(instructions);
      if (ran > 0) idleJumps = 0;
      if (dt !== undefined) {
        const t = dt.vcpu(v.id);
        dt.setRunstate(v.id, !t.up ? RUNSTATE_offline : v.blocked ? RUNSTATE_blocked : RUNSTATE_runnable);
      }
      yield { kind: 'slice', instructions };
    }
  } finally {
    runner.restoreAll();
  }
}

type Core = PvVcpu['cpu'];

/**
 * Exact and plain runs for one `runMachine`: the JIT of a CPU is switched off (and its compiled
 * blocks dropped) when it first needs to run exactly, and back on at its next plain slice, so a
 * run of exact slices before a deadline pays for the invalidation once.
 */
class Runner {
  private readonly jitWas = new Map<Core, boolean>();

  exact(cpu: Core, n: number): number {
    if (!this.jitWas.has(cpu)) {
      this.jitWas.set(cpu, cpu.jit);
      if (cpu.jit) {
        cpu.jit = false;
        cpu.invalidateAllCode();
      }
    }
    return interpretExactly(cpu, n);
  }

  plain(cpu: Core, n: number): number {
    this.restore(cpu);
    return cpu.run(n);
  }

  private restore(cpu: Core): void {
    const was = this.jitWas.get(cpu);
    if (was === undefined) return;
    cpu.jit = was;
    this.jitWas.delete(cpu);
  }

  restoreAll(): void {
    for (const cpu of [...this.jitWas.keys()]) this.restore(cpu);
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
 * ends), outside the scheduler: no compiled code meanwhile (see `MAX_OVERSHOOT`).
 */
export function runExactly(v: PvVcpu, n: number): number {
  const cpu = v.cpu;
  const jit = cpu.jit;
  if (jit) {
    cpu.jit = false;
    cpu.invalidateAllCode();
  }
  try {
    return interpretExactly(cpu, n);
  } finally {
    cpu.jit = jit;
  }
}

/**
 * Exactly `n` instructions of an interpreting core: its limit is checked between blocks, so it
 * runs to a block short of `n`, then single-steps the rest (the core steps one instruction at a
 * time while `breakpoints` is set; no DR7 breakpoint is enabled, so none fires).
 */
function interpretExactly(cpu: Core, n: number): number {
  if (n <= 0) return 0;
  let done = 0;
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
