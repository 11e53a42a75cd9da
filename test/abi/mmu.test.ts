/**
 * The PV MMU, one rule or error code per test: pinning and validation, L1/L2-L4 flag rules,
 * ownership, type exclusivity, Xen's entry rewriting and L4 slots, linear page tables,
 * mmu_update, every mmuext_op command, update_va_mapping(_otherdomain) with its flush flags, the
 * hypercall readers, `--strict` observations, and the result as the paging unit walks it.
 */
import { describe, expect, it } from 'vitest';
import { F_PINNED, MachineMemory, PageType } from '../../abi/hv/machine.js';
import { LINEAR_PT_L4_SLOT, M2P_L4_SLOT, PageTypes } from '../../abi/hv/page-types.js';
import { PvMmu, machphysUpdate, pte, ptUpdate, type MmuextOp } from '../../abi/pv/mmu.js';
import { BufferMemory } from '../../abi/layout/memory.js';
import {
  XEN_EACCES,
  XEN_EBUSY,
  XEN_EFAULT,
  XEN_EINVAL,
  XEN_ENOSYS,
  XEN_EOPNOTSUPP,
  XEN_EPERM,
  XEN_ESRCH,
} from '../../abi/public/errno.js';
import {
  DOMID_IO,
  DOMID_SELF,
  DOMID_XEN,
  MMU_PT_UPDATE_PRESERVE_AD,
  MMUEXT_CLEAR_PAGE,
  MMUEXT_COPY_PAGE,
  MMUEXT_FLUSH_CACHE,
  MMUEXT_FLUSH_CACHE_GLOBAL,
  MMUEXT_INVLPG_ALL,
  MMUEXT_INVLPG_LOCAL,
  MMUEXT_INVLPG_MULTI,
  MMUEXT_MARK_SUPER,
  MMUEXT_NEW_BASEPTR,
  MMUEXT_NEW_USER_BASEPTR,
  MMUEXT_PIN_L1_TABLE,
  MMUEXT_PIN_L2_TABLE,
  MMUEXT_PIN_L3_TABLE,
  MMUEXT_PIN_L4_TABLE,
  MMUEXT_SET_LDT,
  MMUEXT_TLB_FLUSH_ALL,
  MMUEXT_TLB_FLUSH_LOCAL,
  MMUEXT_TLB_FLUSH_MULTI,
  MMUEXT_UNMARK_SUPER,
  MMUEXT_UNPIN_TABLE,
  UVMF_ALL,
  UVMF_INVLPG,
  UVMF_NONE,
  UVMF_TLB_FLUSH,
  VMASST_TYPE_m2p_strict,
} from '../../abi/public/xen.js';
import { AccessKind } from '../../x86/memory.js';
import { Mmu } from '../../x86/paging.js';
import { Fault } from '../../x86/fault.js';

const P = 1;
const RW = 2;
const US = 4;
const A = 0x20;
const D = 0x40;
const PSE = 0x80;
const G = 0x100;

function setup(opts: { strict?: boolean; m2pStrict?: boolean } = {}) {
  const mem = new MachineMemory({ frames: 2048, seed: 11 });
  const types = new PageTypes(mem);
  const doms = new Map<number, PvMmu>();
  const lookup = (id: number) => doms.get(id);
  const d1 = new PvMmu(types, {
    domid: 1,
    vcpus: 3,
    lookup,
    strict: opts.strict ?? false,
    vmAssist: (t) => t === VMASST_TYPE_m2p_strict && opts.m2pStrict === true,
  });
  const d2 = new PvMmu(types, { domid: 2, vcpus: 1, lookup });
  doms.set(1, d1);
  doms.set(2, d2);
  const p = mem.allocDomainMemory(1, 32) as number[];
  const q = mem.allocDomainMemory(2, 4) as number[];
  const f = (k: number) => p[k] as number;
  const put = (mfn: number, idx: number, e: [number, number]) => {
    mem.view(mfn).setUint32(idx * 8, e[0], true);
    mem.view(mfn).setUint32(idx * 8 + 4, e[1], true);
  };
  const get = (mfn: number, idx: number): [number, number] => [mem.view(mfn).getUint32(idx * 8, true), mem.view(mfn).getUint32(idx * 8 + 4, true)];
  const ext = (cmd: number, arg1 = 0, arg2 = 0, dom: PvMmu = d1, vcpu = 0) => dom.mmuextOp(vcpu, [{ cmd, arg1, arg2 }]);
  /** L4 f(0) → L3 f(1) → L2 f(2) → L1 f(3) → data f(4..7) RW at VA 0, 0x1000, 0x2000, 0x3000. */
  const tree = () => {
    put(f(0), 0, pte(f(1), P | RW));
    put(f(1), 0, pte(f(2), P | RW));
    put(f(2), 0, pte(f(3), P | RW));
    for (let i = 0; i < 4; i++) put(f(3), i, pte(f(4 + i), P | RW));
  };
  return { mem, types, d1, d2, p, q, f, put, get, ext, tree };
}

/** General and type counts back to an allocated, unused frame's. */
function expectIdle(mem: MachineMemory, mfns: readonly number[]): void {
  for (const mfn of mfns) {
    expect({ mfn, count: mem.count[mfn], typeCount: mem.typeCount[mfn] }).toEqual({ mfn, count: 1, typeCount: 0 });
  }
}

