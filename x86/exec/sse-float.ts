/**
 * SSE/SSE2 floating point: arithmetic, min/max, compares, COMIS/UCOMIS and conversions, with
 * MXCSR rounding control, exception flags, masks (#XM), DAZ and FTZ (SDM vol. 1 §10.2.3, §11.5,
 * §4.8-4.9; vol. 2, each instruction's page).
 *
 * How results are rounded. Every operation is reduced to a positive double `d` and the sign `e`
 * of the error (exact - d), then rounded once to the destination format by `round`, in integer
 * arithmetic on the 53-bit significand, under the MXCSR rounding mode:
 *  - add/sub: TwoSum gives the exact error of a + b; a sum that overflows a double is redone on
 *    operands divided by 4 (exact at that magnitude).
 *  - mul/div/sqrt: operands are first split into significand [1,2) and exponent, so nothing
 *    overflows or underflows; the product's error comes from Dekker's TwoProduct, the quotient's
 *    and root's from the (exactly computable) remainder a - q*b and a - q*q.
 * Knowing d = RN53(x) and sign(x - d) fixes x's position relative to every 24- and 53-bit
 * boundary and midpoint, so single-precision results are correctly rounded in every mode (no
 * double-rounding error), and so are doubles, including subnormal results and the overflow
 * thresholds of the directed modes.
 *
 * Exceptions: IE/DE/ZE are pre-computation and OE/UE/PE post-computation flags. If any
 * unmasked exception occurs the destination is left unchanged and #XM (vector 19) is raised
 * after setting the flags: only the pre-computation flags when one of those is unmasked
 * (SDM vol. 1 §11.5.2.1). This CPU has no CR4.OSXMMEXCPT, so it always raises #XM (with
 * OSXMMEXCPT clear real hardware raises #UD instead); the driver owns CR4.
 * Underflow: tininess is detected after rounding (with an unbounded exponent); with UM masked UE
 * is set only for tiny and inexact results; FTZ (UM masked) flushes tiny results to a signed zero
 * with UE and PE. DAZ turns denormal inputs into signed zeros without setting DE.
 *
 * NaNs (SDM vol. 1 table 4-7): an SNaN input sets IE; the result is the first source operand's
 * NaN if it is one, else the second's, quieted. Invalid operations give the default NaN
 * (negative QNaN: 0xFFC00000, 0xFFF80000_00000000). NaNs are handled on raw bits only: a JS
 * double can change a NaN's payload (quieting on float->double conversion), so no NaN ever
 * passes through a Float32Array/Float64Array here.
 *
 * The scratch state (`X`, `CV`) is transient: set at the start of a handler and consumed before
 * it returns, never carrying anything between instructions.
 */
import type { Cpu } from '../cpu.js';
import type { Insn } from '../decoder.js';
import { Fault, XM } from '../fault.js';
import { ARITH, CF, PF, ZF } from '../isa/types.js';
import { ea, lowHalf } from './operands.js';
import { VA, VB, VR, loadW, loadX, storeX } from './sse.js';

// MXCSR bits.
const IE = 0x1;
const DE = 0x2;
const ZE = 0x4;
const OE = 0x8;
const UE = 0x10;
const PE = 0x20;
const DAZ = 0x40;
const UM = 0x800;
const OM = 0x400;
const FTZ = 0x8000;

const RC_NEAREST = 0;
const RC_DOWN = 1;
const RC_UP = 2;
const RC_ZERO = 3;

const DEFAULT_NAN32 = 0xffc00000 | 0;
const DEFAULT_NAN64_HI = 0xfff80000 | 0;
const TWO32 = 4294967296;
const TWO52 = 4503599627370496;
const TWO53 = 9007199254740992;
const MIN_NORMAL64 = 2.2250738585072014e-308;

/** Per-instruction exception and mode state (transient, see the module comment). */
const X = { pre: 0, post: 0, rc: 0, daz: false, ftz: false, um: true, om: true, inexact: false, exp: 0, hi: 0, imm: 0, den: false, bad: false };

/** Bit-moving views (only ever holding non-NaN values as floats). */
const CV = (() => {
  const buf = new ArrayBuffer(8);
  return { i: new Int32Array(buf), f: new Float32Array(buf), d: new Float64Array(buf) };
})();

