/**
 * The paging unit (x86/paging.ts): unit tests per mode from the SDM (vol. 3 ch. 4), then a
 * property comparing `Mmu` with a reference model written here in a different style (BigInt
 * bit fields, reserved-bit tables per entry format) over random page-table trees.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Fault, PFEC_I, PFEC_P, PFEC_RSVD, PFEC_U, PFEC_W, PF_VEC } from '../../x86/fault.js';
import { AccessKind, LOOKUP_GLOBAL, LOOKUP_NOCACHE, type PhysicalMemory } from '../../x86/memory.js';
import { MAXPHYADDR, Mmu, type PagingRegs, type WalkInfo } from '../../x86/paging.js';

const R = AccessKind.Read;
const W = AccessKind.Write;
const X = AccessKind.Fetch;

// Control bits (SDM vol. 3 §2.5), spelled out here independently of the implementation.
const CR0_PE = 1;
const CR0_WP = 1 << 16;
const CR0_PG = 1 << 31;
const CR4_PSE = 1 << 4;
const CR4_PAE = 1 << 5;
const CR4_PGE = 1 << 7;
const CR4_SMEP = 1 << 20;
const CR4_SMAP = 1 << 21;
const EFER_LME = 1 << 8;
const EFER_LMA = 1 << 10;
const EFER_NXE = 1 << 11;

// Entry bits.
const P = 1;
const RW = 2;
const US = 4;
const A = 0x20;
const D = 0x40;
const PS = 0x80;
const G = 0x100;

/**
 * Test physical memory: RAM where `isRam(pfn)` (frames created zeroed on first use, the same
 * DataView each time), device frames reading a fixed byte pattern, everything else unassigned
 * (reads all ones). Device and unassigned writes are logged.
 */
class TestPhys implements PhysicalMemory {
  readonly frames = new Map<number, DataView>();
  readonly mmioWrites: [number, number, number][] = [];
  readonly mmioReads: [number, number][] = [];
  constructor(
    readonly isRam: (pfn: number) => boolean = (pfn) => pfn < 0x2000,
    readonly isDevice: (pfn: number) => boolean = () => false,
  ) {}
  frame(pfn: number): DataView | undefined {
    let v = this.frames.get(pfn);
    if (v === undefined && this.isRam(pfn)) {
      v = new DataView(new ArrayBuffer(4096));
      this.frames.set(pfn, v);
    }
    return v;
  }
  mmioRead(pa: number, size: 1 | 2 | 4): number {
    this.mmioReads.push([pa, size]);
    let v = 0;
    for (let k = size - 1; k >= 0; k--) v = v * 256 + this.byteAt(pa + k);
    return v;
  }
  mmioWrite(pa: number, size: 1 | 2 | 4, value: number): void {
    this.mmioWrites.push([pa, size, value]);
  }
  private byteAt(pa: number): number {
    if (!this.isDevice(Math.floor(pa / 4096))) return 0xff;
    const h = Math.imul((pa | 0) ^ Math.imul(Math.floor(pa / 2 ** 32), 0x45d9f3b), 0x9e3779b1);
    return (h >>> 24) & 0xff;
  }
  /** Host-side accesses (RAM only). */
  view(pa: number): DataView {
    const v = this.frame(Math.floor(pa / 4096));
    if (v === undefined) throw new Error(`not RAM: ${pa.toString(16)}`);
    return v;
  }
  w32(pa: number, v: number): void {
    this.view(pa).setUint32(pa % 4096, v >>> 0, true);
  }
  w64(pa: number, v: bigint): void {
    this.view(pa).setBigUint64(pa % 4096, BigInt.asUintN(64, v), true);
  }
  r32(pa: number): number {
    return this.view(pa).getUint32(pa % 4096, true);
  }
  r64(pa: number): bigint {
    return this.view(pa).getBigUint64(pa % 4096, true);
  }
}

function regsOf(p: Partial<PagingRegs> = {}): PagingRegs {
  return { cr0: 0, cr3: 0, cr4: 0, efer: 0, smapOverride: false, ...p };
}
const LONG: Partial<PagingRegs> = { cr0: CR0_PE | CR0_PG | CR0_WP, cr4: CR4_PAE, efer: EFER_LME | EFER_LMA | EFER_NXE };

function fault(r: { pa: number } | Fault): Fault {
  if (!(r instanceof Fault)) throw new Error(`expected a fault, got pa ${r.pa.toString(16)}`);
  return r;
}
function ecOf(mmu: Mmu, la: number, kind: AccessKind, user: boolean): number | 'ok' {
  const r = mmu.translate(la, kind, user);
  return r instanceof Fault ? r.errorCode : 'ok';
}
/** Canonical number for a 48-bit linear address given as a BigInt. */
function canon(la: bigint): number {
  return Number(BigInt.asIntN(48, la));
}

describe('paging disabled (CR0.PG = 0)', () => {
  it('maps linear to physical 1:1 over 32 bits without faults', () => {
    const phys = new TestPhys((pfn) => pfn < 0x100 || pfn === 0xfffff);
    const mmu = new Mmu(phys, regsOf({ cr0: CR0_PE | CR0_WP, cr4: CR4_SMEP | CR4_SMAP }));
    expect(mmu.lookup(0x12345, W, true)).toBe(phys.frame(0x12));
    expect(mmu.lookup(0xfffff123, X, true)).toBe(phys.frame(0xfffff));
    expect(mmu.lookupFlags).toBe(0);
    expect(mmu.translate(0xabcdef01, R, false)).toEqual({ pa: 0xabcdef01 });
  });

  it('passes non-RAM pages to the physical MMIO handlers', () => {
    const phys = new TestPhys((pfn) => pfn < 0x100, (pfn) => pfn === 0xfee00);
    const mmu = new Mmu(phys, regsOf({ cr0: CR0_PE }));
    expect(mmu.lookup(0xfee000f0, R, false)).toBeUndefined();
    mmu.mmioRead(0xfee000f0, 4);
    mmu.mmioWrite(0xfee000b0, 4, 0);
    expect(phys.mmioReads).toEqual([[0xfee000f0, 4]]);
    expect(phys.mmioWrites).toEqual([[0xfee000b0, 4, 0]]);
  });
});

