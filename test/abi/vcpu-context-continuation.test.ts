/**
 * A vCPU continues bit for bit from its context (abi/hypercall/vcpu-context.ts): probe-traps
 * (exceptions through the trap table, user mode, SYSCALL, the FPU/SSE, #NM and TS, segment bases)
 * is stopped at an instruction count, every vCPU's context (basic, extended, xenlab's) is taken,
 * the vCPU is clobbered — registers, flags, FPU/SSE, trap table, callbacks, control and debug
 * registers, segment bases scrambled — and the context set back; the run then goes on to the end.
 * Its console must be byte-identical to an uninterrupted run's, and end the same way.
 *
 * Two clobbers: in place (the vCPU stays initialised: setvcpucontext's live-vCPU path, which
 * keeps the roots, GDT and LDT), and after Xen's vcpu_reset (the GDT and roots dropped, the vCPU
 * down and uninitialised: the full path that re-takes them, as a restore does). A control run
 * clobbers without setting the context back and must differ, so the test can fail.
 *
 * The cut points are seeded by the run's seed (printed at the start; XENLAB_SEED repeats it).
 */
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import type { Domain } from '../../abi/hv/domain.js';
import { MachineMemory } from '../../abi/hv/machine.js';
import { PageTypes } from '../../abi/hv/page-types.js';
import { Xen } from '../../abi/hv/xen.js';
import {
  getVcpuContext, getVcpuExtended, getVcpuXenlab, resetVcpu, setVcpuContext, setVcpuExtended, setVcpuXenlab,
} from '../../abi/hypercall/vcpu-context.js';
import type { PvVcpu } from '../../abi/pv/vcpu.js';
import { runMachine, type RunResult } from '../../abi/time/scheduler.js';
import { ConsoleBackend } from '../../harness/backends/console.js';
import { loadKernelImage } from '../../harness/builder/image.js';
import { buildPv64 } from '../../harness/builder/pv64.js';
import { loadFxImage } from '../../x86/exec/fx-image.js';
import { implementedFeatures } from '../../x86/cpuid.js';

const IMAGE = fileURLToPath(new URL('../../fixtures/guests/images/probe-traps.elf', import.meta.url));
const BUDGET = 200_000_000;

interface Machine {
  readonly domain: Domain;
  run(max: number): RunResult;
  console(): string;
}

/** probe-traps on a fresh machine, as test/support/probe-guest.ts boots it, run in steps. */
async function machine(): Promise<Machine> {
  const image = await loadKernelImage(IMAGE);
  const memMiB = 16;
  const mem = new MachineMemory({ frames: 256 * (memMiB + 16), seed: 11 });
  const types = new PageTypes(mem);
  const features = new Set(implementedFeatures());
  const xen = new Xen(features);
  const b = buildPv64({ xen, machine: mem, types, image, domid: 1, name: 'probe-traps', memMiB, cmdline: '', features });
  const backend = new ConsoleBackend({ events: xen.events, domain: b.domain, page: mem.view(b.p2m[b.layout.consolePfn] as number), port: b.layout.consoleEvtchn });
  return {
    domain: b.domain,
    run: (max) => runMachine({ xen, domains: [b.domain], maxInstructions: max }),
    console: () => {
      backend.drain();
      if (backend.broken !== undefined) throw new Error(backend.broken);
      return backend.text();
    },
  };
}

/** Scrambles everything a context carries (a deterministic pattern from `k`). */
function clobber(v: PvVcpu, k: number): void {
  const c = v.cpu;
  for (let r = 0; r < 16; r++) c.setReg64(r, (0x5a5a0000 + r * 0x1111 + k) | 0, (0x0badf00d ^ r) | 0);
  c.rip = 0x123456789000 + k;
  c.setFlags(0x8d5 | 0x400);
  const junk = new DataView(new ArrayBuffer(512));
  for (let b = 0; b < 512; b += 4) junk.setUint32(b, (0x9e3779b9 * (b + k + 1)) >>> 0, true);
  junk.setUint32(24, 0x1f80 ^ 0x6000, true);
  loadFxImage(c, junk, 0, true);
  v.trapAddress.fill(0x4000);
  v.trapFlags.fill(7);
  v.eventCallback = v.failsafeCallback = v.syscallCallback = v.syscall32Callback = v.sysenterCallback = 0x7777000;
  v.failsafeMaskEvents = v.syscallMaskEvents = v.syscall32MaskEvents = v.sysenterMaskEvents = true;
  v.kernelSp = 0x1000;
  v.kernelSs = 0xe02b;
  v.virtualTs = !v.virtualTs;
  v.virtualCr2 = 0xdead000;
  v.guestCr4 = 0;
  v.iopl = 3 - v.iopl;
  v.iobmp = 0x5000;
  v.iobmpLimit = 3;
  v.dr.fill(0x8000);
  v.dr7 = 0x455;
  v.loadDebugRegisters();
  for (const s of [0, 1, 2, 3, 4, 5]) c.loadSegmentCache(s, 0xe02b, 0x1000 * s, 0xffffffff, 0xcf3);
  v.inactiveGsBase = 0x999000;
  v.kernelMode = !v.kernelMode;
}

interface Saved {
  readonly id: number;
  readonly ctx: Uint8Array;
  readonly ext: Uint8Array;
  readonly xl: Uint8Array;
}

function save(d: Domain): Saved[] {
  return d.vcpus.map((v) => ({ id: v.id, ctx: getVcpuContext(d, v), ext: getVcpuExtended(v), xl: getVcpuXenlab(v) }));
}

