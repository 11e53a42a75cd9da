/**
 * `xenlab xenstore ls|read|write|rm|watch`: Xen's xenstore-* tools against a running xenlab
 * (`xenlab boot --xenstore-socket PATH`, or the socket path it printed), over xenstored's socket
 * protocol (harness/xenstore/socket.ts, docs/xenstore.md).
 */
import { defineCommand, defineGroup, type CliIo, type OptionTable } from '../command.js';

interface Common {
  socket?: string;
}
interface PathCli extends Common {
  path: string;
}
interface LsCli extends Common {
  path?: string;
  perms?: boolean;
}
interface WriteCli extends Common {
  path: string;
  value: string;
}
interface WatchCli extends Common {
  path: string;
  count?: number;
}

const socketOpt = { type: 'string', describe: 'The instance\'s XenStore socket (default: $XENLAB_XENSTORE_SOCKET)' } as const;

async function client(o: Common, io: CliIo) {
  const { UserError } = await import('../../errors.js');
  const path = o.socket ?? io.env.XENLAB_XENSTORE_SOCKET;
  if (path === undefined || path === '') throw new UserError('usage', 'xenstore: no socket: give --socket PATH (printed by xenlab boot --xenstore-socket) or set XENLAB_XENSTORE_SOCKET');
  const { XsSocketClient } = await import('../../xenstore/socket.js');
  try {
    return await XsSocketClient.connect(path);
  } catch (e) {
    throw new UserError('file-not-found', `${path}: cannot connect to the XenStore socket (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** Runs `f` with a connection; an error reply prints "xenstore: OP PATH: ERRNO" and exits 1. */
async function withClient(o: Common, io: CliIo, f: (c: Awaited<ReturnType<typeof client>>) => Promise<void>): Promise<number> {
  const c = await client(o, io);
  const { XsToolError } = await import('../../xenstore/tools.js');
  try {
    await f(c);
    return 0;
  } catch (e) {
    if (!(e instanceof XsToolError)) throw e;
    io.stderr.write(`xenstore: ${e.message}\n`);
    return 1;
  } finally {
    c.close();
  }
}

const ls = defineCommand<LsCli>({
  name: 'ls',
  describe: 'Print the tree below PATH (default /) as xenstore-ls does',
  options: {
    path: { type: 'string', positional: true, describe: 'Where to start (default /)' },
    perms: { type: 'boolean', describe: 'Show each node\'s permissions' },
    socket: socketOpt,
  } satisfies OptionTable<LsCli>,
  async run(o, io) {
    const { xsLs } = await import('../../xenstore/tools.js');
    return withClient(o, io, async (c) => {
      io.stdout.write(await xsLs(c, o.path ?? '/', { perms: o.perms === true }));
    });
  },
});

const read = defineCommand<PathCli>({
  name: 'read',
  describe: 'Print the value of PATH',
  options: { path: { type: 'string', positional: true, required: true, describe: 'Node' }, socket: socketOpt } satisfies OptionTable<PathCli>,
  async run(o, io) {
    const { xsRead } = await import('../../xenstore/tools.js');
    return withClient(o, io, async (c) => {
      io.stdout.write(`${await xsRead(c, o.path)}\n`);
    });
  },
});

const write = defineCommand<WriteCli>({
  name: 'write',
  describe: 'Set PATH to VALUE (missing parents are created)',
  options: {
    path: { type: 'string', positional: true, required: true, describe: 'Node' },
    value: { type: 'string', positional: true, required: true, describe: 'Value' },
    socket: socketOpt,
  } satisfies OptionTable<WriteCli>,
  async run(o, io) {
    const { xsWrite } = await import('../../xenstore/tools.js');
    return withClient(o, io, (c) => xsWrite(c, o.path, o.value));
  },
});

const rm = defineCommand<PathCli>({
  name: 'rm',
  describe: 'Remove PATH and everything below it',
  options: { path: { type: 'string', positional: true, required: true, describe: 'Node' }, socket: socketOpt } satisfies OptionTable<PathCli>,
  async run(o, io) {
    const { xsRm } = await import('../../xenstore/tools.js');
    return withClient(o, io, (c) => xsRm(c, o.path));
  },
});

const watch = defineCommand<WatchCli>({
  name: 'watch',
  describe: 'Print the path of every change at or below PATH (the first line is the watch itself)',
  options: {
    path: { type: 'string', positional: true, required: true, describe: 'Node or @introduceDomain/@releaseDomain' },
    count: { type: 'number', describe: 'Stop after this many events (default: run until interrupted)' },
    socket: socketOpt,
  } satisfies OptionTable<WatchCli>,
  async run(o, io) {
    const { xsWatch } = await import('../../xenstore/tools.js');
    return withClient(o, io, (c) => xsWatch(c, o.path, o.count ?? Number.POSITIVE_INFINITY, (p) => io.stdout.write(`${p}\n`)));
  },
});

export default defineGroup({
  name: 'xenstore',
  describe: "XenStore of a running xenlab: ls, read, write, rm, watch (Xen's xenstore-* tools)",
  subcommands: [ls, read, write, rm, watch],
});
