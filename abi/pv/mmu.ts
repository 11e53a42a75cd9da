/**
 * The PV MMU operations of a 64-bit PV domain (reference §4.4-4.6): mmu_update, mmuext_op,
 * update_va_mapping and update_va_mapping_otherdomain, with Xen 4.17's checks and errors
 * (xen/arch/x86/mm.c `do_mmu_update`, `do_mmuext_op`, `__do_update_va_mapping`, `mod_lN_entry`,
 * `new_guest_cr3`), over the page types of abi/hv/page-types.ts.
 *
 * One `PvMmu` per domain. It owns the per-vCPU page-table roots (Xen's `guest_table` and
 * `guest_table_user`, each holding a general and an L4 type reference) and the LDT setting.
 * It never touches a CPU: what the CPU must do afterwards comes back as `MmuEffects` (TLB
 * flushes, INVLPGs, a new kernel root to load into CR3, a new user root, a new LDT), which the
 * caller applies to the vCPUs named. Operations complete atomically (no continuations).
 *
 * Two layers:
 *  - the semantic API (`mmuUpdate`, `mmuextOp`, `updateVaMapping`, ...) on decoded requests;
 *  - the hypercall readers (`hypercallMmuUpdate`, `hypercallMmuextOp`) that take the guest's
 *    arguments as Xen does (request arrays and the `pdone` counter in guest memory, the
 *    MMU_UPDATE_PREEMPTED bit, -EFAULT on unreadable requests).
 *
 * Addresses: linear addresses are sign-extended JS numbers (x86/ convention); 64-bit values the
 * guest supplies bit for bit (mmu_update's `ptr` and `val`, PTEs) are unsigned 32-bit halves.
 */
import { hexAddr } from '../../x86/fault.js';
import type { GuestMemory } from '../layout/memory.js';
import { errorName } from '../hypercall/errors.js';
import type { GuestSite } from './guest-site.js';
import {
  XEN_EACCES,
  XEN_EFAULT,
  XEN_EINVAL,
  XEN_ENOSYS,
  XEN_EOPNOTSUPP,
  XEN_EPERM,
  XEN_ESRCH,
} from '../public/errno.js';
import * as XEN from '../public/xen.js';
import {
  DOMID_IO,
  DOMID_SELF,
  DOMID_XEN,
  MMU_MACHPHYS_UPDATE,
  MMU_NORMAL_PT_UPDATE,
  MMU_PT_UPDATE_NO_TRANSLATE,
  MMU_PT_UPDATE_PRESERVE_AD,
  MMUEXT_CLEAR_PAGE,
  MMUEXT_COPY_PAGE,
  MMUEXT_FLUSH_CACHE,
  MMUEXT_FLUSH_CACHE_GLOBAL,
  MMUEXT_INVLPG_ALL,
  MMUEXT_INVLPG_LOCAL,
  MMUEXT_INVLPG_MULTI,
  MMUEXT_MARK_SUPER,
  MMUEXT_NEW_BASEPTR,
  MMUEXT_NEW_USER_BASEPTR,
  MMUEXT_PIN_L1_TABLE,
  MMUEXT_PIN_L2_TABLE,
  MMUEXT_PIN_L3_TABLE,
  MMUEXT_PIN_L4_TABLE,
  MMUEXT_SET_LDT,
  MMUEXT_TLB_FLUSH_ALL,
  MMUEXT_TLB_FLUSH_LOCAL,
  MMUEXT_TLB_FLUSH_MULTI,
  MMUEXT_UNMARK_SUPER,
  MMUEXT_UNPIN_TABLE,
  UVMF_ALL,
  UVMF_FLUSHTYPE_MASK,
  UVMF_INVLPG,
  UVMF_TLB_FLUSH,
  VMASST_TYPE_m2p_strict,
} from '../public/xen.js';
import { F_PINNED, PageType } from '../hv/machine.js';
import {
  _PAGE_ACCESSED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_RW,
  L2_DISALLOW,
  PageTypes,
  adjustL1,
  adjustUpper,
  isGuestL4Slot,
  pteChanged,
  pteFlags,
  pteMfn,
  type MmuDiagnostic,
  type PageOwnerPolicy,
} from '../hv/page-types.js';

/** One mmu_update request: `ptr` (machine address of the entry | command in bits 2:0) and `val`, as 32-bit halves. */
export interface MmuUpdateReq {
  readonly ptrLo: number;
  readonly ptrHi: number;
  readonly valLo: number;
  readonly valHi: number;
}

/**
 * One mmuext_op, decoded: `arg1` is an MFN (pin/unpin, base pointers, clear/copy page) or a
 * sign-extended linear address (INVLPG_*, SET_LDT); `arg2` the LDT entry count, the guest
 * address of a vCPU bitmap (the *_MULTI commands) or the source MFN of COPY_PAGE.
 */
export interface MmuextOp {
  readonly cmd: number;
  readonly arg1: number;
  readonly arg2: number;
}

/** What the CPU side must do after an operation, per vCPU of the calling domain. */
export interface MmuEffects {
  /** vCPUs whose TLB must be flushed entirely (global entries included). */
  readonly flush: Set<number>;
  /** Single-page invalidations. */
  readonly invlpg: { vcpu: number; va: number }[];
  /** vCPUs whose kernel root changed or was reloaded: CR3 := vcpus[v].guestTable << 12 (kernel mode), which flushes. */
  readonly newBaseptr: Set<number>;
  /** vCPUs whose user root changed: take vcpus[v].guestTableUser for the next return to user mode. */
  readonly newUserBaseptr: Set<number>;
  /** vCPUs whose LDT (vcpus[v].ldtBase / ldtEnts) changed. */
  readonly ldt: Set<number>;
  /**
   * Frames whose contents Xen changed other than as page-table entries (plain mmu_update writes,
   * CLEAR_PAGE, COPY_PAGE's destination): the CPU must forget code decoded from them.
   */
  readonly written: number[];
}

export interface MmuResult {
  /** 0 or the negative Xen errno of the request that stopped the batch. */
  readonly rc: number;
  /** Requests completed (Xen's `*pdone` increment). */
  readonly done: number;
  /** Whether Xen writes `*pdone` (false when it refused the call before looking at any request). */
  readonly writesDone: boolean;
  readonly effects: MmuEffects;
}

