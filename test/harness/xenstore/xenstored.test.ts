/**
 * xenstored's operations one by one, from domains over (pipe) rings and from host tools, with the
 * replies and errors C xenstored 4.17 gives: permissions, implicit parents, RM, DIRECTORY_PART,
 * transactions, watches (incl. special ones), quotas, domain management, CONTROL and malformed
 * messages.
 */
import { describe, expect, it } from 'vitest';
import {
  XS_CONTROL,
  XS_DIRECTORY,
  XS_DIRECTORY_PART,
  XS_GET_DOMAIN_PATH,
  XS_GET_PERMS,
  XS_INTRODUCE,
  XS_IS_DOMAIN_INTRODUCED,
  XS_MKDIR,
  XS_READ,
  XS_RESET_WATCHES,
  XS_RM,
  XS_SET_PERMS,
  XS_TRANSACTION_END,
  XS_TRANSACTION_START,
  XS_UNWATCH,
  XS_WATCH,
  XS_WATCH_EVENT,
  XS_WRITE,
  encodeMessage,
  strings,
} from '../../../harness/xenstore/wire.js';
import { DomClient, PipeTransport, show, world, z } from './helpers.js';

describe('xenstored: nodes and permissions', () => {
  it('a domain writes below its home (relative or absolute) and owns what it creates', () => {
    const { xs, dom } = world([1]);
    const d1 = dom.get(1)!;
    expect(d1.ask(XS_WRITE, 'data/a/b\0', 'hello')).toBe('OK');
    expect(d1.ask(XS_READ, z('/local/domain/1/data/a/b'))).toBe('hello');
    expect(d1.ask(XS_GET_PERMS, z('data/a'))).toBe('n1|');
    expect(xs.host.directory('/local/domain/1')).toEqual(['data']);
    expect(d1.ask(XS_WRITE, 'data/a/b\0', '')).toBe('OK');
    expect(d1.ask(XS_READ, z('data/a/b'))).toBe('');
  });

  it('EACCES for nodes it may not see; ENOENT only where the nearest parent is readable', () => {
    const { xs, dom } = world([1, 2]);
    const d1 = dom.get(1)!;
    xs.host.write('/local/domain/2/secret', 'x');
    expect(d1.ask(XS_READ, z('/local/domain/2/secret'))).toBe('ERROR EACCES');
    expect(d1.ask(XS_READ, z('/local/domain/2/absent'))).toBe('ERROR EACCES');
    expect(d1.ask(XS_READ, z('/local/domain/1/absent'))).toBe('ERROR ENOENT');
    expect(d1.ask(XS_WRITE, '/local/domain/2/x\0', 'v')).toBe('ERROR EACCES');
    expect(d1.ask(XS_WRITE, '/top\0', 'v')).toBe('ERROR EACCES'); // root is n0
    xs.host.setPerms('/local/domain/2/secret', ['n2', 'r1']);
    expect(d1.ask(XS_READ, z('/local/domain/2/secret'))).toBe('x');
    expect(d1.ask(XS_WRITE, '/local/domain/2/secret\0', 'y')).toBe('ERROR EACCES');
    xs.host.setPerms('/local/domain/2/secret', ['r2']); // default: everyone reads
    expect(d1.ask(XS_READ, z('/local/domain/2/secret'))).toBe('x');
  });

  it('SET_PERMS: owner may change the list but not the owner (EPERM); others EACCES; 5 entries max', () => {
    const { xs, dom } = world([1, 2]);
    const [d1, d2] = [dom.get(1)!, dom.get(2)!];
    d1.ask(XS_WRITE, 'n\0', 'v');
    expect(d1.ask(XS_SET_PERMS, z('n', 'n1', 'r2'))).toBe('OK');
    expect(d2.ask(XS_READ, z('/local/domain/1/n'))).toBe('v');
    expect(d1.ask(XS_SET_PERMS, z('n', 'n2'))).toBe('ERROR EPERM');
    expect(d2.ask(XS_SET_PERMS, z('/local/domain/1/n', 'b2'))).toBe('ERROR EACCES');
    expect(d1.ask(XS_SET_PERMS, z('n', 'n1', 'r2', 'r0', 'r3', 'r4', 'r5'))).toBe('ERROR ENOSPC');
    expect(d1.ask(XS_SET_PERMS, z('n', 'x1'))).toBe('ERROR EINVAL');
    expect(d1.ask(XS_SET_PERMS, z('n'))).toBe('ERROR EINVAL');
    xs.host.setPerms('/local/domain/1/n', ['b2']);
    expect(xs.host.getPerms('/local/domain/1/n')).toEqual(['b2']);
    expect(() => xs.host.setPerms('/local/domain/1/n', ['n77'])).toThrowError(/ENOENT/); // no such owner
  });

  it('MKDIR keeps an existing value; RM removes subtrees, is fine for an absent node with a parent', () => {
    const { dom } = world([1]);
    const d1 = dom.get(1)!;
    d1.ask(XS_WRITE, 'a/b/c\0', '1');
    d1.ask(XS_WRITE, 'a\0', 'keep');
    expect(d1.ask(XS_MKDIR, z('a'))).toBe('OK');
    expect(d1.ask(XS_READ, z('a'))).toBe('keep');
    expect(d1.ask(XS_RM, z('a/b'))).toBe('OK');
    expect(d1.ask(XS_DIRECTORY, z('a'))).toBe('');
    expect(d1.ask(XS_RM, z('a/zz'))).toBe('OK');
    expect(d1.ask(XS_RM, z('a/zz/yy'))).toBe('ERROR ENOENT');
    expect(d1.ask(XS_RM, z('/'))).toBe('ERROR EACCES');
  });

  it('bad paths and payloads: EINVAL', () => {
    const { xs, dom } = world([1]);
    const d1 = dom.get(1)!;
    for (const p of ['a//b', 'a/', '/local/domain/1/sp ace', '']) expect(d1.ask(XS_READ, z(p))).toBe('ERROR EINVAL');
    expect(d1.ask(XS_READ, 'no-nul')).toBe('ERROR EINVAL');
    expect(d1.ask(XS_READ, z('a', 'b'))).toBe('ERROR EINVAL');
    expect(d1.ask(XS_WRITE, 'no-nul')).toBe('ERROR EINVAL');
    expect(d1.ask(XS_DIRECTORY_PART, z('a'))).toBe('ERROR EINVAL');
    // Path length: 2048 bytes beyond the domain's home (in components short enough for the
    // parents' child lists to stay under the node-size quota).
    const long = (n: number) => Array.from({ length: Math.ceil(n / 100) }, () => 'x'.repeat(99)).join('/').slice(0, n);
    expect(long(2048).length).toBe(2048);
    expect(d1.ask(XS_WRITE, `${long(2048)}\0`, 'v')).toBe('OK');
    expect(d1.ask(XS_WRITE, `${long(2049)}\0`, 'v')).toBe('ERROR EINVAL');
    // One 2048-byte name: the home's record (24 + 8 + child names) would pass 2048 bytes.
    expect(d1.ask(XS_WRITE, `${'y'.repeat(2048)}\0`, 'v')).toBe('ERROR ENOSPC');
    expect(() => xs.host.write(`/${'y'.repeat(2048)}`, 'v')).toThrowError(/EINVAL/);
  });

  it('DIRECTORY_PART: generation, names from the offset, the empty string at the end', () => {
    const { xs, dom } = world([1]);
    const d1 = dom.get(1)!;
    d1.ask(XS_WRITE, 'd/alpha\0', '');
    d1.ask(XS_WRITE, 'd/beta\0', '');
    const gen = String(xs.daemon.store.peek('/local/domain/1/d')!.generation);
    expect(d1.ask(XS_DIRECTORY_PART, z('d', '0'))).toBe(`${gen}|alpha|beta||`);
    expect(d1.ask(XS_DIRECTORY_PART, z('d', '6'))).toBe(`${gen}|beta||`);
    expect(d1.ask(XS_DIRECTORY_PART, z('d', '99'))).toBe(`${gen}||`);
    // Many children: the first part stops short of the payload limit, the rest follow.
    for (let i = 0; i < 300; i++) xs.host.write(`/big/child-number-${i}`, '');
    const first = d1.request(XS_DIRECTORY_PART, z('/big', '0'));
    expect(show(first)).toBe('ERROR EACCES');
    const all: string[] = [];
    let off = 0;
    for (;;) {
      const r = xs.host.request(XS_DIRECTORY_PART, z('/big', String(off)));
      const parts = new TextDecoder().decode(r.payload).split('\0');
      expect(r.payload.length).toBeLessThanOrEqual(4096);
      const names = parts.slice(1, -1);
      if (names.length > 0 && names[names.length - 1] === '') {
        all.push(...names.slice(0, -1));
        break;
      }
      all.push(...names);
      off += names.reduce((n, s) => n + s.length + 1, 0);
    }
    expect(all).toEqual(Array.from({ length: 300 }, (_, i) => `child-number-${i}`));
  });
});

