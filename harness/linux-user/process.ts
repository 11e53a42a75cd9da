/**
 * One emulated Linux process: a `Cpu` in 64-bit user mode over an `AddressSpace`, the file
 * descriptor table, and the little kernel state the syscall layer keeps (program break, signal
 * dispositions, limits, the virtual clock). It is a test and benchmark vehicle for the CPU core,
 * not a product feature: see docs/linux-user.md.
 *
 * Determinism: time is virtual (retired instructions at `NOMINAL_HZ`, plus what the guest slept),
 * randomness comes from `seed`, and uname/pid/uid are fixed. Only the host files a guest opens
 * can make two runs differ.
 */
// cpu.js first: it initialises the decoder before anything reads the instruction table.
import { Cpu } from '../../x86/cpu.js';
import { Fault, PF_VEC, UD, VECTOR_NAMES, hexAddr } from '../../x86/fault.js';
import { RF } from '../../x86/isa/types.js';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { resolve } from 'node:path';
import { UserError } from '../errors.js';
import { AddressSpace } from './address-space.js';
import { CpuidModel, implementedFeatures } from './cpuid.js';
import { FdTable, StreamInput, StreamOutput } from './files.js';
import { MMAP_TOP, STACK_SIZE, loadExecutable } from './loader.js';
import { SIGKILL, defaultIgnored, signalForVector, signalName } from './signals.js';
import { dispatchSyscall } from './syscalls.js';

/** Instructions per virtual second: the virtual clock and the TSC tick at this rate (1 GHz). */
export const NOMINAL_HZ = 1_000_000_000;
/** CLOCK_REALTIME at start-up: 2024-01-01T00:00:00Z. */
export const EPOCH_SECONDS = 1_704_067_200n;
export const GUEST_PID = 1000;
export const GUEST_UID = 1000;
export const GUEST_GID = 1000;
/** The environment a guest gets unless the caller passes one. */
export const DEFAULT_ENV: readonly string[] = ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/', 'LANG=C', 'TERM=dumb'];

const TWO32 = 4294967296;
/** Instructions run between looks at the host event loop. */
const CHUNK = 20_000_000;

export interface LinuxRunOptions {
  /** Host path of a static x86-64 Linux executable (relative paths from `cwd`). */
  program: string;
  /** argv[1..]. */
  args?: readonly string[];
  /** Environment strings (`NAME=value`); default `DEFAULT_ENV`. */
  env?: readonly string[];
  /** Seeds AT_RANDOM and getrandom. Default 0. */
  seed?: number;
  /** The guest's working directory on the host; default `process.cwd()`. */
  cwd?: string;
  /** One line per unimplemented syscall number, the first time it is used. */
  verbose?: boolean;
  /** false: interpret every block (no compilation to JavaScript); default true. */
  jit?: boolean;
  /** Stop the guest (as by SIGKILL) after this many instructions. */
  insnLimit?: number;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin?: NodeJS.ReadableStream;
  /** Called between instruction chunks with the count so far (progress display). */
  onProgress?: (retired: number) => void;
}

export interface LinuxRunResult {
  /** Exit status as a shell sees it: the exit code, or 128 + signal. */
  readonly status: number;
  readonly exitCode?: number;
  readonly signal?: number;
  /** The one-line diagnostic printed when the guest was killed. */
  readonly message?: string;
  readonly retired: number;
  readonly wallSeconds: number;
  /** Unimplemented syscalls the guest made: number -> calls. */
  readonly unimplemented: ReadonlyMap<number, number>;
}

interface Termination {
  status: number;
  exitCode?: number;
  signal?: number;
  message?: string;
}

/** splitmix32: a small seeded generator for AT_RANDOM and getrandom (not for secrets). */
class Prng {
  private x: number;
  constructor(seed: number) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO32) >>> 0;
    this.x = (lo ^ Math.imul(hi, 0x9e3779b1)) >>> 0;
  }
  next(): number {
    this.x = (this.x + 0x9e3779b9) >>> 0;
    let z = this.x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let k = 0; k < n; k += 4) {
      const v = this.next();
      for (let b = 0; b < 4 && k + b < n; b++) out[k + b] = (v >>> (8 * b)) & 0xff;
    }
    return out;
  }
}

