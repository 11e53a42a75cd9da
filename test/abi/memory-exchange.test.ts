/**
 * XENMEM_exchange (abi/hypercall/memory-exchange.ts) against Xen 4.17's `memory_exchange`: a PV
 * domU swaps frames for new ones (new MFNs written back, M2P set, old frames freed, the count of
 * pages unchanged), every refusal with its errno and what `nr_exchanged` then says, partial
 * progress by chunk, resuming from `nr_exchanged`, and Xen's quirks (a chunk whose `out` slot
 * faults is swapped but not counted).
 */
import { describe, expect, it } from 'vitest';
import { OWNER_FREE } from '../../abi/hv/machine.js';
import { totPages } from '../../abi/hypercall/memory.js';
import { View } from '../../abi/layout/view.js';
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOMEM, XEN_EPERM, XEN_ESRCH } from '../../abi/public/errno.js';
import { layout } from '../../abi/public/index.js';
import { XENMEM_exchange, XENMEMF_exact_node_request } from '../../abi/public/memory.js';
import { __HYPERVISOR_memory_op } from '../../abi/public/xen.js';
import { ARG, LIST, UNMAPPED, pvDomain, type PvDomain } from './pv-domain.js';

const EXCHANGE = layout('xen_memory_exchange', 'x86_64');
const SELF = 0x7ff0;
const IN_LIST = LIST;
const OUT_LIST = LIST + 0x800;

interface Side {
  list?: number;
  n: number;
  order?: number;
  flags?: number;
  domid?: number;
}

/** Writes the xen_memory_exchange at ARG and calls XENMEM_exchange; returns [rc, nr_exchanged]. */
function exchange(t: PvDomain, inn: Side, out: Side, done = 0, cmdExtra = 0): [number, number] {
  const b = new Uint8Array(EXCHANGE.size);
  const v = View.of(EXCHANGE, new DataView(b.buffer), 0);
  for (const [name, s, list] of [['in', inn, IN_LIST], ['out', out, OUT_LIST]] as const) {
    v.setBig(`${name}.extent_start`, BigInt.asUintN(64, BigInt(s.list ?? list)));
    v.setBig(`${name}.nr_extents`, BigInt(s.n));
    v.set(`${name}.extent_order`, s.order ?? 0);
    v.set(`${name}.mem_flags`, s.flags ?? 0);
    v.set(`${name}.domid`, s.domid ?? SELF);
  }
  v.setBig('nr_exchanged', BigInt(done));
  t.write(ARG, b);
  const rc = t.call(__HYPERVISOR_memory_op, XENMEM_exchange + cmdExtra, ARG);
  const back = new Uint8Array(EXCHANGE.size);
  expect(t.v.mem.read(ARG, back)).toBe(true);
  return [rc, Number(View.of(EXCHANGE, new DataView(back.buffer), 0).getBig('nr_exchanged'))];
}

/** PFNs 32..63 are mapped by no page table: frames the domain can give away. */
const FREE_PFNS = [40, 41, 42, 43] as const;

