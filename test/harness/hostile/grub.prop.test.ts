/**
 * Hostile xenstored and console together over Debian's GRUB for Xen (harness/hostile/): GRUB
 * finds its disk through XenStore and answers its console script under random XenStore and
 * console plans, and must print, step by step, the console of the unfaulted run (its transfer
 * rates aside: they measure guest time). Chunks are at least 16 console / 8 XenStore bytes here:
 * GRUB redraws whole screens, and a byte at a time takes minutes of host time. Through
 * bootGuest's `hostile` plan (the same path as `xenlab conformance --hostile`).
 *
 * Seeded by the run's seed (printed at the start; XENLAB_SEED repeats it).
 */
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_PROFILES } from '../../../conformance/profile.js';
import { bootGuest } from '../../../harness/boot/boot.js';
import { consoleFaultsArbitrary, type ConsoleFaults } from '../../../harness/hostile/console.js';
import { xenstoreFaultsArbitrary, type XenStoreFaults } from '../../../harness/hostile/xenstore.js';
import { loadXlConfig } from '../../../harness/toolstack/xl-cfg.js';
import { consoleViolations, type Observed } from './oracle.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RUNS = Number(process.env.XENLAB_HOSTILE_RUNS ?? 2);
/** GRUB prints how fast it read a file (guest time): "[ grub.cfg  292B  100%  2.85KiB/s ]". */
const RATES = [/\d+(\.\d+)?[KMG]?i?B\/s/g];

const GRUB = BUILTIN_PROFILES.find((p) => p.name === 'grub');

describe('hostile xenstored and console: GRUB finds its disk and answers its script', () => {
  let overrides: readonly string[] = [];
  let baseline: Observed;
  const boot = async (plan: { console?: ConsoleFaults; xenstore?: XenStoreFaults } | undefined): Promise<Observed & { faults: string[] }> => {
    if (GRUB === undefined) throw new Error('no grub profile');
    const faults: string[] = [];
    const r = await bootGuest({
      config: loadXlConfig(`${ROOT}${GRUB.config}`, [...(GRUB.overrides ?? []), ...overrides]),
      timeoutSeconds: GRUB.timeoutSeconds,
      script: GRUB.checks ?? [],
      ...(plan !== undefined ? { hostile: plan } : {}),
      onEnded: (w) => faults.push(...(w.hostile?.log ?? [])),
    });
    return { end: r.end, console: r.console, faults };
  };
  beforeAll(async () => {
    overrides = (await GRUB?.prepare?.()) ?? [];
    baseline = await boot(undefined);
    expect(baseline.end).toBe('poweroff');
  });

  it('the same console, step by step, under XenStore and console faults', async () => {
    await fc.assert(
      fc.asyncProperty(xenstoreFaultsArbitrary({ minChunk: 8 }), consoleFaultsArbitrary({ minChunk: 16 }), async (xenstore, console) => {
        const run = await boot({ xenstore, console });
        const v = consoleViolations(run, baseline, { tap: false, timingText: RATES });
        if (v.length > 0) throw new Error([...v, ...run.faults.map((f) => `fault: ${f}`)].join('\n'));
      }),
      { numRuns: RUNS },
    );
  });
});
