/**
 * The one-screen summary a conformance run prints: a line per guest, the failing tests of the
 * failed guests (a few each, with their first detail line), the totals and where the reports are.
 */
import type { RunRecord } from '../harness/record.js';

const MAX_FAILURES_SHOWN = 5;

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function renderSummary(r: RunRecord, written: readonly string[]): string {
  const width = Math.max(12, ...r.guests.map((g) => g.name.length));
  const lines: string[] = [];
  for (const g of r.guests) {
    const passed = g.tests.filter((t) => t.status === 'pass').length;
    // Skips and todos are not counted against the guest (the totals line counts them).
    const counted = g.tests.filter((t) => t.status === 'pass' || t.status === 'fail').length;
    // A guest that did not run (its fixture missing): its reason instead of figures.
    if (g.end === 'not-run' && g.tests.every((t) => t.status === 'skip')) {
      lines.push(`skip ${pad(g.name, width)} ${g.detail}`);
      continue;
    }
    const mark = g.ok ? 'ok  ' : 'FAIL';
    const secs = (g.wallMs / 1000).toFixed(1);
    lines.push(`${mark} ${pad(g.name, width)} ${pad(`${passed}/${counted} passed`, 15)} ${pad(g.end, 10)} ${pad(`${(g.instructions / 1e6).toFixed(1)}M insns`, 14)} ${secs} s`);
    if (g.ok) continue;
    if (g.error !== undefined) lines.push(`       ${g.error}`);
    const failed = g.tests.filter((t) => t.status === 'fail');
    for (const t of failed.slice(0, MAX_FAILURES_SHOWN)) {
      const first = (t.detail ?? '').split('\n')[0] ?? '';
      lines.push(`       not ok ${t.id} - ${t.name}${first !== '' ? `: ${first}` : ''}`);
    }
    if (failed.length > MAX_FAILURES_SHOWN) lines.push(`       ... and ${failed.length - MAX_FAILURES_SHOWN} more (see the reports)`);
  }
  const t = r.totals;
  lines.push('');
  lines.push(`${t.guests} guests, ${t.guestsFailed} failed; ${t.tests} tests: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped, ${t.todo} todo (${(r.wallMs / 1000).toFixed(1)} s)`);
  if (written.length > 0) lines.push(`reports: ${written.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
