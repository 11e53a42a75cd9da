/**
 * GNTMAP_host_map through the PV MMU (abi/pv/grant-mapping.ts) against Xen 4.17's
 * `create_grant_pv_mapping` / `replace_grant_pv_mapping` (xen/arch/x86/pv/grant_table.c) and
 * `put_page_from_l1e` (xen/arch/x86/mm.c): the PTE a mapping writes, by linear address and by
 * PTE address, every refusal, who holds the references, unmap and unmap_and_replace, the
 * implicit unmap (#GP) of a grant PTE dropped by mmu_update, the domain teardown rule, and, on
 * the x86 core, two domains sharing a page through it.
 */
import { describe, expect, it } from 'vitest';
import { GrantHub } from '../../abi/gnttab/grants.js';
import type { GrantTable } from '../../abi/gnttab/table.js';
import { MachineMemory, PageType } from '../../abi/hv/machine.js';
import { pteFlags, pteMfn, _PAGE_GNTTAB } from '../../abi/hv/page-types.js';
import { View } from '../../abi/layout/view.js';
import { XEN_EBUSY, XEN_EINVAL } from '../../abi/public/errno.js';
import * as G from '../../abi/public/grant-table.js';
import { layout } from '../../abi/public/index.js';
import { MMUEXT_UNPIN_TABLE, MMUEXT_PIN_L1_TABLE, __HYPERVISOR_grant_table_op, __HYPERVISOR_mmu_update, __HYPERVISOR_mmuext_op } from '../../abi/public/xen.js';
import { grantToPteFlags, pvGrantMapperOf } from '../../abi/pv/grant-mapping.js';
import { pte, ptUpdate } from '../../abi/pv/mmu.js';
import { ARG, CODE, GP_HANDLER, GVA, GVA2, NO_L1_VA, OWN_PFN, OWN_VA, PF_HANDLER, REF, STACK, counts, entries, entry, grant, world, type Guest, type World } from './grant-world.js';

const MAP = layout('gnttab_map_grant_ref', 'x86_64');
const UNMAP = layout('gnttab_unmap_grant_ref', 'x86_64');
const REPLACE = layout('gnttab_unmap_and_replace', 'x86_64');

/** GNTTABOP_map_grant_ref of one element through the hypercall: [status, handle]. */
function mapOp(g: Guest, hostAddr: number | bigint, flags: number, ref: number, dom: number): [number, number] {
  const v = View.of(MAP, g.page(ARG / 4096), 0);
  v.setBig('host_addr', BigInt.asUintN(64, BigInt(hostAddr)));
  v.set('flags', flags);
  v.set('ref', ref);
  v.set('dom', dom);
  v.set('status', 99);
  expect(g.call(__HYPERVISOR_grant_table_op, G.GNTTABOP_map_grant_ref, ARG, 1)).toBe(0);
  return [v.get('status'), v.get('handle')];
}

function unmapOp(g: Guest, hostAddr: number | bigint, handle: number): number {
  const v = View.of(UNMAP, g.page(ARG / 4096), 0);
  v.setBig('host_addr', BigInt.asUintN(64, BigInt(hostAddr)));
  v.setBig('dev_bus_addr', 0n);
  v.set('handle', handle);
  expect(g.call(__HYPERVISOR_grant_table_op, G.GNTTABOP_unmap_grant_ref, ARG, 1)).toBe(0);
  return v.get('status');
}

function replaceOp(g: Guest, hostAddr: number | bigint, newAddr: number | bigint, handle: number): number {
  const v = View.of(REPLACE, g.page(ARG / 4096), 0);
  v.setBig('host_addr', BigInt.asUintN(64, BigInt(hostAddr)));
  v.setBig('new_addr', BigInt.asUintN(64, BigInt(newAddr)));
  v.set('handle', handle);
  v.set('status', 99);
  expect(g.call(__HYPERVISOR_grant_table_op, G.GNTTABOP_unmap_and_replace, ARG, 1)).toBe(0);
  return v.get('status');
}

