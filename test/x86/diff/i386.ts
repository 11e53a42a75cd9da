/**
 * A 32-bit oracle for the rows invalid in 64-bit mode (`modes: 'i64'`: the 82 group, INC/DEC
 * 40-4F, LAHF/SAHF, INTO), which the native runner (64-bit only) cannot execute: QEMU's user-mode
 * emulator `qemu-i386` runs a tiny static i386 ELF written here, one block per case:
 *
 *   push dword [flags_k]; popfd; mov eax..edi (not esp), imm32; <instruction>;
 *   mov [out_k + 4n], reg (7 registers); pushfd; pop dword [out_k + 28]
 *
 * then write(1, out, n) and exit(0). Register forms only (no memory operands). A case that
 * faults (INTO with OF=1, AAM 0, BOUND out of range) runs alone, and its outcome is the signal
 * that ended the process. QEMU is an emulator, not silicon: this checks x86/ against a second
 * implementation.
 *
 * Rows that need memory (PUSHA, POPA, BOUND) bring their own code around the instruction, run
 * the same way on both sides: stores of the case's values into a scratch page at SCRATCH (mapped
 * by the ELF's bss and by `emulate32`), ESP switched to a stack there and back (ESP itself is
 * never compared), and for PUSHA pops of the pushed values into the compared registers.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Cpu } from '../../../x86/cpu.js';
import { BP, Fault } from '../../../x86/fault.js';
import { FlatMemory, PROT_R, PROT_W, PROT_X } from '../../../x86/flat-memory.js';
import { ARITH, DF, type Row } from '../../../x86/isa/types.js';
import { EMU_FEATURES, type Path } from './emulate.js';

/** Registers loaded and compared, as encoding numbers (ESP stays the process's stack). */
const REGS = [0, 1, 2, 3, 5, 6, 7] as const;
const REG_NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const BASE = 0x0804_8000;
const HDR = 52 + 32;
const OUT_BYTES = 32;
const SIGSEGV = 11;
const SIGFPE = 8;
/** Scratch page for the memory rows (bounds, stack); ESP is saved at its first dword. */
const SCRATCH = 0x0a00_0000;
const STACK_TOP = SCRATCH + 0x800;

export interface Case32 {
  readonly row: Row;
  readonly insn: Uint8Array;
  /** The case ends in a fault (runs alone under qemu). */
  readonly faults: boolean;
  readonly regs: readonly number[]; // 7 values, REGS order, uint32
  readonly eflags: number;
}

export interface Result32 {
  /** 'completed', or the signal (native) / vector (ours) that stopped it. */
  readonly outcome: string;
  readonly regs: readonly number[];
  readonly eflags: number;
}

/** Why a row has no 32-bit generator here (undefined: it has one). */
export function i386Unsupported(row: Row): string | undefined {
  if (row.modes !== 'i64') return 'not an i64 row';
  if (row.test?.skip !== undefined) return `test.skip: ${row.test.skip}`;
  if (MEMORY_ROWS.has(row.name)) return undefined;
  const ok = row.operands.every((o) => o === 'Zv' || o === 'Eb' || o === 'Ib' || o === 'Ew' || o === 'Gw');
  return ok ? undefined : `operands ${row.operands.join(',')} not generated`;
}

/** Rows with their own code around the instruction (see the module comment). */
const MEMORY_ROWS = new Set(['pusha', 'popa', 'bound_Gv_M']);

const saveEsp = (): number[] => [0x89, 0x25, ...le32(SCRATCH)]; // mov [SCRATCH], esp
const restoreEsp = (): number[] => [0x8b, 0x25, ...le32(SCRATCH)]; // mov esp, [SCRATCH]
const movEsp = (v: number): number[] => [0xbc, ...le32(v)];
const store = (a: number, v: number): number[] => [0xc7, 0x05, ...le32(a), ...le32(v)]; // mov dword [a], v

