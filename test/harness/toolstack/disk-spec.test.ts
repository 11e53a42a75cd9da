/**
 * xl.cfg DISKSPEC parsing (harness/toolstack/disk-spec.ts) on the examples of
 * xl-disk-configuration(5), the deprecated forms, libxlu's error messages, and the
 * virtual-device numbers of xen-vbd-interface(7).
 */
import { describe, expect, it } from 'vitest';
import { parseDiskSpec, vdevNumber, type DiskSpec } from '../../../harness/toolstack/disk-spec.js';

const ok = (s: string): DiskSpec => {
  const r = parseDiskSpec(s);
  if (typeof r === 'string') throw new Error(`${s}: ${r}`);
  return r;
};
const pick = (d: DiskSpec) => ({ target: d.target, format: d.format, vdev: d.vdev, readwrite: d.readwrite, cdrom: d.cdrom });

describe('DISKSPEC', () => {
  it('the man page\'s equivalent disk forms', () => {
    const want = { target: '/dev/vg/guest-volume', format: 'raw', vdev: 'hda', readwrite: true, cdrom: false };
    for (const s of ['/dev/vg/guest-volume,,hda', '/dev/vg/guest-volume,raw,hda,rw', 'format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume', 'raw:/dev/vg/guest-volume,hda,w']) {
      expect(pick(ok(s)), s).toEqual(want);
    }
  });

  it('the man page\'s equivalent cdrom forms', () => {
    const want = { target: '/root/image.iso', format: 'raw', vdev: 'hdc', readwrite: false, cdrom: true };
    for (const s of ['/root/image.iso,,hdc,cdrom', '/root/image.iso,,hdc,,cdrom', '/root/image.iso,raw,hdc,devtype=cdrom', 'format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso', 'raw:/root/image.iso,hdc:cdrom,ro']) {
      expect(pick(ok(s)), s).toEqual(want);
    }
    expect(pick(ok(',hdc:cdrom,r'))).toEqual({ target: '', format: 'empty', vdev: 'hdc', readwrite: false, cdrom: true });
  });

  it('xenlab\'s usual forms: file: prefix, positional with format, key=value', () => {
    expect(pick(ok('file:/path/img,xvda,w'))).toEqual({ target: '/path/img', format: 'raw', vdev: 'xvda', readwrite: true, cdrom: false });
    expect(pick(ok('phy:/dev/sdb,xvdb,r'))).toEqual({ target: '/dev/sdb', format: 'raw', vdev: 'xvdb', readwrite: false, cdrom: false });
    expect(pick(ok('/path/img,raw,xvda,rw'))).toEqual({ target: '/path/img', format: 'raw', vdev: 'xvda', readwrite: true, cdrom: false });
    // target= eats the rest of the spec, as in libxlu: it must come last.
    expect(parseDiskSpec('target=/path/img,vdev=xvda,access=rw,format=raw')).toMatch(/no vdev specified \(target= takes the rest of the spec/);
    expect(pick(ok('vdev=xvda,access=ro,format=raw,target=/path/with,comma.img'))).toEqual({ target: '/path/with,comma.img', format: 'raw', vdev: 'xvda', readwrite: false, cdrom: false });
    const d = ok('/img,,xvda,w,no-discard,untrusted,backendtype=phy,direct-io-safe');
    expect([d.discard, d.trusted, d.backendtype, d.directIoSafe, d.devid]).toEqual([false, false, 'phy', true, 51712]);
    expect(ok('/img,qcow2,xvdc').format).toBe('qcow2');
    expect(ok('nbd:host:1234,xvda').script).toBe('block-nbd');
  });

  it('refusals read as libxlu words them', () => {
    const cases: [string, RegExp][] = [
      ['/img,,xvda,rx', /unknown value for access: near `rx'/],
      ['/img,vmdk,xvda', /unknown value for format: near `vmdk'/],
      ['/img,,xvda,w,extra', /too many positional parameters: near `extra'/],
      ['/img,raw', /no vdev specified/],
      ['vdev=xvda', /no target specified/],
      ['/img,,xvda,devtype=floppy', /unknown value for type/],
      ['/img,,xvda,colour=red', /unknown parameter: near `colour=r'/],
      ['foo:/img,xvda', /unknown deprecated disk prefix/],
      ['/img,,xvda,backendtype=magic', /unknown value for backendtype/],
      ['/img,,xvda,vdev=xvdb', /vdev respecified/],
      ['/img,,floppy0', /invalid or unsupported virtual disk identifier floppy0/],
      ['/img,,xvda:tape', /unknown deprecated type: near `tape'/],
    ];
    for (const [s, re] of cases) expect(parseDiskSpec(s), s).toMatch(re);
  });
});

describe('virtual-device numbers', () => {
  it('xen-vbd-interface(7)\'s encodings', () => {
    const cases: [string, number][] = [
      ['xvda', 51712],
      ['xvdb', 51728],
      ['xvda1', 51713],
      ['xvdp15', (202 << 8) | (15 << 4) | 15],
      ['xvdq', (1 << 28) | (16 << 8)],
      ['xvdb16', (1 << 28) | (1 << 8) | 16],
      ['xvdz', (1 << 28) | (25 << 8)],
      ['xvdaa', (1 << 28) | (26 << 8)],
      ['xvdtq37', (1 << 28) | (536 << 8) | 37],
      ['d0p0', 51712],
      ['d1p2', 51730],
      ['d536p37', (1 << 28) | (536 << 8) | 37],
      ['hda', 3 << 8],
      ['hdb', (3 << 8) | 64],
      ['hdc2', (22 << 8) | 2],
      ['hdd63', (22 << 8) | 64 | 63],
      ['sda', 8 << 8],
      ['sdb3', (8 << 8) | 16 | 3],
      ['51712', 51712],
      ['0xca00', 51712],
      ['0145000', 51712],
    ];
    for (const [v, n] of cases) expect(vdevNumber(v), v).toBe(n);
  });

  it('refuses what libxl refuses', () => {
    for (const v of ['xvd', 'xvda0', 'xvda01', 'xvda256', 'hde', 'hda64', 'sdq', 'sda16', 'vda', 'xvdA', '', 'd1p', '-1']) expect(vdevNumber(v), v).toBeUndefined();
  });
});
