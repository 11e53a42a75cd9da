/**
 * One domain's grant table (reference §6.1-6.3), as Xen 4.17 keeps it for a PV domain
 * (xen/common/grant_table.c): the shared frames the guest writes its entries into (v1: 8-byte
 * grant_entry_v1, 512 per frame; v2: 16-byte grant_entry_v2, 256 per frame, plus the status
 * frames of 2-byte grant_status_t), Xen's private active entries (pin counts and the frame a
 * pinned grant resolved to), and the maptrack: the handles of the mappings this domain holds of
 * other domains' grants.
 *
 * Frames are Xen-heap pages shared with the guest (MachineMemory.allocXenHeapPage, writable):
 * owned by the domain for reference counting, never in its P2M; setup_table hands their MFNs to
 * the PV guest, which maps them with ordinary PTEs.
 *
 * Guest-shared memory is a mirror, never trusted state (STYLE §4): each decision reads the entry
 * once into a record (`readEntry`), and the pins that decide what may happen live in `active`.
 * The only things written to shared memory are the in-use bits (GTF_reading/GTF_writing: v1 in
 * the entry's flags, v2 in the status word), a transfer's frame/flags, and version changes.
 *
 * The table-local sub-ops live here (setup_table, query_size, set_version, get_version,
 * get_status_frames, swap_grant_ref); the ones between two domains (map, unmap, copy, transfer)
 * are in grants.ts. Results are GNTST_* statuses or negated Xen errnos, as each op reports them.
 */
import { F_VALIDATED, PageType, type MachineMemory } from '../hv/machine.js';
import { XEN_EBUSY, XEN_EINVAL, XEN_ENOMEM, XEN_ENOSYS, XEN_ERANGE } from '../public/errno.js';
import {
  GNTST_bad_gntref,
  GNTST_eagain,
  GNTST_general_error,
  GNTST_okay,
  GNTTAB_NR_RESERVED_ENTRIES,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_sub_page,
  GTF_transitive,
  GTF_type_mask,
  GTF_writing,
} from '../public/grant-table.js';

/** libxl's default max_grant_frames for a domU. */
export const DEFAULT_MAX_GRANT_FRAMES = 64;
/** libxl's default max_maptrack_frames for a domU. */
export const DEFAULT_MAX_MAPTRACK_FRAMES = 1024;
/** Maptrack entries per maptrack frame (Xen: a page of 16-byte `struct grant_mapping`). */
export const MAPTRACK_PER_PAGE = 256;
/** Xen's INITIAL_NR_GRANT_FRAMES: a table starts with one frame. */
export const INITIAL_NR_GRANT_FRAMES = 1;

const PAGE_SIZE = 4096;
export const V1_PER_FRAME = PAGE_SIZE / 8;
export const V2_PER_FRAME = PAGE_SIZE / 16;
export const STATUS_PER_FRAME = PAGE_SIZE / 2;
const TWO32 = 4294967296;

/** Counter limit of one pin kind: Xen keeps 8 bits per kind and refuses once bit 7 is set. */
export const PIN_LIMIT = 0x80;

/**
 * Xen's `struct active_grant_entry`: who holds the grant pinned and what it resolved to. The
 * four pin counters are Xen's GNTPIN_{hstr,hstw,devr,devw} fields of `pin`.
 */
export interface ActiveEntry {
  hostRead: number;
  hostWrite: number;
  devRead: number;
  devWrite: number;
  /** The grantee holding the pins. */
  domid: number;
  mfn: number;
  /** Byte range of the frame the grant covers (sub-page and transitive grants). */
  start: number;
  length: number;
  /** Sub-page (or transitive): copy only, never mapped. */
  subPage: boolean;
  /** Transitive: the domain and ref the grant resolved through (else this domain and ref). */
  transDomid: number;
  transRef: number;
}

export function pinned(a: ActiveEntry | undefined): boolean {
  return a !== undefined && a.hostRead + a.hostWrite + a.devRead + a.devWrite > 0;
}

export function writePinned(a: ActiveEntry): boolean {
  return a.hostWrite + a.devWrite > 0;
}

/** One mapping this domain holds (Xen's `struct grant_mapping`); `flags` 0 means free. */
export interface MaptrackEntry {
  /** The granting domain and its ref. */
  domid: number;
  ref: number;
  /** GNTMAP_* flags of what is still mapped (host_map/device_map bits, readonly). */
  flags: number;
  /** The host address the host mapping was made at (for diagnostics; unmap names it again). */
  hostAddr: number;
}

