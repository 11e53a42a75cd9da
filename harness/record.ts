/**
 * The result record of a conformance run: one versioned, JSON-serialisable value that the
 * renderers in `reports/` turn into TAP, JUnit, JSON and HTML. `conformance/` builds it; it lives
 * here, below both, so that neither imports the other.
 *
 * Version history: 1 — guests with their TAP tests, how each ended, hypercall usage;
 * 2 — `shard`, for the record of one shard of a sharded run (`xenlab conformance --shard i/n`,
 * combined again by `xenlab report merge`). A version 1 record reads as an unsharded version 2.
 * Optional fields added within version 2 (a reader must accept their absence): the run's `seed`
 * and a guest's shrunk `counterexample`, set by property-tested runs; a guest's ABI coverage
 * beyond hypercalls, `xenfeat` and `xenstore` (records written before them have neither, and
 * `xenlab report merge` carries them over as they are).
 */

export const RECORD_VERSION = 2;

/** Which part of a sharded run a record holds. */
export interface ShardInfo {
  /** 1-based. */
  readonly index: number;
  readonly count: number;
  /** Every profile of the whole run, in run order (each shard runs those at k ≡ index - 1 mod count). */
  readonly profiles: readonly string[];
}

/**
 * A property-tested check's failure shrunk to its smallest schedule (fast-check's seed and shrink
 * path) and the command line that replays exactly that schedule. The HTML report shows it in its
 * own section.
 */
export interface Counterexample {
  /** The seed of the failing run. */
  readonly seed: number;
  /** fast-check's shrink path to the smallest failing case ("3:1:0"), replayed with the seed. */
  readonly path: string;
  /** The replay command, e.g. `xenlab conformance --guest linux --replay SEED:PATH`. */
  readonly command: string;
}

/** pass/fail as TAP says; skip and todo as TAP's directives (a failing todo is not a failure). */
export type TestStatus = 'pass' | 'fail' | 'skip' | 'todo';

export interface TestRecord {
  /** The test's number in its guest (TAP's id; harness checks continue after the guest's). */
  readonly id: number;
  readonly name: string;
  readonly status: TestStatus;
  /** Where it came from: the guest's own TAP output, or a check the harness made. */
  readonly source: 'guest' | 'harness';
  /** The skip/todo reason, or the diagnostic lines a failure printed. */
  readonly detail?: string;
  /** For one of the harness's ABI checks (docs/conformance.md): its id and the reference it checks against. */
  readonly check?: { readonly id: string; readonly reference: string };
}

export interface HypercallUsage {
  readonly hypercall: string;
  readonly subop: string;
  /** "ok", "positive", "no-return" or the Xen error name ("-ENOSYS"). */
  readonly result: string;
  readonly count: number;
}

/** One XENVER_get_features submap the guest asked for: how often, the result, the bits answered. */
export interface XenFeatureQuery {
  readonly submap: number;
  /** "ok", "-EINVAL" (a submap Xen does not define) or "-EFAULT" (the answer could not be written). */
  readonly result: string;
  /** The 32 bits answered (result "ok"). */
  readonly bits?: number;
  readonly count: number;
}

/** One XENFEAT_* bit (xen/include/public/features.h) as the guest met it. */
export interface XenFeatureBit {
  /** The bit's number over all submaps (submap × 32 + bit). */
  readonly bit: number;
  /** features.h's name without the prefix ("writable_page_tables"), or "bit<n>" for an unnamed one. */
  readonly name: string;
  /** xenlab offers it (set in what XENVER_get_features answers). */
  readonly offered: boolean;
  /** The guest queried the submap holding it and got the answer. */
  readonly checked: boolean;
  /** What the kernel's ELF notes say of it: required (`!name` in FEATURES), supported, or nothing. */
  readonly declared?: 'required' | 'supported';
}

