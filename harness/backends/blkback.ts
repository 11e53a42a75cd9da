/**
 * blkback: the host side of a PV block device (io/blkif.h, reference §8.8), as Linux's
 * xen-blkback serves a frontend, over a raw disk image (disk-image.ts).
 *
 * The ring (ring.ts) is mapped from the frontend's grants with the host grant API
 * (`GrantHub.mapForHost`); data pages are mapped per request (writable for a READ, read-only
 * for a WRITE) and unmapped when it completes, or kept mapped for the life of the connection
 * when both ends agreed on feature-persistent (then always writable, up to MAX_PERSISTENT
 * grants, as Linux does). The event channel is a host port bound to the frontend's unbound
 * port; the frontend's EVTCHNOP_send runs the ring synchronously, so the same guest gives the
 * same disk I/O at the same instruction on every run. Responses come out in completion order,
 * which for this synchronous backend is request order.
 *
 * Protocols: the frontend's `protocol` ("x86_64-abi", "x86_32-abi"; native = x86_64) picks the
 * ABI the slots are read and written with; the layouts come from abi/public/io/blkif.ts.
 *
 * Guest input is hostile. Each request is copied out of its slot once (RING_COPY_REQUEST) and
 * every decision reads that copy; indirect segment descriptors are copied out of their pages
 * once too. What Linux answers, we answer (xen-blkback `dispatch_rw_block_io`,
 * `dispatch_discard_io`, `dispatch_other_io`, `xen_vbd_translate`):
 *  - unknown operation: BLKIF_RSP_EOPNOTSUPP (the operation echoed);
 *  - READ/WRITE without segments, more than BLKIF_MAX_SEGMENTS_PER_REQUEST (or, indirect, more
 *    than feature-max-indirect-segments), a segment with last_sect < first_sect or past the
 *    page, a range past the end of the disk (or wrapping), a write to a read-only disk, an
 *    indirect request whose indirect_op is not READ/WRITE, a grant that does not map (bad ref,
 *    granted to another domain, read-only for a READ): BLKIF_RSP_ERROR, nothing read or written;
 *  - DISCARD without feature-discard: BLKIF_RSP_EOPNOTSUPP; outside the disk or read-only:
 *    BLKIF_RSP_ERROR;
 *  - ids are the frontend's business: echoed, never interpreted;
 *  - `req_prod` further ahead of our responses than the ring is long: the ring is halted with a
 *    diagnostic (Linux's "Frontend provided bogus ring requests"), nothing more is serviced.
 * A host exception never results from guest input, and the image checks every access again.
 *
 * Hostile runs (harness/hostile/blk.ts) pass `hooks`: each request's number (0-based over the
 * backend's life) is offered to `request`, which may make it fail as a status or a failed grant
 * map would; every response goes through `response`, which may publish it later, with others, in
 * another order, twice or with another id. Without hooks nothing of this runs.
 */
import type { EventHub } from '../../abi/evtchn/channels.js';
import type { GrantHub, HostMapping } from '../../abi/gnttab/grants.js';
import {
  BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST,
  BLKIF_MAX_SEGMENTS_PER_REQUEST,
  BLKIF_OP_DISCARD,
  BLKIF_OP_FLUSH_DISKCACHE,
  BLKIF_OP_INDIRECT,
  BLKIF_OP_READ,
  BLKIF_OP_WRITE,
  BLKIF_OP_WRITE_BARRIER,
  BLKIF_RSP_EOPNOTSUPP,
  BLKIF_RSP_ERROR,
  BLKIF_RSP_OKAY,
} from '../../abi/public/io/blkif.js';
import { layout } from '../../abi/public/index.js';
import { GNTST_okay } from '../../abi/public/grant-table.js';
import type { Arch } from '../../abi/layout/schema.js';
import { SECTOR_SIZE, type DiskImage } from './disk-image.js';
import { BackRing, PagedBytes } from './ring.js';
import { ioRing, type ObservedRing, type RingObserver } from './ring-observer.js';

