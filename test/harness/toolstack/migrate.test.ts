/**
 * Live migration (harness/toolstack/migrate.ts) of probe-suspend from one host to another: the
 * rounds converge for a small and a larger dirty set (more rounds, more pages, a longer
 * stop-and-copy for the larger), the guest's memory when it stopped equals the destination's page
 * by page (hashes of the canonical pages: page tables by PFN), the guest resumes in the new domain
 * with its TAP all ok and its work counter advancing, and the source domain, destroyed, leaves no
 * event channel, grant table or frame. Over TCP on loopback as well; a corrupted, truncated or torn
 * stream is refused with one line and nothing is allocated on the receiving host.
 */
import { createConnection } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseGuestTap } from '../../../conformance/tap.js';
import {
  connectMigration,
  describeMigration,
  inProcessTransport,
  listenForMigration,
  migrateLive,
  MigrationReceiver,
  type MigrationReport,
  type MigrationTransport,
} from '../../../harness/toolstack/migrate.js';
import { startProbe } from '../../support/probe-session.js';
import { destinationPages, destroySource, migrateProbe, MS, newHost, runToEnd, sourceOptions, sourcePages } from '../../support/migration.js';

describe('live migration (probe-suspend, in-process)', () => {
  it('a small dirty set: one live round, a short stop-and-copy; memory identical; the guest works on', async () => {
    const m = await migrateProbe('dirty=16 period=1000 suspends=1');
    const r = m.report;
    const text = describeMigration(r);
    console.log(`small dirty set:\n  ${text.join('\n  ')}`);
    expect(text[0]).toMatch(/^round 0: 4096 pages sent, \d+ dirtied meanwhile, 16\.\d\d MiB, 134\.\d+ ms guest time$/);
    expect(text.at(-2)).toMatch(/^1 live round \(converged\); \d+ pages sent for 4096 guest pages/);
    expect(r.stop).toBe('converged');
    expect(r.rounds.length).toBe(2);
    expect(r.rounds[0]?.pagesSent).toBe(r.guestPages);
    expect(r.logDirtyMisses).toBe(0);
    // The L1 mapping shared_info, which the guest unmaps only when it suspends: sent at the stop.
    expect(r.retriedTables).toBe(1);
    // The final round: the work pages written meanwhile and a few the guest touched to suspend.
    const last = r.rounds.at(-1);
    expect(last?.final).toBe(true);
    expect(last?.pagesSent).toBeLessThan(60);
    expect(r.downtimeGuestNs).toBeLessThan(3 * MS);
    expect(r.downtimeGuestNs).toBe(last?.guestNs);
    expect(m.compared).toBeGreaterThan(4000);
    expect(m.mismatched).toEqual([]);
    // The destination's clock continues after the downtime.
    expect(r.suspendedAtNs).toBeGreaterThan(5 * MS + (r.rounds[0]?.guestNs ?? 0));
    expect(m.restored.savedAtNs).toBe(r.resumeAtNs);
    expect(m.host.xen.clock.now()).toBeGreaterThanOrEqual(r.resumeAtNs);
    const end = runToEnd(m);
    expect(end.failed).toEqual([]);
    expect(end.text).toContain('resumed in a new domain');
    expect(end.text).toMatch(/ok \d+ - the work counter advanced since the last resume/);
  });

  it('a larger dirty set: more rounds and pages, a longer downtime; memory identical; the guest works on', async () => {
    const small = await migrateProbe('dirty=16 period=1000 suspends=1');
    const m = await migrateProbe('dirty=300 period=80 suspends=1');
    const r = m.report;
    console.log(`larger dirty set:\n  ${describeMigration(r).join('\n  ')}`);
    expect(r.stop).toBe('converged');
    expect(r.rounds.length).toBeGreaterThan(small.report.rounds.length);
    expect(r.pagesSent).toBeGreaterThan(small.report.pagesSent + 250);
    // Each live round after the first sends what the one before dirtied.
    r.rounds.slice(1).forEach((x, k) => {
      if (!x.final) expect(x.pagesSent).toBe(r.rounds[k]?.pagesDirtied);
    });
    expect(r.downtimeGuestNs).toBeGreaterThan(small.report.downtimeGuestNs);
    expect(r.logDirtyMisses).toBe(0);
    expect(m.mismatched).toEqual([]);
    const end = runToEnd(m);
    expect(end.failed).toEqual([]);
  });

  it('a guest dirtying faster than the link: stops at the round limit, then stops and copies', async () => {
    const m = await migrateProbe('dirty=200 period=40 suspends=1', { bandwidth: 100e6, maxRounds: 4 });
    const r = m.report;
    console.log(`dirtying faster than a 100 Mbit/s link:\n  ${describeMigration(r).join('\n  ')}`);
    expect(r.stop === 'round-limit' || r.stop === 'not-converging').toBe(true);
    expect(r.rounds.filter((x) => !x.final).length).toBeLessThanOrEqual(4);
    expect(r.rounds.at(-1)?.pagesSent).toBeGreaterThan(150);
    expect(r.logDirtyMisses).toBe(0);
    expect(m.mismatched).toEqual([]);
    expect(runToEnd(m).failed).toEqual([]);
  });

  it('a write log-dirty cannot see is found by the final check, resent and counted', async () => {
    const s = await startProbe('probe-suspend', { extra: 'dirty=16 period=1000 suspends=1' });
    s.run({ untilNs: 4 * MS });
    const rx = new MigrationReceiver('in-process migration');
    const victim = 3000;
    const mfn = s.built.p2m[victim] as number;
    let rounds = 0;
    const report = await migrateLive(
      sourceOptions(s, inProcessTransport(rx), {
        // The toolstack's own write behind log-dirty's back (no markDirty), during round 0.
        onRound: () => {
          if (rounds++ === 0) s.machine.view(mfn).setUint32(64, 0xdeadbeef, true);
        },
      }),
    );
    expect(report.logDirtyMisses).toBe(1);
    expect(report.missedPfns).toEqual([victim]);
    const atStop = sourcePages(s);
    const host = newHost(31);
    const restored = rx.finish(host, 5);
    const there = destinationPages(host, restored, atStop.keys());
    expect([...atStop.keys()].filter((pfn) => atStop.get(pfn) !== there.get(pfn))).toEqual([]);
    expect(host.machine.view(restored.p2m[victim] as number).getUint32(64, true)).toBe(0xdeadbeef);
  });

  it('a transport failing during the live rounds: log-dirty off, no observer left, the guest runs on', async () => {
    const s = await startProbe('probe-suspend', { extra: 'dirty=8 period=1000' });
    s.run({ untilNs: 3 * MS });
    let n = 0;
    const failing: MigrationTransport = {
      send: () => {
        if (++n === 3) throw new Error('link down');
      },
    };
    await expect(migrateLive(sourceOptions(s, failing))).rejects.toThrow('link down');
    expect(s.domain.running).toBe(true);
    expect(s.domain.vcpus[0]?.cpu.mmu?.observedFrames).toBe(0);
    expect(s.machine.dirtyLogging(s.domain.id)).toBe(false);
    s.run({ untilNs: s.xen.clock.now() + 2 * MS });
    expect(s.domain.running).toBe(true);
  });

  it('an M2P entry beyond the guest\'s p2m (guest-writable) does not break the stream', async () => {
    const s = await startProbe('probe-suspend', { extra: 'dirty=16 period=1000' });
    s.run({ untilNs: 4 * MS });
    const rx = new MigrationReceiver('in-process migration');
    const mfn = s.built.p2m[3000] as number;
    let rounds = 0;
    const report = await migrateLive(
      sourceOptions(s, inProcessTransport(rx), {
        // As MMU_MACHPHYS_UPDATE would: the frame of pfn 3000 now claims pfn 5,000,000.
        onRound: () => {
          if (rounds++ === 0) s.machine.m2pSet(mfn, 5_000_000);
        },
      }),
    );
    expect(rx.done).toBe(true);
    // pfn 3000 lost its frame as far as the M2P says: sent again, as a page without one.
    expect(report.missedPfns).toEqual([3000]);
    const restored = rx.finish(newHost(8), 5);
    expect(restored.p2m[3000]).toBe(-1);
  });

  it('the same migration gives the same rounds (deterministic in guest time)', async () => {
    const a = await migrateProbe('dirty=64 period=300');
    const b = await migrateProbe('dirty=64 period=300');
    const strip = (r: MigrationReport) => r.rounds.map((x) => [x.pagesSent, x.pagesDirtied, x.bytes, x.guestNs]);
    expect(strip(b.report)).toEqual(strip(a.report));
    expect(b.restored.savedAtNs).toBe(a.restored.savedAtNs);
  });
});

