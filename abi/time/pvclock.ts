/**
 * What Xen writes for time in guest-shared pages (reference §2.2-2.4, §7.1-7.2):
 *
 *  - `VcpuInfoArea`: a vCPU's vcpu_info (x86_64 layout) at a byte offset of a frame, by default
 *    its slot in shared_info, after VCPUOP_register_vcpu_info wherever the guest put it. It is
 *    the `VcpuInfoRef` the CPU model uses for the upcall mask and CR2, and carries the
 *    vcpu_time_info ("pvclock") record;
 *  - `writeVcpuTime`: the record, under its version seqlock (odd while we write, then even);
 *  - `writeWallclock`: shared_info's wc_* fields under wc_version.
 *
 * The pages are guest-writable mirrors: we write them, and read back only what the guest owns
 * (the upcall mask, the pending flag it clears).
 */
import type { VcpuInfoRef } from '../pv/vcpu.js';
import { layout } from '../public/index.js';
import { XEN_PVCLOCK_TSC_STABLE_BIT } from '../public/xen.js';
import { PVCLOCK_SCALE, ticksToNs, type VirtualClock } from './clock.js';

const VI = layout('vcpu_info', 'x86_64');
const SI = layout('shared_info', 'x86_64');

export const VCPU_INFO_SIZE = VI.size;
const UPCALL_PENDING = VI.field('evtchn_upcall_pending').offset;
const UPCALL_MASK = VI.field('evtchn_upcall_mask').offset;
const CR2 = VI.field('arch.cr2').offset;
const T_VERSION = VI.field('time.version').offset;
const T_TSC = VI.field('time.tsc_timestamp').offset;
const T_SYSTEM = VI.field('time.system_time').offset;
const T_MUL = VI.field('time.tsc_to_system_mul').offset;
const T_SHIFT = VI.field('time.tsc_shift').offset;
const T_FLAGS = VI.field('time.flags').offset;

const SI_VCPU_INFO = SI.field('vcpu_info').offset;
const WC_VERSION = SI.field('wc_version').offset;
const WC_SEC = SI.field('wc_sec').offset;
const WC_NSEC = SI.field('wc_nsec').offset;
const WC_SEC_HI = SI.field('wc_sec_hi').offset;

const TWO32 = 4294967296;

function set64(dv: DataView, at: number, v: number): void {
  dv.setUint32(at, v % TWO32, true);
  dv.setUint32(at + 4, Math.floor(v / TWO32), true);
}

/** A vcpu_info at `offset` in the frame `dv`. */
export class VcpuInfoArea implements VcpuInfoRef {
  constructor(
    readonly dv: DataView,
    readonly offset: number,
  ) {
    if (offset < 0 || offset + VCPU_INFO_SIZE > dv.byteLength) throw new RangeError(`vcpu_info at ${offset} does not fit the frame`);
  }

  /** vCPU `id`'s slot in shared_info (ids below XEN_LEGACY_MAX_VCPUS). */
  static inSharedInfo(sharedInfo: DataView, id: number): VcpuInfoArea {
    return new VcpuInfoArea(sharedInfo, SI_VCPU_INFO + id * VCPU_INFO_SIZE);
  }

  upcallPending(): number {
    return this.dv.getUint8(this.offset + UPCALL_PENDING);
  }
  upcallMask(): number {
    return this.dv.getUint8(this.offset + UPCALL_MASK);
  }
  setUpcallMask(v: number): void {
    this.dv.setUint8(this.offset + UPCALL_MASK, v);
  }
  setCr2(v: number): void {
    set64(this.dv, this.offset + CR2, v < 0 ? v + 2 ** 64 : v);
  }

  /** The whole 64 bytes (VCPUOP_register_vcpu_info copies them to the new place). */
  bytes(): Uint8Array {
    return new Uint8Array(this.dv.buffer, this.dv.byteOffset + this.offset, VCPU_INFO_SIZE).slice();
  }

  setBytes(b: Uint8Array): void {
    new Uint8Array(this.dv.buffer, this.dv.byteOffset + this.offset, VCPU_INFO_SIZE).set(b);
  }

  /** The pvclock record's version (for tests and the seqlock). */
  timeVersion(): number {
    return this.dv.getUint32(this.offset + T_VERSION, true);
  }
}

/** The pvclock fields as a record (what `writeVcpuTime` publishes). */
export interface VcpuTimeRecord {
  tscTimestamp: number;
  systemTime: number;
  mul: number;
  shift: number;
  flags: number;
}

/** The record for TSC value `ticks`: anchored there, with the machine's fixed scale. */
export function timeRecordAt(ticks: number): VcpuTimeRecord {
  return { tscTimestamp: ticks, systemTime: ticksToNs(ticks), mul: PVCLOCK_SCALE.mul, shift: PVCLOCK_SCALE.shift, flags: XEN_PVCLOCK_TSC_STABLE_BIT };
}

/**
 * Publishes a vcpu_time_info record in `area`: version made odd, the fields, version made even
 * (reference §7.1), so a reader that sees the same even version before and after its copy has
 * a consistent record.
 */
export function writeVcpuTime(area: VcpuInfoArea, r: VcpuTimeRecord): void {
  const dv = area.dv;
  const o = area.offset;
  const v = dv.getUint32(o + T_VERSION, true);
  dv.setUint32(o + T_VERSION, ((v + 1) | 1) >>> 0, true);
  set64(dv, o + T_TSC, r.tscTimestamp);
  set64(dv, o + T_SYSTEM, r.systemTime);
  dv.setUint32(o + T_MUL, r.mul >>> 0, true);
  dv.setInt8(o + T_SHIFT, r.shift);
  dv.setUint8(o + T_FLAGS, r.flags);
  dv.setUint32(o + T_VERSION, (((v + 1) | 1) + 1) >>> 0, true);
}

/** A vcpu_time_info (32 bytes) holding `r` with `version`, for a copy written through guest memory. */
export function timeRecordBytes(r: VcpuTimeRecord, version: number): Uint8Array {
  const b = new Uint8Array(32);
  const dv = new DataView(b.buffer);
  const o = T_VERSION;
  dv.setUint32(T_VERSION - o, version >>> 0, true);
  set64(dv, T_TSC - o, r.tscTimestamp);
  set64(dv, T_SYSTEM - o, r.systemTime);
  dv.setUint32(T_MUL - o, r.mul >>> 0, true);
  dv.setInt8(T_SHIFT - o, r.shift);
  dv.setUint8(T_FLAGS - o, r.flags);
  return b;
}

/** Publishes the current record of `clock` in `area`. */
export function updateVcpuTime(area: VcpuInfoArea, clock: VirtualClock): void {
  writeVcpuTime(area, timeRecordAt(clock.ticks()));
}

/** shared_info's wall clock (wall time at system time 0) under its wc_version seqlock (§7.2). */
export function writeWallclock(sharedInfo: DataView, clock: VirtualClock): void {
  const { sec, nsec } = clock.wallclock();
  const v = sharedInfo.getUint32(WC_VERSION, true);
  sharedInfo.setUint32(WC_VERSION, ((v + 1) | 1) >>> 0, true);
  sharedInfo.setUint32(WC_SEC, sec % TWO32, true);
  sharedInfo.setUint32(WC_NSEC, nsec, true);
  sharedInfo.setUint32(WC_SEC_HI, Math.floor(sec / TWO32), true);
  sharedInfo.setUint32(WC_VERSION, (((v + 1) | 1) + 1) >>> 0, true);
}
