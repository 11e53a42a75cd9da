/**
 * The built-in gateway (harness/net/gateway.ts) on a switch, fed hand-built frames: ARP for its
 * address, ICMP echo, DHCP DISCOVER/OFFER/REQUEST/ACK as busybox udhcpc runs it, NAK, INFORM,
 * a deterministic pool; malformed frames are dropped, never thrown on.
 */
import { describe, expect, it } from 'vitest';
import type { NetFrame } from '../../../harness/backends/netback.js';
import { DHCPACK, DHCPDISCOVER, DHCPINFORM, DHCPNAK, DHCPOFFER, DHCPREQUEST, Gateway, inetChecksum, ipString, parseIp } from '../../../harness/net/gateway.js';
import { Switch } from '../../../harness/net/switch.js';
import { arpRequest, dhcpMessage, echoRequest, eth, parseDhcpReply } from './frames.js';

const M1 = '00:16:3e:00:00:01';
const M2 = '00:16:3e:00:00:02';
const GW = parseIp('10.0.0.1');
const ip4 = (s: string) => {
  const v = parseIp(s);
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
};

function rig() {
  const sw = new Switch();
  const gw = new Gateway(sw);
  const got: NetFrame[] = [];
  const guest = sw.attach('guest', (f) => got.push(f));
  const send = (data: Uint8Array): Uint8Array[] => {
    got.length = 0;
    sw.send(guest, { data });
    return got.map((f) => f.data);
  };
  return { sw, gw, guest, send };
}

