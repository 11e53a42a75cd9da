/**
 * SSE2 integer instructions on XMM registers (SDM vol. 2, each instruction's page; vol. 1
 * §11.4.3): lane-wise arithmetic (wrapping and saturating), compares, logic, min/max, averages,
 * PSADBW, multiplies, shifts, unpacks, packs, shuffles, PINSRW/PEXTRW. Also the bitwise float
 * logic (ANDPS..XORPD) and the float shuffles/unpacks, which are the same bit operations.
 *
 * Every op has the shape `(a, b, r, imm)`: `a` is the destination's old value, `b` the source,
 * `r` receives the result. The scratch vectors come from sse.ts.
 */
import type { Cpu } from '../cpu.js';
import type { Insn } from '../decoder.js';
import { ea } from './operands.js';
import { VA, VB, VR, loadW, loadX, storeX, type Vec } from './sse.js';

export type VecOp = (a: Vec, b: Vec, r: Vec, imm: number) => void;

/** op xmm, xmm/m128 (the memory operand must be 16-byte aligned). */
export function vecOp(c: Cpu, i: Insn, op: VecOp): void {
  loadX(c, i.reg, VA.d);
  loadW(c, i, VB.d, 16, true);
  op(VA, VB, VR, i.imm & 0xff);
  storeX(c, i.reg, VR.d);
}

/** Shift by immediate (66 0F 71/72/73 groups): the register operand is both source and destination. */
export function vecShiftImm(c: Cpu, i: Insn, op: VecOp): void {
  loadX(c, i.rm, VA.d);
  VB.d[0] = i.imm & 0xff;
  VB.d[1] = 0;
  op(VA, VB, VR, 0);
  storeX(c, i.rm, VR.d);
}

// ---- add/subtract ---------------------------------------------------------------------------

const satS8 = (v: number): number => (v > 127 ? 127 : v < -128 ? -128 : v);
const satU8 = (v: number): number => (v > 255 ? 255 : v < 0 ? 0 : v);
const satS16 = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : v);
const satU16 = (v: number): number => (v > 65535 ? 65535 : v < 0 ? 0 : v);

export const paddb: VecOp = (a, b, r) => {
  for (let k = 0; k < 16; k++) r.b[k] = (a.b[k] as number) + (b.b[k] as number);
};
export const paddw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.w[k] = (a.w[k] as number) + (b.w[k] as number);
};
export const paddd: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) r.d[k] = ((a.d[k] as number) + (b.d[k] as number)) | 0;
};
/** 64-bit lanes on int32 halves: the carry out of the low half goes into the high half. */
export const paddq: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k += 2) {
    const lo = ((a.d[k] as number) >>> 0) + ((b.d[k] as number) >>> 0);
    r.d[k] = lo | 0;
    r.d[k + 1] = ((a.d[k + 1] as number) + (b.d[k + 1] as number) + (lo > 0xffffffff ? 1 : 0)) | 0;
  }
};
export const psubb: VecOp = (a, b, r) => {
  for (let k = 0; k < 16; k++) r.b[k] = (a.b[k] as number) - (b.b[k] as number);
};
export const psubw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.w[k] = (a.w[k] as number) - (b.w[k] as number);
};
export const psubd: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) r.d[k] = ((a.d[k] as number) - (b.d[k] as number)) | 0;
};
export const psubq: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k += 2) {
    const lo = ((a.d[k] as number) >>> 0) - ((b.d[k] as number) >>> 0);
    r.d[k] = lo | 0;
    r.d[k + 1] = ((a.d[k + 1] as number) - (b.d[k + 1] as number) - (lo < 0 ? 1 : 0)) | 0;
  }
};
export const paddsb: VecOp = (a, b, r) => {
  for (let k = 0; k < 16; k++) r.sb[k] = satS8((a.sb[k] as number) + (b.sb[k] as number));
};
export const paddsw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.sw[k] = satS16((a.sw[k] as number) + (b.sw[k] as number));
};
export const paddusb: VecOp = (a, b, r) => {
  for (let k = 0; k < 16; k++) r.b[k] = satU8((a.b[k] as number) + (b.b[k] as number));
};
export const paddusw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.w[k] = satU16((a.w[k] as number) + (b.w[k] as number));
};
export const psubsb: VecOp = (a, b, r) => {
  for (let k = 0; k < 16; k++) r.sb[k] = satS8((a.sb[k] as number) - (b.sb[k] as number));
};
export const psubsw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.sw[k] = satS16((a.sw[k] as number) - (b.sw[k] as number));
};
export const psubusb: VecOp = (a, b, r) => {
  for (let k = 0; k < 16; k++) r.b[k] = satU8((a.b[k] as number) - (b.b[k] as number));
};
export const psubusw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.w[k] = satU16((a.w[k] as number) - (b.w[k] as number));
};

