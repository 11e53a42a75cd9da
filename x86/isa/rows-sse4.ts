/**
 * Table rows: SSE3, SSSE3, SSE4.1 and SSE4.2 (legacy encodings; SDM vol. 2 opcode map tables
 * and each instruction's page). VEX forms have no rows.
 *
 * Operand notation as in rows-sse.ts. Where Intel's map gives a mixed operand ("Rd/Mb",
 * "Udq/Mw"), the row is split into a register-only and a memory-only row with the same
 * mnemonic, so every operand kind says exactly how wide it is: PEXTRB/PEXTRW (0F 3A 14/15),
 * PINSRB (0F 3A 20) and PMOVSXBQ/PMOVZXBQ (m16). REX.W turns PEXTRD/PINSRD into PEXTRQ/PINSRQ
 * (one row each, Ey; the disassembler renames them) and makes PCMPESTRI/PCMPESTRM read RAX/RDX
 * as 64-bit lengths.
 *
 * Implicit operands: PBLENDVB/BLENDVPS/BLENDVPD read XMM0 as the mask; PCMPESTRx read rAX and
 * rDX; PCMPxSTRI write ECX and PCMPxSTRM write XMM0.
 *
 * CPUID: SSE3 (`sse3`, CPUID.1:ECX bit 0), SSSE3 (`ssse3`, bit 9), SSE4.1 (`sse4_1`, bit 19),
 * SSE4.2 (`sse4_2`, bit 20: PCMPGTQ and the four string instructions). The MMX forms of SSSE3
 * (no 66 prefix) have no rows: #UD, as MMX.
 *
 * Memory alignment follows each page's exception class (see exec/sse4.ts): the 128-bit packed
 * forms fault on a misaligned operand, LDDQU, MOVDDUP m64, the narrow operands and the string
 * instructions do not.
 */
import * as S3 from '../exec/sse3.js';
import { vecOp, type VecOp } from '../exec/sse-int.js';
import * as S4 from '../exec/sse4.js';
import * as SS from '../exec/ssse3.js';
import { row } from './rows-core.js';
import { ARITH, NO_FLAGS, type Feature, type MandatoryPrefix, type OpcodeMap, type OperandKind, type Row } from './types.js';

type Spec = Omit<Parameters<typeof row>[0], 'flags'> & { readonly flags?: Row['flags'] };

/** A row of this file: it uses the SSE state (`fpu: 'sse'`: CR0.EM and CR0.TS gate it). */
function r(spec: Spec): Row {
  return row({ flags: NO_FLAGS, fpu: 'sse', ...spec });
}

const PX: readonly OperandKind[] = ['Vdq', 'Wdq'];
const PXI: readonly OperandKind[] = ['Vdq', 'Wdq', 'Ib'];
/** Flags written by PTEST (ZF, CF; AF OF PF SF cleared) and the string compares (CF ZF SF OF; AF PF cleared). */
const FLAGS_W = { read: 0, write: ARITH, undefined: 0 };

/** `mnemonic xmm, xmm/m128[, imm8]` with a VecOp (memory 16-byte aligned), 66-prefixed. */
function packed(mnemonic: string, map: OpcodeMap, opcode: number, op: VecOp, cpuid: Feature, imm = false): Row {
  return r({ mnemonic, map, opcode, prefix: '66', operands: imm ? PXI : PX, cpuid, exec: (c, i) => vecOp(c, i, op) });
}

function sse3Rows(): Row[] {
  const f = 'sse3';
  const h = (mnemonic: string, opcode: number, prefix: MandatoryPrefix, kind: S3.HorizKind): Row =>
    r({ mnemonic, map: '0f', opcode, prefix, operands: PX, cpuid: f, exec: prefix === '66' ? (c, i) => S3.horizPd(c, i, kind) : (c, i) => S3.horizPs(c, i, kind) });
  return [
    h('addsubpd', 0xd0, '66', 'addsub'),
    h('addsubps', 0xd0, 'f2', 'addsub'),
    h('haddpd', 0x7c, '66', 'hadd'),
    h('haddps', 0x7c, 'f2', 'hadd'),
    h('hsubpd', 0x7d, '66', 'hsub'),
    h('hsubps', 0x7d, 'f2', 'hsub'),
    r({ mnemonic: 'movsldup', map: '0f', opcode: 0x12, prefix: 'f3', operands: PX, cpuid: f, exec: S3.movsldup }),
    r({ mnemonic: 'movshdup', map: '0f', opcode: 0x16, prefix: 'f3', operands: PX, cpuid: f, exec: S3.movshdup }),
    r({ mnemonic: 'movddup', map: '0f', opcode: 0x12, prefix: 'f2', operands: ['Vdq', 'Wq'], cpuid: f, exec: S3.movddup }),
    r({ mnemonic: 'lddqu', map: '0f', opcode: 0xf0, prefix: 'f2', mod: 'mem', operands: ['Vdq', 'Mdq'], cpuid: f, exec: S3.lddqu }),
  ];
}

