/**
 * The 64-bit PV CPU model (reference §3): a guest vCPU whose kernel and user both run at CPL 3
 * on the x86 core, with Xen's behaviour supplied through the core's hooks:
 *
 *  - kernel/user mode is Xen's flag, not the CPU's: two page-table roots (`guestTable`,
 *    `guestTableUser`) and a GS-base swap on every toggle;
 *  - exceptions go through the guest's trap table as bounce frames (§3.4: RCX and R11 of the
 *    interrupted context on top, the saved upcall mask in the CS slot, the virtual IOPL in
 *    RFLAGS with VMASST_TYPE_architectural_iopl), with the #UD
 *    forced-emulation prefix and the #GP privileged-instruction emulation tried first;
 *  - SYSCALL in kernel mode is a hypercall (RAX; RDI, RSI, RDX, R10, R8), in user mode a
 *    bounce to the syscall callback;
 *  - event upcalls are delivered at instruction boundaries when vcpu_info says pending and
 *    unmasked (the core's interrupt poll, answered here);
 *  - the iret hypercall (§3.6) returns to kernel or user mode.
 *
 * What a hypercall does is not here: `PvHypervisor.hypercall` answers it. This module owns the
 * CPU-facing mechanics only, so that the hypercall families stay independent of them.
 */
import { Cpu, type CpuHooks } from '../../x86/cpu.js';
import { decode, type Insn } from '../../x86/decoder.js';
import { DB, Fault, GP, NM, PF_VEC, UD, pushesErrorCode as hasErrorCode } from '../../x86/fault.js';
import type { Feature } from '../../x86/isa/types.js';
import type { PhysicalMemory } from '../../x86/memory.js';
import { CR0_ET, CR0_PE, CR0_PG, CR0_TS, CR0_WP, CR4_DE, CR4_FSGSBASE, CR4_MCE, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_OSXSAVE, CR4_PAE, CR4_TSD, EFER_LMA, EFER_LME, EFER_NXE, EFER_SCE, isCanonical } from '../../x86/system/regs.js';
import { XEN_ENODEV } from '../public/errno.js';
import { DR6_BS, DR6_DEFAULT, DR7_DEFAULT, getDebugreg, setDebugreg } from './debugreg.js';
import { GuestVirtualMemory } from './guest-memory.js';
import { emulatePortIo, type GuestIoPorts, ioplOk, isPortIo } from './io.js';
import { siteAt, type GuestSite } from './guest-site.js';

/** Xen's flat selectors for PV64 guests (reference §3.2). */
export const FLAT_KERNEL_CS64 = 0xe033;
export const FLAT_KERNEL_SS64 = 0xe02b;
export const FLAT_USER_CS32 = 0xe023;
export const FLAT_USER_CS64 = 0xe033;
export const FLAT_USER_SS64 = 0xe02b;

/** Cached attributes of those segments (x86/system/regs.ts SA_* layout): 64-bit DPL 3 code, DPL 3 data. */
const ATTR_CS64 = 0xafb;
const ATTR_DS = 0xcf3;

/** The first GDT entry of Xen's reserved page (selector 0xE000). */
const FIRST_RESERVED_GDT_ENTRY = 7168;
/** Xen's reserved GDT entries for PV64 (reference §3.2), as [lo, hi] dwords. */
const XEN_GDT: ReadonlyMap<number, readonly [number, number]> = new Map([
  [0xe008, [0x0000ffff, 0x00af9b00]], // hypervisor CS
  [0xe010, [0x0000ffff, 0x00cf9300]], // hypervisor DS
  [0xe020, [0x0000ffff, 0x00cffb00]], // FLAT_RING3_CS32
  [0xe028, [0x0000ffff, 0x00cff300]], // FLAT_RING3_DS32 / SS
  [0xe030, [0x0000ffff, 0x00affb00]], // FLAT_RING3_CS64
]);

/** Trap-table flags (xen.h trap_info.flags): bits 1:0 DPL, bit 2 mask events on entry. */
const TI_MASK_EVENTS = 4;


/** Kinds of emulated instruction a vCPU keeps apart (`PvVcpu.emulated`); later kinds are counted as MORE_KINDS. */
export const MAX_EMULATED_KINDS = 64;
export const MORE_KINDS = 'other kinds';

/** One kind of privileged instruction Xen emulated for the guest kernel: how often, and the first one. */
export interface EmulatedKind {
  count: number;
  readonly first: GuestSite;
}

/** VGCF_in_syscall: the iret hypercall returns as SYSRET would (RCX/R11 not restored). */
export const VGCF_IN_SYSCALL = 0x100;

