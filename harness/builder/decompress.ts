/**
 * Decompression of kernel images: every format the Linux kernel can compress its payload with
 * (and libxenguest can undo: tools/libs/guest/xg_dom_bzimageloader.c), told apart by magic.
 *
 * Each format is a maintained library where one exists (docs/kernel-images.md says which and
 * why): Node's zlib for gzip, seek-bzip for bzip2, xz-decompress (xz-embedded in WebAssembly)
 * for xz, lzma1 for legacy .lzma, lz4js for LZ4 blocks and frames, fzstd for zstd. Around them
 * we keep only framing no library covers: the legacy LZ4 frame (`lz4-legacy.ts` below), xz's BCJ
 * filter (`xz.ts`) and lzop's container with its LZO1X blocks (`lzo.ts`).
 *
 * Every failure is a one-line `bad-file` UserError naming the image; output is bounded by
 * `maxBytes` before it is allocated wherever the format states its size.
 */
import { gunzipSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import * as lz4 from 'lz4js';
import Bunzip from 'seek-bzip';
import { UserError } from '../errors.js';
import { concat, tooLarge, type DecompressOptions } from './limits.js';
import { decompressLzop } from './lzo.js';
import { decompressXz } from './xz.js';

export type { DecompressOptions } from './limits.js';

/**
 * Compression formats by leading magic. Columns: the name we report, the magic bytes, and the
 * tool that makes it (`lz4 -l` writes the legacy frame the kernel uses).
 */
export const COMPRESSIONS = [
  { name: 'gzip', magic: [0x1f, 0x8b], tool: 'gzip' },
  { name: 'bzip2', magic: [0x42, 0x5a, 0x68], tool: 'bzip2' },
  { name: 'xz', magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], tool: 'xz' },
  { name: 'lzma', magic: [0x5d, 0x00], tool: 'xz --format=lzma' },
  { name: 'lzo', magic: [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a], tool: 'lzop' },
  { name: 'lz4-legacy', magic: [0x02, 0x21, 0x4c, 0x18], tool: 'lz4 -l' },
  { name: 'lz4', magic: [0x04, 0x22, 0x4d, 0x18], tool: 'lz4' },
  { name: 'zstd', magic: [0x28, 0xb5, 0x2f, 0xfd], tool: 'zstd' },
] as const satisfies readonly { name: string; magic: readonly number[]; tool: string }[];

export type Compression = (typeof COMPRESSIONS)[number]['name'];

const UNKNOWN_SIZE = 0xffff_ffff_ffff_ffffn;

export function detectCompression(bytes: Uint8Array): Compression | undefined {
  return COMPRESSIONS.find((c) => c.magic.every((b, i) => bytes[i] === b))?.name;
}

