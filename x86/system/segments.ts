/**
 * Segment-register loads with their protection checks, and the descriptor-table instructions
 * (Intel SDM vol. 3 §3.4-3.5 descriptors, §5.4-5.8 privilege checks, §5.10.1 LAR/LSL/VERR/VERW;
 * vol. 2 under MOV, POP, LDS/LES/LFS/LGS/LSS, LLDT, LTR, SLDT, STR, VERR/VERW, LAR, LSL, ARPL;
 * AMD APM vol. 2 §4.5-4.11 and vol. 3 for the long-mode rules).
 *
 * Error codes name the selector with its RPL bits cleared (§6.13; EXT is 0: these faults come
 * from the instruction). Every check is made before anything is committed, so a faulting load
 * leaves the segment register as it was; the accessed bit is set in memory once the load is
 * known to succeed (§3.4.5.1).
 *
 * A CPU that is not system-level (the user-mode runner) has no descriptor tables: a segment
 * load stores the selector with base 0 (FS and GS keep their base, which the runner sets as
 * the MSRs would) and never faults; SLDT/STR/LLDT/LTR are #GP(0) as for a process on a host with
 * UMIP; VERR/VERW/LAR/LSL find no descriptor (ZF = 0).
 */
import type { Cpu } from '../cpu.js';
import { FS, SS_SEG, type Insn } from '../decoder.js';
import { Fault, GP, NP, SS, UD } from '../fault.js';
import { ZF } from '../isa/types.js';
import { readE, writeE } from '../exec/operands.js';
import { attrOf, baseOf, dplOf, join64, limitOf, markAccessed, readDescriptor, tableAddress, type RawDescriptor } from './descriptors.js';
import { CR0_PE, EFER_LMA, SA_CE, SA_CODE, SA_P, SA_RW, SA_S, isCanonical } from './regs.js';

/** Selector error code: index and TI, RPL cleared. */
export function selError(sel: number): number {
  return sel & 0xfffc;
}

/** Whether the CPU is in IA-32e mode (64-bit or compatibility): 16-byte system descriptors. */
export function longMode(c: Cpu): boolean {
  return (c.efer & EFER_LMA) !== 0;
}

/** The cache contents a checked load produces: [selector, base, limit, attributes]. */
export type SegCache = readonly [number, number, number, number];

/**
 * Checks loading `sel` into data segment register `seg` (ES, DS, FS, GS) and returns the cache
 * contents without loading (LDS & co. check both parts before committing either). Marks the
 * descriptor accessed (that happens once the checks pass, as on hardware).
 */
export function checkDataSegment(c: Cpu, seg: number, sel: number): SegCache {
  if (!c.system) return [sel, seg >= FS ? (c.segBase[seg] as number) : 0, c.segLimit[seg] as number, c.segAttr[seg] as number];
  if ((c.cr0 & CR0_PE) === 0) return [sel, sel * 16, c.segLimit[seg] as number, c.segAttr[seg] as number];
  // A null selector: allowed; the register becomes unusable (base 0, as Intel loads it).
  if ((sel & 0xfffc) === 0) return [sel, 0, 0, 0];
  const d = readDescriptor(c, sel);
  if (d === undefined) throw new Fault(GP, selError(sel));
  const attr = attrOf(d.hi);
  // Data, or readable code; data and non-conforming code need DPL >= max(CPL, RPL).
  if ((attr & SA_S) === 0 || (attr & (SA_CODE | SA_RW)) === SA_CODE) throw new Fault(GP, selError(sel));
  if ((attr & (SA_CODE | SA_CE)) !== (SA_CODE | SA_CE)) {
    const dpl = dplOf(attr);
    if ((sel & 3) > dpl || c.cpl > dpl) throw new Fault(GP, selError(sel));
  }
  if ((attr & SA_P) === 0) throw new Fault(NP, selError(sel));
  markAccessed(c, d);
  return [sel, baseOf(d.lo, d.hi), limitOf(d.lo, d.hi), attr | 1];
}

