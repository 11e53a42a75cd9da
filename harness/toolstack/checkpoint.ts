/**
 * Saving a suspended PV domain into a checkpoint stream and restoring one from it, as libxc's
 * save/restore and libxl's toolstack records do (docs/save-restore.md, docs/checkpoint.md):
 *
 *   X86_PV_INFO, X86_PV_P2M_FRAMES, XENLAB_DOMAIN_CONFIG, XENLAB_DOMAIN_STATE, STATIC_DATA_END,
 *   PAGE_DATA ... (1024 pages a record; a migration sends rounds of them),
 *   X86_TSC_INFO, SHARED_INFO, per online vCPU X86_PV_VCPU_BASIC + X86_PV_VCPU_EXTENDED (+ xenlab's
 *   vCPU record), XENLAB_XENSTORE, XENLAB_BACKENDS, END.
 *
 * Canonicalisation (save) and its inverse (restore): page tables (domain-image.ts); in each
 * vCPU context the L4 roots (ctrlreg[3], ctrlreg[1]) and GDT frames; in vCPU 0's RDX, the frame
 * of start_info the guest passed to SHUTDOWN_suspend. On restore, as libxc does, start_info gets
 * the new shared_info address, the XenStore and console frames (the guest left PFNs there before
 * suspending) turned into the new MFNs, and the new XenStore and console event channels;
 * shared_info keeps the saved vcpu_info and arch parts, with every event channel masked and none
 * pending (the guest binds its channels again); the grant table is new, with the toolstack's two
 * reserved entries. Time continues: a host whose clock is behind the saved system time jumps to it.
 */
import type { Domain } from '../../abi/hv/domain.js';
import type { GrantHub } from '../../abi/gnttab/grants.js';
import type { MachineMemory } from '../../abi/hv/machine.js';
import type { PageTypes } from '../../abi/hv/page-types.js';
import type { Xen } from '../../abi/hv/xen.js';
import { getVcpuContext, getVcpuExtended, getVcpuXenlab, setVcpuContext, setVcpuExtended, setVcpuXenlab, VCPU_CONTEXT_SIZE } from '../../abi/hypercall/vcpu-context.js';
import { layout } from '../../abi/public/index.js';
import { pvGrantMapperOf } from '../../abi/pv/grant-mapping.js';
import { MMUEXT_PIN_L1_TABLE, MMUEXT_PIN_L2_TABLE, MMUEXT_PIN_L3_TABLE, MMUEXT_PIN_L4_TABLE } from '../../abi/public/xen.js';
import { DomainTime } from '../../abi/time/timers.js';
import { TSC_HZ } from '../../abi/time/clock.js';
import { createPvDomain, seedGrantTable } from '../builder/pv64.js';
import { UserError } from '../errors.js';
import type { DomainConfig } from './xl-cfg.js';
import { CheckpointWriter, DOMAIN_TYPE_X86_PV, decodePageData, encodePageData, parseCheckpoint, REC, recordName, type StreamRecord } from './checkpoint-stream.js';
import { DomainImageReader, DomainImageWriter, readGuestP2m, SaveError } from './domain-image.js';
import type { XenStore } from '../xenstore/host.js';

const PAGE = 4096;
/** Pages per PAGE_DATA record (libxc's batch size). */
export const PAGES_PER_RECORD = 1024;

const SI = layout('shared_info', 'x86_64');
const START = layout('start_info', 'x86_64');
const CTX = layout('vcpu_guest_context', 'x86_64');

function offsetIn(l: typeof SI | typeof START | typeof CTX, path: string): number {
  const f = l.find(path);
  if (f === undefined) throw new Error(`checkpoint: no field ${path}`);
  return f.offset;
}

const SI_VCPU_INFO = offsetIn(SI, 'vcpu_info');
const SI_PENDING = offsetIn(SI, 'evtchn_pending');
const SI_MASK = offsetIn(SI, 'evtchn_mask');
const SI_ARCH = offsetIn(SI, 'arch');
const SI_MAX_PFN = offsetIn(SI, 'arch.max_pfn');
const SI_P2M_CR3 = offsetIn(SI, 'arch.p2m_cr3');
const SI_P2M_VADDR = offsetIn(SI, 'arch.p2m_vaddr');
const VCPU_INFO_SIZE = 64;
/** evtchn_pending_sel within vcpu_info (x86_64: after the two flag bytes and padding). */
const VI_PENDING_SEL = 8;

