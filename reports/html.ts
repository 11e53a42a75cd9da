/**
 * A self-contained HTML page of a run for people: the summary, then per guest its end, its tests
 * (failures first in colour, with their detail), its hypercall usage and its console, each
 * section collapsible. No scripts, no external resources: it opens from a CI artifact as it is.
 */
import type { GuestRecord, HypercallUsage, RunRecord, TestRecord } from '../harness/record.js';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin:0}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.pass{color:#176f2c}.fail{color:#b00020;font-weight:bold}.skip,.todo{color:#8a6d00}
details{margin:.4em 0 .8em 0}summary{cursor:pointer}pre{background:#f7f7f7;padding:.6em;overflow:auto;max-height:30em}
.guest{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0}.num{text-align:right}
`;

function testRow(t: TestRecord): string {
  const detail = t.detail !== undefined && t.detail !== '' ? `<pre>${esc(t.detail)}</pre>` : '';
  return `<tr><td class="num">${t.id}</td><td class="${t.status}">${t.status}</td><td>${esc(t.name)}${detail}</td><td>${t.source}</td></tr>`;
}

function usageTable(h: readonly HypercallUsage[]): string {
  if (h.length === 0) return '<p>No hypercalls.</p>';
  const rows = h
    .map((u) => `<tr><td>${esc(u.hypercall)}</td><td>${esc(u.subop)}</td><td class="${u.result.startsWith('-') ? 'fail' : 'pass'}">${esc(u.result)}</td><td class="num">${u.count}</td></tr>`)
    .join('');
  return `<table><tr><th>hypercall</th><th>sub-op</th><th>result</th><th>count</th></tr>${rows}</table>`;
}

function guest(g: GuestRecord): string {
  const failed = g.tests.filter((t) => t.status === 'fail');
  const ordered = [...failed, ...g.tests.filter((t) => t.status !== 'fail')];
  const parts = [
    `<section class="guest" id="${esc(g.name)}">`,
    `<h2 class="${g.ok ? 'pass' : 'fail'}">${g.ok ? '✔' : '✘'} ${esc(g.name)}</h2>`,
    `<p>${esc(g.description)}</p>`,
    `<p>Config <code>${esc(g.config)}</code>; ended <b>${esc(g.end)}</b> (expected ${esc(g.expectedEnd)}): ${esc(g.detail)}; ` +
      `${g.instructions.toLocaleString('en')} instructions, ${(g.guestNs / 1e6).toFixed(1)} ms guest time, ${(g.wallMs / 1000).toFixed(2)} s wall.</p>`,
  ];
  if (g.error !== undefined) parts.push(`<p class="fail">${esc(g.error)}</p>`);
  if (g.diagnostics.length > 0) parts.push(`<details open><summary>Diagnostics (${g.diagnostics.length})</summary><pre>${esc(g.diagnostics.join('\n'))}</pre></details>`);
  parts.push(
    `<details${failed.length > 0 ? ' open' : ''}><summary>Tests: ${g.tests.length}, ${failed.length} failed</summary>` +
      `<table><tr><th>#</th><th>status</th><th>test</th><th>from</th></tr>${ordered.map(testRow).join('')}</table></details>`,
    `<details><summary>Hypercall usage (${g.hypercalls.reduce((n, h) => n + h.count, 0)} calls)</summary>${usageTable(g.hypercalls)}</details>`,
    `<details><summary>Console</summary><pre>${esc(g.console)}</pre></details>`,
  );
  if (g.xenLog !== '') parts.push(`<details><summary>console_io (Xen's log)</summary><pre>${esc(g.xenLog)}</pre></details>`);
  parts.push('</section>');
  return parts.join('\n');
}

export function renderHtml(r: RunRecord): string {
  const t = r.totals;
  const rows = r.guests
    .map((g) => `<tr><td><a href="#${esc(g.name)}">${esc(g.name)}</a></td><td class="${g.ok ? 'pass' : 'fail'}">${g.ok ? 'pass' : 'FAIL'}</td><td>${esc(g.end)}</td><td class="num">${g.tests.filter((x) => x.status === 'pass').length}/${g.tests.length}</td></tr>`)
    .join('');
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><title>xenlab conformance</title>',
    `<style>${STYLE}</style></head><body>`,
    `<h1>xenlab ${esc(r.tool.version)} conformance: <span class="${t.guestsFailed === 0 && t.failed === 0 ? 'pass' : 'fail'}">${t.passed} passed, ${t.failed} failed</span></h1>`,
    `<p>${t.guests} guests (${t.guestsFailed} failed), ${t.tests} tests: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped, ${t.todo} todo; ${(r.wallMs / 1000).toFixed(1)} s.</p>`,
    `<table><tr><th>guest</th><th>result</th><th>end</th><th>tests passed</th></tr>${rows}</table>`,
    ...r.guests.map(guest),
    '</body></html>',
    '',
  ].join('\n');
}
