/**
 * The console in both directions through bootGuest (harness/boot/boot.ts, console-session.ts),
 * with the probe-console guest (fixtures/guests/console/): a scripted session gives the same
 * console bytes, instruction count and guest time on every run; an expect that never matches ends
 * the run as 'expect-timeout' exactly at its deadline; the guest's TAP self-test passes under the
 * conformance profile's script; the console log gets every byte; host input (a fake terminal)
 * is typed as it arrives, and a guest waiting for a key waits for it instead of stalling.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_PROFILES } from '../../../conformance/profile.js';
import { parseGuestTap } from '../../../conformance/tap.js';
import { bootGuest, EXIT_CODES, type BootOptions } from '../../../harness/boot/boot.js';
import type { ConsoleInput } from '../../../harness/boot/console-session.js';
import { isUserError } from '../../../harness/errors.js';
import { loadXlConfig } from '../../../harness/toolstack/xl-cfg.js';
import { ROOT } from '../../support/cli.js';
import { scratchDir } from '../../support/tmp.js';

const CFG = join(ROOT, 'fixtures/guests/probe-console.cfg');
const dir = scratchDir('console-session');

const boot = (o: Omit<BootOptions, 'config'>, overrides: string[] = []) => bootGuest({ config: loadXlConfig(CFG, overrides), ...o });

const SESSION = [
  { expect: 'probe> ', send: 'add 2 3\n' },
  { expect: /^5\r$/m },
  { expect: 'probe> ', send: 'echo héllo\r' },
  { expect: 'probe> ', send: 'quit\n' },
];
const TRANSCRIPT =
  'probe-console: type help for the commands, quit to power off\r\n' +
  'probe> add 2 3\r\n5\r\n' +
  'probe> echo héllo\r\nhéllo\r\n' +
  'probe> quit\r\nbye\r\n';

/** Host input from a list of chunks: each wait() that finds the list not empty delivers the next. */
class ScriptedInput implements ConsoleInput {
  private ready: Uint8Array[] = [];
  waits = 0;
  constructor(private readonly chunks: string[]) {}
  get open(): boolean {
    return this.chunks.length > 0 || this.ready.length > 0;
  }
  take(): Uint8Array | undefined {
    return this.ready.shift();
  }
  wait(): Promise<void> {
    this.waits++;
    const next = this.chunks.shift();
    if (next !== undefined) this.ready.push(new TextEncoder().encode(next));
    return Promise.resolve();
  }
}

