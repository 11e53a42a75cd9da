/**
 * Table rows: the rest of the general-purpose integer set — shifts and rotates, multiply and
 * divide, bit operations, string instructions, flag instructions, atomics and assorted
 * instructions (ENTER, XLAT, MOV moffs, INT n, fences, hints, RDTSC/RDRAND...).
 * The VEX-encoded BMI1/BMI2 forms (ANDN, BEXTR, BLSx, BZHI, MULX, PDEP, PEXT, RORX, SARX,
 * SHLX, SHRX) are in rows-bmi.ts.
 */
import { btcEvGv, btEvGv, btEvIb, btrEvGv, btsEvGv, adcxAdox, bsfBsr, bswap, crc32, movbeLoad, movbeStore, popcnt, tzLzcnt } from '../exec/bits.js';
import {
  clc, clflush, cld, cmc, cmpxchg, cmpxchg8b16b, enter, int1, intIb, into, lahf, movAccMoffs, movMoffsAcc, popf, pushf, rdpid, rdrand,
  rdtsc, rdtscp, sahf, stc, std, ud, xadd, xlat,
} from '../exec/misc.js';
import { divEb, divEv, idivEb, idivEv, imulEb, imulEv, imulGvEv, imulGvEvI, mulEb, mulEv } from '../exec/muldiv.js';
import { jitImul, jitShiftImm } from '../jit-templates.js';
import { grp2Eb1, grp2EbCL, grp2EbIb, grp2Ev1, grp2EvCL, grp2EvIb, shldEvGvCL, shldEvGvIb, shrdEvGvCL, shrdEvGvIb } from '../exec/shift.js';
import { cmps, lods, movs, scas, stos } from '../exec/string.js';
import { row } from './rows-core.js';
import {
  AC, AF, ARITH, CF, DF, ID, IF, IOPL, NO_FLAGS, NT, OF, PF, RF, SF, TF, ZF, type FlagEffect, type Row,
} from './types.js';

const fx = (read: number, write: number, undef = 0): FlagEffect => ({ read, write, undefined: undef });

/** SHL/SHR/SAR: AF always and OF beyond a count of 1 are undefined. */
const SHIFT = fx(0, ARITH, AF | OF);
const ROTATE = fx(0, CF | OF, OF);
const ROTATE_C = fx(CF, CF | OF, OF);
const MUL = fx(0, ARITH, SF | ZF | AF | PF);
const DIV = fx(0, ARITH, ARITH);
const BT = fx(0, CF | OF | SF | AF | PF, OF | SF | AF | PF);
const ARITH_W = fx(0, ARITH);
/** Everything POPF can write and PUSHF reads. */
const ALL_FLAGS = ARITH | TF | IF | DF | IOPL | NT | AC | ID;

const GRP2 = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'] as const;

function shiftRows(): Row[] {
  const rows: Row[] = [];
  GRP2.forEach((m, reg) => {
    const flags = reg < 2 ? ROTATE : reg < 4 ? ROTATE_C : SHIFT;
    rows.push(
      row({ mnemonic: m, map: 'one', opcode: 0xc0, reg, operands: ['Eb', 'Ib'], flags, exec: grp2EbIb }),
      row({ mnemonic: m, map: 'one', opcode: 0xc1, reg, operands: ['Ev', 'Ib'], flags, exec: grp2EvIb, jit: jitShiftImm }),
      row({ mnemonic: m, map: 'one', opcode: 0xd0, reg, operands: ['Eb', '1'], flags, exec: grp2Eb1 }),
      row({ mnemonic: m, map: 'one', opcode: 0xd1, reg, operands: ['Ev', '1'], flags, exec: grp2Ev1, jit: jitShiftImm }),
      row({ mnemonic: m, map: 'one', opcode: 0xd2, reg, operands: ['Eb', 'CL'], flags, exec: grp2EbCL }),
      row({ mnemonic: m, map: 'one', opcode: 0xd3, reg, operands: ['Ev', 'CL'], flags, exec: grp2EvCL }),
    );
  });
  rows.push(
    row({ mnemonic: 'shld', map: '0f', opcode: 0xa4, operands: ['Ev', 'Gv', 'Ib'], flags: SHIFT, exec: shldEvGvIb }),
    row({ mnemonic: 'shld', map: '0f', opcode: 0xa5, operands: ['Ev', 'Gv', 'CL'], flags: SHIFT, exec: shldEvGvCL }),
    row({ mnemonic: 'shrd', map: '0f', opcode: 0xac, operands: ['Ev', 'Gv', 'Ib'], flags: SHIFT, exec: shrdEvGvIb }),
    row({ mnemonic: 'shrd', map: '0f', opcode: 0xad, operands: ['Ev', 'Gv', 'CL'], flags: SHIFT, exec: shrdEvGvCL }),
  );
  return rows;
}

