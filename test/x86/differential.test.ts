/**
 * The CPU, differentially (STYLE.md §7): a seeded sample of cases for every row of the table,
 * run on the real CPU (test/x86/native/) and on x86/ by the interpreter and by the block
 * compiler, compared on all architectural state (undefined flags masked). A mismatch prints the
 * row, the bytes, our disassembly, the initial state, a per-field diff, and the fast-check seed
 * and path of the shrunk counterexample. Rows invalid in 64-bit mode are checked against
 * qemu-i386 instead. Rows with known, unfixed bugs (diff/known.ts) are compared and printed but
 * do not fail the test. `npm run x86:fuzz` runs the same thing at scale.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
// The decoder enters the table's import cycle first (it reads ROWS at load).
import '../../x86/decoder.js';
import { ROWS, ROWS_BY_NAME } from '../../x86/isa/table.js';
import { NativeRunner, nativeRunnerSupported } from './native/native-runner.js';
import { generateRow, runDifferential, type DiffReport } from './diff/harness.js';
import { notGeneratedReason } from './diff/generate.js';
import { KNOWN_MISMATCHES } from './diff/known.js';
import { formatStats } from './diff/report.js';
import { i386Unsupported, qemuAvailable, runI386 } from './diff/i386.js';
import { rowSeed } from './diff/harness.js';

const CASES_PER_ROW = 20;

describe('x86 differential generators', () => {
  it('every row has a generator, or a stated reason why it cannot run natively', () => {
    const missing: string[] = [];
    for (const row of ROWS) {
      const why = notGeneratedReason(row);
      if (why !== undefined) {
        expect(why.length).toBeGreaterThan(0);
        continue;
      }
      const cases = generateRow(row, inject('seed'), 3);
      if (cases.length !== 3) missing.push(row.name);
      for (const c of cases) {
        expect(c.row).toBe(row);
        expect(c.native.code.length).toBeLessThanOrEqual(64);
        expect(c.insnLength).toBeGreaterThan(0);
        expect(c.insnLength).toBeLessThanOrEqual(15);
      }
    }
    expect(missing).toEqual([]);
  });

  it('rows without a native case are exactly the test.skip rows and the rows invalid in 64-bit mode', () => {
    const skipped = ROWS.filter((r) => notGeneratedReason(r) !== undefined).map((r) => r.name);
    const expected = ROWS.filter((r) => r.test?.skip !== undefined || r.modes === 'i64').map((r) => r.name);
    expect(skipped).toEqual(expected);
  });

  it('the known-mismatch list names existing rows only', () => {
    expect([...KNOWN_MISMATCHES.keys()].filter((n) => !ROWS_BY_NAME.has(n))).toEqual([]);
  });
});

describe.skipIf(!nativeRunnerSupported())('x86 differential sample against the native CPU', () => {
  let runner: NativeRunner;
  let report: DiffReport;

  beforeAll(async () => {
    runner = await NativeRunner.start();
    report = await runDifferential({ runner, seed: inject('seed'), casesPerRow: CASES_PER_ROW, maxDetails: 8, shrink: true, noDetails: (r) => KNOWN_MISMATCHES.has(r) });
  });
  afterAll(async () => {
    await runner?.close();
  });

  it(`ran ${CASES_PER_ROW} cases of every generated row, on both the interpreter and the block compiler`, () => {
    const generated = ROWS.filter((r) => notGeneratedReason(r) === undefined);
    expect(report.stats.map((s) => s.row)).toEqual(generated.map((r) => r.name));
    for (const s of report.stats) expect(s.cases).toBe(CASES_PER_ROW);
    // The runner refuses a case only for a system call or similar; the generator makes none.
    expect(report.stats.filter((s) => s.invalid > 0).map((s) => s.row)).toEqual([]);
  });

  it('x86/ matches the native CPU on every row (known bugs in diff/known.ts reported, not gated)', () => {
    const gating = report.failures.filter((f) => !KNOWN_MISMATCHES.has(f.row));
    const failingRows = report.stats.filter((s) => s.failures > 0 && !KNOWN_MISMATCHES.has(s.row));
    const known = report.stats.filter((s) => s.failures > 0 && KNOWN_MISMATCHES.has(s.row));
    if (known.length > 0) {
      process.stdout.write(`known mismatches (diff/known.ts), seed ${report.seed}:\n${formatStats(known)}\n`);
    }
    const detail = gating.map((f) => f.text).join('\n\n');
    expect(failingRows.map((s) => `${s.row}: ${s.failures}/${s.cases * 2}`), `seed ${report.seed}\n${detail}`).toEqual([]);
  });
});

// Rows invalid in 64-bit mode cannot run on the native runner: qemu-i386 is their oracle
// (diff/i386.ts). Without qemu-user installed they are not checked, and the test says so.
describe('x86 differential sample of the 32-bit-only rows against qemu-i386', () => {
  const available = qemuAvailable();
  it.skipIf(!available)(`x86/ matches qemu-i386 on every i64 row (${CASES_PER_ROW} cases each, both paths)`, () => {
    const i64 = ROWS.filter((r) => r.modes === 'i64');
    // Every i64 row has a generator here but those the table marks `test.skip` (segment loads and far transfers).
    expect(i64.filter((x) => i386Unsupported(x) !== undefined && x.test?.skip === undefined).map((x) => x.name)).toEqual([]);
    const r = runI386(i64, inject('seed'), CASES_PER_ROW, rowSeed);
    expect(r.stats.map((s) => s.row)).toEqual(i64.filter((x) => i386Unsupported(x) === undefined).map((x) => x.name));
    for (const s of r.stats) expect(s.cases).toBe(CASES_PER_ROW);
    expect(r.failures, `seed ${inject('seed')}`).toEqual([]);
  });
});
