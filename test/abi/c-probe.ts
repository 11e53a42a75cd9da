/**
 * Asks gcc what the Xen headers say: generates a C file that includes libxen-dev's headers and
 * stores every number we want to check (sizeof, alignment, offsetof, member sizes, constants) in
 * one initialised array, compiles it for -m64 or -m32 *without linking or running it*, and reads
 * the array back out of the object's .data section (these machines cannot run 32-bit code).
 * Results are cached under node_modules/.cache/xenlab-abi/ by a hash of the C source, the
 * headers' package version and the compiler, so a test run compiles only when one of those changed.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Arch } from '../../abi/layout/schema.js';
import { ROOT } from '../support/cli.js';

/** One number to ask gcc for: a label for diagnostics and a C integer constant expression. */
export interface Probe {
  readonly label: string;
  readonly expr: string;
}

export interface ProbeProgram {
  /** Text before the probes: defines and includes. */
  readonly prelude: string;
  readonly probes: readonly Probe[];
  /** Extra gcc flags (e.g. -D__XEN_TOOLS__). */
  readonly flags?: readonly string[];
}

const CFLAGS = ['-c', '-O0', '-std=gnu11', '-ffreestanding', '-fno-pic', '-fno-common', '-w'];

export function cSource(p: ProbeProgram): string {
  const rows = p.probes.map((q) => `  (unsigned long long)(long long)(${q.expr}), /* ${q.label.replace(/\*\//g, '* /')} */`);
  return `${p.prelude}\n\nunsigned long long xenlab_values[] = {\n${rows.join('\n')}\n  0x5a5a5a5a5a5a5a5aULL,\n};\n`;
}

function gccVersion(cc: string): string {
  return execFileSync(cc, ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? cc;
}

/**
 * Compiles `p` for `arch` and returns one value per probe, as unsigned 64-bit BigInts (compare
 * modulo 2^64: a negative C constant reads back as its two's complement).
 */
export function runProbes(p: ProbeProgram, arch: Arch, includeDir: string, headersVersion: string): bigint[] {
  const cc = process.env['CC'] ?? 'gcc';
  const flags = [...CFLAGS, arch === 'x86_64' ? '-m64' : '-m32', ...(p.flags ?? []), `-I${includeDir}`];
  const source = cSource(p);
  const hash = createHash('sha256')
    .update(source)
    .update('\0')
    .update(flags.filter((f) => !f.startsWith('-I')).join(' '))
    .update('\0')
    .update(headersVersion)
    .update('\0')
    .update(gccVersion(cc))
    .digest('hex')
    .slice(0, 24);
  const cacheDir = join(ROOT, 'node_modules', '.cache', 'xenlab-abi');
  const cached = join(cacheDir, `probe-${arch}-${hash}.json`);
  if (existsSync(cached)) {
    const values = (JSON.parse(readFileSync(cached, 'utf8')) as string[]).map((s) => BigInt(s));
    if (values.length === p.probes.length) return values;
  }
  const work = join(tmpdir(), `xenlab-abi-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(work, { recursive: true });
  const c = join(work, 'probe.c');
  const o = join(work, 'probe.o');
  const bin = join(work, 'probe.data');
  writeFileSync(c, source);
  try {
    execFileSync(cc, [...flags, '-o', o, c], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`gcc ${arch} failed on the generated probe (kept as ${c}):\n${err.stderr ?? err.message}`);
  }
  execFileSync('objcopy', ['-O', 'binary', '--only-section=.data', o, bin]);
  const data = readFileSync(bin);
  const n = p.probes.length + 1;
  if (data.length !== n * 8) throw new Error(`probe .data is ${data.length} bytes, expected ${n * 8}`);
  const values: bigint[] = [];
  for (let k = 0; k < n; k++) values.push(data.readBigUInt64LE(k * 8));
  if (values.pop() !== 0x5a5a5a5a5a5a5a5an) throw new Error('probe .data does not end with the sentinel');
  rmSync(work, { recursive: true, force: true });
  // Publish atomically: parallel workers may race here.
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${cached}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(values.map(String)));
  renameSync(tmp, cached);
  return values;
}

/** Names of the object-like macros gcc sees after the prelude (`gcc -dM -E`), with their bodies. */
export function macros(prelude: string, arch: Arch, includeDir: string, flags: readonly string[] = []): Map<string, string> {
  const cc = process.env['CC'] ?? 'gcc';
  const out = execFileSync(cc, ['-dM', '-E', '-std=gnu11', '-ffreestanding', arch === 'x86_64' ? '-m64' : '-m32', ...flags, `-I${includeDir}`, '-x', 'c', '-'], {
    input: prelude,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const map = new Map<string, string>();
  for (const line of out.split('\n')) {
    const m = /^#define ([A-Za-z_][A-Za-z0-9_]*)(\(?)\s?(.*)$/.exec(line);
    if (m !== null && m[2] === '' && m[1] !== undefined) map.set(m[1], m[3] ?? '');
  }
  return map;
}

/** Preprocesses `text` (`gcc -E -P`) and returns the output. */
export function preprocess(text: string, includeDir: string, flags: readonly string[] = []): string {
  const cc = process.env['CC'] ?? 'gcc';
  return execFileSync(cc, ['-E', '-P', '-ffreestanding', ...flags, `-I${includeDir}`, '-x', 'c', '-'], { input: text, encoding: 'utf8' });
}
