/**
 * Table rows: segmentation, privilege and port I/O (segment-register moves, loads and pushes,
 * far JMP/CALL/RET, the descriptor-table instructions of 0F 00/02/03, ARPL, IN/OUT/INS/OUTS) and
 * the other instructions that exist only outside 64-bit mode (decimal arithmetic, PUSHA/POPA,
 * BOUND). Semantics: system/segments.ts, system/far.ts, system/io.ts, exec/legacy.ts.
 *
 * Names follow the scheme, with two notations the operand kinds lack: a far pointer immediate
 * (Intel's `Ap`) is written as its two immediates `Iz_Iw` (offset, then selector, which is how
 * the decoder reads them), and PUSH/POP of a segment register named by the opcode take the
 * register as a suffix (`push_es`).
 *
 * Differential testing: rows whose result depends on the host kernel's descriptor tables or
 * selectors are `test.skip` (the reason says which) and are unit-tested against the SDM in
 * test/x86/segments.test.ts; privileged ones and port I/O fault with #GP(0) at CPL 3 on both the
 * silicon and a non-system CPU and are compared natively; the `i64` arithmetic rows run against
 * qemu-i386 (test/x86/diff/i386.ts).
 */
import { aaa, aad, aam, aas, bound, daa, das, popa, popSeg, pusha, pushSeg } from '../exec/legacy.js';
import { callAp, callMp, jmpAp, jmpMp, retfar } from '../system/far.js';
import { inAcc, ins, outAcc, outs } from '../system/io.js';
import { arpl, lar, lldt, loadFarPointer, lsl, ltr, movEvSw, movSwEv, sldt, str, verr, verw } from '../system/segments.js';
import { row } from './rows-core.js';
import { AF, ARITH, CF, DF, NO_FLAGS, OF, PF, SF, ZF, type FlagEffect, type Row } from './types.js';

const fx = (read: number, write: number, undef = 0): FlagEffect => ({ read, write, undefined: undef });

const HOST_GDT = "loads a descriptor from the host kernel's GDT/LDT; unit-tested against the SDM (test/x86/segments.test.ts)";
const HOST_SEL = "reads the host kernel's segment selectors (Linux: CS 0x33, SS 0x2b)";
const HOST_FAR = "a far transfer through the host kernel's GDT; unit-tested against the SDM (test/x86/segments.test.ts)";
const HOST_UMIP = 'Linux emulates SLDT/STR for user processes on UMIP hosts; a non-system CPU raises #GP(0)';
const QEMU_SEG = "qemu-i386's segment registers are the host's, and their loads go through its GDT";

const SEGS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;

function segmentStackRows(): Row[] {
  const rows: Row[] = [];
  for (const seg of [0, 1, 2, 3]) {
    const name = SEGS[seg] as string;
    rows.push(row({ name: `push_${name}`, mnemonic: 'push', map: 'one', opcode: seg << 3 | 6, operands: [], modes: 'i64', flags: NO_FLAGS, exec: pushSeg, test: { skip: QEMU_SEG } }));
    // There is no POP CS (0F is the two-byte escape).
    if (seg !== 1) rows.push(row({ name: `pop_${name}`, mnemonic: 'pop', map: 'one', opcode: seg << 3 | 7, operands: [], modes: 'i64', flags: NO_FLAGS, exec: popSeg, test: { skip: QEMU_SEG } }));
  }
  for (const seg of [4, 5]) {
    const name = SEGS[seg] as string;
    rows.push(
      row({ name: `push_${name}`, mnemonic: 'push', map: '0f', opcode: 0x80 | seg << 3, operands: [], d64: true, flags: NO_FLAGS, exec: pushSeg, test: { skip: HOST_SEL } }),
      row({ name: `pop_${name}`, mnemonic: 'pop', map: '0f', opcode: 0x81 | seg << 3, operands: [], d64: true, flags: NO_FLAGS, exec: popSeg, test: { skip: HOST_GDT } }),
    );
  }
  return rows;
}

