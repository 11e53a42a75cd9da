/**
 * xl.cfg `vif = [ 'VIFSPEC', ... ]` (xl-network-configuration(5)): comma-separated `key=value`
 * pairs and flags, split as xl does (xl_parse.c: strtok on ',', leading spaces skipped, empty
 * tokens ignored, `parse_nic_config` for each). Where xl only prints a complaint and goes on, we
 * refuse the spec, so a mistyped key is never silently a different network.
 *
 *  - mac: six hex octets separated by ':' (a multicast address is refused); default a
 *    deterministic address in Xen's OUI 00:16:3e (not libxl's random one): the low three octets
 *    come from a hash of the domain name and the devid, the top bit of the fourth cleared.
 *  - bridge (default xenbr0), ip, script, vifname, gatewaydev (netdev its deprecated alias),
 *    model, type (vif or ioemu; a PV guest gets a vif either way), mtu, devid (default: the
 *    index in the list), vlan, trusted/untrusted, accel (ignored, as xl does).
 *  - backend other than domain 0, rate and the colo_* keys: refused as unsupported.
 */

export interface NicSpec {
  readonly spec: string;
  readonly devid: number;
  /** Lower-case "00:16:3e:xx:xx:xx". */
  readonly mac: string;
  /** True when the mac was generated. */
  readonly macDefault: boolean;
  readonly bridge: string;
  readonly ip: string | undefined;
  readonly script: string | undefined;
  readonly vifname: string | undefined;
  readonly gatewaydev: string | undefined;
  readonly model: string | undefined;
  readonly mtu: number;
  readonly vlan: string | undefined;
  readonly trusted: boolean;
}

export const DEFAULT_NIC_BRIDGE = 'xenbr0';
export const DEFAULT_NIC_MTU = 1500;

/** FNV-1a, 32 bits. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The deterministic default MAC of device `devid` of domain `name`. */
export function defaultMac(name: string, devid: number): string {
  const h = fnv1a(`${name}/${devid}`);
  const b = [0x00, 0x16, 0x3e, (h >>> 16) & 0x7f, (h >>> 8) & 0xff, h & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function uint(v: string, what: string): number | string {
  if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) return `invalid ${what} "${v}"`;
  return Number(v);
}

/** Parses one VIFSPEC, `index` its position in the list, for domain `name`; a string is the error. */
export function parseNicSpec(spec: string, index: number, name: string): NicSpec | string {
  let mac: string | undefined;
  let bridge = DEFAULT_NIC_BRIDGE;
  let ip: string | undefined;
  let script: string | undefined;
  let vifname: string | undefined;
  let gatewaydev: string | undefined;
  let model: string | undefined;
  let mtu = DEFAULT_NIC_MTU;
  let devid = index;
  let vlan: string | undefined;
  let trusted = true;
  for (const raw of spec.split(',')) {
    const token = raw.replace(/^ +/, '');
    if (token === '') continue;
    if (token === 'trusted' || token === 'untrusted') {
      trusted = token === 'trusted';
      continue;
    }
    const eq = token.indexOf('=');
    if (eq < 0) return `unrecognized argument \`${token}'`;
    const key = token.slice(0, eq);
    const val = token.slice(eq + 1);
    switch (key) {
      case 'mac': {
        const m = /^([0-9a-fA-F]{1,2})(:[0-9a-fA-F]{1,2}){5}$/.exec(val);
        if (m === null) return `invalid mac "${val}" (six hex octets separated by ':')`;
        const b = val.split(':').map((x) => Number.parseInt(x, 16));
        if (((b[0] as number) & 1) !== 0) return `mac ${val} is a multicast address`;
        mac = b.map((x) => x.toString(16).padStart(2, '0')).join(':');
        break;
      }
      case 'bridge':
        if (val === '') return 'bridge is empty';
        bridge = val;
        break;
      case 'ip':
        ip = val;
        break;
      case 'script':
        script = val;
        break;
      case 'vifname':
        vifname = val;
        break;
      case 'netdev':
      case 'gatewaydev':
        gatewaydev = val;
        break;
      case 'model':
        model = val;
        break;
      case 'type':
        if (val !== 'vif' && val !== 'ioemu') return `invalid type "${val}" (vif or ioemu)`;
        break;
      case 'mtu': {
        const n = uint(val, 'mtu');
        if (typeof n === 'string') return n;
        if (n < 68 || n > 65535 - 14) return `mtu ${n} out of range (68..65521)`;
        mtu = n;
        break;
      }
      case 'devid': {
        const n = uint(val, 'devid');
        if (typeof n === 'string') return n;
        devid = n;
        break;
      }
      case 'vlan':
        vlan = val;
        break;
      case 'accel':
        break;
      case 'backend':
        if (val !== '0' && val !== 'Domain-0') return `backend=${val}: xenlab's backends run as domain 0 only`;
        break;
      case 'rate':
        return 'rate is not supported (xenlab does not shape traffic)';
      default:
        if (key.startsWith('colo_') || key === 'forwarddev') return `${key} is not supported (no COLO)`;
        return `unrecognized argument \`${token}'`;
    }
  }
  return {
    spec,
    devid,
    mac: mac ?? defaultMac(name, devid),
    macDefault: mac === undefined,
    bridge,
    ip,
    script,
    vifname,
    gatewaydev,
    model,
    mtu,
    vlan,
    trusted,
  };
}
