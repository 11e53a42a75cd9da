/**
 * Grant tables (abi/gnttab/, abi/hypercall/grant-table.ts) against the reference's §6 and Xen
 * 4.17's grant_table.c: the table's frames and versions, every sub-op with its GNTST_* statuses
 * and errnos, the in-use bits and page references a mapping holds, the host backends' mappings,
 * copies (frames, grants, sub-page and transitive grants), transfers, and the hypercall's
 * marshalling through the registered table.
 */
import { describe, expect, it } from 'vitest';
import { GrantHub, NO_HOST_MAPPER, type GrantHostMapper } from '../../abi/gnttab/grants.js';
import { GrantTable, MAPTRACK_PER_PAGE } from '../../abi/gnttab/table.js';
import { Domain } from '../../abi/hv/domain.js';
import { F_XEN_HEAP, MachineMemory, PageType } from '../../abi/hv/machine.js';
import { defaultTable } from '../../abi/hv/xen.js';
import type { HypercallContext } from '../../abi/hypercall/context.js';
import { BufferMemory } from '../../abi/layout/memory.js';
import { XEN_EBUSY, XEN_EFAULT, XEN_EINVAL, XEN_EOPNOTSUPP, XEN_EPERM, XEN_ERANGE, XEN_ESRCH, XEN_ENOSYS } from '../../abi/public/errno.js';
import * as G from '../../abi/public/grant-table.js';
import type { PvVcpu } from '../../abi/pv/vcpu.js';

const SELF = 0x7ff0;
const RW = G.GTF_permit_access;
const RO = G.GTF_permit_access | G.GTF_readonly;
const DEV = G.GNTMAP_device_map;
const DEV_RO = G.GNTMAP_device_map | G.GNTMAP_readonly;

interface World {
  mem: MachineMemory;
  hub: GrantHub;
  a: GrantTable;
  b: GrantTable;
  /** Pages of domain 1 and 2. */
  pa: number[];
  pb: number[];
}

function world(mapper?: GrantHostMapper): World {
  const mem = new MachineMemory({ frames: 2048, seed: 7 });
  const hub = new GrantHub(mem, mapper === undefined ? {} : { hostMapper: mapper });
  const a = hub.add(1);
  const b = hub.add(2);
  const pa = mem.allocDomainMemory(1, 8) as number[];
  const pb = mem.allocDomainMemory(2, 8) as number[];
  return { mem, hub, a, b, pa, pb };
}

/** The guest's side of granting: domid and frame first, then the flags (reference §6.3). */
function grant(t: GrantTable, ref: number, flags: number, domid: number, frame: number): void {
  const b = new Uint8Array(t.version === 1 ? 8 : 16);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, flags, true);
  dv.setUint16(2, domid, true);
  if (t.version === 1) dv.setUint32(4, frame, true);
  else dv.setUint32(8, frame, true);
  t.writeEntryRaw(ref, b);
}

function subPage(t: GrantTable, ref: number, domid: number, frame: number, off: number, len: number, ro = false): void {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, G.GTF_permit_access | G.GTF_sub_page | (ro ? G.GTF_readonly : 0), true);
  dv.setUint16(2, domid, true);
  dv.setUint16(4, off, true);
  dv.setUint16(6, len, true);
  dv.setUint32(8, frame, true);
  t.writeEntryRaw(ref, b);
}

function transitive(t: GrantTable, ref: number, domid: number, transDom: number, transRef: number): void {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, G.GTF_transitive, true);
  dv.setUint16(2, domid, true);
  dv.setUint16(4, transDom, true);
  dv.setUint32(8, transRef, true);
  t.writeEntryRaw(ref, b);
}

const flagsOf = (t: GrantTable, ref: number): number => t.readEntry(ref).flags;
const inUse = (t: GrantTable, ref: number): number => t.readStatus(ref) & (G.GTF_reading | G.GTF_writing);

describe('grant table: frames and sizes', () => {
  it('starts with one Xen-heap frame at version 1; setup_table grows it up to the maximum', () => {
    const { mem, hub, a, b } = world();
    expect(a.version).toBe(1);
    expect(a.nrFrames).toBe(1);
    expect(a.nrEntries).toBe(512);
    expect(hub.querySize(a, SELF)).toEqual({ status: G.GNTST_okay, nrFrames: 1, maxNrFrames: 64 });
    const r = hub.setupTable(a, SELF, 4);
    expect(r.status).toBe(G.GNTST_okay);
    expect(r.frames).toHaveLength(4);
    for (const f of r.frames) {
      expect(mem.owner[f]).toBe(1);
      expect((mem.flags[f] as number) & F_XEN_HEAP).toBe(F_XEN_HEAP);
      expect(mem.type[f]).toBe(PageType.Writable);
    }
    expect(hub.setupTable(a, 1, 2)).toEqual({ status: G.GNTST_okay, frames: r.frames.slice(0, 2) }); // no shrinking
    expect(a.nrFrames).toBe(4);
    expect(hub.setupTable(a, SELF, 65).status).toBe(G.GNTST_general_error);
    expect(hub.setupTable(a, 2, 1).status).toBe(G.GNTST_permission_denied);
    expect(hub.setupTable(a, 9, 1).status).toBe(G.GNTST_bad_domain);
    expect(hub.querySize(a, 2).status).toBe(G.GNTST_permission_denied);
    expect(hub.querySize(a, 9).status).toBe(G.GNTST_bad_domain);
    expect(hub.getVersion(a, SELF)).toBe(1);
    expect(hub.getVersion(a, 2)).toBe(-XEN_EPERM);
    expect(hub.getVersion(a, 9)).toBe(-XEN_ESRCH);
    expect(hub.dumpTable(a, SELF)).toBe(G.GNTST_okay);
    expect(hub.dumpTable(a, 9)).toBe(G.GNTST_bad_domain);
    expect(hub.dumpTable(b, 1)).toBe(G.GNTST_permission_denied);
  });

  it('frees its frames when the domain goes', () => {
    const { mem, hub, a } = world();
    const free = mem.freeCount;
    hub.setupTable(a, SELF, 3);
    expect(mem.freeCount).toBe(free - 2);
    hub.remove(1);
    expect(mem.freeCount).toBe(free + 1);
    expect(hub.get(1)).toBeUndefined();
  });
});

