/**
 * Writable page tables (VMASST_TYPE_writable_pagetables, reference §4.7): Xen 4.17's emulation of
 * a guest kernel's store into one of its own L1 page tables through a read-only mapping
 * (xen/arch/x86/traps.c `fixup_page_fault`, xen/arch/x86/pv/ro-page-fault.c `pv_ro_page_fault`,
 * `ptwr_do_page_fault`, `ptwr_emulated_update`). The #PF is Xen's to fix up when
 *  - the domain has the assist enabled and the vCPU is in guest kernel mode (Xen's flag, not the
 *    CPU's: both run at CPL 3, so the hardware error code's user bit says nothing here);
 *  - the error code says a write to a present page, not an instruction fetch, no reserved bit;
 *  - the address is not in Xen's range (0xFFFF800000000000-0xFFFF87FFFFFFFFFF: a write to the
 *    M2P stays the guest's #PF);
 *  - the L1 entry mapping the address in the kernel's page tables (found as Xen's linear mapping
 *    finds it: L4, L3, L2 entries present, no superpage) is present and read-only;
 *  - the frame it maps is the domain's own and a live L1 table (Xen's `page_lock`: validated,
 *    with type references). An L2, L3 or L4 table is never write-emulated: only L1 writes are.
 * Xen's read-only MMIO emulation in the same path (`mmio_ro_do_page_fault`) is for the hardware
 * domain only; a domU never takes it.
 *
 * Then the instruction at RIP, read through the guest's page tables, is emulated as Xen's
 * x86_emulate does with `ptwr_emulate_ops`: every store must be naturally aligned, of 1, 2, 4 or
 * 8 bytes, within the faulting page; a store of less than 8 bytes is merged with the rest of the
 * entry; the resulting entry is validated and stored exactly as mmu_update's
 * MMU_NORMAL_PT_UPDATE would (`PvMmu.modL1Entry`: the new entry's references taken, the old
 * one's dropped, Xen's adjustments applied). A refused store is X86EMUL_UNHANDLEABLE: the guest
 * gets the #PF it would have had, with nothing changed. A read of guest memory that fails is the
 * emulator's own #PF (a read fault at the first byte not read).
 *
 * Instructions emulated (the ones guests use on page-table entries): MOV (88, 89, C6 /0,
 * C7 /0), MOVNTI, XCHG, CMPXCHG, CMPXCHG8B/16B, the read-modify-write ALU forms (ADD, OR, ADC,
 * SBB, AND, SUB, XOR with a register or an immediate), INC, DEC, NOT, NEG, and BTS/BTR/BTC. A
 * locked form behaves as the plain one (Xen's cmpxchg of the value it read cannot fail with one
 * CPU running at a time); a read-modify-write that leaves the value unchanged stores nothing, and
 * a CMPXCHG whose comparison fails stores nothing (x86_emulate's behaviour, not the hardware's).
 * Xen's emulator accepts any instruction that writes memory; the others here (an 8-byte SSE
 * store, SETcc, string stores, ...) get the #PF: a documented difference (docs/pv-mmu.md).
 *
 * After an emulated instruction RIP is past it and RFLAGS.RF clear. With RFLAGS.TF the guest gets
 * #DB, DR6 left as it was (Xen 4.17 injects the trap without setting DR6.BS in this path). A
 * grant mapping's entry replaced by the store is an implicit unmap: #GP(0) after the instruction
 * (Xen `put_page_from_l1e`), unless the domain is shutting down; a #DB replaces it, as Xen's
 * later injection overwrites the earlier one.
 */
import { decode, type Insn } from '../../x86/decoder.js';
import { AluOp, alu } from '../../x86/exec/alu.js';
import { ea, trunc } from '../../x86/exec/operands.js';
import { DB, Fault, GP, PFEC_I, PFEC_P, PFEC_RSVD, PFEC_W } from '../../x86/fault.js';
import { CF, ZF } from '../../x86/isa/types.js';
import { PageType } from '../hv/machine.js';
import { _PAGE_PRESENT, _PAGE_RW, pteMfn } from '../hv/page-types.js';
import type { PvMmu } from './mmu.js';
import type { PvVcpu } from './vcpu.js';