describe('pinning and validation', () => {
  it('pins an empty table, refuses a second pin, unpins, refuses a second unpin', () => {
    const { ext, f, mem } = setup();
    expect(ext(MMUEXT_PIN_L1_TABLE, f(3)).rc).toBe(0);
    expect(mem.type[f(3)]).toBe(PageType.L1);
    expect((mem.flags[f(3)] as number) & F_PINNED).toBe(F_PINNED);
    expect(ext(MMUEXT_PIN_L1_TABLE, f(3)).rc).toBe(-XEN_EINVAL);
    expect(ext(MMUEXT_PIN_L2_TABLE, f(3)).rc).toBe(-XEN_EINVAL);
    expect(mem.typeCount[f(3)]).toBe(1);
    expect(ext(MMUEXT_UNPIN_TABLE, f(3)).rc).toBe(0);
    expect(ext(MMUEXT_UNPIN_TABLE, f(3)).rc).toBe(-XEN_EINVAL);
    expectIdle(mem, [f(3)]);
  });

  it('refuses to pin or unpin a frame the domain does not own', () => {
    const { ext, q, mem } = setup();
    expect(ext(MMUEXT_PIN_L1_TABLE, q[0] as number).rc).toBe(-XEN_EINVAL);
    expect(ext(MMUEXT_UNPIN_TABLE, q[0] as number).rc).toBe(-XEN_EINVAL);
    expect(ext(MMUEXT_PIN_L1_TABLE, 5).rc).toBe(-XEN_EINVAL);
    expect(ext(MMUEXT_PIN_L1_TABLE, mem.m2pL3).rc).toBe(-XEN_EINVAL);
    expect(ext(MMUEXT_PIN_L1_TABLE, 1e9).rc).toBe(-XEN_EINVAL);
  });

  it('an RW L1 entry gives its frame the writable type, which excludes every table type', () => {
    const { ext, f, put, mem } = setup();
    put(f(3), 7, pte(f(9), P | RW));
    expect(ext(MMUEXT_PIN_L1_TABLE, f(3)).rc).toBe(0);
    expect(mem.type[f(9)]).toBe(PageType.Writable);
    expect(mem.typeCount[f(9)]).toBe(1);
    expect(mem.count[f(9)]).toBe(2);
    expect(ext(MMUEXT_PIN_L1_TABLE, f(9)).rc).toBe(-XEN_EINVAL);
    expect(ext(MMUEXT_UNPIN_TABLE, f(3)).rc).toBe(0);
    expectIdle(mem, [f(3), f(9)]);
    expect(ext(MMUEXT_PIN_L1_TABLE, f(9)).rc).toBe(0);
  });

  it('refuses a writable mapping of a page table (-EBUSY), and accepts a read-only one', () => {
    const { ext, f, put, mem } = setup();
    expect(ext(MMUEXT_PIN_L1_TABLE, f(10)).rc).toBe(0);
    put(f(3), 0, pte(f(10), P | RW));
    expect(ext(MMUEXT_PIN_L1_TABLE, f(3)).rc).toBe(-XEN_EBUSY);
    expectIdle(mem, [f(3)]);
    put(f(3), 0, pte(f(10), P));
    expect(ext(MMUEXT_PIN_L1_TABLE, f(3)).rc).toBe(0);
    expect(mem.count[f(10)]).toBe(3);
    expect(mem.typeCount[f(10)]).toBe(1);
  });

  it('L1 entries: ownership and MMIO errors in Xen order', () => {
    const { ext, f, q, put, mem } = setup();
    const cases: [number, number, number][] = [
      [q[0] as number, P, -XEN_EBUSY], // another domain's frame
      [mem.m2pFrames[0] as number, P, -XEN_EBUSY], // Xen's frame
      [2000, P, -XEN_EBUSY], // a free frame
      [5, P, -XEN_EPERM], // the low MiB is MMIO
      [4096, P, -XEN_EPERM], // beyond the pool: MMIO
      [0xffffffffff, P, -XEN_EINVAL], // the all-ones frame
    ];
    for (const [mfn, flags, rc] of cases) {
      put(f(3), 0, pte(mfn, flags));
      expect({ mfn, rc: ext(MMUEXT_PIN_L1_TABLE, f(3)).rc }).toEqual({ mfn, rc });
    }
    expect(mem.typeCount[f(3)]).toBe(0);
  });

  it('L1 flags: PWT/PCD/PAT and bit 62 refused, GLOBAL, NX and bits 52-61 accepted', () => {
    const { ext, f, put } = setup();
    for (const [flags, hi, rc] of [
      [P | 0x08, 0, -XEN_EINVAL],
      [P | 0x10, 0, -XEN_EINVAL],
      [P | 0x80, 0, -XEN_EINVAL],
      [P, 1 << 30, -XEN_EINVAL],
      [P | G | US, 0, 0],
      [P, 0x80000000, 0],
      [P, 0x3ff00000, 0],
      [0x08 | 0x80, 1 << 30, 0], // not present: not checked
    ] as const) {
      put(f(3), 1, [pte(f(8), flags)[0], hi]);
      const r = ext(MMUEXT_PIN_L1_TABLE, f(3)).rc;
      expect({ flags, hi, r }).toEqual({ flags, hi, r: rc });
      if (r === 0) expect(ext(MMUEXT_UNPIN_TABLE, f(3)).rc).toBe(0);
    }
  });

  it('L2-L4 entries: PSE, GLOBAL, PWT, PCD refused; a lower level of the wrong type refused', () => {
    const { ext, f, put, mem } = setup();
    for (const bad of [PSE, G, 0x08, 0x10]) {
      put(f(2), 3, pte(f(3), P | RW | bad));
      expect(ext(MMUEXT_PIN_L2_TABLE, f(2)).rc).toBe(-XEN_EINVAL);
    }
    put(f(2), 3, pte(f(3), P | RW));
    expect(ext(MMUEXT_PIN_L2_TABLE, f(2)).rc).toBe(0);
    expect(mem.type[f(3)]).toBe(PageType.L1);
    expect(ext(MMUEXT_UNPIN_TABLE, f(2)).rc).toBe(0);
    // An L3 pointing at a frame that is an L1: -EINVAL.
    expect(ext(MMUEXT_PIN_L1_TABLE, f(3)).rc).toBe(0);
    put(f(1), 0, pte(f(3), P | RW));
    expect(ext(MMUEXT_PIN_L3_TABLE, f(1)).rc).toBe(-XEN_EINVAL);
    // An L2 pointing at a frame mapped writable: -EINVAL.
    expect(ext(MMUEXT_UNPIN_TABLE, f(3)).rc).toBe(0);
    put(f(3), 0, pte(f(12), P | RW));
    expect(ext(MMUEXT_PIN_L1_TABLE, f(3)).rc).toBe(0);
    put(f(2), 3, pte(f(12), P | RW));
    expect(ext(MMUEXT_PIN_L2_TABLE, f(2)).rc).toBe(-XEN_EINVAL);
  });

  it('validates a whole tree, rewriting entries as Xen stores them, and devalidates it on unpin', () => {
    const { ext, f, put, get, tree, mem } = setup();
    tree();
    put(f(3), 8, pte(f(20), P | RW | US)); // a user mapping
    put(f(0), 300, pte(f(21), P)); // guest entry in a high guest slot
    put(f(0), 260, pte(f(22), P | RW)); // junk in a Xen slot: ignored and overwritten
    expect(ext(MMUEXT_PIN_L4_TABLE, f(0)).rc).toBe(0);
    expect(get(f(3), 0)).toEqual([(pte(f(4), P | RW)[0] | US) >>> 0, pte(f(4), 0)[1] | (1 << 20)]);
    expect(get(f(3), 8)).toEqual([(pte(f(20), P | RW | US)[0] | G) >>> 0, pte(f(20), 0)[1]]);
    expect(get(f(2), 0)[0]).toBe((pte(f(3), P | RW)[0] | US) >>> 0);
    expect(get(f(1), 0)[0]).toBe((pte(f(2), P | RW)[0] | US) >>> 0);
    expect(get(f(0), 0)[0]).toBe((pte(f(1), P | RW)[0] | US | A) >>> 0);
    expect(mem.type[f(21)]).toBe(PageType.L3);
    expect(get(f(0), 260)).toEqual([0, 0]);
    expect(get(f(0), LINEAR_PT_L4_SLOT)).toEqual(pte(f(0), 0x63));
    expect(get(f(0), M2P_L4_SLOT)).toEqual([0, 0]); // no m2p_strict: filled at NEW_BASEPTR
    expect(mem.typeCount[f(4)]).toBe(1);
    expect(ext(MMUEXT_UNPIN_TABLE, f(0)).rc).toBe(0);
    expectIdle(mem, [0, 1, 2, 3, 4, 5, 6, 7, 20, 21, 22].map(f));
  });

  it('a failure deep in the tree leaves every count as it was', () => {
    const { ext, f, put, tree, mem } = setup();
    tree();
    expect(ext(MMUEXT_PIN_L1_TABLE, f(15)).rc).toBe(0);
    put(f(3), 100, pte(f(15), P | RW));
    expect(ext(MMUEXT_PIN_L4_TABLE, f(0)).rc).toBe(-XEN_EBUSY);
    expectIdle(mem, [0, 1, 2, 3, 4, 5, 6, 7].map(f));
    expect(mem.typeCount[f(15)]).toBe(1);
  });

  it('m2p_strict: the M2P slot is filled when an L4 validates', () => {
    const { ext, f, get, mem } = setup({ m2pStrict: true });
    expect(ext(MMUEXT_PIN_L4_TABLE, f(0)).rc).toBe(0);
    expect(get(f(0), M2P_L4_SLOT)).toEqual(pte(mem.m2pL3, 0x25));
  });

  it('linear page tables: a read-only self entry takes no reference; RW is refused; another validated L4 is counted', () => {
    const { ext, f, put, mem } = setup();
    put(f(0), 5, pte(f(0), P));
    expect(ext(MMUEXT_PIN_L4_TABLE, f(0)).rc).toBe(0);
    expect(mem.typeCount[f(0)]).toBe(1);
    expect(mem.count[f(0)]).toBe(2);
    put(f(1), 5, pte(f(1), P | RW));
    expect(ext(MMUEXT_PIN_L4_TABLE, f(1)).rc).toBe(-XEN_EINVAL);
    put(f(1), 5, pte(f(0), P));
    expect(ext(MMUEXT_PIN_L4_TABLE, f(1)).rc).toBe(0);
    expect(mem.typeCount[f(0)]).toBe(2);
    expect(mem.linear[f(1)]).toBe(1);
    expect(mem.linear[f(0)]).toBe(-1);
    // f(0) is used linearly, so it may not hold linear entries to another table.
    expect(ext(MMUEXT_UNPIN_TABLE, f(1)).rc).toBe(0);
    expect(mem.linear[f(0)]).toBe(0);
    expect(ext(MMUEXT_UNPIN_TABLE, f(0)).rc).toBe(0);
    expectIdle(mem, [f(0), f(1)]);
  });
});

