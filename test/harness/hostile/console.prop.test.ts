/**
 * Hostile console backend, property-tested over a real guest (harness/hostile/console.ts):
 * probe-console in `tap` mode answered by its conformance console script (lines, one three times
 * the in ring's size, CR, two lines at once) boots under random console fault plans — short
 * reads and writes, delayed drains and feeds, spurious notifications — and must end as without
 * faults, with its TAP whole and passing and its console log the unfaulted one (every byte once,
 * in order). A deliberately broken backend (random plans plus one `drop-byte`) must be caught,
 * and fast-check must shrink the counterexample to that single fault.
 *
 * Seeded by the run's seed (printed at the start; XENLAB_SEED repeats it); a failure prints the
 * seed and shrink path of the smallest plan.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_PROFILES } from '../../../conformance/profile.js';
import { REASONS } from '../../../harness/boot/boot.js';
import { consoleFaultsArbitrary, type ConsoleFault, type ConsoleFaults } from '../../../harness/hostile/console.js';
import { startProbe } from '../../support/probe-session.js';
import { consoleViolations, type Observed } from './oracle.js';

const PROFILE = BUILTIN_PROFILES.find((p) => p.name === 'probe-console');
/** probe-console's count of SCHEDOP_poll waits depends on when input arrives. */
const TIMING = [/^# SCHEDOP_poll waits: \d+$/];

async function boot(plan: ConsoleFaults | undefined): Promise<Observed & { faults: readonly string[]; notifications: number }> {
  if (PROFILE?.script === undefined) throw new Error('no probe-console profile with a script');
  const s = await startProbe('probe-console', { extra: 'tap', script: PROFILE.script, ...(plan !== undefined ? { hostile: { console: plan } } : {}) });
  const r = s.run({ untilNs: PROFILE.timeoutSeconds * 1e9, maxInstructions: 400_000_000 });
  const st = s.domain.state;
  const end = st.kind === 'shutdown' ? (REASONS[st.reason]?.end ?? `reason ${st.reason}`) : st.kind === 'running' ? r.reason : st.kind;
  return { end, console: s.console(), faults: s.faultLog, notifications: s.consoleNotifications() };
}

describe('hostile console: probe-console under console fault plans', () => {
  let baseline: Observed & { notifications: number };
  beforeAll(async () => {
    baseline = await boot(undefined);
    expect(baseline.end).toBe('poweroff');
    expect(consoleViolations(baseline, baseline, { timingLines: TIMING })).toEqual([]);
  });

  it('every byte reaches the log once and in order, input arrives whole, the TAP passes', async () => {
    await fc.assert(
      fc.asyncProperty(consoleFaultsArbitrary(), async (plan) => {
        const run = await boot(plan);
        const v = consoleViolations(run, baseline, { timingLines: TIMING });
        if (v.length > 0) throw new Error([...v, ...run.faults.map((f) => `fault: ${f}`)].join('\n'));
      }),
      { numRuns: Number(process.env.XENLAB_HOSTILE_RUNS ?? 5) },
    );
  });

  it('short reads and writes of one byte throughout, with a retry of 1 µs: the guest still gets and gives everything', async () => {
    const run = await boot({ faults: [], readChunk: 1, writeChunk: 1, retryNs: 1000 });
    expect(consoleViolations(run, baseline, { timingLines: TIMING })).toEqual([]);
    // The faults were there: the guest took its 3000-byte line (and the rest) a byte at a time, notifying after each.
    expect(run.notifications - baseline.notifications).toBeGreaterThan(2900);
  });

  it('a backend that drops one byte is caught, and the counterexample shrinks to that single fault', async () => {
    // Random plans, each with one drop-byte added: the oracle must fail every one of them.
    const broken = fc
      .tuple(consoleFaultsArbitrary({ maxAt: 16 }), fc.nat({ max: 8 }))
      .map(([p, at]): ConsoleFaults => ({ ...p, faults: [...p.faults, { kind: 'drop-byte', at }] }));
    let boots = 0;
    const details = await fc.check(
      fc.asyncProperty(broken, async (plan) => {
        boots++;
        const v = consoleViolations(await boot(plan), baseline, { timingLines: TIMING });
        if (v.length > 0) throw new Error(v.join('\n'));
      }),
      { numRuns: 3 },
    );
    expect(details.failed).toBe(true);
    const ce = details.counterexample?.[0] as ConsoleFaults | undefined;
    const only: ConsoleFault = { kind: 'drop-byte', at: 0 };
    expect(ce).toEqual({ faults: [only] });
    expect(boots).toBeGreaterThan(1);
    const caught = consoleViolations(await boot(ce), baseline, { timingLines: TIMING });
    expect(caught.join('\n')).toMatch(/console line \d+ differs from the unfaulted run/);
  });
});
