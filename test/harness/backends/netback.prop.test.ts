/**
 * netback against random frontends (seeded; the run's seed is printed first): any sequence of
 * tx slots (valid and bogus grants, offsets past the page, any flags, extra-info slots of any
 * type, any sizes) and any mix of rx buffers (good and bad grants) with frames of any size never
 * throws in the host; unless the tx ring was halted every slot gets exactly one response with
 * its id; every frame sent respects the limits; no data grant stays mapped.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NETIF_RSP_ERROR, NETIF_RSP_NULL, NETIF_RSP_OKAY } from '../../../abi/public/io/netif.js';
import { ETH_HLEN, Netback, type NetFrame } from '../../../harness/backends/netback.js';
import { blkWorld } from './blkfront.js';
import { TestNetfront } from './netfront.js';

const txSlot = fc.oneof(
  fc.record({ kind: fc.constant('req' as const), g: fc.integer({ min: 0, max: 5 }), offset: fc.integer({ min: 0, max: 4200 }), flags: fc.integer({ min: 0, max: 15 }), size: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 0xffff })) }),
  fc.record({ kind: fc.constant('extra' as const), type: fc.integer({ min: 0, max: 6 }), more: fc.boolean(), u: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }) }),
);

describe('netback properties', () => {
  it('random tx slots: no throw, one response per slot unless halted, frames within limits, grants released', () => {
    fc.assert(
      fc.property(fc.array(txSlot, { maxLength: 60 }), (slots) => {
        const w = blkWorld();
        const f = new TestNetfront(w);
        const sent: NetFrame[] = [];
        const be = new Netback({ events: w.xen.events, grants: w.hub, frontend: 1, transmit: (x) => sent.push(x) });
        expect(be.connect(f.connection())).toBeUndefined();
        const refs = [0, 1, 2, 3].map(() => f.grant(f.allocPfn(), true));
        refs.push(9999, f.txRef); // a bogus ref, and the ring page itself
        const ids: (number | undefined)[] = [];
        slots.forEach((s, i) => {
          if (s.kind === 'req') {
            f.rawTx(refs[s.g]!, s.offset, s.flags, i, s.size);
            ids.push(i);
          } else {
            f.rawExtra(s.type, s.more, s.u);
            ids.push(undefined);
          }
        });
        f.pushTx();
        const rs = f.txResponses();
        if (be.broken === undefined) expect(rs).toHaveLength(slots.length);
        else expect(rs.length).toBeLessThanOrEqual(slots.length);
        rs.forEach(([id, st], k) => {
          expect([NETIF_RSP_OKAY, NETIF_RSP_ERROR, NETIF_RSP_NULL]).toContain(st);
          if (ids[k] !== undefined) expect(id).toBe(ids[k]);
        });
        for (const x of sent) {
          expect(x.data.length).toBeGreaterThanOrEqual(ETH_HLEN);
          expect(x.data.length).toBeLessThanOrEqual(0xffff);
        }
        expect(sent.length).toBe(be.stats.txPackets);
        expect(w.hub.mappings().filter((m) => m.mapper === 0)).toHaveLength(2);
        be.disconnect();
        expect(w.hub.mappings().filter((m) => m.mapper === 0)).toHaveLength(0);
      }),
    );
  });

  it('random rx buffers and frames: no throw, frames arrive whole and in order or as NETIF_RSP_ERROR', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('post' as const), n: fc.integer({ min: 1, max: 4 }), bad: fc.boolean() }),
      fc.record({ kind: fc.constant('frame' as const), len: fc.oneof(fc.integer({ min: 14, max: 1514 }), fc.integer({ min: 1, max: 13000 })), sg: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.boolean(), fc.array(op, { maxLength: 30 }), (sg, ops) => {
        const w = blkWorld();
        const f = new TestNetfront(w);
        const be = new Netback({ events: w.xen.events, grants: w.hub, frontend: 1 });
        expect(be.connect(f.connection({ sg }))).toBeUndefined();
        let posted = 0;
        let seq = 0;
        for (const o of ops) {
          if (o.kind === 'post') {
            if (posted + o.n > 120) continue; // the test domain's pages
            posted += o.n;
            f.postRx(o.n, o.bad ? 9999 : undefined);
          } else {
            const data = new Uint8Array(o.len).map((_, i) => (i + seq) & 255);
            data[0] = seq++ & 255;
            be.deliver({ data });
          }
        }
        const rs = f.rxResponses();
        // Reassemble: a frame is its slots up to one without more_data.
        let cur: number[] = [];
        let last = -1;
        for (const r of rs) {
          if (r.status < 0) {
            expect(r.status).toBe(NETIF_RSP_ERROR);
            cur = [];
            continue;
          }
          cur.push(...f.rxData(r));
          if ((r.flags & 4) === 0) {
            const n = cur[0]!;
            expect(n).not.toBe(last); // frames in order, none twice (seq < 256 here)
            last = n;
            cur.forEach((b, i) => i > 0 && expect(b).toBe((i + n) & 255));
            cur = [];
          }
        }
        expect(be.stats.rxPackets + be.stats.rxErrors + be.stats.rxDropped + be.rxQueued).toBe(seq);
        expect(w.hub.mappings().filter((m) => m.mapper === 0)).toHaveLength(2);
      }),
    );
  });
});
