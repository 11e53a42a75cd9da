/**
 * xenstored's database: nodes, permissions, generation counts, transactions, watches, domains
 * and per-domain quotas, with the semantics of Xen 4.17's C xenstored (tools/xenstore/
 * xenstored_core.c, _transaction.c, _watch.c, _domain.c), written from its behaviour.
 *
 *  - A node has a value (bytes), a permission list (perms.ts), its children's names in creation
 *    order (DIRECTORY answers in that order) and a generation count: every modifying access sets
 *    it to `++generation` (one global counter, also taken by each TRANSACTION_START).
 *  - Writes and MKDIR create missing parents with the parent's permissions; an unprivileged
 *    creator becomes the owner of what it creates. RM removes the subtree, firing a watch event
 *    for each node; an absent node is fine if its parent exists.
 *  - Transactions are xenstored's: the first access to a node inside one copies it (reads record
 *    its generation, or "absent"), later accesses see the copy, and TRANSACTION_END "T" fails
 *    with EAGAIN when any node recorded by a read has a different generation (or existence) in
 *    the global store; the transaction is gone either way. Watch events of a transaction fire
 *    only when it commits, once per modified node in the order nodes were first accessed.
 *  - Watches fire for the node and its subtree (special `@introduceDomain`/`@releaseDomain`
 *    events only for exact watches, to privileged callers or those given read access by
 *    SET_PERMS), only for callers allowed to read the node or its parent, relative to the
 *    domain's home for relative watches; an identical event still queued is not repeated.
 *  - Quotas for unprivileged domains, with xenstored's defaults and errors: 1000 nodes per domain
 *    (ENOSPC), a node record of 2048 bytes (ENOSPC), 128 watches (E2BIG beyond quota+1), 10
 *    transactions (ENOSPC beyond quota+1), 1024 nodes per transaction (ENOSPC), 5 permission
 *    entries (ENOSPC), 2048 path bytes beyond the domain's home (EINVAL), 20 outstanding
 *    requests (the ring is not read further until replies are consumed). The per-domain memory
 *    quota (2.5 MB) is not accounted (docs/xenstore.md).
 *
 * Message dispatch, connections and domains are in xenstored.ts; this module knows connections
 * only as `Conn` records. Deterministic: no host time; every list has xenstored's order.
 */
import {
  XS_PERM_IGNORE,
  XS_PERM_OWNER,
  XS_PERM_READ,
  XS_PERM_WRITE,
  basenameOf,
  childPath,
  clonePerms,
  isChild,
  isValidNodename,
  parsePerms,
  parentOf,
  permFor,
  permToString,
  type Perm,
  type PermSubject,
} from './perms.js';
import { bytes, concatBytes, latin1, oneArg, splitStrings, strings, type XsErrno } from './wire.js';

/** xenstored's NO_GENERATION (~0ULL): "the node did not exist". */
export const NO_GENERATION = -1;

/** Quotas with xenstored 4.17's defaults (`xenstored --help`, CONTROL quota names). */
export interface Quotas {
  nodes: number;
  watches: number;
  transactions: number;
  outstanding: number;
  transactionNodes: number;
  memory: number;
  memorySoft: number;
  nodeSize: number;
  pathMax: number;
  permissions: number;
}

export function defaultQuotas(): Quotas {
  return {
    nodes: 1000,
    watches: 128,
    transactions: 10,
    outstanding: 20,
    transactionNodes: 1024,
    memory: 2 * 1024 * 1024 + 512 * 1024,
    memorySoft: 2 * 1024 * 1024,
    nodeSize: 2048,
    pathMax: 2048,
    permissions: 5,
  };
}

/** A stored node (one TDB record). */
export interface NodeRec {
  readonly value: Uint8Array;
  readonly perms: readonly Perm[];
  readonly children: readonly string[];
  readonly generation: number;
}

/** A node as read for one operation (xenstored's struct node). */
export interface Node {
  readonly name: string;
  value: Uint8Array;
  perms: Perm[];
  children: string[];
  generation: number;
  /** Set for nodes created by this operation: the node above it. */
  parent?: Node;
}