/** One mmu_update request from `g`: entry `index` of table `l1` := lo/hi. */
function mmuUpdate(g: Guest, l1: number, index: number, e: [number, number]): number {
  const r = ptUpdate(l1, index, e[0], e[1]);
  const dv = g.page(ARG / 4096 + 1);
  dv.setUint32(0, r.ptrLo, true);
  dv.setUint32(4, r.ptrHi, true);
  dv.setUint32(8, r.valLo, true);
  dv.setUint32(12, r.valHi, true);
  return g.call(__HYPERVISOR_mmu_update, ARG + 4096, 1, 0, 0x7ff0);
}

const inUse = (t: GrantTable, ref: number): number => t.readStatus(ref) & (G.GTF_reading | G.GTF_writing);

describe('GNTMAP_host_map: the PTE Xen writes', () => {
  it('a writable mapping by linear address: P, A, D, NX, RW, the grant bit, and the kernel adjustment (USER + bit 52)', () => {
    const w = world();
    const mfn = grant(w.a, REF, 2, 20);
    const before = counts(w, mfn);
    const [st, handle] = mapOp(w.b, GVA, G.GNTMAP_host_map, REF, 1);
    expect(st).toBe(G.GNTST_okay);
    const [lo, hi] = entry(w, w.b.l1, GVA / 4096);
    expect(pteMfn(lo, hi)).toBe(mfn);
    // P|RW|US|A|D, bit 52 (guest kernel), bit 62 (grant), bit 63 (NX).
    expect(pteFlags(lo, hi)).toBe(0x067 | (1 << 12) | _PAGE_GNTTAB | (1 << 23));
    // One general and one writable type reference, held for the PTE.
    expect(counts(w, mfn)).toEqual([before[0] + 1, before[1] + 1]);
    expect(w.mem.type[mfn]).toBe(PageType.Writable);
    expect(inUse(w.a.table, REF)).toBe(G.GTF_reading | G.GTF_writing);
    expect(w.hub.mappings()).toEqual([{ mapper: 2, handle, granter: 1, ref: REF, flags: G.GNTMAP_host_map }]);
  });

  it('GNTMAP_readonly: no RW and no type reference', () => {
    const w = world();
    const mfn = grant(w.a, REF, 2, 20, true);
    const before = counts(w, mfn);
    expect(mapOp(w.b, GVA, G.GNTMAP_host_map | G.GNTMAP_readonly, REF, 1)[0]).toBe(G.GNTST_okay);
    const [lo, hi] = entry(w, w.b.l1, GVA / 4096);
    expect(pteFlags(lo, hi) & 0xfff).toBe(0x065);
    expect(counts(w, mfn)).toEqual([before[0] + 1, before[1]]);
  });

  it('GNTMAP_application_map: USER from the grant, so Xen adds GLOBAL and no guest-kernel bit', () => {
    const w = world();
    grant(w.a, REF, 2, 20);
    expect(mapOp(w.b, GVA, G.GNTMAP_host_map | G.GNTMAP_application_map, REF, 1)[0]).toBe(G.GNTST_okay);
    const [lo, hi] = entry(w, w.b.l1, GVA / 4096);
    expect(pteFlags(lo, hi)).toBe(0x167 | _PAGE_GNTTAB | (1 << 23));
  });

  it('the GNTMAP_guest_avail bits go to PTE bits 11:9', () => {
    expect(grantToPteFlags(G.GNTMAP_host_map | (5 << 16), 0) & 0xe00).toBe(5 << 9);
    expect(grantToPteFlags(G.GNTMAP_host_map | (0xff << 16), 0) & 0xe00).toBe(7 << 9);
    // The grant's cache flags (I/O memory only): GTF_PWT/PCD/PAT → PWT/PCD/PAT.
    expect(grantToPteFlags(G.GNTMAP_host_map, G.GTF_PWT | G.GTF_PAT) & 0x98).toBe(0x88);
    const w = world();
    grant(w.a, REF, 2, 20);
    expect(mapOp(w.b, GVA, G.GNTMAP_host_map | (3 << 16), REF, 1)[0]).toBe(G.GNTST_okay);
    expect(entry(w, w.b.l1, GVA / 4096)[0] & 0xe00).toBe(3 << 9);
  });

  it('GNTMAP_contains_pte: host_addr is the machine address of an entry of one of the caller\'s L1 tables', () => {
    const w = world();
    const mfn = grant(w.a, REF, 2, 20);
    const ptAddr = w.b.l1 * 4096 + (GVA2 / 4096) * 8;
    const [st, handle] = mapOp(w.b, ptAddr, G.GNTMAP_host_map | G.GNTMAP_contains_pte, REF, 1);
    expect(st).toBe(G.GNTST_okay);
    expect(pteMfn(...entry(w, w.b.l1, GVA2 / 4096))).toBe(mfn);
    expect(unmapOp(w.b, ptAddr, handle)).toBe(G.GNTST_okay);
    expect(entry(w, w.b.l1, GVA2 / 4096)).toEqual([0, 0]);
  });

  it('an old present entry is replaced and released as mmu_update would (Xen checks nothing about it)', () => {
    const w = world();
    grant(w.a, REF, 2, 20);
    const own = w.b.p2m[OWN_PFN] as number;
    const before = counts(w, own);
    expect(mapOp(w.b, OWN_VA, G.GNTMAP_host_map, REF, 1)[0]).toBe(G.GNTST_okay);
    expect(counts(w, own)).toEqual([before[0] - 1, before[1] - 1]);
    // Not a grant entry: no #GP.
    expect(w.b.v.cpu.rip).not.toBe(GP_HANDLER);
  });
});

