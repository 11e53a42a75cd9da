/**
 * SSE4.1 and SSE4.2 (SDM vol. 1 §12.10-12.11; vol. 2, each instruction's page; the string and
 * text instructions in vol. 2 §4.1): blends (immediate and XMM0-variable), min/max, PMULLD,
 * PMULDQ, PCMPEQQ, PCMPGTQ, PACKUSDW, PMOVSX/PMOVZX, PTEST, the insert/extract family,
 * ROUNDPS/PD/SS/SD, DPPS/DPPD, MPSADBW, PHMINPOSUW, MOVNTDQA, and PCMPESTRI/PCMPESTRM/
 * PCMPISTRI/PCMPISTRM.
 *
 * Memory alignment (each page's exception class): 128-bit operands of the packed instructions
 * (SDM "Type 2"/"Type 4") must be 16-byte aligned, else #GP(0); the narrow operands of PMOVSX/
 * PMOVZX, INSERTPS, the inserts/extracts and ROUNDSS/SD have no alignment rule; and the four
 * string instructions never check alignment (vol. 2 §4.1: "does not cause #GP if the memory
 * operand is not aligned to 16 Byte boundary").
 *
 * `VecOp`s (exec/sse-int.ts) have the shape (a, b, r, imm): `a` the destination's old value,
 * `b` the source, `r` the result.
 */
import type { Cpu } from '../cpu.js';
import type { Insn } from '../decoder.js';
import { Fault, XM } from '../fault.js';
import { ARITH, CF, OF, SF, ZF } from '../isa/types.js';
import { ea } from './operands.js';
import { fpElem } from './sse-float.js';
import type { VecOp } from './sse-int.js';
import { VA, VB, VR, loadMem, loadW, loadX, storeX } from './sse.js';

// ---- blends ---------------------------------------------------------------------------------

/** PBLENDW: word k from the source where imm8 bit k is set. */
export const pblendw: VecOp = (a, b, r, imm) => {
  for (let k = 0; k < 8; k++) r.w[k] = ((imm >> k) & 1) !== 0 ? (b.w[k] as number) : (a.w[k] as number);
};
/** BLENDPS: dword k from the source where imm8 bit k (3:0) is set. */
export const blendps: VecOp = (a, b, r, imm) => {
  for (let k = 0; k < 4; k++) r.d[k] = ((imm >> k) & 1) !== 0 ? (b.d[k] as number) : (a.d[k] as number);
};
/** BLENDPD: qword k from the source where imm8 bit k (1:0) is set. */
export const blendpd: VecOp = (a, b, r, imm) => {
  for (let k = 0; k < 4; k++) r.d[k] = ((imm >> (k >> 1)) & 1) !== 0 ? (b.d[k] as number) : (a.d[k] as number);
};

/**
 * PBLENDVB/BLENDVPS/BLENDVPD xmm1, xmm2/m128, <XMM0> (66 0F 38 10/14/15): each byte, dword or
 * qword from the source where the sign bit of XMM0's corresponding element is set. `width`: 1,
 * 4 or 8 bytes. XMM0 is read before anything is written (it may also be the destination).
 */
export function blendv(c: Cpu, i: Insn, width: 1 | 4 | 8): void {
  loadX(c, i.reg, VA.d);
  loadW(c, i, VB.d, 16, true);
  loadX(c, 0, VR.d);
  const m = VR.b;
  for (let k = 0; k < 16; k++) {
    const signByte = width === 1 ? k : (k | (width - 1));
    if (((m[signByte] as number) & 0x80) === 0) VB.b[k] = VA.b[k] as number;
  }
  storeX(c, i.reg, VB.d);
}

// ---- integer arithmetic, compares, packs ------------------------------------------------------