describe('mmu_update', () => {
  it('updates an L1 entry: new references first, old ones dropped', () => {
    const { d1, ext, f, mem, get } = setup();
    expect(ext(MMUEXT_PIN_L1_TABLE, f(3)).rc).toBe(0);
    let r = d1.mmuUpdate(0, [ptUpdate(f(3), 2, ...pte(f(9), P | RW))]);
    expect(r).toMatchObject({ rc: 0, done: 1 });
    expect(r.effects.flush.size).toBe(0);
    expect(mem.type[f(9)]).toBe(PageType.Writable);
    expect(get(f(3), 2)[1]).toBe(1 << 20); // guest-kernel bit
    r = d1.mmuUpdate(0, [ptUpdate(f(3), 2, ...pte(f(10), P))]);
    expect(r.rc).toBe(0);
    expect(mem.typeCount[f(9)]).toBe(0);
    expect(mem.count[f(9)]).toBe(1);
    expect(mem.count[f(10)]).toBe(2);
    expect(d1.mmuUpdate(0, [ptUpdate(f(3), 2, 0, 0)]).rc).toBe(0);
    expectIdle(mem, [f(9), f(10)]);
  });

  it('refuses, and stops the batch at, the first bad request; done counts the others', () => {
    const { d1, ext, f, q } = setup();
    expect(ext(MMUEXT_PIN_L1_TABLE, f(3)).rc).toBe(0);
    const r = d1.mmuUpdate(0, [
      ptUpdate(f(3), 0, ...pte(f(9), P)),
      ptUpdate(f(3), 1, ...pte(q[0] as number, P)),
      ptUpdate(f(3), 2, ...pte(f(9), P)),
    ]);
    expect(r).toMatchObject({ rc: -XEN_EBUSY, done: 1 });
  });

  it('flushes every vCPU after an L2-L4 change, and refuses Xen slots of an L4', () => {
    const { d1, ext, f } = setup();
    expect(ext(MMUEXT_PIN_L4_TABLE, f(0)).rc).toBe(0);
    const r = d1.mmuUpdate(0, [ptUpdate(f(0), 1, ...pte(f(1), P | RW))]);
    expect(r.rc).toBe(0);
    expect([...r.effects.flush]).toEqual([0, 1, 2]);
    expect(d1.mmuUpdate(0, [ptUpdate(f(0), 256, ...pte(f(5), P))]).rc).toBe(-XEN_EINVAL);
    expect(d1.mmuUpdate(0, [ptUpdate(f(0), 271, 0, 0)]).rc).toBe(-XEN_EINVAL);
    expect(d1.mmuUpdate(0, [ptUpdate(f(0), 272, 0, 0)]).rc).toBe(0);
    expect(d1.mmuUpdate(0, [ptUpdate(f(0), 2, ...pte(f(3), P | PSE))]).rc).toBe(-XEN_EINVAL);
  });

  it('writes a frame that is not a live page table plainly, and refuses a descriptor page', () => {
    const { d1, f, get, types } = setup();
    expect(d1.mmuUpdate(0, [ptUpdate(f(9), 3, 0x12345678, 0x9abcdef0)])).toMatchObject({ rc: 0, effects: { written: [f(9)] } });
    expect(get(f(9), 3)).toEqual([0x12345678, 0x9abcdef0]);
    expect(types.getPageAndType(f(11), PageType.SegDesc, 1)).toBe(0);
    expect(d1.mmuUpdate(0, [ptUpdate(f(11), 0, 1, 0)]).rc).toBe(-XEN_EINVAL);
  });

  it('refuses frames not owned by the page-table owner, and unknown commands', () => {
    const { d1, q, f } = setup();
    expect(d1.mmuUpdate(0, [ptUpdate(q[0] as number, 0, 0, 0)]).rc).toBe(-XEN_EINVAL);
    for (const cmd of [4, 5, 6, 7]) expect(d1.mmuUpdate(0, [ptUpdate(f(9), 0, 0, 0, cmd)]).rc).toBe(-XEN_ENOSYS);
  });

  it('MMU_PT_UPDATE_PRESERVE_AD keeps the accessed and dirty bits', () => {
    const { d1, ext, f, put, get } = setup();
    put(f(3), 0, pte(f(9), P | RW | A | D));
    expect(ext(MMUEXT_PIN_L1_TABLE, f(3)).rc).toBe(0);
    expect(d1.mmuUpdate(0, [ptUpdate(f(3), 0, ...pte(f(9), P), MMU_PT_UPDATE_PRESERVE_AD)]).rc).toBe(0);
    expect(get(f(3), 0)[0] & (A | D | RW)).toBe(A | D);
    expect(d1.mmuUpdate(0, [ptUpdate(f(3), 0, ...pte(f(9), P))]).rc).toBe(0);
    expect(get(f(3), 0)[0] & (A | D)).toBe(0);
  });

  it('MMU_MACHPHYS_UPDATE sets the M2P of an owned frame only', () => {
    const { d1, f, q, mem } = setup();
    expect(d1.mmuUpdate(0, [machphysUpdate(f(5), 0x1234)]).rc).toBe(0);
    expect(mem.m2pGet(f(5))).toBe(0x1234);
    expect(d1.mmuUpdate(0, [machphysUpdate(q[0] as number, 1)]).rc).toBe(-XEN_EINVAL);
    expect(mem.m2pGet(q[0] as number)).toBe(0);
  });

  it('foreign domains: itself by id and unknown ids are -ESRCH, others -EPERM for a domU', () => {
    const { d1, f } = setup();
    const req = [ptUpdate(f(9), 0, 0, 0)];
    expect(d1.mmuUpdate(0, req, undefined, 1).rc).toBe(-XEN_ESRCH);
    expect(d1.mmuUpdate(0, req, undefined, 77).rc).toBe(-XEN_ESRCH);
    expect(d1.mmuUpdate(0, req, undefined, 2).rc).toBe(-XEN_EPERM);
    expect(d1.mmuUpdate(0, req, undefined, DOMID_XEN).rc).toBe(-XEN_EPERM);
    expect(d1.mmuUpdate(0, req, undefined, DOMID_SELF | (78 << 16)).rc).toBe(-XEN_ESRCH);
    expect(d1.mmuUpdate(0, req, undefined, DOMID_SELF | (2 << 16)).rc).toBe(0); // page tables: itself
    expect(d1.mmuUpdate(0, req, undefined, DOMID_SELF | (3 << 16)).rc).toBe(-XEN_EPERM);
    expect(d1.mmuUpdate(0, [machphysUpdate(f(5), 1)], undefined, DOMID_SELF | (3 << 16)).rc).toBe(-XEN_EPERM);
  });
});