/** What the emulation needs of the vCPU's domain. */
export interface PtwrDomain {
  readonly mmu: PvMmu;
  /** VMASST_TYPE_writable_pagetables is enabled. */
  readonly writablePagetables: boolean;
  /** The domain is not shutting down (the implicit-unmap #GP is skipped otherwise). */
  readonly running: boolean;
}

/** Xen's range, HYPERVISOR_VIRT_START to HYPERVISOR_VIRT_END, as sign-extended addresses. */
const XEN_START = -0x800000000000;
const XEN_END = -0x780000000000;

const RF = 0x10000;
const TF = 0x100;
const TWO32 = 4294967296;

/** How one emulation ended (Xen's X86EMUL_OKAY / X86EMUL_UNHANDLEABLE / X86EMUL_EXCEPTION). */
type Outcome = 'okay' | 'unhandleable' | 'raised';

/**
 * Xen `fixup_page_fault` → `pv_ro_page_fault` for a PV domU: true when Xen handled the #PF at
 * `address` (the instruction emulated, or the emulator's own fault delivered); false when the
 * guest must get it as it is.
 */
export function ptwrPageFault(v: PvVcpu, dom: PtwrDomain, address: number, errorCode: number): boolean {
  if (!dom.writablePagetables || !v.kernelMode) return false;
  if ((errorCode & (PFEC_RSVD | PFEC_I)) !== 0 || (errorCode & (PFEC_W | PFEC_P)) !== (PFEC_W | PFEC_P)) return false;
  if (address >= XEN_START && address < XEN_END) return false;
  const mmu = dom.mmu;
  const m = mmu.types.mem;
  // guest_get_eff_kern_l1e: the entry mapping `address`, read through the linear mapping.
  const where = mmu.guestL1(v.id, address);
  if (where === undefined) return false;
  const table = m.view(where.mfn);
  const lo = table.getUint32(where.index * 8, true);
  const hi = table.getUint32(where.index * 8 + 4, true);
  if ((lo & (_PAGE_PRESENT | _PAGE_RW)) !== _PAGE_PRESENT) return false;
  // ptwr_do_page_fault: a live L1 of this domain, held while the instruction is emulated.
  const l1mfn = pteMfn(lo, hi);
  if (!mmu.types.getPage(l1mfn, mmu.domid)) return false;
  try {
    if (!mmu.types.isLiveTable(l1mfn) || m.type[l1mfn] !== PageType.L1) return false;
    mmu.takeImplicitGrantUnmaps(); // count only this emulation's
    const tf = (v.cpu.getFlags() & TF) !== 0;
    const outcome = emulate(new Ptwr(v, mmu, address, l1mfn));
    if (outcome === 'unhandleable') return false;
    if (outcome === 'okay') {
      const unmapped = mmu.takeImplicitGrantUnmaps() !== 0;
      if (tf) v.deliverTrap(DB, -1);
      else if (unmapped && dom.running) v.deliverTrap(GP, 0);
    }
    return true;
  } finally {
    mmu.types.putPage(l1mfn);
  }
}

/** The emulation context: Xen's `ptwr_emulate_ctxt` (CR2 and the L1 frame) and the emulator's memory ops. */
class Ptwr {
  constructor(
    readonly v: PvVcpu,
    readonly mmu: PvMmu,
    readonly cr2: number,
    readonly l1mfn: number,
  ) {}

  /**
   * `ptwr_emulated_read`: `size` bytes (1-16) at `la` through the guest's page tables, as
   * [lo, hi] of the first 8 and [lo2, hi2] of the next; undefined after delivering the read #PF.
   */
  read(la: number, size: number): number[] | undefined {
    const buf = new Uint8Array(16);
    const v = this.v;
    if (!v.mem.read(la, buf.subarray(0, size))) {
      // The first byte not read: the first page if it failed there, else the next one's start.
      const first = Math.min(size, 4096 - mod4096(la));
      const at = v.mem.read(la, buf.subarray(0, first)) ? la + first : la;
      v.injectPageFault(at, 0);
      return undefined;
    }
    const dv = new DataView(buf.buffer);
    return [dv.getUint32(0, true), dv.getUint32(4, true), dv.getUint32(8, true), dv.getUint32(12, true)];
  }

