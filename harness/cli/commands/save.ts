/**
 * `xenlab save GUEST.cfg FILE`: boots the domain, and at a point of its run (`--at` guest
 * seconds, or once its console shows `--after TEXT`) saves it as `xl save` does: control/shutdown
 * = "suspend", the guest suspends, its checkpoint goes to FILE (written atomically: FILE only
 * ever holds a whole checkpoint), and the domain is destroyed (`--cancel`: it resumes and runs on
 * to its end, `xl save -c`). xenlab has no daemon: the domain lives in this process, so `save`
 * boots it first (docs/save-restore.md).
 */
import { defineCommand, type OptionTable } from '../command.js';
import { RUN_OPTIONS, type RunCli } from './boot.js';

interface SaveCli extends RunCli {
  config: string;
  file: string;
  at?: number;
  after?: string;
  cancel?: boolean;
  set?: string;
}

export default defineCommand<SaveCli>({
  name: 'save',
  describe:
    'Boot a domain from its xl.cfg and save it to FILE at a point of its run (as xl save: the guest suspends, its checkpoint is written, ' +
    'the domain is destroyed; --cancel resumes it). Exit status 0 when saved (or, with --cancel, when it then powers off); 1 when the save failed',
  options: {
    config: { type: 'string', positional: true, required: true, describe: 'The domain config (xl.cfg syntax)' },
    file: { type: 'string', positional: true, required: true, describe: 'The checkpoint file to write (xenlab restore FILE runs it again)' },
    at: { type: 'number', describe: 'Ask the guest to suspend at S seconds of guest time (default 0: as soon as it runs, or with --after)' },
    after: { type: 'string', describe: 'Ask the guest to suspend once its console has printed TEXT (and --at has passed)' },
    cancel: { type: 'boolean', describe: 'After saving, resume the domain (its suspend hypercall returns 1) and run it to its end (xl save -c)' },
    set: { type: 'string', describe: 'Override a config key, KEY=VALUE in xl syntax (repeatable)' },
    ...RUN_OPTIONS,
  } satisfies OptionTable<SaveCli>,
  async run(opts, io) {
    const { UserError } = await import('../../errors.js');
    if (opts.at !== undefined && !(opts.at >= 0 && Number.isFinite(opts.at))) throw new UserError('bad-option', '--at expects a number of guest seconds, 0 or more');
    if (opts.after === '') throw new UserError('bad-option', '--after expects the console text to wait for');
    const { loadXlConfig } = await import('../../toolstack/xl-cfg.js');
    const { bootSeveral } = await import('./boot.js');
    const sets = opts.set === undefined ? [] : [opts.set].flat().map(String);
    const config = loadXlConfig(opts.config, sets);
    for (const w of config.warnings) io.stderr.write(`xenlab: ${w}\n`);
    const code = await bootSeveral([config], opts, io, {
      saves: [
        {
          index: 0,
          atNs: Math.round((opts.at ?? 0) * 1e9),
          ...(opts.after !== undefined ? { afterConsole: opts.after } : {}),
          then: opts.cancel === true ? 'cancel' : 'destroy',
          file: opts.file,
        },
      ],
    });
    return code;
  },
});
