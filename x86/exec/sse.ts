/**
 * SSE/SSE2 operand access, MXCSR, and the data-movement instructions (MOVAPS..PMOVMSKB).
 *
 * XMM registers live in `c.xmm` as four little-endian dwords each (register n at n*4). Handlers
 * copy operands into small scratch vectors, compute, and copy the result back: the scratch
 * arrays below are transient (filled and consumed within one handler call, never carrying state
 * between instructions), so two CPUs in one process cannot observe each other through them.
 *
 * Alignment (SDM vol. 1 §11.6.4 and each instruction's exception table): a legacy-SSE 128-bit
 * memory operand must be 16-byte aligned, else #GP(0), except for the explicitly unaligned moves
 * (MOVUPS, MOVUPD, MOVDQU). 32- and 64-bit memory operands have no alignment requirement.
 */
import type { Cpu } from '../cpu.js';
import type { Insn } from '../decoder.js';
import { Fault, GP } from '../fault.js';
import { ea, eaAligned } from './operands.js';

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // The lane views below reinterpret XMM dwords as bytes/words: they assume a little-endian host.
  throw new Error('x86/exec/sse: a little-endian host is required');
}

/** A 128-bit scratch vector with views of every lane width. */
export class Vec {
  readonly d = new Int32Array(4);
  readonly b = new Uint8Array(this.d.buffer);
  readonly sb = new Int8Array(this.d.buffer);
  readonly w = new Uint16Array(this.d.buffer);
  readonly sw = new Int16Array(this.d.buffer);
  readonly ud = new Uint32Array(this.d.buffer);
}

/** Destination, source and result scratch vectors (transient; see the module comment). */
export const VA = new Vec();
export const VB = new Vec();
export const VR = new Vec();

/** Reads `bytes` (4, 8 or 16) at `la` into `t`, zeroing the dwords not read. */
export function loadMem(c: Cpu, la: number, t: Int32Array, bytes: number): void {
  t[0] = c.read32(la);
  t[1] = bytes > 4 ? c.read32(la + 4) : 0;
  if (bytes > 8) {
    t[2] = c.read32(la + 8);
    t[3] = c.read32(la + 12);
  } else {
    t[2] = 0;
    t[3] = 0;
  }
}

/** Writes the first `bytes` (4, 8 or 16) of `src` from dword `off` to `la`, all or nothing. */
export function storeMem(c: Cpu, la: number, src: Int32Array, off: number, bytes: number): void {
  if (bytes === 4) {
    c.write32(la, src[off] as number);
    return;
  }
  if (bytes === 8) {
    c.write64(la, src[off] as number, src[off + 1] as number);
    return;
  }
  // Fault on either page before writing anything, so a #PF leaves memory unchanged.
  c.probeWrite(la, 16);
  c.write64(la, src[off] as number, src[off + 1] as number);
  c.write64(la + 8, src[off + 2] as number, src[off + 3] as number);
}

/**
 * Loads the W operand into `t`: the whole r/m register, or `bytes` of memory (the rest zero).
 * `align`: a 16-byte memory operand must be aligned (#GP(0) otherwise).
 */
export function loadW(c: Cpu, i: Insn, t: Int32Array, bytes: number, align: boolean): void {
  if (i.rm >= 0) {
    const o = i.rm << 2;
    const x = c.xmm;
    t[0] = x[o] as number;
    t[1] = x[o + 1] as number;
    t[2] = x[o + 2] as number;
    t[3] = x[o + 3] as number;
    return;
  }
  const la = align && bytes === 16 ? eaAligned(c, i, 16) : ea(c, i);
  loadMem(c, la, t, bytes);
}

/** Copies XMM register `n` into `t`. */
export function loadX(c: Cpu, n: number, t: Int32Array): void {
  const o = n << 2;
  const x = c.xmm;
  t[0] = x[o] as number;
  t[1] = x[o + 1] as number;
  t[2] = x[o + 2] as number;
  t[3] = x[o + 3] as number;
}

/** Copies `t` into XMM register `n`. */
export function storeX(c: Cpu, n: number, t: Int32Array): void {
  const o = n << 2;
  const x = c.xmm;
  x[o] = t[0] as number;
  x[o + 1] = t[1] as number;
  x[o + 2] = t[2] as number;
  x[o + 3] = t[3] as number;
}

