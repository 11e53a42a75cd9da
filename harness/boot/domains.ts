/**
 * Several domains on one host, as `xl create A.cfg; xl create B.cfg` would run them: the
 * programmatic face of `xenlab boot A.cfg B.cfg` (docs/boot.md, "Several domains").
 *
 * One machine for all of them: one `Xen` (one clock, one event-channel hub), one machine memory
 * (frames for every domain's maxmem plus 32 MiB, more when a domain may be restarted), one grant
 * hub, one xenstored with dom0's tree and each domain's tree written as xl writes them and each
 * domain introduced, and one virtual network (a switch and gateway per bridge name) that every
 * domain's vifs join, so domains on the same bridge reach each other. Each domain has its own
 * console backend, console log and disks. Domain ids are 1, 2, ... in the order of the configs;
 * the deterministic scheduler (abi/time/scheduler.ts) runs every vCPU of every live domain
 * round-robin, domains in that order.
 *
 * Each domain ends on its own: when it shuts down or crashes, its console is drained, its disks
 * and vifs are detached, xenstored hears of it (@releaseDomain), and its config's on_poweroff/
 * on_reboot/on_crash/... action is taken: "destroy" leaves the others running; "restart" builds
 * it again on the same machine under the next free domid (as xl does), up to MAX_RESTARTS times
 * and while the machine has the frames (a destroyed domain's memory is not given back yet). The
 * run ends when every domain has ended, or at a run-wide limit (timeout, instruction limit), or
 * when no vCPU can ever run again (stalled); the domains still running then end that way.
 *
 * Not here (bootGuest only): console scripts and host console input.
 *
 * Deterministic: the same configs (in the same order) and seed give the same consoles, Xen logs
 * and ends, unless `realtime` is set.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Domain } from '../../abi/hv/domain.js';
import { MachineMemory } from '../../abi/hv/machine.js';
import { PageTypes } from '../../abi/hv/page-types.js';
import { Xen } from '../../abi/hv/xen.js';
import { GrantHub } from '../../abi/gnttab/grants.js';
import { machineSteps } from '../../abi/time/scheduler.js';
import { implementedFeatures } from '../../x86/cpuid.js';
import { ConsoleBackend } from '../backends/console.js';
import type { VbdBackend } from '../backends/blkback-xenbus.js';
import { loadKernelImage, type KernelImage } from '../builder/image.js';
import { buildPv64 } from '../builder/pv64.js';
import { UserError } from '../errors.js';
import { honouredAction, type DomainConfig, type ShutdownAction } from '../toolstack/xl-cfg.js';
import { requestShutdown, writeDom0Tree } from '../toolstack/xenstore-tree.js';
import { destroyDomain, readCheckpoint, saveDomain, type DomainRestorer, type RestoredDomain } from '../toolstack/checkpoint.js';
import { connectMigration, inProcessTransport, migrateLive, MigrationReceiver, type MigrationReport, type MigrationRound } from '../toolstack/migrate.js';
import { runMachine } from '../../abi/time/scheduler.js';
import { writeFileAtomic } from '../toolstack/checkpoint-stream.js';
import { SaveError } from '../toolstack/domain-image.js';
import { XenStore } from '../xenstore/host.js';
import {
  concat,
  DEFAULT_SEED,
  EXIT_CODES,
  EXTRA_MACHINE_MIB,
  introduceToXenStore,
  LineSplitter,
  MAX_RESTARTS,
  REASONS,
  uuidBytes,
  type BootEnd,
} from './boot.js';
import { ConsoleSession } from './console-session.js';
import { attachDisks, detachDisks, finishDisks, openDisks, type DiskWrites, type OpenDisk } from './disks.js';
import { nodeHostClock } from './host-clock.js';
import { strictDiagnostic } from '../guest-site-text.js';
import { attachVifs, detachVifs, VirtualNetwork, type AttachedVif } from './vifs.js';

/**
 * A save the toolstack makes of a running domain (docs/save-restore.md): at `atNs` of guest time
 * it writes control/shutdown = "suspend" (as `xl save` does); once the guest has suspended, its
 * checkpoint is taken, written to `file` if given (atomically), and then:
 *  - `cancel`: the same domain resumes, its suspend hypercall returning 1 (`xl save -c`);
 *  - `restore`: the domain is destroyed and a new one (the next domid) is restored from the
 *    checkpoint's bytes on this host, returning 0 from its suspend hypercall (a save and restore,
 *    or a migration to the same host);
 *  - `destroy`: the domain is destroyed and ends as 'saved' (`xl save`).
 * Or, with `then: 'migrate'`, a live migration instead (harness/toolstack/migrate.ts, docs/migration.md):
 * pre-copy rounds while the guest runs (the other domains run too), then the suspend request and
 * the stop-and-copy; the stream goes to a new domain on this host (`to` absent) or to a receiver
 * over TCP (`to`: `xenlab receive`), after which the source domain ends as 'migrated'.
 * A guest that has not suspended SUSPEND_TIMEOUT_NS after the request, or a save that fails
 * (the guest left a foreign frame mapped, published no p2m, ...), is reported and the domain
 * resumes as after a cancel, as libxl does.
 */
