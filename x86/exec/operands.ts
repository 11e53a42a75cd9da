/**
 * Operand access shared by the handlers: effective addresses, and reading/writing the ModRM
 * r/m operand (register or memory) and the reg operand at a given size. 64-bit values follow
 * the CPU's convention: the low half is returned, the high half left in `c.hi`.
 */
import type { Cpu } from '../cpu.js';
import { NO_REG, SS_SEG, type Insn } from '../decoder.js';
import { Fault, GP, SS } from '../fault.js';
import { segCheck, segCheckEa } from '../system/limits.js';

const TWO32 = 4294967296;

/** Low 32 bits of an integral double, as 0..2^32-1 (so value = floor(v / 2^32) * 2^32 + this). */
export function lowHalf(v: number): number {
  return ((v % TWO32) + TWO32) % TWO32;
}

/**
 * The 64-bit effective address (offset, before segmentation) of the memory operand, computed
 * exactly on int32 halves with wrap-around modulo 2^64: returns the low half, high half in `c.hi`.
 * Used by LEA directly and by `ea` for 64-bit addressing.
 */
export function offset64(c: Cpu, i: Insn): number {
  let lo = i.disp >>> 0; // unsigned low half: the sign of disp is carried by `hi`
  let hi = i.disp >> 31;
  if (i.ripRel) {
    lo += lowHalf(c.rip);
    hi += Math.floor(c.rip / TWO32);
  }
  if (i.base !== NO_REG) {
    lo += (c.r[i.base << 1] as number) >>> 0;
    hi += c.r[(i.base << 1) + 1] as number;
  }
  if (i.index !== NO_REG) {
    lo += ((c.r[i.index << 1] as number) >>> 0) * i.scale;
    hi += (c.r[(i.index << 1) + 1] as number) * i.scale;
  }
  // lo is exact (|lo| < 2^36); carry its excess into hi.
  const carry = Math.floor(lo / TWO32);
  c.hi = (hi + carry) | 0;
  return lo | 0;
}

/** Offset of the memory operand at 32- or 16-bit address size (zero-extended). */
export function offset32(c: Cpu, i: Insn): number {
  let a = i.disp;
  // RIP-relative with a 67 prefix: EIP-relative, wrapping at 32 bits (c.rip is the next instruction).
  if (i.ripRel) a += c.rip;
  if (i.base !== NO_REG) a += c.r[i.base << 1] as number;
  if (i.index !== NO_REG) a += (c.r[i.index << 1] as number) * i.scale;
  return i.adsize === 4 ? a >>> 0 : a & 0xffff;
}

/** The linear address of the memory operand; #GP(0) (#SS(0) for stack references) if non-canonical. */
export function ea(c: Cpu, i: Insn): number {
  if (i.adsize === 8) {
    let lo = offset64(c, i);
    let hi = c.hi;
    if (i.seg >= 4) {
      const base = c.segBase[i.seg] as number;
      const l = (lo >>> 0) + lowHalf(base);
      hi = (hi + Math.floor(base / TWO32) + (l >= TWO32 ? 1 : 0)) | 0;
      lo = l | 0;
    }
    // Canonical: bits 63..47 all equal (SDM vol. 1 §3.3.7.1).
    if (hi >> 15 !== hi >> 31) throw new Fault(i.seg === SS_SEG ? SS : GP, 0);
    return hi * TWO32 + (lo >>> 0);
  }
  const a = offset32(c, i);
  if (c.mode === 64) return i.seg >= 4 ? a + (c.segBase[i.seg] as number) : a;
  // Outside 64-bit mode a system-level CPU checks the segment (system/limits.ts).
  if (c.system) return segCheckEa(c, i.seg, a);
  return (a + (c.segBase[i.seg] as number)) >>> 0;
}

/**
 * `ea` for an operand that must be aligned to `bytes` (16: SSE m128, FXSAVE, CMPXCHG16B): a
 * misaligned address is #GP(0) even when it is also non-canonical (the alignment check comes
 * first on hardware; measured with the native oracle), so it is made on the offset's low bits.
 */
export function eaAligned(c: Cpu, i: Insn, bytes: number): number {
  const off = i.adsize === 8 ? offset64(c, i) : offset32(c, i);
  const base = i.seg >= 4 || c.mode !== 64 ? (c.segBase[i.seg] as number) : 0;
  if (((off + lowHalf(base)) & (bytes - 1)) !== 0) throw new Fault(GP, 0);
  return ea(c, i);
}

/** Reads the r/m operand of `size` bytes. */
export function readE(c: Cpu, i: Insn, size: number): number {
  if (i.rm >= 0) return c.getReg(i.rm, size);
  if (c.mode !== 64 && c.system) return c.read(segCheck(c, i.seg, offset32(c, i), size, true, false), size);
  return c.read(ea(c, i), size);
}

/** Writes the r/m operand; `la` is the address already computed for a read-modify-write. */
export function writeE(c: Cpu, i: Insn, size: number, lo: number, hi: number, la?: number): void {
  if (i.rm >= 0) c.setReg(i.rm, size, lo, hi);
  else if (c.mode !== 64 && c.system) {
    // The whole access and the write permission (system/limits.ts); `la` gives back the offset.
    const off = la === undefined ? offset32(c, i) : (la - (c.segBase[i.seg] as number)) >>> 0;
    c.write(segCheck(c, i.seg, off, size, false, true), size, lo, hi);
  } else c.write(la ?? ea(c, i), size, lo, hi);
}

/** Register number of an operand in a `Z` (opcode low bits) or `G` position. */
export function readG(c: Cpu, i: Insn, size: number): number {
  return c.getReg(i.reg, size);
}

export function writeG(c: Cpu, i: Insn, size: number, lo: number, hi: number): void {
  c.setReg(i.reg, size, lo, hi);
}

/** Truncates an int32 to `size` bytes, zero-extended (size 4 keeps the int32 bit pattern). */
export function trunc(v: number, size: number): number {
  return size === 1 ? v & 0xff : size === 2 ? v & 0xffff : v | 0;
}

/** Sign-extends the low `size` bytes of v to int32. */
export function sext(v: number, size: number): number {
  return size === 1 ? (v << 24) >> 24 : size === 2 ? (v << 16) >> 16 : v | 0;
}
