/**
 * Multiplication and division: MUL/IMUL/DIV/IDIV (group 3, F6/F7 /4-/7) and the two- and
 * three-operand IMUL forms (0F AF, 69, 6B). SDM vol. 2A/2B "MUL", "IMUL", "DIV", "IDIV".
 *
 * Exactness without BigInt on the hot path: 32x32 and 64x64 products are built from 16-bit limbs
 * (every partial product and column sum stays far below 2^53). Division by a divisor below 2^37
 * (every 8/16/32-bit DIV, and most 64-bit ones) is a short division over 16-bit limbs: each
 * partial dividend is below 2^53, so a double divides it exactly. Only a 64-bit divisor of 2^37
 * or more with a 128-bit dividend takes the BigInt path (rare: compilers emit such divides for
 * 64-bit `/` and `%`, but usually with RDX = 0 and a small divisor).
 */
import type { Cpu } from '../cpu.js';
import type { Insn } from '../decoder.js';
import { DE, Fault } from '../fault.js';
import { LazyOp } from '../flags.js';
import { AF, CF, OF, PF, SF, ZF } from '../isa/types.js';
import { readE, sext, trunc } from './operands.js';
import { szp } from './shift.js';

const TWO32 = 4294967296;

/**
 * Unsigned 64x64 -> 128 product of (a, ah) and (b, bh), as four int32 words, least significant
 * first. With `signed`, the operands are two's complement and the product is too.
 */
export function mul128(a: number, ah: number, b: number, bh: number, signed: boolean): [number, number, number, number] {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const a2 = ah & 0xffff;
  const a3 = ah >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const b2 = bh & 0xffff;
  const b3 = bh >>> 16;
  // Column sums of 16-bit limb products (each below 2^34), then carry propagation.
  let t = a0 * b0;
  const l0 = t & 0xffff;
  t = (t - l0) / 65536 + a0 * b1 + a1 * b0;
  const l1 = t & 0xffff;
  t = (t - l1) / 65536 + a0 * b2 + a1 * b1 + a2 * b0;
  const l2 = t & 0xffff;
  t = (t - l2) / 65536 + a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
  const l3 = t & 0xffff;
  t = (t - l3) / 65536 + a1 * b3 + a2 * b2 + a3 * b1;
  const l4 = t & 0xffff;
  t = (t - l4) / 65536 + a2 * b3 + a3 * b2;
  const l5 = t & 0xffff;
  t = (t - l5) / 65536 + a3 * b3;
  const l6 = t & 0xffff;
  const l7 = ((t - l6) / 65536) & 0xffff;
  let w2 = l4 | (l5 << 16);
  let w3 = l6 | (l7 << 16);
  if (signed) {
    // (a - 2^64·[a<0]) (b - 2^64·[b<0]) = a·b - 2^64·([a<0]·b + [b<0]·a) mod 2^128.
    if (ah < 0) {
      const lo = (w2 >>> 0) - (b >>> 0);
      w3 = (w3 - bh - (lo < 0 ? 1 : 0)) | 0;
      w2 = lo | 0;
    }
    if (bh < 0) {
      const lo = (w2 >>> 0) - (a >>> 0);
      w3 = (w3 - ah - (lo < 0 ? 1 : 0)) | 0;
      w2 = lo | 0;
    }
  }
  return [l0 | (l1 << 16), l2 | (l3 << 16), w2, w3];
}

/** 32x32 -> 64 product: returns the low half, the high half in c.hi. */
export function mul64(c: Cpu, a: number, b: number, signed: boolean): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p1 = a0 * b1;
  const p2 = a1 * b0;
  const mid = (a0 * b0) / 65536 + (p1 % 65536) + (p2 % 65536);
  let hi = a1 * b1 + Math.floor(p1 / 65536) + Math.floor(p2 / 65536) + Math.floor(mid / 65536);
  if (signed) hi -= (a < 0 ? b >>> 0 : 0) + (b < 0 ? a >>> 0 : 0);
  c.hi = hi | 0;
  return Math.imul(a, b);
}

/** Sets the multiply flags: CF = OF = `overflow`; SF/ZF/PF from the low result (undefined). */
function mulFlags(c: Cpu, overflow: boolean, lo: number, hi: number, size: number): void {
  c.setArithFlags(szp(lo, hi, size) | (overflow ? CF | OF : 0));
}

