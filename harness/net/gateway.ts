/**
 * The built-in gateway host on the virtual network: one port on the switch that answers ARP for
 * its address, ICMP echo to its address, and serves DHCP (RFC 2131/2132) the way busybox udhcpc
 * expects: DISCOVER → OFFER, REQUEST → ACK (or NAK for an address that is not the client's),
 * INFORM → ACK, RELEASE/DECLINE noted. Pure packet logic over Ethernet frames; nothing reaches
 * the host's network.
 *
 * Deterministic: addresses come from a fixed pool in the order MACs first ask (the first client
 * gets `poolStart`, the next `poolStart + 1`, ...), a MAC keeps its address for the life of the
 * gateway, and replies go out in the order requests arrive.
 *
 * Frames are hostile too: anything malformed (short headers, lengths past the frame, bad IPv4
 * header checksum, bad ICMP checksum, a UDP checksum that is wrong while the sender did not
 * declare it blank, DHCP without the magic cookie or with options running past the end) is
 * dropped and counted, never thrown on.
 */
import type { NetFrame } from '../backends/netback.js';
import { macString, type Switch, type SwitchPort } from './switch.js';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const IPPROTO_ICMP = 1;
export const IPPROTO_UDP = 17;
export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
export const DHCP_MAGIC = 0x63825363;
export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPDECLINE = 4;
export const DHCPACK = 5;
export const DHCPNAK = 6;
export const DHCPRELEASE = 7;
export const DHCPINFORM = 8;
const BOOTP_MIN = 300;

export interface GatewayOptions {
  /** The gateway's MAC (default 00:16:3e:ff:ff:fe). */
  readonly mac?: string;
  /** Its IPv4 address (default 10.0.0.1), the router and DNS option handed out. */
  readonly ip?: string;
  /** Prefix length of the network (default 24). */
  readonly prefix?: number;
  /** First address of the pool (default 10.0.0.100) and its size (default 100). */
  readonly poolStart?: string;
  readonly poolSize?: number;
  /** Lease seconds (default 86400). */
  readonly leaseTime?: number;
  /** DNS server option (default: the gateway's address). */
  readonly dns?: string;
}

export interface GatewayStats {
  arpReplies: number;
  echoReplies: number;
  offers: number;
  acks: number;
  naks: number;
  dropped: number;
}

export function parseIp(s: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m === null || m.slice(1).some((x) => Number(x) > 255)) throw new Error(`bad IPv4 address "${s}"`);
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

export function ipString(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

export function parseMac(s: string): Uint8Array {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(s)) throw new Error(`bad MAC address "${s}"`);
  return Uint8Array.from(s.split(':').map((x) => Number.parseInt(x, 16)));
}