export const pminsb: VecOp = (a, b, r) => {
  for (let k = 0; k < 16; k++) r.sb[k] = Math.min(a.sb[k] as number, b.sb[k] as number);
};
export const pmaxsb: VecOp = (a, b, r) => {
  for (let k = 0; k < 16; k++) r.sb[k] = Math.max(a.sb[k] as number, b.sb[k] as number);
};
export const pminuw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.w[k] = Math.min(a.w[k] as number, b.w[k] as number);
};
export const pmaxuw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.w[k] = Math.max(a.w[k] as number, b.w[k] as number);
};
export const pminsd: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) r.d[k] = Math.min(a.d[k] as number, b.d[k] as number);
};
export const pmaxsd: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) r.d[k] = Math.max(a.d[k] as number, b.d[k] as number);
};
export const pminud: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) r.ud[k] = Math.min(a.ud[k] as number, b.ud[k] as number);
};
export const pmaxud: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) r.ud[k] = Math.max(a.ud[k] as number, b.ud[k] as number);
};

/** PMULLD: the low 32 bits of each signed dword product. */
export const pmulld: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) r.d[k] = Math.imul(a.d[k] as number, b.d[k] as number);
};

/**
 * PMULDQ: signed dwords 0 and 2 multiplied into full 64-bit products. The high half is
 * floor(x*y / 2^32), computed exactly by splitting y into a signed high and unsigned low 16 bits
 * (every partial product stays below 2^53).
 */
export const pmuldq: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k += 2) {
    const x = a.d[k] as number;
    const y = b.d[k] as number;
    const yl = y & 0xffff;
    const yh = y >> 16;
    const t = x * yl;
    const u = x * yh + Math.floor(t / 65536);
    r.d[k] = Math.imul(x, y);
    r.d[k + 1] = Math.floor(u / 65536) | 0;
  }
};

/** PCMPEQQ: all-ones qwords where equal. */
export const pcmpeqq: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k += 2) {
    const eq = a.d[k] === b.d[k] && a.d[k + 1] === b.d[k + 1];
    r.d[k] = eq ? -1 : 0;
    r.d[k + 1] = eq ? -1 : 0;
  }
};

/** PCMPGTQ (SSE4.2): all-ones qwords where the destination is greater (signed 64-bit). */
export const pcmpgtq: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k += 2) {
    const ah = a.d[k + 1] as number;
    const bh = b.d[k + 1] as number;
    const gt = ah > bh || (ah === bh && (a.ud[k] as number) > (b.ud[k] as number));
    r.d[k] = gt ? -1 : 0;
    r.d[k + 1] = gt ? -1 : 0;
  }
};

/** PACKUSDW: signed dwords of the destination then the source, saturated to unsigned words. */
export const packusdw: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) {
    const x = a.d[k] as number;
    const y = b.d[k] as number;
    r.w[k] = x < 0 ? 0 : x > 0xffff ? 0xffff : x;
    r.w[k + 4] = y < 0 ? 0 : y > 0xffff ? 0xffff : y;
  }
};

/**
 * MPSADBW: eight sums of absolute differences of 4-byte blocks. The source block is dword
 * imm8[1:0] of the source; the destination windows start at byte 4*imm8[2] and slide by one.
 */
export const mpsadbw: VecOp = (a, b, r, imm) => {
  const ao = ((imm >> 2) & 1) * 4;
  const bo = (imm & 3) * 4;
  for (let k = 0; k < 8; k++) {
    let s = 0;
    for (let j = 0; j < 4; j++) s += Math.abs((a.b[ao + k + j] as number) - (b.b[bo + j] as number));
    r.w[k] = s;
  }
};

/** PHMINPOSUW: the smallest unsigned source word in bits 15:0, its (lowest) index in 18:16, rest zero. */
export const phminposuw: VecOp = (_a, b, r) => {
  let m = b.w[0] as number;
  let at = 0;
  for (let k = 1; k < 8; k++) {
    const v = b.w[k] as number;
    if (v < m) {
      m = v;
      at = k;
    }
  }
  r.d[0] = m | (at << 16);
  r.d[1] = 0;
  r.d[2] = 0;
  r.d[3] = 0;
};