/**
 * Checks loading `sel` into SS: RPL = CPL, a writable data segment with DPL = CPL, present
 * (#SS(sel) otherwise). A null selector is #GP(0), except in 64-bit mode at CPL < 3 with
 * RPL = CPL (SDM "MOV", IA-32e mode exceptions).
 */
export function checkStackSegment(c: Cpu, sel: number): SegCache {
  if (!c.system) return [sel, 0, c.segLimit[SS_SEG] as number, c.segAttr[SS_SEG] as number];
  if ((c.cr0 & CR0_PE) === 0) return [sel, sel * 16, c.segLimit[SS_SEG] as number, c.segAttr[SS_SEG] as number];
  if ((sel & 0xfffc) === 0) {
    if (c.mode === 64 && c.cpl < 3 && (sel & 3) === c.cpl) return [sel, 0, 0, 0];
    throw new Fault(GP, 0);
  }
  const d = readDescriptor(c, sel);
  if (d === undefined || (sel & 3) !== c.cpl) throw new Fault(GP, selError(sel));
  const attr = attrOf(d.hi);
  if ((attr & (SA_S | SA_CODE | SA_RW)) !== (SA_S | SA_RW) || dplOf(attr) !== c.cpl) throw new Fault(GP, selError(sel));
  if ((attr & SA_P) === 0) throw new Fault(SS, selError(sel));
  markAccessed(c, d);
  return [sel, baseOf(d.lo, d.hi), limitOf(d.lo, d.hi), attr | 1];
}

/** Commits a checked load; a load of SS starts an interrupt shadow (MOV SS, POP SS, not LSS). */
export function commitSegment(c: Cpu, seg: number, s: SegCache): void {
  c.loadSegmentCache(seg, s[0], s[1], s[2], s[3]);
}

/** Loads `sel` into segment register `seg` (not CS) with every check. */
export function loadSegment(c: Cpu, seg: number, sel: number): void {
  commitSegment(c, seg, seg === SS_SEG ? checkStackSegment(c, sel) : checkDataSegment(c, seg, sel));
}

/** MOV SS and POP SS inhibit interrupts (and debug traps) until after the next instruction (SDM §6.8.3). */
export function ssShadow(c: Cpu): void {
  c.shadowEnd = c.retired + 2;
  c.interruptCheck = true;
}

// ---- MOV to and from segment registers, LDS & co. --------------------------------------------

/** The segment register a ModRM.reg names (REX.R is ignored); 6 and 7 do not exist (#UD). */
function sregOf(i: Insn): number {
  const s = i.reg & 7;
  if (s > 5) throw new Fault(UD);
  return s;
}

/** MOV Sreg, r/m (8E): CS is not a destination (#UD). Reads 16 bits whatever the operand size. */
export function movSwEv(c: Cpu, i: Insn): void {
  const seg = sregOf(i);
  if (seg === 1) throw new Fault(UD);
  const sel = readE(c, i, 2);
  loadSegment(c, seg, sel);
  if (seg === SS_SEG) ssShadow(c);
}

/**
 * MOV r/m, Sreg (8C): a memory destination is 16 bits; a register takes the selector
 * zero-extended to the operand size (what P6 and later processors do; SDM "MOV").
 */
export function movEvSw(c: Cpu, i: Insn): void {
  const sel = c.segSel[sregOf(i)] as number;
  writeE(c, i, i.rm >= 0 ? i.opsize : 2, sel, 0);
}

/**
 * LDS/LES/LSS/LFS/LGS r, m16:16/32/64: offset then selector from memory; the segment load is
 * checked before the register is written (SDM "LDS/LES/LFS/LGS/LSS").
 */
export function loadFarPointer(c: Cpu, i: Insn, seg: number): void {
  if (i.rm >= 0) throw new Fault(UD);
  const size = i.opsize;
  const [off, offHi, sel] = readFarPointer(c, i, size);
  commitSegment(c, seg, seg === SS_SEG ? checkStackSegment(c, sel) : checkDataSegment(c, seg, sel));
  c.setReg(i.reg, size, off, offHi);
}

/** A far pointer m16:16/32/64 at the memory operand: [offset low, offset high, selector]. */
export function readFarPointer(c: Cpu, i: Insn, size: number): [number, number, number] {
  const sel = readAt(c, i, size, 2);
  const off = readAt(c, i, 0, size);
  return [off, size === 8 ? c.hi : 0, sel];
}

