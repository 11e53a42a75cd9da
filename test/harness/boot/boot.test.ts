/**
 * bootGuest (harness/boot/boot.ts): every way a run ends, with its exit code and one-line detail,
 * the console ring and Xen's console collected and streamed, on_* actions (restart builds the
 * domain again, up to the limit), the final drain, determinism, and Debian's kernel reaching its
 * first console lines.
 */
import { describe, expect, it } from 'vitest';
import { requireFixture } from '../../../fixtures/pipeline/cache.js';
import { bootGuest, EXIT_CODES, MAX_RESTARTS, type BootOptions } from '../../../harness/boot/boot.js';
import { UserError } from '../../../harness/errors.js';
import { loadXlConfig, parseXlConfig } from '../../../harness/toolstack/xl-cfg.js';
import { scratchDir } from '../../support/tmp.js';
import { writeTinyGuest, type TinyGuest } from './tiny-guest.js';

const dir = scratchDir('boot');
let n = 0;

async function boot(g: TinyGuest, cfgExtra = '', o: Omit<BootOptions, 'config'> = {}) {
  const cfg = writeTinyGuest(dir, `g${n++}`, g, cfgExtra);
  return bootGuest({ config: loadXlConfig(cfg), ...o });
}

const SAY = { xenLog: 'hello from console_io\n', console: 'hello from the ring\n' };