describe('GNTMAP_host_map: refusals (GNTST_general_error, nothing left pinned or referenced)', () => {
  const cases: [string, (w: World) => number | bigint, number][] = [
    ['a linear address with no L1 table', () => NO_L1_VA, 0],
    ['a linear address in Xen\'s range', () => -0x800000000000 + 0x1000, 0],
    ['a non-canonical linear address', () => 0x0000900000000000n, 0],
    ['a misaligned PTE address', (w) => w.b.l1 * 4096 + 4, G.GNTMAP_contains_pte],
    ['a PTE address in a frame that is not a page table', (w) => (w.b.p2m[20] as number) * 4096, G.GNTMAP_contains_pte],
    ['a PTE address in the caller\'s L2', (w) => (w.b.p2m[2] as number) * 4096 + 8 * 5, G.GNTMAP_contains_pte],
    ['a PTE address in another domain\'s L1', (w) => w.a.l1 * 4096 + 8 * 64, G.GNTMAP_contains_pte],
    ['a PTE address beyond machine memory', () => 0x7fff_0000_0000n, G.GNTMAP_contains_pte],
  ];
  for (const [what, addr, extra] of cases) {
    it(what, () => {
      const w = world();
      const mfn = grant(w.a, REF, 2, 20);
      const before = counts(w, mfn);
      const l1Before = entries(w, w.b.l1);
      expect(mapOp(w.b, addr(w), G.GNTMAP_host_map | extra, REF, 1)[0]).toBe(G.GNTST_general_error);
      expect(counts(w, mfn)).toEqual(before);
      expect(inUse(w.a.table, REF)).toBe(0);
      expect(w.hub.mappings()).toEqual([]);
      expect(entries(w, w.b.l1)).toEqual(l1Before);
    });
  }

  it('a PTE address in an L1 that is no longer validated (unpinned, out of every tree)', () => {
    const w = world();
    grant(w.a, REF, 2, 20);
    const spare = w.b.p2m[40] as number;
    // PFN 40 is mapped nowhere: pin it as an L1, then unpin it again.
    expect(w.b.mmu.mmuextOp(0, [{ cmd: MMUEXT_PIN_L1_TABLE, arg1: spare, arg2: 0 }]).rc).toBe(0);
    expect(mapOp(w.b, spare * 4096, G.GNTMAP_host_map | G.GNTMAP_contains_pte, REF, 1)[0]).toBe(G.GNTST_okay);
    const w2 = world();
    grant(w2.a, REF, 2, 20);
    const s2 = w2.b.p2m[40] as number;
    expect(w2.b.mmu.mmuextOp(0, [{ cmd: MMUEXT_PIN_L1_TABLE, arg1: s2, arg2: 0 }, { cmd: MMUEXT_UNPIN_TABLE, arg1: s2, arg2: 0 }]).rc).toBe(0);
    expect(mapOp(w2.b, s2 * 4096, G.GNTMAP_host_map | G.GNTMAP_contains_pte, REF, 1)[0]).toBe(G.GNTST_general_error);
  });

  it('without a PV mapper (the hub\'s default) a host mapping is refused', () => {
    const mem = new MachineMemory({ frames: 1024, seed: 1 });
    const hub = new GrantHub(mem);
    const a = hub.add(1);
    const b = hub.add(2);
    const [f] = mem.allocDomainMemory(1, 1) as number[];
    const e = new Uint8Array(8);
    new DataView(e.buffer).setUint16(0, G.GTF_permit_access, true);
    new DataView(e.buffer).setUint16(2, 2, true);
    new DataView(e.buffer).setUint32(4, f as number, true);
    a.writeEntryRaw(REF, e);
    expect(hub.map(b, { hostAddr: GVA, flags: G.GNTMAP_host_map, ref: REF, dom: 1 }).status).toBe(G.GNTST_general_error);
    expect(() => pvGrantMapperOf({ hostMapper: { create: () => 0, destroy: () => 0 } })).toThrow(/other than the PV one/);
  });
});

