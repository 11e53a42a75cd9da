/**
 * Exact x87 arithmetic on the 80-bit double extended-precision format: addition, subtraction,
 * multiplication, division and square root, each computed exactly (to a 96-bit working
 * significand plus a sticky bit) and rounded once by the precision and rounding controls (SDM
 * vol. 1 §4.8.4, §8.1.5.2), with the x87's overflow and underflow responses (§4.9.1.4-5, §8.5).
 *
 * Operands are slots of `X87` (finite: zero, denormal or normal, never NaN or unsupported); the
 * result goes to S_RES with PE/UE/OE in `x.exc` and `x.roundedUp` for C1. The working significand
 * lives in the X87 instance (`w0`, `w1`, `w2`, `sticky`): unsigned 32-bit words held as JS
 * numbers, so no BigInt and no allocation. Products are formed from 16-bit limbs (exact in
 * doubles); quotients and roots are developed a bit at a time (66 bits: 64, round, and a guard;
 * the remainder gives the sticky bit).
 */
import { OE, PE, RC_DOWN, RC_NEAREST, RC_UP, S_RES, UE, type X87 } from './x87-state.js';

const TWO32 = 4294967296;
/** The exponent adjustment of an unmasked overflow or underflow response (SDM vol. 1 §8.5.4-5). */
const BIAS_ADJUST = 24576;

/**
 * Significand bits kept by the precision control (FCW bits 8-9): 00 single (24), 10 double (53),
 * 11 extended (64). 01 is reserved; the reference CPU rounds as extended (measured).
 */
export function precision(x: X87): number {
  const pc = (x.fcw >> 8) & 3;
  return pc === 0 ? 24 : pc === 2 ? 53 : 64;
}

/** Slot k (finite, non-zero) normalised into w0:w1 (w2 = 0, no sticky); returns its unbiased exponent. */
function unpack(x: X87, k: number): number {
  const exp = (x.se[k] as number) & 0x7fff;
  let hi = (x.mhi[k] as number) >>> 0;
  let lo = (x.mlo[k] as number) >>> 0;
  let e = exp === 0 ? -16382 : exp - 16383; // exponent 0: denormals and pseudo-denormals
  if (hi < 0x80000000) {
    const z = hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
    if (z >= 32) {
      hi = (lo << (z - 32)) >>> 0;
      lo = 0;
    } else {
      hi = ((hi << z) | (lo >>> (32 - z))) >>> 0;
      lo = (lo << z) >>> 0;
    }
    e -= z;
  }
  x.w0 = hi;
  x.w1 = lo;
  x.w2 = 0;
  x.sticky = false;
  return e;
}

const isZero = (x: X87, k: number): boolean => ((x.se[k] as number) & 0x7fff) === 0 && x.mhi[k] === 0 && x.mlo[k] === 0;

/** Shifts w0:w1:w2 right by s bits; bits shifted out go to `sticky`. */
function shiftRightJam(x: X87, s: number): void {
  if (s <= 0) return;
  if (s >= 96) {
    x.sticky = x.sticky || x.w0 !== 0 || x.w1 !== 0 || x.w2 !== 0;
    x.w0 = 0;
    x.w1 = 0;
    x.w2 = 0;
    return;
  }
  while (s >= 32) {
    x.sticky = x.sticky || x.w2 !== 0;
    x.w2 = x.w1;
    x.w1 = x.w0;
    x.w0 = 0;
    s -= 32;
  }
  if (s > 0) {
    x.sticky = x.sticky || (x.w2 << (32 - s)) !== 0;
    x.w2 = ((x.w2 >>> s) | (x.w1 << (32 - s))) >>> 0;
    x.w1 = ((x.w1 >>> s) | (x.w0 << (32 - s))) >>> 0;
    x.w0 = x.w0 >>> s;
  }
}

/** The last rounding was inexact (see `roundSignificand`). */
const INEXACT = 1;
/** The last rounding carried out of the kept bits (the significand became 2^p). */
const CARRY = 2;

/**
 * Rounds w0:w1:w2 (+ sticky) to its top p bits of w0:w1 by `rc` (w2 is cleared): the kept bits
 * stay in place. Sets `x.roundedUp`; returns INEXACT | CARRY. On a carry w0:w1 is 2^63.
 */
