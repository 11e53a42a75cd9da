/**
 * Model-based property test of xenstored (harness/xenstore/): random sequences of operations,
 * transactions and watches from dom0 (host tools) and two domains (over pipe rings) give the
 * replies, errors, store contents and watch events of a small reference model written here from
 * docs/misc/xenstore.txt and C xenstored's rules:
 *
 *  - permission: dom0 all; the owner all; else the first entry naming the caller, else entry 0's
 *    letter; a failed lookup says ENOENT only if the nearest existing ancestor grants the access
 *    asked for, else EACCES;
 *  - creation copies the parent's list, an unprivileged creator becomes the owner;
 *  - transactions see their own copy of each node from its first access; commit fails with
 *    EAGAIN if any node accessed first by a read changed (or appeared, or went) outside since;
 *  - a change fires every watch on the node or above it (RM: descendants only exact watches),
 *    for callers that may read the node or its parent, queued in a transaction until commit.
 *
 * Invariants after every step: the store equals the model's, permissions were never bypassed
 * (a domain's successful write only ever touched nodes it may write), and nothing broke.
 * fast-check is seeded by the run (test/support/fast-check-seed.ts; the seed is printed).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  XS_DIRECTORY,
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
  strings,
} from '../../../harness/xenstore/wire.js';
import type { XsMessage } from '../../../harness/xenstore/wire.js';
import { show, world } from './helpers.js';

type P = { l: 'n' | 'r' | 'w' | 'b'; id: number };
interface MNode {
  value: string;
  perms: P[];
  children: string[];
  ver: number;
}
type Tree = Map<string, MNode>;

const EXISTING = new Set([0, 1, 2]);
const R = 1;
const W = 2;

function bits(l: P['l']): number {
  return { n: 0, r: R, w: W, b: R | W }[l];
}
function permFor(who: number, perms: readonly P[]): number {
  if (who === 0) return 7;
  const owner = perms[0] as P;
  if (owner.id === who) return 7;
  for (const e of perms.slice(1)) if (EXISTING.has(e.id) && e.id === who) return bits(e.l);
  return bits(owner.l);
}
const parentOf = (p: string): string => (p.lastIndexOf('/') <= 0 ? '/' : p.slice(0, p.lastIndexOf('/')));
const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
const child = (p: string, c: string): string => (p === '/' ? `/${c}` : `${p}/${c}`);
const isChild = (c: string, p: string): boolean => p === '/' || c === p || c.startsWith(`${p}/`);
const clone = (n: MNode): MNode => ({ value: n.value, perms: n.perms.map((e) => ({ ...e })), children: [...n.children], ver: n.ver });
const pstr = (perms: readonly P[]): string => perms.map((e) => `${e.l}${e.id}`).join('|') + '|';

interface MWatch {
  node: string;
  token: string;
  rel: string | undefined;
}
interface MTx {
  id: number;
  /** First-access copies (undefined = absent in the transaction). */
  view: Map<string, MNode | undefined>;
  /** Version at first access for read-first nodes (-1 absent). */
  check: Map<string, number>;
  /** Modified nodes with their watch flags, in first-access order (view order). */
  fire: Map<string, boolean>;
  oldPerms: Map<string, P[] | undefined>;
  modified: Set<string>;
  delta: Map<number, number>;
  created: boolean;
}
interface MConn {
  id: number;
  watches: MWatch[];
  tx: MTx | undefined;
  nextTx: number;
  events: string[];
}

/** The reference model. */
class Model {
  tree: Tree = new Map();
  ver = 0;
  conns: MConn[];
  nodeQuota = 12;
  constructor() {
    const n = (children: string[], perms: P[]): MNode => ({ value: '', perms, children, ver: 0 });
    this.tree.set('/', n(['tool', 'local'], [{ l: 'n', id: 0 }]));
    this.tree.set('/tool', n(['xenstored'], [{ l: 'n', id: 0 }]));
    this.tree.set('/tool/xenstored', n([], [{ l: 'n', id: 0 }]));
    this.tree.set('/local', n(['domain'], [{ l: 'n', id: 0 }]));
    this.tree.set('/local/domain', n(['1', '2'], [{ l: 'n', id: 0 }]));
    this.tree.set('/local/domain/1', n([], [{ l: 'n', id: 1 }]));
    this.tree.set('/local/domain/2', n([], [{ l: 'n', id: 2 }]));
    this.conns = [0, 1, 2].map((id) => ({ id, watches: [], tx: undefined, nextTx: 1, events: [] }));
  }

