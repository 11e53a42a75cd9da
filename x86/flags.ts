/**
 * Lazy arithmetic flags. An ALU instruction records its operation, size, operands and result;
 * CF/PF/AF/ZF/SF/OF are computed only when something reads them (Jcc, ADC, PUSHF...). Most
 * results are never inspected, so this saves the flag computation on the hot path.
 *
 * Values are stored as the int32 halves the handlers work with; for sizes below 8 only the low
 * half matters and is normalised here by shifting the operand size's bits to the top.
 */
import type { Cpu } from './cpu.js';
import { AF, CF, OF, PF, SF, ZF } from './isa/types.js';

export const enum LazyOp {
  None = 0,
  Add = 1,
  Adc = 2,
  Sub = 3,
  Sbb = 4,
  Logic = 5,
  Inc = 6,
  Dec = 7,
  Neg = 8,
  /**
   * 64-bit IMUL (two/three-operand forms): a·b truncated to 64 bits in r. CF = OF = the full
   * signed product does not fit in 64 bits, computed only if read; SF/ZF/PF from r, AF clear
   * (as the handler's eager path sets them).
   */
  Imul64 = 9,
}

/** PF for each byte value: set when the number of one bits is even. */
export const PARITY: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let v = 0; v < 256; v++) {
    let n = 0;
    for (let b = v; b !== 0; b &= b - 1) n++;
    t[v] = n % 2 === 0 ? PF : 0;
  }
  return t;
})();

function ult64(ah: number, al: number, bh: number, bl: number): boolean {
  return ah >>> 0 < bh >>> 0 || (ah === bh && al >>> 0 < bl >>> 0);
}

/**
 * Whether the signed 128-bit product of two 64-bit values (int32 halves) needs more than 64
 * bits. Computed on 16-bit limbs: every partial sum stays below 2^53.
 */
function imul64Overflows(a: number, ah: number, b: number, bh: number): boolean {
  // Work with magnitudes: |a|·|b| fits in 63 bits (or is exactly 2^63 with a negative sign).
  const neg = (ah < 0) !== (bh < 0);
  let al = a;
  let aH = ah;
  if (aH < 0) {
    al = -a | 0;
    aH = (~aH + (a === 0 ? 1 : 0)) | 0;
  }
  let bl = b;
  let bH = bh;
  if (bH < 0) {
    bl = -b | 0;
    bH = (~bH + (b === 0 ? 1 : 0)) | 0;
  }
  const x = [al & 0xffff, al >>> 16, aH & 0xffff, aH >>> 16];
  const y = [bl & 0xffff, bl >>> 16, bH & 0xffff, bH >>> 16];
  const w = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    let carry = 0;
    for (let j = 0; j < 4; j++) {
      const t = (w[i + j] as number) + (x[i] as number) * (y[j] as number) + carry;
      w[i + j] = t % 65536;
      carry = Math.floor(t / 65536);
    }
    w[i + 4] = (w[i + 4] as number) + carry;
  }
  // Magnitude words 4..7 must be zero and bit 63 clear, except -2^63 exactly.
  const high = (w[4] as number) | (w[5] as number) | (w[6] as number) | (w[7] as number);
  if (high !== 0) return true;
  const top = w[3] as number;
  if (top < 0x8000) return false;
  return !(neg && top === 0x8000 && w[0] === 0 && w[1] === 0 && w[2] === 0);
}

/** The six arithmetic flags of the recorded operation. */
export function lazyArith(c: Cpu): number {
  const op = c.lfOp;
  const size = c.lfSize;
  const a = c.lfA;
  const b = c.lfB;
  const r = c.lfR;
  let f = PARITY[r & 0xff] ?? 0;
  if (op === LazyOp.Imul64) {
    if (r === 0 && c.lfRH === 0) f |= ZF;
    if (c.lfRH < 0) f |= SF;
    if (imul64Overflows(a, c.lfAH, b, c.lfBH)) f |= CF | OF;
    return f;
  }
  if (op !== LazyOp.Logic) f |= (a ^ b ^ r) & AF;
  if (size === 8) {
    const ah = c.lfAH;
    const bh = c.lfBH;
    const rh = c.lfRH;
    if (r === 0 && rh === 0) f |= ZF;
    if (rh < 0) f |= SF;
    switch (op) {
      case LazyOp.Add:
        if (ult64(rh, r, ah, a)) f |= CF;
        if (((ah ^ rh) & (bh ^ rh)) < 0) f |= OF;
        break;
      case LazyOp.Adc:
        if (c.lfCin !== 0 ? !ult64(ah, a, rh, r) : ult64(rh, r, ah, a)) f |= CF;
        if (((ah ^ rh) & (bh ^ rh)) < 0) f |= OF;
        break;
      case LazyOp.Sub:
        if (ult64(ah, a, bh, b)) f |= CF;
        if (((ah ^ bh) & (ah ^ rh)) < 0) f |= OF;
        break;
      case LazyOp.Sbb:
        if (c.lfCin !== 0 ? !ult64(bh, b, ah, a) : ult64(ah, a, bh, b)) f |= CF;
        if (((ah ^ bh) & (ah ^ rh)) < 0) f |= OF;
        break;
      case LazyOp.Neg:
        if (b !== 0 || bh !== 0) f |= CF;
        if (((ah ^ bh) & (ah ^ rh)) < 0) f |= OF;
        break;
      case LazyOp.Inc:
        f |= c.lfCin;
        if (((ah ^ rh) & (bh ^ rh)) < 0) f |= OF;
        break;
      case LazyOp.Dec:
        f |= c.lfCin;
        if (((ah ^ bh) & (ah ^ rh)) < 0) f |= OF;
        break;
      default:
        break;
    }
    return f;
  }
  const sh = 32 - size * 8;
  const ua = (a << sh) >>> sh;
  const ub = (b << sh) >>> sh;
  const ur = (r << sh) >>> sh;
  const sa = a << sh;
  const sb = b << sh;
  const sr = r << sh;
  if (ur === 0) f |= ZF;
  if (sr < 0) f |= SF;
  switch (op) {
    case LazyOp.Add:
      if (ur < ua) f |= CF;
      if (((sa ^ sr) & (sb ^ sr)) < 0) f |= OF;
      break;
    case LazyOp.Adc:
      if (c.lfCin !== 0 ? ur <= ua : ur < ua) f |= CF;
      if (((sa ^ sr) & (sb ^ sr)) < 0) f |= OF;
      break;
    case LazyOp.Sub:
      if (ua < ub) f |= CF;
      if (((sa ^ sb) & (sa ^ sr)) < 0) f |= OF;
      break;
    case LazyOp.Sbb:
      if (c.lfCin !== 0 ? ua <= ub : ua < ub) f |= CF;
      if (((sa ^ sb) & (sa ^ sr)) < 0) f |= OF;
      break;
    case LazyOp.Neg:
      if (ub !== 0) f |= CF;
      if (((sa ^ sb) & (sa ^ sr)) < 0) f |= OF;
      break;
    case LazyOp.Inc:
      f |= c.lfCin;
      if (((sa ^ sr) & (sb ^ sr)) < 0) f |= OF;
      break;
    case LazyOp.Dec:
      f |= c.lfCin;
      if (((sa ^ sb) & (sa ^ sr)) < 0) f |= OF;
      break;
    default:
      break;
  }
  return f;
}