/** `hypercall` returns this when the call already set the vCPU's state (iret): RAX is left alone. */
export const NO_RETURN = Symbol('no return');

const TWO32 = 4294967296;
const XEN_AREA_START = -0x800000000000;
const XEN_AREA_END = -0x780000000000 + 0x40;

/** The vcpu_info fields the CPU mechanics touch (the rest belongs to the event and time code). */
export interface VcpuInfoRef {
  upcallPending(): number;
  upcallMask(): number;
  setUpcallMask(v: number): void;
  setCr2(v: number): void;
}

/** What the vCPU asks of the hypervisor. */
export interface PvHypervisor {
  /** Hypercall `nr` from guest kernel mode: the result for RAX, or NO_RETURN. */
  hypercall(v: PvVcpu, nr: number): number | typeof NO_RETURN;
  /** Xen's CPUID policy for a PV guest (the forced-emulation prefix and CPUID itself). */
  cpuid(v: PvVcpu, leaf: number, subleaf: number): readonly [number, number, number, number];
  /** An MSR read Xen emulates for PV, or undefined for #GP. */
  rdmsr(v: PvVcpu, index: number): readonly [number, number] | undefined;
  /** An MSR write Xen emulates for PV: false for #GP. */
  wrmsr(v: PvVcpu, index: number, lo: number, hi: number): boolean;
  /** The deterministic time-stamp counter. */
  rdtsc(v: PvVcpu): readonly [number, number];
  /** The domain must be crashed (Xen's domain_crash), with the reason for the report. */
  crash(v: PvVcpu, reason: string): void;
  /** The emulated ports of the vCPU's domain (pv/io.ts: its 0xCF8 and RTC-index latches). */
  ioPorts(v: PvVcpu): GuestIoPorts;
  /** VMASST_TYPE_architectural_iopl is enabled for the vCPU's domain. */
  architecturalIopl(v: PvVcpu): boolean;
  /**
   * Xen `fixup_page_fault`: a #PF Xen resolves itself (writable page tables, pv/ptwr.ts). True
   * when it did and the guest must not see this one. Absent: every #PF goes to the guest.
   */
  fixupPageFault?(v: PvVcpu, address: number, errorCode: number): boolean;
}

export class PvVcpu {
  readonly cpu: Cpu;
  /** Guest memory through the current page tables (hypercall arguments). */
  readonly mem: GuestVirtualMemory;
  /** Xen's TF_kernel_mode. */
  kernelMode = true;
  /** Machine frame numbers of the kernel and user L4 tables (0: none). */
  guestTable = 0;
  guestTableUser = 0;
  /** stack_switch: where a user→kernel entry puts the bounce frame. */
  kernelSs = FLAT_KERNEL_SS64;
  kernelSp = 0;
  /** The GS base that is not active now (the user one in kernel mode and vice versa). */
  inactiveGsBase = 0;
  /** Trap table: handler address and flags per vector (address 0: none). */
  readonly trapAddress = new Float64Array(256);
  readonly trapFlags = new Uint8Array(256);
  eventCallback = 0;
  failsafeCallback = 0;
  /** VGCF_failsafe_disables_events (callback_op with CALLBACKF_mask_events). */
  failsafeMaskEvents = false;
  syscallCallback = 0;
  syscallMaskEvents = false;
  syscall32Callback = 0;
  syscall32MaskEvents = false;
  /** CALLBACKTYPE_sysenter: stored as Xen does (a PV64 guest's user code cannot use SYSENTER on AMD). */
  sysenterCallback = 0;
  sysenterMaskEvents = false;
  /**
   * Virtual CR0.TS (fpu_taskswitch, CLTS, MOV to CR0). The core's CR0.TS follows it, as Xen
   * keeps the real TS set while the guest's is (`do_fpu_taskswitch` stts/clts), so an x87, SSE
   * or FXSAVE instruction raises #NM, which `onException` hands to the guest.
   */
  get virtualTs(): boolean {
    return (this.cpu.cr0 & CR0_TS) !== 0;
  }
  set virtualTs(v: boolean) {
    this.cpu.cr0 = v ? this.cpu.cr0 | CR0_TS : this.cpu.cr0 & ~CR0_TS;
  }
  /** Virtual CR2. */
  virtualCr2 = 0;
  /** CR4 as the guest last wrote it (MOV to CR4); the guest reads `virtualCr4()`. */
  guestCr4 = 0;
  /** Virtual IOPL, 0-3 (PHYSDEVOP_set_iopl; the iret hypercall with VMASST_TYPE_architectural_iopl). */
  iopl = 0;
  /** PHYSDEVOP_set_iobitmap: the guest address of its I/O bitmap and how many ports it covers. */
  iobmp = 0;
  iobmpLimit = 0;
  /** The guest's debug registers (pv/debugreg.ts): DR0-3, DR6, DR7 and DR7's I/O-breakpoint enables. */
  readonly dr = new Float64Array(4);
  dr6 = DR6_DEFAULT;
  dr7 = DR7_DEFAULT;
  dr7Emul = 0;
  /** A multicall is running on this vCPU (Xen's _MCSF_in_multicall: no nesting). */
  inMulticall = false;
  /** vcpu_info, once the domain has mapped shared_info (or VCPUOP_register_vcpu_info). */
  vcpuInfo: VcpuInfoRef | undefined = undefined;
  /** The reason the domain was crashed by this vCPU, if it was. */
  crashed: string | undefined = undefined;
  /**
   * The privileged instructions Xen emulated for the guest kernel (trap-and-emulate after a #GP,
   * and a CPUID without the forced-emulation prefix, which Xen's CPUID faulting emulates), by
   * kind (`rdmsr 0xc0000080`, `out port 0x70`, `mov to %cr4` ...), in the order first seen. Host
   * bookkeeping for the conformance run (docs/conformance.md, pv.strict): not saved, not
   * guest-visible.
   */
  readonly emulated = new Map<string, EmulatedKind>();

