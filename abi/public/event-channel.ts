/**
 * event_channel.h: event_channel_op (hypercall 32) sub-ops and their argument structs, the
 * 2-level and FIFO ABI limits, and the FIFO control block.
 */
import { perArch } from '../layout/constants.js';
import { sizeOf } from '../layout/compute.js';
import { IN, INOUT, OUT, array, struct, typedef, uint32_t, uint64_t, uint8_t, union } from '../layout/schema.js';
import { xen_ulong_t } from './arch-x86.js';
import { domid_t } from './xen.js';

export const EVTCHNOP_bind_interdomain = 0;
export const EVTCHNOP_bind_virq = 1;
export const EVTCHNOP_bind_pirq = 2;
export const EVTCHNOP_close = 3;
export const EVTCHNOP_send = 4;
export const EVTCHNOP_status = 5;
export const EVTCHNOP_alloc_unbound = 6;
export const EVTCHNOP_bind_ipi = 7;
export const EVTCHNOP_bind_vcpu = 8;
export const EVTCHNOP_unmask = 9;
export const EVTCHNOP_reset = 10;
export const EVTCHNOP_init_control = 11;
export const EVTCHNOP_expand_array = 12;
export const EVTCHNOP_set_priority = 13;

export const evtchn_port_t = typedef('evtchn_port_t', uint32_t);

/**
 * EVTCHNOP_alloc_unbound: allocate a port in `dom` (DOMID_SELF, or another domain for a
 * privileged caller) that `remote_dom` may later bind to. OUT: `port`.
 */
export const evtchn_alloc_unbound = struct('struct evtchn_alloc_unbound', {
  dom: IN(domid_t),
  remote_dom: IN(domid_t),
  port: OUT(evtchn_port_t),
});

/**
 * EVTCHNOP_bind_interdomain: connect a new local port to `remote_port` of `remote_dom`, which
 * must be unbound and allocated for us. OUT: `local_port`.
 */
export const evtchn_bind_interdomain = struct('struct evtchn_bind_interdomain', {
  remote_dom: IN(domid_t),
  remote_port: IN(evtchn_port_t),
  local_port: OUT(evtchn_port_t),
});

/** EVTCHNOP_bind_virq: bind VIRQ `virq` of vCPU `vcpu` to a new port. OUT: `port`. */
export const evtchn_bind_virq = struct('struct evtchn_bind_virq', {
  virq: IN(uint32_t),
  vcpu: IN(uint32_t),
  port: OUT(evtchn_port_t),
});

export const BIND_PIRQ__WILL_SHARE = 1;

/** EVTCHNOP_bind_pirq: bind a physical IRQ (dom0 / passthrough). OUT: `port`. */
export const evtchn_bind_pirq = struct('struct evtchn_bind_pirq', {
  pirq: IN(uint32_t),
  flags: IN(uint32_t),
  port: OUT(evtchn_port_t),
});

/** EVTCHNOP_bind_ipi: a new port that notifies vCPU `vcpu` of this domain. OUT: `port`. */
export const evtchn_bind_ipi = struct('struct evtchn_bind_ipi', {
  vcpu: IN(uint32_t),
  port: OUT(evtchn_port_t),
});

/** EVTCHNOP_close: close `port` (its interdomain peer goes back to unbound). */
export const evtchn_close = struct('struct evtchn_close', { port: IN(evtchn_port_t) });

/** EVTCHNOP_send: notify the far end of `port`. */
export const evtchn_send = struct('struct evtchn_send', { port: IN(evtchn_port_t) });

export const EVTCHNSTAT_closed = 0;
export const EVTCHNSTAT_unbound = 1;
export const EVTCHNSTAT_interdomain = 2;
export const EVTCHNSTAT_pirq = 3;
export const EVTCHNSTAT_virq = 4;
export const EVTCHNSTAT_ipi = 5;

/**
 * EVTCHNOP_status: describe `port` of `dom`. OUT: `status` (EVTCHNSTAT_*), the vCPU it notifies,
 * and per status the remote domain (and port), the PIRQ or the VIRQ.
 */
