/**
 * The machine frame pool: lazily backed frames with stable DataViews, the seeded shuffle of
 * machine frame numbers, reference-counted freeing, and the M2P as the guest reads it through
 * the paging unit at MACH2PHYS_VIRT_START.
 */
import { describe, expect, it } from 'vitest';
import { F_ALLOCATED, INVALID_M2P_ENTRY, IO_FRAMES, M2P_VIRT_START, MachineMemory, OWNER_FREE } from '../../abi/hv/machine.js';
import { PageTypes } from '../../abi/hv/page-types.js';
import { PvMmu } from '../../abi/pv/mmu.js';
import { DOMID_IO, DOMID_XEN, VMASST_TYPE_m2p_strict } from '../../abi/public/xen.js';
import { AccessKind } from '../../x86/memory.js';
import { Mmu } from '../../x86/paging.js';
import { Fault } from '../../x86/fault.js';

describe('MachineMemory', () => {
  it('hands out one DataView per frame, lazily, and nothing beyond the pool', () => {
    const m = new MachineMemory({ frames: 1024, seed: 1 });
    const a = m.frame(500);
    expect(a).toBeDefined();
    expect(m.frame(500)).toBe(a);
    expect(a?.byteLength).toBe(4096);
    expect(m.frame(1024)).toBeUndefined();
    expect(m.frame(-1)).toBeUndefined();
    expect(m.mmioRead(1024 * 4096, 4)).toBe(0xffffffff);
    expect(m.mmioRead(1024 * 4096, 2)).toBe(0xffff);
    expect(m.mmioRead(1024 * 4096, 1)).toBe(0xff);
  });

  it('gives the low MiB to DOMID_IO and the M2P to Xen', () => {
    const m = new MachineMemory({ frames: 1024, seed: 1 });
    for (let mfn = 0; mfn < IO_FRAMES; mfn++) expect(m.owner[mfn]).toBe(DOMID_IO);
    expect(m.m2pFrames.length).toBe(2);
    for (const f of [...m.m2pFrames, m.m2pL3]) expect(m.owner[f]).toBe(DOMID_XEN);
    expect(m.m2pGet(700)).toBe(INVALID_M2P_ENTRY);
  });

  it('allocates a domain shuffled, deterministically per seed, and sets the M2P', () => {
    const m1 = new MachineMemory({ frames: 4096, seed: 7 });
    const m2 = new MachineMemory({ frames: 4096, seed: 7 });
    const m3 = new MachineMemory({ frames: 4096, seed: 8 });
    const p1 = m1.allocDomainMemory(1, 1000) as number[];
    expect(m2.allocDomainMemory(1, 1000)).toEqual(p1);
    expect(m3.allocDomainMemory(1, 1000)).not.toEqual(p1);
    expect(new Set(p1).size).toBe(1000);
    let ascending = 0;
    for (let k = 0; k < p1.length; k++) {
      const mfn = p1[k] as number;
      expect(mfn).toBeGreaterThanOrEqual(IO_FRAMES);
      expect(m1.owner[mfn]).toBe(1);
      expect(m1.count[mfn]).toBe(1);
      expect(m1.m2pGet(mfn)).toBe(k);
      if (k > 0 && mfn === (p1[k - 1] as number) + 1) ascending++;
    }
    expect(ascending).toBeLessThan(20);
    expect(m1.allocDomainMemory(2, 100000)).toBeUndefined();
  });

  it('frees a released frame once nothing references it, scrubbed and with its M2P entry invalid', () => {
    const m = new MachineMemory({ frames: 1024, seed: 3 });
    const [mfn] = m.allocDomainMemory(1, 1) as [number];
    m.view(mfn).setUint32(0, 0xdeadbeef, true);
    const before = m.freeCount;
    m.count[mfn] = 2; // a mapping holds it
    expect(m.release(mfn)).toBe(true);
    expect((m.flags[mfn] as number) & F_ALLOCATED).toBe(0);
    expect(m.owner[mfn]).toBe(1);
    expect(m.release(mfn)).toBe(false);
    m.putRef(mfn);
    expect(m.owner[mfn]).toBe(OWNER_FREE);
    expect(m.freeCount).toBe(before + 1);
    expect(m.view(mfn).getUint32(0, true)).toBe(0);
    expect(m.m2pGet(mfn)).toBe(INVALID_M2P_ENTRY);
    expect(() => m.putRef(mfn)).toThrow(/unreferenced/);
  });

  it('maps the M2P read-only at MACH2PHYS_VIRT_START in a validated L4 (m2p_strict)', () => {
    const m = new MachineMemory({ frames: 2048, seed: 5 });
    const types = new PageTypes(m);
    const dom = new PvMmu(types, { domid: 1, vcpus: 1, vmAssist: (t) => t === VMASST_TYPE_m2p_strict });
    const p2m = m.allocDomainMemory(1, 8) as number[];
    const l4 = p2m[0] as number;
    expect(dom.setBaseptrs(0, l4)).toBe(0);
    const regs = { cr0: 0x80010001 | 0, cr3: l4 * 4096, cr4: 0x20, efer: 0x500, smapOverride: false };
    const paging = new Mmu(m, regs);
    for (const mfn of [p2m[3] as number, 1999, 5]) {
      const la = M2P_VIRT_START + mfn * 8;
      // The PV kernel runs at CPL 3: the mapping is user-readable.
      const t = paging.translate(la, AccessKind.Read, true);
      expect(t).not.toBeInstanceOf(Fault);
      const pa = (t as { pa: number }).pa;
      const v = m.frame(Math.floor(pa / 4096)) as DataView;
      const lo = v.getUint32(pa % 4096, true);
      const hi = v.getUint32((pa % 4096) + 4, true);
      const want = m.m2pGet(mfn);
      expect(want === INVALID_M2P_ENTRY ? lo === 0xffffffff && hi === 0xffffffff : lo === want && hi === 0).toBe(true);
    }
    expect(paging.translate(M2P_VIRT_START, AccessKind.Write, true)).toBeInstanceOf(Fault);
    // Beyond the table: not mapped.
    expect(paging.translate(M2P_VIRT_START + 2048 * 8 + 4096 * 4, AccessKind.Read, true)).toBeInstanceOf(Fault);
  });

  it('shares Xen-heap pages with a domain outside its P2M, writable ones typed writable for good', () => {
    const m = new MachineMemory({ frames: 1024, seed: 4 });
    const mfn = m.allocXenHeapPage(1, true) as number;
    expect(m.owner[mfn]).toBe(1);
    expect(m.m2pGet(mfn)).toBe(INVALID_M2P_ENTRY);
    expect(m.typeCount[mfn]).toBe(1);
    expect(m.release(mfn)).toBe(true);
    expect(m.owner[mfn]).toBe(OWNER_FREE);
  });

  it('refuses a pool too small for the M2P and the low MiB', () => {
    expect(() => new MachineMemory({ frames: 100, seed: 1 })).toThrow(RangeError);
  });
});