/** A node's record size as xenstored computes it against the node-size quota. */
export function recordSize(n: { value: Uint8Array; perms: readonly Perm[]; children: readonly string[] }): number {
  let childlen = 0;
  for (const c of n.children) childlen += c.length + 1;
  // struct xs_tdb_record_hdr (u64 generation, 3 u32s: 24 bytes with padding), 8 bytes a perm.
  return 24 + 8 * n.perms.length + n.value.length + childlen;
}

interface Accessed {
  /** Generation seen by the first (read) access, or NO_GENERATION. */
  generation: number;
  checkGen: boolean;
  modified: boolean;
  /** The transaction's copy of the node; undefined: absent in the transaction. */
  copy: NodeRec | undefined;
  /** Permissions when first accessed (for watch permission at commit). */
  perms: Perm[] | undefined;
  fireWatch: boolean;
  watchExact: boolean;
}

export class Transaction {
  /** Nodes in order of first access (Map keeps insertion order). */
  readonly accessed = new Map<string, Accessed>();
  /** Entry-count changes per owner domain, in order of first change. */
  readonly changedDomains = new Map<number, number>();
  nodeCreated = false;
  fail = false;
  constructor(
    readonly id: number,
    readonly generation: number,
  ) {}

  /** Nodes accessed so far (xenstored's trans->nodes, against the transaction-nodes quota). */
  nodes(): number {
    return this.accessed.size;
  }
}

export interface Watch {
  /** Absolute path, or a special "@..." name. */
  readonly node: string;
  readonly token: string;
  /** The domain home for a watch given as a relative path. */
  readonly relativeTo: string | undefined;
}

/** The daemon-side record of a domain (xenstored's struct domain). */
export class DomainRec {
  introduced = false;
  shutdown = false;
  nbentry = 0;
  nbwatch = 0;
  nboutstanding = 0;
  port = 0;
  conn: Conn | undefined = undefined;
  constructor(
    readonly domid: number,
    /** The global generation when xenstored first learned of the domain. */
    readonly generation: number,
  ) {}
}

/** A queued outgoing message (reply or watch event). */
export interface OutMsg {
  readonly type: number;
  readonly reqId: number;
  readonly txId: number;
  readonly payload: Uint8Array;
  /** Bytes already written to the transport (header included). */
  written: number;
  readonly watchEvent: boolean;
  /** For a reply: watch events it caused that are still queued somewhere. */
  eventCnt: number;
  onOut: boolean;
  onRef: boolean;
  /** For a reply: the domain whose outstanding count it holds (unprivileged callers). */
  domid: number | undefined;
  /** For a watch event: the request (reply record) that caused it. */
  req: OutMsg | undefined;
}

/** One client of the daemon: a domain's ring, a host socket, an in-process host connection. */
export class Conn implements PermSubject {
  transaction: Transaction | undefined = undefined;
  readonly transactions: Transaction[] = [];
  nextTransactionId = 0;
  readonly watches: Watch[] = [];
  readonly out: OutMsg[] = [];
  ignored = false;
  target: Conn | undefined = undefined;
  /** Why the connection was dropped (diagnostic). */
  brokenReason: string | undefined = undefined;
  constructor(
    /** Domain id; 0 for host tools. */
    readonly id: number,
    readonly domain: DomainRec | undefined,
    /** 'ring' | 'socket' | 'host': for diagnostics. */
    readonly kind: string,
  ) {}

  get unprivileged(): boolean {
    return this.domain !== undefined && this.domain.domid !== 0;
  }
  get targetId(): number | undefined {
    return this.target?.id;
  }
  /** Relative paths are taken below this (xenstored's get_implicit_path). */
  get implicitPath(): string {
    return `/local/domain/${this.domain === undefined ? 0 : this.domain.domid}`;
  }
}

/** A walk's end: on, or stopped by an error (EIO); an access errno stops it with that errno. */
type Walk = 'ok' | 'error-stop';

/**
 * The database and everything that touches it. `fire` hooks are called by the daemon layer
 * (xenstored.ts) that owns connections.
 */
export class Store {
  /** Global generation counter. */
  generation = 0;
  readonly quotas: Quotas;
  private readonly nodes = new Map<string, NodeRec>();
  readonly domains = new Map<number, DomainRec>();
  /** Connections in creation order (xenstored's `connections` list). */
  readonly connections: Conn[] = [];
  /** Permissions of the special watch names. */
  readonly specialPerms = new Map<string, Perm[]>([
    ['@releaseDomain', [{ perms: 0, id: 0 }]],
    ['@introduceDomain', [{ perms: 0, id: 0 }]],
  ]);