/** The code of a memory row's case and whether it faults (BOUND out of range). */
function memoryCase(row: Row, p66: boolean, reg: number, values: readonly number[], regs: readonly number[]): { code: number[]; faults: boolean } {
  const pre = p66 ? [0x66] : [];
  const size = p66 ? 2 : 4;
  if (row.name === 'pusha') {
    // Push, clobber the seven compared registers, pop the pushed values back into them (ESP's slot skipped).
    const clobber = [0, 1, 2, 3, 5, 6, 7].flatMap((r) => [0x31, 0xc0 | (r << 3) | r]);
    const pops = [7, 6, 5, -1, 3, 2, 1, 0].flatMap((r) => (r < 0 ? [0x83, 0xc4, size] : [...pre, 0x58 + r]));
    return { code: [...saveEsp(), ...movEsp(STACK_TOP), ...pre, 0x60, ...clobber, ...pops, ...restoreEsp()], faults: false };
  }
  if (row.name === 'popa') {
    const base = STACK_TOP - 32;
    const stores = [0, 1, 2, 3, 4, 5, 6, 7].flatMap((k) => store(base + 4 * k, values[k] ?? 0));
    return { code: [...stores, ...saveEsp(), ...movEsp(base), ...pre, 0x61, ...restoreEsp()], faults: false };
  }
  // BOUND r, [SCRATCH+8]: lower and upper bound at the operand size.
  const lo = values[0] ?? 0;
  const hi = values[1] ?? 0;
  const bounds = p66 ? [store(SCRATCH + 8, ((hi & 0xffff) << 16) | (lo & 0xffff))] : [store(SCRATCH + 8, lo), store(SCRATCH + 12, hi)];
  const r = reg === 4 ? 0 : reg;
  const sx = (v: number): number => (p66 ? (v << 16) >> 16 : v | 0);
  const idx = sx(regs[REGS.indexOf(r as (typeof REGS)[number])] ?? 0);
  const faults = idx < sx(lo) || idx > sx(hi);
  return { code: [...bounds.flat(), ...pre, 0x62, 0x05 | (r << 3), ...le32(SCRATCH + 8)], faults };
}

export function case32Arbitrary(row: Row): fc.Arbitrary<Case32> {
  return fc
    .record({
      p66: fc.boolean(),
      zreg: fc.nat({ max: 7 }),
      reg: fc.nat({ max: 7 }),
      rm: fc.nat({ max: 7 }),
      imm: fc.nat({ max: 255 }),
      regs: fc.array(fc.oneof(fc.nat({ max: 0xff }), fc.constantFrom(0, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff), fc.nat({ max: 0xffffffff })), {
        minLength: 7,
        maxLength: 7,
      }),
      flags: fc.nat({ max: 0x7f }),
      values: fc.array(fc.oneof(fc.nat({ max: 0xffffffff }), fc.integer({ min: -8, max: 8 }).map((v) => v >>> 0)), { minLength: 8, maxLength: 8 }),
    })
    .map((s) => {
      const b: number[] = [];
      let faults = row.mnemonic === 'into' || (row.mnemonic === 'aam' && s.imm % 4 === 0);
      if (MEMORY_ROWS.has(row.name)) {
        const m = memoryCase(row, s.p66, s.reg, s.values, s.regs);
        b.push(...m.code);
        faults = m.faults;
      } else {
        if (s.p66 && row.operands.includes('Zv')) b.push(0x66);
        // Not ESP: it stays the process's stack pointer (nor SP as an Ew/Gw operand).
        b.push(row.operands.includes('Zv') ? row.opcode + (s.zreg === 4 ? 3 : s.zreg) : row.opcode);
        const noSp = (r: number): number => (r === 4 && row.operands.includes('Ew') ? 5 : r);
        if (row.operands.includes('Eb') || row.operands.includes('Ew')) b.push(0xc0 | (noSp(row.reg ?? s.reg) << 3) | noSp(s.rm));
        // AAM 0 (#DE) in a quarter of the AAM cases.
        if (row.operands.includes('Ib')) b.push(row.mnemonic === 'aam' && faults ? 0 : s.imm);
      }
      const FLAG_BITS = [0x1, 0x4, 0x10, 0x40, 0x80, 0x400, 0x800];
      let eflags = 0x202;
      FLAG_BITS.forEach((bit, k) => {
        if ((s.flags >> k) & 1) eflags |= bit;
      });
      return { row, insn: Uint8Array.from(b), faults, regs: s.regs, eflags };
    });
}

// ---- the ELF ------------------------------------------------------------------------------

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

