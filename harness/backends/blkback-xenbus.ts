/**
 * The xenbus side of blkback: the XenbusState handshake (io/xenbus.h, reference §8.5) as Linux's
 * xen-blkback/xenbus.c drives it, over the host XenStore API (harness/xenstore/host.ts).
 *
 *  - `start`: the toolstack wrote the backend directory (toolstack/vbd.ts). The backend reads
 *    `frontend` and `mode`, publishes what it offers (feature-flush-cache, feature-barrier,
 *    feature-discard with discard-granularity/alignment/secure, feature-persistent,
 *    feature-max-indirect-segments, max-ring-page-order, multi-queue-max-queues) and the
 *    device's properties (sectors, info, sector-size, physical-sector-size: QEMU publishes them
 *    this early, Linux at connect; we do both, so a frontend may read them either way),
 *    writes hotplug-status "connected" as the block script would, goes to InitWait and watches
 *    the frontend's state.
 *  - frontend Initialised or Connected: read ring-ref (or ring-page-order and ring-ref0..N),
 *    event-channel, protocol, feature-persistent, multi-queue-num-queues; map the ring, bind the
 *    port (blkback.ts `connect`), rewrite the properties, go Connected. A frontend that reaches
 *    Connected again while we are Connected changes nothing (Linux's guard against two watch
 *    events in quick succession).
 *  - frontend Closing: we go Closing. Closed: disconnect (unmap, unbind) and go Closed; if the
 *    toolstack set online to 0 the device is then removed. Initialising after Closed: back to
 *    InitWait for a reconnect (a frontend that rebooted or a GRUB handing over to Linux).
 *  - anything wrong in what the frontend wrote: xenbus_dev_fatal's behaviour, an
 *    `error/backend/vbd/D/DEVID/error` node with "errno message" under our domain's home and
 *    the state Closing; the diagnostic is kept.
 *
 * A hostile run (harness/hostile/) passes `xenbusHooks`: at the n-th time the backend would
 * connect it may instead go Closing and come back (InitWait, then it looks at the frontend's
 * state again) after some guest time or once the frontend has closed, or connect only after some
 * guest time. Without hooks nothing of this runs.
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
import { VDISK_CDROM, VDISK_READONLY } from '../../abi/public/io/blkif.js';
import type { HostConnection, XenStore } from '../xenstore/host.js';
import { Blkback, type BlkbackOptions } from './blkback.js';

/** What a hostile run makes of one connection (harness/hostile/). */
export type XenbusConnectFault =
  /** Go Closing instead; come back (InitWait, frontend state read again) after `ns` or once the frontend closed. */
  | { readonly flip: true; readonly ns: number }
  /** Connect `ns` guest nanoseconds later. */
  | { readonly delayNs: number };

/** A backend's xenbus fault hooks (block and network). */
export interface XenbusHooks {
  /** The backend is about to connect for the `n`-th time (0-based). */
  connecting(n: number): XenbusConnectFault | undefined;
  /** Runs `fn` once `ns` guest nanoseconds have passed (never from inside this call). */
  later(ns: number, fn: () => void): void;
}
import { SECTOR_SIZE } from './disk-image.js';

/** Linux errno values xenbus_dev_fatal reports. */
const EINVAL = 22;
const ENOENT = 2;
const EBUSY = 16;
/** One queue: multi-queue is not offered beyond it. */
const MAX_QUEUES = 1;

export interface VbdBackendOptions extends Omit<BlkbackOptions, 'devid'> {
  readonly xs: XenStore;
  readonly devid: number;
  readonly backendDomid?: number;
  /** The device is a CD-ROM (VDISK_CDROM in `info`). */
  readonly cdrom?: boolean;
  /** A hostile run's xenbus hooks. */
  readonly xenbusHooks?: XenbusHooks;
}

