/**
 * Sharded runs and `xenlab report merge` (conformance/shard.ts): shards partition the run, and
 * merging their report.json files gives the record (and reports) of the unsharded run, wall
 * times aside; shards of different runs, missing or duplicated shards are refused with one line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mergeRecords, parseShard, readRecord, shardOf } from '../../conformance/shard.js';
import { UserError } from '../../harness/errors.js';
import { RECORD_VERSION, totalsOf, type GuestRecord, type RunRecord } from '../../harness/record.js';
import { runCli } from '../support/cli.js';
import { scratchDir } from '../support/tmp.js';

const dir = scratchDir('shard');

const guest = (name: string, ok = true): GuestRecord => ({
  name,
  description: name,
  config: `${name}.cfg`,
  end: 'poweroff',
  expectedEnd: 'poweroff',
  exitCode: 0,
  detail: 'SHUTDOWN_poweroff code 0',
  ok,
  tests: [{ id: 1, name: 't', status: ok ? 'pass' : 'fail', source: 'guest' }],
  hypercalls: [],
  diagnostics: [],
  instructions: 1,
  guestNs: 1,
  wallMs: 1,
  console: '',
  xenLog: '',
});

const NAMES = ['a', 'b', 'c', 'd', 'e'];
function shardRecord(index: number, count: number): RunRecord {
  const { profiles, info } = shardOf(NAMES.map((n) => ({ name: n })), { index, count });
  const guests = profiles.map((p) => guest(p.name));
  return { version: RECORD_VERSION, tool: { name: 'xenlab', version: '1' }, guests, totals: totalsOf(guests), wallMs: 10 * index, shard: info };
}

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('shards', () => {
  it('parses i/n and refuses anything else with one line', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    for (const bad of ['0/4', '5/4', '1/0', 'x', '1/2/3', '-1/2']) expect(refusal(() => parseShard(bad))).toMatch(/^--shard .*: expected i\/n/);
  });

  it('partitions the run: every profile in exactly one shard, in run order', () => {
    const parts = [1, 2, 3].map((i) => shardOf(NAMES.map((n) => ({ name: n })), { index: i, count: 3 }).profiles.map((p) => p.name));
    expect(parts).toEqual([['a', 'd'], ['b', 'e'], ['c']]);
  });

  it('merges shards in any order into the run order, totals recomputed, wall times summed', () => {
    const m = mergeRecords([3, 1, 2].map((i) => ({ record: shardRecord(i, 3), source: `s${i}` })));
    expect(m.guests.map((g) => g.name)).toEqual(NAMES);
    expect(m.totals).toEqual(totalsOf(NAMES.map((n) => guest(n))));
    expect(m.wallMs).toBe(60);
    expect(m.shard).toBeUndefined();
    expect(m.seed).toBeUndefined();
  });

  it("keeps the run's seed when every shard has the same one, and none when they differ", () => {
    const seeded = (i: number, seed: number): { record: RunRecord; source: string } => ({ record: { ...shardRecord(i, 2), seed }, source: `s${i}` });
    expect(mergeRecords([seeded(1, 42), seeded(2, 42)]).seed).toBe(42);
    expect(mergeRecords([seeded(1, 42), seeded(2, 43)]).seed).toBeUndefined();
    expect('seed' in mergeRecords([seeded(1, 42), { record: shardRecord(2, 2), source: 's2' }])).toBe(false);
  });

  it('refuses missing, duplicated, foreign or tampered shards', () => {
    expect(refusal(() => mergeRecords([{ record: shardRecord(1, 3), source: 's1' }, { record: shardRecord(3, 3), source: 's3' }]))).toBe('report merge: shard 2/3 missing');
    expect(refusal(() => mergeRecords([1, 1, 2, 3].map((i) => ({ record: shardRecord(i, 3), source: `s${i}` }))))).toMatch(/^s1: shard 1\/3 given twice/);
    expect(refusal(() => mergeRecords([{ record: shardRecord(1, 2), source: 'x' }, { record: shardRecord(2, 3), source: 'y' }]))).toMatch(/^y: shard 2\/3 is of a different run/);
    const tampered = shardRecord(2, 2);
    expect(refusal(() => mergeRecords([{ record: shardRecord(1, 2), source: 'p' }, { record: { ...tampered, guests: tampered.guests.slice(1) }, source: 'q' }]))).toMatch(/^q: shard 2\/2 holds d, expected b, d$/);
    const plain = { ...shardRecord(1, 1), shard: undefined };
    expect(refusal(() => mergeRecords([{ record: shardRecord(1, 2), source: 'p' }, { record: plain, source: 'u' }]))).toMatch(/^u: not a shard/);
    expect(refusal(() => readRecord('{', 'r.json'))).toMatch(/^r\.json: not valid JSON/);
    expect(refusal(() => readRecord('{"version":9,"tool":{"name":"xenlab"},"guests":[]}', 'r.json'))).toMatch(/report version 9 is not supported/);
    expect(refusal(() => readRecord('{"hello":1}', 'r.json'))).toMatch(/not a xenlab report\.json/);
  });

  it('xenlab conformance --shard i/n twice, then report merge, writes what an unsharded run writes', async () => {
    const guests = ['--guest', 'probe-basics', '--guest', 'probe-multicall', '--guest', 'probe-shutdown-poweroff'];
    const whole = await runCli(['conformance', ...guests, '--out', join(dir, 'whole')]);
    expect(whole.status).toBe(0);
    for (const i of [1, 2]) {
      const s = await runCli(['conformance', ...guests, '--shard', `${i}/2`, '--out', join(dir, `s${i}`), '--format', 'json']);
      expect(s.status).toBe(0);
      expect(s.stderr).toContain(`shard ${i}/2: ${i === 1 ? 2 : 1} of 3 profiles`);
    }
    const m = await runCli(['report', 'merge', join(dir, 's2/report.json'), join(dir, 's1/report.json'), '--out', join(dir, 'merged')]);
    expect(m.status).toBe(0);
    expect(m.stdout).toMatch(/3 guests, 0 failed/);
    const noWall = (text: string): unknown => JSON.parse(text, (k, v: unknown) => (k === 'wallMs' ? 0 : v));
    expect(noWall(readFileSync(join(dir, 'merged/report.json'), 'utf8'))).toEqual(noWall(readFileSync(join(dir, 'whole/report.json'), 'utf8')));
    const tap = (d: string): string => readFileSync(join(dir, d, 'results.tap'), 'utf8').replace(/\d+(\.\d+)? ?(ms|s)\b/g, 'T');
    expect(tap('merged')).toBe(tap('whole'));
    const bad = await runCli(['report', 'merge', join(dir, 's1/report.json')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe('xenlab: report merge: shard 2/2 missing\n');
  });
});
