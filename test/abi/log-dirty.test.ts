/**
 * Log-dirty (abi/hv/log-dirty.ts) on a running probe-suspend guest: every page whose contents
 * change during a round is in the dirty set of that round (hashes of every page before and after,
 * by PFN), through rounds after `clean` as well (observers re-armed, TLBs flushed); the host's
 * writes (the XenStore ring) are marked; `off` leaves no observer and no hook behind.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LogDirty } from '../../abi/hv/log-dirty.js';
import { XEN_EBUSY } from '../../abi/public/errno.js';
import { startProbe, type ProbeSession } from '../support/probe-session.js';

const MS = 1_000_000;

function hashes(s: ProbeSession): Map<number, string> {
  const out = new Map<number, string>();
  s.built.p2m.forEach((mfn, pfn) => {
    if (mfn < 0) return;
    const v = s.machine.view(mfn);
    out.set(pfn, createHash('sha1').update(new Uint8Array(v.buffer, v.byteOffset, 4096)).digest('hex'));
  });
  return out;
}

function changed(a: Map<number, string>, b: Map<number, string>): number[] {
  return [...a.keys()].filter((pfn) => a.get(pfn) !== b.get(pfn));
}

function enable(s: ProbeSession): LogDirty {
  const log = LogDirty.enable(s.domain, s.machine);
  if (typeof log === 'number') throw new Error(`enable: ${log}`);
  return log;
}

describe('log-dirty', () => {
  it('sees every page the guest changes, round after round', async () => {
    const s = await startProbe('probe-suspend', { extra: 'dirty=40 period=50' });
    s.run({ untilNs: 3 * MS });
    const log = enable(s);
    expect(LogDirty.enable(s.domain, s.machine)).toBe(-XEN_EBUSY);
    let before = hashes(s);
    const sizes: number[] = [];
    for (let round = 0; round < 4; round++) {
      s.run({ untilNs: s.xen.clock.now() + (round + 1) * 0.5 * MS });
      const dirty = new Set(log.clean());
      const after = hashes(s);
      const diff = changed(before, after);
      expect(diff.length).toBeGreaterThan(0);
      expect(diff.filter((pfn) => !dirty.has(pfn))).toEqual([]);
      sizes.push(dirty.size);
      before = after;
    }
    // The work job walks its 40 pages; longer rounds dirty more of them.
    expect(sizes[3]).toBeGreaterThan(sizes[0] as number);
    expect(log.stats.observerHits).toBeGreaterThan(40);
    log.off();
  });

  it('clean empties the set; the next writes are seen again (observers re-armed)', async () => {
    const s = await startProbe('probe-suspend', { extra: 'dirty=8 period=100' });
    s.run({ untilNs: 3 * MS });
    const log = enable(s);
    s.run({ untilNs: s.xen.clock.now() + MS });
    expect(log.count).toBeGreaterThan(0);
    const first = log.clean();
    expect(log.peek()).toEqual([]);
    expect(log.count).toBe(0);
    const before = hashes(s);
    s.run({ untilNs: s.xen.clock.now() + MS });
    const second = log.peek();
    expect(changed(before, hashes(s)).filter((pfn) => !second.includes(pfn))).toEqual([]);
    // The same work pages come round again: seen again after the clean.
    expect(second.filter((pfn) => first.includes(pfn)).length).toBeGreaterThan(0);
    log.off();
  });

  it("marks the host's writes: xenstored answering on the ring", async () => {
    const s = await startProbe('probe-suspend', { extra: 'dirty=4 period=1000' });
    s.run({ untilNs: 3 * MS });
    const log = enable(s);
    const storePfn = s.built.layout.storePfn;
    log.clean();
    const marks = log.stats.hostMarks;
    // An unknown request: the guest acknowledges it (writes "") and xenstored answers on the ring.
    s.xs.host.write(s.path('control/shutdown'), 'nothing-known');
    s.run({ untilNs: s.xen.clock.now() + 2 * MS });
    expect(log.stats.hostMarks).toBeGreaterThan(marks);
    expect(log.peek()).toContain(storePfn);
    // A frame marked by number reaches the log through the machine.
    log.clean();
    const mfn = s.built.p2m[100] as number;
    s.machine.markDirty(mfn);
    expect(log.peek()).toContain(100);
    log.off();
  });

  it('off removes every observer and the machine hook; the guest runs on', async () => {
    const s = await startProbe('probe-suspend', { extra: 'dirty=8 period=100' });
    s.run({ untilNs: 2 * MS });
    const log = enable(s);
    const mmu = s.domain.vcpus[0]?.cpu.mmu;
    expect(mmu?.observedFrames).toBeGreaterThan(1000);
    s.run({ untilNs: s.xen.clock.now() + MS });
    log.off();
    expect(mmu?.observedFrames).toBe(0);
    expect(s.machine.dirtyLogging(s.domain.id)).toBe(false);
    expect(log.enabled).toBe(false);
    expect(log.peek()).toEqual([]);
    s.run({ untilNs: s.xen.clock.now() + MS });
    expect(log.count).toBe(0);
    expect(s.domain.running).toBe(true);
    // It can be turned on again.
    const again = enable(s);
    again.off();
  });
});
