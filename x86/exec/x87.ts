/**
 * x87 FPU semantics (SDM vol. 1 ch. 8, vol. 2 "FADD" .. "FYL2XP1"): loads and stores, integer
 * conversions, arithmetic, comparisons, constants, transcendental functions, stack and control
 * instructions. State and the exact 80-bit conversions live in x87-state.ts; the environment
 * and save-area instructions in x87-env.ts.
 *
 * Flow of a numeric instruction: `begin` raises a pending unmasked exception (#MF) and records
 * the last-instruction pointers; operands are checked for an empty register (stack fault); the
 * operation accumulates exception flags in `x.exc`; `signal` folds them into the status word and
 * says whether the result may be written: an unmasked invalid-operation, denormal or zero-divide
 * exception leaves the destination and the stack untouched (SDM vol. 1 §8.5).
 */
import type { Cpu } from '../cpu.js';
import type { Insn } from '../decoder.js';
import { Fault, MF } from '../fault.js';
import { CF, OF, PF, SF as SF_FLAG, AF, ZF } from '../isa/types.js';
import { ea } from './operands.js';
import {
  BUSY, C0, C1, C2, C3, CC, DE, ES, EXC, IE, K_DENORMAL, K_INF, K_NORMAL, K_QNAN, K_SNAN, K_UNSUPPORTED, K_ZERO,
  OE, PE, RC_NEAREST, RC_UP, S_MEM, S_RES, SF, UE, ZE, type X87,
} from './x87-state.js';
import { add80, div80, mul80, rem80, scaleBy, sqrt80 } from './x87-soft.js';
import { atan2x, exp2m1, trig80, ylog2, ylog2p1 } from './x87-trans.js';

/** Arithmetic operations by the ModRM.reg field of D8/DC memory forms (SDM vol. 2 table A-7). */
export const OP_ADD = 0;
export const OP_MUL = 1;
export const OP_SUB = 4;
export const OP_SUBR = 5;
export const OP_DIV = 6;
export const OP_DIVR = 7;

/** Memory operand formats. */
export type MemFormat = 'f32' | 'f64' | 'f80' | 'i16' | 'i32' | 'i64';

// ---- common steps ---------------------------------------------------------------------------

/**
 * Starts an x87 instruction that waits: a pending unmasked exception is raised now as #MF
 * (SDM vol. 1 §8.6). Non-control instructions record FIP, FOP and FDP (§8.1.8).
 */
export function begin(c: Cpu, i: Insn, control: boolean): X87 {
  const x = c.fpu;
  if ((x.fsw & ES) !== 0) throw new Fault(MF);
  x.exc = 0;
  if (!control) {
    x.fip = i.addr;
    x.fop = ((i.opcode & 7) << 8) | (i.modrm & 0xff);
  }
  return x;
}

/** The memory operand's address, also recorded as the last data pointer. */
function memAddr(c: Cpu, i: Insn): number {
  const la = ea(c, i);
  c.fpu.fdp = la;
  return la;
}

/**
 * Folds the flags raised by the instruction into the status word. Returns false when an
 * unmasked IE, DE or ZE forbids writing the result.
 */
export function signal(x: X87): boolean {
  const e = x.exc;
  x.exc = 0;
  if (e === 0) return true;
  x.fsw |= e;
  const unmasked = e & ~x.fcw & EXC;
  if (unmasked !== 0) x.fsw |= ES | BUSY;
  return (unmasked & (IE | DE | ZE)) === 0;
}

function setC1(x: X87, on: boolean): void {
  x.fsw = on ? x.fsw | C1 : x.fsw & ~C1;
}

/** Stack underflow (SDM vol. 1 §8.5.1.1): IE and SF, C1 cleared. Returns true if masked. */
function underflow(x: X87): boolean {
  x.exc |= IE | SF;
  setC1(x, false);
  return signal(x);
}

/** Pushes slot `src`; on stack overflow IE|SF, C1 set, and (masked) the indefinite is pushed. */
function push(x: X87, src: number): void {
  const t = (x.top - 1) & 7;
  if (x.valid[t] !== 0) {
    // The stack fault replaces a denormal-operand report for the value loaded (measured).
    x.exc = (x.exc & ~DE) | IE | SF;
    setC1(x, true);
    if (!signal(x)) return;
    x.top = t;
    x.setIndefinite(t);
    return;
  }
  x.top = t;
  x.copy(t, src);
  x.valid[t] = 1;
  setC1(x, false);
}

function pop(x: X87): void {
  x.valid[x.top] = 0;
  x.top = (x.top + 1) & 7;
}

/** Writes slot S_RES to physical register d (after `signal` allowed it), optionally popping. */
function commit(x: X87, d: number, popAfter: boolean): void {
  x.copy(d, S_RES);
  x.valid[d] = 1;
  if (popAfter) pop(x);
}

/** Reads a memory operand into S_MEM (flags SNaN/denormal sources in `exc`). */
function loadMem(c: Cpu, la: number, fmt: MemFormat): void {
  const x = c.fpu;
  switch (fmt) {
    case 'f32':
      x.setF32Bits(S_MEM, c.read32(la));
      break;
    case 'f64': {
      const lo = c.read64(la);
      x.setF64Bits(S_MEM, c.hi, lo);
      break;
    }
    case 'f80': {
      const lo = c.read32(la);
      const hi = c.read32(la + 4);
      x.set80(S_MEM, c.read16(la + 8), hi, lo);
      break;
    }
    case 'i16':
      x.setNumber(S_MEM, (c.read16(la) << 16) >> 16);
      break;
    case 'i32':
      x.setNumber(S_MEM, c.read32(la));
      break;
    case 'i64': {
      const lo = c.read64(la);
      x.setInt64(S_MEM, lo, c.hi);
      break;
    }
  }
}

