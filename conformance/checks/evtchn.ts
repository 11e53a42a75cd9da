/**
 * Check `evtchn.lifecycle` (xen/include/public/event_channel.h, xen.h's shared_info and
 * vcpu_info; docs/conformance.md): the event channels of the guest's frontends, from xenstored's
 * trace (frontend-trace.ts) and the domain's ports and event bits, looked at on every trace line,
 * every sampled scheduler slice and when the guest has stopped:
 *
 *  - open when published: when a frontend goes Initialised or Connected, every port it published
 *    (`event-channel`, `event-channel-tx`/`-rx`) is one of its ports open to the backend's domain
 *    (unbound for it, or already bound to it);
 *  - none left after the close: when the run ends, a frontend that went Closed has closed the
 *    ports it published, and once every frontend has closed, no port but the toolstack's
 *    (XenStore, console) and the suspend port is open to a backend's domain. A frontend that
 *    released nothing and whose domain ended within a second of its close left it to the
 *    domain's destruction (Linux at poweroff; frontend-trace.ts `teardown`);
 *  - no lost event: a port pending and unmasked while its vCPU has upcalls enabled
 *    (evtchn_upcall_mask clear) but no upcall pending (evtchn_upcall_pending clear) will never be
 *    delivered: Xen raises an upcall only on a port's 0→1 pending edge, so the guest's handler
 *    acknowledged the upcall without handling the port and every later send to it is swallowed.
 *    Transient inside a handler (it runs with the mask set, and clears the pending bits it
 *    handles), so a failure needs LOST_EVENT_NS of guest time and LOST_EVENT_SAMPLES samples in
 *    that state.
 *
 * Not a misuse: a guest that keeps upcalls masked and polls its rings or SCHEDOP_poll (GRUB,
 * the probes) leaves ports pending forever; Xen itself clears the mask on SCHEDOP_block. Not
 * observable by sampling: a handler that never clears evtchn_upcall_pending (Xen re-enters it on
 * every return to the guest, and it runs masked).
 */
import type { EventChannels } from '../../abi/evtchn/channels.js';
import { layout } from '../../abi/public/index.js';
import type { BootWorld } from '../../harness/boot/boot.js';
import type { AbiCheck } from './check.js';
import {
  evtchnOpen,
  frontendLabel,
  FrontendTracker,
  granted,
  teardown,
  XENBUS_CLOSED,
  XENBUS_CONNECTED,
  XENBUS_INITIALISED,
  type Frontend,
  type Teardown,
} from './frontend-trace.js';

export const EVTCHN_LIFECYCLE = {
  id: 'evtchn.lifecycle',
  description: 'published ports are open to the backend, none stays bound after the frontend closes, no event is left pending and undeliverable',
  reference: 'xen/include/public/event_channel.h (EVTCHNOP_close); xen.h (evtchn_upcall_pending/mask, evtchn_pending)',
} as const;

/** Sample the event bits at most this often (guest time) from the scheduler's slices. */
export const SAMPLE_NS = 1_000_000;
/** An undeliverable port is a lost event after this much guest time … */
export const LOST_EVENT_NS = 100_000_000;
/** … and this many samples in that state. */
export const LOST_EVENT_SAMPLES = 3;

const SI = layout('shared_info', 'x86_64');
const PENDING = SI.field('evtchn_pending').offset;
const MASK = SI.field('evtchn_mask').offset;

const STATE_NAMES: Readonly<Record<number, string>> = { [XENBUS_INITIALISED]: 'Initialised', [XENBUS_CONNECTED]: 'Connected' };

const bit = (dv: DataView, base: number, port: number): boolean => ((dv.getUint8(base + (port >>> 3)) >>> (port & 7)) & 1) !== 0;

