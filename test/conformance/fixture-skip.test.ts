/**
 * `xenlab conformance` without a fixture cached (XENLAB_FIXTURES_CACHE on an empty directory): each
 * profile of a missing Debian fixture is a guest row of one skip "fixture missing: <fixture> (run
 * `npm run fixtures`)" in every report, the run does not fail, and it stays in the run's profile
 * list, so `--shard i/n` partitions the same list as on a machine with the fixtures (a shard of
 * exactly that profile holds just its skip row). Naming a profile with --guest still fetches.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_PROFILES } from '../../conformance/profile.js';
import type { RunRecord } from '../../harness/record.js';
import { runCli } from '../support/cli.js';
import { scratchDir } from '../support/tmp.js';

const dir = scratchDir('fixture-skip');
const env = { ...process.env, XENLAB_FIXTURES_CACHE: join(dir, 'empty-cache') };
const n = BUILTIN_PROFILES.length;
const names = BUILTIN_PROFILES.map((p) => p.name);

describe('a profile whose fixture is missing', () => {
  for (const [name, fixture] of [
    ['grub', 'grub-xen'],
    ['linux', 'kernel'],
  ] as const) {
    it(`${name}: a shard of just that profile holds one skip with the reason, and passes`, async () => {
      const k = names.indexOf(name);
      expect(k).toBeGreaterThanOrEqual(0);
      const out = join(dir, name);
      const r = await runCli(['conformance', '--shard', `${k + 1}/${n}`, '--out', out], env);
      const reason = `fixture missing: ${fixture} (run \`npm run fixtures\`)`;
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^skip ${name} +fixture missing: ${fixture} \\(run \`npm run fixtures\`\\)$`, 'm'));
      expect(r.stdout).toContain('1 guests, 0 failed; 1 tests: 0 passed, 0 failed, 1 skipped, 0 todo');
      expect(r.stderr).toContain(`[1/1] ${name}: skipped, ${reason}; or --guest ${name} to fetch it`);
      const rec = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as RunRecord;
      // The shard's profile list is the whole run's, fixtures cached or not.
      expect(rec.shard).toEqual({ index: k + 1, count: n, profiles: names });
      expect(rec.guests).toHaveLength(1);
      expect(rec.guests[0]).toMatchObject({ name, ok: true, end: 'not-run', tests: [{ id: 1, name: 'the guest runs', status: 'skip', source: 'harness', detail: reason }] });
      expect(readFileSync(join(out, 'junit.xml'), 'utf8')).toContain(`<skipped message="${reason}"/>`);
      expect(readFileSync(join(out, 'results.tap'), 'utf8')).toContain(`ok 1 - ${name} # SKIP ${reason}\n`);
      expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain(`↷ skipped: ${reason}`);
    });
  }

  it('a shard with probes and a missing fixture: the probes run, the fixture is a skip, in run order', async () => {
    const k = names.indexOf('grub');
    // Two shards: grub and the probes at the same position modulo 2.
    const shard = (k % 2) + 1;
    const r = await runCli(['conformance', '--shard', `${shard}/2`, '--format', 'json', '--out', join(dir, 'half')], env);
    const rec = JSON.parse(readFileSync(join(dir, 'half', 'report.json'), 'utf8')) as RunRecord;
    expect(rec.guests.map((g) => g.name)).toEqual(names.filter((_, j) => j % 2 === shard - 1));
    const skipped = rec.guests.filter((g) => g.end === 'not-run').map((g) => g.name);
    expect(skipped).toEqual(['grub', 'linux'].filter((g) => names.indexOf(g) % 2 === shard - 1));
    expect(r.status).toBe(rec.guests.every((g) => g.ok) ? 0 : 1);
    expect(rec.totals.skipped).toBeGreaterThanOrEqual(skipped.length);
  }, 120_000);
});