function restore(d: Domain, saved: readonly Saved[]): void {
  for (const s of saved) {
    expect(setVcpuContext(d, s.id, s.ctx)).toBe(0);
    const v = d.vcpus[s.id] as PvVcpu;
    expect(setVcpuExtended(d, s.ext)).toBe(0);
    expect(setVcpuXenlab(v, s.xl)).toBe(0);
    // What was set reads back as it was taken.
    expect(getVcpuContext(d, v)).toEqual(s.ctx);
    expect(getVcpuExtended(v)).toEqual(s.ext);
    expect(getVcpuXenlab(v)).toEqual(s.xl);
  }
}

type Mode = 'in-place' | 'reset' | 'no-restore';

/** The run cut at `cut` instructions, clobbered (and restored unless 'no-restore'), then to the end. */
async function interrupted(cut: number, mode: Mode): Promise<{ console: string; first: RunResult; rest: RunResult; domain: Domain }> {
  const m = await machine();
  const first = m.run(cut);
  const d = m.domain;
  const saved = save(d);
  for (const v of d.vcpus) {
    if (mode === 'reset') expect(resetVcpu(d, v.id)).toBe(0);
    clobber(v, cut);
  }
  if (mode !== 'no-restore') restore(d, saved);
  const rest = m.run(BUDGET - first.instructions);
  return { console: m.console(), first, rest, domain: d };
}

/** What a cut point is chosen for: the vCPU's state at that instruction count. */
const WANTED: readonly (readonly [string, (v: PvVcpu) => boolean])[] = [
  ['user mode', (v) => !v.kernelMode],
  ['virtual CR0.TS set', (v) => v.virtualTs],
  ['a virtual IOPL', (v) => v.iopl !== 0],
  ['x87 state other than FNINIT\'s', (v) => v.cpu.fpu.top !== 0 || v.cpu.fpu.fsw !== 0 || v.cpu.fpu.valid.some((x) => x !== 0)],
  ['a trap handler running with events masked', (v) => v.vcpuInfo?.upcallMask() === 1 && v.trapAddress[14] !== 0],
];

describe('vCPU context: a probe guest continues bit for bit', () => {
  let reference: { console: string; result: RunResult; domain: Domain; end: Saved[] } | undefined;
  async function ref(): Promise<{ console: string; result: RunResult; domain: Domain; end: Saved[] }> {
    if (reference === undefined) {
      const m = await machine();
      const result = m.run(BUDGET);
      reference = { console: m.console(), result, domain: m.domain, end: save(m.domain) };
    }
    return reference;
  }

  /** The first instruction count (in steps of 5) at which each WANTED state holds. */
  async function scan(): Promise<Map<string, number>> {
    const m = await machine();
    const found = new Map<string, number>();
    let at = 0;
    for (;;) {
      const r = m.run(5);
      at += r.instructions;
      const v = m.domain.vcpus[0] as PvVcpu;
      for (const [what, holds] of WANTED) if (!found.has(what) && holds(v)) found.set(what, at);
      if (r.reason !== 'instruction-limit' || found.size === WANTED.length) return found;
    }
  }

  it('the uninterrupted run passes every TAP point and ends', async () => {
    const r = await ref();
    expect(r.result.reason).toBe('ended');
    expect(r.console).toMatch(/^1\.\.\d+/m);
    expect(r.console).not.toMatch(/^not ok/m);
  });

  /** Cut at `cut`, clobber, restore, finish: the same console, end and final vCPU state as the reference. */
  async function check(cut: number, mode: Mode): Promise<void> {
    const r = await ref();
    const run = await interrupted(cut, mode);
    expect(run.first.reason, `cut ${cut}`).toBe('instruction-limit');
    expect(run.first.instructions).toBe(cut);
    expect(run.console, `cut ${cut} (${mode})`).toBe(r.console);
    expect(run.rest.reason).toBe(r.result.reason);
    expect(run.domain.state).toEqual(r.domain.state);
    expect(run.first.instructions + run.rest.instructions, `cut ${cut}`).toBe(r.result.instructions);
    // Every register, the FXSAVE image (XMM included), callbacks, control and debug registers.
    expect(save(run.domain), `final vCPU state after cut ${cut} (${mode})`).toEqual(r.end);
  }

  it('cut points where the vCPU is in user mode, has TS set, an IOPL, x87 state, events masked', async () => {
    const found = await scan();
    expect([...found.keys()].sort()).toEqual(WANTED.map(([w]) => w).sort());
    for (const mode of ['in-place', 'reset'] as const) for (const cut of found.values()) await check(cut, mode);
  });

  for (const mode of ['in-place', 'reset'] as const) {
    it(`${mode}: cut at seeded instruction counts, context taken, vCPU clobbered, context set: same console, same end`, async () => {
      const total = (await ref()).result.instructions;
      const seed = inject('seed') + (mode === 'reset' ? 1 : 0);
      const cuts = fc.sample(fc.integer({ min: 1, max: total - 1 }), { seed, numRuns: 4 });
      for (const cut of cuts) await check(cut, mode);
    });
  }

  it('control: the same clobber without the context set back changes the run', async () => {
    const r = await ref();
    const cut = Math.floor(r.result.instructions / 2);
    const run = await interrupted(cut, 'no-restore');
    expect(run.console === r.console && run.rest.reason === r.result.reason && run.domain.state === r.domain.state).toBe(false);
  });
});
