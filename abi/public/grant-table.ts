/**
 * grant_table.h: grant entries (v1, v2 and the v2 status array), their flags, grant_table_op
 * (hypercall 20) sub-ops with their argument structs, mapping flags and GNTST_* status codes.
 */
import {
  IN,
  INOUT,
  OUT,
  array,
  handle,
  int16_t,
  struct,
  typedef,
  uint16_t,
  uint32_t,
  uint64_t,
  union,
} from '../layout/schema.js';
import { xen_pfn_t } from './arch-x86.js';
import { domid_t } from './xen.js';

export const grant_ref_t = typedef('grant_ref_t', uint32_t);
export const grant_handle_t = typedef('grant_handle_t', uint32_t);

/** A v1 grant entry: GTF_* `flags`, the domain granted to, and the frame. */
export const grant_entry_v1 = struct('struct grant_entry_v1', {
  flags: uint16_t,
  domid: domid_t,
  frame: uint32_t,
});

export const GNTTAB_NR_RESERVED_ENTRIES = 8;
export const GNTTAB_RESERVED_CONSOLE = 0;
export const GNTTAB_RESERVED_XENSTORE = 1;

// Grant entry flags: the type in bits 1:0, then the granter's and Xen's status bits.
export const GTF_invalid = 0;
export const GTF_permit_access = 1;
export const GTF_accept_transfer = 2;
export const GTF_transitive = 3;
export const GTF_type_mask = 3;
export const GTF_readonly = 1 << 2;
export const GTF_reading = 1 << 3;
export const GTF_writing = 1 << 4;
export const GTF_PWT = 1 << 5;
export const GTF_PCD = 1 << 6;
export const GTF_PAT = 1 << 7;
export const GTF_sub_page = 1 << 8;
export const GTF_transfer_committed = 1 << 2;
export const GTF_transfer_completed = 1 << 3;

/** The first word of a v2 entry (flags and domain); the status bits live in grant_status_t. */
export const grant_entry_header = struct('struct grant_entry_header', {
  flags: uint16_t,
  domid: domid_t,
});

/** A v2 grant entry (16 bytes): a full page, a sub-page range, or a transitive grant. */
export const grant_entry_v2 = union('union grant_entry_v2', {
  hdr: grant_entry_header,
  full_page: struct(undefined, { hdr: grant_entry_header, pad0: uint32_t, frame: uint64_t }),
  sub_page: struct(undefined, { hdr: grant_entry_header, page_off: uint16_t, length: uint16_t, frame: uint64_t }),
  transitive: struct(undefined, { hdr: grant_entry_header, trans_domid: domid_t, pad0: uint16_t, gref: grant_ref_t }),
  __spacer: array(uint32_t, 4),
});

/** A v2 status entry: GTF_reading / GTF_writing, kept apart from the entries. */
export const grant_status_t = typedef('grant_status_t', uint16_t);

export const GNTTABOP_map_grant_ref = 0;
export const GNTTABOP_unmap_grant_ref = 1;
export const GNTTABOP_setup_table = 2;
export const GNTTABOP_dump_table = 3;
export const GNTTABOP_transfer = 4;
export const GNTTABOP_copy = 5;
export const GNTTABOP_query_size = 6;
export const GNTTABOP_unmap_and_replace = 7;
export const GNTTABOP_set_version = 8;
export const GNTTABOP_get_status_frames = 9;
export const GNTTABOP_get_version = 10;
export const GNTTABOP_swap_grant_ref = 11;
export const GNTTABOP_cache_flush = 12;

/**
 * GNTTABOP_map_grant_ref: map grant `ref` of domain `dom` at `host_addr` (a virtual address, or
 * with GNTMAP_contains_pte the machine address of a PTE) per GNTMAP_* `flags`. OUT: `status`,
 * `handle` for the unmap, `dev_bus_addr` for a device mapping.
 */
export const gnttab_map_grant_ref = struct('struct gnttab_map_grant_ref', {
  host_addr: IN(uint64_t),
  flags: IN(uint32_t),
  ref: IN(grant_ref_t),
  dom: IN(domid_t),
  status: OUT(int16_t),
  handle: OUT(grant_handle_t),
  dev_bus_addr: OUT(uint64_t),
});

/** GNTTABOP_unmap_grant_ref: undo the mapping `handle` at `host_addr`/`dev_bus_addr`. OUT: `status`. */
export const gnttab_unmap_grant_ref = struct('struct gnttab_unmap_grant_ref', {
  host_addr: IN(uint64_t),
  dev_bus_addr: IN(uint64_t),
  handle: IN(grant_handle_t),
  status: OUT(int16_t),
});

/**
 * GNTTABOP_setup_table: grow `dom`'s table to `nr_frames` frames and list their frame numbers
 * in `frame_list`. OUT: `status`.
 */
export const gnttab_setup_table = struct('struct gnttab_setup_table', {
  dom: IN(domid_t),
  nr_frames: IN(uint32_t),
  status: OUT(int16_t),
  frame_list: IN(handle('xen_pfn_t')),
});