/** How `port` is bound, for the messages (`interdomain to d0 port 5`). */
function describe(ec: EventChannels, port: number): string {
  const s = ec.status(port);
  if (typeof s === 'number') return 'invalid';
  return ['free', `unbound for d${s.a}`, `interdomain to d${s.a} port ${s.b}`, 'pirq', `virq ${s.a}`, 'ipi'][s.status] ?? `status ${s.status}`;
}

/** One guest run's observer (`evtchnLifecycle.start()`); exported for the unit tests. */
export class EvtchnObserver {
  private world: BootWorld | undefined;
  private readonly tracker = new FrontendTracker(
    () => this.world?.xen.clock.now() ?? 0,
    (f, s) => this.stateWritten(f, s),
  );
  private readonly violations: string[] = [];
  private readonly seen = new Set<string>();
  private readonly notes: string[] = [];
  private lastSample = Number.NEGATIVE_INFINITY;
  /** Ports seen undeliverable: since when (guest ns) and in how many samples. */
  private readonly stale = new Map<number, { since: number; samples: number }>();
  /** Frontends that published what this check follows (any boot), for the skip. */
  private readonly published = new Set<string>();
  /** Samples that found a vCPU with upcalls enabled (the lost-event rule had something to look at). */
  private unmaskedSamples = 0;

  attached(w: BootWorld): void {
    this.world = w;
    this.stale.clear();
    this.lastSample = Number.NEGATIVE_INFINITY;
  }

  trace(line: string): void {
    this.tracker.trace(line);
  }

  private violation(key: string, text: string): void {
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.violations.push(text);
  }

  private whose(port: number): string {
    const w = this.world;
    for (const f of this.tracker.frontends.values()) {
      if (w !== undefined && f.domid !== w.domain.id) continue;
      for (const p of f.ports.values()) if (p.value === port) return ` (${f.name} ${p.node})`;
    }
    return '';
  }

  private stateWritten(f: Frontend, s: number): void {
    const w = this.world;
    const ec = w?.domain.evtchn;
    if (w === undefined || ec === undefined || f.domid !== w.domain.id) return;
    if (s !== XENBUS_INITIALISED && s !== XENBUS_CONNECTED) return;
    if (f.ports.size > 0) this.published.add(frontendLabel(f));
    for (const p of f.ports.values()) {
      const at = `${frontendLabel(f)}: ${p.node} ${p.raw}`;
      const when = `when the frontend went ${STATE_NAMES[s] as string}`;
      if (!Number.isInteger(p.value)) this.violation(`nan ${at}`, `${at} is no port (${when})`);
      else if (!evtchnOpen(ec, p.value, f.backend)) this.violation(`open ${at}`, `${at} is not a port open to domain ${f.backend} ${when} (${describe(ec, p.value)})`);
    }
  }

  /** The lost-event rule, rate-limited on the guest clock (`always`: at the end). */
  slice(always = false): void {
    const w = this.world;
    const ec = w?.domain.evtchn;
    const si = ec?.sink.sharedInfo;
    if (w === undefined || ec === undefined || si === undefined) return;
    const now = w.xen.clock.now();
    if (!always && now - this.lastSample < SAMPLE_NS) return;
    this.lastSample = now;
    if (!w.domain.running && !always) return;
    const open = new Set<number>();
    let anyUnmasked = false;
    for (const v of w.domain.vcpus) {
      if (v?.vcpuInfo?.upcallMask() === 0) anyUnmasked = true;
    }
    if (anyUnmasked) this.unmaskedSamples++;
    else {
      this.stale.clear();
      return;
    }
    for (const port of ec.boundPorts()) {
      if (!bit(si, PENDING, port) || bit(si, MASK, port)) continue;
      const st = ec.status(port);
      if (typeof st === 'number') continue;
      const vi = w.domain.vcpus[st.vcpu]?.vcpuInfo;
      if (vi === undefined || vi.upcallMask() !== 0 || vi.upcallPending() !== 0) continue;
      open.add(port);
      const s = this.stale.get(port) ?? { since: now, samples: 0 };
      s.samples++;
      this.stale.set(port, s);
      if (s.samples >= LOST_EVENT_SAMPLES && now - s.since >= LOST_EVENT_NS) {
        const ms = Math.round((now - s.since) / 1e6);
        this.violation(
          `lost ${port}`,
          `d${w.domain.id} port ${port}${this.whose(port)} (${describe(ec, port)}): pending and unmasked for ${ms} ms of guest time while vCPU ${st.vcpu} had upcalls enabled and no upcall pending — the event is lost (the guest acknowledged the upcall without handling the port)`,
        );
      }
    }
    for (const p of [...this.stale.keys()]) if (!open.has(p)) this.stale.delete(p);
  }

