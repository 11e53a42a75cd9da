/**
 * The eight classic ALU operations (ADD OR ADC SBB AND SUB XOR CMP), INC/DEC/NEG/NOT and TEST,
 * for every operand size. `ALU_OPS` is indexed by the operation's encoding number (the /digit
 * of opcodes 80-83 and bits 5:3 of opcodes 00-3F), as in the SDM's opcode map.
 */
import type { Cpu } from '../cpu.js';
import type { Insn } from '../decoder.js';
import { LazyOp } from '../flags.js';
import { ea, readE, readG, trunc, writeE, writeG } from './operands.js';

export const enum AluOp {
  Add = 0,
  Or = 1,
  Adc = 2,
  Sbb = 3,
  And = 4,
  Sub = 5,
  Xor = 6,
  Cmp = 7,
}

/**
 * Computes `a op b` at `size` bytes and records the flags. Returns the low half; for size 8 the
 * high half is left in `c.hi`. (For sizes 1 and 2 the result is truncated.)
 */
export function alu(c: Cpu, op: AluOp, size: number, a: number, ah: number, b: number, bh: number): number {
  if (size === 8) return alu64(c, op, a, ah, b, bh);
  let r: number;
  switch (op) {
    case AluOp.Add:
      r = (a + b) | 0;
      c.lazy(LazyOp.Add, size, a, b, r);
      break;
    case AluOp.Adc: {
      const cin = c.getCF();
      r = (a + b + cin) | 0;
      c.lazy(LazyOp.Adc, size, a, b, r);
      c.lfCin = cin;
      break;
    }
    case AluOp.Sbb: {
      const cin = c.getCF();
      r = (a - b - cin) | 0;
      c.lazy(LazyOp.Sbb, size, a, b, r);
      c.lfCin = cin;
      break;
    }
    case AluOp.Sub:
    case AluOp.Cmp:
      r = (a - b) | 0;
      c.lazy(LazyOp.Sub, size, a, b, r);
      break;
    case AluOp.Or:
      r = a | b;
      c.lazy(LazyOp.Logic, size, 0, 0, r);
      break;
    case AluOp.And:
      r = a & b;
      c.lazy(LazyOp.Logic, size, 0, 0, r);
      break;
    default:
      r = a ^ b;
      c.lazy(LazyOp.Logic, size, 0, 0, r);
      break;
  }
  return trunc(r, size);
}

function alu64(c: Cpu, op: AluOp, a: number, ah: number, b: number, bh: number): number {
  let r: number;
  let rh: number;
  switch (op) {
    case AluOp.Add:
    case AluOp.Adc: {
      const cin = op === AluOp.Adc ? c.getCF() : 0;
      const lo = (a >>> 0) + (b >>> 0) + cin;
      r = lo | 0;
      rh = (ah + bh + (lo > 0xffffffff ? 1 : 0)) | 0;
      c.lazy64(op === AluOp.Adc ? LazyOp.Adc : LazyOp.Add, a, ah, b, bh, r, rh);
      c.lfCin = cin;
      break;
    }
    case AluOp.Sub:
    case AluOp.Cmp:
    case AluOp.Sbb: {
      const cin = op === AluOp.Sbb ? c.getCF() : 0;
      const lo = (a >>> 0) - (b >>> 0) - cin;
      r = lo | 0;
      rh = (ah - bh - (lo < 0 ? 1 : 0)) | 0;
      c.lazy64(op === AluOp.Sbb ? LazyOp.Sbb : LazyOp.Sub, a, ah, b, bh, r, rh);
      c.lfCin = cin;
      break;
    }
    case AluOp.Or:
      r = a | b;
      rh = ah | bh;
      c.lazy64(LazyOp.Logic, 0, 0, 0, 0, r, rh);
      break;
    case AluOp.And:
      r = a & b;
      rh = ah & bh;
      c.lazy64(LazyOp.Logic, 0, 0, 0, 0, r, rh);
      break;
    default:
      r = a ^ b;
      rh = ah ^ bh;
      c.lazy64(LazyOp.Logic, 0, 0, 0, 0, r, rh);
      break;
  }
  c.hi = rh;
  return r;
}

/** Operation number of an ALU row: opcodes 00-3F carry it in bits 5:3, group 80-83 in ModRM.reg. */
function opOf(i: Insn): AluOp {
  return (i.opcode < 0x40 ? (i.opcode >> 3) & 7 : i.reg & 7) as AluOp;
}

/** op E, G (and op E, imm when `imm` is true). */
function aluE(c: Cpu, i: Insn, size: number, useImm: boolean): void {
  const op = opOf(i);
  let b: number;
  let bh = 0;
  if (useImm) {
    b = trunc(i.imm, size);
    bh = i.immHi;
  } else {
    b = readG(c, i, size);
    bh = c.hi;
  }
  if (i.rm >= 0) {
    const a = c.getReg(i.rm, size);
    const r = alu(c, op, size, a, c.hi, b, bh);
    if (op !== AluOp.Cmp) c.setReg(i.rm, size, r, c.hi);
    return;
  }
  const la = ea(c, i);
  // Read-modify-write: the write is checked first, so a page that is not present faults as a
  // write (#PF error code W), as on hardware.
  if (op !== AluOp.Cmp) c.probeWrite(la, size);
  const a = c.read(la, size);
  const r = alu(c, op, size, a, c.hi, b, bh);
  if (op !== AluOp.Cmp) writeE(c, i, size, r, c.hi, la);
}

