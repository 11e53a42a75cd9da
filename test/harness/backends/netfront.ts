/**
 * A small netfront for the netback tests, in a real domain (blkWorld: machine frames, its grant
 * table in the hub, event channels): a tx and an rx ring granted to domain 0 (SHARED_RING_INIT),
 * one unbound event channel, packets written as tx slots (fragments, extra info), rx buffers
 * posted as granted pages, responses read back. Tests can also write raw slots (hostile cases).
 */
import { layout } from '../../../abi/public/index.js';
import {
  NETTXF_extra_info,
  NETTXF_more_data,
  XEN_NETIF_EXTRA_FLAG_MORE,
} from '../../../abi/public/io/netif.js';
import { DOMID_SELF } from '../../../abi/public/xen.js';
import type { NetifConnection } from '../../../harness/backends/netback.js';
import { grantPage, type BlkWorld } from './blkfront.js';

const TX_SLOT = layout('netif_tx_sring_entry', 'x86_64').size;
const RX_SLOT = layout('netif_rx_sring_entry', 'x86_64').size;
const TX_SIZE = 256;
const RX_SIZE = 256;

export interface TxFrag {
  readonly data: Uint8Array;
  readonly offset?: number;
  /** Use this ref instead of granting a page (hostile cases). */
  readonly gref?: number;
}

export interface RxResponse {
  id: number;
  offset: number;
  flags: number;
  status: number;
}

export class TestNetfront {
  readonly txRef: number;
  readonly rxRef: number;
  readonly port: number;
  private readonly txPfn: number;
  private readonly rxPfn: number;
  txProd = 0;
  txCons = 0;
  rxProd = 0;
  rxCons = 0;
  sends = 0;
  private nextRef = 8;
  private nextPfn = 0;
  /** rx id → pfn of its buffer. */
  readonly rxBufs = new Map<number, number>();

  constructor(readonly w: BlkWorld) {
    this.txPfn = this.allocPfn();
    this.rxPfn = this.allocPfn();
    for (const pfn of [this.txPfn, this.rxPfn]) {
      const p = this.page(pfn);
      new Uint8Array(p.buffer, p.byteOffset, 4096).fill(0);
      p.setUint32(4, 1, true);
      p.setUint32(12, 1, true);
    }
    this.txRef = this.grant(this.txPfn);
    this.rxRef = this.grant(this.rxPfn);
    const port = w.front.evtchn!.allocUnbound(DOMID_SELF, 0);
    if (port < 0) throw new Error(`no port: ${port}`);
    this.port = port;
  }

  connection(o: Partial<NetifConnection> = {}): NetifConnection {
    return { txRingRef: this.txRef, rxRingRef: this.rxRef, port: this.port, requestRxCopy: true, sg: true, ...o };
  }

  page(pfn: number): DataView {
    return this.w.mem.view((this.w.front.p2m as number[])[pfn] as number);
  }

  allocPfn(): number {
    return this.nextPfn++;
  }

  grant(pfn: number, readonly = false): number {
    const ref = this.nextRef++;
    grantPage(this.w.front, ref, 0, pfn, readonly);
    return ref;
  }

  private txSlot(i: number): number {
    return 64 + (i % TX_SIZE) * TX_SLOT;
  }

  /** Writes a raw tx request at the producer index (not yet published). */
  rawTx(gref: number, offset: number, flags: number, id: number, size: number): void {
    const p = this.page(this.txPfn);
    const o = this.txSlot(this.txProd++);
    p.setUint32(o, gref, true);
    p.setUint16(o + 4, offset, true);
    p.setUint16(o + 6, flags, true);
    p.setUint16(o + 8, id, true);
    p.setUint16(o + 10, size, true);
  }

