/**
 * Machine memory: the pool of 4 KiB machine frames shared by every domain and by Xen itself,
 * with Xen's per-frame bookkeeping (`struct page_info`: owner, general reference count, type,
 * type count, flags) and the machine-to-physical table (M2P).
 *
 * Frames
 *  - N frames, backed lazily by 1 MiB ArrayBuffer chunks (a frame nobody touched costs nothing).
 *    `frame(mfn)` hands out one DataView per frame, always the same object: the CPU relies on
 *    that identity to find decoded code through any alias of a frame (x86/memory.ts).
 *  - Frames 0..255 (the first MiB) belong to DOMID_IO, as on Xen (`arch_init_memory` makes the
 *    low MiB I/O): a guest mapping one gets Xen's refusal for MMIO, and MFN 0 is never RAM of a
 *    domain. Nothing else in machine memory is a device: `mmioRead` returns all ones,
 *    `mmioWrite` is ignored (only reached for addresses beyond the pool).
 *  - Free frames are handed out from a free list shuffled with a seeded PRNG, so a domain's
 *    machine frame numbers are not its pseudo-physical ones (a guest confusing PFN and MFN fails
 *    as it would on Xen), deterministically for a given seed. Freed frames are scrubbed (zeroed)
 *    and go back to the end of the list.
 *
 * Bookkeeping (typed arrays indexed by MFN; the rules that use them are in page-types.ts)
 *  - `owner`: the domid owning the frame, DOMID_XEN for Xen's own frames (the M2P and the page
 *    tables that map it), DOMID_IO for the low MiB, OWNER_FREE for a free frame.
 *  - `count`: general references (Xen's `count_info & PGC_count_mask`). Allocation to a domain
 *    holds one (Xen's PGC_allocated reference), so an allocated frame nobody maps has count 1;
 *    `release` drops it and the frame is freed when the count reaches 0 (Xen's `put_page`).
 *  - `type`, `typeCount`: the page type (PageType) and its reference count (`type_info`).
 *  - `flags`: PGT_validated, PGT_pinned, PGC_xen_heap, PGC_allocated bits (F_* below).
 *  - `linear`: Xen's `linear_pt_count`: > 0 is the number of linear page-table entries the
 *    table holds, < 0 the number of linear uses of the table by other tables.
 *
 * M2P
 *  One 8-byte entry per machine frame (MFN → PFN; INVALID_M2P_ENTRY, all ones, for frames no
 *  domain holds as RAM), stored in Xen-owned frames of this pool, exactly where the guest reads
 *  them: `m2pL3` is a Xen-owned L3 table mapping the whole table read-only and user-accessible at
 *  MACH2PHYS_VIRT_START (0xFFFF800000000000, L4 slot 256); page-types.ts puts it into every
 *  validated PV64 L4. Xen maps the M2P with 2 MiB superpages; we use 4 KiB L1 tables (the guest
 *  cannot see the difference, only our paging unit walks them).
 *
 * Not saved yet: no `save()`/`restore()` (see docs/pv-mmu.md).
 */
import { PAGE_SIZE, type PhysicalMemory } from '../../x86/memory.js';
import { DOMID_IO, DOMID_XEN } from '../public/xen.js';

/** Owner of a free frame (not a domid: domids are 15-bit). */
export const OWNER_FREE = 0xffff;

/** Xen's INVALID_M2P_ENTRY (~0UL) as `m2pGet` returns it. */
export const INVALID_M2P_ENTRY = -1;

/** Page types, numbered as Xen's PGT_* type field (xen/arch/x86/include/asm/mm.h). */
export const enum PageType {
  None = 0,
  L1 = 1,
  L2 = 2,
  L3 = 3,
  L4 = 4,
  SegDesc = 5,
  Writable = 7,
}

/** PGT_validated: the type's contents have been checked (page tables, descriptor pages). */
export const F_VALIDATED = 1;
/** PGT_pinned: MMUEXT_PIN_Ln_TABLE holds a type reference. */
export const F_PINNED = 2;
/** PGC_xen_heap: a Xen page (shared_info, grant frames) shared with the owning domain; never in its p2m. */
export const F_XEN_HEAP = 4;
/** PGC_allocated: the allocation reference is held (dropped by `release`). */
export const F_ALLOCATED = 8;

