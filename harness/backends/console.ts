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
 */
import type { EventHub } from '../../abi/evtchn/channels.js';
import type { Domain } from '../../abi/hv/domain.js';
import { markPageWritten } from '../../abi/hv/log-dirty.js';
import { View } from '../../abi/layout/view.js';
import { layout } from '../../abi/public/index.js';

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
}

export class ConsoleBackend {
  /** Everything the guest wrote to the ring, in order. */
  private readonly chunks: Uint8Array[] = [];
  private logLength = 0;
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

  constructor(private readonly o: ConsoleBackendOptions) {
    this.idx = View.of(RING, o.page, 0);
    const ec = o.events.get(o.domain.id);
    if (ec === undefined) throw new Error(`domain ${o.domain.id} has no event channels`);
    const hp = ec.hostBind(o.port);
    if (hp < 0) throw new Error(`cannot bind the console port ${o.port} of domain ${o.domain.id}: error ${-hp}`);
    this.hostPort = hp;
    o.events.listen(hp, () => {
      this.notifications++;
      this.drain();
      this.feed();
    });
  }

  /**
   * Queues host input for the `in` ring: as much as fits goes in now (the guest is notified),
   * the rest on the guest's next notifications, in order.
   */
  type(input: Uint8Array): void {
    if (input.length === 0 || this.broken !== undefined) return;
    this.pending.push(input.slice());
    this.pendingLength += input.length;
    this.feed();
  }

  /** Typed bytes still waiting for room in the `in` ring. */
  get pendingInput(): number {
    return this.pendingLength;
  }

  /** Moves queued input into the `in` ring as far as it has room. */
  private feed(): void {
    while (this.pending.length > 0 && this.broken === undefined) {
      const head = this.pending[0] as Uint8Array;
      const n = this.send(head);
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

  /** Drains the out ring now (also called at the end of a run, for output never notified). */
  drain(): number {
    if (this.broken !== undefined) return 0;
    const cons = this.idx.get('out_cons') >>> 0;
    const prod = this.idx.get('out_prod') >>> 0;
    const n = (prod - cons) >>> 0;
    if (n === 0) return 0;
    if (n > OUT_SIZE) {
      this.broken = `console ring of domain ${this.o.domain.id} broken: out_prod ${prod} is ${n} bytes past out_cons ${cons} (ring is ${OUT_SIZE}); console disconnected`;
      return 0;
    }
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = this.o.page.getUint8(OFF_OUT + ((cons + i) & (OUT_SIZE - 1)));
    this.idx.set('out_cons', prod);
    markPageWritten(this.o.domain, this.o.page);
    this.chunks.push(bytes);
    this.logLength += n;
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