  constructor(
    quotas: Partial<Quotas> = {},
    /** Whether the hypervisor has a domain with this id (xenstored asks Xen). */
    readonly domainExists: (domid: number) => boolean = (d) => d === 0,
  ) {
    this.quotas = { ...defaultQuotas(), ...quotas };
    // xenstored's setup_structure: "/", "/tool", "/tool/xenstored", owned by dom0, "n0".
    const p = (): Perm[] => [{ perms: 0, id: 0 }];
    this.domains.set(0, new DomainRec(0, 0));
    this.nodes.set('/', { value: new Uint8Array(0), perms: p(), children: ['tool'], generation: 0 });
    this.nodes.set('/tool', { value: new Uint8Array(0), perms: p(), children: ['xenstored'], generation: 0 });
    this.nodes.set('/tool/xenstored', { value: new Uint8Array(0), perms: p(), children: [], generation: 0 });
    (this.domains.get(0) as DomainRec).nbentry = 3;
  }

  /** The global record of a node (no permission check, no transaction): for tests and dumps. */
  peek(path: string): NodeRec | undefined {
    return this.nodes.get(path);
  }

  /** Number of nodes in the global store. */
  size(): number {
    return this.nodes.size;
  }

  // ---- domains -------------------------------------------------------------------------------

  findDomain(domid: number): DomainRec | undefined {
    return this.domains.get(domid);
  }

  /** xenstored's alloc_domain: the domain's generation is the current global one. */
  allocDomain(domid: number): DomainRec {
    const d = new DomainRec(domid, this.generation);
    this.domains.set(domid, d);
    return d;
  }

  private findOrAllocExistingDomain(domid: number): DomainRec | undefined {
    const d = this.domains.get(domid);
    if (d !== undefined) return d;
    return this.domainExists(domid) ? this.allocDomain(domid) : undefined;
  }

  /** xenstored's domain_alloc_permrefs: entries for unknown domains get the IGNORE bit. */
  allocPermRefs(p: Perm[]): void {
    for (const e of p) {
      if (this.domains.has(e.id)) continue;
      if (this.domainExists(e.id)) this.allocDomain(e.id);
      else e.perms |= XS_PERM_IGNORE;
    }
  }

  /** xenstored's domain_adjust_node_perms: ignore entries of domains younger than the node. */
  private adjustPerms(n: { perms: Perm[]; generation: number }): void {
    for (let i = 1; i < n.perms.length; i++) {
      const e = n.perms[i] as Perm;
      if (e.perms & XS_PERM_IGNORE) continue;
      const d = this.domains.get(e.id);
      if (!(d !== undefined && d.generation <= n.generation)) e.perms |= XS_PERM_IGNORE;
    }
  }

  private entryInc(conn: Conn | undefined, node: Node): boolean {
    const owner = (node.perms[0] as Perm).id;
    const tx = conn?.transaction;
    if (tx !== undefined) {
      tx.changedDomains.set(owner, (tx.changedDomains.get(owner) ?? 0) + 1);
      return true;
    }
    const d = conn !== undefined && owner === conn.id && conn.domain !== undefined ? conn.domain : this.findOrAllocExistingDomain(owner);
    if (d === undefined) return false;
    d.nbentry++;
    return true;
  }

  private entryDec(conn: Conn | undefined, node: Node): void {
    const owner = (node.perms[0] as Perm).id;
    const tx = conn?.transaction;
    if (tx !== undefined) {
      tx.changedDomains.set(owner, (tx.changedDomains.get(owner) ?? 0) - 1);
      return;
    }
    const d = conn !== undefined && owner === conn.id && conn.domain !== undefined ? conn.domain : this.domains.get(owner);
    if (d !== undefined) d.nbentry--;
  }

  /** xenstored's domain_entry: the caller's node count (0 for privileged callers). */
  private domainEntry(conn: Conn | undefined): number {
    return conn !== undefined && conn.unprivileged ? (conn.domain as DomainRec).nbentry : 0;
  }

  // ---- node access (TDB + access_node) -------------------------------------------------------

