/**
 * Table rows: the integer core (ALU, data movement, stack, control flow, condition codes).
 * Regular families come from small loops over their encoding bits, as in the SDM's opcode map.
 */
import { aluALIb, aluEbGb, aluEbIb, aluEvGv, aluEvI, aluGbEb, aluGvEv, aluRaxIz, incDec, negNot, testAI, testEG, testEI } from '../exec/alu.js';
import { callE, callJ, cmovGE, jccJ, jmpE, jmpJ, loopJ, ret, setccE } from '../exec/control.js';
import { cbw, cwd, lea, leave, movEG, movEI, movGE, movsx, movsxd, movZI, movzx, popE, popZ, pushE, pushI, pushZ, xchgAZ, xchgEG } from '../exec/data.js';
import { jitCallE, jitCmov, jitJmpE, jitSetcc, jitAluEbGb, jitAluEbIb, jitAluGbEb, jitMovEbGb, jitMovEbIb, jitMovGbEb, jitMovZbIb, jitTestEbGb, jitAluEvGv, jitAluEvI, jitAluGvEv, jitCall, jitIncDec, jitJcc, jitJmp, jitLea, jitMovEvGv, jitMovEvIz, jitMovGvEv, jitMovsxB, jitMovsxd, jitMovsxW, jitMovZvIv, jitMovzxB, jitMovzxW, jitNop, jitPopZ, jitPushZ, jitRet, jitTestEvGv, jitAluAlIb, jitTestEbIb, jitTestEvI, jitNegNot } from '../jit-templates.js';
import { ARITH, AF, CF, NO_FLAGS, OF, PF, SF, ZF, rowName, type FlagEffect, type OperandKind, type Row } from './types.js';

type RowSpec = Omit<Row, 'name'> & { readonly name?: string };

export function row(spec: RowSpec): Row {
  return { ...spec, name: spec.name ?? rowName(spec.mnemonic, spec.operands) };
}

const ARITH_W: FlagEffect = { read: 0, write: ARITH, undefined: 0 };
const ARITH_RW: FlagEffect = { read: CF, write: ARITH, undefined: 0 };
const LOGIC: FlagEffect = { read: 0, write: ARITH, undefined: AF };
const INCDEC: FlagEffect = { read: 0, write: OF | SF | ZF | AF | PF, undefined: 0 };
/** Flags each condition code reads (cc >> 1: O, B, Z, BE, S, P, L, LE). */
const CC_READS = [OF, CF, ZF, CF | ZF, SF, PF, SF | OF, ZF | SF | OF] as const;
const CC_NAMES = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'] as const;
const ccReads = (cc: number): FlagEffect => ({ read: CC_READS[cc >> 1] as number, write: 0, undefined: 0 });

const ALU_NAMES = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'] as const;

function aluRows(): Row[] {
  const rows: Row[] = [];
  ALU_NAMES.forEach((m, op) => {
    const flags = op === 2 || op === 3 ? ARITH_RW : op === 1 || op === 4 || op === 6 ? LOGIC : ARITH_W;
    const lock = op !== 7;
    const b = op * 8;
    rows.push(
      row({ mnemonic: m, map: 'one', opcode: b, operands: ['Eb', 'Gb'], flags, lock, exec: aluEbGb, jit: jitAluEbGb }),
      row({ mnemonic: m, map: 'one', opcode: b + 1, operands: ['Ev', 'Gv'], flags, lock, exec: aluEvGv, jit: jitAluEvGv }),
      row({ mnemonic: m, map: 'one', opcode: b + 2, operands: ['Gb', 'Eb'], flags, exec: aluGbEb, jit: jitAluGbEb }),
      row({ mnemonic: m, map: 'one', opcode: b + 3, operands: ['Gv', 'Ev'], flags, exec: aluGvEv, jit: jitAluGvEv }),
      row({ mnemonic: m, map: 'one', opcode: b + 4, operands: ['AL', 'Ib'], flags, exec: aluALIb, jit: jitAluAlIb }),
      row({ mnemonic: m, map: 'one', opcode: b + 5, operands: ['rAX', 'Iz'], flags, exec: aluRaxIz, jit: jitAluEvI }),
      row({ mnemonic: m, map: 'one', opcode: 0x80, reg: op, operands: ['Eb', 'Ib'], flags, lock, exec: aluEbIb, jit: jitAluEbIb }),
      row({ mnemonic: m, map: 'one', opcode: 0x81, reg: op, operands: ['Ev', 'Iz'], flags, lock, exec: aluEvI, jit: jitAluEvI }),
      row({ name: `${m}_Eb_Ib_82`, mnemonic: m, map: 'one', opcode: 0x82, reg: op, operands: ['Eb', 'Ib'], modes: 'i64', flags, lock, exec: aluEbIb }),
      row({ mnemonic: m, map: 'one', opcode: 0x83, reg: op, operands: ['Ev', 'sIb'], flags, lock, exec: aluEvI, jit: jitAluEvI }),
    );
  });
  return rows;
}

