/**
 * String instructions MOVS, CMPS, STOS, LODS, SCAS (A4-AF) with REP/REPE/REPNE (SDM vol. 2B
 * "MOVS", "REP/REPE/REPZ/REPNE/REPNZ"; vol. 1 §7.3.9).
 *
 *  - The source is seg:rSI with DS by default and a segment override allowed; the destination
 *    is always ES:rDI (no override). In 64-bit mode only FS/GS bases count.
 *  - rSI, rDI and the count rCX are used at the address size; DF picks the direction.
 *  - Each iteration is architecturally complete before the next: registers are updated after
 *    every element, so a fault (e.g. #PF on the second page) leaves rSI/rDI/rCX describing
 *    exactly the elements already done, and re-executing the instruction resumes.
 *  - A REP runs at most `BUDGET` bytes per execution; if the count is not exhausted it sets RIP
 *    back to itself and ends the block, so the run loop regains control (instruction limit,
 *    stop requests, and later interrupts) between chunks. The rows are therefore `ends`.
 *  - Forward REP MOVS/STOS within RAM pages copy/fill a page-bounded chunk at once through typed
 *    arrays over the page's DataView; everything else goes element by element.
 */
import type { Cpu } from '../cpu.js';
import { DS, ES, SS_SEG, type Insn } from '../decoder.js';
import { Fault, GP, SS } from '../fault.js';
import { DF } from '../isa/types.js';
import { AccessKind } from '../memory.js';
import { alu, AluOp } from './alu.js';

const TWO32 = 4294967296;
/** Bytes a REP moves per execution before yielding to the run loop. */
const BUDGET = 65536;

const RSI = 6;
const RDI = 7;

/** Offset in register `n` at the address size (64-bit: signed, so canonical values are exact). */
export function regOff(c: Cpu, n: number, adsize: number): number {
  const lo = c.r[n << 1] as number;
  if (adsize === 8) return (c.r[(n << 1) + 1] as number) * TWO32 + (lo >>> 0);
  return adsize === 4 ? lo >>> 0 : lo & 0xffff;
}

/** Linear address of `off` in segment `seg`; #GP(0)/#SS(0) if non-canonical in 64-bit mode. */
export function linear(c: Cpu, seg: number, off: number, adsize: number): number {
  if (c.mode === 64) {
    const la = seg >= 4 ? off + (c.segBase[seg] as number) : off;
    if (adsize === 8 && (la >= 0x800000000000 || la < -0x800000000000)) throw new Fault(seg === SS_SEG ? SS : GP, 0);
    return la;
  }
  return (off + (c.segBase[seg] as number)) >>> 0;
}

/** Adds `delta` (|delta| < 2^31) to register `n` at the address size, exactly. */
function advance(c: Cpu, n: number, adsize: number, delta: number): void {
  const k = n << 1;
  if (adsize === 8) {
    const lo = ((c.r[k] as number) >>> 0) + delta;
    c.r[k] = lo | 0;
    c.r[k + 1] = ((c.r[k + 1] as number) + Math.floor(lo / TWO32)) | 0;
  } else if (adsize === 4) c.setReg32(n, (c.r[k] as number) + delta);
  else c.setReg16(n, (c.r[k] as number) + delta);
}

/** The count register rCX at the address size, capped (only compared against small budgets). */
function count(c: Cpu, adsize: number): number {
  const lo = c.r[2] as number;
  if (adsize === 8) return (c.r[3] as number) !== 0 ? TWO32 : lo >>> 0;
  return adsize === 4 ? lo >>> 0 : lo & 0xffff;
}

/** Subtracts `n` (< 2^32, at most the count) from rCX at the address size. */
function consume(c: Cpu, adsize: number, n: number): void {
  if (adsize === 8) {
    const lo = ((c.r[2] as number) >>> 0) - n;
    c.r[2] = lo | 0;
    c.r[3] = ((c.r[3] as number) + (lo < 0 ? -1 : 0)) | 0;
  } else if (adsize === 4) c.setReg32(1, (c.r[2] as number) - n);
  else c.setReg16(1, (c.r[2] as number) - n);
}

function elemSize(i: Insn): number {
  return (i.opcode & 1) === 0 ? 1 : i.opsize;
}

function srcSeg(i: Insn): number {
  // The decoder's seg: the override, or DS (64-bit mode ignores ES/CS/SS/DS overrides).
  return i.seg;
}

