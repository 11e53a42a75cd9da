/**
 * `xenlab conformance`: boots the built-in probe guests and, when its fixture is cached, GRUB
 * (or those named), checks their TAP (GRUB: its console-script checks) and how they end, writes
 * the reports (reports/out/ by default: results.tap, junit.xml, report.json, report.html),
 * prints a one-screen summary, and exits 1 when anything failed. `npm start` runs it.
 */
import { defineCommand, type OptionTable } from '../../harness/cli/command.js';

interface ConformanceCli {
  guest?: readonly string[];
  profile?: readonly string[];
  out?: string;
  format?: readonly string[];
  strict?: boolean;
  list?: boolean;
  shard?: string;
  hostile?: string;
  runs?: number;
  seed?: number;
  replay?: string;
}

export default defineCommand<ConformanceCli>({
  name: 'conformance',
  describe: 'Boot the probe guests, check their TAP results and how they end, and write TAP/JUnit/JSON/HTML reports',
  options: {
    guest: { type: 'array', describe: 'Run only these profiles (by name; default: all built-in)' },
    profile: {
      type: 'array',
      describe: "Run the guest profiles of this file (.json, .js, .mjs, .ts; docs/profiles.md) instead of the built-in ones; with --guest, those named among the file's and the built-ins",
    },
    out: { type: 'string', describe: 'Directory for the reports', default: 'reports/out' },
    format: { type: 'array', describe: 'Report formats to write: tap, junit, json, html (default: all)' },
    strict: { type: 'boolean', describe: "Report what Xen accepts but is suspicious (the hypervisor's --strict mode)" },
    list: { type: 'boolean', describe: 'List the built-in profiles and exit' },
    shard: { type: 'string', describe: "Run only shard I of N (I/N: every N-th profile); 'xenlab report merge' combines the shards' report.json files" },
    hostile: { type: 'string', describe: 'Instead of the checks, boot each guest against hostile backends of these areas (blk,net,console,xenstore: generated fault plans, docs/conformance.md "Hostile backends")' },
    runs: { type: 'number', describe: 'With --hostile: fault plans per guest and area', default: 10 },
    seed: { type: 'number', describe: 'With --hostile: the seed of the generated plans (default: a random one, printed)' },
    replay: { type: 'string', describe: 'With --hostile and one --guest: boot exactly the counterexample SEED:PATH a failure printed, and print its plan' },
  } satisfies OptionTable<ConformanceCli>,
  async run(opts, io) {
    const { UserError } = await import('../../harness/errors.js');
    const { packageRoot, packageVersion } = await import('../../harness/cli/package-info.js');
    const { BUILTIN_PROFILES } = await import('../profile.js');
    const { runConformance } = await import('../run.js');
    const { renderSummary } = await import('../summary.js');
    const { reportFormats, writeReports } = await import('../write-reports.js');
    const { parseShard, shardOf } = await import('../shard.js');

    // A profile of a Debian fixture runs by default only when the fixture is cached.
    const { defaultCacheDir, listFixtures } = await import('../../fixtures/pipeline/cache.js');
    const cached = new Set(listFixtures({ cacheDir: defaultCacheDir(io.env) }).map((f) => f.fixture));
    const absent = (p: (typeof BUILTIN_PROFILES)[number]): boolean => p.fixture !== undefined && !cached.has(p.fixture);
    const formats = reportFormats(opts.format);
    const shard = opts.shard !== undefined ? parseShard(opts.shard) : undefined;
    const { loadProfileFile } = await import('../profile-file.js');
    const own: (typeof BUILTIN_PROFILES)[number][] = [];
    for (const f of opts.profile ?? []) {
      for (const p of await loadProfileFile(f)) {
        if (own.some((q) => q.name === p.name)) throw new UserError('bad-option', `--profile ${f}: a profile named '${p.name}' was already loaded`);
        own.push(p);
      }
    }
    let profiles = own.length > 0 ? [...own, ...BUILTIN_PROFILES.filter((b) => !own.some((p) => p.name === b.name))] : BUILTIN_PROFILES;
    if (opts.list === true) {
      for (const p of profiles) io.stdout.write(`${p.name.padEnd(22)} ${p.description}${absent(p) ? ` (needs fixture ${p.fixture}: npm run fixtures)` : ''}\n`);
      return 0;
    }
    if (opts.guest !== undefined && opts.guest.length > 0) {
      for (const g of opts.guest) {
        if (!profiles.some((p) => p.name === g)) throw new UserError('bad-option', `--guest: no profile named '${g}' (see 'xenlab conformance --list')`);
      }
      profiles = profiles.filter((p) => opts.guest!.includes(p.name));
    } else if (own.length > 0) {
      profiles = own;
    }
    // In the default run, a profile whose fixture is not cached is a guest row of one skip with
    // the reason (counted as skipped, never failed); it stays in the run's profile list, so shards
    // partition the same list whichever fixtures each machine has cached.
    const skipAbsent = (opts.guest === undefined || opts.guest.length === 0) && own.length === 0;
    const skipReason = (p: (typeof BUILTIN_PROFILES)[number]): string | undefined =>
      skipAbsent && absent(p) ? `fixture missing: ${p.fixture} (run \`npm run fixtures\`)` : undefined;
    let shardInfo;
    if (shard !== undefined) {
      const part = shardOf(profiles, shard);
      profiles = part.profiles;
      shardInfo = part.info;
      io.stderr.write(`xenlab: shard ${shard.index}/${shard.count}: ${profiles.length} of ${part.info.profiles.length} profiles\n`);
    }
    if (opts.hostile === undefined && (opts.replay !== undefined || opts.seed !== undefined)) throw new UserError('bad-option', '--seed and --replay go with --hostile');
    if (opts.hostile !== undefined) {
      const { parseAreas, runHostileCommand } = await import('../hostile/command.js');
      const seed = opts.seed ?? (Date.now() ^ (process.pid << 8)) >>> 0;
      if (opts.replay === undefined) io.stderr.write(`xenlab: hostile backends, seed ${seed} (repeat with --seed ${seed})\n`);
      const record = await runHostileCommand({
        profiles: profiles.filter((p) => skipReason(p) === undefined),
        root: packageRoot(),
        version: packageVersion(),
        areas: parseAreas(opts.hostile),
        runs: opts.runs ?? 10,
        seed,
        ...(opts.replay !== undefined ? { replay: opts.replay } : {}),
        log: (line) => io.stderr.write(`${line}\n`),
      });
      const written = writeReports(record, opts.out ?? 'reports/out', formats);
      io.stdout.write(renderSummary(record, written));
      return record.totals.failed === 0 && record.totals.guestsFailed === 0 ? 0 : 1;
    }
    const n = profiles.length;
    const run = await runConformance({
      profiles,
      root: packageRoot(),
      version: packageVersion(),
      skipReason,
      ...(opts.strict === true ? { strict: true } : {}),
      onGuest: ({ index, profile, result }) => {
        if (result === undefined) {
          if (io.interactive) io.stderr.write(`[${index + 1}/${n}] ${profile.name} ...\r`);
          return;
        }
        if (io.interactive) io.stderr.write('\x1b[2K');
        const passed = result.tests.filter((t) => t.status === 'pass').length;
        if (result.end === 'not-run') {
          io.stderr.write(`[${index + 1}/${n}] ${profile.name}: skipped, ${result.detail}; or --guest ${profile.name} to fetch it\n`);
          return;
        }
        io.stderr.write(`[${index + 1}/${n}] ${profile.name}: ${result.ok ? 'ok' : 'FAIL'} (${passed}/${result.tests.length}, ${result.end})\n`);
      },
      ...(io.interactive
        ? { onProgress: (p: { instructions: number; guestNs: number }) => io.stderr.write(`\x1b[2K  ${(p.instructions / 1e6).toFixed(1)}M instructions, ${(p.guestNs / 1e9).toFixed(3)} s guest time\r`) }
        : {}),
    });
    const record = shardInfo !== undefined ? { ...run, shard: shardInfo } : run;
    const written = writeReports(record, opts.out ?? 'reports/out', formats);
    io.stdout.write(renderSummary(record, written));
    return record.totals.failed === 0 && record.totals.guestsFailed === 0 ? 0 : 1;
  },
});