/**
 * The NaN a two-operand instruction returns (SDM vol. 1 table 4-7): a QNaN beats an SNaN, and
 * between two of the same kind the larger significand wins; the
 * result is quieted; on a tie the positive one (measured). IE for an SNaN or an unsupported encoding (which gives the indefinite).
 */
function nanResult(x: X87, a: number, b: number): void {
  const ka = x.kind(a);
  const kb = x.kind(b);
  // A NaN result is not rounded: C1 (round-up) is 0 (measured).
  setC1(x, false);
  if (ka === K_UNSUPPORTED || kb === K_UNSUPPORTED) {
    x.exc |= IE;
    x.setIndefinite(S_RES);
    return;
  }
  if (ka === K_SNAN || kb === K_SNAN) x.exc |= IE;
  const aNan = ka === K_QNAN || ka === K_SNAN;
  const bNan = kb === K_QNAN || kb === K_SNAN;
  let pick = aNan ? a : b;
  if (aNan && bNan) {
    if (ka !== kb) pick = ka === K_QNAN ? a : b;
    else {
      const ah = (x.mhi[a] as number) >>> 0;
      const bh = (x.mhi[b] as number) >>> 0;
      const bl = (x.mlo[b] as number) >>> 0;
      const al = (x.mlo[a] as number) >>> 0;
      if (bh > ah || (bh === ah && (bl > al || (bl === al && x.isNeg(a) && !x.isNeg(b))))) pick = b;
    }
  }
  x.copy(S_RES, pick);
  x.quiet(S_RES);
  x.v[S_RES] = Number.NaN;
}

/** For a one-operand operation on slot a: true (and S_RES set) when a is a NaN or unsupported. */
function nanUnary(x: X87, a: number): boolean {
  const k = x.kind(a);
  if (k === K_UNSUPPORTED) {
    x.exc |= IE;
    x.setIndefinite(S_RES);
    setC1(x, false); // not rounded (measured)
    return true;
  }
  if (k !== K_QNAN && k !== K_SNAN) return false;
  setC1(x, false); // not rounded (measured)
  if (k === K_SNAN) x.exc |= IE;
  x.copy(S_RES, a);
  x.quiet(S_RES);
  return true;
}

// ---- arithmetic core -------------------------------------------------------------------------

/**
 * S_RES = a op b (slots), op one of OP_*, exactly rounded (x87-soft.ts). Exception precedence
 * (SDM vol. 1 §4.9.2): NaN operands (IE for SNaN and unsupported encodings) outrank everything,
 * a denormal memory operand included; then the other invalid operations and zero divide; then
 * the denormal operand (unmasked, the operation stops); then overflow, underflow, inexact.
 */
function compute(x: X87, op: number, a: number, b: number): void {
  let p = a;
  let q = b;
  if (op === OP_SUBR || op === OP_DIVR) {
    p = b;
    q = a;
  }
  const kp = x.kind(p);
  const kq = x.kind(q);
  if (kp >= K_QNAN || kq >= K_QNAN) {
    x.exc &= ~DE;
    nanResult(x, a, b);
    return;
  }
  if (kp === K_DENORMAL || kq === K_DENORMAL) x.exc |= DE;
  const negP = x.isNeg(p);
  let negQ = x.isNeg(q);
  const infP = kp === K_INF;
  const infQ = kq === K_INF;
  let special: number; // 0: compute; 1: invalid; 2: infinity; 3: zero; 4: zero divide
  let neg = negP !== negQ;
  if (op === OP_ADD || op === OP_SUB || op === OP_SUBR) {
    if (op !== OP_ADD) negQ = !negQ;
    neg = infP ? negP : negQ;
    special = infP && infQ && negP !== negQ ? 1 : infP || infQ ? 2 : 0;
  } else if (op === OP_MUL) {
    special = (infP && kq === K_ZERO) || (kp === K_ZERO && infQ) ? 1 : infP || infQ ? 2 : 0;
  } else {
    special = (infP && infQ) || (kp === K_ZERO && kq === K_ZERO) ? 1 : infP ? 2 : infQ ? 3 : kq === K_ZERO ? 4 : 0;
  }
  if (special === 1) {
    x.exc |= IE;
    x.setIndefinite(S_RES);
    setC1(x, false);
    return;
  }
  if (special === 4) {
    x.exc = (x.exc & ~DE) | ZE; // zero divide outranks a denormal dividend (measured)
    special = 2;
  }
  if (special !== 0) {
    x.set80(S_RES, (neg ? 0x8000 : 0) | (special === 2 ? 0x7fff : 0), special === 2 ? 0x80000000 | 0 : 0, 0);
    setC1(x, false);
    return;
  }
  // An unmasked denormal-operand exception stops the operation before it computes (C1 cleared).
  if ((x.exc & ~x.fcw & DE) !== 0) {
    setC1(x, false);
    return;
  }
  if (op === OP_MUL) mul80(x, p, q);
  else if (op === OP_DIV || op === OP_DIVR) div80(x, p, q);
  else add80(x, p, q, op !== OP_ADD);
  setC1(x, x.roundedUp);
}

// ---- loads and stores -----------------------------------------------------------------------

/** FLD m32fp/m64fp/m80fp, FILD m16/m32/m64int (SDM vol. 2 FLD, FILD). */
export function fldMem(c: Cpu, i: Insn, fmt: MemFormat): void {
  const x = begin(c, i, false);
  loadMem(c, memAddr(c, i), fmt);
  if (x.valid[(x.top - 1) & 7] === 0 && (fmt === 'f32' || fmt === 'f64') && x.kind(S_MEM) === K_SNAN) {
    x.exc |= IE;
    x.quiet(S_MEM);
    if ((x.fcw & IE) === 0) {
      signal(x);
      return;
    }
  }
  // A denormal operand is loaded even when DE is unmasked (measured): the load is exact.
  push(x, S_MEM);
  signal(x);
}

