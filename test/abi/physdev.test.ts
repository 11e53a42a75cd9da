/**
 * physdev_op and physdev_op_compat (abi/hypercall/physdev.ts) as Xen 4.17 answers an
 * unprivileged PV domU: every sub-op's success or refusal, in Xen's order of checks.
 */
import { describe, expect, it } from 'vitest';
import { NR_IRQS_GSI, NR_PIRQS } from '../../abi/hypercall/physdev.js';
import { XEN_EBUSY, XEN_EFAULT, XEN_EINVAL, XEN_ENODEV, XEN_ENOSPC, XEN_ENOSYS, XEN_EPERM, XEN_ESRCH } from '../../abi/public/errno.js';
import * as P from '../../abi/public/physdev.js';
import * as X from '../../abi/public/xen.js';
import { ARG, UNMAPPED, pvDomain, type PvDomain } from './pv-domain.js';

const physdev = (p: PvDomain, cmd: number, arg = ARG): number => p.call(X.__HYPERVISOR_physdev_op, cmd, arg);

function u32s(p: PvDomain, at: number, values: readonly number[]): void {
  const b = new Uint8Array(values.length * 4);
  const dv = new DataView(b.buffer);
  values.forEach((x, k) => dv.setUint32(k * 4, x >>> 0, true));
  p.write(at, b);
}

function readU32(p: PvDomain, at: number, n: number): number[] {
  const b = new Uint8Array(n * 4);
  p.v.mem.read(at, b);
  const dv = new DataView(b.buffer);
  return Array.from({ length: n }, (_, k) => dv.getUint32(k * 4, true));
}

describe('physdev_op: the I/O privilege of a vCPU', () => {
  it('set_iopl takes 0-3 into the vCPU, refuses more with -EINVAL, a bad pointer with -EFAULT', () => {
    const p = pvDomain();
    u32s(p, ARG, [3]);
    expect(physdev(p, P.PHYSDEVOP_set_iopl)).toBe(0);
    expect(p.v.iopl).toBe(3);
    u32s(p, ARG, [4]);
    expect(physdev(p, P.PHYSDEVOP_set_iopl)).toBe(-XEN_EINVAL);
    expect(p.v.iopl).toBe(3);
    expect(physdev(p, P.PHYSDEVOP_set_iopl, UNMAPPED)).toBe(-XEN_EFAULT);
  });

  it('set_iobitmap stores the bitmap address and port count; refuses > 65536 ports and Xen-area bitmaps', () => {
    const p = pvDomain();
    p.u64s(ARG, [0x12000, 0x400]);
    expect(physdev(p, P.PHYSDEVOP_set_iobitmap)).toBe(0);
    expect([p.v.iobmp, p.v.iobmpLimit]).toEqual([0x12000, 0x400]);
    p.u64s(ARG, [0x12000, 65537]);
    expect(physdev(p, P.PHYSDEVOP_set_iobitmap)).toBe(-XEN_EINVAL);
    p.u64s(ARG, [0xffff800000001000n, 16]);
    expect(physdev(p, P.PHYSDEVOP_set_iobitmap)).toBe(-XEN_EINVAL);
    // Only the start is checked (access_ok), and an unmapped bitmap is accepted.
    p.u64s(ARG, [UNMAPPED, 65536]);
    expect(physdev(p, P.PHYSDEVOP_set_iobitmap)).toBe(0);
    expect([p.v.iobmp, p.v.iobmpLimit]).toEqual([UNMAPPED, 65536]);
    expect(physdev(p, P.PHYSDEVOP_set_iobitmap, UNMAPPED)).toBe(-XEN_EFAULT);
  });
});

