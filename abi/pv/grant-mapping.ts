/**
 * GNTMAP_host_map for PV guests: the PTE of a grant mapping in the mapping domain's own page
 * tables (reference §6.4; Xen 4.17 xen/arch/x86/pv/grant_table.c `create_grant_pv_mapping`,
 * `replace_grant_pv_mapping`, `steal_linear_address`), and `PvGrantMapper`, the
 * `GrantHostMapper` the grant hub calls for every domain built with a PV MMU.
 *
 * Who holds what. The grant code (gnttab/grants.ts, Xen `map_grant_ref`) takes the references
 * of a host mapping: a general reference on the granted frame, and a writable type reference
 * for a writable one. The entry written here carries them: it is what `put_page_from_l1e`
 * would release. So
 *  - unmapping through the grant table clears the entry without releasing anything (the grant
 *    code drops the references afterwards, Xen `unmap_common_complete`);
 *  - an ordinary page-table operation that drops the entry (mmu_update, update_va_mapping, the
 *    devalidation of its L1 table) releases the references then and there, and, because the
 *    entry has `_PAGE_GNTTAB`, Xen raises #GP on the running vCPU ("implicit unmap"; see
 *    `PageTypes.putPageFromL1e`). The grant stays pinned until the handle is unmapped, which no
 *    longer finds its entry (GNTST_general_error), or the domain is destroyed;
 *  - at domain destruction a PV domain's host mappings drop no references in the grant code
 *    (Xen `gnttab_release_host_mappings` is false for PV): the page tables' teardown does.
 *
 * The entry Xen writes: P, A, D, NX and `_PAGE_GNTTAB`; RW unless GNTMAP_readonly; USER with
 * GNTMAP_application_map; the three GNTMAP_guest_avail bits into PTE bits 11:9; PWT/PCD/PAT from
 * the grant's cache flags (I/O memory only, so 0 here); then Xen's usual PV64 adjustment (a
 * kernel mapping gets USER and the guest-kernel bit, a user mapping GLOBAL). Xen neither checks
 * nor refuses what the entry held before: a present old entry is released as mmu_update would.
 */
import { NO_HOST_MAPPER, type GrantHostMapper } from '../gnttab/grants.js';
import type { Domain } from '../hv/domain.js';
import { PageType } from '../hv/machine.js';
import {
  _PAGE_ACCESSED,
  _PAGE_AVAIL,
  _PAGE_DIRTY,
  _PAGE_GNTTAB,
  _PAGE_NX,
  _PAGE_PAT,
  _PAGE_PCD,
  _PAGE_PRESENT,
  _PAGE_PWT,
  _PAGE_RW,
  _PAGE_USER,
  adjustL1,
  pteMfn,
} from '../hv/page-types.js';
import { raiseImplicitUnmapFault } from '../hypercall/mmu.js';
import { GNTMAP_application_map, GNTMAP_contains_pte, GNTMAP_readonly, GNTST_general_error, GNTST_okay } from '../public/grant-table.js';
import type { PvMmu } from './mmu.js';

const TWO20 = 0x100000;
/** Xen's _GNTMAP_guest_avail0: the first of the flag bits copied into the PTE's available bits. */
const GNTMAP_GUEST_AVAIL0 = 16;

/** Xen `cacheattr_to_pte_flags`: a 3-bit PAT index (PAT, PCD, PWT) as PTE bits. */
function cacheattrToPteFlags(attr: number): number {
  return ((attr & 4) !== 0 ? _PAGE_PAT : 0) | ((attr & 2) !== 0 ? _PAGE_PCD : 0) | ((attr & 1) !== 0 ? _PAGE_PWT : 0);
}

/**
 * Xen `grant_to_pte_flags`: the 24-bit PTE flags of a host mapping with GNTMAP_* `flags` and the
 * grant's GTF_PWT/PCD/PAT `cacheFlags` (bits 7:5), before the PV64 adjustment.
 */
export function grantToPteFlags(flags: number, cacheFlags: number): number {
  let f = _PAGE_PRESENT | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_GNTTAB | _PAGE_NX;
  if ((flags & GNTMAP_application_map) !== 0) f |= _PAGE_USER;
  if ((flags & GNTMAP_readonly) === 0) f |= _PAGE_RW;
  f |= ((flags >>> GNTMAP_GUEST_AVAIL0) << 9) & _PAGE_AVAIL;
  f |= cacheattrToPteFlags((cacheFlags >>> 5) & 7);
  return f;
}

