/**
 * grant_table_op (20): `(cmd, void *uop, unsigned int count)`, argument marshalling for
 * gnttab/table.ts and gnttab/grants.ts, which hold the semantics (reference §6.4; Xen
 * `do_grant_table_op`).
 *
 * The split of results is Xen's: the hypercall returns 0 once the array is processed and each
 * element carries its own GNTST_* `status`; argument errors are the return value (-EINVAL for a
 * negative count, continuation bits on a command that takes none, or a count other than 1 where
 * Xen insists on one; -EFAULT when an element cannot be read or written back, with the elements
 * before it done; -ENOSYS for an unknown command). Xen stops after 512 elements and continues
 * the hypercall; with nothing to preempt us, we process the whole array in one go.
 */
import type { GuestMemory } from '../layout/memory.js';
import type { DomainGrants } from '../gnttab/grants.js';
import { View } from '../layout/view.js';
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOSYS } from '../public/errno.js';
import * as G from '../public/grant-table.js';
import { layout } from '../public/index.js';
import { cmdOf, type Handler, type HypercallContext } from './context.js';

const L = {
  map: layout('gnttab_map_grant_ref', 'x86_64'),
  unmap: layout('gnttab_unmap_grant_ref', 'x86_64'),
  replace: layout('gnttab_unmap_and_replace', 'x86_64'),
  setup: layout('gnttab_setup_table', 'x86_64'),
  dump: layout('gnttab_dump_table', 'x86_64'),
  transfer: layout('gnttab_transfer', 'x86_64'),
  copy: layout('gnttab_copy', 'x86_64'),
  query: layout('gnttab_query_size', 'x86_64'),
  setVersion: layout('gnttab_set_version', 'x86_64'),
  statusFrames: layout('gnttab_get_status_frames', 'x86_64'),
  getVersion: layout('gnttab_get_version', 'x86_64'),
  swap: layout('gnttab_swap_grant_ref', 'x86_64'),
  flush: layout('gnttab_cache_flush', 'x86_64'),
};

/** Xen's GNTTABOP_CMD_MASK: bits above it carry a continuation's progress (cache_flush only). */
const GNTTABOP_CMD_MASK = (1 << 12) - 1;
const TWO32 = 4294967296;

const NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(G).filter(([k, v]) => k.startsWith('GNTTABOP_') && typeof v === 'number').map(([k, v]) => [v as number, k]),
);

/** The grant table of the calling domain, undefined for a domain created without one. */
export type GrantsOf = (ctx: HypercallContext) => DomainGrants | undefined;

/** Reads a 64-bit address field as a sign-extended number (x86/ convention for linear addresses). */
function addr64(lo: number, hi: number): number {
  return (hi | 0) * TWO32 + lo;
}

export function grantTableOp(grantsOf: GrantsOf): Handler {
  return (ctx) => {
    const raw = cmdOf(ctx, 1);
    const cmd = raw & GNTTABOP_CMD_MASK;
    const opaque = raw >>> 12;
    ctx.subop(NAMES[cmd] ?? `GNTTABOP ${cmd}`);
    const count = ctx.argHalves(3)[0] | 0;
    if (count < 0) return -XEN_EINVAL;
    if (cmd !== G.GNTTABOP_cache_flush && opaque !== 0) return -XEN_EINVAL;
    // A domain built without a grant table (max_grant_frames 0) has none of these operations.
    const g = grantsOf(ctx);
    if (g === undefined) return -XEN_ENOSYS;
    return op(ctx, g, cmd, ctx.arg(2), count, opaque);
  };
}

