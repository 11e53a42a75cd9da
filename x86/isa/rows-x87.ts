/**
 * Table rows: the x87 FPU (escape opcodes D8-DF, SDM vol. 2 appendix A.4 tables A-7..A-22),
 * FWAIT (9B) and FXSAVE/FXRSTOR (0F AE /0 /1).
 *
 * Memory forms are selected by ModRM.reg with `mod: 'mem'`; register forms by ModRM.reg with
 * `mod: 'reg'`, and those that are one instruction per ModRM byte (D9 E8 FLD1) also by `rm`.
 * Operand names follow Intel's instruction reference (see types.ts): `fadd_ST0_STi`,
 * `faddp_STi_ST0`, `fld_M80fp`, `fiadd_M16int`. Mnemonics are Intel's: for the DC/DE register
 * forms of FSUB/FSUBR/FDIV/FDIVR, AT&T (and objdump in AT&T syntax) swaps the R and non-R names.
 *
 * Not here (so #UD): FBLD/FBSTP (packed BCD), FISTTP (SSE3), the undocumented aliases
 * (D9 D8+i, DC D0+i, DC D8+i, DD C8+i, DE D0+i, DF C0+i..D8+i) and the 8087/287 no-ops FENI,
 * FDISI, FSETPM (DB E0, E1, E4).
 */
import {
  OP_ADD, OP_DIV, OP_DIVR, OP_MUL, OP_SUB, OP_SUBR, arithMem, arithReg, f2xm1, fchs, fcmov, fcomMem, fcomReg, fcomi,
  fcompp, ffree, fincDecStp, fldConst, fldMem, fldSt, fldcw, fnclex, fninit, fnop, fnstcw, fnstswAx, fnstswMem, fpatan,
  fprem, frndint, fscale, fsqrt, fstMem, fstSt, ftrig, ftrig2, ftst, fwait, fxam, fxch, fxtract, fyl2x, type MemFormat,
} from '../exec/x87.js';
import { fldenv, fnsave, fnstenv, frstor, fxrstor, fxsave } from '../exec/x87-env.js';
import { CF, NO_FLAGS, PF, ZF, type FlagEffect, type Handler, type OperandKind, type Row } from './types.js';
import { row } from './rows-core.js';

const fpu = 'fpu' as const;

/** The eight arithmetic operations of D8 and DC (memory forms) by ModRM.reg; 2 and 3 are FCOM/FCOMP. */
const ARITH = ['add', 'mul', 'com', 'comp', 'sub', 'subr', 'div', 'divr'] as const;
const ARITH_OP = [OP_ADD, OP_MUL, -1, -1, OP_SUB, OP_SUBR, OP_DIV, OP_DIVR] as const;

function mem(mnemonic: string, opcode: number, reg: number, operand: OperandKind, exec: Handler, test?: Row['test']): Row {
  return row({ mnemonic, map: 'one', opcode, reg, mod: 'mem', operands: [operand], flags: NO_FLAGS, cpuid: fpu, fpu: 'x87', exec, ...(test ? { test } : {}) });
}

function regForm(mnemonic: string, opcode: number, reg: number, operands: readonly OperandKind[], exec: Handler, flags: FlagEffect = NO_FLAGS): Row {
  return row({ mnemonic, map: 'one', opcode, reg, mod: 'reg', operands, flags, cpuid: fpu, fpu: 'x87', exec });
}

/** One instruction per ModRM byte (D9 E0 FCHS...): opcode and the byte's reg/rm. */
function single(mnemonic: string, opcode: number, modrm: number, exec: Handler, operands: readonly OperandKind[] = []): Row {
  return row({ mnemonic, map: 'one', opcode, reg: (modrm >> 3) & 7, rm: modrm & 7, mod: 'reg', operands, flags: NO_FLAGS, cpuid: fpu, fpu: 'x87', exec });
}

