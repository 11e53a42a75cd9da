/**
 * Descriptor tables (SDM vol. 3 §3.4-3.5, §5.8, §6.10-6.14): reading segment, system and gate
 * descriptors from the GDT, LDT and IDT, and decoding them into the form the CPU caches. Every
 * table access is an implicit supervisor access (`Cpu.sysRead`). Checks that depend on what the
 * descriptor is loaded into live with their users (system/segments.ts, system/interrupts.ts).
 */
import type { Cpu } from '../cpu.js';
import { SA_G, SA_P, SA_S } from './regs.js';

/** A descriptor's two dwords (and the upper two of a 16-byte system descriptor in long mode). */
export interface RawDescriptor {
  lo: number;
  hi: number;
  /** Bits 95:64 of a 16-byte descriptor (base 63:32 or offset 63:32); 0 for 8-byte ones. */
  upper: number;
  /** Linear address the descriptor was read from (for setting the accessed bit); -1 when the driver supplied it. */
  la: number;
}

/** Cached attributes (system/regs.ts SA_*) of a descriptor: access byte and flags nibble. */
export function attrOf(hi: number): number {
  return ((hi >>> 8) & 0xff) | ((hi >>> 12) & 0xf00);
}

/** Base address bits 31:0. */
export function baseOf(lo: number, hi: number): number {
  return ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
}

/** Limit in bytes (scaled by G). */
export function limitOf(lo: number, hi: number): number {
  const raw = (lo & 0xffff) | (hi & 0xf0000);
  return (attrOf(hi) & SA_G) !== 0 ? raw * 4096 + 0xfff : raw;
}

export function dplOf(attr: number): number {
  return (attr >> 5) & 3;
}

export function isPresent(attr: number): boolean {
  return (attr & SA_P) !== 0;
}

/** A code or data segment (S = 1), as opposed to a system descriptor or gate. */
export function isCodeData(attr: number): boolean {
  return (attr & SA_S) !== 0;
}

/**
 * Reads the descriptor for `sel` from the GDT or LDT (TI bit), `size` 8 or 16 bytes. Returns
 * undefined when it lies beyond the table's limit, or TI = 1 with no usable LDT; the caller
 * raises the exception its instruction defines (usually #GP(selector & ~3)).
 */
export function readDescriptor(c: Cpu, sel: number, size: 8 | 16 = 8): RawDescriptor | undefined {
  const supplied = c.hooks.descriptor?.(c, sel, size);
  if (supplied !== undefined) {
    if (supplied === null) return undefined;
    return { lo: supplied[0], hi: supplied[1], upper: supplied[2] ?? 0, la: -1 };
  }
  const index = sel & 0xfff8;
  let base: number;
  let limit: number;
  if ((sel & 4) !== 0) {
    if ((c.ldtrSel & 0xfffc) === 0) return undefined;
    base = c.ldtrBase;
    limit = c.ldtrLimit;
  } else {
    base = c.gdtrBase;
    limit = c.gdtrLimit;
  }
  if (index + size - 1 > limit) return undefined;
  const la = tableAddress(c, base + index);
  const lo = c.sysRead(la, 4);
  const hi = c.sysRead(tableAddress(c, la + 4), 4);
  const upper = size === 16 ? c.sysRead(tableAddress(c, la + 8), 4) : 0;
  return { lo, hi, upper, la };
}

/** Sets the accessed bit of a code/data descriptor in memory if it is clear (the CPU does on a load). */
export function markAccessed(c: Cpu, d: RawDescriptor): void {
  if ((d.hi & 0x100) === 0 && d.la >= 0) {
    d.hi |= 0x100;
    c.sysWrite(tableAddress(c, d.la + 5), 1, (d.hi >>> 8) & 0xff, 0);
  }
}

/** Table addresses wrap at 32 bits outside long mode; in long mode they are 64-bit (canonical). */
export function tableAddress(c: Cpu, a: number): number {
  return c.mode === 64 || (c.efer & 0x400) !== 0 ? a : a >>> 0;
}

/** A 64-bit value's two halves as a canonical JS number (base/offset of 16-byte descriptors). */
export function join64(lo: number, hi: number): number {
  return (hi | 0) * 4294967296 + (lo >>> 0);
}