describe('32-bit paging', () => {
  const PD = 0x1000;
  const PT = 0x2000;
  function setup(extra: Partial<PagingRegs> = {}): { phys: TestPhys; mmu: Mmu; regs: PagingRegs } {
    const phys = new TestPhys();
    const regs = regsOf({ cr0: CR0_PE | CR0_PG | CR0_WP, cr3: PD, ...extra });
    return { phys, mmu: new Mmu(phys, regs), regs };
  }

  it('translates a 4 KiB page and sets A in both levels, D in the PTE on a write', () => {
    const { phys, mmu } = setup();
    phys.w32(PD + 0x20 * 4, PT | P | RW | US); // la 0x08000000-0x083fffff
    phys.w32(PT + 0x48 * 4, 0x00345000 | P | RW | US);
    const la = 0x08048abc;
    expect(mmu.translate(la, R, true)).toEqual({ pa: 0x00345abc });
    expect(mmu.lookup(la, R, true)).toBe(phys.frame(0x345));
    expect(phys.r32(PD + 0x20 * 4)).toBe(PT | P | RW | US | A);
    expect(phys.r32(PT + 0x48 * 4)).toBe(0x00345000 | P | RW | US | A);
    mmu.lookup(la, W, true);
    expect(phys.r32(PD + 0x20 * 4)).toBe(PT | P | RW | US | A); // no D in a PDE that points to a table
    expect(phys.r32(PT + 0x48 * 4)).toBe(0x00345000 | P | RW | US | A | D);
  });

  it('4 MiB pages with CR4.PSE; PS is ignored (a table pointer) without it', () => {
    const { phys, mmu, regs } = setup({ cr4: CR4_PSE });
    phys.w32(PD + 0x301 * 4, 0x00c00000 | P | RW | PS);
    expect(mmu.translate(0xc0412345, R, false)).toEqual({ pa: 0x00c12345 });
    mmu.lookup(0xc0412345, W, false);
    expect(phys.r32(PD + 0x301 * 4)).toBe(0x00c00000 | P | RW | PS | A | D);
    regs.cr4 = 0;
    // Now PDE 0x301 points to a page table at 0x00c00000 (+ the flag bits are ignored in the address).
    phys.w32(0x00c00000 + 0x012 * 4, 0x00777000 | P);
    expect(mmu.translate(0xc0412345, R, false)).toEqual({ pa: 0x00777345 });
  });

  it('PSE-36: PDE bits 20:13 are physical bits 39:32; bit 21 is reserved', () => {
    const { phys, mmu } = setup({ cr4: CR4_PSE });
    phys.w32(PD + 0x001 * 4, 0x00400000 | (0xab << 13) | P | PS);
    expect(mmu.translate(0x00456789, R, false)).toEqual({ pa: 0xab_0045_6789 });
    phys.w32(PD + 0x002 * 4, 0x00800000 | (1 << 21) | P | PS);
    const f = fault(mmu.translate(0x00800000, W, true));
    expect([f.vector, f.errorCode, f.address]).toEqual([PF_VEC, PFEC_P | PFEC_RSVD | PFEC_W | PFEC_U, 0x00800000]);
    expect(MAXPHYADDR).toBe(40);
  });

  it('high-half addresses (0x80000000 and up) are positive numbers and index the upper PDEs', () => {
    const { phys, mmu } = setup();
    phys.w32(PD + 0x3ff * 4, PT | P);
    phys.w32(PT + 0x3ff * 4, 0x00999000 | P);
    expect(mmu.translate(0xfffff004, R, false)).toEqual({ pa: 0x00999004 });
  });

  it('no XD bit: the I/D flag stays clear with NXE = 1 unless SMEP is on', () => {
    const { mmu, regs } = setup({ efer: EFER_NXE });
    expect(ecOf(mmu, 0x1000, X, true)).toBe(PFEC_U);
    regs.cr4 = CR4_SMEP;
    expect(ecOf(mmu, 0x1000, X, true)).toBe(PFEC_U | PFEC_I);
  });
});

describe('PAE paging', () => {
  const PDPT = 0x1020; // 32-byte aligned, not page aligned
  const PDIR = 0x3000;
  const PT = 0x4000;
  function setup(extra: Partial<PagingRegs> = {}): { phys: TestPhys; mmu: Mmu; regs: PagingRegs } {
    const phys = new TestPhys((pfn) => pfn < 0x2000 || (pfn >= 0x100000 && pfn < 0x100400));
    const regs = regsOf({ cr0: CR0_PE | CR0_PG | CR0_WP, cr3: PDPT | 0x18, cr4: CR4_PAE, ...extra });
    phys.w64(PDPT + 3 * 8, BigInt(PDIR | P));
    phys.w64(PDIR + 0x1ff * 8, BigInt(PT | P | RW | US));
    return { phys, mmu: new Mmu(phys, regs), regs };
  }

  it('4 KiB pages above 4 GiB; A in PDE and PTE but not in the PDPTE (bit 5 is reserved there)', () => {
    const { phys, mmu } = setup();
    phys.w64(PT + 0x1fe * 8, 0x1_0012_3000n | BigInt(P | RW | US));
    expect(mmu.translate(0xffffe123, R, true)).toEqual({ pa: 0x1_0012_3123 });
    mmu.lookup(0xffffe123, W, true);
    expect(phys.r64(PDPT + 3 * 8)).toBe(BigInt(PDIR | P));
    expect(phys.r64(PDIR + 0x1ff * 8)).toBe(BigInt(PT | P | RW | US | A));
    expect(phys.r64(PT + 0x1fe * 8)).toBe(0x1_0012_3000n | BigInt(P | RW | US | A | D));
  });

  it('2 MiB pages regardless of CR4.PSE; bits 20:13 reserved', () => {
    const { phys, mmu } = setup();
    phys.w64(PDIR + 0x1fe * 8, 0x0060_0000n | BigInt(P | RW | PS | G));
    expect(mmu.translate(0xffd12345, R, false)).toEqual({ pa: 0x00712345 });
    phys.w64(PDIR + 0x1fe * 8, 0x0060_0000n | BigInt(P | RW | PS) | (1n << 13n));
    expect(ecOf(mmu, 0xffd12345, R, false)).toBe(PFEC_P | PFEC_RSVD);
  });

  it('bits 62:40 are reserved (not only 51:40), bit 63 too while NXE = 0', () => {
    const { phys, mmu, regs } = setup();
    phys.w64(PT + 0x10 * 8, (1n << 60n) | 0x5000n | BigInt(P));
    expect(ecOf(mmu, 0xffe10000, R, false)).toBe(PFEC_P | PFEC_RSVD);
    phys.w64(PT + 0x10 * 8, (1n << 63n) | 0x5000n | BigInt(P));
    expect(ecOf(mmu, 0xffe10000, R, false)).toBe(PFEC_P | PFEC_RSVD);
    expect(ecOf(mmu, 0xffe10000, X, false)).toBe(PFEC_P | PFEC_RSVD); // no I/D: NXE = 0
    regs.efer = EFER_NXE;
    expect(ecOf(mmu, 0xffe10000, R, false)).toBe('ok');
    expect(ecOf(mmu, 0xffe10000, X, false)).toBe(PFEC_P | PFEC_I);
  });

  it('PDPTE reserved bits: checkPdptes fails, a walk faults with RSVD; XD is reserved in PDPTEs even with NXE', () => {
    const { phys, mmu, regs } = setup({ efer: EFER_NXE });
    expect(mmu.checkPdptes()).toBe(true);
    phys.w64(PDPT + 1 * 8, BigInt(0x7000 | P | RW)); // R/W is reserved in a PAE PDPTE
    expect(mmu.checkPdptes()).toBe(false);
    expect(ecOf(mmu, 0x40000000, R, false)).toBe(PFEC_P | PFEC_RSVD);
    phys.w64(PDPT + 1 * 8, BigInt(0x7000 | RW)); // not present: nothing is checked
    expect(mmu.checkPdptes()).toBe(true);
    expect(ecOf(mmu, 0x40000000, R, false)).toBe(0);
    phys.w64(PDPT + 1 * 8, (1n << 63n) | BigInt(0x7000 | P));
    expect(mmu.checkPdptes()).toBe(false);
    // A candidate CR3 can be checked before it is committed.
    phys.w64(0x5000, BigInt(0x7000 | P | A));
    expect(mmu.checkPdptes(0x5000)).toBe(false);
    expect(mmu.checkPdptes(PDPT - 0x20)).toBe(true);
    expect(regs.cr3).toBe(PDPT | 0x18);
  });
});

