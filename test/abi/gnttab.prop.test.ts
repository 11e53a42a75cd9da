/**
 * Grant tables, model-based (STYLE §7): random sequences of the guest's own moves (grant: write
 * an entry; revoke: clear it unless Xen's in-use bits say it is busy) and of Xen's sub-ops (map
 * and unmap by the other domain, by the domain itself or by a host backend; copy in both
 * directions; set_version) run against GrantHub and against a small reference model written
 * from §6 of the reference. Every status must match the model's, and after every step:
 *  - the in-use bits of each entry are exactly "some mapping reads it" / "some mapping writes it";
 *  - active entries, pin counts, maptrack handles and the host mapper's PTEs match the live
 *    mappings; each granted frame holds one general reference per mapping and one writable type
 *    reference per writable mapping;
 *  - a revoked grant is never mapped or copied until it is granted again.
 * At the end the tables are saved and restored into a new hub, every mapping is unmapped through
 * it, and nothing may be left: no pin, no in-use bit, no extra reference, no handle, no PTE.
 * Invalid operations are generated too.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GrantHub, type GrantHostMapper } from '../../abi/gnttab/grants.js';
import type { GrantTable } from '../../abi/gnttab/table.js';
import { Domain } from '../../abi/hv/domain.js';
import { MachineMemory } from '../../abi/hv/machine.js';
import { defaultTable } from '../../abi/hv/xen.js';
import type { HypercallContext } from '../../abi/hypercall/context.js';
import { BufferMemory } from '../../abi/layout/memory.js';
import type { PvVcpu } from '../../abi/pv/vcpu.js';
import { XEN_EBUSY, XEN_EINVAL } from '../../abi/public/errno.js';
import * as G from '../../abi/public/grant-table.js';

const SELF = 0x7ff0;
const REFS = [8, 9] as const;
const BAD_REF = 600;
const DOMS = [1, 2] as const;

type Op =
  | { k: 'grant'; d: number; ref: number; grantee: number; ro: boolean; frame: number; accept: boolean }
  | { k: 'revoke'; d: number; ref: number }
  | { k: 'map'; m: number; g: number; ref: number; ro: boolean; host: boolean; follow: number }
  | { k: 'unmap'; m: number; pick: number; bogus: boolean }
  | { k: 'copy'; m: number; g: number; ref: number; toGrant: boolean; off: number; len: number; follow: number }
  | { k: 'version'; d: number; v: number };

const dom = fc.constantFrom(...DOMS);
/** Mostly the domains that exist and refs inside the table; now and then the others. */
const rarely = <T,>(common: fc.Arbitrary<T>, odd: fc.Arbitrary<T>): fc.Arbitrary<T> => fc.oneof({ weight: 9, arbitrary: common }, { weight: 1, arbitrary: odd });
const ref = rarely(fc.constantFrom<number>(...REFS), fc.constant(BAD_REF));
const granter = rarely(fc.constantFrom<number>(...DOMS), fc.constant(7));
/**
 * -1: use the op's own (random) domains and ref; k >= 0: aim at the k-th live grant of the model
 * (its granter and ref, mapped by its grantee), so that valid uses are common, not rare.
 */
const follow = fc.oneof({ weight: 2, arbitrary: fc.constant(-1) }, { weight: 3, arbitrary: fc.nat(7) });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('grant' as const), d: dom, ref: fc.constantFrom(...REFS), grantee: rarely(fc.constantFrom(0, 1, 2), fc.constant(5)), ro: fc.boolean(), frame: rarely(fc.integer({ min: 0, max: 2 }), fc.constant(3)), accept: rarely(fc.constant(false), fc.constant(true)) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('revoke' as const), d: dom, ref: fc.constantFrom(...REFS) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('map' as const), m: fc.constantFrom(0, 1, 2), g: granter, ref, ro: fc.boolean(), host: fc.boolean(), follow }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('unmap' as const), m: fc.constantFrom(0, 1, 2), pick: fc.nat(20), bogus: rarely(fc.constant(false), fc.constant(true)) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('copy' as const), m: dom, g: granter, ref, toGrant: fc.boolean(), off: fc.constantFrom(0, 100, 4000, 4095), len: fc.constantFrom(0, 1, 96, 200), follow }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('version' as const), d: dom, v: rarely(fc.constantFrom(1, 2), fc.constant(3)) }) },
);

// ---- the reference model ---------------------------------------------------------------------------

