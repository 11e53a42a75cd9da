/**
 * memory_op (hypercall 12, reference §4.9) for a 64-bit PV domain, as Xen 4.17 answers it
 * (xen/common/memory.c `do_memory_op`, xen/arch/x86/mm.c `arch_memory_op`,
 * xen/arch/x86/x86_64/mm.c `subarch_memory_op`).
 *
 * What a PV guest sees:
 *  - increase_reservation / decrease_reservation / populate_physmap return the number of extents
 *    done, never an errno: everything that goes wrong before the first extent (an unreadable
 *    argument, a bad address width, a domain the caller may not touch) returns the start extent,
 *    i.e. 0 (Xen `do_memory_op`). The guest learns MFNs: PV passes GPFNs to populate_physmap and
 *    gets the MFN back in the same slot; decrease_reservation takes GMFNs, which are MFNs for PV.
 *    Xen sets the M2P of new frames (populate: to the GPFN given; increase: left invalid) and the
 *    guest keeps its own P2M.
 *  - current/maximum reservation, maximum_gpfn: counts for DOMID_SELF (or the caller's own id).
 *  - memory_map: the E820 the toolstack set (libxl sets one RAM entry [0, maxmem) for every PV
 *    domain); -ENOSYS when none was set, as Xen answers for backwards compatibility.
 *  - machphys_mapping: the read-only M2P window; machphys_mfn_list: the M2P's frames.
 *  - add_to_physmap(_batch) and remove_from_physmap are for translated guests: -EACCES for PV.
 *  - machine_memory_map, claim_pages: privileged (XSM_PRIV): -EPERM.
 *
 * The MEMOP_EXTENT_SHIFT continuation index in `cmd` is honoured (a guest may pass one; Xen
 * itself never needs to create a continuation here since every operation completes at once).
 *
 * Not modelled (documented, not silently different): extents of order > 0 are refused as an
 * allocation failure (Xen's would be when the heap has no free run that large; our frame pool
 * hands out single shuffled frames), NUMA placement, populate-on-demand (HVM only), a
 * privileged caller naming another domain (-ENOSYS, counted as not implemented),
 * acquire_resource, access/paging/sharing ops (-ENOSYS, not implemented). XENMEM_exchange is
 * memory-exchange.ts's.
 */
import type { Domain } from '../hv/domain.js';
import { F_XEN_HEAP, type MachineMemory } from '../hv/machine.js';
import { View } from '../layout/view.js';
import {
  XEN_EACCES,
  XEN_EDOM,
  XEN_EFAULT,
  XEN_EINVAL,
  XEN_ENOSYS,
  XEN_EOPNOTSUPP,
  XEN_EPERM,
  XEN_ESRCH,
} from '../public/errno.js';
import { layout } from '../public/index.js';
import * as M from '../public/memory.js';
import { DOMID_SELF } from '../public/xen.js';
import { addrOk } from '../pv/mmu.js';
import type { Handler, HypercallContext } from './context.js';
import { memoryExchange } from './memory-exchange.js';

const RESERVATION = layout('xen_memory_reservation', 'x86_64');
const MEMORY_DOMAIN = layout('xen_memory_domain', 'x86_64');
const MFN_LIST = layout('xen_machphys_mfn_list', 'x86_64');
const MAPPING = layout('xen_machphys_mapping', 'x86_64');
const MEMORY_MAP = layout('xen_memory_map', 'x86_64');
const FOREIGN_MAP = layout('xen_foreign_memory_map', 'x86_64');
const ADD_TO_PHYSMAP = layout('xen_add_to_physmap', 'x86_64');
const ADD_TO_PHYSMAP_BATCH = layout('xen_add_to_physmap_batch', 'x86_64');
const REMOVE_FROM_PHYSMAP = layout('xen_remove_from_physmap', 'x86_64');
const VNUMA_INFO = layout('xen_vnuma_topology_info', 'x86_64');
const POD_TARGET = layout('xen_pod_target', 'x86_64');

