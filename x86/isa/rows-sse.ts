/**
 * Table rows: SSE and SSE2 (XMM registers and MXCSR; SDM vol. 2, opcode map tables ).
 *
 * Operand notation: packed operands use Vdq/Wdq (the SDM's Vps/Vpd/Vx forms), scalars Vss/Wss
 * and Vsd/Wsd, 64-bit halves Vq/Wq/Mq. Rows are distinguished by mandatory prefix; the mnemonic
 * already differs across prefixes (addps/addpd/addss/addsd), so no name needs a suffix.
 *
 * CPUID: the no-prefix 0F forms on XMM registers are SSE; every 66/F2 form, the F3 integer
 * forms (MOVDQU, MOVQ, PSHUFHW, CVTTPS2DQ, CVTDQ2PD) and MOVNTI are SSE2. MMX (no-prefix 0F
 * 60-7F, D0-FF) has no rows: those encodings are #UD here.
 *
 * Memory alignment: packed 128-bit memory operands fault with #GP(0) when misaligned, except
 * MOVUPS/MOVUPD/MOVDQU (see exec/sse.ts). The differential tester should keep that in mind when
 * it generates addresses.
 */
import {
  movHalfLoad, movHalfStore, movScalarLoad, movScalarStore, movVW, movWV, movdEV, movdVE, movhlps, movlhps,
  movmskpd, movmskps, movnti, movqVW, movqWV, pmovmskb, ldmxcsr, stmxcsr,
} from '../exec/sse.js';
import { comis, cvt, cvtSiTo, cvtToSi, fpHandler, type CvtKind, type FpKind } from '../exec/sse-float.js';
import * as I from '../exec/sse-int.js';
import { vecOp, vecShiftImm, type VecOp } from '../exec/sse-int.js';
import { row } from './rows-core.js';
import { ARITH, NO_FLAGS, type Feature, type MandatoryPrefix, type OperandKind, type Row } from './types.js';

type Spec = Omit<Parameters<typeof row>[0], 'flags'> & { readonly flags?: Row['flags'] };

/** A row of this file: it uses the SSE state (`fpu: 'sse'`: CR0.EM and CR0.TS gate it). */
function r(spec: Spec): Row {
  return row({ flags: NO_FLAGS, fpu: 'sse', ...spec });
}

const PX: readonly OperandKind[] = ['Vdq', 'Wdq'];

/** A packed op `mnemonic xmm, xmm/m128` (66 0F opcode unless told otherwise). */
function packed(mnemonic: string, opcode: number, op: VecOp, prefix: MandatoryPrefix = '66', cpuid: Feature = 'sse2'): Row {
  return r({ mnemonic, map: '0f', opcode, prefix, operands: PX, cpuid, exec: (c, i) => vecOp(c, i, op) });
}