function roundSignificand(x: X87, p: number, neg: boolean, rc: number): number {
  let round: number;
  let rest: boolean;
  let lsb: number;
  if (p === 64) {
    round = x.w2 >>> 31;
    rest = (x.w2 & 0x7fffffff) !== 0 || x.sticky;
    lsb = x.w1 & 1;
  } else if (p === 53) {
    round = (x.w1 >>> 10) & 1;
    rest = (x.w1 & 0x3ff) !== 0 || x.w2 !== 0 || x.sticky;
    lsb = (x.w1 >>> 11) & 1;
    x.w1 = (x.w1 & 0xfffff800) >>> 0;
  } else {
    round = (x.w0 >>> 7) & 1;
    rest = (x.w0 & 0x7f) !== 0 || x.w1 !== 0 || x.w2 !== 0 || x.sticky;
    lsb = (x.w0 >>> 8) & 1;
    x.w0 = (x.w0 & 0xffffff00) >>> 0;
    x.w1 = 0;
  }
  x.w2 = 0;
  x.sticky = false;
  const inexact = round !== 0 || rest;
  let up: boolean;
  if (rc === RC_NEAREST) up = round !== 0 && (rest || lsb !== 0);
  else if (rc === RC_DOWN) up = neg && inexact;
  else if (rc === RC_UP) up = !neg && inexact;
  else up = false;
  x.roundedUp = up;
  if (!up) return inexact ? INEXACT : 0;
  // Add one unit in the last kept place.
  if (p === 64) x.w1 += 1;
  else if (p === 53) x.w1 += 0x800;
  else x.w0 += 0x100;
  if (x.w1 >= TWO32) {
    x.w1 -= TWO32;
    x.w0 += 1;
  }
  if (x.w0 >= TWO32) {
    x.w0 = 0x80000000;
    x.w1 = 0;
    return INEXACT | CARRY;
  }
  return INEXACT;
}

/**
 * Rounds ±(w0:w1:w2, sticky) * 2^(e - 95), w0's top bit set, into S_RES by the precision and
 * rounding controls. Tininess is detected after rounding (SDM vol. 1 §4.9.1.5; measured): a
 * masked underflow flags UE only when the denormal result is inexact, an unmasked one flags UE
 * for every tiny result and delivers it scaled by 2^24576. Overflow: masked, infinity or the
 * largest finite value by the rounding control (OE and PE); unmasked, scaled by 2^-24576. `p` is
 * the precision: `precision(x)` for the operations the precision control governs, else 64.
 */
export function roundPack(x: X87, neg: boolean, e: number, p: number): void {
  const rc = x.rc();
  const sign = neg ? 0x8000 : 0;
  let biased = e + 16383;
  if (biased <= 0) {
    let tiny = true;
    if (biased === 0) {
      // Tiny unless rounding with an unbounded exponent reaches the smallest normal.
      const w0 = x.w0;
      const w1 = x.w1;
      const w2 = x.w2;
      const st = x.sticky;
      if ((roundSignificand(x, p, neg, rc) & CARRY) !== 0) tiny = false;
      x.w0 = w0;
      x.w1 = w1;
      x.w2 = w2;
      x.sticky = st;
    }
    if (tiny && (x.fcw & UE) === 0) {
      x.exc |= UE;
      biased += BIAS_ADJUST;
      if (biased <= 0) {
        // Still tiny after the adjustment (FSCALE): a zero, inexact (measured).
        x.exc |= PE;
        zero(x, neg);
        return;
      }
    } else {
      shiftRightJam(x, 1 - biased);
      const r = roundSignificand(x, p, neg, rc);
      if ((r & INEXACT) !== 0) x.exc |= tiny ? UE | PE : PE;
      // A carry into the integer bit makes the result the smallest normal.
      x.set80(S_RES, sign | (x.w0 >= 0x80000000 ? 1 : 0), x.w0 | 0, x.w1 | 0);
      return;
    }
  }
  const r = roundSignificand(x, p, neg, rc);
  if ((r & CARRY) !== 0) biased++;
  if ((r & INEXACT) !== 0) x.exc |= PE;
  if (biased >= 0x7fff) {
    x.exc |= OE;
    if ((x.fcw & OE) === 0) biased -= BIAS_ADJUST;
    if (biased >= 0x7fff) {
      // Masked, or still too large after the adjustment (FSCALE): then always infinity (measured).
      x.exc |= PE;
      const toInf = (x.fcw & OE) === 0 || rc === RC_NEAREST || (rc === RC_UP && !neg) || (rc === RC_DOWN && neg);
      x.roundedUp = toInf;
      if (toInf) x.set80(S_RES, sign | 0x7fff, 0x80000000 | 0, 0);
      else x.set80(S_RES, sign | 0x7ffe, p === 24 ? 0xffffff00 | 0 : -1, p === 64 ? -1 : p === 53 ? 0xfffff800 | 0 : 0);
      return;
    }
  }
  x.set80(S_RES, sign | biased, x.w0 | 0, x.w1 | 0);
}

