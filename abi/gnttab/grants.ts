/**
 * Grant tables between domains (reference §6.4): the Xen-wide registry of every domain's table
 * (`GrantHub`, beside the event hub), and the sub-ops that involve two domains, with Xen 4.17's
 * checks, pin counting and page references (xen/common/grant_table.c `map_grant_ref`,
 * `unmap_common`/`unmap_common_complete`, `acquire_grant_for_copy`/`release_grant_for_copy`,
 * `gnttab_copy_one`, `gnttab_transfer`, `cache_flush`):
 *
 *  - map/unmap: a grantee pins a granter's entry (GTF_reading/GTF_writing set in the granter's
 *    entry or v2 status word), takes a general reference on the frame (and a writable type
 *    reference for a writable mapping), and gets a maptrack handle; unmap by handle undoes it.
 *    Installing the PTE of a GNTMAP_host_map mapping is the PV MMU's: `GrantHostMapper`.
 *  - copy: both ends pinned for the duration of one element, bounds checked, bytes copied.
 *  - transfer: a PV domain gives one of its pages to another's accept-transfer entry.
 *  - the host's backends (domain 0 in the harness) map a guest's grant with `mapForHost` and get
 *    the frame's DataView.
 *
 * Statuses are Xen's: a grant Xen refuses (wrong type, wrong grantee, read-only for a write,
 * sub-page for a mapping) is GNTST_general_error, not GNTST_permission_denied, which Xen only
 * reports for XSM refusals and frame-based copies of another domain.
 */
import { F_ALLOCATED, F_XEN_HEAP, PageType, type MachineMemory } from '../hv/machine.js';
import { PageTypes } from '../hv/page-types.js';
import { XEN_EINVAL, XEN_EILSEQ, XEN_EOPNOTSUPP, XEN_EPERM, XEN_ESRCH } from '../public/errno.js';
import {
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTMAP_device_map,
  GNTMAP_host_map,
  GNTMAP_readonly,
  GNTST_bad_copy_arg,
  GNTST_bad_dev_addr,
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_bad_handle,
  GNTST_bad_page,
  GNTST_general_error,
  GNTST_no_space,
  GNTST_okay,
  GNTST_permission_denied,
  GNTTAB_CACHE_CLEAN,
  GNTTAB_CACHE_INVAL,
  GTF_accept_transfer,
  GTF_sub_page,
  GTF_transfer_committed,
  GTF_transfer_completed,
  GTF_transitive,
  GTF_type_mask,
} from '../public/grant-table.js';
import { DOMID_IO, DOMID_SELF } from '../public/xen.js';
import { GrantTable, PIN_LIMIT, pinned, writePinned, type GrantTableOptions, type GrantTableRecord } from './table.js';

const PAGE_SIZE = 4096;
const TWO32 = 4294967296;

/**
 * Installs and removes the PTE of a GNTMAP_host_map mapping in the mapping domain's page tables
 * (Xen `create_grant_host_mapping` / `replace_grant_host_mapping`). The PV MMU's is
 * pv/grant-mapping.ts `PvGrantMapper`: `hostAddr` is the linear address whose L1 entry is
 * replaced, or, with GNTMAP_contains_pte in `flags`, the machine address of the PTE; the PTE
 * gets P, A, D, NX and the grant bit, RW unless GNTMAP_readonly, US with
 * GNTMAP_application_map, and `cacheFlags` (GTF_PWT/PCD/PAT bits: Xen passes the grant's only
 * for I/O memory, 0 for RAM, so always 0 here). `vcpu` is the calling vCPU (whose page tables
 * a linear address is looked up in). `destroy` with a non-zero `newAddr` is
 * GNTTABOP_unmap_and_replace: the entry at linear `newAddr` moves over `hostAddr`'s. Both return
 * GNTST_okay or a GNTST_* error (GNTST_general_error for a missing L1 or an entry that does not
 * map `mfn`).
 */
export interface GrantHostMapper {
  create(mapper: number, hostAddr: number, mfn: number, flags: number, cacheFlags: number, vcpu?: number): number;
  destroy(mapper: number, hostAddr: number, mfn: number, flags: number, vcpu?: number, newAddr?: number): number;
  /**
   * The PTE holds the host mapping's references once created (PV: page-table teardown releases
   * them, so a dying domain's grant release must not; Xen `gnttab_release_host_mappings`).
   */
  readonly pteHoldsReferences?: boolean;
}

/** Until the PV MMU is wired in: host mappings are refused (GNTST_general_error); device mappings work. */
export const NO_HOST_MAPPER: GrantHostMapper = {
  create: () => GNTST_general_error,
  destroy: () => GNTST_general_error,
};