/** Xen's per-vCPU MMU state: the roots hold an L4 type reference each (0 = none). */
export interface VcpuMmuState {
  guestTable: number;
  guestTableUser: number;
  ldtBase: number;
  ldtEnts: number;
}

export interface PvMmuOptions {
  readonly domid: number;
  readonly vcpus: number;
  /** The control domain (Xen's default XSM policy: may name other domains). Default false. */
  readonly privileged?: boolean;
  /** I/O rights (cache attributes in L1 entries, cache flushes). Default false. */
  readonly ioRights?: boolean;
  /** The domain's vm_assist state (VMASST_TYPE_*), owned by the vm_assist hypercall. */
  readonly vmAssist?: (type: number) => boolean;
  /** Other domains by domid, for `foreigndom` arguments. */
  readonly lookup?: (domid: number) => PvMmu | undefined;
  /** Collect `--strict` observations in `diagnostics`. Default false. */
  readonly strict?: boolean;
}

const MMU_UPDATE_PREEMPTED = 0x80000000;
/** `--strict` observations kept per domain; later ones are counted in `droppedDiagnostics`. */
export const MAX_MMU_DIAGNOSTICS = 512;

/** MMUEXT_* and MMU_* command names by number (xen.h), for refusals. */
const MMUEXT_NAMES = new Map(Object.entries(XEN).filter(([k, v]) => k.startsWith('MMUEXT_') && typeof v === 'number').map(([k, v]) => [v as number, k]));
const MMU_CMD_NAMES = ['MMU_NORMAL_PT_UPDATE', 'MMU_MACHPHYS_UPDATE', 'MMU_PT_UPDATE_PRESERVE_AD', 'MMU_PT_UPDATE_NO_TRANSLATE'];

function hex64(lo: number, hi: number): string {
  return hi >>> 0 === 0 ? `0x${(lo >>> 0).toString(16)}` : `0x${(hi >>> 0).toString(16)}${(lo >>> 0).toString(16).padStart(8, '0')}`;
}
/** The largest LDT a guest may set (entries). */
const MAX_LDT_ENTS = 8192;

const TWO32 = 4294967296;
const HALF_VA = 0x800000000000;
/** HYPERVISOR_VIRT_END as a sign-extended address. */
const HV_VIRT_END = -0x780000000000;

/** Xen's `__addr_ok` for PV64: the lower half, or at/above HYPERVISOR_VIRT_END. */
export function addrOk(va: number): boolean {
  return (va >= 0 && va < HALF_VA) || (va >= HV_VIRT_END && va < 0);
}

function canonical(va: number): boolean {
  return va >= -HALF_VA && va < HALF_VA;
}

function emptyEffects(): MmuEffects {
  return { flush: new Set(), invlpg: [], newBaseptr: new Set(), newUserBaseptr: new Set(), ldt: new Set(), written: [] };
}

/** A 64-bit guest word as a sign-extended number (exact for canonical addresses). */
function signed64(lo: number, hi: number): number {
  return (hi | 0) * TWO32 + (lo >>> 0);
}

/** A 64-bit guest word as an unsigned number (exact below 2^53; anything larger is no valid MFN anyway). */
function unsigned64(lo: number, hi: number): number {
  return (hi >>> 0) * TWO32 + (lo >>> 0);
}

export class PvMmu implements PageOwnerPolicy {
  readonly domid: number;
  readonly privileged: boolean;
  readonly ioRights: boolean;
  readonly vcpus: VcpuMmuState[];
  /** `--strict` observations, oldest first (only when created with `strict`; at most MAX_MMU_DIAGNOSTICS). */
  readonly diagnostics: MmuDiagnostic[] = [];
  /** Observations beyond MAX_MMU_DIAGNOSTICS, counted only. */
  droppedDiagnostics = 0;
  /** Where the running vCPU is (the hypercall or the emulated instruction), while `during` runs; cached once taken. */
  private site: (() => GuestSite) | undefined = undefined;
  private siteTaken: GuestSite | undefined = undefined;

  private readonly vmAssist: (type: number) => boolean;
  private readonly lookup: (domid: number) => PvMmu | undefined;
  private readonly strict: boolean;

  constructor(
    readonly types: PageTypes,
    opts: PvMmuOptions,
  ) {
    this.domid = opts.domid;
    this.privileged = opts.privileged ?? false;
    this.ioRights = opts.ioRights ?? false;
    this.vmAssist = opts.vmAssist ?? (() => false);
    this.lookup = opts.lookup ?? (() => undefined);
    this.strict = opts.strict ?? false;
    this.vcpus = [];
    for (let i = 0; i < opts.vcpus; i++) this.vcpus.push({ guestTable: 0, guestTableUser: 0, ldtBase: 0, ldtEnts: 0 });
    types.register(this);
  }

  m2pStrict(): boolean {
    return this.vmAssist(VMASST_TYPE_m2p_strict);
  }

  /**
   * Receives every observation as it is made, `--strict` or not (the conformance run's pv.strict
   * check sets it once the domain is built, so the builder's own work is not the guest's).
   */
  observer: ((d: MmuDiagnostic) => void) | undefined = undefined;

  /** Whether observations are made at all (`--strict`, or an observer). */
  get collecting(): boolean {
    return this.strict || this.observer !== undefined;
  }

  report(d: MmuDiagnostic): void {
    if (!this.collecting) return;
    const full = this.site !== undefined && d.site === undefined ? { ...d, site: (this.siteTaken ??= this.site()) } : d;
    this.observer?.(full);
    if (!this.strict) return;
    if (this.diagnostics.length >= MAX_MMU_DIAGNOSTICS) this.droppedDiagnostics++;
    else this.diagnostics.push(full);
  }

  /**
   * Runs `f` (a hypercall, a write Xen emulates) with `site` saying where the guest is, for the
   * observations `f` makes; the site is taken at the first one (its bytes read then), once.
   */
  during<T>(site: () => GuestSite, f: () => T): T {
    const prev = this.site;
    const prevTaken = this.siteTaken;
    this.site = site;
    this.siteTaken = undefined;
    try {
      return f();
    } finally {
      this.site = prev;
      this.siteTaken = prevTaken;
    }
  }

