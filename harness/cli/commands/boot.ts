/**
 * `xenlab boot GUEST.cfg`: boots a PV guest from its xl.cfg (harness/boot/boot.ts, docs/boot.md).
 * The console ring goes to stdout as the guest writes it; CONSOLEIO_write lines go to stderr
 * prefixed `(d1) ` as Xen prints a domU's console_io; a progress line on a terminal; one summary
 * line at the end; the exit status says how the guest ended.
 *
 * Console input: with `--expect`/`--send` a deterministic script answers the guest and stdin is
 * not read; otherwise a terminal on stdin and stdout is attached like `xl console` (raw mode,
 * Ctrl-] detaches; harness/boot/terminal.ts), and any other stdin is piped into the console.
 */
import { defineCommand, type CliIo, type OptionTable } from '../command.js';

interface BootCli {
  /** One config boots one domain (bootGuest); several boot together on one host (bootDomains). */
  config: string[];
  timeout?: number;
  maxInstructions?: number;
  realtime?: boolean;
  strict?: boolean;
  seed?: number;
  stats?: boolean;
  /**
   * A string flag, repeatable (yargs gathers repeats into an array): an 'array' flag would also
   * swallow the config file after it (`--set memory=64 guest.cfg`).
   */
  set?: string;
  /** Repeatable string flags, paired in order: the i-th --send answers the i-th --expect. */
  expect?: string;
  send?: string;
  expectTimeout?: number;
  consoleLog?: string;
  ignoreStdin?: boolean;
  /** Serve the XenStore on this Unix socket ('auto': under $XDG_RUNTIME_DIR or the temp dir, with the pid). */
  xenstoreSocket?: string;
  diskWrites?: string;
  diskExport?: string;
}

