/**
 * Hypercall usage per domain, for reports: how often each hypercall and sub-op was made and
 * with which result (0, a positive value, or a Xen error name). Keys are stable strings so the
 * JSON report can carry them as they are.
 */

export interface HypercallCount {
  readonly hypercall: string;
  /** The sub-op's name (e.g. "EVTCHNOP_send"), or "" for a call without sub-ops. */
  readonly subop: string;
  /**
   * "ok" (0), "positive" (> 0, e.g. a count or a version), the error's name ("-ENOSYS"),
   * "value" (a negative number below -4095: a value such as an upper-half address, not an
   * error) or "no-return" (iret, shutdown).
   */
  readonly result: string;
  count: number;
}

/**
 * One XENVER_get_features submap a guest asked for (XENFEAT_*, features.h): how often, with which
 * result ("ok", "-EINVAL" for a submap Xen does not define, "-EFAULT" when the answer could not be
 * written back), and the bits answered.
 */
export interface FeatureQuery {
  readonly submap: number;
  readonly result: string;
  /** The submap's 32 bits as answered (result "ok" only). */
  readonly bits?: number;
  count: number;
}

/** Distinct (submap, result) pairs kept: the submap index is guest input (any u32). */
export const MAX_FEATURE_QUERIES = 16;

export class HypercallStats {
  private readonly counts = new Map<string, HypercallCount>();
  private readonly features = new Map<string, FeatureQuery>();
  /** Feature queries beyond MAX_FEATURE_QUERIES distinct ones: counted, not itemised. */
  featureQueriesDropped = 0;

  record(hypercall: string, subop: string, result: string): void {
    const key = `${hypercall}\u0000${subop}\u0000${result}`;
    const c = this.counts.get(key);
    if (c !== undefined) c.count++;
    else this.counts.set(key, { hypercall, subop, result, count: 1 });
  }

  /** A XENVER_get_features query of `submap` and its outcome (abi/hypercall/version.ts). */
  recordFeatureQuery(submap: number, result: string, bits?: number): void {
    const key = `${submap}\u0000${result}\u0000${bits ?? ''}`;
    const q = this.features.get(key);
    if (q !== undefined) q.count++;
    else if (this.features.size >= MAX_FEATURE_QUERIES) this.featureQueriesDropped++;
    else this.features.set(key, { submap, result, ...(bits !== undefined ? { bits } : {}), count: 1 });
  }

  /** Every feature query, by submap and result. */
  featureQueries(): FeatureQuery[] {
    return [...this.features.values()].sort((a, b) => a.submap - b.submap || (a.result < b.result ? -1 : a.result > b.result ? 1 : (a.bits ?? 0) - (b.bits ?? 0)));
  }

  /** Every count, sorted by hypercall, sub-op and result. */
  list(): HypercallCount[] {
    return [...this.counts.values()].sort(
      (a, b) => a.hypercall.localeCompare(b.hypercall) || a.subop.localeCompare(b.subop) || a.result.localeCompare(b.result),
    );
  }

  /** Total calls of `hypercall` (every sub-op and result). */
  total(hypercall: string): number {
    let n = 0;
    for (const c of this.counts.values()) if (c.hypercall === hypercall) n += c.count;
    return n;
  }
}
