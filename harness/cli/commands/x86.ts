/**
 * `xenlab x86 ...`: the CPU core on its own. `run` executes a static x86-64 Linux program in user
 * mode (harness/linux-user/, docs/linux-user.md); `boot-bare` boots a Multiboot kernel on the
 * bare test machine (harness/bare/, docs/bare-machine.md); `bench` times the benchmark workloads
 * against the host CPU. Add further subcommands to the list at the bottom.
 */
import { defineCommand, defineGroup, type OptionTable } from '../command.js';

interface RunCli {
  program: string;
  args?: string[];
  verbose?: boolean;
  stats?: boolean;
  seed?: number;
  interpreter?: boolean;
}

const run = defineCommand<RunCli>({
  name: 'run',
  describe: 'Run a static x86-64 Linux program on the emulated CPU (user mode; a test vehicle for the core)',
  passThrough: true,
  options: {
    program: { type: 'string', positional: true, required: true, describe: 'Static x86-64 Linux executable (ET_EXEC or static-PIE)' },
    args: {
      type: 'array',
      positional: true,
      describe: "The program's arguments, flag-like or not; spell one of xenlab's own flags after -- to pass it on",
    },
    verbose: { type: 'boolean', describe: 'Name each unimplemented syscall the program makes (once per number)' },
    stats: { type: 'boolean', describe: 'Print instructions retired, wall time and MIPS to stderr at exit' },
    seed: { type: 'number', describe: 'Seed for AT_RANDOM and getrandom (default 0)' },
    interpreter: { type: 'boolean', describe: 'Interpret every block (do not compile hot blocks to JavaScript)' },
  } satisfies OptionTable<RunCli>,
  async run(opts, io) {
    const { UserError } = await import('../../errors.js');
    if (opts.program === '' || opts.program.startsWith('-')) {
      throw new UserError('usage', `x86 run: expected a program before '${opts.program}' (see 'xenlab x86 run --help')`);
    }
    if (opts.seed !== undefined && !Number.isSafeInteger(opts.seed)) throw new UserError('bad-option', '--seed expects an integer');
    const { runLinuxProgram } = await import('../../linux-user/process.js');
    const r = await runLinuxProgram({
      program: opts.program,
      args: opts.args ?? [],
      verbose: opts.verbose === true,
      jit: opts.interpreter !== true,
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      stdout: io.stdout,
      stderr: io.stderr,
      stdin: io.stdin,
    });
    if (opts.stats === true) {
      const mips = r.retired / Math.max(r.wallSeconds, 1e-9) / 1e6;
      io.stderr.write(`xenlab: ${r.retired} instructions retired in ${r.wallSeconds.toFixed(3)} s wall (${mips.toFixed(2)} MIPS)\n`);
      if (r.unimplemented.size > 0) {
        const { syscallName } = await import('../../linux-user/syscalls.js');
        const list = [...r.unimplemented].map(([nr, n]) => `${syscallName(nr) ?? nr}${n > 1 ? ` x${n}` : ''}`).join(', ');
        io.stderr.write(`xenlab: unimplemented syscalls (-ENOSYS): ${list}\n`);
      }
    }
    return r.status;
  },
});

interface BootBareCli {
  image: string;
  mem?: number;
  append?: string;
  module?: string[];
  maxInsns?: number;
  stats?: boolean;
  interpreter?: boolean;
}

