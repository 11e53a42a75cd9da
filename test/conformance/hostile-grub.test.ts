/**
 * Hostile block backends against GRUB (docs/conformance.md "Hostile backends"): each fault kind
 * once on its own, a seeded sample of generated plans (fast-check, seeded by the run's seed,
 * which the global setup prints), a deliberately broken backend (read data corrupted, answered
 * OKAY) caught, shrunk and replayed from its seed and path, and the CLI's record.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { BUILTIN_PROFILES } from '../../conformance/profile.js';
import { blkFaultArbitrary } from '../../conformance/hostile/arbitraries.js';
import { bootWithPlan, parseReplay, runHostile } from '../../conformance/hostile/property.js';
import type { BlkFault, HostilePlan } from '../../harness/hostile/plan.js';
import type { RunRecord } from '../../harness/record.js';
import { ROOT, runCli } from '../support/cli.js';
import { scratchDir } from '../support/tmp.js';

const grub = BUILTIN_PROFILES.find((p) => p.name === 'grub')!;
const o = { profile: grub, root: ROOT, version: 'test' };
/** A GRUB boot is ~2 s alone; a loaded machine makes it ten times that. */
const BOOT_MS = 120_000;

/** A broken backend: from request `from` on, every READ's data is inverted and answered OKAY. */
const corruptFrom = (from: number): BlkFault[] => Array.from({ length: 200 }, (_, i) => ({ kind: 'corrupt' as const, req: from + i }));

describe('hostile block backends: GRUB', () => {
  it.each<[string, HostilePlan]>([
    ['delay', { blk: { faults: [{ kind: 'delay', req: 3, ns: 5_000_000 }] } }],
    ['batch', { blk: { faults: [{ kind: 'batch', req: 2, count: 3, ns: 2_000_000 }] } }],
    ['reorder', { blk: { faults: [{ kind: 'reorder', req: 4, count: 2, ns: 2_000_000 }] } }],
    ['error', { blk: { faults: [{ kind: 'error', req: 5, status: 'error' }] } }],
    ['eopnotsupp', { blk: { faults: [{ kind: 'error', req: 0, status: 'eopnotsupp' }] } }],
    ['grant-map-fail', { blk: { faults: [{ kind: 'grant-map-fail', req: 6, seg: 0 }] } }],
    ['duplicate', { blk: { faults: [{ kind: 'duplicate', req: 7 }] } }],
    ['unknown-id', { blk: { faults: [{ kind: 'unknown-id', req: 8 }] } }],
    ['flip', { blk: { faults: [], xenbus: [{ kind: 'flip', at: 0, ns: 3_000_000 }] } }],
    ['slow-connect', { blk: { faults: [], xenbus: [{ kind: 'slow-connect', at: 0, ns: 20_000_000 }] } }],
  ])('%s: the fault fires and GRUB survives it', async (_kind, plan) => {
    const out = await bootWithPlan(o, plan);
    expect(out.violations).toEqual([]);
    expect(out.faults.length).toBeGreaterThan(0);
  }, BOOT_MS);

  it('a seeded sample of generated plans: GRUB survives each', async () => {
    const seed = inject('seed');
    const seen: string[] = [];
    const r = await runHostile({ ...o, areas: ['blk'], runs: 4, seed, onRun: (e) => seen.push(e.end) });
    expect(r.detail, `seed ${seed}`).toMatch(/the guest survived each/);
    expect(r.ok).toBe(true);
    expect(seen).toHaveLength(4);
    expect(r.name).toBe('hostile.blk');
  }, 8 * BOOT_MS);

  it('a broken backend (read data corrupted, answered OKAY) is caught, shrunk, and replays from its seed and path', async () => {
    const seed = inject('seed');
    const arbitrary = fc
      .record({ from: fc.integer({ min: 0, max: 30 }), timing: fc.array(blkFaultArbitrary({ errors: false, maxIndex: 10, maxDelayNs: 1_000_000 }), { maxLength: 1 }) })
      .map(({ from, timing }): HostilePlan => ({ blk: { faults: [...timing, ...corruptFrom(from)] } }));
    const r = await runHostile({ ...o, areas: ['blk'], runs: 3, seed, arbitrary });
    expect(r.ok).toBe(false);
    const ce = r.counterexample!;
    // Shrunk: no timing fault is needed to break GRUB, and the corruption starts at the first request.
    expect(ce.plan.blk!.faults.filter((f) => f.kind !== 'corrupt')).toEqual([]);
    expect(ce.plan.blk!.faults[0]).toEqual({ kind: 'corrupt', req: 0 });
    expect(ce.violations.some((v) => v.startsWith('test failed:'))).toBe(true);
    expect(ce.command).toBe(`xenlab conformance --guest grub --hostile blk --replay ${ce.seed}:${ce.path}`);
    expect(parseReplay(ce.command.split(' ').at(-1)!)).toEqual({ seed: ce.seed, path: ce.path });
    // The replay boots exactly that plan once and fails the same way.
    const plans: HostilePlan[] = [];
    const again = await runHostile({ ...o, areas: ['blk'], runs: 100, seed: 0, arbitrary, replay: { seed: ce.seed, path: ce.path }, onRun: (e) => plans.push(e.plan) });
    expect(plans).toEqual([ce.plan]);
    expect(again.ok).toBe(false);
    expect(again.counterexample?.violations).toEqual(ce.violations);
  }, 30 * BOOT_MS);

  it('xenlab conformance --hostile blk writes one hostile.blk test per guest and the seed into the record', async () => {
    const out = join(scratchDir('hostile-grub'), 'out');
    const r = await runCli(['conformance', '--guest', 'grub', '--hostile', 'blk', '--runs', '1', '--seed', '7', '--out', out, '--format', 'json']);
    expect(r.stderr).toContain('xenlab: hostile backends, seed 7');
    expect(r.stderr).toMatch(/grub hostile\.blk boot 1: ok \(poweroff\) \{"blk":/);
    expect(r.status).toBe(0);
    const rec = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as RunRecord;
    expect(rec.seed).toBe(7);
    expect(rec.guests.map((g) => g.tests.map((t) => [t.name.split(':')[0], t.status]))).toEqual([[['hostile.blk', 'pass']]]);
    // A pass says which of the plan's faults fired (a plan keyed past what GRUB did fires none).
    expect(rec.guests[0]!.tests[0]!.detail).toMatch(/the guest survived each; (fired in the last boot:\n\S|no fault fired in the last boot$)/);
    // --replay SEED:PATH boots exactly the plan of that seed and path, once, and prints it: path 0 is the first plan drawn.
    const first = /grub hostile\.blk boot 1: ok \(poweroff\) (\{.*\})/.exec(r.stderr)![1];
    const again = await runCli(['conformance', '--guest', 'grub', '--hostile', 'blk', '--replay', '7:0', '--out', join(out, 'replay'), '--format', 'json']);
    expect(again.status).toBe(0);
    expect(again.stderr).toContain(`replayed plan: ${first}`);
    expect(again.stderr.match(/ boot \d+:/g)).toHaveLength(1);
    const bad = await runCli(['conformance', '--guest', 'grub', '--hostile', 'blk', '--replay', 'nonsense']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--replay nonsense: expected SEED:PATH');
  }, 4 * BOOT_MS);
});
