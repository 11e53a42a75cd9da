/**
 * Hand-built ELF images for the builder's tests: a header, PT_LOAD segments, Xen notes in a
 * PT_NOTE segment and/or an SHT_NOTE section, a `__xen_guest` section, and the section names.
 * Everything is laid out in order with 4-byte alignment unless a test asks otherwise.
 */
export interface NoteSpec {
  readonly type: number;
  readonly desc: Uint8Array;
  /** Owner name; "Xen" when omitted. */
  readonly name?: string;
}

export interface LoadSpec {
  readonly paddr: bigint;
  readonly vaddr: bigint;
  readonly size: number;
  readonly memsz?: bigint;
  /** PF_R|PF_X (5) when omitted. */
  readonly flags?: number;
  /** The segment's bytes (`size` of them); a fixed pattern when omitted. */
  readonly data?: Uint8Array;
}

export interface ElfSpec {
  readonly class?: 32 | 64;
  readonly machine?: number;
  readonly entry: bigint;
  readonly loads: readonly LoadSpec[];
  /** Notes in a PT_NOTE segment. */
  readonly segmentNotes?: readonly NoteSpec[];
  /** Notes in an SHT_NOTE section (.note.Xen). */
  readonly sectionNotes?: readonly NoteSpec[];
  readonly xenGuest?: string;
  /** Raw bytes for the PT_NOTE segment instead of `segmentNotes` (malformed areas). */
  readonly rawNoteArea?: Uint8Array;
  /** Extra bytes before the note area, to misalign it. */
  readonly noteAreaSkew?: number;
}