/** GNTTABOP_dump_table: print `dom`'s table on Xen's console. OUT: `status`. */
export const gnttab_dump_table = struct('struct gnttab_dump_table', {
  dom: IN(domid_t),
  status: OUT(int16_t),
});

/** GNTTABOP_transfer: give frame `mfn` to `domid` through its accept-transfer grant `ref`. OUT: `status`. */
export const gnttab_transfer = struct('struct gnttab_transfer', {
  mfn: IN(xen_pfn_t),
  domid: IN(domid_t),
  ref: IN(grant_ref_t),
  status: OUT(int16_t),
});

export const GNTCOPY_source_gref = 1 << 0;
export const GNTCOPY_dest_gref = 1 << 1;

/** One end of a grant copy: a grant reference (GNTCOPY_*_gref) or a frame, its domain and offset. */
export const gnttab_copy_ptr = struct('struct gnttab_copy_ptr', {
  u: union(undefined, { ref: grant_ref_t, gmfn: xen_pfn_t }),
  domid: domid_t,
  offset: uint16_t,
});

/** GNTTABOP_copy: copy `len` bytes between two ends, neither crossing a page. OUT: `status`. */
export const gnttab_copy = struct('struct gnttab_copy', {
  source: IN(gnttab_copy_ptr),
  dest: IN(gnttab_copy_ptr),
  len: IN(uint16_t),
  flags: IN(uint16_t),
  status: OUT(int16_t),
});

/** GNTTABOP_query_size: `dom`'s table size. OUT: `nr_frames`, `max_nr_frames`, `status`. */
export const gnttab_query_size = struct('struct gnttab_query_size', {
  dom: IN(domid_t),
  nr_frames: OUT(uint32_t),
  max_nr_frames: OUT(uint32_t),
  status: OUT(int16_t),
});

/** GNTTABOP_unmap_and_replace: unmap `handle` at `host_addr`, moving the mapping at `new_addr` there. OUT: `status`. */
export const gnttab_unmap_and_replace = struct('struct gnttab_unmap_and_replace', {
  host_addr: IN(uint64_t),
  new_addr: IN(uint64_t),
  handle: IN(grant_handle_t),
  status: OUT(int16_t),
});

/** GNTTABOP_set_version: switch the caller's table to `version` (1 or 2). OUT: `version` (the one in force). */
export const gnttab_set_version = struct('struct gnttab_set_version', { version: INOUT(uint32_t) });

/** GNTTABOP_get_status_frames: list the v2 status frames of `dom` in `frame_list` (uint64_t each). OUT: `status`. */
export const gnttab_get_status_frames = struct('struct gnttab_get_status_frames', {
  nr_frames: IN(uint32_t),
  dom: IN(domid_t),
  status: OUT(int16_t),
  frame_list: IN(handle('uint64_t')),
});

/** GNTTABOP_get_version: the grant table version of `dom`. OUT: `version`. */
export const gnttab_get_version = struct('struct gnttab_get_version', {
  dom: IN(domid_t),
  pad: uint16_t,
  version: OUT(uint32_t),
});

/** GNTTABOP_swap_grant_ref: exchange two entries of the caller's table. OUT: `status`. */
export const gnttab_swap_grant_ref = struct('struct gnttab_swap_grant_ref', {
  ref_a: IN(grant_ref_t),
  ref_b: IN(grant_ref_t),
  status: OUT(int16_t),
});

export const GNTTAB_CACHE_CLEAN = 1 << 0;
export const GNTTAB_CACHE_INVAL = 1 << 1;
export const GNTTAB_CACHE_SOURCE_GREF = 2 ** 31;

/** GNTTABOP_cache_flush: clean/invalidate a range of a granted or own page (Arm; x86 accepts it). */
export const gnttab_cache_flush = struct('struct gnttab_cache_flush', {
  a: IN(union(undefined, { dev_bus_addr: uint64_t, ref: grant_ref_t })),
  offset: IN(uint16_t),
  length: IN(uint16_t),
  op: IN(uint32_t),
});

// GNTTABOP_map_grant_ref flags.
export const GNTMAP_device_map = 1 << 0;
export const GNTMAP_host_map = 1 << 1;
export const GNTMAP_readonly = 1 << 2;
export const GNTMAP_application_map = 1 << 3;
export const GNTMAP_contains_pte = 1 << 4;
/** Bits 31..16 of the flags are the guest's, copied into the PTE's available bits. */
export const GNTMAP_guest_avail_mask = 0xffff0000;

// Per-operation status codes (int16_t `status` fields).
export const GNTST_okay = 0;
export const GNTST_general_error = -1;
export const GNTST_bad_domain = -2;
export const GNTST_bad_gntref = -3;
export const GNTST_bad_handle = -4;
export const GNTST_bad_virt_addr = -5;
export const GNTST_bad_dev_addr = -6;
export const GNTST_no_device_space = -7;
export const GNTST_permission_denied = -8;
export const GNTST_bad_page = -9;
export const GNTST_bad_copy_arg = -10;
export const GNTST_address_too_big = -11;
export const GNTST_eagain = -12;
export const GNTST_no_space = -13;