  /**
   * `ptwr_emulated_write` / `ptwr_emulated_cmpxchg` → `ptwr_emulated_update`: a store of `size`
   * bytes (lo, hi) at `la`, which must be 1, 2, 4 or 8 bytes, naturally aligned, in the faulting
   * page. Merged into the 8-byte entry, validated and stored as mmu_update would. False: refused.
   */
  update(la: number, size: number, lo: number, hi: number): boolean {
    if (size !== 1 && size !== 2 && size !== 4 && size !== 8) return false;
    if (Math.floor(la / 4096) !== Math.floor(this.cr2 / 4096) || mod4096(la) % size !== 0) return false;
    const off = mod4096(la);
    const index = off >>> 3;
    let nlo = lo >>> 0;
    let nhi = hi >>> 0;
    if (size !== 8) {
      // The rest of the entry as it is now (Xen reads the whole aligned word through the guest's mapping).
      const view = this.mmu.types.mem.view(this.l1mfn);
      const full = (BigInt(view.getUint32(index * 8 + 4, true)) << 32n) | BigInt(view.getUint32(index * 8, true));
      const shift = BigInt((off & 7) * 8);
      const mask = ((1n << BigInt(size * 8)) - 1n) << shift;
      const merged = (full & ~mask) | ((BigInt(nlo) << shift) & mask);
      nlo = Number(merged & 0xffffffffn);
      nhi = Number(merged >> 32n);
    }
    const rc = this.mmu.modL1Entry(this.l1mfn, index, nlo, nhi, false, this.mmu.domid, this.mmu.domid);
    if (rc !== 0) {
      // `--strict`: the write to the page table is refused; the guest gets its #PF.
      this.mmu.refused('write to an L1 page table (writable page tables)', rc, `entry ${index} of frame 0x${this.l1mfn.toString(16)} := 0x${((BigInt(nhi >>> 0) << 32n) | BigInt(nlo >>> 0)).toString(16)}`, this.l1mfn, la);
    }
    return rc === 0;
  }
}

/** The ALU operation of a read-modify-write row, by mnemonic. */
const ALU_BY_NAME: ReadonlyMap<string, AluOp> = new Map([
  ['add', AluOp.Add],
  ['or', AluOp.Or],
  ['adc', AluOp.Adc],
  ['sbb', AluOp.Sbb],
  ['and', AluOp.And],
  ['sub', AluOp.Sub],
  ['xor', AluOp.Xor],
]);

