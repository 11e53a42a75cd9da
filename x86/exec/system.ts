/**
 * Privileged and system instructions: control and debug registers (MOV CRn/DRn, CLTS, LMSW,
 * SMSW), the descriptor-table registers (LGDT, LIDT, SGDT, SIDT), TLB and cache control
 * (INVLPG, WBINVD, INVD), MSRs (RDMSR, WRMSR, RDPMC), SWAPGS, CLI/STI, HLT, VMCALL/VMMCALL, and
 * the dispatch of SYSCALL/SYSRET/SYSENTER/SYSEXIT/IRET to system/interrupts.ts. SDM vol. 2 under
 * each mnemonic, vol. 3 §2.5 (control registers), §4.10 (TLBs), ch. 17 (debug registers).
 *
 * A CPU that is not system-level (`Cpu.system` false: the user-mode runner) runs at CPL 3 and
 * raises #GP(0) for all of them, as a user process on the real CPU gets.
 */
import type { Cpu } from '../cpu.js';
import { FS, GS, type Insn } from '../decoder.js';
import { DB, Fault, GP, UD } from '../fault.js';
import { MAXPHYADDR } from '../paging.js';
import { iret as iretSys, syscall as syscallSys, sysenter as sysenterSys, sysexit as sysexitSys, sysret as sysretSys } from '../system/interrupts.js';
import {
  CR0_CD, CR0_DEFINED, CR0_ET, CR0_NW, CR0_PE, CR0_PG, CR0_TS, CR0_WP, CR4_DE, CR4_MCE, CR4_OSFXSR, CR4_OSXMMEXCPT,
  CR4_PAE, CR4_PCE, CR4_PGE, CR4_PSE, CR4_SMAP, CR4_SMEP, CR4_TSD, DR6_INIT, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE,
  MSR_CSTAR, MSR_EFER, MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_LSTAR, MSR_PAT, MSR_SFMASK, MSR_STAR,
  MSR_SYSENTER_CS, MSR_SYSENTER_EIP, MSR_SYSENTER_ESP, MSR_TSC, MSR_TSC_AUX, RF_IF, RF_IOPL, SA_L, isCanonical,
} from '../system/regs.js';
import { ea } from './operands.js';

const TWO32 = 4294967296;

/** CR4 bits this CPU implements; setting any other is #GP(0). */
export const CR4_SUPPORTED = CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_SMEP | CR4_SMAP;
/** CR4 bits whose change flushes the whole TLB, global entries included (SDM §4.10.4.1). */
const CR4_PAGING = CR4_PSE | CR4_PAE | CR4_PGE | CR4_SMEP | CR4_SMAP;
/** EFER bits software may write (LMA is set by the processor). */
const EFER_WRITABLE = EFER_SCE | EFER_LME | EFER_NXE;

/** #GP(0) unless at CPL 0 on a system-level CPU. */
function privileged(c: Cpu): void {
  if (!c.system || c.cpl !== 0) throw new Fault(GP, 0);
}

function regValue(c: Cpu, n: number): number {
  if (c.mode === 64) return (c.r[(n << 1) + 1] as number) * TWO32 + ((c.r[n << 1] as number) >>> 0);
  return (c.r[n << 1] as number) >>> 0;
}

function setRegValue(c: Cpu, n: number, v: number): void {
  if (c.mode === 64) c.setReg64(n, ((v % TWO32) + TWO32) % TWO32 | 0, Math.floor(v / TWO32) | 0);
  else c.setReg32(n, v >>> 0);
}

// ---- control registers ------------------------------------------------------------------------

/** MOV r, CRn (0F 20). */
/** The control register an encoding names: ModRM.reg, or CR8 for AMD's LOCK MOV CR0. */
function crNumber(i: Insn): number {
  return i.lock ? (i.reg === 0 ? 8 : -1) : i.reg;
}

