/**
 * The PV MMU hypercalls (reference §4.4-4.6): mmu_update, mmuext_op, update_va_mapping and
 * update_va_mapping_otherdomain. The semantics are pv/mmu.ts's; this module reads the arguments
 * and applies what the MMU reports to the vCPUs (TLB flushes and INVLPGs, new page-table roots,
 * frames Xen wrote behind the CPU, the #GP for a grant mapping dropped implicitly).
 */
import type { Domain } from '../hv/domain.js';
import type { MmuEffects, PvMmu } from '../pv/mmu.js';
import type { PvVcpu } from '../pv/vcpu.js';
import { GP } from '../../x86/fault.js';
import { XEN_ENOSYS } from '../public/errno.js';
import { cmdOf, type Handler, type HypercallContext } from './context.js';

/** The calling domain's PV MMU (undefined for a test machine without one: -ENOSYS). */
export type MmuOf = (ctx: HypercallContext) => PvMmu | undefined;

/**
 * Xen `put_page_from_l1e`: an ordinary page-table operation that dropped a grant mapping's entry
 * (`_PAGE_GNTTAB`) raises #GP(0) on the calling vCPU, unless the domain is shutting down. The
 * operation itself has completed, with its references released (an implicit unmap).
 */
export function raiseImplicitUnmapFault(d: Domain, mmu: PvMmu, vcpu: PvVcpu | undefined): void {
  if (mmu.takeImplicitGrantUnmaps() === 0 || vcpu === undefined || !d.running) return;
  vcpu.deliverTrap(GP, 0);
}

/** Applies the MMU's effects to the domain's vCPUs (`vcpu`: the caller, for the implicit-unmap #GP). */
export function applyEffects(d: Domain, mmu: PvMmu, e: MmuEffects, vcpu?: PvVcpu): void {
  for (const mfn of e.written) {
    const view = mmu.types.mem.frame(mfn);
    if (view !== undefined) for (const v of d.vcpus) v?.cpu.invalidateFrame(view);
  }
  for (const n of e.newBaseptr) {
    const v = d.vcpus[n];
    if (v === undefined) continue;
    v.guestTable = mmu.vcpus[n]?.guestTable ?? 0;
    if (v.kernelMode) v.loadRoot();
  }
  for (const n of e.newUserBaseptr) {
    const v = d.vcpus[n];
    if (v === undefined) continue;
    v.guestTableUser = mmu.vcpus[n]?.guestTableUser ?? 0;
    if (!v.kernelMode) v.loadRoot();
  }
  for (const n of e.flush) d.vcpus[n]?.cpu.flushTlb();
  for (const { vcpu: n, va } of e.invlpg) d.vcpus[n]?.cpu.invlpg(va);
  raiseImplicitUnmapFault(d, mmu, vcpu);
}

export function mmuUpdate(mmuOf: MmuOf): Handler {
  return (ctx) => {
    const mmu = mmuOf(ctx);
    if (mmu === undefined) return -XEN_ENOSYS;
    mmu.takeImplicitGrantUnmaps(); // only this call's count
    const r = mmu.hypercallMmuUpdate(ctx.mem, ctx.vcpu.id, ctx.arg(1), cmdOf(ctx, 2), ctx.arg(3), cmdOf(ctx, 4) & 0xffff);
    applyEffects(ctx.domain, mmu, r.effects, ctx.vcpu);
    return r.rc;
  };
}

export function mmuextOp(mmuOf: MmuOf): Handler {
  return (ctx) => {
    const mmu = mmuOf(ctx);
    if (mmu === undefined) return -XEN_ENOSYS;
    mmu.takeImplicitGrantUnmaps(); // only this call's count
    const r = mmu.hypercallMmuextOp(ctx.mem, ctx.vcpu.id, ctx.arg(1), cmdOf(ctx, 2), ctx.arg(3), cmdOf(ctx, 4) & 0xffff);
    applyEffects(ctx.domain, mmu, r.effects, ctx.vcpu);
    return r.rc;
  };
}

/** update_va_mapping(va, val, flags): PV64 passes the 64-bit PTE in one register. */
export function updateVaMapping(mmuOf: MmuOf): Handler {
  return (ctx) => {
    const mmu = mmuOf(ctx);
    if (mmu === undefined) return -XEN_ENOSYS;
    mmu.takeImplicitGrantUnmaps(); // only this call's count
    const [lo, hi] = ctx.argHalves(2);
    const r = mmu.updateVaMapping(ctx.vcpu.id, ctx.arg(1), lo, hi, cmdOf(ctx, 3), ctx.mem);
    applyEffects(ctx.domain, mmu, r.effects, ctx.vcpu);
    return r.rc;
  };
}

/** update_va_mapping_otherdomain(va, val, flags, domid). */
export function updateVaMappingOtherdomain(mmuOf: MmuOf): Handler {
  return (ctx) => {
    const mmu = mmuOf(ctx);
    if (mmu === undefined) return -XEN_ENOSYS;
    mmu.takeImplicitGrantUnmaps(); // only this call's count
    const [lo, hi] = ctx.argHalves(2);
    const r = mmu.updateVaMappingOtherdomain(ctx.vcpu.id, ctx.arg(1), lo, hi, cmdOf(ctx, 3), cmdOf(ctx, 4) & 0xffff, ctx.mem);
    applyEffects(ctx.domain, mmu, r.effects, ctx.vcpu);
    return r.rc;
  };
}
