/**
 * `npm run bench:boot`: how long Debian's Linux cloud kernel takes to reach userspace and to power
 * off as a PV guest on xenlab, for each vCPU count asked for, and, where `qemu-system-x86_64` is
 * installed, how long the same kernel takes booted natively under QEMU's TCG (no KVM) with the
 * same initramfs to the same console marker. One run measures both, so the ratio compares like
 * with like on whatever machine runs it.
 *
 * The guest is the smallest userspace that shows the marker: an initramfs whose busybox `/init`
 * prints `ok 1 - userspace reached` and then `poweroff -f`. xenlab gets `console=hvc0`, QEMU
 * `console=ttyS0`; the rest of the command line is the same for both (`--cmdline` adds to it).
 *
 * Wall time starts when the boot is asked for: for xenlab, the in-process `bootGuest` call (it
 * loads and decompresses the kernel and builds the domain), for QEMU the spawn of the process (its
 * firmware and the kernel's decompression included). Instructions are xenlab's guest instructions
 * retired (every vCPU), at the scheduler slice in which the marker reached the console.
 *
 *   npm run bench:boot [-- --vcpus 1,2] [--no-qemu] [--json FILE] [--cmdline "..."]
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireFixture } from '../../fixtures/pipeline/cache.js';
import { buildInitramfs } from '../../fixtures/pipeline/initramfs.js';
import { bootGuest, parseXlConfig } from '../boot/boot.js';

/** The line both guests print once /init runs. */
export const USERSPACE_MARKER = 'ok 1 - userspace reached';

export const BENCH_INIT = `#!/bin/sh
/bin/busybox mount -t proc proc /proc
echo "${USERSPACE_MARKER}"
/bin/busybox poweroff -f
`;

export interface BootFigures {
  readonly engine: 'xenlab' | 'qemu-tcg';
  readonly vcpus: number;
  /** Wall seconds to the marker, undefined if it never came. */
  readonly userspaceWall: number | undefined;
  /** Wall seconds to the end of the run (poweroff). */
  readonly endWall: number;
  /** How the run ended ('poweroff', or why not). */
  readonly end: string;
  /** The kernel's own clock (its printk timestamp) when it started /init: guest seconds, both engines. */
  readonly initGuestSeconds: number | undefined;
  /** xenlab only: guest instructions to the marker and to the end. */
  readonly userspaceInstructions?: number;
  readonly endInstructions?: number;
}

export interface BootBenchReport {
  readonly kernel: string;
  readonly cmdline: string;
  readonly runs: readonly BootFigures[];
  /** xenlab wall to the marker / QEMU TCG wall to the marker, per vCPU count measured by both. */
  readonly ratios: readonly { vcpus: number; ratio: number }[];
  /** Why QEMU was not measured, if it was not. */
  readonly qemuSkipped?: string;
}

const MAX_INSTRUCTIONS = 20e9;
const QEMU_TIMEOUT_MS = 300_000;

export async function xenlabBoot(kernel: string, initrd: string, vcpus: number, cmdline: string, progress: (s: string) => void): Promise<BootFigures> {
  const { config } = parseXlConfig(
    `name = "bench"\nkernel = "${kernel}"\nramdisk = "${initrd}"\nmemory = 256\nvcpus = ${vcpus}\nextra = "console=hvc0${cmdline === '' ? '' : ` ${cmdline}`}"\n`,
    'bench-boot.cfg',
  );
  const t0 = performance.now();
  const watch = new ConsoleWatch(() => (performance.now() - t0) / 1000);
  let userspaceInstructions: number | undefined;
  const decoder = new TextDecoder();
  const r = await bootGuest({
    config,
    maxInstructions: MAX_INSTRUCTIONS,
    onConsole: (b) => watch.feed(decoder.decode(b, { stream: true })),
    onSlice: (n) => {
      if (watch.userspaceWall !== undefined && userspaceInstructions === undefined) userspaceInstructions = n;
    },
    onProgress: (p) => progress(`xenlab vcpus=${vcpus}: ${(p.instructions / 1e9).toFixed(2)} G instructions, ${((performance.now() - t0) / 1000).toFixed(0)} s`),
  });
  return {
    engine: 'xenlab',
    vcpus,
    userspaceWall: watch.userspaceWall,
    initGuestSeconds: watch.initGuestSeconds,
    endWall: (performance.now() - t0) / 1000,
    end: r.end === 'poweroff' ? 'poweroff' : `${r.end}: ${r.detail}`,
    ...(userspaceInstructions !== undefined ? { userspaceInstructions } : {}),
    endInstructions: r.instructions,
  };
}

