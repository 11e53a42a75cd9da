/**
 * The pv.strict check (conformance/checks/pv-mmu.ts): the PV MMU's refusals and suspicious
 * observations fail it, each with vCPU, RIP, the instruction and the function; update_va_mapping
 * without a flush and the privileged instructions Xen emulated are listed on a pass. Then real
 * runs: probe-mmu's deliberately broken mode (mmu=naive) caught with its RIP, disassembly and
 * symbol; clean probes pass; collecting changes nothing the guest sees.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { MmuDiagnostic } from '../../abi/hv/page-types.js';
import type { GuestSite } from '../../abi/pv/guest-site.js';
import { describeSite, MAX_GROUPS, PvStrictObserver, type Symbolizer } from '../../conformance/checks/pv-mmu.js';
import { runConformance } from '../../conformance/run.js';
import { BUILTIN_PROFILES } from '../../conformance/profile.js';
import { bootGuest, loadXlConfig } from '../../harness/boot/boot.js';
import { parseElf } from '../../harness/elf.js';
import { elfSymbols, symbolAt } from '../../harness/kernel-symbols.js';
import { ROOT } from '../support/cli.js';
import { PROBE_CONFIGS } from '../support/probe-session.js';

const K = -0x80000000; // 0xffffffff80000000
const SYMS: Symbolizer = (a) => symbolAt([{ address: 0xffffffff80001000n, name: 'hypercall_page' }, { address: 0xffffffff80004c20n, name: 'set_pte' }], a);

/** A hypercall-page syscall at +0x1c8 called from set_pte+0x1b (`call hypercall_page+0x1c0`, 5 bytes ending at +0x20). */
function stubSite(): GuestSite {
  const ret = K + 0x4c40;
  const before = new Uint8Array(16).fill(0x90);
  const rel = K + 0x11c0 - ret;
  before.set([0xe8, rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >> 24) & 0xff], 11);
  return { vcpu: 0, rip: K + 0x11c8, bytes: Uint8Array.from([0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3]), caller: { ret, before } };
}

const refusal = (site?: GuestSite): MmuDiagnostic => ({
  code: 'refused',
  op: 'update_va_mapping',
  error: -16,
  domid: 1,
  message: 'update_va_mapping 0xffffffff8001b000 := 0x2362063 (flags 0x2): -EBUSY',
  ...(site !== undefined ? { site } : {}),
});

