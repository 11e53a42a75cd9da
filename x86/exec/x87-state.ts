/**
 * The x87 FPU's architectural state (SDM vol. 1 §8.1) and the conversions between its 80-bit
 * double extended-precision registers and everything else (memory formats, integers, JS doubles).
 *
 * Representation. Each physical register R0-R7 is held as its exact 80-bit pattern: `se` (sign
 * and 15-bit exponent), `mhi`/`mlo` (the 64-bit significand, explicit integer bit included, as
 * int32 halves). Next to it, `v` caches the value rounded to a JS double, used only to classify
 * special operands. Arithmetic is exact on the patterns: x87-soft.ts (+, -, *, /, square root,
 * FSCALE, FPREM) and x87-trans.ts (transcendentals); docs/x87.md lists what is exact.
 *
 * Slots 8 and 9 past the eight registers are scratch: a memory operand converted to 80 bits, and
 * a result before it is committed (an unmasked exception leaves the destination unchanged).
 */

/** Status word bits (SDM vol. 1 §8.1.3, figure 8-4). TOP (bits 11-13) is kept in `top`. */
export const IE = 0x1;
export const DE = 0x2;
export const ZE = 0x4;
export const OE = 0x8;
export const UE = 0x10;
export const PE = 0x20;
export const SF = 0x40;
export const ES = 0x80;
export const C0 = 0x100;
export const C1 = 0x200;
export const C2 = 0x400;
export const C3 = 0x4000;
export const BUSY = 0x8000;
/** The six exception flags (and, in the control word, their masks). */
export const EXC = 0x3f;
export const CC = C0 | C1 | C2 | C3;

/** Rounding control, FCW bits 10-11 (SDM vol. 1 table 4-8). */
export const RC_NEAREST = 0;
export const RC_DOWN = 1;
export const RC_UP = 2;
export const RC_ZERO = 3;

/** Operand classes, from the 80-bit pattern (SDM vol. 1 §8.2.2, table 8-3 for FXAM). */
export const K_ZERO = 0;
export const K_DENORMAL = 1;
export const K_NORMAL = 2;
export const K_INF = 3;
export const K_QNAN = 4;
export const K_SNAN = 5;
/** Unnormals, pseudo-NaNs, pseudo-infinities: exponent non-zero but integer bit clear. */
export const K_UNSUPPORTED = 6;

/** Scratch slots. */
export const S_MEM = 8;
export const S_RES = 9;

const TWO32 = 4294967296;

export class X87 {
  /** Sign and exponent of R0-R7 and the two scratch slots. */
  readonly se = new Uint16Array(10);
  /** Significand bits 63-32 and 31-0. */
  readonly mhi = new Int32Array(10);
  readonly mlo = new Int32Array(10);
  /** The value rounded to a double (NaN for NaNs and unsupported encodings). */
  readonly v = new Float64Array(10);
  /** 1 when the physical register is not empty (the abridged tag, FXSAVE's form). */
  readonly valid = new Uint8Array(8);
  top = 0;
  fcw = 0x37f;
  /** Status word without TOP. */
  fsw = 0;
  /** Last non-control instruction: its address, opcode (11 bits) and data operand address. */
  fip = 0;
  fop = 0;
  fdp = 0;
  /** Exception flags raised by the instruction in progress (see `signal`). */
  exc = 0;
  /** The last conversion rounded the magnitude up (C1 after an inexact result). */
  roundedUp = false;
  /**
   * Working significand of the exact arithmetic (x87-soft.ts): 96 bits as unsigned 32-bit words,
   * w0 the most significant, `sticky` when non-zero bits lie below w2; `we` its exponent.
   */
  w0 = 0;
  w1 = 0;
  w2 = 0;
  sticky = false;
  we = 0;