describe('4-level paging', () => {
  const PML4 = 0x1000;
  function setup(extra: Partial<PagingRegs> = {}): { phys: TestPhys; mmu: Mmu; regs: PagingRegs } {
    const phys = new TestPhys((pfn) => pfn < 0x2000 || (pfn >= 0x40000 && pfn < 0x40400) || (pfn >= 0xfff_0000 && pfn < 0xfff_0010));
    const regs = regsOf({ ...LONG, cr3: PML4, ...extra });
    return { phys, mmu: new Mmu(phys, regs), regs };
  }
  /** Maps `la` with a 4 KiB page through tables at 0x2000, 0x3000, 0x4000 (+ `slot` pages). */
  function map4k(phys: TestPhys, la: number, pa: number, flags: number, slot = 0): void {
    const u = BigInt.asUintN(48, BigInt(la));
    const ix = (lvl: number): number => Number((u >> BigInt(12 + 9 * lvl)) & 0x1ffn) * 8;
    const t3 = 0x2000 + slot * 0x3000;
    phys.w64(PML4 + ix(3), BigInt(t3 | P | RW | US));
    phys.w64(t3 + ix(2), BigInt((t3 + 0x1000) | P | RW | US));
    phys.w64(t3 + 0x1000 + ix(1), BigInt((t3 + 0x2000) | P | RW | US));
    phys.w64(t3 + 0x2000 + ix(0), BigInt(pa) | BigInt(flags));
  }

  it('translates lower- and upper-half 4 KiB pages and sets A on all four levels, D on the PTE', () => {
    const { phys, mmu } = setup();
    const hi = canon(0xffff_8000_0000_2000n);
    map4k(phys, 0x0000_7fff_ffff_f000, 0x9000, P | RW | US);
    map4k(phys, hi, 0xa000, P | RW, 1);
    expect(mmu.translate(0x0000_7fff_ffff_f008, R, true)).toEqual({ pa: 0x9008 });
    expect(mmu.translate(hi + 0xfff, R, false)).toEqual({ pa: 0xafff });
    mmu.lookup(hi + 8, W, false);
    // PML4 index 256 for the upper half.
    expect(phys.r64(PML4 + 256 * 8)).toBe(BigInt(0x5000 | P | RW | US | A));
    expect(phys.r64(0x5000)).toBe(BigInt(0x6000 | P | RW | US | A));
    expect(phys.r64(0x6000)).toBe(BigInt(0x7000 | P | RW | US | A));
    expect(phys.r64(0x7000 + 2 * 8)).toBe(BigInt(0xa000 | P | RW | A | D));
    const f = fault(mmu.translate(hi, R, true));
    expect(f.address).toBe(hi); // CR2 keeps the sign-extended form
    expect(f.errorCode).toBe(PFEC_P | PFEC_U);
  });

  it('2 MiB and 1 GiB pages, D set in the entry that maps the page', () => {
    const { phys, mmu } = setup();
    phys.w64(PML4, BigInt(0x2000 | P | RW | US));
    phys.w64(0x2000 + 1 * 8, 0x4000_0000n | BigInt(P | RW | US | PS)); // 1 GiB at la 1 GiB → pa 1 GiB
    phys.w64(0x2000 + 2 * 8, BigInt(0x3000 | P | RW | US));
    phys.w64(0x3000 + 3 * 8, 0x0020_0000n | BigInt(P | RW | PS)); // la 0x80600000 → 0x200000
    expect(mmu.translate(0x4012_3456, R, true)).toEqual({ pa: 0x4012_3456 });
    expect(mmu.lookup(0x4012_3456, W, true)).toBe(phys.frame(0x40123));
    expect(phys.r64(0x2000 + 8)).toBe(0x4000_0000n | BigInt(P | RW | US | PS | A | D));
    expect(mmu.translate(0x8071_2345, R, false)).toEqual({ pa: 0x31_2345 });
    mmu.lookup(0x8071_2345, R, false);
    expect(phys.r64(0x3000 + 3 * 8)).toBe(0x0020_0000n | BigInt(P | RW | PS | A));
  });

  it('reserved bits: PS in a PML4E, bits 51:40, 29:13 of a 1 GiB page, 20:13 of a 2 MiB page, XD without NXE', () => {
    const { phys, mmu, regs } = setup();
    const rsvd = PFEC_P | PFEC_RSVD;
    phys.w64(PML4, BigInt(0x2000 | P | RW | US | PS));
    expect(ecOf(mmu, 0x1000, W, true)).toBe(rsvd | PFEC_W | PFEC_U);
    phys.w64(PML4, BigInt(0x2000 | P | RW | US));
    phys.w64(0x2000, 0x4000_0000n | BigInt(P | RW | US | PS) | (1n << 13n));
    expect(ecOf(mmu, 0x1000, R, false)).toBe(rsvd);
    expect(ecOf(mmu, 0x1000, X, false)).toBe(rsvd | PFEC_I);
    phys.w64(0x2000, BigInt(0x3000 | P | RW | US) | (1n << 51n));
    expect(ecOf(mmu, 0x1000, R, false)).toBe(rsvd);
    phys.w64(0x2000, BigInt(0x3000 | P | RW | US) | (1n << 52n)); // 62:52 are ignored
    phys.w64(0x3000, 0x0020_0000n | BigInt(P | RW | US | PS) | (1n << 20n));
    expect(ecOf(mmu, 0x1000, R, false)).toBe(rsvd);
    phys.w64(0x3000, 0x0020_0000n | BigInt(P | RW | US | PS) | (1n << 12n)); // PAT: fine
    expect(mmu.translate(0x1000, R, false)).toEqual({ pa: 0x20_1000 });
    phys.w64(0x3000, 0x0020_0000n | BigInt(P | RW | US | PS) | (1n << 63n));
    expect(ecOf(mmu, 0x1000, X, false)).toBe(PFEC_P | PFEC_I);
    regs.efer = EFER_LME | EFER_LMA;
    expect(ecOf(mmu, 0x1000, R, false)).toBe(rsvd);
    expect(ecOf(mmu, 0x1000, X, false)).toBe(rsvd); // no I/D: NXE = 0, SMEP = 0
    // Not present wins over reserved bits of the lower levels (never read).
    phys.w64(PML4, BigInt(0x2000 | RW | US | PS));
    expect(ecOf(mmu, 0x1000, R, false)).toBe(0);
  });

  it('page tables above 4 GiB and a CR3 above 4 GiB (low CR3 bits ignored)', () => {
    const { phys, mmu, regs } = setup();
    const top = 0xfff_0000 * 4096;
    regs.cr3 = top + 0x018;
    phys.w64(top, BigInt(top + 0x1000) | BigInt(P | RW));
    phys.w64(top + 0x1000, BigInt(top + 0x2000) | BigInt(P | RW));
    phys.w64(top + 0x2000, BigInt(top + 0x3000) | BigInt(P | RW));
    phys.w64(top + 0x3000 + 5 * 8, BigInt(top + 0x4000) | BigInt(P | RW));
    expect(mmu.translate(0x5abc, R, false)).toEqual({ pa: top + 0x4abc });
    expect(mmu.lookup(0x5abc, R, false)).toBe(phys.frame(0xfff_0004));
  });

  it('a recursive PML4 slot (the same entry at every level) gets A once and D', () => {
    const { phys, mmu } = setup();
    phys.w64(PML4 + 0x1ed * 8, BigInt(PML4 | P | RW));
    const self = canon((0x1edn << 39n) | (0x1edn << 30n) | (0x1edn << 21n) | (0x1edn << 12n));
    expect(mmu.translate(self + 0x10, R, false)).toEqual({ pa: PML4 + 0x10 });
    mmu.lookup(self, W, false);
    expect(phys.r64(PML4 + 0x1ed * 8)).toBe(BigInt(PML4 | P | RW | A | D));
  });

  it('ignores linear-address bits 63:48 (a non-canonical address never reaches it, but does no harm)', () => {
    const { phys, mmu } = setup();
    map4k(phys, 0x1000, 0x8000, P | RW);
    expect(mmu.translate(2 ** 48 + 0x1234, R, false)).toEqual({ pa: 0x8234 });
    expect(mmu.translate(-(2 ** 52) + 0x1234, R, false)).toEqual({ pa: 0x8234 });
  });

  it('reads the registers on every walk (CR3 switch, NXE, WP)', () => {
    const { phys, mmu, regs } = setup();
    map4k(phys, 0x1000, 0x8000, P | US);
    expect(mmu.translate(0x1000, W, false)).toBeInstanceOf(Fault);
    regs.cr0 &= ~CR0_WP;
    expect(mmu.translate(0x1000, W, false)).toEqual({ pa: 0x8000 });
    regs.cr3 = 0x10000;
    expect(ecOf(mmu, 0x1000, R, false)).toBe(0);
  });
});