/** The same kernel and initramfs under QEMU's TCG, natively (no Xen), to the same marker. */
export function qemuBoot(qemu: string, kernel: string, initrd: string, vcpus: number, cmdline: string): Promise<BootFigures> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const args = ['-accel', 'tcg', '-m', '256', '-smp', String(vcpus), '-nographic', '-no-reboot', '-nic', 'none', '-kernel', kernel, '-initrd', initrd, '-append', `console=ttyS0 panic=-1${cmdline === '' ? '' : ` ${cmdline}`}`];
    const child = spawn(qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const watch = new ConsoleWatch(() => (performance.now() - t0) / 1000);
    let failure: string | undefined;
    const timer = setTimeout(() => {
      failure = `no poweroff within ${QEMU_TIMEOUT_MS / 1000} s`;
      child.kill('SIGKILL');
    }, QEMU_TIMEOUT_MS);
    child.stdout.on('data', (b: Buffer) => {
      watch.feed(b.toString('latin1'));
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const done = (end: string): void => {
      clearTimeout(timer);
      resolve({ engine: 'qemu-tcg', vcpus, userspaceWall: watch.userspaceWall, initGuestSeconds: watch.initGuestSeconds, endWall: (performance.now() - t0) / 1000, end });
    };
    child.on('error', (e) => done(`could not start ${qemu}: ${e.message}`));
    child.on('exit', (code, signal) => {
      if (failure !== undefined) done(failure);
      else if (code === 0) done('poweroff');
      else done(`exit ${code ?? signal}${stderr === '' ? '' : `: ${stderr.trim().split('\n')[0]}`}`);
    });
  });
}

/**
 * Watches console text line by line: the wall time the marker line first appears, and the
 * kernel's printk timestamp of "Run /init as init process" (its own clock, in guest seconds).
 */
export class ConsoleWatch {
  userspaceWall: number | undefined;
  initGuestSeconds: number | undefined;
  private partial = '';

  constructor(private readonly wall: () => number) {}

  feed(text: string): void {
    if (this.userspaceWall !== undefined) return;
    this.partial += text;
    for (;;) {
      const nl = this.partial.indexOf('\n');
      if (nl < 0) break;
      this.line(this.partial.slice(0, nl).replace(/\r$/, ''));
      this.partial = this.partial.slice(nl + 1);
      if (this.userspaceWall !== undefined) return;
    }
  }

  private line(line: string): void {
    if (line === USERSPACE_MARKER) this.userspaceWall = this.wall();
    const m = /^\[\s*(\d+\.\d+)\] Run \/init as init process/.exec(line);
    if (m?.[1] !== undefined) this.initGuestSeconds = Number(m[1]);
  }
}

