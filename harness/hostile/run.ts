/**
 * One boot's hostile backends: the plan (plan.ts) turned into the backends' hooks, their
 * guest-time faults on the domain's deferred host work (`Timers`), and a log of every fault as
 * it fired (the counterexample's story).
 */
import type { BlkbackHooks } from '../backends/blkback.js';
import type { XenbusConnectFault, XenbusHooks } from '../backends/blkback-xenbus.js';
import type { NetbackHooks } from '../backends/netback.js';
import { blkHooks } from './blk.js';
import type { Timers } from './hold.js';
import { netHooks } from './net.js';
import type { HostilePlan, XenbusFault } from './plan.js';

/** Fault lines kept per boot (a plan fires a bounded number, but a duplicate rx can repeat). */
const MAX_LOG = 200;

export class HostileBoot {
  readonly log: string[] = [];

  constructor(
    readonly plan: HostilePlan,
    readonly timers: Timers,
  ) {}

  private note = (line: string): void => {
    if (this.log.length < MAX_LOG) this.log.push(line);
  };

  blk(): BlkbackHooks | undefined {
    return this.plan.blk !== undefined ? blkHooks(this.plan.blk, this.timers, this.note) : undefined;
  }

  net(): NetbackHooks | undefined {
    return this.plan.net !== undefined ? netHooks(this.plan.net, this.timers, this.note) : undefined;
  }

  /** The xenbus hooks of one block (`blk`) or network (`net`) backend. */
  xenbus(area: 'blk' | 'net'): XenbusHooks | undefined {
    const faults: readonly XenbusFault[] | undefined = this.plan[area]?.xenbus;
    if (faults === undefined || faults.length === 0) return undefined;
    const timers = this.timers;
    const note = this.note;
    return {
      connecting(n: number): XenbusConnectFault | undefined {
        const f = faults.find((x) => x.at === n);
        if (f === undefined) return undefined;
        note(`${area}: connection ${n}: ${f.kind === 'flip' ? `Closing, back after ${f.ns} ns` : `Connected ${f.ns} ns late`}`);
        return f.kind === 'flip' ? { flip: true, ns: f.ns } : { delayNs: f.ns };
      },
      later: (ns, fn) => timers.later(ns, fn),
    };
  }
}
