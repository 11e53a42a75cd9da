/**
 * A development aid for the x87 (not part of CI): runs x87 cases on the real CPU and on x86/ and
 * prints the x87 state of both sides decoded (control/status words, tags, ST0-7), where the
 * differential report shows raw FXSAVE bytes.
 *
 *   vite-node test/x86/diff/x87-probe.ts -- fuzz --row fadd_M64fp[,..] [--seed S] [--cases N] [--max K]
 *     random cases of the differential generator; prints the first K mismatches decoded.
 *   vite-node test/x86/diff/x87-probe.ts -- batch < LINES
 *     many cases on the real CPU only: stdin lines `FCW CODE-HEX SE:MANT,...` (ST0 first), stdout
 *     lines `FSW SE:MANT,...` (the non-empty registers afterwards), for offline analysis.
 *   vite-node test/x86/diff/x87-probe.ts -- run --code 'dc 03' [--fcw 37f] [--fsw 0] [--st 'SE:MANT,...'] [--mem HEX]
 *     one case: ST0.. given as 80-bit patterns (sign/exponent and significand in hex; the rest
 *     empty), RBX points at the data page holding --mem's bytes; prints both sides' results.
 *
 * `x87Case` and `decodeX87` are exported for tests that record expectations from the CPU.
 */
import { readFileSync } from 'node:fs';
// The decoder enters the table's import cycle first (it reads ROWS at load).
import '../../../x86/decoder.js';
import { ROWS_BY_NAME } from '../../../x86/isa/table.js';
import type { Row } from '../../../x86/isa/types.js';
import { runSeed } from '../../support/seed.js';
import { NativeRunner, type NativeCase, type NativeResult } from '../native/native-runner.js';
import { compare } from './compare.js';
import { emulate, type Outcome } from './emulate.js';
import { generateRow } from './harness.js';
import { CODE_START, DATA, X87_PAGE, X87_SAVE } from './layout.js';

/** An 80-bit value: sign/exponent and the 64-bit significand. */
export type F80 = readonly [number, bigint];

export interface X87State {
  readonly fcw: number;
  readonly fsw: number;
  /** Abridged tag (FXSAVE), bit per physical register. */
  readonly ftw: number;
  /** ST0-7 in stack order. */
  readonly st: readonly F80[];
  readonly fdp: bigint;
}

export function decodeX87(img: Uint8Array, at: number): X87State {
  const dv = new DataView(img.buffer, img.byteOffset + at, 512);
  const st: F80[] = [];
  for (let i = 0; i < 8; i++) st.push([dv.getUint16(32 + 16 * i + 8, true), dv.getBigUint64(32 + 16 * i, true)]);
  return { fcw: dv.getUint16(0, true), fsw: dv.getUint16(2, true), ftw: dv.getUint8(4), st, fdp: dv.getBigUint64(16, true) };
}

/** A readable approximation of an 80-bit value. */
export function f80Text([se, m]: F80): string {
  const pat = `${se.toString(16).padStart(4, '0')}:${m.toString(16).padStart(16, '0')}`;
  const e = se & 0x7fff;
  const neg = (se & 0x8000) !== 0;
  let v: string;
  if (e === 0x7fff) v = (m << 1n) & 0xffffffffffffffffn ? ((m >> 62n) & 1n ? 'QNaN' : 'SNaN') : 'inf';
  else if (e === 0 && m === 0n) v = '0';
  else {
    const x = Number(m) * 2 ** ((e === 0 ? 1 : e) - 16383 - 63);
    v = x === 0 || !Number.isFinite(x) ? `2^${(e === 0 ? 1 : e) - 16383}*${(Number(m) / 2 ** 63).toPrecision(8)}` : x.toPrecision(10);
  }
  return `${pat} (${neg ? '-' : ''}${v})`;
}

const FLAG_NAMES: readonly [number, string][] = [
  [0x1, 'IE'], [0x2, 'DE'], [0x4, 'ZE'], [0x8, 'OE'], [0x10, 'UE'], [0x20, 'PE'], [0x40, 'SF'], [0x80, 'ES'],
  [0x100, 'C0'], [0x200, 'C1'], [0x400, 'C2'], [0x4000, 'C3'],
];
const fswText = (w: number): string =>
  `${w.toString(16).padStart(4, '0')} top=${(w >> 11) & 7} ${FLAG_NAMES.filter(([b]) => (w & b) !== 0).map(([, n]) => n).join(' ')}`;
const fcwText = (w: number): string =>
  `${w.toString(16).padStart(4, '0')} pc=${['24', '??', '53', '64'][(w >> 8) & 3]} rc=${['near', 'down', 'up', 'zero'][(w >> 10) & 3]} unmasked=${FLAG_NAMES.filter(([b]) => b < 0x40 && (w & b) === 0).map(([, n]) => n).join(',')}`;

