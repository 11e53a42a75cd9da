/**
 * blkback's XenbusState handshake (harness/backends/blkback-xenbus.ts) over the XenStore host
 * API, with the toolstack's nodes from harness/toolstack/vbd.ts and a test frontend that does
 * what Linux's blkfront (or GRUB's) does in XenStore: InitWait → ring-ref/event-channel/
 * protocol → Initialised → Connected; Closing/Closed; reconnection; multi-page rings;
 * malformed frontend keys end in xenbus_dev_fatal's error node and Closing.
 */
import { describe, expect, it } from 'vitest';
import { BLKIF_RSP_OKAY, VDISK_READONLY } from '../../../abi/public/io/blkif.js';
import { VbdBackend } from '../../../harness/backends/blkback-xenbus.js';
import { memoryImage } from '../../../harness/backends/disk-image.js';
import { addVbdNodes, removeVbdNodes, vbdPaths } from '../../../harness/toolstack/vbd.js';
import { XenStore } from '../../../harness/xenstore/host.js';
import { BlkIo, pattern, same, SECTOR } from './blk-io.js';
import { blkWorld, TestBlkfront, type FrontOptions } from './blkfront.js';

const DEVID = 51712;

function rig(o: { readonly?: boolean; persistent?: boolean } = {}) {
  const w = blkWorld();
  const xs = new XenStore({ domainExists: (d) => d <= 2 });
  const h = xs.host;
  const base = pattern(256, 60);
  const image = memoryImage(base.slice(), o.readonly === true ? 'ro' : 'overlay');
  const paths = addVbdNodes(h, { domid: 1, devid: DEVID, vdev: 'xvda', target: '/images/disk.img', readwrite: o.readonly !== true, protocol: 'x86_64-abi' });
  const log: string[] = [];
  const vbd = new VbdBackend({ xs, events: w.xen.events, grants: w.hub, frontend: 1, devid: DEVID, image, log: (l) => log.push(l) });
  const fe = (k: string) => h.read(`${paths.frontend}/${k}`);
  const be = (k: string) => h.read(`${paths.backend}/${k}`);
  /** The frontend driver: publish a ring and go Initialised (Linux blkfront `talk_to_blkback`). */
  const frontConnect = (fo: FrontOptions & { order?: number } = {}) => {
    const f = new TestBlkfront(w, fo);
    h.transaction((t) => {
      if (fo.order === undefined) t.write(`${paths.frontend}/ring-ref`, String(f.ringRefs[0]));
      else {
        t.write(`${paths.frontend}/ring-page-order`, String(fo.order));
        f.ringRefs.forEach((r, i) => t.write(`${paths.frontend}/ring-ref${i}`, String(r)));
      }
      t.write(`${paths.frontend}/event-channel`, String(f.port));
      t.write(`${paths.frontend}/protocol`, f.protocol);
      t.write(`${paths.frontend}/feature-persistent`, f.persistent ? '1' : '0');
      t.write(`${paths.frontend}/state`, '3');
    });
    return f;
  };
  const hostMaps = () => w.hub.mappings().filter((m) => m.mapper === 0).length;
  return { w, xs, h, paths, vbd, fe, be, frontConnect, image, base, log, hostMaps };
}

