/**
 * A PV64 vCPU's context for save/restore (issue 8): Xen 4.17's arch_get_info_guest and
 * arch_set_info_guest (arch/x86/domctl.c, arch/x86/domain.c), as XEN_DOMCTL_getvcpucontext /
 * XEN_DOMCTL_setvcpucontext use them, and XEN_DOMCTL_{get,set}_ext_vcpucontext. VCPUOP_initialise
 * (vcpu.ts) validates and applies its context through `setInfoGuest` here: one implementation.
 *
 * Records (bytes, little endian, the x86_64 ABI):
 *  - `getVcpuContext`/`setVcpuContext`: struct vcpu_guest_context (abi/public/arch-x86.ts, 5168
 *    bytes), X86_PV_VCPU_BASIC of the migration stream. Frame numbers (ctrlreg[1], ctrlreg[3],
 *    gdt_frames) are machine frames; the toolstack canonicalises them to PFNs.
 *  - `getVcpuExtended`/`setVcpuExtended`: struct xen_domctl_ext_vcpucontext (public/domctl.h,
 *    64 bytes), X86_PV_VCPU_EXTENDED: vcpu u32 @0, size u32 @4, syscall32_callback_eip u64 @8,
 *    sysenter_callback_eip u64 @16, syscall32_callback_cs u16 @24, sysenter_callback_cs u16 @26,
 *    syscall32_disables_events u8 @28, sysenter_disables_events u8 @29, pad @30, vmce {caps,
 *    mci_ctl2_bank0, mci_ctl2_bank1, mcg_ext_ctl} u64 each @32.
 *  - `getVcpuXenlab`/`setVcpuXenlab`: xenlab's own record of vCPU state neither Xen record
 *    carries (Xen loses it across migration): magic "XLV1" u32 @0, iobmp u64 @8 (the guest
 *    address of PHYSDEVOP_set_iobitmap's bitmap), iobmp_limit u32 @16 (ports covered); 24 bytes.
 *  X86_PV_VCPU_MSRS would be empty: the only MSRs a PV64 guest writes here are FS/GS/shadow GS
 *  bases, which the basic context holds.
 *
 * What a context set/get normalises (get(set(x)) differs from x only here):
 *  - flags: computed from the live state — VGCF_i387_valid (always: every vCPU here has FPU
 *    state; Xen reports it once the vCPU used the FPU), VGCF_in_kernel, the failsafe and syscall
 *    disables-events bits, VGCF_online while the vCPU is up. Xen echoes other bits of the last
 *    context (and a stale VGCF_online); xenlab keeps none;
 *  - fpu_ctxt: the FXSAVE64 image of the state loaded (FCW reserved bits forced, FSW's ES/B
 *    recomputed, abridged tag, bytes 416-511 zero except byte 511 = 8, Xen's word size); an image
 *    whose MXCSR sets reserved bits loads as all zeros (Xen's fpu_fxrstor fixup clears a block
 *    FXRSTOR refuses); without VGCF_i387_valid the state is Xen's default (FCW 0x37f, MXCSR
 *    0x1f80, the rest zero);
 *  - user_regs: error_code, entry_vector and the pads 0; saved_upcall_mask is vcpu_info's
 *    evtchn_upcall_mask (set ignores it: the mask lives in guest memory); rflags has IF set, the
 *    virtual IOPL in bits 12-13, only the bits the PV vCPU keeps (arithmetic, TF, DF, OF, RF, AC,
 *    VIF, VIP, ID); selectors get RPL 3 unless null (cs always);
 *  - trap_ctxt: vector is the slot's index, cs is FLAT_KERNEL_CS64 for an entry with a handler
 *    (0 without): xenlab enters every handler on Xen's flat kernel code selector;
 *  - kernel_ss: low 16 bits, RPL 3; ldt_base 0 when ldt_ents is 0 (as Xen's get);
 *  - ctrlreg[0]: the vCPU's CR0 with the context's TS; ctrlreg[4]: pv_fixup_guest_cr4 of the
 *    value; ctrlreg[5-7] 0; debugreg[] through set_debugreg (refused values keep the reset
 *    value, reserved bits forced), debugreg[4-5] 0;
 *  - vm_assist: the domain's (set only for vCPU 0 when it is not yet initialised, as Xen).
 *
 * Deliberately not carried (as Xen does not; the guest re-registers after resume): the
 * registered vcpu_info and runstate/time areas, timers, event-channel bindings, the blocked and
 * poll state, a pending NMI; nor the x86 core's internal caches (decoded and compiled code, TLB,
 * lazy flags, which are materialised), nor its retired-instruction count (the machine's clock
 * keeps what each core ran). The core's KERNEL_GS_BASE and SYSENTER/STAR MSRs are not used by a
 * PV64 vCPU (its kernel runs at CPL 3; the guest's MSR accesses are emulated against the
 * context's fields). The one-instruction interrupt shadow after MOV SS / POP SS is not carried:
 * Xen never stops a vCPU inside one; a cut exactly there here would let an upcall in one
 * instruction early. Segment caches are rebuilt flat (base 0, limit 4 GiB; FS/GS bases from the
 * context) as Xen's load_segments does for its flat selectors; the core's mode (64-bit or compat)
 * follows from CS (FLAT_USER_CS32 is compat).
 */
