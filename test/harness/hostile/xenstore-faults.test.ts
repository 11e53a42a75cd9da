/**
 * The hostile xenstored (harness/hostile/xenstore.ts): a transaction commit that fails with
 * EAGAIN drops its changes and a retry commits them; a watch storm queues spurious events for
 * the watched node or paths below it, never for host connections; the ring hook cuts a message
 * into aligned pieces and counts messages across them.
 */
import { describe, expect, it } from 'vitest';
import { xenstoreFaultHooks } from '../../../harness/hostile/xenstore.js';
import { XS_READ, XS_TRANSACTION_END, XS_TRANSACTION_START, XS_WATCH, XS_WRITE, encodeMessage, splitStrings, strings } from '../../../harness/xenstore/wire.js';
import { show, world, z } from '../xenstore/helpers.js';

describe('hostile xenstored', () => {
  it('a commit failing with EAGAIN drops the transaction; the retry commits', () => {
    const { xs, dom } = world([1]);
    const notes: string[] = [];
    xs.daemon.faults = xenstoreFaultHooks({ faults: [{ kind: 'eagain', at: 0 }] }, (l) => notes.push(l)).daemon;
    const d1 = dom.get(1)!;
    // The write inside the transaction, then the commit.
    const commit = (): string => {
      const tx = Number(splitStrings(d1.request(XS_TRANSACTION_START, strings('')).payload)[0]);
      const w = new Uint8Array([...strings('/local/domain/1/x'), ...new TextEncoder().encode('v')]);
      expect(show(d1.request(XS_WRITE, w, tx))).toBe('OK');
      return show(d1.request(XS_TRANSACTION_END, strings('T'), tx));
    };
    expect(commit()).toBe('ERROR EAGAIN');
    expect(xs.host.read('/local/domain/1/x')).toBeUndefined();
    expect(commit()).toBe('OK');
    expect(xs.host.read('/local/domain/1/x')).toBe('v');
    expect(notes).toEqual(['xenstore: transaction commit 0 of domain 1 fails with EAGAIN']);
    // Host transactions are never failed.
    xs.daemon.faults = xenstoreFaultHooks({ faults: [{ kind: 'eagain', at: 0 }, { kind: 'eagain', at: 1 }] }).daemon;
    expect(xs.host.transaction((t) => t.write('/local/domain/1/y', 'w'), 1)).toBeUndefined();
    expect(xs.host.read('/local/domain/1/y')).toBe('w');
  });

  it('a watch storm after a request: spurious events for the watched node, or for paths below it', () => {
    const { xs, dom } = world([1]);
    xs.daemon.faults = xenstoreFaultHooks({
      faults: [
        { kind: 'storm', at: 2, count: 3, under: true },
        { kind: 'storm', at: 3, count: 2, under: false },
      ],
    }).daemon;
    const d1 = dom.get(1)!;
    expect(d1.ask(XS_WATCH, z('control/shutdown', 'tok'))).toBe('OK'); // request 0
    expect(d1.takeEvents()).toEqual(['control/shutdown tok']);
    expect(d1.ask(XS_READ, z('/local/domain/1'))).toBe(''); // request 1
    expect(d1.takeEvents()).toEqual([]);
    d1.ask(XS_READ, z('/local/domain/1')); // request 2: three events below the node
    expect(d1.takeEvents()).toEqual(['control/shutdown/storm0 tok', 'control/shutdown/storm1 tok', 'control/shutdown/storm2 tok']);
    d1.ask(XS_READ, z('/local/domain/1')); // request 3: the node itself (one still queued is not repeated)
    expect(d1.takeEvents()).toEqual(['control/shutdown tok']);
    // A host connection's requests cause no storm.
    let hostEvents = 0;
    xs.host.watch('/local/domain/1', 'h', () => hostEvents++);
    for (let i = 0; i < 5; i++) xs.host.read('/local/domain/1');
    expect(hostEvents).toBe(1);
  });

  it('the ring hook cuts a message into pieces aligned to the message and counts messages', () => {
    const notes: string[] = [];
    const { ring } = xenstoreFaultHooks({ faults: [{ kind: 'split', at: 1, bytes: 5, ns: 300 }] }, (l) => notes.push(l));
    const m0 = encodeMessage({ type: XS_READ, reqId: 1, txId: 0, payload: strings('a') });
    const m1 = encodeMessage({ type: XS_READ, reqId: 2, txId: 0, payload: strings('hello') });
    expect(ring.write(m0)).toEqual({ limit: m0.length, pauseNs: 0 });
    ring.wrote(m0, m0.length);
    expect(ring.write(m1)).toEqual({ limit: 5, pauseNs: 300 });
    ring.wrote(m1, 3); // a full ring cut the piece short
    expect(ring.write(m1.subarray(3))).toEqual({ limit: 2, pauseNs: 300 });
    ring.wrote(m1.subarray(3), 2);
    let at = 5;
    while (at < m1.length) {
      const { limit } = ring.write(m1.subarray(at));
      const n = Math.min(limit, m1.length - at);
      ring.wrote(m1.subarray(at), n);
      at += n;
    }
    const m2 = encodeMessage({ type: XS_READ, reqId: 3, txId: 0, payload: strings('b') });
    expect(ring.write(m2)).toEqual({ limit: m2.length, pauseNs: 0 });
    expect(notes).toEqual(['xenstore: message 1 written 5 bytes at a time, 300 ns apart']);
  });
});
