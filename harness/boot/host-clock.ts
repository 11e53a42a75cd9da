/**
 * The host's clocks for `--realtime` (abi/time/clock.ts `HostClock`): a monotonic clock from
 * process.hrtime, the wall clock from Date.now, and an idle wait that blocks the thread
 * (Atomics.wait) until the next guest deadline, so an idle guest costs no CPU.
 */
import type { HostClock } from '../../abi/time/clock.js';

export function nodeHostClock(): HostClock {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const monotonicNs = (): number => Number(process.hrtime.bigint());
  return {
    monotonicNs,
    wallNs: () => Date.now() * 1e6,
    sleepUntilMonotonic: (ns) => {
      const ms = (ns - monotonicNs()) / 1e6;
      if (ms > 0) Atomics.wait(cell, 0, 0, ms);
    },
  };
}
