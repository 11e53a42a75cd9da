/**
 * Far control transfers: far JMP and far CALL (direct ptr16:16/32, indirect m16:16/32/64) and
 * far RET, to code segments and through call gates, in protected and IA-32e mode (SDM vol. 2
 * "CALL", "JMP", "RET"; vol. 3 §5.8 privilege-level checks for control transfers, §5.8.5-5.8.6
 * call gates and stack switching; AMD APM vol. 2 §4.11 and §4.8.2 for long mode).
 *
 *  - Direct transfers to a conforming code segment need DPL <= CPL, to a non-conforming one
 *    RPL <= CPL and DPL = CPL; the CPL never changes and CS.RPL becomes the CPL.
 *  - Call gates: DPL >= max(CPL, RPL) for the gate; a CALL to a more privileged non-conforming
 *    segment switches to the stack the TSS gives for the new CPL (SS:ESP of a 32/16-bit TSS, with
 *    the gate's parameter count copied from the old stack; RSPn of the 64-bit TSS with a null SS
 *    in IA-32e mode, no parameters) and pushes the old SS:rSP before the return address. A JMP
 *    through a gate never changes privilege. In IA-32e mode only 64-bit call gates (16 bytes)
 *    exist and their target must be a 64-bit code segment.
 *  - Far RET to an outer level pops SS:rSP too, then nulls ES/DS/FS/GS the new CPL may not use.
 *  - Loading CS with L = 1 while EFER.LMA = 1 enters 64-bit mode, L = 0 compatibility mode
 *    (`Cpu.loadSegmentCache` recomputes the mode).
 *
 * Every check and every stack write is probed before anything is committed, so a fault leaves
 * the registers as they were. Not modelled: task gates and TSS targets (hardware task switches):
 * a JMP or CALL naming one is #GP(selector), like any other descriptor type these instructions
 * do not accept; virtual-8086 mode; real mode.
 *
 * A CPU that is not system-level (the user-mode runner) has no descriptor tables: a far transfer
 * loads the selector into CS unchecked and keeps the current mode (a flat model).
 */
import type { Cpu } from '../cpu.js';
import type { Insn } from '../decoder.js';
import { Fault, GP, NP, SS, TS } from '../fault.js';
import { attrOf, baseOf, dplOf, join64, limitOf, readDescriptor, tableAddress, type RawDescriptor } from './descriptors.js';
import { nullDataSegments } from './interrupts.js';
import { CR0_PE, EFER_LMA, SA_CE, SA_CODE, SA_DB, SA_L, SA_P, SA_RW, SA_S, isCanonical } from './regs.js';
import { readFarPointer, selError, type SegCache } from './segments.js';

const TWO32 = 4294967296;
const CS_SEG = 1;
const SS_SEG = 2;

function lowHalf(v: number): number {
  return ((v % TWO32) + TWO32) % TWO32;
}

// ---- stacks ------------------------------------------------------------------------------------

/**
 * A stack being pushed or popped before the transfer commits: the segment's cache, the stack
 * pointer's width (8 in 64-bit mode, else by SS.B), and the fault raised for a slot beyond
 * the limit or not canonical (#SS(0) on the current stack, #SS(new SS) on a new one).
 */
interface Stack {
  readonly base: number;
  readonly limit: number;
  readonly attr: number;
  readonly width: 2 | 4 | 8;
  readonly errorCode: number;
  /** Implicit supervisor accesses (a new, inner stack) rather than accesses at the CPL. */
  readonly sys: boolean;
  sp: number;
}

function currentStack(c: Cpu): Stack {
  const width = c.mode === 64 ? 8 : c.stackSize === 4 ? 4 : 2;
  const sp = width === 8 ? join64(c.r[8] as number, c.r[9] as number) : width === 4 ? (c.r[8] as number) >>> 0 : (c.r[8] as number) & 0xffff;
  return { base: c.segBase[SS_SEG] as number, limit: c.segLimit[SS_SEG] as number, attr: c.segAttr[SS_SEG] as number, width, errorCode: 0, sys: false, sp };
}

