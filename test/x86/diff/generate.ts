/**
 * Differential-test generator: for any table row, a fast-check arbitrary of `Spec` (plain
 * integers, so shrinking moves every choice towards "no prefix, small values") and `build`,
 * which turns a row and a spec into an encoded instruction plus a complete initial state
 * (a `NativeCase`). Everything derives from the row's columns (map, opcode, prefix, reg/mod/rm,
 * operands, lock, rep, d64/f64, vex), so new rows are covered without touching this file.
 */
import fc from 'fast-check';
import type { NativeCase, NativePage } from '../native/native-runner.js';
import type { OperandKind, Row } from '../../../x86/isa/types.js';
import { CODE_PAGE, CODE_START, DATA, DATA_SIZE, X87_PAGE, X87_SAVE } from './layout.js';

const U64 = (1n << 64n) - 1n;
const u64 = (v: bigint): bigint => v & U64;

/** One case's random choices; `build` applies the row's constraints to them. */
export interface Spec {
  readonly p66: number;
  readonly p67: number;
  readonly rex: number;
  readonly seg: number;
  readonly rep: number;
  readonly lock: number;
  readonly mod: number;
  readonly reg: number;
  readonly rm: number;
  readonly sib: number;
  readonly disp: number;
  readonly tkind: number;
  readonly toff: number;
  readonly talign: number;
  readonly imm: bigint;
  readonly zreg: number;
  readonly rel: number;
  readonly relKind: number;
  readonly count: number;
  readonly regs: readonly (readonly [number, bigint, number])[];
  readonly rspOff: number;
  readonly flags: number;
  readonly xmm: readonly (readonly [number, number])[];
  readonly mxcsr: number;
  readonly pages: readonly (readonly [number, number])[];
  readonly page2: number;
  readonly fs: readonly [number, number];
  readonly gs: readonly [number, number];
  readonly aux: number;
  readonly x87: X87Spec;
}

export interface X87Spec {
  readonly fcw: number;
  readonly fsw: number;
  readonly tags: number;
  readonly st: readonly (readonly [number, number, number, number])[];
}

/** A generated case: the native runner's input plus what the report needs. */
export interface DiffCase {
  readonly row: Row;
  readonly native: NativeCase;
  /** The instruction under test within `native.code` (x87 rows have a prologue and epilogue). */
  readonly insnOffset: number;
  readonly insnLength: number;
  /** Memory not compared: [address, length] (see `build`: FXSAVE fields that are host properties). */
  readonly ignore: readonly (readonly [bigint, number])[];
  /** Per general register, the bits the driver supplies (not compared; see `Row.test.driver`). */
  readonly driverRegs: readonly bigint[];
  /** RFLAGS bits the driver decides (not compared). */
  readonly driverFlags: number;
}

const u32 = fc.nat({ max: 0xffffffff });
const regArb = fc.tuple(fc.nat({ max: 9 }), fc.bigInt({ min: 0n, max: U64 }), fc.nat({ max: 0x2fff }));
const fillArb = fc.tuple(fc.nat({ max: 5 }), u32);

export function specArbitrary(): fc.Arbitrary<Spec> {
  return fc.record({
    p66: fc.nat({ max: 3 }),
    p67: fc.nat({ max: 9 }),
    rex: fc.nat({ max: 31 }),
    seg: fc.nat({ max: 11 }),
    rep: fc.nat({ max: 2 }),
    lock: fc.nat({ max: 15 }),
    mod: fc.nat({ max: 3 }),
    reg: fc.nat({ max: 7 }),
    rm: fc.nat({ max: 7 }),
    sib: fc.nat({ max: 255 }),
    disp: fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
    tkind: fc.nat({ max: 19 }),
    toff: fc.nat({ max: 0xffff }),
    talign: fc.nat({ max: 4 }),
    imm: fc.bigInt({ min: 0n, max: U64 }),
    zreg: fc.nat({ max: 7 }),
    rel: fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
    relKind: fc.nat({ max: 7 }),
    count: fc.nat({ max: 20 }),
    regs: fc.array(regArb, { minLength: 16, maxLength: 16 }),
    rspOff: fc.nat({ max: 0xffff }),
    flags: fc.nat({ max: 0xffff }),
    xmm: fc.array(fillArb, { minLength: 16, maxLength: 16 }),
    mxcsr: fc.nat({ max: 0xffff }),
    pages: fc.array(fillArb, { minLength: 3, maxLength: 3 }),
    page2: fc.nat({ max: 5 }),
    fs: fc.tuple(fc.nat({ max: 3 }), u32),
    gs: fc.tuple(fc.nat({ max: 3 }), u32),
    aux: fc.nat({ max: 15 }),
    x87: fc.record({
      fcw: fc.nat({ max: 0xffff }),
      fsw: fc.nat({ max: 0xffff }),
      tags: fc.nat({ max: 0xffff }),
      st: fc.array(fc.tuple(fc.nat({ max: 15 }), u32, u32, fc.nat({ max: 0xffff })), { minLength: 8, maxLength: 8 }),
    }),
  });
}