function unaryRows(): Row[] {
  return [
    row({ mnemonic: 'test', map: 'one', opcode: 0x84, operands: ['Eb', 'Gb'], flags: LOGIC, exec: (c, i) => testEG(c, i, 1), jit: jitTestEbGb }),
    row({ mnemonic: 'test', map: 'one', opcode: 0x85, operands: ['Ev', 'Gv'], flags: LOGIC, exec: (c, i) => testEG(c, i, i.opsize), jit: jitTestEvGv }),
    row({ mnemonic: 'test', map: 'one', opcode: 0xa8, operands: ['AL', 'Ib'], flags: LOGIC, exec: (c, i) => testAI(c, i, 1), jit: jitTestEbIb }),
    row({ mnemonic: 'test', map: 'one', opcode: 0xa9, operands: ['rAX', 'Iz'], flags: LOGIC, exec: (c, i) => testAI(c, i, i.opsize), jit: jitTestEvI }),
    row({ mnemonic: 'test', map: 'one', opcode: 0xf6, reg: 0, operands: ['Eb', 'Ib'], flags: LOGIC, exec: (c, i) => testEI(c, i, 1), jit: jitTestEbIb }),
    row({ name: 'test_Eb_Ib_f6_1', mnemonic: 'test', map: 'one', opcode: 0xf6, reg: 1, operands: ['Eb', 'Ib'], flags: LOGIC, exec: (c, i) => testEI(c, i, 1), jit: jitTestEbIb }),
    row({ mnemonic: 'test', map: 'one', opcode: 0xf7, reg: 0, operands: ['Ev', 'Iz'], flags: LOGIC, exec: (c, i) => testEI(c, i, i.opsize), jit: jitTestEvI }),
    row({ name: 'test_Ev_Iz_f7_1', mnemonic: 'test', map: 'one', opcode: 0xf7, reg: 1, operands: ['Ev', 'Iz'], flags: LOGIC, exec: (c, i) => testEI(c, i, i.opsize), jit: jitTestEvI }),
    row({ mnemonic: 'not', map: 'one', opcode: 0xf6, reg: 2, operands: ['Eb'], flags: NO_FLAGS, lock: true, exec: (c, i) => negNot(c, i, 1, false) }),
    row({ mnemonic: 'not', map: 'one', opcode: 0xf7, reg: 2, operands: ['Ev'], flags: NO_FLAGS, lock: true, exec: (c, i) => negNot(c, i, i.opsize, false), jit: jitNegNot(false) }),
    row({ mnemonic: 'neg', map: 'one', opcode: 0xf6, reg: 3, operands: ['Eb'], flags: ARITH_W, lock: true, exec: (c, i) => negNot(c, i, 1, true) }),
    row({ mnemonic: 'neg', map: 'one', opcode: 0xf7, reg: 3, operands: ['Ev'], flags: ARITH_W, lock: true, exec: (c, i) => negNot(c, i, i.opsize, true), jit: jitNegNot(true) }),
    row({ mnemonic: 'inc', map: 'one', opcode: 0xfe, reg: 0, operands: ['Eb'], flags: INCDEC, lock: true, exec: (c, i) => incDec(c, i, 1, false, i.rm) }),
    row({ mnemonic: 'dec', map: 'one', opcode: 0xfe, reg: 1, operands: ['Eb'], flags: INCDEC, lock: true, exec: (c, i) => incDec(c, i, 1, true, i.rm) }),
    row({ mnemonic: 'inc', map: 'one', opcode: 0xff, reg: 0, operands: ['Ev'], flags: INCDEC, lock: true, exec: (c, i) => incDec(c, i, i.opsize, false, i.rm), jit: jitIncDec(false) }),
    row({ mnemonic: 'dec', map: 'one', opcode: 0xff, reg: 1, operands: ['Ev'], flags: INCDEC, lock: true, exec: (c, i) => incDec(c, i, i.opsize, true, i.rm), jit: jitIncDec(true) }),
    row({ mnemonic: 'inc', map: 'one', opcode: 0x40, operands: ['Zv'], modes: 'i64', flags: INCDEC, exec: (c, i) => incDec(c, i, i.opsize, false, i.reg) }),
    row({ mnemonic: 'dec', map: 'one', opcode: 0x48, operands: ['Zv'], modes: 'i64', flags: INCDEC, exec: (c, i) => incDec(c, i, i.opsize, true, i.reg) }),
  ];
}