  constructor(
    readonly id: number,
    machine: PhysicalMemory,
    readonly hv: PvHypervisor,
    features: Iterable<Feature>,
  ) {
    const hooks: CpuHooks = {
      exception: (_c, f) => {
        this.onException(f);
        return true;
      },
      syscall: () => this.onSyscall(),
      rdtsc: () => this.hv.rdtsc(this),
      cpuid: (c, leaf, sub) => {
        if (this.kernelMode) this.noteEmulated('cpuid (no forced-emulation prefix)', c.rip - 2);
        return this.hv.cpuid(this, leaf, sub);
      },
      pendingInterrupt: () => (this.upcallDeliverable() ? 0 : -1),
      acknowledgeInterrupt: () => {
        this.deliverUpcall();
        return -1;
      },
      shutdown: (_c, reason) => this.crash(`CPU shutdown: ${reason}`),
      descriptor: (_c, sel, size) => this.descriptor(sel, size),
    };
    this.cpu = Cpu.system(machine, hooks, features);
    this.mem = new GuestVirtualMemory(this.cpu);
    const c = this.cpu;
    c.cr0 = CR0_PE | CR0_PG | CR0_WP | CR0_ET | 0x20;
    c.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    c.efer = EFER_LME | EFER_LMA | EFER_SCE | EFER_NXE;
    c.setCpl(3);
    for (const s of [0, 2, 3]) c.loadSegmentCache(s, s === 2 ? FLAT_KERNEL_SS64 : 0, 0, 0xffffffff, ATTR_DS);
    c.loadSegmentCache(1, FLAT_KERNEL_CS64, 0, 0xffffffff, ATTR_CS64);
    c.setFlags(0x202);
  }

  // ---- registers ------------------------------------------------------------------------------

  /** A 64-bit register as a JS number (exact for addresses and values below 2^53). */
  reg(n: number): number {
    return (this.cpu.r[(n << 1) + 1] as number) * TWO32 + ((this.cpu.r[n << 1] as number) >>> 0);
  }

  setReg(n: number, v: number): void {
    this.cpu.setReg64(n, lowHalf(v) | 0, Math.floor(v / TWO32) | 0);
  }

  /** Hypercall argument k (1-5: RDI, RSI, RDX, R10, R8) as a number. */
  arg(k: number): number {
    return this.reg(ARG_REGS[k - 1] as number);
  }

  /** Hypercall argument k as [low, high] int32 halves (64-bit values such as PTEs). */
  argHalves(k: number): readonly [number, number] {
    const n = ARG_REGS[k - 1] as number;
    return [this.cpu.r[n << 1] as number, this.cpu.r[(n << 1) + 1] as number];
  }

  // ---- descriptor tables ----------------------------------------------------------------------------

  /** Guest GDT entries (set_gdt), by index below FIRST_RESERVED_GDT_ENTRY; none until set_gdt. */
  gdtEntries: ((index: number) => readonly [number, number]) | undefined = undefined;
  /** Machine frames of the guest GDT (set_gdt; each holds a SegDesc type reference) and its entry count. */
  gdtFrames: number[] = [];
  gdtEnts = 0;