describe('physdev_op: PIRQs of a domU', () => {
  it('irq_status_query: needs_eoi for any PIRQ below nr_pirqs, -EINVAL beyond or negative', () => {
    const p = pvDomain();
    u32s(p, ARG, [NR_PIRQS - 1, 0xdead]);
    expect(physdev(p, P.PHYSDEVOP_irq_status_query)).toBe(0);
    expect(readU32(p, ARG, 2)).toEqual([NR_PIRQS - 1, P.XENIRQSTAT_needs_eoi]);
    for (const irq of [NR_PIRQS, 0x80000000]) {
      u32s(p, ARG, [irq, 0xdead]);
      expect(physdev(p, P.PHYSDEVOP_irq_status_query)).toBe(-XEN_EINVAL);
      expect(readU32(p, ARG, 2)).toEqual([irq, 0xdead]);
    }
    expect(physdev(p, P.PHYSDEVOP_irq_status_query, UNMAPPED)).toBe(-XEN_EFAULT);
  });

  it('get_free_pirq: GSI type from 16 up, others from nr_pirqs-1 down; eoi only for allocated PIRQs', () => {
    const p = pvDomain();
    u32s(p, ARG, [P.MAP_PIRQ_TYPE_GSI, 0]);
    expect(physdev(p, P.PHYSDEVOP_get_free_pirq)).toBe(0);
    expect(readU32(p, ARG, 2)).toEqual([P.MAP_PIRQ_TYPE_GSI, 16]);
    u32s(p, ARG, [P.MAP_PIRQ_TYPE_MSI, 0]);
    expect(physdev(p, P.PHYSDEVOP_get_free_pirq)).toBe(0);
    expect(readU32(p, ARG, 2)[1]).toBe(NR_PIRQS - 1);
    // eoi: allocated → 0; in range but never allocated → -EINVAL; beyond nr_pirqs → -EINVAL.
    u32s(p, ARG, [16]);
    expect(physdev(p, P.PHYSDEVOP_eoi)).toBe(0);
    u32s(p, ARG, [17]);
    expect(physdev(p, P.PHYSDEVOP_eoi)).toBe(-XEN_EINVAL);
    u32s(p, ARG, [NR_PIRQS]);
    expect(physdev(p, P.PHYSDEVOP_eoi)).toBe(-XEN_EINVAL);
    expect(physdev(p, P.PHYSDEVOP_eoi, UNMAPPED)).toBe(-XEN_EFAULT);
    // Exhaust them: the rest of 16..NR_IRQS_GSI-1, then the upper range downwards, then -ENOSPC.
    let n = 2;
    for (;;) {
      u32s(p, ARG, [P.MAP_PIRQ_TYPE_GSI, 0]);
      const r = physdev(p, P.PHYSDEVOP_get_free_pirq);
      if (r !== 0) {
        expect(r).toBe(-XEN_ENOSPC);
        break;
      }
      n++;
    }
    expect(n).toBe(NR_IRQS_GSI - 16 + (NR_PIRQS - NR_IRQS_GSI));
    expect(physdev(p, P.PHYSDEVOP_get_free_pirq, UNMAPPED)).toBe(-XEN_EFAULT);
  });

  it('pirq_eoi_gmfn: a writable frame of the domain once (-EBUSY after), -EINVAL for others; v1 sets auto-unmask', () => {
    const p = pvDomain();
    const mfn = p.p2m[10] as number;
    p.u64s(ARG, [p.other[0] as number]);
    expect(physdev(p, P.PHYSDEVOP_pirq_eoi_gmfn_v2)).toBe(-XEN_EINVAL);
    p.u64s(ARG, [p.p2m[3] as number]); // the L1 table: cannot be typed writable
    expect(physdev(p, P.PHYSDEVOP_pirq_eoi_gmfn_v2)).toBe(-XEN_EINVAL);
    p.u64s(ARG, [2n ** 60n]);
    expect(physdev(p, P.PHYSDEVOP_pirq_eoi_gmfn_v2)).toBe(-XEN_EINVAL);
    const before = p.mem.typeCount[mfn];
    p.u64s(ARG, [mfn]);
    expect(physdev(p, P.PHYSDEVOP_pirq_eoi_gmfn_v1)).toBe(0);
    expect(p.d.physdev?.eoiMapMfn).toBe(mfn);
    expect(p.d.physdev?.autoUnmask).toBe(true);
    expect(p.mem.typeCount[mfn]).toBe((before as number) + 1);
    expect(physdev(p, P.PHYSDEVOP_pirq_eoi_gmfn_v2)).toBe(-XEN_EBUSY);
    expect(p.mem.typeCount[mfn]).toBe((before as number) + 1);
    expect(physdev(p, P.PHYSDEVOP_pirq_eoi_gmfn_v2, UNMAPPED)).toBe(-XEN_EFAULT);
  });

  it('map_pirq / unmap_pirq: -ESRCH for no domain, else -EPERM; map_pirq writes the struct back', () => {
    const p = pvDomain();
    const map = (domid: number, type: number, tableBase = 0n) => {
      const b = new Uint8Array(40);
      const dv = new DataView(b.buffer);
      dv.setUint16(0, domid, true);
      dv.setInt32(4, type, true);
      dv.setInt32(8, 5, true); // index
      dv.setInt32(12, -1, true); // pirq
      dv.setBigUint64(32, tableBase, true);
      p.write(ARG, b);
      return physdev(p, P.PHYSDEVOP_map_pirq);
    };
    expect(map(X.DOMID_SELF, P.MAP_PIRQ_TYPE_GSI)).toBe(-XEN_EPERM);
    expect(map(1, P.MAP_PIRQ_TYPE_GSI)).toBe(-XEN_EPERM);
    expect(map(0, P.MAP_PIRQ_TYPE_MSI)).toBe(-XEN_EPERM);
    expect(map(77, P.MAP_PIRQ_TYPE_GSI)).toBe(-XEN_ESRCH);
    expect(map(X.DOMID_SELF, P.MAP_PIRQ_TYPE_MULTI_MSI, 0x1000n)).toBe(-XEN_EINVAL);
    expect(map(X.DOMID_SELF, P.MAP_PIRQ_TYPE_MSI_SEG)).toBe(-XEN_EPERM);
    expect(readU32(p, ARG + 4, 1)[0]).toBe(P.MAP_PIRQ_TYPE_MSI); // Xen rewrote the type
    expect(physdev(p, P.PHYSDEVOP_map_pirq, UNMAPPED)).toBe(-XEN_EFAULT);
    u32s(p, ARG, [X.DOMID_SELF, 16]);
    expect(physdev(p, P.PHYSDEVOP_unmap_pirq)).toBe(-XEN_EPERM);
    u32s(p, ARG, [77, 16]);
    expect(physdev(p, P.PHYSDEVOP_unmap_pirq)).toBe(-XEN_ESRCH);
    expect(physdev(p, P.PHYSDEVOP_unmap_pirq, UNMAPPED)).toBe(-XEN_EFAULT);
  });
});

