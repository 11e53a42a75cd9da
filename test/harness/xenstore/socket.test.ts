/**
 * xenstored's Unix socket (harness/xenstore/socket.ts) and `xenlab xenstore ls|read|write|rm|watch`
 * against it, in-process: host tools see the tree the toolstack wrote, change it, and get watch
 * events for changes made by the toolstack.
 */
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { XenStore } from '../../../harness/xenstore/host.js';
import { XsSocketClient, defaultSocketPath, serveXenStoreSocket } from '../../../harness/xenstore/socket.js';
import { xsLs, xsRead, xsWatch, xsWrite } from '../../../harness/xenstore/tools.js';
import { runCli } from '../../support/cli.js';
import { scratchDir } from '../../support/tmp.js';

const dir = scratchDir('xenstore-socket');
const servers: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

async function instance() {
  const xs = new XenStore();
  xs.host.write('/local/domain/1/name', 'guest');
  xs.host.write('/local/domain/1/v', 'a"b\\c\x01');
  const path = join(dir, `xs-${servers.length}.sock`);
  servers.push(await serveXenStoreSocket(xs, path));
  return { xs, path };
}

describe('XenStore socket', () => {
  it('serves the protocol: ls, read, write, watch from a client', async () => {
    const { xs, path } = await instance();
    const c = await XsSocketClient.connect(path);
    expect(await xsRead(c, '/local/domain/1/name')).toBe('guest');
    await xsWrite(c, '/tool/x', 'from-socket');
    expect(xs.host.read('/tool/x')).toBe('from-socket');
    expect(await xsLs(c, '/local')).toBe('domain = ""\n 1 = ""\n  name = "guest"\n  v = "a\\"b\\\\c\\x01"\n');
    const seen: string[] = [];
    const w = xsWatch(c, '/local/domain/1', 2, (p) => seen.push(p));
    await new Promise((r) => setTimeout(r, 20));
    xs.host.write('/local/domain/1/name', 'renamed');
    await w;
    expect(seen).toEqual(['/local/domain/1', '/local/domain/1/name']);
    c.close();
  });

  it('an oversized header closes only that connection', async () => {
    const { xs, path } = await instance();
    const hdr = new Uint8Array(16);
    new DataView(hdr.buffer).setUint32(12, 5000, true);
    const bad = net.createConnection(path);
    const closed = new Promise<string>((resolve) => bad.on('close', () => resolve('closed')));
    bad.on('connect', () => bad.write(Buffer.from(hdr)));
    expect(await closed).toBe('closed');
    const good = await XsSocketClient.connect(path);
    expect(await xsRead(good, '/local/domain/1/name')).toBe('guest');
    good.close();
    expect(xs.daemon.diagnostics.some((d) => /5000 bytes/.test(d))).toBe(true);
  });

  it('xenlab xenstore ls/read/write/rm through the CLI', async () => {
    const { xs, path } = await instance();
    const r1 = await runCli(['xenstore', 'read', '/local/domain/1/name', '--socket', path]);
    expect([r1.status, r1.stdout]).toEqual([0, 'guest\n']);
    const r2 = await runCli(['xenstore', 'write', '/local/domain/1/data/k', 'v v', '--socket', path]);
    expect(r2.status).toBe(0);
    expect(xs.host.read('/local/domain/1/data/k')).toBe('v v');
    const r3 = await runCli(['xenstore', 'ls', '/local/domain/1', '--socket', path]);
    expect(r3.stdout).toBe('name = "guest"\nv = "a\\"b\\\\c\\x01"\ndata = ""\n k = "v v"\n');
    const r4 = await runCli(['xenstore', 'rm', '/local/domain/1/data', '--socket', path]);
    expect(r4.status).toBe(0);
    expect(xs.host.read('/local/domain/1/data')).toBeUndefined();
    const r5 = await runCli(['xenstore', 'read', '/nope', '--socket', path]);
    expect([r5.status, r5.stderr]).toEqual([1, 'xenstore: READ /nope: ENOENT\n']);
    const r6 = await runCli(['xenstore', 'read', '/x', '--socket', join(dir, 'none.sock')]);
    expect(r6.status).not.toBe(0);
    expect(r6.stderr).toMatch(/cannot connect to the XenStore socket/);
  });

  it('default socket path: XDG_RUNTIME_DIR, else the temp dir, with the pid', () => {
    expect(defaultSocketPath({ XDG_RUNTIME_DIR: '/run/user/5' }, 42)).toBe('/run/user/5/xenlab-xenstored-42.sock');
    expect(defaultSocketPath({}, 42)).toMatch(/xenlab-xenstored-42\.sock$/);
  });
});
