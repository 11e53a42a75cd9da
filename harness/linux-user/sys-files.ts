/**
 * File syscalls over the host's real files (paths relative to the guest's cwd, which starts as
 * the host's) and the process's pipes and injected streams. Every guest pointer goes through
 * `AddressSpace.read`/`write`: a bad one is -EFAULT. OUT buffers are written only on success.
 */
import * as fs from 'node:fs';
import { resolve } from 'node:path';
import {
  EBADF, EFAULT, EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTTY, EPIPE, ERANGE, hostErrno,
} from './errno.js';
import {
  HostFile, O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NOCTTY, O_NOFOLLOW,
  O_NONBLOCK, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, PipeWriteEnd, makePipe, statFromHost, type OpenFile,
  type ReadResult,
} from './files.js';
import type { LinuxProcess } from './process.js';
import { SIGPIPE } from './signals.js';
import { encodeStat, int32s, type SyscallArgs, type SyscallDef } from './syscall-abi.js';

export const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_REMOVEDIR = 0x200;
const AT_EMPTY_PATH = 0x1000;
/** Linux caps one read/write at 0x7ffff000 bytes; we cap lower to bound host buffers. */
const MAX_IO = 16 * 1024 * 1024;
const IOV_MAX = 1024;
const PATH_MAX = 4096;

const F_DUPFD = 0;
const F_GETFD = 1;
const F_SETFD = 2;
const F_GETFL = 3;
const F_SETFL = 4;
const F_DUPFD_CLOEXEC = 1030;
const FD_CLOEXEC = 1;

const dec = new TextDecoder();
const enc = new TextEncoder();

/** A guest path argument resolved to a host path, or -errno. */
function guestPath(p: LinuxProcess, dirfd: number, ptr: number): string | number {
  const raw = p.space.readCString(ptr, PATH_MAX);
  if (raw === undefined) return -EFAULT;
  const path = dec.decode(raw);
  if (path === '') return -ENOENT;
  if (path === '/proc/self/exe') return p.programPath;
  if (path.startsWith('/')) return path;
  if (dirfd === AT_FDCWD) return resolve(p.cwd, path);
  const f = p.fds.get(dirfd);
  if (f === undefined) return -EBADF;
  if (f.path === undefined) return -ENOTDIR;
  return resolve(f.path, path);
}

function hostOpenFlags(flags: number): number {
  const c = fs.constants;
  const acc = flags & O_ACCMODE;
  let h = acc === O_WRONLY ? c.O_WRONLY : acc === O_RDWR ? c.O_RDWR : c.O_RDONLY;
  if (flags & O_CREAT) h |= c.O_CREAT;
  if (flags & O_EXCL) h |= c.O_EXCL;
  if (flags & O_TRUNC) h |= c.O_TRUNC;
  if (flags & O_APPEND) h |= c.O_APPEND;
  if (flags & O_DIRECTORY) h |= c.O_DIRECTORY;
  if (flags & O_NOFOLLOW) h |= c.O_NOFOLLOW;
  if (flags & O_NOCTTY) h |= c.O_NOCTTY;
  return h;
}

function openat(p: LinuxProcess, dirfd: number, pathPtr: number, flags: number, mode: number): number {
  const path = guestPath(p, dirfd, pathPtr);
  if (typeof path === 'number') return path;
  let fd: number;
  try {
    fd = fs.openSync(path, hostOpenFlags(flags), mode & ~p.umask & 0o7777);
  } catch (e) {
    return hostErrno(e);
  }
  let isDir = false;
  try {
    isDir = fs.fstatSync(fd).isDirectory();
  } catch {
    isDir = false;
  }
  if (isDir && (flags & O_ACCMODE) !== O_RDONLY) {
    fs.closeSync(fd);
    return -EISDIR;
  }
  const file = new HostFile(fd, path, flags & (O_ACCMODE | O_APPEND | O_NONBLOCK), isDir);
  const gfd = p.fds.alloc(file, (flags & O_CLOEXEC) !== 0);
  if (gfd < 0) file.release();
  return gfd;
}