/** The host's backends map as this domain. */
export const HOST_DOMID = 0;

export interface MapRequest {
  readonly hostAddr: number;
  readonly flags: number;
  readonly ref: number;
  readonly dom: number;
  /** The calling vCPU (default 0). */
  readonly vcpu?: number;
}

export interface MapResult {
  readonly status: number;
  /** Set on success only (Xen leaves the guest's fields as they were otherwise). */
  readonly handle?: number;
  readonly devBusAddr?: number;
}

export interface UnmapRequest {
  readonly hostAddr: number;
  readonly devBusAddr: number;
  readonly handle: number;
  /** GNTTABOP_unmap_and_replace's new_addr (0 for unmap_grant_ref). */
  readonly newAddr?: number;
  /** The calling vCPU (default 0). */
  readonly vcpu?: number;
}

/** One end of a GNTTABOP_copy: `ref` with the GNTCOPY_*_gref flag, else the frame `gmfn` (PV: an MFN). */
export interface CopyPtr {
  readonly ref: number;
  readonly gmfn: number;
  readonly domid: number;
  readonly offset: number;
}

export interface CopyOp {
  readonly source: CopyPtr;
  readonly dest: CopyPtr;
  readonly len: number;
  readonly flags: number;
}

export interface TransferOp {
  readonly mfn: number;
  readonly domid: number;
  readonly ref: number;
}

export interface CacheFlushOp {
  /** dev_bus_addr (the union's 64-bit view). */
  readonly devBusAddr: number;
  readonly offset: number;
  readonly length: number;
  readonly op: number;
}

/** What the host gets for a mapped guest grant: the frame itself (writes land in the guest's page). */
export interface HostMapping {
  readonly view: DataView;
  readonly handle: number;
  readonly mfn: number;
}

/** A domain's grant table and the hub joining it to the others (`Domain.gnttab`). */
export interface DomainGrants {
  readonly hub: GrantHub;
  readonly table: GrantTable;
}

export interface GrantHubOptions {
  /** Page types over the same machine memory (the writable type references of mappings). */
  readonly types?: PageTypes;
  readonly hostMapper?: GrantHostMapper;
}

/** One end of a copy while it is held (Xen `struct gnttab_copy_buf`). */
interface CopyBuf {
  dom: GrantTable;
  /** The frame copied to/from. */
  mfn: number;
  /** The frame holding our general reference (differs from `mfn` only in Xen's odd re-pin case). */
  page: number;
  start: number;
  length: number;
  readonly: boolean;
  haveType: boolean;
  /** The grant ref pinned for the copy, or -1 for a frame. */
  ref: number;
}

export class GrantHub {
  private readonly tables = new Map<number, GrantTable>();
  /** The host's backends: a table without frames, mapping as domain 0. */
  readonly host: GrantTable;
  readonly types: PageTypes;
  /** Wired by the PV MMU owner (see GrantHostMapper). */
  hostMapper: GrantHostMapper;

  constructor(
    readonly mem: MachineMemory,
    opts: GrantHubOptions = {},
  ) {
    this.types = opts.types ?? new PageTypes(mem);
    this.hostMapper = opts.hostMapper ?? NO_HOST_MAPPER;
    this.host = new GrantTable(HOST_DOMID, mem, { frameless: true });
    this.tables.set(HOST_DOMID, this.host);
  }

  /** Creates `domid`'s table (one frame, version 1). Throws when the pool has no frame left. */
  add(domid: number, opts: GrantTableOptions = {}): GrantTable {
    if (this.tables.has(domid)) throw new Error(`grant tables: domain ${domid} already has a table`);
    const t = new GrantTable(domid, this.mem, opts);
    this.tables.set(domid, t);
    return t;
  }

  /** `add`, packaged for `Domain.gnttab`. */
  attach(domid: number, opts: GrantTableOptions = {}): DomainGrants {
    return { hub: this, table: this.add(domid, opts) };
  }

  /** Every table's record (the host's included), by domid order. */
  save(): GrantTableRecord[] {
    return [...this.tables.keys()].sort((x, y) => x - y).map((id) => (this.tables.get(id) as GrantTable).save());
  }

  /** Puts a saved table back (replacing the host's, or adding a domain's). */
  restore(r: GrantTableRecord): GrantTable {
    const t = GrantTable.restore(this.mem, r);
    if (r.domid === HOST_DOMID) {
      this.host.maptrack.length = 0;
      this.host.maptrack.push(...t.maptrack);
      this.host.restoreFreeList(r.maptrackFree);
      return this.host;
    }
    if (this.tables.has(r.domid)) throw new Error(`grant tables: domain ${r.domid} already has a table`);
    this.tables.set(r.domid, t);
    return t;
  }