  private cur: MConn | undefined;
  private pending = new Map<MConn, string[]>();

  // Node access as the connection sees it (records transaction accesses).
  private get(c: MConn, p: string): MNode | undefined {
    const tx = c.tx;
    if (tx === undefined) return this.tree.get(p);
    if (!tx.view.has(p)) {
      const g = this.tree.get(p);
      tx.view.set(p, g === undefined ? undefined : clone(g));
      tx.check.set(p, g === undefined ? -1 : g.ver);
      tx.oldPerms.set(p, g === undefined ? undefined : g.perms.map((e) => ({ ...e })));
    }
    return tx.view.get(p);
  }
  private put(c: MConn, p: string, n: MNode | undefined): void {
    const tx = c.tx;
    if (n !== undefined) n.ver = ++this.ver;
    if (tx === undefined) {
      if (n === undefined) this.tree.delete(p);
      else this.tree.set(p, n);
      return;
    }
    if (!tx.view.has(p)) tx.oldPerms.set(p, n?.perms.map((e) => ({ ...e })));
    tx.view.set(p, n);
    tx.modified.add(p);
  }
  private count(id: number): number {
    let k = 0;
    for (const n of this.tree.values()) if ((n.perms[0] as P).id === id) k++;
    return k;
  }
  private entry(c: MConn, owner: number, d: number): void {
    if (c.tx !== undefined) c.tx.delta.set(owner, (c.tx.delta.get(owner) ?? 0) + d);
  }

  private lookup(c: MConn, p: string, perm: number): MNode | string {
    const n = this.get(c, p);
    if (n !== undefined && (permFor(c.id, n.perms) & perm) === perm) return n;
    const err = n === undefined ? 'ENOENT' : 'EACCES';
    let q = p;
    let anc: MNode | undefined;
    do {
      q = parentOf(q);
      anc = this.get(c, q);
    } while (anc === undefined && q !== '/');
    const pp = anc === undefined ? 0 : permFor(c.id, anc.perms);
    return pp & perm ? err : 'EACCES';
  }