/** Completes a read whose data source may block: copies the bytes out when they come. */
function finishRead(p: LinuxProcess, f: OpenFile, r: ReadResult, buf: number, count: number): number | Promise<number> {
  if (r === 'block') {
    return (async () => {
      let next: ReadResult = 'block';
      while (next === 'block') {
        await f.ready();
        next = f.read(count);
      }
      return deliver(p, next, buf);
    })();
  }
  return deliver(p, r, buf);
}

function deliver(p: LinuxProcess, r: Exclude<ReadResult, 'block'>, buf: number): number {
  if (typeof r === 'number') return r;
  return p.space.write(buf, r) ? r.length : -EFAULT;
}

function sysRead(p: LinuxProcess, fd: number, buf: number, count: number): number | Promise<number> {
  const f = p.fds.get(fd);
  if (f === undefined || !f.readable) return -EBADF;
  const n = Math.min(count, MAX_IO);
  if (!p.space.writable(buf, n)) return -EFAULT;
  if (n === 0) return 0;
  return finishRead(p, f, f.read(n), buf, n);
}

function sysWrite(p: LinuxProcess, fd: number, bytes: Uint8Array): number {
  const f = p.fds.get(fd);
  if (f === undefined || !f.writable) return -EBADF;
  const r = f.write(bytes);
  if (r === -EPIPE && f instanceof PipeWriteEnd) p.raise(SIGPIPE);
  return r;
}

/** Reads an iovec array: [base, len] pairs, or -errno. */
function readIov(p: LinuxProcess, ptr: number, cnt: number): [number, number][] | number {
  if (cnt < 0 || cnt > IOV_MAX) return -EINVAL;
  const raw = p.space.read(ptr, cnt * 16);
  if (raw === undefined) return -EFAULT;
  const v = new DataView(raw.buffer);
  const out: [number, number][] = [];
  let total = 0;
  for (let k = 0; k < cnt; k++) {
    const base = Number(v.getBigUint64(16 * k, true));
    const len = Number(v.getBigUint64(16 * k + 8, true));
    total += len;
    if (len > 0x7fffffffffff || total > 0x7fffffffffff) return -EINVAL;
    out.push([base, len]);
  }
  return out;
}

function writeStat(p: LinuxProcess, buf: number, st: ReturnType<OpenFile['stat']>): number {
  return p.space.write(buf, encodeStat(st)) ? 0 : -EFAULT;
}

function statPath(p: LinuxProcess, dirfd: number, pathPtr: number, buf: number, flags: number): number {
  if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x800 /* AT_NO_AUTOMOUNT */)) !== 0) return -EINVAL;
  if ((flags & AT_EMPTY_PATH) !== 0) {
    const raw = p.space.readCString(pathPtr, PATH_MAX);
    if (raw === undefined) return -EFAULT;
    if (raw.length === 0) {
      if (dirfd === AT_FDCWD) return statHost(p, p.cwd, buf, false);
      const f = p.fds.get(dirfd);
      return f === undefined ? -EBADF : writeStat(p, buf, f.stat());
    }
  }
  const path = guestPath(p, dirfd, pathPtr);
  if (typeof path === 'number') return path;
  return statHost(p, path, buf, (flags & AT_SYMLINK_NOFOLLOW) !== 0);
}

function statHost(p: LinuxProcess, path: string, buf: number, noFollow: boolean): number {
  let st: fs.BigIntStats;
  try {
    st = noFollow ? fs.lstatSync(path, { bigint: true }) : fs.statSync(path, { bigint: true });
  } catch (e) {
    return hostErrno(e);
  }
  return writeStat(p, buf, statFromHost(st));
}

function dupTo(p: LinuxProcess, oldfd: number, newfd: number, cloexec: boolean): number {
  const f = p.fds.get(oldfd);
  if (f === undefined) return -EBADF;
  if (newfd < 0 || newfd >= p.fds.limit) return -EBADF;
  if (oldfd === newfd) return newfd;
  p.fds.dup(f);
  p.fds.install(newfd, f, cloexec);
  return newfd;
}

