/**
 * JavaScript templates for the hottest rows (see jit.ts). Each returns source for one decoded
 * instruction, or undefined to fall back to the row's handler: a template covers only the forms
 * it can do exactly (64-bit mode, 32/64-bit operands, plain segments) and leaves the rest.
 * The lazy-flag record is written with the same values the handlers write (flags.ts).
 */
import type { Insn } from './decoder.js';
import { LazyOp } from './flags.js';
import { carrySource, condSource, hi, lo, type JitGen } from './jit.js';

const TWO32 = 4294967296;

type Template = (i: Insn, g: JitGen) => string | undefined;

/** Only 64-bit mode with a 32- or 64-bit operand size is templated. */
function plain(i: Insn, g: JitGen): boolean {
  return g.mode === 64 && (i.opsize === 4 || i.opsize === 8);
}

/** Source reading the r/m operand into `a`/`ah` (ah only for size 8); declares `la` for memory. */
function readRm(i: Insn, g: JitGen, v: string, rmw = false): string {
  if (i.rm >= 0) return i.opsize === 8 ? `const ${v} = ${lo(i.rm)}, ${v}h = ${hi(i.rm)};` : `const ${v} = ${lo(i.rm)};`;
  // Read-modify-write: the write is checked first (a page that is not present faults as a write).
  const probe = rmw ? ` c.probeWrite(la, ${i.opsize});` : '';
  return i.opsize === 8
    ? `${g.ea(i)}${probe} const ${v} = c.read64(la), ${v}h = c.hi;`
    : `${g.ea(i)}${probe} const ${v} = c.read32(la);`;
}

/** Source writing `v`/`vh` to the r/m operand (after readRm when memory: reuses `la`). */
function writeRm(i: Insn, g: JitGen, v: string, vh: string, haveLa: boolean): string {
  if (i.rm >= 0) return i.opsize === 8 ? `${lo(i.rm)} = ${v}; ${hi(i.rm)} = ${vh};` : `${lo(i.rm)} = ${v}; ${hi(i.rm)} = 0;`;
  g.writesMemory();
  const pre = haveLa ? '' : g.ea(i);
  return i.opsize === 8 ? `${pre} c.write64(la, ${v}, ${vh});` : `${pre} c.write32(la, ${v});`;
}

const ALU_KIND: readonly (('add' | 'logic' | 'sub') | undefined)[] = ['add', 'logic', undefined, undefined, 'logic', 'sub', 'logic', 'sub'];
const ALU_OP = ['+', '|', '', '', '&', '-', '^', '-'];

/**
 * ALU op with operands in `a`(`ah`) and `b`(`bh`): result in `res`(`resh`), lazy flags recorded,
 * and the block's flag scratch filled for a following Jcc.
 */
