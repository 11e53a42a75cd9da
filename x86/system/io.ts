/**
 * Port I/O: IN, OUT (E4-E7, EC-EF) and INS, OUTS (6C-6F, with REP) and their protection check
 * (SDM vol. 1 §19.5 "I/O permission bit map", vol. 2 "IN", "INS", "OUT", "OUTS"; AMD APM vol. 2
 * §13.3). The ports themselves belong to the driver: `CpuHooks.ioIn` (absent: all ones) and
 * `CpuHooks.ioOut` (absent: ignored).
 *
 * Protection: in protected mode with CPL > IOPL, every bit for port..port+size-1 in the TSS's I/O
 * permission bitmap must be 0. The bitmap's offset is the word at TSS offset 66H (32-bit and
 * 64-bit TSS alike); the processor reads the two bytes holding the bits, and any byte beyond the
 * TSS limit counts as all ones, so the access is #GP(0). A 16-bit TSS has no bitmap.
 *
 * A CPU that is not system-level (the user-mode runner) raises #GP(0) for every I/O instruction,
 * as the real CPU does for a CPL 3 process with IOPL 0 and no bitmap.
 *
 * INS/OUTS check the port once, before anything else: with REP and rCX = 0 too (measured on
 * the native oracle: a CPL 3 `rep outsb` with RCX = 0 still raises #GP(0)). They then follow
 * exec/string.ts: rDI/rSI and rCX at the address size, DF for the direction,
 * each element complete before the next (a fault leaves the registers describing the elements
 * done), and a REP yields to the run loop after `BUDGET` elements by restarting itself. INS
 * checks that the destination is writable before reading the port, so a #PF does not consume
 * a port read.
 */
import type { Cpu } from '../cpu.js';
import { ES, type Insn } from '../decoder.js';
import { Fault, GP } from '../fault.js';
import { DF } from '../isa/types.js';
import { linear, regOff } from '../exec/string.js';
import { tableAddress } from './descriptors.js';
import { segCheck } from './limits.js';
import { CR0_PE, RF_IOPL } from './regs.js';

/** Elements a REP INS/OUTS moves per execution before yielding to the run loop. */
const BUDGET = 4096;
const TWO32 = 4294967296;
const RSI = 6;
const RDI = 7;

/** #GP(0) unless the CPU may access ports port..port+size-1 now. */
export function checkIo(c: Cpu, port: number, size: number): void {
  if (!c.system) throw new Fault(GP, 0);
  if ((c.cr0 & CR0_PE) === 0 || c.cpl <= (c.getFlags() & RF_IOPL) >> 12) return;
  // Only a 32-bit (or 64-bit) TSS, available or busy (types 9, 11), has a bitmap.
  if ((c.trAttr & 0x1d) !== 0x09 || c.trLimit < 0x67) throw new Fault(GP, 0);
  const map = c.sysRead(tssAddress(c, 0x66), 2);
  const at = map + (port >> 3);
  if (at + 1 > c.trLimit) throw new Fault(GP, 0);
  const bits = c.sysRead(tssAddress(c, at), 2);
  const mask = ((1 << size) - 1) << (port & 7);
  if ((bits & mask) !== 0) throw new Fault(GP, 0);
}

function tssAddress(c: Cpu, off: number): number {
  return tableAddress(c, c.trBase + off);
}

/** Size of the accumulator operand: 1 for the byte forms, else 2 or 4 (REX.W is ignored). */
function ioSize(i: Insn): 1 | 2 | 4 {
  return (i.opcode & 1) === 0 ? 1 : i.opsize === 2 ? 2 : 4;
}

function portOf(c: Cpu, i: Insn): number {
  // E4-E7 take the port from the immediate, EC-EF from DX.
  return (i.opcode & 0x08) === 0 ? i.imm & 0xff : c.reg16(2);
}

function portIn(c: Cpu, port: number, size: 1 | 2 | 4): number {
  const v = c.hooks.ioIn?.(c, port, size);
  if (v === undefined) return size === 4 ? -1 : (1 << (8 * size)) - 1;
  return size === 4 ? v | 0 : v & ((1 << (8 * size)) - 1);
}

