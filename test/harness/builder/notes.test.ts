import { describe, expect, it } from 'vitest';
import { parseElf } from '../../../harness/elf.js';
import { UserError } from '../../../harness/errors.js';
import {
  MAX_TOTAL_NOTES,
  XEN_FEATURE_BITS,
  findXenNotes,
  noteNumber,
  parseFeatures,
  parseGuestInfo,
  strtoull,
} from '../../../harness/builder/notes.js';
import { LINUX_LOADS, buildElf, linuxNotes, noteBytes, num, str, type ElfSpec } from './elf-builder.js';

const notesOf = (spec: ElfSpec, file = 'k.elf') => {
  const bytes = buildElf(spec);
  return findXenNotes(parseElf(bytes, file), bytes, file);
};
/** The notes of an image whose file ends `keep` bytes into its PT_NOTE segment. */
const cutNotes = (spec: ElfSpec, keep: number) => {
  const bytes = buildElf(spec);
  const elf = parseElf(bytes, 'cut.elf');
  const seg = elf.segments.find((s) => s.type === 4);
  if (seg === undefined) throw new Error('no PT_NOTE segment');
  return findXenNotes(elf, bytes.subarray(0, seg.offset + keep), 'cut.elf');
};
const base = { entry: 0xffffffff81000100n, loads: LINUX_LOADS };
const userError = (message: string) => new UserError('bad-file', message);