/** Elements of `es` bytes that fit from `la` to its page end and before `off` wraps at the address size. */
function room(la: number, off: number, es: number, adsize: number): number {
  let n = Math.floor((4096 - (la & 4095)) / es);
  if (adsize !== 8) {
    const wrap = (adsize === 4 ? TWO32 : 65536) - off;
    n = Math.min(n, Math.floor(wrap / es));
  }
  return n;
}

/** Bytes of a page view from `la` on. */
function bytesAt(v: DataView, la: number, len: number): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset + (la & 4095), len);
}

// ---- MOVS ----------------------------------------------------------------------------------

function movsOne(c: Cpu, i: Insn, es: number, step: number): void {
  const ad = i.adsize;
  const src = linear(c, srcSeg(i), regOff(c, RSI, ad), ad);
  const dst = linear(c, ES, regOff(c, RDI, ad), ad);
  const v = c.read(src, es);
  c.write(dst, es, v, c.hi);
  advance(c, RSI, ad, step);
  advance(c, RDI, ad, step);
}

/** Forward chunk within one source and one destination page: returns elements done (0: declined). */
function movsFast(c: Cpu, i: Insn, es: number, max: number): number {
  const ad = i.adsize;
  const so = regOff(c, RSI, ad);
  const dO = regOff(c, RDI, ad);
  const src = linear(c, srcSeg(i), so, ad);
  const dst = linear(c, ES, dO, ad);
  const n = Math.min(max, room(src, so, es, ad), room(dst, dO, es, ad));
  if (n < 2) return 0;
  const sv = c.bulkPage(src, AccessKind.Read);
  if (sv === undefined) return 0;
  const dv = c.bulkPage(dst, AccessKind.Write);
  if (dv === undefined) return 0;
  const len = n * es;
  const from = bytesAt(sv, src, len);
  const to = bytesAt(dv, dst, len);
  const gap = to.byteOffset - from.byteOffset;
  if (to.buffer === from.buffer && gap > 0 && gap < len) {
    // The destination overlaps ahead of the source: each element must read what earlier
    // elements wrote (the pattern-replicating behaviour of a forward MOVS), so go in order.
    for (let k = 0; k < len; k += es) to.set(from.slice(k, k + es), k);
  } else to.set(from);
  advance(c, RSI, ad, len);
  advance(c, RDI, ad, len);
  return n;
}

export function movs(c: Cpu, i: Insn): void {
  const es = elemSize(i);
  const back = (c.flags & DF) !== 0;
  const step = back ? -es : es;
  if (i.rep === 0) {
    movsOne(c, i, es, step);
    return;
  }
  const ad = i.adsize;
  let budget = BUDGET / es;
  for (;;) {
    const n = count(c, ad);
    if (n === 0) return;
    if (budget <= 0) break;
    const done = back ? 0 : movsFast(c, i, es, Math.min(n, budget));
    if (done > 0) {
      consume(c, ad, done);
      budget -= done;
      continue;
    }
    movsOne(c, i, es, step);
    consume(c, ad, 1);
    budget--;
  }
  c.rip = c.insnStart;
}

// ---- STOS ----------------------------------------------------------------------------------

function stosOne(c: Cpu, i: Insn, es: number, step: number, v: number, vh: number): void {
  const ad = i.adsize;
  c.write(linear(c, ES, regOff(c, RDI, ad), ad), es, v, vh);
  advance(c, RDI, ad, step);
}

function stosFast(c: Cpu, i: Insn, es: number, max: number, v: number, vh: number): number {
  const ad = i.adsize;
  const dO = regOff(c, RDI, ad);
  const dst = linear(c, ES, dO, ad);
  const n = Math.min(max, room(dst, dO, es, ad));
  if (n < 2) return 0;
  const dv = c.bulkPage(dst, AccessKind.Write);
  if (dv === undefined) return 0;
  const len = n * es;
  const to = bytesAt(dv, dst, len);
  if (es === 1) to.fill(v & 0xff);
  else {
    // One element, then double the filled prefix until the chunk is full.
    const off = dst & 4095;
    if (es === 2) dv.setUint16(off, v, true);
    else {
      dv.setInt32(off, v, true);
      if (es === 8) dv.setInt32(off + 4, vh, true);
    }
    for (let filled = es; filled < len; filled *= 2) to.copyWithin(filled, 0, Math.min(filled, len - filled));
  }
  advance(c, RDI, ad, len);
  return n;
}