/** Signed zero into S_RES (exact: no flags, not rounded). */
function zero(x: X87, neg: boolean): void {
  x.set80(S_RES, neg ? 0x8000 : 0, 0, 0);
  x.roundedUp = false;
}

/**
 * S_RES = a + b, or a - b with `negB` (finite slots). An exact zero sum of operands of opposite
 * signs is +0, or -0 when rounding down; zeros of the same sign keep it (IEEE 754 §6.3). A zero
 * operand still rounds the other to the precision control.
 */
export function add80(x: X87, a: number, b: number, negB: boolean): void {
  let na = x.isNeg(a);
  let nb = x.isNeg(b) !== negB;
  const za = isZero(x, a);
  const zb = isZero(x, b);
  if (za && zb) {
    zero(x, na === nb ? na : x.rc() === RC_DOWN);
    return;
  }
  if (zb) {
    roundPack(x, na, unpack(x, a), precision(x));
    return;
  }
  if (za) {
    roundPack(x, nb, unpack(x, b), precision(x));
    return;
  }
  let ea = unpack(x, a);
  let ah = x.w0;
  let al = x.w1;
  let eb = unpack(x, b);
  let bh = x.w0;
  let bl = x.w1;
  // Order by magnitude: a is the larger.
  if (eb > ea || (eb === ea && (bh > ah || (bh === ah && bl > al)))) {
    let t = ea;
    ea = eb;
    eb = t;
    t = ah;
    ah = bh;
    bh = t;
    t = al;
    al = bl;
    bl = t;
    const n = na;
    na = nb;
    nb = n;
  }
  // The smaller operand aligned in 96 bits; bits below are jammed into the lowest bit.
  x.w0 = bh;
  x.w1 = bl;
  x.w2 = 0;
  x.sticky = false;
  shiftRightJam(x, ea - eb);
  const s0 = x.w0;
  const s1 = x.w1;
  const s2 = x.sticky ? (x.w2 | 1) >>> 0 : x.w2;
  x.sticky = false;
  let e = ea;
  if (na === nb) {
    let r1 = al + s1;
    let r0 = ah + s0;
    if (r1 >= TWO32) {
      r1 -= TWO32;
      r0 += 1;
    }
    x.w2 = s2;
    x.w1 = r1;
    x.w0 = r0;
    if (r0 >= TWO32) {
      x.w0 = r0 - TWO32;
      shiftRightJam(x, 1);
      x.w0 = (x.w0 | 0x80000000) >>> 0;
      e += 1;
    }
  } else {
    let r2 = -s2;
    let borrow = 0;
    if (r2 < 0) {
      r2 += TWO32;
      borrow = 1;
    }
    let r1 = al - s1 - borrow;
    borrow = 0;
    if (r1 < 0) {
      r1 += TWO32;
      borrow = 1;
    }
    const r0 = ah - s0 - borrow;
    if (r0 === 0 && r1 === 0 && r2 === 0) {
      zero(x, x.rc() === RC_DOWN);
      return;
    }
    // Normalise (a long shift only when nothing was jammed: the exponents differ by at most 1).
    x.w0 = r0;
    x.w1 = r1;
    x.w2 = r2;
    e -= normaliseLeft(x);
  }
  roundPack(x, na, e, precision(x));
}

