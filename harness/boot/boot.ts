/**
 * Booting a guest from its xl.cfg, headless: the programmatic face of `xenlab boot` that the
 * conformance harness and the tests use (docs/boot.md).
 *
 * One boot: a machine with frames for maxmem plus 32 MiB (Xen's M2P, the low MiB, page tables),
 * the kernel built as a PV64 domU (harness/builder/pv64.ts), the console backend bound to the
 * guest's console ring (start_info console page and event channel), then the deterministic
 * scheduler (abi/time/scheduler.ts) until the domain ends or a limit is reached. The ring is
 * drained once more at the end, for bytes the guest wrote without notifying.
 *
 * How the domain ended decides what happens next, as xl's on_poweroff/on_reboot/on_crash/
 * on_watchdog/on_soft_reset say: "destroy" ends the run; "restart" builds the domain again from
 * the same config and boots it (same domid, same seed: the same boot again) up to MAX_RESTARTS
 * times. The other actions are taken as the nearest of those two (xl-cfg.ts `honouredAction`).
 *
 * Console input (console-session.ts): a `script` answers the guest at the drains (deterministic);
 * host `input` (a terminal, a pipe) is typed as it arrives, the machine yielding to the event
 * loop meanwhile; `consoleLog` keeps the output in a file.
 *
 * Deterministic: the same config, seed and script give the same console bytes, Xen log and end,
 * whatever the host, unless `realtime` or host `input` is set. Wall time is only measured for the
 * report and progress.
 */
import { readFileSync } from 'node:fs';
import type { Domain } from '../../abi/hv/domain.js';
import { MachineMemory } from '../../abi/hv/machine.js';
import { PageTypes } from '../../abi/hv/page-types.js';
import { Xen } from '../../abi/hv/xen.js';
import {
  SHUTDOWN_crash,
  SHUTDOWN_poweroff,
  SHUTDOWN_reboot,
  SHUTDOWN_soft_reset,
  SHUTDOWN_suspend,
  SHUTDOWN_watchdog,
} from '../../abi/public/sched.js';
import { implementedFeatures } from '../../x86/cpuid.js';
import { ConsoleBackend } from '../backends/console.js';
import { loadKernelImage } from '../builder/image.js';
import { buildPv64 } from '../builder/pv64.js';
import { writeDom0Tree, writeDomainTree } from '../toolstack/xenstore-tree.js';
import { XenStore } from '../xenstore/host.js';
import { XenStoreRing } from '../xenstore/ring.js';
import { UserError } from '../errors.js';
import { honouredAction, type DomainConfig, type ShutdownAction } from '../toolstack/xl-cfg.js';
import { ConsoleSession, type ConsoleInput } from './console-session.js';
import type { ConsoleExpect } from './console-script.js';
import { attachDisks, detachDisks, finishDisks, openDisks, type DiskWrites } from './disks.js';
import { attachVifs, detachVifs, VirtualNetwork, type AttachedVif } from './vifs.js';
import type { VbdBackend } from '../backends/blkback-xenbus.js';
import { HostileBoot } from '../hostile/run.js';
import type { HostilePlan } from '../hostile/plan.js';
import { consoleFaultHook } from '../hostile/console.js';
import { xenstoreFaultHooks, type XenStoreFaultHooks } from '../hostile/xenstore.js';
import { nodeHostClock } from './host-clock.js';
import { strictDiagnostic } from '../guest-site-text.js';

export { loadXlConfig, parseXlConfig, type DomainConfig } from '../toolstack/xl-cfg.js';

