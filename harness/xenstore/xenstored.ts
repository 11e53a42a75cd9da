/**
 * The daemon around the store (store.ts): connections, message dispatch, replies and watch
 * events, domains (INTRODUCE/RELEASE/...), CONTROL, and the service loop over transports — the
 * parts of Xen 4.17's xenstored_core.c/_domain.c/_control.c that are not the database.
 *
 * Connections come in three kinds, as in xenstored: a domain's ring (ring.ts; unprivileged
 * unless it is domain 0), a host Unix socket (socket.ts) and an in-process host connection
 * (host.ts); the last two are privileged tools, relative paths resolve below /local/domain/0.
 *
 * Processing follows xenstored's main loop: `pump()` visits every connection in creation order,
 * reads at most one message from each that may be read (an unprivileged domain with 20
 * replies outstanding is not read; a header announcing more than XENSTORE_PAYLOAD_MAX bytes,
 * or ring indices further apart than the ring, drop the connection), writes queued replies and
 * events as the transport has room, and repeats until nothing moves. Host connections get
 * their watch events as synchronous callbacks from the same loop. Deterministic: the order is
 * the connections' creation order and each queue's order; nothing depends on host time.
 *
 * A hostile run (harness/hostile/xenstore.ts) sets `faults`: after a guest domain's request the
 * hook may ask for a watch storm (spurious events on that connection's watches, or for paths
 * below them), and a guest's transaction commit may fail with EAGAIN as a conflicting change
 * makes it fail. Both are things a real xenstored does; host connections are never affected.
 */
import { DOMID_SELF } from '../../abi/public/xen.js';
import {
  XENSTORE_ERROR_PROTO,
  XENSTORE_ERROR_RINGIDX,
  XENSTORE_PAYLOAD_MAX,
  XENSTORE_REL_PATH_MAX,
  XS_CONTROL,
  XS_DIRECTORY,
  XS_DIRECTORY_PART,
  XS_ERROR,
  XS_GET_DOMAIN_PATH,
  XS_GET_PERMS,
  XS_INTRODUCE,
  XS_IS_DOMAIN_INTRODUCED,
  XS_MKDIR,
  XS_READ,
  XS_RELEASE,
  XS_RESET_WATCHES,
  XS_RESUME,
  XS_RM,
  XS_SET_PERMS,
  XS_SET_TARGET,
  XS_TRANSACTION_END,
  XS_TRANSACTION_START,
  XS_TYPE_COUNT,
  XS_UNWATCH,
  XS_WATCH,
  XS_WATCH_EVENT,
  XS_WRITE,
  MessageReader,
  encodeMessage,
  oneArg,
  splitStrings,
  strings,
  typeName,
  type XsErrno,
  type XsMessage,
} from './wire.js';
import { controlCommand } from './control.js';
import { isValidNodename } from './perms.js';
import { Conn, DomainRec, Store, atoi, type OutMsg, type Quotas, type Watch } from './store.js';

/** A byte transport under a connection (ring page, socket). */
export interface Transport {
  /** Bytes the peer has produced (flow control aside); may be fewer than `max`. */
  read(max: number): Uint8Array | 'broken';
  /** Whether there are request bytes to read. */
  hasInput(): boolean;
  /** Writes what fits of `b`; returns how many bytes went out. */
  write(b: Uint8Array): number | 'broken';
  /** Whether the peer has room for output. */
  canWrite(): boolean;
  /** After a service pass that moved bytes: tell the peer (ring: event channel). */
  flush(): void;
  /** The connection was dropped: XENSTORE_ERROR_* and a diagnostic. */
  dropped(error: number, reason: string): void;
  /** INTRODUCE again: indices back to 0 (xenstored's domain_conn_reset). */
  reset?(): void;
}

/** How INTRODUCE reaches a domain's ring: the toolstack's machine supplies it. */
export type DomainConnector = (domid: number, gfn: number, port: number) => Transport | XsErrno;

export interface XenstoredOptions {
  readonly quotas?: Partial<Quotas>;
  /** Whether the hypervisor has domain `domid` (xenstored asks Xen); default: only 0. */
  readonly domainExists?: (domid: number) => boolean;
  /** Maps a domain's ring for INTRODUCE; without one INTRODUCE of a new domain fails (EINVAL). */
  readonly connectDomain?: DomainConnector;
  /** Trace lines (CONTROL "log on" also enables the trace). */
  readonly onTrace?: (line: string) => void;
}

