/**
 * The console backend: the host side of a PV domain's console ring (io/console.h), doing what
 * xenconsoled does for a domU.
 *
 *  - It binds a host port to the guest's console event channel (start_info console.domU.evtchn)
 *    and, on every notification, drains the `out` ring: the bytes between out_cons and out_prod
 *    go to `output` and to the domain's console log, out_cons catches up, and the guest is
 *    notified back, so a guest waiting for space (or for the ring to empty) proceeds.
 *  - `send` puts host input into the `in` ring (as far as it has room) and notifies the guest.
 *    `type` queues input of any length: what fits goes in now, the rest whenever the guest
 *    notifies (it does after taking input, as Linux's hvc_xen does), as xenconsoled reads the
 *    terminal only while the ring has room and writes what it read, then notifies.
 *  - The ring page is guest memory and hostile: indices further apart than the ring is long
 *    disconnect the console with a diagnostic (xenconsoled drops such a ring too); nothing
 *    outside the page is ever read or written.
 *
 * Deterministic: draining happens inside the guest's EVTCHNOP_send, at the same instruction on
 * every run.
 *
 * A hostile run (harness/hostile/console.ts) passes `faults`: the hook decides, by the number of
 * the notification, drain or feed (what the backend sees, never host time), how many bytes a
 * drain takes or a feed puts, whether servicing waits some guest ns (the domain's deferred work,
 * abi/time/timers.ts `defer`), and which extra notifications the guest gets. Bytes a short drain
 * or feed left are taken or put at the guest's next notification or `retryNs` later, whichever
 * comes first. Without `faults` nothing of this runs.
 */
import type { EventHub } from '../../abi/evtchn/channels.js';
import type { Domain } from '../../abi/hv/domain.js';
import { markPageWritten } from '../../abi/hv/log-dirty.js';
import { View } from '../../abi/layout/view.js';
import { layout } from '../../abi/public/index.js';
import type { ObservedRing, RingObserver } from './ring-observer.js';

const RING = layout('xencons_interface', 'x86_64');
const IN_SIZE = 1024;
const OUT_SIZE = 2048;
const OFF_IN = RING.field('in').offset;
const OFF_OUT = RING.field('out').offset;

export interface ConsoleBackendOptions {
  /** The machine's event channels (`Xen.events`). */
  readonly events: EventHub;
  readonly domain: Domain;
  /** The console page: a view over its machine frame. */
  readonly page: DataView;
  /** The guest's console event channel (unbound, remote domain 0). */
  readonly port: number;
  /** Where drained bytes go, besides the log (e.g. stdout). */
  readonly output?: (bytes: Uint8Array) => void;
  /** A hostile backend's faults (harness/hostile/console.ts); none: the plain backend. */
  readonly faults?: ConsoleFaultHook;
}

/**
 * What a hostile console backend does differently, asked by number (from 0) of the guest's
 * notification, of the drain of the `out` ring, of the feed of the `in` ring.
 */
export interface ConsoleFaultHook {
  /** Guest ns before notification `n` is serviced (0: at once), and extra notifications sent to the guest right after it. */
  notification(n: number): { readonly delayNs: number; readonly spurious: number };
  /** The most bytes drain `n` takes from the `out` ring (at least 1). */
  drainLimit(n: number): number;
  /** The most bytes feed `n` puts in the `in` ring (at least 1), and guest ns it waits before it does. */
  feed(n: number): { readonly delayNs: number; readonly limit: number };
  /** Test-only corruption (a broken backend the oracle must catch): what drain `n` passes on for `bytes`. */
  received?(n: number, bytes: Uint8Array): Uint8Array;
  /** Guest ns after which bytes a short drain or feed left are taken or put. */
  readonly retryNs: number;
}

