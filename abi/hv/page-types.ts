/**
 * Page types and reference counts, as Xen's x86 memory manager keeps them (xen/arch/x86/mm.c,
 * reference §4.3), for 64-bit PV domains. The state lives in `MachineMemory`'s typed arrays;
 * this module holds the rules.
 *
 * Glossary
 *  - general reference (`getPage`/`putPage`): "this frame stays allocated"; taken only on a frame
 *    owned by the domain asking (Xen `get_page`). The allocation itself holds one.
 *  - type reference (`getPageType`/`putPageType`): "this frame is used as <type>"; a frame has one
 *    type at a time and changes it only while its type count is 0. Going 0 → 1 as a page table
 *    validates the contents (Xen `_get_page_type` → `validate_page`); dropping to 0 devalidates
 *    them, releasing what the entries held (`_put_page_type` → `devalidate_page`).
 *  - an L1 entry holds a general reference on the frame it maps, and a `Writable` type reference
 *    too when it is present and RW. Hence a page-table or descriptor page is never mapped
 *    writable, and a frame mapped writable never becomes one.
 *  - an L2/L3/L4 entry holds a general and an L1/L2/L3 type reference on the table below, or,
 *    read-only, may point to a validated table of its own level ("linear page table", Xen's
 *    `get_lN_linear_pagetable`; no reference at all when it points to its own table).
 *
 * Entries are 64-bit values handled as two unsigned 32-bit halves (`lo`, `hi`). Xen's "flags"
 * are 24 bits: entry bits 11:0 and 63:52 (`pteFlags`); the frame is bits 51:12 (`pteMfn`).
 *
 * Not modelled: preemption and continuations (every operation completes atomically, which a
 * guest cannot tell apart from a continuation that finishes), PV32 (PAE L3 rules, pae_xen_l2),
 * shadow/translated modes, MMIO and I/O-memory capabilities (no domain has any: the low MiB and
 * frames beyond the pool are MMIO to which access is refused), cache-attribute flipping for MMIO.
 */
import type { GuestSite } from '../pv/guest-site.js';
import { XEN_EACCES, XEN_EBUSY, XEN_EINVAL, XEN_EPERM } from '../public/errno.js';
import { DOMID_IO, DOMID_XEN } from '../public/xen.js';
import { F_PINNED, F_VALIDATED, F_XEN_HEAP, MachineMemory, PageType } from './machine.js';
import { validateSegdescPage } from '../pv/gdt.js';

// ---- PTE flags (24-bit form: bits 11:0, then entry bits 63:52 as bits 23:12) ---------------------

export const _PAGE_PRESENT = 0x001;
export const _PAGE_RW = 0x002;
export const _PAGE_USER = 0x004;
export const _PAGE_PWT = 0x008;
export const _PAGE_PCD = 0x010;
export const _PAGE_ACCESSED = 0x020;
export const _PAGE_DIRTY = 0x040;
/** PAT in an L1 entry, PSE (superpage) in L2/L3. */
export const _PAGE_PAT = 0x080;
export const _PAGE_PSE = 0x080;
export const _PAGE_GLOBAL = 0x100;
export const _PAGE_AVAIL = 0xe00;
/** Entry bit 52: Xen marks guest-kernel L1 mappings with it (they all get USER, since the kernel runs at CPL 3). */
export const _PAGE_GUEST_KERNEL = 1 << 12;
/** Entry bits 62:52. */
export const _PAGE_AVAIL_HIGH = 0x7ff << 12;
/** Entry bit 62: grant mappings (refused in guest-written L1 entries). */
export const _PAGE_GNTTAB = 1 << 22;
/** Entry bit 63 (execute disable). */
export const _PAGE_NX = 1 << 23;
export const PAGE_CACHE_ATTRS = _PAGE_PAT | _PAGE_PCD | _PAGE_PWT;

/** Flags a guest may use at any level (Xen `arch_init_memory`); the complement is refused. */
const BASE_ALLOWED =
  _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_AVAIL | _PAGE_AVAIL_HIGH | _PAGE_NX;
