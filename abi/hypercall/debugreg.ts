/**
 * set_debugreg (8) and get_debugreg (9), PV only (Xen `do_set_debugreg`/`do_get_debugreg` in
 * pv/misc-hypercalls.c). The rules are pv/debugreg.ts's, shared with the MOV to/from DRn
 * emulation: `set_debugreg(int reg, unsigned long value)` returns 0 or -EPERM/-EINVAL/-ENODEV;
 * `get_debugreg(int reg)` returns the register's value (an upper-half DR0-3 address comes back
 * as a negative long, as in Xen) or -ENODEV.
 */
import { XEN_ENODEV } from '../public/errno.js';
import { getDebugreg, setDebugreg } from '../pv/debugreg.js';
import { cmdOf, type Handler } from './context.js';

/** Xen takes `int reg` and compares it as unsigned: a negative number is no register. */
function regName(reg: number): string {
  return reg <= 7 ? `DR${reg}` : `DR ${reg}`;
}

export const setDebugregHypercall: Handler = (ctx) => {
  const reg = cmdOf(ctx, 1);
  ctx.subop(regName(reg));
  const [lo, hi] = ctx.argHalves(2);
  return setDebugreg(ctx.vcpu, reg, lo, hi);
};

export const getDebugregHypercall: Handler = (ctx) => {
  const reg = cmdOf(ctx, 1);
  ctx.subop(regName(reg));
  return getDebugreg(ctx.vcpu, reg) ?? -XEN_ENODEV;
};