/** Linear address of `size` bytes at offset `off` of stack `s`, checked. */
function slot(s: Stack, off: number, size: number): number {
  if (s.width === 8) {
    if (!isCanonical(off) || !isCanonical(off + size - 1)) throw new Fault(SS, s.errorCode);
    return off;
  }
  const last = off + size - 1;
  if ((s.attr & (SA_CODE | SA_CE)) === SA_CE) {
    if (off <= s.limit || last > ((s.attr & SA_DB) !== 0 ? 0xffffffff : 0xffff)) throw new Fault(SS, s.errorCode);
  } else if (last > s.limit) throw new Fault(SS, s.errorCode);
  return (s.base + off) >>> 0;
}

function wrapSp(s: Stack, v: number): number {
  return s.width === 8 ? v : s.width === 4 ? lowHalf(v) : ((v % 65536) + 65536) % 65536;
}

/** Pops `size` bytes (a 64-bit value as a number; use for addresses and selectors). */
function popValue(c: Cpu, s: Stack, size: number): number {
  const la = slot(s, s.sp, size);
  const lo = s.sys ? c.sysRead(la, size) : c.read(la, size);
  s.sp = wrapSp(s, s.sp + size);
  if (size === 8) return join64(lo, c.hi);
  return size === 4 ? lo >>> 0 : lo & 0xffff;
}

/** A value to push: size and value (a number; 8-byte values are split when written). */
type Push = readonly [number, number];

/** Checks that every value fits and may be written, then writes them; returns the final SP. */
function pushAll(c: Cpu, s: Stack, values: readonly Push[]): number {
  let sp = s.sp;
  const las: number[] = [];
  for (const [size] of values) {
    sp = wrapSp(s, sp - size);
    const la = slot(s, sp, size);
    if (!s.sys) c.probeWrite(la, size);
    las.push(la);
  }
  values.forEach(([size, v], k) => {
    const la = las[k] as number;
    const lo = lowHalf(v) | 0;
    const hi = size === 8 ? Math.floor(v / TWO32) | 0 : 0;
    if (s.sys) c.sysWrite(la, size, lo, hi);
    else c.write(la, size, lo, hi);
  });
  return sp;
}

/** Sets rSP at the given width (the whole register in 64-bit mode). */
function setSp(c: Cpu, width: number, sp: number): void {
  if (width === 8 || c.mode === 64) {
    c.r[8] = lowHalf(sp) | 0;
    c.r[9] = Math.floor(sp / TWO32);
  } else if (width === 4) c.setReg32(4, sp);
  else c.setReg16(4, sp);
}

// ---- targets -------------------------------------------------------------------------------------

/** The code segment of a far transfer, checked and ready to load. */
interface Target {
  readonly cache: SegCache;
  readonly cpl: number;
  readonly offset: number;
}

/** Reads the descriptor `sel` names, #GP(sel) beyond the table (null checked by the caller). */
function descriptor(c: Cpu, sel: number, size: 8 | 16 = 8): RawDescriptor {
  const d = readDescriptor(c, sel, size);
  if (d === undefined) throw new Fault(GP, selError(sel));
  return d;
}

/**
 * A code segment as the target of a direct far JMP/CALL/RET or a gate, and the offset in it:
 * present (#NP(sel)), not a 64-bit segment with D set in IA-32e mode (#GP(sel)), the offset
 * within the limit or canonical (#GP(0)). Privilege rules are the caller's.
 */
