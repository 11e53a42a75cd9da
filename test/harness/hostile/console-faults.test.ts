/**
 * The hostile console backend (harness/hostile/console.ts through harness/backends/console.ts's
 * hook) against a guest writing its ring through real EVTCHNOP_send hypercalls: a short read
 * takes part of the ring and the rest follows at the retry (the log gets every byte once, in
 * order), a delayed notification takes nothing until its time, short writes of input go in
 * piece by piece, spurious notifications reach the guest, and the test-only broken backend
 * loses a byte.
 */
import { describe, expect, it } from 'vitest';
import { EVTCHNOP_send } from '../../../abi/public/event-channel.js';
import { __HYPERVISOR_event_channel_op } from '../../../abi/public/xen.js';
import { ConsoleBackend } from '../../../harness/backends/console.js';
import { consoleFaultHook, type ConsoleFaults } from '../../../harness/hostile/console.js';
import { pvDomain } from '../../abi/pv-domain.js';

const RING_VA = 0x12000;
const ARG_VA = 0x10000;
const OUT_CONS = 3080;
const OUT_PROD = 3084;
const IN_PROD = 3076;

function setup(plan: ConsoleFaults) {
  const p = pvDomain();
  const sharedInfo = new DataView(new ArrayBuffer(4096));
  p.xen.addEvents(p.d, sharedInfo);
  const port = p.d.evtchn!.allocUnbound(1, 0);
  const page = p.mem.view(p.p2m[RING_VA / 4096]!);
  const notes: string[] = [];
  const be = new ConsoleBackend({ events: p.xen.events, domain: p.d, page, port, faults: consoleFaultHook(plan, (l) => notes.push(l)) });
  const time = p.d.time!;
  const clock = p.xen.clock;
  const guestWrite = (text: string) => {
    const bytes = new TextEncoder().encode(text);
    let prod = page.getUint32(OUT_PROD, true);
    for (const b of bytes) page.setUint8(1024 + (prod++ & 2047), b);
    page.setUint32(OUT_PROD, prod >>> 0, true);
    const arg = new Uint8Array(4);
    new DataView(arg.buffer).setUint32(0, port, true);
    p.write(ARG_VA, arg);
    return p.call(__HYPERVISOR_event_channel_op, EVTCHNOP_send, ARG_VA);
  };
  /** Lets guest time pass to the next deferred step and runs it; false when none is left. */
  const step = (): boolean => {
    const next = time.nextDeadline();
    if (time.deferredCount === 0 || next < 0) return false;
    clock.skipTo(next);
    time.fireDue(clock.now());
    return true;
  };
  const pending = () => (sharedInfo.getUint8(2048 + (port >> 3)) >> (port & 7)) & 1;
  const clearPending = () => sharedInfo.setUint8(2048 + (port >> 3), sharedInfo.getUint8(2048 + (port >> 3)) & ~(1 << (port & 7)));
  return { p, page, port, be, guestWrite, step, time, clock, notes, pending, clearPending };
}

describe('hostile console backend', () => {
  it('short reads: each drain takes at most readChunk bytes, the rest follows retryNs later, every byte once and in order', () => {
    const { page, be, guestWrite, step, clock, time } = setup({ faults: [], readChunk: 5, retryNs: 1000 });
    expect(guestWrite('hello, hostile world\n')).toBe(0);
    expect(be.text()).toBe('hello');
    expect(page.getUint32(OUT_PROD, true) - page.getUint32(OUT_CONS, true)).toBe(16);
    expect(time.deferredCount).toBe(1);
    const t0 = clock.now();
    let steps = 0;
    while (step()) steps++;
    expect(steps).toBe(4);
    expect(clock.now() - t0).toBeGreaterThanOrEqual(4000);
    expect(be.text()).toBe('hello, hostile world\n');
    expect(page.getUint32(OUT_CONS, true)).toBe(page.getUint32(OUT_PROD, true));
  });

  it('a short read keyed to one drain; later notifications take the rest before the retry', () => {
    const { be, guestWrite, notes } = setup({ faults: [{ kind: 'short-read', at: 0, bytes: 3 }] });
    guestWrite('abcdef');
    expect(be.text()).toBe('abc');
    guestWrite('gh');
    expect(be.text()).toBe('abcdefgh');
    expect(notes).toEqual(['console: drain 0 takes at most 3 bytes']);
  });

  it('a delayed notification takes nothing until its guest time', () => {
    const { be, guestWrite, step, clock } = setup({ faults: [{ kind: 'delay-drain', at: 0, ns: 50_000 }] });
    const t0 = clock.now();
    guestWrite('late\n');
    guestWrite('later\n'); // waits for the same deferred service
    expect(be.text()).toBe('');
    expect(step()).toBe(true);
    expect(clock.now() - t0).toBe(50_000);
    expect(be.text()).toBe('late\nlater\n');
    expect(step()).toBe(false);
  });

  it('short writes: typed input goes into the in ring writeChunk bytes at a time', () => {
    const { page, be, step } = setup({ faults: [], writeChunk: 3, retryNs: 500 });
    be.type(new TextEncoder().encode('abcdefgh'));
    expect(page.getUint32(IN_PROD, true)).toBe(3);
    expect(be.pendingInput).toBe(5);
    while (step());
    expect(page.getUint32(IN_PROD, true)).toBe(8);
    const got = Array.from({ length: 8 }, (_, i) => String.fromCharCode(page.getUint8(i)));
    expect(got.join('')).toBe('abcdefgh');
  });

  it('a delayed feed puts nothing in until its time', () => {
    const { page, be, step } = setup({ faults: [{ kind: 'delay-feed', at: 0, ns: 7000 }] });
    be.type(new TextEncoder().encode('xy'));
    expect(page.getUint32(IN_PROD, true)).toBe(0);
    expect(step()).toBe(true);
    expect(page.getUint32(IN_PROD, true)).toBe(2);
  });

  it('spurious notifications reach the guest after the one it sent', () => {
    const { guestWrite, pending, clearPending, be, notes } = setup({ faults: [{ kind: 'spurious', at: 1, count: 3 }] });
    guestWrite('a');
    clearPending();
    guestWrite('b');
    expect(pending()).toBe(1);
    expect(be.text()).toBe('ab');
    expect(notes).toEqual(['console: 3 spurious notifications after notification 1']);
  });

  it('the test-only broken backend loses the first byte of its drain', () => {
    const { be, guestWrite } = setup({ faults: [{ kind: 'drop-byte', at: 1 }] });
    guestWrite('one\n');
    guestWrite('two\n');
    expect(be.text()).toBe('one\nwo\n');
  });

  it('the end-of-run drain takes everything, whatever the faults', () => {
    const { be, guestWrite } = setup({ faults: [{ kind: 'delay-drain', at: 0, ns: 1e9 }], readChunk: 1 });
    guestWrite('unread tail');
    expect(be.text()).toBe('');
    be.drain();
    expect(be.text()).toBe('unread tail');
  });
});
