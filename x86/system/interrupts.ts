/**
 * Interrupt and exception delivery through the IDT, IRET, and the fast system calls
 * (SYSCALL/SYSRET, SYSENTER/SYSEXIT), for protected mode and IA-32e mode (SDM vol. 3 ch. 6
 * "Interrupt and exception handling", §6.14 for 64-bit mode, §5.8.8 for the fast calls; the
 * instruction pages of vol. 2 for IRET, SYSCALL, SYSRET, SYSENTER, SYSEXIT).
 *
 * Delivery reads the gate, the target code segment and (on a privilege change) the new stack
 * from the TSS, and writes the frame, all before committing anything: a fault on the way leaves
 * the interrupted state intact, and the second exception is combined with the first as §6.15
 * table 6-5 says (a double fault, or a triple fault, which shuts the processor down).
 *
 * Not modelled: task gates and hardware task switches (a task gate is reported as #GP with the
 * gate's selector error code), virtual-8086 mode, and IRET to virtual-8086 mode.
 */
import type { Cpu } from '../cpu.js';
import type { Insn } from '../decoder.js';
import { DB, DF_VEC, Fault, GP, NP, PF_VEC, SS, TS, UD, VECTOR_NAMES, pushesErrorCode as hasErrorCode } from '../fault.js';
import { attrOf, baseOf, dplOf, join64, limitOf, readDescriptor, tableAddress } from './descriptors.js';
import {
  CR0_PE, EFER_LMA, EFER_SCE, RF_IF, RF_IOPL, RF_NT, RF_RF, RF_TF, RF_VIF, RF_VIP, RF_VM,
  SA_CE, SA_CODE, SA_DB, SA_DPL, SA_G, SA_L, SA_P, SA_RW, SA_S, isCanonical,
} from './regs.js';

const TWO32 = 4294967296;

/** How an event came to be delivered (decides the DPL check and the EXT bit of error codes). */
const enum Source {
  /** A processor-detected exception (EXT = 1 in errors found while delivering it). */
  Exception,
  /** An external interrupt (EXT = 1). */
  External,
  /** INT n, INT3, INTO: the gate's DPL must admit the CPL; EXT = 0. */
  Software,
}


/** Contributory exceptions (SDM table 6-4): #DE, #TS, #NP, #SS, #GP. */
function contributory(vector: number): boolean {
  return vector === 0 || (vector >= 10 && vector <= 13);
}

/**
 * Delivers an exception (the run loop has already put RIP at the faulting instruction, or
 * after it for a trap). A fault while delivering it is combined with it: a double fault, a
 * triple fault (shutdown), or the second exception delivered in its place.
 */
export function deliverException(c: Cpu, f: Fault): void {
  if (f.vector === PF_VEC) c.cr2 = f.address;
  const source = f.software ? Source.Software : Source.Exception;
  // Faults save RFLAGS with RF set so that the handler's IRET does not re-trigger an
  // instruction breakpoint; traps and software interrupts save it clear (SDM §17.3.1.1).
  const setRf = !f.trap && !f.software && f.vector !== DB;
  try {
    deliver(c, f.vector, hasErrorCode(f.vector) && !f.software ? Math.max(f.errorCode, 0) : -1, source, setRf);
  } catch (e) {
    if (!(e instanceof Fault)) throw e;
    // INT n, INT3 and INTO did not complete: a fault delivering them points at the instruction.
    if (f.software) c.rip = c.insnStart;
    second(c, f.vector, e);
  }
}

/** An external interrupt (from the APIC or the driver), at an instruction boundary. */
export function deliverInterrupt(c: Cpu, vector: number): void {
  try {
    deliver(c, vector, -1, Source.External, false);
  } catch (e) {
    if (!(e instanceof Fault)) throw e;
    second(c, -1, e);
  }
}