// ---- MXCSR (SDM vol. 1 §10.2.3) ------------------------------------------------------------

/** MXCSR bits this CPU implements (MXCSR_MASK as FXSAVE reports it: DAZ supported). */
export const MXCSR_MASK = 0xffff;

/** LDMXCSR m32 (0F AE /2): #GP(0) when a reserved bit (above MXCSR_MASK) is set. */
export function ldmxcsr(c: Cpu, i: Insn): void {
  const v = c.read32(ea(c, i));
  if ((v & ~MXCSR_MASK) !== 0) throw new Fault(GP, 0);
  c.mxcsr = v;
}

/** STMXCSR m32 (0F AE /3). */
export function stmxcsr(c: Cpu, i: Insn): void {
  c.write32(ea(c, i), c.mxcsr);
}

// ---- whole-register moves ------------------------------------------------------------------

/** MOVAPS/MOVAPD/MOVDQA (align) and MOVUPS/MOVUPD/MOVDQU: xmm <- xmm/m128. */
export function movVW(c: Cpu, i: Insn, align: boolean): void {
  loadW(c, i, VA.d, 16, align);
  storeX(c, i.reg, VA.d);
}

/** The store direction: xmm/m128 <- xmm. Also MOVNTPS/MOVNTPD/MOVNTDQ (memory only, aligned). */
export function movWV(c: Cpu, i: Insn, align: boolean): void {
  if (i.rm >= 0) {
    loadX(c, i.reg, VA.d);
    storeX(c, i.rm, VA.d);
    return;
  }
  const la = align ? eaAligned(c, i, 16) : ea(c, i);
  storeMem(c, la, c.xmm, i.reg << 2, 16);
}

// ---- scalar and half moves -----------------------------------------------------------------

/**
 * MOVSS/MOVSD load (F3/F2 0F 10): from a register only the low `bytes` are merged into the
 * destination; from memory the low `bytes` are loaded and the rest of the register cleared.
 */
export function movScalarLoad(c: Cpu, i: Insn, bytes: 4 | 8): void {
  const d = i.reg << 2;
  const x = c.xmm;
  if (i.rm >= 0) {
    const s = i.rm << 2;
    x[d] = x[s] as number;
    if (bytes === 8) x[d + 1] = x[s + 1] as number;
    return;
  }
  loadMem(c, ea(c, i), VA.d, bytes);
  storeX(c, i.reg, VA.d);
}

/** MOVSS/MOVSD store (F3/F2 0F 11): the low `bytes` to memory, or merged into a register. */
export function movScalarStore(c: Cpu, i: Insn, bytes: 4 | 8): void {
  const s = i.reg << 2;
  const x = c.xmm;
  if (i.rm >= 0) {
    const d = i.rm << 2;
    x[d] = x[s] as number;
    if (bytes === 8) x[d + 1] = x[s + 1] as number;
    return;
  }
  storeMem(c, ea(c, i), x, s, bytes);
}

/** MOVLPS/MOVLPD m64 -> low qword (high kept); MOVHPS/MOVHPD m64 -> high qword (low kept). */
export function movHalfLoad(c: Cpu, i: Insn, high: boolean): void {
  const la = ea(c, i);
  const lo = c.read32(la);
  const hi = c.read32(la + 4);
  const d = (i.reg << 2) + (high ? 2 : 0);
  c.xmm[d] = lo;
  c.xmm[d + 1] = hi;
}

/** MOVLPS/MOVLPD/MOVHPS/MOVHPD store: the low or high qword to m64. */
export function movHalfStore(c: Cpu, i: Insn, high: boolean): void {
  storeMem(c, ea(c, i), c.xmm, (i.reg << 2) + (high ? 2 : 0), 8);
}

/** MOVHLPS (high qword of the source to the low of the destination) and MOVLHPS (the reverse). */
export function movhlps(c: Cpu, i: Insn): void {
  const x = c.xmm;
  const d = i.reg << 2;
  const s = i.rm << 2;
  x[d] = x[s + 2] as number;
  x[d + 1] = x[s + 3] as number;
}
export function movlhps(c: Cpu, i: Insn): void {
  const x = c.xmm;
  const d = i.reg << 2;
  const s = i.rm << 2;
  x[d + 2] = x[s] as number;
  x[d + 3] = x[s + 1] as number;
}

