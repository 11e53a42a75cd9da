/**
 * vcpu_op (24), reference §7.4: `(cmd, vcpuid, arg)`. A vcpuid at or beyond the domain's
 * max_vcpus is -ENOENT (before the command is looked at, as in Xen's do_vcpu_op); an unknown
 * command is -ENOSYS.
 *
 * vCPUs other than the builder's vCPU 0 exist from domain creation (max_vcpus) but have no CPU
 * until VCPUOP_initialise: that builds a PvVcpu over the domain's machine memory
 * (`Domain.machine`, set by the builder) through `TimeHost.createVcpu`, loads the
 * vcpu_guest_context into it, and leaves it down until VCPUOP_up.
 *
 * Semantics follow Xen 4.17's common/domain.c and arch/x86 vcpu handling (facts, our words):
 *  - initialise: the vCPU needs a vcpu_info (id < 32, or registered) else -EINVAL; an
 *    unreadable context -EFAULT; already initialised -EEXIST; then arch_set_info_guest's checks,
 *    each -EINVAL: RIP, RSP, kernel_sp, the segment bases, the callbacks, every trap handler
 *    (and the LDT base when ldt_ents is set) canonical; the LDT base a page-aligned guest
 *    address and at most 8192 entries; at most 16 GDT frames; a vCPU starting in user mode
 *    needs ctrlreg[1]; the GDT frames must take the descriptor-page type (pv_set_gdt); the
 *    kernel and user roots must be the domain's frames and validate as L4 tables (the GDT is
 *    dropped again if they do not). VGCF_online brings the vCPU up at once;
 *  - up: -EINVAL until initialised; down: downing the last vCPU that is up shuts the domain
 *    down (poweroff); is_up: 1 or 0;
 *  - singleshot timer ops: the calling vCPU only (-EINVAL); periodic: 1 ms ≤ period ≤ 2^62-1;
 *  - register_vcpu_info: offset must leave room for the 64 bytes, the frame must be the
 *    domain's and not a page table, once per vCPU (-EINVAL the second time, as 4.17); the
 *    target is the caller or a vCPU that is down;
 *  - register_vcpu_time_memory_area: a second pvclock copy at a guest virtual address
 *    (canonical, outside Xen's range, else -EFAULT), kept up to date with the first;
 *  - send_nmi: arg must be NULL (-EINVAL); accepted, delivery not modelled yet;
 *  - get_physid: -EINVAL (only the hardware domain's pinned vCPUs have one).
 */
import type { Domain } from '../hv/domain.js';
import { MachineMemory, PageType } from '../hv/machine.js';
import { View } from '../layout/view.js';
import { DR6_DEFAULT, DR7_DEFAULT, setDebugreg } from '../pv/debugreg.js';
import { DESCS_PER_FRAME } from '../pv/gdt.js';
import { destroyGdt, setGdt } from './descriptors.js';
import type { PvVcpu } from '../pv/vcpu.js';
import { FLAT_KERNEL_CS64, FLAT_USER_CS32 } from '../pv/vcpu.js';
import { VGCF_in_kernel, VGCF_online, VGCF_syscall_disables_events, XEN_LEGACY_MAX_VCPUS } from '../public/arch-x86.js';
import { XEN_EEXIST, XEN_EFAULT, XEN_EINVAL, XEN_ENOENT, XEN_ENOSYS, XEN_ETIME } from '../public/errno.js';
import { layout } from '../public/index.js';
import { SHUTDOWN_poweroff } from '../public/sched.js';
import * as V from '../public/vcpu.js';
import { VcpuInfoArea } from '../time/pvclock.js';
import { DomainTime, MAX_PERIOD_NS, MIN_PERIOD_NS, type VcpuTime } from '../time/timers.js';
import { isCanonical } from '../../x86/system/regs.js';
import { cmdOf, type Handler, type HypercallContext } from './context.js';

const L = {
  ctx: layout('vcpu_guest_context', 'x86_64'),
  periodic: layout('vcpu_set_periodic_timer', 'x86_64'),
  sshot: layout('vcpu_set_singleshot_timer', 'x86_64'),
  info: layout('vcpu_register_vcpu_info', 'x86_64'),
  runstateArea: layout('vcpu_register_runstate_memory_area', 'x86_64'),
  timeArea: layout('vcpu_register_time_memory_area', 'x86_64'),
};

const NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(V).filter(([k, v]) => k.startsWith('VCPUOP_') && typeof v === 'number').map(([k, v]) => [v as number, k]),
);