/** The Internet checksum (RFC 1071) of `b[off, off+len)`, plus `initial` (a pseudo-header sum). */
export function inetChecksum(b: Uint8Array, off: number, len: number, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < len; i += 2) sum += ((b[off + i] as number) << 8) | (b[off + i + 1] as number);
  if (len & 1) sum += (b[off + len - 1] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function udpPseudo(src: number, dst: number, len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + IPPROTO_UDP + len;
}

/** An Ethernet + IPv4 frame around `payload` (protocol `proto`), header checksum filled in. */
export function ipv4Frame(dstMac: Uint8Array, srcMac: Uint8Array, src: number, dst: number, proto: number, payload: Uint8Array, id = 0): Uint8Array {
  const f = new Uint8Array(14 + 20 + payload.length);
  const dv = new DataView(f.buffer);
  f.set(dstMac, 0);
  f.set(srcMac, 6);
  dv.setUint16(12, ETHERTYPE_IPV4);
  dv.setUint8(14, 0x45);
  dv.setUint16(16, 20 + payload.length);
  dv.setUint16(18, id);
  dv.setUint16(20, 0x4000); // DF
  dv.setUint8(22, 64);
  dv.setUint8(23, proto);
  dv.setUint32(26, src);
  dv.setUint32(30, dst);
  dv.setUint16(24, inetChecksum(f, 14, 20));
  f.set(payload, 34);
  return f;
}

/** A UDP datagram (header + data) with its checksum over the pseudo-header. */
export function udpDatagram(src: number, dst: number, sport: number, dport: number, data: Uint8Array): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  const dv = new DataView(u.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  dv.setUint16(4, u.length);
  u.set(data, 8);
  const c = inetChecksum(u, 0, u.length, udpPseudo(src, dst, u.length));
  dv.setUint16(6, c === 0 ? 0xffff : c);
  return u;
}

interface Ip {
  readonly src: number;
  readonly dst: number;
  readonly proto: number;
  readonly payload: Uint8Array;
}

export class Gateway {
  readonly mac: Uint8Array;
  readonly ip: number;
  readonly mask: number;
  readonly dns: number;
  readonly stats: GatewayStats = { arpReplies: 0, echoReplies: 0, offers: 0, acks: 0, naks: 0, dropped: 0 };
  /** MAC → leased address, in order of first request. */
  readonly leases = new Map<string, number>();
  private readonly poolStart: number;
  private readonly poolSize: number;
  private readonly leaseTime: number;
  private readonly port: SwitchPort;
  private ipId = 0;
  /** Why the last frame was dropped (for tests and diagnostics). */
  lastDrop = '';

  constructor(
    private readonly sw: Switch,
    o: GatewayOptions = {},
  ) {
    this.mac = parseMac(o.mac ?? '00:16:3e:ff:ff:fe');
    this.ip = parseIp(o.ip ?? '10.0.0.1');
    const prefix = o.prefix ?? 24;
    this.mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    this.poolStart = parseIp(o.poolStart ?? '10.0.0.100');
    this.poolSize = o.poolSize ?? 100;
    this.leaseTime = o.leaseTime ?? 86400;
    this.dns = parseIp(o.dns ?? ipString(this.ip));
    this.port = sw.attach('gateway', (f) => this.receive(f));
  }

  private drop(why: string): void {
    this.stats.dropped++;
    this.lastDrop = why;
  }

  private reply(data: Uint8Array): void {
    this.sw.send(this.port, { data });
  }

  /** A frame the switch delivered to the gateway. */
  receive(frame: NetFrame): void {
    const d = frame.data;
    if (d.length < 14) return this.drop('runt');
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const dstMine = macString(d, 0) === macString(this.mac);
    const dstGroup = ((d[0] as number) & 1) !== 0;
    if (!dstMine && !dstGroup) return; // someone else's unicast, flooded to us
    const type = dv.getUint16(12);
    if (type === ETHERTYPE_ARP) return this.arp(d, dv);
    if (type === ETHERTYPE_IPV4) {
      const ip = this.ipv4(d, dv);
      if (ip === undefined) return;
      if (ip.proto === IPPROTO_ICMP && ip.dst === this.ip && dstMine) return this.icmp(d, ip, frame);
      if (ip.proto === IPPROTO_UDP) return this.udp(d, ip, frame);
    }
  }

  private arp(d: Uint8Array, dv: DataView): void {
    if (d.length < 14 + 28) return this.drop('short ARP');
    if (dv.getUint16(14) !== 1 || dv.getUint16(16) !== ETHERTYPE_IPV4 || d[18] !== 6 || d[19] !== 4) return this.drop('ARP not Ethernet/IPv4');
    if (dv.getUint16(20) !== 1) return; // replies and others: nothing to answer
    const tpa = dv.getUint32(38);
    if (tpa !== this.ip) return;
    const sha = d.slice(22, 28);
    const spa = dv.getUint32(28);
    const r = new Uint8Array(42);
    const rv = new DataView(r.buffer);
    r.set(sha, 0);
    r.set(this.mac, 6);
    rv.setUint16(12, ETHERTYPE_ARP);
    rv.setUint16(14, 1);
    rv.setUint16(16, ETHERTYPE_IPV4);
    r[18] = 6;
    r[19] = 4;
    rv.setUint16(20, 2);
    r.set(this.mac, 22);
    rv.setUint32(28, this.ip);
    r.set(sha, 32);
    rv.setUint32(38, spa);
    this.stats.arpReplies++;
    this.reply(r);
  }

  private ipv4(d: Uint8Array, dv: DataView): Ip | undefined {
    if (d.length < 34) return void this.drop('short IPv4');
    const vihl = d[14] as number;
    const ihl = (vihl & 15) * 4;
    if (vihl >> 4 !== 4 || ihl < 20) return void this.drop('not IPv4');
    const total = dv.getUint16(16);
    if (total < ihl || 14 + total > d.length) return void this.drop('IPv4 length past the frame');
    if (inetChecksum(d, 14, ihl) !== 0) return void this.drop('IPv4 header checksum');
    if ((dv.getUint16(20) & 0x3fff) !== 0) return void this.drop('IPv4 fragment');
    return { src: dv.getUint32(26), dst: dv.getUint32(30), proto: d[23] as number, payload: d.subarray(14 + ihl, 14 + total) };
  }

  private icmp(d: Uint8Array, ip: Ip, frame: NetFrame): void {
    const p = ip.payload;
    if (p.length < 8) return this.drop('short ICMP');
    if (frame.csumBlank !== true && inetChecksum(p, 0, p.length) !== 0) return this.drop('ICMP checksum');
    if (p[0] !== 8 || p[1] !== 0) return; // only echo requests are answered
    const r = p.slice();
    r[0] = 0;
    r[2] = 0;
    r[3] = 0;
    const c = inetChecksum(r, 0, r.length);
    r[2] = c >> 8;
    r[3] = c & 255;
    this.stats.echoReplies++;
    this.reply(ipv4Frame(d.slice(6, 12), this.mac, this.ip, ip.src, IPPROTO_ICMP, r, this.ipId++ & 0xffff));
  }

  private udp(d: Uint8Array, ip: Ip, frame: NetFrame): void {
    const u = ip.payload;
    if (u.length < 8) return this.drop('short UDP');
    const dv = new DataView(u.buffer, u.byteOffset, u.byteLength);
    const len = dv.getUint16(4);
    if (len < 8 || len > u.length) return this.drop('UDP length');
    const sum = dv.getUint16(6);
    if (sum !== 0 && frame.csumBlank !== true && inetChecksum(u, 0, len, udpPseudo(ip.src, ip.dst, len)) !== 0) return this.drop('UDP checksum');
    if (dv.getUint16(2) !== DHCP_SERVER_PORT) return;
    if (ip.dst !== this.ip && ip.dst !== 0xffffffff) return;
    this.dhcp(u.subarray(8, len));
  }

  /** The DHCP options of a BOOTP message (code → value), or a reason it is malformed. */
  private options(m: Uint8Array): Map<number, Uint8Array> | string {
    const out = new Map<number, Uint8Array>();
    let i = 240;
    while (i < m.length) {
      const code = m[i] as number;
      if (code === 255) return out;
      if (code === 0) {
        i++;
        continue;
      }
      if (i + 1 >= m.length) return 'option length past the end';
      const n = m[i + 1] as number;
      if (i + 2 + n > m.length) return `option ${code} past the end`;
      if (!out.has(code)) out.set(code, m.subarray(i + 2, i + 2 + n));
      i += 2 + n;
    }
    return out; // no end option: tolerated, as most servers do
  }

  private dhcp(m: Uint8Array): void {
    if (m.length < 240) return this.drop('short BOOTP');
    const dv = new DataView(m.buffer, m.byteOffset, m.byteLength);
    if (m[0] !== 1 || m[1] !== 1 || m[2] !== 6) return this.drop('BOOTP not an Ethernet request');
    if (dv.getUint32(236) !== DHCP_MAGIC) return this.drop('no DHCP magic cookie');
    const opts = this.options(m);
    if (typeof opts === 'string') return this.drop(opts);
    const t = opts.get(53);
    if (t === undefined || t.length !== 1) return this.drop('no DHCP message type');
    const chaddr = m.slice(28, 34);
    const mac = macString(chaddr);
    const ciaddr = dv.getUint32(12);
    const u32 = (code: number): number | undefined => {
      const v = opts.get(code);
      return v !== undefined && v.length === 4 ? new DataView(v.buffer, v.byteOffset, 4).getUint32(0) : undefined;
    };
    switch (t[0]) {
      case DHCPDISCOVER: {
        const a = this.lease(mac);
        if (a === undefined) return this.drop('address pool exhausted');
        this.stats.offers++;
        return this.answer(m, DHCPOFFER, a);
      }
      case DHCPREQUEST: {
        const server = u32(54);
        if (server !== undefined && server !== this.ip) return; // the client chose another server
        const want = u32(50) ?? ciaddr;
        const a = this.lease(mac);
        if (a === undefined || want !== a) {
          this.stats.naks++;
          return this.answer(m, DHCPNAK, 0);
        }
        this.stats.acks++;
        return this.answer(m, DHCPACK, a);
      }
      case DHCPINFORM:
        this.stats.acks++;
        return this.answer(m, DHCPACK, 0);
      case DHCPRELEASE:
      case DHCPDECLINE:
        return; // the address stays the MAC's: deterministic across a client's restarts
      default:
        return this.drop(`DHCP message type ${t[0]}`);
    }
  }

  /** The address of `mac`, allocating the next one of the pool on first sight. */
  private lease(mac: string): number | undefined {
    const have = this.leases.get(mac);
    if (have !== undefined) return have;
    if (this.leases.size >= this.poolSize) return undefined;
    const a = (this.poolStart + this.leases.size) >>> 0;
    this.leases.set(mac, a);
    return a;
  }

  private answer(req: Uint8Array, type: number, yiaddr: number): void {
    const opts: number[] = [53, 1, type, 54, 4, ...be32(this.ip)];
    if (type !== DHCPNAK) {
      if (yiaddr !== 0) opts.push(51, 4, ...be32(this.leaseTime));
      opts.push(1, 4, ...be32(this.mask), 3, 4, ...be32(this.ip), 6, 4, ...be32(this.dns));
    }
    opts.push(255);
    const m = new Uint8Array(Math.max(BOOTP_MIN, 240 + opts.length));
    const dv = new DataView(m.buffer);
    m[0] = 2; // BOOTREPLY
    m[1] = 1;
    m[2] = 6;
    m.set(req.subarray(4, 8), 4); // xid
    m.set(req.subarray(10, 12), 10); // flags
    if (type === DHCPACK && yiaddr === 0) m.set(req.subarray(12, 16), 12); // INFORM: ciaddr echoed
    dv.setUint32(16, yiaddr);
    dv.setUint32(20, this.ip); // siaddr
    m.set(req.subarray(24, 44), 24); // giaddr, chaddr
    dv.setUint32(236, DHCP_MAGIC);
    m.set(opts, 240);
    const broadcastFlag = (req[10] as number) & 0x80;
    const ciaddr = new DataView(req.buffer, req.byteOffset).getUint32(12);
    // RFC 2131 4.1: NAK and broadcast-flag replies are broadcast; else to ciaddr or to yiaddr at chaddr.
    const bcast = type === DHCPNAK || broadcastFlag !== 0 || (ciaddr === 0 && yiaddr === 0);
    const dstIp = bcast ? 0xffffffff : ciaddr !== 0 ? ciaddr : yiaddr;
    const dstMac = bcast ? new Uint8Array(6).fill(0xff) : req.slice(28, 34);
    this.reply(ipv4Frame(dstMac, this.mac, this.ip, dstIp, IPPROTO_UDP, udpDatagram(this.ip, dstIp, DHCP_SERVER_PORT, DHCP_CLIENT_PORT, m), this.ipId++ & 0xffff));
  }
}

function be32(v: number): number[] {
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}
