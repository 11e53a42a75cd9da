/**
 * The renderers of a run record (reports/): TAP that tap-parser reads back to the same counts,
 * JUnit with the right totals and everything a guest can print escaped, JSON that is the record,
 * and HTML with failures shown and guest text escaped.
 */
import { Parser } from 'tap-parser';
import { describe, expect, it } from 'vitest';
import { RECORD_VERSION, totalsOf, type GuestRecord, type RunRecord } from '../../harness/record.js';
import { RENDERERS } from '../../reports/index.js';

function guest(name: string, tests: GuestRecord['tests'], over: Partial<GuestRecord> = {}): GuestRecord {
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
    hypercalls: [{ hypercall: 'event_channel_op', subop: 'EVTCHNOP_send', result: 'ok', count: 12 }, { hypercall: 'hypercall_99', subop: '', result: '-ENOSYS', count: 1 }],
    diagnostics: [],
    instructions: 123456,
    guestNs: 2_000_000,
    wallMs: 40,
    console: '1..3\nok 1 - a\n',
    xenLog: '',
    ...over,
  };
}

const hostile = 'a <b> & "c" ]]> \u0001\u001b[0m #x';
const guests = [
  guest('probe-one', [
    { id: 1, name: 'pass one', status: 'pass', source: 'guest' },
    { id: 2, name: 'skipped', status: 'skip', source: 'guest', detail: 'not offered' },
    { id: 3, name: 'later', status: 'todo', source: 'guest', detail: 'FIFO' },
    { id: 4, name: 'ended as expected', status: 'pass', source: 'harness' },
  ]),
  guest(
    'probe-two',
    [
      { id: 1, name: hostile, status: 'fail', source: 'guest', detail: `got 0\nexpected 1\n${hostile}` },
      { id: 2, name: 'ended as expected', status: 'fail', source: 'harness', detail: 'ended crash, expected poweroff' },
    ],
    { end: 'crash', exitCode: 3, console: hostile, diagnostics: [hostile] },
  ),
];
const record: RunRecord = { version: RECORD_VERSION, tool: { name: 'xenlab', version: '0.1.0' }, guests, totals: totalsOf(guests), wallMs: 1234 };

describe('reports', () => {
  it('totals count tests by status and guests that failed', () => {
    expect(record.totals).toEqual({ guests: 2, guestsFailed: 1, tests: 6, passed: 2, failed: 2, skipped: 1, todo: 1 });
  });

  it('TAP: tap-parser reads back one subtest per guest with the same results', () => {
    const text = RENDERERS.tap.render(record);
    const asserts: { name: string; ok: boolean }[] = [];
    const p = new Parser();
    p.on('assert', (r: { name: string; ok: boolean }) => asserts.push({ name: r.name, ok: r.ok }));
    let final: { ok: boolean; count: number; fail: number } | undefined;
    p.on('complete', (f: { ok: boolean; count: number; fail: number }) => (final = f));
    p.end(text);
    expect(asserts).toEqual([{ name: 'probe-one', ok: true }, { name: 'probe-two', ok: false }]);
    expect(final).toMatchObject({ ok: false, count: 2, fail: 1 });
    expect(text).toContain('    ok 2 - skipped # SKIP not offered');
    expect(text).toContain('    ok 3 - later # TODO FIFO');
    expect(text).toContain('\\#x'); // a '#' in a name cannot start a directive
  });

  it('JUnit: totals, failures, skips and hostile guest text escaped', () => {
    const x = RENDERERS.junit.render(record);
    expect(x).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="xenlab conformance" tests="6" failures="2" errors="0" skipped="1"/);
    expect(x.match(/<testsuite /g)).toHaveLength(2);
    expect(x.match(/<testcase /g)).toHaveLength(6);
    expect(x.match(/<failure /g)).toHaveLength(2);
    expect(x).toContain('<skipped message="not offered"/>');
    expect(x).toContain('a &lt;b&gt; &amp; &quot;c&quot; ]]&gt; \\x01\\x1b[0m #x');
    expect(x).toContain(']]]]><![CDATA[>');
    // No raw control characters survive (XML 1.0 cannot carry them).
    expect(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(x)).toBe(false);
  });

  it('JSON is the record', () => {
    expect(JSON.parse(RENDERERS.json.render(record))).toEqual(record);
  });

  it('HTML shows the summary and each guest, escaping guest text', () => {
    const h = RENDERERS.html.render(record);
    expect(h).toContain('2 passed, 2 failed');
    expect(h).toContain('id="probe-two"');
    expect(h).toContain('a &lt;b&gt; &amp; &quot;c&quot;');
    expect(h).not.toContain('<b> &');
    expect(h).toContain('-ENOSYS');
  });
});
