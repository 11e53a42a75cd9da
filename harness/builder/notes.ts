/**
 * Xen ELF notes: where a PV kernel tells the domain builder how to load it.
 *
 * Found where libelf looks (Xen `elf_xen_parse`, xen/common/libelf/libelf-dominfo.c): the Xen
 * notes of every PT_NOTE program header first; only when those hold none, every SHT_NOTE
 * section; only when those hold none either, the legacy `__xen_guest` section (a string of
 * comma-separated KEY=VALUE pairs). The result is a typed record with nothing defaulted: the
 * defaults libxenguest applies (virt_base, paddr_offset, entry) are computed by `image.ts`,
 * which knows the segments.
 *
 * Host side: a malformed note area is a `bad-file` UserError naming the image, never a bad read.
 */
import type { ElfFile } from '../elf.js';
import { UserError } from '../errors.js';
import { XENFEAT_NAMES } from '../../abi/public/features.js';

/**
 * XEN_ELFNOTE_* (xen/include/public/elfnote.h). Columns: the note's name, its number, and how
 * libelf reads its descriptor (`num`: a little-endian integer of 1, 2, 4 or 8 bytes; `str`: a
 * NUL-terminated string; `raw`: kept as bytes, decoded below where it has a known shape).
 */
export const XEN_ELFNOTES = [
  { name: 'INFO', type: 0, kind: 'str' },
  { name: 'ENTRY', type: 1, kind: 'num' },
  { name: 'HYPERCALL_PAGE', type: 2, kind: 'num' },
  { name: 'VIRT_BASE', type: 3, kind: 'num' },
  { name: 'PADDR_OFFSET', type: 4, kind: 'num' },
  { name: 'XEN_VERSION', type: 5, kind: 'str' },
  { name: 'GUEST_OS', type: 6, kind: 'str' },
  { name: 'GUEST_VERSION', type: 7, kind: 'str' },
  { name: 'LOADER', type: 8, kind: 'str' },
  { name: 'PAE_MODE', type: 9, kind: 'str' },
  { name: 'FEATURES', type: 10, kind: 'str' },
  { name: 'BSD_SYMTAB', type: 11, kind: 'str' },
  { name: 'HV_START_LOW', type: 12, kind: 'num' },
  { name: 'L1_MFN_VALID', type: 13, kind: 'raw' },
  { name: 'SUSPEND_CANCEL', type: 14, kind: 'num' },
  { name: 'INIT_P2M', type: 15, kind: 'num' },
  { name: 'MOD_START_PFN', type: 16, kind: 'num' },
  { name: 'SUPPORTED_FEATURES', type: 17, kind: 'raw' },
  { name: 'PHYS32_ENTRY', type: 18, kind: 'num' },
  { name: 'PHYS32_RELOC', type: 19, kind: 'raw' },
] as const satisfies readonly { name: string; type: number; kind: 'num' | 'str' | 'raw' }[];

export type XenElfnoteName = (typeof XEN_ELFNOTES)[number]['name'];

export const XEN_ELFNOTE_ENTRY = 1;
export const XEN_ELFNOTE_HYPERCALL_PAGE = 2;
export const XEN_ELFNOTE_VIRT_BASE = 3;
export const XEN_ELFNOTE_PADDR_OFFSET = 4;
export const XEN_ELFNOTE_XEN_VERSION = 5;
export const XEN_ELFNOTE_GUEST_OS = 6;
export const XEN_ELFNOTE_GUEST_VERSION = 7;
export const XEN_ELFNOTE_LOADER = 8;
export const XEN_ELFNOTE_PAE_MODE = 9;
export const XEN_ELFNOTE_FEATURES = 10;
export const XEN_ELFNOTE_BSD_SYMTAB = 11;
export const XEN_ELFNOTE_HV_START_LOW = 12;
export const XEN_ELFNOTE_L1_MFN_VALID = 13;
export const XEN_ELFNOTE_SUSPEND_CANCEL = 14;
export const XEN_ELFNOTE_INIT_P2M = 15;
export const XEN_ELFNOTE_MOD_START_PFN = 16;
export const XEN_ELFNOTE_SUPPORTED_FEATURES = 17;
export const XEN_ELFNOTE_PHYS32_ENTRY = 18;
export const XEN_ELFNOTE_PHYS32_RELOC = 19;

