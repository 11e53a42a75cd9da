/**
 * set_gdt (hypercall 2) and update_descriptor (hypercall 10) for a PV64 guest (reference §3.2;
 * Xen 4.17 xen/arch/x86/pv/descriptor-tables.c `do_set_gdt`, `pv_set_gdt`, `pv_destroy_gdt`,
 * `do_update_descriptor`).
 *
 * A GDT frame holds a SegDesc type reference for as long as it is installed, so it can never be
 * mapped writable (page-types.ts refuses the writable type while another type is held); the type
 * validates the whole frame (pv/gdt.ts `validateSegdescPage`, wired into PageTypes). The CPU reads
 * the guest's entries from the frames at each segment load (`PvVcpu.gdtEntries`), as the real
 * CPU reads Xen's per-vCPU GDT mapping of them: entries beyond `entries` in the last frame are
 * visible too (Xen maps whole frames), frames beyond the last are not present.
 */
import type { MachineMemory } from '../hv/machine.js';
import { PageType } from '../hv/machine.js';
import type { PageTypes } from '../hv/page-types.js';
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOSYS } from '../public/errno.js';
import { checkDescriptor, DESCS_PER_FRAME, FIRST_RESERVED_GDT_ENTRY } from '../pv/gdt.js';
import type { PvVcpu } from '../pv/vcpu.js';
import { cmdOf, type Handler } from './context.js';

const TWO32 = 4294967296;

/** Xen `pv_destroy_gdt`: every installed frame's references dropped; the guest part of the GDT is empty. */
export function destroyGdt(v: PvVcpu, types: PageTypes): void {
  for (const mfn of v.gdtFrames) types.putPageAndType(mfn);
  v.gdtFrames = [];
  v.gdtEnts = 0;
  v.gdtEntries = undefined;
}

/**
 * Xen `pv_set_gdt`: takes a SegDesc reference on each frame (validating it if it was not one
 * already), then releases the previous GDT and installs the new one. -EINVAL (and nothing
 * changed) when an entry count is too large or a frame is not the domain's or cannot become a
 * descriptor page.
 */
export function setGdt(v: PvVcpu, types: PageTypes, domid: number, frames: readonly number[], entries: number): number {
  if (entries > FIRST_RESERVED_GDT_ENTRY) return -XEN_EINVAL;
  const nr = Math.ceil(entries / DESCS_PER_FRAME);
  let i = 0;
  for (; i < nr; i++) {
    const mfn = frames[i] as number;
    if (!types.mem.valid(mfn) || types.getPageAndType(mfn, PageType.SegDesc, domid) !== 0) break;
  }
  if (i < nr) {
    while (i-- > 0) types.putPageAndType(frames[i] as number);
    return -XEN_EINVAL;
  }
  destroyGdt(v, types);
  const installed = frames.slice(0, nr);
  v.gdtFrames = installed;
  v.gdtEnts = entries;
  v.gdtEntries = gdtReader(types.mem, installed);
  return 0;
}

/** The guest part of the GDT as the CPU sees it: entry `index` read from its frame now. */
function gdtReader(mem: MachineMemory, frames: readonly number[]): (index: number) => readonly [number, number] {
  return (index) => {
    const mfn = frames[Math.floor(index / DESCS_PER_FRAME)];
    if (mfn === undefined) return [0, 0];
    const f = mem.view(mfn);
    const at = (index % DESCS_PER_FRAME) * 8;
    return [f.getUint32(at, true), f.getUint32(at + 4, true)];
  };
}

/**
 * Xen `do_update_descriptor` for PV (guest frame = machine frame): the descriptor is checked
 * first, then the frame must be the domain's and either a descriptor page or able to take the
 * writable type (not a page table). Returns 0 or -EINVAL, and the machine frame written.
 */
export function updateDescriptor(types: PageTypes, domid: number, maddrLo: number, maddrHi: number, descLo: number, descHi: number): { rc: number; mfn?: number } {
  const d = (maddrLo & 7) === 0 ? checkDescriptor(descLo, descHi) : undefined;
  if (d === undefined) return { rc: -XEN_EINVAL };
  const mfn = (maddrHi >>> 0) * 0x100000 + ((maddrLo >>> 0) >>> 12);
  if (!types.getPage(mfn, domid)) return { rc: -XEN_EINVAL };
  const m = types.mem;
  const type = m.type[mfn] === PageType.SegDesc ? PageType.SegDesc : PageType.Writable;
  if (types.getPageType(mfn, type) !== 0) {
    types.putPage(mfn);
    return { rc: -XEN_EINVAL };
  }
  const f = m.view(mfn);
  const at = maddrLo & 0xff8;
  f.setUint32(at, d[0], true);
  f.setUint32(at + 4, d[1], true);
  m.markDirty(mfn);
  types.putPageType(mfn);
  types.putPage(mfn);
  return { rc: 0, mfn };
}

/** set_gdt(frame_list, entries): `entries` is an unsigned int; the list holds ceil(entries/512) ulongs. */
export const setGdtHypercall: Handler = (ctx) => {
  const types = ctx.domain.mmu?.types;
  if (types === undefined) return -XEN_ENOSYS;
  const entries = cmdOf(ctx, 2);
  if (entries > FIRST_RESERVED_GDT_ENTRY) return -XEN_EINVAL;
  const nr = Math.ceil(entries / DESCS_PER_FRAME);
  const buf = new Uint8Array(nr * 8);
  if (nr > 0 && !ctx.mem.read(ctx.arg(1), buf)) return -XEN_EFAULT;
  const dv = new DataView(buf.buffer);
  const frames: number[] = [];
  for (let k = 0; k < nr; k++) frames.push(dv.getUint32(k * 8 + 4, true) * TWO32 + dv.getUint32(k * 8, true));
  const rc = setGdt(ctx.vcpu, types, ctx.domain.id, frames, entries);
  // flush_tlb_local: Xen remapped the GDT area.
  if (rc === 0) ctx.vcpu.cpu.flushTlb();
  return rc;
};

/** update_descriptor(maddr, desc): PV64 passes both as 64-bit registers. */
export const updateDescriptorHypercall: Handler = (ctx) => {
  const types = ctx.domain.mmu?.types;
  if (types === undefined) return -XEN_ENOSYS;
  const [alo, ahi] = ctx.argHalves(1);
  const [dlo, dhi] = ctx.argHalves(2);
  const r = updateDescriptor(types, ctx.domain.id, alo, ahi, dlo, dhi);
  if (r.mfn !== undefined) {
    // The frame may hold code the CPU decoded.
    const view = types.mem.view(r.mfn);
    for (const v of ctx.domain.vcpus) v?.cpu.invalidateFrame(view);
  }
  return r.rc;
};