function second(c: Cpu, first: number, e: Fault): void {
  if (e.vector === PF_VEC) c.cr2 = e.address;
  if (first === DF_VEC) {
    shutdown(c, `triple fault: ${e.toString()} while delivering #DF`);
    return;
  }
  const df = (contributory(first) && contributory(e.vector)) || (first === PF_VEC && (e.vector === PF_VEC || contributory(e.vector)));
  if (!df) {
    // Handled serially: the second exception is delivered as if the first had not happened.
    deliverException(c, e);
    return;
  }
  try {
    deliver(c, DF_VEC, 0, Source.Exception, false);
  } catch (e2) {
    if (!(e2 instanceof Fault)) throw e2;
    shutdown(c, `triple fault: ${e2.toString()} while delivering #DF (after ${VECTOR_NAMES[first] ?? first} then ${e.toString()})`);
  }
}

/** Shutdown: the processor stops; the driver hears of it (`CpuHooks.shutdown`). */
export function shutdown(c: Cpu, reason: string): void {
  c.shutdownReason = reason;
  c.stopRequested = true;
  c.hooks.shutdown?.(c, reason);
}

/** Error code naming an IDT entry (SDM §6.13): index, IDT bit, EXT. */
function idtError(vector: number, ext: number): number {
  return vector * 8 + 2 + ext;
}

/** A 64-bit stack value to write: [lo, hi]. */
type Slot = readonly [number, number];

