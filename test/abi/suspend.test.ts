/**
 * SHUTDOWN_suspend (abi/hypercall/sched.ts) and its cancellation (Domain.resumeCancelled): the
 * hypercall returns 0 and the domain stops suspended; a cancel makes it return 1 instead and the
 * same domain runs on; a domain that is not suspended cannot be "resumed".
 */
import { describe, expect, it } from 'vitest';
import * as X from '../../abi/public/xen.js';
import { XEN_EFAULT } from '../../abi/public/errno.js';
import { ARG, pvDomain } from './pv-domain.js';

const SCHEDOP_shutdown = 2;
const SHUTDOWN_suspend = 2;

describe('SHUTDOWN_suspend', () => {
  it('returns 0 with start_info in RDX untouched; the domain stops suspended', () => {
    const p = pvDomain();
    p.u64s(ARG, [SHUTDOWN_suspend]);
    expect(p.call(X.__HYPERVISOR_sched_op, SCHEDOP_shutdown, ARG, 0x1234)).toBe(0);
    expect(p.d.state).toEqual({ kind: 'shutdown', reason: SHUTDOWN_suspend, code: 0 });
    expect(p.d.suspended).toBe(true);
    expect(p.d.running).toBe(false);
    expect(p.v.cpu.stopRequested).toBe(true);
    expect(p.v.reg(2)).toBe(0x1234);
    expect(p.d.stats.list()).toContainEqual({ hypercall: 'sched_op', subop: 'SCHEDOP_shutdown', result: 'ok', count: 1 });
  });

  it('a cancelled suspend returns 1 in the same domain, which runs on', () => {
    const p = pvDomain();
    p.u64s(ARG, [SHUTDOWN_suspend]);
    p.v.setReg(0, p.call(X.__HYPERVISOR_sched_op, SCHEDOP_shutdown, ARG, 0));
    expect(p.d.resumeCancelled()).toBe(true);
    expect(p.v.reg(0)).toBe(1);
    expect(p.d.running).toBe(true);
    expect(p.v.cpu.stopRequested).toBe(false);
    // Only a suspended domain can be resumed.
    expect(p.d.resumeCancelled()).toBe(false);
    p.u64s(ARG, [0]);
    expect(() => p.call(X.__HYPERVISOR_sched_op, SCHEDOP_shutdown, ARG)).toThrow(/no-return/);
    expect(p.d.resumeCancelled()).toBe(false);
    expect(p.d.state).toMatchObject({ kind: 'shutdown', reason: 0 });
  });

  it('the legacy sched_op suspends by value; an unreadable argument is -EFAULT and nothing stops', () => {
    const p = pvDomain();
    expect(p.call(X.__HYPERVISOR_sched_op_compat, SCHEDOP_shutdown, SHUTDOWN_suspend)).toBe(0);
    expect(p.d.suspended).toBe(true);
    const q = pvDomain();
    expect(q.call(X.__HYPERVISOR_sched_op, SCHEDOP_shutdown, 0x7ff000000000)).toBe(-XEN_EFAULT);
    expect(q.d.running).toBe(true);
  });
});

describe('Domain.vmAssistEnabled', () => {
  it('keeps m2p_strict (type 32) in bit 31: 4gb_segments (type 0) does not read as m2p_strict', () => {
    const p = pvDomain();
    p.d.vmAssist = 0x2d; // Linux's: 4gb_segments, writable_pagetables, pae_extended_cr3, runstate_update_flag
    expect([0, 2, 3, 5].map((t) => p.d.vmAssistEnabled(t))).toEqual([true, true, true, true]);
    expect(p.d.vmAssistEnabled(32)).toBe(false);
    expect(p.d.mmu === undefined || !p.d.mmu.m2pStrict()).toBe(true);
    p.d.vmAssist |= 1 << 31;
    expect(p.d.vmAssistEnabled(32)).toBe(true);
    expect([31, 33, -1].map((t) => p.d.vmAssistEnabled(t))).toEqual([false, false, false]);
  });
});