export class ConsoleBackend {
  /** Everything the guest wrote to the ring, in order. */
  private readonly chunks: Uint8Array[] = [];
  private logLength = 0;
  /** Sees the guest's notifications (conformance/checks/rings.ts); none: no cost. */
  private ringObserver: RingObserver | undefined = undefined;
  /** The out ring (out_prod against out_cons) and the guest's in_cons, as a RingObserver sees them. */
  readonly observedRings: readonly ObservedRing[] = [
    { name: 'console out', size: OUT_SIZE, indexNames: ['out_prod', 'out_cons'], direction: 'producer', notify: 'always', read: () => ({ prod: this.idx.get('out_prod'), limit: this.idx.get('out_cons') }) },
    { name: 'console in', size: IN_SIZE, indexNames: ['in_cons', 'in_prod'], direction: 'consumer', notify: 'never', read: () => ({ prod: this.idx.get('in_cons'), limit: this.idx.get('in_prod') }) },
  ];
  /** Set when the guest broke the ring; the backend no longer services it. */
  broken: string | undefined = undefined;
  /** The host port bound to the guest's console port. */
  readonly hostPort: number;
  /** Notifications from the guest, and drains that found bytes (for reports). */
  notifications = 0;
  private readonly idx;
  /** Typed input the in ring had no room for yet, oldest first. */
  private readonly pending: Uint8Array[] = [];
  private pendingLength = 0;
  /** Hostile runs: drains and feeds so far, and deferred services already scheduled. */
  private drains = 0;
  private feeds = 0;
  private drainScheduled = false;
  private feedScheduled = false;
  /** A scheduled drain or feed is a delay (the guest's notifications wait for it), not a retry. */
  private drainDelayed = false;
  private feedDelayed = false;

  constructor(private readonly o: ConsoleBackendOptions) {
    this.idx = View.of(RING, o.page, 0);
    const ec = o.events.get(o.domain.id);
    if (ec === undefined) throw new Error(`domain ${o.domain.id} has no event channels`);
    const hp = ec.hostBind(o.port);
    if (hp < 0) throw new Error(`cannot bind the console port ${o.port} of domain ${o.domain.id}: error ${-hp}`);
    this.hostPort = hp;
    const f = o.faults;
    if (f === undefined) {
      o.events.listen(hp, () => {
        this.notifications++;
        this.ringObserver?.notified(this.observedRings);
        this.drain();
        this.feed();
      });
    } else {
      o.events.listen(hp, () => {
        this.ringObserver?.notified(this.observedRings);
        this.hostileNotification(f);
      });
    }
  }

  /** Sets (or, undefined, removes) the ring observer; the rings are connected from the start. */
  observeRings(o: RingObserver | undefined): void {
    this.ringObserver = o;
    o?.connected(this.observedRings);
  }

  /** A notification under `faults`: serviced now or later, spurious notifications back. */
  private hostileNotification(f: ConsoleFaultHook): void {
    const { delayNs, spurious } = f.notification(this.notifications++);
    if (delayNs > 0) this.later(delayNs, 'drain', true);
    else if (!this.drainDelayed) this.shortDrain(f);
    if (!this.feedDelayed) this.hostileFeed(f);
    for (let i = 0; i < spurious && this.broken === undefined; i++) this.notify();
  }

  /** Runs a drain or a feed `ns` guest ns from now (once: one already scheduled stands); `delay`: notifications wait for it. */
  private later(ns: number, what: 'drain' | 'feed', delay = false): void {
    const f = this.o.faults;
    const t = this.o.domain.time;
    if (f === undefined) return;
    if (what === 'drain' ? this.drainScheduled : this.feedScheduled) return;
    if (t === undefined) {
      if (what === 'drain') this.shortDrain(f);
      else this.hostileFeed(f, true);
      return;
    }
    if (what === 'drain') {
      this.drainScheduled = true;
      this.drainDelayed = delay;
    } else {
      this.feedScheduled = true;
      this.feedDelayed = delay;
    }
    t.defer(t.clock.now() + ns, () => {
      if (what === 'drain') {
        this.drainScheduled = false;
        this.drainDelayed = false;
        this.shortDrain(f);
      } else {
        this.feedScheduled = false;
        this.feedDelayed = false;
        this.hostileFeed(f, true);
      }
    });
  }

  /** One drain under `faults`: at most the hook's limit; what is left is taken `retryNs` later. */
  private shortDrain(f: ConsoleFaultHook): void {
    if (this.broken !== undefined || this.outUsed() === 0) return;
    const n = this.drains++;
    this.take(Math.max(1, f.drainLimit(n)), n);
    if (this.broken === undefined && this.outUsed() > 0) this.later(f.retryNs, 'drain');
  }

  /** One feed under `faults`; `due` when a delay already passed. */
  private hostileFeed(f: ConsoleFaultHook, due = false): void {
    if (this.pending.length === 0 || this.broken !== undefined) return;
    const { delayNs, limit } = f.feed(this.feeds);
    if (delayNs > 0 && !due) {
      this.later(delayNs, 'feed', true);
      return;
    }
    this.feeds++;
    this.feedUpTo(Math.max(1, limit));
    if (this.pending.length > 0) this.later(f.retryNs, 'feed');
  }

