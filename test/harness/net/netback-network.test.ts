/**
 * The whole path with a netfront in a real domain: frames written on its tx ring go through
 * netback, the L2 switch and the built-in gateway, and the gateway's replies (ARP, DHCP OFFER and
 * ACK, ICMP echo reply) come back on its rx ring by rx-copy. Two frontends on one switch reach
 * each other.
 */
import { describe, expect, it } from 'vitest';
import { NETIF_RSP_OKAY } from '../../../abi/public/io/netif.js';
import { Netback } from '../../../harness/backends/netback.js';
import { DHCPACK, DHCPDISCOVER, DHCPOFFER, DHCPREQUEST, Gateway, inetChecksum, ipString, parseIp } from '../../../harness/net/gateway.js';
import { Switch, type SwitchPort } from '../../../harness/net/switch.js';
import { blkWorld } from '../backends/blkfront.js';
import { TestNetfront } from '../backends/netfront.js';
import { arpRequest, dhcpMessage, echoRequest, parseDhcpReply } from './frames.js';

const M1 = '00:16:3e:00:00:01';
const GW = parseIp('10.0.0.1');

/** A frontend domain joined to `sw` through its own netback. */
function plug(sw: Switch, name: string) {
  const w = blkWorld();
  const f = new TestNetfront(w);
  let port: SwitchPort | undefined;
  const nb = new Netback({ events: w.xen.events, grants: w.hub, frontend: 1, transmit: (fr) => sw.send(port!, fr) });
  port = sw.attach(name, (fr) => nb.deliver(fr));
  const err = nb.connect(f.connection());
  if (err !== undefined) throw new Error(err);
  f.postRx(16);
  /** Transmits one frame and returns the frames received meanwhile. */
  const send = (data: Uint8Array): Uint8Array[] => {
    f.queuePacket([{ data }]);
    f.pushTx();
    expect(f.txResponses().map((r) => r[1])).toEqual([NETIF_RSP_OKAY]);
    const rx = f.rxResponses();
    f.postRx(rx.length);
    return rx.map((r) => f.rxData(r));
  };
  return { w, f, nb, send };
}

describe('netfront → netback → switch → gateway and back', () => {
  it('ARP, DHCP DISCOVER/REQUEST and ICMP echo get their replies on the rx ring', () => {
    const sw = new Switch();
    const gw = new Gateway(sw);
    const g = plug(sw, 'vif1.0');
    const offer = parseDhcpReply(g.send(dhcpMessage(M1, DHCPDISCOVER, 0x11))[0]!);
    expect([offer.type, ipString(offer.yiaddr)]).toEqual([DHCPOFFER, '10.0.0.100']);
    const ack = parseDhcpReply(g.send(dhcpMessage(M1, DHCPREQUEST, 0x12, [[50, 10, 0, 0, 100], [54, 10, 0, 0, 1]]))[0]!);
    expect([ack.type, ipString(ack.yiaddr)]).toEqual([DHCPACK, '10.0.0.100']);
    const me = parseIp('10.0.0.100');
    const arp = g.send(arpRequest(M1, me, GW));
    expect(arp).toHaveLength(1);
    expect(Array.from(arp[0]!.subarray(22, 28))).toEqual(Array.from(gw.mac));
    const [pong, ...more] = g.send(echoRequest(gw.mac, M1, me, GW, 7, 1, [1, 2, 3, 4]));
    expect(more).toHaveLength(0);
    expect(pong![34]).toBe(0); // echo reply
    expect(inetChecksum(pong!, 34, pong!.length - 34)).toBe(0);
    expect(g.nb.stats).toMatchObject({ txPackets: 4, rxPackets: 4, rxDropped: 0 });
    expect(g.nb.diagnostics).toEqual([]);
  });

  it('two frontends on one switch reach each other (flooded first, then forwarded)', () => {
    const sw = new Switch();
    new Gateway(sw);
    const a = plug(sw, 'vif1.0');
    const b = plug(sw, 'vif2.0');
    const fromA = arpRequest('00:16:3e:00:00:0a', parseIp('10.0.0.100'), parseIp('10.0.0.101'));
    expect(a.send(fromA)).toHaveLength(0);
    const rx = b.f.rxResponses();
    expect(rx).toHaveLength(1);
    expect(Array.from(b.f.rxData(rx[0]!))).toEqual(Array.from(fromA));
    expect(sw.lookup('00:16:3e:00:00:0a')).toBe(1);
  });
});
