/**
 * TypeScript client for the native x86-64 oracle (runner.c).
 *
 * The runner executes instruction bytes on the real CPU in 64-bit user mode
 * from a given architectural state and reports the final state or the
 * exception.  One child process serves many cases over a binary pipe
 * protocol (see README.md), so a differential test can push hundreds of
 * thousands of cases through a single NativeRunner.
 *
 * The runner is compiled on first use with the machine's gcc and cached in
 * node_modules/.cache/xenlab-native/, keyed by the sha256 of the source and
 * the compiler flags.
 */
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { access, chmod, constants as fsConstants, mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------------------
// Public constants (mirrored in runner.c; keep in sync)

export const PAGE_SIZE = 4096;
/** First address a case page (or the code) may use. */
export const CASE_WINDOW_START = 0x1_0000n;
/** First address past the case window. */
export const CASE_WINDOW_END = 0x7000_0000_0000n;
export const MAX_CODE_BYTES = 64;
export const MAX_PAGES = 256;
/** A convenient default code address inside the window. */
export const DEFAULT_CODE_ADDRESS = 0x1000_0000n;

/** RFLAGS bits a case may set: CF PF AF ZF SF DF OF AC ID. */
export const USER_RFLAGS_MASK = 0x240cd5n;
/** Bits that are always set while user code runs (bit 1 and IF); accepted in a case and ignored. */
export const RFLAGS_FIXED = 0x202n;

export const RFLAGS = {
  CF: 0x1n,
  PF: 0x4n,
  AF: 0x10n,
  ZF: 0x40n,
  SF: 0x80n,
  TF: 0x100n,
  IF: 0x200n,
  DF: 0x400n,
  OF: 0x800n,
  NT: 0x4000n,
  RF: 0x10000n,
  AC: 0x40000n,
  ID: 0x200000n,
} as const;

/** Exception vectors as reported in NativeResult.vector. */
export const VECTOR = {
  DE: 0,
  DB: 1,
  BP: 3,
  UD: 6,
  NM: 7,
  SS: 12,
  GP: 13,
  PF: 14,
  MF: 16,
  AC: 17,
  XM: 19,
} as const;

/** Page-fault error-code bits (Linux always adds U for user-mode faults). */
export const PF_ERROR = { P: 1, W: 2, U: 4, RSVD: 8, I: 16, PK: 32 } as const;

/** Register order used for NativeCase.gpr / NativeResult.gpr (the x86 encoding order). */
export const GPR_NAMES = [
  'rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15',
] as const;

/** Vectors for which the CPU pushes an error code (so errorCode is meaningful). */
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);

// ---------------------------------------------------------------------------
// Public types

export interface NativePage {
  /** 4 KiB aligned, inside [CASE_WINDOW_START, CASE_WINDOW_END). */
  address: bigint;
  /** Exactly 4096 bytes. */
  data: Uint8Array;
  read: boolean;
  write: boolean;
  exec: boolean;
}

export interface NativeCase {
  /** Where the code is placed; an int3 trailer follows it. */
  codeAddress: bigint;
  /** Up to 64 bytes. */
  code: Uint8Array;
  /** 16 values in GPR_NAMES order (taken modulo 2^64, so -1n is fine). */
  gpr: readonly bigint[];
  /** Only USER_RFLAGS_MASK bits may be set (plus the fixed bits 1 and IF). */
  rflags: bigint;
  /** 16 registers of 16 bytes each (little-endian lane order). */
  xmm: readonly Uint8Array[];
  mxcsr: number;
  /** FS/GS base for the test (default 0). */
  fsBase?: bigint;
  gsBase?: bigint;
  /** Mapped pages.  Unlisted addresses are unmapped, except the implicit code pages (see implicitCodePages). */
  pages: readonly NativePage[];
}

export type NativeOutcome = 'completed' | 'exception' | 'timeout' | 'invalid';