/** Frames 0..IO_FRAMES-1 belong to DOMID_IO (the first MiB, as on Xen). */
export const IO_FRAMES = 256;

/** Virtual address of the M2P in PV64 guests (MACH2PHYS_VIRT_START). */
export const M2P_VIRT_START = -0x800000000000;

const CHUNK_SHIFT = 8;
const CHUNK_FRAMES = 1 << CHUNK_SHIFT;
const TWO32 = 4294967296;

// Entry bits of the Xen-built M2P mapping: present, user, accessed; read-only.
const M2P_PTE_FLAGS = 0x25;

export interface MachineMemoryOptions {
  /** Number of 4 KiB machine frames (the memory of every domain plus Xen's own, plus the low MiB). */
  readonly frames: number;
  /** Seed of the free-list shuffle. */
  readonly seed: number;
}

export class MachineMemory implements PhysicalMemory {
  readonly nrFrames: number;
  readonly owner: Uint16Array;
  readonly count: Uint32Array;
  readonly type: Uint8Array;
  readonly typeCount: Uint32Array;
  readonly flags: Uint8Array;
  readonly linear: Int16Array;

  /** Machine frames holding the M2P table, in order (XENMEM_machphys_mfn_list). */
  readonly m2pFrames: readonly number[];
  /** Xen-owned L3 table mapping the M2P at MACH2PHYS_VIRT_START (for L4 slot 256). */
  readonly m2pL3: number;

  private readonly chunks: (ArrayBuffer | undefined)[];
  private readonly views: (DataView | undefined)[];
  /** Chunk index of each backing buffer (a frame's DataView back to its MFN: `mfnOfView`). */
  private readonly chunkIndex = new Map<ArrayBuffer, number>();
  /** Log-dirty hooks by owning domid (abi/hv/log-dirty.ts); empty when no domain logs. */
  private readonly dirtyLogs = new Map<number, (mfn: number) => void>();
  /** Free frames; allocation pops from the end. */
  private freeList: number[];

  constructor(opts: MachineMemoryOptions) {
    const n = opts.frames;
    // The M2P needs n/512 frames plus its tables, and the low MiB is I/O.
    if (!Number.isInteger(n) || n < IO_FRAMES + 16 || n > 2 ** 28) {
      throw new RangeError(`MachineMemory: ${n} frames (need an integer in ${IO_FRAMES + 16}..2^28)`);
    }
    this.nrFrames = n;
    this.owner = new Uint16Array(n).fill(OWNER_FREE);
    this.count = new Uint32Array(n);
    this.type = new Uint8Array(n);
    this.typeCount = new Uint32Array(n);
    this.flags = new Uint8Array(n);
    this.linear = new Int16Array(n);
    this.chunks = new Array<ArrayBuffer | undefined>(Math.ceil(n / CHUNK_FRAMES)).fill(undefined);
    this.views = new Array<DataView | undefined>(n).fill(undefined);

    for (let mfn = 0; mfn < IO_FRAMES; mfn++) {
      this.owner[mfn] = DOMID_IO;
      this.count[mfn] = 1;
    }
    const free: number[] = [];
    for (let mfn = IO_FRAMES; mfn < n; mfn++) free.push(mfn);
    shuffle(free, opts.seed);
    this.freeList = free;

    const built = this.buildM2p();
    this.m2pFrames = built.frames;
    this.m2pL3 = built.l3;
  }

  // ---- PhysicalMemory -------------------------------------------------------------------------

  frame(mfn: number): DataView | undefined {
    if (!(mfn >= 0 && mfn < this.nrFrames)) return undefined;
    let v = this.views[mfn];
    if (v === undefined) {
      const c = mfn >>> CHUNK_SHIFT;
      let buf = this.chunks[c];
      if (buf === undefined) {
        buf = new ArrayBuffer(CHUNK_FRAMES * PAGE_SIZE);
        this.chunks[c] = buf;
        this.chunkIndex.set(buf, c);
      }
      v = new DataView(buf, (mfn & (CHUNK_FRAMES - 1)) * PAGE_SIZE, PAGE_SIZE);
      this.views[mfn] = v;
    }
    return v;
  }

