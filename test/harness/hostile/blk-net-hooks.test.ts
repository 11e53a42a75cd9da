/**
 * The block and network fault hooks (harness/hostile/blk.ts, net.ts, hold.ts) over synthetic
 * responses and a hand-driven guest clock: what each fault kind does to when, how and in which
 * order responses are published. The guests' side is test/conformance/hostile-grub.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { BLKIF_RSP_EOPNOTSUPP, BLKIF_RSP_ERROR } from '../../../abi/public/io/blkif.js';
import { NETIF_RSP_DROPPED } from '../../../abi/public/io/netif.js';
import { blkHooks, UNKNOWN_ID_LOW } from '../../../harness/hostile/blk.js';
import type { Timers } from '../../../harness/hostile/hold.js';
import { netHooks } from '../../../harness/hostile/net.js';
import { hasErrorFaults } from '../../../harness/hostile/plan.js';

/** A guest clock moved by hand; `advance` runs what fell due, earliest first. */
function clock(): Timers & { advance(ns: number): void; pending: number } {
  let now = 0;
  let seq = 0;
  const q: { at: number; seq: number; fn: () => void }[] = [];
  return {
    later(ns, fn) {
      q.push({ at: now + ns, seq: seq++, fn });
    },
    advance(ns) {
      now += ns;
      q.sort((a, b) => a.at - b.at || a.seq - b.seq);
      while (q.length > 0 && q[0]!.at <= now) q.shift()!.fn();
    },
    get pending() {
      return q.length;
    },
  };
}

/** A response of request `n`: its id in bytes 0..7, a marker in byte 8. */
const rsp = (n: number): Uint8Array => {
  const b = new Uint8Array(12);
  new DataView(b.buffer).setUint32(0, n, true);
  b[8] = n;
  return b;
};