import type { Domain } from '../hv/domain.js';
import { MachineMemory } from '../hv/machine.js';
import { DR6_DEFAULT, DR7_DEFAULT, getDebugreg, setDebugreg } from '../pv/debugreg.js';
import { DESCS_PER_FRAME } from '../pv/gdt.js';
import { addrOk } from '../pv/mmu.js';
import { FLAT_KERNEL_CS64, FLAT_USER_CS32, type PvVcpu } from '../pv/vcpu.js';
import {
  VGCF_failsafe_disables_events, VGCF_i387_valid, VGCF_in_kernel, VGCF_online, VGCF_syscall_disables_events,
} from '../public/arch-x86.js';
import { XEN_EINVAL, XEN_EOPNOTSUPP, XEN_ESRCH } from '../public/errno.js';
import { layout } from '../public/index.js';
import { RUNSTATE_offline } from '../public/vcpu.js';
import { VMASST_TYPE_m2p_strict } from '../public/xen.js';
import type { DomainTime } from '../time/timers.js';
import { FX_IMAGE_SIZE, loadFxImage, storeFxImage } from '../../x86/exec/fx-image.js';
import { CR0_TS, isCanonical } from '../../x86/system/regs.js';
import { destroyGdt, setGdt } from './descriptors.js';

const L = layout('vcpu_guest_context', 'x86_64');
/** sizeof(struct vcpu_guest_context) on x86_64. */
export const VCPU_CONTEXT_SIZE = L.size;

function off(path: string): number {
  const f = L.find(path);
  if (f === undefined) throw new Error(`vcpu_guest_context: no field ${path}`);
  return f.offset;
}

const O = {
  fpu: off('fpu_ctxt'),
  flags: off('flags'),
  regs: off('user_regs'),
  trap: off('trap_ctxt'),
  kernelSs: off('kernel_ss'),
  kernelSp: off('kernel_sp'),
  ctrlreg: off('ctrlreg'),
  event: off('event_callback_eip'),
  failsafe: off('failsafe_callback_eip'),
  syscall: off('syscall_callback_eip'),
  vmAssist: off('vm_assist'),
  fsBase: off('fs_base'),
  gsKernel: off('gs_base_kernel'),
  gsUser: off('gs_base_user'),
  ldtBase: off('ldt_base'),
  ldtEnts: off('ldt_ents'),
  gdtFrames: off('gdt_frames'),
  gdtEnts: off('gdt_ents'),
  debugreg: off('debugreg'),
  savedUpcallMask: off('user_regs.saved_upcall_mask'),
};

