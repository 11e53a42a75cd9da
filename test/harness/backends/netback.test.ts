/**
 * netback (harness/backends/netback.ts) driven by a small netfront in a real domain: transmit
 * with fragments, extra info and checksum flags; receive by rx-copy, split over pages with
 * feature-sg, queued until buffers are posted; hostile frontends get NETIF_RSP_ERROR or a halted
 * ring with a diagnostic, never a host exception.
 */
import { describe, expect, it } from 'vitest';
import {
  NETIF_RSP_ERROR,
  NETIF_RSP_NULL,
  NETIF_RSP_OKAY,
  NETRXF_csum_blank,
  NETRXF_data_validated,
  NETRXF_more_data,
  NETTXF_csum_blank,
  NETTXF_more_data,
  XEN_NETIF_EXTRA_TYPE_GSO,
  XEN_NETIF_GSO_TYPE_TCPV4,
} from '../../../abi/public/io/netif.js';
import { Netback, type NetFrame, type NetifConnection } from '../../../harness/backends/netback.js';
import { blkWorld } from './blkfront.js';
import { TestNetfront } from './netfront.js';

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

function setup(conn: Partial<NetifConnection> = {}) {
  const w = blkWorld();
  const f = new TestNetfront(w);
  const sent: NetFrame[] = [];
  const log: string[] = [];
  const be = new Netback({ events: w.xen.events, grants: w.hub, frontend: 1, devid: 0, transmit: (fr) => sent.push(fr), log: (l) => log.push(l) });
  const err = be.connect(f.connection(conn));
  if (err !== undefined) throw new Error(err);
  const hostMaps = () => w.hub.mappings().filter((m) => m.mapper === 0).length;
  return { w, f, be, sent, log, hostMaps };
}

describe('netback transmit', () => {
  it('sends a one-slot frame and answers NETIF_RSP_OKAY with its id', () => {
    const { f, be, sent, hostMaps } = setup();
    const data = bytes(60, 1);
    const ids = f.queuePacket([{ data, offset: 100 }]);
    f.pushTx();
    expect(f.txResponses()).toEqual([[ids[0], NETIF_RSP_OKAY]]);
    expect(sent).toHaveLength(1);
    expect(Array.from(sent[0]!.data)).toEqual(Array.from(data));
    expect(sent[0]!.csumBlank).toBe(false);
    expect(be.stats.txPackets).toBe(1);
    expect(hostMaps()).toBe(2); // the two rings only
  });

  it('joins fragments, passes csum_blank and a GSO extra (answered NETIF_RSP_NULL)', () => {
    const { f, sent } = setup();
    const a = bytes(1000, 2);
    const b = bytes(4096, 3);
    const c = bytes(17, 4);
    const ids = f.queuePacket([{ data: a, offset: 3000 }, { data: b }, { data: c, offset: 4000 }], NETTXF_csum_blank, [
      { type: XEN_NETIF_EXTRA_TYPE_GSO, u: [0xb4, 0x05, XEN_NETIF_GSO_TYPE_TCPV4, 0, 0, 0] },
    ]);
    f.pushTx();
    const rs = f.txResponses();
    expect(rs.map((r) => r[1])).toEqual([NETIF_RSP_OKAY, NETIF_RSP_NULL, NETIF_RSP_OKAY, NETIF_RSP_OKAY]);
    expect([rs[0]![0], rs[2]![0], rs[3]![0]]).toEqual(ids);
    expect(sent).toHaveLength(1);
    const want = new Uint8Array([...a, ...b, ...c]);
    expect(Buffer.from(sent[0]!.data).equals(Buffer.from(want))).toBe(true);
    expect(sent[0]!.csumBlank).toBe(true);
    expect(sent[0]!.dataValidated).toBe(true);
    expect(sent[0]!.gso).toEqual({ size: 1460, type: XEN_NETIF_GSO_TYPE_TCPV4 });
  });

  it('several packets in one push come out in order', () => {
    const { f, sent } = setup();
    for (let i = 0; i < 5; i++) f.queuePacket([{ data: bytes(64 + i, i) }]);
    f.pushTx();
    expect(f.txResponses().map((r) => r[1])).toEqual([0, 0, 0, 0, 0]);
    expect(sent.map((s) => s.data.length)).toEqual([64, 65, 66, 67, 68]);
  });
});