function deliver(c: Cpu, vector: number, errorCode: number, source: Source, setRf: boolean): void {
  if ((c.cr0 & CR0_PE) === 0) throw new Fault(GP, 0); // real mode is not modelled
  const ext = source === Source.Software ? 0 : 1;
  const long = (c.efer & EFER_LMA) !== 0;
  const gateSize = long ? 16 : 8;
  if (vector * gateSize + gateSize - 1 > c.idtrLimit) throw new Fault(GP, idtError(vector, ext));
  const gla = tableAddress(c, c.idtrBase + vector * gateSize);
  const glo = c.sysRead(gla, 4);
  const ghi = c.sysRead(tableAddress(c, gla + 4), 4);
  const type = (ghi >>> 8) & 0x1f;
  const valid = long ? type === 0x0e || type === 0x0f : type === 0x06 || type === 0x07 || type === 0x0e || type === 0x0f;
  if (!valid) throw new Fault(GP, idtError(vector, ext));
  if (source === Source.Software && ((ghi >>> 13) & 3) < c.cpl) throw new Fault(GP, idtError(vector, 0));
  if ((ghi & 0x8000) === 0) throw new Fault(NP, idtError(vector, ext));
  const gate32 = (type & 0x08) !== 0;
  let offset = (glo & 0xffff) | (ghi & 0xffff0000);
  if (long) offset = join64(offset, c.sysRead(tableAddress(c, gla + 8), 4));
  else offset = gate32 ? offset >>> 0 : offset & 0xffff;
  const sel = glo >>> 16;

  // The handler's code segment.
  if ((sel & 0xfffc) === 0) throw new Fault(GP, ext);
  const d = readDescriptor(c, sel);
  if (d === undefined) throw new Fault(GP, (sel & 0xfffc) + ext);
  const attr = attrOf(d.hi);
  if ((attr & (SA_S | SA_CODE)) !== (SA_S | SA_CODE)) throw new Fault(GP, (sel & 0xfffc) + ext);
  if (long && ((attr & SA_L) === 0 || (attr & SA_DB) !== 0)) throw new Fault(GP, (sel & 0xfffc) + ext);
  const dpl = dplOf(attr);
  if (dpl > c.cpl) throw new Fault(GP, (sel & 0xfffc) + ext);
  if ((attr & SA_P) === 0) throw new Fault(NP, (sel & 0xfffc) + ext);
  const newCpl = (attr & SA_CE) !== 0 ? c.cpl : dpl;
  if (long && !isCanonical(offset)) throw new Fault(GP, ext);

  const flags = c.getFlags() | (setRf ? RF_RF : 0);
  const oldCs = c.segSel[1] as number;
  const oldSs = c.segSel[2] as number;
  const rip = c.rip;
  const ist = long ? ghi & 7 : 0;
  const withEc = errorCode >= 0;

  if (long) {
    // 64-bit frame: SS, RSP, RFLAGS, CS, RIP, [error code], 8 bytes each, on a 16-byte aligned stack.
    const oldRsp = join64(c.r[8] as number, c.r[9] as number);
    let rsp = oldRsp;
    if (newCpl < c.cpl || ist !== 0) rsp = tssStack64(c, ist !== 0 ? 0x24 + (ist - 1) * 8 : 4 + newCpl * 8, ext);
    rsp = rsp - lowMod16(rsp);
    const frame: Slot[] = [
      [oldSs, 0],
      split(oldRsp),
      [flags, 0],
      [oldCs, 0],
      split(rip),
    ];
    if (withEc) frame.push([errorCode, 0]);
    for (const [lo, hi] of frame) {
      rsp -= 8;
      if (!isCanonical(rsp)) throw new Fault(SS, ext);
      c.sysWrite(rsp, 8, lo, hi);
    }
    // Commit.
    c.setCpl(newCpl);
    c.loadSegmentCache(1, (sel & 0xfffc) | newCpl, 0, limitOf(d.lo, d.hi), attr | 1);
    if (newCpl !== (oldCs & 3)) c.loadSegmentCache(2, newCpl, 0, 0, 0);
    c.r[8] = lowHalf(rsp) | 0;
    c.r[9] = Math.floor(rsp / TWO32);
    c.rip = offset;
  } else {
    // Protected mode: a stack switch through the TSS on a privilege change.
    const size = gate32 ? 4 : 2;
    let ssSel = oldSs;
    let ssBase = c.segBase[2] as number;
    let ssLimit = c.segLimit[2] as number;
    let ssAttr = c.segAttr[2] as number;
    const oldEsp = (c.r[8] as number) >>> 0;
    let esp = c.stackSize === 4 ? oldEsp : oldEsp & 0xffff;
    const frame: number[] = [];
    if (newCpl < c.cpl) {
      const t = tssStack32(c, newCpl, ext);
      ssSel = t.ss;
      esp = t.esp;
      const sd = readDescriptor(c, ssSel);
      if ((ssSel & 0xfffc) === 0) throw new Fault(TS, ext);
      if ((ssSel & 3) !== newCpl || sd === undefined) throw new Fault(TS, (ssSel & 0xfffc) + ext);
      ssAttr = attrOf(sd.hi);
      if (dplOf(ssAttr) !== newCpl || (ssAttr & (SA_S | SA_CODE | SA_RW)) !== (SA_S | SA_RW)) throw new Fault(TS, (ssSel & 0xfffc) + ext);
      if ((ssAttr & SA_P) === 0) throw new Fault(SS, (ssSel & 0xfffc) + ext);
      ssBase = baseOf(sd.lo, sd.hi);
      ssLimit = limitOf(sd.lo, sd.hi);
      frame.push(oldSs, oldEsp);
    }
    frame.push(flags, oldCs, rip >>> 0);
    if (withEc) frame.push(errorCode);
    const big = (ssAttr & SA_DB) !== 0;
    for (const v of frame) {
      esp = big ? (esp - size) >>> 0 : (esp - size) & 0xffff;
      if (esp + size - 1 > ssLimit) throw new Fault(SS, ext);
      c.sysWrite((ssBase + esp) >>> 0, size, v, 0);
    }
    c.setCpl(newCpl);
    if (ssSel !== oldSs || newCpl !== (oldCs & 3)) c.loadSegmentCache(2, ssSel, ssBase, ssLimit, ssAttr | 1);
    c.loadSegmentCache(1, (sel & 0xfffc) | newCpl, baseOf(d.lo, d.hi), limitOf(d.lo, d.hi), attr | 1);
    if (big) c.setReg32(4, esp);
    else c.setReg16(4, esp);
    c.rip = offset;
  }
  // TF, NT, RF, VM cleared; an interrupt gate also clears IF (SDM §6.12.1.3).
  let nf = flags & ~(RF_TF | RF_NT | RF_RF | RF_VM);
  if ((type & 1) === 0) nf &= ~RF_IF;
  c.setFlags(nf);
  c.halted = false;
}

