/**
 * The hypercall table: number → handler, the -ENOSYS default for everything not implemented,
 * and the accounting every call goes through (per domain: hypercall, sub-op, result). A
 * guest's bad pointer surfaces as a GuestMemoryFault from a view and becomes -EFAULT here, as
 * Xen's failed copy_from_guest does.
 */
import { GuestMemoryFault } from '../layout/memory.js';
import { XEN_EFAULT, XEN_ENOSYS } from '../public/errno.js';
import * as X from '../public/xen.js';
import { NO_RETURN, type Handler, type HypercallContext } from './context.js';
import { errorName } from './errors.js';

/** Hypercall names by number, from xen.h (`__HYPERVISOR_name`). */
export const HYPERCALL_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(X)
    .filter(([k, v]) => k.startsWith('__HYPERVISOR_') && typeof v === 'number')
    .map(([k, v]) => [v as number, k.slice('__HYPERVISOR_'.length)]),
);

/**
 * How a result is counted: 'ok', 'positive', an error's name, or 'value' for a negative number
 * below Xen's errno range (get_debugreg returning an upper-half address, for instance; the
 * guest tells errors apart the same way, by -4095..-1).
 */
function resultName(r: number | typeof NO_RETURN): string {
  if (r === NO_RETURN) return 'no-return';
  if (r === 0) return 'ok';
  if (r > 0) return 'positive';
  return r < -4095 ? 'value' : errorName(r);
}

export class HypercallTable {
  private readonly handlers = new Map<number, Handler>();

  register(nr: number, h: Handler): this {
    this.handlers.set(nr, h);
    return this;
  }

  has(nr: number): boolean {
    return this.handlers.has(nr);
  }

  /** Runs hypercall `nr` for `ctx`, counting it. */
  call(nr: number, ctx: Omit<HypercallContext, 'subop' | 'table'>): number | typeof NO_RETURN {
    const name = HYPERCALL_NAMES.get(nr) ?? `hypercall_${nr}`;
    let subop = '';
    const full: HypercallContext = { ...ctx, subop: (s) => { subop = s; }, table: this };
    const h = this.handlers.get(nr);
    let r: number | typeof NO_RETURN;
    if (h === undefined) r = -XEN_ENOSYS;
    else {
      try {
        r = h(full);
      } catch (e) {
        if (!(e instanceof GuestMemoryFault)) throw e;
        r = -XEN_EFAULT;
      }
    }
    ctx.domain.stats.record(name, subop, resultName(r));
    return r;
  }
}