/** MUL/IMUL r/m (one operand): rDX:rAX (AX for bytes) = rAX * r/m. */
function mulAcc(c: Cpu, i: Insn, size: number, signed: boolean): void {
  const src = readE(c, i, size);
  const srcH = c.hi;
  switch (size) {
    case 1: {
      const a = c.reg8(0);
      const p = signed ? sext(a, 1) * sext(src, 1) : a * src;
      c.setReg16(0, p);
      const lo = p & 0xff;
      mulFlags(c, signed ? sext(lo, 1) !== p : p > 0xff, lo, 0, 1);
      return;
    }
    case 2: {
      const a = c.reg16(0);
      const p = signed ? sext(a, 2) * sext(src, 2) : a * src;
      c.setReg16(0, p);
      c.setReg16(2, p >> 16);
      const lo = p & 0xffff;
      mulFlags(c, signed ? sext(lo, 2) !== p : p > 0xffff, lo, 0, 2);
      return;
    }
    case 4: {
      const lo = mul64(c, c.reg32(0), src, signed);
      const hi = c.hi;
      c.setReg32(0, lo);
      c.setReg32(2, hi);
      mulFlags(c, signed ? hi !== lo >> 31 : hi !== 0, lo, 0, 4);
      return;
    }
    default: {
      const [w0, w1, w2, w3] = mul128(c.reg64lo(0), c.reg64hi(0), src, srcH, signed);
      c.setReg64(0, w0, w1);
      c.setReg64(2, w2, w3);
      const ovf = signed ? w2 !== w1 >> 31 || w3 !== w1 >> 31 : w2 !== 0 || w3 !== 0;
      mulFlags(c, ovf, w0, w1, 8);
    }
  }
}

/**
 * Truncating signed multiply for IMUL Gv,Ev[,imm]: returns the low `size` bytes (high half in
 * c.hi for 8) and sets CF = OF when the full product does not fit.
 */
export function imulTrunc(c: Cpu, size: number, a: number, ah: number, b: number, bh: number): number {
  switch (size) {
    case 2: {
      const p = sext(a, 2) * sext(b, 2);
      const lo = p & 0xffff;
      mulFlags(c, sext(lo, 2) !== p, lo, 0, 2);
      c.hi = 0;
      return lo;
    }
    case 4: {
      const lo = mul64(c, a, b, true);
      mulFlags(c, c.hi !== lo >> 31, lo, 0, 4);
      c.hi = 0;
      return lo;
    }
    default: {
      // The low 64 bits of the product are the same signed or unsigned: the unsigned
      // low-word product plus the cross terms modulo 2^32. CF/OF (does the signed product
      // fit?) are left to the lazy flags, since they are rarely read.
      const lo = mul64(c, a, b, false);
      const hi = (c.hi + Math.imul(a, bh) + Math.imul(ah, b)) | 0;
      c.lazy64(LazyOp.Imul64, a, ah, b, bh, lo, hi);
      c.hi = hi;
      return lo;
    }
  }
}

/** IMUL Gv, Ev (0F AF). */
export function imulGvEv(c: Cpu, i: Insn): void {
  const size = i.opsize;
  const b = readE(c, i, size);
  const bh = c.hi;
  const a = c.getReg(i.reg, size);
  const r = imulTrunc(c, size, a, c.hi, b, bh);
  c.setReg(i.reg, size, r, c.hi);
}

/** IMUL Gv, Ev, Iz / sIb (69, 6B): the immediate is sign-extended to the operand size. */
export function imulGvEvI(c: Cpu, i: Insn): void {
  const size = i.opsize;
  const a = readE(c, i, size);
  const r = imulTrunc(c, size, a, c.hi, trunc(i.imm, size), i.imm >> 31);
  c.setReg(i.reg, size, r, c.hi);
}

export function mulEb(c: Cpu, i: Insn): void {
  mulAcc(c, i, 1, false);
}
export function mulEv(c: Cpu, i: Insn): void {
  mulAcc(c, i, i.opsize, false);
}
export function imulEb(c: Cpu, i: Insn): void {
  mulAcc(c, i, 1, true);
}
export function imulEv(c: Cpu, i: Insn): void {
  mulAcc(c, i, i.opsize, true);
}

// ---- division ------------------------------------------------------------------------------

/** Two's complement negation of a little-endian array of uint32 words, in place. */
function negWords(w: number[]): void {
  let carry = 1;
  for (let k = 0; k < w.length; k++) {
    const v = (~(w[k] as number) >>> 0) + carry;
    w[k] = v >>> 0;
    carry = v > 0xffffffff ? 1 : 0;
  }
}

/**
 * Unsigned division of `n` (uint32 words, least significant first) by d = dHi·2^32 + dLo (not
 * zero). Replaces `n` with the quotient and returns the remainder's low word, high in c.hi.
 */