const BASE_DISALLOW = ~BASE_ALLOWED & 0xffffff;
/** L1: GLOBAL allowed, the grant bit not; cache attributes only with I/O rights (Xen `l1_disallow_mask`). */
const L1_DISALLOW = (BASE_DISALLOW | _PAGE_GNTTAB) & ~_PAGE_GLOBAL;
const L1_DISALLOW_IO = L1_DISALLOW & ~PAGE_CACHE_ATTRS;
/** L2/L3/L4 (PV64): PWT, PCD, PSE and GLOBAL refused (no superpages for PV). */
export const L2_DISALLOW = BASE_DISALLOW;

/**
 * Flags whose change needs no revalidation (Xen `FASTPATH_FLAG_WHITELIST`); the others, with the
 * frame number, decide whether an update is "the same mapping". With linear page tables enabled
 * RW is not whitelisted for L2-L4 either, so both levels use one mask.
 */
const FASTPATH_WHITELIST = _PAGE_NX | _PAGE_AVAIL_HIGH | _PAGE_AVAIL | _PAGE_GLOBAL | _PAGE_DIRTY | _PAGE_ACCESSED | _PAGE_USER;
const FASTPATH_CHECK_LO = ~FASTPATH_WHITELIST & 0xfff;

/** PV64 L4 slots reserved for Xen (HYPERVISOR_VIRT_START..END); the guest may not write them. */
export const ROOT_PAGETABLE_FIRST_XEN_SLOT = 256;
export const ROOT_PAGETABLE_LAST_XEN_SLOT = 271;
/** Slot of the read-only M2P (RO_MPT_VIRT_START) and of Xen's self-linear mapping (LINEAR_PT_VIRT_START). */
export const M2P_L4_SLOT = 256;
export const LINEAR_PT_L4_SLOT = 258;

/** Frame number of the all-ones address (Xen's INVALID_MFN as a PTE can hold it): -EINVAL rather than -EPERM. */
const PTE_INVALID_MFN = 0xffffffffff;

const TWO20 = 0x100000;

/** The 24-bit flags of an entry. */
export function pteFlags(lo: number, hi: number): number {
  return (lo & 0xfff) | ((hi >>> 20) << 12);
}

/** The frame number of an entry (bits 51:12). */
export function pteMfn(lo: number, hi: number): number {
  return (hi & 0xfffff) * TWO20 + (lo >>> 12);
}

/** `lo` of an entry with the 24-bit `flags` added. */
function addLo(lo: number, flags: number): number {
  return (lo | (flags & 0xfff)) >>> 0;
}
function addHi(hi: number, flags: number): number {
  return (hi | ((flags >>> 12) << 20)) >>> 0;
}

export function isGuestL4Slot(slot: number): boolean {
  return slot < ROOT_PAGETABLE_FIRST_XEN_SLOT || slot > ROOT_PAGETABLE_LAST_XEN_SLOT;
}

/** What page-types needs to know about a domain owning frames. */
export interface PageOwnerPolicy {
  readonly domid: number;
  /** I/O-port or I/O-memory rights: PWT/PCD/PAT allowed in L1 entries. */
  readonly ioRights: boolean;
  /** The control domain (Xen's XSM default policy lets it map other domains' frames). */
  readonly privileged: boolean;
  /** VMASST_TYPE_m2p_strict is enabled. */
  m2pStrict(): boolean;
  /** Receives this domain's `--strict` observations (absent: not collected). */
  report?(d: MmuDiagnostic): void;
  /**
   * A grant mapping's entry in one of this domain's L1 tables was dropped by an ordinary
   * page-table operation (Xen `put_page_from_l1e` on a `_PAGE_GNTTAB` entry: a #GP for the
   * running vCPU unless the domain is dying).
   */
  implicitGrantUnmap?(lo: number, hi: number): void;
}

/** A "Xen would accept this, but it is suspicious" observation (`--strict`). */
export interface MmuDiagnostic {
  /** Stable identifier, e.g. 'global-kernel-page'. */
  readonly code: string;
  readonly message: string;
  readonly domid: number;
  readonly mfn?: number;
  readonly va?: number;
  /** Where the guest was (vCPU, RIP, the instruction's bytes), when a vCPU's hypercall or instruction caused it. */
  readonly site?: GuestSite;
  /** A refusal (code 'refused'): the hypercall and command, and Xen's error. */
  readonly op?: string;
  readonly error?: number;
}

