/**
 * io/blkif.h: the PV block device ring (blkfront/blkback): request and response slots, the
 * discard and indirect request forms, and the operation and status codes.
 */
import { array, int16_t, only, struct, typedef, uint16_t, uint64_t, uint8_t } from '../../layout/schema.js';
import { grant_ref_t } from '../grant-table.js';
import { sharedRing } from './ring.js';

export const blkif_vdev_t = typedef('blkif_vdev_t', uint16_t);
export const blkif_sector_t = typedef('blkif_sector_t', uint64_t);

export const BLKIF_OP_READ = 0;
export const BLKIF_OP_WRITE = 1;
export const BLKIF_OP_WRITE_BARRIER = 2;
export const BLKIF_OP_FLUSH_DISKCACHE = 3;
export const BLKIF_OP_RESERVED_1 = 4;
export const BLKIF_OP_DISCARD = 5;
export const BLKIF_OP_INDIRECT = 6;
export const BLKIF_MAX_SEGMENTS_PER_REQUEST = 11;
export const BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST = 8;

/** One data segment: a granted page and the first and last 512-byte sectors used in it. */
export const blkif_request_segment = struct('struct blkif_request_segment', {
  gref: grant_ref_t,
  first_sect: uint8_t,
  last_sect: uint8_t,
});

/**
 * A read/write/flush request: `nr_segments` segments starting at `sector_number` of device
 * `handle`; `id` comes back in the response. `id` is 4-aligned on x86_32, so the 32- and 64-bit
 * protocols differ ("x86_32-abi" vs "x86_64-abi").
 */
export const blkif_request = struct('struct blkif_request', {
  operation: uint8_t,
  nr_segments: uint8_t,
  handle: blkif_vdev_t,
  id: uint64_t,
  sector_number: blkif_sector_t,
  seg: array(blkif_request_segment, BLKIF_MAX_SEGMENTS_PER_REQUEST),
});

export const BLKIF_DISCARD_SECURE = 1 << 0;

/** BLKIF_OP_DISCARD: trim `nr_sectors` from `sector_number`. */
export const blkif_request_discard = struct('struct blkif_request_discard', {
  operation: uint8_t,
  flag: uint8_t,
  handle: blkif_vdev_t,
  id: uint64_t,
  sector_number: blkif_sector_t,
  nr_sectors: uint64_t,
});

/** BLKIF_OP_INDIRECT: the segments live in up to 8 granted pages of blkif_request_segment. */
export const blkif_request_indirect = struct('struct blkif_request_indirect', {
  operation: uint8_t,
  indirect_op: uint8_t,
  nr_segments: uint16_t,
  id: uint64_t,
  sector_number: blkif_sector_t,
  handle: blkif_vdev_t,
  indirect_grefs: array(grant_ref_t, BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST),
  pad: only('x86_32', uint64_t),
});

/** The response to request `id`: BLKIF_RSP_* `status`. */
export const blkif_response = struct('struct blkif_response', {
  id: uint64_t,
  operation: uint8_t,
  status: int16_t,
});

export const BLKIF_RSP_EOPNOTSUPP = -2;
export const BLKIF_RSP_ERROR = -1;
export const BLKIF_RSP_OKAY = 0;

const blkRing = sharedRing('blkif', blkif_request, blkif_response);
export const blkif_sring_entry = blkRing.entry;
/** The shared block ring page. */
export const blkif_sring = blkRing.sring;

// The vdisk "info" bits the backend writes to XenStore.
export const VDISK_CDROM = 0x1;
export const VDISK_REMOVABLE = 0x2;
export const VDISK_READONLY = 0x4;
