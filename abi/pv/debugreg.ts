/**
 * The guest's debug registers (Xen `set_debugreg` in pv/misc-hypercalls.c and
 * `x86emul_read_dr` in x86_emulate.c), shared by the set_debugreg/get_debugreg hypercalls and the
 * MOV to/from DRn emulation. The guest's view lives in the vCPU (`PvVcpu.dr`, `dr6`, `dr7`,
 * `dr7Emul`); what the hardware would hold is loaded into the x86 core's DR0-3 and DR7, so its
 * instruction and data breakpoints fire while the guest runs and come back as #DB through the
 * trap table (pv/vcpu.ts merges the core's DR6 into the guest's as Xen's `do_debug` does).
 *
 * DR7 enables of I/O breakpoints (R/W = 10, only with the guest's CR4.DE) are kept out of the
 * core's DR7, in `dr7Emul`: ports are never touched by a PV guest's own instructions, so Xen
 * checks them itself when it emulates IN/OUT/INS/OUTS (pv/io.ts).
 */
import { CR4_DE } from '../../x86/system/regs.js';
import { XEN_EINVAL, XEN_ENODEV, XEN_EPERM } from '../public/errno.js';
import { addrOk } from './mmu.js';
import type { PvVcpu } from './vcpu.js';

/** DR6 bits that read as 1 (Xen's DR_STATUS_RESERVED_ONE; also X86_DR6_DEFAULT). */
export const DR6_DEFAULT = 0xffff0ff0;
/** DR6 bits that must be 0 (Xen's DR_STATUS_RESERVED_ZERO: bit 12). */
const DR6_KEEP = 0xffffefff;
/** DR7 bits a guest may hold (the complement of DR_CONTROL_RESERVED_ZERO: bits 11, 12, 14, 15 go). */
const DR7_KEEP = 0xffff27ff;
/** DR7 bit 10 reads as 1. */
export const DR7_DEFAULT = 0x400;
/** DR7.GD (general detect): a guest may not set it. */
const DR7_GD = 0x2000;
/** DR7 L0-3/G0-3. */
export const DR7_ACTIVE_MASK = 0xff;
/** DR6.BS: single-step. */
export const DR6_BS = 0x4000;

const TWO32 = 4294967296;

function deEnabled(v: PvVcpu): boolean {
  return (v.virtualCr4() & CR4_DE) !== 0;
}

/**
 * Xen `set_debugreg(v, reg, value)` for the guest's own vCPU, `value` as exact int32 halves:
 * 0 on success, -EPERM for a DR0-3 address in Xen's range or outside the canonical halves (Xen
 * `breakpoint_addr_ok`), for DR7.GD, and for an I/O breakpoint without CR4.DE; -EINVAL for DR6
 * or DR7 values with any of the upper 32 bits set; -ENODEV for DR4/DR5 while CR4.DE is set and
 * for any other register number. Reserved bits of DR6/DR7 are forced, not refused.
 */
export function setDebugreg(v: PvVcpu, reg: number, lo: number, hi: number): number {
  const value = (hi | 0) * TWO32 + (lo >>> 0);
  switch (reg) {
    case 0:
    case 1:
    case 2:
    case 3:
      if (!addrOk(value)) return -XEN_EPERM;
      v.dr[reg] = value;
      break;
    case 4:
    case 6:
      if (reg === 4 && deEnabled(v)) return -XEN_ENODEV;
      if (hi !== 0) return -XEN_EINVAL;
      v.dr6 = ((lo & DR6_KEEP) | DR6_DEFAULT) >>> 0;
      break;
    case 5:
    case 7: {
      if (reg === 5 && deEnabled(v)) return -XEN_ENODEV;
      if (hi !== 0) return -XEN_EINVAL;
      let val = ((lo & DR7_KEEP) | DR7_DEFAULT) >>> 0;
      if ((val & DR7_GD) !== 0) return -XEN_EPERM;
      let ioEnable = 0;
      if ((val & DR7_ACTIVE_MASK) !== 0) {
        for (let i = 16; i < 32; i += 4) {
          if (((val >>> i) & 3) !== 2) continue;
          if (!deEnabled(v)) return -XEN_EPERM;
          ioEnable |= val & (3 << ((i - 16) >> 1));
        }
        val = (val & ~ioEnable) >>> 0;
      }
      v.dr7Emul = ioEnable;
      v.dr7 = val;
      break;
    }
    default:
      return -XEN_ENODEV;
  }
  v.loadDebugRegisters();
  return 0;
}

/**
 * Xen `x86emul_read_dr` as get_debugreg uses it: the value (DR0-3 as sign-extended canonical
 * addresses), or undefined where Xen answers -ENODEV (DR4/DR5 with CR4.DE, other numbers).
 * DR7 includes the I/O-breakpoint enables kept aside.
 */
export function getDebugreg(v: PvVcpu, reg: number): number | undefined {
  switch (reg) {
    case 0:
    case 1:
    case 2:
    case 3:
      return v.dr[reg] as number;
    case 4:
    case 6:
      if (reg === 4 && deEnabled(v)) return undefined;
      return v.dr6;
    case 5:
    case 7:
      if (reg === 5 && deEnabled(v)) return undefined;
      return (v.dr7 | v.dr7Emul) >>> 0;
    default:
      return undefined;
  }
}

/**
 * Xen `check_guest_io_breakpoint`: the DR6 B0-B3 bits of enabled I/O breakpoints covering any of
 * ports port..port+len-1 (only with the guest's CR4.DE).
 */
export function ioBreakpointMatch(v: PvVcpu, port: number, len: number): number {
  if (v.dr7Emul === 0 || !deEnabled(v)) return 0;
  let match = 0;
  for (let i = 0; i < 4; i++) {
    if ((v.dr7Emul & (3 << (i * 2))) === 0) continue;
    const width = [1, 2, 8, 4][(v.dr7 >>> (16 + i * 4 + 2)) & 3] as number;
    // Breakpoint addresses are naturally aligned to their width.
    const start = Math.floor((v.dr[i] as number) / width) * width;
    if (start < port + len && start + width > port) match |= 1 << i;
  }
  return match;
}
