/**
 * .xz for kernel payloads. xz-decompress (xz-embedded compiled to WebAssembly) decodes LZMA2,
 * but its build leaves out the BCJ filters, and the kernel always compresses x86 payloads with
 * `xz --x86 --lzma2` (scripts/xz_wrap.sh picks the BCJ filter of the architecture). So for a
 * stream whose blocks use the x86 BCJ filter we:
 *  1. read the container ourselves (xz file format 1.0.4: stream header, index, footer);
 *  2. hand xz-decompress an equivalent stream whose blocks have the LZMA2 filter only and no
 *     check (block headers, index and footer rebuilt with their CRC32s);
 *  3. undo the BCJ filter on each block's output and verify the block's original check.
 * A stream without BCJ goes to xz-decompress unchanged. Other filters (delta, other
 * architectures' BCJ) are refused with a one-line error.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import xzDecompress from 'xz-decompress';
import { concat, tooLarge, type DecompressOptions } from './limits.js';

const MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const FILTER_LZMA2 = 0x21n;
const FILTER_X86 = 0x04n;
/** Check sizes by check type (0 none, 1 CRC32, 4 CRC64, 10 SHA-256; others by their size class). */
const CHECK_SIZE = [0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64];

interface Block {
  readonly headerSize: number;
  /** Offset of the compressed data. */
  readonly dataAt: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  /** Offset of the block's check. */
  readonly checkAt: number;
  readonly filters: readonly { id: bigint; props: Uint8Array }[];
}

export async function decompressXz(input: Uint8Array, opts: DecompressOptions): Promise<Uint8Array> {
  const { checkType, blocks, end } = readStream(input);
  const total = blocks.reduce((n, b) => n + b.uncompressedSize, 0);
  if (total > opts.maxBytes) tooLarge(opts, 'xz', total);
  if (blocks.every((b) => b.filters.length === 1)) return runXzEmbedded(input.subarray(0, end), opts);

  for (const b of blocks) {
    const chain = b.filters.map((f) => `0x${f.id.toString(16)}`).join('+');
    const last = b.filters[b.filters.length - 1];
    if (b.filters.length !== 2 || b.filters[0]?.id !== FILTER_X86 || last?.id !== FILTER_LZMA2) {
      throw new Error(`filter chain ${chain} is not supported (only LZMA2, optionally after the x86 BCJ filter)`);
    }
  }
  const plain = await runXzEmbedded(rebuildWithoutBcj(input, blocks), opts);
  if (plain.length !== total) throw new Error(`decoded ${plain.length} bytes, the index says ${total}`);
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const [i, b] of blocks.entries()) {
    const data = plain.subarray(at, at + b.uncompressedSize);
    at += b.uncompressedSize;
    const props = b.filters[0]?.props ?? new Uint8Array(0);
    const start = props.length === 4 ? new DataView(props.buffer, props.byteOffset, 4).getUint32(0, true) : 0;
    bcjX86Decode(data, start);
    verifyCheck(checkType, data, input.subarray(b.checkAt, b.checkAt + (CHECK_SIZE[checkType] ?? 0)), i);
    parts.push(data);
  }
  return concat(parts, total);
}