describe('grant table: map and unmap', () => {
  it('a device mapping pins the grant, sets GTF_reading, holds a page reference and returns a handle', () => {
    const { mem, hub, a, b, pa } = world();
    const f = pa[0] as number;
    grant(a, 8, RO, 2, f);
    const r = hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 8, dom: 1 });
    expect(r).toEqual({ status: G.GNTST_okay, handle: 0, devBusAddr: f * 4096 });
    expect(flagsOf(a, 8)).toBe(RO | G.GTF_reading);
    expect(mem.count[f]).toBe(2);
    expect(mem.typeCount[f]).toBe(0);
    expect(hub.unmap(b, { hostAddr: 0, devBusAddr: f * 4096, handle: 0 })).toBe(G.GNTST_okay);
    expect(flagsOf(a, 8)).toBe(RO);
    expect(mem.count[f]).toBe(1);
    expect(a.active.size).toBe(0);
    expect(hub.unmap(b, { hostAddr: 0, devBusAddr: f * 4096, handle: 0 })).toBe(G.GNTST_bad_handle);
  });

  it('a writable mapping sets GTF_writing and takes a writable type reference; the bits drop with the last pin', () => {
    const { mem, hub, a, b, pa } = world();
    const f = pa[1] as number;
    grant(a, 9, RW, 2, f);
    const w = hub.map(b, { hostAddr: 0, flags: DEV, ref: 9, dom: 1 });
    const r = hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 9, dom: 1 });
    expect(w.status).toBe(G.GNTST_okay);
    expect(r.status).toBe(G.GNTST_okay);
    expect(flagsOf(a, 9)).toBe(RW | G.GTF_reading | G.GTF_writing);
    expect(mem.typeCount[f]).toBe(1);
    expect(mem.count[f]).toBe(3);
    expect(hub.unmap(b, { hostAddr: 0, devBusAddr: f * 4096, handle: w.handle as number })).toBe(G.GNTST_okay);
    expect(flagsOf(a, 9)).toBe(RW | G.GTF_reading);
    expect(mem.typeCount[f]).toBe(0);
    expect(hub.unmap(b, { hostAddr: 0, devBusAddr: f * 4096, handle: r.handle as number })).toBe(G.GNTST_okay);
    expect(flagsOf(a, 9)).toBe(RW);
  });

  it('refuses what Xen refuses, with its statuses', () => {
    const { hub, a, b, pa, pb } = world();
    grant(a, 8, RO, 2, pa[0] as number);
    grant(a, 9, RW, 3, pa[1] as number); // for another domain
    grant(a, 10, G.GTF_accept_transfer, 2, 0);
    grant(a, 11, RW, 2, pb[0] as number); // a frame that is not domain 1's
    grant(a, 12, RW, 2, a.shared[0] as number); // its own grant frame: a Xen-heap page it owns, mappable
    expect(hub.map(b, { hostAddr: 0, flags: 0, ref: 8, dom: 1 }).status).toBe(G.GNTST_bad_gntref);
    expect(hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 8, dom: 9 }).status).toBe(G.GNTST_bad_domain);
    expect(hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 8, dom: SELF }).status).toBe(G.GNTST_bad_domain);
    expect(hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 512, dom: 1 }).status).toBe(G.GNTST_bad_gntref);
    expect(hub.map(b, { hostAddr: 0, flags: DEV, ref: 8, dom: 1 }).status).toBe(G.GNTST_general_error); // write to r/o
    expect(hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 9, dom: 1 }).status).toBe(G.GNTST_general_error); // other grantee
    expect(hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 10, dom: 1 }).status).toBe(G.GNTST_general_error); // not permit_access
    expect(hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 13, dom: 1 }).status).toBe(G.GNTST_general_error); // invalid entry
    expect(hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 11, dom: 1 }).status).toBe(G.GNTST_bad_page);
    expect(flagsOf(a, 11)).toBe(RW); // the in-use bit set for the check is cleared again
    expect(hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 12, dom: 1 }).status).toBe(G.GNTST_okay);
    // Failed maps gave their handles back to the tail of the free list.
    expect(b.liveHandles()).toEqual([6]);
    // A pinned grant cannot be pinned by a second grantee, even if the entry now names it.
    const c = hub.add(3);
    grant(a, 12, RW, 3, a.shared[0] as number);
    expect(hub.map(c, { hostAddr: 0, flags: DEV_RO, ref: 12, dom: 1 }).status).toBe(G.GNTST_general_error);
    expect(a.active.size).toBe(1);
  });

  it('unmap: bad handles, a wrong bus address, and fields left zero are ignored', () => {
    const { hub, a, b, pa } = world();
    const f = pa[0] as number;
    grant(a, 8, RW, 2, f);
    const h = hub.map(b, { hostAddr: 0, flags: DEV, ref: 8, dom: 1 }).handle as number;
    expect(hub.unmap(b, { hostAddr: 0, devBusAddr: 0, handle: 99999999 })).toBe(G.GNTST_bad_handle);
    expect(hub.unmap(b, { hostAddr: 0, devBusAddr: 0, handle: 5 })).toBe(G.GNTST_bad_handle); // never used
    expect(hub.unmap(b, { hostAddr: 0, devBusAddr: (f + 1) * 4096, handle: h })).toBe(G.GNTST_bad_dev_addr);
    expect(hub.unmap(b, { hostAddr: 0, devBusAddr: 0, handle: h })).toBe(G.GNTST_okay); // nothing named: nothing done
    expect(b.liveHandles()).toEqual([h]);
    expect(hub.unmap(b, { hostAddr: 0x1000, devBusAddr: 0, handle: h })).toBe(G.GNTST_okay); // no host mapping to drop
    expect(b.liveHandles()).toEqual([h]);
    expect(hub.unmap(b, { hostAddr: 0, devBusAddr: f * 4096, handle: h })).toBe(G.GNTST_okay);
    expect(b.liveHandles()).toEqual([]);
    expect(flagsOf(a, 8)).toBe(RW);
  });

  it('GNTMAP_host_map goes through the host mapper (the PV MMU); without one it is refused and nothing leaks', () => {
    const calls: string[] = [];
    const mapper: GrantHostMapper = {
      create: (d, va, mfn, flags, cache) => (calls.push(`create d${d} ${va.toString(16)} ${mfn} ${flags} ${cache}`), G.GNTST_okay),
      destroy: (d, va, mfn) => (calls.push(`destroy d${d} ${va.toString(16)} ${mfn}`), va === 0xbad000 ? G.GNTST_general_error : G.GNTST_okay),
    };
    const { mem, hub, a, b, pa } = world(mapper);
    const f = pa[2] as number;
    grant(a, 8, RW | G.GTF_PWT, 2, f);
    const r = hub.map(b, { hostAddr: 0x7000, flags: G.GNTMAP_host_map, ref: 8, dom: 1 });
    expect(r.status).toBe(G.GNTST_okay);
    expect(calls).toEqual([`create d2 7000 ${f} ${G.GNTMAP_host_map} 0`]); // cache bits only for I/O memory
    expect(mem.typeCount[f]).toBe(1);
    expect(hub.unmap(b, { hostAddr: 0xbad000, devBusAddr: 0, handle: r.handle as number })).toBe(G.GNTST_general_error);
    expect(hub.unmap(b, { hostAddr: 0x7000, devBusAddr: 0, handle: r.handle as number })).toBe(G.GNTST_okay);
    expect(calls.at(-1)).toBe(`destroy d2 7000 ${f}`);
    expect(mem.count[f]).toBe(1);
    expect(mem.typeCount[f]).toBe(0);

    hub.hostMapper = NO_HOST_MAPPER;
    expect(hub.map(b, { hostAddr: 0x7000, flags: G.GNTMAP_host_map, ref: 8, dom: 1 }).status).toBe(G.GNTST_general_error);
    expect(flagsOf(a, 8)).toBe(RW | G.GTF_PWT);
    expect(mem.count[f]).toBe(1);
    expect(mem.typeCount[f]).toBe(0);
    expect(b.liveHandles()).toEqual([]);
  });

  it('a writable mapping of a page-table page is refused (the writable type cannot be had)', () => {
    const { mem, hub, a, b, pa } = world();
    const f = pa[3] as number;
    mem.type[f] = PageType.L1;
    mem.typeCount[f] = 1;
    mem.count[f] = 2;
    grant(a, 8, RW, 2, f);
    expect(hub.map(b, { hostAddr: 0, flags: DEV, ref: 8, dom: 1 }).status).toBe(G.GNTST_general_error);
    expect(mem.count[f]).toBe(2);
    expect(flagsOf(a, 8)).toBe(RW);
    expect(hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 8, dom: 1 }).status).toBe(G.GNTST_okay);
  });

  it('maptrack handles run out with GNTST_no_space; a pin counter stops at 128', () => {
    const mem = new MachineMemory({ frames: 2048, seed: 3 });
    const hub = new GrantHub(mem);
    const a = hub.add(1);
    const b = hub.add(2, { maxMaptrackFrames: 1 });
    const c = hub.add(3);
    const pages = mem.allocDomainMemory(1, 300) as number[];
    for (let k = 0; k < 300; k++) grant(a, k, RO, 2, pages[k] as number);
    const st: number[] = [];
    for (let k = 0; k < MAPTRACK_PER_PAGE; k++) st.push(hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: k, dom: 1 }).status);
    // One maptrack entry always stays on the free list.
    expect(st.slice(0, MAPTRACK_PER_PAGE - 1).every((s) => s === G.GNTST_okay)).toBe(true);
    expect(st[MAPTRACK_PER_PAGE - 1]).toBe(G.GNTST_no_space);
    grant(a, 400, RO, 3, pages[299] as number);
    for (let k = 0; k < 128; k++) expect(hub.map(c, { hostAddr: 0, flags: DEV_RO, ref: 400, dom: 1 }).status).toBe(G.GNTST_okay);
    expect(hub.map(c, { hostAddr: 0, flags: DEV_RO, ref: 400, dom: 1 }).status).toBe(G.GNTST_general_error);
    expect(hub.map(c, { hostAddr: 0, flags: DEV, ref: 400, dom: 1 }).status).toBe(G.GNTST_general_error); // read-only grant
  });

  it('handles are reused first-in first-out', () => {
    const { hub, a, b, pa } = world();
    grant(a, 8, RO, 2, pa[0] as number);
    const h = [0, 1, 2].map(() => hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 8, dom: 1 }).handle);
    expect(h).toEqual([0, 1, 2]);
    hub.unmap(b, { hostAddr: 0, devBusAddr: (pa[0] as number) * 4096, handle: 1 });
    expect(hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 8, dom: 1 }).handle).toBe(3);
  });

  it('domain teardown drops the mappings the domain holds', () => {
    const { mem, hub, a, b, pa } = world();
    const f = pa[0] as number;
    grant(a, 8, RW, 2, f);
    hub.map(b, { hostAddr: 0, flags: DEV, ref: 8, dom: 1 });
    hub.remove(2);
    expect(flagsOf(a, 8)).toBe(RW);
    expect(mem.count[f]).toBe(1);
    expect(mem.typeCount[f]).toBe(0);
  });
});

