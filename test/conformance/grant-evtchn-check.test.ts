/**
 * The grants.lifecycle and evtchn.lifecycle checks (conformance/checks/grants.ts, evtchn.ts):
 * unit cases over a synthetic world (a real grant hub and event hub, the guest's side written
 * by hand, xenstored trace lines as a frontend writes them), then real runs of probe-frontend,
 * correct and with its deliberate leaks, caught by runConformance.
 */
import { describe, expect, it } from 'vitest';
import { EventHub } from '../../abi/evtchn/channels.js';
import { GrantHub } from '../../abi/gnttab/grants.js';
import type { GrantTable } from '../../abi/gnttab/table.js';
import { MachineMemory } from '../../abi/hv/machine.js';
import { GTF_permit_access, GTF_reading, GTF_writing } from '../../abi/public/grant-table.js';
import { layout } from '../../abi/public/index.js';
import { EvtchnObserver, LOST_EVENT_NS } from '../../conformance/checks/evtchn.js';
import { FrontendTracker, LEFT_TO_DOMAIN_END_NS } from '../../conformance/checks/frontend-trace.js';
import { GrantsObserver } from '../../conformance/checks/grants.js';
import { runConformance } from '../../conformance/run.js';
import type { BootWorld } from '../../harness/boot/boot.js';
import { ROOT } from '../support/cli.js';
import { PROBE_CONFIGS } from '../support/probe-session.js';

const SELF = 0x7ff0;
const SI = layout('shared_info', 'x86_64');
const PENDING = SI.field('evtchn_pending').offset;
const MASK = SI.field('evtchn_mask').offset;

const guest = (path: string, v: number | string) => `IN domain 1 WRITE (${path} ${v})`;
const host = (path: string, v: number | string) => `IN host client WRITE (${path} ${v})`;
const FE = 'device/vbd/51712';

/** A domain 1 with a grant table and ports, the host's backends as domain 0, a clock we move. */
function fakeWorld() {
  const mem = new MachineMemory({ frames: 1024, seed: 3 });
  const hub = new GrantHub(mem);
  const table = hub.add(1);
  const pages = mem.allocDomainMemory(1, 4) as number[];
  const events = new EventHub();
  const si = new DataView(new ArrayBuffer(4096));
  const ec = events.add(1, { sharedInfo: si, nrVcpus: 1, kick: () => {} });
  const clock = { ns: 0, now: () => clock.ns };
  const vi = { pending: 0, mask: 1, upcallPending: () => vi.pending, upcallMask: () => vi.mask, setUpcallMask: () => {}, setCr2: () => {} };
  const domain = { id: 1, gnttab: { hub, table }, evtchn: ec, vcpus: [{ vcpuInfo: vi }], running: true };
  const w = { xen: { clock, events }, domain } as unknown as BootWorld;
  return { w, hub, table, pages, ec, si, clock, vi, domain };
}

/** The guest's side of a v1 grant: domid and frame, then the flags. */
function grant(t: GrantTable, ref: number, flags: number, domid: number, frame: number): void {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, flags, true);
  dv.setUint16(2, domid, true);
  dv.setUint32(4, frame, true);
  t.writeEntryRaw(ref, b);
}

function observers(w: BootWorld) {
  const g = new GrantsObserver();
  const e = new EvtchnObserver();
  g.attached(w);
  e.attached(w);
  const trace = (...lines: string[]) => {
    for (const l of lines) {
      g.trace(l);
      e.trace(l);
    }
  };
  return { g, e, trace };
}

/**
 * A blkfront connection as probe-frontend makes it: ring granted at ref 8 and a data page at 9,
 * an unbound port for domain 0, ring-ref and event-channel published, Initialised; the backend
 * maps the ring and binds; then the close (Closing, Closed), the backend disconnecting.
 */
