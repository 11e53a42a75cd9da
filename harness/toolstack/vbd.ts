/**
 * The toolstack's half of a virtual block device: the XenStore nodes libxl writes when it adds a
 * disk to a domain (libxl_disk.c `libxl__device_disk_add`, libxl_device.c
 * `libxl__device_generic_add`), and their removal. The backend (harness/backends/
 * blkback-xenbus.ts) takes it from there.
 *
 *  - frontend `/local/domain/D/device/vbd/DEVID`: backend, backend-id, state 1, virtual-device,
 *    device-type, trusted, and for a PV guest its native protocol; owned by the guest, the
 *    backend domain may read.
 *  - backend `/local/domain/0/backend/vbd/D/DEVID`: frontend, params, script, frontend-id,
 *    online, removable, bootable, state 1, dev, type, mode, device-type, discard-enable,
 *    specification; owned by the backend domain, the guest may read.
 *  - `/libxl/D/device/vbd/DEVID/{frontend,backend}`: the toolstack's own copy.
 */
import { XenStoreError, type HostConnection, type HostTransaction } from '../xenstore/host.js';

export interface VbdNodes {
  readonly domid: number;
  /** The virtual-device number (xvda: 51712). */
  readonly devid: number;
  /** The vdev as written in the config ("xvda"). */
  readonly vdev: string;
  /** The image path (`params`). */
  readonly target: string;
  readonly readwrite: boolean;
  readonly cdrom?: boolean;
  readonly discard?: boolean;
  readonly trusted?: boolean;
  /** The guest's native protocol ("x86_64-abi" for a PV64 guest). */
  readonly protocol?: string;
  readonly backendDomid?: number;
}

export function vbdPaths(domid: number, devid: number, backendDomid = 0): { frontend: string; backend: string; libxl: string } {
  return {
    frontend: `/local/domain/${domid}/device/vbd/${devid}`,
    backend: `/local/domain/${backendDomid}/backend/vbd/${domid}/${devid}`,
    libxl: `/libxl/${domid}/device/vbd/${devid}`,
  };
}

/** Writes a disk's frontend and backend directories in one transaction, as libxl does. */
export function addVbdNodes(xs: HostConnection, v: VbdNodes): { frontend: string; backend: string } {
  const bd = v.backendDomid ?? 0;
  const p = vbdPaths(v.domid, v.devid, bd);
  const frontPerms = [`n${v.domid}`, `r${bd}`];
  const backPerms = [`n${bd}`, `r${v.domid}`];
  xs.transaction((t) => {
    t.write(`${p.libxl}/frontend`, p.frontend);
    t.write(`${p.libxl}/backend`, p.backend);
    rmIfPresent(t, p.frontend);
    t.mkdir(p.frontend);
    t.setPerms(p.frontend, frontPerms);
    t.writeWithPerms(`${p.frontend}/backend`, p.backend, frontPerms);
    const front: [string, string][] = [
      ['backend-id', String(bd)],
      ['state', '1'],
      ['virtual-device', String(v.devid)],
      ['device-type', v.cdrom === true ? 'cdrom' : 'disk'],
      ['trusted', v.trusted === false ? '0' : '1'],
    ];
    if (v.protocol !== undefined) front.push(['protocol', v.protocol]);
    for (const [k, val] of front) t.writeWithPerms(`${p.frontend}/${k}`, val, frontPerms);

    rmIfPresent(t, p.backend);
    t.mkdir(p.backend);
    t.setPerms(p.backend, backPerms);
    t.write(`${p.backend}/frontend`, p.frontend);
    const back: [string, string][] = [
      ['params', v.target],
      ['script', '/etc/xen/scripts/block'],
      ['frontend-id', String(v.domid)],
      ['online', '1'],
      ['removable', '0'],
      ['bootable', '1'],
      ['state', '1'],
      ['dev', v.vdev],
      ['type', 'phy'],
      ['mode', v.readwrite ? 'w' : 'r'],
      ['device-type', v.cdrom === true ? 'cdrom' : 'disk'],
      ['discard-enable', v.discard === false ? '0' : '1'],
      ['specification', 'xen'],
    ];
    for (const [k, val] of back) t.write(`${p.backend}/${k}`, val);
  });
  return { frontend: p.frontend, backend: p.backend };
}

/** Removes the device's directories (libxl's device removal after the backend closed). */
export function removeVbdNodes(xs: HostConnection, domid: number, devid: number, backendDomid = 0): void {
  const p = vbdPaths(domid, devid, backendDomid);
  xs.transaction((t) => {
    rmIfPresent(t, p.frontend);
    rmIfPresent(t, p.backend);
    rmIfPresent(t, p.libxl);
  });
}

/** RM that tolerates ENOENT, as libxl's `xs_rm(...) || errno == ENOENT`. */
function rmIfPresent(t: HostTransaction, path: string): void {
  try {
    t.rm(path);
  } catch (e) {
    if (!(e instanceof XenStoreError && e.errno === 'ENOENT')) throw e;
  }
}
