/**
 * console_io (reference §8.1): CONSOLEIO_write to the hypervisor console. Xen's release builds
 * deny it to a domU; xenlab accepts writes, as a debug build does, because early boot messages
 * are what a porter needs most when bring-up fails. CONSOLEIO_read is the control domain's:
 * -EPERM for a domU.
 */
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOSYS, XEN_EPERM } from '../public/errno.js';
import { cmdOf, type Handler } from './context.js';

/** Largest single write accepted (Xen copies in chunks; a larger count is still consumed). */
const MAX_WRITE = 1 << 20;

export const consoleIo: Handler = (ctx) => {
  const cmd = cmdOf(ctx, 1);
  const count = cmdOf(ctx, 2);
  if (cmd === 0) {
    ctx.subop('CONSOLEIO_write');
    if (count > MAX_WRITE) return -XEN_EINVAL;
    const buf = new Uint8Array(count);
    if (!ctx.mem.read(ctx.arg(3), buf)) return -XEN_EFAULT;
    for (const b of buf) ctx.domain.consoleOut.push(b);
    return 0;
  }
  if (cmd === 1) {
    ctx.subop('CONSOLEIO_read');
    return -XEN_EPERM;
  }
  ctx.subop(`console_io ${cmd}`);
  return -XEN_ENOSYS;
};
