/**
 * ABI coverage of a guest beyond its hypercalls (issue 9): which XENFEAT bits it checked and what
 * it was told, next to what its ELF notes declared; and every XenStore path it read, wrote,
 * listed, watched or removed, per operation and result, from xenstored's trace. Both land in the
 * guest's record (harness/record.ts) and the HTML report shows them under the hypercall coverage.
 */
import { XENFEAT_NAMES, XENFEAT_NR_SUBMAPS } from '../abi/public/features.js';
import type { XenFeatureBit, XenFeatureCoverage, XenFeatureQuery, XenStoreAccess, XenStoreCoverage } from '../harness/record.js';

/** Distinct (path, operation, result) triples kept per guest: paths are guest input. */
export const MAX_XENSTORE_ACCESSES = 4096;

/** Message types whose payload starts with a path (xenstored's wire_funcs). */
const PATH_OPS: ReadonlySet<string> = new Set(['DIRECTORY', 'DIRECTORY_PART', 'READ', 'GET_PERMS', 'WATCH', 'UNWATCH', 'WRITE', 'MKDIR', 'RM', 'SET_PERMS']);

/**
 * A path as the report shows it: the guest's own directory (absolute or relative, as xenstored
 * resolves a relative path against it) as `~`, special watch paths (`@releaseDomain`) and other
 * domains' paths as they are.
 */
export function showPath(path: string, domid: number): string {
  if (path === '' || path.startsWith('@')) return path;
  const home = `/local/domain/${domid}`;
  if (path === home) return '~';
  if (path.startsWith(`${home}/`)) return `~/${path.slice(home.length + 1)}`;
  if (!path.startsWith('/')) return `~/${path}`;
  return path;
}

/**
 * Follows xenstored's trace (`IN domain <id> <TYPE> (<payload>)`, then its reply `OUT domain <id>
 * <TYPE|ERROR> (...)`; xenstored answers each request before it reads the next) and counts the
 * guest's requests by path, operation and result. Only the guest's own connection counts: the
 * toolstack's and the backends' requests are not the guest's use of the ABI.
 */
export class XenStoreCoverageObserver {
  private domid: number | undefined;
  private readonly counts = new Map<string, { path: string; op: string; result: string; count: number }>();
  private dropped = 0;
  private pending: { path: string; op: string } | undefined;

  constructor(private readonly max = MAX_XENSTORE_ACCESSES) {}

  /** The guest's domain id (each boot's world, before the guest runs). */
  guest(domid: number): void {
    this.flush('no reply');
    this.domid = domid;
  }

  /** A line of xenstored's trace. */
  trace(line: string): void {
    const m = /^(IN|OUT) domain (\d+) (\S+) \((.*)\)$/.exec(line);
    if (m === null || this.domid === undefined || Number(m[2]) !== this.domid) return;
    const type = m[3]!;
    const payload = m[4]!;
    if (m[1] === 'IN') {
      this.flush('no reply');
      // The trace shows the payload's NULs as spaces, and xenstored's paths hold no space.
      const path = PATH_OPS.has(type) ? showPath(payload.split(' ')[0] ?? '', this.domid) : '';
      this.pending = { path, op: type };
      return;
    }
    if (type === 'WATCH_EVENT') return;
    this.flush(type === 'ERROR' ? payload.trim() || 'error' : 'ok');
  }

  private flush(result: string): void {
    const p = this.pending;
    if (p === undefined) return;
    this.pending = undefined;
    const key = `${p.path}\u0000${p.op}\u0000${result}`;
    const c = this.counts.get(key);
    if (c !== undefined) c.count++;
    else if (this.counts.size >= this.max) this.dropped++;
    else this.counts.set(key, { ...p, result, count: 1 });
  }

  /** What the guest did, sorted by path, operation and result (code-unit order: deterministic). */
  result(): XenStoreCoverage {
    this.flush('no reply');
    const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
    const accesses: XenStoreAccess[] = [...this.counts.values()].sort((a, b) => cmp(a.path, b.path) || cmp(a.op, b.op) || cmp(a.result, b.result)).map((c) => ({ ...c }));
    return { accesses, ...(this.dropped > 0 ? { dropped: this.dropped } : {}) };
  }
}

/** What the hypervisor recorded of the guest's XENVER_get_features queries (abi/hv/stats.ts). */
export interface FeatureQuerySource {
  featureQueries(): readonly XenFeatureQuery[];
  readonly featureQueriesDropped: number;
}

/**
 * The guest's XENFEAT coverage: its queries; then every bit of the submaps Xen defines that has
 * a name or was offered, answered or declared, each with whether xenlab offers it (`offered`, the
 * domain's feature word), whether the guest got the submap holding it (`checked`) and what the
 * kernel's notes declare of it.
 */
export function xenFeatureCoverage(stats: FeatureQuerySource, offered: number, notes?: { readonly required: number; readonly supported: number; readonly text?: string }): XenFeatureCoverage {
  const queries = stats.featureQueries().map((q) => ({ submap: q.submap, result: q.result, ...(q.bits !== undefined ? { bits: q.bits } : {}), count: q.count }));
  const answered = new Map<number, number>();
  for (const q of queries) if (q.result === 'ok' && q.bits !== undefined) answered.set(q.submap, (answered.get(q.submap) ?? 0) | q.bits);
  const set = (mask: number | undefined, bit: number): boolean => mask !== undefined && ((mask >>> bit) & 1) === 1;
  const bits: XenFeatureBit[] = [];
  for (let n = 0; n < XENFEAT_NR_SUBMAPS * 32; n++) {
    const submap = Math.floor(n / 32);
    const bit = n % 32;
    // Offered and declared are submap-0 words (the domain's features, the notes' masks).
    const isOffered = submap === 0 && set(offered, bit);
    const declared = submap !== 0 || notes === undefined ? undefined : set(notes.required, bit) ? 'required' : set(notes.supported, bit) ? 'supported' : undefined;
    const name = XENFEAT_NAMES[n];
    if (name === undefined && !isOffered && declared === undefined && !set(answered.get(submap), bit)) continue;
    bits.push({ bit: n, name: name ?? `bit${n}`, offered: isOffered, checked: answered.has(submap), ...(declared !== undefined ? { declared } : {}) });
  }
  return {
    queries,
    ...(stats.featureQueriesDropped > 0 ? { queriesDropped: stats.featureQueriesDropped } : {}),
    bits,
    ...(notes !== undefined ? { notes: { required: notes.required, supported: notes.supported, ...(notes.text !== undefined ? { text: notes.text } : {}) } } : {}),
  };
}
