/**
 * The block compiler: turns a hot decoded block into one JavaScript function.
 *
 * Each instruction whose row has a `jit` template becomes straight-line source with its
 * registers, immediates and RIP-relative addresses as constants; any other instruction becomes a
 * direct call of its handler (`H[k](c, I[k])`), so every row works compiled. V8 then optimises
 * the block as a unit: no dispatch, no decoded-record loads, constant register indices.
 *
 * Invariants the generated code keeps, so that a compiled block is indistinguishable from the
 * interpreter (the differential tests run both):
 *  - `c.insnStart` holds the executing instruction's address before anything can fault, and
 *    `c.retired` counts exactly the instructions completed (a fault leaves it before the
 *    faulting one);
 *  - RIP is materialised before every handler call and at every exit;
 *  - after anything that may write memory the block stops if it invalidated itself (SMC).
 * Same-block flag fusion: when a Jcc directly follows the CMP/SUB/TEST/AND/ADD that set its
 * flags, the condition is computed from that instruction's operands, not from RFLAGS (the lazy
 * flag record is still written, so later readers see the same state).
 */
import type { Cpu } from './cpu.js';
import type { Insn } from './decoder.js';
import { NO_REG } from './decoder.js';
import { cond } from './exec/control.js';
import { imulTrunc } from './exec/muldiv.js';
import { ea } from './exec/operands.js';
import { shift } from './exec/shift.js';
import { Fault } from './fault.js';
import { ARITH, type Row } from './isa/types.js';

/** What the previous instruction in the block left in the block's flag scratch variables. */
export interface FlagSrc {
  /** sub: fa - fb = fr (CMP/SUB); logic: fr = result, CF=OF=0 (TEST/AND/OR/XOR); add: fa + fb. */
  readonly kind: 'sub' | 'logic' | 'add';
  readonly size: 1 | 4 | 8;
}

export interface JitGen {
  /** Index of the instruction in its block (H[k], I[k]). */
  readonly k: number;
  /** RIP of the next instruction. */
  readonly next: number;
  readonly mode: 64 | 32 | 16;
  /** Flag producer immediately before this instruction, if any. */
  readonly flagSrc: FlagSrc | undefined;
  /** Declare what this instruction leaves in fa/fb/fr (fah/fbh/frh for 64-bit) for a following Jcc. */
  setFlagSrc(src: FlagSrc): void;
  /** Source that declares `const la` = the memory operand's linear address (faulting as `ea` does). */
  ea(i: Insn): string;
  /** The instruction writes memory: the block checks for self-invalidation after it. */
  writesMemory(): void;
  /** The instruction may raise a fault (stack access, checked jump): its address is recorded first. */
  mayFault(): void;
  /**
   * A later instruction of the block overwrites all arithmetic flags before anything can read
   * them or fault: the lazy-flag record need not be written (the fused-Jcc scratch still is).
   */
  readonly flagsDead: boolean;
}

const TWO32 = 4294967296;

/** Placeholders replaced once the block's register use is known: store / reload the locals. */
const FLUSH = '/*FLUSH*/';
const RELOAD = '/*RELOAD*/';

/** Runtime helpers the generated code may call; bound once per compiled block. */
const RT = { cond, ea, Fault, shift, imulTrunc };

export type CompiledBlock = (c: Cpu) => void;

/** Canonical 48-bit address (bits 63..47 equal). */
function canonical(a: number): boolean {
  return a < 0x800000000000 && a >= -0x800000000000;
}

function eaSource(i: Insn, k: number, next: number, mode: number): string {
  // ea() reads RIP-relative bases from c.rip, which a compiled block does not keep per instruction.
  // It also reads base and index from c.r, so the register locals are stored first.
  if (mode !== 64 || i.adsize !== 8 || i.seg >= 4) return `${FLUSH} ${i.ripRel ? `c.rip = ${next}; ` : ''}const la = ea(c, I[${k}]);`;
  if (i.ripRel) {
    const a = next + i.disp;
    // A non-canonical constant address faults at run time exactly as the interpreter would.
    return canonical(a) ? `const la = ${a};` : `${FLUSH} const la = ea(c, I[${k}]);`;
  }
  const lo: string[] = [];
  const hi: string[] = [];
  if (i.base !== NO_REG) {
    lo.push(`(R${i.base * 2} >>> 0)`);
    hi.push(`R${i.base * 2 + 1}`);
  }
  if (i.index !== NO_REG) {
    lo.push(i.scale === 1 ? `(R${i.index * 2} >>> 0)` : `(R${i.index * 2} >>> 0) * ${i.scale}`);
    hi.push(i.scale === 1 ? `R${i.index * 2 + 1}` : `R${i.index * 2 + 1} * ${i.scale}`);
  }
  if (i.disp !== 0 || lo.length === 0) {
    // The low half takes disp as unsigned; its sign goes to the high half.
    lo.push(String(i.disp >>> 0));
    if (i.disp < 0) hi.push('-1');
  }
  const vec = i.seg === 2 ? 12 : 13;
  return (
    `const l_ = ${lo.join(' + ')}; const h_ = (${hi.length > 0 ? hi.join(' + ') : '0'} + Math.floor(l_ / ${TWO32})) | 0;` +
    ` if ((h_ >> 15) !== (h_ >> 31)) throw new Fault(${vec}, 0);` +
    ` const la = h_ * ${TWO32} + (l_ >>> 0);`
  );
}

