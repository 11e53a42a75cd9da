/**
 * The syscall dispatcher of the user-mode runner: RAX selects an entry in the table assembled
 * from the family modules (files, memory, process); anything else is -ENOSYS, counted, and with
 * `verbose` named on stderr once per number. The supported subset is listed in
 * docs/linux-user.md.
 */
import type { Cpu } from '../../x86/cpu.js';
import { ENOSYS } from './errno.js';
import type { LinuxProcess } from './process.js';
import { FILE_SYSCALLS } from './sys-files.js';
import { MEMORY_SYSCALLS } from './sys-memory.js';
import { PROCESS_SYSCALLS } from './sys-process.js';
import { SyscallArgs, type SyscallDef } from './syscall-abi.js';

/**
 * Deliberately not implemented, with the reason a libc copes: statx (glibc and musl fall back to
 * newfstatat), rseq (glibc carries on without restartable sequences), mremap (realloc falls back
 * to allocate-and-copy).
 */
const NOT_IMPLEMENTED: Readonly<Record<number, string>> = { 332: 'statx', 334: 'rseq', 25: 'mremap' };

/** Names of other syscalls a program may try, so the verbose line can say what was missing. */
const OTHER_NAMES: Readonly<Record<number, string>> = {
  7: 'poll', 23: 'select', 26: 'msync', 27: 'mincore', 29: 'shmget', 34: 'pause', 37: 'alarm', 38: 'setitimer',
  40: 'sendfile', 41: 'socket', 42: 'connect', 56: 'clone', 57: 'fork', 58: 'vfork', 59: 'execve', 61: 'wait4',
  73: 'flock', 76: 'truncate', 78: 'getdents', 81: 'fchdir', 86: 'link', 88: 'symlink', 90: 'chmod', 91: 'fchmod',
  92: 'chown', 93: 'fchown', 94: 'lchown', 98: 'getrusage', 100: 'times', 109: 'setpgid', 112: 'setsid', 115: 'getgroups', 132: 'utime', 137: 'statfs', 138: 'fstatfs',
  157: 'prctl', 202: 'futex', 213: 'epoll_create', 232: 'epoll_wait', 235: 'utimes', 247: 'waitid',
  253: 'inotify_init', 260: 'fchownat', 265: 'linkat', 266: 'symlinkat', 268: 'fchmodat', 270: 'pselect6',
  271: 'ppoll', 280: 'utimensat', 281: 'epoll_pwait', 285: 'fallocate', 290: 'eventfd2', 291: 'epoll_create1',
  309: 'getcpu', 319: 'memfd_create', 326: 'copy_file_range', 435: 'clone3',
};

const TABLE: ReadonlyMap<number, SyscallDef> = new Map(
  [...FILE_SYSCALLS, ...MEMORY_SYSCALLS, ...PROCESS_SYSCALLS].map((d) => [d.nr, d]),
);

/** Every implemented syscall, by number (for the documentation test). */
export const IMPLEMENTED_SYSCALLS: ReadonlyMap<number, SyscallDef> = TABLE;

export function syscallName(nr: number): string | undefined {
  return TABLE.get(nr)?.name ?? NOT_IMPLEMENTED[nr] ?? OTHER_NAMES[nr];
}

export function dispatchSyscall(p: LinuxProcess, c: Cpu): number | Promise<number> {
  const nr = c.reg64hi(0) === 0 ? c.reg64lo(0) >>> 0 : -1;
  const def = TABLE.get(nr);
  if (def !== undefined) return def.run(p, new SyscallArgs(c));
  const seen = p.unimplemented.get(nr) ?? 0;
  p.unimplemented.set(nr, seen + 1);
  if (p.verbose && seen === 0) {
    const name = syscallName(nr);
    p.log(`unimplemented syscall ${nr < 0 ? 'out of range' : nr}${name !== undefined ? ` (${name})` : ''} -> -ENOSYS`);
  }
  return -ENOSYS;
}