/**
 * The XENFEAT_* names a FEATURES string may use (libelf's `elf_xen_feature_names`) and their bit
 * numbers in submap 0 (xen/include/public/features.h). Other names are ignored when merely
 * supported and refused when required (`!name`).
 */
export const XEN_FEATURE_BITS = {
  writable_page_tables: 0,
  writable_descriptor_tables: 1,
  auto_translated_physmap: 2,
  supervisor_mode_kernel: 3,
  pae_pgdir_above_4gb: 4,
  hvm_callback_vector: 8,
  dom0: 11,
} as const satisfies Readonly<Record<string, number>>;

export type XenFeatureName = keyof typeof XEN_FEATURE_BITS;

/** Names of the set bits of a submap-0 feature mask (bits without a name as `bit<n>`). */
export function featureNames(mask: number): string[] {
  const out: string[] = [];
  for (let bit = 0; bit < 32; bit++) {
    if (((mask >>> bit) & 1) !== 0) out.push(XENFEAT_NAMES[bit] ?? `bit${bit}`);
  }
  return out;
}

/**
 * PAE_MODE as libelf reads it: "yes" is PAE with extended CR3 (the L3 may live above 4 GiB),
 * anything containing "bimodal" is bimodal, `__xen_guest`'s "PAE=yes..." other than
 * "yes[extended-cr3]" is plain PAE; everything else (absent, "no") is no PAE.
 */
export type PaeMode = 'no' | 'yes' | 'extended-cr3' | 'bimodal';

export type NotesSource = 'PT_NOTE' | 'SHT_NOTE' | '__xen_guest';

/** One note with owner "Xen", as found. */
export interface RawXenNote {
  readonly type: number;
  /** XEN_ELFNOTE_* name, or `unknown(<n>)` (libelf ignores those). */
  readonly name: string;
  /** File offset of the note header. */
  readonly offset: number;
  readonly desc: Uint8Array;
}

/** Feature masks (submap 0) from FEATURES and SUPPORTED_FEATURES. */
export interface FeatureMasks {
  /** Features the kernel can use: every FEATURES name (required or not) and SUPPORTED_FEATURES. */
  readonly supported: number;
  /** Features the kernel cannot run without (`!name` in FEATURES). */
  readonly required: number;
  /** The FEATURES string as written, when there is one. */
  readonly text?: string;
}

/** What the notes say, nothing defaulted: an absent note is `undefined`. */
export interface XenNotes {
  readonly source: NotesSource;
  /** Every Xen note in file order (empty for `__xen_guest`). */
  readonly raw: readonly RawXenNote[];
  /** Oddities Xen accepts and so do we (a note running past its area, a string cut by the end of the file). */
  readonly warnings: readonly string[];
  /** The `__xen_guest` string, for that source. */
  readonly guestInfo?: string;
  readonly guestOs?: string;
  readonly guestVersion?: string;
  readonly xenVersion?: string;
  readonly loader?: string;
  readonly paeMode: PaeMode;
  readonly bsdSymtab: boolean;
  readonly entry?: bigint;
  readonly virtBase?: bigint;
  readonly paddrOffset?: bigint;
  /** Virtual address of the page the builder fills with hypercall stubs (absolute, also for `__xen_guest`). */
  readonly hypercallPage?: bigint;
  readonly hvStartLow?: bigint;
  readonly initP2m?: bigint;
  readonly phys32Entry?: number;
  readonly suspendCancel?: bigint;
  readonly modStartPfn?: bigint;
  /** L1_MFN_VALID: (mask, value) pairs of native words. */
  readonly l1MfnValid?: readonly (readonly [bigint, bigint])[];
  readonly features: FeatureMasks;
}

/** libelf's bound on notes examined (ELF_MAX_TOTAL_NOTE_COUNT). */
export const MAX_TOTAL_NOTES = 1024;

const SHT_NOTE = 7;
const PT_NOTE = 4;

/**
 * The Xen notes of an image, from the first place that has any. Throws a one-line `bad-file`
 * UserError for a note area that is truncated or misaligned, too many notes, an unknown required
 * feature, or an image with no Xen notes and no `__xen_guest` section.
 */
