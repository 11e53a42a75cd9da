/**
 * A domain's time state (reference §7.3-7.5): per vCPU the singleshot and periodic timers, the
 * SCHEDOP_poll wait, the runstate and its guest area, whether it is initialised and up; per
 * domain the SCHEDOP_watchdog timers. Timer expiry raises VIRQ_TIMER on the vCPU through the
 * domain's event channels (which wakes it if it blocked with events unmasked); watchdog expiry
 * shuts the domain down with SHUTDOWN_watchdog.
 *
 * Nothing here runs by itself: the scheduler (scheduler.ts) asks for `nextDeadline()`, runs
 * vCPUs up to it and calls `fireDue()`. Deadlines are system time in ns (clock.ts); "no timer"
 * is NO_TIMER.
 */
import type { Domain } from '../hv/domain.js';
import type { PvVcpu } from '../pv/vcpu.js';
import { layout } from '../public/index.js';
import { SHUTDOWN_watchdog } from '../public/sched.js';
import { RUNSTATE_blocked, RUNSTATE_offline, RUNSTATE_runnable, RUNSTATE_running } from '../public/vcpu.js';
import { VIRQ_TIMER, VMASST_TYPE_runstate_update_flag } from '../public/xen.js';
import { XEN_LEGACY_MAX_VCPUS } from '../public/arch-x86.js';
import type { VirtualClock } from './clock.js';
import { VcpuInfoArea, timeRecordAt, timeRecordBytes, updateVcpuTime, writeWallclock } from './pvclock.js';

export const NO_TIMER = -1;
/** PV vCPUs start with a 10 ms periodic timer (reference §7.4); guests usually stop it. */
export const DEFAULT_PERIOD_NS = 10_000_000;
/** VCPUOP_set_periodic_timer: shorter periods are refused with -EINVAL (Xen's MILLISECS(1)). */
export const MIN_PERIOD_NS = 1_000_000;
/** Xen's STIME_DELTA_MAX (2^62 - 1): longer periods are refused with -EINVAL too. */
export const MAX_PERIOD_NS = 2n ** 62n - 1n;
/** Watchdog slots per domain (Xen's NR_DOMAIN_WATCHDOG_TIMERS). */
export const NR_DOMAIN_WATCHDOG_TIMERS = 2;
/** SCHEDOP_poll: at most this many ports. */
export const MAX_POLL_PORTS = 128;

export interface TimeOptions {
  /**
   * VCPU_SSHOTTMR_future: Xen 4.17 as packaged (its vcpu.h says the flag "can be ignored")
   * ignores it; older Xen returned -ETIME for a timeout already past. True selects the old rule.
   */
  readonly sshotFutureEtime: boolean;
}

/** What the time code needs from the hypervisor object. */
export interface TimeHost {
  readonly clock: VirtualClock;
  readonly timeOptions: TimeOptions;
  /**
   * A new vCPU `id` of `d` (VCPUOP_initialise), attached to the domain and the clock, or
   * undefined when the domain has no machine memory to run one on.
   */
  createVcpu(d: Domain, id: number): PvVcpu | undefined;
}

const SI = layout('shared_info', 'x86_64');
const PENDING = SI.field('evtchn_pending').offset;
const RUNSTATE = layout('vcpu_runstate_info', 'x86_64');

export interface PollWait {
  readonly ports: readonly number[];
  /** System time at which the poll gives up (NO_TIMER: never). */
  readonly deadline: number;
}

/** One vCPU's time state. */
export class VcpuTime {
  /** Absolute system time of the singleshot timer (set_timer_op, VCPUOP_set_singleshot_timer). */
  singleshot = NO_TIMER;
  /** Period of the periodic timer in ns (0: stopped) and its next expiry. */
  period = DEFAULT_PERIOD_NS;
  periodicNext = NO_TIMER;
  /** SCHEDOP_poll in progress. */
  poll: PollWait | undefined = undefined;
  /** VCPUOP_initialise done (or built by the domain builder) and not down. */
  initialised = false;
  up = false;
  /** RUNSTATE_* and accounting (ns). */
  runstate = RUNSTATE_offline;
  stateEntry = 0;
  readonly stateTime = [0, 0, 0, 0];
  /** VCPUOP_register_runstate_memory_area: guest virtual address (0: none). */
  runstateArea = 0;
  /** Where vcpu_info is (its shared_info slot, or where VCPUOP_register_vcpu_info moved it). */
  area: VcpuInfoArea | undefined = undefined;
  vcpuInfoRegistered = false;
  /** VCPUOP_register_vcpu_time_memory_area: guest virtual address of a second pvclock copy (0: none). */
  timeArea = 0;
  private timeAreaVersion = 0;
  /** The next even version for the secondary copy (its own seqlock counter). */
  nextTimeAreaVersion(): number {
    this.timeAreaVersion = (this.timeAreaVersion + 2) >>> 0;
    return this.timeAreaVersion;
  }
  /** VCPUOP_send_nmi raised an NMI not yet delivered (delivery is not modelled yet). */
  nmiPending = false;
  /** VIRQ_TIMER raised by this vCPU's timers (for reports and tests). */
  timerEvents = 0;