export function movFromCr(c: Cpu, i: Insn): void {
  // An encoding naming no control register is #UD, before the privilege check (measured).
  const n = crNumber(i);
  if (!validCr(c, n, i.lock)) throw new Fault(UD);
  privileged(c);
  let v: number;
  switch (n) {
    case 0:
      v = c.cr0 >>> 0;
      break;
    case 2:
      v = c.cr2;
      break;
    case 3:
      v = c.cr3;
      break;
    case 4:
      v = c.cr4;
      break;
    case 8:
      v = c.cr8;
      break;
    default:
      throw new Fault(UD);
  }
  setRegValue(c, i.rm, c.mode === 64 ? v : ((v % TWO32) + TWO32) % TWO32);
}

/** MOV CRn, r (0F 22) with the checks of SDM vol. 2B and vol. 3 §2.5. */
export function movToCr(c: Cpu, i: Insn): void {
  const n = crNumber(i);
  if (!validCr(c, n, i.lock)) throw new Fault(UD);
  privileged(c);
  const lo = c.r[i.rm << 1] as number;
  const hi = c.mode === 64 ? (c.r[(i.rm << 1) + 1] as number) : 0;
  switch (n) {
    case 0:
      writeCr0(c, lo, hi);
      break;
    case 2:
      c.cr2 = c.mode === 64 ? hi * TWO32 + (lo >>> 0) : lo >>> 0;
      break;
    case 3:
      writeCr3(c, lo, hi);
      break;
    case 4:
      writeCr4(c, lo, hi);
      break;
    default:
      if (hi !== 0 || (lo & ~0xf) !== 0) throw new Fault(GP, 0);
      c.cr8 = lo;
  }
}

function validCr(c: Cpu, n: number, altCr8: boolean): boolean {
  return n === 0 || n === 2 || n === 3 || n === 4 || (n === 8 && (c.mode === 64 || altCr8));
}

export function writeCr0(c: Cpu, lo: number, hi: number): void {
  if (hi !== 0) throw new Fault(GP, 0);
  let v = ((lo & CR0_DEFINED) | CR0_ET) >>> 0;
  if ((v & CR0_PG) !== 0 && (v & CR0_PE) === 0) throw new Fault(GP, 0);
  if ((v & CR0_NW) !== 0 && (v & CR0_CD) === 0) throw new Fault(GP, 0);
  const old = c.cr0 >>> 0;
  const pgOn = (v & CR0_PG) !== 0 && (old & CR0_PG) === 0;
  const pgOff = (v & CR0_PG) === 0 && (old & CR0_PG) !== 0;
  if (pgOff && c.mode === 64) throw new Fault(GP, 0);
  if (pgOn && (c.efer & EFER_LME) !== 0) {
    // Activating IA-32e mode needs PAE, and is refused from a 64-bit code segment.
    if ((c.cr4 & CR4_PAE) === 0) throw new Fault(GP, 0);
    if (((c.segAttr[1] as number) & SA_L) !== 0) throw new Fault(GP, 0);
  }
  if (pgOn && (c.efer & EFER_LME) === 0 && (c.cr4 & CR4_PAE) !== 0 && c.mmu !== undefined && !c.mmu.checkPdptes()) throw new Fault(GP, 0);
  v = v | 0;
  c.cr0 = v;
  if (pgOn && (c.efer & EFER_LME) !== 0) c.efer |= EFER_LMA;
  if (pgOff) c.efer &= ~EFER_LMA;
  if (((old ^ (v >>> 0)) & (CR0_PG | CR0_WP | CR0_PE)) !== 0) c.flushTlb();
  c.refreshMode();
}