function elf(cases: readonly Case32[]): Uint8Array {
  // Code size first (fixed per case), then the data: flags words, then the output area.
  const blockLen = (k: Case32): number => 6 + 1 + 5 * REGS.length + k.insn.length + 6 * REGS.length + 1 + 6;
  const tail = 5 + 5 + 5 + 5 + 2 + 5 + 2 + 2;
  const codeLen = cases.reduce((a, k) => a + blockLen(k), 0) + tail;
  const flagsAt = BASE + HDR + codeLen;
  const outAt = flagsAt + 4 * cases.length;
  const code: number[] = [];
  cases.forEach((k, n) => {
    code.push(0xff, 0x35, ...le32(flagsAt + 4 * n), 0x9d); // push dword [flags]; popfd
    REGS.forEach((r, j) => code.push(0xb8 + r, ...le32(k.regs[j] ?? 0)));
    code.push(...k.insn);
    const out = outAt + OUT_BYTES * n;
    REGS.forEach((r, j) => code.push(0x89, (r << 3) | 5, ...le32(out + 4 * j)));
    code.push(0x9c, 0x8f, 0x05, ...le32(out + 28)); // pushfd; pop dword [out+28]
  });
  const total = OUT_BYTES * cases.length;
  code.push(0xb8, ...le32(4), 0xbb, ...le32(1), 0xb9, ...le32(outAt), 0xba, ...le32(total), 0xcd, 0x80); // write(1, out, total)
  code.push(0xb8, ...le32(1), 0x31, 0xdb, 0xcd, 0x80); // exit(0)
  if (code.length !== codeLen) throw new Error(`i386 ELF: code length ${code.length}, expected ${codeLen}`);
  const data = cases.flatMap((k) => le32(k.eflags));
  const fileLen = HDR + code.length + data.length;
  // The bss covers the output area and reaches past the scratch page.
  if (fileLen + total > SCRATCH - BASE) throw new Error('i386 ELF: image overlaps the scratch page');
  const memLen = SCRATCH + 0x1000 - BASE;
  const h = [
    0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ident: ELF32, LSB, version 1
    2, 0, 3, 0, ...le32(1), ...le32(BASE + HDR), ...le32(52), ...le32(0), ...le32(0), // EXEC, i386, entry, phoff
    52, 0, 32, 0, 1, 0, 0, 0, 0, 0, 0, 0, // ehsize, phentsize, phnum 1, no sections
    ...le32(1), ...le32(0), ...le32(BASE), ...le32(BASE), ...le32(fileLen), ...le32(memLen), ...le32(7), ...le32(0x1000), // PT_LOAD RWX
  ];
  return Uint8Array.from([...h, ...code, ...data]);
}

