/**
 * io/ring.h: the generic shared ring of split drivers. One page (or more) starts with a 64-byte
 * header (producer and event indices, a private area) followed by a power-of-two number of
 * request/response slots; each slot is a union of one request and one response.
 */
import { array, struct, typedef, uint8_t, union, unsigned_int, type RecordType, type Type } from '../../layout/schema.js';

export const RING_IDX = typedef('RING_IDX', unsigned_int);

/**
 * The two types DEFINE_RING_TYPES(name, req, rsp) declares for the shared page:
 * `union <name>_sring_entry` and `struct <name>_sring` (its `ring` continues past the one
 * declared element up to the ring's size).
 */
export function sharedRing<Req extends Type, Rsp extends Type>(name: string, req: Req, rsp: Rsp) {
  const entry = union(`union ${name}_sring_entry`, { req, rsp });
  const sring = struct(`struct ${name}_sring`, {
    req_prod: RING_IDX,
    req_event: RING_IDX,
    rsp_prod: RING_IDX,
    rsp_event: RING_IDX,
    pvt: union(undefined, {
      netif: struct(undefined, { smartpoll_active: uint8_t }),
      tapif_user: struct(undefined, { msg: uint8_t }),
      pvt_pad: array(uint8_t, 4),
    }),
    __pad: array(uint8_t, 44),
    ring: array(entry, 1),
  });
  return { entry, sring } as const satisfies { entry: RecordType; sring: RecordType };
}

/**
 * Slots of a ring of `bytes` bytes (one page: 4096) whose header is `headerSize` bytes and
 * slots `entrySize` bytes: the largest power of two that fits (`__CONST_RING_SIZE`).
 */
export function ringSlots(bytes: number, headerSize: number, entrySize: number): number {
  const fit = Math.floor((bytes - headerSize) / entrySize);
  return fit < 1 ? 0 : 2 ** Math.floor(Math.log2(fit));
}
