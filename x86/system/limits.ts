/**
 * Segment limit and type checks of data accesses outside 64-bit mode (SDM vol. 3 §5.3 "Limit
 * checking", §5.4-5.5, §3.4.5.1 types; vol. 2 under each instruction's protected-mode
 * exceptions): an access through a null (unusable) segment register, an offset beyond the
 * limit (or below it, in an expand-down segment), a write to a read-only data segment or to a
 * code segment, or a read of an execute-only code segment is #GP(0), or #SS(0) through SS.
 *
 * Only a system-level CPU outside 64-bit mode checks (`c.system && c.mode !== 64`); the user-mode
 * runner's CPU has flat segments and never calls these. In 64-bit mode segmentation is off for
 * data (only canonical checks, made in operands.ts).
 *
 * Which accesses are checked (the rest is a documented gap, see below):
 *  - every memory operand through `ea()` (operands.ts): null segment, execute-only code, and the
 *    first byte's offset against the limit (ea() does not know the access size);
 *  - `readE`/`writeE` memory operands (most instructions): the whole access (offset + size - 1),
 *    and writes to read-only data or code;
 *  - stack pushes and pops through control.ts `stackAddr`: the first byte's offset, as #SS(0);
 *  - far transfers, segment loads and I/O string instructions (their own modules).
 * Not checked: the size and write permission of instructions that compute `ea()` and then call
 * `c.read`/`c.write` directly (RMW forms with a precomputed address are covered by writeE), and
 * the string instructions (exec/string.ts). Flat segments, which guests use, never notice.
 */
import type { Cpu } from '../cpu.js';
import { Fault, GP, SS } from '../fault.js';
import { SA_CE, SA_CODE, SA_DB, SA_P, SA_RW } from './regs.js';

const SS_SEG = 2;

/**
 * Checks an access of `size` bytes at `off` (already truncated to the address size) through
 * segment `seg` and returns its linear address. `write`: the access stores; `read`: it loads
 * (false for an address-only check such as `ea()` with unknown use, which checks neither).
 */
export function segCheck(c: Cpu, seg: number, off: number, size: number, read: boolean, write: boolean): number {
  const attr = c.segAttr[seg] as number;
  const vec = seg === SS_SEG ? SS : GP;
  // A null selector loaded outside 64-bit mode leaves the register unusable (attributes 0).
  if ((attr & SA_P) === 0) throw new Fault(vec, 0);
  if ((attr & SA_CODE) !== 0) {
    if (write || (read && (attr & SA_RW) === 0)) throw new Fault(vec, 0);
  } else if (write && (attr & SA_RW) === 0) throw new Fault(vec, 0);
  const limit = c.segLimit[seg] as number;
  const last = off + size - 1;
  if ((attr & (SA_CODE | SA_CE)) === SA_CE) {
    // Expand-down data: valid offsets are limit+1 .. 0xFFFF or 0xFFFFFFFF (by the B flag).
    const top = (attr & SA_DB) !== 0 ? 0xffffffff : 0xffff;
    if (off <= limit || last > top) throw new Fault(vec, 0);
  } else if (last > limit) throw new Fault(vec, 0);
  return (off + (c.segBase[seg] as number)) >>> 0;
}

/** `ea()`'s check: usable segment, not execute-only code, first byte within the limit. */
export function segCheckEa(c: Cpu, seg: number, off: number): number {
  const attr = c.segAttr[seg] as number;
  if ((attr & (SA_CODE | SA_RW)) === SA_CODE) throw new Fault(seg === SS_SEG ? SS : GP, 0);
  return segCheck(c, seg, off, 1, false, false);
}
