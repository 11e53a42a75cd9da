/**
 * Console input through `xenlab boot` (harness/cli/commands/boot.ts) with the probe-console
 * guest: --expect/--send pairs and their escapes, --expect-timeout's exit status and message,
 * --console-log, stdin piped into the console (in-process and through the real binary, which
 * exits when the domain ends), --ignore-stdin, and a fake terminal attached in raw mode, typed
 * at, detached with Ctrl-] and restored.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../../harness/cli/command.js';
import { main } from '../../../harness/cli/main.js';
import { ROOT, runCli, spawnCli } from '../../support/cli.js';
import { scratchDir } from '../../support/tmp.js';

const CFG = join(ROOT, 'fixtures/guests/probe-console.cfg');
const BANNER = 'probe-console: type help for the commands, quit to power off\r\n';
const dir = scratchDir('console-cli');
const summary = (stderr: string): string => stderr.trimEnd().split('\n').at(-1) ?? '';

describe('xenlab boot --expect/--send', () => {
  it('types each --send once its --expect is seen; escapes; a regex; the same bytes every run', async () => {
    const args = ['boot', CFG, '--expect', 'probe> ', '--send', 'add 2 3\\r', '--expect', '/^5\\r$/m', '--send', '', '--expect', 'probe> ', '--send', 'echo \\x41\\tb\\n', '--expect', 'probe> ', '--send', 'quit\\n'];
    const r = await runCli(args);
    expect(r.stdout).toBe(`${BANNER}probe> add 2 3\r\n5\r\nprobe> echo A^Ib\r\nA\tb\r\nprobe> quit\r\nbye\r\n`);
    expect(summary(r.stderr)).toMatch(/^xenlab: domain 1 shut down: SHUTDOWN_poweroff code 0; \d+ instructions/);
    expect(r.status).toBe(0);
    const again = await runCli(args);
    expect(again.stdout).toBe(r.stdout);
    expect(summary(again.stderr).replace(/\d+\.\d+ s wall.*/, '')).toBe(summary(r.stderr).replace(/\d+\.\d+ s wall.*/, ''));
  });

  it('a pattern not seen in time: exit 123 and one line naming it and the last console line', async () => {
    const r = await runCli(['boot', CFG, '--expect', 'login:', '--expect-timeout', '0.5']);
    expect(r.status).toBe(123);
    expect(summary(r.stderr)).toMatch(/^xenlab: expect-timeout: "login:" \(step 1 of 1\) not seen within 0.5 s of guest time; last console line: "probe> "; \d+ instructions, 0\.500 s guest/);
    expect(r.stdout).toBe(`${BANNER}probe> `);
  });

  it('refuses more --send than --expect, a bad escape, a bad expression, a bad timeout', async () => {
    const more = await runCli(['boot', CFG, '--expect', 'a', '--send', 'x', '--send', 'y']);
    expect(more.status).toBe(2);
    expect(more.stderr).toBe('xenlab: boot: 2 --send for 1 --expect (each --send answers the --expect of the same rank)\n');
    const esc = await runCli(['boot', CFG, '--expect', 'a', '--send', 'x\\q']);
    expect(esc.status).toBe(2);
    expect(esc.stderr).toBe('xenlab: --send "x\\\\q": unknown escape \\q (known: \\n \\r \\t \\e \\xHH \\\\ \\0)\n');
    const re = await runCli(['boot', CFG, '--expect', '/(/']);
    expect(re.stderr).toMatch(/^xenlab: --expect \/\(\/: not a regular expression/);
    const t = await runCli(['boot', CFG, '--expect', 'a', '--expect-timeout', '0']);
    expect(t.stderr).toBe('xenlab: --expect-timeout expects a positive number of seconds\n');
  });

  it('--console-log keeps the console in a file', async () => {
    const log = join(dir, 'd.log');
    const r = await runCli(['boot', CFG, '--console-log', log, '--expect', 'probe> ', '--send', 'quit\\n']);
    expect(r.status).toBe(0);
    expect(readFileSync(log, 'utf8')).toBe(r.stdout);
  });
});

