/**
 * The system level of the CPU (SDM vol. 3): IDT delivery in IA-32e mode with privilege changes
 * and IST stacks, IRET, SYSCALL/SYSRET, #PF with CR2, double and triple faults, single-step,
 * control-register and MSR checks, and the switch from protected mode to long mode. Code is
 * hand-assembled; each handler ends in HLT, which the test's hook turns into a stop.
 */
import { describe, expect, it } from 'vitest';
import { Cpu, type CpuHooks } from '../../x86/cpu.js';
import { DF_VEC, type Fault, GP, PF_VEC, UD } from '../../x86/fault.js';
import { TestRam } from '../support/ram.js';
import {
  CR0_PE, CR0_PG, CR0_WP, CR4_PAE, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE, MSR_FS_BASE, MSR_LSTAR, MSR_SFMASK, MSR_STAR,
  SA_CODE32_FLAT, SA_DATA32_FLAT,
} from '../../x86/system/regs.js';

const MiB = 1 << 20;

class Ram extends TestRam {}

// Physical layout of the test machine.
const PML4 = 0x1000;
const PDPT = 0x2000;
const PD = 0x3000;
const GDT = 0x5000;
const IDT = 0x6000;
const TSS = 0x7000;
const HANDLERS = 0x8000; // handler for vector v at HANDLERS + v * 16
const KCODE = 0x10000;
const UCODE = 0x20000;
const KSTACK = 0x40000; // TSS.RSP0
const ISTSTACK = 0x50000; // IST1
const USTACK = 0x60000;
const DATA = 0x70000;

// Selectors (SYSCALL/SYSRET layout: STAR[47:32] = 0x08, STAR[63:48] = 0x10).
const KCS = 0x08;
const KDS = 0x10;
const UDS = 0x18 | 3;
const UCS = 0x20 | 3;
const TSS_SEL = 0x28;

const CS64_KERNEL = 0x00af9b000000ffffn;
const DS_KERNEL = 0x00cf93000000ffffn;
const DS_USER = 0x00cff3000000ffffn;
const CS64_USER = 0x00affb000000ffffn;
const CS32_USER = 0x00cffb000000ffffn;

interface Machine {
  cpu: Cpu;
  ram: Ram;
  halts: number;
  faults: Fault[];
}

/** A CPU in 64-bit mode at CPL 0, identity-mapped 0-1 GiB with 2 MiB user pages, IDT/GDT/TSS set. */
function machine(hooks: Partial<CpuHooks> = {}): Machine {
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
  }, ['base', 'sse', 'sse2']);
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

function runAt(m: Machine, rip: number, code: readonly number[], limit = 1000): void {
  m.ram.bytes(rip, code);
  m.cpu.rip = rip;
  m.cpu.run(limit);
  if (process.env.DBG) console.log('after run', m.cpu.rip, m.cpu.shutdownReason, m.cpu.unhandledFault, m.cpu.halted, m.cpu.retired);
}

/** Puts the CPU at CPL 3 in 64-bit user code. */
function toUser(m: Machine): void {
  const c = m.cpu;
  c.setCpl(3);
  c.loadSegmentCache(1, UCS, 0, 0xffffffff, 0xafb);
  c.loadSegmentCache(2, UDS, 0, 0xffffffff, SA_DATA32_FLAT | 0x60);
  c.setReg64(4, USTACK, 0);
}

const rsp = (c: Cpu): number => c.reg64lo(4) >>> 0;

