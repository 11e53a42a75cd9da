/**
 * Loads a static x86-64 Linux executable into an `AddressSpace` and builds its initial stack, the
 * way Linux's binfmt_elf does for a program without an interpreter:
 *  - ET_EXEC at its link addresses; static-PIE (ET_DYN, no PT_INTERP) at `PIE_BASE`;
 *  - each PT_LOAD with its own permissions, file bytes copied, the rest (bss) zero;
 *  - an 8 MiB stack below `STACK_TOP`, demand-paged, with an unmapped guard page under it;
 *  - argc, argv, envp and the auxiliary vector per the x86-64 SysV psABI §3.4.1, RSP 16-aligned.
 * A PT_INTERP (a dynamically linked program) is a user error: there is no ld.so here.
 */
import { ET_DYN, ET_EXEC, EM_X86_64, PT_INTERP, PT_LOAD, parseElf } from '../elf.js';
import { UserError } from '../errors.js';
import { AddressSpace, PROT_R, PROT_W, PROT_X, pageDown, pageUp } from './address-space.js';

export const PIE_BASE = 0x555555554000;
export const STACK_TOP = 0x7ffffffff000;
export const STACK_SIZE = 8 * 1024 * 1024;
/** Top of the area anonymous and file mmaps are placed in, growing down (below the stack's gap). */
export const MMAP_TOP = 0x7ffff7fff000;

const PT_GNU_STACK = 0x6474e551;
const PT_PHDR = 6;
const PF_X = 1;
const PF_W = 2;
const PF_R = 4;

/** Auxiliary vector types (include/uapi/linux/auxvec.h). */
export const AT = {
  NULL: 0, PHDR: 3, PHENT: 4, PHNUM: 5, PAGESZ: 6, BASE: 7, FLAGS: 8, ENTRY: 9, UID: 11, EUID: 12,
  GID: 13, EGID: 14, PLATFORM: 15, HWCAP: 16, CLKTCK: 17, SECURE: 23, RANDOM: 25, HWCAP2: 26, EXECFN: 31,
} as const;

export interface LoadOptions {
  /** argv, argv[0] included. */
  readonly argv: readonly string[];
  readonly envp: readonly string[];
  /** AT_EXECFN: the path the program was run by. */
  readonly execfn: string;
  /** 16 bytes for AT_RANDOM. */
  readonly random: Uint8Array;
  readonly hwcap: number;
  readonly uid: number;
  readonly gid: number;
}

export interface LoadedImage {
  readonly entry: number;
  /** Initial RSP (points at argc). */
  readonly sp: number;
  /** Initial program break: the page after the highest loaded byte. */
  readonly brk: number;
  /** Load bias (0 for ET_EXEC). */
  readonly base: number;
  readonly phdr: number;
  readonly phnum: number;
  /** The auxiliary vector as written, in order. */
  readonly auxv: readonly (readonly [number, number])[];
}

/** Validates an executable, failing with one line that names the file and the problem. */
export function checkExecutable(bytes: Uint8Array, file: string): ReturnType<typeof parseElf> {
  const elf = parseElf(bytes, file);
  if (elf.class !== 64 || elf.machine !== EM_X86_64) {
    throw new UserError('bad-file', `${file}: not an x86-64 executable (ELF class ${elf.class}, machine ${elf.machine})`);
  }
  if (elf.type !== ET_EXEC && elf.type !== ET_DYN) throw new UserError('bad-file', `${file}: not an executable (ELF type ${elf.type})`);
  if (elf.segments.some((s) => s.type === PT_INTERP)) {
    throw new UserError('bad-file', `${file}: dynamically linked executables are not supported (link it with -static)`);
  }
  if (!elf.segments.some((s) => s.type === PT_LOAD)) throw new UserError('bad-file', `${file}: no loadable segments`);
  return elf;
}