/** `qemu-system-x86_64` on PATH, if any. */
export function findQemu(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(':')) {
    if (dir === '') continue;
    const p = join(dir, 'qemu-system-x86_64');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** xenlab / QEMU wall time to the marker, for every vCPU count both reached it with. */
export function ratios(runs: readonly BootFigures[]): { vcpus: number; ratio: number }[] {
  const out: { vcpus: number; ratio: number }[] = [];
  for (const x of runs) {
    if (x.engine !== 'xenlab' || x.userspaceWall === undefined) continue;
    const q = runs.find((r) => r.engine === 'qemu-tcg' && r.vcpus === x.vcpus && r.userspaceWall !== undefined);
    if (q?.userspaceWall !== undefined) out.push({ vcpus: x.vcpus, ratio: x.userspaceWall / q.userspaceWall });
  }
  return out;
}

const fmt = (v: number | undefined, digits = 2): string => (v === undefined ? '-' : v.toFixed(digits));
const giga = (v: number | undefined): string => (v === undefined ? '-' : `${(v / 1e9).toFixed(3)} G`);

export function renderBootBench(r: BootBenchReport): string {
  const rows = [['engine', 'vcpus', 'to userspace (s)', 'to end (s)', 'instr. to userspace', 'instr. to end', 'MIPS', 'guest s to /init', 'end']];
  for (const x of r.runs) {
    const mips = x.endInstructions !== undefined ? (x.endInstructions / x.endWall / 1e6).toFixed(1) : '-';
    rows.push([x.engine, String(x.vcpus), fmt(x.userspaceWall), fmt(x.endWall), giga(x.userspaceInstructions), giga(x.endInstructions), mips, fmt(x.initGuestSeconds, 3), x.end]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const lines = rows.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const out = [`kernel ${r.kernel}`, `command line (besides the console): ${r.cmdline === '' ? '(none)' : r.cmdline}`, '', ...lines, ''];
  for (const q of r.ratios) out.push(`vcpus=${q.vcpus}: xenlab takes ${q.ratio.toFixed(2)}x QEMU TCG's wall time to userspace (target: at most 5x)`);
  if (r.qemuSkipped !== undefined) out.push(`QEMU TCG not measured: ${r.qemuSkipped}`);
  return `${out.join('\n')}\n`;
}

export interface BootBenchOptions {
  readonly vcpus: readonly number[];
  readonly qemu: boolean;
  readonly cmdline: string;
  readonly progress: (s: string) => void;
}

export async function runBootBench(o: BootBenchOptions): Promise<BootBenchReport> {
  const kernel = (await requireFixture('kernel')).file('vmlinuz');
  const dir = mkdtempSync(join(tmpdir(), 'xenlab-bench-boot-'));
  try {
    const initrd = join(dir, 'initrd.gz');
    await buildInitramfs({ init: BENCH_INIT, out: initrd });
    const runs: BootFigures[] = [];
    const qemu = o.qemu ? findQemu() : undefined;
    for (const n of o.vcpus) {
      if (qemu !== undefined) {
        o.progress(`qemu-tcg vcpus=${n}`);
        runs.push(await qemuBoot(qemu, kernel, initrd, n, o.cmdline));
      }
      runs.push(await xenlabBoot(kernel, initrd, n, o.cmdline, o.progress));
    }
    const skipped = !o.qemu ? '--no-qemu' : qemu === undefined ? 'qemu-system-x86_64 is not installed (Debian package qemu-system-x86)' : undefined;
    return { kernel, cmdline: o.cmdline, runs, ratios: ratios(runs), ...(skipped !== undefined ? { qemuSkipped: skipped } : {}) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseArgs(argv: readonly string[]): BootBenchOptions & { json: string | undefined } {
  let vcpus = [1, 2];
  let qemu = true;
  let cmdline = '';
  let json: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--vcpus') {
      vcpus = value().split(',').map((s) => Number(s));
      if (vcpus.some((n) => !Number.isInteger(n) || n < 1 || n > 128)) throw new Error('--vcpus takes a comma-separated list of counts from 1 to 128');
    } else if (a === '--no-qemu') qemu = false;
    else if (a === '--cmdline') cmdline = value();
    else if (a === '--json') json = value();
    else throw new Error(`unknown option ${a} (--vcpus LIST, --no-qemu, --cmdline TEXT, --json FILE)`);
  }
  const tty = process.stderr.isTTY === true;
  const progress = (s: string): void => {
    if (tty) process.stderr.write(`\r${s.padEnd(70)}`);
  };
  return { vcpus, qemu, cmdline, json, progress };
}

async function main(): Promise<void> {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench:boot: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const report = await runBootBench(opts);
  if (process.stderr.isTTY === true) process.stderr.write('\r'.padEnd(72) + '\r');
  process.stdout.write(renderBootBench(report));
  if (opts.json !== undefined) writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
}

if (process.argv[1]?.endsWith('boot-bench.js') === true || process.argv[1]?.endsWith('boot-bench.ts') === true) {
  main().catch((e: unknown) => {
    process.stderr.write(`bench:boot: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
