/**
 * physdev_op (33) and physdev_op_compat (19), as Xen 4.17 (arch/x86/physdev.c,
 * drivers/pci/physdev.c, arch/x86/compat.c) answers them for an unprivileged PV domU that the
 * toolstack gave no I/O ports, no IRQs and no PCI devices, on a host whose XSM policy is the
 * default ("dummy") one. Sub-ops, in the order Xen checks:
 *
 * | sub-op | what a domU gets |
 * |---|---|
 * | set_iopl | -EFAULT; iopl > 3 -EINVAL; else the vCPU's virtual IOPL, 0 |
 * | set_iobitmap | -EFAULT; a bitmap outside `__addr_ok` or nr_ports > 65536 -EINVAL; else the vCPU's bitmap, 0 |
 * | irq_status_query | -EFAULT; irq (as int) < 0 or ≥ nr_pirqs -EINVAL; else flags = XENIRQSTAT_needs_eoi, 0 |
 * | eoi | -EFAULT; irq ≥ nr_pirqs, or a PIRQ never allocated, -EINVAL; else 0 |
 * | IRQ_UNMASK_NOTIFY | 0 (no PIRQ is bound to an event channel) |
 * | pirq_eoi_gmfn_v1/v2 | -EFAULT; a frame that is not the domain's or cannot be typed writable -EINVAL; a second map -EBUSY; else 0 (v1 also turns on auto-unmask) |
 * | get_free_pirq | -EFAULT; the first free GSI PIRQ 16..nr_irqs_gsi-1 for MAP_PIRQ_TYPE_GSI, else the highest free one from nr_pirqs-1 down to nr_irqs_gsi; -ENOSPC; written back (-EFAULT) |
 * | map_pirq | -EFAULT; MULTI_MSI with a table_base -EINVAL; no such domain -ESRCH, else -EPERM; the struct is written back (MSI_SEG reads back as MSI) |
 * | unmap_pirq | -EFAULT; -ESRCH or -EPERM |
 * | apic_read, apic_write, alloc_irq_vector | -EFAULT; -EPERM |
 * | manage_pci_add/remove, prepare/release_msix, pci_device_add/remove | -EFAULT; -EPERM |
 * | manage_pci_add_ext | -EFAULT; is_extfn or is_virtfn > 1 -EINVAL; -EPERM |
 * | setup_gsi | -EFAULT; gsi < 0 or ≥ nr_irqs_gsi -EINVAL; -EPERM |
 * | restore_msi, restore_msi_ext | -EFAULT; -ENODEV (the machine has no PCI device; a real host's existing device gives -EPERM) |
 * | pci_mmcfg_reserved, dbgp_op | -EPERM before reading the argument |
 * | anything else (free_irq_vector included) | -ENOSYS, as Xen |
 *
 * The machine's interrupt controller is one IO-APIC with 24 pins (Xen's `nr_irqs_gsi`), so a
 * domU has Xen's default 24 + 32 (`extra_domU_irqs`) PIRQs.
 */
import { PageType } from '../hv/machine.js';
import type { Domain } from '../hv/domain.js';
import { View } from '../layout/view.js';
import { XEN_EBUSY, XEN_EFAULT, XEN_EINVAL, XEN_ENODEV, XEN_ENOSPC, XEN_ENOSYS, XEN_EPERM, XEN_ESRCH } from '../public/errno.js';
import { layout } from '../public/index.js';
import * as P from '../public/physdev.js';
import { DOMID_SELF } from '../public/xen.js';
import { addrOk } from '../pv/mmu.js';
import { cmdOf, type Handler, type HypercallContext } from './context.js';

/** Xen's `nr_irqs_gsi` on this machine (one 24-pin IO-APIC). */
export const NR_IRQS_GSI = 24;
/** Xen's DEFAULT_EXTRA_DOMU_IRQS. */
export const EXTRA_DOMU_IRQS = 32;
/** `d->nr_pirqs` of a domU. */
export const NR_PIRQS = NR_IRQS_GSI + EXTRA_DOMU_IRQS;

