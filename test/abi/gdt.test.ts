/**
 * The guest GDT of a PV64 vCPU: Xen's descriptor checks (abi/pv/gdt.ts), set_gdt and
 * update_descriptor (abi/hypercall/descriptors.ts) with their page-type rules, a GDT frame's
 * immunity to writable mappings, and segment loads through the guest's GDT on the CPU. Also two
 * regressions met on Linux's boot path: trap-table addresses above 2^63 (set_trap_table) and
 * MOV from CR0/CR4 emulated in kernel mode.
 */
import { describe, expect, it } from 'vitest';
import { PageType } from '../../abi/hv/machine.js';
import { checkDescriptor } from '../../abi/pv/gdt.js';
import { pte, ptUpdate } from '../../abi/pv/mmu.js';
import { XEN_EBUSY, XEN_EFAULT, XEN_EINVAL } from '../../abi/public/errno.js';
import { __HYPERVISOR_set_gdt as SET_GDT, __HYPERVISOR_set_trap_table as SET_TRAP_TABLE, __HYPERVISOR_update_descriptor as UPDATE_DESCRIPTOR } from '../../abi/public/xen.js';
import { ARG, CODE, LIST, UNMAPPED, pvDomain, type PvDomain } from './pv-domain.js';

const DATA_DPL0: [number, number] = [0x0000ffff, 0x00cf9300];
const CODE64_DPL0: [number, number] = [0x0000ffff, 0x00af9b00];
const TSS: [number, number] = [0x00000067, 0x00008900];
const gate = (sel: number, hi = 0x0000ec00): [number, number] => [((sel << 16) | 0x1234) >>> 0, hi];

function putDesc(g: PvDomain, mfn: number, index: number, d: readonly [number, number]): void {
  g.mem.view(mfn).setUint32(index * 8, d[0], true);
  g.mem.view(mfn).setUint32(index * 8 + 4, d[1], true);
}
function getDesc(g: PvDomain, mfn: number, index: number): [number, number] {
  return [g.mem.view(mfn).getUint32(index * 8, true), g.mem.view(mfn).getUint32(index * 8 + 4, true)];
}
function setGdt(g: PvDomain, frames: number[], entries: number): number {
  g.u64s(LIST, frames);
  return g.call(SET_GDT, LIST, entries);
}

describe('check_descriptor (PV64)', () => {
  it('raises code/data DPL to 3 and leaves not-present descriptors alone', () => {
    expect(checkDescriptor(...DATA_DPL0)).toEqual([0x0000ffff, 0x00cff300]);
    expect(checkDescriptor(...CODE64_DPL0)).toEqual([0x0000ffff, 0x00affb00]);
    expect(checkDescriptor(0x0000ffff, 0x00cf1300)).toEqual([0x0000ffff, 0x00cf1300]);
    expect(checkDescriptor(0x12345678, 0x9abc7200)).toEqual([0x12345678, 0x9abc7200]);
  });

  it('accepts call gates to guest, LDT and flat kernel selectors: DPL 0, the DPL kept in the target RPL', () => {
    expect(checkDescriptor(...gate(0x10))).toEqual([((0x13 << 16) | 0x1234) >>> 0, 0x00008c00]);
    expect(checkDescriptor(...gate(0xe033))).toEqual([((0xe033 << 16) | 0x1234) >>> 0, 0x00008c00]);
    expect(checkDescriptor(...gate(0xe00c))).toEqual([((0xe00f << 16) | 0x1234) >>> 0, 0x00008c00]);
  });

  it('refuses gates into Xen, reserved gate bits, TSS/LDT descriptors and interrupt/trap gates', () => {
    expect(checkDescriptor(...gate(0xe008))).toBeUndefined();
    expect(checkDescriptor(...gate(0x10, 0x0000ec01))).toBeUndefined();
    expect(checkDescriptor(...TSS)).toBeUndefined();
    expect(checkDescriptor(0, 0x00008200)).toBeUndefined(); // LDT
    expect(checkDescriptor(0, 0x00008e00)).toBeUndefined(); // interrupt gate
    expect(checkDescriptor(0, 0x00008f00)).toBeUndefined(); // trap gate
    // A present system descriptor of type 0 (a gate's upper half) passes unchanged.
    expect(checkDescriptor(0, 0x00008000)).toEqual([0, 0x00008000]);
  });
});