/** Which XENFEAT bits the guest checked, what it was told, and what its ELF notes declared. */
export interface XenFeatureCoverage {
  readonly queries: readonly XenFeatureQuery[];
  /** Queries beyond the distinct ones kept (the submap index is guest input). */
  readonly queriesDropped?: number;
  /** Every named bit of the submaps Xen defines, then any other bit offered, queried or declared. */
  readonly bits: readonly XenFeatureBit[];
  /** The kernel's XEN_ELFNOTE_FEATURES / SUPPORTED_FEATURES (submap 0 masks; the FEATURES text as written). */
  readonly notes?: { readonly required: number; readonly supported: number; readonly text?: string };
}

/** One XenStore operation of the guest on one path, with its result. */
export interface XenStoreAccess {
  /**
   * The path: the guest's own directory `/local/domain/<domid>/` (or a relative path) as `~/`,
   * other paths as they are, "" for an operation without one (TRANSACTION_START, ...).
   */
  readonly path: string;
  /** xenstored's message type: READ, WRITE, MKDIR, RM, DIRECTORY, WATCH, ... */
  readonly op: string;
  /** "ok", or the error xenstored answered ("ENOENT", "EACCES", ...). */
  readonly result: string;
  readonly count: number;
}

/** Every XenStore path the guest read, wrote, listed, watched or removed, from xenstored's trace. */
export interface XenStoreCoverage {
  /** Sorted by path, operation and result. */
  readonly accesses: readonly XenStoreAccess[];
  /** Messages beyond the distinct accesses kept: counted, not itemised. */
  readonly dropped?: number;
}

export interface GuestRecord {
  /** The profile's name (e.g. "probe-events"). */
  readonly name: string;
  readonly description: string;
  /** The xl.cfg the guest was booted from, relative to the working directory when possible. */
  readonly config: string;
  /** How the domain ended ("poweroff", "crash", "timeout", ...), and what the profile expected. */
  readonly end: string;
  readonly expectedEnd: string;
  readonly exitCode: number;
  /** One line on the end, e.g. "SHUTDOWN_poweroff code 0". */
  readonly detail: string;
  /** True when every test passed (or was skipped/todo) and the guest ended as expected. */
  readonly ok: boolean;
  readonly tests: readonly TestRecord[];
  readonly hypercalls: readonly HypercallUsage[];
  readonly diagnostics: readonly string[];
  readonly instructions: number;
  readonly guestNs: number;
  readonly wallMs: number;
  /** The console ring's output (for the report's "console" sections). */
  readonly console: string;
  /** CONSOLEIO_write output. */
  readonly xenLog: string;
  /** Set when the guest could not be run at all (missing image, bad config): the one-line error. */
  readonly error?: string;
  /** Set when a property-tested check failed: its shrunk, replayable counterexample. */
  readonly counterexample?: Counterexample;
  /** XENFEAT bits the guest checked (XENVER_get_features) and declared (ELF notes); absent when it did not run. */
  readonly xenfeat?: XenFeatureCoverage;
  /** XenStore paths the guest used; absent when it did not run. */
  readonly xenstore?: XenStoreCoverage;
}

export interface RunTotals {
  readonly guests: number;
  readonly guestsFailed: number;
  readonly tests: number;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly todo: number;
}

export interface RunRecord {
  readonly version: typeof RECORD_VERSION;
  readonly tool: { readonly name: 'xenlab'; readonly version: string };
  readonly guests: readonly GuestRecord[];
  readonly totals: RunTotals;
  /** Wall time of the whole run (merged shards: the sum of theirs). */
  readonly wallMs: number;
  /** Set on the record of one shard of a sharded run. */
  readonly shard?: ShardInfo;
  /** The seed of the run's property tests, when it ran any (replay with it). */
  readonly seed?: number;
}

/** Totals over `guests`. */
export function totalsOf(guests: readonly GuestRecord[]): RunTotals {
  let tests = 0;
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let todo = 0;
  for (const g of guests) {
    for (const t of g.tests) {
      tests++;
      if (t.status === 'pass') passed++;
      else if (t.status === 'fail') failed++;
      else if (t.status === 'skip') skipped++;
      else todo++;
    }
  }
  return { guests: guests.length, guestsFailed: guests.filter((g) => !g.ok).length, tests, passed, failed, skipped, todo };
}