// ---------------------------------------------------------------------------------------------
// Row classification (from the row's columns only)

const MODRM_KINDS = /^(E|G|M|R|S|V|W|U)|^(Cy|Dy)$/;

export function needsModrm(row: Row): boolean {
  return row.reg !== undefined || row.operands.some((o) => MODRM_KINDS.test(o));
}

/** 'mem', 'reg' or 'either' for the ModRM r/m operand. */
function rmForm(row: Row): 'mem' | 'reg' | 'either' {
  if (row.mod !== undefined) return row.mod;
  if (row.operands.some((o) => /^M/.test(o))) return 'mem';
  if (row.operands.some((o) => /^(R|U)/.test(o))) return 'reg';
  return 'either';
}

const isZ = (o: OperandKind): boolean => o === 'Zb' || o === 'Zv' || o === 'Zy';
const isX87 = (row: Row): boolean => row.cpuid === 'fpu' || row.cpuid === 'fxsr';
const usesStack = (row: Row): boolean =>
  row.d64 === true || row.f64 === true || ['call', 'ret', 'enter', 'leave', 'pushf', 'popf'].includes(row.mnemonic);

/** Why a row gets no native case (undefined: it does). */
export function notGeneratedReason(row: Row): string | undefined {
  if (row.test?.skip !== undefined) return `test.skip: ${row.test.skip}`;
  if (row.modes === 'i64') return 'invalid in 64-bit mode: checked against qemu-i386 instead (diff/i386.ts)';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Values

class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed ^ 0x9e3779b9) >>> 0 || 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
}

const F32_SPECIALS = [
  0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3fc00000, 0x00800000, 0x00000001, 0x007fffff, 0x7f7fffff,
  0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffc00000, 0x4f000000, 0xcf000000, 0x5f000000, 0x3f000000,
  0x40490fdb, 0x80800000, 0x4effffff, 0xdf000000,
];
const F64_SPECIALS: readonly bigint[] = [
  0n, 0x8000000000000000n, 0x3ff0000000000000n, 0xbff0000000000000n, 0x3ff8000000000000n, 0x0010000000000000n,
  0x0000000000000001n, 0x000fffffffffffffn, 0x7fefffffffffffffn, 0x7ff0000000000000n, 0xfff0000000000000n,
  0x7ff8000000000000n, 0x7ff0000000000001n, 0xfff8000000000000n, 0x41e0000000000000n, 0xc1e0000000000000n,
  0x43e0000000000000n, 0xc3e0000000000000n, 0x400921fb54442d18n, 0x3fe0000000000000n, 0x41dfffffffc00000n,
];
const GPR_SPECIALS: readonly bigint[] = [
  0n, 1n, U64, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn,
  0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffff80000000n, 0x00000000ffff0000n,
];

