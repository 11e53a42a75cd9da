/**
 * Checks on the instruction table itself (x86/isa/): names follow the one naming scheme, no two
 * rows claim an encoding ambiguously, flag metadata is well-formed, block ends are marked, and
 * the files generated from ROWS (x86/gen/generated/) are up to date, so CI fails when a row is
 * added without `npm run gen`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// The decoder enters the table's import cycle first (it reads ROWS at load).
import '../../x86/decoder.js';
import { GENERATED_FILES } from '../../x86/gen/generated-files.js';
import { FEATURES_WITH_ROWS } from '../../x86/gen/generated/cpuid-features.js';
import { featuresWithRows } from '../../x86/gen/cpuid-features.js';
import { MAPS, opcodeMapReport, opcodeSpan } from '../../x86/gen/opcode-map.js';
import { ROWS } from '../../x86/isa/table.js';
import { AC, AF, CF, DF, ID, IF, IOPL, NT, OF, PF, RF, SF, TF, VIF, VIP, VM, ZF, rowName, type Row } from '../../x86/isa/types.js';
import { ROOT } from '../support/cli.js';

/**
 * Names that may extend the scheme name (`mnemonic_operands`) with a disambiguating suffix,
 * because two rows share mnemonic and operands. Each pattern says which encodings it is for.
 */
const NAME_EXCEPTIONS: readonly { readonly suffix: RegExp; readonly why: string }[] = [
  { suffix: /^_[0-9a-f]{2}$/, why: 'an alias opcode of the same instruction (82 = 80 outside 64-bit mode)' },
  { suffix: /^_0f[0-9a-f]{2}$/, why: 'one of the 0F 18-1F hint NOPs, named by its opcode' },
  { suffix: /^_[0-9a-f]{2}_[0-7]$/, why: 'an undocumented group alias, named by opcode and ModRM.reg (F6/F7 /1 = TEST)' },
  { suffix: /^_(o64|i64)$/, why: 'the 64-bit-only or legacy-only variant of an encoding (LAHF/SAHF need LAHF_LM in 64-bit mode)' },
  { suffix: /^_(es|cs|ss|ds|fs|gs)$/, why: 'PUSH/POP of the segment register the opcode names (the operand kinds have no fixed segment registers)' },
];

/** Every RFLAGS bit the schema names. */
const KNOWN_FLAGS = CF | PF | AF | ZF | SF | TF | IF | DF | OF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;

/** Mnemonics that can change RIP other than by falling through, besides every `j*`. */
const RIP_CHANGING = new Set([
  'call', 'ret', 'lcall', 'lret', 'retf', 'ljmp', 'iret', 'iretd', 'iretq', 'loop', 'loope', 'loopne', 'jrcxz',
  'syscall', 'sysret', 'sysenter', 'sysexit', 'int', 'int1', 'int3', 'into', 'ud2', 'ud0', 'ud1', 'hlt',
]);

function nameProblem(r: Row): string | undefined {
  const scheme = rowName(r.mnemonic, r.operands);
  if (r.name === scheme) return undefined;
  if (r.name.startsWith(scheme) && NAME_EXCEPTIONS.some((e) => e.suffix.test(r.name.slice(scheme.length)))) return undefined;
  return `${r.name}: expected ${scheme} (or an allowed suffix)`;
}

// ---- encoding overlap --------------------------------------------------------------------

type PrefixState = 'none' | '66' | 'f3' | 'f2';
const PREFIX_STATES: readonly PrefixState[] = ['none', '66', 'f3', 'f2'];

/** One point of an opcode's encoding space: ModRM (reg, and rm or -1 for memory), prefix, mode, VEX or legacy. */
interface Point {
  readonly reg: number;
  readonly rm: number;
  readonly prefix: PrefixState;
  readonly long: boolean;
  readonly vex: boolean;
}

/** The points of one opcode's space; rows without ModRM collapse reg and rm. */
function points(modrm: boolean): Point[] {
  const out: Point[] = [];
  for (const prefix of PREFIX_STATES) {
    for (const long of [false, true]) {
      for (const vex of [false, true]) {
        if (!modrm) out.push({ reg: 0, rm: 0, prefix, long, vex });
        else for (let reg = 0; reg < 8; reg++) for (let rm = -1; rm < 8; rm++) out.push({ reg, rm, prefix, long, vex });
      }
    }
  }
  return out;
}