  /** A batch refused before its first request (the foreign domain named), noted as a refusal. */
  private refusedBatch(op: string, rc: number, what: string, writesDone: boolean, effects: MmuEffects): MmuResult {
    this.refused(op, rc, what);
    return { rc, done: 0, writesDone, effects };
  }

  /**
   * `--strict`: an operation Xen refused (`op`: the hypercall and command; `rc`: its error), which
   * a correct guest never relies on: it asked for something the page-type rules forbid.
   */
  refused(op: string, rc: number, what: string, mfn?: number, va?: number): void {
    if (!this.collecting) return;
    this.report({
      code: 'refused',
      domid: this.domid,
      op,
      error: rc,
      ...(mfn !== undefined ? { mfn } : {}),
      ...(va !== undefined ? { va } : {}),
      message: `${op} ${what}: ${errorName(rc)}`,
    });
  }

  /** Grant-mapping entries dropped implicitly since the last `takeImplicitGrantUnmaps` (Xen's #GP). */
  private implicitUnmaps = 0;

  implicitGrantUnmap(): void {
    this.implicitUnmaps++;
  }

  /**
   * How many grant-mapping entries of this domain's L1 tables an ordinary page-table operation
   * dropped since the last call (and resets the count). Xen raises #GP on the running vCPU for
   * them (`put_page_from_l1e`); the hypercall layer delivers it.
   */
  takeImplicitGrantUnmaps(): number {
    const n = this.implicitUnmaps;
    this.implicitUnmaps = 0;
    return n;
  }

  // ---- mmu_update -----------------------------------------------------------------------------

  /**
   * mmu_update (Xen `do_mmu_update`): requests in order, stopping at the first failure.
   * `foreigndom` bits 15:0 name the owner of the mapped frames (DOMID_SELF normally), bits 31:16
   * the owner of the page tables plus one (0 = self). `req(i)` returns request i, or undefined
   * when it cannot be read (-EFAULT).
   */
  mmuUpdate(vcpu: number, reqs: readonly MmuUpdateReq[] | ((i: number) => MmuUpdateReq | undefined), count?: number, foreigndom = DOMID_SELF): MmuResult {
    const effects = emptyEffects();
    const get = typeof reqs === 'function' ? reqs : (i: number) => reqs[i];
    const n = count ?? (typeof reqs === 'function' ? 0 : reqs.length);
    void vcpu; // the page tables' vCPU is Xen's `pt_vcpu`; only its domain matters here

    let ptOwner = this.domid;
    const ptDom = foreigndom >>> 16;
    if (ptDom !== 0) {
      // rcu_lock_domain_by_id: a real domain id only (DOMID_SELF - 1 + 1 names nobody).
      const id = ptDom - 1;
      if (id !== this.domid) {
        const other = this.lookup(id);
        if (other === undefined) return this.refusedBatch('mmu_update', -XEN_ESRCH, `page tables of domain ${id}`, false, effects);
        if (other.vcpus.length === 0) return this.refusedBatch('mmu_update', -XEN_EINVAL, `page tables of domain ${id}, which has no vCPU`, true, effects);
        ptOwner = id;
      }
    }
    const pgOwner = this.pgOwner(foreigndom & 0xffff);
    if (pgOwner < 0) return this.refusedBatch('mmu_update', pgOwner, `frames of domain ${foreigndom & 0xffff}`, true, effects);

    let rc = 0;
    let i = 0;
    let flushLinear = false;
    for (; i < n; i++) {
      const req = get(i);
      if (req === undefined) {
        rc = -XEN_EFAULT;
        this.refused('mmu_update', rc, `(request ${i} unreadable)`);
        break;
      }
      const cmd = req.ptrLo & 7;
      switch (cmd) {
        case MMU_NORMAL_PT_UPDATE:
        case MMU_PT_UPDATE_PRESERVE_AD:
        case MMU_PT_UPDATE_NO_TRANSLATE: {
          rc = (pgOwner !== DOMID_IO ? this.xsmTarget(pgOwner) : 0) || this.xsmTarget(ptOwner);
          if (rc !== 0) break;
          rc = this.normalUpdate(req, cmd, ptOwner, pgOwner, effects);
          if (rc === 1) {
            flushLinear = true;
            rc = 0;
          }
          break;
        }
        case MMU_MACHPHYS_UPDATE: {
          if (ptOwner !== this.domid) {
            rc = -XEN_EPERM;
            break;
          }
          rc = pgOwner !== DOMID_IO ? this.xsmTarget(pgOwner) : 0;
          if (rc !== 0) break;
          const mfn = (req.ptrHi >>> 0) * 0x100000 + (req.ptrLo >>> 12);
          if (!this.types.getPage(mfn, pgOwner)) {
            rc = -XEN_EINVAL;
            break;
          }
          this.types.mem.m2pSetRaw(mfn, req.valLo, req.valHi);
          this.types.putPage(mfn);
          break;
        }
        default:
          rc = -XEN_ENOSYS;
      }
      if (rc !== 0) {
        const ptr = (req.ptrHi >>> 0) * TWO32 + ((req.ptrLo & ~7) >>> 0);
        this.refused(`mmu_update ${MMU_CMD_NAMES[cmd] ?? `command ${cmd}`}`, rc, `(request ${i}) ptr 0x${ptr.toString(16)} val ${hex64(req.valLo, req.valHi)}`, Math.floor(ptr / 4096));
        break;
      }
    }
    // An L2-L4 change is flushed on every vCPU of the page tables' owner (flush_linear_pt); L1
    // changes are the guest's to flush.
    if (flushLinear && ptOwner === this.domid) for (let v = 0; v < this.vcpus.length; v++) effects.flush.add(v);
    return { rc, done: i, writesDone: true, effects };
  }