export function writeCr3(c: Cpu, lo: number, hi: number): void {
  // Bits above MAXPHYADDR are reserved in IA-32e mode (bit 63 too: PCIDs are not offered).
  const lma = (c.efer & EFER_LMA) !== 0;
  if (lma && hi >>> 0 >= 2 ** (MAXPHYADDR - 32)) throw new Fault(GP, 0);
  const v = lma ? (hi >>> 0) * TWO32 + (lo >>> 0) : lo >>> 0;
  if (!lma && (c.cr4 & CR4_PAE) !== 0 && (c.cr0 & CR0_PG) !== 0 && c.mmu !== undefined && !c.mmu.checkPdptes(v)) throw new Fault(GP, 0);
  c.cr3 = v;
  c.flushTlb((c.cr4 & CR4_PGE) !== 0);
}

export function writeCr4(c: Cpu, lo: number, hi: number): void {
  if (hi !== 0 || (lo & ~CR4_SUPPORTED) !== 0) throw new Fault(GP, 0);
  const lma = (c.efer & EFER_LMA) !== 0;
  if (lma && (lo & CR4_PAE) === 0) throw new Fault(GP, 0);
  const old = c.cr4;
  if (!lma && (lo & CR4_PAE) !== 0 && (c.cr0 & CR0_PG) !== 0 && ((old ^ lo) & (CR4_PAE | CR4_PSE | CR4_PGE | CR4_SMEP)) !== 0) {
    // Changing these with PAE paging on reloads the PDPTEs (SDM §4.4.1).
    const saved = c.cr4;
    c.cr4 = lo;
    const ok = c.mmu === undefined || c.mmu.checkPdptes();
    c.cr4 = saved;
    if (!ok) throw new Fault(GP, 0);
  }
  c.cr4 = lo;
  if (((old ^ lo) & CR4_PAGING) !== 0) c.flushTlb();
}

/** CLTS (0F 06). */
export function clts(c: Cpu): void {
  privileged(c);
  c.cr0 &= ~CR0_TS;
}

/** LMSW (0F 01 /6): loads PE, MP, EM, TS; cannot clear PE. */
export function lmsw(c: Cpu, i: Insn): void {
  privileged(c);
  const v = i.rm >= 0 ? c.reg16(i.rm) : c.read16(ea(c, i));
  const keepPe = c.cr0 & CR0_PE;
  c.cr0 = (c.cr0 & ~0xe) | (v & 0xf) | keepPe;
  c.refreshMode();
}

/** SMSW (0F 01 /4): CR0 bits 15:0 to memory, or all of CR0 to a register (operand size). */
export function smsw(c: Cpu, i: Insn): void {
  if (!c.system) throw new Fault(GP, 0); // a user process on a UMIP host gets #GP(0)
  if (i.rm >= 0) c.setReg(i.rm, i.opsize, i.opsize === 2 ? c.cr0 & 0xffff : c.cr0, 0);
  else c.write16(ea(c, i), c.cr0 & 0xffff);
}

// ---- debug registers ------------------------------------------------------------------------

function drIndex(c: Cpu, n: number): number {
  if (n === 4 || n === 5) {
    if ((c.cr4 & CR4_DE) !== 0) throw new Fault(UD);
    return n + 2;
  }
  if (n > 7) throw new Fault(UD);
  return n;
}

/** MOV r, DRn (0F 21). */
export function movFromDr(c: Cpu, i: Insn): void {
  if (i.reg > 7) throw new Fault(UD);
  privileged(c);
  const n = drIndex(c, i.reg);
  generalDetect(c);
  setRegValue(c, i.rm, c.dr[n] as number);
}

/** MOV DRn, r (0F 23): DR6/DR7 upper halves must be zero in 64-bit mode; DR0-3 hold linear addresses. */
export function movToDr(c: Cpu, i: Insn): void {
  if (i.reg > 7) throw new Fault(UD);
  privileged(c);
  const n = drIndex(c, i.reg);
  generalDetect(c);
  const lo = c.r[i.rm << 1] as number;
  const hi = c.mode === 64 ? (c.r[(i.rm << 1) + 1] as number) : 0;
  if (n >= 6 && hi !== 0) throw new Fault(GP, 0);
  if (n === 6) c.dr[6] = ((lo & 0x0001e00f) | DR6_INIT) >>> 0;
  else if (n === 7) c.dr[7] = ((lo & 0xffff2bff) | 0x400) >>> 0;
  else c.dr[n] = hi * TWO32 + (lo >>> 0);
  c.debugRegistersChanged();
}