function mulDivRows(): Row[] {
  return [
    row({ mnemonic: 'mul', map: 'one', opcode: 0xf6, reg: 4, operands: ['Eb'], flags: MUL, exec: mulEb }),
    row({ mnemonic: 'mul', map: 'one', opcode: 0xf7, reg: 4, operands: ['Ev'], flags: MUL, exec: mulEv }),
    row({ mnemonic: 'imul', map: 'one', opcode: 0xf6, reg: 5, operands: ['Eb'], flags: MUL, exec: imulEb }),
    row({ mnemonic: 'imul', map: 'one', opcode: 0xf7, reg: 5, operands: ['Ev'], flags: MUL, exec: imulEv }),
    row({ mnemonic: 'div', map: 'one', opcode: 0xf6, reg: 6, operands: ['Eb'], flags: DIV, exec: divEb }),
    row({ mnemonic: 'div', map: 'one', opcode: 0xf7, reg: 6, operands: ['Ev'], flags: DIV, exec: divEv }),
    row({ mnemonic: 'idiv', map: 'one', opcode: 0xf6, reg: 7, operands: ['Eb'], flags: DIV, exec: idivEb }),
    row({ mnemonic: 'idiv', map: 'one', opcode: 0xf7, reg: 7, operands: ['Ev'], flags: DIV, exec: idivEv }),
    row({ mnemonic: 'imul', map: '0f', opcode: 0xaf, operands: ['Gv', 'Ev'], flags: MUL, exec: imulGvEv, jit: jitImul }),
    row({ mnemonic: 'imul', map: 'one', opcode: 0x69, operands: ['Gv', 'Ev', 'Iz'], flags: MUL, exec: imulGvEvI, jit: jitImul }),
    row({ mnemonic: 'imul', map: 'one', opcode: 0x6b, operands: ['Gv', 'Ev', 'sIb'], flags: MUL, exec: imulGvEvI, jit: jitImul }),
  ];
}

