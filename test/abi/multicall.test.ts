/**
 * multicall (abi/hypercall/multicall.ts) against Xen's do_multicall: entries run through the
 * same table (and its statistics), results written per entry, failures inside the batch leave
 * the multicall's own result at 0, nesting is -EINVAL, a bad list -EFAULT, iret ends the batch.
 */
import { describe, expect, it } from 'vitest';
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOSYS } from '../../abi/public/errno.js';
import { XENVER_version } from '../../abi/public/version.js';
import * as X from '../../abi/public/xen.js';
import { NO_RETURN } from '../../abi/pv/vcpu.js';
import { ARG, LIST, UNMAPPED, pvDomain, type PvDomain } from './pv-domain.js';

type Entry = readonly [op: number | bigint, ...args: (number | bigint)[]];

/** Writes entries (op, result = 0x5a5a..., args) at LIST. */
function entries(p: PvDomain, list: readonly Entry[], at = LIST): void {
  list.forEach(([op, ...args], k) => {
    p.u64s(at + k * 64, [op, 0x5a5a5a5a5a5a5a5an, ...[0, 1, 2, 3, 4, 5].map((a) => args[a] ?? 0)]);
  });
}

/** The exact signed result of entry k. */
function result(p: PvDomain, k: number, at = LIST): bigint {
  const b = new Uint8Array(8);
  p.v.mem.read(at + k * 64 + 8, b);
  return new DataView(b.buffer).getBigInt64(0, true);
}

function results(p: PvDomain, n: number, at = LIST): bigint[] {
  return Array.from({ length: n }, (_, k) => result(p, k, at));
}

