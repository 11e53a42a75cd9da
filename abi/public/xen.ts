/**
 * xen.h: hypercall numbers, VIRQs, the PV MMU operations, vm_assist, console_io, reserved domain
 * ids, and the pages every PV guest shares with Xen (start_info, shared_info, vcpu_info with its
 * vcpu_time_info).
 */
import { sizeOf } from '../layout/compute.js';
import {
  IN,
  OUT,
  array,
  byArch,
  char,
  handle,
  int8_t,
  named,
  struct,
  typedef,
  uint16_t,
  uint32_t,
  uint64_t,
  uint8_t,
  union,
  unsigned_int,
  unsigned_long,
} from '../layout/schema.js';
import { arch_shared_info, arch_vcpu_info, xen_pfn_t, xen_ulong_t } from './arch-x86.js';

// Hypercall numbers (rax/eax at the hypercall instruction; the index of its 32-byte stub in the
// hypercall page).
export const __HYPERVISOR_set_trap_table = 0;
export const __HYPERVISOR_mmu_update = 1;
export const __HYPERVISOR_set_gdt = 2;
export const __HYPERVISOR_stack_switch = 3;
export const __HYPERVISOR_set_callbacks = 4;
export const __HYPERVISOR_fpu_taskswitch = 5;
export const __HYPERVISOR_sched_op_compat = 6;
export const __HYPERVISOR_platform_op = 7;
export const __HYPERVISOR_set_debugreg = 8;
export const __HYPERVISOR_get_debugreg = 9;
export const __HYPERVISOR_update_descriptor = 10;
export const __HYPERVISOR_memory_op = 12;
export const __HYPERVISOR_multicall = 13;
export const __HYPERVISOR_update_va_mapping = 14;
export const __HYPERVISOR_set_timer_op = 15;
export const __HYPERVISOR_event_channel_op_compat = 16;
export const __HYPERVISOR_xen_version = 17;
export const __HYPERVISOR_console_io = 18;
export const __HYPERVISOR_physdev_op_compat = 19;
export const __HYPERVISOR_grant_table_op = 20;
export const __HYPERVISOR_vm_assist = 21;
export const __HYPERVISOR_update_va_mapping_otherdomain = 22;
export const __HYPERVISOR_iret = 23;
export const __HYPERVISOR_vcpu_op = 24;
export const __HYPERVISOR_set_segment_base = 25;
export const __HYPERVISOR_mmuext_op = 26;
export const __HYPERVISOR_xsm_op = 27;
export const __HYPERVISOR_nmi_op = 28;
export const __HYPERVISOR_sched_op = 29;
export const __HYPERVISOR_callback_op = 30;
export const __HYPERVISOR_xenoprof_op = 31;
export const __HYPERVISOR_event_channel_op = 32;
export const __HYPERVISOR_physdev_op = 33;
export const __HYPERVISOR_hvm_op = 34;
export const __HYPERVISOR_sysctl = 35;
export const __HYPERVISOR_domctl = 36;
export const __HYPERVISOR_kexec_op = 37;
export const __HYPERVISOR_tmem_op = 38;
export const __HYPERVISOR_argo_op = 39;
export const __HYPERVISOR_xenpmu_op = 40;
export const __HYPERVISOR_dm_op = 41;
export const __HYPERVISOR_hypfs_op = 42;
export const __HYPERVISOR_arch_0 = 48;
export const __HYPERVISOR_arch_1 = 49;
export const __HYPERVISOR_arch_2 = 50;
export const __HYPERVISOR_arch_3 = 51;
export const __HYPERVISOR_arch_4 = 52;
export const __HYPERVISOR_arch_5 = 53;
export const __HYPERVISOR_arch_6 = 54;
export const __HYPERVISOR_arch_7 = 55;

// Virtual IRQs (EVTCHNOP_bind_virq). Global ones (DOM_EXC, CON_RING, ...) are for dom0.
export const VIRQ_TIMER = 0;
export const VIRQ_DEBUG = 1;
export const VIRQ_CONSOLE = 2;
export const VIRQ_DOM_EXC = 3;
export const VIRQ_TBUF = 4;
export const VIRQ_DEBUGGER = 6;
export const VIRQ_XENOPROF = 7;
export const VIRQ_CON_RING = 8;
export const VIRQ_PCPU_STATE = 9;
export const VIRQ_MEM_EVENT = 10;
export const VIRQ_ARGO = 11;
export const VIRQ_ENOMEM = 12;
export const VIRQ_XENPMU = 13;
export const VIRQ_ARCH_0 = 16;
export const VIRQ_ARCH_1 = 17;
export const VIRQ_ARCH_2 = 18;
export const VIRQ_ARCH_3 = 19;
export const VIRQ_ARCH_4 = 20;
export const VIRQ_ARCH_5 = 21;
export const VIRQ_ARCH_6 = 22;
export const VIRQ_ARCH_7 = 23;
export const NR_VIRQS = 24;