function connectAndClose(o: { ringRef?: number | string } = {}) {
  const f = fakeWorld();
  const { g, e, trace } = observers(f.w);
  trace(host(`/local/domain/1/store/port`, 1), host(`/local/domain/1/${FE}/backend-id`, 0), host(`/local/domain/1/${FE}/state`, 1));
  grant(f.table, 8, GTF_permit_access, 0, f.pages[0] as number);
  grant(f.table, 9, GTF_permit_access, 0, f.pages[1] as number);
  const port = f.ec.allocUnbound(SELF, 0);
  trace(guest(`${FE}/ring-ref`, o.ringRef ?? 8), guest(`${FE}/event-channel`, port), guest(`${FE}/state`, 3));
  const m = f.hub.mapForHost(1, 8, false);
  if (typeof m === 'number') throw new Error(`map: ${m}`);
  const hostPort = f.ec.hostBind(port);
  trace(guest(`${FE}/state`, 4), guest(`${FE}/state`, 5), guest(`${FE}/state`, 6));
  f.hub.unmapForHost(m.handle);
  f.w.xen.events.host.close(hostPort);
  return { ...f, g, e, trace, port, mapping: m };
}

describe('frontend-trace', () => {
  it('follows what a frontend publishes, its backend and its state; a reconnect forgets the old connection', () => {
    let now = 5;
    const states: number[] = [];
    const t = new FrontendTracker(() => now, (_f, s) => states.push(s));
    t.trace(host('/local/domain/1/device/vif/0/backend-id', 3));
    t.trace(guest('device/vif/0/queue-0/tx-ring-ref', 10));
    t.trace(guest('device/vif/0/rx-ring-ref', 'x'));
    t.trace(guest('device/vif/0/event-channel-tx', 4));
    t.trace(guest('device/vif/0/request-rx-copy', 1));
    t.trace(guest('device/suspend/event-channel', 7));
    t.trace(host('/local/domain/1/console/port', 2));
    t.trace(guest('device/vif/0/state', 6));
    const f = t.frontends.get('d1 vif/0')!;
    expect(f.backend).toBe(3);
    expect([...f.refs.keys()]).toEqual(['queue-0/tx-ring-ref', 'rx-ring-ref']);
    expect(f.refs.get('rx-ring-ref')!.value).toBeNaN();
    expect([...f.ports.values()].map((p) => p.value)).toEqual([4]);
    expect([...t.toolstackPorts.get(1)!]).toEqual([7, 2]);
    expect(f.closedAt).toBe(5);
    now = 9;
    t.trace(guest('device/vif/0/state', 1));
    expect(f.refs.size + f.ports.size).toBe(0);
    expect(f.closedAt).toBeUndefined();
    expect(states).toEqual([6, 1]);
    expect([...t.frontends.keys()]).toEqual(['d1 vif/0']);
  });
});