describe('pv.strict observations', () => {
  it('a clean run passes with "no observations"', () => {
    expect(new PvStrictObserver().result()).toEqual({ status: 'pass', detail: 'no observations' });
  });

  it('a refusal fails the check: one line with the op, the error, RIP, the instruction and, through the stub, the caller and its call', () => {
    const o = new PvStrictObserver();
    o.observe(refusal(stubSite()));
    o.observe(refusal(stubSite()));
    expect(o.result(SYMS)).toEqual({
      status: 'fail',
      detail:
        'refused: update_va_mapping 0xffffffff8001b000 := 0x2362063 (flags 0x2): -EBUSY (2 times) — vcpu 0 rip 0xffffffff800011c8 <hypercall_page+0x1c8>: syscall, ' +
        'called from 0xffffffff80004c3b <set_pte+0x1b>: call   ffffffff800011c0 <hypercall_page+0x1c0>',
    });
  });

  it('a raw syscall or a faulting instruction is its own site; unmapped bytes and no symbols say so', () => {
    expect(describeSite({ vcpu: 1, rip: K + 0x4c30, bytes: Uint8Array.from([0x48, 0x89, 0x02]) }, SYMS)).toBe('vcpu 1 rip 0xffffffff80004c30 <set_pte+0x10>: mov    %rax,(%rdx)');
    expect(describeSite({ vcpu: 0, rip: 0x24e, bytes: new Uint8Array(0) }, SYMS)).toBe('vcpu 0 rip 0x24e: (not mapped)');
  });

  it('suspicious observations fail; update_va_mapping without a flush and emulated instructions are listed on a pass', () => {
    const site: GuestSite = { vcpu: 0, rip: K + 0x4c30, bytes: Uint8Array.from([0x0f, 0x05]) };
    const noted = new PvStrictObserver();
    noted.observe({ code: 'uvm-no-flush', domid: 1, message: 'update_va_mapping removed or downgraded the mapping of 0xffffffff8001e000 without a flush flag', site });
    noted.emulatedOn(new Map([['out port 0x70', { count: 3, first: { vcpu: 0, rip: K + 0x4c40, bytes: Uint8Array.from([0xe6, 0x70]) } }]]));
    expect(noted.result(SYMS)).toEqual({
      status: 'pass',
      detail: [
        'no refused or suspicious PV MMU operation',
        'accepted and noted (Xen does them as asked; Linux relies on both):',
        '  suspicious (uvm-no-flush): update_va_mapping removed or downgraded the mapping of 0xffffffff8001e000 without a flush flag — vcpu 0 rip 0xffffffff80004c30 <set_pte+0x10>: syscall',
        'privileged instructions the guest kernel relied on Xen to emulate (legal, each a trap):',
        '  out port 0x70: 3 times, first vcpu 0 rip 0xffffffff80004c40 <set_pte+0x20>: out    %al,$0x70',
      ].join('\n'),
    });
    const bad = new PvStrictObserver();
    bad.observe({ code: 'global-kernel-page', domid: 1, message: 'L1 entry 3 of frame 0x42 maps a guest-kernel page with GLOBAL set', site });
    expect(bad.result(SYMS)).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^suspicious \(global-kernel-page\): L1 entry 3 .* <set_pte\+0x10>: syscall$/) });
  });

  it("Linux's own observations pass (a Debian 6.1 run): mmu_update on tables it has not pinned, update_va_mapping without a flush", () => {
    const o = new PvStrictObserver();
    const site: GuestSite = { vcpu: 1, rip: K + 0x1a043a3, bytes: Uint8Array.from([0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3]) };
    for (let k = 0; k < 633; k++) o.observe({ code: 'mmu-update-plain-write', domid: 1, mfn: 0x116a3, message: 'mmu_update wrote entry 510 of frame 0x116a3, which is not a page table: Xen does a plain write', site });
    o.observe({ code: 'uvm-no-flush', domid: 1, message: 'update_va_mapping removed or downgraded the mapping of 0xffffffff83025000 without a flush flag: a stale TLB entry may survive', site });
    const r = o.result();
    expect(r.status).toBe('pass');
    expect(r.detail!.split('\n').slice(0, 3)).toEqual([
      'no refused or suspicious PV MMU operation',
      'accepted and noted (Xen does them as asked; Linux relies on both):',
      '  suspicious (mmu-update-plain-write): mmu_update wrote entry 510 of frame 0x116a3, which is not a page table: Xen does a plain write (633 times) — vcpu 1 rip 0xffffffff81a043a3: syscall',
    ]);
  });

  it('groups by kind and RIP, and bounds what it keeps (a hostile flood)', () => {
    const o = new PvStrictObserver();
    for (let k = 0; k < MAX_GROUPS + 5; k++) o.observe(refusal({ vcpu: 0, rip: K + k, bytes: new Uint8Array(0) }));
    o.observe(refusal({ vcpu: 0, rip: K, bytes: new Uint8Array(0) }));
    expect(o.findings()).toHaveLength(MAX_GROUPS);
    expect(o.findings()[0]!.count).toBe(2);
    const lines = o.result().detail!.split('\n');
    expect(lines).toHaveLength(MAX_GROUPS + 1);
    expect(lines.at(-1)).toBe(`… and 5 more observations (only the first ${MAX_GROUPS} kinds and places are kept)`);
  });

  it("the probe images keep their ELF symbols: probe-mmu's naive functions are named", () => {
    const file = `${PROBE_CONFIGS}images/probe-mmu.elf`;
    const syms = elfSymbols({ elf: parseElf(new Uint8Array(readFileSync(file)), file) });
    const naive = syms.find((s) => s.name === 'naive_map_writable');
    expect(naive).toBeDefined();
    expect(symbolAt(syms, Number(BigInt.asIntN(64, naive!.address)) + 5)).toBe('naive_map_writable+0x5');
  });
});

