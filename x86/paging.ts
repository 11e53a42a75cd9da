/**
 * The paging unit: linear → physical translation by walking the guest's page tables over a
 * `PhysicalMemory` (Intel SDM vol. 3 ch. 4, AMD APM vol. 2 ch. 5).
 *
 * `Mmu` is the `LinearMemory` of a system-level CPU. It has no TLB of its own: the CPU's
 * software TLB is the TLB, and calls `lookup` on a miss; the CPU flushes it on CR3/CR0/CR4
 * writes, INVLPG and CPL changes. The control registers are read from `regs` (the CPU object)
 * on every walk, never cached.
 *
 * Modes (SDM §4.1.1), picked per walk:
 *  - CR0.PG = 0: linear = physical (the low 32 bits), no faults.
 *  - 32-bit paging (CR4.PAE = 0): 2 levels of 4-byte entries; CR4.PSE enables 4 MiB pages,
 *    with PSE-36 (PDE bits 20:13 give physical bits 39:32).
 *  - PAE paging (CR4.PAE = 1, EFER.LMA = 0): 4 PDPTEs, then 2 levels of 8-byte entries; 2 MiB pages.
 *  - 4-level paging (EFER.LMA = 1): 4 levels of 8-byte entries; 2 MiB and 1 GiB pages.
 * MAXPHYADDR is 40 (`MAXPHYADDR`): entry bits 51:40 (62:40 under PAE) are reserved.
 *
 * Documented choices:
 *  - Accessed/dirty bits are written only when the whole translation succeeds, permission checks
 *    included: a walk that faults leaves every entry untouched. The SDM (§4.8) only says when A
 *    and D are set for a translation that is used; real processors may also set A in the upper
 *    levels of a walk that faults lower down, which no software can rely on. A is set in every
 *    entry used that has one (not in PAE PDPTEs, where bit 5 is reserved), D in the entry that
 *    maps the page, on writes. Each update is a read-modify-write of the entry's low dword,
 *    skipped when the bits are already set, through the frame's DataView (`mmioWrite` for a
 *    table outside RAM).
 *  - PAE PDPTEs are read from memory on each walk. Hardware loads them into registers when CR3
 *    is loaded (and on CR0/CR4 writes that enter PAE paging), raising #GP for reserved bits;
 *    the CPU calls `checkPdptes` at those points. A guest that edits a PDPTE without reloading
 *    CR3 therefore sees the new value here, where an Intel CPU would keep the loaded one; a
 *    present PDPTE with reserved bits found during a walk is a #PF with RSVD.
 *  - #PF error codes (SDM §4.7): P is 0 for a not-present entry and 1 otherwise (protection
 *    or reserved bit); RSVD for a reserved bit; W/R for writes; U/S for user accesses; I/D for
 *    instruction fetches only when CR4.SMEP = 1 or (CR4.PAE = 1 and EFER.NXE = 1).
 *  - Page tables held outside RAM are read with `phys.mmioRead` (unassigned addresses read all
 *    ones, so such an entry usually has reserved bits set).
 *
 * There is no state to save: everything architectural lives in the registers and in memory; the
 * observers are hooks the layer above re-installs.
 */
import { Fault, PFEC_I, PFEC_P, PFEC_RSVD, PFEC_U, PFEC_W, PF_VEC } from './fault.js';
import {
  AccessKind,
  LOOKUP_GLOBAL,
  LOOKUP_NOCACHE,
  PAGE_MASK,
  PAGE_SIZE,
  pageOf,
  type LinearMemory,
  type PhysicalMemory,
} from './memory.js';

/** Physical address width: 40 bits (1 TiB), as CPUID.80000008H:EAX[7:0] should report. */
export const MAXPHYADDR = 40;

/** The control state the paging unit reads on every walk (the CPU object provides these fields). */
export interface PagingRegs {
  cr0: number;
  /** Full CR3 value (up to MAXPHYADDR bits); bits 11:0 (PCD, PWT, PCID) are ignored here. */
  cr3: number;
  cr4: number;
  efer: number;
  /** SMAP: true when an explicit supervisor data access may touch user pages (RFLAGS.AC = 1 and not an implicit access) */
  smapOverride: boolean;
}

/** One paging-structure entry read during a walk. */
export interface WalkEntry {
  /** 4 = PML4E, 3 = PDPTE, 2 = PDE, 1 = PTE (32-bit paging: 2 and 1; PAE: 3, 2, 1). */
  readonly level: number;
  /** Physical address of the entry. */
  readonly entryPa: number;
  /** Low and high 32 bits of the entry as read (before any A/D update); `hi` is 0 for 4-byte entries. */
  readonly lo: number;
  readonly hi: number;
}