export class VbdBackend {
  readonly blkback: Blkback;
  readonly path: string;
  /** The frontend directory (from our `frontend` node). */
  frontendPath = '';
  /** Our XenbusState as last written. */
  state = XenbusStateInitialising;
  /** xenbus_dev_fatal diagnostics. */
  readonly errors: string[] = [];
  removed = false;
  private readonly xs: HostConnection;
  private readonly token: string;
  private watching = false;
  /** Connections attempted (the xenbus hooks' numbers). */
  private connects = 0;
  /** A hostile flip is under way (Closing, to come back), or a slow connect is pending. */
  private flipping = false;
  private slow = false;
  private slowDone = false;

  constructor(private readonly o: VbdBackendOptions) {
    const bd = o.backendDomid ?? 0;
    this.path = `/local/domain/${bd}/backend/vbd/${o.frontend}/${o.devid}`;
    this.xs = o.xs.connect();
    this.token = `vbd-${o.frontend}-${o.devid}`;
    this.blkback = new Blkback({ ...o, devid: o.devid });
  }

  /** xen-blkback `xen_blkbk_probe` + `backend_changed`: publish, InitWait, watch the frontend. */
  start(): void {
    const fe = this.xs.read(`${this.path}/frontend`);
    if (fe === undefined || fe === '') return this.fatal(ENOENT, `reading ${this.path}/frontend`);
    this.frontendPath = fe;
    const mode = this.xs.read(`${this.path}/mode`) ?? 'r';
    if (mode.includes('w') === this.o.image.readOnly) {
      return this.fatal(EINVAL, `mode "${mode}" does not match the image (${this.o.image.name})`);
    }
    this.publishFeatures();
    this.publishProperties();
    this.xs.write(`${this.path}/hotplug-status`, 'connected');
    this.switchState(XenbusStateInitWait);
    this.watching = true;
    this.xs.watch(`${this.frontendPath}/state`, this.token, () => this.frontendChanged());
  }

  private publishFeatures(): void {
    const b = this.blkback;
    const writable = !this.o.image.readOnly;
    this.xs.transaction((t) => {
      t.write(`${this.path}/feature-flush-cache`, writable ? '1' : '0');
      t.write(`${this.path}/feature-barrier`, writable ? '1' : '0');
      const discard = b.discard && this.xs.read(`${this.path}/discard-enable`) !== '0';
      if (discard) {
        t.write(`${this.path}/discard-granularity`, String(SECTOR_SIZE));
        t.write(`${this.path}/discard-alignment`, '0');
        t.write(`${this.path}/discard-secure`, '0');
      }
      t.write(`${this.path}/feature-discard`, discard ? '1' : '0');
      t.write(`${this.path}/feature-persistent`, b.persistent ? '1' : '0');
      t.write(`${this.path}/feature-max-indirect-segments`, String(b.maxIndirectSegments));
      t.write(`${this.path}/max-ring-page-order`, String(b.maxRingPageOrder));
      t.write(`${this.path}/multi-queue-max-queues`, String(MAX_QUEUES));
    });
  }

  private publishProperties(): void {
    const img = this.o.image;
    const info = (img.readOnly ? VDISK_READONLY : 0) | (this.o.cdrom === true ? VDISK_CDROM : 0);
    this.xs.transaction((t) => {
      t.write(`${this.path}/sectors`, String(img.sectors));
      t.write(`${this.path}/info`, String(info));
      t.write(`${this.path}/sector-size`, String(SECTOR_SIZE));
      t.write(`${this.path}/physical-sector-size`, String(SECTOR_SIZE));
    });
  }

  private switchState(s: number): void {
    if (this.removed) return;
    this.state = s;
    this.xs.write(`${this.path}/state`, String(s));
  }

  /** xenbus_dev_fatal: an error node, a diagnostic, and Closing. */
  private fatal(errno: number, msg: string): void {
    const line = `vbd ${this.o.frontend}/${this.o.devid}: ${msg}`;
    this.errors.push(line);
    this.o.log?.(line);
    const bd = this.o.backendDomid ?? 0;
    this.xs.write(`/local/domain/${bd}/error/backend/vbd/${this.o.frontend}/${this.o.devid}/error`, `${errno} ${msg}`);
    this.switchState(XenbusStateClosing);
  }

