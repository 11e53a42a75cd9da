/**
 * ABI coverage beyond hypercalls (conformance/coverage.ts): the XenStore paths a guest used, from
 * xenstored's trace (only the guest's own requests, its directory shown as `~`, each request with
 * the result of its reply, bounded), and the XENFEAT bits it checked, offered and declared; then
 * both from real runs: probe-basics asks XENVER_get_features for submaps 0 and 1, GRUB reads its
 * disk's XenStore nodes, and the probe-shutdown guests make no request at all.
 */
import { describe, expect, it } from 'vitest';
import { XENFEAT_NAMES } from '../../abi/public/features.js';
import { HypercallStats, MAX_FEATURE_QUERIES } from '../../abi/hv/stats.js';
import { XenStoreCoverageObserver, showPath, xenFeatureCoverage } from '../../conformance/coverage.js';
import { BUILTIN_PROFILES } from '../../conformance/profile.js';
import { runConformance } from '../../conformance/run.js';
import { ROOT } from '../support/cli.js';

describe('XenStore coverage', () => {
  it("shows the guest's own directory as ~, relative paths under it, other paths as they are", () => {
    expect(showPath('/local/domain/7/device/vbd/51712/state', 7)).toBe('~/device/vbd/51712/state');
    expect(showPath('/local/domain/7', 7)).toBe('~');
    expect(showPath('device/vif/0/mac', 7)).toBe('~/device/vif/0/mac');
    expect(showPath('/local/domain/70/name', 7)).toBe('/local/domain/70/name');
    expect(showPath('/local/domain/0/backend/vbd/7/51712/state', 7)).toBe('/local/domain/0/backend/vbd/7/51712/state');
    expect(showPath('@releaseDomain', 7)).toBe('@releaseDomain');
    expect(showPath('', 7)).toBe('');
  });

  it("counts the guest's requests by path, operation and the result of each reply, sorted", () => {
    const o = new XenStoreCoverageObserver();
    const lines = [
      // Before the guest's world: nothing of domain 1 is counted yet.
      'IN domain 1 READ (early)',
      'OUT domain 1 READ (x)',
    ];
    for (const l of lines) o.trace(l);
    o.guest(1);
    for (const l of [
      // The toolstack and backends are not the guest.
      'IN xl client WRITE (/local/domain/1/device/vbd/51712/state 1)',
      'OUT xl client WRITE (OK)',
      'IN domain 1 READ (device/vbd/51712/backend)',
      'OUT domain 1 READ (/local/domain/0/backend/vbd/1/51712)',
      'IN domain 1 READ (/local/domain/1/device/vbd/51712/backend)',
      'OUT domain 1 READ (/local/domain/0/backend/vbd/1/51712)',
      'IN domain 1 READ (device/vbd/51712/feature-persistent)',
      'OUT domain 1 ERROR (ENOENT)',
      // A watch: its acknowledgement, then the initial event (not a reply).
      'IN domain 1 WATCH (/local/domain/0/backend/vbd/1/51712/state tok)',
      'OUT domain 1 WATCH (OK)',
      'OUT domain 1 WATCH_EVENT (/local/domain/0/backend/vbd/1/51712/state tok)',
      'IN domain 1 WRITE (device/vbd/51712/state 4)',
      'OUT domain 1 WRITE (OK)',
      'IN domain 1 TRANSACTION_START ()',
      'OUT domain 1 TRANSACTION_START (5)',
      'IN domain 1 DIRECTORY (device)',
      'OUT domain 1 DIRECTORY (vbd vif)',
      'IN domain 2 RM (/local/domain/2/x)',
      'OUT domain 2 RM (OK)',
      'IN domain 1 RM (/local/domain/1/data/x)',
      'not a trace line',
    ]) {
      o.trace(l);
    }
    // The last request got no reply before the run ended.
    expect(o.result()).toEqual({
      accesses: [
        { path: '', op: 'TRANSACTION_START', result: 'ok', count: 1 },
        { path: '/local/domain/0/backend/vbd/1/51712/state', op: 'WATCH', result: 'ok', count: 1 },
        { path: '~/data/x', op: 'RM', result: 'no reply', count: 1 },
        { path: '~/device', op: 'DIRECTORY', result: 'ok', count: 1 },
        { path: '~/device/vbd/51712/backend', op: 'READ', result: 'ok', count: 2 },
        { path: '~/device/vbd/51712/feature-persistent', op: 'READ', result: 'ENOENT', count: 1 },
        { path: '~/device/vbd/51712/state', op: 'WRITE', result: 'ok', count: 1 },
      ],
    });
  });

  it('keeps a bounded number of distinct accesses and counts the rest', () => {
    const o = new XenStoreCoverageObserver(3);
    o.guest(1);
    for (let k = 0; k < 10; k++) {
      o.trace(`IN domain 1 READ (data/n${k})`);
      o.trace('OUT domain 1 ERROR (ENOENT)');
    }
    o.trace('IN domain 1 READ (data/n0)');
    o.trace('OUT domain 1 ERROR (ENOENT)');
    const r = o.result();
    expect(r.accesses.map((a) => `${a.path} ${a.count}`)).toEqual(['~/data/n0 2', '~/data/n1 1', '~/data/n2 1']);
    expect(r.dropped).toBe(7);
  });
});