function codeTarget(c: Cpu, sel: number, d: RawDescriptor, offset: number, cpl: number): Target {
  const attr = attrOf(d.hi);
  if ((attr & SA_P) === 0) throw new Fault(NP, selError(sel));
  const lma = (c.efer & EFER_LMA) !== 0;
  const to64 = lma && (attr & SA_L) !== 0;
  if (to64 && (attr & SA_DB) !== 0) throw new Fault(GP, selError(sel));
  const limit = limitOf(d.lo, d.hi);
  let off = offset;
  if (to64) {
    if (!isCanonical(off)) throw new Fault(GP, 0);
  } else {
    off = lowHalf(off);
    if (off > limit) throw new Fault(GP, 0);
  }
  return { cache: [(sel & 0xfffc) | cpl, to64 ? 0 : baseOf(d.lo, d.hi), limit, attr | 1], cpl, offset: off };
}

function isCode(attr: number): boolean {
  return (attr & (SA_S | SA_CODE)) === (SA_S | SA_CODE);
}

/** Direct JMP/CALL to a code segment: conforming DPL <= CPL; non-conforming RPL <= CPL, DPL = CPL. */
function directCode(c: Cpu, sel: number, d: RawDescriptor, offset: number): Target {
  const attr = attrOf(d.hi);
  const dpl = dplOf(attr);
  if ((attr & SA_CE) !== 0 ? dpl > c.cpl : (sel & 3) > c.cpl || dpl !== c.cpl) throw new Fault(GP, selError(sel));
  return codeTarget(c, sel, d, offset, c.cpl);
}

/** A call gate's fields: target selector and offset, parameter count, its operand size (2, 4, 8). */
interface Gate {
  readonly sel: number;
  readonly offset: number;
  readonly params: number;
  readonly size: 2 | 4 | 8;
}

/**
 * A call gate named by `sel`: 16/32-bit (types 4, 12) outside IA-32e mode, 64-bit (type 12,
 * 16 bytes, upper type field 0) in it; DPL >= CPL and RPL, present. Other system types
 * (task gates, TSSs: not modelled) are #GP(sel).
 */
function callGate(c: Cpu, sel: number, d: RawDescriptor): Gate {
  const attr = attrOf(d.hi);
  const type = attr & 0x0f;
  const lma = (c.efer & EFER_LMA) !== 0;
  if (lma ? type !== 12 : type !== 4 && type !== 12) throw new Fault(GP, selError(sel));
  const dpl = dplOf(attr);
  if (dpl < c.cpl || dpl < (sel & 3)) throw new Fault(GP, selError(sel));
  if ((attr & SA_P) === 0) throw new Fault(NP, selError(sel));
  let offset = (d.lo & 0xffff) | (d.hi & 0xffff0000);
  let size: 2 | 4 | 8 = type === 4 ? 2 : 4;
  if (lma) {
    const d16 = descriptor(c, sel, 16);
    if (((c.sysRead(tableAddress(c, d16.la + 12), 4) >>> 8) & 0x1f) !== 0) throw new Fault(GP, selError(sel));
    offset = join64(offset, d16.upper);
    size = 8;
  } else offset = size === 2 ? offset & 0xffff : offset >>> 0;
  return { sel: d.lo >>> 16, offset, params: d.hi & 0x1f, size };
}

/** The code segment a gate names: not null (#GP(0)), a code segment with DPL <= CPL (#GP(sel)), 64-bit in IA-32e mode. */
function gateCode(c: Cpu, g: Gate): { d: RawDescriptor; attr: number } {
  if ((g.sel & 0xfffc) === 0) throw new Fault(GP, 0);
  const d = descriptor(c, g.sel);
  const attr = attrOf(d.hi);
  if (!isCode(attr) || dplOf(attr) > c.cpl) throw new Fault(GP, selError(g.sel));
  if ((c.efer & EFER_LMA) !== 0 && ((attr & SA_L) === 0 || (attr & SA_DB) !== 0)) throw new Fault(GP, selError(g.sel));
  return { d, attr };
}

function commitCs(c: Cpu, t: Target): void {
  c.setCpl(t.cpl);
  c.loadSegmentCache(CS_SEG, t.cache[0], t.cache[1], t.cache[2], t.cache[3]);
  c.rip = t.offset;
}

