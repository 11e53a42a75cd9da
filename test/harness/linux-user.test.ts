/**
 * The user-mode runner (harness/linux-user/) end to end: small freestanding static programs are
 * compiled with gcc at test time (cached by a hash of their source), run in-process, and print
 * what they saw: argv/envp/auxv, syscall results, faults. They are written to stay within the
 * CPU's core rows (ALU, MOV, LEA, stack, branches, SETcc/CMOVcc, SYSCALL, INT3, UD2): no
 * multiplies, divides or shifts (the HIDE barrier keeps gcc from turning digit loops into them).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireFixture } from '../../fixtures/pipeline/cache.js';
import { CpuidModel } from '../../harness/linux-user/cpuid.js';
import { runLinuxProgram, type LinuxRunOptions, type LinuxRunResult } from '../../harness/linux-user/process.js';
import { renderBenchTable, type CpuBenchReport } from '../../harness/bench/cpu-bench.js';
import { UserError } from '../../harness/errors.js';
import { ROOT, runCli } from '../support/cli.js';
import { scratchDir } from '../support/tmp.js';

const HEADER = String.raw`typedef unsigned long u64;
typedef long s64;
typedef unsigned int u32;
typedef unsigned char u8;

static inline long sc6(long n, long a, long b, long c, long d, long e, long f) {
  long r;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return r;
}
#define SC(n, a, b, c) sc6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)

static __attribute__((unused)) u64 slen(const char *s) { u64 n = 0; while (s[n]) n++; return n; }
static __attribute__((unused)) void out(const char *s) { SC(1, 1, s, slen(s)); }
static __attribute__((unused)) void outn(const char *s, u64 n) { SC(1, 1, s, n); }
/* Opaque to the optimiser, so digit loops stay subtraction loops (no div/shift). */
#define HIDE(x) __asm__("" : "+r"(x))
static __attribute__((unused)) void dec(s64 v) {
  static const u64 p10[] = {1000000000000000000UL, 100000000000000000UL, 10000000000000000UL, 1000000000000000UL,
    100000000000000UL, 10000000000000UL, 1000000000000UL, 100000000000UL, 10000000000UL, 1000000000UL, 100000000UL,
    10000000UL, 1000000UL, 100000UL, 10000UL, 1000UL, 100UL, 10UL, 1UL};
  char b[24]; int n = 0; u64 u = (u64)v;
  if (v < 0) { b[n++] = '-'; u = (u64)0 - u; }
  int started = 0;
  for (int i = 0; i < 19; i++) {
    char d = '0';
    u64 p = p10[i];
    while (u >= p) { u -= p; d++; HIDE(u); }
    if (d != '0' || started || i == 18) { b[n++] = d; started = 1; }
  }
  outn(b, n);
}
static __attribute__((unused)) void hexbyte(char *o, u32 x) {
  static const char dg[] = "0123456789abcdef";
  u32 hi = 0;
  while (x >= 16) { x -= 16; hi++; HIDE(x); }
  o[0] = dg[hi]; o[1] = dg[x];
}
static __attribute__((unused)) void hex(u64 v) {
  char b[18]; u8 *p = (u8 *)&v; b[0] = '0'; b[1] = 'x';
  for (int i = 0; i < 8; i++) hexbyte(b + 2 + 2 * i, p[7 - i]);
  outn(b, 18);
}
static __attribute__((unused)) void hexbytes(const u8 *p, int n) { char b[2]; for (int i = 0; i < n; i++) { hexbyte(b, p[i]); outn(b, 2); } }
static __attribute__((unused)) void kv(const char *k, s64 v) { out(k); out("="); dec(v); out("\n"); }
static __attribute__((unused)) void ks(const char *k, const char *v) { out(k); out("="); out(v); out("\n"); }

int main_(long argc, char **argv, char **envp, u64 *auxv, u64 sp);
__asm__(".text\n.globl _start\n.type _start,@function\n_start:\n  xor %ebp, %ebp\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call start_c\n  ud2\n");
__attribute__((visibility("hidden"))) void _start(void);
__attribute__((used)) void start_c(u64 *sp) {
  long argc = (long)sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;
  char **e = envp;
  while (*e) e++;
  u64 *auxv = (u64 *)(e + 1);
  long rc = main_(argc, argv, envp, auxv, (u64)sp);
  SC(231, rc, 0, 0);
}
`;

const PROGRAMS: Readonly<Record<string, string>> = {
  args: String.raw`#include "t.h"