/** FLD ST(i): pushes a copy; an empty source is a stack underflow (masked: the indefinite). */
export function fldSt(c: Cpu, i: Insn): void {
  const x = begin(c, i, false);
  const s = x.phys(i.rm & 7);
  if (x.valid[s] === 0) {
    // Underflow outranks overflow: C1 = 0, and the indefinite is pushed over whatever is there.
    if (!underflow(x)) return;
    x.top = (x.top - 1) & 7;
    x.setIndefinite(x.top);
    x.valid[x.top] = 1;
    return;
  }
  x.copy(S_MEM, s);
  push(x, S_MEM);
  signal(x);
}

/** FST/FSTP m32fp/m64fp/m80fp, FIST/FISTP m16/m32/m64int. */
export function fstMem(c: Cpu, i: Insn, fmt: MemFormat, popAfter: boolean): void {
  const x = begin(c, i, false);
  const la = memAddr(c, i);
  const size = fmt === 'f32' || fmt === 'i32' ? 4 : fmt === 'i16' ? 2 : fmt === 'f80' ? 10 : 8;
  // The destination's page fault comes first, even when an unmasked exception then suppresses
  // the store (measured).
  c.probeWrite(la, size);
  const t = x.top;
  const empty = x.valid[t] === 0;
  if (empty) {
    x.exc |= IE | SF;
    x.setIndefinite(S_RES);
  } else x.copy(S_RES, t);
  let lo = 0;
  let hi = 0;
  switch (fmt) {
    case 'f32':
      lo = empty ? 0xffc00000 | 0 : x.toF32Bits(S_RES);
      break;
    case 'f64':
      lo = empty ? 0 : x.toF64Bits(S_RES);
      hi = empty ? 0xfff80000 | 0 : x.outHi;
      break;
    case 'f80':
      lo = x.mlo[S_RES] as number;
      hi = x.mhi[S_RES] as number;
      break;
    default:
      lo = x.toInt(S_RES, size);
      hi = x.outHi;
  }
  // An unmasked invalid, overflow or underflow leaves memory alone (SDM vol. 1 §4.9.2).
  const unmasked = x.exc & ~x.fcw & (IE | OE | UE | DE);
  if (unmasked === 0) {
    if (fmt === 'f80') {
      c.probeWrite(la, 10);
      c.write64(la, lo, hi);
      c.write16(la + 8, x.se[S_RES] as number);
    } else c.write(la, size, lo, hi);
  }
  if (empty) setC1(x, false);
  else setC1(x, (x.exc & PE) !== 0 && x.roundedUp);
  signal(x);
  if (unmasked === 0 && popAfter) pop(x);
}

/** FST/FSTP ST(i). */
export function fstSt(c: Cpu, i: Insn, popAfter: boolean): void {
  const x = begin(c, i, false);
  const d = x.phys(i.rm & 7);
  if (x.valid[x.top] === 0) {
    if (!underflow(x)) return;
    x.setIndefinite(S_RES);
  } else {
    x.copy(S_RES, x.top);
    setC1(x, false); // a register copy is exact: no round-up (measured)
  }
  commit(x, d, popAfter);
}

// ---- arithmetic -----------------------------------------------------------------------------

/** FADD/FMUL/FSUB/FSUBR/FDIV/FDIVR ST(0), m32fp/m64fp, and FIADD.. m16int/m32int. */
export function arithMem(c: Cpu, i: Insn, op: number, fmt: MemFormat): void {
  const x = begin(c, i, false);
  loadMem(c, memAddr(c, i), fmt);
  const d = x.top;
  if (x.valid[d] === 0) {
    x.exc &= ~DE; // the stack fault outranks a denormal memory operand (measured)
    if (!underflow(x)) return;
    x.setIndefinite(d);
    x.valid[d] = 1;
    return;
  }
  compute(x, op, d, S_MEM);
  if (signal(x)) commit(x, d, false);
}

/**
 * Register forms: `toSti` false is ST(0) = ST(0) op ST(i) (D8), true is ST(i) = ST(i) op ST(0)
 * (DC, and DE with `popAfter`).
 */
export function arithReg(c: Cpu, i: Insn, op: number, toSti: boolean, popAfter: boolean): void {
  const x = begin(c, i, false);
  const si = x.phys(i.rm & 7);
  const d = toSti ? si : x.top;
  const s = toSti ? x.top : si;
  if (x.valid[d] === 0 || x.valid[s] === 0) {
    if (!underflow(x)) return;
    x.setIndefinite(S_RES);
    commit(x, d, popAfter);
    return;
  }
  compute(x, op, d, s);
  if (signal(x)) commit(x, d, popAfter);
}

// ---- comparisons ----------------------------------------------------------------------------