interface MEntry {
  type: 'none' | 'permit' | 'accept';
  grantee: number;
  ro: boolean;
  /** 0..2: the granter's own pages; 3: a page of the other domain. */
  frame: number;
}

interface MMap {
  mapper: number;
  granter: number;
  ref: number;
  ro: boolean;
  host: boolean;
  handle: number;
  mfn: number;
  hostAddr: number;
}

class Model {
  readonly entries = new Map<string, MEntry>();
  readonly version = new Map<number, number>([[1, 1], [2, 1]]);
  maps: MMap[] = [];
  /** Grants revoked and not granted since. */
  readonly revoked = new Set<string>();

  entry(d: number, ref: number): MEntry {
    const k = `${d}:${ref}`;
    let e = this.entries.get(k);
    if (e === undefined) {
      e = { type: 'none', grantee: 0, ro: false, frame: 0 };
      this.entries.set(k, e);
    }
    return e;
  }

  live(g: number, ref: number): MMap[] {
    return this.maps.filter((m) => m.granter === g && m.ref === ref);
  }

  /** The status Xen gives to pinning (g, ref) for `grantee` (map: mapping = true; copy: false). */
  pinStatus(grantee: number, g: number, ref: number, ro: boolean): number {
    if (g !== 1 && g !== 2) return G.GNTST_bad_domain;
    if (ref === BAD_REF) return G.GNTST_bad_gntref;
    const live = this.live(g, ref);
    if (live.length > 0 && live[0]?.mapper !== grantee) return G.GNTST_general_error;
    const needCheck = live.length === 0 || (!ro && !live.some((m) => !m.ro));
    if (needCheck) {
      const e = this.entry(g, ref);
      if (e.type !== 'permit' || e.grantee !== grantee || (e.ro && !ro)) return G.GNTST_general_error;
      if (live.length === 0 && e.frame === 3) return G.GNTST_bad_page;
    }
    return G.GNTST_okay;
  }
}

// ---- the system under test ---------------------------------------------------------------------------

interface Sut {
  mem: MachineMemory;
  hub: GrantHub;
  t: Map<number, GrantTable>;
  pages: Map<number, number[]>;
  ptes: Map<string, number>;
}

function sut(): Sut {
  const mem = new MachineMemory({ frames: 1024, seed: 11 });
  const ptes = new Map<string, number>();
  const mapper: GrantHostMapper = {
    create: (d, va, mfn) => {
      ptes.set(`${d}:${va}`, mfn);
      return G.GNTST_okay;
    },
    destroy: (d, va, mfn) => {
      if (ptes.get(`${d}:${va}`) !== mfn) return G.GNTST_general_error;
      ptes.delete(`${d}:${va}`);
      return G.GNTST_okay;
    },
  };
  const hub = new GrantHub(mem, { hostMapper: mapper });
  const t = new Map<number, GrantTable>();
  const pages = new Map<number, number[]>();
  for (const d of DOMS) {
    t.set(d, hub.add(d));
    pages.set(d, mem.allocDomainMemory(d, 3) as number[]);
  }
  for (const d of DOMS) {
    const own = pages.get(d) as number[];
    for (const [k, f] of own.entries()) {
      const v = mem.view(f);
      for (let i = 0; i < 4096; i += 4) v.setUint32(i, (d << 24) | (k << 16) | i, true);
    }
  }
  return { mem, hub, t, pages, ptes };
}

function frameOf(s: Sut, d: number, idx: number): number {
  const other = d === 1 ? 2 : 1;
  return idx === 3 ? (s.pages.get(other) as number[])[2] as number : (s.pages.get(d) as number[])[idx] as number;
}

function writeEntry(t: GrantTable, ref: number, flags: number, domid: number, frame: number): void {
  const b = new Uint8Array(t.version === 1 ? 8 : 16);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, flags, true);
  dv.setUint16(2, domid, true);
  if (t.version === 1) dv.setUint32(4, frame, true);
  else dv.setUint32(8, frame, true);
  t.writeEntryRaw(ref, b);
}

