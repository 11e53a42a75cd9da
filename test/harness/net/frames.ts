/** Hand-built client frames for the switch and gateway tests (ARP, ICMP echo, DHCP as udhcpc sends them). */
import {
  DHCP_CLIENT_PORT,
  DHCP_MAGIC,
  DHCP_SERVER_PORT,
  ETHERTYPE_ARP,
  inetChecksum,
  IPPROTO_ICMP,
  IPPROTO_UDP,
  ipv4Frame,
  parseMac,
  udpDatagram,
} from '../../../harness/net/gateway.js';

export const BCAST = new Uint8Array(6).fill(0xff);

export function eth(dst: string, src: string, type = 0x88b5, payload: number[] = []): Uint8Array {
  const f = new Uint8Array(Math.max(60, 14 + payload.length));
  f.set(parseMac(dst), 0);
  f.set(parseMac(src), 6);
  f[12] = type >> 8;
  f[13] = type & 255;
  f.set(payload, 14);
  return f;
}

export function arpRequest(srcMac: string, srcIp: number, targetIp: number): Uint8Array {
  const f = new Uint8Array(42);
  const dv = new DataView(f.buffer);
  f.set(BCAST, 0);
  f.set(parseMac(srcMac), 6);
  dv.setUint16(12, ETHERTYPE_ARP);
  dv.setUint16(14, 1);
  dv.setUint16(16, 0x0800);
  f[18] = 6;
  f[19] = 4;
  dv.setUint16(20, 1);
  f.set(parseMac(srcMac), 22);
  dv.setUint32(28, srcIp);
  dv.setUint32(38, targetIp);
  return f;
}

export function echoRequest(dstMac: Uint8Array, srcMac: string, src: number, dst: number, id: number, seq: number, data: number[]): Uint8Array {
  const p = new Uint8Array(8 + data.length);
  p[0] = 8;
  p[4] = id >> 8;
  p[5] = id & 255;
  p[6] = seq >> 8;
  p[7] = seq & 255;
  p.set(data, 8);
  const c = inetChecksum(p, 0, p.length);
  p[2] = c >> 8;
  p[3] = c & 255;
  return ipv4Frame(dstMac, parseMac(srcMac), src, dst, IPPROTO_ICMP, p, 1);
}

/** A DHCP client message: type, xid, options beyond 53 as [code, ...bytes]. */
export function dhcpMessage(mac: string, type: number, xid: number, opts: number[][] = [], o: { ciaddr?: number; broadcast?: boolean; src?: number } = {}): Uint8Array {
  const optBytes = [53, 1, type, ...opts.flatMap((x) => [x[0] as number, x.length - 1, ...x.slice(1)]), 255];
  const m = new Uint8Array(240 + optBytes.length);
  const dv = new DataView(m.buffer);
  m[0] = 1;
  m[1] = 1;
  m[2] = 6;
  dv.setUint32(4, xid);
  if (o.broadcast === true) dv.setUint16(10, 0x8000);
  dv.setUint32(12, o.ciaddr ?? 0);
  m.set(parseMac(mac), 28);
  dv.setUint32(236, DHCP_MAGIC);
  m.set(optBytes, 240);
  const src = o.src ?? 0;
  return ipv4Frame(BCAST, parseMac(mac), src, 0xffffffff, IPPROTO_UDP, udpDatagram(src, 0xffffffff, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, m), 2);
}

/** The parsed DHCP reply in a frame: type, yiaddr, options, L2/L3 destination. */
export function parseDhcpReply(f: Uint8Array) {
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const ihl = (f[14]! & 15) * 4;
  const u = 14 + ihl;
  const m = f.subarray(u + 8);
  const mv = new DataView(m.buffer, m.byteOffset, m.byteLength);
  const opts = new Map<number, number[]>();
  for (let i = 240; i < m.length && m[i] !== 255; ) {
    if (m[i] === 0) {
      i++;
      continue;
    }
    opts.set(m[i]!, Array.from(m.subarray(i + 2, i + 2 + m[i + 1]!)));
    i += 2 + m[i + 1]!;
  }
  return {
    dstMac: Array.from(f.subarray(0, 6)),
    dstIp: dv.getUint32(30),
    sport: dv.getUint16(u),
    dport: dv.getUint16(u + 2),
    op: m[0],
    xid: mv.getUint32(4),
    yiaddr: mv.getUint32(16),
    type: opts.get(53)?.[0],
    opts,
    ipChecksumOk: inetChecksum(f, 14, ihl) === 0,
  };
}