  // Scratch for bit-level conversions; instance-owned so nothing is shared between CPUs.
  private readonly buf = new ArrayBuffer(8);
  private readonly f64 = new Float64Array(this.buf);
  private readonly u32 = new Uint32Array(this.buf);
  private readonly f32 = new Float32Array(this.buf, 0, 1);
  /** Result of `shrRound`: the kept bits (high/low, unsigned) and whether bits were lost. */
  private kh = 0;
  private kl = 0;
  private lost = false;

  /** FNINIT (SDM vol. 2 FINIT): register contents survive, everything else resets. */
  init(): void {
    this.fcw = 0x37f;
    this.fsw = 0;
    this.top = 0;
    this.valid.fill(0);
    this.fip = 0;
    this.fop = 0;
    this.fdp = 0;
  }

  /** The status word as FNSTSW stores it. */
  status(): number {
    return (this.fsw & ~0x3800) | (this.top << 11);
  }
  setStatus(w: number): void {
    this.top = (w >> 11) & 7;
    this.fsw = w & 0xc7ff;
    this.updateEs();
  }
  /** ES and B summarise the unmasked pending exceptions (SDM vol. 1 §8.1.3.1). */
  updateEs(): void {
    if ((this.fsw & ~this.fcw & EXC) !== 0) this.fsw |= ES | BUSY;
    else this.fsw &= ~(ES | BUSY);
  }
  rc(): number {
    return (this.fcw >> 10) & 3;
  }

  /** Physical register of ST(i). */
  phys(i: number): number {
    return (this.top + i) & 7;
  }

  // ---- classification ---------------------------------------------------------------------

  kind(k: number): number {
    const exp = (this.se[k] as number) & 0x7fff;
    const hi = this.mhi[k] as number;
    const lo = this.mlo[k] as number;
    if (exp === 0) return hi === 0 && lo === 0 ? K_ZERO : K_DENORMAL;
    if (hi >= 0) return K_UNSUPPORTED; // integer bit clear
    if (exp === 0x7fff) {
      if ((hi & 0x7fffffff) === 0 && lo === 0) return K_INF;
      return (hi & 0x40000000) !== 0 ? K_QNAN : K_SNAN;
    }
    return K_NORMAL;
  }
  isNeg(k: number): boolean {
    return ((this.se[k] as number) & 0x8000) !== 0;
  }

  /** Full tag (SDM vol. 1 §8.1.7): 0 valid, 1 zero, 2 special, 3 empty, for physical register k. */
  tag(k: number): number {
    if (this.valid[k] === 0) return 3;
    const kd = this.kind(k);
    return kd === K_NORMAL ? 0 : kd === K_ZERO ? 1 : 2;
  }
  tagWord(): number {
    let t = 0;
    for (let k = 0; k < 8; k++) t |= this.tag(k) << (2 * k);
    return t;
  }

  // ---- slot writes ------------------------------------------------------------------------

  copy(dst: number, src: number): void {
    this.se[dst] = this.se[src] as number;
    this.mhi[dst] = this.mhi[src] as number;
    this.mlo[dst] = this.mlo[src] as number;
    this.v[dst] = this.v[src] as number;
  }
  /** Sets slot k to an 80-bit pattern and refreshes its double. */
  set80(k: number, se: number, hi: number, lo: number): void {
    this.se[k] = se;
    this.mhi[k] = hi;
    this.mlo[k] = lo;
    this.v[k] = this.toDouble(k);
  }
  /** The real indefinite, the default NaN of a masked invalid operation (SDM vol. 1 §4.8.3.7). */
  setIndefinite(k: number): void {
    this.set80(k, 0xffff, 0xc0000000 | 0, 0);
  }
  /** Quiets a signaling NaN in place (sets the significand's bit 62). */
  quiet(k: number): void {
    this.mhi[k] = (this.mhi[k] as number) | 0x40000000;
  }

  /** Exact: every double is an 80-bit value. */
  setNumber(k: number, d: number): void {
    this.f64[0] = d;
    this.setF64Bits(k, this.u32[1] as number, this.u32[0] as number);
  }

