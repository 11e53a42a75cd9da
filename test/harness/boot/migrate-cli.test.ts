/**
 * `xenlab migrate GUEST.cfg HOST:PORT` and `xenlab receive --listen PORT`
 * (harness/cli/commands/migrate.ts, receive.ts), both in this test process over TCP loopback:
 * probe-suspend migrated live at a console marker, resumed in a new domain on the receiving side
 * and run to its poweroff; a receiver that is not there and a stream of junk are one line and exit 1.
 */
import { createConnection, createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseGuestTap } from '../../../conformance/tap.js';
import type { CliIo } from '../../../harness/cli/command.js';
import { parseBandwidth, parseTarget } from '../../../harness/cli/commands/migrate.js';
import { main } from '../../../harness/cli/main.js';
import { runCli, type CliRun } from '../../support/cli.js';
import { PROBE_CONFIGS } from '../../support/probe-session.js';

const CFG = `${PROBE_CONFIGS}probe-suspend.cfg`;
const WORK = ['--set', 'extra="dirty=32 period=200 suspends=1"'];

/** A command running in this process; `stderrMatch` resolves once its stderr matches. */
function startCli(args: readonly string[]): { done: Promise<CliRun>; stderrMatch(re: RegExp): Promise<RegExpExecArray> } {
  const out: Buffer[] = [];
  let err = '';
  const waiting: { re: RegExp; res: (m: RegExpExecArray) => void }[] = [];
  const stdout = new PassThrough().on('data', (b: Buffer) => out.push(b));
  const stderr = new PassThrough().on('data', (b: Buffer) => {
    err += b.toString();
    for (const w of [...waiting]) {
      const m = w.re.exec(err);
      if (m !== null) {
        waiting.splice(waiting.indexOf(w), 1);
        w.res(m);
      }
    }
  });
  const stdin = new PassThrough();
  stdin.end();
  const io: CliIo = { stdout, stderr, stdin, interactive: false, env: process.env };
  const done = main(args, io).then((status) => ({ status, stdout: Buffer.concat(out).toString(), stderr: err }));
  return {
    done,
    stderrMatch: (re) =>
      new Promise((res, rej) => {
        const m = re.exec(err);
        if (m !== null) return res(m);
        waiting.push({ re, res });
        void done.then((r) => rej(new Error(`ended (${r.status}) without ${re}: ${r.stderr}`)));
      }),
  };
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

const failed = (text: string): string[] => parseGuestTap(text).tests.filter((t) => t.status !== 'pass').map((t) => `${t.id} ${t.name}`);

describe('xenlab migrate / receive', () => {
  it('migrates probe-suspend live over TCP at a console marker; the receiver runs it to its poweroff', async () => {
    const rx = startCli(['receive', '--listen', '0', '--seed', '3', '--timeout', '20']);
    const [, port] = await rx.stderrMatch(/^xenlab: listening on 127\.0\.0\.1:(\d+)\n/);
    const tx = await runCli(['migrate', CFG, `127.0.0.1:${port}`, '--after', 'working:', '--bandwidth', '1G', ...WORK]);
    const r = await rx.done;
    expect(tx.status, tx.stderr).toBe(0);
    expect(r.status, r.stderr).toBe(0);
    // The sender: a line per live round, the stop-and-copy, the totals; the domain ends as migrated.
    const rounds = tx.stderr.match(/^xenlab: migration round \d+: \d+ pages sent, \d+ dirtied meanwhile, [\d.]+ MiB, [\d.]+ ms guest time$/gm) ?? [];
    expect(rounds.length).toBeGreaterThanOrEqual(1);
    expect(tx.stderr).toMatch(/^xenlab: migration round 0: 4096 pages sent, /m);
    expect(tx.stderr).toMatch(/^xenlab: migration stop-and-copy: \d+ pages sent, guest stopped, /m);
    expect(tx.stderr).toMatch(/^xenlab: migration of domain 1 at [\d.]+ s to the receiver: \d+ live rounds? \(converged\); \d+ pages sent for 4096 guest pages, [\d.]+ MiB in all$/m);
    expect(tx.stderr).toMatch(/^xenlab: migration downtime [\d.]+ ms of guest time \([\d.]+ ms wall\); /m);
    expect(tx.stderr).toContain(`xenlab: probe-suspend: domain 1 (probe-suspend) migrated live to 127.0.0.1:${port} (`);
    expect(tx.stderr).not.toContain('log-dirty missed');
    // The receiver: the stream, then the domain resumed in a new domain and powered off.
    expect(r.stderr).toMatch(/^xenlab: received the migration stream from 127\.0\.0\.1:\d+: \d+ bytes, \d+ records$/m);
    expect(r.stdout).toMatch(/ok \d+ - resumed in a new domain/);
    expect(r.stderr).toContain('domain 1 (probe-suspend) shut down: SHUTDOWN_poweroff code 0 (exit 0)');
    expect(failed(tx.stdout + r.stdout)).toEqual([]);
  });

  it('a receiver that is not there: one line, exit 1, and the domain runs on here', async () => {
    const port = await closedPort();
    const tx = await runCli(['migrate', CFG, `127.0.0.1:${port}`, '--at', '0.003', '--timeout', '0.05', ...WORK]);
    expect(tx.status, tx.stderr).toBe(1);
    const lines = tx.stderr.split('\n').filter((l) => l.includes('ECONNREFUSED'));
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^xenlab: migration of domain 1 at 0\\.003 s failed: cannot connect to the migration receiver at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*; it runs on$`))]);
    expect(tx.stderr).not.toMatch(/migration round/);
    // It ran on to the timeout, working (no suspend).
    expect(tx.stderr).toMatch(/timeout: 0\.050 s of guest time \(exit 124\)/);
    expect(tx.stdout).not.toContain('suspending');
    expect(failed(tx.stdout)).toEqual([]);
  });

  it('a receiver that refuses the stream at its end: one line, exit 1, the suspend is cancelled and the guest works on to its end', async () => {
    const server = createServer((socket) => {
      socket.on('data', () => undefined);
      socket.on('end', () => socket.end('error: no room for it here\n'));
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    const port = (server.address() as { port: number }).port;
    try {
      const tx = await runCli(['migrate', CFG, `127.0.0.1:${port}`, '--at', '0.003', '--timeout', '0.4', ...WORK]);
      expect(tx.status, tx.stderr).toBe(1);
      expect(tx.stderr.split('\n').filter((l) => l.includes('no room'))).toEqual([
        `xenlab: migration of domain 1 at 0.003 s failed: migration to 127.0.0.1:${port} refused by the receiver: no room for it here; it runs on`,
      ]);
      // The live round was reported; the stop-and-copy was refused, so it is not.
      expect(tx.stderr).toMatch(/^xenlab: migration round 0: 4096 pages sent, /m);
      expect(tx.stderr).not.toMatch(/stop-and-copy/);
      expect(tx.stdout).toMatch(/ok \d+ - suspend cancelled: resumed in the same domain/);
      // With suspends=1 its one suspend was this one: it then powers off (the exit status stays 1).
      expect(tx.stderr).toContain('domain 1 (probe-suspend) shut down: SHUTDOWN_poweroff code 0 (exit 0)');
      expect(failed(tx.stdout)).toEqual([]);
    } finally {
      await new Promise<void>((res) => server.close(() => res()));
    }
  });

  it('a stream of junk is refused with one line, exit 1; the sender is told why', async () => {
    const rx = startCli(['receive', '--listen', '0']);
    const [, port] = await rx.stderrMatch(/listening on 127\.0\.0\.1:(\d+)\n/);
    const answer = await new Promise<string>((res, rej) => {
      const s = createConnection({ host: '127.0.0.1', port: Number(port) }, () => s.end(Buffer.alloc(4096, 0x5a)));
      let text = '';
      s.on('data', (b: Buffer) => (text += b.toString()));
      s.on('close', () => res(text));
      s.on('error', rej);
    });
    const r = await rx.done;
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^xenlab: listening on /);
    expect(lines[1]).toMatch(/^xenlab: migration stream from 127\.0\.0\.1:\d+: /);
    expect(answer).toBe(`error: ${(lines[1] as string).replace(/^xenlab: /, '')}\n`);
  });

  it('parses --bandwidth and HOST:PORT; refuses bad ones as usage errors', async () => {
    expect(['1000000', '2.5e8', '100M', '100m', '1G', '10Gbit/s', '500kbps', '1.5G'].map(parseBandwidth)).toEqual([1e6, 2.5e8, 1e8, 1e8, 1e9, 1e10, 5e5, 1.5e9]);
    expect(['', '0', '-1G', 'fast', '1X', '1 G b'].map(parseBandwidth)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
    expect(parseTarget('127.0.0.1:8002')).toEqual({ host: '127.0.0.1', port: 8002 });
    expect(parseTarget('[::1]:8002')).toEqual({ host: '::1', port: 8002 });
    expect(['host', 'host:', ':80', 'h:0', 'h:70000', '::1:80'].map(parseTarget)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
    const bw = await runCli(['migrate', CFG, '127.0.0.1:1', '--bandwidth', 'fast']);
    expect([bw.status, bw.stderr]).toEqual([2, "xenlab: --bandwidth expects bit/s: a positive number, or with a suffix k, M, G, T (100M, 1G), not 'fast'\n"]);
    const to = await runCli(['migrate', CFG, 'nowhere']);
    expect([to.status, to.stderr]).toEqual([2, "xenlab: migrate: expected HOST:PORT of a xenlab receive, not 'nowhere'\n"]);
    const port = await runCli(['receive', '--listen', '-4']);
    expect([port.status, port.stderr]).toEqual([2, 'xenlab: --listen expects a TCP port, 0 to 65535 (0: any free one)\n']);
  });
});
