/**
 * Process, identity, signal, time and randomness syscalls. Everything here is deterministic:
 * fixed ids and uname strings, the virtual clock (retired instructions at NOMINAL_HZ plus time
 * slept), and randomness from the run's seed. Signal dispositions and masks are recorded and
 * reported back, but no signal is ever delivered to a handler (see signals.ts).
 */
import { EFAULT, EINVAL, EPERM, ESRCH } from './errno.js';
import { USER_END } from './address-space.js';
import { EPOCH_SECONDS, type LinuxProcess } from './process.js';
import { SIGKILL, SIGRTMAX, SIGSTOP } from './signals.js';
import { words64, type SyscallDef } from './syscall-abi.js';

const ARCH_SET_GS = 0x1001;
const ARCH_SET_FS = 0x1002;
const ARCH_GET_FS = 0x1003;
const ARCH_GET_GS = 0x1004;
const FS = 4;
const GS = 5;

/** uname(2) fields, 65 bytes each: sysname, nodename, release, version, machine, domainname. */
const UTSNAME = ['Linux', 'xenlab', '6.1.0-xenlab', '#1 SMP PREEMPT_DYNAMIC xenlab user-mode runner', 'x86_64', '(none)'];

const RLIM_INFINITY = -1n;
const RLIMIT_NLIMITS = 16;

function limits(p: LinuxProcess, resource: number): [bigint, bigint] {
  return p.rlimits.get(resource) ?? [RLIM_INFINITY, RLIM_INFINITY];
}

/** prlimit64/getrlimit/setrlimit on the calling process. */
function prlimit(p: LinuxProcess, pid: number, resource: number, newPtr: number, oldPtr: number): number {
  if (pid !== 0 && pid !== p.pid) return -ESRCH;
  if (resource < 0 || resource >= RLIMIT_NLIMITS) return -EINVAL;
  let next: [bigint, bigint] | undefined;
  if (newPtr !== 0) {
    const raw = p.space.read(newPtr, 16);
    if (raw === undefined) return -EFAULT;
    const v = new DataView(raw.buffer);
    next = [v.getBigInt64(0, true), v.getBigInt64(8, true)];
    const unsigned = (x: bigint): bigint => BigInt.asUintN(64, x);
    if (unsigned(next[0]) > unsigned(next[1])) return -EINVAL;
    const cur = limits(p, resource);
    if (unsigned(next[1]) > unsigned(cur[1])) return -EPERM; // raising the hard limit needs privilege
  }
  const old = limits(p, resource);
  if (oldPtr !== 0 && !p.space.write(oldPtr, words64(old[0], old[1]))) return -EFAULT;
  if (next !== undefined) {
    p.rlimits.set(resource, next);
    if (resource === 7) p.fds.limit = Number(BigInt.asUintN(64, next[0]) > 65536n ? 65536n : BigInt.asUintN(64, next[0]));
  }
  return 0;
}

function clockGettime(p: LinuxProcess, clock: number, ptr: number): number {
  const ns = clockNs(p, clock);
  if (ns === undefined) return -EINVAL;
  return p.space.write(ptr, words64(ns / 1_000_000_000n, ns % 1_000_000_000n)) ? 0 : -EFAULT;
}

/** Clock ids (include/uapi/linux/time.h): realtime = epoch + virtual time; the rest count from start-up. */
function clockNs(p: LinuxProcess, clock: number): bigint | undefined {
  const t = p.nowNs();
  switch (clock) {
    case 0: // CLOCK_REALTIME
    case 5: // CLOCK_REALTIME_COARSE
    case 11: // CLOCK_TAI
      return EPOCH_SECONDS * 1_000_000_000n + t;
    case 1: // CLOCK_MONOTONIC
    case 4: // CLOCK_MONOTONIC_RAW
    case 6: // CLOCK_MONOTONIC_COARSE
    case 7: // CLOCK_BOOTTIME
      return t;
    case 2: // CLOCK_PROCESS_CPUTIME_ID
    case 3: // CLOCK_THREAD_CPUTIME_ID
      return t - p.sleptNs;
    default:
      return undefined;
  }
}

/** Reads a timespec and advances the virtual clock by it (nanosleep never blocks the host). */
function sleep(p: LinuxProcess, reqPtr: number, remPtr: number, clock = 1, absolute = false): number {
  const raw = p.space.read(reqPtr, 16);
  if (raw === undefined) return -EFAULT;
  const v = new DataView(raw.buffer);
  const sec = v.getBigInt64(0, true);
  const nsec = v.getBigInt64(8, true);
  if (sec < 0n || nsec < 0n || nsec >= 1_000_000_000n) return -EINVAL;
  let ns = sec * 1_000_000_000n + nsec;
  if (absolute) {
    const now = clockNs(p, clock);
    if (now === undefined) return -EINVAL;
    ns = ns > now ? ns - now : 0n;
  }
  p.sleptNs += ns;
  if (remPtr !== 0 && !absolute) p.space.write(remPtr, words64(0n, 0n));
  return 0;
}