export interface NativeResult {
  outcome: NativeOutcome;
  /** Exception vector (outcome 'exception'). */
  vector?: number;
  /** Hardware error code as reported by Linux, for vectors that push one. */
  errorCode?: number;
  /** CR2 for #PF. */
  faultAddress?: bigint;
  /** Signal the runner received (SIGTRAP=5, SIGSEGV=11, ...), for diagnostics. */
  signal?: number;
  /** siginfo si_code, for diagnostics. */
  siCode?: number;
  /** Why the case was refused or not representable (outcome 'invalid'). */
  reason?: string;
  gpr: bigint[];
  /** 'completed': the trailer address (codeAddress + code.length); faults: the faulting instruction; traps: the next one. */
  rip: bigint;
  /** Raw RFLAGS (IF and bit 1 set; RF may be set for fault-class exceptions). */
  rflags: bigint;
  xmm: Uint8Array[];
  mxcsr: number;
  fsBase: bigint;
  gsBase: bigint;
  cs: number;
  ss: number;
  /** Final contents of every writable listed page, in listing order. */
  pages: { address: bigint; data: Uint8Array }[];
}

export interface NativeRunnerOptions {
  /** CPU-time period of the watchdog; a case is stopped after 1-2 periods (default 20 ms). */
  timeoutMs?: number;
  /** Where compiled runners are cached (default node_modules/.cache/xenlab-native). */
  cacheDir?: string;
  /** C compiler (default $CC or gcc). */
  cc?: string;
}

export interface NativeRunnerInfo {
  windowStart: bigint;
  windowEnd: bigint;
  maxCodeBytes: number;
  maxPages: number;
  /** Whether RDFSBASE/WRFSBASE work in user mode (probed; test code can then change the bases directly). */
  fsgsbase: boolean;
  /** MXCSR bits this CPU accepts. */
  mxcsrMask: number;
  /** Path of the runner binary. */
  binary: string;
}

// ---------------------------------------------------------------------------
// Helpers for building cases

/** A case with all registers zero, default MXCSR, no pages. */
export function makeCase(init: Omit<Partial<NativeCase>, 'code'> & { code: Uint8Array | readonly number[] }): NativeCase {
  const code = init.code instanceof Uint8Array ? init.code : Uint8Array.from(init.code);
  return {
    codeAddress: init.codeAddress ?? DEFAULT_CODE_ADDRESS,
    gpr: init.gpr ?? new Array<bigint>(16).fill(0n),
    rflags: init.rflags ?? RFLAGS_FIXED,
    xmm: init.xmm ?? Array.from({ length: 16 }, () => new Uint8Array(16)),
    mxcsr: init.mxcsr ?? 0x1f80,
    pages: init.pages ?? [],
    ...(init.fsBase !== undefined ? { fsBase: init.fsBase } : {}),
    ...(init.gsBase !== undefined ? { gsBase: init.gsBase } : {}),
    code,
  };
}

/**
 * The pages the runner maps on its own for a case: every page touched by
 * the code or its int3 trailer that the case does not list is mapped
 * read+exec, filled with 0xCC (int3), with the code and trailer written in.
 * An emulator under differential test should model the same memory.
 */
export function implicitCodePages(c: NativeCase): NativePage[] {
  const mask = BigInt(PAGE_SIZE - 1);
  const first = c.codeAddress & ~mask;
  const last = (c.codeAddress + BigInt(c.code.length)) & ~mask;
  const listed = new Set(c.pages.map((p) => p.address));
  const out: NativePage[] = [];
  for (let pg = first; pg <= last; pg += BigInt(PAGE_SIZE)) {
    if (listed.has(pg)) continue;
    const data = new Uint8Array(PAGE_SIZE).fill(0xcc);
    for (let k = 0; k <= c.code.length; k++) {
      const a = c.codeAddress + BigInt(k);
      if ((a & ~mask) === pg) data[Number(a & mask)] = k < c.code.length ? (c.code[k] ?? 0) : 0xcc;
    }
    out.push({ address: pg, data, read: true, write: false, exec: true });
  }
  return out;
}

/** True on hosts where the native runner can work at all (Linux on x86-64). */
export function nativeRunnerSupported(): boolean {
  return process.platform === 'linux' && process.arch === 'x64';
}

// ---------------------------------------------------------------------------
// Building the runner

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE = path.join(HERE, 'runner.c');
const PROJECT_ROOT = path.resolve(HERE, '../../..');

/**
 * Freestanding static build, linked at 0x7100_0000_0000 (see runner.c for
 * why).  -fpie code with a non-PIE link keeps every reference RIP-relative,
 * which is what allows the high link address with the small code model;
 * -mgeneral-regs-only guarantees the runner itself never touches vector or
 * x87 registers.
 */
