/**
 * arch_get_info_guest / arch_set_info_guest (abi/hypercall/vcpu-context.ts), without a guest
 * running. Properties are seeded by the run's seed (printed at the start; XENLAB_SEED repeats it):
 *  - round trip: a random valid context set on a new vCPU (the full path) or on the live vCPU 0
 *    (the initialised path) reads back as `normalise(context)`, the normalisations the module's
 *    header documents, written out here a second time; and a context read back sets to itself;
 *  - refusals: a random context with one defect gets the same result from setVcpuContext as from
 *    VCPUOP_initialise on an identical domain, and neither leaves the vCPU initialised;
 *  - the live-vCPU path refuses other roots, GDT or LDT with -EOPNOTSUPP; vCPU 0's vm_assist is
 *    checked; the extended record and xenlab's record with their refusals.
 */
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import {
  getVcpuContext, getVcpuExtended, getVcpuXenlab, resetVcpu, setVcpuContext, setVcpuExtended, setVcpuXenlab, VCPU_CONTEXT_SIZE,
} from '../../abi/hypercall/vcpu-context.js';
import { XEN_EINVAL, XEN_EOPNOTSUPP, XEN_ESRCH } from '../../abi/public/errno.js';
import { layout } from '../../abi/public/index.js';
import { __HYPERVISOR_vcpu_op as VCPU_OP } from '../../abi/public/xen.js';
import type { PvVcpu } from '../../abi/pv/vcpu.js';
import { ARG, pvDomain, type PvDomain } from './pv-domain.js';

const GC = layout('vcpu_guest_context', 'x86_64');
const off = (p: string): number => GC.find(p)!.offset;
const VCPUOP_initialise = 0;
const TWO47 = 2n ** 47n;
const MASK64 = (1n << 64n) - 1n;

/** Two vCPUs, shared_info in frame 50 (so vCPU 1 has a vcpu_info slot for VCPUOP_initialise). */
function world(): PvDomain {
  const g = pvDomain(undefined, 2);
  g.xen.addEvents(g.d, g.mem.view(g.p2m[50] as number));
  return g;
}

// ---- random contexts -----------------------------------------------------------------------------

const canonical = fc.oneof(fc.bigInt({ min: 0n, max: TWO47 - 1n }), fc.bigInt({ min: MASK64 + 1n - TWO47, max: MASK64 }));
const u64 = fc.bigInt({ min: 0n, max: MASK64 });
const u16 = fc.integer({ min: 0, max: 0xffff });
/** A guest address (addrOk: below 2^47 or above Xen's range), as breakpoints need. */
const guestAddr = fc.oneof(fc.bigInt({ min: 0n, max: TWO47 - 1n }), fc.bigInt({ min: 0xffff880000000000n, max: MASK64 }));

interface Spec {
  fpu: Uint8Array;
  fpuWide: boolean;
  mxcsrBad: boolean;
  flags: number;
  gprs: bigint[];
  rip: bigint;
  rsp: bigint;
  rflags: bigint;
  sels: number[];
  upcallMask: number;
  pads: bigint;
  traps: { k: number; flags: number; cs: number; address: bigint }[];
  ldtEnts: number;
  ldtBase: bigint;
  kernelSs: bigint;
  kernelSp: bigint;
  cr0: bigint;
  cr2: bigint;
  cr4: number;
  cr5: bigint;
  dr: bigint[];
  dr6: bigint;
  dr7: bigint;
  callbacks: bigint[];
  vmAssist: bigint;
  bases: bigint[];
}

