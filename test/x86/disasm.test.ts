/**
 * The disassembler against GNU objdump: an assembly file (hand-written forms for the integer
 * core, then one `.byte` encoding per table row and variant, generated from ROWS so new rows are
 * covered as they land) is assembled with gcc, disassembled with `objdump -d`, and every
 * instruction our decoder has a row for must print exactly as objdump prints it (less the
 * `<symbol>` annotations). Rows only valid outside 64-bit mode go through `.code32` and
 * `objdump -M i386`. Each generated encoding has a label, where objdump restarts decoding.
 * The object file is cached in node_modules/.cache/xenlab-disasm/, keyed by the source's hash.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../x86/cpu.js';
import { decode } from '../../x86/decoder.js';
import { disassembleBytes } from '../../x86/disasm.js';
import { FlatMemory, PROT_R, PROT_X } from '../../x86/flat-memory.js';
import { CORE_ROWS } from '../../x86/isa/rows-core.js';
import { ROWS } from '../../x86/isa/table.js';
import type { OperandKind, Row } from '../../x86/isa/types.js';
import { ROOT } from '../support/cli.js';

const CACHE = join(ROOT, 'node_modules', '.cache', 'xenlab-disasm');

const hasTools = spawnSync('gcc', ['--version']).status === 0 && spawnSync('objdump', ['--version']).status === 0;

const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];

/** Memory operands covering every addressing form the decoder parses. */
const ADDRESSES = [
  '(%rax)', '0x8(%rax)', '-0x8(%rbp)', '0x12345678(%rbx)', '-0x12345678(%rcx)', '(%rsp)', '0x10(%rsp)', '(%r12)',
  '(%r13)', '(%rbp)', '(%rax,%rbx,1)', '(%rax,%rbx,2)', '0x10(%rsp,%r12,4)', '-0x80(%r13,%r15,8)', '0x1234(,%rax,8)',
  '-0x4(,%r9,2)', '0x1234', '0x10(%rip)', '-0x10(%rip)', '(%eax)', '0x10(%ebx,%ecx,2)', '-0x4(%r8d)', '0x10(%eip)',
  '%fs:0x28', '%gs:(%rax)', '%fs:0x10(%rax,%rbx,4)', '%gs:0x0', '0x7fffffff(%rdi)', '-0x80000000(%rsi)',
];

