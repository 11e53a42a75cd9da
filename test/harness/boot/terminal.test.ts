/**
 * Console input from stdin (harness/boot/terminal.ts) with a fake terminal and a fake process:
 * raw mode on attach and off on every way out (Ctrl-], close, exit, a signal, which is raised
 * again), Ctrl-] splitting a read, a pipe read as plain bytes to its end, waiting for input, and
 * the stream paused while too much is queued.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { DETACH_BYTE, StdinInput, isTerminal, type ProcessHooks } from '../../../harness/boot/terminal.js';

class FakeStdin extends EventEmitter {
  rawCalls: boolean[] = [];
  paused = true;
  constructor(readonly isTTY: boolean) {
    super();
  }
  setRawMode(raw: boolean): this {
    this.rawCalls.push(raw);
    return this;
  }
  get raw(): boolean {
    return this.rawCalls.at(-1) === true;
  }
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  type(s: string | Uint8Array): void {
    this.emit('data', typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s));
  }
}

class FakeProcess extends EventEmitter implements ProcessHooks {
  raised: string[] = [];
  raise(sig: string): void {
    this.raised.push(sig);
  }
}

const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('latin1'));

function attach(isTTY = true): { stdin: FakeStdin; proc: FakeProcess; input: StdinInput; detaches: number[] } {
  const stdin = new FakeStdin(isTTY);
  const proc = new FakeProcess();
  const detaches: number[] = [];
  const input = new StdinInput({ stdin, attach: true, process: proc, onDetach: () => detaches.push(stdin.rawCalls.length) });
  return { stdin, proc, input, detaches };
}

describe('attached to a terminal', () => {
  it('raw mode while attached; keys (Ctrl-C included) are queued as typed; Ctrl-] detaches and restores the terminal', () => {
    const { stdin, proc, input, detaches } = attach();
    expect(stdin.raw).toBe(true);
    expect(stdin.paused).toBe(false);
    expect(input.attached).toBe(true);
    expect(proc.listenerCount('SIGTERM')).toBe(1);
    expect(proc.listenerCount('exit')).toBe(1);
    stdin.type('ls\r');
    stdin.type('\x03');
    expect(text(input.take())).toBe('ls\r\x03');
    expect(input.take()).toBeUndefined();
    stdin.type(`ab${String.fromCharCode(DETACH_BYTE)}cd`);
    expect(detaches).toEqual([2]); // called after raw mode was switched off
    expect(stdin.rawCalls).toEqual([true, false]);
    expect(input.detached).toBe(true);
    expect(input.open).toBe(false);
    expect(input.attached).toBe(false);
    expect(stdin.paused).toBe(true);
    expect(text(input.take())).toBe('ab'); // what came before Ctrl-] still goes to the guest
    stdin.type('more');
    expect(input.take()).toBeUndefined();
    for (const e of ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'exit']) expect(proc.listenerCount(e)).toBe(0);
    expect(stdin.listenerCount('data')).toBe(0);
    input.close(); // idempotent
    expect(stdin.rawCalls).toEqual([true, false]);
  });

  it('a signal restores the terminal, then is raised again with the handler gone', () => {
    const { stdin, proc, input } = attach();
    proc.emit('SIGTERM');
    expect(stdin.rawCalls).toEqual([true, false]);
    expect(proc.raised).toEqual(['SIGTERM']);
    expect(proc.listenerCount('SIGTERM')).toBe(0);
    expect(input.open).toBe(false);
    expect(input.detached).toBe(false);
  });

  it('the process exiting (an error, process.exit) restores the terminal', () => {
    const { stdin, proc } = attach();
    proc.emit('exit');
    expect(stdin.rawCalls).toEqual([true, false]);
  });

  it('close() (the command is done) restores the terminal and wakes a waiter', async () => {
    const { stdin, input } = attach();
    const waiting = input.wait();
    input.close();
    await waiting;
    expect(stdin.rawCalls).toEqual([true, false]);
    expect(input.open).toBe(false);
  });
});

describe('not a terminal', () => {
  it('a pipe: no raw mode, Ctrl-] is a byte like any other, the end of the stream closes the input', async () => {
    const stdin = new FakeStdin(false);
    const proc = new FakeProcess();
    const input = new StdinInput({ stdin, attach: true, process: proc });
    expect(stdin.rawCalls).toEqual([]);
    expect(input.attached).toBe(false);
    expect(proc.listenerCount('SIGTERM')).toBe(0);
    const waiting = input.wait();
    stdin.type(`a${String.fromCharCode(DETACH_BYTE)}b`);
    await waiting;
    expect(text(input.take())).toBe('a\x1db');
    stdin.emit('end');
    expect(input.open).toBe(false);
    expect(input.detached).toBe(false);
    await input.wait(); // closed: at once
  });

  it('a terminal on stdin only (stdout redirected) is read as it comes, without raw mode', () => {
    const stdin = new FakeStdin(true);
    const input = new StdinInput({ stdin, attach: false, process: new FakeProcess() });
    expect(stdin.rawCalls).toEqual([]);
    stdin.type('x\n');
    expect(text(input.take())).toBe('x\n');
  });

  it('wait(ms) gives up after ms; the stream is paused while 64 KiB are queued and resumed when taken', async () => {
    const stdin = new FakeStdin(false);
    const input = new StdinInput({ stdin, attach: false, process: new FakeProcess() });
    await input.wait(1);
    stdin.type(new Uint8Array(40 * 1024));
    expect(stdin.paused).toBe(false);
    stdin.type(new Uint8Array(30 * 1024));
    expect(stdin.paused).toBe(true);
    expect(input.take()?.length).toBe(70 * 1024);
    expect(stdin.paused).toBe(false);
  });

  it('isTerminal: only streams Node marks as TTYs', () => {
    expect(isTerminal({ isTTY: true })).toBe(true);
    expect(isTerminal({})).toBe(false);
    expect(isTerminal(null)).toBe(false);
  });
});
