/**
 * TAP version 14 of a run: one subtest per guest (its TAP tests and the harness's checks,
 * renumbered in order), a failing test's detail as a YAML diagnostic block, and one top-level
 * test point per guest. tap-parser and prove read it.
 */
import type { GuestRecord, RunRecord, TestRecord } from '../harness/record.js';

/** A TAP description: no newlines, and no '#' that would start a directive. */
function description(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/#/g, '\\#');
}

function yamlBlock(indent: string, fields: Record<string, string>): string[] {
  const out = [`${indent}  ---`];
  for (const [k, v] of Object.entries(fields)) {
    const lines = v.split('\n');
    if (lines.length === 1 && !/^[\s'"{[&*!|>%@`-]|[:#]/.test(v)) out.push(`${indent}  ${k}: ${v}`);
    else {
      out.push(`${indent}  ${k}: |-`);
      for (const l of lines) out.push(`${indent}    ${l}`);
    }
  }
  out.push(`${indent}  ...`);
  return out;
}

function testLine(indent: string, n: number, t: TestRecord): string[] {
  const ok = t.status === 'fail' ? 'not ok' : 'ok';
  const directive = t.status === 'skip' ? ` # SKIP ${t.detail ?? ''}`.trimEnd() : t.status === 'todo' ? ` # TODO ${t.detail ?? ''}`.trimEnd() : '';
  const lines = [`${indent}${ok} ${n} - ${description(t.name)}${directive}`];
  if (t.status === 'fail' && t.detail !== undefined && t.detail !== '') lines.push(...yamlBlock(indent, { source: t.source, detail: t.detail }));
  return lines;
}

/** One comment line of the guest's ABI coverage beyond hypercalls (the JSON and HTML reports have it all). */
function coverageLine(g: GuestRecord): string {
  const parts: string[] = [];
  if (g.xenfeat !== undefined) {
    const asked = g.xenfeat.queries.map((q) => `${q.submap} ${q.result}`);
    parts.push(`XENFEAT submaps queried: ${asked.length > 0 ? asked.join(', ') : 'none'}`);
  }
  if (g.xenstore !== undefined) {
    const paths = new Set(g.xenstore.accesses.filter((a) => a.path !== '').map((a) => a.path));
    const msgs = g.xenstore.accesses.reduce((k, a) => k + a.count, 0) + (g.xenstore.dropped ?? 0);
    parts.push(`XenStore: ${msgs} requests on ${paths.size} paths`);
  }
  return parts.join('; ');
}

function guestLines(g: GuestRecord, n: number): string[] {
  const ind = '    ';
  const out = [`# Subtest: ${description(g.name)}`];
  out.push(`${ind}# ${description(g.description)}`);
  if (g.error !== undefined) out.push(`${ind}# error: ${description(g.error)}`);
  out.push(`${ind}1..${g.tests.length}`);
  g.tests.forEach((t, k) => out.push(...testLine(ind, k + 1, t)));
  // A guest that did not run (its fixture missing) is skipped as a whole, with the reason.
  const notRun = g.end === 'not-run' && g.tests.length > 0 && g.tests.every((t) => t.status === 'skip');
  out.push(`${g.ok ? 'ok' : 'not ok'} ${n} - ${description(g.name)}${notRun ? ` # SKIP ${description(g.detail)}` : ''}`);
  if (g.xenfeat !== undefined || g.xenstore !== undefined) out.push(`# ${description(g.name)} coverage: ${coverageLine(g)}`);
  if (!g.ok) out.push(...yamlBlock('', { end: g.end, expected: g.expectedEnd, detail: g.error ?? g.detail }));
  return out;
}

export function renderTap(r: RunRecord): string {
  const lines = ['TAP version 14', `# xenlab ${r.tool.version} conformance`];
  r.guests.forEach((g, k) => lines.push(...guestLines(g, k + 1)));
  lines.push(`1..${r.guests.length}`);
  const t = r.totals;
  lines.push(`# guests ${t.guests}, failed ${t.guestsFailed}; tests ${t.tests}: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped, ${t.todo} todo`);
  return `${lines.join('\n')}\n`;
}
