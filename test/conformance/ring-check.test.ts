/**
 * The `ring.protocol` check (conformance/checks/rings.ts): its core over synthetic rings (an
 * index that moves backwards or past the ring, a request id reused, a missing and a spurious
 * notification), then real runs of probe-frontend — the minimal blkfront passes, its
 * deliberately broken `notify=never` mode is caught with the ring named.
 */
import { describe, expect, it } from 'vitest';
import { RingProtocolObserver } from '../../conformance/checks/rings.js';
import { runConformance } from '../../conformance/run.js';
import type { ObservedRing } from '../../harness/backends/ring-observer.js';
import { ROOT } from '../support/cli.js';
import { PROBE_CONFIGS } from '../support/probe-session.js';

/** A ring header in plain numbers the test moves by hand. */
class FakeRing implements ObservedRing {
  reqProd = 0;
  reqEvent = 1;
  rspProd = 0;
  readonly indexNames: readonly [string, string];
  readonly direction = 'producer' as const;
  constructor(
    readonly name: string,
    readonly size: number,
    readonly notify: 'event' | 'always' | 'never' = 'event',
  ) {
    this.indexNames = notify !== 'always' ? ['req_prod', 'rsp_prod'] : name.startsWith('xenstore') ? ['req_prod', 'req_cons'] : ['out_prod', 'out_cons'];
  }
  read() {
    return { prod: this.reqProd >>> 0, event: this.notify === 'event' ? this.reqEvent >>> 0 : undefined, limit: this.rspProd >>> 0 };
  }
  /** The backend consumes and answers everything, and re-arms req_event (RING_FINAL_CHECK_FOR_REQUESTS). */
  serve(): void {
    this.rspProd = this.reqProd;
    this.reqEvent = (this.reqProd + 1) >>> 0;
  }
}

function setup(ringName = 'vbd 51712 ring', size = 32, notify: 'event' | 'always' | 'never' = 'event') {
  let t = 0;
  const o = new RingProtocolObserver(1, () => t);
  const r = new FakeRing(ringName, size, notify);
  o.connected([r]);
  return { o, r, tick: (ns: number) => (t += ns) };
}