function aluCore(op: number, size: 4 | 8, g: JitGen): string | undefined {
  const kind = ALU_KIND[op];
  if (kind === undefined) return adcSbb(op === 3, size, g);
  g.setFlagSrc({ kind, size });
  const sym = ALU_OP[op] as string;
  if (g.flagsDead) {
    // Nobody can observe this instruction's flags: compute the result and the Jcc scratch only.
    if (size === 4) return kind === 'logic' ? `const res = a ${sym} b; fr = res;` : `const res = (a ${sym} b) | 0; fa = a; fb = b; fr = res;`;
    if (kind === 'logic') return `const res = a ${sym} b, resh = ah ${sym} bh; fr = res; frh = resh;`;
    return kind === 'add'
      ? `const s_ = (a >>> 0) + (b >>> 0); const res = s_ | 0, resh = (ah + bh + (s_ > 4294967295 ? 1 : 0)) | 0; fa = a; fah = ah; fb = b; fbh = bh; fr = res; frh = resh;`
      : `const s_ = (a >>> 0) - (b >>> 0); const res = s_ | 0, resh = (ah - bh - (s_ < 0 ? 1 : 0)) | 0; fa = a; fah = ah; fb = b; fbh = bh; fr = res; frh = resh;`;
  }
  if (size === 4) {
    if (kind === 'logic') {
      return `const res = a ${sym} b; c.lfOp = ${LazyOp.Logic}; c.lfSize = 4; c.lfA = 0; c.lfB = 0; c.lfR = res; fr = res;`;
    }
    const lop = kind === 'add' ? LazyOp.Add : LazyOp.Sub;
    return `const res = (a ${sym} b) | 0; c.lfOp = ${lop}; c.lfSize = 4; c.lfA = a; c.lfB = b; c.lfR = res; fa = a; fb = b; fr = res;`;
  }
  if (kind === 'logic') {
    return `const res = a ${sym} b, resh = ah ${sym} bh; c.lfOp = ${LazyOp.Logic}; c.lfSize = 8; c.lfA = 0; c.lfAH = 0; c.lfB = 0; c.lfBH = 0; c.lfR = res; c.lfRH = resh; fr = res; frh = resh;`;
  }
  const carry =
    kind === 'add'
      ? `const s_ = (a >>> 0) + (b >>> 0); const res = s_ | 0, resh = (ah + bh + (s_ > 4294967295 ? 1 : 0)) | 0;`
      : `const s_ = (a >>> 0) - (b >>> 0); const res = s_ | 0, resh = (ah - bh - (s_ < 0 ? 1 : 0)) | 0;`;
  const lop = kind === 'add' ? LazyOp.Add : LazyOp.Sub;
  return (
    `${carry} c.lfOp = ${lop}; c.lfSize = 8; c.lfA = a; c.lfAH = ah; c.lfB = b; c.lfBH = bh; c.lfR = res; c.lfRH = resh;` +
    ` fa = a; fah = ah; fb = b; fbh = bh; fr = res; frh = resh;`
  );
}

/**
 * ADC/SBB with operands in `a`(`ah`) and `b`(`bh`): the carry-in comes from the block's previous
 * flag producer when it is known, else from the lazy record; the record is written as the
 * handler writes it (LazyOp.Adc/Sbb with lfCin).
 */
function adcSbb(sbb: boolean, size: 4 | 8, g: JitGen): string {
  const cin = carrySource(g.flagSrc) ?? 'c.getCF()';
  g.setFlagSrc({ kind: sbb ? 'sbb' : 'adc', size });
  const lop = sbb ? LazyOp.Sbb : LazyOp.Adc;
  if (size === 4) {
    const res = sbb ? '(a - b - ci_) | 0' : '(a + b + ci_) | 0';
    const rec = g.flagsDead ? '' : `c.lfOp = ${lop}; c.lfSize = 4; c.lfA = a; c.lfB = b; c.lfR = res; c.lfCin = ci_;`;
    return `const ci_ = ${cin}; const res = ${res}; ${rec} fa = a; fb = b; fr = res; fci = ci_;`;
  }
  const carry = sbb
    ? `const s_ = (a >>> 0) - (b >>> 0) - ci_; const res = s_ | 0, resh = (ah - bh - (s_ < 0 ? 1 : 0)) | 0;`
    : `const s_ = (a >>> 0) + (b >>> 0) + ci_; const res = s_ | 0, resh = (ah + bh + (s_ > 4294967295 ? 1 : 0)) | 0;`;
  const rec = g.flagsDead ? '' : `c.lfOp = ${lop}; c.lfSize = 8; c.lfA = a; c.lfAH = ah; c.lfB = b; c.lfBH = bh; c.lfR = res; c.lfRH = resh; c.lfCin = ci_;`;
  return `const ci_ = ${cin}; ${carry} ${rec} fa = a; fah = ah; fb = b; fbh = bh; fr = res; frh = resh; fci = ci_;`;
}

function aluOpOf(i: Insn): number {
  return i.opcode < 0x40 ? (i.opcode >> 3) & 7 : i.reg & 7;
}

// ---- byte forms ---------------------------------------------------------------------------

