/**
 * The system level of the CPU (SDM vol. 3): IDT delivery in IA-32e mode with privilege changes
 * and IST stacks, IRET, SYSCALL/SYSRET, #PF with CR2, double and triple faults, single-step,
 * control-register and MSR checks, and the switch from protected mode to long mode. Code is
 * hand-assembled; each handler ends in HLT, which the test's hook turns into a stop.
 */
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../x86/cpu.js';
import { DF_VEC, GP, PF_VEC, UD } from '../../x86/fault.js';
import { CR0_PE, CR0_PG, EFER_LMA, EFER_LME, EFER_SCE, MSR_FS_BASE, MSR_LSTAR, MSR_SFMASK, MSR_STAR, SA_CODE32_FLAT, SA_DATA32_FLAT } from '../../x86/system/regs.js';
import {
  CS64_KERNEL, DATA, DS_KERNEL, GDT, HANDLERS, IDT, ISTSTACK, KCODE, KCS, KDS, KSTACK, MiB, PD, PDPT, PML4, Ram, UCODE, UCS, UDS, USTACK,
  machine, rsp, runAt, toUser,
} from './system-machine.js';

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

  // Handler for INT 0x80: or qword [rsp+16], RF; iretq (returns with RF set).
  const IRET_WITH_RF = [0x48, 0x81, 0x4c, 0x24, 0x10, 0x00, 0x00, 0x01, 0x00, 0x48, 0xcf];

  it('RF from an IRETQ frame is clear once the next instruction completes, with no breakpoint armed (SDM vol. 3B §17.3.1.1)', () => {
    for (const compiled of [false, true]) {
      // int 0x80; int3: the #BP (a trap) saves RFLAGS with RF clear.
      const m = machine();
      if (compiled) m.cpu.jitThreshold = 1;
      m.ram.bytes(HANDLERS + 0x80 * 16, IRET_WITH_RF);
      runAt(m, KCODE, [0xcd, 0x80, 0xcc]);
      expect(m.cpu.rip).toBe(HANDLERS + 3 * 16 + 1);
      expect(m.ram.get64(rsp(m.cpu))).toBe(BigInt(KCODE + 3));
      expect(Number(m.ram.get64(rsp(m.cpu) + 16)) & 0x10000).toBe(0);
      // int 0x80; nop; nop; hlt: RF is gone from RFLAGS itself.
      const m2 = machine();
      if (compiled) m2.cpu.jitThreshold = 1;
      m2.ram.bytes(HANDLERS + 0x80 * 16, IRET_WITH_RF);
      runAt(m2, KCODE, [0xcd, 0x80, 0x90, 0x90, 0xf4]);
      expect([m2.halts, m2.cpu.rip, m2.cpu.getFlags() & 0x10000]).toEqual([1, KCODE + 5, 0]);
    }
  });

  it('a #DB handler returning with RF passes an instruction breakpoint once; the next arrival hits it again', () => {
    const m = machine();
    const c = m.cpu;
    // #DB handler: inc r8; or qword [rsp+16], RF; iretq.
    m.ram.bytes(HANDLERS + 1 * 16, [0x49, 0xff, 0xc0, ...IRET_WITH_RF.slice(0, 9), 0x48, 0xcf]);
    c.dr[0] = KCODE + 5;
    c.dr[7] = 0x400 | 1;
    c.debugRegistersChanged();
    // mov ecx, 3; X: nop; dec ecx; jnz X; hlt
    runAt(m, KCODE, [0xb9, 0x03, 0x00, 0x00, 0x00, 0x90, 0xff, 0xc9, 0x75, 0xfb, 0xf4]);
    expect([m.halts, c.reg64lo(8), c.reg64lo(1)]).toEqual([1, 3, 0]);
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
