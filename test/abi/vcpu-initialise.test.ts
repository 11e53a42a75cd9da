/**
 * SMP bring-up as Linux does it (abi/hypercall/vcpu.ts, sched.ts): VCPUOP_initialise's
 * arch_set_info_guest checks (Xen 4.17, each -EINVAL, nothing changed), its GDT (pv_set_gdt:
 * descriptor-page type references, dropped again when the page-table roots fail), VGCF_online,
 * and SCHEDOP_yield handing the physical CPU to the next vCPU. A property (seeded by
 * test/support/fast-check-seed.ts, which prints the seed): random contexts never throw, fail
 * only with Xen's codes and leave a failed vCPU uninitialised.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PageType } from '../../abi/hv/machine.js';
import { XEN_EEXIST, XEN_EFAULT, XEN_EINVAL } from '../../abi/public/errno.js';
import { layout } from '../../abi/public/index.js';
import { __HYPERVISOR_vcpu_op as VCPU_OP } from '../../abi/public/xen.js';
import { runExactly, runMachine, SLICE_INSTRUCTIONS } from '../../abi/time/scheduler.js';
import { ARG, pvDomain } from './pv-domain.js';
import { CODE, CODE1, DATA, EVENT_CB, HC, L4, STACK1, asm, load, signed, world, type World } from './time-guest.js';

const OP = { initialise: 0, up: 1, is_up: 3 };
const CTX = 0x210000;
const GC = layout('vcpu_guest_context', 'x86_64');
const off = (p: string): number => GC.find(p)!.offset;
const VGCF_in_kernel = 1 << 2;
const VGCF_online = 1 << 5;

function call(w: World, nr: number, ...args: (number | bigint)[]): number {
  load(w, CODE, [...asm.hc(nr, ...args), ...asm.jmpSelf]);
  runExactly(w.v, 2 + args.length);
  return signed(BigInt(w.v.reg(0)) & 0xffffffffffffffffn);
}

/** A Linux-style kernel-mode context (cpu_initialize_context) as bytes, with `patch` applied. */
function contextBytes(rip: number, rsp: number, cr3Mfn: number, patch: (q: (p: string, v: number | bigint, at?: number) => void) => void = () => {}): Uint8Array {
  const b = new Uint8Array(GC.size);
  const dv = new DataView(b.buffer);
  const q = (p: string, v: number | bigint, at = 0): void => dv.setBigUint64(off(p) + at, BigInt.asUintN(64, BigInt(v)), true);
  q('flags', VGCF_in_kernel);
  q('user_regs.rip', rip);
  q('user_regs.rsp', rsp);
  q('user_regs.rflags', 0x1202);
  dv.setUint16(off('user_regs.cs'), 0xe033, true);
  dv.setUint16(off('user_regs.ss'), 0xe02b, true);
  q('kernel_ss', 0xe02b);
  q('kernel_sp', rsp);
  q('ctrlreg', cr3Mfn * 4096, 3 * 8);
  q('event_callback_eip', EVENT_CB);
  patch(q);
  return b;
}

function putContext(w: World, bytes: Uint8Array): void {
  new Uint8Array(w.ram.buf, CTX, bytes.length).set(bytes);
}

