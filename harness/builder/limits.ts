/** What every decoder shares: the options that bound its output, and joining its chunks. */
import { UserError } from '../errors.js';

export interface DecompressOptions {
  /** Names the image in errors (`vmlinuz: corrupt zstd data: ...`). */
  readonly name: string;
  /** Refuse output larger than this many bytes. */
  readonly maxBytes: number;
  /** The output size the caller expects (a bzImage states it); lets lzma stop on corrupt data. */
  readonly expectedSize?: number;
}

/** `atLeast`: the size is a lower bound (decoding stopped as soon as the limit was passed). */
export function tooLarge(opts: DecompressOptions, format: string, size: number | bigint, atLeast = false): never {
  throw new UserError(
    'bad-file',
    `${opts.name}: ${format} data decompresses to ${atLeast ? 'at least ' : ''}${size} bytes, more than the limit of ${opts.maxBytes}`,
  );
}

export function concat(chunks: readonly Uint8Array[], total = chunks.reduce((n, c) => n + c.length, 0)): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