  /** MMU_NORMAL_PT_UPDATE and friends: 0, 1 (done; an L2-L4 entry changed), or a negative errno. */
  private normalUpdate(req: MmuUpdateReq, cmd: number, ptOwner: number, pgOwner: number, effects: MmuEffects): number {
    const t = this.types;
    const m = t.mem;
    const gmfn = (req.ptrHi >>> 0) * 0x100000 + (req.ptrLo >>> 12);
    if (!t.getPage(gmfn, ptOwner)) return -XEN_EINVAL;
    const index = ((req.ptrLo & 0xfff) >>> 3) as number;
    const preserveAd = cmd === MMU_PT_UPDATE_PRESERVE_AD;
    let rc = -XEN_EINVAL;
    if (t.isLiveTable(gmfn)) {
      switch (m.type[gmfn] as PageType) {
        case PageType.L1:
          rc = this.modL1Entry(gmfn, index, req.valLo, req.valHi, preserveAd, ptOwner, pgOwner);
          break;
        case PageType.L2:
        case PageType.L3:
        case PageType.L4:
          if (pgOwner !== ptOwner) break;
          rc = this.modUpperEntry(m.type[gmfn] as 2 | 3 | 4, gmfn, index, req.valLo, req.valHi, preserveAd, ptOwner);
          if (rc === 0) rc = 1;
          break;
        case PageType.Writable:
          this.plainWrite(gmfn, index, req, effects);
          rc = 0;
          break;
        default:
          break;
      }
    } else if (t.getPageType(gmfn, PageType.Writable) === 0) {
      this.plainWrite(gmfn, index, req, effects);
      t.putPageType(gmfn);
      rc = 0;
    }
    t.putPage(gmfn);
    return rc;
  }

  private plainWrite(mfn: number, index: number, req: MmuUpdateReq, effects: MmuEffects): void {
    const v = this.types.mem.view(mfn);
    effects.written.push(mfn);
    v.setUint32(index * 8, req.valLo >>> 0, true);
    v.setUint32(index * 8 + 4, req.valHi >>> 0, true);
    this.types.mem.markDirty(mfn);
    if (this.collecting) {
      this.report({
        code: 'mmu-update-plain-write',
        domid: this.domid,
        mfn,
        message: `mmu_update wrote entry ${index} of frame 0x${mfn.toString(16)}, which is not a page table: Xen does a plain write`,
      });
    }
  }

  /**
   * Xen `mod_l1_entry`: replaces entry `index` of the validated L1 `l1mfn` (owned by `ptDom`)
   * with lo/hi, taking the references of the new entry (mapping a frame of `pgDom`) before
   * dropping those of the old one. 0 or a negative errno (nothing changed).
   */
  modL1Entry(l1mfn: number, index: number, lo: number, hi: number, preserveAd: boolean, ptDom: number, pgDom: number): number {
    const t = this.types;
    const v = t.mem.view(l1mfn);
    const olo = v.getUint32(index * 8, true);
    const ohi = v.getUint32(index * 8 + 4, true);
    let nlo = lo >>> 0;
    let nhi = hi >>> 0;
    if ((nlo & _PAGE_PRESENT) !== 0) {
      if (t.l1FlagsBad(nlo, nhi, ptDom)) return -XEN_EINVAL;
      t.noteGlobalKernel(nlo, nhi, ptDom, l1mfn, index);
      [nlo, nhi] = adjustL1(nlo, nhi);
      // Same frame and same P/RW/cache bits: no reference changes (Xen's fast path).
      if (!pteChanged(olo, ohi, nlo, nhi)) {
        this.store(v, index, olo, ohi, nlo, nhi, preserveAd);
        return 0;
      }
      const rc = t.getPageFromL1e(nlo, nhi, ptDom, pgDom);
      if (rc < 0) return rc;
    }
    this.store(v, index, olo, ohi, nlo, nhi, preserveAd);
    t.putPageFromL1e(olo, ohi, ptDom);
    return 0;
  }

  /**
   * Xen `mod_l2_entry`/`mod_l3_entry`/`mod_l4_entry` for PV64: Xen's L4 slots are refused
   * (-EINVAL), flags checked, the new entry referenced (a lower table validated as needed)
   * before the old one is released.
   */
  modUpperEntry(level: 2 | 3 | 4, mfn: number, index: number, lo: number, hi: number, preserveAd: boolean, d: number): number {
    const t = this.types;
    if (level === 4 && !isGuestL4Slot(index)) return -XEN_EINVAL;
    const v = t.mem.view(mfn);
    const olo = v.getUint32(index * 8, true);
    const ohi = v.getUint32(index * 8 + 4, true);
    let nlo = lo >>> 0;
    let nhi = hi >>> 0;
    if ((nlo & _PAGE_PRESENT) !== 0) {
      if ((pteFlags(nlo, nhi) & L2_DISALLOW) !== 0) return -XEN_EINVAL;
      [nlo, nhi] = adjustUpper(level, nlo, nhi);
      if (!pteChanged(olo, ohi, nlo, nhi)) {
        this.store(v, index, olo, ohi, nlo, nhi, preserveAd);
        return 0;
      }
      const rc = t.getPageFromLne(level, nlo, nhi, mfn, d);
      if (rc < 0) return rc;
    }
    this.store(v, index, olo, ohi, nlo, nhi, preserveAd);
    t.putPageFromLne(olo, ohi, mfn);
    return 0;
  }

  /** Xen `update_intpte`: with preserve-AD the accessed/dirty bits already in the entry are kept. */
  private store(v: DataView, index: number, olo: number, _ohi: number, nlo: number, nhi: number, preserveAd: boolean): void {
    const lo = preserveAd ? nlo | (olo & (_PAGE_ACCESSED | _PAGE_DIRTY)) : nlo;
    v.setUint32(index * 8, lo >>> 0, true);
    v.setUint32(index * 8 + 4, nhi >>> 0, true);
    this.types.mem.markDirtyView(v); // a table of the domain: its log-dirty sees the update
  }

  // ---- mmuext_op ------------------------------------------------------------------------------

