/**
 * A boot's disks: the images named by xl.cfg `disk=` opened once per run, and for each boot
 * (a restarted domain gets its disks back as they were left) the toolstack's vbd nodes plus a
 * blkback instance on each (harness/backends/blkback-xenbus.ts), as `xl create` would add them.
 *
 * Fixture images are never written unless asked for: a writable disk gets a copy-on-write
 * overlay in memory by default (`diskWrites: 'overlay'`), so the guest sees its own writes for
 * the whole run and the file stays as it was; `diskWrites: 'through'` (`xenlab boot
 * --disk-writes=through`) writes the file itself. A read-only disk (`access=ro`) is opened
 * read-only either way.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EventHub } from '../../abi/evtchn/channels.js';
import type { GrantHub } from '../../abi/gnttab/grants.js';
import { VbdBackend } from '../backends/blkback-xenbus.js';
import { exportImage, openRawImage, type DiskImage } from '../backends/disk-image.js';
import type { DiskSpec } from '../toolstack/disk-spec.js';
import { addVbdNodes } from '../toolstack/vbd.js';
import type { XenStore } from '../xenstore/host.js';
import type { HostileBoot } from '../hostile/run.js';

export type DiskWrites = 'overlay' | 'through';

export interface OpenDisk {
  readonly spec: DiskSpec;
  readonly image: DiskImage;
}

/** Opens every disk of the config (a missing file is a UserError naming it). */
export function openDisks(disks: readonly DiskSpec[], writes: DiskWrites = 'overlay'): OpenDisk[] {
  const out: OpenDisk[] = [];
  try {
    for (const spec of disks) {
      const mode = !spec.readwrite ? 'ro' : writes === 'through' ? 'rw' : 'overlay';
      out.push({ spec, image: openRawImage(spec.target, mode) });
    }
  } catch (e) {
    closeDisks(out);
    throw e;
  }
  return out;
}

export function closeDisks(disks: readonly OpenDisk[]): void {
  for (const d of disks) d.image.close();
}

export interface AttachOptions {
  readonly xs: XenStore;
  readonly events: EventHub;
  readonly grants: GrantHub;
  readonly domid: number;
  /** The guest's native protocol ("x86_64-abi" for a PV64 guest), written as libxl does. */
  readonly protocol: string;
  readonly log?: (line: string) => void;
  /** A hostile run's backends (harness/hostile/): fault hooks on each disk. */
  readonly hostile?: HostileBoot;
}

/** Adds each disk to the domain (vbd nodes, backend at InitWait); returns the backends. */
export function attachDisks(disks: readonly OpenDisk[], o: AttachOptions): VbdBackend[] {
  return disks.map(({ spec, image }) => {
    addVbdNodes(o.xs.host, {
      domid: o.domid,
      devid: spec.devid,
      vdev: spec.vdev,
      target: spec.target,
      readwrite: spec.readwrite,
      cdrom: spec.cdrom,
      discard: spec.discard,
      trusted: spec.trusted,
      protocol: o.protocol,
    });
    const vbd = new VbdBackend({
      xs: o.xs,
      events: o.events,
      grants: o.grants,
      frontend: o.domid,
      devid: spec.devid,
      image,
      cdrom: spec.cdrom,
      features: { discard: spec.discard },
      ...(o.log !== undefined ? { log: o.log } : {}),
      hooks: o.hostile?.blk(),
      xenbusHooks: o.hostile?.xenbus('blk'),
    });
    vbd.start();
    return vbd;
  });
}

/** Diagnostics of a boot's disks (halted rings, fatal errors, refused requests), then detaches them. */
export function detachDisks(vbds: readonly VbdBackend[]): string[] {
  const out: string[] = [];
  for (const v of vbds) {
    const b = v.blkback;
    if (b.broken !== undefined) out.push(`vbd ${v.path}: ${b.broken}`);
    out.push(...v.errors);
    if (b.droppedDiagnostics > 0) out.push(`vbd ${v.path}: ${b.droppedDiagnostics} more diagnostics not kept`);
    v.remove();
  }
  return out;
}

/**
 * The run is over: each disk as the guest left it is written to `exportDir/<vdev>.img` when a
 * directory is given (to inspect what the guest wrote without touching the image), then the
 * images are closed.
 */
export function finishDisks(disks: readonly OpenDisk[], exportDir?: string): void {
  try {
    if (exportDir !== undefined) {
      // Created when missing (as mkdir -p): a missing directory must not fail a run that has ended.
      if (disks.length > 0) mkdirSync(exportDir, { recursive: true });
      for (const d of disks) exportImage(d.image, join(exportDir, `${d.spec.vdev}.img`));
    }
  } finally {
    closeDisks(disks);
  }
}