export interface SaveOperation {
  /** Rank of the domain in `configs` (then `restores`). */
  readonly index: number;
  /** Guest time (ns) of the suspend request. */
  readonly atNs: number;
  /**
   * Or later: once the domain's console has printed this text (after the previous save of the
   * domain, if any), at the next scheduler slice.
   */
  readonly afterConsole?: string;
  readonly then: 'cancel' | 'restore' | 'destroy' | 'migrate';
  readonly file?: string;
  /** `migrate`: the receiver's address (absent: a new domain on this host). */
  readonly to?: { readonly host: string; readonly port: number };
  /** `migrate`: the modelled link, bit/s (default 1 Gbit/s). */
  readonly bandwidth?: number;
}

/** What a save did. */
export interface SaveReport {
  readonly index: number;
  readonly domid: number;
  readonly then: SaveOperation['then'];
  readonly requestedAtNs: number;
  /** Guest time the domain was suspended at (undefined: it did not suspend). */
  readonly suspendedAtNs: number | undefined;
  readonly bytes: number;
  readonly file: string | undefined;
  /** The restored domain's id (`restore`). */
  readonly newDomid: number | undefined;
  /** Why the save failed (the domain then resumed). */
  readonly error: string | undefined;
  /** `migrate`: the rounds, pages, bytes and downtime. */
  readonly migration?: MigrationReport;
}

/** libxl's wait for a guest to acknowledge a suspend request (LIBXL_... 60 s), in guest ns. */
export const SUSPEND_TIMEOUT_NS = 60e9;

/** A domain to restore from a checkpoint rather than boot from a config. */
export interface RestoreSource {
  /** The checkpoint's bytes, or a restorer that has read a whole stream (a migration received). */
  readonly bytes: Uint8Array | DomainRestorer;
  /** The file name for messages. */
  readonly source: string;
}

export interface BootDomainsOptions {
  /** The domains, in order: domain ids 1, 2, ... Names must differ, and so must vif MACs. */
  readonly configs: readonly DomainConfig[];
  /** Domains restored from checkpoints, after the configs' (their configurations are the checkpoints'). */
  readonly restores?: readonly RestoreSource[];
  /** Saves to make while the run goes (see SaveOperation). */
  readonly saves?: readonly SaveOperation[];
  /** Each save as it completes or fails. */
  readonly onSave?: (r: SaveReport) => void;
  /** Each round of a live migration as it ends. */
  readonly onMigrationRound?: (index: number, r: MigrationRound) => void;
  /** Guest seconds before the run ends (the domains still running end as 'timeout'). */
  readonly timeoutSeconds?: number;
  /** Guest instructions (every domain together) before the run ends as 'instruction-limit'. */
  readonly maxInstructions?: number;
  readonly realtime?: boolean;
  readonly strict?: boolean;
  /** Machine-memory shuffle seed (default DEFAULT_SEED). */
  readonly seed?: number;
  /** Console ring output of domain `index` (its rank in `configs`) as it is drained. */
  readonly onConsole?: (index: number, bytes: Uint8Array) => void;
  /** CONSOLEIO_write output of domain `index` (now domain `domid`), line by line. */
  readonly onXenLog?: (index: number, line: string, domid: number) => void;
  /** The run's XenStore, each time a domain is introduced (its tree written). */
  readonly onXenStore?: (xs: XenStore, domid: number) => void;
  readonly onXenStoreTrace?: (line: string) => void;
  /** About once a second of wall time: totals so far. */
  readonly onProgress?: (p: { instructions: number; guestNs: number }) => void;
  /** A file per domain (by rank; undefined for none) that gets its console output. */
  readonly consoleLogs?: readonly (string | undefined)[];
  readonly diskWrites?: DiskWrites;
  /** Each domain's disks as it left them go to `<dir>/<domain name>/<vdev>.img` when the run ends. */
  readonly diskExportDir?: string;
}

export interface DomainRunResult {
  /** Rank in `configs`. */
  readonly index: number;
  readonly name: string;
  /** The domain id of its last build (a restarted domain gets a new one). */
  readonly domid: number;
  readonly end: BootEnd;
  readonly exitCode: number;
  readonly detail: string;
  /** Its console ring's log (every build, when it was restarted). */
  readonly console: string;
  readonly xenLog: string;
  /** Its last build's domain: state, hypercall stats. */
  readonly domain: Domain;
  /** Guest time (ns of the machine's clock) when it ended. */
  readonly endedAtNs: number;
  /** Its console, disks and vifs diagnostics, `--strict` observations, restarts. */
  readonly diagnostics: readonly string[];
  /** The saves made of it, in order. */
  readonly saves: readonly SaveReport[];
}