/** A private copy of an entry's fields (STYLE §4: read once, decide on the copy). */
export interface EntrySnapshot {
  flags: number;
  domid: number;
  /** v1 frame, v2 full_page/sub_page frame (exact below 2^53). */
  frame: number;
  /** v2 sub_page. */
  pageOff: number;
  length: number;
  /** v2 transitive. */
  transDomid: number;
  transRef: number;
}

/**
 * A table's saved state (STYLE §6), format `xenlab-gnttab/1`. Every field is saved. The frames'
 * contents (entries, status words) and their reference counts live in machine memory and are
 * saved with it; the record names the frames.
 */
export interface GrantTableRecord {
  readonly format: 'xenlab-gnttab/1';
  readonly domid: number;
  readonly version: 1 | 2;
  readonly maxFrames: number;
  readonly maxMaptrackFrames: number;
  readonly maxVersion: 1 | 2;
  /** MFNs of the entry frames and of the v2 status frames. */
  readonly shared: readonly number[];
  readonly status: readonly number[];
  /** Active entries with at least one pin. */
  readonly active: readonly ({ readonly ref: number } & Readonly<ActiveEntry>)[];
  /** Every maptrack entry up to the limit (flags 0: free), and the free list in order. */
  readonly maptrack: readonly Readonly<MaptrackEntry>[];
  readonly maptrackFree: readonly number[];
}

export interface GrantTableOptions {
  readonly maxGrantFrames?: number;
  readonly maxMaptrackFrames?: number;
  /** Highest version set_version accepts (Xen's gnttab=max-ver, libxl max_grant_version); 2 by default. */
  readonly maxVersion?: 1 | 2;
  /** A table without frames of its own (the host's backends as domain 0 only map). */
  readonly frameless?: boolean;
}

export class GrantTable {
  version: 1 | 2 = 1;
  readonly maxFrames: number;
  readonly maxMaptrackFrames: number;
  readonly maxVersion: 1 | 2;
  /** MFNs of the shared (entry) frames. */
  readonly shared: number[] = [];
  /** MFNs of the v2 status frames (empty in v1). */
  readonly status: number[] = [];
  /** Active entries by ref (absent: never pinned or fully released). */
  readonly active = new Map<number, ActiveEntry>();
  /** Maptrack entries by handle, up to `maptrackLimit`. */
  readonly maptrack: MaptrackEntry[] = [];
  /** Free handles, FIFO: taken from the front, freed to the back (Xen's per-vCPU free list). */
  private readonly maptrackFree: number[] = [];

  constructor(
    readonly domid: number,
    readonly mem: MachineMemory,
    opts: GrantTableOptions = {},
  ) {
    this.maxFrames = opts.maxGrantFrames ?? DEFAULT_MAX_GRANT_FRAMES;
    this.maxMaptrackFrames = opts.maxMaptrackFrames ?? DEFAULT_MAX_MAPTRACK_FRAMES;
    this.maxVersion = opts.maxVersion ?? 2;
    if (opts.frameless !== true && !this.grow(INITIAL_NR_GRANT_FRAMES)) {
      throw new RangeError(`grant table of domain ${domid}: no machine frame for the first grant frame`);
    }
  }

  save(): GrantTableRecord {
    return {
      format: 'xenlab-gnttab/1',
      domid: this.domid,
      version: this.version,
      maxFrames: this.maxFrames,
      maxMaptrackFrames: this.maxMaptrackFrames,
      maxVersion: this.maxVersion,
      shared: [...this.shared],
      status: [...this.status],
      active: [...this.active.entries()].filter(([, a]) => pinned(a)).sort(([x], [y]) => x - y).map(([ref, a]) => ({ ref, ...a })),
      maptrack: this.maptrack.map((m) => ({ ...m })),
      maptrackFree: [...this.maptrackFree],
    };
  }

  /** A table from its record, over the machine memory that holds its frames (nothing allocated). */
  static restore(mem: MachineMemory, r: GrantTableRecord): GrantTable {
    if (r.format !== 'xenlab-gnttab/1') throw new Error(`grant table record: unknown format ${String(r.format)}`);
    const t = new GrantTable(r.domid, mem, { maxGrantFrames: r.maxFrames, maxMaptrackFrames: r.maxMaptrackFrames, maxVersion: r.maxVersion, frameless: true });
    t.version = r.version;
    t.shared.push(...r.shared);
    t.status.push(...r.status);
    for (const { ref, ...a } of r.active) t.active.set(ref, { ...a });
    t.maptrack.push(...r.maptrack.map((m) => ({ ...m })));
    t.maptrackFree.push(...r.maptrackFree);
    return t;
  }

