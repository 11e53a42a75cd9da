/**
 * memory_op (abi/hypercall/memory.ts) for a PV64 domU, one sub-op or refusal per test, as Xen
 * 4.17 answers: reservations return the extent count reached (never an errno), populate_physmap
 * turns GPFNs into MFNs and sets the M2P, decrease_reservation frees MFNs, the M2P window and
 * frames, libxl's E820 and max_pages, and the refusals (-EPERM, -EACCES, -EOPNOTSUPP, -ENOSYS).
 */
import { describe, expect, it } from 'vitest';
import { INVALID_M2P_ENTRY, OWNER_FREE } from '../../abi/hv/machine.js';
import { totPages } from '../../abi/hypercall/memory.js';
import { XEN_EACCES, XEN_EFAULT, XEN_EINVAL, XEN_ENOSYS, XEN_EOPNOTSUPP, XEN_EPERM, XEN_ESRCH } from '../../abi/public/errno.js';
import * as M from '../../abi/public/memory.js';
import { layout } from '../../abi/public/index.js';
import { DOMID_SELF, __HYPERVISOR_memory_op as MEMORY_OP } from '../../abi/public/xen.js';
import { ARG, LIST, NR_PAGES, UNMAPPED, pvDomain, type PvDomain } from './pv-domain.js';

/** Writes a xen_memory_reservation at ARG. */
function reservation(g: PvDomain, o: { list?: number | bigint; n: number; order?: number; flags?: number; domid?: number }): void {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, BigInt.asUintN(64, BigInt(o.list ?? LIST)), true);
  dv.setBigUint64(8, BigInt(o.n), true);
  dv.setUint32(16, o.order ?? 0, true);
  dv.setUint32(20, o.flags ?? 0, true);
  dv.setUint16(24, o.domid ?? DOMID_SELF, true);
  g.write(ARG, b);
}

function domidArg(g: PvDomain, domid: number): void {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, domid, true);
  g.write(ARG, b);
}

const MAX_PAGES = NR_PAGES + 256;