function check(s: Sut, model: Model, where: string): void {
  for (const g of DOMS) {
    const t = s.t.get(g) as GrantTable;
    for (const ref of REFS) {
      const live = model.live(g, ref);
      const bits = t.readStatus(ref) & (G.GTF_reading | G.GTF_writing);
      const want = (live.length > 0 ? G.GTF_reading : 0) | (live.some((m) => !m.ro) ? G.GTF_writing : 0);
      expect(bits, `${where}: in-use bits of d${g} ref ${ref}`).toBe(want);
      const a = t.active.get(ref);
      const pins = a === undefined ? [0, 0, 0, 0] : [a.hostRead, a.hostWrite, a.devRead, a.devWrite];
      const wantPins = [
        live.filter((m) => m.host && m.ro).length,
        live.filter((m) => m.host && !m.ro).length,
        live.filter((m) => !m.host && m.ro).length,
        live.filter((m) => !m.host && !m.ro).length,
      ];
      expect(pins, `${where}: pins of d${g} ref ${ref}`).toEqual(wantPins);
    }
    for (const f of s.pages.get(g) as number[]) {
      const on = model.maps.filter((m) => m.mfn === f);
      expect(s.mem.count[f], `${where}: references on frame ${f}`).toBe(1 + on.length);
      expect(s.mem.typeCount[f], `${where}: writable type references on frame ${f}`).toBe(on.filter((m) => !m.ro).length);
    }
  }
  for (const m of [0, 1, 2]) {
    const t = m === 0 ? s.hub.host : (s.t.get(m) as GrantTable);
    const want = model.maps.filter((x) => x.mapper === m).map((x) => x.handle).sort((x, y) => x - y);
    expect(t.liveHandles(), `${where}: handles of d${m}`).toEqual(want);
  }
  const wantPtes = model.maps.filter((x) => x.host && x.mapper !== 0).map((x) => `${x.mapper}:${x.hostAddr}`).sort();
  expect([...s.ptes.keys()].sort(), `${where}: host PTEs`).toEqual(wantPtes);
}

function aim(op: Op, model: Model): Op {
  if ((op.k !== 'map' && op.k !== 'copy') || op.follow < 0) return op;
  const grants = [...model.entries.entries()].filter(([, e]) => e.type === 'permit');
  const pick = grants[op.follow % Math.max(1, grants.length)];
  if (pick === undefined) return op;
  const [key, e] = pick;
  const [g, ref] = key.split(':').map(Number) as [number, number];
  const m = op.k === 'map' ? (e.grantee <= 2 ? e.grantee : op.m) : e.grantee === 1 || e.grantee === 2 ? e.grantee : op.m;
  return { ...op, g, ref, m };
}

