/**
 * XENMEM_exchange for a 64-bit PV domain (Xen 4.17 xen/common/memory.c `memory_exchange`): the
 * caller gives back extents of its memory (`in`: GMFNs, which are MFNs for PV) and receives as
 * many bytes of fresh frames (`out`: the GPFNs they are to have on input; their MFNs written back
 * into the same slots). Xen updates the M2P of the new frames; the guest fixes its P2M and page
 * tables itself. Work goes in chunks (one `out` extent per 2^(out−in order) `in` extents, or the
 * reverse); `nr_exchanged` counts `in` extents done and lets a call resume.
 *
 * Refusals, in Xen's order (each writes `nr_exchanged` back unchanged, -EFAULT if it cannot):
 * an extent order above the domU limit → -EPERM; `nr_exchanged` beyond `in.nr_extents`, the two
 * domids differing, a list size overflowing, or the two sizes in bytes differing → -EINVAL;
 * nothing left to do → 0 without writing back; either list outside the guest's range → -EFAULT;
 * an exact NUMA node request → -EINVAL; no such domain → -ESRCH; another domain → -EPERM.
 * Then per chunk: an unreadable `in` slot → -EFAULT; an invalid frame → -EINVAL; a frame that is
 * not the caller's, is a Xen page, or is referenced by anything but its allocation (a mapping, a
 * page-table use) → -EINVAL (Xen `steal_page`); no new frame → -ENOMEM. The frames of a failed
 * chunk are given back; `nr_exchanged` says how many `in` extents were exchanged before it. An
 * unreadable or unwritable `out` slot after the chunk's frames were swapped is -EFAULT with that
 * chunk not counted, as in Xen.
 *
 * Not modelled: our frame pool hands out single frames, so an `out` extent of order > 0 cannot be
 * allocated (-ENOMEM, as Xen answers when its heap has no free run that large); an address-width
 * limit is met only when the frame drawn happens to lie below it (else -ENOMEM).
 */
import { F_ALLOCATED, F_XEN_HEAP, PageType } from '../hv/machine.js';
import { View } from '../layout/view.js';
import { XEN_EFAULT, XEN_EINVAL, XEN_ENOMEM, XEN_ENOSYS, XEN_EPERM } from '../public/errno.js';
import { layout } from '../public/index.js';
import * as M from '../public/memory.js';
import { addrOk } from '../pv/mmu.js';
import type { HypercallContext } from './context.js';
import { DOMU_MAX_ORDER, partsOf, target as memoryTarget } from './memory.js';

const EXCHANGE = layout('xen_memory_exchange', 'x86_64');
const TWO32 = 4294967296;
const ULONG_MAX = (1n << 64n) - 1n;

/** Xen `guest_handle_subrange_okay` for a list of 8-byte slots: slots `first`..`last` in the guest's range. */
function subrangeOk(base: number, first: bigint, last: bigint): boolean {
  if (last < first) return true;
  const start = base + Number(first) * 8;
  const end = base + (Number(last) + 1) * 8 - 1;
  return addrOk(start) && addrOk(end) && Number.isSafeInteger(end);
}

/** Slot `i` as [lo, hi] halves; undefined on a fault. */
function readHalves(ctx: HypercallContext, base: number, i: number): [number, number] | undefined {
  const b = new Uint8Array(8);
  if (!ctx.mem.read(base + i * 8, b)) return undefined;
  const dv = new DataView(b.buffer);
  return [dv.getUint32(0, true), dv.getUint32(4, true)];
}

function readSlot(ctx: HypercallContext, base: number, i: number): number | undefined {
  const h = readHalves(ctx, base, i);
  return h === undefined ? undefined : h[1] * TWO32 + h[0];
}

function writeSlot(ctx: HypercallContext, base: number, i: number, v: number): boolean {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, v % TWO32 >>> 0, true);
  dv.setUint32(4, Math.floor(v / TWO32) >>> 0, true);
  return ctx.mem.write(base + i * 8, b);
}