const ST_SHARED_INFO = offsetIn(START, 'shared_info');
const ST_STORE_MFN = offsetIn(START, 'store_mfn');
const ST_STORE_EVTCHN = offsetIn(START, 'store_evtchn');
const ST_CONSOLE_MFN = offsetIn(START, 'console.domU.mfn');
const ST_CONSOLE_EVTCHN = offsetIn(START, 'console.domU.evtchn');

const CTX_CR1 = offsetIn(CTX, 'ctrlreg') + 8;
const CTX_CR3 = offsetIn(CTX, 'ctrlreg') + 24;
const CTX_GDT_FRAMES = offsetIn(CTX, 'gdt_frames');
const CTX_GDT_ENTS = offsetIn(CTX, 'gdt_ents');
const CTX_RDX = offsetIn(CTX, 'user_regs.rdx');
const CTX_VM_ASSIST = offsetIn(CTX, 'vm_assist');
const GDT_FRAMES = 16;
const DESCS_PER_FRAME = 512;

const u64 = (v: DataView, at: number): number => v.getUint32(at + 4, true) * 2 ** 32 + v.getUint32(at, true);
const s64 = (v: DataView, at: number): number => v.getInt32(at + 4, true) * 2 ** 32 + v.getUint32(at, true);
const put64 = (v: DataView, at: number, x: number): void => {
  v.setUint32(at, ((x % 2 ** 32) + 2 ** 32) % 2 ** 32, true);
  v.setInt32(at + 4, Math.floor(x / 2 ** 32) | 0, true);
};
const json = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));

/** A node of the domain's XenStore subtree as saved (path relative to /local/domain/N). */
export interface SavedNode {
  readonly path: string;
  readonly value: string;
}

/** Hypervisor state of the domain that Xen's records leave to Xen (XENLAB_DOMAIN_STATE). */
interface DomainState {
  readonly name: string;
  readonly domid: number;
  readonly uuid: string;
  readonly maxVcpus: number;
  readonly maxPages: number;
  readonly shutdownCode: number;
  readonly features: number;
}

export interface SaveContext {
  readonly machine: MachineMemory;
  readonly xen: Xen;
  readonly domain: Domain;
  readonly config: DomainConfig;
  /** The run's XenStore, for the domain's subtree (libxl's toolstack record). */
  readonly xenstore?: XenStore;
  /** Backend state (JSON-able), e.g. disk overlays. */
  readonly backends?: unknown;
}

/** A save in progress: the stream's first records are written at construction. */
export class DomainSaver {
  readonly w: CheckpointWriter;
  readonly image: DomainImageReader;
  private readonly si: DataView;

  /** Throws SaveError when the guest's p2m cannot be read. */
  constructor(readonly c: SaveContext) {
    const d = c.domain;
    const si = d.memory?.sharedInfo;
    if (si === undefined) throw new Error(`checkpoint: domain ${d.id} has no shared_info`);
    this.si = si;
    const p2m = readGuestP2m(c.machine, d.id, {
      maxPfn: u64(si, SI_MAX_PFN),
      cr3Mfn: Math.floor(u64(si, SI_P2M_CR3) / PAGE),
      vaddr: s64(si, SI_P2M_VADDR),
    });
    this.image = new DomainImageReader(c.machine, d.id, p2m);
    this.w = new CheckpointWriter({ type: DOMAIN_TYPE_X86_PV, pageShift: 12, xenMajor: 4, xenMinor: 17 });
    const info = new Uint8Array(8);
    info[0] = 8; // guest width
    info[1] = 4; // page-table levels
    this.w.record(REC.X86_PV_INFO, info);
    const frames = new Uint8Array(8 + p2m.framePfns.length * 8);
    const fv = new DataView(frames.buffer);
    fv.setUint32(0, 0, true);
    fv.setUint32(4, p2m.size - 1, true);
    p2m.framePfns.forEach((pfn, k) => put64(fv, 8 + k * 8, pfn));
    this.w.record(REC.X86_PV_P2M_FRAMES, frames);
    this.w.record(REC.XENLAB_DOMAIN_CONFIG, json(c.config));
    const state: DomainState = {
      name: d.name,
      domid: d.id,
      uuid: Buffer.from(d.uuid).toString('hex'),
      maxVcpus: d.maxVcpus,
      maxPages: d.memory?.maxPages ?? 0,
      shutdownCode: d.shutdownCode,
      features: d.features,
    };
    this.w.record(REC.XENLAB_DOMAIN_STATE, json(state));
    this.w.record(REC.STATIC_DATA_END, new Uint8Array(0));
  }