/** What `onWalk` receives after each walk made by `lookup`. */
export interface WalkInfo {
  readonly la: number;
  readonly kind: AccessKind;
  readonly user: boolean;
  /** The entries read, top level first, up to the one that maps the page or stopped the walk. */
  readonly entries: readonly WalkEntry[];
  /** The physical address on success, undefined when the walk faulted. */
  readonly pa: number | undefined;
  /** The #PF raised, or undefined on success. */
  readonly fault: Fault | undefined;
}

/** Called for a write lookup that resolves to an observed frame, with the frame and physical address. */
export type WriteObserver = (pfn: number, pa: number) => void;

// Control-register and EFER bits the walk reads (SDM vol. 3 §2.5, §2.2.1).
const CR0_WP = 1 << 16;
const CR0_PG = 1 << 31;
const CR4_PSE = 1 << 4;
const CR4_PAE = 1 << 5;
const CR4_PGE = 1 << 7;
const CR4_SMEP = 1 << 20;
const CR4_SMAP = 1 << 21;
const EFER_LMA = 1 << 10;
const EFER_NXE = 1 << 11;

// Paging-structure entry bits (low dword).
const PTE_P = 1;
const PTE_RW = 2;
const PTE_US = 4;
const PTE_A = 0x20;
const PTE_D = 0x40;
const PTE_PS = 0x80;
const PTE_G = 0x100;

const TWO32 = 4294967296;
/** Reserved bits of 8-byte entries, high dword: bits 51:40 (4-level) or 62:40 (PAE), plus bit 63 when EFER.NXE = 0. */
const RSVD_HI_4L = 0x000fff00;
const RSVD_HI_PAE = 0x7fffff00;
const XD_HI = 1 << 31;
/** PAE PDPTE: bits 2:1 and 8:5 reserved (low), 63:40 (high, XD included whatever NXE says). */
const PDPTE_RSVD_LO = 0x1e6;
const PDPTE_RSVD_HI = 0xffffff00 | 0;
/** Large-page entries: bits 29:13 (1 GiB), 20:13 (2 MiB), 21 (4 MiB with MAXPHYADDR 40: PDE bits 20:13 are PA 39:32). */
const RSVD_1G = 0x3fffe000;
const RSVD_2M = 0x001fe000;
const RSVD_4M = 0x00200000;

export class Mmu implements LinearMemory {
  /** LOOKUP_* bits of the last successful `lookup`. */
  lookupFlags = 0;
  /**
   * Page-walk observer (diagnostics): called after each walk `lookup` makes, success or fault
   * (not with paging off, where nothing is walked, nor for `translate`, `walkEntries` or the
   * re-translation behind `mmioRead`/`mmioWrite`).
   */
  onWalk: ((walk: WalkInfo) => void) | undefined = undefined;

  // Scratch state of the current walk (no allocation per walk).
  private readonly entPa = new Float64Array(4);
  private readonly entLo = new Int32Array(4);
  private readonly entHi = new Int32Array(4);
  private depth = 0;
  /** Level number of the first entry read (4, 3 or 2). */
  private top = 0;
  /** Index of the first recorded entry that has an accessed bit (1 under PAE: PDPTEs have none). */
  private adFrom = 0;
  /** The entry mapping the page has G = 1. */
  private leafG = false;
  private errorCode = 0;
  private rLo = 0;
  private rHi = 0;
  /** Page number and physical frame address of the last lookup that returned a non-RAM page. */
  private mmioPage = Number.NaN;
  private mmioBase = 0;

  private readonly writeObservers = new Map<number, WriteObserver>();
  private allWrites: WriteObserver | undefined = undefined;
  /** Any write observer installed (one check on the write-lookup path). */
  private observing = false;

  constructor(
    /** The memory the walks read (also for side-effect-free peeks after a `translate`). */
    readonly phys: PhysicalMemory,
    /**
     * The control registers, read on every walk. Assignable, so that a CPU created with this
     * Mmu as its memory can install itself once it exists.
     */
    public regs: PagingRegs,
  ) {}

  // ---- LinearMemory ---------------------------------------------------------------------------

