/**
 * `npm run bench:migrate`: live migration (harness/toolstack/migrate.ts, docs/migration.md)
 * measured on two guests, at a modelled 1 Gbit/s link:
 *  (a) probe-suspend (16 MiB) with memory-writing workloads of several sizes (`dirty=` pages
 *      rewritten every `period=` µs), migrated over TCP on loopback to a receiver in this
 *      process, which then runs the guest to its poweroff;
 *  (b) Debian's Linux (2 vCPUs; 128 MiB at 1 Gbit/s and 256 MiB at 10 Gbit/s: LINUX_RUNS) with the TAP initramfs of test/linux/, migrated live
 *      in-process (a new domain on the same host) once its console shows
 *      `mount -t ext4 /dev/xvda`; after the migration it writes and reads the disk, gets a DHCP
 *      lease, pings the gateway and powers off. Skipped, with a message, when the Linux media are
 *      not in the fixture cache (`npm run fixtures`).
 * For each: live rounds and why they stopped, pages sent against the guest's pages, bytes, total
 * time and downtime in guest time (deterministic: the link model) and wall time (this machine),
 * and how the guest ended after the migration (every TAP point ok, poweroff).
 *
 *   npm run bench:migrate [-- --json FILE] [--dirty 16,128,400] [--period 100] [--bandwidth 1e9] [--linux 128@1G,256@10G] [--no-linux]
 *
 * Results on stdout; progress on stderr.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildLinuxGuest, linuxGuestDir, parseGuestTap } from '../../fixtures/pipeline/linux-guest.js';
import { bootDomains, type BootDomainsResult } from '../boot/domains.js';
import { parseBandwidth } from '../cli/commands/migrate.js';
import { listenForMigration, type MigrationReport } from '../toolstack/migrate.js';
import { loadXlConfig, parseXlConfig } from '../toolstack/xl-cfg.js';

/** The console marker at which the Linux guest is migrated (its TAP check of the disk mount). */
export const LINUX_MARKER = 'mount -t ext4 /dev/xvda';
const LINUX_VCPUS = 2;
/**
 * 128 MiB, not linux-pv.cfg's 256: at 1 Gbit/s round 0 of 256 MiB lasts 2.15 s of guest time,
 * longer than the guest's checks take from the mount to their poweroff (the ping alone is 2 s),
 * so the guest ended during the live rounds; 128 MiB is plenty for the busybox initramfs.
 */
export const LINUX_MEMORY_MIB = 128;

export interface LinuxRun {
  readonly memoryMiB: number;
  readonly bandwidth: number;
}

/** 128 MiB at 1 Gbit/s (the paper's link), and linux-pv.cfg's 256 MiB at 10 Gbit/s. */
export const LINUX_RUNS: readonly LinuxRun[] = [
  { memoryMiB: LINUX_MEMORY_MIB, bandwidth: 1e9 },
  { memoryMiB: 256, bandwidth: 10e9 },
];
const PROBE_MARKER = 'working:';
/** The probe guest migrates once it has worked this long (and printed its marker). */
const PROBE_START_NS = 5e6;

export interface MigrationFigures {
  readonly guest: string;
  readonly workload: string;
  readonly transport: 'tcp-loopback' | 'in-process';
  readonly bandwidth: number;
  readonly liveRounds: number;
  readonly stop: MigrationReport['stop'];
  /** Pages sent by each round, the stop-and-copy last. */
  readonly roundPages: readonly number[];
  readonly guestPages: number;
  readonly pagesSent: number;
  readonly bytes: number;
  readonly totalGuestMs: number;
  readonly totalWallMs: number;
  readonly downtimeGuestMs: number;
  readonly downtimeWallMs: number;
  readonly suspendGuestMs: number;
  readonly logDirtyMisses: number;
  /** How the migrated guest ended, and its TAP points after the run: ok / all. */
  readonly end: string;
  readonly tapOk: number;
  readonly tapTotal: number;
}