const TWO32 = 4294967296;
const PAGE_SIZE = 4096;
/** Xen's own virtual range in PV64 guests: no guest handle may point into it. */
const XEN_VIRT_START = -0x800000000000;
const XEN_VIRT_END = -0x780000000000;

export const vcpuOp: Handler = (ctx) => {
  const cmd = cmdOf(ctx, 1);
  const id = cmdOf(ctx, 2);
  const arg = ctx.arg(3);
  ctx.subop(NAMES[cmd] ?? `VCPUOP ${cmd}`);
  const d = ctx.domain;
  const dt = d.time;
  if (dt === undefined) throw new Error(`domain ${d.id} has no time state`);
  if (id >= d.maxVcpus) return -XEN_ENOENT;
  const t = dt.vcpu(id);
  const self = id === ctx.vcpu.id;
  switch (cmd) {
    case V.VCPUOP_initialise:
      return initialise(ctx, dt, t, arg);
    case V.VCPUOP_up: {
      const v = d.vcpus[id];
      if (!t.initialised || v === undefined) return -XEN_EINVAL;
      if (!t.up) dt.online(v);
      return 0;
    }
    case V.VCPUOP_down:
      return down(d, dt, t, ctx.vcpu);
    case V.VCPUOP_is_up:
      return t.up ? 1 : 0;
    case V.VCPUOP_get_runstate_info: {
      // The current state's time includes the time spent in it so far (Xen's vcpu_runstate_get).
      const b = dt.runstateBytes(id);
      const dv = new DataView(b.buffer);
      const at = layout('vcpu_runstate_info', 'x86_64').field('time').offset + t.runstate * 8;
      dv.setBigUint64(at, dv.getBigUint64(at, true) + BigInt(Math.max(0, dt.clock.now() - t.stateEntry)), true);
      return ctx.mem.write(arg, b) ? 0 : -XEN_EFAULT;
    }
    case V.VCPUOP_register_runstate_memory_area: {
      const a = View.copyIn(L.runstateArea, ctx.mem, arg);
      if (a === undefined) return -XEN_EFAULT;
      const [lo, hi] = [a.lo('addr.p'), a.hi('addr.p')];
      const va = (hi | 0) * TWO32 + lo;
      if (!handleOk(va)) return -XEN_EFAULT;
      t.runstateArea = va;
      dt.writeRunstateArea(id);
      return 0;
    }
    case V.VCPUOP_set_periodic_timer: {
      const a = View.copyIn(L.periodic, ctx.mem, arg);
      if (a === undefined) return -XEN_EFAULT;
      const period = a.getBig('period_ns');
      if (period < BigInt(MIN_PERIOD_NS) || period > MAX_PERIOD_NS) return -XEN_EINVAL;
      dt.setPeriodic(id, Number(period));
      return 0;
    }
    case V.VCPUOP_stop_periodic_timer:
      dt.setPeriodic(id, 0);
      return 0;
    case V.VCPUOP_set_singleshot_timer: {
      if (!self) return -XEN_EINVAL;
      const a = View.copyIn(L.sshot, ctx.mem, arg);
      if (a === undefined) return -XEN_EFAULT;
      const timeout = Number(a.getBig('timeout_abs_ns'));
      const flags = a.get('flags');
      if (dt.host.timeOptions.sshotFutureEtime && (flags & V.VCPU_SSHOTTMR_future) !== 0 && timeout < dt.clock.now()) return -XEN_ETIME;
      dt.setSingleshot(id, timeout);
      return 0;
    }
    case V.VCPUOP_stop_singleshot_timer:
      if (!self) return -XEN_EINVAL;
      dt.stopSingleshot(id);
      return 0;
    case V.VCPUOP_register_vcpu_info:
      return registerVcpuInfo(ctx, dt, t, arg);
    case V.VCPUOP_send_nmi:
      if (arg !== 0) return -XEN_EINVAL;
      t.nmiPending = true;
      return 0;
    case V.VCPUOP_get_physid:
      return -XEN_EINVAL;
    case V.VCPUOP_register_vcpu_time_memory_area: {
      const a = View.copyIn(L.timeArea, ctx.mem, arg);
      if (a === undefined) return -XEN_EFAULT;
      const va = (a.hi('addr.p') | 0) * TWO32 + a.lo('addr.p');
      if (!handleOk(va)) return -XEN_EFAULT;
      t.timeArea = va;
      dt.updateTime(id);
      return 0;
    }
    default:
      return -XEN_ENOSYS;
  }
};

/** Xen's guest_handle_okay for PV64: canonical and outside Xen's own range. */
function handleOk(va: number): boolean {
  return isCanonical(va) && !(va >= XEN_VIRT_START && va < XEN_VIRT_END);
}