function dataRows(): Row[] {
  const ends = true;
  return [
    row({ mnemonic: 'mov', map: 'one', opcode: 0x88, operands: ['Eb', 'Gb'], flags: NO_FLAGS, exec: (c, i) => movEG(c, i, 1), jit: jitMovEbGb }),
    row({ mnemonic: 'mov', map: 'one', opcode: 0x89, operands: ['Ev', 'Gv'], flags: NO_FLAGS, exec: (c, i) => movEG(c, i, i.opsize), jit: jitMovEvGv }),
    row({ mnemonic: 'mov', map: 'one', opcode: 0x8a, operands: ['Gb', 'Eb'], flags: NO_FLAGS, exec: (c, i) => movGE(c, i, 1), jit: jitMovGbEb }),
    row({ mnemonic: 'mov', map: 'one', opcode: 0x8b, operands: ['Gv', 'Ev'], flags: NO_FLAGS, exec: (c, i) => movGE(c, i, i.opsize), jit: jitMovGvEv }),
    row({ mnemonic: 'mov', map: 'one', opcode: 0xb0, operands: ['Zb', 'Ib'], flags: NO_FLAGS, exec: (c, i) => movZI(c, i, 1), jit: jitMovZbIb }),
    row({ mnemonic: 'mov', map: 'one', opcode: 0xb8, operands: ['Zv', 'Iv'], flags: NO_FLAGS, exec: (c, i) => movZI(c, i, i.opsize), jit: jitMovZvIv }),
    row({ mnemonic: 'mov', map: 'one', opcode: 0xc6, reg: 0, operands: ['Eb', 'Ib'], flags: NO_FLAGS, exec: (c, i) => movEI(c, i, 1), jit: jitMovEbIb }),
    row({ mnemonic: 'mov', map: 'one', opcode: 0xc7, reg: 0, operands: ['Ev', 'Iz'], flags: NO_FLAGS, exec: (c, i) => movEI(c, i, i.opsize), jit: jitMovEvIz }),
    row({ mnemonic: 'lea', map: 'one', opcode: 0x8d, mod: 'mem', operands: ['Gv', 'M'], flags: NO_FLAGS, exec: lea, jit: jitLea }),
    row({ mnemonic: 'movzx', map: '0f', opcode: 0xb6, operands: ['Gv', 'Eb'], flags: NO_FLAGS, exec: (c, i) => movzx(c, i, 1), jit: jitMovzxB }),
    row({ mnemonic: 'movzx', map: '0f', opcode: 0xb7, operands: ['Gv', 'Ew'], flags: NO_FLAGS, exec: (c, i) => movzx(c, i, 2), jit: jitMovzxW }),
    row({ mnemonic: 'movsx', map: '0f', opcode: 0xbe, operands: ['Gv', 'Eb'], flags: NO_FLAGS, exec: (c, i) => movsx(c, i, 1), jit: jitMovsxB }),
    row({ mnemonic: 'movsx', map: '0f', opcode: 0xbf, operands: ['Gv', 'Ew'], flags: NO_FLAGS, exec: (c, i) => movsx(c, i, 2), jit: jitMovsxW }),
    row({ mnemonic: 'movsxd', map: 'one', opcode: 0x63, operands: ['Gv', 'Ed'], modes: 'o64', flags: NO_FLAGS, exec: movsxd, jit: jitMovsxd }),
    row({ mnemonic: 'xchg', map: 'one', opcode: 0x86, operands: ['Eb', 'Gb'], flags: NO_FLAGS, lock: true, exec: (c, i) => xchgEG(c, i, 1) }),
    row({ mnemonic: 'xchg', map: 'one', opcode: 0x87, operands: ['Ev', 'Gv'], flags: NO_FLAGS, lock: true, exec: (c, i) => xchgEG(c, i, i.opsize) }),
    // 90 is NOP unless REX.B makes it XCHG r8, rAX; F3 90 is PAUSE (a hint, same effect here).
    row({ mnemonic: 'xchg', map: 'one', opcode: 0x90, operands: ['rAX', 'Zv'], flags: NO_FLAGS, exec: (c, i) => (i.reg === 0 && i.opsize !== 2 && (i.rex & 1) === 0 ? undefined : xchgAZ(c, i)) }),
    row({ name: 'cbw', mnemonic: 'cbw', map: 'one', opcode: 0x98, operands: [], flags: NO_FLAGS, exec: cbw }),
    row({ name: 'cwd', mnemonic: 'cwd', map: 'one', opcode: 0x99, operands: [], flags: NO_FLAGS, exec: cwd }),
    row({ mnemonic: 'push', map: 'one', opcode: 0x50, operands: ['Zv'], d64: true, flags: NO_FLAGS, exec: pushZ, jit: jitPushZ }),
    row({ mnemonic: 'pop', map: 'one', opcode: 0x58, operands: ['Zv'], d64: true, flags: NO_FLAGS, exec: popZ, jit: jitPopZ }),
    row({ mnemonic: 'push', map: 'one', opcode: 0x68, operands: ['Iz'], d64: true, flags: NO_FLAGS, exec: pushI }),
    row({ mnemonic: 'push', map: 'one', opcode: 0x6a, operands: ['sIb'], d64: true, flags: NO_FLAGS, exec: pushI }),
    row({ mnemonic: 'push', map: 'one', opcode: 0xff, reg: 6, operands: ['Ev'], d64: true, flags: NO_FLAGS, exec: pushE }),
    row({ mnemonic: 'pop', map: 'one', opcode: 0x8f, reg: 0, operands: ['Ev'], d64: true, flags: NO_FLAGS, exec: popE }),
    row({ name: 'leave', mnemonic: 'leave', map: 'one', opcode: 0xc9, operands: [], d64: true, flags: NO_FLAGS, exec: leave }),
    row({ name: 'nop_Ev', mnemonic: 'nop', map: '0f', opcode: 0x1f, reg: 0, operands: ['Ev'], flags: NO_FLAGS, exec: () => {}, jit: jitNop }),
    row({ mnemonic: 'call', map: 'one', opcode: 0xe8, operands: ['Jz'], f64: true, flags: NO_FLAGS, ends, exec: callJ, jit: jitCall }),
    row({ mnemonic: 'jmp', map: 'one', opcode: 0xe9, operands: ['Jz'], f64: true, flags: NO_FLAGS, ends, exec: jmpJ, jit: jitJmp }),
    row({ mnemonic: 'jmp', map: 'one', opcode: 0xeb, operands: ['Jb'], f64: true, flags: NO_FLAGS, ends, exec: jmpJ, jit: jitJmp }),
    row({ mnemonic: 'call', map: 'one', opcode: 0xff, reg: 2, operands: ['Ev'], f64: true, flags: NO_FLAGS, ends, exec: callE, jit: jitCallE }),
    row({ mnemonic: 'jmp', map: 'one', opcode: 0xff, reg: 4, operands: ['Ev'], f64: true, flags: NO_FLAGS, ends, exec: jmpE, jit: jitJmpE }),
    row({ name: 'ret', mnemonic: 'ret', map: 'one', opcode: 0xc3, operands: [], f64: true, flags: NO_FLAGS, ends, exec: (c, i) => ret(c, i, 0), jit: jitRet }),
    row({ mnemonic: 'ret', map: 'one', opcode: 0xc2, operands: ['Iw'], f64: true, flags: NO_FLAGS, ends, exec: (c, i) => ret(c, i, i.imm & 0xffff) }),
    ...(['loopne', 'loope', 'loop', 'jrcxz'] as const).map((m, k) =>
      row({ mnemonic: m, map: 'one', opcode: 0xe0 + k, operands: ['Jb'], f64: true, flags: k < 2 ? { read: ZF, write: 0, undefined: 0 } : NO_FLAGS, ends, exec: loopJ }),
    ),
  ];
}

