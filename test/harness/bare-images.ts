/**
 * Synthetic Multiboot images for the bare-machine tests: a flat image with the header's address
 * fields (the a.out kludge) around a few bytes of 32-bit code, and a minimal ELF32 or ELF64 with
 * one loadable segment. Built here so the loader's error paths need no toolchain.
 */
export const MB_MAGIC = 0x1badb002;
export const LOAD_AT = 0x100000;

function header(flags: number, checksumDelta = 0): number[] {
  return [MB_MAGIC, flags >>> 0, (-(MB_MAGIC + flags) + checksumDelta) >>> 0];
}

function le32(words: readonly number[]): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const v = new DataView(out.buffer);
  words.forEach((w, k) => v.setUint32(k * 4, w >>> 0, true));
  return out;
}

/**
 * A flat kernel loaded at LOAD_AT: the 32-byte header with address fields, then `code` (entry
 * LOAD_AT + 32), then `bss` zero bytes that are not in the file.
 */
export function kludgeImage(code: readonly number[], options: { bss?: number; flags?: number; checksumDelta?: number } = {}): Uint8Array {
  const flags = (options.flags ?? 0) | 0x10000;
  const fileLen = 32 + code.length;
  const words = [
    ...header(flags, options.checksumDelta),
    LOAD_AT, // header_addr
    LOAD_AT, // load_addr
    0, // load_end_addr: the whole file
    options.bss !== undefined ? LOAD_AT + fileLen + options.bss : 0,
    LOAD_AT + 32, // entry_addr
  ];
  const out = new Uint8Array(fileLen);
  out.set(le32(words), 0);
  out.set(code, 32);
  return out;
}

/** A minimal ELF (class 32 or 64) with one PT_LOAD of `data` at `paddr` (memsz may exceed it). */
export function elfImage(options: {
  klass?: 32 | 64;
  data: Uint8Array;
  paddr?: number;
  vaddr?: number;
  memsz?: number;
  entry?: number;
  machine?: number;
}): Uint8Array {
  const klass = options.klass ?? 32;
  const paddr = options.paddr ?? LOAD_AT;
  const vaddr = options.vaddr ?? paddr;
  const memsz = options.memsz ?? options.data.length;
  const entry = options.entry ?? vaddr;
  const ehsize = klass === 32 ? 52 : 64;
  const phentsize = klass === 32 ? 32 : 56;
  const dataOff = ehsize + phentsize;
  const out = new Uint8Array(dataOff + options.data.length);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, klass === 32 ? 1 : 2, 1, 1], 0);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, options.machine ?? (klass === 32 ? 3 : 62), true);
  v.setUint32(20, 1, true);
  if (klass === 32) {
    v.setUint32(24, entry, true);
    v.setUint32(28, ehsize, true); // phoff
    v.setUint16(40, ehsize, true);
    v.setUint16(42, phentsize, true);
    v.setUint16(44, 1, true);
    v.setUint16(46, 40, true);
    const p = ehsize;
    v.setUint32(p, 1, true); // PT_LOAD
    v.setUint32(p + 4, dataOff, true);
    v.setUint32(p + 8, vaddr, true);
    v.setUint32(p + 12, paddr, true);
    v.setUint32(p + 16, options.data.length, true);
    v.setUint32(p + 20, memsz, true);
    v.setUint32(p + 24, 7, true);
    v.setUint32(p + 28, 0x1000, true);
  } else {
    v.setBigUint64(24, BigInt(entry), true);
    v.setBigUint64(32, BigInt(ehsize), true);
    v.setUint16(52, ehsize, true);
    v.setUint16(54, phentsize, true);
    v.setUint16(56, 1, true);
    v.setUint16(58, 64, true);
    const p = ehsize;
    v.setUint32(p, 1, true);
    v.setUint32(p + 4, 7, true);
    v.setBigUint64(p + 8, BigInt(dataOff), true);
    v.setBigUint64(p + 16, BigInt(vaddr), true);
    v.setBigUint64(p + 24, BigInt(paddr), true);
    v.setBigUint64(p + 32, BigInt(options.data.length), true);
    v.setBigUint64(p + 40, BigInt(memsz), true);
    v.setBigUint64(p + 48, 0x1000n, true);
  }
  out.set(options.data, dataOff);
  return out;
}

/** Segment contents starting with a Multiboot header without address fields, then `code`. */
export function headerThenCode(code: readonly number[], flags = 0, checksumDelta = 0): Uint8Array {
  const out = new Uint8Array(12 + code.length);
  out.set(le32(header(flags, checksumDelta)), 0);
  out.set(code, 12);
  return out;
}
