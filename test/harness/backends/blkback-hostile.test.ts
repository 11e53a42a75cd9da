/**
 * blkback against a hostile frontend: each malformed request gets Linux blkback's answer
 * (BLKIF_RSP_ERROR or BLKIF_RSP_EOPNOTSUPP) with nothing read or written and no grant left
 * mapped; a ring whose req_prod overruns the ring halts with a diagnostic; a frontend that
 * rewrites a request (its slot, its indirect page) while blkback processes it changes nothing,
 * because every decision reads blkback's private copy. No case throws in the host.
 */
import { describe, expect, it } from 'vitest';
import {
  BLKIF_OP_DISCARD,
  BLKIF_OP_INDIRECT,
  BLKIF_OP_READ,
  BLKIF_OP_RESERVED_1,
  BLKIF_OP_WRITE,
  BLKIF_RSP_EOPNOTSUPP,
  BLKIF_RSP_ERROR,
  BLKIF_RSP_OKAY,
} from '../../../abi/public/io/blkif.js';
import { memoryImage, type DiskImage } from '../../../harness/backends/disk-image.js';
import { pattern, same, SECTOR } from './blk-io.js';
import { grantPage, OTHER, type Response } from './blkfront.js';
import { setup } from './blk-setup.js';

const PROTOCOLS = ['x86_64-abi', 'x86_32-abi'] as const;