/** Byte register read: 0-15 low bytes, 16-19 AH/CH/DH/BH. */
function reg8(n: number): string {
  return n < 16 ? `(${lo(n)} & 0xff)` : `((${lo(n - 16)} >> 8) & 0xff)`;
}
function setReg8(n: number, v: string): string {
  return n < 16 ? `${lo(n)} = (${lo(n)} & ~0xff) | ((${v}) & 0xff);` : `${lo(n - 16)} = (${lo(n - 16)} & ~0xff00) | (((${v}) & 0xff) << 8);`;
}

/** Byte ALU (00-3B byte forms, 80 /op): operands `a`, `b` zero-extended; lazy record as alu() writes it. */
function aluCore8(op: number, g: JitGen): string | undefined {
  const kind = ALU_KIND[op];
  if (kind === undefined) return undefined;
  g.setFlagSrc({ kind, size: 1 });
  const sym = ALU_OP[op] as string;
  const res = kind === 'logic' ? `a ${sym} b` : `(a ${sym} b) | 0`;
  const lop = kind === 'logic' ? LazyOp.Logic : kind === 'add' ? LazyOp.Add : LazyOp.Sub;
  const rec = g.flagsDead
    ? ''
    : kind === 'logic'
      ? `c.lfOp = ${lop}; c.lfSize = 1; c.lfA = 0; c.lfB = 0; c.lfR = res;`
      : `c.lfOp = ${lop}; c.lfSize = 1; c.lfA = a; c.lfB = b; c.lfR = res;`;
  return `const res = ${res}; ${rec} fa = a; fb = b; fr = res;`;
}

function aluByte(i: Insn, g: JitGen, form: 'EG' | 'GE' | 'EI'): string | undefined {
  if (g.mode !== 64) return undefined;
  const op = aluOpOf(i);
  const core = aluCore8(op, g);
  if (core === undefined) return undefined;
  const rmIsDest = form !== 'GE';
  // Read-modify-write of memory: the write is checked first (see readRm).
  const pre = i.rm >= 0 ? '' : `${g.ea(i)}${rmIsDest && op !== 7 ? ' c.probeWrite(la, 1);' : ''}`;
  const rmRead = i.rm >= 0 ? reg8(i.rm) : 'c.read8(la)';
  const other = form === 'EI' ? String(i.imm & 0xff) : reg8(i.reg);
  const [a, b] = rmIsDest ? [rmRead, other] : [other, rmRead];
  let write = '';
  if (op !== 7) {
    if (!rmIsDest) write = setReg8(i.reg, 'res');
    else if (i.rm >= 0) write = setReg8(i.rm, 'res');
    else {
      g.writesMemory();
      write = `c.write8(la, res);`;
    }
  }
  return `${pre} const a = ${a}, b = ${b}; ${core} ${write}`;
}
export const jitAluEbGb: Template = (i, g) => aluByte(i, g, 'EG');
export const jitAluGbEb: Template = (i, g) => aluByte(i, g, 'GE');
export const jitAluEbIb: Template = (i, g) => aluByte(i, g, 'EI');

/** op AL, Ib (04 0C ... 3C). */
export const jitAluAlIb: Template = (i, g) => (g.mode === 64 ? aluByte({ ...i, rm: 0 }, g, 'EI') : undefined);

/** TEST AL, Ib (A8) and TEST Eb, Ib (F6 /0, /1). */
export const jitTestEbIb: Template = (i, g) => {
  if (g.mode !== 64) return undefined;
  const rm = i.opcode === 0xa8 ? 0 : i.rm;
  const pre = rm >= 0 ? '' : g.ea(i);
  return `${pre} const a = ${rm >= 0 ? reg8(rm) : 'c.read8(la)'}, b = ${i.imm & 0xff}; ${aluCore8(4, g) ?? ''}`;
};

/** TEST rAX, Iz (A9) and TEST Ev, Iz (F7 /0, /1). */
export const jitTestEvI: Template = (i, g) => {
  if (!plain(i, g)) return undefined;
  const size = i.opsize as 4 | 8;
  const j: Insn = i.opcode === 0xa9 ? { ...i, rm: 0 } : i;
  const b = size === 8 ? `const b = ${i.imm | 0}, bh = ${i.immHi | 0};` : `const b = ${i.imm | 0};`;
  return `${b} ${readRm(j, g, 'a')} ${aluCore(4, size, g) ?? ''}`;
};

