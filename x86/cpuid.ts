/**
 * CPUID as the core reports it (the user-mode runner answers with it; the Xen layer adds its leaves): a fixed vendor and family/model, and feature bits
 * derived only from the features the `Cpu` was constructed with, which in turn are the features
 * that have rows in the instruction table. A guest (glibc's ifunc resolvers, for one) must never
 * be told about an instruction the core would answer with #UD.
 *
 * Bit positions: SDM vol. 2A, CPUID, tables 3-10/3-11 (leaf 1), leaf 7 and leaf 8000_0001h.
 */
import type { Cpu } from './cpu.js';
// The decoder must initialise before the table is first read (decoder -> table -> rows -> exec
// -> decoder is a cycle that only resolves when it is entered at the decoder).
import './decoder.js';
import type { Feature } from './isa/types.js';
import { ROWS } from './isa/table.js';

/** Every feature some table row belongs to: what the Cpu should be constructed with. */
export function implementedFeatures(): Feature[] {
  return [...new Set<Feature>(ROWS.map((r) => r.cpuid ?? 'base'))];
}

/** Where each feature's bit lives: [leaf, subleaf, register index (0 eax .. 3 edx), bit]. */
const FEATURE_BITS: Readonly<Partial<Record<Feature, readonly [number, number, number, number]>>> = {
  fpu: [1, 0, 3, 0],
  cx8: [1, 0, 3, 8],
  cmov: [1, 0, 3, 15],
  clflush: [1, 0, 3, 19],
  fxsr: [1, 0, 3, 24],
  sse: [1, 0, 3, 25],
  sse2: [1, 0, 3, 26],
  sse3: [1, 0, 2, 0],
  pclmulqdq: [1, 0, 2, 1],
  ssse3: [1, 0, 2, 9],
  cx16: [1, 0, 2, 13],
  sse4_1: [1, 0, 2, 19],
  sse4_2: [1, 0, 2, 20],
  movbe: [1, 0, 2, 22],
  popcnt: [1, 0, 2, 23],
  aes: [1, 0, 2, 25],
  rdrand: [1, 0, 2, 30],
  bmi1: [7, 0, 1, 3],
  bmi2: [7, 0, 1, 8],
  rdseed: [7, 0, 1, 18],
  adx: [7, 0, 1, 19],
  clflushopt: [7, 0, 1, 23],
  rdpid: [7, 0, 2, 22],
  lahf_lm: [0x80000001, 0, 2, 0],
  lzcnt: [0x80000001, 0, 2, 5],
  rdtscp: [0x80000001, 0, 3, 27],
};

/** 12 bytes of vendor identification, as EBX, EDX, ECX spell it. */
export const VENDOR = 'XenlabX86_64';
const BRAND = 'xenlab emulated x86-64 processor';
/** Family 6, model 15, stepping 1 (a plain, made-up signature). */
const SIGNATURE = 0x000006f1;

function ascii4(s: string, at: number): number {
  let v = 0;
  for (let k = 3; k >= 0; k--) v = (v << 8) | (s.charCodeAt(at + k) || 0);
  return v | 0;
}

type Regs = readonly [number, number, number, number];

export class CpuidModel {
  private readonly leaves = new Map<string, number[]>();

  constructor(features: ReadonlySet<Feature>) {
    const set = (leaf: number, sub: number, reg: number, bit: number): void => {
      const key = `${leaf}:${sub}`;
      const regs = this.leaves.get(key) ?? [0, 0, 0, 0];
      regs[reg] = ((regs[reg] as number) | (1 << bit)) | 0;
      this.leaves.set(key, regs);
    };
    this.leaves.set('0:0', [7, ascii4(VENDOR, 0), ascii4(VENDOR, 8), ascii4(VENDOR, 4)]);
    // EBX: CLFLUSH line size 8 qwords, one logical processor, APIC ID 0.
    this.leaves.set('1:0', [SIGNATURE, 0x00010800, 0, 0]);
    this.leaves.set('7:0', [0, 0, 0, 0]);
    this.leaves.set(`${0x80000000}:0`, [0x80000008, 0, 0, 0]);
    this.leaves.set(`${0x80000001}:0`, [0, 0, 0, 0]);
    for (let k = 0; k < 3; k++) {
      const at = k * 16;
      this.leaves.set(`${0x80000002 + k}:0`, [ascii4(BRAND, at), ascii4(BRAND, at + 4), ascii4(BRAND, at + 8), ascii4(BRAND, at + 12)]);
    }
    // 48-bit linear and physical addresses.
    this.leaves.set(`${0x80000008}:0`, [0x3030, 0, 0, 0]);
    // Long mode with SYSCALL and NX is how the runner starts the guest, not an optional feature.
    set(0x80000001, 0, 3, 11);
    set(0x80000001, 0, 3, 20);
    set(0x80000001, 0, 3, 29);
    for (const f of features) {
      const where = FEATURE_BITS[f];
      if (where !== undefined) set(...where);
    }
  }

  /** Leaf 1 EDX: what Linux reports as AT_HWCAP on x86-64. */
  get hwcap(): number {
    return (this.leaves.get('1:0')?.[3] ?? 0) >>> 0;
  }

  answer(leaf: number, subleaf: number): Regs {
    const l = leaf >>> 0;
    // Only leaf 7 is indexed by subleaf; others ignore ECX.
    const key = `${l}:${l === 7 ? subleaf >>> 0 : 0}`;
    const regs = this.leaves.get(key);
    return regs === undefined ? [0, 0, 0, 0] : [regs[0] ?? 0, regs[1] ?? 0, regs[2] ?? 0, regs[3] ?? 0];
  }

  /** The hook the Cpu calls. */
  hook(): (c: Cpu, leaf: number, subleaf: number) => Regs {
    return (_c, leaf, subleaf) => this.answer(leaf, subleaf);
  }
}