function down(d: Domain, dt: DomainTime, t: VcpuTime, caller: PvVcpu): number {
  const othersUp = dt.all().some((o) => o.id !== t.id && o.up);
  if (!othersUp) {
    // The last vCPU going down: the domain is powered off (Xen's VCPUOP_down).
    d.shutdown(SHUTDOWN_poweroff);
    return 0;
  }
  if (!t.up) return 0;
  t.up = false;
  t.poll = undefined;
  dt.setRunstate(t.id, V.RUNSTATE_offline);
  const v = d.vcpus[t.id];
  if (v !== undefined && v === caller) v.cpu.stopRequested = true;
  return 0;
}

// ---- VCPUOP_initialise ------------------------------------------------------------------------------

function off(path: string): number {
  const f = L.ctx.find(path);
  if (f === undefined) throw new Error(`vcpu_guest_context: no field ${path}`);
  return f.offset;
}

const O = {
  flags: off('flags'),
  regs: off('user_regs'),
  trap: off('trap_ctxt'),
  kernelSs: off('kernel_ss'),
  kernelSp: off('kernel_sp'),
  ctrlreg: off('ctrlreg'),
  event: off('event_callback_eip'),
  failsafe: off('failsafe_callback_eip'),
  syscall: off('syscall_callback_eip'),
  fsBase: off('fs_base'),
  gsKernel: off('gs_base_kernel'),
  gsUser: off('gs_base_user'),
  ldtBase: off('ldt_base'),
  ldtEnts: off('ldt_ents'),
  gdtFrames: off('gdt_frames'),
  gdtEnts: off('gdt_ents'),
  debugreg: off('debugreg'),
};

/** cpu_user_regs (x86_64) field offsets, relative to user_regs. */
const R = Object.fromEntries(
  ['r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi', 'rdi', 'rip', 'cs', 'rflags', 'rsp', 'ss', 'ds', 'es', 'fs', 'gs'].map((n) => [n, off(`user_regs.${n}`) - O.regs]),
) as Record<string, number>;
/** Register numbers (x86 encoding) of the cpu_user_regs names. */
const GPR: readonly (readonly [string, number])[] = [
  ['rax', 0], ['rcx', 1], ['rdx', 2], ['rbx', 3], ['rsp', 4], ['rbp', 5], ['rsi', 6], ['rdi', 7],
  ['r8', 8], ['r9', 9], ['r10', 10], ['r11', 11], ['r12', 12], ['r13', 13], ['r14', 14], ['r15', 15],
];
const TRAP_INFO_SIZE = layout('trap_info', 'x86_64').size;
/** vcpu_guest_context.gdt_frames has 16 slots; an LDT has at most 8192 entries. */
const GDT_FRAMES = 16;
const MAX_LDT_ENTS = 8192;

/** An unsigned 64-bit field as a number (exact below 2^53, correctly rounded above). */
function u64(dv: DataView, at: number): number {
  return dv.getUint32(at + 4, true) * TWO32 + dv.getUint32(at, true);
}

/** A signed 64-bit field as a number (exact for canonical addresses and values below 2^53). */
function s64(dv: DataView, at: number): number {
  return dv.getInt32(at + 4, true) * TWO32 + dv.getUint32(at, true);
}

