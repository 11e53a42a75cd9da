/**
 * Debian's Linux (2 vCPUs) through a save, a restore and a live migration in one run
 * (harness/boot/domains.ts saves; docs/save-restore.md, docs/migration.md): once the TAP
 * initramfs has mounted the disk, the toolstack asks it to suspend, saves it to a file, destroys
 * it and restores the checkpoint as domain 2 on a differently shuffled set of frames; domain 2
 * checks a known file's sha256, writes written.txt and syncs it (blkfront reconnected); then it
 * is migrated live (pre-copy rounds while it runs, 10 Gbit/s modelled, then stop-and-copy) to
 * domain 3, which unmounts the disk, gets a DHCP lease and pings the gateway after the
 * migration, then powers off. The file written before the migration is on the disk at the end.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readDiskFile } from '../../fixtures/pipeline/disk-image.js';
import { LINUX_DISK_WRITTEN, buildLinuxGuest, parseGuestTap, type LinuxGuestMedia, type TapRun } from '../../fixtures/pipeline/linux-guest.js';
import { bootDomains, type BootDomainsResult } from '../../harness/boot/domains.js';
import { loadXlConfig } from '../../harness/toolstack/xl-cfg.js';
import { parseCheckpoint } from '../../harness/toolstack/checkpoint-stream.js';
import { scratchDir } from '../support/tmp.js';

const VCPUS = 2;
const SAMPLE = join(import.meta.dirname, '../../fixtures/configs/linux-pv.cfg');
const dir = scratchDir('linux-migrate');
let media: LinuxGuestMedia;
let run: BootDomainsResult;
let tap: TapRun;

beforeAll(async () => {
  media = await buildLinuxGuest();
  mkdirSync(join(dir, 'export'));
  const sets = [
    `kernel="${media.kernel}"`,
    `ramdisk="${media.initrd}"`,
    `disk=["format=raw,vdev=xvda,access=rw,target=${media.disk}"]`,
    `vcpus=${VCPUS}`,
    `extra="console=hvc0 xenlab.vcpus=${VCPUS} cryptomgr.notests"`,
  ];
  run = await bootDomains({
    configs: [loadXlConfig(SAMPLE, sets)],
    saves: [
      { index: 0, atNs: 0, afterConsole: 'mount -t ext4 /dev/xvda', then: 'restore', file: join(dir, 'linux.xlck') },
      { index: 0, atNs: 0, afterConsole: 'written.txt written and synced', then: 'migrate', bandwidth: 10e9 },
    ],
    timeoutSeconds: 600,
    diskExportDir: join(dir, 'export'),
    consoleLogs: [join(dir, 'console.log')],
  });
  tap = parseGuestTap(run.domains[0]!.console);
}, 3_600_000);

describe(`Linux PV guest (${VCPUS} vCPUs): save, restore and live migration`, () => {
  it('passes every TAP check across the restore and the migration, and powers off', () => {
    const d = run.domains[0]!;
    const failed = tap.points.filter((p) => !p.ok).map((p) => `not ok ${p.id} - ${p.description}`);
    expect(failed, d.console.slice(-4000)).toEqual([]);
    expect(tap.plan).toBe(tap.points.length);
    const names = tap.points.map((p) => p.description);
    const at = (s: string) => names.findIndex((n) => n.includes(s));
    // Read and written after the restore; unmounted, DHCP and ping after the migration.
    expect(at('mount -t ext4 /dev/xvda')).toBeLessThan(at('known.txt has sha256'));
    expect(at('written.txt written and synced')).toBeLessThan(at('umount /dev/xvda'));
    expect(at('umount /dev/xvda')).toBeLessThan(at('udhcpc gets a lease on eth0'));
    expect(names.some((n) => n.startsWith('ping the gateway'))).toBe(true);
    expect([d.end, d.exitCode, d.domid, d.detail]).toEqual(['poweroff', 0, 3, 'domain 3 (linux) shut down: SHUTDOWN_poweroff code 0']);
  });

  it('saved to a whole checkpoint file, restored as domain 2, migrated live to domain 3', () => {
    const [save, mig] = run.domains[0]!.saves;
    expect([save?.then, save?.domid, save?.newDomid, save?.error]).toEqual(['restore', 1, 2, undefined]);
    expect([mig?.then, mig?.domid, mig?.newDomid, mig?.error]).toEqual(['migrate', 2, 3, undefined]);
    const { records } = parseCheckpoint(new Uint8Array(readFileSync(join(dir, 'linux.xlck'))), 'linux.xlck');
    expect(records.filter((r) => r.type === 4 /* X86_PV_VCPU_BASIC */)).toHaveLength(VCPUS);
    const m = mig!.migration!;
    expect(m.rounds[0]!.pagesSent).toBe(m.guestPages);
    expect(m.logDirtyMisses).toBe(0);
    expect(m.downtimeGuestNs).toBeGreaterThan(0);
    expect(run.domains[0]!.diagnostics.filter((l) => !/saved|migrated live/.test(l))).toEqual([]);
  });

  it('the file written before the save is on the disk at the end', async () => {
    expect((await readDiskFile(join(dir, 'export', 'linux', 'xvda.img'), '/written.txt')).toString()).toBe(LINUX_DISK_WRITTEN);
  });
});