function bitRows(): Row[] {
  const lock = true;
  const rows: Row[] = [
    row({ mnemonic: 'bt', map: '0f', opcode: 0xa3, operands: ['Ev', 'Gv'], flags: BT, exec: btEvGv }),
    row({ mnemonic: 'bts', map: '0f', opcode: 0xab, operands: ['Ev', 'Gv'], flags: BT, lock, exec: btsEvGv }),
    row({ mnemonic: 'btr', map: '0f', opcode: 0xb3, operands: ['Ev', 'Gv'], flags: BT, lock, exec: btrEvGv }),
    row({ mnemonic: 'btc', map: '0f', opcode: 0xbb, operands: ['Ev', 'Gv'], flags: BT, lock, exec: btcEvGv }),
  ];
  (['bt', 'bts', 'btr', 'btc'] as const).forEach((m, k) =>
    rows.push(row({ mnemonic: m, map: '0f', opcode: 0xba, reg: 4 + k, operands: ['Ev', 'Ib'], flags: BT, lock: k > 0, exec: btEvIb })),
  );
  rows.push(
    // F3 0F BC/BD are TZCNT/LZCNT; any other prefix combination is BSF/BSR (rows tried in order).
    row({ mnemonic: 'tzcnt', map: '0f', opcode: 0xbc, prefix: 'f3', operands: ['Gv', 'Ev'], flags: fx(0, ARITH, OF | SF | AF | PF), cpuid: 'bmi1', exec: (c, i) => tzLzcnt(c, i, false) }),
    row({ mnemonic: 'lzcnt', map: '0f', opcode: 0xbd, prefix: 'f3', operands: ['Gv', 'Ev'], flags: fx(0, ARITH, OF | SF | AF | PF), cpuid: 'lzcnt', exec: (c, i) => tzLzcnt(c, i, true) }),
    row({ mnemonic: 'bsf', map: '0f', opcode: 0xbc, operands: ['Gv', 'Ev'], flags: fx(0, ARITH, CF | OF | SF | AF | PF), exec: (c, i) => bsfBsr(c, i, false) }),
    row({ mnemonic: 'bsr', map: '0f', opcode: 0xbd, operands: ['Gv', 'Ev'], flags: fx(0, ARITH, CF | OF | SF | AF | PF), exec: (c, i) => bsfBsr(c, i, true) }),
    row({ mnemonic: 'popcnt', map: '0f', opcode: 0xb8, prefix: 'f3', operands: ['Gv', 'Ev'], flags: ARITH_W, cpuid: 'popcnt', exec: popcnt }),
    row({ mnemonic: 'bswap', map: '0f', opcode: 0xc8, operands: ['Zv'], flags: NO_FLAGS, exec: bswap }),
    // 0F 38 F0/F1: MOVBE without F2/F3 (66 is its 16-bit form), CRC32 with F2.
    row({ mnemonic: 'crc32', map: '0f38', opcode: 0xf0, prefix: 'f2', operands: ['Gy', 'Eb'], flags: NO_FLAGS, cpuid: 'sse4_2', exec: (c, i) => crc32(c, i, true) }),
    row({ mnemonic: 'crc32', map: '0f38', opcode: 0xf1, prefix: 'f2', operands: ['Gy', 'Ev'], flags: NO_FLAGS, cpuid: 'sse4_2', exec: (c, i) => crc32(c, i, false) }),
    row({ mnemonic: 'movbe', map: '0f38', opcode: 0xf0, prefix: 'none', mod: 'mem', operands: ['Gv', 'Mv'], flags: NO_FLAGS, cpuid: 'movbe', exec: movbeLoad }),
    row({ mnemonic: 'movbe', map: '0f38', opcode: 0xf1, prefix: 'none', mod: 'mem', operands: ['Mv', 'Gv'], flags: NO_FLAGS, cpuid: 'movbe', exec: movbeStore }),
    row({ mnemonic: 'movbe', map: '0f38', opcode: 0xf0, prefix: '66', mod: 'mem', operands: ['Gw', 'Mw'], flags: NO_FLAGS, cpuid: 'movbe', exec: movbeLoad }),
    row({ mnemonic: 'movbe', map: '0f38', opcode: 0xf1, prefix: '66', mod: 'mem', operands: ['Mw', 'Gw'], flags: NO_FLAGS, cpuid: 'movbe', exec: movbeStore }),
    row({ mnemonic: 'adcx', map: '0f38', opcode: 0xf6, prefix: '66', operands: ['Gy', 'Ey'], flags: fx(CF, CF), cpuid: 'adx', exec: (c, i) => adcxAdox(c, i, CF) }),
    row({ mnemonic: 'adox', map: '0f38', opcode: 0xf6, prefix: 'f3', operands: ['Gy', 'Ey'], flags: fx(OF, OF), cpuid: 'adx', exec: (c, i) => adcxAdox(c, i, OF) }),
  );
  return rows;
}

