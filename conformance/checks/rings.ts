/**
 * Check `ring.protocol`: the guest's side of its shared rings (xen/include/public/io/ring.h,
 * io/console.h, io/xs_wire.h; docs/conformance.md), as xenlab's event-driven backends see it. The backends
 * (harness/backends/ring-observer.ts) show the check every notification from the frontend, every
 * time they look at a ring's shared indices, the request ids they take and answer, and each
 * ring's last reading before they unmap it; at the end of the run each ring still connected is
 * read once more.
 *
 * What is observable, and so what is checked, per ring:
 *  - blkif (`vbd D ring`) and netif (`vif D tx`, `vif D rx`), io/ring.h request rings: req_prod
 *    never moves backwards, nor more than the ring's size in one step, and never runs more than
 *    the ring's size ahead of rsp_prod (RING_REQUEST_PROD_OVERFLOW); requests published across
 *    req_event must be announced by a notification (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY: notify
 *    iff req_event is in (old req_prod, new req_prod]). blkif request ids: none is reused while a
 *    request with that id is still unanswered. The frontend's response consumer (rsp_cons) is
 *    private to it and not checked; netif ids are not followed (tx extra-info slots carry none).
 *  - the console (`console out`, `console in`, io/console.h): out_prod never moves backwards nor
 *    more than 2048 bytes ahead of out_cons, and every move must be followed by a notification
 *    (the console has no event index: xenconsoled drains only when told); in_cons never moves
 *    backwards nor passes in_prod (a notification after taking input is welcome, not required).
 *  - the XenStore ring (`xenstore req`, `xenstore rsp`, io/xs_wire.h): as the console: req_prod
 *    never backwards nor more than 1024 bytes ahead of req_cons, every move followed by a
 *    notification (xenstored reads the ring when notified); rsp_cons never backwards nor past
 *    rsp_prod.
 *
 * Times are guest time when the backend saw the move (its next look, or the last reading).
 *
 * A needed notification is satisfied by any later notification on the ring's event channel
 * before the backend's last reading (a frontend may publish, then notify a few instructions
 * later); a need still open at the last reading is a missing notification: an event-driven
 * backend (Linux's blkback and netback, xenconsoled) would never have seen those requests or
 * bytes. A notification that brought nothing (no index moved since the backend's last look, no
 * need open) is spurious: counted and shown in the pass detail, not a failure.
 */
import type { BootWorld } from '../../harness/boot/boot.js';
import type { ObservedRing, RingIndices, RingObserver } from '../../harness/backends/ring-observer.js';
import type { AbiCheck } from './check.js';

/** The check's identity, as the reports show it. */
export const RING_PROTOCOL = {
  id: 'ring.protocol',
  description: 'shared-ring indices never move backwards or past the ring, request ids are not reused before their response, and every notification the ring macros call for is sent',
  reference: 'xen/include/public/io/ring.h (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY, RING_FINAL_CHECK_FOR_RESPONSES); io/console.h; io/xs_wire.h',
} as const;

/** Violation lines kept per ring; more are counted in one last line. */
const MAX_LINES_PER_RING = 4;

interface Pending {
  readonly from: number;
  to: number;
  readonly at: number;
}

interface RingState {
  readonly domid: number;
  last: RingIndices | undefined;
  /** A notification was needed from here on and none has come yet. */
  pending: Pending | undefined;
  /** Request ids taken and not yet answered. */
  readonly outstanding: Set<string>;
  overflowReported: boolean;
  /** The frontend moved an index or notified (the ring was used). */
  used: boolean;
  lines: number;
  dropped: number;
}

const u32 = (x: number): number => x >>> 0;

/** Guest time for a violation line. */
export function guestTime(ns: number): string {
  return `${(ns / 1e9).toFixed(6)} s`;
}

/**
 * The check's core over one guest run: a RingObserver for every backend of every boot. `now`
 * gives guest ns (the boot's clock).
 */