/** Shifts w0:w1:w2 left until w0's top bit is set (not all zero); returns the shift. */
function normaliseLeft(x: X87): number {
  let n = 0;
  while (x.w0 === 0) {
    x.w0 = x.w1;
    x.w1 = x.w2;
    x.w2 = 0;
    n += 32;
  }
  const z = Math.clz32(x.w0);
  if (z > 0) {
    x.w0 = ((x.w0 << z) | (x.w1 >>> (32 - z))) >>> 0;
    x.w1 = ((x.w1 << z) | (x.w2 >>> (32 - z))) >>> 0;
    x.w2 = (x.w2 << z) >>> 0;
  }
  return n + z;
}

/** S_RES = a * b (finite slots). */
export function mul80(x: X87, a: number, b: number): void {
  const neg = x.isNeg(a) !== x.isNeg(b);
  if (isZero(x, a) || isZero(x, b)) {
    zero(x, neg);
    return;
  }
  const ea = unpack(x, a);
  const ah = x.w0;
  const al = x.w1;
  const eb = unpack(x, b);
  // 16-bit limbs: every partial product is below 2^32, a column sum below 2^35 (exact).
  const a3 = ah >>> 16;
  const a2 = ah & 0xffff;
  const a1 = al >>> 16;
  const a0 = al & 0xffff;
  const b3 = x.w0 >>> 16;
  const b2 = x.w0 & 0xffff;
  const b1 = x.w1 >>> 16;
  const b0 = x.w1 & 0xffff;
  let c = a0 * b0;
  const r0 = c % 65536;
  c = (c - r0) / 65536 + a1 * b0 + a0 * b1;
  const r1 = c % 65536;
  c = (c - r1) / 65536 + a2 * b0 + a1 * b1 + a0 * b2;
  const r2 = c % 65536;
  c = (c - r2) / 65536 + a3 * b0 + a2 * b1 + a1 * b2 + a0 * b3;
  const r3 = c % 65536;
  c = (c - r3) / 65536 + a3 * b1 + a2 * b2 + a1 * b3;
  const r4 = c % 65536;
  c = (c - r4) / 65536 + a3 * b2 + a2 * b3;
  const r5 = c % 65536;
  c = (c - r5) / 65536 + a3 * b3;
  const r6 = c % 65536;
  const r7 = (c - r6) / 65536;
  let w0 = r7 * 65536 + r6;
  let w1 = r5 * 65536 + r4;
  let w2 = r3 * 65536 + r2;
  let w3 = r1 * 65536 + r0;
  // The product of two significands in [2^63, 2^64) is in [2^126, 2^128).
  let e = ea + eb + 1;
  if (w0 < 0x80000000) {
    w0 = ((w0 << 1) | (w1 >>> 31)) >>> 0;
    w1 = ((w1 << 1) | (w2 >>> 31)) >>> 0;
    w2 = ((w2 << 1) | (w3 >>> 31)) >>> 0;
    w3 = (w3 << 1) >>> 0;
    e -= 1;
  }
  x.w0 = w0;
  x.w1 = w1;
  x.w2 = w2;
  x.sticky = w3 !== 0;
  roundPack(x, neg, e, precision(x));
}