describe('set_gdt', () => {
  it('types the frames SegDesc, rewrites their descriptors and makes them unmappable writable', () => {
    const g = pvDomain();
    const f = g.p2m[40] as number;
    putDesc(g, f, 2, DATA_DPL0);
    putDesc(g, f, 3, CODE64_DPL0);
    expect(setGdt(g, [f], 16)).toBe(0);
    expect(g.mem.type[f]).toBe(PageType.SegDesc);
    expect(g.mem.typeCount[f]).toBe(1);
    expect(getDesc(g, f, 2)).toEqual([0x0000ffff, 0x00cff300]);
    expect(g.v.gdtFrames).toEqual([f]);
    expect(g.v.gdtEntries?.(3)).toEqual([0x0000ffff, 0x00affb00]);
    const l1 = g.p2m[3] as number;
    const [lo, hi] = pte(f, 7);
    expect(g.d.mmu!.mmuUpdate(0, [ptUpdate(l1, 33, lo, hi)]).rc).toBe(-XEN_EBUSY);
    const [rlo, rhi] = pte(f, 5);
    expect(g.d.mmu!.mmuUpdate(0, [ptUpdate(l1, 33, rlo, rhi)]).rc).toBe(0);
  });

  it('refuses a frame mapped writable, a foreign frame, a frame with a bad descriptor, too many entries', () => {
    const g = pvDomain();
    const good = g.p2m[40] as number;
    expect(setGdt(g, [good], 16)).toBe(0);
    expect(setGdt(g, [g.p2m[12] as number], 16)).toBe(-XEN_EINVAL); // mapped RW at 0xc000
    expect(setGdt(g, [g.other[0] as number], 16)).toBe(-XEN_EINVAL);
    expect(setGdt(g, [1e9], 16)).toBe(-XEN_EINVAL);
    const bad = g.p2m[43] as number;
    putDesc(g, bad, 5, TSS);
    // The second frame fails: the first one's reference is dropped again.
    expect(setGdt(g, [g.p2m[44] as number, bad], 600)).toBe(-XEN_EINVAL);
    expect(g.mem.typeCount[g.p2m[44] as number]).toBe(0);
    expect(g.mem.typeCount[bad]).toBe(0);
    expect(setGdt(g, [good], 7169)).toBe(-XEN_EINVAL);
    expect(g.call(SET_GDT, UNMAPPED, 16)).toBe(-XEN_EFAULT);
    // The GDT in place is untouched by every refusal.
    expect(g.v.gdtFrames).toEqual([good]);
    expect(g.mem.typeCount[good]).toBe(1);
  });

  it('releases the previous frames when a new GDT is installed (they can be mapped writable again)', () => {
    const g = pvDomain();
    const a = g.p2m[40] as number;
    const b = g.p2m[41] as number;
    const c = g.p2m[42] as number;
    expect(setGdt(g, [a], 512)).toBe(0);
    expect(setGdt(g, [b, c], 513)).toBe(0);
    expect(g.mem.typeCount[a]).toBe(0);
    expect([g.mem.typeCount[b], g.mem.typeCount[c]]).toEqual([1, 1]);
    const [lo, hi] = pte(a, 7);
    expect(g.d.mmu!.mmuUpdate(0, [ptUpdate(g.p2m[3] as number, 33, lo, hi)]).rc).toBe(0);
    expect(setGdt(g, [], 0)).toBe(0);
    expect([g.mem.typeCount[b], g.mem.typeCount[c]]).toEqual([0, 0]);
    expect(g.v.gdtFrames).toEqual([]);
    expect(g.v.gdtEntries?.(2) ?? [0, 0]).toEqual([0, 0]);
  });

  it('a segment load goes through the guest GDT; a not-present entry faults', () => {
    const g = pvDomain();
    const f = g.p2m[40] as number;
    putDesc(g, f, 2, DATA_DPL0);
    expect(setGdt(g, [f], 16)).toBe(0);
    // mov $0x13,%eax; mov %eax,%ds; mov $0x1b,%eax; mov %eax,%ds
    g.write(CODE, Uint8Array.from([0xb8, 0x13, 0, 0, 0, 0x8e, 0xd8, 0xb8, 0x1b, 0, 0, 0, 0x8e, 0xd8]));
    g.v.cpu.rip = CODE;
    g.v.cpu.run(4);
    expect(g.v.cpu.segSel[3]).toBe(0x13);
    expect(g.v.crashed).toMatch(/vector 13/); // entry 3 is empty (a system type): #GP, no trap table yet
  });
});