export interface MigrateBenchReport {
  readonly runs: readonly MigrationFigures[];
  /** Why the Linux guest was not measured, if it was not. */
  readonly linuxSkipped?: string;
  /** Why Linux migrations failed, if some did (the guest's end and the migration's start in guest time). */
  readonly linuxFailed?: readonly string[];
}

export interface MigrateBenchOptions {
  readonly dirty: readonly number[];
  readonly periodUs: number;
  readonly bandwidth: number;
  readonly linux: boolean;
  /** The Linux migrations: memory in MiB and link bit/s each (default LINUX_RUNS). */
  readonly linuxRuns?: readonly LinuxRun[];
  readonly progress: (line: string) => void;
}

/** The repository's root (the directory with package.json), from this file's place in the source or in dist/. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('bench:migrate: cannot find the repository root (package.json)');
    dir = up;
  }
  return dir;
}

function figures(guest: string, workload: string, transport: MigrationFigures['transport'], bandwidth: number, m: MigrationReport, console: string, end: string): MigrationFigures {
  const tap = parseGuestTap(console);
  return {
    guest,
    workload,
    transport,
    bandwidth,
    liveRounds: m.rounds.length - 1,
    stop: m.stop,
    roundPages: m.rounds.map((r) => r.pagesSent),
    guestPages: m.guestPages,
    pagesSent: m.pagesSent,
    bytes: m.bytes,
    totalGuestMs: m.totalGuestNs / 1e6,
    totalWallMs: m.totalWallMs,
    downtimeGuestMs: m.downtimeGuestNs / 1e6,
    downtimeWallMs: m.downtimeWallMs,
    suspendGuestMs: m.suspendGuestNs / 1e6,
    logDirtyMisses: m.logDirtyMisses,
    end,
    tapOk: tap.points.filter((p) => p.ok).length,
    tapTotal: tap.plan ?? tap.points.length,
  };
}

/** The one migration of a run's domain 0 (throws when it failed). */
function migrationOf(r: BootDomainsResult): MigrationReport {
  const sv = r.domains[0]?.saves.find((s) => s.then === 'migrate');
  if (sv?.migration === undefined) throw new Error(`the migration did not happen${sv?.error !== undefined ? `: ${sv.error}` : ''}`);
  return sv.migration;
}

/** probe-suspend with `dirty` pages rewritten every `periodUs`, over TCP on loopback to a receiver in this process. */
export async function probeOverTcp(dirty: number, periodUs: number, bandwidth: number, progress: (line: string) => void): Promise<MigrationFigures> {
  const cfg = loadXlConfig(join(repoRoot(), 'fixtures/guests/probe-suspend.cfg'), [`extra="dirty=${dirty} period=${periodUs} suspends=1"`]);
  const listener = await listenForMigration({ port: 0 });
  try {
    const source = bootDomains({
      configs: [cfg],
      saves: [{ index: 0, atNs: PROBE_START_NS, afterConsole: PROBE_MARKER, then: 'migrate', to: { host: '127.0.0.1', port: listener.port }, bandwidth }],
      onMigrationRound: (_i, r) => progress(`probe dirty=${dirty}: ${r.final ? 'stop-and-copy' : `round ${r.round}`}, ${r.pagesSent} pages`),
      timeoutSeconds: 10,
    });
    const src = await source;
    const m = migrationOf(src);
    // The receiver had the whole stream before the sender's run went on (the sender waits for its "ok").
    const rx = await listener.received;
    const dst = await bootDomains({ configs: [], restores: [{ bytes: rx.restorer, source: rx.source }], seed: 3, timeoutSeconds: 10 });
    const d = dst.domains[0]!;
    return figures('probe-suspend (16 MiB, 1 vCPU)', `dirty=${dirty} period=${periodUs} µs`, 'tcp-loopback', bandwidth, m, src.domains[0]!.console + d.console, d.end);
  } finally {
    await listener.close();
  }
}