  /** Every PFN of the guest's p2m, in order. */
  allPfns(): number[] {
    return Array.from({ length: this.image.p2m.size }, (_, k) => k);
  }

  /**
   * Sends `pfns` as PAGE_DATA records; returns the framed bytes and, with `live`, the PFNs whose
   * tables could not be canonicalised now (to send again in the last round).
   */
  sendPages(pfns: readonly number[], live = false): { bytes: Uint8Array[]; retry: number[] } {
    const bytes: Uint8Array[] = [];
    const retry: number[] = [];
    for (let at = 0; at < pfns.length; at += PAGES_PER_RECORD) {
      const r = this.image.pages(pfns.slice(at, at + PAGES_PER_RECORD), live);
      retry.push(...r.retry);
      if (r.entries.length !== 0) bytes.push(this.w.record(REC.PAGE_DATA, encodePageData(r.entries)));
    }
    return { bytes, retry };
  }

  /**
   * The end of the stream, with the domain suspended: TSC info, shared_info, the vCPUs, the
   * XenStore subtree and the backends, END. Throws SaveError for a domain not suspended or a
   * context whose frames are not the domain's.
   */
  finish(): Uint8Array[] {
    const { domain: d, xen } = this.c;
    if (!d.suspended) throw new SaveError(`domain ${d.id} (${d.name}) is not suspended`);
    const out: Uint8Array[] = [];
    const tsc = new Uint8Array(24);
    const tv = new DataView(tsc.buffer);
    tv.setUint32(0, 0, true); // TSC_MODE_DEFAULT
    tv.setUint32(4, Math.round(TSC_HZ / 1000), true);
    put64(tv, 8, xen.clock.now());
    out.push(this.w.record(REC.X86_TSC_INFO, tsc));
    out.push(this.w.record(REC.SHARED_INFO, new Uint8Array(this.si.buffer, this.si.byteOffset, PAGE).slice()));
    for (let id = 0; id < d.maxVcpus; id++) {
      const v = d.vcpus[id];
      if (v === undefined || d.time?.vcpu(id).up !== true) continue;
      const ctx = getVcpuContext(d, v);
      this.canonicaliseContext(id, ctx);
      out.push(this.w.record(REC.X86_PV_VCPU_BASIC, withVcpuId(id, ctx)));
      out.push(this.w.record(REC.X86_PV_VCPU_EXTENDED, withVcpuId(id, getVcpuExtended(v))));
      out.push(this.w.record(REC.XENLAB_VCPU, withVcpuId(id, getVcpuXenlab(v))));
    }
    const xs = this.c.xenstore;
    if (xs !== undefined) out.push(this.w.record(REC.XENLAB_XENSTORE, json(subtree(xs, `/local/domain/${d.id}`))));
    out.push(this.w.record(REC.XENLAB_BACKENDS, json(this.c.backends ?? {})));
    out.push(this.w.end());
    return out;
  }

  private canonicaliseContext(id: number, ctx: Uint8Array): void {
    const v = new DataView(ctx.buffer, ctx.byteOffset, ctx.byteLength);
    const pfnOf = (mfn: number, what: string): number => {
      const pfn = this.image.pfnOf(mfn);
      if (pfn === undefined) throw new SaveError(`vCPU ${id}: ${what} is machine frame 0x${mfn.toString(16)}, not a page of the domain`);
      return pfn;
    };
    put64(v, CTX_CR3, pfnOf(Math.floor(u64(v, CTX_CR3) / PAGE), 'the kernel L4 (ctrlreg[3])') * PAGE);
    const cr1 = Math.floor(u64(v, CTX_CR1) / PAGE);
    if (cr1 !== 0) put64(v, CTX_CR1, pfnOf(cr1, 'the user L4 (ctrlreg[1])') * PAGE);
    const frames = Math.ceil(u64(v, CTX_GDT_ENTS) / DESCS_PER_FRAME);
    for (let k = 0; k < frames && k < GDT_FRAMES; k++) put64(v, CTX_GDT_FRAMES + 8 * k, pfnOf(u64(v, CTX_GDT_FRAMES + 8 * k), `GDT frame ${k}`));
    // vCPU 0 stopped in SHUTDOWN_suspend with start_info's frame in RDX (libxc: "the suspend record").
    if (id === 0) put64(v, CTX_RDX, pfnOf(u64(v, CTX_RDX), "start_info (RDX of the suspend hypercall)"));
  }
}