describe('grant table: save and restore', () => {
  it('round-trips every table through its record; the restored hub unmaps what the old one mapped', () => {
    const { mem, hub, a, b, pa } = world();
    hub.setupTable(a, SELF, 2);
    expect(b.setVersion(2)).toBe(0);
    grant(a, 8, RW, 2, pa[0] as number);
    grant(a, 9, RO, 0, pa[1] as number);
    const m = hub.map(b, { hostAddr: 0, flags: DEV, ref: 8, dom: 1 });
    const h = hub.mapForHost(1, 9, true);
    if (typeof h === 'number') throw new Error(`status ${h}`);
    const records = JSON.parse(JSON.stringify(hub.save())) as ReturnType<GrantHub['save']>;
    expect(records.map((r) => r.domid)).toEqual([0, 1, 2]);
    const again = new GrantHub(mem);
    for (const r of records) again.restore(r);
    expect(again.save()).toEqual(hub.save());
    const a2 = again.get(1) as GrantTable;
    const b2 = again.get(2) as GrantTable;
    expect(b2.version).toBe(2);
    expect(again.unmap(b2, { hostAddr: 0, devBusAddr: (pa[0] as number) * 4096, handle: m.handle as number })).toBe(G.GNTST_okay);
    expect(again.unmapForHost(h.handle)).toBe(G.GNTST_okay);
    expect(a2.readEntry(8).flags).toBe(RW);
    expect(a2.readEntry(9).flags).toBe(RO);
    expect(mem.count[pa[0] as number]).toBe(1);
    expect(() => again.restore(records[1] as (typeof records)[number])).toThrow(/already has a table/);
  });
});