describe('netback receive', () => {
  it('copies a frame into a posted buffer with the sender\'s checksum flags', () => {
    const { f, be } = setup();
    f.postRx(4);
    const data = bytes(300, 5);
    be.deliver({ data, csumBlank: true, dataValidated: true });
    const [r, ...more] = f.rxResponses();
    expect(more).toHaveLength(0);
    expect([r!.status, r!.offset, r!.flags]).toEqual([300, 0, NETRXF_csum_blank | NETRXF_data_validated]);
    expect(Array.from(f.rxData(r!))).toEqual(Array.from(data));
  });

  it('queues frames until buffers are posted, then splits a large one over pages (feature-sg)', () => {
    const { f, be } = setup();
    const big = bytes(9000, 6);
    be.deliver({ data: big });
    expect(be.rxQueued).toBe(1);
    f.postRx(2);
    expect(f.rxResponses()).toHaveLength(0); // needs 3 slots
    f.postRx(1);
    const rs = f.rxResponses();
    expect(rs.map((r) => [r.status, r.flags])).toEqual([
      [4096, NETRXF_more_data],
      [4096, NETRXF_more_data],
      [808, 0],
    ]);
    const got = new Uint8Array(rs.flatMap((r) => Array.from(f.rxData(r))));
    expect(Buffer.from(got).equals(Buffer.from(big))).toBe(true);
    expect(be.rxQueued).toBe(0);
  });

  it('without feature-sg a multi-page frame is dropped with a diagnostic', () => {
    const { f, be, log } = setup({ sg: false });
    f.postRx(4);
    be.deliver({ data: bytes(5000, 7) });
    be.deliver({ data: bytes(100, 8) });
    expect(f.rxResponses().map((r) => r.status)).toEqual([100]);
    expect(be.stats.rxDropped).toBe(1);
    expect(log.some((l) => l.includes('without feature-sg'))).toBe(true);
  });
});

describe('netback against a hostile frontend', () => {
  it('refuses a frontend without request-rx-copy and a bad ring ref, leaving nothing mapped', () => {
    const w = blkWorld();
    const f = new TestNetfront(w);
    const be = new Netback({ events: w.xen.events, grants: w.hub, frontend: 1 });
    expect(be.connect(f.connection({ requestRxCopy: false }))).toMatch(/request-rx-copy/);
    expect(be.connect(f.connection({ rxRingRef: 4000 }))).toMatch(/rx-ring-ref 4000/);
    expect(w.hub.mappings().filter((m) => m.mapper === 0)).toHaveLength(0);
    expect(be.connected).toBe(false);
  });

  it('a bad tx grant, a fragment crossing its page, too many slots, a runt: NETIF_RSP_ERROR, nothing sent', () => {
    const { f, be, sent, log, hostMaps } = setup();
    f.queuePacket([{ data: bytes(60, 1), gref: 9999 }]);
    f.queuePacket([{ data: bytes(200, 1), offset: 4000 }]);
    f.queuePacket(Array.from({ length: 19 }, (_, i) => ({ data: bytes(10, i) })));
    f.queuePacket([{ data: bytes(10, 1) }]);
    f.pushTx();
    const rs = f.txResponses();
    expect(rs).toHaveLength(1 + 1 + 19 + 1);
    expect(rs.every((r) => r[1] === NETIF_RSP_ERROR)).toBe(true);
    expect(sent).toHaveLength(0);
    expect(be.stats.txErrors).toBe(4);
    expect(log.join('\n')).toMatch(/does not map[\s\S]*crosses its page[\s\S]*19 slots[\s\S]*frame of 10 bytes/);
    expect(hostMaps()).toBe(2);
    // The ring still works afterwards.
    f.queuePacket([{ data: bytes(60, 9) }]);
    f.pushTx();
    expect(f.txResponses()).toHaveLength(1);
    expect(sent).toHaveLength(1);
  });

  it('fragments past req_prod, or req_prod beyond the ring, halt the tx ring with a diagnostic', () => {
    const a = setup();
    a.f.rawTx(a.f.grant(a.f.allocPfn()), 0, NETTXF_more_data, 1, 100);
    a.f.pushTx();
    expect(a.be.broken).toMatch(/fragments past req_prod: tx ring halted/);
    expect(a.f.txResponses()).toHaveLength(0);
    const b = setup();
    b.f.pushTx(100000);
    expect(b.be.broken).toMatch(/bogus tx ring requests/);
    expect(b.sent).toHaveLength(0);
  });

  it('a bad rx grant gives NETIF_RSP_ERROR for that frame; the next buffer works', () => {
    const { f, be, log } = setup();
    f.postRx(1, 7777);
    be.deliver({ data: bytes(80, 1) });
    f.postRx(1);
    be.deliver({ data: bytes(81, 2) });
    expect(f.rxResponses().map((r) => r.status)).toEqual([NETIF_RSP_ERROR, 81]);
    expect(be.stats.rxErrors).toBe(1);
    expect(log.some((l) => l.includes('rx grant 7777'))).toBe(true);
  });

  it('disconnect unmaps and unbinds everything', () => {
    const { be, hostMaps } = setup();
    be.disconnect();
    expect(hostMaps()).toBe(0);
    expect(be.connected).toBe(false);
  });
});