// ---- moves between XMM and general registers ------------------------------------------------

/** MOVD/MOVQ xmm, r/m32/64 (66 0F 6E; REX.W selects 64 bits): zero-extends into the register. */
export function movdVE(c: Cpu, i: Insn): void {
  const w = (i.rex & 8) !== 0;
  let lo: number;
  let hi = 0;
  if (i.rm >= 0) {
    lo = c.reg64lo(i.rm);
    if (w) hi = c.reg64hi(i.rm);
  } else {
    const la = ea(c, i);
    lo = c.read32(la);
    if (w) hi = c.read32(la + 4);
  }
  const d = i.reg << 2;
  c.xmm[d] = lo;
  c.xmm[d + 1] = hi;
  c.xmm[d + 2] = 0;
  c.xmm[d + 3] = 0;
}

/** MOVD/MOVQ r/m32/64, xmm (66 0F 7E): the low dword (or qword with REX.W). */
export function movdEV(c: Cpu, i: Insn): void {
  const w = (i.rex & 8) !== 0;
  const s = i.reg << 2;
  const lo = c.xmm[s] as number;
  const hi = c.xmm[s + 1] as number;
  if (i.rm >= 0) {
    if (w) c.setReg64(i.rm, lo, hi);
    else c.setReg32(i.rm, lo);
    return;
  }
  const la = ea(c, i);
  if (w) c.write64(la, lo, hi);
  else c.write32(la, lo);
}

/** MOVQ xmm, xmm/m64 (F3 0F 7E): the low qword, upper qword cleared. */
export function movqVW(c: Cpu, i: Insn): void {
  loadW(c, i, VA.d, 8, false);
  VA.d[2] = 0;
  VA.d[3] = 0;
  storeX(c, i.reg, VA.d);
}

/** MOVQ xmm/m64, xmm (66 0F D6): to a register, the upper qword of the destination is cleared. */
export function movqWV(c: Cpu, i: Insn): void {
  const s = i.reg << 2;
  if (i.rm >= 0) {
    const d = i.rm << 2;
    const x = c.xmm;
    x[d] = x[s] as number;
    x[d + 1] = x[s + 1] as number;
    x[d + 2] = 0;
    x[d + 3] = 0;
    return;
  }
  storeMem(c, ea(c, i), c.xmm, s, 8);
}

/** MOVNTI m32/m64, r32/r64 (0F C3): a plain store here (the non-temporal hint has no effect). */
export function movnti(c: Cpu, i: Insn): void {
  const la = ea(c, i);
  if ((i.rex & 8) !== 0) c.write64(la, c.reg64lo(i.reg), c.reg64hi(i.reg));
  else c.write32(la, c.reg32(i.reg));
}

// ---- sign-bit masks -------------------------------------------------------------------------

/** MOVMSKPS: the four dword sign bits into bits 3:0 of the (zero-extended) general register. */
export function movmskps(c: Cpu, i: Insn): void {
  const s = i.rm << 2;
  const x = c.xmm;
  let m = 0;
  for (let k = 0; k < 4; k++) m |= ((x[s + k] as number) >>> 31) << k;
  c.setReg32(i.reg, m);
}

/** MOVMSKPD: the two qword sign bits into bits 1:0. */
export function movmskpd(c: Cpu, i: Insn): void {
  const s = i.rm << 2;
  const x = c.xmm;
  c.setReg32(i.reg, ((x[s + 1] as number) >>> 31) | (((x[s + 3] as number) >>> 31) << 1));
}

/** PMOVMSKB: the sixteen byte sign bits into bits 15:0. */
export function pmovmskb(c: Cpu, i: Insn): void {
  const s = i.rm << 2;
  const x = c.xmm;
  let m = 0;
  for (let k = 0; k < 4; k++) {
    const v = x[s + k] as number;
    m |= (((v >>> 7) & 1) | ((v >>> 14) & 2) | ((v >>> 21) & 4) | ((v >>> 28) & 8)) << (4 * k);
  }
  c.setReg32(i.reg, m);
}