describe('grant table: the host backends', () => {
  it('mapForHost gives the frame itself; the in-use bits and references are held until unmapForHost', () => {
    const { mem, hub, a, pa } = world();
    const f = pa[4] as number;
    grant(a, 20, RW, 0, f);
    const m = hub.mapForHost(1, 20, false);
    if (typeof m === 'number') throw new Error(`status ${m}`);
    expect(m.mfn).toBe(f);
    m.view.setUint32(16, 0xdeadbeef, true);
    expect(mem.view(f).getUint32(16, true)).toBe(0xdeadbeef);
    expect(flagsOf(a, 20)).toBe(RW | G.GTF_reading | G.GTF_writing);
    expect(mem.count[f]).toBe(2);
    // The guest cannot revoke: the bits say it is in use. The mapping is not disturbed by a bogus unmap.
    expect(hub.unmapForHost(m.handle + 1)).toBe(G.GNTST_bad_handle);
    expect(hub.unmapForHost(m.handle)).toBe(G.GNTST_okay);
    expect(flagsOf(a, 20)).toBe(RW);
    expect(mem.count[f]).toBe(1);
    expect(hub.unmapForHost(m.handle)).toBe(G.GNTST_bad_handle);
    expect(hub.mapForHost(1, 21, true)).toBe(G.GNTST_general_error); // nothing granted
    grant(a, 21, RO, 0, f);
    expect(hub.mapForHost(1, 21, false)).toBe(G.GNTST_general_error);
    expect(hub.mapForHost(5, 21, true)).toBe(G.GNTST_bad_domain);
  });
});

