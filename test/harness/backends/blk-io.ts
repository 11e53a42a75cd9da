/**
 * Block I/O through the test blkfront: data pages granted per request (or, with persistent
 * grants, a pool granted once and reused), requests built, pushed, answered, and the grants
 * ended afterwards (which fails if blkback left one mapped).
 */
import { BLKIF_OP_INDIRECT, BLKIF_OP_READ, BLKIF_OP_WRITE } from '../../../abi/public/io/blkif.js';
import type { Response, Seg, TestBlkfront } from './blkfront.js';

export const SECTOR = 512;

/** Data pages for one request: `sectors` sectors, the first segment starting `start` sectors into its page. */
export interface DataPages {
  segs: Seg[];
  pfns: number[];
  refs: number[];
}

export class BlkIo {
  private nextId = 1n;
  /** Persistent mode: pool pages and their grants, reused round-robin. */
  private readonly pool: { pfn: number; ref: number }[] = [];
  private poolNext = 0;
  private readonly indirectPool: { pfn: number; ref: number }[] = [];

  constructor(
    readonly f: TestBlkfront,
    poolPages = 64,
  ) {
    if (f.persistent) {
      for (let i = 0; i < poolPages; i++) {
        const pfn = f.allocPfn();
        this.pool.push({ pfn, ref: f.grant(pfn) });
      }
    }
  }

  id(): bigint {
    return this.nextId++;
  }

  /** Pages for `sectors` sectors; the bytes of `data` (if any) copied into them. */
  pages(sectors: number, start = 0, data?: Uint8Array, readonly = false): DataPages {
    const out: DataPages = { segs: [], pfns: [], refs: [] };
    let done = 0;
    let first = start;
    while (done < sectors) {
      const n = Math.min(8 - first, sectors - done);
      let pfn: number;
      let ref: number;
      if (this.f.persistent) {
        const p = this.pool[this.poolNext++ % this.pool.length] as { pfn: number; ref: number };
        pfn = p.pfn;
        ref = p.ref;
      } else {
        pfn = this.f.allocPfn();
        ref = this.f.grant(pfn, readonly);
      }
      const pg = this.f.page(pfn);
      const bytes = new Uint8Array(pg.buffer, pg.byteOffset, 4096);
      bytes.fill(0xee);
      if (data !== undefined) bytes.set(data.subarray(done * SECTOR, (done + n) * SECTOR), first * SECTOR);
      out.segs.push({ gref: ref, first, last: first + n - 1 });
      out.pfns.push(pfn);
      out.refs.push(ref);
      done += n;
      first = 0;
    }
    return out;
  }

  /** The sectors the segments cover, gathered from their pages. */
  gather(p: DataPages): Uint8Array {
    const total = p.segs.reduce((s, g) => s + g.last - g.first + 1, 0);
    const out = new Uint8Array(total * SECTOR);
    let at = 0;
    p.segs.forEach((s, i) => {
      const pg = this.f.page(p.pfns[i] as number);
      const n = (s.last - s.first + 1) * SECTOR;
      out.set(new Uint8Array(pg.buffer, pg.byteOffset + s.first * SECTOR, n), at);
      at += n;
    });
    return out;
  }

  /** Ends the request's grants (non-persistent mode); throws if blkback still holds one. */
  release(p: DataPages): void {
    if (this.f.persistent) return;
    for (const r of new Set(p.refs)) if (!this.f.endGrant(r)) throw new Error(`grant ${r} still in use after the response`);
    for (const pfn of new Set(p.pfns)) this.f.freePfn(pfn);
  }

  /** Pushes what is queued and returns the responses. */
  run(): Response[] {
    this.f.push();
    return this.f.responses();
  }

