/**
 * The CPU benchmark: builds the freestanding workloads in ../shared/bench with gcc, runs each on
 * the host and in the emulated core in the same run, and reports per workload the guest
 * instructions retired, wall times, MIPS, checksum match and the ratio to native.
 *
 * MIPS follows ../shared/bench/README.md: the native instruction count from insn-counts.txt
 * divided by the wall seconds of the whole emulated run, start-up included. A workload that
 * faults (an instruction family the core does not implement yet) or prints the wrong checksum is
 * reported as failed with the reason; it never stops the benchmark.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { UserError, describeError } from '../errors.js';

export const WORKLOADS = ['alu', 'mem', 'list', 'call', 'null'] as const;

export interface CpuBenchOptions {
  only?: readonly string[];
  /** Build output directory (the workload sources are read-only). */
  buildDir?: string;
  /** The workload folder; default ../shared/bench from the repository root. */
  benchDir?: string;
  progress?: ((line: string) => void) | undefined;
}

export interface WorkloadResult {
  readonly name: string;
  readonly ok: boolean;
  /** Why it failed (fault, wrong checksum, exit status). */
  readonly reason?: string;
  readonly retired: number;
  readonly emulatedSeconds: number;
  readonly nativeInstructions: number;
  readonly nativeSeconds: number;
  /** nativeInstructions / emulatedSeconds / 1e6 (only when ok). */
  readonly mips?: number;
  /** emulatedSeconds / nativeSeconds (only when ok). */
  readonly slowdown?: number;
  readonly checksumMatch: boolean;
}

export interface CpuBenchReport {
  readonly version: 1;
  readonly node: string;
  readonly results: readonly WorkloadResult[];
  /** Geometric means over the workloads that passed, `null` (start-up only) excluded. */
  readonly geomean: { readonly mips: number | null; readonly slowdown: number | null; readonly over: readonly string[] };
}

/** The repository root: the nearest folder above this module with xenlab's package.json. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'xenlab') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the xenlab repository root');
    dir = up;
  }
}

/** Lines of expected.txt per workload (a workload may print several). */
function expectedLines(benchDir: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of readFileSync(join(benchDir, 'expected.txt'), 'utf8').split('\n')) {
    const name = line.split(' ')[0];
    if (name === undefined || line === '') continue;
    m.set(name, [...(m.get(name) ?? []), line]);
  }
  return m;
}

function instructionCounts(benchDir: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of readFileSync(join(benchDir, 'insn-counts.txt'), 'utf8').split('\n')) {
    const [name, n] = line.trim().split(/\s+/);
    if (name !== undefined && n !== undefined && /^\d+$/.test(n)) m.set(name, Number(n));
  }
  return m;
}

class Collect extends Writable {
  private readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk);
    cb();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

function geomean(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  return Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);
}