/** IN AL/eAX, imm8 or DX. A 32-bit IN zero-extends into RAX as any 32-bit write does. */
export function inAcc(c: Cpu, i: Insn): void {
  const size = ioSize(i);
  const port = portOf(c, i);
  checkIo(c, port, size);
  c.setReg(0, size, portIn(c, port, size), 0);
}

/** OUT imm8 or DX, AL/eAX. */
export function outAcc(c: Cpu, i: Insn): void {
  const size = ioSize(i);
  const port = portOf(c, i);
  checkIo(c, port, size);
  c.hooks.ioOut?.(c, port, size, c.getReg(0, size));
}

// ---- INS / OUTS ------------------------------------------------------------------------------

/** The linear address of a string element, with the segment checks outside 64-bit mode. */
function elementAddress(c: Cpu, seg: number, off: number, i: Insn, size: number, write: boolean): number {
  if (c.mode !== 64 && c.system) return segCheck(c, seg, off, size, !write, write);
  return linear(c, seg, off, i.adsize);
}

function advance(c: Cpu, n: number, adsize: number, delta: number): void {
  const k = n << 1;
  if (adsize === 8) {
    const lo = ((c.r[k] as number) >>> 0) + delta;
    c.r[k] = lo | 0;
    c.r[k + 1] = ((c.r[k + 1] as number) + Math.floor(lo / TWO32)) | 0;
  } else if (adsize === 4) c.setReg32(n, (c.r[k] as number) + delta);
  else c.setReg16(n, (c.r[k] as number) + delta);
}

/** rCX at the address size is zero. */
function countZero(c: Cpu, adsize: number): boolean {
  const lo = c.r[2] as number;
  if (adsize === 8) return lo === 0 && (c.r[3] as number) === 0;
  return adsize === 4 ? lo === 0 : (lo & 0xffff) === 0;
}

function decrementCount(c: Cpu, adsize: number): void {
  if (adsize === 8) {
    const lo = c.r[2] as number;
    c.r[2] = lo - 1;
    if (lo === 0) c.r[3] = (c.r[3] as number) - 1;
  } else if (adsize === 4) c.setReg32(1, (c.r[2] as number) - 1);
  else c.setReg16(1, (c.r[2] as number) - 1);
}

/** Runs `one` once, or under REP while rCX is not zero, yielding after BUDGET elements. */
function repeat(c: Cpu, i: Insn, one: () => void): void {
  if (i.rep === 0) {
    one();
    return;
  }
  const ad = i.adsize;
  for (let n = 0; n < BUDGET; n++) {
    if (countZero(c, ad)) return;
    one();
    decrementCount(c, ad);
  }
  if (!countZero(c, ad)) c.rip = c.insnStart;
}

/** INS (6C, 6D): port DX to ES:rDI (no segment override). */
export function ins(c: Cpu, i: Insn): void {
  const size = ioSize(i);
  const step = (c.flags & DF) !== 0 ? -size : size;
  const port = c.reg16(2);
  checkIo(c, port, size);
  repeat(c, i, () => {
    const la = elementAddress(c, ES, regOff(c, RDI, i.adsize), i, size, true);
    c.probeWrite(la, size);
    c.write(la, size, portIn(c, port, size), 0);
    advance(c, RDI, i.adsize, step);
  });
}

/** OUTS (6E, 6F): seg:rSI (DS by default, overridable) to port DX. */
export function outs(c: Cpu, i: Insn): void {
  const size = ioSize(i);
  const step = (c.flags & DF) !== 0 ? -size : size;
  const port = c.reg16(2);
  checkIo(c, port, size);
  repeat(c, i, () => {
    const v = c.read(elementAddress(c, i.seg, regOff(c, RSI, i.adsize), i, size, false), size);
    c.hooks.ioOut?.(c, port, size, v);
    advance(c, RSI, i.adsize, step);
  });
}