function begin(c: Cpu): void {
  const m = c.mxcsr;
  X.pre = 0;
  X.post = 0;
  X.rc = (m >> 13) & 3;
  X.daz = (m & DAZ) !== 0;
  X.ftz = (m & FTZ) !== 0;
  X.um = (m & UM) !== 0;
  X.om = (m & OM) !== 0;
}

/** Records the flags; raises #XM (leaving the destination alone) when one is unmasked. */
function commit(c: Cpu): void {
  const unmasked = ~(c.mxcsr >> 7) & 0x3f;
  if ((X.pre & unmasked) !== 0) {
    c.mxcsr |= X.pre;
    throw new Fault(XM);
  }
  const all = X.pre | X.post;
  c.mxcsr |= all;
  if ((all & unmasked) !== 0) throw new Fault(XM);
}

// ---- bits <-> values ------------------------------------------------------------------------

const isNaN32 = (b: number): boolean => (b & 0x7fffffff) > 0x7f800000;
const isSNaN32 = (b: number): boolean => isNaN32(b) && (b & 0x400000) === 0;
const isNaN64 = (hi: number, lo: number): boolean => (hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0xfffff) | lo) !== 0;
const isSNaN64 = (hi: number, lo: number): boolean => isNaN64(hi, lo) && (hi & 0x80000) === 0;

/**
 * A float's value, with DAZ applied; `de`: this instruction reports denormal operands (noted in
 * X.den; `elem` turns it into DE unless the element raised IE or ZE, which take priority: on the
 * real CPU denormal/0 sets only ZE and sqrt(-denormal) only IE).
 */
function val32(b: number, de: boolean): number {
  if ((b & 0x7f800000) === 0 && (b & 0x7fffff) !== 0) {
    if (X.daz) return b < 0 ? -0 : 0;
    if (de) X.den = true;
  }
  CV.i[0] = b;
  return CV.f[0] as number;
}
function val64(lo: number, hi: number, de: boolean): number {
  if ((hi & 0x7ff00000) === 0 && ((hi & 0xfffff) | lo) !== 0) {
    if (X.daz) return hi < 0 ? -0 : 0;
    if (de) X.den = true;
  }
  CV.i[0] = lo;
  CV.i[1] = hi;
  return CV.d[0] as number;
}
/** Bits of a value representable as a float (or a default NaN for NaN). */
function bits32(v: number): number {
  if (v !== v) return DEFAULT_NAN32;
  CV.f[0] = v;
  return CV.i[0] as number;
}
/** Low dword of a double's bits (high dword in X.hi); NaN gives the default NaN. */
function bits64(v: number): number {
  if (v !== v) {
    X.hi = DEFAULT_NAN64_HI;
    return 0;
  }
  CV.d[0] = v;
  X.hi = CV.i[1] as number;
  return CV.i[0] as number;
}

/** NaN result of a two-operand op with at least one NaN: the first NaN, quieted (IE on SNaN). */
function nan32(a: number, b: number): number {
  if (isSNaN32(a) || isSNaN32(b)) X.pre |= IE;
  return (isNaN32(a) ? a : b) | 0x400000;
}
function nan64(alo: number, ahi: number, blo: number, bhi: number): number {
  if (isSNaN64(ahi, alo) || isSNaN64(bhi, blo)) X.pre |= IE;
  if (isNaN64(ahi, alo)) {
    X.hi = ahi | 0x80000;
    return alo;
  }
  X.hi = bhi | 0x80000;
  return blo;
}

// ---- correctly rounded results ----------------------------------------------------------------

/** Splits v > 0 (finite) into a significand in [1,2), returned, and its exponent in X.exp. */
function decompose(v: number): number {
  let adj = 0;
  if (v < MIN_NORMAL64) {
    v *= 18446744073709551616; // 2^64: normalises a subnormal exactly
    adj = 64;
  }
  CV.d[0] = v;
  const hi = CV.i[1] as number;
  X.exp = ((hi >>> 20) & 0x7ff) - 1023 - adj;
  CV.i[1] = (hi & 0xfffff) | 0x3ff00000;
  return CV.d[0] as number;
}

