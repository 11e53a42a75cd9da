/**
 * The PV64 domain builder, as libxenguest builds a domU (reference §1.6-1.10): memory
 * populated from the machine pool (a seeded shuffle, so PFN ≠ MFN), the boot region at
 * virt_base (kernel, p2m list, start_info, xenstore and console pages, the initial page tables,
 * the boot stack, padding to a 4 MiB boundary), the ramdisk unmapped after it when the kernel
 * takes MOD_START_PFN, the tables pinned as an L4, shared_info with every vCPU's events masked,
 * the hypercall page when the kernel asks for one, the two event channels of the console and
 * XenStore, and vCPU 0's registers.
 *
 * Simplification (documented in docs/domain-builder.md): the p2m list always goes into the boot
 * region (step d), as libxenguest does when INIT_P2M is absent or unusable; Linux accepts both.
 */
import { GrantHub } from '../../abi/gnttab/grants.js';
import { Domain } from '../../abi/hv/domain.js';
import type { MachineMemory } from '../../abi/hv/machine.js';
import type { PageTypes } from '../../abi/hv/page-types.js';
import { DomainMemory, E820_RAM } from '../../abi/hypercall/memory.js';
import { Xen } from '../../abi/hv/xen.js';
import { View } from '../../abi/layout/view.js';
import { GNTTAB_RESERVED_CONSOLE, GNTTAB_RESERVED_XENSTORE, GTF_permit_access } from '../../abi/public/grant-table.js';
import { layout } from '../../abi/public/index.js';
import { MMUEXT_PIN_L4_TABLE, SIF_MOD_START_PFN, SIF_VIRT_P2M_4TOOLS } from '../../abi/public/xen.js';
import { pvGrantMapperOf } from '../../abi/pv/grant-mapping.js';
import { PvMmu } from '../../abi/pv/mmu.js';
import { PvVcpu, type VcpuInfoRef } from '../../abi/pv/vcpu.js';
import type { Feature } from '../../x86/isa/types.js';
import { UserError } from '../errors.js';
import type { KernelImage } from './image.js';

const PAGE = 4096;
const MiB = 1 << 20;
/**
 * XENFEAT bits offered to a PV64 domU: mmu_pt_update_preserve_ad (5), gnttab_map_avail_bits (7),
 * direct_mapped (17). Linux PV refuses to boot without 5 and 7 (it panics in xen_start_kernel).
 */
export const PV64_FEATURES = (1 << 5) | (1 << 7) | (1 << 17);

export interface Pv64BuildOptions {
  readonly xen: Xen;
  readonly machine: MachineMemory;
  readonly types: PageTypes;
  readonly image: KernelImage;
  readonly domid: number;
  readonly name: string;
  readonly memMiB: number;
  readonly cmdline: string;
  readonly ramdisk?: Uint8Array;
  readonly features: ReadonlySet<Feature>;
  /** The machine's grant tables (one hub per machine: pass the same one for every domain built on it). */
  readonly grants?: GrantHub;
  /** xl.cfg maxmem: MiB the E820 (the memory map) reaches, for ballooning; default `memMiB`. */
  readonly maxMemMiB?: number;
  /** xl.cfg maxvcpus: vCPU ids that exist for VCPUOP_* (only vCPU 0 is started); default 1. */
  readonly maxVcpus?: number;
  /** `--strict`: the PV MMU collects suspicious-but-accepted observations (`PvMmu.diagnostics`). */
  readonly strict?: boolean;
}

export interface Pv64Layout {
  readonly virtBase: number;
  readonly nrPages: number;
  readonly startInfoPfn: number;
  readonly storePfn: number;
  readonly consolePfn: number;
  readonly p2mPfn: number;
  readonly ptPfn: number;
  readonly nrPtFrames: number;
  readonly stackPfn: number;
  readonly regionEndPfn: number;
  readonly modPfn: number;
  readonly sharedInfoMfn: number;
  readonly storeEvtchn: number;
  readonly consoleEvtchn: number;
}

