/**
 * A Multiboot (version 1) boot loader, as the Multiboot Specification 0.6.96 describes it: find
 * the header, load the image (ELF32 program headers, or the header's address fields: the "a.out
 * kludge"), load modules, and build the information structure the kernel receives in EBX.
 *
 * Placement: the image goes where it asks; everything the loader adds (the info structure, the
 * memory map, strings, the module list, then each module) follows the highest byte the image
 * occupies, page-aligned, so nothing collides with the kernel or its bss. Every failure the user
 * can cause (not ELF, no header, bad checksum, 64-bit ELF without address fields, too big for
 * the RAM) is a one-line `bad-file` / `bad-option` UserError.
 *
 * Offsets and flag bits: the specification's §3.1 (header) and §3.3 (boot information).
 */
import { UserError } from '../errors.js';
import { EM_386, PT_LOAD, parseElf } from '../elf.js';
import type { BareRam } from './ram.js';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** The header must lie, 32-bit aligned, within the image's first 8192 bytes. */
export const MULTIBOOT_SEARCH = 8192;

/** Header flags (§3.1.2). Bits 0-15 the loader must understand or refuse. */
export const MBH_PAGE_ALIGN = 1 << 0;
export const MBH_MEMORY_INFO = 1 << 1;
export const MBH_VIDEO_MODE = 1 << 2;
export const MBH_AOUT_KLUDGE = 1 << 16;
const MBH_UNDERSTOOD_LOW = MBH_PAGE_ALIGN | MBH_MEMORY_INFO | MBH_VIDEO_MODE;

/** Information-structure flags (§3.3). */
export const MBI_MEMORY = 1 << 0;
export const MBI_CMDLINE = 1 << 2;
export const MBI_MODS = 1 << 3;
export const MBI_MEM_MAP = 1 << 6;
export const MBI_BOOT_LOADER_NAME = 1 << 9;

/** Size of the information structure through the framebuffer fields (§3.3). */
export const MBI_SIZE = 116;
/** A memory-map entry: size (of the rest, 20), base_addr, length, type. */
const MMAP_ENTRY = 24;
export const MMAP_AVAILABLE = 1;
export const MMAP_RESERVED = 2;

export const BOOT_LOADER_NAME = 'xenlab boot-bare';

const PAGE = 4096;
const LOW_MEM_TOP = 0xa0000; // 640 KiB of conventional memory, then the VGA/BIOS hole
const HIGH_MEM_BASE = 0x100000;

export interface MultibootModule {
  /** Name used in messages (the host path). */
  readonly name: string;
  readonly bytes: Uint8Array;
  /** The module's string in the info structure (defaults to `name`). */
  readonly string?: string;
}

export interface MultibootImage {
  /** Name used in messages (the host path). */
  readonly name: string;
  readonly bytes: Uint8Array;
  /** The kernel command line: the info structure gets "<name> <cmdline>", as GRUB and QEMU give it. */
  readonly cmdline?: string;
  readonly modules?: readonly MultibootModule[];
}

export interface MultibootHeader {
  /** Byte offset of the header in the file. */
  readonly offset: number;
  readonly flags: number;
  /** Present with MBH_AOUT_KLUDGE. */
  readonly headerAddr?: number;
  readonly loadAddr?: number;
  readonly loadEndAddr?: number;
  readonly bssEndAddr?: number;
  readonly entryAddr?: number;
}

export interface MultibootLoad {
  readonly entry: number;
  /** Physical address of the information structure (EBX). */
  readonly infoAddr: number;
  /** Physical extent of the image as loaded, bss included: [start, end). */
  readonly imageStart: number;
  readonly imageEnd: number;
  /** Where each module landed: [start, end). */
  readonly modules: readonly { readonly start: number; readonly end: number }[];
  /** The first byte after everything the loader placed. */
  readonly end: number;
}

