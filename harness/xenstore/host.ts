/**
 * XenStore for the host side: one daemon per boot and the API the toolstack and the device
 * backends use (they are dom0 tools: privileged, relative paths below /local/domain/0).
 *
 * ```ts
 * const xs = new XenStore({ domainExists: (d) => xen.domains.has(d) });
 * const h = xs.host;                                   // the toolstack's connection
 * h.write('/local/domain/1/name', 'guest');            // creates missing parents
 * h.read('/local/domain/1/name');                      // 'guest' (undefined if absent)
 * h.mkdir('/local/domain/0/backend/vbd/1/51712');
 * h.setPerms('/local/domain/1', ['n0', 'r1']);         // owner+default first, then grants
 * h.directory('/local/domain/1');                      // child names, creation order
 * h.rm('/local/domain/1/data');                        // subtree; fine if absent
 * const be = xs.connect();                             // a backend's own connection
 * be.watch('/local/domain/1/device/vbd/51712/state', 'fe', (path, token) => { ... });
 * be.unwatch('/local/domain/1/device/vbd/51712/state', 'fe');
 * h.transaction((t) => { const v = t.read(p); t.write(p, next(v)); });   // retried on EAGAIN
 * xs.introduce(1, storeMfn, storePort, ring);          // the guest's ring (ring.ts)
 * ```
 *
 * Errors other than "absent" throw `XenStoreError` with the errno name (`e.errno === 'EACCES'`).
 *
 * Watch callbacks run synchronously, in a fixed order, from the daemon's service loop: after the
 * request that caused the event has completed (never in the middle of another request), before
 * the host call that caused it returns, or — for events caused by the guest — inside the guest's
 * EVTCHNOP_send that delivered the request. A callback may itself read, write and watch. The
 * initial event of a new watch is delivered before `watch` returns.
 */
import { type Perm, permToString } from './perms.js';
import type { Conn, Quotas } from './store.js';
import {
  XS_DIRECTORY,
  XS_ERROR,
  XS_GET_PERMS,
  XS_MKDIR,
  XS_READ,
  XS_RM,
  XS_SET_PERMS,
  XS_TRANSACTION_END,
  XS_TRANSACTION_START,
  XS_UNWATCH,
  XS_WATCH,
  XS_WRITE,
  bytes,
  concatBytes,
  isXsErrno,
  splitStrings,
  strings,
  type XsErrno,
  type XsMessage,
} from './wire.js';
import { Xenstored, type DomainConnector, type Transport } from './xenstored.js';

/** An error reply from xenstored. */
export class XenStoreError extends Error {
  constructor(
    readonly errno: XsErrno,
    what: string,
  ) {
    super(`xenstore: ${what}: ${errno}`);
    this.name = 'XenStoreError';
  }
}

export interface XenStoreOptions {
  readonly quotas?: Partial<Quotas>;
  /** Whether the hypervisor has domain `domid`; default: only 0 and introduced domains. */
  readonly domainExists?: (domid: number) => boolean;
  /** Trace lines of every message in and out (and CONTROL "log on"). */
  readonly onTrace?: (line: string) => void;
}

/** The value accepted by writes: a string (latin1/ASCII) or bytes. */
export type XsValue = string | Uint8Array;

/** Transport for a domain introduced next (see `introduce`). */
type Pending = { domid: number; transport: Transport } | undefined;

export class XenStore {
  readonly daemon: Xenstored;
  /** The toolstack's connection. */
  readonly host: HostConnection;
  private pending: Pending = undefined;
  private readonly connectors: DomainConnector[] = [];

  constructor(o: XenStoreOptions = {}) {
    const introduced = (d: number): boolean => d === 0 || this.daemon.domainConnection(d) !== undefined;
    this.daemon = new Xenstored({
      ...(o.quotas !== undefined ? { quotas: o.quotas } : {}),
      domainExists: o.domainExists ?? introduced,
      ...(o.onTrace !== undefined ? { onTrace: o.onTrace } : {}),
      connectDomain: (domid, gfn, port) => {
        const p = this.pending;
        if (p !== undefined && p.domid === domid) {
          this.pending = undefined;
          return p.transport;
        }
        for (const c of this.connectors) {
          const t = c(domid, gfn, port);
          if (typeof t !== 'string') return t;
        }
        return 'EINVAL';
      },
    });
    this.host = this.connect();
  }

