/**
 * A probe guest on a machine a test drives in steps: the domain from its xl.cfg (the PV64 builder),
 * the console backend, xenstored with the domain's libxl tree and its ring introduced (as
 * bootGuest sets them up), then `run` to a point of guest time, XenStore writes from the
 * toolstack's side in between, `run` again. For guests whose behaviour depends on what the
 * toolstack does while they run (probe-suspend's control/shutdown).
 *
 * ```ts
 * const s = await startProbe('probe-suspend', { extra: 'dirty=8' });
 * s.run({ untilNs: 5e6 });                      // 5 ms of guest time
 * s.xs.host.write(s.path('control/shutdown'), 'poweroff');
 * const r = s.run();                           // to the end (or the budget)
 * s.console();                                 // everything on the console ring so far
 * ```
 *
 * Deterministic: the same steps give the same run.
 */
import { fileURLToPath } from 'node:url';
import type { Domain } from '../../abi/hv/domain.js';
import { MachineMemory } from '../../abi/hv/machine.js';
import { PageTypes } from '../../abi/hv/page-types.js';
import { Xen } from '../../abi/hv/xen.js';
import { layout } from '../../abi/public/index.js';
import { View } from '../../abi/layout/view.js';
import { runMachine, type RunResult } from '../../abi/time/scheduler.js';
import { ConsoleBackend } from '../../harness/backends/console.js';
import { EXTRA_MACHINE_MIB, introduceToXenStore } from '../../harness/boot/boot.js';
import { loadKernelImage } from '../../harness/builder/image.js';
import { buildPv64 } from '../../harness/builder/pv64.js';
import { writeDom0Tree } from '../../harness/toolstack/xenstore-tree.js';
import { loadXlConfig } from '../../harness/toolstack/xl-cfg.js';
import { XenStore } from '../../harness/xenstore/host.js';
import { implementedFeatures } from '../../x86/cpuid.js';

const SI = layout('start_info', 'x86_64');
const startInfoView = (page: DataView) => View.of(SI, page, 0);

export const PROBE_CONFIGS = fileURLToPath(new URL('../../fixtures/guests/', import.meta.url));

export interface SessionOptions {
  /** The guest's command line (xl.cfg extra=); default the config's. */
  readonly extra?: string;
  /** Machine-memory shuffle seed (default 7, as bootGuest). */
  readonly seed?: number;
}

export interface ProbeSession {
  readonly xen: Xen;
  readonly machine: MachineMemory;
  readonly domain: Domain;
  readonly built: ReturnType<typeof buildPv64>;
  readonly xs: XenStore;
  /** `/local/domain/<domid>/<rel>`. */
  path(rel: string): string;
  /** Runs until system time reaches `untilNs`, the domain ends, or `maxInstructions` (default 100 M) more. */
  run(o?: { untilNs?: number; maxInstructions?: number }): RunResult;
  /** The console ring's output so far. */
  console(): string;
  /** start_info as the guest sees it now. */
  startInfo(): ReturnType<typeof startInfoView>;
}

export async function startProbe(name: string, o: SessionOptions = {}): Promise<ProbeSession> {
  const cfg = loadXlConfig(`${PROBE_CONFIGS}${name}.cfg`, o.extra !== undefined ? [`extra=${JSON.stringify(o.extra)}`] : []);
  const image = await loadKernelImage(cfg.kernel);
  const machine = new MachineMemory({ frames: 256 * (cfg.maxmem + EXTRA_MACHINE_MIB), seed: o.seed ?? 7 });
  const types = new PageTypes(machine);
  const features = new Set(implementedFeatures());
  const xen = new Xen(features);
  const built = buildPv64({ xen, machine, types, image, domid: 1, name: cfg.name, memMiB: cfg.memory, maxMemMiB: cfg.maxmem, cmdline: cfg.cmdline, features });
  const d = built.domain;
  const consoleMfn = built.p2m[built.layout.consolePfn] as number;
  const storeMfn = built.p2m[built.layout.storePfn] as number;
  const backend = new ConsoleBackend({ events: xen.events, domain: d, page: machine.view(consoleMfn), port: built.layout.consoleEvtchn });
  const xs = new XenStore({ domainExists: (id) => id === 0 || id === d.id });
  writeDom0Tree(xs);
  introduceToXenStore(xs, xen, machine, d, cfg, { storeMfn, consoleMfn, storeEvtchn: built.layout.storeEvtchn, consoleEvtchn: built.layout.consoleEvtchn });
  return {
    xen,
    machine,
    domain: d,
    built,
    xs,
    path: (rel) => `/local/domain/${d.id}/${rel}`,
    run(r = {}) {
      const res = runMachine({ xen, domains: [d], maxInstructions: r.maxInstructions ?? 100_000_000, ...(r.untilNs !== undefined ? { maxTime: r.untilNs } : {}) });
      backend.drain();
      if (backend.broken !== undefined) throw new Error(backend.broken);
      return res;
    },
    console: () => backend.text(),
    startInfo: () => startInfoView(machine.view(built.p2m[built.layout.startInfoPfn] as number)),
  };
}
