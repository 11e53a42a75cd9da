/**
 * Virtual time (reference §7.1-7.2): Xen's system time (ns since "boot") and the time-stamp
 * counter a PV guest reads with RDTSC, for the whole machine.
 *
 * Deterministic mode (the default): the machine has one virtual physical CPU. The TSC counts one
 * tick per guest instruction retired by any vCPU of the machine, plus the ticks skipped while
 * every vCPU was blocked (idle skipping, `skipTo`). System time is a fixed function of the TSC,
 * `ticksToNs`, the very formula the guest applies to a vcpu_time_info record, so what the
 * guest computes and what our timers compare against are the same number.
 *
 * Realtime mode (`useRealtime`): the TSC follows a host monotonic clock (injected: abi/ does not
 * read the host itself), continuing from where deterministic time stood; idle skipping is off
 * (the scheduler waits instead).
 *
 * The relation TSC ↔ ns lives here only: `TSC_HZ`, `PVCLOCK_SCALE`, `ticksToNs`, `nsToTicks`.
 */

/** The nominal TSC frequency (ticks per second): one tick per retired instruction, 1 GHz. */
export const TSC_HZ = 1e9;

/** tsc_to_system_mul and tsc_shift of vcpu_time_info (32.32 fixed point, then a shift). */
export interface PvclockScale {
  readonly mul: number;
  readonly shift: number;
}

/**
 * mul/shift for a TSC of `hz` the way Xen derives them (reference §7.1): normalise the
 * frequency into (10^9, 2·10^9] by halving or doubling, counting the shift, then
 * mul = floor(10^9 · 2^32 / normalised).
 */
export function pvclockScale(hz: number): PvclockScale {
  let t = BigInt(Math.round(hz));
  let shift = 0;
  while (t > 2_000_000_000n) {
    t >>= 1n;
    shift--;
  }
  while (t <= 1_000_000_000n) {
    t <<= 1n;
    shift++;
  }
  return { mul: Number((1_000_000_000n << 32n) / t), shift };
}

export const PVCLOCK_SCALE: PvclockScale = pvclockScale(TSC_HZ);

/**
 * The guest's scaling of a TSC delta (unsigned 64-bit) to ns: shift, then the 64×32-bit multiply
 * keeping bits 95:32 of the product. BigInt: for tests and cold paths.
 */
export function scaleDelta(delta: bigint, s: PvclockScale): bigint {
  const d = BigInt.asUintN(64, s.shift >= 0 ? delta << BigInt(s.shift) : delta >> BigInt(-s.shift));
  return BigInt.asUintN(64, (d * BigInt(s.mul)) >> 32n);
}

/** Whether scaling is the identity (1 GHz: shift 1, mul 2^31): then ticks and ns are one number. */
const IDENTITY = PVCLOCK_SCALE.shift >= 0 && PVCLOCK_SCALE.mul * 2 ** PVCLOCK_SCALE.shift === 2 ** 32;

/** System time (ns) at TSC value `ticks`: the guest formula applied from tsc 0, system time 0. */
export function ticksToNs(ticks: number): number {
  if (IDENTITY) return ticks;
  return Number(scaleDelta(BigInt(ticks), PVCLOCK_SCALE));
}

/** The first TSC value at which system time has reached `ns`. */
export function nsToTicks(ns: number): number {
  if (IDENTITY) return Math.max(0, Math.ceil(ns));
  let t = Math.max(0, Math.ceil((ns * TSC_HZ) / 1e9) - 2);
  while (ticksToNs(t) < ns) t++;
  return t;
}

/** Whether vcpu_time_info records stay exact when re-anchored (the scale is additive in the delta). */
export const PVCLOCK_ADDITIVE = IDENTITY;

/** The host's clocks, injected by harness/ for `--realtime`. */
export interface HostClock {
  /** A monotonic clock in ns (e.g. process.hrtime.bigint as a number). */
  monotonicNs(): number;
  /** UTC wall-clock time in ns since the Unix epoch. */
  wallNs(): number;
  /** Blocks until the monotonic clock reaches `ns` (the scheduler's idle wait); optional. */
  sleepUntilMonotonic?(ns: number): void;
}

