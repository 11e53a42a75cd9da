/**
 * File descriptors of the emulated process. An `OpenFile` is Linux's open file description (the
 * offset and status flags, shared by dup'ed descriptors); the `FdTable` maps numbers to them with
 * a per-descriptor close-on-exec bit.
 *
 * Kinds: host files and directories (the host's real files, opened with `node:fs`), in-process
 * pipes, and the injected stdin/stdout/stderr streams. Reads from stdin may block: `read` then
 * answers 'block' and the process waits on `ready()` before retrying.
 */
import * as fs from 'node:fs';
import { EAGAIN, EBADF, EINVAL, EISDIR, EMFILE, EPIPE, ESPIPE, hostErrno } from './errno.js';

export const O_ACCMODE = 3;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CREAT = 0x40;
export const O_EXCL = 0x80;
export const O_NOCTTY = 0x100;
export const O_TRUNC = 0x200;
export const O_APPEND = 0x400;
export const O_NONBLOCK = 0x800;
export const O_DIRECTORY = 0x10000;
export const O_NOFOLLOW = 0x20000;
export const O_CLOEXEC = 0x80000;

export const S_IFMT = 0o170000;
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;

/** What fstat reports; the syscall layer lays it out as `struct stat`. */
export interface StatInfo {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly mode: number;
  readonly nlink: bigint;
  readonly uid: number;
  readonly gid: number;
  readonly rdev: bigint;
  readonly size: bigint;
  readonly blksize: bigint;
  readonly blocks: bigint;
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

export function statFromHost(s: fs.BigIntStats): StatInfo {
  return {
    dev: s.dev, ino: s.ino, mode: Number(s.mode), nlink: s.nlink, uid: Number(s.uid), gid: Number(s.gid),
    rdev: s.rdev, size: s.size, blksize: s.blksize, blocks: s.blocks,
    atimeNs: s.atimeNs, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs,
  };
}

/** Result of a read: the bytes (empty at end of file), a negated errno, or 'block'. */
export type ReadResult = Uint8Array | number | 'block';

export abstract class OpenFile {
  refs = 1;
  constructor(public statusFlags: number) {}
  /** Host directory path, for the *at() syscalls and getdents64. */
  path: string | undefined;
  abstract read(max: number): ReadResult;
  abstract write(bytes: Uint8Array): number;
  pread(_max: number, _pos: number): ReadResult {
    return -ESPIPE;
  }
  pwrite(_bytes: Uint8Array, _pos: number): number {
    return -ESPIPE;
  }
  seek(_offset: number, _whence: number): number {
    return -ESPIPE;
  }
  abstract stat(): StatInfo;
  /** Resolves when a read that answered 'block' may succeed. */
  ready(): Promise<void> {
    return Promise.resolve();
  }
  /** The last descriptor referring to it was closed. */
  release(): void {}
  get readable(): boolean {
    return (this.statusFlags & O_ACCMODE) !== O_WRONLY;
  }
  get writable(): boolean {
    return (this.statusFlags & O_ACCMODE) !== O_RDONLY;
  }
}

const SEEK_SET = 0;
const SEEK_CUR = 1;
const SEEK_END = 2;

export class HostFile extends OpenFile {
  private pos = 0;
  private positional = true;
  /** getdents64 cursor. */
  dirIndex = 0;
  constructor(
    readonly fd: number,
    readonly hostPath: string,
    flags: number,
    isDir: boolean,
  ) {
    super(flags);
    if (isDir) this.path = hostPath;
  }
  private readAt(max: number, pos: number | null): ReadResult {
    if (this.path !== undefined) return -EISDIR;
    const buf = new Uint8Array(max);
    try {
      const n = fs.readSync(this.fd, buf, 0, max, pos);
      return buf.subarray(0, n);
    } catch (e) {
      return hostErrno(e);
    }
  }
  read(max: number): ReadResult {
    let r = this.readAt(max, this.positional ? this.pos : null);
    if (r === -ESPIPE && this.positional) {
      // A character device or FIFO: no offsets.
      this.positional = false;
      r = this.readAt(max, null);
    }
    if (r instanceof Uint8Array && this.positional) this.pos += r.length;
    return r;
  }
  override pread(max: number, pos: number): ReadResult {
    return this.readAt(max, pos);
  }
  private writeAt(bytes: Uint8Array, pos: number | null): number {
    try {
      return fs.writeSync(this.fd, bytes, 0, bytes.length, pos);
    } catch (e) {
      return hostErrno(e);
    }
  }
  write(bytes: Uint8Array): number {
    if ((this.statusFlags & O_APPEND) !== 0 && this.positional) this.pos = Number(this.stat().size);
    let n = this.writeAt(bytes, this.positional ? this.pos : null);
    if (n === -ESPIPE && this.positional) {
      this.positional = false;
      n = this.writeAt(bytes, null);
    }
    if (n > 0 && this.positional) this.pos += n;
    return n;
  }
  override pwrite(bytes: Uint8Array, pos: number): number {
    return this.writeAt(bytes, pos);
  }
  override seek(offset: number, whence: number): number {
    let next: number;
    if (whence === SEEK_SET) next = offset;
    else if (whence === SEEK_CUR) next = this.pos + offset;
    else if (whence === SEEK_END) next = Number(this.stat().size) + offset;
    else return -EINVAL;
    if (next < 0 || !Number.isSafeInteger(next)) return -EINVAL;
    this.pos = next;
    if (this.path !== undefined && next === 0) this.dirIndex = 0;
    return next;
  }
  stat(): StatInfo {
    return statFromHost(fs.fstatSync(this.fd, { bigint: true }));
  }
  override release(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already gone on the host side; nothing the guest can observe.
    }
  }
}

