/**
 * Model-based properties of the PV MMU (issue 5, item 9), on the hypervisor API without a CPU.
 *
 * Random sequences of pin / unpin / mmu_update / update_va_mapping / new_baseptr over a handful
 * of frames (three entry slots each, entries naming the domain's frames, another domain's frame
 * or an MMIO frame) run on `PvMmu` and on a small reference model written here with plain arrays.
 * After every command:
 *  - the result (errno, and the flush an L2-L4 update causes) equals the model's;
 *  - every frame's type, type count, general count, validated, pinned and linear counters equal
 *    the model's;
 *  - no live L1 maps a live page-table page writable;
 *  - the counts equal a recount from scratch over memory (pins + roots + what every entry of every
 *    live table holds), independently of both implementations.
 * At the end, unpinning everything and dropping the roots returns every count to an idle frame's.
 * Seeded from the run seed (test/support/fast-check-seed.ts); fast-check prints seed and path.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { F_PINNED, F_VALIDATED, MachineMemory } from '../../abi/hv/machine.js';
import { PageTypes, isGuestL4Slot, pteMfn } from '../../abi/hv/page-types.js';
import { PvMmu, pte, ptUpdate } from '../../abi/pv/mmu.js';
import { XEN_EBUSY, XEN_EINVAL, XEN_EPERM } from '../../abi/public/errno.js';
import { MMU_NORMAL_PT_UPDATE, MMU_PT_UPDATE_PRESERVE_AD, MMUEXT_NEW_BASEPTR, MMUEXT_PIN_L1_TABLE, MMUEXT_UNPIN_TABLE, UVMF_INVLPG } from '../../abi/public/xen.js';

/** Frames of the domain; target N is another domain's frame, N + 1 an MMIO frame. */
const N = 8;
const SLOTS = 3;
const FOREIGN = N;
const MMIO = N + 1;
const WRITABLE = 7;

interface Ent {
  readonly p: boolean;
  readonly rw: boolean;
  readonly t: number;
  /** Bits Xen adds when it stores an entry: USER, GLOBAL, guest-kernel (bit 52). */
  readonly us?: boolean;
  readonly g?: boolean;
  readonly k?: boolean;
}

/**
 * Xen's rewriting of a stored entry (`adjust_guest_lNe`): USER at every level; at L1 a mapping
 * without USER becomes USER + guest-kernel, and one with USER but not guest-kernel gets GLOBAL.
 * (So an entry stored by an L3 and then by an L1 carries GLOBAL, which an L2 refuses.)
 */
function adjust(level: number, e: Ent): Ent {
  if (!e.p) return e;
  if (level > 1) return { ...e, us: true };
  let { us, g, k } = e;
  if (us !== true) {
    us = true;
    k = true;
  }
  if (k !== true) g = true;
  return { ...e, us, g, k };
}
const EMPTY: Ent = { p: false, rw: false, t: 0 };

interface Update {
  readonly f: number;
  readonly slot: number;
  readonly e: Ent;
  readonly ad: boolean;
}

type Op =
  | { kind: 'pin'; level: number; f: number }
  | { kind: 'unpin'; f: number }
  | { kind: 'update'; reqs: readonly Update[] }
  | { kind: 'base'; f: number }
  | { kind: 'uvm'; idx: readonly [number, number, number, number]; e: Ent };

/** The reference model: Xen's rules for this small world, written plainly. */
class Model {
  ent: Ent[][] = Array.from({ length: N }, () => Array.from({ length: SLOTS }, () => EMPTY));
  type = new Array<number>(N).fill(0);
  tc = new Array<number>(N).fill(0);
  gc = new Array<number>(N).fill(0);
  valid = new Array<boolean>(N).fill(false);
  pinned = new Array<boolean>(N).fill(false);
  lin = new Array<number>(N).fill(0);
  /** Xen left its M2P (slot 256) / self-linear (slot 258) entries in a frame that was an L4. */
  m2pSlot = new Array<boolean>(N).fill(false);
  selfSlot = new Array<boolean>(N).fill(false);
  base = -1;

  getPage(t: number): boolean {
    if (t >= N) return false;
    this.gc[t]!++;
    return true;
  }

