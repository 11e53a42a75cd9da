/**
 * The hypervisor as the PV64 vCPUs see it (`PvHypervisor`): the hypercall table, Xen's CPUID
 * policy for a PV guest, the MSRs Xen emulates for PV, the deterministic time-stamp counter,
 * and domain crashes. Families register themselves in `defaultTable`; everything else answers
 * -ENOSYS and is counted as such.
 */
import { CpuidModel } from '../../x86/cpuid.js';
import { NO_RETURN, type PvHypervisor, PvVcpu } from '../pv/vcpu.js';
import type { GuestIoPorts } from '../pv/io.js';
import { ptwrPageFault } from '../pv/ptwr.js';
import { hypercallSite, siteAt } from '../pv/guest-site.js';
import * as X from '../public/xen.js';
import { callbackOp, fpuTaskswitch, iret, nmiOp, setCallbacks, setSegmentBase, setTrapTable, stackSwitch, vmAssist } from '../hypercall/cpu.js';
import { consoleIo } from '../hypercall/console.js';
import { mmuextOp, mmuUpdate, updateVaMapping, updateVaMappingOtherdomain, type MmuOf } from '../hypercall/mmu.js';
import { eventChannelOp, eventChannelOpCompat, type ChannelsOf } from '../hypercall/event-channel.js';
import { EventHub } from '../evtchn/channels.js';
import { schedOp, schedOpCompat } from '../hypercall/sched.js';
import { HypercallTable } from '../hypercall/table.js';
import { XEN_MAJOR, XEN_MINOR, xenVersion } from '../hypercall/version.js';
import type { Domain } from './domain.js';
import { type ClockOptions, TSC_HZ, VirtualClock } from '../time/clock.js';
import { DomainTime, type TimeHost, type TimeOptions } from '../time/timers.js';
import { setTimerOp } from '../hypercall/timer.js';
import { vcpuOp } from '../hypercall/vcpu.js';
import { grantTableOp } from '../hypercall/grant-table.js';
import { memoryOp } from '../hypercall/memory.js';
import { setGdtHypercall, updateDescriptorHypercall } from '../hypercall/descriptors.js';
import { multicall } from '../hypercall/multicall.js';
import { getDebugregHypercall, setDebugregHypercall } from '../hypercall/debugreg.js';
import { physdevOpCompat, physdevOpHypercall } from '../hypercall/physdev.js';

/** The families implemented so far. */
export function defaultTable(): HypercallTable {
  return new HypercallTable()
    .register(X.__HYPERVISOR_set_trap_table, setTrapTable)
    .register(X.__HYPERVISOR_stack_switch, stackSwitch)
    .register(X.__HYPERVISOR_set_callbacks, setCallbacks)
    .register(X.__HYPERVISOR_fpu_taskswitch, fpuTaskswitch)
    .register(X.__HYPERVISOR_sched_op_compat, schedOpCompat)
    .register(X.__HYPERVISOR_xen_version, xenVersion)
    .register(X.__HYPERVISOR_console_io, consoleIo)
    .register(X.__HYPERVISOR_vm_assist, vmAssist)
    .register(X.__HYPERVISOR_iret, iret)
    .register(X.__HYPERVISOR_set_segment_base, setSegmentBase)
    .register(X.__HYPERVISOR_sched_op, schedOp)
    .register(X.__HYPERVISOR_callback_op, callbackOp)
    .register(X.__HYPERVISOR_mmu_update, mmuUpdate(mmuOf))
    .register(X.__HYPERVISOR_mmuext_op, mmuextOp(mmuOf))
    .register(X.__HYPERVISOR_update_va_mapping, updateVaMapping(mmuOf))
    .register(X.__HYPERVISOR_update_va_mapping_otherdomain, updateVaMappingOtherdomain(mmuOf))
    .register(X.__HYPERVISOR_event_channel_op, eventChannelOp(channelsOf))
    .register(X.__HYPERVISOR_event_channel_op_compat, eventChannelOpCompat(channelsOf))
    .register(X.__HYPERVISOR_set_timer_op, setTimerOp)
    .register(X.__HYPERVISOR_vcpu_op, vcpuOp)
    .register(X.__HYPERVISOR_memory_op, memoryOp)
    .register(X.__HYPERVISOR_set_gdt, setGdtHypercall)
    .register(X.__HYPERVISOR_update_descriptor, updateDescriptorHypercall)
    .register(X.__HYPERVISOR_grant_table_op, grantTableOp((ctx) => ctx.domain.gnttab))
    .register(X.__HYPERVISOR_multicall, multicall)
    .register(X.__HYPERVISOR_set_debugreg, setDebugregHypercall)
    .register(X.__HYPERVISOR_get_debugreg, getDebugregHypercall)
    .register(X.__HYPERVISOR_nmi_op, nmiOp)
    .register(X.__HYPERVISOR_physdev_op, physdevOpHypercall)
    .register(X.__HYPERVISOR_physdev_op_compat, physdevOpCompat);
}