describe('memory_op: reservations', () => {
  it('populate_physmap allocates a frame per GPFN, returns MFNs in the list and sets the M2P', () => {
    const g = pvDomain();
    g.u64s(LIST, [NR_PAGES, NR_PAGES + 5]);
    reservation(g, { n: 2 });
    expect(g.call(MEMORY_OP, M.XENMEM_populate_physmap, ARG)).toBe(2);
    const [a, b] = g.readU64(LIST, 2) as [number, number];
    expect(g.mem.owner[a]).toBe(1);
    expect(g.mem.owner[b]).toBe(1);
    expect(g.mem.m2pGet(a)).toBe(NR_PAGES);
    expect(g.mem.m2pGet(b)).toBe(NR_PAGES + 5);
    expect(totPages(g.mem, 1)).toBe(NR_PAGES + 2);
    expect(g.d.stats.list()).toContainEqual({ hypercall: 'memory_op', subop: 'XENMEM_populate_physmap', result: 'positive', count: 1 });
  });

  it('decrease_reservation takes MFNs back, stopping at the first frame the domain does not own', () => {
    const g = pvDomain();
    const victim = g.p2m[40] as number;
    g.u64s(LIST, [victim, g.other[0] as number, g.p2m[41] as number]);
    reservation(g, { n: 3 });
    expect(g.call(MEMORY_OP, M.XENMEM_decrease_reservation, ARG)).toBe(1);
    expect(g.mem.owner[victim]).toBe(OWNER_FREE);
    expect(g.mem.m2pGet(victim)).toBe(INVALID_M2P_ENTRY);
    expect(g.mem.owner[g.other[0] as number]).toBe(2);
    expect(g.mem.owner[g.p2m[41] as number]).toBe(1);
    // An MFN beyond the pool ends the batch too.
    g.u64s(LIST, [1e9]);
    reservation(g, { n: 1 });
    expect(g.call(MEMORY_OP, M.XENMEM_decrease_reservation, ARG)).toBe(0);
  });

  it('a frame still mapped survives decrease_reservation until its mapping goes', () => {
    const g = pvDomain();
    const mapped = g.p2m[20] as number; // mapped RW at VA 0x14000 by the test page tables
    g.u64s(LIST, [mapped]);
    reservation(g, { n: 1 });
    expect(g.call(MEMORY_OP, M.XENMEM_decrease_reservation, ARG)).toBe(1);
    expect(g.mem.owner[mapped]).toBe(1);
    expect(g.mem.count[mapped]).toBe(1);
  });

  it('increase_reservation hands out frames with an invalid M2P entry; a NULL list just allocates', () => {
    const g = pvDomain();
    reservation(g, { n: 3 });
    expect(g.call(MEMORY_OP, M.XENMEM_increase_reservation, ARG)).toBe(3);
    for (const mfn of g.readU64(LIST, 3)) {
      expect(g.mem.owner[mfn]).toBe(1);
      expect(g.mem.m2pGet(mfn)).toBe(INVALID_M2P_ENTRY);
    }
    reservation(g, { list: 0, n: 2 });
    expect(g.call(MEMORY_OP, M.XENMEM_increase_reservation, ARG)).toBe(2);
    expect(totPages(g.mem, 1)).toBe(NR_PAGES + 5);
  });

  it('stops at max_pages (libxl: the target plus 1 MiB)', () => {
    const g = pvDomain();
    g.d.memory!.maxPages = NR_PAGES + 2;
    g.u64s(LIST, [100, 101, 102, 103]);
    reservation(g, { n: 4 });
    expect(g.call(MEMORY_OP, M.XENMEM_populate_physmap, ARG)).toBe(2);
  });

  it('refuses before the first extent by returning 0: order above 9, another domain, a bad list, exact node, address bits <= 12', () => {
    const g = pvDomain();
    g.u64s(LIST, [100]);
    reservation(g, { n: 1, order: 10 });
    expect(g.call(MEMORY_OP, M.XENMEM_populate_physmap, ARG)).toBe(0);
    reservation(g, { n: 1, domid: 2 });
    expect(g.call(MEMORY_OP, M.XENMEM_populate_physmap, ARG)).toBe(0);
    reservation(g, { n: 1, domid: 77 });
    expect(g.call(MEMORY_OP, M.XENMEM_populate_physmap, ARG)).toBe(0);
    reservation(g, { n: 1, list: -0x800000000000 }); // Xen's own range: the handle is not ok
    expect(g.call(MEMORY_OP, M.XENMEM_populate_physmap, ARG)).toBe(0);
    reservation(g, { n: 1, list: UNMAPPED }); // ok handle, but the copy faults
    expect(g.call(MEMORY_OP, M.XENMEM_populate_physmap, ARG)).toBe(0);
    reservation(g, { n: 1, flags: (3 << 8) | M.XENMEMF_exact_node_request });
    expect(g.call(MEMORY_OP, M.XENMEM_populate_physmap, ARG)).toBe(0);
    reservation(g, { n: 1, flags: 12 });
    expect(g.call(MEMORY_OP, M.XENMEM_populate_physmap, ARG)).toBe(0);
    reservation(g, { n: 1, flags: M.XENMEMF_populate_on_demand });
    expect(g.call(MEMORY_OP, M.XENMEM_populate_physmap, ARG)).toBe(0);
    // Unreadable argument: the start extent (0), not -EFAULT.
    expect(g.call(MEMORY_OP, M.XENMEM_populate_physmap, UNMAPPED)).toBe(0);
    expect(totPages(g.mem, 1)).toBe(NR_PAGES);
  });

  it('honours the continuation index in cmd (extents before it are skipped)', () => {
    const g = pvDomain();
    g.u64s(LIST, [100, 101, 102]);
    reservation(g, { n: 3 });
    expect(g.call(MEMORY_OP, M.XENMEM_populate_physmap | (2 << 6), ARG)).toBe(3);
    expect(g.readU64(LIST, 3).slice(0, 2)).toEqual([100, 101]);
    reservation(g, { n: 3 });
    expect(g.call(MEMORY_OP, M.XENMEM_populate_physmap | (5 << 6), ARG)).toBe(5);
  });
});