function initialise(ctx: HypercallContext, dt: DomainTime, t: VcpuTime, arg: number): number {
  const d = ctx.domain;
  if (t.area === undefined && !(t.id < XEN_LEGACY_MAX_VCPUS && d.evtchn?.sink.sharedInfo !== undefined)) return -XEN_EINVAL;
  const c = View.copyIn(L.ctx, ctx.mem, arg);
  if (c === undefined) return -XEN_EFAULT;
  if (t.initialised) return -XEN_EEXIST;
  const b = c.bytes();
  const dv = new DataView(b.buffer);
  const reg = (n: string): number => s64(dv, O.regs + (R[n] as number));
  // Validation, in the order of Xen 4.17's arch_set_info_guest for a 64-bit PV guest, before
  // anything changes.
  const ldtBase = s64(dv, O.ldtBase);
  const ldtEnts = u64(dv, O.ldtEnts);
  const addresses = [reg('rip'), reg('rsp'), s64(dv, O.kernelSp), s64(dv, O.fsBase), s64(dv, O.gsKernel), s64(dv, O.gsUser), s64(dv, O.event), s64(dv, O.syscall), s64(dv, O.failsafe)];
  if (ldtEnts !== 0) addresses.push(ldtBase);
  for (let k = 0; k < 256; k++) addresses.push(s64(dv, O.trap + k * TRAP_INFO_SIZE + 8));
  if (!addresses.every(isCanonical)) return -XEN_EINVAL;
  // __addr_ok: a guest address (below 2^47, or above Xen's range), page aligned; at most 8192 entries.
  if (!(ldtBase >= 0 ? ldtBase < 2 ** 47 : ldtBase >= XEN_VIRT_END)) return -XEN_EINVAL;
  if (ldtBase % PAGE_SIZE !== 0 || ldtEnts > MAX_LDT_ENTS) return -XEN_EINVAL;
  const gdtEnts = u64(dv, O.gdtEnts);
  if (Math.ceil(gdtEnts / DESCS_PER_FRAME) > GDT_FRAMES) return -XEN_EINVAL;
  const flags = s64(dv, O.flags);
  // ctrlreg[3] and ctrlreg[1] hold xen_pfn_to_cr3(mfn): the frame number in bits 12 and up.
  const cr3 = Math.floor(u64(dv, O.ctrlreg + 3 * 8) / PAGE_SIZE);
  const cr1 = Math.floor(u64(dv, O.ctrlreg + 1 * 8) / PAGE_SIZE);
  // A vCPU that starts in user mode needs its user page tables.
  if ((flags & VGCF_in_kernel) === 0 && u64(dv, O.ctrlreg + 1 * 8) === 0) return -XEN_EINVAL;
  // Roots that are no frames of the domain fail whatever the GDT (checked before a PvVcpu is built).
  if (!domainFrame(d, cr3, true) || (cr1 !== 0 && !domainFrame(d, cr1, true))) return -XEN_EINVAL;

  const v = d.vcpus[t.id] ?? dt.host.createVcpu(d, t.id);
  if (v === undefined) throw new Error(`domain ${d.id} has no machine memory for vCPU ${t.id} (Domain.machine unset)`);
  // pv_set_gdt, then the page-table roots; a root that fails takes the new GDT down again.
  const gdt = installGdt(d, v, dv, gdtEnts);
  if (gdt !== 0) return gdt;
  const roots = setRoots(d, t.id, cr3, cr1);
  if (roots !== 0) {
    if (d.mmu !== undefined) destroyGdt(v, d.mmu.types);
    return roots;
  }
  const mmuState = d.mmu?.vcpus[t.id];
  if (mmuState !== undefined) {
    mmuState.ldtEnts = ldtEnts;
    mmuState.ldtBase = ldtEnts !== 0 ? ldtBase : 0;
  }
  const cpu = v.cpu;
  for (const [n, r] of GPR) v.setReg(r, reg(n));
  cpu.rip = reg('rip');
  const rflags = reg('rflags');
  // The guest's IOPL becomes the virtual IOPL; the real one stays 0 and IF stays set.
  v.iopl = (rflags >>> 12) & 3;
  cpu.setFlags((rflags & 0x3c0dd5 & ~0x23000) | 0x202);
  const cs = (reg('cs') & 0xffff) | 3;
  cpu.loadSegmentCache(1, cs, 0, 0xffffffff, cs === FLAT_USER_CS32 ? 0xcfb : 0xafb);
  const ss = reg('ss') & 0xffff;
  cpu.loadSegmentCache(2, ss === 0 ? 0 : ss | 3, 0, 0xffffffff, 0xcf3);
  for (const [name, seg] of [['es', 0], ['ds', 3], ['fs', 4], ['gs', 5]] as const) {
    const sel = reg(name) & 0xffff;
    cpu.loadSegmentCache(seg, sel === 0 ? 0 : sel | 3, 0, 0xffffffff, 0xcf3);
  }
  for (let k = 0; k < 256; k++) {
    const at = O.trap + k * TRAP_INFO_SIZE;
    v.trapFlags[k] = dv.getUint8(at + 1);
    v.trapAddress[k] = s64(dv, at + 8);
  }
  v.kernelSs = (s64(dv, O.kernelSs) & 0xffff) | 3;
  v.kernelSp = s64(dv, O.kernelSp);
  v.eventCallback = s64(dv, O.event);
  v.failsafeCallback = s64(dv, O.failsafe);
  v.syscallCallback = s64(dv, O.syscall);
  v.syscallMaskEvents = (flags & VGCF_syscall_disables_events) !== 0;
  v.guestTable = cr3;
  v.guestTableUser = cr1;
  v.kernelMode = (flags & VGCF_in_kernel) !== 0;
  cpu.segBase[4] = s64(dv, O.fsBase);
  cpu.segBase[5] = v.kernelMode ? s64(dv, O.gsKernel) : s64(dv, O.gsUser);
  v.inactiveGsBase = v.kernelMode ? s64(dv, O.gsUser) : s64(dv, O.gsKernel);
  v.loadRoot();
  // Xen resets the debug registers, then applies the context's through set_debugreg, ignoring
  // its refusals (a register it refuses keeps its reset value).
  v.dr.fill(0);
  v.dr6 = DR6_DEFAULT;
  v.dr7 = DR7_DEFAULT;
  v.dr7Emul = 0;
  for (const k of [0, 1, 2, 3, 6, 7]) setDebugreg(v, k, dv.getUint32(O.debugreg + k * 8, true), dv.getInt32(O.debugreg + k * 8 + 4, true));
  v.loadDebugRegisters();
  void FLAT_KERNEL_CS64;
  t.initialised = true;
  dt.bindArea(v);
  dt.updateTime(t.id);
  // VGCF_online: the vCPU comes up at once, without VCPUOP_up.
  if ((flags & VGCF_online) !== 0) dt.online(v);
  return 0;
}

