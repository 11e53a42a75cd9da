/**
 * Segment descriptors a PV64 guest may put in its GDT (reference §3.2; Xen 4.17
 * xen/arch/x86/x86_64/mm.c `check_descriptor`, xen/arch/x86/pv/descriptor-tables.c
 * `validate_segdesc_page`). A descriptor is two little-endian dwords: `lo` (Xen's `a`: limit
 * 15:0, base 15:0, or a gate's offset 15:0 and target selector) and `hi` (Xen's `b`: base 23:16,
 * type, S, DPL, P, limit 19:16, flags, base 31:24).
 *
 * The rules, as Xen applies them to a 64-bit PV guest (its kernel runs at CPL 3):
 *  - not present: accepted unchanged (it can only fault);
 *  - present code/data (S set): accepted, with the DPL raised to 3;
 *  - present system type 0: accepted unchanged (the upper half of a 16-byte gate);
 *  - present call gate (type 0xC): the target selector must be a guest GDT entry (index < 7168),
 *    an LDT selector, or FLAT_KERNEL_CS; the gate's DPL becomes 0 (so using it faults to Xen) and
 *    its would-be DPL (3) goes into the target selector's RPL; bits 7:0 of `hi` must be 0;
 *  - every other system descriptor (TSS, LDT, interrupt and trap gates): refused.
 * A refused descriptor is -EINVAL for the hypercall that offered it.
 */

import { XEN_EINVAL } from '../public/errno.js';

/** Entries 0..7167 of the GDT belong to the guest; Xen's own page follows (FIRST_RESERVED_GDT_ENTRY). */
export const FIRST_RESERVED_GDT_ENTRY = 7168;
/** Descriptors per 4 KiB frame. */
export const DESCS_PER_FRAME = 512;
/** FLAT_KERNEL_CS for PV64 (FLAT_RING3_CS64). */
const FLAT_KERNEL_CS = 0xe033;

const SEG_P = 1 << 15;
const SEG_S = 1 << 12;
const SEG_DPL = 3 << 13;
const SEG_TYPE = 0xf << 8;
const TYPE_CALL_GATE = 0xc << 8;
/** The kernel's RPL for PV64 guests (GUEST_KERNEL_RPL). */
const GUEST_KERNEL_RPL = 3;

/** Xen `guest_gate_selector_okay` for PV64. */
function gateSelectorOk(sel: number): boolean {
  return sel >>> 3 < FIRST_RESERVED_GDT_ENTRY || sel === FLAT_KERNEL_CS || (sel & 4) !== 0;
}

/**
 * Xen `check_descriptor` for a PV64 guest: the descriptor as Xen stores it ([lo, hi], unsigned),
 * or undefined when it is refused.
 */
export function checkDescriptor(lo: number, hi: number): readonly [number, number] | undefined {
  let a = lo >>> 0;
  let b = hi >>> 0;
  if ((b & SEG_P) === 0) return [a, b];
  // __fixup_guest_selector: a DPL below the guest kernel's ring is raised to it.
  let dpl = (b >>> 13) & 3;
  if (dpl < GUEST_KERNEL_RPL) dpl = GUEST_KERNEL_RPL;
  b = ((b & ~SEG_DPL) | (dpl << 13)) >>> 0;
  if ((b & SEG_S) !== 0) return [a, b];
  // Type 0 is returned as it came (no DPL fix-up written back), as Xen does.
  if ((b & SEG_TYPE) === 0) return [lo >>> 0, hi >>> 0];
  if ((b & SEG_TYPE) !== TYPE_CALL_GATE) return undefined;
  const cs = a >>> 16;
  if (!gateSelectorOk(cs)) return undefined;
  b = (b & ~SEG_DPL) >>> 0;
  a = ((a & 0xffff) | (((cs & ~3) | dpl) << 16)) >>> 0;
  if ((b & 0xff) !== 0) return undefined;
  return [a, b];
}

/**
 * Xen `validate_segdesc_page`: every descriptor of a frame checked in order and rewritten as Xen
 * stores it; 0, or -EINVAL at the first refused one (those before it stay rewritten, as in Xen).
 */
export function validateSegdescPage(frame: DataView): number {
  for (let i = 0; i < DESCS_PER_FRAME; i++) {
    const d = checkDescriptor(frame.getUint32(i * 8, true), frame.getUint32(i * 8 + 4, true));
    if (d === undefined) return -XEN_EINVAL;
    frame.setUint32(i * 8, d[0], true);
    frame.setUint32(i * 8 + 4, d[1], true);
  }
  return 0;
}
