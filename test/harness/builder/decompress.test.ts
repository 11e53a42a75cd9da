import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COMPRESSIONS, decompress, detectCompression, type Compression } from '../../../harness/builder/decompress.js';
import { adler32, lzo1xDecompress } from '../../../harness/builder/lzo.js';
import { UserError } from '../../../harness/errors.js';
import { which } from '../../../fixtures/pipeline/run.js';
import { SAMPLE_SHA256, sampleData } from './sample-data.js';

const SAMPLES = fileURLToPath(new URL('./samples/', import.meta.url));
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const data = sampleData();

/** Committed sample per format, and the command that makes it on a host that has the tool. */
const FORMATS: readonly { format: Compression; sample: string; command: readonly string[] }[] = [
  { format: 'gzip', sample: 'sample.gz', command: ['gzip', '-n', '-9'] },
  { format: 'bzip2', sample: 'sample.bz2', command: ['bzip2', '-9'] },
  { format: 'lzma', sample: 'sample.lzma', command: ['lzma', '-9'] },
  { format: 'xz', sample: 'sample.xz', command: ['xz', '--check=crc32', '--x86', '--lzma2=,dict=32MiB'] },
  { format: 'lzo', sample: 'sample.lzo', command: ['lzop', '-9'] },
  { format: 'lz4-legacy', sample: 'sample.lz4-legacy', command: ['lz4', '-l', '-9'] },
  { format: 'lz4', sample: 'sample.lz4', command: ['lz4', '-9'] },
  { format: 'zstd', sample: 'sample.zst', command: ['zstd', '-q', '-22', '--ultra'] },
];
const sample = (file: string): Uint8Array => new Uint8Array(readFileSync(join(SAMPLES, file)));
const opts = { name: 'img', maxBytes: 1 << 20 };

describe('kernel decompression', () => {
  it('the sample data is what the committed samples were made from', () => {
    expect(sha256(data)).toBe(SAMPLE_SHA256);
    const sums = readFileSync(join(SAMPLES, 'SHA256SUMS'), 'utf8').trim().split('\n');
    expect(sums).toHaveLength(FORMATS.length);
    for (const line of sums) {
      const [sum, file] = line.split(/\s+/);
      expect(sha256(sample(file ?? '')), file).toBe(sum);
    }
  });

  it('every format is recognised by its magic, and nothing else is', () => {
    for (const f of FORMATS) expect(detectCompression(sample(f.sample)), f.sample).toBe(f.format);
    expect(COMPRESSIONS.map((c) => c.name).sort()).toEqual(FORMATS.map((f) => f.format).sort());
    expect(detectCompression(Uint8Array.of(0x7f, 0x45, 0x4c, 0x46))).toBeUndefined();
    expect(detectCompression(new Uint8Array(0))).toBeUndefined();
  });

  for (const f of FORMATS) {
    it(`${f.format}: the committed sample (${f.command.join(' ')}) decompresses to the sample data`, async () => {
      expect(sha256(await decompress(sample(f.sample), f.format, opts))).toBe(SAMPLE_SHA256);
    });
  }

  // Fresh samples from the host's tools, for those it has (Debian 12 has all but lzop).
  for (const f of FORMATS.filter((x) => which(x.command[0] ?? '') !== undefined)) {
    it(`${f.format}: data compressed now by ${f.command.join(' ')} decompresses back`, async () => {
      const r = spawnSync(f.command[0] ?? '', f.command.slice(1), { input: data, maxBuffer: 1 << 24 });
      expect(r.status).toBe(0);
      const fresh = new Uint8Array(r.stdout);
      expect(detectCompression(fresh)).toBe(f.format);
      expect(sha256(await decompress(fresh, f.format, opts))).toBe(SAMPLE_SHA256);
    });
  }

  for (const f of FORMATS) {
    it(`${f.format}: a truncated stream is a one-line bad-file error naming the image`, async () => {
      const b = sample(f.sample);
      const err = await decompress(b.subarray(0, b.length >> 1), f.format, { name: 'half.img', maxBytes: 1 << 20 }).then(
        (out) => out,
        (e: unknown) => e,
      );
      // LZ4 frames and lzma streams without an end marker cannot tell a cut from an end: they
      // give less data, which the image loader then refuses by size.
      if (err instanceof Uint8Array) {
        expect(['lz4', 'lzma']).toContain(f.format);
        expect(err.length).toBeLessThan(data.length);
      } else {
        expect(err).toBeInstanceOf(UserError);
        expect((err as UserError).code).toBe('bad-file');
        expect((err as UserError).message).toMatch(new RegExp(`^half\\.img: (corrupt ${f.format} data: |${f.format} )`));
        expect((err as UserError).message).not.toContain('\n');
      }
    });

    it(`${f.format}: output beyond the limit is refused`, async () => {
      await expect(decompress(sample(f.sample), f.format, { name: 'big.img', maxBytes: 1000 })).rejects.toThrow(
        /^big\.img: (lz4|lzo|xz|zstd|lzma|gzip|bzip2|corrupt gzip data: .*) ?.*(more than the limit of 1000|Cannot create a Buffer larger than 1000 bytes|larger than 1000)/,
      );
    });
  }

  describe('LZO1X blocks', () => {
    it('decodes literals, matches and the end marker; refuses a match before the start', () => {
      // 22 - 17 = 5 literals "abcde"; M2 (0x40..0x7f) length 3, distance 5 ("abc"); end marker 0x11 0 0.
      const block = Uint8Array.of(22, 0x61, 0x62, 0x63, 0x64, 0x65, 0x40 | (4 << 2), 0, 0x11, 0, 0);
      expect(Buffer.from(lzo1xDecompress(block, 8)).toString()).toBe('abcdeabc');
      expect(() => lzo1xDecompress(block, 7)).toThrow('output overrun');
      expect(() => lzo1xDecompress(block, 9)).toThrow('ended after 8 of 9 bytes');
      const far = Uint8Array.of(22, 0x61, 0x62, 0x63, 0x64, 0x65, 0x40 | (7 << 2), 1, 0x11, 0, 0);
      expect(() => lzo1xDecompress(far, 8)).toThrow('reaches before the start');
    });

    it('Adler-32 as zlib computes it', () => {
      expect(adler32(new Uint8Array(0))).toBe(1);
      expect(adler32(new TextEncoder().encode('Wikipedia'))).toBe(0x11e60398);
      expect(adler32(new Uint8Array(100_000).fill(0xff))).toBe(0x149a302c);
    });
  });
});
