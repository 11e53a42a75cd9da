/** nmi.h: nmi_op (hypercall 28) and the NMI reason bits in arch_shared_info.nmi_reason. */
import { IN, struct, unsigned_long } from '../layout/schema.js';

export const XEN_NMIREASON_io_error = 1 << 0;
export const XEN_NMIREASON_pci_serr = 1 << 1;
export const XEN_NMIREASON_unknown = 1 << 2;

export const XENNMI_register_callback = 0;
export const XENNMI_unregister_callback = 1;

/** XENNMI_register_callback: the NMI entry point. */
export const xennmi_callback = struct('struct xennmi_callback', {
  handler_address: IN(unsigned_long),
  pad: unsigned_long,
});