export class LinuxProcess {
  readonly space = new AddressSpace();
  readonly cpu: Cpu;
  readonly fds = new FdTable();
  readonly cpuid: CpuidModel;
  readonly rng: Prng;
  readonly programPath: string;
  cwd: string;
  brkStart = 0;
  brkCur = 0;
  readonly mmapTop = MMAP_TOP;
  /** Virtual nanoseconds the guest spent sleeping. */
  sleptNs = 0n;
  /** Recorded dispositions: signal -> struct sigaction bytes (32). */
  readonly sigactions = new Map<number, Uint8Array>();
  sigmask: Uint8Array = new Uint8Array(8);
  /** stack_t (24 bytes); ss_flags = SS_DISABLE. */
  altstack: Uint8Array = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  /** RLIMIT_* -> [soft, hard]; absent means infinity. */
  readonly rlimits = new Map<number, [bigint, bigint]>([
    [3, [BigInt(STACK_SIZE), -1n]], // RLIMIT_STACK
    [7, [1024n, 4096n]], // RLIMIT_NOFILE
  ]);
  umask = 0o022;
  readonly pid = GUEST_PID;
  readonly uid = GUEST_UID;
  readonly gid = GUEST_GID;
  readonly verbose: boolean;
  readonly unimplemented = new Map<number, number>();
  private readonly stdin: StreamInput;
  private pending: Promise<number> | undefined;
  private termination: Termination | undefined;
  private nextIno = 100;
  /** Wall-clock start (construction), so the reported time includes loading. */
  private readonly t0 = performance.now();

  constructor(private readonly opts: LinuxRunOptions) {
    this.cwd = opts.cwd ?? process.cwd();
    this.programPath = resolve(this.cwd, opts.program);
    this.verbose = opts.verbose === true;
    this.rng = new Prng(opts.seed ?? 0);
    this.cpu = new Cpu(
      this.space.mem,
      {
        syscall: (c) => this.onSyscall(c),
        exception: (c, f) => this.onException(c, f),
        cpuid: (_c, leaf, sub) => this.cpuid.answer(leaf, sub),
        rdtsc: () => {
          const t = this.nowNs();
          return [Number(t & 0xffffffffn) | 0, Number((t >> 32n) & 0xffffffffn) | 0];
        },
        random: (_c, size) => {
          const b = this.rng.bytes(8);
          const v = new DataView(b.buffer);
          return size === 8 ? [v.getInt32(0, true), v.getInt32(4, true)] : [size === 2 ? v.getUint16(0, true) : v.getInt32(0, true), 0];
        },
      },
      implementedFeatures(),
    );
    this.cpu.jit = opts.jit !== false;
    this.cpuid = new CpuidModel(this.cpu.features);
    const clock = (): bigint => this.nowNs();
    this.stdin = new StreamInput(opts.stdin ?? emptyStream(), clock);
    this.fds.alloc(this.stdin, false);
    this.fds.alloc(new StreamOutput(opts.stdout, 2, clock), false);
    this.fds.alloc(new StreamOutput(opts.stderr, 3, clock), false);
  }

