/**
 * Log-dirty for a PV domain: which of its pages changed since the last look, as Xen's paging
 * log-dirty mode gives the toolstack through XEN_DOMCTL_SHADOW_OP_{ENABLE_LOGDIRTY, CLEAN, PEEK,
 * OFF} (xen/arch/x86/mm/paging.c; libxc's live migration reads it every round).
 *
 * What is recorded: PFNs (through the M2P entry of the written machine frame, as Xen's
 * paging_mark_dirty does), in a set cleared by `clean`. The sources:
 *  - the guest's own writes, through any of its vCPUs' MMUs: each frame of the domain carries a
 *    write observer (x86/paging.ts `observeWrites`) that marks its PFN and removes itself from
 *    every vCPU, so later writes in the same round run at full speed through the TLB; `clean`
 *    puts the observers back. The CPUs' TLBs are flushed on `enable` and on every `clean` (as
 *    Xen flushes when it write-protects the domain again): a write translation cached before an
 *    observer was installed would otherwise skip it. Writes the processor makes itself, the
 *    accessed and dirty bits of page-table entries, reach the same observers;
 *  - hypercalls that write guest memory through its virtual addresses (copy_to_guest, the
 *    runstate and secondary time areas): these go through the vCPU's MMU (abi/pv/guest-memory.ts)
 *    and are seen as above;
 *  - Xen and the host writing a domain frame by its machine number (page-table updates of the
 *    PV MMU, descriptor updates, MMUEXT_CLEAR_PAGE / COPY_PAGE, grant copies and writable grant
 *    mappings, the console and XenStore backends writing their rings, M2P updates): they call
 *    `MachineMemory.markDirty` / `markDirtyView`, which reach this log through the machine;
 *  - a vcpu_info a vCPU registered in one of the domain's pages (VCPUOP_register_vcpu_info) is
 *    written by Xen at every event and time update: it counts as dirty in every round.
 *
 * Frames the domain gains while logging (populate_physmap) are marked when the M2P names their
 * PFN and observed from the next `clean`. State lives on this object (one per domain logging);
 * `off` removes every observer and the machine hook.
 */
import { F_ALLOCATED, F_XEN_HEAP, INVALID_M2P_ENTRY, MachineMemory } from './machine.js';
import type { Domain } from './domain.js';
import type { Mmu } from '../../x86/paging.js';
import { XEN_EBUSY, XEN_EINVAL } from '../public/errno.js';

export interface LogDirtyStats {
  /** Write-observer hits (first guest write to a frame in a round), summed over the rounds. */
  readonly observerHits: number;
  /** Marks from Xen and the host (`markDirty`). */
  readonly hostMarks: number;
  /** Rounds (`clean` calls). */
  readonly cleans: number;
}

export class LogDirty {
  private readonly dirty = new Set<number>();
  /** 1 where the frame's write observer is installed on every known vCPU. */
  private readonly armed: Uint8Array;
  /** The vCPU MMUs holding observers. */
  private readonly mmus: Mmu[] = [];
  private readonly observer = (mfn: number): void => this.hit(mfn);
  private on = true;
  private hits = 0;
  private marks = 0;
  private cleans = 0;

  private constructor(
    readonly domain: Domain,
    private readonly machine: MachineMemory,
  ) {
    this.armed = new Uint8Array(machine.nrFrames);
  }

  /**
   * XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY: starts logging with an empty set. -EBUSY when the
   * domain logs already, -EINVAL for a domain without vCPUs (nothing to observe).
   */
  static enable(d: Domain, machine: MachineMemory): LogDirty | number {
    if (machine.dirtyLogging(d.id)) return -XEN_EBUSY;
    if (d.vcpus.length === 0) return -XEN_EINVAL;
    const log = new LogDirty(d, machine);
    machine.setDirtyLog(d.id, (mfn) => log.mark(mfn));
    log.arm();
    return log;
  }

  get enabled(): boolean {
    return this.on;
  }

  get stats(): LogDirtyStats {
    return { observerHits: this.hits, hostMarks: this.marks, cleans: this.cleans };
  }