function withVcpuId(id: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setUint32(0, id, true);
  out.set(body, 8);
  return out;
}

function subtree(xs: XenStore, root: string): SavedNode[] {
  const out: SavedNode[] = [];
  const walk = (path: string): void => {
    const v = xs.host.read(path);
    out.push({ path: path.slice(root.length) || '/', value: v ?? '' });
    for (const c of xs.host.directory(path) ?? []) walk(`${path}/${c}`);
  };
  walk(root);
  return out;
}

/** Saves a suspended domain: the whole checkpoint stream. Throws SaveError. */
export function saveDomain(c: SaveContext): Uint8Array {
  const s = new DomainSaver(c);
  s.sendPages(s.allPfns());
  s.finish();
  return s.w.toBytes();
}

// ---- restore --------------------------------------------------------------------------------------

export interface RestoreHost {
  readonly xen: Xen;
  readonly machine: MachineMemory;
  readonly types: PageTypes;
  readonly grants: GrantHub;
  readonly strict?: boolean;
}

export interface RestoredDomain {
  readonly domain: Domain;
  readonly config: DomainConfig;
  /** The saved domain's XenStore subtree (paths relative to its /local/domain/N). */
  readonly xenstore: readonly SavedNode[];
  readonly backends: unknown;
  readonly storeMfn: number;
  readonly consoleMfn: number;
  readonly storeEvtchn: number;
  readonly consoleEvtchn: number;
  /** PFN → new MFN. */
  readonly p2m: readonly number[];
  /** Guest time (ns) at the save. */
  readonly savedAtNs: number;
}

/**
 * Incremental restore: records as they arrive (a file's, or a migration's). `finish` builds the
 * domain once END has been read. Every problem is a UserError naming `source`; nothing is left
 * allocated on the host when one is raised.
 */
export class DomainRestorer {
  private image: DomainImageWriter | undefined;
  private config: DomainConfig | undefined;
  private state: DomainState | undefined;
  private p2mFrames: { size: number; framePfns: number[] } | undefined;
  private tscNs = 0;
  private sharedInfo: Uint8Array | undefined;
  private readonly vcpus = new Map<number, { basic?: Uint8Array; extended?: Uint8Array; xenlab?: Uint8Array }>();
  private xenstore: SavedNode[] = [];
  private backends: unknown = {};
  private ended = false;
  pagesReceived = 0;

  constructor(private readonly source: string) {}

  private fail(r: StreamRecord | undefined, problem: string): never {
    const where = r === undefined ? '' : `${recordName(r.type)} record at offset ${r.offset}: `;
    throw new UserError('bad-file', `${this.source}: ${where}${problem}`);
  }