/** S_RES = a / b (finite slots, b non-zero). */
export function div80(x: X87, a: number, b: number): void {
  const neg = x.isNeg(a) !== x.isNeg(b);
  if (isZero(x, a)) {
    zero(x, neg);
    return;
  }
  const ea = unpack(x, a);
  let rh = x.w0;
  let rl = x.w1;
  const eb = unpack(x, b);
  const bh = x.w0;
  const bl = x.w1;
  let e = ea - eb;
  // The remainder has 65 bits: rc is bit 64.
  let rc = 0;
  if (rh < bh || (rh === bh && rl < bl)) {
    rc = rh >>> 31;
    rh = ((rh << 1) | (rl >>> 31)) >>> 0;
    rl = (rl << 1) >>> 0;
    e -= 1;
  }
  // 66 quotient bits, the first one 1: 32 into q0, 32 into q1, 2 into q2.
  let q0 = 0;
  let q1 = 0;
  let q2 = 0;
  for (let k = 0; k < 66; k++) {
    let bit = 0;
    if (rc !== 0 || rh > bh || (rh === bh && rl >= bl)) {
      bit = 1;
      let l = rl - bl;
      let h = rh - bh;
      if (l < 0) {
        l += TWO32;
        h -= 1;
      }
      rl = l;
      rh = h >>> 0;
    }
    rc = rh >>> 31;
    rh = ((rh << 1) | (rl >>> 31)) >>> 0;
    rl = (rl << 1) >>> 0;
    if (k < 32) q0 = ((q0 << 1) | bit) >>> 0;
    else if (k < 64) q1 = ((q1 << 1) | bit) >>> 0;
    else q2 = (q2 << 1) | bit;
  }
  x.w0 = q0;
  x.w1 = q1;
  x.w2 = (q2 << 30) >>> 0;
  x.sticky = rc !== 0 || rh !== 0 || rl !== 0;
  roundPack(x, neg, e, precision(x));
}

/** S_RES = sqrt(a) for a finite, non-negative slot (or -0). */
export function sqrt80(x: X87, a: number): void {
  if (isZero(x, a)) {
    zero(x, x.isNeg(a));
    return;
  }
  const e = unpack(x, a);
  const mh = x.w0;
  const ml = x.w1;
  // The radicand m * 2^67 (e even) or m * 2^68 (e odd), m the 64-bit significand, has a 66-bit
  // root whose top bit has weight 2^floor(e/2). Two radicand bits per step.
  const odd = (e & 1) !== 0;
  const sh = odd ? 68 : 67;
  let r2 = 0;
  let r1 = 0;
  let r0 = 0;
  let q2 = 0;
  let q1 = 0;
  let q0 = 0;
  for (let k = 0; k < 66; k++) {
    // The radicand's bits 131-2k and 130-2k, i.e. m's bits (131-2k-sh) and (130-2k-sh).
    const j = 130 - 2 * k - sh;
    const pair = (bitOf(mh, ml, j + 1) << 1) | bitOf(mh, ml, j);
    // rem = rem * 4 + pair
    r2 = ((r2 << 2) | (r1 >>> 30)) >>> 0;
    r1 = ((r1 << 2) | (r0 >>> 30)) >>> 0;
    r0 = ((r0 << 2) | pair) >>> 0;
    // trial = root * 4 + 1
    const t2 = ((q2 << 2) | (q1 >>> 30)) >>> 0;
    const t1 = ((q1 << 2) | (q0 >>> 30)) >>> 0;
    const t0 = ((q0 << 2) | 1) >>> 0;
    // root = root * 2 (+ 1)
    q2 = ((q2 << 1) | (q1 >>> 31)) >>> 0;
    q1 = ((q1 << 1) | (q0 >>> 31)) >>> 0;
    q0 = (q0 << 1) >>> 0;
    if (r2 > t2 || (r2 === t2 && (r1 > t1 || (r1 === t1 && r0 >= t0)))) {
      let d0 = r0 - t0;
      let d1 = r1 - t1;
      let d2 = r2 - t2;
      if (d0 < 0) {
        d0 += TWO32;
        d1 -= 1;
      }
      if (d1 < 0) {
        d1 += TWO32;
        d2 -= 1;
      }
      r0 = d0;
      r1 = d1;
      r2 = d2;
      q0 = (q0 | 1) >>> 0;
    }
  }
  // root bits 65..0 in q2:q1:q0; bit 65 to the top of w0.
  x.w0 = ((q2 << 30) | (q1 >>> 2)) >>> 0;
  x.w1 = ((q1 << 30) | (q0 >>> 2)) >>> 0;
  x.w2 = (q0 << 30) >>> 0;
  x.sticky = r0 !== 0 || r1 !== 0 || r2 !== 0;
  roundPack(x, false, Math.floor(e / 2), precision(x));
}

/** Bit j of the 64-bit value hi:lo (0 outside 0..63). */
function bitOf(hi: number, lo: number, j: number): number {
  if (j < 0 || j > 63) return 0;
  return j >= 32 ? (hi >>> (j - 32)) & 1 : (lo >>> j) & 1;
}

