/**
 * A boot's network interfaces: the virtual network (one L2 switch per bridge name, each with
 * its own built-in gateway, harness/net/) and, for each xl.cfg `vif=` entry, libxl's vif nodes
 * and a netback at InitWait joined to its bridge's switch. Mirrors disks.ts. The network is
 * created once per run, so several domains of one run share it (and can reach each other).
 */
import type { EventHub } from '../../abi/evtchn/channels.js';
import type { GrantHub } from '../../abi/gnttab/grants.js';
import { VifBackend } from '../backends/netback-xenbus.js';
import { Gateway, type GatewayOptions } from '../net/gateway.js';
import { Switch, type SwitchPort } from '../net/switch.js';
import type { NicSpec } from '../toolstack/nic-spec.js';
import { addVifNodes, removeVifNodes } from '../toolstack/vif.js';
import type { XenStore } from '../xenstore/host.js';
import type { HostileBoot } from '../hostile/run.js';

/** The switches of a run, by bridge name, each with its gateway. */
export class VirtualNetwork {
  private readonly bridges = new Map<string, { sw: Switch; gateway: Gateway }>();
  constructor(private readonly gateway: GatewayOptions = {}) {}

  /** The bridge's switch, created (with its gateway) on first use. */
  bridge(name: string): { sw: Switch; gateway: Gateway } {
    let b = this.bridges.get(name);
    if (b === undefined) {
      const sw = new Switch(name);
      b = { sw, gateway: new Gateway(sw, this.gateway) };
      this.bridges.set(name, b);
    }
    return b;
  }

  get names(): string[] {
    return [...this.bridges.keys()];
  }
}

export interface AttachVifOptions {
  readonly xs: XenStore;
  readonly events: EventHub;
  readonly grants: GrantHub;
  readonly domid: number;
  readonly network: VirtualNetwork;
  readonly log?: (line: string) => void;
  /** A hostile run's backends (harness/hostile/): fault hooks on each vif. */
  readonly hostile?: HostileBoot;
}

export interface AttachedVif {
  readonly backend: VifBackend;
  readonly sw: Switch;
  readonly port: SwitchPort;
  readonly domid: number;
  readonly devid: number;
}

/** Adds each vif to the domain (vif nodes, backend at InitWait, a port on its bridge's switch). */
export function attachVifs(vifs: readonly NicSpec[], o: AttachVifOptions): AttachedVif[] {
  return vifs.map((spec) => {
    addVifNodes(o.xs.host, {
      domid: o.domid,
      devid: spec.devid,
      mac: spec.mac,
      bridge: spec.bridge,
      mtu: spec.mtu,
      trusted: spec.trusted,
      ...(spec.ip !== undefined ? { ip: spec.ip } : {}),
      ...(spec.script !== undefined ? { script: spec.script } : {}),
    });
    const { sw } = o.network.bridge(spec.bridge);
    let port: SwitchPort | undefined;
    const backend = new VifBackend({
      xs: o.xs,
      events: o.events,
      grants: o.grants,
      frontend: o.domid,
      devid: spec.devid,
      maxFrame: spec.mtu + 14 + 4, // Ethernet header and a VLAN tag
      transmit: (f) => {
        if (port !== undefined) sw.send(port, f);
      },
      ...(o.log !== undefined ? { log: o.log } : {}),
      hooks: o.hostile?.net(),
      xenbusHooks: o.hostile?.xenbus('net'),
    });
    port = sw.attach(spec.vifname ?? `vif${o.domid}.${spec.devid}`, (f) => backend.netback.deliver(f));
    backend.start();
    return { backend, sw, port, domid: o.domid, devid: spec.devid };
  });
}

/** Diagnostics of a boot's vifs (halted rings, fatal errors), then detaches them and removes their nodes. */
export function detachVifs(vifs: readonly AttachedVif[], xs: XenStore): string[] {
  const out: string[] = [];
  for (const v of vifs) {
    const nb = v.backend.netback;
    if (nb.broken !== undefined) out.push(`vif ${v.backend.path}: ${nb.broken}`);
    out.push(...v.backend.errors);
    if (nb.droppedDiagnostics > 0) out.push(`vif ${v.backend.path}: ${nb.droppedDiagnostics} more diagnostics not kept`);
    v.sw.detach(v.port);
    v.backend.remove();
    removeVifNodes(xs.host, v.domid, v.devid);
  }
  return out;
}
