/**
 * SSSE3 on XMM registers (SDM vol. 2, each instruction's page; vol. 1 §12.9): byte shuffle,
 * horizontal add/subtract (wrapping and saturating), PMADDUBSW, PMULHRSW, PSIGN, PABS, PALIGNR.
 * Only the 66-prefixed XMM forms have rows; the MMX forms (no prefix) stay #UD here, as MMX does.
 *
 * Every op is a `VecOp` (exec/sse-int.ts): `a` the destination's old value, `b` the source
 * (xmm/m128, 16-byte aligned in memory), `r` the result.
 */
import type { VecOp } from './sse-int.js';

const satS16 = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : v);

/** PSHUFB: r[k] = 0 if bit 7 of b[k] is set, else a[b[k] & 15]. */
export const pshufb: VecOp = (a, b, r) => {
  for (let k = 0; k < 16; k++) {
    const s = b.b[k] as number;
    r.b[k] = (s & 0x80) !== 0 ? 0 : (a.b[s & 15] as number);
  }
};

/** PHADDW/PHSUBW/PHADDSW/PHSUBSW: adjacent word pairs of a (low half of r), then of b. */
function horizW(sub: boolean, sat: boolean): VecOp {
  return (a, b, r) => {
    for (let k = 0; k < 8; k++) {
      const s = k < 4 ? a : b;
      const j = (k & 3) * 2;
      const x = s.sw[j] as number;
      const y = s.sw[j + 1] as number;
      const v = sub ? x - y : x + y;
      r.sw[k] = sat ? satS16(v) : v;
    }
  };
}
export const phaddw = horizW(false, false);
export const phsubw = horizW(true, false);
export const phaddsw = horizW(false, true);
export const phsubsw = horizW(true, true);

/** PHADDD/PHSUBD: (a0 op a1, a2 op a3, b0 op b1, b2 op b3), wrapping. */
function horizD(sub: boolean): VecOp {
  return (a, b, r) => {
    for (let k = 0; k < 4; k++) {
      const s = k < 2 ? a : b;
      const j = (k & 1) * 2;
      const x = s.d[j] as number;
      const y = s.d[j + 1] as number;
      r.d[k] = (sub ? x - y : x + y) | 0;
    }
  };
}
export const phaddd = horizD(false);
export const phsubd = horizD(true);

/** PMADDUBSW: unsigned bytes of the destination times signed bytes of the source, pairs summed with signed saturation. */
export const pmaddubsw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) {
    const v = (a.b[2 * k] as number) * (b.sb[2 * k] as number) + (a.b[2 * k + 1] as number) * (b.sb[2 * k + 1] as number);
    r.sw[k] = satS16(v);
  }
};

/**
 * PMULHRSW: ((a * b >> 14) + 1) >> 1 per signed word, the low 16 bits kept (so
 * 0x8000 * 0x8000 gives 0x8000). The product is exact (|p| <= 2^30).
 */
export const pmulhrsw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) r.sw[k] = ((((a.sw[k] as number) * (b.sw[k] as number)) >> 14) + 1) >> 1;
};

/** PSIGNB/W/D: a negated where b < 0 (wrapping: the most negative value stays), zeroed where b = 0. */
export const psignb: VecOp = (a, b, r) => {
  for (let k = 0; k < 16; k++) {
    const s = b.sb[k] as number;
    r.sb[k] = s < 0 ? -(a.sb[k] as number) : s === 0 ? 0 : (a.sb[k] as number);
  }
};
export const psignw: VecOp = (a, b, r) => {
  for (let k = 0; k < 8; k++) {
    const s = b.sw[k] as number;
    r.sw[k] = s < 0 ? -(a.sw[k] as number) : s === 0 ? 0 : (a.sw[k] as number);
  }
};
export const psignd: VecOp = (a, b, r) => {
  for (let k = 0; k < 4; k++) {
    const s = b.d[k] as number;
    r.d[k] = s < 0 ? -(a.d[k] as number) | 0 : s === 0 ? 0 : (a.d[k] as number);
  }
};

/** PABSB/W/D: the unsigned absolute value of each signed source element (-128 gives 0x80). */
export const pabsb: VecOp = (_a, b, r) => {
  for (let k = 0; k < 16; k++) r.b[k] = Math.abs(b.sb[k] as number);
};
export const pabsw: VecOp = (_a, b, r) => {
  for (let k = 0; k < 8; k++) r.w[k] = Math.abs(b.sw[k] as number);
};
export const pabsd: VecOp = (_a, b, r) => {
  for (let k = 0; k < 4; k++) r.d[k] = Math.abs(b.d[k] as number) | 0;
};

/**
 * PALIGNR xmm1, xmm2/m128, imm8: the 32-byte value a:b (b the low half) shifted right by imm8
 * bytes, the low 16 kept; bytes shifted in from beyond are zero (imm8 >= 32 clears everything).
 */
export const palignr: VecOp = (a, b, r, imm) => {
  for (let k = 0; k < 16; k++) {
    const s = k + imm;
    r.b[k] = s < 16 ? (b.b[s] as number) : s < 32 ? (a.b[s - 16] as number) : 0;
  }
};
