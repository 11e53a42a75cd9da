/**
 * The long-mode test kernel (fixtures/x86/images/lm64.elf) on the bare machine: every TAP line
 * must be `ok`, the plan must match, and the kernel must exit through isa-debug-exit with 0
 * (status 1). Also what depends on long mode and the APIC: the HLT time skip and determinism.
 *
 * PENDING: named `.pending-test.ts` so the default run (test/**\/*.test.ts) does not pick it up
 * until the system-level CPU work lands (two CPU problems block it today, see the report in
 * docs/bare-machine.md, "Status"). Enable it with
 *   git mv test/harness/bare-kernels.pending-test.ts test/harness/bare-kernels.test.ts
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBareMachine } from '../../harness/bare/machine.js';
import { ROOT } from '../support/cli.js';

const LM64 = join(ROOT, 'fixtures/x86/images/lm64.elf');

interface Tap {
  plan: number | undefined;
  ok: string[];
  notOk: string[];
  bail: string | undefined;
}

function parseTap(output: string): Tap {
  const tap: Tap = { plan: undefined, ok: [], notOk: [], bail: undefined };
  for (const line of output.split('\n')) {
    const plan = /^1\.\.(\d+)$/.exec(line);
    if (plan !== null) tap.plan = Number(plan[1]);
    else if (line.startsWith('ok ')) tap.ok.push(line);
    else if (line.startsWith('not ok ')) tap.notOk.push(line);
    else if (line.startsWith('Bail out!')) tap.bail = line;
  }
  return tap;
}

describe('lm64 on the bare machine', () => {
  it('passes every check and exits with status 1', () => {
    const r = runBareMachine({ image: LM64, maxInsns: 200_000_000 });
    const tap = parseTap(r.output);
    expect(tap.bail).toBeUndefined();
    expect(tap.notOk).toEqual([]);
    expect(tap.plan).toBe(tap.ok.length);
    expect(tap.ok.length).toBeGreaterThanOrEqual(160);
    expect(r.reason).toBe('debug-exit');
    expect(r.exitCode).toBe(1);
    // HLT waiting for the APIC timer skipped the clock forward: the TSC ran ahead of the instructions.
    expect(r.tsc).toBeGreaterThan(r.retired);
  });

  it('passes with every block interpreted too, retiring the same instructions', () => {
    const a = runBareMachine({ image: LM64, maxInsns: 200_000_000 });
    const b = runBareMachine({ image: LM64, maxInsns: 200_000_000, jit: false });
    expect(parseTap(b.output).notOk).toEqual([]);
    expect([b.output, b.retired, b.tsc, b.exitCode]).toEqual([a.output, a.retired, a.tsc, a.exitCode]);
  });
});