/** DR7.GD: any MOV DR is a #DB fault with DR6.BD, and GD is cleared (SDM §17.2.4). */
function generalDetect(c: Cpu): void {
  if (((c.dr[7] as number) & 0x2000) !== 0) {
    c.dr[7] = (c.dr[7] as number) - 0x2000;
    c.dr[6] = ((c.dr[6] as number) | 0x2000) >>> 0;
    throw new Fault(DB);
  }
}

// ---- descriptor-table registers ---------------------------------------------------------------

/** LGDT / LIDT (0F 01 /2, /3): limit and base from memory (base 64-bit in 64-bit mode). */
export function lgdt(c: Cpu, i: Insn): void {
  loadTableRegister(c, i, 'gdtr');
}
export function lidt(c: Cpu, i: Insn): void {
  loadTableRegister(c, i, 'idtr');
}

function loadTableRegister(c: Cpu, i: Insn, which: 'gdtr' | 'idtr'): void {
  privileged(c);
  const la = ea(c, i);
  const limit = c.read16(la);
  let base: number;
  if (c.mode === 64) {
    const lo = c.read32(la + 2);
    const hi = c.read32(la + 6);
    base = hi * TWO32 + (lo >>> 0);
    if (!isCanonical(base)) throw new Fault(GP, 0);
  } else {
    base = c.read32(la + 2) >>> 0;
    if (i.opsize === 2) base &= 0xffffff;
  }
  if (which === 'gdtr') {
    c.gdtrBase = base;
    c.gdtrLimit = limit;
  } else {
    c.idtrBase = base;
    c.idtrLimit = limit;
  }
}

/** SGDT / SIDT (0F 01 /0, /1): not privileged without UMIP; a user process on the host gets #GP(0). */
export function sgdt(c: Cpu, i: Insn): void {
  storeTableRegister(c, i, c.gdtrBase, c.gdtrLimit);
}
export function sidt(c: Cpu, i: Insn): void {
  storeTableRegister(c, i, c.idtrBase, c.idtrLimit);
}

function storeTableRegister(c: Cpu, i: Insn, base: number, limit: number): void {
  if (!c.system) throw new Fault(GP, 0);
  const la = ea(c, i);
  c.probeWrite(la, c.mode === 64 ? 10 : 6);
  c.write16(la, limit);
  if (c.mode === 64) c.write64(la + 2, ((base % TWO32) + TWO32) % TWO32 | 0, Math.floor(base / TWO32) | 0);
  else c.write32(la + 2, base | 0);
}

// ---- TLB, caches, MSRs --------------------------------------------------------------------------

/** INVLPG (0F 01 /7, memory operand only). */
export function invlpg(c: Cpu, i: Insn): void {
  privileged(c);
  c.invlpg(ea(c, i));
}

/** WBINVD / INVD: caches are not modelled; privileged no-ops. */
export function wbinvd(c: Cpu): void {
  privileged(c);
}

/** RDPMC (0F 33): no performance counters; #GP(0) (CR4.PCE or not, counter numbers are invalid). */
export function rdpmc(): void {
  throw new Fault(GP, 0);
}

/** RDMSR (0F 32): ECX names the MSR; EDX:EAX gets it. */
export function rdmsr(c: Cpu): void {
  privileged(c);
  const index = c.reg32(1) >>> 0;
  const v = readMsr(c, index);
  if (v === undefined) throw new Fault(GP, 0);
  c.setReg32(0, v[0]);
  c.setReg32(2, v[1]);
}