  mmioRead(_pa: number, size: 1 | 2 | 4): number {
    return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
  }

  mmioWrite(_pa: number, _size: 1 | 2 | 4, _value: number): void {
    // No devices in machine memory.
  }

  /** The frame's DataView; throws (host bug) for an MFN outside the pool. */
  view(mfn: number): DataView {
    const v = this.frame(mfn);
    if (v === undefined) throw new Error(`MachineMemory: MFN 0x${mfn.toString(16)} outside the pool`);
    return v;
  }

  /** Whether `mfn` names a frame of the pool (Xen's `mfn_valid`). */
  valid(mfn: number): boolean {
    return Number.isInteger(mfn) && mfn >= 0 && mfn < this.nrFrames;
  }

  // ---- allocation -----------------------------------------------------------------------------

  /** Frames on the free list. */
  get freeCount(): number {
    return this.freeList.length;
  }

  /**
   * Allocates one frame to `owner` (a domid or DOMID_XEN), zeroed, with the allocation
   * reference (count 1), no type, M2P entry invalid. Undefined when the pool is exhausted.
   */
  allocFrame(owner: number): number | undefined {
    const mfn = this.freeList.pop();
    if (mfn === undefined) return undefined;
    this.owner[mfn] = owner;
    this.count[mfn] = 1;
    this.type[mfn] = PageType.None;
    this.typeCount[mfn] = 0;
    this.flags[mfn] = F_ALLOCATED;
    this.linear[mfn] = 0;
    this.m2pSet(mfn, INVALID_M2P_ENTRY);
    return mfn;
  }

  /**
   * The domain builder's populate step: `nrPages` frames for `domid`, PFN k backed by the k-th
   * frame allocated, the M2P set for each. Returns the P2M (pfn → mfn), or undefined (and
   * nothing allocated) when the pool has fewer free frames.
   */
  allocDomainMemory(domid: number, nrPages: number): number[] | undefined {
    if (!Number.isInteger(nrPages) || nrPages < 0 || nrPages > this.freeList.length) return undefined;
    const p2m: number[] = [];
    for (let pfn = 0; pfn < nrPages; pfn++) {
      const mfn = this.allocFrame(domid) as number;
      this.m2pSet(mfn, pfn);
      p2m.push(mfn);
    }
    return p2m;
  }

  /**
   * A Xen page (shared_info, a grant-table frame) shared with `domid`: owned by the domain for
   * reference counting (Xen's `share_xen_page_with_guest`), flagged PGC_xen_heap, M2P invalid.
   * `writable` gives it the writable type permanently, as Xen does for pages the guest may map
   * read-write (so they can never become page tables).
   */
  allocXenHeapPage(domid: number, writable: boolean): number | undefined {
    const mfn = this.allocFrame(domid);
    if (mfn === undefined) return undefined;
    this.flags[mfn] = F_ALLOCATED | F_XEN_HEAP;
    if (writable) {
      this.type[mfn] = PageType.Writable;
      this.typeCount[mfn] = 1;
      this.flags[mfn] |= F_VALIDATED;
    }
    return mfn;
  }

  /**
   * Drops the allocation reference of a domain's frame (decrease_reservation, domain teardown).
   * The frame returns to the free list once no mapping or other reference holds it. False when
   * the frame was not allocated (a host bug in the caller, reported rather than thrown so that
   * guest-driven paths can refuse).
   */
  release(mfn: number): boolean {
    if (!this.valid(mfn) || ((this.flags[mfn] as number) & F_ALLOCATED) === 0) return false;
    const flags = this.flags[mfn] as number;
    this.flags[mfn] = flags & ~F_ALLOCATED;
    // A Xen-heap page shared writable holds its writable type for as long as it is allocated.
    if ((flags & F_XEN_HEAP) !== 0 && this.type[mfn] === PageType.Writable && (this.typeCount[mfn] as number) > 0) {
      this.typeCount[mfn] = (this.typeCount[mfn] as number) - 1;
    }
    this.putRef(mfn);
    return true;
  }