  private fire(c: MConn, p: string, node: MNode | undefined, parent: MNode | undefined, exact: boolean, oldPerms?: P[]): void {
    if (c.tx !== undefined) {
      const prev = c.tx.fire.get(p);
      c.tx.fire.set(p, prev === undefined ? exact : prev && exact);
      return;
    }
    for (const w of this.conns) {
      const readable = (perms: readonly P[] | undefined): boolean => perms !== undefined && (permFor(w.id, perms) & R) !== 0;
      let ok = readable(oldPerms);
      if (!ok) {
        const n = node ?? this.tree.get(p);
        if (n !== undefined) ok = readable(n.perms) || readable((node !== undefined ? parent : undefined)?.perms ?? this.tree.get(parentOf(p))?.perms);
      }
      if (!ok) continue;
      for (const wt of w.watches) {
        if (exact ? p === wt.node : isChild(p, wt.node)) {
          const path = wt.rel === undefined ? p : p.slice(wt.rel.length).replace(/^\//, '');
          this.event(w, `${path} ${wt.token}`);
        }
      }
    }
  }
  private event(w: MConn, e: string): void {
    const q = this.pending.get(w) ?? [];
    if (!e.startsWith('@') && q.includes(e)) return;
    q.push(e);
    this.pending.set(w, q);
  }
  /** Ends an operation: queued events become delivered. */
  flush(): void {
    for (const [w, q] of this.pending) w.events.push(...q);
    this.pending.clear();
  }

  private create(c: MConn, p: string, value: string): MNode | string {
    const names: string[] = [];
    let q = p;
    let parent: MNode | undefined;
    while (parent === undefined) {
      names.push(q);
      q = parentOf(q);
      parent = this.get(c, q);
    }
    if (c.id !== 0 && c.tx === undefined && this.count(c.id) + names.length > this.nodeQuota) return 'ENOSPC';
    if (c.id !== 0 && c.tx !== undefined && this.count(c.id) >= this.nodeQuota) return 'ENOSPC';
    if (c.tx !== undefined) c.tx.created = true;
    let pname = q;
    let pn = parent;
    let made: MNode = parent;
    for (let i = names.length - 1; i >= 0; i--) {
      const nm = names[i] as string;
      pn.children.push(base(nm));
      const perms = pn.perms.map((e) => ({ ...e }));
      if (c.id !== 0) (perms[0] as P).id = c.id;
      this.put(c, pname, pn);
      made = { value: i === 0 ? value : '', perms, children: [], ver: 0 };
      this.entry(c, (perms[0] as P).id, 1);
      pname = nm;
      pn = made;
    }
    this.put(c, p, made);
    return made;
  }

  private rmTree(c: MConn, p: string, root: string, parentNode: MNode | undefined): void {
    const n = this.get(c, p) as MNode;
    for (const ch of [...n.children]) this.rmTree(c, child(p, ch), root, n);
    this.put(c, p, undefined);
    this.fire(c, p, n, parentNode, p !== root);
    this.entry(c, (n.perms[0] as P).id, -1);
    if (parentNode !== undefined) {
      parentNode.children.splice(parentNode.children.indexOf(base(p)), 1);
      this.put(c, parentOf(p), parentNode);
    }
  }

  run(c: MConn, op: Op): string {
    const home = `/local/domain/${c.id}`;
    const abs = (p: string): string => (p.startsWith('/') ? p : `${home}/${p}`);
    switch (op.kind) {
      case 'read': {
        const n = this.lookup(c, abs(op.path), R);
        return typeof n === 'string' ? `ERROR ${n}` : n.value === 'OK\0' ? 'OK' : n.value;
      }
      case 'dir': {
        const n = this.lookup(c, abs(op.path), R);
        return typeof n === 'string' ? `ERROR ${n}` : n.children.map((x) => `${x}|`).join('');
      }
      case 'getperms': {
        const n = this.lookup(c, abs(op.path), R);
        return typeof n === 'string' ? `ERROR ${n}` : pstr(n.perms);
      }
      case 'write':
      case 'mkdir': {
        const p = abs(op.path);
        const n = this.lookup(c, p, W);
        if (typeof n !== 'string') {
          if (op.kind !== 'write') return 'OK';
          const m = clone(n);
          m.value = op.value;
          this.put(c, p, m);
          this.fire(c, p, m, undefined, false);
          return 'OK';
        }
        if (n !== 'ENOENT') return `ERROR ${n}`;
        const made = this.create(c, p, op.kind === 'write' ? op.value : '');
        if (typeof made === 'string') return `ERROR ${made}`;
        this.fire(c, p, made, undefined, false);
        return 'OK';
      }
      case 'rm': {
        const p = abs(op.path);
        const n = this.lookup(c, p, W);
        if (typeof n === 'string') {
          if (n !== 'ENOENT') return `ERROR ${n}`;
          return this.get(c, parentOf(p)) !== undefined ? 'OK' : 'ERROR ENOENT';
        }
        const parent = clone(this.get(c, parentOf(p)) as MNode);
        this.rmTree(c, p, p, undefined);
        parent.children.splice(parent.children.indexOf(base(p)), 1);
        this.put(c, parentOf(p), parent);
        return 'OK';
      }
      case 'setperms': {
        if (c.id !== 0 && op.perms.length > 5) return 'ERROR ENOSPC';
        if (!EXISTING.has((op.perms[0] as P).id)) return 'ERROR ENOENT';
        const p = abs(op.path);
        const n = this.lookup(c, p, W | 4);
        if (typeof n === 'string') return `ERROR ${n}`;
        if (c.id !== 0 && (op.perms[0] as P).id !== (n.perms[0] as P).id) return 'ERROR EPERM';
        const old = n.perms;
        const m = clone(n);
        m.perms = op.perms.map((e) => ({ ...e }));
        this.entry(c, (old[0] as P).id, -1);
        this.entry(c, (m.perms[0] as P).id, 1);
        this.put(c, p, m);
        this.fire(c, p, m, undefined, false, old);
        return 'OK';
      }
      case 'watch': {
        const node = op.rel ? `${home}/${op.path}` : op.path;
        if (c.watches.some((w) => w.node === node && w.token === op.token)) return 'ERROR EEXIST';
        c.watches.push({ node, token: op.token, rel: op.rel ? home : undefined });
        this.event(c, `${op.rel ? op.path : node} ${op.token}`);
        return 'OK';
      }
      case 'unwatch': {
        const node = op.rel ? `${home}/${op.path}` : op.path;
        const i = c.watches.findIndex((w) => w.node === node && w.token === op.token);
        if (i < 0) return 'ERROR ENOENT';
        c.watches.splice(i, 1);
        return 'OK';
      }
      default:
        throw new Error('unreachable');
    }
  }

  start(c: MConn): string {
    const id = c.nextTx++;
    c.tx = { id, view: new Map(), check: new Map(), fire: new Map(), oldPerms: new Map(), modified: new Set(), delta: new Map(), created: false };
    this.ver++;
    return `${id}|`;
  }

  end(c: MConn, commit: boolean): string {
    const tx = c.tx as MTx;
    c.tx = undefined;
    if (!commit) return 'OK';
    if (tx.created && c.id !== 0) {
      for (const [id, d] of tx.delta) if (id !== 0 && Math.max(0, this.count(id) + d) >= this.nodeQuota) return 'ERROR ENOSPC';
    }
    for (const [p, v] of tx.check) if ((this.tree.get(p)?.ver ?? -1) !== v) return 'ERROR EAGAIN';
    for (const [p, n] of tx.view) {
      if (!tx.modified.has(p)) continue;
      if (n === undefined) this.tree.delete(p);
      else this.tree.set(p, { ...clone(n), ver: ++this.ver });
      const exact = tx.fire.get(p);
      if (exact !== undefined) this.fire(c, p, undefined, undefined, exact, tx.oldPerms.get(p));
    }
    return 'OK';
  }
}

type Op =
  | { kind: 'read' | 'dir' | 'getperms' | 'mkdir' | 'rm'; path: string }
  | { kind: 'write'; path: string; value: string }
  | { kind: 'setperms'; path: string; perms: P[] }
  | { kind: 'watch' | 'unwatch'; path: string; token: string; rel: boolean };
type Step = { who: 0 | 1 | 2; op: Op; tx: boolean } | { who: 0 | 1 | 2; op: 'start' | 'commit' | 'abort' };

const comp = fc.constantFrom('a', 'b', 'c');
const rel = fc.array(comp, { minLength: 1, maxLength: 2 }).map((a) => a.join('/'));
const absPath = fc.tuple(fc.constantFrom('/local/domain/1', '/local/domain/2', '/top', '/local/domain'), rel).map(([b, r]) => `${b}/${r}`);
const path = fc.oneof({ weight: 4, arbitrary: rel }, { weight: 2, arbitrary: absPath }, { weight: 1, arbitrary: fc.constantFrom('/local/domain/1', '/local/domain/2') });
const perm = fc.record({ l: fc.constantFrom('n', 'r', 'w', 'b') as fc.Arbitrary<P['l']>, id: fc.constantFrom(0, 1, 2, 3) });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('read', 'dir', 'getperms', 'mkdir', 'rm') as fc.Arbitrary<'read'>, path }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('write' as const), path, value: fc.constantFrom('', 'x', 'yy', 'OK') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('setperms' as const), path, perms: fc.array(perm, { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('watch', 'unwatch') as fc.Arbitrary<'watch'>, path: rel, token: fc.constantFrom('t1', 't2'), rel: fc.constant(true) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('watch', 'unwatch') as fc.Arbitrary<'watch'>, path: absPath, token: fc.constantFrom('t1', 't2'), rel: fc.constant(false) }) },
);
const who = fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>;
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 7, arbitrary: fc.record({ who, op, tx: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ who, op: fc.constantFrom('start', 'start', 'commit', 'commit', 'abort') as fc.Arbitrary<'start'> }) },
);