/** Hand-written forms of the integer core, assembled by gas (so the encodings are gas's choice). */
function coreAsm(): string[] {
  const L: string[] = [];
  for (const op of ALU) {
    L.push(`${op} %bl,(%rax)`, `${op} %bl,%cl`, `${op} %r9b,%sil`, `${op} %eax,(%rbx)`, `${op} %r10,0x8(%rsp)`, `${op} %dx,(%rcx)`);
    L.push(`{load} ${op} %bl,%cl`, `${op} (%rax),%ah`, `${op} 0x10(%rip),%r11b`, `{load} ${op} %eax,%ecx`, `${op} (%rax,%rbx,4),%r8`, `${op} -0x8(%rbp),%si`);
    L.push(`${op} $0x12,%al`, `${op} $0x80,%al`, `${op} $0x1234,%eax`, `${op} $0x1234,%ax`, `${op} $-0x1234,%rax`, `${op} $0x7fffffff,%rax`);
    L.push(`${op}b $0x12,(%rax)`, `${op} $0xff,%bl`, `${op} $0x12,%dh`, `${op} $0x12,%r12b`);
    L.push(`${op}l $0x12345,(%rax)`, `${op} $0x12345,%ecx`, `${op}w $0x1234,0x4(%rax)`, `${op}q $-0x12345,(%rax)`, `${op} $0x1234,%r9`);
    L.push(`${op}l $-1,(%rax)`, `${op} $-2,%rcx`, `${op}w $0x7f,%dx`, `${op} $-0x80,%r9`, `${op}q $0x1,%fs:0x10`);
    if (op !== 'cmp') L.push(`lock ${op}l $0x1,(%rax)`, `lock ${op} %eax,(%rbx)`);
  }
  for (const a of ADDRESSES) L.push(`mov ${a},%eax`, `mov %r9,${a}`, `movb $0x1,${a}`, `lea ${a.replace(/^%[fg]s:/, '')},%rdx`);
  for (const op of ['not', 'neg', 'inc', 'dec']) {
    L.push(`${op} %al`, `${op} %ah`, `${op} %spl`, `${op} %r14b`, `${op}b (%rax)`, `${op} %ax`, `${op} %eax`, `${op} %rax`, `${op} %r15`);
    L.push(`${op}w (%rax)`, `${op}l 0x8(%rax)`, `${op}q (%rax,%rbx,8)`, `lock ${op}l (%rax)`);
  }
  L.push('test %al,%bl', 'test %ah,(%rax)', 'test %eax,%ecx', 'test %r8,(%rax)', 'test %cx,%dx', 'test $0x12,%al', 'test $0x1234,%eax');
  L.push('test $0x1234,%ax', 'test $-0x1234,%rax', 'testb $0x1,(%rax)', 'test $0x1,%bh', 'testl $0x1,(%rax)', 'testw $0x1,(%rax)');
  L.push('testq $-1,(%rax)', 'test $0x12345,%r9d', '.byte 0xf6,0xc8,0x12', '.byte 0xf7,0x08,0x01,0,0,0', '.byte 0x48,0xf7,0xc9,0xff,0xff,0xff,0xff');
  L.push('mov %al,%bl', 'mov %ah,(%rax)', 'mov %r8b,%sil', 'mov %eax,%ecx', 'mov %rax,(%rsp)', 'mov %ax,%dx');
  L.push('{load} mov %al,%bl', 'mov (%rax),%bh', '{load} mov %eax,%ecx', 'mov (%rax),%r15', 'mov 0x8(%rbp),%cx');
  L.push('mov $0x12,%al', 'mov $0x12,%ah', 'mov $0x12,%r10b', 'mov $0x12,%dil', 'mov $0x1,%ecx', 'mov $0xffffffff,%r11d');
  L.push('movabs $0x123456789abcdef0,%r11', 'movabs $0x1,%rax', 'mov $0x1234,%si', 'movb $0x1,(%rax)', 'movl $0x1,(%rax)');
  L.push('movw $0x1234,(%rax)', 'movq $-1,(%rax)', 'mov $-1,%rax', 'movq $0x7fffffff,0x8(%rsp)');
  L.push('movzbl %al,%eax', 'movzbw %ah,%ax', 'movzbq (%rax),%rax', 'movzwl (%rax),%eax', 'movzwq %r9w,%r10', 'movzbl %sil,%eax');
  L.push('movsbl %al,%eax', 'movsbw (%rax),%ax', 'movsbl %bh,%edx', 'movswl %ax,%eax', 'movswq (%rcx),%rax', 'movslq %eax,%rax');
  L.push('movslq (%rax),%r8', '.byte 0x63,0xc1', '.byte 0x66,0x63,0xc1', 'cbw', 'cwde', 'cdqe', 'cwd', 'cdq', 'cqo');
  L.push('xchg %al,%bl', 'xchg %ah,(%rax)', 'xchg %eax,(%rbx)', 'xchg %r8,%r9', 'lock xchg %cx,(%rax)', 'xchg %ecx,%eax');
  L.push('xchg %rax,%r8', 'xchg %ax,%dx', 'xchg %r9d,%eax', 'nop', 'pause', '.byte 0x66,0x90');
  L.push('push %rax', 'push %r12', 'push %ax', 'pop %rbx', 'pop %r15', 'pop %cx', 'push $0x12', 'push $-0x1', 'push $0x12345678');
  L.push('pushw $0x1234', 'pushw $-1', 'push (%rax)', 'pushw (%rax)', 'push 0x8(%rsp,%rbx,2)', 'pop (%rax)', 'popw 0x8(%rax)');
  L.push('.byte 0xff,0xf0', '.byte 0x8f,0xc0', 'leave', 'nopl (%rax)', '.byte 0x0f,0x1f,0x40,0x00', '.byte 0x0f,0x1f,0x44,0x00,0x00');
  L.push('.byte 0x66,0x0f,0x1f,0x44,0x00,0x00', '.byte 0x0f,0x1f,0x80,0,0,0,0', '.byte 0x0f,0x1f,0x84,0,0,0,0,0', '.byte 0x66,0x2e,0x0f,0x1f,0x84,0,0,0,0,0');
  L.push('nop %eax', 'nop %ax', 'nop %rax', 'nopq (%rax)');
  L.push('call *%rax', 'call *(%rax)', 'call *0x10(%rip)', 'call *%r11', 'jmp *%rax', 'jmp *0x8(%rax,%rbx,8)', 'notrack jmp *%rax');
  L.push('ret', 'ret $0x8', 'repz ret', 'bnd ret', 'bnd jmp *%rax');
  L.push('1:', 'call 1b', 'jmp 1b', 'jmp 2f', '{disp32} jmp 2f', 'loop 1b', 'loope 1b', 'loopne 1b', 'jrcxz 1b', 'jecxz 1b', 'bnd call 1b', '2:');
  for (const cc of CC) {
    L.push(`j${cc} 3f`, `{disp32} j${cc} 3f`, `set${cc} %al`, `set${cc} %ah`, `set${cc} %r9b`, `set${cc} (%rax)`);
    L.push(`cmov${cc} %eax,%ebx`, `cmov${cc} (%rax),%r8`, `cmov${cc} 0x8(%rsp),%cx`);
  }
  L.push('3:', '.byte 0x2e,0x75,0x00', '.byte 0x3e,0x74,0x00', '.byte 0xf2,0x75,0x00');
  L.push('int3', 'hlt', 'ud2', 'syscall', 'cpuid');
  // Prefixes the instruction does not use, which objdump names.
  L.push('.byte 0x48,0x88,0xc0', '.byte 0x4c,0x88,0xc0', '.byte 0x40,0x88,0xc0', '.byte 0x42,0x8b,0x00', '.byte 0x41,0x8b,0x05,0,0,0,0');
  L.push('.byte 0x66,0x48,0x01,0xc0', '.byte 0xf3,0x01,0xc0', '.byte 0xf2,0x01,0xc0', '.byte 0x2e,0x01,0xc0', '.byte 0x64,0x01,0xc0');
  L.push('.byte 0x2e,0x48,0x8b,0x00', '.byte 0x36,0x8b,0x00', '.byte 0x26,0x8b,0x00', '.byte 0x48,0x6a,0xff', '.byte 0x40,0x90', '.byte 0x48,0x90');
  L.push('.byte 0xf3,0x48,0x90', '.byte 0x48,0xb0,0x01', '.byte 0x48,0xe8,0,0,0,0', '.byte 0x67,0xe3,0x00');
  // SIB oddities: no index with a base other than rsp (%riz), no base, 32-bit absolute.
  L.push('.byte 0x8b,0x04,0x20', '.byte 0x8b,0x44,0x20,0x00', '.byte 0x8b,0x04,0x64', '.byte 0x8b,0x44,0x64,0x01', '.byte 0x8b,0x04,0x25,0x80,0xff,0xff,0xff');
  L.push('.byte 0x8b,0x04,0x65,0x80,0xff,0xff,0xff', '.byte 0x67,0x8b,0x04,0x25,0x80,0xff,0xff,0xff', '.byte 0x67,0x8b,0x05,0x80,0xff,0xff,0xff');
  L.push('.byte 0x41,0x8b,0x04,0x24', '.byte 0x43,0x8b,0x44,0x64,0x10', '.byte 0x8b,0x45,0x00', '.byte 0x41,0x8b,0x45,0x00');
  return L;
}

