/**
 * netback: the host side of a PV network device (io/netif.h), single queue, rx-copy only.
 *
 * Both rings are mapped from the frontend's grants with the host grant API
 * (`GrantHub.mapForHost`); each data page is mapped for the one copy it takes (read-only for a
 * transmit slot, writable for a receive slot) and unmapped at once. The event channel (one, or
 * a tx and an rx port when the frontend split them) is a host port bound to the frontend's
 * unbound port; the frontend's EVTCHNOP_send runs the rings synchronously, so a guest sends and
 * receives the same frames at the same instruction on every run.
 *
 * Transmit (netif.h "Transmit"): a packet is a first request (its `size` is the whole packet's),
 * optional extra-info slots (NETTXF_extra_info, chained by XEN_NETIF_EXTRA_FLAG_MORE; each
 * answered NETIF_RSP_NULL), then fragments while NETTXF_more_data. NETTXF_csum_blank and
 * NETTXF_data_validated are passed with the frame to the network. Each slot gets one response,
 * in request order.
 *
 * Receive: frames wait in a bounded queue until the frontend posts enough rx requests (one page
 * each; several only with feature-sg); the frame is copied into the granted pages at offset 0,
 * the first response carries NETRXF_data_validated/NETRXF_csum_blank from the sender, every
 * response but the last NETRXF_more_data. A frame that finds the queue full is dropped (counted).
 *
 * Guest input is hostile; what goes wrong is answered, never thrown:
 *  - a packet whose slots do not fit the limits (more than XEN_NETIF_NR_SLOTS_MIN slots, a
 *    fragment past its page, fragments summing past the first size, a first size below an
 *    Ethernet header or above the frame limit), an unknown or malformed extra-info slot, or a
 *    grant that does not map: every slot of the packet answered NETIF_RSP_ERROR, nothing sent;
 *  - a packet whose slots run past req_prod (more_data on the last published slot), or a
 *    req_prod further ahead than the ring is long: the tx ring is halted with a diagnostic
 *    (Linux's "fatal error"), nothing more is serviced until reconnection;
 *  - an rx request whose grant does not map: that frame's responses are NETIF_RSP_ERROR.
 *
 * Hostile runs (harness/hostile/net.ts) pass `hooks`: each tx packet's number (0-based over the
 * backend's life) is offered to `txPacket`, which may have it answered with an error status and
 * not sent; each packet's tx responses go through `txResponse`, which may publish them later, with
 * others or in another order; each frame for the guest goes through `rxFrame`, which may deliver
 * it later, twice, or marked to fail (an error status, a failed grant copy). Without hooks nothing
 * of this runs.
 */
import type { EventHub } from '../../abi/evtchn/channels.js';
import type { GrantHub, HostMapping } from '../../abi/gnttab/grants.js';
import { GNTST_okay } from '../../abi/public/grant-table.js';
import { layout } from '../../abi/public/index.js';
import {
  NETIF_RSP_DROPPED,
  NETIF_RSP_ERROR,
  NETIF_RSP_NULL,
  NETIF_RSP_OKAY,
  NETRXF_csum_blank,
  NETRXF_data_validated,
  NETRXF_more_data,
  NETTXF_csum_blank,
  NETTXF_data_validated,
  NETTXF_extra_info,
  NETTXF_more_data,
  XEN_NETIF_EXTRA_FLAG_MORE,
  XEN_NETIF_EXTRA_TYPE_GSO,
  XEN_NETIF_EXTRA_TYPE_HASH,
  XEN_NETIF_EXTRA_TYPE_MAX,
  XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
  XEN_NETIF_EXTRA_TYPE_MCAST_DEL,
  XEN_NETIF_EXTRA_TYPE_NONE,
  XEN_NETIF_GSO_TYPE_NONE,
  XEN_NETIF_GSO_TYPE_TCPV4,
  XEN_NETIF_GSO_TYPE_TCPV6,
  XEN_NETIF_MAX_TX_SIZE,
  XEN_NETIF_NR_SLOTS_MIN,
} from '../../abi/public/io/netif.js';
import { BackRing, PagedBytes } from './ring.js';
import { ioRing, type ObservedRing, type RingObserver } from './ring-observer.js';