  /** The guest has stopped: what closed frontends left open. */
  ended(w: BootWorld): void {
    this.endOfBoot(w);
    // The next boot's trace (the toolstack's writes come before `attached`) starts afresh.
    this.tracker.reset();
    this.world = undefined;
  }

  private endOfBoot(w: BootWorld): void {
    this.slice(true);
    const ec = w.domain.evtchn;
    if (ec === undefined) return;
    const mine = this.tracker.connected().filter((f) => f.domid === w.domain.id);
    const closed = mine.filter((f) => f.state === XENBUS_CLOSED);
    const end = w.xen.clock.now();
    const downs: Teardown[] = closed.map((f) => teardown(f, (ref, be) => granted(w, ref, be), (port, be) => evtchnOpen(ec, port, be), end, w.domain.running));
    for (const d of downs) {
      const f = d.frontend;
      if (d.leftToDomainEnd) {
        this.notes.push(`${frontendLabel(f)} closed and left its ports to the domain's end`);
        continue;
      }
      for (const p of d.heldPorts) {
        this.violation(`leak ${p.value}`, `${frontendLabel(f)}: port ${p.value} (${p.node}) is still ${describe(ec, p.value)} after the frontend closed`);
      }
    }
    if (mine.length === 0 || closed.length < mine.length || downs.some((d) => d.leftToDomainEnd)) return;
    const backends = new Set(mine.map((f) => f.backend));
    const others = this.tracker.toolstackPorts.get(w.domain.id) ?? new Set<number>();
    const names = mine.map((f) => f.name).join(', ');
    for (const port of ec.boundPorts()) {
      if (others.has(port)) continue;
      const st = ec.status(port);
      if (typeof st === 'number' || !backends.has(st.a) || !evtchnOpen(ec, port, st.a)) continue;
      const whose = this.whose(port);
      this.violation(
        `leak ${port}`,
        `d${w.domain.id} port ${port}${whose} is still ${describe(ec, port)} after every frontend (${names}) closed${whose === '' ? ' (published by none of them)' : ''}`,
      );
    }
  }

  result(): { readonly published: number; readonly unmaskedSamples: number; readonly violations: readonly string[]; readonly notes: readonly string[] } {
    return { published: this.published.size, unmaskedSamples: this.unmaskedSamples, violations: this.violations, notes: this.notes };
  }
}

/** The check as the conformance run applies it (conformance/checks/index.ts). */
export const evtchnLifecycle: AbiCheck = {
  ...EVTCHN_LIFECYCLE,
  start() {
    const o = new EvtchnObserver();
    return {
      xenStoreTrace: (line) => o.trace(line),
      attached: (w) => o.attached(w),
      slice: () => o.slice(),
      ended: (w) => o.ended(w),
      result: () => {
        const x = o.result();
        if (x.violations.length > 0) return { status: 'fail', detail: [...x.violations, ...x.notes].join('\n') };
        if (x.published === 0 && x.unmaskedSamples === 0) {
          return { status: 'skip', detail: 'not applicable: no frontend published a port and the guest never enabled upcalls (it polls)' };
        }
        return x.notes.length > 0 ? { status: 'pass', detail: x.notes.join('\n') } : { status: 'pass' };
      },
    };
  },
};
