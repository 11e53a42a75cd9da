/** The blkback test rig: a frontend domain, a 1 MiB image, blkback connected to the frontend's ring. */
import { Blkback, type BlkbackFeatures } from '../../../harness/backends/blkback.js';
import { memoryImage, type DiskImage } from '../../../harness/backends/disk-image.js';
import { BlkIo, pattern } from './blk-io.js';
import { blkWorld, TestBlkfront, type FrontOptions } from './blkfront.js';

export const DISK_SECTORS = 2048; // 1 MiB

export function setup(o: FrontOptions & { image?: DiskImage; features?: BlkbackFeatures } = {}) {
  const w = blkWorld();
  const base = pattern(DISK_SECTORS, 99);
  const image = o.image ?? memoryImage(base.slice(), 'rw');
  const f = new TestBlkfront(w, o);
  const log: string[] = [];
  const be = new Blkback({ events: w.xen.events, grants: w.hub, frontend: 1, devid: 51712, image, features: o.features, log: (l) => log.push(l) });
  const err = be.connect(f.connection());
  if (err !== undefined) throw new Error(err);
  const io = new BlkIo(f);
  /** Host mappings held by domain 0 now. */
  const hostMaps = () => w.hub.mappings().filter((m) => m.mapper === 0).length;
  return { w, f, be, io, image, base, log, hostMaps };
}

