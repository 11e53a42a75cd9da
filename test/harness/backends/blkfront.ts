/**
 * A small blkfront for the blkback tests: a real domain (machine frames from a shuffled pool,
 * its own grant table in the hub, event channels over a shared_info page) that shares a ring
 * with blkback the way Linux's xen-blkfront does: SHARED_RING_INIT, grants of its pages to
 * domain 0, an unbound event channel, requests written into slots in the ABI of the chosen
 * protocol, RING_PUSH_REQUESTS_AND_CHECK_NOTIFY, responses consumed with
 * RING_FINAL_CHECK_FOR_RESPONSES. It also lets a test write anything into a slot (the hostile
 * cases) and check that no grant of its stays in use.
 */
import { GrantHub } from '../../../abi/gnttab/grants.js';
import { Domain } from '../../../abi/hv/domain.js';
import { MachineMemory } from '../../../abi/hv/machine.js';
import { PageTypes } from '../../../abi/hv/page-types.js';
import { Xen } from '../../../abi/hv/xen.js';
import { layout } from '../../../abi/public/index.js';
import * as G from '../../../abi/public/grant-table.js';
import { BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT } from '../../../abi/public/io/blkif.js';
import { ringSlots } from '../../../abi/public/io/ring.js';
import { DOMID_SELF } from '../../../abi/public/xen.js';
import type { BlkifConnection, BlkifProtocol } from '../../../harness/backends/blkback.js';

export const FEATURES = new Set(['base', 'sse', 'sse2'] as const);
/** Frames of the frontend domain: its ring, data and indirect pages. */
export const FRONT_PAGES = 192;
export const FRONT = 1;
export const OTHER = 2;

export interface BlkWorld {
  mem: MachineMemory;
  xen: Xen;
  hub: GrantHub;
  front: Domain;
  other: Domain;
}

function domain(mem: MachineMemory, hub: GrantHub, xen: Xen, id: number, pages: number): Domain {
  const d = new Domain(id, `d${id}`);
  d.machine = mem;
  d.p2m = mem.allocDomainMemory(id, pages) as number[];
  d.gnttab = hub.attach(id);
  xen.addEvents(d, new DataView(new ArrayBuffer(4096)));
  return d;
}

export function blkWorld(seed = 11): BlkWorld {
  const mem = new MachineMemory({ frames: 1024, seed });
  const types = new PageTypes(mem);
  const hub = new GrantHub(mem, { types });
  const xen = new Xen(FEATURES);
  return { mem, xen, hub, front: domain(mem, hub, xen, FRONT, FRONT_PAGES), other: domain(mem, hub, xen, OTHER, 16) };
}

/** Grants page `pfn` of `d` to `grantee` as `ref` (GTF_permit_access, optionally read-only). */
export function grantPage(d: Domain, ref: number, grantee: number, pfn: number, readonly = false): void {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, G.GTF_permit_access | (readonly ? G.GTF_readonly : 0), true);
  dv.setUint16(2, grantee, true);
  dv.setUint32(4, (d.p2m as number[])[pfn] as number, true);
  d.gnttab!.table.writeEntryRaw(ref, b);
}

/** Offsets of the protocol's request and response fields (from the layouts gcc checks). */
function abi(protocol: BlkifProtocol) {
  const arch = protocol === 'x86_32-abi' ? 'x86_32' : 'x86_64';
  const rw = layout('blkif_request', arch);
  const d = layout('blkif_request_discard', arch);
  const ind = layout('blkif_request_indirect', arch);
  const rsp = layout('blkif_response', arch);
  return {
    slot: layout('blkif_sring_entry', arch).size,
    id: rw.field('id').offset,
    nr: rw.field('nr_segments').offset,
    handle: rw.field('handle').offset,
    sector: rw.field('sector_number').offset,
    seg: rw.field('seg').offset,
    dFlag: d.field('flag').offset,
    dSectors: d.field('nr_sectors').offset,
    iOp: ind.field('indirect_op').offset,
    iNr: ind.field('nr_segments').offset,
    iSector: ind.field('sector_number').offset,
    iHandle: ind.field('handle').offset,
    iGrefs: ind.field('indirect_grefs').offset,
    rspId: rsp.field('id').offset,
    rspOp: rsp.field('operation').offset,
    rspStatus: rsp.field('status').offset,
  };
}

export interface Seg {
  gref: number;
  first: number;
  last: number;
}

