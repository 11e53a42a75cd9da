/**
 * GNTMAP_host_map through the PV MMU, model-based (STYLE §7): two PV64 domains grant pages to
 * each other and, at random, map them at a few L1 slots (by linear address or by PTE address,
 * read-only or writable, kernel or application mappings), unmap them at the right or a wrong
 * address, unmap_and_replace them with another slot's entry, and overwrite the slots with
 * mmu_update (zeroes, or their own pages), which drops grant entries implicitly. Statuses, errnos
 * and the implicit-unmap #GPs are predicted from the entries before each step (Xen 4.17's rules:
 * `create_grant_pv_mapping`, `replace_grant_pv_mapping`, `put_page_from_l1e`), and after every
 * step:
 *  - every granted frame's general count is 1 (allocation) plus the present L1 entries that map
 *    it, and its type count the present writable ones: the references of a grant mapping travel
 *    with its entry, wherever the entry goes;
 *  - no domain has more present entries mapping a foreign frame than live host mappings of it:
 *    an unmapped grant leaves no entry behind;
 *  - the granters' in-use bits are exactly "some live mapping reads / writes it".
 * At the end every mapping that can still be unmapped is, the slots are cleared, and the granted
 * frames hold only their owners' references; destroying the domains releases what remains
 * pinned (orphans of implicit unmaps) without touching a reference.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { _PAGE_GNTTAB, pteFlags, pteMfn } from '../../abi/hv/page-types.js';
import * as G from '../../abi/public/grant-table.js';
import { pte, ptUpdate } from '../../abi/pv/mmu.js';
import { grant, world, type Guest, type World } from './grant-world.js';

/** L1 indices used: 64, 66, 67 start empty; 65 maps the domain's own PFN 33. */
const SLOTS = [64, 65, 66, 67] as const;
const REFS = [8, 9] as const;
/** PFNs each domain grants (mapped read-write by its own L1). */
const GRANTED = [20, 21] as const;
/** Own PFNs mmu_update may put in a slot. */
const OWN = [24, 25] as const;

type Op =
  | { k: 'grant'; d: number; ref: number; pfn: number; ro: boolean }
  | { k: 'map'; m: number; ref: number; slot: number; ro: boolean; viaPte: boolean; app: boolean }
  | { k: 'unmap'; m: number; pick: number; at: number }
  | { k: 'replace'; m: number; pick: number; at: number; slot: number }
  | { k: 'write'; m: number; slot: number; own: number };

const dom = fc.constantFrom(1, 2);
const slot = fc.constantFrom(...SLOTS);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ k: fc.constant('grant' as const), d: dom, ref: fc.constantFrom(...REFS), pfn: fc.constantFrom(...GRANTED), ro: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('map' as const), m: dom, ref: fc.constantFrom(...REFS), slot, ro: fc.boolean(), viaPte: fc.boolean(), app: fc.boolean() }) },
  // at: -1 the address the mapping was made at, else a slot.
  { weight: 3, arbitrary: fc.record({ k: fc.constant('unmap' as const), m: dom, pick: fc.nat(5), at: fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: slot }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('replace' as const), m: dom, pick: fc.nat(5), at: fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: slot }), slot }) },
  // own: -1 writes zero, else one of OWN (writable).
  { weight: 2, arbitrary: fc.record({ k: fc.constant('write' as const), m: dom, slot, own: fc.constantFrom(-1, 0, 1) }) },
);

/** A live host mapping as the test made it. */
interface Live {
  m: number;
  handle: number;
  /** Granter and ref. */
  g: number;
  ref: number;
  mfn: number;
  ro: boolean;
  /** The address it was made at: a linear address, or a PTE's machine address. */
  addr: number;
  viaPte: boolean;
}

interface State {
  w: World;
  guests: Map<number, Guest>;
  live: Live[];
  /** The #GPs delivered so far, per domain. */
  gps: Map<number, number>;
  /** What each domain's grant entries say: [pfn, ro] (absent: not granted). */
  granted: Map<string, { pfn: number; ro: boolean }>;
}

