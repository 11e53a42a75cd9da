/**
 * sched_op (reference §7.5): yield, block, shutdown, shutdown_code; poll and watchdog come with
 * the event-channel and time code. SHUTDOWN_suspend is refused with -ENOSYS until save/restore
 * exists (the guest then reports its suspend as failed, which is what it would see from a Xen
 * without a toolstack ready to save it).
 */
import { XEN_EFAULT, XEN_ENOSYS } from '../public/errno.js';
import * as S from '../public/sched.js';
import { cmdOf, type Handler, NO_RETURN } from './context.js';

function readU32(ctx: Parameters<Handler>[0], at: number): number | undefined {
  const b = new Uint8Array(4);
  if (!ctx.mem.read(at, b)) return undefined;
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}

export const schedOp: Handler = (ctx) => {
  const cmd = cmdOf(ctx, 1);
  switch (cmd) {
    case S.SCHEDOP_yield:
      ctx.subop('SCHEDOP_yield');
      return 0;
    case S.SCHEDOP_block: {
      ctx.subop('SCHEDOP_block');
      // Unmasks events; the caller's vCPU is then idle until an event is pending.
      ctx.vcpu.vcpuInfo?.setUpcallMask(0);
      ctx.vcpu.block();
      return 0;
    }
    case S.SCHEDOP_shutdown: {
      ctx.subop('SCHEDOP_shutdown');
      const reason = readU32(ctx, ctx.arg(2));
      if (reason === undefined) return -XEN_EFAULT;
      // Xen keeps the low byte of any reason (it does not validate it); the report names it.
      if ((reason & 0xff) === S.SHUTDOWN_suspend) return -XEN_ENOSYS;
      ctx.domain.shutdown(reason & 0xff);
      return NO_RETURN;
    }
    case S.SCHEDOP_shutdown_code: {
      ctx.subop('SCHEDOP_shutdown_code');
      const reason = readU32(ctx, ctx.arg(2));
      if (reason === undefined) return -XEN_EFAULT;
      ctx.domain.shutdownCode = reason & 0xff;
      return 0;
    }
    default:
      ctx.subop(`sched_op ${cmd}`);
      return -XEN_ENOSYS;
  }
};

/** sched_op_compat (6): (cmd, unsigned long arg); shutdown takes the reason directly. */
export const schedOpCompat: Handler = (ctx) => {
  const cmd = cmdOf(ctx, 1);
  if (cmd === S.SCHEDOP_yield) {
    ctx.subop('SCHEDOP_yield');
    return 0;
  }
  if (cmd === S.SCHEDOP_shutdown) {
    ctx.subop('SCHEDOP_shutdown');
    const reason = cmdOf(ctx, 2) & 0xff;
    if (reason === S.SHUTDOWN_suspend) return -XEN_ENOSYS;
    ctx.domain.shutdown(reason);
    return NO_RETURN;
  }
  ctx.subop(`sched_op_compat ${cmd}`);
  return -XEN_ENOSYS;
};
