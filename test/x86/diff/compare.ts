/**
 * Comparison of a native result with ours, field by field, and the mismatch report: the row,
 * the bytes, our disassembly, the initial state and a per-field diff (expected = native,
 * got = ours, hex).
 */
import { disassembleBytes } from '../../../x86/disasm.js';
import { VECTOR_NAMES } from '../../../x86/fault.js';
import { GPR_NAMES } from '../native/native-runner.js';
import type { Outcome } from './emulate.js';
import type { DiffCase } from './generate.js';

export interface FieldDiff {
  readonly field: string;
  readonly expected: string;
  readonly got: string;
}

/** RF: set in the frame of a fault on hardware; not part of the instruction's result. */
const RF = 0x10000n;

const hex = (v: bigint | number | undefined, width = 0): string =>
  v === undefined ? '-' : `0x${BigInt.asUintN(64, BigInt(v)).toString(16).padStart(width, '0')}`;
const bytesHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const vecName = (v: number | undefined): string => (v === undefined ? '-' : (VECTOR_NAMES[v] ?? `vector ${v}`));

/** The RFLAGS bits compared for a case: everything but the row's undefined flags and RF. */
export function flagsMask(dc: DiffCase): bigint {
  return ~(BigInt(dc.row.flags.undefined) | RF | BigInt(dc.driverFlags)) & 0xffffffffn;
}

export function compare(dc: DiffCase, exp: Outcome, got: Outcome): FieldDiff[] {
  const d: FieldDiff[] = [];
  const add = (field: string, e: string, g: string): void => {
    if (e !== g) d.push({ field, expected: e, got: g });
  };
  add('outcome', exp.outcome, got.outcome);
  if (exp.outcome === 'timeout' && got.outcome === 'timeout') return d;
  if (exp.outcome !== got.outcome && (exp.outcome === 'timeout' || got.outcome === 'timeout')) return d;
  add('vector', vecName(exp.vector), vecName(got.vector));
  // Linux sets P in the #PF error code for kernel-half addresses to hide its page tables.
  const kernelHalf = exp.vector === 14 && exp.faultAddress !== undefined && exp.faultAddress >= 0xffff_8000_0000_0000n;
  const ecMask = kernelHalf ? ~1 : ~0;
  add('error code', hex(exp.errorCode === undefined ? undefined : exp.errorCode & ecMask), hex(got.errorCode === undefined ? undefined : got.errorCode & ecMask));
  add('CR2', hex(exp.faultAddress), hex(got.faultAddress));
  add('rip', hex(exp.rip), hex(got.rip));
  exp.gpr.forEach((v, n) => {
    // Bits the driver supplies through a hook (CPUID, RDTSC, RDRAND...) are not the silicon's.
    const keep = ~(dc.driverRegs[n] ?? 0n) & 0xffffffffffffffffn;
    add(GPR_NAMES[n] as string, hex(v & keep, 16), hex((got.gpr[n] ?? 0n) & keep, 16));
  });
  const m = flagsMask(dc);
  add(`rflags (mask ${hex(m)})`, hex(exp.rflags & m), hex(got.rflags & m));
  exp.xmm.forEach((x, n) => add(`xmm${n}`, bytesHex(x), bytesHex(got.xmm[n] ?? new Uint8Array(16))));
  add('mxcsr', hex(exp.mxcsr), hex(got.mxcsr));
  for (const p of exp.pages) {
    const q = got.pages.find((g) => g.address === p.address);
    if (q === undefined) {
      add(`page ${hex(p.address)}`, 'present', 'absent');
      continue;
    }
    if (Buffer.from(p.data.buffer, p.data.byteOffset, 4096).equals(q.data)) continue;
    const runs: string[] = [];
    let k = 0;
    while (k < 4096) {
      if (p.data[k] === q.data[k] || ignored(dc, p.address + BigInt(k))) {
        k++;
        continue;
      }
      const start = k;
      while (k < 4096 && k - start < 16 && p.data[k] !== q.data[k] && !ignored(dc, p.address + BigInt(k))) k++;
      runs.push(`${hex(p.address + BigInt(start))}: ${bytesHex(p.data.subarray(start, k))} vs ${bytesHex(q.data.subarray(start, k))}`);
    }
    if (runs.length > 0) {
      const shown = runs.slice(0, 6).join('; ') + (runs.length > 6 ? `; ... (${runs.length} runs)` : '');
      d.push({ field: `memory ${hex(p.address)}`, expected: 'native bytes first', got: shown });
    }
  }
  return d;
}

function ignored(dc: DiffCase, a: bigint): boolean {
  return dc.ignore.some(([at, len]) => a >= at && a < at + BigInt(len));
}

export function disassembly(dc: DiffCase): string {
  const k = dc.native;
  return disassembleBytes(k.code, Number(k.codeAddress))
    .map((l) => `    ${l.addr.toString(16)}: ${bytesHex(l.bytes).padEnd(24)} ${l.text}`)
    .join('\n');
}

/** The initial state, without the zero/default parts. */
export function describeState(dc: DiffCase): string {
  const k = dc.native;
  const lines: string[] = [];
  const regs = k.gpr.map((v, n) => `${(GPR_NAMES[n] as string).padStart(3)}=${hex(v, 16)}`);
  for (let i = 0; i < 16; i += 4) lines.push(`    ${regs.slice(i, i + 4).join(' ')}`);
  lines.push(`    rflags=${hex(k.rflags)} mxcsr=${hex(k.mxcsr)} fs.base=${hex(k.fsBase ?? 0n)} gs.base=${hex(k.gsBase ?? 0n)}`);
  const xmm = k.xmm.map((x, n) => (x.some((b) => b !== 0) ? `xmm${n}=${bytesHex(x)}` : '')).filter((s) => s !== '');
  if (xmm.length > 0) lines.push(`    ${xmm.join(' ')}`);
  lines.push(`    pages: ${k.pages.map((p) => `${hex(p.address)} ${p.read ? 'r' : '-'}${p.write ? 'w' : '-'}${p.exec ? 'x' : '-'}`).join(', ')}`);
  return lines.join('\n');
}

export function formatMismatch(dc: DiffCase, path: string, diffs: readonly FieldDiff[], extra = ''): string {
  const k = dc.native;
  const insn = k.code.subarray(dc.insnOffset, dc.insnOffset + dc.insnLength);
  const out = [
    `row ${dc.row.name} (${path}): bytes ${bytesHex(insn)}${dc.insnOffset > 0 ? ` (code ${bytesHex(k.code)})` : ''}`,
    disassembly(dc),
    '  initial state:',
    describeState(dc),
    '  diff (expected = native, got = x86/):',
    ...diffs.map((f) => `    ${f.field.padEnd(22)} expected ${f.expected}  got ${f.got}`),
  ];
  if (extra !== '') out.push(extra);
  return out.join('\n');
}
