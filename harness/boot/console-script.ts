/**
 * A console script: expect/send pairs run against a guest's console, as `expect(1)` drives a
 * serial line, but deterministic (docs/boot.md, "Scripted console").
 *
 * Each step waits for its pattern in the console output since the previous match (text found
 * anywhere, or a regular expression), for at most its timeout in guest time, then types its reply
 * into the console's `in` ring. The script sees the output as the console backend drains it,
 * which happens inside the guest's EVTCHNOP_send: a pattern is matched, and its reply queued, at
 * the same guest instruction on every run. The reply goes into the ring at once as far as it
 * fits, the rest as the guest takes input (ConsoleBackend.type). Timeouts are checked by the
 * scheduler (`hostDeadline`), which cuts its slices at them: same guest instruction again.
 *
 * Time is the run's total guest time (summed over restarts), so a step's timeout spans an
 * on_reboot = "restart" too.
 */
import { NO_TIMER } from '../../abi/time/timers.js';
import { UserError } from '../errors.js';

export interface ConsoleExpect {
  /** Text to find anywhere, or a regular expression, in the output since the previous match. */
  readonly expect: string | RegExp;
  /** Guest seconds to wait for it, counted from the previous match (or the start); default DEFAULT_EXPECT_TIMEOUT_SECONDS. */
  readonly timeoutSeconds?: number;
  /** What to type once it is seen: text (sent as UTF-8) or bytes. */
  readonly send?: string | Uint8Array;
}

/** Guest seconds a step waits when it names no timeout (`--expect-timeout`). */
export const DEFAULT_EXPECT_TIMEOUT_SECONDS = 60;

/** How much of the latest output is kept for the timeout message's "last console line". */
const TAIL_CHARS = 4096;
/** The last line is cut to this many characters in messages. */
const LINE_MAX = 160;

interface Step {
  readonly pattern: string | RegExp;
  readonly timeoutNs: number;
  readonly reply: Uint8Array | undefined;
}

export class ConsoleScript {
  private readonly steps: readonly Step[];
  private index = 0;
  /** Decoded output since the previous match. */
  private window = '';
  /** The latest output, for the last console line. */
  private tail = '';
  private readonly decoder = new TextDecoder('utf-8');
  /** Total guest ns at which the current step gives up. */
  private deadlineNs: number;
  /** For each matched step: the total guest ns of its match. */
  readonly matchedAt: number[] = [];

  /** Throws UserError for a step that is not a pattern with a positive timeout. */
  constructor(script: readonly ConsoleExpect[], defaultTimeoutSeconds = DEFAULT_EXPECT_TIMEOUT_SECONDS) {
    checkTimeout(defaultTimeoutSeconds, 'the expect timeout');
    this.steps = script.map((s, k) => {
      const what = `console script step ${k + 1}`;
      if (typeof s.expect !== 'string' && !(s.expect instanceof RegExp)) throw new UserError('bad-option', `${what}: expect must be text or a regular expression`);
      if (s.timeoutSeconds !== undefined) checkTimeout(s.timeoutSeconds, `${what}: the timeout`);
      if (s.send !== undefined && typeof s.send !== 'string' && !(s.send instanceof Uint8Array)) throw new UserError('bad-option', `${what}: send must be text or bytes`);
      // A global or sticky expression keeps state between exec calls; matching wants none.
      const pattern = typeof s.expect === 'string' ? s.expect : new RegExp(s.expect.source, s.expect.flags.replace(/[gy]/g, ''));
      const reply = s.send === undefined ? undefined : typeof s.send === 'string' ? new TextEncoder().encode(s.send) : s.send.slice();
      return { pattern, timeoutNs: Math.round((s.timeoutSeconds ?? defaultTimeoutSeconds) * 1e9), reply };
    });
    this.deadlineNs = this.steps[0]?.timeoutNs ?? NO_TIMER;
  }

  /** Every step has matched. */
  get done(): boolean {
    return this.index >= this.steps.length;
  }

  /** Steps matched so far. */
  get matched(): number {
    return this.index;
  }

  /** Total guest ns at which the waiting step times out, or NO_TIMER when none waits. */
  deadline(): number {
    return this.done ? NO_TIMER : this.deadlineNs;
  }