describe('grants.lifecycle and evtchn.lifecycle (synthetic)', () => {
  it('a frontend that ends its grants and closes its port after the close passes both', () => {
    const f = connectAndClose();
    grant(f.table, 8, 0, 0, 0);
    grant(f.table, 9, 0, 0, 0);
    f.ec.close(f.port);
    f.domain.running = false;
    f.g.ended(f.w);
    f.e.ended(f.w);
    expect(f.g.result()).toEqual({ published: 1, violations: [], notes: [] });
    expect(f.e.result()).toMatchObject({ published: 1, violations: [], notes: [] });
  });

  it('leak=grant: the ring and the data page still granted after the close, the port closed', () => {
    const f = connectAndClose();
    f.ec.close(f.port);
    f.domain.running = false;
    f.g.ended(f.w);
    f.e.ended(f.w);
    expect(f.g.result().violations).toEqual([
      'd1 vbd/51712: gref 8 (ring-ref) still grants domain 0 access after the frontend closed',
      'd1 gref 9: still grants domain 0 access after every frontend (vbd/51712) closed (published by none of them)',
    ]);
    expect(f.e.result().violations).toEqual([]);
  });

  it('leak=port: the grants ended, the port left unbound for domain 0 after the backend closed its end', () => {
    const f = connectAndClose();
    grant(f.table, 8, 0, 0, 0);
    grant(f.table, 9, 0, 0, 0);
    f.domain.running = false;
    f.g.ended(f.w);
    f.e.ended(f.w);
    expect(f.g.result().violations).toEqual([]);
    expect(f.e.result().violations).toEqual([`d1 vbd/51712: port ${f.port} (event-channel) is still unbound for d0 after the frontend closed`]);
  });

  it('Linux at poweroff: Closed holding everything and the domain ending at once is left to the domain end; a second later it is a leak', () => {
    for (const after of [10_000_000, LEFT_TO_DOMAIN_END_NS]) {
      const f = connectAndClose();
      f.clock.ns += after;
      f.domain.running = false;
      f.g.ended(f.w);
      f.e.ended(f.w);
      if (after < LEFT_TO_DOMAIN_END_NS) {
        expect(f.g.result()).toMatchObject({ violations: [], notes: ["d1 vbd/51712 closed and left its grants to the domain's end"] });
        expect(f.e.result()).toMatchObject({ violations: [], notes: ["d1 vbd/51712 closed and left its ports to the domain's end"] });
      } else {
        expect(f.g.result().violations).toEqual([
          'd1 vbd/51712: gref 8 (ring-ref) still grants domain 0 access after the frontend closed',
          'd1 gref 9: still grants domain 0 access after every frontend (vbd/51712) closed (published by none of them)',
        ]);
        expect(f.e.result().violations).toEqual([`d1 vbd/51712: port ${f.port} (event-channel) is still unbound for d0 after the frontend closed`]);
      }
    }
  });

  it('published references beyond the table or not granted, and ports not open to the backend, when the frontend goes Initialised', () => {
    for (const [ringRef, want] of [
      [9999, 'd1 vbd/51712: ring-ref 9999 is beyond the grant table (512 entries, v1) when the frontend went Initialised'],
      [12, 'd1 vbd/51712: ring-ref 12 does not grant domain 0 access when the frontend went Initialised (flags 0x0000, domid 0)'],
      ['ring', 'd1 vbd/51712: ring-ref ring is no grant reference (when the frontend went Initialised)'],
    ] as const) {
      const f = fakeWorld();
      const { g, e, trace } = observers(f.w);
      trace(guest(`${FE}/ring-ref`, ringRef), guest(`${FE}/event-channel`, 7), guest(`${FE}/state`, 3));
      expect(g.result().violations).toEqual([want]);
      expect(e.result().violations).toEqual(['d1 vbd/51712: event-channel 7 is not a port open to domain 0 when the frontend went Initialised (free)']);
    }
  });

  it('access ended while the backend maps the grant is seen on the next trace line; a mapping left after the close is a backend bug', () => {
    const f = fakeWorld();
    const { g, trace } = observers(f.w);
    grant(f.table, 8, GTF_permit_access, 0, f.pages[0] as number);
    trace(guest(`${FE}/ring-ref`, 8), guest(`${FE}/state`, 3));
    expect(typeof f.hub.mapForHost(1, 8, false)).toBe('object');
    expect(f.table.readEntry(8).flags).toBe(GTF_permit_access | GTF_reading | GTF_writing);
    grant(f.table, 8, 0, 0, 0); // the guest clears the flags, in-use bits and all
    trace(guest(`${FE}/state`, 6));
    f.domain.running = false;
    g.ended(f.w);
    expect(g.result().violations).toEqual([
      'd1 gref 8 (vbd/51712 ring-ref): access ended while domain 0 still mapped it (flags 0x0000, domid 0; Xen refuses to end an entry in use)',
      'd1 vbd/51712: the backend (domain 0) still maps gref 8 (vbd/51712 ring-ref) after the frontend closed — a xenlab backend bug',
    ]);
  });

  it('a frontend still connected at the end is not checked for leaks; nothing published: both skip-worthy', () => {
    const f = fakeWorld();
    const { g, e, trace } = observers(f.w);
    trace(guest('data/x', 1));
    f.domain.running = false;
    g.ended(f.w);
    e.ended(f.w);
    expect(g.result()).toEqual({ published: 0, violations: [], notes: [] });
    expect(e.result()).toEqual({ published: 0, unmaskedSamples: 0, violations: [], notes: [] });
  });
});

