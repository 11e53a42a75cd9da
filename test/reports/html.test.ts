/**
 * The HTML report (reports/html.ts) as text: the summary line, the guest × check matrix (a row per
 * guest, shared checks as columns, a skipped guest as a row of skips with its reason, failures
 * linked to the marked console line), hypercall coverage with -ENOSYS highlighted and its SVG
 * chart, the counterexample section only when the record has one, and hostile guest text escaped
 * everywhere. test/reports/html-chromium.test.ts renders it in a real browser.
 */
import { describe, expect, it } from 'vitest';
import { RECORD_VERSION, totalsOf, type GuestRecord, type RunRecord, type TestRecord } from '../../harness/record.js';
import { failureLine, renderHtml } from '../../reports/html.js';

const HOSTILE = '</script><img src=x onerror="alert(1)"><script>alert(2)</script>\u001b[31m\'';

function guest(name: string, tests: readonly TestRecord[], over: Partial<GuestRecord> = {}): GuestRecord {
  return {
    name,
    description: `the ${name} guest`,
    config: `fixtures/guests/${name}.cfg`,
    end: 'poweroff',
    expectedEnd: 'poweroff',
    exitCode: 0,
    detail: 'SHUTDOWN_poweroff code 0',
    ok: tests.every((t) => t.status !== 'fail'),
    tests,
    hypercalls: [
      { hypercall: 'event_channel_op', subop: 'EVTCHNOP_send', result: 'ok', count: 12 },
      { hypercall: 'event_channel_op', subop: 'EVTCHNOP_bind_virq', result: '-EINVAL', count: 2 },
      { hypercall: 'hypercall_99', subop: '', result: '-ENOSYS', count: 3 },
    ],
    diagnostics: [],
    instructions: 1000,
    guestNs: 1_000_000,
    wallMs: 10,
    console: '1..2\nok 1 - a\nok 2 - b\n',
    xenLog: '',
    ...over,
  };
}

const pass = (id: number, name: string): TestRecord => ({ id, name, status: 'pass', source: 'guest' });
const ended = (id: number, status: TestRecord['status'] = 'pass'): TestRecord => ({ id, name: 'the domain ended with poweroff', status, source: 'harness' });

function record(guests: readonly GuestRecord[], over: Partial<RunRecord> = {}): RunRecord {
  return { version: RECORD_VERSION, tool: { name: 'xenlab', version: '0.1.0' }, guests, totals: totalsOf(guests), wallMs: 1500, ...over };
}

const good = guest('good', [pass(1, 'a'), pass(2, 'b'), ended(3)]);
const bad = guest(
  'bad',
  [pass(1, 'a'), { id: 2, name: 'b', status: 'fail', source: 'guest', detail: 'got 1\nexpected 2' }, ended(3)],
  { console: `booting\n1..2\nok 1 - a\nnot ok 2 - b\n# got 1\n${HOSTILE}\n` },
);
const skipped = guest(
  'grub',
  [
    { id: 1, name: 'a', status: 'skip', source: 'harness', detail: 'fixture grub-xen is not cached (npm run fixtures)' },
    { id: 2, name: 'the domain ended with poweroff', status: 'skip', source: 'harness', detail: 'fixture grub-xen is not cached (npm run fixtures)' },
  ],
  { end: 'not-run', hypercalls: [], console: '' },
);

/** The `<tr>`s of the matrix's body. */
function matrixRows(html: string): string[] {
  const table = /<table id="matrix">[\s\S]*?<tbody>([\s\S]*?)<\/tbody><\/table>/.exec(html);
  expect(table).not.toBeNull();
  return table![1]!.match(/<tr[ >][\s\S]*?<\/tr>/g) ?? [];
}