export interface BootOptions {
  /** From loadXlConfig(path) or parseXlConfig(text, file). */
  readonly config: DomainConfig;
  /** Guest (virtual) seconds before the run ends as 'timeout'; default none. */
  readonly timeoutSeconds?: number;
  /** Guest instructions (every vCPU, every restart) before the run ends as 'instruction-limit'. */
  readonly maxInstructions?: number;
  /** `--realtime`: the guest's clock follows the host's wall clock (runs no longer repeat). */
  readonly realtime?: boolean;
  /** `--strict`: the PV MMU's suspicious-but-accepted observations become diagnostics. */
  readonly strict?: boolean;
  /** Machine-memory shuffle seed (default DEFAULT_SEED). */
  readonly seed?: number;
  /** Console ring output as it is drained. */
  readonly onConsole?: (bytes: Uint8Array) => void;
  /** CONSOLEIO_write output, line by line (without the newline). */
  readonly onXenLog?: (line: string) => void;
  /** Each boot's XenStore, once the domain's tree is written and it is introduced (tools, sockets, tests). */
  readonly onXenStore?: (xs: XenStore, domid: number) => void;
  /** XenStore trace lines (every message in and out). */
  readonly onXenStoreTrace?: (line: string) => void;
  /**
   * Each boot's world once its backends are attached (before the guest runs), and again when the
   * guest has stopped, before the backends are detached: the conformance checks look at grant
   * tables, event channels and rings here (conformance/checks/).
   */
  readonly onAttached?: (w: BootWorld) => void;
  readonly onEnded?: (w: BootWorld) => void;
  /** About once a second of wall time: totals so far. */
  readonly onProgress?: (p: { instructions: number; guestNs: number }) => void;
  /** After every scheduler slice: instructions so far (every restart) and the domain; a guest profiler samples its vCPUs' RIP here (harness/bench/guest-profile.ts). */
  readonly onSlice?: (instructions: number, domain: Domain) => void;
  /** Console script: expect/send steps, matched as the console is drained (deterministic; console-script.ts). */
  readonly script?: readonly ConsoleExpect[];
  /** Default guest seconds a script step waits (DEFAULT_EXPECT_TIMEOUT_SECONDS). */
  readonly expectTimeoutSeconds?: number;
  /** Host input typed into the console as it arrives (a terminal, a pipe): the run no longer repeats. */
  readonly input?: ConsoleInput;
  /** File that gets the domain's console output (created or truncated). */
  readonly consoleLog?: string;
  /**
   * Writable disks: 'overlay' (default) keeps the guest's writes in memory and never touches the
   * image file; 'through' writes the file (disks.ts).
   */
  readonly diskWrites?: DiskWrites;
  /** Directory that gets each disk as the guest left it, `<vdev>.img`, when the run ends. */
  readonly diskExportDir?: string;
  /**
   * A hostile-backend fault plan (harness/hostile/plan.ts): each boot's disks and vifs get its
   * fault hooks, their guest-time faults run as the domain's deferred host work (BootWorld.hostile).
   */
  readonly hostile?: HostilePlan;
}

/** One boot's hypervisor, domain and backends (BootOptions.onAttached/onEnded). */
export interface BootWorld {
  readonly xen: Xen;
  readonly machine: MachineMemory;
  readonly domain: Domain;
  readonly xenstore: XenStore;
  readonly console: ConsoleBackend;
  readonly vbds: readonly VbdBackend[];
  readonly vifs: readonly AttachedVif[];
  /** The domain's XenStore ring as xenstored's transport. */
  readonly store?: XenStoreRing;
  /** The boot's hostile backends (BootOptions.hostile): their fault log. */
  readonly hostile?: HostileBoot;
}

export type BootEnd =
  | 'poweroff'
  | 'reboot'
  | 'suspend'
  | 'crash'
  | 'watchdog'
  | 'soft_reset'
  | 'timeout'
  | 'stalled'
  | 'instruction-limit'
  | 'expect-timeout'
  | 'saved'
  | 'migrated';

