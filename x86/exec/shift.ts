/**
 * Shifts and rotates: group 2 (C0/C1/D0/D1/D2/D3: ROL ROR RCL RCR SHL SHR SAL SAR) and the
 * double-precision shifts SHLD/SHRD (SDM vol. 2B, "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR",
 * "SHLD", "SHRD").
 *
 * Common rules: the count is masked to 5 bits (6 with a 64-bit operand); a masked count of 0
 * changes neither the operand nor any flag. OF is architecturally defined only for a count of 1
 * and AF is always undefined after a shift; the rows list both as undefined. Where the SDM leaves
 * a result undefined (CF of SHL/SHR by at least the operand width, SHLD/SHRD of a 16-bit operand
 * by more than 16) we reproduce what the AMD EPYC reference machine does, measured with inline
 * assembly: a wide shift whose bits past the operand are zero, and a 48-bit `dest:src:src`
 * window for 16-bit double shifts.
 *
 * Values travel as int32 halves; the 64-bit helpers below take any count and give 0 (or the sign)
 * once every bit has been shifted out, so the 8/16/32-bit forms can share them.
 */
import type { Cpu } from '../cpu.js';
import type { Insn } from '../decoder.js';
import { PARITY } from '../flags.js';
import { AF, CF, OF, SF, ZF } from '../isa/types.js';
import { ea } from './operands.js';


/** a << n on a 64-bit (lo, hi) pair, for any n >= 0; returns lo, high half in c.hi. */
export function shl64(c: Cpu, lo: number, hi: number, n: number): number {
  if (n === 0) {
    c.hi = hi;
    return lo;
  }
  if (n < 32) {
    c.hi = (hi << n) | (lo >>> (32 - n));
    return lo << n;
  }
  c.hi = n < 64 ? lo << (n - 32) : 0;
  return 0;
}

/** Logical a >>> n on a 64-bit pair, for any n >= 0. */
export function shr64(c: Cpu, lo: number, hi: number, n: number): number {
  if (n === 0) {
    c.hi = hi;
    return lo;
  }
  if (n < 32) {
    c.hi = hi >>> n;
    return (lo >>> n) | (hi << (32 - n));
  }
  c.hi = 0;
  return n < 64 ? hi >>> (n - 32) : 0;
}

/** Arithmetic a >> n on a 64-bit pair, for any n >= 0. */
export function sar64(c: Cpu, lo: number, hi: number, n: number): number {
  if (n === 0) {
    c.hi = hi;
    return lo;
  }
  if (n < 32) {
    c.hi = hi >> n;
    return (lo >>> n) | (hi << (32 - n));
  }
  c.hi = hi >> 31;
  return hi >> (n < 64 ? n - 32 : 31);
}

/** Bit k (0..63, anything above is 0) of a 64-bit pair. */
function bit64(lo: number, hi: number, k: number): number {
  if (k < 0 || k > 63) return 0;
  return k < 32 ? (lo >>> k) & 1 : (hi >>> (k - 32)) & 1;
}

/** Keeps the low `size` bytes of (lo, hi): returns lo, high half in c.hi. */
function mask(c: Cpu, lo: number, hi: number, size: number): number {
  if (size === 8) {
    c.hi = hi;
    return lo;
  }
  c.hi = 0;
  return size === 1 ? lo & 0xff : size === 2 ? lo & 0xffff : lo;
}

/** SF, ZF and PF of a result of `size` bytes (lo zero-extended; hi only for size 8). */
export function szp(lo: number, hi: number, size: number): number {
  let f = PARITY[lo & 0xff] as number;
  if (size === 8) {
    if (lo === 0 && hi === 0) f |= ZF;
    if (hi < 0) f |= SF;
  } else {
    if (lo === 0) f |= ZF;
    if ((lo >>> (size * 8 - 1)) & 1) f |= SF;
  }
  return f;
}

export const enum ShiftOp {
  Rol = 0,
  Ror = 1,
  Rcl = 2,
  Rcr = 3,
  Shl = 4,
  Shr = 5,
  Sal = 6,
  Sar = 7,
}

/**
 * Applies group-2 operation `op` to the `size`-byte value (a, ah) by the unmasked `count`.
 * Returns the result's low half (high half in c.hi) and updates the flags; with a masked count
 * of zero, returns the operand unchanged and leaves the flags alone.
 */
