/**
 * vcpu.h: vcpu_op (hypercall 24, `(cmd, vcpuid, arg)`) sub-ops, runstate accounting, timers and
 * the relocation of vcpu_info and the runstate/time areas.
 */
import { IN, OUT, array, handle, int, pointer, struct, uint32_t, uint64_t, union } from '../layout/schema.js';

export const VCPUOP_initialise = 0;
export const VCPUOP_up = 1;
export const VCPUOP_down = 2;
export const VCPUOP_is_up = 3;
export const VCPUOP_get_runstate_info = 4;
export const VCPUOP_register_runstate_memory_area = 5;
export const VCPUOP_set_periodic_timer = 6;
export const VCPUOP_stop_periodic_timer = 7;
export const VCPUOP_set_singleshot_timer = 8;
export const VCPUOP_stop_singleshot_timer = 9;
export const VCPUOP_register_vcpu_info = 10;
export const VCPUOP_send_nmi = 11;
export const VCPUOP_get_physid = 12;
export const VCPUOP_register_vcpu_time_memory_area = 13;

/**
 * A vCPU's runstate: the current RUNSTATE_* since `state_entry_time` (system time, ns) and the
 * total ns spent in each state. With VMASST_TYPE_runstate_update_flag Xen sets
 * XEN_RUNSTATE_UPDATE in `state_entry_time` while it rewrites the area.
 */
export const vcpu_runstate_info = struct('struct vcpu_runstate_info', {
  state: OUT(int),
  state_entry_time: OUT(uint64_t),
  time: OUT(array(uint64_t, 4)),
});

export const XEN_RUNSTATE_UPDATE = 1n << 63n;
export const RUNSTATE_running = 0;
export const RUNSTATE_runnable = 1;
export const RUNSTATE_blocked = 2;
export const RUNSTATE_offline = 3;

/** A guest virtual address, viewable as a handle, a pointer or a plain 64-bit number. */
const guestAddress = (handleTarget: string, struct: string) => union(undefined, { h: handle(handleTarget), v: pointer(struct), p: uint64_t });

/** VCPUOP_register_runstate_memory_area: Xen keeps a vcpu_runstate_info at this guest address up to date. */
export const vcpu_register_runstate_memory_area = struct('struct vcpu_register_runstate_memory_area', {
  addr: IN(guestAddress('vcpu_runstate_info_t', 'struct vcpu_runstate_info')),
});

/** VCPUOP_set_periodic_timer: VIRQ_TIMER every `period_ns`. */
export const vcpu_set_periodic_timer = struct('struct vcpu_set_periodic_timer', { period_ns: IN(uint64_t) });

/**
 * VCPUOP_set_singleshot_timer: VIRQ_TIMER once at system time `timeout_abs_ns`; with
 * VCPU_SSHOTTMR_future a time already past fails with -ETIME.
 */
export const vcpu_set_singleshot_timer = struct('struct vcpu_set_singleshot_timer', {
  timeout_abs_ns: IN(uint64_t),
  flags: IN(uint32_t),
});
export const VCPU_SSHOTTMR_future = 1 << 0;

/** VCPUOP_register_vcpu_info: move this vCPU's vcpu_info to `offset` in frame `mfn`. */
export const vcpu_register_vcpu_info = struct('struct vcpu_register_vcpu_info', {
  mfn: IN(uint64_t),
  offset: IN(uint32_t),
  rsvd: IN(uint32_t),
});

/** VCPUOP_get_physid (dom0): the physical CPU's APIC and ACPI ids. */
export const vcpu_get_physid = struct('struct vcpu_get_physid', { phys_id: OUT(uint64_t) });

/** VCPUOP_register_vcpu_time_memory_area: a second copy of vcpu_time_info at this guest address. */
export const vcpu_register_time_memory_area = struct('struct vcpu_register_time_memory_area', {
  addr: IN(guestAddress('vcpu_time_info_t', 'struct vcpu_time_info')),
});