  get(domid: number): GrantTable | undefined {
    return this.tables.get(domid);
  }

  /**
   * Domain teardown (Xen `gnttab_release_mappings` then `grant_table_destroy`): the mappings the
   * domain holds are dropped (its page tables go with it, so no PTE is touched), then its frames.
   */
  remove(domid: number): void {
    const t = this.tables.get(domid);
    if (t === undefined || domid === HOST_DOMID) return;
    for (const h of t.liveHandles()) this.releaseMapping(t, h, false);
    t.destroy();
    this.tables.delete(domid);
  }

  /** Xen `rcu_lock_domain_by_any_id`: DOMID_SELF names the caller. */
  private anyId(caller: GrantTable, dom: number): GrantTable | undefined {
    return dom === DOMID_SELF ? caller : this.tables.get(dom);
  }

  /** XSM's default (dummy) XSM_TARGET rule for an unprivileged domain: itself only. */
  private target(caller: GrantTable, d: GrantTable): boolean {
    return caller === d;
  }

  // ---- table-local ops addressed by domain ------------------------------------------------------------

  /** GNTTABOP_setup_table (Xen `gnttab_setup_table`). */
  setupTable(caller: GrantTable, dom: number, nrFrames: number): { status: number; frames: number[] } {
    const d = this.anyId(caller, dom);
    if (d === undefined) return { status: GNTST_bad_domain, frames: [] };
    if (!this.target(caller, d)) return { status: GNTST_permission_denied, frames: [] };
    return d.setupTable(nrFrames);
  }

  /** GNTTABOP_query_size (Xen `gnttab_query_size`). */
  querySize(caller: GrantTable, dom: number): { status: number; nrFrames?: number; maxNrFrames?: number } {
    const d = this.anyId(caller, dom);
    if (d === undefined) return { status: GNTST_bad_domain };
    if (!this.target(caller, d)) return { status: GNTST_permission_denied };
    return { status: GNTST_okay, nrFrames: d.nrFrames, maxNrFrames: d.maxFrames };
  }

  /** GNTTABOP_get_version (Xen `gnttab_get_version`): the version, -ESRCH, or -EPERM. */
  getVersion(caller: GrantTable, dom: number): number {
    const d = this.anyId(caller, dom);
    if (d === undefined) return -XEN_ESRCH;
    if (!this.target(caller, d)) return -XEN_EPERM;
    return d.version;
  }

  /** GNTTABOP_get_status_frames (Xen `gnttab_get_status_frames`). */
  getStatusFrames(caller: GrantTable, dom: number, nrFrames: number): { status: number; frames: number[] } {
    const d = this.anyId(caller, dom);
    if (d === undefined) return { status: GNTST_bad_domain, frames: [] };
    if (!this.target(caller, d)) return { status: GNTST_permission_denied, frames: [] };
    return d.getStatusFrames(nrFrames);
  }

  /** GNTTABOP_dump_table (Xen `gnttab_dump_table`): Xen prints the table on its console; we only answer. */
  dumpTable(caller: GrantTable, dom: number): number {
    const d = this.anyId(caller, dom);
    if (d === undefined) return GNTST_bad_domain;
    if (!this.target(caller, d)) return GNTST_permission_denied;
    return GNTST_okay;
  }

  // ---- frames and references ----------------------------------------------------------------------

  /** Xen `get_paged_frame` for a PV granter: a general reference on `frame` if `rd` owns it. */
  private getPagedFrame(frame: number, rd: GrantTable): number {
    return this.types.getPage(frame, rd.domid) ? frame : -1;
  }

  /** Xen `page_get_owner_and_reference`: the owner after taking a reference, or -1 (nothing taken). */
  private ownerAndReference(mfn: number): number {
    const m = this.mem;
    if (!m.valid(mfn) || (m.count[mfn] as number) === 0) return -1;
    m.count[mfn] = (m.count[mfn] as number) + 1;
    return m.owner[mfn] as number;
  }

  private getWritable(mfn: number): boolean {
    return this.types.getPageType(mfn, PageType.Writable) === 0;
  }

  // ---- map / unmap -----------------------------------------------------------------------------------

