/**
 * What the grant and event-channel checks (grants.ts, evtchn.ts) need to know about a guest's
 * frontends, read from xenstored's trace: each frontend's directory, its backend's domain (the
 * toolstack's `backend-id`), the XenBus state the guest wrote last and when (guest time), and
 * the grant references and event-channel ports it published for its connection (io/blkif.h
 * `ring-ref`, `ring-ref<N>`; io/netif.h `tx-ring-ref`, `rx-ring-ref`, `event-channel-tx`/`-rx`,
 * also under `queue-<N>/`; `event-channel`; any node named `gref`). Also the ports that are no
 * frontend's: the toolstack's for XenStore and the console (`store/port`, `console/port`) and the
 * guest's `device/suspend/event-channel`.
 *
 * A connection's nodes are forgotten when the guest writes Initialising again (a reconnect) or
 * the toolstack recreates the device: what counts is what the current connection published.
 */
import type { EventChannels } from '../../abi/evtchn/channels.js';
import { GTF_permit_access, GTF_transitive, GTF_type_mask } from '../../abi/public/grant-table.js';
import type { BootWorld } from '../../harness/boot/boot.js';

/** io/xenbus.h states the checks act on. */
export const XENBUS_INITIALISING = 1;
export const XENBUS_INITIALISED = 3;
export const XENBUS_CONNECTED = 4;
export const XENBUS_CLOSED = 6;

/** A node the guest wrote in its device directory that names a grant reference or a port. */
export interface Published {
  /** Path below the device directory, e.g. `ring-ref`, `queue-0/tx-ring-ref`. */
  readonly node: string;
  /** The value as written (a decimal number unless the guest wrote something else). */
  readonly raw: string;
  /** The number, or NaN when the value is not a decimal integer. */
  readonly value: number;
}

export interface Frontend {
  readonly domid: number;
  /** `<type>/<id>`, e.g. `vbd/51712`. */
  readonly name: string;
  /** The backend's domain (the toolstack's `backend-id`; 0 until it is written). */
  backend: number;
  /** Last state the guest itself wrote (undefined: none yet). */
  state: number | undefined;
  /** Guest time (ns) of the guest's last write of Closed, while `state` is Closed. */
  closedAt: number | undefined;
  readonly refs: Map<string, Published>;
  readonly ports: Map<string, Published>;
}

const REF_NODE = /(^|\/)(([a-z]+-)?ring-ref\d*|gref)$/;
const PORT_NODE = /(^|\/)event-channel(-tx|-rx|-ctrl)?$/;

/** `d<domid> <type>/<id>`, as the checks name a frontend. */
export const frontendLabel = (f: Frontend): string => `d${f.domid} ${f.name}`;

/**
 * Follows the trace. `now` is the guest time the checks stamp Closed with; `onState` runs after
 * a state the guest wrote was recorded (the checks look at the grant table and ports then: the
 * trace line comes as xenstored takes the request, before any watch fires).
 */
export class FrontendTracker {
  readonly frontends = new Map<string, Frontend>();
  /** Ports that are no frontend's: XenStore's and the console's (the toolstack's), the suspend port. */
  readonly toolstackPorts = new Map<number, Set<number>>();

  constructor(
    private readonly now: () => number,
    private readonly onState?: (f: Frontend, state: number) => void,
  ) {}

  /** Forgets every frontend (a new boot: a new domain, new tables). */
  reset(): void {
    this.frontends.clear();
    this.toolstackPorts.clear();
  }

  private frontend(domid: number, name: string): Frontend {
    const key = `d${domid} ${name}`;
    let f = this.frontends.get(key);
    if (f === undefined) {
      f = { domid, name, backend: 0, state: undefined, closedAt: undefined, refs: new Map(), ports: new Map() };
      this.frontends.set(key, f);
    }
    return f;
  }