  /** A new privileged host connection (a backend's own watches and transactions). */
  connect(): HostConnection {
    return new HostConnection(this.daemon);
  }

  /** Lets INTRODUCE messages (e.g. from a socket client) reach domains' rings. */
  addConnector(c: DomainConnector): void {
    this.connectors.push(c);
  }

  /**
   * INTRODUCE `domid` (as the toolstack does after building it), with `transport` as its ring.
   * Fires @introduceDomain; an error reply throws.
   */
  introduce(domid: number, gfn: number, port: number, transport: Transport): void {
    this.pending = { domid, transport };
    try {
      const r = this.host.request(8 /* XS_INTRODUCE */, strings(String(domid), String(gfn), String(port)));
      check(r, `INTRODUCE ${domid}`);
    } finally {
      this.pending = undefined;
    }
  }

  /** RELEASE `domid`: its connection and every node it owns go, @releaseDomain fires. */
  release(domid: number): void {
    check(this.host.request(9 /* XS_RELEASE */, strings(String(domid))), `RELEASE ${domid}`);
  }

  /** The domain shut down or crashed: @releaseDomain fires (xenstored learns it from VIRQ_DOM_EXC). */
  domainShutdown(domid: number): void {
    this.daemon.domainShutdown(domid);
  }

  /** Serves every connection now (rings, sockets, host callbacks). */
  pump(): void {
    this.daemon.pump();
  }
}

function check(r: XsMessage, what: string): Uint8Array {
  if (r.type === XS_ERROR) {
    const name = splitStrings(r.payload)[0] ?? '';
    throw new XenStoreError(isXsErrno(name) ? name : 'EINVAL', what);
  }
  return r.payload;
}

/** Values given as text are sent as UTF-8 (and `read` decodes UTF-8). */
function valueBytes(v: XsValue): Uint8Array {
  return typeof v === 'string' ? new TextEncoder().encode(v) : v;
}

/** Operations shared by a connection and a transaction on it. */
abstract class Ops {
  protected abstract req(type: number, payload: Uint8Array, what: string): XsMessage;

  private ok(type: number, payload: Uint8Array, what: string): Uint8Array {
    return check(this.req(type, payload, what), what);
  }

  /** The value as text (UTF-8), or undefined if the node does not exist. */
  read(path: string): string | undefined {
    const b = this.readBytes(path);
    return b === undefined ? undefined : new TextDecoder().decode(b);
  }

  /** The value's bytes, or undefined if the node does not exist. */
  readBytes(path: string): Uint8Array | undefined {
    const r = this.req(XS_READ, strings(path), `READ ${path}`);
    if (r.type === XS_ERROR && splitStrings(r.payload)[0] === 'ENOENT') return undefined;
    return check(r, `READ ${path}`);
  }

  write(path: string, value: XsValue): void {
    this.ok(XS_WRITE, concatBytes(bytes(`${path}\0`), valueBytes(value)), `WRITE ${path}`);
  }

  mkdir(path: string): void {
    this.ok(XS_MKDIR, strings(path), `MKDIR ${path}`);
  }

  rm(path: string): void {
    this.ok(XS_RM, strings(path), `RM ${path}`);
  }

  /** Child names in creation order, or undefined if the node does not exist. */
  directory(path: string): string[] | undefined {
    const r = this.req(XS_DIRECTORY, strings(path), `DIRECTORY ${path}`);
    if (r.type === XS_ERROR && splitStrings(r.payload)[0] === 'ENOENT') return undefined;
    return splitStrings(check(r, `DIRECTORY ${path}`));
  }

  /** Permission strings ("n0", "r1", ...). */
  getPerms(path: string): string[] {
    return splitStrings(this.ok(XS_GET_PERMS, strings(path), `GET_PERMS ${path}`));
  }