function moveRows(): Row[] {
  const sse = 'sse';
  const sse2 = 'sse2';
  return [
    r({ mnemonic: 'movups', map: '0f', opcode: 0x10, prefix: 'none', operands: ['Vdq', 'Wdq'], cpuid: sse, exec: (c, i) => movVW(c, i, false) }),
    r({ mnemonic: 'movups', map: '0f', opcode: 0x11, prefix: 'none', operands: ['Wdq', 'Vdq'], cpuid: sse, exec: (c, i) => movWV(c, i, false) }),
    r({ mnemonic: 'movupd', map: '0f', opcode: 0x10, prefix: '66', operands: ['Vdq', 'Wdq'], cpuid: sse2, exec: (c, i) => movVW(c, i, false) }),
    r({ mnemonic: 'movupd', map: '0f', opcode: 0x11, prefix: '66', operands: ['Wdq', 'Vdq'], cpuid: sse2, exec: (c, i) => movWV(c, i, false) }),
    r({ mnemonic: 'movss', map: '0f', opcode: 0x10, prefix: 'f3', operands: ['Vss', 'Wss'], cpuid: sse, exec: (c, i) => movScalarLoad(c, i, 4) }),
    r({ mnemonic: 'movss', map: '0f', opcode: 0x11, prefix: 'f3', operands: ['Wss', 'Vss'], cpuid: sse, exec: (c, i) => movScalarStore(c, i, 4) }),
    r({ mnemonic: 'movsd', map: '0f', opcode: 0x10, prefix: 'f2', operands: ['Vsd', 'Wsd'], cpuid: sse2, exec: (c, i) => movScalarLoad(c, i, 8) }),
    r({ mnemonic: 'movsd', map: '0f', opcode: 0x11, prefix: 'f2', operands: ['Wsd', 'Vsd'], cpuid: sse2, exec: (c, i) => movScalarStore(c, i, 8) }),
    r({ mnemonic: 'movlps', map: '0f', opcode: 0x12, prefix: 'none', mod: 'mem', operands: ['Vq', 'Mq'], cpuid: sse, exec: (c, i) => movHalfLoad(c, i, false) }),
    r({ mnemonic: 'movhlps', map: '0f', opcode: 0x12, prefix: 'none', mod: 'reg', operands: ['Vq', 'Udq'], cpuid: sse, exec: movhlps }),
    r({ mnemonic: 'movlpd', map: '0f', opcode: 0x12, prefix: '66', mod: 'mem', operands: ['Vq', 'Mq'], cpuid: sse2, exec: (c, i) => movHalfLoad(c, i, false) }),
    r({ mnemonic: 'movlps', map: '0f', opcode: 0x13, prefix: 'none', mod: 'mem', operands: ['Mq', 'Vq'], cpuid: sse, exec: (c, i) => movHalfStore(c, i, false) }),
    r({ mnemonic: 'movlpd', map: '0f', opcode: 0x13, prefix: '66', mod: 'mem', operands: ['Mq', 'Vq'], cpuid: sse2, exec: (c, i) => movHalfStore(c, i, false) }),
    r({ mnemonic: 'movhps', map: '0f', opcode: 0x16, prefix: 'none', mod: 'mem', operands: ['Vdq', 'Mq'], cpuid: sse, exec: (c, i) => movHalfLoad(c, i, true) }),
    r({ mnemonic: 'movlhps', map: '0f', opcode: 0x16, prefix: 'none', mod: 'reg', operands: ['Vdq', 'Udq'], cpuid: sse, exec: movlhps }),
    r({ mnemonic: 'movhpd', map: '0f', opcode: 0x16, prefix: '66', mod: 'mem', operands: ['Vdq', 'Mq'], cpuid: sse2, exec: (c, i) => movHalfLoad(c, i, true) }),
    r({ mnemonic: 'movhps', map: '0f', opcode: 0x17, prefix: 'none', mod: 'mem', operands: ['Mq', 'Vdq'], cpuid: sse, exec: (c, i) => movHalfStore(c, i, true) }),
    r({ mnemonic: 'movhpd', map: '0f', opcode: 0x17, prefix: '66', mod: 'mem', operands: ['Mq', 'Vdq'], cpuid: sse2, exec: (c, i) => movHalfStore(c, i, true) }),
    r({ mnemonic: 'movaps', map: '0f', opcode: 0x28, prefix: 'none', operands: ['Vdq', 'Wdq'], cpuid: sse, exec: (c, i) => movVW(c, i, true) }),
    r({ mnemonic: 'movaps', map: '0f', opcode: 0x29, prefix: 'none', operands: ['Wdq', 'Vdq'], cpuid: sse, exec: (c, i) => movWV(c, i, true) }),
    r({ mnemonic: 'movapd', map: '0f', opcode: 0x28, prefix: '66', operands: ['Vdq', 'Wdq'], cpuid: sse2, exec: (c, i) => movVW(c, i, true) }),
    r({ mnemonic: 'movapd', map: '0f', opcode: 0x29, prefix: '66', operands: ['Wdq', 'Vdq'], cpuid: sse2, exec: (c, i) => movWV(c, i, true) }),
    r({ mnemonic: 'movntps', map: '0f', opcode: 0x2b, prefix: 'none', mod: 'mem', operands: ['Mdq', 'Vdq'], cpuid: sse, exec: (c, i) => movWV(c, i, true) }),
    r({ mnemonic: 'movntpd', map: '0f', opcode: 0x2b, prefix: '66', mod: 'mem', operands: ['Mdq', 'Vdq'], cpuid: sse2, exec: (c, i) => movWV(c, i, true) }),
    r({ mnemonic: 'movmskps', map: '0f', opcode: 0x50, prefix: 'none', mod: 'reg', operands: ['Gd', 'Udq'], cpuid: sse, exec: movmskps }),
    r({ mnemonic: 'movmskpd', map: '0f', opcode: 0x50, prefix: '66', mod: 'reg', operands: ['Gd', 'Udq'], cpuid: sse2, exec: movmskpd }),
    r({ mnemonic: 'movd', map: '0f', opcode: 0x6e, prefix: '66', operands: ['Vdq', 'Ey'], cpuid: sse2, exec: movdVE }),
    r({ mnemonic: 'movdqa', map: '0f', opcode: 0x6f, prefix: '66', operands: ['Vdq', 'Wdq'], cpuid: sse2, exec: (c, i) => movVW(c, i, true) }),
    r({ mnemonic: 'movdqu', map: '0f', opcode: 0x6f, prefix: 'f3', operands: ['Vdq', 'Wdq'], cpuid: sse2, exec: (c, i) => movVW(c, i, false) }),
    r({ mnemonic: 'movd', map: '0f', opcode: 0x7e, prefix: '66', operands: ['Ey', 'Vdq'], cpuid: sse2, exec: movdEV }),
    r({ mnemonic: 'movq', map: '0f', opcode: 0x7e, prefix: 'f3', operands: ['Vq', 'Wq'], cpuid: sse2, exec: movqVW }),
    r({ mnemonic: 'movdqa', map: '0f', opcode: 0x7f, prefix: '66', operands: ['Wdq', 'Vdq'], cpuid: sse2, exec: (c, i) => movWV(c, i, true) }),
    r({ mnemonic: 'movdqu', map: '0f', opcode: 0x7f, prefix: 'f3', operands: ['Wdq', 'Vdq'], cpuid: sse2, exec: (c, i) => movWV(c, i, false) }),
    // A general-register store: no SSE state, so CR0.TS and EM do not concern it (no `fpu`).
    row({ mnemonic: 'movnti', map: '0f', opcode: 0xc3, prefix: 'none', mod: 'mem', operands: ['My', 'Gy'], flags: NO_FLAGS, cpuid: sse2, exec: movnti }),
    r({ mnemonic: 'movq', map: '0f', opcode: 0xd6, prefix: '66', operands: ['Wq', 'Vq'], cpuid: sse2, exec: movqWV }),
    r({ mnemonic: 'pmovmskb', map: '0f', opcode: 0xd7, prefix: '66', mod: 'reg', operands: ['Gd', 'Udq'], cpuid: sse2, exec: pmovmskb }),
    r({ mnemonic: 'movntdq', map: '0f', opcode: 0xe7, prefix: '66', mod: 'mem', operands: ['Mdq', 'Vdq'], cpuid: sse2, exec: (c, i) => movWV(c, i, true) }),
    r({ mnemonic: 'ldmxcsr', map: '0f', opcode: 0xae, prefix: 'none', reg: 2, mod: 'mem', operands: ['Md'], cpuid: sse, exec: ldmxcsr }),
    r({ mnemonic: 'stmxcsr', map: '0f', opcode: 0xae, prefix: 'none', reg: 3, mod: 'mem', operands: ['Md'], cpuid: sse, exec: stmxcsr }),
  ];
}