describe('memory_op: counts and maps', () => {
  it('current/maximum reservation and maximum_gpfn for DOMID_SELF and the own id; others refused', () => {
    const g = pvDomain();
    domidArg(g, DOMID_SELF);
    expect(g.call(MEMORY_OP, M.XENMEM_current_reservation, ARG)).toBe(NR_PAGES);
    expect(g.call(MEMORY_OP, M.XENMEM_maximum_reservation, ARG)).toBe(MAX_PAGES);
    expect(g.call(MEMORY_OP, M.XENMEM_maximum_gpfn, ARG)).toBe(0);
    domidArg(g, 1);
    expect(g.call(MEMORY_OP, M.XENMEM_maximum_reservation, ARG)).toBe(MAX_PAGES);
    domidArg(g, 2);
    expect(g.call(MEMORY_OP, M.XENMEM_current_reservation, ARG)).toBe(-XEN_EPERM);
    domidArg(g, 9);
    expect(g.call(MEMORY_OP, M.XENMEM_current_reservation, ARG)).toBe(-XEN_ESRCH);
    expect(g.call(MEMORY_OP, M.XENMEM_current_reservation, UNMAPPED)).toBe(-XEN_EFAULT);
    expect(g.call(MEMORY_OP, M.XENMEM_current_reservation | (1 << 6), ARG)).toBe(-XEN_EINVAL);
  });

  it('maximum_gpfn follows the guest-written shared_info.arch.max_pfn', () => {
    const g = pvDomain();
    const si = new DataView(new ArrayBuffer(4096));
    g.d.memory!.sharedInfo = si;
    domidArg(g, DOMID_SELF);
    expect(g.call(MEMORY_OP, M.XENMEM_maximum_gpfn, ARG)).toBe(0);
    const off = layout('shared_info', 'x86_64').field('arch.max_pfn').offset;
    si.setUint32(off, 0x10000, true);
    expect(g.call(MEMORY_OP, M.XENMEM_maximum_gpfn, ARG)).toBe(0xffff);
  });

  it('maximum_ram_page is the pool size', () => {
    const g = pvDomain();
    expect(g.call(MEMORY_OP, M.XENMEM_maximum_ram_page, 0)).toBe(4096);
    expect(g.call(MEMORY_OP, M.XENMEM_maximum_ram_page | (1 << 6), 0)).toBe(-XEN_EINVAL);
  });

  it('memory_map returns libxl\'s single RAM entry, clipped to the room given; -ENOSYS when none is set', () => {
    const g = pvDomain();
    const map = (room: number) => {
      const b = new Uint8Array(16);
      const dv = new DataView(b.buffer);
      dv.setUint32(0, room, true);
      dv.setBigUint64(8, BigInt(LIST), true);
      g.write(ARG, b);
    };
    map(4);
    expect(g.call(MEMORY_OP, M.XENMEM_memory_map, ARG)).toBe(0);
    const e = new Uint8Array(20);
    expect(g.v.mem.read(LIST, e)).toBe(true);
    const dv = new DataView(e.buffer);
    expect([dv.getBigUint64(0, true), dv.getBigUint64(8, true), dv.getUint32(16, true)]).toEqual([0n, BigInt(NR_PAGES * 4096), 1]);
    expect(g.readU64(ARG, 1)[0]! % 2 ** 32).toBe(1);
    map(0);
    expect(g.call(MEMORY_OP, M.XENMEM_memory_map, ARG)).toBe(0);
    expect(g.readU64(ARG, 1)[0]! % 2 ** 32).toBe(0);
    g.d.memory!.e820 = undefined;
    map(4);
    expect(g.call(MEMORY_OP, M.XENMEM_memory_map, ARG)).toBe(-XEN_ENOSYS);
  });

  it('set_memory_map on itself replaces the E820 (XSM_TARGET lets a domain name itself)', () => {
    const g = pvDomain();
    const b = new Uint8Array(24);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, DOMID_SELF, true);
    dv.setUint32(8, 2, true);
    dv.setBigUint64(16, BigInt(LIST), true);
    g.write(ARG, b);
    const e = new Uint8Array(40);
    const ev = new DataView(e.buffer);
    ev.setBigUint64(8, 0x9f000n, true);
    ev.setUint32(16, 1, true);
    ev.setBigUint64(20, 0x100000n, true);
    ev.setBigUint64(28, 0x100000n, true);
    ev.setUint32(36, 2, true);
    g.write(LIST, e);
    expect(g.call(MEMORY_OP, M.XENMEM_set_memory_map, ARG)).toBe(0);
    expect(g.d.memory!.e820).toEqual([{ addr: 0, size: 0x9f000, type: 1 }, { addr: 0x100000, size: 0x100000, type: 2 }]);
    dv.setUint32(8, 1025, true);
    g.write(ARG, b);
    expect(g.call(MEMORY_OP, M.XENMEM_set_memory_map, ARG)).toBe(-XEN_EINVAL);
  });

  it('machphys_mapping: the PV64 M2P window and 2^35 - 1', () => {
    const g = pvDomain();
    expect(g.call(MEMORY_OP, M.XENMEM_machphys_mapping, ARG)).toBe(0);
    const b = new Uint8Array(24);
    expect(g.v.mem.read(ARG, b)).toBe(true);
    const dv = new DataView(b.buffer);
    expect([dv.getBigUint64(0, true), dv.getBigUint64(8, true), dv.getBigUint64(16, true)]).toEqual([0xffff800000000000n, 0xffff804000000000n, 2n ** 35n - 1n]);
    expect(g.call(MEMORY_OP, M.XENMEM_machphys_mapping, UNMAPPED)).toBe(-XEN_EFAULT);
  });

  it('machphys_mfn_list: one frame per 2 MiB of M2P, bounded by max_extents', () => {
    const g = pvDomain();
    const b = new Uint8Array(24);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 8, true);
    dv.setBigUint64(8, BigInt(LIST), true);
    g.write(ARG, b);
    expect(g.call(MEMORY_OP, M.XENMEM_machphys_mfn_list, ARG)).toBe(0);
    expect(g.readU64(LIST, 1)).toEqual([g.mem.m2pFrames[0]]);
    expect(g.readU64(ARG + 16, 1)[0]! % 2 ** 32).toBe(1);
    dv.setUint32(0, 0, true);
    g.write(ARG, b);
    expect(g.call(MEMORY_OP, M.XENMEM_machphys_mfn_list, ARG)).toBe(0);
    expect(g.readU64(ARG + 16, 1)[0]! % 2 ** 32).toBe(0);
  });
});