/** cpu_user_regs (x86_64) field offsets, relative to the context. */
const R = Object.fromEntries(
  ['r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi', 'rdi', 'rip', 'cs', 'rflags', 'rsp', 'ss', 'ds', 'es', 'fs', 'gs'].map((n) => [n, off(`user_regs.${n}`)]),
) as Record<string, number>;
/** Register numbers (x86 encoding) of the cpu_user_regs names. */
const GPR: readonly (readonly [string, number])[] = [
  ['rax', 0], ['rcx', 1], ['rdx', 2], ['rbx', 3], ['rsp', 4], ['rbp', 5], ['rsi', 6], ['rdi', 7],
  ['r8', 8], ['r9', 9], ['r10', 10], ['r11', 11], ['r12', 12], ['r13', 13], ['r14', 14], ['r15', 15],
];
/** Selectors in user_regs and the core's segment numbers. */
const DATA_SEGS = [['es', 0], ['ds', 3], ['fs', 4], ['gs', 5]] as const;
const TRAP_INFO_SIZE = layout('trap_info', 'x86_64').size;
/** vcpu_guest_context.gdt_frames has 16 slots; an LDT has at most 8192 entries. */
const GDT_FRAMES = 16;
const MAX_LDT_ENTS = 8192;
const PAGE_SIZE = 4096;
const TWO32 = 4294967296;
/** Xen's range in PV64 guests; the LDT base must be a guest address (__addr_ok). */
const XEN_VIRT_END = -0x780000000000;
/** Byte 511 of Xen's FXSAVE block: the FIP/FDP width it saved with (FPU_WORD_SIZE_OFFSET). */
const FPU_WORD_SIZE_OFFSET = 511;
/** RFLAGS bits a PV vCPU keeps from a context: CF PF AF ZF SF TF DF OF, RF, AC VIF VIP ID. */
const RFLAGS_KEPT = 0x3d0dd5;
/** Cached attributes of the flat segments (x86/system/regs.ts SA_*). */
const ATTR_CS64 = 0xafb;
const ATTR_CS32 = 0xcfb;
const ATTR_DS = 0xcf3;
/** Xen's PV64_VM_ASSIST_MASK: types 0-5 and m2p_strict (32). The domain keeps m2p_strict in bit 31. */
const PV64_VM_ASSIST_LOW = 0x3f;
const M2P_STRICT_HERE = 1 << 31;

/** An unsigned 64-bit field as a number (exact below 2^53, correctly rounded above). */
function u64(dv: DataView, at: number): number {
  return dv.getUint32(at + 4, true) * TWO32 + dv.getUint32(at, true);
}

/** A signed 64-bit field as a number (exact for canonical addresses and values below 2^53). */
function s64(dv: DataView, at: number): number {
  return dv.getInt32(at + 4, true) * TWO32 + dv.getUint32(at, true);
}

/** Writes a number (an integer within ±2^63) as a 64-bit two's-complement field. */
function put64(dv: DataView, at: number, v: number): void {
  const lo = ((v % TWO32) + TWO32) % TWO32;
  dv.setUint32(at, lo, true);
  dv.setInt32(at + 4, Math.floor(v / TWO32) | 0, true);
}

// ---- arch_get_info_guest -------------------------------------------------------------------------