  /** xenstored's access_node; -1: a first access that is a delete (nothing to delete in the transaction). */
  private accessNode(conn: Conn | undefined, node: Node, type: 'read' | 'write' | 'delete'): 0 | -1 | XsErrno {
    if (type !== 'read') node.generation = ++this.generation;
    const tx = conn?.transaction;
    if (tx === undefined) return 0;
    let a = tx.accessed.get(node.name);
    let introduce = false;
    if (a === undefined) {
      if (tx.nodes() >= this.quotas.transactionNodes && (conn as Conn).unprivileged) {
        tx.fail = true;
        return 'ENOSPC';
      }
      a = {
        generation: 0,
        checkGen: false,
        modified: false,
        copy: undefined,
        perms: node.generation !== NO_GENERATION && node.perms.length > 0 ? clonePerms(node.perms) : undefined,
        fireWatch: false,
        watchExact: false,
      };
      introduce = true;
      if (type === 'read') {
        a.generation = node.generation;
        a.checkGen = true;
        if (node.generation !== NO_GENERATION) a.copy = toRec(node);
      }
      tx.accessed.set(node.name, a);
    }
    if (type !== 'read') a.modified = true;
    if (introduce && type === 'delete') return -1;
    return 0;
  }

  /** xenstored's read_node: the node as `conn` sees it (its transaction's copy if it has one). */
  readNode(conn: Conn | undefined, name: string): Node | XsErrno {
    const tx = conn?.transaction;
    let rec: NodeRec | undefined;
    const a = tx?.accessed.get(name);
    if (a !== undefined) rec = a.copy;
    else rec = this.nodes.get(name);
    if (rec === undefined) {
      const ghost: Node = { name, value: new Uint8Array(0), perms: [], children: [], generation: NO_GENERATION };
      const r = this.accessNode(conn, ghost, 'read');
      return typeof r === 'string' ? r : 'ENOENT';
    }
    const node: Node = { name, value: rec.value, perms: clonePerms(rec.perms), children: [...rec.children], generation: rec.generation };
    this.adjustPerms(node);
    const r = this.accessNode(conn, node, 'read');
    if (typeof r === 'string') return r;
    return node;
  }

  /** xenstored's write_node (+ write_node_raw): ENOSPC for an oversized record of an unprivileged caller. */
  private writeNode(conn: Conn | undefined, node: Node, noQuotaCheck: boolean): XsErrno | undefined {
    const r = this.accessNode(conn, node, 'write');
    if (typeof r === 'string') return r;
    this.adjustPerms(node);
    const tx = conn?.transaction;
    if (!noQuotaCheck && conn !== undefined && conn.unprivileged && recordSize(node) >= this.quotas.nodeSize) {
      if (tx !== undefined) tx.fail = true;
      return 'ENOSPC';
    }
    const rec = toRec(node);
    if (tx !== undefined) (tx.accessed.get(node.name) as Accessed).copy = rec;
    else this.nodes.set(node.name, rec);
    return undefined;
  }

  private deleteRecord(conn: Conn | undefined, name: string): void {
    const tx = conn?.transaction;
    if (tx !== undefined) {
      const a = tx.accessed.get(name);
      if (a !== undefined) a.copy = undefined;
    } else {
      this.nodes.delete(name);
    }
  }

  // ---- permission-checked lookup --------------------------------------------------------------

  /** xenstored's canonicalize: a relative path is below the caller's home. */
  canonicalize(conn: Conn, name: string): string {
    if (name.startsWith('/') || name.startsWith('@')) return name;
    return `${conn.implicitPath}/${name}`;
  }

  private askParents(conn: Conn, name: string): number | XsErrno {
    let n: Node | XsErrno;
    let p = name;
    do {
      p = parentOf(p);
      n = this.readNode(conn, p);
      if (typeof n !== 'string') break;
      if (n === 'ENOMEM' || n === 'ENOSPC') return n;
    } while (p !== '/');
    if (typeof n === 'string') return 0;
    return permFor(conn, n.perms);
  }

  /** xenstored's get_node: the node, or the errno the caller may learn (EACCES hides existence). */
  getNode(conn: Conn, name: string | undefined, perm: number): Node | XsErrno {
    if (name === undefined || !isValidNodename(name, this.quotas.pathMax)) return 'EINVAL';
    const n = this.readNode(conn, name);
    let err: XsErrno;
    if (typeof n !== 'string') {
      if ((permFor(conn, n.perms) & perm) === perm) return n;
      err = 'EACCES';
    } else {
      err = n;
    }
    if (err === 'ENOMEM' || err === 'ENOSPC') return err;
    const pp = this.askParents(conn, name);
    if (typeof pp === 'string') return pp;
    return pp & perm ? err : 'EACCES';
  }

