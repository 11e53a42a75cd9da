/**
 * The image side of the PV domain builder: from a kernel file to the ELF segments and Xen notes
 * the builder places in guest memory, with the checks and defaults libxenguest applies.
 *
 * Accepted, as xl accepts them (tools/libs/guest/xg_dom_{core,bzimageloader,elfloader}.c):
 *  - a plain ELF (ELF64 x86-64, or ELF32 i386 with PAE) carrying Xen notes;
 *  - a compressed ELF: the whole file in any format of `decompress.ts` (libxenguest gunzips a
 *    gzip file before probing; we accept every format the kernel uses);
 *  - a bzImage (Linux boot protocol >= 2.08), whose payload is a compressed ELF.
 *
 * Placement follows libelf (`elf_xen_addr_calc_check`): segments go by physical address;
 * virt_offset = virt_base - paddr_offset; the kernel occupies [pstart + virt_offset,
 * pend + virt_offset), where pstart/pend span the loadable segments' p_paddr..p_paddr+p_memsz.
 * Linux's per-CPU segment (p_vaddr 0) is why p_vaddr alone cannot place segments.
 *
 * Every refusal is one `bad-file` line naming the image (STYLE §4, user errors).
 */
import { readFileSync, statSync } from 'node:fs';
import { EM_386, EM_X86_64, PT_LOAD, parseElf, type ElfFile } from '../elf.js';
import { UserError } from '../errors.js';
import { decompress, detectCompression, type Compression } from './decompress.js';
import { XEN_FEATURE_BITS, featureNames, findXenNotes, hex, type PaeMode, type XenFeatureName, type XenNotes } from './notes.js';

/** libxenguest's bound on a kernel, compressed or not (XC_DOM_DECOMPRESS_MAX, 1 GiB). */
export const DEFAULT_MAX_KERNEL_BYTES = 1 << 30;

/**
 * Features xenlab's PV machine gives a domU, for kernels that require them: the writable
 * page-table assist (Xen always provides it to PV guests; Linux requires it) and page
 * directories above 4 GiB. The domain builder passes its own list.
 */
export const DEFAULT_SUPPORTED_FEATURES: readonly XenFeatureName[] = ['writable_page_tables', 'pae_pgdir_above_4gb'];

export interface LoadKernelOptions {
  /** Guest memory in bytes: the kernel must fit between VIRT_BASE and its end. Unbounded when omitted. */
  readonly maxBytes?: number;
  /** XENFEAT names xenlab implements; a kernel requiring any other (`!name`) is refused. */
  readonly supportedFeatures?: readonly string[];
  /** Largest file, or decompressed kernel, accepted (default 1 GiB as libxenguest). */
  readonly maxKernelBytes?: number;
  /** Names the image in errors when bytes are given instead of a path. */
  readonly name?: string;
}

export type ImageFormat = 'elf' | 'compressed-elf' | 'bzImage';

/** The Linux boot protocol fields that locate a bzImage's payload (Documentation/arch/x86/boot.rst). */
export interface BzImageHeader {
  /** Boot protocol version, e.g. 0x020f for 2.15. */
  readonly protocol: number;
  readonly setupSects: number;
  /** File offset of the compressed payload: (setup_sects + 1) * 512 + payload_offset. */
  readonly payloadAt: number;
  /** payload_length, including the kernel's trailing LE u32 of the uncompressed size. */
  readonly payloadLength: number;
  /** That trailing size: what the payload decompresses to. */
  readonly uncompressedSize: number;
}

export type GuestType = 'xen-3.0-x86_64' | 'xen-3.0-x86_32p';

export interface KernelSegment {
  /** Program header index. */
  readonly index: number;
  readonly paddr: bigint;
  /** p_vaddr as the ELF says (Linux's per-CPU segment has 0 here). */
  readonly vaddr: bigint;
  /** Where the builder maps it: paddr + virt_offset (libelf places by physical address). */
  readonly loadAddress: bigint;
  readonly filesz: number;
  readonly memsz: bigint;
  /** PF_X 1, PF_W 2, PF_R 4. */
  readonly flags: number;
  /** The segment's file bytes (a view into `elfBytes`); zero-fill up to memsz. */
  readonly data: Uint8Array;
}