/** Whether `r` matches `p`, by the decoder's rules (x86/decoder.ts). */
function matches(r: Row, p: Point, modrm: boolean): boolean {
  if (modrm) {
    if (r.reg !== undefined && r.reg !== p.reg) return false;
    if (r.mod === 'mem' && p.rm >= 0) return false;
    if (r.mod === 'reg' && p.rm < 0) return false;
    if (r.rm !== undefined && r.rm !== p.rm) return false;
  }
  const pre = r.prefix ?? 'any';
  if (pre !== 'any' && pre !== p.prefix) return false;
  // VEX rows match only VEX encodings (their L/W constraints are not points here).
  if ((r.vex !== undefined) !== p.vex) return false;
  if (r.modes === 'o64' && !p.long) return false;
  if (r.modes === 'i64' && p.long) return false;
  return true;
}

const MODRM_KIND = /^(E|G|M|R|S|V|W|U)/;

function needsModrm(r: Row): boolean {
  return r.reg !== undefined || r.operands.some((o) => MODRM_KIND.test(o));
}

/**
 * Rows the decoder can never pick (an earlier row claims all their encodings) and pairs that
 * overlap with the general row first or neither inside the other. Overlap is fine only as
 * "specific row first, then the general one" (e.g. F3 0F C7 /7 RDPID before 0F C7 /7 RDSEED).
 */
function encodingProblems(rows: readonly Row[]): string[] {
  const bySlot = new Map<string, Row[]>();
  for (const r of rows) {
    for (let k = 0; k < opcodeSpan(r); k++) {
      const key = `${r.map} ${(r.opcode + k).toString(16).padStart(2, '0')}`;
      bySlot.set(key, [...(bySlot.get(key) ?? []), r]);
    }
  }
  const problems: string[] = [];
  for (const [slot, rs] of bySlot) {
    const modrm = rs.some(needsModrm);
    const pts = points(modrm);
    const sets = rs.map((r) => new Set(pts.filter((p) => matches(r, p, modrm))));
    for (let a = 0; a < rs.length; a++) {
      const A = sets[a] as Set<Point>;
      if (A.size === 0) problems.push(`${slot}: ${rs[a]?.name} matches no encoding`);
      for (let b = a + 1; b < rs.length; b++) {
        const B = sets[b] as Set<Point>;
        const common = [...A].filter((p) => B.has(p)).length;
        if (common === 0) continue;
        const pair = `${rs[a]?.name} and ${rs[b]?.name}`;
        if (common === A.size && common === B.size) problems.push(`${slot}: ${pair} claim the same encodings`);
        else if (common === B.size) problems.push(`${slot}: ${rs[b]?.name} is shadowed by ${rs[a]?.name} (listed earlier)`);
        else if (common !== A.size) problems.push(`${slot}: ${pair} overlap, neither inside the other`);
      }
    }
  }
  return problems;
}