  /**
   * Xen's GDT as the guest sees it (reference §3.2): entries below 7168 are the guest's (all
   * not present until set_gdt), the reserved page above holds Xen's flat selectors. No LDT.
   */
  private descriptor(sel: number, size: 8 | 16): readonly [number, number, number?] | null {
    if ((sel & 4) !== 0) return null;
    const index = sel >>> 3;
    if (index < FIRST_RESERVED_GDT_ENTRY) {
      const e = this.gdtEntries?.(index) ?? [0, 0];
      return size === 16 ? [e[0], e[1], this.gdtEntries?.(index + 1)[0] ?? 0] : e;
    }
    const x = XEN_GDT.get(sel & 0xfff8);
    return x === undefined ? [0, 0] : x;
  }

  // ---- mode switches ----------------------------------------------------------------------------

  /** Loads CR3 for the current mode's root (the TLB goes with it). */
  loadRoot(): void {
    const mfn = this.kernelMode ? this.guestTable : this.guestTableUser;
    this.cpu.cr3 = mfn * 4096;
    this.cpu.flushTlb();
  }

  /** Xen's toggle_guest_mode: the other page-table root and the GS bases swapped. */
  toggleMode(): void {
    this.kernelMode = !this.kernelMode;
    const gs = this.cpu.segBase[5] as number;
    this.cpu.segBase[5] = this.inactiveGsBase;
    this.inactiveGsBase = gs;
    this.loadRoot();
  }

  /**
   * Runs `f` with the kernel's page tables loaded (Xen `toggle_guest_pt` around the I/O-bitmap
   * read from user mode), then restores the current mode's.
   */
  withKernelTables<T>(f: () => T): T {
    if (this.kernelMode) return f();
    this.cpu.cr3 = this.guestTable * 4096;
    this.cpu.flushTlb();
    try {
      return f();
    } finally {
      this.loadRoot();
    }
  }

  /** Loads the guest's DR0-3 and DR7 (without I/O-breakpoint enables) into the core. */
  loadDebugRegisters(): void {
    const c = this.cpu;
    for (let k = 0; k < 4; k++) c.dr[k] = this.dr[k] as number;
    c.dr[7] = this.dr7;
    c.debugRegistersChanged();
  }

  crash(reason: string): void {
    if (this.crashed === undefined) this.crashed = reason;
    this.cpu.stopRequested = true;
    this.hv.crash(this, reason);
  }

  // ---- bounce frames ------------------------------------------------------------------------------

  /**
   * Builds a PV64 bounce frame (reference §3.4) and enters the guest kernel at `handler`. From
   * user mode the kernel stack is `kernelSp` after switching to kernel mode; from kernel mode
   * the interrupted RSP, with the saved CS's RPL cleared. Events are masked when `maskEvents`.
   */
  bounce(handler: number, errorCode: number, maskEvents: boolean, what: string): void {
    const c = this.cpu;
    if (handler === 0 || !isCanonical(handler)) {
      this.crash(`no guest handler for ${what}`);
      return;
    }
    const fromKernel = this.kernelMode;
    const rip = c.rip;
    const csSel = c.segSel[1] as number;
    const ssSel = c.segSel[2] as number;
    const rsp = this.reg(4);
    // RCX and R11 go into the frame bit for bit (any 64-bit value, not only addresses).
    const r = c.r;
    const rcx: Word = [r[2] as number, r[3] as number];
    const r11: Word = [r[22] as number, r[23] as number];
    const flags = c.getFlags();
    const mask = this.vcpuInfo?.upcallMask() ?? 1;
    if (!fromKernel) this.toggleMode();
    let sp = fromKernel ? rsp : this.kernelSp;
    sp -= ((sp % 16) + 16) % 16;
    const words: (number | Word)[] = [rcx, r11];
    if (errorCode >= 0) words.push(errorCode >>> 0);
    // RFLAGS: IF is the inverse of the saved mask; IOPL is the virtual one with
    // VMASST_TYPE_architectural_iopl, else 0 (Xen's create_bounce_frame, x86_64/entry.S).
    const iopl = this.hv.architecturalIopl(this) ? this.iopl << 12 : 0;
    words.push(rip, (fromKernel ? csSel & ~3 : csSel) + (mask !== 0 ? 1 : 0) * TWO32, (flags & ~(0x3000 | 0x200)) | (mask === 0 ? 0x200 : 0) | iopl, rsp, ssSel);
    const base = sp - words.length * 8;
    // Xen's own area (0xFFFF800000000000 up to 0xFFFF880000000040) is no place for a frame.
    if (base < XEN_AREA_END && base + words.length * 8 > XEN_AREA_START) {
      this.crash(`bounce frame for ${what} would lie in Xen's area (${base.toString(16)})`);
      return;
    }
    const bytes = new Uint8Array(words.length * 8);
    const dv = new DataView(bytes.buffer);
    words.forEach((w, k) => {
      dv.setUint32(k * 8, typeof w === 'number' ? lowHalf(w) : w[0] >>> 0, true);
      dv.setUint32(k * 8 + 4, typeof w === 'number' ? Math.floor(w / TWO32) >>> 0 : w[1] >>> 0, true);
    });
    if (!this.mem.write(base, bytes)) {
      this.crash(`fault writing the bounce frame for ${what} at 0x${base.toString(16)}`);
      return;
    }
    this.setReg(4, base);
    c.loadSegmentCache(1, FLAT_KERNEL_CS64, 0, 0xffffffff, ATTR_CS64);
    c.loadSegmentCache(2, FLAT_KERNEL_SS64, 0, 0xffffffff, ATTR_DS);
    c.rip = handler;
    c.setFlags(flags & ~(0x100 | 0x4000 | 0x10000 | 0x20000 | 0x40000));
    if (maskEvents) this.vcpuInfo?.setUpcallMask(1);
  }