/** NOT Ev (F7 /2) and NEG Ev (F7 /3), 32/64-bit; NEG records flags as a subtraction from 0. */
export function jitNegNot(neg: boolean): Template {
  return (i, g) => {
    if (!plain(i, g)) return undefined;
    const size = i.opsize as 4 | 8;
    const rd = readRm(i, g, 'a', true);
    let core: string;
    if (!neg) core = size === 8 ? 'const res = ~a, resh = ~ah;' : 'const res = ~a;';
    else {
      g.setFlagSrc({ kind: 'sub', size });
      if (size === 4) {
        const rec = g.flagsDead ? '' : `c.lfOp = ${LazyOp.Neg}; c.lfSize = 4; c.lfA = 0; c.lfB = a; c.lfR = res;`;
        core = `const res = -a | 0; ${rec} fa = 0; fb = a; fr = res;`;
      } else {
        const rec = g.flagsDead ? '' : `c.lfOp = ${LazyOp.Neg}; c.lfSize = 8; c.lfA = 0; c.lfAH = 0; c.lfB = a; c.lfBH = ah; c.lfR = res; c.lfRH = resh;`;
        core = `const res = -a | 0, resh = (~ah + (a === 0 ? 1 : 0)) | 0; ${rec} fa = 0; fah = 0; fb = a; fbh = ah; fr = res; frh = resh;`;
      }
    }
    return `${rd} ${core} ${writeRm(i, g, 'res', 'resh', true)}`;
  };
}

/** TEST Eb, Gb (84). */
export const jitTestEbGb: Template = (i, g) => {
  if (g.mode !== 64) return undefined;
  const pre = i.rm >= 0 ? '' : g.ea(i);
  return `${pre} const a = ${i.rm >= 0 ? reg8(i.rm) : 'c.read8(la)'}, b = ${reg8(i.reg)}; ${aluCore8(4, g) ?? ''}`;
};

/** MOV Eb, Gb (88), MOV Gb, Eb (8A), MOV Eb, Ib (C6), MOV Zb, Ib (B0+r). */
export const jitMovEbGb: Template = (i, g) => {
  if (g.mode !== 64) return undefined;
  if (i.rm >= 0) return setReg8(i.rm, reg8(i.reg));
  g.writesMemory();
  return `${g.ea(i)} c.write8(la, ${reg8(i.reg)});`;
};
export const jitMovGbEb: Template = (i, g) => {
  if (g.mode !== 64) return undefined;
  if (i.rm >= 0) return setReg8(i.reg, reg8(i.rm));
  return `${g.ea(i)} const v = c.read8(la); ${setReg8(i.reg, 'v')}`;
};
export const jitMovEbIb: Template = (i, g) => {
  if (g.mode !== 64) return undefined;
  if (i.rm >= 0) return setReg8(i.rm, String(i.imm & 0xff));
  g.writesMemory();
  return `${g.ea(i)} c.write8(la, ${i.imm & 0xff});`;
};
export const jitMovZbIb: Template = (i, g) => (g.mode === 64 ? setReg8(i.reg, String(i.imm & 0xff)) : undefined);

/** op Ev, Gv (01 09 21 29 31 39). */
export const jitAluEvGv: Template = (i, g) => {
  if (!plain(i, g)) return undefined;
  const op = aluOpOf(i);
  const size = i.opsize as 4 | 8;
  const b = size === 8 ? `const b = ${lo(i.reg)}, bh = ${hi(i.reg)};` : `const b = ${lo(i.reg)};`;
  const core = aluCore(op, size, g);
  if (core === undefined) return undefined;
  const rd = readRm(i, g, 'a', op !== 7);
  return `${b} ${rd} ${core} ${op === 7 ? '' : writeRm(i, g, 'res', 'resh', true)}`;
};

