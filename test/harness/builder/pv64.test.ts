/**
 * The PV64 domain builder (harness/builder/pv64.ts) with Debian's cloud kernel: the boot region
 * and start_info as the reference's §1.6-1.9 lay them out, a P2M that is not the identity, the
 * initial page tables accepted by the PV MMU (pinned as an L4, page-table pages read-only), and
 * the kernel's first instructions running up to its first hypercalls. User mistakes are one line.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MachineMemory } from '../../../abi/hv/machine.js';
import { PageTypes } from '../../../abi/hv/page-types.js';
import { Xen } from '../../../abi/hv/xen.js';
import { View } from '../../../abi/layout/view.js';
import { layout } from '../../../abi/public/index.js';
import { requireFixture } from '../../../fixtures/pipeline/cache.js';
import { UserError } from '../../../harness/errors.js';
import { loadKernelImage, type KernelImage } from '../../../harness/builder/image.js';
import { buildPv64 } from '../../../harness/builder/pv64.js';
import { implementedFeatures } from '../../../x86/cpuid.js';

const features = new Set(implementedFeatures());
let kernel: KernelImage;
let grub32: KernelImage;

beforeAll(async () => {
  kernel = await loadKernelImage((await requireFixture('kernel')).file('vmlinuz'));
  grub32 = await loadKernelImage((await requireFixture('grub-xen')).file('i386-xen'));
});

function build(memMiB = 128, image = kernel) {
  const machine = new MachineMemory({ frames: 256 * (memMiB + 32), seed: 7 });
  const types = new PageTypes(machine);
  const xen = new Xen(features);
  return { machine, xen, ...buildPv64({ xen, machine, types, image, domid: 1, name: 'linux', memMiB, cmdline: 'console=hvc0 root=/dev/xvda', features }) };
}

describe('PV64 domain builder', () => {
  it('lays out the boot region and fills start_info as libxenguest does', () => {
    const b = build();
    const L = b.layout;
    const v = b.vcpu;
    // Registers: RSI = VA of start_info, RSP = top of the boot stack, RIP = the ENTRY note.
    expect(v.reg(6)).toBe(L.virtBase + L.startInfoPfn * 4096);
    expect(v.reg(4)).toBe(L.virtBase + (L.stackPfn + 1) * 4096);
    expect(v.cpu.rip).toBe(Number(BigInt.asIntN(64, kernel.entry)));
    expect(v.cpu.segSel[1]).toBe(0xe033);
    // The region ends on a 4 MiB boundary after the stack, with at least 128 pages of padding.
    expect(L.regionEndPfn % 1024).toBe(0);
    expect(L.regionEndPfn - L.stackPfn - 1).toBeGreaterThanOrEqual(128);
    const si = View.of(layout('start_info', 'x86_64'), b.machine.view(b.p2m[L.startInfoPfn]!), 0);
    expect(si.getString('magic')).toBe('xen-3.0-x86_64');
    expect(si.get('nr_pages')).toBe(128 * 256);
    expect(si.get('shared_info')).toBe(L.sharedInfoMfn * 4096);
    expect(si.get('store_mfn')).toBe(b.p2m[L.storePfn]);
    expect(si.get('console.domU.mfn')).toBe(b.p2m[L.consolePfn]);
    expect(si.get('store_evtchn')).toBe(L.storeEvtchn);
    const va = (x: number): bigint => BigInt.asUintN(64, BigInt(x));
    expect(si.getBig('pt_base')).toBe(va(L.virtBase + L.ptPfn * 4096));
    expect(si.getBig('mfn_list')).toBe(va(L.virtBase + L.p2mPfn * 4096));
    expect(si.getString('cmd_line')).toBe('console=hvc0 root=/dev/xvda');
    // The toolstack's reserved grant entries: console (0) and XenStore (1) pages to domain 0.
    const entry = (ref: number) => new DataView(b.domain.gnttab!.table.entryBytes(ref).buffer);
    expect([entry(0).getUint16(0, true), entry(0).getUint16(2, true), entry(0).getUint32(4, true)]).toEqual([1, 0, b.p2m[L.consolePfn]]);
    expect([entry(1).getUint16(0, true), entry(1).getUint16(2, true), entry(1).getUint32(4, true)]).toEqual([1, 0, b.p2m[L.storePfn]]);
    // shared_info: every legacy vcpu_info masked.
    const sh = b.machine.view(L.sharedInfoMfn);
    for (let k = 0; k < 32; k++) expect(sh.getUint8(k * 64 + 1)).toBe(1);
    // The wall clock is there before the first instruction, as Xen's arch_set_info_guest writes it
    // for vCPU 0 (GRUB, which never blocks, read 1970 without it): 2024-01-01, version even.
    const wc = View.of(layout('shared_info', 'x86_64'), sh, 0);
    expect([wc.get('wc_sec'), wc.get('wc_nsec'), wc.get('wc_sec_hi')]).toEqual([b.xen.clock.wallclock().sec, 0, 0]);
    expect(wc.get('wc_sec')).toBe(Date.UTC(2024, 0, 1) / 1000);
    expect(wc.get('wc_version') % 2).toBe(0);
    expect(wc.get('wc_version')).toBeGreaterThan(0);
  });

  it('hands over a P2M that is not the identity, readable through the guest\'s own mapping', () => {
    const b = build();
    // A seeded shuffle: a fixed point or two by chance, never a run of them.
    expect(b.p2m.filter((mfn, pfn) => mfn === pfn).length).toBeLessThan(8);
    expect(b.p2m.slice(0, 64).filter((mfn, pfn) => mfn === pfn + b.p2m[0]!).length).toBeLessThan(4);
    const buf = new Uint8Array(8 * 16);
    expect(b.vcpu.mem.read(b.layout.virtBase + b.layout.p2mPfn * 4096, buf)).toBe(true);
    const dv = new DataView(buf.buffer);
    for (let k = 0; k < 16; k++) expect(Number(dv.getBigUint64(k * 8, true))).toBe(b.p2m[k]);
  });

  it('maps the page tables read-only and the rest of the region writable', () => {
    const b = build();
    const L = b.layout;
    expect(b.vcpu.mem.write(L.virtBase + L.ptPfn * 4096, new Uint8Array(1))).toBe(false);
    expect(b.vcpu.mem.write(L.virtBase + L.stackPfn * 4096, new Uint8Array(1))).toBe(true);
  });

  it('runs the kernel through xen_start_kernel: GDT switch, own page tables, console lines, callbacks', () => {
    const b = build();
    for (let k = 0; k < 40 && b.domain.running; k++) b.vcpu.cpu.run(1_000_000);
    const calls = b.domain.stats.list();
    const result = (hypercall: string, subop = '') => calls.find((c) => c.hypercall === hypercall && c.subop === subop && c.result === 'ok')?.count ?? 0;
    expect(result('xen_version', 'XENVER_get_features')).toBe(1);
    expect(result('memory_op', 'XENMEM_machphys_mapping')).toBe(1);
    expect(result('set_gdt')).toBeGreaterThanOrEqual(1);
    expect(result('update_va_mapping')).toBeGreaterThanOrEqual(10);
    expect(result('mmuext_op')).toBeGreaterThanOrEqual(4); // pin init_top_pgt, unpin the builder's L4, NEW_BASEPTR
    expect(result('callback_op', 'CALLBACKOP_register')).toBeGreaterThanOrEqual(3); // event, failsafe, syscall
    // xen_start_kernel's own console lines, through CONSOLEIO_write.
    const out = String.fromCharCode(...b.domain.consoleOut);
    expect(out).toContain('mapping kernel into physical memory\n');
    expect(out).toContain('about to get started...\n');
  });

  it('refuses a 32-bit kernel and a memory size too small, each with one line naming the image', () => {
    expect(() => build(128, grub32)).toThrow(UserError);
    expect(() => build(128, grub32)).toThrow(/i386-xen.*cannot be built as a 64-bit PV domain/);
    expect(() => build(16)).toThrow(/needs \d+ MiB .* memory is 16 MiB/);
  });
});