  /** XEN_DOMCTL_SHADOW_OP_PEEK: the PFNs dirtied since the last clean, ascending; the set stays. */
  peek(): number[] {
    this.markVcpuInfo();
    return [...this.dirty].sort((a, b) => a - b);
  }

  /** How many PFNs are dirty now (XEN_DOMCTL_SHADOW_OP_PEEK's stats.dirty_count). */
  get count(): number {
    return this.dirty.size;
  }

  /** XEN_DOMCTL_SHADOW_OP_CLEAN: the dirty PFNs (ascending), then an empty set and every frame observed again. */
  clean(): number[] {
    const out = this.peek();
    this.dirty.clear();
    this.cleans++;
    if (this.on) this.arm();
    return out;
  }

  /** XEN_DOMCTL_SHADOW_OP_OFF: every observer and the machine hook removed; the set is dropped. */
  off(): void {
    if (!this.on) return;
    this.on = false;
    this.machine.setDirtyLog(this.domain.id, undefined);
    const m = this.machine;
    for (let mfn = 0; mfn < m.nrFrames; mfn++) {
      if (this.armed[mfn] === 0) continue;
      this.armed[mfn] = 0;
      for (const mmu of this.mmus) mmu.observeWrites(mfn, undefined);
    }
    this.mmus.length = 0;
    this.dirty.clear();
  }

  /** A write Xen or the host made to frame `mfn` of the domain (from `MachineMemory.markDirty`). */
  mark(mfn: number): void {
    this.marks++;
    this.record(mfn);
  }

  private hit(mfn: number): void {
    this.hits++;
    this.record(mfn);
    if (this.armed[mfn] === 1) {
      this.armed[mfn] = 0;
      for (const mmu of this.mmus) mmu.observeWrites(mfn, undefined);
    }
  }

  private record(mfn: number): void {
    const pfn = this.machine.m2pGet(mfn);
    if (pfn !== INVALID_M2P_ENTRY) this.dirty.add(pfn);
  }

  /** Observers on every frame of the domain not observed yet, on every vCPU; TLBs flushed. */
  private arm(): void {
    const m = this.machine;
    const id = this.domain.id;
    const fresh: Mmu[] = [];
    for (const v of this.domain.vcpus) {
      const mmu = v?.cpu.mmu;
      if (mmu !== undefined && !this.mmus.includes(mmu)) fresh.push(mmu);
    }
    for (let mfn = 0; mfn < m.nrFrames; mfn++) {
      const mine = m.owner[mfn] === id && ((m.flags[mfn] as number) & (F_ALLOCATED | F_XEN_HEAP)) === F_ALLOCATED;
      if (this.armed[mfn] === 1) {
        if (!mine) {
          // Freed or given away since: no longer the domain's.
          this.armed[mfn] = 0;
          for (const mmu of this.mmus) mmu.observeWrites(mfn, undefined);
        } else for (const mmu of fresh) mmu.observeWrites(mfn, this.observer);
        continue;
      }
      if (!mine) continue;
      this.armed[mfn] = 1;
      for (const mmu of this.mmus) mmu.observeWrites(mfn, this.observer);
      for (const mmu of fresh) mmu.observeWrites(mfn, this.observer);
    }
    this.mmus.push(...fresh);
    for (const v of this.domain.vcpus) v?.cpu.flushTlb();
  }

  /** vcpu_info areas in the domain's own pages: Xen writes them at every event, so always dirty. */
  private markVcpuInfo(): void {
    const t = this.domain.time;
    if (t === undefined) return;
    for (let id = 0; id < this.domain.maxVcpus; id++) {
      const vt = t.vcpu(id);
      if (!vt.vcpuInfoRegistered || vt.area === undefined) continue;
      const mfn = this.machine.mfnOfView(vt.area.dv);
      if (mfn !== undefined) this.record(mfn);
    }
  }
}

/**
 * A host backend wrote `page`, a frame of domain `d` it holds by its DataView (a console or
 * XenStore ring): reported to the domain's log-dirty, if it logs.
 */
export function markPageWritten(d: Domain, page: DataView): void {
  const m = d.machine;
  if (m instanceof MachineMemory) m.markDirtyView(page);
}