const bootBare = defineCommand<BootBareCli>({
  name: 'boot-bare',
  describe:
    'Boot a Multiboot (v1) kernel on the bare test machine (COM1 to stdout, exit through port 0xF4 as QEMU isa-debug-exit: status (v << 1) | 1)',
  options: {
    image: { type: 'string', positional: true, required: true, describe: 'Multiboot kernel (ELF32, or any format with the header address fields)' },
    mem: { type: 'number', describe: 'RAM in MiB (default 64, at most 3072)' },
    append: { type: 'string', describe: 'Kernel command line (the kernel sees "IMAGE CMDLINE", as from GRUB or QEMU)' },
    module: { type: 'array', describe: 'Load FILE as a Multiboot module (repeatable, in order)' },
    maxInsns: { type: 'number', describe: 'End the run after N instructions (default 10^10; exit status 6)' },
    stats: { type: 'boolean', describe: 'Print instructions retired, TSC, wall time and MIPS to stderr at exit' },
    interpreter: { type: 'boolean', describe: 'Interpret every block (do not compile hot blocks to JavaScript)' },
  } satisfies OptionTable<BootBareCli>,
  async run(opts, io) {
    const { UserError } = await import('../../errors.js');
    if (opts.image === '' || opts.image.startsWith('-')) {
      throw new UserError('usage', `x86 boot-bare: expected a kernel image before '${opts.image}' (see 'xenlab x86 boot-bare --help')`);
    }
    if (opts.mem !== undefined && !Number.isInteger(opts.mem)) throw new UserError('bad-option', '--mem expects a whole number of MiB');
    if (opts.maxInsns !== undefined && !Number.isSafeInteger(opts.maxInsns)) throw new UserError('bad-option', '--max-insns expects a whole number');
    const { runBareMachine } = await import('../../bare/machine.js');
    const started = process.hrtime.bigint();
    const r = runBareMachine({
      image: opts.image,
      ...(opts.mem !== undefined ? { memMiB: opts.mem } : {}),
      ...(opts.append !== undefined ? { append: opts.append } : {}),
      modules: (opts.module ?? []).map(String),
      ...(opts.maxInsns !== undefined ? { maxInsns: opts.maxInsns } : {}),
      jit: opts.interpreter !== true,
      stdout: io.stdout,
    });
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    if (r.reason !== 'debug-exit') io.stderr.write(`xenlab: ${r.message}\n`);
    if (r.registerDump !== undefined) io.stderr.write(`${r.registerDump}\n`);
    if (opts.stats === true) {
      const mips = r.retired / Math.max(wall, 1e-9) / 1e6;
      io.stderr.write(
        `xenlab: ${r.retired} instructions retired, TSC ${r.tsc}, ${wall.toFixed(3)} s wall (${mips.toFixed(2)} MIPS); ${r.message}\n`,
      );
    }
    return r.exitCode;
  },
});

interface BenchCli {
  only?: string[];
  buildDir?: string;
  json?: boolean;
}

const bench = defineCommand<BenchCli>({
  name: 'bench',
  describe: 'Build the CPU benchmark workloads (../shared/bench) with gcc and time each emulated and natively',
  options: {
    only: { type: 'array', describe: 'Only these workloads (alu, mem, list, call, null)' },
    buildDir: { type: 'string', describe: 'Where to build the workloads (default: a directory under the system temp dir)' },
    json: { type: 'boolean', describe: 'Print the results as JSON instead of a table' },
  } satisfies OptionTable<BenchCli>,
  async run(opts, io) {
    const { runCpuBench, renderBenchTable } = await import('../../bench/cpu-bench.js');
    const report = await runCpuBench({
      ...(opts.only !== undefined ? { only: opts.only } : {}),
      ...(opts.buildDir !== undefined ? { buildDir: opts.buildDir } : {}),
      progress: io.interactive ? (line) => io.stderr.write(`\r\x1b[Kxenlab: ${line}`) : undefined,
    });
    if (io.interactive) io.stderr.write('\r\x1b[K');
    io.stdout.write(opts.json === true ? `${JSON.stringify(report, null, 2)}\n` : renderBenchTable(report));
    return report.results.every((r) => r.ok) ? 0 : 1;
  },
});

export default defineGroup({
  name: 'x86',
  describe: 'The emulated x86 CPU on its own: run static Linux programs, boot bare-metal test kernels, benchmark the core',
  subcommands: [run, bootBare, bench],
});
