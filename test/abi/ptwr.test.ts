/**
 * Writable page tables (abi/pv/ptwr.ts) against Xen 4.17's pv/ro-page-fault.c: with VMASST
 * writable_pagetables a guest kernel's store into its own live L1 through a read-only mapping is
 * emulated (validated and stored as mmu_update would, references moved, RIP past the
 * instruction); every refusal is the #PF the guest would have had, with nothing changed.
 *
 * The domain is test/abi/pv-domain.ts's: its L1 (PFN 3) maps PFN k at VA k·4096 for k = 4..31
 * and is mapped read-only at VA 40·4096 here, so entry k of it is at L1_VA + 8k.
 */
import { describe, expect, it } from 'vitest';
import { F_VALIDATED, PageType } from '../../abi/hv/machine.js';
import { XEN_EBUSY } from '../../abi/public/errno.js';
import * as X from '../../abi/public/xen.js';
import { pte, ptUpdate } from '../../abi/pv/mmu.js';
import { CODE, pvDomain, type PvDomain } from './pv-domain.js';

const HANDLERS = 0x6000;
const handler = (vector: number): number => HANDLERS + vector * 16;
const JMP_SELF = [0xeb, 0xfe];

const P = 0x1;
const RW = 0x2;
const US = 0x4;
const A = 0x20;
const D = 0x40;
const PCD = 0x10;
/** Xen's guest-kernel mark (bit 52) in the high half. */
const GUEST_KERNEL_HI = 1 << 20;

/** Where the L1 is mapped read-only, and the entry the tests change (VA 50·4096, unused). */
const L1_VA = 40 * 4096;
const L2_VA = 41 * 4096;
const K = 50;
const entryVa = (k: number): number => L1_VA + k * 8;

interface World {
  p: PvDomain;
  l1: number;
  l2: number;
  /** Frames of the domain mapped nowhere. */
  free: [number, number];
  entry(k: number, table?: number): [number, number];
  /** Runs `code` then `jmp $` from CODE, registers set first. */
  run(code: readonly number[], regs?: Record<number, number | [number, number]>, limit?: number): void;
  /** The error code and RIP of the bounce frame at RSP (after an exception with an error code). */
  frame(): { error: number; rip: number };
}

function world(assist = true): World {
  const p = pvDomain();
  for (let v = 0; v < 256; v++) {
    p.v.trapAddress[v] = handler(v);
    p.write(handler(v), new Uint8Array(JMP_SELF));
  }
  const [, , l2, l1] = p.p2m as [number, number, number, number];
  const mmu = p.d.mmu!;
  expect(mmu.mmuUpdate(0, [ptUpdate(l1, 40, ...pte(l1, P | A)), ptUpdate(l1, 41, ...pte(l2, P | A))]).rc).toBe(0);
  if (assist) expect(p.call(X.__HYPERVISOR_vm_assist, X.VMASST_CMD_enable, X.VMASST_TYPE_writable_pagetables)).toBe(0);
  const entry = (k: number, table = l1): [number, number] => [p.mem.view(table).getUint32(k * 8, true), p.mem.view(table).getUint32(k * 8 + 4, true)];
  const run = (code: readonly number[], regs: Record<number, number | [number, number]> = {}, limit = 50) => {
    p.write(CODE, new Uint8Array([...code, ...JMP_SELF]));
    for (const [n, v] of Object.entries(regs)) {
      if (typeof v === 'number') p.v.setReg(Number(n), v);
      else p.v.cpu.setReg64(Number(n), v[0] | 0, v[1] | 0);
    }
    p.v.cpu.rip = CODE;
    p.v.cpu.run(limit);
  };
  const frame = () => {
    const [, , error, rip] = p.readU64(p.v.reg(4), 4) as [number, number, number, number];
    return { error, rip };
  };
  return { p, l1, l2, free: [p.p2m[33] as number, p.p2m[34] as number], entry, run, frame };
}

/** An entry as Xen stores a guest kernel's present L1 entry without USER: USER and bit 52 added. */
function kernelEntry(mfn: number, flags: number): [number, number] {
  const [lo, hi] = pte(mfn, flags | US);
  return [lo, (hi | GUEST_KERNEL_HI) >>> 0];
}

const RAX = 0;
const RCX = 1;
const RDX = 2;
const RBX = 3;
const RSI = 6;