export default defineCommand<BootCli>({
  name: 'boot',
  describe:
    'Boot a PV guest from its xl.cfg: console to stdout (a terminal is attached, Ctrl-] detaches; other stdin is piped in), Xen console ' +
    'and summary to stderr. Exit status: 0 poweroff, 3 crash, 4 reboot, 5 suspend, 6 watchdog, 7 soft reset, 123 expect timeout, ' +
    '124 timeout, 125 stalled, 126 instruction limit; 1 bad config or image, 2 usage',
  options: {
    config: {
      type: 'array',
      positional: true,
      required: true,
      describe:
        'The domain config (xl.cfg syntax; docs/boot.md lists the keys); several configs boot together on one host (one xenstored, one virtual network), ' +
        "each console line prefixed with the domain's name; exit status 0 when all power off, else the status of the first domain to end otherwise",
    },
    timeout: { type: 'number', describe: 'End the run after S seconds of guest time (exit 124)' },
    maxInstructions: { type: 'number', describe: 'End the run after N guest instructions (exit 126)' },
    realtime: {
      type: 'boolean',
      describe: "Run the guest's clock at wall-clock speed (runs no longer repeat exactly); on by default when a terminal is attached (--realtime=false)",
    },
    strict: { type: 'boolean', describe: "Report what Xen accepts but is suspicious (the PV MMU's observations)" },
    seed: { type: 'number', describe: 'Seed of the machine-memory shuffle (default 7); same config and seed, same run' },
    stats: { type: 'boolean', describe: 'Print the hypercall table (hypercall, sub-op, result, count) at the end' },
    set: { type: 'string', describe: 'Override a config key, KEY=VALUE in xl syntax, as xl create takes them (repeatable)' },
    expect: {
      type: 'string',
      describe: 'Wait for PATTERN on the console (text, or /REGEX/FLAGS) since the previous match; repeatable, in order. Stdin is then not read',
    },
    send: {
      type: 'string',
      describe: 'Type TEXT once the matching --expect is seen (the i-th --send answers the i-th --expect); escapes \\n \\r \\t \\e \\xHH \\\\ \\0',
    },
    expectTimeout: { type: 'number', describe: `Guest seconds each --expect waits before the run ends (exit 123); default 60` },
    consoleLog: { type: 'string', describe: "Also write the domain's console output to this file (created or truncated)" },
    ignoreStdin: { type: 'boolean', describe: 'Do not read stdin: no console input (a guest waiting for a key ends as stalled)' },
    xenstoreSocket: {
      type: 'string',
      describe: "Serve the domain's XenStore on this Unix socket for 'xenlab xenstore ...' ('auto' picks a path and prints it); served while the run waits for input",
    },
    diskWrites: {
      type: 'string',
      describe: "Where a writable disk's writes go: 'overlay' (default: kept in memory, the image file is never modified) or 'through' (written to the image file)",
    },
    diskExport: { type: 'string', describe: 'At the end, write each disk as the guest left it to DIR/<vdev>.img (e.g. to inspect an overlay)' },
  } satisfies OptionTable<BootCli>,
  async run(opts, io) {
    const { UserError } = await import('../../errors.js');
    const configs = [opts.config].flat().map(String);
    for (const c of configs) {
      if (c === '' || c.startsWith('-')) throw new UserError('usage', `boot: expected a domain config before '${c}' (see 'xenlab boot --help')`);
    }
    if (configs.length === 0) throw new UserError('usage', `boot: expected a domain config (see 'xenlab boot --help')`);
    if (opts.timeout !== undefined && !(opts.timeout > 0 && Number.isFinite(opts.timeout))) throw new UserError('bad-option', '--timeout expects a positive number of seconds');
    if (opts.maxInstructions !== undefined && !(Number.isSafeInteger(opts.maxInstructions) && opts.maxInstructions > 0)) {
      throw new UserError('bad-option', '--max-instructions expects a positive whole number');
    }
    if (opts.seed !== undefined && !Number.isSafeInteger(opts.seed)) throw new UserError('bad-option', '--seed expects an integer');
    if (opts.diskWrites !== undefined && opts.diskWrites !== 'overlay' && opts.diskWrites !== 'through') {
      throw new UserError('bad-option', `--disk-writes expects 'overlay' or 'through', not '${opts.diskWrites}'`);
    }
    const { loadXlConfig } = await import('../../toolstack/xl-cfg.js');
    const { bootGuest, formatSeconds } = await import('../../boot/boot.js');
    const sets: unknown[] = opts.set === undefined ? [] : [opts.set].flat();
    const script = await consoleScript(opts);
    if (configs.length > 1) return bootSeveral(configs.map((p) => loadXlConfig(p, sets.map(String))), opts, io);
    const config = loadXlConfig(configs[0] as string, sets.map(String));
    const progress = new ProgressLine(io);
    // The XenStore socket: a new server for each boot (a restart builds a new XenStore).
    const { serveXenStoreSocket, defaultSocketPath } = await import('../../xenstore/socket.js');
    const xsPath = opts.xenstoreSocket === undefined ? undefined : opts.xenstoreSocket === 'auto' || opts.xenstoreSocket === '' ? defaultSocketPath(io.env) : opts.xenstoreSocket;
    let xsServer: Promise<{ close(): Promise<void> } | undefined> = Promise.resolve(undefined);
    const onXenStore = (xs: import('../../xenstore/host.js').XenStore): void => {
      if (xsPath === undefined) return;
      const first = xsServer;
      xsServer = first.then(async (prev) => {
        await prev?.close();
        return serveXenStoreSocket(xs, xsPath);
      });
    };
    if (xsPath !== undefined) progress.stderr(`xenlab: XenStore socket ${xsPath}\n`);
    for (const w of config.warnings) progress.stderr(`xenlab: ${w}\n`);
    const { StdinInput, isTerminal } = await import('../../boot/terminal.js');
    const attach = isTerminal(io.stdin) && isTerminal(io.stdout);
    const readStdin = script.length === 0 && opts.ignoreStdin !== true;
    const input = readStdin
      ? new StdinInput({
          stdin: io.stdin as unknown as import('../../boot/terminal.js').InputStream,
          attach,
          onDetach: () =>
            io.stderr.write(
              `\nxenlab: detached (Ctrl-]); domain ${config.name} runs on headless until it ends` +
                `${opts.consoleLog !== undefined ? `, its console going to ${opts.consoleLog}` : ' (its console is no longer shown)'}\n`,
            ),
        })
      : undefined;
    const attached = input?.attached === true;
    // Node's raw mode keeps the terminal's LF -> CR LF output translation: plain newlines do.
    if (attached) io.stderr.write(`xenlab: attached to the console of ${config.name}; Ctrl-] detaches\n`);
    const realtime = opts.realtime ?? attached;
    let r;
    try {
      r = await bootGuest({
        config,
        ...(opts.timeout !== undefined ? { timeoutSeconds: opts.timeout } : {}),
        ...(opts.maxInstructions !== undefined ? { maxInstructions: opts.maxInstructions } : {}),
        ...(realtime ? { realtime: true } : {}),
        ...(opts.strict === true ? { strict: true } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
        ...(script.length > 0 ? { script } : {}),
        ...(opts.expectTimeout !== undefined ? { expectTimeoutSeconds: opts.expectTimeout } : {}),
        ...(opts.consoleLog !== undefined ? { consoleLog: opts.consoleLog } : {}),
        ...(opts.diskWrites !== undefined ? { diskWrites: opts.diskWrites as 'overlay' | 'through' } : {}),
        ...(opts.diskExport !== undefined ? { diskExportDir: opts.diskExport } : {}),
        ...(input !== undefined ? { input } : {}),
        onConsole: (bytes) => {
          // Once detached, the console goes to the log only.
          if (input?.detached !== true) progress.stdout(bytes);
        },
        onXenStore,
        onXenLog: (line) => progress.stderr(`(d1) ${line}\n`),
        ...(io.interactive && !attached ? { onProgress: (p: { instructions: number; guestNs: number }) => progress.show(p.instructions, p.guestNs) } : {}),
      });
    } finally {
      input?.close();
    }
    if (attached && !input.detached) io.stderr.write('\n'); // the guest's last line may be unfinished
    progress.clear();
    await (await xsServer)?.close();
    for (const d of r.diagnostics) io.stderr.write(`xenlab: ${d}\n`);
    if (opts.stats === true) io.stderr.write(hypercallTable(r.domain.stats.list()));
    const mips = r.instructions / Math.max(r.wallMs, 1e-3) / 1e3;
    io.stderr.write(
      `xenlab: ${r.detail}; ${r.instructions} instructions, ${formatSeconds(r.guestNs)} guest, ${(r.wallMs / 1000).toFixed(3)} s wall (${mips.toFixed(1)} MIPS)\n`,
    );
    return r.exitCode;
  },
});

/** Options of a run through bootDomains (`xenlab boot A B`, `xenlab save`, `xenlab restore`). */
export type RunCli = Pick<BootCli, 'timeout' | 'maxInstructions' | 'strict' | 'seed' | 'stats' | 'consoleLog' | 'diskWrites' | 'diskExport'>;
type SeveralCli = RunCli & Partial<Pick<BootCli, 'realtime' | 'xenstoreSocket' | 'expect' | 'send'>>;

/** The run options `xenlab save`, `restore`, `migrate` and `receive` share (spread into their tables). */
export const RUN_OPTIONS: OptionTable<RunCli> = {
  timeout: { type: 'number', describe: 'End the run after S seconds of guest time (exit 124)' },
  maxInstructions: { type: 'number', describe: 'End the run after N guest instructions (exit 126)' },
  strict: { type: 'boolean', describe: "Report what Xen accepts but is suspicious (the PV MMU's observations)" },
  seed: { type: 'number', describe: 'Seed of the machine-memory shuffle (default 7): a restored or received domain gets other MFNs than it had' },
  stats: { type: 'boolean', describe: 'Print the hypercall table at the end' },
  consoleLog: { type: 'string', describe: "Also write the domain's console output to this file" },
  diskWrites: { type: 'string', describe: "'overlay' (default) or 'through' (see xenlab boot --help)" },
  diskExport: { type: 'string', describe: 'At the end, write each disk as the guest left it to DIR/<name>/<vdev>.img' },
};

/** What a run adds to its configs: domains restored from checkpoints, saves to make. */
export interface RunExtras {
  readonly restores?: readonly import('../../boot/domains.js').RestoreSource[];
  readonly saves?: readonly import('../../boot/domains.js').SaveOperation[];
  /** Each save or migration as it completes or fails (after its line is printed). */
  readonly onSave?: (r: import('../../boot/domains.js').SaveReport) => void;
}

/**
 * Several domains (configs, then checkpoints) on one host (harness/boot/domains.ts). With more
 * than one, each console line goes to stdout prefixed `NAME: `; Xen console lines go to stderr
 * prefixed `(dN) `; stdin is not read (console input and scripts take one domain);
 * `--console-log FILE` gives each domain `FILE.NAME` (just FILE for one); one summary line per
 * domain, a line per save, then the run's.
 */
export async function bootSeveral(configs: readonly import('../../toolstack/xl-cfg.js').DomainConfig[], opts: SeveralCli, io: CliIo, extras: RunExtras = {}): Promise<number> {
  const { UserError } = await import('../../errors.js');
  if (opts.expect !== undefined || opts.send !== undefined) throw new UserError('usage', 'boot: --expect/--send answer one domain booted on its own; give one config to xenlab boot');
  if (opts.diskWrites !== undefined && opts.diskWrites !== 'overlay' && opts.diskWrites !== 'through') {
    throw new UserError('bad-option', `--disk-writes expects 'overlay' or 'through', not '${opts.diskWrites}'`);
  }
  const { formatSeconds } = await import('../../boot/boot.js');
  const { bootDomains } = await import('../../boot/domains.js');
  const { describeRound, describeMigrationTotals } = await import('../../toolstack/migrate.js');
  const total = configs.length + (extras.restores?.length ?? 0);
  const progress = new ProgressLine(io);
  /** Failed migrations, printed as they failed: their diagnostics are not repeated at the end. */
  const announced: string[] = [];
  for (const c of configs) for (const w of c.warnings) progress.stderr(`xenlab: ${c.name}: ${w}\n`);
  const { serveXenStoreSocket, defaultSocketPath } = await import('../../xenstore/socket.js');
  const xsPath = opts.xenstoreSocket === undefined ? undefined : opts.xenstoreSocket === 'auto' || opts.xenstoreSocket === '' ? defaultSocketPath(io.env) : opts.xenstoreSocket;
  let xsServer: Promise<{ close(): Promise<void> } | undefined> = Promise.resolve(undefined);
  if (xsPath !== undefined) progress.stderr(`xenlab: XenStore socket ${xsPath}\n`);
  const lines = Array.from({ length: total }, (_, k) => new PrefixedLines(total === 1 ? '' : `${configs[k]?.name ?? `domain ${k + 1}`}: `, (text) => progress.stdout(new TextEncoder().encode(text))));
  const r = await bootDomains({
    configs,
    ...(extras.restores !== undefined ? { restores: extras.restores } : {}),
    ...(extras.saves !== undefined ? { saves: extras.saves } : {}),
    onSave: (sv) => {
      extras.onSave?.(sv);
      if (sv.then === 'migrate') {
        const head = `xenlab: migration of domain ${sv.domid} at ${formatSeconds(sv.requestedAtNs)}`;
        if (sv.error !== undefined) {
          progress.stderr(`${head} failed: ${sv.error}; it runs on\n`);
          announced.push(`failed: ${sv.error}; it runs on`);
        }
        else if (sv.migration !== undefined) {
          const [first, ...rest] = describeMigrationTotals(sv.migration);
          progress.stderr(`${head} to ${sv.newDomid !== undefined ? `domain ${sv.newDomid}` : 'the receiver'}: ${first ?? ''}\n`);
          for (const l of rest) progress.stderr(`xenlab: migration ${l}\n`);
        }
        return;
      }
      const what = sv.error !== undefined ? `failed: ${sv.error}` : `${sv.bytes} bytes${sv.file !== undefined ? ` to ${sv.file}` : ''}`;
      const then = sv.error !== undefined ? '; it resumes' : sv.then === 'cancel' ? '; it resumes (cancelled)' : sv.then === 'restore' ? `; restored as domain ${sv.newDomid}` : '; destroyed';
      progress.stderr(`xenlab: save of domain ${sv.domid} at ${formatSeconds(sv.requestedAtNs)}: ${what}${then}\n`);
    },
    ...(opts.timeout !== undefined ? { timeoutSeconds: opts.timeout } : {}),
    ...(opts.maxInstructions !== undefined ? { maxInstructions: opts.maxInstructions } : {}),
    ...(opts.realtime === true ? { realtime: true } : {}),
    ...(opts.strict === true ? { strict: true } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.consoleLog !== undefined ? { consoleLogs: total === 1 ? [opts.consoleLog] : configs.map((c) => `${opts.consoleLog}.${c.name}`) } : {}),
    ...(opts.diskWrites !== undefined ? { diskWrites: opts.diskWrites as 'overlay' | 'through' } : {}),
    ...(opts.diskExport !== undefined ? { diskExportDir: opts.diskExport } : {}),
    onMigrationRound: (_index, round) => progress.stderr(`xenlab: migration ${describeRound(round)}\n`),
    onConsole: (index, bytes) => lines[index]?.push(bytes),
    onXenLog: (_index, line, domid) => progress.stderr(`(d${domid}) ${line}\n`),
    onXenStore: (xs) => {
      if (xsPath === undefined) return;
      xsServer = xsServer.then(async (prev) => prev ?? serveXenStoreSocket(xs, xsPath));
    },
    ...(io.interactive ? { onProgress: (p: { instructions: number; guestNs: number }) => progress.show(p.instructions, p.guestNs) } : {}),
  });
  for (const l of lines) l.flush();
  progress.clear();
  await (await xsServer)?.close();
  for (const m of r.diagnostics) io.stderr.write(`xenlab: ${m}\n`);
  for (const d of r.domains) {
    for (const m of d.diagnostics) if (!announced.some((a) => m.endsWith(a))) io.stderr.write(`xenlab: ${d.name}: ${m}\n`);
    if (opts.stats === true) io.stderr.write(`xenlab: hypercalls of ${d.name} (domain ${d.domid}):\n${hypercallTable(d.domain.stats.list())}`);
    io.stderr.write(`xenlab: ${d.name}: ${d.detail} (exit ${d.exitCode})\n`);
  }
  const mips = r.instructions / Math.max(r.wallMs, 1e-3) / 1e3;
  io.stderr.write(
    `xenlab: ${r.domains.length} domain${r.domains.length === 1 ? '' : 's'}; ${r.instructions} instructions, ${formatSeconds(r.guestNs)} guest, ${(r.wallMs / 1000).toFixed(3)} s wall (${mips.toFixed(1)} MIPS)\n`,
  );
  return r.exitCode;
}

/** A domain's console bytes as whole lines, each prefixed (an unfinished last line is flushed at the end). */
class PrefixedLines {
  private partial: Uint8Array[] = [];
  constructor(
    private readonly prefix: string,
    private readonly write: (text: string) => void,
  ) {}

  push(bytes: Uint8Array): void {
    let from = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] !== 0x0a) continue;
      this.partial.push(bytes.subarray(from, i));
      this.emit();
      from = i + 1;
    }
    if (from < bytes.length) this.partial.push(bytes.slice(from));
  }

  flush(): void {
    if (this.partial.length > 0) this.emit();
  }

  private emit(): void {
    const n = this.partial.reduce((k, c) => k + c.length, 0);
    const all = new Uint8Array(n);
    let at = 0;
    for (const c of this.partial) {
      all.set(c, at);
      at += c.length;
    }
    this.partial = [];
    this.write(`${this.prefix}${new TextDecoder().decode(all).replace(/\r$/, '')}\n`);
  }
}