/** Debian's Linux with the TAP initramfs, migrated in-process at LINUX_MARKER. */
export async function linuxInProcess(bandwidth: number, memoryMiB: number, progress: (line: string) => void): Promise<MigrationFigures | string> {
  const media = await buildLinuxGuest();
  const text = [
    'name = "linux"',
    `kernel = "${media.kernel}"`,
    `ramdisk = "${media.initrd}"`,
    `memory = ${memoryMiB}`,
    `vcpus = ${LINUX_VCPUS}`,
    `extra = "console=hvc0 xenlab.vcpus=${LINUX_VCPUS} cryptomgr.notests"`,
    `disk = [ "format=raw,vdev=xvda,access=rw,target=${media.disk}" ]`,
    'vif = [ "mac=00:16:3e:00:00:01,bridge=xenbr0" ]',
    '',
  ].join('\n');
  const { config } = parseXlConfig(text, 'bench-migrate-linux.cfg');
  const exportDir = mkdtempSync(join(tmpdir(), 'xenlab-bench-migrate-'));
  const t0 = performance.now();
  try {
    const r = await bootDomains({
      configs: [config],
      saves: [{ index: 0, atNs: 0, afterConsole: LINUX_MARKER, then: 'migrate', bandwidth }],
      onMigrationRound: (_i, x) => progress(`linux ${memoryMiB} MiB: ${x.final ? 'stop-and-copy' : `round ${x.round}`}, ${x.pagesSent} pages, ${x.pagesDirtied} dirtied`),
      onProgress: (p) => progress(`linux ${memoryMiB} MiB: ${(p.instructions / 1e9).toFixed(2)} G instructions, ${(p.guestNs / 1e9).toFixed(2)} s guest, ${((performance.now() - t0) / 1000).toFixed(0)} s wall`),
      timeoutSeconds: 600,
      diskExportDir: exportDir,
    });
    const d = r.domains[0]!;
    const sv = d.saves.find((x) => x.then === 'migrate');
    if (sv?.migration === undefined) {
      const at = sv !== undefined ? ` started at ${(sv.requestedAtNs / 1e9).toFixed(3)} s of guest time` : ' never started';
      return `the migration${at}${sv?.error !== undefined ? ` failed: ${sv.error}` : ''}; the guest ended at ${(d.endedAtNs / 1e9).toFixed(3)} s: ${d.detail}`;
    }
    return figures(`Debian Linux ${media.kernelRelease} (${memoryMiB} MiB, ${LINUX_VCPUS} vCPUs)`, `TAP checks, migrated at "${LINUX_MARKER}"`, 'in-process', bandwidth, migrationOf(r), d.console, d.end);
  } finally {
    rmSync(exportDir, { recursive: true, force: true });
  }
}

export async function runMigrateBench(o: MigrateBenchOptions): Promise<MigrateBenchReport> {
  const runs: MigrationFigures[] = [];
  for (const dirty of o.dirty) runs.push(await probeOverTcp(dirty, o.periodUs, o.bandwidth, o.progress));
  if (!o.linux) return { runs, linuxSkipped: '--no-linux' };
  if (!existsSync(join(linuxGuestDir(), 'linux-vmlinuz'))) {
    return { runs, linuxSkipped: `${join(linuxGuestDir(), 'linux-vmlinuz')} is missing (npm run fixtures builds the Linux media)` };
  }
  const failed: string[] = [];
  for (const l of o.linuxRuns ?? LINUX_RUNS) {
    const linux = await linuxInProcess(l.bandwidth, l.memoryMiB, o.progress);
    if (typeof linux === 'string') failed.push(`${l.memoryMiB} MiB at ${l.bandwidth / 1e9} Gbit/s: ${linux}`);
    else runs.push(linux);
  }
  return { runs, ...(failed.length > 0 ? { linuxFailed: failed } : {}) };
}

const f = (v: number, digits: number): string => v.toFixed(digits);

