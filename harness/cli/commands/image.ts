/**
 * `xenlab image ...`: kernel images as the PV domain builder sees them (harness/builder/,
 * docs/kernel-images.md). `info` unpacks an image (ELF, compressed ELF or bzImage) and prints
 * its format, Xen notes and segments, or one line saying why the builder would refuse it.
 */
import { defineCommand, defineGroup, type OptionTable } from '../command.js';

interface InfoCli {
  file: string;
  mem?: number;
  json?: boolean;
}

const info = defineCommand<InfoCli>({
  name: 'info',
  describe: 'Unpack a PV kernel image and print its format, Xen ELF notes and loadable segments',
  options: {
    file: { type: 'string', positional: true, required: true, describe: 'Kernel image: ELF, compressed ELF, or bzImage' },
    mem: { type: 'number', describe: 'Guest memory in MiB: refuse a kernel that does not fit (default: no limit)' },
    json: { type: 'boolean', describe: 'Print a JSON record instead of text' },
  } satisfies OptionTable<InfoCli>,
  async run(opts, io) {
    const { UserError } = await import('../../errors.js');
    if (opts.file === '' || opts.file.startsWith('-')) {
      throw new UserError('usage', `image info: expected a kernel image before '${opts.file}' (see 'xenlab image info --help')`);
    }
    if (opts.mem !== undefined && !(Number.isInteger(opts.mem) && opts.mem > 0)) throw new UserError('bad-option', '--mem expects a whole number of MiB');
    const { loadKernelImage } = await import('../../builder/image.js');
    const { imageSummary, renderImageInfo } = await import('../../builder/image-info.js');
    const img = await loadKernelImage(opts.file, opts.mem !== undefined ? { maxBytes: opts.mem * 2 ** 20 } : {});
    io.stdout.write(opts.json === true ? `${JSON.stringify(imageSummary(img), null, 2)}\n` : renderImageInfo(img));
    return 0;
  },
});

export default defineGroup({
  name: 'image',
  describe: 'Kernel images as the domain builder loads them: formats, Xen ELF notes, segments',
  subcommands: [info],
});
