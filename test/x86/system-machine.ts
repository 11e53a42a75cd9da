/**
 * The system-level test machine of test/x86/system.test.ts and the other system-level CPU
 * tests: a CPU in 64-bit mode at CPL 0 with identity paging, a GDT, an IDT whose handler for
 * vector v (at HANDLERS + v * 16) is HLT, a TSS with RSP0 and IST1; HLT stops the run.
 */
import { Cpu, type CpuHooks } from '../../x86/cpu.js';
import type { Fault } from '../../x86/fault.js';
import { DF_VEC } from '../../x86/fault.js';
import type { Feature } from '../../x86/isa/types.js';
import { CR0_PE, CR0_PG, CR0_WP, CR4_PAE, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE, SA_DATA32_FLAT } from '../../x86/system/regs.js';
import { TestRam } from '../support/ram.js';

export const MiB = 1 << 20;

export class Ram extends TestRam {}

// Physical layout of the test machine.
export const PML4 = 0x1000;
export const PDPT = 0x2000;
export const PD = 0x3000;
export const GDT = 0x5000;
export const IDT = 0x6000;
export const TSS = 0x7000;
export const HANDLERS = 0x8000; // handler for vector v at HANDLERS + v * 16
export const KCODE = 0x10000;
export const UCODE = 0x20000;
export const KSTACK = 0x40000; // TSS.RSP0
export const ISTSTACK = 0x50000; // IST1
export const USTACK = 0x60000;
export const DATA = 0x70000;

// Selectors (SYSCALL/SYSRET layout: STAR[47:32] = 0x08, STAR[63:48] = 0x10).
export const KCS = 0x08;
export const KDS = 0x10;
export const UDS = 0x18 | 3;
export const UCS = 0x20 | 3;
export const TSS_SEL = 0x28;

export const CS64_KERNEL = 0x00af9b000000ffffn;
export const DS_KERNEL = 0x00cf93000000ffffn;
export const DS_USER = 0x00cff3000000ffffn;
export const CS64_USER = 0x00affb000000ffffn;
export const CS32_USER = 0x00cffb000000ffffn;

export interface Machine {
  cpu: Cpu;
  ram: Ram;
  halts: number;
  faults: Fault[];
}

/** A CPU in 64-bit mode at CPL 0, identity-mapped 0-1 GiB with 2 MiB user pages, IDT/GDT/TSS set. */
export function machine(hooks: Partial<CpuHooks> = {}, features: readonly Feature[] = ['base', 'sse', 'sse2']): Machine {
  const ram = new Ram(16 * MiB);
  const m: Machine = { cpu: undefined as unknown as Cpu, ram, halts: 0, faults: [] };
  m.cpu = Cpu.system(ram, {
    hlt: (c) => {
      m.halts++;
      c.stopRequested = true;
    },
    shutdown: (c) => {
      c.stopRequested = true;
    },
    ...hooks,
  }, features);
  ram.u64(PML4, BigInt(PDPT | 7));
  ram.u64(PDPT, BigInt(PD | 7));
  for (let k = 0; k < 8; k++) ram.u64(PD + k * 8, BigInt(k * 2 * MiB) | 0x87n);
  ram.u64(GDT + 0x08, CS64_KERNEL);
  ram.u64(GDT + 0x10, DS_KERNEL);
  ram.u64(GDT + 0x18, DS_USER);
  ram.u64(GDT + 0x20, CS64_USER);
  ram.u64(GDT + 0x30 + 8, 0n);
  // 64-bit TSS descriptor (type 9, present), base TSS, limit 0x67.
  ram.u64(GDT + 0x28, 0x67n | (BigInt(TSS & 0xffffff) << 16n) | (0x89n << 40n));
  ram.u64(GDT + 0x38, CS32_USER);
  ram.u64(TSS + 4, BigInt(KSTACK));
  ram.u64(TSS + 0x24, BigInt(ISTSTACK));
  for (let v = 0; v < 256; v++) {
    const h = HANDLERS + v * 16;
    ram.bytes(h, [0xf4, 0xf4]);
    // Interrupt gate, DPL 0 (DPL 3 for 0x80 and 3), IST 1 for #DF.
    const dpl = v === 0x80 || v === 3 ? 3n : 0n;
    const ist = v === DF_VEC ? 1n : 0n;
    const lo = BigInt(h & 0xffff) | (BigInt(KCS) << 16n) | (ist << 32n) | ((0x8en | (dpl << 5n)) << 40n) | (BigInt(h >>> 16) << 48n);
    ram.u64(IDT + v * 16, lo);
    ram.u64(IDT + v * 16 + 8, 0n);
  }
  const c = m.cpu;
  c.cr0 = CR0_PE | CR0_PG | CR0_WP | 0x10;
  c.cr4 = CR4_PAE;
  c.cr3 = PML4;
  c.efer = EFER_LME | EFER_LMA | EFER_SCE | EFER_NXE;
  c.gdtrBase = GDT;
  c.gdtrLimit = 0x3f;
  c.idtrBase = IDT;
  c.idtrLimit = 256 * 16 - 1;
  c.trSel = TSS_SEL;
  c.trBase = TSS;
  c.trLimit = 0x67;
  c.trAttr = 0x8b;
  c.loadSegmentCache(2, KDS, 0, 0xffffffff, SA_DATA32_FLAT);
  c.loadSegmentCache(1, KCS, 0, 0xffffffff, 0xa9b);
  for (const s of [0, 3, 4, 5]) c.loadSegmentCache(s, KDS, 0, 0xffffffff, SA_DATA32_FLAT);
  c.flushTlb();
  c.setReg64(4, KSTACK - 0x100, 0);
  return m;
}

export function runAt(m: Machine, rip: number, code: readonly number[], limit = 1000): void {
  m.ram.bytes(rip, code);
  m.cpu.rip = rip;
  m.cpu.run(limit);
  if (process.env.DBG) console.log('after run', m.cpu.rip, m.cpu.shutdownReason, m.cpu.unhandledFault, m.cpu.halted, m.cpu.retired);
}

/** Puts the CPU at CPL 3 in 64-bit user code. */
export function toUser(m: Machine): void {
  const c = m.cpu;
  c.setCpl(3);
  c.loadSegmentCache(1, UCS, 0, 0xffffffff, 0xafb);
  c.loadSegmentCache(2, UDS, 0, 0xffffffff, SA_DATA32_FLAT | 0x60);
  c.setReg64(4, USTACK, 0);
}

export const rsp = (c: Cpu): number => c.reg64lo(4) >>> 0;