/** Exact comparison of two slots: -1, 0, 1, or 2 for unordered. */
function compare(x: X87, a: number, b: number): number {
  const ka = x.kind(a);
  const kb = x.kind(b);
  if (ka >= K_QNAN || kb >= K_QNAN) return 2;
  if (ka === K_ZERO && kb === K_ZERO) return 0;
  const na = x.isNeg(a);
  const nb = x.isNeg(b);
  if (na !== nb) return na ? -1 : 1;
  let m = 0;
  // Exponent 0 (denormals, pseudo-denormals) has the weight of exponent 1.
  const ea = ((x.se[a] as number) & 0x7fff) || 1;
  const eb = ((x.se[b] as number) & 0x7fff) || 1;
  if (ea !== eb) m = ea < eb ? -1 : 1;
  else {
    const ha = (x.mhi[a] as number) >>> 0;
    const hb = (x.mhi[b] as number) >>> 0;
    const la = (x.mlo[a] as number) >>> 0;
    const lb = (x.mlo[b] as number) >>> 0;
    if (ha !== hb) m = ha < hb ? -1 : 1;
    else if (la !== lb) m = la < lb ? -1 : 1;
  }
  return na ? -m : m;
}

/** IE for a comparison: any NaN (ordered forms) or only SNaN (unordered forms); DE for denormals. */
function compareExceptions(x: X87, a: number, b: number, unordered: boolean): void {
  const ka = x.kind(a);
  const kb = x.kind(b);
  if (ka >= K_QNAN || kb >= K_QNAN) {
    // A NaN operand: no denormal-operand report, also for a memory operand (measured).
    x.exc &= ~DE;
    if (!unordered || ka === K_SNAN || kb === K_SNAN || ka === K_UNSUPPORTED || kb === K_UNSUPPORTED) x.exc |= IE;
  } else if (ka === K_DENORMAL || kb === K_DENORMAL) x.exc |= DE;
}

/** C3, C2, C0 for a comparison result (SDM vol. 2 FCOM table 3-21). */
const FCOM_CC = [C0, C3, 0, C3 | C2 | C0];
const ccOf = (r: number): number => FCOM_CC[r + 1] as number;

/** FCOM/FCOMP/FUCOM/FUCOMP ST(i), FCOMPP/FUCOMPP (pops = 2, ST(1)), FTST (against 0). */
function comparePhys(x: X87, s: number, pops: number, unordered: boolean): void {
  const t = x.top;
  let r = 2;
  if (x.valid[t] === 0 || (s >= 0 && s < 8 && x.valid[s] === 0)) {
    // Stack underflow outranks a denormal memory operand (measured).
    x.exc = (x.exc & ~DE) | IE | SF;
  } else {
    compareExceptions(x, t, s, unordered);
    r = compare(x, t, s);
  }
  // The condition codes are written even when an unmasked exception follows (measured); C1 = 0.
  x.fsw = (x.fsw & ~CC) | ccOf(r);
  if (!signal(x)) return;
  for (let k = 0; k < pops; k++) pop(x);
}

export function fcomMem(c: Cpu, i: Insn, fmt: MemFormat, pops: number): void {
  const x = begin(c, i, false);
  loadMem(c, memAddr(c, i), fmt);
  x.exc &= ~IE; // the source's SNaN is reported by the comparison below
  comparePhys(x, S_MEM, pops, false);
}

export function fcomReg(c: Cpu, i: Insn, pops: number, unordered: boolean): void {
  const x = begin(c, i, false);
  comparePhys(x, x.phys(i.rm & 7), pops, unordered);
}

/** FCOMPP (DE D9) and FUCOMPP (DA E9): compare with ST(1), pop twice. */
export function fcompp(c: Cpu, i: Insn, unordered: boolean): void {
  const x = begin(c, i, false);
  comparePhys(x, x.phys(1), 2, unordered);
}

export function ftst(c: Cpu, i: Insn): void {
  const x = begin(c, i, false);
  x.setNumber(S_MEM, 0);
  comparePhys(x, S_MEM, 0, false);
}

/** FCOMI/FCOMIP/FUCOMI/FUCOMIP: ZF, PF, CF as FCOM's C3, C2, C0; OF, SF, AF cleared. */
export function fcomi(c: Cpu, i: Insn, popAfter: boolean, unordered: boolean): void {
  const x = begin(c, i, false);
  const s = x.phys(i.rm & 7);
  let r = 2;
  if (x.valid[x.top] === 0 || x.valid[s] === 0) {
    x.exc |= IE | SF;
    setC1(x, false); // C1 changes only on stack underflow (measured; the SDM defines no other effect)
  } else {
    compareExceptions(x, x.top, s, unordered);
    r = compare(x, x.top, s);
  }
  // The flags are written even when an unmasked exception follows (as FCOM's condition codes).
  const bits = r === 2 ? ZF | PF | CF : r === 0 ? ZF : r < 0 ? CF : 0;
  c.setFlagBits(ZF | PF | CF | OF | SF_FLAG | AF, bits);
  if (signal(x) && popAfter) pop(x);
}

/** FXAM (SDM vol. 2 FXAM table 3-45): class of ST(0) in C3, C2, C0; its sign in C1. */
export function fxam(c: Cpu, i: Insn): void {
  const x = begin(c, i, false);
  const t = x.top;
  let cc: number;
  if (x.valid[t] === 0) cc = C3 | C0;
  else {
    const k = x.kind(t);
    cc = k === K_UNSUPPORTED ? 0 : k === K_QNAN || k === K_SNAN ? C0 : k === K_NORMAL ? C2 : k === K_INF ? C2 | C0 : k === K_ZERO ? C3 : C3 | C2;
  }
  if (x.isNeg(t)) cc |= C1;
  x.fsw = (x.fsw & ~CC) | cc;
}

// ---- one-operand operations on ST(0) --------------------------------------------------------

/**
 * Runs `f` on ST(0) when it holds a number (not empty, not NaN); `f` leaves its result in S_RES.
 * Empty: stack underflow (masked: the indefinite).
 */
