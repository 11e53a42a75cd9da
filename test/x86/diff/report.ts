/** Text renderings of a differential run: the per-row table and the coverage summary. */
// The decoder enters the table's import cycle first (it reads ROWS at load).
import '../../../x86/decoder.js';
import { ROWS } from '../../../x86/isa/table.js';
import { notGeneratedReason } from './generate.js';
import { i386Unsupported } from './i386.js';
import type { DiffReport, RowStat } from './harness.js';

/** A table of rows: cases, failures (over both paths), and the runner's invalid/timeout/flaky counts. */
export function formatStats(stats: readonly RowStat[]): string {
  const w = Math.max(4, ...stats.map((s) => s.row.length));
  const head = `${'row'.padEnd(w)}  ${'cases'.padStart(6)}  ${'fail'.padStart(5)}  ${'inval'.padStart(5)}  ${'tmout'.padStart(5)}  ${'flaky'.padStart(5)}`;
  const lines = stats.map(
    (s) =>
      `${s.row.padEnd(w)}  ${String(s.cases).padStart(6)}  ${String(s.failures).padStart(5)}  ${String(s.invalid).padStart(5)}  ${String(s.timeouts).padStart(5)}  ${String(s.flaky).padStart(5)}`,
  );
  return [head, ...lines].join('\n');
}

export function formatReport(r: DiffReport, allRows: boolean): string {
  const total = r.stats.reduce((a, s) => a + s.cases, 0);
  const failing = r.stats.filter((s) => s.failures > 0);
  const out: string[] = [];
  out.push(formatStats(allRows ? r.stats : failing.length > 0 ? failing : []));
  out.push('');
  out.push(
    `seed ${r.seed}: ${total} cases over ${r.stats.length} rows (x2: interpreter and block compiler), ` +
      `${r.mismatches} mismatches in ${failing.length} rows; ` +
      `${r.stats.reduce((a, s) => a + s.invalid, 0)} invalid, ${r.stats.reduce((a, s) => a + s.timeouts, 0)} timeouts, ` +
      `${r.stats.reduce((a, s) => a + s.flaky, 0)} host flakes`,
  );
  if (r.notGenerated.length > 0) out.push(`not run natively: ${r.notGenerated.length} rows (npm run x86:coverage lists them)`);
  if (r.failures.length > 0) {
    out.push('', `first failures:`, '');
    out.push(r.failures.map((f) => f.text).join('\n\n'));
  }
  return out.join('\n');
}

/** Rows with a generator over all rows, and every row without one with its reason. */
export function formatCoverage(): string {
  const native = ROWS.filter((r) => notGeneratedReason(r) === undefined);
  const qemu = ROWS.filter((r) => r.modes === 'i64' && i386Unsupported(r) === undefined);
  const without = ROWS.filter((r) => !native.includes(r) && !qemu.includes(r)).map((r) => [r.name, r.modes === 'i64' ? (i386Unsupported(r) ?? '') : (notGeneratedReason(r) ?? '')] as const);
  const w = Math.max(...ROWS.map((r) => r.name.length), 4);
  return [
    `rows with a differential generator: ${native.length + qemu.length} / ${ROWS.length}`,
    `  against the native CPU: ${native.length}`,
    `  against qemu-i386 (invalid in 64-bit mode): ${qemu.length}: ${qemu.map((r) => r.name).join(' ')}`,
    `rows without one (${without.length}):`,
    ...without.map(([n, why]) => `  ${n.padEnd(w)}  ${why}`),
  ].join('\n');
}