export function loadExecutable(space: AddressSpace, bytes: Uint8Array, file: string, opts: LoadOptions): LoadedImage {
  const elf = checkExecutable(bytes, file);
  const loads = elf.segments.filter((s) => s.type === PT_LOAD);
  const minVaddr = Math.min(...loads.map((s) => Number(s.vaddr)));
  const base = elf.type === ET_DYN ? PIE_BASE - pageDown(minVaddr) : 0;

  // Permissions per page are the union over the segments touching it (segments may share a page).
  const pageProt = new Map<number, number>();
  let brk = 0;
  for (const s of loads) {
    const start = base + Number(s.vaddr);
    const end = start + Number(s.memsz);
    if (!(start >= 0 && end <= MMAP_TOP - STACK_SIZE && end >= start)) {
      throw new UserError('bad-file', `${file}: segment at 0x${start.toString(16)} is outside the user address space`);
    }
    const prot = ((s.flags & PF_R) !== 0 ? PROT_R : 0) | ((s.flags & PF_W) !== 0 ? PROT_W : 0) | ((s.flags & PF_X) !== 0 ? PROT_X : 0);
    for (let a = pageDown(start); a < end; a += 4096) pageProt.set(a, (pageProt.get(a) ?? 0) | prot);
    brk = Math.max(brk, pageUp(end));
  }
  for (const [a, prot] of pageProt) space.mapNow(a, 4096, prot);
  for (const s of loads) {
    if (s.filesz > 0) space.mem.writeBytes(base + Number(s.vaddr), bytes.subarray(s.offset, s.offset + s.filesz));
  }

  // Program headers in memory: PT_PHDR if present, else inside the segment that maps file offset 0.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const phoff = Number(view.getBigUint64(32, true));
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  const phdrSeg = elf.segments.find((s) => s.type === PT_PHDR);
  const holder = loads.find((s) => s.offset <= phoff && phoff + phnum * phentsize <= s.offset + s.filesz);
  const phdr = phdrSeg !== undefined ? base + Number(phdrSeg.vaddr) : holder !== undefined ? base + Number(holder.vaddr) + (phoff - holder.offset) : 0;

  const execStack = elf.segments.find((s) => s.type === PT_GNU_STACK)?.flags ?? 0;
  space.reserve(STACK_TOP - STACK_SIZE, STACK_SIZE, PROT_R | PROT_W | ((execStack & PF_X) !== 0 ? PROT_X : 0));

  const entry = base + Number(elf.entry);
  const { sp, auxv } = buildStack(space, opts, { phdr, phent: phentsize, phnum, entry });
  return { entry, sp, brk, base, phdr, phnum, auxv };
}

/** Writes strings, the auxiliary vector, envp, argv and argc below STACK_TOP. */
function buildStack(
  space: AddressSpace,
  opts: LoadOptions,
  img: { phdr: number; phent: number; phnum: number; entry: number },
): { sp: number; auxv: [number, number][] } {
  const enc = new TextEncoder();
  let top = STACK_TOP - 8; // an 8-byte zero end marker, as Linux leaves
  const pushBytes = (b: Uint8Array): number => {
    top -= b.length;
    space.poke(top, b);
    return top;
  };
  const pushString = (s: string): number => pushBytes(Uint8Array.from([...enc.encode(s), 0]));

  const execfn = pushString(opts.execfn);
  const envPtrs = opts.envp.map(pushString);
  const argPtrs = opts.argv.map(pushString);
  const platform = pushString('x86_64');
  top = Math.floor(top / 16) * 16;
  const random = pushBytes(opts.random.subarray(0, 16));

  const auxv: [number, number][] = [
    [AT.PHDR, img.phdr],
    [AT.PHENT, img.phent],
    [AT.PHNUM, img.phnum],
    [AT.PAGESZ, 4096],
    [AT.BASE, 0],
    [AT.FLAGS, 0],
    [AT.ENTRY, img.entry],
    [AT.UID, opts.uid],
    [AT.EUID, opts.uid],
    [AT.GID, opts.gid],
    [AT.EGID, opts.gid],
    [AT.SECURE, 0],
    [AT.RANDOM, random],
    [AT.HWCAP, opts.hwcap],
    [AT.HWCAP2, 0],
    [AT.CLKTCK, 100],
    [AT.PLATFORM, platform],
    [AT.EXECFN, execfn],
    [AT.NULL, 0],
  ];
  const words: number[] = [opts.argv.length, ...argPtrs, 0, ...envPtrs, 0, ...auxv.flat()];
  const sp = Math.floor((top - words.length * 8) / 16) * 16;
  const buf = new DataView(new ArrayBuffer(words.length * 8));
  words.forEach((w, k) => buf.setBigUint64(k * 8, BigInt(w), true));
  space.poke(sp, new Uint8Array(buf.buffer));
  return { sp, auxv };
}