function arithRows(): Row[] {
  const rows: Row[] = [];
  for (let r = 0; r < 8; r++) {
    const name = ARITH[r] as string;
    const op = ARITH_OP[r] as number;
    const intName = `fi${name}`;
    if (op < 0) {
      // FCOM/FCOMP (D8 /2 /3, DC /2 /3), FICOM/FICOMP (DA, DE), register forms D8 D0+i / D8+i.
      const pops = r - 2;
      rows.push(
        mem(`f${name}`, 0xd8, r, 'M32fp', (c, i) => fcomMem(c, i, 'f32', pops)),
        mem(`f${name}`, 0xdc, r, 'M64fp', (c, i) => fcomMem(c, i, 'f64', pops)),
        mem(intName, 0xda, r, 'M32int', (c, i) => fcomMem(c, i, 'i32', pops)),
        mem(intName, 0xde, r, 'M16int', (c, i) => fcomMem(c, i, 'i16', pops)),
        regForm(`f${name}`, 0xd8, r, ['ST0', 'STi'], (c, i) => fcomReg(c, i, pops, false)),
      );
      continue;
    }
    const arith = (fmt: MemFormat): Handler => (c, i) => arithMem(c, i, op, fmt);
    rows.push(
      mem(`f${name}`, 0xd8, r, 'M32fp', arith('f32')),
      mem(`f${name}`, 0xdc, r, 'M64fp', arith('f64')),
      mem(intName, 0xda, r, 'M32int', arith('i32')),
      mem(intName, 0xde, r, 'M16int', arith('i16')),
      regForm(`f${name}`, 0xd8, r, ['ST0', 'STi'], (c, i) => arithReg(c, i, op, false, false)),
    );
    // DC and DE register forms: destination ST(i); for sub/div the reg field's R sense is swapped
    // (SDM vol. 2 table A-19: DC E0+i is FSUBR ST(i), ST(0), DC E8+i is FSUB ST(i), ST(0)).
    const r2 = r >= 4 ? r ^ 1 : r;
    rows.push(
      regForm(`f${name}`, 0xdc, r2, ['STi', 'ST0'], (c, i) => arithReg(c, i, op, true, false)),
      regForm(`f${name}p`, 0xde, r2, ['STi', 'ST0'], (c, i) => arithReg(c, i, op, true, true)),
    );
  }
  return rows;
}

function loadStoreRows(): Row[] {
  return [
    mem('fld', 0xd9, 0, 'M32fp', (c, i) => fldMem(c, i, 'f32')),
    mem('fst', 0xd9, 2, 'M32fp', (c, i) => fstMem(c, i, 'f32', false)),
    mem('fstp', 0xd9, 3, 'M32fp', (c, i) => fstMem(c, i, 'f32', true)),
    mem('fld', 0xdd, 0, 'M64fp', (c, i) => fldMem(c, i, 'f64')),
    mem('fst', 0xdd, 2, 'M64fp', (c, i) => fstMem(c, i, 'f64', false)),
    mem('fstp', 0xdd, 3, 'M64fp', (c, i) => fstMem(c, i, 'f64', true)),
    mem('fld', 0xdb, 5, 'M80fp', (c, i) => fldMem(c, i, 'f80')),
    mem('fstp', 0xdb, 7, 'M80fp', (c, i) => fstMem(c, i, 'f80', true)),
    mem('fild', 0xdf, 0, 'M16int', (c, i) => fldMem(c, i, 'i16')),
    mem('fist', 0xdf, 2, 'M16int', (c, i) => fstMem(c, i, 'i16', false)),
    mem('fistp', 0xdf, 3, 'M16int', (c, i) => fstMem(c, i, 'i16', true)),
    mem('fild', 0xdb, 0, 'M32int', (c, i) => fldMem(c, i, 'i32')),
    mem('fist', 0xdb, 2, 'M32int', (c, i) => fstMem(c, i, 'i32', false)),
    mem('fistp', 0xdb, 3, 'M32int', (c, i) => fstMem(c, i, 'i32', true)),
    mem('fild', 0xdf, 5, 'M64int', (c, i) => fldMem(c, i, 'i64')),
    mem('fistp', 0xdf, 7, 'M64int', (c, i) => fstMem(c, i, 'i64', true)),
    regForm('fld', 0xd9, 0, ['STi'], fldSt),
    regForm('fxch', 0xd9, 1, ['STi'], fxch),
    regForm('ffree', 0xdd, 0, ['STi'], ffree),
    regForm('fst', 0xdd, 2, ['STi'], (c, i) => fstSt(c, i, false)),
    regForm('fstp', 0xdd, 3, ['STi'], (c, i) => fstSt(c, i, true)),
  ];
}

function compareRows(): Row[] {
  const fcomiFlags: FlagEffect = { read: 0, write: ZF | PF | CF, undefined: 0 };
  return [
    regForm('fucom', 0xdd, 4, ['STi'], (c, i) => fcomReg(c, i, 0, true)),
    regForm('fucomp', 0xdd, 5, ['STi'], (c, i) => fcomReg(c, i, 1, true)),
    single('fcompp', 0xde, 0xd9, (c, i) => fcompp(c, i, false)),
    single('fucompp', 0xda, 0xe9, (c, i) => fcompp(c, i, true)),
    regForm('fucomi', 0xdb, 5, ['ST0', 'STi'], (c, i) => fcomi(c, i, false, true), fcomiFlags),
    regForm('fcomi', 0xdb, 6, ['ST0', 'STi'], (c, i) => fcomi(c, i, false, false), fcomiFlags),
    regForm('fucomip', 0xdf, 5, ['ST0', 'STi'], (c, i) => fcomi(c, i, true, true), fcomiFlags),
    regForm('fcomip', 0xdf, 6, ['ST0', 'STi'], (c, i) => fcomi(c, i, true, false), fcomiFlags),
    single('ftst', 0xd9, 0xe4, ftst),
    single('fxam', 0xd9, 0xe5, fxam),
  ];
}

