/**
 * Table rows: the VEX-encoded general-purpose instructions of BMI1 (ANDN, BEXTR, BLSI, BLSMSK,
 * BLSR) and BMI2 (BZHI, MULX, PDEP, PEXT, RORX, SARX, SHLX, SHRX), SDM vol. 2A/2B under each
 * mnemonic. All are VEX.LZ (VEX.L = 1 is #UD, SDM vol. 2A §2.5.1 table 2-29); VEX.W selects 32
 * or 64 bits. TZCNT, the legacy-encoded BMI1 instruction, is in rows-int.ts.
 */
import { andn, bextr, Bls, bls, bzhi, mulx, pdep, pext, rorx, ShiftX, shiftx } from '../exec/bmi.js';
import { row } from './rows-core.js';
import { AF, CF, NO_FLAGS, OF, PF, SF, ZF, type FlagEffect, type Row } from './types.js';

/** Written: CF, OF, SF, ZF (and AF/PF, left undefined by the SDM, hence masked). */
const BMI_FLAGS: FlagEffect = { read: 0, write: CF | OF | SF | ZF | AF | PF, undefined: AF | PF };
/** BEXTR: ZF updated, CF and OF cleared, AF, SF and PF undefined. */
const BEXTR_FLAGS: FlagEffect = { read: 0, write: CF | OF | SF | ZF | AF | PF, undefined: AF | SF | PF };
const LZ = { l: 0 } as const;

export const BMI_ROWS: readonly Row[] = [
  // BMI1.
  row({ mnemonic: 'andn', map: '0f38', opcode: 0xf2, prefix: 'none', vex: LZ, operands: ['Gy', 'By', 'Ey'], flags: BMI_FLAGS, cpuid: 'bmi1', exec: andn }),
  row({ mnemonic: 'bextr', map: '0f38', opcode: 0xf7, prefix: 'none', vex: LZ, operands: ['Gy', 'Ey', 'By'], flags: BEXTR_FLAGS, cpuid: 'bmi1', exec: bextr }),
  row({ mnemonic: 'blsr', map: '0f38', opcode: 0xf3, reg: 1, prefix: 'none', vex: LZ, operands: ['By', 'Ey'], flags: BMI_FLAGS, cpuid: 'bmi1', exec: (c, i) => bls(c, i, Bls.Reset) }),
  row({ mnemonic: 'blsmsk', map: '0f38', opcode: 0xf3, reg: 2, prefix: 'none', vex: LZ, operands: ['By', 'Ey'], flags: BMI_FLAGS, cpuid: 'bmi1', exec: (c, i) => bls(c, i, Bls.Mask) }),
  row({ mnemonic: 'blsi', map: '0f38', opcode: 0xf3, reg: 3, prefix: 'none', vex: LZ, operands: ['By', 'Ey'], flags: BMI_FLAGS, cpuid: 'bmi1', exec: (c, i) => bls(c, i, Bls.Isolate) }),
  // BMI2.
  row({ mnemonic: 'bzhi', map: '0f38', opcode: 0xf5, prefix: 'none', vex: LZ, operands: ['Gy', 'Ey', 'By'], flags: BMI_FLAGS, cpuid: 'bmi2', exec: bzhi }),
  row({ mnemonic: 'pdep', map: '0f38', opcode: 0xf5, prefix: 'f2', vex: LZ, operands: ['Gy', 'By', 'Ey'], flags: NO_FLAGS, cpuid: 'bmi2', exec: pdep }),
  row({ mnemonic: 'pext', map: '0f38', opcode: 0xf5, prefix: 'f3', vex: LZ, operands: ['Gy', 'By', 'Ey'], flags: NO_FLAGS, cpuid: 'bmi2', exec: pext }),
  row({ mnemonic: 'sarx', map: '0f38', opcode: 0xf7, prefix: 'f3', vex: LZ, operands: ['Gy', 'Ey', 'By'], flags: NO_FLAGS, cpuid: 'bmi2', exec: (c, i) => shiftx(c, i, ShiftX.Sar) }),
  row({ mnemonic: 'shlx', map: '0f38', opcode: 0xf7, prefix: '66', vex: LZ, operands: ['Gy', 'Ey', 'By'], flags: NO_FLAGS, cpuid: 'bmi2', exec: (c, i) => shiftx(c, i, ShiftX.Shl) }),
  row({ mnemonic: 'shrx', map: '0f38', opcode: 0xf7, prefix: 'f2', vex: LZ, operands: ['Gy', 'Ey', 'By'], flags: NO_FLAGS, cpuid: 'bmi2', exec: (c, i) => shiftx(c, i, ShiftX.Shr) }),
  row({ mnemonic: 'rorx', map: '0f3a', opcode: 0xf0, prefix: 'f2', vex: LZ, operands: ['Gy', 'Ey', 'Ib'], flags: NO_FLAGS, cpuid: 'bmi2', exec: rorx }),
  // MULX: implicit rDX; ModRM.reg gets the high half, VEX.vvvv the low half.
  row({ mnemonic: 'mulx', map: '0f38', opcode: 0xf6, prefix: 'f2', vex: LZ, operands: ['Gy', 'By', 'Ey'], flags: NO_FLAGS, cpuid: 'bmi2', exec: mulx }),
];
