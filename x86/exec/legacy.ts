/**
 * Instructions that exist only outside 64-bit mode (SDM vol. 2 under each mnemonic; the rows are
 * `i64`): decimal arithmetic DAA, DAS, AAA, AAS, AAM, AAD; PUSHA/POPA; BOUND; and the pushes and
 * pops of segment registers (PUSH/POP FS and GS also exist in 64-bit mode).
 *
 * SALC (D6, "set AL from carry") is left out on purpose: Intel's and AMD's manuals do not
 * define it (the SDM's opcode map leaves D6 empty), so it stays #UD like any encoding without a
 * row, although older processors execute it.
 *
 * Flags the SDM calls undefined are cleared here; the rows list them in `flags.undefined`, so
 * the differential tests mask them.
 */
import type { Cpu } from '../cpu.js';
import { SS_SEG, type Insn } from '../decoder.js';
import { BR, DE, Fault } from '../fault.js';
import { PARITY } from '../flags.js';
import { AF, CF, SF, ZF } from '../isa/types.js';
import { checkDataSegment, checkStackSegment, commitSegment, ssShadow } from '../system/segments.js';
import { adjustSp, peek, push } from './control.js';
import { ea, offset32 } from './operands.js';
import { segCheck } from '../system/limits.js';

/** SF, ZF and PF of a byte result. */
function szp(v: number): number {
  const b = v & 0xff;
  return (b & 0x80 ? SF : 0) | (b === 0 ? ZF : 0) | (PARITY[b] as number);
}

function al(c: Cpu): number {
  return c.reg8(0);
}

// ---- decimal arithmetic ----------------------------------------------------------------------

/** DAA (27): decimal adjust AL after addition. OF undefined. */
export function daa(c: Cpu): void {
  const f = c.getFlags();
  const old = al(c);
  const oldCf = (f & CF) !== 0;
  let v = old;
  let cf = false;
  let af = false;
  if ((v & 0x0f) > 9 || (f & AF) !== 0) {
    v += 6;
    af = true;
  }
  if (old > 0x99 || oldCf) {
    v += 0x60;
    cf = true;
  }
  c.setReg8(0, v);
  c.setArithFlags(szp(v) | (cf ? CF : 0) | (af ? AF : 0));
}

/** DAS (2F): decimal adjust AL after subtraction. OF undefined. */
export function das(c: Cpu): void {
  const f = c.getFlags();
  const old = al(c);
  const oldCf = (f & CF) !== 0;
  let v = old;
  let cf = false;
  let af = false;
  if ((v & 0x0f) > 9 || (f & AF) !== 0) {
    cf = oldCf || v < 6;
    v = (v - 6) & 0xff;
    af = true;
  }
  if (old > 0x99 || oldCf) {
    v = (v - 0x60) & 0xff;
    cf = true;
  }
  c.setReg8(0, v);
  c.setArithFlags(szp(v) | (cf ? CF : 0) | (af ? AF : 0));
}

/** AAA (37): ASCII adjust after addition (AX + 106H on a carry out of the low digit). OF, SF, ZF, PF undefined. */
export function aaa(c: Cpu): void {
  const f = c.getFlags();
  let ax = c.reg16(0);
  const adjust = (ax & 0x0f) > 9 || (f & AF) !== 0;
  if (adjust) ax = (ax + 0x106) & 0xffff;
  c.setReg16(0, ax & 0xff0f);
  c.setArithFlags(adjust ? AF | CF : 0);
}

/** AAS (3F): ASCII adjust after subtraction (AX - 6, AH - 1). OF, SF, ZF, PF undefined. */
export function aas(c: Cpu): void {
  const f = c.getFlags();
  let ax = c.reg16(0);
  const adjust = (ax & 0x0f) > 9 || (f & AF) !== 0;
  if (adjust) ax = (((ax - 6) & 0xffff) - 0x100) & 0xffff;
  c.setReg16(0, ax & 0xff0f);
  c.setArithFlags(adjust ? AF | CF : 0);
}