describe('bootGuest: how a run ends', () => {
  it('poweroff: exit 0, the shutdown code in the detail, both consoles collected and streamed', async () => {
    const ring: number[] = [];
    const xen: string[] = [];
    const r = await boot({ ...SAY, end: { shutdown: 0, code: 42 } }, '', { onConsole: (b) => ring.push(...b), onXenLog: (l) => xen.push(l) });
    expect(r).toMatchObject({ end: 'poweroff', exitCode: 0, detail: 'domain 1 shut down: SHUTDOWN_poweroff code 42', console: SAY.console, xenLog: SAY.xenLog, diagnostics: [] });
    expect(new TextDecoder().decode(Uint8Array.from(ring))).toBe(SAY.console);
    expect(xen).toEqual(['hello from console_io']);
    expect(r.domain.state).toEqual({ kind: 'shutdown', reason: 0, code: 42 });
    expect(r.domain.stats.list()).toContainEqual({ hypercall: 'sched_op', subop: 'SCHEDOP_shutdown_code', result: 'ok', count: 1 });
    expect(r.instructions).toBeGreaterThan(10);
    expect(r.instructions).toBeLessThan(100);
  });

  it('each SHUTDOWN_* reason gives its end and exit code when its action is destroy', async () => {
    const cases = [
      [3, 'crash', 3, 'SHUTDOWN_crash'],
      [1, 'reboot', 4, 'SHUTDOWN_reboot'],
      [4, 'watchdog', 6, 'SHUTDOWN_watchdog'],
      [5, 'soft_reset', 7, 'SHUTDOWN_soft_reset'],
    ] as const;
    for (const [reason, end, exitCode, name] of cases) {
      const r = await boot({ end: { shutdown: reason } }, 'on_reboot = "destroy"\non_soft_reset = "destroy"\n');
      expect(r).toMatchObject({ end, exitCode, detail: `domain 1 shut down: ${name} code 0` });
      expect(EXIT_CODES[end]).toBe(exitCode);
    }
    // A suspend nobody asked for (no save in progress): the domain stays suspended and the run ends with it (exit 5).
    const s = await boot({ end: { shutdown: 2 } }, '', { maxInstructions: 1000 });
    expect(s).toMatchObject({ end: 'suspend', exitCode: 5, detail: 'domain 1 shut down: SHUTDOWN_suspend code 0' });
    expect(s.domain.stats.list()).toContainEqual({ hypercall: 'sched_op', subop: 'SCHEDOP_shutdown', result: 'ok', count: 1 });
  });

  it('a domain crashed by Xen: exit 3 with the reason', async () => {
    const r = await boot({ ...SAY, end: 'ud2' });
    expect(r).toMatchObject({ end: 'crash', exitCode: 3, console: SAY.console });
    expect(r.detail).toMatch(/^domain 1 crashed: .*vector 6/);
  });

  it("attaches each vif= device: libxl's vif nodes and a backend in InitWait on the bridge, removed when the run ends", async () => {
    const seen: string[] = [];
    let state: string | undefined;
    let mac: string | undefined;
    const r = await boot({ end: { shutdown: 0 } }, 'vif = [ "mac=00:16:3e:00:00:01,bridge=xenbr0" ]\n', {
      onXenStore: (xs, domid) => {
        state = xs.host.read(`/local/domain/0/backend/vif/${domid}/0/state`);
        mac = xs.host.read(`/local/domain/${domid}/device/vif/0/mac`);
        xs.host.watch(`/local/domain/0/backend/vif/${domid}`, 'vif', (path) => seen.push(path));
      },
    });
    expect(r).toMatchObject({ end: 'poweroff', diagnostics: [] });
    expect({ state, mac }).toEqual({ state: '2', mac: '00:16:3e:00:00:01' }); // XenbusStateInitWait
    // The nodes go when the run ends (the watch's last event is their removal).
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(r.xenstore.host.read('/local/domain/0/backend/vif/1/0/state')).toBeUndefined();
  });

  it('a domain that ends, by shutdown or crash, fires @releaseDomain for watchers in xenstored', async () => {
    for (const end of [{ shutdown: 0 }, 'ud2'] as const) {
      const fired: string[] = [];
      const r = await boot({ end }, '', { onXenStore: (xs) => xs.host.watch('@releaseDomain', 'rel', (path) => fired.push(path)) });
      // The initial event on WATCH, then the one when the domain ended.
      expect({ end: r.end, fired }).toEqual({ end: typeof end === 'string' ? 'crash' : 'poweroff', fired: ['@releaseDomain', '@releaseDomain'] });
    }
  });

  it('a watchdog that expires: exit 6 after its timeout in guest time', async () => {
    const r = await boot({ xenLog: 'arming\n', end: { watchdog: 2 } });
    expect(r).toMatchObject({ end: 'watchdog', exitCode: 6, detail: 'domain 1 shut down: SHUTDOWN_watchdog code 0' });
    expect(r.guestNs).toBeGreaterThanOrEqual(2e9);
    expect(r.guestNs).toBeLessThan(2.001e9);
  });

  it('timeout (124), stalled (125) and instruction limit (126)', async () => {
    const t = await boot({ end: 'loop' }, '', { timeoutSeconds: 0.002 });
    expect(t).toMatchObject({ end: 'timeout', exitCode: 124, detail: 'timeout: 0.002 s of guest time', guestNs: 2_000_000 });
    const s = await boot({ xenLog: 'blocking\n', end: 'block' }, '', { timeoutSeconds: 60 });
    expect(s).toMatchObject({ end: 'stalled', exitCode: 125, detail: 'domain 1 stalled: every vCPU is blocked and nothing can wake one', xenLog: 'blocking\n' });
    expect(s.guestNs).toBeLessThan(1e6);
    const i = await boot({ end: 'loop' }, '', { maxInstructions: 12_345 });
    expect(i).toMatchObject({ end: 'instruction-limit', exitCode: 126, instructions: 12_345, detail: 'instruction limit: 12345 instructions retired' });
  });

  it('--realtime: guest time follows the host clock, and the timeout still ends the run', async () => {
    const r = await boot({ end: 'loop' }, '', { timeoutSeconds: 0.01, realtime: true });
    expect(r).toMatchObject({ end: 'timeout', exitCode: 124 });
    expect(r.guestNs).toBeGreaterThanOrEqual(1e7);
  });

  it('on_reboot = "restart" builds the domain again, up to the limit; each boot is the same boot', async () => {
    const r = await boot({ ...SAY, end: { shutdown: 1 } });
    expect(r.end).toBe('reboot');
    expect(r.exitCode).toBe(4);
    expect(r.detail).toBe(`domain 1 shut down: SHUTDOWN_reboot code 0; on_reboot = "restart", but it was restarted ${MAX_RESTARTS} times, the limit`);
    expect(r.console).toBe(SAY.console.repeat(MAX_RESTARTS + 1));
    expect(r.xenLog).toBe(SAY.xenLog.repeat(MAX_RESTARTS + 1));
    expect(r.diagnostics).toEqual([1, 2, 3].map((k) => `domain 1 shut down: SHUTDOWN_reboot code 0; on_reboot = "restart": building it again (restart ${k} of at most ${MAX_RESTARTS})`));
    // on_crash = "restart" too, and a restart stops when the budget is spent.
    const once = await boot({ end: { shutdown: 3 } });
    const c = await boot({ end: { shutdown: 3 } }, 'on_crash = "restart"\n', { maxInstructions: 2 * once.instructions });
    expect(c.end).toBe('crash');
    expect(c.detail).toMatch(/^domain 1 shut down: SHUTDOWN_crash code 0; on_crash = "restart", but the run is out of budget$/);
  });

  it('drains the ring once more at the end, for output the guest never notified', async () => {
    const r = await boot({ console: 'unannounced\n', notify: false, end: { shutdown: 0 } });
    expect(r.console).toBe('unannounced\n');
    expect(r.domain.stats.total('event_channel_op')).toBe(0);
  });

  it('is deterministic: same config and seed, same everything but wall time; the seed moves the frames', async () => {
    const cfg = writeTinyGuest(dir, 'det', { ...SAY, end: { shutdown: 0 } });
    const a = await bootGuest({ config: loadXlConfig(cfg) });
    const b = await bootGuest({ config: loadXlConfig(cfg) });
    const c = await bootGuest({ config: loadXlConfig(cfg), seed: 99 });
    for (const x of [b, c]) {
      expect([x.console, x.xenLog, x.detail, x.instructions, x.guestNs]).toEqual([a.console, a.xenLog, a.detail, a.instructions, a.guestNs]);
    }
    expect(c.domain.p2m).not.toEqual(a.domain.p2m);
    expect(b.domain.p2m).toEqual(a.domain.p2m);
  });

  it('sets the domain handle from uuid, and maxmem, maxvcpus on the domain', async () => {
    const r = await boot({ end: { shutdown: 0 } }, 'uuid = "00112233-4455-6677-8899-aabbccddeeff"\nmaxmem = 24\nmaxvcpus = 3\n');
    expect([...r.domain.uuid]).toEqual([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
    expect(r.domain.maxVcpus).toBe(3);
    expect(r.domain.memory?.e820).toEqual([{ addr: 0, size: 24 * 2 ** 20, type: 1 }]);
    expect(r.domain.p2m.length).toBe(16 * 256);
  });

  it('refuses a kernel or ramdisk it cannot read, and a bad limit, each with one line', async () => {
    const cfg = (extra: string) => parseXlConfig(`name = "x"\n${extra}`, `${dir}/x.cfg`).config;
    await expect(bootGuest({ config: cfg('kernel = "nothing-here"\n') })).rejects.toThrow(new UserError('file-not-found', `${dir}/nothing-here: cannot read the kernel image`));
    const good = writeTinyGuest(dir, 'rd', { end: { shutdown: 0 } });
    const withRd = parseXlConfig(`name = "x"\nkernel = "rd.elf"\nramdisk = "missing.img"\nmemory = 16\n`, good).config;
    await expect(bootGuest({ config: withRd })).rejects.toThrow(new UserError('file-not-found', `${dir}/missing.img: cannot read the ramdisk`));
    await expect(bootGuest({ config: loadXlConfig(good), timeoutSeconds: -1 })).rejects.toThrow('the timeout must be a positive number');
  });
});

describe("bootGuest with Debian's kernel", () => {
  it('reaches its first console_io lines, streamed as they come, the same on every run and with --strict', async () => {
    const kernel = (await requireFixture('kernel')).file('vmlinuz');
    const { config } = parseXlConfig(`name = "debian"\nkernel = "${kernel}"\nmemory = 128\nextra = "console=hvc0"\n`, `${dir}/debian.cfg`);
    const lines: string[] = [];
    const a = await bootGuest({ config, maxInstructions: 20_000_000, onXenLog: (l) => lines.push(l) });
    expect(lines).toContain('mapping kernel into physical memory');
    expect(lines).toContain('about to get started...');
    expect(a.xenLog).toContain('about to get started...\n');
    expect(a.instructions).toBeLessThanOrEqual(20_000_000);
    expect(a.domain.stats.list()).toContainEqual(expect.objectContaining({ hypercall: 'xen_version', subop: 'XENVER_get_features', result: 'ok' }));
    // Again with --strict: the same run, plus the PV MMU's observations as diagnostics.
    const b = await bootGuest({ config, maxInstructions: 20_000_000, strict: true });
    expect([b.end, b.detail, b.xenLog, b.console, b.instructions, b.guestNs]).toEqual([a.end, a.detail, a.xenLog, a.console, a.instructions, a.guestNs]);
    expect(b.domain.stats.list()).toEqual(a.domain.stats.list());
    expect(a.diagnostics).toEqual([]);
    expect(b.diagnostics.length).toBeGreaterThan(0);
    for (const d of b.diagnostics) expect(d).toMatch(/^strict: [a-z0-9-]+: /);
  });
});
