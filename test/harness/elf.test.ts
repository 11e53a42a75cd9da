import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { requireFixture } from '../../fixtures/pipeline/cache.js';
import { EM_X86_64, ET_EXEC, PT_LOAD, parseElf } from '../../harness/elf.js';
import { UserError } from '../../harness/errors.js';

describe('ELF reader', () => {
  it('reads static busybox: x86-64 executable with loadable segments and sections', async () => {
    const path = (await requireFixture('busybox')).file('busybox');
    const elf = parseElf(readFileSync(path), path);
    expect(elf.class).toBe(64);
    expect(elf.machine).toBe(EM_X86_64);
    expect([ET_EXEC, 3]).toContain(elf.type);
    expect(elf.segments.filter((s) => s.type === PT_LOAD).length).toBeGreaterThan(0);
    expect(elf.section('.text')?.length).toBeGreaterThan(100_000);
  });

  it("reads GRUB's 32-bit PV image", async () => {
    const path = (await requireFixture('grub-xen')).file('i386-xen');
    const elf = parseElf(readFileSync(path), path);
    expect(elf.class).toBe(32);
    expect(elf.machine).toBe(3);
    expect(elf.section('__xen_guest') ?? elf.section('.note.Xen') ?? elf.segments.find((s) => s.type === 4)).toBeDefined();
  });

  it('rejects a non-ELF file with one line naming it', () => {
    expect(() => parseElf(new Uint8Array(100), '/tmp/zero.bin')).toThrow(
      new UserError('bad-file', '/tmp/zero.bin: not a valid ELF file: no ELF magic'),
    );
  });

  it('hostile input: any truncation or corruption of a real module gives a result or a bad-file error', async () => {
    const ko = readFileSync((await requireFixture('kernel')).file('xen-blkfront'));
    const prefix = ko.subarray(0, 4096);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: ko.length }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        (cut, pokes) => {
          // Corrupt the headers (where the offsets live) and cut the file anywhere.
          const bytes = Buffer.concat([Buffer.from(prefix), ko.subarray(prefix.length)]).subarray(0, cut);
          for (const [at, v] of pokes) if (at < bytes.length) bytes[at] = v;
          try {
            const elf = parseElf(bytes, 'fuzz.ko');
            for (const s of elf.sections) elf.section(s.name);
            return true;
          } catch (e) {
            return e instanceof UserError && e.code === 'bad-file' && e.message.startsWith('fuzz.ko: not a valid ELF file: ');
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
