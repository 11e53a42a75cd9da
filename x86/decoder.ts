/**
 * Decodes one instruction into a small immutable record, using lookup tables derived from the
 * instruction table. Prefixes, REX, ModRM, SIB, displacement and immediates are parsed once; the
 * record is cached in a block and re-executed without decoding again.
 *
 * Register numbers: 0-15 are the GPRs (REX.R/X/B folded in). A byte register operand without
 * a REX prefix and number 4-7 means AH, CH, DH, BH: the decoder turns it into 16-19.
 *
 * VEX (SDM vol. 2A §2.3): C4 (3-byte) and C5 (2-byte) prefixes carry inverted R/X/B, the opcode
 * map, W, an inverted extra register specifier vvvv, the vector length L and the implied
 * mandatory prefix pp. A VEX instruction matches only rows with a `vex` column.
 */
import type { Cpu } from './cpu.js';
import { Fault, GP, UD } from './fault.js';
import type { MandatoryPrefix, OperandKind, Row } from './isa/types.js';
import { ROWS } from './isa/table.js';

/** Segment register numbers, in the encoding's order. */
export const ES = 0;
export const CS = 1;
export const SS_SEG = 2;
export const DS = 3;
export const FS = 4;
export const GS = 5;

/** Memory operand with no base or index register. */
export const NO_REG = -1;

export interface Insn {
  readonly row: Row;
  readonly exec: Row['exec'];
  /** Length in bytes (1-15). */
  readonly len: number;
  /** Operand size in bytes for `v`-sized operands: 2, 4 or 8. */
  readonly opsize: number;
  /** Address size in bytes: 2, 4 or 8. */
  readonly adsize: number;
  /** ModRM.reg (with REX.R), or the register from the opcode's low bits for `Z` operands. */
  readonly reg: number;
  /** ModRM.rm as a register (with REX.B), or -1 when the r/m operand is memory. */
  readonly rm: number;
  /** Memory operand: base and index registers (NO_REG if absent), scale 1/2/4/8, disp. */
  readonly base: number;
  readonly index: number;
  readonly scale: number;
  readonly disp: number;
  /** RIP-relative: the address is the next instruction's RIP plus disp. */
  readonly ripRel: boolean;
  /** Segment of the memory operand (override or default). */
  readonly seg: number;
  /** Segment override prefix given (-1 when none). */
  readonly segOverride: number;
  /** First immediate (sign-extended to int32 where the encoding says so), second (ENTER), and the high half of a 64-bit immediate. */
  readonly imm: number;
  readonly imm2: number;
  readonly immHi: number;
  /** 0, 0xF3 (REP/REPE) or 0xF2 (REPNE): the last of F2/F3 given; with VEX, implied by pp. */
  readonly rep: number;
  readonly lock: boolean;
  /** The REX byte, or 0 (always 0 with VEX, whose R/X/B/W are folded into the fields here). */
  readonly rex: number;
  /** Encoded with a VEX prefix (C4/C5). */
  readonly vex: boolean;
  /** VEX.vvvv as a register number (the field is stored inverted); 0 without VEX. */
  readonly vvvv: number;
  /** VEX.L (0 or 1); 0 without VEX. */
  readonly vexL: number;
  /** The opcode byte (for rows covering several opcodes, e.g. Jcc and Z-register forms). */
  readonly opcode: number;
  /** Operand-size prefix 66 present (SSE forms read it through `row.prefix`); with VEX, pp = 01. */
  readonly p66: boolean;
  /** Linear address of the instruction (for the disassembler and diagnostics). */
  readonly addr: number;
  /** The raw ModRM and SIB bytes, or -1 when absent (the disassembler prints `0x0(%rax)` and `%riz` from them). */
  readonly modrm: number;
  readonly sib: number;
}

/** Operand kinds that need a ModRM byte. */
const MODRM_KINDS = /^(E|G|M|R|S|V|W|U)|^(Cy|Dy)$/;

function needsModrm(row: Row): boolean {
  return row.reg !== undefined || row.operands.some((o) => MODRM_KINDS.test(o));
}

/** Candidate rows per (map, opcode): map index * 256 + opcode. */
interface Slot {
  readonly rows: readonly Row[];
  readonly modrm: boolean;
}

const MAP_INDEX = { one: 0, '0f': 1, '0f38': 2, '0f3a': 3 } as const;