function pipe2(p: LinuxProcess, ptr: number, flags: number): number {
  if ((flags & ~(O_CLOEXEC | O_NONBLOCK)) !== 0) return -EINVAL;
  if (!p.space.writable(ptr, 8)) return -EFAULT;
  const [r, w] = makePipe(p.newIno(), flags, () => p.nowNs());
  const cloexec = (flags & O_CLOEXEC) !== 0;
  const rfd = p.fds.alloc(r, cloexec);
  if (rfd < 0) return rfd;
  const wfd = p.fds.alloc(w, cloexec);
  if (wfd < 0) {
    p.fds.close(rfd);
    return wfd;
  }
  p.space.write(ptr, int32s(rfd, wfd));
  return 0;
}

function access(p: LinuxProcess, dirfd: number, pathPtr: number, mode: number): number {
  if ((mode & ~7) !== 0) return -EINVAL;
  const path = guestPath(p, dirfd, pathPtr);
  if (typeof path === 'number') return path;
  try {
    fs.accessSync(path, mode);
    return 0;
  } catch (e) {
    return hostErrno(e);
  }
}

function readlink(p: LinuxProcess, dirfd: number, pathPtr: number, buf: number, size: number): number {
  if (size <= 0 || size > 0x7fffffff) return -EINVAL;
  const raw = p.space.readCString(pathPtr, PATH_MAX);
  if (raw === undefined) return -EFAULT;
  let target: string;
  if (dec.decode(raw) === '/proc/self/exe') target = p.programPath;
  else {
    const path = guestPath(p, dirfd, pathPtr);
    if (typeof path === 'number') return path;
    try {
      target = fs.readlinkSync(path);
    } catch (e) {
      return hostErrno(e);
    }
  }
  const bytes = enc.encode(target).subarray(0, size);
  return p.space.write(buf, bytes) ? bytes.length : -EFAULT;
}

function hostCall(fn: () => void): number {
  try {
    fn();
    return 0;
  } catch (e) {
    return hostErrno(e);
  }
}

function unlinkat(p: LinuxProcess, dirfd: number, pathPtr: number, flags: number): number {
  if ((flags & ~AT_REMOVEDIR) !== 0) return -EINVAL;
  const path = guestPath(p, dirfd, pathPtr);
  if (typeof path === 'number') return path;
  return hostCall(() => ((flags & AT_REMOVEDIR) !== 0 ? fs.rmdirSync(path) : fs.unlinkSync(path)));
}

function mkdirat(p: LinuxProcess, dirfd: number, pathPtr: number, mode: number): number {
  const path = guestPath(p, dirfd, pathPtr);
  if (typeof path === 'number') return path;
  return hostCall(() => fs.mkdirSync(path, { mode: mode & ~p.umask & 0o7777 }));
}

function renameat(p: LinuxProcess, olddir: number, oldPtr: number, newdir: number, newPtr: number, flags: number): number {
  if (flags !== 0) return -EINVAL;
  const from = guestPath(p, olddir, oldPtr);
  if (typeof from === 'number') return from;
  const to = guestPath(p, newdir, newPtr);
  if (typeof to === 'number') return to;
  return hostCall(() => fs.renameSync(from, to));
}