/** RSPn or ISTn from the 64-bit TSS at `offset`. */
function tssStack64(c: Cpu, offset: number, ext: number): number {
  if (offset + 7 > c.trLimit) throw new Fault(TS, (c.trSel & 0xfffc) + ext);
  const la = c.trBase + offset;
  const lo = c.sysRead(la, 4);
  const hi = c.sysRead(la + 4, 4);
  return join64(lo, hi);
}

/** SSn:ESPn from a 32-bit TSS (types 9/11) or a 16-bit one (types 1/3). */
function tssStack32(c: Cpu, cpl: number, ext: number): { ss: number; esp: number } {
  const is32 = (c.trAttr & 0x08) !== 0;
  const off = is32 ? 4 + cpl * 8 : 2 + cpl * 4;
  const width = is32 ? 4 : 2;
  if (off + 2 * width - 1 > c.trLimit) throw new Fault(TS, (c.trSel & 0xfffc) + ext);
  const la = (c.trBase + off) >>> 0;
  const esp = is32 ? c.sysRead(la, 4) >>> 0 : c.sysRead(la, 2);
  const ss = c.sysRead((la + width) >>> 0, 2);
  return { ss, esp };
}

function lowHalf(v: number): number {
  return ((v % TWO32) + TWO32) % TWO32;
}
function lowMod16(v: number): number {
  return ((v % 16) + 16) % 16;
}
function split(v: number): Slot {
  return [lowHalf(v) | 0, Math.floor(v / TWO32) | 0];
}

// ---- IRET ------------------------------------------------------------------------------------

/** RFLAGS bits an IRET/POPF may change at all (VM, VIF, VIP stay as they are here: no V86). */
const IRET_MASK = 0x3f7fd5 & ~(RF_VM | RF_VIF | RF_VIP);

/**
 * IRET/IRETD/IRETQ in protected and IA-32e mode (SDM vol. 2A "IRET"): same-privilege and
 * outer-privilege returns, and in 64-bit mode always SS:RSP. NT set is a task return (#GP(0)
 * in IA-32e mode; not modelled in legacy mode, also #GP(0)).
 */
