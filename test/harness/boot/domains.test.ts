/**
 * bootDomains (harness/boot/domains.ts): several domains on one host. Probe guests and tiny
 * guests run together: domain ids 1, 2, ... in config order, one xenstored holding every
 * domain's tree, consoles kept apart, each domain ending on its own (its own on_* actions), a
 * crashing or spinning domain leaving the other to finish, the run's exit code, determinism.
 */
import { describe, expect, it } from 'vitest';
import { parseGuestTap } from '../../../conformance/tap.js';
import { bootDomains } from '../../../harness/boot/domains.js';
import { UserError } from '../../../harness/errors.js';
import { loadXlConfig } from '../../../harness/toolstack/xl-cfg.js';
import { scratchDir } from '../../support/tmp.js';
import { writeTinyGuest, type TinyGuest } from './tiny-guest.js';

const dir = scratchDir('boot-domains');
let n = 0;
const probe = (name: string, sets: string[] = []) => loadXlConfig(`fixtures/guests/${name}.cfg`, sets);
const tiny = (g: TinyGuest, extra = '') => loadXlConfig(writeTinyGuest(dir, `t${n++}`, g, extra));

/** Every TAP point passed and the plan is complete. */
function allPass(console: string): void {
  const tap = parseGuestTap(console);
  expect({ problems: tap.problems, failed: tap.tests.filter((t) => t.status !== 'pass').map((t) => t.name) }).toEqual({ problems: [], failed: [] });
  expect(tap.tests.length).toBe(tap.plan?.end);
}

