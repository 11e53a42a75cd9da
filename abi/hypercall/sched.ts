/**
 * sched_op (reference §7.5): yield, block, shutdown, shutdown_code, poll, watchdog (the waits and
 * timers themselves are in time/timers.ts; the scheduler ends them).
 *
 * SHUTDOWN_suspend (the guest's half of save, restore and migration; docs/save-restore.md): the
 * hypercall completes with 0 in RAX and the domain stops, shut down with reason suspend, its
 * vCPUs' contexts ready for the toolstack (start_info's MFN stays in RDX, where a PV guest puts
 * it). What the guest sees next is the toolstack's doing: RAX still 0 when the saved image is
 * resumed in a new domain; 1 when the suspend is cancelled and the same domain resumes
 * (`Domain.resumeCancelled`, libxc's xc_domain_resume with a cooperative guest).
 */
import { View } from '../layout/view.js';
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOSPC, XEN_ENOSYS } from '../public/errno.js';
import { layout } from '../public/index.js';
import * as S from '../public/sched.js';
import { MAX_POLL_PORTS, NO_TIMER, NR_DOMAIN_WATCHDOG_TIMERS } from '../time/timers.js';
import { cmdOf, type Handler, type HypercallContext, NO_RETURN } from './context.js';

function readU32(ctx: Parameters<Handler>[0], at: number): number | undefined {
  const b = new Uint8Array(4);
  if (!ctx.mem.read(at, b)) return undefined;
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}

export const schedOp: Handler = (ctx) => {
  const cmd = cmdOf(ctx, 1);
  switch (cmd) {
    case S.SCHEDOP_yield:
      return yieldVcpu(ctx);
    case S.SCHEDOP_block:
      return block(ctx);
    case S.SCHEDOP_shutdown: {
      ctx.subop('SCHEDOP_shutdown');
      const reason = readU32(ctx, ctx.arg(2));
      if (reason === undefined) return -XEN_EFAULT;
      // Xen keeps the low byte of any reason (it does not validate it); the report names it.
      return shutdown(ctx, reason & 0xff);
    }
    case S.SCHEDOP_shutdown_code: {
      ctx.subop('SCHEDOP_shutdown_code');
      const reason = readU32(ctx, ctx.arg(2));
      if (reason === undefined) return -XEN_EFAULT;
      ctx.domain.shutdownCode = reason & 0xff;
      return 0;
    }
    case S.SCHEDOP_poll:
      ctx.subop('SCHEDOP_poll');
      return poll(ctx);
    case S.SCHEDOP_watchdog:
      ctx.subop('SCHEDOP_watchdog');
      return watchdog(ctx);
    default:
      ctx.subop(`sched_op ${cmd}`);
      return -XEN_ENOSYS;
  }
};

const L_POLL = layout('sched_poll', 'x86_64');
const L_WATCHDOG = layout('sched_watchdog', 'x86_64');

/**
 * SCHEDOP_poll, in the order of Xen's do_poll: too many ports -EINVAL; an upcall already
 * deliverable returns 0; then each port in turn: unreadable -EFAULT, invalid -EINVAL, pending
 * returns 0 at once. Otherwise the vCPU blocks (the upcall mask untouched) until a listed port
 * is pending, an upcall wakes it, or system time reaches `timeout` (0: none). Returns 0.
 */
function poll(ctx: Parameters<Handler>[0]): number {
  const dt = ctx.domain.time;
  const ec = ctx.domain.evtchn;
  if (dt === undefined || ec === undefined) throw new Error(`domain ${ctx.domain.id} has no time state or event channels`);
  const a = View.copyIn(L_POLL, ctx.mem, ctx.arg(2));
  if (a === undefined) return -XEN_EFAULT;
  const n = a.get('nr_ports');
  if (n > MAX_POLL_PORTS) return -XEN_EINVAL;
  const vi = ctx.vcpu.vcpuInfo;
  if (vi !== undefined && vi.upcallPending() !== 0 && vi.upcallMask() === 0) return 0;
  // A guest pointer: the signed 64-bit value (a kernel's upper-half address is negative here, as
  // GuestMemory expects; `get` would round it beyond 2^53).
  const at = (a.hi('ports') | 0) * 2 ** 32 + a.lo('ports');
  const ports: number[] = [];
  for (let k = 0; k < n; k++) {
    const p = readU32(ctx, at + k * 4);
    if (p === undefined) return -XEN_EFAULT;
    if (ec.port(p) === undefined) return -XEN_EINVAL;
    if (dt.anyPending([p])) return 0;
    ports.push(p);
  }
  const timeout = Number(a.getBig('timeout'));
  dt.vcpu(ctx.vcpu.id).poll = { ports, deadline: timeout === 0 ? NO_TIMER : timeout };
  ctx.vcpu.block();
  return 0;
}