  getType(f: number, type: number): number {
    if (this.tc[f]! > 0) {
      if (this.type[f] !== type) return -XEN_EINVAL;
      this.tc[f]!++;
      return 0;
    }
    if (this.type[f] !== type) {
      this.type[f] = type;
      this.valid[f] = false;
    }
    this.tc[f] = 1;
    if (this.valid[f]) return 0;
    if (type === WRITABLE) {
      this.valid[f] = true;
      return 0;
    }
    this.lin[f] = 0;
    const rc = this.validate(f, type);
    if (rc === 0) this.valid[f] = true;
    else {
      this.tc[f] = 0;
      this.type[f] = 0;
    }
    return rc;
  }

  putType(f: number, ptpg = -1): void {
    if (this.tc[f] === 1 && this.type[f]! >= 1 && this.type[f]! <= 4 && this.valid[f]) {
      this.valid[f] = false;
      for (let s = 0; s < SLOTS; s++) this.putEntry(this.type[f]!, this.ent[f]![s]!, f);
    }
    if (ptpg >= 0 && this.type[ptpg] === this.type[f]) {
      this.lin[f]!++;
      this.lin[ptpg]!--;
    }
    this.tc[f]!--;
  }

  getPageAndType(t: number, type: number): number {
    if (!this.getPage(t)) return -XEN_EINVAL;
    const rc = this.getType(t, type);
    if (rc !== 0) this.gc[t]!--;
    return rc;
  }

  validate(f: number, level: number): number {
    for (let s = 0; s < SLOTS; s++) {
      const e = this.ent[f]![s]!;
      if (!e.p) continue;
      const rc = this.getEntry(level, e, f);
      if (rc < 0) {
        for (let k = s - 1; k >= 0; k--) this.putEntry(level, this.ent[f]![k]!, f);
        return rc;
      }
      this.ent[f]![s] = adjust(level, e);
    }
    // Entries Xen left at slots 256 (the M2P's Xen-owned L3) and 258 (self, RW) when this frame
    // was an L4: refused below L4.
    if (level < 4 && (this.m2pSlot[f] || this.selfSlot[f])) {
      for (let k = SLOTS - 1; k >= 0; k--) this.putEntry(level, this.ent[f]![k]!, f);
      return level === 1 ? -XEN_EBUSY : -XEN_EINVAL;
    }
    if (level === 4) {
      // Xen's slots, rewritten: self-linear at 258; 256 left empty until the frame is a root.
      this.selfSlot[f] = true;
      this.m2pSlot[f] = false;
    }
    return 0;
  }

  getEntry(level: number, e: Ent, f: number): number {
    if (level === 1) {
      if (e.t === FOREIGN) return -XEN_EBUSY;
      if (e.t === MMIO) return -XEN_EPERM;
      this.gc[e.t]!++;
      if (e.rw && this.getType(e.t, WRITABLE) !== 0) {
        this.gc[e.t]!--;
        return -XEN_EBUSY;
      }
      return 0;
    }
    if (e.g === true) return -XEN_EINVAL; // GLOBAL is refused above L1
    const rc = this.getPageAndType(e.t, level - 1);
    if (rc === -XEN_EINVAL && this.linear(level, e, f)) return 0;
    return rc;
  }

  linear(level: number, e: Ent, f: number): boolean {
    if (e.rw || e.t >= N) return false;
    if (e.t === f) return true;
    if (this.lin[f]! < 0 || this.lin[e.t]! > 0) return false;
    if (this.type[e.t] !== level || !this.valid[e.t]) return false;
    this.lin[f]!++;
    this.lin[e.t]!--;
    this.tc[e.t]!++;
    this.gc[e.t]!++;
    return true;
  }

  putEntry(level: number, e: Ent, f: number): void {
    if (!e.p || e.t >= N) return;
    if (level === 1) {
      if (e.rw) this.putType(e.t);
      this.gc[e.t]!--;
      return;
    }
    if (e.t === f) return;
    this.putType(e.t, f);
    this.gc[e.t]!--;
  }

  live(f: number): boolean {
    return this.valid[f]! && this.tc[f]! > 0;
  }

  /** mmu_update / update_va_mapping on a live table: 0 (1 for an L2-L4 change) or an errno. */
  modEntry(f: number, slot: number, given: Ent): number {
    const level = this.type[f]!;
    const old = this.ent[f]![slot]!;
    const e = adjust(level, given);
    if (e.p) {
      if (old.p && old.t === e.t && old.rw === e.rw) {
        this.ent[f]![slot] = e;
        return level === 1 ? 0 : 1;
      }
      const rc = this.getEntry(level, e, f);
      if (rc < 0) return rc;
    }
    this.ent[f]![slot] = e;
    this.putEntry(level, old, f);
    return level === 1 ? 0 : 1;
  }