/** A copy of `b` with one bit of byte `at` flipped. */
function flipped(b: Uint8Array, at: number): Uint8Array {
  const out = Uint8Array.from(b);
  out[at] = (out[at] as number) ^ 0x40;
  return out;
}

describe('live migration over TCP on loopback', () => {
  it('migrates probe-suspend; the destination guest works on', async () => {
    const listener = await listenForMigration({ port: 0 });
    try {
      const s = await startProbe('probe-suspend', { extra: 'dirty=32 period=500 suspends=1' });
      s.run({ untilNs: 4 * MS });
      const t = await connectMigration('127.0.0.1', listener.port);
      const report = await migrateLive(sourceOptions(s, t));
      expect(report.logDirtyMisses).toBe(0);
      const atStop = sourcePages(s);
      const rx = await listener.received;
      expect(rx.bytes).toBe(report.bytes);
      const host = newHost(1234);
      const restored = rx.finish(host, 7);
      const there = destinationPages(host, restored, atStop.keys());
      expect([...atStop.keys()].filter((pfn) => atStop.get(pfn) !== there.get(pfn))).toEqual([]);
      destroySource(s);
      const end = runToEnd({ s, report, host, restored, mismatched: [], compared: atStop.size });
      expect(end.failed).toEqual([]);
    } finally {
      await listener.close();
    }
  });

  /** A whole stream from an in-process migration, to damage. */
  async function stream(): Promise<Uint8Array[]> {
    const s = await startProbe('probe-suspend', { extra: 'dirty=8 period=1000' });
    s.run({ untilNs: 3 * MS });
    const chunks: Uint8Array[] = [];
    await migrateLive(sourceOptions(s, { send: (c) => void chunks.push(c.slice()) }));
    return chunks;
  }

  async function sendRaw(port: number, bytes: Uint8Array, how: 'end' | 'destroy'): Promise<string> {
    return new Promise((resolve) => {
      const sock = createConnection({ host: '127.0.0.1', port }, () => {
        sock.write(bytes, () => {
          if (how === 'end') sock.end();
          else sock.resetAndDestroy();
        });
      });
      let reply = '';
      sock.on('data', (b) => (reply += b.toString()));
      sock.on('error', () => undefined);
      sock.on('close', () => resolve(reply));
    });
  }

  it('refuses a corrupted, a truncated and a torn stream with one line, allocating nothing', async () => {
    const chunks = await stream();
    const whole = Buffer.concat(chunks);
    const host = newHost(5);
    const free = host.machine.freeCount;
    const cases: { name: string; bytes: Uint8Array; how: 'end' | 'destroy'; expect: RegExp }[] = [
      { name: 'corrupted', bytes: flipped(whole, Math.floor(whole.length / 2)), how: 'end', expect: /checksum mismatch|SHA-256/ },
      { name: 'truncated', bytes: whole.subarray(0, Math.floor(whole.length * 0.7)), how: 'end', expect: /truncated/ },
      { name: 'torn', bytes: whole.subarray(0, Math.floor(whole.length * 0.4)), how: 'destroy', expect: /connection (torn|closed)|truncated/ },
    ];
    for (const c of cases) {
      const listener = await listenForMigration({ port: 0 });
      try {
        const reply = sendRaw(listener.port, c.bytes, c.how);
        const err = await listener.received.then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(err?.name, c.name).toBe('UserError');
        expect(err?.message, c.name).toMatch(c.expect);
        expect(err?.message.includes('\n'), c.name).toBe(false);
        const answer = await reply;
        if (c.how === 'end') expect(answer, c.name).toMatch(/^error: /);
      } finally {
        await listener.close();
      }
    }
    expect(host.machine.freeCount).toBe(free);
  });

  it('a refused stream fails the sender, whose guest resumes at the source (suspend cancelled)', async () => {
    const listener = await listenForMigration({ port: 0 });
    try {
      const s = await startProbe('probe-suspend', { extra: 'dirty=8 period=1000 suspends=1' });
      s.run({ untilNs: 3 * MS });
      const t = await connectMigration('127.0.0.1', listener.port);
      // Damage the small end records (after the suspend) on their way out.
      const damaging: MigrationTransport = {
        send: (c) => {
          return t.send(s.domain.suspended && c.length < 64 ? flipped(c, c.length - 12) : c);
        },
        finish: async () => t.finish?.(),
      };
      await expect(migrateLive(sourceOptions(s, damaging))).rejects.toThrow(/refused by the receiver/);
      await expect(listener.received).rejects.toThrow();
      expect(s.domain.running).toBe(true);
      s.run({ maxInstructions: 200_000_000 });
      expect(s.domain.state).toEqual({ kind: 'shutdown', reason: 0, code: 0 });
      const tap = parseGuestTap(s.console());
      expect(tap.tests.filter((x) => x.status !== 'pass').map((x) => x.name)).toEqual([]);
      expect(s.console()).toContain('suspend cancelled: resumed in the same domain');
    } finally {
      await listener.close();
    }
  });
});