  /** GNTTABOP_map_grant_ref, one element (Xen `map_grant_ref`), for mapping domain `ld`. */
  map(ld: GrantTable, op: MapRequest): MapResult {
    const flags = op.flags;
    const ro = (flags & GNTMAP_readonly) !== 0;
    const host = (flags & GNTMAP_host_map) !== 0;
    const dev = (flags & GNTMAP_device_map) !== 0;
    if (!host && !dev) return { status: GNTST_bad_gntref };
    const rd = this.tables.get(op.dom);
    if (rd === undefined || op.dom === DOMID_SELF) return { status: GNTST_bad_domain };
    const handle = ld.getMaptrackHandle();
    if (handle < 0) return { status: GNTST_no_space };
    const fail = (status: number): MapResult => {
      ld.putMaptrackHandle(handle);
      return { status };
    };
    const ref = op.ref;
    if (!rd.validRef(ref)) return fail(GNTST_bad_gntref);

    const existing = rd.active.get(ref);
    if (pinned(existing)) {
      const a = existing as NonNullable<typeof existing>;
      const full =
        (host && (ro ? a.hostRead : a.hostWrite) >= PIN_LIMIT) || (dev && (ro ? a.devRead : a.devWrite) >= PIN_LIMIT);
      if (a.domid !== ld.domid || full || a.subPage) return fail(GNTST_general_error);
    }

    let pageRefs = 0;
    if (!pinned(existing) || (!ro && !writePinned(existing as NonNullable<typeof existing>))) {
      const st = rd.setStatus(ref, ld.domid, ro, true);
      if (st.status !== GNTST_okay) return fail(st.status);
      if (!pinned(existing)) {
        const mfn = this.getPagedFrame(st.entry.frame, rd);
        if (mfn < 0) {
          rd.reduceStatusForPin(ref, ro);
          return fail(GNTST_bad_page);
        }
        pageRefs = 1;
        const a = rd.activeOf(ref);
        a.domid = ld.domid;
        a.mfn = mfn;
        a.start = 0;
        a.length = PAGE_SIZE;
        a.subPage = false;
        a.transDomid = rd.domid;
        a.transRef = ref;
      }
    }
    const act = rd.activeOf(ref);
    pin(act, host, dev, ro, +1);
    const mfn = act.mfn;

    let owner = rd.domid;
    if (pageRefs === 0) {
      owner = this.ownerAndReference(mfn);
      if (owner >= 0) pageRefs = 1;
    }
    let typeRefs = 0;
    let hostMapped = false;
    const undo = (status: number): MapResult => {
      if (hostMapped) this.hostMapper.destroy(ld.domid, op.hostAddr, mfn, flags, op.vcpu ?? 0);
      for (; typeRefs > 0; typeRefs--) this.types.putPageType(mfn);
      for (; pageRefs > 0; pageRefs--) this.types.putPage(mfn);
      pin(act, host, dev, ro, -1);
      rd.reduceStatusForPin(ref, ro);
      return fail(status);
    };
    if (owner < 0 || owner === DOMID_IO) {
      // I/O memory: a domU has no iomem rights here (Xen `iomem_access_permitted`).
      return undo(GNTST_general_error);
    }
    if (owner !== rd.domid) return undo(GNTST_general_error); // could_not_pin
    if (dev && !ro) {
      if (!this.getWritable(mfn)) return undo(GNTST_general_error);
      typeRefs++;
    }
    if (host) {
      if (dev) {
        if (!this.types.getPage(mfn, rd.domid)) return undo(GNTST_general_error);
        pageRefs++;
      }
      if (!ro) {
        if (!this.getWritable(mfn)) return undo(GNTST_general_error);
        typeRefs++;
      }
      if (ld !== this.host) {
        // The grant's GTF_PWT/PCD/PAT only apply to I/O memory, which a domU cannot map here: RAM gets 0.
        const rc = this.hostMapper.create(ld.domid, op.hostAddr, mfn, flags, 0, op.vcpu ?? 0);
        if (rc !== GNTST_okay) return undo(rc);
        hostMapped = true;
      }
    }
    const m = ld.maptrack[handle] as NonNullable<(typeof ld.maptrack)[number]>;
    m.domid = rd.domid;
    m.ref = ref;
    m.hostAddr = op.hostAddr;
    m.flags = flags;
    return { status: GNTST_okay, handle, devBusAddr: mfn * PAGE_SIZE };
  }