/** AAM imm8 (D4): AH = AL / imm8, AL = AL mod imm8; #DE for 0. OF, AF, CF undefined. */
export function aam(c: Cpu, i: Insn): void {
  const base = i.imm & 0xff;
  if (base === 0) throw new Fault(DE);
  const v = al(c);
  const lo = v % base;
  c.setReg16(0, (Math.floor(v / base) << 8) | lo);
  c.setArithFlags(szp(lo));
}

/** AAD imm8 (D5): AL = (AL + AH * imm8) & FFH, AH = 0. OF, AF, CF undefined. */
export function aad(c: Cpu, i: Insn): void {
  const ax = c.reg16(0);
  const v = ((ax & 0xff) + (ax >> 8) * (i.imm & 0xff)) & 0xff;
  c.setReg16(0, v);
  c.setArithFlags(szp(v));
}

// ---- PUSHA / POPA ------------------------------------------------------------------------------

/**
 * PUSHA/PUSHAD (60): AX, CX, DX, BX, the original SP, BP, SI, DI at the operand size. A fault on
 * any slot leaves rSP as it was (the slots already written keep their new values).
 */
export function pusha(c: Cpu, i: Insn): void {
  const size = i.opsize;
  const sp0 = c.reg32(4);
  const vals = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => (n === 4 ? sp0 : c.reg32(n)));
  try {
    for (const v of vals) push(c, size, v, 0);
  } catch (e) {
    c.setReg32(4, sp0);
    throw e;
  }
}

/** POPA/POPAD (61): DI, SI, BP, (SP skipped), BX, DX, CX, AX; all eight read before any register changes. */
export function popa(c: Cpu, i: Insn): void {
  const size = i.opsize;
  const vals = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => peek(c, size, k * size));
  for (let k = 0; k < 8; k++) {
    const n = 7 - k;
    if (n !== 4) c.setReg(n, size, vals[k] as number, 0);
  }
  adjustSp(c, 8 * size);
}

// ---- BOUND ---------------------------------------------------------------------------------------

/** BOUND Gv, Ma (62, memory only): #BR unless lower <= Gv <= upper, all signed at the operand size. */
export function bound(c: Cpu, i: Insn): void {
  const size = i.opsize;
  let lo: number;
  let hi: number;
  if (c.mode !== 64 && c.system) {
    const off = offset32(c, i);
    lo = c.read(segCheck(c, i.seg, off, size, true, false), size);
    hi = c.read(segCheck(c, i.seg, (off + size) >>> 0, size, true, false), size);
  } else {
    const la = ea(c, i);
    lo = c.read(la, size);
    hi = c.read((la + size) >>> 0, size);
  }
  const sx = (v: number): number => (size === 2 ? (v << 16) >> 16 : v | 0);
  const idx = sx(c.getReg(i.reg, size));
  if (idx < sx(lo) || idx > sx(hi)) throw new Fault(BR);
}

// ---- segment registers on the stack ----------------------------------------------------------------

/**
 * PUSH Sreg (06, 0E, 16, 1E; 0F A0, 0F A8): the selector, zero-extended to the operand size.
 * (The SDM lets a 32/64-bit push either zero-extend or store 16 bits; this is the first.)
 */
export function pushSeg(c: Cpu, i: Insn): void {
  push(c, i.opsize, c.segSel[(i.opcode >> 3) & 7] as number, 0);
}

/**
 * POP Sreg (07, 17, 1F; 0F A1, 0F A9): the segment load is checked before rSP moves; POP SS
 * starts an interrupt shadow.
 */
export function popSeg(c: Cpu, i: Insn): void {
  const seg = (i.opcode >> 3) & 7;
  const sel = peek(c, i.opsize) & 0xffff;
  commitSegment(c, seg, seg === SS_SEG ? checkStackSegment(c, sel) : checkDataSegment(c, seg, sel));
  adjustSp(c, i.opsize);
  if (seg === SS_SEG) ssShadow(c);
}