/** The continuation index lives above bit 5 of `cmd` (MEMOP_EXTENT_SHIFT). */
export const MEMOP_EXTENT_SHIFT = 6;
const MEMOP_CMD_MASK = (1 << MEMOP_EXTENT_SHIFT) - 1;
/** Xen's CONFIG_DOMU_MAX_ORDER on x86 (PAGETABLE_ORDER): the largest extent a domU may ask for. */
export const DOMU_MAX_ORDER = 9;
/** E820MAX: the most entries XENMEM_set_memory_map accepts. */
export const E820MAX = 1024;
export const E820_RAM = 1;
/** libxl's LIBXL_MAXMEM_CONSTANT: max_pages is the target plus 1 MiB (`libxl__arch_extra_memory`). */
export const LIBXL_MAXMEM_PAGES = 256;
/** The PV64 M2P window (public/arch-x86/xen-x86_64.h MACH2PHYS_VIRT_START/END). */
export const MACH2PHYS_VIRT_START = 0xffff800000000000n;
export const MACH2PHYS_VIRT_END = 0xffff804000000000n;
/** MACH2PHYS_NR_ENTRIES - 1: the highest MFN the window can describe (2^35 - 1). */
export const MACH2PHYS_MAX_MFN = 2 ** 35 - 1;
const TWO32 = 4294967296;
const E820_ENTRY_SIZE = 20;

/** One E820 entry (`struct e820entry`, packed: u64 addr, u64 size, u32 type). */
export interface E820Entry {
  readonly addr: number;
  readonly size: number;
  readonly type: number;
}

/**
 * A domain's memory accounting as Xen keeps it beside the frames: `max_pages`
 * (XEN_DOMCTL_max_mem), the E820 the toolstack set (XENMEM_set_memory_map), and its
 * shared_info frame (for maximum_gpfn, which reads the guest-written `arch.max_pfn`).
 */
export class DomainMemory {
  maxPages: number;
  e820: E820Entry[] | undefined;
  sharedInfo: DataView | undefined;

  constructor(opts: { maxPages: number; e820?: E820Entry[]; sharedInfo?: DataView }) {
    this.maxPages = opts.maxPages;
    this.e820 = opts.e820;
    this.sharedInfo = opts.sharedInfo;
  }

  /**
   * What libxl sets up for a PV domain of `memKiB` (maxmem = memory): max_pages = target + 1 MiB,
   * and an E820 of one RAM range [0, maxmem) (`xc_domain_set_memmap_limit`, slack 0).
   */
  static libxlPv(memKiB: number, sharedInfo?: DataView): DomainMemory {
    const pages = Math.floor(memKiB / 4);
    return new DomainMemory({ maxPages: pages + LIBXL_MAXMEM_PAGES, e820: [{ addr: 0, size: memKiB * 1024, type: E820_RAM }], sharedInfo });
  }
}

/** Xen `domain_tot_pages`: frames the domain owns and holds (Xen-heap pages such as shared_info excluded). */
export function totPages(mem: MachineMemory, domid: number): number {
  let n = 0;
  const owner = mem.owner;
  for (let mfn = 0; mfn < mem.nrFrames; mfn++) {
    if (owner[mfn] === domid && (mem.count[mfn] as number) !== 0 && ((mem.flags[mfn] as number) & F_XEN_HEAP) === 0) n++;
  }
  return n;
}

/** Xen's `__addr_ok` for PV64 on a guest pointer given as halves (plus `offset` bytes). */
function handleOk(lo: number, hi: number, offset = 0): boolean {
  return addrOk(signed(lo, hi) + offset);
}

function signed(lo: number, hi: number): number {
  return (hi | 0) * TWO32 + (lo >>> 0);
}

/** The machine and accounting a memory_op needs (undefined: a test domain without them). */
export interface Parts {
  readonly d: Domain;
  readonly machine: MachineMemory;
  readonly acct: DomainMemory;
}

export function partsOf(ctx: HypercallContext): Parts | undefined {
  const machine = ctx.domain.mmu?.types.mem;
  const acct = ctx.domain.memory;
  if (machine === undefined || acct === undefined) return undefined;
  return { d: ctx.domain, machine, acct };
}

/**
 * Xen `rcu_lock_domain_by_any_id` followed by an XSM_TARGET check, for an unprivileged caller:
 * 'self' for DOMID_SELF or its own id, -EPERM for another domain that exists (the host's
 * backends play domain 0; other PV domains are known through the shared page-type registry),
 * -ESRCH for none. A privileged caller naming another domain is not implemented.
 */
