/**
 * `xenlab boot GUEST.cfg` (harness/cli/commands/boot.ts) with tiny synthetic guests: the console
 * ring on stdout, Xen's console prefixed `(d1) ` and one summary line on stderr, the exit status
 * per end, --set overrides, --stats, and one clear line for a broken config or image.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requireFixture } from '../../../fixtures/pipeline/cache.js';
import { runCli } from '../../support/cli.js';
import { scratchDir } from '../../support/tmp.js';
import { writeTinyGuest, type TinyGuest } from './tiny-guest.js';

const dir = scratchDir('boot-cli');
let n = 0;
const guest = (g: TinyGuest, extra = ''): string => writeTinyGuest(dir, `c${n++}`, g, extra);
const SAY = { xenLog: 'hello from console_io\n', console: 'hello from the ring\n' };

/** stderr without the lines a run always prints: the (d1) lines and the summary. */
const summary = (stderr: string): string => stderr.trimEnd().split('\n').at(-1) ?? '';

describe('xenlab boot', () => {
  it('poweroff: the ring on stdout, (d1) lines and a summary on stderr, exit 0', async () => {
    const r = await runCli(['boot', guest({ ...SAY, end: { shutdown: 0, code: 7 } })]);
    expect(r.stdout).toBe(SAY.console);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('(d1) hello from console_io');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^xenlab: domain 1 shut down: SHUTDOWN_poweroff code 7; \d+ instructions, 0\.000 s guest, \d+\.\d{3} s wall \(\d+\.\d MIPS\)$/);
    expect(r.status).toBe(0);
  });

  it('exit status per end: crash 3, reboot 4, watchdog 6, soft reset 7, timeout 124, stalled 125, instruction limit 126', async () => {
    const cases: [TinyGuest, string[], number, RegExp][] = [
      [{ end: { shutdown: 3 } }, [], 3, /SHUTDOWN_crash code 0/],
      [{ end: 'ud2' }, [], 3, /domain 1 crashed: /],
      [{ end: { shutdown: 1 } }, ['--set', 'on_reboot="destroy"'], 4, /SHUTDOWN_reboot code 0;/],
      [{ end: { watchdog: 1 } }, [], 6, /SHUTDOWN_watchdog code 0; \d+ instructions, 1\.000 s guest/],
      [{ end: { shutdown: 5 } }, ['--set', 'on_soft_reset=destroy'], 7, /SHUTDOWN_soft_reset/],
      [{ end: 'loop' }, ['--timeout', '0.001'], 124, /^xenlab: timeout: 0\.001 s of guest time; 1000000 instructions/],
      [{ end: 'block' }, ['--timeout', '5'], 125, /^xenlab: domain 1 stalled: every vCPU is blocked/],
      [{ end: 'loop' }, ['--max-instructions', '5000'], 126, /^xenlab: instruction limit: 5000 instructions retired; 5000 instructions/],
    ];
    for (const [g, args, status, line] of cases) {
      const r = await runCli(['boot', guest(g), ...args]);
      expect(summary(r.stderr)).toMatch(line);
      expect(r.status).toBe(status);
    }
  });

  it('on_reboot = "restart" (the default) boots again, up to the limit; --set overrides it and other keys', async () => {
    const cfg = guest({ ...SAY, end: { shutdown: 1 } });
    const again = await runCli(['boot', cfg]);
    expect(again.status).toBe(4);
    expect(again.stdout).toBe(SAY.console.repeat(4));
    expect(again.stderr).toContain('xenlab: domain 1 shut down: SHUTDOWN_reboot code 0; on_reboot = "restart": building it again (restart 1 of at most 3)\n');
    const once = await runCli(['boot', '--set', 'on_reboot=destroy', cfg, '--set', 'memory=0x20']); // --set before the file too
    expect(once.stdout).toBe(SAY.console);
    expect(once.status).toBe(4);
    const bad = await runCli(['boot', cfg, '--set', 'memory=lots']);
    expect(bad).toEqual({ status: 1, stdout: '', stderr: 'xenlab: --set memory=lots: memory = "lots" is not a number (decimal, 0x hex or 0-prefixed octal)\n' });
  });

  it('--stats prints the hypercall table; config warnings come first', async () => {
    const r = await runCli(['boot', guest({ ...SAY, end: { shutdown: 0 } }, 'colour = "blue"\n'), '--stats']);
    expect(r.status).toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^xenlab: .*c\d+\.cfg:5: warning: unknown key 'colour' \(not an xl.cfg key; ignored\)$/);
    const head = lines.findIndex((l) => /^hypercall +sub-op +result +count$/.test(l));
    expect(head).toBeGreaterThan(0);
    const table = lines.slice(head + 1, -1);
    expect(table).toContainEqual(expect.stringMatching(/^console_io +CONSOLEIO_write +ok +1$/));
    expect(table).toContainEqual(expect.stringMatching(/^event_channel_op +EVTCHNOP_send +ok +1$/));
    expect(table).toContainEqual(expect.stringMatching(/^sched_op +SCHEDOP_shutdown +no-return +1$/));
  });

  it('the same run for the same --seed, byte for byte', async () => {
    const cfg = guest({ ...SAY, end: { shutdown: 0 } });
    const a = await runCli(['boot', cfg, '--seed', '3']);
    const b = await runCli(['boot', cfg, '--seed', '3']);
    expect(b.stdout).toBe(a.stdout);
    expect(summary(b.stderr).replace(/[\d.]+ s wall.*/, '')).toBe(summary(a.stderr).replace(/[\d.]+ s wall.*/, ''));
  });

  it('a broken config is one line naming the file and line, exit 1', async () => {
    const cfg = join(dir, 'broken.cfg');
    writeFileSync(cfg, 'name = "x"\nkernel = "k"\nmemory = 64MB\n');
    expect(await runCli(['boot', cfg])).toEqual({ status: 1, stdout: '', stderr: `xenlab: ${cfg}:3: 'MB': keys are lower case in xl.cfg\n` });
    writeFileSync(cfg, 'name = "x"\nkernel = "k"\ntype = "hvm"\n');
    expect(await runCli(['boot', cfg])).toEqual({ status: 1, stdout: '', stderr: `xenlab: ${cfg}:3: type = "hvm": xenlab runs PV guests only (type = "pv")\n` });
    const missing = join(dir, 'missing.cfg');
    expect(await runCli(['boot', missing])).toEqual({ status: 1, stdout: '', stderr: `xenlab: ${missing}: cannot read the domain config\n` });
  });

  it('a broken image is one line naming it, exit 1: not ELF, truncated, 32-bit, missing', async () => {
    const cfg = guest({ end: { shutdown: 0 } });
    const image = cfg.replace(/\.cfg$/, '.elf');
    const bytes = readFileSync(image);
    const one = async (): Promise<string> => {
      const r = await runCli(['boot', cfg]);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')).toHaveLength(2);
      return r.stderr;
    };
    writeFileSync(image, 'this is not a kernel\n');
    expect(await one()).toMatch(new RegExp(`^xenlab: ${image}: not a kernel image: neither ELF, bzImage nor a compressed ELF`));
    writeFileSync(image, bytes.subarray(0, 100));
    expect(await one()).toMatch(new RegExp(`^xenlab: ${image}: `));
    writeFileSync(image, readFileSync((await requireFixture('grub-xen')).file('i386-xen')));
    expect(await one()).toMatch(new RegExp(`^xenlab: ${image}: a xen-3.0-x86_32p kernel cannot be built as a 64-bit PV domain\\n$`));
    writeFileSync(cfg, 'name = "x"\nkernel = "no-such.elf"\n');
    expect(await one()).toBe(`xenlab: ${join(dir, 'no-such.elf')}: cannot read the kernel image\n`);
  });

  it("h2's probe-shutdown guest ends as its command line says, with xl's exit statuses", async () => {
    const cfg = fileURLToPath(new URL('../../../fixtures/guests/probe-shutdown.cfg', import.meta.url));
    const cases: [string, number, RegExp][] = [
      ['poweroff', 0, /SHUTDOWN_poweroff code 0/],
      ['crash', 3, /SHUTDOWN_crash code 0/],
      ['reboot', 4, /SHUTDOWN_reboot code 0/],
      ['watchdog', 6, /SHUTDOWN_watchdog code 0/],
      ['fault', 3, /domain 1 crashed: /],
    ];
    for (const [mode, status, line] of cases) {
      const r = await runCli(['boot', cfg, '--set', `extra="shutdown=${mode}"`, '--timeout', '60']);
      expect(r.stdout).toContain(`ok 1 - the command line names shutdown= ("shutdown=${mode}")\n`);
      expect(summary(r.stderr)).toMatch(line);
      expect(r.status).toBe(status);
    }
  });

  it('usage errors exit 2', async () => {
    const cfg = guest({ end: { shutdown: 0 } });
    expect((await runCli(['boot'])).status).toBe(2);
    expect(await runCli(['boot', cfg, '--timeout', '-1'])).toEqual({ status: 2, stdout: '', stderr: 'xenlab: --timeout expects a positive number of seconds\n' });
    expect(await runCli(['boot', cfg, '--max-instructions', '1.5'])).toEqual({ status: 2, stdout: '', stderr: 'xenlab: --max-instructions expects a positive whole number\n' });
    expect(await runCli(['boot', cfg, '--set', 'nonsense'])).toEqual({ status: 2, stdout: '', stderr: 'xenlab: --set nonsense: expected KEY=VALUE with a lower-case xl.cfg key\n' });
  });
});

