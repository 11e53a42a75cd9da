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
 * `resumeSameFrames` stands in for a restore into a new domain until the toolstack has one
 * (issue 8); see there.
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
import { ConsoleScript, type ConsoleExpect } from '../../harness/boot/console-script.js';
import { consoleFaultHook, type ConsoleFaults } from '../../harness/hostile/console.js';
import { xenstoreFaultHooks, type XenStoreFaults } from '../../harness/hostile/xenstore.js';
import { implementedFeatures } from '../../x86/cpuid.js';

const SI = layout('start_info', 'x86_64');
const SHARED = layout('shared_info', 'x86_64');
const startInfoView = (page: DataView) => View.of(SI, page, 0);

export const PROBE_CONFIGS = fileURLToPath(new URL('../../fixtures/guests/', import.meta.url));

export interface SessionOptions {
  /** The guest's command line (xl.cfg extra=); default the config's. */
  readonly extra?: string;
  /** Machine-memory shuffle seed (default 7, as bootGuest). */
  readonly seed?: number;
  /** Hostile console and XenStore faults (harness/hostile/), for the first connection; their lines go to `faultLog`. */
  readonly hostile?: { readonly console?: ConsoleFaults; readonly xenstore?: XenStoreFaults };
  /** A console script answered as the first console backend drains (harness/boot/console-script.ts; no expect timeouts here). */
  readonly script?: readonly ConsoleExpect[];
}

export interface ProbeSession {
  readonly xen: Xen;
  readonly machine: MachineMemory;
  readonly domain: Domain;
  readonly built: ReturnType<typeof buildPv64>;
  /** The current xenstored (a new one after `resumeSameFrames`). */
  readonly xs: XenStore;
  /** `/local/domain/<domid>/<rel>`. */
  path(rel: string): string;
  /** Runs until system time reaches `untilNs`, the domain ends, or `maxInstructions` (default 100 M) more. */
  run(o?: { untilNs?: number; maxInstructions?: number }): RunResult;
  /** The console ring's output so far (every backend's, in order). */
  console(): string;
  /**
   * A stand-in for a restore into a new domain, on the same machine frames: the suspended domain
   * runs on with 0 from its suspend hypercall, as after a restore, and finds what a restored
   * guest finds (xg_sr_restore_x86_pv.c, libxl): its event channels closed and the store and
   * console ports allocated again, every port masked and none pending in shared_info (as libxc
   * fills them; the arch part's frame list cleared), start_info's store/console MFNs and ports
   * rewritten, a new xenstored with the domain's tree and ring introduced, a new console backend.
   * Only the frames stay: the p2m is unchanged, which a guest that checks for moved MFNs reports. `firstPort` makes the new
   * ports start there (Xen would reuse the lowest free ones: 1 and 2), so a guest that keeps
   * using the old ones is caught. Returns the new ports.
   */
  resumeSameFrames(o?: { firstPort?: number }): { storePort: number; consolePort: number };
  /** start_info as the guest sees it now. */
  startInfo(): ReturnType<typeof startInfoView>;
  /** Notifications the console backends took from the guest. */
  consoleNotifications(): number;
  /** The hostile faults as they fired (SessionOptions.hostile). */
  readonly faultLog: readonly string[];
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
  const backends: ConsoleBackend[] = [];
  let xs: XenStore | undefined;
  const faultLog: string[] = [];
  const note = (line: string): void => void faultLog.push(line);
  const connect = (storeEvtchn: number, consoleEvtchn: number): void => {
    const first = backends.length === 0;
    const cf = first ? o.hostile?.console : undefined;
    const xf = first ? o.hostile?.xenstore : undefined;
    const script = first && o.script !== undefined ? new ConsoleScript(o.script) : undefined;
    const backend: ConsoleBackend = new ConsoleBackend({
      events: xen.events,
      domain: d,
      page: machine.view(consoleMfn),
      port: consoleEvtchn,
      ...(cf !== undefined ? { faults: consoleFaultHook(cf, note) } : {}),
      ...(script !== undefined ? { output: (bytes: Uint8Array) => script.output(bytes, xen.clock.now()).forEach((reply) => backend.type(reply)) } : {}),
    });
    backends.push(backend);
    xs = new XenStore({ domainExists: (id) => id === 0 || id === d.id });
    writeDom0Tree(xs);
    introduceToXenStore(xs, xen, machine, d, cfg, { storeMfn, consoleMfn, storeEvtchn, consoleEvtchn }, xf !== undefined ? xenstoreFaultHooks(xf, note) : undefined);
  };
  connect(built.layout.storeEvtchn, built.layout.consoleEvtchn);
  const startInfo = () => startInfoView(machine.view(built.p2m[built.layout.startInfoPfn] as number));
  return {
    xen,
    machine,
    domain: d,
    built,
    get xs() {
      return xs as XenStore;
    },
    path: (rel) => `/local/domain/${d.id}/${rel}`,
    run(r = {}) {
      const res = runMachine({ xen, domains: [d], maxInstructions: r.maxInstructions ?? 100_000_000, ...(r.untilNs !== undefined ? { maxTime: r.untilNs } : {}) });
      const b = backends.at(-1) as ConsoleBackend;
      b.drain();
      if (b.broken !== undefined) throw new Error(b.broken);
      return res;
    },
    console: () => backends.map((b) => b.text()).join(''),
    consoleNotifications: () => backends.reduce((n, b) => n + b.notifications, 0),
    startInfo,
    faultLog,
    resumeSameFrames(o = {}) {
      if (!d.suspended) throw new Error('resumeSameFrames: the domain is not suspended');
      const ec = xen.events.get(d.id);
      if (ec === undefined) throw new Error(`domain ${d.id} has no event channels`);
      ec.reset();
      const placeholders: number[] = [];
      while (placeholders.length + 1 < (o.firstPort ?? 1)) placeholders.push(ec.allocUnbound(d.id, 0));
      const storePort = ec.allocUnbound(d.id, 0);
      const consolePort = ec.allocUnbound(d.id, 0);
      if (storePort < 0 || consolePort < 0) throw new Error('resumeSameFrames: no ports for store and console');
      for (const p of placeholders) ec.close(p);
      const shared = machine.view(built.layout.sharedInfoMfn);
      const mask = SHARED.field('evtchn_mask');
      const pending = SHARED.field('evtchn_pending');
      for (let i = 0; i < mask.size; i++) shared.setUint8(mask.offset + i, 0xff);
      for (let i = 0; i < pending.size; i++) shared.setUint8(pending.offset + i, 0);
      for (let v = 0; v < 32; v++) shared.setBigUint64(v * 64 + 8, 0n, true); // evtchn_pending_sel
      // libxc keeps the arch part but clears the frame list, which the guest must publish again.
      shared.setBigUint64(SHARED.field('arch.pfn_to_mfn_frame_list_list').offset, 0n, true);
      const si = startInfo();
      si.set('store_mfn', storeMfn);
      si.set('store_evtchn', storePort);
      si.set('console.domU.mfn', consoleMfn);
      si.set('console.domU.evtchn', consolePort);
      connect(storePort, consolePort);
      if (!d.resumeCancelled()) throw new Error('resumeSameFrames: the domain did not resume');
      d.vcpus[0]?.setReg(0, 0);
      return { storePort, consolePort };
    },
  };
}
