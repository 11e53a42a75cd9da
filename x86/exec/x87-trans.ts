/**
 * The x87 transcendental functions (FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1)
 * in extended precision: each result is computed to about 160 bits with BigInt arithmetic and
 * rounded once to the 64-bit significand by the rounding control (x87-soft.ts `roundPack`), so
 * it is the correctly rounded value. The reference CPU (an AMD EPYC) is correctly rounded in
 * about 99% of random cases and within one unit in the last place otherwise; docs/x87.md has
 * the measurements. BigInt is fine here: these instructions take tens of cycles on hardware
 * too and are rare in programs (nothing on the hot path of other instructions uses this file).
 *
 * FSIN/FCOS/FSINCOS/FPTAN reduce the argument modulo pi/2 with the x87's 66-bit approximation of
 * pi (measured: results for large arguments match the reduction by pi rounded to 66..68 bits
 * and no other), exactly, then evaluate series on the reduced argument.
 */
import { roundPack } from './x87-soft.js';
import { S_RES, type X87 } from './x87-state.js';

/** Working precision in bits. */
const PREC = 160;

/** A value m * 2^e. */
interface Big {
  readonly m: bigint;
  readonly e: number;
}

const ZERO: Big = { m: 0n, e: 0 };
const ONE: Big = { m: 1n, e: 0 };

function bitLength(m: bigint): number {
  if (m < 0n) m = -m;
  if (m === 0n) return 0;
  const h = m.toString(16);
  return 4 * (h.length - 1) + (32 - Math.clz32(parseInt(h[0] as string, 16)));
}

/** Keeps at most PREC significant bits (truncating: the error is below 2^-PREC relative). */
function norm(a: Big): Big {
  const n = bitLength(a.m);
  if (n <= PREC) return a;
  const s = n - PREC;
  return { m: a.m >> BigInt(s), e: a.e + s };
}

const top = (a: Big): number => a.e + bitLength(a.m);

function add(a: Big, b: Big): Big {
  if (a.m === 0n) return b;
  if (b.m === 0n) return a;
  if (top(a) - top(b) > PREC + 8) return a;
  if (top(b) - top(a) > PREC + 8) return b;
  if (a.e >= b.e) return norm({ m: (a.m << BigInt(a.e - b.e)) + b.m, e: b.e });
  return norm({ m: a.m + (b.m << BigInt(b.e - a.e)), e: a.e });
}
const neg = (a: Big): Big => ({ m: -a.m, e: a.e });
const sub = (a: Big, b: Big): Big => add(a, neg(b));
const mul = (a: Big, b: Big): Big => norm({ m: a.m * b.m, e: a.e + b.e });
const int = (n: number): Big => ({ m: BigInt(n), e: 0 });
const scale = (a: Big, n: number): Big => ({ m: a.m, e: a.e + n });

function div(a: Big, b: Big): Big {
  const s = PREC + bitLength(b.m) - bitLength(a.m) + 2;
  return norm({ m: (a.m << BigInt(s)) / b.m, e: a.e - b.e - s });
}

function sqrt(a: Big): Big {
  // isqrt of m * 2^(2k) with about 2*PREC bits, by Newton's method from a double's estimate.
  let m = a.m;
  let e = a.e;
  const want = 2 * PREC + 4;
  const s = want - bitLength(m);
  m <<= BigInt(s);
  e -= s;
  if ((e & 1) !== 0) {
    m <<= 1n;
    e -= 1;
  }
  const n = bitLength(m);
  let r = BigInt(Math.floor(Math.sqrt(Number(m >> BigInt(n - 52)) * 2 ** ((n - 52) % 2)))) << BigInt(Math.floor((n - 52) / 2));
  for (let k = 0; k < 8; k++) r = (r + m / r) >> 1n;
  return norm({ m: r, e: e / 2 });
}

/** Magnitude below 2^-(PREC + 8) relative to `ref`: a series may stop. */
const negligible = (t: Big, ref: Big): boolean => t.m === 0n || top(t) < top(ref) - PREC - 8;