  /**
   * mmuext_op (Xen `do_mmuext_op`): operations in order, stopping at the first failure.
   * `foreigndom` names the owner of the frames (DOMID_SELF normally). `mem` reads the vCPU
   * bitmaps of TLB_FLUSH_MULTI/INVLPG_MULTI (without it such a bitmap is unreadable).
   */
  mmuextOp(vcpu: number, ops: readonly MmuextOp[] | ((i: number) => MmuextOp | undefined), count?: number, foreigndom = DOMID_SELF, mem?: GuestMemory): MmuResult {
    const effects = emptyEffects();
    const get = typeof ops === 'function' ? ops : (i: number) => ops[i];
    const n = count ?? (typeof ops === 'function' ? 0 : ops.length);
    const pgOwner = this.pgOwner(foreigndom & 0xffff);
    if (pgOwner < 0) return this.refusedBatch('mmuext_op', pgOwner, `frames of domain ${foreigndom & 0xffff}`, false, effects);
    const xsm = this.xsmTarget(pgOwner);
    if (xsm !== 0) return this.refusedBatch('mmuext_op', xsm, `frames of domain ${foreigndom & 0xffff}`, false, effects);

    let rc = 0;
    let i = 0;
    for (; i < n; i++) {
      const op = get(i);
      if (op === undefined) {
        rc = -XEN_EFAULT;
        this.refused('mmuext_op', rc, `(op ${i} unreadable)`);
        break;
      }
      rc = this.extOne(vcpu, op, pgOwner, effects, mem);
      if (rc !== 0) {
        const arg1 = op.arg1 < 0 ? hexAddr(op.arg1) : `0x${op.arg1.toString(16)}`;
        this.refused(`mmuext_op ${MMUEXT_NAMES.get(op.cmd) ?? `command ${op.cmd}`}`, rc, `(op ${i}) arg1 ${arg1}`, arg1IsAddress(op.cmd) ? undefined : op.arg1, arg1IsAddress(op.cmd) ? op.arg1 : undefined);
        break;
      }
    }
    return { rc, done: i, writesDone: true, effects };
  }

  private extOne(vcpu: number, op: MmuextOp, pgOwner: number, effects: MmuEffects, mem: GuestMemory | undefined): number {
    const t = this.types;
    const self = pgOwner === this.domid;
    const state = this.vcpus[vcpu];
    if (state === undefined) throw new Error(`PvMmu: no vCPU ${vcpu} in d${this.domid}`);
    switch (op.cmd) {
      case MMUEXT_PIN_L1_TABLE:
      case MMUEXT_PIN_L2_TABLE:
      case MMUEXT_PIN_L3_TABLE:
      case MMUEXT_PIN_L4_TABLE:
        return this.pin(op.arg1, (op.cmd - MMUEXT_PIN_L1_TABLE + 1) as PageType, pgOwner);
      case MMUEXT_UNPIN_TABLE: {
        const mfn = op.arg1;
        if (!t.getPage(mfn, pgOwner)) return -XEN_EINVAL;
        if (!t.isPinned(mfn)) {
          t.putPage(mfn);
          return -XEN_EINVAL;
        }
        t.mem.flags[mfn] = (t.mem.flags[mfn] as number) & ~F_PINNED;
        t.putPageAndType(mfn);
        t.putPage(mfn);
        return 0;
      }
      case MMUEXT_NEW_BASEPTR:
        if (!self) return -XEN_EPERM;
        return this.newGuestCr3(vcpu, op.arg1, effects);
      case MMUEXT_NEW_USER_BASEPTR: {
        if (!self) return -XEN_EPERM;
        const mfn = op.arg1;
        const old = state.guestTableUser;
        if (old === mfn) return 0;
        if (mfn !== 0) {
          const rc = t.getPageAndType(mfn, PageType.L4, this.domid);
          if (rc !== 0) return rc;
          if (this.m2pStrict()) t.zapRoMpt(mfn);
        }
        state.guestTableUser = mfn;
        effects.newUserBaseptr.add(vcpu);
        if (old !== 0) t.putPageAndType(old);
        return 0;
      }
      case MMUEXT_TLB_FLUSH_LOCAL:
        if (!self) return -XEN_EPERM;
        effects.flush.add(vcpu);
        return 0;
      case MMUEXT_INVLPG_LOCAL:
        if (!self) return -XEN_EPERM;
        if (canonical(op.arg1)) effects.invlpg.push({ vcpu, va: op.arg1 });
        return 0;
      case MMUEXT_TLB_FLUSH_MULTI:
      case MMUEXT_INVLPG_MULTI: {
        if (!self) return -XEN_EPERM;
        const mask = this.readVcpumask(mem, op.arg2);
        if (mask === undefined) return -XEN_EINVAL;
        if (op.cmd === MMUEXT_TLB_FLUSH_MULTI) for (const v of mask) effects.flush.add(v);
        else if (addrOk(op.arg1)) for (const v of mask) effects.invlpg.push({ vcpu: v, va: op.arg1 });
        return 0;
      }
      case MMUEXT_TLB_FLUSH_ALL:
        if (!self) return -XEN_EPERM;
        for (let v = 0; v < this.vcpus.length; v++) effects.flush.add(v);
        return 0;
      case MMUEXT_INVLPG_ALL:
        if (!self) return -XEN_EPERM;
        if (addrOk(op.arg1)) for (let v = 0; v < this.vcpus.length; v++) effects.invlpg.push({ vcpu: v, va: op.arg1 });
        return 0;
      case MMUEXT_FLUSH_CACHE:
        if (!self) return -XEN_EPERM;
        return this.ioRights ? 0 : -XEN_EACCES;
      case MMUEXT_FLUSH_CACHE_GLOBAL:
        if (!self) return -XEN_EPERM;
        return this.ioRights ? 0 : -XEN_EINVAL;
      case MMUEXT_SET_LDT: {
        if (!self) return -XEN_EPERM;
        const ents = op.arg2 >>> 0;
        const base = op.arg1;
        if (ents > MAX_LDT_ENTS || (ents !== 0 && ((base & 0xfff) !== 0 || !addrOk(base)))) return -XEN_EINVAL;
        const ptr = ents !== 0 ? base : 0;
        if (state.ldtEnts !== ents || state.ldtBase !== ptr) {
          state.ldtBase = ptr;
          state.ldtEnts = ents;
          effects.ldt.add(vcpu);
        }
        return 0;
      }
      case MMUEXT_CLEAR_PAGE: {
        const mfn = op.arg1;
        // PV get_page_from_gfn: DOMID_IO's frames are MMIO, not RAM.
        if (pgOwner === DOMID_IO || !t.getPage(mfn, pgOwner)) return -XEN_EINVAL;
        if (t.getPageType(mfn, PageType.Writable) !== 0) {
          t.putPage(mfn);
          return -XEN_EINVAL;
        }
        const v = t.mem.view(mfn);
        new Uint8Array(v.buffer, v.byteOffset, 4096).fill(0);
        effects.written.push(mfn);
        t.mem.markDirty(mfn);
        t.putPageAndType(mfn);
        return 0;
      }
      case MMUEXT_COPY_PAGE: {
        const dst = op.arg1;
        const src = op.arg2;
        if (pgOwner === DOMID_IO || !t.getPage(src, pgOwner)) return -XEN_EINVAL;
        const dstOk = t.getPage(dst, pgOwner);
        if (!dstOk || t.getPageType(dst, PageType.Writable) !== 0) {
          t.putPage(src);
          if (dstOk) t.putPage(dst);
          return -XEN_EINVAL;
        }
        const s = t.mem.view(src);
        const d = t.mem.view(dst);
        new Uint8Array(d.buffer, d.byteOffset, 4096).set(new Uint8Array(s.buffer, s.byteOffset, 4096));
        effects.written.push(dst);
        t.mem.markDirty(dst);
        t.putPageAndType(dst);
        t.putPage(src);
        return 0;
      }
      case MMUEXT_MARK_SUPER:
      case MMUEXT_UNMARK_SUPER:
        return -XEN_EOPNOTSUPP;
      default:
        return -XEN_ENOSYS;
    }
  }