  /** From a binary64 pattern; flags a denormal (DE) in `exc`. */
  setF64Bits(k: number, hi: number, lo: number): void {
    const sign = (hi >>> 16) & 0x8000;
    const e = (hi >>> 20) & 0x7ff;
    const fh = hi & 0xfffff;
    let mh = ((fh << 11) | (lo >>> 21)) | 0;
    let ml = (lo << 11) | 0;
    if (e === 0x7ff) {
      // NaNs keep their payload and quiet bit: a signaling NaN is the consumer's IE.
      this.se[k] = sign | 0x7fff;
      this.mhi[k] = mh | 0x80000000;
      this.mlo[k] = ml;
      this.v[k] = mh === 0 && ml === 0 ? (sign !== 0 ? -Infinity : Infinity) : Number.NaN;
      return;
    }
    let exp: number;
    if (e === 0) {
      if (fh === 0 && lo === 0) {
        this.se[k] = sign;
        this.mhi[k] = 0;
        this.mlo[k] = 0;
        this.v[k] = sign !== 0 ? -0 : 0;
        return;
      }
      this.exc |= DE;
      // Normalise: the 80-bit format has the range to make every binary64 denormal normal.
      const z = mh !== 0 ? Math.clz32(mh) : 32 + Math.clz32(ml);
      if (z >= 32) {
        mh = ml << (z - 32);
        ml = 0;
      } else if (z > 0) {
        mh = (mh << z) | (ml >>> (32 - z));
        ml <<= z;
      }
      exp = 16383 - 1022 - z;
    } else {
      mh |= 0x80000000;
      exp = e - 1023 + 16383;
    }
    this.se[k] = sign | exp;
    this.mhi[k] = mh;
    this.mlo[k] = ml;
    this.f64[0] = 0;
    this.u32[1] = hi;
    this.u32[0] = lo;
    this.v[k] = this.f64[0] as number;
  }

  /** From a binary32 pattern; flags a denormal (DE). */
  setF32Bits(k: number, bits: number): void {
    const sign = (bits >>> 16) & 0x8000;
    const e = (bits >>> 23) & 0xff;
    const f = bits & 0x7fffff;
    if (e === 0xff) {
      const mh = f << 8; // a NaN keeps its quiet bit: a signaling NaN is the consumer's IE
      this.se[k] = sign | 0x7fff;
      this.mhi[k] = mh | 0x80000000;
      this.mlo[k] = 0;
      this.v[k] = f === 0 ? (sign !== 0 ? -Infinity : Infinity) : Number.NaN;
      return;
    }
    if (e === 0 && f !== 0) this.exc |= DE;
    // Every non-NaN binary32 value is a double: go through the exact double path.
    const mag = e === 0 ? f * 2 ** -149 : (f + 0x800000) * 2 ** (e - 150);
    const save = this.exc;
    this.setNumber(k, sign !== 0 ? -mag : mag);
    this.exc = save;
  }

  /** From a signed 64-bit integer (int32 halves): exact. */
  setInt64(k: number, lo: number, hi: number): void {
    if ((hi === 0 && lo >= 0) || (hi === -1 && lo < 0)) {
      this.setNumber(k, lo);
      return;
    }
    const neg = hi < 0;
    let mh = hi;
    let ml = lo;
    if (neg) {
      ml = (~lo + 1) | 0;
      mh = (~hi + (ml === 0 ? 1 : 0)) | 0;
    }
    let z = 0;
    if (mh === 0) {
      // |value| in [2^31, 2^32): the low half moves up
      mh = ml;
      ml = 0;
      z = 32;
    }
    const zz = Math.clz32(mh);
    if (zz > 0) {
      mh = (mh << zz) | (ml >>> (32 - zz));
      ml <<= zz;
    }
    z += zz;
    this.set80(k, (neg ? 0x8000 : 0) | (16383 + 63 - z), mh, ml);
  }