function divWords(c: Cpu, n: number[], dLo: number, dHi: number): number {
  if (dHi < 32) {
    // Short division over 16-bit limbs: rem < d < 2^37, so rem·2^16 + limb < 2^53 is exact.
    const d = dHi * TWO32 + dLo;
    let rem = 0;
    for (let k = n.length - 1; k >= 0; k--) {
      const word = n[k] as number;
      let cur = rem * 65536 + (word >>> 16);
      let qh = Math.floor(cur / d);
      rem = cur - qh * d;
      if (rem < 0) {
        qh--;
        rem += d;
      }
      cur = rem * 65536 + (word & 0xffff);
      let ql = Math.floor(cur / d);
      rem = cur - ql * d;
      if (rem < 0) {
        ql--;
        rem += d;
      }
      n[k] = (qh * 65536 + ql) >>> 0;
    }
    c.hi = Math.floor(rem / TWO32);
    return rem % TWO32 | 0;
  }
  // Cold path: a divisor of 2^37 or more (only 128/64-bit DIV/IDIV reach here).
  let big = 0n;
  for (let k = n.length - 1; k >= 0; k--) big = (big << 32n) | BigInt(n[k] as number);
  const d = (BigInt(dHi) << 32n) | BigInt(dLo);
  let q = big / d;
  const r = big % d;
  for (let k = 0; k < n.length; k++) {
    n[k] = Number(q & 0xffffffffn);
    q >>= 32n;
  }
  c.hi = Number(r >> 32n) | 0;
  return Number(r & 0xffffffffn) | 0;
}

/**
 * DIV/IDIV r/m of `size` bytes: the dividend is AX, DX:AX, EDX:EAX or RDX:RAX. #DE when the
 * divisor is zero or the quotient does not fit the destination (SDM "DIV"/"IDIV"); then no
 * register changes.
 */
function divAcc(c: Cpu, i: Insn, size: number, signed: boolean): void {
  const dLo0 = readE(c, i, size);
  const dHi0 = size === 8 ? c.hi : 0;
  if (dLo0 === 0 && dHi0 === 0) throw new Fault(DE);
  const w = size * 8;
  if (size <= 2) {
    // The dividend (at most 32 bits) and everything else is exact in doubles.
    const n = size === 1 ? c.reg16(0) : ((c.reg16(2) << 16) | c.reg16(0)) >>> 0;
    let q: number;
    let r: number;
    if (signed) {
      const sn = size === 1 ? sext(n, 2) : n | 0;
      const sd = sext(dLo0, size);
      q = Math.trunc(sn / sd);
      r = sn - q * sd;
      if (q > 2 ** (w - 1) - 1 || q < -(2 ** (w - 1))) throw new Fault(DE);
    } else {
      q = Math.floor(n / dLo0);
      r = n - q * dLo0;
      if (q >= 2 ** w) throw new Fault(DE);
    }
    if (size === 1) c.setReg16(0, (q & 0xff) | ((r & 0xff) << 8));
    else {
      c.setReg16(0, q);
      c.setReg16(2, r);
    }
    return;
  }
  // Dividend as uint32 words: EDX:EAX (2 words) or RDX:RAX (4 words).
  const n: number[] =
    size === 4
      ? [c.reg32(0) >>> 0, c.reg32(2) >>> 0]
      : [c.reg64lo(0) >>> 0, c.reg64hi(0) >>> 0, c.reg64lo(2) >>> 0, c.reg64hi(2) >>> 0];
  let dLo = dLo0 >>> 0;
  let dHi = dHi0 >>> 0;
  const top = n.length - 1;
  const nNeg = signed && (n[top] as number) >= 0x80000000;
  const dNeg = signed && (size === 4 ? dLo0 < 0 : dHi0 < 0);
  if (nNeg) negWords(n);
  if (dNeg) {
    const dw = size === 4 ? [dLo] : [dLo, dHi];
    negWords(dw);
    dLo = dw[0] as number;
    dHi = size === 4 ? 0 : (dw[1] as number);
  }
  let rLo = divWords(c, n, dLo, dHi);
  let rHi = c.hi;
  // The quotient magnitude must fit: below 2^w unsigned, 2^(w-1) (or 2^(w-1)-1) signed.
  const half = n.length / 2;
  for (let k = half; k < n.length; k++) if (n[k] !== 0) throw new Fault(DE);
  const qTop = n[half - 1] as number;
  if (signed) {
    const limitHit = qTop > 0x80000000 || (qTop === 0x80000000 && (nNeg === dNeg || (half === 2 && n[0] !== 0)));
    if (limitHit) throw new Fault(DE);
    if (nNeg !== dNeg) negWords(n);
    if (nNeg) {
      const rw = [rLo >>> 0, rHi >>> 0];
      negWords(rw);
      rLo = rw[0] as number;
      rHi = rw[1] as number;
    }
  }
  if (size === 4) {
    c.setReg32(0, n[0] as number);
    c.setReg32(2, rLo);
  } else {
    c.setReg64(0, n[0] as number, n[1] as number);
    c.setReg64(2, rLo, rHi);
  }
}

export function divEb(c: Cpu, i: Insn): void {
  divAcc(c, i, 1, false);
}
export function divEv(c: Cpu, i: Insn): void {
  divAcc(c, i, i.opsize, false);
}
export function idivEb(c: Cpu, i: Insn): void {
  divAcc(c, i, 1, true);
}
export function idivEv(c: Cpu, i: Insn): void {
  divAcc(c, i, i.opsize, true);
}
