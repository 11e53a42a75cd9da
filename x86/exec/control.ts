/**
 * Control transfer and condition codes: Jcc, JMP, CALL, RET, LOOP/JrCXZ, SETcc, CMOVcc, and the
 * stack primitives PUSH/POP use.
 */
import type { Cpu } from '../cpu.js';
import { SS_SEG, type Insn } from '../decoder.js';
import { Fault, SS } from '../fault.js';
import { CF, OF, PF, SF, ZF } from '../isa/types.js';
import { ea, readE, writeE } from './operands.js';
import { segCheck } from '../system/limits.js';

/** Condition `cc` (the low nibble of Jcc/SETcc/CMOVcc opcodes; SDM vol. 1 appendix B). */
export function cond(c: Cpu, cc: number): boolean {
  const f = c.getFlags();
  let r: boolean;
  switch (cc >> 1) {
    case 0:
      r = (f & OF) !== 0;
      break;
    case 1:
      r = (f & CF) !== 0;
      break;
    case 2:
      r = (f & ZF) !== 0;
      break;
    case 3:
      r = (f & (CF | ZF)) !== 0;
      break;
    case 4:
      r = (f & SF) !== 0;
      break;
    case 5:
      r = (f & PF) !== 0;
      break;
    case 6:
      r = ((f & SF) !== 0) !== ((f & OF) !== 0);
      break;
    default:
      r = (f & ZF) !== 0 || ((f & SF) !== 0) !== ((f & OF) !== 0);
      break;
  }
  return (cc & 1) !== 0 ? !r : r;
}

/** Stack-pointer width: 8 in 64-bit mode, else by the stack segment's B bit (`Cpu.stackSize`). */
function spSize(c: Cpu): number {
  return c.mode === 64 ? 8 : c.system ? c.stackSize : c.mode === 32 ? 4 : 2;
}

/**
 * Linear address of a stack slot of `size` bytes; a non-canonical one is #SS(0) (SDM vol. 3
 * §6.15), and so is one beyond SS's limit outside 64-bit mode (system level, system/limits.ts).
 */
function stackAddr(c: Cpu, sp: number, size: number): number {
  if (c.mode === 64) {
    if (sp >= 0x800000000000 || sp < -0x800000000000) throw new Fault(SS, 0);
    return sp;
  }
  if (c.system) return segCheck(c, SS_SEG, sp, size, false, false);
  return (sp + (c.segBase[SS_SEG] as number)) >>> 0;
}

/** RSP as a number (64-bit mode: signed; else zero-extended 32/16). */
function getSp(c: Cpu): number {
  const w = spSize(c);
  if (w === 8) return (c.r[9] as number) * 4294967296 + ((c.r[8] as number) >>> 0);
  return w === 4 ? (c.r[8] as number) >>> 0 : (c.r[8] as number) & 0xffff;
}

function setSp(c: Cpu, v: number): void {
  const w = spSize(c);
  if (w === 8) {
    c.r[8] = v | 0;
    c.r[9] = Math.floor(v / 4294967296);
  } else if (w === 4) c.setReg32(4, v);
  else c.setReg16(4, v);
}

/** PUSH of `size` bytes (low half `lo`, high half `hi` for 8). Faults leave RSP unchanged. */
export function push(c: Cpu, size: number, lo: number, hi: number): void {
  const sp = getSp(c) - size;
  const w = spSize(c);
  const nsp = w === 8 ? sp : w === 4 ? sp >>> 0 : sp & 0xffff;
  c.write(stackAddr(c, nsp, size), size, lo, hi);
  setSp(c, nsp);
}

/** POP of `size` bytes: returns the low half, high half in `c.hi`. */
export function pop(c: Cpu, size: number): number {
  const sp = getSp(c);
  const v = c.read(stackAddr(c, sp, size), size);
  const h = c.hi;
  const w = spSize(c);
  const nsp = sp + size;
  setSp(c, w === 8 ? nsp : w === 4 ? nsp >>> 0 : nsp & 0xffff);
  c.hi = h;
  return v;
}

/** Reads the top of stack without popping. */
export function peek(c: Cpu, size: number, offset = 0): number {
  return c.read(stackAddr(c, getSp(c) + offset, size), size);
}

export function adjustSp(c: Cpu, delta: number): void {
  const w = spSize(c);
  const nsp = getSp(c) + delta;
  setSp(c, w === 8 ? nsp : w === 4 ? nsp >>> 0 : nsp & 0xffff);
}

/** Branch target of a relative jump, truncated to the operand size outside 64-bit mode. */
function relTarget(c: Cpu, i: Insn): number {
  const t = c.rip + i.imm;
  return i.opsize === 2 ? t & 0xffff : t;
}