export function shift(c: Cpu, op: ShiftOp, size: number, a: number, ah: number, count: number): number {
  const w = size * 8;
  const n = count & (size === 8 ? 63 : 31);
  if (size !== 8) ah = 0;
  if (n === 0) {
    c.hi = ah;
    return a;
  }
  let r: number;
  let rh: number;
  let cf: number;
  let of: number;
  switch (op) {
    case ShiftOp.Shl:
    case ShiftOp.Sal:
      r = mask(c, shl64(c, a, ah, n), c.hi, size);
      rh = c.hi;
      cf = bit64(a, ah, w - n);
      of = bit64(r, rh, w - 1) ^ cf;
      c.setArithFlags(szp(r, rh, size) | cf | AF | (of ? OF : 0));
      c.hi = rh;
      return r;
    case ShiftOp.Shr:
      r = shr64(c, a, ah, n);
      rh = c.hi;
      cf = bit64(a, ah, n - 1);
      // OF: MSB of the original operand for a count of 1 (SDM); 0 otherwise, as measured.
      of = n === 1 ? bit64(a, ah, w - 1) : 0;
      c.setArithFlags(szp(r, rh, size) | cf | AF | (of ? OF : 0));
      c.hi = rh;
      return r;
    case ShiftOp.Sar: {
      // Sign-extend to 64 bits first so bits shifted in are copies of the operand's sign.
      const sl = size === 1 ? (a << 24) >> 24 : size === 2 ? (a << 16) >> 16 : a;
      const sh = size === 8 ? ah : sl >> 31;
      r = mask(c, sar64(c, sl, sh, n), c.hi, size);
      rh = c.hi;
      cf = n > 63 ? sh & 1 : bit64(sl, sh, n - 1);
      c.setArithFlags(szp(r, rh, size) | cf | AF);
      c.hi = rh;
      return r;
    }
    case ShiftOp.Rol:
    case ShiftOp.Ror: {
      const k = n % w;
      const left = op === ShiftOp.Rol ? k : (w - k) % w;
      if (left === 0) {
        r = a;
        rh = ah;
      } else {
        const l = shl64(c, a, ah, left);
        const lh = c.hi;
        const q = shr64(c, a, ah, w - left);
        r = mask(c, l | q, lh | c.hi, size);
        rh = c.hi;
      }
      if (op === ShiftOp.Rol) {
        cf = r & 1;
        of = bit64(r, rh, w - 1) ^ cf;
      } else {
        cf = bit64(r, rh, w - 1);
        of = cf ^ bit64(r, rh, w - 2);
      }
      c.setFlagBits(CF | OF, cf | (of ? OF : 0));
      c.hi = rh;
      return r;
    }
    default: {
      // RCL/RCR rotate the (w+1)-bit value CF:operand; 8- and 16-bit counts wrap mod 9 / 17.
      const k = size === 1 ? n % 9 : size === 2 ? n % 17 : n;
      const cin = c.getCF();
      if (k === 0) {
        // Operand and CF unchanged; OF is undefined (count was not 1), so leave it too.
        c.hi = ah;
        return a;
      }
      let l: number;
      let lh: number;
      if (op === ShiftOp.Rcl) {
        l = shl64(c, a, ah, k);
        lh = c.hi;
        const ci = shl64(c, cin, 0, k - 1);
        l |= ci;
        lh |= c.hi;
        const q = shr64(c, a, ah, w + 1 - k);
        r = mask(c, l | q, lh | c.hi, size);
        rh = c.hi;
        cf = bit64(a, ah, w - k);
        of = bit64(r, rh, w - 1) ^ cf;
      } else {
        l = shr64(c, a, ah, k);
        lh = c.hi;
        const ci = shl64(c, cin, 0, w - k);
        l |= ci;
        lh |= c.hi;
        const q = shl64(c, a, ah, w + 1 - k);
        r = mask(c, l | q, lh | c.hi, size);
        rh = c.hi;
        cf = bit64(a, ah, k - 1);
        of = bit64(r, rh, w - 1) ^ bit64(r, rh, w - 2);
      }
      c.setFlagBits(CF | OF, cf | (of ? OF : 0));
      c.hi = rh;
      return r;
    }
  }
}