  // ---- rounding ---------------------------------------------------------------------------

  /**
   * Shifts the 64-bit significand (hi, lo) right by s bits, rounding by `rc` (SDM vol. 1 §4.8.4):
   * the kept bits are left in kh/kl (unsigned) and `lost` says whether the result is inexact;
   * `roundedUp` whether the magnitude was incremented.
   */
  private shrRound(hi: number, lo: number, s: number, neg: boolean, rc: number): void {
    hi >>>= 0;
    lo >>>= 0;
    let kh: number;
    let kl: number;
    let round: number;
    let sticky: boolean;
    if (s === 0) {
      kh = hi;
      kl = lo;
      round = 0;
      sticky = false;
    } else if (s < 32) {
      kh = hi >>> s;
      kl = ((lo >>> s) | (hi << (32 - s))) >>> 0;
      round = (lo >>> (s - 1)) & 1;
      sticky = (lo & ((1 << (s - 1)) - 1)) !== 0;
    } else if (s === 32) {
      kh = 0;
      kl = hi;
      round = lo >>> 31;
      sticky = (lo & 0x7fffffff) !== 0;
    } else if (s < 64) {
      kh = 0;
      kl = hi >>> (s - 32);
      round = (hi >>> (s - 33)) & 1;
      sticky = lo !== 0 || (hi & ((1 << (s - 33)) - 1)) !== 0;
    } else if (s === 64) {
      kh = 0;
      kl = 0;
      round = hi >>> 31;
      sticky = (hi & 0x7fffffff) !== 0 || lo !== 0;
    } else {
      kh = 0;
      kl = 0;
      round = 0;
      sticky = hi !== 0 || lo !== 0;
    }
    const inexact = round !== 0 || sticky;
    let up: boolean;
    if (rc === RC_NEAREST) up = round !== 0 && (sticky || (kl & 1) !== 0);
    else if (rc === RC_DOWN) up = neg && inexact;
    else if (rc === RC_UP) up = !neg && inexact;
    else up = false;
    if (up) {
      kl = (kl + 1) >>> 0;
      if (kl === 0) kh = (kh + 1) >>> 0;
    }
    this.kh = kh;
    this.kl = kl;
    this.lost = inexact;
    this.roundedUp = up;
  }

  /** Significand of slot k normalised (integer bit set) into kh/kl; returns the unbiased exponent. */
  private normalised(k: number): number {
    const exp = (this.se[k] as number) & 0x7fff;
    let hi = this.mhi[k] as number;
    let lo = this.mlo[k] as number;
    let e = exp === 0 ? -16382 : exp - 16383;
    const z = hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
    if (z >= 32) {
      hi = lo << (z - 32);
      lo = 0;
    } else if (z > 0) {
      hi = (hi << z) | (lo >>> (32 - z));
      lo <<= z;
    }
    e -= z;
    this.kh = hi >>> 0;
    this.kl = lo >>> 0;
    return e;
  }

  /** Unbiased exponent of slot k (finite, non-zero), as if normalised. */
  exponent(k: number): number {
    return this.normalised(k);
  }
  /** |slot k|'s significand, normalised, rounded to nearest double: in [1, 2]. */
  significand(k: number): number {
    this.normalised(k);
    return (this.kh * TWO32 + this.kl) / 2 ** 63;
  }

  /**
   * FXTRACT's split of slot k (finite, non-zero): returns the unbiased exponent and leaves the
   * normalised significand in slot k with the exponent of 1.0 (exact).
   */
  extractExponent(k: number): number {
    const e = this.normalised(k);
    this.set80(k, ((this.se[k] as number) & 0x8000) | 16383, this.kh | 0, this.kl | 0);
    return e;
  }

