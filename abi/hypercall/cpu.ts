/**
 * The PV CPU hypercalls (reference §3.3, §3.5, §3.6, §3.8): set_trap_table, set_callbacks,
 * callback_op, nmi_op, stack_switch, set_segment_base, fpu_taskswitch, iret, vm_assist. They
 * set what the PV64 CPU model (pv/vcpu.ts) uses when it bounces into the guest.
 */
import { Fault } from '../../x86/fault.js';
import { isCanonical } from '../../x86/system/regs.js';
import { checkDataSegment, type SegCache } from '../../x86/system/segments.js';
import { View } from '../layout/view.js';
import * as CB from '../public/callback.js';
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOSYS } from '../public/errno.js';
import { layout } from '../public/index.js';
import * as NMI from '../public/nmi.js';
import * as X from '../public/xen.js';
import type { PvVcpu } from '../pv/vcpu.js';
import { cmdOf, type Handler } from './context.js';

const TRAP_INFO = layout('trap_info', 'x86_64');
const CALLBACK_REGISTER = layout('callback_register', 'x86_64');
const CALLBACK_UNREGISTER = layout('callback_unregister', 'x86_64');
const XENNMI_CALLBACK = layout('xennmi_callback', 'x86_64');
/** Trap-table slot of the NMI callback (TRAP_nmi). */
const NMI_VECTOR = 2;
/** trap_info flags bit 2 (TI_SET_IF): events masked on entry. */
const TI_SET_IF = 4;

/** set_trap_table(trap_info*): entries overwrite their vector's slot until address 0; NULL clears all. */
export const setTrapTable: Handler = (ctx) => {
  const v = ctx.vcpu;
  const at = ctx.arg(1);
  if (at === 0) {
    v.trapAddress.fill(0);
    v.trapFlags.fill(0);
    return 0;
  }
  for (let k = 0; k < 256; k++) {
    const e = View.copyIn(TRAP_INFO, ctx.mem, at + k * TRAP_INFO.size);
    if (e === undefined) return -14; // -EFAULT
    // Sign-extended from the halves: an unsigned sum above 2^53 would lose the low bits.
    const signed = (e.hi('address') | 0) * 4294967296 + e.lo('address');
    if (e.lo('address') === 0 && e.hi('address') === 0) return 0;
    if (!isCanonical(signed)) return -XEN_EINVAL;
    const vec = e.get('vector');
    v.trapAddress[vec] = signed;
    v.trapFlags[vec] = e.get('flags');
  }
  return 0;
};

/** Argument k as a sign-extended 64-bit number (exact for canonical addresses). */
function signedArg(ctx: Parameters<Handler>[0], k: number): number {
  const [lo, hi] = ctx.argHalves(k);
  return (hi | 0) * 4294967296 + (lo >>> 0);
}

function canonicalArg(ctx: Parameters<Handler>[0], k: number): number | undefined {
  const a = signedArg(ctx, k);
  return isCanonical(a) ? a : undefined;
}

/**
 * Xen `register_guest_callback` (pv/callback.c): a non-canonical address is -EINVAL, an unknown
 * type -ENOSYS; CALLBACKF_mask_events matters for failsafe, syscall, syscall32 and sysenter.
 */
function registerCallback(v: PvVcpu, type: number, flags: number, address: number): number {
  if (!isCanonical(address)) return -XEN_EINVAL;
  const mask = (flags & CB.CALLBACKF_mask_events) !== 0;
  switch (type) {
    case CB.CALLBACKTYPE_event:
      v.eventCallback = address;
      return 0;
    case CB.CALLBACKTYPE_failsafe:
      v.failsafeCallback = address;
      v.failsafeMaskEvents = mask;
      return 0;
    case CB.CALLBACKTYPE_syscall:
      v.syscallCallback = address;
      v.syscallMaskEvents = mask;
      return 0;
    case CB.CALLBACKTYPE_syscall32:
      v.syscall32Callback = address;
      v.syscall32MaskEvents = mask;
      return 0;
    case CB.CALLBACKTYPE_sysenter:
      v.sysenterCallback = address;
      v.sysenterMaskEvents = mask;
      return 0;
    case CB.CALLBACKTYPE_nmi:
      return registerNmiCallback(v, address);
    default:
      return -XEN_ENOSYS;
  }
}