  /** Requests done by the last batch, and whether it changed an L2-L4 entry. */
  done = 0;
  flushed = false;

  update(u: Update): number {
    const f = u.f;
    if (this.live(f)) {
      if (this.type[f] === WRITABLE) {
        this.ent[f]![u.slot] = u.e;
        return 0;
      }
      return this.modEntry(f, u.slot, u.e);
    }
    if (this.getType(f, WRITABLE) !== 0) return -XEN_EINVAL;
    this.ent[f]![u.slot] = u.e;
    this.putType(f);
    return 0;
  }

  run(op: Op): number {
    this.done = 0;
    this.flushed = false;
    switch (op.kind) {
      case 'pin': {
        if (!this.getPage(op.f)) return -XEN_EINVAL;
        const rc = this.getType(op.f, op.level);
        if (rc !== 0) {
          this.gc[op.f]!--;
          return rc;
        }
        if (this.pinned[op.f]) {
          this.putType(op.f);
          this.gc[op.f]!--;
          return -XEN_EINVAL;
        }
        this.pinned[op.f] = true;
        return 0;
      }
      case 'unpin':
        if (op.f >= N || !this.pinned[op.f]) return -XEN_EINVAL;
        this.pinned[op.f] = false;
        this.putType(op.f);
        this.gc[op.f]!--;
        return 0;
      case 'update': {
        // One mmu_update batch: stops at the first failure.
        this.done = 0;
        this.flushed = false;
        for (const u of op.reqs) {
          const rc = this.update(u);
          if (rc < 0) return rc;
          if (rc === 1) this.flushed = true;
          this.done++;
        }
        return 0;
      }
      case 'base': {
        if (this.base === op.f) return 0;
        const rc = this.getPageAndType(op.f, 4);
        if (rc !== 0) return rc;
        this.m2pSlot[op.f] = true;
        const old = this.base;
        this.base = op.f;
        if (old >= 0) {
          this.putType(old);
          this.gc[old]!--;
        }
        return 0;
      }
      case 'uvm': {
        if (this.base < 0) return -XEN_EINVAL;
        let t = this.base;
        for (let level = 0; level < 3; level++) {
          if (t >= N) return -XEN_EINVAL; // foreign and MMIO frames read as zeros here
          const e = this.ent[t]![op.idx[level]!]!;
          if (!e.p) return -XEN_EINVAL;
          t = e.t;
        }
        if (t >= N || !this.live(t) || this.type[t] !== 1) return -XEN_EINVAL;
        const rc = this.modEntry(t, op.idx[3], op.e);
        return rc < 0 ? rc : 0;
      }
    }
  }

  /** Teardown: every pin, then the root. */
  clear(): void {
    for (let f = 0; f < N; f++) if (this.pinned[f]) this.run({ kind: 'unpin', f });
    if (this.base >= 0) {
      this.putType(this.base);
      this.gc[this.base]!--;
      this.base = -1;
    }
  }
}

function world() {
  const mem = new MachineMemory({ frames: 512, seed: 99 });
  const types = new PageTypes(mem);
  const doms = new Map<number, PvMmu>();
  const dom = new PvMmu(types, { domid: 1, vcpus: 2, lookup: (id) => doms.get(id) });
  doms.set(1, dom);
  doms.set(2, new PvMmu(types, { domid: 2, vcpus: 1, lookup: (id) => doms.get(id) }));
  const p = mem.allocDomainMemory(1, N) as number[];
  const q = mem.allocDomainMemory(2, 1) as number[];
  const mfnOf = (t: number) => (t < N ? (p[t] as number) : t === FOREIGN ? (q[0] as number) : 5);
  const entry = (e: Ent) => pte(mfnOf(e.t), (e.p ? 1 : 0) | (e.rw ? 2 : 0));
  return { mem, dom, p, q, mfnOf, entry };
}

