/**
 * Fixed memory layout of a differential case, shared by the generator, the emulator glue and
 * the report. Every case uses the same addresses so the native runner reuses its mappings.
 *
 *   CODE_PAGE         one page, read+exec, filled with int3 (the runner's implicit code page):
 *                     the code starts at CODE_START, an int3 trailer follows it, so a branch
 *                     that lands anywhere else in the page traps with #BP.
 *   DATA .. +0x3000   three data pages: 0 and 1 read/write, 2 read/write, read-only or absent
 *                     (chosen per case); DATA-0x1000 and DATA+0x3000 are never mapped.
 *   X87_PAGE          x87 rows only: the FXRSTOR image the prologue loads (offset 0) and the
 *                     FXSAVE image the epilogue stores (offset X87_SAVE).
 */
export const CODE_PAGE = 0x1000_0000;
export const CODE_START = CODE_PAGE + 0x800;
export const DATA = 0x2000_0000;
export const DATA_PAGES = 3;
export const DATA_SIZE = DATA_PAGES * 0x1000;
export const X87_PAGE = 0x2000_8000;
export const X87_SAVE = 0x200;
/** Instructions the emulator may retire before a case counts as a timeout. */
export const EMU_LIMIT = 100_000;