export function target(ctx: HypercallContext, domid: number): 'self' | number {
  const d = ctx.domain;
  if (domid === DOMID_SELF || domid === d.id) return 'self';
  const types = d.mmu?.types;
  const exists = domid === 0 || types?.policy(domid) !== undefined;
  if (!exists) return -XEN_ESRCH;
  if (d.mmu?.privileged === true) return -XEN_ENOSYS;
  return -XEN_EPERM;
}

/** The extents work of increase/decrease/populate: what they share. */
interface MemopArgs {
  readonly listLo: number;
  readonly listHi: number;
  readonly nrExtents: number;
  readonly order: number;
  /** MFNs must lie below 2^addressBits (0: no limit). */
  readonly addressBits: number;
}

/** Reads extent slot `i` (a xen_pfn_t); undefined on a fault. */
function readSlot(ctx: HypercallContext, a: MemopArgs, i: number): number | undefined {
  const buf = new Uint8Array(8);
  if (!ctx.mem.read(signed(a.listLo, a.listHi) + i * 8, buf)) return undefined;
  const dv = new DataView(buf.buffer);
  return dv.getUint32(4, true) * TWO32 + dv.getUint32(0, true);
}

function writeSlot(ctx: HypercallContext, a: MemopArgs, i: number, v: number): boolean {
  const buf = new Uint8Array(8);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, v % TWO32 >>> 0, true);
  dv.setUint32(4, Math.floor(v / TWO32) >>> 0, true);
  return ctx.mem.write(signed(a.listLo, a.listHi) + i * 8, buf);
}

/**
 * Xen `alloc_domheap_pages` for one extent: fails when the domain would exceed max_pages
 * (`assign_pages`), when the pool is empty, or for order > 0 (see the header). The frame comes
 * with its allocation reference; the M2P stays invalid.
 */
function allocExtent(p: Parts, a: MemopArgs, tot: { n: number }): number | undefined {
  if (a.order !== 0) return undefined;
  if (tot.n + 1 > p.acct.maxPages) return undefined;
  const mfn = p.machine.allocFrame(p.d.id);
  if (mfn === undefined) return undefined;
  if (a.addressBits !== 0 && mfn >= 2 ** (a.addressBits - 12)) {
    // Xen's MEMF_bits zone limit: our pool cannot pick a low frame, so the extent fails.
    p.machine.release(mfn);
    return undefined;
  }
  tot.n++;
  return mfn;
}

function increaseReservation(ctx: HypercallContext, p: Parts, a: MemopArgs, start: number): number {
  const nullList = a.listLo === 0 && a.listHi === 0;
  if (!nullList && !handleOk(a.listLo, a.listHi, start * 8)) return start;
  if (a.order > DOMU_MAX_ORDER) return start;
  const tot = { n: totPages(p.machine, p.d.id) };
  let i = start;
  for (; i < a.nrExtents; i++) {
    const mfn = allocExtent(p, a, tot);
    if (mfn === undefined) break;
    // The frame stays the domain's even if the guest cannot be told (as in Xen).
    if (!nullList && !writeSlot(ctx, a, i, mfn)) break;
  }
  return i;
}

function decreaseReservation(ctx: HypercallContext, p: Parts, a: MemopArgs, start: number): number {
  if (!handleOk(a.listLo, a.listHi, start * 8) || a.order > DOMU_MAX_ORDER) return start;
  const m = p.machine;
  let i = start;
  outer: for (; i < a.nrExtents; i++) {
    const gmfn = readSlot(ctx, a, i);
    if (gmfn === undefined) break;
    for (let j = 0; j < 2 ** a.order; j++) {
      // Xen `guest_remove_page` for PV (GMFN = MFN): -EINVAL for an invalid frame, -ENXIO for one
      // the domain does not own; either ends the batch.
      const mfn = gmfn + j;
      if (!m.valid(mfn)) break outer;
      if (!p.d.mmu!.types.getPage(mfn, p.d.id)) break outer;
      // put_page_alloc_ref: the frame is freed once nothing maps it any more.
      m.release(mfn);
      p.d.mmu!.types.putPage(mfn);
    }
  }
  return i;
}

