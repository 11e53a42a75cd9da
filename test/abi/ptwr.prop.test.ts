/**
 * Writable page tables against mmu_update, differentially: a guest kernel's store into its live
 * L1 through a read-only mapping (abi/pv/ptwr.ts) has exactly the effect of MMU_NORMAL_PT_UPDATE
 * of the entry the store makes (the bytes written merged into the current entry), or, where that
 * update fails, is the guest's #PF with nothing changed.
 *
 * Two identical domains (test/abi/pv-domain.ts, same pool seed, so the same MFNs) per case: in one
 * the guest runs MOV, XCHG or LOCK CMPXCHG of 1, 2, 4 or 8 bytes at an aligned offset of an entry
 * (after a random prior entry set by mmu_update in both); the other gets the mmu_update. After
 * each case the entry, every frame's counts and type, and the outcome agree. Values name the
 * domain's data frames, its page tables (writable refused), another domain's frame, MMIO and
 * nonsense, with random flags. Seeded from the run seed (test/support/fast-check-seed.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as X from '../../abi/public/xen.js';
import { pte, ptUpdate } from '../../abi/pv/mmu.js';
import { CODE, pvDomain, type PvDomain } from './pv-domain.js';

const HANDLERS = 0x6000;
const PF_HANDLER = HANDLERS + 14 * 16;
const L1_VA = 40 * 4096;
const K = 50;
const TWO32 = 4294967296;

interface Case {
  /** The entry before (set by mmu_update in both domains; a refused one leaves it empty). */
  prior: bigint;
  value: bigint;
  size: 1 | 2 | 4 | 8;
  /** Byte offset of the store within the entry (a multiple of size). */
  at: number;
  insn: 'mov' | 'xchg' | 'cmpxchg';
}

function domain(): { p: PvDomain; l1: number } {
  const p = pvDomain();
  for (let v = 0; v < 256; v++) {
    p.v.trapAddress[v] = HANDLERS + v * 16;
    p.write(HANDLERS + v * 16, new Uint8Array([0xeb, 0xfe]));
  }
  const l1 = p.p2m[3] as number;
  expect(p.d.mmu!.mmuUpdate(0, [ptUpdate(l1, 40, ...pte(l1, 0x21))]).rc).toBe(0);
  expect(p.call(X.__HYPERVISOR_vm_assist, X.VMASST_CMD_enable, X.VMASST_TYPE_writable_pagetables)).toBe(0);
  return { p, l1 };
}

const halves = (x: bigint): [number, number] => [Number(x & 0xffffffffn), Number((x >> 32n) & 0xffffffffn)];

function entry(p: PvDomain, l1: number): bigint {
  const v = p.mem.view(l1);
  return (BigInt(v.getUint32(K * 8 + 4, true)) << 32n) | BigInt(v.getUint32(K * 8, true));
}

/** REX.W / 66 / byte-form prefix and opcode bytes of `insn` at `size`, ModRM 00 000 011 ([rbx], reg rax/rcx). */
function encode(insn: Case['insn'], size: number): number[] {
  const pre = size === 8 ? [0x48] : size === 2 ? [0x66] : [];
  const byte = size === 1;
  switch (insn) {
    case 'mov':
      return [...pre, byte ? 0x88 : 0x89, 0x03]; // mov %al/%ax/%eax/%rax,(%rbx)
    case 'xchg':
      return [...pre, byte ? 0x86 : 0x87, 0x03]; // xchg %rax,(%rbx)
    case 'cmpxchg':
      return [0xf0, ...pre, 0x0f, byte ? 0xb0 : 0xb1, 0x0b]; // lock cmpxchg %rcx,(%rbx)
  }
}

/** Every frame's general count, type and type count, in both domains' pools. */
function counts(p: PvDomain): number[] {
  const out: number[] = [];
  for (let mfn = 0; mfn < 4096; mfn++) out.push(p.mem.count[mfn] as number, p.mem.type[mfn] as number, p.mem.typeCount[mfn] as number);
  return out;
}

describe('writable page tables = mmu_update of the merged entry', () => {
  it('entry, counts and outcome agree for MOV / XCHG / LOCK CMPXCHG of 1-8 bytes', () => {
    const probe = domain().p;
    const own = [...probe.p2m.slice(33, 40), ...probe.p2m.slice(0, 4)]; // data frames, then L4 L3 L2 L1
    const frames = [...own, probe.other[0] as number, 5, 0xffffffffff, 0x123456789];
    const flags = fc.oneof(
      fc.constantFrom(0x1, 0x3, 0x21, 0x63, 0x7, 0x0, 0x2),
      fc.integer({ min: 0, max: 0xfff }),
    );
    const pteArb = fc.oneof(
      { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...frames), flags, fc.boolean()).map(([f, fl, nx]) => (BigInt(f) << 12n) | BigInt(fl) | (nx ? 1n << 63n : 0n)) },
      { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) },
    );
    const caseArb: fc.Arbitrary<Case> = fc
      .record({ prior: pteArb, value: pteArb, size: fc.constantFrom(1, 2, 4, 8) as fc.Arbitrary<1 | 2 | 4 | 8>, slot: fc.nat(7), insn: fc.constantFrom('mov', 'xchg', 'cmpxchg') as fc.Arbitrary<Case['insn']> })
      .map(({ slot, size, ...rest }) => ({ ...rest, size, at: (slot * size) % 8 }));
    fc.assert(
      fc.property(caseArb, (c) => {
        const a = domain();
        const b = domain();
        for (const w of [a, b]) w.p.d.mmu!.mmuUpdate(0, [ptUpdate(w.l1, K, ...halves(c.prior))]);
        const before = entry(a.p, a.l1);
        const shift = BigInt(c.at * 8);
        const mask = ((1n << BigInt(c.size * 8)) - 1n) << shift;
        const merged = (before & ~mask) | ((c.value << shift) & mask);
        const old = (before & mask) >> shift;
        // The guest: RBX the entry, RAX (RCX for CMPXCHG) the value, RAX the current bytes for CMPXCHG.
        const p = a.p;
        p.write(CODE, new Uint8Array([...encode(c.insn, c.size), 0xeb, 0xfe]));
        const src = c.value & ((1n << BigInt(c.size * 8)) - 1n);
        p.v.setReg(3, L1_VA + K * 8 + c.at);
        p.v.cpu.setReg64(c.insn === 'cmpxchg' ? 1 : 0, ...halves(src).map((h) => h | 0) as [number, number]);
        if (c.insn === 'cmpxchg') p.v.cpu.setReg64(0, ...halves(old).map((h) => h | 0) as [number, number]);
        p.v.cpu.rip = CODE;
        p.v.cpu.run(20);
        // The hypercall.
        const rc = b.p.d.mmu!.mmuUpdate(0, [ptUpdate(b.l1, K, ...halves(merged))]).rc;
        const len = encode(c.insn, c.size).length;
        if (rc === 0) {
          expect(p.v.cpu.rip).toBe(CODE + len);
          if (c.insn === 'xchg') expect(BigInt(p.v.cpu.reg64lo(0) >>> 0) + BigInt(p.v.cpu.reg64hi(0) >>> 0) * BigInt(TWO32) & ((1n << BigInt(c.size * 8)) - 1n)).toBe(old);
        } else {
          expect(p.v.cpu.rip).toBe(PF_HANDLER);
          expect(entry(p, a.l1)).toBe(before);
        }
        expect(entry(p, a.l1)).toBe(entry(b.p, b.l1));
        expect(counts(p)).toEqual(counts(b.p));
      }),
      { numRuns: 60 },
    );
  });
});