/** Reads `size` bytes at the memory operand plus `disp` (with the segment checks of `readE`). */
function readAt(c: Cpu, i: Insn, disp: number, size: number): number {
  const j: Insn = disp === 0 ? i : { ...i, disp: i.disp + disp };
  return readE(c, j, size);
}

// ---- the descriptor-table instructions (0F 00, 0F 02, 0F 03, 63) --------------------------------

function privileged(c: Cpu): void {
  if (!c.system || c.cpl !== 0) throw new Fault(GP, 0);
}

/** SLDT / STR (0F 00 /0, /1): the selector to r/m; a register is zero-extended to the operand size. */
export function sldt(c: Cpu, i: Insn): void {
  if (!c.system) throw new Fault(GP, 0);
  writeE(c, i, i.rm >= 0 ? i.opsize : 2, c.ldtrSel, 0);
}
export function str(c: Cpu, i: Insn): void {
  if (!c.system) throw new Fault(GP, 0);
  writeE(c, i, i.rm >= 0 ? i.opsize : 2, c.trSel, 0);
}

/**
 * Reads the system descriptor `sel` names in the GDT for LLDT/LTR: 16 bytes in IA-32e mode,
 * whose upper half must have type 0 and make a canonical base (else #GP(sel)).
 */
function systemDescriptor(c: Cpu, sel: number): { d: RawDescriptor; base: number } {
  if ((sel & 4) !== 0) throw new Fault(GP, selError(sel));
  const long = longMode(c);
  const d = readDescriptor(c, sel, long ? 16 : 8);
  if (d === undefined) throw new Fault(GP, selError(sel));
  let base = baseOf(d.lo, d.hi);
  if (long) {
    const type2 = (c.sysRead(tableAddress(c, d.la + 12), 4) >>> 8) & 0x1f;
    base = join64(base, d.upper);
    if (type2 !== 0 || !isCanonical(base)) throw new Fault(GP, selError(sel));
  }
  return { d, base };
}

/** LLDT (0F 00 /2): a null selector leaves LDTR unusable; otherwise an LDT descriptor (type 2) in the GDT. */
export function lldt(c: Cpu, i: Insn): void {
  privileged(c);
  const sel = readE(c, i, 2);
  if ((sel & 0xfffc) === 0) {
    c.ldtrSel = sel;
    c.ldtrAttr = 0;
    return;
  }
  const { d, base } = systemDescriptor(c, sel);
  const attr = attrOf(d.hi);
  if ((attr & (SA_S | 0x0f)) !== 2) throw new Fault(GP, selError(sel));
  if ((attr & SA_P) === 0) throw new Fault(NP, selError(sel));
  c.ldtrSel = sel;
  c.ldtrBase = base;
  c.ldtrLimit = limitOf(d.lo, d.hi);
  c.ldtrAttr = attr;
}

/**
 * LTR (0F 00 /3): an available TSS (32-bit type 9, or 16-bit type 1 outside IA-32e mode, where
 * only the 64-bit TSS, type 9, exists), marked busy in the GDT as it is loaded.
 */
export function ltr(c: Cpu, i: Insn): void {
  privileged(c);
  const sel = readE(c, i, 2);
  if ((sel & 0xfffc) === 0) throw new Fault(GP, 0);
  const { d, base } = systemDescriptor(c, sel);
  const attr = attrOf(d.hi);
  const type = attr & (SA_S | 0x0f);
  if (!(type === 9 || (type === 1 && !longMode(c)))) throw new Fault(GP, selError(sel));
  if ((attr & SA_P) === 0) throw new Fault(NP, selError(sel));
  // Busy: type bit 1, in the descriptor's access byte.
  c.sysWrite(tableAddress(c, d.la + 5), 1, ((d.hi >>> 8) & 0xff) | 2, 0);
  c.trSel = sel;
  c.trBase = base;
  c.trLimit = limitOf(d.lo, d.hi);
  c.trAttr = attr | 2;
}

