/** sched.h: sched_op (hypercall 29) sub-ops, their argument structs and shutdown reasons. */
import { IN, handle, int32_t, struct, uint32_t, uint64_t, unsigned_int } from '../layout/schema.js';
import { domid_t } from './xen.js';

export const SCHEDOP_yield = 0;
export const SCHEDOP_block = 1;
export const SCHEDOP_shutdown = 2;
export const SCHEDOP_poll = 3;
export const SCHEDOP_remote_shutdown = 4;
export const SCHEDOP_shutdown_code = 5;
export const SCHEDOP_watchdog = 6;
export const SCHEDOP_pin_override = 7;

/** SCHEDOP_shutdown and SCHEDOP_shutdown_code: a SHUTDOWN_* reason. */
export const sched_shutdown = struct('struct sched_shutdown', { reason: IN(unsigned_int) });

/**
 * SCHEDOP_poll: block until one of `nr_ports` ports at `ports` is pending, or until system time
 * `timeout` (0: no timeout).
 */
export const sched_poll = struct('struct sched_poll', {
  ports: IN(handle('evtchn_port_t')),
  nr_ports: IN(unsigned_int),
  timeout: IN(uint64_t),
});

/** SCHEDOP_remote_shutdown (privileged): shut down `domain_id` for `reason`. */
export const sched_remote_shutdown = struct('struct sched_remote_shutdown', {
  domain_id: IN(domid_t),
  reason: IN(unsigned_int),
});

/** SCHEDOP_watchdog: `id` 0 creates a watchdog, otherwise it is armed (`timeout` s) or, with 0, destroyed. */
export const sched_watchdog = struct('struct sched_watchdog', {
  id: IN(uint32_t),
  timeout: IN(uint32_t),
});

/** SCHEDOP_pin_override (hardware domain): pin the vCPU to `pcpu`, or -1 to undo. */
export const sched_pin_override = struct('struct sched_pin_override', { pcpu: IN(int32_t) });

export const SHUTDOWN_poweroff = 0;
export const SHUTDOWN_reboot = 1;
export const SHUTDOWN_suspend = 2;
export const SHUTDOWN_crash = 3;
export const SHUTDOWN_watchdog = 4;
export const SHUTDOWN_soft_reset = 5;
export const SHUTDOWN_MAX = 5;