export class RingProtocolObserver implements RingObserver {
  private readonly rings = new Map<ObservedRing, RingState>();
  private readonly violations: string[] = [];
  notifications = 0;
  spurious = 0;
  /** Spurious notifications by ring group (`d1 console out+in`). */
  readonly spuriousBy = new Map<string, number>();

  constructor(
    private domid: number,
    private now: () => number,
  ) {}

  /** A new boot (a restarted domain): its domain id and clock. */
  boot(domid: number, now: () => number): void {
    this.domid = domid;
    this.now = now;
  }

  private state(r: ObservedRing): RingState {
    let s = this.rings.get(r);
    if (s === undefined) {
      s = { domid: this.domid, last: undefined, pending: undefined, outstanding: new Set(), overflowReported: false, used: false, lines: 0, dropped: 0 };
      this.rings.set(r, s);
    }
    return s;
  }

  private violation(r: ObservedRing, s: RingState, what: string): void {
    if (s.lines >= MAX_LINES_PER_RING) {
      s.dropped++;
      return;
    }
    s.lines++;
    this.violations.push(`d${s.domid} ${r.name}: ${what}`);
  }

  /** Reads the ring and judges the move since the last reading; true if the frontend's index moved. */
  private look(r: ObservedRing): boolean {
    const s = this.state(r);
    const idx = r.read();
    const t = this.now();
    const [prodName, limitName] = r.indexNames;
    const last = s.last;
    s.last = idx;
    const ahead = r.direction === 'producer' ? u32(idx.prod - idx.limit) : u32(idx.limit - idx.prod);
    const behind = r.direction === 'producer' ? u32(idx.limit - idx.prod) : u32(idx.prod - idx.limit);
    // An index behind its limit moved backwards (reported below), it did not overflow.
    if (ahead > r.size && behind > r.size && !s.overflowReported) {
      s.overflowReported = true;
      this.violation(
        r,
        s,
        r.direction === 'producer'
          ? `${prodName} ${idx.prod} is ${ahead} ahead of ${limitName} ${idx.limit}, more than the ring's ${r.size} (RING_REQUEST_PROD_OVERFLOW); at ${guestTime(t)}`
          : `${prodName} ${idx.prod} passed ${limitName} ${idx.limit}; at ${guestTime(t)}`,
      );
    }
    if (last === undefined) {
      if (idx.prod !== 0) s.used = true;
      return false;
    }
    const d = u32(idx.prod - last.prod);
    if (d === 0) return false;
    s.used = true;
    if (d > r.size) {
      const back = u32(last.prod - idx.prod);
      this.violation(
        r,
        s,
        back <= r.size
          ? `${prodName} moved backwards ${last.prod} → ${idx.prod}; at ${guestTime(t)}`
          : `${prodName} jumped ${last.prod} → ${idx.prod}, more than the ring's ${r.size} in one step; at ${guestTime(t)}`,
      );
      s.pending = undefined;
      return true;
    }
    const need = r.notify === 'always' || (r.notify === 'event' && idx.event !== undefined && u32(idx.prod - idx.event) < d);
    if (need) {
      if (s.pending === undefined) s.pending = { from: last.prod, to: idx.prod, at: t };
      else s.pending.to = idx.prod;
    } else if (s.pending !== undefined) {
      s.pending.to = idx.prod;
    }
    return true;
  }

  /** The last reading of a ring: a need still open is a missing notification. */
  private final(r: ObservedRing): void {
    const s = this.rings.get(r);
    if (s === undefined || s.last === undefined) return;
    this.look(r);
    const p = s.pending;
    s.pending = undefined;
    if (p === undefined) return;
    const [prodName] = r.indexNames;
    const event = r.notify === 'event' && s.last?.event !== undefined ? ` past req_event ${s.last.event}` : '';
    const consequence = r.name.startsWith('console')
      ? 'the backend would never drain it'
      : r.name.startsWith('xenstore')
        ? 'xenstored would never read it'
        : 'the backend would never see the requests';
    this.violation(r, s, `${prodName} moved ${p.from} → ${p.to}${event} and no notification came (${consequence}); seen at ${guestTime(p.at)}`);
  }

