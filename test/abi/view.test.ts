/** Layout computation rules and typed views (abi/layout/). */
import { describe, expect, it } from 'vitest';
import { layoutOf } from '../../abi/layout/compute.js';
import { BufferMemory, GuestMemoryFault, type GuestMemory } from '../../abi/layout/memory.js';
import { array, byArch, only, struct, uint16_t, uint32_t, uint64_aligned_t, uint64_t, uint8_t, union, unsigned_long } from '../../abi/layout/schema.js';
import { View } from '../../abi/layout/view.js';
import { LAYOUTS, layout } from '../../abi/public/index.js';

describe('layout rules', () => {
  it('lays out uint64_t 4-aligned on x86_32 and 8-aligned on x86_64', () => {
    const t = struct('struct t', { a: uint32_t, b: uint64_t });
    expect([layoutOf(t, 'x86_64').field('b').offset, layoutOf(t, 'x86_64').size]).toEqual([8, 16]);
    expect([layoutOf(t, 'x86_32').field('b').offset, layoutOf(t, 'x86_32').size, layoutOf(t, 'x86_32').align]).toEqual([4, 12, 4]);
  });

  it('keeps uint64_aligned_t 8-aligned on both', () => {
    const t = struct('struct t', { a: uint32_t, b: uint64_aligned_t });
    for (const arch of ['x86_64', 'x86_32'] as const) {
      const l = layoutOf(t, arch);
      expect([l.field('b').offset, l.size, l.align]).toEqual([8, 16, 8]);
    }
  });

  it('sizes unions by their largest member and pads arrays of structs', () => {
    const u = union('union u', { a: uint8_t, b: array(uint16_t, 3) });
    expect([layoutOf(u, 'x86_64').size, layoutOf(u, 'x86_64').align]).toEqual([6, 2]);
    const s = struct('struct s', { x: uint32_t, y: uint8_t });
    expect(layoutOf(struct('struct w', { v: array(s, 3) }), 'x86_32').size).toBe(24);
  });

  it('picks per-architecture fields and types', () => {
    const t = struct('struct t', { a: byArch(undefined, uint64_t, uint16_t), b: only('x86_32', uint32_t), c: unsigned_long });
    expect(layoutOf(t, 'x86_64').fields.map((f) => `${f.path}@${f.offset}`)).toEqual(['a@0', 'c@8']);
    expect(layoutOf(t, 'x86_32').fields.map((f) => `${f.path}@${f.offset}`)).toEqual(['a@0', 'b@4', 'c@8']);
  });

  it('gives the figures of the reference layouts', () => {
    expect([LAYOUTS.x86_64.start_info.size, LAYOUTS.x86_32.start_info.size]).toEqual([1168, 1112]);
    expect([LAYOUTS.x86_64.shared_info.field('arch').offset, LAYOUTS.x86_32.shared_info.field('arch').offset]).toEqual([3088, 2316]);
    expect(LAYOUTS.x86_32.shared_info.field('arch.wc_sec_hi').offset).toBe(2340);
    expect([LAYOUTS.x86_64.vcpu_guest_context.size, LAYOUTS.x86_32.vcpu_guest_context.size]).toEqual([5168, 2800]);
    expect(LAYOUTS.x86_64.vcpu_guest_context.field('user_regs.rip').offset).toBe(520 + 128);
    expect(layout('multicall_entry', 'x86_32').field('result').offset).toBe(4);
    expect(() => layout('iret_context', 'x86_32')).toThrow(/no layout/);
  });

  it('merges the OUT fields of an op struct into byte ranges', () => {
    expect(LAYOUTS.x86_64.gnttab_map_grant_ref.outRanges).toEqual([[18, 14]]);
    expect(LAYOUTS.x86_64.evtchn_alloc_unbound.outRanges).toEqual([[4, 4]]);
    expect(LAYOUTS.x86_64.shared_info.directed).toBe(false);
  });
});

