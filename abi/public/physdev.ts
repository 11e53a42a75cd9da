/**
 * physdev.h: physdev_op (hypercall 33). A PV domU uses few of these (irq_status_query,
 * set_iopl, pirq_eoi_gmfn, eoi; the rest is for dom0 and passthrough), but the numbers and
 * structs are all here so a refusal can name what was asked.
 */
import { IN, INOUT, OUT, array, handle, int, struct, uint16_t, uint32_t, uint64_t, uint8_t, union, unsigned_long } from '../layout/schema.js';
import { xen_pfn_t } from './arch-x86.js';
import { domid_t } from './xen.js';

export const PHYSDEVOP_IRQ_UNMASK_NOTIFY = 4;
export const PHYSDEVOP_irq_status_query = 5;
export const PHYSDEVOP_set_iopl = 6;
export const PHYSDEVOP_set_iobitmap = 7;
export const PHYSDEVOP_apic_read = 8;
export const PHYSDEVOP_apic_write = 9;
export const PHYSDEVOP_alloc_irq_vector = 10;
export const PHYSDEVOP_free_irq_vector = 11;
export const PHYSDEVOP_eoi = 12;
export const PHYSDEVOP_map_pirq = 13;
export const PHYSDEVOP_unmap_pirq = 14;
export const PHYSDEVOP_manage_pci_add = 15;
export const PHYSDEVOP_manage_pci_remove = 16;
export const PHYSDEVOP_pirq_eoi_gmfn_v1 = 17;
export const PHYSDEVOP_restore_msi = 19;
export const PHYSDEVOP_manage_pci_add_ext = 20;
export const PHYSDEVOP_setup_gsi = 21;
export const PHYSDEVOP_get_free_pirq = 23;
export const PHYSDEVOP_pci_mmcfg_reserved = 24;
export const PHYSDEVOP_pci_device_add = 25;
export const PHYSDEVOP_pci_device_remove = 26;
export const PHYSDEVOP_restore_msi_ext = 27;
export const PHYSDEVOP_pirq_eoi_gmfn_v2 = 28;
export const PHYSDEVOP_dbgp_op = 29;
export const PHYSDEVOP_prepare_msix = 30;
export const PHYSDEVOP_release_msix = 31;
/** The current name of the pirq EOI-bitmap op (v2 since interface 0x00040200). */
export const PHYSDEVOP_pirq_eoi_gmfn = PHYSDEVOP_pirq_eoi_gmfn_v2;

/** PHYSDEVOP_eoi: end of interrupt for PIRQ `irq`. */
export const physdev_eoi = struct('struct physdev_eoi', { irq: IN(uint32_t) });

/** PHYSDEVOP_pirq_eoi_gmfn_v1/v2: a frame Xen keeps the PIRQ needs-EOI bitmap in. */
export const physdev_pirq_eoi_gmfn = struct('struct physdev_pirq_eoi_gmfn', { gmfn: IN(xen_pfn_t) });

/** PHYSDEVOP_irq_status_query: does PIRQ `irq` need an EOI, is it shared. OUT: XENIRQSTAT_* `flags`. */
export const physdev_irq_status_query = struct('struct physdev_irq_status_query', {
  irq: IN(uint32_t),
  flags: OUT(uint32_t),
});
export const XENIRQSTAT_needs_eoi = 1 << 0;
export const XENIRQSTAT_shared = 1 << 1;

/** PHYSDEVOP_set_iopl: the virtual IOPL (0-3) for the guest kernel's port I/O. */
export const physdev_set_iopl = struct('struct physdev_set_iopl', { iopl: IN(uint32_t) });

/** PHYSDEVOP_set_iobitmap: an I/O permission bitmap for `nr_ports` ports. */
export const physdev_set_iobitmap = struct('struct physdev_set_iobitmap', {
  bitmap: IN(handle('uint8')),
  nr_ports: IN(uint32_t),
});

/** PHYSDEVOP_apic_read / apic_write (dom0): an IO-APIC register. */
export const physdev_apic = struct('struct physdev_apic', {
  apic_physbase: IN(unsigned_long),
  reg: IN(uint32_t),
  value: INOUT(uint32_t),
});

/** PHYSDEVOP_alloc_irq_vector / free_irq_vector (dom0). */
export const physdev_irq = struct('struct physdev_irq', {
  irq: IN(uint32_t),
  vector: INOUT(uint32_t),
});

export const MAP_PIRQ_TYPE_MSI = 0x0;
export const MAP_PIRQ_TYPE_GSI = 0x1;
export const MAP_PIRQ_TYPE_UNKNOWN = 0x2;
export const MAP_PIRQ_TYPE_MSI_SEG = 0x3;
export const MAP_PIRQ_TYPE_MULTI_MSI = 0x4;

