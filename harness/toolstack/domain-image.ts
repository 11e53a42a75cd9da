/**
 * A PV domain's memory image, as libxc's save and restore handle it for x86 PV (Xen's
 * tools/libs/guest/xg_sr_save_x86_pv.c and xg_sr_restore_x86_pv.c; docs/save-restore.md):
 *
 * Save (`DomainImageReader`, on a suspended domain, or page by page while it runs for a live
 * migration)
 *  - the guest's own p2m is the list of its pages: it publishes where it is in shared_info
 *    (`arch.p2m_cr3`, `arch.p2m_vaddr`, `arch.max_pfn`, the virtually mapped p2m Linux uses with
 *    SIF_VIRT_P2M_4TOOLS); the reader walks the guest's page tables to find its frames;
 *  - each page goes by PFN with its type (XEN_DOMCTL_PFINFO_*: an L1-L4 table in use, pinned or
 *    not; a PFN whose p2m entry names no frame of the domain is XTAB, sent without data);
 *  - page tables are canonicalised: every present entry's machine frame becomes the PFN the M2P
 *    gives for it; an entry mapping a frame that is not the domain's (shared_info, a grant frame,
 *    another domain's page) makes the save fail with the table, slot and frame named, because it
 *    cannot be recreated elsewhere: the guest must unmap such frames before suspending, as Linux
 *    does. Xen's own L4 slots (256-271) are cleared; the restoring Xen fills them again.
 *
 * Restore (`DomainImageWriter`)
 *  - pages may arrive several times (live migration re-sends what was dirtied); the last copy
 *    counts. `build` then allocates a frame per PFN from the machine's shuffled free list (so the
 *    MFNs differ from the saved ones), writes each page, turns the PFNs in page tables back into
 *    the new MFNs, rewrites the guest's p2m frames (X86_PV_P2M_FRAMES) with the new MFNs and pins
 *    the tables that were pinned.
 *
 * What the vCPUs, shared_info and start_info need is in checkpoint.ts; this module is memory only.
 */
import { F_ALLOCATED, F_PINNED, F_XEN_HEAP, INVALID_M2P_ENTRY, type MachineMemory, PageType } from '../../abi/hv/machine.js';
import { PFINFO, type PageEntry } from './checkpoint-stream.js';

const PAGE = 4096;
const TWO32 = 2 ** 32;
/** PTE frame field: bits 51:12. */
const HI_FRAME_MASK = 0xfffff;
/** Xen's L4 slots in a 64-bit PV guest's tables (ROOT_PAGETABLE_FIRST/LAST_XEN_SLOT). */
const FIRST_XEN_SLOT = 256;
const LAST_XEN_SLOT = 271;
/** The p2m value for "no frame" (INVALID_P2M_ENTRY, ~0UL); any value with the top bits set is none too. */
const P2M_NONE_LO = 0xffffffff;
const P2M_NONE_HI = 0xffffffff;
const PFN_LIMIT = 2 ** 40;

/** A save that cannot go on: one line for the user (the toolstack's refusal). */
export class SaveError extends Error {}

/** Where the guest's p2m is and what it says: PFN → MFN, and the frames (as PFNs) holding it. */
export interface GuestP2m {
  /** Number of entries (shared_info arch.max_pfn). */
  readonly size: number;
  /** MFN per PFN, or -1 for none. */
  readonly mfns: Int32Array | Float64Array;
  /** PFNs of the frames holding the p2m, in virtual order (frame k holds entries 512k..512k+511). */
  readonly framePfns: readonly number[];
}

/** The virtually mapped p2m location a guest publishes in shared_info's arch part. */
export interface P2mLocation {
  readonly maxPfn: number;
  /** MFN of the L4 the p2m is mapped through (from arch.p2m_cr3). */
  readonly cr3Mfn: number;
  /** Signed 64-bit virtual address of entry 0. */
  readonly vaddr: number;
}

