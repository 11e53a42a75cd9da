/**
 * lzop files (the kernel's `CONFIG_KERNEL_LZO`: `lzop -9`), holding LZO1X blocks.
 *
 * The one format written here rather than taken from npm: every LZO1X package on the registry
 * is GPL (lzo-ts; the `lzo` binding), LGPL code inside a BSD label (lzo-wasm wraps FFmpeg's
 * decoder, and loads only through a bundler), or a native build (lzo-decompress). The decoder
 * below follows the bitstream as the LZO documentation describes it (instruction classes by the
 * high bits of the opcode; the meaning of 0..15 depends on how many literals came before), with
 * every read and copy bounds-checked; the container follows lzop's header and block layout.
 */
import { crc32 } from 'node:zlib';
import { concat, tooLarge, type DecompressOptions } from './limits.js';

const LZOP_MAGIC = [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a];
/** lzop header and block flags. */
const F_ADLER32_D = 0x1;
const F_ADLER32_C = 0x2;
const F_H_EXTRA_FIELD = 0x40;
const F_CRC32_D = 0x100;
const F_CRC32_C = 0x200;
const F_H_FILTER = 0x800;
const F_H_CRC32 = 0x1000;
/** lzop never writes blocks larger than this (its MAX_BLOCK_SIZE). */
const MAX_BLOCK = 64 << 20;
/** Methods: LZO1X-1, LZO1X-1(15), LZO1X-999: one bitstream, one decoder. */
const LZO1X_METHODS = [1, 2, 3];