function setup(): State {
  const w = world();
  const guests = new Map<number, Guest>([[1, w.a], [2, w.b]]);
  const gps = new Map<number, number>([[1, 0], [2, 0]]);
  for (const [id, g] of guests) {
    // Count the implicit-unmap #GPs instead of bouncing into the guest.
    g.v.deliverTrap = (vector: number) => {
      expect(vector).toBe(13);
      gps.set(id, (gps.get(id) as number) + 1);
    };
  }
  // Each domain starts with ref 8 granting PFN 20 writable and ref 9 granting PFN 21 read-only to the other.
  const granted = new Map<string, { pfn: number; ro: boolean }>();
  for (const [id, g] of guests) {
    grant(g, 8, other(id), 20, false);
    grant(g, 9, other(id), 21, true);
    granted.set(`${id}:8`, { pfn: 20, ro: false });
    granted.set(`${id}:9`, { pfn: 21, ro: true });
  }
  return { w, guests, live: [], gps, granted };
}

const other = (d: number): number => 3 - d;
const slotVa = (s: number): number => s * 4096;

function readEntry(g: Guest, w: World, s: number): [number, number] {
  const v = w.mem.view(g.l1);
  return [v.getUint32(s * 8, true), v.getUint32(s * 8 + 4, true)];
}

const present = (e: [number, number]): boolean => (e[0] & 1) !== 0;
const isGrantEntry = (e: [number, number]): boolean => present(e) && (pteFlags(e[0], e[1]) & _PAGE_GNTTAB) !== 0;

/** Whether storing `n` over `o` is Xen's no-reference-change fast path (same frame, P, RW, cache bits). */
function fastPath(o: [number, number], n: [number, number]): boolean {
  return present(n) && present(o) && pteMfn(o[0], o[1]) === pteMfn(n[0], n[1]) && ((o[0] ^ n[0]) & 0x9b) === 0;
}

/** The invariants of the module comment. */
function check(s: State, where: string): void {
  const { w } = s;
  const l1s = [...s.guests.values()].map((g) => ({ g, v: w.mem.view(g.l1) }));
  for (const g of s.guests.values()) {
    for (const pfn of [...GRANTED, ...OWN, 33]) {
      const mfn = g.p2m[pfn] as number;
      let refs = 0;
      let writable = 0;
      for (const { v } of l1s) {
        for (let i = 0; i < 512; i++) {
          const lo = v.getUint32(i * 8, true);
          const hi = v.getUint32(i * 8 + 4, true);
          if ((lo & 1) === 0 || pteMfn(lo, hi) !== mfn) continue;
          refs++;
          if ((lo & 2) !== 0) writable++;
        }
      }
      expect([w.mem.count[mfn], w.mem.typeCount[mfn]], `${where}: references of d${g.d.id} pfn ${pfn}`).toEqual([1 + refs, writable]);
    }
  }
  for (const m of s.guests.values()) {
    const foreign = new Map<number, number>();
    for (const sl of SLOTS) {
      const e = readEntry(m, w, sl);
      if (!present(e)) continue;
      const mfn = pteMfn(e[0], e[1]);
      if (w.mem.owner[mfn] !== m.d.id) foreign.set(mfn, (foreign.get(mfn) ?? 0) + 1);
    }
    for (const [mfn, n] of foreign) {
      const handles = s.live.filter((x) => x.m === m.d.id && x.mfn === mfn).length;
      expect(n, `${where}: d${m.d.id} has ${n} entries mapping foreign frame 0x${mfn.toString(16)}, ${handles} live mappings`).toBeLessThanOrEqual(handles);
    }
  }
  for (const g of s.guests.values()) {
    for (const ref of REFS) {
      const on = s.live.filter((x) => x.g === g.d.id && x.ref === ref);
      const want = (on.length > 0 ? G.GTF_reading : 0) | (on.some((x) => !x.ro) ? G.GTF_writing : 0);
      expect(g.table.readStatus(ref) & (G.GTF_reading | G.GTF_writing), `${where}: in-use bits of d${g.d.id} ref ${ref}`).toBe(want);
    }
  }
  expect(s.w.hub.mappings().length, `${where}: live mappings`).toBe(s.live.length);
}

/** mmu_update of one slot of `g`'s L1 (PvMmu API); returns [rc, implicit unmaps]. */
function writeSlot(g: Guest, sl: number, e: [number, number]): [number, number] {
  const r = g.mmu.mmuUpdate(0, [ptUpdate(g.l1, sl, e[0], e[1])]);
  return [r.rc, g.mmu.takeImplicitGrantUnmaps()];
}