int main_(long argc, char **argv, char **envp, u64 *auxv, u64 sp) {
  kv("argc", argc);
  for (long i = 0; i < argc; i++) { out("argv="); out(argv[i]); out("\n"); }
  for (char **e = envp; *e; e++) { out("envp="); out(*e); out("\n"); }
  kv("sp_mod16", (s64)(sp & 15));
  for (u64 *a = auxv; a[0] != 0; a += 2) {
    switch (a[0]) {
      case 3: kv("AT_PHDR_type", *(u32 *)a[1]); break;
      case 4: kv("AT_PHENT", a[1]); break;
      case 5: kv("AT_PHNUM", a[1]); break;
      case 6: kv("AT_PAGESZ", a[1]); break;
      case 7: kv("AT_BASE", a[1]); break;
      case 9: kv("AT_ENTRY_is_start", a[1] == (u64)&_start); break;
      case 11: kv("AT_UID", a[1]); break;
      case 12: kv("AT_EUID", a[1]); break;
      case 13: kv("AT_GID", a[1]); break;
      case 14: kv("AT_EGID", a[1]); break;
      case 15: ks("AT_PLATFORM", (const char *)a[1]); break;
      case 16: out("AT_HWCAP="); hex(a[1]); out("\n"); break;
      case 17: kv("AT_CLKTCK", a[1]); break;
      case 23: kv("AT_SECURE", a[1]); break;
      case 25: out("AT_RANDOM="); hexbytes((const u8 *)a[1], 16); out("\n"); break;
      case 31: ks("AT_EXECFN", (const char *)a[1]); break;
    }
  }
  out("entry="); hex((u64)&_start); out("\n");
  return 0;
}
`,
  sys: String.raw`#include "t.h"
