/** callback.h: callback_op (hypercall 30): register and unregister the guest's entry points. */
import { IN, struct, uint16_t } from '../layout/schema.js';
import { xen_callback_t } from './arch-x86.js';

export const CALLBACKTYPE_event = 0;
export const CALLBACKTYPE_failsafe = 1;
export const CALLBACKTYPE_syscall = 2;
export const CALLBACKTYPE_sysenter_deprecated = 3;
export const CALLBACKTYPE_nmi = 4;
export const CALLBACKTYPE_sysenter = 5;
export const CALLBACKTYPE_syscall32 = 7;

/** callback_register.flags: deliver with events masked. */
export const CALLBACKF_mask_events = 1 << 0;

export const CALLBACKOP_register = 0;
export const CALLBACKOP_unregister = 1;

/** CALLBACKOP_register: the entry point for CALLBACKTYPE_* `type`. */
export const callback_register = struct('struct callback_register', {
  type: IN(uint16_t),
  flags: IN(uint16_t),
  address: IN(xen_callback_t),
});

/** CALLBACKOP_unregister: forget the entry point for `type` (only NMI may be unregistered). */
export const callback_unregister = struct('struct callback_unregister', {
  type: IN(uint16_t),
  _unused: uint16_t,
});
