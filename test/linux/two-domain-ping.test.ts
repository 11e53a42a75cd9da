/**
 * Two Linux domains on one switch ping each other (issue 7; docs/netback.md, docs/boot.md
 * "Several domains"): ONE run of the sample pair fixtures/configs/net-a.cfg + net-b.cfg with
 * bootDomains — Debian's cloud kernel twice on one host, each with a vif on bridge xenbr0 and an
 * initramfs whose /init (fixtures/configs/net-ping-init.sh) loads xen-netfront, brings eth0 up
 * with its static address, pings its peer until it answers, waits until the peer has pinged it,
 * prints TAP and powers off. Both domains must pass every point and power off (exit 0).
 *
 * The kernel comes from the fixture cache (fetched when missing); the initramfs is built here
 * from the committed /init. Two Linux boots cost about 3 minutes of CI (more on a loaded host):
 * keep it to this one run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseGuestTap } from '../../conformance/tap.js';
import { requireFixture } from '../../fixtures/pipeline/cache.js';
import { buildInitramfs } from '../../fixtures/pipeline/initramfs.js';
import { bootDomains, type BootDomainsResult } from '../../harness/boot/domains.js';
import { loadXlConfig } from '../../harness/toolstack/xl-cfg.js';
import { scratchDir } from '../support/tmp.js';

const CONFIGS = join(import.meta.dirname, '../../fixtures/configs');
const dir = scratchDir('two-domain-ping');
let run: BootDomainsResult;

beforeAll(async () => {
  const kernel = (await requireFixture('kernel')).file('vmlinuz');
  const initrd = join(dir, 'net-initrd.gz');
  await buildInitramfs({ init: readFileSync(join(CONFIGS, 'net-ping-init.sh'), 'utf8'), modules: ['xen-netfront'], out: initrd });
  const sets = [`kernel="${kernel}"`, `ramdisk="${initrd}"`];
  run = await bootDomains({
    configs: [loadXlConfig(join(CONFIGS, 'net-a.cfg'), sets), loadXlConfig(join(CONFIGS, 'net-b.cfg'), sets)],
    timeoutSeconds: 900,
    // Followable while the run goes (tail -f), until the scratch directory is removed.
    consoleLogs: [join(dir, 'net-a.log'), join(dir, 'net-b.log')],
  });
  // The boots run synchronously: a hook timeout could only fire after them. The run is bounded
  // in guest time above; the wall time is generous for a loaded CI machine.
}, 3_600_000);

describe('two Linux domains on one switch', () => {
  for (const [k, name, addr, peer] of [
    [0, 'net-a', '10.0.0.11/24', '10.0.0.12'],
    [1, 'net-b', '10.0.0.12/24', '10.0.0.11'],
  ] as const) {
    it(`${name} (domain ${k + 1}) pings its peer, is pinged by it, and powers off`, () => {
      const d = run.domains[k]!;
      const tap = parseGuestTap(d.console);
      const failed = tap.tests.filter((t) => t.status !== 'pass').map((t) => `not ok ${t.id} - ${t.name}`);
      expect({ problems: tap.problems, failed }, d.console.slice(-3000)).toEqual({ problems: [], failed: [] });
      expect(tap.tests.map((t) => t.name)).toEqual(['userspace reached', 'xen-netfront loaded', `eth0 up with ${addr}`, `ping peer ${peer}`, 'pinged by the peer']);
      expect(tap.plan?.end).toBe(5);
      expect([d.domid, d.end, d.exitCode, d.detail]).toEqual([k + 1, 'poweroff', 0, `domain ${k + 1} (${name}) shut down: SHUTDOWN_poweroff code 0`]);
      expect(d.diagnostics).toEqual([]);
    });
  }

  it('the run ends with exit 0; the frames went through the one switch', () => {
    expect(run.exitCode).toBe(0);
    expect(run.network.names).toEqual(['xenbr0']);
    // eslint-disable-next-line no-console
    console.log(`two-domain ping: ${run.instructions} instructions, ${(run.guestNs / 1e9).toFixed(3)} s guest, ${(run.wallMs / 1000).toFixed(1)} s wall`);
  });
});