/** A request as the test writes it into a slot; anything may be out of range. */
export interface RawRequest {
  operation: number;
  id: bigint;
  sector: number | bigint;
  /** READ/WRITE/FLUSH/BARRIER: the segments; nr_segments defaults to their count. */
  segs?: Seg[];
  nrSegments?: number;
  /** DISCARD. */
  nrSectors?: number | bigint;
  flag?: number;
  /** INDIRECT. */
  indirectOp?: number;
  indirectGrefs?: number[];
  handle?: number;
}

export interface Response {
  id: bigint;
  operation: number;
  status: number;
}

export interface FrontOptions {
  protocol?: BlkifProtocol;
  ringPages?: number;
  persistent?: boolean;
}

export class TestBlkfront {
  readonly protocol: BlkifProtocol;
  readonly size: number;
  readonly ringRefs: number[] = [];
  readonly port: number;
  readonly persistent: boolean;
  private readonly a: ReturnType<typeof abi>;
  private readonly ringPfns: number[] = [];
  reqProdPvt = 0;
  rspCons = 0;
  /** Notifications the frontend sent. */
  sends = 0;
  private nextRef = 8;
  private nextPfn = 0;
  private readonly freePfns: number[] = [];

  constructor(
    readonly w: BlkWorld,
    o: FrontOptions = {},
  ) {
    this.protocol = o.protocol ?? 'x86_64-abi';
    this.persistent = o.persistent ?? false;
    this.a = abi(this.protocol);
    const pages = o.ringPages ?? 1;
    this.size = ringSlots(pages * 4096, 64, this.a.slot);
    for (let i = 0; i < pages; i++) {
      const pfn = this.allocPfn();
      this.page(pfn).setUint32(0, 0); // zeroed below
      new Uint8Array(this.page(pfn).buffer, this.page(pfn).byteOffset, 4096).fill(0);
      const ref = this.allocRef();
      grantPage(w.front, ref, 0, pfn);
      this.ringPfns.push(pfn);
      this.ringRefs.push(ref);
    }
    // SHARED_RING_INIT: producers 0, events 1.
    this.hdr().setUint32(4, 1, true);
    this.hdr().setUint32(12, 1, true);
    const port = w.front.evtchn!.allocUnbound(DOMID_SELF, 0);
    if (port < 0) throw new Error(`no port: ${port}`);
    this.port = port;
  }

  connection(): BlkifConnection {
    return { ringRefs: this.ringRefs, port: this.port, protocol: this.protocol, persistent: this.persistent };
  }

  /** The machine view of one of our pages. */
  page(pfn: number): DataView {
    return this.w.mem.view((this.w.front.p2m as number[])[pfn] as number);
  }

  allocPfn(): number {
    const p = this.freePfns.pop() ?? this.nextPfn++;
    if (p >= FRONT_PAGES) throw new Error('test frontend out of pages');
    return p;
  }

  freePfn(pfn: number): void {
    this.freePfns.push(pfn);
  }

  allocRef(): number {
    return this.nextRef++;
  }

  /** Grants a page to domain 0 and returns the ref. */
  grant(pfn: number, readonly = false): number {
    const ref = this.allocRef();
    grantPage(this.w.front, ref, 0, pfn, readonly);
    return ref;
  }

  /** The grant's flags (GTF_reading/GTF_writing say it is in use). */
  grantFlags(ref: number): number {
    return this.w.front.gnttab!.table.readEntry(ref).flags;
  }

  /** gnttab_end_foreign_access_ref: fails (false) while the backend still has it mapped. */
  endGrant(ref: number): boolean {
    const f = this.grantFlags(ref);
    if ((f & (G.GTF_reading | G.GTF_writing)) !== 0) return false;
    this.w.front.gnttab!.table.writeEntryRaw(ref, new Uint8Array(8));
    return true;
  }

  /** Byte offset of ring slot `idx` within the ring (pages concatenated). */
  private slotBytes(idx: number): { pfnAt: (i: number) => [DataView, number] } {
    const base = 64 + (idx & (this.size - 1)) * this.a.slot;
    return {
      pfnAt: (i: number) => {
        const off = base + i;
        return [this.page(this.ringPfns[Math.floor(off / 4096)] as number), off % 4096];
      },
    };
  }

  private hdr(): DataView {
    return this.page(this.ringPfns[0] as number);
  }

  /** Writes `bytes` into slot `idx` at `off` (across pages as needed). */
  writeSlot(idx: number, off: number, bytes: Uint8Array): void {
    const s = this.slotBytes(idx);
    bytes.forEach((b, i) => {
      const [dv, o] = s.pfnAt(off + i);
      dv.setUint8(o, b);
    });
  }

