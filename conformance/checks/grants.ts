/**
 * Check `grants.lifecycle` (xen/include/public/grant_table.h; docs/conformance.md): how the guest
 * grants its frontends' pages to their backends and takes them back, from xenstored's trace (what
 * each frontend published, its state; frontend-trace.ts) and the domain's grant table and the
 * grant hub's mappings, looked at on every trace line, every sampled scheduler slice and when the
 * guest has stopped:
 *
 *  - granted when published: when a frontend goes Initialised or Connected (the backend maps its
 *    rings then), every grant reference it published (`ring-ref`, `tx-ring-ref`, ...) is below
 *    the table's size and its entry is GTF_permit_access (or v2 transitive) for the backend's
 *    domain;
 *  - no access revoked while mapped: an entry a backend holds mapped still permits that backend
 *    (Xen sets GTF_reading/GTF_writing while it is mapped, and gnttab_end_foreign_access_ref
 *    refuses to end such an entry; a guest that clears the flags anyway has taken back a page
 *    the backend still writes to);
 *  - nothing left granted after the close: when the run ends, a frontend that went Closed no
 *    longer grants its backend the references it published, and once every frontend has closed
 *    no entry (past the toolstack's reserved 0-7) grants a backend's domain anything. A frontend
 *    that released nothing and whose domain ended within a second of its close left its
 *    connection to the domain's destruction (Linux at poweroff) and is not a leak (frontend-
 *    trace.ts `teardown`);
 *  - and the backends (xenlab's own) map nothing of a closed frontend: a mapping left is a
 *    failure naming the backend.
 *
 * What is not observable: a guest reusing a page whose grant it could not end (the flags tell
 * whether the entry was ended, not what the guest did with the page afterwards), and an end
 * refused and retried later (Linux's deferred end) — the retry is only seen if it happens.
 */
import type { BootWorld } from '../../harness/boot/boot.js';
import { GNTTAB_NR_RESERVED_ENTRIES } from '../../abi/public/grant-table.js';
import type { AbiCheck } from './check.js';
import { evtchnOpen, frontendLabel, FrontendTracker, granted, teardown, XENBUS_CLOSED, XENBUS_CONNECTED, XENBUS_INITIALISED, type Frontend, type Teardown } from './frontend-trace.js';

export const GRANTS_LIFECYCLE = {
  id: 'grants.lifecycle',
  description: 'published grant references are in range and granted to the backend, no access is revoked while mapped, nothing stays granted or mapped after the frontend closes',
  reference: 'xen/include/public/grant_table.h (GTF_permit_access, GNTTABOP_map_grant_ref); io/xenbus.h (XenbusStateClosed)',
} as const;

/** Sample the mappings at most this often (guest time) from the scheduler's slices. */
export const SAMPLE_NS = 1_000_000;

const STATE_NAMES: Readonly<Record<number, string>> = { [XENBUS_INITIALISED]: 'Initialised', [XENBUS_CONNECTED]: 'Connected' };

const hex = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

/** One guest run's observer (`grantsLifecycle.start()`); exported for the unit tests. */
export class GrantsObserver {
  private world: BootWorld | undefined;
  private readonly tracker = new FrontendTracker(
    () => this.world?.xen.clock.now() ?? 0,
    (f, s) => this.stateWritten(f, s),
  );
  private readonly violations: string[] = [];
  private readonly seen = new Set<string>();
  private lastSample = Number.NEGATIVE_INFINITY;
  /** Frontends that published what this check follows (any boot), for the skip. */
  private readonly published = new Set<string>();
  private readonly notes: string[] = [];

  attached(w: BootWorld): void {
    this.world = w;
    this.lastSample = Number.NEGATIVE_INFINITY;
  }

  trace(line: string): void {
    this.tracker.trace(line);
    this.sample(true);
  }

  slice(): void {
    this.sample(false);
  }

  private violation(key: string, text: string): void {
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.violations.push(text);
  }

  /** Which published node of which frontend names `ref` (for the messages). */
  private whose(ref: number): string {
    const w = this.world;
    for (const f of this.tracker.frontends.values()) {
      if (w !== undefined && f.domid !== w.domain.id) continue;
      for (const p of f.refs.values()) if (p.value === ref) return ` (${f.name} ${p.node})`;
    }
    return '';
  }

  private stateWritten(f: Frontend, s: number): void {
    const w = this.world;
    if (w === undefined || f.domid !== w.domain.id) return;
    if (s !== XENBUS_INITIALISED && s !== XENBUS_CONNECTED) return;
    const t = w.domain.gnttab?.table;
    if (t === undefined) return;
    if (f.refs.size > 0) this.published.add(frontendLabel(f));
    for (const p of f.refs.values()) {
      const at = `${frontendLabel(f)}: ${p.node} ${p.raw}`;
      const when = `when the frontend went ${STATE_NAMES[s] as string}`;
      if (!Number.isInteger(p.value)) this.violation(`nan ${at}`, `${at} is no grant reference (${when})`);
      else if (!t.validRef(p.value)) this.violation(`range ${at}`, `${at} is beyond the grant table (${t.nrEntries} entries, v${t.version}) ${when}`);
      else if (!granted(w, p.value, f.backend)) {
        const e = t.readEntry(p.value);
        this.violation(`grant ${at}`, `${at} does not grant domain ${f.backend} access ${when} (flags ${hex(e.flags)}, domid ${e.domid})`);
      }
    }
  }

