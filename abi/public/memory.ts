/**
 * memory.h: memory_op (hypercall 12) sub-ops and the argument structs a domU uses, physmap
 * spaces, and the tools-only sub-op numbers (marked; a domU gets -EPERM or -ENOSYS for them).
 */
import { IN, INOUT, OUT, handle, struct, typedef, uint16_t, uint32_t, uint64_t, union, unsigned_int } from '../layout/schema.js';
import { xen_pfn_t, xen_ulong_t } from './arch-x86.js';
import { domid_t } from './xen.js';

export const XENMEM_increase_reservation = 0;
export const XENMEM_decrease_reservation = 1;
export const XENMEM_maximum_ram_page = 2;
export const XENMEM_current_reservation = 3;
export const XENMEM_maximum_reservation = 4;
export const XENMEM_machphys_mfn_list = 5;
export const XENMEM_populate_physmap = 6;
export const XENMEM_add_to_physmap = 7;
export const XENMEM_memory_map = 9;
export const XENMEM_machine_memory_map = 10;
export const XENMEM_exchange = 11;
export const XENMEM_machphys_mapping = 12;
export const XENMEM_set_memory_map = 13;
export const XENMEM_maximum_gpfn = 14;
export const XENMEM_remove_from_physmap = 15;
export const XENMEM_set_pod_target = 16;
export const XENMEM_get_pod_target = 17;
/** Tools interface (visible with __XEN_TOOLS__ only). */
export const XENMEM_get_sharing_freed_pages = 18;
/** Tools interface. */
export const XENMEM_get_sharing_shared_pages = 19;
/** Tools interface. */
export const XENMEM_paging_op = 20;
/** Tools interface. */
export const XENMEM_access_op = 21;
/** Tools interface. */
export const XENMEM_sharing_op = 22;
export const XENMEM_add_to_physmap_batch = 23;
/** Tools interface. */
export const XENMEM_claim_pages = 24;
export const XENMEM_machphys_compat_mfn_list = 25;
export const XENMEM_get_vnumainfo = 26;
/** Tools interface. */
export const XENMEM_reserved_device_memory_map = 27;
export const XENMEM_acquire_resource = 28;

/** The XENMEM_* numbers only the tools headers define (`__XEN_TOOLS__`). */
export const XENMEM_TOOLS_ONLY: readonly string[] = [
  'XENMEM_get_sharing_freed_pages',
  'XENMEM_get_sharing_shared_pages',
  'XENMEM_paging_op',
  'XENMEM_access_op',
  'XENMEM_sharing_op',
  'XENMEM_claim_pages',
  'XENMEM_reserved_device_memory_map',
];

// xen_memory_reservation.mem_flags (the parametrised forms are functions of their argument).
export const XENMEMF_populate_on_demand = 1 << 16;
export const XENMEMF_exact_node_request = 1 << 17;
export const XENMEMF_vnode = 1 << 18;

/**
 * increase_reservation / decrease_reservation / populate_physmap: `nr_extents` extents of
 * 2^`extent_order` pages for `domid`; `extent_start` lists frames (IN for decrease and populate,
 * OUT MFNs for increase). The hypercall returns the number of extents done.
 */
export const xen_memory_reservation = struct('struct xen_memory_reservation', {
  extent_start: IN(handle('xen_pfn_t')),
  nr_extents: IN(xen_ulong_t),
  extent_order: IN(unsigned_int),
  mem_flags: IN(unsigned_int),
  domid: IN(domid_t),
});

/** XENMEM_exchange: give back the `in` extents for `out` ones. OUT: `nr_exchanged`. */
export const xen_memory_exchange = struct('struct xen_memory_exchange', {
  in: IN(xen_memory_reservation),
  out: IN(xen_memory_reservation),
  nr_exchanged: INOUT(xen_ulong_t),
});

/** The argument of current_reservation, maximum_reservation and maximum_gpfn. */
export const xen_memory_domain = struct('struct xen_memory_domain', { domid: IN(domid_t) });

/**
 * XENMEM_machphys_mfn_list: the MFNs holding the M2P table, in 2 MiB units, up to `max_extents`
 * written to `extent_start`. OUT: `nr_extents`.
 */
export const xen_machphys_mfn_list = struct('struct xen_machphys_mfn_list', {
  max_extents: IN(unsigned_int),
  extent_start: IN(handle('xen_pfn_t')),
  nr_extents: OUT(unsigned_int),
});

/** XENMEM_machphys_mapping: where the M2P is mapped and the highest MFN it covers. All OUT. */
export const xen_machphys_mapping = struct('struct xen_machphys_mapping', {
  v_start: OUT(xen_ulong_t),
  v_end: OUT(xen_ulong_t),
  max_mfn: OUT(xen_ulong_t),
});