export const evtchn_status = struct('struct evtchn_status', {
  dom: IN(domid_t),
  port: IN(evtchn_port_t),
  status: OUT(uint32_t),
  vcpu: OUT(uint32_t),
  u: OUT(
    union(undefined, {
      unbound: struct(undefined, { dom: domid_t }),
      interdomain: struct(undefined, { dom: domid_t, port: evtchn_port_t }),
      pirq: uint32_t,
      virq: uint32_t,
    }),
  ),
});

/** EVTCHNOP_bind_vcpu: deliver `port` to vCPU `vcpu` from now on (VIRQs and interdomain/unbound ports). */
export const evtchn_bind_vcpu = struct('struct evtchn_bind_vcpu', {
  port: IN(evtchn_port_t),
  vcpu: IN(uint32_t),
});

/** EVTCHNOP_unmask: clear the mask bit of `port` and redeliver it if it is pending. */
export const evtchn_unmask = struct('struct evtchn_unmask', { port: IN(evtchn_port_t) });

/** EVTCHNOP_reset: close every port of `dom` (DOMID_SELF for the caller). */
export const evtchn_reset = struct('struct evtchn_reset', { dom: IN(domid_t) });

/**
 * EVTCHNOP_init_control (FIFO ABI): register vCPU `vcpu`'s control block at `offset` in frame
 * `control_gfn`. OUT: `link_bits`.
 */
export const evtchn_init_control = struct('struct evtchn_init_control', {
  control_gfn: IN(uint64_t),
  offset: IN(uint32_t),
  vcpu: IN(uint32_t),
  link_bits: OUT(uint8_t),
  _pad: array(uint8_t, 7),
});

/** EVTCHNOP_expand_array (FIFO ABI): add the event-word page `array_gfn`. */
export const evtchn_expand_array = struct('struct evtchn_expand_array', { array_gfn: IN(uint64_t) });

/** EVTCHNOP_set_priority (FIFO ABI): move `port` to queue `priority`. */
export const evtchn_set_priority = struct('struct evtchn_set_priority', {
  port: IN(evtchn_port_t),
  priority: IN(uint32_t),
});

/** The argument of the old event_channel_op_compat (hypercall 16): the command and its struct. */
export const evtchn_op = struct('struct evtchn_op', {
  cmd: IN(uint32_t),
  u: INOUT(
    union(undefined, {
      alloc_unbound: evtchn_alloc_unbound,
      bind_interdomain: evtchn_bind_interdomain,
      bind_virq: evtchn_bind_virq,
      bind_pirq: evtchn_bind_pirq,
      bind_ipi: evtchn_bind_ipi,
      close: evtchn_close,
      send: evtchn_send,
      status: evtchn_status,
      bind_vcpu: evtchn_bind_vcpu,
      unmask: evtchn_unmask,
    }),
  ),
});

/** Ports of the 2-level ABI: one bit per port in a two-level bitmap of xen_ulong_t words. */
export const EVTCHN_2L_NR_CHANNELS = perArch({
  x86_64: sizeOf(xen_ulong_t, 'x86_64') ** 2 * 64,
  x86_32: sizeOf(xen_ulong_t, 'x86_32') ** 2 * 64,
});

export const EVTCHN_FIFO_PRIORITY_MAX = 0;
export const EVTCHN_FIFO_PRIORITY_DEFAULT = 7;
export const EVTCHN_FIFO_PRIORITY_MIN = 15;
export const EVTCHN_FIFO_MAX_QUEUES = EVTCHN_FIFO_PRIORITY_MIN + 1;
export const EVTCHN_FIFO_PENDING = 31;
export const EVTCHN_FIFO_MASKED = 30;
export const EVTCHN_FIFO_LINKED = 29;
export const EVTCHN_FIFO_BUSY = 28;
export const EVTCHN_FIFO_LINK_BITS = 17;
export const EVTCHN_FIFO_LINK_MASK = (1 << EVTCHN_FIFO_LINK_BITS) - 1;
export const EVTCHN_FIFO_NR_CHANNELS = 1 << EVTCHN_FIFO_LINK_BITS;

export const event_word_t = typedef('event_word_t', uint32_t);

/** FIFO ABI per-vCPU control block: the READY bitmap of queues and each queue's head. */
export const evtchn_fifo_control_block = struct('struct evtchn_fifo_control_block', {
  ready: uint32_t,
  _rsvd: uint32_t,
  head: array(uint32_t, EVTCHN_FIFO_MAX_QUEUES),
});