/** A synthetic stat for pipes and injected streams (times from the virtual clock). */
function fifoStat(ino: number, nowNs: bigint): StatInfo {
  return {
    dev: 0xcn, ino: BigInt(ino), mode: S_IFIFO | 0o600, nlink: 1n, uid: 0, gid: 0, rdev: 0n, size: 0n,
    blksize: 4096n, blocks: 0n, atimeNs: nowNs, mtimeNs: nowNs, ctimeNs: nowNs,
  };
}

class PipeBuffer {
  readonly chunks: Uint8Array[] = [];
  readers = 1;
  writers = 1;
  constructor(readonly ino: number) {}
}

export class PipeReadEnd extends OpenFile {
  constructor(
    private readonly pipe: PipeBuffer,
    flags: number,
    private readonly clock: () => bigint,
  ) {
    super(O_RDONLY | (flags & O_NONBLOCK));
  }
  read(max: number): ReadResult {
    const first = this.pipe.chunks[0];
    if (first === undefined) {
      // Nothing else runs in this process: with a write end still open, a blocking read would
      // wait forever on Linux. Answer "try again" instead of hanging the host.
      return this.pipe.writers === 0 ? new Uint8Array(0) : -EAGAIN;
    }
    if (first.length <= max) {
      this.pipe.chunks.shift();
      return first;
    }
    this.pipe.chunks[0] = first.subarray(max);
    return first.subarray(0, max);
  }
  write(): number {
    return -EBADF;
  }
  stat(): StatInfo {
    return fifoStat(this.pipe.ino, this.clock());
  }
  override release(): void {
    this.pipe.readers--;
  }
}

export class PipeWriteEnd extends OpenFile {
  constructor(
    private readonly pipe: PipeBuffer,
    flags: number,
    private readonly clock: () => bigint,
  ) {
    super(O_WRONLY | (flags & O_NONBLOCK));
  }
  read(): ReadResult {
    return -EBADF;
  }
  /** -EPIPE when no reader is left: the caller raises SIGPIPE. */
  write(bytes: Uint8Array): number {
    if (this.pipe.readers === 0) return -EPIPE;
    if (bytes.length > 0) this.pipe.chunks.push(bytes.slice());
    return bytes.length;
  }
  stat(): StatInfo {
    return fifoStat(this.pipe.ino, this.clock());
  }
  override release(): void {
    this.pipe.writers--;
  }
}