/** XEN_DOMCTL_getvcpucontext for a 64-bit PV vCPU: the vcpu_guest_context bytes (see the file comment). */
export function getVcpuContext(d: Domain, v: PvVcpu): Uint8Array {
  const b = new Uint8Array(VCPU_CONTEXT_SIZE);
  const dv = new DataView(b.buffer);
  const c = v.cpu;
  storeFxImage(c, dv, O.fpu);
  dv.setUint8(O.fpu + FPU_WORD_SIZE_OFFSET, 8);
  const t = d.time?.vcpu(v.id);
  let flags = VGCF_i387_valid;
  if (v.kernelMode) flags |= VGCF_in_kernel;
  if (v.failsafeMaskEvents) flags |= VGCF_failsafe_disables_events;
  if (v.syscallMaskEvents) flags |= VGCF_syscall_disables_events;
  if (t?.up === true) flags |= VGCF_online;
  put64(dv, O.flags, flags);
  for (const [n, r] of GPR) {
    dv.setInt32((R[n] as number), c.r[r << 1] as number, true);
    dv.setInt32((R[n] as number) + 4, c.r[(r << 1) + 1] as number, true);
  }
  put64(dv, R.rip as number, c.rip);
  // The real IOPL is always 0 here; the virtual one is merged back (Xen's get does the same).
  put64(dv, R.rflags as number, ((c.getFlags() & ~0x3000) | (v.iopl << 12)) >>> 0);
  dv.setUint16(R.cs as number, c.segSel[1] as number, true);
  dv.setUint16(R.ss as number, c.segSel[2] as number, true);
  for (const [n, s] of DATA_SEGS) dv.setUint16(R[n] as number, c.segSel[s] as number, true);
  dv.setUint8(O.savedUpcallMask, v.vcpuInfo?.upcallMask() ?? 0);
  for (let k = 0; k < 256; k++) {
    const at = O.trap + k * TRAP_INFO_SIZE;
    const address = v.trapAddress[k] as number;
    const tflags = v.trapFlags[k] as number;
    if (address === 0 && tflags === 0) continue;
    dv.setUint8(at, k);
    dv.setUint8(at + 1, tflags);
    dv.setUint16(at + 2, address !== 0 ? FLAT_KERNEL_CS64 : 0, true);
    put64(dv, at + 8, address);
  }
  const mmu = d.mmu?.vcpus[v.id];
  const ldtEnts = mmu?.ldtEnts ?? 0;
  put64(dv, O.ldtBase, ldtEnts !== 0 ? (mmu?.ldtBase ?? 0) : 0);
  put64(dv, O.ldtEnts, ldtEnts);
  v.gdtFrames.forEach((mfn, k) => put64(dv, O.gdtFrames + 8 * k, mfn));
  put64(dv, O.gdtEnts, v.gdtEnts);
  put64(dv, O.kernelSs, v.kernelSs);
  put64(dv, O.kernelSp, v.kernelSp);
  put64(dv, O.ctrlreg, ((c.cr0 & ~CR0_TS) | (v.virtualTs ? CR0_TS : 0)) >>> 0);
  put64(dv, O.ctrlreg + 8, v.guestTableUser * PAGE_SIZE);
  put64(dv, O.ctrlreg + 16, v.virtualCr2);
  put64(dv, O.ctrlreg + 24, v.guestTable * PAGE_SIZE);
  put64(dv, O.ctrlreg + 32, v.virtualCr4());
  for (const k of [0, 1, 2, 3, 6, 7]) put64(dv, O.debugreg + 8 * k, getDebugreg(v, k) ?? 0);
  put64(dv, O.event, v.eventCallback);
  put64(dv, O.failsafe, v.failsafeCallback);
  put64(dv, O.syscall, v.syscallCallback);
  // The domain keeps m2p_strict (type 32) in bit 31; the context has it in bit 32.
  const va = d.vmAssist;
  dv.setUint32(O.vmAssist, (va & ~M2P_STRICT_HERE) >>> 0, true);
  dv.setUint32(O.vmAssist + 4, (va & M2P_STRICT_HERE) !== 0 ? 1 << (VMASST_TYPE_m2p_strict - 32) : 0, true);
  put64(dv, O.fsBase, c.segBase[4] as number);
  put64(dv, O.gsKernel, v.kernelMode ? (c.segBase[5] as number) : v.inactiveGsBase);
  put64(dv, O.gsUser, v.kernelMode ? v.inactiveGsBase : (c.segBase[5] as number));
  return b;
}

// ---- arch_set_info_guest --------------------------------------------------------------------------

/**
 * XEN_DOMCTL_setvcpucontext for a 64-bit PV domain (built by the toolstack, the domain paused):
 * vCPU `id` below max_vcpus (else -EINVAL, as Xen's domctl), then `setInfoGuest`. 0 or -XEN_E*;
 * never throws on bad bytes (a wrong length is -EINVAL).
 */
export function setVcpuContext(d: Domain, id: number, ctx: Uint8Array): number {
  const dt = d.time;
  if (dt === undefined || !Number.isInteger(id) || id < 0 || id >= d.maxVcpus) return -XEN_EINVAL;
  if (ctx.length !== VCPU_CONTEXT_SIZE) return -XEN_EINVAL;
  return setInfoGuest(d, dt, id, ctx);
}

/**
 * Xen 4.17's arch_set_info_guest for a 64-bit PV vCPU, on a vCPU that is not initialised yet (a
 * new one: VCPUOP_initialise, a restore) or one that is (setvcpucontext on a running domain).
 *
 * Checks, each -EINVAL unless said: RIP, RSP, kernel_sp, the segment bases, the callbacks and
 * every trap handler canonical (and the LDT base when ldt_ents is set); the LDT base a guest
 * address, page aligned, at most 8192 entries; vCPU 0's vm_assist within PV64_VM_ASSIST_MASK;
 * at most 16 GDT frames. Not initialised: user mode needs ctrlreg[1]; the roots must be the
 * domain's frames, the GDT frames take the descriptor-page type and the roots the L4 type (the
 * GDT is dropped again if a root fails). Initialised: the roots, GDT and LDT must be the ones the
 * vCPU has (-EOPNOTSUPP otherwise; Xen does not replace them on a live vCPU).
 *
 * Xen copies the registers before its later checks, so a refused context leaves its vCPU half
 * changed; here everything is checked first and a refusal changes nothing.
 */
