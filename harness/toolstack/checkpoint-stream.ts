/**
 * The xenlab checkpoint stream: the byte format of a saved domain (`xenlab save`) and of a live
 * migration. It follows Xen's migration stream v2 (docs/specs/libxc-migration-stream.pandoc in
 * the Xen tree): an image header, a domain header, then typed records padded to 8 octets, ending
 * with an END record; Xen's record numbers are kept where a record means the same thing. Two
 * things are added, because a checkpoint is a file a user hands back to us and a migration is
 * bytes from a socket, both untrusted:
 *  - every record carries a CRC-32 of its header and body in an 8-octet trailer;
 *  - the END record's body is the SHA-256 of every octet before it, so a file cut at a record
 *    boundary, or with records dropped or reordered, is refused too.
 * This module is the framing only: record bodies are opaque bytes here (PAGE_DATA has its codec
 * below, as its layout is Xen's). The reader is incremental, so a migration receiver parses
 * records as they arrive; `parseCheckpoint` reads a whole file and refuses it, with one line
 * naming the file and the problem, before anything is built from it.
 *
 * Layout (docs/checkpoint.md):
 *   image header, 24 octets, big-endian: marker 0xFFFFFFFFFFFFFFFF, id "XLCK", version u32,
 *     options u16 (bit 0: endianness, 0 = little), 6 reserved octets;
 *   domain header, 16 octets, little-endian: type u32 (1 = x86 PV), page_shift u16, reserved u16,
 *     xen_major u32, xen_minor u32;
 *   record: type u32, body_length u32, body, zero padding to 8, crc32 u32, reserved u32 = 0.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { UserError } from '../errors.js';

export const CHECKPOINT_MARKER = 0xffffffffffffffffn;
/** "XLCK": a xenlab checkpoint (Xen's own streams say "XENF"). */
export const CHECKPOINT_ID = 0x584c434b;
export const CHECKPOINT_VERSION = 1;
export const DOMAIN_TYPE_X86_PV = 1;
const IMAGE_HEADER = 24;
const DOMAIN_HEADER = 16;
const RECORD_HEADER = 8;
const RECORD_TRAILER = 8;
/** No record body is larger than this (a PAGE_DATA record of 1024 pages is 4 MiB + 8 KiB). */
export const MAX_RECORD_BODY = 64 * 2 ** 20;

/** Record types: Xen's numbers where the record means what Xen's does; xenlab's own from 0x40000000. */
export const REC = {
  END: 0x00000000,
  PAGE_DATA: 0x00000001,
  X86_PV_INFO: 0x00000002,
  X86_PV_P2M_FRAMES: 0x00000003,
  X86_PV_VCPU_BASIC: 0x00000004,
  X86_PV_VCPU_EXTENDED: 0x00000005,
  SHARED_INFO: 0x00000007,
  X86_TSC_INFO: 0x00000008,
  X86_PV_VCPU_MSRS: 0x0000000c,
  STATIC_DATA_END: 0x00000010,
  X86_CPUID_POLICY: 0x00000011,
  /** The domain's configuration as the toolstack holds it (xl.cfg, resolved). */
  XENLAB_DOMAIN_CONFIG: 0x40000001,
  /** The domain's XenStore subtree and its permissions. */
  XENLAB_XENSTORE: 0x40000002,
  /** Event channel ports and their bindings. */
  XENLAB_EVTCHN: 0x40000003,
  /** Grant table version, frames and active grants. */
  XENLAB_GNTTAB: 0x40000004,
  /** Backend devices: their XenStore state and what they hold (disk overlays). */
  XENLAB_BACKENDS: 0x40000005,
  /** Hypervisor state of the domain not in Xen's records (timers, PV MMU bookkeeping). */
  XENLAB_DOMAIN_STATE: 0x40000006,
  /** vCPU state neither Xen record carries (abi/hypercall/vcpu-context.ts getVcpuXenlab), per vCPU. */
  XENLAB_VCPU: 0x40000007,
} as const;

const NAMES = new Map<number, string>(Object.entries(REC).map(([k, v]) => [v, k]));

/** A record's name for messages: `PAGE_DATA`, or `type 0x...` for one we do not know. */
export function recordName(type: number): string {
  return NAMES.get(type) ?? `type 0x${type.toString(16).padStart(8, '0')}`;
}

/** Optional records (bit 31 set) may be skipped by a reader that does not know them. */
export const isOptionalRecord = (type: number): boolean => (type & 0x80000000) !== 0;

export interface DomainHeader {
  readonly type: number;
  readonly pageShift: number;
  readonly xenMajor: number;
  readonly xenMinor: number;
}