  get nrFrames(): number {
    return this.shared.length;
  }

  get nrEntries(): number {
    return this.nrFrames * (this.version === 1 ? V1_PER_FRAME : V2_PER_FRAME);
  }

  get maptrackLimit(): number {
    return this.maptrack.length;
  }

  // ---- frames ------------------------------------------------------------------------------------

  /** Status frames needed for `frames` v2 entry frames (Xen `grant_to_status_frames`). */
  static statusFramesFor(frames: number): number {
    return Math.ceil((frames * V2_PER_FRAME) / STATUS_PER_FRAME);
  }

  /**
   * Xen `gnttab_grow_table`: at least `req` entry frames (and, in v2, their status frames).
   * False, with nothing added, when the pool runs out; the caller checked `maxFrames`.
   */
  grow(req: number): boolean {
    const want = Math.max(req, INITIAL_NR_GRANT_FRAMES);
    const added: number[] = [];
    const addedStatus: number[] = [];
    const undo = (): boolean => {
      for (const f of [...added, ...addedStatus]) freeXenHeapPage(this.mem, f);
      this.shared.length -= added.length;
      this.status.length -= addedStatus.length;
      return false;
    };
    while (this.shared.length < want) {
      const f = this.mem.allocXenHeapPage(this.domid, true);
      if (f === undefined) return undo();
      this.shared.push(f);
      added.push(f);
    }
    if (this.version === 2) {
      while (this.status.length < GrantTable.statusFramesFor(this.shared.length)) {
        const f = this.mem.allocXenHeapPage(this.domid, true);
        if (f === undefined) return undo();
        this.status.push(f);
        addedStatus.push(f);
      }
    }
    return true;
  }

  /** Domain teardown: every frame goes back to the pool (the caller unmapped everything first). */
  destroy(): void {
    for (const f of [...this.shared, ...this.status]) freeXenHeapPage(this.mem, f);
    this.shared.length = 0;
    this.status.length = 0;
  }

  // ---- entries -----------------------------------------------------------------------------------

  private entryAt(ref: number): { dv: DataView; off: number } {
    const per = this.version === 1 ? V1_PER_FRAME : V2_PER_FRAME;
    const mfn = this.shared[Math.floor(ref / per)];
    if (mfn === undefined) throw new Error(`grant table ${this.domid}: ref ${ref} beyond the table`);
    return { dv: this.mem.view(mfn), off: (ref % per) * (this.version === 1 ? 8 : 16) };
  }

  private statusAt(ref: number): { dv: DataView; off: number } {
    const mfn = this.status[Math.floor(ref / STATUS_PER_FRAME)];
    if (mfn === undefined) throw new Error(`grant table ${this.domid}: no status frame for ref ${ref}`);
    return { dv: this.mem.view(mfn), off: (ref % STATUS_PER_FRAME) * 2 };
  }

  /** Whether `ref` names an entry (Xen: `ref < nr_grant_entries`). */
  validRef(ref: number): boolean {
    return Number.isInteger(ref) && ref >= 0 && ref < this.nrEntries;
  }

  /** One read of entry `ref` (which must be valid). */
  readEntry(ref: number): EntrySnapshot {
    const { dv, off } = this.entryAt(ref);
    const flags = dv.getUint16(off, true);
    const domid = dv.getUint16(off + 2, true);
    if (this.version === 1) {
      return { flags, domid, frame: dv.getUint32(off + 4, true), pageOff: 0, length: PAGE_SIZE, transDomid: 0, transRef: 0 };
    }
    return {
      flags,
      domid,
      frame: dv.getUint32(off + 12, true) * TWO32 + dv.getUint32(off + 8, true),
      pageOff: dv.getUint16(off + 4, true),
      length: dv.getUint16(off + 6, true),
      transDomid: dv.getUint16(off + 4, true),
      transRef: dv.getUint32(off + 8, true),
    };
  }

  /** The in-use bits of `ref`: v1 the entry's flags, v2 its status word. */
  readStatus(ref: number): number {
    if (this.version === 1) {
      const { dv, off } = this.entryAt(ref);
      return dv.getUint16(off, true) & (GTF_reading | GTF_writing);
    }
    const { dv, off } = this.statusAt(ref);
    return dv.getUint16(off, true);
  }