static char buf[256];
static long tls_block[4] = {0x1234567, 0, 0, 0};
static int streq(const char *a, const char *b, long n) { for (long i = 0; i < n; i++) if (a[i] != b[i]) return 0; return 1; }
int main_(long argc, char **argv, char **envp, u64 *auxv, u64 sp) {
  (void)envp; (void)auxv; (void)sp;
  if (argc < 2) return 2;
  const char *path = argv[1];
  long fd = SC(2, path, 0x42 | 0x200, 0644); /* O_RDWR|O_CREAT|O_TRUNC */
  kv("open_ok", fd >= 3);
  kv("write", SC(1, fd, "hello world\n", 12));
  kv("lseek_set", sc6(8, fd, 0, 0, 0, 0, 0));
  long n = SC(0, fd, buf, 5);
  kv("read", n);
  kv("read_hello", streq(buf, "hello", 5));
  u64 st[18];
  kv("fstat", SC(5, fd, st, 0));
  kv("fstat_size", (s64)st[6]);
  kv("fstat_isreg", (((u32 *)st)[6] & 0170000) == 0100000);
  kv("lseek_end", sc6(8, fd, -6, 2, 0, 0, 0));
  n = SC(0, fd, buf, 100);
  kv("read_rest", n);
  kv("rest_world", streq(buf, "world\n", 6));
  kv("read_eof", SC(0, fd, buf, 100));
  kv("pread", sc6(17, fd, (long)buf, 5, 6, 0, 0));
  kv("pread_world", streq(buf, "world", 5));
  kv("close", SC(3, fd, 0, 0));
  kv("close_again", SC(3, fd, 0, 0));
  kv("newfstatat", sc6(262, -100, (long)path, (long)st, 0, 0, 0));
  kv("stat_size", (s64)st[6]);
  kv("open_missing", SC(2, "/nonexistent/xenlab/file", 0, 0));
  fd = SC(2, path, 0, 0);
  kv("read_badptr", SC(0, fd, 16, 10));
  kv("read_kernelptr", SC(0, fd, 0xffff800000000000UL, 10));
  SC(3, fd, 0, 0);
  kv("write_badptr", SC(1, 1, 16, 5));
  kv("fstat_badptr", SC(5, 1, 8, 0));
  kv("unknown_syscall", SC(9999, 0, 0, 0));
  kv("rseq", SC(334, 0, 0, 0));
  kv("unlink", SC(87, path, 0, 0));
  kv("access_after_unlink", SC(21, path, 0, 0));
  /* brk */
  long b0 = SC(12, 0, 0, 0);
  long b1 = SC(12, b0 + 200000, 0, 0);
  kv("brk_grow", b1 - b0);
  char *hp = (char *)b0;
  hp[0] = 1; hp[199999] = 2;
  kv("brk_rw", hp[0] + hp[199999]);
  kv("brk_shrink_ok", SC(12, b0, 0, 0) == b0);
  /* anonymous mmap */
  long m = sc6(9, 0, 1048576, 3, 0x22, -1, 0);
  kv("mmap_aligned", m > 0 && (m & 4095) == 0);
  char *mp = (char *)m;
  kv("mmap_zero", mp[4096 * 7] == 0);
  mp[0] = 7; mp[1048575] = 9;
  kv("mmap_rw", mp[0] + mp[1048575]);
  kv("munmap", SC(11, m, 1048576, 0));
  long fixed = sc6(9, 0x200000000L, 8192, 3, 0x32, -1, 0); /* MAP_FIXED */
  kv("mmap_fixed", fixed == 0x200000000L);
  kv("mprotect", SC(10, fixed, 4096, 1));
  kv("mmap_badlen", sc6(9, 0, 0, 3, 0x22, -1, 0));
  /* pipe */
  int pfd[2];
  kv("pipe", SC(22, pfd, 0, 0));
  kv("pipe_write", SC(1, pfd[1], "ping", 4));
  kv("pipe_read", SC(0, pfd[0], buf, 16));
  kv("pipe_ping", streq(buf, "ping", 4));
  SC(3, pfd[1], 0, 0);
  kv("pipe_eof", SC(0, pfd[0], buf, 16));
  long d = SC(32, 1, 0, 0);
  kv("dup_ok", d > 2);
  SC(1, d, "via dup\n", 8);
  kv("dup2", SC(33, 1, 40, 0));
  kv("fcntl_getfd", SC(72, 1, 1, 0));
  kv("ioctl_tcgets", SC(16, 1, 0x5401, buf));
  kv("ioctl_badfd", SC(16, 77, 0x5401, buf));
  kv("getpid", SC(39, 0, 0, 0));
  kv("getuid", SC(102, 0, 0, 0));
  char uts[390];
  kv("uname", SC(63, uts, 0, 0));
  ks("sysname", uts);
  ks("machine", uts + 65 * 4);
  u64 t1[2], t2[2];
  SC(228, 1, t1, 0);
  for (volatile int i = 0; i < 1000; i++) {}
  SC(228, 1, t2, 0);
  kv("clock_advances", t2[0] > t1[0] || (t2[0] == t1[0] && t2[1] > t1[1]));
  u64 req[2] = {2, 500};
  SC(35, req, 0, 0);
  SC(228, 1, t1, 0);
  kv("nanosleep_advanced", t1[0] >= 2);
  u8 rnd[8];
  kv("getrandom", SC(318, rnd, 8, 0));
  out("random="); hexbytes(rnd, 8); out("\n");
  kv("arch_prctl_set", SC(158, 0x1002, tls_block, 0));
  long v;
  __asm__ volatile("mov %%fs:0, %0" : "=r"(v));
  kv("fs0", v);
  u64 got = 0;
  kv("arch_prctl_get", SC(158, 0x1003, &got, 0));
  kv("fs_base_ok", got == (u64)tls_block);
  kv("arch_prctl_cpuid", SC(158, 0x1011, 0, 0));
  long len = SC(89, "/proc/self/exe", buf, 255);
  buf[len > 0 ? len : 0] = 0;
  ks("exe", buf);
  kv("getcwd_len_ok", SC(79, buf, 256, 0) > 1);
  return 42;
}
`,
  crash: String.raw`#include "t.h"