describe('ring.protocol over a synthetic ring', () => {
  it('accepts a frontend that notifies when req_event says so and not otherwise', () => {
    const { o, r } = setup();
    r.reqProd = 1; // crosses req_event 1: notify
    o.notified([r]);
    r.serve();
    r.reqProd = 3; // crosses req_event 2: notify
    o.notified([r]);
    r.serve();
    o.disconnected([r]);
    expect(o.result()).toEqual({ used: true, violations: [], note: '2 notifications, 0 spurious (brought nothing new)' });
  });

  it('accepts requests that need no notification (req_event not crossed) and a late one', () => {
    const { o, r } = setup();
    r.reqProd = 1;
    o.notified([r]);
    // The backend is busy: req_event left at 1, so pushing 2 and 3 needs no notification.
    r.reqProd = 3;
    o.looked([r]);
    r.serve(); // req_event 4
    r.reqProd = 4; // needs one: sent a little later, after the backend looked for its own reasons
    o.looked([r]);
    o.notified([r]);
    o.ended();
    expect(o.result().violations).toEqual([]);
    expect(o.result().note).toBe('2 notifications, 0 spurious (brought nothing new)');
  });

  it('reports a missing notification at the ring\'s last reading, with the indices and the guest time it was seen', () => {
    const { o, r, tick } = setup();
    tick(2_500_000);
    r.reqProd = 2;
    tick(1_000_000);
    o.disconnected([r]);
    expect(o.result().violations).toEqual([
      'd1 vbd 51712 ring: req_prod moved 0 → 2 past req_event 1 and no notification came (the backend would never see the requests); seen at 0.003500 s',
    ]);
  });

  it('reports the console out ring written without a notification (every byte needs one)', () => {
    const { o, r } = setup('console out', 2048, 'always');
    r.reqProd = 57;
    o.ended();
    expect(o.result().violations).toEqual([
      'd1 console out: out_prod moved 0 → 57 and no notification came (the backend would never drain it); seen at 0.000000 s',
    ]);
  });

  it('reports XenStore requests written without a notification (xenstored reads when notified)', () => {
    const { o, r } = setup('xenstore req', 1024, 'always');
    r.reqProd = 16;
    o.notified([r]);
    r.reqProd = 40;
    o.ended();
    expect(o.result().violations).toEqual([
      'd1 xenstore req: req_prod moved 16 → 40 and no notification came (xenstored would never read it); seen at 0.000000 s',
    ]);
  });

  it('counts a notification that brought nothing as spurious, in the note, not as a violation', () => {
    const { o, r } = setup();
    r.reqProd = 1;
    o.notified([r]);
    r.serve();
    o.notified([r]);
    o.notified([r]);
    o.ended();
    expect(o.result()).toEqual({ used: true, violations: [], note: '3 notifications, 2 spurious (brought nothing new): d1 vbd 51712 ring 2' });
  });

  it('reports req_prod moving backwards, and running more than the ring ahead of rsp_prod', () => {
    const { o, r } = setup('vif 0 tx', 256);
    r.reqProd = 10;
    o.notified([r]);
    r.serve();
    r.reqProd = 4;
    o.notified([r]);
    const b = setup('vif 0 rx', 256);
    b.r.reqProd = 300;
    b.o.notified([b.r]);
    expect(o.result().violations).toEqual(['d1 vif 0 tx: req_prod moved backwards 10 → 4; at 0.000000 s']);
    expect(b.o.result().violations).toEqual([
      "d1 vif 0 rx: req_prod 300 is 300 ahead of rsp_prod 0, more than the ring's 256 (RING_REQUEST_PROD_OVERFLOW); at 0.000000 s",
      "d1 vif 0 rx: req_prod jumped 0 → 300, more than the ring's 256 in one step; at 0.000000 s",
    ]);
  });

  it('lets every ring go at the end of a boot: a restarted domain\'s next boot does not read the old pages', () => {
    const { o, r } = setup('console out', 2048, 'always');
    r.reqProd = 5;
    o.notified([r]);
    o.ended();
    r.reqProd = 9; // the old page, reused: nobody reads it any more
    o.boot(2, () => 0);
    o.ended();
    expect(o.result().violations).toEqual([]);
  });

  it('follows free-running indices across 2^32', () => {
    const { o, r } = setup();
    r.reqProd = 0xfffffff0;
    r.rspProd = 0xfffffff0;
    r.reqEvent = 0xfffffff1;
    o.connected([r]);
    r.reqProd = 0x100000004; // wraps to 4: 20 requests
    o.notified([r]);
    r.serve();
    o.ended();
    expect(o.result().violations).toEqual([]);
  });

  it('reports a request id reused while its first request is unanswered, not after the response', () => {
    const { o, r } = setup();
    o.request(r, '7');
    o.request(r, '8');
    o.response(r, '7');
    o.request(r, '7');
    o.request(r, '8');
    expect(o.result().violations).toEqual(['d1 vbd 51712 ring: request id 8 reused while a request with that id is unanswered; at 0.000000 s']);
  });

  it('is not applicable to a guest that used no ring, and keeps at most four lines per ring', () => {
    const quiet = setup();
    quiet.o.notified([]);
    expect(quiet.o.result().used).toBe(false);
    const { o, r } = setup();
    for (let i = 0; i < 6; i++) o.request(r, '1');
    expect(o.result().violations).toHaveLength(5);
    expect(o.result().violations.at(-1)).toBe('d1 vbd 51712 ring: 1 more');
  });
});

describe('ring.protocol in a conformance run', () => {
  const run = (extra: string) =>
    runConformance({
      profiles: [
        {
          name: 'probe-frontend',
          description: 'probe-frontend',
          config: `${PROBE_CONFIGS}probe-frontend.cfg`,
          ...(extra !== '' ? { overrides: [`extra=${extra}`] } : {}),
          expectEnd: 'poweroff',
          timeoutSeconds: 2,
        },
      ],
      root: ROOT,
      version: 'test',
    });

  it('passes probe-frontend, a blkfront that notifies as RING_PUSH_REQUESTS_AND_CHECK_NOTIFY says, with every TAP point ok', async () => {
    const r = await run('');
    const g = r.guests[0]!;
    expect(g.tests.filter((t) => t.status !== 'pass' && t.check?.id !== 'ring.protocol')).toEqual([]);
    expect(g.tests.filter((t) => t.source === 'guest').length).toBe(20);
    const t = g.tests.find((x) => x.check?.id === 'ring.protocol');
    expect(t).toMatchObject({ status: 'pass', source: 'harness' });
    expect(t!.detail).toMatch(/^\d+ notifications, \d+ spurious/);
  });

  it('catches notify=never: the missing notification named with the ring, the indices and the time', async () => {
    const r = await run('notify=never');
    const g = r.guests[0]!;
    expect(g.tests.filter((t) => t.status === 'fail').map((t) => t.name)).toEqual([
      'read sectors 0-7: a response',
      expect.stringMatching(/^ring\.protocol: /),
    ]);
    const t = g.tests.find((x) => x.check?.id === 'ring.protocol')!;
    expect(t.detail!.split('\n')[0]).toMatch(
      /^d1 vbd 51712 ring: req_prod moved 0 → 1 past req_event 1 and no notification came \(the backend would never see the requests\); seen at 0\.\d{6} s$/,
    );
  });
});