  /** Every mapping of the guest's grants still permitted to its mapper (Xen: the entry is in use). */
  private sample(always: boolean): void {
    const w = this.world;
    const g = w?.domain.gnttab;
    if (w === undefined || g === undefined) return;
    const now = w.xen.clock.now();
    if (!always && now - this.lastSample < SAMPLE_NS) return;
    this.lastSample = now;
    for (const m of g.hub.mappings()) {
      if (m.granter !== w.domain.id) continue;
      if (granted(w, m.ref, m.mapper)) continue;
      const e = g.table.validRef(m.ref) ? g.table.readEntry(m.ref) : undefined;
      const flags = e === undefined ? 'beyond the table' : `flags ${hex(e.flags)}, domid ${e.domid}`;
      this.violation(
        `revoked ${m.ref} ${m.mapper}`,
        `d${w.domain.id} gref ${m.ref}${this.whose(m.ref)}: access ended while domain ${m.mapper} still mapped it (${flags}; Xen refuses to end an entry in use)`,
      );
    }
  }

  /** The guest has stopped: what closed frontends left granted and mapped. */
  ended(w: BootWorld): void {
    this.endOfBoot(w);
    // The next boot's trace (the toolstack's writes come before `attached`) starts afresh.
    this.tracker.reset();
    this.world = undefined;
  }

  private endOfBoot(w: BootWorld): void {
    this.sample(true);
    const g = w.domain.gnttab;
    const ec = w.domain.evtchn;
    if (g === undefined) return;
    const mine = this.tracker.connected().filter((f) => f.domid === w.domain.id);
    const closed = mine.filter((f) => f.state === XENBUS_CLOSED);
    const end = w.xen.clock.now();
    const downs: Teardown[] = closed.map((f) =>
      teardown(f, (ref, be) => granted(w, ref, be), (port, be) => ec !== undefined && evtchnOpen(ec, port, be), end, w.domain.running),
    );
    const maps = g.hub.mappings().filter((m) => m.granter === w.domain.id);
    for (const d of downs) {
      const f = d.frontend;
      const refs = new Set([...f.refs.values()].map((p) => p.value));
      for (const m of maps) {
        if (refs.has(m.ref)) this.violation(`backend ${m.ref}`, `${frontendLabel(f)}: the backend (domain ${m.mapper}) still maps gref ${m.ref}${this.whose(m.ref)} after the frontend closed — a xenlab backend bug`);
      }
      if (d.leftToDomainEnd) {
        this.notes.push(`${frontendLabel(f)} closed and left its grants to the domain's end`);
        continue;
      }
      for (const p of d.heldRefs) {
        this.violation(`leak ${p.value}`, `${frontendLabel(f)}: gref ${p.value} (${p.node}) still grants domain ${f.backend} access after the frontend closed`);
      }
    }
    // Every frontend closed and tore down: nothing at all may stay granted to a backend, or mapped.
    if (mine.length === 0 || closed.length < mine.length || downs.some((d) => d.leftToDomainEnd)) return;
    const backends = new Set(mine.map((f) => f.backend));
    const names = mine.map((f) => f.name).join(', ');
    for (let ref = GNTTAB_NR_RESERVED_ENTRIES; ref < g.table.nrEntries; ref++) {
      for (const be of backends) {
        if (!granted(w, ref, be)) continue;
        const whose = this.whose(ref);
        this.violation(
          `leak ${ref}`,
          `d${w.domain.id} gref ${ref}${whose}: still grants domain ${be} access after every frontend (${names}) closed${whose === '' ? ' (published by none of them)' : ''}`,
        );
      }
    }
    for (const m of maps) {
      this.violation(`backend ${m.ref}`, `d${w.domain.id}: the backend (domain ${m.mapper}) still maps gref ${m.ref}${this.whose(m.ref)} after every frontend closed — a xenlab backend bug`);
    }
  }

  result(): { readonly published: number; readonly violations: readonly string[]; readonly notes: readonly string[] } {
    return { published: this.published.size, violations: this.violations, notes: this.notes };
  }
}

/** The check as the conformance run applies it (conformance/checks/index.ts). */
export const grantsLifecycle: AbiCheck = {
  ...GRANTS_LIFECYCLE,
  start() {
    const o = new GrantsObserver();
    return {
      xenStoreTrace: (line) => o.trace(line),
      attached: (w) => o.attached(w),
      slice: () => o.slice(),
      ended: (w) => o.ended(w),
      result: () => {
        const x = o.result();
        if (x.violations.length > 0) return { status: 'fail', detail: [...x.violations, ...x.notes].join('\n') };
        if (x.published === 0) return { status: 'skip', detail: 'not applicable: no frontend of the guest published a grant reference' };
        return x.notes.length > 0 ? { status: 'pass', detail: x.notes.join('\n') } : { status: 'pass' };
      },
    };
  },
};