export function memoryExchange(ctx: HypercallContext): number {
  const at = ctx.arg(2);
  const x = View.copyIn(EXCHANGE, ctx.mem, at);
  if (x === undefined) return -XEN_EFAULT;
  // Xen's fail_early: nr_exchanged goes back as it is now.
  const early = (rc: number): number => (x.copyOut(ctx.mem, at) ? rc : -XEN_EFAULT);

  const inOrder = x.get('in.extent_order') >>> 0;
  const outOrder = x.get('out.extent_order') >>> 0;
  if (Math.max(inOrder, outOrder) > DOMU_MAX_ORDER) return early(-XEN_EPERM);
  const inN = x.getBig('in.nr_extents');
  const outN = x.getBig('out.nr_extents');
  const done = x.getBig('nr_exchanged');
  if (
    done > inN ||
    x.get('in.domid') !== x.get('out.domid') ||
    ULONG_MAX >> BigInt(inOrder) < inN ||
    ULONG_MAX >> BigInt(outOrder) < outN ||
    inN << BigInt(inOrder) !== outN << BigInt(outOrder)
  ) {
    return early(-XEN_EINVAL);
  }
  if (done === inN) return 0;

  const inList = (x.hi('in.extent_start') | 0) * TWO32 + x.lo('in.extent_start');
  const outList = (x.hi('out.extent_start') | 0) * TWO32 + x.lo('out.extent_start');
  if (!subrangeOk(inList, done, inN - 1n)) return early(-XEN_EFAULT);
  const inChunkOrder = inOrder <= outOrder ? outOrder - inOrder : 0;
  const outChunkOrder = inOrder <= outOrder ? 0 : inOrder - outOrder;
  const outFirst = inOrder <= outOrder ? done >> BigInt(inChunkOrder) : done << BigInt(outChunkOrder);
  if (!subrangeOk(outList, outFirst, outN - 1n)) return early(-XEN_EFAULT);

  // propagate_node for a domU: a node with XENMEMF_exact_node_request cannot be honoured.
  const outFlags = x.get('out.mem_flags');
  const node = (((outFlags >>> 8) & 0xff) - 1) & 0xff;
  if (node !== 0xff && (outFlags & M.XENMEMF_exact_node_request) !== 0) return early(-XEN_EINVAL);

  const who = memoryTarget(ctx, x.get('in.domid'));
  if (who !== 'self') return who === -XEN_ENOSYS ? who : early(who);
  const p = partsOf(ctx);
  if (p === undefined) return -XEN_ENOSYS;
  const m = p.machine;
  const d = p.d.id;
  // MEMF_bits: new frames below 2^addressBits (0 or beyond the machine: no limit).
  let addressBits = outFlags & 0xff;
  if (addressBits >= Math.ceil(Math.log2(m.nrFrames)) + 12) addressBits = 0;

  // Both lists are bounded by the subrange checks, so the extent counts are exact numbers here.
  const chunks = Number(inN >> BigInt(inChunkOrder));
  let i = Number(done >> BigInt(inChunkOrder));
  let rc = 0;
  for (; i < chunks; i++) {
    const stolen: number[] = [];
    const fresh: number[] = [];
    const giveBack = (): void => {
      for (const f of stolen) {
        m.count[f] = 1;
        m.flags[f] = F_ALLOCATED;
      }
      for (const f of fresh) m.release(f);
    };
    // Steal a chunk's worth of input frames (Xen `steal_page`).
    for (let j = 0; j < 2 ** inChunkOrder && rc === 0; j++) {
      const gmfn = readSlot(ctx, inList, i * 2 ** inChunkOrder + j);
      if (gmfn === undefined) {
        rc = -XEN_EFAULT;
        break;
      }
      for (let k = 0; k < 2 ** inOrder; k++) {
        const mfn = gmfn + k;
        if (!m.valid(mfn)) {
          rc = -XEN_EINVAL;
          break;
        }
        const flags = m.flags[mfn] as number;
        if (m.owner[mfn] !== d || m.count[mfn] !== 1 || (flags & F_ALLOCATED) === 0 || (flags & F_XEN_HEAP) !== 0) {
          rc = -XEN_EINVAL;
          break;
        }
        if ((m.typeCount[mfn] as number) !== 0) throw new Error(`memory_exchange: frame 0x${mfn.toString(16)} has type references but one general reference`);
        m.count[mfn] = 0;
        m.flags[mfn] = 0;
        m.type[mfn] = PageType.None;
        stolen.push(mfn);
      }
    }
    // Allocate a chunk's worth of output frames (no max_pages check: the stolen ones were not uncounted).
    for (let j = 0; j < 2 ** outChunkOrder && rc === 0; j++) {
      const mfn = outOrder === 0 ? m.allocFrame(d) : undefined;
      if (mfn !== undefined && addressBits !== 0 && mfn >= 2 ** (addressBits - 12)) {
        m.release(mfn);
        rc = -XEN_ENOMEM;
        break;
      }
      if (mfn === undefined) {
        rc = -XEN_ENOMEM;
        break;
      }
      fresh.push(mfn);
    }
    if (rc !== 0) {
      giveBack();
      break;
    }
    // The chunk cannot fail any more: free the old frames, hand out the new ones.
    for (const f of stolen) {
      m.count[f] = 1;
      m.flags[f] = F_ALLOCATED;
      m.release(f);
    }
    for (let j = 0; j < fresh.length; j++) {
      const mfn = fresh[j] as number;
      const slot = i * 2 ** outChunkOrder + j;
      const gpfn = readHalves(ctx, outList, slot);
      if (gpfn === undefined) {
        rc = -XEN_EFAULT; // the frame stays the domain's, with no M2P entry (as in Xen)
        continue;
      }
      // guest_physmap_add_page for PV: the M2P takes the GPFN as given.
      m.m2pSetRaw(mfn, gpfn[0], gpfn[1]);
      if (!writeSlot(ctx, outList, slot, mfn)) rc = -XEN_EFAULT;
    }
    if (rc !== 0) break;
  }
  x.setBig('nr_exchanged', rc === 0 ? inN : BigInt(i) << BigInt(inChunkOrder));
  return x.copyOut(ctx.mem, at) ? rc : -XEN_EFAULT;
}
