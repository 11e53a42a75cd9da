/**
 * Hostile xenstored: the faults a busy or contended C/OCaml xenstored shows a guest's XenStore
 * client (io/xs_wire.h, docs/misc/xenstore.txt, docs/misc/xenstore-ring.txt), as plain JSON data
 * (the `xenstore` part of a HostilePlan, plan.ts), turned into the hooks of the ring
 * (harness/xenstore/ring.ts) and of the daemon (harness/xenstore/xenstored.ts).
 *
 * Keyed by what xenstored sees, never host time: the guest's notification number, the number of
 * the message xenstored writes to the domain's response ring (replies and watch events in ring
 * order), the number of the domain's request, the number of its transaction commit (all from 0,
 * over one boot). Delays are guest nanoseconds (the domain's deferred work).
 *
 * Each is legal behaviour of a real xenstored:
 *  - `delay`: the daemon gets to the ring later (it serves connections one message at a time);
 *  - `split`, `chunk`: a message reaches the response ring over several index updates, each with
 *    a notification (xenstored writes what fits and comes back; xenstore-ring.txt lets a client
 *    see any prefix);
 *  - `storm`: watch events nobody asked for, for the watched node or for paths below it
 *    (xenstore.txt: a watch fires for the node and its descendants, and clients must expect
 *    events without a change they can see — a node written with the same value, or written and
 *    removed by another domain, fires too);
 *  - `eagain`: TRANSACTION_END "T" fails with EAGAIN, the transaction's changes dropped (what a
 *    conflicting change does; Linux's xenbus callers retry, so must any client).
 * Host connections (toolstack, backends) are never affected; only guest domains' connections.
 */
import fc from 'fast-check';
import type { XenStoreRingFaultHook } from '../xenstore/ring.js';
import type { XenstoredFaultHook } from '../xenstore/xenstored.js';

export type XenStoreFault =
  /** Notification `at` of the guest is served `ns` guest ns later (its replies come late). */
  | { readonly kind: 'delay'; readonly at: number; readonly ns: number }
  /** Message `at` to the guest goes into the response ring `bytes` at a time, `ns` guest ns apart. */
  | { readonly kind: 'split'; readonly at: number; readonly bytes: number; readonly ns: number }
  /** After request `at`: `count` spurious events per watch of the domain, for the watched node or (`under`) below it. */
  | { readonly kind: 'storm'; readonly at: number; readonly count: number; readonly under: boolean }
  /** Transaction commit `at` fails with EAGAIN. */
  | { readonly kind: 'eagain'; readonly at: number };

export interface XenStoreFaults {
  readonly faults: readonly XenStoreFault[];
  /** Partial writes throughout: every message goes into the response ring at most this many bytes per update. */
  readonly chunk?: number;
  /** Guest ns between two updates of a `chunk`ed message (default GAP_NS). */
  readonly gapNs?: number;
}

/** Default guest ns between two pieces of a message written in parts. */
export const GAP_NS = 20_000;

/** The ring's and the daemon's hooks for one guest domain. */
export interface XenStoreFaultHooks {
  readonly ring: XenStoreRingFaultHook;
  readonly daemon: XenstoredFaultHook;
}

/** The hooks for `plan`; `note` gets one line per fault as it fires (the counterexample's story). */
export function xenstoreFaultHooks(plan: XenStoreFaults, note: (line: string) => void = () => undefined): XenStoreFaultHooks {
  const find = <K extends XenStoreFault['kind']>(kind: K, n: number): Extract<XenStoreFault, { kind: K }> | undefined =>
    plan.faults.find((f): f is Extract<XenStoreFault, { kind: K }> => f.kind === kind && f.at === n);
  // The response stream: which message the next byte belongs to, and how far into it we are.
  let message = 0;
  let offset = 0;
  let requests = 0;
  let commits = 0;
  const ring: XenStoreRingFaultHook = {
    notification(n) {
      const d = find('delay', n);
      if (d === undefined) return 0;
      note(`xenstore: notification ${n} served ${d.ns} ns late`);
      return Math.max(0, d.ns);
    },
    write(b) {
      const s = find('split', message);
      const size = Math.min(s?.bytes ?? Infinity, plan.chunk ?? Infinity);
      if (!Number.isFinite(size)) return { limit: b.length, pauseNs: 0 };
      if (s !== undefined && offset === 0) note(`xenstore: message ${message} written ${s.bytes} bytes at a time, ${s.ns} ns apart`);
      // Pieces are aligned to the message, so a piece cut short by a full ring stays one piece.
      const piece = Math.max(1, size);
      const limit = piece - (offset % piece);
      return { limit, pauseNs: Math.max(1, s?.ns ?? plan.gapNs ?? GAP_NS) };
    },
    wrote(b, n) {
      const total = offset + b.length;
      offset += n;
      if (offset >= total) {
        message++;
        offset = 0;
      }
    },
  };
  const daemon: XenstoredFaultHook = {
    processed(domid) {
      const s = find('storm', requests++);
      if (s === undefined) return undefined;
      note(`xenstore: after request ${requests - 1} of domain ${domid}: ${s.count} spurious events per watch${s.under ? ', for paths below the watched nodes' : ''}`);
      return { count: s.count, under: s.under };
    },
    commit(domid) {
      const e = find('eagain', commits++);
      if (e === undefined) return undefined;
      note(`xenstore: transaction commit ${commits - 1} of domain ${domid} fails with EAGAIN`);
      return 'EAGAIN';
    },
  };
  return { ring, daemon };
}

export interface XenStoreArbitraryOptions {
  /** Largest notification/message/request/commit number a fault is keyed to (default 48). */
  readonly maxAt?: number;
  /** Largest delay in guest ns (default 2 ms). */
  readonly maxDelayNs?: number;
  /** Smallest `chunk` and `split` piece (default 1). */
  readonly minChunk?: number;
}

/** XenStore fault plans: point faults keyed by number, and partial ring writes throughout. */
export function xenstoreFaultsArbitrary(o: XenStoreArbitraryOptions = {}): fc.Arbitrary<XenStoreFaults> {
  const at = fc.nat({ max: o.maxAt ?? 48 });
  const ns = fc.integer({ min: 1, max: o.maxDelayNs ?? 2_000_000 });
  const min = Math.max(1, o.minChunk ?? 1);
  const fault: fc.Arbitrary<XenStoreFault> = fc.oneof(
    fc.record({ kind: fc.constant('delay' as const), at, ns }),
    fc.record({ kind: fc.constant('split' as const), at, bytes: fc.integer({ min, max: Math.max(min, 24) }), ns }),
    fc.record({ kind: fc.constant('storm' as const), at, count: fc.integer({ min: 1, max: 16 }), under: fc.boolean() }),
    fc.record({ kind: fc.constant('eagain' as const), at }),
  );
  return fc.record(
    {
      faults: fc.array(fault, { maxLength: 12 }),
      chunk: fc.integer({ min, max: Math.max(min, 64) }),
      gapNs: fc.integer({ min: 1, max: 200_000 }),
    },
    { requiredKeys: ['faults'] },
  );
}

/** One line per fault kind, for docs and `--help`. */
export const XENSTORE_FAULT_KINDS: Readonly<Record<XenStoreFault['kind'], string>> = {
  delay: "a guest notification is served N guest ns late (the guest's replies come late)",
  split: 'a reply or watch event reaches the response ring N bytes at a time, each piece notified',
  storm: 'spurious watch events after a request, for each watched node or for paths below it',
  eagain: 'a transaction commit fails with EAGAIN, its changes dropped (the guest must retry)',
};