/** x86_emulate with `ptwr_emulate_ops` on the instruction at RIP. */
function emulate(x: Ptwr): Outcome {
  const c = x.v.cpu;
  let i: Insn;
  let la: number;
  try {
    // The bytes just executed, read again through the guest's page tables.
    i = decode(c, c.rip);
    if (i.rm >= 0) return 'unhandleable'; // no memory operand: it did not write memory
    // The address as the instruction computes it (RIP-relative: from the next instruction).
    const start = c.rip;
    c.rip = start + i.len;
    try {
      la = ea(c, i);
    } finally {
      c.rip = start;
    }
  } catch (e) {
    // The CPU has just fetched and addressed this instruction: not reachable with one CPU running.
    if (e instanceof Fault) return 'unhandleable';
    throw e;
  }
  const name = i.row.name;
  const us = name.indexOf('_');
  if (us < 0) return 'unhandleable';
  const mnemonic = name.slice(0, us);
  const form = name.slice(us + 1);
  const aluOp = ALU_BY_NAME.get(mnemonic);
  const size = form.startsWith('Eb') ? 1 : i.opsize;
  let outcome: Outcome;
  if (mnemonic === 'mov' && (form === 'Eb_Gb' || form === 'Ev_Gv' || form === 'Eb_Ib' || form === 'Ev_Iz')) {
    const [lo, hi] = form.includes('_G') ? regValue(x, i.reg, size) : immValue(i, size);
    outcome = x.update(la, size, lo, hi) ? 'okay' : 'unhandleable';
  } else if (name === 'movnti_My_Gy') {
    const [lo, hi] = regValue(x, i.reg, size);
    outcome = x.update(la, size, lo, hi) ? 'okay' : 'unhandleable';
  } else if (mnemonic === 'xchg' && (form === 'Eb_Gb' || form === 'Ev_Gv')) {
    outcome = xchg(x, i, la, size);
  } else if (mnemonic === 'cmpxchg' && (form === 'Eb_Gb' || form === 'Ev_Gv')) {
    outcome = cmpxchg(x, i, la, size);
  } else if (name === 'cmpxchg8b_Mq') {
    outcome = cmpxchgDouble(x, i, la);
  } else if (aluOp !== undefined && ['Eb_Gb', 'Ev_Gv', 'Eb_Ib', 'Ev_Iz', 'Ev_sIb'].includes(form)) {
    const [b, bh] = form.includes('_G') ? regValue(x, i.reg, size) : immValue(i, size);
    outcome = rmw(x, la, size, (a, ah) => alu(c, aluOp, size, a, ah, b, bh));
  } else if ((mnemonic === 'inc' || mnemonic === 'dec') && (form === 'Eb' || form === 'Ev')) {
    outcome = rmw(x, la, size, (a, ah) => {
      // Like ADD/SUB 1 with CF kept.
      const cf = c.getCF();
      const r = alu(c, mnemonic === 'inc' ? AluOp.Add : AluOp.Sub, size, a, ah, 1, 0);
      const rh = c.hi;
      c.setFlagBits(CF, cf);
      c.hi = rh;
      return r;
    });
  } else if (mnemonic === 'neg' && (form === 'Eb' || form === 'Ev')) {
    // NEG's flags are those of 0 - x.
    outcome = rmw(x, la, size, (a, ah) => alu(c, AluOp.Sub, size, 0, 0, a, ah));
  } else if (mnemonic === 'not' && (form === 'Eb' || form === 'Ev')) {
    outcome = rmw(x, la, size, (a, ah) => {
      c.hi = ~ah;
      return trunc(~a, size);
    });
  } else if ((mnemonic === 'bts' || mnemonic === 'btr' || mnemonic === 'btc') && (form === 'Ev_Gv' || form === 'Ev_Ib')) {
    outcome = bitOp(x, i, la, mnemonic);
  } else {
    // Xen's emulator would take any other instruction that writes memory; see the file comment.
    outcome = 'unhandleable';
  }
  if (outcome === 'okay') {
    c.rip += i.len;
    c.setFlags(c.getFlags() & ~RF);
  }
  return outcome;
}

/** Register `n` at `size` bytes as [lo, hi]. */
function regValue(x: Ptwr, n: number, size: number): [number, number] {
  const c = x.v.cpu;
  const lo = c.getReg(n, size);
  return [lo, size === 8 ? c.hi : 0];
}

/** The immediate operand at `size` bytes as [lo, hi] (sign-extended to 64 bits for size 8). */
function immValue(i: Insn, size: number): [number, number] {
  return [trunc(i.imm, size), size === 8 ? i.immHi : 0];
}

/** Two sized values equal (sizes below 8 compare the low half only). */
function same(size: number, a: number, ah: number, b: number, bh: number): boolean {
  return (a | 0) === (b | 0) && (size !== 8 || (ah | 0) === (bh | 0));
}

/**
 * A read-modify-write of the memory operand: `op` computes the result (low half returned, high
 * half in `c.hi`) and sets the flags. Nothing is stored when the value is unchanged; a refused
 * store restores the flags.
 */
function rmw(x: Ptwr, la: number, size: number, op: (a: number, ah: number) => number): Outcome {
  const c = x.v.cpu;
  const old = x.read(la, size);
  if (old === undefined) return 'raised';
  const a = trunc(old[0] as number, size);
  const ah = size === 8 ? (old[1] as number) | 0 : 0;
  const flags = c.getFlags();
  const r = op(a, ah);
  const rh = size === 8 ? c.hi : 0;
  if (same(size, r, rh, a, ah)) return 'okay';
  if (!x.update(la, size, r, rh)) {
    c.setFlags(flags);
    return 'unhandleable';
  }
  return 'okay';
}

/** XCHG with memory: the register gets the old value; the store happens only if the value changes. */
function xchg(x: Ptwr, i: Insn, la: number, size: number): Outcome {
  const c = x.v.cpu;
  const old = x.read(la, size);
  if (old === undefined) return 'raised';
  const [s, sh] = regValue(x, i.reg, size);
  const a = trunc(old[0] as number, size);
  const ah = size === 8 ? (old[1] as number) | 0 : 0;
  if (!same(size, s, sh, a, ah) && !x.update(la, size, s, sh)) return 'unhandleable';
  c.setReg(i.reg, size, a, ah);
  return 'okay';
}