const PAGE = 4096;
/** 512-byte sectors in a page: a segment's last_sect must stay below this. */
const SECTORS_PER_PAGE = PAGE / SECTOR_SIZE;
/** blkif_request_segment is 8 bytes: 512 descriptors per indirect page. */
const SEGS_PER_INDIRECT_FRAME = PAGE / 8;
/** Linux blkback's defaults: feature-max-indirect-segments and persistent grants per ring. */
export const DEFAULT_MAX_INDIRECT_SEGMENTS = 256;
export const MAX_PERSISTENT = 1056;
/** Linux blkback's max-ring-page-order (XENBUS_MAX_RING_GRANT_ORDER). */
export const DEFAULT_MAX_RING_PAGE_ORDER = 4;
/** Diagnostics kept per device (a hostile frontend can cause one per request). */
const MAX_DIAGNOSTICS = 64;

export type BlkifProtocol = 'x86_64-abi' | 'x86_32-abi';
/** The protocol of a frontend that writes none: the backend's native one. */
export const NATIVE_PROTOCOL: BlkifProtocol = 'x86_64-abi';

/** Byte offsets of one ABI's request and response fields. */
interface BlkifAbi {
  readonly arch: Arch;
  readonly slot: number;
  /** Bytes copied out of a slot: the largest request form. */
  readonly reqBytes: number;
  readonly rspBytes: number;
  readonly id: number;
  readonly nrSegments: number;
  readonly sector: number;
  readonly seg: number;
  readonly discardFlag: number;
  readonly discardNrSectors: number;
  readonly indirectOp: number;
  readonly indirectNrSegments: number;
  readonly indirectSector: number;
  readonly indirectGrefs: number;
  readonly rspId: number;
  readonly rspOperation: number;
  readonly rspStatus: number;
}

function abiOf(arch: Arch): BlkifAbi {
  const rw = layout('blkif_request', arch);
  const d = layout('blkif_request_discard', arch);
  const ind = layout('blkif_request_indirect', arch);
  const rsp = layout('blkif_response', arch);
  const ids = [rw.field('id').offset, d.field('id').offset, ind.field('id').offset];
  if (ids.some((o) => o !== ids[0])) throw new Error(`blkif ${arch}: request forms disagree on the id offset`);
  return {
    arch,
    slot: layout('blkif_sring_entry', arch).size,
    reqBytes: Math.max(rw.size, d.size, ind.size),
    rspBytes: rsp.size,
    id: rw.field('id').offset,
    nrSegments: rw.field('nr_segments').offset,
    sector: rw.field('sector_number').offset,
    seg: rw.field('seg').offset,
    discardFlag: d.field('flag').offset,
    discardNrSectors: d.field('nr_sectors').offset,
    indirectOp: ind.field('indirect_op').offset,
    indirectNrSegments: ind.field('nr_segments').offset,
    indirectSector: ind.field('sector_number').offset,
    indirectGrefs: ind.field('indirect_grefs').offset,
    rspId: rsp.field('id').offset,
    rspOperation: rsp.field('operation').offset,
    rspStatus: rsp.field('status').offset,
  };
}

const ABIS: Readonly<Record<BlkifProtocol, BlkifAbi>> = {
  'x86_64-abi': abiOf('x86_64'),
  'x86_32-abi': abiOf('x86_32'),
};

/** The protocol named by a frontend's `protocol` node (absent: native), or undefined if unknown. */
export function blkifProtocol(name: string | undefined): BlkifProtocol | undefined {
  if (name === undefined || name === '') return NATIVE_PROTOCOL;
  return name === 'x86_64-abi' || name === 'x86_32-abi' ? name : undefined;
}