// ---- encodings generated from the rows -----------------------------------------------------

const MAP_BYTES = { one: [], '0f': [0x0f], '0f38': [0x0f, 0x38], '0f3a': [0x0f, 0x3a] } as const;
const MODRM_KIND = /^(E|G|M|R|S|V|W|U)/;
const Z_KINDS: readonly OperandKind[] = ['Zb', 'Zv', 'Zy'];

function le(v: bigint, n: number): number[] {
  return Array.from({ length: n }, (_, k) => Number((v >> BigInt(8 * k)) & 0xffn));
}

/** Immediate bytes for a row's operands, given the operand and address sizes. */
function immBytes(row: Row, opsize: number): number[] {
  const out: number[] = [];
  for (const k of row.operands) {
    if (k === 'Ib') out.push(0x85);
    else if (k === 'sIb') out.push(0xf0);
    else if (k === 'Jb') out.push(0x10);
    else if (k === 'Iw') out.push(0x34, 0x12);
    else if (k === 'Iz' || k === 'Jz') out.push(...le(0x87654321n, opsize === 2 ? 2 : 4));
    else if (k === 'Iv') out.push(...le(0x0123456789abcdefn, opsize));
    else if (k === 'Ob' || k === 'Ov') out.push(...le(0x1122334455667788n, 8));
  }
  return out;
}