export function setInfoGuest(d: Domain, dt: DomainTime, id: number, b: Uint8Array): number {
  const t = dt.vcpu(id);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const reg = (n: string): number => s64(dv, R[n] as number);
  const ldtBase = s64(dv, O.ldtBase);
  const ldtEnts = u64(dv, O.ldtEnts);
  const addresses = [reg('rip'), reg('rsp'), s64(dv, O.kernelSp), s64(dv, O.fsBase), s64(dv, O.gsKernel), s64(dv, O.gsUser), s64(dv, O.event), s64(dv, O.syscall), s64(dv, O.failsafe)];
  if (ldtEnts !== 0) addresses.push(ldtBase);
  for (let k = 0; k < 256; k++) addresses.push(s64(dv, O.trap + k * TRAP_INFO_SIZE + 8));
  if (!addresses.every(isCanonical)) return -XEN_EINVAL;
  // __addr_ok: a guest address (below 2^47, or above Xen's range), page aligned; at most 8192 entries.
  if (!(ldtBase >= 0 ? ldtBase < 2 ** 47 : ldtBase >= XEN_VIRT_END)) return -XEN_EINVAL;
  if (ldtBase % PAGE_SIZE !== 0 || ldtEnts > MAX_LDT_ENTS) return -XEN_EINVAL;
  const flags = dv.getUint32(O.flags, true);
  const vmLo = dv.getUint32(O.vmAssist, true);
  const vmHi = dv.getUint32(O.vmAssist + 4, true);
  if (id === 0 && ((vmLo & ~PV64_VM_ASSIST_LOW) !== 0 || (vmHi & ~(1 << (VMASST_TYPE_m2p_strict - 32))) !== 0)) return -XEN_EINVAL;
  const gdtEnts = u64(dv, O.gdtEnts);
  const nrGdt = Math.ceil(gdtEnts / DESCS_PER_FRAME);
  if (nrGdt > GDT_FRAMES) return -XEN_EINVAL;
  const gdtFrames: number[] = [];
  for (let k = 0; k < nrGdt; k++) gdtFrames.push(u64(dv, O.gdtFrames + k * 8));
  // ctrlreg[3] and ctrlreg[1] hold xen_pfn_to_cr3(mfn): the frame number in bits 12 and up.
  const cr3Raw = u64(dv, O.ctrlreg + 3 * 8);
  const cr1Raw = u64(dv, O.ctrlreg + 1 * 8);
  const cr3 = Math.floor(cr3Raw / PAGE_SIZE);
  const cr1 = Math.floor(cr1Raw / PAGE_SIZE);
  const inKernel = (flags & VGCF_in_kernel) !== 0;
  let v = d.vcpus[id];
  if (!t.initialised || v === undefined) {
    // A vCPU that starts in user mode needs its user page tables.
    if (!inKernel && cr1Raw === 0) return -XEN_EINVAL;
    // Roots that are no frames of the domain fail whatever the GDT (checked before a PvVcpu is built).
    if (!domainFrame(d, cr3) || (cr1 !== 0 && !domainFrame(d, cr1))) return -XEN_EINVAL;
    v ??= dt.host.createVcpu(d, id);
    if (v === undefined) throw new Error(`domain ${d.id} has no machine memory for vCPU ${id} (Domain.machine unset)`);
    // pv_set_gdt, then the page-table roots; a root that fails takes the new GDT down again.
    const gdt = installGdt(d, v, gdtFrames, gdtEnts);
    if (gdt !== 0) return gdt;
    const roots = d.mmu !== undefined && d.mmu.vcpus[id] !== undefined ? d.mmu.setBaseptrs(id, cr3, cr1) : 0;
    if (roots !== 0) {
      if (d.mmu !== undefined) destroyGdt(v, d.mmu.types);
      return roots;
    }
    const mmuState = d.mmu?.vcpus[id];
    if (mmuState !== undefined) {
      mmuState.ldtEnts = ldtEnts;
      mmuState.ldtBase = ldtEnts !== 0 ? ldtBase : 0;
    }
    v.guestTable = cr3;
    v.guestTableUser = cr1;
    if (id === 0) d.vmAssist = (vmLo & PV64_VM_ASSIST_LOW) | (vmHi !== 0 ? M2P_STRICT_HERE : 0);
  } else {
    // A live vCPU keeps its roots, GDT and LDT: the context must name the same ones.
    let fail = v.guestTable * PAGE_SIZE !== cr3Raw;
    if (v.guestTableUser === 0) fail ||= cr1Raw !== 0 || !inKernel;
    else fail ||= v.guestTableUser * PAGE_SIZE !== cr1Raw;
    fail ||= v.gdtEnts !== gdtEnts || gdtFrames.some((f, k) => v?.gdtFrames[k] !== f);
    const mmuState = d.mmu?.vcpus[id];
    const curLdtEnts = mmuState?.ldtEnts ?? 0;
    fail ||= curLdtEnts !== ldtEnts || (curLdtEnts !== 0 && mmuState?.ldtBase !== ldtBase);
    if (fail) return -XEN_EOPNOTSUPP;
  }
  applyRegisters(v, dv, flags);
  if (!t.initialised) {
    t.initialised = true;
    dt.bindArea(v);
    dt.updateTime(id);
  }
  // VGCF_online: up at once; without it the vCPU is (or goes) down (Xen's _VPF_down).
  if ((flags & VGCF_online) !== 0) dt.online(v);
  else if (t.up) {
    t.up = false;
    t.poll = undefined;
    dt.setRunstate(id, RUNSTATE_offline);
    v.cpu.stopRequested = true;
  }
  v.kick();
  return 0;
}