/** WRMSR (0F 30): EDX:EAX to the MSR named by ECX. */
export function wrmsr(c: Cpu): void {
  privileged(c);
  const index = c.reg32(1) >>> 0;
  if (!writeMsr(c, index, c.reg32(0), c.reg32(2))) throw new Fault(GP, 0);
}

function halves(v: number): [number, number] {
  return [((v % TWO32) + TWO32) % TWO32 | 0, Math.floor(v / TWO32) | 0];
}

/** The MSRs the CPU owns; the rest is asked of the driver (undefined: #GP(0)). */
export function readMsr(c: Cpu, index: number): readonly [number, number] | undefined {
  switch (index) {
    case MSR_EFER:
      return [c.efer, 0];
    case MSR_STAR:
      return [c.star, c.starHi];
    case MSR_LSTAR:
      return halves(c.lstar);
    case MSR_CSTAR:
      return halves(c.cstar);
    case MSR_SFMASK:
      return [c.sfmask, 0];
    case MSR_FS_BASE:
      return halves(c.segBase[FS] as number);
    case MSR_GS_BASE:
      return halves(c.segBase[GS] as number);
    case MSR_KERNEL_GS_BASE:
      return halves(c.kernelGsBase);
    case MSR_SYSENTER_CS:
      return [c.sysenterCs, 0];
    case MSR_SYSENTER_ESP:
      return halves(c.sysenterEsp);
    case MSR_SYSENTER_EIP:
      return halves(c.sysenterEip);
    case MSR_TSC_AUX:
      return [c.tscAuxMsr, 0];
    case MSR_PAT:
      return [c.patLo, c.patHi];
    case MSR_TSC:
      return c.hooks.rdtsc?.(c) ?? [c.retired % TWO32 | 0, Math.floor(c.retired / TWO32)];
    default:
      return c.hooks.rdmsr?.(c, index);
  }
}

/** Writes an MSR; false means #GP(0) (reserved bits, a non-canonical address, an unknown MSR). */
export function writeMsr(c: Cpu, index: number, lo: number, hi: number): boolean {
  const addr = (hi | 0) * TWO32 + (lo >>> 0);
  switch (index) {
    case MSR_EFER: {
      if (hi !== 0 || (lo & ~(EFER_WRITABLE | EFER_LMA)) !== 0) return false;
      // LME cannot change while paging is on; LMA is the processor's (written values ignored).
      if ((c.cr0 & CR0_PG) !== 0 && ((lo ^ c.efer) & EFER_LME) !== 0) return false;
      const old = c.efer;
      c.efer = (lo & EFER_WRITABLE) | (c.efer & EFER_LMA);
      if (((old ^ c.efer) & EFER_NXE) !== 0) c.flushTlb();
      return true;
    }
    case MSR_STAR:
      c.star = lo;
      c.starHi = hi;
      return true;
    case MSR_LSTAR:
    case MSR_CSTAR:
    case MSR_FS_BASE:
    case MSR_GS_BASE:
    case MSR_KERNEL_GS_BASE:
    case MSR_SYSENTER_ESP:
    case MSR_SYSENTER_EIP:
      if (!isCanonical(addr)) return false;
      if (index === MSR_LSTAR) c.lstar = addr;
      else if (index === MSR_CSTAR) c.cstar = addr;
      else if (index === MSR_FS_BASE) c.segBase[FS] = addr;
      else if (index === MSR_GS_BASE) c.segBase[GS] = addr;
      else if (index === MSR_KERNEL_GS_BASE) c.kernelGsBase = addr;
      else if (index === MSR_SYSENTER_ESP) c.sysenterEsp = addr;
      else c.sysenterEip = addr;
      return true;
    case MSR_SFMASK:
      if (hi !== 0) return false;
      c.sfmask = lo;
      return true;
    case MSR_SYSENTER_CS:
      c.sysenterCs = lo & 0xffff;
      return true;
    case MSR_TSC_AUX:
      if (hi !== 0) return false;
      c.tscAuxMsr = lo;
      return true;
    case MSR_PAT:
      // Each byte must be a valid memory type: 0, 1, 4, 5, 6, 7.
      for (const b of [lo, hi]) {
        for (let k = 0; k < 32; k += 8) {
          const t = (b >>> k) & 0xff;
          if (t === 2 || t === 3 || t > 7) return false;
        }
      }
      c.patLo = lo;
      c.patHi = hi;
      return true;
    default:
      return c.hooks.wrmsr?.(c, index, lo, hi) ?? false;
  }
}