const PAGE = 4096;
export const ETH_HLEN = 14;
/** Frames queued for a frontend that has posted no rx buffers yet. */
export const RX_QUEUE_MAX = 256;
const MAX_DIAGNOSTICS = 64;

/** A frame on the virtual network, with the checksum state its sender declared. */
export interface NetFrame {
  readonly data: Uint8Array;
  /** The checksum is not filled in (NETTXF_csum_blank / NETRXF_csum_blank). */
  readonly csumBlank?: boolean;
  /** The checksum is known good (NETTXF_data_validated / NETRXF_data_validated). */
  readonly dataValidated?: boolean;
  /** The GSO extra-info the sender attached (segment size and XEN_NETIF_GSO_TYPE_*). */
  readonly gso?: { readonly size: number; readonly type: number };
}

/** How a hostile run makes one rx frame fail. */
export type RxFault = 'error' | 'copy-fail';

/** Fault hooks of a hostile run (harness/hostile/net.ts); absent, the backend answers at once. */
export interface NetbackHooks {
  /** The n-th tx packet: a NETIF_RSP_* status to answer its slots with instead of sending it. */
  txPacket(n: number): number | undefined;
  /**
   * The n-th tx packet's responses are ready: false publishes them now; true when the hook took
   * them and will call `publish` (one push, one notify; nothing once the connection is gone).
   */
  txResponse(n: number, rsps: readonly Uint8Array[], publish: (rsps: readonly Uint8Array[]) => void): boolean;
  /**
   * The n-th frame for the guest: false queues it now; true when the hook took it and will call
   * `deliver` (now or later, once or more, with a fault or none).
   */
  rxFrame(n: number, frame: NetFrame, deliver: (frame: NetFrame, fault?: RxFault) => void): boolean;
}

export interface NetbackOptions {
  readonly events: EventHub;
  readonly grants: GrantHub;
  /** The frontend's domain. */
  readonly frontend: number;
  readonly devid?: number;
  /** Frames the frontend transmits (to the switch). */
  readonly transmit?: (frame: NetFrame) => void;
  /** The largest frame accepted without GSO (default 65535, XEN_NETIF_MAX_TX_SIZE). */
  readonly maxFrame?: number;
  readonly log?: (line: string) => void;
  /** A hostile run's fault hooks. */
  readonly hooks?: NetbackHooks;
}

/** What the frontend published (tx-ring-ref, rx-ring-ref, event-channel[-tx/-rx], request-rx-copy, feature-sg). */
export interface NetifConnection {
  readonly txRingRef: number;
  readonly rxRingRef: number;
  /** event-channel, or event-channel-tx with `rxPort`. */
  readonly port: number;
  readonly rxPort?: number;
  readonly requestRxCopy: boolean;
  readonly sg?: boolean;
  readonly rxNotify?: boolean;
}

export interface NetbackStats {
  txPackets: number;
  txBytes: number;
  txErrors: number;
  rxPackets: number;
  rxBytes: number;
  rxErrors: number;
  /** Frames dropped for want of rx buffers (queue full). */
  rxDropped: number;
  kicks: number;
  notifies: number;
}

/** Byte offsets from the layouts (identical on both ABIs: netif has no longs). */
const TXQ = layout('netif_tx_request', 'x86_64');
const TXR = layout('netif_tx_response', 'x86_64');
const EXTRA = layout('netif_extra_info', 'x86_64');
const RXQ = layout('netif_rx_request', 'x86_64');
const RXR = layout('netif_rx_response', 'x86_64');
const TX_SLOT = layout('netif_tx_sring_entry', 'x86_64').size;
const RX_SLOT = layout('netif_rx_sring_entry', 'x86_64').size;
const O = {
  txGref: TXQ.field('gref').offset,
  txOffset: TXQ.field('offset').offset,
  txFlags: TXQ.field('flags').offset,
  txId: TXQ.field('id').offset,
  txSize: TXQ.field('size').offset,
  txrId: TXR.field('id').offset,
  txrStatus: TXR.field('status').offset,
  exType: EXTRA.field('type').offset,
  exFlags: EXTRA.field('flags').offset,
  exU: EXTRA.field('u').offset,
  rxId: RXQ.field('id').offset,
  rxGref: RXQ.field('gref').offset,
  rxrId: RXR.field('id').offset,
  rxrOffset: RXR.field('offset').offset,
  rxrFlags: RXR.field('flags').offset,
  rxrStatus: RXR.field('status').offset,
};

