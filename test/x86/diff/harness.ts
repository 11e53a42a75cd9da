/**
 * The differential run: seeded cases per row (generate.ts), batched through one NativeRunner,
 * each run on x86/ by the interpreter and by the block compiler (emulate.ts), compared field by
 * field (compare.ts). Failing rows are re-run through fast-check with the same seed so the
 * counterexample is shrunk, and reported with the seed and the fast-check path.
 */
import fc from 'fast-check';
// The decoder enters the table's import cycle first (it reads ROWS at load).
import '../../../x86/decoder.js';
import { ROWS } from '../../../x86/isa/table.js';
import type { Row } from '../../../x86/isa/types.js';
import type { NativeRunner, NativeResult } from '../native/native-runner.js';
import { compare, formatMismatch, type FieldDiff } from './compare.js';
import { emulate, type Outcome, type Path } from './emulate.js';
import { build, notGeneratedReason, specArbitrary, type DiffCase, type Spec } from './generate.js';

export interface RowStat {
  readonly row: string;
  cases: number;
  failures: number;
  /** Cases the native runner refused or could not represent (outcome `invalid`). */
  invalid: number;
  /** Cases both sides stopped by their watchdog (infinite loops). */
  timeouts: number;
  /** Mismatches that went away when the native case was run again (host flakes, see the runner's README). */
  flaky: number;
}

export interface Failure {
  readonly row: string;
  readonly path: Path;
  readonly index: number;
  readonly text: string;
}

export interface DiffReport {
  readonly seed: number;
  readonly stats: RowStat[];
  readonly failures: Failure[];
  readonly mismatches: number;
  readonly notGenerated: { row: string; reason: string }[];
}

export interface DiffOptions {
  readonly runner: NativeRunner;
  readonly seed: number;
  readonly rows?: readonly Row[];
  readonly casesPerRow: number;
  readonly paths?: readonly Path[];
  /** Failures to report in detail (shrunk, when `shrink`). */
  readonly maxDetails?: number;
  readonly shrink?: boolean;
  /** Rows whose failures are counted but not reported in detail (the CI test's known bugs). */
  readonly noDetails?: (row: string) => boolean;
  readonly log?: (line: string) => void;
}

/** The fast-check seed of one row: the run seed mixed with the row's name (stable when rows are added). */
export function rowSeed(seed: number, row: Row): number {
  let h = 0x811c9dc5;
  for (const ch of row.name) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return (seed ^ h) >>> 0 | 0;
}

export function generateRow(row: Row, seed: number, n: number): DiffCase[] {
  if (n <= 0 || notGeneratedReason(row) !== undefined) return [];
  const specs = fc.sample(specArbitrary(), { seed: rowSeed(seed, row), numRuns: n });
  return specs.map((s) => build(row, s) as DiffCase);
}

const BATCH = 4000;