describe('unmap_grant_ref through the PV MMU', () => {
  it('clears the PTE, then the grant code drops the references', () => {
    const w = world();
    const mfn = grant(w.a, REF, 2, 20);
    const before = counts(w, mfn);
    const [, handle] = mapOp(w.b, GVA, G.GNTMAP_host_map, REF, 1);
    expect(unmapOp(w.b, GVA, handle)).toBe(G.GNTST_okay);
    expect(entry(w, w.b.l1, GVA / 4096)).toEqual([0, 0]);
    expect(counts(w, mfn)).toEqual(before);
    expect(inUse(w.a.table, REF)).toBe(0);
    expect(w.hub.mappings()).toEqual([]);
  });

  it('an address whose PTE does not map the granted frame: GNTST_general_error, the mapping stays', () => {
    const w = world();
    const mfn = grant(w.a, REF, 2, 20);
    const [, handle] = mapOp(w.b, GVA, G.GNTMAP_host_map, REF, 1);
    const held = counts(w, mfn);
    expect(unmapOp(w.b, OWN_VA, handle)).toBe(G.GNTST_general_error);
    expect(unmapOp(w.b, GVA2, handle)).toBe(G.GNTST_general_error);
    expect(unmapOp(w.b, NO_L1_VA, handle)).toBe(G.GNTST_general_error);
    expect(counts(w, mfn)).toEqual(held);
    expect(pteMfn(...entry(w, w.b.l1, GVA / 4096))).toBe(mfn);
    expect(unmapOp(w.b, GVA, handle)).toBe(G.GNTST_okay);
  });

  it('a PTE whose RW does not match the mapping\'s flags: GNTST_general_error', () => {
    const w = world();
    const mfn = grant(w.a, REF, 2, 20);
    const before = counts(w, mfn);
    const [, rw] = mapOp(w.b, GVA, G.GNTMAP_host_map, REF, 1);
    const [, ro] = mapOp(w.b, GVA2, G.GNTMAP_host_map | G.GNTMAP_readonly, REF, 1);
    // Each handle presented at the other's address: right frame, wrong RW.
    expect(unmapOp(w.b, GVA, ro)).toBe(G.GNTST_general_error);
    expect(unmapOp(w.b, GVA2, rw)).toBe(G.GNTST_general_error);
    expect(unmapOp(w.b, GVA, rw)).toBe(G.GNTST_okay);
    expect(unmapOp(w.b, GVA2, ro)).toBe(G.GNTST_okay);
    expect(counts(w, mfn)).toEqual(before);
  });

  it('the guest cannot change RW of a grant entry itself (a foreign frame for get_page_from_l1e: -EBUSY)', () => {
    const w = world();
    const mfn = grant(w.a, REF, 2, 20);
    mapOp(w.b, GVA, G.GNTMAP_host_map, REF, 1);
    const [lo, hi] = entry(w, w.b.l1, GVA / 4096);
    // Without the grant bit (with it, -EINVAL before anything else).
    expect(mmuUpdate(w.b, w.b.l1, GVA / 4096, [(lo & ~2) >>> 0, (hi & ~(1 << 30)) >>> 0])).toBe(-XEN_EBUSY);
    expect(entry(w, w.b.l1, GVA / 4096)).toEqual([lo, hi]);
    expect(pteMfn(lo, hi)).toBe(mfn);
  });
});