  // ---- node creation and removal ------------------------------------------------------------

  private constructNode(conn: Conn, name: string): Node | XsErrno {
    const names: string[] = [];
    let parent: Node | undefined;
    let pname = name;
    while (parent === undefined) {
      names.push(pname);
      pname = parentOf(pname);
      const p = this.readNode(conn, pname);
      if (typeof p === 'string') {
        if (p !== 'ENOENT' || pname === '/') return p;
      } else {
        parent = p;
      }
    }
    let node: Node = parent;
    for (let i = names.length - 1; i >= 0; i--) {
      const nm = names[i] as string;
      parent.children.push(basenameOf(nm));
      const np = clonePerms(parent.perms);
      if (conn.unprivileged) (np[0] as Perm).id = conn.id;
      node = { name: nm, value: new Uint8Array(0), perms: np, children: [], generation: 0, parent };
      parent = node;
    }
    return node;
  }

  private destroyNode(conn: Conn, node: Node): void {
    this.deleteRecord(conn, node.name);
    this.entryDec(conn, node);
    if (conn.transaction !== undefined) conn.transaction.fail = true;
  }

  /** xenstored's create_node: the node and its missing parents, all or nothing. */
  createNode(conn: Conn, name: string, value: Uint8Array): Node | XsErrno {
    const node = this.constructNode(conn, name);
    if (typeof node === 'string') return node;
    if (conn.transaction !== undefined) conn.transaction.nodeCreated = true;
    node.value = value;
    let err: XsErrno | undefined;
    let i: Node | undefined = node;
    for (; i !== undefined; i = i.parent) {
      if (i.parent !== undefined && this.domainEntry(conn) >= this.quotas.nodes) {
        err = 'ENOSPC';
        break;
      }
      err = this.writeNode(conn, i, false);
      if (err !== undefined) break;
      if (i.parent !== undefined && !this.entryInc(conn, i)) {
        this.deleteRecord(conn, i.name);
        return 'ENOMEM';
      }
    }
    if (err === undefined) return node;
    for (let j: Node | undefined = node; j !== undefined && j !== i; j = j.parent) this.destroyNode(conn, j);
    return err;
  }

  /** Removes the child entry `child` of `parent` and writes the parent (no quota check). */
  private removeChildEntry(conn: Conn | undefined, parent: Node, child: string): XsErrno | undefined {
    const at = parent.children.indexOf(child);
    if (at < 0) return 'EIO';
    parent.children.splice(at, 1);
    return this.writeNode(conn, parent, true) === undefined ? undefined : 'EIO';
  }

  /** Post-order walk below `root` calling `exit` (xenstored's walk_node_tree with .exit). */
  private walkDelete(conn: Conn | undefined, root: string): Walk | XsErrno {
    const rootNode = this.readNode(conn, root);
    if (typeof rootNode === 'string') return 'error-stop';
    const visit = (node: Node, parent: Node | undefined): Walk | XsErrno => {
      for (const c of [...node.children]) {
        const child = this.readNode(conn, childPath(node.name, c));
        if (typeof child === 'string') return 'error-stop';
        const r = visit(child, node);
        if (r !== 'ok') return r;
      }
      // delnode_sub
      const acc = this.accessNode(conn, node, 'delete');
      if (typeof acc === 'string') return acc;
      if (acc === 0) this.deleteRecord(conn, node.name);
      this.fireWatches(conn, node.name, node, node.name !== root, undefined);
      this.entryDec(conn, node);
      if (parent !== undefined) {
        if (this.removeChildEntry(conn, parent, basenameOf(node.name)) !== undefined) return 'error-stop';
      }
      return 'ok';
    };
    return visit(rootNode, undefined);
  }

  /** xenstored's rm_node: the subtree at `name`, then its entry in the parent. */
  rmNode(conn: Conn | undefined, name: string): XsErrno | undefined {
    const parent = this.readNode(conn, parentOf(name));
    if (typeof parent === 'string') return parent === 'ENOMEM' || parent === 'ENOSPC' ? parent : 'EINVAL';
    const r = this.walkDelete(conn, name);
    if (r === 'error-stop') return 'EIO';
    if (r !== 'ok') return r;
    return this.removeChildEntry(conn, parent, basenameOf(name));
  }