export function x87Text(s: X87State, other?: X87State): string {
  const lines = [`  fcw ${fcwText(s.fcw)}`, `  fsw ${fswText(s.fsw)}${other !== undefined && other.fsw !== s.fsw ? '   <<' : ''}`];
  const top = (s.fsw >> 11) & 7;
  lines.push(`  ftw ${s.ftw.toString(2).padStart(8, '0')}${other !== undefined && other.ftw !== s.ftw ? '   <<' : ''}`);
  s.st.forEach((v, i) => {
    if ((s.ftw & (1 << ((top + i) & 7))) === 0) return;
    const o = other?.st[i];
    const diff = o !== undefined && (o[0] !== v[0] || o[1] !== v[1]);
    lines.push(`  st${i} ${f80Text(v)}${diff ? '   <<' : ''}`);
  });
  return lines.join('\n');
}

function hexBytes(s: string): number[] {
  const t = s.replace(/[^0-9a-fA-F]/g, '');
  const out: number[] = [];
  for (let k = 0; k + 1 < t.length; k += 2) out.push(parseInt(t.slice(k, k + 2), 16));
  return out;
}

/**
 * One x87 case in the differential layout: FXRSTOR64 of the given state, the code, FXSAVE64.
 * RBX = DATA, where `mem` is placed.
 */
export function x87Case(code: readonly number[], fcw: number, fsw: number, st: readonly F80[], mem: readonly number[] = []): NativeCase {
  const pro = [0x48, 0x0f, 0xae, 0x0d, 0, 0, 0, 0];
  const epi = [0x48, 0x0f, 0xae, 0x05, 0, 0, 0, 0];
  const put = (b: number[], at: number, v: number): void => {
    for (let k = 0; k < 4; k++) b[at + k] = (v >>> (8 * k)) & 0xff;
  };
  put(pro, 4, X87_PAGE - (CODE_START + 8));
  const end = CODE_START + 8 + code.length + 8;
  put(epi, 4, X87_PAGE + X87_SAVE - end);
  const img = new Uint8Array(4096);
  const dv = new DataView(img.buffer);
  const top = (fsw >> 11) & 7;
  dv.setUint16(0, fcw, true);
  dv.setUint16(2, fsw, true);
  let ftw = 0;
  st.forEach(([se, m], i) => {
    ftw |= 1 << ((top + i) & 7);
    dv.setBigUint64(32 + 16 * i, m, true);
    dv.setUint16(32 + 16 * i + 8, se, true);
  });
  img[4] = ftw;
  dv.setUint32(24, 0x1f80, true);
  const data = new Uint8Array(4096);
  data.set(mem);
  const gpr = new Array<bigint>(16).fill(0n);
  gpr[3] = BigInt(DATA);
  gpr[4] = BigInt(DATA + 0x800);
  return {
    codeAddress: BigInt(CODE_START),
    code: Uint8Array.from([...pro, ...code, ...epi]),
    gpr,
    rflags: 0x202n,
    xmm: Array.from({ length: 16 }, () => new Uint8Array(16)),
    mxcsr: 0x1f80,
    pages: [
      { address: BigInt(DATA), data, read: true, write: true, exec: false },
      { address: BigInt(X87_PAGE), data: img, read: true, write: true, exec: false },
    ],
  };
}

const pageOf = (o: { readonly pages: readonly { address: bigint; data: Uint8Array }[] }, a: number): Uint8Array | undefined => o.pages.find((p) => p.address === BigInt(a))?.data;