function unary(c: Cpu, i: Insn, f: (x: X87, t: number) => void, invalid?: (x: X87, t: number) => boolean): void {
  const x = begin(c, i, false);
  const t = x.top;
  if (x.valid[t] === 0) {
    if (!underflow(x)) return;
    x.setIndefinite(t);
    x.valid[t] = 1;
    return;
  }
  if (nanUnary(x, t)) {
    // the NaN is the result
  } else if (invalid?.(x, t) === true) {
    // An invalid operand outranks the denormal-operand exception (measured with FSQRT).
    x.exc |= IE;
    x.setIndefinite(S_RES);
    setC1(x, false);
  } else {
    if (x.kind(t) === K_DENORMAL) x.exc |= DE;
    // An unmasked denormal-operand exception stops the operation before it computes, so no
    // post-computation flag (PE, UE, C1) is raised (measured with FRNDINT).
    if ((x.exc & DE) === 0 || (x.fcw & DE) !== 0) f(x, t);
    else setC1(x, false);
  }
  if (signal(x)) commit(x, t, false);
}

/** FCHS, FABS: sign bit only, exact, no exceptions besides stack underflow. */
export function fchs(c: Cpu, i: Insn, abs: boolean): void {
  const x = begin(c, i, false);
  const t = x.top;
  if (x.valid[t] === 0) {
    if (!underflow(x)) return;
    x.setIndefinite(t);
    x.valid[t] = 1;
    return;
  }
  const se = x.se[t] as number;
  x.se[t] = abs ? se & 0x7fff : se ^ 0x8000;
  x.v[t] = abs ? Math.abs(x.v[t] as number) : -(x.v[t] as number);
  setC1(x, false);
}

export function fsqrt(c: Cpu, i: Insn): void {
  unary(
    c,
    i,
    (x, t) => {
      const inf = x.kind(t) === K_INF;
      if (inf) x.copy(S_RES, t);
      else sqrt80(x, t);
      setC1(x, !inf && x.roundedUp);
    },
    (x, t) => x.isNeg(t) && x.kind(t) !== K_ZERO,
  );
}

/** FRNDINT: exact on the 80-bit value, by the rounding control. */
export function frndint(c: Cpu, i: Insn): void {
  unary(c, i, (x, t) => {
    x.copy(S_RES, t);
    x.roundToIntegral(S_RES);
    setC1(x, (x.exc & PE) !== 0 && x.roundedUp);
  });
}

/**
 * C2 for FSIN/FCOS/FSINCOS/FPTAN (SDM vol. 2 FSIN): set, with ST(0) left alone, for a finite
 * |x| >= 2^63 (exact on the 80-bit exponent); cleared otherwise. True if the operation is done.
 */
function trigRange(x: X87, t: number): boolean {
  const k = x.kind(t);
  if ((k === K_NORMAL || k === K_UNSUPPORTED) && ((x.se[t] as number) & 0x7fff) >= 16383 + 63 && k === K_NORMAL) {
    x.fsw |= C2;
    setC1(x, false);
    return true;
  }
  x.fsw &= ~C2;
  return false;
}

/** The exact result of a transcendental function (a signed zero, an infinity, +-1): no PE. */
function exactResult(x: X87, se: number, hi: number): void {
  x.set80(S_RES, se, hi, 0);
  x.roundedUp = false;
}

/**
 * sin (which = 0) or cos (1) of a finite, supported slot t into S_RES (infinities: IE).
 * Exact for zero arguments.
 */
function trigOf(x: X87, t: number, which: number): void {
  const k = x.kind(t);
  if (k === K_INF) {
    x.exc |= IE;
    x.setIndefinite(S_RES);
    x.roundedUp = false;
  } else if (k === K_ZERO) {
    if (which === 1) exactResult(x, 0x3fff, 0x80000000 | 0);
    else exactResult(x, x.se[t] as number, 0);
  } else trig80(x, t, which);
}

/** FSIN (which = 0), FCOS (1). */
export function ftrig(c: Cpu, i: Insn, which: number): void {
  const x = begin(c, i, false);
  const t = x.top;
  x.fsw &= ~C2; // set only for an out-of-range operand
  if (x.valid[t] === 0) {
    if (!underflow(x)) return;
    x.setIndefinite(t);
    x.valid[t] = 1;
    return;
  }
  if (x.kind(t) !== K_QNAN && x.kind(t) !== K_SNAN && trigRange(x, t)) return;
  if (!nanUnary(x, t)) {
    if (x.kind(t) === K_DENORMAL) x.exc |= DE;
    if ((x.exc & ~x.fcw & DE) === 0) trigOf(x, t, which);
    setC1(x, x.roundedUp);
  }
  if (signal(x)) commit(x, t, false);
}

/**
 * The stack fault of an instruction that replaces ST(0) and pushes (FXTRACT, FPTAN, FSINCOS):
 * underflow when ST(0) is empty (C1 = 0), else overflow (C1 = 1); masked, both results are the
 * indefinite, whatever the register below held (measured).
 */
function twoResultFault(x: X87, t: number, n: number): void {
  x.exc |= IE | SF;
  setC1(x, x.valid[t] !== 0);
  if (!signal(x)) return;
  x.setIndefinite(t);
  x.valid[t] = 1;
  x.setIndefinite(n);
  x.valid[n] = 1;
  x.top = n;
}

