/**
 * The xenbus.frontend-states check (conformance/checks/xenbus.ts) over xenstored trace lines:
 * the toolstack's node creation is a starting point, the guest's writes are transitions checked
 * against io/xenbus.h, and no frontend passes Initialising before its backend is in InitWait.
 */
import { describe, expect, it } from 'vitest';
import { frontendTransitionAllowed, XenbusStateObserver } from '../../conformance/checks/xenbus.js';
import { runConformance } from '../../conformance/run.js';
import { ROOT } from '../support/cli.js';
import { PROBE_CONFIGS } from '../support/probe-session.js';

const host = (path: string, v: number | string) => `IN host client WRITE (${path} ${v})`;
const guest = (d: number, path: string, v: number | string) => `IN domain ${d} WRITE (${path} ${v})`;
const FE = '/local/domain/1/device/vif/0/state';
const BE = '/local/domain/0/backend/vif/1/0/state';

function run(lines: readonly string[]) {
  const o = new XenbusStateObserver();
  for (const l of lines) o.trace(l);
  return o.result();
}

describe('xenbus.frontend-states', () => {
  it("accepts Linux's orders: netfront Initialising → Connected after backend InitWait; blkfront through Initialised; a reconnect after Closed", () => {
    const r = run([
      host(FE, 1), host(BE, 1), host(BE, 2),
      guest(1, 'device/vif/0/state', 4), // relative path, as Linux writes it
      host(BE, 4),
      guest(1, FE, 5), guest(1, FE, 6), guest(1, FE, 1), guest(1, FE, 1), guest(1, FE, 4),
      host('/local/domain/1/device/vbd/51712/state', 1), host('/local/domain/0/backend/vbd/1/51712/state', 2),
      guest(1, 'device/vbd/51712/state', 3), host('/local/domain/0/backend/vbd/1/51712/state', 4), guest(1, 'device/vbd/51712/state', 4),
    ]);
    expect(r.violations).toEqual([]);
    expect(r.devices).toEqual([
      { path: 'd1 device/vbd/51712', history: [3, 4], rewrites: 0 },
      { path: 'd1 device/vif/0', history: [4, 5, 6, 1, 1, 4], rewrites: 1 },
    ]);
  });

  it('reports transitions io/xenbus.h does not allow, values that are no state, and connecting before the backend', () => {
    const r = run([
      host(FE, 1), guest(1, FE, 4), // backend never reached InitWait
      guest(1, FE, 1), // Connected → Initialising
      guest(1, FE, 'ready'),
      host('/local/domain/2/device/vbd/1/state', 1), host('/local/domain/0/backend/vbd/2/1/state', 2),
      guest(2, 'device/vbd/1/state', 3), guest(2, 'device/vbd/1/state', 2), // Initialised → InitWait
    ]);
    expect(r.violations).toEqual([
      'd1 device/vif/0: went to Connected (4) while its backend was in Unknown (0), before InitWait',
      'd1 device/vif/0: Connected (4) → Initialising (1) is not a transition io/xenbus.h allows a frontend',
      'd1 device/vif/0: the guest wrote state "ready", which is no xenbus_state',
      'd2 device/vbd/1: Initialised (3) → InitWait (2) is not a transition io/xenbus.h allows a frontend',
    ]);
  });

  it('another domain writing a frontend node is not the guest; other messages and paths are ignored', () => {
    const r = run([guest(2, FE, 4), 'IN domain 1 READ (device/vif/0/state)', 'OUT domain 1 WRITE (OK)', guest(1, '/local/domain/1/data/x', 4)]);
    expect(r).toEqual({ devices: [], violations: [] });
  });

  it('the transition table', () => {
    const ok = (a: number, b: number) => frontendTransitionAllowed(a, b);
    expect([ok(0, 1), ok(1, 2), ok(1, 3), ok(1, 4), ok(2, 3), ok(3, 4), ok(4, 5), ok(5, 6), ok(6, 1), ok(4, 7), ok(7, 8), ok(8, 4), ok(3, 6), ok(4, 4)]).toEqual(Array(14).fill(true));
    expect([ok(4, 1), ok(4, 3), ok(5, 4), ok(6, 4), ok(6, 5), ok(3, 2), ok(7, 4), ok(1, 8)]).toEqual(Array(8).fill(false));
  });
});

describe('xenbus.frontend-states in a conformance run', () => {
  const run = (extra: string) =>
    runConformance({
      profiles: [
        {
          name: 'broken-frontend',
          description: 'probe-suspend driving device/vif/0 itself',
          config: `${PROBE_CONFIGS}probe-suspend.cfg`,
          overrides: [`extra="dirty=2 period=100 ${extra}"`, 'vif=["mac=00:16:3e:00:00:07,bridge=xenbr0"]'],
          expectEnd: 'poweroff',
          timeoutSeconds: 1,
        },
      ],
      root: ROOT,
      version: 'test',
    });

  it('catches a deliberately broken frontend (xenbus=backwards: Connected → Initialising) with the violation and the history', async () => {
    const r = await run('xenbus=backwards');
    const t = r.guests[0]!.tests.find((x) => x.check?.id === 'xenbus.frontend-states');
    expect(t).toMatchObject({ status: 'fail', source: 'harness' });
    expect(t!.detail!.split('\n')).toEqual([
      'd1 device/vif/0: Connected (4) → Initialising (1) is not a transition io/xenbus.h allows a frontend',
      'd1 device/vif/0: Connected → Initialising',
    ]);
  });

  it('the same guest without the fault drives no frontend: the check is skipped as not applicable', async () => {
    const r = await run('');
    const t = r.guests[0]!.tests.find((x) => x.check?.id === 'xenbus.frontend-states');
    expect(t).toMatchObject({ status: 'skip', detail: 'not applicable: the guest drove no XenBus frontend' });
  });
});