  // ---- events from the core -----------------------------------------------------------------------

  private onException(f: Fault): void {
    const c = this.cpu;
    // The processor saves RFLAGS with RF set for a fault (not a trap, a software interrupt or a
    // #DB; SDM §17.3.1.1), and Xen's bounce frame copies what the processor saved. An instruction
    // Xen emulates instead retires with RF clear.
    if (!f.trap && !f.software && f.vector !== DB) c.setFlags(c.getFlags() | RF);
    if (f.vector === UD && this.forcedEmulation()) return;
    if (f.vector === GP && f.errorCode === 0 && this.emulatePrivileged()) return;
    if (f.software) {
      // INT n: 3 and 4 regardless of DPL, 0x80 straight to its handler, others by the entry's DPL.
      const v = f.vector;
      const dpl = (this.trapFlags[v] as number) & 3;
      const fast = v === 3 || v === 4 || (v === 0x80 && (this.trapAddress[v] as number) !== 0);
      if (!fast && dpl < (this.kernelMode ? 1 : 3)) {
        c.rip = c.insnStart;
        this.deliverTrap(GP, v * 8 + 2);
        return;
      }
      this.deliverTrap(v, -1);
      return;
    }
    if (f.vector === PF_VEC) {
      if (this.hv.fixupPageFault?.(this, f.address, f.errorCode) === true) return;
      this.injectPageFault(f.address, f.errorCode);
      return;
    }
    if (f.vector === NM) {
      // Xen `do_device_not_available`: the guest's TS caused it (the only CR0 bit a PV guest
      // controls); Xen clears it, real and virtual, before injecting #NM (its PV ABI, which
      // classic-Xen kernels rely on).
      if (!this.virtualTs) {
        this.crash('#NM but vCR0.TS clear');
        return;
      }
      this.virtualTs = false;
    }
    if (f.vector === DB) {
      // Xen `do_debug`: what the hardware reported joins the guest's DR6; the hardware's is reset.
      const hw = this.cpu.dr[6] as number;
      this.dr6 = ((this.dr6 | (hw & ~DR6_DEFAULT)) & (hw | ~DR6_DEFAULT)) >>> 0;
      this.cpu.dr[6] = DR6_DEFAULT;
    }
    this.deliverTrap(f.vector, hasErrorCode(f.vector) ? Math.max(f.errorCode, 0) : -1);
  }

  /** A #PF for the guest at `address` (CR2 and vcpu_info's cr2 set; the user bit from Xen's guest mode, not the CPU's CPL 3). */
  injectPageFault(address: number, errorCode: number): void {
    this.virtualCr2 = address;
    this.vcpuInfo?.setCr2(address);
    this.deliverTrap(PF_VEC, (errorCode & ~4) | (this.kernelMode ? 0 : 4));
  }

  /** Delivers `vector` through the trap table (#BP/#OF/#DB as traps keep RIP after the instruction). */
  deliverTrap(vector: number, errorCode: number): void {
    const handler = this.trapAddress[vector] as number;
    const flags = this.trapFlags[vector] as number;
    this.bounce(handler, errorCode, (flags & TI_MASK_EVENTS) !== 0, `vector ${vector}`);
  }

