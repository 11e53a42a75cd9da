/**
 * Disk images behind a virtual block device: what blkback reads and writes.
 *
 * A raw image is a file of 512-byte sectors (a trailing partial sector is not part of the disk,
 * as a loop device rounds down). Three ways to open one:
 *
 *  - `ro`: read-only. The backend advertises VDISK_READONLY and refuses writes and discards.
 *  - `overlay` (copy-on-write, the default of `xenlab boot`): reads come from the file unless a
 *    chunk was written; writes, discards and flushes never touch the file. What the guest wrote
 *    stays in memory (4 KiB chunks, at most the disk's size) and `exportTo` writes the whole
 *    disk as the guest sees it to a scratch file for inspection.
 *  - `rw`: writes go through to the file (only when the user asked for it explicitly).
 *
 * Every access is checked against the disk's size here too (a second line behind blkback's own
 * checks): a request outside the disk is a host bug and throws, it never reaches the file.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { UserError } from '../errors.js';

export const SECTOR_SIZE = 512;
/** Overlay granularity: one page (eight sectors). */
const CHUNK = 4096;
const SECTORS_PER_CHUNK = CHUNK / SECTOR_SIZE;

export type DiskMode = 'ro' | 'rw' | 'overlay';

/** The disk blkback serves. Sector numbers are 512-byte units; buffers are whole sectors. */
export interface DiskImage {
  /** Size in 512-byte sectors. */
  readonly sectors: number;
  readonly readOnly: boolean;
  /** Reads `out.length / 512` sectors from `sector`. */
  read(sector: number, out: Uint8Array): void;
  /** Writes `data.length / 512` sectors at `sector`. */
  write(sector: number, data: Uint8Array): void;
  /** Discards `count` sectors from `sector`: they read back as zeros afterwards. */
  discard(sector: number, count: number): void;
  /** Makes completed writes durable (fsync of a write-through file; nothing for an overlay). */
  flush(): void;
  /** Releases the file. */
  close(): void;
  /** A short description for diagnostics, e.g. "disk.img (overlay)". */
  readonly name: string;
  /** The copy-on-write overlay's chunks (overlay mode; undefined otherwise): what a checkpoint must carry. */
  exportOverlay?(): { readonly chunk: number; readonly data: Uint8Array }[] | undefined;
  /** Replaces the overlay with saved chunks (a restore); an error line for chunks that do not fit this disk. */
  importOverlay?(chunks: readonly { readonly chunk: number; readonly data: Uint8Array }[]): string | undefined;
}

/** Where the bytes of a base image come from: a file or memory. */
interface Backing {
  readonly bytes: number;
  read(offset: number, out: Uint8Array): void;
  write(offset: number, data: Uint8Array): void;
  sync(): void;
  close(): void;
}