/** 66 0F opcode -> (mnemonic, op) for the SSE2 integer instructions of the form `op xmm, xmm/m128`. */
const INT_OPS: readonly (readonly [number, string, VecOp])[] = [
  [0x60, 'punpcklbw', I.punpcklbw], [0x61, 'punpcklwd', I.punpcklwd], [0x62, 'punpckldq', I.punpckldq],
  [0x63, 'packsswb', I.packsswb], [0x64, 'pcmpgtb', I.pcmpgtb], [0x65, 'pcmpgtw', I.pcmpgtw],
  [0x66, 'pcmpgtd', I.pcmpgtd], [0x67, 'packuswb', I.packuswb], [0x68, 'punpckhbw', I.punpckhbw],
  [0x69, 'punpckhwd', I.punpckhwd], [0x6a, 'punpckhdq', I.punpckhdq], [0x6b, 'packssdw', I.packssdw],
  [0x6c, 'punpcklqdq', I.punpcklqdq], [0x6d, 'punpckhqdq', I.punpckhqdq],
  [0x74, 'pcmpeqb', I.pcmpeqb], [0x75, 'pcmpeqw', I.pcmpeqw], [0x76, 'pcmpeqd', I.pcmpeqd],
  [0xd1, 'psrlw', I.psrlw], [0xd2, 'psrld', I.psrld], [0xd3, 'psrlq', I.psrlq], [0xd4, 'paddq', I.paddq],
  [0xd5, 'pmullw', I.pmullw], [0xd8, 'psubusb', I.psubusb], [0xd9, 'psubusw', I.psubusw],
  [0xda, 'pminub', I.pminub], [0xdb, 'pand', I.pand], [0xdc, 'paddusb', I.paddusb], [0xdd, 'paddusw', I.paddusw],
  [0xde, 'pmaxub', I.pmaxub], [0xdf, 'pandn', I.pandn],
  [0xe0, 'pavgb', I.pavgb], [0xe1, 'psraw', I.psraw], [0xe2, 'psrad', I.psrad], [0xe3, 'pavgw', I.pavgw],
  [0xe4, 'pmulhuw', I.pmulhuw], [0xe5, 'pmulhw', I.pmulhw], [0xe8, 'psubsb', I.psubsb], [0xe9, 'psubsw', I.psubsw],
  [0xea, 'pminsw', I.pminsw], [0xeb, 'por', I.por], [0xec, 'paddsb', I.paddsb], [0xed, 'paddsw', I.paddsw],
  [0xee, 'pmaxsw', I.pmaxsw], [0xef, 'pxor', I.pxor],
  [0xf1, 'psllw', I.psllw], [0xf2, 'pslld', I.pslld], [0xf3, 'psllq', I.psllq], [0xf4, 'pmuludq', I.pmuludq],
  [0xf5, 'pmaddwd', I.pmaddwd], [0xf6, 'psadbw', I.psadbw],
  [0xf8, 'psubb', I.psubb], [0xf9, 'psubw', I.psubw], [0xfa, 'psubd', I.psubd], [0xfb, 'psubq', I.psubq],
  [0xfc, 'paddb', I.paddb], [0xfd, 'paddw', I.paddw], [0xfe, 'paddd', I.paddd],
];

