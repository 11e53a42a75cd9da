/**
 * Bit operations: BT/BTS/BTR/BTC, BSF/BSR, TZCNT/LZCNT, POPCNT, BSWAP, MOVBE, CRC32 and
 * ADCX/ADOX (SDM vol. 2A/2B under each mnemonic).
 */
import type { Cpu } from '../cpu.js';
import { SS_SEG, type Insn } from '../decoder.js';
import { Fault, GP, SS } from '../fault.js';
import { AF, CF, OF, PF, SF, ZF } from '../isa/types.js';
import { ea, lowHalf, offset32, offset64, readE } from './operands.js';

const TWO32 = 4294967296;

/** BT operation: 0 test, 1 set, 2 reset, 3 complement (BT, BTS, BTR, BTC). */
export const enum BitOp {
  Test = 0,
  Set = 1,
  Reset = 2,
  Complement = 3,
}

/** Applies `op` to bit `k` of (v, vh); returns the new low half, new high half in c.hi, and sets CF. */
function bitApply(c: Cpu, op: BitOp, v: number, vh: number, k: number): number {
  const inHi = k >= 32;
  const m = 1 << (k & 31);
  const old = ((inHi ? vh : v) & m) !== 0;
  // CF is the old bit; OF, SF, AF and PF are undefined (left as they were); ZF is unaffected.
  c.setFlagBits(CF, old ? CF : 0);
  let w = inHi ? vh : v;
  if (op === BitOp.Set) w |= m;
  else if (op === BitOp.Reset) w &= ~m;
  else if (op === BitOp.Complement) w ^= m;
  if (inHi) {
    c.hi = w;
    return v;
  }
  c.hi = vh;
  return w;
}

/**
 * The linear address of the r/m memory operand plus `disp` bytes (a signed number, possibly
 * far outside the operand), wrapped at the address size and checked like any memory operand.
 */
function eaPlus(c: Cpu, i: Insn, disp: number): number {
  if (disp === 0) return ea(c, i);
  if (i.adsize === 8) {
    const lo = offset64(c, i);
    let off = c.hi * TWO32 + (lo >>> 0) + disp;
    if (i.seg >= 4) off += c.segBase[i.seg] as number;
    // |disp| < 2^61, so the sum cannot wrap around 2^64 back into the canonical range; beyond
    // 2^53 it may be inexact but is then far from canonical either way.
    if (off >= 0x800000000000 || off < -0x800000000000) throw new Fault(i.seg === SS_SEG ? SS : GP, 0);
    return off;
  }
  let off = offset32(c, i) + disp;
  off = i.adsize === 4 ? lowHalf(off) : ((off % 65536) + 65536) % 65536;
  if (c.mode === 64) return i.seg >= 4 ? off + (c.segBase[i.seg] as number) : off;
  return lowHalf(off + (c.segBase[i.seg] as number));
}

/** BT* Ev, Gv: a memory bit string addressed by a signed bit offset of the operand size. */
function btEG(c: Cpu, i: Insn, op: BitOp): void {
  const size = i.opsize;
  const w = size * 8;
  const b = c.getReg(i.reg, size);
  const bh = c.hi;
  if (i.rm >= 0) {
    const v = c.getReg(i.rm, size);
    const r = bitApply(c, op, v, c.hi, b & (w - 1));
    if (op !== BitOp.Test) c.setReg(i.rm, size, r, c.hi);
    return;
  }
  // SDM "BT": the operand-size word at EA + size·floor(offset / w), bit offset mod w.
  let word: number;
  if (size === 2) word = ((b << 16) >> 16) >> 4;
  else if (size === 4) word = b >> 5;
  else word = bh * 67108864 + (b >>> 6); // floor(bh:b / 64), exact unless hugely out of range
  // With a 32/16-bit address size only the low bits of the displacement count: take them exactly
  // from the halves (word * 8 is inexact beyond 2^53).
  const la = eaPlus(c, i, size === 8 && i.adsize !== 8 ? ((bh << 29) | (b >>> 3)) & ~7 : word * size);
  if (op !== BitOp.Test) c.probeWrite(la, size); // RMW: a write fault first
  const v = c.read(la, size);
  const vh = c.hi;
  const r = bitApply(c, op, v, vh, b & (w - 1));
  if (op !== BitOp.Test) c.write(la, size, r, c.hi);
}