describe('block fault hooks', () => {
  it('no fault: nothing is taken, nothing is logged', () => {
    const log: string[] = [];
    const h = blkHooks({ faults: [] }, clock(), (l) => log.push(l));
    expect(h.request(0)).toBeUndefined();
    expect(h.response({ n: 0, bytes: rsp(0), idOffset: 0 }, () => {})).toBe(false);
    expect(log).toEqual([]);
  });

  it('delay publishes the response once its guest time has passed', () => {
    const t = clock();
    const out: number[][] = [];
    const h = blkHooks({ faults: [{ kind: 'delay', req: 1, ns: 500 }] }, t, () => {});
    const pub = (r: readonly Uint8Array[]): void => void out.push(r.map((x) => x[8]!));
    expect(h.response({ n: 0, bytes: rsp(0), idOffset: 0 }, pub)).toBe(false);
    expect(h.response({ n: 1, bytes: rsp(1), idOffset: 0 }, pub)).toBe(true);
    t.advance(499);
    expect(out).toEqual([]);
    t.advance(1);
    expect(out).toEqual([[1]]);
  });

  it('batch publishes the group with one push when it is complete; reorder reverses it; a lone request is released by time', () => {
    const t = clock();
    const out: number[][] = [];
    const pub = (r: readonly Uint8Array[]): void => void out.push(r.map((x) => x[8]!));
    const b = blkHooks({ faults: [{ kind: 'batch', req: 0, count: 3, ns: 1000 }] }, t, () => {});
    for (const n of [0, 1, 2]) expect(b.response({ n, bytes: rsp(n), idOffset: 0 }, pub)).toBe(true);
    expect(out).toEqual([[0, 1, 2]]);
    t.advance(2000);
    expect(out).toEqual([[0, 1, 2]]);
    const r = blkHooks({ faults: [{ kind: 'reorder', req: 5, count: 2, ns: 1000 }] }, t, () => {});
    for (const n of [5, 6]) r.response({ n, bytes: rsp(n), idOffset: 0 }, pub);
    expect(out.at(-1)).toEqual([6, 5]);
    const lone = blkHooks({ faults: [{ kind: 'batch', req: 9, count: 4, ns: 1000 }] }, t, () => {});
    lone.response({ n: 9, bytes: rsp(9), idOffset: 0 }, pub);
    t.advance(1000);
    expect(out.at(-1)).toEqual([9]);
    // Past the group's time, later members go out at once.
    expect(lone.response({ n: 10, bytes: rsp(10), idOffset: 0 }, pub)).toBe(false);
  });

  it('error, grant-map-fail and corrupt change the answer; duplicate and unknown-id rewrite responses', () => {
    const log: string[] = [];
    const h = blkHooks(
      {
        faults: [
          { kind: 'error', req: 0, status: 'error' },
          { kind: 'error', req: 1, status: 'eopnotsupp' },
          { kind: 'grant-map-fail', req: 2, seg: 1 },
          { kind: 'corrupt', req: 3 },
          { kind: 'duplicate', req: 4 },
          { kind: 'unknown-id', req: 6 },
        ],
      },
      clock(),
      (l) => log.push(l),
    );
    expect([0, 1, 2, 3, 7].map((n) => h.request(n))).toEqual([{ status: BLKIF_RSP_ERROR }, { status: BLKIF_RSP_EOPNOTSUPP }, { failMapSeg: 1 }, { corrupt: true }, undefined]);
    const four = rsp(4);
    const five = rsp(5);
    h.response({ n: 4, bytes: four, idOffset: 0 }, () => {});
    h.response({ n: 5, bytes: five, idOffset: 0 }, () => {});
    expect([...five]).toEqual([...four]);
    const six = rsp(6);
    h.response({ n: 6, bytes: six, idOffset: 0 }, () => {});
    expect(new DataView(six.buffer).getUint32(0, true)).toBe(UNKNOWN_ID_LOW);
    expect(new DataView(six.buffer).getUint32(4, true)).toBe(0);
    expect(log).toHaveLength(6);
  });

  it('error-class plans are told apart; corrupt is not one (the backend claims success)', () => {
    expect(hasErrorFaults({ blk: { faults: [{ kind: 'delay', req: 0, ns: 1 }] } })).toBe(false);
    expect(hasErrorFaults({ blk: { faults: [{ kind: 'corrupt', req: 0 }] } })).toBe(false);
    expect(hasErrorFaults({ blk: { faults: [{ kind: 'unknown-id', req: 0 }] } })).toBe(true);
    expect(hasErrorFaults({ net: { faults: [{ kind: 'rx-copy-fail', pkt: 0 }] } })).toBe(true);
  });
});

describe('network fault hooks', () => {
  it('tx status, tx timing, and rx delay, duplicate, error and copy failure', () => {
    const t = clock();
    const h = netHooks(
      {
        faults: [
          { kind: 'tx-status', req: 1, status: 'dropped' },
          { kind: 'tx-delay', req: 2, ns: 100 },
          { kind: 'rx-delay', pkt: 0, ns: 50 },
          { kind: 'rx-duplicate', pkt: 1 },
          { kind: 'rx-error', pkt: 2 },
          { kind: 'rx-copy-fail', pkt: 3 },
        ],
      },
      t,
      () => {},
    );
    expect([0, 1].map((n) => h.txPacket(n))).toEqual([undefined, NETIF_RSP_DROPPED]);
    const tx: number[] = [];
    expect(h.txResponse(2, [rsp(2)], (r) => tx.push(...r.map((x) => x[8]!)))).toBe(true);
    expect(h.txResponse(3, [rsp(3)], () => {})).toBe(false);
    t.advance(100);
    expect(tx).toEqual([2]);
    const got: [number, string | undefined][] = [];
    const deliver = (f: { data: Uint8Array }, fault?: string): void => void got.push([f.data[0]!, fault]);
    const frame = (n: number) => ({ data: Uint8Array.of(n) });
    expect(h.rxFrame(0, frame(0), deliver)).toBe(true);
    expect(got).toEqual([]);
    t.advance(50);
    for (const n of [1, 2, 3]) expect(h.rxFrame(n, frame(n), deliver)).toBe(true);
    expect(h.rxFrame(4, frame(4), deliver)).toBe(false);
    expect(got).toEqual([[0, undefined], [1, undefined], [1, undefined], [2, 'error'], [3, 'copy-fail']]);
  });
});