export function makePipe(ino: number, flags: number, clock: () => bigint): [PipeReadEnd, PipeWriteEnd] {
  const p = new PipeBuffer(ino);
  return [new PipeReadEnd(p, flags, clock), new PipeWriteEnd(p, flags, clock)];
}

/**
 * The injected stdin, read lazily: nothing touches the host stream until the guest first reads
 * fd 0, and `detach` lets go of it when the process ends.
 */
export class StreamInput extends OpenFile {
  private readonly chunks: Uint8Array[] = [];
  private ended = false;
  private attached = false;
  private wake: (() => void) | undefined;
  private readonly onData = (b: Buffer | string): void => {
    this.chunks.push(typeof b === 'string' ? new TextEncoder().encode(b) : new Uint8Array(b));
    this.notify();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.notify();
  };
  constructor(
    private readonly stream: NodeJS.ReadableStream,
    private readonly clock: () => bigint,
  ) {
    super(O_RDONLY);
  }
  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
  read(max: number): ReadResult {
    if (!this.attached) {
      this.attached = true;
      this.stream.on('data', this.onData);
      this.stream.on('end', this.onEnd);
      this.stream.on('error', this.onEnd);
      this.stream.resume();
    }
    const first = this.chunks[0];
    if (first === undefined) return this.ended ? new Uint8Array(0) : (this.statusFlags & O_NONBLOCK) !== 0 ? -EAGAIN : 'block';
    if (first.length <= max) {
      this.chunks.shift();
      return first;
    }
    this.chunks[0] = first.subarray(max);
    return first.subarray(0, max);
  }
  override ready(): Promise<void> {
    if (this.chunks.length > 0 || this.ended) return Promise.resolve();
    return new Promise((resolve) => (this.wake = resolve));
  }
  write(): number {
    return -EBADF;
  }
  stat(): StatInfo {
    return fifoStat(1, this.clock());
  }
  detach(): void {
    if (!this.attached) return;
    this.stream.removeListener('data', this.onData);
    this.stream.removeListener('end', this.onEnd);
    this.stream.removeListener('error', this.onEnd);
    this.stream.pause();
  }
}

export class StreamOutput extends OpenFile {
  /** Bytes written (statistics). */
  bytes = 0;
  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly ino: number,
    private readonly clock: () => bigint,
  ) {
    super(O_WRONLY);
  }
  read(): ReadResult {
    return -EBADF;
  }
  write(bytes: Uint8Array): number {
    this.stream.write(Buffer.from(bytes));
    this.bytes += bytes.length;
    return bytes.length;
  }
  stat(): StatInfo {
    return fifoStat(this.ino, this.clock());
  }
}

interface Slot {
  readonly file: OpenFile;
  cloexec: boolean;
}

export class FdTable {
  private readonly slots = new Map<number, Slot>();
  constructor(public limit = 1024) {}

  get(fd: number): OpenFile | undefined {
    return this.slots.get(fd)?.file;
  }
  slot(fd: number): Slot | undefined {
    return this.slots.get(fd);
  }
  /** Lowest free descriptor >= min, or -EMFILE. */
  alloc(file: OpenFile, cloexec: boolean, min = 0): number {
    for (let fd = Math.max(0, min); fd < this.limit; fd++) {
      if (!this.slots.has(fd)) {
        this.slots.set(fd, { file, cloexec });
        return fd;
      }
    }
    return -EMFILE;
  }
  /** Installs at a given number, closing whatever was there (dup2). */
  install(fd: number, file: OpenFile, cloexec: boolean): void {
    this.close(fd);
    this.slots.set(fd, { file, cloexec });
  }
  dup(file: OpenFile): void {
    file.refs++;
  }
  close(fd: number): number {
    const s = this.slots.get(fd);
    if (s === undefined) return -EBADF;
    this.slots.delete(fd);
    if (--s.file.refs === 0) s.file.release();
    return 0;
  }
  closeAll(): void {
    for (const fd of [...this.slots.keys()]) this.close(fd);
  }
}