  /** Sets bits in the in-use word (Xen's atomic OR on the guest's word). */
  setStatusBits(ref: number, bits: number): void {
    const { dv, off } = this.version === 1 ? this.entryAt(ref) : this.statusAt(ref);
    dv.setUint16(off, dv.getUint16(off, true) | bits, true);
  }

  /** Xen `gnttab_clear_flags`: clears bits in the in-use word. */
  clearStatusBits(ref: number, bits: number): void {
    const { dv, off } = this.version === 1 ? this.entryAt(ref) : this.statusAt(ref);
    dv.setUint16(off, dv.getUint16(off, true) & ~bits, true);
  }

  /** Sets bits in the entry's own flags word (a transfer's committed/completed bits). */
  setStatusFlags(ref: number, bits: number): void {
    const { dv, off } = this.entryAt(ref);
    dv.setUint16(off, dv.getUint16(off, true) | bits, true);
  }

  /** Stores a frame number in entry `ref` (v1 `frame`, v2 `full_page.frame`): a transfer's result. */
  writeFrame(ref: number, frame: number): void {
    const { dv, off } = this.entryAt(ref);
    if (this.version === 1) dv.setUint32(off + 4, frame >>> 0, true);
    else {
      dv.setUint32(off + 8, frame % TWO32 >>> 0, true);
      dv.setUint32(off + 12, Math.floor(frame / TWO32) >>> 0, true);
    }
  }

  /** Writes entry `ref` raw (the guest's side; tests and the toolstack's reserved entries). */
  writeEntryRaw(ref: number, bytes: Uint8Array): void {
    const { dv, off } = this.entryAt(ref);
    new Uint8Array(dv.buffer, dv.byteOffset + off, bytes.length).set(bytes);
  }

  /** The raw bytes of entry `ref`. */
  entryBytes(ref: number): Uint8Array {
    const { dv, off } = this.entryAt(ref);
    return new Uint8Array(dv.buffer.slice(dv.byteOffset + off, dv.byteOffset + off + (this.version === 1 ? 8 : 16)));
  }

  // ---- the in-use bits as Xen moves them -----------------------------------------------------------

  /**
   * Xen `_set_status` (v1 and v2): checks the entry lets `grantee` in (permit_access, not sub-page
   * for a mapping, its domid, not read-only for a write) and sets GTF_reading (and GTF_writing).
   * GNTST_okay or GNTST_general_error, as Xen reports every refusal here.
   */
  setStatus(ref: number, grantee: number, readonly: boolean, mapping: boolean): { status: number; entry: EntrySnapshot } {
    const e = this.readEntry(ref);
    const mask = mapping ? GTF_type_mask | GTF_sub_page : GTF_type_mask; // a sub-page grant cannot be mapped
    const type = e.flags & mask;
    // v2 lets a transitive entry through here too (the copy path resolves it; Xen `_set_status_v2`).
    const typeOk = type === GTF_permit_access || (this.version === 2 && type === GTF_transitive);
    if (!typeOk || e.domid !== grantee) return { status: GNTST_general_error, entry: e };
    if (!readonly && (e.flags & GTF_readonly) !== 0) return { status: GNTST_general_error, entry: e };
    this.setStatusBits(ref, readonly ? GTF_reading : GTF_reading | GTF_writing);
    return { status: GNTST_okay, entry: e };
  }

  /** Xen `reduce_status_for_pin`: drop the in-use bits no pin needs any more. */
  reduceStatusForPin(ref: number, readonly: boolean): void {
    const a = this.active.get(ref);
    let clear = pinned(a) ? 0 : GTF_reading;
    if (!readonly && (a === undefined || !writePinned(a))) clear |= GTF_writing;
    if (clear !== 0) this.clearStatusBits(ref, clear);
    if (a !== undefined && !pinned(a)) this.active.delete(ref);
  }

  /** The active entry of `ref`, created unpinned when absent. */
  activeOf(ref: number): ActiveEntry {
    let a = this.active.get(ref);
    if (a === undefined) {
      a = { hostRead: 0, hostWrite: 0, devRead: 0, devWrite: 0, domid: 0, mfn: 0, start: 0, length: PAGE_SIZE, subPage: false, transDomid: this.domid, transRef: ref };
      this.active.set(ref, a);
    }
    return a;
  }

