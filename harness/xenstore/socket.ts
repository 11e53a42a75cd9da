/**
 * xenstored's Unix socket for host tools: the same xs_wire messages over a byte stream
 * (xenstored_core.c socket connections). Each accepted connection is a privileged client
 * (relative paths below /local/domain/0) with its own watches and transactions; closing it drops
 * them. A header announcing more than XENSTORE_PAYLOAD_MAX bytes closes the connection, as
 * xenstored does.
 *
 * Determinism: socket requests arrive through Node's event loop, so they are served whenever the
 * process gets back to it — between the machine's run slices when the run yields (an interactive
 * or piped console), before and after the run otherwise. What a host tool does through the
 * socket is outside the guest's determinism guarantee (docs/xenstore.md); everything the guest
 * itself does stays deterministic.
 *
 * `XsSocketClient` is the matching client (promise per request, watch events as a callback),
 * used by `xenlab xenstore ...`.
 */
import { existsSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { XenStore } from './host.js';
import { MessageReader, XS_WATCH_EVENT, encodeMessage, splitStrings, type XsMessage } from './wire.js';
import type { Transport } from './xenstored.js';

/** Where `xenlab boot` puts the socket when not told: $XDG_RUNTIME_DIR or the temp dir, with the pid. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env, pid = process.pid): string {
  const dir = env.XDG_RUNTIME_DIR !== undefined && env.XDG_RUNTIME_DIR !== '' ? env.XDG_RUNTIME_DIR : tmpdir();
  return join(dir, `xenlab-xenstored-${pid}.sock`);
}

class SocketTransport implements Transport {
  readonly input: number[] = [];
  closed = false;
  constructor(private readonly sock: net.Socket) {}
  read(max: number): Uint8Array {
    return Uint8Array.from(this.input.splice(0, max));
  }
  hasInput(): boolean {
    return this.input.length > 0;
  }
  write(b: Uint8Array): number {
    if (this.closed) return b.length;
    this.sock.write(Buffer.from(b));
    return b.length;
  }
  canWrite(): boolean {
    return true;
  }
  flush(): void {}
  dropped(): void {
    this.closed = true;
    this.sock.destroy();
  }
}

export interface XenStoreSocketServer {
  readonly path: string;
  close(): Promise<void>;
}

/** Serves `xs` on a Unix socket at `path` (a stale socket file there is replaced). */
export async function serveXenStoreSocket(xs: XenStore, path: string): Promise<XenStoreSocketServer> {
  if (existsSync(path)) unlinkSync(path);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    const t = new SocketTransport(sock);
    const conn = xs.daemon.socketConnection(t);
    sock.on('data', (d: Buffer) => {
      for (const b of d) t.input.push(b);
      xs.pump();
    });
    const end = (): void => {
      sockets.delete(sock);
      if (!t.closed) {
        t.closed = true;
        xs.daemon.closeConnection(conn);
      }
    };
    sock.on('close', end);
    sock.on('error', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          if (existsSync(path)) unlinkSync(path);
          resolve();
        });
      }),
  };
}

/** A host tool's connection to a xenstored socket. */
export class XsSocketClient {
  private readonly reader = new MessageReader();
  private readonly waiting = new Map<number, { resolve: (m: XsMessage) => void; reject: (e: Error) => void }>();
  private reqId = 0;
  onEvent: ((path: string, token: string) => void) | undefined = undefined;
  private constructor(private readonly sock: net.Socket) {
    sock.on('close', () => {
      for (const w of this.waiting.values()) w.reject(new Error('xenstore socket closed'));
      this.waiting.clear();
    });
    sock.on('data', (d: Buffer) => {
      let b: Uint8Array = new Uint8Array(d);
      while (b.length > 0) {
        const { used, result } = this.reader.push(b.subarray(0, this.reader.wanted()));
        b = b.subarray(used);
        if (result.kind === 'too-long') {
          sock.destroy();
          return;
        }
        if (result.kind !== 'message') continue;
        const m = result.message;
        if (m.type === XS_WATCH_EVENT) {
          const [path, token] = splitStrings(m.payload) as [string, string];
          this.onEvent?.(path, token);
          continue;
        }
        const w = this.waiting.get(m.reqId);
        this.waiting.delete(m.reqId);
        w?.resolve(m);
      }
    });
  }

  static connect(path: string): Promise<XsSocketClient> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(path);
      s.once('connect', () => resolve(new XsSocketClient(s)));
      s.once('error', reject);
    });
  }

  request(type: number, payload: Uint8Array, txId = 0): Promise<XsMessage> {
    const reqId = ++this.reqId >>> 0;
    return new Promise((resolve, reject) => {
      this.waiting.set(reqId, { resolve, reject });
      this.sock.write(Buffer.from(encodeMessage({ type, reqId, txId, payload })));
    });
  }

  close(): void {
    this.sock.end();
  }
}