/** The sign of the first omitted series term of the last evaluation (see `toSlot`). */
interface Tail {
  dir: number;
}

/** sin(r) (odd = false: cos(r)) by Taylor series, |r| <= 1. */
function sinCosSeries(r: Big, cos: boolean, tail: Tail): Big {
  const r2 = mul(r, r);
  let term = cos ? ONE : r;
  let sum = term;
  for (let k = cos ? 1 : 2; ; k += 2) {
    term = neg(div(mul(term, r2), int(k * (k + 1))));
    if (negligible(term, sum)) {
      tail.dir = term.m === 0n ? 0 : term.m < 0n ? -1 : 1;
      return sum;
    }
    sum = add(sum, term);
  }
}

/** atanh(s) = s + s^3/3 + s^5/5 + ..., |s| <= 1/3. */
function atanhSeries(s: Big, tail: Tail): Big {
  const s2 = mul(s, s);
  let pow = s;
  let sum = s;
  for (let k = 3; ; k += 2) {
    pow = mul(pow, s2);
    const term = div(pow, int(k));
    if (negligible(term, sum)) {
      tail.dir = term.m === 0n ? 0 : term.m < 0n ? -1 : 1;
      return sum;
    }
    sum = add(sum, term);
  }
}

/** atan(z) = z - z^3/3 + ..., |z| small. */
function atanSeries(z: Big, tail: Tail): Big {
  const z2 = mul(z, z);
  let pow = z;
  let sum = z;
  for (let k = 3; ; k += 2) {
    pow = neg(mul(pow, z2));
    const term = div(pow, int(k));
    if (negligible(term, sum)) {
      tail.dir = term.m === 0n ? 0 : term.m < 0n ? -1 : 1;
      return sum;
    }
    sum = add(sum, term);
  }
}

/** expm1(t) = t + t^2/2! + ..., |t| <= 1. */
function expm1Series(t: Big, tail: Tail): Big {
  let term = t;
  let sum = t;
  for (let k = 2; ; k++) {
    term = div(mul(term, t), int(k));
    if (negligible(term, sum)) {
      tail.dir = term.m === 0n ? 0 : term.m < 0n ? -1 : 1;
      return sum;
    }
    sum = add(sum, term);
  }
}

const NO_TAIL: Tail = { dir: 0 };
/** ln 2 = 2 atanh(1/3). */
const LN2 = scale(atanhSeries(div(ONE, int(3)), { dir: 0 }), 1);
/** pi = 16 atan(1/5) - 4 atan(1/239) (Machin). */
const PI = sub(scale(atanSeriesFull(div(ONE, int(5))), 4), scale(atanSeriesFull(div(ONE, int(239))), 2));
/** The x87's pi for argument reduction: pi rounded to 68 bits (bits 67 and 68 are zero, so 66 bits). */
const PI66: Big = { m: 0xc90fdaa22168c234cn, e: -66 };

function atanSeriesFull(z: Big): Big {
  return atanSeries(z, { dir: 0 });
}

// ---- slots ----------------------------------------------------------------------------------

/** Slot k (finite) as a Big. */
function fromSlot(x: X87, k: number): Big {
  const exp = (x.se[k] as number) & 0x7fff;
  const m = (BigInt((x.mhi[k] as number) >>> 0) << 32n) | BigInt((x.mlo[k] as number) >>> 0);
  const v: Big = { m, e: (exp === 0 ? 1 : exp) - 16383 - 63 };
  return x.isNeg(k) ? neg(v) : v;
}

/**
 * Rounds v into S_RES (roundPack: PE/UE/OE, C1 in `roundedUp`). `exact` says v is the exact
 * result; otherwise the result is inexact, and `dir` is the sign of the error (true - v) when
 * v's bits beyond the 64th might all be zero (the first omitted series term).
 */