  // ---- watches ------------------------------------------------------------------------------

  /** Set by the daemon: queue a watch event on a connection (xenstored's send_event). */
  sendEvent: (req: OutMsg | undefined, conn: Conn, path: string, token: string) => void = () => undefined;
  /** Set by the daemon: the reply record of the request being processed for an unprivileged caller. */
  currentRequest: OutMsg | undefined = undefined;

  private watchPermitted(conn: Conn, name: string, node: Node | undefined, perms: readonly Perm[] | undefined): boolean {
    if (perms !== undefined && permFor(conn, perms) & XS_PERM_READ) return true;
    let n = node;
    if (n === undefined) {
      const r = this.readNode(conn, name);
      if (typeof r === 'string') return false;
      n = r;
    }
    if (permFor(conn, n.perms) & XS_PERM_READ) return true;
    let parent: Node | undefined = n.parent;
    if (parent === undefined) {
      const r = this.readNode(conn, parentOf(n.name));
      if (typeof r === 'string') return false;
      parent = r;
    }
    return (permFor(conn, parent.perms) & XS_PERM_READ) !== 0;
  }

  /** xenstored's fire_watches: queued in the caller's transaction, else sent to every matching watch. */
  fireWatches(conn: Conn | undefined, name: string, node: Node | undefined, exact: boolean, perms: readonly Perm[] | undefined): void {
    const tx = conn?.transaction;
    if (tx !== undefined) {
      const a = tx.accessed.get(name);
      if (a === undefined) {
        tx.fail = true;
        return;
      }
      if (!a.fireWatch) {
        a.fireWatch = true;
        a.watchExact = exact;
      } else if (!exact) {
        a.watchExact = false;
      }
      return;
    }
    const req = conn !== undefined && conn.unprivileged ? this.currentRequest : undefined;
    const special = name.startsWith('@');
    for (const c of this.connections) {
      if (special) {
        const sp = this.specialPerms.get(name);
        if (sp === undefined || !(permFor(c, sp) & XS_PERM_READ)) continue;
      } else if (!this.watchPermitted(c, name, node, perms)) {
        continue;
      }
      for (const w of [...c.watches]) {
        if (exact ? name === w.node : isChild(name, w.node)) this.sendEvent(req, c, watchPath(w, name), w.token);
      }
    }
  }

  // ---- operations (payload in, reply payload or errno out) ----------------------------------

  opRead(conn: Conn, p: Uint8Array): Uint8Array | XsErrno {
    const arg = oneArg(p);
    const n = this.getNode(conn, arg === undefined ? undefined : this.canonicalize(conn, arg), XS_PERM_READ);
    return typeof n === 'string' ? n : n.value;
  }

  opDirectory(conn: Conn, p: Uint8Array): Uint8Array | XsErrno {
    const arg = oneArg(p);
    const n = this.getNode(conn, arg === undefined ? undefined : this.canonicalize(conn, arg), XS_PERM_READ);
    return typeof n === 'string' ? n : strings(...n.children);
  }

  opDirectoryPart(conn: Conn, p: Uint8Array): Uint8Array | XsErrno {
    if (countNuls(p) !== 2) return 'EINVAL';
    const [path, offStr] = splitStrings(p) as [string, string];
    const n = this.getNode(conn, this.canonicalize(conn, path), XS_PERM_READ);
    if (typeof n === 'string') return n;
    const off = atoi(offStr) >>> 0;
    const gen = bytes(`${n.generation}\0`);
    const children = strings(...n.children);
    if (off >= children.length) return concatBytes(gen, new Uint8Array(1));
    // As many whole names from `off` as fit, the list's final empty string if it ends here.
    const maxlen = 4096 - gen.length - 1;
    let len = 0;
    let at = off;
    for (;;) {
      const nul = children.indexOf(0, at);
      const slen = (nul < 0 ? children.length : nul) - at;
      if (!(len + slen < maxlen)) break;
      len += slen + 1;
      at += slen + 1;
      if (off + len >= children.length) break;
    }
    const body = children.subarray(off, off + len);
    return off + len === children.length ? concatBytes(gen, body, new Uint8Array(1)) : concatBytes(gen, body);
  }