/** The selector and the descriptor for a far JMP/CALL target: null is #GP(0). */
function targetDescriptor(c: Cpu, sel: number): RawDescriptor {
  if ((sel & 0xfffc) === 0) throw new Fault(GP, 0);
  return descriptor(c, sel);
}

/** The flat model of a CPU without descriptor tables (see the module comment). */
function flatTransfer(c: Cpu, sel: number, offset: number): void {
  c.segSel[CS_SEG] = sel;
  c.jump(c.mode === 64 ? offset : lowHalf(offset));
}

// ---- JMP -------------------------------------------------------------------------------------

/** Far JMP to sel:offset (offset as a number). */
export function jmpFar(c: Cpu, sel: number, offset: number): void {
  if (!c.system || (c.cr0 & CR0_PE) === 0) {
    flatTransfer(c, sel, offset);
    return;
  }
  const d = targetDescriptor(c, sel);
  const attr = attrOf(d.hi);
  if (isCode(attr)) {
    commitCs(c, directCode(c, sel, d, offset));
    return;
  }
  if ((attr & SA_S) !== 0) throw new Fault(GP, selError(sel));
  const g = callGate(c, sel, d);
  const { d: cd, attr: ca } = gateCode(c, g);
  // Through a gate a JMP keeps the CPL: conforming DPL <= CPL, non-conforming DPL = CPL.
  if ((ca & SA_CE) === 0 && dplOf(ca) !== c.cpl) throw new Fault(GP, selError(g.sel));
  commitCs(c, codeTarget(c, g.sel, cd, g.offset, c.cpl));
}

// ---- CALL ------------------------------------------------------------------------------------

/** Far CALL to sel:offset with operand size `size` (2, 4, 8) for a direct target. */
export function callFar(c: Cpu, sel: number, offset: number, size: number): void {
  const retCs = c.segSel[CS_SEG] as number;
  const retIp = c.rip;
  if (!c.system || (c.cr0 & CR0_PE) === 0) {
    const s = currentStack(c);
    const sp = pushAll(c, s, [[size, retCs], [size, retIp]]);
    flatTransfer(c, sel, offset);
    setSp(c, s.width, sp);
    return;
  }
  const d = targetDescriptor(c, sel);
  const attr = attrOf(d.hi);
  if (isCode(attr)) {
    const t = directCode(c, sel, d, offset);
    const s = currentStack(c);
    const sp = pushAll(c, s, [[size, retCs], [size, retIp]]);
    commitCs(c, t);
    setSp(c, s.width, sp);
    return;
  }
  if ((attr & SA_S) !== 0) throw new Fault(GP, selError(sel));
  const g = callGate(c, sel, d);
  const { d: cd, attr: ca } = gateCode(c, g);
  const dpl = dplOf(ca);
  if ((ca & SA_CE) === 0 && dpl < c.cpl) {
    callInner(c, g, cd, dpl, retCs, retIp);
    return;
  }
  // Same privilege through the gate: the return address is pushed at the gate's size.
  const t = codeTarget(c, g.sel, cd, g.offset, c.cpl);
  const s = currentStack(c);
  const sp = pushAll(c, s, [[g.size, retCs], [g.size, retIp]]);
  commitCs(c, t);
  setSp(c, s.width, sp);
}

/**
 * CALL through a gate to a more privileged level: the new stack from the TSS, old SS:rSP and
 * (legacy gates) the parameters on it, then CS:rIP. Errors on the new stack are #TS/#SS with
 * its selector; faults while writing it are raised before anything is committed.
 */