export const RUNNER_CFLAGS: readonly string[] = [
  '-O2',
  '-std=gnu11',
  '-Wall',
  '-Wextra',
  '-ffreestanding',
  '-fno-stack-protector',
  '-fno-tree-loop-distribute-patterns',
  '-fno-asynchronous-unwind-tables',
  '-fcf-protection=none',
  '-mgeneral-regs-only',
  '-fpie',
  '-static',
  '-nostdlib',
  '-no-pie',
  '-Wl,-Ttext-segment=0x710000000000',
  '-Wl,-z,noexecstack',
  '-Wl,--build-id=none',
];

const builds = new Map<string, Promise<string>>();

/** Compiles runner.c if needed and returns the path of the cached binary. */
export function buildNativeRunner(options: Pick<NativeRunnerOptions, 'cacheDir' | 'cc'> = {}): Promise<string> {
  const cacheDir = options.cacheDir ?? path.join(PROJECT_ROOT, 'node_modules', '.cache', 'xenlab-native');
  const cc = options.cc ?? process.env['CC'] ?? 'gcc';
  const key = `${cacheDir}\0${cc}`;
  let p = builds.get(key);
  if (!p) {
    p = doBuild(cacheDir, cc);
    builds.set(key, p);
    p.catch(() => builds.delete(key));
  }
  return p;
}