  constructor(readonly id: number) {}
}

export class DomainTime {
  private readonly vcpuTimes: VcpuTime[] = [];
  /** Watchdog expiry times (NO_TIMER: disarmed) and which slots are in use. */
  readonly watchdog: number[] = new Array<number>(NR_DOMAIN_WATCHDOG_TIMERS).fill(NO_TIMER);
  readonly watchdogInUse: boolean[] = new Array<boolean>(NR_DOMAIN_WATCHDOG_TIMERS).fill(false);
  /**
   * Host-side work due at a system time, for this domain's backends: a hostile backend's delayed
   * drain or reply (harness/hostile/). It keeps the scheduler's idle jumps and stall detection
   * honest (a guest blocked on a reply that is only late is not stalled) and runs from `fireDue`,
   * before pollers are woken, in order of time and then of `defer` calls. Not saved: a checkpoint
   * of a domain with deferred work is not taken (the hostile runs take none).
   */
  private readonly deferred: { readonly at: number; readonly seq: number; readonly run: () => void }[] = [];
  private deferSeq = 0;

  constructor(
    readonly domain: Domain,
    readonly host: TimeHost,
  ) {}

  get clock(): VirtualClock {
    return this.host.clock;
  }

  /** vCPU `id`'s state (created on first use; the caller checks `id` against max_vcpus). */
  vcpu(id: number): VcpuTime {
    return (this.vcpuTimes[id] ??= new VcpuTime(id));
  }

  /** The vCPUs with time state, by id. */
  all(): VcpuTime[] {
    return this.vcpuTimes.filter((t) => t !== undefined);
  }

  private sharedInfo(): DataView | undefined {
    return this.domain.evtchn?.sink.sharedInfo;
  }

  /**
   * vCPU `v` exists and is up (the builder's vCPU 0, or VCPUOP_initialise + up): its vcpu_info
   * is its shared_info slot unless registered elsewhere, its clock record is published, and the
   * default periodic timer starts.
   */
  online(v: PvVcpu): void {
    const t = this.vcpu(v.id);
    const first = !t.initialised;
    t.initialised = true;
    this.bindArea(v);
    if (!t.up) {
      t.up = true;
      const now = this.clock.now();
      if (t.period > 0) t.periodicNext = now + t.period;
      this.setRunstate(v.id, RUNSTATE_runnable);
    }
    this.updateTime(v.id);
    // Xen's arch_set_info_guest publishes the wall clock when vCPU 0 gets its first context
    // (update_domain_wallclock_time), so a guest that never blocks (GRUB) reads it from the start.
    const si = this.sharedInfo();
    if (first && v.id === 0 && si !== undefined) writeWallclock(si, this.clock);
  }

  /** Points the vCPU at its shared_info slot (once shared_info exists), unless registered elsewhere. */
  bindArea(v: PvVcpu): void {
    const t = this.vcpu(v.id);
    const si = this.sharedInfo();
    if (t.area === undefined && si !== undefined && v.id < XEN_LEGACY_MAX_VCPUS) t.area = VcpuInfoArea.inSharedInfo(si, v.id);
    if (t.area !== undefined) v.vcpuInfo = t.area;
  }

  /** shared_info arrived (or the clock changed mode): every vCPU's area, its record, the wall clock. */
  sharedInfoReady(): void {
    for (const v of this.domain.vcpus) if (v !== undefined) this.bindArea(v);
    this.updateAllTime();
  }