export function iret(c: Cpu, i: Insn): void {
  if (!c.system) throw new Fault(GP, 0);
  const size = i.opsize;
  const f = c.getFlags();
  if ((f & RF_NT) !== 0) throw new Fault(GP, 0);
  const long64 = c.mode === 64;
  // Read the frame without moving RSP (committed only once every check passed).
  let sp = long64 ? join64(c.r[8] as number, c.r[9] as number) : c.stackSize === 4 ? (c.r[8] as number) >>> 0 : (c.r[8] as number) & 0xffff;
  const pop = (): number => {
    const v = stackRead(c, sp, size);
    sp += size;
    return v;
  };
  const newRip = pop();
  const newRipHi = c.hi;
  const newCs = pop() & 0xffff;
  const newFlags = pop();
  const rpl = newCs & 3;
  // In 64-bit mode SS:RSP are always popped; in legacy/compat mode only on a privilege change.
  let newSp = 0;
  let newSpHi = 0;
  let newSs = 0;
  const outer = rpl > c.cpl;
  if (long64 || outer) {
    newSp = pop();
    newSpHi = c.hi;
    newSs = pop() & 0xffff;
  }
  // The code segment.
  if ((newCs & 0xfffc) === 0) throw new Fault(GP, 0);
  if (rpl < c.cpl) throw new Fault(GP, newCs & 0xfffc);
  const d = readDescriptor(c, newCs);
  if (d === undefined) throw new Fault(GP, newCs & 0xfffc);
  const attr = attrOf(d.hi);
  if ((attr & (SA_S | SA_CODE)) !== (SA_S | SA_CODE)) throw new Fault(GP, newCs & 0xfffc);
  const dpl = dplOf(attr);
  if ((attr & SA_CE) !== 0 ? dpl > rpl : dpl !== rpl) throw new Fault(GP, newCs & 0xfffc);
  if ((attr & SA_P) === 0) throw new Fault(NP, newCs & 0xfffc);
  const lma = (c.efer & EFER_LMA) !== 0;
  const to64 = lma && (attr & SA_L) !== 0;
  if (lma && (attr & SA_L) !== 0 && (attr & SA_DB) !== 0) throw new Fault(GP, newCs & 0xfffc);
  let ripValue = size === 8 ? join64(newRip, newRipHi) : size === 4 ? newRip >>> 0 : newRip & 0xffff;
  if (to64 && !isCanonical(ripValue)) throw new Fault(GP, 0);
  if (!to64 && ripValue > limitOf(d.lo, d.hi)) throw new Fault(GP, 0);
  if (!to64) ripValue = ripValue >>> 0;

  // The stack segment, when popped.
  let ssCache: [number, number, number, number] | undefined;
  if (long64 || outer) {
    if ((newSs & 0xfffc) === 0) {
      // A null SS is allowed only returning to 64-bit mode at CPL < 3 (SDM "IRET", IA-32e).
      if (!(to64 && rpl !== 3)) throw new Fault(GP, 0);
      ssCache = [newSs, 0, 0, 0];
    } else {
      if ((newSs & 3) !== rpl) throw new Fault(GP, newSs & 0xfffc);
      const sd = readDescriptor(c, newSs);
      if (sd === undefined) throw new Fault(GP, newSs & 0xfffc);
      const sa = attrOf(sd.hi);
      if ((sa & (SA_S | SA_CODE | SA_RW)) !== (SA_S | SA_RW) || dplOf(sa) !== rpl) throw new Fault(GP, newSs & 0xfffc);
      if ((sa & SA_P) === 0) throw new Fault(SS, newSs & 0xfffc);
      ssCache = [newSs, baseOf(sd.lo, sd.hi), limitOf(sd.lo, sd.hi), sa | 1];
    }
  }

  // RFLAGS: IOPL only at CPL 0, IF only when CPL <= IOPL (the CPL before the return).
  let writable = IRET_MASK;
  if (c.cpl > 0) writable &= ~RF_IOPL;
  if (c.cpl > ((f & RF_IOPL) >> 12)) writable &= ~RF_IF;
  if (size === 2) writable &= 0xffff;
  const nf = (f & ~writable) | (newFlags & writable);

  // Commit.
  const oldCpl = c.cpl;
  c.setCpl(rpl);
  c.loadSegmentCache(1, newCs, to64 ? 0 : baseOf(d.lo, d.hi), limitOf(d.lo, d.hi), attr | 1);
  if (ssCache !== undefined) c.loadSegmentCache(2, ssCache[0], ssCache[1], ssCache[2], ssCache[3]);
  if (long64 || outer) {
    if (c.mode === 64) {
      const v = size === 8 ? join64(newSp, newSpHi) : size === 4 ? newSp >>> 0 : newSp & 0xffff;
      c.r[8] = lowHalf(v) | 0;
      c.r[9] = Math.floor(v / TWO32);
    } else if (c.stackSize === 4) c.setReg32(4, newSp);
    else c.setReg16(4, newSp);
  } else if (c.mode === 64) {
    c.r[8] = lowHalf(sp) | 0;
    c.r[9] = Math.floor(sp / TWO32);
  } else if (c.stackSize === 4) c.setReg32(4, sp);
  else c.setReg16(4, sp);
  c.rip = ripValue;
  c.setFlags(nf);
  if (rpl > oldCpl) nullDataSegments(c);
}