/** Walks a guest's 4-level tables in machine memory: the MFN `va` maps, or undefined. */
export function walkGuest(m: MachineMemory, l4Mfn: number, va: number): number | undefined {
  const u = va < 0 ? va + 2 ** 48 : va; // the low 48 bits of a canonical address
  let table = l4Mfn;
  for (const shift of [39, 30, 21, 12]) {
    if (!m.valid(table)) return undefined;
    const v = m.view(table);
    const i = Math.floor(u / 2 ** shift) % 512;
    const lo = v.getUint32(i * 8, true);
    const hi = v.getUint32(i * 8 + 4, true);
    if ((lo & 1) === 0) return undefined;
    if (shift !== 12 && shift !== 39 && (lo & 0x80) !== 0) return undefined; // superpages: PV guests have none
    table = (hi & HI_FRAME_MASK) * 2 ** 20 + (lo >>> 12);
  }
  return m.valid(table) ? table : undefined;
}

/** Reads the guest's p2m through the location it published; throws SaveError naming what is wrong. */
export function readGuestP2m(m: MachineMemory, domid: number, loc: P2mLocation): GuestP2m {
  const { maxPfn, cr3Mfn, vaddr } = loc;
  if (!Number.isInteger(maxPfn) || maxPfn <= 0 || maxPfn > PFN_LIMIT) {
    throw new SaveError(`the guest published no p2m for the toolstack (shared_info arch.max_pfn is ${maxPfn}; a PV guest sets max_pfn, p2m_cr3 and p2m_vaddr before it suspends)`);
  }
  if (!m.valid(cr3Mfn) || m.owner[cr3Mfn] !== domid) {
    throw new SaveError(`shared_info arch.p2m_cr3 names machine frame 0x${cr3Mfn.toString(16)}, which is not a frame of domain ${domid}`);
  }
  if (vaddr % PAGE !== 0) throw new SaveError(`shared_info arch.p2m_vaddr 0x${vaddr.toString(16)} is not page aligned`);
  const nrFrames = Math.ceil((maxPfn * 8) / PAGE);
  const mfns = new Float64Array(maxPfn).fill(-1);
  const framePfns: number[] = [];
  for (let k = 0; k < nrFrames; k++) {
    const va = vaddr + k * PAGE;
    const f = walkGuest(m, cr3Mfn, va);
    if (f === undefined || m.owner[f] !== domid) {
      throw new SaveError(`the guest's p2m page ${k} (virtual address 0x${(va < 0 ? BigInt(va) + 2n ** 64n : BigInt(va)).toString(16)}) is not mapped to a frame of domain ${domid}`);
    }
    const pfn = m.m2pGet(f);
    if (pfn === INVALID_M2P_ENTRY || pfn >= PFN_LIMIT) throw new SaveError(`the guest's p2m page ${k} (machine frame 0x${f.toString(16)}) has no PFN in the M2P`);
    framePfns.push(pfn);
    const v = m.view(f);
    for (let i = 0; i < 512 && k * 512 + i < maxPfn; i++) {
      const lo = v.getUint32(i * 8, true);
      const hi = v.getUint32(i * 8 + 4, true);
      const mfn = hi * TWO32 + lo;
      if (hi >= 0x100000 || !m.valid(mfn)) continue; // INVALID_P2M_ENTRY, identity or foreign markers
      mfns[k * 512 + i] = mfn;
    }
  }
  return { size: maxPfn, mfns, framePfns };
}

/** Xen's PFINFO type of a frame: a page table in use (pinned or not), else NOTAB. */
function pfinfoOf(m: MachineMemory, mfn: number): number {
  const t = m.type[mfn] as number;
  if (t < PageType.L1 || t > PageType.L4 || (m.typeCount[mfn] as number) === 0) return PFINFO.NOTAB;
  return ((m.flags[mfn] as number) & F_PINNED) !== 0 ? t + 8 : t;
}

/** The level (1-4) of a PFINFO table type, or 0. */
export function tableLevel(type: number): number {
  const l = type & 0x7;
  return l >= 1 && l <= 4 ? l : 0;
}

/**
 * Reads pages of a domain for a checkpoint: contents by PFN, page tables canonicalised. Built
 * once per save (or per migration: `p2m` is read again when the guest changes it).
 */
export class DomainImageReader {
  constructor(
    private readonly m: MachineMemory,
    private readonly domid: number,
    readonly p2m: GuestP2m,
  ) {}

  /** Whether PFN `pfn` has a frame of this domain (XTAB otherwise). */
  mfnOf(pfn: number): number | undefined {
    const mfn = this.p2m.mfns[pfn];
    if (mfn === undefined || mfn < 0) return undefined;
    const m = this.m;
    if (m.owner[mfn] !== this.domid || ((m.flags[mfn] as number) & (F_ALLOCATED | F_XEN_HEAP)) !== F_ALLOCATED) return undefined;
    if (m.m2pGet(mfn) !== pfn) return undefined;
    return mfn;
  }