/** What the backend offers (written to XenStore as feature-* by the xenbus side). */
export interface BlkbackFeatures {
  /** feature-discard (default: on for a writable disk, as `discard-enable` defaults to 1). */
  readonly discard?: boolean;
  /** feature-persistent (default on). */
  readonly persistent?: boolean;
  /** feature-max-indirect-segments; 0 turns BLKIF_OP_INDIRECT off (default 256). */
  readonly maxIndirectSegments?: number;
  /** max-ring-page-order (default 4). */
  readonly maxRingPageOrder?: number;
}

/** What a hostile run makes of one request (harness/hostile/blk.ts). */
export type BlkRequestFault =
  /** Answer with this BLKIF_RSP_* status, reading and writing nothing. */
  | { readonly status: number }
  /** Mapping the request's `failMapSeg`-th data grant fails (as GNTST_general_error would). */
  | { readonly failMapSeg: number }
  /** Test-only: a READ's data is inverted after it was read; the answer says OKAY. */
  | { readonly corrupt: true };

/** One response on its way out, as the hooks see it. */
export interface BlkResponseOut {
  /** The request's number (0-based over the backend's life). */
  readonly n: number;
  /** The response slot's bytes (the hooks may rewrite them before publishing). */
  readonly bytes: Uint8Array;
  /** Byte offset of the 64-bit id in `bytes`. */
  readonly idOffset: number;
}

/** Fault hooks of a hostile run; absent, the backend answers every request at once. */
export interface BlkbackHooks {
  request(n: number): BlkRequestFault | undefined;
  /**
   * A response is ready. Return false to publish it now; true when the hook took it and will
   * call `publish` (once, now or later, with one or more responses: one push, one notify).
   * `publish` does nothing once the connection it belongs to is gone.
   */
  response(r: BlkResponseOut, publish: (rsps: readonly Uint8Array[]) => void): boolean;
}

export interface BlkbackOptions {
  readonly events: EventHub;
  readonly grants: GrantHub;
  /** The frontend's domain. */
  readonly frontend: number;
  /** The device (virtual-device number), for diagnostics. */
  readonly devid?: number;
  readonly image: DiskImage;
  readonly features?: BlkbackFeatures;
  /** Each diagnostic line as it happens (besides `diagnostics`). */
  readonly log?: (line: string) => void;
  /** A hostile run's fault hooks (harness/hostile/blk.ts). */
  readonly hooks?: BlkbackHooks;
}

/** What the frontend published (ring-ref or ring-ref0.., event-channel, protocol, feature-persistent). */
export interface BlkifConnection {
  /** One grant per ring page; a power of two, at most 2^max-ring-page-order. */
  readonly ringRefs: readonly number[];
  /** The frontend's unbound event channel for domain 0. */
  readonly port: number;
  /** The frontend's `protocol` (undefined: native). */
  readonly protocol?: string;
  /** The frontend's feature-persistent. */
  readonly persistent?: boolean;
}

export interface BlkbackStats {
  /** Requests by operation, as Linux's st_rd_req, st_wr_req, st_f_req, st_ds_req. */
  reads: number;
  writes: number;
  flushes: number;
  discards: number;
  /** Responses other than BLKIF_RSP_OKAY. */
  errors: number;
  eopnotsupp: number;
  /** Sectors read and written. */
  sectorsRead: number;
  sectorsWritten: number;
  /** Notifications from the frontend, and to it. */
  kicks: number;
  notifies: number;
}

/** One data segment of a request, validated. */
interface Segment {
  readonly gref: number;
  readonly first: number;
  readonly nsec: number;
}

interface Connected {
  readonly abi: BlkifAbi;
  readonly protocol: BlkifProtocol;
  readonly ring: BackRing;
  readonly ringMaps: readonly HostMapping[];
  readonly hostPort: number;
  readonly persistent: boolean;
  /** The ring as a RingObserver sees it. */
  readonly observed: ObservedRing;
}