/** CMPXCHG: flags of CMP rAX, memory; equal → store the source; else rAX := memory (no store). */
function cmpxchg(x: Ptwr, i: Insn, la: number, size: number): Outcome {
  const c = x.v.cpu;
  const old = x.read(la, size);
  if (old === undefined) return 'raised';
  const d = trunc(old[0] as number, size);
  const dh = size === 8 ? (old[1] as number) | 0 : 0;
  const [acc, acch] = regValue(x, 0, size);
  if (same(size, acc, acch, d, dh)) {
    const [s, sh] = regValue(x, i.reg, size);
    if (!x.update(la, size, s, sh)) return 'unhandleable';
  } else c.setReg(0, size, d, dh);
  alu(c, AluOp.Cmp, size, acc, acch, d, dh);
  return 'okay';
}

/**
 * CMPXCHG8B / CMPXCHG16B (REX.W): rDX:rAX against memory; equal → store rCX:rBX, ZF = 1; else
 * rDX:rAX := memory (32-bit halves zero-extended), ZF = 0. A 16-byte store is refused (Xen's
 * cmpxchg handles at most 8 bytes), so only a failing CMPXCHG16B completes.
 */
function cmpxchgDouble(x: Ptwr, i: Insn, la: number): Outcome {
  const c = x.v.cpu;
  const wide = (i.rex & 8) !== 0;
  const old = x.read(la, wide ? 16 : 8);
  if (old === undefined) return 'raised';
  const [m0, m1, m2, m3] = old.map((w) => w | 0) as [number, number, number, number];
  const equal = wide
    ? m0 === c.reg64lo(0) && m1 === c.reg64hi(0) && m2 === c.reg64lo(2) && m3 === c.reg64hi(2)
    : m0 === c.reg32(0) && m1 === c.reg32(2);
  if (equal) {
    if (wide || !x.update(la, 8, c.reg32(3), c.reg32(1))) return 'unhandleable';
    c.setFlagBits(ZF, ZF);
    return 'okay';
  }
  if (wide) {
    c.setReg64(0, m0, m1);
    c.setReg64(2, m2, m3);
  } else {
    c.setReg32(0, m0);
    c.setReg32(2, m1);
  }
  c.setFlagBits(ZF, 0);
  return 'okay';
}

/**
 * BTS/BTR/BTC with memory: CF := the old bit (OF, SF, AF, PF left as they are, as the CPU core
 * does). A register bit offset addresses the operand-size word at EA + size·floor(offset / bits).
 */
function bitOp(x: Ptwr, i: Insn, la: number, mnemonic: string): Outcome {
  const c = x.v.cpu;
  const size = i.opsize;
  const bits = size * 8;
  let k: number;
  if (i.row.operands[1] === 'Ib') k = i.imm & (bits - 1);
  else {
    if (i.adsize !== 8) return 'unhandleable'; // 32-bit address wrap-around: not taken by a 64-bit kernel
    const b = c.getReg(i.reg, size);
    const off = size === 8 ? (c.hi | 0) * TWO32 + (b >>> 0) : size === 4 ? b | 0 : (b << 16) >> 16;
    la += Math.floor(off / bits) * size;
    k = ((off % bits) + bits) % bits;
  }
  const old = x.read(la, size);
  if (old === undefined) return 'raised';
  const a = trunc(old[0] as number, size);
  const ah = size === 8 ? (old[1] as number) | 0 : 0;
  const inHi = k >= 32;
  const mask = 1 << (k & 31);
  const word = inHi ? ah : a;
  const bit = (word & mask) !== 0;
  const nw = mnemonic === 'bts' ? word | mask : mnemonic === 'btr' ? word & ~mask : word ^ mask;
  const [r, rh] = inHi ? [a, nw] : [trunc(nw, size), ah];
  if (!same(size, r, rh, a, ah) && !x.update(la, size, r, rh)) return 'unhandleable';
  c.setFlagBits(CF, bit ? CF : 0);
  return 'okay';
}

function mod4096(la: number): number {
  return ((la % 4096) + 4096) % 4096;
}
