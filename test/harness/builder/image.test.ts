import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import * as lz4 from 'lz4js';
import { describe, expect, it } from 'vitest';
import { requireFixture } from '../../../fixtures/pipeline/cache.js';
import { which } from '../../../fixtures/pipeline/run.js';
import { loadKernelImage, type LoadKernelOptions } from '../../../harness/builder/image.js';
import { XEN_FEATURE_BITS } from '../../../harness/builder/notes.js';
import { UserError } from '../../../harness/errors.js';
import { LINUX_LOADS, buildBzImage, buildElf, linuxNotes, num, str, type ElfSpec, type NoteSpec } from './elf-builder.js';

const linux = (o: Partial<ElfSpec> = {}): Uint8Array =>
  buildElf({ entry: 0xffffffff81000100n, loads: LINUX_LOADS, segmentNotes: linuxNotes(), ...o });
const load = (bytes: Uint8Array, opts: LoadKernelOptions = {}) => loadKernelImage(bytes, { name: 'k', ...opts });
const refuses = async (bytes: Uint8Array, message: string | RegExp, opts: LoadKernelOptions = {}): Promise<void> => {
  const e = await load(bytes, opts).then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(UserError);
  const err = e as UserError;
  expect(err.message).not.toContain('\n');
  if (typeof message === 'string') expect(err.message).toBe(message);
  else expect(err.message).toMatch(message);
};
/** Minimal PV notes: what elf_xen_note_check wants and nothing else. */
const pvNotes = (...more: NoteSpec[]): NoteSpec[] => [{ type: 6, desc: str('linux') }, { type: 5, desc: str('xen-3.0') }, ...more];
const LOW_LOADS = [{ paddr: 0x100000n, vaddr: 0x100000n, size: 0x2000 }];

/** The legacy LZ4 frame the kernel's `lz4 -l` writes, made with lz4js's block compressor. */
function lz4Legacy(data: Uint8Array): Uint8Array {
  const parts: number[] = [...num(0x184c2102, 4)];
  for (let at = 0; at < data.length; at += 8 << 20) {
    const chunk = data.subarray(at, Math.min(data.length, at + (8 << 20)));
    const dst = new Uint8Array(lz4.compressBound(chunk.length));
    const n = lz4.compressBlock(chunk, dst, 0, chunk.length, new Uint32Array(1 << 16));
    parts.push(...num(n, 4), ...dst.subarray(0, n));
  }
  return Uint8Array.from(parts);
}

