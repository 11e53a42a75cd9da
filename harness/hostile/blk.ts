/**
 * Block faults of a hostile run (plan.ts `BlkPlan`) as blkback's hooks (harness/backends/
 * blkback.ts `BlkbackHooks`): a request answered with an error status or failing a grant map,
 * a response delayed, batched, reordered, duplicated or given an unknown id, and (test-only)
 * corrupted read data.
 */
import { BLKIF_RSP_EOPNOTSUPP, BLKIF_RSP_ERROR } from '../../abi/public/io/blkif.js';
import type { BlkbackHooks, BlkRequestFault, BlkResponseOut } from '../backends/blkback.js';
import { Holder, type TimingFault, type Timers } from './hold.js';
import type { BlkPlan } from './plan.js';

/** The id an unknown-id response carries: never one a frontend handed out (Linux's are ring indices, GRUB's 0). */
export const UNKNOWN_ID_LOW = 0xdeadbeef;

export function blkHooks(plan: BlkPlan, timers: Timers, log: (line: string) => void): BlkbackHooks {
  const timing: TimingFault[] = [];
  for (const f of plan.faults) {
    if (f.kind === 'delay') timing.push({ kind: 'delay', at: f.req, ns: f.ns });
    else if (f.kind === 'batch' || f.kind === 'reorder') timing.push({ kind: f.kind, at: f.req, count: f.count, ns: f.ns });
  }
  const holder = new Holder<Uint8Array>(timing, timers, (l) => log(`blk: ${l}`));
  /** A response saved by a duplicate fault, published again in place of the next one. */
  let again: Uint8Array | undefined;
  return {
    request(n: number): BlkRequestFault | undefined {
      for (const f of plan.faults) {
        if (f.req !== n) continue;
        if (f.kind === 'error') {
          log(`blk: request ${n} answered ${f.status === 'error' ? 'BLKIF_RSP_ERROR' : 'BLKIF_RSP_EOPNOTSUPP'}`);
          return { status: f.status === 'error' ? BLKIF_RSP_ERROR : BLKIF_RSP_EOPNOTSUPP };
        }
        if (f.kind === 'grant-map-fail') {
          log(`blk: request ${n}: mapping data grant ${f.seg} fails`);
          return { failMapSeg: f.seg };
        }
        if (f.kind === 'corrupt') {
          log(`blk: request ${n}: read data corrupted`);
          return { corrupt: true };
        }
      }
      return undefined;
    },
    response(r: BlkResponseOut, publish: (rsps: readonly Uint8Array[]) => void): boolean {
      const bytes = r.bytes;
      if (again !== undefined) {
        log(`blk: response ${r.n} replaced by a duplicate of the previous one`);
        bytes.set(again);
        again = undefined;
      }
      for (const f of plan.faults) {
        if (f.req !== r.n) continue;
        if (f.kind === 'unknown-id') {
          log(`blk: response ${r.n} carries unknown id ${UNKNOWN_ID_LOW.toString(16)}`);
          const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
          dv.setUint32(r.idOffset, UNKNOWN_ID_LOW, true);
          dv.setUint32(r.idOffset + 4, 0, true);
        } else if (f.kind === 'duplicate') {
          again = bytes.slice();
        }
      }
      return holder.offer(r.n, [bytes], publish);
    },
  };
}