/** SWAPGS (0F 01 F8, 64-bit mode only): exchanges GS.base and IA32_KERNEL_GS_BASE. */
export function swapgs(c: Cpu): void {
  privileged(c);
  const t = c.segBase[GS] as number;
  c.segBase[GS] = c.kernelGsBase;
  c.kernelGsBase = t;
}

// ---- interrupts flag, halt, hypercall instructions -----------------------------------------------

/** CLI (FA): IF cleared when CPL <= IOPL, else #GP(0) (no VME/PVI). */
export function cli(c: Cpu): void {
  const f = c.getFlags();
  if (!c.system || c.cpl > (f & RF_IOPL) >> 12) throw new Fault(GP, 0);
  c.flags = f & ~RF_IF;
}

/** STI (FB): IF set when CPL <= IOPL; interrupts stay blocked until after the next instruction. */
export function sti(c: Cpu): void {
  const f = c.getFlags();
  if (!c.system || c.cpl > (f & RF_IOPL) >> 12) throw new Fault(GP, 0);
  if ((f & RF_IF) === 0) {
    c.flags = f | RF_IF;
    c.shadowEnd = c.retired + 2;
    c.interruptCheck = true;
  }
}

/** HLT (F4): CPL 0 only; the driver's hook, or the CPU halts until an interrupt. */
export function hlt(c: Cpu): void {
  if (c.cpl !== 0 && c.system) throw new Fault(GP, 0);
  if (c.hooks.hlt !== undefined) {
    if (!c.system && c.user) throw new Fault(GP, 0);
    c.hooks.hlt(c);
    return;
  }
  if (!c.system) throw new Fault(GP, 0);
  c.halted = true;
  c.interruptCheck = true;
}

/** VMCALL (0F 01 C1) / VMMCALL (0F 01 D9): the hypercall instructions, answered by the driver. */
export function vmcall(c: Cpu): void {
  if (c.hooks.vmcall === undefined) throw new Fault(UD);
  c.hooks.vmcall(c);
}

// ---- fast system calls and IRET --------------------------------------------------------------------

export function syscall(c: Cpu): void {
  if (c.hooks.syscall !== undefined) c.hooks.syscall(c);
  else if (c.system) syscallSys(c);
  else throw new Fault(UD);
}

export function sysret(c: Cpu, i: Insn): void {
  if (!c.system) throw new Fault(GP, 0);
  sysretSys(c, i);
}

/**
 * SYSENTER/SYSEXIT follow AMD, whose silicon is this project's differential oracle: #UD in
 * IA-32e mode (64-bit and compatibility), where Intel would execute them.
 */
export function sysenter(c: Cpu): void {
  if ((c.efer & EFER_LMA) !== 0 || c.mode === 64) throw new Fault(UD);
  if (!c.system) throw new Fault(GP, 0);
  sysenterSys(c);
}

export function sysexit(c: Cpu, i: Insn): void {
  if ((c.efer & EFER_LMA) !== 0 || c.mode === 64) throw new Fault(UD);
  if (!c.system) throw new Fault(GP, 0);
  sysexitSys(c, i);
}

export function iret(c: Cpu, i: Insn): void {
  iretSys(c, i);
}
