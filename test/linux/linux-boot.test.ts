/**
 * Debian's Linux cloud kernel as a PV guest (issue 7, docs/linux.md): ONE boot of the sample
 * config fixtures/configs/linux-pv.cfg (its media built by fixtures/pipeline/linux-guest.ts into
 * the fixture cache, fetched when missing), with a disk and a vif. A console script waits for the
 * interactive shell's prompt on hvc0 and types `xenlab-checks; poweroff -f`: the TAP checks run
 * in that shell (userspace, /proc/cpuinfo against the config's vcpus, /sys/hypervisor, the
 * frontends' modules, /dev/xvda mounted with a known file's sha256, a file written and synced,
 * eth0 up, a DHCP lease from the built-in gateway, ping), then the domain powers off. After the
 * run, the file the guest wrote is read out of the exported disk.
 *
 * A Linux boot costs about 1.5 minutes of CI: keep it to this one.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultCacheDir } from '../../fixtures/pipeline/cache.js';
import { readDiskFile } from '../../fixtures/pipeline/disk-image.js';
import {
  LINUX_DISK_KNOWN,
  LINUX_DISK_WRITTEN,
  LINUX_SHELL_PROMPT,
  LINUX_USERSPACE_MARKER,
  buildLinuxGuest,
  parseGuestTap,
  type LinuxGuestMedia,
  type TapRun,
} from '../../fixtures/pipeline/linux-guest.js';
import { bootGuest, loadXlConfig, type BootResult } from '../../harness/boot/boot.js';
import { scratchDir } from '../support/tmp.js';

/** vCPUs of the boot: the config's `vcpus` and the checks' `xenlab.vcpus`. */
const VCPUS = 2;

const SAMPLE = join(import.meta.dirname, '../../fixtures/configs/linux-pv.cfg');
const dir = scratchDir('linux');
let media: LinuxGuestMedia;
let run: BootResult;
let tap: TapRun;

beforeAll(async () => {
  media = await buildLinuxGuest();
  mkdirSync(join(dir, 'export'));
  const sets = [`vcpus=${VCPUS}`, `extra="console=hvc0 xenlab.vcpus=${VCPUS}"`];
  // The sample config's paths point into the default cache; follow XENLAB_FIXTURES_CACHE.
  if (join(defaultCacheDir(), 'media') !== join(import.meta.dirname, '../../fixtures/cache/media')) {
    sets.push(`kernel="${media.kernel}"`, `ramdisk="${media.shellInitrd}"`, `disk=["format=raw,vdev=xvda,access=rw,target=${media.disk}"]`);
  }
  run = await bootGuest({
    config: loadXlConfig(SAMPLE, sets),
    script: [
      { expect: LINUX_SHELL_PROMPT, timeoutSeconds: 120, send: 'xenlab-checks; poweroff -f\n' },
      { expect: /^1\.\.\d+\r?$/m, timeoutSeconds: 120 },
    ],
    timeoutSeconds: 600,
    diskExportDir: join(dir, 'export'),
    // Followable while the boot runs (tail -f), until the scratch directory is removed.
    consoleLog: join(dir, 'console.log'),
  });
  tap = parseGuestTap(run.console);
  // The boot runs in one synchronous call: a hook timeout could only fire after it anyway. The
  // run is bounded in guest time above; the wall time is generous for a loaded CI machine.
}, 3_600_000);

describe(`Linux PV guest (${VCPUS} vCPU)`, () => {
  it('reaches an interactive shell on hvc0 and runs what is typed there', () => {
    expect(run.console).toContain(LINUX_SHELL_PROMPT);
    expect(tap.version).toBe(14);
    expect(tap.points[0]).toEqual({ ok: true, id: 1, description: LINUX_USERSPACE_MARKER.replace(/^ok 1 - /, '') });
  });

  it('passes every TAP check, numbered 1..N as planned', () => {
    const failed = tap.points.filter((p) => !p.ok).map((p) => `not ok ${p.id} - ${p.description}`);
    expect(failed, run.console.slice(-4000)).toEqual([]);
    expect(tap.points.map((p) => p.id)).toEqual(Array.from({ length: tap.points.length }, (_, i) => i + 1));
    expect(tap.plan).toBe(tap.points.length);
    const names = tap.points.map((p) => p.description).join('\n');
    for (const want of [
      `processors, the config gave ${VCPUS}`,
      'modprobe xen-blkfront',
      'modprobe xen-netfront',
      'mount -t ext4 /dev/xvda',
      'known.txt has sha256',
      'written.txt written and synced',
      'udhcpc gets a lease on eth0',
      'ping the gateway 10.0.0.1',
    ]) {
      expect(names).toContain(want);
    }
  });

  it('ends with poweroff, exit status 0', () => {
    expect([run.end, run.exitCode, run.detail]).toEqual(['poweroff', 0, 'domain 1 shut down: SHUTDOWN_poweroff code 0']);
  });

  it('left written.txt on the disk and known.txt as it was', async () => {
    const img = join(dir, 'export', 'xvda.img');
    expect((await readDiskFile(img, '/written.txt')).toString()).toBe(LINUX_DISK_WRITTEN);
    expect((await readDiskFile(img, '/known.txt')).toString()).toBe(LINUX_DISK_KNOWN);
    // The image file itself is untouched (copy-on-write overlay).
    await expect(readDiskFile(media.disk, '/written.txt')).rejects.toThrow(/cannot read/);
  });
});