// ---- compares, logic, min/max, averages -----------------------------------------------------

export const pcmpeqb: VecOp = (a, b, r) => {
  for (let k = 0; k < 16; k++) r.b[k] = a.b[k] === b.b[k] ? 0xff : 0;
};
export const pcmpeqw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.w[k] = a.w[k] === b.w[k] ? 0xffff : 0;
};
export const pcmpeqd: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) r.d[k] = a.d[k] === b.d[k] ? -1 : 0;
};
export const pcmpgtb: VecOp = (a, b, r) => {
  for (let k = 0; k < 16; k++) r.b[k] = (a.sb[k] as number) > (b.sb[k] as number) ? 0xff : 0;
};
export const pcmpgtw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.w[k] = (a.sw[k] as number) > (b.sw[k] as number) ? 0xffff : 0;
};
export const pcmpgtd: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) r.d[k] = (a.d[k] as number) > (b.d[k] as number) ? -1 : 0;
};
export const pand: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) r.d[k] = (a.d[k] as number) & (b.d[k] as number);
};
/** PANDN/ANDNPS: NOT destination AND source. */
export const pandn: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) r.d[k] = ~(a.d[k] as number) & (b.d[k] as number);
};
export const por: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) r.d[k] = (a.d[k] as number) | (b.d[k] as number);
};
export const pxor: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) r.d[k] = (a.d[k] as number) ^ (b.d[k] as number);
};
export const pminub: VecOp = (a, b, r) => {
  for (let k = 0; k < 16; k++) r.b[k] = Math.min(a.b[k] as number, b.b[k] as number);
};
export const pmaxub: VecOp = (a, b, r) => {
  for (let k = 0; k < 16; k++) r.b[k] = Math.max(a.b[k] as number, b.b[k] as number);
};
export const pminsw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.sw[k] = Math.min(a.sw[k] as number, b.sw[k] as number);
};
export const pmaxsw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.sw[k] = Math.max(a.sw[k] as number, b.sw[k] as number);
};
/** PAVGB/PAVGW: unsigned (a + b + 1) >> 1, computed without overflow in a double. */
export const pavgb: VecOp = (a, b, r) => {
  for (let k = 0; k < 16; k++) r.b[k] = ((a.b[k] as number) + (b.b[k] as number) + 1) >> 1;
};
export const pavgw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.w[k] = ((a.w[k] as number) + (b.w[k] as number) + 1) >> 1;
};
/** PSADBW: per qword, the sum of the eight absolute byte differences in bits 15:0, rest zero. */
export const psadbw: VecOp = (a, b, r) => {
  for (let q = 0; q < 2; q++) {
    let s = 0;
    for (let k = q * 8; k < q * 8 + 8; k++) s += Math.abs((a.b[k] as number) - (b.b[k] as number));
    r.d[2 * q] = s;
    r.d[2 * q + 1] = 0;
  }
};

// ---- multiplies -----------------------------------------------------------------------------

export const pmullw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.w[k] = Math.imul(a.sw[k] as number, b.sw[k] as number);
};
/** High 16 bits of the signed 32-bit product (exact: |product| <= 2^30). */
export const pmulhw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.w[k] = ((a.sw[k] as number) * (b.sw[k] as number)) >> 16;
};
/** High 16 bits of the unsigned product (< 2^32, exact in a double). */
export const pmulhuw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.w[k] = ((a.w[k] as number) * (b.w[k] as number)) / 65536;
};
/** PMULUDQ: the low unsigned dword of each qword multiplied into a full 64-bit product. */
export const pmuludq: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k += 2) {
    const x = (a.d[k] as number) >>> 0;
    const y = (b.d[k] as number) >>> 0;
    // Split y in 16-bit halves so every partial product is exact (< 2^48).
    const pl = x * (y & 0xffff);
    const ph = x * (y >>> 16);
    const full = Math.floor(pl / 0x10000) + ph; // (x*y) >> 16, exact (< 2^49)
    r.d[k] = Math.imul(x, y); // the low 32 bits of the product
    r.d[k + 1] = Math.floor(full / 0x10000) | 0;
  }
};
/** PMADDWD: signed word products summed in pairs; only -32768*-32768*2 wraps (to 0x80000000). */
export const pmaddwd: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) {
    const s = (a.sw[2 * k] as number) * (b.sw[2 * k] as number) + (a.sw[2 * k + 1] as number) * (b.sw[2 * k + 1] as number);
    r.d[k] = s | 0;
  }
};

