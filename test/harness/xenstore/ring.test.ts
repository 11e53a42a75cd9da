/**
 * The XenStore ring transport (harness/xenstore/ring.ts) against a guest that produces requests
 * and consumes replies in its page and notifies with real EVTCHNOP_send hypercalls: messages
 * split across notifications and across the ring's wrap, replies larger than the free space
 * written as the guest consumes, watch events, and a ring with impossible indices dropped (error
 * field set) while another domain's connection and nodes are untouched.
 */
import { describe, expect, it } from 'vitest';
import { EVTCHNOP_send } from '../../../abi/public/event-channel.js';
import { __HYPERVISOR_event_channel_op } from '../../../abi/public/xen.js';
import { XenStore } from '../../../harness/xenstore/host.js';
import { XenStoreRing } from '../../../harness/xenstore/ring.js';
import {
  MessageReader,
  XENSTORE_ERROR_RINGIDX,
  XS_DIRECTORY,
  XS_ERROR,
  XS_READ,
  XS_WATCH,
  XS_WATCH_EVENT,
  XS_WRITE,
  encodeMessage,
  latin1,
  strings,
  concatBytes,
  bytes,
  type XsMessage,
} from '../../../harness/xenstore/wire.js';
import { pvDomain } from '../../abi/pv-domain.js';

const RING_VA = 0x12000;
const ARG_VA = 0x10000;

function setup(xs = new XenStore({ domainExists: (d) => d <= 1 })) {
  const p = pvDomain();
  const sharedInfo = new DataView(new ArrayBuffer(4096));
  p.xen.addEvents(p.d, sharedInfo);
  const port = p.d.evtchn!.allocUnbound(1, 0);
  const page = p.mem.view(p.p2m[RING_VA / 4096]!);
  const ring = new XenStoreRing({ events: p.xen.events, domain: p.d, page, port, service: () => xs.pump() });
  xs.host.mkdir('/local/domain/1');
  xs.host.setPerms('/local/domain/1', ['n1']);
  xs.introduce(1, 0x1234, port, ring);
  const reader = new MessageReader();
  const got: XsMessage[] = [];
  const notify = () => {
    const arg = new Uint8Array(4);
    new DataView(arg.buffer).setUint32(0, port, true);
    p.write(ARG_VA, arg);
    return p.call(__HYPERVISOR_event_channel_op, EVTCHNOP_send, ARG_VA);
  };
  /** Produces bytes at req_prod (as much as fits), notifying after each `chunk` bytes. */
  const send = (b: Uint8Array, chunk = b.length) => {
    for (let at = 0; at < b.length; at += chunk) {
      let prod = page.getUint32(2052, true);
      for (const x of b.subarray(at, at + chunk)) page.setUint8(prod++ & 1023, x);
      page.setUint32(2052, prod >>> 0, true);
      expect(notify()).toBe(0);
    }
  };
  /** Consumes everything at rsp_cons and notifies (so the daemon writes more). */
  const consume = () => {
    for (let round = 0; round < 100; round++) {
      const cons = page.getUint32(2056, true);
      const prod = page.getUint32(2060, true);
      if (cons === prod) return;
      const b = new Uint8Array((prod - cons) >>> 0);
      for (let i = 0; i < b.length; i++) b[i] = page.getUint8(1024 + ((cons + i) & 1023));
      page.setUint32(2056, prod, true);
      let off = 0;
      while (off < b.length) {
        const { used, result } = reader.push(b.subarray(off, off + reader.wanted()));
        off += used;
        if (result.kind === 'message') got.push(result.message);
      }
      notify();
    }
  };
  return { p, xs, ring, page, send, consume, got, notify };
}

describe('XenStore ring transport', () => {
  it('serves requests split across notifications and the wrap; replies come back with req_id', () => {
    const { xs, send, consume, got } = setup();
    for (let k = 0; k < 30; k++) {
      const msg = encodeMessage({ type: XS_WRITE, reqId: 100 + k, txId: 0, payload: concatBytes(bytes(`data/k${k}\0`), bytes('v'.repeat(k * 7))) });
      send(msg, 5 + (k % 11));
      consume();
    }
    expect(got.map((m) => m.reqId)).toEqual(Array.from({ length: 30 }, (_, k) => 100 + k));
    expect(got.every((m) => m.type === XS_WRITE && latin1(m.payload) === 'OK\0')).toBe(true);
    expect(xs.host.read('/local/domain/1/data/k29')).toBe('v'.repeat(203));
    expect(xs.host.getPerms('/local/domain/1/data/k29')).toEqual(['n1']);
  });

  it('writes a reply larger than the ring as the guest consumes it', () => {
    const { xs, send, consume, got } = setup();
    xs.host.write('/local/domain/1/big', 'x'.repeat(3000));
    send(encodeMessage({ type: XS_READ, reqId: 7, txId: 0, payload: strings('big') }));
    consume();
    expect(got).toHaveLength(1);
    expect(got[0]!.payload.length).toBe(3000);
  });

  it('delivers watch events, relative to the domain home for a relative watch', () => {
    const { xs, send, consume, got } = setup();
    send(encodeMessage({ type: XS_WATCH, reqId: 1, txId: 0, payload: strings('device', 'tok') }));
    consume();
    xs.host.write('/local/domain/1/device/vbd/51712/state', '1');
    consume();
    const events = got.filter((m) => m.type === XS_WATCH_EVENT).map((m) => latin1(m.payload));
    expect(events).toEqual(['device\0tok\0', 'device/vbd/51712/state\0tok\0']);
  });

  it('indices beyond the ring drop the connection (error field), other domains carry on', () => {
    const xs = new XenStore({ domainExists: (d) => d <= 1 });
    const { ring, page, notify } = setup(xs);
    xs.host.write('/local/domain/1/x', 'keep');
    page.setUint32(2052, page.getUint32(2048, true) + 5000, true); // req_prod far ahead
    expect(notify()).toBe(0);
    expect(ring.broken).toMatch(/beyond the ring/);
    expect(page.getUint32(2072, true)).toBe(XENSTORE_ERROR_RINGIDX);
    expect(xs.host.read('/local/domain/1/x')).toBe('keep');
    expect(xs.host.directory('/local/domain/1')).toEqual(['x']);
    // The host connection still works; the broken ring is no longer read.
    xs.host.write('/a', 'b');
    expect(xs.host.read('/a')).toBe('b');
  });

  it('an oversized header drops the connection with XENSTORE_ERROR_PROTO', () => {
    const { ring, page, send, got } = setup();
    const hdr = new Uint8Array(16);
    new DataView(hdr.buffer).setUint32(12, 4097, true);
    send(hdr);
    expect(ring.broken).toMatch(/4097 bytes/);
    expect(page.getUint32(2072, true)).toBe(3);
    expect(got).toEqual([]);
  });

  it('unknown types get ENOSYS, DIRECTORY of the home lists children', () => {
    const { xs, send, consume, got } = setup();
    xs.host.write('/local/domain/1/name', 'g');
    send(encodeMessage({ type: 99, reqId: 1, txId: 0, payload: strings('x') }));
    send(encodeMessage({ type: XS_DIRECTORY, reqId: 2, txId: 0, payload: strings('/local/domain/1') }));
    consume();
    expect(got[0]!.type).toBe(XS_ERROR);
    expect(latin1(got[0]!.payload)).toBe('ENOSYS\0');
    expect(latin1(got[1]!.payload)).toBe('name\0');
  });
});