  private upcallDeliverable(): boolean {
    const vi = this.vcpuInfo;
    return vi !== undefined && vi.upcallPending() !== 0 && vi.upcallMask() === 0 && this.crashed === undefined;
  }

  private deliverUpcall(): void {
    this.bounce(this.eventCallback, -1, true, 'the event upcall');
  }

  /** SCHEDOP_block put this vCPU to sleep until an event is deliverable. */
  blocked = false;

  /**
   * SCHEDOP_block: idle until an upcall can be delivered (checked now, so a wake-up between
   * the guest's check and the hypercall is not lost). The CPU leaves its run loop; whoever
   * schedules the vCPUs skips time and calls `wake` when an event arrives.
   */
  block(): void {
    if (this.upcallDeliverable()) return;
    this.blocked = true;
    this.cpu.stopRequested = true;
  }

  /** An event became pending for this vCPU: unblock it and look for the upcall. */
  wake(): void {
    this.blocked = false;
    this.kick();
  }

  /** Asks the core to look for a deliverable upcall at the next instruction boundary. */
  kick(): void {
    this.cpu.signalInterrupt();
  }

  /** SYSCALL: a hypercall in kernel mode, the guest's own system call in user mode. */
  private onSyscall(): void {
    const c = this.cpu;
    const next = c.rip;
    const flags = c.getFlags();
    // What the instruction itself does to RCX and R11.
    this.setReg(1, next);
    c.setReg64(11, flags, 0);
    if (!this.kernelMode) {
      const target = c.mode === 64 ? this.syscallCallback : this.syscall32Callback;
      if (target === 0) {
        c.rip = c.insnStart;
        this.deliverTrap(UD, -1);
        return;
      }
      this.bounce(target, -1, this.syscallMaskEvents, 'a system call');
      c.setFlags(c.getFlags() & ~0x400); // DF cleared for syscall entries
      return;
    }
    const nr = this.reg(0);
    const r = this.hv.hypercall(this, nr);
    if (r !== NO_RETURN) this.setReg(0, r);
    // A hypercall may have unmasked or raised events.
    this.kick();
  }

  /**
   * HYPERVISOR_iret (reference §3.6): reads the iret_context at RSP (rax, r11, rcx, flags, rip,
   * cs, rflags, rsp, ss) and returns to kernel or user mode.
   */
  iret(): number | typeof NO_RETURN {
    const c = this.cpu;
    const buf = new Uint8Array(72);
    const at = this.reg(4);
    if (!this.mem.read(at, buf)) {
      this.crash(`iret hypercall: iret_context at 0x${at.toString(16)} is not readable`);
      return NO_RETURN;
    }
    const dv = new DataView(buf.buffer);
    const q = (k: number): number => dv.getInt32(k * 8 + 4, true) * TWO32 + dv.getUint32(k * 8, true);
    const [flags, rip, cs, rflags, rsp, ss] = [3, 4, 5, 6, 7, 8].map(q) as number[];
    // RAX, R11 and RCX come back bit for bit (a JS number would round values above 2^53).
    const half = (k: number, h: number): number => dv.getInt32(k * 8 + h * 4, true);
    const toUser = ((cs as number) & 3) === 3;
    if (toUser && this.kernelMode) {
      if (this.guestTableUser === 0) {
        this.crash('iret hypercall to user mode without a user page table');
        return NO_RETURN;
      }
      this.toggleMode();
    }
    if (!isCanonical(rip as number)) {
      this.crash(`iret hypercall to a non-canonical RIP 0x${(rip as number).toString(16)}`);
      return NO_RETURN;
    }
    c.rip = rip as number;
    const userCs = ((cs as number) & 0xffff) | 3;
    c.loadSegmentCache(1, userCs, 0, 0xffffffff, userCs === FLAT_USER_CS32 ? 0xcfb : ATTR_CS64);
    c.loadSegmentCache(2, ((ss as number) & 0xffff) | 3, 0, 0xffffffff, ATTR_DS);
    this.setReg(4, rsp as number);
    if (this.hv.architecturalIopl(this)) this.iopl = ((rflags as number) >>> 12) & 3;
    // Architectural bits only; IOPL and VM stripped; IF on (the guest's IF lives in the upcall mask).
    // RF survives (a #DB handler sets it to step over an instruction breakpoint), except on the
    // SYSRET path Xen takes for VGCF_in_syscall.
    const rf = ((flags as number) & VGCF_IN_SYSCALL) === 0 ? (rflags as number) & 0x10000 : 0;
    c.setFlags(((rflags as number) & 0x3c0dd5 & ~0x23000) | rf | 0x202);
    this.vcpuInfo?.setUpcallMask(((rflags as number) & 0x200) !== 0 ? 0 : 1);
    c.setReg64(0, half(0, 0), half(0, 1));
    if (((flags as number) & VGCF_IN_SYSCALL) === 0) {
      c.setReg64(11, half(1, 0), half(1, 1));
      c.setReg64(1, half(2, 0), half(2, 1));
    } else {
      // Xen returns with SYSRET: RCX holds the new RIP and R11 the new RFLAGS.
      this.setReg(1, rip as number);
      c.setReg64(11, c.getFlags(), 0);
    }
    this.kick();
    return NO_RETURN;
  }

