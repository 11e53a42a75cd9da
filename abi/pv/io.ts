/**
 * Port I/O of a PV guest (Xen's pv/emul-priv-op.c). A PV64 guest runs at CPL 3 with IOPL 0, so
 * every IN, OUT, INS and OUTS raises #GP(0); Xen then emulates the instruction when
 * `guest_io_okay` allows it — the virtual IOPL (PHYSDEVOP_set_iopl) against the virtual CPL
 * (guest kernel 1, or 0 with VMASST_TYPE_architectural_iopl; guest user 3), else the guest's own
 * I/O bitmap (PHYSDEVOP_set_iobitmap) — and otherwise lets the #GP reach the guest.
 *
 * What an allowed access does is Xen's `guest_io_read`/`guest_io_write` for a domU that the
 * toolstack gave no I/O ports and no virtual PIT: reads of ports it has no rights to are all
 * ones, writes are dropped, except
 *  - a dword access to 0xCF8 (PCI CONFIG_ADDRESS), latched per domain and read back;
 *  - 0xCFC-0xCFF (CONFIG_DATA): all ones and dropped (only the hardware domain reaches PCI), in
 *    pieces of at most the dword's remainder, 3 bytes becoming 2;
 *  - 0x70 (RTC index), latched per domain as a byte and read back; 0x71 reads all ones;
 *  - 0x42, 0x43, 0x61 (PIT and speaker): all ones and dropped without a virtual PIT.
 * Accesses are split byte by byte otherwise, as Xen does.
 *
 * INS/OUTS follow Xen's `rep_ins`/`rep_outs` under x86_emulate: a REP with a zero count is
 * skipped before any permission check; the port is read before the destination is written (a
 * page fault loses that element's read, harmless here); each element's address must pass
 * `__addr_ok` (else #GP(0), #SS(0) for an SS override); a fault writing or reading guest
 * memory is a #PF (error code W for INS, 0 for OUTS, the user bit from the guest mode) at the
 * first byte not copied, with the registers describing the elements done. With RFLAGS.TF one
 * element is done per emulation; an I/O breakpoint stops a REP after its element; a long REP
 * restarts itself after a budget of elements (as Xen's preemption check would).
 */
import type { Insn } from '../../x86/decoder.js';
import { GP, SS } from '../../x86/fault.js';
import { DF } from '../../x86/isa/types.js';
import { ioBreakpointMatch } from './debugreg.js';
import { addrOk } from './mmu.js';
import type { PvVcpu } from './vcpu.js';

export const PCI_CONFIG_ADDRESS = 0xcf8;
export const RTC_PORT0 = 0x70;
export const RTC_PORT1 = 0x71;

/** Elements a REP INS/OUTS moves per emulation before restarting itself. */
const BUDGET = 4096;
const TWO32 = 4294967296;
const TWO64 = 18446744073709551616;

/** What Xen keeps per domain for the ports it emulates for a domU (`arch.pci_cf8`, `arch.cmos_idx`). */
export class GuestIoPorts {
  /** The last dword written to 0xCF8. */
  pciCf8 = 0;
  /** The last byte written to 0x70. */
  cmosIdx = 0;

  /** Xen `guest_io_read` for a domU without I/O ports: `bytes` (1, 2, 4) from `port`, as a uint32. */
  read(port: number, bytes: number): number {
    let data = 0;
    let shift = 0;
    while (bytes !== 0) {
      let size = 1;
      let sub = 0xffffffff;
      if (port === RTC_PORT0) sub = this.cmosIdx;
      else if (port === PCI_CONFIG_ADDRESS && bytes === 4) {
        size = 4;
        sub = this.pciCf8;
      } else if ((port & 0xfffc) === 0xcfc) {
        // CONFIG_DATA: pci_cfg_ok refuses every domain but the hardware domain.
        size = Math.min(bytes, 4 - (port & 3));
        if (size === 3) size = 2;
      }
      // 0x42/0x43/0x61 without a virtual PIT, 0x71 without RTC rights, any other port: all ones.
      if (size === 4) return sub >>> 0;
      data |= (sub & ((1 << (size * 8)) - 1)) << shift;
      shift += size * 8;
      port += size;
      bytes -= size;
    }
    return data >>> 0;
  }