// mmu_update: the low two bits of `ptr` select the command.
export const MMU_NORMAL_PT_UPDATE = 0;
export const MMU_MACHPHYS_UPDATE = 1;
export const MMU_PT_UPDATE_PRESERVE_AD = 2;
export const MMU_PT_UPDATE_NO_TRANSLATE = 3;

// mmuext_op commands.
export const MMUEXT_PIN_L1_TABLE = 0;
export const MMUEXT_PIN_L2_TABLE = 1;
export const MMUEXT_PIN_L3_TABLE = 2;
export const MMUEXT_PIN_L4_TABLE = 3;
export const MMUEXT_UNPIN_TABLE = 4;
export const MMUEXT_NEW_BASEPTR = 5;
export const MMUEXT_TLB_FLUSH_LOCAL = 6;
export const MMUEXT_INVLPG_LOCAL = 7;
export const MMUEXT_TLB_FLUSH_MULTI = 8;
export const MMUEXT_INVLPG_MULTI = 9;
export const MMUEXT_TLB_FLUSH_ALL = 10;
export const MMUEXT_INVLPG_ALL = 11;
export const MMUEXT_FLUSH_CACHE = 12;
export const MMUEXT_SET_LDT = 13;
export const MMUEXT_NEW_USER_BASEPTR = 15;
export const MMUEXT_CLEAR_PAGE = 16;
export const MMUEXT_COPY_PAGE = 17;
export const MMUEXT_FLUSH_CACHE_GLOBAL = 18;
export const MMUEXT_MARK_SUPER = 19;
export const MMUEXT_UNMARK_SUPER = 20;

// update_va_mapping flags: the flush type in bits 1:0, its scope in bit 2 (or, for a multi
// flush, the rest of the word is a pointer to a vCPU bitmap).
export const UVMF_NONE = 0;
export const UVMF_TLB_FLUSH = 1;
export const UVMF_INVLPG = 2;
export const UVMF_FLUSHTYPE_MASK = 3;
export const UVMF_MULTI = 0;
export const UVMF_LOCAL = 0;
export const UVMF_ALL = 1 << 2;

// console_io commands.
export const CONSOLEIO_write = 0;
export const CONSOLEIO_read = 1;

// vm_assist commands and types.
export const VMASST_CMD_enable = 0;
export const VMASST_CMD_disable = 1;
export const VMASST_TYPE_4gb_segments = 0;
export const VMASST_TYPE_4gb_segments_notify = 1;
export const VMASST_TYPE_writable_pagetables = 2;
export const VMASST_TYPE_pae_extended_cr3 = 3;
export const VMASST_TYPE_architectural_iopl = 4;
export const VMASST_TYPE_runstate_update_flag = 5;
export const VMASST_TYPE_m2p_strict = 32;

// Domain ids with a special meaning (never a real domain).
export const DOMID_FIRST_RESERVED = 0x7ff0;
export const DOMID_SELF = 0x7ff0;
export const DOMID_IO = 0x7ff1;
export const DOMID_XEN = 0x7ff2;
export const DOMID_COW = 0x7ff3;
export const DOMID_INVALID = 0x7ff4;
export const DOMID_IDLE = 0x7fff;
export const DOMID_MASK = 0x7fff;

export const domid_t = typedef('domid_t', uint16_t);

/**
 * mmuext_op: one extended MMU command (IN). `arg1` is a frame (pin/unpin, new base pointer,
 * clear/copy page) or a linear address (invlpg, set LDT); `arg2` is the LDT entry count, the
 * vCPU bitmap of a multi flush, or the source frame of a copy.
 */
export const mmuext_op = struct('struct mmuext_op', {
  cmd: IN(unsigned_int),
  arg1: IN(union(undefined, { mfn: xen_pfn_t, linear_addr: unsigned_long })),
  arg2: IN(union(undefined, { nr_ents: unsigned_int, vcpumask: handle('const_void'), src_mfn: xen_pfn_t })),
});

/**
 * mmu_update: one request (IN). `ptr` is the machine address of the entry to write, its low two
 * bits the MMU_* command; `val` the new entry (or, for MMU_MACHPHYS_UPDATE, the PFN).
 */
export const mmu_update = struct('struct mmu_update', {
  ptr: IN(uint64_t),
  val: IN(uint64_t),
});

/**
 * One call of a multicall batch: the hypercall number and up to six arguments (IN); Xen stores
 * the call's return value in `result` (OUT).
 */
export const multicall_entry = struct('struct multicall_entry', {
  op: IN(xen_ulong_t),
  result: OUT(xen_ulong_t),
  args: IN(array(xen_ulong_t, 6)),
});

/**
 * Per-vCPU time parameters ("pvclock"): system time in ns at `tsc_timestamp`, and the 32.32
 * multiplier and shift that convert TSC deltas to ns. `version` is odd while Xen updates it.
 */
export const vcpu_time_info = struct('struct vcpu_time_info', {
  version: uint32_t,
  pad0: uint32_t,
  tsc_timestamp: uint64_t,
  system_time: uint64_t,
  tsc_to_system_mul: uint32_t,
  tsc_shift: int8_t,
  flags: uint8_t,
  pad1: array(uint8_t, 2),
});
export const XEN_PVCLOCK_TSC_STABLE_BIT = 1 << 0;
export const XEN_PVCLOCK_GUEST_STOPPED = 1 << 1;