/** Everything of the context but the roots, GDT and LDT (validated already; cannot fail). */
function applyRegisters(v: PvVcpu, dv: DataView, flags: number): void {
  const cpu = v.cpu;
  const reg = (n: string): number => s64(dv, R[n] as number);
  v.kernelMode = (flags & VGCF_in_kernel) !== 0;
  v.failsafeMaskEvents = (flags & VGCF_failsafe_disables_events) !== 0;
  v.syscallMaskEvents = (flags & VGCF_syscall_disables_events) !== 0;
  setupFpu(v, dv, (flags & VGCF_i387_valid) !== 0);
  for (const [n, r] of GPR) cpu.setReg64(r, dv.getInt32(R[n] as number, true), dv.getInt32((R[n] as number) + 4, true));
  cpu.rip = reg('rip');
  const rflags = dv.getUint32(R.rflags as number, true);
  // The guest's IOPL becomes the virtual IOPL; the real one stays 0 and IF is forced on.
  v.iopl = (rflags >>> 12) & 3;
  cpu.setFlags((rflags & RFLAGS_KEPT) | 0x202);
  const cs = (dv.getUint16(R.cs as number, true) & 0xffff) | 3;
  cpu.loadSegmentCache(1, cs, 0, 0xffffffff, cs === FLAT_USER_CS32 ? ATTR_CS32 : ATTR_CS64);
  const ss = dv.getUint16(R.ss as number, true);
  cpu.loadSegmentCache(2, ss === 0 ? 0 : ss | 3, 0, 0xffffffff, ATTR_DS);
  for (const [name, seg] of DATA_SEGS) {
    const sel = dv.getUint16(R[name] as number, true);
    cpu.loadSegmentCache(seg, sel === 0 ? 0 : sel | 3, 0, 0xffffffff, ATTR_DS);
  }
  for (let k = 0; k < 256; k++) {
    const at = O.trap + k * TRAP_INFO_SIZE;
    v.trapFlags[k] = dv.getUint8(at + 1);
    v.trapAddress[k] = s64(dv, at + 8);
  }
  v.kernelSs = (dv.getUint16(O.kernelSs, true) & 0xffff) | 3;
  v.kernelSp = s64(dv, O.kernelSp);
  v.eventCallback = s64(dv, O.event);
  v.failsafeCallback = s64(dv, O.failsafe);
  v.syscallCallback = s64(dv, O.syscall);
  // Only CR0.TS is the guest's; CR2 is stored as given; CR4 through pv_fixup_guest_cr4 (virtualCr4).
  v.virtualTs = (dv.getUint32(O.ctrlreg, true) & CR0_TS) !== 0;
  v.virtualCr2 = s64(dv, O.ctrlreg + 2 * 8);
  v.guestCr4 = dv.getUint32(O.ctrlreg + 4 * 8, true);
  cpu.segBase[4] = s64(dv, O.fsBase);
  cpu.segBase[5] = v.kernelMode ? s64(dv, O.gsKernel) : s64(dv, O.gsUser);
  v.inactiveGsBase = v.kernelMode ? s64(dv, O.gsUser) : s64(dv, O.gsKernel);
  v.loadRoot();
  // Xen resets the debug registers, then applies the context's through set_debugreg, ignoring
  // its refusals (a register it refuses keeps its reset value). CR4 (DE) is in place already.
  v.dr.fill(0);
  v.dr6 = DR6_DEFAULT;
  v.dr7 = DR7_DEFAULT;
  v.dr7Emul = 0;
  for (const k of [0, 1, 2, 3, 6, 7]) setDebugreg(v, k, dv.getUint32(O.debugreg + k * 8, true), dv.getInt32(O.debugreg + k * 8 + 4, true));
  v.loadDebugRegisters();
}