  /** Xen `guest_io_write` for a domU without I/O ports. */
  write(port: number, bytes: number, data: number): void {
    while (bytes !== 0) {
      let size = 1;
      if (port === RTC_PORT0) this.cmosIdx = data & 0xff;
      else if (port === PCI_CONFIG_ADDRESS && bytes === 4) {
        size = 4;
        this.pciCf8 = data >>> 0;
      } else if ((port & 0xfffc) === 0xcfc) {
        size = Math.min(bytes, 4 - (port & 3));
        if (size === 3) size = 2;
      }
      if (size === 4) return;
      port += size;
      bytes -= size;
      data >>>= size * 8;
    }
  }
}

/** Xen `iopl_ok`: the virtual IOPL covers the virtual CPL. */
export function ioplOk(v: PvVcpu): boolean {
  const cpl = v.kernelMode ? (v.hv.architecturalIopl(v) ? 0 : 1) : 3;
  return cpl <= v.iopl;
}

/**
 * Xen `guest_io_okay`: the virtual IOPL, else the guest's I/O bitmap — bits port..port+bytes-1
 * of it clear, for a port range within `nr_ports`. The two bitmap bytes are read through the
 * kernel's page tables even from user mode; an unreadable pair counts as all ones.
 */
export function guestIoOkay(v: PvVcpu, port: number, bytes: number): boolean {
  if (ioplOk(v)) return true;
  if (port + bytes > v.iobmpLimit) return false;
  const b = new Uint8Array(2);
  const ok = v.withKernelTables(() => v.mem.read(v.iobmp + (port >> 3), b));
  if (!ok) return false;
  const mask = b[0]! | (b[1]! << 8);
  return (mask & (((1 << bytes) - 1) << (port & 7))) === 0;
}

/** How an emulation ended: done (RIP set), refused (#GP(0) for the guest), or an exception delivered. */
export type IoOutcome = 'done' | 'refused' | 'raised';

/** The element size of IN/OUT/INS/OUTS: 1 for the byte forms, else 2 or 4 (REX.W ignored). */
function ioSize(i: Insn): 1 | 2 | 4 {
  return (i.opcode & 1) === 0 ? 1 : i.opsize === 2 ? 2 : 4;
}

/** Is `i` one of the port I/O instructions (E4-E7, EC-EF, 6C-6F)? */
export function isPortIo(i: Insn): boolean {
  if (i.row.map !== 'one') return false;
  const op = i.opcode;
  return (op >= 0xe4 && op <= 0xe7) || (op >= 0xec && op <= 0xef) || (op >= 0x6c && op <= 0x6f);
}

/**
 * Emulates the port I/O instruction `i` at RIP after its #GP(0). `bp` collects DR6 bits of I/O
 * breakpoints hit (Xen's `bpmatch`).
 */
export function emulatePortIo(v: PvVcpu, i: Insn, bp: { match: number }): IoOutcome {
  const c = v.cpu;
  const op = i.opcode;
  const size = ioSize(i);
  const ports = v.hv.ioPorts(v);
  if (op >= 0xe4) {
    const port = op < 0xe8 ? i.imm & 0xff : c.reg16(2);
    if (!guestIoOkay(v, port, size)) return 'refused';
    bp.match = ioBreakpointMatch(v, port, size);
    if ((op & 2) !== 0) ports.write(port, size, c.getReg(0, size) >>> 0);
    else c.setReg(0, size, ports.read(port, size) | 0, 0);
    c.rip += i.len;
    return 'done';
  }
  // INS / OUTS.
  const isIns = op < 0x6e;
  const ad = i.adsize;
  const reps = i.rep !== 0 ? count(v, ad) : 1;
  if (reps === 0) {
    // x86_emulate skips the instruction, zero-extending the registers with 32-bit addressing.
    if (ad === 4 && c.mode === 64) {
      c.setReg32(1, 0);
      const n = isIns ? 7 : 6;
      c.setReg32(n, c.reg32(n));
    }
    c.rip += i.len;
    return 'done';
  }
  const port = c.reg16(2);
  if (!guestIoOkay(v, port, size)) return 'refused';
  const reg = isIns ? 7 : 6;
  const seg = isIns ? 0 : i.seg;
  const down = (c.getFlags() & DF) !== 0;
  let goal = Math.min(reps, truncateReps(v, reg, ad, size, down), BUDGET);
  if ((c.getFlags() & 0x100) !== 0) goal = 1; // TF: one element per single step
  bp.match = ioBreakpointMatch(v, port, size);
  let done = 0;
  let outcome: IoOutcome = 'done';
  while (done < goal) {
    const off = offset(v, reg, ad);
    const data = isIns ? ports.read(port, size) : 0;
    const la = linear(v, seg, off, ad, size);
    if (la === undefined || (ad === 8 && !addrOk(la))) {
      v.deliverTrap(seg === 2 ? SS : GP, 0);
      outcome = 'raised';
      break;
    }
    if (isIns) {
      const failed = writeElement(v, la, data, size);
      if (failed >= 0) {
        v.injectPageFault(failed, 2);
        outcome = 'raised';
        break;
      }
    } else {
      const got = readElement(v, la, size);
      if (typeof got !== 'number') {
        v.injectPageFault(got.fault, 0);
        outcome = 'raised';
        break;
      }
      ports.write(port, size, got);
    }
    done++;
    advance(v, reg, ad, down ? -size : size);
    if (bp.match !== 0) break;
  }
  if (i.rep !== 0) {
    setCount(v, ad, reps - done);
    // The instruction runs again while the count is not zero (RIP stays on it).
    if (reps - done === 0 && outcome === 'done') c.rip += i.len;
  } else if (outcome === 'done') c.rip += i.len;
  return outcome;
}