/** Fills `out` by mode: zeros, random bytes, float32/float64 specials, small dwords, x87 values. */
function fill(out: Uint8Array, mode: number, seed: number): void {
  const rng = new Prng(seed);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  switch (mode) {
    case 0:
      return;
    case 1:
      for (let k = 0; k < out.length; k += 4) dv.setUint32(k, rng.next(), true);
      return;
    case 2:
      for (let k = 0; k < out.length; k += 4) {
        const r = rng.next();
        dv.setUint32(k, r % 4 === 0 ? rng.next() : (F32_SPECIALS[r % F32_SPECIALS.length] as number), true);
      }
      return;
    case 3:
      for (let k = 0; k < out.length; k += 8) {
        const r = rng.next();
        const v = r % 4 === 0 ? (BigInt(rng.next()) << 32n) | BigInt(rng.next()) : (F64_SPECIALS[r % F64_SPECIALS.length] as bigint);
        dv.setBigUint64(k, v, true);
      }
      return;
    case 4:
      for (let k = 0; k < out.length; k += 4) dv.setUint32(k, rng.next() & (rng.next() % 2 === 0 ? 0xff : 0xffff), true);
      return;
    default:
      for (let k = 0; k + 10 <= out.length; k += 16) {
        writeF80(out, k, x87Value(rng.next() & 15, rng.next(), rng.next(), rng.next() & 0xffff));
      }
  }
}

/** An 80-bit extended value as [sign|exponent, significand]. */
type F80 = readonly [number, bigint];

function f64ToF80(bits: bigint): F80 {
  const sign = Number(bits >> 63n) << 15;
  const exp = Number((bits >> 52n) & 0x7ffn);
  let frac = bits & 0xfffffffffffffn;
  if (exp === 0x7ff) return [sign | 0x7fff, (1n << 63n) | (frac << 11n)];
  if (exp === 0) {
    if (frac === 0n) return [sign, 0n];
    let e = 1 - 1023 + 16383;
    while ((frac & (1n << 52n)) === 0n) {
      frac <<= 1n;
      e--;
    }
    return [sign | e, frac << 11n];
  }
  return [sign | (exp - 1023 + 16383), (1n << 63n) | (frac << 11n)];
}

function x87Value(kind: number, a: number, b: number, c: number): F80 {
  const sign = (c & 1) << 15;
  const mant = (BigInt(a >>> 0) << 32n) | BigInt(b >>> 0);
  const top = 1n << 63n;
  const low63 = mant & (top - 1n);
  switch (kind) {
    case 0:
      return [sign, 0n];
    case 1:
      return [sign | (0x3fff + ((c >> 1) % 128) - 64), top | low63];
    case 2:
      return f64ToF80(doubleBits(((a | 0) % 100000) / (((c >> 1) % 8) + 1)));
    case 3:
      return f64ToF80(mant);
    case 4:
      return [sign, low63];
    case 5:
      return [sign, top | low63];
    case 6:
      return [sign | 0x7fff, top];
    case 7:
      return [sign | 0x7fff, top | (1n << 62n) | (mant & ((1n << 62n) - 1n))];
    case 8:
      return [sign | 0x7fff, top | ((mant & ((1n << 62n) - 1n)) | 1n)];
    case 9:
      return [0xffff, top | (1n << 62n)];
    case 10:
      return [sign | ((c >> 1) % 0x7ffe) + 1, low63];
    case 11:
      return [sign | (0x7ffe - ((c >> 1) & 15)), top | low63];
    case 12:
      return [sign | (1 + ((c >> 1) & 15)), top | low63];
    case 13:
      return [sign | 0x7fff, low63];
    default:
      return [sign | (((c >> 1) % 0x7ffe) + 1), top | low63];
  }
}

function doubleBits(x: number): bigint {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x, true);
  return dv.getBigUint64(0, true);
}

function writeF80(out: Uint8Array, at: number, [se, m]: F80): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setBigUint64(at, m, true);
  dv.setUint16(at + 8, se, true);
}

function gprValue([kind, v, off]: readonly [number, bigint, number], avoid: readonly [number, number]): bigint {
  switch (kind) {
    case 0:
      return v & 0xffn;
    case 1:
      return v & 0xffffffffn;
    case 2:
      return GPR_SPECIALS[Number(v % BigInt(GPR_SPECIALS.length))] as bigint;
    case 3:
    case 4:
      return BigInt(DATA + (off % DATA_SIZE));
    case 5:
      return BigInt(codePointer(off, avoid));
    case 6:
      return u64(BigInt.asIntN(32, v));
    default:
      return v;
  }
}