int main_(long argc, char **argv, char **envp, u64 *auxv, u64 sp) {
  (void)envp; (void)auxv; (void)sp;
  char how = argc > 1 ? argv[1][0] : '?';
  out("before\n");
  if (how == 's') *(volatile int *)0x10 = 1;
  if (how == 'u') __asm__ volatile("ud2");
  if (how == 'b') __asm__ volatile("int3");
  if (how == 'a') { long pid = SC(39, 0, 0, 0); SC(234, pid, pid, 6); }
  if (how == 'p') { int p[2]; SC(22, p, 0, 0); SC(3, p[0], 0, 0); SC(1, p[1], "x", 1); }
  if (how == 'c') { long pid = SC(39, 0, 0, 0); SC(62, pid, 17, 0); out("sigchld ignored\n"); return 3; }
  out("after\n");
  return 0;
}
`,
  cat: String.raw`#include "t.h"
static char buf[4096];
int main_(long argc, char **argv, char **envp, u64 *auxv, u64 sp) {
  (void)argc; (void)argv; (void)envp; (void)auxv; (void)sp;
  long total = 0;
  for (;;) {
    long n = SC(0, 0, buf, sizeof buf);
    if (n <= 0) break;
    SC(1, 1, buf, n);
    total += n;
  }
  return total == 0 ? 1 : 0;
}
`,
};

const CFLAGS = [
  '-O1', '-ffreestanding', '-fno-builtin', '-static', '-nostdlib', '-mgeneral-regs-only', '-fno-stack-protector',
  '-fcf-protection=none', '-fno-asynchronous-unwind-tables', '-fno-tree-loop-distribute-patterns', '-mno-red-zone',
  '-Wl,--build-id=none', '-Wall', '-Werror',
];
const NO_PIE = ['-fno-pie', '-no-pie'];
const STATIC_PIE = ['-fpie', '-static-pie'];
const CACHE = join(
  tmpdir(),
  'xenlab-linux-user-tests',
  createHash('sha256').update(JSON.stringify([HEADER, PROGRAMS, CFLAGS, NO_PIE, STATIC_PIE])).digest('hex').slice(0, 16),
);
const BENCH_DIR = join(ROOT, '..', 'shared', 'bench');

function gcc(args: readonly string[]): void {
  const r = spawnSync('gcc', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc ${args.join(' ')} failed:\n${r.stderr}`);
}

/** Compiles every test program once per source hash; returns name -> executable path. */
function buildPrograms(): Record<string, string> {
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(join(CACHE, 't.h'), HEADER);
  const bins: Record<string, string> = {};
  const variants: [string, string, readonly string[]][] = [
    ...Object.keys(PROGRAMS).map((n): [string, string, readonly string[]] => [n, n, NO_PIE]),
    ['args-pie', 'args', STATIC_PIE],
  ];
  for (const [name, src, flags] of variants) {
    const bin = join(CACHE, name);
    if (!existsSync(bin)) {
      const c = join(CACHE, `${src}.c`);
      writeFileSync(c, PROGRAMS[src] ?? '');
      gcc([...CFLAGS, ...flags, '-o', `${bin}.tmp`, c]);
      renameSync(`${bin}.tmp`, bin);
    }
    bins[name] = bin;
  }
  const dyn = join(CACHE, 'dynamic');
  if (!existsSync(dyn)) {
    writeFileSync(join(CACHE, 'dynamic.c'), 'int main(void) { return 0; }\n');
    gcc(['-O1', '-o', `${dyn}.tmp`, join(CACHE, 'dynamic.c')]);
    renameSync(`${dyn}.tmp`, dyn);
  }
  bins.dynamic = dyn;
  // The benchmark workloads (read-only sources; built into our cache).
  const make = spawnSync('make', ['-s', '-C', BENCH_DIR, `OUT=${join(CACHE, 'bench')}`, join(CACHE, 'bench', 'null'), join(CACHE, 'bench', 'call')], { encoding: 'utf8' });
  if (make.status !== 0) throw new Error(`make -C ${BENCH_DIR} failed:\n${make.stderr}`);
  bins.null = join(CACHE, 'bench', 'null');
  bins.call = join(CACHE, 'bench', 'call');
  return bins;
}