/** op Gv, Ev (03 0B 23 2B 33 3B). */
export const jitAluGvEv: Template = (i, g) => {
  if (!plain(i, g)) return undefined;
  const op = aluOpOf(i);
  const size = i.opsize as 4 | 8;
  const core = aluCore(op, size, g);
  if (core === undefined) return undefined;
  const rd = readRm(i, g, 'b');
  const a = size === 8 ? `const a = ${lo(i.reg)}, ah = ${hi(i.reg)};` : `const a = ${lo(i.reg)};`;
  const wr = op === 7 ? '' : size === 8 ? `${lo(i.reg)} = res; ${hi(i.reg)} = resh;` : `${lo(i.reg)} = res; ${hi(i.reg)} = 0;`;
  return `${rd} ${a} ${core} ${wr}`;
};

/** op Ev, imm (81 /op, 83 /op) and op rAX, Iz (05 0D ...). */
export const jitAluEvI: Template = (i, g) => {
  if (!plain(i, g)) return undefined;
  const op = aluOpOf(i);
  const size = i.opsize as 4 | 8;
  const core = aluCore(op, size, g);
  if (core === undefined) return undefined;
  const b = size === 8 ? `const b = ${i.imm | 0}, bh = ${i.immHi | 0};` : `const b = ${i.imm | 0};`;
  const rm = i.opcode < 0x40 ? 0 : i.rm;
  const j: Insn = rm === i.rm ? i : { ...i, rm };
  const rd = readRm(j, g, 'a', op !== 7);
  return `${b} ${rd} ${core} ${op === 7 ? '' : writeRm(j, g, 'res', 'resh', true)}`;
};

/** TEST Ev, Gv (85). */
export const jitTestEvGv: Template = (i, g) => {
  if (!plain(i, g)) return undefined;
  const size = i.opsize as 4 | 8;
  const b = size === 8 ? `const b = ${lo(i.reg)}, bh = ${hi(i.reg)};` : `const b = ${lo(i.reg)};`;
  return `${b} ${readRm(i, g, 'a')} ${aluCore(4, size, g) ?? ''}`;
};

/** MOV Ev, Gv (89) and MOV Gv, Ev (8B). */
export const jitMovEvGv: Template = (i, g) => {
  if (!plain(i, g)) return undefined;
  if (i.opsize === 8) return writeRm(i, g, lo(i.reg), hi(i.reg), false);
  return writeRm(i, g, lo(i.reg), '0', false);
};
export const jitMovGvEv: Template = (i, g) => {
  if (!plain(i, g)) return undefined;
  const rd = readRm(i, g, 'v');
  return i.opsize === 8 ? `${rd} ${lo(i.reg)} = v; ${hi(i.reg)} = vh;` : `${rd} ${lo(i.reg)} = v; ${hi(i.reg)} = 0;`;
};

/** MOV Zv, Iv (B8+r) and MOV Ev, Iz (C7 /0). */
export const jitMovZvIv: Template = (i, g) => {
  if (!plain(i, g)) return undefined;
  return `${lo(i.reg)} = ${i.imm | 0}; ${hi(i.reg)} = ${i.opsize === 8 ? i.immHi | 0 : 0};`;
};
export const jitMovEvIz: Template = (i, g) => {
  if (!plain(i, g)) return undefined;
  return writeRm(i, g, String(i.imm | 0), String(i.opsize === 8 ? i.immHi | 0 : 0), false);
};

/** LEA Gv, M: the offset, no segment and no canonical check. */
export const jitLea: Template = (i, g) => {
  if (!plain(i, g) || i.adsize !== 8 || i.ripRel) {
    if (plain(i, g) && i.ripRel) {
      const a = g.next + i.disp;
      const l = a % TWO32;
      const lw = l < 0 ? l + TWO32 : l;
      return i.opsize === 8 ? `${lo(i.reg)} = ${lw | 0}; ${hi(i.reg)} = ${Math.floor(a / TWO32) | 0};` : `${lo(i.reg)} = ${lw | 0}; ${hi(i.reg)} = 0;`;
    }
    return undefined;
  }
  const l: string[] = [];
  const h: string[] = [];
  if (i.base >= 0) {
    l.push(`(${lo(i.base)} >>> 0)`);
    h.push(hi(i.base));
  }
  if (i.index >= 0) {
    l.push(`(${lo(i.index)} >>> 0) * ${i.scale}`);
    h.push(`${hi(i.index)} * ${i.scale}`);
  }
  l.push(String(i.disp >>> 0));
  if (i.disp < 0) h.push('-1');
  const hiSrc = h.length > 0 ? h.join(' + ') : '0';
  if (i.opsize === 4) return `${lo(i.reg)} = (${l.join(' + ')}) | 0; ${hi(i.reg)} = 0;`;
  return `const l_ = ${l.join(' + ')}; const h_ = (${hiSrc} + Math.floor(l_ / ${TWO32})) | 0; ${lo(i.reg)} = l_ | 0; ${hi(i.reg)} = h_;`;
};