describe('evtchn.lifecycle: lost events (synthetic)', () => {
  const setBit = (dv: DataView, base: number, p: number): void => dv.setUint8(base + (p >>> 3), dv.getUint8(base + (p >>> 3)) | (1 << (p & 7)));

  function pendingPort() {
    const f = fakeWorld();
    const e = new EvtchnObserver();
    e.attached(f.w);
    const port = f.ec.allocUnbound(SELF, 0);
    setBit(f.si, PENDING, port);
    const run = (ms: number) => {
      for (let k = 0; k < ms; k++) {
        f.clock.ns += 1_000_000;
        e.slice();
      }
    };
    return { ...f, e, port, run };
  }

  it('a port pending and unmasked, upcalls enabled and no upcall pending, for 100 ms of guest time: lost', () => {
    const f = pendingPort();
    f.vi.mask = 0;
    f.run(LOST_EVENT_NS / 1e6 - 1);
    expect(f.e.result().violations).toEqual([]);
    f.run(2);
    expect(f.e.result().violations).toEqual([
      `d1 port ${f.port} (unbound for d0): pending and unmasked for 100 ms of guest time while vCPU 0 had upcalls enabled and no upcall pending — the event is lost (the guest acknowledged the upcall without handling the port)`,
    ]);
  });

  it('not lost: upcalls masked (a poller), the port masked, an upcall pending, or the state broken off in between', () => {
    const masked = pendingPort();
    masked.run(300);
    expect(masked.e.result()).toMatchObject({ violations: [], unmaskedSamples: 0 });

    const portMasked = pendingPort();
    portMasked.vi.mask = 0;
    setBit(portMasked.si, MASK, portMasked.port);
    portMasked.run(300);
    expect(portMasked.e.result()).toMatchObject({ violations: [], unmaskedSamples: 300 });

    const upcall = pendingPort();
    upcall.vi.mask = 0;
    upcall.vi.pending = 1;
    upcall.run(300);
    expect(upcall.e.result().violations).toEqual([]);

    const handled = pendingPort();
    handled.vi.mask = 0;
    for (let k = 0; k < 10; k++) {
      handled.run(60);
      handled.vi.mask = 1; // in the handler
      handled.run(1);
      handled.vi.mask = 0;
    }
    expect(handled.e.result().violations).toEqual([]);
  });
});

describe('grants.lifecycle and evtchn.lifecycle in a conformance run (probe-frontend)', () => {
  const run = async (extra: string) => {
    const r = await runConformance({
      profiles: [
        {
          name: 'frontend',
          description: `probe-frontend ${extra}`,
          config: `${PROBE_CONFIGS}probe-frontend.cfg`,
          ...(extra === '' ? {} : { overrides: [`extra="${extra}"`] }),
          expectEnd: 'poweroff',
          timeoutSeconds: 2,
        },
      ],
      root: ROOT,
      version: 'test',
    });
    const tests = r.guests[0]!.tests;
    return { grants: tests.find((t) => t.check?.id === 'grants.lifecycle'), evtchn: tests.find((t) => t.check?.id === 'evtchn.lifecycle') };
  };

  it('the correct frontend passes both: it ends its grants and closes its port after the close', async () => {
    const { grants, evtchn } = await run('');
    expect(grants).toMatchObject({ status: 'pass', source: 'harness', check: { reference: expect.stringContaining('grant_table.h') } });
    expect(evtchn).toMatchObject({ status: 'pass', source: 'harness', check: { reference: expect.stringContaining('event_channel.h') } });
  });

  it('leak=grant: grants.lifecycle fails naming the ring reference and the device, then the data pages; evtchn.lifecycle passes', async () => {
    const { grants, evtchn } = await run('leak=grant');
    expect(grants).toMatchObject({ status: 'fail' });
    expect(grants!.detail!.split('\n')).toEqual([
      'd1 vbd/51712: gref 8 (ring-ref) still grants domain 0 access after the frontend closed',
      'd1 gref 9: still grants domain 0 access after every frontend (vbd/51712) closed (published by none of them)',
      'd1 gref 10: still grants domain 0 access after every frontend (vbd/51712) closed (published by none of them)',
    ]);
    expect(evtchn).toMatchObject({ status: 'pass' });
  });

  it('leak=port: evtchn.lifecycle fails naming the port and the device; grants.lifecycle passes', async () => {
    const { grants, evtchn } = await run('leak=port');
    expect(evtchn).toMatchObject({ status: 'fail' });
    expect(evtchn!.detail).toMatch(/^d1 vbd\/51712: port \d+ \(event-channel\) is still unbound for d0 after the frontend closed$/);
    expect(grants).toMatchObject({ status: 'pass' });
  });

  it('leak=grant,port: nothing released and the domain ends at once — the same as Linux at poweroff, so left to the domain end (passes, noted)', async () => {
    const { grants, evtchn } = await run('leak=grant,port');
    expect(grants).toMatchObject({ status: 'pass', detail: "d1 vbd/51712 closed and left its grants to the domain's end" });
    expect(evtchn).toMatchObject({ status: 'pass', detail: "d1 vbd/51712 closed and left its ports to the domain's end" });
  });
});