describe('multicall', () => {
  it('runs every entry through the table, writes each result, returns 0 despite failing entries', () => {
    const p = pvDomain();
    entries(p, [
      [X.__HYPERVISOR_xen_version, XENVER_version, 0],
      [60],
      [X.__HYPERVISOR_vm_assist, X.VMASST_CMD_enable, 31],
      [X.__HYPERVISOR_vm_assist, X.VMASST_CMD_enable, X.VMASST_TYPE_writable_pagetables],
    ]);
    expect(p.call(X.__HYPERVISOR_multicall, LIST, 4)).toBe(0);
    expect([0, 1, 2, 3].map((k) => result(p, k))).toEqual([0x40011n, BigInt(-XEN_ENOSYS), BigInt(-XEN_EINVAL), 0n]);
    expect(p.d.vmAssist & (1 << X.VMASST_TYPE_writable_pagetables)).not.toBe(0);
    // The other words of each entry are left as they were (a release build).
    expect(p.readU64(LIST + 16, 2)).toEqual([XENVER_version, 0]);
    const stats = p.d.stats.list();
    expect(stats).toContainEqual({ hypercall: 'multicall', subop: '', result: 'ok', count: 1 });
    expect(stats).toContainEqual({ hypercall: 'xen_version', subop: 'XENVER_version', result: 'positive', count: 1 });
    expect(stats).toContainEqual({ hypercall: 'hypercall_60', subop: '', result: '-ENOSYS', count: 1 });
    expect(stats).toContainEqual({ hypercall: 'vm_assist', subop: 'VMASST_CMD_enable', result: '-EINVAL', count: 1 });
    expect(stats).toContainEqual({ hypercall: 'vm_assist', subop: 'VMASST_CMD_enable', result: 'ok', count: 1 });
  });

  it('an op with high bits set matches no hypercall (-ENOSYS); only args[0..4] reach the call', () => {
    const p = pvDomain();
    entries(p, [[(1n << 32n) | BigInt(X.__HYPERVISOR_xen_version), XENVER_version], [X.__HYPERVISOR_xen_version, XENVER_version, 0, 0, 0, 0, 0x1234]]);
    expect(p.call(X.__HYPERVISOR_multicall, LIST, 2)).toBe(0);
    expect(results(p, 2)).toEqual([BigInt(-XEN_ENOSYS), 0x40011n]);
  });

  it('a nested multicall is -EINVAL in its entry and the batch goes on; the flag is cleared afterwards', () => {
    const p = pvDomain();
    entries(p, [[X.__HYPERVISOR_xen_version, XENVER_version], [X.__HYPERVISOR_multicall, LIST, 1], [X.__HYPERVISOR_xen_version, XENVER_version]]);
    expect(p.call(X.__HYPERVISOR_multicall, LIST, 3)).toBe(0);
    expect(results(p, 3)).toEqual([0x40011n, BigInt(-XEN_EINVAL), 0x40011n]);
    expect(p.v.inMulticall).toBe(false);
    // A later multicall is allowed again.
    expect(p.call(X.__HYPERVISOR_multicall, LIST, 1)).toBe(0);
  });

  it('a list outside __addr_ok is -EFAULT before anything runs; an unreadable entry stops the batch with -EFAULT', () => {
    const p = pvDomain();
    expect(p.call(X.__HYPERVISOR_multicall, -0x800000000000, 1)).toBe(-XEN_EFAULT); // Xen's own area
    expect(p.call(X.__HYPERVISOR_multicall, 0x800000000000, 0)).toBe(-XEN_EFAULT); // non-canonical, even with no entries
    expect(p.call(X.__HYPERVISOR_multicall, UNMAPPED, 0)).toBe(0);
    expect(p.call(X.__HYPERVISOR_multicall, UNMAPPED, 1)).toBe(-XEN_EFAULT);
    // Two entries at the end of the mapped range: the first runs, the second cannot be read.
    const at = 0x20000 - 64;
    entries(p, [[X.__HYPERVISOR_vm_assist, X.VMASST_CMD_enable, X.VMASST_TYPE_pae_extended_cr3]], at);
    expect(p.call(X.__HYPERVISOR_multicall, at, 2)).toBe(-XEN_EFAULT);
    expect(result(p, 0, at)).toBe(0n);
    expect(p.d.vmAssist & (1 << X.VMASST_TYPE_pae_extended_cr3)).not.toBe(0);
  });

  it('iret ends the batch (mc_exit): the vCPU returns where the iret context says, its RAX in the result', () => {
    const p = pvDomain();
    const sp = 0x1e000;
    p.v.setReg(4, sp);
    // iret_context: rax, r11, rcx, flags, rip, cs, rflags, rsp, ss
    p.u64s(sp, [0x77, 0x11, 0x22, 0, 0x9000, 0xe030, 0x202, 0x1d000, 0xe02b]); // CS RPL 0: stay in kernel mode
    entries(p, [[X.__HYPERVISOR_vm_assist, X.VMASST_CMD_enable, X.VMASST_TYPE_pae_extended_cr3], [X.__HYPERVISOR_iret], [X.__HYPERVISOR_vm_assist, X.VMASST_CMD_enable, X.VMASST_TYPE_writable_pagetables]]);
    p.v.setReg(7, LIST);
    p.v.setReg(6, 3);
    expect(p.xen.hypercall(p.v, X.__HYPERVISOR_multicall)).toBe(NO_RETURN);
    expect(p.v.cpu.rip).toBe(0x9000);
    expect(p.v.reg(0)).toBe(0x77);
    expect(p.v.reg(4)).toBe(0x1d000);
    expect(results(p, 3)).toEqual([0n, 0x77n, 0x5a5a5a5a5a5a5a5an]);
    expect(p.d.vmAssist & (1 << X.VMASST_TYPE_writable_pagetables)).toBe(0);
    expect(p.v.inMulticall).toBe(false);
  });

  it('a shutdown inside the batch ends it; the domain is shut down', () => {
    const p = pvDomain();
    p.u64s(ARG, [0]); // SHUTDOWN_poweroff
    entries(p, [[X.__HYPERVISOR_sched_op, 2 /* SCHEDOP_shutdown */, ARG], [X.__HYPERVISOR_vm_assist, X.VMASST_CMD_enable, X.VMASST_TYPE_writable_pagetables]]);
    p.v.setReg(7, LIST);
    p.v.setReg(6, 2);
    expect(p.xen.hypercall(p.v, X.__HYPERVISOR_multicall)).toBe(NO_RETURN);
    expect(p.d.state).toEqual({ kind: 'shutdown', reason: 0, code: 0 });
    expect(results(p, 2)).toEqual([0n, 0x5a5a5a5a5a5a5a5an]);
  });
});
