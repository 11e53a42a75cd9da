/**
 * System-register bit layouts and MSR numbers (Intel SDM vol. 3 §2.5, §2.2.1, vol. 4; AMD APM
 * vol. 2 §3.1). Values as JS numbers; 64-bit registers whose upper half matters (EFER) fit
 * in the low 32 bits here.
 */

// CR0
export const CR0_PE = 1 << 0;
export const CR0_MP = 1 << 1;
export const CR0_EM = 1 << 2;
export const CR0_TS = 1 << 3;
export const CR0_ET = 1 << 4;
export const CR0_NE = 1 << 5;
export const CR0_WP = 1 << 16;
export const CR0_AM = 1 << 18;
export const CR0_NW = 1 << 29;
export const CR0_CD = 1 << 30;
export const CR0_PG = 1 << 31;
/** Bits of CR0 that exist (the rest are reserved: setting one of bits 63:32 is #GP). */
export const CR0_DEFINED = CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | CR0_PG;
/** CR0 after RESET/INIT (SDM table 9-1): CD, NW and ET set. */
export const CR0_RESET = CR0_CD | CR0_NW | CR0_ET;

// CR4
export const CR4_VME = 1 << 0;
export const CR4_PVI = 1 << 1;
export const CR4_TSD = 1 << 2;
export const CR4_DE = 1 << 3;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_MCE = 1 << 6;
export const CR4_PGE = 1 << 7;
export const CR4_PCE = 1 << 8;
export const CR4_OSFXSR = 1 << 9;
export const CR4_OSXMMEXCPT = 1 << 10;
export const CR4_UMIP = 1 << 11;
export const CR4_FSGSBASE = 1 << 16;
export const CR4_PCIDE = 1 << 17;
export const CR4_OSXSAVE = 1 << 18;
export const CR4_SMEP = 1 << 20;
export const CR4_SMAP = 1 << 21;

// EFER (MSR 0xC0000080)
export const EFER_SCE = 1 << 0;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NXE = 1 << 11;

// RFLAGS system bits (the arithmetic ones are in isa/types.ts)
export const RF_TF = 1 << 8;
export const RF_IF = 1 << 9;
export const RF_IOPL = 3 << 12;
export const RF_NT = 1 << 14;
export const RF_RF = 1 << 16;
export const RF_VM = 1 << 17;
export const RF_AC = 1 << 18;
export const RF_VIF = 1 << 19;
export const RF_VIP = 1 << 20;
export const RF_ID = 1 << 21;

// MSR numbers. The CPU owns EFER, STAR/LSTAR/CSTAR/SFMASK, FS/GS/KERNEL_GS base, SYSENTER_*,
// TSC_AUX and PAT itself (exec/system.ts); the rest (APIC_BASE, TSC_DEADLINE...) go to CpuHooks.rdmsr/wrmsr.
export const MSR_TSC = 0x10;
export const MSR_APIC_BASE = 0x1b;
export const MSR_SYSENTER_CS = 0x174;
export const MSR_SYSENTER_ESP = 0x175;
export const MSR_SYSENTER_EIP = 0x176;
export const MSR_PAT = 0x277;
export const MSR_TSC_DEADLINE = 0x6e0;
export const MSR_EFER = 0xc0000080;
export const MSR_STAR = 0xc0000081;
export const MSR_LSTAR = 0xc0000082;
export const MSR_CSTAR = 0xc0000083;
export const MSR_SFMASK = 0xc0000084;
export const MSR_FS_BASE = 0xc0000100;
export const MSR_GS_BASE = 0xc0000101;
export const MSR_KERNEL_GS_BASE = 0xc0000102;
export const MSR_TSC_AUX = 0xc0000103;

/** PAT after reset (SDM §11.12.4): WB, WT, UC-, UC repeated. */
export const PAT_RESET_LO = 0x00070406;
export const PAT_RESET_HI = 0x00070406;

// Segment descriptor attributes as the CPU caches them (`Cpu.segAttr`): the access byte in
// bits 0-7 and the flags nibble in bits 8-11.
export const SA_TYPE = 0x0f;
export const SA_ACCESSED = 0x01;
/** Code: readable; data: writable. */
export const SA_RW = 0x02;
/** Code: conforming; data: expand-down. */
export const SA_CE = 0x04;
export const SA_CODE = 0x08;
/** S: code/data (1) or system (0). */
export const SA_S = 0x10;
export const SA_DPL_SHIFT = 5;
export const SA_DPL = 0x60;
export const SA_P = 0x80;
export const SA_AVL = 0x100;
export const SA_L = 0x200;
export const SA_DB = 0x400;
export const SA_G = 0x800;

/** Flat 32-bit ring-0 code and data, as a Multiboot loader or a reset-to-protected path sets them. */
export const SA_CODE32_FLAT = SA_P | SA_S | SA_CODE | SA_RW | SA_ACCESSED | SA_DB | SA_G;
export const SA_DATA32_FLAT = SA_P | SA_S | SA_RW | SA_ACCESSED | SA_DB | SA_G;

/** Canonical 48-bit linear address (bits 63:47 equal) for a JS-number address. */
export function isCanonical(a: number): boolean {
  return a < 0x800000000000 && a >= -0x800000000000;
}

// DR6 / DR7
export const DR6_B0 = 1 << 0;
export const DR6_BD = 1 << 13;
export const DR6_BS = 1 << 14;
/** DR6 value with no condition recorded (reserved bits read as 1). */
export const DR6_INIT = 0xffff0ff0;
export const DR7_INIT = 0x400;
