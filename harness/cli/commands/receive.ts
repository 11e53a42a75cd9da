/**
 * `xenlab receive --listen PORT`: the receiving end of `xenlab migrate` (as `xl migrate-receive`):
 * listens on HOST:PORT, takes one migration stream, checks it record by record as it arrives, and
 * then runs the migrated domain on a fresh host to its end as `xenlab restore` runs a restored one
 * (it resumes from its suspend hypercall with 0: a new domain). A torn, truncated or corrupted
 * stream is refused with one line (the sender is told why) before any domain is built: exit 1
 * (docs/migration.md).
 */
import { defineCommand, type OptionTable } from '../command.js';
import { RUN_OPTIONS, type RunCli } from './boot.js';

interface ReceiveCli extends RunCli {
  listen: number;
  host?: string;
}

export default defineCommand<ReceiveCli>({
  name: 'receive',
  describe:
    'Receive one live migration (xenlab migrate GUEST.cfg HOST:PORT) and run the domain to its end, as xenlab restore runs it. ' +
    "Prints 'xenlab: listening on HOST:PORT' to stderr once listening. Exit status as xenlab boot; 1 when the stream is refused",
  options: {
    listen: { type: 'number', required: true, describe: 'The TCP port to listen on (0: any free port, printed)' },
    host: { type: 'string', describe: 'The address to listen on (default 127.0.0.1)' },
    ...RUN_OPTIONS,
  } satisfies OptionTable<ReceiveCli>,
  async run(opts, io) {
    const { UserError } = await import('../../errors.js');
    const port = opts.listen;
    if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UserError('bad-option', '--listen expects a TCP port, 0 to 65535 (0: any free one)');
    if (opts.host === '') throw new UserError('bad-option', '--host expects an address to listen on');
    const { listenForMigration } = await import('../../toolstack/migrate.js');
    const host = opts.host ?? '127.0.0.1';
    const listener = await listenForMigration({ port, host });
    io.stderr.write(`xenlab: listening on ${host.includes(':') ? `[${host}]` : host}:${listener.port}\n`);
    // Closed after the run: closing drops the connection, and the sender may not have read the
    // receiver's "ok" yet. A second connection meanwhile is dropped (one stream per listener).
    try {
      const rx = await listener.received;
      io.stderr.write(`xenlab: received ${rx.source.replace(/^migration stream/, 'the migration stream')}: ${rx.bytes} bytes, ${rx.records} records\n`);
      const { bootSeveral } = await import('./boot.js');
      return await bootSeveral([], opts, io, { restores: [{ bytes: rx.restorer, source: rx.source }] });
    } finally {
      await listener.close();
    }
  },
});