export function qemuAvailable(): boolean {
  return spawnSync('qemu-i386', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** Runs the cases under qemu-i386: one process for the non-faulting ones, one each for INTO. */
export function runQemu(cases: readonly Case32[]): Result32[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'xenlab-i386-'));
  try {
    const alone = (k: Case32): boolean => k.faults;
    const results = new Array<Result32>(cases.length);
    const run = (batch: readonly number[]): void => {
      const file = path.join(dir, `t${batch[0] ?? 0}`);
      writeFileSync(file, elf(batch.map((n) => cases[n] as Case32)));
      chmodSync(file, 0o755);
      const r = spawnSync('qemu-i386', [file], { maxBuffer: 1 << 24 });
      if (r.signal !== null || r.status !== 0) {
        if (batch.length !== 1) throw new Error(`qemu-i386 batch ended by ${r.signal ?? `exit ${r.status}`}: ${r.stderr.toString()}`);
        const sig = r.signal === 'SIGSEGV' ? SIGSEGV : r.signal === 'SIGFPE' ? SIGFPE : (r.status ?? 0) - 128;
        results[batch[0] as number] = { outcome: `signal ${sig}`, regs: [], eflags: 0 };
        return;
      }
      const out = r.stdout;
      batch.forEach((n, j) => {
        const regs = REGS.map((_, q) => out.readUInt32LE(OUT_BYTES * j + 4 * q));
        results[n] = { outcome: 'completed', regs, eflags: out.readUInt32LE(OUT_BYTES * j + 28) };
      });
    };
    const batch = cases.map((_, n) => n).filter((n) => !alone(cases[n] as Case32));
    if (batch.length > 0) run(batch);
    cases.forEach((k, n) => {
      if (alone(k)) run([n]);
    });
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same case on x86/ in 32-bit mode. */
export function emulate32(k: Case32, p: Path): Result32 {
  const at = 0x0804_9000;
  const mem = new FlatMemory();
  mem.map(at, 4096, PROT_R | PROT_X);
  mem.map(SCRATCH, 4096, PROT_R | PROT_W);
  mem.writeBytes(at, new Uint8Array(4096).fill(0xcc));
  mem.writeBytes(at, k.insn);
  let fault: Fault | undefined;
  const cpu = new Cpu(mem, { exception: (c, f) => { fault = f; c.stopRequested = true; } }, EMU_FEATURES);
  cpu.mode = 32;
  cpu.jit = p === 'jit';
  cpu.jitThreshold = 1;
  REGS.forEach((r, j) => cpu.setReg32(r, (k.regs[j] ?? 0) | 0));
  cpu.flags = k.eflags;
  cpu.rip = at;
  cpu.run(100);
  const f = fault as Fault | undefined;
  const done = f !== undefined && f.vector === BP && cpu.rip === at + k.insn.length + 1;
  return {
    outcome: done ? 'completed' : `vector ${f?.vector ?? 'none'}`,
    regs: REGS.map((r) => cpu.reg32(r) >>> 0),
    eflags: cpu.getFlags() >>> 0,
  };
}

/** Differences between qemu's result and ours (empty when they agree). */
export function compare32(k: Case32, exp: Result32, got: Result32): string[] {
  // INTO with OF=1 (#OF) and BOUND out of range (#BR): Linux delivers SIGSEGV; AAM 0 (#DE): SIGFPE.
  if (exp.outcome === `signal ${SIGSEGV}` && (got.outcome === 'vector 4' || got.outcome === 'vector 5')) return [];
  if (exp.outcome === `signal ${SIGFPE}` && got.outcome === 'vector 0') return [];
  if (exp.outcome !== got.outcome) return [`outcome: expected ${exp.outcome}, got ${got.outcome}`];
  if (exp.outcome !== 'completed') return [];
  const d: string[] = [];
  REGS.forEach((r, j) => {
    const e = exp.regs[j] ?? 0;
    const g = got.regs[j] ?? 0;
    if (e !== g) d.push(`${REG_NAMES[r] ?? r}: expected 0x${e.toString(16)}, got 0x${g.toString(16)}`);
  });
  const m = (ARITH | DF) & ~k.row.flags.undefined;
  if ((exp.eflags & m) !== (got.eflags & m)) d.push(`eflags (mask 0x${m.toString(16)}): expected 0x${(exp.eflags & m).toString(16)}, got 0x${(got.eflags & m).toString(16)}`);
  return d;
}

export function describe32(k: Case32): string {
  const regs = REGS.map((r, j) => `${REG_NAMES[r] ?? r}=0x${(k.regs[j] ?? 0).toString(16)}`).join(' ');
  return `row ${k.row.name}: bytes ${Array.from(k.insn, (b) => b.toString(16).padStart(2, '0')).join('')}; ${regs} eflags=0x${k.eflags.toString(16)}`;
}

export interface I386Report {
  readonly stats: { row: string; cases: number; failures: number }[];
  readonly failures: string[];
  readonly mismatches: number;
}

/**
 * `perRow` seeded cases for each i64 row in `rows` (fast-check seed: the run seed mixed with
 * the row's name), run under qemu-i386 and on both emulator paths.
 */
export function runI386(rows: readonly Row[], seed: number, perRow: number, rowSeed: (seed: number, row: Row) => number): I386Report {
  const todo = rows.filter((r) => i386Unsupported(r) === undefined);
  const cases = todo.flatMap((r) => fc.sample(case32Arbitrary(r), { seed: rowSeed(seed, r), numRuns: perRow }));
  const results = runQemu(cases);
  const stats = todo.map((r) => ({ row: r.name, cases: 0, failures: 0 }));
  const failures: string[] = [];
  let mismatches = 0;
  cases.forEach((k, n) => {
    const st = stats.find((s) => s.row === k.row.name);
    if (st !== undefined) st.cases++;
    for (const p of ['interp', 'jit'] as const) {
      const d = compare32(k, results[n] as Result32, emulate32(k, p));
      if (d.length === 0) continue;
      mismatches++;
      if (st !== undefined) st.failures++;
      if (failures.length < 10) failures.push(`${describe32(k)} (${p}, seed ${seed}): ${d.join('; ')}`);
    }
  });
  return { stats, failures, mismatches };
}