/** 66 0F 38 opcode -> SSSE3 op `xmm, xmm/m128`. */
const SSSE3_OPS: readonly (readonly [number, string, VecOp])[] = [
  [0x00, 'pshufb', SS.pshufb], [0x01, 'phaddw', SS.phaddw], [0x02, 'phaddd', SS.phaddd], [0x03, 'phaddsw', SS.phaddsw],
  [0x04, 'pmaddubsw', SS.pmaddubsw], [0x05, 'phsubw', SS.phsubw], [0x06, 'phsubd', SS.phsubd], [0x07, 'phsubsw', SS.phsubsw],
  [0x08, 'psignb', SS.psignb], [0x09, 'psignw', SS.psignw], [0x0a, 'psignd', SS.psignd], [0x0b, 'pmulhrsw', SS.pmulhrsw],
  [0x1c, 'pabsb', SS.pabsb], [0x1d, 'pabsw', SS.pabsw], [0x1e, 'pabsd', SS.pabsd],
];

function ssse3Rows(): Row[] {
  return [
    ...SSSE3_OPS.map(([op, m, fn]) => packed(m, '0f38', op, fn, 'ssse3')),
    packed('palignr', '0f3a', 0x0f, SS.palignr, 'ssse3', true),
  ];
}

/** 66 0F 38 opcode -> SSE4.1 op `xmm, xmm/m128`. */
const SSE41_OPS: readonly (readonly [number, string, VecOp])[] = [
  [0x28, 'pmuldq', S4.pmuldq], [0x29, 'pcmpeqq', S4.pcmpeqq], [0x2b, 'packusdw', S4.packusdw],
  [0x38, 'pminsb', S4.pminsb], [0x39, 'pminsd', S4.pminsd], [0x3a, 'pminuw', S4.pminuw], [0x3b, 'pminud', S4.pminud],
  [0x3c, 'pmaxsb', S4.pmaxsb], [0x3d, 'pmaxsd', S4.pmaxsd], [0x3e, 'pmaxuw', S4.pmaxuw], [0x3f, 'pmaxud', S4.pmaxud],
  [0x40, 'pmulld', S4.pmulld], [0x41, 'phminposuw', S4.phminposuw],
];

/** PMOVSX/PMOVZX: low opcode nibble -> (suffix, from, to, source operand). */
const PMOVX: readonly (readonly [number, string, 1 | 2 | 4, 2 | 4 | 8, OperandKind])[] = [
  [0, 'bw', 1, 2, 'Wq'], [1, 'bd', 1, 4, 'Wd'], [2, 'bq', 1, 8, 'Udq'], [3, 'wd', 2, 4, 'Wq'], [4, 'wq', 2, 8, 'Wd'], [5, 'dq', 4, 8, 'Wq'],
];

