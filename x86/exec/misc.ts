/**
 * The rest of the general-purpose set: flag instructions (CLC STC CMC CLD STD LAHF SAHF PUSHF
 * POPF), atomics (CMPXCHG, CMPXCHG8B/16B, XADD), ENTER, XLAT, MOV with moffs, software
 * interrupts (INT n, INTO, INT1), UD0/UD1, RDTSC/RDTSCP/RDRAND/RDSEED/RDPID, and the hints that
 * execute as no-ops (PREFETCHh, fences) or nearly (CLFLUSH). SDM vol. 2 under each mnemonic.
 *
 * Atomic forms are atomic by construction (the emulator runs one CPU at a time); a LOCK prefix
 * only decides #UD, in the decoder.
 */
import type { Cpu } from '../cpu.js';
import { SS_SEG, type Insn } from '../decoder.js';
import { DB, Fault, GP, OF_VEC, SS, UD } from '../fault.js';
import { AC, AF, CF, DF, ID, IF, IOPL, NT, OF, PF, RF, SF, TF, VM, ZF } from '../isa/types.js';
import { alu, AluOp } from './alu.js';
import { adjustSp, pop, push } from './control.js';
import { ea, eaAligned } from './operands.js';
import { linear, regOff } from './string.js';

const TWO32 = 4294967296;

// ---- flags ---------------------------------------------------------------------------------

export function clc(c: Cpu): void {
  c.setFlagBits(CF, 0);
}
export function stc(c: Cpu): void {
  c.setFlagBits(CF, CF);
}
export function cmc(c: Cpu): void {
  c.setFlagBits(CF, c.getCF() ^ CF);
}
/** DF is never lazy, so it is flipped in place. */
export function cld(c: Cpu): void {
  c.flags &= ~DF;
}
export function std(c: Cpu): void {
  c.flags |= DF;
}

const LAHF_BITS = SF | ZF | AF | PF | CF;

/** LAHF: AH = SF:ZF:0:AF:0:PF:1:CF. */
export function lahf(c: Cpu): void {
  c.setReg8(16, (c.getFlags() & LAHF_BITS) | 2);
}
/** SAHF: SF, ZF, AF, PF, CF from AH. */
export function sahf(c: Cpu): void {
  c.setFlagBits(LAHF_BITS, c.reg8(16));
}

/** PUSHF/PUSHFQ: the image has VM and RF cleared (SDM "PUSHF"). */
export function pushf(c: Cpu, i: Insn): void {
  const f = c.getFlags() & ~(VM | RF);
  push(c, i.opsize, i.opsize === 2 ? f & 0xffff : f, 0);
}

/**
 * POPF/POPFQ (SDM "POPF", protected and 64-bit mode, VM = 0): at CPL 0 every defined flag but
 * VM, VIF, VIP is writable; above CPL 0, IOPL is kept and IF is writable only when CPL <= IOPL.
 * A 32/64-bit POPF clears RF; a 16-bit one only touches bits 15:0. Bit 1 stays set. (TF set by
 * POPF traps after the next instruction: the row ends its block so the run loop sees TF.)
 */
export function popf(c: Cpu, i: Insn): void {
  const size = i.opsize;
  const v = pop(c, size);
  const old = c.getFlags();
  const cpl = c.cpl;
  let writable = CF | PF | AF | ZF | SF | TF | DF | OF | NT | AC | ID;
  if (cpl === 0) writable |= IOPL | IF;
  else if (cpl <= (old & IOPL) >> 12) writable |= IF;
  let f: number;
  if (size === 2) {
    writable &= 0xffff;
    f = (old & ~writable) | (v & writable);
  } else f = ((old & ~writable) | (v & writable)) & ~RF;
  c.flags = f | 2;
  c.flagsChanged(old);
}

// ---- atomics -------------------------------------------------------------------------------

/**
 * CMPXCHG E, G: compares the accumulator with the destination (flags of acc - dest). Equal: the
 * destination gets the source. Not equal: the accumulator gets the destination, and a register
 * destination is left alone (measured: its upper half is not cleared); a memory destination is
 * written back unchanged, as the locked cycle always writes (SDM "CMPXCHG").
 */
export function cmpxchg(c: Cpu, i: Insn, size: number): void {
  const acc = c.getReg(0, size);
  const acch = c.hi;
  const la = i.rm >= 0 ? 0 : ea(c, i);
  let d: number;
  if (i.rm >= 0) d = c.getReg(i.rm, size);
  else {
    c.probeWrite(la, size); // RMW: a write fault first
    d = c.read(la, size);
  }
  const dh = c.hi;
  alu(c, AluOp.Cmp, size, acc, acch, d, dh);
  const equal = acc === d && (size !== 8 || acch === dh);
  if (equal) {
    const s = c.getReg(i.reg, size);
    if (i.rm >= 0) c.setReg(i.rm, size, s, c.hi);
    else c.write(la, size, s, c.hi);
  } else {
    if (i.rm < 0) c.write(la, size, d, dh);
    c.setReg(0, size, d, dh);
  }
}

