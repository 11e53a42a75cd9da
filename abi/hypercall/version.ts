/**
 * xen_version (reference §0.5): the version xenlab presents (Xen 4.17, whose headers are the
 * ABI of record), capabilities, platform parameters and the feature bits. XENVER_get_features
 * reports the domain's `features` word, which the hypervisor assembles from what is actually
 * implemented — never a bit for something that is not there.
 */
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOSYS, XEN_EPERM } from '../public/errno.js';
import * as V from '../public/version.js';
import { cmdOf, type Handler, type HypercallContext } from './context.js';

export const XEN_MAJOR = 4;
export const XEN_MINOR = 17;
export const XEN_EXTRAVERSION = '.0-xenlab';
/** PV64: the start of Xen's reserved virtual range (release builds). */
export const PV64_VIRT_START = -0x800000000000;

function putString(ctx: HypercallContext, s: string, size: number): number {
  const buf = new Uint8Array(size);
  buf.set(new TextEncoder().encode(s).subarray(0, size - 1));
  return ctx.mem.write(ctx.arg(2), buf) ? 0 : -XEN_EFAULT;
}

export const xenVersion: Handler = (ctx) => {
  const cmd = cmdOf(ctx, 1);
  switch (cmd) {
    case V.XENVER_version:
      ctx.subop('XENVER_version');
      return (XEN_MAJOR << 16) | XEN_MINOR;
    case V.XENVER_extraversion:
      ctx.subop('XENVER_extraversion');
      return putString(ctx, XEN_EXTRAVERSION, V.XEN_EXTRAVERSION_LEN);
    case V.XENVER_compile_info: {
      ctx.subop('XENVER_compile_info');
      const buf = new Uint8Array(64 + 16 + 32 + 32);
      const enc = new TextEncoder();
      buf.set(enc.encode('xenlab'), 0);
      buf.set(enc.encode('xenlab'), 64);
      buf.set(enc.encode('xenlab'), 80);
      buf.set(enc.encode('deterministic'), 112);
      return ctx.mem.write(ctx.arg(2), buf) ? 0 : -XEN_EFAULT;
    }
    case V.XENVER_capabilities:
      ctx.subop('XENVER_capabilities');
      return putString(ctx, 'xen-3.0-x86_64', V.XEN_CAPABILITIES_INFO_LEN);
    case V.XENVER_changeset:
      ctx.subop('XENVER_changeset');
      return putString(ctx, 'xenlab', V.XEN_CHANGESET_INFO_LEN);
    case V.XENVER_platform_parameters: {
      ctx.subop('XENVER_platform_parameters');
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigInt64(0, BigInt(PV64_VIRT_START), true);
      return ctx.mem.write(ctx.arg(2), b) ? 0 : -XEN_EFAULT;
    }
    case V.XENVER_get_features: {
      ctx.subop('XENVER_get_features');
      const b = new Uint8Array(8);
      if (!ctx.mem.read(ctx.arg(2), b)) return -XEN_EFAULT;
      const dv = new DataView(b.buffer);
      const submap = dv.getUint32(0, true);
      if (submap !== 0) {
        ctx.domain.stats.recordFeatureQuery(submap, '-EINVAL');
        return -XEN_EINVAL;
      }
      const bits = ctx.domain.features >>> 0;
      dv.setUint32(4, bits, true);
      const written = ctx.mem.write(ctx.arg(2) + 4, b.subarray(4));
      // For reports (which feature bits the guest checked): the submap asked and what it was told.
      if (written) ctx.domain.stats.recordFeatureQuery(submap, 'ok', bits);
      else ctx.domain.stats.recordFeatureQuery(submap, '-EFAULT');
      return written ? 0 : -XEN_EFAULT;
    }
    case V.XENVER_pagesize:
      ctx.subop('XENVER_pagesize');
      return 4096;
    case V.XENVER_guest_handle:
      ctx.subop('XENVER_guest_handle');
      return ctx.mem.write(ctx.arg(2), ctx.domain.uuid) ? 0 : -XEN_EFAULT;
    case V.XENVER_commandline:
    case V.XENVER_build_id:
      // Privileged: a domU is refused (xsm_xen_version).
      ctx.subop(cmd === V.XENVER_commandline ? 'XENVER_commandline' : 'XENVER_build_id');
      return -XEN_EPERM;
    default:
      ctx.subop(`xen_version ${cmd}`);
      return -XEN_ENOSYS;
  }
};
