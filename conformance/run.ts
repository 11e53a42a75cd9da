/**
 * A conformance run: boots each profile's guest headless, reads its TAP (or, for a guest without
 * TAP, replays its console-script checks over the console), adds the harness's own
 * checks (the TAP stream is complete and well formed; the domain ended as the profile expects;
 * the console ring stayed intact), and collects hypercall usage, into the run record that
 * `reports/` renders. A guest that cannot be booted at all (missing image, bad config) is a
 * failed guest with its one-line error, and the run goes on with the next.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { bootGuest, type BootResult, type BootWorld } from '../harness/boot/boot.js';
import type { HostilePlan } from '../harness/hostile/plan.js';
import { isUserError } from '../harness/errors.js';
import { RECORD_VERSION, totalsOf, type GuestRecord, type RunRecord, type TestRecord } from '../harness/record.js';
import { loadXlConfig } from '../harness/toolstack/xl-cfg.js';
import { ConsoleScript } from '../harness/boot/console-script.js';
import type { GuestProfile, ScriptCheck } from './profile.js';
import { parseGuestTap } from './tap.js';
import { ABI_CHECKS, type AbiCheck, type CheckRun } from './checks/index.js';
import { XenStoreCoverageObserver, xenFeatureCoverage } from './coverage.js';

export interface ConformanceOptions {
  readonly profiles: readonly GuestProfile[];
  /** Directory that relative profile configs are resolved against. */
  readonly root: string;
  /** Reported in the record. */
  readonly version: string;
  /** `--strict`: the hypervisor's suspicious-but-accepted observations become diagnostics. */
  readonly strict?: boolean;
  /**
   * A profile that cannot run here (its Debian fixture is not cached): the reason, and the guest
   * is a row of one skip with it instead of a boot (`xenlab conformance`). Undefined: it runs.
   */
  readonly skipReason?: (p: GuestProfile) => string | undefined;
  /** Called before each guest boots and after it ends. */
  readonly onGuest?: (e: { readonly index: number; readonly profile: GuestProfile; readonly result?: GuestRecord }) => void;
  readonly onProgress?: (p: { instructions: number; guestNs: number }) => void;
  /** A hostile run (conformance/hostile/): the fault plan of the backends, and each boot's world and disks. */
  readonly hostile?: {
    readonly plan: HostilePlan;
    readonly onAttached?: (w: BootWorld) => void;
    /** Directory that gets each disk as the guest left it (BootOptions.diskExportDir). */
    readonly diskExportDir?: string;
  };
}

/** Wall-clock milliseconds (reports only; nothing guest-visible depends on it). */
function wallNow(): number {
  return performance.now();
}

function failedBoot(p: GuestProfile, config: string, error: string): GuestRecord {
  return {
    name: p.name,
    description: p.description,
    config,
    end: 'not-booted',
    expectedEnd: p.expectEnd,
    exitCode: 1,
    detail: error,
    ok: false,
    tests: [{ id: 1, name: 'the guest boots', status: 'fail', source: 'harness', detail: error }],
    hypercalls: [],
    diagnostics: [],
    instructions: 0,
    guestNs: 0,
    wallMs: 0,
    console: '',
    xenLog: '',
    error,
  };
}

/** A guest that was not run, for `reason` (e.g. its fixture missing): one skip, not a failure. */
export function skippedGuest(p: GuestProfile, config: string, reason: string): GuestRecord {
  return {
    name: p.name,
    description: p.description,
    config,
    end: 'not-run',
    expectedEnd: p.expectEnd,
    exitCode: 0,
    detail: reason,
    ok: true,
    tests: [{ id: 1, name: 'the guest runs', status: 'skip', source: 'harness', detail: reason }],
    hypercalls: [],
    diagnostics: [],
    instructions: 0,
    guestNs: 0,
    wallMs: 0,
    console: '',
    xenLog: '',
  };
}

/**
 * A profile's console-script checks (a guest without TAP): the script replayed over the console
 * log as the boot matched it, each step passing when its pattern was seen. The first step never
 * seen fails with how the run ended (for an expect-timeout, the pattern and the last line); the
 * later ones were never reached.
 */
function scriptChecks(checks: readonly ScriptCheck[], r: BootResult): TestRecord[] {
  const replay = new ConsoleScript(checks);
  replay.output(new TextEncoder().encode(r.console), 0);
  const seen = replay.matched;
  return checks.map((c, k) => ({
    id: k + 1,
    name: c.name,
    status: k < seen ? 'pass' : 'fail',
    source: 'guest',
    ...(k === seen ? { detail: `not seen: ${r.detail}` } : k > seen ? { detail: 'not reached' } : {}),
  }));
}

/**
 * The ABI checks that apply to any guest (conformance/checks/index.ts, docs/conformance.md), each
 * a test with its check id and reference; one that does not apply is a skip with the reason.
 */