/** FPTAN (ST(0) = tan, push 1.0) and FSINCOS (ST(0) = sin, push cos). */
export function ftrig2(c: Cpu, i: Insn, sincos: boolean): void {
  const x = begin(c, i, false);
  const t = x.top;
  x.fsw &= ~C2; // set only for an out-of-range operand
  const n = (t - 1) & 7;
  if (x.valid[t] === 0 || x.valid[n] !== 0) {
    twoResultFault(x, t, n);
    return;
  }
  if (x.kind(t) !== K_QNAN && x.kind(t) !== K_SNAN && trigRange(x, t)) return;
  if (nanUnary(x, t)) {
    if (!signal(x)) return;
    commit(x, t, false);
    push(x, S_RES);
    return;
  }
  const k = x.kind(t);
  if (k === K_DENORMAL) x.exc |= DE;
  if ((x.exc & ~x.fcw & DE) !== 0) {
    setC1(x, false);
    signal(x);
    return;
  }
  // The pushed value first (cos, or 1.0), into S_MEM; then ST(0)'s (sin or tan).
  let up = false;
  if (sincos) {
    trigOf(x, t, 1);
    up = x.roundedUp;
  } else if (k === K_INF) {
    x.exc |= IE;
    x.setIndefinite(S_RES);
  } else exactResult(x, 0x3fff, 0x80000000 | 0);
  x.copy(S_MEM, S_RES);
  if (sincos) trigOf(x, t, 0);
  else if (k === K_INF) x.setIndefinite(S_RES);
  else if (k === K_ZERO) exactResult(x, x.se[t] as number, 0);
  else trig80(x, t, 2);
  up = up || x.roundedUp;
  setC1(x, up);
  if (!signal(x)) return;
  commit(x, t, false);
  push(x, S_MEM);
  setC1(x, up);
}

/** F2XM1: 2^x - 1 (SDM: for -1 <= x <= 1; outside, the same formula). */
export function f2xm1(c: Cpu, i: Insn): void {
  unary(c, i, (x, t) => {
    const k = x.kind(t);
    const e = ((x.se[t] as number) & 0x7fff) - 16383;
    if (k === K_ZERO) exactResult(x, x.se[t] as number, 0);
    else if (k === K_INF) {
      if (x.isNeg(t)) exactResult(x, 0xbfff, 0x80000000 | 0);
      else x.copy(S_RES, t);
      x.roundedUp = false;
    } else if (e > 0 || (e === 0 && (x.mhi[t] !== (0x80000000 | 0) || x.mlo[t] !== 0))) {
      // |x| > 1, outside the SDM's domain: the reference CPU returns x, inexact (measured).
      x.copy(S_RES, t);
      x.exc |= PE;
      x.roundedUp = false;
    } else exp2m1(x, t);
    setC1(x, x.roundedUp);
  });
}

/**
 * Two-operand functions of ST(1) and ST(0) that store into ST(1) and pop: FYL2X, FYL2XP1,
 * FPATAN (SDM vol. 2). `f` gets the slots of ST(1) and ST(0), both numbers (not NaN).
 */
function binaryPop(c: Cpu, i: Insn, f: (x: X87, y: number, v: number) => void, zeroDivide?: (x: X87, y: number, v: number) => boolean): void {
  const x = begin(c, i, false);
  const t = x.top;
  const s = x.phys(1);
  if (x.valid[t] === 0 || x.valid[s] === 0) {
    if (!underflow(x)) return;
    x.setIndefinite(S_RES);
    commit(x, s, true);
    return;
  }
  if (x.kind(t) >= K_QNAN || x.kind(s) >= K_QNAN) nanResult(x, s, t);
  else if (zeroDivide?.(x, s, t) === true) {
    // Zero divide outranks the denormal operand (measured with FYL2X): -+inf.
    x.exc |= ZE;
    x.set80(S_RES, x.isNeg(s) ? 0x7fff : 0xffff, 0x80000000 | 0, 0);
    setC1(x, false);
  } else {
    if (x.kind(t) === K_DENORMAL || x.kind(s) === K_DENORMAL) x.exc |= DE;
    if ((x.exc & ~x.fcw & DE) === 0) f(x, s, t);
    setC1(x, x.roundedUp);
  }
  if (signal(x)) commit(x, s, true);
}

/** FYL2X (y * log2(x)) and FYL2XP1 (y * log2(x + 1)): special operands by SDM vol. 2 tables 3-51, 3-52. */
export function fyl2x(c: Cpu, i: Insn, plusOne: boolean): void {
  const nonZero = (x: X87, k: number): boolean => x.kind(k) === K_NORMAL || x.kind(k) === K_DENORMAL;
  binaryPop(c, i, (x, ys, vs) => {
    // Denormals as tiny doubles of their sign (their doubles would be zeros).
    const tiny = (k: number): number => (x.kind(k) === K_DENORMAL ? (x.isNeg(k) ? -1e-300 : 1e-300) : (x.v[k] as number));
    const y = tiny(ys);
    const v = tiny(vs);
    const one = x.se[vs] === 0x3fff && x.mhi[vs] === (0x80000000 | 0) && x.mlo[vs] === 0;
    x.roundedUp = false;
    if (nonZero(x, ys) && nonZero(x, vs) && (plusOne ? v > -1 : !x.isNeg(vs) && !one)) {
      if (plusOne) ylog2p1(x, ys, vs);
      else ylog2(x, ys, vs);
      return;
    }
    // Zeros, infinities, log of 1, out of domain: exact results or invalid, by IEEE doubles.
    const l = plusOne ? Math.log1p(v) / Math.LN2 : Math.log2(v);
    const r = y * l;
    if (Number.isNaN(r)) {
      x.exc |= IE;
      x.setIndefinite(S_RES);
    } else x.setNumber(S_RES, r);
  }, plusOne ? undefined : (x, ys, vs) => x.kind(vs) === K_ZERO && nonZero(x, ys));
}