describe('gateway', () => {
  it('answers ARP for its address only', () => {
    const { send, gw } = rig();
    const [r, ...more] = send(arpRequest(M1, parseIp('10.0.0.100'), GW));
    expect(more).toHaveLength(0);
    const dv = new DataView(r!.buffer);
    expect(Array.from(r!.subarray(0, 6))).toEqual([0, 0x16, 0x3e, 0, 0, 1]);
    expect(dv.getUint16(12)).toBe(0x0806);
    expect(dv.getUint16(20)).toBe(2);
    expect(Array.from(r!.subarray(22, 28))).toEqual(Array.from(gw.mac));
    expect(ipString(dv.getUint32(28))).toBe('10.0.0.1');
    expect(ipString(dv.getUint32(38))).toBe('10.0.0.100');
    expect(send(arpRequest(M1, parseIp('10.0.0.100'), parseIp('10.0.0.7')))).toHaveLength(0);
  });

  it('answers ICMP echo with the same id, sequence and data and valid checksums', () => {
    const { send, gw } = rig();
    const data = Array.from({ length: 56 }, (_, i) => i);
    const [r] = send(echoRequest(gw.mac, M1, parseIp('10.0.0.100'), GW, 0x1234, 7, data));
    const dv = new DataView(r!.buffer);
    expect(ipString(dv.getUint32(26))).toBe('10.0.0.1');
    expect(ipString(dv.getUint32(30))).toBe('10.0.0.100');
    expect(inetChecksum(r!, 14, 20)).toBe(0);
    const icmp = r!.subarray(34);
    expect([icmp[0], dv.getUint16(38), dv.getUint16(40)]).toEqual([0, 0x1234, 7]);
    expect(Array.from(icmp.subarray(8))).toEqual(data);
    expect(inetChecksum(icmp, 0, icmp.length)).toBe(0);
    expect(gw.stats.echoReplies).toBe(1);
  });

  it('DHCP: DISCOVER → OFFER, REQUEST → ACK with router, mask, DNS and lease (udhcpc\'s exchange)', () => {
    const { send } = rig();
    const [o] = send(dhcpMessage(M1, DHCPDISCOVER, 0xabcd, [[55, 1, 3, 6, 12, 15, 28, 42]]));
    const offer = parseDhcpReply(o!);
    expect(offer).toMatchObject({ op: 2, type: DHCPOFFER, xid: 0xabcd, sport: 67, dport: 68, ipChecksumOk: true });
    expect(ipString(offer.yiaddr)).toBe('10.0.0.100');
    expect(offer.dstMac).toEqual([0, 0x16, 0x3e, 0, 0, 1]); // unicast to chaddr (no broadcast flag)
    expect(ipString(offer.dstIp)).toBe('10.0.0.100');
    expect(offer.opts.get(54)).toEqual(ip4('10.0.0.1'));
    const [a] = send(dhcpMessage(M1, DHCPREQUEST, 0xabce, [[50, ...ip4('10.0.0.100')], [54, ...ip4('10.0.0.1')]]));
    const ack = parseDhcpReply(a!);
    expect(ack).toMatchObject({ type: DHCPACK, xid: 0xabce });
    expect(ipString(ack.yiaddr)).toBe('10.0.0.100');
    expect(ack.opts.get(1)).toEqual(ip4('255.255.255.0'));
    expect(ack.opts.get(3)).toEqual(ip4('10.0.0.1'));
    expect(ack.opts.get(6)).toEqual(ip4('10.0.0.1'));
    expect(ack.opts.get(51)).toEqual([0, 1, 0x51, 0x80]);
    // The UDP checksum checks out over the pseudo-header.
    const udp = a!.subarray(34);
    const len = udp.length;
    const pseudo = (GW >>> 16) + (GW & 0xffff) + (ack.dstIp >>> 16) + (ack.dstIp & 0xffff) + 17 + len;
    expect(inetChecksum(udp, 0, len, pseudo)).toBe(0);
  });

  it('the pool is handed out in order of first request and stays with the MAC; broadcast flag honoured', () => {
    const { send } = rig();
    const y = (mac: string) => ipString(parseDhcpReply(send(dhcpMessage(mac, DHCPDISCOVER, 1))[0]!).yiaddr);
    expect([y(M2), y(M1), y(M2)]).toEqual(['10.0.0.100', '10.0.0.101', '10.0.0.100']);
    const b = parseDhcpReply(send(dhcpMessage(M1, DHCPDISCOVER, 2, [], { broadcast: true }))[0]!);
    expect(b.dstMac).toEqual([255, 255, 255, 255, 255, 255]);
    expect(b.dstIp).toBe(0xffffffff);
  });

  it('a REQUEST for someone else\'s address is NAKed (broadcast); one for another server is ignored; INFORM is ACKed', () => {
    const { send, gw } = rig();
    send(dhcpMessage(M1, DHCPDISCOVER, 1));
    const n = parseDhcpReply(send(dhcpMessage(M1, DHCPREQUEST, 2, [[50, ...ip4('10.0.0.150')]]))[0]!);
    expect([n.type, n.yiaddr, n.dstIp]).toEqual([DHCPNAK, 0, 0xffffffff]);
    expect(send(dhcpMessage(M1, DHCPREQUEST, 3, [[50, ...ip4('10.0.0.100')], [54, ...ip4('10.9.9.9')]]))).toHaveLength(0);
    // Renewal: ciaddr set, no option 50.
    const r = parseDhcpReply(send(dhcpMessage(M1, DHCPREQUEST, 4, [], { ciaddr: parseIp('10.0.0.100'), src: parseIp('10.0.0.100') }))[0]!);
    expect([r.type, ipString(r.dstIp)]).toEqual([DHCPACK, '10.0.0.100']);
    const i = parseDhcpReply(send(dhcpMessage(M2, DHCPINFORM, 5, [], { ciaddr: parseIp('10.0.0.50'), src: parseIp('10.0.0.50') }))[0]!);
    expect([i.type, i.yiaddr]).toEqual([DHCPACK, 0]);
    expect(gw.stats).toMatchObject({ offers: 1, acks: 2, naks: 1 });
  });

  it('malformed frames are dropped with a reason, never thrown on', () => {
    const { send, gw } = rig();
    const bad: [Uint8Array, RegExp][] = [];
    const shortArp = arpRequest(M1, 1, GW).slice(0, 30);
    bad.push([shortArp, /short ARP/]);
    const badIpSum = echoRequest(gw.mac, M1, 5, GW, 1, 1, [1, 2]);
    badIpSum[24] = badIpSum[24]! ^ 0xff;
    bad.push([badIpSum, /IPv4 header checksum/]);
    const badLen = echoRequest(gw.mac, M1, 5, GW, 1, 1, [1, 2]);
    badLen[16] = 0xff;
    bad.push([badLen, /IPv4 length/]);
    const badIcmp = echoRequest(gw.mac, M1, 5, GW, 1, 1, [1, 2]);
    badIcmp[40] = badIcmp[40]! ^ 1;
    bad.push([badIcmp, /ICMP checksum/]);
    const noCookie = dhcpMessage(M1, DHCPDISCOVER, 1);
    noCookie[14 + 20 + 8 + 236] = 0;
    // Fix the UDP checksum so the cookie check is what fails: zero means "no checksum".
    noCookie[14 + 20 + 6] = 0;
    noCookie[14 + 20 + 7] = 0;
    bad.push([noCookie, /magic cookie/]);
    const badUdp = dhcpMessage(M1, DHCPDISCOVER, 1);
    badUdp[142] = badUdp[142]! ^ 1;
    bad.push([badUdp, /UDP checksum/]);
    const longOpt = dhcpMessage(M1, DHCPDISCOVER, 1, [[12, 1, 2]]);
    longOpt[14 + 20 + 8 + 244] = 200; // option 12's length past the end
    longOpt[14 + 20 + 6] = 0;
    longOpt[14 + 20 + 7] = 0;
    bad.push([longOpt, /option 12 past the end/]);
    for (const [f, why] of bad) {
      expect(send(f)).toHaveLength(0);
      expect(gw.lastDrop).toMatch(why);
    }
    expect(send(eth('00:16:3e:ff:ff:fe', M1, 0x0800, [0x45]))).toHaveLength(0);
    expect(gw.stats.dropped).toBe(bad.length + 1);
    expect(gw.leases.size).toBe(0);
  });

  it('a UDP checksum the sender declared blank (NETTXF_csum_blank) is not checked', () => {
    const { sw, guest, gw } = rig();
    const f = dhcpMessage(M1, DHCPDISCOVER, 9);
    f[14 + 20 + 6] = 0x12;
    sw.send(guest, { data: f, csumBlank: true });
    expect(gw.stats.offers).toBe(1);
    expect(gw.stats.dropped).toBe(0);
  });
});
