/**
 * Response timing faults shared by the block and network hooks: a response published later
 * (delay), several held and published with one push (batch), or held and published in reverse
 * order (reorder). Everything is keyed by the response's number and guest time (`Timers`), so a
 * plan gives the same run every time.
 */

/**
 * Guest-time callbacks of one boot: `later(ns, fn)` runs `fn` once `ns` guest nanoseconds have
 * passed. Backed by the domain's deferred host work (abi/time/timers.ts `DomainTime.defer`),
 * which the scheduler counts as a deadline: a guest blocked waiting for a late response is woken
 * by it, not ended as stalled.
 */
export interface Timers {
  later(ns: number, fn: () => void): void;
}

/** One timing fault over response numbers. */
export type TimingFault =
  | { readonly kind: 'delay'; readonly at: number; readonly ns: number }
  | { readonly kind: 'batch' | 'reorder'; readonly at: number; readonly count: number; readonly ns: number };

type Publish<T> = (items: readonly T[]) => void;

interface Group<T> {
  readonly fault: TimingFault & { kind: 'batch' | 'reorder' };
  readonly held: { item: T; publish: Publish<T> }[];
  done: boolean;
}

/**
 * Applies timing faults to numbered responses. `offer` returns true when it took the response
 * (it will publish it through `publish` later), false when the caller publishes it now.
 */
export class Holder<T> {
  private readonly groups = new Map<TimingFault, Group<T>>();

  constructor(
    private readonly faults: readonly TimingFault[],
    private readonly timers: Timers,
    private readonly onFault: (line: string) => void,
  ) {}

  offer(n: number, items: readonly T[], publish: Publish<T>): boolean {
    const f = this.faults.find((x) => (x.kind === 'delay' ? x.at === n : n >= x.at && n < x.at + x.count));
    if (f === undefined) return false;
    if (f.kind === 'delay') {
      this.onFault(`response ${n} delayed ${f.ns} ns`);
      this.timers.later(f.ns, () => publish(items));
      return true;
    }
    let g = this.groups.get(f);
    if (g === undefined) {
      g = { fault: f, held: [], done: false };
      this.groups.set(f, g);
      const group = g;
      this.timers.later(f.ns, () => this.flush(group));
    }
    if (g.done) return false;
    for (const item of items) g.held.push({ item, publish });
    this.onFault(`response ${n} held for a ${f.kind} of ${f.count}`);
    if (n === f.at + f.count - 1) this.flush(g);
    return true;
  }

  /** Publishes a group's held responses: consecutive ones of one connection with one push. */
  private flush(g: Group<T>): void {
    if (g.done) return;
    g.done = true;
    const held = g.fault.kind === 'reorder' ? [...g.held].reverse() : g.held;
    let i = 0;
    while (i < held.length) {
      const p = (held[i] as { publish: Publish<T> }).publish;
      const run: T[] = [];
      while (i < held.length && (held[i] as { publish: Publish<T> }).publish === p) run.push((held[i++] as { item: T }).item);
      p(run);
    }
  }
}
