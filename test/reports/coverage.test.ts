/**
 * A guest's XENFEAT and XenStore coverage in the reports: the HTML "XENFEAT" and "XenStore paths"
 * sections under the hypercall coverage (hostile paths escaped), a JUnit property and a TAP comment
 * line each, JSON as the record; a record without them (written before them) renders as before.
 * And a guest not run because its fixture is missing: one skip with the reason in every format,
 * the summary counts it skipped and the guest not failed.
 */
import { Parser } from 'tap-parser';
import { describe, expect, it } from 'vitest';
import { XENFEAT_NAMES } from '../../abi/public/features.js';
import { skippedGuest } from '../../conformance/run.js';
import { renderSummary } from '../../conformance/summary.js';
import { RECORD_VERSION, totalsOf, type GuestRecord, type RunRecord } from '../../harness/record.js';
import { RENDERERS } from '../../reports/index.js';

const HOSTILE = '</td><img src=x onerror="alert(1)">\u001b[31m';

function guest(name: string, over: Partial<GuestRecord> = {}): GuestRecord {
  return {
    name,
    description: `the ${name} guest`,
    config: `fixtures/guests/${name}.cfg`,
    end: 'poweroff',
    expectedEnd: 'poweroff',
    exitCode: 0,
    detail: 'SHUTDOWN_poweroff code 0',
    ok: true,
    tests: [{ id: 1, name: 'a', status: 'pass', source: 'guest' }],
    hypercalls: [{ hypercall: 'xen_version', subop: 'XENVER_get_features', result: 'ok', count: 1 }],
    diagnostics: [],
    instructions: 1000,
    guestNs: 1_000_000,
    wallMs: 10,
    console: '1..1\nok 1 - a\n',
    xenLog: '',
    ...over,
  };
}

const covered = guest('covered', {
  xenfeat: {
    queries: [
      { submap: 0, result: 'ok', bits: 0x20, count: 2 },
      { submap: 1, result: '-EINVAL', count: 1 },
    ],
    bits: XENFEAT_NAMES.map((name, bit) => ({ bit, name, offered: bit === 5, checked: true, ...(bit === 0 ? { declared: 'required' as const } : {}) })),
    notes: { required: 1, supported: 1, text: '!writable_page_tables' },
  },
  xenstore: {
    accesses: [
      { path: '', op: 'TRANSACTION_START', result: 'ok', count: 1 },
      { path: '~/device/vbd/51712/feature-persistent', op: 'READ', result: 'ENOENT', count: 3 },
      { path: '~/device/vbd/51712/state', op: 'WRITE', result: 'ok', count: 4 },
      { path: `~/data/${HOSTILE}`, op: 'WRITE', result: 'EINVAL', count: 1 },
    ],
    dropped: 2,
  },
});
const old = guest('old');
const record = (guests: readonly GuestRecord[]): RunRecord => ({ version: RECORD_VERSION, tool: { name: 'xenlab', version: '0.1.0' }, guests, totals: totalsOf(guests), wallMs: 100 });