  lookup(la: number, kind: AccessKind, user: boolean): DataView | undefined {
    this.mmioPage = Number.NaN;
    const pa = this.walk(la, kind, user, true);
    if (pa < 0) {
      const fault = new Fault(PF_VEC, this.errorCode, la);
      if (this.onWalk !== undefined) this.report(la, kind, user, undefined, fault);
      throw fault;
    }
    if (this.depth !== 0) this.setAccessedDirty(kind === AccessKind.Write);
    if (this.onWalk !== undefined && this.depth !== 0) this.report(la, kind, user, pa, undefined);
    let flags = this.leafG && (this.regs.cr4 & CR4_PGE) !== 0 ? LOOKUP_GLOBAL : 0;
    const pfn = Math.floor(pa / PAGE_SIZE);
    const view = this.phys.frame(pfn);
    if (view === undefined) {
      this.mmioPage = pageOf(la);
      this.mmioBase = pfn * PAGE_SIZE;
    }
    if (this.observing && kind === AccessKind.Write && this.notifyWrite(pfn, pa)) flags |= LOOKUP_NOCACHE;
    this.lookupFlags = flags;
    return view;
  }

  mmioRead(la: number, size: 1 | 2 | 4): number {
    return this.phys.mmioRead(this.mmioAddress(la), size);
  }

  mmioWrite(la: number, size: 1 | 2 | 4, value: number): void {
    this.phys.mmioWrite(this.mmioAddress(la), size, value);
  }

  // ---- hooks for the layer above --------------------------------------------------------------

  /**
   * Installs (or with undefined removes) the write observer of frame `pfn`: every write lookup
   * that resolves to the frame calls it before returning and reports LOOKUP_NOCACHE, so the CPU
   * asks again on the next write; so does a walk that sets an accessed or dirty bit in an entry
   * of the frame (a page table). The observer may remove itself.
   */
  observeWrites(pfn: number, fn: WriteObserver | undefined): void {
    if (fn === undefined) this.writeObservers.delete(pfn);
    else this.writeObservers.set(pfn, fn);
    this.observing = this.writeObservers.size !== 0 || this.allWrites !== undefined;
  }

  /** How many frames have a write observer (diagnostics: a log-dirty that is off leaves none). */
  get observedFrames(): number {
    return this.writeObservers.size;
  }

  /** A write observer for every frame (dirty logging); same semantics as `observeWrites`. */
  observeWritesAll(fn: WriteObserver | undefined): void {
    this.allWrites = fn;
    this.observing = this.writeObservers.size !== 0 || this.allWrites !== undefined;
  }

  // ---- side-effect-free queries ---------------------------------------------------------------

  /**
   * The translation `lookup` would make, as a physical address or the #PF it would raise, with
   * no A/D update and no observer called (debuggers, diagnostics).
   */
  translate(la: number, kind: AccessKind, user: boolean): { pa: number } | Fault {
    const pa = this.walk(la, kind, user, true);
    return pa < 0 ? new Fault(PF_VEC, this.errorCode, la) : { pa };
  }

  /** The entries a walk for `la` reads, top level first, up to the one that maps it or stops it (page-table dump). */
  walkEntries(la: number): WalkEntry[] {
    this.walk(la, AccessKind.Read, false, false);
    return this.entries();
  }

  /**
   * PAE paging: whether the four PDPTEs at `cr3` (default: the current CR3) are loadable, i.e.
   * no present one has a reserved bit set. The CPU calls it when CR3 is loaded in PAE mode and
   * when a CR0/CR4 write enters PAE paging, and raises #GP(0) on false (SDM §4.4.1).
   */
  checkPdptes(cr3: number = this.regs.cr3): boolean {
    const base = (cr3 & 0xffffffe0) >>> 0;
    for (let k = 0; k < 4; k++) {
      this.depth = 0;
      this.read64(base + k * 8);
      const lo = this.rLo;
      if ((lo & PTE_P) !== 0 && ((lo & PDPTE_RSVD_LO) !== 0 || (this.rHi & PDPTE_RSVD_HI) !== 0)) return false;
    }
    return true;
  }

  // ---- the walk -------------------------------------------------------------------------------

  /**
   * Translates `la`: the physical address, or -1 with `errorCode` set. Records the entries read
   * in the scratch arrays. With `check` false, only structural faults (not present, reserved
   * bits) stop it; permissions are not checked.
   */
  private walk(la: number, kind: AccessKind, user: boolean, check: boolean): number {
    const regs = this.regs;
    this.depth = 0;
    this.leafG = false;
    if ((regs.cr0 & CR0_PG) === 0) return la >>> 0;
    if ((regs.efer & EFER_LMA) !== 0) return this.walk4Level(la, kind, user, check);
    if ((regs.cr4 & CR4_PAE) !== 0) return this.walkPae(la, kind, user, check);
    return this.walk32(la, kind, user, check);
  }