/**
 * Byte encodings of one row in the given mode: register and memory forms of its ModRM, with
 * REX.W, REX.R/B and 66 variants where the row's operands depend on them.
 */
function encodings(row: Row, mode: 64 | 32): number[][] {
  if (row.vex !== undefined) return vexEncodings(row, mode);
  const modrm = row.reg !== undefined || row.operands.some((o) => MODRM_KIND.test(o));
  const zreg = row.operands.some((o) => Z_KINDS.includes(o));
  const sized = row.operands.some((o) => /[vyz]$/.test(o) || o === 'rAX' || o === 'eAX');
  const mand = row.prefix === '66' ? [0x66] : row.prefix === 'f3' ? [0xf3] : row.prefix === 'f2' ? [0xf2] : [];
  const branch = row.operands.some((o) => o[0] === 'J') || row.f64 === true;
  const prefixSets: number[][] = [[]];
  if (sized && !branch && (row.prefix === undefined || row.prefix === 'any')) prefixSets.push([0x66]);
  // 16-bit addressing, reachable outside 64-bit mode through 67.
  if (mode === 32 && modrm && row.mod !== 'reg') prefixSets.push([0x67]);
  const rexes: number[] = [0];
  if (mode === 64) {
    if (sized && row.d64 !== true && !branch) rexes.push(0x48);
    if (modrm || zreg) rexes.push(0x45);
    if (row.operands.some((o) => o.endsWith('b') && o !== 'Ib' && o !== 'Jb' && o !== 'sIb')) rexes.push(0x40);
  }
  const forms: number[][] = [];
  const regField = row.reg ?? 2;
  if (modrm) {
    if (row.mod !== 'mem') forms.push([0xc0 | (regField << 3) | (row.rm ?? 0)]);
    if (row.mod !== 'mem' && row.rm === undefined) forms.push([0xc0 | (regField << 3) | 6]);
    if (row.mod !== 'reg' && row.rm === undefined) {
      forms.push([0x40 | (regField << 3) | 0, 0x10]);
      forms.push([0x84 | (regField << 3), 0x5e, 0x78, 0x56, 0x34, 0x12]); // SIB + disp32 (with 67: disp16 + trailing bytes)
      if (mode === 64) forms.push([0x05 | (regField << 3), 0x00, 0x01, 0x00, 0x00]);
    }
  } else forms.push([]);
  const out: number[][] = [];
  for (const pre of prefixSets) {
    for (const rex of rexes) {
      const opsize = rex & 8 ? 8 : pre.length > 0 ? 2 : mode === 64 && (row.d64 === true || row.f64 === true) ? 8 : 4;
      for (const form of forms) {
        for (const lowBits of zreg ? [1, 6] : [0]) {
          const op = row.opcode + lowBits;
          out.push([...pre, ...mand, ...(rex !== 0 ? [rex] : []), ...MAP_BYTES[row.map], op, ...form, ...immBytes(row, opsize)]);
        }
      }
    }
  }
  return out;
}

const VEX_MAP = { one: 0, '0f': 1, '0f38': 2, '0f3a': 3 } as const;
const VEX_PP = { none: 0, any: 0, '66': 1, f3: 2, f2: 3 } as const;

/**
 * A VEX row's encodings (SDM vol. 2A §2.3.5): three-byte C4 with VEX.W 0 and 1 and R/X/B all
 * clear or all set (64-bit mode), VEX.vvvv naming a low and a high register where the row has a
 * `By` operand (else 1111b, as required), and the two-byte C5 form for map 0F.
 */