  readSlot(idx: number, off: number, n: number): Uint8Array {
    const s = this.slotBytes(idx);
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const [dv, o] = s.pfnAt(off + i);
      out[i] = dv.getUint8(o);
    }
    return out;
  }

  /** Encodes a request into the next free slot (req_prod_pvt), without publishing it. */
  queue(r: RawRequest, idx = this.reqProdPvt): void {
    const a = this.a;
    const buf = new Uint8Array(a.slot);
    const dv = new DataView(buf.buffer);
    const put64 = (off: number, v: number | bigint) => dv.setBigUint64(off, BigInt.asUintN(64, BigInt(v)), true);
    dv.setUint8(0, r.operation);
    put64(a.id, r.id);
    if (r.operation === BLKIF_OP_DISCARD) {
      dv.setUint8(a.dFlag, r.flag ?? 0);
      dv.setUint16(a.handle, r.handle ?? 0, true);
      put64(a.sector, r.sector);
      put64(a.dSectors, r.nrSectors ?? 0);
    } else if (r.operation === BLKIF_OP_INDIRECT) {
      dv.setUint8(a.iOp, r.indirectOp ?? 0);
      dv.setUint16(a.iNr, r.nrSegments ?? 0, true);
      put64(a.iSector, r.sector);
      dv.setUint16(a.iHandle, r.handle ?? 0, true);
      (r.indirectGrefs ?? []).forEach((g, i) => dv.setUint32(a.iGrefs + i * 4, g, true));
    } else {
      const segs = r.segs ?? [];
      dv.setUint8(a.nr, r.nrSegments ?? segs.length);
      dv.setUint16(a.handle, r.handle ?? 0, true);
      put64(a.sector, r.sector);
      segs.slice(0, 11).forEach((s, i) => {
        dv.setUint32(a.seg + i * 8, s.gref, true);
        dv.setUint8(a.seg + i * 8 + 4, s.first);
        dv.setUint8(a.seg + i * 8 + 5, s.last);
      });
    }
    this.writeSlot(idx, 0, buf);
    if (idx === this.reqProdPvt) this.reqProdPvt = (this.reqProdPvt + 1) >>> 0;
  }

  /** Fills an indirect page with segment descriptors. */
  writeIndirectPage(pfn: number, segs: readonly Seg[]): void {
    const dv = this.page(pfn);
    segs.forEach((s, i) => {
      dv.setUint32(i * 8, s.gref, true);
      dv.setUint8(i * 8 + 4, s.first);
      dv.setUint8(i * 8 + 5, s.last);
      dv.setUint16(i * 8 + 6, 0, true);
    });
  }

  get reqProd(): number {
    return this.hdr().getUint32(0, true);
  }

  set reqProd(v: number) {
    this.hdr().setUint32(0, v >>> 0, true);
  }

  get rspProd(): number {
    return this.hdr().getUint32(8, true);
  }

  /** RING_PUSH_REQUESTS_AND_CHECK_NOTIFY, then EVTCHNOP_send if the backend asked. */
  push(): boolean {
    const old = this.reqProd;
    const next = this.reqProdPvt;
    this.reqProd = next;
    const event = this.hdr().getUint32(4, true);
    const notify = ((next - event) >>> 0) < ((next - old) >>> 0);
    if (notify) this.notify();
    return notify;
  }

  /** EVTCHNOP_send on our port (what the guest's hypercall runs). */
  notify(): void {
    this.sends++;
    const rc = this.w.front.evtchn!.send(this.port);
    if (rc !== 0) throw new Error(`EVTCHNOP_send: ${rc}`);
  }

  /** Consumes every response published so far (RING_FINAL_CHECK_FOR_RESPONSES re-arms rsp_event). */
  responses(): Response[] {
    const out: Response[] = [];
    for (;;) {
      const rp = this.rspProd;
      while (this.rspCons !== rp) {
        const b = this.readSlot(this.rspCons, 0, 16);
        const dv = new DataView(b.buffer);
        out.push({ id: dv.getBigUint64(this.a.rspId, true), operation: dv.getUint8(this.a.rspOp), status: dv.getInt16(this.a.rspStatus, true) });
        this.rspCons = (this.rspCons + 1) >>> 0;
      }
      this.hdr().setUint32(12, (this.rspCons + 1) >>> 0, true);
      if (this.rspProd === this.rspCons) return out;
    }
  }

  /** Free slots (RING_FULL when 0). */
  get free(): number {
    return this.size - ((this.reqProdPvt - this.rspCons) >>> 0);
  }
}