  // ---- emulation of what faulted ------------------------------------------------------------------

  /**
   * Xen `pv_fixup_guest_cr4`: the real CR4's PAE/MCE/OSFXSR/OSXMMEXCPT, plus the guest-controlled
   * TSD/DE/FSGSBASE/OSXSAVE it wrote, each only if the CPUID policy offers the feature.
   */
  virtualCr4(): number {
    const [, , ecx1, edx1] = this.hv.cpuid(this, 1, 0);
    const ebx7 = this.hv.cpuid(this, 7, 0)[1];
    const allowed = ((edx1 & 0x10) !== 0 ? CR4_TSD : 0) | ((edx1 & 0x4) !== 0 ? CR4_DE : 0) | ((ebx7 & 1) !== 0 ? CR4_FSGSBASE : 0) | ((ecx1 & (1 << 26)) !== 0 ? CR4_OSXSAVE : 0);
    return ((this.cpu.cr4 & (CR4_PAE | CR4_MCE | CR4_OSFXSR | CR4_OSXMMEXCPT)) | (this.guestCr4 & allowed)) >>> 0;
  }

  /** `ud2; .ascii "xen"; cpuid`: Xen's CPUID policy, RIP past all seven bytes. */
  private forcedEmulation(): boolean {
    const sig = new Uint8Array(7);
    if (!this.mem.read(this.cpu.rip, sig)) return false;
    const want = [0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2];
    if (!want.every((b, k) => sig[k] === b)) return false;
    this.doCpuid();
    this.cpu.rip += 7;
    this.cpu.setFlags(this.cpu.getFlags() & ~RF);
    return true;
  }

  private doCpuid(): void {
    const c = this.cpu;
    const [a, b, cc, d] = this.hv.cpuid(this, c.reg32(0) >>> 0, c.reg32(1) >>> 0);
    c.setReg32(0, a);
    c.setReg32(3, b);
    c.setReg32(1, cc);
    c.setReg32(2, d);
  }

  /**
   * The privileged instructions Xen emulates after a #GP(0) (reference §3.7,
   * pv/emul-priv-op.c), then Xen's retirement of an emulated instruction: RF cleared, and a #DB
   * for RFLAGS.TF (DR6.BS) or an I/O breakpoint hit (DR6.Bn). False: the #GP goes to the guest.
   */
  private emulatePrivileged(): boolean {
    const c = this.cpu;
    let i: Insn;
    try {
      i = decode(c, c.rip);
    } catch (e) {
      if (e instanceof Fault) return false;
      throw e;
    }
    const tf = (c.getFlags() & 0x100) !== 0;
    const bp = { match: 0 };
    const rip = c.rip;
    const kind = this.kernelMode ? emulatedKind(i, c) : undefined;
    const r = isPortIo(i) ? emulatePortIo(this, i, bp) : this.emulateOther(i);
    if (r === 'refused') return false;
    if (kind !== undefined && r === 'done') this.noteEmulated(kind, rip);
    if (r === 'raised') return true;
    if ((c.getFlags() & 0x10000) !== 0) c.setFlags(c.getFlags() & ~0x10000);
    const match = bp.match | (tf ? DR6_BS : 0);
    if (match !== 0) {
      this.dr6 = (this.dr6 | match | DR6_DEFAULT) >>> 0;
      this.deliverTrap(DB, -1);
    }
    return true;
  }

  /** Counts one emulated instruction of `kind` at `rip` (its bytes kept for the first of each kind). */
  noteEmulated(kind: string, rip: number): void {
    let k = this.emulated.get(kind);
    if (k === undefined && this.emulated.size >= MAX_EMULATED_KINDS) k = this.emulated.get((kind = MORE_KINDS));
    if (k === undefined) this.emulated.set(kind, { count: 1, first: siteAt(this, rip) });
    else k.count++;
  }