function rtSigaction(p: LinuxProcess, sig: number, actPtr: number, oldPtr: number, setsize: number): number {
  if (setsize !== 8 || sig < 1 || sig > SIGRTMAX) return -EINVAL;
  let next: Uint8Array | undefined;
  if (actPtr !== 0) {
    if (sig === SIGKILL || sig === SIGSTOP) return -EINVAL;
    next = p.space.read(actPtr, 32);
    if (next === undefined) return -EFAULT;
  }
  if (oldPtr !== 0 && !p.space.write(oldPtr, p.sigactions.get(sig) ?? new Uint8Array(32))) return -EFAULT;
  if (next !== undefined) p.sigactions.set(sig, next);
  return 0;
}

function rtSigprocmask(p: LinuxProcess, how: number, setPtr: number, oldPtr: number, setsize: number): number {
  if (setsize !== 8) return -EINVAL;
  let set: Uint8Array | undefined;
  if (setPtr !== 0) {
    if (how < 0 || how > 2) return -EINVAL;
    set = p.space.read(setPtr, 8);
    if (set === undefined) return -EFAULT;
  }
  if (oldPtr !== 0 && !p.space.write(oldPtr, p.sigmask.slice())) return -EFAULT;
  if (set !== undefined) {
    const cur = p.sigmask;
    const next = new Uint8Array(8);
    for (let k = 0; k < 8; k++) {
      const s = set[k] ?? 0;
      const c = cur[k] ?? 0;
      next[k] = how === 0 ? c | s : how === 1 ? c & ~s : s; // SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK
    }
    // SIGKILL and SIGSTOP cannot be blocked.
    next[1] = (next[1] ?? 0) & ~0x01 & ~0x04;
    p.sigmask = next;
  }
  return 0;
}

function killSelf(p: LinuxProcess, sig: number): number {
  if (sig < 0 || sig > SIGRTMAX) return -EINVAL;
  if (sig !== 0) p.raise(sig);
  return 0;
}

const ids = (f: (p: LinuxProcess) => number) => (p: LinuxProcess): number => f(p);