/**
 * Rounds the integer significand M (< 2^54) with sticky sign e to a multiple of 2^s, in the
 * given magnitude mode (0 nearest-even, 1 toward zero, 2 away from zero); returns M / 2^s rounded
 * and sets X.inexact.
 */
function rndInt(M: number, e: number, s: number, mode: number): number {
  let fl: number;
  let cmp: number;
  let nz: boolean;
  if (s > 60) {
    fl = 0;
    cmp = -1;
    nz = true;
  } else if (s <= 0) {
    fl = M;
    cmp = -1;
    nz = false;
  } else {
    const unit = 2 ** s;
    fl = Math.floor(M / unit);
    const rem = M - fl * unit;
    nz = rem !== 0;
    const half = unit / 2;
    cmp = rem > half ? 1 : rem < half ? -1 : 0;
  }
  X.inexact = nz || e !== 0;
  if (mode === 0) {
    if (cmp !== 0) return cmp > 0 ? fl + 1 : fl;
    return e > 0 ? fl + 1 : e < 0 ? fl : fl % 2 === 1 ? fl + 1 : fl;
  }
  if (mode === 1) return !nz && e < 0 ? fl - 1 : fl;
  return nz || e > 0 ? fl + 1 : fl;
}

const PREC = [24, 53] as const;
const EMIN = [-126, -1022] as const;
const EMAX = [127, 1023] as const;
const MAXV = [3.4028234663852886e38, Number.MAX_VALUE] as const;

/**
 * The value (sign applied) of x = ±(d + e·ε)·2^eoff rounded to single (fmt 0) or double
 * (fmt 1) under MXCSR.RC, setting OE/UE/PE. d > 0 is finite; e is the sign of |x| - d·2^eoff.
 */
function round(neg: boolean, d: number, e: number, eoff: number, fmt: 0 | 1): number {
  let M = decompose(d) * TWO52;
  let E = X.exp + eoff;
  // Just below a power of two the binade below (finer spacing) holds x: represent d that way.
  if (M === TWO52 && e < 0) {
    M = TWO53;
    E -= 1;
  }
  const rc = X.rc;
  const mode = rc === RC_NEAREST ? 0 : rc === RC_ZERO ? 1 : (rc === RC_DOWN) === neg ? 2 : 1;
  const p = PREC[fmt];
  const s = 53 - p;
  const R = rndInt(M, e, s, mode);
  // Inexact at the format's precision with an unbounded exponent: what an unmasked underflow
  // reports (the handler gets the scaled result; measured: UE without PE when that is exact).
  const inexactUnbounded = X.inexact;
  const Eu = R * 2 ** s >= TWO53 ? E + 1 : E;
  let v: number;
  if (Eu > EMAX[fmt]) {
    // Masked: the result is ±max or ±inf, always inexact. Unmasked: like underflow, the handler
    // would get the scaled result, so PE only if that is inexact (measured: OE alone otherwise).
    X.post |= OE | (X.om || inexactUnbounded ? PE : 0);
    v = mode === 1 ? MAXV[fmt] : Infinity;
  } else if (Eu < EMIN[fmt]) {
    // Tiny: round again at the subnormal precision.
    const R2 = rndInt(M, e, s + (EMIN[fmt] - E), mode);
    v = R2 * 2 ** (1 - p + EMIN[fmt]);
    if (!X.um) X.post |= UE | (inexactUnbounded ? PE : 0);
    else if (X.ftz) {
      X.post |= UE | PE;
      v = 0;
    } else if (X.inexact) X.post |= UE | PE;
  } else {
    v = R * 2 ** (s + E - 52);
    if (X.inexact) X.post |= PE;
  }
  return neg ? -v : v;
}

/** Rounds s + err (s = RN(s + err), both exact doubles) to the format. */
function roundSum(s: number, err: number, eoff: number, fmt: 0 | 1): number {
  const neg = s < 0;
  const e = err === 0 ? 0 : (err > 0) !== neg ? 1 : -1;
  return round(neg, Math.abs(s), e, eoff, fmt);
}