export interface BootDomainsResult {
  /** Per domain, in the order of `configs`. */
  readonly domains: readonly DomainRunResult[];
  /** 0 when every domain powered off; otherwise the exit code of the first domain to end otherwise. */
  readonly exitCode: number;
  /** The shared XenStore as the run left it. */
  readonly xenstore: XenStore;
  readonly network: VirtualNetwork;
  readonly instructions: number;
  readonly guestNs: number;
  readonly wallMs: number;
  /** Run-wide diagnostics (xenstored's). */
  readonly diagnostics: readonly string[];
}

const MiB = 2 ** 20;
/** Restart frames are reserved up to this many MiB in all (a restart beyond finds no memory and the domain stays ended). */
const MAX_RESTART_RESERVE_MIB = 256;

/** What ended a domain, and when (its rank among the ends, for the run's exit code). */
interface Ended {
  readonly end: BootEnd;
  readonly detail: string;
  readonly at: number;
  readonly order: number;
}

/** One domain of the run: its config and what lives as long as the run (image, disks, logs). */
interface SlotBase {
  readonly index: number;
  readonly cfg: DomainConfig;
  /** Undefined for a domain restored from a checkpoint (it cannot be built again). */
  readonly image: KernelImage | undefined;
  readonly ramdisk: Uint8Array | undefined;
  readonly disks: OpenDisk[];
  readonly session: ConsoleSession;
  readonly consoleChunks: Uint8Array[];
  readonly xenChunks: Uint8Array[];
  readonly diagnostics: string[];
}

interface Slot extends SlotBase {
  restarts: number;
  cur: Build;
  ended: Ended | undefined;
  readonly saves: SaveReport[];
  /** A save whose suspend request is out, waiting for the guest. */
  pendingSave: { readonly op: SaveOperation; readonly requestedAtNs: number } | undefined;
  /** The console's last bytes since the last save (for `afterConsole`), and whether its text was seen. */
  consoleTail: string;
  consoleSeen: boolean;
}

/** One build of a domain. */
interface Build {
  readonly d: Domain;
  readonly console: ConsoleBackend;
  readonly vbds: VbdBackend[];
  readonly nics: AttachedVif[];
  readonly xenLog: LineSplitter;
  seen: number;
  /** Its end has been handled (console drained, devices detached). */
  closed: boolean;
}

