/**
 * The toolstack's half of a virtual network interface: the XenStore nodes libxl writes when it
 * adds a nic to a domain (libxl_nic.c `libxl__set_xenstore_nic`, libxl_device.c
 * `libxl__device_generic_add`), and their removal. The backend (harness/backends/
 * netback-xenbus.ts) takes it from there.
 *
 *  - frontend `/local/domain/D/device/vif/DEVID`: backend, backend-id, state 1, handle, mac,
 *    trusted; `mtu` read-only to the guest; owned by the guest, the backend domain may read.
 *  - backend `/local/domain/0/backend/vif/D/DEVID`: frontend, frontend-id, online, state 1,
 *    script, mac, ip (if set), bridge, handle, type "vif", hotplug-status ""; owned by the
 *    backend domain, the guest may read.
 *  - `/libxl/D/device/vif/DEVID/{frontend,backend}`: the toolstack's own copy.
 */
import { XenStoreError, type HostConnection, type HostTransaction } from '../xenstore/host.js';

export interface VifNodes {
  readonly domid: number;
  readonly devid: number;
  /** "00:16:3e:xx:xx:xx". */
  readonly mac: string;
  readonly bridge?: string;
  readonly ip?: string;
  readonly mtu?: number;
  readonly script?: string;
  readonly trusted?: boolean;
  readonly backendDomid?: number;
}

/** libxl's defaults (libxl__device_nic_setdefault): bridge xenbr0, script vif-bridge, mtu 1500. */
export const DEFAULT_BRIDGE = 'xenbr0';
export const DEFAULT_MTU = 1500;

export function vifPaths(domid: number, devid: number, backendDomid = 0): { frontend: string; backend: string; libxl: string } {
  return {
    frontend: `/local/domain/${domid}/device/vif/${devid}`,
    backend: `/local/domain/${backendDomid}/backend/vif/${domid}/${devid}`,
    libxl: `/libxl/${domid}/device/vif/${devid}`,
  };
}

/** Writes a nic's frontend and backend directories in one transaction, as libxl does. */
export function addVifNodes(xs: HostConnection, v: VifNodes): { frontend: string; backend: string } {
  const bd = v.backendDomid ?? 0;
  const p = vifPaths(v.domid, v.devid, bd);
  const frontPerms = [`n${v.domid}`, `r${bd}`];
  const roFrontPerms = [`n${bd}`, `r${v.domid}`];
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
      ['handle', String(v.devid)],
      ['mac', v.mac],
      ['trusted', v.trusted === false ? '0' : '1'],
    ];
    for (const [k, val] of front) t.writeWithPerms(`${p.frontend}/${k}`, val, frontPerms);
    t.writeWithPerms(`${p.frontend}/mtu`, String(v.mtu ?? DEFAULT_MTU), roFrontPerms);

    rmIfPresent(t, p.backend);
    t.mkdir(p.backend);
    t.setPerms(p.backend, backPerms);
    t.write(`${p.backend}/frontend`, p.frontend);
    const back: [string, string][] = [
      ['frontend-id', String(v.domid)],
      ['online', '1'],
      ['state', '1'],
      ['script', v.script ?? '/etc/xen/scripts/vif-bridge'],
      ['mac', v.mac],
    ];
    if (v.ip !== undefined) back.push(['ip', v.ip]);
    back.push(['mtu', String(v.mtu ?? DEFAULT_MTU)], ['bridge', v.bridge ?? DEFAULT_BRIDGE], ['handle', String(v.devid)], ['type', 'vif'], ['hotplug-status', '']);
    for (const [k, val] of back) t.write(`${p.backend}/${k}`, val);
  });
  return { frontend: p.frontend, backend: p.backend };
}

/** Removes the nic's directories (libxl's device removal after the backend closed). */
export function removeVifNodes(xs: HostConnection, domid: number, devid: number, backendDomid = 0): void {
  const p = vifPaths(domid, devid, backendDomid);
  xs.transaction((t) => {
    rmIfPresent(t, p.frontend);
    rmIfPresent(t, p.backend);
    rmIfPresent(t, p.libxl);
  });
}

function rmIfPresent(t: HostTransaction, path: string): void {
  try {
    t.rm(path);
  } catch (e) {
    if (!(e instanceof XenStoreError && e.errno === 'ENOENT')) throw e;
  }
}