/** What physdev_op keeps per domain. */
export class DomainPhysdev {
  /** PIRQs with Xen's `struct pirq` (allocated by PHYSDEVOP_get_free_pirq). */
  readonly allocated = new Set<number>();
  /** The frame of the PIRQ EOI map (pirq_eoi_gmfn), holding a writable type reference. */
  eoiMapMfn: number | undefined = undefined;
  /** PHYSDEVOP_pirq_eoi_gmfn_v1: EOI also unmasks the PIRQ's event channel. */
  autoUnmask = false;
}

const L = {
  eoi: layout('physdev_eoi', 'x86_64'),
  gmfn: layout('physdev_pirq_eoi_gmfn', 'x86_64'),
  status: layout('physdev_irq_status_query', 'x86_64'),
  iopl: layout('physdev_set_iopl', 'x86_64'),
  iobitmap: layout('physdev_set_iobitmap', 'x86_64'),
  apic: layout('physdev_apic', 'x86_64'),
  irq: layout('physdev_irq', 'x86_64'),
  map: layout('physdev_map_pirq', 'x86_64'),
  unmap: layout('physdev_unmap_pirq', 'x86_64'),
  managePci: layout('physdev_manage_pci', 'x86_64'),
  managePciExt: layout('physdev_manage_pci_ext', 'x86_64'),
  restoreMsi: layout('physdev_restore_msi', 'x86_64'),
  setupGsi: layout('physdev_setup_gsi', 'x86_64'),
  freePirq: layout('physdev_get_free_pirq', 'x86_64'),
  deviceAdd: layout('physdev_pci_device_add', 'x86_64'),
  device: layout('physdev_pci_device', 'x86_64'),
  compat: layout('physdev_op', 'x86_64'),
};
const OPTARR = L.deviceAdd.find('optarr')?.offset ?? -1;
const COMPAT_U = L.compat.find('u')?.offset ?? -1;

/** Sub-op names by number, for the statistics. */
const NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(P)
    .filter(([k, v]) => k.startsWith('PHYSDEVOP_') && typeof v === 'number' && k !== 'PHYSDEVOP_pirq_eoi_gmfn' && !k.startsWith('PHYSDEVOP_DBGP'))
    .map(([k, v]) => [v as number, k]),
);

/** Reads `size` bytes at `addr` (copy_from_guest): undefined when any is unreadable. */
function readable(ctx: HypercallContext, addr: number, size: number): boolean {
  return ctx.mem.read(addr, new Uint8Array(size));
}

/**
 * Xen `rcu_lock_domain_by_any_id` for map/unmap_pirq: true when `domid` names a domain (itself,
 * domain 0 — the host's backends — or another domain known to the event channels or the page
 * types).
 */
function domainExists(d: Domain, domid: number): boolean {
  if (domid === DOMID_SELF || domid === d.id || domid === 0) return true;
  return d.evtchn?.domainExists(domid) === true || d.mmu?.types.policy(domid) !== undefined;
}

function physdevOf(d: Domain): DomainPhysdev {
  return (d.physdev ??= new DomainPhysdev());
}

/** Xen `get_free_pirq` then `pirq_get_info`: the PIRQ, or -ENOSPC. */
function getFreePirq(p: DomainPhysdev, type: number): number {
  if (type === P.MAP_PIRQ_TYPE_GSI) {
    for (let i = 16; i < NR_IRQS_GSI; i++) {
      if (!p.allocated.has(i)) {
        p.allocated.add(i);
        return i;
      }
    }
  }
  for (let i = NR_PIRQS - 1; i >= NR_IRQS_GSI; i--) {
    if (!p.allocated.has(i)) {
      p.allocated.add(i);
      return i;
    }
  }
  return -XEN_ENOSPC;
}