interface TxSlot {
  readonly gref: number;
  readonly offset: number;
  readonly flags: number;
  readonly id: number;
  readonly size: number;
}

interface Connected {
  readonly tx: BackRing;
  readonly rx: BackRing;
  readonly maps: readonly HostMapping[];
  readonly ports: readonly number[];
  readonly txPort: number;
  readonly rxPort: number;
  readonly sg: boolean;
  /** The tx and rx rings as a RingObserver sees them. */
  readonly observed: readonly [ObservedRing, ObservedRing];
}

export class Netback {
  /** Set when the frontend broke the tx ring; nothing more is transmitted until it reconnects. */
  broken: string | undefined = undefined;
  readonly diagnostics: string[] = [];
  droppedDiagnostics = 0;
  readonly stats: NetbackStats = { txPackets: 0, txBytes: 0, txErrors: 0, rxPackets: 0, rxBytes: 0, rxErrors: 0, rxDropped: 0, kicks: 0, notifies: 0 };
  private conn: Connected | undefined = undefined;
  /** Sees notifications and looks at the rings (conformance/checks/rings.ts); none: no cost. */
  private ringObserver: RingObserver | undefined = undefined;
  private readonly rxQueue: NetFrame[] = [];
  private running = false;
  private again = false;
  /** Hostile runs: tx packets and rx frames so far, and the rx frames marked to fail. */
  private txCount = 0;
  private rxCount = 0;
  private readonly rxFaults = new Map<NetFrame, RxFault>();
  readonly maxFrame: number;

  constructor(private readonly o: NetbackOptions) {
    this.maxFrame = Math.min(o.maxFrame ?? XEN_NETIF_MAX_TX_SIZE, XEN_NETIF_MAX_TX_SIZE);
  }

  get connected(): boolean {
    return this.conn !== undefined;
  }

  /** Sets (or, undefined, removes) the ring observer; rings already connected are reported to it at once. */
  observeRings(o: RingObserver | undefined): void {
    this.ringObserver = o;
    if (o !== undefined && this.conn !== undefined) o.connected(this.conn.observed);
  }

  /** Frames waiting for rx buffers. */
  get rxQueued(): number {
    return this.rxQueue.length;
  }

  private diag(line: string): void {
    const full = `vif ${this.o.frontend}/${this.o.devid ?? 0}: ${line}`;
    this.o.log?.(full);
    if (this.diagnostics.length < MAX_DIAGNOSTICS) this.diagnostics.push(full);
    else this.droppedDiagnostics++;
  }