export function aluEbGb(c: Cpu, i: Insn): void {
  aluE(c, i, 1, false);
}
export function aluEvGv(c: Cpu, i: Insn): void {
  aluE(c, i, i.opsize, false);
}
export function aluEbIb(c: Cpu, i: Insn): void {
  aluE(c, i, 1, true);
}
export function aluEvI(c: Cpu, i: Insn): void {
  aluE(c, i, i.opsize, true);
}

/** op G, E. */
function aluG(c: Cpu, i: Insn, size: number): void {
  const op = opOf(i);
  const b = readE(c, i, size);
  const bh = c.hi;
  const a = readG(c, i, size);
  const r = alu(c, op, size, a, c.hi, b, bh);
  if (op !== AluOp.Cmp) writeG(c, i, size, r, c.hi);
}
export function aluGbEb(c: Cpu, i: Insn): void {
  aluG(c, i, 1);
}
export function aluGvEv(c: Cpu, i: Insn): void {
  aluG(c, i, i.opsize);
}

/** op AL/rAX, imm. */
export function aluALIb(c: Cpu, i: Insn): void {
  const op = opOf(i);
  const r = alu(c, op, 1, c.reg8(0), 0, i.imm & 0xff, 0);
  if (op !== AluOp.Cmp) c.setReg8(0, r);
}
export function aluRaxIz(c: Cpu, i: Insn): void {
  const op = opOf(i);
  const size = i.opsize;
  const a = c.getReg(0, size);
  const r = alu(c, op, size, a, c.hi, trunc(i.imm, size), i.immHi);
  if (op !== AluOp.Cmp) c.setReg(0, size, r, c.hi);
}

/** TEST E, G / E, imm / AL|rAX, imm: AND without writing. */
export function testEG(c: Cpu, i: Insn, size: number): void {
  const a = readE(c, i, size);
  const ah = c.hi;
  const b = readG(c, i, size);
  alu(c, AluOp.And, size, a, ah, b, c.hi);
}
export function testEI(c: Cpu, i: Insn, size: number): void {
  const a = readE(c, i, size);
  alu(c, AluOp.And, size, a, c.hi, trunc(i.imm, size), i.immHi);
}
export function testAI(c: Cpu, i: Insn, size: number): void {
  const a = c.getReg(0, size);
  alu(c, AluOp.And, size, a, c.hi, trunc(i.imm, size), i.immHi);
}

/** INC/DEC: like ADD/SUB 1 but CF is preserved. */
export function incDec(c: Cpu, i: Insn, size: number, dec: boolean, reg: number): void {
  const cf = c.getCF();
  const la = reg >= 0 ? 0 : ea(c, i);
  if (reg < 0) c.probeWrite(la, size); // RMW: a write fault first (see aluE)
  const a = reg >= 0 ? c.getReg(reg, size) : c.read(la, size);
  const ah = c.hi;
  let r: number;
  let rh = 0;
  if (size === 8) {
    if (dec) {
      r = (a - 1) | 0;
      rh = (ah - (a === 0 ? 1 : 0)) | 0;
    } else {
      r = (a + 1) | 0;
      rh = (ah + (a === -1 ? 1 : 0)) | 0;
    }
    c.lazy64(dec ? LazyOp.Dec : LazyOp.Inc, a, ah, 1, 0, r, rh);
  } else {
    r = trunc(dec ? a - 1 : a + 1, size);
    c.lazy(dec ? LazyOp.Dec : LazyOp.Inc, size, a, 1, r);
  }
  c.lfCin = cf;
  if (reg >= 0) c.setReg(reg, size, r, rh);
  else c.write(la, size, r, rh);
}

/** NEG and NOT of the r/m operand. */
export function negNot(c: Cpu, i: Insn, size: number, neg: boolean): void {
  const la = i.rm >= 0 ? 0 : ea(c, i);
  if (i.rm < 0) c.probeWrite(la, size); // RMW: a write fault first (see aluE)
  const a = i.rm >= 0 ? c.getReg(i.rm, size) : c.read(la, size);
  const ah = c.hi;
  let r: number;
  let rh = 0;
  if (neg) {
    if (size === 8) {
      r = -a | 0;
      rh = (~ah + (a === 0 ? 1 : 0)) | 0;
      c.lazy64(LazyOp.Neg, 0, 0, a, ah, r, rh);
    } else {
      r = trunc(-a, size);
      c.lazy(LazyOp.Neg, size, 0, a, r);
    }
  } else {
    r = trunc(~a, size);
    rh = ~ah;
  }
  writeE(c, i, size, r, rh, la);
}