/**
 * 64-bit stack pointer arithmetic inline: `sp_` is the new RSP's linear address, `nl_`/`nh_` its
 * halves; a non-canonical stack address is #SS(0) (SDM vol. 3 §6.15), checked before any store.
 */
function stackAt(delta: number): string {
  const d = delta < 0 ? `- ${-delta}` : `+ ${delta}`;
  return (
    `const nl_ = (${lo(4)} >>> 0) ${d}; const nh_ = (${hi(4)} + Math.floor(nl_ / ${TWO32})) | 0;` +
    ` if ((nh_ >> 15) !== (nh_ >> 31)) throw new Fault(12, 0); const sp_ = nh_ * ${TWO32} + (nl_ >>> 0);`
  );
}

/** PUSH of a 64-bit value given as two source expressions (read before RSP moves). */
function push64(vlo: string, vhi: string): string {
  return `const pl_ = ${vlo}, ph_ = ${vhi}; ${stackAt(-8)} c.write64(sp_, pl_, ph_); ${lo(4)} = nl_ | 0; ${hi(4)} = nh_;`;
}

/** PUSH Zv / POP Zv (50+r / 58+r), 64-bit. */
export const jitPushZ: Template = (i, g) => {
  if (g.mode !== 64 || i.opsize !== 8) return undefined;
  g.writesMemory();
  return push64(lo(i.reg), hi(i.reg));
};
/** POP: RSP moves before the register is written, so `pop %rsp` loads the popped value. */
export const jitPopZ: Template = (i, g) => {
  if (g.mode !== 64 || i.opsize !== 8) return undefined;
  g.mayFault();
  return `${stackAt(0)} const v = c.read64(sp_), vh = c.hi; const ql_ = nl_ + 8; ${lo(4)} = ql_ | 0; ${hi(4)} = (nh_ + Math.floor(ql_ / ${TWO32})) | 0; ${lo(i.reg)} = v; ${hi(i.reg)} = vh;`;
};

function target(i: Insn, g: JitGen): number | undefined {
  const t = g.next + i.imm;
  return g.mode === 64 && t < 0x800000000000 && t >= -0x800000000000 ? t : undefined;
}

/** JMP rel / Jcc rel / CALL rel with a canonical constant target. */
export const jitJmp: Template = (i, g) => {
  const t = target(i, g);
  return t === undefined ? undefined : `c.rip = ${t};`;
};
export const jitJcc: Template = (i, g) => {
  const t = target(i, g);
  if (t === undefined) return undefined;
  return `c.rip = (${condSource(i.opcode & 15, g.flagSrc)}) ? ${t} : ${g.next};`;
};
export const jitCall: Template = (i, g) => {
  const t = target(i, g);
  if (t === undefined) return undefined;
  g.writesMemory();
  const n = g.next;
  const nl = n % TWO32;
  return `${push64(String((nl < 0 ? nl + TWO32 : nl) | 0), String(Math.floor(n / TWO32) | 0))} c.rip = ${t};`;
};
/** RET (C3), 64-bit: the target is checked (c.jump) before RSP moves, as the handler does. */
export const jitRet: Template = (i, g) =>
  g.mode === 64 && i.opsize === 8 && (g.mayFault(), true)
    ? `${stackAt(0)} const t_ = c.read64(sp_); c.jump(c.hi * ${TWO32} + (t_ >>> 0)); const ql_ = nl_ + 8; ${lo(4)} = ql_ | 0; ${hi(4)} = (nh_ + Math.floor(ql_ / ${TWO32})) | 0;`
    : undefined;

