/**
 * Network faults of a hostile run (plan.ts `NetPlan`) as netback's hooks (harness/backends/
 * netback.ts `NetbackHooks`): tx responses delayed, batched, reordered or answered with an error
 * status; frames for the guest delayed, duplicated, or failing (an error status, a failed grant
 * copy).
 */
import { NETIF_RSP_DROPPED, NETIF_RSP_ERROR } from '../../abi/public/io/netif.js';
import type { NetbackHooks, NetFrame, RxFault } from '../backends/netback.js';
import { Holder, type TimingFault, type Timers } from './hold.js';
import type { NetPlan } from './plan.js';

export function netHooks(plan: NetPlan, timers: Timers, log: (line: string) => void): NetbackHooks {
  const timing: TimingFault[] = [];
  for (const f of plan.faults) {
    if (f.kind === 'tx-delay') timing.push({ kind: 'delay', at: f.req, ns: f.ns });
    else if (f.kind === 'tx-batch') timing.push({ kind: 'batch', at: f.req, count: f.count, ns: f.ns });
    else if (f.kind === 'tx-reorder') timing.push({ kind: 'reorder', at: f.req, count: f.count, ns: f.ns });
  }
  const holder = new Holder<Uint8Array>(timing, timers, (l) => log(`net: tx ${l}`));
  return {
    txPacket(n: number): number | undefined {
      const f = plan.faults.find((x) => x.kind === 'tx-status' && x.req === n);
      if (f === undefined || f.kind !== 'tx-status') return undefined;
      log(`net: tx packet ${n} answered ${f.status === 'error' ? 'NETIF_RSP_ERROR' : 'NETIF_RSP_DROPPED'}`);
      return f.status === 'error' ? NETIF_RSP_ERROR : NETIF_RSP_DROPPED;
    },
    txResponse(n: number, rsps: readonly Uint8Array[], publish: (rsps: readonly Uint8Array[]) => void): boolean {
      return holder.offer(n, rsps, publish);
    },
    rxFrame(n: number, frame: NetFrame, deliver: (frame: NetFrame, fault?: RxFault) => void): boolean {
      for (const f of plan.faults) {
        if (!('pkt' in f) || f.pkt !== n) continue;
        switch (f.kind) {
          case 'rx-delay':
            log(`net: rx frame ${n} delayed ${f.ns} ns`);
            timers.later(f.ns, () => deliver(frame));
            return true;
          case 'rx-duplicate':
            log(`net: rx frame ${n} delivered twice`);
            deliver(frame);
            deliver({ ...frame, data: frame.data.slice() });
            return true;
          case 'rx-error':
            log(`net: rx frame ${n} answered NETIF_RSP_ERROR`);
            deliver(frame, 'error');
            return true;
          case 'rx-copy-fail':
            log(`net: rx frame ${n}: the grant copy fails`);
            deliver(frame, 'copy-fail');
            return true;
        }
      }
      return false;
    },
  };
}