describe('HTML report', () => {
  it('summary: guests, points passed/failed/skipped, record version and seed', () => {
    const h = renderHtml(record([good, bad, skipped], { seed: 424242 }));
    const summary = /<p id="summary"[^>]*>(.*?)<\/p>/.exec(h)![1]!;
    expect(summary).toBe('3 guests (1 failed); 8 points: 5 passed, 1 failed, 2 skipped, 0 todo; record version 2; seed 424242; 1.5 s.');
    expect(renderHtml(record([good]))).not.toContain('seed');
  });

  it('matrix: one row per guest, a column per check name, cells with text as well as colour', () => {
    const h = renderHtml(record([good, bad, skipped]));
    const rows = matrixRows(h);
    expect(rows.map((r) => /data-guest="([^"]*)"/.exec(r)![1])).toEqual(['good', 'bad', 'grub']);
    // Few names: each is a column (a, b, the end check), in order of first appearance.
    expect([...h.matchAll(/<th scope="col" class="col" title="([^"]*)"/g)].map((m) => m[1])).toEqual(['a', 'b', 'the domain ended with poweroff']);
    expect(rows[0]).toContain('<td class="res pass">✔ ok 3/3</td>');
    // The failing cell says FAIL, carries the detail in its title and links to the failure point.
    expect(rows[1]).toContain('<td class="c fail" title="bad #2 b — FAIL: got 1\nexpected 2"><a href="#bad-failure">✘ FAIL</a></td>');
    // The skipped guest is a row of skips, each with its reason.
    expect(rows[2]).toContain('skipped: fixture grub-xen is not cached (npm run fixtures)');
    expect(rows[2]!.match(/<td class="c skip" title="grub #\d [^"]*— skip: fixture grub-xen is not cached/g)).toHaveLength(2);
    expect(rows[2]).toContain('<td class="c skip" title="grub: skip: fixture grub-xen is not cached (npm run fixtures)">↷ skip</td>');
    expect(rows[2]).not.toContain('class="c na"');
    expect(rows[0]).not.toContain('class="c na"');
  });

  it('matrix: with many check names, those of two or more guests are columns and the rest a strip per guest', () => {
    const many = (name: string, n: number): GuestRecord => guest(name, [...Array.from({ length: n }, (_, k) => pass(k + 1, `${name} check ${k + 1}`)), ended(n + 1)]);
    const h = renderHtml(record([many('one', 20), many('two', 20)]));
    expect([...h.matchAll(/<th scope="col" class="col" title="([^"]*)"/g)].map((m) => m[1])).toEqual(['the domain ended with poweroff']);
    const rows = matrixRows(h);
    expect(rows).toHaveLength(2);
    for (const r of rows) expect(r.match(/<span class="dot pass"/g)).toHaveLength(20);
    expect(rows[1]).toContain('title="two #7 two check 7 — pass"');
  });

  it('marks the first not-ok console line as the failure point, else the last line of a failed run', () => {
    const h = renderHtml(record([bad]));
    expect(h).toContain('<mark class="failure" id="bad-failure">not ok 2 - b</mark>');
    expect(h.match(/id="bad-failure"/g)).toHaveLength(1);
    const crashed = guest('crashed', [pass(1, 'a'), ended(2, 'fail')], { ok: false, end: 'crash', console: 'ok 1 - a\nPANIC: oops\n\n' });
    expect(failureLine(crashed, ['ok 1 - a', 'PANIC: oops', ''])).toBe(1);
    expect(renderHtml(record([crashed]))).toContain('<mark class="failure" id="crashed-failure">PANIC: oops</mark>');
    // A failed guest with no console: the anchor is on the line that says how it ended.
    const silent = guest('silent', [ended(1, 'fail')], { ok: false, console: '' });
    expect(renderHtml(record([silent]))).toMatch(/<p id="silent-failure">Config/);
    expect(renderHtml(record([good]))).not.toContain('-failure"');
  });

  it('hypercall coverage: the table with -ENOSYS rows highlighted, and a bar per hypercall family', () => {
    const h = renderHtml(record([good]));
    expect(h).toContain('<tr class="enosys"><td>hypercall_99</td><td></td><td class="fail">-ENOSYS<span class="tag">not implemented</span></td><td class="num">3</td></tr>');
    expect(h).toContain('3 calls answered -ENOSYS');
    const svg = /<svg class="chart"[\s\S]*?<\/svg>/.exec(h)![0];
    expect(svg).toContain('<title>event_channel_op: 12 answered</title>');
    expect(svg).toContain('<title>event_channel_op: 2 error</title>');
    expect(svg).toContain('<title>hypercall_99: 3 -ENOSYS</title>');
    expect(svg).toContain('>3 (3 -ENOSYS)</text>');
  });

  it('shows the counterexample section only when the record has one', () => {
    expect(renderHtml(record([good, bad]))).not.toContain('id="counterexamples"');
    const withCx = guest('bad', bad.tests, { ok: false, counterexample: { seed: 7, path: '2:0:1', command: `xenlab conformance --replay 7:2:0:1 ${HOSTILE}` } });
    const h = renderHtml(record([good, withCx]));
    expect(h).toContain('<section id="counterexamples">');
    expect(h).toContain('<td class="num">7</td><td><code>2:0:1</code></td><td><code>xenlab conformance --replay 7:2:0:1 &lt;/script&gt;');
  });

  it('escapes hostile guest and profile text everywhere: console, names, details, hypercall names', () => {
    const evil = guest(
      HOSTILE,
      [{ id: 1, name: HOSTILE, status: 'fail', source: 'guest', detail: HOSTILE }],
      {
        description: HOSTILE,
        console: `not ok 1 - ${HOSTILE}\n${HOSTILE}`,
        xenLog: HOSTILE,
        diagnostics: [HOSTILE],
        error: HOSTILE,
        hypercalls: [{ hypercall: HOSTILE, subop: HOSTILE, result: HOSTILE, count: 1 }],
      },
    );
    const h = renderHtml(record([evil]));
    expect(h).not.toContain('<img');
    expect(h).not.toContain('</script>');
    expect(h).not.toMatch(/<script/i);
    expect(h).not.toContain('\u001b');
    expect(h).toContain('&lt;/script&gt;&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
    expect(h).toContain('␛[31m&#39;');
    // Its anchor ids are made of safe characters only.
    expect([...h.matchAll(/ id="([^"]*)"/g)].map((m) => m[1]).filter((id) => !/^[A-Za-z0-9._-]+$/.test(id!))).toEqual([]);
    expect(h).toContain('<mark class="failure" id="__script__img_src_x_onerror__alert_1____script_alert_2___script___31m_-failure">');
  });
});
