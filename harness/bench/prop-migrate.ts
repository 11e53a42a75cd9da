/**
 * `npm run prop:migrate -- --runs N [--seed S]`: the random-point properties of
 * test/harness/toolstack/migrate.prop.test.ts (live migration) and
 * test/harness/boot/save-ops.prop.test.ts (schedules of cancelled suspends, save/restores and
 * migrations) with N runs each instead of the suite's few (their XENLAB_PROP_RUNS), from seed S (XENLAB_SEED; default the suite's, `random` picks one and the
 * run prints it). Each run is a whole migration of probe-suspend and the guest's run to its end
 * (about a second); fast-check prints the shrunk schedule of a failure. The exit status is
 * vitest's (docs/migration.md).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** The live-migration property, and the schedules of cancels, save/restores and migrations at random points. */
const PROPERTIES = ['test/harness/toolstack/migrate.prop.test.ts', 'test/harness/boot/save-ops.prop.test.ts'];
/** Test time allowed per run (a run takes about a second; a slow machine or a shrink takes longer). */
const MS_PER_RUN = 30_000;

function usage(message: string): never {
  process.stderr.write(`prop:migrate: ${message}\nusage: npm run prop:migrate -- --runs N [--seed S|random]\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): { runs: number; seed: string | undefined } {
  let runs: number | undefined;
  let seed: string | undefined;
  for (let k = 0; k < argv.length; k++) {
    const [flag, inline] = (argv[k] as string).split('=', 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? argv[++k];
      if (v === undefined || v === '') usage(`${flag} expects a value`);
      return v;
    };
    if (flag === '--runs') {
      const v = value();
      runs = Number(v);
      if (!Number.isSafeInteger(runs) || runs < 1) usage(`--runs expects a positive whole number, not '${v}'`);
    } else if (flag === '--seed') {
      seed = value();
      if (seed !== 'random' && !/^\d+$/.test(seed)) usage(`--seed expects a non-negative integer or 'random', not '${seed}'`);
    } else if (flag === '--help' || flag === '-h') usage('runs the live-migration property N times');
    else usage(`unknown argument '${argv[k] as string}'`);
  }
  if (runs === undefined) usage('--runs N is required');
  return { runs, seed };
}

const { runs, seed } = parseArgs(process.argv.slice(2));
const root = process.cwd();
const r = spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', ...PROPERTIES, '--testTimeout', String(runs * MS_PER_RUN + 60_000)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, XENLAB_PROP_RUNS: String(runs), ...(seed !== undefined ? { XENLAB_SEED: seed } : {}) },
});
process.exit(r.status ?? 1);