export interface PageTypesOptions {
  /** Xen's `pv-linear-pt` option (default on). */
  readonly linearPageTables?: boolean;
  /**
   * Validates a segment-descriptor page when it gains that type (the GDT/LDT code supplies Xen's
   * `validate_segdesc_page`); 0 or a negative Xen errno. Default: pv/gdt.ts's, Xen's rules for PV64.
   */
  readonly validateSegdesc?: (mfn: number, owner: number) => number;
}

export class PageTypes {
  private readonly domains = new Map<number, PageOwnerPolicy>();
  private readonly linearEnabled: boolean;
  private readonly validateSegdesc: (mfn: number, owner: number) => number;

  constructor(
    readonly mem: MachineMemory,
    opts: PageTypesOptions = {},
  ) {
    this.linearEnabled = opts.linearPageTables ?? true;
    this.validateSegdesc =
      opts.validateSegdesc ??
      ((mfn) => {
        const rc = validateSegdescPage(mem.view(mfn));
        mem.markDirty(mfn); // Xen stores the descriptors back in its own form
        return rc;
      });
  }

  register(policy: PageOwnerPolicy): void {
    this.domains.set(policy.domid, policy);
  }

  unregister(domid: number): void {
    this.domains.delete(domid);
  }

  policy(domid: number): PageOwnerPolicy | undefined {
    return this.domains.get(domid);
  }

  // ---- general references -------------------------------------------------------------------

  /** Xen `get_page`: a reference on `mfn` if it is allocated and owned by `domid`. */
  getPage(mfn: number, domid: number): boolean {
    const m = this.mem;
    if (!m.valid(mfn) || (m.count[mfn] as number) === 0 || m.owner[mfn] !== domid) return false;
    m.count[mfn] = (m.count[mfn] as number) + 1;
    return true;
  }

  /** Xen `put_page`. */
  putPage(mfn: number): void {
    this.mem.putRef(mfn);
  }

  // ---- type references ------------------------------------------------------------------------

  /**
   * Xen `_get_page_type`: a type reference of `type` on `mfn` (the caller holds a general
   * reference). 0 → 1 on a page table or descriptor page validates the contents; a failed
   * validation leaves the frame untyped and returns the error. A different type while the
   * count is non-zero is -EINVAL.
   */
  getPageType(mfn: number, type: PageType): number {
    const m = this.mem;
    const count = m.typeCount[mfn] as number;
    if (count !== 0) {
      if (m.type[mfn] !== type) return -XEN_EINVAL;
      if (((m.flags[mfn] as number) & F_VALIDATED) === 0) {
        // Xen spins here on a concurrent validation; with atomic operations it cannot happen.
        throw new Error(`page-types: type reference on frame 0x${mfn.toString(16)} during its own validation`);
      }
      m.typeCount[mfn] = count + 1;
      return 0;
    }
    if (m.type[mfn] !== type) {
      m.type[mfn] = type;
      m.flags[mfn] = (m.flags[mfn] as number) & ~F_VALIDATED;
    }
    m.typeCount[mfn] = 1;
    if (((m.flags[mfn] as number) & F_VALIDATED) !== 0) return 0;
    if (type === PageType.Writable) {
      m.flags[mfn] = (m.flags[mfn] as number) | F_VALIDATED;
      return 0;
    }
    m.linear[mfn] = 0;
    const rc = this.validate(mfn, type);
    if (rc === 0) {
      m.flags[mfn] = (m.flags[mfn] as number) | F_VALIDATED;
    } else {
      m.typeCount[mfn] = 0;
      m.type[mfn] = PageType.None;
    }
    return rc;
  }

  /**
   * Xen `_put_page_type`: drops a type reference. The last one on a validated page table
   * devalidates it (releasing every entry's references). `ptpg` is the table whose entry held the
   * reference (for linear-page-table accounting), or -1.
   */
  putPageType(mfn: number, ptpg = -1): void {
    const m = this.mem;
    const count = m.typeCount[mfn] as number;
    const type = m.type[mfn] as PageType;
    if (count === 0) throw new Error(`page-types: type put on frame 0x${mfn.toString(16)} with no type reference`);
    if (count === 1 && type >= PageType.L1 && type <= PageType.L4 && ((m.flags[mfn] as number) & F_VALIDATED) !== 0) {
      m.flags[mfn] = (m.flags[mfn] as number) & ~F_VALIDATED;
      this.devalidate(mfn, type);
    }
    if (ptpg >= 0 && m.type[ptpg] === type) {
      // A linear reference (a table of the same level pointing at this one).
      m.linear[mfn] = (m.linear[mfn] as number) + 1;
      m.linear[ptpg] = (m.linear[ptpg] as number) - 1;
    }
    m.typeCount[mfn] = count - 1;
  }