  opGetPerms(conn: Conn, p: Uint8Array): Uint8Array | XsErrno {
    const arg = oneArg(p);
    const n = this.getNode(conn, arg === undefined ? undefined : this.canonicalize(conn, arg), XS_PERM_READ);
    return typeof n === 'string' ? n : strings(...n.perms.map(permToString));
  }

  opWrite(conn: Conn, p: Uint8Array): XsErrno | undefined {
    const nul = p.indexOf(0);
    if (nul < 0) return 'EINVAL';
    const name = this.canonicalize(conn, latin1(p.subarray(0, nul)));
    const value = p.slice(nul + 1);
    let n = this.getNode(conn, name, XS_PERM_WRITE);
    if (typeof n === 'string') {
      if (n !== 'ENOENT') return n;
      n = this.createNode(conn, name, value);
      if (typeof n === 'string') return n;
    } else {
      n.value = value;
      const e = this.writeNode(conn, n, false);
      if (e !== undefined) return e;
    }
    this.fireWatches(conn, name, n, false, undefined);
    return undefined;
  }

  opMkdir(conn: Conn, p: Uint8Array): XsErrno | undefined {
    const arg = oneArg(p);
    const name = arg === undefined ? undefined : this.canonicalize(conn, arg);
    const n = this.getNode(conn, name, XS_PERM_WRITE);
    if (typeof n !== 'string') return undefined;
    if (n !== 'ENOENT') return n;
    const c = this.createNode(conn, name as string, new Uint8Array(0));
    if (typeof c === 'string') return c;
    this.fireWatches(conn, name as string, c, false, undefined);
    return undefined;
  }

  opRm(conn: Conn, p: Uint8Array): XsErrno | undefined {
    const arg = oneArg(p);
    const name = arg === undefined ? undefined : this.canonicalize(conn, arg);
    const n = this.getNode(conn, name, XS_PERM_WRITE);
    if (typeof n === 'string') {
      if (n !== 'ENOENT') return n;
      const parent = this.readNode(conn, parentOf(name as string));
      if (typeof parent !== 'string') return undefined;
      return parent === 'ENOMEM' || parent === 'ENOSPC' ? parent : 'ENOENT';
    }
    if (name === '/') return 'EINVAL';
    return this.rmNode(conn, name as string);
  }

  opSetPerms(conn: Conn, p: Uint8Array): XsErrno | undefined {
    const all = splitStrings(p);
    const num = countNuls(p);
    if (num < 2) return 'EINVAL';
    if (conn.unprivileged && num - 1 > this.quotas.permissions) return 'ENOSPC';
    const parsed = parsePerms(all.slice(1, num));
    if (parsed === undefined) return 'EINVAL';
    this.allocPermRefs(parsed);
    if ((parsed[0] as Perm).perms & XS_PERM_IGNORE) return 'ENOENT';
    const path = all[0] as string;
    if (path.startsWith('@')) {
      const sp = this.specialPerms.get(path);
      if (sp === undefined) return 'EINVAL';
      if ((permFor(conn, sp) & (XS_PERM_WRITE | XS_PERM_OWNER)) !== (XS_PERM_WRITE | XS_PERM_OWNER)) return 'EACCES';
      this.specialPerms.set(path, parsed);
      return undefined;
    }
    const name = this.canonicalize(conn, path);
    const n = this.getNode(conn, name, XS_PERM_WRITE | XS_PERM_OWNER);
    if (typeof n === 'string') return n;
    if (conn.unprivileged && (parsed[0] as Perm).id !== (n.perms[0] as Perm).id) return 'EPERM';
    const old = n.perms;
    this.entryDec(conn, n);
    n.perms = parsed;
    if (!this.entryInc(conn, n)) {
      n.perms = old;
      this.entryInc(conn, n);
      return 'ENOMEM';
    }
    const e = this.writeNode(conn, n, false);
    if (e !== undefined) {
      this.entryDec(conn, n);
      n.perms = old;
      this.entryInc(conn, n);
      return e;
    }
    this.fireWatches(conn, name, n, false, old);
    return undefined;
  }

  // ---- transactions -------------------------------------------------------------------------