/** getdents64: `struct linux_dirent64` records (d_ino, d_off, d_reclen, d_type, name). */
function getdents64(p: LinuxProcess, fd: number, buf: number, count: number): number {
  const f = p.fds.get(fd);
  if (f === undefined) return -EBADF;
  if (!(f instanceof HostFile) || f.path === undefined) return -ENOTDIR;
  let names: string[];
  try {
    names = ['.', '..', ...fs.readdirSync(f.path)];
  } catch (e) {
    return hostErrno(e);
  }
  const out: Uint8Array[] = [];
  let used = 0;
  while (f.dirIndex < names.length) {
    const name = names[f.dirIndex] as string;
    const nameBytes = enc.encode(name);
    const reclen = Math.ceil((19 + nameBytes.length + 1) / 8) * 8;
    if (used + reclen > count) break;
    let ino = 0n;
    let type = 0;
    try {
      const st = fs.lstatSync(resolve(f.path, name), { bigint: true });
      ino = st.ino;
      type = st.isDirectory() ? 4 : st.isFile() ? 8 : st.isSymbolicLink() ? 10 : st.isFIFO() ? 1 : st.isCharacterDevice() ? 2 : st.isBlockDevice() ? 6 : st.isSocket() ? 12 : 0;
    } catch {
      // Vanished between readdir and lstat: DT_UNKNOWN, as a racing kernel might report.
    }
    const rec = new Uint8Array(reclen);
    const v = new DataView(rec.buffer);
    v.setBigUint64(0, ino, true);
    v.setBigInt64(8, BigInt(f.dirIndex + 1), true);
    v.setUint16(16, reclen, true);
    rec[18] = type;
    rec.set(nameBytes, 19);
    out.push(rec);
    used += reclen;
    f.dirIndex++;
  }
  if (out.length === 0 && f.dirIndex < names.length) return -EINVAL; // buffer too small
  const all = new Uint8Array(used);
  let pos = 0;
  for (const r of out) {
    all.set(r, pos);
    pos += r.length;
  }
  return p.space.write(buf, all) ? used : -EFAULT;
}