describe('memory_op: refusals', () => {
  it('answers the privileged, translated-only and absent sub-ops with Xen\'s codes', () => {
    const g = pvDomain();
    g.write(ARG, new Uint8Array(32));
    expect(g.call(MEMORY_OP, M.XENMEM_machine_memory_map, ARG)).toBe(-XEN_EPERM);
    expect(g.call(MEMORY_OP, M.XENMEM_machphys_compat_mfn_list, ARG)).toBe(-XEN_EOPNOTSUPP);
    expect(g.call(MEMORY_OP, M.XENMEM_get_sharing_freed_pages, 0)).toBe(0);
    expect(g.call(MEMORY_OP, M.XENMEM_get_sharing_shared_pages, 0)).toBe(0);
    // XENMEM_exchange with nothing to exchange (test/abi/memory-exchange.test.ts has the rest).
    expect(g.call(MEMORY_OP, M.XENMEM_exchange, ARG)).toBe(0);
    expect(g.call(MEMORY_OP, 63, ARG)).toBe(-XEN_ENOSYS);
    // add_to_physmap (domid 0 = the host at offset 0 here would be -EACCES too): shared_info space.
    const x = new Uint8Array(24);
    const xv = new DataView(x.buffer);
    xv.setUint16(0, DOMID_SELF, true);
    xv.setUint32(4, M.XENMAPSPACE_shared_info, true);
    g.write(ARG, x);
    expect(g.call(MEMORY_OP, M.XENMEM_add_to_physmap, ARG)).toBe(-XEN_EACCES);
    xv.setUint32(4, M.XENMAPSPACE_gmfn_foreign, true);
    g.write(ARG, x);
    expect(g.call(MEMORY_OP, M.XENMEM_add_to_physmap, ARG)).toBe(-XEN_ENOSYS);
    xv.setUint32(4, M.XENMAPSPACE_grant_table, true);
    xv.setUint16(0, 55, true);
    g.write(ARG, x);
    expect(g.call(MEMORY_OP, M.XENMEM_add_to_physmap, ARG)).toBe(-XEN_ESRCH);
    expect(g.call(MEMORY_OP, M.XENMEM_add_to_physmap, UNMAPPED)).toBe(-XEN_EFAULT);
    // remove_from_physmap: translated only.
    domidArg(g, DOMID_SELF);
    expect(g.call(MEMORY_OP, M.XENMEM_remove_from_physmap, ARG)).toBe(-XEN_EACCES);
  });

  it('claim_pages checks its argument, then refuses a domU', () => {
    const g = pvDomain();
    reservation(g, { list: 0, n: 10, domid: 1 });
    expect(g.call(MEMORY_OP, M.XENMEM_claim_pages, ARG)).toBe(-XEN_EPERM);
    reservation(g, { list: LIST, n: 10, domid: 1 });
    expect(g.call(MEMORY_OP, M.XENMEM_claim_pages, ARG)).toBe(-XEN_EINVAL);
    reservation(g, { list: 0, n: 10, order: 1, domid: 1 });
    expect(g.call(MEMORY_OP, M.XENMEM_claim_pages, ARG)).toBe(-XEN_EINVAL);
  });

  it('reserved_device_memory_map: no IOMMU, so an empty list; unknown flags -EINVAL', () => {
    const g = pvDomain();
    const b = new Uint8Array(24);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 1, true);
    dv.setUint32(8, 16, true);
    dv.setBigUint64(16, BigInt(LIST), true);
    g.write(ARG, b);
    expect(g.call(MEMORY_OP, M.XENMEM_reserved_device_memory_map, ARG)).toBe(0);
    expect(g.readU64(ARG + 8, 1)[0]! % 2 ** 32).toBe(0);
    dv.setUint32(0, 2, true);
    g.write(ARG, b);
    expect(g.call(MEMORY_OP, M.XENMEM_reserved_device_memory_map, ARG)).toBe(-XEN_EINVAL);
  });

  it('get_vnumainfo: no vNUMA topology (-EOPNOTSUPP); a non-zero pad -EINVAL', () => {
    const g = pvDomain();
    const b = new Uint8Array(40);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, DOMID_SELF, true);
    g.write(ARG, b);
    expect(g.call(MEMORY_OP, M.XENMEM_get_vnumainfo, ARG)).toBe(-XEN_EOPNOTSUPP);
    dv.setUint16(2, 1, true);
    g.write(ARG, b);
    expect(g.call(MEMORY_OP, M.XENMEM_get_vnumainfo, ARG)).toBe(-XEN_EINVAL);
  });
});