describe('mmuext_op', () => {
  it('NEW_BASEPTR loads a root (validating it), fills the M2P slot, and releases the old root', () => {
    const { d1, ext, f, tree, mem, get } = setup();
    tree();
    let r = ext(MMUEXT_NEW_BASEPTR, f(0));
    expect(r.rc).toBe(0);
    expect([...r.effects.newBaseptr]).toEqual([0]);
    expect(d1.vcpus[0]?.guestTable).toBe(f(0));
    expect(get(f(0), M2P_L4_SLOT)).toEqual(pte(mem.m2pL3, 0x25));
    expect(mem.typeCount[f(4)]).toBe(1);
    r = ext(MMUEXT_NEW_BASEPTR, f(0));
    expect(r.rc).toBe(0);
    expect(mem.typeCount[f(0)]).toBe(1);
    expect(ext(MMUEXT_NEW_BASEPTR, f(10)).rc).toBe(0);
    expectIdle(mem, [0, 1, 2, 3, 4].map(f));
    // The old L1 as a root: its entries now name L3s (the data frames, empty, validate as such).
    expect(ext(MMUEXT_NEW_BASEPTR, f(3)).rc).toBe(0);
    expect(mem.type[f(5)]).toBe(PageType.L3);
    expect(ext(MMUEXT_PIN_L1_TABLE, f(9)).rc).toBe(0);
    expect(ext(MMUEXT_NEW_BASEPTR, f(9)).rc).toBe(-XEN_EINVAL);
    expect(d1.vcpus[0]?.guestTable).toBe(f(3));
  });

  it('NEW_USER_BASEPTR: a second root, zapped of the M2P under m2p_strict; 0 drops it', () => {
    const { d1, ext, f, get, mem } = setup({ m2pStrict: true });
    const r = ext(MMUEXT_NEW_USER_BASEPTR, f(6));
    expect(r.rc).toBe(0);
    expect([...r.effects.newUserBaseptr]).toEqual([0]);
    expect(get(f(6), M2P_L4_SLOT)).toEqual([0, 0]);
    expect(d1.vcpus[0]?.guestTableUser).toBe(f(6));
    expect(ext(MMUEXT_NEW_USER_BASEPTR, 0).rc).toBe(0);
    expectIdle(mem, [f(6)]);
  });

  it('flushes and invalidations become effects on the right vCPUs', () => {
    const { d1, ext } = setup();
    expect([...ext(MMUEXT_TLB_FLUSH_LOCAL, 0, 0, d1, 2).effects.flush]).toEqual([2]);
    expect([...ext(MMUEXT_TLB_FLUSH_ALL).effects.flush]).toEqual([0, 1, 2]);
    expect(ext(MMUEXT_INVLPG_LOCAL, 0x5000, 0, d1, 1).effects.invlpg).toEqual([{ vcpu: 1, va: 0x5000 }]);
    expect(ext(MMUEXT_INVLPG_LOCAL, 2 ** 47).effects.invlpg).toEqual([]); // not canonical: ignored
    expect(ext(MMUEXT_INVLPG_ALL, -0x7f0000000000).effects.invlpg).toEqual([]); // Xen's range: ignored
    expect(ext(MMUEXT_INVLPG_ALL, -0x1000).effects.invlpg).toHaveLength(3);
  });

  it('TLB_FLUSH_MULTI and INVLPG_MULTI read a vCPU bitmap; an unreadable one is -EINVAL', () => {
    const { d1 } = setup();
    const mem = new BufferMemory(new Uint8Array(64), 0x10000);
    mem.bytes[0] = 0b101;
    let r = d1.mmuextOp(0, [{ cmd: MMUEXT_TLB_FLUSH_MULTI, arg1: 0, arg2: 0x10000 }], undefined, DOMID_SELF, mem);
    expect(r.rc).toBe(0);
    expect([...r.effects.flush]).toEqual([0, 2]);
    r = d1.mmuextOp(0, [{ cmd: MMUEXT_INVLPG_MULTI, arg1: 0x7000, arg2: 0x10000 }], undefined, DOMID_SELF, mem);
    expect(r.effects.invlpg).toEqual([{ vcpu: 0, va: 0x7000 }, { vcpu: 2, va: 0x7000 }]);
    r = d1.mmuextOp(0, [{ cmd: MMUEXT_TLB_FLUSH_MULTI, arg1: 0, arg2: 0x90000 }], undefined, DOMID_SELF, mem);
    expect(r.rc).toBe(-XEN_EINVAL);
  });

  it('cache flushes need I/O rights', () => {
    const { ext } = setup();
    expect(ext(MMUEXT_FLUSH_CACHE).rc).toBe(-XEN_EACCES);
    expect(ext(MMUEXT_FLUSH_CACHE_GLOBAL).rc).toBe(-XEN_EINVAL);
  });

  it('SET_LDT checks the entry count, alignment and range', () => {
    const { d1, ext } = setup();
    expect(ext(MMUEXT_SET_LDT, 0x10000, 8193).rc).toBe(-XEN_EINVAL);
    expect(ext(MMUEXT_SET_LDT, 0x10008, 10).rc).toBe(-XEN_EINVAL);
    expect(ext(MMUEXT_SET_LDT, -0x800000000000, 10).rc).toBe(-XEN_EINVAL);
    const r = ext(MMUEXT_SET_LDT, 0x10000, 8192);
    expect(r.rc).toBe(0);
    expect([...r.effects.ldt]).toEqual([0]);
    expect(d1.vcpus[0]).toMatchObject({ ldtBase: 0x10000, ldtEnts: 8192 });
    expect(ext(MMUEXT_SET_LDT, 0x10000, 8192).effects.ldt.size).toBe(0);
    expect(ext(MMUEXT_SET_LDT, 0x123, 0).rc).toBe(0);
    expect(d1.vcpus[0]).toMatchObject({ ldtBase: 0, ldtEnts: 0 });
  });

  it('CLEAR_PAGE and COPY_PAGE need frames the domain owns that can be writable', () => {
    const { ext, f, q, mem, get, put } = setup();
    put(f(9), 0, [1, 2]);
    expect(ext(MMUEXT_COPY_PAGE, f(10), f(9)).effects.written).toEqual([f(10)]);
    expect(get(f(10), 0)).toEqual([1, 2]);
    expect(ext(MMUEXT_CLEAR_PAGE, f(10)).rc).toBe(0);
    expect(get(f(10), 0)).toEqual([0, 0]);
    expect(ext(MMUEXT_PIN_L1_TABLE, f(11)).rc).toBe(0);
    expect(ext(MMUEXT_CLEAR_PAGE, f(11)).rc).toBe(-XEN_EINVAL);
    expect(ext(MMUEXT_COPY_PAGE, f(11), f(9)).rc).toBe(-XEN_EINVAL);
    expect(ext(MMUEXT_COPY_PAGE, f(10), f(11)).rc).toBe(0); // reading a table is fine
    expect(ext(MMUEXT_COPY_PAGE, f(10), q[0] as number).rc).toBe(-XEN_EINVAL);
    expect(ext(MMUEXT_CLEAR_PAGE, q[0] as number).rc).toBe(-XEN_EINVAL);
    expectIdle(mem, [f(9), f(10)]);
  });

  it('MARK_SUPER/UNMARK_SUPER are -EOPNOTSUPP, unknown commands -ENOSYS', () => {
    const { ext } = setup();
    expect(ext(MMUEXT_MARK_SUPER, 300).rc).toBe(-XEN_EOPNOTSUPP);
    expect(ext(MMUEXT_UNMARK_SUPER, 300).rc).toBe(-XEN_EOPNOTSUPP);
    for (const cmd of [14, 21, 1000]) expect(ext(cmd).rc).toBe(-XEN_ENOSYS);
  });

  it('foreign owners: own id, unknown id -ESRCH; DOMID_IO, DOMID_XEN and other domains -EPERM', () => {
    const { d1, f } = setup();
    const op: MmuextOp[] = [{ cmd: MMUEXT_PIN_L1_TABLE, arg1: f(3), arg2: 0 }];
    expect(d1.mmuextOp(0, op, undefined, 1).rc).toBe(-XEN_ESRCH);
    expect(d1.mmuextOp(0, op, undefined, 99).rc).toBe(-XEN_ESRCH);
    for (const fd of [2, DOMID_IO, DOMID_XEN]) expect(d1.mmuextOp(0, op, undefined, fd).rc).toBe(-XEN_EPERM);
  });

  it('stops at the first failing command', () => {
    const { d1, f } = setup();
    const r = d1.mmuextOp(0, [
      { cmd: MMUEXT_PIN_L1_TABLE, arg1: f(3), arg2: 0 },
      { cmd: MMUEXT_TLB_FLUSH_LOCAL, arg1: 0, arg2: 0 },
      { cmd: MMUEXT_PIN_L1_TABLE, arg1: f(3), arg2: 0 },
      { cmd: MMUEXT_TLB_FLUSH_ALL, arg1: 0, arg2: 0 },
    ]);
    expect(r).toMatchObject({ rc: -XEN_EINVAL, done: 2 });
    expect([...r.effects.flush]).toEqual([0]);
  });
});