// ---- PMOVSX / PMOVZX --------------------------------------------------------------------------

/**
 * PMOVSXBW..PMOVZXDQ (66 0F 38 20-25, 30-35): the low `16 / (to / from)` source elements of
 * `from` bytes, sign- or zero-extended to `to` bytes. The memory operand is exactly as wide as
 * the elements read (m64, m32 or m16) and has no alignment rule.
 */
export function pmovx(c: Cpu, i: Insn, from: 1 | 2 | 4, to: 2 | 4 | 8, signed: boolean): void {
  const n = 16 / to;
  const bytes = n * from;
  if (i.rm >= 0) loadX(c, i.rm, VB.d);
  else {
    const la = ea(c, i);
    if (bytes === 2) {
      VB.d[0] = c.read16(la);
      VB.d[1] = 0;
    } else loadMem(c, la, VB.d, bytes);
  }
  const b = VB;
  const r = VR.d;
  for (let k = 0; k < n; k++) {
    const v = from === 1 ? (signed ? (b.sb[k] as number) : (b.b[k] as number)) : from === 2 ? (signed ? (b.sw[k] as number) : (b.w[k] as number)) : signed ? (b.d[k] as number) : (b.ud[k] as number);
    if (to === 2) VR.w[k] = v;
    else if (to === 4) r[k] = v;
    else {
      r[2 * k] = v;
      r[2 * k + 1] = signed ? v >> 31 : 0;
    }
  }
  storeX(c, i.reg, r);
}

// ---- PTEST ------------------------------------------------------------------------------------

/** PTEST (66 0F 38 17): ZF = (dest AND src) is zero, CF = (NOT dest AND src) is zero; AF OF PF SF cleared. */
export function ptest(c: Cpu, i: Insn): void {
  loadX(c, i.reg, VA.d);
  loadW(c, i, VB.d, 16, true);
  let and = 0;
  let andn = 0;
  for (let k = 0; k < 4; k++) {
    and |= (VA.d[k] as number) & (VB.d[k] as number);
    andn |= ~(VA.d[k] as number) & (VB.d[k] as number);
  }
  c.setFlagBits(ARITH, (and === 0 ? ZF : 0) | (andn === 0 ? CF : 0));
}

/** MOVNTDQA xmm, m128 (66 0F 38 2A): an aligned load (the non-temporal hint has no effect here). */
export function movntdqa(c: Cpu, i: Insn): void {
  loadW(c, i, VB.d, 16, true);
  storeX(c, i.reg, VB.d);
}

// ---- inserts and extracts -------------------------------------------------------------------

/** PEXTRB r32/m8 (66 0F 3A 14) and PEXTRW r32/m16 (66 0F 3A 15): element imm8 mod 16 (8), zero-extended into the register. */
export function pextrBW(c: Cpu, i: Insn, size: 1 | 2): void {
  loadX(c, i.reg, VA.d);
  const v = size === 1 ? (VA.b[i.imm & 15] as number) : (VA.w[i.imm & 7] as number);
  if (i.rm >= 0) c.setReg32(i.rm, v);
  else if (size === 1) c.write8(ea(c, i), v);
  else c.write16(ea(c, i), v);
}

/** PEXTRD r/m32 (imm8 mod 4) and, with REX.W, PEXTRQ r/m64 (imm8 mod 2) (66 0F 3A 16). */
export function pextrDQ(c: Cpu, i: Insn): void {
  const o = i.reg << 2;
  if ((i.rex & 8) !== 0) {
    const k = o + (i.imm & 1) * 2;
    const lo = c.xmm[k] as number;
    const hi = c.xmm[k + 1] as number;
    if (i.rm >= 0) c.setReg64(i.rm, lo, hi);
    else c.write64(ea(c, i), lo, hi);
    return;
  }
  const v = c.xmm[o + (i.imm & 3)] as number;
  if (i.rm >= 0) c.setReg32(i.rm, v);
  else c.write32(ea(c, i), v);
}

