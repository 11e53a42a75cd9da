/**
 * The console backend (harness/backends/console.ts) against a guest that uses the ring through
 * real EVTCHNOP_send hypercalls: bytes come out in order across the ring's wrap, the guest is
 * notified back, input goes into the `in` ring (typed input longer than the ring as the guest
 * takes it), and a ring with impossible indices disconnects
 * the console without the host reading outside the page.
 */
import { describe, expect, it } from 'vitest';
import { EVTCHNOP_send } from '../../../abi/public/event-channel.js';
import { __HYPERVISOR_event_channel_op } from '../../../abi/public/xen.js';
import { ConsoleBackend } from '../../../harness/backends/console.js';
import { pvDomain } from '../../abi/pv-domain.js';

const RING_VA = 0x12000; // PFN 18 of the test domain, mapped read-write
const ARG_VA = 0x10000;

function setup() {
  const p = pvDomain();
  const sharedInfo = new DataView(new ArrayBuffer(4096));
  p.xen.addEvents(p.d, sharedInfo);
  const port = p.d.evtchn!.allocUnbound(1, 0);
  const page = p.mem.view(p.p2m[RING_VA / 4096]!);
  const out: number[] = [];
  const be = new ConsoleBackend({ events: p.xen.events, domain: p.d, page, port, output: (b) => out.push(...b) });
  /** The guest writes `text` at out_prod and notifies, as a frontend does. */
  const guestWrite = (text: string) => {
    const bytes = new TextEncoder().encode(text);
    let prod = page.getUint32(3084, true);
    for (const b of bytes) page.setUint8(1024 + (prod++ & 2047), b);
    page.setUint32(3084, prod >>> 0, true);
    const arg = new Uint8Array(4);
    new DataView(arg.buffer).setUint32(0, port, true);
    p.write(ARG_VA, arg);
    return p.call(__HYPERVISOR_event_channel_op, EVTCHNOP_send, ARG_VA);
  };
  return { p, page, port, be, out, guestWrite, sharedInfo };
}

describe('console backend', () => {
  it('drains the out ring on every notification, across the wrap, and notifies the guest back', () => {
    const { p, page, port, be, out, guestWrite, sharedInfo } = setup();
    let expected = '';
    for (let k = 0; k < 40; k++) {
      const line = `line ${k}: ${'x'.repeat(k * 3)}\n`;
      expected += line;
      expect(guestWrite(line)).toBe(0);
      expect(page.getUint32(3080, true)).toBe(page.getUint32(3084, true)); // out_cons caught up
    }
    expect(page.getUint32(3084, true)).toBeGreaterThan(2048); // wrapped at least once
    expect(be.text()).toBe(expected);
    expect(new TextDecoder().decode(new Uint8Array(out))).toBe(expected);
    expect(be.notifications).toBe(40);
    // The guest's port is bound to the backend and pending: the notification came back.
    expect(p.d.evtchn!.status(port)).toMatchObject({ status: 2, b: be.hostPort }); // EVTCHNSTAT_interdomain, remote port
    expect((sharedInfo.getUint8(2048 + (port >> 3)) >> (port & 7)) & 1).toBe(1); // evtchn_pending
  });

  it('puts input into the in ring as far as it has room', () => {
    const { page, be } = setup();
    expect(be.send(new TextEncoder().encode('ls\n'))).toBe(3);
    expect(page.getUint32(3076, true)).toBe(3); // in_prod
    expect(String.fromCharCode(page.getUint8(0), page.getUint8(1), page.getUint8(2))).toBe('ls\n');
    // 1021 more fit, then the ring is full until the guest consumes.
    expect(be.send(new Uint8Array(2000).fill(65))).toBe(1021);
    expect(be.send(new Uint8Array(1).fill(66))).toBe(0);
    page.setUint32(3072, 10, true); // in_cons
    expect(be.send(new Uint8Array(20).fill(67))).toBe(10);
  });

  it('typed input longer than the in ring goes in as the guest takes it and notifies, in order', () => {
    const { page, be, guestWrite } = setup();
    const input = Uint8Array.from({ length: 3000 }, (_, i) => 97 + (i % 26));
    be.type(input.subarray(0, 1000));
    be.type(input.subarray(1000));
    expect(page.getUint32(3076, true)).toBe(1024); // in_prod: the ring is full
    expect(be.pendingInput).toBe(3000 - 1024);
    const got: number[] = [];
    let cons = 0;
    while (got.length < 3000) {
      const prod = page.getUint32(3076, true);
      expect(prod - cons).toBeGreaterThan(0);
      const n = Math.min(prod - cons, 300); // the guest takes part of what is there
      for (let i = 0; i < n; i++) got.push(page.getUint8((cons + i) & 1023));
      cons += n;
      page.setUint32(3072, cons, true); // in_cons
      expect(be.pendingInput).toBe(Math.max(0, 3000 - prod));
      guestWrite(''); // and notifies: the backend puts in what now fits
    }
    expect(Uint8Array.from(got)).toEqual(input);
    expect(be.pendingInput).toBe(0);
    expect(page.getUint32(3076, true)).toBe(3000);
    // Nothing is typed into a broken ring; queued input is dropped with it.
    be.type(new Uint8Array(2000));
    page.setUint32(3072, 0x40000000, true);
    guestWrite('');
    expect(be.broken).toMatch(/in_cons .* console disconnected/);
    expect(be.pendingInput).toBe(0);
  });

  it('disconnects a ring whose indices are further apart than the ring is long', () => {
    const { page, be, guestWrite } = setup();
    guestWrite('ok\n');
    page.setUint32(3084, 0x7fffffff, true); // out_prod far ahead of out_cons
    expect(be.drain()).toBe(0);
    expect(be.broken).toMatch(/console ring of domain 1 broken: out_prod 2147483647 .* console disconnected/);
    expect(be.text()).toBe('ok\n');
    expect(be.send(new Uint8Array(1))).toBe(0);
  });
});