function vexEncodings(row: Row, mode: 64 | 32): number[][] {
  const vex = row.vex ?? {};
  const pp = VEX_PP[row.prefix ?? 'none'];
  const l = vex.l ?? 0;
  const ws = vex.w !== undefined ? [vex.w] : mode === 64 ? [0, 1] : [0];
  const rxbs = mode === 64 ? [7, 0] : [7];
  const vvvvs = row.operands.includes('By') ? (mode === 64 ? [3, 12] : [3]) : [0];
  const regField = row.reg ?? 2;
  const forms: number[][] = [];
  if (row.mod !== 'mem') forms.push([0xc0 | (regField << 3) | (row.rm ?? 1)]);
  if (row.mod !== 'reg' && row.rm === undefined) {
    forms.push([0x40 | (regField << 3) | 0, 0x10]);
    forms.push([0x84 | (regField << 3), 0x5e, 0x78, 0x56, 0x34, 0x12]);
    if (mode === 64) forms.push([0x05 | (regField << 3), 0x00, 0x01, 0x00, 0x00]);
  }
  const out: number[][] = [];
  for (const w of ws) {
    for (const rxb of rxbs) {
      for (const v of vvvvs) {
        const payload = (w << 7) | ((~v & 15) << 3) | (l << 2) | pp;
        const heads = [[0xc4, (rxb << 5) | VEX_MAP[row.map], payload]];
        if (row.map === '0f' && w === 0 && (rxb & 3) === 3) heads.push([0xc5, ((rxb >> 2) << 7) | (payload & 0x7f)]);
        for (const head of heads) for (const form of forms) out.push([...head, row.opcode, ...form, ...immBytes(row, w === 1 ? 8 : 4)]);
      }
    }
  }
  return out;
}

/** One `.byte` line per encoding, each after a label: objdump restarts decoding at every symbol. */
function byteLines(encs: readonly number[][]): string[] {
  return encs.flatMap((e, k) => [`e${k}:`, `.byte ${e.map((b) => `0x${b.toString(16)}`).join(',')}`]);
}

// ---- running the tools ---------------------------------------------------------------------

function run(cmd: string, args: readonly string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** Builds `out` from `source` once per distinct source (sha256), written atomically. */
function cached(source: string | Uint8Array, ext: string, build: (src: string, out: string) => void): string {
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 24);
  mkdirSync(CACHE, { recursive: true });
  const out = join(CACHE, `${hash}.${ext}`);
  if (!existsSync(out)) {
    const src = join(CACHE, `${hash}.${process.pid}.src`);
    writeFileSync(src, source);
    const tmp = `${out}.${process.pid}.tmp`;
    try {
      build(src, tmp);
      renameSync(tmp, out);
    } finally {
      rmSync(src, { force: true });
      rmSync(tmp, { force: true });
    }
  }
  return out;
}

interface ObjLine {
  readonly addr: number;
  readonly bytes: number[];
  readonly text: string;
}

/** Parses `objdump -d` output: one entry per instruction, continuation lines merged. */
function parseObjdump(out: string): ObjLine[] {
  const lines: { addr: number; bytes: number[]; text: string }[] = [];
  for (const l of out.split('\n')) {
    const m = /^\s*([0-9a-f]+):\t([0-9a-f ]+?)\s*(?:\t(.*))?$/.exec(l);
    if (m === null) continue;
    const bytes = (m[2] ?? '').split(' ').map((h) => parseInt(h, 16));
    if (m[3] === undefined) {
      lines[lines.length - 1]?.bytes.push(...bytes);
      continue;
    }
    const text = m[3].replace(/ <[^>]*>/g, '').trimEnd();
    lines.push({ addr: parseInt(m[1] ?? '0', 16), bytes, text });
  }
  return lines;
}

/**
 * Encodings where objdump and the table disagree on what the instruction is, not on how to
 * print it: skipped, each with the reason.
 */
const NOT_COMPARED: readonly { readonly objdump: RegExp; readonly why: string }[] = [
  { objdump: /^(rex\S* )?bnd(ldx|stx|mov|cl|cu|cn|mk) /, why: 'MPX (0F 1A/1B) is gone from current CPUs; the table keeps them as hint NOPs' },
  { objdump: /^(rex\S* )?rdpid /, why: 'rdpid_Ry: objdump names the 64-bit register in 64-bit mode (SDM: RDPID r64); reported to the table owner' },
];

interface Comparison {
  compared: number;
  skipped: number;
  encodings: Set<string>;
  rows: Set<string>;
  /** Rows met only in encodings NOT_COMPARED skips. */
  notCompared: Set<string>;
  mismatches: string[];
}