function run(ops: readonly Op[]): void {
  const s = sut();
  const model = new Model();
  let nextVa = 0x100000;
  ops.forEach((op0, i) => {
    const op = aim(op0, model);
    const where = `op ${i} ${JSON.stringify(op)}`;
    switch (op.k) {
      case 'grant': {
        const t = s.t.get(op.d) as GrantTable;
        // A correct guest leaves an entry alone while Xen says it is in use.
        if (model.live(op.d, op.ref).length > 0) {
          expect(t.readStatus(op.ref) & G.GTF_reading, where).not.toBe(0);
          return;
        }
        const flags = op.accept ? G.GTF_accept_transfer : G.GTF_permit_access | (op.ro ? G.GTF_readonly : 0);
        writeEntry(t, op.ref, flags, op.grantee, frameOf(s, op.d, op.frame));
        Object.assign(model.entry(op.d, op.ref), { type: op.accept ? 'accept' : 'permit', grantee: op.grantee, ro: op.ro, frame: op.frame });
        model.revoked.delete(`${op.d}:${op.ref}`);
        return;
      }
      case 'revoke': {
        const t = s.t.get(op.d) as GrantTable;
        const busy = (t.readStatus(op.ref) & (G.GTF_reading | G.GTF_writing)) !== 0;
        expect(busy, where).toBe(model.live(op.d, op.ref).length > 0);
        if (busy) return;
        writeEntry(t, op.ref, 0, 0, 0);
        model.entry(op.d, op.ref).type = 'none';
        model.revoked.add(`${op.d}:${op.ref}`);
        return;
      }
      case 'map': {
        const host = op.m === 0 || op.host;
        const want = op.m === 0 && op.g === 7 ? G.GNTST_bad_domain : model.pinStatus(op.m, op.g, op.ref, op.ro);
        let status: number;
        let handle = -1;
        let mfn = -1;
        const va = nextVa;
        if (op.m === 0) {
          const r = s.hub.mapForHost(op.g, op.ref, op.ro);
          status = typeof r === 'number' ? r : G.GNTST_okay;
          if (typeof r !== 'number') {
            handle = r.handle;
            mfn = r.mfn;
          }
        } else {
          nextVa += 0x1000;
          const flags = (host ? G.GNTMAP_host_map : G.GNTMAP_device_map) | (op.ro ? G.GNTMAP_readonly : 0);
          const r = s.hub.map(s.t.get(op.m) as GrantTable, { hostAddr: va, flags, ref: op.ref, dom: op.g });
          status = r.status;
          handle = r.handle ?? -1;
          mfn = r.devBusAddr === undefined ? -1 : r.devBusAddr / 4096;
        }
        expect(status, where).toBe(want);
        if (status === G.GNTST_okay) {
          expect(model.revoked.has(`${op.g}:${op.ref}`), `${where}: a revoked grant was mapped`).toBe(false);
          const live = model.live(op.g, op.ref);
          const first = live[0];
          expect(mfn, where).toBe(first !== undefined ? first.mfn : frameOf(s, op.g, model.entry(op.g, op.ref).frame));
          model.maps.push({ mapper: op.m, granter: op.g, ref: op.ref, ro: op.ro, host, handle, mfn, hostAddr: va });
        }
        break;
      }
      case 'unmap': {
        const mine = model.maps.filter((x) => x.mapper === op.m);
        const victim = mine.length > 0 && !op.bogus ? mine[op.pick % mine.length] : undefined;
        const handle = victim?.handle ?? 9999;
        let status: number;
        if (op.m === 0) status = s.hub.unmapForHost(handle);
        else {
          const req = victim === undefined ? { hostAddr: 0x1000, devBusAddr: 0x1000, handle } : victim.host ? { hostAddr: victim.hostAddr, devBusAddr: 0, handle } : { hostAddr: 0, devBusAddr: victim.mfn * 4096, handle };
          status = s.hub.unmap(s.t.get(op.m) as GrantTable, req);
        }
        expect(status, where).toBe(victim === undefined ? G.GNTST_bad_handle : G.GNTST_okay);
        if (victim !== undefined) model.maps = model.maps.filter((x) => x !== victim);
        break;
      }
      case 'copy': {
        const own = (s.pages.get(op.m) as number[])[0] as number;
        const gptr = { ref: op.ref, gmfn: 0, domid: op.g, offset: op.off };
        const optr = { ref: 0, gmfn: own, domid: SELF, offset: op.off };
        const st = s.hub.copy(s.t.get(op.m) as GrantTable, op.toGrant
          ? { source: optr, dest: gptr, len: op.len, flags: G.GNTCOPY_dest_gref }
          : { source: gptr, dest: optr, len: op.len, flags: G.GNTCOPY_source_gref });
        let want = model.pinStatus(op.m, op.g, op.ref, !op.toGrant);
        if (want === G.GNTST_okay && op.off + op.len > 4096) want = G.GNTST_bad_copy_arg;
        expect(st, where).toBe(want);
        if (st === G.GNTST_okay) {
          expect(model.revoked.has(`${op.g}:${op.ref}`), `${where}: a revoked grant was copied`).toBe(false);
          const live = model.live(op.g, op.ref)[0];
          const gf = live !== undefined ? live.mfn : frameOf(s, op.g, model.entry(op.g, op.ref).frame);
          const a = s.mem.view(gf);
          const b = s.mem.view(own);
          const x = new Uint8Array(a.buffer, a.byteOffset + op.off, op.len);
          const y = new Uint8Array(b.buffer, b.byteOffset + op.off, op.len);
          expect(Buffer.from(x).equals(Buffer.from(y)), `${where}: copied bytes`).toBe(true);
        }
        break;
      }
      case 'version': {
        const t = s.t.get(op.d) as GrantTable;
        const cur = model.version.get(op.d) as number;
        let want = 0;
        if (op.v !== 1 && op.v !== 2) want = -XEN_EINVAL;
        else if (op.v !== cur && REFS.some((r) => model.live(op.d, r).length > 0)) want = -XEN_EBUSY;
        expect(t.setVersion(op.v), where).toBe(want);
        if (want === 0 && op.v !== cur) {
          model.version.set(op.d, op.v);
          for (const r of REFS) {
            const e = model.entry(op.d, r);
            if (e.type !== 'none') model.revoked.add(`${op.d}:${r}`);
            e.type = 'none';
          }
        }
        expect(t.version, where).toBe(model.version.get(op.d));
        break;
      }
    }
    check(s, model, where);
  });

  // Save and restore every table (through JSON), then carry on with the restored hub.
  const restored = new GrantHub(s.mem, { hostMapper: s.hub.hostMapper });
  for (const r of JSON.parse(JSON.stringify(s.hub.save())) as ReturnType<GrantHub['save']>) restored.restore(r);
  expect(restored.save()).toEqual(s.hub.save());
  s.hub = restored;
  s.t = new Map(DOMS.map((d) => [d, restored.get(d) as GrantTable]));
  check(s, model, 'after save/restore');

  // Unmap everything that is left: nothing may remain.
  for (const m of [...model.maps]) {
    const st = m.mapper === 0
      ? s.hub.unmapForHost(m.handle)
      : s.hub.unmap(s.t.get(m.mapper) as GrantTable, m.host ? { hostAddr: m.hostAddr, devBusAddr: 0, handle: m.handle } : { hostAddr: 0, devBusAddr: m.mfn * 4096, handle: m.handle });
    expect(st).toBe(G.GNTST_okay);
    model.maps = model.maps.filter((x) => x !== m);
  }
  check(s, model, 'after unmapping everything');
  for (const g of DOMS) {
    const t = s.t.get(g) as GrantTable;
    expect(t.active.size).toBe(0);
    expect(t.liveHandles()).toEqual([]);
  }
  expect(s.hub.mappings()).toEqual([]);
  expect(s.ptes.size).toBe(0);
}