function sse41Rows(): Row[] {
  const f = 'sse4_1';
  const rows: Row[] = SSE41_OPS.map(([op, m, fn]) => packed(m, '0f38', op, fn, f));
  for (const [lo, suffix, from, to, src] of PMOVX) {
    for (const [base, signed] of [[0x20, true], [0x30, false]] as const) {
      const mnemonic = `pmov${signed ? 's' : 'z'}x${suffix}`;
      const exec = (c: Parameters<Row['exec']>[0], i: Parameters<Row['exec']>[1]): void => S4.pmovx(c, i, from, to, signed);
      if (src === 'Udq') {
        // m16: Intel's "Udq/Mw", split so each row's operand says its width.
        rows.push(r({ mnemonic, map: '0f38', opcode: base + lo, prefix: '66', mod: 'reg', operands: ['Vdq', 'Udq'], cpuid: f, exec }));
        rows.push(r({ mnemonic, map: '0f38', opcode: base + lo, prefix: '66', mod: 'mem', operands: ['Vdq', 'Mw'], cpuid: f, exec }));
      } else rows.push(r({ mnemonic, map: '0f38', opcode: base + lo, prefix: '66', operands: ['Vdq', src], cpuid: f, exec }));
    }
  }
  rows.push(
    r({ mnemonic: 'pblendvb', map: '0f38', opcode: 0x10, prefix: '66', operands: PX, cpuid: f, exec: (c, i) => S4.blendv(c, i, 1) }),
    r({ mnemonic: 'blendvps', map: '0f38', opcode: 0x14, prefix: '66', operands: PX, cpuid: f, exec: (c, i) => S4.blendv(c, i, 4) }),
    r({ mnemonic: 'blendvpd', map: '0f38', opcode: 0x15, prefix: '66', operands: PX, cpuid: f, exec: (c, i) => S4.blendv(c, i, 8) }),
    r({ mnemonic: 'ptest', map: '0f38', opcode: 0x17, prefix: '66', operands: PX, flags: FLAGS_W, cpuid: f, exec: S4.ptest }),
    r({ mnemonic: 'movntdqa', map: '0f38', opcode: 0x2a, prefix: '66', mod: 'mem', operands: ['Vdq', 'Mdq'], cpuid: f, exec: S4.movntdqa }),
    r({ mnemonic: 'roundps', map: '0f3a', opcode: 0x08, prefix: '66', operands: PXI, cpuid: f, exec: (c, i) => S4.roundFp(c, i, false, false) }),
    r({ mnemonic: 'roundpd', map: '0f3a', opcode: 0x09, prefix: '66', operands: PXI, cpuid: f, exec: (c, i) => S4.roundFp(c, i, true, false) }),
    r({ mnemonic: 'roundss', map: '0f3a', opcode: 0x0a, prefix: '66', operands: ['Vss', 'Wss', 'Ib'], cpuid: f, exec: (c, i) => S4.roundFp(c, i, false, true) }),
    r({ mnemonic: 'roundsd', map: '0f3a', opcode: 0x0b, prefix: '66', operands: ['Vsd', 'Wsd', 'Ib'], cpuid: f, exec: (c, i) => S4.roundFp(c, i, true, true) }),
    packed('blendps', '0f3a', 0x0c, S4.blendps, f, true),
    packed('blendpd', '0f3a', 0x0d, S4.blendpd, f, true),
    packed('pblendw', '0f3a', 0x0e, S4.pblendw, f, true),
    r({ mnemonic: 'pextrb', map: '0f3a', opcode: 0x14, prefix: '66', mod: 'reg', operands: ['Rd', 'Vdq', 'Ib'], cpuid: f, exec: (c, i) => S4.pextrBW(c, i, 1) }),
    r({ mnemonic: 'pextrb', map: '0f3a', opcode: 0x14, prefix: '66', mod: 'mem', operands: ['Mb', 'Vdq', 'Ib'], cpuid: f, exec: (c, i) => S4.pextrBW(c, i, 1) }),
    r({ mnemonic: 'pextrw', map: '0f3a', opcode: 0x15, prefix: '66', mod: 'reg', operands: ['Rd', 'Vdq', 'Ib'], cpuid: f, exec: (c, i) => S4.pextrBW(c, i, 2) }),
    r({ mnemonic: 'pextrw', map: '0f3a', opcode: 0x15, prefix: '66', mod: 'mem', operands: ['Mw', 'Vdq', 'Ib'], cpuid: f, exec: (c, i) => S4.pextrBW(c, i, 2) }),
    r({ mnemonic: 'pextrd', map: '0f3a', opcode: 0x16, prefix: '66', operands: ['Ey', 'Vdq', 'Ib'], cpuid: f, exec: S4.pextrDQ }),
    r({ mnemonic: 'extractps', map: '0f3a', opcode: 0x17, prefix: '66', operands: ['Ed', 'Vdq', 'Ib'], cpuid: f, exec: S4.extractps }),
    r({ mnemonic: 'pinsrb', map: '0f3a', opcode: 0x20, prefix: '66', mod: 'reg', operands: ['Vdq', 'Rd', 'Ib'], cpuid: f, exec: S4.pinsrb }),
    r({ mnemonic: 'pinsrb', map: '0f3a', opcode: 0x20, prefix: '66', mod: 'mem', operands: ['Vdq', 'Mb', 'Ib'], cpuid: f, exec: S4.pinsrb }),
    r({ mnemonic: 'insertps', map: '0f3a', opcode: 0x21, prefix: '66', operands: ['Vdq', 'Wd', 'Ib'], cpuid: f, exec: S4.insertps }),
    r({ mnemonic: 'pinsrd', map: '0f3a', opcode: 0x22, prefix: '66', operands: ['Vdq', 'Ey', 'Ib'], cpuid: f, exec: S4.pinsrDQ }),
    r({ mnemonic: 'dpps', map: '0f3a', opcode: 0x40, prefix: '66', operands: PXI, cpuid: f, exec: S4.dpps }),
    r({ mnemonic: 'dppd', map: '0f3a', opcode: 0x41, prefix: '66', operands: PXI, cpuid: f, exec: S4.dppd }),
    packed('mpsadbw', '0f3a', 0x42, S4.mpsadbw, f, true),
  );
  return rows;
}

function sse42Rows(): Row[] {
  const f = 'sse4_2';
  const str = (mnemonic: string, opcode: number, explicit: boolean, index: boolean): Row =>
    r({ mnemonic, map: '0f3a', opcode, prefix: '66', operands: PXI, flags: FLAGS_W, cpuid: f, exec: (c, i) => S4.pcmpstr(c, i, explicit, index) });
  return [
    packed('pcmpgtq', '0f38', 0x37, S4.pcmpgtq, f),
    str('pcmpestrm', 0x60, true, false),
    str('pcmpestri', 0x61, true, true),
    str('pcmpistrm', 0x62, false, false),
    str('pcmpistri', 0x63, false, true),
  ];
}

export const SSE4_ROWS: readonly Row[] = [...sse3Rows(), ...ssse3Rows(), ...sse41Rows(), ...sse42Rows()];