describe.each(PROTOCOLS)('blkback, hostile frontend on %s', (protocol) => {
  /** Sends one raw request and returns its only response; checks the disk did not change. */
  function one(req: Parameters<ReturnType<typeof setup>['f']['queue']>[0], s = setup({ protocol })) {
    const before = s.image.sectors;
    const snap = new Uint8Array(before * SECTOR);
    s.image.read(0, snap);
    s.f.queue(req);
    const rs = s.io.run();
    const after = new Uint8Array(before * SECTOR);
    s.image.read(0, after);
    expect(same(after, snap)).toBe(true);
    expect(s.hostMaps()).toBe(1); // the ring only
    expect(rs.length).toBe(1);
    return { rsp: rs[0] as Response, s };
  }

  it('unknown operations: BLKIF_RSP_EOPNOTSUPP with the operation echoed', () => {
    for (const op of [BLKIF_OP_RESERVED_1, 7, 0x80, 255]) {
      const { rsp } = one({ operation: op, id: 5n, sector: 0 });
      expect(rsp).toEqual({ id: 5n, operation: op, status: BLKIF_RSP_EOPNOTSUPP });
    }
  });

  it('segment counts: none for a READ/WRITE, more than 11, more indirect segments than offered', () => {
    const s = setup({ protocol });
    const p = s.io.pages(8);
    expect(one({ operation: BLKIF_OP_WRITE, id: 1n, sector: 0, segs: [] }, s).rsp.status).toBe(BLKIF_RSP_ERROR);
    expect(one({ operation: BLKIF_OP_READ, id: 1n, sector: 0, segs: p.segs, nrSegments: 12 }, s).rsp.status).toBe(BLKIF_RSP_ERROR);
    expect(one({ operation: BLKIF_OP_READ, id: 1n, sector: 0, segs: p.segs, nrSegments: 255 }, s).rsp.status).toBe(BLKIF_RSP_ERROR);
    const ind = s.f.allocPfn();
    const iref = s.f.grant(ind, true);
    s.f.writeIndirectPage(ind, Array.from({ length: 257 }, () => p.segs[0]!));
    const r = one({ operation: BLKIF_OP_INDIRECT, indirectOp: BLKIF_OP_READ, id: 2n, sector: 0, nrSegments: 257, indirectGrefs: [iref] }, s).rsp;
    expect([r.operation, r.status]).toEqual([BLKIF_OP_READ, BLKIF_RSP_ERROR]);
    expect(one({ operation: BLKIF_OP_INDIRECT, indirectOp: BLKIF_OP_WRITE, id: 2n, sector: 0, nrSegments: 0, indirectGrefs: [iref] }, s).rsp.status).toBe(BLKIF_RSP_ERROR);
    // An indirect request for anything but READ/WRITE: the indirect_op is echoed.
    const d = one({ operation: BLKIF_OP_INDIRECT, indirectOp: BLKIF_OP_DISCARD, id: 3n, sector: 0, nrSegments: 1, indirectGrefs: [iref] }, s).rsp;
    expect([d.operation, d.status]).toEqual([BLKIF_OP_DISCARD, BLKIF_RSP_ERROR]);
    expect(s.be.diagnostics.some((l) => /bad number of segments/.test(l))).toBe(true);
  });

  it('INDIRECT is EOPNOTSUPP when the backend offers no indirect segments', () => {
    const s = setup({ protocol, features: { maxIndirectSegments: 0 } });
    expect(one({ operation: BLKIF_OP_INDIRECT, indirectOp: BLKIF_OP_READ, id: 1n, sector: 0, nrSegments: 1, indirectGrefs: [8] }, s).rsp.status).toBe(BLKIF_RSP_EOPNOTSUPP);
  });

  it('first_sect/last_sect: reversed or past the page fails the whole request, nothing written', () => {
    const s = setup({ protocol });
    const data = pattern(16, 40);
    const p = s.io.pages(16, 0, data);
    for (const bad of [
      { first: 3, last: 2 },
      { first: 0, last: 8 },
      { first: 200, last: 255 },
    ]) {
      const segs = [p.segs[0]!, { gref: p.segs[1]!.gref, ...bad }];
      expect(one({ operation: BLKIF_OP_WRITE, id: 9n, sector: 10, segs }, s).rsp.status).toBe(BLKIF_RSP_ERROR);
    }
  });

  it('sectors outside the disk, and ranges that wrap 2^64, are refused', () => {
    const s = setup({ protocol });
    const p = s.io.pages(8, 0, pattern(8, 41));
    const n = s.image.sectors;
    for (const sector of [n, n - 7, 2 ** 40, 0xfffffffffffffff9n, 0xffffffffffffffffn]) {
      expect(one({ operation: BLKIF_OP_WRITE, id: 1n, sector, segs: p.segs }, s).rsp.status).toBe(BLKIF_RSP_ERROR);
      expect(one({ operation: BLKIF_OP_READ, id: 1n, sector, segs: p.segs }, s).rsp.status).toBe(BLKIF_RSP_ERROR);
    }
    expect(one({ operation: BLKIF_OP_DISCARD, id: 1n, sector: 1, nrSectors: 0xffffffffffffffffn }, s).rsp.status).toBe(BLKIF_RSP_ERROR);
    expect(one({ operation: BLKIF_OP_DISCARD, id: 1n, sector: n, nrSectors: 1 }, s).rsp.status).toBe(BLKIF_RSP_ERROR);
    // The last sector itself is fine.
    expect(s.io.read(n - 1, 1).status).toBe(BLKIF_RSP_OKAY);
  });

  it('bad grants: beyond the table, unused, granted to another domain, read-only for a READ, another domain\'s', () => {
    const s = setup({ protocol });
    const good = s.io.pages(1, 0, pattern(1, 42));
    const unused = 300;
    const foreign = s.f.allocRef();
    grantPage(s.w.front, foreign, OTHER, s.f.allocPfn()); // granted to domain 2, not the backend
    const roRef = s.f.grant(s.f.allocPfn(), true);
    // Domain 2 grants its page to domain 0 as its ref 450: a valid grant, but not the frontend's.
    grantPage(s.w.other, 450, 0, 3);
    for (const gref of [100000, 0xffffffff, unused, foreign, 450]) {
      const segs = [good.segs[0]!, { gref, first: 0, last: 0 }];
      expect(one({ operation: BLKIF_OP_WRITE, id: 1n, sector: 0, segs }, s).rsp.status).toBe(BLKIF_RSP_ERROR);
      expect(one({ operation: BLKIF_OP_READ, id: 1n, sector: 0, segs }, s).rsp.status).toBe(BLKIF_RSP_ERROR);
    }
    expect(one({ operation: BLKIF_OP_READ, id: 1n, sector: 0, segs: [{ gref: roRef, first: 0, last: 0 }] }, s).rsp.status).toBe(BLKIF_RSP_ERROR);
    // The read-only grant is fine for a WRITE (blkback only reads the page).
    const w = s.io.write(0, pattern(1, 43));
    expect(w.status).toBe(BLKIF_RSP_OKAY);
    expect(s.w.other.gnttab!.table.readEntry(450).flags & 0x18).toBe(0);
    expect(s.be.diagnostics.some((l) => /could not map data page/.test(l))).toBe(true);
  });

  it('an indirect page that does not map fails the request', () => {
    const s = setup({ protocol });
    const r = one({ operation: BLKIF_OP_INDIRECT, indirectOp: BLKIF_OP_READ, id: 4n, sector: 0, nrSegments: 1, indirectGrefs: [4000] }, s).rsp;
    expect([r.id, r.operation, r.status]).toEqual([4n, BLKIF_OP_READ, BLKIF_RSP_ERROR]);
  });

  it('req_prod overrunning the ring halts it with a diagnostic; nothing is answered, nothing throws', () => {
    const s = setup({ protocol });
    s.io.read(0, 1);
    const p = s.io.pages(1);
    for (let i = 0; i < 3; i++) s.f.queue({ operation: BLKIF_OP_READ, id: BigInt(i), sector: 0, segs: p.segs });
    s.f.reqProd = s.f.rspCons + s.f.size + 1;
    s.f.notify();
    expect(s.f.responses()).toEqual([]);
    expect(s.be.broken).toMatch(/bogus ring requests.*ring halted/);
    // Further notifications are ignored; disconnecting still releases everything.
    s.f.reqProd = s.f.reqProdPvt;
    s.f.notify();
    expect(s.f.responses()).toEqual([]);
    s.be.disconnect();
    expect(s.hostMaps()).toBe(0);
  });

  it('a req_prod of exactly a ring\'s worth is served (the limit is inclusive)', () => {
    const s = setup({ protocol });
    const p = s.io.pages(1);
    for (let i = 0; i < s.f.size; i++) s.f.queue({ operation: BLKIF_OP_READ, id: BigInt(i), sector: 0, segs: p.segs });
    const rs = s.io.run();
    expect(rs.length).toBe(s.f.size);
    expect(s.be.broken).toBeUndefined();
  });

  it('rewriting the request slot during processing changes nothing (one private copy)', () => {
    const base = pattern(512, 44);
    const inner = memoryImage(base.slice(), 'rw');
    let hook: (() => void) | undefined;
    const image: DiskImage = Object.assign(Object.create(inner) as DiskImage, {
      write(sector: number, data: Uint8Array) {
        hook?.();
        hook = undefined;
        inner.write(sector, data);
      },
    });
    const s = setup({ protocol, image });
    const data = pattern(16, 45);
    const p = s.io.pages(16, 0, data);
    const slot = s.f.reqProdPvt;
    s.f.queue({ operation: BLKIF_OP_WRITE, id: 77n, sector: 100, segs: p.segs });
    // During the first segment's write, the frontend turns the request into one for the end of
    // the disk with another grant and 11 segments: blkback must not notice.
    hook = () => s.f.queue({ operation: BLKIF_OP_READ, id: 78n, sector: 511, segs: Array.from({ length: 11 }, () => ({ gref: 5000, first: 0, last: 7 })) }, slot);
    const rs = s.io.run();
    expect(rs).toEqual([{ id: 77n, operation: BLKIF_OP_WRITE, status: BLKIF_RSP_OKAY }]);
    s.io.release(p);
    const now = new Uint8Array(16 * SECTOR);
    inner.read(100, now);
    expect(same(now, data)).toBe(true);
    expect(hook).toBeUndefined();
  });

  it('rewriting the indirect descriptors during processing changes nothing', () => {
    const inner = memoryImage(pattern(512, 46), 'rw');
    let hook: (() => void) | undefined;
    const image: DiskImage = Object.assign(Object.create(inner) as DiskImage, {
      write(sector: number, data: Uint8Array) {
        hook?.();
        hook = undefined;
        inner.write(sector, data);
      },
    });
    const s = setup({ protocol, image });
    const data = pattern(24, 47);
    const p = s.io.pages(24, 0, data);
    const ind = s.f.allocPfn();
    s.f.writeIndirectPage(ind, p.segs);
    const iref = s.f.grant(ind, true);
    hook = () => s.f.writeIndirectPage(ind, p.segs.map(() => ({ gref: 4000, first: 7, last: 2 })));
    s.f.queue({ operation: BLKIF_OP_INDIRECT, indirectOp: BLKIF_OP_WRITE, id: 5n, sector: 200, nrSegments: p.segs.length, indirectGrefs: [iref] });
    const rs = s.io.run();
    expect(rs).toEqual([{ id: 5n, operation: BLKIF_OP_WRITE, status: BLKIF_RSP_OKAY }]);
    const now = new Uint8Array(24 * SECTOR);
    inner.read(200, now);
    expect(same(now, data)).toBe(true);
  });

  it('a frontend notifying from inside processing (re-entrant kick) is served after, in order', () => {
    const inner = memoryImage(pattern(512, 48), 'rw');
    let hook: (() => void) | undefined;
    const image: DiskImage = Object.assign(Object.create(inner) as DiskImage, {
      read(sector: number, out: Uint8Array) {
        inner.read(sector, out);
        const h = hook;
        hook = undefined;
        h?.();
      },
    });
    const s = setup({ protocol, image });
    const p1 = s.io.pages(1);
    const p2 = s.io.pages(1);
    s.f.queue({ operation: BLKIF_OP_READ, id: 1n, sector: 0, segs: p1.segs });
    hook = () => {
      s.f.queue({ operation: BLKIF_OP_READ, id: 2n, sector: 1, segs: p2.segs });
      s.f.push();
    };
    const rs = s.io.run();
    expect(rs.map((r) => [r.id, r.status])).toEqual([
      [1n, BLKIF_RSP_OKAY],
      [2n, BLKIF_RSP_OKAY],
    ]);
  });

  it('connect refuses a ring it cannot map or an event channel it cannot bind, leaving nothing behind', () => {
    const s = setup({ protocol });
    s.be.disconnect();
    expect(s.be.connect({ ringRefs: [4000], port: s.f.port, protocol })).toMatch(/mapping ring-ref 4000/);
    expect(s.be.connect({ ringRefs: [s.f.ringRefs[0]!, s.f.ringRefs[0]!, 8], port: s.f.port, protocol })).toMatch(/power of two/);
    expect(s.be.connect({ ringRefs: s.f.ringRefs, port: 999, protocol })).toMatch(/binding event-channel 999/);
    expect(s.be.connect({ ringRefs: s.f.ringRefs, port: s.f.port, protocol: 'arm-abi' })).toMatch(/unknown protocol/);
    expect(s.hostMaps()).toBe(0);
    // The frontend's port went back to unbound at disconnect: a reconnect works.
    expect(s.be.connect(s.f.connection())).toBeUndefined();
    expect(s.io.read(0, 1).status).toBe(BLKIF_RSP_OKAY);
  });
});
