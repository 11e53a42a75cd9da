/**
 * Where the PV MMU's observations happened (abi/pv/guest-site.ts, PvMmu `during`/`observer`):
 * probe-mmu booted with --strict, its refusals each carry the op, Xen's error and the site of the
 * hypercall (the `syscall` in the hypercall page, the probe's call into it); an observer gets the
 * same without --strict; the emulated-instruction counts of its vCPU.
 */
import { describe, expect, it } from 'vitest';
import type { MmuDiagnostic } from '../../abi/hv/page-types.js';
import { bootGuest, loadXlConfig } from '../../harness/boot/boot.js';
import { PROBE_CONFIGS } from '../support/probe-session.js';

const K = -0x80000000; // the probes' virt_base, 0xffffffff80000000
const HYPERCALL_PAGE = K + 0x1000;

describe('PV MMU observation sites', () => {
  it("--strict: probe-mmu's refusals carry op, error and the hypercall's site (syscall in the hypercall page, the probe's call into it)", async () => {
    const r = await bootGuest({ config: loadXlConfig(`${PROBE_CONFIGS}probe-mmu.cfg`), timeoutSeconds: 10, strict: true });
    const mmu = r.domain.mmu!;
    const refused = mmu.diagnostics.filter((d) => d.code === 'refused');
    expect(refused.length).toBeGreaterThan(10);
    expect(mmu.droppedDiagnostics).toBe(0);
    const busy = refused.find((d) => d.op === 'update_va_mapping' && d.error === -16)!;
    expect(busy.message).toMatch(/^update_va_mapping 0xffffffff8001[0-9a-f]000 := 0x[0-9a-f]+ \(flags 0x2\): -EBUSY$/);
    const site = busy.site!;
    expect(site.vcpu).toBe(0);
    // __HYPERVISOR_update_va_mapping (14): the stub at 14 * 32, its syscall 8 bytes in.
    expect(site.rip).toBe(HYPERCALL_PAGE + 14 * 32 + 8);
    expect([...site.bytes.subarray(0, 5)]).toEqual([0x0f, 0x05, 0x41, 0x5b, 0x59]);
    // The return address is in the probe's code, after a 5-byte call to the stub.
    const c = site.caller!;
    expect(c.ret).toBeGreaterThan(K + 0x2000);
    expect(c.ret).toBeLessThan(K + 0x10000);
    expect(c.before[11]).toBe(0xe8);
    const rel = new DataView(c.before.buffer, c.before.byteOffset + 12, 4).getInt32(0, true);
    expect(c.ret + rel).toBe(HYPERCALL_PAGE + 14 * 32);
    // The diagnostic line `xenlab boot --strict` prints: the site without symbols.
    expect(r.diagnostics).toContainEqual(
      expect.stringMatching(/^strict: refused: update_va_mapping 0x[0-9a-f]+ := 0x[0-9a-f]+ \(flags 0x2\): -EBUSY — vcpu 0 rip 0xffffffff800011c8: syscall, called from 0xffffffff8000[0-9a-f]{4}: call +ffffffff800011c0$/),
    );
    // probe-mmu reads CR3 three times (MOV from CR3, emulated after its #GP).
    expect(r.domain.vcpus[0]!.emulated.get('mov from %cr3')).toMatchObject({ count: 3, first: { vcpu: 0, bytes: expect.any(Uint8Array) } });
  });

  it('an observer gets the observations without --strict, and --strict keeps nothing then', async () => {
    const seen: MmuDiagnostic[] = [];
    const r = await bootGuest({
      config: loadXlConfig(`${PROBE_CONFIGS}probe-mmu.cfg`),
      timeoutSeconds: 10,
      onAttached: (w) => {
        w.domain.mmu!.observer = (d) => seen.push(d);
      },
    });
    expect(r.domain.mmu!.diagnostics).toEqual([]);
    expect(seen.filter((d) => d.code === 'refused').length).toBeGreaterThan(10);
    expect(seen.every((d) => d.site !== undefined)).toBe(true);
  });
});
