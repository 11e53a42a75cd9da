/**
 * The PV CPU hypercalls (reference §3.3, §3.5, §3.6, §3.8): set_trap_table, set_callbacks,
 * callback_op, nmi_op, stack_switch, set_segment_base, fpu_taskswitch, iret, vm_assist. They
 * set what the PV64 CPU model (pv/vcpu.ts) uses when it bounces into the guest.
 */
import { isCanonical } from '../../x86/system/regs.js';
import { View } from '../layout/view.js';
import * as CB from '../public/callback.js';
import { XEN_EINVAL, XEN_ENOSYS } from '../public/errno.js';
import { layout } from '../public/index.js';
import * as X from '../public/xen.js';
import { cmdOf, type Handler } from './context.js';

const TRAP_INFO = layout('trap_info', 'x86_64');
const CALLBACK_REGISTER = layout('callback_register', 'x86_64');

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

function canonicalArg(ctx: Parameters<Handler>[0], k: number): number | undefined {
  const [lo, hi] = ctx.argHalves(k);
  const a = (hi | 0) * 4294967296 + (lo >>> 0);
  return isCanonical(a) ? a : undefined;
}

/** set_callbacks(event, failsafe, syscall) for PV64: all registered without event masking. */
export const setCallbacks: Handler = (ctx) => {
  const e = canonicalArg(ctx, 1);
  const f = canonicalArg(ctx, 2);
  const s = canonicalArg(ctx, 3);
  if (e === undefined || f === undefined || s === undefined) return -XEN_EINVAL;
  const v = ctx.vcpu;
  v.eventCallback = e;
  v.failsafeCallback = f;
  v.syscallCallback = s;
  v.syscallMaskEvents = false;
  return 0;
};

/** callback_op(CALLBACKOP_register | unregister, arg). */
export const callbackOp: Handler = (ctx) => {
  const cmd = cmdOf(ctx, 1);
  const v = ctx.vcpu;
  if (cmd === CB.CALLBACKOP_register) {
    ctx.subop('CALLBACKOP_register');
    const r = View.copyIn(CALLBACK_REGISTER, ctx.mem, ctx.arg(2));
    if (r === undefined) return -14;
    const a = (r.hi('address') | 0) * 4294967296 + r.lo('address');
    if (!isCanonical(a)) return -XEN_EINVAL;
    const mask = (r.get('flags') & CB.CALLBACKF_mask_events) !== 0;
    switch (r.get('type')) {
      case CB.CALLBACKTYPE_event:
        v.eventCallback = a;
        return 0;
      case CB.CALLBACKTYPE_failsafe:
        v.failsafeCallback = a;
        return 0;
      case CB.CALLBACKTYPE_syscall:
        v.syscallCallback = a;
        v.syscallMaskEvents = mask;
        return 0;
      case CB.CALLBACKTYPE_syscall32:
        v.syscall32Callback = a;
        return 0;
      case CB.CALLBACKTYPE_nmi:
        v.nmiCallback = a;
        return 0;
      case CB.CALLBACKTYPE_sysenter:
        // Accepted (Xen stores it); a PV64 guest's user code cannot execute SYSENTER on AMD.
        return 0;
      default:
        return -XEN_ENOSYS;
    }
  }
  if (cmd === CB.CALLBACKOP_unregister) {
    ctx.subop('CALLBACKOP_unregister');
    const buf = new Uint8Array(2);
    if (!ctx.mem.read(ctx.arg(2), buf)) return -14;
    const type = buf[0]! | (buf[1]! << 8);
    if (type !== CB.CALLBACKTYPE_nmi) return -XEN_EINVAL;
    v.nmiCallback = 0;
    return 0;
  }
  ctx.subop(`callback_op ${cmd}`);
  return -XEN_ENOSYS;
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
    case 3: // SEGBASE_GS_USER_SEL: a null or flat selector clears the user GS base
      ctx.subop('SEGBASE_GS_USER_SEL');
      if (v.kernelMode) v.inactiveGsBase = 0;
      else c.segBase[5] = 0;
      return 0;
    default:
      ctx.subop(`segbase ${which}`);
      return -XEN_EINVAL;
  }
};

/** fpu_taskswitch(set): the virtual CR0.TS. */
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