describe('xenstored: transactions', () => {
  it('reads and writes inside see the copy; commit publishes; a conflicting write gives EAGAIN', () => {
    const { xs, dom } = world([1]);
    const d1 = dom.get(1)!;
    d1.ask(XS_WRITE, 'x\0', '1');
    const tx = Number(d1.ask(XS_TRANSACTION_START, z('')).replace('|', ''));
    expect(tx).toBe(1);
    const w = (p: string, v: string) => show(d1.request(XS_WRITE, strings(p).subarray(0, p.length + 1).length ? new Uint8Array([...strings(p), ...new TextEncoder().encode(v)]) : z(), tx));
    expect(show(d1.request(XS_READ, z('x'), tx))).toBe('1');
    expect(w('y', 'new')).toBe('OK');
    expect(d1.ask(XS_READ, z('y'))).toBe('ERROR ENOENT'); // not yet visible outside
    expect(show(d1.request(XS_READ, z('y'), tx))).toBe('new');
    expect(show(d1.request(XS_TRANSACTION_END, z('T'), tx))).toBe('OK');
    expect(d1.ask(XS_READ, z('y'))).toBe('new');
    // Conflict: another writer changes a node the transaction read.
    const tx2 = Number(d1.ask(XS_TRANSACTION_START, z('')).replace('|', ''));
    expect(show(d1.request(XS_READ, z('x'), tx2))).toBe('1');
    xs.host.write('/local/domain/1/x', '2');
    expect(w.call(null, 'z', 'v') && show(d1.request(XS_WRITE, new Uint8Array([...strings('z'), 0x76]), tx2))).toBe('OK');
    expect(show(d1.request(XS_TRANSACTION_END, z('T'), tx2))).toBe('ERROR EAGAIN');
    expect(show(d1.request(XS_READ, z('x'), tx2))).toBe('ERROR ENOENT'); // the transaction is gone
    expect(d1.ask(XS_READ, z('z'))).toBe('ERROR ENOENT');
  });

  it('errors: EBUSY for a start inside one, ENOENT for an unknown id, EINVAL for a bad end, ENOSPC over quota', () => {
    const { dom } = world([1]);
    const d1 = dom.get(1)!;
    const tx = Number(d1.ask(XS_TRANSACTION_START, z('')).replace('|', ''));
    expect(show(d1.request(XS_TRANSACTION_START, z(''), tx))).toBe('ERROR EBUSY');
    expect(show(d1.request(XS_READ, z('x'), 999))).toBe('ERROR ENOENT');
    expect(show(d1.request(XS_TRANSACTION_END, z('X'), tx))).toBe('ERROR EINVAL');
    expect(d1.ask(XS_TRANSACTION_END, z('T'))).toBe('ERROR ENOENT');
    expect(show(d1.request(XS_TRANSACTION_END, z('F'), tx))).toBe('OK');
    // Quota 10, checked as "more than 10 started": the 12th start fails.
    const got: string[] = [];
    for (let i = 0; i < 12; i++) got.push(d1.ask(XS_TRANSACTION_START, z('')));
    expect(got.slice(0, 11).every((g) => /^\d+\|$/.test(g))).toBe(true);
    expect(got[11]).toBe('ERROR ENOSPC');
  });

  it('watch events of a transaction fire only at commit, never for an abort', () => {
    const { xs, dom } = world([1]);
    const d1 = dom.get(1)!;
    const seen: string[] = [];
    xs.connect().watch('/local/domain/1', 'w', (p) => seen.push(p));
    seen.length = 0;
    const tx = Number(d1.ask(XS_TRANSACTION_START, z('')).replace('|', ''));
    d1.request(XS_WRITE, new Uint8Array([...strings('a'), 0x31]), tx);
    expect(seen).toEqual([]);
    d1.request(XS_TRANSACTION_END, z('F'), tx);
    expect(seen).toEqual([]);
    const tx2 = Number(d1.ask(XS_TRANSACTION_START, z('')).replace('|', ''));
    d1.request(XS_WRITE, new Uint8Array([...strings('a'), 0x31]), tx2);
    d1.request(XS_WRITE, new Uint8Array([...strings('b'), 0x31]), tx2);
    expect(seen).toEqual([]);
    expect(show(d1.request(XS_TRANSACTION_END, z('T'), tx2))).toBe('OK');
    // One event per written node, in order of first access (the parent's new child list is not an event).
    expect(seen).toEqual(['/local/domain/1/a', '/local/domain/1/b']);
  });
});