  /** Everything but port I/O: RIP past the instruction when done. */
  private emulateOther(i: Insn): 'done' | 'refused' | 'raised' {
    const c = this.cpu;
    const name = i.row.name;
    switch (name) {
      case 'rdmsr': {
        const v = this.hv.rdmsr(this, c.reg32(1) >>> 0);
        if (v === undefined) return 'refused';
        c.setReg32(0, v[0]);
        c.setReg32(2, v[1]);
        break;
      }
      case 'wrmsr':
        if (!this.hv.wrmsr(this, c.reg32(1) >>> 0, c.reg32(0), c.reg32(2))) return 'refused';
        break;
      case 'cli':
      case 'sti':
        // No-ops when the virtual IOPL allows them (Xen's iopl_ok: the guest kernel counts as CPL 1).
        if (!ioplOk(this)) return 'refused';
        break;
      case 'clts':
        if (!this.kernelMode) return 'refused';
        this.virtualTs = false;
        break;
      case 'mov_Ry_Cy':
      case 'mov_Cy_Ry': {
        // MOV from/to CR0, CR2, CR4 in kernel mode (reference §3.7; CR3 writes are not emulated yet).
        if (!this.kernelMode) return 'refused';
        if (name === 'mov_Ry_Cy') {
          const v = [((c.cr0 & ~8) | (this.virtualTs ? 8 : 0)) >>> 0, -1, this.virtualCr2, this.guestTable * 4096, this.virtualCr4()][i.reg];
          if (v === undefined || v === -1) return 'refused';
          this.setReg(i.rm, v);
          break;
        }
        const val = this.reg(i.rm);
        if (i.reg === 0) {
          // Only TS may differ from the real CR0 (Xen treats it like fpu_taskswitch).
          if (val < 0 || val >= 4294967296 || ((val ^ c.cr0) & ~8) !== 0) return 'refused';
          this.virtualTs = (val & 8) !== 0;
        } else if (i.reg === 2) {
          this.virtualCr2 = val;
          this.vcpuInfo?.setCr2(val);
        } else if (i.reg === 4) {
          this.guestCr4 = val % 4294967296;
        } else return 'refused';
        break;
      }
      case 'mov_Ry_Dy':
      case 'mov_Dy_Ry': {
        // x86emul_read_dr / x86emul_write_dr, guest kernel only: -ENODEV is #UD, other refusals #GP(0).
        if (!this.kernelMode) return 'refused';
        if (name === 'mov_Ry_Dy') {
          const v = getDebugreg(this, i.reg);
          if (v === undefined) {
            this.deliverTrap(UD, -1);
            return 'raised';
          }
          this.setReg(i.rm, v);
          break;
        }
        const rc = setDebugreg(this, i.reg, c.reg64lo(i.rm), c.reg64hi(i.rm));
        if (rc === -XEN_ENODEV) {
          this.deliverTrap(UD, -1);
          return 'raised';
        }
        if (rc !== 0) return 'refused';
        break;
      }
      case 'wbinvd':
      case 'invd':
        if (!this.kernelMode) return 'refused';
        break;
      default:
        return 'refused';
    }
    c.rip += i.len;
    return 'done';
  }
}

/**
 * What an emulated instruction is, for `PvVcpu.emulated`: the mnemonic with the MSR, control
 * register or port it names (the port of a DX form as DX holds it before the emulation).
 */
function emulatedKind(i: Insn, c: Cpu): string {
  const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
  const name = i.row.name;
  if (isPortIo(i)) {
    const dx = i.opcode >= 0xec || i.opcode <= 0x6f;
    return `${i.row.mnemonic} port ${hex(dx ? c.reg32(2) & 0xffff : i.imm & 0xff)}`;
  }
  if (name === 'rdmsr' || name === 'wrmsr') return `${name} ${hex(c.reg32(1))}`;
  if (name === 'mov_Ry_Cy') return `mov from %cr${i.reg}`;
  if (name === 'mov_Cy_Ry') return `mov to %cr${i.reg}`;
  if (name === 'mov_Ry_Dy') return `mov from %db${i.reg}`;
  if (name === 'mov_Dy_Ry') return `mov to %db${i.reg}`;
  return i.row.mnemonic;
}

/** A 64-bit register value as its [low, high] 32-bit halves. */
type Word = readonly [number, number];

/** RFLAGS.RF. */
const RF = 0x10000;

/** RDI, RSI, RDX, R10, R8. */
const ARG_REGS = [7, 6, 2, 10, 8] as const;

function lowHalf(v: number): number {
  return ((v % TWO32) + TWO32) % TWO32;
}