/** MOVZX Gv, Eb/Ew and MOVSX Gv, Eb/Ew. */
function ext(from: 1 | 2, signed: boolean): Template {
  return (i, g) => {
    if (!plain(i, g)) return undefined;
    let read: string;
    if (i.rm >= 0) {
      if (from === 1 && i.rm >= 16) read = `((${lo(i.rm - 16)} >> 8) & 0xff)`;
      else read = from === 1 ? `(${lo(i.rm)} & 0xff)` : `(${lo(i.rm)} & 0xffff)`;
    } else read = from === 1 ? `c.read8(la)` : `c.read16(la)`;
    const pre = i.rm >= 0 ? '' : g.ea(i);
    const shift = from === 1 ? 24 : 16;
    const v = signed ? `((${read} << ${shift}) >> ${shift})` : read;
    const h = signed && i.opsize === 8 ? 'v >> 31' : '0';
    return `${pre} const v = ${v}; ${lo(i.reg)} = v; ${hi(i.reg)} = ${h === '0' ? '0' : h};`;
  };
}
export const jitMovzxB = ext(1, false);
export const jitMovzxW = ext(2, false);
export const jitMovsxB = ext(1, true);
export const jitMovsxW = ext(2, true);

/** MOVSXD Gv, Ed with REX.W. */
export const jitMovsxd: Template = (i, g) => {
  if (g.mode !== 64 || i.opsize !== 8) return undefined;
  const pre = i.rm >= 0 ? '' : g.ea(i);
  const read = i.rm >= 0 ? lo(i.rm) : 'c.read32(la)';
  return `${pre} const v = ${read}; ${lo(i.reg)} = v; ${hi(i.reg)} = v >> 31;`;
};

/** INC/DEC Ev register forms (FF /0, /1): CF is preserved, so it is read first. */
export function jitIncDec(dec: boolean): Template {
  return (i, g) => {
    if (!plain(i, g) || i.rm < 0) return undefined;
    const op = dec ? LazyOp.Dec : LazyOp.Inc;
    g.setFlagSrc({ kind: 'incdec', size: i.opsize as 4 | 8 });
    if (g.flagsDead) {
      // Every flag it writes, and the CF it keeps, is overwritten before anything reads them.
      if (i.opsize === 4) return `const res = (${lo(i.rm)} ${dec ? '-' : '+'} 1) | 0; ${lo(i.rm)} = res; ${hi(i.rm)} = 0; fr = res;`;
      const carry = dec ? `(ah - (a === 0 ? 1 : 0)) | 0` : `(ah + (a === -1 ? 1 : 0)) | 0`;
      return `const a = ${lo(i.rm)}, ah = ${hi(i.rm)}; const res = (a ${dec ? '-' : '+'} 1) | 0, resh = ${carry}; ${lo(i.rm)} = res; ${hi(i.rm)} = resh; fr = res; frh = resh;`;
    }
    const cf = carrySource(g.flagSrc) ?? 'c.getCF()';
    if (i.opsize === 4) {
      return `const cf = ${cf}; const a = ${lo(i.rm)}; const res = (a ${dec ? '-' : '+'} 1) | 0; c.lfOp = ${op}; c.lfSize = 4; c.lfA = a; c.lfB = 1; c.lfR = res; c.lfCin = cf; ${lo(i.rm)} = res; ${hi(i.rm)} = 0; fr = res;`;
    }
    const carry = dec ? `(ah - (a === 0 ? 1 : 0)) | 0` : `(ah + (a === -1 ? 1 : 0)) | 0`;
    return (
      `const cf = ${cf}; const a = ${lo(i.rm)}, ah = ${hi(i.rm)}; const res = (a ${dec ? '-' : '+'} 1) | 0, resh = ${carry};` +
      ` c.lfOp = ${op}; c.lfSize = 8; c.lfA = a; c.lfAH = ah; c.lfB = 1; c.lfBH = 0; c.lfR = res; c.lfRH = resh; c.lfCin = cf; ${lo(i.rm)} = res; ${hi(i.rm)} = resh; fr = res; frh = resh;`
    );
  };
}