/** The report as a table (Markdown, so it can go into docs/performance.md as it is). */
export function renderMigrateBench(r: MigrateBenchReport): string {
  const head = ['guest', 'workload', 'transport', 'live rounds', 'pages per round', 'pages sent / guest pages', 'MiB sent', 'total (guest ms)', 'total (wall ms)', 'downtime (guest ms)', 'downtime (wall ms)', 'after'];
  const rows = r.runs.map((x) => [
    x.guest,
    x.workload,
    `${x.transport}, ${x.bandwidth / 1e9} Gbit/s`,
    `${x.liveRounds} (${x.stop})`,
    x.roundPages.join(', '),
    `${x.pagesSent} / ${x.guestPages}`,
    f(x.bytes / 2 ** 20, 2),
    f(x.totalGuestMs, 1),
    f(x.totalWallMs, 0),
    f(x.downtimeGuestMs, 2),
    f(x.downtimeWallMs, 0),
    `${x.end}, TAP ${x.tapOk}/${x.tapTotal} ok${x.logDirtyMisses !== 0 ? `, log-dirty missed ${x.logDirtyMisses}` : ''}`,
  ]);
  const line = (c: readonly string[]): string => `| ${c.join(' | ')} |`;
  const out = [line(head), line(head.map(() => '---')), ...rows.map(line)];
  if (r.linuxSkipped !== undefined) out.push('', `Linux not measured: ${r.linuxSkipped}`);
  for (const l of r.linuxFailed ?? []) out.push('', `Linux ${l}`);
  return `${out.join('\n')}\n`;
}

function parseArgs(argv: readonly string[]): MigrateBenchOptions & { json: string | undefined } {
  let dirty = [16, 128, 400];
  let periodUs = 100;
  let bandwidth = 1e9;
  let linux = true;
  let linuxRuns: readonly LinuxRun[] = LINUX_RUNS;
  let json: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--dirty') {
      dirty = value().split(',').map(Number);
      if (dirty.some((n) => !Number.isInteger(n) || n < 1 || n > 4000)) throw new Error('--dirty takes a comma-separated list of page counts from 1 to 4000');
    } else if (a === '--period') {
      periodUs = Number(value());
      if (!Number.isInteger(periodUs) || periodUs < 1) throw new Error('--period takes a whole number of guest µs');
    } else if (a === '--bandwidth') {
      bandwidth = Number(value());
      if (!(bandwidth > 0 && Number.isFinite(bandwidth))) throw new Error('--bandwidth takes bit/s (1e9 for 1 Gbit/s)');
    } else if (a === '--linux') {
      linuxRuns = value()
        .split(',')
        .map((item) => {
          const [mib, bits] = item.split('@');
          const memoryMiB = Number(mib);
          const bw = bits === undefined ? 1e9 : parseBandwidth(bits);
          if (!Number.isInteger(memoryMiB) || memoryMiB < 64 || bw === undefined) throw new Error(`--linux takes MIB@BANDWIDTH,... (128@1G,256@10G), not '${item}'`);
          return { memoryMiB, bandwidth: bw };
        });
    } else if (a === '--no-linux') linux = false;
    else if (a === '--json') json = value();
    else throw new Error(`unknown option ${a} (--json FILE, --dirty LIST, --period US, --bandwidth BITS, --linux MIB@BITS,..., --no-linux)`);
  }
  let last = 0;
  const progress = (s: string): void => {
    const now = performance.now();
    if (now - last < 2000 && !/round|stop-and-copy/.test(s)) return;
    last = now;
    process.stderr.write(`bench:migrate: ${s}\n`);
  };
  return { dirty, periodUs, bandwidth, linux, linuxRuns, json, progress };
}

async function main(): Promise<void> {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench:migrate: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const report = await runMigrateBench(opts);
  process.stdout.write(renderMigrateBench(report));
  if (opts.json !== undefined) writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
}

if (process.argv[1]?.endsWith('migrate-bench.js') === true || process.argv[1]?.endsWith('migrate-bench.ts') === true) {
  main().catch((e: unknown) => {
    process.stderr.write(`bench:migrate: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
