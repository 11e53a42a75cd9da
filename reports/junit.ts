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

/** The guest's XENFEAT and XenStore coverage in brief (report.json and report.html have it all). */
function coverageProperties(g: GuestRecord): string[] {
  const out: string[] = [];
  if (g.xenfeat !== undefined) {
    const checked = g.xenfeat.bits.filter((b) => b.checked).map((b) => b.name);
    out.push(`      <property name="xenfeat-queries" value="${attr(g.xenfeat.queries.map((q) => `submap ${q.submap} ${q.result} x${q.count}`).join(', '))}"/>`);
    out.push(`      <property name="xenfeat-checked" value="${attr(checked.join(' '))}"/>`);
  }
  if (g.xenstore !== undefined) {
    const paths = new Set(g.xenstore.accesses.filter((a) => a.path !== '').map((a) => a.path));
    out.push(`      <property name="xenstore-requests" value="${g.xenstore.accesses.reduce((k, a) => k + a.count, 0) + (g.xenstore.dropped ?? 0)}"/>`);
    out.push(`      <property name="xenstore-paths" value="${paths.size}"/>`);
  }
  return out;
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
    ...coverageProperties(g),
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