function flagRows(): Row[] {
  const SAHF_BITS = SF | ZF | AF | PF | CF;
  return [
    row({ name: 'clc', mnemonic: 'clc', map: 'one', opcode: 0xf8, operands: [], flags: fx(0, CF), exec: clc }),
    row({ name: 'stc', mnemonic: 'stc', map: 'one', opcode: 0xf9, operands: [], flags: fx(0, CF), exec: stc }),
    row({ name: 'cmc', mnemonic: 'cmc', map: 'one', opcode: 0xf5, operands: [], flags: fx(CF, CF), exec: cmc }),
    row({ name: 'cld', mnemonic: 'cld', map: 'one', opcode: 0xfc, operands: [], flags: fx(0, DF), exec: cld }),
    row({ name: 'std', mnemonic: 'std', map: 'one', opcode: 0xfd, operands: [], flags: fx(0, DF), exec: std }),
    // In 64-bit mode LAHF/SAHF exist only with CPUID.80000001H:ECX.LAHF-SAHF.
    row({ name: 'lahf', mnemonic: 'lahf', map: 'one', opcode: 0x9f, operands: [], modes: 'i64', flags: fx(SAHF_BITS, 0), exec: lahf }),
    row({ name: 'lahf_o64', mnemonic: 'lahf', map: 'one', opcode: 0x9f, operands: [], modes: 'o64', flags: fx(SAHF_BITS, 0), cpuid: 'lahf_lm', exec: lahf }),
    row({ name: 'sahf', mnemonic: 'sahf', map: 'one', opcode: 0x9e, operands: [], modes: 'i64', flags: fx(0, SAHF_BITS), exec: sahf }),
    row({ name: 'sahf_o64', mnemonic: 'sahf', map: 'one', opcode: 0x9e, operands: [], modes: 'o64', flags: fx(0, SAHF_BITS), cpuid: 'lahf_lm', exec: sahf }),
    row({ name: 'pushf', mnemonic: 'pushf', map: 'one', opcode: 0x9c, operands: [], d64: true, flags: fx(ALL_FLAGS, 0), exec: pushf }),
    row({ name: 'popf', mnemonic: 'popf', map: 'one', opcode: 0x9d, operands: [], d64: true, flags: fx(IOPL, ALL_FLAGS | RF), ends: true, exec: popf }),
  ];
}

function stringRows(): Row[] {
  const ends = true;
  const rd = fx(DF, 0);
  const cmp = fx(DF, ARITH);
  return [
    row({ mnemonic: 'movs', map: 'one', opcode: 0xa4, operands: ['Yb', 'Xb'], rep: 'rep', flags: rd, ends, exec: movs }),
    row({ mnemonic: 'movs', map: 'one', opcode: 0xa5, operands: ['Yv', 'Xv'], rep: 'rep', flags: rd, ends, exec: movs }),
    row({ mnemonic: 'cmps', map: 'one', opcode: 0xa6, operands: ['Xb', 'Yb'], rep: 'repcc', flags: cmp, ends, exec: cmps }),
    row({ mnemonic: 'cmps', map: 'one', opcode: 0xa7, operands: ['Xv', 'Yv'], rep: 'repcc', flags: cmp, ends, exec: cmps }),
    row({ mnemonic: 'stos', map: 'one', opcode: 0xaa, operands: ['Yb', 'AL'], rep: 'rep', flags: rd, ends, exec: stos }),
    row({ mnemonic: 'stos', map: 'one', opcode: 0xab, operands: ['Yv', 'rAX'], rep: 'rep', flags: rd, ends, exec: stos }),
    row({ mnemonic: 'lods', map: 'one', opcode: 0xac, operands: ['AL', 'Xb'], rep: 'rep', flags: rd, ends, exec: lods }),
    row({ mnemonic: 'lods', map: 'one', opcode: 0xad, operands: ['rAX', 'Xv'], rep: 'rep', flags: rd, ends, exec: lods }),
    row({ mnemonic: 'scas', map: 'one', opcode: 0xae, operands: ['AL', 'Yb'], rep: 'repcc', flags: cmp, ends, exec: scas }),
    row({ mnemonic: 'scas', map: 'one', opcode: 0xaf, operands: ['rAX', 'Yv'], rep: 'repcc', flags: cmp, ends, exec: scas }),
  ];
}