export function jccJ(c: Cpu, i: Insn): void {
  if (cond(c, i.opcode & 15)) c.jump(relTarget(c, i));
}
export function jmpJ(c: Cpu, i: Insn): void {
  c.jump(relTarget(c, i));
}
export function callJ(c: Cpu, i: Insn): void {
  callTo(c, i, relTarget(c, i));
}

/**
 * CALL, in the order measured on hardware: the stack write is checked first (#PF/#SS), then the
 * target (#GP(0) if non-canonical), and only then is anything committed.
 */
function callTo(c: Cpu, i: Insn, target: number): void {
  const size = i.opsize;
  const w = spSize(c);
  const sp = getSp(c) - size;
  c.probeWrite(stackAddr(c, w === 8 ? sp : w === 4 ? sp >>> 0 : sp & 0xffff, size), size);
  const next = c.rip;
  c.jump(target);
  const to = c.rip;
  c.rip = next;
  pushRip(c, i.opsize);
  c.rip = to;
}

function pushRip(c: Cpu, size: number): void {
  const rip = c.rip;
  if (size === 8) push(c, 8, rip | 0, Math.floor(rip / 4294967296));
  else push(c, size, rip, 0);
}

function readTarget(c: Cpu, i: Insn): number {
  const size = i.opsize;
  const lo = readE(c, i, size);
  if (size === 8) return c.hi * 4294967296 + (lo >>> 0);
  return size === 4 ? lo >>> 0 : lo & 0xffff;
}

export function jmpE(c: Cpu, i: Insn): void {
  c.jump(readTarget(c, i));
}
export function callE(c: Cpu, i: Insn): void {
  callTo(c, i, readTarget(c, i));
}

export function ret(c: Cpu, i: Insn, release: number): void {
  const size = i.opsize;
  const lo = peek(c, size);
  const target = size === 8 ? c.hi * 4294967296 + (lo >>> 0) : size === 4 ? lo >>> 0 : lo & 0xffff;
  // Check the target before popping so a #GP leaves RSP as it was.
  c.jump(target);
  adjustSp(c, size + release);
}

export function setccE(c: Cpu, i: Insn): void {
  writeE(c, i, 1, cond(c, i.opcode & 15) ? 1 : 0, 0);
}

/** CMOVcc: the source is read (and may fault) whether or not the move happens; a 32-bit destination is zero-extended either way. */
export function cmovGE(c: Cpu, i: Insn): void {
  const size = i.opsize;
  const v = readE(c, i, size);
  const h = c.hi;
  if (cond(c, i.opcode & 15)) c.setReg(i.reg, size, v, h);
  else if (size === 4) c.setReg32(i.reg, c.reg32(i.reg));
}

/** Count register for LOOP/JrCXZ/REP: rCX at the address size. */
export function getCount(c: Cpu, adsize: number): number {
  if (adsize === 8) return (c.r[3] as number) * 4294967296 + ((c.r[2] as number) >>> 0);
  return adsize === 4 ? (c.r[2] as number) >>> 0 : (c.r[2] as number) & 0xffff;
}
export function setCount(c: Cpu, adsize: number, v: number): void {
  if (adsize === 8) {
    c.r[2] = v | 0;
    c.r[3] = Math.floor(v / 4294967296);
  } else if (adsize === 4) c.setReg32(1, v);
  else c.setReg16(1, v);
}

/** LOOP/LOOPE/LOOPNE (E0-E2) and JrCXZ (E3). */
export function loopJ(c: Cpu, i: Insn): void {
  const op = i.opcode;
  if (op === 0xe3) {
    if (getCount(c, i.adsize) === 0) c.jump(relTarget(c, i));
    return;
  }
  const max = i.adsize === 8 ? 2 ** 64 : i.adsize === 4 ? 2 ** 32 : 2 ** 16;
  let n = getCount(c, i.adsize) - 1;
  if (i.adsize === 8) {
    // 64-bit decrement on the halves, exact for any value.
    const lo = (c.r[2] as number) - 1;
    c.r[3] = (c.r[3] as number) - ((c.r[2] as number) === 0 ? 1 : 0);
    c.r[2] = lo;
    n = (c.r[2] as number) === 0 && (c.r[3] as number) === 0 ? 0 : 1;
  } else {
    if (n < 0) n += max;
    setCount(c, i.adsize, n);
  }
  let take = n !== 0;
  if (op === 0xe1) take &&= (c.getFlags() & ZF) !== 0;
  else if (op === 0xe0) take &&= (c.getFlags() & ZF) === 0;
  if (take) c.jump(relTarget(c, i));
}

export { ea };