/** Boots every config on one host and runs them together to their ends; throws UserError for configs or images that cannot boot. */
export async function bootDomains(o: BootDomainsOptions): Promise<BootDomainsResult> {
  const cfgs = o.configs;
  if (cfgs.length === 0 && (o.restores ?? []).length === 0) throw new UserError('usage', 'boot: no domain config given');
  // Checkpoints are read and checked whole before anything is built.
  const restorers = (o.restores ?? []).map((src) => ({ src, restorer: src.bytes instanceof Uint8Array ? readCheckpoint(src.bytes, src.source) : src.bytes }));
  const names = new Set<string>(restorers.map((r) => r.restorer.domainConfig.name));
  if (names.size !== restorers.length) throw new UserError('bad-file', `${restorers.at(-1)?.src.source ?? ''}: two checkpoints of domains with the same name`);
  const macs = new Map<string, string>();
  for (const cfg of cfgs) {
    if (cfg.type !== 'pv') throw new UserError('bad-file', `${cfg.file}: type "${String(cfg.type)}" cannot be booted (xenlab runs PV guests)`);
    if (names.has(cfg.name)) throw new UserError('bad-file', `${cfg.file}: a domain named "${cfg.name}" is already in this run (names must differ, as xl requires)`);
    names.add(cfg.name);
    for (const v of cfg.vifs) {
      const other = macs.get(v.mac);
      if (other !== undefined) throw new UserError('bad-file', `${cfg.file}: vif mac ${v.mac} is also domain "${other}"'s (one switch cannot tell them apart)`);
      macs.set(v.mac, cfg.name);
    }
  }
  const limit = (v: number | undefined, what: string): void => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new UserError('bad-option', `${what} must be a positive number`);
  };
  limit(o.timeoutSeconds, 'the timeout');
  limit(o.maxInstructions, 'the instruction limit');
  const started = performance.now();
  const features = new Set(implementedFeatures());
  const seed = o.seed ?? DEFAULT_SEED;
  const maxTimeNs = o.timeoutSeconds !== undefined ? Math.round(o.timeoutSeconds * 1e9) : undefined;
  const host = o.realtime === true ? nodeHostClock() : undefined;

  // The host: memory for every domain, plus frames for restarts where a config asks for them.
  const canRestart = (c: DomainConfig): boolean =>
    [c.onPoweroff, c.onReboot, c.onCrash, c.onWatchdog, c.onSoftReset].some((a) => honouredAction(a) === 'restart');
  const memMiB = [...cfgs, ...restorers.map((r) => r.restorer.domainConfig)].reduce((n, c) => n + c.maxmem, 0);
  const reserveMiB = Math.min(
    MAX_RESTART_RESERVE_MIB,
    cfgs.reduce((n, c) => n + (canRestart(c) ? c.maxmem * MAX_RESTARTS : 0), 0),
  );
  const machine = new MachineMemory({ frames: 256 * (memMiB + reserveMiB + EXTRA_MACHINE_MIB), seed });
  const types = new PageTypes(machine);
  const xen = new Xen(features);
  const grants = new GrantHub(machine, { types });
  const existing = new Set<number>();
  const xs = new XenStore({
    domainExists: (id) => id === 0 || existing.has(id),
    ...(o.onXenStoreTrace !== undefined ? { onTrace: o.onXenStoreTrace } : {}),
  });
  writeDom0Tree(xs);
  const network = new VirtualNetwork();
  let nextDomid = 1;
  let endOrder = 0;

  const slots: Slot[] = [];
  const hv = { xen, machine, types, grants, strict: o.strict === true };
  const build = (slot: SlotBase, domid: number): Build => {
    const cfg = slot.cfg;
    if (slot.image === undefined) throw new Error(`boot: domain ${cfg.name} has no kernel image to build`);
    const built = buildPv64({
      xen,
      machine,
      types,
      grants,
      image: slot.image,
      domid,
      name: cfg.name,
      memMiB: cfg.memory,
      maxMemMiB: cfg.maxmem,
      maxVcpus: cfg.maxvcpus,
      cmdline: cfg.cmdline,
      ...(slot.ramdisk !== undefined ? { ramdisk: slot.ramdisk } : {}),
      features,
      strict: o.strict === true,
    });
    const d = built.domain;
    if (cfg.uuid !== undefined) d.uuid = uuidBytes(cfg.uuid);
    const consoleMfn = built.p2m[built.layout.consolePfn];
    const storeMfn = built.p2m[built.layout.storePfn];
    if (consoleMfn === undefined || storeMfn === undefined) throw new Error('boot: the console or XenStore page has no machine frame');
    return attach(slot, d, { storeMfn, consoleMfn, storeEvtchn: built.layout.storeEvtchn, consoleEvtchn: built.layout.consoleEvtchn });
  };

  /** A built or restored domain joins the run: console backend, XenStore tree and ring, disks and vifs. */
  const attach = (
    slot: SlotBase,
    d: Domain,
    ring: { readonly storeMfn: number; readonly consoleMfn: number; readonly storeEvtchn: number; readonly consoleEvtchn: number },
  ): Build => {
    const cfg = slot.cfg;
    const domid = d.id;
    existing.add(domid);
    const console = new ConsoleBackend({
      events: xen.events,
      domain: d,
      page: machine.view(ring.consoleMfn),
      port: ring.consoleEvtchn,
      output: (bytes) => {
        o.onConsole?.(slot.index, bytes);
        slot.session.output(bytes);
        watchConsole(slot.index, bytes);
      },
    });
    introduceToXenStore(xs, xen, machine, d, cfg, ring);
    const hub = d.gnttab?.hub;
    if (hub === undefined) throw new Error('boot: the domain has no grant table');
    const vbds = attachDisks(slot.disks, { xs, events: xen.events, grants: hub, domid, protocol: 'x86_64-abi' });
    const nics = attachVifs(cfg.vifs, { xs, events: xen.events, grants: hub, domid, network });
    o.onXenStore?.(xs, domid);
    return { d, console, vbds, nics, xenLog: new LineSplitter((line) => o.onXenLog?.(slot.index, line, domid)), seen: 0, closed: false };
  };

  const pollXenLog = (b: Build): void => {
    const out = b.d.consoleOut;
    if (out.length === b.seen) return;
    b.xenLog.push(out, b.seen);
    b.seen = out.length;
  };

  /** A build's end: drain its console, detach its devices, keep its logs and diagnostics. */
  const close = (s: Slot): void => {
    const b = s.cur;
    if (b.closed) return;
    b.closed = true;
    b.console.drain();
    pollXenLog(b);
    b.xenLog.flush();
    s.consoleChunks.push(b.console.log());
    s.xenChunks.push(Uint8Array.from(b.d.consoleOut));
    if (b.console.broken !== undefined) s.diagnostics.push(b.console.broken);
    if (s.session.logFailure !== undefined && !s.diagnostics.includes(s.session.logFailure)) s.diagnostics.push(s.session.logFailure);
    s.diagnostics.push(...detachDisks(b.vbds));
    s.diagnostics.push(...detachVifs(b.nics, xs));
    for (const m of b.d.mmu?.diagnostics ?? []) s.diagnostics.push(strictDiagnostic(m));
  };

  /**
   * A domain that shut down or crashed: closed, xenstored told, then its action. True when it
   * was built again (the scheduler must be given the new domain).
   */
  const domainEnded = (s: Slot, instructions: number): boolean => {
    const d = s.cur.d;
    if (d.suspended && s.pendingSave !== undefined) return saved(s);
    close(s);
    const st = d.state;
    let end: BootEnd;
    let detail: string;
    let action: ShutdownAction | undefined;
    let key = '';
    if (st.kind === 'crashed') {
      end = 'crash';
      detail = `domain ${d.id} (${s.cfg.name}) crashed: ${st.why}`;
      action = s.cfg.onCrash;
      key = 'on_crash';
    } else if (st.kind === 'shutdown') {
      const r = REASONS[st.reason];
      if (r === undefined) throw new Error(`boot: domain ${d.id} shut down with reason ${st.reason}, which SCHEDOP_shutdown refuses`);
      end = r.end;
      detail = `domain ${d.id} (${s.cfg.name}) shut down: ${r.name} code ${st.code}`;
      action = r.key !== undefined ? s.cfg[r.key] : undefined;
      key = r.xl ?? '';
    } else {
      throw new Error(`boot: domain ${d.id} handled as ended while running`);
    }
    xs.domainShutdown(d.id);
    const ended = (why: string): false => {
      s.ended = { end, detail: why, at: xen.clock.now(), order: endOrder++ };
      return false;
    };
    if (action === undefined || honouredAction(action) !== 'restart') return ended(detail);
    const out = (o.maxInstructions !== undefined && instructions >= o.maxInstructions) || (maxTimeNs !== undefined && xen.clock.now() >= maxTimeNs);
    if (s.restarts >= MAX_RESTARTS || out) {
      return ended(`${detail}; ${key} = "${action}", but ${out ? 'the run is out of budget' : `it was restarted ${s.restarts} times, the limit`}`);
    }
    const frames = 256 * (s.cfg.maxmem + 1);
    if (machine.freeCount < frames) {
      return ended(`${detail}; ${key} = "${action}", but the machine has no frames left to build it again (an ended domain's memory is not given back)`);
    }
    if (s.image === undefined) return ended(`${detail}; ${key} = "${action}", but it was restored from a checkpoint and its kernel is not loaded`);
    s.restarts++;
    const domid = nextDomid++;
    s.diagnostics.push(`${detail}; ${key} = "${action}": building it again as domain ${domid} (restart ${s.restarts} of at most ${MAX_RESTARTS})`);
    existing.delete(d.id);
    s.cur = build(s, domid);
    return true;
  };

  /** A save waiting for console text: look for it in what the domain just printed. */
  let consoleHit = false;
  const watchConsole = (index: number, bytes: Uint8Array): void => {
    const s = slots.find((x) => x.index === index);
    if (s === undefined || s.consoleSeen) return;
    const op = nextSaveOf(s);
    if (op?.afterConsole === undefined) return;
    s.consoleTail = (s.consoleTail + new TextDecoder().decode(bytes)).slice(-Math.max(4096, 2 * op.afterConsole.length));
    if (s.consoleTail.includes(op.afterConsole)) {
      s.consoleSeen = true;
      consoleHit = true;
    }
  };
  const nextSaveOf = (s: Slot): SaveOperation | undefined => {
    const own = (o.saves ?? []).filter((op) => op.index === s.index);
    return own[s.saves.length + (s.pendingSave !== undefined ? 1 : 0)];
  };

  /** The old build leaves the host: devices detached, XenStore told, its memory reclaimed. */
  const teardown = (s: Slot): void => {
    const d = s.cur.d;
    close(s);
    xs.domainShutdown(d.id);
    existing.delete(d.id);
    xs.host.rm(`/local/domain/${d.id}`);
    destroyDomain(hv, d);
  };

  /**
   * Records what a save or migration of `s`'s domain did (`onSave` hears it); a failure also goes
   * to the domain's diagnostics, with what became of the domain (`after`).
   */
  const recordSave = (s: Slot, op: SaveOperation, requestedAtNs: number, r: Partial<SaveReport>, after = ''): void => {
    const full: SaveReport = { index: s.index, domid: s.cur.d.id, then: op.then, requestedAtNs, suspendedAtNs: undefined, bytes: 0, file: op.file, newDomid: undefined, error: undefined, ...r };
    s.saves.push(full);
    o.onSave?.(full);
    if (full.error !== undefined) s.diagnostics.push(`${op.then === 'migrate' ? 'migration' : 'save'} of domain ${full.domid} (${s.cfg.name}) failed: ${full.error}${after}`);
  };

  /** A domain suspended for a save: take the checkpoint, then cancel, restore or destroy. True when the scheduler needs the new set. */
  const saved = (s: Slot): boolean => {
    const pending = s.pendingSave as NonNullable<Slot['pendingSave']>;
    s.pendingSave = undefined;
    const { op } = pending;
    const d = s.cur.d;
    const report = (r: Partial<SaveReport>): void => recordSave(s, op, pending.requestedAtNs, { suspendedAtNs: xen.clock.now(), ...r }, '; it resumes');
    let bytes: Uint8Array;
    try {
      bytes = saveDomain({ machine, xen, domain: d, config: s.cfg, xenstore: xs, backends: backendState(s.disks) });
      if (op.file !== undefined) writeFileAtomic(op.file, [bytes]);
    } catch (e) {
      if (!(e instanceof SaveError) && !(e instanceof UserError)) throw e;
      report({ error: e.message });
      d.resumeCancelled();
      return true;
    }
    if (op.then === 'cancel') {
      report({ bytes: bytes.length });
      d.resumeCancelled();
      return true;
    }
    teardown(s);
    if (op.then === 'destroy') {
      report({ bytes: bytes.length });
      const where = op.file !== undefined ? ` to ${op.file}` : '';
      s.ended = { end: 'saved', detail: `domain ${d.id} (${s.cfg.name}) saved${where} (${bytes.length} bytes) and destroyed`, at: xen.clock.now(), order: endOrder++ };
      return false;
    }
    const domid = nextDomid++;
    const restored = readCheckpoint(bytes, op.file ?? `the checkpoint of domain ${d.id}`).finish(hv, domid);
    report({ bytes: bytes.length, newDomid: domid });
    s.diagnostics.push(`domain ${d.id} (${s.cfg.name}) saved (${bytes.length} bytes) and restored as domain ${domid}`);
    s.cur = attach(s, restored.domain, restored);
    return true;
  };

  /** Sends the suspend requests that are due; returns the guest time of the next one (Infinity: none). */
  const dueSaves = (): number => {
    let next = Infinity;
    const now = xen.clock.now();
    for (const s of slots) {
      const op = nextSaveOf(s);
      if (s.ended !== undefined) continue;
      if (s.pendingSave !== undefined) {
        const deadline = s.pendingSave.requestedAtNs + SUSPEND_TIMEOUT_NS;
        if (now >= deadline) {
          const p = s.pendingSave;
          s.pendingSave = undefined;
          recordSave(s, p.op, p.requestedAtNs, { error: `the guest did not suspend within ${SUSPEND_TIMEOUT_NS / 1e9} s of the request` });
        } else next = Math.min(next, deadline);
        continue;
      }
      if (op === undefined) continue;
      const at = Math.max(op.atNs, 0);
      if (op.then === 'migrate') {
        if (op.afterConsole === undefined || now < at) next = Math.min(next, at);
        continue;
      }
      if (now >= at && s.cur.d.running && (op.afterConsole === undefined || s.consoleSeen)) {
        requestShutdown(xs, s.cur.d.id, 'suspend');
        s.pendingSave = { op, requestedAtNs: now };
        s.consoleSeen = false;
        s.consoleTail = '';
        next = Math.min(next, now + SUSPEND_TIMEOUT_NS);
      } else if (op.afterConsole === undefined || now < at) next = Math.min(next, at);
    }
    return next;
  };

  /** A live migration that is due now: its domain's slot and operation. */
  const dueMigration = (): { s: Slot; op: SaveOperation } | undefined => {
    const now = xen.clock.now();
    for (const s of slots) {
      const op = nextSaveOf(s);
      if (s.ended !== undefined || op?.then !== 'migrate' || s.pendingSave !== undefined || !s.cur.d.running) continue;
      if (now >= Math.max(op.atNs, 0) && (op.afterConsole === undefined || s.consoleSeen)) return { s, op };
    }
    return undefined;
  };

  /** Migrates a slot's domain live (see SaveOperation); afterwards the slot holds the new domain or has ended as 'migrated'. */
  const migrate = async (s: Slot, op: SaveOperation): Promise<void> => {
    const d = s.cur.d;
    const requestedAtNs = xen.clock.now();
    s.consoleSeen = false;
    s.consoleTail = '';
    const rx = new MigrationReceiver(`the migration stream of domain ${d.id}`);
    const live = (): Domain[] => slots.filter((x) => x.ended === undefined).map((x) => x.cur.d);
    const report = (r: Partial<SaveReport>): void => recordSave(s, op, requestedAtNs, r, '; it runs on');
    let m: MigrationReport;
    try {
      const transport = op.to !== undefined ? await connectMigration(op.to.host, op.to.port) : inProcessTransport(rx);
      m = await migrateLive({
        source: { machine, xen, domain: d, config: s.cfg, xenstore: xs, backends: backendState(s.disks) },
        transport,
        runGuestFor: (ns) => {
          const r = runMachine({ xen, domains: live(), maxTime: xen.clock.now() + ns });
          instructions += r.instructions;
          for (const x of slots) if (x.ended === undefined) pollXenLog(x.cur);
        },
        passTime: (ns) => {
          const others = live().filter((x) => x !== d && x.running);
          if (others.length === 0) {
            xen.clock.skipTo(xen.clock.now() + ns);
            return;
          }
          instructions += runMachine({ xen, domains: others, maxTime: xen.clock.now() + ns }).instructions;
        },
        requestSuspend: () => requestShutdown(xs, d.id, 'suspend'),
        ...(op.bandwidth !== undefined ? { bandwidthBitsPerSecond: op.bandwidth } : {}),
        onRound: (r) => o.onMigrationRound?.(s.index, r),
      });
    } catch (e) {
      if (!(e instanceof SaveError) && !(e instanceof UserError)) throw e;
      report({ error: e.message });
      return;
    }
    teardown(s);
    if (op.to !== undefined) {
      report({ suspendedAtNs: m.suspendedAtNs, bytes: m.bytes, migration: m });
      s.ended = { end: 'migrated', detail: `domain ${d.id} (${s.cfg.name}) migrated live to ${op.to.host}:${op.to.port} (${m.rounds.length} rounds, ${m.bytes} bytes)`, at: xen.clock.now(), order: endOrder++ };
      return;
    }
    const domid = nextDomid++;
    const restored = rx.finish(hv, domid);
    report({ suspendedAtNs: m.suspendedAtNs, bytes: m.bytes, newDomid: domid, migration: m });
    s.diagnostics.push(`domain ${d.id} (${s.cfg.name}) migrated live to domain ${domid} (${m.rounds.length} rounds, ${m.pagesSent} pages sent, downtime ${(m.downtimeGuestNs / 1e6).toFixed(3)} ms of guest time)`);
    s.cur = attach(s, restored.domain, restored);
  };

  try {
    for (const [index, cfg] of cfgs.entries()) {
      const image = await loadKernelImage(cfg.kernel, { maxBytes: cfg.memory * MiB });
      let ramdisk: Uint8Array | undefined;
      if (cfg.ramdisk !== undefined) {
        try {
          ramdisk = new Uint8Array(readFileSync(cfg.ramdisk));
        } catch {
          throw new UserError('file-not-found', `${cfg.ramdisk}: cannot read the ramdisk`);
        }
      }
      const consoleLog = o.consoleLogs?.[index];
      const session = new ConsoleSession(consoleLog !== undefined ? { consoleLog } : {});
      const disks = openDisks(cfg.disks, o.diskWrites);
      const partial: SlotBase = { index, cfg, image, ramdisk, disks, session, consoleChunks: [], xenChunks: [], diagnostics: [] };
      slots.push({ ...partial, restarts: 0, cur: build(partial, nextDomid++), ended: undefined, saves: [], pendingSave: undefined, consoleTail: '', consoleSeen: false });
    }
    for (const [k, { restorer, src }] of restorers.entries()) {
      const index = cfgs.length + k;
      const cfg = restorer.domainConfig;
      const consoleLog = o.consoleLogs?.[index];
      const session = new ConsoleSession(consoleLog !== undefined ? { consoleLog } : {});
      const disks = openDisks(cfg.disks, o.diskWrites);
      const partial: SlotBase = { index, cfg, image: undefined, ramdisk: undefined, disks, session, consoleChunks: [], xenChunks: [], diagnostics: [] };
      const domid = nextDomid++;
      let restored: RestoredDomain;
      try {
        restored = restorer.finish(hv, domid);
        applyBackendState(restored.backends, disks, src.source);
      } catch (e) {
        finishDisks(disks);
        throw e;
      }
      slots.push({ ...partial, restarts: 0, cur: attach(partial, restored.domain, restored), ended: undefined, saves: [], pendingSave: undefined, consoleTail: '', consoleSeen: false });
    }
  } catch (e) {
    for (const s of slots) finishDisks(s.disks);
    throw e;
  }

  let instructions = 0;
  let lastProgress = started;
  let stop: { end: BootEnd; detail: (s: Slot) => string } | undefined;
  const finishOpen = (): boolean => {
    let rebuilt = false;
    for (const s of slots) if (s.ended === undefined && !s.cur.d.running && domainEnded(s, instructions)) rebuilt = true;
    return rebuilt;
  };

  try {
    // One scheduler run per set of domains: a restart hands the scheduler a new set.
    while (stop === undefined && slots.some((s) => s.ended === undefined)) {
      const base = instructions;
      const mig = dueMigration();
      if (mig !== undefined) {
        await migrate(mig.s, mig.op);
        finishOpen();
        continue;
      }
      const nextSave = dueSaves();
      const until = Math.min(maxTimeNs ?? Infinity, nextSave);
      const steps = machineSteps({
        xen,
        domains: slots.filter((s) => s.ended === undefined).map((s) => s.cur.d),
        ...(o.maxInstructions !== undefined ? { maxInstructions: o.maxInstructions - instructions } : {}),
        ...(until !== Infinity ? { maxTime: until } : {}),
        ...(host !== undefined ? { realtime: host } : {}),
        onSlice: (n) => {
          for (const s of slots) if (s.ended === undefined) pollXenLog(s.cur);
          if (o.onProgress === undefined) return;
          const now = performance.now();
          if (now - lastProgress < 1000) return;
          lastProgress = now;
          o.onProgress({ instructions: base + n, guestNs: xen.clock.now() });
        },
      });
      let finished = false;
      try {
        for (;;) {
          const s = steps.next(false);
          if (s.done === true) {
            finished = true;
            instructions = base + s.value.instructions;
            const reason = s.value.reason;
            if (reason === 'instruction-limit') stop = { end: 'instruction-limit', detail: () => `instruction limit: ${instructions} instructions retired` };
            else if (reason === 'time-limit' && (maxTimeNs === undefined || xen.clock.now() < maxTimeNs)) {
              // A save is due (or a suspend request timed out): the loop takes it and runs on.
            } else if (reason === 'time-limit') stop = { end: 'timeout', detail: () => `timeout: ${(xen.clock.now() / 1e9).toFixed(3)} s of guest time` };
            else if (reason === 'stalled') {
              stop = { end: 'stalled', detail: (sl) => `domain ${sl.cur.d.id} (${sl.cfg.name}) stalled: every vCPU of the run is blocked and nothing can wake one` };
            }
            finishOpen();
            break;
          }
          const p = s.value;
          if (p.kind === 'slice') instructions = base + p.instructions;
          if (p.kind === 'idle' && !p.skipped) {
            const ms = (p.until - xen.clock.now()) / 1e6;
            if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
          }
          if (p.kind !== 'stalled' && finishOpen()) break;
          if (consoleHit) {
            consoleHit = false;
            break;
          }
        }
      } finally {
        if (!finished) steps.return(undefined as never);
      }
    }
  } finally {
    for (const s of slots) {
      if (s.ended === undefined) {
        close(s);
        const end = stop?.end ?? 'stalled';
        s.ended = { end, detail: stop?.detail(s) ?? `domain ${s.cur.d.id} did not end`, at: xen.clock.now(), order: endOrder++ };
      }
      const dir = o.diskExportDir !== undefined && s.disks.length > 0 ? join(o.diskExportDir, s.cfg.name) : undefined;
      if (dir !== undefined) mkdirSync(dir, { recursive: true });
      finishDisks(s.disks, dir);
    }
  }

  const domains = slots.map((s): DomainRunResult => {
    const e = s.ended as Ended;
    return {
      index: s.index,
      name: s.cfg.name,
      domid: s.cur.d.id,
      end: e.end,
      exitCode: EXIT_CODES[e.end],
      detail: e.detail,
      console: new TextDecoder().decode(concat(s.consoleChunks)),
      xenLog: new TextDecoder().decode(concat(s.xenChunks)),
      domain: s.cur.d,
      endedAtNs: e.at,
      diagnostics: s.diagnostics,
      saves: s.saves,
    };
  });
  const firstBad = [...slots].sort((a, b) => (a.ended as Ended).order - (b.ended as Ended).order).find((s) => EXIT_CODES[(s.ended as Ended).end] !== 0);
  return {
    domains,
    exitCode: firstBad === undefined ? 0 : EXIT_CODES[(firstBad.ended as Ended).end],
    xenstore: xs,
    network,
    instructions,
    guestNs: xen.clock.now(),
    wallMs: performance.now() - started,
    diagnostics: [...xs.daemon.diagnostics],
  };
}