describe('grant tables: model-based property', () => {
  it('grant/revoke/map/unmap/copy/set_version sequences agree with the model and leave nothing behind', () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 10, maxLength: 80 }), (ops) => run(ops)));
  });

  it('a busy grant cannot be revoked, and once revoked it is never used again until re-granted', () => {
    run([
      { k: 'grant', d: 1, ref: 8, grantee: 2, ro: false, frame: 0, accept: false },
      { k: 'map', m: 2, g: 1, ref: 8, ro: false, host: true, follow: -1 },
      { k: 'revoke', d: 1, ref: 8 },
      { k: 'unmap', m: 2, pick: 0, bogus: false },
      { k: 'revoke', d: 1, ref: 8 },
      { k: 'map', m: 2, g: 1, ref: 8, ro: true, host: false, follow: -1 },
      { k: 'copy', m: 2, g: 1, ref: 8, toGrant: false, off: 0, len: 1, follow: -1 },
      { k: 'map', m: 0, g: 1, ref: 8, ro: true, host: true, follow: -1 },
    ]);
  });
});

describe('grant_table_op: hostile arguments', () => {
  it('random commands, counts and argument bytes never throw; results are 0, a Xen errno, or statuses', () => {
    const BASE = 0x20000;
    const call = fc.record({
      cmd: fc.oneof(fc.integer({ min: 0, max: 14 }), fc.integer({ min: 0, max: 0xffffffff })),
      count: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom(-1, 0x80000000, 600)),
      at: fc.oneof(fc.integer({ min: BASE, max: BASE + 0x300 }), fc.constantFrom(0, BASE + 0x3f8, 0xdead0000)),
      bytes: fc.uint8Array({ minLength: 0x400, maxLength: 0x400 }),
    });
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 12 }), (calls) => {
        const s = sut();
        const d = new Domain(2, 'fuzz');
        d.gnttab = { hub: s.hub, table: s.t.get(2) as GrantTable };
        // Give the fuzzer something real to hit: a grant from domain 1 to domain 2.
        writeEntry(s.t.get(1) as GrantTable, 8, G.GTF_permit_access, 2, (s.pages.get(1) as number[])[0] as number);
        const table = defaultTable();
        for (const c of calls) {
          const mem = new BufferMemory(c.bytes.slice(), BASE);
          const args = [0, c.cmd, c.at, c.count >>> 0, 0, 0];
          const ctx: Omit<HypercallContext, 'subop' | 'table'> = {
            vcpu: {} as PvVcpu,
            domain: d,
            mem,
            arg: (k) => args[k] as number,
            argHalves: (k) => [(args[k] as number) | 0, 0],
          };
          const r = table.call(20, ctx);
          expect(typeof r).toBe('number');
          expect(r as number).toBeLessThanOrEqual(0);
        }
        // Whatever was mapped is consistent: each live handle pins its grant.
        for (const m of s.hub.mappings()) expect(s.hub.get(m.granter)?.active.get(m.ref)).toBeDefined();
      }),
    );
  });
});