  /** Xen's `put_page` on the general count: the frame is freed when it reaches 0. */
  putRef(mfn: number): void {
    const c = this.count[mfn] as number;
    if (c === 0) throw new Error(`MachineMemory: put of an unreferenced frame 0x${mfn.toString(16)}`);
    this.count[mfn] = c - 1;
    if (c === 1) this.free(mfn);
  }

  private free(mfn: number): void {
    if ((this.typeCount[mfn] as number) !== 0) {
      throw new Error(`MachineMemory: freeing frame 0x${mfn.toString(16)} with type references`);
    }
    this.scrub(mfn);
    this.freeList.unshift(mfn);
  }

  /** A frame back to the free state (not yet on the free list): contents zeroed, as Xen scrubs before reuse, bookkeeping and M2P cleared. */
  private scrub(mfn: number): void {
    // Only a frame that was ever backed has contents to zero.
    if (this.chunks[mfn >>> CHUNK_SHIFT] !== undefined) {
      const v = this.view(mfn);
      new Uint8Array(v.buffer, v.byteOffset, PAGE_SIZE).fill(0);
    }
    this.owner[mfn] = OWNER_FREE;
    this.type[mfn] = PageType.None;
    this.flags[mfn] = 0;
    this.linear[mfn] = 0;
    this.m2pSet(mfn, INVALID_M2P_ENTRY);
  }

  /**
   * Domain teardown's last step (Xen's domain_relinquish_resources, all at once): every frame
   * `domid` still owns, whatever its references and type, is scrubbed and freed. For a domain
   * that will never run again, after its grant mappings and those of others on its pages are
   * gone. Returns the number of frames freed.
   */
  reclaim(domid: number): number {
    const freed: number[] = [];
    for (let mfn = IO_FRAMES; mfn < this.nrFrames; mfn++) {
      if (this.owner[mfn] !== domid) continue;
      this.count[mfn] = 0;
      this.typeCount[mfn] = 0;
      this.scrub(mfn);
      freed.push(mfn);
    }
    this.freeList = freed.concat(this.freeList);
    return freed.length;
  }

  // ---- log-dirty ------------------------------------------------------------------------------

  /**
   * Installs (undefined: removes) the log-dirty hook of domain `domid` (abi/hv/log-dirty.ts):
   * `markDirty` of a frame it owns calls it.
   */
  setDirtyLog(domid: number, fn: ((mfn: number) => void) | undefined): void {
    if (fn === undefined) this.dirtyLogs.delete(domid);
    else this.dirtyLogs.set(domid, fn);
  }

  /** Whether `domid` has a log-dirty hook installed. */
  dirtyLogging(domid: number): boolean {
    return this.dirtyLogs.has(domid);
  }

  /**
   * Xen or the host wrote frame `mfn` behind the guest's MMU (Xen's paging_mark_dirty): reported to
   * the owner's log-dirty, if it has one. Cheap when no domain logs.
   */
  markDirty(mfn: number): void {
    if (this.dirtyLogs.size === 0 || !(mfn >= 0 && mfn < this.nrFrames)) return;
    const fn = this.dirtyLogs.get(this.owner[mfn] as number);
    if (fn !== undefined) fn(mfn);
  }

  /** `markDirty` for a frame known by its DataView (a backend holding a ring page). */
  markDirtyView(view: DataView): void {
    if (this.dirtyLogs.size === 0) return;
    const mfn = this.mfnOfView(view);
    if (mfn !== undefined) this.markDirty(mfn);
  }

  /** The MFN of a frame's DataView (as `frame` hands it out), or undefined for another view. */
  mfnOfView(view: DataView): number | undefined {
    const c = this.chunkIndex.get(view.buffer as ArrayBuffer);
    if (c === undefined || view.byteOffset % PAGE_SIZE !== 0) return undefined;
    const mfn = c * CHUNK_FRAMES + view.byteOffset / PAGE_SIZE;
    return this.views[mfn] === view ? mfn : undefined;
  }

  // ---- M2P ------------------------------------------------------------------------------------

