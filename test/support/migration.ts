/**
 * Helpers of the live-migration tests (harness/toolstack/migrate.ts): a probe-suspend source, a
 * second host, the page-by-page comparison of the guest's memory at the stop with the
 * destination's (canonical pages: tables by PFN), the source's teardown, and the destination run.
 */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { GrantHub } from '../../abi/gnttab/grants.js';
import { MachineMemory } from '../../abi/hv/machine.js';
import { PageTypes } from '../../abi/hv/page-types.js';
import { Xen } from '../../abi/hv/xen.js';
import { runMachine } from '../../abi/time/scheduler.js';
import { parseGuestTap } from '../../conformance/tap.js';
import { ConsoleBackend } from '../../harness/backends/console.js';
import { EXTRA_MACHINE_MIB, introduceToXenStore } from '../../harness/boot/boot.js';
import { destroyDomain, DomainSaver, type RestoredDomain, type RestoreHost } from '../../harness/toolstack/checkpoint.js';
import { DomainImageReader } from '../../harness/toolstack/domain-image.js';
import { inProcessTransport, migrateLive, MigrationReceiver, type MigrateOptions, type MigrationReport, type MigrationTransport } from '../../harness/toolstack/migrate.js';
import { writeDom0Tree } from '../../harness/toolstack/xenstore-tree.js';
import { loadXlConfig } from '../../harness/toolstack/xl-cfg.js';
import { XenStore } from '../../harness/xenstore/host.js';
import { implementedFeatures } from '../../x86/cpuid.js';
import { PROBE_CONFIGS, startProbe, type ProbeSession } from './probe-session.js';

export const MS = 1_000_000;
const CFG = `${PROBE_CONFIGS}probe-suspend.cfg`;

export interface Host extends RestoreHost {
  readonly seed: number;
}

export function newHost(seed: number): Host {
  const cfg = loadXlConfig(CFG);
  const machine = new MachineMemory({ frames: 256 * (cfg.maxmem + EXTRA_MACHINE_MIB), seed });
  const types = new PageTypes(machine);
  return { seed, machine, types, xen: new Xen(new Set(implementedFeatures())), grants: new GrantHub(machine, { types }) };
}

/** The source side of a probe-suspend migration. */
export function sourceOptions(s: ProbeSession, transport: MigrationTransport, extra: Partial<MigrateOptions> = {}): MigrateOptions {
  return {
    source: { machine: s.machine, xen: s.xen, domain: s.domain, config: loadXlConfig(CFG), xenstore: s.xs },
    transport,
    runGuestFor: (ns) => {
      s.run({ untilNs: s.xen.clock.now() + ns, maxInstructions: 400_000_000 });
    },
    requestSuspend: () => s.xs.host.write(s.path('control/shutdown'), 'suspend'),
    ...extra,
  };
}

const sha = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex');

/**
 * Hashes of the source's pages as they are now (suspended), canonical (tables by PFN), by PFN;
 * without start_info and the p2m frames, which the restore rewrites on purpose.
 */
export function sourcePages(s: ProbeSession): Map<number, string> {
  const saver = new DomainSaver({ machine: s.machine, xen: s.xen, domain: s.domain, config: loadXlConfig(CFG) });
  const skip = new Set([s.built.layout.startInfoPfn, ...saver.image.p2m.framePfns]);
  const out = new Map<number, string>();
  for (const e of saver.image.pages(saver.allPfns()).entries) if (e.data !== undefined && !skip.has(e.pfn)) out.set(e.pfn, sha(e.data));
  return out;
}

export function destinationPages(host: Host, r: RestoredDomain, pfns: Iterable<number>): Map<number, string> {
  const reader = new DomainImageReader(host.machine, r.domain.id, { size: r.p2m.length, mfns: Float64Array.from(r.p2m), framePfns: [] });
  const out = new Map<number, string>();
  for (const e of reader.pages([...pfns]).entries) if (e.data !== undefined) out.set(e.pfn, sha(e.data));
  return out;
}

/** The destination's console and XenStore for the restored domain, as after `xl migrate`. */
export function attach(host: Host, r: RestoredDomain) {
  const d = r.domain;
  const console = new ConsoleBackend({ events: host.xen.events, domain: d, page: host.machine.view(r.consoleMfn), port: r.consoleEvtchn });
  const xs = new XenStore({ domainExists: (id) => id === 0 || id === d.id });
  writeDom0Tree(xs);
  introduceToXenStore(xs, host.xen, host.machine, d, r.config, r);
  return { console, xs };
}

/** Destroys the source domain and checks it left nothing on its host. */
export function destroySource(s: ProbeSession): void {
  const d = s.domain;
  const types = d.mmu?.types;
  const grants = d.gnttab?.hub;
  if (types === undefined || grants === undefined) throw new Error('probe domain without PV MMU or grant table');
  destroyDomain({ xen: s.xen, machine: s.machine, types, grants }, d);
  expect(s.xen.events.get(d.id)).toBeUndefined();
  expect(grants.get(d.id)).toBeUndefined();
  expect(Array.from(s.machine.owner).filter((o) => o === d.id).length).toBe(0);
}

export interface Migrated {
  readonly s: ProbeSession;
  readonly report: MigrationReport;
  readonly host: Host;
  readonly restored: RestoredDomain;
  readonly mismatched: number[];
  readonly compared: number;
}

/** probe-suspend from `startNs` on, migrated in-process; memory compared; the source destroyed. */
export async function migrateProbe(extra: string, o: { startNs?: number; bandwidth?: number; seed?: number; maxRounds?: number } = {}): Promise<Migrated> {
  const s = await startProbe('probe-suspend', { extra });
  s.run({ untilNs: o.startNs ?? 5 * MS });
  const rx = new MigrationReceiver('in-process migration');
  const report = await migrateLive(
    sourceOptions(s, inProcessTransport(rx), {
      ...(o.bandwidth !== undefined ? { bandwidthBitsPerSecond: o.bandwidth } : {}),
      ...(o.maxRounds !== undefined ? { maxRounds: o.maxRounds } : {}),
    }),
  );
  expect(s.domain.suspended).toBe(true);
  const atStop = sourcePages(s);
  const host = newHost(o.seed ?? 99);
  const restored = rx.finish(host, 5);
  const there = destinationPages(host, restored, atStop.keys());
  const mismatched = [...atStop.keys()].filter((pfn) => atStop.get(pfn) !== there.get(pfn));
  destroySource(s);
  return { s, report, host, restored, mismatched, compared: atStop.size };
}

/** Runs the restored guest to its end (suspends=1: one more round over its buffer, then poweroff). */
export function runToEnd(m: Migrated): { text: string; failed: string[] } {
  const { console } = attach(m.host, m.restored);
  const r = runMachine({ xen: m.host.xen, domains: [m.restored.domain], maxInstructions: 300_000_000 });
  console.drain();
  expect(r.reason).toBe('ended');
  expect(m.restored.domain.state).toEqual({ kind: 'shutdown', reason: 0, code: 0 });
  const text = m.s.console() + console.text();
  const t = parseGuestTap(text);
  return { text, failed: t.tests.filter((x) => x.status !== 'pass').map((x) => `${x.name} ${x.detail ?? ''}`) };
}