describe('exception delivery in IA-32e mode', () => {
  it('#UD at CPL 0: same-stack frame (SS, RSP, RFLAGS, CS, RIP), aligned, IF cleared', () => {
    const m = machine();
    m.cpu.setReg64(4, KSTACK - 0x108, 0); // misaligned: the frame is pushed on RSP & ~15
    m.cpu.setFlags(0x202);
    runAt(m, KCODE, [0x0f, 0x0b]);
    const c = m.cpu;
    expect(c.rip).toBe(HANDLERS + UD * 16 + 1);
    expect(m.halts).toBe(1);
    const sp = rsp(c);
    expect(sp).toBe(KSTACK - 0x110 - 40);
    expect(m.ram.get64(sp)).toBe(BigInt(KCODE)); // RIP of the faulting instruction
    expect(m.ram.get64(sp + 8)).toBe(BigInt(KCS));
    expect(Number(m.ram.get64(sp + 16)) & 0x10202).toBe(0x10202); // RF set for a fault
    expect(m.ram.get64(sp + 24)).toBe(BigInt(KSTACK - 0x108));
    expect(m.ram.get64(sp + 32)).toBe(BigInt(KDS));
    expect(c.getFlags() & 0x200).toBe(0);
  });

  it('#PF from CPL 3: stack switch to TSS.RSP0, error code U|W|P, CR2', () => {
    const m = machine();
    // Make 2-4 MiB read-only for the user access.
    m.ram.u64(PD + 8, BigInt(2 * MiB) | 0x85n);
    toUser(m);
    m.cpu.setReg64(3, 2 * MiB + 0x123, 0);
    runAt(m, UCODE, [0x48, 0x89, 0x03]); // mov [rbx], rax
    const c = m.cpu;
    expect(c.cpl).toBe(0);
    expect(c.rip).toBe(HANDLERS + PF_VEC * 16 + 1);
    expect(c.cr2).toBe(2 * MiB + 0x123);
    const sp = rsp(c);
    expect(sp).toBe(KSTACK - 48);
    expect(m.ram.get64(sp)).toBe(7n); // P | W | U
    expect(m.ram.get64(sp + 8)).toBe(BigInt(UCODE));
    expect(m.ram.get64(sp + 16)).toBe(BigInt(UCS));
    expect(m.ram.get64(sp + 32)).toBe(BigInt(USTACK));
    expect(m.ram.get64(sp + 40)).toBe(BigInt(UDS));
    expect(c.segSel[2]).toBe(0); // SS is the null selector with RPL = new CPL
  });

  it('INT 0x80 from CPL 3 through a DPL 3 gate and IRETQ back', () => {
    const m = machine();
    // Handler for 0x80: inc rax; iretq.
    m.ram.bytes(HANDLERS + 0x80 * 16, [0x48, 0xff, 0xc0, 0x48, 0xcf]);
    toUser(m);
    m.cpu.setReg64(0, 41, 0);
    runAt(m, UCODE, [0xcd, 0x80, 0xf4]); // int 0x80; hlt (a #GP at CPL 3)
    const c = m.cpu;
    expect(c.reg64lo(0)).toBe(42);
    // Back at CPL 3 on the user stack; the HLT then faulted at CPL 3 into the #GP handler.
    expect(c.rip).toBe(HANDLERS + GP * 16 + 1);
    const sp = rsp(c);
    expect(m.ram.get64(sp)).toBe(0n); // #GP(0)
    expect(m.ram.get64(sp + 8)).toBe(BigInt(UCODE + 2));
    expect(m.ram.get64(sp + 16)).toBe(BigInt(UCS));
    expect(m.ram.get64(sp + 32)).toBe(BigInt(USTACK));
  });

  it('INT n through a DPL 0 gate from CPL 3 is #GP(n*8+2)', () => {
    const m = machine();
    toUser(m);
    runAt(m, UCODE, [0xcd, 0x40]);
    expect(m.cpu.rip).toBe(HANDLERS + GP * 16 + 1);
    expect(m.ram.get64(rsp(m.cpu))).toBe(BigInt(0x40 * 8 + 2));
    expect(m.ram.get64(rsp(m.cpu) + 8)).toBe(BigInt(UCODE)); // a fault: RIP at the INT
  });

  it('a not-present gate for #GP turns the #GP into #DF on its IST stack; a broken #DF shuts down', () => {
    const m = machine();
    // Gate 13 not present: delivering #GP raises #NP (contributory after contributory: #DF).
    m.ram.u64(IDT + 13 * 16, m.ram.get64(IDT + 13 * 16) & ~(0x80n << 40n));
    toUser(m);
    runAt(m, UCODE, [0xcd, 0x40]);
    expect(m.cpu.rip).toBe(HANDLERS + DF_VEC * 16 + 1);
    expect(rsp(m.cpu)).toBe(ISTSTACK - 48);
    expect(m.ram.get64(ISTSTACK - 48)).toBe(0n);

    const m2 = machine();
    m2.ram.u64(IDT + 13 * 16, m2.ram.get64(IDT + 13 * 16) & ~(0x80n << 40n));
    m2.ram.u64(IDT + 8 * 16, m2.ram.get64(IDT + 8 * 16) & ~(0x80n << 40n));
    toUser(m2);
    runAt(m2, UCODE, [0xcd, 0x40]);
    expect(m2.cpu.shutdownReason).toMatch(/triple fault/);
  });

  it('the driver can take an exception over before delivery', () => {
    const m = machine({ exception: (c, f) => { m.faults.push(f); c.stopRequested = true; return true; } });
    runAt(m, KCODE, [0x0f, 0x0b]);
    expect(m.faults.map((f) => f.vector)).toEqual([UD]);
    expect(m.cpu.rip).toBe(KCODE);
    expect(m.halts).toBe(0);
  });
});