/** Something whose retired-instruction count drives the TSC (an x86 Cpu). */
export interface InstructionCounter {
  readonly retired: number;
}

export interface ClockOptions {
  /**
   * Wall-clock time (UTC, seconds since the Unix epoch) at system time 0 in deterministic mode.
   * Fixed by default so that runs repeat byte for byte.
   */
  epochSec?: number;
  epochNsec?: number;
}

/** 2024-01-01T00:00:00Z: the default wall clock at system time 0. */
export const DEFAULT_EPOCH_SEC = 1704067200;

export class VirtualClock {
  /** Ticks from counters no longer attached, and from idle skips. */
  private banked = 0;
  /** Attached counters and their `retired` when attached (Map: insertion order, deterministic). */
  private readonly counters = new Map<InstructionCounter, number>();
  private host: HostClock | undefined = undefined;
  private hostMonoAtSwitch = 0;
  private ticksAtSwitch = 0;
  private wcSec: number;
  private wcNsec: number;
  /** How many ticks idle skipping has added (for reports). */
  skippedTicks = 0;

  constructor(opts: ClockOptions = {}) {
    this.wcSec = opts.epochSec ?? DEFAULT_EPOCH_SEC;
    this.wcNsec = opts.epochNsec ?? 0;
  }

  get realtime(): boolean {
    return this.host !== undefined;
  }

  /** A vCPU's instructions count from now on. */
  add(c: InstructionCounter): void {
    if (!this.counters.has(c)) this.counters.set(c, c.retired);
  }

  /** A vCPU leaves the machine: what it ran stays counted. */
  remove(c: InstructionCounter): void {
    const base = this.counters.get(c);
    if (base === undefined) return;
    this.banked += c.retired - base;
    this.counters.delete(c);
  }

  /** The TSC now. */
  ticks(): number {
    if (this.host !== undefined) return this.ticksAtSwitch + nsToTicks(this.host.monotonicNs() - this.hostMonoAtSwitch);
    let t = this.banked;
    for (const [c, base] of this.counters) t += c.retired - base;
    return t;
  }

  /** System time now, in ns. */
  now(): number {
    return ticksToNs(this.ticks());
  }

  /**
   * Idle skipping: system time jumps forward to `ns` (nothing if it is already there). Refused
   * (false) in realtime mode, where time is the host's.
   */
  skipTo(ns: number): boolean {
    if (this.host !== undefined) return false;
    const target = nsToTicks(ns);
    const t = this.ticks();
    if (target > t) {
      this.banked += target - t;
      this.skippedTicks += target - t;
    }
    return true;
  }

  /** Switches to realtime: time continues from here at the host's pace; the wall clock is the host's. */
  useRealtime(host: HostClock): void {
    if (this.host !== undefined) return;
    this.ticksAtSwitch = this.ticks();
    this.hostMonoAtSwitch = host.monotonicNs();
    this.host = host;
    // Wall time at system time 0 = host wall time now - system time now (split to keep ns exact).
    const wall = host.wallNs();
    const sys = ticksToNs(this.ticksAtSwitch);
    const sec = Math.floor(wall / 1e9) - Math.floor(sys / 1e9);
    let nsec = Math.round(wall - Math.floor(wall / 1e9) * 1e9) - (sys % 1e9);
    this.wcSec = sec + Math.floor(nsec / 1e9);
    nsec -= Math.floor(nsec / 1e9) * 1e9;
    this.wcNsec = nsec;
  }

  /** The host clock in realtime mode. */
  get hostClock(): HostClock | undefined {
    return this.host;
  }

  /** Wall-clock time at system time 0 (shared_info wc_sec/wc_nsec): seconds and ns. */
  wallclock(): { sec: number; nsec: number } {
    return { sec: this.wcSec, nsec: this.wcNsec };
  }
}