  connected(rings: readonly ObservedRing[]): void {
    for (const r of rings) {
      const s = this.state(r);
      s.last = undefined;
      s.pending = undefined;
      s.outstanding.clear();
      this.look(r);
    }
  }

  notified(rings: readonly ObservedRing[]): void {
    this.notifications++;
    let useful = false;
    for (const r of rings) {
      const s = this.state(r);
      s.used = true;
      if (s.pending !== undefined) useful = true;
      if (this.look(r)) useful = true;
      s.pending = undefined;
    }
    if (!useful) {
      this.spurious++;
      const key = `d${this.domid} ${rings.map((r) => r.name).join('+')}`;
      this.spuriousBy.set(key, (this.spuriousBy.get(key) ?? 0) + 1);
    }
  }

  looked(rings: readonly ObservedRing[]): void {
    for (const r of rings) this.look(r);
  }

  request(r: ObservedRing, id: string): void {
    const s = this.state(r);
    if (s.outstanding.has(id)) {
      this.violation(r, s, `request id ${id} reused while a request with that id is unanswered; at ${guestTime(this.now())}`);
      return;
    }
    s.outstanding.add(id);
  }

  response(r: ObservedRing, id: string): void {
    this.rings.get(r)?.outstanding.delete(id);
  }

  disconnected(rings: readonly ObservedRing[]): void {
    for (const r of rings) {
      this.final(r);
      const s = this.rings.get(r);
      if (s !== undefined) s.last = undefined;
    }
  }

  /** The end of a boot: every ring still connected is read once more, then let go (a restart's boot has rings of its own). */
  ended(): void {
    for (const [r, s] of [...this.rings.entries()]) {
      this.final(r);
      s.last = undefined;
    }
  }

  result(): { readonly used: boolean; readonly violations: readonly string[]; readonly note: string } {
    const dropped = [...this.rings.entries()].filter(([, s]) => s.dropped > 0).map(([r, s]) => `d${s.domid} ${r.name}: ${s.dropped} more`);
    const used = [...this.rings.values()].some((s) => s.used);
    const by = [...this.spuriousBy.entries()].map(([k, n]) => `${k} ${n}`).join(', ');
    const note = `${this.notifications} notification${this.notifications === 1 ? '' : 's'}, ${this.spurious} spurious (brought nothing new)${by !== '' ? `: ${by}` : ''}`;
    return { used, violations: [...this.violations, ...dropped], note };
  }
}

function attach(w: BootWorld, o: RingObserver | undefined): void {
  w.console.observeRings(o);
  w.store?.observeRings(o);
  for (const v of w.vbds) v.blkback.observeRings(o);
  for (const v of w.vifs) v.backend.netback.observeRings(o);
}

export const ringProtocol: AbiCheck = {
  ...RING_PROTOCOL,
  start() {
    let o: RingProtocolObserver | undefined;
    return {
      attached(w) {
        const now = (): number => w.xen.clock.now();
        if (o === undefined) o = new RingProtocolObserver(w.domain.id, now);
        else o.boot(w.domain.id, now);
        attach(w, o);
      },
      ended(w) {
        o?.ended();
        attach(w, undefined);
      },
      result() {
        if (o === undefined) return { status: 'skip', detail: 'not applicable: the guest never ran with its backends attached' };
        const x = o.result();
        if (x.violations.length > 0) return { status: 'fail', detail: [...x.violations, x.note].join('\n') };
        if (!x.used) return { status: 'skip', detail: 'not applicable: the guest used no shared ring (not even the console)' };
        return { status: 'pass', detail: x.note };
      },
    };
  },
};