describe('#PF error codes (SDM §4.6, §4.7)', () => {
  // One 4-level mapping per page kind at la = slot << 12, all through user, writable upper levels.
  const PML4 = 0x1000;
  const PTE = 0x4000;
  const pages = {
    absent: 0,
    userRw: P | RW | US,
    userRo: P | US,
    userNx: P | RW | US | -0x80000000,
    supRw: P | RW,
    supRo: P,
    supNx: P | RW | -0x80000000,
  } as const;
  type Page = keyof typeof pages;
  const slot = (p: Page): number => Object.keys(pages).indexOf(p) + 1;
  function setup(cr0: number, cr4: number, efer: number, smapOverride = false): Mmu {
    const phys = new TestPhys();
    phys.w64(PML4, BigInt(0x2000 | P | RW | US));
    phys.w64(0x2000, BigInt(0x3000 | P | RW | US));
    phys.w64(0x3000, BigInt(PTE | P | RW | US));
    for (const [name, flags] of Object.entries(pages)) {
      const hiBit = flags < 0 ? 1n << 63n : 0n;
      phys.w64(PTE + slot(name as Page) * 8, hiBit | BigInt(0x100000 + slot(name as Page) * 0x1000) | BigInt(flags & 0xfff));
    }
    return new Mmu(phys, regsOf({ cr0: CR0_PE | CR0_PG | cr0, cr3: PML4, cr4: CR4_PAE | cr4, efer: EFER_LME | EFER_LMA | efer, smapOverride }));
  }
  const ec = (mmu: Mmu, p: Page, kind: AccessKind, user: boolean): number | 'ok' => ecOf(mmu, slot(p) << 12, kind, user);
  const [u, w, i, pr] = [PFEC_U, PFEC_W, PFEC_I, PFEC_P];

  it('not present: P = 0, with W/R, U/S and I/D (NXE = 1)', () => {
    const m = setup(CR0_WP, 0, EFER_NXE);
    expect([ec(m, 'absent', R, false), ec(m, 'absent', W, false), ec(m, 'absent', X, false)]).toEqual([0, w, i]);
    expect([ec(m, 'absent', R, true), ec(m, 'absent', W, true), ec(m, 'absent', X, true)]).toEqual([u, u | w, u | i]);
  });

  it('user accesses: U/S = 0 anywhere, R/W = 0 on writes, XD on fetches', () => {
    const m = setup(CR0_WP, 0, EFER_NXE);
    expect([ec(m, 'userRw', R, true), ec(m, 'userRw', W, true), ec(m, 'userRw', X, true)]).toEqual(['ok', 'ok', 'ok']);
    expect([ec(m, 'userRo', R, true), ec(m, 'userRo', W, true), ec(m, 'userRo', X, true)]).toEqual(['ok', pr | u | w, 'ok']);
    expect([ec(m, 'userNx', R, true), ec(m, 'userNx', W, true), ec(m, 'userNx', X, true)]).toEqual(['ok', 'ok', pr | u | i]);
    expect([ec(m, 'supRw', R, true), ec(m, 'supRw', W, true), ec(m, 'supRw', X, true)]).toEqual([pr | u, pr | u | w, pr | u | i]);
    // CR0.WP does not matter to user accesses.
    const m0 = setup(0, 0, EFER_NXE);
    expect(ec(m0, 'userRo', W, true)).toBe(pr | u | w);
  });

  it('supervisor writes to read-only pages fault only with CR0.WP = 1 (and set D otherwise)', () => {
    const m1 = setup(CR0_WP, 0, EFER_NXE);
    expect([ec(m1, 'supRo', W, false), ec(m1, 'userRo', W, false), ec(m1, 'supRw', W, false)]).toEqual([pr | w, pr | w, 'ok']);
    const m0 = setup(0, 0, EFER_NXE);
    expect([ec(m0, 'supRo', W, false), ec(m0, 'userRo', W, false)]).toEqual(['ok', 'ok']);
  });

  it('supervisor fetches: XD with NXE; SMEP forbids user pages and sets I/D even without NXE', () => {
    const m = setup(CR0_WP, 0, EFER_NXE);
    expect([ec(m, 'supNx', X, false), ec(m, 'userNx', X, false), ec(m, 'userRw', X, false)]).toEqual([pr | i, pr | i, 'ok']);
    const s = setup(CR0_WP, CR4_SMEP, 0);
    expect([ec(s, 'userRw', X, false), ec(s, 'supRw', X, false), ec(s, 'userRw', R, false)]).toEqual([pr | i, 'ok', 'ok']);
    expect(ec(s, 'absent', X, false)).toBe(i);
    expect(ec(s, 'absent', X, true)).toBe(u | i);
    // NXE = 0 and no SMEP: no I/D bit at all, and bit 63 is reserved.
    const n = setup(CR0_WP, 0, 0);
    expect([ec(n, 'absent', X, false), ec(n, 'supNx', X, false), ec(n, 'supNx', R, false)]).toEqual([0, pr | PFEC_RSVD, pr | PFEC_RSVD]);
  });

  it('SMAP: supervisor data accesses to user pages fault unless overridden (AC = 1, explicit); fetches are unaffected', () => {
    const m = setup(CR0_WP, CR4_SMAP, EFER_NXE);
    expect([ec(m, 'userRw', R, false), ec(m, 'userRw', W, false), ec(m, 'userRw', X, false), ec(m, 'supRw', R, false)]).toEqual([pr, pr | w, 'ok', 'ok']);
    expect([ec(m, 'userRw', R, true), ec(m, 'userRw', W, true)]).toEqual(['ok', 'ok']);
    const o = setup(CR0_WP, CR4_SMAP, EFER_NXE, true);
    expect([ec(o, 'userRw', R, false), ec(o, 'userRw', W, false), ec(o, 'userRo', W, false)]).toEqual(['ok', 'ok', pr | w]);
    const o0 = setup(0, CR4_SMAP, EFER_NXE, true);
    expect(ec(o0, 'userRo', W, false)).toBe('ok');
  });

  it('reserved bits: P and RSVD together, plus the access bits', () => {
    const phys = new TestPhys();
    phys.w64(PML4, (1n << 40n) | BigInt(0x2000 | P | RW | US));
    const m = new Mmu(phys, regsOf({ ...LONG, cr3: PML4 }));
    expect([ecOf(m, 0, R, false), ecOf(m, 0, W, true), ecOf(m, 0, X, true)]).toEqual([
      pr | PFEC_RSVD,
      pr | PFEC_RSVD | w | u,
      pr | PFEC_RSVD | u | i,
    ]);
    expect(() => m.lookup(0, R, false)).toThrow(Fault);
  });
});