  /** MMUEXT_PIN_Ln_TABLE: validate as `type` and hold one type reference while pinned. */
  private pin(mfn: number, type: PageType, pgOwner: number): number {
    const t = this.types;
    if (!t.getPage(mfn, pgOwner)) return -XEN_EINVAL;
    const rc = t.getPageType(mfn, type);
    if (rc !== 0) {
      t.putPage(mfn);
      return rc;
    }
    if (t.isPinned(mfn)) {
      // Not nestable: drop what we just took.
      t.putPageAndType(mfn);
      return -XEN_EINVAL;
    }
    t.mem.flags[mfn] = (t.mem.flags[mfn] as number) | F_PINNED;
    return 0;
  }

  /** Xen `new_guest_cr3` (PV64): take the new root's references, then drop the old root's. */
  private newGuestCr3(vcpu: number, mfn: number, effects: MmuEffects): number {
    const t = this.types;
    const state = this.vcpus[vcpu] as VcpuMmuState;
    const old = state.guestTable;
    if (old === mfn) {
      effects.newBaseptr.add(vcpu);
      return 0;
    }
    const rc = t.getPageAndType(mfn, PageType.L4, this.domid);
    if (rc !== 0) return rc;
    if (this.collecting && !t.isPinned(mfn)) {
      this.report({
        code: 'unpinned-baseptr',
        domid: this.domid,
        mfn,
        message: `NEW_BASEPTR to L4 frame 0x${mfn.toString(16)}, which is not pinned: its tree is validated now and devalidated when it stops being a root`,
      });
    }
    if (!this.m2pStrict()) t.fillRoMpt(mfn);
    state.guestTable = mfn;
    effects.newBaseptr.add(vcpu);
    if (old !== 0) t.putPageAndType(old);
    return 0;
  }

  /**
   * The builder's and VCPUOP_initialise's roots (Xen `arch_set_info_guest`): kernel root
   * `kernelMfn` and user root `userMfn` (0 = none) of a vCPU, replacing what it had. 0 or the
   * negative errno (then the vCPU has no roots).
   */
  setBaseptrs(vcpu: number, kernelMfn: number, userMfn = 0): number {
    const t = this.types;
    this.destroyPagetables(vcpu);
    const state = this.vcpus[vcpu];
    if (state === undefined) throw new Error(`PvMmu: no vCPU ${vcpu} in d${this.domid}`);
    let rc = t.getPageAndType(kernelMfn, PageType.L4, this.domid);
    if (rc !== 0) return rc;
    if (!this.m2pStrict()) t.fillRoMpt(kernelMfn);
    state.guestTable = kernelMfn;
    if (userMfn !== 0) {
      rc = t.getPageAndType(userMfn, PageType.L4, this.domid);
      if (rc !== 0) {
        this.destroyPagetables(vcpu);
        return rc;
      }
      if (this.m2pStrict()) t.zapRoMpt(userMfn);
      state.guestTableUser = userMfn;
    }
    return 0;
  }

  /** Xen `vcpu_destroy_pagetables`: the vCPU drops its roots (VCPUOP_down/reset, domain teardown). */
  destroyPagetables(vcpu: number): void {
    const state = this.vcpus[vcpu];
    if (state === undefined) throw new Error(`PvMmu: no vCPU ${vcpu} in d${this.domid}`);
    if (state.guestTable !== 0) this.types.putPageAndType(state.guestTable);
    if (state.guestTableUser !== 0) this.types.putPageAndType(state.guestTableUser);
    state.guestTable = 0;
    state.guestTableUser = 0;
  }

  /** Teardown helper (Xen `relinquish_memory`'s first pass): unpins every pinned frame of the domain. */
  unpinAll(): void {
    const m = this.types.mem;
    for (let mfn = 0; mfn < m.nrFrames; mfn++) {
      if (m.owner[mfn] === this.domid && ((m.flags[mfn] as number) & F_PINNED) !== 0) {
        m.flags[mfn] = (m.flags[mfn] as number) & ~F_PINNED;
        this.types.putPageAndType(mfn);
      }
    }
  }

  // ---- update_va_mapping ----------------------------------------------------------------------

  /**
   * update_va_mapping (Xen `__do_update_va_mapping`): replaces the L1 entry mapping `va` in the
   * vCPU's current (kernel) page tables with lo/hi, then flushes as `flags` say: bits 1:0
   * UVMF_NONE / UVMF_TLB_FLUSH / UVMF_INVLPG; the rest 0 (UVMF_LOCAL), UVMF_ALL, or the guest
   * address of a vCPU bitmap (UVMF_MULTI; read through `mem`; unreadable → -EFAULT after the
   * update, as Xen). No flush when the update fails.
   */
  updateVaMapping(vcpu: number, va: number, lo: number, hi: number, flags: number, mem?: GuestMemory): { rc: number; effects: MmuEffects } {
    const r = this.doUpdateVaMapping(vcpu, va, lo, hi, flags, this.domid, mem);
    if (r.rc !== 0) this.refused('update_va_mapping', r.rc, `${hexAddr(va)} := ${hex64(lo, hi)} (flags 0x${(flags >>> 0).toString(16)})`, undefined, va);
    return r;
  }