/** Shift-by-immediate groups 66 0F 71/72/73: (opcode, ModRM.reg, mnemonic, op). */
const SHIFT_IMM: readonly (readonly [number, number, string, VecOp])[] = [
  [0x71, 2, 'psrlw', I.psrlw], [0x71, 4, 'psraw', I.psraw], [0x71, 6, 'psllw', I.psllw],
  [0x72, 2, 'psrld', I.psrld], [0x72, 4, 'psrad', I.psrad], [0x72, 6, 'pslld', I.pslld],
  [0x73, 2, 'psrlq', I.psrlq], [0x73, 3, 'psrldq', I.psrldq], [0x73, 6, 'psllq', I.psllq], [0x73, 7, 'pslldq', I.pslldq],
];

function intRows(): Row[] {
  const rows: Row[] = INT_OPS.map(([op, m, fn]) => packed(m, op, fn));
  for (const [op, reg, m, fn] of SHIFT_IMM) {
    rows.push(r({ mnemonic: m, map: '0f', opcode: op, prefix: '66', reg, mod: 'reg', operands: ['Udq', 'Ib'], cpuid: 'sse2', exec: (c, i) => vecShiftImm(c, i, fn) }));
  }
  const IB: readonly OperandKind[] = ['Vdq', 'Wdq', 'Ib'];
  rows.push(
    r({ mnemonic: 'pshufd', map: '0f', opcode: 0x70, prefix: '66', operands: IB, cpuid: 'sse2', exec: (c, i) => vecOp(c, i, I.pshufd) }),
    r({ mnemonic: 'pshufhw', map: '0f', opcode: 0x70, prefix: 'f3', operands: IB, cpuid: 'sse2', exec: (c, i) => vecOp(c, i, I.pshufhw) }),
    r({ mnemonic: 'pshuflw', map: '0f', opcode: 0x70, prefix: 'f2', operands: IB, cpuid: 'sse2', exec: (c, i) => vecOp(c, i, I.pshuflw) }),
    r({ mnemonic: 'shufps', map: '0f', opcode: 0xc6, prefix: 'none', operands: IB, cpuid: 'sse', exec: (c, i) => vecOp(c, i, I.shufps) }),
    r({ mnemonic: 'shufpd', map: '0f', opcode: 0xc6, prefix: '66', operands: IB, cpuid: 'sse2', exec: (c, i) => vecOp(c, i, I.shufpd) }),
    r({ mnemonic: 'pinsrw', map: '0f', opcode: 0xc4, prefix: '66', operands: ['Vdq', 'Ew', 'Ib'], cpuid: 'sse2', exec: I.pinsrw }),
    r({ mnemonic: 'pextrw', map: '0f', opcode: 0xc5, prefix: '66', mod: 'reg', operands: ['Gd', 'Udq', 'Ib'], cpuid: 'sse2', exec: I.pextrw }),
    // Float unpacks and bitwise logic: the same bit operations as the integer forms.
    packed('unpcklps', 0x14, I.punpckldq, 'none', 'sse'),
    packed('unpckhps', 0x15, I.punpckhdq, 'none', 'sse'),
    packed('unpcklpd', 0x14, I.punpcklqdq),
    packed('unpckhpd', 0x15, I.punpckhqdq),
    packed('andps', 0x54, I.pand, 'none', 'sse'),
    packed('andnps', 0x55, I.pandn, 'none', 'sse'),
    packed('orps', 0x56, I.por, 'none', 'sse'),
    packed('xorps', 0x57, I.pxor, 'none', 'sse'),
    packed('andpd', 0x54, I.pand),
    packed('andnpd', 0x55, I.pandn),
    packed('orpd', 0x56, I.por),
    packed('xorpd', 0x57, I.pxor),
  );
  return rows;
}

