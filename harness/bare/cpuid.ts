/**
 * CPUID as the bare machine answers it: the user-mode runner's model (the instruction-set
 * features the core has rows for) plus the system-level features this machine provides. A
 * kernel must never be told about something the core or the machine lacks.
 *
 * Bit positions: SDM vol. 2A, CPUID, tables 3-10/3-11 (leaf 1) and leaf 8000_0001h.
 */
import type { Cpu } from '../../x86/cpu.js';
import { MAXPHYADDR } from '../../x86/paging.js';
import type { Feature } from '../../x86/isa/types.js';
import { CpuidModel } from '../linux-user/cpuid.js';

type Regs = readonly [number, number, number, number];

/** Leaf 1 EDX: PSE, TSC, MSR, PAE, APIC, SEP, PGE, PAT (the paging unit, the APIC, the MSR hooks). */
const LEAF1_EDX = (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 9) | (1 << 11) | (1 << 13) | (1 << 16);
/** Leaf 1 ECX: TSC-deadline timer mode of the local APIC. */
const LEAF1_ECX = 1 << 24;
/** Leaf 8000_0001h EDX: 1 GiB pages (the long-mode bits SYSCALL, NX, LM come from the base model). */
const EXT1_EDX = 1 << 26;

export class BareCpuid {
  private readonly base: CpuidModel;

  constructor(features: ReadonlySet<Feature>) {
    this.base = new CpuidModel(features);
  }

  answer(leaf: number, subleaf: number): Regs {
    const [a, b, c, d] = this.base.answer(leaf, subleaf);
    switch (leaf >>> 0) {
      case 1:
        return [a, b, c | LEAF1_ECX, d | LEAF1_EDX];
      case 0x80000001:
        return [a, b, c, d | EXT1_EDX];
      case 0x80000008:
        // Physical and linear address widths: the paging unit's MAXPHYADDR, 48-bit linear.
        return [(48 << 8) | MAXPHYADDR, b, c, d];
      default:
        return [a, b, c, d];
    }
  }

  hook(): (c: Cpu, leaf: number, subleaf: number) => Regs {
    return (_c, leaf, subleaf) => this.answer(leaf, subleaf);
  }
}