export interface Pv64Domain {
  readonly domain: Domain;
  readonly vcpu: PvVcpu;
  readonly layout: Pv64Layout;
  /** The P2M: pfn → mfn. */
  readonly p2m: readonly number[];
}

/** Page-table pages needed to map `pages` pages from `va` with 4 KiB entries (L4 + L3s + L2s + L1s). */
function tablesFor(va: number, pages: number): number {
  const end = va + pages * PAGE;
  const span = (shift: number): number => Math.floor((end - 1) / 2 ** shift) - Math.floor(va / 2 ** shift) + 1;
  return 1 + span(39) + span(30) + span(21);
}

export function buildPv64(o: Pv64BuildOptions): Pv64Domain {
  const img = o.image;
  const bad = (why: string): never => {
    throw new UserError('bad-file', `${img.file}: ${why}`);
  };
  const tooSmall = (why: string): never => {
    throw new UserError('bad-option', `${img.file}: ${why}`);
  };
  const internal = (why: string): never => {
    throw new Error(`domain builder: ${why}`);
  };
  if (img.guestType !== 'xen-3.0-x86_64') bad(`a ${img.guestType} kernel cannot be built as a 64-bit PV domain`);
  const nrPages = o.memMiB * 256;
  const virtBase = Number(BigInt.asIntN(64, img.virtBase));
  const kstart = Number(BigInt.asIntN(64, img.virtKstart));
  const kend = Number(BigInt.asIntN(64, img.virtKend));
  const kernelEndPfn = Math.ceil((kend - virtBase) / PAGE);

  // Boot-region layout (bump allocator in PFNs from virt_base).
  let next = kernelEndPfn;
  const modInRegion = o.ramdisk !== undefined && !img.unmappedInitrd;
  const modPagesCount = o.ramdisk === undefined ? 0 : Math.ceil(o.ramdisk.length / PAGE);
  let modPfn = 0;
  if (modInRegion) {
    modPfn = next;
    next += modPagesCount;
  }
  const p2mPfn = next;
  next += Math.ceil((nrPages * 8) / PAGE);
  const startInfoPfn = next++;
  const storePfn = next++;
  const consolePfn = next++;
  const ptPfn = next;
  // Size the region iteratively: tables, one stack page and at least 128 pages of padding,
  // rounded up to 4 MiB.
  let nrPt = 1;
  let regionEnd = 0;
  for (;;) {
    regionEnd = Math.ceil(((ptPfn + nrPt + 1 + 128) * PAGE) / (4 * MiB)) * ((4 * MiB) / PAGE);
    const need = tablesFor(virtBase, regionEnd);
    if (need <= nrPt) break;
    nrPt = need;
  }
  const stackPfn = ptPfn + nrPt;
  if (!modInRegion && o.ramdisk !== undefined) modPfn = regionEnd;
  const lastPfn = (modInRegion ? regionEnd : regionEnd + modPagesCount) - 1;
  if (lastPfn >= nrPages) tooSmall(`needs ${Math.ceil(((lastPfn + 1) * PAGE) / MiB)} MiB for the kernel, ramdisk and boot region; memory is ${o.memMiB} MiB`);
  if (Math.floor((kstart - virtBase) / PAGE) < 0) bad('virt_kstart lies below virt_base');

  // Memory.
  const p2m = o.machine.allocDomainMemory(o.domid, nrPages) ?? tooSmall(`the machine has no room for ${o.memMiB} MiB`);
  const frame = (pfn: number): DataView => o.machine.view(p2m[pfn] as number);
  const writeBytes = (pfn: number, off: number, data: Uint8Array): void => {
    let done = 0;
    while (done < data.length) {
      const p = pfn + Math.floor((off + done) / PAGE);
      const at = (off + done) % PAGE;
      const n = Math.min(PAGE - at, data.length - done);
      const f = frame(p);
      new Uint8Array(f.buffer, f.byteOffset + at, n).set(data.subarray(done, done + n));
      done += n;
    }
  };
  for (const s of img.segments) {
    const at = Number(BigInt.asIntN(64, s.loadAddress)) - virtBase;
    writeBytes(Math.floor(at / PAGE), at % PAGE, s.data); // the rest of memsz is zero already
  }
  if (o.ramdisk !== undefined) writeBytes(modPfn, 0, o.ramdisk);
  // The p2m list: MFN per PFN.
  for (let pfn = 0; pfn < nrPages; pfn++) {
    const at = pfn * 8;
    const f = frame(p2mPfn + Math.floor(at / PAGE));
    f.setUint32(at % PAGE, p2m[pfn] as number, true);
    f.setUint32((at % PAGE) + 4, 0, true);
  }

  // Initial page tables: L4, L3s, L2s, L1s in that order, mapping [virt_base, region end).
  const ptPages: number[] = [];
  for (let k = 0; k < nrPt; k++) ptPages.push(ptPfn + k);
  const isPt = new Set(ptPages);
  let alloc = 1;
  const tableAt = new Map<string, number>();
  const table = (level: number, index: number): number => {
    const key = `${level}:${index}`;
    let pfn = tableAt.get(key);
    if (pfn === undefined) {
      pfn = ptPfn + alloc++;
      tableAt.set(key, pfn);
    }
    return pfn;
  };
  const put = (tablePfn: number, slot: number, targetPfn: number, flags: number): void => {
    const mfn = p2m[targetPfn] as number;
    const f = frame(tablePfn);
    f.setUint32(slot * 8, ((mfn * PAGE) % 2 ** 32) + flags, true);
    f.setUint32(slot * 8 + 4, Math.floor((mfn * PAGE) / 2 ** 32), true);
  };
  const l4Pfn = ptPfn;
  for (let pfn = 0; pfn < regionEnd; pfn++) {
    const va = virtBase + pfn * PAGE;
    const u = va < 0 ? va + 2 ** 48 : va;
    const i4 = Math.floor(u / 2 ** 39) % 512;
    const i3 = Math.floor(u / 2 ** 30) % 512;
    const i2 = Math.floor(u / 2 ** 21) % 512;
    const i1 = Math.floor(u / PAGE) % 512;
    const l3 = table(3, Math.floor(u / 2 ** 39));
    const l2 = table(2, Math.floor(u / 2 ** 30));
    const l1 = table(1, Math.floor(u / 2 ** 21));
    put(l4Pfn, i4, l3, 0x67);
    put(l3, i3, l2, 0x67);
    put(l2, i2, l1, 0x67);
    put(l1, i1, pfn, isPt.has(pfn) ? 0x21 : 0x23);
  }
  if (alloc !== nrPt) internal(`${alloc} page-table pages used, ${nrPt} reserved`);

  // The domain in the hypervisor.
  const shell = createPvDomain({ ...o, maxMemMiB: o.maxMemMiB });
  const { domain: d, sharedInfo: si, sharedInfoMfn: siMfn, storeEvtchn, consoleEvtchn } = shell;
  d.p2m = p2m;
  const mmu = d.mmu as PvMmu;
  const pin = mmu.mmuextOp(0, [{ cmd: MMUEXT_PIN_L4_TABLE, arg1: p2m[l4Pfn] as number, arg2: 0 }]);
  if (pin.rc !== 0) internal(`the initial page tables do not validate (${pin.rc})`);
  const rc = mmu.setBaseptrs(0, p2m[l4Pfn] as number, 0);
  if (rc !== 0) internal(`the initial L4 cannot be the base pointer (${rc})`);
  seedGrantTable(d, p2m[consolePfn] as number, p2m[storePfn] as number);

  // start_info.
  const SI = layout('start_info', 'x86_64');
  const sv = View.of(SI, frame(startInfoPfn), 0);
  sv.setBytes('magic', new TextEncoder().encode('xen-3.0-x86_64'));
  sv.set('nr_pages', nrPages);
  sv.set('shared_info', siMfn * PAGE);
  sv.set('flags', SIF_VIRT_P2M_4TOOLS | (o.ramdisk !== undefined && !modInRegion ? SIF_MOD_START_PFN : 0));
  sv.set('store_mfn', p2m[storePfn] as number);
  sv.set('store_evtchn', storeEvtchn);
  sv.set('console.domU.mfn', p2m[consolePfn] as number);
  sv.set('console.domU.evtchn', consoleEvtchn);
  sv.set('pt_base', virtBase + l4Pfn * PAGE);
  sv.set('nr_pt_frames', nrPt);
  sv.set('mfn_list', virtBase + p2mPfn * PAGE);
  if (o.ramdisk !== undefined) {
    sv.set('mod_start', modInRegion ? virtBase + modPfn * PAGE : modPfn);
    sv.set('mod_len', modInRegion ? o.ramdisk.length : modPagesCount * PAGE);
  }
  const cmd = new TextEncoder().encode(o.cmdline);
  if (cmd.length > 1023) bad('the command line is longer than 1023 bytes');
  sv.setBytes('cmd_line', cmd);
  // The console page starts disconnected (xencons_interface.connection at offset 2048+... is
  // not in 4.17's header: the zeroed page is what 4.17's tools leave).

  // The hypercall page, when the kernel has one.
  if (img.hypercallPage !== undefined) {
    const va = Number(BigInt.asIntN(64, img.hypercallPage));
    const pfn = (va - virtBase) / PAGE;
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= regionEnd) bad('HYPERCALL_PAGE lies outside the boot region');
    const page = new Uint8Array(PAGE).fill(0xcc);
    for (let i = 0; i < 128; i++) {
      const stub = i === 23 ? [0x51, 0x41, 0x53, 0x50, 0xb8, 23, 0, 0, 0, 0x0f, 0x05] : [0x51, 0x41, 0x53, 0xb8, i, 0, 0, 0, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3];
      page.set(stub, i * 32);
    }
    writeBytes(pfn, 0, page);
  }

  // vCPU 0.
  const v = new PvVcpu(0, o.machine, o.xen, o.features);
  o.xen.attach(v, d);
  v.vcpuInfo = vcpuInfoIn(si, 0);
  v.guestTable = p2m[l4Pfn] as number;
  v.loadRoot();
  const rsp = virtBase + (stackPfn + 1) * PAGE;
  v.cpu.rip = Number(BigInt.asIntN(64, img.entry));
  v.setReg(4, rsp);
  v.setReg(6, virtBase + startInfoPfn * PAGE);
  v.kernelSp = rsp;
  v.cpu.setFlags(0x202);

  const lay: Pv64Layout = {
    virtBase, nrPages, startInfoPfn, storePfn, consolePfn, p2mPfn, ptPfn, nrPtFrames: nrPt, stackPfn,
    regionEndPfn: regionEnd, modPfn, sharedInfoMfn: siMfn, storeEvtchn, consoleEvtchn,
  };
  return { domain: d, vcpu: v, layout: lay, p2m };
}