const mmuOf: MmuOf = (ctx) => ctx.domain.mmu;

const channelsOf: ChannelsOf = (ctx) => {
  const ec = ctx.domain.evtchn;
  if (ec === undefined) throw new Error(`domain ${ctx.domain.id} has no event channels`);
  return ec;
};

const MSR_EFER = 0xc0000080;
const MSR_FS_BASE = 0xc0000100;
const MSR_GS_BASE = 0xc0000101;
const MSR_SHADOW_GS_BASE = 0xc0000102;
const MSR_APIC_BASE = 0x1b;
const MSR_TSC = 0x10;
const MSR_PAT = 0x277;
/** Xen's fixed PAT for PV guests (reference §3.7): WB, WT, UC-, UC, WC, WP, UC, UC. */
const PV_PAT: readonly [number, number] = [0x00070406, 0x00000501];

const TWO32 = 4294967296;

export interface XenOptions {
  readonly clock?: ClockOptions;
  readonly time?: Partial<TimeOptions>;
}

export class Xen implements PvHypervisor, TimeHost {
  readonly table = defaultTable();
  /** System time and the TSC of the whole machine (abi/time/clock.ts). */
  readonly clock: VirtualClock;
  readonly timeOptions: TimeOptions;
  /** Event channels of every domain, and the host's backends as domain 0. */
  readonly events = new EventHub();
  /** Which domain each vCPU belongs to. */
  private readonly owner = new Map<PvVcpu, Domain>();
  private readonly cpuidBase: CpuidModel;

  constructor(
    readonly cpuFeatures: ReadonlySet<import('../../x86/isa/types.js').Feature>,
    opts: XenOptions = {},
  ) {
    this.cpuidBase = new CpuidModel(cpuFeatures);
    this.clock = new VirtualClock(opts.clock);
    this.timeOptions = { sshotFutureEtime: false, ...opts.time };
  }

  /** `v` is vCPU `v.id` of `d`, initialised and up; its instructions count on the clock. */
  attach(v: PvVcpu, d: Domain): void {
    this.owner.set(v, d);
    d.vcpus[v.id] = v;
    if (d.maxVcpus <= v.id) d.maxVcpus = v.id + 1;
    this.clock.add(v.cpu);
    (d.time ??= new DomainTime(d, this)).online(v);
  }

  /**
   * Domain teardown (the hypervisor's part of Xen's domain_destroy): its vCPUs leave the machine
   * (what they ran stays counted on the clock), its event channels are closed and its PV MMU no
   * longer answers for its frames. The grant table and frames are the toolstack's next steps
   * (GrantHub.remove, MachineMemory.reclaim).
   */
  destroy(d: Domain): void {
    for (const v of d.vcpus) {
      if (v === undefined) continue;
      v.cpu.stopRequested = true;
      this.owner.delete(v);
      this.clock.remove(v.cpu);
    }
    this.events.remove(d.id);
    d.mmu?.types.unregister(d.id);
    if (d.state.kind === 'running') d.crash('destroyed');
  }

  /** VCPUOP_initialise: a new PV64 vCPU of `d` over the domain's machine memory. */
  createVcpu(d: Domain, id: number): PvVcpu | undefined {
    if (d.machine === undefined) return undefined;
    const v = new PvVcpu(id, d.machine, this, this.cpuFeatures);
    this.owner.set(v, d);
    d.vcpus[id] = v;
    this.clock.add(v.cpu);
    return v;
  }

  /**
   * Gives `d` its event channels, over its shared_info frame (a DataView over the machine frame;
   * undefined until the builder has one) — set-pending kicks the vCPU it targets.
   */
  addEvents(d: Domain, sharedInfo: DataView | undefined): void {
    d.evtchn = this.events.add(d.id, {
      sharedInfo,
      // Every vCPU id below max_vcpus exists for Xen (Linux binds a CPU's VIRQ_TIMER before VCPUOP_initialise).
      get nrVcpus() {
        return Math.max(d.maxVcpus, d.vcpus.length);
      },
      kick: (vcpu) => {
        d.time?.mirrorEvents(vcpu);
        d.vcpus[vcpu]?.wake();
      },
    });
    d.time?.sharedInfoReady();
  }

  domainOf(v: PvVcpu): Domain {
    const d = this.owner.get(v);
    if (d === undefined) throw new Error(`vCPU ${v.id} belongs to no domain`);
    return d;
  }

  hypercall(v: PvVcpu, nr: number): number | typeof NO_RETURN {
    const d = this.domainOf(v);
    const call = (): number | typeof NO_RETURN =>
      this.table.call(nr, {
        vcpu: v,
        domain: d,
        mem: v.mem,
        arg: (k) => v.arg(k),
        argHalves: (k) => v.argHalves(k),
      });
    // `--strict`: the PV MMU's observations say where the guest made the call (its `syscall`, RIP past it now).
    if (d.mmu?.collecting !== true) return call();
    const rip = v.cpu.rip - 2;
    return d.mmu.during(() => hypercallSite(v, rip), call);
  }

