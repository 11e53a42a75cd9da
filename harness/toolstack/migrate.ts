/**
 * Live migration of a PV domain: pre-copy as Clark et al. describe it (NSDI 2005, "Live
 * Migration of Virtual Machines") and libxc does it (tools/libs/guest/xg_sr_save.c:
 * send_domain_memory_live), over the checkpoint stream of checkpoint-stream.ts.
 *
 * Sender (`migrateLive`)
 *  1. The stream's first records (DomainSaver), then log-dirty on (abi/hv/log-dirty.ts).
 *  2. Round 0 sends every page while the guest runs; round k sends the pages dirtied during
 *     round k-1 (XEN_DOMCTL_SHADOW_OP_CLEAN). Page tables the guest is changing and that cannot
 *     be canonicalised now are kept for the last round (DomainImageReader's `retry`).
 *  3. Rounds stop when the pages dirtied during one fall below `dirtyThreshold` (default 50), after
 *     `maxRounds` (default 30, libxc's max_iters), or when `maxGrowingRounds` rounds in a row
 *     (default 3) dirtied more than they sent.
 *  4. Stop-and-copy: `requestSuspend` (the toolstack writes control/shutdown = "suspend"), the
 *     guest runs until it has suspended (at most `suspendTimeoutNs` of guest time), then the
 *     remaining dirty pages, the retried tables, and the end records (`DomainSaver.finish`).
 *  5. A check the last round makes cheaply: every page whose content differs from the last copy
 *     sent (a hash kept per page) but that log-dirty never marked is a log-dirty bug; it is sent
 *     again and counted in `logDirtyMisses` (0 when log-dirty sees every write).
 *  On any failure log-dirty goes off and a suspended guest is resumed where it is (its suspend
 *  hypercall returns 1, as libxl's failed migration calls xc_domain_resume); the error is thrown.
 *
 * Time, deterministic in guest time: a round's duration is the time its bytes take on a link of
 * `bandwidthBitsPerSecond` (default 1 Gbit/s, the paper's testbed); the guest runs that long
 * (`runGuestFor`) while the round is "on the wire", so its dirty rate decides how much the next
 * round sends. The downtime in guest time is the wire time of the final pages and the end records;
 * the source clock passes over it before the end records are written (`passTime`, by default a
 * jump of the source's clock), so the stream's TSC_INFO carries the time at which the guest
 * resumes, and the destination's clock jumps there before it runs (DomainRestorer.finish). Wall
 * time is measured too (performance.now) and only reported.
 *
 * Receiver (`MigrationReceiver`): bytes in any chunking → CheckpointReader → DomainRestorer;
 * `finish(host, domid)` builds the domain once END has been read. Nothing is allocated on the
 * receiving host before that, so a torn or corrupted stream (a UserError, one line) leaves nothing.
 *
 * Transports: `inProcessTransport(receiver)` (a function call per chunk) and TCP
 * (`listenForMigration` on the receiving side, `connectMigration` on the sending side; node:net).
 * Over TCP the sender half-closes after the last chunk and the receiver answers one line, "ok" or
 * the reason it refused the stream.
 *
 * ```ts
 * // receiving host
 * const l = await listenForMigration({ port: 0 });
 * // sending host
 * const t = await connectMigration('127.0.0.1', l.port);
 * const report = await migrateLive({ source: { machine, xen, domain, config, xenstore }, transport: t,
 *   runGuestFor: (ns) => runMachine({ xen, domains, maxTime: xen.clock.now() + ns }),
 *   requestSuspend: () => xenstore.host.write(`/local/domain/${domain.id}/control/shutdown`, 'suspend') });
 * destroyDomain(sourceHost, domain);
 * // receiving host
 * const restored = (await l.received).finish(host, newDomid);  // then XenStore, console, run
 * ```
 */
