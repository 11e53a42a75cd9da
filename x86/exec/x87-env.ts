/**
 * x87 environment and state save areas: FNSTENV/FLDENV (SDM vol. 1 §8.1.10, figures 8-9/8-10),
 * FNSAVE/FRSTOR (figure 8-11), and FXSAVE/FXRSTOR (vol. 1 §10.5.1, table 10-2/10-3, with the
 * SSE state: MXCSR and XMM0-15).
 *
 * The 16-bit formats (66 prefix) and the 32-bit protected-mode formats are the ones 64-bit mode
 * uses. FCS and FDS are stored as 0, as on processors that deprecate them (CPUID.(EAX=07H,
 * ECX=0):EBX[13]); FDP is the operand's linear address.
 */
import type { Cpu } from '../cpu.js';
import type { Insn } from '../decoder.js';
import { Fault, GP } from '../fault.js';
import { ea, eaAligned } from './operands.js';
import { MXCSR_MASK } from './sse.js';
import { begin } from './x87.js';
import type { X87 } from './x87-state.js';


/**
 * Checks an access to [la, la+len) (at most two pages) before anything changes, taking the
 * faults in the order measured on AMD: the first field (`first` bytes: 2 in the 16-bit
 * formats, else 4; CR2 = the second page's start if it crosses), then the last byte (CR2 =
 * that byte); `lastFirst` (FXSAVE/FXRSTOR, 16-byte aligned): the last byte, then the first.
 */
function probe(c: Cpu, la: number, len: number, write: boolean, first: 2 | 4 = 4, lastFirst = false): void {
  const last = la + len - 1;
  if (lastFirst) touch(c, last, 1, write);
  touch(c, la, first, write);
  if (!lastFirst) touch(c, last, 1, write);
}

function touch(c: Cpu, la: number, n: 1 | 2 | 4, write: boolean): void {
  if (write) c.probeWrite(la, n);
  else if (n === 4) c.read32(la);
  else if (n === 2) c.read16(la);
  else c.read8(la);
}

/** Size of the environment image for the operand size: 14 or 28 bytes. */
function envSize(i: Insn): number {
  return i.opsize === 2 ? 14 : 28;
}

function storeEnv(c: Cpu, i: Insn, la: number): void {
  const x = c.fpu;
  if (i.opsize === 2) {
    probe(c, la, 14, true, 2);
    const words = [x.fcw, x.status(), x.tagWord(), x.fip & 0xffff, x.fop & 0x7ff, x.fdp & 0xffff, 0];
    words.forEach((w, k) => c.write16(la + 2 * k, w));
    return;
  }
  probe(c, la, 28, true);
  // The upper halves of the first three dwords are reserved; hardware writes them as ones.
  c.write32(la, x.fcw | 0xffff0000);
  c.write32(la + 4, x.status() | 0xffff0000);
  c.write32(la + 8, x.tagWord() | 0xffff0000);
  c.write32(la + 12, lowDword(x.fip));
  c.write32(la + 16, (x.fop & 0x7ff) << 16);
  c.write32(la + 20, lowDword(x.fdp));
  c.write32(la + 24, 0xffff0000 | 0);
}

/** The low 32 bits of an address (ToInt32 is exact modulo 2^32 for integral doubles). */
function lowDword(a: number): number {
  return a | 0;
}

function loadEnv(c: Cpu, i: Insn, la: number): void {
  const x = c.fpu;
  let cw: number;
  let sw: number;
  let tw: number;
  if (i.opsize === 2) {
    cw = c.read16(la);
    sw = c.read16(la + 2);
    tw = c.read16(la + 4);
    x.fip = c.read16(la + 6);
    x.fop = c.read16(la + 8) & 0x7ff;
    x.fdp = c.read16(la + 10);
  } else {
    cw = c.read16(la);
    sw = c.read16(la + 4);
    tw = c.read16(la + 8);
    x.fip = c.read32(la + 12) >>> 0;
    x.fop = (c.read32(la + 16) >>> 16) & 0x7ff;
    x.fdp = c.read32(la + 20) >>> 0;
  }
  x.fcw = (cw & 0x1f3f) | 0x40;
  // Only "empty" survives a load: the processor recomputes the other tag values from the
  // register contents when it stores them (SDM vol. 1 §8.1.7).
  for (let k = 0; k < 8; k++) x.valid[k] = ((tw >> (2 * k)) & 3) === 3 ? 0 : 1;
  x.setStatus(sw);
}

/** FNSTENV: stores the environment, then masks all exceptions (SDM vol. 2 FSTENV). */
export function fnstenv(c: Cpu, i: Insn): void {
  storeEnv(c, i, ea(c, i));
  c.fpu.fcw |= 0x3f;
  c.fpu.updateEs();
}

export function fldenv(c: Cpu, i: Insn): void {
  const x = begin(c, i, true);
  const la = ea(c, i);
  probe(c, la, envSize(i), false, i.opsize === 2 ? 2 : 4); // fault before changing anything
  loadEnv(c, i, la);
  x.exc = 0;
}

/** Writes ST(k)'s 80-bit pattern (stack order) to memory. */
function storeReg(c: Cpu, x: X87, la: number, k: number): void {
  const p = x.phys(k);
  c.write32(la, x.mlo[p] as number);
  c.write32(la + 4, x.mhi[p] as number);
  c.write16(la + 8, x.se[p] as number);
}