  private parseJson(r: StreamRecord): unknown {
    try {
      return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(r.body));
    } catch {
      return this.fail(r, 'not valid JSON');
    }
  }

  /** The domain's configuration (XENLAB_DOMAIN_CONFIG); a UserError before that record has been read. */
  get domainConfig(): DomainConfig {
    return this.config ?? this.fail(undefined, 'no XENLAB_DOMAIN_CONFIG record');
  }

  /** The stream reader has checked the END record (its digest): the records are complete. */
  complete(): void {
    this.ended = true;
  }

  add(r: StreamRecord): void {
    if (this.ended) this.fail(r, 'a record after END');
    const body = r.body;
    const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
    switch (r.type) {
      case REC.X86_PV_INFO:
        if (body.length !== 8 || body[0] !== 8 || body[1] !== 4) this.fail(r, 'not a 64-bit guest with 4-level page tables');
        return;
      case REC.X86_PV_P2M_FRAMES: {
        if (body.length < 16 || body.length % 8 !== 0) this.fail(r, `${body.length} bytes`);
        const start = dv.getUint32(0, true);
        const end = dv.getUint32(4, true);
        const n = (body.length - 8) / 8;
        if (start !== 0 || end + 1 > n * 512 || end + 1 <= (n - 1) * 512) this.fail(r, `pfns ${start}-${end} do not match ${n} frames`);
        const framePfns: number[] = [];
        for (let k = 0; k < n; k++) framePfns.push(u64(dv, 8 + k * 8));
        this.p2mFrames = { size: end + 1, framePfns };
        return;
      }
      case REC.XENLAB_DOMAIN_CONFIG:
        this.config = checkConfig(this.parseJson(r), (p) => this.fail(r, p));
        return;
      case REC.XENLAB_DOMAIN_STATE:
        this.state = checkState(this.parseJson(r), (p) => this.fail(r, p));
        return;
      case REC.STATIC_DATA_END:
        if (this.config === undefined || this.state === undefined || this.p2mFrames === undefined) this.fail(r, 'the domain configuration, state or p2m frames came not before it');
        this.image = new DomainImageWriter(this.config.maxmem * 256);
        return;
      case REC.PAGE_DATA: {
        if (this.image === undefined) this.fail(r, 'page data before STATIC_DATA_END');
        const entries = decodePageData(body, (p) => this.fail(r, p));
        const problem = this.image.add(entries);
        if (problem !== undefined) this.fail(r, problem);
        this.pagesReceived += entries.length;
        return;
      }
      case REC.X86_TSC_INFO:
        if (body.length !== 24) this.fail(r, `${body.length} bytes (24 expected)`);
        this.tscNs = u64(dv, 8);
        return;
      case REC.SHARED_INFO:
        if (body.length !== PAGE) this.fail(r, `${body.length} bytes (4096 expected)`);
        this.sharedInfo = body;
        return;
      case REC.X86_PV_VCPU_BASIC:
      case REC.X86_PV_VCPU_EXTENDED:
      case REC.XENLAB_VCPU: {
        if (body.length < 8) this.fail(r, 'no vCPU id');
        const id = dv.getUint32(0, true);
        const max = this.state?.maxVcpus ?? 0;
        if (id >= max) this.fail(r, `vCPU ${id}, but the domain has ${max}`);
        const e = this.vcpus.get(id) ?? {};
        const b = body.slice(8);
        if (r.type === REC.X86_PV_VCPU_BASIC) {
          if (b.length !== VCPU_CONTEXT_SIZE) this.fail(r, `a context of ${b.length} bytes (${VCPU_CONTEXT_SIZE} expected)`);
          e.basic = b;
        } else if (r.type === REC.X86_PV_VCPU_EXTENDED) e.extended = b;
        else e.xenlab = b;
        this.vcpus.set(id, e);
        return;
      }
      case REC.XENLAB_XENSTORE: {
        const nodes = this.parseJson(r);
        if (!Array.isArray(nodes) || !nodes.every((n) => typeof n?.path === 'string' && typeof n?.value === 'string')) this.fail(r, 'not a list of nodes');
        this.xenstore = nodes as SavedNode[];
        return;
      }
      case REC.XENLAB_BACKENDS:
        this.backends = this.parseJson(r);
        return;
      case REC.END:
        this.ended = true;
        return;
      default:
        // The stream reader has refused unknown mandatory types; optional ones are skipped.
        return;
    }
  }

  /** Builds the domain as `domid` on `host`; the guest resumes from its suspend hypercall with 0. */
  finish(host: RestoreHost, domid: number): RestoredDomain {
    const cfg = this.config;
    const st = this.state;
    const image = this.image;
    const frames = this.p2mFrames;
    if (!this.ended) this.fail(undefined, 'the stream has no END record');
    if (cfg === undefined || st === undefined || image === undefined || frames === undefined) this.fail(undefined, 'the domain configuration, state or p2m frames are missing');
    if (this.sharedInfo === undefined) this.fail(undefined, 'no SHARED_INFO record');
    const v0 = this.vcpus.get(0)?.basic;
    if (v0 === undefined) this.fail(undefined, 'no context for vCPU 0');
    const { xen, machine } = host;

    const shell = createPvDomain({
      xen,
      machine,
      types: host.types,
      grants: host.grants,
      domid,
      name: cfg.name,
      memMiB: cfg.memory,
      maxMemMiB: cfg.maxmem,
      maxVcpus: cfg.maxvcpus,
      strict: host.strict === true,
    });
    const d = shell.domain;
    const undo = (why: string): never => {
      destroyDomain(host, d);
      return this.fail(undefined, why);
    };
    const built = image.build(machine, domid, frames);
    if (typeof built === 'string') return undo(built);
    const p2m = built.p2m;
    d.p2m = Array.from(p2m);
    d.shutdownCode = st.shutdownCode;
    d.uuid = Uint8Array.from(Buffer.from(st.uuid, 'hex'));
    if (d.memory !== undefined && st.maxPages > d.memory.maxPages) d.memory.maxPages = st.maxPages;
    const mmu = d.mmu;
    if (mmu === undefined) throw new Error('restore: the domain has no PV MMU');
    // The domain's vm_assist (vCPU 0's context carries it) applies when the tables validate:
    // m2p_strict decides whether an L4 gets the read-only M2P when it is validated.
    const ctx0v = new DataView(v0.buffer, v0.byteOffset, v0.byteLength);
    d.vmAssist = (ctx0v.getUint32(CTX_VM_ASSIST, true) & 0x3f) | (ctx0v.getUint32(CTX_VM_ASSIST + 4, true) & 1 ? 1 << 31 : 0);
    const PIN = [0, MMUEXT_PIN_L1_TABLE, MMUEXT_PIN_L2_TABLE, MMUEXT_PIN_L3_TABLE, MMUEXT_PIN_L4_TABLE];
    for (const p of built.pins) {
      const rc = mmu.mmuextOp(0, [{ cmd: PIN[p.level] as number, arg1: p.mfn, arg2: 0 }]).rc;
      if (rc !== 0) undo(`pfn 0x${machine.m2pGet(p.mfn).toString(16)} does not validate as a pinned L${p.level} table here (${rc})`);
    }

    // shared_info: the saved vcpu_info and arch parts; events all masked, none pending.
    const si = shell.sharedInfo;
    const saved = this.sharedInfo;
    const siBytes = new Uint8Array(si.buffer, si.byteOffset, PAGE);
    siBytes.set(saved.subarray(SI_VCPU_INFO, SI_VCPU_INFO + 32 * VCPU_INFO_SIZE), SI_VCPU_INFO);
    siBytes.set(saved.subarray(SI_ARCH, PAGE), SI_ARCH);
    siBytes.fill(0, SI_PENDING, SI_MASK);
    siBytes.fill(0xff, SI_MASK, SI_MASK + (SI_MASK - SI_PENDING));
    for (let k = 0; k < 32; k++) put64(si, SI_VCPU_INFO + k * VCPU_INFO_SIZE + VI_PENDING_SEL, 0);

    // start_info, found through vCPU 0's RDX.
    const mfnOfPfn = (pfn: number, what: string): number => {
      const mfn = pfn < p2m.length ? (p2m[pfn] as number) : -1;
      if (!Number.isInteger(mfn) || mfn < 0) undo(`${what} is pfn 0x${pfn.toString(16)}, which the image does not have`);
      return mfn;
    };
    const ctx0 = new DataView(v0.buffer, v0.byteOffset, v0.byteLength);
    const startMfn = mfnOfPfn(u64(ctx0, CTX_RDX), 'start_info (vCPU 0 RDX)');
    const sv = machine.view(startMfn);
    const storeMfn = mfnOfPfn(u64(sv, ST_STORE_MFN), "start_info's store_mfn");
    const consoleMfn = mfnOfPfn(u64(sv, ST_CONSOLE_MFN), "start_info's console mfn");
    put64(sv, ST_SHARED_INFO, shell.sharedInfoMfn * PAGE);
    put64(sv, ST_STORE_MFN, storeMfn);
    sv.setUint32(ST_STORE_EVTCHN, shell.storeEvtchn, true);
    put64(sv, ST_CONSOLE_MFN, consoleMfn);
    sv.setUint32(ST_CONSOLE_EVTCHN, shell.consoleEvtchn, true);
    seedGrantTable(d, consoleMfn, storeMfn);

    // Time continues from the save.
    if (xen.clock.now() < this.tscNs) xen.clock.skipTo(this.tscNs);
    d.time = new DomainTime(d, xen);
    for (const [id, e] of [...this.vcpus.entries()].sort((a, b) => a[0] - b[0])) {
      const basic = e.basic ?? undo(`vCPU ${id} has no X86_PV_VCPU_BASIC record`);
      const ctx = basic.slice();
      const cv = new DataView(ctx.buffer);
      put64(cv, CTX_CR3, mfnOfPfn(Math.floor(u64(cv, CTX_CR3) / PAGE), `vCPU ${id}'s kernel L4`) * PAGE);
      const cr1 = Math.floor(u64(cv, CTX_CR1) / PAGE);
      if (cr1 !== 0) put64(cv, CTX_CR1, mfnOfPfn(cr1, `vCPU ${id}'s user L4`) * PAGE);
      const nf = Math.min(GDT_FRAMES, Math.ceil(u64(cv, CTX_GDT_ENTS) / DESCS_PER_FRAME));
      for (let k = 0; k < nf; k++) put64(cv, CTX_GDT_FRAMES + 8 * k, mfnOfPfn(u64(cv, CTX_GDT_FRAMES + 8 * k), `vCPU ${id}'s GDT frame ${k}`));
      if (id === 0) put64(cv, CTX_RDX, startMfn);
      const rc = setVcpuContext(d, id, ctx);
      if (rc !== 0) undo(`vCPU ${id}'s context is refused (${rc})`);
      if (e.extended !== undefined) {
        const ext = e.extended.slice();
        new DataView(ext.buffer).setUint32(0, id, true);
        const rcx = setVcpuExtended(d, ext);
        if (rcx !== 0) undo(`vCPU ${id}'s extended context is refused (${rcx})`);
      }
      const v = d.vcpus[id];
      if (e.xenlab !== undefined && v !== undefined) {
        const rcl = setVcpuXenlab(v, e.xenlab);
        if (rcl !== 0) undo(`vCPU ${id}'s xenlab record is refused (${rcl})`);
      }
    }
    return {
      domain: d,
      config: cfg,
      xenstore: this.xenstore,
      backends: this.backends,
      storeMfn,
      consoleMfn,
      storeEvtchn: shell.storeEvtchn,
      consoleEvtchn: shell.consoleEvtchn,
      p2m: d.p2m,
      savedAtNs: this.tscNs,
    };
  }
}

