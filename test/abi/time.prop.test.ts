/**
 * pvclock exactness (abi/time/clock.ts, pvclock.ts): for random TSC values and random histories
 * of instructions and idle jumps, a guest that reads the vcpu_time_info record as the ABI says
 * (version even and unchanged, then system_time + ((tsc - tsc_timestamp) << shift) * mul >> 32)
 * computes exactly our system time.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PVCLOCK_SCALE, VirtualClock, pvclockScale, scaleDelta, ticksToNs } from '../../abi/time/clock.js';
import { VcpuInfoArea, timeRecordAt, updateVcpuTime, writeVcpuTime } from '../../abi/time/pvclock.js';

/** The guest's read of the record at `o` in `dv` for TSC `tsc` (BigInt, the reference formula). */
function guestNow(dv: DataView, o: number, tsc: bigint): bigint {
  const version = dv.getUint32(o + 32, true);
  expect(version % 2).toBe(0);
  const stamp = dv.getBigUint64(o + 40, true);
  const sys = dv.getBigUint64(o + 48, true);
  const mul = BigInt(dv.getUint32(o + 56, true));
  const shift = dv.getInt8(o + 60);
  let delta = BigInt.asUintN(64, tsc - stamp);
  delta = shift >= 0 ? BigInt.asUintN(64, delta << BigInt(shift)) : delta >> BigInt(-shift);
  return sys + ((delta * mul) >> 32n);
}

describe('pvclock (property)', () => {
  it('1 GHz: mul 2^31, shift 1, so ns and ticks are one number', () => {
    expect(PVCLOCK_SCALE).toEqual({ mul: 2 ** 31, shift: 1 });
    expect(pvclockScale(3e9)).toEqual({ mul: Math.floor(2 ** 32 / 1.5), shift: -1 });
  });

  it('for random anchors and TSC values the guest formula equals our system time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 52 }), fc.integer({ min: 0, max: 2 ** 52 }), fc.integer({ min: 0, max: 0xfffffffe }), (a, b, version) => {
        const [t0, t] = a <= b ? [a, b] : [b, a];
        const dv = new DataView(new ArrayBuffer(4096));
        const area = new VcpuInfoArea(dv, 64);
        dv.setUint32(64 + 32, version, true);
        writeVcpuTime(area, timeRecordAt(t0));
        expect(area.timeVersion()).toBe((((version + 1) | 1) + 1) >>> 0);
        expect(guestNow(dv, 64, BigInt(t))).toBe(BigInt(ticksToNs(t)));
        expect(BigInt(ticksToNs(t0)) + scaleDelta(BigInt(t - t0), PVCLOCK_SCALE)).toBe(BigInt(ticksToNs(t)));
      }),
    );
  });

  it('through a clock: instructions on several vCPUs and idle jumps, records republished at random points', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('run' as const), cpu: fc.integer({ min: 0, max: 2 }), n: fc.integer({ min: 0, max: 1e6 }) }),
      fc.record({ kind: fc.constant('skip' as const), ns: fc.integer({ min: 0, max: 1e10 }) }),
      fc.record({ kind: fc.constant('publish' as const) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const clock = new VirtualClock();
        const cpus = [{ retired: 5 }, { retired: 0 }, { retired: 1e6 }];
        cpus.forEach((c) => clock.add(c));
        const dv = new DataView(new ArrayBuffer(4096));
        const area = VcpuInfoArea.inSharedInfo(dv, 3);
        updateVcpuTime(area, clock);
        let expected = 0;
        for (const s of steps) {
          if (s.kind === 'run') {
            (cpus[s.cpu] as { retired: number }).retired += s.n;
            expected += s.n;
          } else if (s.kind === 'skip') {
            clock.skipTo(s.ns);
            expected = Math.max(expected, s.ns);
          } else updateVcpuTime(area, clock);
          expect(clock.now()).toBe(expected);
          expect(guestNow(dv, 3 * 64, BigInt(clock.ticks()))).toBe(BigInt(clock.now()));
        }
      }),
    );
  });
});
