/**
 * Saves during a run (bootDomains `saves`, harness/boot/domains.ts): the toolstack asks
 * probe-suspend to suspend at a point of guest time, takes its checkpoint, then cancels (the
 * same domain resumes with 1), restores it as a new domain on the same host (it resumes with 0),
 * or destroys it ('saved', the checkpoint in a file that `restores` boots again). A guest that
 * does not suspend is reported and runs on.
 */
import { mkdtempSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootDomains } from '../../../harness/boot/domains.js';
import { loadXlConfig } from '../../../harness/toolstack/xl-cfg.js';
import { parseGuestTap } from '../../../conformance/tap.js';
import { PROBE_CONFIGS } from '../../support/probe-session.js';

const MS = 1e6;
const cfg = (extra: string) => loadXlConfig(`${PROBE_CONFIGS}probe-suspend.cfg`, [`extra="${extra}"`]);
const failed = (text: string) => parseGuestTap(text).tests.filter((t) => t.status !== 'pass').map((t) => t.name);

describe('bootDomains: saves while the run goes', () => {
  it('cancel, then restore as a new domain, then poweroff: one TAP stream, all ok', async () => {
    const r = await bootDomains({
      configs: [cfg('dirty=16 period=200 suspends=2')],
      saves: [
        { index: 0, atNs: 4 * MS, then: 'cancel' },
        { index: 0, atNs: 9 * MS, then: 'restore' },
      ],
      timeoutSeconds: 10,
    });
    const d = r.domains[0]!;
    expect(d.end).toBe('poweroff');
    expect(d.domid).toBe(2);
    expect(d.saves.map((s) => [s.then, s.domid, s.newDomid, s.error])).toEqual([
      ['cancel', 1, undefined, undefined],
      ['restore', 1, 2, undefined],
    ]);
    expect(d.saves.every((s) => s.bytes > 16 * 2 ** 20 && (s.suspendedAtNs ?? 0) >= s.requestedAtNs)).toBe(true);
    expect(d.console).toMatch(/\nok \d+ - suspend cancelled: resumed in the same domain\n/);
    expect(d.console).toContain('resumed in a new domain');
    expect(failed(d.console)).toEqual([]);
    expect(d.diagnostics).toContain('domain 1 (probe-suspend) saved (' + d.saves[1]!.bytes + ' bytes) and restored as domain 2');
    // The old domain left XenStore; the new one has its tree.
    expect(r.xenstore.host.read('/local/domain/1/name')).toBeUndefined();
    expect(r.xenstore.host.read('/local/domain/2/name')).toBe('probe-suspend');
  });

  it('destroy writes the checkpoint atomically and ends as saved; restoring the file finishes the job', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenlab-save-'));
    const file = join(dir, 'probe.xlck');
    const a = await bootDomains({ configs: [cfg('dirty=8 period=200 suspends=1')], saves: [{ index: 0, atNs: 3 * MS, then: 'destroy', file }] });
    const d = a.domains[0]!;
    expect(d).toMatchObject({ end: 'saved', exitCode: 0 });
    expect(d.detail).toMatch(/^domain 1 \(probe-suspend\) saved to .*probe\.xlck \(\d+ bytes\) and destroyed$/);
    expect(readdirSync(dir)).toEqual(['probe.xlck']);
    const bytes = new Uint8Array(readFileSync(file));
    const b = await bootDomains({ configs: [], restores: [{ bytes, source: file }], timeoutSeconds: 10 });
    const e = b.domains[0]!;
    expect(e).toMatchObject({ end: 'poweroff', name: 'probe-suspend', domid: 1 });
    expect(e.console).toContain('resumed in a new domain');
    expect(failed(d.console + e.console)).toEqual([]);
    // Same checkpoint, same restored run.
    const c = await bootDomains({ configs: [], restores: [{ bytes, source: file }], timeoutSeconds: 10 });
    expect(c.domains[0]!.console).toBe(e.console);
    expect(existsSync(`${file}.tmp`)).toBe(false);
  });

  it('migrate: live to a new domain on the same host, rounds reported, then on to its poweroff', async () => {
    const rounds: number[] = [];
    const r = await bootDomains({
      configs: [cfg('dirty=64 period=100 suspends=1')],
      saves: [{ index: 0, atNs: 3 * MS, then: 'migrate' }],
      onMigrationRound: (_i, round) => rounds.push(round.pagesSent),
      timeoutSeconds: 10,
    });
    const d = r.domains[0]!;
    expect(d).toMatchObject({ end: 'poweroff', domid: 2 });
    const m = d.saves[0]!.migration!;
    expect(d.saves[0]).toMatchObject({ then: 'migrate', domid: 1, newDomid: 2, error: undefined });
    expect(m.rounds[0]!.pagesSent).toBe(4096);
    expect(rounds).toEqual(m.rounds.map((x) => x.pagesSent));
    expect(m.logDirtyMisses).toBe(0);
    expect(m.downtimeGuestNs).toBeGreaterThan(0);
    expect(d.console).toMatch(/ok \d+ - resumed in a new domain/);
    expect(failed(d.console)).toEqual([]);
    expect(d.diagnostics[0]).toMatch(/^domain 1 \(probe-suspend\) migrated live to domain 2 \(\d+ rounds, \d+ pages sent, downtime [\d.]+ ms of guest time\)$/);
  });

  it('a migration before the guest has published its p2m is refused; the guest runs on to its end', async () => {
    const r = await bootDomains({ configs: [cfg('dirty=1 period=50 suspends=1')], saves: [{ index: 0, atNs: 0, then: 'migrate' }, { index: 0, atNs: 2 * MS, then: 'cancel' }], timeoutSeconds: 10 });
    const d = r.domains[0]!;
    expect(d.saves.map((s) => [s.then, s.error])).toEqual([
      ['migrate', 'the guest published no p2m for the toolstack (shared_info arch.max_pfn is 0; a PV guest sets max_pfn, p2m_cr3 and p2m_vaddr before it suspends)'],
      ['cancel', undefined],
    ]);
    expect(d).toMatchObject({ end: 'poweroff', domid: 1 });
    expect(failed(d.console)).toEqual([]);
    expect(d.diagnostics[0]).toMatch(/^migration of domain 1 \(probe-suspend\) failed: the guest published no p2m .*; it runs on$/);
  });

  it('a corrupted checkpoint is refused with one line before any domain is built', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenlab-save-'));
    const file = join(dir, 'probe.xlck');
    await bootDomains({ configs: [cfg('dirty=4 period=200')], saves: [{ index: 0, atNs: 2 * MS, then: 'destroy', file }] });
    const bytes = new Uint8Array(readFileSync(file));
    bytes[bytes.length >> 1]! ^= 0x40;
    await expect(bootDomains({ configs: [], restores: [{ bytes, source: file }] })).rejects.toThrow(/probe\.xlck: .*(CRC|checksum)/i);
    await expect(bootDomains({ configs: [], restores: [{ bytes: bytes.subarray(0, 5000), source: file }] })).rejects.toThrow(/probe\.xlck: .*truncated/);
  });
});