/** BLKIF_RSP_* by name, for diagnostics. */
function statusName(s: number): string {
  return s === BLKIF_RSP_OKAY ? 'BLKIF_RSP_OKAY' : s === BLKIF_RSP_ERROR ? 'BLKIF_RSP_ERROR' : 'BLKIF_RSP_EOPNOTSUPP';
}

export class Blkback {
  /** Set when the frontend broke the ring; nothing is serviced until it reconnects. */
  broken: string | undefined = undefined;
  readonly diagnostics: string[] = [];
  /** Diagnostics not kept once MAX_DIAGNOSTICS were. */
  droppedDiagnostics = 0;
  readonly stats: BlkbackStats = { reads: 0, writes: 0, flushes: 0, discards: 0, errors: 0, eopnotsupp: 0, sectorsRead: 0, sectorsWritten: 0, kicks: 0, notifies: 0 };
  private conn: Connected | undefined = undefined;
  /** Sees notifications, looks at the ring, request ids (conformance/checks/rings.ts); none: no cost. */
  private ringObserver: RingObserver | undefined = undefined;
  /** Persistent grants of this connection: gref → mapping (writable). */
  private readonly persistentGrants = new Map<number, HostMapping>();
  private running = false;
  private again = false;
  /** Requests dispatched so far (the hooks' request numbers). */
  private requests = 0;
  /** The fault a hook gave the request being dispatched. */
  private fault: BlkRequestFault | undefined = undefined;
  readonly maxIndirectSegments: number;
  readonly maxRingPageOrder: number;
  readonly discard: boolean;
  readonly persistent: boolean;

  constructor(private readonly o: BlkbackOptions) {
    const f = o.features ?? {};
    this.maxIndirectSegments = Math.min(f.maxIndirectSegments ?? DEFAULT_MAX_INDIRECT_SEGMENTS, BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * SEGS_PER_INDIRECT_FRAME);
    this.maxRingPageOrder = f.maxRingPageOrder ?? DEFAULT_MAX_RING_PAGE_ORDER;
    this.discard = (f.discard ?? true) && !o.image.readOnly;
    this.persistent = f.persistent ?? true;
  }

  get image(): DiskImage {
    return this.o.image;
  }

  get connected(): boolean {
    return this.conn !== undefined;
  }

  /** The protocol of the current connection. */
  get protocol(): BlkifProtocol | undefined {
    return this.conn?.protocol;
  }

  /** Sets (or, undefined, removes) the ring observer; a ring already connected is reported to it at once. */
  observeRings(o: RingObserver | undefined): void {
    this.ringObserver = o;
    if (o !== undefined && this.conn !== undefined) o.connected([this.conn.observed]);
  }

  private observeResponse(c: Connected, rsp: Uint8Array): void {
    const o = this.ringObserver;
    if (o !== undefined && rsp.length >= c.abi.rspId + 8) o.response(c.observed, new DataView(rsp.buffer, rsp.byteOffset).getBigUint64(c.abi.rspId, true).toString());
  }

  /** Grants this backend holds mapped now (ring pages and persistent grants). */
  get mappedGrants(): number {
    return (this.conn?.ringMaps.length ?? 0) + this.persistentGrants.size;
  }

  private diag(line: string): void {
    const full = `vbd ${this.o.frontend}/${this.o.devid ?? 0}: ${line}`;
    this.o.log?.(full);
    if (this.diagnostics.length < MAX_DIAGNOSTICS) this.diagnostics.push(full);
    else this.droppedDiagnostics++;
  }

