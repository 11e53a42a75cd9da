/**
 * A domain's XenStore ring as xenstored's transport (io/xs_wire.h `struct xenstore_domain_interface`,
 * docs/misc/xenstore-ring.txt; xenstored_domain.c readchn/writechn).
 *
 * The page holds a 1 KiB request ring (guest → xenstored) and a 1 KiB response ring, with
 * free-running u32 indices; byte i lives at `ring[i & 1023]`. xenstored consumes requests from
 * req_cons up to req_prod and produces replies and watch events at rsp_prod while
 * `rsp_prod - rsp_cons` is below 1024. Indices are read once per access and checked: producer
 * and consumer further apart than the ring means the guest corrupted it — the connection is
 * dropped (`error` = XENSTORE_ERROR_RINGIDX in the page, which the 4.17 header has) with a
 * diagnostic, and other domains carry on. C xenstored 4.17 advertises no `server_features`, so
 * the field is left as the builder made it (0).
 *
 * The guest notifies on the store event channel (start_info store_evtchn) after producing; the
 * daemon then runs inside that EVTCHNOP_send — deterministic, at the same instruction every run —
 * and notifies the guest back once per service pass that moved bytes.
 *
 * A hostile run (harness/hostile/xenstore.ts) passes `faults`: by the number of the guest's
 * notification the daemon's service may wait some guest ns (the domain's deferred work,
 * abi/time/timers.ts `defer`; notifications meanwhile wait for the same service), and the hook
 * may cap a write to the response ring, after which the ring reports no room until the hook's
 * pause has passed — a reply or event then reaches the guest over several ring updates, each
 * with its notification, as a busy xenstored's partial writes do. Without `faults` nothing of
 * this runs.
 */
import type { EventHub } from '../../abi/evtchn/channels.js';
import type { Domain } from '../../abi/hv/domain.js';
import { markPageWritten } from '../../abi/hv/log-dirty.js';
import { layout } from '../../abi/public/index.js';
import { XENSTORE_RING_SIZE } from '../../abi/public/io/xs-wire.js';
import type { ObservedRing, RingObserver } from '../backends/ring-observer.js';
import type { Transport } from './xenstored.js';

const RING = layout('xenstore_domain_interface', 'x86_64');
const OFF_REQ = RING.field('req').offset;
const OFF_RSP = RING.field('rsp').offset;
const OFF_REQ_CONS = RING.field('req_cons').offset;
const OFF_REQ_PROD = RING.field('req_prod').offset;
const OFF_RSP_CONS = RING.field('rsp_cons').offset;
const OFF_RSP_PROD = RING.field('rsp_prod').offset;
const OFF_ERROR = RING.field('error').offset;
const MASK = XENSTORE_RING_SIZE - 1;

export interface XenStoreRingOptions {
  /** The machine's event channels (`Xen.events`). */
  readonly events: EventHub;
  readonly domain: Domain;
  /** The XenStore page: a view over its machine frame. */
  readonly page: DataView;
  /** The guest's store event channel (unbound, remote domain 0). */
  readonly port: number;
  /** Runs the daemon (XenStore.pump) when the guest notifies. */
  readonly service: () => void;
  /** A hostile xenstored's transport faults (harness/hostile/xenstore.ts); none: the plain ring. */
  readonly faults?: XenStoreRingFaultHook;
}

/** What a hostile ring does differently (numbers count from 0). */
export interface XenStoreRingFaultHook {
  /** Guest ns before the daemon serves notification `n` (0: at once). */
  notification(n: number): number;
  /**
   * Before a write of `b` (the rest of a queued message): the most bytes that go in now, and if
   * that is fewer than `b.length`, guest ns before the ring takes more.
   */
  write(b: Uint8Array): { readonly limit: number; readonly pauseNs: number };
  /** `n` bytes of `b` went into the ring. */
  wrote(b: Uint8Array, n: number): void;
}

export class XenStoreRing implements Transport {
  /** The host port bound to the guest's store port. */
  readonly hostPort: number;
  /** Set when the connection was dropped (bad indices, protocol violation). */
  broken: string | undefined = undefined;
  /** Notifications from the guest. */
  notifications = 0;
  /** Sees the guest's notifications (conformance/checks/rings.ts); none: no cost. */
  private ringObserver: RingObserver | undefined = undefined;
  /** The request ring (req_prod against req_cons) and the guest's rsp_cons, as a RingObserver sees them. */
  readonly observedRings: readonly ObservedRing[] = [
    { name: 'xenstore req', size: XENSTORE_RING_SIZE, indexNames: ['req_prod', 'req_cons'], direction: 'producer', notify: 'always', read: () => ({ prod: this.u32(OFF_REQ_PROD), limit: this.u32(OFF_REQ_CONS) }) },
    { name: 'xenstore rsp', size: XENSTORE_RING_SIZE, indexNames: ['rsp_cons', 'rsp_prod'], direction: 'consumer', notify: 'never', read: () => ({ prod: this.u32(OFF_RSP_CONS), limit: this.u32(OFF_RSP_PROD) }) },
  ];
  /** Bytes moved each way. */
  bytesIn = 0;
  bytesOut = 0;
  /** Hostile runs: a deferred service is scheduled; writes are paused. */
  private serviceScheduled = false;
  private paused = false;