describe('A/D bits and side effects', () => {
  function longSetup(): { phys: TestPhys; mmu: Mmu } {
    const phys = new TestPhys((pfn) => pfn < 0x100, (pfn) => pfn === 0xfed00);
    phys.w64(0x1000, BigInt(0x2000 | P | RW | US));
    phys.w64(0x2000, BigInt(0x3000 | P | RW | US));
    phys.w64(0x3000, BigInt(0x4000 | P | RW | US));
    phys.w64(0x4000 + 8, BigInt(0x9000 | P | US)); // la 0x1000, read-only
    phys.w64(0x4000 + 16, BigInt(0xfed00000 + (P | RW))); // la 0x2000, a device page
    return { phys, mmu: new Mmu(phys, regsOf({ ...LONG, cr3: 0x1000 })) };
  }

  it('a faulting walk sets no A bit anywhere (documented choice)', () => {
    const { phys, mmu } = longSetup();
    expect(() => mmu.lookup(0x3000, R, false)).toThrow(Fault); // PTE not present
    expect(() => mmu.lookup(0x1000, W, false)).toThrow(Fault); // protection
    expect([phys.r64(0x1000), phys.r64(0x2000), phys.r64(0x3000), phys.r64(0x4008)].map((e) => Number(e) & A)).toEqual([0, 0, 0, 0]);
  });

  it('translate and walkEntries write nothing', () => {
    const { phys, mmu } = longSetup();
    expect(mmu.translate(0x1000, R, true)).toEqual({ pa: 0x9000 });
    expect(mmu.walkEntries(0x1000)).toEqual([
      { level: 4, entryPa: 0x1000, lo: 0x2000 | P | RW | US, hi: 0 },
      { level: 3, entryPa: 0x2000, lo: 0x3000 | P | RW | US, hi: 0 },
      { level: 2, entryPa: 0x3000, lo: 0x4000 | P | RW | US, hi: 0 },
      { level: 1, entryPa: 0x4008, lo: 0x9000 | P | US, hi: 0 },
    ]);
    expect(mmu.walkEntries(0x3000).length).toBe(4);
    expect(Number(phys.r64(0x4008)) & A).toBe(0);
  });

  it('MMIO through paging: lookup returns undefined, accesses go to the physical address, A/D set once', () => {
    const { phys, mmu } = longSetup();
    expect(mmu.lookup(0x2010, W, false)).toBeUndefined();
    expect(Number(phys.r64(0x4010)) & (A | D)).toBe(A | D);
    phys.w64(0x4010, BigInt(0xfed00000 + (P | RW))); // clear A/D: the MMIO accesses must not set them again
    mmu.mmioWrite(0x2010, 4, 0x1234);
    mmu.mmioWrite(0x2014, 2, 0x56);
    expect(mmu.lookup(0x2020, R, false)).toBeUndefined();
    phys.w64(0x4010, BigInt(0xfed00000 + (P | RW)));
    const v = mmu.mmioRead(0x2020, 4);
    expect(phys.mmioWrites).toEqual([[0xfed00010, 4, 0x1234], [0xfed00014, 2, 0x56]]);
    expect(phys.mmioReads).toEqual([[0xfed00020, 4]]);
    expect(typeof v).toBe('number');
    expect(phys.r64(0x4010)).toBe(BigInt(0xfed00000 + (P | RW)));
    // Without a preceding lookup of that page, it translates again.
    mmu.lookup(0x1000, R, false);
    mmu.mmioRead(0x2ffc, 4);
    expect(phys.mmioReads.at(-1)).toEqual([0xfed00ffc, 4]);
  });

  it('the global flag: CR4.PGE and G in the entry that maps the page (G elsewhere is ignored)', () => {
    const phys = new TestPhys();
    phys.w64(0x1000, BigInt(0x2000 | P | RW | G));
    phys.w64(0x2000, BigInt(0x3000 | P | RW | G));
    phys.w64(0x3000, BigInt(0x4000 | P | RW | G));
    phys.w64(0x3008, 0x20_0000n | BigInt(P | RW | PS | G)); // la 0x200000: a global 2 MiB page
    phys.w64(0x4000, BigInt(0x9000 | P | RW)); // la 0: not global
    const regs = regsOf({ ...LONG, cr3: 0x1000, cr4: CR4_PAE | CR4_PGE });
    const mmu = new Mmu(phys, regs);
    mmu.lookup(0x200000, R, false);
    expect(mmu.lookupFlags).toBe(LOOKUP_GLOBAL);
    mmu.lookup(0, R, false);
    expect(mmu.lookupFlags).toBe(0);
    regs.cr4 = CR4_PAE;
    mmu.lookup(0x200000, R, false);
    expect(mmu.lookupFlags).toBe(0);
  });
});

