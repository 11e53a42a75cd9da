/** xl.cfg vif specs (harness/toolstack/nic-spec.ts): keys, flags, defaults, deterministic MACs, refusals. */
import { describe, expect, it } from 'vitest';
import { defaultMac, parseNicSpec, type NicSpec } from '../../../harness/toolstack/nic-spec.js';

const ok = (spec: string, i = 0, name = 'guest'): NicSpec => {
  const r = parseNicSpec(spec, i, name);
  if (typeof r === 'string') throw new Error(r);
  return r;
};

describe('vif spec', () => {
  it('parses the man page examples', () => {
    expect(ok('mac=00:16:3E:74:3d:76,model=rtl8139,bridge=xenbr0')).toMatchObject({ mac: '00:16:3e:74:3d:76', model: 'rtl8139', bridge: 'xenbr0', devid: 0, macDefault: false });
    expect(ok('mac=00:16:3e:5f:48:e4,bridge=xenbr1', 1)).toMatchObject({ bridge: 'xenbr1', devid: 1 });
    expect(ok('')).toMatchObject({ bridge: 'xenbr0', mtu: 1500, trusted: true, macDefault: true, ip: undefined });
  });

  it('takes ip, script, vifname, gatewaydev/netdev, mtu, devid, vlan, type, trusted flags; spaces after commas', () => {
    const s = ok('ip=10.0.0.5, script=vif-route,vifname=v0,netdev=eth1,mtu=9000,devid=3,vlan=10/20,type=vif,untrusted,accel=x');
    expect(s).toMatchObject({ ip: '10.0.0.5', script: 'vif-route', vifname: 'v0', gatewaydev: 'eth1', mtu: 9000, devid: 3, vlan: '10/20', trusted: false });
    expect(ok('mac=0:16:3e:1:2:3').mac).toBe('00:16:3e:01:02:03');
  });

  it('default MACs are in Xen\'s OUI, deterministic per name and devid, and differ between devices', () => {
    const a = ok('', 0, 'one').mac;
    expect(a).toMatch(/^00:16:3e:[0-7][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}$/);
    expect(ok('', 0, 'one').mac).toBe(a);
    expect(defaultMac('one', 0)).toBe(a);
    expect(ok('', 1, 'one').mac).not.toBe(a);
    expect(ok('', 0, 'two').mac).not.toBe(a);
  });

  it('refuses what it cannot honour, with xl\'s words where xl has them', () => {
    const cases: [string, RegExp][] = [
      ['mac=00:16:3e:00:00', /invalid mac/],
      ['mac=01:00:5e:00:00:01', /multicast/],
      ['colour=red', /unrecognized argument `colour=red'/],
      ['bogus', /unrecognized argument `bogus'/],
      ['type=pci', /invalid type/],
      ['mtu=x', /invalid mtu/],
      ['mtu=20', /out of range/],
      ['rate=10Mb/s', /rate is not supported/],
      ['backend=driver', /domain 0 only/],
      ['colo_compare_out=x', /no COLO/],
      ['bridge=', /bridge is empty/],
    ];
    for (const [spec, why] of cases) expect(parseNicSpec(spec, 0, 'g')).toMatch(why);
  });
});
