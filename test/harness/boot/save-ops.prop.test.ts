/**
 * Suspend/resume, save/restore and live migration at random points of probe-suspend's run
 * (fast-check, seeded by the run's seed, which the global setup prints; a failure is shrunk to the
 * smallest schedule that still breaks and printed): a schedule of one to three operations at
 * random guest times — a cancelled suspend (`xl save -c`), a save restored as a new domain, a
 * live migration to a new domain — over a random work-buffer size and period. After the run:
 * every operation succeeded, every TAP point of the guest is ok (its memory was intact after each
 * resume, its counter kept advancing, it reconnected to XenStore each time), it powered off by
 * itself after the last one, and nothing leaked: the final domain has only its XenStore and
 * console event channels bound, and the host's XenStore has no directory of an old domain.
 *
 * A few runs by default; XENLAB_PROP_RUNS=N (npm run prop:migrate -- --runs N) runs more.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseGuestTap } from '../../../conformance/tap.js';
import { bootDomains, type SaveOperation } from '../../../harness/boot/domains.js';
import { loadXlConfig } from '../../../harness/toolstack/xl-cfg.js';
import { PROBE_CONFIGS } from '../../support/probe-session.js';

const RUNS = Number(process.env.XENLAB_PROP_RUNS ?? 3);
const EVTCHNSTAT_closed = 0;

describe('suspend, save/restore and migration at random points (property)', () => {
  it('every operation succeeds, the guest continues its work intact, nothing leaks', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          dirty: fc.integer({ min: 1, max: 200 }),
          periodUs: fc.integer({ min: 50, max: 2000 }),
          // From 1 ms: before its start-up the guest has published no p2m, and a migration then is
          // refused (save-ops.test.ts has that case).
          ops: fc.array(fc.record({ atUs: fc.integer({ min: 1000, max: 20_000 }), then: fc.constantFrom('cancel', 'restore', 'migrate' as const) }), { minLength: 1, maxLength: 3 }),
        }),
        async (p) => {
          const ops = [...p.ops].sort((a, b) => a.atUs - b.atUs);
          const cfg = loadXlConfig(`${PROBE_CONFIGS}probe-suspend.cfg`, [`extra="dirty=${p.dirty} period=${p.periodUs} suspends=${ops.length}"`]);
          const saves: SaveOperation[] = ops.map((o) => ({ index: 0, atNs: o.atUs * 1000, then: o.then }));
          const r = await bootDomains({ configs: [cfg], saves, timeoutSeconds: 30 });
          const d = r.domains[0]!;
          expect(d.saves.map((s) => [s.then, s.error])).toEqual(ops.map((o) => [o.then, undefined]));
          expect(d.saves.filter((s) => s.migration !== undefined).map((s) => s.migration!.logDirtyMisses)).toEqual(ops.filter((o) => o.then === 'migrate').map(() => 0));
          const tap = parseGuestTap(d.console);
          expect(tap.tests.filter((t) => t.status !== 'pass').map((t) => t.name)).toEqual([]);
          expect(tap.problems).toEqual([]);
          expect(d.end).toBe('poweroff');
          const moved = ops.filter((o) => o.then !== 'cancel').length;
          expect(d.domid).toBe(1 + moved);
          expect([...d.console.matchAll(/ok \d+ - resumed in a new domain/g)]).toHaveLength(moved);
          expect([...d.console.matchAll(/ok \d+ - suspend cancelled: resumed in the same domain/g)]).toHaveLength(ops.length - moved);
          // No leak: only the XenStore and console channels; no old domain left in XenStore.
          const ec = d.domain.evtchn!;
          const bound = Array.from({ length: 64 }, (_, k) => ec.status(k + 1)).filter((s) => typeof s !== 'number' && s.status !== EVTCHNSTAT_closed);
          expect(bound.length).toBeLessThanOrEqual(2);
          expect(r.xenstore.host.directory('/local/domain')).toEqual(['0', String(d.domid)]);
        },
      ),
      { numRuns: RUNS },
    );
  }, 600_000);
});