  /**
   * The PAGE_DATA entries of `pfns`. A page table whose entries cannot be canonicalised throws
   * SaveError; with `live`, it is left out instead and its PFN returned in `retry` (the guest may
   * be changing it: the last round, with the domain suspended, sends it).
   */
  pages(pfns: readonly number[], live = false): { entries: PageEntry[]; retry: number[] } {
    const entries: PageEntry[] = [];
    const retry: number[] = [];
    for (const pfn of pfns) {
      const mfn = this.mfnOf(pfn);
      if (mfn === undefined) {
        entries.push({ pfn, type: PFINFO.XTAB });
        continue;
      }
      const type = pfinfoOf(this.m, mfn);
      const v = this.m.view(mfn);
      const data = new Uint8Array(v.buffer, v.byteOffset, PAGE).slice();
      const level = tableLevel(type);
      if (level !== 0) {
        const problem = this.canonicalise(data, level);
        if (problem !== undefined) {
          if (live) {
            retry.push(pfn);
            continue;
          }
          throw new SaveError(`pfn 0x${pfn.toString(16)} (an L${level} page table): ${problem}`);
        }
      }
      entries.push({ pfn, type, data });
    }
    return { entries, retry };
  }

  /** PFN of machine frame `mfn` if it is a page of this domain in its p2m, else undefined. */
  pfnOf(mfn: number): number | undefined {
    if (!this.m.valid(mfn)) return undefined;
    const pfn = this.m.m2pGet(mfn);
    if (pfn === INVALID_M2P_ENTRY || pfn >= this.p2m.size) return undefined;
    return this.mfnOf(pfn) === mfn ? pfn : undefined;
  }

  /** MFN → PFN in every present entry (Xen's L4 slots cleared); a problem, or undefined when done. */
  private canonicalise(data: Uint8Array, level: number): string | undefined {
    const v = new DataView(data.buffer, data.byteOffset, PAGE);
    for (let i = 0; i < 512; i++) {
      if (level === 4 && i >= FIRST_XEN_SLOT && i <= LAST_XEN_SLOT) {
        v.setUint32(i * 8, 0, true);
        v.setUint32(i * 8 + 4, 0, true);
        continue;
      }
      const lo = v.getUint32(i * 8, true);
      if ((lo & 1) === 0) continue;
      const hi = v.getUint32(i * 8 + 4, true);
      const mfn = (hi & HI_FRAME_MASK) * 2 ** 20 + (lo >>> 12);
      const pfn = this.pfnOf(mfn);
      if (pfn === undefined) {
        const owner = this.m.valid(mfn) ? this.m.owner[mfn] : undefined;
        const what = owner === this.domid ? 'a Xen page shared with the domain (shared_info or a grant-table frame) or a page outside its p2m' : owner === undefined ? 'no frame at all' : `a frame of domain ${owner}`;
        return `slot ${i} maps machine frame 0x${mfn.toString(16)}, ${what}; unmap it before suspending`;
      }
      v.setUint32(i * 8, ((lo & 0xfff) | ((pfn % 2 ** 20) * PAGE)) >>> 0, true);
      v.setUint32(i * 8 + 4, ((hi & ~HI_FRAME_MASK) | Math.floor(pfn / 2 ** 20)) >>> 0, true);
    }
    return undefined;
  }
}

/** The restore side: collects pages as they arrive, then builds them into a domain's frames. */
export class DomainImageWriter {
  private readonly pages = new Map<number, PageEntry>();

  /** Most PFNs the image may use (the domain's maxmem in pages): anything beyond is refused. */
  constructor(private readonly maxPfns: number) {}

  get count(): number {
    return this.pages.size;
  }

  /** Takes a PAGE_DATA record's entries (a later copy of a PFN replaces the earlier); a problem line, or undefined. */
  add(entries: readonly PageEntry[]): string | undefined {
    for (const e of entries) {
      if (e.pfn >= this.maxPfns) return `pfn 0x${e.pfn.toString(16)} is beyond the domain's ${this.maxPfns} pages`;
      if (e.type === PFINFO.BROKEN || e.type === PFINFO.XALLOC) return `pfn 0x${e.pfn.toString(16)} has page type 0x${e.type.toString(16)}, which xenlab does not restore`;
      if (e.type === PFINFO.XTAB) this.pages.delete(e.pfn);
      else this.pages.set(e.pfn, e);
    }
    return undefined;
  }

