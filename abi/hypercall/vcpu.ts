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
 *    dropped again if they do not). VGCF_online brings the vCPU up at once. The checks and the
 *    loading of the context (registers, FXSAVE image, TS/CR2/CR4, debug registers, callbacks)
 *    are arch_set_info_guest in vcpu-context.ts, shared with the toolstack's setvcpucontext;
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
import type { PvVcpu } from '../pv/vcpu.js';
import { XEN_LEGACY_MAX_VCPUS } from '../public/arch-x86.js';
import { XEN_EEXIST, XEN_EFAULT, XEN_EINVAL, XEN_ENOENT, XEN_ENOSYS, XEN_ETIME } from '../public/errno.js';
import { layout } from '../public/index.js';
import { SHUTDOWN_poweroff } from '../public/sched.js';
import * as V from '../public/vcpu.js';
import { VcpuInfoArea } from '../time/pvclock.js';
import { DomainTime, MAX_PERIOD_NS, MIN_PERIOD_NS, type VcpuTime } from '../time/timers.js';
import { isCanonical } from '../../x86/system/regs.js';
import { cmdOf, type Handler, type HypercallContext } from './context.js';
import { setInfoGuest } from './vcpu-context.js';

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

/** The context is validated and applied by arch_set_info_guest, shared with the toolstack's setvcpucontext. */
function initialise(ctx: HypercallContext, dt: DomainTime, t: VcpuTime, arg: number): number {
  const d = ctx.domain;
  if (t.area === undefined && !(t.id < XEN_LEGACY_MAX_VCPUS && d.evtchn?.sink.sharedInfo !== undefined)) return -XEN_EINVAL;
  const c = View.copyIn(L.ctx, ctx.mem, arg);
  if (c === undefined) return -XEN_EFAULT;
  if (t.initialised) return -XEN_EEXIST;
  return setInfoGuest(d, dt, t.id, c.bytes());
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