  /** Drops an active entry nobody pins (after a failed first pin). */
  dropIfUnpinned(ref: number): void {
    if (!pinned(this.active.get(ref))) this.active.delete(ref);
  }

  // ---- maptrack ------------------------------------------------------------------------------------

  /**
   * Xen `get_maptrack_handle`: a free handle, or -1 when `maxMaptrackFrames` are in use. A new
   * maptrack frame gives its first handle at once and queues the rest; one free entry always
   * stays on the list (Xen keeps it so freed handles can be appended), so handles come back in
   * FIFO order.
   */
  getMaptrackHandle(): number {
    if (this.maptrackFree.length >= 2) return this.maptrackFree.shift() as number;
    if (this.maptrack.length >= this.maxMaptrackFrames * MAPTRACK_PER_PAGE) return -1;
    const base = this.maptrack.length;
    for (let k = 0; k < MAPTRACK_PER_PAGE; k++) this.maptrack.push({ domid: 0, ref: 0, flags: 0, hostAddr: 0 });
    // The new frame's entries go to the head of the list, ahead of what was there.
    const rest: number[] = [];
    for (let k = 1; k < MAPTRACK_PER_PAGE; k++) rest.push(base + k);
    this.maptrackFree.unshift(...rest);
    return base;
  }

  /** Xen `put_maptrack_handle`: the handle goes to the tail of the free list. */
  putMaptrackHandle(handle: number): void {
    const m = this.maptrack[handle];
    if (m === undefined) throw new Error(`grant table ${this.domid}: put of handle ${handle} beyond the maptrack`);
    m.flags = 0;
    this.maptrackFree.push(handle);
  }

  /** Replaces the free list (restoring the host's table in place). */
  restoreFreeList(free: readonly number[]): void {
    this.maptrackFree.length = 0;
    this.maptrackFree.push(...free);
  }

  /** Handles in use. */
  liveHandles(): number[] {
    const out: number[] = [];
    this.maptrack.forEach((m, h) => {
      if (m.flags !== 0) out.push(h);
    });
    return out;
  }

  // ---- table-local sub-ops -------------------------------------------------------------------------

  /**
   * GNTTABOP_setup_table for this table: grow to `nrFrames` (more than the maximum, or no memory:
   * GNTST_general_error) and list the frames (PV: MFNs).
   */
  setupTable(nrFrames: number): { status: number; frames: number[] } {
    if (nrFrames > this.maxFrames) return { status: GNTST_general_error, frames: [] };
    const needStatus = this.version === 2 && GrantTable.statusFramesFor(nrFrames) > this.status.length;
    if ((nrFrames > this.nrFrames || needStatus) && !this.grow(nrFrames)) return { status: GNTST_general_error, frames: [] };
    return { status: GNTST_okay, frames: this.shared.slice(0, nrFrames) };
  }

  /** GNTTABOP_get_status_frames for this table. */
  getStatusFrames(nrFrames: number): { status: number; frames: number[] } {
    if (nrFrames > this.status.length) return { status: GNTST_general_error, frames: [] };
    return { status: GNTST_okay, frames: this.status.slice(0, nrFrames) };
  }