describe('xenlab boot A.cfg B.cfg: several domains on one host', () => {
  it('console lines prefixed with each name, (dN) lines, one summary per domain and the run; exit 0 when all power off', async () => {
    const a = guest({ xenLog: 'x-a\n', console: 'one\ntwo\n', end: { shutdown: 0 } });
    const b = guest({ xenLog: 'x-b\n', console: 'three', end: { shutdown: 0, code: 9 } });
    const na = (readFileSync(a, 'utf8').match(/name = "([^"]+)"/) as RegExpMatchArray)[1];
    const nb = (readFileSync(b, 'utf8').match(/name = "([^"]+)"/) as RegExpMatchArray)[1];
    const r = await runCli(['boot', a, b]);
    expect(r.stdout.split('\n').sort()).toEqual(['', `${na}: one`, `${na}: two`, `${nb}: three`].sort());
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toContain('(d1) x-a');
    expect(lines).toContain('(d2) x-b');
    expect(lines).toContain(`xenlab: ${na}: domain 1 (${na}) shut down: SHUTDOWN_poweroff code 0 (exit 0)`);
    expect(lines).toContain(`xenlab: ${nb}: domain 2 (${nb}) shut down: SHUTDOWN_poweroff code 9 (exit 0)`);
    expect(lines.at(-1)).toMatch(/^xenlab: 2 domains; \d+ instructions, 0\.000 s guest, \d+\.\d{3} s wall/);
    expect(r.status).toBe(0);
  });

  it('exit status: the first domain to end otherwise; the other still runs to its end', async () => {
    const r = await runCli(['boot', guest({ end: { watchdog: 1 } }), guest({ end: 'ud2' }), guest({ end: { shutdown: 0 } })]);
    expect(r.stderr).toMatch(/crashed: .*\(exit 3\)/);
    expect(r.stderr).toMatch(/SHUTDOWN_watchdog code 0 \(exit 6\)/);
    expect(r.stderr).toMatch(/SHUTDOWN_poweroff code 0 \(exit 0\)/);
    expect(r.status).toBe(3);
  });

  it('refuses --expect with several configs', async () => {
    const r = await runCli(['boot', guest({ end: { shutdown: 0 } }), guest({ end: { shutdown: 0 } }), '--expect', 'x']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--expect\/--send answer one domain/);
  });
});