function segmentRows(): Row[] {
  const ends = true;
  return [
    row({ mnemonic: 'mov', map: 'one', opcode: 0x8c, operands: ['Ev', 'Sw'], flags: NO_FLAGS, exec: movEvSw, test: { skip: HOST_SEL } }),
    row({ mnemonic: 'mov', map: 'one', opcode: 0x8e, operands: ['Sw', 'Ev'], flags: NO_FLAGS, exec: movSwEv, test: { skip: HOST_GDT } }),
    // Outside 64-bit mode C4/C5 with a memory ModRM are LES/LDS (the decoder takes the others as VEX).
    row({ mnemonic: 'les', map: 'one', opcode: 0xc4, mod: 'mem', operands: ['Gz', 'Mp'], modes: 'i64', flags: NO_FLAGS, exec: (c, i) => loadFarPointer(c, i, 0), test: { skip: QEMU_SEG } }),
    row({ mnemonic: 'lds', map: 'one', opcode: 0xc5, mod: 'mem', operands: ['Gz', 'Mp'], modes: 'i64', flags: NO_FLAGS, exec: (c, i) => loadFarPointer(c, i, 3), test: { skip: QEMU_SEG } }),
    row({ mnemonic: 'lss', map: '0f', opcode: 0xb2, mod: 'mem', operands: ['Gv', 'Mp'], flags: NO_FLAGS, exec: (c, i) => loadFarPointer(c, i, 2), test: { skip: HOST_GDT } }),
    row({ mnemonic: 'lfs', map: '0f', opcode: 0xb4, mod: 'mem', operands: ['Gv', 'Mp'], flags: NO_FLAGS, exec: (c, i) => loadFarPointer(c, i, 4), test: { skip: HOST_GDT } }),
    row({ mnemonic: 'lgs', map: '0f', opcode: 0xb5, mod: 'mem', operands: ['Gv', 'Mp'], flags: NO_FLAGS, exec: (c, i) => loadFarPointer(c, i, 5), test: { skip: HOST_GDT } }),
    // Far transfers: not f64/d64 (the default operand size stays 32 in 64-bit mode; REX.W gives m16:64).
    row({ mnemonic: 'ljmp', map: 'one', opcode: 0xea, operands: ['Iz', 'Iw'], modes: 'i64', flags: NO_FLAGS, ends, exec: jmpAp, test: { skip: QEMU_SEG } }),
    row({ mnemonic: 'lcall', map: 'one', opcode: 0x9a, operands: ['Iz', 'Iw'], modes: 'i64', flags: NO_FLAGS, ends, exec: callAp, test: { skip: QEMU_SEG } }),
    row({ mnemonic: 'lcall', map: 'one', opcode: 0xff, reg: 3, mod: 'mem', operands: ['Mp'], flags: NO_FLAGS, ends, exec: callMp, test: { skip: HOST_FAR } }),
    row({ mnemonic: 'ljmp', map: 'one', opcode: 0xff, reg: 5, mod: 'mem', operands: ['Mp'], flags: NO_FLAGS, ends, exec: jmpMp, test: { skip: HOST_FAR } }),
    row({ mnemonic: 'lret', map: 'one', opcode: 0xca, operands: ['Iw'], flags: NO_FLAGS, ends, exec: retfar, test: { skip: HOST_FAR } }),
    row({ name: 'lret', mnemonic: 'lret', map: 'one', opcode: 0xcb, operands: [], flags: NO_FLAGS, ends, exec: retfar, test: { skip: HOST_FAR } }),
  ];
}

function descriptorTableRows(): Row[] {
  const zf = fx(0, ZF);
  return [
    row({ mnemonic: 'sldt', map: '0f', opcode: 0x00, reg: 0, operands: ['Ev'], flags: NO_FLAGS, exec: sldt, test: { skip: HOST_UMIP } }),
    row({ mnemonic: 'str', map: '0f', opcode: 0x00, reg: 1, operands: ['Ev'], flags: NO_FLAGS, exec: str, test: { skip: HOST_UMIP } }),
    row({ mnemonic: 'lldt', map: '0f', opcode: 0x00, reg: 2, operands: ['Ew'], flags: NO_FLAGS, exec: lldt }),
    row({ mnemonic: 'ltr', map: '0f', opcode: 0x00, reg: 3, operands: ['Ew'], flags: NO_FLAGS, exec: ltr }),
    row({ mnemonic: 'verr', map: '0f', opcode: 0x00, reg: 4, operands: ['Ew'], flags: zf, exec: verr, test: { skip: HOST_GDT } }),
    row({ mnemonic: 'verw', map: '0f', opcode: 0x00, reg: 5, operands: ['Ew'], flags: zf, exec: verw, test: { skip: HOST_GDT } }),
    // LAR/LSL read a 16-bit selector from memory but name a register of the operand size (SDM: r32/m16).
    row({ mnemonic: 'lar', map: '0f', opcode: 0x02, operands: ['Gv', 'Ev'], flags: zf, exec: lar, test: { skip: HOST_GDT } }),
    row({ mnemonic: 'lsl', map: '0f', opcode: 0x03, operands: ['Gv', 'Ev'], flags: zf, exec: lsl, test: { skip: HOST_GDT } }),
    // In 64-bit mode 63 is MOVSXD (rows-core.ts).
    row({ mnemonic: 'arpl', map: 'one', opcode: 0x63, operands: ['Ew', 'Gw'], modes: 'i64', flags: zf, exec: arpl }),
  ];
}

