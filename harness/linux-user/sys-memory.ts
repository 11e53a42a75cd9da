/**
 * Memory syscalls: brk, mmap (anonymous, and private file-backed copied in at map time),
 * munmap, mprotect, madvise. Anonymous memory is demand-paged (see address-space.ts). Flags and
 * errors follow mmap(2): a zero length or an unaligned offset is -EINVAL, no room is -ENOMEM.
 */
import * as fs from 'node:fs';
import { EACCES, EBADF, EEXIST, EINVAL, ENODEV, ENOMEM, ENOSYS, hostErrno } from './errno.js';
import { HostFile } from './files.js';
import { PROT_R, PROT_W, PROT_X, USER_END, pageUp } from './address-space.js';
import type { LinuxProcess } from './process.js';
import type { SyscallDef } from './syscall-abi.js';

const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_SHARED_VALIDATE = 0x03;
const MAP_TYPE = 0x0f;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MAP_FIXED_NOREPLACE = 0x100000;
/** mmap_min_addr: nothing is placed below 64 KiB. */
const MMAP_MIN = 0x10000;
/**
 * Bound on reserved-but-untouched pages (16 GiB of address space), so a guest cannot make the
 * host track an unbounded page table; beyond it mmap and brk fail with -ENOMEM as an
 * overcommit limit would.
 */
const MAX_RESERVED_PAGES = 4 * 1024 * 1024;

function tooMuch(p: LinuxProcess, len: number): boolean {
  return p.space.reservedPages + len / 4096 > MAX_RESERVED_PAGES;
}

function isAligned(a: number): boolean {
  return a % 4096 === 0;
}

function mmap(p: LinuxProcess, addr: number, length: number, prot: number, flags: number, fd: number, offset: number): number {
  if (length === 0 || (prot & ~(PROT_R | PROT_W | PROT_X)) !== 0) return -EINVAL;
  if (offset < 0 || !isAligned(offset)) return -EINVAL;
  const len = pageUp(length);
  if (len > USER_END || tooMuch(p, len)) return -ENOMEM;
  const type = flags & MAP_TYPE;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) return -EINVAL;
  const anon = (flags & MAP_ANONYMOUS) !== 0;

  let file: HostFile | undefined;
  if (!anon) {
    const f = p.fds.get(fd);
    if (f === undefined) return -EBADF;
    if (!(f instanceof HostFile) || f.path !== undefined) return -ENODEV;
    if (!f.readable) return -EACCES;
    // A shared writable file mapping would need write-back to the host file: not modelled.
    if (type !== MAP_PRIVATE && (prot & PROT_W) !== 0) {
      if (p.verbose) p.log('mmap: shared writable file mappings are not implemented -> -ENOSYS');
      return -ENOSYS;
    }
    file = f;
  }

  let at: number | undefined;
  if ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) !== 0) {
    if (!isAligned(addr) || addr < MMAP_MIN || addr + len > USER_END) return -EINVAL;
    if ((flags & MAP_FIXED) === 0 && !p.space.isFree(addr, len)) return -EEXIST;
    at = addr;
  } else {
    // A hint is honoured when the range is free, as Linux does.
    if (addr !== 0 && isAligned(addr) && addr >= MMAP_MIN && addr + len <= p.mmapTop && p.space.isFree(addr, len)) at = addr;
    else at = p.space.findFree(len, p.mmapTop, Math.max(MMAP_MIN, pageUp(p.brkCur)));
  }
  if (at === undefined) return -ENOMEM;

  if (file === undefined) {
    p.space.reserve(at, len, prot);
  } else {
    let size: number;
    try {
      size = Number(fs.fstatSync(file.fd, { bigint: true }).size);
    } catch (e) {
      return hostErrno(e);
    }
    const n = Math.max(0, Math.min(len, size - offset));
    const data = new Uint8Array(n);
    try {
      let got = 0;
      while (got < n) {
        const k = fs.readSync(file.fd, data, got, n - got, offset + got);
        if (k === 0) break;
        got += k;
      }
    } catch (e) {
      return hostErrno(e);
    }
    p.space.mapNow(at, len, prot);
    if (n > 0) p.space.poke(at, data);
  }
  p.cpu.flushTlb();
  return at;
}

function brk(p: LinuxProcess, addr: number): number {
  if (addr < p.brkStart) return p.brkCur;
  const oldEnd = pageUp(p.brkCur);
  const newEnd = pageUp(addr);
  if (newEnd > oldEnd) {
    if (newEnd > p.mmapTop || tooMuch(p, newEnd - oldEnd) || !p.space.isFree(oldEnd, newEnd - oldEnd)) return p.brkCur;
    p.space.reserve(oldEnd, newEnd - oldEnd, PROT_R | PROT_W);
  } else if (newEnd < oldEnd) {
    p.space.unmap(newEnd, oldEnd - newEnd);
    p.cpu.flushTlb();
  }
  p.brkCur = addr;
  return addr;
}

export const MEMORY_SYSCALLS: readonly SyscallDef[] = [
  { nr: 12, name: 'brk', run: (p, a) => brk(p, a.u64(0)) },
  { nr: 9, name: 'mmap', run: (p, a) => mmap(p, a.u64(0), a.u64(1), a.int(2), a.int(3), a.int(4), a.s64(5)) },
  {
    nr: 11, name: 'munmap',
    run: (p, a) => {
      const addr = a.u64(0);
      const len = a.u64(1);
      if (!isAligned(addr) || len === 0 || addr + len > USER_END) return -EINVAL;
      p.space.unmap(addr, pageUp(len));
      p.cpu.flushTlb();
      return 0;
    },
  },
  {
    nr: 10, name: 'mprotect',
    run: (p, a) => {
      const addr = a.u64(0);
      const len = pageUp(a.u64(1));
      const prot = a.int(2);
      if (!isAligned(addr) || (prot & ~(PROT_R | PROT_W | PROT_X)) !== 0 || addr + len > USER_END) return -EINVAL;
      if (len === 0) return 0;
      if (!p.space.protect(addr, len, prot)) return -ENOMEM;
      p.cpu.flushTlb();
      return 0;
    },
  },
  // Advice changes nothing observable here (MADV_DONTNEED on private anonymous memory would
  // zero it on Linux; glibc's malloc only uses it on memory it no longer reads).
  { nr: 28, name: 'madvise', run: (_p, a) => (isAligned(a.u64(0)) ? 0 : -EINVAL) },
];
