/**
 * The xenbus side of netback: the XenbusState handshake (io/xenbus.h, io/netif.h "Feature and
 * Parameter Negotiation") as Linux's xen-netback/xenbus.c drives it, over the host XenStore API.
 *
 *  - `start`: the toolstack wrote the backend directory (toolstack/vif.ts). The backend reads
 *    `frontend` and `mac`, publishes what it offers (feature-sg, feature-rx-copy, feature-rx-flip
 *    0, feature-split-event-channels, multi-queue-max-queues 1, feature-gso-tcpv4/6 0: frames on
 *    our network stay within one MTU, feature-ipv6-csum-offload 0), writes hotplug-status
 *    "connected" as the vif script would, goes to InitWait and watches the frontend's state.
 *  - frontend Connected: read tx-ring-ref, rx-ring-ref, event-channel (or event-channel-tx and
 *    -rx), request-rx-copy (required), feature-sg, feature-rx-notify, multi-queue-num-queues
 *    (absent or 1); map the rings, bind the port(s) (netback.ts `connect`), go Connected.
 *  - frontend Closing: Closing. Closed: disconnect and Closed; removed unless online is 1.
 *    Initialising after Closed: back to InitWait.
 *  - anything wrong in what the frontend wrote: xenbus_dev_fatal's error node
 *    `error/backend/vif/D/DEVID/error` and Closing, the diagnostic kept.
 */
import {
  XenbusStateClosed,
  XenbusStateClosing,
  XenbusStateConnected,
  XenbusStateInitialised,
  XenbusStateInitialising,
  XenbusStateInitWait,
  XenbusStateUnknown,
} from '../../abi/public/io/xenbus.js';
import type { HostConnection, XenStore } from '../xenstore/host.js';
import { Netback, type NetbackOptions } from './netback.js';
import type { XenbusHooks } from './blkback-xenbus.js';

const EINVAL = 22;
const ENOENT = 2;
const EBUSY = 16;
const EOPNOTSUPP = 95;
const MAX_QUEUES = 1;

export interface VifBackendOptions extends Omit<NetbackOptions, 'devid'> {
  readonly xs: XenStore;
  readonly devid: number;
  readonly backendDomid?: number;
  /** A hostile run's xenbus hooks (as blkback's: a flip through Closing, a slow connect). */
  readonly xenbusHooks?: XenbusHooks;
}

export class VifBackend {
  readonly netback: Netback;
  readonly path: string;
  frontendPath = '';
  /** The backend's `mac` node (the guest's address on the network). */
  mac = '';
  state = XenbusStateInitialising;
  readonly errors: string[] = [];
  removed = false;
  private readonly xs: HostConnection;
  private readonly token: string;
  private watching = false;
  /** Connections attempted (the xenbus hooks' numbers); a hostile flip or slow connect under way. */
  private connects = 0;
  private flipping = false;
  private slow = false;
  private slowDone = false;

  constructor(private readonly o: VifBackendOptions) {
    const bd = o.backendDomid ?? 0;
    this.path = `/local/domain/${bd}/backend/vif/${o.frontend}/${o.devid}`;
    this.xs = o.xs.connect();
    this.token = `vif-${o.frontend}-${o.devid}`;
    this.netback = new Netback({ ...o, devid: o.devid });
  }