export interface BootResult {
  readonly end: BootEnd;
  /** EXIT_CODES[end]. */
  readonly exitCode: number;
  /** One line: how it ended, e.g. "domain 1 shut down: SHUTDOWN_poweroff code 0". */
  readonly detail: string;
  /** The console ring's log (every boot, when the domain was restarted). */
  readonly console: string;
  /** CONSOLEIO_write output. */
  readonly xenLog: string;
  /** The domain of the last boot: state, hypercall stats. */
  readonly domain: Domain;
  /** The last boot's XenStore (its tree as the run left it). */
  readonly xenstore: XenStore;
  readonly instructions: number;
  /** Guest time, summed over the boots. */
  readonly guestNs: number;
  readonly wallMs: number;
  /** Console ring broken, `--strict` observations, restarts. */
  readonly diagnostics: readonly string[];
  /** The kernel's XENFEAT masks from its ELF notes (FEATURES, SUPPORTED_FEATURES; submap 0), for reports. */
  readonly kernelFeatures?: { readonly required: number; readonly supported: number; readonly text?: string };
}

/** Exit status per end (docs/boot.md); 1 and 2 are the CLI's user and usage errors. */
export const EXIT_CODES: Readonly<Record<BootEnd, number>> = {
  poweroff: 0,
  crash: 3,
  reboot: 4,
  suspend: 5,
  watchdog: 6,
  soft_reset: 7,
  timeout: 124,
  stalled: 125,
  'instruction-limit': 126,
  'expect-timeout': 123,
  // Saved and destroyed (`xl save`): the checkpoint holds it; nothing went wrong.
  saved: 0,
  // Migrated to another host (`xenlab migrate`): it runs on there.
  migrated: 0,
};

/** Machine-memory seed when none is given. */
export const DEFAULT_SEED = 7;
/** How many times an on_*="restart" domain is built again before the run ends anyway. */
export const MAX_RESTARTS = 3;
/** Every boot's domain id (xl gives a restarted domain a new one; we keep boots identical). */
const DOMID = 1;
/** Frames beyond the domain's own: the low MiB, the M2P and its tables, Xen's pages. */
export const EXTRA_MACHINE_MIB = 32;
const MiB = 2 ** 20;

export type ActionKey = 'onPoweroff' | 'onReboot' | 'onCrash' | 'onWatchdog' | 'onSoftReset';

/**
 * SHUTDOWN_* reasons: the end they give and the xl.cfg key whose action applies. A suspended PV
 * domain is for xl to save, never to destroy or restart: the run ends (no key).
 */
export const REASONS: Readonly<Record<number, { end: BootEnd; name: string; key?: ActionKey; xl?: string }>> = {
  [SHUTDOWN_poweroff]: { end: 'poweroff', name: 'SHUTDOWN_poweroff', key: 'onPoweroff', xl: 'on_poweroff' },
  [SHUTDOWN_reboot]: { end: 'reboot', name: 'SHUTDOWN_reboot', key: 'onReboot', xl: 'on_reboot' },
  [SHUTDOWN_suspend]: { end: 'suspend', name: 'SHUTDOWN_suspend' },
  [SHUTDOWN_crash]: { end: 'crash', name: 'SHUTDOWN_crash', key: 'onCrash', xl: 'on_crash' },
  [SHUTDOWN_watchdog]: { end: 'watchdog', name: 'SHUTDOWN_watchdog', key: 'onWatchdog', xl: 'on_watchdog' },
  [SHUTDOWN_soft_reset]: { end: 'soft_reset', name: 'SHUTDOWN_soft_reset', key: 'onSoftReset', xl: 'on_soft_reset' },
};