describe('XENFEAT coverage', () => {
  it('records each submap asked and its answer, bounded, in submap order', () => {
    const s = new HypercallStats();
    s.recordFeatureQuery(1, '-EINVAL');
    s.recordFeatureQuery(0, 'ok', 0x120);
    s.recordFeatureQuery(0, 'ok', 0x120);
    expect(s.featureQueries()).toEqual([
      { submap: 0, result: 'ok', bits: 0x120, count: 2 },
      { submap: 1, result: '-EINVAL', count: 1 },
    ]);
    for (let k = 0; k < 100; k++) s.recordFeatureQuery(1000 + k, '-EINVAL');
    expect(s.featureQueries()).toHaveLength(MAX_FEATURE_QUERIES);
    expect(s.featureQueriesDropped).toBe(100 - (MAX_FEATURE_QUERIES - 2));
  });

  it('a row per named bit: offered by xenlab, checked when its submap was answered, declared by the notes', () => {
    const s = new HypercallStats();
    s.recordFeatureQuery(0, 'ok', 0x20);
    s.recordFeatureQuery(3, '-EINVAL');
    // Offered: mmu_pt_update_preserve_ad (5) and an unnamed bit 30; required writable_page_tables, supported pae_pgdir_above_4gb.
    const c = xenFeatureCoverage(s, (1 << 5) | (1 << 30), { required: 1, supported: 1 | (1 << 4), text: '!writable_page_tables|pae_pgdir_above_4gb' });
    expect(c.queries).toEqual([
      { submap: 0, result: 'ok', bits: 0x20, count: 1 },
      { submap: 3, result: '-EINVAL', count: 1 },
    ]);
    expect(c.bits.map((b) => b.name)).toEqual([...XENFEAT_NAMES, 'bit30']);
    expect(c.bits.every((b) => b.checked)).toBe(true);
    expect(c.bits[0]).toEqual({ bit: 0, name: 'writable_page_tables', offered: false, checked: true, declared: 'required' });
    expect(c.bits[4]).toEqual({ bit: 4, name: 'pae_pgdir_above_4gb', offered: false, checked: true, declared: 'supported' });
    expect(c.bits[5]).toEqual({ bit: 5, name: 'mmu_pt_update_preserve_ad', offered: true, checked: true });
    expect(c.bits.at(-1)).toEqual({ bit: 30, name: 'bit30', offered: true, checked: true });
    expect(c.notes).toEqual({ required: 1, supported: 0x11, text: '!writable_page_tables|pae_pgdir_above_4gb' });
    expect(c.queriesDropped).toBeUndefined();
    // A guest that never asked checked nothing; one refused (-EINVAL, -EFAULT) did not get an answer.
    const none = new HypercallStats();
    none.recordFeatureQuery(0, '-EFAULT');
    const n = xenFeatureCoverage(none, 1 << 5);
    expect(n.bits.some((b) => b.checked)).toBe(false);
    expect(n.notes).toBeUndefined();
  });
});

describe('coverage in a conformance run', () => {
  const profiles = BUILTIN_PROFILES.filter((p) => ['probe-basics', 'probe-shutdown-poweroff', 'grub'].includes(p.name));

  it('records XENFEAT queries and XenStore paths per guest', async () => {
    const r = await runConformance({ profiles, root: ROOT, version: 'test' });
    const [basics, shutdown, grub] = r.guests;
    // probe-basics asks for submap 0 (answered) and submap 1 (Xen defines one submap: -EINVAL).
    expect(basics!.xenfeat!.queries.map((q) => `${q.submap} ${q.result} ${q.count}`)).toEqual(['0 ok 1', '1 -EINVAL 1']);
    const answer = basics!.xenfeat!.queries[0]!.bits!;
    for (const b of basics!.xenfeat!.bits) {
      expect(b.checked).toBe(true);
      expect(b.offered).toBe(((answer >>> b.bit) & 1) === 1);
    }
    expect(basics!.xenfeat!.bits.filter((b) => b.offered).length).toBeGreaterThan(0);
    expect(basics!.xenfeat!.notes).toEqual({ required: 0, supported: 0 });
    expect(basics!.xenstore).toEqual({ accesses: [] });
    expect(shutdown!.xenfeat!.queries).toEqual([]);
    expect(shutdown!.xenfeat!.bits.some((b) => b.checked)).toBe(false);
    expect(shutdown!.xenstore).toEqual({ accesses: [] });
    // GRUB finds its disk through XenStore: it lists its devices, reads its vbd's nodes, writes its state.
    const seen = grub!.xenstore!.accesses.map((a) => `${a.op} ${a.path} ${a.result}`);
    expect(seen).toContain('DIRECTORY ~/device/vbd ok');
    expect(seen).toContain('READ ~/device/vbd/51712/backend ok');
    expect(seen.filter((s) => s.startsWith('WRITE ~/device/vbd/51712/state ok'))).toHaveLength(1);
    // Sorted by path, then operation, then result.
    const keys = grub!.xenstore!.accesses.map((a) => [a.path, a.op, a.result]);
    expect([...keys].sort((a, b) => (a.join('\u0000') < b.join('\u0000') ? -1 : 1))).toEqual(keys);
  }, 120_000);
});
