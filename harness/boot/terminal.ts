/**
 * Host input for a guest's console from `xenlab boot`'s stdin (docs/boot.md, "Console input").
 *
 *  - Attached to a terminal (stdin and stdout are TTYs), as `xl console` does: the terminal goes
 *    into raw mode, so every key (Ctrl-C, Ctrl-Z, arrows) goes to the guest as the bytes the
 *    terminal sends; `Ctrl-]` (0x1d) detaches: the terminal is restored and no more input is read
 *    (bytes typed before it in the same read still go to the guest, the rest are dropped).
 *  - Otherwise stdin is a plain byte stream (a pipe, a file): everything read goes to the guest;
 *    its end closes the input and leaves the ring alone.
 *
 * The terminal is restored on every way out: detach, `close()` (the command's finally), the
 * process's exit, and SIGTERM/SIGHUP/SIGINT/SIGQUIT (restored, then the signal is raised again
 * with our handler gone, so the process ends as it would have). The stream, the process's
 * signals and its exit are injected so tests can use a fake terminal.
 */
import type { ConsoleInput } from './console-session.js';

/** `Ctrl-]`: the byte a terminal sends for it, and xl console's escape. */
export const DETACH_BYTE = 0x1d;

/** Bytes held before the stream is paused until the run takes them. */
const HIGH_WATER = 64 * 1024;

/** Signals that would end the process while the terminal is raw. */
const SIGNALS = ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT'] as const;
type Signal = (typeof SIGNALS)[number];

/** What attaching needs of stdin: Node's process.stdin (a tty.ReadStream on a terminal) or a fake. */
export interface InputStream {
  readonly isTTY?: boolean;
  setRawMode?(raw: boolean): unknown;
  on(event: 'data', fn: (chunk: Buffer | string) => void): unknown;
  on(event: 'end' | 'close' | 'error', fn: () => void): unknown;
  removeListener(event: 'data', fn: (chunk: Buffer | string) => void): unknown;
  removeListener(event: 'end' | 'close' | 'error', fn: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

/** The process as far as the terminal's restoration needs it (tests inject a fake). */
export interface ProcessHooks {
  on(event: Signal | 'exit', fn: () => void): unknown;
  removeListener(event: Signal | 'exit', fn: () => void): unknown;
  /** Raises `sig` on the process again (after our handler is gone). */
  raise(sig: Signal): void;
}

export interface StdinInputOptions {
  readonly stdin: InputStream;
  /** Raw mode and the Ctrl-] escape: stdin and stdout are terminals. */
  readonly attach: boolean;
  /** Called once on Ctrl-], after the terminal is restored. */
  readonly onDetach?: () => void;
  readonly process?: ProcessHooks;
}

const nodeProcess: ProcessHooks = {
  on: (e, fn) => process.on(e, fn),
  removeListener: (e, fn) => process.removeListener(e, fn),
  raise: (sig) => process.kill(process.pid, sig),
};

/** Whether a stream is a terminal (Node sets `isTTY` on tty streams). */
export function isTerminal(s: unknown): boolean {
  return typeof s === 'object' && s !== null && (s as { isTTY?: unknown }).isTTY === true;
}

export class StdinInput implements ConsoleInput {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private waiters: (() => void)[] = [];
  private closed = false;
  private paused = false;
  /** Ctrl-] was typed. */
  detached = false;
  private readonly proc: ProcessHooks;
  private readonly raw: boolean;
  private readonly onData = (chunk: Buffer | string): void => this.data(chunk);
  private readonly onEnd = (): void => this.close();
  private readonly onExit = (): void => this.restore();
  private readonly onSignal = new Map<Signal, () => void>();

  constructor(private readonly o: StdinInputOptions) {
    this.proc = o.process ?? nodeProcess;
    this.raw = o.attach && o.stdin.isTTY === true && typeof o.stdin.setRawMode === 'function';
    if (this.raw) {
      o.stdin.setRawMode?.(true);
      this.proc.on('exit', this.onExit);
      for (const sig of SIGNALS) {
        const fn = (): void => {
          this.close();
          this.proc.raise(sig);
        };
        this.onSignal.set(sig, fn);
        this.proc.on(sig, fn);
      }
    }
    o.stdin.on('data', this.onData);
    o.stdin.on('end', this.onEnd);
    o.stdin.on('close', this.onEnd);
    o.stdin.on('error', this.onEnd);
    o.stdin.resume();
  }

  /** Raw mode is on (a terminal is attached and not yet detached). */
  get attached(): boolean {
    return this.raw && !this.closed;
  }

  get open(): boolean {
    return !this.closed;
  }

  take(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    const out = this.queue.length === 1 ? (this.queue[0] as Uint8Array) : concat(this.queue);
    this.queue.length = 0;
    this.queued = 0;
    if (this.paused && !this.closed) {
      this.paused = false;
      this.o.stdin.resume();
    }
    return out;
  }

  wait(ms?: number): Promise<void> {
    if (this.closed) return ms === undefined ? Promise.resolve() : new Promise((r) => setTimeout(r, ms));
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      if (ms !== undefined) {
        timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== wake);
          resolve();
        }, ms);
      }
      this.waiters.push(wake);
    });
  }

  /** Stops reading and restores the terminal; idempotent. Queued bytes can still be taken. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const s = this.o.stdin;
    s.removeListener('data', this.onData);
    s.removeListener('end', this.onEnd);
    s.removeListener('close', this.onEnd);
    s.removeListener('error', this.onEnd);
    s.pause();
    this.restore();
    if (this.raw) {
      this.proc.removeListener('exit', this.onExit);
      for (const [sig, fn] of this.onSignal) this.proc.removeListener(sig, fn);
      this.onSignal.clear();
    }
    this.wakeAll();
  }

  private restore(): void {
    if (this.raw) this.o.stdin.setRawMode?.(false);
  }

  private data(chunk: Buffer | string): void {
    if (this.closed) return;
    let bytes: Uint8Array = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length).slice();
    let detach = false;
    if (this.raw) {
      const at = bytes.indexOf(DETACH_BYTE);
      if (at >= 0) {
        bytes = bytes.subarray(0, at);
        detach = true;
      }
    }
    if (bytes.length > 0) {
      this.queue.push(bytes);
      this.queued += bytes.length;
      if (this.queued >= HIGH_WATER && !this.paused) {
        this.paused = true;
        this.o.stdin.pause();
      }
    }
    if (detach) {
      this.detached = true;
      this.close();
      this.o.onDetach?.();
    }
    this.wakeAll();
  }

  private wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