function ccRows(): Row[] {
  const rows: Row[] = [];
  for (let cc = 0; cc < 16; cc++) {
    const n = CC_NAMES[cc] as string;
    const flags = ccReads(cc);
    rows.push(
      row({ name: `j${n}_Jb`, mnemonic: `j${n}`, map: 'one', opcode: 0x70 + cc, operands: ['Jb'], f64: true, flags, ends: true, exec: jccJ, jit: jitJcc }),
      row({ name: `j${n}_Jz`, mnemonic: `j${n}`, map: '0f', opcode: 0x80 + cc, operands: ['Jz'], f64: true, flags, ends: true, exec: jccJ, jit: jitJcc }),
      row({ name: `set${n}_Eb`, mnemonic: `set${n}`, map: '0f', opcode: 0x90 + cc, operands: ['Eb'], flags, exec: setccE, jit: jitSetcc }),
      row({ name: `cmov${n}_Gv_Ev`, mnemonic: `cmov${n}`, map: '0f', opcode: 0x40 + cc, operands: ['Gv', 'Ev'], flags, cpuid: 'cmov', exec: cmovGE, jit: jitCmov }),
    );
  }
  return rows;
}

export const CORE_ROWS: readonly Row[] = [...aluRows(), ...unaryRows(), ...dataRows(), ...ccRows()];

export type { OperandKind };