/** What a hostile xenstored does to guest domains' connections (domain ids other than 0). */
export interface XenstoredFaultHook {
  /** Domain `domid`'s next request was processed: spurious events for each of its watches (`count` each; `under`: for paths below the watched node). */
  processed(domid: number): { readonly count: number; readonly under: boolean } | undefined;
  /** Domain `domid` commits a transaction (TRANSACTION_END "T"): 'EAGAIN' fails it, the transaction gone, as a conflict does. */
  commit(domid: number): 'EAGAIN' | undefined;
}

/** A watch event delivered to a host connection. */
export type HostEventSink = (path: string, token: string) => void;

interface ConnIo {
  readonly transport: Transport | undefined;
  readonly reader: MessageReader;
  /** Host connections: where watch events go. */
  readonly sink: HostEventSink | undefined;
  moved: boolean;
}

/** Message types, their handler and flags (xenstored's wire_funcs). */
interface WireFunc {
  readonly name: string;
  /** XS_FLAG_NOTID: the header's tx_id is ignored. */
  readonly notid?: boolean;
  /** XS_FLAG_PRIV: EACCES for unprivileged domains. */
  readonly priv?: boolean;
  readonly run: (d: Xenstored, conn: Conn, p: Uint8Array, req: OutMsg) => Uint8Array | XsErrno | undefined;
}

const OK = strings('OK');

export class Xenstored {
  readonly store: Store;
  private readonly io = new Map<Conn, ConnIo>();
  private readonly connectDomain: DomainConnector | undefined;
  private pumping = false;
  private again = false;
  /** Trace enabled (CONTROL log on|off; on when `onTrace` was given). */
  tracing: boolean;
  /** Dropped connections and other notable events, in order. */
  readonly diagnostics: string[] = [];
  /** Messages processed, by type name (for reports). */
  readonly counts = new Map<string, number>();
  /** A hostile xenstored's faults (harness/hostile/xenstore.ts); none: the plain daemon. */
  faults: XenstoredFaultHook | undefined = undefined;

  constructor(private readonly o: XenstoredOptions = {}) {
    this.store = new Store(o.quotas, o.domainExists);
    this.connectDomain = o.connectDomain;
    this.tracing = o.onTrace !== undefined;
    this.store.sendEvent = (req, conn, path, token) => this.sendEvent(req, conn, path, token);
  }

  trace(line: string): void {
    if (this.tracing) this.o.onTrace?.(line);
  }

  // ---- connections -------------------------------------------------------------------------

  /** A privileged host client (in-process): watch events go to `sink`. */
  hostConnection(sink: HostEventSink): Conn {
    const c = new Conn(0, undefined, 'host');
    this.store.connections.push(c);
    this.io.set(c, { transport: undefined, reader: new MessageReader(), sink, moved: false });
    return c;
  }

  /** A privileged byte-stream client (host socket). */
  socketConnection(t: Transport): Conn {
    const c = new Conn(0, undefined, 'socket');
    this.store.connections.push(c);
    this.io.set(c, { transport: t, reader: new MessageReader(), sink: undefined, moved: false });
    return c;
  }

  /** Ends a connection (socket closed, host client done): its watches and transactions go. */
  closeConnection(c: Conn): void {
    this.forget(c);
  }

  private forget(c: Conn): void {
    this.deleteAllWatches(c);
    c.transactions.length = 0;
    c.transaction = undefined;
    while (c.out.length > 0) this.freeOut(c, c.out.shift() as OutMsg);
    const i = this.store.connections.indexOf(c);
    if (i >= 0) this.store.connections.splice(i, 1);
    this.io.delete(c);
  }

  /** xenstored's ignore_connection: stop serving it, error code in the ring page. */
  private ignore(c: Conn, err: number, reason: string): void {
    const io = this.io.get(c);
    c.ignored = true;
    c.brokenReason = reason;
    this.diagnostics.push(reason);
    this.trace(`CONN ${connName(c)} ignored: ${reason}`);
    this.deleteAllWatches(c);
    c.transactions.length = 0;
    c.transaction = undefined;
    while (c.out.length > 0) this.freeOut(c, c.out.shift() as OutMsg);
    io?.reader.reset();
    io?.transport?.dropped(err, reason);
    if (c.domain === undefined) this.forget(c);
  }

