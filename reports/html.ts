/**
 * A self-contained HTML page of a run for people (reports/README.md says what it shows): the
 * summary line; the guest × check matrix (`#matrix`); shrunk counterexamples when the record has
 * any; then per guest its end, its tests, its hypercall coverage (table and an inline SVG bar chart
 * per hypercall family, -ENOSYS highlighted), the XENFEAT bits it checked and declared, the XenStore
 * paths it used per operation and result, and its console with the failure point marked
 * (`#<guest>-failure`, linked from the matrix). Inline CSS and SVG, no script, no external
 * resource: it opens from a CI artifact as it is, and reads without JavaScript.
 *
 * Everything a guest or a profile wrote is hostile text: it goes through `esc` (HTML special
 * characters, and C0 controls as their visible Unicode pictures), in text and attributes alike.
 */
import type { GuestRecord, HypercallUsage, RunRecord, TestRecord, TestStatus, XenFeatureCoverage, XenStoreCoverage } from '../harness/record.js';

/** Text safe in element content and in double- or single-quoted attributes. */
function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => (c === '\u007f' ? '\u2421' : String.fromCharCode(0x2400 + c.charCodeAt(0))));
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em 2em;color:#222;background:#fff}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.2em;margin:1.2em 0 .4em}h3{font-size:1.05em;margin:.8em 0 .3em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.num{text-align:right}code{background:#f3f3f3;padding:0 3px}
.pass{color:#176f2c}.fail{color:#b00020;font-weight:bold}.skip,.todo{color:#7a5d00}
.summary{font-size:1.05em;padding:.5em .8em;border-left:6px solid #176f2c;background:#f4faf5}.summary.bad{border-color:#b00020;background:#fdf3f4}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%}
#matrix th.col{font-weight:normal;font-size:12px;max-width:9em;vertical-align:bottom}
#matrix td.c{text-align:center;white-space:nowrap;font-size:12px}#matrix td.res{white-space:nowrap}#matrix td.res.skip{white-space:normal;min-width:12em;max-width:22em}
#matrix td.c.pass,.dot.pass{background:#dff3e3}#matrix td.c.fail,.dot.fail{background:#f9d6db}
#matrix td.c.skip,.dot.skip,#matrix td.c.todo,.dot.todo{background:#fbf0c9}#matrix td.c.na{background:#fafafa;color:#999}
#matrix a{color:inherit}
.strip{line-height:1.9em;min-width:20em}
.dot{display:inline-block;min-width:1.3em;text-align:center;font-size:11px;margin:1px;border-radius:3px;text-decoration:none}
.guest{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1.2em 0}
details{margin:.4em 0 .8em 0}summary{cursor:pointer}
pre{background:#f7f7f7;padding:.6em;overflow:auto;max-height:32em;white-space:pre-wrap;word-break:break-all}
tr.enosys td{background:#fde2e4}.tag{font-size:11px;padding:0 4px;border-radius:3px;background:#b00020;color:#fff;margin-left:.5em}
mark.failure{background:#ffd24d;outline:2px solid #b00020;display:inline-block;width:100%}
.chart text{font:11px system-ui,sans-serif;fill:#222}
td.err{color:#7a5d00}
`;

/** Each status's class, mark and word: the mark and the word carry it, not only the colour. */
const STATUS: Readonly<Record<TestStatus, { readonly mark: string; readonly word: string }>> = {
  pass: { mark: '✔', word: 'pass' },
  fail: { mark: '✘', word: 'FAIL' },
  skip: { mark: '↷', word: 'skip' },
  todo: { mark: '◔', word: 'todo' },
};

/** More distinct check names than this, and only those of two or more guests get a column. */
const MAX_NAMED_COLUMNS = 24;
/** Titles and table cells show this much of a test's detail. */
const DETAIL_CHARS = 400;

const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n)}…` : s);

/** Anchor ids per guest: the name with characters outside [A-Za-z0-9._-] replaced, made unique. */
function guestIds(guests: readonly GuestRecord[]): Map<GuestRecord, string> {
  const ids = new Map<GuestRecord, string>();
  const used = new Set<string>(['matrix', 'counterexamples', 'summary']);
  for (const g of guests) {
    const base = g.name.replace(/[^A-Za-z0-9._-]/g, '_') || 'guest';
    let id = base;
    for (let k = 2; used.has(id) || used.has(`${id}-failure`); k++) id = `${base}-${k}`;
    used.add(id);
    used.add(`${id}-failure`);
    ids.set(g, id);
  }
  return ids;
}

/** A guest none of whose checks ran (a fixture missing, a check not applicable): its reason. */
function skippedReason(g: GuestRecord): string | undefined {
  if (g.tests.length === 0) return g.error ?? g.detail;
  if (!g.tests.every((t) => t.status === 'skip')) return undefined;
  return g.tests[0]?.detail ?? 'skipped';
}

function testTitle(g: GuestRecord, t: TestRecord): string {
  const detail = t.detail !== undefined && t.detail !== '' ? `: ${clip(t.detail, DETAIL_CHARS)}` : '';
  return `${g.name} #${t.id} ${t.name} — ${STATUS[t.status].word}${detail}`;
}

/** A test's mark, linked to the guest's failure point when it failed. */
function mark(t: TestRecord, id: string, visibleWord: boolean): string {
  const s = STATUS[t.status];
  const text = visibleWord ? `${s.mark} ${s.word}` : `${s.mark}<span class="vh"> ${s.word}</span>`;
  return t.status === 'fail' ? `<a href="#${id}-failure">${text}</a>` : text;
}

function matrix(r: RunRecord, ids: Map<GuestRecord, string>): string {
  // Check names in order of first appearance, with how many guests report each.
  const guestsOf = new Map<string, number>();
  for (const g of r.guests) for (const name of new Set(g.tests.map((t) => t.name))) guestsOf.set(name, (guestsOf.get(name) ?? 0) + 1);
  const all = [...guestsOf.keys()];
  const columns = all.length <= MAX_NAMED_COLUMNS ? all : all.filter((n) => guestsOf.get(n)! >= 2);
  const named = new Set(columns);
  const hasStrip = columns.length < all.length;

  const head =
    '<thead><tr><th scope="col">guest</th><th scope="col">result</th>' +
    columns.map((n) => `<th scope="col" class="col" title="${esc(n)}">${esc(clip(n, 60))}</th>`).join('') +
    (hasStrip ? '<th scope="col">its other checks, in order (hover for the name)</th>' : '') +
    '</tr></thead>';

  const rows = r.guests.map((g) => {
    const id = ids.get(g)!;
    const failed = g.tests.filter((t) => t.status === 'fail').length;
    const passed = g.tests.filter((t) => t.status === 'pass').length;
    const skipped = skippedReason(g);
    const result =
      skipped !== undefined
        ? `<td class="res skip" title="${esc(skipped)}">${STATUS.skip.mark} skipped: ${esc(clip(skipped, 80))}</td>`
        : g.ok
          ? `<td class="res pass">${STATUS.pass.mark} ok ${passed}/${g.tests.length}</td>`
          : `<td class="res fail"><a href="#${id}-failure">${STATUS.fail.mark} FAIL</a> ${failed} of ${g.tests.length} failed${g.end !== g.expectedEnd ? `, ended ${esc(g.end)}` : ''}</td>`;
    const byName = new Map<string, TestRecord>();
    for (const t of g.tests) if (!byName.has(t.name)) byName.set(t.name, t);
    const cells = columns.map((n) => {
      const t = byName.get(n);
      if (t !== undefined) return `<td class="c ${t.status}" title="${esc(testTitle(g, t))}">${mark(t, id, true)}</td>`;
      // A guest that did not run (its fixture missing) skipped every check, with its reason.
      if (skipped !== undefined) return `<td class="c skip" title="${esc(`${g.name}: skip: ${skipped}`)}">${STATUS.skip.mark} skip</td>`;
      return `<td class="c na" title="${esc(`${g.name} does not report this check`)}">·<span class="vh"> not reported</span></td>`;
    });
    const own = g.tests.filter((t) => !named.has(t.name));
    const strip = hasStrip
      ? `<td class="strip">${own.map((t) => `<span class="dot ${t.status}" title="${esc(testTitle(g, t))}">${mark(t, id, false)}</span>`).join('')}</td>`
      : '';
    return `<tr data-guest="${esc(g.name)}"><th scope="row"><a href="#${id}">${esc(g.name)}</a></th>${result}${cells.join('')}${strip}</tr>`;
  });
  const legend =
    `<p>Each cell is one check of one guest: ${(['pass', 'fail', 'skip', 'todo'] as const).map((s) => `<span class="dot ${s}">${STATUS[s].mark}</span> ${STATUS[s].word.toLowerCase()}`).join(', ')}, ` +
    `<span class="dot">·</span> not reported by that guest. Hover a cell for the check's name and detail (a skip's reason); a failure links to the point in its guest's console where it failed.` +
    (hasStrip ? ' Checks reported by two or more guests have a column of their own; each guest\'s other checks follow in its last column.' : '') +
    '</p>';
  return `<h2>Guests × checks</h2>${legend}<div class="scroll"><table id="matrix">${head}<tbody>${rows.join('')}</tbody></table></div>`;
}

function counterexamples(r: RunRecord, ids: Map<GuestRecord, string>): string {
  const found = r.guests.filter((g) => g.counterexample !== undefined);
  if (found.length === 0) return '';
  const rows = found
    .map((g) => {
      const c = g.counterexample!;
      return `<tr><td><a href="#${ids.get(g)!}">${esc(g.name)}</a></td><td class="num">${c.seed}</td><td><code>${esc(c.path)}</code></td><td><code>${esc(c.command)}</code></td></tr>`;
    })
    .join('');
  return (
    '<section id="counterexamples"><h2>Shrunk counterexamples</h2>' +
    '<p>A property-tested check failed; fast-check shrank the failing run to its smallest schedule. The command replays exactly that schedule.</p>' +
    `<table><thead><tr><th>guest</th><th>seed</th><th>shrink path</th><th>replay</th></tr></thead><tbody>${rows}</tbody></table></section>`
  );
}

function testRow(t: TestRecord): string {
  const detail = t.detail !== undefined && t.detail !== '' ? `<pre>${esc(t.detail)}</pre>` : '';
  const s = STATUS[t.status];
  return `<tr><td class="num">${t.id}</td><td class="${t.status}">${s.mark} ${s.word}</td><td>${esc(t.name)}${detail}</td><td>${t.source}</td></tr>`;
}

const isEnosys = (u: HypercallUsage): boolean => u.result === '-ENOSYS';

function usageTable(h: readonly HypercallUsage[]): string {
  if (h.length === 0) return '<p>No hypercalls.</p>';
  const enosys = h.filter(isEnosys).reduce((n, u) => n + u.count, 0);
  const note =
    enosys > 0
      ? `<p class="fail">${enosys} call${enosys === 1 ? '' : 's'} answered -ENOSYS (highlighted): the guest relied on something xenlab does not implement, or probed for it.</p>`
      : '';
  const rows = h
    .map((u) => {
      const cls = u.result.startsWith('-') ? 'fail' : 'pass';
      const tag = isEnosys(u) ? '<span class="tag">not implemented</span>' : '';
      return `<tr${isEnosys(u) ? ' class="enosys"' : ''}><td>${esc(u.hypercall)}</td><td>${esc(u.subop)}</td><td class="${cls}">${esc(u.result)}${tag}</td><td class="num">${u.count}</td></tr>`;
    })
    .join('');
  return `${note}<table class="hypercalls"><thead><tr><th>hypercall</th><th>sub-op</th><th>result</th><th>count</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Calls per hypercall family, as stacked horizontal bars: answered, failed with an error, -ENOSYS. */
function usageChart(h: readonly HypercallUsage[]): string {
  const families = new Map<string, { ok: number; error: number; enosys: number }>();
  for (const u of h) {
    const f = families.get(u.hypercall) ?? { ok: 0, error: 0, enosys: 0 };
    if (isEnosys(u)) f.enosys += u.count;
    else if (u.result.startsWith('-')) f.error += u.count;
    else f.ok += u.count;
    families.set(u.hypercall, f);
  }
  const bars = [...families].map(([name, f]) => ({ name, ...f, total: f.ok + f.error + f.enosys })).sort((a, b) => b.total - a.total || (a.name < b.name ? -1 : 1));
  if (bars.length === 0) return '';
  const max = Math.max(1, ...bars.map((b) => b.total));
  const rowH = 18;
  const labelW = 190;
  const barW = 330;
  const top = 20;
  const height = top + bars.length * rowH + 4;
  const width = labelW + barW + 70;
  const parts = [
    `<svg class="chart" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">`,
    `<title>Calls per hypercall family</title>`,
    `<rect x="${labelW}" y="4" width="10" height="10" fill="#3b7dd8"/><text x="${labelW + 14}" y="13">answered</text>`,
    `<rect x="${labelW + 80}" y="4" width="10" height="10" fill="#e0a526"/><text x="${labelW + 94}" y="13">error</text>`,
    `<rect x="${labelW + 140}" y="4" width="10" height="10" fill="#b00020"/><text x="${labelW + 154}" y="13">-ENOSYS</text>`,
  ];
  bars.forEach((b, k) => {
    const y = top + k * rowH;
    parts.push(`<text x="${labelW - 6}" y="${y + 12}" text-anchor="end">${esc(clip(b.name, 30))}</text>`);
    let x = labelW;
    for (const [n, colour, what] of [[b.ok, '#3b7dd8', 'answered'], [b.error, '#e0a526', 'error'], [b.enosys, '#b00020', '-ENOSYS']] as const) {
      if (n === 0) continue;
      const w = Math.max(1, (n / max) * barW);
      parts.push(`<rect x="${x.toFixed(1)}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 5}" fill="${colour}"><title>${esc(`${b.name}: ${n} ${what}`)}</title></rect>`);
      x += w;
    }
    parts.push(`<text x="${(x + 4).toFixed(1)}" y="${y + 12}">${b.total}${b.enosys > 0 ? ` (${b.enosys} -ENOSYS)` : ''}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
const times = (n: number): string => (n === 1 ? 'asked once' : `asked ${n} times`);

/** Names of the set bits of submap `submap`'s word, from the record's bit rows. */
function bitNames(f: XenFeatureCoverage, submap: number, mask: number): string {
  const names = f.bits.filter((b) => Math.floor(b.bit / 32) === submap && ((mask >>> b.bit % 32) & 1) === 1).map((b) => b.name);
  return names.length > 0 ? names.join(', ') : 'none';
}

/**
 * XENFEAT: the submaps the guest asked XENVER_get_features for and the answers, what its ELF notes
 * declare, and a row per feature bit (offered by xenlab, checked by the guest, declared).
 */
function xenfeatSection(f: XenFeatureCoverage): string {
  const checked = f.bits.filter((b) => b.checked).length;
  const asked =
    f.queries.length === 0
      ? 'The guest never asked XENVER_get_features: it checked no XENFEAT bit.'
      : `XENVER_get_features: ${f.queries
          .map((q) => `submap ${q.submap} ${times(q.count)}, ${q.result === 'ok' && q.bits !== undefined ? `answered ${hex32(q.bits)} (${esc(bitNames(f, q.submap, q.bits))})` : esc(q.result)}`)
          .join('; ')}${f.queriesDropped !== undefined ? `; ${f.queriesDropped} more queries of other submaps not itemised` : ''}.`;
  const n = f.notes;
  const notes =
    n === undefined
      ? ''
      : n.required === 0 && n.supported === 0 && n.text === undefined
        ? ' Its ELF notes declare no features.'
        : ` Its ELF notes declare${n.text !== undefined ? ` FEATURES <code>${esc(n.text)}</code>:` : ''} required ${esc(bitNames(f, 0, n.required))}; supported ${esc(bitNames(f, 0, n.supported))}.`;
  const rows = f.bits
    .map(
      (b) =>
        `<tr><td class="num">${b.bit}</td><td><code>XENFEAT_${esc(b.name)}</code></td>` +
        `<td>${b.offered ? 'offered' : '—'}</td><td${b.checked ? ' class="pass"' : ''}>${b.checked ? `${STATUS.pass.mark} checked` : '—'}</td><td>${b.declared ?? '—'}</td></tr>`,
    )
    .join('');
  return (
    `<h3>XENFEAT (${checked} of ${f.bits.length} bits checked)</h3><p>${asked}${notes}</p>` +
    `<details><summary>Feature bits (${f.bits.length} rows)</summary><table class="xenfeat"><thead><tr><th>bit</th><th>feature</th><th>xenlab</th><th>the guest</th><th>ELF notes</th></tr></thead><tbody>${rows}</tbody></table></details>`
  );
}

/** XenStore: every path the guest used, per operation and result (errors in their own colour). */
function xenstoreSection(x: XenStoreCoverage): string {
  const paths = new Set(x.accesses.filter((a) => a.path !== '').map((a) => a.path));
  const requests = x.accesses.reduce((k, a) => k + a.count, 0) + (x.dropped ?? 0);
  if (requests === 0) return '<h3>XenStore paths</h3><p>The guest made no XenStore request.</p>';
  const byOp = new Map<string, number>();
  for (const a of x.accesses) byOp.set(a.op, (byOp.get(a.op) ?? 0) + a.count);
  const ops = [...byOp].map(([op, k]) => `${esc(op)} ${k}`).join(', ');
  const rows = x.accesses
    .map((a) => `<tr><td><code>${a.path === '' ? '—' : esc(a.path)}</code></td><td>${esc(a.op)}</td><td class="${a.result === 'ok' ? 'pass' : 'err'}">${esc(a.result)}</td><td class="num">${a.count}</td></tr>`)
    .join('');
  return (
    `<h3>XenStore paths (${paths.size} paths, ${requests} requests)</h3>` +
    `<p>${ops}${x.dropped !== undefined ? `; ${x.dropped} requests beyond the table's limit not itemised` : ''}. <code>~</code> is the guest's own directory, <code>/local/domain/&lt;domid&gt;</code>.</p>` +
    `<details><summary>Paths, operations and results (${x.accesses.length} rows)</summary><table class="xenstore"><thead><tr><th>path</th><th>operation</th><th>result</th><th>count</th></tr></thead><tbody>${rows}</tbody></table></details>`
  );
}

/**
 * The console's line where the guest went wrong: its first `not ok`, else, when the guest failed
 * or ended badly, its last non-empty line (where the run stopped). -1 when there is none.
 */
export function failureLine(g: GuestRecord, lines: readonly string[]): number {
  const notOk = lines.findIndex((l) => /^\s*not ok\b/.test(l));
  if (notOk >= 0) return notOk;
  if (g.ok) return -1;
  for (let k = lines.length - 1; k >= 0; k--) if (lines[k]!.trim() !== '') return k;
  return -1;
}

function consoleLog(g: GuestRecord, id: string): { html: string; marked: boolean } {
  const lines = g.console.replace(/\r\n/g, '\n').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const at = failureLine(g, lines);
  const body = lines.map((l, k) => (k === at ? `<mark class="failure" id="${id}-failure">${esc(l)}</mark>` : esc(l))).join('\n');
  const where = at >= 0 ? ` — failure point marked at <a href="#${id}-failure">line ${at + 1}</a>` : '';
  const html = `<details${at >= 0 ? ' open' : ''}><summary>Console (${lines.length} lines)${where}</summary><pre class="console">${body}</pre></details>`;
  return { html, marked: at >= 0 };
}

function guestSection(g: GuestRecord, id: string): string {
  const failed = g.tests.filter((t) => t.status === 'fail');
  // A guest that did not run (its fixture missing): its reason, nothing to show of a run.
  if (g.end === 'not-run' && g.tests.every((t) => t.status === 'skip')) {
    return [
      `<section class="guest" id="${id}">`,
      `<h2 class="skip">${STATUS.skip.mark} ${esc(g.name)}</h2>`,
      `<p>${esc(g.description)}</p>`,
      `<p class="skip">Not run: ${esc(g.detail)}. Config <code>${esc(g.config)}</code>.</p>`,
      '</section>',
    ].join('\n');
  }
  const ordered = [...failed, ...g.tests.filter((t) => t.status !== 'fail')];
  const calls = g.hypercalls.reduce((n, h) => n + h.count, 0);
  const log = consoleLog(g, id);
  // Without a console line to mark, the failure anchor is the line that says how the run ended.
  const endAnchor = !g.ok && !log.marked ? ` id="${id}-failure"` : '';
  const parts = [
    `<section class="guest" id="${id}">`,
    `<h2 class="${g.ok ? 'pass' : 'fail'}">${g.ok ? STATUS.pass.mark : STATUS.fail.mark} ${esc(g.name)}</h2>`,
    `<p>${esc(g.description)}</p>`,
    `<p${endAnchor}>Config <code>${esc(g.config)}</code>; ended <b>${esc(g.end)}</b> (expected ${esc(g.expectedEnd)}): ${esc(g.detail)}; ` +
      `${g.instructions.toLocaleString('en')} instructions, ${(g.guestNs / 1e6).toFixed(1)} ms guest time, ${(g.wallMs / 1000).toFixed(2)} s wall.</p>`,
  ];
  if (g.error !== undefined) parts.push(`<p class="fail">${esc(g.error)}</p>`);
  if (g.counterexample !== undefined) {
    const c = g.counterexample;
    parts.push(`<p class="fail">Shrunk counterexample: seed ${c.seed}, path <code>${esc(c.path)}</code>; replay with <code>${esc(c.command)}</code> (<a href="#counterexamples">all</a>).</p>`);
  }
  if (g.diagnostics.length > 0) parts.push(`<details open><summary>Diagnostics (${g.diagnostics.length})</summary><pre>${esc(g.diagnostics.join('\n'))}</pre></details>`);
  parts.push(
    `<details${failed.length > 0 ? ' open' : ''}><summary>Tests: ${g.tests.length}, ${failed.length} failed</summary>` +
      `<table><thead><tr><th>#</th><th>status</th><th>test</th><th>from</th></tr></thead><tbody>${ordered.map(testRow).join('')}</tbody></table></details>`,
    `<h3>Hypercall coverage (${calls} calls)</h3>`,
    usageChart(g.hypercalls),
    `<details><summary>Hypercalls, sub-ops and results (${g.hypercalls.length} rows)</summary>${usageTable(g.hypercalls)}</details>`,
  );
  if (g.xenfeat !== undefined) parts.push(xenfeatSection(g.xenfeat));
  if (g.xenstore !== undefined) parts.push(xenstoreSection(g.xenstore));
  parts.push(log.html);
  if (g.xenLog !== '') parts.push(`<details><summary>console_io (Xen's log)</summary><pre>${esc(g.xenLog)}</pre></details>`);
  parts.push('</section>');
  return parts.join('\n');
}

export function renderHtml(r: RunRecord): string {
  const t = r.totals;
  const ids = guestIds(r.guests);
  const bad = t.guestsFailed > 0 || t.failed > 0;
  const extra = [
    `record version ${r.version}`,
    ...(r.seed !== undefined ? [`seed ${r.seed}`] : []),
    ...(r.shard !== undefined ? [`shard ${r.shard.index}/${r.shard.count}`] : []),
    `${(r.wallMs / 1000).toFixed(1)} s`,
  ];
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>xenlab conformance: ${t.passed} passed, ${t.failed} failed</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>xenlab ${esc(r.tool.version)} conformance: <span class="${bad ? 'fail' : 'pass'}">${t.passed} passed, ${t.failed} failed</span></h1>`,
    `<p id="summary" class="summary${bad ? ' bad' : ''}">${t.guests} guests (${t.guestsFailed} failed); ${t.tests} points: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped, ${t.todo} todo; ${extra.join('; ')}.</p>`,
    matrix(r, ids),
    counterexamples(r, ids),
    ...r.guests.map((g) => guestSection(g, ids.get(g)!)),
    '</body></html>',
    '',
  ].join('\n');
}