export const XENMAPSPACE_shared_info = 0;
export const XENMAPSPACE_grant_table = 1;
export const XENMAPSPACE_gmfn = 2;
export const XENMAPSPACE_gmfn_range = 3;
export const XENMAPSPACE_gmfn_foreign = 4;
export const XENMAPSPACE_dev_mmio = 5;
/** With XENMAPSPACE_grant_table: `idx` names a v2 status frame. */
export const XENMAPIDX_grant_table_status = 0x80000000;

/**
 * XENMEM_add_to_physmap (translated guests): map page `idx` of `space` (shared_info, a grant
 * frame, ...) at guest frame `gpfn`; `size` pages for gmfn_range.
 */
export const xen_add_to_physmap = struct('struct xen_add_to_physmap', {
  domid: IN(domid_t),
  size: IN(uint16_t),
  space: IN(unsigned_int),
  idx: IN(xen_ulong_t),
  gpfn: IN(xen_pfn_t),
});

/** XENMEM_add_to_physmap_batch: the same for `size` pages, with a per-page error array. */
export const xen_add_to_physmap_batch = struct('struct xen_add_to_physmap_batch', {
  domid: IN(domid_t),
  space: IN(uint16_t),
  size: IN(uint16_t),
  u: IN(union('union xen_add_to_physmap_batch_extra', { foreign_domid: domid_t, res0: uint16_t })),
  idxs: IN(handle('xen_ulong_t')),
  gpfns: IN(handle('xen_pfn_t')),
  errs: IN(handle('int')),
});

/** XENMEM_remove_from_physmap: unmap guest frame `gpfn` of `domid`. */
export const xen_remove_from_physmap = struct('struct xen_remove_from_physmap', {
  domid: IN(domid_t),
  gpfn: IN(xen_pfn_t),
});

/**
 * XENMEM_memory_map / machine_memory_map: an E820 table into `buffer`, at most `nr_entries`
 * entries. OUT: `nr_entries` (the count written).
 */
export const xen_memory_map = struct('struct xen_memory_map', {
  nr_entries: INOUT(unsigned_int),
  buffer: IN(handle('void')),
});

/** XENMEM_set_memory_map (tools): a domain's E820 table. */
export const xen_foreign_memory_map = struct('struct xen_foreign_memory_map', {
  domid: IN(domid_t),
  map: INOUT(xen_memory_map),
});

/** XENMEM_set_pod_target / get_pod_target (tools): populate-on-demand accounting. */
export const xen_pod_target = struct('struct xen_pod_target', {
  target_pages: IN(uint64_t),
  tot_pages: OUT(uint64_t),
  pod_cache_pages: OUT(uint64_t),
  pod_entries: OUT(uint64_t),
  domid: IN(domid_t),
});

export const XENMEM_resource_ioreq_server = 0;
export const XENMEM_resource_grant_table = 1;
export const XENMEM_resource_vmtrace_buf = 2;
export const XENMEM_resource_grant_table_id_shared = 0;
export const XENMEM_resource_grant_table_id_status = 1;
export const XENMEM_resource_ioreq_server_frame_bufioreq = 0;

/** XENMEM_acquire_resource: map `nr_frames` frames of a domain's resource from `frame` on. OUT: `nr_frames`. */
export const xen_mem_acquire_resource = struct('struct xen_mem_acquire_resource', {
  domid: IN(domid_t),
  type: IN(uint16_t),
  id: IN(uint32_t),
  nr_frames: INOUT(uint32_t),
  pad: uint32_t,
  frame: IN(uint64_t),
  frame_list: IN(handle('xen_pfn_t')),
});

/** One vNUMA memory range. */
export const xen_vmemrange = struct('struct xen_vmemrange', {
  start: uint64_t,
  end: uint64_t,
  flags: unsigned_int,
  nid: unsigned_int,
});

const handleOr64 = (target: string) => union(undefined, { h: handle(target), pad: uint64_t });

/** XENMEM_get_vnumainfo: the guest's virtual NUMA topology; counts are IN (room) and OUT (used). */
export const xen_vnuma_topology_info = struct('struct xen_vnuma_topology_info', {
  domid: IN(domid_t),
  pad: uint16_t,
  nr_vnodes: INOUT(unsigned_int),
  nr_vcpus: INOUT(unsigned_int),
  nr_vmemranges: INOUT(unsigned_int),
  vdistance: IN(handleOr64('uint')),
  vcpu_to_vnode: IN(handleOr64('uint')),
  vmemrange: IN(handleOr64('xen_vmemrange_t')),
});