  /** 32-bit paging (SDM §4.3). */
  private walk32(la: number, kind: AccessKind, user: boolean, check: boolean): number {
    const regs = this.regs;
    const lo32 = la | 0;
    this.top = 2;
    this.adFrom = 0;
    const pde = this.read32(((regs.cr3 & 0xfffff000) >>> 0) + ((lo32 >>> 22) << 2));
    if ((pde & PTE_P) === 0) return this.fail(kind, user, 0);
    if ((pde & PTE_PS) !== 0 && (regs.cr4 & CR4_PSE) !== 0) {
      if ((pde & RSVD_4M) !== 0) return this.fail(kind, user, PFEC_P | PFEC_RSVD);
      const pa = ((pde >>> 13) & 0xff) * TWO32 + ((pde & 0xffc00000) >>> 0) + (lo32 & 0x3fffff);
      return this.finish(kind, user, check, pde, false, pde, pa);
    }
    const pte = this.read32(((pde & 0xfffff000) >>> 0) + (((lo32 >>> 12) & 0x3ff) << 2));
    if ((pte & PTE_P) === 0) return this.fail(kind, user, 0);
    return this.finish(kind, user, check, pde & pte, false, pte, ((pte & 0xfffff000) >>> 0) + (lo32 & PAGE_MASK));
  }

  /** PAE paging (SDM §4.4). */
  private walkPae(la: number, kind: AccessKind, user: boolean, check: boolean): number {
    const regs = this.regs;
    const lo32 = la | 0;
    const rsvdHi = (regs.efer & EFER_NXE) !== 0 ? RSVD_HI_PAE : RSVD_HI_PAE | XD_HI;
    this.top = 3;
    this.adFrom = 1;
    this.read64(((regs.cr3 & 0xffffffe0) >>> 0) + ((lo32 >>> 30) << 3));
    let lo = this.rLo;
    let hi = this.rHi;
    if ((lo & PTE_P) === 0) return this.fail(kind, user, 0);
    if ((lo & PDPTE_RSVD_LO) !== 0 || (hi & PDPTE_RSVD_HI) !== 0) return this.fail(kind, user, PFEC_P | PFEC_RSVD);
    this.read64((hi & 0xff) * TWO32 + ((lo & 0xfffff000) >>> 0) + (((lo32 >>> 21) & 0x1ff) << 3));
    lo = this.rLo;
    hi = this.rHi;
    if ((lo & PTE_P) === 0) return this.fail(kind, user, 0);
    if ((hi & rsvdHi) !== 0) return this.fail(kind, user, PFEC_P | PFEC_RSVD);
    if ((lo & PTE_PS) !== 0) {
      if ((lo & RSVD_2M) !== 0) return this.fail(kind, user, PFEC_P | PFEC_RSVD);
      const pa = (hi & 0xff) * TWO32 + ((lo & 0xffe00000) >>> 0) + (lo32 & 0x1fffff);
      return this.finish(kind, user, check, lo, hi < 0, lo, pa);
    }
    const acc = lo;
    const xd = hi;
    this.read64((hi & 0xff) * TWO32 + ((lo & 0xfffff000) >>> 0) + (((lo32 >>> 12) & 0x1ff) << 3));
    lo = this.rLo;
    hi = this.rHi;
    if ((lo & PTE_P) === 0) return this.fail(kind, user, 0);
    if ((hi & rsvdHi) !== 0) return this.fail(kind, user, PFEC_P | PFEC_RSVD);
    const pa = (hi & 0xff) * TWO32 + ((lo & 0xfffff000) >>> 0) + (lo32 & PAGE_MASK);
    return this.finish(kind, user, check, acc & lo, (xd | hi) < 0, lo, pa);
  }