describe('bootDomains: several domains on one host', () => {
  it('two probe guests run together: domids 1 and 2, their own consoles and trees, each ends by its own shutdown', async () => {
    const chunks: [number, string][] = [];
    const trees: string[] = [];
    const r = await bootDomains({
      configs: [probe('probe-events'), probe('probe-grants')],
      onConsole: (i, b) => chunks.push([i, new TextDecoder().decode(b)]),
      onXenStore: (xs, domid) => trees.push(`${domid}:${xs.host.read(`/local/domain/${domid}/name`)}`),
    });
    expect(r.exitCode).toBe(0);
    expect(r.domains.map((d) => [d.index, d.name, d.domid, d.end, d.exitCode, d.detail])).toEqual([
      [0, 'probe-events', 1, 'poweroff', 0, 'domain 1 (probe-events) shut down: SHUTDOWN_poweroff code 0'],
      [1, 'probe-grants', 2, 'poweroff', 0, 'domain 2 (probe-grants) shut down: SHUTDOWN_poweroff code 0'],
    ]);
    for (const d of r.domains) {
      allPass(d.console);
      expect(d.diagnostics).toEqual([]);
      expect(d.domain.id).toBe(d.domid);
    }
    // Each console carries its own guest's TAP only, and the stream by index is the same text.
    const [ev, gr] = r.domains.map((d) => d.console);
    expect(ev).toContain('VIRQ_TIMER');
    expect(gr).not.toContain('VIRQ_TIMER');
    expect(gr).toMatch(/GNTTABOP/);
    expect(ev).not.toMatch(/GNTTABOP/);
    for (const d of r.domains) expect(chunks.filter(([i]) => i === d.index).map(([, t]) => t).join('')).toBe(d.console);
    // One xenstored: dom0's tree and both domains', each introduced with its own ring.
    expect(trees).toEqual(['1:probe-events', '2:probe-grants']);
    const host = r.xenstore.host;
    expect(host.read('/local/domain/0/name')).toBe('Domain-0');
    expect([host.read('/local/domain/1/name'), host.read('/local/domain/2/name')]).toEqual(['probe-events', 'probe-grants']);
    expect(host.read('/local/domain/2/domid')).toBe('2');
    expect(host.read('/libxl/2/type') ?? host.read('/libxl/2/dm-version') ?? host.directory('/libxl/2')).toBeDefined();
    // The two ran interleaved: the run's instructions are theirs together.
    expect(r.instructions).toBeGreaterThan(0);
    expect(r.domains[0]!.endedAtNs).not.toBe(r.domains[1]!.endedAtNs);
  });

  it('a crashing domain and a spinning one do not stop a neighbour: it still finishes; exit code of the first bad end', async () => {
    const r = await bootDomains({
      configs: [tiny({ end: 'ud2' }), probe('probe-events'), tiny({ end: 'loop' })],
      timeoutSeconds: 1,
    });
    const [crashed, events, spinner] = r.domains;
    expect(crashed).toMatchObject({ domid: 1, end: 'crash', exitCode: 3 });
    expect(crashed!.detail).toMatch(/^domain 1 \(t\d+\) crashed: .*vector 6/);
    expect(events).toMatchObject({ domid: 2, end: 'poweroff', exitCode: 0 });
    allPass(events!.console);
    expect(spinner).toMatchObject({ domid: 3, end: 'timeout', exitCode: 124, detail: 'timeout: 1.000 s of guest time' });
    expect(r.exitCode).toBe(3); // the crash came first
    expect(r.guestNs).toBe(1e9);
    // The crashed domain's xenstored connection is gone (@releaseDomain), the others' trees remain.
    expect(r.xenstore.host.read('/local/domain/2/name')).toBe('probe-events');
  });

  it('each domain takes its own on_* action: a restart gets the next domid, the other runs on', async () => {
    const say = { console: 'hi\n', end: { shutdown: 1 } } as const;
    const r = await bootDomains({ configs: [tiny(say, 'on_reboot = "restart"\n'), tiny({ console: 'bye\n', end: { shutdown: 0, code: 5 } })] });
    const [rb, off] = r.domains;
    expect(off).toMatchObject({ domid: 2, end: 'poweroff', exitCode: 0, console: 'bye\n' });
    expect(rb).toMatchObject({ end: 'reboot', exitCode: 4, domid: 5, console: 'hi\n'.repeat(4) });
    expect(rb!.detail).toMatch(/^domain 5 \(t\d+\) shut down: SHUTDOWN_reboot code 0; on_reboot = "restart", but it was restarted 3 times, the limit$/);
    expect(rb!.diagnostics).toHaveLength(3);
    expect(rb!.diagnostics[0]).toMatch(/^domain 1 \(t\d+\) shut down: SHUTDOWN_reboot code 0; on_reboot = "restart": building it again as domain 3 \(restart 1 of at most 3\)$/);
    expect(r.exitCode).toBe(4);
  });

  it('one domain: the same as a run of that domain alone, apart from the wording', async () => {
    const r = await bootDomains({ configs: [probe('probe-shutdown', ['extra="shutdown=watchdog"'])] });
    expect(r.domains.map((d) => [d.domid, d.end, d.exitCode])).toEqual([[1, 'watchdog', 6]]);
    expect(r.exitCode).toBe(6);
  });

  it('is deterministic: same configs, same consoles, ends and instruction count', async () => {
    const run = () => bootDomains({ configs: [probe('probe-events'), probe('probe-grants'), probe('probe-shutdown', ['extra="shutdown=crash"'])] });
    const a = await run();
    const b = await run();
    const key = (x: typeof a) => [x.instructions, x.guestNs, x.exitCode, ...x.domains.map((d) => [d.console, d.xenLog, d.detail, d.endedAtNs])];
    expect(key(b)).toEqual(key(a));
    expect(a.exitCode).toBe(3);
  });

  it('refuses two domains with one name or one MAC, and an empty list', async () => {
    await expect(bootDomains({ configs: [probe('probe-events'), probe('probe-events')] })).rejects.toThrow(/a domain named "probe-events" is already in this run/);
    const mac = 'vif=["mac=00:16:3e:00:00:01"]';
    await expect(bootDomains({ configs: [probe('probe-events', [mac]), probe('probe-grants', [mac])] })).rejects.toThrow(/vif mac 00:16:3e:00:00:01 is also domain "probe-events"'s/);
    await expect(bootDomains({ configs: [] })).rejects.toBeInstanceOf(UserError);
  });
});