/** BT* Ev, Ib (0F BA /4-/7): the immediate is taken modulo the operand width. */
function btEI(c: Cpu, i: Insn, op: BitOp): void {
  const size = i.opsize;
  const k = i.imm & (size * 8 - 1);
  if (i.rm >= 0) {
    const v = c.getReg(i.rm, size);
    const r = bitApply(c, op, v, c.hi, k);
    if (op !== BitOp.Test) c.setReg(i.rm, size, r, c.hi);
    return;
  }
  const la = ea(c, i);
  if (op !== BitOp.Test) c.probeWrite(la, size); // RMW: a write fault first
  const v = c.read(la, size);
  const vh = c.hi;
  const r = bitApply(c, op, v, vh, k);
  if (op !== BitOp.Test) c.write(la, size, r, c.hi);
}

export const btEvGv = (c: Cpu, i: Insn): void => btEG(c, i, BitOp.Test);
export const btsEvGv = (c: Cpu, i: Insn): void => btEG(c, i, BitOp.Set);
export const btrEvGv = (c: Cpu, i: Insn): void => btEG(c, i, BitOp.Reset);
export const btcEvGv = (c: Cpu, i: Insn): void => btEG(c, i, BitOp.Complement);
export const btEvIb = (c: Cpu, i: Insn): void => btEI(c, i, (i.reg & 3) as BitOp);

/** Index of the lowest set bit of (v, vh), or -1 if zero. */
function lowest(v: number, vh: number): number {
  if (v !== 0) return 31 - Math.clz32(v & -v);
  if (vh !== 0) return 63 - Math.clz32(vh & -vh);
  return -1;
}
/** Index of the highest set bit of (v, vh), or -1 if zero. */
function highest(v: number, vh: number): number {
  if (vh !== 0) return 63 - Math.clz32(vh);
  if (v !== 0) return 31 - Math.clz32(v);
  return -1;
}

/**
 * BSF/BSR: ZF = source is zero; then the destination is left entirely unchanged, as the
 * reference hardware does (the SDM calls it undefined; AMD documents "unchanged"), including the
 * upper half of a 64-bit register for a 32-bit operand. CF, OF, SF, AF, PF are undefined.
 */
export function bsfBsr(c: Cpu, i: Insn, reverse: boolean): void {
  const size = i.opsize;
  const v = readE(c, i, size);
  const vh = size === 8 ? c.hi : 0;
  const k = reverse ? highest(v, vh) : lowest(v, vh);
  if (k < 0) {
    c.setFlagBits(ZF | CF | OF | SF | AF | PF, ZF);
    return;
  }
  c.setFlagBits(ZF | CF | OF | SF | AF | PF, 0);
  c.setReg(i.reg, size, k, 0);
}

/** TZCNT/LZCNT: the count is the operand width for a zero source; CF = source zero, ZF = count zero. */
export function tzLzcnt(c: Cpu, i: Insn, leading: boolean): void {
  const size = i.opsize;
  const w = size * 8;
  const v = readE(c, i, size);
  const vh = size === 8 ? c.hi : 0;
  let n: number;
  if (leading) {
    const k = highest(v, vh);
    n = k < 0 ? w : w - 1 - k;
  } else {
    const k = lowest(v, vh);
    n = k < 0 ? w : k;
  }
  c.setFlagBits(ZF | CF | OF | SF | AF | PF, (n === w ? CF : 0) | (n === 0 ? ZF : 0));
  c.setReg(i.reg, size, n, 0);
}

function popcount32(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  v = (v + (v >>> 4)) & 0x0f0f0f0f;
  return Math.imul(v, 0x01010101) >>> 24;
}

/** POPCNT: ZF = source zero; CF, OF, SF, AF, PF cleared. */
export function popcnt(c: Cpu, i: Insn): void {
  const size = i.opsize;
  const v = readE(c, i, size);
  const n = popcount32(v) + (size === 8 ? popcount32(c.hi) : 0);
  c.setFlagBits(ZF | CF | OF | SF | AF | PF, n === 0 ? ZF : 0);
  c.setReg(i.reg, size, n, 0);
}

function swap32(v: number): number {
  return ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}

/**
 * BSWAP r (0F C8+r). With a 16-bit operand the result is undefined; the reference hardware
 * clears the low word, which we reproduce.
 */