export function decompressLzop(b: Uint8Array, opts: DecompressOptions): Uint8Array {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = 0;
  const need = (n: number, what: string): void => {
    if (at + n > b.length) throw new Error(`truncated ${what} at offset ${at}`);
  };
  const u8 = (what: string): number => {
    need(1, what);
    return b[at++] ?? 0;
  };
  const u16 = (what: string): number => {
    need(2, what);
    at += 2;
    return v.getUint16(at - 2, false);
  };
  const u32 = (what: string): number => {
    need(4, what);
    at += 4;
    return v.getUint32(at - 4, false);
  };

  if (!LZOP_MAGIC.every((m, i) => b[i] === m)) throw new Error('no lzop magic');
  at = LZOP_MAGIC.length;
  const headerStart = at;
  const version = u16('header');
  u16('header'); // library version
  if (version >= 0x0940) u16('header'); // version needed to extract
  const method = u8('header');
  if (!LZO1X_METHODS.includes(method)) throw new Error(`compression method ${method} is not LZO1X`);
  if (version >= 0x0940) u8('header'); // level
  const flags = u32('header');
  if (flags & F_H_FILTER) throw new Error('lzop filters are not supported');
  u32('header'); // mode
  u32('header'); // mtime (low)
  if (version >= 0x0940) u32('header'); // mtime (high)
  const nameLength = u8('header');
  need(nameLength, 'file name');
  at += nameLength;
  const headerSum = flags & F_H_CRC32 ? crc32(b.subarray(headerStart, at)) : adler32(b.subarray(headerStart, at));
  if (u32('header checksum') !== headerSum) throw new Error('header checksum mismatch');
  if (flags & F_H_EXTRA_FIELD) {
    const n = u32('extra field');
    need(n + 4, 'extra field');
    at += n + 4;
  }

  const blocks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const blockAt = at;
    const dstLen = u32('block header');
    if (dstLen === 0) break;
    const srcLen = u32('block header');
    if (dstLen > MAX_BLOCK) throw new Error(`block at offset ${blockAt} claims ${dstLen} bytes, more than lzop's ${MAX_BLOCK}`);
    if (srcLen > dstLen) throw new Error(`block at offset ${blockAt}: ${srcLen} compressed bytes for ${dstLen} uncompressed`);
    total += dstLen;
    if (total > opts.maxBytes) tooLarge(opts, 'lzo', total, true);
    const adlerD = flags & F_ADLER32_D ? u32('block checksum') : undefined;
    const crcD = flags & F_CRC32_D ? u32('block checksum') : undefined;
    if (srcLen < dstLen) {
      if (flags & F_ADLER32_C) u32('block checksum');
      if (flags & F_CRC32_C) u32('block checksum');
    }
    need(srcLen, `block data (${srcLen} bytes)`);
    const src = b.subarray(at, at + srcLen);
    at += srcLen;
    let out: Uint8Array;
    try {
      out = srcLen === dstLen ? src : lzo1xDecompress(src, dstLen);
    } catch (e) {
      throw new Error(`block at offset ${blockAt}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (adlerD !== undefined && adler32(out) !== adlerD) throw new Error(`block at offset ${blockAt}: Adler-32 mismatch`);
    if (crcD !== undefined && crc32(out) !== crcD) throw new Error(`block at offset ${blockAt}: CRC-32 mismatch`);
    blocks.push(out);
  }
  return concat(blocks, total);
}

/**
 * One LZO1X block, which must decode to exactly `outLen` bytes and end with the end marker.
 * Instruction classes by opcode `t` (`S` = literals copied after a match, 0..3):
 *  - t < 16 after a match with S = 0: a run of 3 + t literals (t = 0: 18 + extension);
 *  - t < 16 after S = 1..3 literals: 2-byte match, distance 1 + (t >> 2) + (next << 2);
 *  - t < 16 after a run of 4 or more literals: 3-byte match, distance 2049 + (t >> 2) + (next << 2);
 *  - 16..31: match of 2 + (t & 7) (0: 9 + extension), distance 16384 + ((t & 8) << 11) + (LE16 >> 2);
 *    distance exactly 16384 is the end marker;
 *  - 32..63: match of 2 + (t & 31) (0: 33 + extension), distance 1 + (LE16 >> 2);
 *  - 64..127: match of 3 + bit 5, distance 1 + ((t >> 2) & 7) + (next << 3);
 *  - 128..255: match of 5 + bits 5..6, distance as above.
 * S is the low two bits of the last byte before the match's final one (of t, or of the LE16).
 * An extension is a run of zero bytes (255 each) ended by a non-zero byte added as is. A first
 * byte above 17 is a run of (byte - 17) literals.
 */
export function lzo1xDecompress(src: Uint8Array, outLen: number): Uint8Array {
  const out = new Uint8Array(outLen);
  let ip = 0;
  let op = 0;
  const next = (): number => {
    if (ip >= src.length) throw new Error('input overrun');
    return src[ip++] ?? 0;
  };
  const extend = (base: number): number => {
    let n = base;
    for (;;) {
      const x = next();
      if (x !== 0) return n + x;
      n += 255;
    }
  };
  const literals = (n: number): void => {
    if (ip + n > src.length) throw new Error('input overrun');
    if (op + n > outLen) throw new Error('output overrun');
    out.set(src.subarray(ip, ip + n), op);
    ip += n;
    op += n;
  };
  const match = (distance: number, length: number): void => {
    if (distance > op) throw new Error(`match distance ${distance} reaches before the start of the block`);
    if (op + length > outLen) throw new Error('output overrun');
    for (let k = 0; k < length; k++, op++) out[op] = out[op - distance] ?? 0;
  };

  // Literals copied by the previous instruction: 0, 1..3, or 4 for "four or more".
  let state = 0;
  if ((src[0] ?? 0) > 17) {
    const n = next() - 17;
    literals(n);
    state = n < 4 ? n : 4;
  }
  for (;;) {
    const t = next();
    let s: number;
    if (t < 16) {
      if (state === 0) {
        literals(t === 0 ? extend(15) + 3 : t + 3);
        state = 4;
        continue;
      }
      const h = next();
      if (state === 4) match(2049 + (t >> 2) + (h << 2), 3);
      else match(1 + (t >> 2) + (h << 2), 2);
      s = t & 3;
    } else if (t < 32) {
      const length = (t & 7) === 0 ? extend(7) + 2 : (t & 7) + 2;
      const le = next() | (next() << 8);
      const distance = 16384 + ((t & 8) << 11) + (le >> 2);
      if (distance === 16384) {
        if (op !== outLen) throw new Error(`ended after ${op} of ${outLen} bytes`);
        if (ip !== src.length) throw new Error(`${src.length - ip} bytes after the end marker`);
        return out;
      }
      match(distance, length);
      s = le & 3;
    } else if (t < 64) {
      const length = (t & 31) === 0 ? extend(31) + 2 : (t & 31) + 2;
      const le = next() | (next() << 8);
      match(1 + (le >> 2), length);
      s = le & 3;
    } else {
      const length = t < 128 ? 3 + ((t >> 5) & 1) : 5 + ((t >> 5) & 3);
      match(1 + ((t >> 2) & 7) + (next() << 3), length);
      s = t & 3;
    }
    literals(s);
    state = s;
  }
}

/** Adler-32 (RFC 1950 §8.2), in runs short enough that the sums stay exact. */
export function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < data.length; ) {
    const end = Math.min(data.length, i + 5552);
    for (; i < end; i++) {
      a += data[i] ?? 0;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}
