/**
 * blkback (harness/backends/blkback.ts) driven by a small blkfront in a real domain: its grant
 * table in the hub, its ring pages, its event channel (the backend runs inside the frontend's
 * EVTCHNOP_send). READ, WRITE, FLUSH_DISKCACHE, WRITE_BARRIER, DISCARD and INDIRECT on both
 * ring ABIs, multi-page rings, persistent grants, notification hold-off; the copy-on-write
 * overlay never touches the base image.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BLKIF_OP_DISCARD,
  BLKIF_OP_FLUSH_DISKCACHE,
  BLKIF_OP_READ,
  BLKIF_OP_WRITE,
  BLKIF_OP_WRITE_BARRIER,
  BLKIF_RSP_EOPNOTSUPP,
  BLKIF_RSP_ERROR,
  BLKIF_RSP_OKAY,
} from '../../../abi/public/io/blkif.js';
import { Blkback, type BlkbackFeatures, type BlkifProtocol } from '../../../harness/backends/blkback.js';
import { exportImage, memoryImage, openRawImage, type DiskImage } from '../../../harness/backends/disk-image.js';
import { scratchDir } from '../../support/tmp.js';
import { BlkIo, pattern, same, SECTOR } from './blk-io.js';
import { DISK_SECTORS, setup } from './blk-setup.js';
import { blkWorld, TestBlkfront, type FrontOptions } from './blkfront.js';

const PROTOCOLS: BlkifProtocol[] = ['x86_64-abi', 'x86_32-abi'];

describe.each(PROTOCOLS)('blkback, %s ring', (protocol) => {
  it('reads what the image holds, at any sector offset within the pages', () => {
    const { io, base, hostMaps } = setup({ protocol });
    const r = io.read(100, 20);
    expect(r.status).toBe(BLKIF_RSP_OKAY);
    expect(same(r.data, base.subarray(100 * SECTOR, 120 * SECTOR))).toBe(true);
    const r2 = io.read(7, 3, 5); // first_sect 5, last_sect 7 in the first page
    expect(same(r2.data, base.subarray(7 * SECTOR, 10 * SECTOR))).toBe(true);
    expect(hostMaps()).toBe(1); // only the ring page
  });

  it('writes land in the image and read back; other sectors are unchanged', () => {
    const { io, image, base } = setup({ protocol });
    const data = pattern(11 * 8, 1); // 11 full pages: the most one request carries
    expect(io.write(500, data).status).toBe(BLKIF_RSP_OKAY);
    expect(same(io.read(500, 88).data, data)).toBe(true);
    const all = new Uint8Array(DISK_SECTORS * SECTOR);
    image.read(0, all);
    expect(same(all.subarray(0, 500 * SECTOR), base.subarray(0, 500 * SECTOR))).toBe(true);
    expect(same(all.subarray(588 * SECTOR), base.subarray(588 * SECTOR))).toBe(true);
  });

  it('echoes ids bit for bit and answers in order', () => {
    const { f, io } = setup({ protocol });
    const ids = [0n, 0xffffffffffffffffn, 0x8000000000000001n, 7n, 7n];
    const pages = ids.map(() => io.pages(1));
    ids.forEach((id, i) => f.queue({ operation: BLKIF_OP_READ, id, sector: i, segs: pages[i]!.segs }));
    const rs = io.run();
    expect(rs.map((r) => r.id)).toEqual(ids);
    expect(rs.every((r) => r.status === BLKIF_RSP_OKAY && r.operation === BLKIF_OP_READ)).toBe(true);
    pages.forEach((p) => io.release(p));
  });

  it('FLUSH_DISKCACHE without segments flushes; WRITE_BARRIER writes its data after a flush', () => {
    const w = memoryImage(pattern(DISK_SECTORS, 3), 'rw');
    let flushes = 0;
    const image: DiskImage = Object.assign(Object.create(w) as DiskImage, { flush: () => void flushes++ });
    const { io } = setup({ protocol, image });
    const r = io.simple(BLKIF_OP_FLUSH_DISKCACHE);
    expect([r.operation, r.status, flushes]).toEqual([BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_OKAY, 1]);
    const data = pattern(4, 4);
    const p = io.pages(4, 0, data);
    io.f.queue({ operation: BLKIF_OP_WRITE_BARRIER, id: 9n, sector: 40, segs: p.segs });
    const [b] = io.run();
    io.release(p);
    expect([b!.operation, b!.status, flushes]).toEqual([BLKIF_OP_WRITE_BARRIER, BLKIF_RSP_OKAY, 2]);
    expect(same(io.read(40, 4).data, data)).toBe(true);
  });

  it('DISCARD zeroes the range (secure or not); refused on a read-only disk and without the feature', () => {
    const { io } = setup({ protocol });
    expect(io.simple(BLKIF_OP_DISCARD, 10, { nrSectors: 30 }).status).toBe(BLKIF_RSP_OKAY);
    expect(same(io.read(10, 30).data, new Uint8Array(30 * SECTOR))).toBe(true);
    expect(same(io.read(9, 1).data, new Uint8Array(SECTOR))).toBe(false);
    expect(io.simple(BLKIF_OP_DISCARD, 100, { nrSectors: 1, flag: 1 }).status).toBe(BLKIF_RSP_OKAY);
    expect(io.simple(BLKIF_OP_DISCARD, DISK_SECTORS - 1, { nrSectors: 2 }).status).toBe(BLKIF_RSP_ERROR);

    const off = setup({ protocol, features: { discard: false } });
    const before = off.io.read(10, 1).data;
    const r = off.io.simple(BLKIF_OP_DISCARD, 10, { nrSectors: 1 });
    expect([r.operation, r.status]).toEqual([BLKIF_OP_DISCARD, BLKIF_RSP_EOPNOTSUPP]);
    expect(same(off.io.read(10, 1).data, before!)).toBe(true);

    const ro = setup({ protocol, image: memoryImage(pattern(DISK_SECTORS, 5), 'ro') });
    expect(ro.be.discard).toBe(false);
    expect(ro.io.simple(BLKIF_OP_DISCARD, 10, { nrSectors: 1 }).status).toBe(BLKIF_RSP_ERROR);
  });

  it('INDIRECT reads and writes many segments through one or two descriptor pages', () => {
    const { io, be } = setup({ protocol, features: { maxIndirectSegments: 600 } });
    expect(be.maxIndirectSegments).toBe(600);
    const data = pattern(200, 6);
    // 200 one-sector segments (one descriptor page), then 530 (two pages).
    expect(io.indirect(BLKIF_OP_WRITE, 300, 200, data, 1).status).toBe(BLKIF_RSP_OKAY);
    const r = io.indirect(BLKIF_OP_READ, 300, 200, undefined, 1);
    expect([r.status, r.rsp.operation]).toEqual([BLKIF_RSP_OKAY, BLKIF_OP_READ]);
    expect(same(r.data, data)).toBe(true);
    const big = pattern(530, 7);
    expect(io.indirect(BLKIF_OP_WRITE, 1000, 530, big, 1).status).toBe(BLKIF_RSP_OKAY);
    expect(same(io.indirect(BLKIF_OP_READ, 1000, 530, undefined, 1).data, big)).toBe(true);
    expect(same(io.read(1000, 88).data, big.subarray(0, 88 * SECTOR))).toBe(true);
  });

  it('a read-only disk serves reads and refuses writes and flushes', () => {
    const base = pattern(DISK_SECTORS, 8);
    const { io, image } = setup({ protocol, image: memoryImage(base, 'ro') });
    expect(same(io.read(0, 8).data, base.subarray(0, 8 * SECTOR))).toBe(true);
    expect(io.write(0, pattern(8, 9)).status).toBe(BLKIF_RSP_ERROR);
    expect(io.simple(BLKIF_OP_FLUSH_DISKCACHE).status).toBe(BLKIF_RSP_ERROR);
    const now = new Uint8Array(8 * SECTOR);
    image.read(0, now);
    expect(now).toEqual(base.subarray(0, 8 * SECTOR));
  });

  it('persistent grants stay mapped while connected and are all unmapped at disconnect', () => {
    const { io, be, f, hostMaps } = setup({ protocol, persistent: true });
    const data = pattern(16, 10);
    expect(io.write(64, data).status).toBe(BLKIF_RSP_OKAY);
    expect(same(io.read(64, 16).data, data)).toBe(true);
    expect(hostMaps()).toBeGreaterThan(1);
    expect(be.mappedGrants).toBe(hostMaps());
    be.disconnect();
    expect(hostMaps()).toBe(0);
    for (let ref = 8; ref < 8 + 70; ref++) expect(f.grantFlags(ref) & 0x18).toBe(0);
  });

  it('multi-page rings: 2 and 4 pages give 64 and 128 slots, used across the wrap', () => {
    for (const [pages, slots] of [
      [2, 64],
      [4, 128],
    ] as const) {
      const { io, f, be } = setup({ protocol, ringPages: pages });
      expect(f.size).toBe(slots);
      expect(be.ringState()?.size).toBe(slots);
      // Fill the ring, twice over, with one-sector reads.
      for (let round = 0; round < 3; round++) {
        const ps = Array.from({ length: slots }, () => io.pages(1));
        ps.forEach((p, i) => f.queue({ operation: BLKIF_OP_READ, id: BigInt(i), sector: i, segs: p.segs }));
        expect(f.free).toBe(0);
        const rs = io.run();
        expect(rs.length).toBe(slots);
        expect(rs.every((r) => r.status === BLKIF_RSP_OKAY)).toBe(true);
        ps.forEach((p) => io.release(p));
      }
    }
  });

  it('requests queued before the backend connected are served at connect', () => {
    const w = blkWorld();
    const f = new TestBlkfront(w, { protocol });
    const io = new BlkIo(f);
    const p = io.pages(2);
    f.queue({ operation: BLKIF_OP_READ, id: 42n, sector: 0, segs: p.segs });
    f.push(); // the port is not bound yet: the event is dropped
    const image = memoryImage(pattern(64, 12), 'ro');
    const be = new Blkback({ events: w.xen.events, grants: w.hub, frontend: 1, image });
    expect(be.connect(f.connection())).toBeUndefined();
    const rs = f.responses();
    expect(rs).toEqual([{ id: 42n, operation: BLKIF_OP_READ, status: BLKIF_RSP_OKAY }]);
    expect(same(io.gather(p), pattern(64, 12).subarray(0, 2 * SECTOR))).toBe(true);
  });
});

describe('blkback notifications', () => {
  it('notifies only when the frontend asked (rsp_event), and re-arms req_event when idle', () => {
    const { io, f, be } = setup();
    io.read(0, 1);
    expect(be.stats.notifies).toBe(1);
    // The frontend does not want an event before 10 more responses.
    const hdr = f.page(0);
    hdr.setUint32(12, (f.rspCons + 10) >>> 0, true);
    const p = io.pages(1);
    f.queue({ operation: BLKIF_OP_READ, id: 1n, sector: 0, segs: p.segs });
    f.push();
    expect(be.stats.notifies).toBe(1);
    // req_event is one past what the backend consumed: the next request notifies.
    expect(hdr.getUint32(4, true)).toBe(((f.reqProdPvt) + 1) >>> 0);
    expect(f.responses().length).toBe(1);
    io.release(p);
    expect(be.stats.kicks).toBe(f.sends);
  });
});

describe('disk images', () => {
  const dir = scratchDir('x2-blk');

  it('the copy-on-write overlay never touches the base file; export writes what the guest sees', () => {
    const path = join(dir, 'base.img');
    const base = pattern(256, 20);
    writeFileSync(path, base);
    const img = openRawImage(path, 'overlay');
    const { io } = setup({ image: img });
    const data = pattern(24, 21);
    expect(io.write(5, data, 3).status).toBe(BLKIF_RSP_OKAY);
    expect(io.simple(BLKIF_OP_DISCARD, 100, { nrSectors: 17 }).status).toBe(BLKIF_RSP_OKAY);
    expect(io.simple(BLKIF_OP_FLUSH_DISKCACHE).status).toBe(BLKIF_RSP_OKAY);
    expect(same(readFileSync(path), base)).toBe(true);
    expect(same(io.read(5, 24).data, data)).toBe(true);
    const out = join(dir, 'out.img');
    exportImage(img, out);
    const expected = base.slice();
    expected.set(data, 5 * SECTOR);
    expected.fill(0, 100 * SECTOR, 117 * SECTOR);
    expect(same(readFileSync(out), expected)).toBe(true);
    img.close();
  });

  it('an overlay exported into a checkpoint and imported on another open of the same base reads the same', () => {
    const path = join(dir, 'ckpt.img');
    const base = pattern(64, 40);
    writeFileSync(path, base);
    const a = openRawImage(path, 'overlay');
    a.write(9, pattern(10, 41));
    const chunks = a.exportOverlay?.();
    expect(chunks?.length).toBeGreaterThan(0);
    const b = openRawImage(path, 'overlay');
    expect(b.importOverlay?.(chunks ?? [])).toBeUndefined();
    const ra = new Uint8Array(64 * SECTOR);
    const rb = new Uint8Array(64 * SECTOR);
    a.read(0, ra);
    b.read(0, rb);
    expect(same(ra, rb)).toBe(true);
    expect(same(readFileSync(path), base)).toBe(true);
    // Chunks that do not fit, and a disk that is not an overlay, are refused with a line.
    expect(b.importOverlay?.([{ chunk: 1 << 20, data: new Uint8Array(4096) }])).toMatch(/ckpt\.img.*does not fit the disk/);
    const rw = openRawImage(path, 'rw');
    expect(rw.exportOverlay?.()).toBeUndefined();
    expect(rw.importOverlay?.(chunks ?? [])).toMatch(/not a copy-on-write overlay/);
    for (const x of [a, b, rw]) x.close();
  });

  it('rw writes through to the file; sizes round down to whole sectors', () => {
    const path = join(dir, 'rw.img');
    writeFileSync(path, pattern(16, 30).subarray(0, 16 * SECTOR - 100));
    const img = openRawImage(path, 'rw');
    expect(img.sectors).toBe(15);
    const { io } = setup({ image: img });
    const data = pattern(2, 31);
    expect(io.write(13, data).status).toBe(BLKIF_RSP_OKAY);
    expect(io.write(14, pattern(2, 32)).status).toBe(BLKIF_RSP_ERROR);
    img.close();
    expect(new Uint8Array(readFileSync(path)).subarray(13 * SECTOR, 15 * SECTOR)).toEqual(data);
  });

  it('a missing image is a user error naming the file', () => {
    expect(() => openRawImage(join(dir, 'nope.img'), 'ro')).toThrow(/nope\.img: no such disk image/);
  });
});