describe('pv.strict in a conformance run', () => {
  const pvStrict = (g: { tests: readonly { check?: { id: string }; status: string; detail?: string }[] }) => g.tests.find((t) => t.check?.id === 'pv.strict');

  it("catches probe-mmu's naive port (mmu=naive): the refused writable mapping of its L1, its refused direct store into the L1, the emulated RTC ports, with RIP, disassembly and function", async () => {
    const r = await runConformance({
      profiles: [{ name: 'naive-mmu', description: 'probe-mmu mmu=naive: a deliberately broken port', config: `${PROBE_CONFIGS}probe-mmu.cfg`, overrides: ['extra=mmu=naive'], expectEnd: 'poweroff', timeoutSeconds: 5 }],
      root: ROOT,
      version: 'test',
    });
    const g = r.guests[0]!;
    expect(g.tests.filter((t) => t.source === 'guest').map((t) => t.status)).toEqual(['pass']);
    const t = pvStrict(g);
    expect(t).toMatchObject({ status: 'fail', source: 'harness', check: { id: 'pv.strict' } });
    const lines = t!.detail!.split('\n');
    expect(lines[0]).toMatch(
      /^refused: update_va_mapping 0xffffffff8001[0-9a-f]000 := 0x[0-9a-f]+063 \(flags 0x2\): -EBUSY — vcpu 0 rip 0xffffffff800011c8 <hypercall_page\+0x1c8>: syscall, called from 0xffffffff8000[0-9a-f]{4} <naive_map_writable\+0x[0-9a-f]+>: call +ffffffff800011c0 <hypercall_page\+0x1c0>$/,
    );
    expect(lines[1]).toMatch(
      /^refused: write to an L1 page table \(writable page tables\) entry 1 of frame 0x[0-9a-f]+ := 0x[0-9a-f]+063: -EBUSY — vcpu 0 rip 0xffffffff8000[0-9a-f]{4} <naive_set_pte\+0x[0-9a-f]+>: mov +%rax,\(%r[a-z0-9]+\)$/,
    );
    expect(lines.slice(2)).toEqual([
      'privileged instructions the guest kernel relied on Xen to emulate (legal, each a trap):',
      expect.stringMatching(/^ {2}out port 0x70: 1 time, first vcpu 0 rip 0xffffffff8000[0-9a-f]{4} <naive_read_rtc\+0x[0-9a-f]+>: out +%al,\$0x70$/),
      expect.stringMatching(/^ {2}in port 0x71: 1 time, first vcpu 0 rip 0xffffffff8000[0-9a-f]{4} <naive_read_rtc\+0x[0-9a-f]+>: in +\$0x71,%al$/),
    ]);
  });

  it('clean probes pass (probe-traps with its emulated instructions listed); probe-mmu proper is not applicable, with the reason', async () => {
    const names = ['probe-basics', 'probe-traps', 'probe-mmu'];
    const r = await runConformance({ profiles: BUILTIN_PROFILES.filter((p) => names.includes(p.name)), root: ROOT, version: 'test' });
    const [basics, traps, mmu] = r.guests.map(pvStrict);
    expect(basics).toMatchObject({ status: 'pass', detail: 'no observations' });
    expect(traps).toMatchObject({ status: 'pass' });
    expect(traps!.detail!.split('\n')).toContainEqual(expect.stringMatching(/^ {2}rdmsr 0xc0000080: 1 time, first vcpu 0 rip 0x[0-9a-f]+ <msr_at\+0x0>: rdmsr$/));
    expect(mmu).toMatchObject({ status: 'skip', detail: expect.stringMatching(/^not applicable: it asks for what Xen must refuse/) });
  });

  it('collecting changes nothing the guest sees: probe-mmu boots to the same console and instruction count as a plain boot', async () => {
    const config = loadXlConfig(`${PROBE_CONFIGS}probe-mmu.cfg`);
    const plain = await bootGuest({ config, timeoutSeconds: 10 });
    const r = await runConformance({ profiles: BUILTIN_PROFILES.filter((p) => p.name === 'probe-mmu'), root: ROOT, version: 'test' });
    expect(r.guests[0]!.console).toBe(plain.console);
    expect(r.guests[0]!.instructions).toBe(plain.instructions);
    // And with --strict on top: the same again.
    const strict = await bootGuest({ config, timeoutSeconds: 10, strict: true });
    expect(strict.console).toBe(plain.console);
    expect(strict.instructions).toBe(plain.instructions);
    expect(strict.diagnostics.filter((d) => d.startsWith('strict: refused: ')).length).toBeGreaterThan(10);
  });
});
