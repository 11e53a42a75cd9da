/**
 * A domain: its vCPUs, its memory (frames of the shared machine pool, and the P2M the builder
 * hands over), its lifecycle (running, shut down for a reason, crashed), what it wrote to the
 * hypervisor console, its vm_assist bits and its hypercall statistics. The hypercall families
 * keep their own per-domain state (event channels, grant tables) beside it.
 */
import type { EventChannels } from '../evtchn/channels.js';
import type { PvMmu } from '../pv/mmu.js';
import type { DomainGrants } from '../gnttab/grants.js';
import type { DomainMemory } from '../hypercall/memory.js';
import type { PvVcpu } from '../pv/vcpu.js';
import type { DomainTime } from '../time/timers.js';
import type { DomainPhysdev } from '../hypercall/physdev.js';
import { GuestIoPorts } from '../pv/io.js';
import type { PhysicalMemory } from '../../x86/memory.js';
import { HypercallStats } from './stats.js';

/** VMASST_TYPE_m2p_strict (xen.h). */
const VMASST_TYPE_M2P_STRICT = 32;

/** SHUTDOWN_suspend (sched.h). */
const SHUTDOWN_SUSPEND = 2;

export type DomainState =
  | { readonly kind: 'running' }
  | { readonly kind: 'shutdown'; readonly reason: number; readonly code: number }
  | { readonly kind: 'crashed'; readonly why: string };

export class Domain {
  readonly vcpus: PvVcpu[] = [];
  readonly stats = new HypercallStats();
  state: DomainState = { kind: 'running' };
  /** SCHEDOP_shutdown_code: the code a later shutdown reports. */
  shutdownCode = 0;
  /** Bytes written with CONSOLEIO_write (Xen's console, not the PV console ring). */
  readonly consoleOut: number[] = [];
  /** Enabled VMASST_TYPE_* bits; m2p_strict (type 32) is kept in bit 31 (`vmAssistEnabled`). */
  vmAssist = 0;
  /** Pseudo-physical → machine frame numbers (the builder's P2M). */
  p2m: readonly number[] = [];
  /** XENFEAT_* bits of submap 0 offered to this domain (only what is implemented). */
  features = 0;
  /** The domain handle (XENVER_guest_handle; the UUID of /vm/UUID). */
  uuid = new Uint8Array(16);
  /** Its event channels (set when the domain is created in the hypervisor). */
  evtchn: EventChannels | undefined = undefined;
  /** Its PV MMU (page-table roots, pins; set by the domain builder). */
  mmu: PvMmu | undefined = undefined;
  /** Its grant table and the hub joining it to the others (GrantHub.attach; undefined: none). */
  gnttab: DomainGrants | undefined = undefined;
  /** xl.cfg maxvcpus: vCPU ids below this exist for vcpu_op (-ENOENT beyond). */
  maxVcpus = 1;
  /** Machine memory the domain's vCPUs run on (VCPUOP_initialise builds new vCPUs over it). */
  machine: PhysicalMemory | undefined = undefined;
  /** max_pages, the toolstack's E820 (memory_op; set by the domain builder). */
  memory: DomainMemory | undefined = undefined;
  /** Timers, runstates, watchdogs (set when the domain's first vCPU is attached to Xen). */
  time: DomainTime | undefined = undefined;
  /** The ports Xen emulates for the domain (pv/io.ts: the 0xCF8 and RTC-index latches). */
  readonly ioPorts = new GuestIoPorts();
  /** PIRQs allocated with PHYSDEVOP_get_free_pirq and the PIRQ EOI map (set by the first physdev_op that needs it). */
  physdev: DomainPhysdev | undefined = undefined;

  constructor(
    readonly id: number,
    readonly name: string,
  ) {}

  /** Whether VMASST_TYPE_`type` is enabled (type 32, m2p_strict, lives in bit 31 of `vmAssist`). */
  vmAssistEnabled(type: number): boolean {
    if (type === VMASST_TYPE_M2P_STRICT) return (this.vmAssist & (1 << 31)) !== 0;
    return type >= 0 && type < 31 && ((this.vmAssist >>> type) & 1) !== 0;
  }

  get running(): boolean {
    return this.state.kind === 'running';
  }

  /** Shuts the domain down (SCHEDOP_shutdown): every vCPU stops. */
  shutdown(reason: number): void {
    if (!this.running) return;
    this.state = { kind: 'shutdown', reason, code: this.shutdownCode };
    for (const v of this.vcpus) v.cpu.stopRequested = true;
  }

  /** Shut down with SHUTDOWN_suspend: stopped at its suspend hypercall, waiting for the toolstack. */
  get suspended(): boolean {
    return this.state.kind === 'shutdown' && this.state.reason === SHUTDOWN_SUSPEND;
  }

  /**
   * Cancels a suspend (libxc's xc_domain_resume for a guest that supports cooperative resume,
   * `xl save -c`): the suspend hypercall returns 1 (RAX of vCPU 0) and the same domain runs on.
   * False, and nothing changed, when the domain is not suspended.
   */
  resumeCancelled(): boolean {
    if (!this.suspended) return false;
    const v0 = this.vcpus[0];
    if (v0 !== undefined) v0.setReg(0, 1);
    this.state = { kind: 'running' };
    for (const v of this.vcpus) if (v !== undefined) v.cpu.stopRequested = false;
    return true;
  }

  /** Xen's domain_crash: the domain ends with a reason for the report. */
  crash(why: string): void {
    if (!this.running) return;
    this.state = { kind: 'crashed', why };
    for (const v of this.vcpus) v.cpu.stopRequested = true;
  }
}