export async function runCpuBench(opts: CpuBenchOptions = {}): Promise<CpuBenchReport> {
  const benchDir = opts.benchDir ?? resolve(repoRoot(), '../shared/bench');
  if (!existsSync(join(benchDir, 'Makefile'))) {
    throw new UserError('file-not-found', `${benchDir}: benchmark workloads not found (expected ../shared/bench next to the repository)`);
  }
  const names = opts.only ?? WORKLOADS;
  for (const n of names) {
    if (!(WORKLOADS as readonly string[]).includes(n)) throw new UserError('bad-option', `--only ${n}: no such workload (${WORKLOADS.join(', ')})`);
  }
  const out = opts.buildDir ?? join(tmpdir(), 'xenlab-cpu-bench');
  mkdirSync(out, { recursive: true });
  opts.progress?.('building workloads with gcc');
  const make = spawnSync('make', ['-s', '-C', benchDir, `OUT=${resolve(out)}`, ...names.map((n) => join(resolve(out), n))], { encoding: 'utf8' });
  if (make.error !== undefined || make.status !== 0) {
    throw new UserError('tool-failed', `make -C ${benchDir} failed: ${(make.stderr || make.error?.message || '').trim().split('\n').slice(-1)[0] ?? ''}`);
  }
  const expected = expectedLines(benchDir);
  const counts = instructionCounts(benchDir);
  const { runLinuxProgram } = await import('../linux-user/process.js');

  const results: WorkloadResult[] = [];
  for (const name of names) {
    const bin = join(resolve(out), name);
    const want = (expected.get(name) ?? []).join('\n') + '\n';
    const nativeInstructions = counts.get(name) ?? 0;

    opts.progress?.(`${name}: native`);
    const t0 = performance.now();
    const nat = spawnSync(bin, [], { encoding: 'utf8' });
    const nativeSeconds = (performance.now() - t0) / 1000;
    const nativeOk = nat.status === 0 && nat.stdout === want;

    opts.progress?.(`${name}: emulated`);
    const stdout = new Collect();
    const stderr = new Collect();
    const t1 = performance.now();
    let retired = 0;
    let reason: string | undefined;
    let checksumMatch = false;
    try {
      const r = await runLinuxProgram({
        program: bin,
        stdout,
        stderr,
        // A runaway guest (a CPU bug sending it into a loop) must not hang the benchmark.
        insnLimit: Math.max(10 * nativeInstructions, 10_000_000),
        onProgress: (n) => opts.progress?.(`${name}: emulated, ${(n / 1e6).toFixed(0)}M instructions`),
      });
      retired = r.retired;
      checksumMatch = stdout.text() === want;
      if (r.status !== 0) reason = r.message ?? `exit status ${r.status}`;
      else if (!checksumMatch) reason = `wrong output: ${JSON.stringify(stdout.text().slice(0, 120))}`;
    } catch (e) {
      reason = `xenlab crash: ${describeError(e)}`;
    }
    const emulatedSeconds = (performance.now() - t1) / 1000;
    if (!nativeOk) reason = `${reason !== undefined ? `${reason}; ` : ''}native run did not match expected.txt (status ${nat.status})`;
    const ok = reason === undefined;
    results.push({
      name, ok, ...(reason !== undefined ? { reason } : {}), retired, emulatedSeconds, nativeInstructions, nativeSeconds,
      ...(ok ? { mips: nativeInstructions / emulatedSeconds / 1e6, slowdown: emulatedSeconds / nativeSeconds } : {}),
      checksumMatch,
    });
  }
  const passed = results.filter((r) => r.ok && r.name !== 'null');
  return {
    version: 1,
    node: process.version,
    results,
    geomean: {
      mips: geomean(passed.map((r) => r.mips ?? 0)),
      slowdown: geomean(passed.map((r) => r.slowdown ?? 0)),
      over: passed.map((r) => r.name),
    },
  };
}

export function renderBenchTable(rep: CpuBenchReport): string {
  const rows: string[][] = [['WORKLOAD', 'RESULT', 'RETIRED', 'EMULATED', 'MIPS', 'NATIVE', 'SLOWDOWN', 'CHECKSUM']];
  for (const r of rep.results) {
    rows.push([
      r.name,
      r.ok ? 'ok' : 'FAILED',
      String(r.retired),
      `${r.emulatedSeconds.toFixed(3)} s`,
      r.mips !== undefined ? r.mips.toFixed(2) : '-',
      `${r.nativeSeconds.toFixed(4)} s`,
      r.slowdown !== undefined ? `${r.slowdown.toFixed(r.slowdown < 10 ? 1 : 0)}x` : '-',
      r.checksumMatch ? 'match' : 'MISMATCH',
    ]);
  }
  const g = rep.geomean;
  rows.push([
    'geomean', g.over.length > 0 ? `${g.over.length} ok` : 'none ok', '', '',
    g.mips !== null ? g.mips.toFixed(2) : '-', '', g.slowdown !== null ? `${g.slowdown.toFixed(0)}x` : '-', '',
  ]);
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  let text = rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n') + '\n';
  const failed = rep.results.filter((r) => !r.ok);
  for (const r of failed) text += `${r.name}: ${r.reason ?? 'failed'}\n`;
  text += `${rep.results.length - failed.length} of ${rep.results.length} workloads passed; geomean over ${g.over.join(', ') || 'none'} (null excluded: start-up only)\n`;
  return text;
}
