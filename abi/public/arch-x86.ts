/**
 * arch-x86/xen.h, arch-x86/xen-x86_64.h and arch-x86/xen-x86_32.h: the x86 parts of the guest
 * ABI (register frames, the vCPU context, per-arch halves of shared_info and vcpu_info, flat
 * selectors and the hypervisor's reserved virtual range).
 */
import { perArch } from '../layout/constants.js';
import {
  array,
  byArch,
  char,
  only,
  onlyOn,
  struct,
  typedef,
  uint16_t,
  uint32_t,
  uint64_t,
  uint8_t,
  unsigned_long,
} from '../layout/schema.js';

/** A frame number as the guest names it: an MFN for PV guests (`unsigned long`). */
export const xen_pfn_t = typedef('xen_pfn_t', unsigned_long);
/** Xen's native word for arguments and bitmaps (`unsigned long` on x86). */
export const xen_ulong_t = typedef('xen_ulong_t', unsigned_long);

/**
 * One entry of the virtual IDT a PV guest installs with set_trap_table (and in
 * vcpu_guest_context). `flags` bits 1:0 are the DPL that may raise the vector with INT, bit 2
 * masks events on entry (an interrupt gate). A zero `address` ends a set_trap_table list.
 */
export const trap_info = struct('struct trap_info', {
  vector: uint8_t,
  flags: uint8_t,
  cs: uint16_t,
  address: unsigned_long,
});

/**
 * The guest register frame Xen saves and restores (VCPUOP_initialise, the iret and failsafe
 * frames). Its shape differs completely between the two ABIs; `error_code` and `entry_vector`
 * are Xen-private.
 */
export const cpu_user_regs = byArch(
  'struct cpu_user_regs',
  struct('struct cpu_user_regs', {
    r15: uint64_t,
    r14: uint64_t,
    r13: uint64_t,
    r12: uint64_t,
    rbp: uint64_t,
    rbx: uint64_t,
    r11: uint64_t,
    r10: uint64_t,
    r9: uint64_t,
    r8: uint64_t,
    rax: uint64_t,
    rcx: uint64_t,
    rdx: uint64_t,
    rsi: uint64_t,
    rdi: uint64_t,
    error_code: uint32_t,
    entry_vector: uint32_t,
    rip: uint64_t,
    cs: uint16_t,
    _pad0: array(uint16_t, 1),
    saved_upcall_mask: uint8_t,
    _pad1: array(uint8_t, 3),
    rflags: uint64_t,
    rsp: uint64_t,
    ss: uint16_t,
    _pad2: array(uint16_t, 3),
    es: uint16_t,
    _pad3: array(uint16_t, 3),
    ds: uint16_t,
    _pad4: array(uint16_t, 3),
    fs: uint16_t,
    _pad5: array(uint16_t, 3),
    gs: uint16_t,
    _pad6: array(uint16_t, 3),
  }),
  struct('struct cpu_user_regs', {
    ebx: uint32_t,
    ecx: uint32_t,
    edx: uint32_t,
    esi: uint32_t,
    edi: uint32_t,
    ebp: uint32_t,
    eax: uint32_t,
    error_code: uint16_t,
    entry_vector: uint16_t,
    eip: uint32_t,
    cs: uint16_t,
    saved_upcall_mask: uint8_t,
    _pad0: uint8_t,
    eflags: uint32_t,
    esp: uint32_t,
    ss: uint16_t,
    _pad1: uint16_t,
    es: uint16_t,
    _pad2: uint16_t,
    ds: uint16_t,
    _pad3: uint16_t,
    fs: uint16_t,
    _pad4: uint16_t,
    gs: uint16_t,
    _pad5: uint16_t,
  }),
);

/**
 * The per-arch tail of vcpu_info: `cr2` is where Xen stores the faulting address before it
 * delivers a page fault; the padding keeps vcpu_info at 64 bytes on both ABIs.
 */
export const arch_vcpu_info = byArch(
  'struct arch_vcpu_info',
  struct('struct arch_vcpu_info', { cr2: unsigned_long, pad: unsigned_long }),
  struct('struct arch_vcpu_info', { cr2: unsigned_long, pad: array(unsigned_long, 5) }),
);

/**
 * A callback address: a bare linear address on x86_64 (the code selector is implied), a
 * {cs, eip} pair on x86_32. Used by callback_register and set_callbacks.
 */
export const xen_callback_t = byArch(
  'xen_callback_t',
  typedef('xen_callback_t', unsigned_long),
  struct('struct xen_callback', { cs: unsigned_long, eip: unsigned_long }),
);