function stackRead(c: Cpu, sp: number, size: number): number {
  if (c.mode === 64) {
    if (!isCanonical(sp)) throw new Fault(SS, 0);
    return c.read(sp, size);
  }
  const limit = c.segLimit[2] as number;
  const off = c.stackSize === 4 ? sp >>> 0 : sp & 0xffff;
  if (off + size - 1 > limit) throw new Fault(SS, 0);
  return c.read(((c.segBase[2] as number) + off) >>> 0, size);
}

/**
 * After a return to an outer privilege level, ES, DS, FS and GS are nulled if their DPL is
 * below the new CPL and they are data or non-conforming code (SDM "RET", "IRET").
 */
export function nullDataSegments(c: Cpu): void {
  for (const seg of [0, 3, 4, 5]) {
    const a = c.segAttr[seg] as number;
    if ((((c.segSel[seg] as number) & 0xfffc) === 0) && (a & SA_P) === 0) continue;
    const conformingCode = (a & (SA_CODE | SA_CE)) === (SA_CODE | SA_CE);
    if (dplOf(a) < c.cpl && !conformingCode) {
      // The base of FS/GS survives in 64-bit mode (only the selector and attributes go).
      const keepBase = c.mode === 64 && seg >= 4;
      c.loadSegmentCache(seg, 0, keepBase ? (c.segBase[seg] as number) : 0, 0, 0);
    }
  }
}

// ---- SYSCALL / SYSRET / SYSENTER / SYSEXIT ------------------------------------------------------

/** Flat 64-bit code, flat 32-bit code and flat data as SYSCALL and friends load them (no descriptor read). */
const CS64 = SA_P | SA_S | SA_CODE | SA_RW | 1 | SA_L | SA_G;
const CS32 = SA_P | SA_S | SA_CODE | SA_RW | 1 | SA_DB | SA_G;
const DATA = SA_P | SA_S | SA_RW | 1 | SA_DB | SA_G;

/**
 * SYSCALL (SDM vol. 2B): to CPL 0 at LSTAR from 64-bit mode, CSTAR from compatibility mode, or
 * STAR[31:0] in legacy mode; CS and SS from STAR[47:32] with fixed flat attributes.
 */
export function syscall(c: Cpu): void {
  if ((c.efer & EFER_SCE) === 0) throw new Fault(UD);
  const sel = c.starHi & 0xfffc;
  const next = c.rip;
  const f = c.getFlags();
  if ((c.efer & EFER_LMA) !== 0) {
    const target = c.mode === 64 ? c.lstar : c.cstar;
    c.setReg64(1, lowHalf(next) | 0, Math.floor(next / TWO32));
    c.setReg64(11, f & ~RF_RF, 0);
    c.setCpl(0);
    c.loadSegmentCache(2, (sel + 8) & 0xfffc, 0, 0xffffffff, DATA);
    c.loadSegmentCache(1, sel, 0, 0xffffffff, CS64);
    c.rip = target;
    c.setFlags(f & ~c.sfmask & ~RF_RF);
  } else {
    c.setReg32(1, next >>> 0);
    c.setCpl(0);
    c.loadSegmentCache(2, (sel + 8) & 0xfffc, 0, 0xffffffff, DATA);
    c.loadSegmentCache(1, sel, 0, 0xffffffff, CS32);
    c.rip = c.star >>> 0;
    c.setFlags(f & ~(RF_VM | RF_IF | RF_RF));
  }
}

