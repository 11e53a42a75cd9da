/**
 * io/console.h: the PV console ring page, shared between the guest and xenconsoled. The guest
 * produces into `out` and consumes from `in`; indices run freely and are masked by the ring size.
 */
import { array, char, struct, typedef, uint32_t } from '../../layout/schema.js';

export const XENCONS_RING_IDX = typedef('XENCONS_RING_IDX', uint32_t);

/** The console page: input ring (host to guest) 1 KiB, output ring 2 KiB, then the four indices. */
export const xencons_interface = struct('struct xencons_interface', {
  in: array(char, 1024),
  out: array(char, 2048),
  in_cons: XENCONS_RING_IDX,
  in_prod: XENCONS_RING_IDX,
  out_cons: XENCONS_RING_IDX,
  out_prod: XENCONS_RING_IDX,
});