function describe(k: NativeCase, nat: NativeResult, ours: Outcome, memFmt: string | undefined): string {
  const init = decodeX87(pageOf(k, X87_PAGE) as Uint8Array, 0);
  const e = decodeX87(pageOf(nat, X87_PAGE) as Uint8Array, X87_SAVE);
  const g = decodeX87(pageOf(ours, X87_PAGE) as Uint8Array, X87_SAVE);
  const lines = ['initial:', x87Text(init)];
  if (memFmt !== undefined) {
    const ea = g.fdp;
    const pg = k.pages.find((p) => ea >= p.address && ea < p.address + 4096n);
    if (pg !== undefined) {
      const off = Number(ea - pg.address);
      const b = pg.data.subarray(off, off + 10);
      const dv = new DataView(b.buffer, b.byteOffset, b.length);
      let v = '';
      if (memFmt === 'M32fp' && b.length >= 4) v = `${dv.getUint32(0, true).toString(16)} (${dv.getFloat32(0, true)})`;
      else if (memFmt === 'M64fp' && b.length >= 8) v = `${dv.getBigUint64(0, true).toString(16)} (${dv.getFloat64(0, true)})`;
      else if (memFmt === 'M80fp' && b.length >= 10) v = f80Text([dv.getUint16(8, true), dv.getBigUint64(0, true)]);
      else if (memFmt === 'M16int' && b.length >= 2) v = `${dv.getInt16(0, true)}`;
      else if (memFmt === 'M32int' && b.length >= 4) v = `${dv.getInt32(0, true)}`;
      else if (memFmt === 'M64int' && b.length >= 8) v = `${dv.getBigInt64(0, true)}`;
      lines.push(`  mem ${memFmt} @${ea.toString(16)} = ${v}`);
    }
  }
  lines.push(`native (${nat.outcome}${nat.vector !== undefined ? ` v${nat.vector}` : ''}):`, x87Text(e, g));
  lines.push(`x86/ (${ours.outcome}${ours.vector !== undefined ? ` v${ours.vector}` : ''}):`, x87Text(g, e));
  return lines.join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2).filter((a) => a !== '--');
  const mode = argv[0];
  const opt = (name: string): string | undefined => {
    const k = argv.indexOf(`--${name}`);
    return k >= 0 ? argv[k + 1] : undefined;
  };
  const runner = await NativeRunner.start();
  try {
    if (mode === 'run') {
      const st: F80[] = (opt('st') ?? '')
        .split(',')
        .filter((s) => s !== '')
        .map((s) => {
          const [se, m] = s.split(':');
          return [parseInt(se ?? '0', 16), BigInt(`0x${m ?? '0'}`)] as const;
        });
      const top = 8 - st.length;
      const fsw = (parseInt(opt('fsw') ?? '0', 16) & ~0x3800) | ((top & 7) << 11);
      const k = x87Case(hexBytes(opt('code') ?? ''), parseInt(opt('fcw') ?? '37f', 16), fsw, st, hexBytes(opt('mem') ?? ''));
      const [nat] = (await runner.run([k])) as [NativeResult];
      const ours = emulate(k, 'interp');
      process.stdout.write(`${describe(k, nat, ours, undefined)}\n`);
      return;
    }
    if (mode === 'batch') {
      // stdin lines `FCW CODE-HEX SE:MANT,...`; stdout lines `FSW SE:MANT,...` (ST0.. after, native).
      const lines = readFileSync(0, 'utf8').split('\n').filter((l) => l.trim() !== '');
      const cases = lines.map((l) => {
        const [fcw, code, st] = l.trim().split(/\s+/) as [string, string, string];
        const regs = st.split(',').map((v) => {
          const [se, m] = v.split(':');
          return [parseInt(se ?? '0', 16), BigInt(`0x${m ?? '0'}`)] as const;
        });
        return x87Case(hexBytes(code), parseInt(fcw, 16), ((8 - regs.length) & 7) << 11, regs);
      });
      const results = await runner.run(cases);
      const out = results.map((r) => {
        const s = decodeX87(pageOf(r, X87_PAGE) as Uint8Array, X87_SAVE);
        const top = (s.fsw >> 11) & 7;
        const regs = s.st.filter((_, i) => (s.ftw & (1 << ((top + i) & 7))) !== 0);
        return `${s.fsw.toString(16).padStart(4, '0')} ${regs.map(([se, m]) => `${se.toString(16).padStart(4, '0')}:${m.toString(16).padStart(16, '0')}`).join(',')}`;
      });
      process.stdout.write(`${out.join('\n')}\n`);
      return;
    }
    const seed = Number(opt('seed') ?? runSeed());
    const cases = Number(opt('cases') ?? 2000);
    const max = Number(opt('max') ?? 5);
    for (const name of (opt('row') ?? '').split(',')) {
      const row = ROWS_BY_NAME.get(name) as Row | undefined;
      if (row === undefined) throw new Error(`no row ${name}`);
      const dcs = generateRow(row, seed, cases);
      const results = await runner.run(dcs.map((d) => d.native));
      let shown = 0;
      let fails = 0;
      for (let n = 0; n < dcs.length; n++) {
        const dc = dcs[n] as (typeof dcs)[number];
        const nat = results[n] as NativeResult;
        if (nat.outcome === 'invalid') continue;
        const ours = emulate(dc.native, 'interp');
        const d = compare(dc, nat, ours);
        if (d.length === 0) continue;
        const [again] = (await runner.run([dc.native])) as [NativeResult];
        if (compare(dc, again, ours).length === 0) continue;
        fails++;
        if (shown++ < max) {
          const fmt = row.operands.find((o) => o.startsWith('M'));
          const code = Array.from(dc.native.code.subarray(dc.insnOffset, dc.insnOffset + dc.insnLength), (b) => b.toString(16).padStart(2, '0')).join(' ');
          process.stdout.write(`--- ${name} case #${n}: ${code}\n${describe(dc.native, again, ours, fmt)}\n`);
          const other = d.filter((f) => !f.field.startsWith('memory 0x20008000'));
          if (other.length > 0) process.stdout.write(`  other diffs: ${other.map((f) => `${f.field}: ${f.expected} vs ${f.got}`).join('; ')}\n`);
        }
      }
      process.stdout.write(`${name}: ${fails} mismatches in ${dcs.length} cases (seed ${seed})\n`);
    }
  } finally {
    await runner.close();
  }
}

if (import.meta.url.endsWith('x87-probe.ts') && process.argv[1]?.endsWith('vite-node') === true) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(2);
    },
  );
}