  /**
   * The event code marked vCPU `id` pending in its shared_info slot: once vcpu_info has moved
   * (VCPUOP_register_vcpu_info), carry the selector bits and the pending flag over to the new
   * place and clear the slot, so the next edge is seen again. (evtchn/channels.ts writes the
   * shared_info slot only; this bridge goes once it writes through the vCPU's area.)
   */
  mirrorEvents(id: number): void {
    const t = this.vcpuTimes[id];
    const si = this.sharedInfo();
    if (t === undefined || !t.vcpuInfoRegistered || t.area === undefined || si === undefined || id >= XEN_LEGACY_MAX_VCPUS) return;
    const slot = VcpuInfoArea.inSharedInfo(si, id);
    const sel = slot.dv.getBigUint64(slot.offset + 8, true);
    const a = t.area;
    a.dv.setBigUint64(a.offset + 8, a.dv.getBigUint64(a.offset + 8, true) | sel, true);
    slot.dv.setBigUint64(slot.offset + 8, 0n, true);
    slot.dv.setUint8(slot.offset, 0);
    a.dv.setUint8(a.offset, 1);
  }

  // ---- pvclock ---------------------------------------------------------------------------------

  updateTime(id: number): void {
    const t = this.vcpuTimes[id];
    if (t === undefined) return;
    if (t.area !== undefined) updateVcpuTime(t.area, this.clock);
    const v = this.domain.vcpus[id];
    if (t.timeArea !== 0 && v !== undefined) {
      // The secondary copy through the vCPU's page tables, under its own version (odd, then even);
      // a fault is ignored, as Xen's copy to the guest is best effort.
      const even = t.nextTimeAreaVersion();
      const b = timeRecordBytes(timeRecordAt(this.clock.ticks()), even);
      const odd = new Uint8Array(4);
      new DataView(odd.buffer).setUint32(0, (even - 1) >>> 0, true);
      if (v.mem.write(t.timeArea, odd)) {
        v.mem.write(t.timeArea + 4, b.subarray(4));
        v.mem.write(t.timeArea, b.subarray(0, 4));
      }
    }
  }

  /** After a time jump or a mode change: every vCPU's record and the wall clock. */
  updateAllTime(): void {
    for (const t of this.all()) this.updateTime(t.id);
    const si = this.sharedInfo();
    if (si !== undefined) writeWallclock(si, this.clock);
  }

  // ---- timers --------------------------------------------------------------------------------------

  /**
   * Arms vCPU `id`'s singleshot timer. A deadline already reached fires now: Xen's set_timer
   * raises TIMER_SOFTIRQ, which runs on the way back to the guest (test_all_events), so VIRQ_TIMER
   * is pending before the guest's next instruction.
   */
  setSingleshot(id: number, deadline: number): void {
    const t = this.vcpu(id);
    if (t.up && deadline <= this.clock.now()) {
      t.singleshot = NO_TIMER;
      this.timerEvent(t);
      return;
    }
    t.singleshot = deadline;
  }

  stopSingleshot(id: number): void {
    this.vcpu(id).singleshot = NO_TIMER;
  }

  /** A new period (0 stops); the next expiry is a period after now. */
  setPeriodic(id: number, period: number): void {
    const t = this.vcpu(id);
    t.period = period;
    t.periodicNext = period > 0 && t.up ? this.clock.now() + period : NO_TIMER;
  }

  /** Runs `run` once system time reaches `at` (ns), from `fireDue` (see `deferred`). */
  defer(at: number, run: () => void): void {
    const e = { at, seq: this.deferSeq++, run };
    let i = this.deferred.length;
    while (i > 0 && (this.deferred[i - 1] as { at: number }).at > at) i--;
    this.deferred.splice(i, 0, e);
  }

  /** Host-side work still waiting (`defer`). */
  get deferredCount(): number {
    return this.deferred.length;
  }

  /** The earliest pending deadline of this domain (timers, poll timeouts, watchdogs, deferred host work), or NO_TIMER. */
  nextDeadline(): number {
    if (!this.domain.running) return NO_TIMER;
    let next = NO_TIMER;
    const take = (d: number): void => {
      if (d !== NO_TIMER && (next === NO_TIMER || d < next)) next = d;
    };
    for (const t of this.all()) {
      if (!t.up) continue;
      take(t.singleshot);
      take(t.periodicNext);
      if (t.poll !== undefined) take(t.poll.deadline);
    }
    for (const w of this.watchdog) take(w);
    const first = this.deferred[0];
    if (first !== undefined) take(first.at);
    return next;
  }