export interface KernelImage {
  /** The path, or the given name. */
  readonly file: string;
  readonly format: ImageFormat;
  /** How the ELF was compressed (undefined for a plain ELF). */
  readonly compression?: Compression;
  readonly bzImage?: BzImageHeader;
  /** Size of the file as given. */
  readonly fileSize: number;
  /** The (decompressed) ELF, which for a bzImage may be followed by the kernel's relocation table. */
  readonly elfBytes: Uint8Array;
  readonly elf: ElfFile;
  /** start_info.magic for this kernel. */
  readonly guestType: GuestType;
  readonly notes: XenNotes;
  readonly virtBase: bigint;
  readonly paddrOffset: bigint;
  /** virt_base - paddr_offset: added to a p_paddr to get its virtual address. */
  readonly virtOffset: bigint;
  /** First and end (exclusive) virtual address of the loaded kernel (libelf's virt_kstart/virt_kend). */
  readonly virtKstart: bigint;
  readonly virtKend: bigint;
  /** Virtual entry point (ENTRY, else e_entry). */
  readonly entry: bigint;
  /** Virtual address of the page to fill with hypercall stubs, when the kernel asks for one. */
  readonly hypercallPage?: bigint;
  /** INIT_P2M: where the kernel wants the p2m list mapped (PV64). */
  readonly p2mBase?: bigint;
  readonly pae: PaeMode;
  /** Submap 0 masks: what the kernel requires and what it can use. */
  readonly features: { readonly required: number; readonly supported: number };
  /** MOD_START_PFN: the initrd may be left unmapped and given by PFN. */
  readonly unmappedInitrd: boolean;
  /** Loadable segments (PT_LOAD with any of R/W/X), in program header order. */
  readonly segments: readonly KernelSegment[];
}

const U64 = (x: bigint): bigint => BigInt.asUintN(64, x);

/** Reads, unpacks and checks a PV kernel image. Throws a one-line UserError naming it when it cannot be used. */
export async function loadKernelImage(source: string | Uint8Array, opts: LoadKernelOptions = {}): Promise<KernelImage> {
  const maxKernel = opts.maxKernelBytes ?? DEFAULT_MAX_KERNEL_BYTES;
  const file = typeof source === 'string' ? source : (opts.name ?? 'kernel image');
  const bytes = typeof source === 'string' ? readImage(source, maxKernel) : source;
  const bad = (why: string): never => {
    throw new UserError('bad-file', `${file}: ${why}`);
  };
  if (bytes.length > maxKernel) bad(`${bytes.length} bytes is more than the ${maxKernel}-byte limit for a kernel`);

  let format: ImageFormat;
  let compression: Compression | undefined;
  let bzImage: BzImageHeader | undefined;
  let elfBytes: Uint8Array;
  if (isElf(bytes)) {
    format = 'elf';
    elfBytes = bytes;
  } else if (isBzImage(bytes)) {
    format = 'bzImage';
    bzImage = readBzImageHeader(bytes, file);
    const payload = bytes.subarray(bzImage.payloadAt, bzImage.payloadAt + bzImage.payloadLength);
    compression = detectCompression(payload) ?? bad(`bzImage payload has an unknown compression format (starts ${hexBytes(payload, 6)})`);
    if (bzImage.uncompressedSize > maxKernel) {
      bad(`bzImage payload says it decompresses to ${bzImage.uncompressedSize} bytes, more than the ${maxKernel}-byte limit`);
    }
    // The kernel's build appends the uncompressed size after the stream; gzip's own ISIZE is that field.
    const stream = compression === 'gzip' ? payload : payload.subarray(0, payload.length - 4);
    elfBytes = await decompress(stream, compression, {
      name: `${file}: bzImage payload`,
      maxBytes: maxKernel,
      expectedSize: bzImage.uncompressedSize,
    });
    if (elfBytes.length % 2 ** 32 !== bzImage.uncompressedSize) {
      bad(`bzImage ${compression} payload decompressed to ${elfBytes.length} bytes, its size field says ${bzImage.uncompressedSize}`);
    }
  } else {
    compression = detectCompression(bytes);
    if (compression === undefined) bad(`not a kernel image: neither ELF, bzImage nor a compressed ELF (starts ${hexBytes(bytes, 6)})`);
    format = 'compressed-elf';
    elfBytes = await decompress(bytes, compression as Compression, { name: file, maxBytes: maxKernel });
  }
  if (!isElf(elfBytes)) {
    bad(`the decompressed ${compression ?? ''} ${format === 'bzImage' ? 'bzImage payload' : 'file'} is not an ELF image (starts ${hexBytes(elfBytes, 6)})`);
  }
  const label = format === 'elf' ? file : `${file} (decompressed ${compression ?? ''})`;
  const elf = parseElf(elfBytes, label);
  return checkXenKernel(
    { file, format, bzImage, compression, fileSize: bytes.length, elfBytes, elf },
    opts,
  );
}

interface Unpacked {
  readonly file: string;
  readonly format: ImageFormat;
  readonly compression: Compression | undefined;
  readonly bzImage: BzImageHeader | undefined;
  readonly fileSize: number;
  readonly elfBytes: Uint8Array;
  readonly elf: ElfFile;
}