/** Undoes `format`; the whole input is one compressed stream (trailing bytes are an error where the library says so). */
export async function decompress(input: Uint8Array, format: Compression, opts: DecompressOptions): Promise<Uint8Array> {
  const corrupt = (e: unknown): never => {
    if (e instanceof UserError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new UserError('bad-file', `${opts.name}: corrupt ${format} data: ${why.split('\n')[0] ?? ''}`, { cause: e });
  };
  let out: Uint8Array;
  try {
    out = await run(input, format, opts);
  } catch (e) {
    return corrupt(e);
  }
  if (out.length > opts.maxBytes) tooLarge(opts, format, out.length);
  return out;
}

async function run(input: Uint8Array, format: Compression, opts: DecompressOptions): Promise<Uint8Array> {
  switch (format) {
    case 'gzip':
      return new Uint8Array(gunzipSync(input, { maxOutputLength: Math.max(1, opts.maxBytes) }));
    case 'bzip2':
      return new Uint8Array(Bunzip.decode(Buffer.from(input.buffer, input.byteOffset, input.byteLength), undefined, true));
    case 'xz':
      return decompressXz(input, opts);
    case 'lzma': {
      // Header: properties (1), dictionary size (4), uncompressed size (8, all ones = unknown).
      if (input.length < 13) throw new Error(`${input.length} bytes is shorter than the 13-byte .lzma header`);
      const size = Buffer.from(input.buffer, input.byteOffset, input.byteLength).readBigUInt64LE(5);
      if (size !== UNKNOWN_SIZE && size > BigInt(opts.maxBytes)) tooLarge(opts, 'lzma', size);
      if (size !== UNKNOWN_SIZE) return (await loadLzma1()).decompress(input);
      // The kernel's `lzma -9` reads a pipe, so the size is unknown and an end marker ends the
      // data. lzma1 would decode corrupt data without end, so we state a size to stop at: the
      // expected one when the caller knows it, else one byte past the limit. An end marker
      // still ends the data first.
      const bound = Math.min(opts.expectedSize ?? opts.maxBytes + 1, 0xffff_ffff);
      const bounded = new Uint8Array(input);
      new DataView(bounded.buffer).setBigUint64(5, BigInt(bound), true);
      const out = (await loadLzma1()).decompress(bounded);
      if (opts.expectedSize === undefined && out.length > opts.maxBytes) tooLarge(opts, 'lzma', out.length, true);
      return out;
    }
    case 'lzo':
      return decompressLzop(input, opts);
    case 'lz4-legacy':
      return decompressLz4Legacy(input, opts);
    case 'lz4':
      return decompressLz4Frame(input, opts);
    case 'zstd': {
      const size = zstdContentSize(input);
      if (size !== undefined && size > BigInt(opts.maxBytes)) tooLarge(opts, 'zstd', size);
      return zstdDecompress(input);
    }
  }
}

/** The legacy LZ4 frame (`lz4 -l`, the kernel's choice): magic, then chunks of LE u32 length + one LZ4 block of at most 8 MiB. */
const LZ4_LEGACY_MAGIC = 0x184c2102;
const LZ4_LEGACY_BLOCK = 8 << 20;

function decompressLz4Legacy(input: Uint8Array, opts: DecompressOptions): Uint8Array {
  const v = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const chunks: Uint8Array[] = [];
  let total = 0;
  let at = 4;
  // Each chunk fills at most one block; one scratch buffer with room to spare catches overruns.
  const scratch = new Uint8Array(LZ4_LEGACY_BLOCK + 1);
  while (at < input.length) {
    if (at + 4 > input.length) throw new Error(`truncated chunk header at offset ${at}`);
    const size = v.getUint32(at, true);
    at += 4;
    // Concatenated legacy frames: a chunk "length" equal to the magic starts the next frame.
    if (size === LZ4_LEGACY_MAGIC) continue;
    if (size === 0 || size > lz4.compressBound(LZ4_LEGACY_BLOCK)) throw new Error(`chunk at offset ${at - 4} has impossible length ${size}`);
    if (at + size > input.length) throw new Error(`truncated: chunk at offset ${at - 4} needs ${size} bytes, ${input.length - at} left`);
    const n = lz4.decompressBlock(input, scratch, at, size, 0);
    if (!(n >= 0 && n <= LZ4_LEGACY_BLOCK)) throw new Error(`chunk at offset ${at - 4} decodes past the ${LZ4_LEGACY_BLOCK}-byte block size`);
    total += n;
    if (total > opts.maxBytes) tooLarge(opts, 'lz4', total, true);
    chunks.push(scratch.slice(0, n));
    at += size;
  }
  return concat(chunks, total);
}

/** The LZ4 frame format (`lz4`): lz4js reads it whole; we bound its output by the frame's own block sizes. */
function decompressLz4Frame(input: Uint8Array, opts: DecompressOptions): Uint8Array {
  if (input.length < 7) throw new Error('truncated frame header');
  const bound = Number(lz4.decompressBound(input) as unknown as number);
  if (!Number.isFinite(bound)) throw new Error('truncated frame');
  if (bound > opts.maxBytes) tooLarge(opts, 'lz4', bound);
  return lz4.decompress(input, bound);
}

/**
 * Frame_Content_Size from a zstd frame header (RFC 8878 §3.1.1.1), when the frame states it:
 * lets us refuse an oversized image before fzstd allocates its output.
 */
function zstdContentSize(b: Uint8Array): bigint | undefined {
  const fhd = b[4];
  if (fhd === undefined) return undefined;
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const dictBytes = [0, 1, 2, 4][fhd & 3] ?? 0;
  const fcsBytes = [single, 2, 4, 8][fcsFlag] ?? 0;
  if (fcsBytes === 0) return undefined;
  const at = 5 + (single ? 0 : 1) + dictBytes;
  if (at + fcsBytes > b.length) return undefined;
  let v = 0n;
  for (let i = fcsBytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i] ?? 0);
  return fcsBytes === 2 ? v + 256n : v;
}

/**
 * lzma1 publishes its TypeScript sources as its types, which our stricter compiler options
 * (noUncheckedIndexedAccess) reject when they are type-checked with the project; so it is loaded
 * by a specifier the compiler does not resolve, typed with the one function we use.
 */
async function loadLzma1(): Promise<{ decompress(data: Uint8Array): Uint8Array }> {
  const specifier: string = 'lzma1';
  return (await import(specifier)) as { decompress(data: Uint8Array): Uint8Array };
}
