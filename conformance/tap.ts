/**
 * A guest's TAP, read with tap-parser from its console output: test points with their skip/todo
 * directives, the `# ` comment lines a failing test prints after itself as its detail, the plan,
 * and what makes the stream itself wrong (no plan, tests missing from the plan, a bail out,
 * duplicate or out-of-order ids). Lines that are not TAP (boot messages) are ignored, as a TAP
 * consumer must.
 */
import { Parser, type Result } from 'tap-parser';
import type { TestRecord } from '../harness/record.js';

export interface GuestTap {
  readonly tests: TestRecord[];
  /** The plan `1..N`, when the guest printed one. */
  readonly plan: { readonly start: number; readonly end: number } | undefined;
  /** Problems with the stream as a whole (each becomes a failing harness check). */
  readonly problems: string[];
  readonly bailout: string | undefined;
}

export function parseGuestTap(text: string): GuestTap {
  const tests: TestRecord[] = [];
  const problems: string[] = [];
  let plan: GuestTap['plan'];
  let bailout: string | undefined;
  let lastFailed: { index: number; lines: string[] } | undefined;
  const p = new Parser({ bail: false, strict: false });
  p.on('assert', (r: Result) => {
    lastFailed = undefined;
    const status = r.todo !== false ? 'todo' : r.skip !== false ? 'skip' : r.ok ? 'pass' : 'fail';
    const reason = status === 'todo' ? r.todo : status === 'skip' ? r.skip : undefined;
    tests.push({ id: r.id, name: r.name, status, source: 'guest', ...(typeof reason === 'string' && reason !== '' ? { detail: reason } : {}) });
    if (status === 'fail') lastFailed = { index: tests.length - 1, lines: [] };
  });
  p.on('comment', (line: string) => {
    if (lastFailed === undefined) return;
    lastFailed.lines.push(line.replace(/^#\s?/, '').trimEnd());
    const t = tests[lastFailed.index]!;
    tests[lastFailed.index] = { ...t, detail: lastFailed.lines.join('\n') };
  });
  p.on('plan', (pl: { start: number; end: number; comment: string }) => {
    // tap-parser makes up "1..0 # no tests found" for a stream without TAP; only a plan the
    // guest printed counts.
    if (pl.end < pl.start && tests.length === 0 && !/^\s*1\.\.0\b/m.test(text)) return;
    plan = { start: pl.start, end: pl.end };
  });
  p.on('bailout', (reason: string) => {
    bailout = reason;
  });
  p.end(text);
  if (bailout !== undefined) problems.push(`the guest bailed out: ${bailout || '(no reason given)'}`);
  if (plan === undefined) problems.push(tests.length === 0 ? 'the guest printed no TAP (no plan, no tests)' : 'the guest printed no plan line (1..N)');
  else {
    const count = plan.end - plan.start + 1;
    if (tests.length < count && bailout === undefined) problems.push(`the plan says ${count} tests, the guest ran ${tests.length}`);
    if (tests.length > count) problems.push(`the guest ran ${tests.length} tests, more than its plan of ${count}`);
  }
  tests.forEach((t, k) => {
    if (plan !== undefined && t.id !== plan.start + k) problems.push(`test ${k + 1} is numbered ${t.id}`);
  });
  return { tests, plan, problems, bailout };
}