function callInner(c: Cpu, g: Gate, cd: RawDescriptor, newCpl: number, retCs: number, retIp: number): void {
  const t = codeTarget(c, g.sel, cd, g.offset, newCpl);
  const old = currentStack(c);
  const oldSs = c.segSel[SS_SEG] as number;
  let s: Stack;
  let ssCache: SegCache;
  const values: Push[] = [];
  if (g.size === 8) {
    // IA-32e: RSPn from the 64-bit TSS, SS becomes null with RPL = new CPL.
    const off = 4 + newCpl * 8;
    if (off + 7 > c.trLimit) throw new Fault(TS, selError(c.trSel));
    const la = c.trBase + off;
    const rsp = join64(c.sysRead(la, 4), c.sysRead(la + 4, 4));
    if (!isCanonical(rsp)) throw new Fault(SS, 0);
    s = { base: 0, limit: 0, attr: 0, width: 8, errorCode: 0, sys: true, sp: rsp };
    ssCache = [newCpl, 0, 0, 0];
    values.push([8, oldSs], [8, old.sp], [8, retCs], [8, retIp]);
  } else {
    const is32 = (c.trAttr & 0x08) !== 0;
    const off = is32 ? 4 + newCpl * 8 : 2 + newCpl * 4;
    const w = is32 ? 4 : 2;
    if (off + 2 * w - 1 > c.trLimit) throw new Fault(TS, selError(c.trSel));
    const la = (c.trBase + off) >>> 0;
    const esp = is32 ? c.sysRead(la, 4) >>> 0 : c.sysRead(la, 2);
    const ss = c.sysRead((la + w) >>> 0, 2);
    if ((ss & 0xfffc) === 0) throw new Fault(TS, 0);
    const sd = readDescriptor(c, ss);
    if (sd === undefined || (ss & 3) !== newCpl) throw new Fault(TS, selError(ss));
    const sa = attrOf(sd.hi);
    if ((sa & (SA_S | SA_CODE | SA_RW)) !== (SA_S | SA_RW) || dplOf(sa) !== newCpl) throw new Fault(TS, selError(ss));
    if ((sa & SA_P) === 0) throw new Fault(SS, selError(ss));
    const big = (sa & SA_DB) !== 0;
    s = { base: baseOf(sd.lo, sd.hi), limit: limitOf(sd.lo, sd.hi), attr: sa, width: big ? 4 : 2, errorCode: selError(ss), sys: true, sp: big ? esp : esp & 0xffff };
    ssCache = [ss, s.base, s.limit, sa | 1];
    values.push([g.size, oldSs], [g.size, old.sp]);
    // Parameters: copied from the old stack (read at the old privilege), deepest first.
    const params: number[] = [];
    for (let k = g.params - 1; k >= 0; k--) {
      const la2 = slot(old, wrapSp(old, old.sp + k * g.size), g.size);
      params.push(g.size === 4 ? c.read(la2, 4) >>> 0 : c.read(la2, 2));
    }
    for (const p of params) values.push([g.size, p]);
    values.push([g.size, retCs], [g.size, retIp]);
  }
  const sp = pushAll(c, s, values);
  c.setCpl(newCpl);
  c.loadSegmentCache(SS_SEG, ssCache[0], ssCache[1], ssCache[2], ssCache[3]);
  c.loadSegmentCache(CS_SEG, t.cache[0], t.cache[1], t.cache[2], t.cache[3]);
  c.rip = t.offset;
  setSp(c, s.width, sp);
}

// ---- RET -------------------------------------------------------------------------------------

/**
 * Far RET (CB, CA iw) with operand size `size`: pops rIP and CS; to an outer level also rSP and
 * SS (after releasing `release` bytes of parameters, released again on the outer stack).
 */