export function bswap(c: Cpu, i: Insn): void {
  if (i.opsize === 8) c.setReg64(i.reg, swap32(c.reg64hi(i.reg)), swap32(c.reg64lo(i.reg)));
  else if (i.opsize === 4) c.setReg32(i.reg, swap32(c.reg32(i.reg)));
  else c.setReg16(i.reg, 0);
}

/**
 * MOVBE's operand size: the 66 prefix is part of the 0F 38 F0/F1 encoding in our table (a
 * separate row), so for those rows the decoder reports 32 bits; the real size is 16 then.
 */
function movbeSize(c: Cpu, i: Insn): number {
  if (i.opsize === 8) return 8;
  if (i.row.prefix === '66') return c.mode === 16 ? 4 : 2;
  return i.opsize;
}

function swapSized(c: Cpu, v: number, vh: number, size: number): number {
  if (size === 2) {
    c.hi = 0;
    return ((v & 0xff) << 8) | ((v >> 8) & 0xff);
  }
  if (size === 4) {
    c.hi = 0;
    return swap32(v);
  }
  c.hi = swap32(v);
  return swap32(vh);
}

/** MOVBE Gv, Mv (0F 38 F0): load with bytes reversed. */
export function movbeLoad(c: Cpu, i: Insn): void {
  const size = movbeSize(c, i);
  const v = c.read(ea(c, i), size);
  const r = swapSized(c, v, c.hi, size);
  c.setReg(i.reg, size, r, c.hi);
}
/** MOVBE Mv, Gv (0F 38 F1): store with bytes reversed. */
export function movbeStore(c: Cpu, i: Insn): void {
  const size = movbeSize(c, i);
  const la = ea(c, i);
  const v = c.getReg(i.reg, size);
  const r = swapSized(c, v, c.hi, size);
  c.write(la, size, r, c.hi);
}

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one byte at a time. */
const CRC32C: Int32Array = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let v = n;
    for (let k = 0; k < 8; k++) v = v & 1 ? (v >>> 1) ^ 0x82f63b78 : v >>> 1;
    t[n] = v;
  }
  return t;
})();

function crcBytes(crc: number, v: number, n: number): number {
  for (let k = 0; k < n; k++) {
    crc = (CRC32C[(crc ^ v) & 0xff] as number) ^ (crc >>> 8);
    v >>>= 8;
  }
  return crc;
}

/**
 * CRC32 Gy, Eb / Gy, Ev (F2 0F 38 F0/F1): accumulates the source into the CRC-32C in the low
 * 32 bits of the destination; the result is zero-extended (also with REX.W). No flags.
 */
export function crc32(c: Cpu, i: Insn, byteSrc: boolean): void {
  const size = byteSrc ? 1 : i.opsize;
  const v = readE(c, i, size);
  const vh = c.hi;
  let crc = c.reg32(i.reg);
  crc = crcBytes(crc, v, size === 8 ? 4 : size);
  if (size === 8) crc = crcBytes(crc, vh, 4);
  c.setReg32(i.reg, crc);
}

/**
 * ADCX (66 0F 38 F6) / ADOX (F3 0F 38 F6): unsigned add with carry-in and carry-out in CF
 * (ADCX) or OF (ADOX) only; every other flag is unchanged.
 */
export function adcxAdox(c: Cpu, i: Insn, flag: number): void {
  const size = i.opsize === 8 ? 8 : 4;
  const b = readE(c, i, size);
  const bh = c.hi;
  const cin = (c.getFlags() & flag) !== 0 ? 1 : 0;
  let cout: boolean;
  if (size === 8) {
    const a = c.reg64lo(i.reg);
    const ah = c.reg64hi(i.reg);
    const lo = (a >>> 0) + (b >>> 0) + cin;
    const hi = (ah >>> 0) + (bh >>> 0) + (lo > 0xffffffff ? 1 : 0);
    cout = hi > 0xffffffff;
    c.setReg64(i.reg, lo | 0, hi | 0);
  } else {
    const s = (c.reg32(i.reg) >>> 0) + (b >>> 0) + cin;
    cout = s > 0xffffffff;
    c.setReg32(i.reg, s | 0);
  }
  c.setFlagBits(flag, cout ? flag : 0);
}