  /** 4-level paging (SDM §4.5). Bits 63:48 of `la` are ignored. */
  private walk4Level(la: number, kind: AccessKind, user: boolean, check: boolean): number {
    const regs = this.regs;
    const lo32 = la | 0;
    const hi32 = Math.floor(la / TWO32) | 0;
    const rsvdHi = (regs.efer & EFER_NXE) !== 0 ? RSVD_HI_4L : RSVD_HI_4L | XD_HI;
    const cr3 = regs.cr3;
    this.top = 4;
    this.adFrom = 0;
    // PML4E: PS is reserved.
    this.read64((Math.floor(cr3 / TWO32) & 0xff) * TWO32 + ((cr3 & 0xfffff000) >>> 0) + (((hi32 >>> 7) & 0x1ff) << 3));
    let lo = this.rLo;
    let hi = this.rHi;
    if ((lo & PTE_P) === 0) return this.fail(kind, user, 0);
    if ((hi & rsvdHi) !== 0 || (lo & PTE_PS) !== 0) return this.fail(kind, user, PFEC_P | PFEC_RSVD);
    let acc = lo;
    let xd = hi;
    // PDPTE: PS maps a 1 GiB page.
    this.read64((hi & 0xff) * TWO32 + ((lo & 0xfffff000) >>> 0) + ((((hi32 & 0x7f) << 2) | (lo32 >>> 30)) << 3));
    lo = this.rLo;
    hi = this.rHi;
    if ((lo & PTE_P) === 0) return this.fail(kind, user, 0);
    if ((hi & rsvdHi) !== 0) return this.fail(kind, user, PFEC_P | PFEC_RSVD);
    acc &= lo;
    xd |= hi;
    if ((lo & PTE_PS) !== 0) {
      if ((lo & RSVD_1G) !== 0) return this.fail(kind, user, PFEC_P | PFEC_RSVD);
      const pa = (hi & 0xff) * TWO32 + ((lo & 0xc0000000) >>> 0) + (lo32 & 0x3fffffff);
      return this.finish(kind, user, check, acc, xd < 0, lo, pa);
    }
    // PDE: PS maps a 2 MiB page.
    this.read64((hi & 0xff) * TWO32 + ((lo & 0xfffff000) >>> 0) + (((lo32 >>> 21) & 0x1ff) << 3));
    lo = this.rLo;
    hi = this.rHi;
    if ((lo & PTE_P) === 0) return this.fail(kind, user, 0);
    if ((hi & rsvdHi) !== 0) return this.fail(kind, user, PFEC_P | PFEC_RSVD);
    acc &= lo;
    xd |= hi;
    if ((lo & PTE_PS) !== 0) {
      if ((lo & RSVD_2M) !== 0) return this.fail(kind, user, PFEC_P | PFEC_RSVD);
      const pa = (hi & 0xff) * TWO32 + ((lo & 0xffe00000) >>> 0) + (lo32 & 0x1fffff);
      return this.finish(kind, user, check, acc, xd < 0, lo, pa);
    }
    // PTE.
    this.read64((hi & 0xff) * TWO32 + ((lo & 0xfffff000) >>> 0) + (((lo32 >>> 12) & 0x1ff) << 3));
    lo = this.rLo;
    hi = this.rHi;
    if ((lo & PTE_P) === 0) return this.fail(kind, user, 0);
    if ((hi & rsvdHi) !== 0) return this.fail(kind, user, PFEC_P | PFEC_RSVD);
    const pa = (hi & 0xff) * TWO32 + ((lo & 0xfffff000) >>> 0) + (lo32 & PAGE_MASK);
    return this.finish(kind, user, check, acc & lo, (xd | hi) < 0, lo, pa);
  }

  /**
   * Access rights of a translation (SDM §4.6). `acc` is the AND of the entries' low dwords
   * (R/W and U/S of every level), `xd` whether any level has XD = 1 (only possible with NXE).
   */
  private finish(kind: AccessKind, user: boolean, check: boolean, acc: number, xd: boolean, leaf: number, pa: number): number {
    this.leafG = (leaf & PTE_G) !== 0;
    if (!check) return pa;
    const regs = this.regs;
    const userPage = (acc & PTE_US) !== 0;
    let ok: boolean;
    if (user) {
      ok = userPage && (kind === AccessKind.Write ? (acc & PTE_RW) !== 0 : kind === AccessKind.Read || !xd);
    } else if (kind === AccessKind.Fetch) {
      ok = !xd && !(userPage && (regs.cr4 & CR4_SMEP) !== 0);
    } else {
      ok =
        !(userPage && (regs.cr4 & CR4_SMAP) !== 0 && !regs.smapOverride) &&
        !(kind === AccessKind.Write && (acc & PTE_RW) === 0 && (regs.cr0 & CR0_WP) !== 0);
    }
    return ok ? pa : this.fail(kind, user, PFEC_P);
  }

