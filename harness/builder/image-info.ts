/**
 * What `xenlab image info` prints about a kernel image: the format, the Xen notes and the
 * layout the domain builder will use, as text or as a JSON-ready record (addresses as hex).
 */
import { XEN_ELFNOTES, XEN_ELFNOTE_L1_MFN_VALID, XEN_ELFNOTE_SUPPORTED_FEATURES, featureNames, hex, noteNumber } from './notes.js';
import type { KernelImage } from './image.js';

/** A JSON-ready summary: every address a hex string, no bytes. */
export function imageSummary(img: KernelImage): Record<string, unknown> {
  const n = img.notes;
  return {
    file: img.file,
    format: img.format,
    compression: img.compression ?? null,
    fileSize: img.fileSize,
    elfSize: img.elfBytes.length,
    bzImage: img.bzImage === undefined ? null : { ...img.bzImage, protocol: protocolVersion(img.bzImage.protocol), payloadAt: hex(img.bzImage.payloadAt) },
    elf: { class: img.elf.class, machine: img.elf.machine, entry: hex(img.elf.entry) },
    guestType: img.guestType,
    notes: {
      source: n.source,
      ...(n.guestInfo !== undefined ? { guestInfo: n.guestInfo } : {}),
      list: n.raw.map((r) => ({ type: r.type, name: r.name, value: noteValue(r.type, r.desc, img.elf.class).json })),
      warnings: n.warnings,
    },
    layout: {
      virtBase: hex(img.virtBase),
      paddrOffset: hex(img.paddrOffset),
      virtKstart: hex(img.virtKstart),
      virtKend: hex(img.virtKend),
      entry: hex(img.entry),
      hypercallPage: img.hypercallPage === undefined ? null : hex(img.hypercallPage),
      p2mBase: img.p2mBase === undefined ? null : hex(img.p2mBase),
      pae: img.pae,
      unmappedInitrd: img.unmappedInitrd,
    },
    features: { required: featureNames(img.features.required), supported: featureNames(img.features.supported) },
    segments: img.segments.map((s) => ({
      index: s.index,
      paddr: hex(s.paddr),
      vaddr: hex(s.vaddr),
      loadAddress: hex(s.loadAddress),
      filesz: s.filesz,
      memsz: Number(s.memsz),
      flags: flagString(s.flags),
    })),
  };
}

export function renderImageInfo(img: KernelImage): string {
  const lines: string[] = [];
  const row = (k: string, v: string): void => {
    lines.push(`${`${k}:`.padEnd(16)}${v}`);
  };
  row('file', `${img.file} (${img.fileSize} bytes)`);
  const elfKind = `ELF${img.elf.class} ${img.elf.class === 64 ? 'x86-64' : 'i386'}, ${img.elfBytes.length} bytes`;
  if (img.bzImage !== undefined) {
    const b = img.bzImage;
    row('format', `bzImage (boot protocol ${protocolVersion(b.protocol)}), ${img.compression ?? ''} payload of ${b.payloadLength} bytes at ${hex(b.payloadAt)} -> ${elfKind}`);
  } else if (img.compression !== undefined) {
    row('format', `${img.compression}-compressed ELF -> ${elfKind}`);
  } else {
    row('format', elfKind);
  }
  row('guest type', img.guestType);
  row('notes', `${img.notes.source}${img.notes.source === '__xen_guest' ? ` "${img.notes.guestInfo ?? ''}"` : ` (${img.notes.raw.length} Xen notes)`}`);
  for (const r of img.notes.raw) lines.push(`  ${r.name.padEnd(20)}${noteValue(r.type, r.desc, img.elf.class).text}`);
  for (const w of img.notes.warnings) lines.push(`  warning: ${w}`);
  row('virt_base', hex(img.virtBase));
  row('paddr_offset', hex(img.paddrOffset));
  row('kernel', `${hex(img.virtKstart)} - ${hex(img.virtKend)} (${img.virtKend - img.virtKstart} bytes)`);
  row('entry', hex(img.entry));
  row('hypercall page', img.hypercallPage === undefined ? 'none (the kernel issues hypercalls itself)' : hex(img.hypercallPage));
  row('p2m', img.p2mBase === undefined ? 'in the boot region' : `mapped at ${hex(img.p2mBase)} (INIT_P2M)`);
  row('initrd', img.unmappedInitrd ? 'unmapped, by PFN (MOD_START_PFN)' : 'mapped after the kernel');
  row('features', `required ${list(featureNames(img.features.required))}; supported ${list(featureNames(img.features.supported))}`);
  lines.push('segments:');
  lines.push(`  ${'#'.padEnd(4)}${'paddr'.padEnd(20)}${'vaddr'.padEnd(20)}${'load address'.padEnd(20)}${'filesz'.padEnd(12)}${'memsz'.padEnd(12)}flags`);
  for (const s of img.segments) {
    lines.push(
      `  ${String(s.index).padEnd(4)}${hex(s.paddr).padEnd(20)}${hex(s.vaddr).padEnd(20)}${hex(s.loadAddress).padEnd(20)}${hex(s.filesz).padEnd(12)}${hex(s.memsz).padEnd(12)}${flagString(s.flags)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** A note's value: strings as they are, numbers in hex, feature bitmaps with names, other descriptors as bytes. */
function noteValue(type: number, desc: Uint8Array, elfClass: 32 | 64): { text: string; json: string } {
  const kind = XEN_ELFNOTES.find((n) => n.type === type)?.kind;
  if (kind === 'str') {
    const nul = desc.indexOf(0);
    const s = Buffer.from(desc.subarray(0, nul < 0 ? desc.length : nul)).toString('latin1');
    return { text: JSON.stringify(s), json: s };
  }
  if (kind === 'num' && [1, 2, 4, 8].includes(desc.length)) return same(hex(noteNumber(desc)));
  if (type === XEN_ELFNOTE_SUPPORTED_FEATURES && desc.length >= 4) {
    const mask = Number(noteNumber(desc.subarray(0, 4)));
    return same(`${hex(mask)} (${list(featureNames(mask))})`);
  }
  if (type === XEN_ELFNOTE_L1_MFN_VALID) {
    const w = elfClass === 64 ? 8 : 4;
    const pairs: string[] = [];
    for (let at = 0; at + 2 * w <= desc.length; at += 2 * w) {
      pairs.push(`mask ${hex(noteNumber(desc.subarray(at, at + w)))} value ${hex(noteNumber(desc.subarray(at + w, at + 2 * w)))}`);
    }
    return same(pairs.join(', ') || '(empty)');
  }
  return same(Array.from(desc, (b) => b.toString(16).padStart(2, '0')).join(' ') || '(empty)');
}

function same(s: string): { text: string; json: string } {
  return { text: s, json: s };
}

function protocolVersion(p: number): string {
  return `${p >> 8}.${(p & 0xff).toString().padStart(2, '0')}`;
}

function flagString(f: number): string {
  return `${f & 4 ? 'R' : '-'}${f & 2 ? 'W' : '-'}${f & 1 ? 'X' : '-'}`;
}

function list(names: readonly string[]): string {
  return names.length === 0 ? 'none' : names.join(', ');
}