/** Error of a*b as a double (Dekker's TwoProduct with Veltkamp splitting; |a|,|b| < 2^900). */
function productError(a: number, b: number, p: number): number {
  const ca = 134217729 * a;
  const ah = ca - (ca - a);
  const al = a - ah;
  const cb = 134217729 * b;
  const bh = cb - (cb - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}

/** An invalid operation (IE, default NaN) or a zero divide (ZE) for the current element. */
function fail(flag: number): number {
  X.pre |= flag;
  X.bad = true;
  return NaN;
}

/** Starts an element: no denormal operand seen, no IE/ZE yet. */
function elemStart(): void {
  X.den = false;
  X.bad = false;
}
/** Ends an element: a denormal operand signals DE unless IE or ZE was raised. */
function elemEnd<T>(v: T): T {
  if (X.den && !X.bad) X.pre |= DE;
  return v;
}

const enum Op {
  Add = 0,
  Sub = 1,
  Mul = 2,
  Div = 3,
}

/** x op y for non-NaN operands; NaN (after setting IE) for an invalid operation. */
function arith(op: Op, x: number, y: number, fmt: 0 | 1): number {
  if (op === Op.Sub) y = -y;
  if (op <= Op.Sub) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      if (x === -y) {
        return fail(IE);
      }
      return x + y;
    }
    let s = x + y;
    let eoff = 0;
    if (!Number.isFinite(s)) {
      x /= 4;
      y /= 4;
      s = x + y;
      eoff = 2;
    }
    if (s === 0) {
      // An exact zero sum is +0 unless both operands are -0, except in round-down, where it is
      // -0 unless both are +0 (IEEE 754-2008 §6.3, which SSE follows).
      if (X.rc === RC_DOWN) return Object.is(x, 0) && Object.is(y, 0) ? 0 : -0;
      return x + y;
    }
    const bb = s - x;
    const err = x - (s - bb) + (y - bb);
    return roundSum(s, err, eoff, fmt);
  }
  if (op === Op.Mul) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      if (x === 0 || y === 0) {
        return fail(IE);
      }
      return x * y;
    }
    if (x === 0 || y === 0) return x * y;
    const neg = x < 0 !== y < 0;
    const mx = decompose(Math.abs(x));
    const ex = X.exp;
    const my = decompose(Math.abs(y));
    const p = mx * my;
    const err = productError(mx, my, p);
    return round(neg, p, Math.sign(err), ex + X.exp, fmt);
  }
  // Division.
  const xi = !Number.isFinite(x);
  const yi = !Number.isFinite(y);
  if ((xi && yi) || (x === 0 && y === 0)) {
    return fail(IE);
  }
  if (y === 0 && !xi) {
    fail(ZE);
    return x / y;
  }
  if (xi || yi || x === 0) return x / y;
  const neg = x < 0 !== y < 0;
  const mx = decompose(Math.abs(x));
  const ex = X.exp;
  const my = decompose(Math.abs(y));
  const q = mx / my;
  const ph = q * my;
  const rem = mx - ph - productError(q, my, ph);
  return round(neg, q, Math.sign(rem), ex - X.exp, fmt);
}

function sqrtVal(x: number, fmt: 0 | 1): number {
  if (x === 0 || x === Infinity) return x;
  if (x < 0) {
    return fail(IE);
  }
  let m = decompose(x);
  let ex = X.exp;
  if ((ex & 1) !== 0) {
    m *= 2;
    ex -= 1;
  }
  const q = Math.sqrt(m);
  const ph = q * q;
  const rem = m - ph - productError(q, q, ph);
  return round(false, q, Math.sign(rem), ex / 2, fmt);
}

// ---- element operations on bits ---------------------------------------------------------------

type Elem32 = (a: number, b: number) => number;
/** Doubles: (alo, ahi, blo, bhi) -> low dword, high dword in X.hi. */
type Elem64 = (alo: number, ahi: number, blo: number, bhi: number) => number;