  /**
   * update_va_mapping_otherdomain: as `updateVaMapping`, the mapped frame belonging to `domid`.
   * Naming oneself or an unknown domain is -ESRCH (Xen `get_pg_owner`); any other domain is
   * -EPERM unless this domain is privileged.
   */
  updateVaMappingOtherdomain(vcpu: number, va: number, lo: number, hi: number, flags: number, domid: number, mem?: GuestMemory): { rc: number; effects: MmuEffects } {
    const pgOwner = this.pgOwner(domid & 0xffff);
    const r = pgOwner < 0 ? { rc: pgOwner, effects: emptyEffects() } : this.doUpdateVaMapping(vcpu, va, lo, hi, flags, pgOwner, mem);
    if (r.rc !== 0) this.refused('update_va_mapping_otherdomain', r.rc, `${hexAddr(va)} := ${hex64(lo, hi)} of domain ${domid & 0xffff}`, undefined, va);
    return r;
  }

  private doUpdateVaMapping(vcpu: number, va: number, lo: number, hi: number, flags: number, pgOwner: number, mem: GuestMemory | undefined): { rc: number; effects: MmuEffects } {
    const effects = emptyEffects();
    const t = this.types;
    let rc = this.xsmTarget(pgOwner);
    if (rc !== 0) return { rc, effects };
    const l1 = this.guestL1(vcpu, va);
    if (l1 === undefined || !t.getPage(l1.mfn, this.domid)) return { rc: -XEN_EINVAL, effects };
    if (!t.isLiveTable(l1.mfn) || t.mem.type[l1.mfn] !== PageType.L1) {
      t.putPage(l1.mfn);
      return { rc: -XEN_EINVAL, effects };
    }
    const v = t.mem.view(l1.mfn);
    const olo = v.getUint32(l1.index * 8, true);
    const ohi = v.getUint32(l1.index * 8 + 4, true);
    rc = this.modL1Entry(l1.mfn, l1.index, lo, hi, false, this.domid, pgOwner);
    t.putPage(l1.mfn);
    if (rc !== 0) return { rc, effects };

    const type = flags & UVMF_FLUSHTYPE_MASK;
    const sel = flags - type;
    if (this.collecting && type === 0 && (olo & _PAGE_PRESENT) !== 0) {
      const nlo = v.getUint32(l1.index * 8, true);
      const nhi = v.getUint32(l1.index * 8 + 4, true);
      const downgraded = (nlo & _PAGE_PRESENT) === 0 || pteMfn(olo, ohi) !== pteMfn(nlo, nhi) || ((olo & _PAGE_RW) !== 0 && (nlo & _PAGE_RW) === 0);
      if (downgraded) {
        this.report({
          code: 'uvm-no-flush',
          domid: this.domid,
          mfn: l1.mfn,
          va,
          message: `update_va_mapping removed or downgraded the mapping of ${hexAddr(va)} without a flush flag: a stale TLB entry may survive`,
        });
      }
    }
    if (type === UVMF_TLB_FLUSH || type === UVMF_INVLPG) {
      let targets: number[] | undefined;
      if (sel === 0) targets = [vcpu];
      else if (sel === UVMF_ALL) targets = this.vcpus.map((_, k) => k);
      else {
        targets = this.readVcpumask(mem, sel);
        if (targets === undefined) return { rc: -XEN_EFAULT, effects };
      }
      if (type === UVMF_TLB_FLUSH) for (const k of targets) effects.flush.add(k);
      else if (sel !== 0 || canonical(va)) for (const k of targets) effects.invlpg.push({ vcpu: k, va });
    }
    return { rc: 0, effects };
  }

  /**
   * Xen `map_guest_l1e`: the L1 table and index mapping `va` in the vCPU's kernel page tables,
   * found as Xen's linear mapping would (L4 and L3 entries present, the L2 entry present and not a
   * superpage); undefined otherwise or for an address outside the guest's range.
   */
  guestL1(vcpu: number, va: number): { mfn: number; index: number } | undefined {
    const root = this.vcpus[vcpu]?.guestTable ?? 0;
    if (root === 0 || !addrOk(va)) return undefined;
    const m = this.types.mem;
    const u = va < 0 ? va + 2 * HALF_VA : va; // bits 47:0
    const page = Math.floor(u / 4096);
    const idx = [Math.floor(page / 2 ** 27) % 512, Math.floor(page / 2 ** 18) % 512, Math.floor(page / 512) % 512];
    let table = root;
    for (let level = 0; level < 3; level++) {
      const v = m.frame(table);
      if (v === undefined) return undefined;
      const k = idx[level] as number;
      const lo = v.getUint32(k * 8, true);
      const hi = v.getUint32(k * 8 + 4, true);
      if ((lo & _PAGE_PRESENT) === 0) return undefined;
      if (level === 2 && (lo & 0x80) !== 0) return undefined;
      table = pteMfn(lo, hi);
    }
    if (!m.valid(table)) return undefined;
    return { mfn: table, index: page % 512 };
  }

  // ---- helpers --------------------------------------------------------------------------------

  /** Xen `get_pg_owner`: DOMID_SELF is us, our own id is refused, DOMID_IO/XEN are pseudo-owners. */
  private pgOwner(domid: number): number {
    if (domid === this.domid) return -XEN_ESRCH;
    if (domid === DOMID_SELF) return this.domid;
    if (domid === DOMID_IO || domid === DOMID_XEN) return domid;
    return this.lookup(domid) !== undefined ? domid : -XEN_ESRCH;
  }

  /** Xen's default XSM policy for XSM_TARGET: oneself, or the control domain. */
  private xsmTarget(target: number): number {
    return target === this.domid || this.privileged ? 0 : -XEN_EPERM;
  }

  /**
   * Xen `vcpumask_to_pcpumask`: reads the bitmap (64-bit words) at `ptr` up to the domain's vCPU
   * count; undefined when a word cannot be read.
   */
  private readVcpumask(mem: GuestMemory | undefined, ptr: number): number[] | undefined {
    const out: number[] = [];
    const word = new Uint8Array(8);
    const dv = new DataView(word.buffer);
    for (let offs = 0; ; offs++) {
      const bias = offs * 64;
      if (bias >= this.vcpus.length) return out;
      if (mem === undefined || !mem.read(ptr + offs * 8, word)) return undefined;
      for (let half = 0; half < 2; half++) {
        const bits = dv.getUint32(half * 4, true);
        for (let b = 0; b < 32; b++) {
          if ((bits & (1 << b)) === 0) continue;
          const id = bias + half * 32 + b;
          if (id >= this.vcpus.length) return out;
          out.push(id);
        }
      }
    }
  }