/** do_physdev_op(cmd, arg) with `arg` as a guest address. */
function physdevOp(ctx: HypercallContext, cmd: number, arg: number): number {
  const d = ctx.domain;
  ctx.subop(NAMES.get(cmd) ?? `physdev_op ${cmd}`);
  switch (cmd) {
    case P.PHYSDEVOP_eoi: {
      const a = View.copyIn(L.eoi, ctx.mem, arg);
      if (a === undefined) return -XEN_EFAULT;
      const irq = a.get('irq');
      if (irq >= NR_PIRQS) return -XEN_EINVAL;
      // A PIRQ without Xen's struct pirq is -EINVAL; an allocated one has no IRQ to end.
      if (!physdevOf(d).allocated.has(irq)) return -XEN_EINVAL;
      return 0;
    }
    case P.PHYSDEVOP_pirq_eoi_gmfn_v1:
    case P.PHYSDEVOP_pirq_eoi_gmfn_v2: {
      const a = View.copyIn(L.gmfn, ctx.mem, arg);
      if (a === undefined) return -XEN_EFAULT;
      const mmu = d.mmu;
      if (mmu === undefined) return -XEN_EINVAL;
      // A PV domain's gmfn is a machine frame (get_page_from_gfn on a non-translated guest).
      const mfn = a.get('gmfn');
      if (!Number.isSafeInteger(mfn) || mmu.types.getPageAndType(mfn, PageType.Writable, mmu.domid) !== 0) return -XEN_EINVAL;
      const p = physdevOf(d);
      if (p.eoiMapMfn !== undefined) {
        mmu.types.putPageAndType(mfn);
        return -XEN_EBUSY;
      }
      p.eoiMapMfn = mfn;
      if (cmd === P.PHYSDEVOP_pirq_eoi_gmfn_v1) p.autoUnmask = true;
      return 0;
    }
    case P.PHYSDEVOP_IRQ_UNMASK_NOTIFY:
      // pirq_guest_unmask: nothing is bound.
      return 0;
    case P.PHYSDEVOP_irq_status_query: {
      const a = View.copyIn(L.status, ctx.mem, arg);
      if (a === undefined) return -XEN_EFAULT;
      const irq = a.get('irq') | 0;
      if (irq < 0 || irq >= NR_PIRQS) return -XEN_EINVAL;
      a.set('flags', P.XENIRQSTAT_needs_eoi);
      return a.copyAllOut(ctx.mem, arg) ? 0 : -XEN_EFAULT;
    }
    case P.PHYSDEVOP_map_pirq: {
      const a = View.copyIn(L.map, ctx.mem, arg);
      if (a === undefined) return -XEN_EFAULT;
      const type = a.get('type') | 0;
      if (type === P.MAP_PIRQ_TYPE_MULTI_MSI && (a.lo('table_base') !== 0 || a.hi('table_base') !== 0)) return -XEN_EINVAL;
      if (type === P.MAP_PIRQ_TYPE_MSI_SEG) a.set('type', P.MAP_PIRQ_TYPE_MSI);
      // physdev_map_pirq: XSM_DM_PRIV refuses a domU for itself and for any other domain.
      const rc = domainExists(d, a.get('domid')) ? -XEN_EPERM : -XEN_ESRCH;
      return a.copyAllOut(ctx.mem, arg) ? rc : -XEN_EFAULT;
    }
    case P.PHYSDEVOP_unmap_pirq: {
      const a = View.copyIn(L.unmap, ctx.mem, arg);
      if (a === undefined) return -XEN_EFAULT;
      return domainExists(d, a.get('domid')) ? -XEN_EPERM : -XEN_ESRCH;
    }
    case P.PHYSDEVOP_apic_read:
    case P.PHYSDEVOP_apic_write:
      return readable(ctx, arg, L.apic.size) ? -XEN_EPERM : -XEN_EFAULT;
    case P.PHYSDEVOP_alloc_irq_vector:
      return readable(ctx, arg, L.irq.size) ? -XEN_EPERM : -XEN_EFAULT;
    case P.PHYSDEVOP_set_iopl: {
      const a = View.copyIn(L.iopl, ctx.mem, arg);
      if (a === undefined) return -XEN_EFAULT;
      const iopl = a.get('iopl');
      if (iopl > 3) return -XEN_EINVAL;
      ctx.vcpu.iopl = iopl;
      return 0;
    }
    case P.PHYSDEVOP_set_iobitmap: {
      const a = View.copyIn(L.iobitmap, ctx.mem, arg);
      if (a === undefined) return -XEN_EFAULT;
      const bitmap = (a.hi('bitmap') | 0) * 4294967296 + a.lo('bitmap');
      // guest_handle_okay(bitmap, IOBMP_BYTES): access_ok looks at the start only.
      const nr = a.get('nr_ports');
      if (!addrOk(bitmap) || nr > 65536) return -XEN_EINVAL;
      ctx.vcpu.iobmp = bitmap;
      ctx.vcpu.iobmpLimit = nr;
      return 0;
    }
    case P.PHYSDEVOP_manage_pci_add:
    case P.PHYSDEVOP_manage_pci_remove:
      // pci_add_device / pci_remove_device: XSM_PRIV first.
      return readable(ctx, arg, L.managePci.size) ? -XEN_EPERM : -XEN_EFAULT;
    case P.PHYSDEVOP_manage_pci_add_ext: {
      const a = View.copyIn(L.managePciExt, ctx.mem, arg);
      if (a === undefined) return -XEN_EFAULT;
      if (a.get('is_extfn') > 1 || a.get('is_virtfn') > 1) return -XEN_EINVAL;
      return -XEN_EPERM;
    }
    case P.PHYSDEVOP_prepare_msix:
    case P.PHYSDEVOP_release_msix:
    case P.PHYSDEVOP_pci_device_remove:
      return readable(ctx, arg, L.device.size) ? -XEN_EPERM : -XEN_EFAULT;
    case P.PHYSDEVOP_pci_mmcfg_reserved:
      return -XEN_EPERM;
    case P.PHYSDEVOP_restore_msi:
      return readable(ctx, arg, L.restoreMsi.size) ? -XEN_ENODEV : -XEN_EFAULT;
    case P.PHYSDEVOP_restore_msi_ext:
      return readable(ctx, arg, L.device.size) ? -XEN_ENODEV : -XEN_EFAULT;
    case P.PHYSDEVOP_setup_gsi: {
      const a = View.copyIn(L.setupGsi, ctx.mem, arg);
      if (a === undefined) return -XEN_EFAULT;
      const gsi = a.get('gsi') | 0;
      if (gsi < 0 || gsi >= NR_IRQS_GSI) return -XEN_EINVAL;
      return -XEN_EPERM;
    }
    case P.PHYSDEVOP_get_free_pirq: {
      const a = View.copyIn(L.freePirq, ctx.mem, arg);
      if (a === undefined) return -XEN_EFAULT;
      const pirq = getFreePirq(physdevOf(d), a.get('type') | 0);
      if (pirq < 0) return pirq;
      a.set('pirq', pirq);
      // The PIRQ stays allocated even when the copy back fails, as in Xen.
      return a.copyAllOut(ctx.mem, arg) ? 0 : -XEN_EFAULT;
    }
    case P.PHYSDEVOP_dbgp_op:
      // Only the hardware domain, checked before the argument is read.
      return -XEN_EPERM;
    case P.PHYSDEVOP_pci_device_add: {
      const a = View.copyIn(L.deviceAdd, ctx.mem, arg);
      if (a === undefined) return -XEN_EFAULT;
      // The proximity domain follows the struct when XEN_PCI_DEV_PXM is set (CONFIG_NUMA).
      if ((a.get('flags') & P.XEN_PCI_DEV_PXM) !== 0 && !readable(ctx, arg + OPTARR, 4)) return -XEN_EFAULT;
      return -XEN_EPERM;
    }
    default:
      return -XEN_ENOSYS;
  }
}

/** physdev_op(int cmd, void *arg). */
export const physdevOpHypercall: Handler = (ctx) => physdevOp(ctx, cmdOf(ctx, 1), ctx.arg(2));

/**
 * physdev_op_compat(struct physdev_op *uop) (Xen `do_physdev_op_compat`): the whole struct is
 * read (-EFAULT), then its `cmd` runs with the union inside it as the argument.
 */
export const physdevOpCompat: Handler = (ctx) => {
  const at = ctx.arg(1);
  const op = View.copyIn(L.compat, ctx.mem, at);
  if (op === undefined) {
    ctx.subop('physdev_op_compat');
    return -XEN_EFAULT;
  }
  return physdevOp(ctx, op.get('cmd'), at + COMPAT_U);
};
