/**
 * A conformance run (conformance/run.ts) and `xenlab conformance`: a guest's TAP and the
 * harness's checks in the record, a guest that fails its own test, ends the wrong way or cannot
 * boot, the reports written and the exit status; and every built-in profile passing, which is
 * what `npm start` runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from 'tap-parser';
import { describe, expect, it } from 'vitest';
import { BUILTIN_PROFILES, type GuestProfile } from '../../conformance/profile.js';
import { runConformance } from '../../conformance/run.js';
import { RECORD_VERSION, type RunRecord, type TestRecord } from '../../harness/record.js';
import { ROOT, runCli } from '../support/cli.js';
import { scratchDir } from '../support/tmp.js';
import { writeTinyGuest } from '../harness/boot/tiny-guest.js';

const dir = scratchDir('conformance');

function profile(name: string, config: string, expectEnd = 'poweroff'): GuestProfile {
  return { name, description: `test guest ${name}`, config, expectEnd, timeoutSeconds: 1 };
}

describe('conformance run', () => {
  const SKIP_XENBUS = (id: number) => ({
    id,
    name: 'xenbus.frontend-states: frontend XenBus state changes follow io/xenbus.h, and none passes Initialising before its backend is in InitWait',
    status: 'skip',
    source: 'harness',
    detail: 'not applicable: the guest drove no XenBus frontend',
    check: { id: 'xenbus.frontend-states', reference: 'xen/include/public/io/xenbus.h (enum xenbus_state)' },
  });
  // The ABI checks after the first (xenbus.frontend-states) have their own tests; these look at the rest.
  const firstAbi = (tests: readonly TestRecord[]) => tests.filter((t) => t.check === undefined || t.check.id === 'xenbus.frontend-states');

  it('records the guest\'s TAP, the harness checks, how it ended and its hypercalls', async () => {
    const good = writeTinyGuest(dir, 'good', { console: '1..2\nok 1 - first\nok 2 - second\n', end: { shutdown: 0 } });
    const failing = writeTinyGuest(dir, 'failing', { console: 'booting\n1..2\nok 1 - first\nnot ok 2 - second\n# got 1\n# expected 2\n', end: { shutdown: 0 } });
    const crashing = writeTinyGuest(dir, 'crashing', { console: '1..1\nok 1 - only\n', end: 'ud2' });
    const silent = writeTinyGuest(dir, 'silent', { end: { shutdown: 0 } });
    const events: string[] = [];
    const r = await runConformance({
      profiles: [profile('good', good), profile('failing', failing), profile('crashing', crashing), profile('silent', silent), profile('missing', join(dir, 'nope.cfg'))],
      root: ROOT,
      version: '9.9.9',
      onGuest: ({ index, result }) => events.push(`${index}:${result === undefined ? 'start' : result.ok ? 'ok' : 'fail'}`),
    });
    expect(events).toEqual(['0:start', '0:ok', '1:start', '1:fail', '2:start', '2:fail', '3:start', '3:fail', '4:start', '4:fail']);
    const [g, f, c, s, m] = r.guests;
    expect(firstAbi(g!.tests).map((t) => [t.id, t.status, t.source])).toEqual([[1, 'pass', 'guest'], [2, 'pass', 'guest'], [3, 'pass', 'harness'], [4, 'pass', 'harness'], [5, 'skip', 'harness']]);
    // The ABI checks that apply to any guest: one without XenBus frontends skips xenbus.frontend-states, saying why.
    expect(g!.tests[4]).toMatchObject({ check: { id: 'xenbus.frontend-states' }, detail: 'not applicable: the guest drove no XenBus frontend' });
    expect(g!.end).toBe('poweroff');
    expect(g!.hypercalls.some((h) => h.hypercall === 'sched_op' && h.subop === 'SCHEDOP_shutdown')).toBe(true);
    expect(f!.tests[1]).toMatchObject({ status: 'fail', detail: 'got 1\nexpected 2' });
    expect(c!.end).toBe('crash');
    const ended = c!.tests.find((t) => t.name === 'the domain ended with poweroff');
    expect(ended).toMatchObject({ status: 'fail', source: 'harness' });
    expect(ended!.detail).toMatch(/^ended: crash \(/);
    expect(firstAbi(s!.tests)).toEqual([
      { id: 1, name: 'the guest printed a complete TAP stream', status: 'fail', source: 'harness', detail: 'the guest printed no TAP (no plan, no tests)' },
      { id: 2, name: 'the domain ended with poweroff', status: 'pass', source: 'harness' },
      SKIP_XENBUS(3),
    ]);
    expect(m!.error).toMatch(/nope\.cfg: cannot read the domain config/);
    expect(r.totals).toMatchObject({ guests: 5, guestsFailed: 4 });
    expect(r.tool.version).toBe('9.9.9');
  });

  it('xenlab conformance writes the four reports and exits 0 when everything passed', async () => {
    const out = join(dir, 'out');
    const r = await runCli(['conformance', '--guest', 'probe-shutdown-crash', '--guest', 'probe-shutdown-reboot', '--out', out]);
    expect(r.stderr).toContain('[1/2] probe-shutdown-reboot: ok');
    expect(r.stderr).toContain('[2/2] probe-shutdown-crash: ok');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok   probe-shutdown-crash +(\d+)\/\1 passed +crash/m);
    const totals = /2 guests, 0 failed; (\d+) tests: (\d+) passed, 0 failed, (\d+) skipped/.exec(r.stdout);
    expect(totals).not.toBeNull();
    expect(Number(totals![2]) + Number(totals![3])).toBe(Number(totals![1]));
    expect(Number(totals![2])).toBeGreaterThanOrEqual(8);
    for (const f of ['results.tap', 'junit.xml', 'report.json', 'report.html']) expect(existsSync(join(out, f))).toBe(true);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.version).toBe(RECORD_VERSION);
    expect(report.guests.map((g: { name: string; end: string }) => [g.name, g.end])).toEqual([['probe-shutdown-reboot', 'reboot'], ['probe-shutdown-crash', 'crash']]);
    const asserts: boolean[] = [];
    const p = new Parser();
    p.on('assert', (a: { ok: boolean }) => asserts.push(a.ok));
    p.end(readFileSync(join(out, 'results.tap'), 'utf8'));
    expect(asserts).toEqual([true, true]);
  });

  it("passes a profile's console script to the boot: probe-console's self-test answered at its prompts", async () => {
    const out = join(dir, 'out-console');
    const r = await runCli(['conformance', '--guest', 'probe-console', '--out', out, '--format', 'json']);
    expect(r.stdout).toMatch(/^ok   probe-console +(\d+)\/\1 passed +poweroff/m);
    expect(r.status).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(report.guests[0].console).toContain('# prompt: big\nok 3 - a line of 3000 bytes');
  });

  it("takes a guest without TAP by its console-script checks: seen, not seen (with how the run ended), not reached", async () => {
    const guest = writeTinyGuest(dir, 'no-tap', { console: 'hello\nready> \n', end: { shutdown: 0 } });
    const r = await runConformance({
      profiles: [
        {
          ...profile('scripted', guest),
          checks: [
            { name: 'says hello', expect: 'hello' },
            { name: 'shows its prompt', expect: /ready> / },
            { name: 'answers', expect: 'never printed' },
            { name: 'answers again', expect: 'nor this' },
          ],
        },
      ],
      root: ROOT,
      version: 'test',
    });
    expect(firstAbi(r.guests[0]!.tests)).toEqual([
      { id: 1, name: 'says hello', status: 'pass', source: 'guest' },
      { id: 2, name: 'shows its prompt', status: 'pass', source: 'guest' },
      { id: 3, name: 'answers', status: 'fail', source: 'guest', detail: 'not seen: domain 1 shut down: SHUTDOWN_poweroff code 0' },
      { id: 4, name: 'answers again', status: 'fail', source: 'guest', detail: 'not reached' },
      { id: 5, name: 'the domain ended with poweroff', status: 'pass', source: 'harness' },
      SKIP_XENBUS(6),
    ]);
  });

  it('--list names the fixture a profile needs when it is not cached (the run makes it a skip: fixture-skip.test.ts)', async () => {
    const absent = await runCli(['conformance', '--list'], { ...process.env, XENLAB_FIXTURES_CACHE: join(dir, 'empty-cache') });
    expect(absent.stdout).toMatch(/^grub +Debian's GRUB .*\(needs fixture grub-xen: npm run fixtures\)$/m);
    expect(absent.stdout).toMatch(/^probe-basics +[^(]*$/m);
    // The tests' own cache has it (test/support/global-setup.ts fetches every fixture).
    const cached = await runCli(['conformance', '--list']);
    expect(cached.stdout).toMatch(/^grub +Debian's GRUB [^(]*\(grub-x86_64-xen\.bin\)[^(]*$/m);
  });

  it('refuses an unknown guest or format with one line', async () => {
    const a = await runCli(['conformance', '--guest', 'nosuch']);
    expect(a.status).not.toBe(0);
    expect(a.stderr).toBe("xenlab: --guest: no profile named 'nosuch' (see 'xenlab conformance --list')\n");
    const b = await runCli(['conformance', '--format', 'pdf']);
    expect(b.stderr).toBe("xenlab: --format: unknown format 'pdf' (expected tap, junit, json, html)\n");
  });

  // Linux is its own test: one boot of about 2 G instructions, minutes of CI time.
  const light = BUILTIN_PROFILES.filter((p) => p.name !== 'linux');
  const failuresOf = (r: RunRecord): string[] =>
    r.guests.flatMap((g) => [
      ...(g.error !== undefined ? [`${g.name}: ${g.error}`] : []),
      ...g.tests.filter((t) => t.status === 'fail').map((t) => `${g.name} not ok ${t.id} - ${t.name}: ${t.detail ?? ''}`),
    ]);

  it('every built-in profile passes (what npm start runs), Linux aside', async () => {
    const r = await runConformance({ profiles: light, root: ROOT, version: 'test' });
    expect(failuresOf(r)).toEqual([]);
    expect(r.totals.guests).toBe(light.length);
    expect(r.totals.passed).toBeGreaterThan(350);
  });

  it("the Linux profile passes: Debian's kernel with 2 vCPUs, its TAP over hvc0 and its hypercall usage in the record", async () => {
    const linux = BUILTIN_PROFILES.filter((p) => p.name === 'linux');
    expect(linux).toHaveLength(1);
    const r = await runConformance({ profiles: linux, root: ROOT, version: 'test' });
    expect(failuresOf(r)).toEqual([]);
    const g = r.guests[0]!;
    expect(g.end).toBe('poweroff');
    // The guest's 13 TAP points (docs/linux.md) and the harness's two checks.
    expect(g.tests.filter((t) => t.source === 'guest').length).toBeGreaterThanOrEqual(13);
    expect(g.tests.find((t) => t.id === 1)?.name).toBe('userspace reached');
    const used = (h: string, sub: string): boolean => g.hypercalls.some((c) => c.hypercall === h && c.subop === sub && c.result === 'ok');
    expect(used('vcpu_op', 'VCPUOP_initialise')).toBe(true);
    expect(used('vcpu_op', 'VCPUOP_up')).toBe(true);
    expect(used('grant_table_op', 'GNTTABOP_setup_table')).toBe(true);
    expect(used('event_channel_op', 'EVTCHNOP_alloc_unbound')).toBe(true);
    // blkfront and netfront went through the XenBus states as io/xenbus.h allows.
    expect(g.tests.find((t) => t.check?.id === 'xenbus.frontend-states')).toMatchObject({ status: 'pass' });
  }, 45 * 60_000);
});
