/**
 * The VEX-encoded general-purpose bit-manipulation instructions: BMI1 (ANDN, BEXTR, BLSI,
 * BLSMSK, BLSR) and BMI2 (BZHI, MULX, PDEP, PEXT, RORX, SARX, SHLX, SHRX), SDM vol. 2A/2B under
 * each mnemonic. The operand size is 32 or 64 bits (VEX.W); 32-bit results are zero-extended.
 * Operands: `i.reg` (ModRM.reg), `i.vvvv` (VEX.vvvv) and the r/m operand, in the row's order.
 */
import type { Cpu } from '../cpu.js';
import type { Insn } from '../decoder.js';
import { CF, OF, SF, ZF } from '../isa/types.js';
import { mul128, mul64 } from './muldiv.js';
import { readE } from './operands.js';
import { sar64, shl64, shr64 } from './shift.js';

/** The r/m source: low half returned, high half (0 for 32 bits) in c.hi. */
function srcE(c: Cpu, i: Insn, size: number): number {
  const lo = readE(c, i, size);
  if (size !== 8) c.hi = 0;
  return lo;
}

/** The VEX.vvvv register: low half returned, high half (0 for 32 bits) in c.hi. */
function srcB(c: Cpu, i: Insn, size: number): number {
  const lo = c.getReg(i.vvvv, size);
  if (size !== 8) c.hi = 0;
  return lo;
}

/** The operand size of a VEX GPR instruction: 8 with VEX.W in 64-bit mode, else 4. */
function opSize(i: Insn): number {
  return i.opsize === 8 ? 8 : 4;
}

/** SF (the result's top bit) and ZF of a result of `size` bytes as flag bits. */
function sz(lo: number, hi: number, size: number): number {
  const top = size === 8 ? hi : lo;
  return (top < 0 ? SF : 0) | ((size === 8 ? lo | hi : lo) === 0 ? ZF : 0);
}

/** Keeps the low `n` bits of a 64-bit pair (n >= 64: all of it); high half in c.hi. */
function keepLow(c: Cpu, lo: number, hi: number, n: number): number {
  if (n >= 64) {
    c.hi = hi;
    return lo;
  }
  if (n >= 32) {
    c.hi = n === 32 ? 0 : hi & (-1 >>> (64 - n));
    return lo;
  }
  c.hi = 0;
  return n === 0 ? 0 : lo & (-1 >>> (32 - n));
}

/** ANDN Gy, By, Ey: DEST = NOT SRC1 AND SRC2. SF, ZF from the result; OF, CF cleared; AF, PF undefined (left). */
export function andn(c: Cpu, i: Insn): void {
  const size = opSize(i);
  const b = srcE(c, i, size);
  const bh = c.hi;
  const a = srcB(c, i, size);
  const ah = c.hi;
  const lo = ~a & b;
  const hi = size === 8 ? ~ah & bh : 0;
  c.setFlagBits(SF | ZF | OF | CF, sz(lo, hi, size));
  c.setReg(i.reg, size, lo, hi);
}

/**
 * BEXTR Gy, Ey, By: the LEN = SRC2[15:8] bits of SRC1 from START = SRC2[7:0], zero-extended
 * (bits past the operand read as zero). ZF from the result; CF, OF cleared; AF, SF, PF undefined.
 */
export function bextr(c: Cpu, i: Insn): void {
  const size = opSize(i);
  const a = srcE(c, i, size);
  const ah = c.hi;
  const ctl = srcB(c, i, size);
  const start = ctl & 0xff;
  const len = (ctl >> 8) & 0xff;
  const s = shr64(c, a, ah, start);
  const lo = keepLow(c, s, c.hi, len);
  const hi = c.hi;
  c.setFlagBits(ZF | OF | CF, (lo | hi) === 0 ? ZF : 0);
  c.setReg(i.reg, size, lo, hi);
}

/** BLSR/BLSMSK/BLSI By, Ey (0F38 F3 /1, /2, /3). */
export const enum Bls {
  Reset = 1,
  Mask = 2,
  Isolate = 3,
}

/**
 * BLSR: SRC AND (SRC - 1), ZF/SF from it, CF = source zero. BLSMSK: SRC XOR (SRC - 1), SF from
 * it, ZF cleared, CF = source zero. BLSI: SRC AND -SRC, ZF/SF from it, CF = source not zero.
 * All: OF cleared, AF and PF undefined (left as they were). The destination is VEX.vvvv.
 */
export function bls(c: Cpu, i: Insn, op: Bls): void {
  const size = opSize(i);
  const a = srcE(c, i, size);
  const ah = c.hi;
  const zero = (a | ah) === 0;
  // a - 1 and -a on the pair (for 32 bits the high half is discarded).
  const dl = (a - 1) | 0;
  const dh = (ah - (a === 0 ? 1 : 0)) | 0;
  const nl = -a | 0;
  const nh = (~ah + (a === 0 ? 1 : 0)) | 0;
  let lo: number;
  let hi: number;
  let f: number;
  if (op === Bls.Reset) {
    lo = a & dl;
    hi = ah & dh;
    f = sz(lo, hi, size) | (zero ? CF : 0);
  } else if (op === Bls.Mask) {
    lo = a ^ dl;
    hi = size === 8 ? ah ^ dh : 0;
    f = (sz(lo, hi, size) & SF) | (zero ? CF : 0);
  } else {
    lo = a & nl;
    hi = ah & nh;
    f = sz(lo, hi, size) | (zero ? 0 : CF);
  }
  c.setFlagBits(SF | ZF | OF | CF, f);
  c.setReg(i.vvvv, size, lo, hi);
}