/** Reads one stream (and any stream padding after it); the index gives the block boundaries. */
function readStream(b: Uint8Array): { checkType: number; blocks: Block[]; end: number } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 32) throw new Error('truncated: shorter than an empty stream');
  if (!MAGIC.every((m, i) => b[i] === m)) throw new Error('no xz stream header');
  if (crc32(b.subarray(6, 8)) !== v.getUint32(8, true)) throw new Error('stream header CRC32 mismatch');
  const checkType = (b[7] ?? 0) & 0x0f;
  if (b[6] !== 0 || ((b[7] ?? 0) & 0xf0) !== 0) throw new Error('unsupported stream flags');
  // Stream padding (NUL bytes in groups of four) may follow the footer.
  let end = b.length;
  while (end >= 4 && v.getUint32(end - 4, true) === 0) end -= 4;
  if (end < 24 || b[end - 2] !== 0x59 || b[end - 1] !== 0x5a) throw new Error('truncated: no stream footer at the end');
  const footer = end - 12;
  if (crc32(b.subarray(footer + 4, footer + 10)) !== v.getUint32(footer, true)) throw new Error('stream footer CRC32 mismatch');
  if (b[footer + 8] !== b[6] || b[footer + 9] !== b[7]) throw new Error('stream header and footer flags differ');
  const indexSize = (v.getUint32(footer + 4, true) + 1) * 4;
  const indexAt = footer - indexSize;
  if (indexAt < 12 || b[indexAt] !== 0) throw new Error('index not found where the footer says');
  if (crc32(b.subarray(indexAt, footer - 4)) !== v.getUint32(footer - 4, true)) throw new Error('index CRC32 mismatch');

  const idx = { at: indexAt + 1 };
  const count = vli(b, idx, footer - 4);
  const blocks: Block[] = [];
  let blockAt = 12;
  for (let i = 0n; i < count; i++) {
    const unpadded = Number(vli(b, idx, footer - 4));
    const uncompressedSize = Number(vli(b, idx, footer - 4));
    const header = readBlockHeader(b, blockAt, indexAt);
    const checkSize = CHECK_SIZE[checkType] ?? 0;
    const compressedSize = unpadded - header.size - checkSize;
    if (compressedSize <= 0) throw new Error(`block ${i} has an impossible size in the index`);
    const checkAt = blockAt + header.size + align4(compressedSize);
    if (checkAt + checkSize > indexAt) throw new Error(`truncated: block ${i} runs into the index`);
    blocks.push({ headerSize: header.size, dataAt: blockAt + header.size, compressedSize, uncompressedSize, checkAt, filters: header.filters });
    blockAt = checkAt + checkSize;
  }
  if (blockAt !== indexAt) throw new Error('blocks and index disagree about where the index starts');
  return { checkType, blocks, end };
}