/**
 * The row's template for this instruction, if it runs its row's semantics: the block builder may
 * have given it another `exec` (an `fpu` row CR0 denies raises #NM or #UD instead), and then it
 * is called like any other handler.
 */
function template(i: Insn): Row['jit'] {
  return i.exec === i.row.exec ? i.row.jit : undefined;
}

/** Rows whose templates write all six arithmetic flags without reading any (ADD/SUB/CMP/logic/TEST). */
function writesAllFlags(i: Insn): boolean {
  const f = i.row.flags;
  return template(i) !== undefined && f.read === 0 && (f.write & ARITH) === ARITH && FULL_WRITERS.has(i.row.mnemonic);
}
const FULL_WRITERS = new Set(['add', 'sub', 'cmp', 'and', 'or', 'xor', 'test']);

/** The instruction has a memory operand (so its template may fault). */
function touchesMemory(i: Insn): boolean {
  return i.rm < 0 && i.row.operands.some((o) => /^(E|M)/.test(o)) && i.row.mnemonic !== 'lea';
}

/**
 * For each instruction, whether its lazy-flag record is dead: a later instruction of the block
 * overwrites all six flags before anything can read them or fault (a fault must see them).
 * Only register-only templated instructions without flag reads may stand in between.
 */
function deadFlags(insns: readonly Insn[]): boolean[] {
  const dead = insns.map(() => false);
  for (let k = 0; k < insns.length; k++) {
    for (let j = k + 1; j < insns.length; j++) {
      const x = insns[j] as Insn;
      const quiet = template(x) !== undefined && x.row.flags.read === 0 && !touchesMemory(x) && x.row.ends !== true && !STACK.has(x.row.mnemonic);
      if (!quiet) break;
      if (writesAllFlags(x)) {
        dead[k] = true;
        break;
      }
    }
  }
  return dead;
}
const STACK = new Set(['push', 'pop', 'call', 'ret', 'inc', 'dec']);

/** Iterations a self-looping block runs before returning to the dispatcher. */
const SELF_LOOP_MAX = 4095;

/** The block ends with a templated relative JMP/Jcc whose target is the block's first instruction. */
function selfLoop(insns: readonly Insn[], mode: number): boolean {
  const last = insns[insns.length - 1] as Insn;
  const first = insns[0] as Insn;
  const rel = last.row.operands[0] === 'Jb' || last.row.operands[0] === 'Jz';
  const isBranch = /^j/.test(last.row.mnemonic) && last.row.mnemonic !== 'jrcxz';
  return mode === 64 && rel && isBranch && template(last) !== undefined && last.addr + last.len + last.imm === first.addr;
}