describe('grant table: copy', () => {
  const gref = G.GNTCOPY_source_gref;
  const dref = G.GNTCOPY_dest_gref;

  it('copies from a granted frame into the caller\'s own frame and back; the in-use bits are transient', () => {
    const { mem, hub, a, b, pa, pb } = world();
    const fa = pa[0] as number;
    const fb = pb[0] as number;
    grant(a, 8, RW, 2, fa);
    mem.view(fa).setUint32(100, 0x11223344, true);
    const st = hub.copy(b, { source: { ref: 8, gmfn: 0, domid: 1, offset: 100 }, dest: { ref: 0, gmfn: fb, domid: SELF, offset: 200 }, len: 4, flags: gref });
    expect(st).toBe(G.GNTST_okay);
    expect(mem.view(fb).getUint32(200, true)).toBe(0x11223344);
    mem.view(fb).setUint32(0, 0xcafef00d, true);
    expect(hub.copy(b, { source: { ref: 0, gmfn: fb, domid: SELF, offset: 0 }, dest: { ref: 8, gmfn: 0, domid: 1, offset: 4092 }, len: 4, flags: dref })).toBe(G.GNTST_okay);
    expect(mem.view(fa).getUint32(4092, true)).toBe(0xcafef00d);
    expect(flagsOf(a, 8)).toBe(RW);
    expect(a.active.size).toBe(0);
    expect(mem.count[fa]).toBe(1);
    expect(mem.typeCount[fa]).toBe(0);
  });

  it('refuses with Xen\'s statuses, grant checks before page bounds', () => {
    const { hub, a, b, pa, pb } = world();
    grant(a, 8, RO, 2, pa[0] as number);
    const own = { ref: 0, gmfn: pb[0] as number, domid: SELF, offset: 0 };
    const g8 = { ref: 8, gmfn: 0, domid: 1, offset: 0 };
    expect(hub.copy(b, { source: { ...own, gmfn: pa[0] as number, domid: 1 }, dest: own, len: 4, flags: 0 })).toBe(G.GNTST_permission_denied);
    expect(hub.copy(b, { source: { ...g8, domid: 9 }, dest: own, len: 4, flags: gref })).toBe(G.GNTST_bad_domain);
    expect(hub.copy(b, { source: { ...g8, ref: 9999 }, dest: own, len: 4, flags: gref })).toBe(G.GNTST_bad_gntref);
    expect(hub.copy(b, { source: own, dest: g8, len: 4, flags: dref })).toBe(G.GNTST_general_error); // r/o grant as dest
    expect(hub.copy(b, { source: { ...own, gmfn: pa[1] as number }, dest: own, len: 4, flags: 0 })).toBe(G.GNTST_bad_page); // not its frame
    expect(hub.copy(b, { source: { ...g8, offset: 4000 }, dest: own, len: 200, flags: gref })).toBe(G.GNTST_bad_copy_arg);
    expect(hub.copy(b, { source: { ...g8, ref: 9999 }, dest: own, len: 8000, flags: gref })).toBe(G.GNTST_bad_gntref);
    expect(hub.copy(a, { source: g8, dest: { ...own, gmfn: pa[1] as number }, len: 4, flags: gref })).toBe(G.GNTST_general_error); // not the grantee
    expect(flagsOf(a, 8)).toBe(RO);
    expect(a.active.size).toBe(0);
  });

  it('v2 sub-page grants bound the copy and cannot be mapped; transitive grants resolve one level', () => {
    const { mem, hub, a, b, pa, pb } = world();
    const c = hub.add(3);
    const pc = mem.allocDomainMemory(3, 2) as number[];
    expect(a.setVersion(2)).toBe(0);
    expect(b.setVersion(2)).toBe(0);
    subPage(a, 8, 2, pa[0] as number, 256, 64);
    const own = { ref: 0, gmfn: pb[0] as number, domid: SELF, offset: 0 };
    expect(hub.copy(b, { source: { ref: 8, gmfn: 0, domid: 1, offset: 256 }, dest: own, len: 64, flags: gref })).toBe(G.GNTST_okay);
    expect(hub.copy(b, { source: { ref: 8, gmfn: 0, domid: 1, offset: 255 }, dest: own, len: 64, flags: gref })).toBe(G.GNTST_general_error);
    expect(hub.copy(b, { source: { ref: 8, gmfn: 0, domid: 1, offset: 256 }, dest: own, len: 65, flags: gref })).toBe(G.GNTST_general_error);
    expect(hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 8, dom: 1 }).status).toBe(G.GNTST_general_error);
    expect(a.readStatus(8)).toBe(0);

    // Domain 1 grants a page to 2; 2 passes it on to 3 transitively; 3 copies out of it.
    grant(a, 9, RW, 2, pa[1] as number);
    mem.view(pa[1] as number).setUint8(7, 0x5a);
    transitive(b, 10, 3, 1, 9);
    const dst = { ref: 0, gmfn: pc[0] as number, domid: SELF, offset: 0 };
    expect(hub.copy(c, { source: { ref: 10, gmfn: 0, domid: 2, offset: 0 }, dest: dst, len: 8, flags: gref })).toBe(G.GNTST_okay);
    expect(mem.view(pc[0] as number).getUint8(7)).toBe(0x5a);
    expect(a.readStatus(9)).toBe(0);
    expect(b.readStatus(10)).toBe(0);
    transitive(b, 11, 3, 2, 9); // self-referential
    expect(hub.copy(c, { source: { ref: 11, gmfn: 0, domid: 2, offset: 0 }, dest: dst, len: 8, flags: gref })).toBe(G.GNTST_general_error);
    expect(hub.map(c, { hostAddr: 0, flags: DEV_RO, ref: 10, dom: 2 }).status).not.toBe(G.GNTST_okay);
    expect(b.readStatus(10)).toBe(0);
  });
});