/** NOP forms. */
export const jitNop: Template = () => '';

/** Group 2 shifts/rotates of a register by an immediate or by 1 (C1 /op, D1 /op), 32/64-bit. */
export const jitShiftImm: Template = (i, g) => {
  if (!plain(i, g) || i.rm < 0) return undefined;
  const count = i.opcode === 0xd1 ? 1 : i.imm & 0xff;
  const a = i.opsize === 8 ? `${lo(i.rm)}, ${hi(i.rm)}` : `${lo(i.rm)}, 0`;
  return `const res = shift(c, ${i.reg & 7}, ${i.opsize}, ${a}, ${count}); ${lo(i.rm)} = res; ${hi(i.rm)} = ${i.opsize === 8 ? 'c.hi' : '0'};`;
};

/** IMUL Gv, Ev (0F AF) and IMUL Gv, Ev, imm (69, 6B): register sources, 32/64-bit. */
export const jitImul: Template = (i, g) => {
  if (!plain(i, g) || i.rm < 0) return undefined;
  const three = i.opcode !== 0xaf;
  const a = three ? `${lo(i.rm)}, ${i.opsize === 8 ? hi(i.rm) : '0'}` : `${lo(i.reg)}, ${i.opsize === 8 ? hi(i.reg) : '0'}`;
  const b = three ? `${i.imm | 0}, ${i.imm >> 31}` : `${lo(i.rm)}, ${i.opsize === 8 ? hi(i.rm) : '0'}`;
  return `const res = imulTrunc(c, ${i.opsize}, ${a}, ${b}); ${lo(i.reg)} = res; ${hi(i.reg)} = ${i.opsize === 8 ? 'c.hi' : '0'};`;
};

/** A 64-bit register as a canonical-or-not address number (c.jump checks it). */
function regAddr(n: number): string {
  return `(${hi(n)} * ${TWO32} + (${lo(n)} >>> 0))`;
}

/** JMP r64 (FF /4, register form). */
export const jitJmpE: Template = (i, g) => {
  if (g.mode !== 64 || i.opsize !== 8 || i.rm < 0) return undefined;
  g.mayFault();
  return `c.jump(${regAddr(i.rm)});`;
};

/**
 * CALL r64 (FF /2, register form), in the handler's order: the stack slot is probed (#SS/#PF),
 * then the target checked (#GP), then the return address pushed.
 */
export const jitCallE: Template = (i, g) => {
  if (g.mode !== 64 || i.opsize !== 8 || i.rm < 0) return undefined;
  g.writesMemory();
  const n = g.next;
  const nl = n % TWO32;
  return (
    `const t_ = ${regAddr(i.rm)}; ${stackAt(-8)} c.probeWrite(sp_, 8); c.jump(t_);` +
    ` c.write64(sp_, ${(nl < 0 ? nl + TWO32 : nl) | 0}, ${Math.floor(n / TWO32) | 0}); ${lo(4)} = nl_ | 0; ${hi(4)} = nh_;`
  );
};

/** CMOVcc Gv, Ev (register source): a 32-bit destination is zero-extended either way. */
export const jitCmov: Template = (i, g) => {
  if (!plain(i, g) || i.rm < 0) return undefined;
  const cond = condSource(i.opcode & 15, g.flagSrc);
  if (i.opsize === 8) return `if (${cond}) { ${lo(i.reg)} = ${lo(i.rm)}; ${hi(i.reg)} = ${hi(i.rm)}; }`;
  return `${lo(i.reg)} = (${cond}) ? ${lo(i.rm)} : ${lo(i.reg)}; ${hi(i.reg)} = 0;`;
};

/** SETcc Eb (register destination). */
export const jitSetcc: Template = (i, g) => {
  if (g.mode !== 64 || i.rm < 0) return undefined;
  return setReg8(i.rm, `(${condSource(i.opcode & 15, g.flagSrc)}) ? 1 : 0`);
};