async function doBuild(cacheDir: string, cc: string): Promise<string> {
  if (!nativeRunnerSupported()) {
    throw new Error(`native runner needs Linux on x86-64 (this is ${process.platform}/${process.arch})`);
  }
  const source = await readFile(SOURCE);
  const hash = createHash('sha256')
    .update(source)
    .update('\0')
    .update(cc)
    .update('\0')
    .update(RUNNER_CFLAGS.join(' '))
    .digest('hex')
    .slice(0, 24);
  const binary = path.join(cacheDir, `runner-${hash}`);
  try {
    await access(binary, fsConstants.X_OK);
    return binary;
  } catch {
    // not built yet
  }
  await mkdir(cacheDir, { recursive: true });
  // Build under a unique name and rename: parallel vitest workers may race
  // here, and rename() atomically publishes a complete binary.
  const tmp = `${binary}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(cc, [...RUNNER_CFLAGS, '-o', tmp, SOURCE, '-lgcc'], { maxBuffer: 16 << 20 }, (err, _stdout, stderr) => {
        if (err) reject(new Error(`building the native runner with ${cc} failed: ${err.message}\n${stderr}`));
        else resolve();
      });
    });
    await chmod(tmp, 0o755);
    await rename(tmp, binary);
  } finally {
    await rm(tmp, { force: true });
  }
  return binary;
}

// ---------------------------------------------------------------------------
// Protocol encoding (layout documented in README.md)

const REC_CASE = 1;
const HELLO_MAGIC = 0x314e5258;
const CASE_HDR = 504;
const PAGE_REC = 16 + PAGE_SIZE;
const RES_HDR = 472;
const CHUNK_BYTES = 1 << 20;
const U64 = (1n << 64n) - 1n;

function caseSize(c: NativeCase): number {
  return CASE_HDR + c.pages.length * PAGE_REC;
}

function validateCase(c: NativeCase, index: number): void {
  const fail = (what: string): never => {
    throw new TypeError(`native case ${index}: ${what}`);
  };
  if (typeof c.codeAddress !== 'bigint') fail('codeAddress must be a bigint');
  if (!(c.code instanceof Uint8Array) || c.code.length > MAX_CODE_BYTES) fail(`code must be a Uint8Array of at most ${MAX_CODE_BYTES} bytes`);
  if (!Array.isArray(c.gpr) || c.gpr.length !== 16 || c.gpr.some((v) => typeof v !== 'bigint')) fail('gpr must be 16 bigints');
  if (typeof c.rflags !== 'bigint') fail('rflags must be a bigint');
  if (!Array.isArray(c.xmm) || c.xmm.length !== 16 || c.xmm.some((x) => !(x instanceof Uint8Array) || x.length !== 16)) {
    fail('xmm must be 16 Uint8Arrays of 16 bytes');
  }
  if (!Number.isInteger(c.mxcsr) || c.mxcsr < 0 || c.mxcsr > 0xffffffff) fail('mxcsr must be a u32');
  if (c.fsBase !== undefined && typeof c.fsBase !== 'bigint') fail('fsBase must be a bigint');
  if (c.gsBase !== undefined && typeof c.gsBase !== 'bigint') fail('gsBase must be a bigint');
  if (!Array.isArray(c.pages) || c.pages.length > MAX_PAGES) fail(`pages must be an array of at most ${MAX_PAGES}`);
  for (const p of c.pages) {
    if (typeof p.address !== 'bigint') fail('page address must be a bigint');
    if (!(p.data instanceof Uint8Array) || p.data.length !== PAGE_SIZE) fail(`page data must be ${PAGE_SIZE} bytes`);
  }
}

/*
 * 64-bit fields go through DataView.get/setBigUint64: Buffer's
 * read/writeBigUInt64LE are implemented in JS with several temporary BigInts
 * per call, and at tens of thousands of cases per second the garbage they
 * create dominates the client's CPU time.
 */

function encodeCase(buf: Uint8Array, dv: DataView, off: number, c: NativeCase): number {
  const size = caseSize(c);
  dv.setUint32(off, size, true);
  dv.setUint32(off + 4, REC_CASE, true);
  dv.setBigUint64(off + 8, c.codeAddress & U64, true);
  dv.setBigUint64(off + 16, c.rflags & U64, true);
  dv.setBigUint64(off + 24, (c.fsBase ?? 0n) & U64, true);
  dv.setBigUint64(off + 32, (c.gsBase ?? 0n) & U64, true);
  dv.setUint32(off + 40, c.mxcsr, true);
  dv.setUint32(off + 44, c.code.length, true);
  dv.setUint32(off + 48, c.pages.length, true);
  dv.setUint32(off + 52, 0, true);
  for (let i = 0; i < 16; i++) dv.setBigUint64(off + 56 + 8 * i, (c.gpr[i] ?? 0n) & U64, true);
  for (let i = 0; i < 16; i++) {
    const x = c.xmm[i];
    if (x) buf.set(x, off + 184 + 16 * i);
  }
  buf.set(c.code, off + 440); // the rest of the 64-byte code field stays zero
  let p = off + CASE_HDR;
  for (const page of c.pages) {
    dv.setBigUint64(p, page.address & U64, true);
    dv.setUint32(p + 8, (page.read ? 1 : 0) | (page.write ? 2 : 0) | (page.exec ? 4 : 0), true);
    dv.setUint32(p + 12, 0, true);
    buf.set(page.data, p + 16);
    p += PAGE_REC;
  }
  return off + size;
}

/** A plain Uint8Array copy of bytes [from, to) (not a view of the receive buffer). */
function copyBytes(src: Uint8Array, from: number, to: number): Uint8Array {
  const out = new Uint8Array(to - from);
  for (let i = from; i < to; i++) out[i - from] = src[i] as number;
  return out;
}

const OUTCOMES: readonly NativeOutcome[] = ['completed', 'exception', 'timeout', 'invalid'];

/** Decodes the result record at [base, base + size) of `bytes`. */
function decodeResult(bytes: Uint8Array, dv: DataView, base: number, size: number, c: NativeCase): NativeResult {
  const u32 = (o: number): number => dv.getUint32(base + o, true);
  const u64 = (o: number): bigint => dv.getBigUint64(base + o, true);
  const outcome = OUTCOMES[u32(4)];
  if (!outcome) throw new Error(`native runner: bad outcome ${u32(4)}`);
  const vector = u32(8);
  const signal = u32(12);
  const siCode = dv.getInt32(base + 16, true);
  const pageCount = u32(20);
  const gpr: bigint[] = [];
  for (let i = 0; i < 16; i++) gpr.push(u64(40 + 8 * i));
  const xmm: Uint8Array[] = [];
  for (let i = 0; i < 16; i++) xmm.push(copyBytes(bytes, base + 208 + 16 * i, base + 224 + 16 * i));
  const reasonLength = u32(464);

  const result: NativeResult = {
    outcome,
    gpr,
    rip: u64(168),
    rflags: u64(176),
    fsBase: u64(184),
    gsBase: u64(192),
    mxcsr: u32(200),
    cs: dv.getUint16(base + 204, true),
    ss: dv.getUint16(base + 206, true),
    xmm,
    pages: [],
  };
  if (signal) {
    result.signal = signal;
    result.siCode = siCode;
  }
  if (outcome === 'exception') {
    result.vector = vector;
    if (ERROR_CODE_VECTORS.has(vector)) result.errorCode = Number(u64(24));
    if (vector === VECTOR.PF) result.faultAddress = u64(32);
  }
  if (reasonLength) {
    result.reason = Buffer.from(bytes.buffer, bytes.byteOffset + base + RES_HDR, reasonLength).toString('utf8');
  }

  let p = RES_HDR + ((reasonLength + 7) & ~7);
  for (let n = 0; n < pageCount; n++) {
    const address = u64(p);
    const runs = u32(p + 8);
    const runBytes = u32(p + 12);
    const input = c.pages.find((pg) => pg.address === address);
    if (!input) throw new Error(`native runner: result page 0x${address.toString(16)} is not in the case`);
    const data = new Uint8Array(input.data);
    let q = p + 16;
    for (let r = 0; r < runs; r++) {
      const at = dv.getUint16(base + q, true);
      const len = dv.getUint16(base + q + 2, true);
      data.set(bytes.subarray(base + q + 4, base + q + 4 + len), at);
      q += 4 + len;
    }
    result.pages.push({ address, data });
    p += 16 + ((runBytes + 7) & ~7);
  }
  if (p !== size) throw new Error('native runner: malformed result record');
  return result;
}

// ---------------------------------------------------------------------------
// The runner process

interface Batch {
  cases: readonly NativeCase[];
  results: NativeResult[];
  resolve: (results: NativeResult[]) => void;
  reject: (err: Error) => void;
}

type RunnerChild = ChildProcessByStdio<Writable, Readable, Readable>;

export class NativeRunner {
  /** Startup information reported by the runner. */
  readonly info: NativeRunnerInfo;
  private readonly child: RunnerChild;
  private readonly state: RunnerState;

  private constructor(child: RunnerChild, state: RunnerState, info: NativeRunnerInfo) {
    this.child = child;
    this.state = state;
    this.info = info;
  }

  /** Builds (if needed) and starts a runner process. */
  static async start(options: NativeRunnerOptions = {}): Promise<NativeRunner> {
    const binary = await buildNativeRunner(options);
    const timeoutMs = Math.max(1, Math.round(options.timeoutMs ?? 20));
    const child = spawn(binary, ['--timeout-ms', String(timeoutMs)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const state = new RunnerState(child);
    const hello = await state.hello;
    return new NativeRunner(child, state, { ...hello, binary });
  }

  /** Process id of the runner (for diagnostics). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Runs the cases in order and resolves with one result per case.  Calls
   * may overlap; batches are processed in call order.  Rejects (naming the
   * case) if the runner dies.
   */
  run(cases: readonly NativeCase[]): Promise<NativeResult[]> {
    const s = this.state;
    if (s.failure) return Promise.reject(s.failure);
    if (s.closing) return Promise.reject(new Error('NativeRunner.run() after close()'));
    try {
      cases.forEach(validateCase);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (cases.length === 0) return Promise.resolve([]);
    const done = new Promise<NativeResult[]>((resolve, reject) => {
      s.queue.push({ cases, results: [], resolve, reject });
    });
    s.writeChain = s.writeChain.then(() => s.writeCases(cases)).catch((err: unknown) => {
      s.fail(err instanceof Error ? err : new Error(String(err)));
    });
    return done;
  }

  /** Finishes outstanding batches and stops the runner. */
  async close(): Promise<void> {
    const s = this.state;
    if (!s.closing) {
      s.closing = true;
      await s.writeChain;
      if (!s.exited) this.child.stdin.end();
    }
    await s.closed;
  }
}

/** Mutable connection state, kept out of the public class surface. */
class RunnerState {
  readonly queue: Batch[] = [];
  writeChain: Promise<void> = Promise.resolve();
  failure: Error | null = null;
  closing = false;
  exited = false;
  readonly hello: Promise<Omit<NativeRunnerInfo, 'binary'>>;
  readonly closed: Promise<void>;
  private rx: Buffer = Buffer.alloc(0);
  private stderr = '';
  private helloDone = false;
  private resolveHello!: (info: Omit<NativeRunnerInfo, 'binary'>) => void;
  private rejectHello!: (err: Error) => void;
  private drainWaiters: (() => void)[] = [];
  private readonly child: RunnerChild;

  constructor(child: RunnerChild) {
    this.child = child;
    this.hello = new Promise((resolve, reject) => {
      this.resolveHello = resolve;
      this.rejectHello = reject;
    });
    this.hello.catch(() => {});
    this.closed = new Promise<void>((resolve) => {
      child.on('close', (code, signal) => {
        this.exited = true;
        const how = signal ? `killed by ${signal}` : `exit code ${code}`;
        if (!this.helloDone) {
          this.fail(new Error(`native runner failed to start (${how})${this.stderrSuffix()}`));
        } else if (this.queue.length > 0 || !this.closing) {
          this.fail(this.deathError(how));
        }
        for (const w of this.drainWaiters.splice(0)) w();
        resolve();
      });
    });
    child.on('error', (err) => this.fail(new Error(`native runner: ${err.message}`)));
    child.stdin.on('error', () => {
      // EPIPE when the runner died; the 'close' handler reports it.
    });
    child.stdin.on('drain', () => {
      for (const w of this.drainWaiters.splice(0)) w();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      this.stderr = (this.stderr + text).slice(-16384);
    });
    child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  private stderrSuffix(): string {
    const t = this.stderr.trim();
    return t ? `: ${t}` : '';
  }

  private deathError(how: string): Error {
    const batch = this.queue[0];
    const where = batch
      ? ` while running case ${batch.results.length} (0-based) of a batch of ${batch.cases.length}`
      : '';
    return new Error(`native runner died unexpectedly (${how})${where}${this.stderrSuffix()}`);
  }

  fail(err: Error): void {
    if (!this.failure) this.failure = err;
    if (!this.helloDone) {
      this.helloDone = true;
      this.rejectHello(err);
    }
    for (const b of this.queue.splice(0)) b.reject(err);
    for (const w of this.drainWaiters.splice(0)) w();
    if (!this.exited) this.child.kill('SIGKILL');
  }

  async writeCases(cases: readonly NativeCase[]): Promise<void> {
    let i = 0;
    while (i < cases.length) {
      if (this.failure) return;
      let size = 0;
      let j = i;
      while (j < cases.length) {
        const s = caseSize(cases[j] as NativeCase);
        if (j > i && size + s > CHUNK_BYTES) break;
        size += s;
        j++;
      }
      const buf = Buffer.alloc(size);
      const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
      let off = 0;
      for (let k = i; k < j; k++) off = encodeCase(buf, dv, off, cases[k] as NativeCase);
      i = j;
      if (!this.child.stdin.write(buf)) {
        await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
      }
    }
  }

  private onData(chunk: Buffer): void {
    this.rx = this.rx.length === 0 ? chunk : Buffer.concat([this.rx, chunk]);
    let off = 0;
    const rx = this.rx;
    const dv = new DataView(rx.buffer, rx.byteOffset, rx.length);
    try {
      while (rx.length - off >= 8) {
        const size = dv.getUint32(off, true);
        if (size < 8 || size % 8 !== 0) throw new Error(`native runner: bad record size ${size}`);
        if (rx.length - off < size) break;
        this.onRecord(rx, dv, off, size);
        off += size;
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.rx = off === this.rx.length ? Buffer.alloc(0) : this.rx.subarray(off);
  }

  private onRecord(bytes: Buffer, dv: DataView, base: number, size: number): void {
    if (!this.helloDone) {
      if (size !== 40 || dv.getUint32(base + 4, true) !== HELLO_MAGIC) {
        throw new Error('native runner: bad hello record');
      }
      this.helloDone = true;
      this.resolveHello({
        windowStart: dv.getBigUint64(base + 8, true),
        windowEnd: dv.getBigUint64(base + 16, true),
        maxCodeBytes: dv.getUint32(base + 24, true),
        maxPages: dv.getUint32(base + 28, true),
        fsgsbase: (dv.getUint32(base + 32, true) & 1) !== 0,
        mxcsrMask: dv.getUint32(base + 36, true),
      });
      return;
    }
    const batch = this.queue[0];
    if (!batch) throw new Error('native runner: result without a pending case');
    const c = batch.cases[batch.results.length] as NativeCase;
    batch.results.push(decodeResult(bytes, dv, base, size, c));
    if (batch.results.length === batch.cases.length) {
      this.queue.shift();
      batch.resolve(batch.results);
    }
  }
}