describe('observers', () => {
  function setup(): { phys: TestPhys; mmu: Mmu } {
    const phys = new TestPhys();
    phys.w32(0x1000, 0x2000 | P | RW | US);
    phys.w32(0x2000 + 5 * 4, 0x7000 | P | RW | US);
    phys.w32(0x2000 + 6 * 4, 0x7000 | P | RW | US); // alias of the same frame
    phys.w32(0x2000 + 7 * 4, 0x8000 | P | RW | US);
    return { phys, mmu: new Mmu(phys, regsOf({ cr0: CR0_PE | CR0_PG, cr3: 0x1000 })) };
  }

  it('a frame write observer fires on write lookups through any alias, sets NOCACHE, and can be removed', () => {
    const { phys, mmu } = setup();
    const seen: [number, number][] = [];
    mmu.observeWrites(7, (pfn, pa) => seen.push([pfn, pa]));
    expect(mmu.lookup(0x5123, R, true)).toBe(phys.frame(7));
    expect(mmu.lookupFlags).toBe(0);
    mmu.lookup(0x5123, W, true);
    expect(mmu.lookupFlags).toBe(LOOKUP_NOCACHE);
    mmu.lookup(0x6ffc, W, false);
    mmu.lookup(0x7000, W, false);
    expect(mmu.lookupFlags).toBe(0);
    expect(seen).toEqual([[7, 0x7123], [7, 0x7ffc]]);
    mmu.observeWrites(7, undefined);
    mmu.lookup(0x5000, W, true);
    expect(mmu.lookupFlags).toBe(0);
    expect(seen.length).toBe(2);
  });

  it('an observer may remove itself (dirty logging); observeWritesAll covers every frame', () => {
    const { mmu } = setup();
    let calls = 0;
    const once = (pfn: number): void => {
      calls++;
      mmu.observeWrites(pfn, undefined);
    };
    mmu.observeWrites(8, once);
    mmu.lookup(0x7000, W, true);
    mmu.lookup(0x7000, W, true);
    expect(calls).toBe(1);
    const dirty = new Set<number>();
    mmu.observeWritesAll((pfn) => dirty.add(pfn));
    mmu.lookup(0x5000, W, true);
    expect(mmu.lookupFlags).toBe(LOOKUP_NOCACHE);
    mmu.lookup(0x7000, W, true);
    mmu.lookup(0x6000, R, true);
    // Frame 2 is the page table: the walks set A and D in its entries 5 and 6.
    expect([...dirty]).toEqual([2, 7, 8]);
    mmu.observeWritesAll(undefined);
    mmu.lookup(0x5000, W, true);
    expect(mmu.lookupFlags).toBe(0);
  });

  it("a walk's accessed/dirty update is a write to the table's frame: its observer sees it", () => {
    const { mmu } = setup();
    const seen: [number, number][] = [];
    mmu.observeWrites(2, (pfn, pa) => seen.push([pfn, pa]));
    mmu.observeWrites(1, (pfn, pa) => seen.push([pfn, pa]));
    mmu.lookup(0x5000, R, true); // A in the PDE (frame 1) and in PTE 5 (frame 2)
    mmu.lookup(0x5000, W, true); // D in PTE 5
    mmu.lookup(0x5000, W, true); // nothing left to set
    expect(seen).toEqual([[1, 0x1000], [2, 0x2014], [2, 0x2014]]);
    expect(mmu.observedFrames).toBe(2);
  });

  it('observers also see writes with paging off', () => {
    const phys = new TestPhys();
    const mmu = new Mmu(phys, regsOf({ cr0: CR0_PE }));
    const seen: number[] = [];
    mmu.observeWrites(0x42, (_pfn, pa) => seen.push(pa));
    mmu.lookup(0x42abc, W, false);
    expect(seen).toEqual([0x42abc]);
    expect(mmu.lookupFlags).toBe(LOOKUP_NOCACHE);
  });

  it('the walk observer gets every lookup walk with its entries and outcome', () => {
    const { mmu } = setup();
    const walks: WalkInfo[] = [];
    mmu.onWalk = (w) => walks.push(w);
    mmu.lookup(0x5010, W, true);
    expect(() => mmu.lookup(0x400000, R, true)).toThrow(Fault);
    mmu.translate(0x5010, R, true); // not reported
    expect(walks.length).toBe(2);
    expect(walks[0]).toEqual({
      la: 0x5010, kind: W, user: true, pa: 0x7010, fault: undefined,
      entries: [
        { level: 2, entryPa: 0x1000, lo: 0x2000 | P | RW | US, hi: 0 },
        { level: 1, entryPa: 0x2014, lo: 0x7000 | P | RW | US, hi: 0 },
      ],
    });
    expect(walks[1]?.pa).toBeUndefined();
    expect(walks[1]?.fault?.errorCode).toBe(PFEC_U);
    expect(walks[1]?.entries).toEqual([{ level: 2, entryPa: 0x1004, lo: 0, hi: 0 }]);
  });
});

// ---- reference model ----------------------------------------------------------------------------

type Mode = 'off' | 'legacy32' | 'pae' | 'long';

/** Bit positions [high, low], inclusive. */
type Range = readonly [number, number];
const field = (v: bigint, [hi, lo]: Range): bigint => (v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);
const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) === 1n;
const M = 40;

/** One level of a paging mode, as the SDM's entry-format tables describe it. */
interface Level {
  readonly name: string;
  readonly bytes: 4 | 8;
  /** Linear-address bits selecting the entry. */
  readonly index: Range;
  /** Whether this entry maps a page (given the control registers). */
  readonly mapsPage: (e: bigint, c: Ctl) => boolean;
  /** Reserved ("must be 0") bits when present. */
  readonly reserved: (e: bigint, c: Ctl) => Range[];
  /** For a page: its base address; otherwise the next table's. */
  readonly address: (e: bigint, page: boolean) => bigint;
  /** Linear-address bits that are the offset into the page this level maps. */
  readonly offset: Range;
  /** Has R/W, U/S and an accessed flag (not the PAE PDPTE). */
  readonly controls: boolean;
}
interface Ctl {
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
  smapOverride: boolean;
}
const nxe = (c: Ctl): boolean => (c.efer & EFER_NXE) !== 0;
const xdRsvd = (c: Ctl): Range[] => (nxe(c) ? [] : [[63, 63]]);
const addr = (e: bigint, low: number): bigint => field(e, [M - 1, low]) << BigInt(low);

const LEVELS: Record<Exclude<Mode, 'off'>, Level[]> = {
  legacy32: [
    {
      name: 'PDE', bytes: 4, index: [31, 22], controls: true, offset: [21, 0],
      mapsPage: (e, c) => bit(e, 7) && (c.cr4 & CR4_PSE) !== 0,
      reserved: (e, c) => (bit(e, 7) && (c.cr4 & CR4_PSE) !== 0 ? [[21, 21]] : []),
      address: (e, page) => (page ? (field(e, [20, 13]) << 32n) | (field(e, [31, 22]) << 22n) : field(e, [31, 12]) << 12n),
    },
    { name: 'PTE', bytes: 4, index: [21, 12], controls: true, offset: [11, 0], mapsPage: () => true, reserved: () => [], address: (e) => field(e, [31, 12]) << 12n },
  ],
  pae: [
    { name: 'PDPTE', bytes: 8, index: [31, 30], controls: false, offset: [0, 0], mapsPage: () => false, reserved: () => [[2, 1], [8, 5], [63, M]], address: (e) => addr(e, 12) },
    {
      name: 'PDE', bytes: 8, index: [29, 21], controls: true, offset: [20, 0],
      mapsPage: (e) => bit(e, 7),
      reserved: (e, c) => [[62, M], ...xdRsvd(c), ...(bit(e, 7) ? ([[20, 13]] as Range[]) : [])],
      address: (e, page) => addr(e, page ? 21 : 12),
    },
    { name: 'PTE', bytes: 8, index: [20, 12], controls: true, offset: [11, 0], mapsPage: () => true, reserved: (_e, c) => [[62, M], ...xdRsvd(c)], address: (e) => addr(e, 12) },
  ],
  long: [
    { name: 'PML4E', bytes: 8, index: [47, 39], controls: true, offset: [0, 0], mapsPage: () => false, reserved: (_e, c) => [[51, M], [7, 7], ...xdRsvd(c)], address: (e) => addr(e, 12) },
    {
      name: 'PDPTE', bytes: 8, index: [38, 30], controls: true, offset: [29, 0],
      mapsPage: (e) => bit(e, 7),
      reserved: (e, c) => [[51, M], ...xdRsvd(c), ...(bit(e, 7) ? ([[29, 13]] as Range[]) : [])],
      address: (e, page) => addr(e, page ? 30 : 12),
    },
    {
      name: 'PDE', bytes: 8, index: [29, 21], controls: true, offset: [20, 0],
      mapsPage: (e) => bit(e, 7),
      reserved: (e, c) => [[51, M], ...xdRsvd(c), ...(bit(e, 7) ? ([[20, 13]] as Range[]) : [])],
      address: (e, page) => addr(e, page ? 21 : 12),
    },
    { name: 'PTE', bytes: 8, index: [20, 12], controls: true, offset: [11, 0], mapsPage: () => true, reserved: (_e, c) => [[51, M], ...xdRsvd(c)], address: (e) => addr(e, 12) },
  ],
};

