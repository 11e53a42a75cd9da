/**
 * SSE3 (SDM vol. 1 §12.3, vol. 2 each instruction's page): the horizontal and alternating float
 * arithmetic (ADDSUBPS/PD, HADDPS/PD, HSUBPS/PD), the duplicating moves (MOVSLDUP, MOVSHDUP,
 * MOVDDUP) and LDDQU. FISTTP, MONITOR and MWAIT have no rows.
 *
 * The arithmetic reuses SSE's correctly rounded elements (exec/sse-float.ts `fpElem`): every
 * add or subtract is one ADDSS/SUBSS-like operation with its own MXCSR flags, and an unmasked
 * exception leaves the destination unchanged (#XM). NaN propagation follows the operand order
 * of each element's operation (the first source is the lower-numbered element).
 */
import type { Cpu } from '../cpu.js';
import type { Insn } from '../decoder.js';
import { fpElem } from './sse-float.js';
import { VA, VB, VR, loadW, loadX, storeX } from './sse.js';

/** Which operation: ADDSUB (sub in even lanes, add in odd), HADD, HSUB. */
export type HorizKind = 'addsub' | 'hadd' | 'hsub';

/**
 * ADDSUBPS/HADDPS/HSUBPS xmm1, xmm2/m128 (F2 0F D0/7C/7D, memory 16-byte aligned):
 *  ADDSUB: r[k] = a[k] - b[k] for even k, a[k] + b[k] for odd k;
 *  HADD/HSUB: r = (a0 op a1, a2 op a3, b0 op b1, b2 op b3).
 */
export function horizPs(c: Cpu, i: Insn, kind: HorizKind): void {
  const F = fpElem;
  F.begin(c);
  loadX(c, i.reg, VA.d);
  loadW(c, i, VB.d, 16, true);
  const a = VA.d;
  const b = VB.d;
  const r = VR.d;
  for (let k = 0; k < 4; k++) {
    F.elemStart();
    let v: number;
    if (kind === 'addsub') v = (k & 1) === 0 ? F.sub32(a[k] as number, b[k] as number) : F.add32(a[k] as number, b[k] as number);
    else {
      const s = k < 2 ? a : b;
      const x = s[(k & 1) * 2] as number;
      const y = s[(k & 1) * 2 + 1] as number;
      v = kind === 'hadd' ? F.add32(x, y) : F.sub32(x, y);
    }
    r[k] = F.elemEnd(v);
  }
  F.commit(c);
  storeX(c, i.reg, r);
}

/**
 * ADDSUBPD/HADDPD/HSUBPD xmm1, xmm2/m128 (66 0F D0/7C/7D, memory 16-byte aligned):
 *  ADDSUB: (a0 - b0, a1 + b1); HADD/HSUB: (a0 op a1, b0 op b1).
 */
export function horizPd(c: Cpu, i: Insn, kind: HorizKind): void {
  const F = fpElem;
  F.begin(c);
  loadX(c, i.reg, VA.d);
  loadW(c, i, VB.d, 16, true);
  const a = VA.d;
  const b = VB.d;
  const r = VR.d;
  for (let k = 0; k < 2; k++) {
    F.elemStart();
    let lo: number;
    if (kind === 'addsub') {
      const op = k === 0 ? F.sub64 : F.add64;
      lo = op(a[2 * k] as number, a[2 * k + 1] as number, b[2 * k] as number, b[2 * k + 1] as number);
    } else {
      const s = k === 0 ? a : b;
      const op = kind === 'hadd' ? F.add64 : F.sub64;
      lo = op(s[0] as number, s[1] as number, s[2] as number, s[3] as number);
    }
    r[2 * k] = F.elemEnd(lo);
    r[2 * k + 1] = F.hi();
  }
  F.commit(c);
  storeX(c, i.reg, r);
}

/** MOVSLDUP (F3 0F 12): the even dwords duplicated, (b0, b0, b2, b2); aligned m128. */
export function movsldup(c: Cpu, i: Insn): void {
  loadW(c, i, VB.d, 16, true);
  const b = VB.d;
  VR.d[0] = b[0] as number;
  VR.d[1] = b[0] as number;
  VR.d[2] = b[2] as number;
  VR.d[3] = b[2] as number;
  storeX(c, i.reg, VR.d);
}

/** MOVSHDUP (F3 0F 16): the odd dwords duplicated, (b1, b1, b3, b3); aligned m128. */
export function movshdup(c: Cpu, i: Insn): void {
  loadW(c, i, VB.d, 16, true);
  const b = VB.d;
  VR.d[0] = b[1] as number;
  VR.d[1] = b[1] as number;
  VR.d[2] = b[3] as number;
  VR.d[3] = b[3] as number;
  storeX(c, i.reg, VR.d);
}

/** MOVDDUP (F2 0F 12): the low qword (a register's, or m64, no alignment rule) into both halves. */
export function movddup(c: Cpu, i: Insn): void {
  loadW(c, i, VB.d, 8, false);
  VB.d[2] = VB.d[0] as number;
  VB.d[3] = VB.d[1] as number;
  storeX(c, i.reg, VB.d);
}

/** LDDQU xmm, m128 (F2 0F F0): an unaligned 16-byte load (no #GP for any alignment). */
export function lddqu(c: Cpu, i: Insn): void {
  loadW(c, i, VB.d, 16, false);
  storeX(c, i.reg, VB.d);
}