function buildSlots(rows: readonly Row[]): (Slot | undefined)[] {
  const acc: Row[][] = [];
  for (const row of rows) {
    const base = MAP_INDEX[row.map] * 256;
    const span = row.operands.some((o) => o === 'Zb' || o === 'Zv' || o === 'Zy') ? 8 : 1;
    for (let k = 0; k < span; k++) (acc[base + row.opcode + k] ??= []).push(row);
  }
  return acc.map((rs) => {
    if (rs === undefined) return undefined;
    const modrm = needsModrm(rs[0] as Row);
    if (rs.some((r) => needsModrm(r) !== modrm)) {
      throw new Error(`instruction table: rows for one opcode disagree on ModRM: ${rs.map((r) => r.name).join(', ')}`);
    }
    return { rows: rs, modrm };
  });
}

const SLOTS = buildSlots(ROWS);

/** Immediate size in bytes for an operand kind, given operand size. */
function immSize(kind: OperandKind, opsize: number): number {
  switch (kind) {
    case 'Ib':
    case 'sIb':
    case 'Jb':
      return 1;
    case 'Iw':
      return 2;
    case 'Iz':
    case 'Jz':
      return opsize === 2 ? 2 : 4;
    case 'Iv':
      return opsize;
    default:
      return 0;
  }
}

function prefixMatches(p: MandatoryPrefix | undefined, p66: boolean, rep: number): boolean {
  switch (p ?? 'any') {
    case 'any':
      return true;
    case 'none':
      return !p66 && rep === 0;
    case '66':
      return p66 && rep === 0;
    case 'f3':
      return rep === 0xf3;
    case 'f2':
      return rep === 0xf2;
  }
}

/**
 * Decodes the instruction at linear address `la` for the CPU's current mode. Throws #UD for an
 * encoding the table lacks (or invalid in this mode), #GP(0) past 15 bytes, and whatever the
 * instruction fetch raises (#PF).
 */