  /**
   * Fires everything due at system time `now`, in a fixed order (vCPUs by id: singleshot,
   * periodic, poll timeout; then the watchdogs), and wakes pollers whose ports became pending.
   */
  fireDue(now: number): void {
    // Deferred host work first: what it sends wakes a poller below, in this same call.
    while (this.deferred.length > 0 && (this.deferred[0] as { at: number }).at <= now && this.domain.running) {
      (this.deferred.shift() as { run: () => void }).run();
    }
    for (const t of this.all()) {
      if (!t.up) continue;
      const v = this.domain.vcpus[t.id];
      if (t.singleshot !== NO_TIMER && t.singleshot <= now) {
        t.singleshot = NO_TIMER;
        this.timerEvent(t);
      }
      if (t.periodicNext !== NO_TIMER && t.periodicNext <= now) {
        // As Xen's periodic timer work: one event, the next a period after now (missed periods collapse).
        t.periodicNext = now + t.period;
        this.timerEvent(t);
      }
      if (t.poll !== undefined && v !== undefined) {
        if (!v.blocked || (t.poll.deadline !== NO_TIMER && t.poll.deadline <= now) || this.anyPending(t.poll.ports)) {
          t.poll = undefined;
          v.wake();
        }
      }
    }
    for (let k = 0; k < NR_DOMAIN_WATCHDOG_TIMERS; k++) {
      const w = this.watchdog[k] as number;
      if (w !== NO_TIMER && w <= now) {
        this.watchdog[k] = NO_TIMER;
        // Xen's watchdog expiry: the domain is shut down with SHUTDOWN_watchdog.
        this.domain.shutdown(SHUTDOWN_watchdog);
        return;
      }
    }
  }

  private timerEvent(t: VcpuTime): void {
    t.timerEvents++;
    this.updateTime(t.id);
    this.domain.evtchn?.raiseVirq(VIRQ_TIMER, t.id);
  }

  // ---- poll ------------------------------------------------------------------------------------------

  /** Whether any of `ports` is pending in shared_info (masked or not: poll ignores the mask). */
  anyPending(ports: readonly number[]): boolean {
    const si = this.sharedInfo();
    if (si === undefined) return false;
    return ports.some((p) => (si.getUint8(PENDING + (p >>> 3)) & (1 << (p & 7))) !== 0);
  }

  // ---- runstate --------------------------------------------------------------------------------------

  /** Moves vCPU `id` to RUNSTATE_* `state` now, accounting the time spent in the old one. */
  setRunstate(id: number, state: number): void {
    const t = this.vcpu(id);
    if (t.runstate === state) return;
    const now = this.clock.now();
    t.stateTime[t.runstate] = (t.stateTime[t.runstate] as number) + (now - t.stateEntry);
    t.runstate = state;
    t.stateEntry = now;
    this.writeRunstateArea(id);
  }

  /** The runstate as vcpu_runstate_info bytes (x86_64 layout). */
  runstateBytes(id: number, updating = false): Uint8Array {
    const t = this.vcpu(id);
    const b = new Uint8Array(RUNSTATE.size);
    const dv = new DataView(b.buffer);
    dv.setInt32(RUNSTATE.field('state').offset, t.runstate, true);
    const entry = BigInt(t.stateEntry) | (updating ? 1n << 63n : 0n);
    dv.setBigUint64(RUNSTATE.field('state_entry_time').offset, entry, true);
    const base = RUNSTATE.field('time').offset;
    t.stateTime.forEach((ns, k) => dv.setBigUint64(base + k * 8, BigInt(ns), true));
    return b;
  }

  /**
   * Rewrites the guest's runstate area through the vCPU's current page tables, as Xen does on
   * each schedule; a fault is ignored (Xen's copy is best effort too). With
   * VMASST_TYPE_runstate_update_flag, state_entry_time carries XEN_RUNSTATE_UPDATE meanwhile.
   */
  writeRunstateArea(id: number): void {
    const t = this.vcpuTimes[id];
    const v = this.domain.vcpus[id];
    if (t === undefined || t.runstateArea === 0 || v === undefined) return;
    const flag = (this.domain.vmAssist & (1 << VMASST_TYPE_runstate_update_flag)) !== 0;
    const at = t.runstateArea;
    const entryOff = RUNSTATE.field('state_entry_time').offset;
    if (flag) {
      const b = this.runstateBytes(id, true).subarray(entryOff, entryOff + 8);
      if (!v.mem.write(at + entryOff, b)) return;
    }
    const full = this.runstateBytes(id, flag);
    if (!v.mem.write(at, full)) return;
    if (flag) v.mem.write(at + entryOff, this.runstateBytes(id).subarray(entryOff, entryOff + 8));
  }

  /** RUNSTATE_* a vCPU should be in, from the CPU model's view. */
  static stateOf(t: VcpuTime, v: PvVcpu | undefined, running: boolean): number {
    if (!t.up || v === undefined) return RUNSTATE_offline;
    if (running) return RUNSTATE_running;
    return v.blocked ? RUNSTATE_blocked : RUNSTATE_runnable;
  }
}