describe('update_va_mapping', () => {
  function booted(opts: { strict?: boolean } = {}) {
    const s = setup(opts);
    s.tree();
    expect(s.ext(MMUEXT_PIN_L4_TABLE, s.f(0)).rc).toBe(0);
    expect(s.ext(MMUEXT_NEW_BASEPTR, s.f(0)).rc).toBe(0);
    return s;
  }

  it('replaces the L1 entry mapping va in the current tables and flushes as asked', () => {
    const { d1, f, mem, get } = booted();
    let r = d1.updateVaMapping(0, 0x2000, ...pte(f(15), P | RW), UVMF_INVLPG);
    expect(r.rc).toBe(0);
    expect(r.effects.invlpg).toEqual([{ vcpu: 0, va: 0x2000 }]);
    expect(get(f(3), 2)[0] >>> 12).toBe(f(15) % 0x100000);
    expect(mem.typeCount[f(6)]).toBe(0);
    expect(mem.typeCount[f(15)]).toBe(1);
    r = d1.updateVaMapping(0, 0x3000, 0, 0, UVMF_TLB_FLUSH | UVMF_ALL);
    expect(r.rc).toBe(0);
    expect([...r.effects.flush]).toEqual([0, 1, 2]);
    expect(d1.updateVaMapping(0, 0x1000, ...pte(f(4), P), UVMF_NONE).effects.flush.size).toBe(0);
  });

  it('UVMF_MULTI reads the vCPU bitmap; an unreadable one is -EFAULT after the update', () => {
    const { d1, f, get } = booted();
    const mem = new BufferMemory(new Uint8Array(8), 0x4000);
    mem.bytes[0] = 0b110;
    let r = d1.updateVaMapping(0, 0x1000, ...pte(f(16), P), UVMF_TLB_FLUSH | 0x4000, mem);
    expect(r.rc).toBe(0);
    expect([...r.effects.flush]).toEqual([1, 2]);
    r = d1.updateVaMapping(0, 0x1000, ...pte(f(17), P), UVMF_TLB_FLUSH | 0x8000, mem);
    expect(r.rc).toBe(-XEN_EFAULT);
    expect(r.effects.flush.size).toBe(0);
    expect(get(f(3), 1)[0] >>> 12).toBe(f(17) % 0x100000);
  });

  it('refuses an address outside the guest range, with no L1, or with no root; no flush on failure', () => {
    const { d1, f, q } = booted();
    expect(d1.updateVaMapping(0, -0x800000000000 + 0x1000, 0, 0, UVMF_TLB_FLUSH).rc).toBe(-XEN_EINVAL);
    expect(d1.updateVaMapping(0, 0x40000000, 0, 0, UVMF_TLB_FLUSH).rc).toBe(-XEN_EINVAL);
    expect(d1.updateVaMapping(1, 0x1000, 0, 0, UVMF_TLB_FLUSH).rc).toBe(-XEN_EINVAL);
    const r = d1.updateVaMapping(0, 0x1000, ...pte(q[0] as number, P), UVMF_TLB_FLUSH);
    expect(r.rc).toBe(-XEN_EBUSY);
    expect(r.effects.flush.size).toBe(0);
    expect(d1.updateVaMapping(0, 0x1000, ...pte(f(2), P | RW), 0).rc).toBe(-XEN_EBUSY);
  });

  it('update_va_mapping_otherdomain: itself or unknown -ESRCH, another domain -EPERM', () => {
    const { d1 } = booted();
    expect(d1.updateVaMappingOtherdomain(0, 0x1000, 0, 0, 0, 1).rc).toBe(-XEN_ESRCH);
    expect(d1.updateVaMappingOtherdomain(0, 0x1000, 0, 0, 0, 50).rc).toBe(-XEN_ESRCH);
    expect(d1.updateVaMappingOtherdomain(0, 0x1000, 0, 0, 0, 2).rc).toBe(-XEN_EPERM);
    expect(d1.updateVaMappingOtherdomain(0, 0x1000, 0, 0, 0, DOMID_IO).rc).toBe(-XEN_EPERM);
  });

  it('the paging unit sees the result: user-readable kernel mappings, page tables read-only', () => {
    const { d1, f, mem } = booted();
    expect(d1.mmuUpdate(0, [ptUpdate(f(3), 9, ...pte(f(2), P))]).rc).toBe(0);
    const paging = new Mmu(mem, { cr0: 0x80010001 | 0, cr3: f(0) * 4096, cr4: 0x20, efer: 0x500, smapOverride: false });
    const t = paging.translate(0x1234, AccessKind.Write, true);
    expect(t).toEqual({ pa: f(5) * 4096 + 0x234 });
    expect(paging.translate(0x9000, AccessKind.Read, true)).toEqual({ pa: f(2) * 4096 });
    expect(paging.translate(0x9000, AccessKind.Write, true)).toBeInstanceOf(Fault);
  });
});