/**
 * Per-vCPU event state: Xen sets `evtchn_upcall_pending` and the selector bits; the guest's
 * `evtchn_upcall_mask` is its "interrupts disabled" flag. 64 bytes on both ABIs.
 */
export const vcpu_info = struct('struct vcpu_info', {
  evtchn_upcall_pending: uint8_t,
  evtchn_upcall_mask: uint8_t,
  evtchn_pending_sel: xen_ulong_t,
  arch: arch_vcpu_info,
  time: vcpu_time_info,
});

/** The 2-level event bitmaps: one bit per port, `8 * sizeof(xen_ulong_t)` words. */
const evtchnWords = byArch(
  undefined,
  array(xen_ulong_t, sizeOf(xen_ulong_t, 'x86_64') * 8),
  array(xen_ulong_t, sizeOf(xen_ulong_t, 'x86_32') * 8),
);

/**
 * The shared_info page: the first 32 vCPUs' vcpu_info, the 2-level pending and mask bitmaps,
 * the wallclock at system time 0 (seqlocked by `wc_version`), and the arch part.
 */
export const shared_info = struct('struct shared_info', {
  vcpu_info: array(vcpu_info, 32),
  evtchn_pending: evtchnWords,
  evtchn_mask: evtchnWords,
  wc_version: uint32_t,
  wc_sec: uint32_t,
  wc_nsec: uint32_t,
  wc_sec_hi: { kind: 'field', type: uint32_t, arch: 'x86_64' },
  arch: arch_shared_info,
});

export const MAX_GUEST_CMDLINE = 1024;

/**
 * The start_info page a PV guest finds in rsi/esi at entry: what the domain builder set up
 * (memory size, shared_info machine address, xenstore and console rings with their event
 * channels, boot page tables, p2m list, initrd, command line).
 */
export const start_info = struct('struct start_info', {
  magic: array(char, 32),
  nr_pages: unsigned_long,
  shared_info: unsigned_long,
  flags: uint32_t,
  store_mfn: xen_pfn_t,
  store_evtchn: uint32_t,
  console: union(undefined, {
    domU: struct(undefined, { mfn: xen_pfn_t, evtchn: uint32_t }),
    dom0: struct(undefined, { info_off: uint32_t, info_size: uint32_t }),
  }),
  pt_base: unsigned_long,
  nr_pt_frames: unsigned_long,
  mfn_list: unsigned_long,
  mod_start: unsigned_long,
  mod_len: unsigned_long,
  cmd_line: array(int8_t, MAX_GUEST_CMDLINE),
  first_p2m_pfn: unsigned_long,
  nr_p2m_frames: unsigned_long,
});

// start_info.flags.
export const SIF_PRIVILEGED = 1 << 0;
export const SIF_INITDOMAIN = 1 << 1;
export const SIF_MULTIBOOT_MOD = 1 << 2;
export const SIF_MOD_START_PFN = 1 << 3;
export const SIF_VIRT_P2M_4TOOLS = 1 << 4;
export const SIF_PM_MASK = 0xff << 8;

/** With SIF_MULTIBOOT_MOD: one module of the list at mod_start (offsets into the package, end inclusive). */
export const xen_multiboot_mod_list = struct('struct xen_multiboot_mod_list', {
  mod_start: uint32_t,
  mod_end: uint32_t,
  cmdline: uint32_t,
  pad: uint32_t,
});

export const XEN_VGATYPE_TEXT_MODE_3 = 0x03;
export const XEN_VGATYPE_VESA_LFB = 0x23;
export const XEN_VGATYPE_EFI_LFB = 0x70;

/** dom0's boot console description (at start_info.console.dom0.info_off). */
export const dom0_vga_console_info = struct('struct dom0_vga_console_info', {
  video_type: uint8_t,
  u: union(undefined, {
    text_mode_3: struct(undefined, {
      font_height: uint16_t,
      cursor_x: uint16_t,
      cursor_y: uint16_t,
      rows: uint16_t,
      columns: uint16_t,
    }),
    vesa_lfb: struct(undefined, {
      width: uint16_t,
      height: uint16_t,
      bytes_per_line: uint16_t,
      bits_per_pixel: uint16_t,
      lfb_base: uint32_t,
      lfb_size: uint32_t,
      red_pos: uint8_t,
      red_size: uint8_t,
      green_pos: uint8_t,
      green_size: uint8_t,
      blue_pos: uint8_t,
      blue_size: uint8_t,
      rsvd_pos: uint8_t,
      rsvd_size: uint8_t,
      gbl_caps: uint32_t,
      mode_attrs: uint16_t,
      pad: uint16_t,
      ext_lfb_base: uint32_t,
    }),
  }),
});

/** A domain's UUID as XENVER_guest_handle returns it. */
export const xen_domain_handle_t = named('xen_domain_handle_t', array(uint8_t, 16));
export const xen_uuid_t = named('xen_uuid_t', struct(undefined, { a: array(uint8_t, 16) }));