function loadReg(c: Cpu, x: X87, la: number, k: number): void {
  const p = x.phys(k);
  const lo = c.read32(la);
  const hi = c.read32(la + 4);
  x.set80(p, c.read16(la + 8), hi, lo);
}

/** FNSAVE: environment and ST(0)..ST(7), then FNINIT (SDM vol. 2 FSAVE). */
export function fnsave(c: Cpu, i: Insn): void {
  const x = c.fpu;
  const la = ea(c, i);
  const n = envSize(i);
  probe(c, la, n + 80, true, i.opsize === 2 ? 2 : 4);
  storeEnv(c, i, la);
  for (let k = 0; k < 8; k++) storeReg(c, x, la + n + 10 * k, k);
  x.init();
}

export function frstor(c: Cpu, i: Insn): void {
  const x = begin(c, i, true);
  const la = ea(c, i);
  const n = envSize(i);
  probe(c, la, n + 80, false, i.opsize === 2 ? 2 : 4);
  loadEnv(c, i, la);
  for (let k = 0; k < 8; k++) loadReg(c, x, la + n + 10 * k, k);
  x.exc = 0;
}

/**
 * The 512-byte FXSAVE area (bytes 464-511 are not written, but a fault there is taken): the
 * alignment #GP(0) first, then page faults, last byte first (measured on AMD), all before any
 * state changes.
 */
function fxArea(c: Cpu, i: Insn, write: boolean): number {
  const la = eaAligned(c, i, 16); // #GP(0) if not 16-byte aligned (SDM vol. 2 FXSAVE)
  probe(c, la, 512, write, 4, true);
  return la;
}

/** The abridged tag (SDM vol. 1 §10.5.1.1): one bit per physical register, 1 = not empty. */
function abridgedTag(x: X87): number {
  let t = 0;
  for (let k = 0; k < 8; k++) t |= (x.valid[k] as number) << k;
  return t;
}

/**
 * FXSAVE/FXSAVE64 (0F AE /0). With REX.W the instruction and data pointers are 64 bits;
 * without, 32-bit offsets followed by the (zero) selectors. Bytes 464-511 are software's and
 * are not written.
 */
export function fxsave(c: Cpu, i: Insn): void {
  const x = c.fpu;
  const la = fxArea(c, i, true);
  c.write16(la, x.fcw);
  c.write16(la + 2, x.status());
  c.write16(la + 4, abridgedTag(x));
  c.write16(la + 6, x.fop & 0x7ff);
  if ((i.rex & 8) !== 0) {
    writeAddr(c, la + 8, x.fip);
    writeAddr(c, la + 16, x.fdp);
  } else {
    c.write32(la + 8, lowDword(x.fip));
    c.write32(la + 12, 0);
    c.write32(la + 16, lowDword(x.fdp));
    c.write32(la + 20, 0);
  }
  c.write32(la + 24, c.mxcsr);
  c.write32(la + 28, MXCSR_MASK);
  for (let k = 0; k < 8; k++) {
    const a = la + 32 + 16 * k;
    storeReg(c, x, a, k);
    c.write16(a + 10, 0);
    c.write32(a + 12, 0);
  }
  const nx = c.mode === 64 ? 16 : 8;
  for (let k = 0; k < nx * 4; k++) c.write32(la + 160 + 4 * k, c.xmm[k] as number);
}

/** A canonical address as a 64-bit value (sign-extended, so exact as a double). */
function writeAddr(c: Cpu, la: number, a: number): void {
  c.write64(la, a | 0, Math.floor(a / 4294967296) | 0);
}

function readAddr(c: Cpu, la: number): number {
  const lo = c.read64(la);
  return c.hi * 4294967296 + (lo >>> 0);
}

/** FXRSTOR/FXRSTOR64 (0F AE /1): #GP(0) if the image sets reserved MXCSR bits. */
export function fxrstor(c: Cpu, i: Insn): void {
  const x = c.fpu;
  const la = fxArea(c, i, false);
  const mx = c.read32(la + 24);
  if ((mx & ~MXCSR_MASK) !== 0) throw new Fault(GP, 0);
  const cw = c.read16(la);
  const sw = c.read16(la + 2);
  const tw = c.read8(la + 4);
  x.fop = c.read16(la + 6) & 0x7ff;
  if ((i.rex & 8) !== 0) {
    x.fip = readAddr(c, la + 8);
    x.fdp = readAddr(c, la + 16);
  } else {
    x.fip = c.read32(la + 8) >>> 0;
    x.fdp = c.read32(la + 16) >>> 0;
  }
  const xmm = new Int32Array(64);
  const nx = c.mode === 64 ? 16 : 8;
  for (let k = 0; k < nx * 4; k++) xmm[k] = c.read32(la + 160 + 4 * k);
  x.top = (sw >> 11) & 7;
  for (let k = 0; k < 8; k++) loadReg(c, x, la + 32 + 16 * k, k);
  for (let k = 0; k < 8; k++) x.valid[k] = (tw >> k) & 1;
  x.fcw = (cw & 0x1f3f) | 0x40;
  x.setStatus(sw);
  c.mxcsr = mx;
  c.xmm.set(xmm.subarray(0, nx * 4));
}
