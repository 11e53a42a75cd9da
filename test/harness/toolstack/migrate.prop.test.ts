/**
 * Live migration at random points of probe-suspend's run (fast-check, seeded by the run's seed,
 * which the global setup prints; fast-check prints the shrunk schedule of a failure): a random
 * start time, work-buffer size (dirty=), work period (period=) and link bandwidth. After each
 * migration the guest's memory at the stop equals the destination's page by page, log-dirty
 * missed nothing, the source left nothing behind, and the guest resumes and works on to its end
 * with every TAP point ok.
 *
 * A few runs by default (each is a whole migration and a guest run); XENLAB_PROP_RUNS=N runs more.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { migrateProbe, runToEnd } from '../../support/migration.js';

const RUNS = Number(process.env.XENLAB_PROP_RUNS ?? 3);

describe('live migration at random points (property)', () => {
  it('memory identical at the stop, nothing missed, the guest continues', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          startUs: fc.integer({ min: 300, max: 30_000 }),
          dirty: fc.integer({ min: 1, max: 400 }),
          periodUs: fc.integer({ min: 50, max: 3000 }),
          mbit: fc.integer({ min: 400, max: 10_000 }),
        }),
        async (p) => {
          const m = await migrateProbe(`dirty=${p.dirty} period=${p.periodUs} suspends=1`, { startNs: p.startUs * 1000, bandwidth: p.mbit * 1e6, maxRounds: 6 });
          expect(m.report.logDirtyMisses).toBe(0);
          expect(m.mismatched).toEqual([]);
          expect(m.compared).toBeGreaterThan(4000);
          const end = runToEnd(m);
          expect(end.failed).toEqual([]);
          expect(end.text).toContain('resumed in a new domain');
        },
      ),
      { numRuns: RUNS },
    );
  });
});