describe('kernel images', () => {
  it("Debian's cloud kernel: an lz4 bzImage whose ELF carries Linux's Xen notes", async () => {
    const path = (await requireFixture('kernel')).file('vmlinuz');
    const img = await loadKernelImage(path, { maxBytes: 512 << 20 });
    expect(img.format).toBe('bzImage');
    expect(img.compression).toBe('lz4-legacy');
    expect(img.fileSize).toBe(statSync(path).size);
    expect(img.bzImage?.protocol).toBeGreaterThanOrEqual(0x020f);
    expect(img.bzImage?.uncompressedSize).toBe(img.elfBytes.length);
    expect(img.elf.class).toBe(64);
    expect(img.guestType).toBe('xen-3.0-x86_64');
    expect(img.notes.source).toBe('PT_NOTE');
    expect(img.notes).toMatchObject({ guestOs: 'linux', xenVersion: 'xen-3.0', loader: 'generic', paeMode: 'extended-cr3', warnings: [] });
    expect(img.virtBase).toBe(0xffffffff80000000n);
    expect(img.paddrOffset).toBe(0n);
    expect(img.virtKstart).toBe(0xffffffff81000000n);
    expect(img.entry).toBe(img.notes.entry);
    expect(img.entry > img.virtKstart && img.entry < img.virtKend).toBe(true);
    expect(img.p2mBase).toBe(0x8000000000n);
    expect(img.notes.hvStartLow).toBe(0xffff800000000000n);
    expect(img.notes.phys32Entry).toBeGreaterThan(0x1000000);
    // Linux 6.1.y dropped the hypercall page (XSA-466): the kernel issues `syscall` itself.
    expect(img.hypercallPage).toBeUndefined();
    expect(img.notes.features.text).toBe('!writable_page_tables|pae_pgdir_above_4gb');
    expect(img.features.required).toBe(1 << XEN_FEATURE_BITS.writable_page_tables);
    expect(img.unmappedInitrd).toBe(true);
    // Text, data, per-CPU (linked at virtual 0, placed by its physical address), init+bss.
    expect(img.segments.map((s) => s.flags)).toEqual([5, 6, 6, 7]);
    const percpu = img.segments[2];
    expect(percpu?.vaddr).toBe(0n);
    expect(percpu?.loadAddress).toBe((percpu?.paddr ?? 0n) + img.virtOffset);
    for (const s of img.segments) {
      expect(s.data.length).toBe(s.filesz);
      expect(s.loadAddress >= img.virtKstart && s.loadAddress + s.memsz <= img.virtKend).toBe(true);
    }
  });

  it("GRUB's x86_64 PV image: a plain ELF with the generic loader's notes", async () => {
    const path = (await requireFixture('grub-xen')).file('x86_64-xen');
    const img = await loadKernelImage(path);
    expect(img).toMatchObject({ format: 'elf', guestType: 'xen-3.0-x86_64', virtBase: 0n, entry: 0n, virtKstart: 0n });
    expect(img.compression).toBeUndefined();
    expect(img.notes).toMatchObject({ source: 'PT_NOTE', guestOs: 'GRUB', loader: 'generic', xenVersion: 'xen-3.0', warnings: [] });
    expect(img.hypercallPage).toBeUndefined();
    expect(img.segments.length).toBe(2);
  });

  it("GRUB's i386 PV image: PAE, and a PAE_MODE note cut by the end of the file that Xen accepts", async () => {
    const img = await loadKernelImage((await requireFixture('grub-xen')).file('i386-xen'));
    expect(img.guestType).toBe('xen-3.0-x86_32p');
    expect(img.pae).toBe('extended-cr3');
    expect(img.notes.warnings).toHaveLength(1);
    expect(img.notes.warnings[0]).toMatch(/note PAE_MODE \(descsz 12\) is cut short by the end of the file/);
  });

  it("GRUB's PVH image is refused: xenlab boots PV kernels", async () => {
    const path = (await requireFixture('grub-xen')).file('i386-xen_pvh');
    await expect(loadKernelImage(path)).rejects.toThrow(
      new UserError('bad-file', `${path}: a PVH-only image (PHYS32_ENTRY 0x100000 and no PV notes); xenlab boots PV kernels`),
    );
  });

  describe('formats', () => {
    const elf = linux();

    it('a plain ELF64 kernel', async () => {
      const img = await load(elf);
      expect(img).toMatchObject({
        format: 'elf',
        guestType: 'xen-3.0-x86_64',
        virtBase: 0xffffffff80000000n,
        virtKstart: 0xffffffff81000000n,
        virtKend: 0xffffffff81005000n,
        entry: 0xffffffff81000100n,
        hypercallPage: 0xffffffff81001000n,
      });
      expect(img.segments.map((s) => [s.loadAddress, s.filesz, s.memsz])).toEqual([
        [0xffffffff81000000n, 0x3000, 0x3000n],
        [0xffffffff81003000n, 0x800, 0x2000n],
      ]);
    });

    it('a gzip-compressed ELF', async () => {
      const img = await load(gzipSync(elf));
      expect(img.format).toBe('compressed-elf');
      expect(img.compression).toBe('gzip');
      expect(img.elfBytes).toEqual(elf);
    });

    const inProcess: [string, (d: Uint8Array) => Uint8Array | Promise<Uint8Array>][] = [
      ['gzip', (d) => gzipSync(d)],
      ['lz4-legacy', lz4Legacy],
      [
        'lzma',
        async (d) => {
          const specifier: string = 'lzma1';
          const m = (await import(specifier)) as { compress(d: Uint8Array, mode: number): Uint8Array };
          return new Uint8Array(m.compress(d, 1));
        },
      ],
    ];
    const hostTools: [string, string[]][] = [
      ['bzip2', ['bzip2', '-9']],
      ['xz', ['xz', '--check=crc32', '--x86', '--lzma2=,dict=32MiB']],
      ['lzo', ['lzop', '-9']],
      ['zstd', ['zstd', '-q', '-19']],
    ];
    for (const [format, compress] of [
      ...inProcess,
      ...hostTools
        .filter(([, cmd]) => which(cmd[0] ?? '') !== undefined)
        .map(([f, cmd]): [string, (d: Uint8Array) => Uint8Array] => [f, (d) => new Uint8Array(spawnSync(cmd[0] ?? '', cmd.slice(1), { input: d }).stdout)]),
    ]) {
      it(`a bzImage with a ${format} payload`, async () => {
        const img = await load(buildBzImage(await compress(elf), elf.length, { appendSize: format !== 'gzip' }));
        expect(img.format).toBe('bzImage');
        expect(img.compression).toBe(format);
        expect(img.bzImage).toMatchObject({ protocol: 0x020f, setupSects: 3, payloadAt: 4 * 512 + 0x40, uncompressedSize: elf.length });
        expect(img.elfBytes).toEqual(elf);
        expect(img.entry).toBe(0xffffffff81000100n);
      });
    }

    it('an i386 PAE kernel ("yes" and "bimodal"), and the legacy __xen_guest string', async () => {
      const loads = [{ paddr: 0x100000n, vaddr: 0xc0100000n, size: 0x1000 }];
      const notes = (pae: string) => pvNotes({ type: 3, desc: num(0xc0000000, 4) }, { type: 9, desc: str(pae) });
      const yes = await load(buildElf({ class: 32, entry: 0xc0100000n, loads, segmentNotes: notes('yes') }));
      expect(yes).toMatchObject({ guestType: 'xen-3.0-x86_32p', pae: 'extended-cr3', virtKstart: 0xc0100000n });
      const bimodal = await load(buildElf({ class: 32, entry: 0xc0100000n, loads, segmentNotes: notes('yes,bimodal') }));
      expect(bimodal).toMatchObject({ guestType: 'xen-3.0-x86_32p', pae: 'bimodal' });
      // Old kernels: __xen_guest, virtual addresses in p_paddr; ELF_PADDR_OFFSET defaults to VIRT_BASE.
      const legacy = await load(
        buildElf({
          class: 32,
          entry: 0xc0100000n,
          loads: [{ paddr: 0xc0100000n, vaddr: 0xc0100000n, size: 0x1000 }],
          xenGuest: 'GUEST_OS=linux,XEN_VER=xen-3.0,VIRT_BASE=0xC0000000,PAE=yes[extended-cr3],HYPERCALL_PAGE=0x100',
        }),
      );
      expect(legacy).toMatchObject({ paddrOffset: 0xc0000000n, virtOffset: 0n, virtKstart: 0xc0100000n, hypercallPage: 0xc0100000n });
      expect(legacy.segments[0]?.loadAddress).toBe(0xc0100000n);
    });

    it('defaults: VIRT_BASE 0, PADDR_OFFSET 0 with notes, entry e_entry', async () => {
      const img = await load(buildElf({ entry: 0x100080n, loads: LOW_LOADS, segmentNotes: pvNotes() }));
      expect(img).toMatchObject({ virtBase: 0n, paddrOffset: 0n, virtOffset: 0n, virtKstart: 0x100000n, virtKend: 0x102000n, entry: 0x100080n, pae: 'no' });
      expect(img.hypercallPage).toBeUndefined();
      expect(img.p2mBase).toBeUndefined();
    });
  });

  describe('refusals, one line naming the image', () => {
    it('a file that is no kernel, a missing file, an oversized file', async () => {
      await refuses(new Uint8Array(4096).fill(0x41), 'k: not a kernel image: neither ELF, bzImage nor a compressed ELF (starts 41 41 41 41 41 41)');
      await expect(loadKernelImage('/nonexistent/vmlinuz')).rejects.toThrow(new UserError('file-not-found', '/nonexistent/vmlinuz: cannot read the kernel image'));
      await refuses(linux(), /^k: \d+ bytes is more than the 1000-byte limit for a kernel$/, { maxKernelBytes: 1000 });
    });

    it('bzImage: truncated, old protocol, unknown compression, wrong size field, not ELF inside', async () => {
      const elf = linux();
      const good = buildBzImage(lz4Legacy(elf), elf.length);
      await refuses(good.subarray(0, good.length - 100), /^k: truncated bzImage: the payload \(\d+ bytes at 0x840\) runs past the end of the file \(\d+ bytes\)$/);
      await refuses(buildBzImage(lz4Legacy(elf), elf.length, { protocol: 0x0206 }), 'k: bzImage boot protocol 2.06 is older than 2.08, which added payload_offset');
      await refuses(buildBzImage(new Uint8Array(64).fill(7), 64), 'k: bzImage payload has an unknown compression format (starts 07 07 07 07 07 07)');
      await refuses(buildBzImage(lz4Legacy(elf), elf.length + 1), `k: bzImage lz4-legacy payload decompressed to ${elf.length} bytes, its size field says ${elf.length + 1}`);
      const text = new Uint8Array(Buffer.from('this is not an ELF file at all; '.repeat(40)));
      await refuses(buildBzImage(lz4Legacy(text), text.length), 'k: the decompressed lz4-legacy bzImage payload is not an ELF image (starts 74 68 69 73 20 69)');
      // A payload cut inside its compressed stream (the size field kept at the end).
      const cut = gzipSync(elf).subarray(0, 200);
      await refuses(buildBzImage(cut, elf.length), /^k: bzImage payload: corrupt gzip data: /);
      await refuses(buildBzImage(lz4Legacy(elf), 2 ** 31), 'k: bzImage payload says it decompresses to 2147483648 bytes, more than the 1073741824-byte limit');
    });

    it('missing or contradictory notes', async () => {
      await refuses(buildElf({ entry: 0x100000n, loads: LOW_LOADS }), 'k: not a Xen PV kernel: no Xen ELF notes (PT_NOTE or SHT_NOTE) and no __xen_guest section');
      await refuses(buildElf({ entry: 0x100000n, loads: LOW_LOADS, segmentNotes: [{ type: 6, desc: str('NetBSD') }, { type: 5, desc: str('xen-3.0') }] }),
        'k: not built for the generic loader or Linux (LOADER unset, GUEST_OS "NetBSD")');
      await refuses(buildElf({ entry: 0x100000n, loads: LOW_LOADS, segmentNotes: [{ type: 8, desc: str('generic') }, { type: 5, desc: str('xen-4.0') }] }),
        'k: XEN_VERSION "xen-4.0" is not xen-3.0: Xen loads only images for the 3.0 interface');
      await refuses(buildElf({ entry: 0x100000n, loads: LOW_LOADS, segmentNotes: pvNotes({ type: 4, desc: num(0n) }) }), 'k: PADDR_OFFSET is set but VIRT_BASE is not');
      await refuses(linux({ segmentNotes: linuxNotes({ entry: 0xffffffff90000000n }) }),
        'k: entry point 0xffffffff90000000 lies outside the kernel [0xffffffff81000000, 0xffffffff81005000)');
      // PADDR_OFFSET 32 MiB moves the kernel (paddr 16 MiB) below VIRT_BASE.
      const below = linuxNotes({ entry: 0xffffffff7f000100n }).filter((n) => n.type !== 4 && n.type !== 2);
      await refuses(linux({ segmentNotes: [...below, { type: 4, desc: num(0x2000000n) }] }),
        'k: VIRT_BASE 0xffffffff80000000 lies above the kernel\'s lowest address 0xffffffff7f000000');
      await refuses(linux({ segmentNotes: linuxNotes({ hypercallPage: 0xffffffff82000000n }) }),
        'k: HYPERCALL_PAGE 0xffffffff82000000 lies outside the kernel [0xffffffff81000000, 0xffffffff81005000)');
      await refuses(linux({ segmentNotes: [...linuxNotes(), { type: 15, desc: num(0xffffffff81002000n) }] }),
        'k: INIT_P2M 0xffffffff81002000 lies inside the kernel [0xffffffff81000000, 0xffffffff81005000)');
      await refuses(buildElf({ entry: 0x100000n, loads: [{ paddr: 0x100000n, vaddr: 0x100000n, size: 16, flags: 0 }], segmentNotes: pvNotes() }), 'k: no loadable segments');
    });

    it('features: unsupported, dom0-only, autotranslate', async () => {
      await refuses(linux({ segmentNotes: linuxNotes({ features: '!writable_descriptor_tables|pae_pgdir_above_4gb' }) }),
        'k: the kernel requires Xen feature writable_descriptor_tables, which xenlab does not support (FEATURES "!writable_descriptor_tables|pae_pgdir_above_4gb")');
      await refuses(linux(), /requires Xen feature writable_page_tables, which xenlab does not support/, { supportedFeatures: [] });
      expect((await load(linux({ segmentNotes: linuxNotes({ features: '!writable_descriptor_tables' }) }), { supportedFeatures: ['writable_descriptor_tables'] })).features.required).toBe(2);
      await refuses(linux({ segmentNotes: linuxNotes({ features: '!dom0' }) }), 'k: the kernel requires the dom0 feature: it cannot run unprivileged (domU)');
      await refuses(linux({ segmentNotes: linuxNotes({ features: '!auto_translated_physmap' }) }),
        'k: the kernel requires auto_translated_physmap: PV autotranslate guests are no longer supported');
      await expect(load(linux(), { supportedFeatures: ['warp_drive'] })).rejects.toThrow(new UserError('bad-option', "k: unknown Xen feature 'warp_drive' in the supported list"));
    });

    it('a 32-bit kernel without PAE, a non-x86 ELF', async () => {
      await refuses(buildElf({ class: 32, entry: 0x100000n, loads: LOW_LOADS, segmentNotes: pvNotes() }),
        'k: a 32-bit kernel without PAE (xen-3.0-x86_32): 64-bit Xen runs 32-bit PV kernels only with PAE (PAE_MODE "yes")');
      await refuses(buildElf({ machine: 183, entry: 0x100000n, loads: LOW_LOADS, segmentNotes: pvNotes() }),
        'k: not an x86 kernel: ELF64 machine 183 (xenlab runs x86-64 and i386 PV kernels)');
    });

    it('a kernel larger than the guest memory', async () => {
      // VIRT_BASE 0xffffffff80000000 to the end 0xffffffff81005000: 16 MiB + 20 KiB.
      await refuses(linux(), 'k: the kernel needs 16.0 MiB of guest memory (VIRT_BASE 0xffffffff80000000 to its end 0xffffffff81005000), more than the domain\'s 16.0 MiB', { maxBytes: 16 << 20 });
      expect((await load(linux(), { maxBytes: (16 << 20) + 0x5000 })).virtKend).toBe(0xffffffff81005000n);
    });

    it('the real kernel in too little memory, and cut short', async () => {
      const path = (await requireFixture('kernel')).file('vmlinuz');
      await expect(loadKernelImage(path, { maxBytes: 32 << 20 })).rejects.toThrow(/the kernel needs \d+\.\d MiB of guest memory .* more than the domain's 32\.0 MiB$/);
      const bytes = new Uint8Array(readFileSync(path));
      await refuses(bytes.subarray(0, bytes.length >> 1), /^k: truncated bzImage: the payload/);
    });
  });
});