/**
 * Xen `vcpu_setup_fpu`: the context's FXSAVE block when VGCF_i387_valid (restored as FXRSTOR64
 * unless byte 511 says Xen saved it with 32-bit pointers; a block FXRSTOR refuses is cleared
 * and loaded as zeros, Xen's fpu_fxrstor fixup), else the default state.
 */
function setupFpu(v: PvVcpu, dv: DataView, valid: boolean): void {
  const c = v.cpu;
  if (valid) {
    const width = dv.getUint8(O.fpu + FPU_WORD_SIZE_OFFSET);
    const wide = width !== 4 && width !== 2;
    if (loadFxImage(c, dv, O.fpu, wide)) return;
    loadFxImage(c, new DataView(new ArrayBuffer(FX_IMAGE_SIZE)), 0, wide);
    return;
  }
  const img = new DataView(new ArrayBuffer(FX_IMAGE_SIZE));
  img.setUint16(0, 0x37f, true); // FCW_DEFAULT
  img.setUint32(24, 0x1f80, true); // MXCSR_DEFAULT
  loadFxImage(c, img, 0, true);
}

/**
 * The context's GDT through pv_set_gdt: each frame takes a descriptor-page type reference. A
 * domain without the PV MMU (a bare test machine) has no page types to take, so only an empty
 * GDT is accepted there.
 */
function installGdt(d: Domain, v: PvVcpu, frames: readonly number[], entries: number): number {
  if (d.mmu === undefined) return entries === 0 ? 0 : -XEN_EINVAL;
  const rc = setGdt(v, d.mmu.types, d.id, frames, entries);
  if (rc === 0) v.cpu.flushTlb();
  return rc;
}

/**
 * Whether machine frame `mfn` is the domain's. Without the machine's bookkeeping (a plain
 * PhysicalMemory in tests), a frame that exists is accepted.
 */
function domainFrame(d: Domain, mfn: number): boolean {
  const m = d.machine;
  if (m === undefined || mfn <= 0 || !Number.isSafeInteger(mfn)) return false;
  if (m.frame(mfn) === undefined) return false;
  if (m instanceof MachineMemory && m.owner[mfn] !== d.id) return false;
  return true;
}

/**
 * XEN_DOMCTL_setvcpucontext with a NULL context (Xen `vcpu_reset`): the vCPU drops its GDT and
 * page-table roots, is no longer initialised and goes down; its registers stay until a context
 * is set. -EINVAL for a vCPU id beyond max_vcpus or without a vCPU.
 */
export function resetVcpu(d: Domain, id: number): number {
  const dt = d.time;
  const v = d.vcpus[id];
  if (dt === undefined || v === undefined || id >= d.maxVcpus) return -XEN_EINVAL;
  if (d.mmu !== undefined) {
    destroyGdt(v, d.mmu.types);
    if (d.mmu.vcpus[id] !== undefined) {
      d.mmu.destroyPagetables(id);
      d.mmu.vcpus[id].ldtBase = 0;
      d.mmu.vcpus[id].ldtEnts = 0;
    }
  }
  v.guestTable = 0;
  v.guestTableUser = 0;
  const t = dt.vcpu(id);
  t.initialised = false;
  if (t.up) {
    t.up = false;
    t.poll = undefined;
    dt.setRunstate(id, RUNSTATE_offline);
  }
  v.blocked = false;
  v.cpu.stopRequested = true;
  return 0;
}

// ---- XEN_DOMCTL_{get,set}_ext_vcpucontext ---------------------------------------------------------