describe('a scripted console session', () => {
  it('expect/send pairs drive the prompt to a poweroff; the console is exactly the transcript', async () => {
    const r = await boot({ script: SESSION });
    expect(r.console).toBe(TRANSCRIPT);
    expect(r).toMatchObject({ end: 'poweroff', exitCode: 0, diagnostics: [] });
  });

  it('is deterministic: same script, same console bytes, instructions and guest time', async () => {
    const runs = await Promise.all([boot({ script: SESSION }), boot({ script: SESSION })]);
    const again = await boot({ script: SESSION });
    for (const r of [...runs, again]) {
      expect(r.console).toBe(runs[0]!.console);
      expect(r.instructions).toBe(runs[0]!.instructions);
      expect(r.guestNs).toBe(runs[0]!.guestNs);
      expect(r.domain.stats.list()).toEqual(runs[0]!.domain.stats.list());
    }
    const tap = BUILTIN_PROFILES.find((p) => p.name === 'probe-console')!;
    const a = await boot({ script: tap.script! }, [...tap.overrides!]);
    const b = await boot({ script: tap.script! }, [...tap.overrides!]);
    expect(Buffer.from(a.console)).toEqual(Buffer.from(b.console));
    expect([a.instructions, a.guestNs]).toEqual([b.instructions, b.guestNs]);
  });

  it("passes the guest's TAP self-test under the conformance profile's script (a 3000-byte line through the 1024-byte ring)", async () => {
    const p = BUILTIN_PROFILES.find((x) => x.name === 'probe-console')!;
    expect(p.script).toBeDefined();
    const r = await boot({ script: p.script!, timeoutSeconds: p.timeoutSeconds }, [...p.overrides!]);
    const tap = parseGuestTap(r.console);
    expect(tap.problems).toEqual([]);
    expect(tap.tests.filter((t) => t.status !== 'pass')).toEqual([]);
    expect(tap.tests).toHaveLength(9);
    expect(r.end).toBe(p.expectEnd);
  });

  it('a pattern never seen ends the run as expect-timeout exactly at its deadline, naming it and the last line', async () => {
    const r = await boot({ script: [{ expect: 'probe> ', send: 'add 1 1\n' }, { expect: /^3\r$/m, timeoutSeconds: 0.25 }] });
    expect(r.end).toBe('expect-timeout');
    expect(r.exitCode).toBe(EXIT_CODES['expect-timeout']);
    expect(r.exitCode).toBe(123);
    expect(r.detail).toBe('expect-timeout: /^3\\r$/m (step 2 of 2) not seen within 0.25 s of guest time; last console line: "probe> "');
    expect(r.console).toMatch(/add 1 1\r\n2\r\nprobe> $/);
    // The first match came early; the run ended 0.25 s of guest time after it, to the nanosecond.
    expect(r.guestNs).toBeGreaterThan(250_000_000);
    expect(r.guestNs).toBeLessThan(251_000_000);
    const again = await boot({ script: [{ expect: 'probe> ', send: 'add 1 1\n' }, { expect: /^3\r$/m, timeoutSeconds: 0.25 }] });
    expect([again.guestNs, again.instructions, again.console]).toEqual([r.guestNs, r.instructions, r.console]);
    // The default timeout applies to steps without one.
    const first = await boot({ script: [{ expect: 'nothing like it' }], expectTimeoutSeconds: 0.5 });
    expect(first.guestNs).toBe(500_000_000);
    expect(first.detail).toMatch(/^expect-timeout: "nothing like it" \(step 1 of 1\) not seen within 0.5 s of guest time; last console line: "probe> "$/);
  });

  it('keeps the console in a log file (created or truncated), the same bytes as the result', async () => {
    const log = join(dir, 'probe-console.log');
    const r = await boot({ script: SESSION, consoleLog: log });
    expect(readFileSync(log, 'utf8')).toBe(r.console);
    await boot({ script: [{ expect: 'probe> ', send: 'quit\n' }], consoleLog: log });
    expect(readFileSync(log, 'utf8')).toBe('probe-console: type help for the commands, quit to power off\r\nprobe> quit\r\nbye\r\n');
    // A log that cannot be written any more stops, with a diagnostic; the run goes on.
    const full = await boot({ script: SESSION, consoleLog: '/dev/full' });
    expect(full.end).toBe('poweroff');
    expect(full.diagnostics).toEqual(['/dev/full: writing the console log failed (ENOSPC); the log stops here']);
    let err: unknown;
    try {
      await boot({ consoleLog: join(dir, 'no/such/dir/log') });
    } catch (e) {
      err = e;
    }
    expect(isUserError(err) && err.message).toMatch(/no\/such\/dir\/log: cannot write the console log \(ENOENT\)/);
  });
});

describe('host input', () => {
  it('a guest waiting for a key waits for host input instead of stalling, and gets every byte typed', async () => {
    const input = new ScriptedInput(['add 40 ', '2\n', 'qu', 'it\n']);
    const r = await boot({ input });
    expect(r.console).toBe('probe-console: type help for the commands, quit to power off\r\nprobe> add 40 2\r\n42\r\nprobe> quit\r\nbye\r\n');
    expect(r.end).toBe('poweroff');
    expect(input.waits).toBeGreaterThanOrEqual(4);
  });

  it('once the input has ended, a guest waiting for a key ends as stalled', async () => {
    const input = new ScriptedInput(['add 1 2\n']);
    const r = await boot({ input });
    expect(r.end).toBe('stalled');
    expect(r.console).toMatch(/add 1 2\r\n3\r\nprobe> $/);
  });

  it('a stall while the script waits says what it waited for', async () => {
    const input = new ScriptedInput([]);
    const r = await boot({ input, script: [{ expect: 'login:' }], expectTimeoutSeconds: 5000 });
    expect(r.end).toBe('stalled');
    expect(r.detail).toMatch(/stalled: .* while the console script waited for "login:" \(step 1 of 1\); last console line: "probe> "$/);
  });
});