export interface StreamRecord {
  readonly type: number;
  readonly body: Uint8Array;
  /** Offset of the record's header in the stream. */
  readonly offset: number;
}

const pad8 = (n: number): number => (8 - (n % 8)) % 8;

/** Builds a stream in memory: headers first, then records, then `end()`. */
export class CheckpointWriter {
  private readonly chunks: Uint8Array[] = [];
  private readonly hash = createHash('sha256');
  private ended = false;
  private taken = false;
  private length = 0;

  constructor(header: DomainHeader) {
    const image = new DataView(new ArrayBuffer(IMAGE_HEADER));
    image.setBigUint64(0, CHECKPOINT_MARKER);
    image.setUint32(8, CHECKPOINT_ID);
    image.setUint32(12, CHECKPOINT_VERSION);
    image.setUint16(16, 0);
    this.push(new Uint8Array(image.buffer));
    const dom = new DataView(new ArrayBuffer(DOMAIN_HEADER));
    dom.setUint32(0, header.type, true);
    dom.setUint16(4, header.pageShift, true);
    dom.setUint32(8, header.xenMajor, true);
    dom.setUint32(12, header.xenMinor, true);
    this.push(new Uint8Array(dom.buffer));
  }

  /** Appends a record; returns its framed bytes (what a migration sender puts on the wire). */
  record(type: number, body: Uint8Array): Uint8Array {
    if (this.ended) throw new Error('checkpoint: record after END');
    if (type === REC.END) throw new Error('checkpoint: END is written by end()');
    if (body.length > MAX_RECORD_BODY) throw new Error(`checkpoint: ${recordName(type)} body of ${body.length} bytes exceeds the limit`);
    const framed = frame(type, body);
    this.push(framed);
    return framed;
  }

  /** Appends the END record (the SHA-256 of everything before it); returns its bytes. */
  end(): Uint8Array {
    if (this.ended) throw new Error('checkpoint: END written twice');
    const digest = new Uint8Array(this.hash.digest());
    const framed = frame(REC.END, digest);
    this.chunks.push(framed);
    this.length += framed.length;
    this.ended = true;
    return framed;
  }

  /**
   * The framed bytes written since the last `take`, in order, handed over and no longer kept (a
   * migration sender puts them on the wire; the writer then holds no copy of the stream, so
   * `headers` and `toBytes` are refused after a take).
   */
  take(): Uint8Array[] {
    this.taken = true;
    return this.chunks.splice(0);
  }

  /** The headers' bytes (what a migration sender puts on the wire first). */
  headers(): Uint8Array {
    if (this.taken) throw new Error('checkpoint: headers after take()');
    return concat(this.chunks.slice(0, 2));
  }

  get bytes(): number {
    return this.length;
  }

  /** The whole stream (after `end()`). */
  toBytes(): Uint8Array {
    if (!this.ended) throw new Error('checkpoint: toBytes before end()');
    if (this.taken) throw new Error('checkpoint: toBytes after take()');
    return concat(this.chunks);
  }

  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.hash.update(b);
    this.length += b.length;
  }
}

function frame(type: number, body: Uint8Array): Uint8Array {
  const padded = body.length + pad8(body.length);
  const out = new Uint8Array(RECORD_HEADER + padded + RECORD_TRAILER);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, body.length, true);
  out.set(body, RECORD_HEADER);
  v.setUint32(RECORD_HEADER + padded, crc32(out.subarray(0, RECORD_HEADER + padded)), true);
  return out;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Parses a stream as it arrives. `push` returns the records completed by the bytes given; any
 * problem is a UserError naming `source` (a file, or "migration stream from HOST"). After the END
 * record, `done` is true and further bytes are an error.
 */
export class CheckpointReader {
  header: DomainHeader | undefined;
  done = false;
  private buf = new Uint8Array(0);
  private offset = 0;
  private readonly hash = createHash('sha256');
  private count = 0;

  constructor(private readonly source: string) {}