/**
 * Xen `register_guest_nmi_callback`: the NMI handler becomes trap-table entry 2, entered with
 * events masked (TI_SET_IF). Xen re-raises a lost NMI edge for vCPU 0 when the domain's NMI
 * reason is non-zero; only the hardware domain ever has one, so a domU never sees that.
 */
function registerNmiCallback(v: PvVcpu, address: number): number {
  if (!isCanonical(address)) return -XEN_EINVAL;
  v.trapAddress[NMI_VECTOR] = address;
  v.trapFlags[NMI_VECTOR] = TI_SET_IF;
  return 0;
}

/** Xen `unregister_guest_nmi_callback`: trap-table entry 2 cleared. */
function unregisterNmiCallback(v: PvVcpu): void {
  v.trapAddress[NMI_VECTOR] = 0;
  v.trapFlags[NMI_VECTOR] = 0;
}

/**
 * set_callbacks(event, failsafe, syscall) for PV64 (Xen `do_set_callbacks`): each registered
 * with flags 0, so failsafe and syscall stop masking events. Xen ignores each registration's
 * result: a non-canonical address leaves that one callback as it was, and the call returns 0.
 */
export const setCallbacks: Handler = (ctx) => {
  const v = ctx.vcpu;
  registerCallback(v, CB.CALLBACKTYPE_event, 0, signedArg(ctx, 1));
  registerCallback(v, CB.CALLBACKTYPE_failsafe, 0, signedArg(ctx, 2));
  registerCallback(v, CB.CALLBACKTYPE_syscall, 0, signedArg(ctx, 3));
  return 0;
};

/**
 * callback_op(CALLBACKOP_register | unregister, arg) (Xen `do_callback_op`). Unregistering is
 * only for the NMI callback: the other known types are -EINVAL, unknown ones -ENOSYS.
 */
export const callbackOp: Handler = (ctx) => {
  const cmd = cmdOf(ctx, 1);
  const v = ctx.vcpu;
  if (cmd === CB.CALLBACKOP_register) {
    ctx.subop('CALLBACKOP_register');
    const r = View.copyIn(CALLBACK_REGISTER, ctx.mem, ctx.arg(2));
    if (r === undefined) return -XEN_EFAULT;
    const a = (r.hi('address') | 0) * 4294967296 + r.lo('address');
    return registerCallback(v, r.get('type'), r.get('flags'), a);
  }
  if (cmd === CB.CALLBACKOP_unregister) {
    ctx.subop('CALLBACKOP_unregister');
    const u = View.copyIn(CALLBACK_UNREGISTER, ctx.mem, ctx.arg(2));
    if (u === undefined) return -XEN_EFAULT;
    switch (u.get('type')) {
      case CB.CALLBACKTYPE_event:
      case CB.CALLBACKTYPE_failsafe:
      case CB.CALLBACKTYPE_syscall:
      case CB.CALLBACKTYPE_syscall32:
      case CB.CALLBACKTYPE_sysenter:
        return -XEN_EINVAL;
      case CB.CALLBACKTYPE_nmi:
        unregisterNmiCallback(v);
        return 0;
      default:
        return -XEN_ENOSYS;
    }
  }
  ctx.subop(`callback_op ${cmd}`);
  return -XEN_ENOSYS;
};

/**
 * nmi_op (28, Xen `do_nmi_op`): XENNMI_register_callback copies a xennmi_callback (-EFAULT) and
 * registers its handler as callback_op's CALLBACKTYPE_nmi does; XENNMI_unregister_callback
 * clears it (no argument read); any other command -ENOSYS.
 */
export const nmiOp: Handler = (ctx) => {
  const cmd = cmdOf(ctx, 1);
  const v = ctx.vcpu;
  switch (cmd) {
    case NMI.XENNMI_register_callback: {
      ctx.subop('XENNMI_register_callback');
      const cb = View.copyIn(XENNMI_CALLBACK, ctx.mem, ctx.arg(2));
      if (cb === undefined) return -XEN_EFAULT;
      return registerNmiCallback(v, (cb.hi('handler_address') | 0) * 4294967296 + cb.lo('handler_address'));
    }
    case NMI.XENNMI_unregister_callback:
      ctx.subop('XENNMI_unregister_callback');
      unregisterNmiCallback(v);
      return 0;
    default:
      ctx.subop(`nmi_op ${cmd}`);
      return -XEN_ENOSYS;
  }
};