  /**
   * GNTTABOP_unmap_grant_ref, one element (Xen `unmap_common` + `unmap_common_complete`); with
   * `newAddr`, GNTTABOP_unmap_and_replace (`devBusAddr` 0: the device part stays mapped).
   */
  unmap(ld: GrantTable, op: UnmapRequest): number {
    const handle = op.handle;
    if (!(Number.isInteger(handle) && handle >= 0 && handle < ld.maptrackLimit)) return GNTST_bad_handle;
    const map = ld.maptrack[handle] as NonNullable<(typeof ld.maptrack)[number]>;
    const flags = map.flags;
    if (flags === 0) return GNTST_bad_handle;
    const rd = this.tables.get(map.domid);
    // Xen crashes the unmapping domain here (the granter vanished); we report the handle bad.
    if (rd === undefined || !rd.validRef(map.ref)) return GNTST_bad_handle;
    const act = rd.active.get(map.ref);
    if (act === undefined) throw new Error(`grant tables: handle ${handle} of d${ld.domid} maps an unpinned grant`);
    if (op.devBusAddr !== 0 && (flags & GNTMAP_device_map) !== 0 && op.devBusAddr !== act.mfn * PAGE_SIZE) return GNTST_bad_dev_addr;
    let done = 0;
    if (op.hostAddr !== 0 && (flags & GNTMAP_host_map) !== 0) {
      if (ld !== this.host) {
        const rc = this.hostMapper.destroy(ld.domid, op.hostAddr, act.mfn, flags, op.vcpu ?? 0, op.newAddr ?? 0);
        if (rc !== GNTST_okay) return rc;
      }
      map.flags &= ~GNTMAP_host_map;
      done |= GNTMAP_host_map;
    }
    if (op.devBusAddr !== 0 && (flags & GNTMAP_device_map) !== 0) {
      map.flags &= ~GNTMAP_device_map;
      done |= GNTMAP_device_map;
    }
    const ref = map.ref;
    if ((map.flags & (GNTMAP_device_map | GNTMAP_host_map)) === 0) ld.putMaptrackHandle(handle);
    this.complete(rd, ref, act.mfn, done, (flags & GNTMAP_readonly) !== 0);
    return GNTST_okay;
  }

  /** Xen `unmap_common_complete`: drop the references and pins of what was unmapped. */
  private complete(rd: GrantTable, ref: number, mfn: number, done: number, ro: boolean): void {
    if (done === 0) return;
    // Xen's gnttab_mark_dirty: a writable mapping going away may have written the page.
    if (!ro) this.mem.markDirty(mfn);
    const act = rd.activeOf(ref);
    if ((done & GNTMAP_device_map) !== 0) {
      if (!ro) this.types.putPageType(mfn);
      this.types.putPage(mfn);
      if (ro) act.devRead--;
      else act.devWrite--;
    }
    if ((done & GNTMAP_host_map) !== 0) {
      if (!ro) this.types.putPageType(mfn);
      this.types.putPage(mfn);
      if (ro) act.hostRead--;
      else act.hostWrite--;
    }
    rd.reduceStatusForPin(ref, ro);
  }

  /**
   * Drops mapping `handle` of `ld` entirely (teardown, Xen `gnttab_release_mappings`; `withPtes`
   * also removes the host PTE). A host mapping whose PTE holds its references (PV) keeps them:
   * the page tables' teardown releases them.
   */
  private releaseMapping(ld: GrantTable, handle: number, withPtes: boolean): void {
    const map = ld.maptrack[handle];
    if (map === undefined || map.flags === 0) return;
    const flags = map.flags;
    const rd = this.tables.get(map.domid);
    const ref = map.ref;
    ld.putMaptrackHandle(handle);
    if (rd === undefined) return;
    const act = rd.active.get(ref);
    if (act === undefined) return;
    if (withPtes && (flags & GNTMAP_host_map) !== 0 && ld !== this.host) this.hostMapper.destroy(ld.domid, map.hostAddr, act.mfn, flags);
    const ro = (flags & GNTMAP_readonly) !== 0;
    const host = (flags & GNTMAP_host_map) !== 0 && ld !== this.host;
    if (host && this.hostMapper.pteHoldsReferences === true && !withPtes) {
      // Unpin the host part without its references, then the rest as usual.
      if (ro) act.hostRead--;
      else act.hostWrite--;
      if ((flags & GNTMAP_device_map) !== 0) this.complete(rd, ref, act.mfn, GNTMAP_device_map, ro);
      else rd.reduceStatusForPin(ref, ro);
      return;
    }
    this.complete(rd, ref, act.mfn, flags & (GNTMAP_host_map | GNTMAP_device_map), ro);
  }

  // ---- the host's backends -------------------------------------------------------------------------

  /**
   * A host backend (domain 0) maps grant `ref` of `granterDom` as Xen would for a backend
   * domain's host mapping: the same checks, pins and in-use bits; the result is the frame's
   * DataView (the backend must not write through a read-only mapping) and the handle to unmap
   * with, or a GNTST_* error.
   */
  mapForHost(granterDom: number, ref: number, readonly: boolean): HostMapping | number {
    const r = this.map(this.host, { hostAddr: 0, flags: GNTMAP_host_map | (readonly ? GNTMAP_readonly : 0), ref, dom: granterDom });
    if (r.status !== GNTST_okay) return r.status;
    const handle = r.handle as number;
    const mfn = (r.devBusAddr as number) / PAGE_SIZE;
    return { view: this.mem.view(mfn), handle, mfn };
  }