  private deleteAllWatches(c: Conn): void {
    for (let i = c.watches.length; i > 0; i--) this.watchDec(c);
    c.watches.length = 0;
  }

  private watchDec(c: Conn): void {
    if (c.domain !== undefined && c.domain.nbwatch > 0) c.domain.nbwatch--;
  }

  // ---- replies and events ------------------------------------------------------------------

  private newRequest(conn: Conn, m: XsMessage): OutMsg {
    return { type: m.type, reqId: m.reqId, txId: m.txId, payload: new Uint8Array(0), written: 0, watchEvent: false, eventCnt: 0, onOut: false, onRef: false, domid: conn.id, req: undefined };
  }

  /** xenstored's send_reply: E2BIG instead of an over-long payload. */
  sendReply(conn: Conn, req: OutMsg, type: number, payload: Uint8Array): void {
    if (payload.length > XENSTORE_PAYLOAD_MAX) {
      this.sendReply(conn, req, XS_ERROR, strings('E2BIG'));
      return;
    }
    const r = req as { -readonly [K in keyof OutMsg]: OutMsg[K] };
    r.type = type;
    r.payload = payload;
    r.written = 0;
    r.onOut = true;
    conn.out.push(req);
    if (conn.domain !== undefined) conn.domain.nboutstanding++;
    this.trace(`OUT ${connName(conn)} ${typeName(type)} (${printable(payload)})`);
  }

  /** xenstored's send_event: no over-long events, no duplicate of one still queued. */
  sendEvent(req: OutMsg | undefined, conn: Conn, path: string, token: string): void {
    const payload = strings(path, token);
    if (payload.length > XENSTORE_PAYLOAD_MAX) return;
    if (!path.startsWith('@')) {
      for (const o of conn.out) if (o.watchEvent && sameBytes(o.payload, payload)) return;
    }
    if (req !== undefined) req.eventCnt++;
    conn.out.push({ type: XS_WATCH_EVENT, reqId: 0, txId: 0, payload, written: 0, watchEvent: true, eventCnt: 0, onOut: true, onRef: false, domid: undefined, req });
    this.trace(`OUT ${connName(conn)} WATCH_EVENT (${path} ${token})`);
  }

  /** xenstored's free_buffered_data: outstanding-request accounting once a message is gone. */
  private freeOut(conn: Conn, out: OutMsg): void {
    out.onOut = false;
    if (out.watchEvent) {
      const req = out.req;
      if (req !== undefined) {
        req.eventCnt--;
        if (req.eventCnt === 0 && !req.onOut && req.onRef) {
          req.onRef = false;
          const d = req.domid === undefined ? undefined : this.store.findDomain(req.domid);
          if (d !== undefined && d.introduced) d.nboutstanding--;
        }
      }
    } else if (out.eventCnt > 0) {
      out.onRef = true;
    } else if (conn.domain !== undefined) {
      conn.domain.nboutstanding--;
    }
  }

  // ---- message processing ------------------------------------------------------------------

  /** xenstored's process_message for one complete message from `conn`. */
  processMessage(conn: Conn, m: XsMessage): OutMsg {
    const req = this.newRequest(conn, m);
    this.counts.set(typeName(m.type), (this.counts.get(typeName(m.type)) ?? 0) + 1);
    this.trace(`IN ${connName(conn)} ${typeName(m.type)} (${printable(m.payload)})`);
    const f = m.type < XS_TYPE_COUNT ? WIRE_FUNCS[m.type] : undefined;
    if (f === undefined) {
      this.sendReply(conn, req, XS_ERROR, strings('ENOSYS'));
      return req;
    }
    if (f.priv === true && conn.unprivileged) {
      this.sendReply(conn, req, XS_ERROR, strings('EACCES'));
      return req;
    }
    let tx;
    if (f.notid !== true && m.txId !== 0) {
      tx = conn.transactions.find((t) => t.id === m.txId);
      if (tx === undefined) {
        this.sendReply(conn, req, XS_ERROR, strings('ENOENT'));
        return req;
      }
    }
    conn.transaction = tx;
    this.store.currentRequest = conn.unprivileged ? req : undefined;
    let r: Uint8Array | XsErrno | undefined;
    try {
      r = f.run(this, conn, m.payload, req);
    } finally {
      conn.transaction = undefined;
      this.store.currentRequest = undefined;
    }
    if (typeof r === 'string') this.sendReply(conn, req, XS_ERROR, strings(r));
    else if (r !== undefined) this.sendReply(conn, req, m.type, r);
    if (this.faults !== undefined && conn.domain !== undefined && conn.id !== 0) {
      const storm = this.faults.processed(conn.id);
      if (storm !== undefined) this.spuriousEvents(conn, storm.count, storm.under);
    }
    return req;
  }