/** The --expect/--send pairs as a console script (the i-th --send answers the i-th --expect). */
async function consoleScript(opts: BootCli): Promise<import('../../boot/console-script.js').ConsoleExpect[]> {
  const { UserError } = await import('../../errors.js');
  const { decodeSendEscapes, parseExpectPattern } = await import('../../boot/console-script.js');
  const list = (v: unknown): string[] => (v === undefined ? [] : [v].flat().map(String));
  const expects = list(opts.expect);
  const sends = list(opts.send);
  if (sends.length > expects.length) throw new UserError('usage', `boot: ${sends.length} --send for ${expects.length} --expect (each --send answers the --expect of the same rank)`);
  if (opts.expectTimeout !== undefined && !(opts.expectTimeout > 0 && Number.isFinite(opts.expectTimeout))) {
    throw new UserError('bad-option', '--expect-timeout expects a positive number of seconds');
  }
  return expects.map((e, k) => {
    const send = sends[k];
    return { expect: parseExpectPattern(e), ...(send !== undefined ? { send: decodeSendEscapes(send) } : {}) };
  });
}

/** The progress line on a terminal's stderr, cleared before anything else is written. */
class ProgressLine {
  private shown = false;
  private readonly started = performance.now();
  constructor(private readonly io: CliIo) {}