  /** xen-blkback `frontend_changed`. */
  private frontendChanged(): void {
    if (this.removed) return;
    const raw = this.xs.read(`${this.frontendPath}/state`);
    const fs = raw === undefined ? XenbusStateUnknown : Number.parseInt(raw, 10);
    switch (fs) {
      case XenbusStateInitialising:
        if (this.state === XenbusStateClosed) {
          this.o.log?.(`vbd ${this.o.frontend}/${this.o.devid}: frontend reinitialising: prepare for reconnect`);
          this.publishFeatures();
          this.switchState(XenbusStateInitWait);
        }
        return;
      case XenbusStateInitialised:
      case XenbusStateConnected: {
        if (this.state === XenbusStateConnected) return;
        if (this.state !== XenbusStateInitWait && this.state !== XenbusStateClosed && this.state !== XenbusStateInitialised) return;
        const hooks = this.o.xenbusHooks;
        if (this.slow) return;
        if (hooks !== undefined && this.slowDone) this.slowDone = false;
        else if (hooks !== undefined) {
          const f = hooks.connecting(this.connects++);
          if (f !== undefined && 'flip' in f) {
            this.o.log?.(`vbd ${this.o.frontend}/${this.o.devid}: hostile: Closing instead of Connected, back in ${f.ns} ns`);
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
        this.blkback.disconnect();
        const err = this.connectRing();
        if (err !== undefined) {
          this.blkback.disconnect();
          return;
        }
        this.publishProperties();
        this.switchState(XenbusStateConnected);
        return;
      }
      case XenbusStateClosing:
        this.switchState(XenbusStateClosing);
        return;
      case XenbusStateClosed:
        this.blkback.disconnect();
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
    const fs = this.xs.read(`${this.frontendPath}/state`);
    if (fs === String(XenbusStateInitialised) || fs === String(XenbusStateConnected)) this.frontendChanged();
  }

  /** xen-blkback `connect_ring`: read what the frontend published and map the ring. */
  private connectRing(): string | undefined {
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
    const queues = uint('multi-queue-num-queues') ?? 1;
    if (queues === 'bad' || queues === 0 || queues > MAX_QUEUES) return fail(ENOENT, `guest requested ${this.xs.read(`${fe}/multi-queue-num-queues`)} queues, exceeding the maximum of ${MAX_QUEUES}`);
    const protocol = this.xs.read(`${fe}/protocol`);
    if (protocol !== undefined && protocol !== '' && protocol !== 'x86_64-abi' && protocol !== 'x86_32-abi') return fail(ENOENT, `unknown fe protocol ${protocol}`);
    const persistent = uint('feature-persistent');
    const order = uint('ring-page-order') ?? 0;
    if (order === 'bad') return fail(EINVAL, `reading ${fe}/ring-page-order`);
    if (order > this.blkback.maxRingPageOrder) return fail(EINVAL, `requested ring page order ${order} exceed max:${this.blkback.maxRingPageOrder}`);
    const refs: number[] = [];
    if (order === 0 && this.xs.read(`${fe}/ring-page-order`) === undefined) {
      const r = uint('ring-ref');
      if (r === undefined || r === 'bad') return fail(EINVAL, `reading ${fe}/ring-ref`);
      refs.push(r);
    } else {
      for (let i = 0; i < 2 ** order; i++) {
        const r = uint(`ring-ref${i}`);
        if (r === undefined || r === 'bad') return fail(EINVAL, `reading ${fe}/ring-ref${i}`);
        refs.push(r);
      }
    }
    const port = uint('event-channel');
    if (port === undefined || port === 'bad') return fail(EINVAL, `reading ${fe}/event-channel`);
    const err = this.blkback.connect({ ringRefs: refs, port, protocol, persistent: persistent === 1 });
    if (err !== undefined) return fail(EBUSY, err);
    return undefined;
  }

  /** The device goes away (toolstack removal or frontend Unknown): unwatch, disconnect, stop. */
  remove(): void {
    if (this.removed) return;
    this.blkback.disconnect();
    if (this.watching) {
      this.watching = false;
      this.xs.unwatch(`${this.frontendPath}/state`, this.token);
    }
    this.removed = true;
    this.xs.close();
  }
}