describe('SYSCALL and SYSRET', () => {
  it('round trip: RCX/R11, CS/SS from STAR, SFMASK, CPL', () => {
    const m = machine();
    const c = m.cpu;
    c.star = 0;
    c.starHi = (0x10 << 16) | KCS;
    c.lstar = KCODE;
    c.sfmask = 0x200;
    // Kernel entry: inc rax; sysretq.
    m.ram.bytes(KCODE, [0x48, 0xff, 0xc0, 0x48, 0x0f, 0x07]);
    toUser(m);
    c.setFlags(0x202);
    c.setReg64(0, 1, 0);
    runAt(m, UCODE, [0x0f, 0x05, 0xf4]);
    expect(c.reg64lo(0)).toBe(2);
    expect(c.reg64lo(1)).toBe(UCODE + 2); // RCX
    expect(c.reg64lo(11) & 0x202).toBe(0x202); // R11 = RFLAGS at SYSCALL
    expect(c.rip).toBe(HANDLERS + GP * 16 + 1); // the HLT at CPL 3 after SYSRET
    expect(m.ram.get64(rsp(c) + 16)).toBe(BigInt(0x20 | 3));
  });

  it('SYSCALL with EFER.SCE clear is #UD; SYSRET at CPL 3 is #GP(0)', () => {
    const m = machine();
    m.cpu.efer &= ~EFER_SCE;
    toUser(m);
    runAt(m, UCODE, [0x0f, 0x05]);
    expect(m.cpu.rip).toBe(HANDLERS + UD * 16 + 1);
    const m2 = machine();
    toUser(m2);
    runAt(m2, UCODE, [0x48, 0x0f, 0x07]);
    expect(m2.cpu.rip).toBe(HANDLERS + GP * 16 + 1);
  });
});