describe('XENMEM_exchange', () => {
  it('swaps order-0 frames: new MFNs in the out slots, the M2P names their GPFNs, old frames freed, the page count unchanged', () => {
    const t = pvDomain();
    const old = [t.p2m[40] as number, t.p2m[41] as number];
    const tot = totPages(t.mem, 1);
    t.u64s(IN_LIST, old);
    t.u64s(OUT_LIST, [40, 41]);
    expect(exchange(t, { n: 2 }, { n: 2 })).toEqual([0, 2]);
    const fresh = t.readU64(OUT_LIST, 2);
    for (const [k, mfn] of fresh.entries()) {
      expect(old).not.toContain(mfn);
      expect(t.mem.owner[mfn]).toBe(1);
      expect(t.mem.count[mfn]).toBe(1);
      expect(t.mem.m2pGet(mfn)).toBe(40 + k);
    }
    for (const mfn of old) expect(t.mem.owner[mfn]).toBe(OWNER_FREE);
    expect(totPages(t.mem, 1)).toBe(tot);
  });

  it('an in extent of order 1 for two order-0 out extents (one chunk): the contiguous pair is stolen', () => {
    const t = pvDomain();
    // Find two frames of the domain, unmapped, with consecutive MFNs (the pool is shuffled: take
    // more frames until two are neighbours; deterministic for the pool's seed).
    const mine = new Set(t.p2m.slice(32));
    for (let k = 0; k < 400; k++) mine.add(t.mem.allocFrame(1) as number);
    const base = [...mine].find((m) => mine.has(m + 1));
    if (base === undefined) throw new Error('seed gives no contiguous pair');
    t.u64s(IN_LIST, [base]);
    t.u64s(OUT_LIST, [50, 51]);
    expect(exchange(t, { n: 1, order: 1 }, { n: 2 })).toEqual([0, 1]);
    expect(t.mem.owner[base]).toBe(OWNER_FREE);
    expect(t.mem.owner[base + 1]).toBe(OWNER_FREE);
    expect(t.readU64(OUT_LIST, 2).map((m) => t.mem.m2pGet(m))).toEqual([50, 51]);
  });

  it('an out extent of order > 0 cannot be allocated here: -ENOMEM, the stolen frames given back', () => {
    const t = pvDomain();
    const old = [t.p2m[40] as number, t.p2m[41] as number];
    t.u64s(IN_LIST, old);
    t.u64s(OUT_LIST, [40]);
    expect(exchange(t, { n: 2 }, { n: 1, order: 1 })).toEqual([-XEN_ENOMEM, 0]);
    for (const mfn of old) {
      expect(t.mem.owner[mfn]).toBe(1);
      expect(t.mem.count[mfn]).toBe(1);
    }
  });

  it('stops at a frame that is mapped, foreign, invalid, or already given: -EINVAL, nr_exchanged = the chunks done', () => {
    for (const bad of [(t: PvDomain) => t.p2m[10] as number, (t: PvDomain) => t.other[0] as number, () => 2 ** 40, (t: PvDomain) => t.p2m[40] as number]) {
      const t = pvDomain();
      const mfn = bad(t);
      t.u64s(IN_LIST, [t.p2m[40] as number, mfn, t.p2m[42] as number]);
      t.u64s(OUT_LIST, [40, 41, 42]);
      const before = t.mem.count[t.p2m[10] as number];
      expect(exchange(t, { n: 3 }, { n: 3 })).toEqual([-XEN_EINVAL, 1]);
      expect(t.mem.owner[t.p2m[42] as number]).toBe(1);
      expect(t.mem.count[t.p2m[10] as number]).toBe(before);
      expect(t.mem.m2pGet(t.readU64(OUT_LIST, 1)[0] as number)).toBe(40);
    }
  });

  it('resumes from nr_exchanged', () => {
    const t = pvDomain();
    t.u64s(IN_LIST, [t.p2m[10] as number, t.p2m[41] as number]);
    t.u64s(OUT_LIST, [10, 41]);
    expect(exchange(t, { n: 2 }, { n: 2 }, 1)).toEqual([0, 2]);
    // Slot 0 was not looked at: PFN 10 is still mapped and the slot unchanged.
    expect(t.readU64(OUT_LIST, 1)).toEqual([10]);
    expect(t.mem.owner[t.p2m[41] as number]).toBe(OWNER_FREE);
  });

  it('nothing left to do: 0, and nr_exchanged is not written', () => {
    const t = pvDomain();
    expect(exchange(t, { n: 2 }, { n: 2 }, 2)).toEqual([0, 2]);
    expect(exchange(t, { n: 0 }, { n: 0 })).toEqual([0, 0]);
  });

  it('an out slot that faults after the swap: -EFAULT, the chunk swapped but not counted (Xen\'s order)', () => {
    const t = pvDomain();
    const old = t.p2m[40] as number;
    t.u64s(IN_LIST, [old]);
    const tot = totPages(t.mem, 1);
    expect(exchange(t, { n: 1 }, { n: 1, list: UNMAPPED })).toEqual([-XEN_EFAULT, 0]);
    expect(t.mem.owner[old]).toBe(OWNER_FREE);
    expect(totPages(t.mem, 1)).toBe(tot);
  });

  it('an in slot that faults: -EFAULT before anything is stolen', () => {
    const t = pvDomain();
    expect(exchange(t, { n: 1, list: UNMAPPED }, { n: 1 })).toEqual([-XEN_EFAULT, 0]);
  });

  it('an address width no frame of the pool satisfies: -ENOMEM, the frames given back', () => {
    const t = pvDomain();
    const old = t.p2m[40] as number;
    t.u64s(IN_LIST, [old]);
    t.u64s(OUT_LIST, [40]);
    expect(exchange(t, { n: 1 }, { n: 1, flags: 13 })).toEqual([-XEN_ENOMEM, 0]);
    expect(t.mem.owner[old]).toBe(1);
    expect(t.mem.count[old]).toBe(1);
  });

  describe('refusals before any work (nr_exchanged written back unchanged)', () => {
    const cases: [string, Side, Side, number, number][] = [
      ['an in order above 9', { n: 1, order: 10 }, { n: 1024 }, 0, -XEN_EPERM],
      ['an out order above 9', { n: 1024 }, { n: 1, order: 10 }, 0, -XEN_EPERM],
      ['nr_exchanged beyond in.nr_extents', { n: 1 }, { n: 1 }, 2, -XEN_EINVAL],
      ['different domids', { n: 1, domid: SELF }, { n: 1, domid: 1 }, 0, -XEN_EINVAL],
      ['sizes in bytes that differ', { n: 2 }, { n: 1 }, 0, -XEN_EINVAL],
      ['a list size overflowing a long', { n: 2 ** 60, order: 5 }, { n: 2 ** 60, order: 5 }, 0, -XEN_EINVAL],
      ['an in list in Xen\'s range', { n: 1, list: -0x800000000000 }, { n: 1 }, 0, -XEN_EFAULT],
      ['an out list that ends in Xen\'s range', { n: 1 }, { n: 1, list: 0x7ffffffffffc }, 0, -XEN_EFAULT],
      ['an exact NUMA node request', { n: 1 }, { n: 1, flags: (1 << 8) | XENMEMF_exact_node_request }, 0, -XEN_EINVAL],
      ['another domain', { n: 1, domid: 2 }, { n: 1, domid: 2 }, 0, -XEN_EPERM],
      ['no such domain', { n: 1, domid: 7 }, { n: 1, domid: 7 }, 0, -XEN_ESRCH],
    ];
    for (const [what, inn, out, done, rc] of cases) {
      it(what, () => {
        const t = pvDomain();
        const own = t.p2m[40] as number;
        t.u64s(IN_LIST, [own]);
        expect(exchange(t, inn, out, done)).toEqual([rc, done]);
        expect(t.mem.owner[own]).toBe(1);
      });
    }

    it('a continuation index in cmd: -EINVAL; an unreadable argument: -EFAULT', () => {
      const t = pvDomain();
      expect(exchange(t, { n: 1 }, { n: 1 }, 0, 1 << 6)[0]).toBe(-XEN_EINVAL);
      expect(t.call(__HYPERVISOR_memory_op, XENMEM_exchange, UNMAPPED)).toBe(-XEN_EFAULT);
    });
  });
});