const arith32 = (op: Op): Elem32 => (a, b) => {
  if (isNaN32(a) || isNaN32(b)) return nan32(a, b);
  return bits32(arith(op, val32(a, true), val32(b, true), 0));
};
const arith64 = (op: Op): Elem64 => (alo, ahi, blo, bhi) => {
  if (isNaN64(ahi, alo) || isNaN64(bhi, blo)) return nan64(alo, ahi, blo, bhi);
  return bits64(arith(op, val64(alo, ahi, true), val64(blo, bhi, true), 1));
};
const sqrt32: Elem32 = (_a, b) => {
  if (isNaN32(b)) return nan32(b, b);
  return bits32(sqrtVal(val32(b, true), 0));
};
const sqrt64: Elem64 = (_alo, _ahi, blo, bhi) => {
  if (isNaN64(bhi, blo)) return nan64(blo, bhi, blo, bhi);
  return bits64(sqrtVal(val64(blo, bhi, true), 1));
};

/**
 * MIN/MAX (SDM vol. 2 MINPS/MAXPS): if either operand is a NaN (IE, QNaN included) or both are
 * zeros of any sign, the result is the second (source) operand unchanged; otherwise the smaller
 * (larger) one. With DAZ a denormal operand is compared, and returned, as a signed zero.
 */
const minmax32 = (max: boolean): Elem32 => (a, b) => {
  if (isNaN32(a) || isNaN32(b)) {
    X.pre |= IE;
    // The source as read: with DAZ a denormal comes back as a signed zero (measured).
    return X.daz && (b & 0x7f800000) === 0 ? b & 0x80000000 : b;
  }
  const x = val32(a, true);
  const y = val32(b, true);
  if (x === 0 && y === 0) return bits32(y);
  return (max ? x > y : x < y) ? bits32(x) : bits32(y);
};
const minmax64 = (max: boolean): Elem64 => (alo, ahi, blo, bhi) => {
  if (isNaN64(ahi, alo) || isNaN64(bhi, blo)) {
    X.pre |= IE;
    // The source as read: with DAZ a denormal comes back as a signed zero (measured).
    if (X.daz && (bhi & 0x7ff00000) === 0) {
      X.hi = bhi & 0x80000000;
      return 0;
    }
    X.hi = bhi;
    return blo;
  }
  const x = val64(alo, ahi, true);
  const y = val64(blo, bhi, true);
  if (x === 0 && y === 0) return bits64(y);
  return (max ? x > y : x < y) ? bits64(x) : bits64(y);
};

/**
 * CMPPS/CMPSS/CMPPD/CMPSD predicate imm&7 (EQ LT LE UNORD NEQ NLT NLE ORD) on values x, y with
 * `un` = unordered. IE for an SNaN, and for any NaN with the signalling predicates LT LE NLT NLE.
 */
function cmpPred(x: number, y: number, un: boolean, snan: boolean): boolean {
  const p = X.imm & 7;
  if (snan || (un && (p & 3) !== 0 && (p & 3) !== 3)) X.pre |= IE;
  switch (p) {
    case 0:
      return !un && x === y;
    case 1:
      return !un && x < y;
    case 2:
      return !un && x <= y;
    case 3:
      return un;
    case 4:
      return un || x !== y;
    case 5:
      return un || !(x < y);
    case 6:
      return un || !(x <= y);
    default:
      return !un;
  }
}
const cmp32: Elem32 = (a, b) => {
  const un = isNaN32(a) || isNaN32(b);
  if (un) return cmpPred(0, 0, true, isSNaN32(a) || isSNaN32(b)) ? -1 : 0;
  return cmpPred(val32(a, true), val32(b, true), false, false) ? -1 : 0;
};
const cmp64: Elem64 = (alo, ahi, blo, bhi) => {
  const un = isNaN64(ahi, alo) || isNaN64(bhi, blo);
  const t = un ? cmpPred(0, 0, true, isSNaN64(ahi, alo) || isSNaN64(bhi, blo)) : cmpPred(val64(alo, ahi, true), val64(blo, bhi, true), false, false);
  X.hi = t ? -1 : 0;
  return X.hi;
};

// ---- handlers ---------------------------------------------------------------------------------