describe('grant table: versions, status frames, swap', () => {
  it('set_version 1 -> 2 -> 1: status frames come and go, the reserved entries survive, the rest is wiped', () => {
    const { mem, hub, a, b, pa } = world();
    hub.setupTable(a, SELF, 9);
    grant(a, 1, RW, 0, 0x1234); // the toolstack's XenStore grant
    grant(a, 8, RW, 2, pa[0] as number);
    expect(hub.getStatusFrames(a, SELF, 0)).toEqual({ status: G.GNTST_okay, frames: [] });
    expect(hub.getStatusFrames(a, SELF, 1).status).toBe(G.GNTST_general_error);
    expect(a.setVersion(3)).toBe(-XEN_EINVAL);
    expect(a.setVersion(1)).toBe(0);
    const h = hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 8, dom: 1 });
    expect(a.setVersion(2)).toBe(-XEN_EBUSY);
    hub.unmap(b, { hostAddr: 0, devBusAddr: (pa[0] as number) * 4096, handle: h.handle as number });
    expect(a.setVersion(2)).toBe(0);
    expect(a.status).toHaveLength(2); // 9 frames x 256 entries / 2048 per status frame
    expect(a.nrEntries).toBe(9 * 256);
    const sf = hub.getStatusFrames(a, SELF, 2);
    expect(sf.status).toBe(G.GNTST_okay);
    expect(sf.frames).toEqual(a.status);
    expect(hub.getStatusFrames(a, SELF, 3).status).toBe(G.GNTST_general_error);
    expect(a.readEntry(1)).toMatchObject({ flags: RW, domid: 0, frame: 0x1234 });
    expect(a.readEntry(8).flags).toBe(0);
    // A reserved entry that is mapped stays mapped across the change.
    grant(a, 2, RW, 2, pa[1] as number);
    const m2 = hub.map(b, { hostAddr: 0, flags: DEV, ref: 2, dom: 1 });
    expect(a.readStatus(2)).toBe(G.GTF_reading | G.GTF_writing);
    transitive(a, 3, 2, 5, 5);
    expect(a.setVersion(1)).toBe(-XEN_ERANGE);
    grant(a, 3, 0, 0, 0);
    const statusFrames = [...a.status];
    expect(a.setVersion(1)).toBe(0);
    expect(a.status).toHaveLength(0);
    for (const f of statusFrames) expect(mem.owner[f]).toBe(0xffff);
    expect(a.readEntry(2)).toMatchObject({ flags: RW | G.GTF_reading | G.GTF_writing, domid: 2, frame: pa[1] });
    expect(hub.unmap(b, { hostAddr: 0, devBusAddr: (pa[1] as number) * 4096, handle: m2.handle as number })).toBe(G.GNTST_okay);
    expect(a.readEntry(2).flags).toBe(RW);
  });

  it('a status frame the guest still maps blocks the return to v1', () => {
    const { mem, a } = world();
    expect(a.setVersion(2)).toBe(0);
    const f = a.status[0] as number;
    mem.count[f] = 2; // the guest's mapping of it
    expect(a.setVersion(1)).toBe(-XEN_EBUSY);
    mem.count[f] = 1;
    expect(a.setVersion(1)).toBe(0);
  });

  it('set_version 2 is -ENOSYS where the maximum version is 1', () => {
    const mem = new MachineMemory({ frames: 512, seed: 1 });
    const t = new GrantTable(4, mem, { maxVersion: 1 });
    expect(t.setVersion(2)).toBe(-XEN_ENOSYS);
    expect(t.setVersion(1)).toBe(0);
  });

  it('swap_grant_ref exchanges entries (and v2 status words), refuses pinned ones', () => {
    const { hub, a, b, pa } = world();
    grant(a, 8, RW, 2, 111);
    grant(a, 9, RO, 3, 222);
    expect(a.swap(8, 9)).toBe(G.GNTST_okay);
    expect(a.readEntry(8)).toMatchObject({ flags: RO, domid: 3, frame: 222 });
    expect(a.readEntry(9)).toMatchObject({ flags: RW, domid: 2, frame: 111 });
    expect(a.swap(8, 8)).toBe(G.GNTST_okay);
    expect(a.swap(8, 512)).toBe(G.GNTST_bad_gntref);
    grant(a, 10, RW, 2, pa[0] as number);
    hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 10, dom: 1 });
    expect(a.swap(10, 8)).toBe(G.GNTST_eagain);
    expect(a.swap(8, 10)).toBe(G.GNTST_eagain);
  });
});

describe('grant table: transfer and cache_flush', () => {
  it('transfer gives a free-standing page to an accept-transfer entry', () => {
    const { mem, hub, a, b, pa, pb } = world();
    grant(b, 8, G.GTF_accept_transfer, 1, 5); // domain 2 accepts a page from 1 into its PFN slot 5
    const f = pa[6] as number;
    expect(hub.transfer(a, { mfn: f, domid: 2, ref: 8 })).toBe(G.GNTST_okay);
    expect(mem.owner[f]).toBe(2);
    expect(mem.m2pGet(f)).toBe(5);
    expect(b.readEntry(8)).toMatchObject({ flags: G.GTF_accept_transfer | G.GTF_transfer_committed | G.GTF_transfer_completed, frame: f });
    expect(hub.transfer(a, { mfn: f, domid: 2, ref: 8 })).toBe(G.GNTST_bad_page); // no longer its page
    expect(hub.transfer(a, { mfn: pb[0] as number, domid: 2, ref: 8 })).toBe(G.GNTST_bad_page);
    expect(hub.transfer(a, { mfn: a.shared[0] as number, domid: 2, ref: 8 })).toBe(G.GNTST_bad_page); // Xen heap
    const g = pa[7] as number;
    mem.count[g] = 2; // mapped somewhere
    expect(hub.transfer(a, { mfn: g, domid: 2, ref: 8 })).toBe(G.GNTST_bad_page);
    mem.count[g] = 1;
    const free = mem.freeCount;
    expect(hub.transfer(a, { mfn: g, domid: 2, ref: 9 })).toBe(G.GNTST_general_error); // no accept entry: the page is lost
    expect(mem.freeCount).toBe(free + 1);
    expect(hub.transfer(a, { mfn: pa[5] as number, domid: 9, ref: 8 })).toBe(G.GNTST_bad_domain); // stolen first: lost too
    expect(mem.freeCount).toBe(free + 2);
    expect(mem.owner[pa[5] as number]).toBe(0xffff);
  });

  it('cache_flush: clean is accepted on x86, invalidate alone is not, foreign frames need a mapping', () => {
    const { hub, a, b, pa, pb } = world();
    const own = (pb[0] as number) * 4096;
    expect(hub.cacheFlush(b, { devBusAddr: own, offset: 0, length: 64, op: G.GNTTAB_CACHE_CLEAN }, 0)).toBe(0);
    expect(hub.cacheFlush(b, { devBusAddr: own, offset: 0, length: 64, op: G.GNTTAB_CACHE_INVAL }, 0)).toBe(-XEN_EOPNOTSUPP);
    expect(hub.cacheFlush(b, { devBusAddr: own, offset: 4000, length: 200, op: G.GNTTAB_CACHE_CLEAN }, 0)).toBe(-XEN_EINVAL);
    expect(hub.cacheFlush(b, { devBusAddr: own, offset: 0, length: 0, op: G.GNTTAB_CACHE_CLEAN }, 0)).toBe(0);
    expect(hub.cacheFlush(b, { devBusAddr: own, offset: 0, length: 0, op: G.GNTTAB_CACHE_CLEAN }, 1)).toBe(-84);
    expect(hub.cacheFlush(b, { devBusAddr: 4096 * 3000, offset: 0, length: 8, op: G.GNTTAB_CACHE_CLEAN }, 0)).toBe(-XEN_EINVAL);
    const fa = (pa[0] as number) * 4096;
    expect(hub.cacheFlush(b, { devBusAddr: fa, offset: 0, length: 8, op: G.GNTTAB_CACHE_CLEAN }, 0)).toBe(-XEN_EINVAL);
    grant(a, 8, RO, 2, pa[0] as number);
    hub.map(b, { hostAddr: 0, flags: DEV_RO, ref: 8, dom: 1 });
    expect(hub.cacheFlush(b, { devBusAddr: fa, offset: 0, length: 8, op: G.GNTTAB_CACHE_CLEAN }, 0)).toBe(0);
    expect(hub.cacheFlush(b, { devBusAddr: 4096 * 10, offset: 0, length: 8, op: G.GNTTAB_CACHE_CLEAN }, 0)).toBe(-XEN_EPERM); // DOMID_IO
  });
});