/**
 * SCHEDOP_watchdog (Xen's domain_watchdog): id 0 takes the first free slot, arms it `timeout`
 * seconds from now and returns its id (1-based; -ENOSPC when none is free); otherwise id must
 * name a slot in use (-EINVAL): timeout 0 frees it, anything else re-arms it.
 */
function watchdog(ctx: Parameters<Handler>[0]): number {
  const dt = ctx.domain.time;
  if (dt === undefined) throw new Error(`domain ${ctx.domain.id} has no time state`);
  const a = View.copyIn(L_WATCHDOG, ctx.mem, ctx.arg(2));
  if (a === undefined) return -XEN_EFAULT;
  const id = a.get('id');
  const timeoutNs = a.get('timeout') * 1e9;
  if (id === 0) {
    for (let k = 0; k < NR_DOMAIN_WATCHDOG_TIMERS; k++) {
      if (dt.watchdogInUse[k]) continue;
      dt.watchdogInUse[k] = true;
      dt.watchdog[k] = dt.clock.now() + timeoutNs;
      return k + 1;
    }
    return -XEN_ENOSPC;
  }
  const k = id - 1;
  if (k >= NR_DOMAIN_WATCHDOG_TIMERS || dt.watchdogInUse[k] !== true) return -XEN_EINVAL;
  if (timeoutNs === 0) {
    dt.watchdog[k] = NO_TIMER;
    dt.watchdogInUse[k] = false;
    return 0;
  }
  dt.watchdog[k] = dt.clock.now() + timeoutNs;
  return 0;
}

/**
 * Xen's domain_shutdown from SCHEDOP_shutdown: every vCPU stops. A suspend returns 0 into RAX
 * first (the value a resumed image sees); any other reason never returns to the guest.
 */
function shutdown(ctx: HypercallContext, reason: number): number | typeof NO_RETURN {
  ctx.domain.shutdown(reason);
  return reason === S.SHUTDOWN_suspend ? 0 : NO_RETURN;
}

/** sched_op_compat (6): (cmd, unsigned long arg); shutdown takes the reason directly. */
/** SCHEDOP_block: unmasks events; the caller's vCPU is then idle until an event is pending. */
function block(ctx: HypercallContext): number {
  ctx.subop('SCHEDOP_block');
  ctx.vcpu.vcpuInfo?.setUpcallMask(0);
  if (ctx.domain.time !== undefined) ctx.domain.time.vcpu(ctx.vcpu.id).poll = undefined;
  ctx.vcpu.block();
  return 0;
}

/**
 * SCHEDOP_yield: the vCPU gives up the physical CPU (Xen's vcpu_yield): its slice ends here and
 * the scheduler runs the next runnable vCPU (the same one again when it is the only one). Linux
 * yields in loops that wait for another vCPU (xen_pv_cpu_up waiting for the new CPU to report
 * online), so the wait costs one hypercall per round instead of a slice of spinning.
 */
function yieldVcpu(ctx: HypercallContext): number {
  ctx.subop('SCHEDOP_yield');
  ctx.vcpu.cpu.stopRequested = true;
  return 0;
}

/** The legacy sched_op (Xen's do_sched_op_compat): yield and block as sched_op, shutdown by value. */
export const schedOpCompat: Handler = (ctx) => {
  const cmd = cmdOf(ctx, 1);
  if (cmd === S.SCHEDOP_yield) return yieldVcpu(ctx);
  if (cmd === S.SCHEDOP_block) return block(ctx);
  if (cmd === S.SCHEDOP_shutdown) {
    ctx.subop('SCHEDOP_shutdown');
    return shutdown(ctx, cmdOf(ctx, 2) & 0xff);
  }
  ctx.subop(`sched_op_compat ${cmd}`);
  return -XEN_ENOSYS;
};