/** sizeof(struct xen_domctl_ext_vcpucontext) on x86_64, and the offset of its vmce member. */
export const EXT_VCPU_CONTEXT_SIZE = 64;
const EXT_VMCE = 32;
/** MCG_CAP bits a restore may carry without a machine-check model: the bank count and MCG_CTL_P. */
const MCG_CAP_COUNT_CTL = 0x1ff;

/**
 * XEN_DOMCTL_get_ext_vcpucontext: the SYSCALL-from-compat-mode and SYSENTER callbacks with their
 * disables-events flags (the code selectors are 0: a PV64 guest registers addresses only), size
 * 64, and a zero vmce (xenlab models no machine-check architecture; MCG_CAP reads #GP).
 */
export function getVcpuExtended(v: PvVcpu): Uint8Array {
  const b = new Uint8Array(EXT_VCPU_CONTEXT_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, v.id, true);
  dv.setUint32(4, EXT_VCPU_CONTEXT_SIZE, true);
  put64(dv, 8, v.syscall32Callback);
  put64(dv, 16, v.sysenterCallback);
  dv.setUint8(28, v.syscall32MaskEvents ? 1 : 0);
  dv.setUint8(29, v.sysenterMaskEvents ? 1 : 0);
  return b;
}

/**
 * XEN_DOMCTL_set_ext_vcpucontext for a PV vCPU: -ESRCH for a vCPU that does not exist (Xen
 * allocates every vCPU below max_vcpus at creation; here one exists once it has had a context,
 * so a restore sets the basic context first, as libxc's stream order does anyway), -EINVAL
 * when `size` (or the bytes given) is short of the vmce member, a callback is not canonical, or
 * vmce.caps asks for machine-check capabilities beyond a bank count (Xen's vmce_restore_vcpu
 * against a CPU offering none). The selectors are accepted and not kept (see the getter).
 */
export function setVcpuExtended(d: Domain, b: Uint8Array): number {
  if (b.length < 8) return -XEN_EINVAL;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const id = dv.getUint32(0, true);
  const v = id < d.maxVcpus ? d.vcpus[id] : undefined;
  if (v === undefined) return -XEN_ESRCH;
  const size = dv.getUint32(4, true);
  if (size < EXT_VMCE || b.length < Math.min(size, EXT_VCPU_CONTEXT_SIZE)) return -XEN_EINVAL;
  const syscall32 = s64(dv, 8);
  const sysenter = s64(dv, 16);
  if (!isCanonical(syscall32) || !isCanonical(sysenter)) return -XEN_EINVAL;
  if (size >= EXT_VMCE + 8) {
    const caps = u64(dv, EXT_VMCE);
    if (caps >= TWO32 || (caps & ~MCG_CAP_COUNT_CTL) !== 0) return -XEN_EINVAL;
  }
  v.syscall32Callback = syscall32;
  v.syscall32MaskEvents = dv.getUint8(28) !== 0;
  v.sysenterCallback = sysenter;
  v.sysenterMaskEvents = dv.getUint8(29) !== 0;
  return 0;
}

// ---- xenlab's own record ----------------------------------------------------------------------------

/** The xenlab vCPU record: magic, then the fields (see the file comment). */
export const XENLAB_VCPU_SIZE = 24;
const XENLAB_VCPU_MAGIC = 0x31564c58; // "XLV1"

/** The vCPU state neither Xen record carries: the I/O bitmap (PHYSDEVOP_set_iobitmap). */
export function getVcpuXenlab(v: PvVcpu): Uint8Array {
  const b = new Uint8Array(XENLAB_VCPU_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, XENLAB_VCPU_MAGIC, true);
  put64(dv, 8, v.iobmp);
  dv.setUint32(16, v.iobmpLimit >>> 0, true);
  return b;
}

/** Loads `getVcpuXenlab`'s record: -EINVAL for a wrong size or magic, or what PHYSDEVOP_set_iobitmap refuses. */
export function setVcpuXenlab(v: PvVcpu, b: Uint8Array): number {
  if (b.length !== XENLAB_VCPU_SIZE) return -XEN_EINVAL;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(0, true) !== XENLAB_VCPU_MAGIC) return -XEN_EINVAL;
  const iobmp = s64(dv, 8);
  const limit = dv.getUint32(16, true);
  if (!addrOk(iobmp) || limit > 65536) return -XEN_EINVAL;
  v.iobmp = iobmp;
  v.iobmpLimit = limit;
  return 0;
}