/** op xmm, xmm/m128 (packed, aligned) or xmm, xmm/m32 (scalar: lane 0, the rest kept). */
function run32(c: Cpu, i: Insn, fn: Elem32, scalar: boolean): void {
  begin(c);
  X.imm = i.imm;
  loadX(c, i.reg, VA.d);
  loadW(c, i, VB.d, scalar ? 4 : 16, true);
  VR.d.set(VA.d);
  const n = scalar ? 1 : 4;
  for (let k = 0; k < n; k++) {
    elemStart();
    VR.d[k] = elemEnd(fn(VA.d[k] as number, VB.d[k] as number));
  }
  commit(c);
  storeX(c, i.reg, VR.d);
}
function run64(c: Cpu, i: Insn, fn: Elem64, scalar: boolean): void {
  begin(c);
  X.imm = i.imm;
  loadX(c, i.reg, VA.d);
  loadW(c, i, VB.d, scalar ? 8 : 16, true);
  VR.d.set(VA.d);
  const n = scalar ? 2 : 4;
  for (let k = 0; k < n; k += 2) {
    elemStart();
    VR.d[k] = elemEnd(fn(VA.d[k] as number, VA.d[k + 1] as number, VB.d[k] as number, VB.d[k + 1] as number));
    VR.d[k + 1] = X.hi;
  }
  commit(c);
  storeX(c, i.reg, VR.d);
}

export type FpKind = 'add' | 'sub' | 'mul' | 'div' | 'min' | 'max' | 'sqrt' | 'cmp';
const E32: Readonly<Record<FpKind, Elem32>> = {
  add: arith32(Op.Add), sub: arith32(Op.Sub), mul: arith32(Op.Mul), div: arith32(Op.Div),
  min: minmax32(false), max: minmax32(true), sqrt: sqrt32, cmp: cmp32,
};
const E64: Readonly<Record<FpKind, Elem64>> = {
  add: arith64(Op.Add), sub: arith64(Op.Sub), mul: arith64(Op.Mul), div: arith64(Op.Div),
  min: minmax64(false), max: minmax64(true), sqrt: sqrt64, cmp: cmp64,
};

/** The handler for `kind` in one of the four forms ps, ss, pd, sd. */
export function fpHandler(kind: FpKind, form: 'ps' | 'ss' | 'pd' | 'sd'): (c: Cpu, i: Insn) => void {
  const f32 = E32[kind];
  const f64 = E64[kind];
  switch (form) {
    case 'ps':
      return (c, i) => run32(c, i, f32, false);
    case 'ss':
      return (c, i) => run32(c, i, f32, true);
    case 'pd':
      return (c, i) => run64(c, i, f64, false);
    default:
      return (c, i) => run64(c, i, f64, true);
  }
}

/**
 * COMISS/UCOMISS/COMISD/UCOMISD: ZF PF CF = 111 unordered, 000 greater, 001 less, 100 equal;
 * OF SF AF cleared. COMIS signals IE on any NaN, UCOMIS only on an SNaN.
 */
export function comis(c: Cpu, i: Insn, dbl: boolean, quietNaNsSignal: boolean): void {
  begin(c);
  const o = i.reg << 2;
  loadW(c, i, VB.d, dbl ? 8 : 4, false);
  let un: boolean;
  let snan: boolean;
  elemStart();
  let x = 0;
  let y = 0;
  if (dbl) {
    const alo = c.xmm[o] as number;
    const ahi = c.xmm[o + 1] as number;
    const blo = VB.d[0] as number;
    const bhi = VB.d[1] as number;
    un = isNaN64(ahi, alo) || isNaN64(bhi, blo);
    snan = isSNaN64(ahi, alo) || isSNaN64(bhi, blo);
    if (!un) {
      x = val64(alo, ahi, true);
      y = val64(blo, bhi, true);
    }
  } else {
    const a = c.xmm[o] as number;
    const b = VB.d[0] as number;
    un = isNaN32(a) || isNaN32(b);
    snan = isSNaN32(a) || isSNaN32(b);
    if (!un) {
      x = val32(a, true);
      y = val32(b, true);
    }
  }
  if (snan || (un && quietNaNsSignal)) X.pre |= IE;
  elemEnd(0);
  commit(c);
  c.setArithFlags(un ? ZF | PF | CF : x < y ? CF : x > y ? 0 : ZF);
}

// ---- conversions ------------------------------------------------------------------------------

