/**
 * Reading a guest's TAP (conformance/tap.ts): results, directives, the comment lines after a
 * failure as its detail, boot chatter ignored, and a stream that is itself wrong reported.
 */
import { describe, expect, it } from 'vitest';
import { parseGuestTap } from '../../conformance/tap.js';

describe('guest TAP', () => {
  it('reads results, directives and failure details, ignoring boot messages', () => {
    const t = parseGuestTap(
      [
        'xenlab probe: booting',
        '1..4',
        'ok 1 - version is 4.17',
        'not ok 2 - upcall delivered',
        '# got 0',
        '# expected 1',
        'ok 3 - grant v2 # SKIP not offered',
        'not ok 4 - FIFO events # TODO later',
        'random line',
        '',
      ].join('\n'),
    );
    expect(t.problems).toEqual([]);
    expect(t.plan).toEqual({ start: 1, end: 4 });
    expect(t.tests.map((x) => [x.id, x.status])).toEqual([[1, 'pass'], [2, 'fail'], [3, 'skip'], [4, 'todo']]);
    expect(t.tests[1]!.detail).toBe('got 0\nexpected 1');
    expect(t.tests[2]!.detail).toBe('not offered');
    expect(t.tests[0]!.name).toBe('version is 4.17');
  });

  it('reports a missing plan, a short run, a bail out and bad numbering', () => {
    expect(parseGuestTap('ok 1 - a\n').problems).toEqual(['the guest printed no plan line (1..N)']);
    expect(parseGuestTap('booting\nhalted\n').problems).toEqual(['the guest printed no TAP (no plan, no tests)']);
    expect(parseGuestTap('1..3\nok 1 - a\nok 2 - b\n').problems).toEqual(['the plan says 3 tests, the guest ran 2']);
    const b = parseGuestTap('1..3\nok 1 - a\nBail out! no grant table\n');
    expect(b.bailout).toBe('no grant table');
    expect(b.problems).toEqual(['the guest bailed out: no grant table']);
    expect(parseGuestTap('1..2\nok 1 - a\nok 3 - b\n').problems).toContain('test 2 is numbered 3');
  });
});