// ---- the hypercall ---------------------------------------------------------------------------------

describe('grant_table_op (20): marshalling', () => {
  const BASE = 0x10000;
  function setup(base = BASE): { w: World; d: Domain; mem: BufferMemory; call: (cmd: number, uop: number, count: number) => number } {
    const w = world();
    const d = new Domain(2, 'b');
    d.gnttab = { hub: w.hub, table: w.b };
    const mem = new BufferMemory(new Uint8Array(0x4000), base);
    const table = defaultTable();
    const call = (cmd: number, uop: number, count: number): number => {
      const args = [0, cmd, uop, count, 0, 0];
      const ctx: Omit<HypercallContext, 'subop' | 'table'> = {
        vcpu: {} as PvVcpu,
        domain: d,
        mem,
        arg: (k) => args[k] as number,
        argHalves: (k) => [(args[k] as number) | 0, Math.floor((args[k] as number) / 4294967296) | 0],
      };
      return table.call(20, ctx) as number;
    };
    return { w, d, mem, call };
  }
  const u16 = (m: BufferMemory, a: number): number => m.bytes[a - BASE]! | (m.bytes[a - BASE + 1]! << 8);
  const s16 = (m: BufferMemory, a: number): number => (u16(m, a) << 16) >> 16;
  const u32 = (m: BufferMemory, a: number): number => new DataView(m.bytes.buffer).getUint32(a - BASE, true);
  const put32 = (m: BufferMemory, a: number, v: number): void => new DataView(m.bytes.buffer).setUint32(a - BASE, v, true);
  const put16 = (m: BufferMemory, a: number, v: number): void => new DataView(m.bytes.buffer).setUint16(a - BASE, v, true);

  it('setup_table and query_size write their OUT fields and the frame list', () => {
    const { w, mem, call } = setup();
    put16(mem, BASE, SELF);
    put32(mem, BASE + 4, 2);
    new DataView(mem.bytes.buffer).setBigUint64(16, BigInt(BASE + 0x100), true);
    expect(call(G.GNTTABOP_setup_table, BASE, 1)).toBe(0);
    expect(s16(mem, BASE + 8)).toBe(G.GNTST_okay);
    expect(u32(mem, BASE + 0x100)).toBe(w.b.shared[0]);
    expect(u32(mem, BASE + 0x108)).toBe(w.b.shared[1]);
    expect(call(G.GNTTABOP_setup_table, BASE, 2)).toBe(-XEN_EINVAL);
    new DataView(mem.bytes.buffer).setBigUint64(16, 0x999999n, true); // unwritable list
    expect(call(G.GNTTABOP_setup_table, BASE, 1)).toBe(0);
    expect(s16(mem, BASE + 8)).toBe(G.GNTST_bad_virt_addr);
    expect(call(G.GNTTABOP_setup_table, 0x999999, 1)).toBe(-XEN_EFAULT);

    put16(mem, BASE + 0x200, SELF);
    expect(call(G.GNTTABOP_query_size, BASE + 0x200, 1)).toBe(0);
    expect([u32(mem, BASE + 0x204), u32(mem, BASE + 0x208), s16(mem, BASE + 0x20c)]).toEqual([2, 64, 0]);
    put16(mem, BASE + 0x200, 77);
    expect(call(G.GNTTABOP_query_size, BASE + 0x200, 1)).toBe(0);
    expect(s16(mem, BASE + 0x20c)).toBe(G.GNTST_bad_domain);
  });

  it('writes the frame lists of setup_table and get_status_frames at an upper-half (kernel) address', () => {
    // A PV kernel's buffers live at 0xffffffff8xxxxxxx; guest pointers are sign-extended numbers.
    const KBASE = -0x80000000 + 0x10000; // 0xffffffff80010000
    const { w, mem, call } = setup(KBASE);
    const dv = new DataView(mem.bytes.buffer);
    const list = 0xffffffff80010100n;
    dv.setUint16(0, SELF, true);
    dv.setUint32(4, 2, true);
    dv.setBigUint64(16, list, true);
    expect(call(G.GNTTABOP_setup_table, KBASE, 1)).toBe(0);
    expect(dv.getInt16(8, true)).toBe(G.GNTST_okay);
    expect([dv.getUint32(0x100, true), dv.getUint32(0x108, true)]).toEqual([w.b.shared[0], w.b.shared[1]]);

    expect(w.b.setVersion(2)).toBe(0);
    dv.setUint32(0x200, 1, true); // nr_frames
    dv.setUint16(0x204, SELF, true);
    dv.setBigUint64(0x208, list + 0x200n, true);
    expect(call(G.GNTTABOP_get_status_frames, KBASE + 0x200, 1)).toBe(0);
    expect(dv.getInt16(0x206, true)).toBe(G.GNTST_okay);
    expect(dv.getUint32(0x300, true)).toBe(w.b.status[0]);
    dv.setBigUint64(0x208, 0xffffff0000000000n, true); // upper half, not mapped
    expect(call(G.GNTTABOP_get_status_frames, KBASE + 0x200, 1)).toBe(0);
    expect(dv.getInt16(0x206, true)).toBe(G.GNTST_bad_virt_addr);
  });

  it('map and unmap batches carry per-element statuses; set_version returns the version in force', () => {
    const { w, mem, call, d } = setup();
    grant(w.a, 8, RO, 2, w.pa[0] as number);
    const el = (i: number): number => BASE + i * 32;
    for (const [i, ref] of [[0, 8], [1, 9]] as const) {
      put32(mem, el(i) + 8, DEV_RO);
      put32(mem, el(i) + 12, ref);
      put16(mem, el(i) + 16, 1);
      put32(mem, el(i) + 20, 0xaaaa); // left alone on failure
    }
    expect(call(G.GNTTABOP_map_grant_ref, BASE, 2)).toBe(0);
    expect([s16(mem, el(0) + 18), u32(mem, el(0) + 20), u32(mem, el(0) + 24)]).toEqual([0, 0, (w.pa[0] as number) * 4096]);
    expect([s16(mem, el(1) + 18), u32(mem, el(1) + 20)]).toEqual([G.GNTST_general_error, 0xaaaa]);
    expect(d.stats).toBeDefined();

    const un = BASE + 0x400;
    new DataView(mem.bytes.buffer).setBigUint64(un - BASE + 8, BigInt((w.pa[0] as number) * 4096), true);
    put32(mem, un + 16, 0);
    expect(call(G.GNTTABOP_unmap_grant_ref, un, 1)).toBe(0);
    expect(s16(mem, un + 20)).toBe(G.GNTST_okay);
    expect(w.a.readEntry(8).flags).toBe(RO);
    expect(call(G.GNTTABOP_unmap_grant_ref, un, 2)).toBe(0); // the second element is all zeroes: bad handle 0
    expect(s16(mem, un + 20)).toBe(G.GNTST_bad_handle);
    expect(call(G.GNTTABOP_map_grant_ref, 0x3ff0 + BASE, 1)).toBe(-XEN_EFAULT);

    const sv = BASE + 0x800;
    put32(mem, sv, 3);
    expect(call(G.GNTTABOP_set_version, sv, 1)).toBe(-XEN_EINVAL);
    expect(u32(mem, sv)).toBe(1);
    put32(mem, sv, 2);
    expect(call(G.GNTTABOP_set_version, sv, 0)).toBe(0); // no count check
    put16(mem, sv + 0x10, SELF);
    expect(call(G.GNTTABOP_get_version, sv + 0x10, 1)).toBe(0);
    expect(u32(mem, sv + 0x14)).toBe(2);
    put16(mem, sv + 0x10, 1);
    expect(call(G.GNTTABOP_get_version, sv + 0x10, 1)).toBe(-XEN_EPERM);
  });

  it('copy, swap, unknown commands, continuation bits, negative counts', () => {
    const { w, mem, call } = setup();
    grant(w.a, 8, RW, 2, w.pa[0] as number);
    w.mem.view(w.pa[0] as number).setUint32(0, 0x01020304, true);
    const c = BASE;
    put32(mem, c, 8);
    put16(mem, c + 8, 1);
    new DataView(mem.bytes.buffer).setBigUint64(16, BigInt(w.pb[0] as number), true);
    put16(mem, c + 24, SELF);
    put16(mem, c + 32, 4);
    put16(mem, c + 34, G.GNTCOPY_source_gref);
    expect(call(G.GNTTABOP_copy, c, 1)).toBe(0);
    expect(s16(mem, c + 36)).toBe(G.GNTST_okay);
    expect(w.mem.view(w.pb[0] as number).getUint32(0, true)).toBe(0x01020304);

    const s = BASE + 0x100;
    put32(mem, s, 8);
    put32(mem, s + 4, 600);
    expect(call(G.GNTTABOP_swap_grant_ref, s, 1)).toBe(0);
    expect(s16(mem, s + 8)).toBe(G.GNTST_bad_gntref);

    expect(call(13, BASE, 1)).toBe(-XEN_ENOSYS);
    // unmap_and_replace: 24-byte elements (host_addr, new_addr, handle @16, status @20).
    const r = BASE + 0x300;
    put32(mem, r + 16, 600);
    expect(call(G.GNTTABOP_unmap_and_replace, r, 1)).toBe(0);
    expect(s16(mem, r + 20)).toBe(G.GNTST_bad_handle);
    expect(call(G.GNTTABOP_unmap_and_replace, 0x999999, 1)).toBe(-XEN_EFAULT);
    expect(call(G.GNTTABOP_copy | (1 << 12), c, 1)).toBe(-XEN_EINVAL);
    expect(call(G.GNTTABOP_copy, c, 0xffffffff)).toBe(-XEN_EINVAL);
    expect(call(G.GNTTABOP_copy, c, 0)).toBe(0);
    put16(mem, BASE + 0x200, SELF);
    expect(call(G.GNTTABOP_dump_table, BASE + 0x200, 1)).toBe(0);
    expect(s16(mem, BASE + 0x202)).toBe(G.GNTST_okay);
  });

  it('a domain without a grant table gets -ENOSYS', () => {
    const { d, call } = setup();
    d.gnttab = undefined;
    expect(call(G.GNTTABOP_query_size, BASE, 1)).toBe(-XEN_ENOSYS);
  });
});