/** XENLAB_BACKENDS: what the domain's backends hold that its checkpoint must carry (disk overlays). */
interface BackendState {
  readonly disks: readonly { readonly vdev: string; readonly overlay: readonly { readonly chunk: number; readonly data: string }[] | null }[];
}

/** The disks' copy-on-write overlays (base64 chunks); a write-through disk carries nothing (its file is the shared storage). */
function backendState(disks: readonly OpenDisk[]): BackendState {
  return {
    disks: disks.map((d) => ({
      vdev: d.spec.vdev,
      overlay: d.image.exportOverlay?.()?.map((c) => ({ chunk: c.chunk, data: Buffer.from(c.data).toString('base64') })) ?? null,
    })),
  };
}

/**
 * A restored domain's disks get the overlays its checkpoint carries (so what the guest wrote
 * before the save is on its disk again); a UserError naming the checkpoint for a state that does
 * not fit the disks the configuration names.
 */
function applyBackendState(state: unknown, disks: readonly OpenDisk[], source: string): void {
  const list = (state as Partial<BackendState> | undefined)?.disks;
  if (list === undefined) return;
  if (!Array.isArray(list)) throw new UserError('bad-file', `${source}: XENLAB_BACKENDS: "disks" is not a list`);
  for (const saved of list) {
    const d = disks.find((x) => x.spec.vdev === saved?.vdev);
    if (d === undefined) throw new UserError('bad-file', `${source}: XENLAB_BACKENDS names disk ${String(saved?.vdev)}, which the configuration does not have`);
    if (saved.overlay === null) continue;
    const overlay: readonly { chunk: number; data: string }[] = saved.overlay;
    if (!Array.isArray(overlay) || !overlay.every((c) => Number.isSafeInteger(c?.chunk) && typeof c?.data === 'string')) {
      throw new UserError('bad-file', `${source}: XENLAB_BACKENDS: the overlay of ${saved.vdev} is malformed`);
    }
    const problem = d.image.importOverlay?.(overlay.map((c) => ({ chunk: c.chunk, data: new Uint8Array(Buffer.from(c.data, 'base64')) })));
    if (problem !== undefined) throw new UserError('bad-file', `${source}: ${problem}`);
  }
}