  /** One READ or WRITE of up to 11 segments; returns the status and, for a READ, the bytes. */
  rw(op: typeof BLKIF_OP_READ | typeof BLKIF_OP_WRITE, sector: number, sectors: number, data?: Uint8Array, start = 0): { status: number; data?: Uint8Array; rsp: Response } {
    const p = this.pages(sectors, start, data, op === BLKIF_OP_WRITE);
    const id = this.id();
    this.f.queue({ operation: op, id, sector, segs: p.segs });
    const rs = this.run();
    if (rs.length !== 1 || rs[0]!.id !== id) throw new Error(`expected one response to ${id}, got ${JSON.stringify(rs, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
    const got = op === BLKIF_OP_READ ? this.gather(p) : undefined;
    this.release(p);
    return { status: rs[0]!.status, data: got, rsp: rs[0]! };
  }

  read(sector: number, sectors: number, start = 0) {
    return this.rw(BLKIF_OP_READ, sector, sectors, undefined, start);
  }

  write(sector: number, data: Uint8Array, start = 0) {
    return this.rw(BLKIF_OP_WRITE, sector, data.length / SECTOR, data, start);
  }

  /** An INDIRECT READ/WRITE of `sectors` sectors (one sector per segment when `perSeg` is 1). */
  indirect(op: number, sector: number, sectors: number, data?: Uint8Array, perSeg = 8): { status: number; data?: Uint8Array; rsp: Response } {
    // Segments of `perSeg` sectors each.
    // Whole pages, each cut into segments of `perSeg` sectors that share the page's grant.
    const pages = this.pages(sectors, 0, data, op === BLKIF_OP_WRITE);
    const all: DataPages = { segs: [], pfns: [], refs: pages.refs };
    pages.segs.forEach((s, i) => {
      for (let first = s.first; first <= s.last; first += perSeg) {
        all.segs.push({ gref: s.gref, first, last: Math.min(first + perSeg - 1, s.last) });
        all.pfns.push(pages.pfns[i] as number);
      }
    });
    const nIndirect = Math.ceil(all.segs.length / 512);
    // Descriptor pages: read-only grants per request, or (persistent, as Linux blkfront) a
    // pool of writable grants kept for the connection.
    const ind: DataPages = { segs: [], pfns: [], refs: [] };
    for (let i = 0; i < nIndirect; i++) {
      let pfn: number;
      let ref: number;
      if (this.f.persistent) {
        while (this.indirectPool.length <= i) {
          const p = this.f.allocPfn();
          this.indirectPool.push({ pfn: p, ref: this.f.grant(p) });
        }
        ({ pfn, ref } = this.indirectPool[i] as { pfn: number; ref: number });
      } else {
        pfn = this.f.allocPfn();
        ref = this.f.grant(pfn, true);
      }
      this.f.writeIndirectPage(pfn, all.segs.slice(i * 512, (i + 1) * 512));
      ind.pfns.push(pfn);
      ind.refs.push(ref);
    }
    const id = this.id();
    this.f.queue({ operation: BLKIF_OP_INDIRECT, indirectOp: op, id, sector, nrSegments: all.segs.length, indirectGrefs: ind.refs });
    const rs = this.run();
    if (rs.length !== 1 || rs[0]!.id !== id) throw new Error(`expected one response to ${id}`);
    const got = op === BLKIF_OP_READ ? this.gather(all) : undefined;
    this.release(all);
    this.release(ind);
    return { status: rs[0]!.status, data: got, rsp: rs[0]! };
  }

  /** A request without data (FLUSH_DISKCACHE, WRITE_BARRIER with no segments, DISCARD, unknown ops). */
  simple(operation: number, sector = 0, extra: { nrSectors?: number | bigint; flag?: number } = {}): Response {
    const id = this.id();
    this.f.queue({ operation, id, sector, segs: [], ...extra });
    const rs = this.run();
    if (rs.length !== 1 || rs[0]!.id !== id) throw new Error(`expected one response to ${id}`);
    return rs[0]!;
  }
}

/** Byte-for-byte equality of two buffers (vitest's deep equality is slow on megabytes). */
export function same(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/** Deterministic bytes for `sectors` sectors, different per `tag`. */
export function pattern(sectors: number, tag: number): Uint8Array {
  const out = new Uint8Array(sectors * SECTOR);
  let x = (tag * 2654435761) >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