// ---- shifts (count from the source's low qword or an immediate) -------------------------------

/** The shift count as an unsigned 64-bit value, clamped to 255 (anything above 63 acts alike). */
function count(b: Vec): number {
  return b.d[1] !== 0 || (b.d[0] as number) >>> 0 > 255 ? 255 : (b.d[0] as number) >>> 0;
}

export const psllw: VecOp = (a, b, r) => {
  const n = count(b);
  for (let k = 0; k < 8; k++) r.w[k] = n > 15 ? 0 : (a.w[k] as number) << n;
};
export const psrlw: VecOp = (a, b, r) => {
  const n = count(b);
  for (let k = 0; k < 8; k++) r.w[k] = n > 15 ? 0 : (a.w[k] as number) >>> n;
};
export const psraw: VecOp = (a, b, r) => {
  const n = Math.min(count(b), 15);
  for (let k = 0; k < 8; k++) r.sw[k] = (a.sw[k] as number) >> n;
};
export const pslld: VecOp = (a, b, r) => {
  const n = count(b);
  for (let k = 0; k < 4; k++) r.d[k] = n > 31 ? 0 : (a.d[k] as number) << n;
};
export const psrld: VecOp = (a, b, r) => {
  const n = count(b);
  for (let k = 0; k < 4; k++) r.d[k] = n > 31 ? 0 : (a.d[k] as number) >>> n;
};
export const psrad: VecOp = (a, b, r) => {
  const n = Math.min(count(b), 31);
  for (let k = 0; k < 4; k++) r.d[k] = (a.d[k] as number) >> n;
};
export const psllq: VecOp = (a, b, r) => {
  const n = count(b);
  for (let k = 0; k < 4; k += 2) {
    const lo = a.d[k] as number;
    const hi = a.d[k + 1] as number;
    if (n > 63) {
      r.d[k] = 0;
      r.d[k + 1] = 0;
    } else if (n >= 32) {
      r.d[k] = 0;
      r.d[k + 1] = lo << (n - 32);
    } else if (n === 0) {
      r.d[k] = lo;
      r.d[k + 1] = hi;
    } else {
      r.d[k] = lo << n;
      r.d[k + 1] = (hi << n) | (lo >>> (32 - n));
    }
  }
};
export const psrlq: VecOp = (a, b, r) => {
  const n = count(b);
  for (let k = 0; k < 4; k += 2) {
    const lo = a.d[k] as number;
    const hi = a.d[k + 1] as number;
    if (n > 63) {
      r.d[k] = 0;
      r.d[k + 1] = 0;
    } else if (n >= 32) {
      r.d[k] = hi >>> (n - 32);
      r.d[k + 1] = 0;
    } else if (n === 0) {
      r.d[k] = lo;
      r.d[k + 1] = hi;
    } else {
      r.d[k] = (lo >>> n) | (hi << (32 - n));
      r.d[k + 1] = hi >>> n;
    }
  }
};
/** PSRLDQ: the whole register right by imm bytes; a count above 15 clears it. */
export const psrldq: VecOp = (a, b, r) => {
  const n = count(b);
  for (let k = 0; k < 16; k++) r.b[k] = k + n < 16 ? (a.b[k + n] as number) : 0;
};
export const pslldq: VecOp = (a, b, r) => {
  const n = count(b);
  for (let k = 0; k < 16; k++) r.b[k] = k - n >= 0 ? (a.b[k - n] as number) : 0;
};

// ---- unpacks and packs ----------------------------------------------------------------------