/** Float arithmetic: 0F opcode, kind; each in four forms by prefix (none ps, 66 pd, F3 ss, F2 sd). */
const FP_OPS: readonly (readonly [number, string, FpKind])[] = [
  [0x51, 'sqrt', 'sqrt'], [0x58, 'add', 'add'], [0x59, 'mul', 'mul'], [0x5c, 'sub', 'sub'],
  [0x5d, 'min', 'min'], [0x5e, 'div', 'div'], [0x5f, 'max', 'max'], [0xc2, 'cmp', 'cmp'],
];

const FORMS = [
  { form: 'ps', prefix: 'none', ops: ['Vdq', 'Wdq'], cpuid: 'sse' },
  { form: 'pd', prefix: '66', ops: ['Vdq', 'Wdq'], cpuid: 'sse2' },
  { form: 'ss', prefix: 'f3', ops: ['Vss', 'Wss'], cpuid: 'sse' },
  { form: 'sd', prefix: 'f2', ops: ['Vsd', 'Wsd'], cpuid: 'sse2' },
] as const;

/** ZF PF CF from the comparison, OF SF AF cleared. */
const COMIS_FLAGS = { read: 0, write: ARITH, undefined: 0 };

function floatRows(): Row[] {
  const rows: Row[] = [];
  for (const [opcode, m, kind] of FP_OPS) {
    for (const f of FORMS) {
      const operands: readonly OperandKind[] = kind === 'cmp' ? [...f.ops, 'Ib'] : f.ops;
      rows.push(r({ mnemonic: `${m}${f.form}`, map: '0f', opcode, prefix: f.prefix, operands, cpuid: f.cpuid, exec: fpHandler(kind, f.form) }));
    }
  }
  const cv = (mnemonic: string, opcode: number, prefix: MandatoryPrefix, operands: readonly OperandKind[], kind: CvtKind): Row =>
    r({ mnemonic, map: '0f', opcode, prefix, operands, cpuid: 'sse2', exec: (c, i) => cvt(c, i, kind) });
  rows.push(
    r({ mnemonic: 'ucomiss', map: '0f', opcode: 0x2e, prefix: 'none', operands: ['Vss', 'Wss'], flags: COMIS_FLAGS, cpuid: 'sse', exec: (c, i) => comis(c, i, false, false) }),
    r({ mnemonic: 'ucomisd', map: '0f', opcode: 0x2e, prefix: '66', operands: ['Vsd', 'Wsd'], flags: COMIS_FLAGS, cpuid: 'sse2', exec: (c, i) => comis(c, i, true, false) }),
    r({ mnemonic: 'comiss', map: '0f', opcode: 0x2f, prefix: 'none', operands: ['Vss', 'Wss'], flags: COMIS_FLAGS, cpuid: 'sse', exec: (c, i) => comis(c, i, false, true) }),
    r({ mnemonic: 'comisd', map: '0f', opcode: 0x2f, prefix: '66', operands: ['Vsd', 'Wsd'], flags: COMIS_FLAGS, cpuid: 'sse2', exec: (c, i) => comis(c, i, true, true) }),
    r({ mnemonic: 'cvtsi2ss', map: '0f', opcode: 0x2a, prefix: 'f3', operands: ['Vss', 'Ey'], cpuid: 'sse', exec: (c, i) => cvtSiTo(c, i, false) }),
    r({ mnemonic: 'cvtsi2sd', map: '0f', opcode: 0x2a, prefix: 'f2', operands: ['Vsd', 'Ey'], cpuid: 'sse2', exec: (c, i) => cvtSiTo(c, i, true) }),
    r({ mnemonic: 'cvttss2si', map: '0f', opcode: 0x2c, prefix: 'f3', operands: ['Gy', 'Wss'], cpuid: 'sse', exec: (c, i) => cvtToSi(c, i, false, true) }),
    r({ mnemonic: 'cvttsd2si', map: '0f', opcode: 0x2c, prefix: 'f2', operands: ['Gy', 'Wsd'], cpuid: 'sse2', exec: (c, i) => cvtToSi(c, i, true, true) }),
    r({ mnemonic: 'cvtss2si', map: '0f', opcode: 0x2d, prefix: 'f3', operands: ['Gy', 'Wss'], cpuid: 'sse', exec: (c, i) => cvtToSi(c, i, false, false) }),
    r({ mnemonic: 'cvtsd2si', map: '0f', opcode: 0x2d, prefix: 'f2', operands: ['Gy', 'Wsd'], cpuid: 'sse2', exec: (c, i) => cvtToSi(c, i, true, false) }),
    cv('cvtps2pd', 0x5a, 'none', ['Vdq', 'Wq'], 'ps2pd'),
    cv('cvtpd2ps', 0x5a, '66', ['Vdq', 'Wdq'], 'pd2ps'),
    cv('cvtss2sd', 0x5a, 'f3', ['Vsd', 'Wss'], 'ss2sd'),
    cv('cvtsd2ss', 0x5a, 'f2', ['Vss', 'Wsd'], 'sd2ss'),
    cv('cvtdq2ps', 0x5b, 'none', ['Vdq', 'Wdq'], 'dq2ps'),
    cv('cvtps2dq', 0x5b, '66', ['Vdq', 'Wdq'], 'ps2dq'),
    cv('cvttps2dq', 0x5b, 'f3', ['Vdq', 'Wdq'], 'tps2dq'),
    cv('cvttpd2dq', 0xe6, '66', ['Vdq', 'Wdq'], 'tpd2dq'),
    cv('cvtpd2dq', 0xe6, 'f2', ['Vdq', 'Wdq'], 'pd2dq'),
    cv('cvtdq2pd', 0xe6, 'f3', ['Vdq', 'Wq'], 'dq2pd'),
  );
  return rows;
}

export const SSE_ROWS: readonly Row[] = [...moveRows(), ...intRows(), ...floatRows()];