describe('physdev_op: hardware-domain sub-ops', () => {
  it('apic, IRQ vectors, PCI management and MSI-X: -EFAULT for a bad pointer, else -EPERM (XSM dummy policy)', () => {
    const p = pvDomain();
    u32s(p, ARG, [0, 0, 0, 0]);
    for (const cmd of [P.PHYSDEVOP_apic_read, P.PHYSDEVOP_apic_write, P.PHYSDEVOP_alloc_irq_vector, P.PHYSDEVOP_manage_pci_add, P.PHYSDEVOP_manage_pci_remove, P.PHYSDEVOP_manage_pci_add_ext, P.PHYSDEVOP_prepare_msix, P.PHYSDEVOP_release_msix, P.PHYSDEVOP_pci_device_add, P.PHYSDEVOP_pci_device_remove]) {
      expect(physdev(p, cmd), `cmd ${cmd}`).toBe(-XEN_EPERM);
      expect(physdev(p, cmd, UNMAPPED), `cmd ${cmd}`).toBe(-XEN_EFAULT);
    }
  });

  it('manage_pci_add_ext checks its flags first; setup_gsi its range; pci_device_add reads the proximity word with PXM', () => {
    const p = pvDomain();
    u32s(p, ARG, [0, 2, 0, 0]);
    expect(physdev(p, P.PHYSDEVOP_manage_pci_add_ext)).toBe(-XEN_EINVAL);
    for (const [gsi, r] of [[0, -XEN_EPERM], [NR_IRQS_GSI - 1, -XEN_EPERM], [NR_IRQS_GSI, -XEN_EINVAL], [-1, -XEN_EINVAL]] as const) {
      u32s(p, ARG, [gsi, 0]);
      expect(physdev(p, P.PHYSDEVOP_setup_gsi), `gsi ${gsi}`).toBe(r);
    }
    // pci_device_add: 12 bytes, then with XEN_PCI_DEV_PXM the word after them.
    const at = 0x20000 - 12;
    u32s(p, at, [0, P.XEN_PCI_DEV_PXM, 0]);
    expect(physdev(p, P.PHYSDEVOP_pci_device_add, at)).toBe(-XEN_EFAULT);
    u32s(p, at, [0, 0, 0]);
    expect(physdev(p, P.PHYSDEVOP_pci_device_add, at)).toBe(-XEN_EPERM);
  });

  it('pci_mmcfg_reserved and dbgp_op refuse before reading; restore_msi finds no device; unknown sub-ops are -ENOSYS', () => {
    const p = pvDomain();
    expect(physdev(p, P.PHYSDEVOP_pci_mmcfg_reserved, UNMAPPED)).toBe(-XEN_EPERM);
    expect(physdev(p, P.PHYSDEVOP_dbgp_op, UNMAPPED)).toBe(-XEN_EPERM);
    expect(physdev(p, P.PHYSDEVOP_restore_msi)).toBe(-XEN_ENODEV);
    expect(physdev(p, P.PHYSDEVOP_restore_msi_ext)).toBe(-XEN_ENODEV);
    expect(physdev(p, P.PHYSDEVOP_restore_msi, UNMAPPED)).toBe(-XEN_EFAULT);
    expect(physdev(p, P.PHYSDEVOP_IRQ_UNMASK_NOTIFY, UNMAPPED)).toBe(0);
    for (const cmd of [0, 1, 2, 3, P.PHYSDEVOP_free_irq_vector, 18, 22, 32, 0x80000000]) expect(physdev(p, cmd), `cmd ${cmd}`).toBe(-XEN_ENOSYS);
    expect(p.d.stats.list()).toContainEqual({ hypercall: 'physdev_op', subop: 'PHYSDEVOP_free_irq_vector', result: '-ENOSYS', count: 1 });
  });
});

describe('physdev_op_compat', () => {
  it('reads the whole struct physdev_op, then runs its cmd on the union inside it', () => {
    const p = pvDomain();
    u32s(p, ARG, [P.PHYSDEVOP_set_iopl, 0, 2, 0, 0, 0]);
    expect(p.call(X.__HYPERVISOR_physdev_op_compat, ARG)).toBe(0);
    expect(p.v.iopl).toBe(2);
    u32s(p, ARG, [P.PHYSDEVOP_irq_status_query, 0, 3, 0, 0, 0]);
    expect(p.call(X.__HYPERVISOR_physdev_op_compat, ARG)).toBe(0);
    expect(readU32(p, ARG + 8, 2)).toEqual([3, P.XENIRQSTAT_needs_eoi]);
    // 24 bytes are read even for a sub-op with a smaller argument.
    const at = 0x20000 - 16;
    u32s(p, at, [P.PHYSDEVOP_set_iopl, 0, 1, 0]);
    expect(p.call(X.__HYPERVISOR_physdev_op_compat, at)).toBe(-XEN_EFAULT);
  });
});