function toSlot(x: X87, v: Big, exact: boolean, dir: number): void {
  if (v.m === 0n) {
    x.set80(S_RES, 0, 0, 0);
    x.roundedUp = false;
    return;
  }
  const negv = v.m < 0n;
  let m = negv ? -v.m : v.m;
  const n = bitLength(m);
  // The top 96 bits in w0:w1:w2, the rest as sticky.
  let rest = 0n;
  if (n > 96) {
    rest = m & ((1n << BigInt(n - 96)) - 1n);
    m >>= BigInt(n - 96);
  } else m <<= BigInt(96 - n);
  let e = v.e + n - 1;
  if (!exact && rest === 0n && (m & 0xffffffffn) === 0n && dir !== 0) {
    // Exactly representable as computed: the omitted tail decides the side.
    if ((dir < 0) !== negv) {
      m -= 1n;
      if (m < 1n << 95n) {
        m = (m << 1n) | 1n;
        e -= 1;
      }
    }
  }
  x.w0 = Number(m >> 64n);
  x.w1 = Number((m >> 32n) & 0xffffffffn);
  x.w2 = Number(m & 0xffffffffn);
  x.sticky = !exact || rest !== 0n;
  roundPack(x, negv, e, 64);
}

// ---- the functions ------------------------------------------------------------------------

/**
 * sin (which = 0), cos (1) or tan (2) of slot k (finite, |value| < 2^63), into S_RES. Zero
 * arguments are the callers' (exact results).
 */
export function trig80(x: X87, k: number, which: number): void {
  const a = fromSlot(x, k);
  const half = scale(PI66, -1);
  // q = nearest integer to a / (pi66 / 2); r = a - q * pi66 / 2, exactly.
  let q = 0n;
  if (top(a) > 0) {
    const t = div(a, half);
    q = t.e >= 0 ? t.m << BigInt(t.e) : (t.m + (1n << BigInt(-t.e - 1))) >> BigInt(-t.e);
  }
  let r = a;
  if (q !== 0n) {
    const p = { m: q * half.m, e: half.e };
    r = a.e >= p.e ? { m: (a.m << BigInt(a.e - p.e)) - p.m, e: p.e } : { m: a.m - (p.m << BigInt(p.e - a.e)), e: a.e };
    r = norm(r);
  }
  const oct = Number(((q % 4n) + 4n) % 4n);
  const tail: Tail = { dir: 0 };
  let v: Big;
  if (which === 2) {
    const s = sinCosSeries(r, false, tail);
    const c = sinCosSeries(r, true, NO_TAIL);
    v = (oct & 1) === 0 ? div(s, c) : neg(div(c, s));
    // tan(r) = r + r^3/3 + ... lies beyond r, but for tiny r the reference CPU's result is
    // r's magnitude rounded from below (measured with RC toward zero and C1): mimic that.
    tail.dir = (oct & 1) === 0 ? (r.m < 0n ? 1 : -1) : 0;
  } else {
    const useCos = (which === 1) !== ((oct & 1) === 1);
    v = sinCosSeries(r, useCos, tail);
    const negate = which === 0 ? oct >= 2 : oct === 1 || oct === 2;
    if (negate) {
      v = neg(v);
      tail.dir = -tail.dir;
    }
  }
  toSlot(x, v, false, tail.dir);
}

/** 2^a - 1 for slot k (finite, non-zero), into S_RES. */
export function exp2m1(x: X87, k: number): void {
  const a = fromSlot(x, k);
  const t = mul(a, LN2);
  const tail: Tail = { dir: 0 };
  if (top(t) <= 0) {
    toSlot(x, expm1Series(t, tail), false, tail.dir);
    return;
  }
  // Outside [-1, 1] (undefined by the SDM): 2^n * 2^f - 1 with n the integer part; beyond
  // +-2^15 an overflow, or -1 from above.
  if (top(a) > 15) {
    if (a.m > 0n) toSlot(x, { m: 1n, e: 1 << 16 }, false, 0);
    else toSlot(x, neg(ONE), false, 1);
    return;
  }
  const n = Number(a.e >= 0 ? a.m << BigInt(a.e) : a.m >> BigInt(-a.e));
  const f = sub(a, int(n));
  const p = scale(add(expm1Series(mul(f, LN2), NO_TAIL), ONE), n);
  toSlot(x, sub(p, ONE), false, 0);
}

