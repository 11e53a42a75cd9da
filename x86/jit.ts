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
  /**
   * sub: fa - fb = fr (CMP/SUB/NEG); logic: fr = result, CF=OF=0 (TEST/AND/OR/XOR); add: fa + fb;
   * adc/sbb: the same with carry-in `fci`; incdec: fr = result (only ZF/SF known).
   */
  readonly kind: 'sub' | 'logic' | 'add' | 'adc' | 'sbb' | 'incdec';
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

/**
 * A compiled block or region, run with the run loop's instruction limit (a region checks it
 * between members); a region returns the member it left from.
 */
export type CompiledBlock = (c: Cpu, end: number) => unknown;

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
      // INC/DEC read CF only to carry it into their own record, which is dead too if this is.
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
const STACK = new Set(['push', 'pop', 'call', 'ret']);

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

/** A relative JMP/Jcc run by its template with a canonical constant target: [taken, fallthrough], or undefined. */
function relBranch(i: Insn, mode: number): { readonly cc: number; readonly taken: number; readonly next: number } | undefined {
  const m = i.row.mnemonic;
  const rel = i.row.operands[0] === 'Jb' || i.row.operands[0] === 'Jz';
  if (mode !== 64 || !rel || !/^j/.test(m) || /cxz$/.test(m) || template(i) === undefined) return undefined;
  const next = i.addr + i.len;
  const taken = next + i.imm;
  if (!canonical(taken)) return undefined;
  return { cc: m === 'jmp' ? -1 : i.opcode & 15, taken, next };
}

/**
 * The linear addresses a block may continue at that are known when it is decoded (64-bit mode):
 * the targets of its final relative JMP/Jcc/CALL, the fall-through (also after a CALL: its
 * RET usually comes back there). A region compiles these together when they are decoded already.
 */
export function staticSuccessors(insns: readonly Insn[]): number[] {
  const last = insns[insns.length - 1] as Insn;
  const next = last.addr + last.len;
  if (last.row.ends !== true) return [next];
  const b = relBranch(last, 64);
  if (b !== undefined) return b.cc < 0 ? [b.taken] : [b.taken, b.next];
  const t = next + last.imm;
  if (last.row.mnemonic === 'call' && last.row.operands[0] === 'Jz' && canonical(t) && template(last) !== undefined) return [t, next];
  return [];
}

interface BlockSource {
  src: string;
  /** The last instruction ended the block (it set c.rip itself). */
  ended: boolean;
  /** The last instruction was a relative JMP/Jcc that `branch` turned into source. */
  branched: boolean;
}

/**
 * Source for one block's instructions. `base` numbers its instructions in H/I; `ret` is what
 * an early exit returns; `branch`, if given, writes the block's final relative JMP/Jcc (after the
 * instruction has been counted) from its condition (undefined: always taken) and its two targets.
 */
function blockSource(
  insns: readonly Insn[],
  mode: 64 | 32 | 16,
  base: number,
  ret: string,
  branch?: (cond: string | undefined, taken: number, next: number) => string,
): BlockSource {
  const wrap = (v: number): number => (mode === 64 ? v : mode === 32 ? v >>> 0 : v & 0xffff);
  const dead = deadFlags(insns);
  let src = '';
  let flagSrc: FlagSrc | undefined;
  let ended = false;
  for (let j = 0; j < insns.length; j++) {
    const i = insns[j] as Insn;
    const k = base + j;
    const next = wrap(i.addr + i.len);
    if (branch !== undefined && j === insns.length - 1) {
      const b = relBranch(i, mode);
      if (b !== undefined) {
        const code = b.cc < 0 ? branch(undefined, b.taken, b.next) : `const tk_ = ${condSource(b.cc, flagSrc)}; n++;\n${branch('tk_', b.taken, b.next)}`;
        src += b.cc < 0 ? `n++;\n${code}` : `{ ${code} }\n`;
        return { src, ended: true, branched: true };
      }
    }
    let nextFlagSrc: FlagSrc | undefined;
    let writes = false;
    let faults = false;
    const g: JitGen = {
      k,
      next,
      mode,
      flagSrc,
      flagsDead: dead[j] === true,
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
      src += `if (c.blockBroken || c.stopRequested) return ${ret};\n`;
      flagSrc = undefined;
      if (i.row.ends === true) ended = true;
      continue;
    }
    // Only an instruction that can fault needs its address recorded (the fault restarts it).
    if (faults) src += `c.insnStart = ${i.addr};\n`;
    src += `{ ${body} }\nn++;\n`;
    if (writes) src += `if (c.blockBroken) { c.rip = ${next}; return ${ret}; }\n`;
    // An instruction that writes no flags leaves the scratch (and what it describes) alone.
    flagSrc = nextFlagSrc ?? (i.row.flags.write === 0 ? flagSrc : undefined);
    // Templates of block-ending instructions set c.rip themselves.
    if (i.row.ends === true) ended = true;
  }
  return { src, ended, branched: false };
}

