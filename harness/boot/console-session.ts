/**
 * The host side of a boot's console beyond the ring itself: the console script (expect/send),
 * host input (a terminal or a pipe), the per-domain console log, and the run loop that gives the
 * host a chance to deliver input while the machine runs (docs/boot.md).
 *
 * Without host input the machine runs in one synchronous `runMachine` call, exactly as before
 * (the script only adds a host deadline, and types its replies from inside the drain): the run
 * is deterministic. With host input the run loop is `machineSteps`, driven asynchronously: every
 * YIELD_MS of wall time it lets the Node event loop run, so terminal or pipe data can arrive, and
 * types what arrived into the console; a guest blocked with nothing pending (waiting for a key)
 * waits for input instead of ending as stalled, until the input closes; in realtime mode the idle
 * time is waited for with the input watched. Input timing then decides where bytes land: such a
 * run does not repeat.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import type { VirtualClock } from '../../abi/time/clock.js';
import { machineSteps, runMachine, type RunMachineOptions, type RunResult } from '../../abi/time/scheduler.js';
import { NO_TIMER } from '../../abi/time/timers.js';
import type { ConsoleBackend } from '../backends/console.js';
import { UserError } from '../errors.js';
import { ConsoleScript, type ConsoleExpect } from './console-script.js';

/** Host input for the console: a terminal, a pipe, a test's queue. */
export interface ConsoleInput {
  /** Bytes that arrived since the last call, or undefined. */
  take(): Uint8Array | undefined;
  /** False once no more input can come (end of stream, detached). */
  readonly open: boolean;
  /** Resolves when input arrives or the source closes, or after `ms` milliseconds when given. */
  wait(ms?: number): Promise<void>;
}

export interface ConsoleSessionOptions {
  readonly script?: readonly ConsoleExpect[];
  /** Default timeout of a script step, guest seconds. */
  readonly expectTimeoutSeconds?: number;
  readonly input?: ConsoleInput;
  /** A file that gets every console byte of the domain (created or truncated at the start). */
  readonly consoleLog?: string;
}

/** Wall milliseconds the machine runs between two looks at host input. */
export const YIELD_MS = 15;
/** Typed input kept queued for the ring before host input is left waiting in its source. */
const MAX_QUEUED_INPUT = 64 * 1024;

export class ConsoleSession {
  readonly script: ConsoleScript | undefined;
  private console: ConsoleBackend | undefined;
  private clock: VirtualClock | undefined;
  /** Total guest ns of the boots before the current one. */
  private before = 0;
  /** Set when writing the console log failed: logging stopped (a diagnostic of the run). */
  logFailure: string | undefined = undefined;

  /** Throws UserError for a bad script or a log file that cannot be written. */
  constructor(private readonly o: ConsoleSessionOptions) {
    this.script = o.script !== undefined && o.script.length > 0 ? new ConsoleScript(o.script, o.expectTimeoutSeconds) : undefined;
    if (o.consoleLog !== undefined) {
      try {
        writeFileSync(o.consoleLog, '');
      } catch (e) {
        throw new UserError('bad-option', `${o.consoleLog}: cannot write the console log (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      }
    }
  }

  /** A new boot: its console backend and clock; `guestNsBefore` is the guest time of the earlier boots. */
  boot(console: ConsoleBackend, clock: VirtualClock, guestNsBefore: number): void {
    this.console = console;
    this.clock = clock;
    this.before = guestNsBefore;
  }

  /** Console output as the backend drains it (inside the guest's EVTCHNOP_send). */
  output(bytes: Uint8Array): void {
    if (this.o.consoleLog !== undefined && this.logFailure === undefined) {
      try {
        appendFileSync(this.o.consoleLog, bytes);
      } catch (e) {
        this.logFailure = `${this.o.consoleLog}: writing the console log failed (${(e as NodeJS.ErrnoException).code ?? String(e)}); the log stops here`;
      }
    }
    if (this.script === undefined || this.console === undefined || this.clock === undefined) return;
    for (const reply of this.script.output(bytes, this.before + this.clock.now())) this.console.type(reply);
  }

  /** Runs the machine with the script's deadline and the host input (see the file comment). */
  async run(base: RunMachineOptions): Promise<RunResult> {
    const script = this.script;
    const opts: RunMachineOptions =
      script === undefined
        ? base
        : {
            ...base,
            hostDeadline: () => {
              const d = script.deadline();
              return d === NO_TIMER ? NO_TIMER : d - this.before;
            },
          };
    if (this.o.input === undefined) return runMachine(opts);
    return this.drive(opts, this.o.input);
  }

  private async drive(opts: RunMachineOptions, input: ConsoleInput): Promise<RunResult> {
    const clock = opts.xen.clock;
    const steps = machineSteps({ ...opts, hostInput: true });
    let answer: boolean | undefined;
    let lastYield = performance.now();
    let finished = false;
    // Input already waiting (a pipe written before the start) goes in before the guest runs.
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.feed(input);
    try {
      for (;;) {
        const s = steps.next(answer);
        answer = undefined;
        if (s.done === true) {
          finished = true;
          return s.value;
        }
        const p = s.value;
        if (p.kind === 'skip') {
          // Virtual time is about to jump over idle time: input already on its way (typed in
          // answer to the output so far) lands first. Two event-loop turns let a stream's data
          // event run and then what its handler scheduled.
          await new Promise<void>((resolve) => setImmediate(resolve));
          await new Promise<void>((resolve) => setImmediate(resolve));
          answer = this.feed(input) > 0;
          lastYield = performance.now();
          continue;
        }
        if (p.kind === 'slice' || (p.kind === 'idle' && p.skipped)) {
          if (performance.now() - lastYield < YIELD_MS) continue;
          await new Promise<void>((resolve) => setImmediate(resolve));
        } else if (p.kind === 'idle') {
          const ms = (p.until - clock.now()) / 1e6;
          if (ms > 0) await (input.open ? input.wait(ms) : sleep(ms));
        } else {
          // Stalled: input that arrived may wake the guest; otherwise wait for some, unless
          // none can come any more (end of input, detached): then the run ends as stalled.
          if (this.feed(input) > 0) {
            answer = true;
            continue;
          }
          if (!input.open) {
            answer = false;
            continue;
          }
          await input.wait();
          answer = true;
        }
        lastYield = performance.now();
        this.feed(input);
      }
    } finally {
      if (!finished) steps.return(undefined as never);
    }
  }

  /** Moves arrived host input into the console (as much as the queue takes); returns the bytes moved. */
  private feed(input: ConsoleInput): number {
    const c = this.console;
    if (c === undefined || c.broken !== undefined) return 0;
    let n = 0;
    while (c.pendingInput < MAX_QUEUED_INPUT) {
      const b = input.take();
      if (b === undefined) break;
      c.type(b);
      n += b.length;
    }
    return n;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