describe('implicit unmap: a grant PTE dropped by an ordinary page-table operation', () => {
  it('mmu_update over the grant entry succeeds, releases its references, and raises #GP; the handle can no longer unmap', () => {
    const w = world();
    const mfn = grant(w.a, REF, 2, 20);
    const before = counts(w, mfn);
    const [, handle] = mapOp(w.b, GVA, G.GNTMAP_host_map, REF, 1);
    w.b.v.cpu.rip = CODE;
    expect(mmuUpdate(w.b, w.b.l1, GVA / 4096, [0, 0])).toBe(0);
    expect(counts(w, mfn)).toEqual(before);
    expect(w.b.v.cpu.rip).toBe(GP_HANDLER);
    // The grant stays pinned; unmap finds no matching PTE.
    expect(inUse(w.a.table, REF)).toBe(G.GTF_reading | G.GTF_writing);
    expect(unmapOp(w.b, GVA, handle)).toBe(G.GNTST_general_error);
    // Destroying the domain unpins it; a PV domain's release takes no references (the PTE had them).
    w.hub.remove(2);
    expect(inUse(w.a.table, REF)).toBe(0);
    expect(counts(w, mfn)).toEqual(before);
  });

  it('an entry with the grant bit is refused in mmu_update (-EINVAL), and so in validation', () => {
    const w = world();
    const own = w.b.p2m[20] as number;
    const [lo, hi] = pte(own, 7);
    expect(mmuUpdate(w.b, w.b.l1, GVA / 4096, [lo, (hi | (1 << 30)) >>> 0])).toBe(-XEN_EINVAL);
  });

  it('rewriting the grant entry with the same frame and P/RW (Xen\'s fast path) keeps it mapped and unmappable', () => {
    const w = world();
    const mfn = grant(w.a, REF, 2, 20);
    const before = counts(w, mfn);
    const [, handle] = mapOp(w.b, GVA, G.GNTMAP_host_map, REF, 1);
    const [lo] = entry(w, w.b.l1, GVA / 4096);
    // Same frame, RW, without the grant bit (bits 63:52 are whitelisted).
    expect(mmuUpdate(w.b, w.b.l1, GVA / 4096, [lo, Math.floor(mfn / 0x100000)])).toBe(0);
    expect(w.b.v.cpu.rip).not.toBe(GP_HANDLER);
    expect(unmapOp(w.b, GVA, handle)).toBe(G.GNTST_okay);
    expect(counts(w, mfn)).toEqual(before);
  });

  it('unpinning an L1 that holds a grant entry devalidates it: references released, #GP', () => {
    const w = world();
    const mfn = grant(w.a, REF, 2, 20);
    const before = counts(w, mfn);
    const spare = w.b.p2m[40] as number;
    expect(w.b.mmu.mmuextOp(0, [{ cmd: MMUEXT_PIN_L1_TABLE, arg1: spare, arg2: 0 }]).rc).toBe(0);
    expect(mapOp(w.b, spare * 4096 + 16, G.GNTMAP_host_map | G.GNTMAP_contains_pte, REF, 1)[0]).toBe(G.GNTST_okay);
    expect(counts(w, mfn)).toEqual([before[0] + 1, before[1] + 1]);
    const ops = w.b.page(ARG / 4096 + 1);
    ops.setUint32(0, MMUEXT_UNPIN_TABLE, true);
    ops.setUint32(8, spare, true);
    ops.setUint32(12, 0, true);
    w.b.v.cpu.rip = CODE;
    expect(w.b.call(__HYPERVISOR_mmuext_op, ARG + 4096, 1, 0, 0x7ff0)).toBe(0);
    expect(counts(w, mfn)).toEqual(before);
    expect(w.b.v.cpu.rip).toBe(GP_HANDLER);
  });

  it('a dying domain gets no #GP', () => {
    const w = world();
    grant(w.a, REF, 2, 20);
    mapOp(w.b, GVA, G.GNTMAP_host_map, REF, 1);
    w.b.d.shutdown(0);
    w.b.v.cpu.rip = CODE;
    expect(mmuUpdate(w.b, w.b.l1, GVA / 4096, [0, 0])).toBe(0);
    expect(w.b.v.cpu.rip).toBe(CODE);
  });
});