export function findXenNotes(elf: ElfFile, bytes: Uint8Array, file: string): XenNotes {
  const counter = { total: 0 };
  const warnings: string[] = [];
  const fromSegments: RawXenNote[] = [];
  for (const [i, seg] of elf.segments.entries()) {
    // libelf skips note segments at offset 0: some binutils leave p_offset unset there.
    if (seg.type !== PT_NOTE || seg.offset === 0) continue;
    fromSegments.push(...readNoteArea(bytes, seg.offset, seg.filesz, `PT_NOTE segment ${i}`, file, counter, warnings));
  }
  if (fromSegments.length > 0) return interpretNotes('PT_NOTE', fromSegments, elf.class, file, warnings);

  const fromSections: RawXenNote[] = [];
  for (const [i, sec] of elf.sections.entries()) {
    if (i === 0 || sec.type !== SHT_NOTE) continue;
    const what = `SHT_NOTE section ${i}${sec.name !== '' ? ` (${sec.name})` : ''}`;
    fromSections.push(...readNoteArea(bytes, sec.offset, sec.size, what, file, counter, warnings));
  }
  if (fromSections.length > 0) return interpretNotes('SHT_NOTE', fromSections, elf.class, file, warnings);

  const guest = elf.section('__xen_guest');
  if (guest !== undefined) return parseGuestInfo(cString(guest), file);

  throw new UserError('bad-file', `${file}: not a Xen PV kernel: no Xen ELF notes (PT_NOTE or SHT_NOTE) and no __xen_guest section`);
}

/**
 * The notes of one PT_NOTE segment or SHT_NOTE section, keeping those owned by "Xen". Notes are
 * 4-byte aligned in both ELF classes (libelf's `elf_note_next` rounds name and descriptor to 4,
 * whatever the segment's p_align says; GRUB's x86_64 image has p_align 8 and 4-aligned notes).
 *
 * libelf bounds each read by the file, not by the note area: a note may run past the end of its
 * segment, and a string descriptor may be cut short by the end of the file as long as its NUL
 * is there (GRUB's i386-xen image ends inside its PAE_MODE note, whose descsz says 12 bytes
 * where the file holds "yes\0"). We accept both, as Xen does, and say so in `warnings`. What we
 * refuse as truncated: a note header, name or numeric descriptor cut by the end of the file, a
 * string with no NUL before it.
 */