export interface PvDomainOptions {
  readonly xen: Xen;
  readonly machine: MachineMemory;
  readonly types: PageTypes;
  readonly domid: number;
  readonly name: string;
  /** MiB of memory (libxl's target: max_pages is this plus 1 MiB). */
  readonly memMiB: number;
  /** MiB the E820 reaches (maxmem); default `memMiB`. */
  readonly maxMemMiB?: number | undefined;
  readonly maxVcpus?: number;
  readonly grants?: GrantHub;
  readonly strict?: boolean;
}

export interface PvDomainShell {
  readonly domain: Domain;
  readonly sharedInfo: DataView;
  readonly sharedInfoMfn: number;
  /** The XenStore and console event channels, unbound for domain 0 (libxl's alloc_unbound). */
  readonly storeEvtchn: number;
  readonly consoleEvtchn: number;
}

/**
 * A PV64 domain as XEN_DOMCTL_createdomain and libxl's set-up leave it before any memory or
 * vCPU state: the PV MMU, shared_info (every legacy vcpu_info with events masked) and its event
 * channels, max_pages and the E820, the grant table (its PV host mappings through this domain's
 * MMU), and the two event channels for XenStore and the console. The domain builder and restore
 * both start here.
 */
export function createPvDomain(o: PvDomainOptions): PvDomainShell {
  const tooSmall = (why: string): never => {
    throw new UserError('bad-option', `domain ${o.domid} (${o.name}): ${why}`);
  };
  const d = new Domain(o.domid, o.name);
  d.features = PV64_FEATURES;
  d.machine = o.machine;
  d.maxVcpus = o.maxVcpus ?? 1;
  d.mmu = new PvMmu(o.types, { domid: o.domid, vcpus: d.maxVcpus, vmAssist: (t) => d.vmAssistEnabled(t), strict: o.strict ?? false });
  const siMfn = o.machine.allocXenHeapPage(o.domid, true) ?? tooSmall('the machine has no room for shared_info');
  const si = o.machine.view(siMfn);
  for (let v = 0; v < 32; v++) si.setUint8(v * 64 + 1, 1);
  o.xen.addEvents(d, si);
  d.memory = DomainMemory.libxlPv(o.memMiB * 1024, si);
  // maxmem above memory: libxl's memory map runs to maxmem (xc_domain_set_memmap_limit), while
  // max_pages stays the target's (libxl__build_pre); the guest balloons within that.
  if (o.maxMemMiB !== undefined) d.memory.e820 = [{ addr: 0, size: o.maxMemMiB * MiB, type: E820_RAM }];
  const ec = d.evtchn;
  if (ec === undefined) throw new Error('domain builder: no event channels');
  const grants = o.grants ?? new GrantHub(o.machine, { types: o.types });
  d.gnttab = grants.attach(o.domid);
  // GNTMAP_host_map mappings go into this domain's page tables through its PV MMU.
  pvGrantMapperOf(grants).add(d);
  const storeEvtchn = ec.allocUnbound(o.domid, 0);
  const consoleEvtchn = ec.allocUnbound(o.domid, 0);
  return { domain: d, sharedInfo: si, sharedInfoMfn: siMfn, storeEvtchn, consoleEvtchn };
}

