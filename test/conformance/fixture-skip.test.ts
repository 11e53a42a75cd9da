/**
 * `xenlab conformance` without a fixture cached (XENLAB_FIXTURES_CACHE on an empty directory): each
 * profile of a missing Debian fixture is a guest row of one skip "fixture missing: <fixture> (run
 * `npm run fixtures`)" in every report, the run does not fail, and it stays in the run's profile
 * list, so `--shard i/n` partitions the same list as on a machine with the fixtures (a shard of
 * exactly that profile holds just its skip row) and the shards merge into the unsharded run's
 * record and TAP.
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

  it('the shards of a run without fixtures merge into what the unsharded run writes, skips in place', async () => {
    const whole = await runCli(['conformance', '--format', 'json', '--format', 'tap', '--out', join(dir, 'whole')], env);
    const rec = JSON.parse(readFileSync(join(dir, 'whole', 'report.json'), 'utf8')) as RunRecord;
    expect(rec.guests.map((g) => g.name)).toEqual(names);
    expect(rec.guests.filter((g) => g.end === 'not-run').map((g) => g.name)).toEqual(['grub', 'linux']);
    for (const i of [1, 2, 3]) {
      const s = await runCli(['conformance', '--shard', `${i}/3`, '--format', 'json', '--out', join(dir, `s${i}`)], env);
      expect(s.stderr).toContain(`shard ${i}/3: ${names.filter((_, k) => k % 3 === i - 1).length} of ${n} profiles`);
    }
    const m = await runCli(['report', 'merge', ...[3, 1, 2].map((i) => join(dir, `s${i}`, 'report.json')), '--format', 'json', '--format', 'tap', '--out', join(dir, 'merged')]);
    expect(m.status).toBe(whole.status);
    const noWall = (text: string): unknown => JSON.parse(text, (k, v: unknown) => (k === 'wallMs' ? 0 : v));
    expect(noWall(readFileSync(join(dir, 'merged', 'report.json'), 'utf8'))).toEqual(noWall(readFileSync(join(dir, 'whole', 'report.json'), 'utf8')));
    const tap = (d: string): string => readFileSync(join(dir, d, 'results.tap'), 'utf8');
    expect(tap('merged')).toBe(tap('whole'));
    expect(tap('whole')).toContain('# SKIP fixture missing: kernel (run `npm run fixtures`)');
  }, 300_000);
});