/** FPATAN: ST(1) = atan2(ST(1), ST(0)), pop (SDM vol. 2 FPATAN table 3-30). */
export function fpatan(c: Cpu, i: Insn): void {
  binaryPop(c, i, (x, ys, vs) => {
    const ky = x.kind(ys);
    const kv = x.kind(vs);
    x.roundedUp = false;
    if ((ky === K_ZERO && !x.isNeg(vs)) || (kv === K_INF && ky !== K_INF && !x.isNeg(vs))) {
      exactResult(x, (x.se[ys] as number) & 0x8000, 0); // +-0 by the sign of y
    }
    // y = 0 with x negative (or -0): +-pi, as for x = -inf; x = 0: +-pi/2, as for y infinite.
    else if (ky === K_ZERO) atan2x(x, ys, vs, false, true);
    else if (kv === K_ZERO) atan2x(x, ys, vs, true, false);
    else atan2x(x, ys, vs, ky === K_INF, kv === K_INF);
  });
}

/** trunc(slot k) for a finite slot, clamped to +-2^20 (beyond any exponent range): exact. */
function truncExponent(x: X87, k: number): number {
  const exp = (x.se[k] as number) & 0x7fff;
  const e = exp - 16383;
  let n: number;
  if (e < 0 || exp === 0) n = 0;
  else if (e > 19) n = 1 << 20;
  else n = ((x.mhi[k] as number) >>> 0) >>> (31 - e);
  return x.isNeg(k) ? -n : n;
}

/** FSCALE: ST(0) * 2^trunc(ST(1)), exact on the 80-bit pattern (SDM vol. 2 FSCALE table 3-46). */
export function fscale(c: Cpu, i: Insn): void {
  const x = begin(c, i, false);
  const t = x.top;
  const s = x.phys(1);
  if (x.valid[t] === 0 || x.valid[s] === 0) {
    if (!underflow(x)) return;
    x.setIndefinite(t);
    x.valid[t] = 1;
    return;
  }
  const kt = x.kind(t);
  const ks = x.kind(s);
  let up = false;
  if (kt >= K_QNAN || ks >= K_QNAN) nanResult(x, t, s);
  else {
    if (kt === K_DENORMAL || ks === K_DENORMAL) x.exc |= DE;
    x.copy(S_RES, t);
    const n = x.v[s] as number;
    if (ks === K_INF) {
      if ((n > 0 && kt === K_ZERO) || (n < 0 && kt === K_INF)) {
        x.exc |= IE;
        x.setIndefinite(S_RES);
      } else if (kt !== K_ZERO && kt !== K_INF) {
        x.setNumber(S_RES, n > 0 ? (x.isNeg(t) ? -Infinity : Infinity) : x.isNeg(t) ? -0 : 0);
      }
    } else if ((kt === K_NORMAL || kt === K_DENORMAL) && (x.exc & ~x.fcw & DE) === 0) {
      // An unmasked denormal operand stops it before it computes.
      scaleBy(x, t, truncExponent(x, s));
      up = x.roundedUp;
    }
  }
  setC1(x, up);
  if (signal(x)) commit(x, t, false);
}

/** FXTRACT: ST(0) = exponent, then push the significand (exact, SDM vol. 2 FXTRACT). */
export function fxtract(c: Cpu, i: Insn): void {
  const x = begin(c, i, false);
  const t = x.top;
  const n = (t - 1) & 7;
  if (x.valid[t] === 0 || x.valid[n] !== 0) {
    twoResultFault(x, t, n);
    return;
  }
  const k = x.kind(t);
  setC1(x, false); // exact
  if (nanUnary(x, t)) {
    x.copy(S_MEM, S_RES);
  } else if (k === K_ZERO) {
    x.exc |= ZE;
    x.copy(S_MEM, t);
    x.setNumber(S_RES, -Infinity);
  } else if (k === K_INF) {
    x.copy(S_MEM, t);
    x.setNumber(S_RES, Infinity);
  } else {
    if (k === K_DENORMAL) x.exc |= DE;
    x.copy(S_MEM, t);
    x.setNumber(S_RES, x.extractExponent(S_MEM));
  }
  if (!signal(x)) return;
  commit(x, t, false);
  push(x, S_MEM);
}

/**
 * FPREM (truncating) and FPREM1 (IEEE, round to nearest): ST(0) = ST(0) rem ST(1). Complete
 * when the exponents differ by less than 64; otherwise one partial step reduces the exponent
 * difference and sets C2 (SDM vol. 2 FPREM). The low quotient bits go to C0, C3, C1.
 */
export function fprem(c: Cpu, i: Insn, ieee: boolean): void {
  const x = begin(c, i, false);
  const t = x.top;
  const s = x.phys(1);
  if (x.valid[t] === 0 || x.valid[s] === 0) {
    // C2 and C1 cleared; C0 and C3 kept (measured).
    x.fsw &= ~C2;
    if (!underflow(x)) return;
    x.setIndefinite(t);
    x.valid[t] = 1;
    return;
  }
  const kt = x.kind(t);
  const ks = x.kind(s);
  let q = -2; // -2: no quotient (NaN or invalid: C0 and C3 kept, C1 and C2 cleared)
  if (kt >= K_QNAN || ks >= K_QNAN) nanResult(x, t, s);
  else if (kt === K_INF || ks === K_ZERO) {
    x.exc |= IE;
    x.setIndefinite(S_RES);
  } else {
    if (kt === K_DENORMAL || ks === K_DENORMAL) x.exc |= DE;
    x.copy(S_RES, t);
    // ST(0) rem inf is ST(0), a pseudo-denormal given its exponent of 1 (measured).
    if (kt === K_DENORMAL && ks === K_INF && (x.mhi[t] as number) < 0) x.se[S_RES] = (x.se[t] as number) | 1;
    // An unmasked denormal operand: no result, C0 and C3 kept as for a NaN.
    if ((x.exc & ~x.fcw & DE) === 0) q = kt !== K_ZERO && ks !== K_INF ? rem80(x, t, s, ieee) : 0;
  }
  const ok = signal(x);
  x.fsw &= q === -2 ? ~(C1 | C2) : ~CC;
  if (q === -1) x.fsw |= C2;
  else if (q >= 0) x.fsw |= (q & 4 ? C0 : 0) | (q & 2 ? C3 : 0) | (q & 1 ? C1 : 0);
  if (ok) commit(x, t, false);
}

