/**
 * A reader for ELF files (64- and 32-bit, little-endian): header, program headers, sections.
 * Host-side and strict: a malformed file is a `bad-file` UserError naming the file and the
 * problem, never an out-of-range read.
 */
import { UserError } from './errors.js';

export const ET_EXEC = 2;
export const ET_DYN = 3;
export const PT_LOAD = 1;
export const PT_NOTE = 4;
export const PT_INTERP = 3;
export const EM_386 = 3;
export const EM_X86_64 = 62;

export interface ElfSection {
  readonly name: string;
  readonly type: number;
  readonly flags: bigint;
  readonly addr: bigint;
  readonly offset: number;
  readonly size: number;
}

export interface ElfSegment {
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly vaddr: bigint;
  readonly paddr: bigint;
  readonly filesz: number;
  readonly memsz: bigint;
  readonly align: bigint;
}

export interface ElfFile {
  readonly class: 32 | 64;
  readonly type: number;
  readonly machine: number;
  readonly entry: bigint;
  readonly segments: readonly ElfSegment[];
  readonly sections: readonly ElfSection[];
  /** The bytes of a section, or undefined when there is none of that name. */
  section(name: string): Uint8Array | undefined;
}

export function parseElf(bytes: Uint8Array, file: string): ElfFile {
  const bad = (why: string): never => {
    throw new UserError('bad-file', `${file}: not a valid ELF file: ${why}`);
  };
  if (bytes.length < 52 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    bad('no ELF magic');
  }
  const klass = bytes[4] === 2 ? 64 : bytes[4] === 1 ? 32 : bad(`unknown class ${bytes[4]}`);
  if (bytes[5] !== 1) bad('not little-endian');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const in64 = klass === 64;
  if (in64 && bytes.length < 64) bad('truncated header');
  const u16 = (o: number): number => (o + 2 <= bytes.length ? v.getUint16(o, true) : bad(`read past end at ${o}`));
  const u32 = (o: number): number => (o + 4 <= bytes.length ? v.getUint32(o, true) : bad(`read past end at ${o}`));
  const u64 = (o: number): bigint => (o + 8 <= bytes.length ? v.getBigUint64(o, true) : bad(`read past end at ${o}`));
  const addr = (o: number): bigint => (in64 ? u64(o) : BigInt(u32(o)));
  const off = (o: number): number => {
    const x = in64 ? u64(o) : BigInt(u32(o));
    return x > BigInt(bytes.length) ? bad(`offset ${x} beyond the file's ${bytes.length} bytes`) : Number(x);
  };

  const type = u16(16);
  const machine = u16(18);
  const entry = addr(24);
  const phoff = off(in64 ? 32 : 28);
  const shoff = off(in64 ? 40 : 32);
  const phentsize = u16(in64 ? 54 : 42);
  const phnum = u16(in64 ? 56 : 44);
  const shentsize = u16(in64 ? 58 : 46);
  const shnum = u16(in64 ? 60 : 48);
  const shstrndx = u16(in64 ? 62 : 50);

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (p + phentsize > bytes.length) bad(`program header ${i} beyond end of file`);
    const seg: ElfSegment = in64
      ? { type: u32(p), flags: u32(p + 4), offset: off(p + 8), vaddr: u64(p + 16), paddr: u64(p + 24),
          filesz: Number(u64(p + 32)), memsz: u64(p + 40), align: u64(p + 48) }
      : { type: u32(p), offset: off(p + 4), vaddr: BigInt(u32(p + 8)), paddr: BigInt(u32(p + 12)),
          filesz: u32(p + 16), memsz: BigInt(u32(p + 20)), flags: u32(p + 24), align: BigInt(u32(p + 28)) };
    if (seg.offset + seg.filesz > bytes.length) bad(`segment ${i} extends beyond end of file`);
    // Only a loadable segment must fit its file bytes in memory; notes often say memsz 0.
    if (seg.type === PT_LOAD && BigInt(seg.filesz) > seg.memsz) bad(`segment ${i} has filesz > memsz`);
    segments.push(seg);
  }

  const raw: Omit<ElfSection, 'name'>[] = [];
  const nameOffsets: number[] = [];
  for (let i = 0; i < shnum; i++) {
    const s = shoff + i * shentsize;
    if (s + shentsize > bytes.length) bad(`section header ${i} beyond end of file`);
    nameOffsets.push(u32(s));
    // SHT_NOBITS (.bss) has no file bytes, and its offset may lie past the end of the file.
    const nobits = u32(s + 4) === 8;
    const sec = in64
      ? { type: u32(s + 4), flags: u64(s + 8), addr: u64(s + 16), offset: nobits ? Number(u64(s + 24)) : off(s + 24), size: Number(u64(s + 32)) }
      : { type: u32(s + 4), flags: BigInt(u32(s + 8)), addr: BigInt(u32(s + 12)), offset: nobits ? u32(s + 16) : off(s + 16), size: u32(s + 20) };
    // SHT_NOBITS (8) occupies no file space
    if (sec.type !== 8 && sec.offset + sec.size > bytes.length) bad(`section ${i} extends beyond end of file`);
    raw.push(sec);
  }
  const strtab = shnum > 0 && shstrndx < shnum ? raw[shstrndx] : undefined;
  const sections: ElfSection[] = raw.map((s, i) => {
    let name = '';
    if (strtab !== undefined) {
      const start = strtab.offset + (nameOffsets[i] ?? 0);
      let end = start;
      while (end < strtab.offset + strtab.size && bytes[end] !== 0) end++;
      name = new TextDecoder().decode(bytes.subarray(start, end));
    }
    return { name, ...s };
  });

  return {
    class: klass,
    type,
    machine,
    entry,
    segments,
    sections,
    section(name: string): Uint8Array | undefined {
      const s = sections.find((x) => x.name === name);
      return s === undefined || s.type === 8 ? undefined : bytes.subarray(s.offset, s.offset + s.size);
    },
  };
}