  // ---- the hypercalls as the guest makes them ---------------------------------------------------

  /**
   * HYPERVISOR_mmu_update(reqs, count, pdone, foreigndom) from guest memory: 16-byte requests at
   * `reqs`, the done count added to the u32 at `pdone` (0 = NULL). Returns the hypercall's value
   * and the effects. MMU_UPDATE_PREEMPTED in `count` resumes from the count at `pdone`, as Xen's
   * continuations do (a guest may set it too).
   */
  hypercallMmuUpdate(mem: GuestMemory, vcpu: number, reqs: number, count: number, pdone: number, foreigndom: number): { rc: number; effects: MmuEffects } {
    return this.batchHypercall(mem, pdone, count, reqs, foreigndom, (n, fd) =>
      this.mmuUpdate(vcpu, (i) => readMmuUpdate(mem, reqs + i * 16), n, fd),
    );
  }

  /** HYPERVISOR_mmuext_op(ops, count, pdone, foreigndom) from guest memory (24-byte records). */
  hypercallMmuextOp(mem: GuestMemory, vcpu: number, ops: number, count: number, pdone: number, foreigndom: number): { rc: number; effects: MmuEffects } {
    return this.batchHypercall(mem, pdone, count, ops, foreigndom, (n, fd) =>
      this.mmuextOp(vcpu, (i) => readMmuextOp(mem, ops + i * 24), n, fd, mem),
    );
  }

  private batchHypercall(
    mem: GuestMemory,
    pdone: number,
    count: number,
    array: number,
    foreigndom: number,
    run: (n: number, foreigndom: number) => MmuResult,
  ): { rc: number; effects: MmuEffects } {
    count >>>= 0;
    foreigndom >>>= 0;
    // A continuation that only carries the final return value (Xen passes it as foreigndom).
    if (count === MMU_UPDATE_PREEMPTED && array === 0) return { rc: foreigndom | 0, effects: emptyEffects() };
    let done = 0;
    if ((count & MMU_UPDATE_PREEMPTED) !== 0) {
      count &= ~MMU_UPDATE_PREEMPTED;
      if (pdone !== 0) {
        const b = new Uint8Array(4);
        if (mem.read(pdone, b)) done = new DataView(b.buffer).getUint32(0, true);
      }
    }
    // guest_handle_okay: the array must start in the guest's part of the address space.
    if (count !== 0 && !addrOk(array)) return { rc: -XEN_EFAULT, effects: emptyEffects() };
    const r = run(count, foreigndom);
    if (pdone !== 0 && r.writesDone) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, (done + r.done) >>> 0, true);
      mem.write(pdone, b);
    }
    return { rc: r.rc, effects: r.effects };
  }
}

/** Reads one mmu_update request; undefined when unreadable. */
export function readMmuUpdate(mem: GuestMemory, addr: number): MmuUpdateReq | undefined {
  const b = new Uint8Array(16);
  if (!mem.read(addr, b)) return undefined;
  const dv = new DataView(b.buffer);
  return { ptrLo: dv.getUint32(0, true), ptrHi: dv.getUint32(4, true), valLo: dv.getUint32(8, true), valHi: dv.getUint32(12, true) };
}

/** Commands whose arg1 is a linear address rather than an MFN. */
function arg1IsAddress(cmd: number): boolean {
  return cmd === MMUEXT_INVLPG_LOCAL || cmd === MMUEXT_INVLPG_MULTI || cmd === MMUEXT_INVLPG_ALL || cmd === MMUEXT_SET_LDT;
}

/** Reads one PV64 mmuext_op (cmd @0, arg1 @8, arg2 @16) and decodes its arguments for `cmd`. */
export function readMmuextOp(mem: GuestMemory, addr: number): MmuextOp | undefined {
  const b = new Uint8Array(24);
  if (!mem.read(addr, b)) return undefined;
  const dv = new DataView(b.buffer);
  const cmd = dv.getUint32(0, true);
  const a1lo = dv.getUint32(8, true);
  const a1hi = dv.getUint32(12, true);
  const a2lo = dv.getUint32(16, true);
  const a2hi = dv.getUint32(20, true);
  const arg1 = arg1IsAddress(cmd) ? signed64(a1lo, a1hi) : unsigned64(a1lo, a1hi);
  let arg2: number;
  if (cmd === MMUEXT_SET_LDT) arg2 = a2lo;
  else if (cmd === MMUEXT_TLB_FLUSH_MULTI || cmd === MMUEXT_INVLPG_MULTI) arg2 = signed64(a2lo, a2hi);
  else arg2 = unsigned64(a2lo, a2hi);
  return { cmd, arg1, arg2 };
}

/** Convenience for the builder and tests: the request writing `val` to entry `index` of table `mfn`. */
export function ptUpdate(mfn: number, index: number, valLo: number, valHi = 0, cmd = MMU_NORMAL_PT_UPDATE): MmuUpdateReq {
  const addr = mfn * 4096 + index * 8;
  return { ptrLo: ((addr % TWO32) + cmd) >>> 0, ptrHi: Math.floor(addr / TWO32) >>> 0, valLo: valLo >>> 0, valHi: valHi >>> 0 };
}

/** Convenience: the MMU_MACHPHYS_UPDATE request M2P[mfn] := pfn. */
export function machphysUpdate(mfn: number, pfn: number): MmuUpdateReq {
  const addr = mfn * 4096;
  return { ptrLo: ((addr % TWO32) + MMU_MACHPHYS_UPDATE) >>> 0, ptrHi: Math.floor(addr / TWO32) >>> 0, valLo: pfn % TWO32 >>> 0, valHi: Math.floor(pfn / TWO32) >>> 0 };
}

/** An entry value `mfn << 12 | flags` as halves (flags: bits 11:0 only). */
export function pte(mfn: number, flags: number): [number, number] {
  return [(((mfn % 0x100000) * 4096) | flags) >>> 0, Math.floor(mfn / 0x100000) >>> 0];
}
