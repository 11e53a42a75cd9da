/**
 * The CPU's view of memory.
 *
 * `LinearMemory`: linear addresses (segmentation already applied), resolved a page at a time.
 * The driver provides the translation: a flat table of pages in the user-mode runner, or the
 * paging unit (`paging.ts`) over a `PhysicalMemory` at system level. The CPU caches each answer
 * in its own TLB until it is flushed (`Cpu.flushTlb`, `Cpu.invlpg`, or a CR3/CR0/CR4 write).
 *
 * Linear addresses are JS numbers holding canonical 48-bit values, sign-extended (so kernel
 * addresses are negative); doubles represent them exactly. In 32-bit modes they are 0..2^32-1.
 *
 * RAM pages are handed out as DataViews, and the same frame is always the same DataView object:
 * the CPU uses that identity to find decoded code through any alias of a frame (a write through
 * a second mapping of a code page invalidates the blocks decoded from it).
 */
export const enum AccessKind {
  Read = 0,
  Write = 1,
  Fetch = 2,
}

export const PAGE_SIZE = 4096;
export const PAGE_MASK = 4095;

/** Bits a `LinearMemory` leaves in `lookupFlags` after each successful lookup. */
export const LOOKUP_NOCACHE = 1;
/** The translation came from a global page (CR4.PGE and PTE.G): kept across CR3 loads. */
export const LOOKUP_GLOBAL = 2;

export interface LinearMemory {
  /**
   * The 4 KiB page holding `la`, as a DataView whose byte 0 is the page's first byte, for an
   * access of `kind` at privilege `user` (CPL 3; false for supervisor and implicit supervisor
   * accesses such as descriptor-table reads). Throws `Fault` (#PF with the error code and
   * address) when the access is not allowed. Returns undefined for a page that is not RAM
   * (device registers): the CPU then calls `mmioRead`/`mmioWrite` for each access.
   */
  lookup(la: number, kind: AccessKind, user: boolean): DataView | undefined;
  /**
   * Optional: set by `lookup` (LOOKUP_* bits). LOOKUP_NOCACHE makes the CPU ask again on every
   * access to that page (a frame with a write observer); absent or 0 means cache freely.
   */
  lookupFlags?: number;
  mmioRead?(la: number, size: 1 | 2 | 4): number;
  mmioWrite?(la: number, size: 1 | 2 | 4, value: number): void;
}

/**
 * Guest-physical (or machine) memory, a 4 KiB frame at a time, below the paging unit. Frame
 * numbers are JS numbers (up to 2^40). Non-RAM physical addresses go to `mmioRead`/`mmioWrite`;
 * on a PC, unassigned addresses read all ones and ignore writes.
 */
export interface PhysicalMemory {
  /** The RAM frame `pfn` (the same DataView object on every call), or undefined if not RAM. */
  frame(pfn: number): DataView | undefined;
  mmioRead(pa: number, size: 1 | 2 | 4): number;
  mmioWrite(pa: number, size: 1 | 2 | 4, value: number): void;
}

/** Page number of a (possibly negative) linear address. */
export function pageOf(la: number): number {
  return Math.floor(la / PAGE_SIZE);
}