  /** Reads and loads the program; user errors for a missing or unsuitable file. */
  load(): void {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(this.programPath);
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new UserError('file-not-found', `${this.opts.program}: ${code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : 'no such file'}`);
    }
    const img = loadExecutable(this.space, bytes, this.opts.program, {
      argv: [this.opts.program, ...(this.opts.args ?? [])],
      envp: this.opts.env ?? DEFAULT_ENV,
      execfn: this.opts.program,
      random: this.rng.bytes(16),
      hwcap: this.cpuid.hwcap,
      uid: this.uid,
      gid: this.gid,
    });
    this.brkStart = img.brk;
    this.brkCur = img.brk;
    this.cpu.rip = img.entry;
    this.cpu.setReg64(4, img.sp | 0, Math.floor(img.sp / TWO32));
    this.cpu.mode = 64;
    this.cpu.user = true;
  }

  /** Virtual time since start-up, in nanoseconds. */
  nowNs(): bigint {
    return (BigInt(this.cpu.retired) * 1_000_000_000n) / BigInt(NOMINAL_HZ) + this.sleptNs;
  }

  newIno(): number {
    return this.nextIno++;
  }

  log(line: string): void {
    this.opts.stderr.write(`xenlab: ${line}\n`);
  }

  /** Ends the process with an exit code (exit_group). */
  exit(code: number): void {
    this.termination = { status: code & 0xff, exitCode: code & 0xff };
    this.cpu.stopRequested = true;
  }

  /** Ends the process as by a fatal signal, printing one line. */
  kill(sig: number, detail?: string): void {
    const message = `guest killed by ${signalName(sig)}${detail !== undefined ? ` (${detail})` : ''}`;
    this.log(message);
    this.termination = { status: 128 + sig, signal: sig, message };
    this.cpu.stopRequested = true;
  }

  /**
   * A signal raised by the guest itself (kill, tgkill, a write to a broken pipe). Nothing is
   * delivered to handlers: ignored signals are dropped, anything else terminates.
   */
  raise(sig: number): void {
    const act = this.sigactions.get(sig);
    const handler = act === undefined ? 0n : new DataView(act.buffer, act.byteOffset).getBigUint64(0, true);
    if (sig !== SIGKILL && (handler === 1n || (handler === 0n && defaultIgnored(sig)))) return;
    this.kill(sig, handler > 1n ? 'handler installed, but the runner does not deliver signals' : undefined);
  }

  private setRax(v: number): void {
    const hi = Math.floor(v / TWO32);
    this.cpu.setReg64(0, (v - hi * TWO32) | 0, hi | 0);
  }

  private onSyscall(c: Cpu): void {
    // What the SYSCALL instruction itself does to user state (SDM vol. 2B, SYSCALL).
    const rip = c.rip;
    const ripHi = Math.floor(rip / TWO32);
    c.setReg64(1, (rip - ripHi * TWO32) | 0, ripHi | 0);
    c.setReg64(11, c.getFlags() & ~RF, 0);
    const r = dispatchSyscall(this, c);
    if (typeof r === 'number') this.setRax(r);
    else {
      this.pending = r;
      c.stopRequested = true;
    }
    if (this.space.codeChanged) {
      this.space.codeChanged = false;
      c.invalidateAllCode();
    }
  }

  private onException(c: Cpu, f: Fault): void {
    if (this.space.handleFault(f)) return;
    this.kill(signalForVector(f.vector), this.describeFault(c, f));
  }

  private describeFault(c: Cpu, f: Fault): string {
    let s = VECTOR_NAMES[f.vector] ?? `vector ${f.vector}`;
    if (f.errorCode >= 0) s += `(0x${f.errorCode.toString(16)})`;
    if (f.vector === PF_VEC) s += ` at ${hexAddr(f.address)}`;
    s += `, rip ${hexAddr(c.rip)}`;
    if (f.vector === UD) {
      const bytes: string[] = [];
      for (let k = 0; k < 8; k++) {
        const b = this.space.read(c.rip + k, 1);
        if (b === undefined) break;
        bytes.push((b[0] ?? 0).toString(16).padStart(2, '0'));
      }
      if (bytes.length > 0) s += `: ${bytes.join(' ')}`;
    }
    return s;
  }

  /** Runs to exit, a fatal signal or the instruction limit. */
  async run(): Promise<LinuxRunResult> {
    try {
      while (this.termination === undefined) {
        let budget = CHUNK;
        if (this.opts.insnLimit !== undefined) {
          budget = Math.min(budget, this.opts.insnLimit - this.cpu.retired);
          if (budget <= 0) {
            this.kill(SIGKILL, `instruction limit of ${this.opts.insnLimit} reached`);
            break;
          }
        }
        this.cpu.run(budget);
        const p = this.pending;
        if (p !== undefined) {
          this.pending = undefined;
          this.setRax(await p);
        } else if (this.termination === undefined) {
          this.opts.onProgress?.(this.cpu.retired);
          await new Promise<void>((r) => setImmediate(r));
        }
      }
    } finally {
      this.stdin.detach();
      this.fds.closeAll();
    }
    const t = this.termination ?? { status: 137, signal: SIGKILL };
    return {
      status: t.status,
      ...(t.exitCode !== undefined ? { exitCode: t.exitCode } : {}),
      ...(t.signal !== undefined ? { signal: t.signal } : {}),
      ...(t.message !== undefined ? { message: t.message } : {}),
      retired: this.cpu.retired,
      wallSeconds: (performance.now() - this.t0) / 1000,
      unimplemented: this.unimplemented,
    };
  }
}

/** A readable that has already ended: reads of fd 0 see end of file. */
function emptyStream(): NodeJS.ReadableStream {
  return Readable.from([]);
}

/** Loads and runs a program to completion (what `xenlab x86 run` and the benchmark call). */
export async function runLinuxProgram(opts: LinuxRunOptions): Promise<LinuxRunResult> {
  const p = new LinuxProcess(opts);
  p.load();
  return p.run();
}