function modeOf(c: Ctl): Mode {
  if ((c.cr0 & CR0_PG) === 0) return 'off';
  if ((c.efer & EFER_LMA) !== 0) return 'long';
  return (c.cr4 & CR4_PAE) !== 0 ? 'pae' : 'legacy32';
}

/** Reads an entry byte by byte (RAM) or as dwords (elsewhere). */
function readEntry(phys: TestPhys, pa: bigint, bytes: 4 | 8): bigint {
  let v = 0n;
  for (let d = bytes / 4 - 1; d >= 0; d--) {
    const at = Number(pa) + d * 4;
    const view = phys.frame(Math.floor(at / 4096));
    let dw: bigint;
    if (view !== undefined) {
      dw = 0n;
      for (let k = 3; k >= 0; k--) dw = (dw << 8n) | BigInt(view.getUint8((at % 4096) + k));
    } else dw = BigInt(phys.mmioRead(at, 4) >>> 0);
    v = (v << 32n) | dw;
  }
  return v;
}

/** Sets `bits` in the entry's low dword if they are not all set, as the processor's locked update would. */
function setBits(phys: TestPhys, pa: bigint, bits: number): void {
  const at = Number(pa);
  const cur = Number(readEntry(phys, pa, 4));
  if ((cur & bits) === bits) return;
  const view = phys.frame(Math.floor(at / 4096));
  if (view !== undefined) for (let k = 0; k < 4; k++) view.setUint8((at % 4096) + k, ((cur | bits) >>> (8 * k)) & 0xff);
  else phys.mmioWrite(at, 4, cur | bits);
}

type RefResult = { pa: number; global: boolean } | { errorCode: number };

function reference(phys: TestPhys, c: Ctl, la: number, kind: AccessKind, user: boolean): RefResult {
  const lin = BigInt.asUintN(64, BigInt(la));
  const mode = modeOf(c);
  if (mode === 'off') return { pa: Number(field(lin, [31, 0])), global: false };
  const write = kind === AccessKind.Write;
  const fetch = kind === AccessKind.Fetch;
  // SDM §4.7: the bits every #PF of this access carries.
  const idFlag = fetch && ((c.cr4 & CR4_SMEP) !== 0 || ((c.cr4 & CR4_PAE) !== 0 && nxe(c)));
  const pf = (present: boolean, rsvd: boolean): RefResult => ({
    errorCode: (present ? 1 : 0) | (write ? 2 : 0) | (user ? 4 : 0) | (rsvd ? 8 : 0) | (idFlag ? 16 : 0),
  });

  const cr3 = BigInt(c.cr3);
  let table = mode === 'long' ? field(cr3, [M - 1, 12]) << 12n : mode === 'pae' ? field(cr3, [31, 5]) << 5n : field(cr3, [31, 12]) << 12n;
  const used: { at: bigint; e: bigint; level: Level }[] = [];
  let pa = -1n;
  for (const level of LEVELS[mode]) {
    const at = table + field(lin, level.index) * BigInt(level.bytes);
    const e = readEntry(phys, at, level.bytes);
    used.push({ at, e, level });
    if (!bit(e, 0)) return pf(false, false);
    if (level.reserved(e, c).some((r) => field(e, r) !== 0n)) return pf(true, true);
    if (level.mapsPage(e, c)) {
      pa = level.address(e, true) | field(lin, level.offset);
      break;
    }
    table = level.address(e, false);
  }

  // SDM §4.6: access rights from all the levels that carry them.
  const ctl = used.filter((u) => u.level.controls);
  const userPage = ctl.every((u) => bit(u.e, 2));
  const writable = ctl.every((u) => bit(u.e, 1));
  const noExec = mode !== 'legacy32' && nxe(c) && used.some((u) => bit(u.e, 63));
  const wp = (c.cr0 & CR0_WP) !== 0;
  let allowed: boolean;
  if (user) {
    allowed = userPage && (!write || writable) && (!fetch || !noExec);
  } else if (fetch) {
    allowed = !(userPage && (c.cr4 & CR4_SMEP) !== 0) && !noExec;
  } else {
    const smapBlocks = userPage && (c.cr4 & CR4_SMAP) !== 0 && !c.smapOverride;
    allowed = !smapBlocks && (!write || !wp || writable);
  }
  if (!allowed) return pf(true, false);

  // SDM §4.8: accessed flags in every entry used, dirty in the one mapping the page.
  ctl.forEach((u, k) => setBits(phys, u.at, k === ctl.length - 1 && write ? A | D : A));
  const leaf = used[used.length - 1] as (typeof used)[number];
  return { pa: Number(pa), global: (c.cr4 & CR4_PGE) !== 0 && bit(leaf.e, 8) };
}

// ---- the property ---------------------------------------------------------------------------------

/** Frames holding page tables (one above 4 GiB, one a device, one unassigned). */
const TABLES = [0x1, 0x2, 0x3, 0x10, 0xfffff, 0x100000, 0x7f3, 0x900] as const;
/** Page-table indexes the generated entries fill and the linear addresses use. */
const IDX8 = [0, 1, 2, 3, 4, 5, 6, 7, 256, 511] as const;
const IDX4 = [0, 1, 2, 3, 256, 511, 768, 1023] as const;
/** Entry targets: mostly RAM page tables, else zeroed RAM (also 2 MiB, 4 MiB and 1 GiB aligned), device, unassigned. */
const RAM_TABLES = [0x1, 0x2, 0x3, 0x10, 0xfffff, 0x100000] as const;
const targetArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...RAM_TABLES) },
  { weight: 1, arbitrary: fc.constantFrom(...TABLES, 0x0, 0x200, 0x400, 0x40000, 0x40200, 0xfff00, 0x7f0, 0x12345) },
);
const propRam = (pfn: number): boolean => pfn < 0x7f0 || (pfn >= 0xfff00 && pfn < 0x100800) || (pfn >= 0x40000 && pfn < 0x40800);
const propDevice = (pfn: number): boolean => pfn >= 0x7f0 && pfn < 0x800;

/**
 * Large-page targets: aligned for 4 MiB, 2 MiB and 1 GiB pages (unaligned ones come from the
 * ordinary targets); 0x1fe and 0x5fe set PDE bits 20:13 (PSE-36: physical bits 39:32) but not
 * the reserved bit 21; 0x20000 is 2 MiB aligned but sets bit 29, reserved in a 1 GiB page.
 */
const LARGE_TARGETS = [0x0, 0x400, 0x40000, 0xfff00, 0x100000, 0x1fe, 0x5fe, 0x20000] as const;