const hex = (n: number): string => `0x${n.toString(16)}`;
const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Finds and checks the Multiboot header, or throws a one-line UserError. */
export function findMultibootHeader(bytes: Uint8Array, file: string): MultibootHeader {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const limit = Math.min(MULTIBOOT_SEARCH, bytes.length) - 12;
  for (let off = 0; off <= limit; off += 4) {
    if (v.getUint32(off, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = v.getUint32(off + 4, true);
    const checksum = v.getUint32(off + 8, true);
    if (((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0) !== 0) {
      throw new UserError(
        'bad-file',
        `${file}: bad Multiboot header checksum at offset ${hex(off)} (magic + flags + checksum = ${hex((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0)}, must be 0)`,
      );
    }
    const unknown = flags & 0xffff & ~MBH_UNDERSTOOD_LOW;
    if (unknown !== 0) {
      throw new UserError('bad-file', `${file}: Multiboot header requires features this loader does not know (flags ${hex(unknown)})`);
    }
    if ((flags & MBH_AOUT_KLUDGE) === 0) return { offset: off, flags };
    if (off + 32 > bytes.length) throw new UserError('bad-file', `${file}: Multiboot header at ${hex(off)} is truncated`);
    return {
      offset: off,
      flags,
      headerAddr: v.getUint32(off + 12, true),
      loadAddr: v.getUint32(off + 16, true),
      loadEndAddr: v.getUint32(off + 20, true),
      bssEndAddr: v.getUint32(off + 24, true),
      entryAddr: v.getUint32(off + 28, true),
    };
  }
  const elf = bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
  throw new UserError(
    'bad-file',
    elf
      ? `${file}: no Multiboot header (magic 0x1badb002) in the first ${MULTIBOOT_SEARCH} bytes`
      : `${file}: not a Multiboot kernel: neither ELF nor a Multiboot header in the first ${MULTIBOOT_SEARCH} bytes`,
  );
}

/** Loads the image and modules into `ram` and builds the information structure. */
export function loadMultiboot(ram: BareRam, image: MultibootImage): MultibootLoad {
  const file = image.name;
  const header = findMultibootHeader(image.bytes, file);
  const tooBig = (what: string, start: number, end: number): never => {
    throw new UserError(
      'bad-option',
      `${file}: ${what} at ${hex(start)}-${hex(end)} does not fit in ${ram.bytes / (1024 * 1024)} MiB of RAM (raise --mem)`,
    );
  };
  const place = (what: string, pa: number, data: Uint8Array, memsz: number): void => {
    if (!ram.isRam(pa, memsz)) tooBig(what, pa, pa + memsz);
    ram.writeBytes(pa, data);
    // RAM starts zeroed, but an earlier segment may overlap this one's bss.
    if (memsz > data.length) ram.fill(pa + data.length, memsz - data.length);
  };

  let entry: number;
  let imageStart = Number.POSITIVE_INFINITY;
  let imageEnd = 0;
  if ((header.flags & MBH_AOUT_KLUDGE) !== 0) {
    // §3.1.3: the file from (header offset - (header_addr - load_addr)) is loaded at load_addr,
    // up to load_end_addr (0: the end of the file); bss up to bss_end_addr (0: none).
    const h = header as Required<MultibootHeader>;
    if (h.loadAddr > h.headerAddr) {
      throw new UserError('bad-file', `${file}: Multiboot load_addr ${hex(h.loadAddr)} is above header_addr ${hex(h.headerAddr)}`);
    }
    const fileStart = header.offset - (h.headerAddr - h.loadAddr);
    if (fileStart < 0) throw new UserError('bad-file', `${file}: Multiboot load_addr ${hex(h.loadAddr)} lies before the start of the file`);
    const loadLen = h.loadEndAddr === 0 ? image.bytes.length - fileStart : h.loadEndAddr - h.loadAddr;
    if (loadLen < 0 || fileStart + loadLen > image.bytes.length) {
      throw new UserError('bad-file', `${file}: Multiboot load_end_addr ${hex(h.loadEndAddr)} lies beyond the end of the file`);
    }
    const end = h.bssEndAddr === 0 ? h.loadAddr + loadLen : h.bssEndAddr;
    if (end < h.loadAddr + loadLen) throw new UserError('bad-file', `${file}: Multiboot bss_end_addr ${hex(h.bssEndAddr)} is below load_end_addr`);
    place('the image', h.loadAddr, image.bytes.subarray(fileStart, fileStart + loadLen), end - h.loadAddr);
    imageStart = h.loadAddr;
    imageEnd = end;
    entry = h.entryAddr;
  } else {
    const elf = parseElf(image.bytes, file);
    if (elf.class !== 32) {
      throw new UserError('bad-file', `${file}: a 64-bit ELF kernel needs the Multiboot address fields (header flag bit 16); this one has none`);
    }
    if (elf.machine !== EM_386) throw new UserError('bad-file', `${file}: not an i386 ELF (e_machine ${elf.machine})`);
    entry = Number(elf.entry);
    let loaded = 0;
    for (const seg of elf.segments) {
      if (seg.type !== PT_LOAD || seg.memsz === 0n) continue;
      const pa = Number(seg.paddr);
      const memsz = Number(seg.memsz);
      place('a loadable segment', pa, image.bytes.subarray(seg.offset, seg.offset + seg.filesz), memsz);
      imageStart = Math.min(imageStart, pa);
      imageEnd = Math.max(imageEnd, pa + memsz);
      // An entry point given as a virtual address inside this segment runs at its physical copy
      // (higher-half kernels linked with AT(); GRUB and QEMU translate it the same way).
      const va = Number(seg.vaddr);
      if (va !== pa && entry >= va && entry < va + memsz) entry = entry - va + pa;
      loaded++;
    }
    if (loaded === 0) throw new UserError('bad-file', `${file}: the ELF has no loadable segments`);
  }

  // What the loader adds goes after the image, page-aligned, each piece aligned as it needs.
  let cursor = alignUp(imageEnd, PAGE);
  const alloc = (what: string, len: number, align: number): number => {
    const at = alignUp(cursor, align);
    if (!ram.isRam(at, len)) tooBig(what, at, at + len);
    cursor = at + len;
    return at;
  };
  const putString = (what: string, s: string): number => {
    const bytes = new TextEncoder().encode(`${s}\0`);
    const at = alloc(what, bytes.length, 1);
    ram.writeBytes(at, bytes);
    return at;
  };

  const info = alloc('the Multiboot information structure', MBI_SIZE, PAGE);
  ram.fill(info, MBI_SIZE);
  let flags = 0;
  const set = (off: number, v: number): void => ram.write32(info + off, v);

  // mem_lower / mem_upper in KiB (§3.3): conventional memory, and memory from 1 MiB to the first hole.
  flags |= MBI_MEMORY;
  set(4, LOW_MEM_TOP / 1024);
  set(8, (ram.bytes - HIGH_MEM_BASE) / 1024);

  // The memory map: conventional memory, the hole up to 1 MiB (absent), then the rest of RAM.
  const regions: [number, number, number][] = [
    [0, LOW_MEM_TOP, MMAP_AVAILABLE],
    [HIGH_MEM_BASE, ram.bytes - HIGH_MEM_BASE, MMAP_AVAILABLE],
  ];
  const mmap = alloc('the memory map', regions.length * MMAP_ENTRY, 8);
  regions.forEach(([base, len, type], k) => {
    const e = mmap + k * MMAP_ENTRY;
    ram.write32(e, MMAP_ENTRY - 4);
    ram.write32(e + 4, base);
    ram.write32(e + 8, 0);
    ram.write32(e + 12, len);
    ram.write32(e + 16, 0);
    ram.write32(e + 20, type);
  });
  flags |= MBI_MEM_MAP;
  set(44, regions.length * MMAP_ENTRY);
  set(48, mmap);

  const append = image.cmdline ?? '';
  flags |= MBI_CMDLINE;
  set(16, putString('the command line', append === '' ? file : `${file} ${append}`));
  flags |= MBI_BOOT_LOADER_NAME;
  set(64, putString('the boot loader name', BOOT_LOADER_NAME));

  const mods = image.modules ?? [];
  const list = alloc('the module list', mods.length * 16, 4);
  const strings = mods.map((m) => putString('a module string', m.string ?? m.name));
  const placed: { start: number; end: number }[] = [];
  mods.forEach((m, k) => {
    // Page-aligned whether or not the kernel asked (MBH_PAGE_ALIGN): the spec allows either.
    const start = alignUp(cursor, PAGE);
    const end = start + m.bytes.length;
    if (!ram.isRam(start, m.bytes.length)) {
      throw new UserError('bad-option', `${m.name}: module at ${hex(start)}-${hex(end)} does not fit in ${ram.bytes / (1024 * 1024)} MiB of RAM (raise --mem)`);
    }
    ram.writeBytes(start, m.bytes);
    cursor = end;
    ram.write32(list + k * 16, start);
    ram.write32(list + k * 16 + 4, end);
    ram.write32(list + k * 16 + 8, strings[k] ?? 0);
    ram.write32(list + k * 16 + 12, 0);
    placed.push({ start, end });
  });
  flags |= MBI_MODS;
  set(20, mods.length);
  set(24, mods.length > 0 ? list : 0);

  set(0, flags);
  return { entry: entry >>> 0, infoAddr: info, imageStart, imageEnd, modules: placed, end: cursor };
}