describe('GNTTABOP_unmap_and_replace', () => {
  it('moves the entry of new_addr over host_addr and clears new_addr; the grant\'s references go, the moved entry keeps its own', () => {
    const w = world();
    const mfn = grant(w.a, REF, 2, 20);
    const own = w.b.p2m[OWN_PFN] as number;
    const g0 = counts(w, mfn);
    const o0 = counts(w, own);
    const [, handle] = mapOp(w.b, GVA, G.GNTMAP_host_map, REF, 1);
    const moved = entry(w, w.b.l1, OWN_VA / 4096);
    expect(replaceOp(w.b, GVA, OWN_VA, handle)).toBe(G.GNTST_okay);
    expect(entry(w, w.b.l1, GVA / 4096)).toEqual(moved);
    expect(entry(w, w.b.l1, OWN_VA / 4096)).toEqual([0, 0]);
    expect(counts(w, mfn)).toEqual(g0);
    expect(counts(w, own)).toEqual(o0);
    expect(inUse(w.a.table, REF)).toBe(0);
    expect(w.hub.mappings()).toEqual([]);
  });

  it('host_addr 0 does nothing and reports okay (Xen unmaps nothing and keeps the handle)', () => {
    const w = world();
    grant(w.a, REF, 2, 20);
    const [, handle] = mapOp(w.b, GVA, G.GNTMAP_host_map, REF, 1);
    expect(replaceOp(w.b, 0, OWN_VA, handle)).toBe(G.GNTST_okay);
    expect(w.hub.mappings().length).toBe(1);
    expect(entry(w, w.b.l1, OWN_VA / 4096)[0] & 1).toBe(1);
  });

  it('new_addr with GNTMAP_contains_pte: general_error, nothing touched', () => {
    const w = world();
    const mfn = grant(w.a, REF, 2, 20);
    const ptAddr = w.b.l1 * 4096 + (GVA / 4096) * 8;
    const [, handle] = mapOp(w.b, ptAddr, G.GNTMAP_host_map | G.GNTMAP_contains_pte, REF, 1);
    expect(replaceOp(w.b, ptAddr, OWN_VA, handle)).toBe(G.GNTST_general_error);
    expect(pteMfn(...entry(w, w.b.l1, GVA / 4096))).toBe(mfn);
    expect(entry(w, w.b.l1, OWN_VA / 4096)[0] & 1).toBe(1);
  });

  it('new_addr without an L1: general_error, nothing touched', () => {
    const w = world();
    grant(w.a, REF, 2, 20);
    const [, handle] = mapOp(w.b, GVA, G.GNTMAP_host_map, REF, 1);
    expect(replaceOp(w.b, GVA, NO_L1_VA, handle)).toBe(G.GNTST_general_error);
    expect(w.hub.mappings().length).toBe(1);
  });

  it('host_addr not mapping the grant: general_error after new_addr was already cleared, its references released (Xen\'s order)', () => {
    const w = world();
    grant(w.a, REF, 2, 20);
    const own = w.b.p2m[OWN_PFN] as number;
    const o0 = counts(w, own);
    const [, handle] = mapOp(w.b, GVA, G.GNTMAP_host_map, REF, 1);
    expect(replaceOp(w.b, GVA2, OWN_VA, handle)).toBe(G.GNTST_general_error);
    expect(entry(w, w.b.l1, OWN_VA / 4096)).toEqual([0, 0]);
    expect(counts(w, own)).toEqual([o0[0] - 1, o0[1] - 1]);
    expect(w.hub.mappings().length).toBe(1);
  });

  it('a bad handle: GNTST_bad_handle', () => {
    const w = world();
    expect(replaceOp(w.b, GVA, OWN_VA, 5)).toBe(G.GNTST_bad_handle);
    expect(replaceOp(w.b, GVA, OWN_VA, 1 << 30)).toBe(G.GNTST_bad_handle);
  });
});

