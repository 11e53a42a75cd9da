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

function guestLines(g: GuestRecord, n: number): string[] {
  const ind = '    ';
  const out = [`# Subtest: ${description(g.name)}`];
  out.push(`${ind}# ${description(g.description)}`);
  if (g.error !== undefined) out.push(`${ind}# error: ${description(g.error)}`);
  out.push(`${ind}1..${g.tests.length}`);
  g.tests.forEach((t, k) => out.push(...testLine(ind, k + 1, t)));
  out.push(`${g.ok ? 'ok' : 'not ok'} ${n} - ${description(g.name)}`);
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