/**
 * A vCPU's whole guest state for VCPUOP_initialise (IN): FXSAVE image, VGCF_* flags, registers,
 * the virtual IDT, LDT/GDT frames, kernel stack, control and debug registers, callbacks and the
 * VM-assist mask. x86_32 carries code selectors with its callbacks; x86_64 instead has the
 * syscall callback and the three segment bases. `ctrlreg[3]` is the kernel's top page table in
 * xen_pfn_to_cr3 form; on x86_64 `ctrlreg[1]` is the user one.
 */
export const vcpu_guest_context = struct('struct vcpu_guest_context', {
  fpu_ctxt: struct(undefined, { x: array(char, 512) }),
  flags: unsigned_long,
  user_regs: cpu_user_regs,
  trap_ctxt: array(trap_info, 256),
  ldt_base: unsigned_long,
  ldt_ents: unsigned_long,
  gdt_frames: array(unsigned_long, 16),
  gdt_ents: unsigned_long,
  kernel_ss: unsigned_long,
  kernel_sp: unsigned_long,
  ctrlreg: array(unsigned_long, 8),
  debugreg: array(unsigned_long, 8),
  event_callback_cs: only('x86_32', unsigned_long),
  event_callback_eip: unsigned_long,
  failsafe_callback_cs: only('x86_32', unsigned_long),
  failsafe_callback_eip: unsigned_long,
  syscall_callback_eip: only('x86_64', unsigned_long),
  vm_assist: unsigned_long,
  fs_base: only('x86_64', uint64_t),
  gs_base_kernel: only('x86_64', uint64_t),
  gs_base_user: only('x86_64', uint64_t),
});

/**
 * The per-arch tail of shared_info, mostly written by the guest: `max_pfn` and the frame-list
 * root of its p2m for the tools, `nmi_reason` (Xen-written), and the virtually mapped p2m
 * (`p2m_cr3`, `p2m_vaddr`, `p2m_generation`). On x86_32 the high word of the wallclock seconds
 * lives here rather than in shared_info.
 */
export const arch_shared_info = struct('struct arch_shared_info', {
  max_pfn: unsigned_long,
  pfn_to_mfn_frame_list_list: xen_pfn_t,
  nmi_reason: unsigned_long,
  p2m_cr3: unsigned_long,
  p2m_vaddr: unsigned_long,
  p2m_generation: unsigned_long,
  wc_sec_hi: only('x86_32', uint32_t),
});

/**
 * The frame a 64-bit guest leaves on its stack for HYPERVISOR_iret (lowest address first):
 * rax, r11 and rcx to restore, the VGCF_in_syscall flag, then an ordinary iret frame.
 */
export const iret_context = onlyOn(
  'x86_64',
  struct('struct iret_context', {
    rax: uint64_t,
    r11: uint64_t,
    rcx: uint64_t,
    flags: uint64_t,
    rip: uint64_t,
    cs: uint64_t,
    rflags: uint64_t,
    rsp: uint64_t,
    ss: uint64_t,
  }),
);

// VGCF_*: vcpu_guest_context.flags (and, for VGCF_in_syscall, iret_context.flags).
export const VGCF_I387_VALID = 1 << 0;
export const VGCF_IN_KERNEL = 1 << 2;
export const VGCF_i387_valid = 1 << 0;
export const VGCF_in_kernel = 1 << 2;
export const VGCF_failsafe_disables_events = 1 << 3;
export const VGCF_syscall_disables_events = 1 << 4;
export const VGCF_online = 1 << 5;
/** iret_context.flags: the frame came from a syscall (restore rcx/r11 as sysret would). */
export const VGCF_in_syscall = perArch({ x86_64: 1 << 8 });
export const VGCF_IN_SYSCALL = perArch({ x86_64: 1 << 8 });

/** vcpu_info slots inside shared_info; vCPUs beyond it need VCPUOP_register_vcpu_info. */
export const XEN_LEGACY_MAX_VCPUS = 32;

/** The last two GDT pages (entries from 14 * 512 on) belong to Xen. */
export const FIRST_RESERVED_GDT_PAGE = 14;
export const FIRST_RESERVED_GDT_BYTE = FIRST_RESERVED_GDT_PAGE * 4096;
export const FIRST_RESERVED_GDT_ENTRY = FIRST_RESERVED_GDT_BYTE / 8;

/** The I/O port of Xen's HVM debug console (writes appear on Xen's console). */
export const XEN_HVM_DEBUGCONS_IOPORT = 0xe9;