/** EXTRACTPS r/m32, xmm, imm8 (66 0F 3A 17): dword imm8 mod 4 (a register is zero-extended). */
export function extractps(c: Cpu, i: Insn): void {
  const v = c.xmm[(i.reg << 2) + (i.imm & 3)] as number;
  if (i.rm >= 0) c.setReg32(i.rm, v);
  else c.write32(ea(c, i), v);
}

/** PINSRB xmm, r32/m8, imm8 (66 0F 3A 20): byte imm8 mod 16 replaced by the low byte of the source. */
export function pinsrb(c: Cpu, i: Insn): void {
  const v = i.rm >= 0 ? c.reg32(i.rm) & 0xff : c.read8(ea(c, i));
  loadX(c, i.reg, VA.d);
  VA.b[i.imm & 15] = v;
  storeX(c, i.reg, VA.d);
}

/** PINSRD xmm, r/m32 (dword imm8 mod 4) and, with REX.W, PINSRQ xmm, r/m64 (qword imm8 mod 2) (66 0F 3A 22). */
export function pinsrDQ(c: Cpu, i: Insn): void {
  const o = i.reg << 2;
  if ((i.rex & 8) !== 0) {
    let lo: number;
    let hi: number;
    if (i.rm >= 0) {
      lo = c.reg64lo(i.rm);
      hi = c.reg64hi(i.rm);
    } else {
      const la = ea(c, i);
      lo = c.read32(la);
      hi = c.read32(la + 4);
    }
    const k = o + (i.imm & 1) * 2;
    c.xmm[k] = lo;
    c.xmm[k + 1] = hi;
    return;
  }
  c.xmm[o + (i.imm & 3)] = i.rm >= 0 ? c.reg32(i.rm) : c.read32(ea(c, i));
}

/**
 * INSERTPS xmm1, xmm2/m32, imm8 (66 0F 3A 21): the source dword (imm8[7:6] of a register, or
 * m32) replaces destination dword imm8[5:4]; then the dwords set in imm8[3:0] are zeroed.
 */
export function insertps(c: Cpu, i: Insn): void {
  const imm = i.imm & 0xff;
  const v = i.rm >= 0 ? (c.xmm[(i.rm << 2) + (imm >> 6)] as number) : c.read32(ea(c, i));
  loadX(c, i.reg, VA.d);
  VA.d[(imm >> 4) & 3] = v;
  for (let k = 0; k < 4; k++) if (((imm >> k) & 1) !== 0) VA.d[k] = 0;
  storeX(c, i.reg, VA.d);
}

// ---- ROUNDPS / ROUNDPD / ROUNDSS / ROUNDSD ----------------------------------------------------

// MXCSR bits used here (SDM vol. 1 §10.2.3).
const MX_IE = 0x1;
const MX_PE = 0x20;
const MX_DAZ = 0x40;

/** Bit-moving views for non-NaN values (transient: filled and read within one call). */
const RB = (() => {
  const buf = new ArrayBuffer(8);
  return { i: new Int32Array(buf), f: new Float32Array(buf), d: new Float64Array(buf) };
})();

/** Per-instruction exception flags of ROUND* (transient). */
const RF = { pre: 0, post: 0 };

/** x rounded to an integer in mode `rc` (0 nearest-even, 1 down, 2 up, 3 toward zero); the sign of a zero result is x's. */
function roundInt(x: number, rc: number): number {
  let r: number;
  if (rc === 0) {
    const fl = Math.floor(x);
    const diff = x - fl;
    r = diff > 0.5 ? fl + 1 : diff < 0.5 ? fl : fl % 2 === 0 ? fl : fl + 1;
  } else if (rc === 1) r = Math.floor(x);
  else if (rc === 2) r = Math.ceil(x);
  else r = Math.trunc(x);
  return r === 0 ? (x < 0 || Object.is(x, -0) ? -0 : 0) : r;
}

/**
 * One single-precision element: an SNaN is quieted with IE, a QNaN, infinity or zero returned
 * as is; with MXCSR.DAZ a denormal is a signed zero. PE when inexact (unless `quiet`).
 */