function miscRows(): Row[] {
  const lock = true;
  const ends = true;
  const nop = (): void => {};
  const rows: Row[] = [
    row({ mnemonic: 'cmpxchg', map: '0f', opcode: 0xb0, operands: ['Eb', 'Gb'], flags: ARITH_W, lock, exec: (c, i) => cmpxchg(c, i, 1) }),
    row({ mnemonic: 'cmpxchg', map: '0f', opcode: 0xb1, operands: ['Ev', 'Gv'], flags: ARITH_W, lock, exec: (c, i) => cmpxchg(c, i, i.opsize) }),
    // With REX.W this is CMPXCHG16B (needs CX16; checked in the handler, since rows cannot
    // select on REX.W).
    row({ mnemonic: 'cmpxchg8b', map: '0f', opcode: 0xc7, reg: 1, mod: 'mem', operands: ['Mq'], flags: fx(0, ZF), cpuid: 'cx8', lock, exec: cmpxchg8b16b }),
    row({ mnemonic: 'xadd', map: '0f', opcode: 0xc0, operands: ['Eb', 'Gb'], flags: ARITH_W, lock, exec: (c, i) => xadd(c, i, 1) }),
    row({ mnemonic: 'xadd', map: '0f', opcode: 0xc1, operands: ['Ev', 'Gv'], flags: ARITH_W, lock, exec: (c, i) => xadd(c, i, i.opsize) }),
    row({ mnemonic: 'enter', map: 'one', opcode: 0xc8, operands: ['Iw', 'Ib'], d64: true, flags: NO_FLAGS, exec: enter }),
    row({ name: 'xlat', mnemonic: 'xlat', map: 'one', opcode: 0xd7, operands: [], flags: NO_FLAGS, exec: xlat }),
    row({ mnemonic: 'mov', map: 'one', opcode: 0xa0, operands: ['AL', 'Ob'], flags: NO_FLAGS, exec: (c, i) => movAccMoffs(c, i, 1) }),
    row({ mnemonic: 'mov', map: 'one', opcode: 0xa1, operands: ['rAX', 'Ov'], flags: NO_FLAGS, exec: (c, i) => movAccMoffs(c, i, i.opsize) }),
    row({ mnemonic: 'mov', map: 'one', opcode: 0xa2, operands: ['Ob', 'AL'], flags: NO_FLAGS, exec: (c, i) => movMoffsAcc(c, i, 1) }),
    row({ mnemonic: 'mov', map: 'one', opcode: 0xa3, operands: ['Ov', 'rAX'], flags: NO_FLAGS, exec: (c, i) => movMoffsAcc(c, i, i.opsize) }),
    row({ mnemonic: 'int', map: 'one', opcode: 0xcd, operands: ['Ib'], flags: NO_FLAGS, ends, exec: intIb, test: { driver: { reason: 'INT n is delivered by the driver (or the IDT at system level); avoided: the vectors the host OS answers itself (measured: 3 and 4 are user gates, 0x17-0x1b are not #GP(n*8+2), 0x80 may be a system call)', imm8Exclude: [3, 4, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x80] } } }),
    row({ name: 'into', mnemonic: 'into', map: 'one', opcode: 0xce, operands: [], modes: 'i64', flags: fx(OF, 0), ends, exec: into }),
    row({ name: 'int1', mnemonic: 'int1', map: 'one', opcode: 0xf1, operands: [], flags: NO_FLAGS, ends, exec: int1, }),
    // UD0/UD1 take a ModRM (and its SIB/displacement) before raising #UD.
    row({ mnemonic: 'ud0', map: '0f', opcode: 0xff, operands: ['Gv', 'Ev'], flags: NO_FLAGS, ends, exec: ud }),
    row({ mnemonic: 'ud1', map: '0f', opcode: 0xb9, operands: ['Gv', 'Ev'], flags: NO_FLAGS, ends, exec: ud }),
    // Hints: prefetches never fault and have no architectural effect.
    ...(['prefetchnta', 'prefetcht0', 'prefetcht1', 'prefetcht2'] as const).map((m, reg) =>
      row({ mnemonic: m, map: '0f', opcode: 0x18, reg, mod: 'mem', operands: ['Mb'], flags: NO_FLAGS, exec: nop }),
    ),
    row({ mnemonic: 'prefetchw', map: '0f', opcode: 0x0d, reg: 1, mod: 'mem', operands: ['Mb'], flags: NO_FLAGS, exec: nop }),
    // 0F 18-1F with the remaining ModRM values are reserved-for-future-use NOPs (SDM vol. 2B
    // "NOP"; 0F 1F /0 is in the core rows). ENDBR64 (F3 0F 1E FA) is one of them here.
    ...[0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f].map((op) =>
      row({ name: `nop_Ev_0f${op.toString(16)}`, mnemonic: 'nop', map: '0f', opcode: op, operands: ['Ev'], flags: NO_FLAGS, exec: nop }),
    ),
    row({ name: 'lfence', mnemonic: 'lfence', map: '0f', opcode: 0xae, reg: 5, mod: 'reg', prefix: 'none', operands: [], flags: NO_FLAGS, cpuid: 'sse2', exec: nop }),
    row({ name: 'mfence', mnemonic: 'mfence', map: '0f', opcode: 0xae, reg: 6, mod: 'reg', prefix: 'none', operands: [], flags: NO_FLAGS, cpuid: 'sse2', exec: nop }),
    row({ name: 'sfence', mnemonic: 'sfence', map: '0f', opcode: 0xae, reg: 7, mod: 'reg', prefix: 'none', operands: [], flags: NO_FLAGS, cpuid: 'sse', exec: nop }),
    row({ mnemonic: 'clflush', map: '0f', opcode: 0xae, reg: 7, mod: 'mem', prefix: 'none', operands: ['Mb'], flags: NO_FLAGS, cpuid: 'clflush', exec: clflush }),
    row({ mnemonic: 'clflushopt', map: '0f', opcode: 0xae, reg: 7, mod: 'mem', prefix: '66', operands: ['Mb'], flags: NO_FLAGS, cpuid: 'clflushopt', exec: clflush }),
    row({ name: 'rdtsc', mnemonic: 'rdtsc', map: '0f', opcode: 0x31, operands: [], flags: NO_FLAGS, exec: rdtsc, test: { driver: { reason: 'the time-stamp counter is the driver\'s', regs: [[0, 0xffffffffn], [2, 0xffffffffn]] } } }),
    row({ name: 'rdtscp', mnemonic: 'rdtscp', map: '0f', opcode: 0x01, reg: 7, mod: 'reg', rm: 1, operands: [], flags: NO_FLAGS, cpuid: 'rdtscp', exec: rdtscp, test: { driver: { reason: 'the time-stamp counter and IA32_TSC_AUX are the driver\'s', regs: [[0, 0xffffffffn], [1, 0xffffffffn], [2, 0xffffffffn]] } } }),
    row({ mnemonic: 'rdrand', map: '0f', opcode: 0xc7, reg: 6, mod: 'reg', operands: ['Rv'], flags: ARITH_W, cpuid: 'rdrand', exec: rdrand, test: { driver: { reason: 'random values come from the driver', rm: true, flags: CF } } }),
    row({ mnemonic: 'rdpid', map: '0f', opcode: 0xc7, reg: 7, mod: 'reg', prefix: 'f3', operands: ['Ry'], flags: NO_FLAGS, cpuid: 'rdpid', exec: rdpid, test: { driver: { reason: 'IA32_TSC_AUX is the driver\'s', rm: true } } }),
    row({ mnemonic: 'rdseed', map: '0f', opcode: 0xc7, reg: 7, mod: 'reg', operands: ['Rv'], flags: ARITH_W, cpuid: 'rdseed', exec: rdrand, test: { driver: { reason: 'random values come from the driver', rm: true, flags: CF } } }),
  ];
  return rows;
}

export const INT_ROWS: readonly Row[] = [...shiftRows(), ...mulDivRows(), ...bitRows(), ...flagRows(), ...stringRows(), ...miscRows()];