/** PHYSDEVOP_map_pirq: map a GSI or MSI of a device to a PIRQ of `domid`. OUT: `pirq` (and `entry_nr` for multi-MSI). */
export const physdev_map_pirq = struct('struct physdev_map_pirq', {
  domid: IN(domid_t),
  type: IN(int),
  index: IN(int),
  pirq: INOUT(int),
  bus: IN(int),
  devfn: IN(int),
  entry_nr: INOUT(int),
  table_base: IN(uint64_t),
});

/** PHYSDEVOP_unmap_pirq. */
export const physdev_unmap_pirq = struct('struct physdev_unmap_pirq', {
  domid: IN(domid_t),
  pirq: IN(int),
});

/** PHYSDEVOP_manage_pci_add / remove (dom0). */
export const physdev_manage_pci = struct('struct physdev_manage_pci', { bus: IN(uint8_t), devfn: IN(uint8_t) });

/** PHYSDEVOP_restore_msi (dom0). */
export const physdev_restore_msi = struct('struct physdev_restore_msi', { bus: IN(uint8_t), devfn: IN(uint8_t) });

/** PHYSDEVOP_manage_pci_add_ext (dom0): with extended-function and SR-IOV virtual-function information. */
export const physdev_manage_pci_ext = struct('struct physdev_manage_pci_ext', {
  bus: IN(uint8_t),
  devfn: IN(uint8_t),
  is_extfn: IN(uint32_t),
  is_virtfn: IN(uint32_t),
  physfn: IN(struct(undefined, { bus: uint8_t, devfn: uint8_t })),
});

/** The argument of the old physdev_op_compat (hypercall 19): the command and its struct. */
export const physdev_op = struct('struct physdev_op', {
  cmd: IN(uint32_t),
  u: INOUT(
    union(undefined, {
      irq_status_query: physdev_irq_status_query,
      set_iopl: physdev_set_iopl,
      set_iobitmap: physdev_set_iobitmap,
      apic_op: physdev_apic,
      irq_op: physdev_irq,
    }),
  ),
});

/** PHYSDEVOP_setup_gsi (dom0): trigger mode and polarity of a GSI. */
export const physdev_setup_gsi = struct('struct physdev_setup_gsi', {
  gsi: IN(int),
  triggering: IN(uint8_t),
  polarity: IN(uint8_t),
});

/** PHYSDEVOP_get_free_pirq. OUT: `pirq`. */
export const physdev_get_free_pirq = struct('struct physdev_get_free_pirq', {
  type: IN(int),
  pirq: OUT(uint32_t),
});

export const XEN_PCI_MMCFG_RESERVED = 0x1;

/** PHYSDEVOP_pci_mmcfg_reserved (dom0). */
export const physdev_pci_mmcfg_reserved = struct('struct physdev_pci_mmcfg_reserved', {
  address: IN(uint64_t),
  segment: IN(uint16_t),
  start_bus: IN(uint8_t),
  end_bus: IN(uint8_t),
  flags: IN(uint32_t),
});

export const XEN_PCI_DEV_EXTFN = 0x1;
export const XEN_PCI_DEV_VIRTFN = 0x2;
export const XEN_PCI_DEV_PXM = 0x4;

/** PHYSDEVOP_pci_device_add (dom0); `optarr` holds the proximity domain with XEN_PCI_DEV_PXM. */
export const physdev_pci_device_add = struct('struct physdev_pci_device_add', {
  seg: IN(uint16_t),
  bus: IN(uint8_t),
  devfn: IN(uint8_t),
  flags: IN(uint32_t),
  physfn: IN(struct(undefined, { bus: uint8_t, devfn: uint8_t })),
  optarr: IN(array(uint32_t, 0)),
});

/** A PCI device address: PHYSDEVOP_pci_device_remove, restore_msi_ext, prepare/release_msix. */
export const physdev_pci_device = struct('struct physdev_pci_device', {
  seg: IN(uint16_t),
  bus: IN(uint8_t),
  devfn: IN(uint8_t),
});

export const PHYSDEVOP_DBGP_RESET_PREPARE = 1;
export const PHYSDEVOP_DBGP_RESET_DONE = 2;
export const PHYSDEVOP_DBGP_BUS_UNKNOWN = 0;
export const PHYSDEVOP_DBGP_BUS_PCI = 1;

/** PHYSDEVOP_dbgp_op (dom0): USB debug port handover. */
export const physdev_dbgp_op = struct('struct physdev_dbgp_op', {
  op: IN(uint8_t),
  bus: IN(uint8_t),
  u: IN(union(undefined, { pci: physdev_pci_device })),
});