// Flat selectors Xen's GDT provides: x86_64 guests run kernel and user at ring 3, x86_32
// kernels at ring 1.
export const FLAT_RING1_CS = perArch({ x86_32: 0xe019 });
export const FLAT_RING1_DS = perArch({ x86_32: 0xe021 });
export const FLAT_RING1_SS = perArch({ x86_32: 0xe021 });
export const FLAT_RING3_CS = perArch({ x86_32: 0xe02b });
export const FLAT_RING3_DS = perArch({ x86_32: 0xe033 });
export const FLAT_RING3_SS = perArch({ x86_32: 0xe033 });
export const FLAT_RING3_CS32 = perArch({ x86_64: 0xe023 });
export const FLAT_RING3_CS64 = perArch({ x86_64: 0xe033 });
export const FLAT_RING3_DS32 = perArch({ x86_64: 0xe02b });
export const FLAT_RING3_DS64 = perArch({ x86_64: 0x0000 });
export const FLAT_RING3_SS32 = perArch({ x86_64: 0xe02b });
export const FLAT_RING3_SS64 = perArch({ x86_64: 0xe02b });
export const FLAT_KERNEL_CS = perArch({ x86_64: 0xe033, x86_32: 0xe019 });
export const FLAT_KERNEL_DS = perArch({ x86_64: 0x0000, x86_32: 0xe021 });
export const FLAT_KERNEL_SS = perArch({ x86_64: 0xe02b, x86_32: 0xe021 });
export const FLAT_KERNEL_CS32 = perArch({ x86_64: 0xe023 });
export const FLAT_KERNEL_CS64 = perArch({ x86_64: 0xe033 });
export const FLAT_KERNEL_DS32 = perArch({ x86_64: 0xe02b });
export const FLAT_KERNEL_DS64 = perArch({ x86_64: 0x0000 });
export const FLAT_KERNEL_SS32 = perArch({ x86_64: 0xe02b });
export const FLAT_KERNEL_SS64 = perArch({ x86_64: 0xe02b });
export const FLAT_USER_CS = perArch({ x86_64: 0xe033, x86_32: 0xe02b });
export const FLAT_USER_DS = perArch({ x86_64: 0x0000, x86_32: 0xe033 });
export const FLAT_USER_SS = perArch({ x86_64: 0xe02b, x86_32: 0xe033 });
export const FLAT_USER_CS32 = perArch({ x86_64: 0xe023 });
export const FLAT_USER_CS64 = perArch({ x86_64: 0xe033 });
export const FLAT_USER_DS32 = perArch({ x86_64: 0xe02b });
export const FLAT_USER_DS64 = perArch({ x86_64: 0x0000 });
export const FLAT_USER_SS32 = perArch({ x86_64: 0xe02b });
export const FLAT_USER_SS64 = perArch({ x86_64: 0xe02b });

// The virtual range Xen reserves in every PV guest (x86_32: the PAE layout of a 64-bit Xen's
// compat guests), and where the read-only M2P table is mapped in it.
export const HYPERVISOR_VIRT_START = perArch({ x86_64: 0xffff800000000000n, x86_32: 0xf5800000 });
export const HYPERVISOR_VIRT_END = perArch({ x86_64: 0xffff880000000000n });
export const MACH2PHYS_VIRT_START = perArch({ x86_64: 0xffff800000000000n, x86_32: 0xf5800000 });
export const MACH2PHYS_VIRT_END = perArch({ x86_64: 0xffff804000000000n, x86_32: 0xf6800000 });
export const HYPERVISOR_VIRT_START_PAE = perArch({ x86_32: 0xf5800000 });
export const MACH2PHYS_VIRT_START_PAE = perArch({ x86_32: 0xf5800000 });
export const MACH2PHYS_VIRT_END_PAE = perArch({ x86_32: 0xf6800000 });
export const HYPERVISOR_VIRT_START_NONPAE = perArch({ x86_32: 0xfc000000 });
export const MACH2PHYS_VIRT_START_NONPAE = perArch({ x86_32: 0xfc000000 });
export const MACH2PHYS_VIRT_END_NONPAE = perArch({ x86_32: 0xfc400000 });
/** Entries of the M2P table: its virtual span divided by the size of an `unsigned long`. */
export const MACH2PHYS_NR_ENTRIES = perArch({
  x86_64: Number((0xffff804000000000n - 0xffff800000000000n) >> 3n),
  x86_32: (0xf6800000 - 0xf5800000) / 4,
});

// set_segment_base (x86_64): which base to load.
export const SEGBASE_FS = perArch({ x86_64: 0 });
export const SEGBASE_GS_USER = perArch({ x86_64: 1 });
export const SEGBASE_GS_KERNEL = perArch({ x86_64: 2 });
export const SEGBASE_GS_USER_SEL = perArch({ x86_64: 3 });