  /**
   * GNTTABOP_set_version (Xen `gnttab_set_version`): 0, -EINVAL for a version other than 1 or 2,
   * -ENOSYS for 2 beyond the maximum, -EBUSY while a non-reserved entry is pinned, -ERANGE when a
   * reserved v2 entry cannot be expressed in v1. Entries 0-7 are carried over (the toolstack's
   * console and XenStore grants); everything else is wiped.
   */
  setVersion(version: number): number {
    if (version !== 1 && version !== 2) return -XEN_EINVAL;
    if (version === 2 && this.maxVersion === 1) return -XEN_ENOSYS;
    if (this.version === version) return 0;
    for (const [ref, a] of this.active) {
      if (ref >= GNTTAB_NR_RESERVED_ENTRIES && pinned(a)) return -XEN_EBUSY;
    }
    const reserved: EntrySnapshot[] = [];
    const reservedStatus: number[] = [];
    for (let ref = 0; ref < GNTTAB_NR_RESERVED_ENTRIES; ref++) {
      const e = this.readEntry(ref);
      if (this.version === 2) {
        const type = e.flags & GTF_type_mask;
        if ((type === GTF_permit_access && e.frame >= TWO32) || type === GTF_transitive) return -XEN_ERANGE;
        if (type !== GTF_permit_access) {
          reserved.push({ flags: 0, domid: 0, frame: 0, pageOff: 0, length: 0, transDomid: 0, transRef: 0 });
          reservedStatus.push(0);
          continue;
        }
        reservedStatus.push(this.readStatus(ref));
      } else {
        reservedStatus.push(e.flags & (GTF_reading | GTF_writing));
      }
      reserved.push(e);
    }
    if (this.version === 1) {
      // Populate the status frames (Xen `gnttab_populate_status_frames`).
      const need = GrantTable.statusFramesFor(this.nrFrames);
      const added: number[] = [];
      while (this.status.length < need) {
        const f = this.mem.allocXenHeapPage(this.domid, true);
        if (f === undefined) {
          for (const g of added) freeXenHeapPage(this.mem, g);
          this.status.length -= added.length;
          return -XEN_ENOMEM; // Xen's allocation failure
        }
        this.status.push(f);
        added.push(f);
      }
    } else {
      // Xen `gnttab_unpopulate_status_frames`: a PV guest still mapping one gets -EBUSY.
      for (const f of this.status) {
        if ((this.mem.count[f] as number) > 1) return -XEN_EBUSY;
      }
      for (const f of this.status) freeXenHeapPage(this.mem, f);
      this.status.length = 0;
    }
    for (const f of this.shared) {
      const v = this.mem.view(f);
      new Uint8Array(v.buffer, v.byteOffset, PAGE_SIZE).fill(0);
    }
    this.version = version;
    for (let ref = 0; ref < GNTTAB_NR_RESERVED_ENTRIES; ref++) {
      const e = reserved[ref] as EntrySnapshot;
      const st = reservedStatus[ref] as number;
      const { dv, off } = this.entryAt(ref);
      if (version === 1) {
        dv.setUint16(off, (e.flags & ~(GTF_reading | GTF_writing)) | st, true);
        dv.setUint16(off + 2, e.domid, true);
        dv.setUint32(off + 4, e.frame >>> 0, true);
      } else {
        dv.setUint16(off, e.flags & ~(GTF_reading | GTF_writing), true);
        dv.setUint16(off + 2, e.domid, true);
        dv.setUint32(off + 8, e.frame >>> 0, true);
        dv.setUint32(off + 12, 0, true);
        this.clearStatusBits(ref, 0xffff);
        this.setStatusBits(ref, st & (GTF_reading | GTF_writing));
      }
    }
    return 0;
  }

  /**
   * GNTTABOP_swap_grant_ref (Xen `swap_grant_ref`): exchanges two entries (and, in v2, their
   * status words). GNTST_bad_gntref for a ref beyond the table, GNTST_eagain while either is
   * pinned; the same ref twice is a no-op.
   */
  swap(refA: number, refB: number): number {
    if (!this.validRef(refA) || !this.validRef(refB)) return GNTST_bad_gntref;
    if (refA === refB) return GNTST_okay;
    if (pinned(this.active.get(refA)) || pinned(this.active.get(refB))) return GNTST_eagain;
    const a = this.entryBytes(refA);
    const b = this.entryBytes(refB);
    this.writeEntryRaw(refA, b);
    this.writeEntryRaw(refB, a);
    if (this.version === 2) {
      const sa = this.readStatus(refA);
      const sb = this.readStatus(refB);
      this.clearStatusBits(refA, 0xffff);
      this.setStatusBits(refA, sb);
      this.clearStatusBits(refB, 0xffff);
      this.setStatusBits(refB, sa);
    }
    return GNTST_okay;
  }
}

/**
 * Frees a Xen-heap page shared with a guest (Xen `free_xenheap_page` after the guest's last
 * reference): drops the permanent writable type `allocXenHeapPage` gave it, then the allocation
 * reference. A frame the guest still maps stays allocated until its last mapping goes.
 * (MachineMemory has no such call yet; this is the stand-in.)
 */
export function freeXenHeapPage(mem: MachineMemory, mfn: number): void {
  if (mem.type[mfn] === PageType.Writable && (mem.typeCount[mfn] as number) > 0) {
    mem.typeCount[mfn] = (mem.typeCount[mfn] as number) - 1;
    if (mem.typeCount[mfn] === 0) mem.flags[mfn] = (mem.flags[mfn] as number) & ~F_VALIDATED;
  }
  mem.release(mfn);
}