export function retFar(c: Cpu, size: number, release: number): void {
  const s = currentStack(c);
  const ip = popValue(c, s, size);
  const sel = popValue(c, s, size) & 0xffff;
  if (!c.system || (c.cr0 & CR0_PE) === 0) {
    flatTransfer(c, sel, ip);
    setSp(c, s.width, wrapSp(s, s.sp + release));
    return;
  }
  if ((sel & 0xfffc) === 0) throw new Fault(GP, 0);
  const rpl = sel & 3;
  const d = descriptor(c, sel);
  const attr = attrOf(d.hi);
  if (!isCode(attr) || rpl < c.cpl) throw new Fault(GP, selError(sel));
  const dpl = dplOf(attr);
  if ((attr & SA_CE) !== 0 ? dpl > rpl : dpl !== rpl) throw new Fault(GP, selError(sel));
  const t = codeTarget(c, sel, d, ip, rpl);
  if (rpl === c.cpl) {
    commitCs(c, t);
    setSp(c, s.width, wrapSp(s, s.sp + release));
    return;
  }
  // Outer level: SS:rSP follow the released parameters.
  s.sp = wrapSp(s, s.sp + release);
  const newSp = popValue(c, s, size);
  const ss = popValue(c, s, size) & 0xffff;
  const to64 = (c.efer & EFER_LMA) !== 0 && (attr & SA_L) !== 0;
  let ssCache: SegCache;
  if ((ss & 0xfffc) === 0) {
    // A null SS only returning to 64-bit mode at CPL < 3 (SDM "RET", IA-32e mode).
    if (!(to64 && rpl !== 3)) throw new Fault(GP, 0);
    ssCache = [ss, 0, 0, 0];
  } else {
    const sd = descriptor(c, ss);
    const sa = attrOf(sd.hi);
    if ((ss & 3) !== rpl || (sa & (SA_S | SA_CODE | SA_RW)) !== (SA_S | SA_RW) || dplOf(sa) !== rpl) throw new Fault(GP, selError(ss));
    if ((sa & SA_P) === 0) throw new Fault(SS, selError(ss));
    ssCache = [ss, baseOf(sd.lo, sd.hi), limitOf(sd.lo, sd.hi), sa | 1];
  }
  commitCs(c, t);
  c.loadSegmentCache(SS_SEG, ssCache[0], ssCache[1], ssCache[2], ssCache[3]);
  // The new stack pointer at the new stack's width, with the parameters released there too.
  const width = c.mode === 64 ? 8 : c.stackSize;
  const sp = width === 8 ? newSp + release : width === 4 ? lowHalf(newSp + release) : (newSp + release) & 0xffff;
  setSp(c, width, sp);
  nullDataSegments(c);
}

// ---- the instruction forms --------------------------------------------------------------------

/** JMP ptr16:16/32 (EA) and CALL ptr16:16/32 (9A): offset in the first immediate, selector in the second. */
export function jmpAp(c: Cpu, i: Insn): void {
  jmpFar(c, i.imm2 & 0xffff, i.opsize === 2 ? i.imm & 0xffff : i.imm >>> 0);
}
export function callAp(c: Cpu, i: Insn): void {
  callFar(c, i.imm2 & 0xffff, i.opsize === 2 ? i.imm & 0xffff : i.imm >>> 0, i.opsize);
}

/** JMP m16:16/32/64 (FF /5) and CALL m16:16/32/64 (FF /3); REX.W selects m16:64. */
export function jmpMp(c: Cpu, i: Insn): void {
  const [lo, hi, sel] = readFarPointer(c, i, i.opsize);
  jmpFar(c, sel & 0xffff, offsetValue(lo, hi, i.opsize));
}
export function callMp(c: Cpu, i: Insn): void {
  const [lo, hi, sel] = readFarPointer(c, i, i.opsize);
  callFar(c, sel & 0xffff, offsetValue(lo, hi, i.opsize), i.opsize);
}

function offsetValue(lo: number, hi: number, size: number): number {
  return size === 8 ? join64(lo, hi) : size === 4 ? lo >>> 0 : lo & 0xffff;
}

export function retfar(c: Cpu, i: Insn): void {
  retFar(c, i.opsize, i.opcode === 0xca ? i.imm & 0xffff : 0);
}