function readBlockHeader(b: Uint8Array, at: number, limit: number): { size: number; filters: { id: bigint; props: Uint8Array }[] } {
  const first = b[at];
  if (first === undefined || first === 0) throw new Error(`no block header at offset ${at}`);
  const size = (first + 1) * 4;
  if (at + size > limit) throw new Error(`truncated block header at offset ${at}`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (crc32(b.subarray(at, at + size - 4)) !== v.getUint32(at + size - 4, true)) throw new Error(`block header CRC32 mismatch at offset ${at}`);
  const flags = b[at + 1] ?? 0;
  if ((flags & 0x3c) !== 0) throw new Error(`reserved block flags set at offset ${at}`);
  const p = { at: at + 2 };
  const hdrEnd = at + size - 4;
  if (flags & 0x40) vli(b, p, hdrEnd);
  if (flags & 0x80) vli(b, p, hdrEnd);
  const filters: { id: bigint; props: Uint8Array }[] = [];
  for (let i = 0; i <= (flags & 3); i++) {
    const id = vli(b, p, hdrEnd);
    const n = Number(vli(b, p, hdrEnd));
    if (p.at + n > hdrEnd) throw new Error(`truncated filter properties at offset ${p.at}`);
    filters.push({ id, props: b.subarray(p.at, p.at + n) });
    p.at += n;
  }
  return { size, filters };
}

/** An equivalent single stream: LZMA2-only block headers, check type None, index and footer to match. */
function rebuildWithoutBcj(b: Uint8Array, blocks: readonly Block[]): Uint8Array {
  const out: number[] = [];
  const bytes = (xs: ArrayLike<number>): void => {
    for (let i = 0; i < xs.length; i++) out.push(xs[i] ?? 0);
  };
  const u32 = (x: number): number[] => [x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, (x >>> 24) & 0xff];
  const pad4 = (from: number): void => {
    while ((out.length - from) % 4 !== 0) out.push(0);
  };
  const flags = [0, 0];
  const parts: Uint8Array[] = [];
  bytes(MAGIC);
  bytes(flags);
  bytes(u32(crc32(Uint8Array.from(flags))));
  parts.push(Uint8Array.from(out.splice(0)));
  const records: [number, number][] = [];
  for (const blk of blocks) {
    const lzma2 = blk.filters[1]?.props ?? new Uint8Array(0);
    const header = [0, 0x00, Number(FILTER_LZMA2), lzma2.length, ...lzma2];
    while ((header.length + 4) % 4 !== 0) header.push(0);
    header[0] = (header.length + 4) / 4 - 1;
    bytes(header);
    bytes(u32(crc32(Uint8Array.from(header))));
    parts.push(Uint8Array.from(out.splice(0)));
    parts.push(b.subarray(blk.dataAt, blk.dataAt + align4(blk.compressedSize)));
    records.push([header.length + 4 + blk.compressedSize, blk.uncompressedSize]);
  }
  out.push(0);
  out.push(...encodeVli(records.length));
  for (const [unpadded, size] of records) out.push(...encodeVli(unpadded), ...encodeVli(size));
  pad4(0);
  const indexCrc = crc32(Uint8Array.from(out));
  bytes(u32(indexCrc));
  const backward = out.length / 4 - 1;
  const footerBody = [...u32(backward), ...flags];
  bytes(u32(crc32(Uint8Array.from(footerBody))));
  bytes(footerBody);
  bytes([0x59, 0x5a]);
  parts.push(Uint8Array.from(out));
  return concat(parts);
}

async function runXzEmbedded(stream: Uint8Array, opts: DecompressOptions): Promise<Uint8Array> {
  const body = new Blob([stream]).stream() as ReadableStream<Uint8Array>;
  const reader = new xzDecompress.XzReadableStream(body).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    total += r.value.length;
    if (total > opts.maxBytes) {
      await reader.cancel();
      tooLarge(opts, 'xz', total, true);
    }
    chunks.push(r.value);
  }
  return concat(chunks, total);
}

/**
 * Undoes the x86 BCJ filter in place: CALL (E8) and JMP (E9) operands that the encoder turned
 * from relative into absolute addresses are turned back. Which E8/E9 bytes were converted is
 * decided, as by the encoder, from the most significant operand byte (0x00 or 0xFF) and a mask
 * of the E8/E9 bytes seen in the preceding positions. This is the algorithm of the public-domain
 * reference (LZMA SDK, liblzma `simple/x86.c`), written over one whole block at once.
 */
export function bcjX86Decode(buf: Uint8Array, startOffset: number): void {
  const allowed = [true, true, true, false, true, false, false, false];
  const bitNumber = [0, 1, 2, 2, 3, 3, 3, 3];
  const isMsb = (x: number): boolean => x === 0 || x === 0xff;
  let prevMask = 0;
  let prevPos = (startOffset - 5) >>> 0;
  let i = 0;
  while (i + 5 <= buf.length) {
    const op = buf[i] ?? 0;
    if (op !== 0xe8 && op !== 0xe9) {
      i++;
      continue;
    }
    const pos = (startOffset + i) >>> 0;
    const distance = (pos - prevPos) >>> 0;
    prevPos = pos;
    if (distance > 5) prevMask = 0;
    else for (let k = 0; k < distance; k++) prevMask = ((prevMask & 0x77) << 1) & 0xff;
    let b = buf[i + 4] ?? 0;
    if (isMsb(b) && allowed[(prevMask >> 1) & 7] === true && prevMask >> 1 < 0x10) {
      let src = ((b << 24) | ((buf[i + 3] ?? 0) << 16) | ((buf[i + 2] ?? 0) << 8) | (buf[i + 1] ?? 0)) >>> 0;
      let dest: number;
      for (;;) {
        dest = (src - (pos + 5)) >>> 0;
        if (prevMask === 0) break;
        const n = bitNumber[prevMask >> 1] ?? 0;
        b = (dest >>> (24 - n * 8)) & 0xff;
        if (!isMsb(b)) break;
        src = (dest ^ (2 ** (32 - n * 8) - 1)) >>> 0;
      }
      buf[i + 4] = (dest >>> 24) & 1 ? 0xff : 0x00;
      buf[i + 3] = (dest >>> 16) & 0xff;
      buf[i + 2] = (dest >>> 8) & 0xff;
      buf[i + 1] = dest & 0xff;
      i += 5;
      prevMask = 0;
    } else {
      i++;
      prevMask |= 1;
      if (isMsb(b)) prevMask |= 0x10;
    }
  }
}

