/**
 * fast-check arbitraries of hostile-backend plans (harness/hostile/plan.ts). A plan holds a few
 * faults per area, each keyed by a request, packet or connection number in the range a guest
 * reaches early (GRUB reads its disk in a few dozen requests; Linux's partition scan and mount
 * come first too), with delays in guest nanoseconds small enough for the guest's time bound.
 * Shrinking goes towards fewer faults, earlier numbers and shorter delays.
 */
import fc from 'fast-check';
import { consoleFaultsArbitrary } from '../../harness/hostile/console.js';
import type { BlkFault, BlkPlan, ConsolePlan, HostileArea, HostilePlan, NetFault, NetPlan, XenbusFault, XenStorePlan } from '../../harness/hostile/plan.js';
import { xenstoreFaultsArbitrary } from '../../harness/hostile/xenstore.js';

export interface PlanShape {
  /** Include faults after which the guest may see I/O errors (plan.ts ERROR_CLASS); default true. */
  readonly errors?: boolean;
  /** Highest request/packet number a fault is keyed by (default 40). */
  readonly maxIndex?: number;
  /** Most faults per area (default 3). */
  readonly maxFaults?: number;
  /** Longest delay in guest ns (default 20 ms). */
  readonly maxDelayNs?: number;
  /**
   * Include xenbus flips (the backend goes Closing before it connects; default true). Linux's
   * netfront, once it closed, waits for a backend in InitWait only from Initialising, so a flip
   * leaves eth0 without a backend: the guest survives, its network checks do not.
   */
  readonly flips?: boolean;
}

const ns = (max: number): fc.Arbitrary<number> => fc.integer({ min: 1000, max });

export function xenbusFaultArbitrary(s: PlanShape = {}): fc.Arbitrary<XenbusFault> {
  const max = s.maxDelayNs ?? 20_000_000;
  const slow = fc.record({ kind: fc.constant('slow-connect' as const), at: fc.integer({ min: 0, max: 1 }), ns: ns(max) });
  if (s.flips === false) return slow;
  return fc.oneof(fc.record({ kind: fc.constant('flip' as const), at: fc.integer({ min: 0, max: 1 }), ns: ns(max) }), slow);
}

export function blkFaultArbitrary(s: PlanShape = {}): fc.Arbitrary<BlkFault> {
  const req = fc.integer({ min: 0, max: s.maxIndex ?? 40 });
  const d = ns(s.maxDelayNs ?? 20_000_000);
  const count = fc.integer({ min: 2, max: 4 });
  const timing: fc.Arbitrary<BlkFault>[] = [
    fc.record({ kind: fc.constant('delay' as const), req, ns: d }),
    fc.record({ kind: fc.constant('batch' as const), req, count, ns: d }),
    fc.record({ kind: fc.constant('reorder' as const), req, count, ns: d }),
  ];
  const errors: fc.Arbitrary<BlkFault>[] = [
    fc.record({ kind: fc.constant('error' as const), req, status: fc.constantFrom('error' as const, 'eopnotsupp' as const) }),
    fc.record({ kind: fc.constant('grant-map-fail' as const), req, seg: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ kind: fc.constant('duplicate' as const), req }),
    fc.record({ kind: fc.constant('unknown-id' as const), req }),
  ];
  return fc.oneof(...timing, ...(s.errors === false ? [] : errors));
}

export function netFaultArbitrary(s: PlanShape = {}): fc.Arbitrary<NetFault> {
  const req = fc.integer({ min: 0, max: s.maxIndex ?? 40 });
  const d = ns(s.maxDelayNs ?? 20_000_000);
  const count = fc.integer({ min: 2, max: 4 });
  const timing: fc.Arbitrary<NetFault>[] = [
    fc.record({ kind: fc.constant('tx-delay' as const), req, ns: d }),
    fc.record({ kind: fc.constant('tx-batch' as const), req, count, ns: d }),
    fc.record({ kind: fc.constant('tx-reorder' as const), req, count, ns: d }),
    fc.record({ kind: fc.constant('rx-delay' as const), pkt: req, ns: d }),
    fc.record({ kind: fc.constant('rx-duplicate' as const), pkt: req }),
  ];
  const errors: fc.Arbitrary<NetFault>[] = [
    fc.record({ kind: fc.constant('tx-status' as const), req, status: fc.constantFrom('error' as const, 'dropped' as const) }),
    fc.record({ kind: fc.constant('rx-error' as const), pkt: req }),
    fc.record({ kind: fc.constant('rx-copy-fail' as const), pkt: req }),
  ];
  return fc.oneof(...timing, ...(s.errors === false ? [] : errors));
}

function withXenbus<T extends { faults: readonly unknown[] }>(faults: fc.Arbitrary<T['faults'][number]>, s: PlanShape): fc.Arbitrary<{ faults: T['faults']; xenbus?: readonly XenbusFault[] }> {
  const max = s.maxFaults ?? 3;
  return fc.record(
    { faults: fc.array(faults, { minLength: 1, maxLength: max }), xenbus: fc.array(xenbusFaultArbitrary(s), { maxLength: 1 }) },
    { requiredKeys: ['faults'] },
  );
}

export function blkPlanArbitrary(s: PlanShape = {}): fc.Arbitrary<BlkPlan> {
  return withXenbus<BlkPlan>(blkFaultArbitrary(s), s) as fc.Arbitrary<BlkPlan>;
}

export function netPlanArbitrary(s: PlanShape = {}): fc.Arbitrary<NetPlan> {
  return withXenbus<NetPlan>(netFaultArbitrary(s), s) as fc.Arbitrary<NetPlan>;
}

/** Plans over `areas` (console and XenStore from their owners' arbitraries, harness/hostile/console.ts and xenstore.ts). */
export function planArbitrary(areas: readonly HostileArea[], s: PlanShape = {}): fc.Arbitrary<HostilePlan> {
  const parts: { blk?: fc.Arbitrary<BlkPlan>; net?: fc.Arbitrary<NetPlan>; console?: fc.Arbitrary<ConsolePlan>; xenstore?: fc.Arbitrary<XenStorePlan> } = {};
  if (areas.includes('blk')) parts.blk = blkPlanArbitrary(s);
  if (areas.includes('net')) parts.net = netPlanArbitrary(s);
  if (areas.includes('console')) parts.console = consoleFaultsArbitrary();
  if (areas.includes('xenstore')) parts.xenstore = xenstoreFaultsArbitrary();
  return fc.record(parts) as fc.Arbitrary<HostilePlan>;
}