describe('writable page tables: accepted writes', () => {
  it('an 8-byte MOV of a valid PTE is validated, adjusted and stored; the references move; the mapping works', () => {
    const w = world();
    const data = w.free[0];
    w.p.mem.view(data).setUint32(0, 0x5a5aa5a5, true);
    const count = w.p.mem.count[data] as number;
    // mov %rax,(%rbx); mov (%rsi),%rcx
    w.run([0x48, 0x89, 0x03, 0x48, 0x8b, 0x0e], { [RAX]: pte(data, P | RW | A | D), [RBX]: entryVa(K), [RSI]: K * 4096 });
    expect(w.p.v.cpu.rip).toBe(CODE + 6);
    expect(w.entry(K)).toEqual(kernelEntry(data, P | RW | A | D));
    expect(w.p.mem.count[data]).toBe(count + 1);
    expect(w.p.mem.type[data]).toBe(PageType.Writable);
    expect(w.p.mem.typeCount[data]).toBe(1);
    expect(w.p.v.cpu.reg32(RCX) >>> 0).toBe(0x5a5aa5a5);
    expect(w.p.v.cpu.getFlags() & 0x10000).toBe(0); // RF clear after an emulated instruction
  });

  it('two 4-byte halves: each is merged with the rest of the entry and validated as a whole', () => {
    const w = world();
    const data = w.free[0];
    const [lo] = pte(data, P | A);
    const count = w.p.mem.count[data] as number;
    // mov %edx,4(%rbx) (NX, the entry still not present); mov %eax,(%rbx) (present now)
    w.run([0x89, 0x53, 0x04, 0x89, 0x03], { [RAX]: lo, [RDX]: 0x80000000, [RBX]: entryVa(K) });
    expect(w.p.v.cpu.rip).toBe(CODE + 5);
    expect(w.entry(K)).toEqual([(lo | US) >>> 0, (0x80000000 | GUEST_KERNEL_HI) >>> 0]);
    expect(w.p.mem.count[data]).toBe(count + 1);
    expect(w.p.mem.typeCount[data]).toBe(0); // read-only: no writable type
  });

  it('XCHG stores the register and returns the old entry, whose references are dropped', () => {
    const w = world();
    const data = w.free[1];
    const count = w.p.mem.count[data] as number;
    expect(w.p.d.mmu!.mmuUpdate(0, [ptUpdate(w.l1, K, ...pte(data, P | RW))]).rc).toBe(0);
    expect(w.p.mem.count[data]).toBe(count + 1);
    const old = w.entry(K);
    // xchg %rax,(%rbx)
    w.run([0x48, 0x87, 0x03], { [RAX]: 0, [RBX]: entryVa(K) });
    expect(w.p.v.cpu.rip).toBe(CODE + 3);
    expect(w.entry(K)).toEqual([0, 0]);
    expect([w.p.v.cpu.reg64lo(RAX) >>> 0, w.p.v.cpu.reg64hi(RAX) >>> 0]).toEqual(old);
    expect(w.p.mem.count[data]).toBe(count);
    expect(w.p.mem.typeCount[data]).toBe(0);
  });

  it('LOCK CMPXCHG: equal stores the source (ZF set); different loads RAX and stores nothing (ZF clear), without a #PF', () => {
    const w = world();
    const data = w.free[0];
    const cmpxchg = [0xf0, 0x48, 0x0f, 0xb1, 0x0b]; // lock cmpxchg %rcx,(%rbx)
    w.run(cmpxchg, { [RAX]: 0, [RCX]: pte(data, P | A), [RBX]: entryVa(K) });
    expect(w.p.v.cpu.rip).toBe(CODE + 5);
    expect(w.entry(K)).toEqual(kernelEntry(data, P | A));
    expect(w.p.v.cpu.getFlags() & 0x40).toBe(0x40);
    const stored = w.entry(K);
    w.run(cmpxchg, { [RAX]: 0, [RCX]: pte(w.free[1], P | A), [RBX]: entryVa(K) });
    expect(w.p.v.cpu.rip).toBe(CODE + 5);
    expect(w.entry(K)).toEqual(stored);
    expect([w.p.v.cpu.reg64lo(RAX) >>> 0, w.p.v.cpu.reg64hi(RAX) >>> 0]).toEqual(stored);
    expect(w.p.v.cpu.getFlags() & 0x40).toBe(0);
  });

  it('LOCK OR of RW into an entry mapping a data frame: the frame takes the writable type', () => {
    const w = world();
    const data = w.free[0];
    expect(w.p.d.mmu!.mmuUpdate(0, [ptUpdate(w.l1, K, ...pte(data, P))]).rc).toBe(0);
    // lock orq $2,(%rbx)
    w.run([0xf0, 0x48, 0x83, 0x0b, 0x02], { [RBX]: entryVa(K) });
    expect(w.p.v.cpu.rip).toBe(CODE + 5);
    expect(w.entry(K)).toEqual(kernelEntry(data, P | RW));
    expect(w.p.mem.typeCount[data]).toBe(1);
  });

  it('LOCK BTR clears RW of a present entry: the writable type reference goes, CF is the old bit', () => {
    const w = world();
    const data = w.free[0];
    expect(w.p.d.mmu!.mmuUpdate(0, [ptUpdate(w.l1, K, ...pte(data, P | RW))]).rc).toBe(0);
    expect(w.p.mem.typeCount[data]).toBe(1);
    // lock btrq $1,(%rbx)
    w.run([0xf0, 0x48, 0x0f, 0xba, 0x33, 0x01], { [RBX]: entryVa(K) });
    expect(w.p.v.cpu.rip).toBe(CODE + 6);
    expect(w.entry(K)[0] & RW).toBe(0);
    expect(w.p.mem.typeCount[data]).toBe(0);
    expect(w.p.v.cpu.getFlags() & 1).toBe(1);
  });

  it('replacing the entry of a grant mapping is an implicit unmap: the store is done, then #GP(0) after the instruction', () => {
    const w = world();
    const data = w.free[0];
    // An entry as the grant code writes one (_PAGE_GNTTAB, bit 62), holding its general reference.
    const [lo, hi] = kernelEntry(data, P | A);
    w.p.mem.view(w.l1).setUint32(K * 8, lo, true);
    w.p.mem.view(w.l1).setUint32(K * 8 + 4, (hi | 0x40000000) >>> 0, true);
    w.p.mem.count[data] = (w.p.mem.count[data] as number) + 1;
    const count = w.p.mem.count[data] as number;
    w.run([0x48, 0x89, 0x03], { [RAX]: 0, [RBX]: entryVa(K) });
    expect(w.entry(K)).toEqual([0, 0]);
    expect(w.p.mem.count[data]).toBe(count - 1);
    expect(w.p.v.cpu.rip).toBe(handler(13));
    expect(w.frame()).toEqual({ error: 0, rip: CODE + 3 });
  });

  it('with RFLAGS.TF the emulated instruction is followed by #DB, RIP past it', () => {
    const w = world();
    w.p.v.cpu.setFlags(w.p.v.cpu.getFlags() | 0x100);
    w.run([0x48, 0x89, 0x03], { [RAX]: pte(w.free[0], P | A), [RBX]: entryVa(K) }, 1);
    expect(w.entry(K)).toEqual(kernelEntry(w.free[0], P | A));
    expect(w.p.v.cpu.rip).toBe(handler(1));
    expect(w.p.readU64(w.p.v.reg(4), 3)[2]).toBe(CODE + 3); // no error code: RIP is the third word
  });
});