export const punpcklbw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) {
    r.b[2 * k] = a.b[k] as number;
    r.b[2 * k + 1] = b.b[k] as number;
  }
};
export const punpckhbw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) {
    r.b[2 * k] = a.b[k + 8] as number;
    r.b[2 * k + 1] = b.b[k + 8] as number;
  }
};
export const punpcklwd: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) {
    r.w[2 * k] = a.w[k] as number;
    r.w[2 * k + 1] = b.w[k] as number;
  }
};
export const punpckhwd: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) {
    r.w[2 * k] = a.w[k + 4] as number;
    r.w[2 * k + 1] = b.w[k + 4] as number;
  }
};
/** PUNPCKLDQ and UNPCKLPS: a0 b0 a1 b1. */
export const punpckldq: VecOp = (a, b, r) => {
  r.d[0] = a.d[0] as number;
  r.d[1] = b.d[0] as number;
  r.d[2] = a.d[1] as number;
  r.d[3] = b.d[1] as number;
};
/** PUNPCKHDQ and UNPCKHPS: a2 b2 a3 b3. */
export const punpckhdq: VecOp = (a, b, r) => {
  r.d[0] = a.d[2] as number;
  r.d[1] = b.d[2] as number;
  r.d[2] = a.d[3] as number;
  r.d[3] = b.d[3] as number;
};
/** PUNPCKLQDQ and UNPCKLPD: low qwords of a and b. */
export const punpcklqdq: VecOp = (a, b, r) => {
  r.d[0] = a.d[0] as number;
  r.d[1] = a.d[1] as number;
  r.d[2] = b.d[0] as number;
  r.d[3] = b.d[1] as number;
};
/** PUNPCKHQDQ and UNPCKHPD: high qwords of a and b. */
export const punpckhqdq: VecOp = (a, b, r) => {
  r.d[0] = a.d[2] as number;
  r.d[1] = a.d[3] as number;
  r.d[2] = b.d[2] as number;
  r.d[3] = b.d[3] as number;
};
export const packsswb: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) {
    r.sb[k] = satS8(a.sw[k] as number);
    r.sb[k + 8] = satS8(b.sw[k] as number);
  }
};
/** PACKUSWB: signed words saturated to unsigned bytes. */
export const packuswb: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) {
    r.b[k] = satU8(a.sw[k] as number);
    r.b[k + 8] = satU8(b.sw[k] as number);
  }
};
export const packssdw: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) {
    r.sw[k] = satS16(a.d[k] as number);
    r.sw[k + 4] = satS16(b.d[k] as number);
  }
};

// ---- shuffles -------------------------------------------------------------------------------

/** PSHUFD: each destination dword picks a source dword by a 2-bit field of imm. */
export const pshufd: VecOp = (_a, b, r, imm) => {
  for (let k = 0; k < 4; k++) r.d[k] = b.d[(imm >> (2 * k)) & 3] as number;
};
export const pshuflw: VecOp = (_a, b, r, imm) => {
  for (let k = 0; k < 4; k++) r.w[k] = b.w[(imm >> (2 * k)) & 3] as number;
  r.d[2] = b.d[2] as number;
  r.d[3] = b.d[3] as number;
};
export const pshufhw: VecOp = (_a, b, r, imm) => {
  r.d[0] = b.d[0] as number;
  r.d[1] = b.d[1] as number;
  for (let k = 0; k < 4; k++) r.w[4 + k] = b.w[4 + ((imm >> (2 * k)) & 3)] as number;
};
/** SHUFPS: the low two dwords from the destination, the high two from the source. */
export const shufps: VecOp = (a, b, r, imm) => {
  r.d[0] = a.d[imm & 3] as number;
  r.d[1] = a.d[(imm >> 2) & 3] as number;
  r.d[2] = b.d[(imm >> 4) & 3] as number;
  r.d[3] = b.d[(imm >> 6) & 3] as number;
};
/** SHUFPD: the low qword from the destination (imm bit 0), the high from the source (bit 1). */
export const shufpd: VecOp = (a, b, r, imm) => {
  const s = (imm & 1) * 2;
  const t = ((imm >> 1) & 1) * 2;
  r.d[0] = a.d[s] as number;
  r.d[1] = a.d[s + 1] as number;
  r.d[2] = b.d[t] as number;
  r.d[3] = b.d[t + 1] as number;
};

// ---- word insert/extract --------------------------------------------------------------------

/** PINSRW xmm, r32/m16, imm8: word imm&7 of the destination replaced. */
export function pinsrw(c: Cpu, i: Insn): void {
  const v = i.rm >= 0 ? c.reg32(i.rm) : c.read16(ea(c, i));
  const k = i.imm & 7;
  const o = (i.reg << 2) + (k >> 1);
  const d = c.xmm[o] as number;
  c.xmm[o] = k & 1 ? (d & 0xffff) | (v << 16) : (d & ~0xffff) | (v & 0xffff);
}

/** PEXTRW r32, xmm, imm8: word imm&7, zero-extended (to 64 bits with REX.W as well). */
export function pextrw(c: Cpu, i: Insn): void {
  const k = i.imm & 7;
  const d = c.xmm[(i.rm << 2) + (k >> 1)] as number;
  c.setReg32(i.reg, k & 1 ? d >>> 16 : d & 0xffff);
}