describe('xenstored: watches', () => {
  it('initial event, subtree events, relative paths, no events for unreadable nodes, EEXIST, UNWATCH', () => {
    const { xs, dom } = world([1, 2]);
    const [d1, d2] = [dom.get(1)!, dom.get(2)!];
    expect(d1.ask(XS_WATCH, z('device', 't'))).toBe('OK');
    expect(d1.takeEvents()).toEqual(['device t']);
    expect(d1.ask(XS_WATCH, z('device', 't'))).toBe('ERROR EEXIST');
    xs.host.write('/local/domain/1/device/vbd/1/state', '1');
    expect(d1.takeEvents()).toEqual(['device/vbd/1/state t']);
    expect(d2.ask(XS_WATCH, z('/local/domain/1', 'spy'))).toBe('OK');
    expect(d2.takeEvents()).toEqual(['/local/domain/1 spy']); // the initial event is always sent
    xs.host.write('/local/domain/1/device/vbd/1/state', '2');
    expect(d2.takeEvents()).toEqual([]); // dom2 may not read it
    expect(d1.takeEvents()).toEqual(['device/vbd/1/state t']);
    expect(d1.ask(XS_UNWATCH, z('device', 't'))).toBe('OK');
    expect(d1.ask(XS_UNWATCH, z('device', 't'))).toBe('ERROR ENOENT');
    xs.host.write('/local/domain/1/device/vbd/1/state', '3');
    expect(d1.takeEvents()).toEqual([]);
  });

  it('RM fires for the removed node, watches above it, and exact watches on removed descendants', () => {
    const { xs, dom } = world([1]);
    const d1 = dom.get(1)!;
    d1.ask(XS_WRITE, 'a/b/c\0', '');
    d1.ask(XS_WATCH, z('a', 'up'));
    d1.ask(XS_WATCH, z('a/b/c', 'deep'));
    d1.ask(XS_WATCH, z('a/b/c/d', 'absent'));
    d1.takeEvents();
    d1.ask(XS_RM, z('a/b'));
    // Descendants fire only exact watches; the removed node fires watches on it and above.
    expect(d1.takeEvents()).toEqual(['a/b/c deep', 'a/b up']);
    void xs;
  });

  it('@introduceDomain and @releaseDomain: for privileged watchers, or domains given read access', () => {
    const { xs, dom } = world([1, 2]);
    const d1 = dom.get(1)!;
    const seen: string[] = [];
    xs.connect().watch('@introduceDomain', 'i', (p) => seen.push(p));
    xs.connect().watch('@releaseDomain', 'r', (p) => seen.push(p));
    d1.ask(XS_WATCH, z('@releaseDomain', 'mine'));
    expect(d1.takeEvents()).toEqual(['@releaseDomain mine']);
    seen.length = 0;
    xs.domainShutdown(2);
    expect(seen).toEqual(['@releaseDomain']);
    expect(d1.takeEvents()).toEqual([]); // not permitted
    xs.host.setPerms('@releaseDomain', ['n0', 'r1']);
    xs.release(2);
    d1.drain();
    expect(d1.takeEvents()).toEqual(['@releaseDomain mine']);
    expect(seen).toEqual(['@releaseDomain', '@releaseDomain']);
    const t = new PipeTransport();
    xs.introduce(3, 0, 9, t);
    expect(seen).toEqual(['@releaseDomain', '@releaseDomain', '@introduceDomain']);
  });

  it('RESET_WATCHES drops watches and transactions; 129 watches then E2BIG', () => {
    const { xs, dom } = world([1]);
    const d1 = dom.get(1)!;
    const res: string[] = [];
    for (let i = 0; i < 130; i++) res.push(d1.ask(XS_WATCH, z(`w${i}`, 't')));
    expect(res.slice(0, 129).every((r) => r === 'OK')).toBe(true);
    expect(res[129]).toBe('ERROR E2BIG');
    d1.ask(XS_TRANSACTION_START, z(''));
    expect(d1.ask(XS_RESET_WATCHES, z(''))).toBe('OK');
    d1.takeEvents();
    xs.host.write('/local/domain/1/w0', 'x');
    expect(d1.takeEvents()).toEqual([]);
    expect(show(d1.request(XS_READ, z('w0'), 1))).toBe('ERROR ENOENT');
  });
});

