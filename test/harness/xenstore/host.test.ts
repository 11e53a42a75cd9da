import { describe, expect, it } from 'vitest';
import { XenStore, XenStoreError } from '../../../harness/xenstore/host.js';

describe('XenStore host API', () => {
  it('writes, reads, lists, removes; absent nodes read as undefined', () => {
    const xs = new XenStore();
    const h = xs.host;
    expect(h.directory('/')).toEqual(['tool']);
    h.write('/local/domain/1/name', 'guest');
    expect(h.read('/local/domain/1/name')).toBe('guest');
    expect(h.read('/local/domain/1')).toBe('');
    expect(h.directory('/local/domain')).toEqual(['1']);
    expect(h.read('/nope')).toBeUndefined();
    expect(h.directory('/nope')).toBeUndefined();
    h.mkdir('/local/domain/1/data');
    expect(h.directory('/local/domain/1')).toEqual(['name', 'data']);
    h.rm('/local/domain/1');
    expect(h.directory('/local/domain')).toEqual([]);
    h.rm('/local/domain/9'); // absent with a parent: fine
    expect(() => h.rm('/x/y')).toThrow(XenStoreError);
    expect(() => h.write('bad//path', 'v')).toThrowError(/EINVAL/);
  });

  it('permissions: inherited by new children, set and read back', () => {
    const xs = new XenStore({ domainExists: (d) => d <= 3 });
    const h = xs.host;
    h.mkdir('/local/domain/1');
    h.setPerms('/local/domain/1', ['n0', 'r1']);
    h.write('/local/domain/1/a/b', 'x');
    expect(h.getPerms('/local/domain/1/a/b')).toEqual(['n0', 'r1']);
    expect(h.getPerms('/')).toEqual(['n0']);
  });

  it('watches fire synchronously: initial event, then changes below the path', () => {
    const xs = new XenStore();
    const seen: string[] = [];
    const be = xs.connect();
    be.watch('/local/domain/1/device', 'tok', (p, t) => seen.push(`${p} ${t}`));
    expect(seen).toEqual(['/local/domain/1/device tok']);
    xs.host.write('/local/domain/1/device/vbd/51712/state', '1');
    expect(seen.slice(1)).toEqual(['/local/domain/1/device/vbd/51712/state tok']);
    xs.host.write('/local/domain/1/other', '1');
    expect(seen.length).toBe(2);
    be.unwatch('/local/domain/1/device', 'tok');
    xs.host.write('/local/domain/1/device/x', '1');
    expect(seen.length).toBe(2);
  });

  it('a callback may write, and its own events follow in order', () => {
    const xs = new XenStore();
    const seen: string[] = [];
    const be = xs.connect();
    be.watch('/a', 'a', (p) => {
      seen.push(p);
      if (p === '/a/state') be.write('/a/ack', 'yes');
    });
    xs.host.write('/a/state', '4');
    expect(seen).toEqual(['/a', '/a/state', '/a/ack']);
  });

  it('transactions commit atomically and retry on EAGAIN', () => {
    const xs = new XenStore();
    const h = xs.host;
    h.write('/counter', '0');
    let runs = 0;
    h.transaction((t) => {
      runs++;
      const v = Number(t.read('/counter'));
      if (runs === 1) xs.connect().write('/counter', '100'); // conflicting change
      t.write('/counter', String(v + 1));
    });
    expect(runs).toBe(2);
    expect(h.read('/counter')).toBe('101');
  });
});