/**
 * System-descriptor types LAR and LSL accept (SDM "LAR" table 3-?, "LSL"): legacy and
 * compatibility use differs from IA-32e mode, where 16-bit TSSs, 16-bit gates and task gates
 * do not exist. LSL also rejects gates (they have no limit).
 */
const LAR_LEGACY = new Set([1, 2, 3, 4, 5, 9, 11, 12]);
const LAR_LONG = new Set([2, 9, 11, 12]);
const LSL_LEGACY = new Set([1, 2, 3, 9, 11]);
const LSL_LONG = new Set([2, 9, 11]);

/**
 * The descriptor `sel` names if LAR/LSL/VERR/VERW may see it (privilege: DPL >= CPL and RPL,
 * unless conforming code), else undefined (ZF = 0). `types`: the system types allowed.
 */
function visibleDescriptor(c: Cpu, sel: number, types: ReadonlySet<number> | undefined): RawDescriptor | undefined {
  if (!c.system || (sel & 0xfffc) === 0) return undefined;
  const d = readDescriptor(c, sel);
  if (d === undefined) return undefined;
  const attr = attrOf(d.hi);
  if ((attr & SA_S) === 0) {
    if (types === undefined || !types.has(attr & 0x0f)) return undefined;
  }
  const conforming = (attr & (SA_S | SA_CODE | SA_CE)) === (SA_S | SA_CODE | SA_CE);
  if (!conforming && (c.cpl > dplOf(attr) || (sel & 3) > dplOf(attr))) return undefined;
  return d;
}

function setZf(c: Cpu, on: boolean): void {
  c.setFlagBits(ZF, on ? ZF : 0);
}

/**
 * LAR Gv, r32/m16 (0F 02): the access rights (second dword masked with 00F0FF00H; FF00H at a
 * 16-bit operand size) if the descriptor is visible, ZF = 1; else ZF = 0 and Gv unchanged.
 * Bits 19:16 are undefined in the SDM; they read as 0 here.
 */
export function lar(c: Cpu, i: Insn): void {
  const sel = readE(c, i, 2);
  const d = visibleDescriptor(c, sel, longMode(c) ? LAR_LONG : LAR_LEGACY);
  setZf(c, d !== undefined);
  if (d !== undefined) c.setReg(i.reg, i.opsize, d.hi & (i.opsize === 2 ? 0xff00 : 0x00f0ff00), 0);
}

/** LSL Gv, r32/m16 (0F 03): the segment limit in bytes (scaled by G), ZF as for LAR. */
export function lsl(c: Cpu, i: Insn): void {
  const sel = readE(c, i, 2);
  const d = visibleDescriptor(c, sel, longMode(c) ? LSL_LONG : LSL_LEGACY);
  setZf(c, d !== undefined);
  if (d !== undefined) c.setReg(i.reg, i.opsize, limitOf(d.lo, d.hi) | 0, 0);
}

/** VERR / VERW (0F 00 /4, /5): ZF = 1 if the segment is readable / writable at this CPL and RPL (present or not). */
export function verr(c: Cpu, i: Insn): void {
  const d = visibleDescriptor(c, readE(c, i, 2), undefined);
  const attr = d === undefined ? 0 : attrOf(d.hi);
  setZf(c, d !== undefined && ((attr & SA_CODE) === 0 || (attr & SA_RW) !== 0));
}
export function verw(c: Cpu, i: Insn): void {
  const d = visibleDescriptor(c, readE(c, i, 2), undefined);
  const attr = d === undefined ? 0 : attrOf(d.hi);
  setZf(c, d !== undefined && (attr & (SA_CODE | SA_RW)) === SA_RW);
}

/** ARPL Ew, Gw (63, outside 64-bit mode): raises the RPL of Ew to that of Gw (ZF = 1), else ZF = 0. */
export function arpl(c: Cpu, i: Insn): void {
  const dst = readE(c, i, 2);
  const src = c.reg16(i.reg);
  if ((dst & 3) < (src & 3)) {
    writeE(c, i, 2, (dst & ~3) | (src & 3), 0);
    setZf(c, true);
  } else setZf(c, false);
}