function abiChecks(p: GuestProfile, runs: readonly { check: AbiCheck; run: CheckRun }[], r: BootResult): Omit<TestRecord, 'id'>[] {
  return runs.map(({ check, run }) => {
    const na = p.notApplicable?.[check.id];
    const out = na !== undefined ? { status: 'skip' as const, detail: `not applicable: ${na}` } : run.result(r);
    return {
      name: `${check.id}: ${check.description}`,
      status: out.status,
      source: 'harness',
      ...(out.detail !== undefined ? { detail: out.detail } : {}),
      check: { id: check.id, reference: check.reference },
    };
  });
}

/** The harness's checks after the guest's own tests, numbered on from them. */
function harnessChecks(p: GuestProfile, r: BootResult, firstId: number, problems: readonly string[], checks: readonly { check: AbiCheck; run: CheckRun }[]): TestRecord[] {
  let id = firstId;
  const check = (name: string, failure: string | undefined): TestRecord => ({
    id: id++,
    name,
    status: failure === undefined ? 'pass' : 'fail',
    source: 'harness',
    ...(failure !== undefined ? { detail: failure } : {}),
  });
  return [
    ...(p.checks === undefined ? [check('the guest printed a complete TAP stream', problems.length === 0 ? undefined : problems.join('\n'))] : []),
    check(`the domain ended with ${p.expectEnd}`, r.end === p.expectEnd ? undefined : `ended: ${r.end} (${r.detail})`),
    ...abiChecks(p, checks, r).map((t) => ({ ...t, id: id++ })),
  ];
}

/** One profile's guest booted and judged: its record (a hostile run calls it once per plan). */
export async function runOne(o: ConformanceOptions, p: GuestProfile): Promise<GuestRecord> {
  const path = isAbsolute(p.config) ? p.config : resolve(o.root, p.config);
  const shown = relative(process.cwd(), path) || path;
  const t0 = wallNow();
  let r: BootResult;
  const checks = ABI_CHECKS.map((check) => ({ check, run: check.start() }));
  const paths = new XenStoreCoverageObserver();
  const skip = o.skipReason?.(p);
  if (skip !== undefined) return skippedGuest(p, shown, skip);
  try {
    const more = p.prepare !== undefined ? await p.prepare() : [];
    const config = loadXlConfig(path, [...(p.overrides ?? []), ...more]);
    const script = p.checks ?? p.script;
    r = await bootGuest({
      config,
      timeoutSeconds: p.timeoutSeconds,
      ...(script !== undefined ? { script } : {}),
      ...(o.strict === true ? { strict: true } : {}),
      ...(o.onProgress !== undefined ? { onProgress: o.onProgress } : {}),
      ...(o.hostile !== undefined ? { hostile: o.hostile.plan } : {}),
      ...(o.hostile?.diskExportDir !== undefined ? { diskExportDir: o.hostile.diskExportDir } : {}),
      onXenStoreTrace: (line) => {
        paths.trace(line);
        for (const c of checks) c.run.xenStoreTrace?.(line);
      },
      onAttached: (w) => {
        o.hostile?.onAttached?.(w);
        paths.guest(w.domain.id);
        for (const c of checks) c.run.attached?.(w);
      },
      onSlice: () => {
        for (const c of checks) c.run.slice?.();
      },
      onEnded: (w) => {
        for (const c of checks) c.run.ended?.(w);
      },
    });
  } catch (e) {
    if (isUserError(e)) return failedBoot(p, shown, e.message);
    throw e;
  }
  const tap = p.checks === undefined ? parseGuestTap(r.console) : { tests: scriptChecks(p.checks, r), problems: [] };
  const tests = [...tap.tests];
  const lastId = tests.reduce((m, t) => Math.max(m, t.id), 0);
  tests.push(...harnessChecks(p, r, lastId + 1, tap.problems, checks));
  return {
    name: p.name,
    description: p.description,
    config: shown,
    end: r.end,
    expectedEnd: p.expectEnd,
    exitCode: r.exitCode,
    detail: r.detail,
    ok: tests.every((x) => x.status !== 'fail'),
    tests,
    hypercalls: r.domain.stats.list().map((c) => ({ hypercall: c.hypercall, subop: c.subop, result: c.result, count: c.count })),
    diagnostics: [...r.diagnostics],
    instructions: r.instructions,
    guestNs: r.guestNs,
    wallMs: Math.round(wallNow() - t0),
    console: r.console,
    xenLog: r.xenLog,
    xenfeat: xenFeatureCoverage(r.domain.stats, r.domain.features, r.kernelFeatures),
    xenstore: paths.result(),
  };
}

export async function runConformance(o: ConformanceOptions): Promise<RunRecord> {
  const t0 = wallNow();
  const guests: GuestRecord[] = [];
  for (const [index, profile] of o.profiles.entries()) {
    o.onGuest?.({ index, profile });
    const result = await runOne(o, profile);
    guests.push(result);
    o.onGuest?.({ index, profile, result });
  }
  return { version: RECORD_VERSION, tool: { name: 'xenlab', version: o.version }, guests, totals: totalsOf(guests), wallMs: Math.round(wallNow() - t0) };
}