describe('xenlab boot with stdin', () => {
  it('piped: stdin goes into the console; the end of stdin leaves the guest waiting, which then ends as stalled', async () => {
    const r = await runCli(['boot', CFG], process.env, 'add 40 2\nhelp\nquit\n');
    expect(r.stdout).toBe(
      `${BANNER}probe> add 40 2\r\n42\r\nprobe> help\r\nadd A B     print A + B\r\necho TEXT   print TEXT\r\nhelp        this list\r\nquit        power off\r\nprobe> quit\r\nbye\r\n`,
    );
    expect(r.status).toBe(0);
    const partial = await runCli(['boot', CFG], process.env, 'echo hi\n');
    expect(partial.stdout).toBe(`${BANNER}probe> echo hi\r\nhi\r\nprobe> `);
    expect(partial.status).toBe(125);
  });

  it('piped into the real binary: same console, and the process exits when the domain ends', () => {
    const r = spawnCli(['boot', 'fixtures/guests/probe-console.cfg'], process.env, 'add 2 3\nquit\n');
    expect(r.stdout).toBe(`${BANNER}probe> add 2 3\r\n5\r\nprobe> quit\r\nbye\r\n`);
    expect(r.status).toBe(0);
  });

  it('a pipe left open: the real binary answers each line as it is written and exits when the domain ends', async () => {
    const child = spawn(process.execPath, ['bin/xenlab.js', 'boot', 'fixtures/guests/probe-console.cfg'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // Like a user: the next line only once the prompt is back; stdin is never closed.
      if (out.endsWith('probe> ')) child.stdin.write(out.includes('\r\n5\r\n') ? 'quit\n' : 'add 2 3\n');
    });
    const status = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(out).toBe(`${BANNER}probe> add 2 3\r\n5\r\nprobe> quit\r\nbye\r\n`);
    expect(status).toBe(0);
  });

  it('--ignore-stdin and --expect leave stdin alone', async () => {
    const ignored = await runCli(['boot', CFG, '--ignore-stdin'], process.env, 'quit\n');
    expect(ignored.stdout).toBe(`${BANNER}probe> `);
    expect(ignored.status).toBe(125);
    const scripted = await runCli(['boot', CFG, '--expect', 'probe> ', '--send', 'add 1 1\\n', '--expect-timeout', '1'], process.env, 'quit\n');
    expect(scripted.stdout).toBe(`${BANNER}probe> add 1 1\r\n2\r\nprobe> `);
    expect(scripted.status).toBe(125);
  });
});

/** A terminal's stdin: raw mode recorded; `prompt()` types the next of `keys` (a user answering). */
class FakeTty extends EventEmitter {
  readonly isTTY = true;
  raw: boolean[] = [];
  constructor(private readonly keys: string[]) {
    super();
  }
  setRawMode(r: boolean): this {
    this.raw.push(r);
    return this;
  }
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  prompt(): void {
    const k = this.keys.shift();
    if (k !== undefined) setImmediate(() => this.emit('data', Buffer.from(k, 'latin1')));
  }
}

/** Boots probe-console with a fake terminal on stdin and stdout; each prompt on stdout gets the next keys. */
async function attached(keys: string[], args: string[]): Promise<{ status: number; stdout: string; stderr: string; tty: FakeTty }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const tty = new FakeTty(keys);
  const stdout = Object.assign(
    new PassThrough().on('data', (b: Buffer) => {
      out.push(b);
      if (b.toString('latin1').endsWith('probe> ')) tty.prompt();
    }),
    { isTTY: true },
  );
  const stderr = new PassThrough().on('data', (b: Buffer) => err.push(b));
  const io: CliIo = { stdout, stderr, stdin: tty as unknown as NodeJS.ReadableStream, interactive: true, env: process.env };
  const status = await main(['boot', CFG, ...args], io);
  return { status, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), tty };
}

describe('xenlab boot attached to a terminal', () => {
  it('raw mode while attached, keys go to the guest as typed, the terminal restored at the end', async () => {
    const r = await attached(['add 2 3\r', 'ec\x7fcho \x03', 'quit\r'], []);
    expect(r.tty.raw).toEqual([true, false]);
    expect(r.stdout).toBe(`${BANNER}probe> add 2 3\r\n5\r\nprobe> ec\b \bcho ^C\r\nprobe> quit\r\nbye\r\n`);
    expect(r.stderr).toMatch(/^xenlab: attached to the console of probe-console; Ctrl-\] detaches\n/);
    expect(summary(r.stderr)).toMatch(/^xenlab: domain 1 shut down: SHUTDOWN_poweroff code 0;/);
    expect(r.status).toBe(0);
  });

  it('Ctrl-] detaches: the terminal is restored, the domain runs on headless with its console in the log only', async () => {
    const log = join(dir, 'detached.log');
    const r = await attached(['help\r\x1dquit\r'], ['--realtime=false', '--timeout', '2', '--console-log', log]);
    expect(r.tty.raw).toEqual([true, false]);
    expect(r.stdout).toBe(`${BANNER}probe> `); // the guest's answer came after the detach
    expect(r.stderr).toContain(`xenlab: detached (Ctrl-]); domain probe-console runs on headless until it ends, its console going to ${log}\n`);
    expect(readFileSync(log, 'utf8')).toBe(`${BANNER}probe> help\r\nadd A B     print A + B\r\necho TEXT   print TEXT\r\nhelp        this list\r\nquit        power off\r\nprobe> `);
    expect(summary(r.stderr)).toMatch(/^xenlab: timeout: 2\.000 s of guest time/);
    expect(r.status).toBe(124);
  });
});
