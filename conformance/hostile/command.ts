/**
 * `xenlab conformance --hostile AREAS [--runs N] [--seed S] [--replay SEED:PATH]`: the
 * hostile-backend property (property.ts) per guest and per area, as a run record. Each guest's
 * tests are one per area (`hostile.blk: ...`); a failure's shrunk counterexample goes into
 * `GuestRecord.counterexample` (rendered by reports/html.ts) and the run's seed into
 * `RunRecord.seed`. Progress goes to stderr, one line per boot.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { formatPlan, HOSTILE_AREAS, type HostileArea, type HostilePlan } from '../../harness/hostile/plan.js';
import { UserError } from '../../harness/errors.js';
import { RECORD_VERSION, totalsOf, type GuestRecord, type RunRecord, type TestRecord } from '../../harness/record.js';
import type { GuestProfile } from '../profile.js';
import { parseReplay, runHostile, type HostileResult } from './property.js';

/** What each area's test says it checked. */
const AREA_TEST: Readonly<Record<HostileArea, string>> = {
  blk: 'the guest survives hostile block backends (delayed, batched, reordered, failed, duplicated and misnumbered responses, failed grant maps, state flips)',
  net: 'the guest survives hostile network backends (delayed, batched, reordered and failed tx responses, late, duplicated and failed rx packets, state flips)',
  console: 'the guest survives a hostile console backend (short reads and writes, late drains and feeds, spurious notifications)',
  xenstore: 'the guest survives a hostile xenstored (late service, split replies, watch storms, transaction EAGAIN)',
};

/** `--hostile blk,net`: the areas, checked. */
export function parseAreas(s: string): HostileArea[] {
  const out: HostileArea[] = [];
  for (const a of s.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    if (!(HOSTILE_AREAS as readonly string[]).includes(a)) throw new UserError('bad-option', `--hostile: unknown area '${a}' (${HOSTILE_AREAS.join(', ')})`);
    if (!out.includes(a as HostileArea)) out.push(a as HostileArea);
  }
  if (out.length === 0) throw new UserError('bad-option', `--hostile: name one or more of ${HOSTILE_AREAS.join(', ')}`);
  return out;
}

const FIRED_SHOWN = 20;

export interface HostileCommandOptions {
  readonly profiles: readonly GuestProfile[];
  readonly root: string;
  readonly version: string;
  readonly areas: readonly HostileArea[];
  readonly runs: number;
  readonly seed: number;
  /** `--replay SEED:PATH` as given. */
  readonly replay?: string;
  readonly log: (line: string) => void;
}

/** A pass says which faults fired in its last boot (a plan keyed past what the guest did fires none). */
function withFired(r: HostileResult): string {
  const fired = r.lastFaults ?? [];
  if (fired.length === 0) return `${r.detail}; no fault fired in the last boot`;
  const shown = fired.slice(0, FIRED_SHOWN);
  const more = fired.length > shown.length ? [`… and ${fired.length - shown.length} more`] : [];
  return [`${r.detail}; fired in the last boot:`, ...shown, ...more].join('\n');
}

function guestRecord(p: GuestProfile, root: string, results: readonly HostileResult[], wallMs: number): GuestRecord {
  const path = isAbsolute(p.config) ? p.config : resolve(root, p.config);
  const tests: TestRecord[] = results.map((r, i) => ({
    id: i + 1,
    name: `${r.name}: ${AREA_TEST[r.name.slice('hostile.'.length) as HostileArea] ?? 'the guest survives hostile backends'}`,
    status: r.ok ? 'pass' : 'fail',
    source: 'harness',
    detail: r.ok ? withFired(r) : r.detail,
  }));
  const failed = results.find((r) => !r.ok);
  const shown = failed?.last ?? results.at(-1)?.last;
  const ce = failed?.counterexample;
  return {
    name: p.name,
    description: p.description,
    config: relative(process.cwd(), path) || path,
    end: shown?.end ?? 'not-booted',
    expectedEnd: p.expectEnd,
    exitCode: shown?.exitCode ?? 1,
    detail: shown?.detail ?? (failed?.detail ?? ''),
    ok: results.every((r) => r.ok),
    tests,
    hypercalls: shown?.hypercalls ?? [],
    diagnostics: [...(shown?.diagnostics ?? []), ...(ce !== undefined ? [`counterexample plan: ${formatPlan(ce.plan)}`, ...ce.faults.map((f) => `fault: ${f}`)] : [])],
    instructions: shown?.instructions ?? 0,
    guestNs: shown?.guestNs ?? 0,
    wallMs,
    console: shown?.console ?? '',
    xenLog: shown?.xenLog ?? '',
    ...(shown?.error !== undefined ? { error: shown.error } : {}),
    ...(ce !== undefined ? { counterexample: { seed: ce.seed, path: ce.path, command: ce.command } } : {}),
  };
}

/** Runs the property for every profile and area (or replays one counterexample): the run record. */
export async function runHostileCommand(o: HostileCommandOptions): Promise<RunRecord> {
  const replay = o.replay !== undefined ? parseReplay(o.replay) : undefined;
  if (o.replay !== undefined && replay === undefined) throw new UserError('bad-option', `--replay ${o.replay}: expected SEED:PATH (e.g. 42:3:0)`);
  if (replay !== undefined && o.profiles.length !== 1) throw new UserError('bad-option', '--replay needs exactly one --guest (the command a counterexample printed names it)');
  if (!(Number.isInteger(o.runs) && o.runs >= 1)) throw new UserError('bad-option', '--runs must be a positive integer');
  const t0 = performance.now();
  const guests: GuestRecord[] = [];
  // A replay is of the areas together (the counterexample's plan spans them); a run is one property per area.
  const groups: (readonly HostileArea[])[] = replay !== undefined ? [o.areas] : o.areas.map((a) => [a]);
  for (const p of o.profiles) {
    const g0 = performance.now();
    const results: HostileResult[] = [];
    for (const areas of groups) {
      let plan: HostilePlan | undefined;
      const r = await runHostile({
        profile: p,
        root: o.root,
        version: o.version,
        areas,
        runs: o.runs,
        seed: o.seed,
        ...(replay !== undefined ? { replay } : {}),
        onRun: ({ index, plan: pl, violations, end }) => {
          plan = pl;
          o.log(`${p.name} hostile.${areas.join('+')} boot ${index + 1}: ${violations.length === 0 ? 'ok' : 'FAIL'} (${end}) ${formatPlan(pl)}`);
        },
      });
      if (replay !== undefined && plan !== undefined) o.log(`replayed plan: ${formatPlan(plan)}`);
      if (r.counterexample !== undefined) o.log(`${p.name} ${r.name}: counterexample ${formatPlan(r.counterexample.plan)}\n  replay: ${r.counterexample.command}`);
      results.push(r);
    }
    guests.push(guestRecord(p, o.root, results, Math.round(performance.now() - g0)));
  }
  return {
    version: RECORD_VERSION,
    tool: { name: 'xenlab', version: o.version },
    guests,
    totals: totalsOf(guests),
    wallMs: Math.round(performance.now() - t0),
    seed: replay?.seed ?? o.seed,
  };
}
