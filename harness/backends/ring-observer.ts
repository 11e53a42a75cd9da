/**
 * What a backend shows an observer of its shared rings (conformance/checks/rings.ts): each
 * notification from the frontend, each time the backend looks at the rings' shared indices, the
 * request ids it takes and answers, and the rings' last reading before it lets them go.
 *
 * A backend has an optional `ringObserver` property; with none set, nothing of this runs (one
 * `undefined` test per notification or look). Calls come before the backend acts, so the
 * indices an observer reads are the ones the backend is about to act on.
 *
 * The indices are the shared ones, read from the ring page each time `read()` is called:
 *  - an io/ring.h request ring (blkif, netif tx and rx): `prod` = req_prod, `event` = req_event,
 *    `limit` = rsp_prod (the frontend may be at most `size` requests ahead of it);
 *  - the console's out ring (io/console.h): `prod` = out_prod, `limit` = out_cons, no event
 *    index (every new byte needs a notification);
 *  - the console's in ring, from the frontend's side: `prod` = in_cons (the frontend's index),
 *    `limit` = in_prod (it may never pass it), no notification needed for its moves.
 */

export interface RingIndices {
  /** The frontend's index: a producer (req_prod, out_prod) or a consumer (in_cons). */
  readonly prod: number;
  /** io/ring.h req_event: the backend wants a notification when `prod` passes it. */
  readonly event?: number;
  /** The backend's index `prod` is bounded by (see `ObservedRing.direction`). */
  readonly limit: number;
}

export interface ObservedRing {
  /** As a report names it, without the domain: `vbd 51712 ring`, `vif 0 tx`, `console out`. */
  readonly name: string;
  /** Slots (io/ring.h) or bytes (console). */
  readonly size: number;
  /** What `prod` and `limit` are called in the header: `['req_prod', 'rsp_prod']`, `['out_prod', 'out_cons']`. */
  readonly indexNames: readonly [string, string];
  /**
   * `producer`: `prod` may be at most `size` ahead of `limit` (RING_REQUEST_PROD_OVERFLOW);
   * `consumer`: `prod` may never pass `limit`.
   */
  readonly direction: 'producer' | 'consumer';
  /**
   * When the frontend must notify after moving `prod`: `event` as io/ring.h's
   * RING_PUSH_REQUESTS_AND_CHECK_NOTIFY says (req_event in (old, new]), `always` (console out),
   * `never` (a consumer index: a notification is welcome, none is needed).
   */
  readonly notify: 'event' | 'always' | 'never';
  /** The shared indices now. */
  read(): RingIndices;
}

export interface RingObserver {
  /** The backend connected these rings (they stay readable until `disconnected`). */
  connected(rings: readonly ObservedRing[]): void;
  /** A notification from the frontend for these rings, before the backend services them. */
  notified(rings: readonly ObservedRing[]): void;
  /** The backend is about to read these rings for a reason of its own (at connect, a frame to deliver). */
  looked(rings: readonly ObservedRing[]): void;
  /** The backend took a request with this id off the ring (ids that tell requests apart: blkif, netif). */
  request(ring: ObservedRing, id: string): void;
  /** The backend put a response for this id on the ring. */
  response(ring: ObservedRing, id: string): void;
  /** The rings' last reading: the backend is about to unmap them. */
  disconnected(rings: readonly ObservedRing[]): void;
}

const REQ_PROD = 0;
const REQ_EVENT = 4;
const RSP_PROD = 8;

/** An io/ring.h request ring over its header page (`u32` reads the first page's words). */
export function ioRing(name: string, size: number, header: { u32(off: number): number }): ObservedRing {
  return {
    name,
    size,
    indexNames: ['req_prod', 'rsp_prod'],
    direction: 'producer',
    notify: 'event',
    read: () => ({ prod: header.u32(REQ_PROD), event: header.u32(REQ_EVENT), limit: header.u32(RSP_PROD) }),
  };
}
