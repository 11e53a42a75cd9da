/**
 * What a hypercall handler works with: the calling vCPU and domain, its arguments, guest memory
 * through the caller's page tables, and where to note the sub-op for the statistics. Every
 * family module exports handlers of type `Handler`; `table.ts` maps numbers to them.
 */
import type { Domain } from '../hv/domain.js';
import type { GuestMemory } from '../layout/memory.js';
import { NO_RETURN, type PvVcpu } from '../pv/vcpu.js';
import type { HypercallTable } from './table.js';

export { NO_RETURN };

export interface HypercallContext {
  readonly vcpu: PvVcpu;
  readonly domain: Domain;
  /** Guest virtual memory of the caller (copy_from_guest / copy_to_guest). */
  readonly mem: GuestMemory;
  /** Argument k (1-5) as a number: exact for pointers and values below 2^53. */
  arg(k: number): number;
  /** Argument k as its exact int32 halves [low, high]. */
  argHalves(k: number): readonly [number, number];
  /** Names the sub-op for the statistics (e.g. "SCHEDOP_shutdown"). */
  subop(name: string): void;
  /** The table this call came through (multicall runs its entries through it). */
  readonly table: HypercallTable;
}

export type Handler = (ctx: HypercallContext) => number | typeof NO_RETURN;

/** Narrows a 64-bit argument to an unsigned 32-bit command (Xen's `unsigned int cmd`). */
export function cmdOf(ctx: HypercallContext, k: number): number {
  return ctx.argHalves(k)[0] >>> 0;
}