describe('instruction table', () => {
  it('has unique row names', () => {
    const seen = new Map<string, number>();
    for (const r of ROWS) seen.set(r.name, (seen.get(r.name) ?? 0) + 1);
    expect([...seen].filter(([, n]) => n > 1).map(([name]) => name)).toEqual([]);
  });

  it('names rows by the scheme: mnemonic then operands joined by _', () => {
    expect(ROWS.map(nameProblem).filter((p) => p !== undefined)).toEqual([]);
  });

  it('names the scheme exceptions it allows, and uses each', () => {
    const used = NAME_EXCEPTIONS.filter((e) =>
      ROWS.some((r) => {
        const scheme = rowName(r.mnemonic, r.operands);
        return r.name !== scheme && r.name.startsWith(scheme) && e.suffix.test(r.name.slice(scheme.length));
      }),
    );
    expect(used.map((e) => e.why)).toEqual(NAME_EXCEPTIONS.map((e) => e.why));
  });

  it('has no two rows claiming the same encoding ambiguously', () => {
    expect(encodingProblems(ROWS)).toEqual([]);
  });

  it('finds shadowed and ambiguous rows (the check itself)', () => {
    const base = ROWS.find((r) => r.name === 'add_Eb_Gb') as Row;
    const general: Row = { ...base, name: 'general' };
    const specific: Row = { ...base, name: 'specific', prefix: 'f3' };
    const memOnly: Row = { ...base, name: 'memOnly', mod: 'mem', prefix: 'none' };
    const longOnly: Row = { ...base, name: 'longOnly', modes: 'o64' };
    expect(encodingProblems([specific, general])).toEqual([]);
    expect(encodingProblems([general, specific])).toEqual(['one 00: specific is shadowed by general (listed earlier)']);
    expect(encodingProblems([general, { ...base, name: 'twin' }])).toEqual(['one 00: general and twin claim the same encodings']);
    expect(encodingProblems([longOnly, memOnly])).toEqual(['one 00: longOnly and memOnly overlap, neither inside the other']);
  });

  it('has well-formed flag effects: known bits, undefined ⊆ written', () => {
    const bad = ROWS.filter((r) => {
      const f = r.flags;
      const known = [f.read, f.write, f.undefined].every((v) => Number.isInteger(v) && v >= 0 && (v & ~KNOWN_FLAGS) === 0);
      return !known || (f.undefined & ~f.write) !== 0;
    });
    expect(bad.map((r) => r.name)).toEqual([]);
  });

  it('marks every row that can change RIP as ending a block', () => {
    const changesRip = (r: Row): boolean =>
      r.operands.some((o) => o[0] === 'J') || r.mnemonic.startsWith('j') || RIP_CHANGING.has(r.mnemonic);
    const missing = ROWS.filter((r) => changesRip(r) && r.ends !== true);
    expect(missing.map((r) => r.name)).toEqual([]);
    expect(ROWS.filter(changesRip).length).toBeGreaterThanOrEqual(16 * 2 + 8);
  });

  it('gives the `fpu` column by its rule: x87 rows, FWAIT, FXSAVE/FXRSTOR, and exactly the SSE rows with SSE state', () => {
    const xmm = (r: Row): boolean => r.operands.some((o) => /^[VWU]/.test(o));
    const sseFamily = new Set(['sse', 'sse2', 'sse3', 'ssse3', 'sse4_1', 'sse4_2', 'aes', 'pclmulqdq']);
    const expected = (r: Row): string | undefined => {
      if (r.cpuid === 'fpu') return r.mnemonic === 'fwait' ? 'wait' : 'x87';
      if (r.cpuid === 'fxsr') return 'fxsr';
      // The SSE state is the XMM registers and MXCSR (LDMXCSR/STMXCSR name it only implicitly).
      if (xmm(r) || r.mnemonic === 'ldmxcsr' || r.mnemonic === 'stmxcsr') return 'sse';
      return undefined;
    };
    const wrong = ROWS.filter((r) => r.fpu !== expected(r)).map((r) => `${r.name}: ${r.fpu} (want ${expected(r)})`);
    expect(wrong).toEqual([]);
    // The SSE-family encodings without SSE state, which CR0.TS and EM leave alone (SDM vol. 3A §2.5).
    const untouched = ROWS.filter((r) => sseFamily.has(r.cpuid ?? 'base') && r.fpu === undefined).map((r) => r.mnemonic);
    expect([...new Set(untouched)].sort()).toEqual(['crc32', 'lfence', 'mfence', 'movnti', 'sfence']);
    expect(ROWS.filter((r) => r.fpu === 'sse').every((r) => sseFamily.has(r.cpuid ?? 'base'))).toBe(true);
  });
});

describe('generated files (npm run gen)', () => {
  for (const f of GENERATED_FILES) {
    it(`${f.path} is up to date`, () => {
      const have = readFileSync(join(ROOT, f.path), 'utf8');
      // One line naming the stale file, as `npm run gen:check` prints it.
      if (have !== f.render()) expect.fail(`${f.path} is stale: run \`npm run gen\``);
      expect(have.split('\n')[0]).toMatch(/Generated by `npm run gen`.*do not edit/);
    });
  }

  it('opcode-map.md gives every map x opcode rows or an explicit #UD', () => {
    const report = opcodeMapReport(ROWS);
    const maps = report.slice(report.indexOf('\n## '));
    const entries = [...maps.matchAll(/^\| ([0-9a-f]{2}) \| (.*) \|$/gm)];
    expect(entries.length).toBe(256 * MAPS.length);
    expect(entries.filter((e) => (e[2] ?? '').trim() === '')).toEqual([]);
    // Each group opcode lists all eight ModRM.reg values.
    for (const e of entries) if ((e[2] ?? '').startsWith('/0 ')) expect((e[2] ?? '').match(/(^|; )\/[0-7] /g)).toHaveLength(8);
    expect(report).toMatch(/^\| 8f \| \/0 `pop_Ev`; \/1 #UD;/m);
  });

  it('cpuid-features.ts lists exactly the features with rows', () => {
    expect([...FEATURES_WITH_ROWS]).toEqual(featuresWithRows(ROWS));
    expect(FEATURES_WITH_ROWS).toContain('base');
    expect(FEATURES_WITH_ROWS).toContain('cmov');
  });
});