  /**
   * Maps the ring and binds the event channel (xen-blkback `xen_blkif_map`). Returns undefined
   * on success, or the reason it could not connect (nothing is left mapped or bound then).
   */
  connect(c: BlkifConnection): string | undefined {
    if (this.conn !== undefined) return 'already connected';
    const protocol = blkifProtocol(c.protocol);
    if (protocol === undefined) return `unknown protocol "${c.protocol}"`;
    const n = c.ringRefs.length;
    if (n === 0 || (n & (n - 1)) !== 0 || n > 2 ** this.maxRingPageOrder) {
      return `${n} ring pages: a power of two up to 2^${this.maxRingPageOrder} is needed`;
    }
    const maps: HostMapping[] = [];
    const undo = (why: string): string => {
      for (const m of maps) this.o.grants.unmapForHost(m.handle);
      this.diag(why);
      return why;
    };
    for (const ref of c.ringRefs) {
      if (!(Number.isInteger(ref) && ref >= 0 && ref <= 0xffffffff)) return undo(`ring-ref ${ref} is not a grant reference`);
      const m = this.o.grants.mapForHost(this.o.frontend, ref, false);
      if (typeof m === 'number') return undo(`mapping ring-ref ${ref} of domain ${this.o.frontend} failed: GNTST ${m}`);
      maps.push(m);
    }
    const ec = this.o.events.get(this.o.frontend);
    if (ec === undefined) return undo(`domain ${this.o.frontend} has no event channels`);
    const hostPort = ec.hostBind(c.port);
    if (hostPort < 0) return undo(`binding event-channel ${c.port} of domain ${this.o.frontend} failed: error ${-hostPort}`);
    const abi = ABIS[protocol];
    const ring = new BackRing(new PagedBytes(maps.map((m) => m.view)), abi.slot);
    const observed = ioRing(`vbd ${this.o.devid ?? 0} ring`, ring.size, ring.bytes);
    this.conn = { abi, protocol, ring, ringMaps: maps, hostPort, persistent: this.persistent && c.persistent === true, observed };
    this.ringObserver?.connected([observed]);
    this.broken = undefined;
    this.o.events.listen(hostPort, () => {
      this.stats.kicks++;
      this.ringObserver?.notified([observed]);
      this.kick();
    });
    // Requests queued before we bound (the frontend may have notified an unbound port).
    this.kick();
    return undefined;
  }

  /**
   * Unbinds the event channel and unmaps the ring and every persistent grant
   * (xen-blkback `xen_blkif_disconnect`). Safe to call when not connected.
   */
  disconnect(): void {
    const c = this.conn;
    if (c === undefined) return;
    this.ringObserver?.disconnected([c.observed]);
    this.conn = undefined;
    this.o.events.listen(c.hostPort, () => {});
    this.o.events.host.close(c.hostPort);
    for (const m of this.persistentGrants.values()) this.unmap(m);
    this.persistentGrants.clear();
    for (const m of c.ringMaps) this.unmap(m);
  }

  private unmap(m: HostMapping): void {
    const st = this.o.grants.unmapForHost(m.handle);
    if (st !== GNTST_okay) throw new Error(`blkback: unmapping host grant handle ${m.handle} failed with ${st}`);
  }

  /** Services the ring until it is empty (the event handler; also safe to call directly). */
  kick(): void {
    if (this.running) {
      // A notification from inside our own processing (a hook of the disk): loop once more.
      this.again = true;
      return;
    }
    if (this.ringObserver !== undefined && this.conn !== undefined) this.ringObserver.looked([this.conn.observed]);
    this.running = true;
    try {
      do {
        this.again = false;
        this.serviceRing();
      } while (this.again);
    } finally {
      this.running = false;
    }
  }

  /** xen-blkback `do_block_io_op`: consume until empty, then re-arm req_event and look again. */
  private serviceRing(): void {
    for (;;) {
      const c = this.conn;
      if (c === undefined || this.broken !== undefined) return;
      this.consume(c);
      if (this.conn !== c || this.broken !== undefined) return;
      if (!c.ring.finalCheckForRequests()) return;
    }
  }

