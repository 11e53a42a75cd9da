/**
 * blkback against a model disk: random sequences of READ, WRITE (direct and indirect, any
 * offset within the pages), DISCARD, FLUSH and malformed requests, alone or several per push,
 * from the test frontend on either ABI, with or without persistent grants and multi-page rings.
 * After every response the disk equals the model and every READ returned the model's bytes;
 * malformed requests change nothing; after disconnect no grant is mapped or in use and the
 * copy-on-write base was never written. Seeded (the run's seed is printed first).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BLKIF_OP_DISCARD,
  BLKIF_OP_FLUSH_DISKCACHE,
  BLKIF_OP_READ,
  BLKIF_OP_WRITE,
  BLKIF_RSP_ERROR,
  BLKIF_RSP_OKAY,
} from '../../../abi/public/io/blkif.js';
import { GTF_reading, GTF_writing } from '../../../abi/public/grant-table.js';
import { Blkback } from '../../../harness/backends/blkback.js';
import { memoryImage } from '../../../harness/backends/disk-image.js';
import { BlkIo, pattern, same, SECTOR } from './blk-io.js';
import { blkWorld, TestBlkfront } from './blkfront.js';

const SECTORS = 256;

type Cmd =
  | { k: 'write'; sector: number; n: number; start: number; tag: number }
  | { k: 'read'; sector: number; n: number; start: number }
  | { k: 'iwrite'; sector: number; n: number; per: number; tag: number }
  | { k: 'iread'; sector: number; n: number; per: number }
  | { k: 'discard'; sector: number; n: number }
  | { k: 'flush' }
  | { k: 'batch'; writes: { sector: number; n: number; tag: number }[] }
  | { k: 'bad'; what: 'range' | 'gref' | 'seg' | 'nseg'; sector: number };

const sector = fc.integer({ min: 0, max: SECTORS + 8 });
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ k: fc.constant('write' as const), sector, n: fc.integer({ min: 1, max: 40 }), start: fc.integer({ min: 0, max: 7 }), tag: fc.nat() }),
  fc.record({ k: fc.constant('read' as const), sector, n: fc.integer({ min: 1, max: 40 }), start: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ k: fc.constant('iwrite' as const), sector, n: fc.integer({ min: 1, max: 120 }), per: fc.integer({ min: 1, max: 8 }), tag: fc.nat() }),
  fc.record({ k: fc.constant('iread' as const), sector, n: fc.integer({ min: 1, max: 120 }), per: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ k: fc.constant('discard' as const), sector, n: fc.integer({ min: 0, max: 64 }) }),
  fc.constant({ k: 'flush' as const }),
  fc.record({ k: fc.constant('batch' as const), writes: fc.array(fc.record({ sector, n: fc.integer({ min: 1, max: 16 }), tag: fc.nat() }), { minLength: 2, maxLength: 6 }) }),
  fc.record({ k: fc.constant('bad' as const), what: fc.constantFrom('range' as const, 'gref' as const, 'seg' as const, 'nseg' as const), sector }),
);

const fits = (s: number, n: number) => s + n <= SECTORS;

describe('blkback against a model disk', () => {
  it('keeps the disk equal to the model, leaves no grant behind and never writes the base', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('x86_64-abi' as const, 'x86_32-abi' as const),
        fc.boolean(),
        fc.constantFrom(1, 2),
        fc.array(cmd, { maxLength: 25 }),
        (protocol, persistent, ringPages, cmds) => {
          const w = blkWorld();
          const base = pattern(SECTORS, 70);
          const baseCopy = base.slice();
          const image = memoryImage(base, 'overlay');
          const model = base.slice();
          const f = new TestBlkfront(w, { protocol, persistent, ringPages });
          const be = new Blkback({ events: w.xen.events, grants: w.hub, frontend: 1, image, features: { maxIndirectSegments: 512 } });
          expect(be.connect(f.connection())).toBeUndefined();
          const io = new BlkIo(f, 96);
          const disk = () => {
            const out = new Uint8Array(SECTORS * SECTOR);
            image.read(0, out);
            return out;
          };
          for (const c of cmds) {
            switch (c.k) {
              case 'write': {
                const data = pattern(c.n, c.tag);
                const r = io.write(c.sector, data, c.start);
                expect(r.status).toBe(fits(c.sector, c.n) ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR);
                if (r.status === BLKIF_RSP_OKAY) model.set(data, c.sector * SECTOR);
                break;
              }
              case 'read': {
                const r = io.read(c.sector, c.n, c.start);
                expect(r.status).toBe(fits(c.sector, c.n) ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR);
                if (r.status === BLKIF_RSP_OKAY) expect(same(r.data, model.subarray(c.sector * SECTOR, (c.sector + c.n) * SECTOR))).toBe(true);
                break;
              }
              case 'iwrite': {
                const data = pattern(c.n, c.tag);
                const r = io.indirect(BLKIF_OP_WRITE, c.sector, c.n, data, c.per);
                expect(r.status).toBe(fits(c.sector, c.n) ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR);
                if (r.status === BLKIF_RSP_OKAY) model.set(data, c.sector * SECTOR);
                break;
              }
              case 'iread': {
                const r = io.indirect(BLKIF_OP_READ, c.sector, c.n, undefined, c.per);
                expect(r.status).toBe(fits(c.sector, c.n) ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR);
                if (r.status === BLKIF_RSP_OKAY) expect(same(r.data, model.subarray(c.sector * SECTOR, (c.sector + c.n) * SECTOR))).toBe(true);
                break;
              }
              case 'discard': {
                const r = io.simple(BLKIF_OP_DISCARD, c.sector, { nrSectors: c.n });
                const ok = c.n === 0 || fits(c.sector, c.n);
                expect(r.status).toBe(ok ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR);
                if (ok) model.fill(0, c.sector * SECTOR, (c.sector + c.n) * SECTOR);
                break;
              }
              case 'flush':
                expect(io.simple(BLKIF_OP_FLUSH_DISKCACHE).status).toBe(BLKIF_RSP_OKAY);
                break;
              case 'batch': {
                // Several writes in one push: answered in order, applied in order.
                const reqs = c.writes.map((x) => {
                  const data = pattern(x.n, x.tag);
                  const p = io.pages(x.n, 0, data, true);
                  const id = io.id();
                  f.queue({ operation: BLKIF_OP_WRITE, id, sector: x.sector, segs: p.segs });
                  return { x, data, p, id };
                });
                const rs = io.run();
                expect(rs.map((r) => r.id)).toEqual(reqs.map((r) => r.id));
                reqs.forEach((q, i) => {
                  const ok = fits(q.x.sector, q.x.n);
                  expect(rs[i]!.status).toBe(ok ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR);
                  if (ok) model.set(q.data, q.x.sector * SECTOR);
                  io.release(q.p);
                });
                break;
              }
              case 'bad': {
                const p = io.pages(2, 0, pattern(2, 1), true);
                const segs = p.segs.map((s) => ({ ...s }));
                let s: number | bigint = c.sector;
                let nrSegments: number | undefined;
                if (c.what === 'range') s = c.sector % 3 === 0 ? 2n ** 64n - 1n : SECTORS - 1;
                if (c.what === 'gref') segs[segs.length - 1]!.gref = 5000 + c.sector;
                if (c.what === 'seg') segs[0]!.last = 8 + (c.sector % 200);
                if (c.what === 'nseg') nrSegments = 12 + (c.sector % 200);
                f.queue({ operation: BLKIF_OP_WRITE, id: io.id(), sector: s, segs, ...(nrSegments !== undefined ? { nrSegments } : {}) });
                const rs = io.run();
                expect(rs.map((r) => r.status)).toEqual([BLKIF_RSP_ERROR]);
                io.release(p);
                break;
              }
            }
            expect(same(disk(), model)).toBe(true);
            if (!persistent) expect(w.hub.mappings().filter((m) => m.mapper === 0).length).toBe(ringPages);
          }
          be.disconnect();
          expect(w.hub.mappings().length).toBe(0);
          for (let ref = 0; ref < 512; ref++) expect(w.front.gnttab!.table.readEntry(ref).flags & (GTF_reading | GTF_writing)).toBe(0);
          expect(same(base, baseCopy)).toBe(true);
          expect(be.broken).toBeUndefined();
        },
      ),
      { numRuns: 100 },
    );
  });
});
