/**
 * The hostile-backend property of one guest: `fc.asyncProperty(plan arbitrary, plan => boot the
 * profile's guest with the plan → the oracle passes)` (oracle.ts), seeded; a failure is shrunk
 * by fast-check to the smallest plan that still breaks the guest and comes back as a replayable
 * counterexample: its seed and shrink path and the command `xenlab conformance --guest NAME
 * --hostile AREAS --replay SEED:PATH` that boots exactly that plan again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { BootWorld } from '../../harness/boot/boot.js';
import { formatPlan, type HostileArea, type HostilePlan } from '../../harness/hostile/plan.js';
import type { Counterexample, GuestRecord } from '../../harness/record.js';
import type { GuestProfile } from '../profile.js';
import { runOne } from '../run.js';
import { planArbitrary, type PlanShape } from './arbitraries.js';
import { judge, leaksOf } from './oracle.js';

export interface HostileOptions {
  readonly profile: GuestProfile;
  /** Directory the profile's config is resolved against, and the version for the record. */
  readonly root: string;
  readonly version: string;
  readonly areas: readonly HostileArea[];
  /** Plans to try (fast-check's numRuns). */
  readonly runs: number;
  readonly seed: number;
  /** Boot exactly this counterexample (fast-check's seed and shrink path), once. */
  readonly replay?: { readonly seed: number; readonly path: string };
  readonly shape?: PlanShape;
  /** Shrink a failure (default true); false keeps the first failing plan (for guests whose boots cost minutes). */
  readonly shrink?: boolean;
  /** The plans to draw from (default `planArbitrary(areas, shape)`); tests give a broken one. */
  readonly arbitrary?: fc.Arbitrary<HostilePlan>;
  /** After every boot (progress). */
  readonly onRun?: (e: { readonly index: number; readonly plan: HostilePlan; readonly violations: readonly string[]; readonly end: string }) => void;
}

export interface HostileCounterexample extends Counterexample {
  readonly plan: HostilePlan;
  readonly violations: readonly string[];
  /** The faults as they fired in the counterexample's boot. */
  readonly faults: readonly string[];
}

export interface HostileResult {
  /** The test's name: `hostile.blk`, `hostile.blk+net`. */
  readonly name: string;
  readonly ok: boolean;
  /** Boots made (plans tried and shrink steps). */
  readonly boots: number;
  readonly seed: number;
  readonly counterexample?: HostileCounterexample;
  /** The record of the counterexample's boot, or of the last boot when all passed. */
  readonly last?: GuestRecord;
  /** The faults as they fired in that boot (a plan keyed past what the guest did fires none). */
  readonly lastFaults?: readonly string[];
  /** One line: what ran, or the failure. */
  readonly detail: string;
}

/** `SEED:PATH` of `--replay` (the path may be empty: the first generated plan). */
export function parseReplay(s: string): { seed: number; path: string } | undefined {
  const m = /^(-?\d+):([\d:]*)$/.exec(s.trim());
  if (m === null) return undefined;
  const seed = Number(m[1]);
  return Number.isSafeInteger(seed) ? { seed, path: m[2] ?? '' } : undefined;
}

export function replayCommand(profile: string, areas: readonly HostileArea[], seed: number, path: string): string {
  return `xenlab conformance --guest ${profile} --hostile ${areas.join(',')} --replay ${seed}:${path}`;
}

/**
 * Data end to end on the disk the backend wrote, after the run: the files the guest wrote, once
 * it reported them written, synced and unmounted (its TAP tests), and the files it read, always.
 */
interface DiskData {
  readonly vdev: string;
  /** TAP tests that must have passed before `written` is owed. */
  readonly acked: readonly string[];
  readonly written: Readonly<Record<string, string>>;
  readonly unchanged: Readonly<Record<string, string>>;
}

async function diskData(p: GuestProfile): Promise<DiskData | undefined> {
  if (p.name !== 'linux') return undefined;
  const { LINUX_DISK_KNOWN, LINUX_DISK_WRITTEN } = await import('../../fixtures/pipeline/linux-guest.js');
  return {
    vdev: 'xvda',
    acked: ['written.txt written and synced', 'umount /dev/xvda'],
    written: { '/written.txt': LINUX_DISK_WRITTEN },
    unchanged: { '/known.txt': LINUX_DISK_KNOWN },
  };
}