/** SYSRET (SDM vol. 2B): back to CPL 3, 64-bit with REX.W, else 32-bit. */
export function sysret(c: Cpu, i: Insn): void {
  if ((c.efer & EFER_SCE) === 0) throw new Fault(UD);
  if (c.cpl !== 0 || (c.cr0 & CR0_PE) === 0) throw new Fault(GP, 0);
  const base = (c.starHi >>> 16) & 0xffff;
  const lma = (c.efer & EFER_LMA) !== 0;
  const to64 = i.opsize === 8;
  const rcx = join64(c.r[2] as number, c.r[3] as number);
  if (to64 && !isCanonical(rcx)) throw new Fault(GP, 0);
  if (lma) {
    const r11 = c.r[22] as number;
    c.setCpl(3);
    if (to64) c.loadSegmentCache(1, ((base + 16) & 0xfffc) | 3, 0, 0xffffffff, CS64 | SA_DPL);
    else c.loadSegmentCache(1, (base & 0xfffc) | 3, 0, 0xffffffff, CS32 | SA_DPL);
    c.loadSegmentCache(2, ((base + 8) & 0xfffc) | 3, 0, 0xffffffff, DATA | SA_DPL);
    c.rip = to64 ? rcx : (c.r[2] as number) >>> 0;
    c.setFlags((r11 & 0x3c7fd7) | 2);
  } else {
    c.setCpl(3);
    c.loadSegmentCache(1, (base & 0xfffc) | 3, 0, 0xffffffff, CS32 | SA_DPL);
    c.loadSegmentCache(2, ((base + 8) & 0xfffc) | 3, 0, 0xffffffff, DATA | SA_DPL);
    c.rip = (c.r[2] as number) >>> 0;
    c.setFlags(c.getFlags() | RF_IF);
  }
}

/** SYSENTER (SDM vol. 2B): to CPL 0 at SYSENTER_EIP with SYSENTER_ESP. */
export function sysenter(c: Cpu): void {
  if ((c.cr0 & CR0_PE) === 0 || (c.sysenterCs & 0xfffc) === 0) throw new Fault(GP, 0);
  const lma = (c.efer & EFER_LMA) !== 0;
  const sel = c.sysenterCs & 0xfffc;
  c.setCpl(0);
  c.loadSegmentCache(1, sel, 0, 0xffffffff, lma ? CS64 : CS32);
  c.loadSegmentCache(2, (sel + 8) & 0xfffc, 0, 0xffffffff, DATA);
  const esp = c.sysenterEsp;
  const eip = c.sysenterEip;
  if (lma) {
    c.r[8] = lowHalf(esp) | 0;
    c.r[9] = Math.floor(esp / TWO32);
    c.rip = eip;
  } else {
    c.setReg32(4, esp >>> 0);
    c.rip = eip >>> 0;
  }
  c.setFlags(c.getFlags() & ~(RF_VM | RF_IF | RF_RF));
}

/** SYSEXIT (SDM vol. 2B): to CPL 3 at RDX/EDX with RCX/ECX as the stack. */
export function sysexit(c: Cpu, i: Insn): void {
  if ((c.cr0 & CR0_PE) === 0 || c.cpl !== 0 || (c.sysenterCs & 0xfffc) === 0) throw new Fault(GP, 0);
  const to64 = i.opsize === 8;
  const sel = c.sysenterCs & 0xfffc;
  const rdx = join64(c.r[4] as number, c.r[5] as number);
  const rcx = join64(c.r[2] as number, c.r[3] as number);
  if (to64 && (!isCanonical(rdx) || !isCanonical(rcx))) throw new Fault(GP, 0);
  c.setCpl(3);
  if (to64) {
    c.loadSegmentCache(1, ((sel + 32) & 0xfffc) | 3, 0, 0xffffffff, CS64 | SA_DPL);
    c.loadSegmentCache(2, ((sel + 40) & 0xfffc) | 3, 0, 0xffffffff, DATA | SA_DPL);
    c.r[8] = c.r[2] as number;
    c.r[9] = c.r[3] as number;
    c.rip = rdx;
  } else {
    c.loadSegmentCache(1, ((sel + 16) & 0xfffc) | 3, 0, 0xffffffff, CS32 | SA_DPL);
    c.loadSegmentCache(2, ((sel + 24) & 0xfffc) | 3, 0, 0xffffffff, DATA | SA_DPL);
    c.setReg32(4, c.r[2] as number);
    c.rip = (c.r[4] as number) >>> 0;
  }
}