  /** Xen `get_page_and_type_from_mfn`: -EINVAL when the frame is not `domid`'s, else `getPageType`'s result. */
  getPageAndType(mfn: number, type: PageType, domid: number): number {
    if (!this.getPage(mfn, domid)) return -XEN_EINVAL;
    const rc = this.getPageType(mfn, type);
    if (rc !== 0) this.putPage(mfn);
    return rc;
  }

  /** Xen `put_page_and_type`. */
  putPageAndType(mfn: number, ptpg = -1): void {
    this.putPageType(mfn, ptpg);
    this.putPage(mfn);
  }

  // ---- what entries hold ----------------------------------------------------------------------

  /** The L1 flag check (Xen `l1_disallow_mask`): PWT/PCD/PAT without I/O rights, bit 62 (grant). */
  l1FlagsBad(lo: number, hi: number, l1eOwner: number): boolean {
    const io = this.domains.get(l1eOwner)?.ioRights === true;
    return (pteFlags(lo, hi) & (io ? L1_DISALLOW_IO : L1_DISALLOW)) !== 0;
  }

  /**
   * Xen `get_page_from_l1e` for a present entry written into a table of `l1eOwner`, mapping a
   * frame of `pgOwner` (the caller itself unless mmu_update named a foreign domain): 0, or a
   * negative errno. Bad flags -EINVAL; MMIO (the low MiB, beyond the pool) -EPERM (-EINVAL for the
   * all-ones frame); a frame that is free or not `pgOwner`'s -EBUSY; RW on a frame that cannot
   * take the writable type (a page table, a descriptor page) -EBUSY; cache attributes on a Xen
   * page -EACCES.
   */
  getPageFromL1e(lo: number, hi: number, l1eOwner: number, pgOwner: number): number {
    const m = this.mem;
    const flags = pteFlags(lo, hi);
    if (this.l1FlagsBad(lo, hi, l1eOwner)) return -XEN_EINVAL;
    const mfn = pteMfn(lo, hi);
    const allocated = m.valid(mfn) && (m.count[mfn] as number) !== 0;
    if (!m.valid(mfn) || (allocated && m.owner[mfn] === DOMID_IO)) {
      // MMIO: no domain here has I/O-memory rights (Xen `iomem_access_permitted`).
      return mfn === PTE_INVALID_MFN ? -XEN_EINVAL : -XEN_EPERM;
    }
    if (!allocated) return -XEN_EBUSY;
    const realOwner = m.owner[mfn] as number;
    if (realOwner !== pgOwner) {
      // Only a privileged page owner may pass on the right to map its target's frames.
      if (pgOwner === l1eOwner || this.domains.get(pgOwner)?.privileged !== true) return -XEN_EBUSY;
    }
    m.count[mfn] = (m.count[mfn] as number) + 1;
    const write = (flags & _PAGE_RW) !== 0;
    if (write && this.getPageType(mfn, PageType.Writable) !== 0) {
      this.putPage(mfn);
      return -XEN_EBUSY;
    }
    if ((flags & PAGE_CACHE_ATTRS) !== 0 && ((m.flags[mfn] as number) & F_XEN_HEAP) !== 0) {
      if (write) this.putPageType(mfn);
      this.putPage(mfn);
      return -XEN_EACCES;
    }
    return 0;
  }

  /**
   * Xen `put_page_from_l1e`: releases what a present L1 entry of `l1eOwner`'s held. A grant
   * mapping's entry (`_PAGE_GNTTAB`) holds the references the grant code took for it; dropping it
   * here rather than through GNTTABOP_unmap_grant_ref is an implicit unmap, which Xen answers
   * with a #GP to the running vCPU: the owner's policy hears of it (`implicitGrantUnmap`).
   */
  putPageFromL1e(lo: number, hi: number, l1eOwner = -1): void {
    if ((lo & _PAGE_PRESENT) === 0) return;
    const m = this.mem;
    const mfn = pteMfn(lo, hi);
    if (!m.valid(mfn) || m.owner[mfn] === DOMID_IO) return;
    if ((pteFlags(lo, hi) & _PAGE_GNTTAB) !== 0 && l1eOwner >= 0) this.domains.get(l1eOwner)?.implicitGrantUnmap?.(lo, hi);
    if ((lo & _PAGE_RW) !== 0) this.putPageAndType(mfn);
    else this.putPage(mfn);
  }