/** The entry mapping `mfn` with 24-bit `flags`, as halves. */
function entry(mfn: number, flags: number): [number, number] {
  return [(((mfn % TWO20) * 4096) | (flags & 0xfff)) >>> 0, (Math.floor(mfn / TWO20) | ((flags >>> 12) << 20)) >>> 0];
}

/** An L1 entry Xen may rewrite for the caller: the table and the entry's index. */
interface L1Slot {
  readonly mfn: number;
  readonly index: number;
}

/**
 * The L1 entry named by a grant operation's address, held as Xen holds it (a general reference
 * on the table, which must be the caller's, validated and of type L1: `get_page_from_mfn`,
 * `page_lock`): with GNTMAP_contains_pte `addr` is the entry's machine address (8-aligned),
 * otherwise a linear address looked up in the vCPU's kernel page tables (`map_guest_l1e`).
 * Undefined, with nothing held, when Xen would answer GNTST_general_error. Release with `putSlot`.
 */
function getSlot(mmu: PvMmu, vcpu: number, addr: number, containsPte: boolean): L1Slot | undefined {
  const t = mmu.types;
  let slot: L1Slot | undefined;
  if (containsPte) {
    if (!Number.isInteger(addr) || addr < 0 || addr % 8 !== 0) return undefined;
    slot = { mfn: Math.floor(addr / 4096), index: (addr % 4096) / 8 };
  } else {
    slot = mmu.guestL1(vcpu, addr);
    if (slot === undefined) return undefined;
  }
  if (!t.getPage(slot.mfn, mmu.domid)) return undefined;
  if (!t.isLiveTable(slot.mfn) || t.mem.type[slot.mfn] !== PageType.L1) {
    t.putPage(slot.mfn);
    return undefined;
  }
  return slot;
}

function readSlot(mmu: PvMmu, s: L1Slot): [number, number] {
  const v = mmu.types.mem.view(s.mfn);
  return [v.getUint32(s.index * 8, true), v.getUint32(s.index * 8 + 4, true)];
}

function writeSlot(mmu: PvMmu, s: L1Slot, lo: number, hi: number): void {
  const v = mmu.types.mem.view(s.mfn);
  v.setUint32(s.index * 8, lo >>> 0, true);
  v.setUint32(s.index * 8 + 4, hi >>> 0, true);
  mmu.types.mem.markDirty(s.mfn);
}

/**
 * Xen `create_grant_pv_mapping`: writes the grant entry for `mfn` at `addr` (see `getSlot`) in
 * `mmu`'s domain, then releases what the old entry held (an implicit unmap if it was itself a
 * grant entry). GNTST_okay or GNTST_general_error (misaligned PTE address, no L1 entry for the
 * linear address, a table that is not a validated L1 of the caller's).
 */
export function createGrantPvMapping(mmu: PvMmu, vcpu: number, addr: number, mfn: number, flags: number, cacheFlags: number): number {
  const [nlo, nhi] = adjustL1(...entry(mfn, grantToPteFlags(flags, cacheFlags)));
  const slot = getSlot(mmu, vcpu, addr, (flags & GNTMAP_contains_pte) !== 0);
  if (slot === undefined) return GNTST_general_error;
  const [olo, ohi] = readSlot(mmu, slot);
  writeSlot(mmu, slot, nlo, nhi);
  mmu.types.putPage(slot.mfn);
  mmu.types.putPageFromL1e(olo, ohi, mmu.domid);
  return GNTST_okay;
}

/**
 * Xen `steal_linear_address`: clears the L1 entry of linear `va` and returns what it held
 * (undefined, nothing changed, if `va` has no L1 entry in a validated L1 of the caller's). The
 * references of the returned entry become the caller's to place or release.
 */
function stealLinearAddress(mmu: PvMmu, vcpu: number, va: number): [number, number] | undefined {
  const slot = getSlot(mmu, vcpu, va, false);
  if (slot === undefined) return undefined;
  const old = readSlot(mmu, slot);
  writeSlot(mmu, slot, 0, 0);
  mmu.types.putPage(slot.mfn);
  return old;
}

