/**
 * Two PV64 domains on one machine for the grant-mapping tests: real machine memory and page
 * types, a PV MMU each with validated page tables (PFN k mapped read-write at VA k·4096 for
 * k = 4..31, PFN 33 at 0x41000, holes at 0x40000 and 0x42000..), one grant hub served by the
 * PV grant mapper, and vCPU 0 attached to Xen with spinning #GP and #PF handlers.
 */
import { GrantHub } from '../../abi/gnttab/grants.js';
import type { GrantTable } from '../../abi/gnttab/table.js';
import { Domain } from '../../abi/hv/domain.js';
import { MachineMemory } from '../../abi/hv/machine.js';
import { PageTypes } from '../../abi/hv/page-types.js';
import { Xen } from '../../abi/hv/xen.js';
import * as G from '../../abi/public/grant-table.js';
import { MMUEXT_PIN_L4_TABLE } from '../../abi/public/xen.js';
import { PvGrantMapper, pvGrantMapperOf } from '../../abi/pv/grant-mapping.js';
import { PvMmu, pte } from '../../abi/pv/mmu.js';
import { PvVcpu } from '../../abi/pv/vcpu.js';

export const FEATURES = new Set(['base', 'sse', 'sse2'] as const);
export const NR_PAGES = 48;
/** Guest VAs (PFN k mapped at k·4096 for k = 4..31, read-write). */
export const CODE = 0x8000;
export const GP_HANDLER = 0x9000;
export const PF_HANDLER = 0x9100;
export const ARG = 0x10000;
export const STACK = 0x20000;
/** A hole in the L1 (entry 64) where grants are mapped. */
export const GVA = 0x40000;
/** Entry 65: the domain's own PFN 33, for unmap_and_replace. */
export const OWN_VA = 0x41000;
export const OWN_PFN = 33;
/** Entry 66: a second hole. */
export const GVA2 = 0x42000;
/** No L2 entry covers it. */
export const NO_L1_VA = 0x400000;
export const REF = 8;

export interface Guest {
  d: Domain;
  v: PvVcpu;
  mmu: PvMmu;
  table: GrantTable;
  p2m: number[];
  l1: number;
  /** Hypercall `nr` from this guest's vCPU 0 (arguments in RDI, RSI, RDX, R10, R8). */
  call(nr: number, ...args: number[]): number;
  /** The guest's (machine) view of its PFN. */
  page(pfn: number): DataView;
}

export interface World {
  mem: MachineMemory;
  types: PageTypes;
  xen: Xen;
  hub: GrantHub;
  mapper: PvGrantMapper;
  a: Guest;
  b: Guest;
}

const ARG_REGS = [7, 6, 2, 10, 8] as const;

export function guest(w: Omit<World, 'a' | 'b'>, id: number): Guest {
  const { mem, types, xen, hub, mapper } = w;
  const p2m = mem.allocDomainMemory(id, NR_PAGES) as number[];
  const put = (table: number, i: number, e: [number, number]): void => {
    mem.view(table).setUint32(i * 8, e[0], true);
    mem.view(table).setUint32(i * 8 + 4, e[1], true);
  };
  const [l4, l3, l2, l1] = p2m as [number, number, number, number];
  put(l4, 0, pte(l3, 7));
  put(l3, 0, pte(l2, 7));
  put(l2, 0, pte(l1, 7));
  for (let k = 4; k < 32; k++) put(l1, k, pte(p2m[k] as number, 7));
  put(l1, OWN_VA / 4096, pte(p2m[OWN_PFN] as number, 7));
  const mmu = new PvMmu(types, { domid: id, vcpus: 1 });
  if (mmu.mmuextOp(0, [{ cmd: MMUEXT_PIN_L4_TABLE, arg1: l4, arg2: 0 }]).rc !== 0) throw new Error('test page tables do not validate');
  if (mmu.setBaseptrs(0, l4, 0) !== 0) throw new Error('no base pointer');
  const d = new Domain(id, `d${id}`);
  d.mmu = mmu;
  d.machine = mem;
  d.p2m = p2m;
  d.gnttab = hub.attach(id);
  mapper.add(d);
  const v = new PvVcpu(0, mem, xen, FEATURES);
  xen.attach(v, d);
  v.guestTable = l4;
  v.loadRoot();
  v.setReg(4, STACK);
  v.trapAddress[13] = GP_HANDLER;
  v.trapAddress[14] = PF_HANDLER;
  // Both handlers spin (jmp $): the test looks at where the vCPU ended up.
  for (const h of [GP_HANDLER, PF_HANDLER]) new Uint8Array(mem.view(p2m[9] as number).buffer, mem.view(p2m[9] as number).byteOffset + (h - 0x9000), 2).set([0xeb, 0xfe]);
  const call = (nr: number, ...args: number[]): number => {
    args.forEach((a, k) => v.setReg(ARG_REGS[k] as number, a));
    const r = xen.hypercall(v, nr);
    if (typeof r !== 'number') throw new Error('no-return hypercall');
    return r;
  };
  return { d, v, mmu, table: d.gnttab.table, p2m, l1, call, page: (pfn) => mem.view(p2m[pfn] as number) };
}

export function world(): World {
  const mem = new MachineMemory({ frames: 2048, seed: 5 });
  const types = new PageTypes(mem);
  const xen = new Xen(FEATURES);
  const hub = new GrantHub(mem, { types });
  const mapper = pvGrantMapperOf(hub);
  const base = { mem, types, xen, hub, mapper };
  return { ...base, a: guest(base, 1), b: guest(base, 2) };
}

/** Domain `g` grants its PFN `pfn` to `grantee` as `ref`. */
export function grant(g: Guest, ref: number, grantee: number, pfn: number, readonly = false): number {
  const mfn = g.p2m[pfn] as number;
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, G.GTF_permit_access | (readonly ? G.GTF_readonly : 0), true);
  dv.setUint16(2, grantee, true);
  dv.setUint32(4, mfn, true);
  g.table.writeEntryRaw(ref, b);
  return mfn;
}

export function entry(w: World, l1: number, index: number): [number, number] {
  const v = w.mem.view(l1);
  return [v.getUint32(index * 8, true), v.getUint32(index * 8 + 4, true)];
}

/** Every entry of a table, without the A and D bits (the core sets them as hypercalls read their arguments). */
export function entries(w: World, table: number): number[] {
  const v = w.mem.view(table);
  return Array.from({ length: 1024 }, (_, k) => v.getUint32(k * 4, true) & (k % 2 === 0 ? ~0x60 : ~0));
}

export function counts(w: World, mfn: number): [number, number] {
  return [w.mem.count[mfn] as number, w.mem.typeCount[mfn] as number];
}