import { createHash } from 'node:crypto';
import { createConnection, createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { LogDirty, type LogDirtyStats } from '../../abi/hv/log-dirty.js';
import { UserError } from '../errors.js';
import { DomainRestorer, DomainSaver, type RestoredDomain, type RestoreHost, type SaveContext } from './checkpoint.js';
import { CheckpointReader } from './checkpoint-stream.js';
import { SaveError } from './domain-image.js';

/** libxc's defaults: at most 30 iterations; stop below 50 dirty pages. */
export const DEFAULT_MAX_ROUNDS = 30;
export const DEFAULT_DIRTY_THRESHOLD = 50;
export const DEFAULT_MAX_GROWING_ROUNDS = 3;
/** 1 Gbit/s, the network of the paper's testbed. */
export const DEFAULT_BANDWIDTH = 1e9;
/** Guest time the guest gets to answer control/shutdown = "suspend" (libxl's 60 s, as for a save). */
export const DEFAULT_SUSPEND_TIMEOUT_NS = 60e9;
/** Steps in which the guest runs while the sender waits for it to suspend. */
const SUSPEND_STEP_NS = 1e6;
const PAGE = 4096;

/** Where the stream goes: one call per chunk, in order. */
export interface MigrationTransport {
  send(chunk: Uint8Array): void | Promise<void>;
  /** After the last chunk: resolves once the receiver has the whole stream; rejects with its refusal. */
  finish?(): Promise<void>;
}

export interface MigrateOptions {
  /** The domain and what the stream needs from its host (as for saveDomain). */
  readonly source: SaveContext;
  readonly transport: MigrationTransport;
  /** Runs the source host for `ns` of guest time (it may return early once the domain has suspended). */
  readonly runGuestFor: (ns: number) => void;
  /** Asks the guest to suspend: the toolstack's control/shutdown = "suspend". */
  readonly requestSuspend: () => void;
  /**
   * Lets `ns` of guest time pass on the source host while the domain is suspended (the
   * stop-and-copy on the wire). Default: the source clock jumps (no other domain runs meanwhile).
   */
  readonly passTime?: (ns: number) => void;
  readonly bandwidthBitsPerSecond?: number;
  readonly dirtyThreshold?: number;
  readonly maxRounds?: number;
  readonly maxGrowingRounds?: number;
  readonly suspendTimeoutNs?: number;
  /** Called after each round (progress for a CLI). */
  readonly onRound?: (r: MigrationRound) => void;
}

export interface MigrationRound {
  /** 0, 1, ...; the stop-and-copy round is the last and has `final` set. */
  readonly round: number;
  readonly final: boolean;
  readonly pagesSent: number;
  /** Pages the guest dirtied while this round was on the wire (0 for the final round: it is stopped). */
  readonly pagesDirtied: number;
  readonly bytes: number;
  /** Wire time of the round's bytes at the link bandwidth: guest time the guest ran meanwhile. */
  readonly guestNs: number;
  readonly wallMs: number;
}

export type MigrationStop = 'converged' | 'round-limit' | 'not-converging';

export interface MigrationReport {
  readonly rounds: readonly MigrationRound[];
  readonly stop: MigrationStop;
  /** Pages of the guest (its p2m's size). */
  readonly guestPages: number;
  /** Pages sent over all rounds (a page dirtied again is counted again). */
  readonly pagesSent: number;
  readonly bytes: number;
  /** Guest time from the suspend request until the domain had suspended. */
  readonly suspendGuestNs: number;
  /** The stop-and-copy in guest time: the final round's and the end records' wire time. */
  readonly downtimeGuestNs: number;
  /** Guest time the domain suspended at, and the time the stream gives for its resume (+ downtime). */
  readonly suspendedAtNs: number;
  readonly resumeAtNs: number;
  /** Host time from the domain found suspended to the receiver's acknowledgement. */
  readonly downtimeWallMs: number;
  /** Guest time from the first byte to the guest's resume time, and host time of the whole migration. */
  readonly totalGuestNs: number;
  readonly totalWallMs: number;
  /** Page tables sent in the final round because they could not be canonicalised while live. */
  readonly retriedTables: number;
  /** Pages changed since their last copy but never marked dirty (a log-dirty bug), resent. */
  readonly logDirtyMisses: number;
  readonly missedPfns: readonly number[];
  readonly logDirty: LogDirtyStats;
}

const sum = (chunks: readonly Uint8Array[]): number => chunks.reduce((n, c) => n + c.length, 0);

/** Migrates a running domain; see the file comment. Throws SaveError, UserError (transport) or a host bug. */
export async function migrateLive(o: MigrateOptions): Promise<MigrationReport> {
  const { domain: d, machine: m, xen } = o.source;
  const clock = xen.clock;
  const bw = o.bandwidthBitsPerSecond ?? DEFAULT_BANDWIDTH;
  const threshold = o.dirtyThreshold ?? DEFAULT_DIRTY_THRESHOLD;
  const maxRounds = o.maxRounds ?? DEFAULT_MAX_ROUNDS;
  const maxGrowing = o.maxGrowingRounds ?? DEFAULT_MAX_GROWING_ROUNDS;
  const suspendTimeout = o.suspendTimeoutNs ?? DEFAULT_SUSPEND_TIMEOUT_NS;
  if (!(bw > 0) || !Number.isFinite(bw)) throw new UserError('bad-option', `migration bandwidth ${bw} bit/s is not a positive number`);
  if (!Number.isInteger(maxRounds) || maxRounds < 1) throw new UserError('bad-option', `migration round limit ${maxRounds} is not a positive integer`);
  if (!d.running) throw new SaveError(`domain ${d.id} (${d.name}) is not running`);
  const wireNs = (bytes: number): number => Math.ceil((bytes * 8e9) / bw);
  const wallStart = performance.now();
  const guestStart = clock.now();

  const saver = new DomainSaver(o.source);
  const log = LogDirty.enable(d, m);
  if (typeof log === 'number') throw new SaveError(`domain ${d.id} (${d.name}) is already logging dirty pages (error ${-log})`);
  const image = saver.image;
  /** Hash of each page's frame as last sent (raw; the frames do not move while the domain lives). */
  const sentHash = new Map<number, string>();
  const hashOf = (pfn: number): string | undefined => {
    const mfn = image.mfnOf(pfn);
    if (mfn === undefined) return undefined;
    const v = m.view(mfn);
    return createHash('sha1').update(new Uint8Array(v.buffer, v.byteOffset, PAGE)).digest('base64');
  };
  // The M2P is guest-writable (MMU_MACHPHYS_UPDATE): a PFN beyond the guest's p2m is no page of it.
  const inP2m = (pfns: number[]): number[] => pfns.filter((pfn) => pfn < image.p2m.size);
  const retry = new Set<number>();
  const rounds: MigrationRound[] = [];
  let bytesTotal = 0;
  let pagesSent = 0;
  const send = async (chunks: readonly Uint8Array[]): Promise<void> => {
    for (const c of chunks) {
      await o.transport.send(c);
      bytesTotal += c.length;
    }
  };

  try {
    let pfns = saver.allPfns();
    let stop: MigrationStop | undefined;
    let growing = 0;
    for (let round = 0; stop === undefined; round++) {
      const wall0 = performance.now();
      for (const pfn of pfns) {
        const h = hashOf(pfn);
        if (h === undefined) sentHash.delete(pfn);
        else sentHash.set(pfn, h);
      }
      const later = saver.sendPages(pfns, true).retry;
      // What the writer has framed since the last round (round 0: the stream's first records too).
      const chunks = saver.w.take();
      for (const pfn of pfns) retry.delete(pfn);
      for (const pfn of later) {
        retry.add(pfn);
        sentHash.delete(pfn);
      }
      const bytes = sum(chunks);
      await send(chunks);
      const ns = wireNs(bytes);
      o.runGuestFor(ns);
      if (!d.running) throw new SaveError(`domain ${d.id} (${d.name}) stopped during the migration (${d.suspended ? 'it suspended before it was asked to' : d.state.kind})`);
      const dirtied = log.count;
      const r: MigrationRound = { round, final: false, pagesSent: pfns.length, pagesDirtied: dirtied, bytes, guestNs: ns, wallMs: performance.now() - wall0 };
      rounds.push(r);
      o.onRound?.(r);
      pagesSent += pfns.length;
      growing = dirtied > pfns.length ? growing + 1 : 0;
      if (dirtied < threshold) stop = 'converged';
      else if (round + 1 >= maxRounds) stop = 'round-limit';
      else if (growing >= maxGrowing) stop = 'not-converging';
      else pfns = inP2m(log.clean());
    }

    // Stop-and-copy.
    const suspendAsked = clock.now();
    o.requestSuspend();
    let still = 0;
    while (!d.suspended) {
      if (!d.running) throw new SaveError(`domain ${d.id} (${d.name}) ended instead of suspending (${d.state.kind})`);
      if (clock.now() - suspendAsked >= suspendTimeout) throw new SaveError(`domain ${d.id} (${d.name}) did not suspend within ${suspendTimeout / 1e6} ms of guest time after control/shutdown = "suspend"`);
      const before = clock.now();
      o.runGuestFor(Math.min(SUSPEND_STEP_NS, suspendAsked + suspendTimeout - before));
      still = clock.now() === before && !d.suspended ? still + 1 : 0;
      if (still >= 3) throw new SaveError(`domain ${d.id} (${d.name}) does not run (its vCPUs are blocked with nothing to wake them) and has not suspended`);
    }
    const suspendedAt = clock.now();
    const wallSuspended = performance.now();
    const final = new Set(inP2m(log.clean()));
    const retriedTables = retry.size;
    for (const pfn of retry) final.add(pfn);
    const missedPfns: number[] = [];
    for (const [pfn, h] of sentHash) {
      if (final.has(pfn) || hashOf(pfn) === h) continue;
      missedPfns.push(pfn);
      final.add(pfn);
    }
    for (let pfn = 0; pfn < image.p2m.size; pfn++) {
      // A page of the domain now that was never sent (gained while live) and never marked.
      if (!final.has(pfn) && !sentHash.has(pfn) && image.mfnOf(pfn) !== undefined) {
        missedPfns.push(pfn);
        final.add(pfn);
      }
    }
    const logStats = log.stats;
    log.off();
    const finalPfns = [...final].sort((a, b) => a - b);
    saver.sendPages(finalPfns, false);
    const pageChunks = saver.w.take();
    // The end records' size, from a dry run over the same (suspended, unchanging) domain, so the
    // stream's time stamp can include their own wire time.
    const tailBytes = sum(new DomainSaver(o.source).finish());
    const finalBytes = sum(pageChunks) + tailBytes;
    const downtimeNs = wireNs(finalBytes);
    if (o.passTime !== undefined) o.passTime(downtimeNs);
    clock.skipTo(suspendedAt + downtimeNs);
    saver.finish();
    const tail = saver.w.take();
    if (sum(tail) !== tailBytes) throw new Error(`migrate: the end records came to ${sum(tail)} bytes, the dry run to ${tailBytes}`);
    await send(pageChunks);
    await send(tail);
    await o.transport.finish?.();
    const wallEnd = performance.now();
    const last: MigrationRound = { round: rounds.length, final: true, pagesSent: finalPfns.length, pagesDirtied: 0, bytes: finalBytes, guestNs: downtimeNs, wallMs: wallEnd - wallSuspended };
    rounds.push(last);
    o.onRound?.(last);
    pagesSent += finalPfns.length;
    return {
      rounds,
      stop: stop as MigrationStop,
      guestPages: image.p2m.size,
      pagesSent,
      bytes: bytesTotal,
      suspendGuestNs: suspendedAt - suspendAsked,
      downtimeGuestNs: downtimeNs,
      suspendedAtNs: suspendedAt,
      resumeAtNs: suspendedAt + downtimeNs,
      downtimeWallMs: wallEnd - wallSuspended,
      totalGuestNs: clock.now() - guestStart,
      totalWallMs: wallEnd - wallStart,
      retriedTables,
      logDirtyMisses: missedPfns.length,
      missedPfns,
      logDirty: logStats,
    };
  } catch (e) {
    log.off();
    // libxl after a failed migration: the guest goes on at the source (its suspend returns 1).
    if (d.suspended) d.resumeCancelled();
    throw e;
  }
}

/** The report as lines for a terminal: one per round, then the totals (guest time first; wall time is the host's). */
export function describeMigration(r: MigrationReport): string[] {
  const lines = r.rounds.map(describeRound);
  lines.push(...describeMigrationTotals(r));
  return lines;
}

const ms = (ns: number): string => `${(ns / 1e6).toFixed(3)} ms`;
const mb = (b: number): string => `${(b / 2 ** 20).toFixed(2)} MiB`;

/** One round as a line (a CLI prints them as they end). */
export function describeRound(x: MigrationRound): string {
  return `${x.final ? 'stop-and-copy' : `round ${x.round}`}: ${x.pagesSent} pages sent, ${x.final ? 'guest stopped' : `${x.pagesDirtied} dirtied meanwhile`}, ${mb(x.bytes)}, ${ms(x.guestNs)} guest time`;
}

/** The report's totals as lines (describeMigration without the rounds). */
export function describeMigrationTotals(r: MigrationReport): string[] {
  const lines: string[] = [];
  lines.push(
    `${r.rounds.length - 1} live round${r.rounds.length === 2 ? '' : 's'} (${r.stop}); ${r.pagesSent} pages sent for ${r.guestPages} guest pages, ${mb(r.bytes)} in all`,
    `downtime ${ms(r.downtimeGuestNs)} of guest time (${r.downtimeWallMs.toFixed(1)} ms wall); the guest took ${ms(r.suspendGuestNs)} to suspend; total ${ms(r.totalGuestNs)} guest, ${r.totalWallMs.toFixed(0)} ms wall`,
  );
  if (r.logDirtyMisses !== 0) lines.push(`log-dirty missed ${r.logDirtyMisses} changed pages (resent): pfns ${r.missedPfns.slice(0, 16).join(', ')}`);
  return lines;
}

// ---- receiving ----------------------------------------------------------------------------------

/**
 * The receiving end: chunks as they arrive, checked record by record; `finish` builds the domain.
 * Every problem is a UserError naming `source`; nothing is allocated on a host before `finish`.
 */
export class MigrationReceiver {
  private readonly reader: CheckpointReader;
  readonly restorer: DomainRestorer;
  bytes = 0;
  records = 0;

  constructor(readonly source: string) {
    this.reader = new CheckpointReader(source);
    this.restorer = new DomainRestorer(source);
  }

  push(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    for (const r of this.reader.push(chunk)) {
      this.restorer.add(r);
      this.records++;
    }
  }

  /** Whether the END record (and the stream's digest) has been read. */
  get done(): boolean {
    return this.reader.done;
  }

  /** The stream ended (EOF): a UserError unless END was read. */
  end(): void {
    this.reader.finish();
  }

  /** Builds the migrated domain as `domid` on `host` (after END); it resumes with 0 from its suspend. */
  finish(host: RestoreHost, domid: number): RestoredDomain {
    this.reader.finish();
    return this.restorer.finish(host, domid);
  }
}

/** The in-process transport: each chunk goes straight to `rx`. */
export function inProcessTransport(rx: MigrationReceiver): MigrationTransport {
  return {
    send: (chunk) => rx.push(chunk),
    finish: async () => rx.end(),
  };
}

export interface MigrationListener {
  /** The port listened on (useful with port 0). */
  readonly port: number;
  /** The first connection's stream, complete and checked; rejects with a UserError (torn, corrupted, truncated). */
  readonly received: Promise<MigrationReceiver>;
  /** Stops listening (and drops a connection still open). */
  close(): Promise<void>;
}

/** Listens for one incoming migration on `host:port` (default 127.0.0.1; port 0: any free one). */
export async function listenForMigration(o: { port: number; host?: string }): Promise<MigrationListener> {
  const host = o.host ?? '127.0.0.1';
  let resolve!: (rx: MigrationReceiver) => void;
  let reject!: (e: unknown) => void;
  const received = new Promise<MigrationReceiver>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // The listener may be dropped without awaiting `received`: keep a refusal from going unhandled.
  received.catch(() => undefined);
  let active: Socket | undefined;
  /** Whether the connection's stream has been accepted or refused (its answer is on the way). */
  let answered = false;
  const server = createServer((socket) => {
    if (active !== undefined) {
      socket.destroy();
      return;
    }
    active = socket;
    const rx = new MigrationReceiver(`migration stream from ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`);
    let settled = false;
    const refuse = (e: unknown): void => {
      if (settled) return;
      settled = true;
      answered = true;
      const line = e instanceof Error ? e.message : String(e);
      socket.end(`error: ${line.replace(/\n/g, ' ')}\n`);
      reject(e);
    };
    socket.on('data', (chunk: Buffer) => {
      if (settled) return;
      try {
        rx.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      } catch (e) {
        refuse(e);
      }
    });
    socket.on('end', () => {
      if (settled) return;
      try {
        rx.end();
      } catch (e) {
        refuse(e);
        return;
      }
      settled = true;
      answered = true;
      socket.end('ok\n');
      resolve(rx);
    });
    socket.on('error', (e) => {
      if (settled) return;
      settled = true;
      answered = true;
      reject(new UserError('bad-file', `${rx.source}: connection torn after ${rx.bytes} bytes (${e.message})`));
    });
    socket.on('close', () => {
      if (settled) return;
      settled = true;
      answered = true;
      reject(new UserError('bad-file', `${rx.source}: connection closed after ${rx.bytes} bytes without the end of the stream`));
    });
  });
  await new Promise<void>((res, rej) => {
    server.once('error', (e) => rej(new UserError('bad-option', `cannot listen on ${host}:${o.port}: ${e.message}`)));
    server.listen(o.port, host, () => res());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : o.port;
  return {
    port,
    received,
    close: () =>
      new Promise<void>((res) => {
        // An answered connection gets a moment for the answer to reach the sender (it closes then).
        if (answered) setTimeout(() => active?.destroy(), 2000).unref();
        else active?.destroy();
        server.close(() => res());
      }),
  };
}

/** The sending end of a TCP migration: connects to `host:port`; `finish` waits for the receiver's answer. */
export async function connectMigration(host: string, port: number): Promise<MigrationTransport & { close(): void }> {
  const socket = await new Promise<Socket>((res, rej) => {
    const s = createConnection({ host, port }, () => res(s));
    s.once('error', (e) => rej(new UserError('tool-failed', `cannot connect to the migration receiver at ${host}:${port}: ${e.message}`)));
  });
  let reply = '';
  let failure: Error | undefined;
  const closed = new Promise<void>((res) => socket.on('close', () => res()));
  socket.on('data', (b: Buffer) => {
    reply += b.toString('utf8');
  });
  socket.on('error', (e) => {
    failure = new UserError('tool-failed', `migration to ${host}:${port}: connection torn (${e.message})`);
  });
  const refusal = (): Error => new UserError('tool-failed', `migration to ${host}:${port} refused by the receiver: ${reply.trim().replace(/^error: /, '') || 'no answer'}`);
  return {
    send: (chunk) =>
      new Promise<void>((res, rej) => {
        if (failure !== undefined) return rej(failure);
        if (reply.startsWith('error')) return rej(refusal());
        socket.write(chunk, (e) => (e ? rej(failure ?? new UserError('tool-failed', `migration to ${host}:${port}: ${e.message}`)) : res()));
      }),
    finish: async () => {
      socket.end();
      await closed;
      if (reply.trim() !== 'ok') throw failure ?? refusal();
    },
    close: () => socket.destroy(),
  };
}