/** The checks of libelf (`elf_xen_note_check`, `elf_xen_addr_calc_check`) and libxenguest, in their order. */
function checkXenKernel(u: Unpacked, opts: LoadKernelOptions): KernelImage {
  const { file, elf } = u;
  const bad = (why: string): never => {
    throw new UserError('bad-file', `${file}: ${why}`);
  };
  if (!((elf.machine === EM_X86_64 && elf.class === 64) || (elf.machine === EM_386 && elf.class === 32))) {
    bad(`not an x86 kernel: ELF${elf.class} machine ${elf.machine} (xenlab runs x86-64 and i386 PV kernels)`);
  }
  const notes = findXenNotes(elf, u.elfBytes, file);

  // elf_xen_note_check: a PV kernel names the generic loader or Linux, and Xen 3.0's interface.
  const loaderOk = notes.loader?.startsWith('generic') === true || notes.guestOs?.startsWith('linux') === true;
  if (!loaderOk) {
    const pvhOnly = notes.phys32Entry !== undefined && notes.loader === undefined && notes.guestOs === undefined;
    bad(
      pvhOnly
        ? `a PVH-only image (PHYS32_ENTRY ${hex(notes.phys32Entry ?? 0)} and no PV notes); xenlab boots PV kernels`
        : `not built for the generic loader or Linux (LOADER ${quote(notes.loader)}, GUEST_OS ${quote(notes.guestOs)})`,
    );
  }
  if (notes.xenVersion?.startsWith('xen-3.0') !== true) bad(`XEN_VERSION ${quote(notes.xenVersion)} is not xen-3.0: Xen loads only images for the 3.0 interface`);

  // elf_xen_addr_calc_check: defaults, then the kernel's extent and sanity.
  if (notes.paddrOffset !== undefined && notes.virtBase === undefined) bad('PADDR_OFFSET is set but VIRT_BASE is not');
  const virtBase = notes.virtBase ?? 0n;
  // Notes default paddr_offset to 0; the legacy __xen_guest string to virt_base (old kernels put
  // virtual addresses in p_paddr).
  const paddrOffset = notes.paddrOffset ?? (notes.source === '__xen_guest' ? virtBase : 0n);
  const virtOffset = U64(virtBase - paddrOffset);
  const loadable = elf.segments
    .map((s, index) => ({ s, index }))
    .filter(({ s }) => s.type === PT_LOAD && (s.flags & 7) !== 0);
  if (loadable.length === 0) bad('no loadable segments');
  let pstart = U64(-1n);
  let pend = 0n;
  for (const { s } of loadable) {
    if (s.paddr < pstart) pstart = s.paddr;
    const end = s.paddr + s.memsz;
    if (end > pend) pend = end;
  }
  const virtKstart = U64(pstart + virtOffset);
  const virtKend = U64(pend + virtOffset);
  const entry = notes.entry ?? elf.entry;
  const range = `[${hex(virtKstart)}, ${hex(virtKend)})`;
  if (virtKstart > virtKend) bad(`the kernel's extent ${range} wraps around the address space`);
  if (entry < virtKstart || entry > virtKend) bad(`entry point ${hex(entry)} lies outside the kernel ${range}`);
  if (virtBase > virtKstart) bad(`VIRT_BASE ${hex(virtBase)} lies above the kernel's lowest address ${hex(virtKstart)}`);
  if (notes.initP2m !== undefined && notes.initP2m >= virtKstart && notes.initP2m < virtKend) {
    bad(`INIT_P2M ${hex(notes.initP2m)} lies inside the kernel ${range}`);
  }
  // Not a libelf check: the builder writes the hypercall page into the kernel, so it must lie there.
  if (notes.hypercallPage !== undefined && (notes.hypercallPage < virtKstart || notes.hypercallPage + 4096n > virtKend)) {
    bad(`HYPERCALL_PAGE ${hex(notes.hypercallPage)} lies outside the kernel ${range}`);
  }

  // xc_dom_parse_elf_kernel and the PV builder's refusals.
  const required = notes.features.required;
  if (required & (1 << XEN_FEATURE_BITS.dom0)) bad('the kernel requires the dom0 feature: it cannot run unprivileged (domU)');
  if (required & (1 << XEN_FEATURE_BITS.auto_translated_physmap)) bad('the kernel requires auto_translated_physmap: PV autotranslate guests are no longer supported');

  let guestType: GuestType;
  if (elf.machine === EM_X86_64) {
    guestType = 'xen-3.0-x86_64';
  } else if (notes.paeMode === 'no') {
    return bad('a 32-bit kernel without PAE (xen-3.0-x86_32): 64-bit Xen runs 32-bit PV kernels only with PAE (PAE_MODE "yes")');
  } else {
    guestType = 'xen-3.0-x86_32p';
  }

  const supportedMask = supportedFeatureMask(opts.supportedFeatures ?? DEFAULT_SUPPORTED_FEATURES, file);
  const missing = required & ~supportedMask;
  if (missing !== 0) {
    bad(`the kernel requires Xen feature${featureNames(missing).length > 1 ? 's' : ''} ${featureNames(missing).join(', ')}, which xenlab does not support (FEATURES ${quote(notes.features.text)})`);
  }

  const needed = U64(virtKend - virtBase);
  if (opts.maxBytes !== undefined && needed > BigInt(opts.maxBytes)) {
    bad(`the kernel needs ${mib(needed)} of guest memory (VIRT_BASE ${hex(virtBase)} to its end ${hex(virtKend)}), more than the domain's ${mib(BigInt(opts.maxBytes))}`);
  }

  const segments: KernelSegment[] = loadable.map(({ s, index }) => ({
    index,
    paddr: s.paddr,
    vaddr: s.vaddr,
    loadAddress: U64(s.paddr + virtOffset),
    filesz: s.filesz,
    memsz: s.memsz,
    flags: s.flags,
    data: u.elfBytes.subarray(s.offset, s.offset + s.filesz),
  }));

  return {
    file,
    format: u.format,
    ...(u.compression !== undefined ? { compression: u.compression } : {}),
    ...(u.bzImage !== undefined ? { bzImage: u.bzImage } : {}),
    fileSize: u.fileSize,
    elfBytes: u.elfBytes,
    elf,
    guestType,
    notes,
    virtBase,
    paddrOffset,
    virtOffset,
    virtKstart,
    virtKend,
    entry,
    ...(notes.hypercallPage !== undefined ? { hypercallPage: notes.hypercallPage } : {}),
    ...(notes.initP2m !== undefined ? { p2mBase: notes.initP2m } : {}),
    pae: notes.paeMode,
    features: { required, supported: notes.features.supported },
    unmappedInitrd: notes.modStartPfn !== undefined && notes.modStartPfn !== 0n,
    segments,
  };
}