describe('single-step and control registers', () => {
  it('TF set by POPF traps after the next instruction with DR6.BS', () => {
    const m = machine();
    // pushfq; or qword [rsp], 0x100; popfq; nop; nop
    runAt(m, KCODE, [0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9d, 0x90, 0x90]);
    expect(m.cpu.rip).toBe(HANDLERS + 1 * 16 + 1);
    expect(m.ram.get64(rsp(m.cpu))).toBe(BigInt(KCODE + 11)); // after the first NOP
    expect(m.cpu.dr[6]! & 0x4000).toBe(0x4000);
  });

  it('instruction and data breakpoints: #DB fault at the address, #DB trap after the write, DR6 bits', () => {
    const m = machine();
    const c = m.cpu;
    c.dr[0] = KCODE + 1; // execute breakpoint on the second NOP
    c.dr[1] = DATA + 8; // write breakpoint, 4 bytes
    c.dr[7] = 0x400 | 1 | (1 << 2) | (((1 << 0) | (3 << 2)) << 20); // L0 (exec), L1 (write, len 4)
    c.debugRegistersChanged();
    m.cpu.setReg64(3, DATA + 8, 0);
    runAt(m, KCODE, [0x90, 0x90]);
    expect(c.rip).toBe(HANDLERS + 1 * 16 + 1);
    expect(m.ram.get64(rsp(c))).toBe(BigInt(KCODE + 1)); // a fault: RIP at the instruction
    expect(c.dr[6]! & 0xf).toBe(1);
    const m2 = machine();
    const c2 = m2.cpu;
    c2.dr[1] = DATA + 8;
    c2.dr[7] = 0x400 | (1 << 2) | (((1 << 0) | (3 << 2)) << 20);
    c2.debugRegistersChanged();
    c2.setReg64(3, DATA + 8, 0);
    runAt(m2, KCODE, [0x8b, 0x03, 0x89, 0x03, 0x90]); // mov eax,[rbx] (no hit); mov [rbx],eax (hit)
    expect(c2.rip).toBe(HANDLERS + 1 * 16 + 1);
    expect(m2.ram.get64(rsp(c2))).toBe(BigInt(KCODE + 4)); // a trap: after the write
    expect(c2.dr[6]! & 0xf).toBe(2);
  });

  it('reserved CR4 bits, EFER bits and non-canonical MSR values are #GP(0)', () => {
    for (const [code, setup] of [
      [[0x0f, 0x22, 0xe0], (c: Cpu) => c.setReg64(0, 1 << 12, 0)], // mov cr4, rax (LA57)
      [[0x0f, 0x30], (c: Cpu) => { c.setReg32(1, 0xc0000080); c.setReg32(0, EFER_SCE | 1 << 1); c.setReg32(2, 0); }], // EFER bit 1
      [[0x0f, 0x30], (c: Cpu) => { c.setReg32(1, MSR_FS_BASE); c.setReg32(0, 0); c.setReg32(2, 0x8000); }], // non-canonical
      [[0x0f, 0x32], (c: Cpu) => c.setReg32(1, 0x12345678)], // unknown MSR
    ] as const) {
      const m = machine();
      setup(m.cpu);
      runAt(m, KCODE, code);
      expect(m.cpu.rip).toBe(HANDLERS + GP * 16 + 1);
      expect(m.ram.get64(rsp(m.cpu))).toBe(0n);
    }
  });

  it('WRMSR/RDMSR of the CPU-owned MSRs', () => {
    const m = machine();
    const c = m.cpu;
    c.setReg32(1, MSR_LSTAR);
    c.setReg32(0, 0x12345678);
    c.setReg32(2, 0xffff8000 | 0);
    runAt(m, KCODE, [0x0f, 0x30, 0x0f, 0x32, 0xf4]);
    expect(c.lstar).toBe(-0x800000000000 + 0x12345678);
    expect(c.reg32(2)).toBe(0xffff8000 | 0);
    for (const idx of [MSR_STAR, MSR_SFMASK]) expect(idx).toBeGreaterThan(0);
  });
});

describe('mode switch', () => {
  it('from 32-bit protected mode without paging into long mode by far jump', () => {
    const ram = new Ram(16 * MiB);
    let halted = false;
    const c = Cpu.system(ram, { hlt: (cpu) => { halted = true; cpu.stopRequested = true; } }, ['base']);
    c.cr0 = CR0_PE | 0x10;
    for (const s of [0, 2, 3, 4, 5]) c.loadSegmentCache(s, 0x10, 0, 0xffffffff, SA_DATA32_FLAT);
    c.loadSegmentCache(1, 0x18, 0, 0xffffffff, SA_CODE32_FLAT);
    expect(c.mode).toBe(32);
    ram.u64(PML4, BigInt(PDPT | 3));
    ram.u64(PDPT, BigInt(PD | 3));
    ram.u64(PD, 0x83n);
    ram.u64(GDT + 0x08, CS64_KERNEL);
    ram.u64(GDT + 0x10, DS_KERNEL);
    ram.u64(GDT + 0x18, 0x00cf9b000000ffffn);
    c.gdtrBase = GDT;
    c.gdtrLimit = 0x1f;
    const code = [
      0x0f, 0x20, 0xe0, 0x83, 0xc8, 0x20, 0x0f, 0x22, 0xe0, // mov eax, cr4; or eax, PAE; mov cr4, eax
      0xb8, ...le32(PML4), 0x0f, 0x22, 0xd8, // mov eax, PML4; mov cr3, eax
      0xb9, ...le32(0xc0000080), 0x0f, 0x32, 0x0d, ...le32(EFER_LME), 0x0f, 0x30, // rdmsr; or eax, LME; wrmsr
      0x0f, 0x20, 0xc0, 0x0d, ...le32(CR0_PG), 0x0f, 0x22, 0xc0, // mov eax, cr0; or eax, PG; mov cr0, eax
    ];
    ram.bytes(KCODE, code);
    c.rip = KCODE;
    c.run(50);
    expect(c.efer & EFER_LMA).toBe(EFER_LMA);
    expect(c.mode).toBe(32); // compatibility mode until CS has L = 1
    expect(halted).toBe(false);
  });
});

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