/**
 * S_RES = a * 2^n for a finite, non-zero slot: exact unless the result leaves the normal range
 * (then rounded at 64 bits, with the overflow and underflow responses). For FSCALE.
 */
export function scaleBy(x: X87, a: number, n: number): void {
  roundPack(x, x.isNeg(a), unpack(x, a) + n, 64);
}

/**
 * The remainder of FPREM (`ieee` false: quotient truncated) and FPREM1 (quotient rounded to
 * nearest even) for finite, non-zero slots a and b, exact, into S_RES. Returns the quotient's low
 * three bits, or -1 for a partial remainder: when the exponents differ by 64 or more, the dividend
 * is reduced by b * 2^(d - N) times a truncated quotient, N = 32 + d mod 32 (AMD's choice within
 * the SDM's 32..63; measured), and C2 says to run the instruction again.
 */
export function rem80(x: X87, a: number, b: number, ieee: boolean): number {
  let neg = x.isNeg(a);
  const ea = unpack(x, a);
  const ah = x.w0;
  const al = x.w1;
  let eb = unpack(x, b);
  const bh = x.w0;
  const bl = x.w1;
  let d = ea - eb;
  let partial = false;
  if (d >= 64) {
    partial = true;
    const n = 32 + (d % 32);
    eb += d - n;
    d = n;
  }
  let q = 0;
  let rh = ah;
  let rl = al;
  let e = eb; // the weight of bit 63 of the remainder rh:rl
  if (d < 0) {
    e = ea;
    if (ieee && d === -1 && (ah > bh || (ah === bh && al > bl))) {
      // |a| > |b|/2: the remainder is |b| - |a| = (2mb - ma) * 2^(eb - 64), the quotient 1.
      // Modulo 2^64: the result is below mb.
      let l = ((bl << 1) >>> 0) - al;
      let h = (((bh << 1) | (bl >>> 31)) >>> 0) - ah;
      if (l < 0) {
        l += TWO32;
        h -= 1;
      }
      rh = h >>> 0;
      rl = l;
      e = eb - 1;
      neg = !neg;
      q = 1;
    }
  } else {
    // Long division by bits: d + 1 quotient bits, the remainder stays below mb.
    let rc = 0;
    for (let k = 0; k <= d; k++) {
      if (rc !== 0 || rh > bh || (rh === bh && rl >= bl)) {
        let l = rl - bl;
        let h = rh - bh;
        if (l < 0) {
          l += TWO32;
          h -= 1;
        }
        rl = l;
        rh = h >>> 0;
        q = ((q << 1) | 1) & 7;
      } else q = (q << 1) & 7;
      if (k < d) {
        rc = rh >>> 31;
        rh = ((rh << 1) | (rl >>> 31)) >>> 0;
        rl = (rl << 1) >>> 0;
      }
    }
    if (ieee && !partial) {
      // Round the quotient to nearest even: compare 2r with mb.
      const c = rh >= 0x80000000 ? 1 : cmp64(((rh << 1) | (rl >>> 31)) >>> 0, (rl << 1) >>> 0, bh, bl);
      if (c > 0 || (c === 0 && (q & 1) !== 0)) {
        let l = bl - rl;
        let h = bh - rh;
        if (l < 0) {
          l += TWO32;
          h -= 1;
        }
        rl = l;
        rh = h >>> 0;
        neg = !neg;
        q = (q + 1) & 7;
      }
    }
  }
  if (rh === 0 && rl === 0) {
    zero(x, x.isNeg(a));
    return partial ? -1 : q;
  }
  x.w0 = rh;
  x.w1 = rl;
  x.w2 = 0;
  x.sticky = false;
  e -= normaliseLeft(x);
  roundPack(x, neg, e, 64);
  return partial ? -1 : q;
}

/** Compares the unsigned 64-bit values ah:al and bh:bl: -1, 0 or 1. */
function cmp64(ah: number, al: number, bh: number, bl: number): number {
  if (ah !== bh) return ah > bh ? 1 : -1;
  if (al !== bl) return al > bl ? 1 : -1;
  return 0;
}