/** Compiles a decoded block; undefined when the block is not worth compiling. */
export function compileBlock(insns: readonly Insn[], mode: 64 | 32 | 16): CompiledBlock | undefined {
  const wrap = (v: number): number => (mode === 64 ? v : mode === 32 ? v >>> 0 : v & 0xffff);
  const dead = deadFlags(insns);
  let src = '';
  let flagSrc: FlagSrc | undefined;
  let ended = false;
  for (let k = 0; k < insns.length; k++) {
    const i = insns[k] as Insn;
    const next = wrap(i.addr + i.len);
    let nextFlagSrc: FlagSrc | undefined;
    let writes = false;
    let faults = false;
    const g: JitGen = {
      k,
      next,
      mode,
      flagSrc,
      flagsDead: dead[k] === true,
      setFlagSrc: (s) => {
        nextFlagSrc = s;
      },
      ea: (x) => {
        faults = true;
        return eaSource(x, k, next, mode);
      },
      writesMemory: () => {
        writes = true;
        faults = true;
      },
      mayFault: () => {
        faults = true;
      },
    };
    const body = template(i)?.(i, g);
    if (body === undefined) {
      // Handler call: it sees RIP at the next instruction and an exact retired count, as in
      // the interpreter.
      src += `c.insnStart = ${i.addr}; c.retired += n; n = 0; c.rip = ${next}; ${FLUSH} sync_ = true; H[${k}](c, I[${k}]); sync_ = false; ${RELOAD} n = 1;\n`;
      src += `if (c.blockBroken || c.stopRequested) return;\n`;
      flagSrc = undefined;
      if (i.row.ends === true) ended = true;
      continue;
    }
    // Only an instruction that can fault needs its address recorded (the fault restarts it).
    if (faults) src += `c.insnStart = ${i.addr};\n`;
    src += `{ ${body} }\nn++;\n`;
    if (writes) src += `if (c.blockBroken) { c.rip = ${next}; return; }\n`;
    flagSrc = nextFlagSrc;
    // Templates of block-ending instructions set c.rip themselves.
    if (i.row.ends === true) ended = true;
  }
  const last = insns[insns.length - 1] as Insn;
  if (!ended) {
    src += `c.rip = ${wrap(last.addr + last.len)};\n`;
  } else if (selfLoop(insns, mode)) {
    // A block that branches back to its own start loops inside the function (bounded, so the
    // run loop still gets control regularly) instead of returning to the dispatcher each time.
    const start = (insns[0] as Insn).addr;
    src = `for (let it_ = 0; ; it_++) {\n${src}if (c.rip !== ${start} || it_ >= ${SELF_LOOP_MAX}) break;\n}\n`;
  }
  // `n` counts instructions completed since the last flush into c.retired; the finally clause
  // flushes it on every exit, a fault included (the faulting instruction never counted).
  // Registers live in locals: loaded at entry, stored back at every exit (the finally clause)
  // and before handler calls and the generic `ea` (which read c.r); reloaded after handler
  // calls. While a handler runs, c.r is authoritative (`sync_`): if it faults after changing
  // registers (REP string progress), the finally clause must not overwrite them.
  const used = [...new Set([...src.matchAll(/\bR(\d+)\b/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);
  const written = used.filter((k) => new RegExp(`\\bR${k}\\s*=(?!=)`).test(src));
  const store = written.map((k) => `r[${k}] = R${k};`).join(' ');
  const load = used.map((k) => `R${k} = r[${k}];`).join(' ');
  src = src.split(FLUSH).join(store).split(RELOAD).join(load);
  const decl = used.length > 0 ? `let ${used.map((k) => `R${k} = r[${k}]`).join(', ')};` : '';
  const factory = new Function(
    'H',
    'I',
    'RT',
    `"use strict"; const { ${Object.keys(RT).join(', ')} } = RT;\n` +
      `return function block(c) { const r = c.r; let n = 0; let sync_ = false; let fa = 0, fb = 0, fr = 0, fah = 0, fbh = 0, frh = 0; ${decl}\n` +
      `try {\n${src}} finally { c.retired += n; if (!sync_) { ${store} } }\n};`,
  ) as (h: readonly Insn['exec'][], insns: readonly Insn[], rt: typeof RT) => CompiledBlock;
  return factory(
    insns.map((i) => i.exec),
    insns,
    RT,
  );
}

// ---- template helpers shared by the rows ---------------------------------------------------

/**
 * A register's low / high half inside a compiled block: a local (`R<k>` for `c.r[k]`), loaded at
 * entry and written back at every exit and before anything that reads `c.r` (see compileBlock).
 */
export const lo = (n: number): string => `R${n * 2}`;
export const hi = (n: number): string => `R${n * 2 + 1}`;

/** The condition for Jcc/SETcc code `cc`, fused with the block's previous flag producer if possible. */
export function condSource(cc: number, src: FlagSrc | undefined): string {
  const neg = (cc & 1) !== 0;
  const base = cc >> 1;
  let e: string | undefined;
  if (src?.size === 1) {
    // Byte operands are zero-extended in fa/fb; the result is untruncated in fr.
    const sa = '((fa << 24) >> 24)';
    const sb = '((fb << 24) >> 24)';
    if (src.kind === 'sub') {
      e = [undefined, 'fa < fb', '(fr & 0xff) === 0', 'fa <= fb', '(fr & 0x80) !== 0', undefined, `${sa} < ${sb}`, `${sa} <= ${sb}`][base];
    } else if (src.kind === 'logic') {
      e = [undefined, 'false', '(fr & 0xff) === 0', '(fr & 0xff) === 0', '(fr & 0x80) !== 0', undefined, '(fr & 0x80) !== 0', '((fr & 0xff) === 0 || (fr & 0x80) !== 0)'][base];
    }
  } else if (src?.size === 4) {
    if (src.kind === 'sub') {
      e = [undefined, '(fa >>> 0) < (fb >>> 0)', 'fr === 0', '(fa >>> 0) <= (fb >>> 0)', 'fr < 0', undefined, 'fa < fb', 'fa <= fb'][base];
    } else if (src.kind === 'logic') {
      e = [undefined, 'false', 'fr === 0', 'fr === 0', 'fr < 0', undefined, 'fr < 0', 'fr <= 0'][base];
    }
  } else if (src?.size === 8) {
    if (src.kind === 'sub') {
      const ult = '((fah >>> 0) < (fbh >>> 0) || (fah === fbh && (fa >>> 0) < (fb >>> 0)))';
      const eq = '(fr === 0 && frh === 0)';
      const slt = '(fah < fbh || (fah === fbh && (fa >>> 0) < (fb >>> 0)))';
      e = [undefined, ult, eq, `(${ult} || ${eq})`, 'frh < 0', undefined, slt, `(${slt} || ${eq})`][base];
    } else if (src.kind === 'logic') {
      e = [undefined, 'false', '(fr === 0 && frh === 0)', '(fr === 0 && frh === 0)', 'frh < 0', undefined, 'frh < 0', '(frh < 0 || (fr === 0 && frh === 0))'][base];
    }
  }
  if (e === undefined) return `cond(c, ${cc})`;
  return neg ? `!(${e})` : e;
}
