/**
 * Hostile block and network backends against Debian's Linux (docs/conformance.md "Hostile
 * backends"): ONE seeded boot of the conformance run's Linux profile under a generated blk+net
 * plan without error-class faults (delayed, batched and reordered responses, late and duplicated
 * rx packets, backend state flips and slow connects). xen-blkfront and xen-netfront must carry
 * the guest through all of its TAP checks (ext4 on xvda with known.txt's sha256, a written and
 * synced file, DHCP and ping), the domain must power off within the profile's guest-time bound,
 * no panic/Oops/BUG on the console, nothing left mapped, and written.txt on the disk the backend
 * wrote must be what the guest wrote.
 *
 * A Linux boot costs 1-2 minutes here: keep it to this one.
 */
import { describe, expect, inject, it } from 'vitest';
import { BUILTIN_PROFILES } from '../../conformance/profile.js';
import { formatPlan } from '../../harness/hostile/plan.js';
import { runHostile } from '../../conformance/hostile/property.js';
import { ROOT } from '../support/cli.js';

describe('hostile backends: Linux blkfront and netfront', () => {
  it('one seeded blk+net plan: every TAP check passes, nothing leaks, the written file reached the disk', async () => {
    const linux = BUILTIN_PROFILES.find((p) => p.name === 'linux')!;
    const seed = inject('seed');
    const plans: string[] = [];
    const r = await runHostile({
      profile: linux,
      root: ROOT,
      version: 'test',
      areas: ['blk', 'net'],
      runs: 1,
      seed,
      // Faults early enough to hit the partition scan, the mount, the write and the DHCP exchange.
      // Flips are GRUB's (hostile-grub.test.ts): Linux's netfront does not reconnect from Closed.
      shape: { errors: false, flips: false, maxIndex: 30, maxDelayNs: 5_000_000 },
      // A failure is reported as drawn: shrinking would cost a Linux boot per step.
      shrink: false,
      onRun: (e) => plans.push(formatPlan(e.plan)),
    });
    expect(plans).toHaveLength(1);
    // The plan and what of it fired, for the CI log.
    console.log(`hostile plan (seed ${seed}): ${plans[0]}\n${(r.lastFaults ?? []).join('\n')}`);
    expect(r.lastFaults?.length ?? 0, `seed ${seed}, plan ${plans[0]}: no fault fired`).toBeGreaterThan(0);
    expect(r.detail, `seed ${seed}, plan ${plans[0]}`).toMatch(/the guest survived each/);
    expect(r.ok).toBe(true);
    const g = r.last!;
    expect(g.end).toBe('poweroff');
    expect(g.tests.filter((t) => t.source === 'guest').length).toBeGreaterThanOrEqual(13);
  }, 900_000);
});