  /** Undoes `mapForHost`: GNTST_okay or GNTST_bad_handle. */
  unmapForHost(handle: number): number {
    const map = this.host.maptrack[handle];
    if (map === undefined || map.flags === 0) return GNTST_bad_handle;
    return this.unmap(this.host, { hostAddr: 1, devBusAddr: 0, handle });
  }

  // ---- copy ------------------------------------------------------------------------------------------

  /**
   * Xen `acquire_grant_for_copy`: pins `ref` of `rd` for grantee `ldom` for one copy, following
   * one level of transitive grant. The general reference on the frame is taken here.
   */
  private acquireForCopy(
    rd: GrantTable,
    ref: number,
    ldom: number,
    ro: boolean,
    allowTransitive: boolean,
  ): { status: number; mfn: number; page: number; start: number; length: number } {
    const bad = (status: number): { status: number; mfn: number; page: number; start: number; length: number } => ({ status, mfn: 0, page: -1, start: 0, length: 0 });
    if (!rd.validRef(ref)) return bad(GNTST_bad_gntref);
    const existing = rd.active.get(ref);
    const oldPinned = pinned(existing);
    if (oldPinned) {
      const a = existing as NonNullable<typeof existing>;
      if (a.domid !== ldom || (ro ? a.hostRead : a.hostWrite) >= PIN_LIMIT) return bad(GNTST_general_error);
    }
    const clearOut = (status: number): ReturnType<typeof bad> => {
      rd.reduceStatusForPin(ref, ro);
      return bad(status);
    };
    const needStatus = !oldPinned || (!ro && !writePinned(existing as NonNullable<typeof existing>));
    let page: number;
    let mfn: number;
    let start: number;
    let length: number;
    const first = rd.readEntry(ref);
    if (rd.version === 2 && (first.flags & GTF_type_mask) === GTF_transitive) {
      if (needStatus) {
        const st = rd.setStatus(ref, ldom, ro, false);
        if (st.status !== GNTST_okay) return bad(st.status);
      }
      if (!allowTransitive) return clearOut(GNTST_general_error);
      const transDomid = first.transDomid;
      const transRef = first.transRef;
      if (transDomid === rd.domid) return clearOut(GNTST_general_error);
      const td = this.tables.get(transDomid);
      if (td === undefined || td === this.host) return clearOut(GNTST_general_error);
      const r = this.acquireForCopy(td, transRef, rd.domid, ro, false);
      if (r.status !== GNTST_okay) return clearOut(r.status);
      page = r.page;
      mfn = r.mfn;
      start = r.start;
      length = r.length;
      if (!oldPinned) {
        const a = rd.activeOf(ref);
        a.domid = ldom;
        a.start = start;
        a.length = length;
        a.transDomid = transDomid;
        a.transRef = transRef;
        a.mfn = mfn;
        a.subPage = true; // transitive grants are never mapped
      }
    } else if (needStatus) {
      const st = rd.setStatus(ref, ldom, ro, false);
      if (st.status !== GNTST_okay) return bad(st.status);
      const e = st.entry;
      const sub = rd.version === 2 && (e.flags & GTF_sub_page) !== 0;
      page = this.getPagedFrame(e.frame, rd);
      if (page < 0) return clearOut(GNTST_bad_page);
      if (!oldPinned) {
        const a = rd.activeOf(ref);
        a.domid = ldom;
        a.subPage = sub;
        a.start = sub ? e.pageOff : 0;
        a.length = sub ? e.length : PAGE_SIZE;
        a.transDomid = rd.domid;
        a.transRef = ref;
        a.mfn = page;
      }
      const a = rd.activeOf(ref);
      mfn = a.mfn;
      start = a.start;
      length = a.length;
    } else {
      const a = existing as NonNullable<typeof existing>;
      const owner = this.ownerAndReference(a.mfn);
      if (owner !== rd.domid) {
        if (owner >= 0) this.types.putPage(a.mfn);
        return clearOut(GNTST_bad_domain);
      }
      page = a.mfn;
      mfn = a.mfn;
      start = a.start;
      length = a.length;
    }
    const act = rd.activeOf(ref);
    if (ro) act.hostRead++;
    else act.hostWrite++;
    return { status: GNTST_okay, mfn, page, start, length };
  }

  /** Xen `release_grant_for_copy`. */
  private releaseForCopy(rd: GrantTable, ref: number, ro: boolean): void {
    const act = rd.active.get(ref);
    if (act === undefined) throw new Error(`grant tables: copy release of unpinned ref ${ref} of d${rd.domid}`);
    const td = rd.version === 1 ? rd.domid : act.transDomid;
    const transRef = rd.version === 1 ? ref : act.transRef;
    if (ro) act.hostRead--;
    else act.hostWrite--;
    rd.reduceStatusForPin(ref, ro);
    if (td !== rd.domid) {
      const t = this.tables.get(td);
      if (t !== undefined) this.releaseForCopy(t, transRef, ro);
    }
  }