  /**
   * Allocates a frame for every page to `domid`, writes the pages with their tables localised
   * (PFN → new MFN), and rewrites the guest's p2m frames. Returns the new p2m (PFN → MFN, -1 for
   * none) and the pinned tables by level, or a problem line (nothing is then left allocated).
   */
  build(
    m: MachineMemory,
    domid: number,
    p2mFrames: { readonly size: number; readonly framePfns: readonly number[] },
  ): { p2m: Float64Array; pins: { mfn: number; level: number }[] } | string {
    const pfns = [...this.pages.keys()].sort((a, b) => a - b);
    if (m.freeCount < pfns.length) return `the machine has ${m.freeCount} free frames, the image needs ${pfns.length}`;
    const p2m = new Float64Array(this.maxPfns).fill(-1);
    const taken: number[] = [];
    const undo = (why: string): string => {
      for (const mfn of taken) m.release(mfn);
      return why;
    };
    for (const pfn of pfns) {
      const mfn = m.allocFrame(domid);
      if (mfn === undefined) return undo('the machine ran out of frames');
      m.m2pSet(mfn, pfn);
      p2m[pfn] = mfn;
      taken.push(mfn);
    }
    const pins: { mfn: number; level: number }[] = [];
    for (const pfn of pfns) {
      const e = this.pages.get(pfn) as PageEntry;
      const mfn = p2m[pfn] as number;
      const v = m.view(mfn);
      const dst = new Uint8Array(v.buffer, v.byteOffset, PAGE);
      dst.set(e.data as Uint8Array);
      const level = tableLevel(e.type);
      if (level === 0) continue;
      const problem = localise(v, level, p2m);
      if (problem !== undefined) return undo(`pfn 0x${pfn.toString(16)} (an L${level} page table): ${problem}`);
      if ((e.type & 0x8) !== 0) pins.push({ mfn, level });
    }
    // The guest's p2m: frame k holds the MFNs of PFNs 512k .. 512k+511.
    for (const [k, framePfn] of p2mFrames.framePfns.entries()) {
      const f = p2m[framePfn];
      if (f === undefined || f < 0) return undo(`the p2m frame list names pfn 0x${framePfn.toString(16)}, which the image does not have`);
      const v = m.view(f);
      for (let i = 0; i < 512 && k * 512 + i < p2mFrames.size; i++) {
        const mfn = p2m[k * 512 + i];
        if (mfn === undefined || mfn < 0) {
          v.setUint32(i * 8, P2M_NONE_LO, true);
          v.setUint32(i * 8 + 4, P2M_NONE_HI, true);
        } else {
          v.setUint32(i * 8, mfn % TWO32, true);
          v.setUint32(i * 8 + 4, Math.floor(mfn / TWO32), true);
        }
      }
    }
    return { p2m, pins };
  }
}

/** PFN → MFN in every present entry of a table page (in place); a problem, or undefined. */
function localise(v: DataView, level: number, p2m: Float64Array): string | undefined {
  for (let i = 0; i < 512; i++) {
    const lo = v.getUint32(i * 8, true);
    if ((lo & 1) === 0) continue;
    const hi = v.getUint32(i * 8 + 4, true);
    if (level === 4 && i >= FIRST_XEN_SLOT && i <= LAST_XEN_SLOT) return `slot ${i} is one of Xen's and must be empty in a saved L4`;
    const pfn = (hi & HI_FRAME_MASK) * 2 ** 20 + (lo >>> 12);
    const mfn = pfn < p2m.length ? (p2m[pfn] as number) : -1;
    if (mfn < 0) return `slot ${i} maps pfn 0x${pfn.toString(16)}, which the image does not have`;
    v.setUint32(i * 8, ((lo & 0xfff) | ((mfn % 2 ** 20) * PAGE)) >>> 0, true);
    v.setUint32(i * 8 + 4, ((hi & ~HI_FRAME_MASK) | Math.floor(mfn / 2 ** 20)) >>> 0, true);
  }
  return undefined;
}
