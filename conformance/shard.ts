/**
 * Sharded conformance runs: `xenlab conformance --shard i/n` runs every n-th profile of the run
 * (those at positions k with k mod n = i - 1, so each shard gets a mix of fast and slow guests),
 * and records which part it holds; `xenlab report merge` combines the shards' report.json files
 * into the record an unsharded run would have written (guests in run order, totals recomputed,
 * wall time the sum of the shards'). A CI matrix runs one shard per machine and merges at the end.
 */
import { UserError } from '../harness/errors.js';
import { RECORD_VERSION, totalsOf, type GuestRecord, type RunRecord, type ShardInfo } from '../harness/record.js';

export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** `--shard i/n`, 1 ≤ i ≤ n. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (m === null || !(count >= 1 && count <= 1000) || !(index >= 1 && index <= count)) {
    throw new UserError('bad-option', `--shard ${text}: expected i/n with 1 <= i <= n <= 1000 (e.g. 2/4)`);
  }
  return { index, count };
}

/** The profiles shard `s` runs, and the record's shard field. */
export function shardOf<T extends { readonly name: string }>(all: readonly T[], s: Shard): { profiles: T[]; info: ShardInfo } {
  return {
    profiles: all.filter((_, k) => k % s.count === s.index - 1),
    info: { index: s.index, count: s.count, profiles: all.map((p) => p.name) },
  };
}

/** A report.json's record, checked enough to merge: `source` names it in errors. */
export function readRecord(text: string, source: string): RunRecord {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError('bad-file', `${source}: not valid JSON (${(e as Error).message})`);
  }
  const r = v as Omit<Partial<RunRecord>, 'version'> & { version?: unknown };
  if (typeof r !== 'object' || r === null || r.tool?.name !== 'xenlab' || !Array.isArray(r.guests)) {
    throw new UserError('bad-file', `${source}: not a xenlab report.json (no tool "xenlab" and guests list)`);
  }
  if (r.version !== 1 && r.version !== RECORD_VERSION) {
    throw new UserError('bad-file', `${source}: report version ${String(r.version)} is not supported (this xenlab reads 1 and ${RECORD_VERSION})`);
  }
  for (const [k, g] of r.guests.entries()) {
    if (typeof g?.name !== 'string' || !Array.isArray(g.tests)) throw new UserError('bad-file', `${source}: guest ${k + 1} has no name or tests`);
  }
  return { ...(r as RunRecord), version: RECORD_VERSION };
}

/**
 * Combines shard records into one. Every input must be a shard of the same run (same profile
 * list, same count, each index once, same xenlab version), all shards present; unsharded
 * records can be merged too (their guests concatenated in argument order, names unique).
 */
export function mergeRecords(records: readonly { record: RunRecord; source: string }[]): RunRecord {
  if (records.length === 0) throw new UserError('usage', 'report merge: no reports given');
  const first = records[0]!;
  const versions = new Set(records.map((x) => x.record.tool.version));
  if (versions.size > 1) throw new UserError('bad-file', `report merge: the reports come from different xenlab versions (${[...versions].join(', ')})`);
  const sharded = records.filter((x) => x.record.shard !== undefined);
  let guests: GuestRecord[];
  if (sharded.length > 0) {
    if (sharded.length !== records.length) {
      const plain = records.find((x) => x.record.shard === undefined)!;
      throw new UserError('bad-file', `${plain.source}: not a shard, but ${sharded[0]!.source} is (merge the shards of one run)`);
    }
    const base = first.record.shard!;
    const key = JSON.stringify(base.profiles);
    const seen = new Map<number, string>();
    for (const { record, source } of records) {
      const s = record.shard!;
      if (s.count !== base.count || JSON.stringify(s.profiles) !== key) throw new UserError('bad-file', `${source}: shard ${s.index}/${s.count} is of a different run than ${first.source} (shard ${base.index}/${base.count})`);
      const dup = seen.get(s.index);
      if (dup !== undefined) throw new UserError('bad-file', `${source}: shard ${s.index}/${s.count} given twice (also ${dup})`);
      seen.set(s.index, source);
      const expected = shardOf(base.profiles.map((name) => ({ name })), s).profiles.map((p) => p.name);
      const got = record.guests.map((g) => g.name);
      if (JSON.stringify(expected) !== JSON.stringify(got)) throw new UserError('bad-file', `${source}: shard ${s.index}/${s.count} holds ${got.join(', ') || 'no guests'}, expected ${expected.join(', ') || 'none'}`);
    }
    const missing = Array.from({ length: base.count }, (_, k) => k + 1).filter((i) => !seen.has(i));
    if (missing.length > 0) throw new UserError('bad-file', `report merge: shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${base.count}`).join(', ')} missing`);
    const byName = new Map(records.flatMap((x) => x.record.guests.map((g) => [g.name, g] as const)));
    guests = base.profiles.map((name) => byName.get(name)!);
  } else {
    guests = records.flatMap((x) => [...x.record.guests]);
    const names = new Set<string>();
    for (const g of guests) {
      if (names.has(g.name)) throw new UserError('bad-file', `report merge: guest '${g.name}' appears in more than one report`);
      names.add(g.name);
    }
  }
  // The run's seed carries over when every record has the same one (shards of one seeded run);
  // records seeded differently have no one seed (each guest's counterexample keeps its own).
  const seeds = new Set(records.map((x) => x.record.seed));
  const seed = seeds.size === 1 ? first.record.seed : undefined;
  return {
    version: RECORD_VERSION,
    tool: first.record.tool,
    guests,
    totals: totalsOf(guests),
    wallMs: records.reduce((n, x) => n + x.record.wallMs, 0),
    ...(seed !== undefined ? { seed } : {}),
  };
}