export const FILE_SYSCALLS: readonly SyscallDef[] = [
  { nr: 0, name: 'read', run: (p, a) => sysRead(p, a.int(0), a.ptr(1), a.u64(2)) },
  {
    nr: 1, name: 'write',
    run: (p, a) => {
      const f = p.fds.get(a.int(0));
      if (f === undefined || !f.writable) return -EBADF;
      const bytes = p.space.read(a.ptr(1), Math.min(a.u64(2), MAX_IO));
      return bytes === undefined ? -EFAULT : sysWrite(p, a.int(0), bytes);
    },
  },
  { nr: 2, name: 'open', run: (p, a) => openat(p, AT_FDCWD, a.ptr(0), a.int(1), a.int(2)) },
  { nr: 257, name: 'openat', run: (p, a) => openat(p, a.int(0), a.ptr(1), a.int(2), a.int(3)) },
  { nr: 85, name: 'creat', run: (p, a) => openat(p, AT_FDCWD, a.ptr(0), O_CREAT | O_WRONLY | O_TRUNC, a.int(1)) },
  { nr: 3, name: 'close', run: (p, a) => p.fds.close(a.int(0)) },
  {
    nr: 5, name: 'fstat',
    run: (p, a) => {
      const f = p.fds.get(a.int(0));
      return f === undefined ? -EBADF : writeStat(p, a.ptr(1), f.stat());
    },
  },
  { nr: 4, name: 'stat', run: (p, a) => statPath(p, AT_FDCWD, a.ptr(0), a.ptr(1), 0) },
  { nr: 6, name: 'lstat', run: (p, a) => statPath(p, AT_FDCWD, a.ptr(0), a.ptr(1), AT_SYMLINK_NOFOLLOW) },
  { nr: 262, name: 'newfstatat', run: (p, a) => statPath(p, a.int(0), a.ptr(1), a.ptr(2), a.int(3)) },
  {
    nr: 8, name: 'lseek',
    run: (p, a) => {
      const f = p.fds.get(a.int(0));
      return f === undefined ? -EBADF : f.seek(a.s64(1), a.int(2));
    },
  },
  {
    nr: 17, name: 'pread64',
    run: (p, a) => {
      const f = p.fds.get(a.int(0));
      if (f === undefined || !f.readable) return -EBADF;
      const off = a.s64(3);
      if (off < 0) return -EINVAL;
      const n = Math.min(a.u64(2), MAX_IO);
      if (!p.space.writable(a.ptr(1), n)) return -EFAULT;
      return finishRead(p, f, f.pread(n, off), a.ptr(1), n);
    },
  },
  {
    nr: 18, name: 'pwrite64',
    run: (p, a) => {
      const f = p.fds.get(a.int(0));
      if (f === undefined || !f.writable) return -EBADF;
      const off = a.s64(3);
      if (off < 0) return -EINVAL;
      const bytes = p.space.read(a.ptr(1), Math.min(a.u64(2), MAX_IO));
      return bytes === undefined ? -EFAULT : f.pwrite(bytes, off);
    },
  },
  {
    nr: 19, name: 'readv',
    run: (p, a) => {
      const f = p.fds.get(a.int(0));
      if (f === undefined || !f.readable) return -EBADF;
      const iov = readIov(p, a.ptr(1), a.int(2));
      if (typeof iov === 'number') return iov;
      for (const [base, len] of iov) if (!p.space.writable(base, len)) return -EFAULT;
      const total = Math.min(iov.reduce((s, [, len]) => s + len, 0), MAX_IO);
      const scatter = (r: Exclude<ReadResult, 'block'>): number => {
        if (typeof r === 'number') return r;
        let pos = 0;
        for (const [base, len] of iov) {
          if (pos >= r.length) break;
          const part = r.subarray(pos, pos + len);
          if (!p.space.write(base, part)) return -EFAULT;
          pos += part.length;
        }
        return r.length;
      };
      const r = f.read(total);
      if (r !== 'block') return scatter(r);
      return (async () => {
        let next: ReadResult = 'block';
        while (next === 'block') {
          await f.ready();
          next = f.read(total);
        }
        return scatter(next);
      })();
    },
  },
  {
    nr: 20, name: 'writev',
    run: (p, a) => {
      const f = p.fds.get(a.int(0));
      if (f === undefined || !f.writable) return -EBADF;
      const iov = readIov(p, a.ptr(1), a.int(2));
      if (typeof iov === 'number') return iov;
      const parts: Uint8Array[] = [];
      let total = 0;
      for (const [base, len] of iov) {
        const b = p.space.read(base, Math.min(len, MAX_IO - total));
        if (b === undefined) return -EFAULT;
        parts.push(b);
        total += b.length;
      }
      const all = new Uint8Array(total);
      let pos = 0;
      for (const b of parts) {
        all.set(b, pos);
        pos += b.length;
      }
      return sysWrite(p, a.int(0), all);
    },
  },
  {
    nr: 16, name: 'ioctl',
    // No descriptor here is a terminal, so every request (TCGETS, TIOCGWINSZ, ...) is -ENOTTY,
    // which is what Linux answers for a terminal ioctl on a file or pipe.
    run: (p, a) => (p.fds.get(a.int(0)) === undefined ? -EBADF : -ENOTTY),
  },
  {
    nr: 72, name: 'fcntl',
    run: (p, a) => {
      const fd = a.int(0);
      const slot = p.fds.slot(fd);
      if (slot === undefined) return -EBADF;
      const cmd = a.int(1);
      const arg = a.int(2);
      switch (cmd) {
        case F_DUPFD:
        case F_DUPFD_CLOEXEC: {
          if (arg < 0 || arg >= p.fds.limit) return -EINVAL;
          p.fds.dup(slot.file);
          const n = p.fds.alloc(slot.file, cmd === F_DUPFD_CLOEXEC, arg);
          if (n < 0) slot.file.refs--;
          return n;
        }
        case F_GETFD:
          return slot.cloexec ? FD_CLOEXEC : 0;
        case F_SETFD:
          slot.cloexec = (arg & FD_CLOEXEC) !== 0;
          return 0;
        case F_GETFL:
          return slot.file.statusFlags;
        case F_SETFL:
          // Only O_APPEND and O_NONBLOCK can change (O_ASYNC, O_DIRECT, O_NOATIME are not modelled).
          slot.file.statusFlags = (slot.file.statusFlags & ~(O_APPEND | O_NONBLOCK)) | (arg & (O_APPEND | O_NONBLOCK));
          return 0;
        default:
          return -EINVAL;
      }
    },
  },
  {
    nr: 32, name: 'dup',
    run: (p, a) => {
      const f = p.fds.get(a.int(0));
      if (f === undefined) return -EBADF;
      p.fds.dup(f);
      const n = p.fds.alloc(f, false);
      if (n < 0) f.refs--;
      return n;
    },
  },
  { nr: 33, name: 'dup2', run: (p, a) => dupTo(p, a.int(0), a.int(1), false) },
  {
    nr: 292, name: 'dup3',
    run: (p, a) => {
      const flags = a.int(2);
      if ((flags & ~O_CLOEXEC) !== 0 || a.int(0) === a.int(1)) return -EINVAL;
      return dupTo(p, a.int(0), a.int(1), flags !== 0);
    },
  },
  { nr: 22, name: 'pipe', run: (p, a) => pipe2(p, a.ptr(0), 0) },
  { nr: 293, name: 'pipe2', run: (p, a) => pipe2(p, a.ptr(0), a.int(1)) },
  { nr: 21, name: 'access', run: (p, a) => access(p, AT_FDCWD, a.ptr(0), a.int(1)) },
  { nr: 269, name: 'faccessat', run: (p, a) => access(p, a.int(0), a.ptr(1), a.int(2)) },
  { nr: 439, name: 'faccessat2', run: (p, a) => access(p, a.int(0), a.ptr(1), a.int(2)) },
  {
    nr: 79, name: 'getcwd',
    run: (p, a) => {
      const bytes = enc.encode(`${p.cwd}\0`);
      if (a.u64(1) < bytes.length) return -ERANGE;
      return p.space.write(a.ptr(0), bytes) ? bytes.length : -EFAULT;
    },
  },
  {
    nr: 80, name: 'chdir',
    run: (p, a) => {
      const path = guestPath(p, AT_FDCWD, a.ptr(0));
      if (typeof path === 'number') return path;
      try {
        if (!fs.statSync(path).isDirectory()) return -ENOTDIR;
      } catch (e) {
        return hostErrno(e);
      }
      p.cwd = path;
      return 0;
    },
  },
  { nr: 89, name: 'readlink', run: (p, a) => readlink(p, AT_FDCWD, a.ptr(0), a.ptr(1), a.s64(2)) },
  { nr: 267, name: 'readlinkat', run: (p, a) => readlink(p, a.int(0), a.ptr(1), a.ptr(2), a.s64(3)) },
  { nr: 87, name: 'unlink', run: (p, a) => unlinkat(p, AT_FDCWD, a.ptr(0), 0) },
  { nr: 263, name: 'unlinkat', run: (p, a) => unlinkat(p, a.int(0), a.ptr(1), a.int(2)) },
  { nr: 84, name: 'rmdir', run: (p, a) => unlinkat(p, AT_FDCWD, a.ptr(0), AT_REMOVEDIR) },
  { nr: 83, name: 'mkdir', run: (p, a) => mkdirat(p, AT_FDCWD, a.ptr(0), a.int(1)) },
  { nr: 258, name: 'mkdirat', run: (p, a) => mkdirat(p, a.int(0), a.ptr(1), a.int(2)) },
  { nr: 82, name: 'rename', run: (p, a) => renameat(p, AT_FDCWD, a.ptr(0), AT_FDCWD, a.ptr(1), 0) },
  { nr: 264, name: 'renameat', run: (p, a) => renameat(p, a.int(0), a.ptr(1), a.int(2), a.ptr(3), 0) },
  { nr: 316, name: 'renameat2', run: (p, a) => renameat(p, a.int(0), a.ptr(1), a.int(2), a.ptr(3), a.int(4)) },
  { nr: 217, name: 'getdents64', run: (p, a) => getdents64(p, a.int(0), a.ptr(1), Math.min(a.u64(2), MAX_IO)) },
  {
    nr: 77, name: 'ftruncate',
    run: (p, a) => {
      const f = p.fds.get(a.int(0));
      if (!(f instanceof HostFile) || !f.writable) return f === undefined ? -EBADF : -EINVAL;
      const len = a.s64(1);
      if (len < 0) return -EINVAL;
      return hostCall(() => fs.ftruncateSync(f.fd, len));
    },
  },
  { nr: 74, name: 'fsync', run: (p, a) => (p.fds.get(a.int(0)) === undefined ? -EBADF : 0) },
  { nr: 75, name: 'fdatasync', run: (p, a) => (p.fds.get(a.int(0)) === undefined ? -EBADF : 0) },
  {
    nr: 95, name: 'umask',
    run: (p, a) => {
      const old = p.umask;
      p.umask = a.int(0) & 0o777;
      return old;
    },
  },
];