class Sink extends Writable {
  private readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk);
    cb();
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

interface Ran {
  r: LinuxRunResult;
  stdout: string;
  stderr: string;
  lines: string[];
}

async function run(program: string, args: readonly string[] = [], extra: Partial<LinuxRunOptions> = {}): Promise<Ran> {
  const stdout = new Sink();
  const stderr = new Sink();
  const r = await runLinuxProgram({ program, args, stdout, stderr, insnLimit: 50_000_000, ...extra });
  return { r, stdout: stdout.text, stderr: stderr.text, lines: stdout.text.split('\n') };
}

let bin: Record<string, string> = {};
const tmp = scratchDir('linux-user');

beforeAll(() => {
  bin = buildPrograms();
});

function prog(name: string): string {
  const p = bin[name];
  if (p === undefined) throw new Error(`test program ${name} was not built`);
  return p;
}

describe('linux-user loader: the initial stack', () => {
  it('passes argv, envp and the auxiliary vector per the SysV ABI, RSP 16-aligned', async () => {
    const { r, lines } = await run(prog('args'), ['one', 'two words'], { env: ['A=1', 'B=two'], seed: 7 });
    expect(r.status).toBe(0);
    expect(lines).toEqual(expect.arrayContaining([
      'argc=3', `argv=${prog('args')}`, 'argv=one', 'argv=two words', 'envp=A=1', 'envp=B=two', 'sp_mod16=0',
      'AT_PHDR_type=1', 'AT_PHENT=56', 'AT_PAGESZ=4096', 'AT_BASE=0', 'AT_ENTRY_is_start=1', 'AT_UID=1000',
      'AT_EUID=1000', 'AT_GID=1000', 'AT_EGID=1000', 'AT_SECURE=0', 'AT_CLKTCK=100', 'AT_PLATFORM=x86_64',
      `AT_EXECFN=${prog('args')}`, 'entry=0x0000000000401000',
    ]));
    // Exactly the two environment strings given, in order, right after argv.
    expect(lines.filter((l) => l.startsWith('envp='))).toEqual(['envp=A=1', 'envp=B=two']);
    expect(lines.find((l) => l.startsWith('AT_PHNUM='))).toMatch(/^AT_PHNUM=[1-9]\d*$/);
  });

  it('AT_RANDOM is 16 bytes derived from the seed: same seed, same bytes', async () => {
    const random = async (seed: number): Promise<string | undefined> =>
      (await run(prog('args'), [], { seed })).lines.find((l) => l.startsWith('AT_RANDOM='));
    const a = await random(1);
    expect(a).toMatch(/^AT_RANDOM=[0-9a-f]{32}$/);
    expect(await random(1)).toBe(a);
    expect(await random(2)).not.toBe(a);
  });

  it('AT_HWCAP is CPUID leaf 1 EDX as the runner answers it', async () => {
    const { lines } = await run(prog('args'));
    const { implementedFeatures } = await import('../../harness/linux-user/cpuid.js');
    const edx = new CpuidModel(new Set(implementedFeatures())).answer(1, 0)[3] >>> 0;
    expect(lines).toContain(`AT_HWCAP=0x${edx.toString(16).padStart(16, '0')}`);
  });

  it('loads a static-PIE executable at the fixed PIE base', async () => {
    const { r, lines } = await run(prog('args-pie'));
    expect(r.status).toBe(0);
    expect(lines).toContain('AT_ENTRY_is_start=1');
    const entry = lines.find((l) => l.startsWith('entry='));
    expect(BigInt(entry?.slice('entry='.length) ?? '0')).toBeGreaterThanOrEqual(0x555555554000n);
  });

  it('refuses a dynamically linked executable, a non-ELF file, a 32-bit machine and a missing file with one line each', async () => {
    const refuse = async (path: string): Promise<UserError> => {
      try {
        await run(path);
      } catch (e) {
        if (e instanceof UserError) return e;
        throw e;
      }
      throw new Error(`${path} was accepted`);
    };
    const dyn = await refuse(prog('dynamic'));
    expect([dyn.code, dyn.message]).toEqual(['bad-file', `${prog('dynamic')}: dynamically linked executables are not supported (link it with -static)`]);
    const text = join(tmp, 'not-elf');
    writeFileSync(text, 'just text\n');
    expect((await refuse(text)).message).toBe(`${text}: not a valid ELF file: no ELF magic`);
    const i386 = join(tmp, 'i386');
    const bytes = Uint8Array.from(readFileSync(prog('args')));
    bytes[18] = 3; // e_machine = EM_386
    writeFileSync(i386, bytes);
    expect((await refuse(i386)).message).toMatch(/: not an x86-64 executable \(ELF class 64, machine 3\)$/);
    const missing = await refuse(join(tmp, 'nope'));
    expect([missing.code, missing.message]).toEqual(['file-not-found', `${join(tmp, 'nope')}: no such file`]);
  });
});