describe('writable page tables: refusals are the original #PF', () => {
  /** The #PF reached the guest at the instruction, for `address`, with `error`; the entry is unchanged. */
  function expectPageFault(w: World, address: number, error: number, before: [number, number], k = K, table = w.l1): void {
    expect(w.p.v.cpu.rip).toBe(handler(14));
    expect(w.p.v.virtualCr2).toBe(address);
    expect(w.frame()).toEqual({ error, rip: CODE });
    expect(w.entry(k, table)).toEqual(before);
  }

  it('a write that would map a page-table page writable (-EBUSY for mmu_update) is refused', () => {
    const w = world();
    expect(w.p.d.mmu!.mmuUpdate(0, [ptUpdate(w.l1, K, ...pte(w.l2, P | RW))]).rc).toBe(-XEN_EBUSY);
    const counts = [w.p.mem.count[w.l2], w.p.mem.typeCount[w.l2]];
    w.run([0x48, 0x89, 0x03], { [RAX]: pte(w.l2, P | RW | A), [RBX]: entryVa(K) });
    expectPageFault(w, entryVa(K), P | RW, [0, 0]);
    expect([w.p.mem.count[w.l2], w.p.mem.typeCount[w.l2]]).toEqual(counts);
    expect(w.p.mem.flags[w.l2]! & F_VALIDATED).not.toBe(0);
  });

  it('a frame the domain does not own is refused', () => {
    const w = world();
    w.run([0x48, 0x89, 0x03], { [RAX]: pte(w.p.other[0] as number, P | A), [RBX]: entryVa(K) });
    expectPageFault(w, entryVa(K), P | RW, [0, 0]);
  });

  it('bad flags (PCD without I/O rights) are refused', () => {
    const w = world();
    w.run([0x48, 0x89, 0x03], { [RAX]: pte(w.free[0], P | PCD), [RBX]: entryVa(K) });
    expectPageFault(w, entryVa(K), P | RW, [0, 0]);
  });

  it('an L2 table mapped read-only is not write-emulated (only L1 tables are)', () => {
    const w = world();
    const before = w.entry(5, w.l2);
    w.run([0x48, 0x89, 0x03], { [RAX]: pte(w.free[0], P | A), [RBX]: L2_VA + 5 * 8 });
    expectPageFault(w, L2_VA + 5 * 8, P | RW, before, 5, w.l2);
  });

  it('a write from guest user mode is not emulated (#PF with the user bit)', () => {
    const w = world();
    const mmu = w.p.d.mmu!;
    // A user-accessible read-only mapping of the L1, and user mode on the kernel's root.
    expect(mmu.mmuUpdate(0, [ptUpdate(w.l1, 40, ...pte(w.l1, P | US | A))]).rc).toBe(0);
    w.p.v.guestTableUser = w.p.v.guestTable;
    w.p.v.kernelSp = 0x20000;
    w.p.v.toggleMode();
    w.run([0x48, 0x89, 0x03], { [RAX]: pte(w.free[0], P | A), [RBX]: entryVa(K) });
    expect(w.p.v.kernelMode).toBe(true);
    expectPageFault(w, entryVa(K), P | RW | US, [0, 0]);
  });

  it('without VMASST writable_pagetables the write is the guest #PF', () => {
    const w = world(false);
    w.run([0x48, 0x89, 0x03], { [RAX]: pte(w.free[0], P | A), [RBX]: entryVa(K) });
    expectPageFault(w, entryVa(K), P | RW, [0, 0]);
  });

  it('a misaligned store is refused', () => {
    const w = world();
    // mov %eax,2(%rbx)
    w.run([0x89, 0x43, 0x02], { [RAX]: 0, [RBX]: entryVa(K) });
    expectPageFault(w, entryVa(K) + 2, P | RW, [0, 0]);
  });

  it('a 16-byte store is refused (Xen handles 1, 2, 4 or 8 bytes)', () => {
    const w = world();
    // movdqu %xmm0,(%rbx)
    w.run([0xf3, 0x0f, 0x7f, 0x03], { [RBX]: entryVa(K) });
    expectPageFault(w, entryVa(K), P | RW, [0, 0]);
  });

  it('a read-only data page (not a page table) is the guest #PF', () => {
    const w = world();
    expect(w.p.d.mmu!.mmuUpdate(0, [ptUpdate(w.l1, K, ...pte(w.free[0], P))]).rc).toBe(0);
    w.run([0x48, 0x89, 0x03], { [RAX]: 0, [RBX]: K * 4096 });
    expectPageFault(w, K * 4096, P | RW, w.entry(K));
    expect(w.p.mem.view(w.free[0]).getUint32(0, true)).toBe(0);
  });

  it('a refused read-modify-write leaves the flags as they were', () => {
    const w = world();
    expect(w.p.d.mmu!.mmuUpdate(0, [ptUpdate(w.l1, K, ...pte(w.l2, P))]).rc).toBe(0);
    const before = w.entry(K);
    w.p.v.cpu.setFlags(0x202 | 0x1 | 0x40); // CF, ZF
    // lock orq $2,(%rbx): RW on a mapping of the L2
    w.run([0xf0, 0x48, 0x83, 0x0b, 0x02], { [RBX]: entryVa(K) });
    expectPageFault(w, entryVa(K), P | RW, before);
    const rflags = w.p.readU64(w.p.v.reg(4), 6)[5] as number;
    expect(rflags & 0x41).toBe(0x41);
  });
});