const spec: fc.Arbitrary<Spec> = fc.record({
  fpu: fc.uint8Array({ minLength: 512, maxLength: 512 }),
  fpuWide: fc.boolean(),
  mxcsrBad: fc.boolean(),
  flags: fc.integer({ min: 0, max: 0xffff }),
  gprs: fc.array(u64, { minLength: 16, maxLength: 16 }),
  rip: canonical,
  rsp: canonical,
  rflags: u64,
  sels: fc.array(u16, { minLength: 6, maxLength: 6 }),
  upcallMask: fc.integer({ min: 0, max: 255 }),
  pads: u64,
  traps: fc.array(fc.record({ k: fc.integer({ min: 0, max: 255 }), flags: fc.integer({ min: 0, max: 255 }), cs: u16, address: fc.oneof(fc.constant(0n), canonical) }), { maxLength: 12 }),
  ldtEnts: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 8192 })),
  ldtBase: fc.bigInt({ min: 0n, max: TWO47 / 4096n - 1n }).map((p) => p * 4096n),
  kernelSs: u64,
  kernelSp: canonical,
  cr0: u64,
  cr2: canonical,
  cr4: fc.integer({ min: 0, max: 0xffffffff }),
  cr5: u64,
  dr: fc.array(fc.oneof(guestAddr, u64), { minLength: 4, maxLength: 4 }),
  dr6: fc.oneof(fc.bigInt({ min: 0n, max: 0xffffffffn }), u64),
  dr7: fc.oneof(fc.bigInt({ min: 0n, max: 0xffffffffn }), u64),
  callbacks: fc.array(canonical, { minLength: 3, maxLength: 3 }),
  vmAssist: fc.oneof(fc.constant(0n), u64),
  bases: fc.array(canonical, { minLength: 3, maxLength: 3 }),
});

/** FIP/FDP and everything else of the image; `fpuWide` false: Xen's byte 511 says 32-bit pointers. */
function contextOf(s: Spec, cr3: number, cr1: number): Uint8Array {
  const b = new Uint8Array(VCPU_CONTEXT_SIZE);
  const dv = new DataView(b.buffer);
  const q = (p: string, v: number | bigint, at = 0): void => dv.setBigUint64(off(p) + at, BigInt.asUintN(64, BigInt(v)), true);
  b.set(s.fpu, off('fpu_ctxt'));
  const f = off('fpu_ctxt');
  // Canonical FIP/FDP (a 64-bit pointer beyond 2^53 is not kept exactly), MXCSR valid unless asked.
  for (const at of [8, 16]) dv.setBigInt64(f + at, BigInt.asIntN(48, dv.getBigInt64(f + at, true)), true);
  if (!s.mxcsrBad) dv.setUint32(f + 24, dv.getUint32(f + 24, true) & 0xffff, true);
  dv.setUint8(f + 511, s.fpuWide ? [8, 0, 1][s.fpu[0]! % 3]! : [4, 2][s.fpu[0]! % 2]!);
  q('flags', BigInt(s.flags));
  const names = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
  names.forEach((n, k) => q(`user_regs.${n}`, s.gprs[k]!));
  q('user_regs.rsp', s.rsp);
  q('user_regs.rip', s.rip);
  q('user_regs.rflags', s.rflags);
  q('user_regs.error_code', s.pads);
  ['cs', 'ss', 'ds', 'es', 'fs', 'gs'].forEach((n, k) => q(`user_regs.${n}`, BigInt(s.sels[k]!) | (s.pads << 16n)));
  dv.setUint8(off('user_regs.saved_upcall_mask'), s.upcallMask);
  for (const t of s.traps) {
    const at = off('trap_ctxt') + t.k * 16;
    dv.setUint8(at, t.k ^ 1);
    dv.setUint8(at + 1, t.flags);
    dv.setUint16(at + 2, t.cs, true);
    dv.setBigUint64(at + 8, BigInt.asUintN(64, t.address), true);
  }
  q('ldt_ents', s.ldtEnts);
  q('ldt_base', s.ldtBase);
  q('kernel_ss', s.kernelSs);
  q('kernel_sp', s.kernelSp);
  q('ctrlreg', s.cr0, 0);
  q('ctrlreg', cr1 * 4096, 8);
  q('ctrlreg', s.cr2, 16);
  q('ctrlreg', cr3 * 4096, 24);
  q('ctrlreg', s.cr4, 32);
  q('ctrlreg', s.cr5, 40);
  s.dr.forEach((x, k) => q('debugreg', x, k * 8));
  q('debugreg', s.dr6, 6 * 8);
  q('debugreg', s.dr7, 7 * 8);
  q('debugreg', s.pads, 4 * 8);
  q('event_callback_eip', s.callbacks[0]!);
  q('failsafe_callback_eip', s.callbacks[1]!);
  q('syscall_callback_eip', s.callbacks[2]!);
  q('vm_assist', s.vmAssist);
  q('fs_base', s.bases[0]!);
  q('gs_base_kernel', s.bases[1]!);
  q('gs_base_user', s.bases[2]!);
  return b;
}