  /** Records a #PF error code (`bits`: P and RSVD) and returns -1. */
  private fail(kind: AccessKind, user: boolean, bits: number): number {
    let ec = bits | (user ? PFEC_U : 0);
    if (kind === AccessKind.Write) ec |= PFEC_W;
    else if (kind === AccessKind.Fetch) {
      const regs = this.regs;
      if ((regs.cr4 & CR4_SMEP) !== 0 || ((regs.cr4 & CR4_PAE) !== 0 && (regs.efer & EFER_NXE) !== 0)) ec |= PFEC_I;
    }
    this.errorCode = ec;
    return -1;
  }

  private read32(pa: number): number {
    const v = this.phys.frame(Math.floor(pa / PAGE_SIZE));
    const lo = v !== undefined ? v.getInt32(pa & PAGE_MASK, true) : this.phys.mmioRead(pa, 4) | 0;
    const d = this.depth++;
    this.entPa[d] = pa;
    this.entLo[d] = lo;
    this.entHi[d] = 0;
    return lo;
  }

  private read64(pa: number): void {
    const v = this.phys.frame(Math.floor(pa / PAGE_SIZE));
    let lo: number;
    let hi: number;
    if (v !== undefined) {
      const off = pa & PAGE_MASK;
      lo = v.getInt32(off, true);
      hi = v.getInt32(off + 4, true);
    } else {
      lo = this.phys.mmioRead(pa, 4) | 0;
      hi = this.phys.mmioRead(pa + 4, 4) | 0;
    }
    const d = this.depth++;
    this.entPa[d] = pa;
    this.entLo[d] = lo;
    this.entHi[d] = hi;
    this.rLo = lo;
    this.rHi = hi;
  }

  /** Sets A in every entry of the successful walk that has one, and D in the last one for a write. */
  private setAccessedDirty(write: boolean): void {
    const last = this.depth - 1;
    for (let k = this.adFrom; k <= last; k++) {
      const bits = write && k === last ? PTE_A | PTE_D : PTE_A;
      if (((this.entLo[k] as number) & bits) !== bits) this.orEntry(this.entPa[k] as number, bits);
    }
  }

  /** Calls the write observers of frame `pfn` (its own, then the all-frames one); whether there was one. */
  private notifyWrite(pfn: number, pa: number): boolean {
    const fn = this.writeObservers.get(pfn);
    const all = this.allWrites;
    if (fn === undefined && all === undefined) return false;
    if (fn !== undefined) fn(pfn, pa);
    if (all !== undefined) all(pfn, pa);
    return true;
  }

  /** ORs `bits` into the low dword of the entry at `pa` unless they are set (re-read: an entry may be used at two levels). */
  private orEntry(pa: number, bits: number): void {
    const v = this.phys.frame(Math.floor(pa / PAGE_SIZE));
    if (v !== undefined) {
      const off = pa & PAGE_MASK;
      const old = v.getInt32(off, true);
      if ((old & bits) !== bits) {
        v.setInt32(off, old | bits, true);
        // The processor's A/D update is a write to the table's frame: its observers see it.
        if (this.observing) this.notifyWrite(Math.floor(pa / PAGE_SIZE), pa);
      }
    } else {
      const old = this.phys.mmioRead(pa, 4) | 0;
      if ((old & bits) !== bits) this.phys.mmioWrite(pa, 4, old | bits);
    }
  }

  /** Physical address of `la` for an MMIO access following the lookup that returned undefined. */
  private mmioAddress(la: number): number {
    if (pageOf(la) === this.mmioPage) return this.mmioBase + (la & PAGE_MASK);
    // Not right after its lookup (the CPU always looks up first): translate again, no A/D.
    const pa = this.walk(la, AccessKind.Read, false, false);
    if (pa < 0) throw new Fault(PF_VEC, this.errorCode, la);
    return pa;
  }

  private entries(): WalkEntry[] {
    const out: WalkEntry[] = [];
    for (let k = 0; k < this.depth; k++) {
      out.push({ level: this.top - k, entryPa: this.entPa[k] as number, lo: this.entLo[k] as number, hi: this.entHi[k] as number });
    }
    return out;
  }

  private report(la: number, kind: AccessKind, user: boolean, pa: number | undefined, fault: Fault | undefined): void {
    (this.onWalk as (walk: WalkInfo) => void)({ la, kind, user, entries: this.entries(), pa, fault });
  }
}