  push(bytes: Uint8Array): StreamRecord[] {
    if (this.done && bytes.length > 0) this.fail(`${bytes.length} bytes after the END record`);
    const merged = new Uint8Array(this.buf.length + bytes.length);
    merged.set(this.buf);
    merged.set(bytes, this.buf.length);
    this.buf = merged;
    const out: StreamRecord[] = [];
    let at = 0;
    for (;;) {
      if (this.done) {
        if (at < this.buf.length) this.fail(`${this.buf.length - at} bytes after the END record`);
        break;
      }
      if (this.header === undefined) {
        if (this.buf.length - at < IMAGE_HEADER + DOMAIN_HEADER) break;
        this.readHeaders(this.buf.subarray(at, at + IMAGE_HEADER + DOMAIN_HEADER));
        this.hash.update(this.buf.subarray(at, at + IMAGE_HEADER + DOMAIN_HEADER));
        at += IMAGE_HEADER + DOMAIN_HEADER;
        continue;
      }
      if (this.buf.length - at < RECORD_HEADER) break;
      const v = new DataView(this.buf.buffer, this.buf.byteOffset + at);
      const type = v.getUint32(0, true);
      const len = v.getUint32(4, true);
      const where = `record ${this.count + 1} (${recordName(type)}) at offset ${this.offset + at}`;
      if (len > MAX_RECORD_BODY) this.fail(`${where}: body length ${len} exceeds the limit of ${MAX_RECORD_BODY}`);
      const padded = len + pad8(len);
      const total = RECORD_HEADER + padded + RECORD_TRAILER;
      if (this.buf.length - at < total) break;
      const rec = this.buf.subarray(at, at + total);
      const rv = new DataView(rec.buffer, rec.byteOffset);
      if (rv.getUint32(RECORD_HEADER + padded, true) !== crc32(rec.subarray(0, RECORD_HEADER + padded))) this.fail(`${where}: checksum mismatch (corrupted)`);
      if (rv.getUint32(RECORD_HEADER + padded + 4, true) !== 0) this.fail(`${where}: reserved trailer field is not zero`);
      for (let k = RECORD_HEADER + len; k < RECORD_HEADER + padded; k++) if (rec[k] !== 0) this.fail(`${where}: padding is not zero`);
      const body = rec.slice(RECORD_HEADER, RECORD_HEADER + len);
      if (type === REC.END) {
        const digest = new Uint8Array(this.hash.digest());
        if (len !== 32 || !digest.every((b, k) => b === body[k])) this.fail(`${where}: the stream's SHA-256 does not match (records missing, reordered or altered)`);
        this.done = true;
      } else {
        this.hash.update(rec);
        if (!NAMES.has(type) && !isOptionalRecord(type)) this.fail(`${where}: unknown mandatory record type`);
      }
      out.push({ type, body, offset: this.offset + at });
      this.count++;
      at += total;
    }
    this.buf = this.buf.slice(at);
    this.offset += at;
    return out;
  }

  /** The stream ended (EOF, socket closed): refuses it unless the END record was read. */
  finish(): void {
    if (this.done) return;
    if (this.header === undefined) this.fail(`truncated: ${this.offset + this.buf.length} bytes, shorter than the headers`);
    this.fail(`truncated after ${this.count} records at offset ${this.offset}${this.buf.length > 0 ? ` (${this.buf.length} bytes of an incomplete record)` : ''}: no END record`);
  }

  private readHeaders(b: Uint8Array): void {
    const v = new DataView(b.buffer, b.byteOffset, b.length);
    if (v.getBigUint64(0) !== CHECKPOINT_MARKER) this.fail('not a xenlab checkpoint (bad marker)');
    const id = v.getUint32(8);
    if (id === 0x58454e46) this.fail("a Xen migration stream (id XENF), not a xenlab checkpoint");
    if (id !== CHECKPOINT_ID) this.fail(`not a xenlab checkpoint (id 0x${id.toString(16)})`);
    const version = v.getUint32(12);
    if (version !== CHECKPOINT_VERSION) this.fail(`checkpoint version ${version} is not supported (this xenlab reads version ${CHECKPOINT_VERSION})`);
    const options = v.getUint16(16);
    if ((options & 1) !== 0) this.fail('big-endian checkpoint (x86 images are little-endian)');
    if ((options & ~1) !== 0) this.fail(`reserved option bits set (0x${options.toString(16)})`);
    const type = v.getUint32(IMAGE_HEADER, true);
    const pageShift = v.getUint16(IMAGE_HEADER + 4, true);
    if (type !== DOMAIN_TYPE_X86_PV) this.fail(`domain type ${type} is not x86 PV (1)`);
    if (pageShift !== 12) this.fail(`page shift ${pageShift}, expected 12`);
    this.header = { type, pageShift, xenMajor: v.getUint32(IMAGE_HEADER + 8, true), xenMinor: v.getUint32(IMAGE_HEADER + 12, true) };
  }

  private fail(problem: string): never {
    throw new UserError('bad-file', `${this.source}: ${problem}`);
  }
}

/** A whole checkpoint, checked end to end: the headers and every record up to END. */
export function parseCheckpoint(bytes: Uint8Array, source: string): { header: DomainHeader; records: StreamRecord[] } {
  const r = new CheckpointReader(source);
  const records = r.push(bytes);
  r.finish();
  if (r.header === undefined) throw new Error('checkpoint: reader finished without headers');
  return { header: r.header, records: records.filter((x) => x.type !== REC.END) };
}