// ---- the documented normalisations, written out independently -----------------------------------

const CR4_PAE = 0x20, CR4_OSFXSR = 0x200, CR4_OSXMMEXCPT = 0x400, CR4_TSD = 0x4, CR4_DE = 0x8, CR4_FSGSBASE = 0x10000, CR4_OSXSAVE = 0x40000;

/** What get(set(x)) must be for vCPU `v` of `g`, given the vm_assist field get reported before. */
function normalise(g: PvDomain, v: PvVcpu, x: Uint8Array, vmAssistBefore: bigint): Uint8Array {
  const i = new DataView(x.buffer);
  const out = new Uint8Array(VCPU_CONTEXT_SIZE);
  const o = new DataView(out.buffer);
  const get = (p: string, at = 0): bigint => i.getBigUint64(off(p) + at, true);
  const put = (p: string, val: bigint | number, at = 0): void => o.setBigUint64(off(p) + at, BigInt.asUintN(64, BigInt(val)), true);
  const flags = Number(get('flags') & 0xffffffffn);
  // FXSAVE image.
  const f = off('fpu_ctxt');
  if ((flags & 1) === 0) {
    o.setUint16(f, 0x37f, true);
    o.setUint32(f + 24, 0x1f80, true);
  } else if ((i.getUint32(f + 24, true) & ~0xffff) !== 0) {
    o.setUint16(f, 0x40, true);
  } else {
    const fcw = (i.getUint16(f, true) & 0x1f3f) | 0x40;
    const sw = i.getUint16(f + 2, true);
    const pending = (sw & ~fcw & 0x3f) !== 0;
    o.setUint16(f, fcw, true);
    o.setUint16(f + 2, (sw & 0x7f7f) | (pending ? 0x8080 : 0), true);
    o.setUint8(f + 4, i.getUint8(f + 4));
    o.setUint16(f + 6, i.getUint16(f + 6, true) & 0x7ff, true);
    const w = i.getUint8(f + 511);
    for (const at of [8, 16]) o.setBigUint64(f + at, w === 4 || w === 2 ? BigInt(i.getUint32(f + at, true)) : i.getBigUint64(f + at, true), true);
    o.setUint32(f + 24, i.getUint32(f + 24, true), true);
    for (let k = 0; k < 8; k++) out.set(x.subarray(f + 32 + 16 * k, f + 42 + 16 * k), f + 32 + 16 * k);
    out.set(x.subarray(f + 160, f + 416), f + 160);
  }
  o.setUint32(f + 28, 0xffff, true);
  o.setUint8(f + 511, 8);
  put('flags', 1 | (flags & (4 | 8 | 16 | 32)));
  for (const n of ['r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi', 'rdi', 'rip', 'rsp']) put(`user_regs.${n}`, get(`user_regs.${n}`));
  put('user_regs.rflags', (get('user_regs.rflags') & 0x3d3dd5n) | 0x202n);
  const sel = (n: string): number => Number(get(`user_regs.${n}`) & 0xffffn);
  o.setUint16(off('user_regs.cs'), sel('cs') | 3, true);
  for (const n of ['ss', 'ds', 'es', 'fs', 'gs']) o.setUint16(off(`user_regs.${n}`), sel(n) === 0 ? 0 : sel(n) | 3, true);
  o.setUint8(off('user_regs.saved_upcall_mask'), v.vcpuInfo?.upcallMask() ?? 0);
  for (let k = 0; k < 256; k++) {
    const at = off('trap_ctxt') + 16 * k;
    const tflags = i.getUint8(at + 1);
    const address = i.getBigUint64(at + 8, true);
    if (address === 0n && tflags === 0) continue;
    o.setUint8(at, k);
    o.setUint8(at + 1, tflags);
    o.setUint16(at + 2, address !== 0n ? 0xe033 : 0, true);
    o.setBigUint64(at + 8, address, true);
  }
  const ldtEnts = get('ldt_ents');
  put('ldt_ents', ldtEnts);
  put('ldt_base', ldtEnts !== 0n ? get('ldt_base') : 0n);
  const gdtEnts = get('gdt_ents');
  put('gdt_ents', gdtEnts);
  for (let k = 0; k < Math.ceil(Number(gdtEnts) / 512); k++) put('gdt_frames', get('gdt_frames', 8 * k), 8 * k);
  put('kernel_ss', (get('kernel_ss') & 0xffffn) | 3n);
  put('kernel_sp', get('kernel_sp'));
  put('ctrlreg', (BigInt(v.cpu.cr0 >>> 0) & ~8n) | (get('ctrlreg') & 8n), 0);
  put('ctrlreg', get('ctrlreg', 8), 8);
  put('ctrlreg', get('ctrlreg', 16), 16);
  put('ctrlreg', get('ctrlreg', 24), 24);
  const [, , ecx1, edx1] = g.xen.cpuid(v, 1, 0);
  const ebx7 = g.xen.cpuid(v, 7, 0)[1];
  const allowed = ((edx1 & 0x10) !== 0 ? CR4_TSD : 0) | ((edx1 & 0x4) !== 0 ? CR4_DE : 0) | ((ebx7 & 1) !== 0 ? CR4_FSGSBASE : 0) | ((ecx1 & (1 << 26)) !== 0 ? CR4_OSXSAVE : 0);
  const cr4 = (CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | (Number(get('ctrlreg', 32) & 0xffffffffn) & allowed)) >>> 0;
  put('ctrlreg', cr4, 32);
  // set_debugreg, each refusal keeping the reset value.
  for (let k = 0; k < 4; k++) {
    const a = get('debugreg', 8 * k);
    const ok = a < TWO47 || a >= 0xffff880000000000n;
    put('debugreg', ok ? a : 0n, 8 * k);
  }
  const dr6 = get('debugreg', 48);
  put('debugreg', dr6 >> 32n === 0n ? ((Number(dr6) & 0xffffefff) | 0xffff0ff0) >>> 0 : 0xffff0ff0, 48);
  const dr7in = get('debugreg', 56);
  let dr7 = 0x400;
  if (dr7in >> 32n === 0n) {
    const val = ((Number(dr7in) & 0xffff27ff) | 0x400) >>> 0;
    let io = false;
    if ((val & 0xff) !== 0) for (let s = 16; s < 32; s += 4) if (((val >>> s) & 3) === 2) io = true;
    if ((val & 0x2000) === 0 && (!io || (cr4 & CR4_DE) !== 0)) dr7 = val;
  }
  put('debugreg', dr7, 56);
  for (const p of ['event_callback_eip', 'failsafe_callback_eip', 'syscall_callback_eip', 'fs_base', 'gs_base_kernel', 'gs_base_user']) put(p, get(p));
  put('vm_assist', vmAssistBefore);
  return out;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** The bytes that differ, by field-ish offset, for a readable failure. */
function diff(a: Uint8Array, b: Uint8Array): string[] {
  const out: string[] = [];
  for (let k = 0; k < a.length && out.length < 8; k++) if (a[k] !== b[k]) out.push(`@${k}: ${a[k]} != ${b[k]}`);
  return out;
}

describe('vcpu_guest_context round trip (seeded)', () => {
  const seed = inject('seed');

  it('a new vCPU (full path): get(set(x)) is normalise(x), and get(set(get)) is get', () => {
    fc.assert(
      fc.property(spec, (s) => {
        const g = world();
        const l4 = g.p2m[0] as number;
        const inKernel = (s.flags & 4) !== 0;
        const ctx = contextOf(s, l4, inKernel && (s.flags & 1) === 0 ? 0 : l4);
        const vmBefore = new DataView(getVcpuContext(g.d, g.v).buffer).getBigUint64(off('vm_assist'), true);
        expect(setVcpuContext(g.d, 1, ctx)).toBe(0);
        const v1 = g.d.vcpus[1]!;
        const got = getVcpuContext(g.d, v1);
        expect(diff(got, normalise(g, v1, ctx, vmBefore))).toEqual([]);
        expect(g.d.time!.vcpu(1).up).toBe((s.flags & 32) !== 0);
        // A context read back sets to itself, on a fresh vCPU and on the live one.
        const g2 = world();
        expect(setVcpuContext(g2.d, 1, got)).toBe(0);
        expect(hex(getVcpuContext(g2.d, g2.d.vcpus[1]!))).toBe(hex(got));
        expect(setVcpuContext(g.d, 1, got)).toBe(0);
        expect(hex(getVcpuContext(g.d, v1))).toBe(hex(got));
      }),
      { seed, numRuns: 60 },
    );
  });

  it('the live vCPU 0 (initialised path): registers, FPU, traps and callbacks replaced; roots kept', () => {
    fc.assert(
      fc.property(spec, (s) => {
        const g = world();
        const ctx = contextOf({ ...s, flags: s.flags | 4, ldtEnts: 0, vmAssist: s.vmAssist & 0x3fn }, g.p2m[0] as number, 0);
        const vmBefore = new DataView(getVcpuContext(g.d, g.v).buffer).getBigUint64(off('vm_assist'), true);
        expect(setVcpuContext(g.d, 0, ctx)).toBe(0);
        expect(diff(getVcpuContext(g.d, g.v), normalise(g, g.v, ctx, vmBefore))).toEqual([]);
        expect(g.d.mmu!.vcpus[0]!.guestTable).toBe(g.p2m[0]);
      }),
      { seed: seed + 1, numRuns: 40 },
    );
  });
});

describe('refusals: the same as VCPUOP_initialise', () => {
  /** One defect each (applied to a valid context), some refused and some not. */
  const defects: readonly [string, (dv: DataView, g: PvDomain) => void][] = [
    ['non-canonical rip', (dv) => dv.setBigUint64(off('user_regs.rip'), 0x0000800000000000n, true)],
    ['non-canonical rsp', (dv) => dv.setBigUint64(off('user_regs.rsp'), 0x8000000000000000n, true)],
    ['non-canonical kernel_sp', (dv) => dv.setBigUint64(off('kernel_sp'), 0x0001000000000000n, true)],
    ['non-canonical fs_base', (dv) => dv.setBigUint64(off('fs_base'), 0x00f0000000000000n, true)],
    ['non-canonical gs_base_user', (dv) => dv.setBigUint64(off('gs_base_user'), 0x0000900000000000n, true)],
    ['non-canonical failsafe callback', (dv) => dv.setBigUint64(off('failsafe_callback_eip'), 0x7fff000000000000n, true)],
    ['non-canonical trap handler', (dv) => dv.setBigUint64(off('trap_ctxt') + 77 * 16 + 8, 0x0000800000001000n, true)],
    ['misaligned LDT base', (dv) => dv.setBigUint64(off('ldt_base'), 0x10010n, true)],
    ['LDT base in Xen\'s range', (dv) => dv.setBigUint64(off('ldt_base'), 0xffff800000000000n, true)],
    ['8193 LDT entries', (dv) => dv.setBigUint64(off('ldt_ents'), 8193n, true)],
    ['17 GDT frames', (dv) => dv.setBigUint64(off('gdt_ents'), 16n * 512n + 1n, true)],
    ['a GDT frame of another domain', (dv, g) => (dv.setBigUint64(off('gdt_frames'), BigInt(g.other[0]!), true), dv.setBigUint64(off('gdt_ents'), 1n, true))],
    ['a GDT frame of the domain', (dv, g) => (dv.setBigUint64(off('gdt_frames'), BigInt(g.p2m[51]!), true), dv.setBigUint64(off('gdt_ents'), 600n, true), dv.setBigUint64(off('gdt_frames') + 8, BigInt(g.p2m[52]!), true))],
    ['cr3 another domain\'s frame', (dv, g) => dv.setBigUint64(off('ctrlreg') + 24, BigInt(g.other[1]!) * 4096n, true)],
    ['cr3 a frame beyond memory', (dv) => dv.setBigUint64(off('ctrlreg') + 24, 1n << 50n, true)],
    ['cr3 a data page (no L4)', (dv, g) => dv.setBigUint64(off('ctrlreg') + 24, BigInt(g.p2m[8]!) * 4096n, true)],
    ['cr1 a data page (no L4)', (dv, g) => dv.setBigUint64(off('ctrlreg') + 8, BigInt(g.p2m[9]!) * 4096n, true)],
    ['user mode without cr1', (dv) => dv.setBigUint64(off('flags'), 0n, true)],
    ['user mode with cr1', (dv, g) => (dv.setBigUint64(off('flags'), 0n, true), dv.setBigUint64(off('ctrlreg') + 8, BigInt(g.p2m[0]!) * 4096n, true))],
    ['vm_assist junk (checked for vCPU 0 only)', (dv) => dv.setBigUint64(off('vm_assist'), 0xffn, true)],
    ['a DR7 GD bit (set_debugreg refuses, the context does not)', (dv) => dv.setBigUint64(off('debugreg') + 56, 0x2000n, true)],
    ['a bad MXCSR (loaded as zeros)', (dv) => (dv.setUint32(off('fpu_ctxt') + 24, 0xffffffff, true), dv.setBigUint64(off('flags'), 5n, true))],
  ];

  it('each defect alone, and random pairs: same return code, failures leave the vCPU uninitialised', () => {
    const cases = fc.sample(fc.tuple(fc.nat(defects.length - 1), fc.nat(defects.length - 1)), { seed: inject('seed') + 2, numRuns: 30 });
    const all: [number, number][] = [...defects.map((_, k): [number, number] => [k, k]), ...cases];
    for (const [a, b] of all) {
      const viaHypercall = world();
      const viaDomctl = world();
      const bytes = (g: PvDomain): Uint8Array => {
        const ctx = new Uint8Array(VCPU_CONTEXT_SIZE);
        const dv = new DataView(ctx.buffer);
        dv.setBigUint64(off('flags'), 4n, true);
        dv.setBigUint64(off('user_regs.rip'), 0x8000n, true);
        dv.setBigUint64(off('user_regs.rsp'), 0x9000n, true);
        dv.setBigUint64(off('ctrlreg') + 24, BigInt(g.p2m[0]!) * 4096n, true);
        defects[a]![1](dv, g);
        defects[b]![1](dv, g);
        return ctx;
      };
      viaHypercall.write(ARG, bytes(viaHypercall));
      const rcHypercall = viaHypercall.call(VCPU_OP, VCPUOP_initialise, 1, ARG);
      const rcDomctl = setVcpuContext(viaDomctl.d, 1, bytes(viaDomctl));
      const what = `${defects[a]![0]} + ${defects[b]![0]}`;
      expect(rcDomctl, what).toBe(rcHypercall);
      expect(viaDomctl.d.time!.vcpu(1).initialised, what).toBe(rcDomctl === 0);
      expect(viaHypercall.d.time!.vcpu(1).initialised, what).toBe(rcHypercall === 0);
      if (rcDomctl === 0) expect(hex(getVcpuContext(viaDomctl.d, viaDomctl.d.vcpus[1]!)), what).toBe(hex(getVcpuContext(viaHypercall.d, viaHypercall.d.vcpus[1]!)));
      // Frame references: a refused context took none (same type counts as before on both).
      expect(Array.from(viaDomctl.mem.typeCount), what).toEqual(Array.from(viaHypercall.mem.typeCount));
    }
  });

  it('the single defects give Xen\'s codes', () => {
    const expected: Record<string, number> = {
      'non-canonical rip': -XEN_EINVAL, '17 GDT frames': -XEN_EINVAL, 'cr3 another domain\'s frame': -XEN_EINVAL,
      'user mode without cr1': -XEN_EINVAL, 'user mode with cr1': 0, 'vm_assist junk (checked for vCPU 0 only)': 0,
      'a GDT frame of the domain': 0, 'a bad MXCSR (loaded as zeros)': 0, 'a DR7 GD bit (set_debugreg refuses, the context does not)': 0,
    };
    for (const [what, rc] of Object.entries(expected)) {
      const g = world();
      const ctx = new Uint8Array(VCPU_CONTEXT_SIZE);
      const dv = new DataView(ctx.buffer);
      dv.setBigUint64(off('flags'), 4n, true);
      dv.setBigUint64(off('ctrlreg') + 24, BigInt(g.p2m[0]!) * 4096n, true);
      defects.find(([w]) => w === what)![1](dv, g);
      expect(setVcpuContext(g.d, 1, ctx), what).toBe(rc);
    }
  });

  it('a wrong length, a vCPU id beyond max_vcpus: -EINVAL', () => {
    const g = world();
    expect(setVcpuContext(g.d, 1, new Uint8Array(100))).toBe(-XEN_EINVAL);
    expect(setVcpuContext(g.d, 2, new Uint8Array(VCPU_CONTEXT_SIZE))).toBe(-XEN_EINVAL);
    expect(setVcpuContext(g.d, -1, new Uint8Array(VCPU_CONTEXT_SIZE))).toBe(-XEN_EINVAL);
  });
});

describe('setvcpucontext on a live vCPU', () => {
  function live(g: PvDomain): Uint8Array {
    return getVcpuContext(g.d, g.v);
  }

  it('other roots, GDT or LDT: -EOPNOTSUPP and nothing changed; vCPU 0\'s vm_assist is checked', () => {
    const g = world();
    const before = live(g);
    const patches: [string, (dv: DataView) => void, number][] = [
      ['cr3', (dv) => dv.setBigUint64(off('ctrlreg') + 24, BigInt(g.p2m[1]!) * 4096n, true), -XEN_EOPNOTSUPP],
      ['cr1 without a user root', (dv) => dv.setBigUint64(off('ctrlreg') + 8, BigInt(g.p2m[0]!) * 4096n, true), -XEN_EOPNOTSUPP],
      ['user mode without a user root', (dv) => dv.setBigUint64(off('flags'), 1n, true), -XEN_EOPNOTSUPP],
      ['a GDT', (dv) => dv.setBigUint64(off('gdt_ents'), 16n, true), -XEN_EOPNOTSUPP],
      ['an LDT', (dv) => (dv.setBigUint64(off('ldt_ents'), 4n, true), dv.setBigUint64(off('ldt_base'), 0x10000n, true)), -XEN_EOPNOTSUPP],
      ['vm_assist beyond PV64_VM_ASSIST_MASK', (dv) => dv.setBigUint64(off('vm_assist'), 1n << 6n, true), -XEN_EINVAL],
      ['vm_assist m2p_strict (bit 32)', (dv) => dv.setBigUint64(off('vm_assist'), 1n << 32n, true), 0],
    ];
    for (const [what, patch, rc] of patches) {
      const ctx = before.slice();
      const dv = new DataView(ctx.buffer);
      dv.setBigUint64(off('user_regs.rax'), 0x1234n, true);
      patch(dv);
      expect(setVcpuContext(g.d, 0, ctx), what).toBe(rc);
      if (rc !== 0) expect(hex(live(g)), what).toBe(hex(before));
    }
    // A live vCPU's vm_assist is the domain's and stays (Xen applies it only to a new vCPU 0).
    expect(new DataView(live(g).buffer).getBigUint64(off('vm_assist'), true)).toBe(0n);
  });

  it('vcpu_reset then a context: the roots are re-taken, vCPU 0 applies vm_assist', () => {
    const g = world();
    const ctx = live(g);
    const l4 = g.p2m[0]!;
    const count = g.mem.typeCount[l4];
    expect(resetVcpu(g.d, 0)).toBe(0);
    expect(g.mem.typeCount[l4]).toBe(count! - 1);
    expect(g.d.time!.vcpu(0).up).toBe(false);
    new DataView(ctx.buffer).setBigUint64(off('vm_assist'), (1n << 32n) | 4n, true);
    expect(setVcpuContext(g.d, 0, ctx)).toBe(0);
    expect(g.mem.typeCount[l4]).toBe(count);
    expect(g.d.vmAssist).toBe((1 << 31) | 4);
    expect(new DataView(live(g).buffer).getBigUint64(off('vm_assist'), true)).toBe((1n << 32n) | 4n);
    expect(g.d.time!.vcpu(0).up).toBe(true);
  });
});

describe('the extended record (xen_domctl_ext_vcpucontext) and xenlab\'s', () => {
  it('round trip of the syscall32/sysenter callbacks and their flags', () => {
    const g = world();
    const ext = getVcpuExtended(g.v);
    expect(ext.length).toBe(64);
    const dv = new DataView(ext.buffer);
    expect([dv.getUint32(0, true), dv.getUint32(4, true)]).toEqual([0, 64]);
    dv.setBigUint64(8, 0xffff888000001000n, true);
    dv.setBigUint64(16, 0x400000n, true);
    dv.setUint8(28, 1);
    dv.setUint8(29, 7);
    expect(setVcpuExtended(g.d, ext)).toBe(0);
    expect([g.v.syscall32Callback, g.v.sysenterCallback, g.v.syscall32MaskEvents, g.v.sysenterMaskEvents]).toEqual([-0x777ffffff000, 0x400000, true, true]);
    const back = new DataView(getVcpuExtended(g.v).buffer);
    expect([back.getBigUint64(8, true), back.getBigUint64(16, true), back.getUint8(28), back.getUint8(29)]).toEqual([0xffff888000001000n, 0x400000n, 1, 1]);
  });

  it('refusals: no such vCPU -ESRCH; short size, non-canonical callback, MCA capabilities -EINVAL', () => {
    const g = world();
    const ext = (patch: (dv: DataView) => void): Uint8Array => {
      const b = getVcpuExtended(g.v);
      patch(new DataView(b.buffer));
      return b;
    };
    expect(setVcpuExtended(g.d, ext((dv) => dv.setUint32(0, 5, true)))).toBe(-XEN_ESRCH);
    expect(setVcpuExtended(g.d, ext((dv) => dv.setUint32(0, 1, true)))).toBe(-XEN_ESRCH); // vCPU 1 has no vCPU yet
    expect(setVcpuExtended(g.d, ext((dv) => dv.setUint32(4, 31, true)))).toBe(-XEN_EINVAL);
    expect(setVcpuExtended(g.d, ext((dv) => dv.setBigUint64(8, 0x0000800000000000n, true)))).toBe(-XEN_EINVAL);
    expect(setVcpuExtended(g.d, ext((dv) => dv.setBigUint64(32, 1n << 24n, true)))).toBe(-XEN_EINVAL);
    expect(setVcpuExtended(g.d, ext((dv) => dv.setBigUint64(32, 0x102n, true)))).toBe(0);
    expect(setVcpuExtended(g.d, ext((dv) => dv.setUint32(4, 32, true)).subarray(0, 32))).toBe(0);
    expect(setVcpuExtended(g.d, new Uint8Array(4))).toBe(-XEN_EINVAL);
  });

  it('xenlab\'s record: the I/O bitmap round trips; bad magic, size, address or port count -EINVAL', () => {
    const g = world();
    g.v.iobmp = 0x7000;
    g.v.iobmpLimit = 1024;
    const rec = getVcpuXenlab(g.v);
    g.v.iobmp = 0;
    g.v.iobmpLimit = 0;
    expect(setVcpuXenlab(g.v, rec)).toBe(0);
    expect([g.v.iobmp, g.v.iobmpLimit]).toEqual([0x7000, 1024]);
    const bad = (patch: (dv: DataView) => void): Uint8Array => {
      const b = rec.slice();
      patch(new DataView(b.buffer));
      return b;
    };
    expect(setVcpuXenlab(g.v, bad((dv) => dv.setUint32(0, 0, true)))).toBe(-XEN_EINVAL);
    expect(setVcpuXenlab(g.v, bad((dv) => dv.setBigUint64(8, 0xffff800000000000n, true)))).toBe(-XEN_EINVAL);
    expect(setVcpuXenlab(g.v, bad((dv) => dv.setUint32(16, 65537, true)))).toBe(-XEN_EINVAL);
    expect(setVcpuXenlab(g.v, rec.subarray(0, 16))).toBe(-XEN_EINVAL);
    expect([g.v.iobmp, g.v.iobmpLimit]).toEqual([0x7000, 1024]);
  });
});
