/**
 * `xenlab abi ...`: the Xen guest ABI as xenlab describes it (abi/public/, checked against
 * libxen-dev by test/abi/layout.test.ts). `dump` prints every structure with its size,
 * alignment and field offsets for one architecture, and the constants.
 */
import { defineCommand, defineGroup, type OptionTable } from '../command.js';

interface DumpCli {
  arch?: string;
  json?: boolean;
  constants?: boolean;
}

const dump = defineCommand<DumpCli>({
  name: 'dump',
  describe: 'Print every described structure (size, alignment, field offsets and sizes) and, with --constants or --json, every constant',
  options: {
    arch: { type: 'string', describe: 'Guest ABI to lay out', choices: ['x86_64', 'x86_32'], default: 'x86_64' },
    json: { type: 'boolean', describe: 'Print JSON (format "xenlab-abi-dump/1", constants included; see abi/dump.ts)' },
    constants: { type: 'boolean', describe: 'Also list the constants in the text output' },
  } satisfies OptionTable<DumpCli>,
  async run(opts, io) {
    const { UserError } = await import('../../errors.js');
    const arch = opts.arch ?? 'x86_64';
    if (arch !== 'x86_64' && arch !== 'x86_32') throw new UserError('bad-option', `--arch expects x86_64 or x86_32, not '${arch}'`);
    const { abiDump, renderAbiDump } = await import('../../../abi/dump.js');
    const d = abiDump({ arch, constants: opts.json === true || opts.constants === true });
    io.stdout.write(opts.json === true ? `${JSON.stringify(d, null, 2)}\n` : renderAbiDump(d));
  },
});

export default defineGroup({
  name: 'abi',
  describe: 'The Xen guest ABI as data: structure layouts for x86_64 and x86_32, hypercall numbers, flags and errno values',
  subcommands: [dump],
});