function compare(lines: readonly ObjLine[], mode: 64 | 32): Comparison {
  const c: Comparison = { compared: 0, skipped: 0, encodings: new Set(), rows: new Set(), notCompared: new Set(), mismatches: [] };
  for (const l of lines) {
    if (NOT_COMPARED.some((n) => n.objdump.test(l.text))) {
      const row = rowOf(l.bytes, l.addr, mode);
      if (row !== undefined) c.notCompared.add(row);
      c.skipped++;
      continue;
    }
    const hexBytes = l.bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ours = disassembleBytes(Uint8Array.from(l.bytes), l.addr, mode);
    const first = ours[0];
    if (first === undefined || first.text === '(bad)') {
      c.skipped++;
      continue;
    }
    if (l.text === '(bad)' || ours.length !== 1) {
      c.mismatches.push(`${hexBytes}: objdump ${JSON.stringify(l.text)} (${l.bytes.length} bytes), ours ${ours.map((o) => JSON.stringify(o.text)).join(' + ')}`);
      continue;
    }
    c.compared++;
    c.encodings.add(hexBytes);
    if (first.text !== l.text) c.mismatches.push(`${hexBytes}: objdump ${JSON.stringify(l.text)}, ours ${JSON.stringify(first.text)}`);
    const row = rowOf(l.bytes, l.addr, mode);
    if (row !== undefined) c.rows.add(row);
  }
  return c;
}

const ALL_FEATURES = [...new Set(ROWS.map((r) => r.cpuid ?? 'base'))];

function rowOf(bytes: readonly number[], addr: number, mode: 64 | 32): string | undefined {
  const mem = new FlatMemory();
  mem.map(addr, bytes.length + 16, PROT_R | PROT_X);
  mem.writeBytes(addr, Uint8Array.from(bytes));
  const cpu = new Cpu(mem, { exception: () => {} }, ALL_FEATURES);
  cpu.mode = mode;
  try {
    return decode(cpu, addr).row.name;
  } catch {
    return undefined;
  }
}

describe.skipIf(!hasTools)('disassembler vs objdump -d', () => {
  it('decodes bytes without a row as (bad), one byte at a time', () => {
    expect(disassembleBytes(Uint8Array.of(0x0f, 0xff, 0x90), 0x1000).map((l) => [l.addr, l.text])).toEqual([
      [0x1000, '(bad)'],
      [0x1001, '(bad)'],
      [0x1002, 'nop'],
    ]);
  });

  it('prints kernel addresses and rip-relative targets as unsigned 64-bit', () => {
    const at = -0x7f000000; // 0xffffffff81000000
    expect(disassembleBytes(Uint8Array.of(0xe8, 0xfb, 0xff, 0xff, 0xff), at)[0]?.text).toBe('call   ffffffff81000000');
    expect(disassembleBytes(Uint8Array.of(0x48, 0x8b, 0x05, 0x10, 0, 0, 0), at)[0]?.text).toBe('mov    0x10(%rip),%rax        # ffffffff81000017');
  });

  it('matches objdump for the hand-written core forms and every row in 64-bit mode', () => {
    const rows64 = ROWS.filter((r) => r.modes !== 'i64');
    const source = ['.text', '.globl f', 'f:', ...coreAsm(), ...byteLines(rows64.flatMap((r) => encodings(r, 64))), ''].join('\n');
    const obj = cached(source, 'o', (src, out) => run('gcc', ['-c', '-x', 'assembler', src, '-o', out]));
    const c = compare(parseObjdump(run('objdump', ['-d', obj])), 64);
    expect(c.mismatches).toEqual([]);
    expect(c.encodings.size).toBeGreaterThan(1000);
    expect(rows64.map((r) => r.name).filter((n) => !c.rows.has(n) && !c.notCompared.has(n))).toEqual([]);
    expect(CORE_ROWS.filter((r) => r.modes !== 'i64').every((r) => c.rows.has(r.name))).toBe(true);
  });

  it('matches objdump -M i386 for the rows invalid in 64-bit mode', () => {
    const rows32 = ROWS.filter((r) => r.modes === 'i64');
    const source = ['.text', '.code32', '.globl f', 'f:', ...byteLines(rows32.flatMap((r) => encodings(r, 32))), ''].join('\n');
    const obj = cached(source, 'o', (src, out) => run('gcc', ['-c', '-x', 'assembler', src, '-o', out]));
    const c = compare(parseObjdump(run('objdump', ['-d', '-M', 'i386', obj])), 32);
    expect(c.mismatches).toEqual([]);
    expect(rows32.map((r) => r.name).filter((n) => !c.rows.has(n) && !c.notCompared.has(n))).toEqual([]);
  });
});