/** log2 of a positive finite Big, and whether it is exact (a power of two). */
function log2(a: Big, tail: Tail): { v: Big; exact: boolean } {
  const n = bitLength(a.m);
  const e = a.e + n - 1;
  // m in [1, 2): log2(m) = 2 atanh((m - 1) / (m + 1)) / ln 2.
  const m: Big = { m: a.m, e: -(n - 1) };
  if (a.m === 1n << BigInt(n - 1)) return { v: int(e), exact: true };
  const s = div(sub(m, ONE), add(m, ONE));
  const l = div(scale(atanhSeries(s, tail), 1), LN2);
  return { v: add(int(e), l), exact: false };
}

/** y * log2(v) for finite slots, y non-zero, v positive; into S_RES. */
export function ylog2(x: X87, yk: number, vk: number): void {
  const tail: Tail = { dir: 0 };
  const { v, exact } = log2(fromSlot(x, vk), tail);
  toSlot(x, mul(fromSlot(x, yk), v), exact, 0);
}

/** y * log2(1 + v) for finite, non-zero slots (|v| small); into S_RES. */
export function ylog2p1(x: X87, yk: number, vk: number): void {
  const a = fromSlot(x, vk);
  const tail: Tail = { dir: 0 };
  // ln(1 + a) = 2 atanh(a / (2 + a)) converges fast only for small a: beyond |a| >= 1/4 (outside
  // FYL2XP1's defined range, where any input must still finish) take log2(1 + a) directly.
  const l = top(a) >= -2 ? log2(add(ONE, a), tail).v : div(scale(atanhSeries(div(a, add(int(2), a)), tail), 1), LN2);
  const y = fromSlot(x, yk);
  toSlot(x, mul(y, l), false, y.m < 0n ? -tail.dir : tail.dir);
}

/**
 * atan2(y, v) by quadrant for slots that are finite or infinite, not both zero... (the caller
 * handles zeros and NaNs); `yInf`/`vInf` mark infinities. Into S_RES.
 */
export function atan2x(x: X87, yk: number, vk: number, yInf: boolean, vInf: boolean): void {
  const yNeg = x.isNeg(yk);
  const vNeg = x.isNeg(vk);
  let a: Big;
  const tail: Tail = { dir: 0 };
  if (yInf && vInf) a = scale(PI, -2);
  else if (yInf) a = scale(PI, -1);
  else if (vInf) a = ZERO;
  else {
    let y = fromSlot(x, yk);
    let v = fromSlot(x, vk);
    if (y.m < 0n) y = neg(y);
    if (v.m < 0n) v = neg(v);
    const swap = top(y) > top(v) || (top(y) === top(v) && compare(y, v) > 0);
    let z = swap ? div(v, y) : div(y, v);
    // Halve the angle until z is small: atan(z) = 2 atan(z / (1 + sqrt(1 + z^2))).
    let halvings = 0;
    while (top(z) > -6) {
      z = div(z, add(ONE, sqrt(add(ONE, mul(z, z)))));
      halvings++;
    }
    a = scale(atanSeries(z, tail), halvings);
    if (halvings > 0) tail.dir = 0;
    if (swap) {
      a = sub(scale(PI, -1), a);
      tail.dir = -tail.dir;
    }
  }
  if (vNeg) {
    a = sub(PI, a);
    tail.dir = -tail.dir;
  }
  if (yNeg) {
    a = neg(a);
    tail.dir = -tail.dir;
  }
  toSlot(x, a, false, tail.dir);
}

function compare(a: Big, b: Big): number {
  const d = sub(a, b);
  return d.m === 0n ? 0 : d.m < 0n ? -1 : 1;
}