  /** xen-netback `netback_probe` + `backend_changed`: publish, InitWait, watch the frontend. */
  start(): void {
    const fe = this.xs.read(`${this.path}/frontend`);
    if (fe === undefined || fe === '') return this.fatal(ENOENT, `reading ${this.path}/frontend`);
    this.frontendPath = fe;
    const mac = this.xs.read(`${this.path}/mac`) ?? '';
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) return this.fatal(ENOENT, `parsing ${this.path}/mac "${mac}"`);
    this.mac = mac.toLowerCase();
    this.publishFeatures();
    this.xs.write(`${this.path}/hotplug-status`, 'connected');
    this.switchState(XenbusStateInitWait);
    this.watching = true;
    this.xs.watch(`${this.frontendPath}/state`, this.token, () => this.frontendChanged());
  }

  private publishFeatures(): void {
    this.xs.transaction((t) => {
      t.write(`${this.path}/feature-sg`, '1');
      t.write(`${this.path}/feature-gso-tcpv4`, '0');
      t.write(`${this.path}/feature-gso-tcpv6`, '0');
      t.write(`${this.path}/feature-ipv6-csum-offload`, '0');
      t.write(`${this.path}/feature-rx-copy`, '1');
      t.write(`${this.path}/feature-rx-flip`, '0');
      t.write(`${this.path}/feature-split-event-channels`, '1');
      t.write(`${this.path}/multi-queue-max-queues`, String(MAX_QUEUES));
    });
  }

  private switchState(s: number): void {
    if (this.removed) return;
    this.state = s;
    this.xs.write(`${this.path}/state`, String(s));
  }

  private fatal(errno: number, msg: string): void {
    const line = `vif ${this.o.frontend}/${this.o.devid}: ${msg}`;
    this.errors.push(line);
    this.o.log?.(line);
    const bd = this.o.backendDomid ?? 0;
    this.xs.write(`/local/domain/${bd}/error/backend/vif/${this.o.frontend}/${this.o.devid}/error`, `${errno} ${msg}`);
    this.switchState(XenbusStateClosing);
  }

  /** xen-netback `frontend_changed`. */
  private frontendChanged(): void {
    if (this.removed) return;
    const raw = this.xs.read(`${this.frontendPath}/state`);
    const fs = raw === undefined ? XenbusStateUnknown : Number.parseInt(raw, 10);
    switch (fs) {
      case XenbusStateInitialising:
        if (this.state === XenbusStateClosed) {
          this.publishFeatures();
          this.switchState(XenbusStateInitWait);
        }
        return;
      case XenbusStateInitialised:
        return;
      case XenbusStateConnected: {
        if (this.state === XenbusStateConnected) return;
        if (this.state !== XenbusStateInitWait && this.state !== XenbusStateClosed) return;
        const hooks = this.o.xenbusHooks;
        if (this.slow) return;
        if (hooks !== undefined && this.slowDone) this.slowDone = false;
        else if (hooks !== undefined) {
          const f = hooks.connecting(this.connects++);
          if (f !== undefined && 'flip' in f) {
            this.o.log?.(`vif ${this.o.frontend}/${this.o.devid}: hostile: Closing instead of Connected, back in ${f.ns} ns`);
            this.flipping = true;
            this.switchState(XenbusStateClosing);
            hooks.later(f.ns, () => this.comeBack());
            return;
          }
          if (f !== undefined) {
            this.slow = true;
            hooks.later(f.delayNs, () => {
              this.slow = false;
              this.slowDone = true;
              this.frontendChanged();
              this.slowDone = false;
            });
            return;
          }
        }
        this.netback.disconnect();
        if (this.connectRings() !== undefined) {
          this.netback.disconnect();
          return;
        }
        this.switchState(XenbusStateConnected);
        return;
      }
      case XenbusStateClosing:
        this.switchState(XenbusStateClosing);
        return;
      case XenbusStateClosed:
        this.netback.disconnect();
        this.switchState(XenbusStateClosed);
        if (this.flipping) return this.comeBack();
        if (this.xs.read(`${this.path}/online`) === '1') return;
        this.remove();
        return;
      case XenbusStateUnknown:
        this.remove();
        return;
      default:
        this.fatal(EINVAL, `saw state ${raw} at frontend`);
    }
  }

  /** The end of a hostile flip: back to InitWait, and the frontend's state read again. */
  private comeBack(): void {
    if (!this.flipping || this.removed) return;
    this.flipping = false;
    this.publishFeatures();
    this.switchState(XenbusStateInitWait);
    if (this.xs.read(`${this.frontendPath}/state`) === String(XenbusStateConnected)) this.frontendChanged();
  }

  /** xen-netback `connect` + `connect_data_rings`. */
  private connectRings(): string | undefined {
    const fe = this.frontendPath;
    const fail = (errno: number, msg: string): string => {
      this.fatal(errno, msg);
      return msg;
    };
    const uint = (key: string): number | undefined | 'bad' => {
      const v = this.xs.read(`${fe}/${key}`);
      if (v === undefined) return undefined;
      return /^\d+$/.test(v.trim()) && Number(v.trim()) <= 0xffffffff ? Number(v.trim()) : 'bad';
    };
    const flag = (key: string): boolean => uint(key) === 1;
    const queues = uint('multi-queue-num-queues') ?? 1;
    if (queues === 'bad' || queues === 0 || queues > MAX_QUEUES) {
      return fail(EINVAL, `guest requested ${this.xs.read(`${fe}/multi-queue-num-queues`)} queues, exceeding the maximum of ${MAX_QUEUES}`);
    }
    if (!flag('request-rx-copy')) return fail(EOPNOTSUPP, `${fe}/request-rx-copy: rx-flip is not supported`);
    const tx = uint('tx-ring-ref');
    const rx = uint('rx-ring-ref');
    if (typeof tx !== 'number' || typeof rx !== 'number') return fail(EINVAL, `reading ${fe}/tx-ring-ref and rx-ring-ref`);
    let port = uint('event-channel');
    let rxPort: number | undefined;
    if (port === undefined) {
      const t = uint('event-channel-tx');
      const r = uint('event-channel-rx');
      if (typeof t !== 'number' || typeof r !== 'number') return fail(EINVAL, `reading ${fe}/event-channel-tx and -rx`);
      port = t;
      rxPort = r;
    }
    if (port === 'bad') return fail(EINVAL, `reading ${fe}/event-channel`);
    const err = this.netback.connect({
      txRingRef: tx,
      rxRingRef: rx,
      port,
      ...(rxPort !== undefined ? { rxPort } : {}),
      requestRxCopy: true,
      sg: flag('feature-sg'),
      rxNotify: flag('feature-rx-notify'),
    });
    if (err !== undefined) return fail(EBUSY, err);
    return undefined;
  }

  remove(): void {
    if (this.removed) return;
    this.netback.disconnect();
    if (this.watching) {
      this.watching = false;
      this.xs.unwatch(`${this.frontendPath}/state`, this.token);
    }
    this.removed = true;
    this.xs.close();
  }
}