function readNoteArea(
  bytes: Uint8Array,
  start: number,
  size: number,
  what: string,
  file: string,
  counter: { total: number },
  warnings: string[],
): RawXenNote[] {
  const bad = (why: string): never => {
    throw new UserError('bad-file', `${file}: ${what}: ${why}`);
  };
  if (start % 4 !== 0) bad(`note area at file offset ${hex(start)} is not 4-byte aligned`);
  const end = start + size;
  if (end > bytes.length) bad(`note area ends past the end of the file`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: RawXenNote[] = [];
  let at = start;
  while (at < end) {
    if (++counter.total > MAX_TOTAL_NOTES) bad(`more than ${MAX_TOTAL_NOTES} ELF notes`);
    if (at + 12 > bytes.length) bad(`truncated note header at file offset ${hex(at)}: the file ends at ${hex(bytes.length)}`);
    const namesz = v.getUint32(at, true);
    const descsz = v.getUint32(at + 4, true);
    const type = v.getUint32(at + 8, true);
    const nameAt = at + 12;
    const descAt = nameAt + align4(namesz);
    const next = descAt + align4(descsz);
    if (nameAt + namesz > bytes.length) bad(`truncated note at file offset ${hex(at)}: its name (namesz ${namesz}) runs past the end of the file`);
    const name = cString(bytes.subarray(nameAt, nameAt + namesz));
    if (name === 'Xen') {
      const known = XEN_ELFNOTES.find((n) => n.type === type);
      const label = known?.name ?? `unknown(${type})`;
      let desc = bytes.subarray(descAt, descAt + descsz);
      if (descAt + descsz > bytes.length) {
        desc = bytes.subarray(Math.min(descAt, bytes.length));
        if (known?.kind !== 'str' || !desc.includes(0)) {
          bad(`truncated note ${label} at file offset ${hex(at)}: descsz ${descsz} runs past the end of the file at ${hex(bytes.length)}`);
        }
        warnings.push(`${what}: note ${label} (descsz ${descsz}) is cut short by the end of the file; its string is complete, as Xen accepts`);
      } else if (next > end) {
        warnings.push(`${what}: note ${label} runs past the end of the note area at ${hex(end)}, as Xen accepts`);
      }
      out.push({ type, name: label, offset: at, desc });
    }
    at = next;
  }
  return out;
}

function interpretNotes(source: NotesSource, raw: readonly RawXenNote[], elfClass: 32 | 64, file: string, warnings: readonly string[]): XenNotes {
  let supported = 0;
  let required = 0;
  let featuresText: string | undefined;
  // Later notes of the same type override earlier ones, as in libelf (each note stores into parms).
  const n: {
    -readonly [K in keyof XenNotes]?: XenNotes[K];
  } = {};
  let paeMode: PaeMode = 'no';
  let bsdSymtab = false;
  for (const note of raw) {
    const str = (): string => cString(note.desc);
    const num = (): bigint => noteNumber(note.desc);
    switch (note.type) {
      case XEN_ELFNOTE_ENTRY: n.entry = num(); break;
      case XEN_ELFNOTE_HYPERCALL_PAGE: n.hypercallPage = num(); break;
      case XEN_ELFNOTE_VIRT_BASE: n.virtBase = num(); break;
      case XEN_ELFNOTE_PADDR_OFFSET: n.paddrOffset = num(); break;
      case XEN_ELFNOTE_XEN_VERSION: n.xenVersion = str(); break;
      case XEN_ELFNOTE_GUEST_OS: n.guestOs = str(); break;
      case XEN_ELFNOTE_GUEST_VERSION: n.guestVersion = str(); break;
      case XEN_ELFNOTE_LOADER: n.loader = str(); break;
      case XEN_ELFNOTE_PAE_MODE: {
        // libelf: exactly "yes" is extended-CR3; "bimodal" anywhere wins; anything else leaves it.
        const s = str();
        if (s === 'yes') paeMode = 'extended-cr3';
        if (s.includes('bimodal')) paeMode = 'bimodal';
        break;
      }
      case XEN_ELFNOTE_FEATURES: {
        featuresText = str();
        const f = parseFeatures(featuresText, file);
        supported |= f.supported;
        required |= f.required;
        break;
      }
      case XEN_ELFNOTE_SUPPORTED_FEATURES:
        // An array of u32 submaps; xenlab (like Xen's x86 headers) has only submap 0.
        if (note.desc.length >= 4) supported |= new DataView(note.desc.buffer, note.desc.byteOffset, 4).getUint32(0, true);
        break;
      case XEN_ELFNOTE_BSD_SYMTAB: if (str() === 'yes') bsdSymtab = true; break;
      case XEN_ELFNOTE_HV_START_LOW: n.hvStartLow = num(); break;
      case XEN_ELFNOTE_L1_MFN_VALID: n.l1MfnValid = wordPairs(note.desc, elfClass); break;
      case XEN_ELFNOTE_SUSPEND_CANCEL: n.suspendCancel = num(); break;
      case XEN_ELFNOTE_INIT_P2M: n.initP2m = num(); break;
      case XEN_ELFNOTE_MOD_START_PFN: n.modStartPfn = num(); break;
      case XEN_ELFNOTE_PHYS32_ENTRY: n.phys32Entry = Number(BigInt.asUintN(32, num())); break;
      default: break; // INFO, PHYS32_RELOC and unknown types: kept in `raw` only, as libelf ignores them
    }
  }
  return {
    ...n,
    source,
    raw,
    warnings,
    paeMode,
    bsdSymtab,
    features: { supported: supported >>> 0, required: required >>> 0, ...(featuresText !== undefined ? { text: featuresText } : {}) },
  };
}

/**
 * A FEATURES string: names separated by `|`, a leading `!` marks a required one. A required
 * name libelf does not know refuses the image (Xen `elf_xen_parse_features`); an unknown
 * optional one is ignored. libelf reads at most 63 characters per name; so do we.
 */
export function parseFeatures(text: string, file: string): { supported: number; required: number } {
  let supported = 0;
  let required = 0;
  for (const part of text.split('|')) {
    if (part === '') continue;
    const word = part.slice(0, 63);
    const isRequired = word.startsWith('!');
    const name = isRequired ? word.slice(1) : word;
    const bit = (XEN_FEATURE_BITS as Readonly<Record<string, number>>)[name];
    if (bit === undefined) {
      if (isRequired) {
        throw new UserError('bad-file', `${file}: the kernel requires Xen feature '${name}', which Xen does not know (FEATURES "${text}")`);
      }
      continue;
    }
    supported |= 1 << bit;
    if (isRequired) required |= 1 << bit;
  }
  return { supported: supported >>> 0, required: required >>> 0 };
}

/**
 * The legacy `__xen_guest` string (Xen `elf_xen_parse_guest_info`): comma-separated KEY=VALUE,
 * keys up to 31 and values up to 127 characters (longer ones are cut, as libelf's buffers do).
 * Numbers are C `strtoull(..., 0)`. HYPERCALL_PAGE is a page number relative to VIRT_BASE.
 */
export function parseGuestInfo(text: string, file: string): XenNotes {
  const n: { -readonly [K in keyof XenNotes]?: XenNotes[K] } = {};
  let paeMode: PaeMode = 'no';
  let bsdSymtab = false;
  let supported = 0;
  let required = 0;
  let featuresText: string | undefined;
  let hypercallPfn: bigint | undefined;
  for (const item of text.split(',')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    const key = (eq < 0 ? item : item.slice(0, eq)).slice(0, 31);
    const value = (eq < 0 ? '' : item.slice(eq + 1)).slice(0, 127);
    switch (key) {
      case 'LOADER': n.loader = value; break;
      case 'GUEST_OS': n.guestOs = value; break;
      case 'GUEST_VER': n.guestVersion = value; break;
      case 'XEN_VER': n.xenVersion = value; break;
      case 'PAE':
        if (value === 'yes[extended-cr3]') paeMode = 'extended-cr3';
        else if (value.startsWith('yes')) paeMode = 'yes';
        break;
      case 'BSD_SYMTAB': bsdSymtab = true; break;
      case 'VIRT_BASE': n.virtBase = strtoull(value); break;
      case 'VIRT_ENTRY': n.entry = strtoull(value); break;
      case 'ELF_PADDR_OFFSET': n.paddrOffset = strtoull(value); break;
      case 'HYPERCALL_PAGE': hypercallPfn = strtoull(value); break;
      case 'FEATURES': {
        featuresText = value;
        const f = parseFeatures(value, file);
        supported |= f.supported;
        required |= f.required;
        break;
      }
      default: break; // unknown keys are ignored by libelf too
    }
  }
  if (hypercallPfn !== undefined) n.hypercallPage = BigInt.asUintN(64, (hypercallPfn << 12n) + (n.virtBase ?? 0n));
  return {
    ...n,
    source: '__xen_guest',
    raw: [],
    warnings: [],
    guestInfo: text,
    paeMode,
    bsdSymtab,
    features: { supported: supported >>> 0, required: required >>> 0, ...(featuresText !== undefined ? { text: featuresText } : {}) },
  };
}

/**
 * A numeric note: libelf reads descriptors of 1, 2, 4 or 8 bytes as little-endian integers and
 * any other size as 0 (`elf_note_numeric`); we do the same.
 */
export function noteNumber(desc: Uint8Array): bigint {
  if (desc.length !== 1 && desc.length !== 2 && desc.length !== 4 && desc.length !== 8) return 0n;
  let v = 0n;
  for (let i = desc.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(desc[i] ?? 0);
  return v;
}

/** C's strtoull(s, NULL, 0): optional 0x (hex) or 0 (octal) prefix; stops at the first bad digit. */
export function strtoull(s: string): bigint {
  const t = s.trimStart();
  let base = 10;
  let i = 0;
  if (t[0] === '+') i = 1;
  if (t[i] === '0' && (t[i + 1] === 'x' || t[i + 1] === 'X') && /[0-9a-fA-F]/.test(t[i + 2] ?? '')) {
    base = 16;
    i += 2;
  } else if (t[i] === '0') {
    base = 8;
  }
  let v = 0n;
  for (; i < t.length; i++) {
    const d = parseInt(t[i] ?? '', 16);
    if (Number.isNaN(d) || d >= base) break;
    v = v * BigInt(base) + BigInt(d);
  }
  return BigInt.asUintN(64, v);
}

function wordPairs(desc: Uint8Array, elfClass: 32 | 64): [bigint, bigint][] {
  const w = elfClass === 64 ? 8 : 4;
  const out: [bigint, bigint][] = [];
  for (let at = 0; at + 2 * w <= desc.length; at += 2 * w) {
    out.push([noteNumber(desc.subarray(at, at + w)), noteNumber(desc.subarray(at + w, at + 2 * w))]);
  }
  return out;
}

/** Bytes up to the first NUL (or all of them), as Latin-1 so no byte is lost. */
function cString(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return Buffer.from(b.subarray(0, nul < 0 ? b.length : nul)).toString('latin1');
}

function align4(n: number): number {
  return n + ((4 - (n % 4)) % 4);
}

export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}
