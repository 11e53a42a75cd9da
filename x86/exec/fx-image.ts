/**
 * The x87/SSE state as an FXSAVE image in a host buffer (SDM vol. 1 §10.5.1, table 10-2), for a
 * driver that saves and restores a CPU's state outside the guest (a hypervisor's vCPU context):
 * the same bytes FXSAVE64 writes and the same state FXRSTOR64 (or, with 32-bit pointers,
 * FXRSTOR) loads, without guest memory, faults or an instruction.
 *
 * Everything architectural of the x87 unit and SSE is in the image: FCW, FSW with TOP, the
 * abridged tag, FOP, FIP, FDP, ST0-7 as 80-bit patterns, MXCSR and XMM0-15. The X87 object's
 * other fields are derived (the double cache `v`) or live only inside one instruction (`exc`,
 * the working significand), so an image taken between instructions loses nothing.
 */
import type { Cpu } from '../cpu.js';
import { MXCSR_MASK } from './sse.js';

/** Size of the FXSAVE area. */
export const FX_IMAGE_SIZE = 512;

const TWO32 = 4294967296;

/**
 * FXSAVE64 of `c` into `dv` at `at`: 64-bit FIP/FDP (FCS/FDS not stored), MXCSR_MASK, all
 * sixteen XMM registers. Bytes 464-511 are left as they are (software's, as FXSAVE does).
 */
export function storeFxImage(c: Cpu, dv: DataView, at: number): void {
  const x = c.fpu;
  dv.setUint16(at, x.fcw, true);
  dv.setUint16(at + 2, x.status(), true);
  let tag = 0;
  for (let k = 0; k < 8; k++) tag |= (x.valid[k] as number) << k;
  dv.setUint8(at + 4, tag);
  dv.setUint8(at + 5, 0);
  dv.setUint16(at + 6, x.fop & 0x7ff, true);
  setAddr(dv, at + 8, x.fip);
  setAddr(dv, at + 16, x.fdp);
  dv.setUint32(at + 24, c.mxcsr >>> 0, true);
  dv.setUint32(at + 28, MXCSR_MASK, true);
  for (let k = 0; k < 8; k++) {
    const a = at + 32 + 16 * k;
    const p = x.phys(k);
    dv.setInt32(a, x.mlo[p] as number, true);
    dv.setInt32(a + 4, x.mhi[p] as number, true);
    dv.setUint16(a + 8, x.se[p] as number, true);
    for (let b = 10; b < 16; b++) dv.setUint8(a + b, 0);
  }
  for (let k = 0; k < 64; k++) dv.setInt32(at + 160 + 4 * k, c.xmm[k] as number, true);
  for (let b = 416; b < 464; b++) dv.setUint8(at + b, 0);
}

/**
 * FXRSTOR64 (`wide`: 64-bit FIP/FDP) or FXRSTOR (32-bit offsets, the selectors ignored) of the
 * image in `dv` at `at` into `c`. False, and nothing changed, when the image's MXCSR sets a
 * reserved bit (the instruction's #GP(0)). FCW's reserved bits are forced as the instruction
 * does; FSW's ES and B are recomputed from the pending exceptions.
 */
export function loadFxImage(c: Cpu, dv: DataView, at: number, wide: boolean): boolean {
  const mx = dv.getUint32(at + 24, true);
  if ((mx & ~MXCSR_MASK) !== 0) return false;
  const x = c.fpu;
  const sw = dv.getUint16(at + 2, true);
  const tw = dv.getUint8(at + 4);
  x.fop = dv.getUint16(at + 6, true) & 0x7ff;
  x.fip = wide ? getAddr(dv, at + 8) : dv.getUint32(at + 8, true);
  x.fdp = wide ? getAddr(dv, at + 16) : dv.getUint32(at + 16, true);
  x.top = (sw >> 11) & 7;
  for (let k = 0; k < 8; k++) {
    const a = at + 32 + 16 * k;
    x.set80(x.phys(k), dv.getUint16(a + 8, true), dv.getInt32(a + 4, true), dv.getInt32(a, true));
  }
  for (let k = 0; k < 8; k++) x.valid[k] = (tw >> k) & 1;
  x.fcw = (dv.getUint16(at, true) & 0x1f3f) | 0x40;
  x.setStatus(sw);
  x.exc = 0;
  c.mxcsr = mx;
  for (let k = 0; k < 64; k++) c.xmm[k] = dv.getInt32(at + 160 + 4 * k, true);
  return true;
}

/** A 64-bit pointer field from a number (exact for canonical addresses). */
function setAddr(dv: DataView, at: number, a: number): void {
  dv.setInt32(at, a | 0, true);
  dv.setInt32(at + 4, Math.floor(a / TWO32) | 0, true);
}

/** A 64-bit pointer field as a number, sign-extended (exact for canonical addresses). */
function getAddr(dv: DataView, at: number): number {
  return dv.getInt32(at + 4, true) * TWO32 + dv.getUint32(at, true);
}