export const num = (value: bigint | number, size: 1 | 2 | 4 | 8 | number = 8): Uint8Array => {
  const out = new Uint8Array(size);
  let v = BigInt(value);
  for (let i = 0; i < size; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
};

export const str = (s: string): Uint8Array => new Uint8Array(Buffer.from(`${s}\0`, 'latin1'));

export function noteBytes(notes: readonly NoteSpec[]): Uint8Array {
  const parts: number[] = [];
  const pad = (): void => {
    while (parts.length % 4 !== 0) parts.push(0);
  };
  for (const n of notes) {
    const name = Buffer.from(`${n.name ?? 'Xen'}\0`, 'latin1');
    parts.push(...num(name.length, 4), ...num(n.desc.length, 4), ...num(n.type, 4));
    parts.push(...name);
    pad();
    parts.push(...n.desc);
    pad();
  }
  return Uint8Array.from(parts);
}

/** The notes Linux 6.1 x86-64 carries (arch/x86/xen/xen-head.S), with a hypercall page. */
export function linuxNotes(o: { entry?: bigint; hypercallPage?: bigint; virtBase?: bigint; features?: string } = {}): NoteSpec[] {
  return [
    { type: 6, desc: str('linux') },
    { type: 7, desc: str('2.6') },
    { type: 5, desc: str('xen-3.0') },
    { type: 3, desc: num(o.virtBase ?? 0xffffffff80000000n) },
    { type: 15, desc: num(0x8000000000n) },
    { type: 1, desc: num(o.entry ?? 0xffffffff81000100n) },
    { type: 2, desc: num(o.hypercallPage ?? 0xffffffff81001000n) },
    { type: 10, desc: str(o.features ?? '!writable_page_tables|pae_pgdir_above_4gb') },
    { type: 17, desc: num((1 << 0) | (1 << 11) | (1 << 15), 4) },
    { type: 9, desc: str('yes') },
    { type: 8, desc: str('generic') },
    { type: 13, desc: Uint8Array.from([...num(1n), ...num(1n)]) },
    { type: 14, desc: num(1, 4) },
    { type: 16, desc: num(1, 4) },
    { type: 12, desc: num(0xffff800000000000n) },
    { type: 4, desc: num(0n) },
    { type: 18, desc: num(0x1000200, 4) },
  ];
}

/** A Linux-like kernel layout: text at paddr 16 MiB, data after it, entry in the text. */
export const LINUX_LOADS: readonly LoadSpec[] = [
  { paddr: 0x1000000n, vaddr: 0xffffffff81000000n, size: 0x3000, flags: 5 },
  { paddr: 0x1003000n, vaddr: 0xffffffff81003000n, size: 0x800, memsz: 0x2000n, flags: 6 },
];

export function buildElf(spec: ElfSpec): Uint8Array {
  const is64 = (spec.class ?? 64) === 64;
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const shentsize = is64 ? 64 : 40;
  const noteArea = spec.rawNoteArea ?? (spec.segmentNotes !== undefined ? noteBytes(spec.segmentNotes) : undefined);
  const sectionNotes = spec.sectionNotes !== undefined ? noteBytes(spec.sectionNotes) : undefined;
  const phnum = spec.loads.length + (noteArea !== undefined ? 1 : 0);

  // Layout: header, program headers, segment data, note area, section note area, __xen_guest,
  // section names, section headers.
  let at = align(ehsize + phnum * phentsize, 16);
  const loadAt = spec.loads.map((l) => {
    const here = at;
    at = align(at + l.size, 16);
    return here;
  });
  at += spec.noteAreaSkew ?? 0;
  const noteAt = at;
  at += noteArea?.length ?? 0;
  at = align(at, 4);
  const secNoteAt = at;
  at += sectionNotes?.length ?? 0;
  const guest = spec.xenGuest !== undefined ? str(spec.xenGuest) : undefined;
  const guestAt = at;
  at += guest?.length ?? 0;
  const names = ['', '.shstrtab', ...(sectionNotes ? ['.note.Xen'] : []), ...(guest ? ['__xen_guest'] : [])];
  const strtab = Buffer.from(names.map((n) => `${n}\0`).join(''), 'latin1');
  const strtabAt = at;
  at = align(at + strtab.length, 8);
  const shoff = at;
  const shnum = names.length;
  const total = shoff + shnum * shentsize;

  const b = new Uint8Array(total);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1]);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, spec.machine ?? (is64 ? 62 : 3), true);
  v.setUint32(20, 1, true);
  const word = (o: number, x: bigint | number): void => {
    if (is64) v.setBigUint64(o, BigInt(x), true);
    else v.setUint32(o, Number(BigInt.asUintN(32, BigInt(x))), true);
  };
  word(24, spec.entry);
  const w = is64 ? 8 : 4;
  word(24 + w, ehsize); // phoff
  word(24 + 2 * w, shoff);
  const tail = 24 + 3 * w + 4; // after e_flags
  v.setUint16(tail, ehsize, true);
  v.setUint16(tail + 2, phentsize, true);
  v.setUint16(tail + 4, phnum, true);
  v.setUint16(tail + 6, shentsize, true);
  v.setUint16(tail + 8, shnum, true);
  v.setUint16(tail + 10, 1, true); // shstrndx

  const phdr = (i: number, type: number, flags: number, offset: number, vaddr: bigint, paddr: bigint, filesz: number, memsz: bigint, alignment: number): void => {
    const p = ehsize + i * phentsize;
    v.setUint32(p, type, true);
    if (is64) {
      v.setUint32(p + 4, flags, true);
      v.setBigUint64(p + 8, BigInt(offset), true);
      v.setBigUint64(p + 16, vaddr, true);
      v.setBigUint64(p + 24, paddr, true);
      v.setBigUint64(p + 32, BigInt(filesz), true);
      v.setBigUint64(p + 40, memsz, true);
      v.setBigUint64(p + 48, BigInt(alignment), true);
    } else {
      v.setUint32(p + 4, offset, true);
      v.setUint32(p + 8, Number(BigInt.asUintN(32, vaddr)), true);
      v.setUint32(p + 12, Number(BigInt.asUintN(32, paddr)), true);
      v.setUint32(p + 16, filesz, true);
      v.setUint32(p + 20, Number(memsz), true);
      v.setUint32(p + 24, flags, true);
      v.setUint32(p + 28, alignment, true);
    }
  };
  spec.loads.forEach((l, i) => {
    const off = loadAt[i] ?? 0;
    for (let k = 0; k < l.size; k++) b[off + k] = l.data !== undefined ? (l.data[k] ?? 0) : (k * 7 + i) & 0xff;
    phdr(i, 1, l.flags ?? 5, off, l.vaddr, l.paddr, l.size, l.memsz ?? BigInt(l.size), 0x1000);
  });
  if (noteArea !== undefined) {
    b.set(noteArea, noteAt);
    phdr(spec.loads.length, 4, 4, noteAt, 0n, 0n, noteArea.length, 0n, 4);
  }
  if (sectionNotes !== undefined) b.set(sectionNotes, secNoteAt);
  if (guest !== undefined) b.set(guest, guestAt);
  b.set(strtab, strtabAt);

  const shdr = (i: number, name: string, type: number, offset: number, size: number): void => {
    const s = shoff + i * shentsize;
    v.setUint32(s, strtab.indexOf(Buffer.from(`${name}\0`, 'latin1')), true);
    v.setUint32(s + 4, type, true);
    if (is64) {
      v.setBigUint64(s + 24, BigInt(offset), true);
      v.setBigUint64(s + 32, BigInt(size), true);
    } else {
      v.setUint32(s + 16, offset, true);
      v.setUint32(s + 20, size, true);
    }
  };
  shdr(1, '.shstrtab', 3, strtabAt, strtab.length);
  let idx = 2;
  if (sectionNotes !== undefined) shdr(idx++, '.note.Xen', 7, secNoteAt, sectionNotes.length);
  if (guest !== undefined) shdr(idx++, '__xen_guest', 1, guestAt, guest.length);

  return b;
}

/**
 * A bzImage around a compressed payload, as the kernel's build lays it out: setup sectors with
 * the boot protocol header, then the payload with the uncompressed size appended (`size_append`;
 * gzip's own ISIZE plays that part, so nothing is appended after a gzip stream).
 */
export function buildBzImage(payload: Uint8Array, uncompressedSize: number, o: { protocol?: number; appendSize?: boolean } = {}): Uint8Array {
  const setupSects = 3;
  const withSize = o.appendSize === false ? payload : Uint8Array.from([...payload, ...num(uncompressedSize, 4)]);
  const payloadOffset = 0x40;
  const base = (setupSects + 1) * 512;
  const b = new Uint8Array(base + payloadOffset + withSize.length);
  const v = new DataView(b.buffer);
  b[0x1f1] = setupSects;
  v.setUint16(0x1fe, 0xaa55, true);
  b.set(Buffer.from('HdrS'), 0x202);
  v.setUint16(0x206, o.protocol ?? 0x020f, true);
  v.setUint32(0x248, payloadOffset, true);
  v.setUint32(0x24c, withSize.length, true);
  b.set(withSize, base + payloadOffset);
  return b;
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