  private claim(ld: GrantTable, dom: GrantTable, ptr: CopyPtr, isGref: boolean, ro: boolean): { status: number; buf?: CopyBuf } {
    let buf: CopyBuf;
    if (isGref) {
      const r = this.acquireForCopy(dom, ptr.ref, ld.domid, ro, true);
      if (r.status !== GNTST_okay) return { status: r.status };
      buf = { dom, mfn: r.mfn, page: r.page, start: r.start, length: r.length, readonly: ro, haveType: false, ref: ptr.ref };
    } else {
      const page = this.getPagedFrame(ptr.gmfn, dom);
      if (page < 0) return { status: GNTST_bad_page };
      buf = { dom, mfn: page, page, start: 0, length: PAGE_SIZE, readonly: ro, haveType: false, ref: -1 };
    }
    if (!ro) {
      if (!this.getWritable(buf.page)) {
        this.releaseBuf(buf);
        return { status: GNTST_general_error };
      }
      buf.haveType = true;
    }
    return { status: GNTST_okay, buf };
  }

  private releaseBuf(b: CopyBuf): void {
    if (b.haveType) this.types.putPageType(b.page);
    this.types.putPage(b.page);
    if (b.ref >= 0) this.releaseForCopy(b.dom, b.ref, b.readonly);
  }

  /** GNTTABOP_copy, one element (Xen `gnttab_copy_one` with fresh buffers). */
  copy(ld: GrantTable, op: CopyOp): number {
    const srcGref = (op.flags & GNTCOPY_source_gref) !== 0;
    const dstGref = (op.flags & GNTCOPY_dest_gref) !== 0;
    // Only the caller's own frames may be named by frame number (Xen `gnttab_copy_lock_domain`).
    if (op.source.domid !== DOMID_SELF && !srcGref) return GNTST_permission_denied;
    const sd = this.anyId(ld, op.source.domid);
    if (sd === undefined || sd === this.host) return GNTST_bad_domain;
    if (op.dest.domid !== DOMID_SELF && !dstGref) return GNTST_permission_denied;
    const dd = this.anyId(ld, op.dest.domid);
    if (dd === undefined || dd === this.host) return GNTST_bad_domain;

    const s = this.claim(ld, sd, op.source, srcGref, true);
    if (s.buf === undefined) return s.status;
    const d = this.claim(ld, dd, op.dest, dstGref, false);
    if (d.buf === undefined) {
      this.releaseBuf(s.buf);
      return d.status;
    }
    const src = s.buf;
    const dst = d.buf;
    let status = GNTST_okay;
    if (op.source.offset + op.len > PAGE_SIZE || op.dest.offset + op.len > PAGE_SIZE) status = GNTST_bad_copy_arg;
    else if (op.source.offset < src.start || op.source.offset + op.len > src.start + src.length) status = GNTST_general_error;
    else if (op.dest.offset < dst.start || op.dest.offset + op.len > dst.start + dst.length) status = GNTST_general_error;
    else {
      const from = this.mem.view(src.mfn);
      const to = this.mem.view(dst.mfn);
      const bytes = new Uint8Array(from.buffer, from.byteOffset + op.source.offset, op.len).slice();
      new Uint8Array(to.buffer, to.byteOffset + op.dest.offset, op.len).set(bytes);
      this.mem.markDirty(dst.mfn); // Xen's gnttab_mark_dirty after a copy into the page
    }
    this.releaseBuf(dst);
    this.releaseBuf(src);
    return status;
  }

  // ---- transfer ----------------------------------------------------------------------------------------