  /** Xen `get_page_from_l2e`/`l3e`/`l4e`: an entry of the level-`level` table `tableMfn` (2..4) of domain `d`. */
  getPageFromLne(level: 2 | 3 | 4, lo: number, hi: number, tableMfn: number, d: number): number {
    if ((pteFlags(lo, hi) & L2_DISALLOW) !== 0) return -XEN_EINVAL;
    const rc = this.getPageAndType(pteMfn(lo, hi), (level - 1) as PageType, d);
    if (rc === -XEN_EINVAL && this.getLinear(level, lo, hi, tableMfn, d)) return 0;
    return rc;
  }

  /** Xen `put_page_from_l2e`/`l3e`/`l4e`. */
  putPageFromLne(lo: number, hi: number, tableMfn: number): void {
    if ((lo & _PAGE_PRESENT) === 0) return;
    const mfn = pteMfn(lo, hi);
    if (mfn === tableMfn) return;
    this.putPageAndType(mfn, tableMfn);
  }

  /** Xen `get_lN_linear_pagetable`: a read-only entry to a validated table of the same level. */
  private getLinear(level: number, lo: number, hi: number, tableMfn: number, d: number): boolean {
    if (!this.linearEnabled || (lo & _PAGE_RW) !== 0) return false;
    const m = this.mem;
    const mfn = pteMfn(lo, hi);
    if (mfn === tableMfn) return true;
    if (m.owner[tableMfn] !== d || !this.getPage(mfn, d)) return false;
    // A table either holds linear entries (count > 0) or is the target of some (count < 0).
    const entries = m.linear[tableMfn] as number;
    const uses = m.linear[mfn] as number;
    if (entries < 0 || entries === 0x7fff || uses > 0 || uses === -0x8000) {
      this.putPage(mfn);
      return false;
    }
    if (m.type[mfn] !== level || ((m.flags[mfn] as number) & F_VALIDATED) === 0 || (m.typeCount[mfn] as number) === 0) {
      this.putPage(mfn);
      return false;
    }
    m.linear[tableMfn] = entries + 1;
    m.linear[mfn] = uses - 1;
    m.typeCount[mfn] = (m.typeCount[mfn] as number) + 1;
    return true;
  }

  // ---- validation -----------------------------------------------------------------------------

  private validate(mfn: number, type: PageType): number {
    switch (type) {
      case PageType.L1:
        return this.promoteL1(mfn);
      case PageType.L2:
      case PageType.L3:
      case PageType.L4:
        return this.promoteUpper(mfn, type);
      case PageType.SegDesc:
        return this.validateSegdesc(mfn, this.mem.owner[mfn] as number);
      default:
        throw new Error(`page-types: no validation for type ${type}`);
    }
  }

  /** Xen `promote_l1_table`: every present entry referenced; entries rewritten as Xen stores them. */
  private promoteL1(mfn: number): number {
    const d = this.mem.owner[mfn] as number;
    const v = this.mem.view(mfn);
    for (let i = 0; i < 512; i++) {
      const lo = v.getUint32(i * 8, true);
      const hi = v.getUint32(i * 8 + 4, true);
      if ((lo & _PAGE_PRESENT) === 0) continue;
      const rc = this.getPageFromL1e(lo, hi, d, d);
      if (rc < 0) {
        for (let k = i - 1; k >= 0; k--) this.putPageFromL1e(v.getUint32(k * 8, true), v.getUint32(k * 8 + 4, true));
        return rc;
      }
      this.storeAdjustedL1(v, i, lo, hi, d, mfn);
    }
    return 0;
  }