  /** 2^n for any n in [-1074, 1023], exactly, from its bit pattern. */
  pow2(n: number): number {
    if (n < -1022) {
      const s = n + 1074; // denormal: a single significand bit
      this.u32[1] = s >= 32 ? 1 << (s - 32) : 0;
      this.u32[0] = s < 32 ? (1 << s) >>> 0 : 0;
    } else {
      this.u32[1] = (n + 1023) << 20;
      this.u32[0] = 0;
    }
    return this.f64[0] as number;
  }

  /**
   * Rounds slot k's finite, non-zero, supported value to a binary format with `p` significand
   * bits and exponent range [emin, emax], by rounding control `rc`. Returns the value as a
   * double (exact for p <= 53), and flags PE/UE/OE in `exc` as a store would (SDM vol. 1 §4.9.1).
   */
  roundTo(k: number, p: number, emin: number, emax: number, rc: number, flag: boolean): number {
    const neg = this.isNeg(k);
    const e = this.normalised(k);
    const mh = this.kh;
    const ml = this.kl;
    // Tininess is detected after rounding (to p bits, unbounded exponent), as the x87 does.
    let tiny = e < emin;
    if (e === emin - 1) {
      this.shrRound(mh, ml, 64 - p, neg, rc);
      if (this.kh * TWO32 + this.kl >= 2 ** p) tiny = false;
    }
    const s = e < emin ? 64 - p + (emin - e) : 64 - p;
    this.shrRound(mh, ml, s, neg, rc);
    const kept = this.kh * TWO32 + this.kl;
    // value = kept * 2^(e - 63 + s); the scale is emin - p + 1 in the tiny case.
    const scale = e < emin ? emin - p + 1 : e - p + 1;
    const top = kept >= 2 ** p ? e + 1 : e; // rounding carried into a new bit
    if (top > emax) {
      if (flag && (this.fcw & OE) === 0) {
        // Unmasked: nothing is stored, and neither PE nor C1 reported (measured).
        this.exc |= OE;
        this.roundedUp = false;
        return 0;
      }
      if (flag) this.exc |= OE | PE;
      const toInf = rc === RC_NEAREST || (rc === RC_UP && !neg) || (rc === RC_DOWN && neg);
      this.roundedUp = toInf;
      const big = toInf ? Infinity : (2 - 2 ** (1 - p)) * 2 ** emax;
      return neg ? -big : big;
    }
    if (flag) {
      // Unmasked, every tiny result is an underflow, and nothing is stored: no PE (measured).
      if (tiny && (this.fcw & UE) === 0) this.exc |= UE;
      else if (this.lost) this.exc |= tiny ? UE | PE : PE;
    }
    const mag = kept * this.pow2(scale); // scale >= emin - p + 1 >= -1074: exact
    return neg ? -mag : mag;
  }

  /** Slot k's value to the nearest double (the cache `v`; NaN for NaNs and unsupported). */
  toDouble(k: number): number {
    const kd = this.kind(k);
    if (kd === K_ZERO) return this.isNeg(k) ? -0 : 0;
    if (kd === K_INF) return this.isNeg(k) ? -Infinity : Infinity;
    if (kd === K_QNAN || kd === K_SNAN || kd === K_UNSUPPORTED) return Number.NaN;
    const save = this.roundedUp;
    const d = this.roundTo(k, 53, -1022, 1023, RC_NEAREST, false);
    this.roundedUp = save;
    return d;
  }