/** An address in the code page outside [avoid0, avoid1) (the code itself: landing there could loop). */
function codePointer(off: number, [a0, a1]: readonly [number, number]): number {
  const at = CODE_PAGE + (off & 0xfff);
  return at >= a0 && at < a1 ? a1 : at;
}

// ---------------------------------------------------------------------------------------------
// Encoding

const SEG_BYTES = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65] as const;
const FS = 4;
const GS = 5;

interface Layout {
  bytes: number[];
  /** Where the displacement / moffs / relative offset goes and how wide it is. */
  dispAt: number;
  dispSize: number;
  relAt: number;
  relSize: number;
}

/**
 * Builds the case for `row` from `s`, or undefined if the row gets no native case
 * (`notGeneratedReason`).
 */
export function build(row: Row, s: Spec): DiffCase | undefined {
  if (notGeneratedReason(row) !== undefined) return undefined;
  const modrmNeeded = needsModrm(row);
  const form = rmForm(row);
  const mem = modrmNeeded && (form === 'mem' || (form === 'either' && s.mod !== 3));
  const mod = !modrmNeeded ? 0 : mem ? s.mod % 3 : 3;
  const regField = row.reg ?? s.reg;
  const rmField = row.rm ?? s.rm;
  const prefix = row.prefix ?? 'any';
  const hasXmm = row.operands.some((o) => /^(V|W|U)/.test(o));
  const vex = row.vex;
  const may66 =
    vex === undefined &&
    row.f64 !== true && (prefix === 'any' || ((prefix === 'f2' || prefix === 'f3') && !hasXmm && row.operands.some((o) => o === 'Gv' || o === 'Ev')));
  const p66 = may66 && s.p66 === 3;
  const p67 = s.p67 === 9;
  // With VEX, `rex` stands for VEX.W/R/X/B (always random; W as the row requires), not a REX byte.
  const rex = vex !== undefined ? 0x40 | (vex.w !== undefined ? vex.w << 3 : s.rex & 8) | (s.rex & 7) : s.rex >= 16 ? 0x40 | (s.rex & 15) : 0;
  const w = (rex & 8) !== 0;
  const seg = s.seg >= 6 ? s.seg - 6 : -1;
  const rep = row.rep !== undefined ? [0, 0xf3, 0xf2][s.rep] ?? 0 : 0;
  const lock = row.lock === true && mem ? s.lock >= 8 : s.lock === 15;
  const opsize = w || row.f64 === true ? 8 : p66 ? 2 : row.d64 === true ? 8 : 4;
  const adsize = p67 ? 4 : 8;

  const lay: Layout = { bytes: [], dispAt: -1, dispSize: 0, relAt: -1, relSize: 0 };
  const b = lay.bytes;
  if (lock) b.push(0xf0);
  if (seg >= 0) b.push(SEG_BYTES[seg] as number);
  if (p67) b.push(0x67);
  if (p66) b.push(0x66);
  if (rep !== 0) b.push(rep);
  if (vex !== undefined) {
    // Three-byte VEX (SDM vol. 2A §2.3.5): R̄X̄B̄ mmmmm, then W vvvv̄ L pp. vvvv is a random
    // register for rows with a `By` operand; otherwise 1111b, rarely not (that is #UD).
    const vvvv = row.operands.includes('By') || s.aux === 13 ? s.zreg | (s.rex >= 16 ? 8 : 0) : 0;
    const pp = prefix === '66' ? 1 : prefix === 'f3' ? 2 : prefix === 'f2' ? 3 : 0;
    const mmmmm = row.map === '0f' ? 1 : row.map === '0f38' ? 2 : 3;
    b.push(0xc4, ((~rex & 7) << 5) | mmmmm, ((rex & 8) << 4) | ((~vvvv & 15) << 3) | ((vex.l ?? 0) << 2) | pp);
  } else {
    if (prefix === '66') b.push(0x66);
    else if (prefix === 'f3') b.push(0xf3);
    else if (prefix === 'f2') b.push(0xf2);
    if (rex !== 0) b.push(rex);
    if (row.map === '0f') b.push(0x0f);
    else if (row.map === '0f38') b.push(0x0f, 0x38);
    else if (row.map === '0f3a') b.push(0x0f, 0x3a);
  }
  b.push(row.operands.some(isZ) ? row.opcode + s.zreg : row.opcode);

  // ModRM, SIB, displacement.
  let base = -1;
  let index = -1;
  let scale = 1;
  let ripRel = false;
  let disp = 0;
  if (modrmNeeded) {
    b.push((mod << 6) | (regField << 3) | rmField);
    if (mod !== 3) {
      let baseField = rmField;
      if (rmField === 4) {
        b.push(s.sib);
        scale = 1 << (s.sib >> 6);
        const idx = ((s.sib >> 3) & 7) | ((rex & 2) << 2);
        index = idx === 4 ? -1 : idx;
        baseField = s.sib & 7;
        if (baseField === 5 && mod === 0) {
          lay.dispAt = b.length;
          lay.dispSize = 4;
        } else base = baseField | ((rex & 1) << 3);
      } else if (rmField === 5 && mod === 0) {
        ripRel = true;
        lay.dispAt = b.length;
        lay.dispSize = 4;
      } else base = rmField | ((rex & 1) << 3);
      if (mod === 1) {
        lay.dispAt = b.length;
        lay.dispSize = 1;
      } else if (mod === 2) {
        lay.dispAt = b.length;
        lay.dispSize = 4;
      }
      for (let k = 0; k < lay.dispSize; k++) b.push(0);
      disp = lay.dispSize === 0 ? 0 : lay.dispSize === 1 ? (s.disp << 24) >> 24 : s.disp;
      // Mostly small displacements: the register then carries most of the address.
      if (lay.dispSize === 4 && s.aux < 12) disp = (s.disp << 20) >> 20;
    }
  }

  // Immediates, moffs and relative offsets, in operand order.
  let immBytes = s.imm;
  let moffsAt = -1;
  for (const o of row.operands) {
    let n = 0;
    if (o === 'Ob' || o === 'Ov') {
      moffsAt = b.length;
      for (let k = 0; k < adsize; k++) b.push(0);
      continue;
    }
    if (o === 'Jb' || o === 'Jz') {
      lay.relAt = b.length;
      lay.relSize = o === 'Jb' ? 1 : opsize === 2 ? 2 : 4;
      for (let k = 0; k < lay.relSize; k++) b.push(0);
      continue;
    }
    if (o === 'Ib' || o === 'sIb') n = 1;
    else if (o === 'Iw') n = 2;
    else if (o === 'Iz') n = opsize === 2 ? 2 : 4;
    else if (o === 'Iv') n = opsize;
    if (n === 0) continue;
    for (let k = 0; k < n; k++) {
      b.push(Number(immBytes & 0xffn));
      immBytes >>= 8n;
    }
  }
  // Immediates the host OS answers itself (INT 0x80 is a system call there): step around them.
  const exclude = row.test?.driver?.imm8Exclude;
  if (exclude !== undefined && row.operands.includes('Ib')) {
    const at = b.length - 1;
    while (exclude.includes(b[at] as number)) b[at] = ((b[at] as number) + 1) & 0xff;
  }
  // ENTER: a small frame size, so the frame stays in the data pages more often than not.
  if (row.mnemonic === 'enter' && s.aux < 12) {
    const at = b.length - 3;
    b[at + 1] = (b[at + 1] as number) & 0x0f;
  }

  // Code layout: x87 rows run between an FXRSTOR64 prologue and an FXSAVE64 epilogue.
  const x87 = isX87(row);
  const pro = x87 ? [0x48, 0x0f, 0xae, 0x0d, 0, 0, 0, 0] : [];
  const epi = x87 ? [0x48, 0x0f, 0xae, 0x05, 0, 0, 0, 0] : [];
  const insnOffset = pro.length;
  const insnStart = CODE_START + insnOffset;
  const next = insnStart + b.length;
  const codeEnd = next + epi.length;
  const avoid: readonly [number, number] = [CODE_START, codeEnd];
  if (x87) {
    putLE(pro, 4, 4, BigInt(X87_PAGE - (CODE_START + pro.length)));
    putLE(epi, 4, 4, BigInt(X87_PAGE + X87_SAVE - codeEnd));
  }

  // Registers.
  const gpr = s.regs.map((r) => gprValue(r, avoid));
  gpr[4] = BigInt(DATA + 0x40 + (((s.rspOff % (DATA_SIZE - 0x80)) & ~7) | (s.aux === 15 ? s.rspOff & 7 : 0)));
  if (row.mnemonic === 'leave' || row.mnemonic === 'enter') gpr[5] = BigInt(DATA + 0x40 + ((s.toff % (DATA_SIZE - 0x80)) & ~7));
  const fsBase = segBaseValue(s.fs);
  const gsBase = segBaseValue(s.gs);
  const segBase = seg === FS ? fsBase : seg === GS ? gsBase : 0n;

  // The memory target and the registers that address it.
  // No non-canonical address through RSP: the host reports #GP(0) where the SDM says #SS(0)
  // (see the native runner's README, "Limitations").
  const target = BigInt(targetAddress(s, base === 4));
  const need = u64(target - segBase);
  const amask = adsize === 4 ? 0xffffffffn : U64;
  if (mem) {
    if (ripRel) disp = Number(BigInt.asIntN(32, need - BigInt(next)));
    else if (base < 0 && index < 0) disp = Number(BigInt.asIntN(32, need));
    else if (base >= 0 && base === index) {
      const v = (need - BigInt(disp)) & amask;
      gpr[base] = withHigh(v / BigInt(1 + scale), gpr[base] as bigint, adsize);
    } else if (base >= 0) {
      // RSP stays canonical: the host reports #GP(0) for a base RSP that is not, even when the
      // address is (see the native runner's README, "Limitations"); so the index stays small.
      if (base === 4 && index >= 0) gpr[index] = BigInt(s.toff & 0xff);
      const iv = index >= 0 ? (gpr[index] as bigint) * BigInt(scale) : 0n;
      gpr[base] = withHigh((need - BigInt(disp) - iv) & amask, gpr[base] as bigint, adsize);
    } else {
      const v = ((need - BigInt(disp)) & amask) / BigInt(scale);
      gpr[index] = withHigh(v, gpr[index] as bigint, adsize);
    }
    putLE(b, lay.dispAt, lay.dispSize, BigInt(disp));
  }
  if (moffsAt >= 0) putLE(b, moffsAt, adsize, need);
  if (lay.relAt >= 0) {
    let rel = lay.relSize === 1 ? (s.rel << 24) >> 24 : s.relKind < 6 ? (s.rel << 20) >> 21 : s.rel;
    // Never land inside the instruction (or the code): that could loop forever.
    const to = next + rel;
    if (to >= CODE_START && to < codeEnd) rel = codeEnd - next + (rel & 7);
    putLE(b, lay.relAt, lay.relSize, BigInt(rel));
  }
  // String instructions: rSI/rDI point into the data pages; rCX is a small count.
  const ops = row.operands;
  if (ops.some((o) => o === 'Xb' || o === 'Xv')) gpr[6] = withHigh(u64(target - segBase) & amask, gpr[6] as bigint, adsize);
  if (ops.some((o) => o === 'Yb' || o === 'Yv')) {
    gpr[7] = withHigh(BigInt(DATA + ((s.toff * 7 + 0x100) % DATA_SIZE)) & amask, gpr[7] as bigint, adsize);
  }
  if (row.rep !== undefined || ['loop', 'loope', 'loopne', 'jrcxz'].includes(row.mnemonic)) {
    gpr[1] = withHigh(BigInt(s.count), gpr[1] as bigint, adsize);
  }
  if (row.mnemonic === 'xlat') gpr[3] = withHigh(u64(need - ((gpr[0] as bigint) & 0xffn)) & amask, gpr[3] as bigint, adsize);

  // Data pages.
  const pages: NativePage[] = [];
  for (let p = 0; p < 3; p++) {
    const [mode, seed] = s.pages[p] as readonly [number, number];
    const data = new Uint8Array(4096);
    fill(data, mode, seed);
    const perm = p < 2 ? 0 : s.page2;
    if (perm === 5) continue; // absent
    pages.push({ address: BigInt(DATA + p * 0x1000), data, read: true, write: perm < 4, exec: false });
  }
  const poke = (addr: bigint, value: bigint, size: number): void => {
    for (let k = 0; k < size; k++) {
      const a = addr + BigInt(k);
      const pg = pages.find((p) => a >= p.address && a < p.address + 4096n);
      if (pg !== undefined) pg.data[Number(a - pg.address)] = Number((value >> BigInt(8 * k)) & 0xffn);
    }
  };
  const peek = (addr: bigint, size: number): bigint => {
    let v = 0n;
    for (let k = size - 1; k >= 0; k--) {
      const a = addr + BigInt(k);
      const pg = pages.find((p) => a >= p.address && a < p.address + 4096n);
      v = (v << 8n) | BigInt(pg?.data[Number(a - (pg?.address ?? 0n))] ?? 0);
    }
    return v;
  };
  // Indirect branches and returns: mostly to a code pointer (else wherever memory says).
  const rspNow = gpr[4] as bigint;
  if (row.ends === true && ops[0] === 'Ev' && s.aux < 12) {
    if (mem) poke(target, BigInt(codePointer(s.toff, avoid)), opsize);
    else gpr[rmField | ((rex & 1) << 3)] = BigInt(codePointer(s.toff, avoid));
  }
  if (row.mnemonic === 'ret' && s.aux < 12) poke(rspNow, BigInt(codePointer(s.toff, avoid)), 8);
  // POPF: TF would single-step into the trailer; the native runner cannot report that.
  if (row.mnemonic === 'popf') poke(rspNow, peek(rspNow, 8) & ~0x100n, 8);
  // Compare-exchange: make the comparison succeed half the time.
  if (row.mnemonic.startsWith('cmpxchg') && s.aux % 2 === 0) {
    const size = row.mnemonic === 'cmpxchg8b' ? (w ? 8 : 4) : ops[0] === 'Eb' ? 1 : opsize;
    if (mem) {
      gpr[0] = peek(target, size);
      if (row.mnemonic === 'cmpxchg8b') gpr[2] = peek(target + BigInt(size), size);
    } else if (rmField !== 0) gpr[0] = gpr[rmField | ((rex & 1) << 3)] as bigint;
  }

  // XMM, MXCSR, RFLAGS.
  const xmm = s.xmm.map(([mode, seed]) => {
    const x = new Uint8Array(16);
    fill(x, mode, seed);
    return x;
  });
  const masks = s.mxcsr % 8 === 0 ? (s.mxcsr >> 3) & 0x1f80 : 0x1f80;
  const mxcsr = (s.mxcsr & 0x3f) | masks | (s.mxcsr & 0x6000) | (s.mxcsr & 0x40) | (s.mxcsr & 0x8000);
  const FLAG_BITS = [0x1, 0x4, 0x10, 0x40, 0x80, 0x400, 0x800, 0x200000];
  let rflags = 0x202n;
  FLAG_BITS.forEach((bit, k) => {
    if ((s.flags >> k) & 1) rflags |= BigInt(bit);
  });

  const ignore: (readonly [bigint, number])[] = [];
  if (x87) {
    const img = new Uint8Array(4096);
    fxImage(img, s.x87, mxcsr, xmm);
    pages.push({ address: BigInt(X87_PAGE), data: img, read: true, write: true, exec: false });
    // FOP, FIP/FCS, FDP/FDS: AMD CPUs store them only while an x87 exception is pending.
    ignore.push([BigInt(X87_PAGE + X87_SAVE + 6), 18]);
    // MXCSR_MASK: a property of the CPU model (the host's has bit 17, MM, on AMD).
    ignore.push([BigInt(X87_PAGE + X87_SAVE + 28), 4]);
  }

  if (row.mnemonic === 'fxsave' && mem) {
    // The instruction under test stores an FXSAVE image too: the same host-property fields.
    ignore.push([target + 6n, 18], [target + 28n, 4]);
  }

  // Results the driver supplies (CPUID, RDTSC, RDRAND...): masked in the comparison.
  const driver = row.test?.driver;
  const driverRegs = new Array<bigint>(16).fill(0n);
  for (const [n, m] of driver?.regs ?? []) driverRegs[n] = m;
  if (driver?.rm === true && mod === 3) {
    const rmReg = rmField | ((rex & 1) << 3);
    const size = row.operands.includes('Ry') ? 4 : opsize;
    driverRegs[rmReg] = size === 2 ? 0xffffn : size === 4 ? 0xffffffffn : U64;
  }

  const code = Uint8Array.from([...pro, ...b, ...epi]);
  return {
    row,
    native: { codeAddress: BigInt(CODE_START), code, gpr, rflags, xmm, mxcsr, fsBase, gsBase, pages },
    insnOffset,
    insnLength: b.length,
    ignore,
    driverRegs,
    driverFlags: driver?.flags ?? 0,
  };
}