describe('update_descriptor', () => {
  it('writes a checked descriptor into a GDT frame, which the next segment load sees', () => {
    const g = pvDomain();
    const f = g.p2m[40] as number;
    expect(setGdt(g, [f], 16)).toBe(0);
    expect(g.call(UPDATE_DESCRIPTOR, f * 4096 + 3 * 8, (BigInt(DATA_DPL0[1]) << 32n) | BigInt(DATA_DPL0[0]))).toBe(0);
    expect(getDesc(g, f, 3)).toEqual([0x0000ffff, 0x00cff300]);
    expect(g.mem.typeCount[f]).toBe(1);
    g.write(CODE, Uint8Array.from([0xb8, 0x1b, 0, 0, 0, 0x8e, 0xd8]));
    g.v.cpu.rip = CODE;
    g.v.cpu.run(2);
    expect(g.v.cpu.segSel[3]).toBe(0x1b);
  });

  it('refuses a misaligned address, a bad descriptor, a page table, a foreign frame; a plain page is fine', () => {
    const g = pvDomain();
    const desc = (BigInt(DATA_DPL0[1]) << 32n) | BigInt(DATA_DPL0[0]);
    const plain = g.p2m[41] as number;
    expect(g.call(UPDATE_DESCRIPTOR, plain * 4096 + 4, desc)).toBe(-XEN_EINVAL);
    expect(g.call(UPDATE_DESCRIPTOR, plain * 4096, (BigInt(TSS[1]) << 32n) | BigInt(TSS[0]))).toBe(-XEN_EINVAL);
    expect(g.call(UPDATE_DESCRIPTOR, (g.p2m[3] as number) * 4096, desc)).toBe(-XEN_EINVAL);
    expect(g.call(UPDATE_DESCRIPTOR, (g.other[0] as number) * 4096, desc)).toBe(-XEN_EINVAL);
    expect(g.call(UPDATE_DESCRIPTOR, plain * 4096 + 8, desc)).toBe(0);
    expect(getDesc(g, plain, 1)).toEqual([0x0000ffff, 0x00cff300]);
    expect(g.mem.typeCount[plain]).toBe(0);
    // A page mapped writable takes the writable type again: allowed.
    expect(g.call(UPDATE_DESCRIPTOR, (g.p2m[12] as number) * 4096, desc)).toBe(0);
  });
});

describe('CPU hypercalls and emulation met on the way (regressions)', () => {
  it('set_trap_table keeps a kernel handler address exactly (no rounding above 2^53)', () => {
    const g = pvDomain();
    const b = new Uint8Array(32);
    const dv = new DataView(b.buffer);
    dv.setUint8(0, 13);
    dv.setUint16(2, 0xe033, true);
    dv.setBigUint64(8, 0xffffffff83059bf8n, true);
    g.write(ARG, b);
    expect(g.call(SET_TRAP_TABLE, ARG)).toBe(0);
    expect(g.v.trapAddress[13]).toBe(Number(BigInt.asIntN(64, 0xffffffff83059bf8n)));
  });

  it('MOV from CR4/CR0 and MOV to/from CR2 are emulated in kernel mode', () => {
    const g = pvDomain();
    // mov %cr4,%rax; mov %cr0,%rbx; mov %rbx,%cr2; mov %cr2,%rcx; ud2 (stops: no trap table)
    g.write(CODE, Uint8Array.from([0x0f, 0x20, 0xe0, 0x0f, 0x20, 0xc3, 0x0f, 0x22, 0xd3, 0x0f, 0x20, 0xd1, 0x0f, 0x0b]));
    g.v.cpu.rip = CODE;
    g.v.virtualTs = true;
    g.v.cpu.run(5);
    expect(g.v.crashed).toMatch(/vector 6/);
    expect(g.v.reg(0)).toBe(0x620); // PAE | OSFXSR | OSXMMEXCPT
    expect(g.v.reg(3)).toBe((g.v.cpu.cr0 | 8) >>> 0);
    expect(g.v.virtualCr2).toBe(g.v.reg(3));
    expect(g.v.reg(1)).toBe(g.v.reg(3));
  });
});