function populatePhysmap(ctx: HypercallContext, p: Parts, a: MemopArgs, start: number, podFlag: boolean): number {
  if (!handleOk(a.listLo, a.listHi, start * 8)) return start;
  if (a.order > (podFlag ? 20 : DOMU_MAX_ORDER)) return start;
  const tot = { n: totPages(p.machine, p.d.id) };
  let i = start;
  for (; i < a.nrExtents; i++) {
    const gpfn = readSlot(ctx, a, i);
    if (gpfn === undefined) break;
    // Populate-on-demand on oneself is refused (Xen: "Disallow populating PoD pages on oneself").
    if (podFlag) break;
    const mfn = allocExtent(p, a, tot);
    if (mfn === undefined) break;
    // guest_physmap_add_page for PV: only the M2P learns the new frame's GPFN.
    p.machine.m2pSet(mfn, gpfn);
    if (!writeSlot(ctx, a, i, mfn)) break;
  }
  return i;
}

/** The reservation ops: the return value is the extent count reached (errors return `start`). */
function reservationOp(ctx: HypercallContext, op: number, start: number): number {
  const r = View.copyIn(RESERVATION, ctx.mem, ctx.arg(2));
  if (r === undefined) return start;
  const nrExtents = r.get('nr_extents');
  if (nrExtents > 0xffffffff >>> MEMOP_EXTENT_SHIFT) return start;
  if (start >= nrExtents) return start;
  const who = target(ctx, r.get('domid'));
  if (who !== 'self') return who === -XEN_ENOSYS ? who : start;
  const p = partsOf(ctx);
  if (p === undefined) return -XEN_ENOSYS;
  // construct_memop_from_reservation: the address width (bits 7:0) and node (bits 15:8) of mem_flags.
  const flags = r.get('mem_flags');
  let addressBits = flags & 0xff;
  const maxBits = Math.ceil(Math.log2(p.machine.nrFrames)) + 12;
  if (addressBits !== 0 && addressBits < maxBits) {
    if (addressBits <= 12) return start;
  } else addressBits = 0;
  const node = (((flags >>> 8) & 0xff) - 1) & 0xff;
  // No vNUMA for any domain here: a node given without XENMEMF_vnode must not be exact.
  if ((flags & M.XENMEMF_vnode) === 0 && node !== 0xff && (flags & M.XENMEMF_exact_node_request) !== 0) return start;
  const a: MemopArgs = {
    listLo: r.lo('extent_start'),
    listHi: r.hi('extent_start'),
    nrExtents,
    order: r.get('extent_order'),
    addressBits,
  };
  switch (op) {
    case M.XENMEM_increase_reservation:
      return increaseReservation(ctx, p, a, start);
    case M.XENMEM_decrease_reservation:
      return decreaseReservation(ctx, p, a, start);
    default:
      return populatePhysmap(ctx, p, a, start, op === M.XENMEM_populate_physmap && (flags & M.XENMEMF_populate_on_demand) !== 0);
  }
}

/** current_reservation / maximum_reservation / maximum_gpfn (argument: a domid_t). */
function domainStat(ctx: HypercallContext, op: number): number {
  const arg = View.copyIn(MEMORY_DOMAIN, ctx.mem, ctx.arg(2));
  if (arg === undefined) return -XEN_EFAULT;
  const who = target(ctx, arg.get('domid'));
  if (who !== 'self') return who;
  const p = partsOf(ctx);
  if (p === undefined) return -XEN_ENOSYS;
  switch (op) {
    case M.XENMEM_current_reservation:
      return totPages(p.machine, p.d.id);
    case M.XENMEM_maximum_reservation:
      return p.acct.maxPages;
    default: {
      // domain_get_maximum_gpfn for PV: shared_info.arch.max_pfn (guest-written) minus one, or 0.
      const si = p.acct.sharedInfo;
      const maxPfn = si === undefined ? 0 : si.getUint32(SI_ARCH_MAX_PFN + 4, true) * TWO32 + si.getUint32(SI_ARCH_MAX_PFN, true);
      return (maxPfn === 0 ? 1 : maxPfn) - 1;
    }
  }
}

/** Offset of `arch.max_pfn` in the x86_64 shared_info. */
const SI_ARCH_MAX_PFN = layout('shared_info', 'x86_64').field('arch.max_pfn').offset;