/** Group 2 with the count from `count(c, i)`: read-modify-write of the r/m operand. */
function group2(c: Cpu, i: Insn, size: number, count: number): void {
  const op = (i.reg & 7) as ShiftOp;
  if (i.rm >= 0) {
    const a = c.getReg(i.rm, size);
    const r = shift(c, op, size, a, c.hi, count);
    // A masked count of 0 still writes a 32-bit register (zero-extending it), as any 32-bit
    // destination write does in 64-bit mode.
    c.setReg(i.rm, size, r, c.hi);
    return;
  }
  const la = ea(c, i);
  c.probeWrite(la, size); // RMW: a write fault first
  const a = c.read(la, size);
  const ah = c.hi;
  const r = shift(c, op, size, a, ah, count);
  c.write(la, size, r, c.hi);
}

export function grp2EbIb(c: Cpu, i: Insn): void {
  group2(c, i, 1, i.imm & 0xff);
}
export function grp2EvIb(c: Cpu, i: Insn): void {
  group2(c, i, i.opsize, i.imm & 0xff);
}
export function grp2Eb1(c: Cpu, i: Insn): void {
  group2(c, i, 1, 1);
}
export function grp2Ev1(c: Cpu, i: Insn): void {
  group2(c, i, i.opsize, 1);
}
export function grp2EbCL(c: Cpu, i: Insn): void {
  group2(c, i, 1, c.reg8(1));
}
export function grp2EvCL(c: Cpu, i: Insn): void {
  group2(c, i, i.opsize, c.reg8(1));
}

/**
 * SHLD (left) / SHRD: shifts the destination, filling from the source register. Returns the low
 * half (high in c.hi) and sets flags; a masked count of 0 changes nothing.
 */
export function doubleShift(c: Cpu, left: boolean, size: number, d: number, dh: number, s: number, sh: number, count: number): number {
  const n = count & (size === 8 ? 63 : 31);
  if (n === 0) {
    c.hi = dh;
    return d;
  }
  const w = size * 8;
  let r: number;
  let rh = 0;
  let cf: number;
  if (size === 2) {
    // A 48-bit window, exact in a double: SHLD dest:src:src, SHRD src:src:dest (see the header).
    const v = left ? d * 4294967296 + s * 65536 + s : s * 4294967296 + s * 65536 + d;
    if (left) {
      r = Math.floor(v / 2 ** (32 - n)) % 65536;
      cf = Math.floor(v / 2 ** (48 - n)) % 2;
    } else {
      r = Math.floor(v / 2 ** n) % 65536;
      cf = Math.floor(v / 2 ** (n - 1)) % 2;
    }
    // Past the operand width CF is undefined; the reference machine clears it.
    if (n > 16) cf = 0;
  } else if (left) {
    r = shl64(c, d, dh, n);
    rh = c.hi;
    const q = shr64(c, s, sh, w - n);
    r = mask(c, r | q, rh | c.hi, size);
    rh = c.hi;
    cf = bit64(d, size === 8 ? dh : 0, w - n);
  } else {
    r = shr64(c, d, size === 8 ? dh : 0, n);
    rh = c.hi;
    const q = shl64(c, s, size === 8 ? sh : 0, w - n);
    r = mask(c, r | q, rh | c.hi, size);
    rh = c.hi;
    cf = bit64(d, size === 8 ? dh : 0, n - 1);
  }
  // OF (defined for a count of 1): the sign changed.
  const of = bit64(r, rh, w - 1) ^ bit64(d, size === 8 ? dh : 0, w - 1);
  c.setArithFlags(szp(r, rh, size) | cf | (of ? OF : 0));
  c.hi = rh;
  return r;
}

function shld(c: Cpu, i: Insn, left: boolean, count: number): void {
  const size = i.opsize;
  const s = c.getReg(i.reg, size);
  const sh = c.hi;
  if (i.rm >= 0) {
    const d = c.getReg(i.rm, size);
    const r = doubleShift(c, left, size, d, c.hi, s, sh, count);
    c.setReg(i.rm, size, r, c.hi);
    return;
  }
  const la = ea(c, i);
  c.probeWrite(la, size); // RMW: a write fault first
  const d = c.read(la, size);
  const dh = c.hi;
  const r = doubleShift(c, left, size, d, dh, s, sh, count);
  c.write(la, size, r, c.hi);
}

export function shldEvGvIb(c: Cpu, i: Insn): void {
  shld(c, i, true, i.imm & 0xff);
}
export function shldEvGvCL(c: Cpu, i: Insn): void {
  shld(c, i, true, c.reg8(1));
}
export function shrdEvGvIb(c: Cpu, i: Insn): void {
  shld(c, i, false, i.imm & 0xff);
}
export function shrdEvGvCL(c: Cpu, i: Insn): void {
  shld(c, i, false, c.reg8(1));
}