describe('View', () => {
  it('reads and writes every integer width with its signedness', () => {
    const v = View.alloc(LAYOUTS.x86_64.gnttab_map_grant_ref);
    v.set('status', -8);
    v.set('flags', 0xffffffff);
    v.set('dom', 0x7ff0);
    expect([v.get('status'), v.get('flags'), v.get('dom')]).toEqual([-8, 0xffffffff, 0x7ff0]);
    v.set('host_addr', 2 ** 52 + 5);
    expect([v.get('host_addr'), v.lo('host_addr'), v.hi('host_addr')]).toEqual([2 ** 52 + 5, 5, 2 ** 20]);
    expect(() => v.set('status', 70000)).toThrow(RangeError);
    expect(() => v.set('host_addr', 2 ** 53)).toThrow(RangeError);
  });

  it('gives 64-bit values beyond 2^53 exactly as halves and BigInt, rounded as a number', () => {
    const v = View.alloc(LAYOUTS.x86_64.mmu_update);
    v.set64('val', 0x00000067, 0x80000000); // an NX PTE
    expect(v.getBig('val')).toBe(0x8000000000000067n);
    expect([v.lo('val'), v.hi('val')]).toEqual([0x67, 0x80000000]);
    expect(v.get('val')).toBe(Number(0x8000000000000067n));
    v.setBig('ptr', (1n << 64n) - 1n);
    expect([v.lo('ptr'), v.hi('ptr')]).toEqual([0xffffffff, 0xffffffff]);
  });

  it('reaches nested structs, arrays and array elements', () => {
    const si = View.alloc(LAYOUTS.x86_64.shared_info);
    si.elem('vcpu_info', 3).at('time').set('version', 7);
    expect(si.getBytes('vcpu_info')[3 * 64 + 32]).toBe(7);
    si.setAt('evtchn_pending', 1, 2 ** 40);
    expect([si.loAt('evtchn_pending', 1), si.hiAt('evtchn_pending', 1)]).toEqual([0, 256]);
    expect(() => si.getAt('evtchn_pending', 64)).toThrow(RangeError);
    const st = View.alloc(LAYOUTS.x86_32.start_info);
    st.set('console.domU.evtchn', 9);
    expect(st.get('console.dom0.info_size')).toBe(9);
  });

  it('stores strings NUL-terminated and truncated', () => {
    const v = View.alloc(LAYOUTS.x86_64.start_info);
    v.setString('magic', 'xen-3.0-x86_64');
    expect(v.getString('magic')).toBe('xen-3.0-x86_64');
    const e = View.alloc(layout('xen_compile_info', 'x86_64'));
    e.setString('compile_by', 'a'.repeat(40));
    expect(e.getString('compile_by')).toBe('a'.repeat(15));
  });

  it('over GuestMemory reads the same bytes, and faults as GuestMemoryFault', () => {
    const bytes = new Uint8Array(64);
    const mem = new BufferMemory(bytes, 0x1000);
    const v = View.of(LAYOUTS.x86_32.evtchn_bind_virq, mem, 0x1010);
    v.set('virq', 1);
    v.set('port', 0xdeadbeef);
    expect([bytes[16], bytes[24], bytes[27]]).toEqual([1, 0xef, 0xde]);
    const off = View.of(LAYOUTS.x86_32.evtchn_bind_virq, mem, 0x103c);
    expect(() => off.get('port')).toThrow(GuestMemoryFault);
  });

  it('copyIn takes a private copy; copyOut writes back only the OUT fields', () => {
    const bytes = new Uint8Array(16).fill(0xaa);
    const mem: GuestMemory = new BufferMemory(bytes);
    const arg = View.copyIn(LAYOUTS.x86_64.evtchn_alloc_unbound, mem, 4);
    if (arg === undefined) throw new Error('copyIn failed');
    bytes[4] = 0; // the guest changes its copy: ours keeps what was read
    expect(arg.get('dom')).toBe(0xaaaa);
    arg.set('dom', 1);
    arg.set('port', 5);
    expect(arg.copyOut(mem, 4)).toBe(true);
    expect([...bytes.subarray(4, 12)]).toEqual([0, 0xaa, 0xaa, 0xaa, 5, 0, 0, 0]);
    expect(View.copyIn(LAYOUTS.x86_64.evtchn_alloc_unbound, mem, 12)).toBeUndefined();
    expect(() => View.alloc(LAYOUTS.x86_64.shared_info).copyOut(mem, 0)).toThrow(/no IN\/OUT/);
  });

  it('checks paths at compile time', () => {
    const v = View.alloc(LAYOUTS.x86_64.start_info);
    // @ts-expect-error not a field of start_info
    expect(() => v.get('console.domU.port')).toThrow(/not an integer field/);
    // @ts-expect-error eip is x86_32's name
    expect(() => View.alloc(LAYOUTS.x86_64.iret_context).get('eip')).toThrow();
  });
});