export const PROCESS_SYSCALLS: readonly SyscallDef[] = [
  { nr: 60, name: 'exit', run: (p, a) => (p.exit(a.int(0)), 0) },
  { nr: 231, name: 'exit_group', run: (p, a) => (p.exit(a.int(0)), 0) },
  { nr: 39, name: 'getpid', run: ids((p) => p.pid) },
  { nr: 186, name: 'gettid', run: ids((p) => p.pid) },
  { nr: 110, name: 'getppid', run: ids((p) => p.pid - 1) },
  { nr: 111, name: 'getpgrp', run: ids((p) => p.pid) },
  { nr: 121, name: 'getpgid', run: (p, a) => (a.int(0) === 0 || a.int(0) === p.pid ? p.pid : -ESRCH) },
  { nr: 124, name: 'getsid', run: (p, a) => (a.int(0) === 0 || a.int(0) === p.pid ? p.pid : -ESRCH) },
  { nr: 102, name: 'getuid', run: ids((p) => p.uid) },
  { nr: 107, name: 'geteuid', run: ids((p) => p.uid) },
  { nr: 104, name: 'getgid', run: ids((p) => p.gid) },
  { nr: 108, name: 'getegid', run: ids((p) => p.gid) },
  // Not privileged: only "changing" to the ids the process already has succeeds.
  { nr: 105, name: 'setuid', run: (p, a) => (a.u32(0) === p.uid ? 0 : -EPERM) },
  { nr: 106, name: 'setgid', run: (p, a) => (a.u32(0) === p.gid ? 0 : -EPERM) },
  {
    nr: 63, name: 'uname',
    run: (p, a) => {
      const b = new Uint8Array(65 * 6);
      const enc = new TextEncoder();
      UTSNAME.forEach((s, k) => b.set(enc.encode(s), 65 * k));
      return p.space.write(a.ptr(0), b) ? 0 : -EFAULT;
    },
  },
  {
    nr: 158, name: 'arch_prctl',
    run: (p, a) => {
      const code = a.int(0);
      const addr = a.u64(1);
      switch (code) {
        case ARCH_SET_FS:
        case ARCH_SET_GS:
          if (addr >= USER_END) return -EPERM;
          p.cpu.segBase[code === ARCH_SET_FS ? FS : GS] = addr;
          return 0;
        case ARCH_GET_FS:
        case ARCH_GET_GS: {
          const base = p.cpu.segBase[code === ARCH_GET_FS ? FS : GS] ?? 0;
          return p.space.write(addr, words64(BigInt(base))) ? 0 : -EFAULT;
        }
        default:
          // ARCH_GET_CPUID/ARCH_SET_CPUID, ARCH_MAP_VDSO_*, ARCH_*_XCOMP_*: not offered.
          return -EINVAL;
      }
    },
  },
  { nr: 218, name: 'set_tid_address', run: ids((p) => p.pid) },
  { nr: 273, name: 'set_robust_list', run: (_p, a) => (a.u64(1) === 24 ? 0 : -EINVAL) },
  { nr: 302, name: 'prlimit64', run: (p, a) => prlimit(p, a.int(0), a.int(1), a.ptr(2), a.ptr(3)) },
  { nr: 97, name: 'getrlimit', run: (p, a) => prlimit(p, 0, a.int(0), 0, a.ptr(1)) },
  { nr: 160, name: 'setrlimit', run: (p, a) => prlimit(p, 0, a.int(0), a.ptr(1), 0) },
  { nr: 13, name: 'rt_sigaction', run: (p, a) => rtSigaction(p, a.int(0), a.ptr(1), a.ptr(2), a.u64(3)) },
  { nr: 14, name: 'rt_sigprocmask', run: (p, a) => rtSigprocmask(p, a.int(0), a.ptr(1), a.ptr(2), a.u64(3)) },
  {
    nr: 131, name: 'sigaltstack',
    run: (p, a) => {
      let next: Uint8Array | undefined;
      if (a.ptr(0) !== 0) {
        next = p.space.read(a.ptr(0), 24);
        if (next === undefined) return -EFAULT;
      }
      if (a.ptr(1) !== 0 && !p.space.write(a.ptr(1), p.altstack.slice())) return -EFAULT;
      if (next !== undefined) p.altstack = next;
      return 0;
    },
  },
  {
    nr: 62, name: 'kill',
    run: (p, a) => {
      const pid = a.int(0);
      return pid === p.pid || pid === 0 || pid === -1 || pid === -p.pid ? killSelf(p, a.int(1)) : -ESRCH;
    },
  },
  { nr: 200, name: 'tkill', run: (p, a) => (a.int(0) === p.pid ? killSelf(p, a.int(1)) : a.int(0) <= 0 ? -EINVAL : -ESRCH) },
  {
    nr: 234, name: 'tgkill',
    run: (p, a) => (a.int(0) <= 0 || a.int(1) <= 0 ? -EINVAL : a.int(0) === p.pid && a.int(1) === p.pid ? killSelf(p, a.int(2)) : -ESRCH),
  },
  {
    nr: 318, name: 'getrandom',
    run: (p, a) => {
      if ((a.int(2) & ~7) !== 0) return -EINVAL; // GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE
      const n = Math.min(a.u64(1), 0x1ffffff);
      if (!p.space.writable(a.ptr(0), n)) return -EFAULT;
      p.space.write(a.ptr(0), p.rng.bytes(n));
      return n;
    },
  },
  { nr: 228, name: 'clock_gettime', run: (p, a) => clockGettime(p, a.int(0), a.ptr(1)) },
  {
    nr: 229, name: 'clock_getres',
    run: (p, a) => {
      if (clockNs(p, a.int(0)) === undefined) return -EINVAL;
      return a.ptr(1) === 0 || p.space.write(a.ptr(1), words64(0n, 1n)) ? 0 : -EFAULT;
    },
  },
  {
    nr: 96, name: 'gettimeofday',
    run: (p, a) => {
      if (a.ptr(0) === 0) return 0;
      const ns = clockNs(p, 0) ?? 0n;
      return p.space.write(a.ptr(0), words64(ns / 1_000_000_000n, (ns % 1_000_000_000n) / 1000n)) ? 0 : -EFAULT;
    },
  },
  {
    nr: 201, name: 'time',
    run: (p, a) => {
      const s = (clockNs(p, 0) ?? 0n) / 1_000_000_000n;
      if (a.ptr(0) !== 0 && !p.space.write(a.ptr(0), words64(s))) return -EFAULT;
      return Number(s);
    },
  },
  { nr: 35, name: 'nanosleep', run: (p, a) => sleep(p, a.ptr(0), a.ptr(1)) },
  {
    nr: 230, name: 'clock_nanosleep',
    run: (p, a) => {
      if (clockNs(p, a.int(0)) === undefined) return -EINVAL;
      return sleep(p, a.ptr(2), a.ptr(3), a.int(0), (a.int(1) & 1) !== 0);
    },
  },
  {
    nr: 99, name: 'sysinfo',
    // struct sysinfo (112 bytes): a fixed 1 GiB machine with half free, one process, uptime from
    // the virtual clock; loads 0, no swap, mem_unit 1.
    run: (p, a) => {
      const b = new Uint8Array(112);
      const v = new DataView(b.buffer);
      v.setBigInt64(0, p.nowNs() / 1_000_000_000n, true);
      v.setBigUint64(32, 1n << 30n, true);
      v.setBigUint64(40, 1n << 29n, true);
      v.setUint16(80, 1, true);
      v.setUint32(104, 1, true);
      return p.space.write(a.ptr(0), b) ? 0 : -EFAULT;
    },
  },
  { nr: 24, name: 'sched_yield', run: () => 0 },
  {
    nr: 204, name: 'sched_getaffinity',
    run: (p, a) => {
      if (a.int(0) !== 0 && a.int(0) !== p.pid) return -ESRCH;
      const len = a.u64(1);
      if (len < 8 || len % 8 !== 0) return -EINVAL;
      // One CPU: bit 0 of an 8-byte mask; the syscall returns the mask size it wrote.
      return p.space.write(a.ptr(2), words64(1n)) ? 8 : -EFAULT;
    },
  },
];