function verifyCheck(type: number, data: Uint8Array, stored: Uint8Array, block: number): void {
  let computed: Uint8Array | undefined;
  if (type === 1) {
    const c = crc32(data);
    computed = Uint8Array.of(c & 0xff, (c >>> 8) & 0xff, (c >>> 16) & 0xff, c >>> 24);
  } else if (type === 4) {
    computed = crc64(data);
  } else if (type === 10) {
    computed = createHash('sha256').update(data).digest();
  }
  if (computed !== undefined && !computed.every((x, i) => stored[i] === x)) throw new Error(`block ${block}: check mismatch after the BCJ filter`);
}

let crc64Table: [Uint32Array, Uint32Array] | undefined;

/** CRC64 as xz uses it (ECMA-182 polynomial, reflected), on 32-bit halves; little-endian result. */
function crc64(data: Uint8Array): Uint8Array {
  if (crc64Table === undefined) {
    const lo = new Uint32Array(256);
    const hi = new Uint32Array(256);
    const poly = 0xc96c5795d7870f42n;
    for (let i = 0; i < 256; i++) {
      let c = BigInt(i);
      for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
      lo[i] = Number(c & 0xffff_ffffn);
      hi[i] = Number(c >> 32n);
    }
    crc64Table = [lo, hi];
  }
  const [tlo, thi] = crc64Table;
  let lo = 0xffff_ffff;
  let hi = 0xffff_ffff;
  for (let i = 0; i < data.length; i++) {
    const idx = (lo ^ (data[i] ?? 0)) & 0xff;
    const nlo = ((lo >>> 8) | ((hi & 0xff) << 24)) >>> 0;
    lo = (nlo ^ (tlo[idx] ?? 0)) >>> 0;
    hi = ((hi >>> 8) ^ (thi[idx] ?? 0)) >>> 0;
  }
  lo = ~lo >>> 0;
  hi = ~hi >>> 0;
  return Uint8Array.of(lo & 0xff, (lo >>> 8) & 0xff, (lo >>> 16) & 0xff, lo >>> 24, hi & 0xff, (hi >>> 8) & 0xff, (hi >>> 16) & 0xff, hi >>> 24);
}

/** xz's variable-length integer: 7 bits a byte, least significant first, at most 9 bytes. */
function vli(b: Uint8Array, p: { at: number }, limit: number): bigint {
  let v = 0n;
  for (let i = 0; i < 9; i++) {
    if (p.at >= limit) throw new Error(`truncated integer at offset ${p.at}`);
    const x = b[p.at++] ?? 0;
    v |= BigInt(x & 0x7f) << BigInt(7 * i);
    if ((x & 0x80) === 0) {
      if (i > 0 && x === 0) throw new Error(`badly encoded integer at offset ${p.at - 1}`);
      return v;
    }
  }
  throw new Error(`integer too long at offset ${p.at}`);
}

function encodeVli(n: number): number[] {
  const out: number[] = [];
  let x = n;
  while (x >= 0x80) {
    out.push((x % 0x80) | 0x80);
    x = Math.floor(x / 0x80);
  }
  out.push(x);
  return out;
}

function align4(n: number): number {
  return n + ((4 - (n % 4)) % 4);
}
