/**
 * bootGuest with xenstored: the toolstack's PV domU tree as libxl writes it (values and
 * permissions), the domain introduced on its start_info store page and event channel, and a
 * shutdown request written where the guest watches for it. A tiny guest is enough: the tree is
 * written before the first instruction. Debian's kernel talking to xenstored takes minutes of
 * emulation; see harness/bench/linux-xenstore.ts and docs/xenstore.md.
 */
import { describe, expect, it } from 'vitest';
import { bootGuest } from '../../../harness/boot/boot.js';
import { loadXlConfig } from '../../../harness/toolstack/xl-cfg.js';
import { requestShutdown } from '../../../harness/toolstack/xenstore-tree.js';
import type { XenStore } from '../../../harness/xenstore/host.js';
import { writeTinyGuest } from '../boot/tiny-guest.js';
import { scratchDir } from '../../support/tmp.js';

const dir = scratchDir('xenstore-boot');

describe('bootGuest: XenStore', () => {
  it('writes the standard tree with libxl perms and introduces the domain', async () => {
    const cfg = writeTinyGuest(dir, 'xs', { xenLog: 'hi\n', end: { shutdown: 0 } }, 'uuid = "12345678-1234-1234-1234-123456789abc"\nvcpus = 1\nmaxvcpus = 2\n');
    let seen: XenStore | undefined;
    const r = await bootGuest({ config: loadXlConfig(cfg), onXenStore: (xs) => (seen = xs) });
    expect(seen).toBe(r.xenstore);
    const h = r.xenstore.host;
    const dom = '/local/domain/1';
    expect(h.read(`${dom}/name`)).toBe('xs');
    expect(h.read(`${dom}/domid`)).toBe('1');
    expect(h.read(`${dom}/vm`)).toBe('/vm/12345678-1234-1234-1234-123456789abc');
    expect(h.read(`${dom}/memory/target`)).toBe(String(loadXlConfig(cfg).memory * 1024));
    expect(h.read(`${dom}/cpu/0/availability`)).toBe('online');
    expect(h.read(`${dom}/cpu/1/availability`)).toBe('offline');
    expect(h.read(`${dom}/console/type`)).toBe('xenconsoled');
    expect(h.read(`${dom}/console/limit`)).toBe('1048576');
    expect(h.read(`${dom}/control/platform-feature-xs_reset_watches`)).toBe('1');
    expect(h.read('/vm/12345678-1234-1234-1234-123456789abc/name')).toBe('xs');
    expect(h.read('/libxl/1/type')).toBe('pv');
    expect(h.read('/local/domain/0/name')).toBe('Domain-0');
    // Permissions: home read-only to the guest, scratch areas and control/shutdown its own.
    expect(h.getPerms(dom)).toEqual(['n0', 'r1']);
    expect(h.getPerms(`${dom}/control`)).toEqual(['n0', 'r1']);
    expect(h.getPerms(`${dom}/control/shutdown`)).toEqual(['n1']);
    expect(h.getPerms(`${dom}/data`)).toEqual(['n1']);
    expect(h.getPerms(`${dom}/device/suspend/event-channel`)).toEqual(['n1']);
    expect(h.getPerms(`${dom}/console/ring-ref`)).toEqual(['n0', 'r1']);
    expect(h.getPerms('/libxl/1')).toEqual(['n0']);
    // The ring: store/port and ring-ref are what start_info gave the guest; the domain is introduced.
    const port = Number(h.read(`${dom}/store/port`));
    expect(port).toBeGreaterThan(0);
    expect(r.domain.evtchn!.status(port)).toMatchObject({ status: 2 }); // EVTCHNSTAT_interdomain: bound by xenstored
    expect(r.xenstore.daemon.domainConnection(1)).toBeDefined();
    expect(h.directory(dom)).toEqual(['vm', 'cpu', 'memory', 'device', 'control', 'data', 'drivers', 'feature', 'attr', 'error', 'name', 'domid', 'store', 'console']);
    // A shutdown request lands where Linux watches for it.
    requestShutdown(r.xenstore, 1, 'poweroff');
    expect(h.read(`${dom}/control/shutdown`)).toBe('poweroff');
    expect(r.diagnostics).toEqual([]);
  });
});

describe('xenlab boot --xenstore-socket', () => {
  it('serves the socket during the run, says where, and removes it at the end', async () => {
    const { runCli } = await import('../../support/cli.js');
    const { existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    const cfg = writeTinyGuest(dir, 'sock', { xenLog: 'hi\n', end: { shutdown: 0 } });
    const sock = join(dir, 'boot.sock');
    const r = await runCli(['boot', cfg, '--xenstore-socket', sock, '--ignore-stdin']);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`xenlab: XenStore socket ${sock}\n`);
    expect(existsSync(sock)).toBe(false);
  });
});