/** Boots `o.config` and runs it to its end; throws UserError for an image or config that cannot boot. */
export async function bootGuest(o: BootOptions): Promise<BootResult> {
  const cfg = o.config;
  if (cfg.type !== 'pv') throw new UserError('bad-file', `${cfg.file}: type "${String(cfg.type)}" cannot be booted (xenlab runs PV guests)`);
  const limit = (v: number | undefined, what: string): void => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new UserError('bad-option', `${what} must be a positive number`);
  };
  limit(o.timeoutSeconds, 'the timeout');
  limit(o.maxInstructions, 'the instruction limit');
  const started = performance.now();
  const image = await loadKernelImage(cfg.kernel, { maxBytes: cfg.memory * MiB });
  let ramdisk: Uint8Array | undefined;
  if (cfg.ramdisk !== undefined) {
    try {
      ramdisk = new Uint8Array(readFileSync(cfg.ramdisk));
    } catch {
      throw new UserError('file-not-found', `${cfg.ramdisk}: cannot read the ramdisk`);
    }
  }
  const features = new Set(implementedFeatures());
  const seed = o.seed ?? DEFAULT_SEED;
  const maxTimeNs = o.timeoutSeconds !== undefined ? Math.round(o.timeoutSeconds * 1e9) : undefined;
  const host = o.realtime === true ? nodeHostClock() : undefined;
  const session = new ConsoleSession(o);
  // The disks outlive a restart (a rebooted domain finds what it wrote): opened once per run.
  const disks = openDisks(cfg.disks, o.diskWrites);
  // The virtual network (one switch and gateway per bridge name) lives for the whole run.
  const network = new VirtualNetwork();

  const consoleChunks: Uint8Array[] = [];
  const xenChunks: Uint8Array[] = [];
  const diagnostics: string[] = [];
  let instructions = 0;
  let guestNs = 0;
  let restarts = 0;
  let lastProgress = started;

  for (;;) {
    const machine = new MachineMemory({ frames: 256 * (cfg.maxmem + EXTRA_MACHINE_MIB), seed });
    const types = new PageTypes(machine);
    const xen = new Xen(features);
    const built = buildPv64({
      xen,
      machine,
      types,
      image,
      domid: DOMID,
      name: cfg.name,
      memMiB: cfg.memory,
      maxMemMiB: cfg.maxmem,
      maxVcpus: cfg.maxvcpus,
      cmdline: cfg.cmdline,
      ramdisk,
      features,
      strict: o.strict === true,
    });
    const d = built.domain;
    if (cfg.uuid !== undefined) d.uuid = uuidBytes(cfg.uuid);
    const consoleMfn = built.p2m[built.layout.consolePfn];
    if (consoleMfn === undefined) throw new Error('boot: the console page has no machine frame');
    const console = new ConsoleBackend({
      events: xen.events,
      domain: d,
      page: machine.view(consoleMfn),
      port: built.layout.consoleEvtchn,
      output: (bytes) => {
        o.onConsole?.(bytes);
        session.output(bytes);
      },
      // A hostile plan's console faults (harness/hostile/console.ts); their lines join the boot's fault log.
      ...(o.hostile?.console !== undefined ? { faults: consoleFaultHook(o.hostile.console, (line) => hostile?.log.push(line)) } : {}),
    });
    session.boot(console, xen.clock, guestNs);
    // xenstored for this boot: dom0's and the domain's trees as xl writes them, then INTRODUCE
    // of the domain's ring (start_info store_mfn/store_evtchn; harness/xenstore/).
    const xs = new XenStore({ domainExists: (id) => id === 0 || id === d.id, ...(o.onXenStoreTrace !== undefined ? { onTrace: o.onXenStoreTrace } : {}) });
    const storeMfn = built.p2m[built.layout.storePfn];
    if (storeMfn === undefined) throw new Error('boot: the XenStore page has no machine frame');
    writeDom0Tree(xs);
    // A hostile plan's XenStore faults (harness/hostile/xenstore.ts) on the domain's ring and connection.
    const xsFaults = o.hostile?.xenstore !== undefined ? xenstoreFaultHooks(o.hostile.xenstore, (line) => hostile?.log.push(line)) : undefined;
    const store = introduceToXenStore(xs, xen, machine, d, cfg, { storeMfn, consoleMfn, storeEvtchn: built.layout.storeEvtchn, consoleEvtchn: built.layout.consoleEvtchn }, xsFaults);
    const grants = d.gnttab?.hub;
    if (grants === undefined) throw new Error('boot: the domain has no grant table');
    const time = d.time;
    const hostile =
      o.hostile !== undefined && time !== undefined ? new HostileBoot(o.hostile, { later: (ns, fn) => time.defer(time.clock.now() + Math.max(0, ns), fn) }) : undefined;
    const vbds = attachDisks(disks, { xs, events: xen.events, grants, domid: d.id, protocol: 'x86_64-abi', hostile });
    const nics = attachVifs(cfg.vifs, { xs, events: xen.events, grants, domid: d.id, network, hostile });
    o.onXenStore?.(xs, d.id);
    const world: BootWorld = { xen, machine, domain: d, xenstore: xs, console, vbds, vifs: nics, store, ...(hostile !== undefined ? { hostile } : {}) };
    o.onAttached?.(world);
    const xenLog = new LineSplitter((line) => o.onXenLog?.(line));
    let seen = 0;
    const pollXenLog = (): void => {
      const out = d.consoleOut;
      if (out.length === seen) return;
      xenLog.push(out, seen);
      seen = out.length;
    };
    const before = instructions;
    const run = await session.run({
      xen,
      domains: [d],
      ...(o.maxInstructions !== undefined ? { maxInstructions: o.maxInstructions - instructions } : {}),
      ...(maxTimeNs !== undefined ? { maxTime: maxTimeNs - guestNs } : {}),
      ...(host !== undefined ? { realtime: host } : {}),
      onSlice: (n) => {
        pollXenLog();
        o.onSlice?.(before + n, d);
        if (o.onProgress === undefined) return;
        const now = performance.now();
        if (now - lastProgress < 1000) return;
        lastProgress = now;
        o.onProgress({ instructions: before + n, guestNs: guestNs + xen.clock.now() });
      },
    });
    console.drain();
    pollXenLog();
    xenLog.flush();
    o.onEnded?.(world);
    instructions += run.instructions;
    guestNs += run.now;
    consoleChunks.push(console.log());
    xenChunks.push(Uint8Array.from(d.consoleOut));
    if (console.broken !== undefined) diagnostics.push(console.broken);
    if (session.logFailure !== undefined && !diagnostics.includes(session.logFailure)) diagnostics.push(session.logFailure);
    for (const m of xs.daemon.diagnostics) diagnostics.push(m);
    diagnostics.push(...detachDisks(vbds));
    diagnostics.push(...detachVifs(nics, xs));
    for (const m of d.mmu?.diagnostics ?? []) diagnostics.push(strictDiagnostic(m));

    const finish = (end: BootEnd, detail: string): BootResult => {
      finishDisks(disks, o.diskExportDir);
      return {
        end,
        exitCode: EXIT_CODES[end],
        detail,
        console: new TextDecoder().decode(concat(consoleChunks)),
        xenLog: new TextDecoder().decode(concat(xenChunks)),
        domain: d,
        xenstore: xs,
        instructions,
        guestNs,
        wallMs: performance.now() - started,
        diagnostics,
        kernelFeatures: image.notes.features,
      };
    };
    if (run.reason === 'instruction-limit') return finish('instruction-limit', `instruction limit: ${instructions} instructions retired`);
    if (run.reason === 'time-limit') return finish('timeout', `timeout: ${formatSeconds(guestNs)} of guest time`);
    if (run.reason === 'host-deadline' && session.script !== undefined) return finish('expect-timeout', session.script.timeoutDetail());
    if (run.reason === 'stalled') {
      return finish('stalled', `domain ${d.id} stalled: every vCPU is blocked and nothing can wake one${session.script?.waitingNote() ?? ''}`);
    }

    // The domain ended: shut down for a reason, or crashed by Xen.
    const st = d.state;
    let end: BootEnd;
    let detail: string;
    let action: ShutdownAction | undefined;
    let key = '';
    if (st.kind === 'crashed') {
      end = 'crash';
      detail = `domain ${d.id} crashed: ${st.why}`;
      action = cfg.onCrash;
      key = 'on_crash';
    } else if (st.kind === 'shutdown') {
      const r = REASONS[st.reason];
      if (r === undefined) throw new Error(`boot: domain ${d.id} shut down with reason ${st.reason}, which SCHEDOP_shutdown refuses`);
      end = r.end;
      detail = `domain ${d.id} shut down: ${r.name} code ${st.code}`;
      action = r.key !== undefined ? cfg[r.key] : undefined;
      key = r.xl ?? '';
    } else {
      throw new Error(`boot: the scheduler ended with domain ${d.id} still running`);
    }
    // xenstored hears of a shut-down or crashed domain through VIRQ_DOM_EXC: @releaseDomain fires.
    xs.domainShutdown(d.id);
    if (action === undefined || honouredAction(action) !== 'restart') return finish(end, detail);
    const out = (o.maxInstructions !== undefined && instructions >= o.maxInstructions) || (maxTimeNs !== undefined && guestNs >= maxTimeNs);
    if (restarts >= MAX_RESTARTS || out) {
      return finish(end, `${detail}; ${key} = "${action}", but ${out ? 'the run is out of budget' : `it was restarted ${restarts} times, the limit`}`);
    }
    restarts++;
    diagnostics.push(`${detail}; ${key} = "${action}": building it again (restart ${restarts} of at most ${MAX_RESTARTS})`);
  }
}