async function checkDisk(d: DiskData, dir: string, g: GuestRecord): Promise<string[]> {
  const { readDiskFile } = await import('../../fixtures/pipeline/disk-image.js');
  const img = join(dir, `${d.vdev}.img`);
  const acked = d.acked.every((name) => g.tests.some((t) => t.status === 'pass' && t.name.includes(name)));
  const want = { ...d.unchanged, ...(acked ? d.written : {}) };
  const out: string[] = [];
  for (const [file, text] of Object.entries(want)) {
    let got: string;
    try {
      got = (await readDiskFile(img, file)).toString();
    } catch (e) {
      out.push(`data: ${file} cannot be read from the disk the backend wrote: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    if (got !== text) out.push(`data: ${file} on the disk the backend wrote is not what the guest ${file in d.written ? 'wrote' : 'read'} (${got.length} bytes, expected ${text.length})`);
  }
  return out;
}

interface Outcome {
  readonly violations: string[];
  readonly record: GuestRecord;
  readonly faults: string[];
}

/** One boot of the profile's guest under `plan`, judged. */
export async function bootWithPlan(o: Pick<HostileOptions, 'profile' | 'root' | 'version'>, plan: HostilePlan): Promise<Outcome> {
  const worlds: BootWorld[] = [];
  const data = await diskData(o.profile);
  const dir = data !== undefined ? mkdtempSync(join(tmpdir(), 'xenlab-hostile-')) : undefined;
  try {
    const record = await runOne(
      {
        profiles: [o.profile],
        root: o.root,
        version: o.version,
        hostile: { plan, onAttached: (w) => worlds.push(w), ...(dir !== undefined ? { diskExportDir: dir } : {}) },
      },
      o.profile,
    );
    const dataViolations = data !== undefined && dir !== undefined && record.error === undefined ? await checkDisk(data, dir, record) : [];
    const faults = worlds.flatMap((w, i) => (w.hostile?.log ?? []).map((l) => (worlds.length > 1 ? `boot ${i + 1}: ${l}` : l)));
    return { violations: judge(o.profile, plan, record, { leaks: leaksOf(worlds), data: dataViolations }), record, faults };
  } finally {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the property (or replays one counterexample) for one guest. */
export async function runHostile(o: HostileOptions): Promise<HostileResult> {
  const name = `hostile.${o.areas.join('+')}`;
  const arb = o.arbitrary ?? planArbitrary(o.areas, o.shape);
  const failing = new Map<string, Outcome>();
  let last: Outcome | undefined;
  let boots = 0;
  const prop = fc.asyncProperty(arb, async (plan) => {
    const out = await bootWithPlan(o, plan);
    o.onRun?.({ index: boots, plan, violations: out.violations, end: out.record.end });
    boots++;
    last = out;
    if (out.violations.length > 0) {
      failing.set(formatPlan(plan), out);
      throw new Error(out.violations.join('\n'));
    }
  });
  const params =
    o.replay !== undefined ? { seed: o.replay.seed, path: o.replay.path, numRuns: 1, endOnFailure: true } : { seed: o.seed, numRuns: o.runs, endOnFailure: o.shrink === false };
  const seed = o.replay?.seed ?? o.seed;
  const details = await fc.check(prop, params);
  if (!details.failed) {
    return { name, ok: true, boots, seed, ...(last !== undefined ? { last: last.record, lastFaults: last.faults } : {}), detail: `${boots} plan${boots === 1 ? '' : 's'} (seed ${seed}): the guest survived each` };
  }
  const ce = details.counterexample?.[0];
  const path = details.counterexamplePath ?? o.replay?.path ?? '';
  if (ce === undefined) {
    // The property itself broke (not a plan's failure): a host bug, reported as it is.
    const err = details.errorInstance;
    return { name, ok: false, boots, seed, detail: `the property failed without a counterexample: ${err instanceof Error ? err.message : String(err)}` };
  }
  const out = failing.get(formatPlan(ce)) ?? (await bootWithPlan(o, ce));
  const command = replayCommand(o.profile.name, o.areas, seed, path);
  return {
    name,
    ok: false,
    boots,
    seed,
    counterexample: { seed, path, command, plan: ce, violations: out.violations, faults: out.faults },
    last: out.record,
    lastFaults: out.faults,
    detail: [`counterexample after ${boots} boots (seed ${seed}, path ${path}): ${formatPlan(ce)}`, ...out.violations, `replay: ${command}`].join('\n'),
  };
}