/**
 * BZHI Gy, Ey, By: SRC1 with the bits from INDEX = SRC2[7:0] up cleared; CF = INDEX > operand
 * size - 1 (then nothing is cleared). ZF, SF from the result; OF cleared; AF, PF undefined.
 */
export function bzhi(c: Cpu, i: Insn): void {
  const size = opSize(i);
  const a = srcE(c, i, size);
  const ah = c.hi;
  const n = srcB(c, i, size) & 0xff;
  const bits = size * 8;
  const lo = n < bits ? keepLow(c, a, ah, n) : a;
  const hi = n < bits ? c.hi : ah;
  c.setFlagBits(SF | ZF | OF | CF, sz(lo, hi, size) | (n > bits - 1 ? CF : 0));
  c.setReg(i.reg, size, lo, hi);
}

/** Bit k (0-63) of a pair. */
function bit(lo: number, hi: number, k: number): number {
  return k < 32 ? (lo >>> k) & 1 : (hi >>> (k - 32)) & 1;
}

/** PDEP Gy, By, Ey: the low bits of SRC1 deposited at the set bits of the mask (r/m), in order. No flags. */
export function pdep(c: Cpu, i: Insn): void {
  const size = opSize(i);
  const m = srcE(c, i, size);
  const mh = c.hi;
  const s = srcB(c, i, size);
  const sh = c.hi;
  let k = 0;
  let lo = 0;
  let hi = 0;
  for (let w = m; w !== 0; w &= w - 1, k++) if (bit(s, sh, k) !== 0) lo |= w & -w;
  for (let w = mh; w !== 0; w &= w - 1, k++) if (bit(s, sh, k) !== 0) hi |= w & -w;
  c.setReg(i.reg, size, lo, hi);
}

/** PEXT Gy, By, Ey: the bits of SRC1 at the set bits of the mask (r/m), packed into the low bits. No flags. */
export function pext(c: Cpu, i: Insn): void {
  const size = opSize(i);
  const m = srcE(c, i, size);
  const mh = c.hi;
  const s = srcB(c, i, size);
  const sh = c.hi;
  let k = 0;
  let lo = 0;
  let hi = 0;
  const put = (): void => {
    if (k < 32) lo |= 1 << k;
    else hi |= 1 << (k - 32);
  };
  for (let w = m; w !== 0; w &= w - 1, k++) if ((s & w & -w) !== 0) put();
  for (let w = mh; w !== 0; w &= w - 1, k++) if ((sh & w & -w) !== 0) put();
  c.setReg(i.reg, size, lo, hi);
}

/** SHLX/SHRX/SARX Gy, Ey, By: shift the r/m operand by VEX.vvvv masked to 5 or 6 bits. No flags. */
export const enum ShiftX {
  Shl = 0,
  Shr = 1,
  Sar = 2,
}

export function shiftx(c: Cpu, i: Insn, op: ShiftX): void {
  const size = opSize(i);
  const a = srcE(c, i, size);
  const ah = c.hi;
  const n = srcB(c, i, size) & (size * 8 - 1);
  if (size === 4) {
    c.setReg32(i.reg, op === ShiftX.Shl ? a << n : op === ShiftX.Shr ? a >>> n : a >> n);
    return;
  }
  const lo = op === ShiftX.Shl ? shl64(c, a, ah, n) : op === ShiftX.Shr ? shr64(c, a, ah, n) : sar64(c, a, ah, n);
  c.setReg64(i.reg, lo, c.hi);
}

/** RORX Gy, Ey, Ib: rotate right by imm8 masked to 5 or 6 bits. No flags. */
export function rorx(c: Cpu, i: Insn): void {
  const size = opSize(i);
  let a = srcE(c, i, size);
  let ah = c.hi;
  let n = i.imm & (size * 8 - 1);
  if (size === 4) {
    c.setReg32(i.reg, n === 0 ? a : (a >>> n) | (a << (32 - n)));
    return;
  }
  if (n >= 32) {
    [a, ah] = [ah, a];
    n -= 32;
  }
  if (n === 0) c.setReg64(i.reg, a, ah);
  else c.setReg64(i.reg, (a >>> n) | (ah << (32 - n)), (ah >>> n) | (a << (32 - n)));
}

/**
 * MULX Gy, By, Ey: unsigned rDX × r/m; the low half goes to VEX.vvvv, then the high half to
 * ModRM.reg (SDM "MULX" operation: DEST2 then DEST1, so with both the same register the high
 * half remains). No flags.
 */
export function mulx(c: Cpu, i: Insn): void {
  const size = opSize(i);
  const b = srcE(c, i, size);
  const bh = c.hi;
  if (size === 4) {
    const lo = mul64(c, c.reg32(2), b, false);
    const hi = c.hi;
    c.setReg32(i.vvvv, lo);
    c.setReg32(i.reg, hi);
    return;
  }
  const [w0, w1, w2, w3] = mul128(c.reg64lo(2), c.reg64hi(2), b, bh, false);
  c.setReg64(i.vvvv, w0, w1);
  c.setReg64(i.reg, w2, w3);
}