describe('coverage in the reports', () => {
  it('HTML: a XENFEAT section (queries, notes, a row per bit) and a XenStore paths table, hostile paths escaped', () => {
    const h = RENDERERS.html.render(record([covered, old]));
    const section = /<section class="guest" id="covered">[\s\S]*?<\/section>/.exec(h)![0];
    expect(section).toContain(`<h3>XENFEAT (${XENFEAT_NAMES.length} of ${XENFEAT_NAMES.length} bits checked)</h3>`);
    expect(section).toContain('XENVER_get_features: submap 0 asked 2 times, answered 0x00000020 (mmu_pt_update_preserve_ad); submap 1 asked once, -EINVAL.');
    expect(section).toContain('Its ELF notes declare FEATURES <code>!writable_page_tables</code>: required writable_page_tables; supported writable_page_tables.');
    expect(section).toContain('<tr><td class="num">5</td><td><code>XENFEAT_mmu_pt_update_preserve_ad</code></td><td>offered</td><td class="pass">✔ checked</td><td>—</td></tr>');
    expect(section).toContain('<tr><td class="num">0</td><td><code>XENFEAT_writable_page_tables</code></td><td>—</td><td class="pass">✔ checked</td><td>required</td></tr>');
    expect(section).toContain('<h3>XenStore paths (3 paths, 11 requests)</h3>');
    expect(section).toContain('TRANSACTION_START 1, READ 3, WRITE 5; 2 requests beyond the table');
    expect(section).toContain('<tr><td><code>~/device/vbd/51712/feature-persistent</code></td><td>READ</td><td class="err">ENOENT</td><td class="num">3</td></tr>');
    expect(section).toContain('<tr><td><code>—</code></td><td>TRANSACTION_START</td><td class="pass">ok</td><td class="num">1</td></tr>');
    expect(section).toContain('~/data/&lt;/td&gt;&lt;img src=x onerror=&quot;alert(1)&quot;&gt;␛[31m');
    expect(h).not.toContain('<img');
    // The sections sit under the hypercall coverage and before the console.
    expect(section.indexOf('Hypercall coverage')).toBeLessThan(section.indexOf('<h3>XENFEAT'));
    expect(section.indexOf('<h3>XenStore paths')).toBeLessThan(section.indexOf('<summary>Console'));
    // A record from before these fields: no such sections.
    const plain = /<section class="guest" id="old">[\s\S]*?<\/section>/.exec(h)![0];
    expect(plain).not.toContain('XENFEAT');
    expect(plain).not.toContain('XenStore paths');
    const silent = RENDERERS.html.render(record([guest('silent', { xenfeat: { queries: [], bits: [] }, xenstore: { accesses: [] } })]));
    expect(silent).toContain('The guest never asked XENVER_get_features: it checked no XENFEAT bit.');
    expect(silent).toContain('The guest made no XenStore request.');
  });

  it('JUnit: properties in brief; TAP: a comment line that tap-parser passes over', () => {
    const x = RENDERERS.junit.render(record([covered, old]));
    expect(x).toContain('<property name="xenfeat-queries" value="submap 0 ok x2, submap 1 -EINVAL x1"/>');
    expect(x).toContain(`<property name="xenfeat-checked" value="${XENFEAT_NAMES.join(' ')}"/>`);
    expect(x).toContain('<property name="xenstore-requests" value="11"/>');
    expect(x).toContain('<property name="xenstore-paths" value="3"/>');
    expect(x.match(/xenfeat-queries/g)).toHaveLength(1);
    const t = RENDERERS.tap.render(record([covered, old]));
    expect(t).toContain('# covered coverage: XENFEAT submaps queried: 0 ok, 1 -EINVAL; XenStore: 11 requests on 3 paths\n');
    expect(t).not.toContain('# old coverage');
    const asserts: string[] = [];
    const p = new Parser();
    p.on('assert', (a: { name: string }) => asserts.push(a.name));
    p.end(t);
    expect(asserts).toEqual(['covered', 'old']);
  });

  it('JSON: the coverage is in the record as it is', () => {
    expect(JSON.parse(RENDERERS.json.render(record([covered])))).toEqual(record([covered]));
  });
});

describe('a guest not run because its fixture is missing', () => {
  const reason = 'fixture missing: grub-xen (run `npm run fixtures`)';
  const grub = skippedGuest({ name: 'grub', description: 'GRUB', config: 'fixtures/configs/grub.cfg', expectEnd: 'poweroff', timeoutSeconds: 10 }, 'fixtures/configs/grub.cfg', reason);
  const r = record([guest('probe-basics'), grub]);

  it('is one skip with the reason, not a failed guest', () => {
    expect(grub).toMatchObject({ ok: true, end: 'not-run', exitCode: 0, detail: reason, tests: [{ id: 1, status: 'skip', detail: reason }] });
    expect(r.totals).toMatchObject({ guests: 2, guestsFailed: 0, tests: 2, passed: 1, skipped: 1, failed: 0 });
    const s = renderSummary(r, []);
    expect(s).toMatch(/^skip grub +fixture missing: grub-xen \(run `npm run fixtures`\)$/m);
    expect(s).toContain('2 guests, 0 failed; 2 tests: 1 passed, 0 failed, 1 skipped, 0 todo');
  });

  it('shows as skipped in the HTML matrix, JUnit <skipped> and TAP # SKIP', () => {
    const h = RENDERERS.html.render(r);
    const section = /<section class="guest" id="grub">[\s\S]*?<\/section>/.exec(h)![0];
    expect(section).toContain('<p class="skip">Not run: fixture missing: grub-xen (run `npm run fixtures`). Config <code>fixtures/configs/grub.cfg</code>.</p>');
    expect(section).not.toContain('Hypercall coverage');
    expect(h).toContain('<td class="res skip" title="fixture missing: grub-xen (run `npm run fixtures`)">↷ skipped: fixture missing: grub-xen (run `npm run fixtures`)</td>');
    const x = RENDERERS.junit.render(r);
    expect(x).toContain('<testsuite name="grub" tests="1" failures="0" errors="0" skipped="1"');
    expect(x).toContain('<skipped message="fixture missing: grub-xen (run `npm run fixtures`)"/>');
    const t = RENDERERS.tap.render(r);
    expect(t).toContain('    ok 1 - the guest runs # SKIP fixture missing: grub-xen (run `npm run fixtures`)\n');
    expect(t).toContain('ok 2 - grub # SKIP fixture missing: grub-xen (run `npm run fixtures`)\n');
    const p = new Parser();
    let final: { ok: boolean; skip: number } | undefined;
    p.on('complete', (f: { ok: boolean; skip: number }) => (final = f));
    p.end(t);
    expect(final).toMatchObject({ ok: true, skip: 1 });
  });
});