function round32(b: number, rc: number, daz: boolean, quiet: boolean): number {
  if ((b & 0x7f800000) === 0x7f800000) {
    if ((b & 0x7fffff) !== 0 && (b & 0x400000) === 0) RF.pre |= MX_IE;
    return (b & 0x7fffff) !== 0 ? b | 0x400000 : b;
  }
  if ((b & 0x7f800000) === 0 && daz) return b & (0x80000000 | 0);
  RB.i[0] = b;
  const x = RB.f[0] as number;
  const r = roundInt(x, rc);
  if (r !== x && !quiet) RF.post |= MX_PE;
  RB.f[0] = r;
  return RB.i[0] as number;
}

/** One double element (lo, hi); returns the low dword, the high dword in RB.i[1]. */
function round64(lo: number, hi: number, rc: number, daz: boolean, quiet: boolean): number {
  if ((hi & 0x7ff00000) === 0x7ff00000) {
    const nan = ((hi & 0xfffff) | lo) !== 0;
    if (nan && (hi & 0x80000) === 0) RF.pre |= MX_IE;
    RB.i[1] = nan ? hi | 0x80000 : hi;
    return lo;
  }
  if ((hi & 0x7ff00000) === 0 && daz) {
    RB.i[1] = hi & (0x80000000 | 0);
    return 0;
  }
  RB.i[0] = lo;
  RB.i[1] = hi;
  const x = RB.d[0] as number;
  const r = roundInt(x, rc);
  if (r !== x && !quiet) RF.post |= MX_PE;
  RB.d[0] = r;
  return RB.i[0] as number;
}

/**
 * ROUNDPS/ROUNDPD/ROUNDSS/ROUNDSD xmm1, xmm2/m, imm8 (66 0F 3A 08-0B): imm8[1:0] is the
 * rounding mode unless imm8[2] selects MXCSR.RC; imm8[3] suppresses the precision exception.
 * Exceptions: IE for an SNaN, PE when inexact, nothing else (no DE: the SDM lists only Invalid
 * and Precision); an unmasked one leaves the destination unchanged and raises #XM. The scalar
 * forms keep the destination's other elements; their m32/m64 operand has no alignment rule.
 */
export function roundFp(c: Cpu, i: Insn, dbl: boolean, scalar: boolean): void {
  const imm = i.imm & 0xff;
  const mx = c.mxcsr;
  const rc = (imm & 4) !== 0 ? (mx >> 13) & 3 : imm & 3;
  const quiet = (imm & 8) !== 0;
  const daz = (mx & MX_DAZ) !== 0;
  RF.pre = 0;
  RF.post = 0;
  loadX(c, i.reg, VA.d);
  loadW(c, i, VB.d, scalar ? (dbl ? 8 : 4) : 16, true);
  const r = VR.d;
  r.set(VA.d);
  const b = VB.d;
  if (dbl) {
    for (let k = 0; k < (scalar ? 2 : 4); k += 2) {
      r[k] = round64(b[k] as number, b[k + 1] as number, rc, daz, quiet);
      r[k + 1] = RB.i[1] as number;
    }
  } else {
    for (let k = 0; k < (scalar ? 1 : 4); k++) r[k] = round32(b[k] as number, rc, daz, quiet);
  }
  // Flags and #XM as for every SSE float instruction (SDM vol. 1 §11.5.2.1).
  const unmasked = ~(mx >> 7) & 0x3f;
  if ((RF.pre & unmasked) !== 0) {
    c.mxcsr |= RF.pre;
    throw new Fault(XM);
  }
  const all = RF.pre | RF.post;
  c.mxcsr |= all;
  if ((all & unmasked) !== 0) throw new Fault(XM);
  storeX(c, i.reg, r);
}

// ---- DPPS / DPPD ------------------------------------------------------------------------------