/**
 * Xen `replace_grant_pv_mapping`: the entry at `addr` (see `getSlot`) must still map `mfn` with
 * the grant's P and RW bits; it is replaced by nothing (`newAddr` 0: unmap) or, for
 * GNTTABOP_unmap_and_replace, by the entry stolen from linear address `newAddr`, which is
 * cleared. Nothing is released for the replaced entry (the grant code holds its references).
 * GNTST_okay or GNTST_general_error: `newAddr` with GNTMAP_contains_pte, no entry to steal at
 * `newAddr`, no L1 entry at `addr`, or an entry that does not match; a stolen entry that could
 * not be placed is then released (Xen's order: it was already cleared).
 */
export function replaceGrantPvMapping(mmu: PvMmu, vcpu: number, addr: number, mfn: number, newAddr: number, flags: number): number {
  // Only P and RW must match (Xen merely logs other differences, e.g. A/D or available bits).
  const g = grantToPteFlags(flags, 0);
  const containsPte = (flags & GNTMAP_contains_pte) !== 0;
  if (containsPte && newAddr !== 0) return GNTST_general_error;
  let stolen: [number, number] = [0, 0];
  if (newAddr !== 0) {
    const s = stealLinearAddress(mmu, vcpu, newAddr);
    if (s === undefined) return GNTST_general_error;
    stolen = s;
  }
  const fail = (): number => {
    mmu.types.putPageFromL1e(stolen[0], stolen[1], mmu.domid);
    return GNTST_general_error;
  };
  const slot = getSlot(mmu, vcpu, addr, containsPte);
  if (slot === undefined) return fail();
  const [olo, ohi] = readSlot(mmu, slot);
  if (pteMfn(olo, ohi) !== mfn || ((olo ^ g) & (_PAGE_PRESENT | _PAGE_RW)) !== 0) {
    mmu.types.putPage(slot.mfn);
    return fail();
  }
  writeSlot(mmu, slot, stolen[0], stolen[1]);
  mmu.types.putPage(slot.mfn);
  return GNTST_okay;
}

/**
 * The grant hub's host mapper for PV domains: dispatches to the mapping domain's PV MMU, flushes
 * every vCPU of that domain after an entry is removed (Xen `gnttab_flush_tlb` after an unmap
 * batch; creating an entry flushes nothing), and raises the implicit-unmap #GP on the calling
 * vCPU. A domain without a PV MMU (or unknown) gets GNTST_general_error.
 */
export class PvGrantMapper implements GrantHostMapper {
  readonly pteHoldsReferences = true;
  private readonly domains = new Map<number, Domain>();

  /** The domains this mapper serves (by domid). */
  add(d: Domain): void {
    this.domains.set(d.id, d);
  }

  remove(domid: number): void {
    this.domains.delete(domid);
  }

  create(mapper: number, hostAddr: number, mfn: number, flags: number, cacheFlags: number, vcpu = 0): number {
    const d = this.domains.get(mapper);
    const mmu = d?.mmu;
    if (d === undefined || mmu === undefined || mmu.vcpus[vcpu] === undefined) return GNTST_general_error;
    mmu.takeImplicitGrantUnmaps(); // only this call's count
    const rc = createGrantPvMapping(mmu, vcpu, hostAddr, mfn, flags, cacheFlags);
    raiseImplicitUnmapFault(d, mmu, d.vcpus[vcpu]);
    return rc;
  }

  destroy(mapper: number, hostAddr: number, mfn: number, flags: number, vcpu = 0, newAddr = 0): number {
    const d = this.domains.get(mapper);
    const mmu = d?.mmu;
    if (d === undefined || mmu === undefined || mmu.vcpus[vcpu] === undefined) return GNTST_general_error;
    mmu.takeImplicitGrantUnmaps();
    const rc = replaceGrantPvMapping(mmu, vcpu, hostAddr, mfn, newAddr, flags);
    // Xen flushes after the batch whatever each element's status.
    for (const v of d.vcpus) v?.cpu.flushTlb();
    raiseImplicitUnmapFault(d, mmu, d.vcpus[vcpu]);
    return rc;
  }
}

/**
 * The hub's PV mapper, installed on first use over the default (which refuses host mappings).
 * Throws (host bug) if the hub already has some other mapper.
 */
export function pvGrantMapperOf(hub: { hostMapper: GrantHostMapper }): PvGrantMapper {
  if (hub.hostMapper instanceof PvGrantMapper) return hub.hostMapper;
  if (hub.hostMapper !== NO_HOST_MAPPER) throw new Error('grant hub: a host mapper other than the PV one is installed');
  const m = new PvGrantMapper();
  hub.hostMapper = m;
  return m;
}