const entryArb = fc
  .record({
    target: targetArb,
    largeTarget: fc.constantFrom(...LARGE_TARGETS),
    present: fc.nat(9),
    flags: fc.nat(0xfff),
    permissive: fc.nat(2),
    largePage: fc.nat(3),
    lowRsvd: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 13, max: 29 }).map((b) => 1 << b) }),
    highRsvd: fc.oneof({ weight: 11, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 40, max: 62 }) }),
    xd: fc.nat(5),
  })
  .map(({ target, largeTarget, present, flags, permissive, largePage, lowRsvd, highRsvd, xd }) => {
    // Mostly present, writable and user (so that walks get deep); large pages mostly aligned.
    const low = (flags & ~(P | PS)) | (present === 0 ? 0 : P) | (permissive === 0 ? 0 : RW | US) | (largePage === 0 ? PS : 0) | lowRsvd;
    const pfn = largePage === 0 && flags % 4 !== 0 ? largeTarget : target;
    let e = (BigInt(pfn) << 12n) | BigInt(low >>> 0);
    if (highRsvd !== 0) e |= 1n << BigInt(highRsvd);
    if (xd === 0) e |= 1n << 63n;
    return e;
  });

const ctlArb = fc.record({
  mode: fc.constantFrom<Mode>('off', 'legacy32', 'pae', 'long', 'long'),
  wp: fc.boolean(),
  nxe: fc.boolean(),
  smep: fc.boolean(),
  smap: fc.boolean(),
  ac: fc.boolean(),
  pge: fc.boolean(),
  pse: fc.boolean(),
  cr3Frame: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...RAM_TABLES) }, { weight: 1, arbitrary: fc.constantFrom(...TABLES) }),
  cr3Low: fc.constantFrom(0, 0x18, 0x20, 0x38, 0xfff),
  /** PAE: usually clear the reserved bits of the four PDPTEs (random flags would nearly always set some). */
  cleanPdptes: fc.nat(3),
});

const accessArb = fc.record({
  kind: fc.constantFrom(R, W, X),
  user: fc.boolean(),
  i4: fc.constantFrom(...IDX8),
  i3: fc.constantFrom(...IDX8),
  i2: fc.constantFrom(...IDX8, ...IDX4),
  i1: fc.constantFrom(...IDX8, ...IDX4),
  offset: fc.nat(0xfff),
  raw: fc.nat(0xffffffff),
});

function linearOf(mode: Mode, a: { i4: number; i3: number; i2: number; i1: number; offset: number; raw: number }): number {
  const off = BigInt(a.offset);
  switch (mode) {
    case 'off':
      return a.raw;
    case 'legacy32':
      return Number((BigInt(a.i2 & 0x3ff) << 22n) | (BigInt(a.i1 & 0x3ff) << 12n) | off);
    case 'pae':
      return Number((BigInt(a.i3 & 3) << 30n) | (BigInt(a.i2 & 0x1ff) << 21n) | (BigInt(a.i1 & 0x1ff) << 12n) | off);
    case 'long':
      return canon((BigInt(a.i4) << 39n) | (BigInt(a.i3) << 30n) | (BigInt(a.i2 & 0x1ff) << 21n) | (BigInt(a.i1 & 0x1ff) << 12n) | off);
  }
}

function buildPhys(mode: Mode, entries: readonly bigint[], cleanPdptesAt: number | undefined): TestPhys {
  const phys = new TestPhys(propRam, propDevice);
  const idx = mode === 'legacy32' ? IDX4 : IDX8;
  let n = 0;
  for (const pfn of TABLES) {
    if (!propRam(pfn)) continue;
    for (const k of idx) {
      const e = entries[n++ % entries.length] as bigint;
      if (mode === 'legacy32') phys.w32(pfn * 4096 + k * 4, Number(e & 0xffffffffn));
      else phys.w64(pfn * 4096 + k * 8, e);
    }
  }
  if (cleanPdptesAt !== undefined && propRam(Math.floor(cleanPdptesAt / 4096))) {
    for (let k = 0; k < 4; k++) {
      const at = cleanPdptesAt + k * 8;
      phys.w64(at, phys.r64(at) & 0x00ff_ffff_ffff_fe19n);
    }
  }
  return phys;
}

/** The page-table frames' bytes (A/D updates can only land there: other frames hold no present entry). */
function dump(phys: TestPhys): Buffer {
  return Buffer.concat(TABLES.map((pfn) => {
    const v = phys.frame(pfn);
    return v === undefined ? Buffer.alloc(0) : Buffer.from(v.buffer);
  }));
}

describe('Mmu = reference model (random page-table trees)', () => {
  it('same physical address or #PF, same global flag, same A/D writes', () => {
    fc.assert(
      fc.property(ctlArb, fc.array(entryArb, { minLength: 80, maxLength: 80 }), fc.array(accessArb, { minLength: 1, maxLength: 6 }), (k, entries, accesses) => {
        const mode = k.mode;
        const c: Ctl = {
          cr0: CR0_PE | (mode === 'off' ? 0 : CR0_PG) | (k.wp ? CR0_WP : 0),
          cr3: mode === 'pae' || mode === 'legacy32' ? ((k.cr3Frame * 4096) % 2 ** 32) + k.cr3Low : k.cr3Frame * 4096 + k.cr3Low,
          cr4: (mode === 'pae' || mode === 'long' ? CR4_PAE : 0) | (k.pse ? CR4_PSE : 0) | (k.pge ? CR4_PGE : 0) | (k.smep ? CR4_SMEP : 0) | (k.smap ? CR4_SMAP : 0),
          efer: (mode === 'long' ? EFER_LME | EFER_LMA : 0) | (k.nxe ? EFER_NXE : 0),
          smapOverride: k.ac,
        };
        const pdpt = mode === 'pae' && k.cleanPdptes !== 0 ? c.cr3 - (c.cr3 % 32) : undefined;
        const physA = buildPhys(mode, entries, pdpt);
        const physB = buildPhys(mode, entries, pdpt);
        const mmu = new Mmu(physA, { ...c });
        for (const a of accesses) {
          const la = linearOf(mode, a);
          const want = reference(physB, c, la, a.kind, a.user);
          const before = dump(physA);
          const t = mmu.translate(la, a.kind, a.user);
          expect(dump(physA).equals(before)).toBe(true);
          let got: RefResult;
          let view: DataView | undefined;
          try {
            view = mmu.lookup(la, a.kind, a.user);
            got = { pa: (t as { pa: number }).pa, global: (mmu.lookupFlags & LOOKUP_GLOBAL) !== 0 };
          } catch (e) {
            if (!(e instanceof Fault)) throw e;
            expect([e.vector, e.address]).toEqual([PF_VEC, la]);
            got = { errorCode: e.errorCode };
          }
          expect(got, `la ${la.toString(16)} kind ${a.kind} user ${a.user}`).toEqual(want);
          expect(t instanceof Fault ? { errorCode: t.errorCode } : { pa: t.pa }).toEqual('pa' in want ? { pa: want.pa } : want);
          if ('pa' in want) expect(view).toBe(physA.frame(Math.floor(want.pa / 4096)));
          expect(dump(physA).equals(dump(physB)), 'page-table bytes after A/D updates').toBe(true);
          expect(physA.mmioWrites).toEqual(physB.mmioWrites);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