/** rCX at the address size. */
function count(v: PvVcpu, ad: number): number {
  const c = v.cpu;
  if (ad === 8) return v.reg(1) < 0 ? v.reg(1) + TWO64 : v.reg(1);
  return ad === 4 ? c.reg32(1) >>> 0 : c.reg16(1);
}

function setCount(v: PvVcpu, ad: number, n: number): void {
  const c = v.cpu;
  if (ad === 8) c.setReg64(1, (n % TWO32) | 0, Math.floor(n / TWO32) | 0);
  else if (ad === 4) c.setReg32(1, n | 0);
  else c.setReg16(1, n);
}

/** rSI/rDI at the address size, as an unsigned offset. */
function offset(v: PvVcpu, reg: number, ad: number): number {
  const c = v.cpu;
  if (ad === 8) return v.reg(reg);
  return ad === 4 ? c.reg32(reg) >>> 0 : c.reg16(reg);
}

function advance(v: PvVcpu, reg: number, ad: number, delta: number): void {
  const c = v.cpu;
  if (ad === 8) v.setReg(reg, v.reg(reg) + delta);
  else if (ad === 4) c.setReg32(reg, (c.reg32(reg) + delta) | 0);
  else c.setReg16(reg, c.reg16(reg) + delta);
}

/**
 * x86_emulate's `truncate_ea_and_reps`: no more elements than fit before the offset wraps at the
 * address size (at least one).
 */
function truncateReps(v: PvVcpu, reg: number, ad: number, size: number, down: boolean): number {
  const span = ad === 8 ? TWO64 : ad === 4 ? TWO32 : 65536;
  let ea = offset(v, reg, ad);
  if (ea < 0) ea += span;
  let todo: number;
  if (!down) todo = Math.floor(((span - ea) % span) / size);
  else if (ea + size - 1 >= span) todo = 1;
  else todo = Math.floor(ea / size) + 1;
  return todo === 0 ? 1 : todo;
}

/**
 * The linear address of an element: 64-bit mode adds only the FS/GS bases; 32- and 16-bit
 * addressing checks the segment limit (undefined: the limit is exceeded) and wraps at 4 GiB.
 */
function linear(v: PvVcpu, seg: number, off: number, ad: number, size: number): number | undefined {
  const c = v.cpu;
  if (ad === 8) return seg === 4 || seg === 5 ? off + (c.segBase[seg] as number) : off;
  const limit = c.segLimit[seg] as number;
  if (limit < size - 1 || off > limit - size + 1) return undefined;
  return ((c.segBase[seg] as number) + off) % TWO32;
}

/** Writes an element byte by byte as `copy_to_guest` does: -1, or the address of the first byte not written. */
function writeElement(v: PvVcpu, la: number, data: number, size: number): number {
  const b = new Uint8Array(size);
  for (let k = 0; k < size; k++) b[k] = (data >>> (8 * k)) & 0xff;
  if (v.mem.write(la, b)) return -1;
  for (let k = 0; k < size; k++) if (!v.mem.write(la + k, b.subarray(k, k + 1))) return la + k;
  return -1;
}

/** Reads an element: the value, or the address of the first byte that could not be read. */
function readElement(v: PvVcpu, la: number, size: number): number | { fault: number } {
  const b = new Uint8Array(size);
  if (!v.mem.read(la, b)) {
    for (let k = 0; k < size; k++) if (!v.mem.read(la + k, b.subarray(k, k + 1))) return { fault: la + k };
  }
  let x = 0;
  for (let k = size - 1; k >= 0; k--) x = x * 256 + (b[k] as number);
  return x >>> 0;
}