function runReal(w: ReturnType<typeof world>, op: Op): { rc: number; flush: number; done?: number } {
  const { dom, mfnOf, entry } = w;
  switch (op.kind) {
    case 'pin': {
      const r = dom.mmuextOp(0, [{ cmd: MMUEXT_PIN_L1_TABLE + op.level - 1, arg1: mfnOf(op.f), arg2: 0 }]);
      return { rc: r.rc, flush: r.effects.flush.size };
    }
    case 'unpin': {
      const r = dom.mmuextOp(0, [{ cmd: MMUEXT_UNPIN_TABLE, arg1: mfnOf(op.f), arg2: 0 }]);
      return { rc: r.rc, flush: r.effects.flush.size };
    }
    case 'update': {
      const reqs = op.reqs.map((u) => ptUpdate(mfnOf(u.f), u.slot, ...entry(u.e), u.ad ? MMU_PT_UPDATE_PRESERVE_AD : MMU_NORMAL_PT_UPDATE));
      const r = dom.mmuUpdate(0, reqs);
      return { rc: r.rc, flush: r.effects.flush.size, done: r.done };
    }
    case 'base': {
      const r = dom.mmuextOp(0, [{ cmd: MMUEXT_NEW_BASEPTR, arg1: mfnOf(op.f), arg2: 0 }]);
      return { rc: r.rc, flush: r.effects.flush.size };
    }
    case 'uvm': {
      const [a, b, c, d] = op.idx;
      const va = (((a * 512 + b) * 512 + c) * 512 + d) * 4096;
      const r = dom.updateVaMapping(0, va, ...entry(op.e), UVMF_INVLPG);
      expect(r.effects.invlpg).toEqual(r.rc === 0 ? [{ vcpu: 0, va }] : []);
      return { rc: r.rc, flush: r.effects.flush.size };
    }
  }
}

/** Compares every frame of the domain with the model. */
function expectSameState(w: ReturnType<typeof world>, m: Model): void {
  for (let f = 0; f < N; f++) {
    const mfn = w.p[f] as number;
    const real = {
      f,
      tc: w.mem.typeCount[mfn],
      type: w.mem.typeCount[mfn] === 0 ? 'any' : w.mem.type[mfn],
      count: w.mem.count[mfn],
      valid: w.mem.typeCount[mfn] === 0 && w.mem.type[mfn] !== WRITABLE ? 'any' : ((w.mem.flags[mfn] as number) & F_VALIDATED) !== 0,
      pinned: ((w.mem.flags[mfn] as number) & F_PINNED) !== 0,
      lin: w.mem.linear[mfn],
    };
    const model = {
      f,
      tc: m.tc[f],
      type: m.tc[f] === 0 ? 'any' : m.type[f],
      count: 1 + m.gc[f]!,
      valid: m.tc[f] === 0 && m.type[f] !== WRITABLE ? 'any' : m.valid[f],
      pinned: m.pinned[f],
      lin: m.lin[f],
    };
    expect(real).toEqual(model);
  }
  expect(w.mem.count[w.q[0] as number]).toBe(1);
}

/** Invariants from memory alone: no writable mapping of a live table; counts equal a recount. */
function expectInvariants(w: ReturnType<typeof world>): void {
  const { mem, dom, p } = w;
  const own = new Map(p.map((mfn, k) => [mfn, k]));
  const gc = new Array<number>(N).fill(0);
  const tc = new Array<number>(N).fill(0);
  const live = (mfn: number) => ((mem.flags[mfn] as number) & F_VALIDATED) !== 0 && (mem.typeCount[mfn] as number) > 0;
  for (const mfn of p) {
    const k = own.get(mfn) as number;
    if (((mem.flags[mfn] as number) & F_PINNED) !== 0) {
      gc[k]!++;
      tc[k]!++;
    }
    if (dom.vcpus[0]?.guestTable === mfn) {
      gc[k]!++;
      tc[k]!++;
    }
    const type = mem.type[mfn] as number;
    if (!live(mfn) || type < 1 || type > 4) continue;
    const v = mem.view(mfn);
    for (let i = 0; i < 512; i++) {
      if (type === 4 && !isGuestL4Slot(i)) continue;
      const lo = v.getUint32(i * 8, true);
      if ((lo & 1) === 0) continue;
      const target = pteMfn(lo, v.getUint32(i * 8 + 4, true));
      const t = own.get(target);
      if (t === undefined) throw new Error(`live table 0x${mfn.toString(16)} maps a frame outside the domain`);
      if (type === 1) {
        gc[t]!++;
        if ((lo & 2) !== 0) {
          tc[t]!++;
          const tt = mem.type[target] as number;
          expect({ writableMappingOfTable: tt >= 1 && tt <= 4 && (mem.typeCount[target] as number) > 0 }).toEqual({ writableMappingOfTable: false });
        }
      } else if (target !== mfn) {
        gc[t]!++;
        tc[t]!++;
      }
    }
  }
  for (let k = 0; k < N; k++) {
    const mfn = p[k] as number;
    expect({ k, count: mem.count[mfn], typeCount: mem.typeCount[mfn] }).toEqual({ k, count: 1 + gc[k]!, typeCount: tc[k] });
  }
}