function payload(o: Op): Uint8Array {
  switch (o.kind) {
    case 'write':
      return concatBytes(strings(o.path), bytes(o.value));
    case 'setperms':
      return strings(o.path, ...o.perms.map((e) => `${e.l}${e.id}`));
    case 'watch':
    case 'unwatch':
      return strings(o.path, o.token);
    default:
      return strings(o.path);
  }
}
const TYPE = { read: XS_READ, dir: XS_DIRECTORY, getperms: XS_GET_PERMS, write: XS_WRITE, mkdir: XS_MKDIR, rm: XS_RM, setperms: XS_SET_PERMS, watch: XS_WATCH, unwatch: XS_UNWATCH } as const;

describe('xenstored against the reference model', () => {
  it('random operations, transactions and watches from dom0 and two domains', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 20, maxLength: 80 }), (steps) => {
        const { xs, dom } = world([1, 2], { nodes: 12 });
        // The model's /local and /local/domain: created by world() through dom0.
        const m = new Model();
        const hostEvents: string[] = [];
        xs.host.onUnclaimedEvent = (p, t) => hostEvents.push(`${p} ${t}`);
        const txOf = new Map<number, number>();
        const send = (w: 0 | 1 | 2, type: number, p: Uint8Array, txId: number): XsMessage => (w === 0 ? xs.host.request(type, p, txId) : dom.get(w)!.request(type, p, txId));
        const mc = (w: number) => m.conns[w] as (typeof m.conns)[number];
        for (const s of steps) {
          const c = mc(s.who);
          let real: string;
          let want: string;
          if (typeof s.op === 'string') {
            if (s.op === 'start') {
              if (c.tx !== undefined) continue;
              const r = send(s.who, XS_TRANSACTION_START, strings(''), 0);
              real = show(r);
              want = m.start(c);
              txOf.set(s.who, Number(real.replace('|', '')));
            } else {
              if (c.tx === undefined) continue;
              real = show(send(s.who, XS_TRANSACTION_END, strings(s.op === 'commit' ? 'T' : 'F'), txOf.get(s.who) ?? 0));
              want = m.end(c, s.op === 'commit');
            }
          } else {
            const o = s.op;
            // Host tools have no relative watches here (their home is dom0's); keep dom0 absolute.
            if (s.who === 0 && !o.path.startsWith('/')) continue;
            const inTx = s.tx && c.tx !== undefined && o.kind !== 'watch' && o.kind !== 'unwatch';
            if (!inTx && c.tx !== undefined && o.kind !== 'watch' && o.kind !== 'unwatch') {
              // An operation outside the open transaction: the model runs it without one.
              const saved = c.tx;
              c.tx = undefined;
              want = m.run(c, o);
              c.tx = saved;
            } else {
              want = m.run(c, o);
            }
            real = show(send(s.who, TYPE[o.kind], payload(o), inTx ? (txOf.get(s.who) ?? 0) : 0));
          }
          m.flush();
          expect(real, `${JSON.stringify(s)}`).toBe(want);
          // Watch events, per connection, in order.
          for (const d of [1, 2] as const) expect(dom.get(d)!.takeEvents(), `events of domain ${d} after ${JSON.stringify(s)}`).toEqual(mc(d).events.splice(0));
          expect(hostEvents.splice(0), `host events after ${JSON.stringify(s)}`).toEqual(mc(0).events.splice(0));
        }
        // The store equals the model's, node by node (values, perms, children in order).
        const walk = (p: string): void => {
          const n = m.tree.get(p)!;
          const rec = xs.daemon.store.peek(p);
          expect(rec, p).toBeDefined();
          expect(new TextDecoder().decode(rec!.value), p).toBe(n.value);
          expect(rec!.perms.map((e) => `${['n', 'r', 'w', 'b'][e.perms & 3]}${e.id}`), p).toEqual(n.perms.map((e) => `${e.l}${e.id}`));
          expect([...rec!.children], p).toEqual(n.children);
          for (const ch of n.children) walk(p === '/' ? `/${ch}` : `${p}/${ch}`);
        };
        walk('/');
        expect(xs.daemon.store.size()).toBe(m.tree.size);
        expect(xs.daemon.diagnostics).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