/**
 * The toolstack's reserved grant entries (libxl's xc_dom_gnttab_seed, also run by restore): the
 * console and XenStore pages granted to domain 0, where their backends run, by frame (an MFN for PV).
 */
export function seedGrantTable(d: Domain, consoleMfn: number, storeMfn: number): void {
  const seed = (ref: number, mfn: number): void => {
    const e = new Uint8Array(8);
    const dv = new DataView(e.buffer);
    dv.setUint16(0, GTF_permit_access, true);
    dv.setUint16(2, 0, true);
    dv.setUint32(4, mfn, true);
    d.gnttab!.table.writeEntryRaw(ref, e);
  };
  seed(GNTTAB_RESERVED_CONSOLE, consoleMfn);
  seed(GNTTAB_RESERVED_XENSTORE, storeMfn);
}

/** vcpu_info `n` in a shared_info page (x86_64 layout: 64 bytes each; arch.cr2 at +16). */
export function vcpuInfoIn(si: DataView, n: number): VcpuInfoRef {
  const at = n * 64;
  return {
    upcallPending: () => si.getUint8(at),
    upcallMask: () => si.getUint8(at + 1),
    setUpcallMask: (m) => si.setUint8(at + 1, m),
    setCr2: (a) => {
      si.setUint32(at + 16, ((a % 2 ** 32) + 2 ** 32) % 2 ** 32, true);
      si.setInt32(at + 20, Math.floor(a / 2 ** 32), true);
    },
  };
}