function run(ops: readonly Op[]): void {
  const s = setup();
  const { w } = s;
  const gpsOf = (d: number): number => s.gps.get(d) as number;
  ops.forEach((op, i) => {
    const where = `step ${i} ${JSON.stringify(op)}`;
    switch (op.k) {
      case 'grant': {
        const g = s.guests.get(op.d) as Guest;
        // A guest rewrites only an entry no one is using (the protocol of reference §6.3).
        if ((g.table.readStatus(op.ref) & (G.GTF_reading | G.GTF_writing)) !== 0) break;
        grant(g, op.ref, other(op.d), op.pfn, op.ro);
        s.granted.set(`${op.d}:${op.ref}`, { pfn: op.pfn, ro: op.ro });
        break;
      }
      case 'map': {
        const m = s.guests.get(op.m) as Guest;
        const gd = other(op.m);
        const e = s.granted.get(`${gd}:${op.ref}`);
        const addr = op.viaPte ? m.l1 * 4096 + op.slot * 8 : slotVa(op.slot);
        const flags = G.GNTMAP_host_map | (op.ro ? G.GNTMAP_readonly : 0) | (op.viaPte ? G.GNTMAP_contains_pte : 0) | (op.app ? G.GNTMAP_application_map : 0);
        const old = readEntry(m, w, op.slot);
        const gp0 = gpsOf(op.m);
        const r = w.hub.map(m.table, { hostAddr: addr, flags, ref: op.ref, dom: gd, vcpu: 0 });
        const ok = e !== undefined && (op.ro || !e.ro);
        expect(r.status, where).toBe(ok ? G.GNTST_okay : G.GNTST_general_error);
        if (!ok) {
          expect(readEntry(m, w, op.slot), where).toEqual(old);
          break;
        }
        const mfn = (s.guests.get(gd) as Guest).p2m[(e as { pfn: number }).pfn] as number;
        s.live.push({ m: op.m, handle: r.handle as number, g: gd, ref: op.ref, mfn, ro: op.ro, addr, viaPte: op.viaPte });
        const now = readEntry(m, w, op.slot);
        expect(pteMfn(now[0], now[1]), where).toBe(mfn);
        expect(isGrantEntry(now) && (now[0] & 2) === (op.ro ? 0 : 2), where).toBe(true);
        expect(gpsOf(op.m) - gp0, `${where}: #GP for the entry replaced`).toBe(isGrantEntry(old) ? 1 : 0);
        break;
      }
      case 'unmap':
      case 'replace': {
        const m = s.guests.get(op.m) as Guest;
        const mine = s.live.filter((x) => x.m === op.m);
        if (mine.length === 0) break;
        const l = mine[op.pick % mine.length] as Live;
        const addr = op.at < 0 ? l.addr : l.viaPte ? m.l1 * 4096 + op.at * 8 : slotVa(op.at);
        const hostSlot = l.viaPte ? (addr - m.l1 * 4096) / 8 : addr / 4096;
        const newAddr = op.k === 'replace' ? slotVa(op.slot) : 0;
        const stolen: [number, number] = op.k === 'replace' && !l.viaPte ? readEntry(m, w, op.slot) : [0, 0];
        const gp0 = gpsOf(op.m);
        // What Xen finds at host_addr once new_addr's entry is stolen.
        const at = op.k === 'replace' && !l.viaPte && op.slot === hostSlot ? ([0, 0] as [number, number]) : readEntry(m, w, hostSlot);
        const matches = present(at) && pteMfn(at[0], at[1]) === l.mfn && ((at[0] & 2) !== 0) === !l.ro;
        const st = w.hub.unmap(m.table, { hostAddr: addr, devBusAddr: 0, handle: l.handle, newAddr, vcpu: 0 });
        let want: number = matches ? G.GNTST_okay : G.GNTST_general_error;
        if (op.k === 'replace' && l.viaPte) want = G.GNTST_general_error; // no replace by PTE address
        expect(st, where).toBe(want);
        if (st === G.GNTST_okay) {
          s.live = s.live.filter((x) => x !== l);
          expect(readEntry(m, w, hostSlot), where).toEqual(stolen);
          if (op.k === 'replace') expect(readEntry(m, w, op.slot), where).toEqual([0, 0]);
        } else if (op.k === 'replace' && !l.viaPte) {
          // Xen had already cleared new_addr and releases what it held.
          expect(readEntry(m, w, op.slot), where).toEqual([0, 0]);
        }
        const wantGp = st !== G.GNTST_okay && isGrantEntry(stolen) ? 1 : 0;
        expect(gpsOf(op.m) - gp0, `${where}: #GP`).toBe(wantGp);
        break;
      }
      case 'write': {
        const m = s.guests.get(op.m) as Guest;
        const old = readEntry(m, w, op.slot);
        const n: [number, number] = op.own < 0 ? [0, 0] : pte(m.p2m[OWN[op.own] as number] as number, 7);
        const [rc, implicit] = writeSlot(m, op.slot, n);
        expect(rc, where).toBe(0);
        expect(implicit, `${where}: implicit unmaps`).toBe(isGrantEntry(old) && !fastPath(old, n) ? 1 : 0);
        break;
      }
    }
    check(s, where);
  });

  // Unmap whatever can be unmapped (at its own address, else at any slot), then clear the slots.
  for (const l of [...s.live]) {
    const m = s.guests.get(l.m) as Guest;
    const tries = [l.addr, ...SLOTS.map((sl) => (l.viaPte ? m.l1 * 4096 + sl * 8 : slotVa(sl)))];
    for (const addr of tries) {
      if (w.hub.unmap(m.table, { hostAddr: addr, devBusAddr: 0, handle: l.handle, vcpu: 0 }) === G.GNTST_okay) {
        s.live = s.live.filter((x) => x !== l);
        break;
      }
    }
  }
  for (const m of s.guests.values()) for (const sl of SLOTS) expect(writeSlot(m, sl, [0, 0])[0]).toBe(0);
  check(s, 'after unmapping and clearing');
  for (const g of s.guests.values()) {
    for (const pfn of GRANTED) {
      const mfn = g.p2m[pfn] as number;
      expect([w.mem.count[mfn], w.mem.typeCount[mfn]], `d${g.d.id} pfn ${pfn} at the end`).toEqual([2, 1]);
    }
  }
  // The orphans (entries dropped implicitly) are released by domain destruction, without references.
  const before = [...s.guests.values()].flatMap((g) => GRANTED.map((pfn) => w.mem.count[g.p2m[pfn] as number]));
  w.hub.remove(1);
  w.hub.remove(2);
  expect(w.hub.mappings()).toEqual([]);
  expect([...s.guests.values()].flatMap((g) => GRANTED.map((pfn) => w.mem.count[g.p2m[pfn] as number]))).toEqual(before);
}