/**
 * CMPXCHG8B m64 / CMPXCHG16B m128 (0F C7 /1; REX.W selects 16B, which needs CX16 and a 16-byte
 * aligned operand, else #GP(0)). Compares rDX:rAX with memory; equal: stores rCX:rBX, ZF = 1;
 * otherwise loads memory into rDX:rAX (32-bit halves zero-extend), ZF = 0. Memory is written
 * in both cases. Only ZF changes.
 */
export function cmpxchg8b16b(c: Cpu, i: Insn): void {
  if ((i.rex & 8) !== 0) {
    if (!c.features.has('cx16')) throw new Fault(UD);
    const la = eaAligned(c, i, 16);
    c.probeWrite(la, 16); // RMW: a write fault first
    const m0 = c.read64(la);
    const m0h = c.hi;
    const m1 = c.read64(la + 8);
    const m1h = c.hi;
    if (m0 === c.reg64lo(0) && m0h === c.reg64hi(0) && m1 === c.reg64lo(2) && m1h === c.reg64hi(2)) {
      c.write64(la, c.reg64lo(3), c.reg64hi(3));
      c.write64(la + 8, c.reg64lo(1), c.reg64hi(1));
      c.setFlagBits(ZF, ZF);
    } else {
      c.write64(la, m0, m0h);
      c.write64(la + 8, m1, m1h);
      c.setReg64(0, m0, m0h);
      c.setReg64(2, m1, m1h);
      c.setFlagBits(ZF, 0);
    }
    return;
  }
  const la = ea(c, i);
  c.probeWrite(la, 8); // RMW: a write fault first
  const lo = c.read32(la);
  const hi = c.read32(la + 4);
  if (lo === c.reg32(0) && hi === c.reg32(2)) {
    c.write64(la, c.reg32(3), c.reg32(1));
    c.setFlagBits(ZF, ZF);
  } else {
    c.write64(la, lo, hi);
    c.setReg32(0, lo);
    c.setReg32(2, hi);
    c.setFlagBits(ZF, 0);
  }
}

/** XADD E, G: temp = dest + src; src = dest; dest = temp (flags of the addition). */
export function xadd(c: Cpu, i: Insn, size: number): void {
  const s = c.getReg(i.reg, size);
  const sh = c.hi;
  if (i.rm >= 0) {
    const d = c.getReg(i.rm, size);
    const dh = c.hi;
    const r = alu(c, AluOp.Add, size, d, dh, s, sh);
    const rh = c.hi;
    c.setReg(i.reg, size, d, dh);
    c.setReg(i.rm, size, r, rh);
    return;
  }
  const la = ea(c, i);
  c.probeWrite(la, size); // RMW: a write fault first
  const d = c.read(la, size);
  const dh = c.hi;
  const r = alu(c, AluOp.Add, size, d, dh, s, sh);
  c.write(la, size, r, c.hi);
  c.setReg(i.reg, size, d, dh);
}

// ---- ENTER, XLAT, MOV moffs ----------------------------------------------------------------

/** Linear address of a stack-segment offset (stack address size: 64 in long mode, else 32). */
function stackLinear(c: Cpu, off: number): number {
  if (c.mode === 64) {
    if (off >= 0x800000000000 || off < -0x800000000000) throw new Fault(SS, 0);
    return off;
  }
  return (off + (c.segBase[SS_SEG] as number)) >>> 0;
}

/**
 * ENTER Iw, Ib (SDM "ENTER"): push rBP, copy `level - 1` frame pointers from the enclosing
 * frame, push the new frame pointer, set rBP to it and reserve `alloc` bytes. A fault part way
 * restores rSP and rBP, so the instruction can be restarted.
 */
export function enter(c: Cpu, i: Insn): void {
  const size = i.opsize;
  const alloc = i.imm & 0xffff;
  const level = i.imm2 & 31;
  const saved = [c.r[8] as number, c.r[9] as number, c.r[10] as number, c.r[11] as number];
  try {
    const bp = c.getReg(5, size);
    push(c, size, bp, c.hi);
    const ft = c.r[8] as number;
    const fth = c.r[9] as number;
    if (level > 0) {
      const bpOff = c.mode === 64 ? (c.r[11] as number) * TWO32 + ((c.r[10] as number) >>> 0) : (c.r[10] as number) >>> 0;
      for (let k = 1; k < level; k++) {
        let off = bpOff - k * size;
        if (c.mode !== 64) off = off >>> 0;
        const v = c.read(stackLinear(c, off), size);
        push(c, size, v, c.hi);
      }
      push(c, size, ft, fth);
    }
    // The reference machine touches the final stack pointer (a #PF there aborts the whole
    // ENTER), so the new frame is known to be accessible before rBP/rSP are committed.
    const spOff = c.mode === 64 ? (c.r[9] as number) * TWO32 + ((c.r[8] as number) >>> 0) - alloc : ((c.r[8] as number) - alloc) >>> 0;
    c.probeWrite(stackLinear(c, spOff), 1);
    c.setReg(5, size, ft, fth);
    adjustSp(c, -alloc);
  } catch (e) {
    c.r[8] = saved[0] as number;
    c.r[9] = saved[1] as number;
    c.r[10] = saved[2] as number;
    c.r[11] = saved[3] as number;
    throw e;
  }
}