describe('hypercall readers', () => {
  it('mmu_update reads requests from guest memory and adds to *pdone; a fault stops with -EFAULT', () => {
    const { d1, f, mem: machine } = setup();
    // Requests at 0x1000 (exactly 16 of them), the done counter at 0x10f0 of a second page.
    const reqMem = new BufferMemory(new Uint8Array(0x100), 0x1000);
    const doneMem = new BufferMemory(new Uint8Array(0x100), 0x10000);
    const pick = (a: number) => (a >= 0x10000 ? doneMem : reqMem);
    const g = { read: (a: number, o: Uint8Array) => pick(a).read(a, o), write: (a: number, d: Uint8Array) => pick(a).write(a, d) };
    const dv = new DataView(reqMem.bytes.buffer);
    const dd = new DataView(doneMem.bytes.buffer, 0xf0);
    const reqs = [machphysUpdate(f(5), 7), ...new Array<ReturnType<typeof machphysUpdate>>(15).fill(machphysUpdate(f(6), 8))];
    reqs.forEach((r, k) => {
      dv.setUint32(k * 16, r.ptrLo, true);
      dv.setUint32(k * 16 + 4, r.ptrHi, true);
      dv.setUint32(k * 16 + 8, r.valLo, true);
      dv.setUint32(k * 16 + 12, r.valHi, true);
    });
    expect(d1.hypercallMmuUpdate(g, 0, 0x1000, 2, 0x100f0, DOMID_SELF).rc).toBe(0);
    expect(dd.getUint32(0, true)).toBe(2);
    expect(machine.m2pGet(f(6))).toBe(8);
    // Runs off the end of the requests at request 15.
    expect(d1.hypercallMmuUpdate(g, 0, 0x1000 + 0x10, 16, 0x100f0, DOMID_SELF).rc).toBe(-XEN_EFAULT);
    expect(dd.getUint32(0, true)).toBe(15);
    // MMU_UPDATE_PREEMPTED resumes counting from *pdone.
    dd.setUint32(0, 40, true);
    expect(d1.hypercallMmuUpdate(g, 0, 0x1000, 0x80000001, 0x100f0, DOMID_SELF).rc).toBe(0);
    expect(dd.getUint32(0, true)).toBe(41);
    // The final-value continuation: returns foreigndom.
    expect(d1.hypercallMmuUpdate(g, 0, 0, 0x80000000, 0, -XEN_EBUSY >>> 0).rc).toBe(-XEN_EBUSY);
    expect(d1.hypercallMmuUpdate(g, 0, -0x7f0000000000, 1, 0, DOMID_SELF).rc).toBe(-XEN_EFAULT);
  });

  it('mmuext_op decodes linear addresses sign-extended and leaves *pdone alone when refused early', () => {
    const { d1 } = setup();
    const g = new BufferMemory(new Uint8Array(0x100), 0x1000);
    const dv = new DataView(g.bytes.buffer);
    dv.setUint32(0, MMUEXT_INVLPG_LOCAL, true);
    dv.setUint32(8, 0xfffff000, true);
    dv.setUint32(12, 0xffffffff, true);
    const r = d1.hypercallMmuextOp(g, 0, 0x1000, 1, 0x10f0, DOMID_SELF);
    expect(r.rc).toBe(0);
    expect(r.effects.invlpg).toEqual([{ vcpu: 0, va: -0x1000 }]);
    expect(dv.getUint32(0xf0, true)).toBe(1);
    dv.setUint32(0xf0, 77, true);
    expect(d1.hypercallMmuextOp(g, 0, 0x1000, 1, 0x10f0, 99).rc).toBe(-XEN_ESRCH);
    expect(dv.getUint32(0xf0, true)).toBe(77);
  });
});