class FileBacking implements Backing {
  readonly bytes: number;
  private fd: number | undefined;
  constructor(
    readonly path: string,
    writable: boolean,
  ) {
    try {
      this.fd = openSync(path, writable ? 'r+' : 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new UserError('file-not-found', `${path}: no such disk image`);
      throw new UserError('bad-file', `${path}: cannot open the disk image${writable ? ' for writing' : ''} (${code ?? 'error'})`);
    }
    const st = fstatSync(this.fd);
    if (!st.isFile()) {
      closeSync(this.fd);
      throw new UserError('bad-file', `${path}: not a regular file (xenlab serves raw image files)`);
    }
    this.bytes = st.size;
  }
  private get handle(): number {
    if (this.fd === undefined) throw new Error(`disk image ${this.path} used after close`);
    return this.fd;
  }
  read(offset: number, out: Uint8Array): void {
    let done = 0;
    while (done < out.length) {
      const n = readSync(this.handle, out, done, out.length - done, offset + done);
      if (n <= 0) {
        out.fill(0, done);
        return;
      }
      done += n;
    }
  }
  write(offset: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) done += writeSync(this.handle, data, done, data.length - done, offset + done);
  }
  sync(): void {
    fsyncSync(this.handle);
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

class MemoryBacking implements Backing {
  constructor(readonly data: Uint8Array) {}
  get bytes(): number {
    return this.data.length;
  }
  read(offset: number, out: Uint8Array): void {
    out.set(this.data.subarray(offset, offset + out.length));
  }
  write(offset: number, data: Uint8Array): void {
    this.data.set(data, offset);
  }
  sync(): void {}
  close(): void {}
}

/** A raw image over a backing, in one of the three modes. */
class RawImage implements DiskImage {
  readonly sectors: number;
  readonly readOnly: boolean;
  /** Copy-on-write chunks by chunk index (overlay mode only). */
  private readonly overlay = new Map<number, Uint8Array>();

  constructor(
    private readonly base: Backing,
    readonly mode: DiskMode,
    readonly name: string,
  ) {
    this.sectors = Math.floor(base.bytes / SECTOR_SIZE);
    this.readOnly = mode === 'ro';
  }

  private check(sector: number, count: number, what: string): void {
    if (!Number.isSafeInteger(sector) || !Number.isSafeInteger(count) || sector < 0 || count < 0 || sector + count > this.sectors) {
      throw new Error(`disk image ${this.name}: ${what} of sectors [${sector}, +${count}) outside the disk (${this.sectors} sectors)`);
    }
  }

  read(sector: number, out: Uint8Array): void {
    if (out.length % SECTOR_SIZE !== 0) throw new Error(`disk image ${this.name}: read of ${out.length} bytes, not whole sectors`);
    this.check(sector, out.length / SECTOR_SIZE, 'read');
    if (this.mode !== 'overlay' || this.overlay.size === 0) {
      this.base.read(sector * SECTOR_SIZE, out);
      return;
    }
    this.perChunk(sector * SECTOR_SIZE, out.length, (chunk, off, at, n) => {
      const c = this.overlay.get(chunk);
      const dst = out.subarray(at, at + n);
      if (c !== undefined) dst.set(c.subarray(off, off + n));
      else this.base.read(chunk * CHUNK + off, dst);
    });
  }

  write(sector: number, data: Uint8Array): void {
    if (data.length % SECTOR_SIZE !== 0) throw new Error(`disk image ${this.name}: write of ${data.length} bytes, not whole sectors`);
    this.check(sector, data.length / SECTOR_SIZE, 'write');
    if (this.readOnly) throw new Error(`disk image ${this.name}: write to a read-only disk`);
    if (this.mode === 'rw') {
      this.base.write(sector * SECTOR_SIZE, data);
      return;
    }
    this.perChunk(sector * SECTOR_SIZE, data.length, (chunk, off, at, n) => {
      this.chunkFor(chunk).set(data.subarray(at, at + n), off);
    });
  }

  discard(sector: number, count: number): void {
    this.check(sector, count, 'discard');
    if (this.readOnly) throw new Error(`disk image ${this.name}: discard on a read-only disk`);
    if (this.mode === 'rw') {
      const zeros = new Uint8Array(Math.min(count, 256) * SECTOR_SIZE);
      for (let s = 0; s < count; s += 256) {
        const n = Math.min(256, count - s);
        this.base.write((sector + s) * SECTOR_SIZE, zeros.subarray(0, n * SECTOR_SIZE));
      }
      return;
    }
    this.perChunk(sector * SECTOR_SIZE, count * SECTOR_SIZE, (chunk, off, _at, n) => {
      if (off === 0 && n === CHUNK) this.overlay.set(chunk, new Uint8Array(CHUNK));
      else this.chunkFor(chunk).fill(0, off, off + n);
    });
  }

  flush(): void {
    if (this.mode === 'rw') this.base.sync();
  }

  close(): void {
    this.base.close();
  }

  exportOverlay(): { chunk: number; data: Uint8Array }[] | undefined {
    if (this.mode !== 'overlay') return undefined;
    return [...this.overlay.entries()].sort((a, b) => a[0] - b[0]).map(([chunk, data]) => ({ chunk, data: data.slice() }));
  }

  importOverlay(chunks: readonly { readonly chunk: number; readonly data: Uint8Array }[]): string | undefined {
    if (this.mode !== 'overlay') return chunks.length === 0 ? undefined : `${this.name} is not a copy-on-write overlay; the checkpoint's disk changes cannot be applied`;
    const last = Math.ceil((this.sectors * SECTOR_SIZE) / CHUNK);
    for (const c of chunks) {
      if (!Number.isSafeInteger(c.chunk) || c.chunk < 0 || c.chunk >= last || c.data.length !== CHUNK) return `${this.name}: overlay chunk ${c.chunk} does not fit the disk`;
    }
    this.overlay.clear();
    for (const c of chunks) this.overlay.set(c.chunk, c.data.slice());
    return undefined;
  }

  /** Chunks the guest changed (overlay mode): for tests and the export. */
  get overlayChunks(): number {
    return this.overlay.size;
  }

  /** The disk as the guest sees it, sector `from` for `count` sectors. */
  snapshot(from = 0, count = this.sectors - from): Uint8Array {
    const out = new Uint8Array(count * SECTOR_SIZE);
    this.read(from, out);
    return out;
  }

  private chunkFor(chunk: number): Uint8Array {
    let c = this.overlay.get(chunk);
    if (c === undefined) {
      c = new Uint8Array(CHUNK);
      // The last chunk of a disk whose size is not a multiple of 4 KiB: copy only what exists.
      const avail = Math.min(CHUNK, this.sectors * SECTOR_SIZE - chunk * CHUNK);
      this.base.read(chunk * CHUNK, c.subarray(0, avail));
      this.overlay.set(chunk, c);
    }
    return c;
  }

  /** Splits a byte range into (chunk, offset in chunk, offset in range, length) pieces. */
  private perChunk(offset: number, length: number, fn: (chunk: number, off: number, at: number, n: number) => void): void {
    let at = 0;
    while (at < length) {
      const pos = offset + at;
      const chunk = Math.floor(pos / CHUNK);
      const off = pos - chunk * CHUNK;
      const n = Math.min(CHUNK - off, length - at);
      fn(chunk, off, at, n);
      at += n;
    }
  }
}

export type { RawImage };

/**
 * Opens raw image `path`: `ro`, `rw` (writes reach the file) or `overlay` (copy-on-write in
 * memory, the file is only read). A missing or unreadable file is a UserError naming it.
 */
export function openRawImage(path: string, mode: DiskMode): RawImage {
  return new RawImage(new FileBacking(path, mode === 'rw'), mode, `${path} (${mode === 'overlay' ? 'copy-on-write overlay' : mode})`);
}

/** An image in memory (tests, generated disks); `rw` writes into `data` itself. */
export function memoryImage(data: Uint8Array, mode: DiskMode = 'rw', name = 'memory'): RawImage {
  return new RawImage(new MemoryBacking(data), mode, `${name} (${mode})`);
}

/** Writes the whole disk as the guest sees it (base plus overlay) to `path`, 1 MiB at a time. */
export function exportImage(image: DiskImage, path: string): void {
  const fd = openSync(path, 'w');
  try {
    const step = 2048;
    const buf = new Uint8Array(step * SECTOR_SIZE);
    for (let s = 0; s < image.sectors; s += step) {
      const n = Math.min(step, image.sectors - s);
      const part = buf.subarray(0, n * SECTOR_SIZE);
      image.read(s, part);
      let done = 0;
      while (done < part.length) done += writeSync(fd, part, done, part.length - done);
    }
  } finally {
    closeSync(fd);
  }
}

/** Chunk size of the overlay, exported for tests. */
export const OVERLAY_CHUNK_SECTORS = SECTORS_PER_CHUNK;