  /** M2P[mfn] := pfn (INVALID_M2P_ENTRY for all ones), for 0 <= pfn < 2^53. */
  m2pSet(mfn: number, pfn: number): void {
    if (pfn === INVALID_M2P_ENTRY) this.m2pSetRaw(mfn, 0xffffffff, 0xffffffff);
    else this.m2pSetRaw(mfn, pfn % TWO32 >>> 0, Math.floor(pfn / TWO32) >>> 0);
  }

  /** M2P[mfn] := the 64-bit value hi:lo (MMU_MACHPHYS_UPDATE stores whatever the guest gives). */
  m2pSetRaw(mfn: number, lo: number, hi: number): void {
    if (this.m2pFrames === undefined) return; // during construction, before the table exists
    const f = this.m2pFrames[Math.floor(mfn / 512)];
    if (f === undefined) return;
    const v = this.view(f);
    const off = (mfn % 512) * 8;
    v.setUint32(off, lo >>> 0, true);
    v.setUint32(off + 4, hi >>> 0, true);
    // A frame given a (new) PFN while its owner logs dirty: the PFN's contents changed.
    if (this.dirtyLogs.size !== 0) this.markDirty(mfn);
  }

  /** M2P[mfn]: the PFN, or INVALID_M2P_ENTRY when all ones (values above 2^53 are rounded). */
  m2pGet(mfn: number): number {
    const f = this.m2pFrames[Math.floor(mfn / 512)];
    if (f === undefined) return INVALID_M2P_ENTRY;
    const v = this.view(f);
    const off = (mfn % 512) * 8;
    const lo = v.getUint32(off, true);
    const hi = v.getUint32(off + 4, true);
    if (lo === 0xffffffff && hi === 0xffffffff) return INVALID_M2P_ENTRY;
    return hi * TWO32 + lo;
  }

  /**
   * Allocates the M2P frames (filled with INVALID_M2P_ENTRY) and Xen's L3/L2/L1 tables mapping
   * them read-only at MACH2PHYS_VIRT_START.
   */
  private buildM2p(): { frames: number[]; l3: number } {
    const xen = (): number => {
      const mfn = this.allocFrame(DOMID_XEN);
      if (mfn === undefined) throw new RangeError('MachineMemory: too few frames for the M2P');
      return mfn;
    };
    const nrM2p = Math.ceil(this.nrFrames / 512);
    const frames: number[] = [];
    for (let k = 0; k < nrM2p; k++) {
      const mfn = xen();
      new Uint8Array(this.view(mfn).buffer, this.view(mfn).byteOffset, PAGE_SIZE).fill(0xff);
      frames.push(mfn);
    }
    const l3 = xen();
    let l2 = -1;
    let l1 = -1;
    for (let k = 0; k < nrM2p; k++) {
      // M2P frame k maps VA M2P_VIRT_START + k * 4096: L3 index k >> 18, L2 index (k >> 9) & 511.
      if (k % (512 * 512) === 0) {
        l2 = xen();
        writeEntry(this.view(l3), (k >> 18) & 511, l2, M2P_PTE_FLAGS);
      }
      if (k % 512 === 0) {
        l1 = xen();
        writeEntry(this.view(l2), (k >> 9) & 511, l1, M2P_PTE_FLAGS);
      }
      writeEntry(this.view(l1), k & 511, frames[k] as number, M2P_PTE_FLAGS);
    }
    return { frames, l3 };
  }
}

/** Writes the 8-byte entry `mfn << 12 | flags` at `index` of a table. */
function writeEntry(v: DataView, index: number, mfn: number, flags: number): void {
  v.setUint32(index * 8, ((mfn % 0x100000) * PAGE_SIZE + flags) >>> 0, true);
  v.setUint32(index * 8 + 4, Math.floor(mfn / 0x100000) >>> 0, true);
}

/** Fisher-Yates with a small seeded PRNG (mulberry32): the same seed, the same order. */
function shuffle(a: number[], seed: number): void {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / TWO32;
  };
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = a[i] as number;
    a[i] = a[j] as number;
    a[j] = t;
  }
}