  constructor(private readonly o: XenStoreRingOptions) {
    const ec = o.events.get(o.domain.id);
    if (ec === undefined) throw new Error(`domain ${o.domain.id} has no event channels`);
    const hp = ec.hostBind(o.port);
    if (hp < 0) throw new Error(`cannot bind the XenStore port ${o.port} of domain ${o.domain.id}: error ${-hp}`);
    this.hostPort = hp;
    const f = o.faults;
    o.events.listen(hp, () => {
      const n = this.notifications++;
      this.ringObserver?.notified(this.observedRings);
      if (f === undefined) {
        o.service();
        return;
      }
      const delay = f.notification(n);
      if (this.serviceScheduled) return;
      if (delay > 0) this.later(delay);
      else o.service();
    });
  }

  /** Serves `ns` guest ns from now (one deferred service at a time). */
  private later(ns: number): void {
    const t = this.o.domain.time;
    if (t === undefined) {
      this.o.service();
      return;
    }
    this.serviceScheduled = true;
    t.defer(t.clock.now() + ns, () => {
      this.serviceScheduled = false;
      if (this.broken === undefined) this.o.service();
    });
  }

  /** Sets (or, undefined, removes) the ring observer; the ring is connected from the start. */
  observeRings(o: RingObserver | undefined): void {
    this.ringObserver = o;
    o?.connected(this.observedRings);
  }

  private u32(off: number): number {
    return this.o.page.getUint32(off, true);
  }

  /** Every write to the ring ends with an index or error update here: the page is marked dirty once. */
  private setU32(off: number, v: number): void {
    this.o.page.setUint32(off, v >>> 0, true);
    markPageWritten(this.o.domain, this.o.page);
  }

  hasInput(): boolean {
    return this.u32(OFF_REQ_CONS) !== this.u32(OFF_REQ_PROD);
  }

  read(max: number): Uint8Array | 'broken' {
    const cons = this.u32(OFF_REQ_CONS);
    const prod = this.u32(OFF_REQ_PROD);
    const used = (prod - cons) >>> 0;
    if (used > XENSTORE_RING_SIZE) return 'broken';
    const n = Math.min(max, used, XENSTORE_RING_SIZE - (cons & MASK));
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.o.page.getUint8(OFF_REQ + ((cons + i) & MASK));
    if (n > 0) this.setU32(OFF_REQ_CONS, cons + n);
    this.bytesIn += n;
    return out;
  }

  canWrite(): boolean {
    if (this.paused) return false;
    return ((this.u32(OFF_RSP_PROD) - this.u32(OFF_RSP_CONS)) >>> 0) !== XENSTORE_RING_SIZE;
  }

  write(b: Uint8Array): number | 'broken' {
    const cons = this.u32(OFF_RSP_CONS);
    const prod = this.u32(OFF_RSP_PROD);
    const used = (prod - cons) >>> 0;
    if (used > XENSTORE_RING_SIZE) return 'broken';
    let n = Math.min(b.length, XENSTORE_RING_SIZE - used, XENSTORE_RING_SIZE - (prod & MASK));
    const f = this.o.faults;
    if (f !== undefined && !this.paused) {
      const { limit, pauseNs } = f.write(b);
      if (limit < n) {
        n = Math.max(1, limit);
        this.paused = true;
        const t = this.o.domain.time;
        if (t === undefined) this.paused = false;
        else t.defer(t.clock.now() + Math.max(1, pauseNs), () => {
          this.paused = false;
          if (this.broken === undefined) this.o.service();
        });
      }
    }
    for (let i = 0; i < n; i++) this.o.page.setUint8(OFF_RSP + ((prod + i) & MASK), b[i] as number);
    if (n > 0) this.setU32(OFF_RSP_PROD, prod + n);
    this.bytesOut += n;
    if (n > 0) f?.wrote(b, n);
    return n;
  }

  flush(): void {
    if (this.broken === undefined) this.o.events.host.send(this.hostPort);
  }

  dropped(error: number, reason: string): void {
    this.broken = reason;
    this.setU32(OFF_ERROR, error);
    this.o.events.host.send(this.hostPort);
  }

  reset(): void {
    this.setU32(OFF_REQ_CONS, 0);
    this.setU32(OFF_REQ_PROD, 0);
    this.setU32(OFF_RSP_CONS, 0);
    this.setU32(OFF_RSP_PROD, 0);
  }
}
