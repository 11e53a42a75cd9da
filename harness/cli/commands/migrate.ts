/**
 * `xenlab migrate GUEST.cfg HOST:PORT`: boots the domain, and at a point of its run (`--at` guest
 * seconds, or once its console shows `--after TEXT`) migrates it live over TCP to a
 * `xenlab receive` listening at HOST:PORT, as `xl migrate` does: pre-copy rounds while the guest
 * runs, then control/shutdown = "suspend" and the stop-and-copy (harness/toolstack/migrate.ts,
 * docs/migration.md). A line per round as it ends, then the totals; the source ends as
 * 'migrated' (exit 0). xenlab has no daemon: the domain lives in this process, so `migrate` boots
 * it first. When the receiver cannot be reached or refuses the stream, that is one line and the
 * domain runs on here to its end (as after a failed `xl migrate`); the exit status is then 1.
 */
import { defineCommand, type OptionTable } from '../command.js';
import { RUN_OPTIONS, type RunCli } from './boot.js';

interface MigrateCli extends RunCli {
  config: string;
  target: string;
  at?: number;
  after?: string;
  bandwidth?: string;
  set?: string;
}

/** Decimal multipliers of --bandwidth's suffixes (bits per second, as link speeds are given). */
const SUFFIX: Readonly<Record<string, number>> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };

/**
 * A link bandwidth in bit/s: a plain number (`1000000`, `2.5e8`), or a number with a decimal
 * suffix k, M, G or T (any case), optionally followed by `bit/s`, `bit` or `bps`: `100M`, `1G`,
 * `10Gbit/s`. Undefined when it is not one, or not positive.
 */
export function parseBandwidth(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d*)?(?:e\d+)?|\.\d+)\s*([kmgt]?)(?:bit\/s|bits?|bps)?\s*$/i.exec(text);
  if (m === null) return undefined;
  const v = Number(m[1]) * (SUFFIX[(m[2] ?? '').toLowerCase()] as number);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/** HOST:PORT (an IPv6 address in brackets: [::1]:8002). */
export function parseTarget(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (!(port >= 1 && port <= 65535)) return undefined;
  return { host: (m[1] ?? m[2]) as string, port };
}

export default defineCommand<MigrateCli>({
  name: 'migrate',
  describe:
    'Boot a domain from its xl.cfg and migrate it live, at a point of its run, to a xenlab receive at HOST:PORT (pre-copy rounds while it runs, then ' +
    'the stop-and-copy). Exit status 0 when migrated; 1 when the migration failed (the domain then runs on here to its end)',
  options: {
    config: { type: 'string', positional: true, required: true, describe: 'The domain config (xl.cfg syntax)' },
    target: { type: 'string', positional: true, required: true, describe: 'HOST:PORT of the receiving xenlab receive' },
    at: { type: 'number', describe: 'Start the migration at S seconds of guest time (default 0: as soon as it runs, or with --after)' },
    after: { type: 'string', describe: 'Start the migration once its console has printed TEXT (and --at has passed)' },
    bandwidth: {
      type: 'string',
      describe: 'The modelled link in bit/s (default 1G): a number, or with a decimal suffix k, M, G, T (100M = 10^8 bit/s); a round lasts its bytes\' time on it',
    },
    set: { type: 'string', describe: 'Override a config key, KEY=VALUE in xl syntax (repeatable)' },
    ...RUN_OPTIONS,
    timeout: { type: 'number', describe: 'End the run after S seconds of guest time (exit 124; 1 if the migration failed)' },
  } satisfies OptionTable<MigrateCli>,
  async run(opts, io) {
    const { UserError } = await import('../../errors.js');
    const to = parseTarget(opts.target);
    if (to === undefined) throw new UserError('usage', `migrate: expected HOST:PORT of a xenlab receive, not '${opts.target}'`);
    if (opts.at !== undefined && !(opts.at >= 0 && Number.isFinite(opts.at))) throw new UserError('bad-option', '--at expects a number of guest seconds, 0 or more');
    if (opts.after === '') throw new UserError('bad-option', '--after expects the console text to wait for');
    let bandwidth: number | undefined;
    if (opts.bandwidth !== undefined) {
      bandwidth = parseBandwidth(String(opts.bandwidth));
      if (bandwidth === undefined) throw new UserError('bad-option', `--bandwidth expects bit/s: a positive number, or with a suffix k, M, G, T (100M, 1G), not '${opts.bandwidth}'`);
    }
    const { loadXlConfig } = await import('../../toolstack/xl-cfg.js');
    const { bootSeveral } = await import('./boot.js');
    const sets = opts.set === undefined ? [] : [opts.set].flat().map(String);
    const config = loadXlConfig(opts.config, sets);
    for (const w of config.warnings) io.stderr.write(`xenlab: ${w}\n`);
    let failed = false;
    const code = await bootSeveral([config], opts, io, {
      saves: [
        {
          index: 0,
          atNs: Math.round((opts.at ?? 0) * 1e9),
          ...(opts.after !== undefined ? { afterConsole: opts.after } : {}),
          then: 'migrate',
          to,
          ...(bandwidth !== undefined ? { bandwidth } : {}),
        },
      ],
      onSave: (r) => {
        if (r.error !== undefined) failed = true;
      },
    });
    return failed ? 1 : code;
  },
});