/** The bzImage fields, checked: "HdrS", protocol >= 2.08, payload inside the file. */
export function readBzImageHeader(b: Uint8Array, file: string): BzImageHeader {
  const bad = (why: string): never => {
    throw new UserError('bad-file', `${file}: ${why}`);
  };
  if (b.length < 0x250) bad(`truncated bzImage: ${b.length} bytes is shorter than the boot protocol header`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const protocol = v.getUint16(0x206, true);
  const version = `${protocol >> 8}.${(protocol & 0xff).toString().padStart(2, '0')}`;
  if (protocol < 0x0208) bad(`bzImage boot protocol ${version} is older than 2.08, which added payload_offset`);
  // The boot protocol: setup_sects 0 means 4, for very old kernels.
  const setupSects = b[0x1f1] || 4;
  const payloadAt = (setupSects + 1) * 512 + v.getUint32(0x248, true);
  const payloadLength = v.getUint32(0x24c, true);
  if (payloadLength < 8) bad(`bzImage payload_length ${payloadLength} is too short for a compressed kernel`);
  if (payloadAt + payloadLength > b.length) {
    bad(`truncated bzImage: the payload (${payloadLength} bytes at ${hex(payloadAt)}) runs past the end of the file (${b.length} bytes)`);
  }
  const uncompressedSize = v.getUint32(payloadAt + payloadLength - 4, true);
  return { protocol, setupSects, payloadAt, payloadLength, uncompressedSize };
}

export function supportedFeatureMask(names: readonly string[], file: string): number {
  let mask = 0;
  for (const name of names) {
    const bit = (XEN_FEATURE_BITS as Readonly<Record<string, number>>)[name];
    if (bit === undefined) throw new UserError('bad-option', `${file}: unknown Xen feature '${name}' in the supported list`);
    mask |= 1 << bit;
  }
  return mask >>> 0;
}

function readImage(path: string, maxKernel: number): Uint8Array {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new UserError('file-not-found', `${path}: cannot read the kernel image`);
  }
  if (size > maxKernel) throw new UserError('bad-file', `${path}: ${size} bytes is more than the ${maxKernel}-byte limit for a kernel`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch {
    throw new UserError('file-not-found', `${path}: cannot read the kernel image`);
  }
}

function isElf(b: Uint8Array): boolean {
  return b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
}

function isBzImage(b: Uint8Array): boolean {
  return b.length >= 0x206 && b[0x202] === 0x48 && b[0x203] === 0x64 && b[0x204] === 0x72 && b[0x205] === 0x53;
}

function hexBytes(b: Uint8Array, n: number): string {
  return Array.from(b.subarray(0, n), (x) => x.toString(16).padStart(2, '0')).join(' ') || '(empty)';
}

function quote(s: string | undefined): string {
  return s === undefined ? 'unset' : `"${s}"`;
}

function mib(n: bigint): string {
  return `${(Number(n) / (1 << 20)).toFixed(1)} MiB`;
}