  /** xen-blkback `__do_block_io_op`: the requests published so far, one at a time. */
  private consume(c: Connected): void {
    const ring = c.ring;
    const rp = ring.requestsAvailable();
    if (rp === undefined) {
      const prod = ring.reqProd;
      this.broken = `frontend provided bogus ring requests (req_prod ${prod} - rsp_prod_pvt ${ring.rspProdPvt} = ${(prod - ring.rspProdPvt) >>> 0} > ${ring.size} slots): ring halted`;
      this.diag(this.broken);
      return;
    }
    let rc = ring.reqCons;
    while (rc !== rp) {
      if (ring.consOverflow(rc)) break;
      const req = ring.copyRequest(rc, c.abi.reqBytes);
      if (this.ringObserver !== undefined) this.ringObserver.request(c.observed, new DataView(req.buffer).getBigUint64(c.abi.id, true).toString());
      rc = (rc + 1) >>> 0;
      ring.reqCons = rc;
      this.dispatch(c, new DataView(req.buffer));
      if (this.conn !== c) return;
    }
  }

  private dispatch(c: Connected, req: DataView): void {
    const op = req.getUint8(0);
    const hooks = this.o.hooks;
    if (hooks !== undefined) {
      this.fault = hooks.request(this.requests);
      const f = this.fault;
      if (f !== undefined && 'status' in f) {
        this.diag(`hostile: request ${this.requests} answered ${statusName(f.status)}`);
        this.respond(c, req, op === BLKIF_OP_INDIRECT ? req.getUint8(c.abi.indirectOp) : op, f.status);
        return;
      }
    }
    switch (op) {
      case BLKIF_OP_READ:
      case BLKIF_OP_WRITE:
      case BLKIF_OP_WRITE_BARRIER:
      case BLKIF_OP_FLUSH_DISKCACHE:
        this.readWrite(c, req, op);
        return;
      case BLKIF_OP_INDIRECT:
        if (this.maxIndirectSegments === 0) break;
        this.readWrite(c, req, op);
        return;
      case BLKIF_OP_DISCARD:
        this.discardOp(c, req);
        return;
    }
    this.diag(`unknown operation ${op}`);
    this.respond(c, req, op, BLKIF_RSP_EOPNOTSUPP);
  }

  /** Writes the response to `req` (its id, copied) and notifies if the frontend asked. */
  private respond(c: Connected, req: DataView, op: number, status: number): void {
    const a = c.abi;
    const rsp = new Uint8Array(a.rspBytes);
    const dv = new DataView(rsp.buffer);
    dv.setUint32(a.rspId, req.getUint32(a.id, true), true);
    dv.setUint32(a.rspId + 4, req.getUint32(a.id + 4, true), true);
    dv.setUint8(a.rspOperation, op);
    dv.setInt16(a.rspStatus, status, true);
    if (status === BLKIF_RSP_ERROR) this.stats.errors++;
    if (status === BLKIF_RSP_EOPNOTSUPP) this.stats.eopnotsupp++;
    const n = this.requests++;
    this.fault = undefined;
    const publish = (rsps: readonly Uint8Array[]): void => {
      if (this.conn !== c || rsps.length === 0) return;
      for (const r of rsps) {
        this.observeResponse(c, r);
        c.ring.putResponse(r);
      }
      if (c.ring.pushResponses()) {
        this.stats.notifies++;
        this.o.events.host.send(c.hostPort);
      }
    };
    if (this.o.hooks?.response({ n, bytes: rsp, idOffset: a.rspId }, publish) === true) return;
    publish([rsp]);
  }

  private fail(c: Connected, req: DataView, op: number, why: string): void {
    this.diag(`${why}: ${statusName(BLKIF_RSP_ERROR)}`);
    this.respond(c, req, op, BLKIF_RSP_ERROR);
  }

