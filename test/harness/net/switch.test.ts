/** The L2 switch (harness/net/switch.ts): learning, flooding, deterministic order, cascades, bounds. */
import { describe, expect, it } from 'vitest';
import type { NetFrame } from '../../../harness/backends/netback.js';
import { MAX_CASCADE, MAX_MACS, Switch } from '../../../harness/net/switch.js';
import { eth } from './frames.js';

const A = '00:16:3e:00:00:0a';
const B = '00:16:3e:00:00:0b';
const C = '00:16:3e:00:00:0c';

function rig() {
  const sw = new Switch();
  const got: [string, NetFrame][] = [];
  const ports = ['a', 'b', 'c'].map((n) => sw.attach(n, (f) => got.push([n, f])));
  return { sw, got, a: ports[0]!, b: ports[1]!, c: ports[2]! };
}

describe('L2 switch', () => {
  it('floods unknown and broadcast destinations in port order, then forwards to the learnt port', () => {
    const { sw, got, a, b } = rig();
    sw.send(a, { data: eth(B, A) });
    expect(got.map((g) => g[0])).toEqual(['b', 'c']);
    got.length = 0;
    sw.send(b, { data: eth(A, B) }); // A was learnt on port a
    expect(got.map((g) => g[0])).toEqual(['a']);
    got.length = 0;
    sw.send(a, { data: eth('ff:ff:ff:ff:ff:ff', A) });
    expect(got.map((g) => g[0])).toEqual(['b', 'c']);
    expect(sw.lookup(A)).toBe(a.id);
    expect(sw.stats).toMatchObject({ forwarded: 1, flooded: 2 });
  });

  it('a MAC moving port is relearnt; a frame for the sender\'s own port is dropped; runts dropped', () => {
    const { sw, got, a, b, c } = rig();
    sw.send(a, { data: eth(C, A) });
    sw.send(b, { data: eth(C, A) }); // A moved to b
    expect(sw.lookup(A)).toBe(b.id);
    got.length = 0;
    sw.send(c, { data: eth(A, C) });
    expect(got.map((g) => g[0])).toEqual(['b']);
    got.length = 0;
    sw.send(b, { data: eth(A, B) }); // A lives on b: not echoed back
    expect(got).toHaveLength(0);
    sw.send(a, { data: new Uint8Array(10) });
    expect(sw.stats.dropped).toBe(2);
  });

  it('a multicast source is not learnt; the table is bounded', () => {
    const { sw, a, b } = rig();
    sw.send(a, { data: eth(B, '01:00:5e:00:00:01') });
    expect(sw.lookup('01:00:5e:00:00:01')).toBeUndefined();
    for (let i = 0; i < MAX_MACS + 5; i++) {
      const mac = `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      sw.send(b, { data: eth(A, mac) });
    }
    expect(sw.lookup('02:00:00:00:00:00')).toBeUndefined(); // the oldest went
    expect(sw.lookup('02:00:00:00:04:04')).toBe(b.id);
  });

  it('replies sent from inside a delivery are queued and delivered after it, breadth-first', () => {
    const sw = new Switch();
    const order: string[] = [];
    const p1 = sw.attach('one', (f) => {
      order.push(`one:${f.data[14]}`);
      if (f.data[14] === 1) sw.send(p1, { data: eth(B, A, 0x88b5, [2]) });
    });
    sw.attach('two', (f) => order.push(`two:${f.data[14]}`));
    const p3 = sw.attach('three', (f) => order.push(`three:${f.data[14]}`));
    sw.send(p3, { data: eth('ff:ff:ff:ff:ff:ff', C, 0x88b5, [1]) });
    expect(order).toEqual(['one:1', 'two:1', 'two:2', 'three:2']);
  });

  it('an endless ping-pong is cut after MAX_CASCADE frames', () => {
    const sw = new Switch();
    const p1 = sw.attach('one', (f) => sw.send(p1, f));
    const p2 = sw.attach('two', (f) => sw.send(p2, f));
    sw.send(p1, { data: eth('ff:ff:ff:ff:ff:ff', A) });
    expect(sw.stats.cut).toBeGreaterThan(0);
    expect(sw.stats.flooded + sw.stats.forwarded).toBe(MAX_CASCADE);
  });

  it('a detached port gets nothing and its MACs are forgotten', () => {
    const { sw, got, a, b } = rig();
    sw.send(a, { data: eth(B, A) });
    sw.detach(a);
    expect(sw.lookup(A)).toBeUndefined();
    got.length = 0;
    sw.send(b, { data: eth(A, B) });
    expect(got.map((g) => g[0])).toEqual(['c']);
  });
});