  /** Xen `promote_l2_table`/`l3`/`l4` for PV64. An L4 then gets Xen's slots. */
  private promoteUpper(mfn: number, type: PageType.L2 | PageType.L3 | PageType.L4): number {
    const d = this.mem.owner[mfn] as number;
    const v = this.mem.view(mfn);
    for (let i = 0; i < 512; i++) {
      if (type === PageType.L4 && !isGuestL4Slot(i)) continue;
      const lo = v.getUint32(i * 8, true);
      const hi = v.getUint32(i * 8 + 4, true);
      if ((lo & _PAGE_PRESENT) === 0) continue;
      const rc = this.getPageFromLne(type, lo, hi, mfn, d);
      if (rc < 0) {
        for (let k = i - 1; k >= 0; k--) {
          if (type === PageType.L4 && !isGuestL4Slot(k)) continue;
          this.putPageFromLne(v.getUint32(k * 8, true), v.getUint32(k * 8 + 4, true), mfn);
        }
        return rc;
      }
      // Xen `adjust_guest_l2e`/`l3e`/`l4e`: USER on every level (the kernel runs at CPL 3), ACCESSED on L4.
      v.setUint32(i * 8, addLo(lo, type === PageType.L4 ? _PAGE_USER | _PAGE_ACCESSED : _PAGE_USER), true);
    }
    this.mem.markDirty(mfn);
    if (type === PageType.L4) this.initXenL4Slots(mfn, d);
    return 0;
  }

  /**
   * Xen `adjust_guest_l1e`: a kernel mapping (no USER) gets USER and the guest-kernel bit 52; a
   * user mapping gets GLOBAL (it survives the kernel/user root switch).
   */
  storeAdjustedL1(v: DataView, i: number, lo: number, hi: number, d: number, tableMfn: number): void {
    this.noteGlobalKernel(lo, hi, d, tableMfn, i);
    const [nlo, nhi] = adjustL1(lo, hi);
    v.setUint32(i * 8, nlo, true);
    v.setUint32(i * 8 + 4, nhi, true);
    this.mem.markDirty(tableMfn);
  }

  /**
   * `--strict`: a kernel mapping (no USER, or Xen's guest-kernel bit) with GLOBAL. Xen makes it
   * USER and keeps GLOBAL, so it can survive the switch to the user root (Xen itself warns about
   * the second form; Linux clears GLOBAL under PV for this reason).
   */
  noteGlobalKernel(lo: number, hi: number, d: number, tableMfn: number, i: number): void {
    const f = pteFlags(lo, hi);
    if ((lo & _PAGE_PRESENT) !== 0 && (f & _PAGE_GLOBAL) !== 0 && ((f & _PAGE_USER) === 0 || (f & _PAGE_GUEST_KERNEL) !== 0)) {
      this.diag({ code: 'global-kernel-page', domid: d, mfn: tableMfn, message: `L1 entry ${i} of frame 0x${tableMfn.toString(16)} maps a guest-kernel page with GLOBAL set` });
    }
  }

  /**
   * Xen `init_xen_l4_slots` for a PV64 guest: slots 256-271 belong to Xen whatever the guest
   * left there. 256 maps the M2P read-only if VMASST m2p_strict is on (otherwise NEW_BASEPTR
   * fills it, `fillRoMpt`); 258 is Xen's self-linear mapping (not user-accessible); the others
   * hold Xen-private mappings we do not have, left empty.
   */
  private initXenL4Slots(mfn: number, d: number): void {
    const v = this.mem.view(mfn);
    let guestJunk = false;
    for (let i = ROOT_PAGETABLE_FIRST_XEN_SLOT; i <= ROOT_PAGETABLE_LAST_XEN_SLOT; i++) {
      if (v.getUint32(i * 8, true) !== 0 || v.getUint32(i * 8 + 4, true) !== 0) guestJunk = true;
      v.setUint32(i * 8, 0, true);
      v.setUint32(i * 8 + 4, 0, true);
    }
    if (guestJunk) {
      this.diag({ code: 'l4-xen-slots-overwritten', domid: d, mfn, message: `L4 frame 0x${mfn.toString(16)} had entries in Xen's slots 256-271; Xen overwrites them` });
    }
    if (this.domains.get(d)?.m2pStrict() === true) this.writeM2pSlot(v);
    // Self-linear: present, RW, accessed, dirty; supervisor only.
    v.setUint32(LINEAR_PT_L4_SLOT * 8, (((mfn % TWO20) * 4096) | 0x63) >>> 0, true);
    v.setUint32(LINEAR_PT_L4_SLOT * 8 + 4, Math.floor(mfn / TWO20), true);
  }

