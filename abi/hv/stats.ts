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

export class HypercallStats {
  private readonly counts = new Map<string, HypercallCount>();

  record(hypercall: string, subop: string, result: string): void {
    const key = `${hypercall}\u0000${subop}\u0000${result}`;
    const c = this.counts.get(key);
    if (c !== undefined) c.count++;
    else this.counts.set(key, { hypercall, subop, result, count: 1 });
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