  show(instructions: number, guestNs: number): void {
    const wall = (performance.now() - this.started) / 1000;
    const mips = instructions / Math.max(wall, 1e-6) / 1e6;
    this.io.stderr.write(`\r\x1b[Kxenlab: ${(instructions / 1e6).toFixed(1)}M instructions, ${(guestNs / 1e9).toFixed(3)} s guest, ${mips.toFixed(1)} MIPS`);
    this.shown = true;
  }

  clear(): void {
    if (!this.shown) return;
    this.io.stderr.write('\r\x1b[K');
    this.shown = false;
  }

  stdout(bytes: Uint8Array): void {
    this.clear();
    this.io.stdout.write(bytes);
  }

  stderr(text: string): void {
    this.clear();
    this.io.stderr.write(text);
  }
}

/** Hypercall counts as an aligned table. */
function hypercallTable(rows: readonly { hypercall: string; subop: string; result: string; count: number }[]): string {
  const head = ['hypercall', 'sub-op', 'result', 'count'];
  const cells = rows.map((r) => [r.hypercall, r.subop === '' ? '-' : r.subop, r.result, String(r.count)]);
  const width = head.map((h, k) => Math.max(h.length, ...cells.map((c) => (c[k] as string).length)));
  const line = (c: readonly string[]): string =>
    c.map((x, k) => (k === 3 ? x.padStart(width[k] as number) : x.padEnd(width[k] as number))).join('  ').trimEnd();
  return `${[line(head), ...cells.map(line)].join('\n')}\n`;
}
