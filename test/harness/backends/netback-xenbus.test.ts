/**
 * netback's XenbusState handshake (harness/backends/netback-xenbus.ts) with the toolstack's vif
 * nodes (harness/toolstack/vif.ts) and a test frontend that does in XenStore what Linux's
 * netfront does: tx-ring-ref, rx-ring-ref, event-channel(-tx/-rx), request-rx-copy,
 * feature-sg, feature-rx-notify, then Connected; frames flow both ways once connected;
 * malformed keys end in xenbus_dev_fatal's error node and Closing.
 */
import { describe, expect, it } from 'vitest';
import { NETIF_RSP_OKAY } from '../../../abi/public/io/netif.js';
import { VifBackend } from '../../../harness/backends/netback-xenbus.js';
import type { NetFrame } from '../../../harness/backends/netback.js';
import { addVifNodes, removeVifNodes, vifPaths } from '../../../harness/toolstack/vif.js';
import { XenStore } from '../../../harness/xenstore/host.js';
import { blkWorld } from './blkfront.js';
import { TestNetfront } from './netfront.js';

function rig() {
  const w = blkWorld();
  const xs = new XenStore({ domainExists: (d) => d <= 2 });
  const h = xs.host;
  const paths = addVifNodes(h, { domid: 1, devid: 0, mac: '00:16:3e:00:00:01', bridge: 'xenbr0' });
  const sent: NetFrame[] = [];
  const log: string[] = [];
  const vif = new VifBackend({ xs, events: w.xen.events, grants: w.hub, frontend: 1, devid: 0, transmit: (f) => sent.push(f), log: (l) => log.push(l) });
  const fe = (k: string) => h.read(`${paths.frontend}/${k}`);
  const be = (k: string) => h.read(`${paths.backend}/${k}`);
  const frontConnect = (keys: Record<string, string> = {}, split = false) => {
    const f = new TestNetfront(w);
    const rxPort = split ? w.front.evtchn!.allocUnbound(0x7ff0, 0) : undefined;
    h.transaction((t) => {
      const all: Record<string, string> = {
        'tx-ring-ref': String(f.txRef),
        'rx-ring-ref': String(f.rxRef),
        ...(split ? { 'event-channel-tx': String(f.port), 'event-channel-rx': String(rxPort) } : { 'event-channel': String(f.port) }),
        'request-rx-copy': '1',
        'feature-rx-notify': '1',
        'feature-sg': '1',
        ...keys,
      };
      for (const [k, v] of Object.entries(all)) if (v !== '') t.write(`${paths.frontend}/${k}`, v);
      t.write(`${paths.frontend}/state`, '4');
    });
    return f;
  };
  const hostMaps = () => w.hub.mappings().filter((m) => m.mapper === 0).length;
  return { w, xs, h, paths, vif, fe, be, frontConnect, sent, log, hostMaps };
}

describe('netback xenbus handshake', () => {
  it('the toolstack writes libxl\'s vif nodes with libxl\'s permissions', () => {
    const { h, paths } = rig();
    expect(paths).toEqual({ frontend: '/local/domain/1/device/vif/0', backend: '/local/domain/0/backend/vif/1/0' });
    expect(vifPaths(1, 0).libxl).toBe('/libxl/1/device/vif/0');
    expect(h.directory(paths.frontend)).toEqual(['backend', 'backend-id', 'state', 'handle', 'mac', 'trusted', 'mtu']);
    expect(h.getPerms(paths.frontend)).toEqual(['n1', 'r0']);
    expect(h.getPerms(`${paths.frontend}/mtu`)).toEqual(['n0', 'r1']);
    expect(h.getPerms(paths.backend)).toEqual(['n0', 'r1']);
    for (const [k, v] of Object.entries({ frontend: paths.frontend, 'frontend-id': '1', online: '1', state: '1', mac: '00:16:3e:00:00:01', bridge: 'xenbr0', handle: '0', type: 'vif', script: '/etc/xen/scripts/vif-bridge' })) {
      expect(h.read(`${paths.backend}/${k}`)).toBe(v);
    }
    removeVifNodes(h, 1, 0);
    expect(h.read(paths.frontend)).toBeUndefined();
    expect(h.read(paths.backend)).toBeUndefined();
  });

  it('InitWait with features, Connected once the frontend is, frames flow; Closed disconnects', () => {
    const { vif, be, frontConnect, sent, hostMaps, h, paths } = rig();
    vif.start();
    expect(be('state')).toBe('2');
    expect([be('feature-sg'), be('feature-rx-copy'), be('feature-rx-flip'), be('multi-queue-max-queues'), be('hotplug-status')]).toEqual(['1', '1', '0', '1', 'connected']);
    expect(vif.mac).toBe('00:16:3e:00:00:01');
    const f = frontConnect();
    expect(be('state')).toBe('4');
    expect(hostMaps()).toBe(2);
    f.queuePacket([{ data: new Uint8Array(60).fill(7) }]);
    f.pushTx();
    expect(f.txResponses()).toEqual([[expect.any(Number), NETIF_RSP_OKAY]]);
    expect(sent).toHaveLength(1);
    f.postRx(1);
    vif.netback.deliver({ data: new Uint8Array(42).fill(9) });
    expect(f.rxResponses().map((r) => r.status)).toEqual([42]);
    h.write(`${paths.frontend}/state`, '5');
    expect(be('state')).toBe('5');
    h.write(`${paths.frontend}/state`, '6');
    expect(be('state')).toBe('6');
    expect(hostMaps()).toBe(0);
    expect(vif.removed).toBe(false); // online is 1: kept for a reconnect
    h.write(`${paths.frontend}/state`, '1');
    expect(be('state')).toBe('2');
  });

  it('split event channels bind both ports', () => {
    const { vif, be, frontConnect, sent } = rig();
    vif.start();
    const f = frontConnect({}, true);
    expect(be('state')).toBe('4');
    f.queuePacket([{ data: new Uint8Array(60).fill(1) }]);
    f.pushTx();
    expect(sent).toHaveLength(1);
  });

  it.each([
    [{ 'request-rx-copy': '0' }, /95 .*rx-flip is not supported/],
    [{ 'multi-queue-num-queues': '4' }, /22 guest requested 4 queues/],
    [{ 'tx-ring-ref': 'x' }, /22 reading .*tx-ring-ref/],
    [{ 'rx-ring-ref': '3000' }, /16 mapping rx-ring-ref 3000/],
    [{ 'event-channel': '999' }, /16 binding event-channel 999/],
  ] as const)('malformed frontend keys %j: error node and Closing, nothing mapped', (keys, msg) => {
    const { vif, be, frontConnect, h, hostMaps } = rig();
    vif.start();
    frontConnect(keys);
    expect(be('state')).toBe('5');
    expect(h.read('/local/domain/0/error/backend/vif/1/0/error')).toMatch(msg);
    expect(hostMaps()).toBe(0);
    expect(vif.errors).toHaveLength(1);
  });

  it('a bad mac in the backend directory is fatal at start', () => {
    const { vif, h, paths, be } = rig();
    h.write(`${paths.backend}/mac`, 'zz');
    vif.start();
    expect(be('state')).toBe('5');
    expect(vif.errors[0]).toMatch(/mac "zz"/);
  });
});