export function stos(c: Cpu, i: Insn): void {
  const es = elemSize(i);
  const v = c.getReg(0, es);
  const vh = c.hi;
  const back = (c.flags & DF) !== 0;
  const step = back ? -es : es;
  if (i.rep === 0) {
    stosOne(c, i, es, step, v, vh);
    return;
  }
  const ad = i.adsize;
  let budget = BUDGET / es;
  for (;;) {
    const n = count(c, ad);
    if (n === 0) return;
    if (budget <= 0) break;
    const done = back ? 0 : stosFast(c, i, es, Math.min(n, budget), v, vh);
    if (done > 0) {
      consume(c, ad, done);
      budget -= done;
      continue;
    }
    stosOne(c, i, es, step, v, vh);
    consume(c, ad, 1);
    budget--;
  }
  c.rip = c.insnStart;
}

// ---- LODS ----------------------------------------------------------------------------------

function lodsOne(c: Cpu, i: Insn, es: number, step: number): void {
  const ad = i.adsize;
  const v = c.read(linear(c, srcSeg(i), regOff(c, RSI, ad), ad), es);
  c.setReg(0, es, v, c.hi);
  advance(c, RSI, ad, step);
}

export function lods(c: Cpu, i: Insn): void {
  const es = elemSize(i);
  const step = (c.flags & DF) !== 0 ? -es : es;
  if (i.rep === 0) {
    lodsOne(c, i, es, step);
    return;
  }
  const ad = i.adsize;
  for (let budget = BUDGET / es; budget > 0; budget--) {
    if (count(c, ad) === 0) return;
    lodsOne(c, i, es, step);
    consume(c, ad, 1);
  }
  if (count(c, ad) !== 0) c.rip = c.insnStart;
}

// ---- CMPS / SCAS ---------------------------------------------------------------------------

/** CMPS: compares [src] with ES:[rDI] (flags of src - dest). Returns whether they were equal. */
function cmpsOne(c: Cpu, i: Insn, es: number, step: number): boolean {
  const ad = i.adsize;
  const a = c.read(linear(c, srcSeg(i), regOff(c, RSI, ad), ad), es);
  const ah = c.hi;
  const b = c.read(linear(c, ES, regOff(c, RDI, ad), ad), es);
  const bh = c.hi;
  alu(c, AluOp.Cmp, es, a, ah, b, bh);
  advance(c, RSI, ad, step);
  advance(c, RDI, ad, step);
  return a === b && (es !== 8 || ah === bh);
}

/** SCAS: compares rAX with ES:[rDI] (flags of rAX - dest). */
function scasOne(c: Cpu, i: Insn, es: number, step: number, a: number, ah: number): boolean {
  const ad = i.adsize;
  const b = c.read(linear(c, ES, regOff(c, RDI, ad), ad), es);
  const bh = c.hi;
  alu(c, AluOp.Cmp, es, a, ah, b, bh);
  advance(c, RDI, ad, step);
  return a === b && (es !== 8 || ah === bh);
}

/**
 * REPE (F3) repeats while equal, REPNE (F2) while not equal; either stops when the count reaches
 * zero, which is tested before each iteration (a zero count leaves flags alone).
 */
function repcc(c: Cpu, i: Insn, one: () => boolean): void {
  if (i.rep === 0) {
    one();
    return;
  }
  const ad = i.adsize;
  const whileEqual = i.rep === 0xf3;
  for (let budget = BUDGET / elemSize(i); budget > 0; budget--) {
    if (count(c, ad) === 0) return;
    const eq = one();
    consume(c, ad, 1);
    if (eq !== whileEqual) return;
  }
  if (count(c, ad) !== 0) c.rip = c.insnStart;
}

export function cmps(c: Cpu, i: Insn): void {
  const es = elemSize(i);
  const step = (c.flags & DF) !== 0 ? -es : es;
  repcc(c, i, () => cmpsOne(c, i, es, step));
}

export function scas(c: Cpu, i: Insn): void {
  const es = elemSize(i);
  const step = (c.flags & DF) !== 0 ? -es : es;
  const a = c.getReg(0, es);
  const ah = c.hi;
  repcc(c, i, () => scasOne(c, i, es, step, a, ah));
}