/**
 * The context's GDT (gdt_frames, gdt_ents) through pv_set_gdt: each frame takes a descriptor-page
 * type reference. A domain without the PV MMU (a bare test machine) has no page types to take,
 * so only an empty GDT is accepted there.
 */
function installGdt(d: Domain, v: PvVcpu, dv: DataView, entries: number): number {
  const nr = Math.ceil(entries / DESCS_PER_FRAME);
  const frames: number[] = [];
  for (let k = 0; k < nr; k++) frames.push(u64(dv, O.gdtFrames + k * 8));
  if (d.mmu === undefined) return entries === 0 ? 0 : -XEN_EINVAL;
  const rc = setGdt(v, d.mmu.types, d.id, frames, entries);
  if (rc === 0) v.cpu.flushTlb();
  return rc;
}

/** The kernel (and user) page-table roots (frames of the domain), taken as L4 tables by the PV MMU. */
function setRoots(d: Domain, id: number, cr3: number, cr1: number): number {
  if (d.mmu !== undefined && d.mmu.vcpus[id] !== undefined) return d.mmu.setBaseptrs(id, cr3, cr1);
  return 0;
}

/**
 * Whether machine frame `mfn` is the domain's (and, for a frame Xen will write, not a page table
 * or descriptor page). Without the machine's bookkeeping (a plain PhysicalMemory in tests), a
 * frame that exists is accepted.
 */
function domainFrame(d: Domain, mfn: number, pageTableOk: boolean): boolean {
  const m = d.machine;
  if (m === undefined || mfn <= 0) return false;
  if (m.frame(mfn) === undefined) return false;
  if (m instanceof MachineMemory) {
    if (m.owner[mfn] !== d.id) return false;
    const type = m.type[mfn] as number;
    if (!pageTableOk && type !== PageType.None && type !== PageType.Writable) return false;
  }
  return true;
}

// ---- VCPUOP_register_vcpu_info ----------------------------------------------------------------------

function registerVcpuInfo(ctx: HypercallContext, dt: DomainTime, t: VcpuTime, arg: number): number {
  const d = ctx.domain;
  const a = View.copyIn(L.info, ctx.mem, arg);
  if (a === undefined) return -XEN_EFAULT;
  const offset = a.get('offset');
  const mfn = a.get('mfn');
  if (offset > PAGE_SIZE - 64) return -XEN_EINVAL;
  if (t.vcpuInfoRegistered) return -XEN_EINVAL;
  // Only for the caller itself or a vCPU that is down.
  if (t.id !== ctx.vcpu.id && t.up) return -XEN_EINVAL;
  if (!Number.isSafeInteger(mfn) || !domainFrame(d, mfn, false)) return -XEN_EINVAL;
  const frame = d.machine?.frame(mfn);
  if (frame === undefined) return -XEN_EINVAL;
  const area = new VcpuInfoArea(frame, offset);
  // The old contents move along; a vCPU without a slot starts with events masked.
  const old = t.area;
  if (old !== undefined) area.setBytes(old.bytes());
  else {
    area.setBytes(new Uint8Array(64));
    area.setUpcallMask(1);
  }
  // As Xen does after a move: everything is marked pending so the guest rescans its ports.
  frame.setUint8(offset, 1);
  frame.setBigUint64(offset + 8, 0xffffffffffffffffn, true);
  t.area = area;
  t.vcpuInfoRegistered = true;
  const v = d.vcpus[t.id];
  if (v !== undefined) {
    v.vcpuInfo = area;
    v.kick();
  }
  dt.updateTime(t.id);
  return 0;
}