describe('--strict observations', () => {
  it('reports what Xen accepts but is suspicious, and nothing when not strict', () => {
    const s = setup({ strict: true });
    const { d1, f, put, ext } = s;
    s.tree();
    put(f(3), 20, pte(f(20), P | G)); // kernel page with GLOBAL
    put(f(0), 265, pte(f(21), P)); // junk in a Xen slot
    expect(ext(MMUEXT_NEW_BASEPTR, f(0)).rc).toBe(0); // not pinned
    expect(d1.mmuUpdate(0, [ptUpdate(f(22), 0, 5, 0)]).rc).toBe(0); // plain write
    expect(d1.updateVaMapping(0, 0x1000, 0, 0, UVMF_NONE).rc).toBe(0); // removed without a flush
    expect(d1.diagnostics.map((d) => d.code).sort()).toEqual(
      ['global-kernel-page', 'l4-xen-slots-overwritten', 'mmu-update-plain-write', 'unpinned-baseptr', 'uvm-no-flush'].sort(),
    );
    expect(d1.diagnostics.find((d) => d.code === 'uvm-no-flush')).toMatchObject({ va: 0x1000, mfn: f(3) });
    const quiet = setup();
    quiet.tree();
    expect(quiet.ext(MMUEXT_NEW_BASEPTR, quiet.f(0)).rc).toBe(0);
    expect(quiet.d1.diagnostics).toEqual([]);
  });
});

describe('roots for the builder and teardown', () => {
  it('setBaseptrs takes both roots; destroyPagetables and unpinAll bring every count back', () => {
    const { d1, f, tree, mem, ext } = setup();
    tree();
    expect(ext(MMUEXT_PIN_L1_TABLE, f(12)).rc).toBe(0);
    expect(d1.setBaseptrs(1, f(0), f(13))).toBe(0);
    expect(d1.vcpus[1]).toMatchObject({ guestTable: f(0), guestTableUser: f(13) });
    expect(d1.setBaseptrs(2, f(12))).toBe(-XEN_EINVAL);
    expect(d1.vcpus[2]?.guestTable).toBe(0);
    d1.destroyPagetables(1);
    d1.unpinAll();
    expectIdle(mem, [0, 1, 2, 3, 4, 5, 6, 7, 12, 13].map(f));
  });
});