  /**
   * Slot k to a binary64 pattern by the current rounding control, for FST m64: returns the low
   * half, the high half in `outHi`. NaNs keep the top 52 payload bits (an SNaN is quieted and
   * flags IE); unsupported encodings flag IE and give the indefinite.
   */
  outHi = 0;
  toF64Bits(k: number): number {
    const kd = this.kind(k);
    const sign = this.isNeg(k) ? 0x80000000 : 0;
    this.roundedUp = false;
    if (kd === K_QNAN || kd === K_SNAN) {
      if (kd === K_SNAN) this.exc |= IE;
      const hi = this.mhi[k] as number;
      const lo = this.mlo[k] as number;
      this.outHi = (sign | 0x7ff80000 | ((hi >>> 11) & 0xfffff)) | 0;
      return ((hi << 21) | (lo >>> 11)) | 0;
    }
    if (kd === K_UNSUPPORTED) {
      this.exc |= IE;
      this.outHi = 0xfff80000 | 0;
      return 0;
    }
    let d: number;
    if (kd === K_ZERO) d = sign !== 0 ? -0 : 0;
    else if (kd === K_INF) d = sign !== 0 ? -Infinity : Infinity;
    else d = this.roundTo(k, 53, -1022, 1023, this.rc(), true);
    this.f64[0] = d;
    this.outHi = (this.u32[1] as number) | 0;
    return (this.u32[0] as number) | 0;
  }

  /** Slot k to a binary32 pattern by the current rounding control, for FST m32. */
  toF32Bits(k: number): number {
    const kd = this.kind(k);
    const sign = this.isNeg(k) ? 0x80000000 : 0;
    this.roundedUp = false;
    if (kd === K_QNAN || kd === K_SNAN) {
      if (kd === K_SNAN) this.exc |= IE;
      return (sign | 0x7fc00000 | (((this.mhi[k] as number) >>> 8) & 0x3fffff)) | 0;
    }
    if (kd === K_UNSUPPORTED) {
      this.exc |= IE;
      return 0xffc00000 | 0;
    }
    if (kd === K_ZERO) return sign | 0;
    if (kd === K_INF) return (sign | 0x7f800000) | 0;
    const d = this.roundTo(k, 24, -126, 127, this.rc(), true);
    this.f32[0] = d; // exact: d is a binary32 value (or an infinity)
    return (this.u32[0] as number) | 0;
  }

  /**
   * Slot k rounded to an integer by `rc` (FIST, FRNDINT): sets the magnitude in kh/kl and
   * returns false when it does not fit in 64 bits (or is not a finite number).
   */
  private roundInt(k: number, rc: number): boolean {
    const kd = this.kind(k);
    this.roundedUp = false;
    this.lost = false;
    if (kd === K_ZERO) {
      this.kh = 0;
      this.kl = 0;
      return true;
    }
    if (kd !== K_NORMAL && kd !== K_DENORMAL) return false;
    const e = this.normalised(k);
    if (e > 63) return false;
    this.shrRound(this.kh, this.kl, e < 0 ? 64 + Math.min(-e, 2) - 1 : 63 - e, this.isNeg(k), rc);
    return true;
  }

  /**
   * FIST/FISTP (SDM vol. 2): slot k to a signed integer of `size` bytes by the rounding control.
   * Out of range, NaN or infinity flags IE and gives the integer indefinite (the most negative
   * value). Returns the low half; for size 8 the high half is in `outHi`.
   */
  toInt(k: number, size: number): number {
    const ok = this.roundInt(k, this.rc());
    const neg = this.isNeg(k);
    let fits = ok;
    if (ok) {
      const kh = this.kh;
      const kl = this.kl;
      if (size === 8) fits = kh < 0x80000000 || (neg && kh === 0x80000000 && kl === 0);
      else {
        const lim = size === 4 ? 0x80000000 : 0x8000;
        fits = kh === 0 && (kl < lim || (neg && kl === lim));
      }
    }
    if (!fits) {
      this.exc |= IE;
      this.roundedUp = false;
      this.outHi = size === 8 ? 0x80000000 | 0 : 0;
      return size === 8 ? 0 : size === 4 ? 0x80000000 | 0 : 0x8000;
    }
    if (this.lost) this.exc |= PE;
    let lo = this.kl | 0;
    let hi = this.kh | 0;
    if (neg) {
      lo = (~lo + 1) | 0;
      hi = (~hi + (lo === 0 ? 1 : 0)) | 0;
    }
    this.outHi = hi;
    return size === 2 ? lo & 0xffff : lo;
  }

