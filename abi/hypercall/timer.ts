/**
 * set_timer_op (15), reference §7.3: `(s_time_t timeout)`, one 64-bit argument on x86_64. The
 * calling vCPU's singleshot timer (shared with VCPUOP_set_singleshot_timer) fires at absolute
 * system time `timeout` (ns); 0 cancels it; a time already past fires before the guest's next
 * instruction (Xen's timer softirq on the way out). Xen's Linux work-around (do_set_timer_op): a
 * negative timeout, or one more than 2^50 ns (about 13 days) ahead, is replaced by now + 100 ms.
 * Always returns 0.
 */
import { type Handler } from './context.js';

/** The work-around's delay (Xen: MILLISECS(100)). */
const FAR_TIMEOUT_DELAY_NS = 100_000_000;
/** Offsets at or beyond 2^50 ns count as wrapped. */
const FAR_OFFSET_NS = 2 ** 50;

export const setTimerOp: Handler = (ctx) => {
  const dt = ctx.domain.time;
  if (dt === undefined) throw new Error(`domain ${ctx.domain.id} has no time state`);
  const [lo, hi] = ctx.argHalves(1);
  const id = ctx.vcpu.id;
  if (lo === 0 && hi === 0) {
    ctx.subop('cancel');
    dt.stopSingleshot(id);
    return 0;
  }
  ctx.subop('set');
  // s_time_t: signed 64-bit. Beyond 2^53 the double is rounded, which cannot change the decision.
  const timeout = (hi | 0) * 4294967296 + (lo >>> 0);
  const now = dt.clock.now();
  const offset = timeout - now;
  if (timeout < 0 || (offset > 0 && offset >= FAR_OFFSET_NS)) dt.setSingleshot(id, now + FAR_TIMEOUT_DELAY_NS);
  else dt.setSingleshot(id, timeout);
  return 0;
};