  /**
   * Xen's PV CPUID policy (reference §3.7): the core's own leaves, the hypervisor bit, the
   * system features the PV machine provides, and the Xen leaves at 0x40000000.
   */
  cpuid(v: PvVcpu, leaf: number, subleaf: number): readonly [number, number, number, number] {
    if (leaf >= 0x40000000 && leaf < 0x40010000) return this.xenLeaf(v, leaf - 0x40000000, subleaf);
    const r = [...this.cpuidBase.answer(leaf, subleaf)] as [number, number, number, number];
    if (leaf === 1) {
      r[2] = (r[2] | (1 << 31)) | 0; // hypervisor present
      // DE (debugging extensions: CR4.DE, I/O breakpoints), TSC, MSR, PAE, PAT: Xen offers DE to every guest.
      r[3] = (r[3] | (1 << 2) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 16)) | 0;
      r[1] = (r[1] & 0x00ffffff) | (v.id << 24); // initial APIC ID
    }
    return r;
  }

  private xenLeaf(v: PvVcpu, n: number, sub: number): [number, number, number, number] {
    switch (n) {
      case 0:
        // Max leaf base+4: leaf 5 (machine address width) is left out so guests stay on grant v1.
        return [0x40000004, 0x566e6558, 0x65584d4d, 0x4d4d566e]; // "XenVMMXenVMM"
      case 1:
        return [(XEN_MAJOR << 16) | XEN_MINOR, 0, 0, 0];
      case 2:
        // One hypercall page, MSR base 0x40000000, MMU_PT_UPDATE_PRESERVE_AD.
        return [1, 0x40000000, 1, 0];
      case 3:
        if (sub === 0) return [0, 0, Math.round(TSC_HZ / 1000), 0];
        return [0, 0, 0, 0];
      default:
        void v;
        return [0, 0, 0, 0];
    }
  }

  rdmsr(v: PvVcpu, index: number): readonly [number, number] | undefined {
    const c = v.cpu;
    switch (index) {
      case MSR_FS_BASE:
        return halves(c.segBase[4] as number);
      case MSR_GS_BASE:
        return halves(c.segBase[5] as number);
      case MSR_SHADOW_GS_BASE:
        return halves(v.inactiveGsBase);
      case MSR_EFER:
        return [c.efer & 0xd01, 0];
      case MSR_APIC_BASE:
        return [0xfee00800 | (v.id === 0 ? 0x100 : 0), 0];
      case MSR_TSC:
        return this.rdtsc(v);
      case MSR_PAT:
        return PV_PAT;
      default:
        return undefined;
    }
  }

  wrmsr(v: PvVcpu, index: number, lo: number, hi: number): boolean {
    const a = (hi | 0) * TWO32 + (lo >>> 0);
    const canonical = a < 0x800000000000 && a >= -0x800000000000;
    const c = v.cpu;
    switch (index) {
      case MSR_FS_BASE:
        if (!canonical) return false;
        c.segBase[4] = a;
        return true;
      case MSR_GS_BASE:
        if (!canonical) return false;
        c.segBase[5] = a;
        return true;
      case MSR_SHADOW_GS_BASE:
        if (!canonical) return false;
        v.inactiveGsBase = a;
        return true;
      case MSR_EFER:
        // Accepted only if the value does not change (reference §3.7).
        return hi === 0 && (lo & 0xd01) === (c.efer & 0xd01) && (lo & ~0xd01) === 0;
      default:
        return false;
    }
  }

  /** The machine's TSC (abi/time/clock.ts): deterministic, or the host's in realtime mode. */
  rdtsc(v: PvVcpu): readonly [number, number] {
    void v;
    return halves(this.clock.ticks());
  }

  crash(v: PvVcpu, reason: string): void {
    this.owner.get(v)?.crash(reason);
  }

  ioPorts(v: PvVcpu): GuestIoPorts {
    return this.domainOf(v).ioPorts;
  }

  architecturalIopl(v: PvVcpu): boolean {
    return (this.domainOf(v).vmAssist & (1 << X.VMASST_TYPE_architectural_iopl)) !== 0;
  }

  /** Xen `fixup_page_fault` for a PV domU: writes to read-only L1 tables with VMASST writable_pagetables. */
  fixupPageFault(v: PvVcpu, address: number, errorCode: number): boolean {
    const d = this.domainOf(v);
    if (d.mmu === undefined) return false;
    const writablePagetables = (d.vmAssist & (1 << X.VMASST_TYPE_writable_pagetables)) !== 0;
    const mmu = d.mmu;
    const fix = (): boolean => ptwrPageFault(v, { mmu, writablePagetables, running: d.running }, address, errorCode);
    if (!mmu.collecting) return fix();
    const rip = v.cpu.rip;
    return mmu.during(() => siteAt(v, rip), fix);
  }
}

export { TSC_HZ };

function halves(v: number): [number, number] {
  return [((v % TWO32) + TWO32) % TWO32 | 0, Math.floor(v / TWO32) | 0];
}