  /**
   * Watch events nothing caused, queued for `conn` after its reply: `count` for each of its
   * watches, for the watched path itself or (`under`) for paths below it (a child written and
   * removed by someone else fires the same way). Events for the same path still queued are not
   * repeated (sendEvent), so a storm on the path itself is as long as the guest keeps up.
   */
  spuriousEvents(conn: Conn, count: number, under: boolean): void {
    for (const w of [...conn.watches]) {
      const path = eventPathOf(w);
      for (let k = 0; k < count; k++) {
        if (under && path.startsWith('@')) break;
        this.sendEvent(undefined, conn, under ? `${path}${path.endsWith('/') ? '' : '/'}storm${k}` : path, w.token);
      }
    }
  }

  /**
   * One message from an in-process host connection: processed now, its reply returned (and
   * taken off the queue; watch events stay queued for the next `pump`).
   */
  hostRequest(conn: Conn, m: XsMessage): XsMessage {
    const req = this.processMessage(conn, m);
    const i = conn.out.indexOf(req);
    if (i >= 0) conn.out.splice(i, 1);
    this.freeOut(conn, req);
    return { type: req.type, reqId: req.reqId, txId: req.txId, payload: req.payload };
  }

  // ---- service loop ------------------------------------------------------------------------

  /**
   * Serves every connection until nothing moves: the main loop of xenstored. Re-entrant calls
   * (from a host watch callback) only ask the running loop for another pass.
   */
  pump(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      let progress = true;
      for (let rounds = 0; progress || this.again; rounds++) {
        if (rounds > 1_000_000) throw new Error('xenstored: service loop does not settle');
        progress = false;
        this.again = false;
        for (const c of [...this.store.connections]) {
          const io = this.io.get(c);
          if (io === undefined) continue;
          if (io.sink !== undefined) {
            while (c.out.length > 0) {
              const o = c.out.shift() as OutMsg;
              this.freeOut(c, o);
              if (o.watchEvent) {
                const [path, token] = splitStrings(o.payload) as [string, string];
                io.sink(path, token);
              }
              progress = true;
            }
            continue;
          }
          if (c.ignored || io.transport === undefined) continue;
          if (this.canRead(c, io.transport) && this.handleInput(c, io)) progress = true;
          if (!c.ignored && this.io.has(c) && c.out.length > 0 && io.transport.canWrite() && this.handleOutput(c, io)) progress = true;
        }
      }
      for (const c of [...this.store.connections]) {
        const io = this.io.get(c);
        if (io?.moved === true) {
          io.moved = false;
          io.transport?.flush();
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private canRead(c: Conn, t: Transport): boolean {
    if (c.ignored) return false;
    if (c.unprivileged && (c.domain as DomainRec).nboutstanding >= this.store.quotas.outstanding) return false;
    return t.hasInput();
  }

  /** xenstored's handle_input: header, then payload, then the message; true if anything moved. */
  private handleInput(c: Conn, io: ConnIo): boolean {
    const t = io.transport as Transport;
    const want = io.reader.wanted();
    const b = t.read(want);
    if (b === 'broken') {
      this.ignore(c, XENSTORE_ERROR_RINGIDX, `xenstore: ${connName(c)}: request ring indices beyond the ring; connection dropped`);
      return true;
    }
    if (b.length === 0) return false;
    io.moved = true;
    const { result } = io.reader.push(b);
    if (result.kind === 'too-long') {
      this.ignore(c, XENSTORE_ERROR_PROTO, `xenstore: ${connName(c)}: message of ${result.len} bytes (limit ${XENSTORE_PAYLOAD_MAX}); connection dropped`);
      return true;
    }
    if (result.kind === 'message') this.processMessage(c, result.message);
    return true;
  }

  /** xenstored's write_messages: as much of the first queued message as fits. */
  private handleOutput(c: Conn, io: ConnIo): boolean {
    const t = io.transport as Transport;
    const o = c.out[0] as OutMsg;
    const bytes = encodeMessage({ type: o.type, reqId: o.reqId, txId: o.txId, payload: o.payload });
    const n = t.write(bytes.subarray(o.written));
    if (n === 'broken') {
      this.ignore(c, XENSTORE_ERROR_RINGIDX, `xenstore: ${connName(c)}: response ring indices beyond the ring; connection dropped`);
      return true;
    }
    if (n === 0) return false;
    io.moved = true;
    o.written += n;
    if (o.written === bytes.length) {
      c.out.shift();
      this.freeOut(c, o);
    }
    return true;
  }

  // ---- domains -----------------------------------------------------------------------------

  /** The connection of an introduced domain. */
  domainConnection(domid: number): Conn | undefined {
    const d = this.store.findDomain(domid);
    return d !== undefined && d.introduced ? d.conn : undefined;
  }

  /** INTRODUCE as the toolstack sends it (also reachable as a message from dom0 tools). */
  introduce(domid: number, gfn: number, port: number): XsErrno | undefined {
    if (port <= 0) return 'EINVAL';
    let d = this.store.findDomain(domid);
    if (d === undefined) d = this.store.allocDomain(domid);
    if (!d.introduced) {
      const t = this.connectDomain?.(domid, gfn, port) ?? 'EINVAL';
      if (typeof t === 'string') return t;
      d.port = port;
      d.introduced = true;
      d.shutdown = false;
      const c = new Conn(domid, d, 'ring');
      d.conn = c;
      this.store.connections.push(c);
      this.io.set(c, { transport: t, reader: new MessageReader(), sink: undefined, moved: false });
      if (domid !== 0) this.store.fireWatches(undefined, '@introduceDomain', undefined, true, undefined);
    } else {
      d.port = port;
    }
    const c = d.conn as Conn;
    // domain_conn_reset: watches, transactions, queued messages and ring indices.
    this.deleteAllWatches(c);
    c.transactions.length = 0;
    while (c.out.length > 0) this.freeOut(c, c.out.shift() as OutMsg);
    const io = this.io.get(c);
    io?.reader.reset();
    io?.transport?.reset?.();
    return undefined;
  }

  /** The domain shut down or crashed (xenstored's check_domains on VIRQ_DOM_EXC). */
  domainShutdown(domid: number): void {
    const d = this.store.findDomain(domid);
    if (d === undefined || !d.introduced || d.shutdown) return;
    d.shutdown = true;
    this.store.fireWatches(undefined, '@releaseDomain', undefined, true, undefined);
    this.pump();
  }

  /** RELEASE, or the domain is gone: its connection, its nodes, @releaseDomain. */
  release(domid: number): XsErrno | undefined {
    if (domid === 0) return 'EINVAL';
    const d = this.store.findDomain(domid);
    if (d === undefined || !d.introduced) return 'ENOENT';
    if (d.conn === undefined) return 'EINVAL';
    const c = d.conn;
    this.forget(c);
    for (const other of this.store.connections) if (other.target === c) other.target = undefined;
    d.conn = undefined;
    d.introduced = false;
    this.store.removeDomainNodes(d);
    this.store.domains.delete(domid);
    this.store.fireWatches(undefined, '@releaseDomain', undefined, true, undefined);
    return undefined;
  }

  oneargDomain(p: Uint8Array): DomainRec | XsErrno {
    const s = oneArg(p);
    if (s === undefined) return 'EINVAL';
    const domid = atoi(s) >>> 0;
    if (domid === 0) return 'EINVAL';
    return this.findConnected(domid);
  }

  findConnected(domid: number): DomainRec | XsErrno {
    const d = this.store.findDomain(domid);
    if (d === undefined || !d.introduced) return 'ENOENT';
    if (d.conn === undefined) return 'EINVAL';
    return d;
  }

  // ---- handlers ----------------------------------------------------------------------------

  static readonly handlers = {
    watch(d: Xenstored, conn: Conn, p: Uint8Array): XsErrno | undefined {
      if (countNuls(p) !== 2) return 'EINVAL';
      const [raw, token] = splitStrings(p) as [string, string];
      let path = raw;
      let relative = false;
      if (path.startsWith('@')) {
        if (path.length > XENSTORE_REL_PATH_MAX) return 'EINVAL';
      } else {
        relative = !path.startsWith('/');
        path = d.store.canonicalize(conn, path);
        if (!isValidNodename(path, d.store.quotas.pathMax)) return 'EINVAL';
      }
      if (conn.watches.some((w) => w.node === path && w.token === token)) return 'EEXIST';
      if (conn.unprivileged && (conn.domain as DomainRec).nbwatch > d.store.quotas.watches) return 'E2BIG';
      const w: Watch = { node: path, token, relativeTo: relative ? conn.implicitPath : undefined };
      conn.watches.push(w);
      if (conn.domain !== undefined) conn.domain.nbwatch++;
      return undefined;
    },
  };
}

/** The handler table, by message type (xenstored's wire_funcs). */
const WIRE_FUNCS: readonly (WireFunc | undefined)[] = (() => {
  const t: (WireFunc | undefined)[] = new Array<WireFunc | undefined>(XS_TYPE_COUNT).fill(undefined);
  const ack = (e: XsErrno | undefined): Uint8Array | XsErrno => e ?? OK;
  t[XS_CONTROL] = { name: 'CONTROL', priv: true, run: (d, c, p) => controlCommand(d, c, p) };
  t[XS_DIRECTORY] = { name: 'DIRECTORY', run: (d, c, p) => d.store.opDirectory(c, p) };
  t[XS_READ] = { name: 'READ', run: (d, c, p) => d.store.opRead(c, p) };
  t[XS_GET_PERMS] = { name: 'GET_PERMS', run: (d, c, p) => d.store.opGetPerms(c, p) };
  t[XS_WATCH] = {
    name: 'WATCH',
    notid: true,
    run: (d, c, p, req) => {
      const e = Xenstored.handlers.watch(d, c, p);
      if (e !== undefined) return e;
      // Acknowledge, then the initial event (not linked to the request).
      const w = c.watches[c.watches.length - 1] as Watch;
      d.sendReply(c, req, XS_WATCH, OK);
      d.sendEvent(undefined, c, eventPathOf(w), w.token);
      return undefined;
    },
  };
  t[XS_UNWATCH] = {
    name: 'UNWATCH',
    notid: true,
    run: (d, c, p) => {
      if (countNuls(p) !== 2) return 'EINVAL';
      const [raw, token] = splitStrings(p) as [string, string];
      const node = d.store.canonicalize(c, raw);
      const i = c.watches.findIndex((w) => w.node === node && w.token === token);
      if (i < 0) return 'ENOENT';
      c.watches.splice(i, 1);
      if (c.domain !== undefined && c.domain.nbwatch > 0) c.domain.nbwatch--;
      return OK;
    },
  };
  t[XS_TRANSACTION_START] = {
    name: 'TRANSACTION_START',
    run: (d, c) => {
      if (c.transaction !== undefined) return 'EBUSY';
      const tx = d.store.startTransaction(c);
      return typeof tx === 'string' ? tx : strings(String(tx.id));
    },
  };
  t[XS_TRANSACTION_END] = {
    name: 'TRANSACTION_END',
    run: (d, c, p) => {
      const arg = oneArg(p);
      if (arg !== 'T' && arg !== 'F') return 'EINVAL';
      const tx = c.transaction;
      if (tx === undefined) return 'ENOENT';
      c.transaction = undefined;
      d.store.dropTransaction(c, tx);
      // A hostile xenstored: the commit fails as a conflicting change makes it (xenstored's
      // transaction_end: EAGAIN, the transaction's changes dropped).
      if (arg === 'T' && d.faults !== undefined && c.domain !== undefined && c.id !== 0 && d.faults.commit(c.id) === 'EAGAIN') return 'EAGAIN';
      if (arg === 'T') {
        const e = d.store.commitTransaction(c, tx);
        if (e !== undefined) return e;
      }
      return OK;
    },
  };
  t[XS_INTRODUCE] = {
    name: 'INTRODUCE',
    priv: true,
    run: (d, _c, p) => {
      if (countNuls(p) < 3) return 'EINVAL';
      const v = splitStrings(p);
      return ack(d.introduce(atoi(v[0] as string) >>> 0, atoi(v[1] as string), atoi(v[2] as string)));
    },
  };
  t[XS_RELEASE] = {
    name: 'RELEASE',
    priv: true,
    run: (d, _c, p) => {
      const dom = d.oneargDomain(p);
      if (typeof dom === 'string') return dom;
      return ack(d.release(dom.domid));
    },
  };
  t[XS_GET_DOMAIN_PATH] = {
    name: 'GET_DOMAIN_PATH',
    run: (_d, _c, p) => {
      const s = oneArg(p);
      if (s === undefined) return 'EINVAL';
      return strings(`/local/domain/${atoi(s) >>> 0}`);
    },
  };
  t[XS_WRITE] = { name: 'WRITE', run: (d, c, p) => ack(d.store.opWrite(c, p)) };
  t[XS_MKDIR] = { name: 'MKDIR', run: (d, c, p) => ack(d.store.opMkdir(c, p)) };
  t[XS_RM] = { name: 'RM', run: (d, c, p) => ack(d.store.opRm(c, p)) };
  t[XS_SET_PERMS] = { name: 'SET_PERMS', run: (d, c, p) => ack(d.store.opSetPerms(c, p)) };
  t[XS_IS_DOMAIN_INTRODUCED] = {
    name: 'IS_DOMAIN_INTRODUCED',
    priv: true,
    run: (d, _c, p) => {
      const s = oneArg(p);
      if (s === undefined) return 'EINVAL';
      const domid = atoi(s) >>> 0;
      const yes = domid === DOMID_SELF || d.domainConnection(domid) !== undefined;
      return strings(yes ? 'T' : 'F');
    },
  };
  t[XS_RESUME] = {
    name: 'RESUME',
    priv: true,
    run: (d, _c, p) => {
      const dom = d.oneargDomain(p);
      if (typeof dom === 'string') return dom;
      dom.shutdown = false;
      return OK;
    },
  };
  t[XS_SET_TARGET] = {
    name: 'SET_TARGET',
    priv: true,
    run: (d, _c, p) => {
      if (countNuls(p) < 2) return 'EINVAL';
      const v = splitStrings(p);
      const f = (n: number): DomainRec | XsErrno => d.findConnected(n);
      const dom = f(atoi(v[0] as string) >>> 0);
      if (typeof dom === 'string') return dom;
      const tdom = f(atoi(v[1] as string) >>> 0);
      if (typeof tdom === 'string') return tdom;
      (dom.conn as Conn).target = tdom.conn;
      return OK;
    },
  };
  t[XS_RESET_WATCHES] = {
    name: 'RESET_WATCHES',
    run: (_d, c) => {
      for (let i = c.watches.length; i > 0; i--) if (c.domain !== undefined && c.domain.nbwatch > 0) c.domain.nbwatch--;
      c.watches.length = 0;
      c.transactions.length = 0;
      return OK;
    },
  };
  t[XS_DIRECTORY_PART] = { name: 'DIRECTORY_PART', run: (d, c, p) => d.store.opDirectoryPart(c, p) };
  return t;
})();

function eventPathOf(w: Watch): string {
  if (w.relativeTo === undefined) return w.node;
  let p = w.node.slice(w.relativeTo.length);
  if (p.startsWith('/')) p = p.slice(1);
  return p;
}

function countNuls(p: Uint8Array): number {
  let n = 0;
  for (const b of p) if (b === 0) n++;
  return n;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function connName(c: Conn): string {
  return c.domain !== undefined ? `domain ${c.domain.domid}` : `${c.kind} client`;
}

/** A payload for trace lines: NULs as spaces, other non-printables as \xNN, at most 200 chars. */
function printable(p: Uint8Array): string {
  let s = '';
  for (let i = 0; i < p.length && s.length < 200; i++) {
    const b = p[i] as number;
    if (b === 0) s += ' ';
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return s.trimEnd();
}
