/** Data movement: MOV forms, LEA, MOVZX/MOVSX/MOVSXD, XCHG, CBW..CQO, PUSH/POP forms, LEAVE. */
import type { Cpu } from '../cpu.js';
import type { Insn } from '../decoder.js';
import { adjustSp, pop, push } from './control.js';
import { ea, offset32, offset64, readE, readG, sext, trunc, writeE } from './operands.js';

export function movEG(c: Cpu, i: Insn, size: number): void {
  const v = readG(c, i, size);
  writeE(c, i, size, v, c.hi);
}
export function movGE(c: Cpu, i: Insn, size: number): void {
  const v = readE(c, i, size);
  c.setReg(i.reg, size, v, c.hi);
}
export function movEI(c: Cpu, i: Insn, size: number): void {
  writeE(c, i, size, trunc(i.imm, size), i.immHi);
}
/** MOV r, imm (B0-BF): the register comes from the opcode. */
export function movZI(c: Cpu, i: Insn, size: number): void {
  c.setReg(i.reg, size, trunc(i.imm, size), i.immHi);
}

/** LEA: the effective address, truncated to the operand size; no segment base is added. */
export function lea(c: Cpu, i: Insn): void {
  const lo = i.adsize === 8 ? offset64(c, i) : offset32(c, i);
  if (i.opsize === 8) c.setReg64(i.reg, lo, i.adsize === 8 ? c.hi : 0);
  else c.setReg(i.reg, i.opsize, lo, 0);
}

export function movzx(c: Cpu, i: Insn, from: number): void {
  const v = readE(c, i, from);
  c.setReg(i.reg, i.opsize, v, 0);
}
export function movsx(c: Cpu, i: Insn, from: number): void {
  const v = sext(readE(c, i, from), from);
  c.setReg(i.reg, i.opsize, trunc(v, i.opsize), v >> 31);
}
/** MOVSXD Gv, Ed: with REX.W sign-extends; without, moves 32 (or 16) bits. */
export function movsxd(c: Cpu, i: Insn): void {
  const size = i.opsize;
  if (size === 8) {
    const v = readE(c, i, 4);
    c.setReg64(i.reg, v, v >> 31);
  } else {
    c.setReg(i.reg, size, readE(c, i, size), 0);
  }
}

/** XCHG E, G: with a memory operand it is locked implicitly (atomic here by construction). */
export function xchgEG(c: Cpu, i: Insn, size: number): void {
  if (i.rm >= 0) {
    const a = c.getReg(i.rm, size);
    const ah = c.hi;
    const b = c.getReg(i.reg, size);
    c.setReg(i.rm, size, b, c.hi);
    c.setReg(i.reg, size, a, ah);
    return;
  }
  const la = ea(c, i);
  c.probeWrite(la, size);
  const a = c.read(la, size);
  const ah = c.hi;
  const b = c.getReg(i.reg, size);
  c.write(la, size, b, c.hi);
  c.setReg(i.reg, size, a, ah);
}

/** XCHG rAX, Zv (90+r); 90 without REX.B is NOP, handled by its own row. */
export function xchgAZ(c: Cpu, i: Insn): void {
  const size = i.opsize;
  const a = c.getReg(0, size);
  const ah = c.hi;
  const b = c.getReg(i.reg, size);
  c.setReg(0, size, b, c.hi);
  c.setReg(i.reg, size, a, ah);
}

/** CBW/CWDE/CDQE (98): sign-extend the lower half of rAX into rAX. */
export function cbw(c: Cpu, i: Insn): void {
  switch (i.opsize) {
    case 2:
      c.setReg16(0, (c.reg8(0) << 24) >> 24);
      break;
    case 4:
      c.setReg32(0, (c.reg16(0) << 16) >> 16);
      break;
    default: {
      const v = c.reg32(0);
      c.setReg64(0, v, v >> 31);
    }
  }
}
/** CWD/CDQ/CQO (99): rDX = sign of rAX. */
export function cwd(c: Cpu, i: Insn): void {
  switch (i.opsize) {
    case 2:
      c.setReg16(2, (c.reg16(0) << 16) >> 31);
      break;
    case 4:
      c.setReg32(2, c.reg32(0) >> 31);
      break;
    default: {
      const s = c.reg64hi(0) >> 31;
      c.setReg64(2, s, s);
    }
  }
}

export function pushZ(c: Cpu, i: Insn): void {
  const size = i.opsize;
  const v = c.getReg(i.reg, size);
  push(c, size, v, c.hi);
}
export function popZ(c: Cpu, i: Insn): void {
  const size = i.opsize;
  const v = pop(c, size);
  c.setReg(i.reg, size, v, c.hi);
}
export function pushI(c: Cpu, i: Insn): void {
  push(c, i.opsize, trunc(i.imm, i.opsize), i.imm >> 31);
}
export function pushE(c: Cpu, i: Insn): void {
  const size = i.opsize;
  const v = readE(c, i, size);
  push(c, size, v, c.hi);
}
/** POP Ev: RSP is incremented before the destination address is computed (SDM POP). */
export function popE(c: Cpu, i: Insn): void {
  const size = i.opsize;
  if (i.rm >= 0) {
    const v = pop(c, size);
    c.setReg(i.rm, size, v, c.hi);
    return;
  }
  const v = pop(c, size);
  const h = c.hi;
  try {
    writeE(c, i, size, v, h);
  } catch (e) {
    adjustSp(c, -size);
    throw e;
  }
}

/** LEAVE: rSP = rBP, then pop rBP. */
export function leave(c: Cpu, i: Insn): void {
  const size = i.opsize;
  const saveLo = c.r[8] as number;
  const saveHi = c.r[9] as number;
  if (c.mode === 64) c.setReg64(4, c.reg64lo(5), c.reg64hi(5));
  else c.setReg32(4, c.reg32(5));
  try {
    const v = pop(c, size);
    c.setReg(5, size, v, c.hi);
  } catch (e) {
    c.r[8] = saveLo;
    c.r[9] = saveHi;
    throw e;
  }
}