function d9Rows(): Row[] {
  const consts = ['fld1', 'fldl2t', 'fldl2e', 'fldpi', 'fldlg2', 'fldln2', 'fldz'];
  return [
    single('fnop', 0xd9, 0xd0, fnop),
    single('fchs', 0xd9, 0xe0, (c, i) => fchs(c, i, false)),
    single('fabs', 0xd9, 0xe1, (c, i) => fchs(c, i, true)),
    ...consts.map((m, k) => single(m, 0xd9, 0xe8 + k, (c, i) => fldConst(c, i, k))),
    single('f2xm1', 0xd9, 0xf0, f2xm1),
    single('fyl2x', 0xd9, 0xf1, (c, i) => fyl2x(c, i, false)),
    single('fptan', 0xd9, 0xf2, (c, i) => ftrig2(c, i, false)),
    single('fpatan', 0xd9, 0xf3, fpatan),
    single('fxtract', 0xd9, 0xf4, fxtract),
    single('fprem1', 0xd9, 0xf5, (c, i) => fprem(c, i, true)),
    single('fdecstp', 0xd9, 0xf6, (c, i) => fincDecStp(c, i, -1)),
    single('fincstp', 0xd9, 0xf7, (c, i) => fincDecStp(c, i, 1)),
    single('fprem', 0xd9, 0xf8, (c, i) => fprem(c, i, false)),
    single('fyl2xp1', 0xd9, 0xf9, (c, i) => fyl2x(c, i, true)),
    single('fsqrt', 0xd9, 0xfa, fsqrt),
    single('fsincos', 0xd9, 0xfb, (c, i) => ftrig2(c, i, true)),
    single('frndint', 0xd9, 0xfc, frndint),
    single('fscale', 0xd9, 0xfd, fscale),
    single('fsin', 0xd9, 0xfe, (c, i) => ftrig(c, i, 0)),
    single('fcos', 0xd9, 0xff, (c, i) => ftrig(c, i, 1)),
  ];
}

function fcmovRows(): Row[] {
  const names = [['fcmovb', 'fcmove', 'fcmovbe', 'fcmovu'], ['fcmovnb', 'fcmovne', 'fcmovnbe', 'fcmovnu']] as const;
  const reads = [CF, ZF, CF | ZF, PF] as const;
  const rows: Row[] = [];
  for (let n = 0; n < 2; n++) {
    for (let cc = 0; cc < 4; cc++) {
      const flags: FlagEffect = { read: reads[cc] as number, write: 0, undefined: 0 };
      rows.push(regForm(names[n]?.[cc] as string, n === 0 ? 0xda : 0xdb, cc, ['ST0', 'STi'], (c, i) => fcmov(c, i, cc, n === 1), flags));
    }
  }
  return rows;
}

function controlRows(): Row[] {
  return [
    mem('fldenv', 0xd9, 4, 'Menv', fldenv),
    mem('fldcw', 0xd9, 5, 'Mw', fldcw),
    mem('fnstenv', 0xd9, 6, 'Menv', fnstenv),
    mem('fnstcw', 0xd9, 7, 'Mw', fnstcw),
    mem('frstor', 0xdd, 4, 'Msave', frstor),
    mem('fnsave', 0xdd, 6, 'Msave', fnsave),
    mem('fnstsw', 0xdd, 7, 'Mw', fnstswMem),
    single('fnstsw', 0xdf, 0xe0, fnstswAx, ['AX']),
    single('fnclex', 0xdb, 0xe2, fnclex),
    single('fninit', 0xdb, 0xe3, fninit),
    row({ name: 'fwait', mnemonic: 'fwait', map: 'one', opcode: 0x9b, operands: [], flags: NO_FLAGS, cpuid: fpu, fpu: 'wait', exec: fwait }),
    row({ mnemonic: 'fxsave', map: '0f', opcode: 0xae, reg: 0, mod: 'mem', prefix: 'none', operands: ['Mfxsave'], flags: NO_FLAGS, cpuid: 'fxsr', fpu: 'fxsr', exec: fxsave }),
    row({ mnemonic: 'fxrstor', map: '0f', opcode: 0xae, reg: 1, mod: 'mem', prefix: 'none', operands: ['Mfxsave'], flags: NO_FLAGS, cpuid: 'fxsr', fpu: 'fxsr', exec: fxrstor }),
  ];
}

export const X87_ROWS: readonly Row[] = [...arithRows(), ...loadStoreRows(), ...compareRows(), ...d9Rows(), ...fcmovRows(), ...controlRows()];