  /** xen-blkback `dispatch_rw_block_io`: READ, WRITE, FLUSH_DISKCACHE, WRITE_BARRIER, INDIRECT. */
  private readWrite(c: Connected, req: DataView, op: number): void {
    const a = c.abi;
    const indirect = op === BLKIF_OP_INDIRECT;
    const rop = indirect ? req.getUint8(a.indirectOp) : op;
    if (indirect && rop !== BLKIF_OP_READ && rop !== BLKIF_OP_WRITE) return this.fail(c, req, rop, `invalid indirect operation ${rop}`);
    const flush = rop === BLKIF_OP_FLUSH_DISKCACHE || rop === BLKIF_OP_WRITE_BARRIER;
    if (rop === BLKIF_OP_READ) this.stats.reads++;
    else if (rop === BLKIF_OP_WRITE) this.stats.writes++;
    else this.stats.flushes++;

    const nseg = indirect ? req.getUint16(a.indirectNrSegments, true) : req.getUint8(a.nrSegments);
    if ((nseg === 0 && !flush) || (!indirect && nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST) || (indirect && nseg > this.maxIndirectSegments)) {
      return this.fail(c, req, rop, `bad number of segments in request (${nseg})`);
    }
    const sector = u64(req, indirect ? a.indirectSector : a.sector);

    // The segment descriptors: in the request, or copied once out of the indirect pages.
    let descs: DataView;
    if (indirect) {
      const pages = Math.ceil(nseg / SEGS_PER_INDIRECT_FRAME);
      const buf = new Uint8Array(nseg * 8);
      for (let p = 0; p < pages; p++) {
        const gref = req.getUint32(a.indirectGrefs + p * 4, true);
        const m = this.mapData(c, gref, true);
        if (m === undefined) return this.fail(c, req, rop, `could not map indirect page ${p} (gref ${gref})`);
        const n = Math.min(SEGS_PER_INDIRECT_FRAME, nseg - p * SEGS_PER_INDIRECT_FRAME) * 8;
        buf.set(new Uint8Array(m.view.buffer, m.view.byteOffset, n), p * PAGE);
        this.releaseData(c, gref, m);
      }
      descs = new DataView(buf.buffer);
    } else {
      descs = new DataView(req.buffer, req.byteOffset + a.seg, nseg * 8);
    }
    const segs: Segment[] = [];
    let total = 0;
    for (let i = 0; i < nseg; i++) {
      const first = descs.getUint8(i * 8 + 4);
      const last = descs.getUint8(i * 8 + 5);
      if (last >= SECTORS_PER_PAGE || last < first) return this.fail(c, req, rop, `segment ${i}: first_sect ${first}, last_sect ${last}`);
      segs.push({ gref: descs.getUint32(i * 8, true), first, nsec: last - first + 1 });
      total += last - first + 1;
    }
    // xen_vbd_translate: writes (and flushes) need a writable disk; the range must lie inside it.
    if (rop !== BLKIF_OP_READ && this.o.image.readOnly) return this.fail(c, req, rop, `write access to a read-only disk`);
    if (total > 0 && !(sector + total <= this.o.image.sectors)) {
      return this.fail(c, req, rop, `access beyond end of device: sectors [${sector}, +${total}) of ${this.o.image.sectors}`);
    }

    // Map every data page before touching the disk: a bad grant fails the request whole.
    const maps: HostMapping[] = [];
    const unmapAll = (): void => {
      segs.forEach((s, i) => {
        const m = maps[i];
        if (m !== undefined) this.releaseData(c, s.gref, m);
      });
    };
    const f = this.fault;
    const failSeg = f !== undefined && 'failMapSeg' in f ? f.failMapSeg : -1;
    for (const s of segs) {
      const m = maps.length === failSeg ? undefined : this.mapData(c, s.gref, rop !== BLKIF_OP_READ);
      if (m === undefined) {
        unmapAll();
        return this.fail(c, req, rop, `could not map data page (gref ${s.gref})`);
      }
      maps.push(m);
    }
    let status = BLKIF_RSP_OKAY;
    try {
      if (flush) this.o.image.flush();
      let at = sector;
      segs.forEach((s, i) => {
        const v = (maps[i] as HostMapping).view;
        const bytes = new Uint8Array(v.buffer, v.byteOffset + s.first * SECTOR_SIZE, s.nsec * SECTOR_SIZE);
        if (rop === BLKIF_OP_READ) {
          this.o.image.read(at, bytes);
          if (f !== undefined && 'corrupt' in f) for (let k = 0; k < bytes.length; k++) bytes[k] = (bytes[k] as number) ^ 0xff;
        } else this.o.image.write(at, bytes.slice());
        at += s.nsec;
      });
      if (rop === BLKIF_OP_READ) this.stats.sectorsRead += total;
      else this.stats.sectorsWritten += total;
    } catch (e) {
      // The image failed (a host I/O error): the request fails, as a bio error would.
      status = BLKIF_RSP_ERROR;
      this.diag(`I/O error on ${this.o.image.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
    unmapAll();
    this.respond(c, req, rop, status);
  }

  /** xen-blkback `dispatch_discard_io`. */
  private discardOp(c: Connected, req: DataView): void {
    const a = c.abi;
    this.stats.discards++;
    const sector = u64(req, a.sector);
    const count = u64(req, a.discardNrSectors);
    if (this.o.image.readOnly) return this.fail(c, req, BLKIF_OP_DISCARD, 'discard on a read-only disk');
    if (count > 0 && !(sector + count <= this.o.image.sectors)) {
      return this.fail(c, req, BLKIF_OP_DISCARD, `discard beyond end of device: sectors [${sector}, +${count}) of ${this.o.image.sectors}`);
    }
    if (!this.discard) {
      this.diag('discard without feature-discard: BLKIF_RSP_EOPNOTSUPP');
      return this.respond(c, req, BLKIF_OP_DISCARD, BLKIF_RSP_EOPNOTSUPP);
    }
    // BLKIF_DISCARD_SECURE asks for a secure erase; we offer none (discard-secure 0), so, as
    // Linux does without it, it is an ordinary discard: zeros either way.
    let status = BLKIF_RSP_OKAY;
    try {
      if (count > 0) this.o.image.discard(sector, count);
    } catch (e) {
      status = BLKIF_RSP_ERROR;
      this.diag(`I/O error on ${this.o.image.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.respond(c, req, BLKIF_OP_DISCARD, status);
  }

  /**
   * Maps data grant `gref` of the frontend (`ro`: the backend only reads it). With persistent
   * grants the mapping is writable, found or added in the connection's set, and stays.
   */
  private mapData(c: Connected, gref: number, ro: boolean): HostMapping | undefined {
    if (c.persistent) {
      const have = this.persistentGrants.get(gref);
      if (have !== undefined) return have;
      const m = this.o.grants.mapForHost(this.o.frontend, gref, false);
      if (typeof m === 'number') return undefined;
      if (this.persistentGrants.size < MAX_PERSISTENT) this.persistentGrants.set(gref, m);
      return m;
    }
    const m = this.o.grants.mapForHost(this.o.frontend, gref, ro);
    return typeof m === 'number' ? undefined : m;
  }

  /** Ends a use of `m`: unmapped unless it is one of the connection's persistent grants. */
  private releaseData(c: Connected, gref: number, m: HostMapping): void {
    if (c.persistent && this.persistentGrants.get(gref) === m) return;
    this.unmap(m);
  }

  /** The ring's private indices (tests, save records). */
  ringState(): { reqCons: number; rspProdPvt: number; size: number } | undefined {
    const r = this.conn?.ring;
    return r === undefined ? undefined : { reqCons: r.reqCons, rspProdPvt: r.rspProdPvt, size: r.size };
  }
}

/** An unsigned 64-bit field of a private copy, as a double (exact below 2^53; beyond, beyond any disk). */
function u64(dv: DataView, off: number): number {
  return dv.getUint32(off + 4, true) * 4294967296 + dv.getUint32(off, true);
}