/** XENMEM_memory_map: the toolstack's E820, at most `nr_entries` of it; -ENOSYS when none is set. */
function memoryMap(ctx: HypercallContext): number {
  const map = View.copyIn(MEMORY_MAP, ctx.mem, ctx.arg(2));
  if (map === undefined) return -XEN_EFAULT;
  const e820 = ctx.domain.memory?.e820;
  if (e820 === undefined || e820.length === 0) return -XEN_ENOSYS;
  const n = Math.min(map.get('nr_entries'), e820.length);
  const buf = new Uint8Array(n * E820_ENTRY_SIZE);
  const dv = new DataView(buf.buffer);
  e820.slice(0, n).forEach((e, k) => {
    const at = k * E820_ENTRY_SIZE;
    dv.setUint32(at, e.addr % TWO32 >>> 0, true);
    dv.setUint32(at + 4, Math.floor(e.addr / TWO32), true);
    dv.setUint32(at + 8, e.size % TWO32 >>> 0, true);
    dv.setUint32(at + 12, Math.floor(e.size / TWO32), true);
    dv.setUint32(at + 16, e.type >>> 0, true);
  });
  if (n > 0 && !ctx.mem.write(signed(map.lo('buffer'), map.hi('buffer')), buf)) return -XEN_EFAULT;
  map.set('nr_entries', n);
  return map.copyOut(ctx.mem, ctx.arg(2)) ? 0 : -XEN_EFAULT;
}

/** XENMEM_set_memory_map: XSM_TARGET lets a domain set its own E820 (at most E820MAX entries). */
function setMemoryMap(ctx: HypercallContext): number {
  const f = View.copyIn(FOREIGN_MAP, ctx.mem, ctx.arg(2));
  if (f === undefined) return -XEN_EFAULT;
  const n = f.get('map.nr_entries');
  if (n > E820MAX) return -XEN_EINVAL;
  const who = target(ctx, f.get('domid'));
  if (who !== 'self') return who;
  const acct = ctx.domain.memory;
  if (acct === undefined) return -XEN_ENOSYS;
  const buf = new Uint8Array(n * E820_ENTRY_SIZE);
  if (n > 0 && !ctx.mem.read(signed(f.lo('map.buffer'), f.hi('map.buffer')), buf)) return -XEN_EFAULT;
  const dv = new DataView(buf.buffer);
  const entries: E820Entry[] = [];
  for (let k = 0; k < n; k++) {
    const at = k * E820_ENTRY_SIZE;
    entries.push({
      addr: dv.getUint32(at + 4, true) * TWO32 + dv.getUint32(at, true),
      size: dv.getUint32(at + 12, true) * TWO32 + dv.getUint32(at + 8, true),
      type: dv.getUint32(at + 16, true),
    });
  }
  acct.e820 = entries;
  return 0;
}

/**
 * XENMEM_machphys_mfn_list: one MFN per 2 MiB of the M2P (Xen maps it with superpages and
 * reports each superpage's first frame), up to `max_extents`. Our M2P lies in 4 KiB frames that
 * are not contiguous: the k-th entry is the frame holding M2P entries k·2^18 on.
 */
function machphysMfnList(ctx: HypercallContext, machine: MachineMemory): number {
  const x = View.copyIn(MFN_LIST, ctx.mem, ctx.arg(2));
  if (x === undefined) return -XEN_EFAULT;
  const max = x.get('max_extents');
  const frames = machine.m2pFrames;
  const chunks = Math.ceil(frames.length / 512);
  const list = signed(x.lo('extent_start'), x.hi('extent_start'));
  let i = 0;
  for (; i !== max && i < chunks; i++) {
    const buf = new Uint8Array(8);
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, frames[i * 512] as number, true);
    if (!ctx.mem.write(list + i * 8, buf)) return -XEN_EFAULT;
  }
  x.set('nr_extents', i);
  return x.copyOut(ctx.mem, ctx.arg(2)) ? 0 : -XEN_EFAULT;
}

/** XENMEM_machphys_mapping: the PV64 M2P window and the largest MFN it can hold. */
function machphysMapping(ctx: HypercallContext): number {
  const m = View.alloc(MAPPING);
  m.setBig('v_start', MACH2PHYS_VIRT_START);
  m.setBig('v_end', MACH2PHYS_VIRT_END);
  m.set('max_mfn', MACH2PHYS_MAX_MFN);
  return m.copyOut(ctx.mem, ctx.arg(2)) ? 0 : -XEN_EFAULT;
}