  /** Maps both rings and binds the event channel(s). Undefined on success, else the reason (nothing left mapped). */
  connect(c: NetifConnection): string | undefined {
    if (this.conn !== undefined) return 'already connected';
    if (!c.requestRxCopy) return this.fail('frontend does not request-rx-copy (rx-flip is not supported)');
    const maps: HostMapping[] = [];
    const ports: number[] = [];
    const undo = (why: string): string => {
      for (const m of maps) this.o.grants.unmapForHost(m.handle);
      for (const p of ports) this.o.events.host.close(p);
      return this.fail(why);
    };
    for (const [name, ref] of [['tx-ring-ref', c.txRingRef], ['rx-ring-ref', c.rxRingRef]] as const) {
      if (!(Number.isInteger(ref) && ref >= 0 && ref <= 0xffffffff)) return undo(`${name} ${ref} is not a grant reference`);
      const m = this.o.grants.mapForHost(this.o.frontend, ref, false);
      if (typeof m === 'number') return undo(`mapping ${name} ${ref} of domain ${this.o.frontend} failed: GNTST ${m}`);
      maps.push(m);
    }
    const ec = this.o.events.get(this.o.frontend);
    if (ec === undefined) return undo(`domain ${this.o.frontend} has no event channels`);
    for (const p of c.rxPort === undefined ? [c.port] : [c.port, c.rxPort]) {
      const hp = ec.hostBind(p);
      if (hp < 0) return undo(`binding event-channel ${p} of domain ${this.o.frontend} failed: error ${-hp}`);
      ports.push(hp);
    }
    const txPort = ports[0] as number;
    const rxPort = ports[1] ?? txPort;
    const tx = new BackRing(new PagedBytes([(maps[0] as HostMapping).view]), TX_SLOT);
    const rx = new BackRing(new PagedBytes([(maps[1] as HostMapping).view]), RX_SLOT);
    const conn: Connected = {
      tx,
      rx,
      maps,
      ports,
      txPort,
      rxPort,
      sg: c.sg === true,
      observed: [ioRing(`vif ${this.o.devid ?? 0} tx`, tx.size, tx.bytes), ioRing(`vif ${this.o.devid ?? 0} rx`, rx.size, rx.bytes)],
    };
    this.conn = conn;
    this.broken = undefined;
    this.ringObserver?.connected(conn.observed);
    for (const p of ports) {
      this.o.events.listen(p, () => {
        this.stats.kicks++;
        // One channel: both rings; split: the tx port for tx, the rx port for rx.
        this.ringObserver?.notified(txPort === rxPort ? conn.observed : [conn.observed[p === txPort ? 0 : 1]]);
        this.kick();
      });
    }
    this.kick();
    return undefined;
  }

  private fail(why: string): string {
    this.diag(why);
    return why;
  }

  /** Unbinds and unmaps; queued rx frames are dropped. Safe when not connected. */
  disconnect(): void {
    const c = this.conn;
    if (c === undefined) return;
    this.ringObserver?.disconnected(c.observed);
    this.conn = undefined;
    this.rxQueue.length = 0;
    this.rxFaults.clear();
    for (const p of c.ports) {
      this.o.events.listen(p, () => {});
      this.o.events.host.close(p);
    }
    for (const m of c.maps) {
      const st = this.o.grants.unmapForHost(m.handle);
      if (st !== GNTST_okay) throw new Error(`netback: unmapping host grant handle ${m.handle} failed with ${st}`);
    }
  }

  /** A frame from the network for this frontend: queued, then copied as rx buffers allow. */
  deliver(frame: NetFrame): void {
    if (this.conn === undefined) return;
    const hooks = this.o.hooks;
    if (hooks !== undefined && hooks.rxFrame(this.rxCount++, frame, (f, fault) => this.queue(f, fault))) return;
    this.queue(frame, undefined);
  }

  private queue(frame: NetFrame, fault: RxFault | undefined): void {
    if (this.conn === undefined) return;
    if (this.rxQueue.length >= RX_QUEUE_MAX) {
      this.stats.rxDropped++;
      return;
    }
    if (fault !== undefined) {
      // A frame queued twice must not share its mark: the mark goes with a copy.
      const own = { ...frame };
      this.rxFaults.set(own, fault);
      frame = own;
    }
    this.rxQueue.push(frame);
    this.kick();
  }

