/**
 * JUnit XML of a run, in the shape CI servers (GitLab, Jenkins, GitHub test reporters) read:
 * one <testsuite> per guest, one <testcase> per test, <failure>/<skipped> as TAP said, the
 * guest's end and hypercall totals as properties, its console in <system-out>.
 */
import type { GuestRecord, RunRecord, TestRecord } from '../harness/record.js';

/** Characters XML 1.0 cannot carry at all (C0 controls but tab, CR, LF; lone surrogates). */
const INVALID_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/g;

function text(s: string): string {
  return s.replace(INVALID_XML, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function attr(s: string): string {
  return text(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/\n/g, '&#10;');
}

function cdata(s: string): string {
  return `<![CDATA[${text(s).replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function testcase(g: GuestRecord, t: TestRecord): string[] {
  const open = `    <testcase classname="${attr(`xenlab.${g.name}`)}" name="${attr(`${t.id} - ${t.name}`)}" time="0">`;
  if (t.status === 'pass' || t.status === 'todo') {
    return t.status === 'todo' ? [open, `      <system-out>${cdata(`TODO ${t.detail ?? ''}`)}</system-out>`, '    </testcase>'] : [`${open.slice(0, -1)}/>`];
  }
  if (t.status === 'skip') return [open, `      <skipped message="${attr(t.detail ?? '')}"/>`, '    </testcase>'];
  const msg = (t.detail ?? 'failed').split('\n')[0] ?? 'failed';
  return [open, `      <failure message="${attr(msg)}" type="${t.source}">${cdata(t.detail ?? '')}</failure>`, '    </testcase>'];
}

function suite(g: GuestRecord): string[] {
  const failures = g.tests.filter((t) => t.status === 'fail').length;
  const skipped = g.tests.filter((t) => t.status === 'skip').length;
  const calls = g.hypercalls.reduce((n, h) => n + h.count, 0);
  const out = [
    `  <testsuite name="${attr(g.name)}" tests="${g.tests.length}" failures="${failures}" errors="${g.error !== undefined ? 1 : 0}" skipped="${skipped}" time="${seconds(g.wallMs)}">`,
    '    <properties>',
    `      <property name="config" value="${attr(g.config)}"/>`,
    `      <property name="end" value="${attr(g.end)}"/>`,
    `      <property name="expected-end" value="${attr(g.expectedEnd)}"/>`,
    `      <property name="detail" value="${attr(g.detail)}"/>`,
    `      <property name="instructions" value="${g.instructions}"/>`,
    `      <property name="guest-ns" value="${g.guestNs}"/>`,
    `      <property name="hypercalls" value="${calls}"/>`,
    '    </properties>',
  ];
  if (g.error !== undefined) {
    out.push(`    <testcase classname="${attr(`xenlab.${g.name}`)}" name="boot" time="0">`, `      <error message="${attr(g.error)}"/>`, '    </testcase>');
  }
  for (const t of g.tests) out.push(...testcase(g, t));
  out.push(`    <system-out>${cdata(g.console)}</system-out>`);
  const err = [g.xenLog, ...g.diagnostics].filter((s) => s !== '').join('\n');
  if (err !== '') out.push(`    <system-err>${cdata(err)}</system-err>`);
  out.push('  </testsuite>');
  return out;
}

export function renderJunit(r: RunRecord): string {
  const t = r.totals;
  const errors = r.guests.filter((g) => g.error !== undefined).length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="xenlab conformance" tests="${t.tests}" failures="${t.failed}" errors="${errors}" skipped="${t.skipped}" time="${seconds(r.wallMs)}">`,
    ...r.guests.flatMap(suite),
    '</testsuites>',
    '',
  ].join('\n');
}