/**
 * DPPS xmm1, xmm2/m128, imm8 (66 0F 3A 40): the products of the elements selected by imm8[7:4]
 * (the others +0.0) summed as (p0 + p1) + (p2 + p3), each multiply and add rounded and flagged
 * like MULSS/ADDSS; the sum goes to the elements selected by imm8[3:0], +0.0 to the rest.
 */
export function dpps(c: Cpu, i: Insn): void {
  const F = fpElem;
  const imm = i.imm & 0xff;
  F.begin(c);
  loadX(c, i.reg, VA.d);
  loadW(c, i, VB.d, 16, true);
  const t = VR.d;
  for (let k = 0; k < 4; k++) {
    if (((imm >> (4 + k)) & 1) === 0) {
      t[k] = 0;
      continue;
    }
    F.elemStart();
    t[k] = F.elemEnd(F.mul32(VA.d[k] as number, VB.d[k] as number));
  }
  F.elemStart();
  const s01 = F.elemEnd(F.add32(t[0] as number, t[1] as number));
  F.elemStart();
  const s23 = F.elemEnd(F.add32(t[2] as number, t[3] as number));
  F.elemStart();
  const s = F.elemEnd(F.add32(s01, s23));
  F.commit(c);
  for (let k = 0; k < 4; k++) t[k] = ((imm >> k) & 1) !== 0 ? s : 0;
  storeX(c, i.reg, t);
}

/** DPPD xmm1, xmm2/m128, imm8 (66 0F 3A 41): as DPPS with two doubles, imm8[5:4] and imm8[1:0]. */
export function dppd(c: Cpu, i: Insn): void {
  const F = fpElem;
  const imm = i.imm & 0xff;
  F.begin(c);
  loadX(c, i.reg, VA.d);
  loadW(c, i, VB.d, 16, true);
  const t = VR.d;
  for (let k = 0; k < 2; k++) {
    if (((imm >> (4 + k)) & 1) === 0) {
      t[2 * k] = 0;
      t[2 * k + 1] = 0;
      continue;
    }
    F.elemStart();
    t[2 * k] = F.elemEnd(F.mul64(VA.d[2 * k] as number, VA.d[2 * k + 1] as number, VB.d[2 * k] as number, VB.d[2 * k + 1] as number));
    t[2 * k + 1] = F.hi();
  }
  F.elemStart();
  const lo = F.elemEnd(F.add64(t[0] as number, t[1] as number, t[2] as number, t[3] as number));
  const hi = F.hi();
  F.commit(c);
  for (let k = 0; k < 2; k++) {
    const on = ((imm >> k) & 1) !== 0;
    t[2 * k] = on ? lo : 0;
    t[2 * k + 1] = on ? hi : 0;
  }
  storeX(c, i.reg, t);
}

// ---- PCMPESTRI / PCMPESTRM / PCMPISTRI / PCMPISTRM (SDM vol. 2 §4.1) --------------------------

/** Element k of v as the imm8[1:0] format reads it (unsigned/signed bytes/words). */
function strElem(v: typeof VA, k: number, fmt: number): number {
  switch (fmt) {
    case 0:
      return v.b[k] as number;
    case 1:
      return v.w[k] as number;
    case 2:
      return v.sb[k] as number;
    default:
      return v.sw[k] as number;
  }
}

/** Explicit length from RAX/RDX (64 bits with REX.W): its absolute value, saturated at n. */
function explicitLen(c: Cpu, reg: number, w: boolean, n: number): number {
  const lo = c.reg64lo(reg);
  let len: number;
  if (w) {
    const hi = c.reg64hi(reg);
    len = hi === 0 ? lo >>> 0 : hi === -1 && lo !== 0 ? 4294967296 - (lo >>> 0) : Infinity;
  } else len = Math.abs(lo);
  return len < n ? len : n;
}

/** Implicit length: the index of the first zero element, or n. */
function implicitLen(v: typeof VA, n: number, fmt: number): number {
  for (let k = 0; k < n; k++) if (strElem(v, k, fmt) === 0) return k;
  return n;
}