describe('two domains sharing a page on the x86 core', () => {
  /** Runs B's vCPU from CODE over `code` for at most `limit` instructions. */
  function run(g: Guest, code: number[], limit = 20): void {
    const page = g.page(CODE / 4096);
    new Uint8Array(page.buffer, page.byteOffset, code.length).set(code);
    g.v.cpu.invalidateFrame(page);
    g.v.cpu.rip = CODE;
    g.v.setReg(4, STACK);
    g.v.cpu.run(limit);
  }
  // mov rax,[GVA]; mov [ARG+0x100],rax; mov rbx,imm64; mov [GVA+8],rbx; jmp $
  const READ_THEN_WRITE = [
    0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x04, 0x00,
    0x48, 0x89, 0x04, 0x25, 0x00, 0x01, 0x01, 0x00,
    0x48, 0xbb, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
    0x48, 0x89, 0x1c, 0x25, 0x08, 0x00, 0x04, 0x00,
    0xeb, 0xfe,
  ];

  it('B reads A\'s bytes through its grant mapping and writes back; A sees the write', () => {
    const w = world();
    grant(w.a, REF, 2, 20);
    w.a.page(20).setBigUint64(0, 0xfeedface12345678n, true);
    expect(mapOp(w.b, GVA, G.GNTMAP_host_map, REF, 1)[0]).toBe(G.GNTST_okay);
    run(w.b, READ_THEN_WRITE);
    expect(w.b.v.cpu.rip).toBe(CODE + READ_THEN_WRITE.length - 2);
    expect(w.b.page(ARG / 4096).getBigUint64(0x100, true)).toBe(0xfeedface12345678n);
    expect(w.a.page(20).getBigUint64(8, true)).toBe(0x1122334455667788n);
  });

  it('a read-only mapping: the read works, the write is a #PF (present, write) at the grant address', () => {
    const w = world();
    grant(w.a, REF, 2, 20, true);
    w.a.page(20).setBigUint64(0, 0x0123456789abcdefn, true);
    expect(mapOp(w.b, GVA, G.GNTMAP_host_map | G.GNTMAP_readonly, REF, 1)[0]).toBe(G.GNTST_okay);
    run(w.b, READ_THEN_WRITE);
    expect(w.b.page(ARG / 4096).getBigUint64(0x100, true)).toBe(0x0123456789abcdefn);
    expect(w.b.v.cpu.rip).toBe(PF_HANDLER);
    expect(w.b.v.virtualCr2).toBe(GVA + 8);
    // Bounce frame from kernel mode: rcx, r11, error code, rip, ...
    const sp = w.b.v.reg(4);
    const frame = new Uint8Array(24);
    expect(w.b.v.mem.read(sp, frame)).toBe(true);
    expect(new DataView(frame.buffer).getUint32(16, true)).toBe(3);
    expect(w.a.page(20).getBigUint64(8, true)).toBe(0n);
  });

  it('after unmap the address faults as not present (the TLB entry did not survive)', () => {
    const w = world();
    grant(w.a, REF, 2, 20);
    const [, handle] = mapOp(w.b, GVA, G.GNTMAP_host_map, REF, 1);
    run(w.b, READ_THEN_WRITE);
    expect(w.b.v.cpu.rip).toBe(CODE + READ_THEN_WRITE.length - 2);
    expect(unmapOp(w.b, GVA, handle)).toBe(G.GNTST_okay);
    run(w.b, READ_THEN_WRITE);
    expect(w.b.v.cpu.rip).toBe(PF_HANDLER);
    expect(w.b.v.virtualCr2).toBe(GVA);
  });
});