  /**
   * GNTTABOP_transfer, one element (Xen `gnttab_transfer` for a PV caller): page `mfn` leaves the
   * caller (it must hold nothing but its allocation reference: Xen `steal_page`) and goes to
   * `domid` through its accept-transfer entry `ref`, which gets the MFN and
   * GTF_transfer_committed|GTF_transfer_completed. A page stolen for a transfer that then fails
   * (no such domain, no accept-transfer entry for the caller) is freed, as in Xen. The receiver's
   * page limit (tot_pages < max_pages) is not checked: domains have no such counters yet.
   */
  transfer(ld: GrantTable, op: TransferOp): number {
    const m = this.mem;
    const mfn = op.mfn;
    if (!m.valid(mfn)) return GNTST_bad_page;
    if (((m.flags[mfn] as number) & F_XEN_HEAP) !== 0) return GNTST_bad_page;
    // steal_page: the caller's, allocated, and referenced by nothing else.
    if (m.owner[mfn] !== ld.domid || m.count[mfn] !== 1 || ((m.flags[mfn] as number) & F_ALLOCATED) === 0 || m.typeCount[mfn] !== 0) {
      return GNTST_bad_page;
    }
    m.count[mfn] = 0;
    m.flags[mfn] = 0;
    m.type[mfn] = PageType.None;
    const freeStolen = (status: number): number => {
      m.count[mfn] = 1;
      m.flags[mfn] = F_ALLOCATED;
      m.release(mfn);
      return status;
    };
    // The target is looked up only after the page was stolen: a transfer to nobody loses it.
    const e = this.tables.get(op.domid);
    if (e === undefined || e === this.host || op.domid === DOMID_SELF) return freeStolen(GNTST_bad_domain);
    // gnttab_prepare_for_transfer.
    if (!e.validRef(op.ref)) return freeStolen(GNTST_general_error);
    const ent = e.readEntry(op.ref);
    if ((ent.flags & GTF_type_mask) !== GTF_accept_transfer || ent.domid !== ld.domid) return freeStolen(GNTST_general_error);
    if (e.version === 1 && mfn >= TWO32) return freeStolen(GNTST_general_error);
    e.setStatusFlags(op.ref, GTF_transfer_committed);
    // assign_pages + guest_physmap_add_page (PV: the M2P names the slot the entry offered).
    m.owner[mfn] = e.domid;
    m.count[mfn] = 1;
    m.flags[mfn] = F_ALLOCATED;
    m.m2pSet(mfn, ent.frame);
    e.writeFrame(op.ref, mfn);
    e.setStatusFlags(op.ref, GTF_transfer_completed);
    return GNTST_okay;
  }

  // ---- cache flush -------------------------------------------------------------------------------------

  /**
   * GNTTABOP_cache_flush, one element (Xen `cache_flush` on x86): range and op checks (-EINVAL), an
   * empty request is a no-op (-EILSEQ inside a continuation), the frame must be the caller's or
   * one it maps by grant (-EPERM for a frame nobody owns, -EINVAL for a foreign one not mapped).
   * Cleaning succeeds; invalidating alone is -EOPNOTSUPP on x86.
   */
  cacheFlush(ld: GrantTable, op: CacheFlushOp, opaque: number): number {
    if (op.offset >= PAGE_SIZE || op.length > PAGE_SIZE || op.offset + op.length > PAGE_SIZE) return -XEN_EINVAL;
    if ((op.op & ~(GNTTAB_CACHE_INVAL | GNTTAB_CACHE_CLEAN)) !== 0) return -XEN_EINVAL;
    if (op.length === 0 || op.op === 0) return opaque === 0 ? 0 : -XEN_EILSEQ;
    const mfn = Math.floor(op.devBusAddr / PAGE_SIZE);
    if (!this.mem.valid(mfn)) return -XEN_EINVAL;
    const owner = this.mem.count[mfn] === 0 ? -1 : (this.mem.owner[mfn] as number);
    const ot = owner < 0 ? undefined : this.tables.get(owner);
    if (ot === undefined || ot === this.host) return -XEN_EPERM;
    if (ot !== ld) {
      let found = false;
      for (const a of ot.active.values()) {
        if (pinned(a) && a.domid === ld.domid && a.mfn === mfn) found = true;
      }
      if (!found) return -XEN_EINVAL;
    }
    if ((op.op & GNTTAB_CACHE_CLEAN) === 0) return -XEN_EOPNOTSUPP;
    return 0;
  }

  // ---- invariants (tests, reports) -------------------------------------------------------------------

  /** Every live mapping of every domain, as (mapper, handle, granter, ref, flags). */
  mappings(): { mapper: number; handle: number; granter: number; ref: number; flags: number }[] {
    const out: { mapper: number; handle: number; granter: number; ref: number; flags: number }[] = [];
    for (const [id, t] of this.tables) {
      for (const h of t.liveHandles()) {
        const m = t.maptrack[h] as NonNullable<(typeof t.maptrack)[number]>;
        out.push({ mapper: id, handle: h, granter: m.domid, ref: m.ref, flags: m.flags });
      }
    }
    return out;
  }
}

/** Adds (`dir` +1) or removes (-1) the pins of one mapping. */
function pin(a: { hostRead: number; hostWrite: number; devRead: number; devWrite: number }, host: boolean, dev: boolean, ro: boolean, dir: 1 | -1): void {
  if (host) {
    if (ro) a.hostRead += dir;
    else a.hostWrite += dir;
  }
  if (dev) {
    if (ro) a.devRead += dir;
    else a.devWrite += dir;
  }
}