describe('VCPUOP_initialise: arch_set_info_guest checks', () => {
  const cases: [string, (q: (p: string, v: number | bigint, at?: number) => void) => void][] = [
    ['a non-canonical kernel_sp', (q) => q('kernel_sp', 0x0000800000000000n)],
    ['a non-canonical syscall callback', (q) => q('syscall_callback_eip', 0x8000000000000000n)],
    ['a non-canonical trap handler', (q) => q('trap_ctxt', 0x0001000000000000n, 200 * 16 + 8)],
    ['an LDT base that is not page aligned', (q) => q('ldt_base', 0x1008)],
    ['an LDT base in Xen\'s range (even with no entries)', (q) => q('ldt_base', 0xffff800000000000n)],
    ['a non-canonical LDT base (even with no entries: __addr_ok)', (q) => q('ldt_base', 0x0000800000000000n)],
    ['a non-canonical LDT base with entries', (q) => (q('ldt_base', 0x0000800000000000n), q('ldt_ents', 1))],
    ['more than 8192 LDT entries', (q) => q('ldt_ents', 8193)],
    ['an LDT entry count above 2^32', (q) => q('ldt_ents', 1n << 32n)],
    ['more than 16 GDT frames', (q) => q('gdt_ents', 16 * 512 + 1)],
    ['user mode without user page tables (ctrlreg[1])', (q) => q('flags', 0)],
    ['a GDT on a machine without the PV MMU (no descriptor-page types to take)', (q) => q('gdt_ents', 16)],
  ];
  for (const [what, patch] of cases) {
    it(`refuses ${what} with -EINVAL and leaves the vCPU as it was`, () => {
      const w = world();
      putContext(w, contextBytes(CODE1, STACK1, L4, patch));
      expect(call(w, HC.vcpu_op, OP.initialise, 1, CTX)).toBe(-XEN_EINVAL);
      expect(w.dom.time!.vcpu(1).initialised).toBe(false);
      expect(call(w, HC.vcpu_op, OP.up, 1, 0)).toBe(-XEN_EINVAL);
      // The same call with a good context then succeeds.
      putContext(w, contextBytes(CODE1, STACK1, L4));
      expect(call(w, HC.vcpu_op, OP.initialise, 1, CTX)).toBe(0);
    });
  }

  it('accepts a page-aligned LDT base below 2^47 and one above Xen\'s range', () => {
    const w = world();
    putContext(w, contextBytes(CODE1, STACK1, L4, (q) => (q('ldt_base', 0x7fff00000000), q('ldt_ents', 8192))));
    expect(call(w, HC.vcpu_op, OP.initialise, 1, CTX)).toBe(0);
    const w2 = world();
    putContext(w2, contextBytes(CODE1, STACK1, L4, (q) => (q('ldt_base', 0xffff880000000000n), q('ldt_ents', 16))));
    expect(call(w2, HC.vcpu_op, OP.initialise, 1, CTX)).toBe(0);
  });

  it('VGCF_online: the vCPU is up and runs without VCPUOP_up', () => {
    const w = world();
    putContext(w, contextBytes(CODE1, STACK1, L4, (q) => q('flags', VGCF_in_kernel | VGCF_online)));
    w.ram.bytes(CODE1, [...asm.mov(0, 0x77), ...asm.storeRax(DATA + 0x40), ...asm.jmpSelf]);
    load(w, CODE, [...asm.hc(HC.vcpu_op, OP.initialise, 1, CTX), ...asm.storeRax(DATA + 0x48), ...asm.hc(HC.vcpu_op, OP.is_up, 1, 0), ...asm.storeRax(DATA + 0x50), ...asm.jmpSelf]);
    runMachine({ xen: w.xen, domains: [w.dom], maxInstructions: 40_000 });
    expect([w.ram.i64(DATA + 0x48), w.ram.i64(DATA + 0x50), w.ram.i64(DATA + 0x40)]).toEqual([0, 1, 0x77]);
  });
});

describe('VCPUOP_initialise: the context\'s GDT (pv_set_gdt)', () => {
  /** A PV domain with two vCPUs, shared_info in one of its frames, the context at ARG. */
  function twoVcpus() {
    const g = pvDomain(undefined, 2);
    g.xen.addEvents(g.d, g.mem.view(g.p2m[50] as number));
    return g;
  }

  it('takes a descriptor-page reference on each frame and installs the GDT on the new vCPU', () => {
    const g = twoVcpus();
    const gdt = g.p2m[51] as number;
    g.write(ARG, contextBytes(0x8000, 0x9000, g.p2m[0] as number, (q) => (q('gdt_frames', gdt), q('gdt_ents', 16))));
    expect(g.call(VCPU_OP, OP.initialise, 1, ARG)).toBe(0);
    expect([g.mem.type[gdt], g.mem.typeCount[gdt]]).toEqual([PageType.SegDesc, 1]);
    const v1 = g.d.vcpus[1]!;
    expect([v1.gdtFrames, v1.gdtEnts]).toEqual([[gdt], 16]);
    expect(g.d.mmu!.vcpus[1]!.guestTable).toBe(g.p2m[0]);
    expect(g.call(VCPU_OP, OP.initialise, 1, ARG)).toBe(-XEN_EEXIST);
  });

  it('refuses a GDT frame of another domain, and drops the GDT when the roots fail', () => {
    const g = twoVcpus();
    const gdt = g.p2m[51] as number;
    g.write(ARG, contextBytes(0x8000, 0x9000, g.p2m[0] as number, (q) => (q('gdt_frames', g.other[0] as number), q('gdt_ents', 1))));
    expect(g.call(VCPU_OP, OP.initialise, 1, ARG)).toBe(-XEN_EINVAL);
    // A good GDT with a kernel root that is another domain's frame: refused, no GDT taken.
    g.write(ARG, contextBytes(0x8000, 0x9000, g.other[1] as number, (q) => (q('gdt_frames', gdt), q('gdt_ents', 1))));
    expect(g.call(VCPU_OP, OP.initialise, 1, ARG)).toBe(-XEN_EINVAL);
    expect(g.mem.typeCount[gdt]).toBe(0);
    expect(g.d.vcpus[1]?.gdtFrames ?? []).toEqual([]);
    // A user root that is a page the guest maps writable cannot become an L4: same.
    const writable = g.p2m[8] as number;
    g.write(ARG, contextBytes(0x8000, 0x9000, g.p2m[0] as number, (q) => (q('gdt_frames', gdt), q('gdt_ents', 1), q('ctrlreg', writable * 4096, 8))));
    expect(g.call(VCPU_OP, OP.initialise, 1, ARG)).toBeLessThan(0);
    expect(g.mem.typeCount[gdt]).toBe(0);
    expect(g.d.time!.vcpu(1).initialised).toBe(false);
    g.write(ARG, contextBytes(0x8000, 0x9000, g.p2m[0] as number, (q) => (q('gdt_frames', gdt), q('gdt_ents', 1))));
    expect(g.call(VCPU_OP, OP.initialise, 1, ARG)).toBe(0);
    expect(g.mem.typeCount[gdt]).toBe(1);
  });
});

