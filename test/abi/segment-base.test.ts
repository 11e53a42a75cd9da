/**
 * set_segment_base (abi/hypercall/cpu.ts) against Xen's pv/misc-hypercalls.c: FS, the user and
 * kernel GS bases, and SEGBASE_GS_USER_SEL loading %gs with the user base active (probe-traps
 * found the selector was not loaded).
 */
import { describe, expect, it } from 'vitest';
import { XEN_EINVAL } from '../../abi/public/errno.js';
import * as X from '../../abi/public/xen.js';
import { pvDomain } from './pv-domain.js';

const SEGBASE_FS = 0;
const SEGBASE_GS_USER = 1;
const SEGBASE_GS_KERNEL = 2;
const SEGBASE_GS_USER_SEL = 3;

describe('set_segment_base', () => {
  it('FS, GS_KERNEL (active in kernel mode) and GS_USER (the inactive base)', () => {
    const p = pvDomain();
    expect(p.call(X.__HYPERVISOR_set_segment_base, SEGBASE_FS, 0x1000n)).toBe(0);
    expect(p.call(X.__HYPERVISOR_set_segment_base, SEGBASE_GS_KERNEL, 0xffff888000000000n)).toBe(0);
    expect(p.call(X.__HYPERVISOR_set_segment_base, SEGBASE_GS_USER, 0x7f0000001000n)).toBe(0);
    expect(p.v.cpu.segBase[4]).toBe(0x1000);
    expect(p.v.cpu.segBase[5]).toBe(-0x778000000000);
    expect(p.v.inactiveGsBase).toBe(0x7f0000001000);
  });

  it('GS_USER_SEL loads %gs (RPL 3 forced), makes the user base the descriptor\'s and keeps the kernel base active', () => {
    const p = pvDomain();
    p.call(X.__HYPERVISOR_set_segment_base, SEGBASE_GS_KERNEL, 0x5000n);
    p.call(X.__HYPERVISOR_set_segment_base, SEGBASE_GS_USER, 0x6000n);
    expect(p.call(X.__HYPERVISOR_set_segment_base, SEGBASE_GS_USER_SEL, 0xe028n)).toBe(0);
    expect(p.v.cpu.segSel[5]).toBe(0xe02b);
    expect(p.v.inactiveGsBase).toBe(0);
    expect(p.v.cpu.segBase[5]).toBe(0x5000);
  });

  it('GS_USER_SEL with a selector that cannot be loaded leaves %gs null with user base 0 and returns 0', () => {
    const p = pvDomain();
    p.call(X.__HYPERVISOR_set_segment_base, SEGBASE_GS_USER_SEL, 0xe02bn);
    p.call(X.__HYPERVISOR_set_segment_base, SEGBASE_GS_USER, 0x6000n);
    // 0x1234: a guest GDT entry, and no guest GDT is set (not present); 0xe008 is Xen's DPL-0 code.
    for (const sel of [0x1234n, 0xe008n, 0xabcd1234n]) {
      expect(p.call(X.__HYPERVISOR_set_segment_base, SEGBASE_GS_USER_SEL, sel)).toBe(0);
      expect(p.v.cpu.segSel[5]).toBe(0);
      expect(p.v.inactiveGsBase).toBe(0);
    }
  });

  it('a non-canonical base or an unknown `which` is -EINVAL', () => {
    const p = pvDomain();
    expect(p.call(X.__HYPERVISOR_set_segment_base, SEGBASE_FS, 0x800000000000n)).toBe(-XEN_EINVAL);
    expect(p.call(X.__HYPERVISOR_set_segment_base, 4, 0n)).toBe(-XEN_EINVAL);
  });
});
