/**
 * The console/XenStore hostile oracle for the property tests: the run under a plan ends as the
 * unfaulted run does, its TAP stream is whole and passes, and its console log is the unfaulted
 * run's line for line — every byte the guest wrote reached the log once and in order — except
 * TAP diagnostics the guest itself says depend on timing (`timingLines`: e.g. probe-console's
 * count of SCHEDOP_poll waits).
 */
import { parseGuestTap } from '../../../conformance/tap.js';

export interface Observed {
  readonly end: string;
  readonly console: string;
}

/** Violations of the oracle (empty: the run passed). */
export function consoleViolations(
  run: Observed,
  baseline: Observed,
  o: { readonly timingLines?: readonly RegExp[]; readonly timingText?: readonly RegExp[]; readonly tap?: boolean } = {},
): string[] {
  const out: string[] = [];
  if (run.end !== baseline.end) out.push(`ended with ${run.end}, the unfaulted run with ${baseline.end}`);
  if (o.tap !== false) {
    const tap = parseGuestTap(run.console);
    out.push(...tap.problems.map((p) => `TAP: ${p}`));
    for (const t of tap.tests) if (t.status === 'fail') out.push(`TAP: not ok ${t.id} - ${t.name}`);
  }
  const mask = (l: string): string => (o.timingText ?? []).reduce((t, re) => t.replace(re, '*'), l);
  const keep = (text: string): string[] => text.split('\n').filter((l) => !(o.timingLines ?? []).some((re) => re.test(l))).map(mask);
  const a = keep(run.console);
  const b = keep(baseline.console);
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) {
      out.push(`console line ${i + 1} differs from the unfaulted run: ${JSON.stringify(a[i] ?? '(missing)')} instead of ${JSON.stringify(b[i] ?? '(missing)')}`);
      break;
    }
  }
  return out;
}