  /** FRNDINT on slot k in place: exact, by the rounding control; PE when it changed the value. */
  roundToIntegral(k: number): void {
    const kd = this.kind(k);
    if (kd !== K_NORMAL && kd !== K_DENORMAL) return;
    const e = this.normalised(k);
    if (e >= 63) return; // no fraction bits
    const neg = this.isNeg(k);
    this.roundInt(k, this.rc());
    if (this.lost) this.exc |= PE;
    const kh = this.kh;
    const kl = this.kl;
    if (kh === 0 && kl === 0) {
      this.set80(k, neg ? 0x8000 : 0, 0, 0);
      return;
    }
    const z = kh !== 0 ? Math.clz32(kh) : 32 + Math.clz32(kl);
    let hi: number;
    let lo: number;
    if (z >= 32) {
      hi = kl << (z - 32);
      lo = 0;
    } else if (z > 0) {
      hi = (kh << z) | (kl >>> (32 - z));
      lo = kl << z;
    } else {
      hi = kh;
      lo = kl;
    }
    this.set80(k, (neg ? 0x8000 : 0) | (16383 + 63 - z), hi | 0, lo | 0);
  }

  /**
   * FSCALE's exact core: multiplies slot k (finite, non-zero) by 2^n on the 80-bit pattern,
   * rounding only when the result is an 80-bit denormal; overflow and underflow as the
   * masked responses (SDM vol. 1 §4.9.1.4-5).
   */
  scale80(k: number, n: number): void {
    const neg = this.isNeg(k);
    const e = this.normalised(k) + n;
    const sign = neg ? 0x8000 : 0;
    if (e > 16383) {
      this.exc |= OE | PE;
      const rc = this.rc();
      const toInf = rc === RC_NEAREST || (rc === RC_UP && !neg) || (rc === RC_DOWN && neg);
      this.roundedUp = toInf;
      if (toInf) this.set80(k, sign | 0x7fff, 0x80000000 | 0, 0);
      else this.set80(k, sign | 0x7ffe, -1, -1);
      return;
    }
    if (e >= -16382) {
      this.set80(k, sign | (e + 16383), this.kh | 0, this.kl | 0);
      return;
    }
    this.shrRound(this.kh, this.kl, Math.min(-16382 - e, 66), neg, this.rc());
    if (this.lost) this.exc |= UE | PE;
    // A carry into bit 63 makes it the smallest normal.
    this.set80(k, sign | (this.kh >= 0x80000000 ? 1 : 0), this.kh | 0, this.kl | 0);
  }

  /** Adjacent doubles, for directed rounding of a double result. */
  nextUp(d: number): number {
    if (d === 0) return 5e-324;
    this.f64[0] = d;
    let lo = this.u32[0] as number;
    let hi = this.u32[1] as number;
    if (d > 0) {
      lo = (lo + 1) >>> 0;
      if (lo === 0) hi++;
    } else {
      if (lo === 0) hi--;
      lo = (lo - 1) >>> 0;
    }
    this.u32[0] = lo;
    this.u32[1] = hi;
    return this.f64[0] as number;
  }
  nextDown(d: number): number {
    return -this.nextUp(-d);
  }
  /** floor(log2|d|) for finite non-zero d, from the exponent field (denormals included). */
  ilogb(d: number): number {
    this.f64[0] = d;
    const e = ((this.u32[1] as number) >>> 20) & 0x7ff;
    if (e !== 0) return e - 1023;
    this.f64[0] = d * 2 ** 64;
    return (((this.u32[1] as number) >>> 20) & 0x7ff) - 1023 - 64;
  }
  /** d * 2^n exactly when the result is a normal double (two steps so 2^n itself stays in range). */
  ldexp(d: number, n: number): number {
    if (n > 1000) return d * 2 ** 1000 * 2 ** (n - 1000);
    if (n < -1000) return d * 2 ** -1000 * 2 ** (n + 1000);
    return d * 2 ** n;
  }
}