  /** TRANSACTION_START for `conn` (not in a transaction): the new id, or ENOSPC over quota. */
  startTransaction(conn: Conn): Transaction | XsErrno {
    if (conn.unprivileged && conn.transactions.length > this.quotas.transactions) return 'ENOSPC';
    const gen = ++this.generation;
    let id: number;
    do {
      id = conn.nextTransactionId;
      conn.nextTransactionId = (conn.nextTransactionId + 1) >>> 0;
    } while (id === 0 || conn.transactions.some((t) => t.id === id));
    const tx = new Transaction(id, gen);
    conn.transactions.push(tx);
    return tx;
  }

  /** Drops a transaction of `conn` without committing. */
  dropTransaction(conn: Conn, tx: Transaction): void {
    const i = conn.transactions.indexOf(tx);
    if (i >= 0) conn.transactions.splice(i, 1);
  }

  /** TRANSACTION_END "T": EAGAIN on conflict, ENOSPC over the node quota, ENOMEM for a failed one. */
  commitTransaction(conn: Conn, tx: Transaction): XsErrno | undefined {
    if (tx.fail) return 'ENOMEM';
    const chkQuota = tx.nodeCreated && conn.unprivileged;
    for (const [domid, delta] of tx.changedDomains) {
      const d = this.findOrAllocExistingDomain(domid);
      if (d === undefined) return 'ENOMEM';
      let cnt = d.nbentry + delta;
      if (cnt < 0) cnt = 0;
      const counted = domid !== 0 ? cnt : 0;
      if (chkQuota && counted >= this.quotas.nodes) return 'ENOSPC';
    }
    for (const [name, a] of tx.accessed) {
      if (a.checkGen) {
        const g = this.nodes.get(name)?.generation ?? NO_GENERATION;
        if (a.generation !== g) return 'EAGAIN';
      }
    }
    for (const [name, a] of tx.accessed) {
      if (!a.modified) continue;
      if (a.copy !== undefined) {
        this.nodes.set(name, { ...a.copy, generation: ++this.generation });
      } else if (a.generation !== NO_GENERATION) {
        this.nodes.delete(name);
      }
      if (a.fireWatch) this.fireWatches(conn, name, undefined, a.watchExact, a.perms);
    }
    for (const [domid, delta] of tx.changedDomains) {
      const d = this.findOrAllocExistingDomain(domid);
      if (d !== undefined) d.nbentry = Math.max(0, d.nbentry + delta);
    }
    return undefined;
  }

  // ---- domain removal ----------------------------------------------------------------------

  /** xenstored's domain_tree_remove: deletes every node owned by `domid` (and their subtrees). */
  removeDomainNodes(d: DomainRec): void {
    if (d.nbentry > 0) {
      const visit = (name: string): boolean => {
        const n = this.readNode(undefined, name);
        if (typeof n === 'string') return true;
        if ((n.perms[0] as Perm).id === d.domid) {
          this.rmNode(undefined, name);
          return d.nbentry > 0;
        }
        for (const c of [...n.children]) {
          if (!visit(childPath(name, c))) return false;
        }
        return true;
      };
      visit('/');
    }
    for (const [k, p] of this.specialPerms) this.specialPerms.set(k, removeDomidFromPerms(p, d.domid));
  }
}

function toRec(n: Node): NodeRec {
  return { value: n.value, perms: clonePerms(n.perms), children: [...n.children], generation: n.generation };
}

/** The event path for a watch: relative to the domain home for a relative watch. */
function watchPath(w: Watch, name: string): string {
  if (w.relativeTo === undefined) return name;
  let p = name.slice(w.relativeTo.length);
  if (p.startsWith('/')) p = p.slice(1);
  return p;
}

function countNuls(p: Uint8Array): number {
  let n = 0;
  for (const b of p) if (b === 0) n++;
  return n;
}

/** C atoi: leading white space, a sign, decimal digits; 0 when none (as int, wrapping). */
export function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]*)/.exec(s);
  if (m === null || m[2] === '') return 0;
  const v = BigInt.asIntN(32, BigInt(m[2] as string));
  return m[1] === '-' ? Number(BigInt.asIntN(32, -v)) : Number(v);
}

function removeDomidFromPerms(p: readonly Perm[], domid: number): Perm[] {
  const out = clonePerms(p);
  if ((out[0] as Perm).id === domid) (out[0] as Perm).id = 0;
  return [out[0] as Perm, ...out.slice(1).filter((e) => e.id !== domid)];
}