describe('xenstored: quotas', () => {
  it('nodes per domain: ENOSPC at the quota (1000 by default; set to 5 here)', () => {
    const { xs, dom } = world([1]);
    const d1 = dom.get(1)!;
    expect(show(xs.host.request(XS_CONTROL, z('quota', 'set', 'nodes', '5')))).toBe('OK');
    // The home counts as one node of domain 1 (it owns it).
    const r: string[] = [];
    for (let i = 0; i < 6; i++) r.push(d1.ask(XS_WRITE, `n${i}\0`, ''));
    expect(r).toEqual(['OK', 'OK', 'OK', 'OK', 'ERROR ENOSPC', 'ERROR ENOSPC']);
    expect(d1.ask(XS_RM, z('n0'))).toBe('OK');
    expect(d1.ask(XS_WRITE, 'again\0', '')).toBe('OK');
  });

  it('node size: ENOSPC when the record reaches 2048 bytes; dom0 is not limited', () => {
    const { xs, dom } = world([1]);
    const d1 = dom.get(1)!;
    // Record = 24 + 8 per permission + value + children names: 24 + 8 + 2015 = 2047.
    expect(d1.ask(XS_WRITE, 'v\0', 'x'.repeat(2015))).toBe('OK');
    expect(d1.ask(XS_WRITE, 'v\0', 'x'.repeat(2016))).toBe('ERROR ENOSPC');
    xs.host.write('/local/domain/1/v', 'y'.repeat(3000));
    expect(xs.host.read('/local/domain/1/v')?.length).toBe(3000);
  });

  it('outstanding requests: a domain that reads no replies is not served beyond 20', () => {
    const { xs, dom } = world([1]);
    const d1 = dom.get(1)!;
    d1.t.capacity = 0; // the guest consumes nothing
    for (let i = 0; i < 40; i++) for (const b of encodeMessage({ type: XS_GET_DOMAIN_PATH, reqId: i + 1, txId: 0, payload: z('1') })) d1.t.req.push(b);
    xs.pump();
    const d = xs.daemon.store.findDomain(1)!;
    expect(d.nboutstanding).toBe(20);
    expect(d1.t.req.length).toBe(20 * 18);
    d1.t.capacity = 1024;
    xs.pump();
    d1.drain();
    expect(d1.replies.map((r) => r.reqId)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(d.nboutstanding).toBe(0);
  });
});

describe('xenstored: domains, CONTROL, malformed messages', () => {
  it('privileged operations: EACCES for a domain; GET_DOMAIN_PATH for anyone', () => {
    const { xs, dom } = world([1]);
    const d1 = dom.get(1)!;
    expect(d1.ask(XS_INTRODUCE, z('5', '1', '2'))).toBe('ERROR EACCES');
    expect(d1.ask(XS_IS_DOMAIN_INTRODUCED, z('1'))).toBe('ERROR EACCES');
    expect(d1.ask(XS_CONTROL, z('help'))).toBe('ERROR EACCES');
    expect(d1.ask(XS_GET_DOMAIN_PATH, z('7'))).toBe('/local/domain/7|');
    expect(show(xs.host.request(XS_IS_DOMAIN_INTRODUCED, z('1')))).toBe('T|');
    expect(show(xs.host.request(XS_IS_DOMAIN_INTRODUCED, z('4')))).toBe('F|');
    expect(show(xs.host.request(XS_INTRODUCE, z('4', '1')))).toBe('ERROR EINVAL');
    expect(show(xs.host.request(XS_INTRODUCE, z('4', '1', '0')))).toBe('ERROR EINVAL');
  });

  it('RELEASE: the domain is forgotten and every node it owns goes', () => {
    const { xs, dom } = world([1, 2]);
    dom.get(1)!.ask(XS_WRITE, 'data/x\0', '1');
    xs.host.write('/shared/by1', 'v');
    xs.host.setPerms('/shared/by1', ['n1']);
    xs.release(1);
    expect(xs.host.read('/local/domain/1')).toBeUndefined();
    expect(xs.host.read('/shared/by1')).toBeUndefined();
    expect(xs.host.read('/shared')).toBe('');
    expect(show(xs.host.request(XS_IS_DOMAIN_INTRODUCED, z('1')))).toBe('F|');
    expect(() => xs.release(1)).toThrowError(/ENOENT/);
    expect(dom.get(2)!.ask(XS_READ, z('/local/domain/2'))).toBe('');
  });

  it('CONTROL: quota table and per-domain usage, log, help; unknown commands EINVAL', () => {
    const { xs } = world([1]);
    const c = (...a: string[]) => show(xs.host.request(XS_CONTROL, z(...a)));
    expect(c('quota')).toMatch(/^Quota settings:\nnodes {12}: {5}1000 Nodes per domain\n/);
    expect(c('quota', '1')).toMatch(/^Domain 1:\nnodes {11}: {8}1\n/);
    expect(c('quota', '9')).toBe('ERROR ENOENT');
    expect(c('log', 'on')).toBe('OK');
    expect(c('log', 'maybe')).toBe('ERROR EINVAL');
    expect(c('help')).toContain('quota\t[set <name> <val>|<domid>]');
    expect(c('live-update')).toBe('ERROR EINVAL');
    expect(c('check')).toBe('OK');
  });

  it('unknown or server-only types: ENOSYS; the reply echoes req_id and tx_id', () => {
    const { dom } = world([1]);
    const d1 = dom.get(1)!;
    for (const t of [XS_WATCH_EVENT, 16, 20, 23, 0xffff, 0x12345678]) expect(d1.ask(t, z('x'))).toBe('ERROR ENOSYS');
    d1.sendRaw(encodeMessage({ type: XS_GET_DOMAIN_PATH, reqId: 0xdeadbeef, txId: 0, payload: z('1') }));
    const r = d1.replies.pop()!;
    expect([r.reqId, r.txId, show(r)]).toEqual([0xdeadbeef, 0, '/local/domain/1|']);
    // An unknown transaction id: ENOENT, the header echoed.
    d1.sendRaw(encodeMessage({ type: XS_GET_DOMAIN_PATH, reqId: 0xfeed, txId: 77, payload: z('1') }));
    const e = d1.replies.pop()!;
    expect([e.reqId, e.txId, show(e)]).toEqual([0xfeed, 77, 'ERROR ENOENT']);
  });

  it('a message split byte by byte is served once complete', () => {
    const { dom } = world([1]);
    const d1 = dom.get(1)!;
    const m = encodeMessage({ type: XS_GET_DOMAIN_PATH, reqId: 5, txId: 0, payload: z('1') });
    for (const b of m) d1.sendRaw(new Uint8Array([b]));
    expect(d1.replies.map(show)).toEqual(['/local/domain/1|']);
    void DomClient;
  });
});

describe('xenstored: event queueing', () => {
  it('an event identical to one still queued is not queued again (special events excepted)', () => {
    const { xs, dom } = world([1]);
    const d1 = dom.get(1)!;
    d1.ask(XS_WATCH, z('a', 't'));
    d1.ask(XS_WATCH, z('a/b', 't'));
    d1.takeEvents();
    d1.ask(XS_WRITE, 'a/b/c\0', '1'); // matches both watches with the same path and token
    expect(d1.takeEvents()).toEqual(['a/b/c t']);
    // While the guest does not consume, repeated changes collapse into the queued event.
    d1.t.capacity = 0;
    for (let i = 0; i < 3; i++) xs.host.write('/local/domain/1/a/b/c', String(i));
    d1.t.capacity = 1024;
    xs.pump();
    expect(d1.takeEvents()).toEqual(['a/b/c t']);
  });
});
