/**
 * `xenlab save GUEST.cfg FILE` and `xenlab restore FILE` (harness/cli/commands/save.ts,
 * restore.ts): probe-suspend saved once its console says it is working, restored on a host with
 * another memory shuffle, and run to its poweroff; bad checkpoint files are one line and exit 1.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGuestTap } from '../../../conformance/tap.js';
import { runCli } from '../../support/cli.js';
import { PROBE_CONFIGS } from '../../support/probe-session.js';

const CFG = `${PROBE_CONFIGS}probe-suspend.cfg`;

describe('xenlab save / restore', () => {
  it('saves at a console marker, destroys the domain (exit 0), and restore runs it to its end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenlab-save-cli-'));
    const file = join(dir, 'p.xlck');
    const s = await runCli(['save', CFG, file, '--after', 'working:', '--set', 'extra="dirty=8 period=200 suspends=1"']);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stderr).toMatch(/xenlab: save of domain 1 at [\d.]+ s: \d+ bytes to .*p\.xlck; destroyed\n/);
    expect(s.stdout).toMatch(/# suspending after \d+ work units\n$/);
    const r = await runCli(['restore', file, '--seed', '3']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('domain 1 (probe-suspend) shut down: SHUTDOWN_poweroff code 0 (exit 0)');
    const tap = parseGuestTap(s.stdout + r.stdout);
    expect(tap.tests.filter((t) => t.status !== 'pass')).toEqual([]);
    expect(r.stdout).toMatch(/ok \d+ - resumed in a new domain/);
  });

  it('--cancel resumes the domain after the save; it runs to its poweroff', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenlab-save-cli-'));
    const file = join(dir, 'p.xlck');
    const s = await runCli(['save', CFG, file, '--at', '0.002', '--cancel', '--set', 'extra="dirty=4 period=200 suspends=1"']);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stderr).toContain('; it resumes (cancelled)');
    expect(s.stdout).toMatch(/ok \d+ - suspend cancelled: resumed in the same domain/);
    expect(readFileSync(file).subarray(8, 12).toString()).toBe('XLCK');
  });

  it('refuses truncated, corrupted and missing files with one line, exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenlab-save-cli-'));
    const file = join(dir, 'p.xlck');
    expect((await runCli(['save', CFG, file, '--set', 'extra="dirty=2"'])).status).toBe(0);
    const bytes = readFileSync(file);
    writeFileSync(join(dir, 'cut.xlck'), bytes.subarray(0, 3000));
    const cut = await runCli(['restore', join(dir, 'cut.xlck')]);
    expect(cut.status).toBe(1);
    expect(cut.stderr).toMatch(/^xenlab: \/.*cut\.xlck: truncated after 5 records at offset \d+ \(\d+ bytes of an incomplete record\): no END record\n$/);
    const bad = Buffer.from(bytes);
    bad[100_000] = (bad[100_000] as number) ^ 1;
    writeFileSync(join(dir, 'bad.xlck'), bad);
    const b = await runCli(['restore', join(dir, 'bad.xlck')]);
    expect(b.status).toBe(1);
    expect(b.stderr).toMatch(/^xenlab: .*bad\.xlck: record \d+ \(PAGE_DATA\) at offset \d+: checksum mismatch \(corrupted\)\n$/);
    const none = await runCli(['restore', join(dir, 'none.xlck')]);
    expect([none.status, none.stderr]).toEqual([1, `xenlab: ${join(dir, 'none.xlck')}: cannot read the checkpoint (ENOENT)\n`]);
    const dw = await runCli(['restore', file, '--disk-writes', 'sometimes']);
    expect([dw.status, dw.stderr]).toEqual([2, "xenlab: --disk-writes expects 'overlay' or 'through', not 'sometimes'\n"]);
    const usage = await runCli(['save', CFG, file, '--at', '-1']);
    expect([usage.status, usage.stderr]).toEqual([2, 'xenlab: --at expects a number of guest seconds, 0 or more\n']);
  });
});