/**
 * Rounds x (a non-NaN double) to an integer of 32 or 64 bits, in MXCSR.RC or truncating; out of
 * range, infinite (and NaN, handled by callers) gives the integer indefinite value (only the
 * sign bit set) with IE. Returns the low dword, high dword in X.hi.
 */
function toInt(x: number, is64: boolean, truncate: boolean): number {
  let r: number;
  const rc = truncate ? RC_ZERO : X.rc;
  if (rc === RC_NEAREST) {
    const fl = Math.floor(x);
    const diff = x - fl;
    r = diff > 0.5 ? fl + 1 : diff < 0.5 ? fl : fl % 2 === 0 ? fl : fl + 1;
  } else if (rc === RC_DOWN) r = Math.floor(x);
  else if (rc === RC_UP) r = Math.ceil(x);
  else r = Math.trunc(x);
  const ok = is64 ? r >= -9223372036854775808 && r < 9223372036854775808 : r >= -2147483648 && r <= 2147483647;
  if (!ok) return indefinite(is64);
  if (r !== x) X.post |= PE;
  X.hi = is64 ? Math.floor(r / TWO32) | 0 : 0;
  return lowHalf(r) | 0;
}
function indefinite(is64: boolean): number {
  X.pre |= IE;
  X.hi = is64 ? 0x80000000 | 0 : 0;
  return is64 ? 0 : 0x80000000 | 0;
}

/** CVTSS2SI/CVTTSS2SI/CVTSD2SI/CVTTSD2SI Gy, Wss/Wsd (REX.W: 64-bit result). */
export function cvtToSi(c: Cpu, i: Insn, dbl: boolean, truncate: boolean): void {
  begin(c);
  const is64 = (i.rex & 8) !== 0;
  loadW(c, i, VB.d, dbl ? 8 : 4, false);
  const lo = VB.d[0] as number;
  const hi = VB.d[1] as number;
  let r: number;
  if (dbl ? isNaN64(hi, lo) : isNaN32(lo)) r = indefinite(is64);
  else r = toInt(dbl ? val64(lo, hi, false) : val32(lo, false), is64, truncate);
  commit(c);
  if (is64) c.setReg64(i.reg, r, X.hi);
  else c.setReg32(i.reg, r);
}

/** The signed integer in lo:hi (64 bits, or lo alone) rounded to the format. */
function intToFloat(lo: number, hi: number, is64: boolean, fmt: 0 | 1): number {
  if (!is64) return lo === 0 ? 0 : round(lo < 0, Math.abs(lo), 0, 0, fmt);
  const a = hi * TWO32;
  const b = lo >>> 0;
  const s = a + b;
  if (s === 0) return 0;
  const bb = s - a;
  const err = a - (s - bb) + (b - bb);
  return roundSum(s, err, 0, fmt);
}

/** CVTSI2SS/CVTSI2SD Vss/Vsd, Ey: the low element replaced, the rest kept. */
export function cvtSiTo(c: Cpu, i: Insn, dbl: boolean): void {
  begin(c);
  const is64 = (i.rex & 8) !== 0;
  let lo: number;
  let hi = 0;
  if (i.rm >= 0) {
    lo = c.reg64lo(i.rm);
    hi = c.reg64hi(i.rm);
  } else {
    const la = ea(c, i);
    lo = c.read32(la);
    if (is64) hi = c.read32(la + 4);
  }
  const v = intToFloat(lo, hi, is64, dbl ? 1 : 0);
  commit(c);
  const o = i.reg << 2;
  if (dbl) {
    c.xmm[o] = bits64(v);
    c.xmm[o + 1] = X.hi;
  } else c.xmm[o] = bits32(v);
}

/** A float (bits) widened to a double: exact; SNaN quieted with IE; DE on a denormal. */
function f32to64(b: number): number {
  if (isNaN32(b)) {
    if (isSNaN32(b)) X.pre |= IE;
    // Sign and payload move to the top of the double's fraction; the quiet bit is set.
    X.hi = (b & 0x80000000) | 0x7ff80000 | ((b & 0x3fffff) >>> 3);
    return (b & 7) << 29;
  }
  elemStart();
  return elemEnd(bits64(val32(b, true)));
}

