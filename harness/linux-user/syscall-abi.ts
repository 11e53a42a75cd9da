/**
 * The x86-64 Linux syscall calling convention and the shapes the syscall families share:
 * arguments in RDI, RSI, RDX, R10, R8, R9 (arch/x86/entry/entry_64.S), the result or a negated
 * errno in RAX, and the `struct stat` layout (arch/x86/include/uapi/asm/stat.h).
 */
import type { Cpu } from '../../x86/cpu.js';
import type { StatInfo } from './files.js';
import type { LinuxProcess } from './process.js';

const ARG_REGS = [7, 6, 2, 10, 8, 9] as const;
const TWO32 = 4294967296;

/** One syscall: its number, its name, and what it does (a result or -errno, possibly later). */
export interface SyscallDef {
  readonly nr: number;
  readonly name: string;
  readonly run: (p: LinuxProcess, a: SyscallArgs) => number | Promise<number>;
}

/** The six argument registers, read the ways the kernel's prototypes read them. */
export class SyscallArgs {
  constructor(private readonly c: Cpu) {}
  private reg(i: number): number {
    return ARG_REGS[i] ?? 7;
  }
  /** `int` arguments (fds, flags, signals): the low 32 bits, signed. */
  int(i: number): number {
    return this.c.reg64lo(this.reg(i));
  }
  /** `unsigned int`. */
  u32(i: number): number {
    return this.c.reg64lo(this.reg(i)) >>> 0;
  }
  /** Unsigned 64-bit (pointers, size_t): exact below 2^53, and anything larger stays >= 2^53. */
  u64(i: number): number {
    const r = this.reg(i);
    return (this.c.reg64hi(r) >>> 0) * TWO32 + (this.c.reg64lo(r) >>> 0);
  }
  /** Signed 64-bit (off_t, long). */
  s64(i: number): number {
    const r = this.reg(i);
    return this.c.reg64hi(r) * TWO32 + (this.c.reg64lo(r) >>> 0);
  }
  ptr(i: number): number {
    return this.u64(i);
  }
}

/** `struct stat` for x86-64: 144 bytes. */
export function encodeStat(s: StatInfo): Uint8Array {
  const b = new Uint8Array(144);
  const v = new DataView(b.buffer);
  const ts = (off: number, ns: bigint): void => {
    v.setBigInt64(off, ns / 1_000_000_000n, true);
    v.setBigInt64(off + 8, ns % 1_000_000_000n, true);
  };
  v.setBigUint64(0, BigInt.asUintN(64, s.dev), true);
  v.setBigUint64(8, BigInt.asUintN(64, s.ino), true);
  v.setBigUint64(16, BigInt.asUintN(64, s.nlink), true);
  v.setUint32(24, s.mode, true);
  v.setUint32(28, s.uid, true);
  v.setUint32(32, s.gid, true);
  v.setBigUint64(40, BigInt.asUintN(64, s.rdev), true);
  v.setBigInt64(48, BigInt.asIntN(64, s.size), true);
  v.setBigInt64(56, BigInt.asIntN(64, s.blksize), true);
  v.setBigInt64(64, BigInt.asIntN(64, s.blocks), true);
  ts(72, s.atimeNs);
  ts(88, s.mtimeNs);
  ts(104, s.ctimeNs);
  return b;
}

/** Little-endian 64-bit words, for OUT records made of longs. */
export function words64(...w: readonly bigint[]): Uint8Array {
  const b = new Uint8Array(8 * w.length);
  const v = new DataView(b.buffer);
  w.forEach((x, k) => v.setBigUint64(8 * k, BigInt.asUintN(64, x), true));
  return b;
}

export function int32s(...w: readonly number[]): Uint8Array {
  const b = new Uint8Array(4 * w.length);
  const v = new DataView(b.buffer);
  w.forEach((x, k) => v.setInt32(4 * k, x, true));
  return b;
}