/**
 * Writes `bytes` to `path` so that the final name only ever holds a complete file: a temporary
 * file beside it, flushed to disk, then renamed over it. On failure the temporary is removed.
 */
export function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): void {
  const tmp = `${path}.partial-${process.pid}`;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w', 0o644);
    for (const c of chunks) {
      let at = 0;
      while (at < c.length) at += writeSync(fd, c, at, c.length - at);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new UserError('file-not-found', `${path}: cannot write the checkpoint (${(e as Error).message})`);
  }
}

// ---- PAGE_DATA ----------------------------------------------------------------------------

/** XEN_DOMCTL_PFINFO_* types as PAGE_DATA carries them in bits 63-60 of each pfn entry. */
export const PFINFO = {
  NOTAB: 0x0,
  L1TAB: 0x1,
  L2TAB: 0x2,
  L3TAB: 0x3,
  L4TAB: 0x4,
  L1TAB_PIN: 0x9,
  L2TAB_PIN: 0xa,
  L3TAB_PIN: 0xb,
  L4TAB_PIN: 0xc,
  BROKEN: 0xd,
  XALLOC: 0xe,
  XTAB: 0xf,
} as const;

const KNOWN_PFINFO = new Set<number>(Object.values(PFINFO));
/** Types whose pfn entry has no page data (Xen: BROKEN, XALLOC, XTAB). */
const NO_DATA = new Set<number>([PFINFO.BROKEN, PFINFO.XALLOC, PFINFO.XTAB]);
const PFN_MASK = (1n << 52n) - 1n;
const PAGE = 4096;

export interface PageEntry {
  readonly pfn: number;
  readonly type: number;
  /** 4096 bytes, absent for BROKEN/XALLOC/XTAB. */
  readonly data?: Uint8Array;
}

export function encodePageData(pages: readonly PageEntry[]): Uint8Array {
  if (pages.length === 0) throw new Error('checkpoint: PAGE_DATA needs at least one page');
  const withData = pages.filter((p) => !NO_DATA.has(p.type)).length;
  const out = new Uint8Array(8 + pages.length * 8 + withData * PAGE);
  const v = new DataView(out.buffer);
  v.setUint32(0, pages.length, true);
  let data = 8 + pages.length * 8;
  pages.forEach((p, k) => {
    if (!KNOWN_PFINFO.has(p.type)) throw new Error(`checkpoint: page type ${p.type}`);
    v.setBigUint64(8 + k * 8, (BigInt(p.type) << 60n) | BigInt(p.pfn), true);
    if (NO_DATA.has(p.type)) return;
    if (p.data?.length !== PAGE) throw new Error(`checkpoint: pfn ${p.pfn} needs 4096 bytes of data`);
    out.set(p.data, data);
    data += PAGE;
  });
  return out;
}

/** Decodes a PAGE_DATA body; `fail` gets one line describing what is wrong (hostile input). */
export function decodePageData(body: Uint8Array, fail: (problem: string) => never): PageEntry[] {
  if (body.length < 8) fail(`PAGE_DATA of ${body.length} bytes has no count`);
  const v = new DataView(body.buffer, body.byteOffset, body.length);
  const count = v.getUint32(0, true);
  if (count === 0) fail('PAGE_DATA with a count of 0');
  if (v.getUint32(4, true) !== 0) fail('PAGE_DATA reserved field is not zero');
  if (8 + count * 8 > body.length) fail(`PAGE_DATA count ${count} does not fit its ${body.length} bytes`);
  const out: PageEntry[] = [];
  let data = 8 + count * 8;
  for (let k = 0; k < count; k++) {
    const e = v.getBigUint64(8 + k * 8, true);
    const type = Number(e >> 60n);
    if (((e >> 52n) & 0xffn) !== 0n) fail(`PAGE_DATA entry ${k}: reserved bits set`);
    if (!KNOWN_PFINFO.has(type)) fail(`PAGE_DATA entry ${k}: unknown page type 0x${type.toString(16)}`);
    const pfn = Number(e & PFN_MASK);
    if (NO_DATA.has(type)) {
      out.push({ pfn, type });
      continue;
    }
    if (data + PAGE > body.length) fail(`PAGE_DATA entry ${k} (pfn ${pfn}): page data past the end of the record`);
    out.push({ pfn, type, data: body.slice(data, data + PAGE) });
    data += PAGE;
  }
  if (data !== body.length) fail(`PAGE_DATA has ${body.length - data} bytes beyond its pages`);
  return out;
}