function ioRows(): Row[] {
  const rd = fx(DF, 0);
  return [
    row({ mnemonic: 'in', map: 'one', opcode: 0xe4, operands: ['AL', 'Ib'], flags: NO_FLAGS, exec: inAcc }),
    row({ mnemonic: 'in', map: 'one', opcode: 0xe5, operands: ['eAX', 'Ib'], flags: NO_FLAGS, exec: inAcc }),
    row({ mnemonic: 'out', map: 'one', opcode: 0xe6, operands: ['Ib', 'AL'], flags: NO_FLAGS, exec: outAcc }),
    row({ mnemonic: 'out', map: 'one', opcode: 0xe7, operands: ['Ib', 'eAX'], flags: NO_FLAGS, exec: outAcc }),
    row({ mnemonic: 'in', map: 'one', opcode: 0xec, operands: ['AL', 'DX'], flags: NO_FLAGS, exec: inAcc }),
    row({ mnemonic: 'in', map: 'one', opcode: 0xed, operands: ['eAX', 'DX'], flags: NO_FLAGS, exec: inAcc }),
    row({ mnemonic: 'out', map: 'one', opcode: 0xee, operands: ['DX', 'AL'], flags: NO_FLAGS, exec: outAcc }),
    row({ mnemonic: 'out', map: 'one', opcode: 0xef, operands: ['DX', 'eAX'], flags: NO_FLAGS, exec: outAcc }),
    // A REP restarts itself after a budget of elements, so these end their block (as exec/string.ts).
    row({ mnemonic: 'ins', map: 'one', opcode: 0x6c, operands: ['Yb', 'DX'], rep: 'rep', flags: rd, ends: true, exec: ins }),
    row({ mnemonic: 'ins', map: 'one', opcode: 0x6d, operands: ['Yz', 'DX'], rep: 'rep', flags: rd, ends: true, exec: ins }),
    row({ mnemonic: 'outs', map: 'one', opcode: 0x6e, operands: ['DX', 'Xb'], rep: 'rep', flags: rd, ends: true, exec: outs }),
    row({ mnemonic: 'outs', map: 'one', opcode: 0x6f, operands: ['DX', 'Xz'], rep: 'rep', flags: rd, ends: true, exec: outs }),
  ];
}

function legacyRows(): Row[] {
  return [
    row({ name: 'daa', mnemonic: 'daa', map: 'one', opcode: 0x27, operands: [], modes: 'i64', flags: fx(CF | AF, ARITH, OF), exec: daa }),
    row({ name: 'das', mnemonic: 'das', map: 'one', opcode: 0x2f, operands: [], modes: 'i64', flags: fx(CF | AF, ARITH, OF), exec: das }),
    row({ name: 'aaa', mnemonic: 'aaa', map: 'one', opcode: 0x37, operands: [], modes: 'i64', flags: fx(AF, ARITH, OF | SF | ZF | PF), exec: aaa }),
    row({ name: 'aas', mnemonic: 'aas', map: 'one', opcode: 0x3f, operands: [], modes: 'i64', flags: fx(AF, ARITH, OF | SF | ZF | PF), exec: aas }),
    row({ mnemonic: 'aam', map: 'one', opcode: 0xd4, operands: ['Ib'], modes: 'i64', flags: fx(0, ARITH, OF | AF | CF), exec: aam }),
    row({ mnemonic: 'aad', map: 'one', opcode: 0xd5, operands: ['Ib'], modes: 'i64', flags: fx(0, ARITH, OF | AF | CF), exec: aad }),
    row({ name: 'pusha', mnemonic: 'pusha', map: 'one', opcode: 0x60, operands: [], modes: 'i64', flags: NO_FLAGS, exec: pusha }),
    row({ name: 'popa', mnemonic: 'popa', map: 'one', opcode: 0x61, operands: [], modes: 'i64', flags: NO_FLAGS, exec: popa }),
    // 62 in 64-bit mode is the EVEX prefix; BOUND has no register form.
    row({ mnemonic: 'bound', map: 'one', opcode: 0x62, mod: 'mem', operands: ['Gv', 'M'], modes: 'i64', flags: NO_FLAGS, exec: bound }),
  ];
}

export const SEG_ROWS: readonly Row[] = [...segmentStackRows(), ...segmentRows(), ...descriptorTableRows(), ...ioRows(), ...legacyRows()];