describe('SCHEDOP_yield', () => {
  it('ends the slice: the next vCPU runs, so a yield loop costs one round per slice of the other', () => {
    const w = world();
    putContext(w, contextBytes(CODE1, STACK1, L4));
    const loop1 = asm.incMem(DATA + 0x08);
    w.ram.bytes(CODE1, [...loop1, ...asm.jmpBack(loop1.length)]);
    const loop0 = [...asm.incMem(DATA), ...asm.hc(HC.sched_op, 0, 0)];
    load(w, CODE, [...asm.hc(HC.vcpu_op, OP.initialise, 1, CTX), ...asm.hc(HC.vcpu_op, OP.up, 1, 0), ...loop0, ...asm.jmpBack(loop0.length)]);
    const r = runMachine({ xen: w.xen, domains: [w.dom], maxInstructions: 20 * SLICE_INSTRUCTIONS });
    const yields = Number(w.ram.u64(DATA));
    // vCPU 0 gets a turn per slice of vCPU 1 and yields at once each time.
    expect(yields).toBeGreaterThan(5);
    expect(yields).toBeLessThanOrEqual(r.slices);
    expect(Number(w.ram.u64(DATA + 0x08))).toBeGreaterThan(15 * (SLICE_INSTRUCTIONS / 4));
  });

  it('with no other vCPU runnable the yielding vCPU goes on', () => {
    const w = world();
    const loop0 = [...asm.incMem(DATA), ...asm.hc(HC.sched_op, 0, 0)];
    load(w, CODE, [...loop0, ...asm.jmpBack(loop0.length)]);
    const r = runMachine({ xen: w.xen, domains: [w.dom], maxInstructions: 10_000 });
    expect(r.instructions).toBe(10_000);
    expect(Number(w.ram.u64(DATA))).toBeGreaterThan(500);
  });
});

describe('VCPUOP_initialise (property)', () => {
  it('random contexts: never a host exception, 0 or a Xen error, a failure leaves the vCPU uninitialised', () => {
    const fieldNames = ['kernel_sp', 'ldt_base', 'ldt_ents', 'gdt_ents', 'flags', 'fs_base', 'gs_base_user', 'syscall_callback_eip', 'user_regs.rip', 'user_regs.rsp', 'user_regs.rflags'];
    const value = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 1n, 0x1000n, 8192n, 8193n, 7168n, 7169n, 0x7fffffffffffn, 0x800000000000n, 0xffff800000000000n, 0xffff880000000000n, 0xffffffff80000000n));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...fieldNames), value), { maxLength: 4 }), fc.integer({ min: 0, max: 2 }), fc.boolean(), (patches, cr3Kind, badPointer) => {
        const w = world();
        const cr3 = [L4, 0, 0x5000][cr3Kind] as number;
        putContext(w, contextBytes(CODE1, STACK1, cr3, (q) => patches.forEach(([p, v]) => q(p, v))));
        const rc = call(w, HC.vcpu_op, OP.initialise, 1, badPointer ? 0x0000900000000000 : CTX);
        expect([0, -XEN_EINVAL, -XEN_EFAULT]).toContain(rc);
        if (badPointer) expect(rc).toBe(-XEN_EFAULT);
        expect(w.dom.time!.vcpu(1).initialised).toBe(rc === 0);
        expect(w.dom.running).toBe(true);
      }),
    );
  });
});