  private outUsed(): number {
    return (this.idx.get('out_prod') - this.idx.get('out_cons')) >>> 0;
  }

  /**
   * Queues host input for the `in` ring: as much as fits goes in now (the guest is notified),
   * the rest on the guest's next notifications, in order.
   */
  type(input: Uint8Array): void {
    if (input.length === 0 || this.broken !== undefined) return;
    this.pending.push(input.slice());
    this.pendingLength += input.length;
    if (this.o.faults !== undefined) {
      if (!this.feedDelayed) this.hostileFeed(this.o.faults);
    } else {
      this.feed();
    }
  }

  /** Typed bytes still waiting for room in the `in` ring. */
  get pendingInput(): number {
    return this.pendingLength;
  }

  /** Moves queued input into the `in` ring as far as it has room. */
  private feed(): void {
    this.feedUpTo(Infinity);
  }

  /** Moves at most `max` bytes of queued input into the `in` ring, as far as it has room. */
  private feedUpTo(max: number): void {
    let budget = max;
    while (this.pending.length > 0 && this.broken === undefined && budget > 0) {
      const head = this.pending[0] as Uint8Array;
      const n = this.send(budget >= head.length ? head : head.subarray(0, budget));
      budget -= n;
      if (n === 0) break;
      this.pendingLength -= n;
      if (n === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(n);
    }
    if (this.broken !== undefined) {
      this.pending.length = 0;
      this.pendingLength = 0;
    }
  }

  /** Drains the out ring now, all of it (also called at the end of a run, for output never notified). */
  drain(): number {
    return this.take(Infinity, undefined);
  }

  /** Takes at most `max` bytes from the out ring; `n` is the hostile drain's number. */
  private take(max: number, drainNo: number | undefined): number {
    if (this.broken !== undefined) return 0;
    const cons = this.idx.get('out_cons') >>> 0;
    const prod = this.idx.get('out_prod') >>> 0;
    const used = (prod - cons) >>> 0;
    if (used === 0) return 0;
    if (used > OUT_SIZE) {
      this.broken = `console ring of domain ${this.o.domain.id} broken: out_prod ${prod} is ${used} bytes past out_cons ${cons} (ring is ${OUT_SIZE}); console disconnected`;
      return 0;
    }
    const n = Math.min(used, max);
    let bytes: Uint8Array = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = this.o.page.getUint8(OFF_OUT + ((cons + i) & (OUT_SIZE - 1)));
    this.idx.set('out_cons', (cons + n) >>> 0);
    markPageWritten(this.o.domain, this.o.page);
    const mangle = this.o.faults?.received;
    if (mangle !== undefined && drainNo !== undefined) bytes = mangle(drainNo, bytes);
    this.chunks.push(bytes);
    this.logLength += bytes.length;
    this.o.output?.(bytes);
    this.notify();
    return n;
  }

  /** Puts as much of `input` into the in ring as fits; returns how many bytes went in. */
  send(input: Uint8Array): number {
    if (this.broken !== undefined) return 0;
    const cons = this.idx.get('in_cons') >>> 0;
    const prod = this.idx.get('in_prod') >>> 0;
    const used = (prod - cons) >>> 0;
    if (used > IN_SIZE) {
      this.broken = `console ring of domain ${this.o.domain.id} broken: in_cons ${cons} is ${used} bytes behind in_prod ${prod} (ring is ${IN_SIZE}); console disconnected`;
      return 0;
    }
    const n = Math.min(IN_SIZE - used, input.length);
    for (let i = 0; i < n; i++) this.o.page.setUint8(OFF_IN + ((prod + i) & (IN_SIZE - 1)), input[i]!);
    if (n > 0) {
      this.idx.set('in_prod', (prod + n) >>> 0);
      markPageWritten(this.o.domain, this.o.page);
      this.notify();
    }
    return n;
  }

  /** The console log so far. */
  log(): Uint8Array {
    const out = new Uint8Array(this.logLength);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  /** The console log as text (UTF-8, invalid bytes replaced). */
  text(): string {
    return new TextDecoder().decode(this.log());
  }

  private notify(): void {
    this.o.events.host.send(this.hostPort);
  }
}