/**
 * xl's part of a domain's start in XenStore: the domain's libxl tree, then INTRODUCE of its ring
 * (start_info store_mfn/store_evtchn; harness/xenstore/). `faults`: a hostile xenstored's hooks
 * for this domain's ring and connection (harness/hostile/xenstore.ts).
 */
export function introduceToXenStore(
  xs: XenStore,
  xen: Xen,
  machine: MachineMemory,
  d: Domain,
  cfg: DomainConfig,
  ring: { readonly storeMfn: number; readonly consoleMfn: number; readonly storeEvtchn: number; readonly consoleEvtchn: number },
  faults?: XenStoreFaultHooks,
): XenStoreRing {
  writeDomainTree(xs, {
    domid: d.id,
    name: cfg.name,
    uuid: cfg.uuid ?? '00000000-0000-0000-0000-000000000000',
    memoryKiB: cfg.memory * 1024,
    maxmemKiB: cfg.maxmem * 1024,
    vcpus: cfg.vcpus,
    maxvcpus: cfg.maxvcpus,
    storeMfn: ring.storeMfn,
    storePort: ring.storeEvtchn,
    consoleMfn: ring.consoleMfn,
    consolePort: ring.consoleEvtchn,
    kernel: cfg.kernel,
    ramdisk: cfg.ramdisk,
    cmdline: cfg.cmdline,
  });
  const t = new XenStoreRing({
    events: xen.events,
    domain: d,
    page: machine.view(ring.storeMfn),
    port: ring.storeEvtchn,
    service: () => xs.pump(),
    ...(faults !== undefined ? { faults: faults.ring } : {}),
  });
  if (faults !== undefined) xs.daemon.faults = faults.daemon;
  xs.introduce(d.id, ring.storeMfn, ring.storeEvtchn, t);
  return t;
}

/** Splits bytes into lines as they come; a line is decoded as UTF-8 once complete. */
export class LineSplitter {
  private partial: number[] = [];
  constructor(private readonly emit: (line: string) => void) {}

  push(bytes: readonly number[], from: number): void {
    for (let i = from; i < bytes.length; i++) {
      const b = bytes[i] as number;
      if (b === 0x0a) {
        this.emit(new TextDecoder().decode(Uint8Array.from(this.partial)));
        this.partial = [];
      } else {
        this.partial.push(b);
      }
    }
  }

  /** Emits an unterminated last line. */
  flush(): void {
    if (this.partial.length === 0) return;
    this.emit(new TextDecoder().decode(Uint8Array.from(this.partial)));
    this.partial = [];
  }
}

export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function uuidBytes(u: string): Uint8Array<ArrayBuffer> {
  const hex = u.replace(/-/g, '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Guest ns as seconds for one-line messages. */
export function formatSeconds(ns: number): string {
  return `${(ns / 1e9).toFixed(3)} s`;
}
