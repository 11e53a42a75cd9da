/**
 * `xenlab restore FILE`: a domain saved by `xenlab save` (or a migration's checkpoint) restored
 * as a new domain on a fresh host, resumed from its suspend hypercall (returning 0), and run to
 * its end as `xenlab boot` runs a domain. The file is read and checked whole first: a truncated,
 * corrupted or wrong-version file is refused with one line before any domain is created
 * (docs/save-restore.md, docs/checkpoint.md).
 */
import { defineCommand, type OptionTable } from '../command.js';
import { RUN_OPTIONS, type RunCli } from './boot.js';

interface RestoreCli extends RunCli {
  file: string[];
}

export default defineCommand<RestoreCli>({
  name: 'restore',
  describe:
    'Restore saved domains (xenlab save FILE) on one host and run them to their ends, as xenlab boot runs them. Exit status as xenlab boot; ' +
    '1 when a file is not a whole, intact checkpoint',
  options: {
    file: { type: 'array', positional: true, required: true, describe: 'The checkpoint file(s); several restore together on one host' },
    ...RUN_OPTIONS,
  } satisfies OptionTable<RestoreCli>,
  async run(opts, io) {
    const { UserError } = await import('../../errors.js');
    const { readFileSync } = await import('node:fs');
    const files = [opts.file].flat().map(String);
    if (files.length === 0 || files.some((f) => f === '' || f.startsWith('-'))) throw new UserError('usage', `restore: expected a checkpoint file (see 'xenlab restore --help')`);
    const restores = files.map((f) => {
      try {
        return { bytes: new Uint8Array(readFileSync(f)), source: f };
      } catch (e) {
        throw new UserError('file-not-found', `${f}: cannot read the checkpoint (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      }
    });
    const { bootSeveral } = await import('./boot.js');
    return bootSeveral([], opts, io, { restores });
  },
});