describe('grant mappings through the PV MMU: model-based property', () => {
  it('map / unmap / unmap_and_replace / mmu_update sequences keep references with the entries and leave nothing behind', () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 5, maxLength: 40 }), (ops) => run(ops)), { numRuns: 60 });
  });

  it('regression: a mapping moved by unmap_and_replace over another, then the other unmapped at the moved entry', () => {
    run([
      { k: 'grant', d: 1, ref: 8, pfn: 20, ro: false },
      { k: 'map', m: 2, ref: 8, slot: 64, ro: false, viaPte: false, app: false },
      { k: 'map', m: 2, ref: 8, slot: 66, ro: false, viaPte: false, app: true },
      { k: 'replace', m: 2, pick: 0, at: -1, slot: 66 },
      { k: 'unmap', m: 2, pick: 0, at: 64 },
    ]);
  });

  it('a replace whose new_addr is the mapping\'s own entry: stolen, the match fails, the entry is released with a #GP', () => {
    run([
      { k: 'map', m: 2, ref: 8, slot: 67, ro: false, viaPte: false, app: false },
      { k: 'replace', m: 2, pick: 0, at: -1, slot: 67 },
      { k: 'write', m: 2, slot: 67, own: -1 },
    ]);
  });

  it('regression: a grant entry overwritten by mmu_update, then mapped again at the same slot', () => {
    run([
      { k: 'grant', d: 2, ref: 9, pfn: 21, ro: true },
      { k: 'map', m: 1, ref: 9, slot: 67, ro: true, viaPte: true, app: false },
      { k: 'write', m: 1, slot: 67, own: 0 },
      { k: 'map', m: 1, ref: 9, slot: 67, ro: true, viaPte: false, app: false },
      { k: 'unmap', m: 1, pick: 0, at: -1 },
      { k: 'unmap', m: 1, pick: 0, at: -1 },
    ]);
  });
});
