/**
 * A boot's vifs (harness/boot/vifs.ts): parsed xl.cfg vif entries become libxl's nodes and a
 * netback at InitWait on its bridge's switch; a test netfront connecting through XenStore gets
 * a DHCP offer from that bridge's gateway; detaching removes nodes and ports.
 */
import { describe, expect, it } from 'vitest';
import { DHCPDISCOVER, DHCPOFFER, ipString } from '../../../harness/net/gateway.js';
import { attachVifs, detachVifs, VirtualNetwork } from '../../../harness/boot/vifs.js';
import { parseNicSpec, type NicSpec } from '../../../harness/toolstack/nic-spec.js';
import { XenStore } from '../../../harness/xenstore/host.js';
import { blkWorld } from '../backends/blkfront.js';
import { TestNetfront } from '../backends/netfront.js';
import { dhcpMessage, parseDhcpReply } from '../net/frames.js';

describe('boot vifs', () => {
  it('attach: nodes, InitWait, a connected frontend reaches its bridge\'s gateway; detach cleans up', () => {
    const w = blkWorld();
    const xs = new XenStore({ domainExists: (d) => d <= 2 });
    const specs = ['mac=00:16:3e:00:00:01', 'bridge=lab'].map((s, i) => parseNicSpec(s, i, 'g') as NicSpec);
    const network = new VirtualNetwork();
    const vifs = attachVifs(specs, { xs, events: w.xen.events, grants: w.hub, domid: 1, network });
    expect(network.names).toEqual(['xenbr0', 'lab']);
    expect(vifs.map((v) => xs.host.read(`${v.backend.path}/state`))).toEqual(['2', '2']);
    expect(xs.host.read('/local/domain/1/device/vif/0/mac')).toBe('00:16:3e:00:00:01');
    expect(xs.host.read('/local/domain/0/backend/vif/1/1/bridge')).toBe('lab');

    const f = new TestNetfront(w);
    const fe = '/local/domain/1/device/vif/0';
    xs.host.transaction((t) => {
      t.write(`${fe}/tx-ring-ref`, String(f.txRef));
      t.write(`${fe}/rx-ring-ref`, String(f.rxRef));
      t.write(`${fe}/event-channel`, String(f.port));
      t.write(`${fe}/request-rx-copy`, '1');
      t.write(`${fe}/feature-sg`, '1');
      t.write(`${fe}/state`, '4');
    });
    expect(vifs[0]!.backend.state).toBe(4);
    f.postRx(4);
    f.queuePacket([{ data: dhcpMessage('00:16:3e:00:00:01', DHCPDISCOVER, 5) }]);
    f.pushTx();
    const [r] = f.rxResponses();
    const offer = parseDhcpReply(f.rxData(r!));
    expect([offer.type, ipString(offer.yiaddr)]).toEqual([DHCPOFFER, '10.0.0.100']);
    expect(network.bridge('lab').gateway.stats.offers).toBe(0);

    expect(detachVifs(vifs, xs)).toEqual([]);
    expect(xs.host.read(fe)).toBeUndefined();
    expect(xs.host.read('/local/domain/0/backend/vif/1/0')).toBeUndefined();
    expect(w.hub.mappings().filter((m) => m.mapper === 0)).toHaveLength(0);
  });
});