describe('linux-user syscalls', () => {
  it('files, memory, pipes, identity, time and TLS behave like Linux; bad pointers are -EFAULT', async () => {
    const file = join(tmp, 'data.txt');
    const { r, lines, stderr } = await run(prog('sys'), [file], { cwd: tmp });
    expect(stderr).toBe('');
    expect(r.status).toBe(42);
    expect(r.exitCode).toBe(42);
    expect(lines).toEqual(expect.arrayContaining([
      'open_ok=1', 'write=12', 'lseek_set=0', 'read=5', 'read_hello=1', 'fstat=0', 'fstat_size=12', 'fstat_isreg=1',
      'lseek_end=6', 'read_rest=6', 'rest_world=1', 'read_eof=0', 'pread=5', 'pread_world=1', 'close=0',
      'close_again=-9', 'newfstatat=0', 'stat_size=12', 'open_missing=-2',
      'read_badptr=-14', 'read_kernelptr=-14', 'write_badptr=-14', 'fstat_badptr=-14',
      'unknown_syscall=-38', 'rseq=-38', 'unlink=0', 'access_after_unlink=-2',
      'brk_grow=200000', 'brk_rw=3', 'brk_shrink_ok=1',
      'mmap_aligned=1', 'mmap_zero=1', 'mmap_rw=16', 'munmap=0', 'mmap_fixed=1', 'mprotect=0', 'mmap_badlen=-22',
      'pipe=0', 'pipe_write=4', 'pipe_read=4', 'pipe_ping=1', 'pipe_eof=0',
      'dup_ok=1', 'via dup', 'dup2=40', 'fcntl_getfd=0', 'ioctl_tcgets=-25', 'ioctl_badfd=-9',
      'getpid=1000', 'getuid=1000', 'uname=0', 'sysname=Linux', 'machine=x86_64',
      'clock_advances=1', 'nanosleep_advanced=1', 'getrandom=8',
      'arch_prctl_set=0', `fs0=${0x1234567}`, 'arch_prctl_get=0', 'fs_base_ok=1', 'arch_prctl_cpuid=-22',
      `exe=${prog('sys')}`, 'getcwd_len_ok=1',
    ]));
    expect(existsSync(file)).toBe(false);
    expect([...r.unimplemented.keys()].sort((a, b) => a - b)).toEqual([334, 9999]);
  });

  it('getrandom is deterministic for a seed', async () => {
    const rnd = async (seed: number): Promise<string | undefined> =>
      (await run(prog('sys'), [join(tmp, `r${seed}`)], { seed })).lines.find((l) => l.startsWith('random='));
    const a = await rnd(5);
    expect(a).toMatch(/^random=[0-9a-f]{16}$/);
    expect(await rnd(5)).toBe(a);
  });

  it('--verbose names each unimplemented syscall once', async () => {
    const { stderr } = await run(prog('sys'), [join(tmp, 'v.txt')], { verbose: true });
    expect(stderr).toBe('xenlab: unimplemented syscall 9999 -> -ENOSYS\nxenlab: unimplemented syscall 334 (rseq) -> -ENOSYS\n');
  });

  it('reads stdin from the injected stream until end of file', async () => {
    const stdin = new PassThrough();
    const running = run(prog('cat'), [], { stdin });
    stdin.write('first line\n');
    stdin.end('second line\n');
    const { r, stdout } = await running;
    expect(stdout).toBe('first line\nsecond line\n');
    expect(r.status).toBe(0);
  });
});