/** XLAT: AL = [seg:rBX + AL] at the address size; DS by default, overridable. */
export function xlat(c: Cpu, i: Insn): void {
  const ad = i.adsize;
  let off = regOff(c, 3, ad) + c.reg8(0);
  if (ad === 4) off = off % TWO32;
  else if (ad === 2) off &= 0xffff;
  c.setReg8(0, c.read8(linear(c, i.seg, off, ad)));
}

/** The moffs operand's linear address (an address-size offset in the instruction). */
function moffs(c: Cpu, i: Insn): number {
  const ad = i.adsize;
  const off = ad === 8 ? i.immHi * TWO32 + (i.imm >>> 0) : ad === 4 ? i.imm >>> 0 : i.imm & 0xffff;
  return linear(c, i.seg, off, ad);
}

/** MOV AL/rAX, moffs (A0/A1) and MOV moffs, AL/rAX (A2/A3). */
export function movAccMoffs(c: Cpu, i: Insn, size: number): void {
  const v = c.read(moffs(c, i), size);
  c.setReg(0, size, v, c.hi);
}
export function movMoffsAcc(c: Cpu, i: Insn, size: number): void {
  const la = moffs(c, i);
  const v = c.getReg(0, size);
  c.write(la, size, v, c.hi);
}

// ---- software interrupts and #UD encodings -------------------------------------------------

/** INT n (CD ib): handed to the driver; without a handler, #GP(n·8+2) like a DPL 0 gate at CPL 3. */
export function intIb(c: Cpu, i: Insn): void {
  const vector = i.imm & 0xff;
  if (c.hooks.interrupt !== undefined) c.hooks.interrupt(c, vector);
  else if (c.system) throw new Fault(vector, -1, 0, true, true);
  else throw new Fault(GP, vector * 8 + 2);
}
/** INTO (CE, not in 64-bit mode): #OF as a trap when OF is set. */
export function into(c: Cpu): void {
  if ((c.getFlags() & OF) !== 0) throw new Fault(OF_VEC, -1, 0, true, true);
}
/** INT1 / ICEBP (F1): #DB as a trap. */
export function int1(): void {
  throw new Fault(DB, -1, 0, true);
}
export function ud(): void {
  throw new Fault(UD);
}

// ---- timestamps, random numbers ------------------------------------------------------------

function tsc(c: Cpu): readonly [number, number] {
  // Without a driver clock, the retired-instruction count is a deterministic monotonic TSC.
  return c.hooks.rdtsc?.(c) ?? [c.retired % TWO32 | 0, Math.floor(c.retired / TWO32)];
}

export function rdtsc(c: Cpu): void {
  const [lo, hi] = tsc(c);
  c.setReg32(0, lo);
  c.setReg32(2, hi);
}
/** RDTSCP: RDTSC plus ECX = IA32_TSC_AUX. */
export function rdtscp(c: Cpu): void {
  rdtsc(c);
  c.setReg32(1, c.hooks.tscAux?.(c) ?? 0);
}
/** RDPID (F3 0F C7 /7): IA32_TSC_AUX into a 64-bit register in 64-bit mode, else 32-bit. */
export function rdpid(c: Cpu, i: Insn): void {
  const aux = c.hooks.tscAux?.(c) ?? 0;
  if (c.mode === 64) c.setReg64(i.rm, aux, 0);
  else c.setReg32(i.rm, aux);
}

/**
 * RDRAND/RDSEED Rv: the driver's random source (`hooks.random`); when it has none (or returns
 * undefined) the destination is zeroed and CF = 0, meaning "retry". OF, SF, ZF, AF, PF cleared.
 */
export function rdrand(c: Cpu, i: Insn): void {
  const size = i.opsize;
  const v = c.hooks.random?.(c, size);
  if (v === undefined) {
    c.setReg(i.rm, size, 0, 0);
    c.setFlagBits(CF | OF | SF | ZF | AF | PF, 0);
    return;
  }
  c.setReg(i.rm, size, v[0], v[1]);
  c.setFlagBits(CF | OF | SF | ZF | AF | PF, CF);
}

/** CLFLUSH/CLFLUSHOPT: no cache to flush, but the access is checked like a byte read (SDM). */
export function clflush(c: Cpu, i: Insn): void {
  c.read8(ea(c, i));
}