  /** A line of xenstored's trace (`IN <who> WRITE (<path> <value>)`, `IN <who> RM (<path>)`). */
  trace(line: string): void {
    const m = /^IN (domain (\d+)|[a-z]+ client) (WRITE|RM) \((\S+) ?(.*)\)$/.exec(line);
    if (m === null) return;
    const fromDomain = m[2] !== undefined ? Number(m[2]) : undefined;
    let path = m[4] as string;
    if (!path.startsWith('/')) {
      if (fromDomain === undefined) return;
      path = `/local/domain/${fromDomain}/${path}`;
    }
    const value = (m[5] ?? '').trim();
    const dev = /^\/local\/domain\/(\d+)\/device\/([^/]+)\/([^/]+)(?:\/(.+))?$/.exec(path);
    if (dev === null) {
      const tp = /^\/local\/domain\/(\d+)\/(store|console)\/port$/.exec(path);
      if (tp !== null && fromDomain === undefined && m[3] === 'WRITE' && /^\d+$/.test(value)) {
        this.otherPort(Number(tp[1]), Number(value));
      }
      return;
    }
    const domid = Number(dev[1]);
    if (domid === 0) return;
    if (dev[2] === 'suspend') {
      // device/suspend/event-channel: the guest's port for xl's suspend requests, no frontend's.
      if (dev[3] === 'event-channel' && dev[4] === undefined && m[3] === 'WRITE' && /^\d+$/.test(value)) this.otherPort(domid, Number(value));
      return;
    }
    const f = this.frontend(domid, `${dev[2]}/${dev[3]}`);
    const node = dev[4];
    const byGuest = fromDomain === domid;
    if (m[3] === 'RM') {
      if (node === undefined) this.forgetConnection(f);
      return;
    }
    if (node === undefined) return;
    if (!byGuest) {
      if (node === 'backend-id' && /^\d+$/.test(value)) f.backend = Number(value);
      return;
    }
    const published: Published = { node, raw: value, value: /^\d+$/.test(value) ? Number(value) : Number.NaN };
    if (REF_NODE.test(node)) f.refs.set(node, published);
    else if (PORT_NODE.test(node)) f.ports.set(node, published);
    else if (node === 'state') {
      const s = /^\d+$/.test(value) ? Number(value) : Number.NaN;
      if (s === XENBUS_INITIALISING && f.state !== undefined && f.state !== XENBUS_INITIALISING) this.forgetConnection(f);
      f.state = s;
      f.closedAt = s === XENBUS_CLOSED ? this.now() : undefined;
      this.onState?.(f, s);
    }
  }

  private otherPort(domid: number, port: number): void {
    const s = this.toolstackPorts.get(domid) ?? new Set<number>();
    s.add(port);
    this.toolstackPorts.set(domid, s);
  }

  private forgetConnection(f: Frontend): void {
    f.refs.clear();
    f.ports.clear();
  }

  /** Frontends the guest published a grant reference or a port for, in name order. */
  connected(): Frontend[] {
    return [...this.frontends.values()].filter((f) => f.refs.size + f.ports.size > 0).sort((a, b) => (frontendLabel(a) < frontendLabel(b) ? -1 : 1));
  }
}

/** How long (guest time) a frontend may sit Closed, holding everything, before its domain ends: see `teardown`. */
export const LEFT_TO_DOMAIN_END_NS = 1_000_000_000;

/** What a Closed frontend still held when the run ended (FrontendTracker, then `teardown`). */
export interface Teardown {
  readonly frontend: Frontend;
  /** Published references whose entry still permits the backend's domain. */
  readonly heldRefs: readonly Published[];
  /** Published ports still open to the backend's domain (unbound for it, or bound to it). */
  readonly heldPorts: readonly Published[];
  /**
   * The frontend released nothing it published and its domain ended less than
   * LEFT_TO_DOMAIN_END_NS after it closed: it left its connection to the domain's destruction
   * (Linux at poweroff: xenbus answers the backend's Closing with Closed and the drivers free
   * nothing; Xen releases a dying domain's grants and ports).
   */
  readonly leftToDomainEnd: boolean;
}

/**
 * A Closed frontend's teardown as the run ended. `granted(ref, backend)` and `open(port, backend)`
 * look at the domain's grant table and ports; `endNs` is the guest time the run ended at and
 * `domainRunning` whether the domain was still running then (a timeout, not a shutdown).
 */
export function teardown(
  f: Frontend,
  granted: (ref: number, backend: number) => boolean,
  open: (port: number, backend: number) => boolean,
  endNs: number,
  domainRunning: boolean,
): Teardown {
  const refs = [...f.refs.values()].filter((p) => Number.isInteger(p.value));
  const ports = [...f.ports.values()].filter((p) => Number.isInteger(p.value));
  const heldRefs = refs.filter((p) => granted(p.value, f.backend));
  const heldPorts = ports.filter((p) => open(p.value, f.backend));
  const releasedAny = heldRefs.length < refs.length || heldPorts.length < ports.length;
  const leftToDomainEnd = !releasedAny && !domainRunning && f.closedAt !== undefined && endNs - f.closedAt < LEFT_TO_DOMAIN_END_NS;
  return { frontend: f, heldRefs, heldPorts, leftToDomainEnd };
}

/** Whether entry `ref` of the domain's grant table lets `grantee` in (GTF_permit_access, or v2 transitive). */
export function granted(w: BootWorld, ref: number, grantee: number): boolean {
  const t = w.domain.gnttab?.table;
  if (t === undefined || !t.validRef(ref)) return false;
  const e = t.readEntry(ref);
  const type = e.flags & GTF_type_mask;
  return (type === GTF_permit_access || (t.version === 2 && type === GTF_transitive)) && e.domid === grantee;
}

/** EVTCHNOP_status values (event_channel.h). */
export const EVTCHNSTAT_unbound = 1;
export const EVTCHNSTAT_interdomain = 2;

/** Whether `port` is open to domain `remote`: unbound for it to bind, or bound to one of its ports. */
export function evtchnOpen(ec: EventChannels, port: number, remote: number): boolean {
  const s = ec.status(port);
  if (typeof s === 'number') return false;
  return (s.status === EVTCHNSTAT_unbound || s.status === EVTCHNSTAT_interdomain) && s.a === remote;
}