describe('linux-user faults and signals', () => {
  const crash = (how: string): Promise<Ran> => run(prog('crash'), [how]);

  it('a wild store is SIGSEGV: one line naming the #PF, exit status 139', async () => {
    const { r, stdout, stderr } = await crash('s');
    expect(stdout).toBe('before\n');
    expect(stderr).toMatch(/^xenlab: guest killed by SIGSEGV \(#PF\(0x6\) at 0x10, rip 0x40[0-9a-f]{4}\)\n$/);
    expect([r.status, r.signal]).toEqual([139, 11]);
  });

  it('ud2 is SIGILL with the instruction bytes, int3 is SIGTRAP', async () => {
    const ud = await crash('u');
    expect(ud.stderr).toMatch(/^xenlab: guest killed by SIGILL \(#UD, rip 0x40[0-9a-f]{4}: 0f 0b( [0-9a-f]{2})*\)\n$/);
    expect(ud.r.status).toBe(132);
    const bp = await crash('b');
    expect(bp.stderr).toMatch(/^xenlab: guest killed by SIGTRAP \(#BP, rip 0x40[0-9a-f]{4}\)\n$/);
    expect(bp.r.status).toBe(133);
  });

  it('tgkill(SIGABRT) to itself terminates, SIGCHLD is ignored, a broken pipe is SIGPIPE', async () => {
    const abrt = await crash('a');
    expect([abrt.r.status, abrt.stderr]).toEqual([134, 'xenlab: guest killed by SIGABRT\n']);
    const chld = await crash('c');
    expect([chld.r.status, chld.stdout]).toEqual([3, 'before\nsigchld ignored\n']);
    const pipe = await crash('p');
    expect([pipe.r.status, pipe.stderr]).toEqual([141, 'xenlab: guest killed by SIGPIPE\n']);
  });

  it('stops a guest at the instruction limit', async () => {
    const { r } = await run(prog('args'), [], { insnLimit: 50 });
    expect(r.status).toBe(137);
    expect(r.message).toBe('guest killed by SIGKILL (instruction limit of 50 reached)');
    expect(r.retired).toBeGreaterThanOrEqual(50);
  });
});

describe('linux-user CPUID', () => {
  it('advertises only the features the CPU was built with', () => {
    const bits = (features: string[]): readonly number[] => new CpuidModel(new Set(features as never)).answer(1, 0);
    const core = bits(['base', 'cmov']);
    expect(((core[3] ?? 0) >>> 15) & 1).toBe(1); // CMOV
    expect(((core[3] ?? 0) >>> 25) & 3).toBe(0); // no SSE/SSE2
    expect(((bits(['base', 'sse2'])[3] ?? 0) >>> 26) & 1).toBe(1);
    const vendor = new CpuidModel(new Set(['base'])).answer(0, 0);
    const s = [vendor[1], vendor[3], vendor[2]].map((w) => String.fromCharCode(w & 255, (w >>> 8) & 255, (w >>> 16) & 255, (w >>> 24) & 255)).join('');
    expect(s).toBe('XenlabX86_64');
  });
});

describe('xenlab x86 run', () => {
  it('passes flag-like words after PROGRAM to the guest', async () => {
    const r = await runCli(['x86', 'run', prog('args'), '-n', 'foo']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`argc=3\nargv=${prog('args')}\nargv=-n\nargv=foo\n`);
  });

  it('takes its own flags anywhere, and passes them on after --', async () => {
    const own = await runCli(['x86', 'run', prog('null'), '--stats']);
    expect(own.stdout).toBe('null checksum=0x0000000000000000\n');
    expect(own.stderr).toMatch(/^xenlab: \d+ instructions retired in \d+\.\d{3} s wall \(\d+\.\d\d MIPS\)\n$/);
    const passed = await runCli(['x86', 'run', prog('args'), 'a', '--', '--stats']);
    expect(passed.stdout).toContain('argv=a\nargv=--stats\n');
    expect(passed.stderr).toBe('');
  });

  it("exits with the guest's status and reports user errors in one line", async () => {
    const r = await runCli(['x86', 'run', prog('sys'), join(tmp, 'cli.txt')]);
    expect(r.status).toBe(42);
    const dyn = await runCli(['x86', 'run', prog('dynamic')]);
    expect([dyn.status, dyn.stderr]).toEqual([1, `xenlab: ${prog('dynamic')}: dynamically linked executables are not supported (link it with -static)\n`]);
  });
});

describe('benchmark workloads of ../shared/bench', () => {
  it('null prints its checksum line', async () => {
    const { r, stdout } = await run(prog('null'));
    expect(stdout).toBe('null checksum=0x0000000000000000\n');
    expect(r.status).toBe(0);
  });

  it('null prints its checksum line in the interpreter too', async () => {
    const { r, stdout } = await run(prog('null'), [], { jit: false });
    expect([r.status, stdout]).toEqual([0, 'null checksum=0x0000000000000000\n']);
  });

  it('call prints its checksum line', async () => {
    const expected = readFileSync(join(BENCH_DIR, 'expected.txt'), 'utf8').split('\n').find((l) => l.startsWith('call '));
    const { r, stdout, stderr } = await run(prog('call'), [], { insnLimit: 400_000_000 });
    expect(stderr).toBe('');
    expect(stdout).toBe(`${expected}\n`);
    expect(r.status).toBe(0);
  });
});

describe('static busybox (glibc) from the fixtures', () => {
  it('echo and sha256sum give the same output as the host would', async () => {
    const busybox = (await requireFixture('busybox')).file('busybox');
    const echo = await run(busybox, ['echo', 'hello', 'from', 'busybox'], { insnLimit: 200_000_000 });
    expect([echo.r.status, echo.stdout]).toEqual([0, 'hello from busybox\n']);
    const data = join(tmp, 'sha-input.txt');
    writeFileSync(data, 'xenlab '.repeat(1000));
    const sum = await run(busybox, ['sha256sum', data], { insnLimit: 200_000_000 });
    const want = createHash('sha256').update(readFileSync(data)).digest('hex');
    expect([sum.r.status, sum.stdout]).toEqual([0, `${want}  ${data}\n`]);
  });
});

describe('benchmark table', () => {
  it('shows a failed workload with its reason and keeps it out of the geometric mean', () => {
    const report: CpuBenchReport = {
      version: 1,
      node: 'v20',
      results: [
        { name: 'alu', ok: true, retired: 100, emulatedSeconds: 2, nativeInstructions: 4e8, nativeSeconds: 0.1, mips: 200, slowdown: 20, checksumMatch: true },
        { name: 'call', ok: true, retired: 100, emulatedSeconds: 1, nativeInstructions: 5e7, nativeSeconds: 0.02, mips: 50, slowdown: 50, checksumMatch: true },
        { name: 'mem', ok: false, reason: 'guest killed by SIGILL (#UD, rip 0x401000: f3 48 a5)', retired: 7, emulatedSeconds: 0.01, nativeInstructions: 1, nativeSeconds: 0.1, checksumMatch: false },
      ],
      geomean: { mips: 100, slowdown: Math.sqrt(1000), over: ['alu', 'call'] },
    };
    const lines = renderBenchTable(report).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^WORKLOAD\s+RESULT\s+RETIRED\s+EMULATED\s+MIPS\s+NATIVE\s+SLOWDOWN\s+CHECKSUM$/);
    expect(lines[3]).toMatch(/^mem\s+FAILED\s+7\s+0\.010 s\s+-\s+0\.1000 s\s+-\s+MISMATCH$/);
    expect(lines[4]).toMatch(/^geomean\s+2 ok\s+100\.00\s+32x$/);
    expect(lines.slice(5)).toEqual([
      'mem: guest killed by SIGILL (#UD, rip 0x401000: f3 48 a5)',
      '2 of 3 workloads passed; geomean over alu, call (null excluded: start-up only)',
    ]);
  });
});