/** stack_switch(ss, sp): the kernel stack used on entries from user mode. */
export const stackSwitch: Handler = (ctx) => {
  const v = ctx.vcpu;
  v.kernelSs = (cmdOf(ctx, 1) & 0xffff) | 3;
  const sp = ctx.argHalves(2);
  v.kernelSp = (sp[1] | 0) * 4294967296 + (sp[0] >>> 0);
  return 0;
};

/** set_segment_base(which, base), PV64 (reference §3.8). */
export const setSegmentBase: Handler = (ctx) => {
  const which = cmdOf(ctx, 1);
  const base = canonicalArg(ctx, 2);
  const v = ctx.vcpu;
  const c = v.cpu;
  switch (which) {
    case 0: // SEGBASE_FS
      ctx.subop('SEGBASE_FS');
      if (base === undefined) return -XEN_EINVAL;
      c.segBase[4] = base;
      return 0;
    case 1: // SEGBASE_GS_USER: the user GS base (inactive while in kernel mode)
      ctx.subop('SEGBASE_GS_USER');
      if (base === undefined) return -XEN_EINVAL;
      if (v.kernelMode) v.inactiveGsBase = base;
      else c.segBase[5] = base;
      return 0;
    case 2: // SEGBASE_GS_KERNEL: the active GS base in kernel mode
      ctx.subop('SEGBASE_GS_KERNEL');
      if (base === undefined) return -XEN_EINVAL;
      if (v.kernelMode) c.segBase[5] = base;
      else v.inactiveGsBase = base;
      return 0;
    case 3: {
      // SEGBASE_GS_USER_SEL (Xen `do_set_segment_base`): base[15:0] is loaded into %gs between
      // two SWAPGS, so the user GS base becomes the descriptor's base while the kernel's stays
      // active. A non-null selector gets RPL 3; one that cannot be loaded leaves %gs null (base
      // 0) and the call still returns 0.
      ctx.subop('SEGBASE_GS_USER_SEL');
      let sel = ctx.argHalves(2)[0] & 0xffff;
      if (sel > 3) sel |= 3;
      let cache: SegCache = [0, 0, 0, 0];
      try {
        cache = checkDataSegment(c, 5, sel);
      } catch (e) {
        if (!(e instanceof Fault)) throw e;
      }
      const kernelBase = c.segBase[5] as number;
      c.loadSegmentCache(5, cache[0], cache[1], cache[2], cache[3]);
      v.inactiveGsBase = c.segBase[5] as number;
      c.segBase[5] = kernelBase;
      return 0;
    }
    default:
      ctx.subop(`segbase ${which}`);
      return -XEN_EINVAL;
  }
};

/** fpu_taskswitch(set): the virtual CR0.TS (the core's CR0.TS follows it, so x87/SSE raise #NM: pv/vcpu.ts). */
export const fpuTaskswitch: Handler = (ctx) => {
  ctx.vcpu.virtualTs = cmdOf(ctx, 1) !== 0;
  return 0;
};

/** iret: never returns to the caller (pv/vcpu.ts). */
export const iret: Handler = (ctx) => ctx.vcpu.iret();

/** The vm_assist types Xen offers a PV64 domU (reference §4.8). */
const VMASST_VALID =
  (1 << X.VMASST_TYPE_4gb_segments) |
  (1 << X.VMASST_TYPE_4gb_segments_notify) |
  (1 << X.VMASST_TYPE_writable_pagetables) |
  (1 << X.VMASST_TYPE_pae_extended_cr3) |
  (1 << X.VMASST_TYPE_architectural_iopl) |
  (1 << X.VMASST_TYPE_runstate_update_flag);

/** vm_assist(cmd, type). m2p_strict (32) is a 64-bit-only type kept in bit 31 here. */
export const vmAssist: Handler = (ctx) => {
  const cmd = cmdOf(ctx, 1);
  const type = cmdOf(ctx, 2);
  const bit = type === X.VMASST_TYPE_m2p_strict ? 1 << 31 : type < 31 && ((VMASST_VALID >>> type) & 1) !== 0 ? 1 << type : 0;
  ctx.subop(cmd === X.VMASST_CMD_enable ? 'VMASST_CMD_enable' : cmd === X.VMASST_CMD_disable ? 'VMASST_CMD_disable' : `vm_assist ${cmd}`);
  if (bit === 0) return -XEN_EINVAL;
  if (cmd === X.VMASST_CMD_enable) ctx.domain.vmAssist |= bit;
  else if (cmd === X.VMASST_CMD_disable) ctx.domain.vmAssist &= ~bit;
  else return -XEN_ENOSYS;
  return 0;
};