  /** Services both rings until nothing more can be done (the event handler). */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.ringObserver !== undefined && this.conn !== undefined) this.ringObserver.looked(this.conn.observed);
    this.running = true;
    try {
      do {
        this.again = false;
        this.serviceTx();
        this.serviceRx();
      } while (this.again);
    } finally {
      this.running = false;
    }
  }

  // ---- transmit -------------------------------------------------------------------------------

  private serviceTx(): void {
    for (;;) {
      const c = this.conn;
      if (c === undefined || this.broken !== undefined) return;
      this.consumeTx(c);
      if (this.conn !== c || this.broken !== undefined) return;
      if (!c.tx.finalCheckForRequests()) return;
    }
  }

  private halt(why: string): void {
    this.broken = `${why}: tx ring halted`;
    this.diag(this.broken);
  }

  private readTx(ring: BackRing, idx: number): DataView {
    return new DataView(ring.copyRequest(idx, TX_SLOT).buffer);
  }

  private consumeTx(c: Connected): void {
    const ring = c.tx;
    const rp = ring.requestsAvailable();
    if (rp === undefined) {
      this.halt(`frontend provided bogus tx ring requests (req_prod ${ring.reqProd}, rsp_prod_pvt ${ring.rspProdPvt}, ${ring.size} slots)`);
      return;
    }
    let notify = false;
    while (ring.reqCons !== rp) {
      if (ring.consOverflow(ring.reqCons)) break;
      const avail = (rp - ring.reqCons) >>> 0;
      const r = this.takePacket(ring, avail);
      if (r === undefined) break;
      const rsps = r.map(([id, status]) => {
        const rsp = new Uint8Array(4);
        const dv = new DataView(rsp.buffer);
        dv.setUint16(O.txrId, id, true);
        dv.setInt16(O.txrStatus, status, true);
        return rsp;
      });
      const hooks = this.o.hooks;
      if (hooks !== undefined) {
        const publish = (out: readonly Uint8Array[]): void => {
          if (this.conn !== c || out.length === 0) return;
          for (const x of out) ring.putResponse(x);
          if (ring.pushResponses()) {
            this.stats.notifies++;
            this.o.events.host.send(c.txPort);
          }
        };
        if (!hooks.txResponse(this.txCount - 1, rsps, publish)) publish(rsps);
        continue;
      }
      for (const x of rsps) ring.putResponse(x);
      notify = ring.pushResponses() || notify;
    }
    if (notify) {
      this.stats.notifies++;
      this.o.events.host.send(c.txPort);
    }
  }

  /**
   * One packet: its slots consumed (or none, with the ring halted) and the (id, status) of each
   * slot's response, in slot order.
   */
  private takePacket(ring: BackRing, avail: number): [number, number][] | undefined {
    const start = ring.reqCons;
    const first = this.readTx(ring, start);
    const slots: TxSlot[] = [];
    const responses: [number, number][] = [];
    let used = 1;
    let bad: string | undefined;
    const slotOf = (dv: DataView): TxSlot => ({
      gref: dv.getUint32(O.txGref, true),
      offset: dv.getUint16(O.txOffset, true),
      flags: dv.getUint16(O.txFlags, true),
      id: dv.getUint16(O.txId, true),
      size: dv.getUint16(O.txSize, true),
    });
    const head = slotOf(first);
    slots.push(head);
    responses.push([head.id, NETIF_RSP_OKAY]);
    let gso: NetFrame['gso'];
    // Extra-info slots.
    if (head.flags & NETTXF_extra_info) {
      for (;;) {
        if (used >= avail) {
          this.halt(`packet at tx slot ${start} has extra info past req_prod`);
          return undefined;
        }
        const ex = this.readTx(ring, (start + used) >>> 0);
        used++;
        const type = ex.getUint8(O.exType);
        const flags = ex.getUint8(O.exFlags);
        // The extra slot's response carries the id the request slot would have had in that position.
        responses.push([ex.getUint16(O.txId, true), NETIF_RSP_NULL]);
        if (type === XEN_NETIF_EXTRA_TYPE_NONE || type >= XEN_NETIF_EXTRA_TYPE_MAX) {
          bad ??= `extra info of unknown type ${type}`;
        } else if (type === XEN_NETIF_EXTRA_TYPE_GSO) {
          const size = ex.getUint16(O.exU, true);
          const gtype = ex.getUint8(O.exU + 2);
          if (size === 0 || (gtype !== XEN_NETIF_GSO_TYPE_TCPV4 && gtype !== XEN_NETIF_GSO_TYPE_TCPV6)) bad ??= `bad GSO extra info (size ${size}, type ${gtype})`;
          else gso = { size, type: gtype };
        } else if (type !== XEN_NETIF_EXTRA_TYPE_MCAST_ADD && type !== XEN_NETIF_EXTRA_TYPE_MCAST_DEL && type !== XEN_NETIF_EXTRA_TYPE_HASH) {
          bad ??= `extra info of type ${type}`;
        }
        if (!(flags & XEN_NETIF_EXTRA_FLAG_MORE)) break;
      }
    }
    // Fragments.
    let last = head;
    while (last.flags & NETTXF_more_data) {
      if (used >= avail) {
        this.halt(`packet at tx slot ${start} has fragments past req_prod`);
        return undefined;
      }
      const s = slotOf(this.readTx(ring, (start + used) >>> 0));
      used++;
      slots.push(s);
      responses.push([s.id, NETIF_RSP_OKAY]);
      last = s;
      if (slots.length > XEN_NETIF_NR_SLOTS_MIN + 2) {
        // Linux's fatal_skb_slots: a frontend this far past the limit is broken.
        this.halt(`packet at tx slot ${start} has more than ${XEN_NETIF_NR_SLOTS_MIN + 2} slots`);
        return undefined;
      }
    }
    ring.reqCons = (start + used) >>> 0;
    if (gso !== undefined && gso.type === XEN_NETIF_GSO_TYPE_NONE) gso = undefined;
    const total = head.size;
    const limit = gso !== undefined ? XEN_NETIF_MAX_TX_SIZE : this.maxFrame;
    if (bad === undefined && slots.length > XEN_NETIF_NR_SLOTS_MIN) bad = `${slots.length} slots (at most ${XEN_NETIF_NR_SLOTS_MIN})`;
    if (bad === undefined && (total < ETH_HLEN || total > limit)) bad = `frame of ${total} bytes (${ETH_HLEN}..${limit})`;
    let rest = total;
    const sizes: number[] = [];
    if (bad === undefined) {
      // The first slot's own bytes are the packet size minus the fragments' sizes.
      let frags = 0;
      for (const s of slots.slice(1)) frags += s.size;
      if (frags > total) bad = `fragments of ${frags} bytes exceed the packet size ${total}`;
      else {
        sizes.push(total - frags);
        for (const s of slots.slice(1)) sizes.push(s.size);
      }
      slots.forEach((s, i) => {
        if (bad === undefined && s.offset + (sizes[i] ?? 0) > PAGE) bad = `slot ${i} (offset ${s.offset}, ${sizes[i]} bytes) crosses its page`;
      });
    }
    let data: Uint8Array | undefined;
    if (bad === undefined) {
      data = new Uint8Array(total);
      let at = 0;
      for (let i = 0; i < slots.length && bad === undefined; i++) {
        const s = slots[i] as TxSlot;
        const n = sizes[i] as number;
        if (n === 0) continue;
        const m = this.o.grants.mapForHost(this.o.frontend, s.gref, true);
        if (typeof m === 'number') {
          bad = `tx grant ${s.gref} does not map: GNTST ${m}`;
          break;
        }
        data.set(new Uint8Array(m.view.buffer, m.view.byteOffset + s.offset, n), at);
        this.o.grants.unmapForHost(m.handle);
        at += n;
      }
      rest -= at;
    }
    const n = this.txCount++;
    const forced = this.o.hooks?.txPacket(n);
    if (forced !== undefined) {
      this.diag(`hostile: tx packet ${n} answered ${forced === NETIF_RSP_DROPPED ? 'NETIF_RSP_DROPPED' : 'NETIF_RSP_ERROR'}`);
      this.stats.txErrors++;
      return responses.map(([id, st]) => [id, st === NETIF_RSP_NULL ? st : forced]);
    }
    if (bad !== undefined || data === undefined || rest !== 0) {
      this.diag(`tx packet at slot ${start}: ${bad ?? 'short'}; NETIF_RSP_ERROR`);
      this.stats.txErrors++;
      return responses.map(([id, st]) => [id, st === NETIF_RSP_NULL ? st : NETIF_RSP_ERROR]);
    }
    this.stats.txPackets++;
    this.stats.txBytes += total;
    const frame: NetFrame = {
      data,
      csumBlank: (head.flags & NETTXF_csum_blank) !== 0,
      dataValidated: (head.flags & (NETTXF_data_validated | NETTXF_csum_blank)) !== 0,
      ...(gso !== undefined ? { gso } : {}),
    };
    this.o.transmit?.(frame);
    return responses;
  }

  // ---- receive --------------------------------------------------------------------------------

  private serviceRx(): void {
    const c = this.conn;
    if (c === undefined) return;
    const ring = c.rx;
    const rp = ring.requestsAvailable();
    if (rp === undefined) {
      // A broken rx ring: drop what waits, say so once per frame batch.
      if (this.rxQueue.length > 0) {
        this.diag(`frontend provided bogus rx ring requests (req_prod ${ring.reqProd}); ${this.rxQueue.length} frames dropped`);
        this.stats.rxDropped += this.rxQueue.length;
        this.rxQueue.length = 0;
      }
      return;
    }
    let notify = false;
    while (this.rxQueue.length > 0) {
      const frame = this.rxQueue[0] as NetFrame;
      const need = Math.max(1, Math.ceil(frame.data.length / PAGE));
      if (need > 1 && !c.sg) {
        this.diag(`rx frame of ${frame.data.length} bytes needs ${need} slots without feature-sg: dropped`);
        this.rxQueue.shift();
        this.stats.rxDropped++;
        continue;
      }
      const avail = (rp - ring.reqCons) >>> 0;
      if (avail < need || ring.consOverflow((ring.reqCons + need - 1) >>> 0)) break;
      this.rxQueue.shift();
      const rxFault = this.rxFaults.get(frame);
      if (rxFault !== undefined) this.rxFaults.delete(frame);
      const reqs: { id: number; gref: number }[] = [];
      for (let i = 0; i < need; i++) {
        const dv = new DataView(ring.copyRequest(ring.reqCons, RX_SLOT).buffer);
        ring.reqCons = (ring.reqCons + 1) >>> 0;
        reqs.push({ id: dv.getUint16(O.rxId, true), gref: dv.getUint32(O.rxGref, true) });
      }
      let failed: string | undefined;
      reqs.forEach((r, i) => {
        const chunk = frame.data.subarray(i * PAGE, Math.min(frame.data.length, (i + 1) * PAGE));
        if (failed !== undefined) return;
        if (rxFault === 'copy-fail') {
          failed = `hostile: the copy into rx grant ${r.gref} fails`;
          return;
        }
        const m = this.o.grants.mapForHost(this.o.frontend, r.gref, false);
        if (typeof m === 'number') {
          failed = `rx grant ${r.gref} does not map: GNTST ${m}`;
          return;
        }
        new Uint8Array(m.view.buffer, m.view.byteOffset, chunk.length).set(chunk);
        this.o.grants.unmapForHost(m.handle);
      });
      if (failed === undefined && rxFault === 'error') failed = 'hostile: rx response with NETIF_RSP_ERROR';
      if (failed !== undefined) {
        this.diag(`${failed}; NETIF_RSP_ERROR`);
        this.stats.rxErrors++;
      } else {
        this.stats.rxPackets++;
        this.stats.rxBytes += frame.data.length;
      }
      reqs.forEach((r, i) => {
        const rsp = new Uint8Array(RX_SLOT);
        const dv = new DataView(rsp.buffer);
        let flags = 0;
        if (i === 0) {
          if (frame.dataValidated) flags |= NETRXF_data_validated;
          if (frame.csumBlank) flags |= NETRXF_csum_blank;
        }
        if (i < reqs.length - 1) flags |= NETRXF_more_data;
        const n = Math.min(PAGE, frame.data.length - i * PAGE);
        dv.setUint16(O.rxrId, r.id, true);
        dv.setUint16(O.rxrOffset, 0, true);
        dv.setUint16(O.rxrFlags, failed === undefined ? flags : 0, true);
        dv.setInt16(O.rxrStatus, failed === undefined ? n : NETIF_RSP_ERROR, true);
        ring.putResponse(rsp);
      });
      notify = ring.pushResponses() || notify;
    }
    // Re-arm so posting rx buffers notifies us while frames wait.
    if (this.rxQueue.length > 0) ring.finalCheckForRequests();
    if (notify) {
      this.stats.notifies++;
      this.o.events.host.send(c.rxPort);
    }
  }
}