/** add_to_physmap: after the copy and the domain lookup, PV is refused (`xatp_permission_check`). */
function addToPhysmap(ctx: HypercallContext, start: number): number {
  if (start > 0xffff) return -XEN_EDOM;
  const x = View.copyIn(ADD_TO_PHYSMAP, ctx.mem, ctx.arg(2));
  if (x === undefined) return -XEN_EFAULT;
  if (x.get('space') === M.XENMAPSPACE_gmfn_foreign) return -XEN_ENOSYS;
  const who = target(ctx, x.get('domid'));
  if (who === -XEN_ESRCH) return who;
  // Not translated (ours or the other domain's, all PV): -EACCES before any XSM check.
  return -XEN_EACCES;
}

function addToPhysmapBatch(ctx: HypercallContext, start: number): number {
  if (start > 0xffff) return -XEN_EDOM;
  const x = View.copyIn(ADD_TO_PHYSMAP_BATCH, ctx.mem, ctx.arg(2));
  if (x === undefined) return -XEN_EFAULT;
  if (x.get('space') === M.XENMAPSPACE_gmfn_range) return -XEN_EOPNOTSUPP;
  const who = target(ctx, x.get('domid'));
  if (who === -XEN_ESRCH) return who;
  return -XEN_EACCES;
}

function removeFromPhysmap(ctx: HypercallContext, start: number): number {
  if (start !== 0) return -XEN_EINVAL;
  const x = View.copyIn(REMOVE_FROM_PHYSMAP, ctx.mem, ctx.arg(2));
  if (x === undefined) return -XEN_EFAULT;
  const who = target(ctx, x.get('domid'));
  if (who === -XEN_ESRCH) return who;
  return -XEN_EACCES;
}

/** XENMEM_claim_pages: the argument is checked, then XSM_PRIV refuses a domU. */
function claimPages(ctx: HypercallContext, start: number): number {
  if (start !== 0) return -XEN_EINVAL;
  const r = View.copyIn(RESERVATION, ctx.mem, ctx.arg(2));
  if (r === undefined) return -XEN_EFAULT;
  if (r.lo('extent_start') !== 0 || r.hi('extent_start') !== 0) return -XEN_EINVAL;
  if (r.get('extent_order') !== 0 || r.get('mem_flags') !== 0) return -XEN_EINVAL;
  const id = r.get('domid');
  // rcu_lock_domain_by_id: DOMID_SELF is no domain id here (-EINVAL).
  if (id !== ctx.domain.id && id !== 0 && ctx.domain.mmu?.types.policy(id) === undefined) return -XEN_EINVAL;
  return -XEN_EPERM;
}

/** XENMEM_get_vnumainfo: no domain has a vNUMA topology here (-EOPNOTSUPP once the argument checks out). */
function getVnumainfo(ctx: HypercallContext, start: number): number {
  if (start !== 0) return -XEN_EINVAL;
  const t = View.copyIn(VNUMA_INFO, ctx.mem, ctx.arg(2));
  if (t === undefined) return -XEN_EFAULT;
  if (t.get('pad') !== 0) return -XEN_EINVAL;
  const who = target(ctx, t.get('domid'));
  if (who === -XEN_ESRCH) return who;
  if (who !== 'self') return who;
  return -XEN_EOPNOTSUPP;
}

/**
 * XENMEM_reserved_device_memory_map: the IOMMU's reserved regions (RMRRs). The machine has no
 * IOMMU, so the answer is an empty list (nr_entries = 0) after the argument checks.
 * `struct xen_reserved_device_memory_map` (flags u32 @0, dev.pci @4, nr_entries u32 @8, buffer @16).
 */
function reservedDeviceMemoryMap(ctx: HypercallContext, start: number): number {
  if (start !== 0) return -XEN_EINVAL;
  const buf = new Uint8Array(24);
  const at = ctx.arg(2);
  if (!ctx.mem.read(at, buf)) return -XEN_EFAULT;
  const dv = new DataView(buf.buffer);
  if (!handleOk(dv.getUint32(16, true), dv.getUint32(20, true))) return -XEN_EFAULT;
  const XENMEM_RDM_ALL = 1;
  if ((dv.getUint32(0, true) & ~XENMEM_RDM_ALL) !== 0) return -XEN_EINVAL;
  dv.setUint32(8, 0, true);
  return ctx.mem.write(at, buf) ? 0 : -XEN_EFAULT;
}

const NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(M)
    .filter(([k, v]) => k.startsWith('XENMEM_') && !k.startsWith('XENMEM_resource') && typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

export const memoryOp: Handler = (ctx) => {
  const [lo, hi] = ctx.argHalves(1);
  const op = lo & MEMOP_CMD_MASK;
  // start_extent = cmd >> MEMOP_EXTENT_SHIFT over the whole 64-bit cmd.
  const start = (hi >>> 0) * 2 ** (32 - MEMOP_EXTENT_SHIFT) + ((lo >>> 0) >>> MEMOP_EXTENT_SHIFT);
  ctx.subop(NAMES.get(op) ?? `XENMEM_${op}`);
  switch (op) {
    case M.XENMEM_increase_reservation:
    case M.XENMEM_decrease_reservation:
    case M.XENMEM_populate_physmap:
      return reservationOp(ctx, op, start);
    case M.XENMEM_maximum_ram_page: {
      if (start !== 0) return -XEN_EINVAL;
      const machine = ctx.domain.mmu?.types.mem;
      return machine === undefined ? -XEN_ENOSYS : machine.nrFrames;
    }
    case M.XENMEM_current_reservation:
    case M.XENMEM_maximum_reservation:
    case M.XENMEM_maximum_gpfn:
      if (start !== 0) return -XEN_EINVAL;
      return domainStat(ctx, op);
    case M.XENMEM_add_to_physmap:
      return addToPhysmap(ctx, start);
    case M.XENMEM_add_to_physmap_batch:
      return addToPhysmapBatch(ctx, start);
    case M.XENMEM_remove_from_physmap:
      return removeFromPhysmap(ctx, start);
    case M.XENMEM_claim_pages:
      return claimPages(ctx, start);
    case M.XENMEM_get_vnumainfo:
      return getVnumainfo(ctx, start);
    case M.XENMEM_reserved_device_memory_map:
      return reservedDeviceMemoryMap(ctx, start);
    case M.XENMEM_exchange:
      if (start !== 0) return -XEN_EINVAL;
      return memoryExchange(ctx);
  }
  // arch_memory_op and subarch_memory_op take the whole cmd: a continuation index makes the
  // command unknown there (-ENOSYS, as Xen answers).
  if (start !== 0) return -XEN_ENOSYS;
  switch (op) {
    case M.XENMEM_set_memory_map:
      return setMemoryMap(ctx);
    case M.XENMEM_memory_map:
      return memoryMap(ctx);
    case M.XENMEM_machine_memory_map:
      return -XEN_EPERM; // xsm_machine_memory_map(XSM_PRIV)
    case M.XENMEM_machphys_mapping:
      return machphysMapping(ctx);
    case M.XENMEM_machphys_mfn_list: {
      const machine = ctx.domain.mmu?.types.mem;
      return machine === undefined ? -XEN_ENOSYS : machphysMfnList(ctx, machine);
    }
    case M.XENMEM_machphys_compat_mfn_list:
      // Xen without 32-bit PV support (opt_pv32 off, as here: only PV64 guests run).
      return -XEN_EOPNOTSUPP;
    case M.XENMEM_get_sharing_freed_pages:
    case M.XENMEM_get_sharing_shared_pages:
      // No memory sharing: Xen's counters stay 0, and it asks no privilege to read them.
      return 0;
    case M.XENMEM_set_pod_target:
    case M.XENMEM_get_pod_target: {
      // After the copy and the lookup, a PV target is -EINVAL before any privilege check.
      const t = View.copyIn(POD_TARGET, ctx.mem, ctx.arg(2));
      if (t === undefined) return -XEN_EFAULT;
      return target(ctx, t.get('domid')) === -XEN_ESRCH ? -XEN_ESRCH : -XEN_EINVAL;
    }
    default:
      // Xen's own -ENOSYS (unknown command) and not-implemented ones (acquire_resource,
      // access/paging/sharing ops) look alike to the guest; the statistics name the sub-op.
      return -XEN_ENOSYS;
  }
}