export async function runDifferential(o: DiffOptions): Promise<DiffReport> {
  const rows = o.rows ?? ROWS;
  const paths = o.paths ?? ['interp', 'jit'];
  const maxDetails = o.maxDetails ?? 5;
  const stats: RowStat[] = [];
  const notGenerated: { row: string; reason: string }[] = [];
  const failing: { dc: DiffCase; path: Path; index: number; stat: RowStat; diffs: FieldDiff[] }[] = [];
  let pending: { dc: DiffCase; index: number; stat: RowStat }[] = [];
  let mismatches = 0;

  const flush = async (): Promise<void> => {
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    const results = await o.runner.run(batch.map((p) => p.dc.native));
    for (let k = 0; k < batch.length; k++) {
      const { dc, index, stat } = batch[k] as (typeof batch)[number];
      const nat = results[k] as NativeResult;
      stat.cases++;
      if (nat.outcome === 'invalid') {
        stat.invalid++;
        continue;
      }
      let timedOut = false;
      for (const path of paths) {
        const ours = emulate(dc.native, path);
        let diffs = compare(dc, nat, ours);
        if (diffs.length > 0) {
          // The host is not perfectly deterministic (see the runner's README): ask it again.
          const [again] = await o.runner.run([dc.native]);
          if (again !== undefined && compare(dc, again, ours).length === 0) {
            stat.flaky++;
            continue;
          }
          diffs = again === undefined ? diffs : compare(dc, again, ours);
          mismatches++;
          stat.failures++;
          failing.push({ dc, path, index, stat, diffs });
        } else if (nat.outcome === 'timeout') timedOut = true;
      }
      if (timedOut) stat.timeouts++;
    }
  };

  for (const row of rows) {
    const why = notGeneratedReason(row);
    if (why !== undefined) {
      notGenerated.push({ row: row.name, reason: why });
      continue;
    }
    const stat: RowStat = { row: row.name, cases: 0, failures: 0, invalid: 0, timeouts: 0, flaky: 0 };
    stats.push(stat);
    generateRow(row, o.seed, o.casesPerRow).forEach((dc, index) => pending.push({ dc, index, stat }));
    if (pending.length >= BATCH) {
      await flush();
      o.log?.(`  ... ${stats.reduce((a, s) => a + s.cases, 0)} cases, ${mismatches} mismatches`);
    }
  }
  await flush();

  // Details: the first failure of each of the first rows, shrunk by fast-check when asked.
  const failures: Failure[] = [];
  const seen = new Set<string>();
  for (const f of failing) {
    if (failures.length >= maxDetails) break;
    const key = `${f.dc.row.name}/${f.path}`;
    if (seen.has(key) || o.noDetails?.(f.dc.row.name) === true) continue;
    seen.add(key);
    let text = formatMismatch(f.dc, f.path, f.diffs, `  seed ${o.seed}, row seed ${rowSeed(o.seed, f.dc.row)}, case #${f.index}`);
    if (o.shrink === true) {
      const shrunk = await shrinkFailure(o.runner, f.dc.row, o.seed, f.index + 1, f.path);
      if (shrunk !== undefined) text += `\n  shrunk by fast-check:\n${shrunk}`;
    }
    failures.push({ row: f.dc.row.name, path: f.path, index: f.index, text });
  }
  return { seed: o.seed, stats, failures, mismatches, notGenerated };
}

/** One case, natively and on one path; the diffs (empty when equal or not representable). */
export async function checkOne(runner: NativeRunner, dc: DiffCase, path: Path): Promise<{ diffs: FieldDiff[]; native: NativeResult; ours: Outcome }> {
  const [nat] = (await runner.run([dc.native])) as [NativeResult];
  const ours = emulate(dc.native, path);
  return { diffs: nat.outcome === 'invalid' ? [] : compare(dc, nat, ours), native: nat, ours };
}

/**
 * Replays the row's generation through `fc.check` (same seed, so the same values) and lets
 * fast-check shrink the first failing case; returns the formatted shrunk counterexample.
 */
export async function shrinkFailure(runner: NativeRunner, row: Row, seed: number, numRuns: number, path: Path, replayPath?: string): Promise<string | undefined> {
  let last: { dc: DiffCase; diffs: FieldDiff[] } | undefined;
  const prop = fc.asyncProperty(specArbitrary(), async (s: Spec) => {
    const dc = build(row, s) as DiffCase;
    const { diffs } = await checkOne(runner, dc, path);
    if (diffs.length === 0) return true;
    // A second native run guards against host flakes while shrinking.
    const again = await checkOne(runner, dc, path);
    if (again.diffs.length === 0) return true;
    last = { dc, diffs: again.diffs };
    return false;
  });
  const result = await fc.check(prop, { seed: rowSeed(seed, row), numRuns, ...(replayPath !== undefined ? { path: replayPath } : {}) });
  if (!result.failed || result.counterexample === null) return undefined;
  const [s] = result.counterexample;
  const dc = build(row, s) as DiffCase;
  const { diffs } = await checkOne(runner, dc, path);
  const shown = diffs.length > 0 ? diffs : (last?.diffs ?? []);
  return formatMismatch(dc, path, shown, `  replay: npm run x86:fuzz -- --row ${row.name} --seed ${seed} --emu ${path} --replay ${result.counterexamplePath ?? ''}  (fast-check seed ${rowSeed(seed, row)}, path ${result.counterexamplePath ?? ''})`);
}