/** A double (bits) narrowed to a float under MXCSR.RC; NaNs keep sign and the top payload. */
function f64to32(lo: number, hi: number): number {
  if (isNaN64(hi, lo)) {
    if (isSNaN64(hi, lo)) X.pre |= IE;
    return (hi & 0x80000000) | 0x7fc00000 | ((hi & 0x7ffff) << 3) | (lo >>> 29);
  }
  elemStart();
  const x = val64(lo, hi, true);
  if (x === 0 || !Number.isFinite(x)) return elemEnd(bits32(x));
  return elemEnd(bits32(round(x < 0, Math.abs(x), 0, 0, 0)));
}

export type CvtKind = 'ss2sd' | 'sd2ss' | 'ps2pd' | 'pd2ps' | 'dq2ps' | 'ps2dq' | 'tps2dq' | 'dq2pd' | 'pd2dq' | 'tpd2dq';

/** The float<->float and packed integer<->float conversions (0F 5A, 0F 5B, 0F E6 families). */
export function cvt(c: Cpu, i: Insn, kind: CvtKind): void {
  begin(c);
  const narrowSrc = kind === 'ps2pd' || kind === 'dq2pd';
  const srcBytes = kind === 'ss2sd' ? 4 : kind === 'sd2ss' || narrowSrc ? 8 : 16;
  loadX(c, i.reg, VA.d);
  loadW(c, i, VB.d, srcBytes, true);
  const s = VB.d;
  const r = VR.d;
  r.set(VA.d);
  switch (kind) {
    case 'ss2sd':
      r[0] = f32to64(s[0] as number);
      r[1] = X.hi;
      break;
    case 'sd2ss':
      r[0] = f64to32(s[0] as number, s[1] as number);
      break;
    case 'ps2pd': {
      const b0 = s[0] as number;
      const b1 = s[1] as number;
      r[0] = f32to64(b0);
      r[1] = X.hi;
      r[2] = f32to64(b1);
      r[3] = X.hi;
      break;
    }
    case 'pd2ps':
      r[0] = f64to32(s[0] as number, s[1] as number);
      r[1] = f64to32(s[2] as number, s[3] as number);
      r[2] = 0;
      r[3] = 0;
      break;
    case 'dq2ps':
      for (let k = 0; k < 4; k++) r[k] = bits32(intToFloat(s[k] as number, 0, false, 0));
      break;
    case 'ps2dq':
    case 'tps2dq':
      for (let k = 0; k < 4; k++) {
        const b = s[k] as number;
        r[k] = isNaN32(b) ? indefinite(false) : toInt(val32(b, false), false, kind === 'tps2dq');
      }
      break;
    case 'dq2pd': {
      const d0 = s[0] as number;
      const d1 = s[1] as number;
      r[0] = bits64(d0);
      r[1] = X.hi;
      r[2] = bits64(d1);
      r[3] = X.hi;
      break;
    }
    default: {
      const t = kind === 'tpd2dq';
      for (let k = 0; k < 2; k++) {
        const lo = s[2 * k] as number;
        const hi = s[2 * k + 1] as number;
        r[k] = isNaN64(hi, lo) ? indefinite(false) : toInt(val64(lo, hi, false), false, t);
      }
      r[2] = 0;
      r[3] = 0;
    }
  }
  commit(c);
  storeX(c, i.reg, r);
}

// ---- element operations for the SSE3/SSE4.1 float instructions (exec/sse3.ts, exec/sse4.ts) ----

/**
 * The correctly rounded add/sub/mul elements and the per-instruction MXCSR bracket, for
 * instructions built from them (ADDSUBPS, HADDPD, DPPS...): `begin`, then per element
 * `elemStart`, the op, `elemEnd`; `commit` before the destination is written. 64-bit elements
 * return the low dword, the high dword from `hi()`.
 */
export const fpElem = {
  begin,
  commit,
  elemStart,
  elemEnd,
  add32: E32.add,
  sub32: E32.sub,
  mul32: E32.mul,
  add64: E64.add,
  sub64: E64.sub,
  mul64: E64.mul,
  hi: (): number => X.hi,
} as const;