const frame = fc.integer({ min: 0, max: N - 1 });
// Mostly present entries naming the domain's own frames, so that trees form.
const ent: fc.Arbitrary<Ent> = fc.record({
  p: fc.constantFrom(true, true, true, false),
  rw: fc.boolean(),
  t: fc.oneof({ weight: 8, arbitrary: frame }, { weight: 1, arbitrary: fc.constantFrom(FOREIGN, MMIO) }),
});
const slotIdx = fc.constantFrom(0, 0, 0, 1);
const update: fc.Arbitrary<Update> = fc.record({ f: frame, slot: fc.integer({ min: 0, max: SLOTS - 1 }), e: ent, ad: fc.boolean() });
/** A batch linking five frames a → b → c → d → e (present, RW), the shape of a page-table path. */
const chain: fc.Arbitrary<Op> = fc
  .tuple(fc.uniqueArray(frame, { minLength: 5, maxLength: 5 }), slotIdx)
  .map(([fs, slot]) => ({
    kind: 'update' as const,
    reqs: [0, 1, 2, 3].map((k) => ({ f: fs[k] as number, slot, e: { p: true, rw: true, t: fs[k + 1] as number }, ad: false })),
  }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('pin' as const), level: fc.integer({ min: 1, max: 4 }), f: fc.integer({ min: 0, max: N }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('unpin' as const), f: fc.integer({ min: 0, max: N }) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('update' as const), reqs: fc.array(update, { minLength: 1, maxLength: 3 }) }) },
  { weight: 2, arbitrary: chain },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('base' as const), f: fc.integer({ min: 0, max: N }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('uvm' as const),
      idx: fc.tuple(slotIdx, slotIdx, slotIdx, slotIdx),
      e: ent,
    }),
  },
);

/** Sequences of commands; a chain is often followed by NEW_BASEPTR of its head and an update_va_mapping through it. */
const opsArb: fc.Arbitrary<Op[]> = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: opArb.map((o) => [o]) },
      {
        weight: 1,
        arbitrary: fc.tuple(chain, slotIdx, ent).map(([c, x, e]): Op[] => {
          const reqs = (c as { reqs: readonly Update[] }).reqs;
          const s = reqs[0]!.slot;
          return [c, { kind: 'base', f: reqs[0]!.f }, { kind: 'uvm', idx: [s, s, s, x], e }];
        }),
      },
    ),
    { minLength: 1, maxLength: 40 },
  )
  .map((segs) => segs.flat());

describe('PV MMU against a reference model', () => {
  it('every result and every count match the model; no writable mapping of a page table; counts return to idle', () => {
    fc.assert(
      fc.property(opsArb, (ops) => {
        const w = world();
        const m = new Model();
        for (const op of ops) {
          const real = runReal(w, op);
          const want = m.run(op);
          expect({ op, ...real }).toEqual({ op, rc: want, flush: m.flushed ? 2 : 0, ...(op.kind === 'update' ? { done: m.done } : {}) });
          expectSameState(w, m);
          expectInvariants(w);
        }
        w.dom.unpinAll();
        w.dom.destroyPagetables(0);
        m.clear();
        expectSameState(w, m);
        for (const mfn of w.p) {
          expect({ mfn, count: w.mem.count[mfn], typeCount: w.mem.typeCount[mfn], lin: w.mem.linear[mfn] }).toEqual({ mfn, count: 1, typeCount: 0, lin: 0 });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reaches deep trees often enough to be meaningful', () => {
    // The generator's coverage, measured on the model: runs where update_va_mapping succeeded
    // (a root with a four-level walk to a live L1) and runs with a live L1 held by a table above.
    let uvmOk = 0;
    let nested = 0;
    fc.assert(
      fc.property(opsArb, (ops) => {
        const m = new Model();
        let ok = false;
        let held = false;
        for (const op of ops) {
          if (m.run(op) >= 0 && op.kind === 'uvm') ok = true;
          if (m.type.some((t, k) => t === 1 && m.tc[k]! > (m.pinned[k] ? 1 : 0))) held = true;
        }
        if (ok) uvmOk++;
        if (held) nested++;
      }),
      { numRuns: 300 },
    );
    expect(uvmOk).toBeGreaterThan(30);
    expect(nested).toBeGreaterThan(100);
  });
});