describe('Xen ELF notes', () => {
  it('reads every note Linux carries from a PT_NOTE segment', () => {
    const n = notesOf({ ...base, segmentNotes: linuxNotes() });
    expect(n.source).toBe('PT_NOTE');
    expect(n.raw.map((r) => r.name)).toEqual([
      'GUEST_OS', 'GUEST_VERSION', 'XEN_VERSION', 'VIRT_BASE', 'INIT_P2M', 'ENTRY', 'HYPERCALL_PAGE', 'FEATURES',
      'SUPPORTED_FEATURES', 'PAE_MODE', 'LOADER', 'L1_MFN_VALID', 'SUSPEND_CANCEL', 'MOD_START_PFN', 'HV_START_LOW',
      'PADDR_OFFSET', 'PHYS32_ENTRY',
    ]);
    expect(n).toMatchObject({
      guestOs: 'linux',
      guestVersion: '2.6',
      xenVersion: 'xen-3.0',
      loader: 'generic',
      virtBase: 0xffffffff80000000n,
      entry: 0xffffffff81000100n,
      hypercallPage: 0xffffffff81001000n,
      initP2m: 0x8000000000n,
      hvStartLow: 0xffff800000000000n,
      paddrOffset: 0n,
      phys32Entry: 0x1000200,
      suspendCancel: 1n,
      modStartPfn: 1n,
      l1MfnValid: [[1n, 1n]],
      paeMode: 'extended-cr3',
      bsdSymtab: false,
      warnings: [],
    });
    // FEATURES "!writable_page_tables|pae_pgdir_above_4gb", plus SUPPORTED_FEATURES bits 0, 11, 15.
    expect(n.features).toEqual({
      required: 1 << XEN_FEATURE_BITS.writable_page_tables,
      supported: (1 << 0) | (1 << 4) | (1 << 11) | (1 << 15),
      text: '!writable_page_tables|pae_pgdir_above_4gb',
    });
  });

  it('skips notes of other owners and reads later notes of a type over earlier ones', () => {
    const n = notesOf({
      ...base,
      segmentNotes: [
        { type: 1, desc: num(0x1234n), name: 'GNU' },
        { type: 6, desc: str('first') },
        { type: 6, desc: str('linux') },
      ],
    });
    expect(n.raw.map((r) => r.name)).toEqual(['GUEST_OS', 'GUEST_OS']);
    expect(n.guestOs).toBe('linux');
    expect(n.entry).toBeUndefined();
  });

  it('falls back to SHT_NOTE sections when no PT_NOTE segment holds a Xen note', () => {
    const n = notesOf({
      ...base,
      segmentNotes: [{ type: 3, desc: new Uint8Array(20), name: 'GNU' }],
      sectionNotes: [{ type: 6, desc: str('linux') }, { type: 3, desc: num(0xc0000000n, 4) }],
    });
    expect(n.source).toBe('SHT_NOTE');
    expect(n.virtBase).toBe(0xc0000000n);
  });

  it('prefers PT_NOTE over SHT_NOTE when both have Xen notes', () => {
    const n = notesOf({ ...base, segmentNotes: [{ type: 6, desc: str('segment') }], sectionNotes: [{ type: 6, desc: str('section') }] });
    expect(n.source).toBe('PT_NOTE');
    expect(n.guestOs).toBe('segment');
  });

  it('falls back to __xen_guest last, with its HYPERCALL_PAGE relative to VIRT_BASE', () => {
    const n = notesOf({
      ...base,
      xenGuest: 'GUEST_OS=linux,GUEST_VER=2.6,XEN_VER=xen-3.0,VIRT_BASE=0xC0000000,ELF_PADDR_OFFSET=0xC0000000,HYPERCALL_PAGE=0x12,LOADER=generic,PAE=yes[extended-cr3],BSD_SYMTAB,FEATURES=writable_page_tables|!pae_pgdir_above_4gb',
    });
    expect(n).toMatchObject({
      source: '__xen_guest',
      guestOs: 'linux',
      guestVersion: '2.6',
      xenVersion: 'xen-3.0',
      virtBase: 0xc0000000n,
      paddrOffset: 0xc0000000n,
      hypercallPage: 0xc0012000n,
      loader: 'generic',
      paeMode: 'extended-cr3',
      bsdSymtab: true,
      features: { required: 1 << 4, supported: (1 << 0) | (1 << 4) },
    });
  });

  it('__xen_guest: PAE=yes without extended-cr3, octal and decimal numbers, unknown keys ignored', () => {
    const n = parseGuestInfo('PAE=yes,VIRT_BASE=010,VIRT_ENTRY=4096,NONSENSE=1,', 'g');
    expect(n).toMatchObject({ paeMode: 'yes', virtBase: 8n, entry: 4096n });
    expect(parseGuestInfo('PAE=no', 'g').paeMode).toBe('no');
  });

  it('PAE_MODE: "yes" is extended-cr3, "bimodal" anywhere is bimodal, anything else is no PAE', () => {
    const pae = (s: string) => notesOf({ ...base, segmentNotes: [{ type: 9, desc: str(s) }] }).paeMode;
    expect(pae('yes')).toBe('extended-cr3');
    expect(pae('yes,bimodal')).toBe('bimodal');
    expect(pae('no')).toBe('no');
    expect(pae('YES')).toBe('no');
  });

  it('FEATURES: | separates, ! requires, unknown optional names are ignored, an unknown required one refuses', () => {
    expect(parseFeatures('writable_page_tables|!dom0|no_such_thing|', 'k')).toEqual({
      supported: (1 << 0) | (1 << 11),
      required: 1 << 11,
    });
    expect(parseFeatures('', 'k')).toEqual({ supported: 0, required: 0 });
    expect(() => parseFeatures('pae_pgdir_above_4gb|!fancy_new_thing', 'k')).toThrow(
      userError(`k: the kernel requires Xen feature 'fancy_new_thing', which Xen does not know (FEATURES "pae_pgdir_above_4gb|!fancy_new_thing")`),
    );
    expect(() => notesOf({ ...base, segmentNotes: [{ type: 10, desc: str('!nope') }] })).toThrow(/requires Xen feature 'nope'/);
  });

  it('numbers: 1, 2, 4 or 8 little-endian bytes; any other size reads 0, as libelf', () => {
    expect(noteNumber(num(0xab, 1))).toBe(0xabn);
    expect(noteNumber(num(0xabcd, 2))).toBe(0xabcdn);
    expect(noteNumber(num(0x89abcdef, 4))).toBe(0x89abcdefn);
    expect(noteNumber(num(0xffffffff80000000n, 8))).toBe(0xffffffff80000000n);
    expect(noteNumber(num(0x123456, 3))).toBe(0n);
    expect(noteNumber(new Uint8Array(16))).toBe(0n);
  });

  it('strtoull as C: base prefixes, stops at the first bad digit', () => {
    expect(strtoull('0x1F')).toBe(31n);
    expect(strtoull('0X10zz')).toBe(16n);
    expect(strtoull('017')).toBe(15n);
    expect(strtoull('019')).toBe(1n);
    expect(strtoull('42abc')).toBe(42n);
    expect(strtoull('')).toBe(0n);
    expect(strtoull('0x')).toBe(0n);
    expect(strtoull('0xffffffff80000000')).toBe(0xffffffff80000000n);
  });

  describe('refusals, one line naming the image', () => {
    it('no notes and no __xen_guest', () => {
      expect(() => notesOf({ ...base }, 'plain.elf')).toThrow(
        userError('plain.elf: not a Xen PV kernel: no Xen ELF notes (PT_NOTE or SHT_NOTE) and no __xen_guest section'),
      );
    });

    it('a note area cut by the end of the file', () => {
      const area = noteBytes([{ type: 6, desc: str('linux') }]);
      expect(() => cutNotes({ ...base, rawNoteArea: area }, 8)).toThrow(userError('cut.elf: PT_NOTE segment 2: note area ends past the end of the file'));
    });

    it('a note header cut by the end of the file', () => {
      const area = Uint8Array.from([...noteBytes([{ type: 6, desc: str('linux') }]), 4, 0, 0, 0, 8, 0, 0, 0]);
      expect(() => cutNotes({ ...base, rawNoteArea: area }, area.length)).toThrow(
        /^cut\.elf: PT_NOTE segment 2: truncated note header at file offset 0x[0-9a-f]+: the file ends at 0x[0-9a-f]+$/,
      );
    });

    it('a note name cut by the end of the file', () => {
      const area = Uint8Array.from([4, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0x58, 0x65]);
      expect(() => cutNotes({ ...base, rawNoteArea: area }, area.length)).toThrow(/its name \(namesz 4\) runs past the end of the file$/);
    });

    it('a numeric note whose descriptor runs past the end of the file', () => {
      const area = noteBytes([{ type: 6, desc: str('linux') }, { type: 1, desc: num(0xffffffff81000000n) }]);
      // The ENTRY note's descriptor (8 bytes) is cut after 4.
      expect(() => cutNotes({ ...base, rawNoteArea: area.subarray(0, area.length - 4) }, area.length - 4)).toThrow(
        /^cut\.elf: PT_NOTE segment 2: truncated note ENTRY at file offset 0x[0-9a-f]+: descsz 8 runs past the end of the file at 0x[0-9a-f]+$/,
      );
    });

    it('a string note cut by the end of the file is accepted when its NUL is there (GRUB i386-xen)', () => {
      // GRUB says descsz 12 and its file ends after "yes\0".
      const area = noteBytes([{ type: 8, desc: str('generic') }, { type: 9, desc: new Uint8Array(Buffer.from('yes\0bimodal\0', 'latin1')) }]);
      const n = cutNotes({ ...base, rawNoteArea: area.subarray(0, area.length - 8) }, area.length - 8);
      expect(n.paeMode).toBe('extended-cr3');
      expect(n.warnings).toEqual(['PT_NOTE segment 2: note PAE_MODE (descsz 12) is cut short by the end of the file; its string is complete, as Xen accepts']);
      expect(() => cutNotes({ ...base, rawNoteArea: area.subarray(0, area.length - 10) }, area.length - 10)).toThrow(/truncated note PAE_MODE/);
    });

    it('a note that runs past its segment but not past the file is accepted with a warning, as Xen does', () => {
      const area = noteBytes([{ type: 6, desc: str('linux') }, { type: 5, desc: str('xen-3.0') }]);
      const bytes = buildElf({ ...base, rawNoteArea: area, xenGuest: 'padding-after-the-notes' });
      const elf = parseElf(bytes, 't.elf');
      const seg = elf.segments.find((s) => s.type === 4);
      if (seg === undefined) throw new Error('no note segment');
      // Shrink the segment so that it ends inside the second note.
      const phdr = 64 + 2 * 56;
      new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(phdr + 32, BigInt(area.length - 8), true);
      const n = findXenNotes(parseElf(bytes, 't.elf'), bytes, 't.elf');
      expect(n.xenVersion).toBe('xen-3.0');
      expect(n.warnings).toEqual([`PT_NOTE segment 2: note XEN_VERSION runs past the end of the note area at 0x${(seg.offset + area.length - 8).toString(16)}, as Xen accepts`]);
    });

    it('a misaligned note area', () => {
      expect(() => notesOf({ ...base, segmentNotes: linuxNotes(), noteAreaSkew: 2 }, 'skew.elf')).toThrow(
        /^skew\.elf: PT_NOTE segment 2: note area at file offset 0x[0-9a-f]+ is not 4-byte aligned$/,
      );
    });

    it(`more than ${MAX_TOTAL_NOTES} notes`, () => {
      const many = Array.from({ length: MAX_TOTAL_NOTES + 1 }, () => ({ type: 0, desc: new Uint8Array(0) }));
      expect(() => notesOf({ ...base, segmentNotes: many }, 'many.elf')).toThrow(
        userError(`many.elf: PT_NOTE segment 2: more than ${MAX_TOTAL_NOTES} ELF notes`),
      );
    });
  });
});
