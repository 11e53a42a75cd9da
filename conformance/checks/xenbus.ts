/**
 * Check `xenbus.frontend-states`: the XenBus state machine of every frontend the guest drives
 * (xen/include/public/io/xenbus.h, enum xenbus_state; docs/conformance.md), checked against what
 * the guest writes to `device/<type>/<id>/state` in its XenStore directory, as xenstored sees the
 * requests (its trace). The toolstack's own writes of a frontend node (libxl creates it in
 * Initialising) set the state without being checked; the backend's writes to
 * `/local/domain/0/backend/<type>/<domid>/<id>/state` are followed for the ordering rule.
 *
 * A frontend may:
 *  - go forward through Initialising (1) → InitWait (2) → Initialised (3) → Connected (4), skipping
 *    states (netfront goes from Initialising straight to Connected);
 *  - close from any state: Closing (5), then Closed (6); Closed directly from any state too (an
 *    error path);
 *  - reconnect: Closed → Initialising (a frontend that comes back after its backend closed, or after a
 *    resume in a new domain);
 *  - reconfigure: Connected → Reconfiguring (7) → Reconfigured (8) → Connected;
 *  - write the state it is in again (counted, not a violation).
 * And it must not pass Initialising while its backend has not reached InitWait (the backend's
 * features, which the frontend reads before it sets up its rings, are not there yet).
 */

import type { AbiCheck } from './check.js';

/** The check's identity, as the reports show it. */
export const XENBUS_FRONTEND_STATES = {
  id: 'xenbus.frontend-states',
  description: 'frontend XenBus state changes follow io/xenbus.h, and none passes Initialising before its backend is in InitWait',
  reference: 'xen/include/public/io/xenbus.h (enum xenbus_state)',
} as const;

export const XENBUS_STATE_NAMES = ['Unknown', 'Initialising', 'InitWait', 'Initialised', 'Connected', 'Closing', 'Closed', 'Reconfiguring', 'Reconfigured'] as const;

const INITIALISING = 1;
const INIT_WAIT = 2;
const CONNECTED = 4;
const CLOSING = 5;
const CLOSED = 6;
const RECONFIGURING = 7;
const RECONFIGURED = 8;

/** Whether a frontend may go from `from` to `to` (see the file comment). */
export function frontendTransitionAllowed(from: number, to: number): boolean {
  if (from === to) return true;
  if (to === CLOSING || to === CLOSED) return from !== CLOSED || to === CLOSED;
  if (from === CLOSED) return to === INITIALISING;
  if (from === CLOSING) return false;
  if (from === CONNECTED) return to === RECONFIGURING;
  if (from === RECONFIGURING) return to === RECONFIGURED;
  if (from === RECONFIGURED) return to === CONNECTED;
  // Forward through the connection states (0 Unknown counts as before Initialising).
  return to >= INITIALISING && to <= CONNECTED && to > from;
}

const name = (s: number): string => `${XENBUS_STATE_NAMES[s] ?? 'invalid'} (${s})`;

interface Device {
  state: number | undefined;
  backend: number | undefined;
  readonly path: string;
  readonly history: number[];
  rewrites: number;
}

/**
 * Follows a run's XenStore trace for the frontends of every guest domain (keyed `d<domid>
 * device/<type>/<id>`); `result` says what the check found.
 */
export class XenbusStateObserver {
  private readonly devices = new Map<string, Device>();
  private readonly violations: string[] = [];

  /** A line of xenstored's trace (`IN <who> WRITE (<path> <value>)`). */
  trace(line: string): void {
    const m = /^IN (domain (\d+)|[a-z]+ client) WRITE \((\S+) ?(.*)\)$/.exec(line);
    if (m === null) return;
    const fromDomain = m[2] !== undefined ? Number(m[2]) : undefined;
    let path = m[3] as string;
    if (!path.startsWith('/')) {
      if (fromDomain === undefined) return;
      path = `/local/domain/${fromDomain}/${path}`;
    }
    const value = (m[4] ?? '').trim();
    const fe = /^\/local\/domain\/(\d+)\/device\/([^/]+)\/([^/]+)\/state$/.exec(path);
    if (fe !== null && fe[1] !== '0') {
      this.frontend(`d${fe[1]} device/${fe[2]}/${fe[3]}`, value, fromDomain === Number(fe[1]));
      return;
    }
    const be = /^\/local\/domain\/\d+\/backend\/([^/]+)\/(\d+)\/([^/]+)\/state$/.exec(path);
    if (be !== null) {
      const d = this.device(`d${be[2]} device/${be[1]}/${be[3]}`);
      const s = Number(value);
      if (Number.isInteger(s)) d.backend = s;
    }
  }

  private device(key: string): Device {
    let d = this.devices.get(key);
    if (d === undefined) {
      d = { state: undefined, backend: undefined, path: key, history: [], rewrites: 0 };
      this.devices.set(key, d);
    }
    return d;
  }

  private frontend(key: string, value: string, byGuest: boolean): void {
    const d = this.device(key);
    const s = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!byGuest) {
      // The toolstack (re)creates the node: the starting point, not a transition.
      if (Number.isInteger(s)) d.state = s;
      return;
    }
    d.history.push(s);
    if (!(s >= 0 && s <= RECONFIGURED)) {
      this.violations.push(`${key}: the guest wrote state "${value}", which is no xenbus_state`);
      return;
    }
    const from = d.state ?? 0;
    if (from === s) d.rewrites++;
    else if (!frontendTransitionAllowed(from, s)) this.violations.push(`${key}: ${name(from)} → ${name(s)} is not a transition io/xenbus.h allows a frontend`);
    if (s > INITIALISING && s <= CONNECTED && from <= INITIALISING && (d.backend ?? 0) < INIT_WAIT) {
      this.violations.push(`${key}: went to ${name(s)} while its backend was in ${name(d.backend ?? 0)}, before InitWait`);
    }
    d.state = s;
  }

  /** The frontends the guest drove (state histories), and what broke the rules. */
  result(): { readonly devices: readonly { readonly path: string; readonly history: readonly number[]; readonly rewrites: number }[]; readonly violations: readonly string[] } {
    const devices = [...this.devices.values()].filter((d) => d.history.length > 0).sort((a, b) => (a.path < b.path ? -1 : 1));
    return { devices: devices.map((d) => ({ path: d.path, history: d.history, rewrites: d.rewrites })), violations: this.violations };
  }
}

/** The check as the conformance run applies it (conformance/checks/index.ts). */
export const xenbusFrontendStates: AbiCheck = {
  ...XENBUS_FRONTEND_STATES,
  start() {
    const o = new XenbusStateObserver();
    return {
      xenStoreTrace: (line) => o.trace(line),
      result: () => {
        const x = o.result();
        if (x.devices.length === 0) return { status: 'skip', detail: 'not applicable: the guest drove no XenBus frontend' };
        if (x.violations.length === 0) return { status: 'pass' };
        const histories = x.devices.map((d) => `${d.path}: ${d.history.map((s) => XENBUS_STATE_NAMES[s] ?? String(s)).join(' → ')}`);
        return { status: 'fail', detail: [...x.violations, ...histories].join('\n') };
      },
    };
  },
};