function op(ctx: HypercallContext, g: DomainGrants, cmd: number, uop: number, count: number, opaque: number): number {
  const m = ctx.mem;
  const { hub, table } = g;
  switch (cmd) {
    case G.GNTTABOP_map_grant_ref:
      for (let i = 0; i < count; i++) {
        const at = uop + i * L.map.size;
        const a = View.copyIn(L.map, m, at);
        if (a === undefined) return -XEN_EFAULT;
        const r = hub.map(table, { hostAddr: addr64(a.lo('host_addr'), a.hi('host_addr')), flags: a.get('flags'), ref: a.get('ref'), dom: a.get('dom'), vcpu: ctx.vcpu.id });
        a.set('status', r.status);
        if (r.handle !== undefined) a.set('handle', r.handle);
        if (r.devBusAddr !== undefined) a.set('dev_bus_addr', r.devBusAddr);
        if (!a.copyOut(m, at)) return -XEN_EFAULT;
      }
      return 0;
    case G.GNTTABOP_unmap_grant_ref:
      for (let i = 0; i < count; i++) {
        const at = uop + i * L.unmap.size;
        const a = View.copyIn(L.unmap, m, at);
        if (a === undefined) return -XEN_EFAULT;
        const st = hub.unmap(table, {
          hostAddr: addr64(a.lo('host_addr'), a.hi('host_addr')),
          devBusAddr: a.hi('dev_bus_addr') * TWO32 + a.lo('dev_bus_addr'),
          handle: a.get('handle'),
          vcpu: ctx.vcpu.id,
        });
        a.set('status', st);
        if (!a.copyOut(m, at)) return -XEN_EFAULT;
      }
      return 0;
    case G.GNTTABOP_setup_table: {
      if (count !== 1) return -XEN_EINVAL;
      const a = View.copyIn(L.setup, m, uop);
      if (a === undefined) return -XEN_EFAULT;
      const r = hub.setupTable(table, a.get('dom'), a.get('nr_frames'));
      a.set('status', writeFrameList(m, addr64(a.lo('frame_list'), a.hi('frame_list')), r.frames) ? r.status : G.GNTST_bad_virt_addr);
      return a.copyOut(m, uop) ? 0 : -XEN_EFAULT;
    }
    case G.GNTTABOP_dump_table: {
      const a = View.copyIn(L.dump, m, uop);
      if (a === undefined) return -XEN_EFAULT;
      a.set('status', hub.dumpTable(table, a.get('dom')));
      return a.copyOut(m, uop) ? 0 : -XEN_EFAULT;
    }
    case G.GNTTABOP_transfer:
      for (let i = 0; i < count; i++) {
        const at = uop + i * L.transfer.size;
        const a = View.copyIn(L.transfer, m, at);
        if (a === undefined) return -XEN_EFAULT;
        a.set('status', hub.transfer(table, { mfn: a.get('mfn'), domid: a.get('domid'), ref: a.get('ref') }));
        if (!a.copyOut(m, at)) return -XEN_EFAULT;
      }
      return 0;
    case G.GNTTABOP_copy:
      for (let i = 0; i < count; i++) {
        const at = uop + i * L.copy.size;
        const a = View.copyIn(L.copy, m, at);
        if (a === undefined) return -XEN_EFAULT;
        const end = (p: 'source' | 'dest') => ({
          ref: a.get(`${p}.u.ref`),
          gmfn: a.get(`${p}.u.gmfn`),
          domid: a.get(`${p}.domid`),
          offset: a.get(`${p}.offset`),
        });
        a.set('status', hub.copy(table, { source: end('source'), dest: end('dest'), len: a.get('len'), flags: a.get('flags') }));
        if (!a.copyOut(m, at)) return -XEN_EFAULT;
      }
      return 0;
    case G.GNTTABOP_query_size: {
      if (count !== 1) return -XEN_EINVAL;
      const a = View.copyIn(L.query, m, uop);
      if (a === undefined) return -XEN_EFAULT;
      const r = hub.querySize(table, a.get('dom'));
      a.set('status', r.status);
      if (r.nrFrames !== undefined) a.set('nr_frames', r.nrFrames);
      if (r.maxNrFrames !== undefined) a.set('max_nr_frames', r.maxNrFrames);
      return a.copyOut(m, uop) ? 0 : -XEN_EFAULT;
    }
    case G.GNTTABOP_set_version: {
      const a = View.copyIn(L.setVersion, m, uop);
      if (a === undefined) return -XEN_EFAULT;
      const rc = table.setVersion(a.get('version'));
      // The version in force goes back even when the change is refused (Xen `gnttab_set_version`).
      a.set('version', table.version);
      return a.copyOut(m, uop) ? rc : -XEN_EFAULT;
    }
    case G.GNTTABOP_get_status_frames: {
      if (count !== 1) return -XEN_EINVAL;
      const a = View.copyIn(L.statusFrames, m, uop);
      if (a === undefined) return -XEN_EFAULT;
      const r = hub.getStatusFrames(table, a.get('dom'), a.get('nr_frames'));
      a.set('status', writeFrameList(m, addr64(a.lo('frame_list'), a.hi('frame_list')), r.frames) ? r.status : G.GNTST_bad_virt_addr);
      return a.copyOut(m, uop) ? 0 : -XEN_EFAULT;
    }
    case G.GNTTABOP_get_version: {
      const a = View.copyIn(L.getVersion, m, uop);
      if (a === undefined) return -XEN_EFAULT;
      const v = hub.getVersion(table, a.get('dom'));
      if (v < 0) return v;
      a.set('version', v);
      return a.copyOut(m, uop) ? 0 : -XEN_EFAULT;
    }
    case G.GNTTABOP_swap_grant_ref:
      for (let i = 0; i < count; i++) {
        const at = uop + i * L.swap.size;
        const a = View.copyIn(L.swap, m, at);
        if (a === undefined) return -XEN_EFAULT;
        a.set('status', table.swap(a.get('ref_a'), a.get('ref_b')));
        if (!a.copyOut(m, at)) return -XEN_EFAULT;
      }
      return 0;
    case G.GNTTABOP_cache_flush:
      for (let i = 0; i < count; i++) {
        const at = uop + i * L.flush.size;
        const a = View.copyIn(L.flush, m, at);
        if (a === undefined) return -XEN_EFAULT;
        const rc = hub.cacheFlush(
          table,
          { devBusAddr: a.hi('a.dev_bus_addr') * TWO32 + a.lo('a.dev_bus_addr'), offset: a.get('offset'), length: a.get('length'), op: a.get('op') },
          i === 0 ? opaque : 0,
        );
        if (rc < 0) return rc;
      }
      return 0;
    case G.GNTTABOP_unmap_and_replace:
      // Xen `gnttab_unmap_and_replace`: unmap_common with no device address and new_addr set.
      for (let i = 0; i < count; i++) {
        const at = uop + i * L.replace.size;
        const a = View.copyIn(L.replace, m, at);
        if (a === undefined) return -XEN_EFAULT;
        const st = hub.unmap(table, {
          hostAddr: addr64(a.lo('host_addr'), a.hi('host_addr')),
          devBusAddr: 0,
          handle: a.get('handle'),
          newAddr: addr64(a.lo('new_addr'), a.hi('new_addr')),
          vcpu: ctx.vcpu.id,
        });
        a.set('status', st);
        if (!a.copyOut(m, at)) return -XEN_EFAULT;
      }
      return 0;
    default:
      return -XEN_ENOSYS;
  }
}

/**
 * Writes `frames` as 64-bit entries at `list` (setup_table, get_status_frames), a sign-extended guest
 * address (a kernel's list is in the upper half); false if any write faulted.
 */
function writeFrameList(m: GuestMemory, list: number, frames: readonly number[]): boolean {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  let ok = true;
  frames.forEach((f, i) => {
    dv.setUint32(0, f % TWO32 >>> 0, true);
    dv.setUint32(4, Math.floor(f / TWO32) >>> 0, true);
    if (!m.write(list + i * 8, b)) ok = false;
  });
  return ok;
}
