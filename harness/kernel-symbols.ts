/**
 * A guest kernel's symbols, for naming the function a guest address lies in (the conformance
 * run's `pv.strict` check: `rip 0xffffffff80001234 <naive_port+0x17>`). From the image's ELF
 * symbol table when it has one (the probe guests keep theirs), else from the kernel's own kallsyms
 * data in the image (Linux: Debian's vmlinuz has no .symtab; harness/bench/kallsyms.ts), else
 * none. Never throws: a kernel without symbols is named by address only.
 */
import type { KernelImage } from './builder/image.js';
import { extractKallsyms } from './bench/kallsyms.js';

export interface KernelSymbol {
  /** Unsigned 64-bit address. */
  readonly address: bigint;
  readonly name: string;
}

const SHN_UNDEF = 0;
const SHN_ABS = 0xfff1;
const STT_NOTYPE = 0;
const STT_OBJECT = 1;
const STT_FUNC = 2;

/** The named code and data symbols of a 64-bit ELF's .symtab (defined, not absolute), sorted by address. */
export function elfSymbols(image: Pick<KernelImage, 'elf'>): KernelSymbol[] {
  const symtab = image.elf.section('.symtab');
  const strtab = image.elf.section('.strtab');
  if (symtab === undefined || strtab === undefined || image.elf.class !== 64) return [];
  const dv = new DataView(symtab.buffer, symtab.byteOffset, symtab.byteLength);
  const out: KernelSymbol[] = [];
  const decoder = new TextDecoder();
  for (let o = 0; o + 24 <= symtab.length; o += 24) {
    const type = (symtab[o + 4] as number) & 0xf;
    const shndx = dv.getUint16(o + 6, true);
    if ((type !== STT_FUNC && type !== STT_NOTYPE && type !== STT_OBJECT) || shndx === SHN_UNDEF || shndx === SHN_ABS) continue;
    const at = dv.getUint32(o, true);
    let end = at;
    while (end < strtab.length && strtab[end] !== 0) end++;
    const name = decoder.decode(strtab.subarray(at, end));
    if (name === '' || name.startsWith('.L')) continue;
    out.push({ address: dv.getBigUint64(o + 8, true), name });
  }
  return sortSymbols(out);
}

/** Text symbols from the kernel's kallsyms tables (Linux), sorted; none when they are not found. */
export function kallsymsSymbols(image: Pick<KernelImage, 'elfBytes'>): KernelSymbol[] {
  try {
    return sortSymbols(extractKallsyms(image.elfBytes).filter((s) => 'TtWw'.includes(s.type)));
  } catch {
    return [];
  }
}

/** The image's symbols: .symtab, else kallsyms, else none. */
export function kernelSymbols(image: Pick<KernelImage, 'elf' | 'elfBytes'>): KernelSymbol[] {
  const elf = elfSymbols(image);
  return elf.length > 0 ? elf : kallsymsSymbols(image);
}

function sortSymbols(s: KernelSymbol[]): KernelSymbol[] {
  return s.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.name < b.name ? -1 : 1));
}

/** `name+0xoff` for the symbol at or below `address` (a sign-extended guest address), or undefined. */
export function symbolAt(symbols: readonly KernelSymbol[], address: number): string | undefined {
  const a = BigInt.asUintN(64, BigInt(address));
  let lo = 0;
  let hi = symbols.length - 1;
  let found: KernelSymbol | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = symbols[mid] as KernelSymbol;
    if (s.address <= a) {
      found = s;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found === undefined) return undefined;
  const off = a - found.address;
  // Far past the last symbol (or the first of a region with none) says nothing useful.
  if (off > 0x100000n) return undefined;
  return `${found.name}+0x${off.toString(16)}`;
}