  /** Sets the permission list: owner+default first ("n0"), then grants ("r1", "b2"). */
  setPerms(path: string, perms: readonly (string | Perm)[]): void {
    const s = perms.map((p) => (typeof p === 'string' ? p : permToString(p)));
    this.ok(XS_SET_PERMS, strings(path, ...s), `SET_PERMS ${path}`);
  }

  /** Writes and sets perms in one go (the toolstack's common pattern). */
  writeWithPerms(path: string, value: XsValue, perms: readonly string[]): void {
    this.write(path, value);
    this.setPerms(path, perms);
  }
}

/** One privileged host connection to the daemon. */
export class HostConnection extends Ops {
  readonly conn: Conn;
  private readonly callbacks = new Map<string, (path: string, token: string) => void>();
  private reqId = 0;
  /** Events whose token has no callback (watches set with raw `request`s). */
  onUnclaimedEvent: ((path: string, token: string) => void) | undefined = undefined;

  constructor(private readonly d: Xenstored) {
    super();
    this.conn = d.hostConnection((path, token) => (this.callbacks.get(token) ?? this.onUnclaimedEvent)?.(path, token));
  }

  /** Sends one message and returns the reply (an ERROR reply is returned, not thrown). */
  request(type: number, payload: Uint8Array, txId = 0): XsMessage {
    const r = this.d.hostRequest(this.conn, { type, reqId: ++this.reqId >>> 0, txId, payload });
    this.d.pump();
    return r;
  }

  protected req(type: number, payload: Uint8Array): XsMessage {
    return this.request(type, payload);
  }

  /**
   * Watches `path` (and below) with `token`; `cb(path, token)` runs for the initial event
   * (before this returns) and every later one. Tokens are unique per connection here.
   */
  watch(path: string, token: string, cb: (path: string, token: string) => void): void {
    if (this.callbacks.has(token)) throw new Error(`xenstore: token ${token} is already watched on this connection`);
    this.callbacks.set(token, cb);
    const r = this.d.hostRequest(this.conn, { type: XS_WATCH, reqId: ++this.reqId >>> 0, txId: 0, payload: strings(path, token) });
    if (r.type === XS_ERROR) {
      this.callbacks.delete(token);
      check(r, `WATCH ${path}`);
    }
    this.d.pump();
  }

  unwatch(path: string, token: string): void {
    check(this.request(XS_UNWATCH, strings(path, token)), `UNWATCH ${path}`);
    this.callbacks.delete(token);
  }

  /**
   * Runs `fn` in a transaction and commits it; on EAGAIN (a conflicting change) runs it again,
   * at most `maxAttempts` times. Throwing from `fn` aborts the transaction.
   */
  transaction<T>(fn: (t: HostTransaction) => T, maxAttempts = 16): T {
    for (let attempt = 1; ; attempt++) {
      const start = check(this.request(XS_TRANSACTION_START, strings('')), 'TRANSACTION_START');
      const id = Number(splitStrings(start)[0]);
      const t = new HostTransaction(this, id);
      let result: T;
      try {
        result = fn(t);
      } catch (e) {
        this.request(XS_TRANSACTION_END, strings('F'), id);
        throw e;
      }
      const end = this.request(XS_TRANSACTION_END, strings('T'), id);
      if (end.type === XS_ERROR && splitStrings(end.payload)[0] === 'EAGAIN' && attempt < maxAttempts) continue;
      check(end, 'TRANSACTION_END');
      return result;
    }
  }

  /** Closes the connection: its watches and transactions go. */
  close(): void {
    this.d.closeConnection(this.conn);
    this.callbacks.clear();
  }
}

/** Operations inside a transaction (`HostConnection.transaction`). */
export class HostTransaction extends Ops {
  constructor(
    private readonly c: HostConnection,
    readonly id: number,
  ) {
    super();
  }

  protected req(type: number, payload: Uint8Array): XsMessage {
    return this.c.request(type, payload, this.id);
  }
}

export { Xenstored, type Transport } from './xenstored.js';
export { perms, type Perm } from './perms.js';