// ---- constants, stack management, conditional moves ----------------------------------------

/**
 * Constants (SDM vol. 1 §8.3.8): the 66-bit internal values rounded to 64 bits by the rounding
 * control. Entries: sign/exponent, significand high, low when rounded down, and whether
 * rounding to nearest goes up (a rounded-up constant adds 1 to the low half).
 */
const CONSTANTS: readonly (readonly [number, number, number, boolean])[] = [
  [0x3fff, 0x80000000 | 0, 0, false], // 1.0
  [0x4000, 0xd49a784b | 0, 0xcd1b8afe | 0, false], // log2(10): rounds up only toward +inf
  [0x3fff, 0xb8aa3b29 | 0, 0x5c17f0bb | 0, true], // log2(e)
  [0x4000, 0xc90fdaa2 | 0, 0x2168c234 | 0, true], // pi
  [0x3ffd, 0x9a209a84 | 0, 0xfbcff798 | 0, true], // log10(2)
  [0x3ffe, 0xb17217f7 | 0, 0xd1cf79ab | 0, true], // ln(2)
  [0, 0, 0, false], // +0.0
];

/** FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ (D9 E8..EE: index = rm). */
export function fldConst(c: Cpu, i: Insn, k: number): void {
  const x = begin(c, i, false);
  const e = CONSTANTS[k] as readonly [number, number, number, boolean];
  const rc = x.rc();
  // log2(10)'s dropped bits are below one half: only RC up rounds it up. The others' are above
  // one half: nearest and up round up.
  const up = k === 1 ? rc === RC_UP : e[3] && (rc === RC_NEAREST || rc === RC_UP);
  x.set80(S_MEM, e[0], e[1], (e[2] + (up ? 1 : 0)) | 0);
  push(x, S_MEM);
  signal(x);
}

export function fxch(c: Cpu, i: Insn): void {
  const x = begin(c, i, false);
  const t = x.top;
  const s = x.phys(i.rm & 7);
  if (x.valid[t] === 0 || x.valid[s] === 0) {
    if (!underflow(x)) return;
    for (const k of [t, s]) {
      if (x.valid[k] === 0) {
        x.setIndefinite(k);
        x.valid[k] = 1;
      }
    }
  } else setC1(x, false);
  x.copy(S_RES, t);
  x.copy(t, s);
  x.copy(s, S_RES);
}

export function ffree(c: Cpu, i: Insn): void {
  const x = begin(c, i, false);
  x.valid[x.phys(i.rm & 7)] = 0;
  setC1(x, false); // C0-C3 are undefined (SDM); the reference AMD CPU clears C1
}

export function fincDecStp(c: Cpu, i: Insn, delta: number): void {
  const x = begin(c, i, false);
  x.top = (x.top + delta) & 7;
  setC1(x, false);
}

export function fnop(c: Cpu, i: Insn): void {
  begin(c, i, false);
}

/**
 * FCMOVcc ST(0), ST(i) (SDM vol. 2 FCMOVcc): `cc` 0-3 is B, E, BE, U (CF, ZF, CF|ZF, PF set);
 * `negate` gives NB, NE, NBE, NU.
 */
export function fcmov(c: Cpu, i: Insn, cc: number, negate: boolean): void {
  const x = begin(c, i, false);
  const f = c.getFlags();
  const mask = cc === 0 ? CF : cc === 1 ? ZF : cc === 2 ? CF | ZF : PF;
  const cond = ((f & mask) !== 0) !== negate;
  const t = x.top;
  const s = x.phys(i.rm & 7);
  if (x.valid[t] === 0 || x.valid[s] === 0) {
    if (!underflow(x)) return;
    x.setIndefinite(t);
    x.valid[t] = 1;
    return;
  }
  // C1 changes only on stack underflow (SDM vol. 2 FCMOVcc; measured).
  if (cond) x.copy(t, s);
}

// ---- control --------------------------------------------------------------------------------

/** FLDCW: bits 6 (reserved, reads 1) and 8-12 as well as the masks are kept (SDM vol. 1 §8.1.5). */
export function fldcw(c: Cpu, i: Insn): void {
  const x = begin(c, i, true);
  const w = c.read16(ea(c, i));
  x.fcw = (w & 0x1f3f) | 0x40;
  x.updateEs();
}

export function fnstcw(c: Cpu, i: Insn): void {
  c.fpu.exc = 0;
  c.write16(ea(c, i), c.fpu.fcw);
}

export function fnstswMem(c: Cpu, i: Insn): void {
  c.write16(ea(c, i), c.fpu.status());
}

export function fnstswAx(c: Cpu): void {
  c.setReg16(0, c.fpu.status());
}

/** FNCLEX: exception flags, SF, ES and B cleared; C0-C3 and TOP unchanged. */
export function fnclex(c: Cpu): void {
  c.fpu.fsw &= ~(EXC | SF | ES | BUSY);
}

export function fninit(c: Cpu): void {
  c.fpu.init();
}

/** FWAIT: #MF if an unmasked exception is pending (SDM vol. 1 §8.6). */
export function fwait(c: Cpu): void {
  if ((c.fpu.fsw & ES) !== 0) throw new Fault(MF);
}