  private writeM2pSlot(v: DataView): void {
    const l3 = this.mem.m2pL3;
    v.setUint32(M2P_L4_SLOT * 8, (((l3 % TWO20) * 4096) | 0x25) >>> 0, true);
    v.setUint32(M2P_L4_SLOT * 8 + 4, Math.floor(l3 / TWO20), true);
  }

  /** Xen `fill_ro_mpt`: puts the M2P into slot 256 of an L4 if that slot is empty. */
  fillRoMpt(l4mfn: number): void {
    const v = this.mem.view(l4mfn);
    if (v.getUint32(M2P_L4_SLOT * 8, true) === 0 && v.getUint32(M2P_L4_SLOT * 8 + 4, true) === 0) this.writeM2pSlot(v);
  }

  /** Xen `zap_ro_mpt`: removes the M2P from slot 256 (user roots under m2p_strict). */
  zapRoMpt(l4mfn: number): void {
    const v = this.mem.view(l4mfn);
    v.setUint32(M2P_L4_SLOT * 8, 0, true);
    v.setUint32(M2P_L4_SLOT * 8 + 4, 0, true);
  }

  /** Xen `devalidate_page` → `demote_lN_table`: drops every reference the entries hold. */
  private devalidate(mfn: number, type: PageType): void {
    const v = this.mem.view(mfn);
    if (type === PageType.L1) {
      const owner = this.mem.owner[mfn] as number;
      for (let i = 0; i < 512; i++) this.putPageFromL1e(v.getUint32(i * 8, true), v.getUint32(i * 8 + 4, true), owner);
      return;
    }
    for (let i = 511; i >= 0; i--) {
      if (type === PageType.L4 && !isGuestL4Slot(i)) continue;
      this.putPageFromLne(v.getUint32(i * 8, true), v.getUint32(i * 8 + 4, true), mfn);
    }
  }

  // ---- helpers for the MMU operations ---------------------------------------------------------

  /** Whether `mfn` is validated with type references (Xen's `page_lock` succeeding). */
  isLiveTable(mfn: number): boolean {
    const m = this.mem;
    return ((m.flags[mfn] as number) & F_VALIDATED) !== 0 && (m.typeCount[mfn] as number) !== 0;
  }

  isPinned(mfn: number): boolean {
    return ((this.mem.flags[mfn] as number) & F_PINNED) !== 0;
  }

  /** Hands a `--strict` observation to the domain it concerns. */
  diag(d: MmuDiagnostic): void {
    this.domains.get(d.domid)?.report?.(d);
  }
}

/** Xen `adjust_guest_l1e` for PV64 (present entries only). */
export function adjustL1(lo: number, hi: number): [number, number] {
  if ((lo & _PAGE_PRESENT) === 0) return [lo >>> 0, hi >>> 0];
  let f = pteFlags(lo, hi);
  if ((f & _PAGE_USER) === 0) f |= _PAGE_GUEST_KERNEL | _PAGE_USER;
  if ((f & _PAGE_GUEST_KERNEL) === 0) f |= _PAGE_GLOBAL | _PAGE_USER;
  return [addLo(lo, f), addHi(hi, f)];
}

/** Xen `adjust_guest_l2e`/`l3e`/`l4e` for PV64 (present entries only). */
export function adjustUpper(level: 2 | 3 | 4, lo: number, hi: number): [number, number] {
  if ((lo & _PAGE_PRESENT) === 0) return [lo >>> 0, hi >>> 0];
  return [addLo(lo, level === 4 ? _PAGE_USER | _PAGE_ACCESSED : _PAGE_USER), hi >>> 0];
}

/** Xen's `lNe_has_changed(old, new, ~FASTPATH_FLAG_WHITELIST)`: a different frame or P/RW/PWT/PCD/PAT(PSE). */
export function pteChanged(olo: number, ohi: number, nlo: number, nhi: number): boolean {
  return ((olo ^ nlo) & (0xfffff000 | FASTPATH_CHECK_LO)) !== 0 || ((ohi ^ nhi) & 0xfffff) !== 0;
}

/** Owners that are not domains (Xen's dom_io, dom_xen). */
export function isPseudoOwner(domid: number): boolean {
  return domid === DOMID_IO || domid === DOMID_XEN;
}