/**
 * Registers live in locals: loaded at entry, stored back at every exit (the finally clause)
 * and before handler calls and the generic `ea` (which read c.r); reloaded after handler
 * calls. While a handler runs, c.r is authoritative (`sync_`): if it faults after changing
 * registers (REP string progress), the finally clause must not overwrite them.
 * `n` counts instructions completed since the last flush into c.retired; the finally clause
 * flushes it on every exit, a fault included (the faulting instruction never counted).
 */
function finish(src: string, head: string, h: readonly Insn['exec'][], insns: readonly Insn[], extra: unknown): CompiledBlock {
  const used = [...new Set([...src.matchAll(/\bR(\d+)\b/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);
  const assigned = new Set([...src.matchAll(/\bR(\d+)\s*=(?!=)/g)].map((m) => Number(m[1])));
  const written = used.filter((k) => assigned.has(k));
  const store = written.map((k) => `r[${k}] = R${k};`).join(' ');
  const load = used.map((k) => `R${k} = r[${k}];`).join(' ');
  src = src.split(FLUSH).join(store).split(RELOAD).join(load);
  const decl = used.length > 0 ? `let ${used.map((k) => `R${k} = r[${k}]`).join(', ')};` : '';
  const text =
    `"use strict"; const { ${Object.keys(RT).join(', ')} } = RT;\n` +
    `return function block(c, end) { const r = c.r; let n = 0; let sync_ = false; let fa = 0, fb = 0, fr = 0, fah = 0, fbh = 0, frh = 0, fci = 0; ${decl} ${head}\n` +
    `try {\n${src}} finally { c.retired += n; if (!sync_) { ${store} } }\n};`;
  let factory = FACTORIES.get(text);
  if (factory === undefined) {
    factory = new Function('H', 'I', 'RT', 'B', text) as Factory;
    if (FACTORIES.size >= MAX_FACTORIES) FACTORIES.clear();
    FACTORIES.set(text, factory);
  }
  return factory(h, insns, RT, extra);
}

type Factory = (h: readonly Insn['exec'][], insns: readonly Insn[], rt: typeof RT, b: unknown) => CompiledBlock;

/**
 * Factories by generated source. Code dropped and decoded again (every block goes when the
 * scheduler runs a stretch exactly, or the mode changes) compiles to the same source; the
 * functions a factory makes share V8's feedback and optimised code, so recompiled code is fast
 * at once instead of starting over in V8's interpreter.
 */
const FACTORIES = new Map<string, Factory>();
const MAX_FACTORIES = 20_000;

/** Compiles a decoded block; undefined when the block is not worth compiling. */
export function compileBlock(insns: readonly Insn[], mode: 64 | 32 | 16): CompiledBlock | undefined {
  const wrap = (v: number): number => (mode === 64 ? v : mode === 32 ? v >>> 0 : v & 0xffff);
  let { src, ended } = blockSource(insns, mode, 0, '');
  const last = insns[insns.length - 1] as Insn;
  if (!ended) {
    src += `c.rip = ${wrap(last.addr + last.len)};\n`;
  } else if (selfLoop(insns, mode)) {
    // A block that branches back to its own start loops inside the function (bounded, so the
    // run loop still gets control regularly) instead of returning to the dispatcher each time.
    const start = (insns[0] as Insn).addr;
    src = `for (let it_ = 0; ; it_++) {\n${src}if (c.rip !== ${start} || it_ >= ${SELF_LOOP_MAX}) break;\n}\n`;
  }
  return finish(
    src,
    '',
    insns.map((i) => i.exec),
    insns,
    undefined,
  );
}

/** What a region needs of each of its blocks (cpu.ts `Block`). */
export interface RegionMember {
  readonly rip: number;
  readonly insns: readonly Insn[];
  readonly fn: CompiledBlock | undefined;
  hits: number;
  loopHot: boolean;
  readonly vEpoch: number;
}

/**
 * Region compilation: a hot block and the already-decoded blocks statically reachable from it in
 * the same page and frame (64-bit mode) become one function, `for (;;) switch (pc)`, registers in
 * locals throughout. A block's final relative JMP/Jcc goes straight to the member it targets; after
 * any other block end (RET, indirect branches, handler calls) RIP is looked up among the members.
 * Leaving for a non-member returns to the dispatcher with RIP set and the member left from (its
 * successor cache is used next).
 *
 * Between two members the region checks exactly what the run loop checks between two blocks
 * (instruction limit, stop request, interrupt poll, single-step, breakpoints) and, at system
 * level, that the fetch TLB has not changed since the dispatcher validated the entry block's
 * frame (`fetchEpoch`; the members share that frame and page), so where execution stops and
 * what it sees is the same as block by block. Self-modifying code: a write into the frame
 * invalidates every member (they share it) and sets `blockBroken`, which ends the region.
 *
 * A member that jumps to its own start loops unchecked up to SELF_LOOP_MAX times as a compiled
 * block does — but only once the block would have been compiled on its own (`fn`, or its hits
 * counted here reaching the threshold: `loopHot`), so slices end where they did without regions.
 */
export function compileRegion(members: readonly RegionMember[], system: boolean): CompiledBlock {
  const index = new Map<number, number>(members.map((m, j) => [m.rip, j]));
  const check = `c.retired + n >= end || c.stopRequested || c.interruptCheck || (c.flags & c.traceMask) !== 0 || c.breakpoints${system ? ' || c.fetchEpoch !== ep_' : ''}`;
  const exit = (from: number, rip: number | undefined): string => `{ ${rip === undefined ? '' : `c.rip = ${rip}; `}return B[${from}]; }`;
  const hot = (j: number): string => `if (B[${j}].fn === undefined && !B[${j}].loopHot && ++B[${j}].hits >= c.jitThreshold) B[${j}].loopHot = true;`;
  const loops = members.map((m) => selfLoop(m.insns, 64));
  /** Control passes from member `from` to `rip`. */
  const goTo = (from: number, rip: number, dynamic: boolean): string => {
    const j = index.get(rip);
    const out = exit(from, dynamic ? undefined : rip);
    if (j === undefined) return out;
    const count = loops[j] === true ? hot(j) : '';
    if (j === from && loops[j] === true && !dynamic) {
      return `if ((B[${j}].fn !== undefined || B[${j}].loopHot) && ++it_ <= ${SELF_LOOP_MAX}) continue; it_ = 0; if (${check}) ${out} ${count} continue;`;
    }
    return `if (${check}) ${out} ${count} it_ = 0; pc = ${j}; continue;`;
  };
  let src = '';
  let base = 0;
  const h: Insn['exec'][] = [];
  const all: Insn[] = [];
  members.forEach((m, from) => {
    const b = blockSource(m.insns, 64, base, `B[${from}]`, (cond, taken, next) =>
      cond === undefined ? goTo(from, taken, false) : `if (${cond}) { ${goTo(from, taken, false)} } else { ${goTo(from, next, false)} }`,
    );
    base += m.insns.length;
    for (const i of m.insns) {
      h.push(i.exec);
      all.push(i);
    }
    let tail: string;
    if (b.branched) tail = '';
    else if (!b.ended) {
      const last = m.insns[m.insns.length - 1] as Insn;
      tail = goTo(from, last.addr + last.len, false);
    } else {
      // RET, indirect branch, a handler: RIP is known only now.
      const cases = members.map((x, j) => `case ${x.rip}: { ${goTo(from, x.rip, true)} }`).join(' ');
      tail = `switch (c.rip) { ${cases} } return B[${from}];`;
    }
    src += `case ${from}: {\n${b.src}${tail}\n}\n`;
  });
  src = `for (;;) { switch (pc) {\n${src}default: return undefined;\n} }\n`;
  return finish(src, `let pc = 0; let it_ = 0; const ep_ = B[0].vEpoch;`, h, all, members);
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
  if (e === undefined && src !== undefined) {
    // Conditions on CF, ZF and SF alone, for the producers that leave them computable.
    const cf = carrySource(src);
    const zf = src.size === 8 ? '(fr === 0 && frh === 0)' : src.size === 4 ? 'fr === 0' : '(fr & 0xff) === 0';
    const sf = src.size === 8 ? 'frh < 0' : src.size === 4 ? 'fr < 0' : '(fr & 0x80) !== 0';
    if (base === 1 && cf !== undefined) e = `${cf} !== 0`;
    else if (base === 2) e = zf;
    else if (base === 3 && cf !== undefined) e = `(${cf} !== 0 || ${zf})`;
    else if (base === 4) e = sf;
  }
  if (e === undefined) return `cond(c, ${cc})`;
  return neg ? `!(${e})` : e;
}

/** CF (0 or 1) as left by the block's previous flag producer, or undefined if not known. */
export function carrySource(src: FlagSrc | undefined): string | undefined {
  if (src === undefined) return undefined;
  const ult = (ah: string, a: string, bh: string, b: string): string => `((${ah} >>> 0) < (${bh} >>> 0) || (${ah} === ${bh} && (${a} >>> 0) < (${b} >>> 0)))`;
  const ule = (ah: string, a: string, bh: string, b: string): string => `((${ah} >>> 0) < (${bh} >>> 0) || (${ah} === ${bh} && (${a} >>> 0) <= (${b} >>> 0)))`;
  if (src.kind === 'logic') return '0';
  if (src.size === 1) {
    // Byte operands zero-extended in fa/fb, result untruncated in fr.
    if (src.kind === 'sub') return '(fa < fb ? 1 : 0)';
    if (src.kind === 'add') return '(fr > 0xff ? 1 : 0)';
    return undefined;
  }
  if (src.size === 4) {
    switch (src.kind) {
      case 'sub':
        return '((fa >>> 0) < (fb >>> 0) ? 1 : 0)';
      case 'add':
        return '((fr >>> 0) < (fa >>> 0) ? 1 : 0)';
      case 'adc':
        return '((fci !== 0 ? (fr >>> 0) <= (fa >>> 0) : (fr >>> 0) < (fa >>> 0)) ? 1 : 0)';
      case 'sbb':
        return '((fci !== 0 ? (fa >>> 0) <= (fb >>> 0) : (fa >>> 0) < (fb >>> 0)) ? 1 : 0)';
      default:
        return undefined;
    }
  }
  switch (src.kind) {
    case 'sub':
      return `(${ult('fah', 'fa', 'fbh', 'fb')} ? 1 : 0)`;
    case 'add':
      return `(${ult('frh', 'fr', 'fah', 'fa')} ? 1 : 0)`;
    case 'adc':
      return `((fci !== 0 ? ${ule('frh', 'fr', 'fah', 'fa')} : ${ult('frh', 'fr', 'fah', 'fa')}) ? 1 : 0)`;
    case 'sbb':
      return `((fci !== 0 ? ${ule('fah', 'fa', 'fbh', 'fb')} : ${ult('fah', 'fa', 'fbh', 'fb')}) ? 1 : 0)`;
    default:
      return undefined;
  }
}