/**
 * The four string compares. The first operand (xmm1, `a`) is the set/ranges/needle, the second
 * (xmm2/m128, `b`) the text. imm8: [1:0] element format, [3:2] aggregation (equal any, ranges,
 * equal each, equal ordered), [5:4] polarity (+, -, masked +, masked -), [6] most significant
 * index / expanded mask. Elements past a string's length are invalid, and the aggregation
 * forces comparisons with them (§4.1.6, table 4-7). Results: ECX (index, n when none) or XMM0
 * (mask); CF = result nonzero, ZF/SF = the text/first string is shorter than n, OF = result bit
 * 0, AF = PF = 0.
 */
export function pcmpstr(c: Cpu, i: Insn, explicit: boolean, index: boolean): void {
  const imm = i.imm & 0xff;
  loadX(c, i.reg, VA.d);
  loadW(c, i, VB.d, 16, false);
  const fmt = imm & 3;
  const n = (imm & 1) !== 0 ? 8 : 16;
  let la: number;
  let lb: number;
  if (explicit) {
    const w = (i.rex & 8) !== 0;
    la = explicitLen(c, 0, w, n);
    lb = explicitLen(c, 2, w, n);
  } else {
    la = implicitLen(VA, n, fmt);
    lb = implicitLen(VB, n, fmt);
  }
  let res = 0;
  switch ((imm >> 2) & 3) {
    case 0: // equal any: text element j is in the set
      for (let j = 0; j < lb; j++) {
        const y = strElem(VB, j, fmt);
        for (let k = 0; k < la; k++) {
          if (strElem(VA, k, fmt) === y) {
            res |= 1 << j;
            break;
          }
        }
      }
      break;
    case 1: // ranges: text element j within some pair [a(2k), a(2k+1)]
      for (let j = 0; j < lb; j++) {
        const y = strElem(VB, j, fmt);
        for (let k = 0; k + 1 < la; k += 2) {
          if (strElem(VA, k, fmt) <= y && y <= strElem(VA, k + 1, fmt)) {
            res |= 1 << j;
            break;
          }
        }
      }
      break;
    case 2: // equal each: both invalid is a match, one invalid a mismatch
      for (let j = 0; j < n; j++) {
        const va = j < la;
        const vb = j < lb;
        if (va !== vb) continue;
        if (!va || strElem(VA, j, fmt) === strElem(VB, j, fmt)) res |= 1 << j;
      }
      break;
    default: // equal ordered: the needle matches starting at text element j
      for (let j = 0; j < n; j++) {
        let ok = true;
        for (let k = 0; j + k < n && k < la; k++) {
          if (j + k >= lb || strElem(VA, k, fmt) !== strElem(VB, j + k, fmt)) {
            ok = false;
            break;
          }
        }
        if (ok) res |= 1 << j;
      }
  }
  const all = n === 16 ? 0xffff : 0xff;
  switch ((imm >> 4) & 3) {
    case 1:
      res ^= all;
      break;
    case 3:
      res ^= (1 << lb) - 1;
      break;
    default:
      break;
  }
  if (index) {
    let idx = n;
    if (res !== 0) idx = (imm & 0x40) !== 0 ? 31 - Math.clz32(res) : 31 - Math.clz32(res & -res);
    c.setReg32(1, idx);
  } else {
    const r = VR;
    r.d.fill(0);
    if ((imm & 0x40) === 0) r.d[0] = res;
    else if (n === 16) for (let k = 0; k < 16; k++) r.b[k] = ((res >> k) & 1) !== 0 ? 0xff : 0;
    else for (let k = 0; k < 8; k++) r.w[k] = ((res >> k) & 1) !== 0 ? 0xffff : 0;
    storeX(c, 0, r.d);
  }
  c.setFlagBits(ARITH, (res !== 0 ? CF : 0) | (lb < n ? ZF : 0) | (la < n ? SF : 0) | ((res & 1) !== 0 ? OF : 0));
}
