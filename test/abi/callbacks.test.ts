/**
 * callback_op, set_callbacks and nmi_op (abi/hypercall/cpu.ts) against Xen's pv/callback.c:
 * the NMI callback lives in trap-table slot 2 with events masked, unregistering is for the NMI
 * only, set_callbacks ignores the result of each registration.
 */
import { describe, expect, it } from 'vitest';
import * as CB from '../../abi/public/callback.js';
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOSYS } from '../../abi/public/errno.js';
import * as NMI from '../../abi/public/nmi.js';
import * as X from '../../abi/public/xen.js';
import { ARG, UNMAPPED, pvDomain, type PvDomain } from './pv-domain.js';

const KERNEL = -0x7fff0000; // 0xffffffff80010000

function registration(p: PvDomain, type: number, flags: number, address: number | bigint): void {
  p.u64s(ARG, [BigInt(type) | (BigInt(flags) << 16n), address]);
}

describe('nmi_op', () => {
  it('XENNMI_register_callback puts the handler in trap slot 2 with events masked; unregister clears it', () => {
    const p = pvDomain();
    p.u64s(ARG, [KERNEL, 0]);
    expect(p.call(X.__HYPERVISOR_nmi_op, NMI.XENNMI_register_callback, ARG)).toBe(0);
    expect(p.v.trapAddress[2]).toBe(KERNEL);
    expect(p.v.trapFlags[2]).toBe(4);
    expect(p.call(X.__HYPERVISOR_nmi_op, NMI.XENNMI_unregister_callback, UNMAPPED)).toBe(0);
    expect([p.v.trapAddress[2], p.v.trapFlags[2]]).toEqual([0, 0]);
  });

  it('a non-canonical handler is -EINVAL, an unreadable argument -EFAULT, another command -ENOSYS', () => {
    const p = pvDomain();
    p.u64s(ARG, [0x800000000000, 0]);
    expect(p.call(X.__HYPERVISOR_nmi_op, NMI.XENNMI_register_callback, ARG)).toBe(-XEN_EINVAL);
    expect(p.v.trapAddress[2]).toBe(0);
    expect(p.call(X.__HYPERVISOR_nmi_op, NMI.XENNMI_register_callback, UNMAPPED)).toBe(-XEN_EFAULT);
    // The whole xennmi_callback (16 bytes) is read.
    p.u64s(0x20000 - 8, [KERNEL]);
    expect(p.call(X.__HYPERVISOR_nmi_op, NMI.XENNMI_register_callback, 0x20000 - 8)).toBe(-XEN_EFAULT);
    expect(p.call(X.__HYPERVISOR_nmi_op, 2, ARG)).toBe(-XEN_ENOSYS);
    expect(p.d.stats.list()).toContainEqual({ hypercall: 'nmi_op', subop: 'XENNMI_register_callback', result: '-EINVAL', count: 1 });
  });
});

describe('callback_op', () => {
  it('CALLBACKTYPE_nmi registers trap slot 2 as nmi_op does; unregistering it clears the slot', () => {
    const p = pvDomain();
    registration(p, CB.CALLBACKTYPE_nmi, 0, KERNEL);
    expect(p.call(X.__HYPERVISOR_callback_op, CB.CALLBACKOP_register, ARG)).toBe(0);
    expect([p.v.trapAddress[2], p.v.trapFlags[2]]).toEqual([KERNEL, 4]);
    p.u64s(ARG, [CB.CALLBACKTYPE_nmi]);
    expect(p.call(X.__HYPERVISOR_callback_op, CB.CALLBACKOP_unregister, ARG)).toBe(0);
    expect(p.v.trapAddress[2]).toBe(0);
  });

  it('unregister: known types other than NMI are -EINVAL, unknown ones -ENOSYS, 4 bytes are read', () => {
    const p = pvDomain();
    for (const t of [CB.CALLBACKTYPE_event, CB.CALLBACKTYPE_failsafe, CB.CALLBACKTYPE_syscall, CB.CALLBACKTYPE_syscall32, CB.CALLBACKTYPE_sysenter]) {
      p.u64s(ARG, [t]);
      expect(p.call(X.__HYPERVISOR_callback_op, CB.CALLBACKOP_unregister, ARG), `type ${t}`).toBe(-XEN_EINVAL);
    }
    for (const t of [CB.CALLBACKTYPE_sysenter_deprecated, 6, 8]) {
      p.u64s(ARG, [t]);
      expect(p.call(X.__HYPERVISOR_callback_op, CB.CALLBACKOP_unregister, ARG), `type ${t}`).toBe(-XEN_ENOSYS);
    }
    p.write(0x20000 - 2, new Uint8Array([CB.CALLBACKTYPE_nmi, 0]));
    expect(p.call(X.__HYPERVISOR_callback_op, CB.CALLBACKOP_unregister, 0x20000 - 2)).toBe(-XEN_EFAULT);
  });

  it('register: the mask flag is kept for failsafe, syscall, syscall32 and sysenter', () => {
    const p = pvDomain();
    for (const t of [CB.CALLBACKTYPE_failsafe, CB.CALLBACKTYPE_syscall, CB.CALLBACKTYPE_syscall32, CB.CALLBACKTYPE_sysenter]) {
      registration(p, t, CB.CALLBACKF_mask_events, KERNEL + t);
      expect(p.call(X.__HYPERVISOR_callback_op, CB.CALLBACKOP_register, ARG)).toBe(0);
    }
    const v = p.v;
    expect([v.failsafeCallback, v.syscallCallback, v.syscall32Callback, v.sysenterCallback]).toEqual([KERNEL + 1, KERNEL + 2, KERNEL + 7, KERNEL + 5]);
    expect([v.failsafeMaskEvents, v.syscallMaskEvents, v.syscall32MaskEvents, v.sysenterMaskEvents]).toEqual([true, true, true, true]);
    registration(p, 9, 0, KERNEL);
    expect(p.call(X.__HYPERVISOR_callback_op, CB.CALLBACKOP_register, ARG)).toBe(-XEN_ENOSYS);
    registration(p, CB.CALLBACKTYPE_event, 0, 0x800000000000);
    expect(p.call(X.__HYPERVISOR_callback_op, CB.CALLBACKOP_register, ARG)).toBe(-XEN_EINVAL);
  });
});

describe('set_callbacks', () => {
  it('registers all three with flags 0 and returns 0 even when one address is not canonical (that one is left)', () => {
    const p = pvDomain();
    registration(p, CB.CALLBACKTYPE_syscall, CB.CALLBACKF_mask_events, KERNEL);
    p.call(X.__HYPERVISOR_callback_op, CB.CALLBACKOP_register, ARG);
    registration(p, CB.CALLBACKTYPE_failsafe, CB.CALLBACKF_mask_events, KERNEL + 0x10);
    p.call(X.__HYPERVISOR_callback_op, CB.CALLBACKOP_register, ARG);
    expect(p.call(X.__HYPERVISOR_set_callbacks, KERNEL + 0x100, 0x800000000000, KERNEL + 0x300)).toBe(0);
    expect([p.v.eventCallback, p.v.failsafeCallback, p.v.syscallCallback]).toEqual([KERNEL + 0x100, KERNEL + 0x10, KERNEL + 0x300]);
    // The failsafe registration failed, so its mask flag is unchanged; syscall's is cleared.
    expect([p.v.failsafeMaskEvents, p.v.syscallMaskEvents]).toEqual([true, false]);
  });
});