describe('blkback xenbus handshake', () => {
  it('the toolstack writes libxl\'s nodes with libxl\'s permissions', () => {
    const { h, paths } = rig();
    expect(paths).toEqual({ frontend: '/local/domain/1/device/vbd/51712', backend: '/local/domain/0/backend/vbd/1/51712' });
    expect(h.directory(paths.frontend)).toEqual(['backend', 'backend-id', 'state', 'virtual-device', 'device-type', 'trusted', 'protocol']);
    expect(h.read(`${paths.frontend}/backend`)).toBe(paths.backend);
    expect(h.getPerms(paths.frontend)).toEqual(['n1', 'r0']);
    expect(h.getPerms(`${paths.frontend}/state`)).toEqual(['n1', 'r0']);
    expect(h.getPerms(paths.backend)).toEqual(['n0', 'r1']);
    expect(h.getPerms(`${paths.backend}/params`)).toEqual(['n0', 'r1']);
    for (const [k, v] of Object.entries({ frontend: paths.frontend, 'frontend-id': '1', online: '1', state: '1', dev: 'xvda', type: 'phy', mode: 'w', params: '/images/disk.img', 'device-type': 'disk' })) {
      expect(h.read(`${paths.backend}/${k}`)).toBe(v);
    }
    expect(h.read(`${vbdPaths(1, DEVID).libxl}/backend`)).toBe(paths.backend);
  });

  it('InitWait with features, Connected once the frontend published its ring; I/O works', () => {
    const { vbd, be, frontConnect, base, hostMaps } = rig();
    vbd.start();
    expect(be('state')).toBe('2');
    expect(be('feature-persistent')).toBe('1');
    expect(be('feature-max-indirect-segments')).toBe('256');
    expect(be('max-ring-page-order')).toBe('4');
    expect(be('feature-flush-cache')).toBe('1');
    expect(be('feature-discard')).toBe('1');
    expect(be('discard-granularity')).toBe('512');
    expect(be('sectors')).toBe('256');
    expect(be('info')).toBe('0');
    expect(be('sector-size')).toBe('512');
    expect(be('physical-sector-size')).toBe('512');
    expect(be('hotplug-status')).toBe('connected');
    const f = frontConnect();
    expect(be('state')).toBe('4');
    expect(vbd.blkback.protocol).toBe('x86_64-abi');
    const io = new BlkIo(f);
    const r = io.read(10, 4);
    expect(r.status).toBe(BLKIF_RSP_OKAY);
    expect(same(r.data, base.subarray(10 * SECTOR, 14 * SECTOR))).toBe(true);
    expect(hostMaps()).toBe(1);
  });

  it('a read-only disk says so in info and offers no flush or discard', () => {
    const { vbd, be } = rig({ readonly: true });
    vbd.start();
    expect(Number(be('info')) & VDISK_READONLY).toBe(VDISK_READONLY);
    expect([be('feature-flush-cache'), be('feature-discard')]).toEqual(['0', '0']);
  });

  it('a frontend already Initialised when the backend starts (GRUB) is connected at once', () => {
    const { vbd, be, frontConnect } = rig();
    const f = frontConnect({ protocol: 'x86_32-abi' });
    vbd.start();
    expect(be('state')).toBe('4');
    expect(vbd.blkback.protocol).toBe('x86_32-abi');
    expect(new BlkIo(f).read(0, 1).status).toBe(BLKIF_RSP_OKAY);
  });

  it('multi-page rings through ring-page-order and ring-ref0..N', () => {
    const { vbd, be, frontConnect } = rig();
    vbd.start();
    const f = frontConnect({ ringPages: 4, order: 2 });
    expect(be('state')).toBe('4');
    expect(vbd.blkback.ringState()?.size).toBe(128);
    expect(new BlkIo(f).read(0, 8).status).toBe(BLKIF_RSP_OKAY);
  });

  it('Closing, Closed, and a reconnect with a new ring; nothing stays mapped between', () => {
    const { vbd, h, paths, be, frontConnect, hostMaps } = rig();
    vbd.start();
    const f1 = frontConnect({ persistent: true });
    const io1 = new BlkIo(f1);
    const data = pattern(8, 61);
    expect(io1.write(20, data).status).toBe(BLKIF_RSP_OKAY);
    expect(hostMaps()).toBeGreaterThan(1);
    h.write(`${paths.frontend}/state`, '5');
    expect(be('state')).toBe('5');
    h.write(`${paths.frontend}/state`, '6');
    expect(be('state')).toBe('6');
    expect(hostMaps()).toBe(0);
    expect(vbd.blkback.connected).toBe(false);
    // The frontend comes back (a new kernel, or Linux after GRUB).
    h.write(`${paths.frontend}/state`, '1');
    expect(be('state')).toBe('2');
    const f2 = frontConnect();
    expect(be('state')).toBe('4');
    const r = new BlkIo(f2).read(20, 8);
    expect(same(r.data, data)).toBe(true);
    // Connected written twice in a row changes nothing.
    h.write(`${paths.frontend}/state`, '4');
    expect(be('state')).toBe('4');
    expect(hostMaps()).toBe(1);
  });

  it('the toolstack removing the device disconnects and stops the backend', () => {
    const { vbd, h, frontConnect, hostMaps } = rig();
    vbd.start();
    frontConnect({ persistent: true });
    removeVbdNodes(h, 1, DEVID);
    expect(vbd.removed).toBe(true);
    expect(hostMaps()).toBe(0);
  });

  it('Closed with online 0 removes the device', () => {
    const { vbd, h, paths, frontConnect, hostMaps } = rig();
    vbd.start();
    frontConnect();
    h.write(`${paths.backend}/online`, '0');
    h.write(`${paths.frontend}/state`, '6');
    expect(vbd.removed).toBe(true);
    expect(hostMaps()).toBe(0);
  });

  it('malformed frontend keys: an error node, Closing, nothing mapped', () => {
    const cases: [string, (h: XenStore['host'], fe: string) => void, RegExp][] = [
      ['protocol', (h, fe) => h.write(`${fe}/protocol`, 'arm-abi'), /unknown fe protocol arm-abi/],
      ['ring-ref', (h, fe) => h.write(`${fe}/ring-ref`, 'zero'), /reading .*ring-ref/],
      ['grant', (h, fe) => h.write(`${fe}/ring-ref`, '400'), /mapping ring-ref 400/],
      ['order', (h, fe) => h.write(`${fe}/ring-page-order`, '5'), /ring page order 5 exceed max:4/],
      ['queues', (h, fe) => h.write(`${fe}/multi-queue-num-queues`, '4'), /requested 4 queues/],
      ['port', (h, fe) => h.write(`${fe}/event-channel`, '77'), /binding event-channel 77/],
    ];
    for (const [, spoil, why] of cases) {
      const { vbd, h, paths, be, hostMaps, w } = rig();
      vbd.start();
      const f = new TestBlkfront(w);
      h.write(`${paths.frontend}/ring-ref`, String(f.ringRefs[0]));
      h.write(`${paths.frontend}/event-channel`, String(f.port));
      spoil(h, paths.frontend);
      h.write(`${paths.frontend}/state`, '3');
      expect(be('state')).toBe('5');
      expect(h.read('/local/domain/0/error/backend/vbd/1/51712/error')).toMatch(why);
      expect(vbd.errors.length).toBe(1);
      expect(hostMaps()).toBe(0);
    }
  });

  it('a nonsense frontend state is fatal', () => {
    const { vbd, h, paths, be } = rig();
    vbd.start();
    h.write(`${paths.frontend}/state`, '42');
    expect(be('state')).toBe('5');
    expect(vbd.errors[0]).toMatch(/saw state 42 at frontend/);
  });
});