  /**
   * Console output as drained, at total guest time `nowNs`: matches as many steps as it
   * completes and returns their replies, in order, for the caller to type.
   */
  output(bytes: Uint8Array, nowNs: number): Uint8Array[] {
    const text = this.decoder.decode(bytes, { stream: true });
    this.tail = (this.tail + text).slice(-TAIL_CHARS);
    if (this.done) return [];
    this.window += text;
    const replies: Uint8Array[] = [];
    while (!this.done) {
      const step = this.steps[this.index] as Step;
      const end = matchEnd(step.pattern, this.window);
      if (end === undefined) break;
      this.window = this.window.slice(end);
      this.matchedAt.push(nowNs);
      if (step.reply !== undefined && step.reply.length > 0) replies.push(step.reply);
      this.index++;
      const next = this.steps[this.index];
      this.deadlineNs = next === undefined ? NO_TIMER : nowNs + next.timeoutNs;
    }
    return replies;
  }

  /** The waiting step's pattern as the user wrote it: "text" or /regex/flags. */
  pendingPattern(): string | undefined {
    const step = this.steps[this.index];
    return step === undefined ? undefined : describePattern(step.pattern);
  }

  /** The last non-blank line of the output, quoted, control characters escaped. */
  lastLine(): string {
    const lines = this.tail.split(/\r\n|\r|\n/).filter((l) => l.trim() !== '');
    const last = lines.at(-1) ?? '';
    const cut = last.length > LINE_MAX ? `${last.slice(0, LINE_MAX)}...` : last;
    return JSON.stringify(cut);
  }

  /** One line for a step that timed out (the run ends as 'expect-timeout'). */
  timeoutDetail(): string {
    const step = this.steps[this.index];
    if (step === undefined) throw new Error('console script: no step is waiting');
    return (
      `expect-timeout: ${describePattern(step.pattern)} (step ${this.index + 1} of ${this.steps.length}) not seen within ` +
      `${step.timeoutNs / 1e9} s of guest time; last console line: ${this.lastLine()}`
    );
  }

  /** For a run that stalled or ended with a step still waiting: what it waited for. */
  waitingNote(): string {
    const p = this.pendingPattern();
    return p === undefined ? '' : ` while the console script waited for ${p} (step ${this.index + 1} of ${this.steps.length}); last console line: ${this.lastLine()}`;
  }
}

function checkTimeout(v: number, what: string): void {
  if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) throw new UserError('bad-option', `${what} must be a positive number of seconds`);
}

/** Where the first match of `pattern` in `text` ends, or undefined. */
function matchEnd(pattern: string | RegExp, text: string): number | undefined {
  if (typeof pattern === 'string') {
    const at = text.indexOf(pattern);
    return at < 0 ? undefined : at + pattern.length;
  }
  const m = pattern.exec(text);
  return m === null ? undefined : m.index + m[0].length;
}

function describePattern(p: string | RegExp): string {
  return typeof p === 'string' ? JSON.stringify(p) : String(p);
}

/**
 * `--send TEXT` escapes: \n \r \t \e (ESC) \xHH \\ \0; any other backslash sequence is refused.
 * Returns the bytes to type (characters beyond ASCII as UTF-8).
 */
export function decodeSendEscapes(text: string, option = '--send'): Uint8Array {
  const out: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c !== '\\') {
      const cp = text.codePointAt(i) as number;
      if (cp > 0xffff) i++;
      out.push(...enc.encode(String.fromCodePoint(cp)));
      continue;
    }
    const e = text[++i];
    const simple: Record<string, number> = { n: 0x0a, r: 0x0d, t: 0x09, e: 0x1b, '\\': 0x5c, '0': 0x00 };
    if (e !== undefined && simple[e] !== undefined) {
      out.push(simple[e] as number);
      continue;
    }
    if (e === 'x') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new UserError('bad-option', `${option} ${JSON.stringify(text)}: \\x needs two hex digits`);
      out.push(parseInt(hex, 16));
      i += 2;
      continue;
    }
    throw new UserError('bad-option', `${option} ${JSON.stringify(text)}: unknown escape \\${e ?? ''} (known: \\n \\r \\t \\e \\xHH \\\\ \\0)`);
  }
  return Uint8Array.from(out);
}

/**
 * `--expect PATTERN`: text to find, or `/REGEX/FLAGS` (slashes at both ends, flags among i, m, s,
 * u) for a regular expression. Throws UserError for a malformed expression.
 */
export function parseExpectPattern(text: string, option = '--expect'): string | RegExp {
  const m = /^\/(.*)\/([imsu]*)$/s.exec(text);
  if (m === null || text.length < 2) return text;
  try {
    return new RegExp(m[1] as string, m[2]);
  } catch (e) {
    throw new UserError('bad-option', `${option} ${text}: not a regular expression (${(e as Error).message})`);
  }
}
