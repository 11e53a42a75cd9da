/**
 * The CPU's view of memory: linear addresses (segmentation already applied), resolved a page
 * at a time. The driver provides the translation (a flat table of pages in the user-mode runner;
 * paging over guest-physical frames once the system level exists). The CPU caches each answer in
 * its own TLB until the driver calls `Cpu.flushTlb` (after changing mappings or permissions).
 *
 * Linear addresses are JS numbers holding canonical 48-bit values, sign-extended (so kernel
 * addresses are negative); doubles represent them exactly. In 32-bit modes they are 0..2^32-1.
 */
export const enum AccessKind {
  Read = 0,
  Write = 1,
  Fetch = 2,
}

export const PAGE_SIZE = 4096;
export const PAGE_MASK = 4095;

export interface LinearMemory {
  /**
   * The 4 KiB page holding `la`, as a DataView whose byte 0 is the page's first byte, for an
   * access of `kind` at privilege `user` (CPL 3). Throws `Fault` (#PF with the error code and
   * address) when the access is not allowed. Returns undefined for a page that is not RAM
   * (device registers): the CPU then calls `mmioRead`/`mmioWrite` for each access.
   */
  lookup(la: number, kind: AccessKind, user: boolean): DataView | undefined;
  mmioRead?(la: number, size: 1 | 2 | 4): number;
  mmioWrite?(la: number, size: 1 | 2 | 4, value: number): void;
}

/** Page number of a (possibly negative) linear address. */
export function pageOf(la: number): number {
  return Math.floor(la / PAGE_SIZE);
}