/** `v` in the low bits the address size uses; with 32-bit addressing, the old high half stays. */
function withHigh(v: bigint, old: bigint, adsize: number): bigint {
  return adsize === 4 ? (old & 0xffffffff00000000n) | (v & 0xffffffffn) : u64(v);
}

function putLE(b: number[], at: number, size: number, v: bigint): void {
  for (let k = 0; k < size; k++) b[at + k] = Number((v >> BigInt(8 * k)) & 0xffn);
}

function segBaseValue([kind, r]: readonly [number, number]): bigint {
  return kind === 0 ? 0n : kind === 1 ? 0x1000n : kind === 2 ? 0x1000_0000n : BigInt(r & 0x0fff_f000);
}

/** Mostly inside the data pages (aligned by `talign`), sometimes across a page end or outside. */
function targetAddress(s: Spec, viaRsp: boolean): number {
  const off = s.toff % DATA_SIZE;
  if (s.tkind < 14) return DATA + (off & ~((1 << s.talign) - 1));
  if (s.tkind < 17) return DATA + 0x1000 * (1 + (s.toff & 1)) + ((s.toff >> 1) & 31) - 16;
  if (s.tkind === 17) return DATA - 1 - (s.toff & 63);
  if (s.tkind === 18 || viaRsp) return DATA + DATA_SIZE - 8 + (s.toff & 15);
  // Non-canonical, far from the canonical range: a solved base register (rounded when it is
  // also the index) never lands in the runner's own mappings near 0x7fff_ffff_ffff.
  return 0x4000_0000_0000_0000 + (s.toff << 4) * 0x1_0000;
}

