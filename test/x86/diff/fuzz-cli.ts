/**
 * `npm run x86:fuzz -- --cases N [--row NAME[,NAME...]] [--seed S] [--details K] [--all] [--no-shrink]`
 * runs N differential cases spread over the table (or the given rows), prints a table of rows
 * with cases and failures, then the first failures in detail (shrunk by fast-check); exit 1 on
 * any mismatch. `--row NAME --seed S --emu interp|jit --replay PATH` replays one fast-check
 * counterexample path, as printed by a failure.
 *
 * Run with vite-node (TypeScript, no build step).
 */
// The decoder enters the table's import cycle first (it reads ROWS at load).
import '../../../x86/decoder.js';
import { ROWS, ROWS_BY_NAME } from '../../../x86/isa/table.js';
import type { Row } from '../../../x86/isa/types.js';
import { runSeed } from '../../support/seed.js';
import { NativeRunner, nativeRunnerSupported } from '../native/native-runner.js';
import type { Path } from './emulate.js';
import { notGeneratedReason } from './generate.js';
import { rowSeed, runDifferential, shrinkFailure } from './harness.js';
import { qemuAvailable, runI386 } from './i386.js';
import { formatReport } from './report.js';

interface Args {
  cases: number;
  rows: Row[];
  seed: number;
  details: number;
  all: boolean;
  shrink: boolean;
  emu?: Path;
  replay?: string;
}

function parse(argv: readonly string[]): Args {
  const a: Args = { cases: 20_000, rows: [...ROWS], seed: runSeed(), details: 5, all: false, shrink: true };
  const named: Row[] = [];
  for (let k = 0; k < argv.length; k++) {
    const flag = argv[k] as string;
    const value = (): string => {
      const v = argv[++k];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--':
        break;
      case '--cases':
        a.cases = Number(value());
        if (!Number.isInteger(a.cases) || a.cases <= 0) throw new Error('--cases: a positive integer');
        break;
      case '--row':
        for (const n of value().split(',')) {
          const r = ROWS_BY_NAME.get(n);
          if (r === undefined) throw new Error(`--row: no row named ${n}`);
          named.push(r);
        }
        break;
      case '--seed':
        a.seed = Number(value()) >>> 0;
        break;
      case '--details':
        a.details = Number(value());
        break;
      case '--all':
        a.all = true;
        break;
      case '--no-shrink':
        a.shrink = false;
        break;
      case '--emu': {
        const v = value();
        if (v !== 'interp' && v !== 'jit') throw new Error('--emu: interp or jit');
        a.emu = v;
        break;
      }
      case '--replay':
        a.replay = value();
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  if (named.length > 0) a.rows = named;
  return a;
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (!nativeRunnerSupported()) {
    process.stderr.write('x86:fuzz needs the native runner (Linux on x86-64)\n');
    return 2;
  }
  const runner = await NativeRunner.start();
  try {
    if (args.replay !== undefined) {
      const [row] = args.rows;
      if (args.rows.length !== 1 || row === undefined) throw new Error('--replay needs exactly one --row');
      const text = await shrinkFailure(runner, row, args.seed, 1, args.emu ?? 'interp', args.replay);
      process.stdout.write(text === undefined ? 'the replayed case matches\n' : `${text}\n`);
      return text === undefined ? 0 : 1;
    }
    const runnable = args.rows.filter((r) => notGeneratedReason(r) === undefined);
    const i64 = args.rows.filter((r) => r.modes === 'i64');
    const qemu = i64.length > 0 && qemuAvailable();
    const count = runnable.length + (qemu ? i64.length : 0);
    if (count === 0) throw new Error(`no runnable rows: ${args.rows.map((r) => `${r.name} (${notGeneratedReason(r) ?? ''})`).join(', ')}`);
    const perRow = Math.max(1, Math.ceil(args.cases / count));
    process.stderr.write(`x86:fuzz: seed ${args.seed}, ${perRow} cases for each of ${count} rows\n`);
    let i386Mismatches = 0;
    if (i64.length > 0 && !qemu) process.stdout.write(`qemu-i386 not found: ${i64.length} rows invalid in 64-bit mode not checked (apt-get install qemu-user)\n`);
    if (qemu) {
      const r = runI386(i64, args.seed, perRow, rowSeed);
      i386Mismatches = r.mismatches;
      process.stdout.write(`against qemu-i386 (rows invalid in 64-bit mode): ${r.stats.map((s) => `${s.row} ${s.failures}/${s.cases * 2}`).join(', ')}\n`);
      if (r.failures.length > 0) process.stdout.write(`${r.failures.join('\n')}\n`);
    }
    const report = await runDifferential({
      runner,
      seed: args.seed,
      rows: args.rows,
      casesPerRow: perRow,
      maxDetails: args.details,
      shrink: args.shrink,
      log: (l) => process.stderr.write(`${l}\n`),
    });
    if (runnable.length > 0) process.stdout.write(`${formatReport(report, args.all || args.rows.length <= 40)}\n`);
    return report.mismatches + i386Mismatches > 0 ? 1 : 0;
  } finally {
    await runner.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`x86:fuzz: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
