/**
 * The console script (harness/boot/console-script.ts) on its own, fed output by hand: patterns
 * are matched in the output since the previous match, across chunk boundaries and UTF-8
 * sequences split between drains, several steps in one chunk; each step's deadline counts from
 * the previous match; the timeout message names the pattern and the last console line; the
 * CLI's --send escapes and /REGEX/ patterns.
 */
import { describe, expect, it } from 'vitest';
import { NO_TIMER } from '../../../abi/time/timers.js';
import { ConsoleScript, DEFAULT_EXPECT_TIMEOUT_SECONDS, decodeSendEscapes, parseExpectPattern } from '../../../harness/boot/console-script.js';
import { isUserError } from '../../../harness/errors.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: readonly Uint8Array[]): string[] => b.map((x) => new TextDecoder().decode(x));

describe('ConsoleScript', () => {
  it('matches each pattern in the output since the previous match, and types its reply', () => {
    const s = new ConsoleScript([
      { expect: 'login: ', send: 'root\n' },
      { expect: 'login: ', send: 'again\n' },
      { expect: /# $/, send: enc('ls\n') },
      { expect: 'bye' },
    ]);
    expect(s.deadline()).toBe(DEFAULT_EXPECT_TIMEOUT_SECONDS * 1e9);
    expect(dec(s.output(enc('Welcome\nlog'), 5))).toEqual([]);
    expect(dec(s.output(enc('in: '), 7))).toEqual(['root\n']); // across two drains
    expect(s.matched).toBe(1);
    // The second "login: " must come after the first: the same text again does not count twice.
    expect(s.deadline()).toBe(7 + DEFAULT_EXPECT_TIMEOUT_SECONDS * 1e9);
    expect(dec(s.output(enc('root\nPassword: \nlogin: again\n# '), 9))).toEqual(['again\n', 'ls\n']); // two steps in one chunk
    expect(s.matchedAt).toEqual([7, 9, 9]);
    expect(s.pendingPattern()).toBe('"bye"');
    expect(dec(s.output(enc('bye'), 11))).toEqual([]); // no reply to type
    expect(s.done).toBe(true);
    expect(s.deadline()).toBe(NO_TIMER);
    expect(s.output(enc('login: '), 12)).toEqual([]);
  });

  it('an expression is matched without its g/y state; a match may span drains and split UTF-8', () => {
    const s = new ConsoleScript([{ expect: /grub>\s/g, send: 'ls\n' }, { expect: /é+!/y, timeoutSeconds: 2 }]);
    expect(s.output(enc('GNU GRUB\ngrub'), 1)).toEqual([]);
    expect(dec(s.output(enc('> '), 2))).toEqual(['ls\n']);
    expect(s.deadline()).toBe(2 + 2e9);
    const e = enc('xéé!');
    expect(s.output(e.subarray(0, 3), 3)).toEqual([]); // "x" and half of the first é
    expect(s.output(e.subarray(3), 4)).toEqual([]);
    expect(s.done).toBe(true);
  });

  it('the timeout message names the step, its pattern and the last non-blank console line', () => {
    const s = new ConsoleScript([{ expect: 'a' }, { expect: 'never', timeoutSeconds: 1.5 }], 10);
    s.output(enc('a\nBooting "Debian"\r\n\n  \n'), 1);
    expect(s.timeoutDetail()).toBe('expect-timeout: "never" (step 2 of 2) not seen within 1.5 s of guest time; last console line: "Booting \\"Debian\\""');
    expect(s.waitingNote()).toBe(' while the console script waited for "never" (step 2 of 2); last console line: "Booting \\"Debian\\""');
    s.output(enc(`${'x'.repeat(300)}\x1b[0m`), 2);
    expect(s.lastLine()).toBe(JSON.stringify(`${'x'.repeat(160)}...`));
  });

  it('refuses a step that is not a pattern, a bad timeout, a bad reply', () => {
    const bad: unknown[][] = [
      [[{ expect: 5 }]],
      [[{ expect: 'x', timeoutSeconds: 0 }]],
      [[{ expect: 'x', timeoutSeconds: Number.NaN }]],
      [[{ expect: 'x', send: 7 }]],
      [[{ expect: 'x' }], -1],
    ];
    for (const args of bad) {
      let err: unknown;
      try {
        new ConsoleScript(...(args as ConstructorParameters<typeof ConsoleScript>));
      } catch (e) {
        err = e;
      }
      expect(isUserError(err)).toBe(true);
    }
  });
});

describe('--send escapes and --expect patterns', () => {
  it('decodes \\n \\r \\t \\e \\xHH \\\\ \\0 and UTF-8, refuses anything else', () => {
    expect(Array.from(decodeSendEscapes('a\\n\\r\\t\\e\\x1b\\x7F\\\\\\0é'))).toEqual([0x61, 10, 13, 9, 27, 27, 0x7f, 0x5c, 0, 0xc3, 0xa9]);
    expect(Array.from(decodeSendEscapes('😀'))).toEqual([0xf0, 0x9f, 0x98, 0x80]);
    for (const bad of ['\\q', '\\x1', '\\xZZ', 'end\\']) expect(() => decodeSendEscapes(bad)).toThrow(/--send/);
  });

  it('/REGEX/FLAGS is an expression, anything else text; a bad expression is refused', () => {
    expect(parseExpectPattern('grub>')).toBe('grub>');
    expect(parseExpectPattern('/bin/sh')).toBe('/bin/sh');
    expect(parseExpectPattern('/')).toBe('/');
    const re = parseExpectPattern('/^login: $/mi');
    expect(re).toBeInstanceOf(RegExp);
    expect(String(re)).toBe('/^login: $/im');
    expect(() => parseExpectPattern('/a(/')).toThrow(/--expect \/a\(\/: not a regular expression/);
  });
});