/** The 512-byte FXRSTOR image: FCW, FSW, abridged tags, ST0-7, MXCSR and the case's XMM registers. */
function fxImage(img: Uint8Array, x: X87Spec, mxcsr: number, xmm: readonly Uint8Array[]): void {
  const dv = new DataView(img.buffer);
  const masks = x.fcw % 8 === 0 ? x.fcw >> 10 & 0x3f : 0x3f;
  const fcw = masks | 0x40 | (x.fcw & 0x0f00);
  const top = (x.fsw >> 11) & 7;
  const exc = x.fsw % 4 === 0 ? (x.fsw >> 2) & 0x3f : 0;
  let fsw = (x.fsw & 0x4700) | (top << 11) | exc;
  if ((exc & ~masks & 0x3f) !== 0) fsw |= 0x8080;
  let tags: number;
  const mode = x.tags & 3;
  if (mode === 0) tags = 0;
  else if (mode === 3) tags = (x.tags >> 2) & 0xff;
  else {
    const k = (x.tags >> 2) % 9;
    tags = 0;
    for (let i = 0; i < k; i++) tags |= 1 << ((top + i) & 7);
  }
  dv.setUint16(0, fcw, true);
  dv.setUint16(2, fsw, true);
  img[4] = tags;
  dv.setUint32(24, mxcsr, true);
  x.st.forEach(([kind, a, b2, c], i) => writeF80(img, 32 + 16 * i, x87Value(kind, a, b2, c)));
  xmm.forEach((v, i) => img.set(v, 160 + 16 * i));
}