export function decode(c: Cpu, la: number): Insn {
  const mode = c.mode;
  let pos = 0;
  const next = (): number => {
    if (pos >= 15) throw new Fault(GP, 0);
    return c.fetch8(la + pos++);
  };

  let p66 = false;
  let p67 = false;
  let rep = 0;
  let lock = false;
  let segOverride = -1;
  let rex = 0;
  // REX bits implied by a VEX prefix (W, R, X, B): used for the fields below, not reported as `rex`.
  let vexRex = 0;
  let b = next();
  for (;;) {
    if (b === 0x66) p66 = true;
    else if (b === 0x67) p67 = true;
    else if (b === 0xf2 || b === 0xf3) rep = b;
    else if (b === 0xf0) lock = true;
    else if (b === 0x26 || b === 0x2e || b === 0x36 || b === 0x3e) segOverride = (b >> 3) & 3;
    else if (b === 0x64) segOverride = FS;
    else if (b === 0x65) segOverride = GS;
    else if (mode === 64 && (b & 0xf0) === 0x40) {
      rex = b;
      b = next();
      // A REX prefix counts only right before the opcode; another prefix after it voids it.
      if ((b & 0xf0) === 0x40 || isLegacyPrefix(b)) {
        rex = 0;
        continue;
      }
      break;
    } else break;
    b = next();
  }

  let map = 0;
  let opcode = b;
  // VEX prefix (SDM vol. 2A §2.3.5, figure 2-9). Outside 64-bit mode C4/C5 are LES/LDS unless
  // the next byte's bits 7:6 are 11b (a register ModRM, invalid for LES/LDS).
  let vex = false;
  let vvvv = 0;
  let vexL = 0;
  let vexW = false;
  if ((b === 0xc4 || b === 0xc5) && (mode === 64 || c.fetch8(la + pos) >> 6 === 3)) {
    // §2.3.2: a VEX prefix after 66, F2, F3 or REX is #UD (so is LOCK: no VEX row allows it).
    if (p66 || rep !== 0 || rex !== 0 || lock) throw new Fault(UD);
    vex = true;
    const v1 = next();
    let v2 = v1; // C5: R̄ vvvv̄ L pp in the one payload byte
    let rxb = ((~v1 >> 7) & 1) << 2; // REX-style bits: R=4, X=2, B=1
    map = 1;
    if (b === 0xc4) {
      rxb |= (~v1 >> 5) & 3;
      map = v1 & 0x1f; // mmmmm: 1 = 0F, 2 = 0F38, 3 = 0F3A, the rest reserved (#UD)
      if (map < 1 || map > 3) throw new Fault(UD);
      v2 = next();
      vexW = (v2 & 0x80) !== 0;
    }
    vvvv = (~v2 >> 3) & 15;
    vexL = (v2 >> 2) & 1;
    const pp = v2 & 3; // implied mandatory prefix: none, 66, F3, F2
    p66 = pp === 1;
    rep = pp === 2 ? 0xf3 : pp === 3 ? 0xf2 : 0;
    if (mode === 64) vexRex = 0x40 | (vexW ? 8 : 0) | rxb;
    else vvvv &= 7; // §2.3.5: outside 64-bit mode only eight registers (R̄X̄B̄ and vvvv[3] ignored)
    opcode = next();
  } else if (b === 0x0f) {
    opcode = next();
    map = 1;
    if (opcode === 0x38) {
      map = 2;
      opcode = next();
    } else if (opcode === 0x3a) {
      map = 3;
      opcode = next();
    }
  }

  const slot = SLOTS[map * 256 + opcode];
  if (slot === undefined) throw new Fault(UD);

  let modrm = -1;
  if (slot.modrm) modrm = next();
  const mod = modrm >> 6;
  const regField = (modrm >> 3) & 7;
  const rmField = modrm & 7;

  let row: Row | undefined;
  for (const r of slot.rows) {
    if ((r.vex !== undefined) !== vex) continue;
    if (r.vex !== undefined && ((r.vex.l !== undefined && r.vex.l !== vexL) || (r.vex.w !== undefined && r.vex.w !== (vexW ? 1 : 0)))) continue;
    if (r.reg !== undefined && r.reg !== regField) continue;
    if (r.mod === 'mem' && mod === 3) continue;
    if (r.mod === 'reg' && mod !== 3) continue;
    if (r.rm !== undefined && r.rm !== rmField) continue;
    if (!prefixMatches(r.prefix, p66, rep)) continue;
    if (r.modes === 'o64' && mode !== 64) continue;
    if (r.modes === 'i64' && mode === 64) continue;
    row = r;
    break;
  }
  if (row === undefined || !c.features.has(row.cpuid ?? 'base')) throw new Fault(UD);
  // §2.3.6: an instruction that does not use VEX.vvvv requires 1111b there, else #UD.
  if (vex && vvvv !== 0 && !row.operands.includes('By')) throw new Fault(UD);
  const rexBits = vex ? vexRex : rex;

  // Sizes. A mandatory 66 prefix is part of the opcode and does not change the operand size.
  const w = (rexBits & 8) !== 0;
  const size66 = p66 && row.prefix !== '66';
  let opsize: number;
  // VEX: 66 is pp, never an operand-size prefix; VEX.W selects 64 bits (ignored outside 64-bit mode).
  if (vex) opsize = w ? 8 : 4;
  else if (mode === 64) {
    if (w) opsize = 8;
    else if (row.f64 === true) opsize = 8;
    else if (size66) opsize = 2;
    else opsize = row.d64 === true ? 8 : 4;
  } else if (mode === 32) opsize = size66 ? 2 : 4;
  else opsize = size66 ? 4 : 2;
  const adsize = mode === 64 ? (p67 ? 4 : 8) : mode === 32 ? (p67 ? 2 : 4) : p67 ? 4 : 2;

  let reg = regField | ((rexBits & 4) << 1);
  let rm = -1;
  let base = NO_REG;
  let index = NO_REG;
  let scale = 1;
  let disp = 0;
  let ripRel = false;
  let defaultSeg = DS;
  let sib = -1;

  if (modrm >= 0) {
    if (mod === 3 || row.anyMod === true) {
      rm = rmField | ((rexBits & 1) << 3);
    } else if (adsize === 2) {
      // 16-bit addressing: fixed base/index pairs (SDM vol. 2 table 2-1).
      const pairs: readonly (readonly [number, number])[] = [[3, 6], [3, 7], [5, 6], [5, 7], [6, NO_REG], [7, NO_REG], [5, NO_REG], [3, NO_REG]];
      const pair = pairs[rmField] as readonly [number, number];
      if (mod === 0 && rmField === 6) {
        disp = (next() | (next() << 8)) << 16 >> 16;
      } else {
        base = pair[0];
        index = pair[1];
        if (base === 5) defaultSeg = SS_SEG;
        if (mod === 1) disp = (next() << 24) >> 24;
        else if (mod === 2) disp = (next() | (next() << 8)) << 16 >> 16;
      }
    } else {
      let baseField = rmField;
      if (rmField === 4) {
        sib = next();
        scale = 1 << (sib >> 6);
        const idx = ((sib >> 3) & 7) | ((rexBits & 2) << 2);
        index = idx === 4 ? NO_REG : idx;
        baseField = sib & 7;
        if (baseField === 5 && mod === 0) {
          base = NO_REG;
          disp = next() | (next() << 8) | (next() << 16) | (next() << 24);
        } else {
          base = baseField | ((rexBits & 1) << 3);
        }
      } else if (rmField === 5 && mod === 0) {
        disp = next() | (next() << 8) | (next() << 16) | (next() << 24);
        if (mode === 64) ripRel = true;
      } else {
        base = rmField | ((rexBits & 1) << 3);
      }
      if (mod === 1) disp = (next() << 24) >> 24;
      else if (mod === 2) disp = next() | (next() << 8) | (next() << 16) | (next() << 24);
      if (base === 4 || base === 5) defaultSeg = SS_SEG;
    }
  }

  // Registers encoded in the opcode's low bits.
  if (row.operands[0] === 'Zb' || row.operands[0] === 'Zv' || row.operands[0] === 'Zy' || row.operands[1] === 'Zv') {
    reg = (opcode & 7) | ((rexBits & 1) << 3);
  }

  // Byte registers 4-7 without REX are AH, CH, DH, BH.
  if (rex === 0) {
    for (let k = 0; k < row.operands.length; k++) {
      const o = row.operands[k];
      if (o === 'Gb' && reg >= 4 && reg < 8) reg += 12;
      else if (o === 'Zb' && reg >= 4 && reg < 8) reg += 12;
      else if (o === 'Eb' && rm >= 4 && rm < 8) rm += 12;
    }
  }

  let imm = 0;
  let imm2 = 0;
  let immHi = 0;
  let nImm = 0;
  for (const o of row.operands) {
    if (o === 'Ob' || o === 'Ov') {
      // moffs: an address of the address size.
      imm = readLE(next, adsize === 8 ? 4 : adsize);
      if (adsize === 8) immHi = readLE(next, 4);
      else if (adsize === 4) imm = imm >>> 0;
      continue;
    }
    const n = immSize(o, opsize);
    if (n === 0) continue;
    if (n === 8) {
      imm = readLE(next, 4);
      immHi = readLE(next, 4);
    } else {
      let v = readLE(next, n);
      if (n === 1) v = (v << 24) >> 24;
      else if (n === 2) v = (v << 16) >> 16;
      if (nImm === 0) imm = v;
      else imm2 = v;
    }
    nImm++;
  }
  // Sign-extended 32-bit immediates of 64-bit operations carry their sign into the high half.
  if (opsize === 8 && nImm > 0 && row.operands.every((o) => o !== 'Iv')) immHi = imm >> 31;

  // LOCK needs a lockable row with a memory operand; AMD also gives LOCK MOV CR0 the meaning
  // MOV CR8 (CPUID AltMovCr8), so the control-register rows accept it (exec/system.ts).
  if (lock && !(row.lock === true && rm < 0 && modrm >= 0) && !(row.anyMod === true && row.operands.includes('Cy'))) throw new Fault(UD);

  return {
    row,
    exec: row.exec,
    len: pos,
    opsize,
    adsize,
    reg,
    rm,
    base,
    index,
    scale,
    disp,
    ripRel,
    // In 64-bit mode ES/CS/SS/DS overrides are null prefixes: the default segment stays (it
    // decides #SS versus #GP for a non-canonical address).
    seg: segOverride >= 0 && (mode !== 64 || segOverride >= FS) ? segOverride : defaultSeg,
    segOverride,
    imm,
    imm2,
    immHi,
    rep,
    lock,
    rex,
    vex,
    vvvv,
    vexL,
    opcode,
    p66,
    addr: la,
    modrm,
    sib,
  };
}

function readLE(next: () => number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) v |= next() << (8 * k);
  return v;
}

function isLegacyPrefix(b: number): boolean {
  return b === 0x66 || b === 0x67 || b === 0xf0 || b === 0xf2 || b === 0xf3 || b === 0x26 || b === 0x2e || b === 0x36 || b === 0x3e || b === 0x64 || b === 0x65;
}