  /** Writes a raw extra-info slot (type, flags, then up to 6 bytes of union). */
  rawExtra(type: number, more: boolean, u: number[] = []): void {
    const p = this.page(this.txPfn);
    const o = this.txSlot(this.txProd++);
    for (let i = 0; i < TX_SLOT; i++) p.setUint8(o + i, 0);
    p.setUint8(o, type);
    p.setUint8(o + 1, more ? XEN_NETIF_EXTRA_FLAG_MORE : 0);
    u.forEach((b, i) => p.setUint8(o + 2 + i, b));
  }

  /** Queues a packet of fragments (each in its own fresh page); returns the ids used. */
  queuePacket(frags: readonly TxFrag[], flags = 0, extras: { type: number; u: number[] }[] = []): number[] {
    const total = frags.reduce((n, f) => n + f.data.length, 0);
    const ids: number[] = [];
    frags.forEach((f, i) => {
      let gref = f.gref;
      if (gref === undefined) {
        const pfn = this.allocPfn();
        const p = this.page(pfn);
        const off = Math.min(f.offset ?? 0, 4096);
        const n = Math.min(f.data.length, 4096 - off); // a hostile slot may claim past the page; write only inside it
        new Uint8Array(p.buffer, p.byteOffset + off, n).set(f.data.subarray(0, n));
        gref = this.grant(pfn, true);
      }
      const more = i < frags.length - 1 ? NETTXF_more_data : 0;
      const fl = i === 0 ? flags | more | (extras.length > 0 ? NETTXF_extra_info : 0) : more;
      const id = (this.txProd + 1000) & 0xffff;
      ids.push(id);
      this.rawTx(gref, f.offset ?? 0, fl, id, i === 0 ? total : f.data.length);
      if (i === 0) extras.forEach((e, k) => this.rawExtra(e.type, k < extras.length - 1, e.u));
    });
    return ids;
  }

  /** Publishes tx requests and notifies (the backend runs inside the send). */
  pushTx(reqProd = this.txProd): void {
    this.page(this.txPfn).setUint32(0, reqProd, true);
    this.notify();
  }

  notify(): void {
    this.sends++;
    const r = this.w.xen.events.get(1)!.send(this.port);
    if (r < 0) throw new Error(`send failed: ${r}`);
  }

  /** Tx responses published since the last call: [id, status]. */
  txResponses(): [number, number][] {
    const p = this.page(this.txPfn);
    const prod = p.getUint32(8, true);
    const out: [number, number][] = [];
    for (; this.txCons !== prod; this.txCons++) {
      const o = this.txSlot(this.txCons);
      out.push([p.getUint16(o, true), p.getInt16(o + 2, true)]);
    }
    return out;
  }

  /** Posts `n` rx buffers (fresh granted pages) and publishes them; `gref` overrides (hostile). */
  postRx(n: number, gref?: number): void {
    const p = this.page(this.rxPfn);
    for (let i = 0; i < n; i++) {
      const id = this.rxProd & 0xffff;
      const pfn = this.allocPfn();
      this.rxBufs.set(id, pfn);
      const o = 64 + (this.rxProd % RX_SIZE) * RX_SLOT;
      p.setUint16(o, id, true);
      p.setUint16(o + 2, 0, true);
      p.setUint32(o + 4, gref ?? this.grant(pfn), true);
      this.rxProd++;
    }
    p.setUint32(0, this.rxProd, true);
    this.notify();
  }

  /** rx responses published since the last call. */
  rxResponses(): RxResponse[] {
    const p = this.page(this.rxPfn);
    const prod = p.getUint32(8, true);
    const out: RxResponse[] = [];
    for (; this.rxCons !== prod; this.rxCons++) {
      const o = 64 + (this.rxCons % RX_SIZE) * RX_SLOT;
      out.push({ id: p.getUint16(o, true), offset: p.getUint16(o + 2, true), flags: p.getUint16(o + 4, true), status: p.getInt16(o + 6, true) });
    }
    return out;
  }

  /** The bytes a response points at. */
  rxData(r: RxResponse): Uint8Array {
    const p = this.page(this.rxBufs.get(r.id) as number);
    return new Uint8Array(p.buffer, p.byteOffset + r.offset, Math.max(0, r.status)).slice();
  }
}
