/**
 * Hostile images: whatever bytes a user hands the builder, the answer is a result or one
 * `bad-file` line naming the image, never another exception.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { decompress, type Compression } from '../../../harness/builder/decompress.js';
import { loadKernelImage } from '../../../harness/builder/image.js';
import { findXenNotes } from '../../../harness/builder/notes.js';
import { parseElf } from '../../../harness/elf.js';
import { UserError } from '../../../harness/errors.js';
import { LINUX_LOADS, buildBzImage, buildElf, linuxNotes } from './elf-builder.js';

const SAMPLES = fileURLToPath(new URL('./samples/', import.meta.url));
const FORMATS: readonly [Compression, string][] = [
  ['gzip', 'sample.gz'],
  ['bzip2', 'sample.bz2'],
  ['lzma', 'sample.lzma'],
  ['xz', 'sample.xz'],
  ['lzo', 'sample.lzo'],
  ['lz4-legacy', 'sample.lz4-legacy'],
  ['lz4', 'sample.lz4'],
  ['zstd', 'sample.zst'],
];
const oneLine = (e: unknown, name: string): boolean =>
  e instanceof UserError && e.code === 'bad-file' && e.message.startsWith(`${name}`) && !e.message.includes('\n');

describe('hostile images', () => {
  it('note areas of any bytes give notes or a bad-file error naming the image', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 3 }), (area, skew) => {
        const bytes = buildElf({ entry: 0xffffffff81000100n, loads: LINUX_LOADS, rawNoteArea: area, noteAreaSkew: skew, xenGuest: 'GUEST_OS=linux' });
        try {
          findXenNotes(parseElf(bytes, 'fuzz.elf'), bytes, 'fuzz.elf');
          return true;
        } catch (e) {
          return oneLine(e, 'fuzz.elf');
        }
      }),
      { numRuns: 400 },
    );
  });

  it('corrupted or cut compressed streams of every format decompress or fail with a bad-file error', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...FORMATS),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.option(fc.nat(), { nil: undefined }),
        async ([format, file], pokes, cut) => {
          const b = new Uint8Array(readFileSync(join(SAMPLES, file)));
          for (const [at, v] of pokes) b[at % b.length] = v;
          const input = cut === undefined ? b : b.subarray(0, cut % b.length);
          try {
            await decompress(input, format, { name: 'fuzz.img', maxBytes: 1 << 18 });
            return true;
          } catch (e) {
            return oneLine(e, 'fuzz.img: ');
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a corrupted bzImage around a Linux-like kernel loads or fails with one line', async () => {
    const elf = buildElf({ entry: 0xffffffff81000100n, loads: LINUX_LOADS, segmentNotes: linuxNotes() });
    const { gzipSync } = await import('node:zlib');
    const good = buildBzImage(gzipSync(elf), elf.length, { appendSize: false });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), async (pokes) => {
        const b = good.slice();
        for (const [at, v] of pokes) b[at % b.length] = v;
        try {
          await loadKernelImage(b, { name: 'fuzz.bz' });
          return true;
        } catch (e) {
          return oneLine(e, 'fuzz.bz: ');
        }
      }),
      { numRuns: 200 },
    );
  });
});