/** A whole checkpoint file's records, checked, in a restorer ready to `finish`. */
export function readCheckpoint(bytes: Uint8Array, source: string): DomainRestorer {
  const { records } = parseCheckpoint(bytes, source);
  const r = new DomainRestorer(source);
  for (const rec of records) r.add(rec);
  r.complete();
  return r;
}

/**
 * Tears a domain down on its host (Xen's domain_destroy, as far as a run needs it): its event
 * channels, grant table and vCPUs go, and every frame it owns returns to the free list.
 */
export function destroyDomain(host: RestoreHost, d: Domain): void {
  host.grants.remove(d.id);
  pvGrantMapperOf(host.grants).remove(d.id);
  host.xen.destroy(d);
  host.machine.reclaim(d.id);
}

function checkConfig(o: unknown, fail: (p: string) => never): DomainConfig {
  const c = o as Record<string, unknown>;
  if (typeof c !== 'object' || c === null) fail('not an object');
  for (const k of ['name', 'kernel', 'cmdline', 'file']) if (typeof c[k] !== 'string') fail(`"${k}" is not a string`);
  for (const k of ['memory', 'maxmem', 'vcpus', 'maxvcpus']) {
    const n = c[k];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 16384) fail(`"${k}" is not a positive integer`);
  }
  if ((c.maxmem as number) < (c.memory as number) || (c.maxvcpus as number) < (c.vcpus as number) || (c.maxvcpus as number) > 128) fail('maxmem or maxvcpus below memory or vcpus');
  if (c.type !== 'pv') fail('not a PV domain');
  for (const k of ['disk', 'disks', 'vif', 'vifs', 'other', 'warnings']) if (!Array.isArray(c[k])) fail(`"${k}" is not a list`);
  return c as unknown as DomainConfig;
}

function checkState(o: unknown, fail: (p: string) => never): DomainState {
  const s = o as Record<string, unknown>;
  if (typeof s !== 'object' || s === null) fail('not an object');
  if (typeof s.name !== 'string' || typeof s.uuid !== 'string' || !/^[0-9a-f]{32}$/.test(s.uuid)) fail('name or uuid missing');
  for (const k of ['domid', 'maxVcpus', 'maxPages', 'shutdownCode', 'features']) {
    const n = s[k];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 2 ** 32) fail(`"${k}" is not a number`);
  }
  if ((s.maxVcpus as number) < 1 || (s.maxVcpus as number) > 128) fail('maxVcpus out of range');
  return s as unknown as DomainState;
}

