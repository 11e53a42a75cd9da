/**
 * `npm run bench:migrate` (harness/bench/migrate-bench.ts), its probe part only (the Linux part
 * runs for minutes; the benchmark runs it): probe-suspend migrated over TCP on loopback, the
 * figures consistent with each other and with the link model, and the table they render to.
 */
import { describe, expect, it } from 'vitest';
import { renderMigrateBench, runMigrateBench } from '../../../harness/bench/migrate-bench.js';

describe('bench:migrate', () => {
  it('measures probe-suspend migrated over TCP and renders the table', async () => {
    const lines: string[] = [];
    const r = await runMigrateBench({ dirty: [64], periodUs: 100, bandwidth: 1e9, linux: false, progress: (l) => lines.push(l) });
    expect(r.linuxSkipped).toBe('--no-linux');
    const [x] = r.runs;
    expect(x).toMatchObject({ transport: 'tcp-loopback', guestPages: 4096, logDirtyMisses: 0, end: 'poweroff', stop: 'converged' });
    expect(x!.roundPages[0]).toBe(4096);
    expect(x!.roundPages).toHaveLength(x!.liveRounds + 1);
    expect(x!.pagesSent).toBe(x!.roundPages.reduce((a, b) => a + b, 0));
    expect(x!.tapOk).toBe(x!.tapTotal);
    expect(x!.tapTotal).toBeGreaterThan(10);
    // 1 Gbit/s: round 0 (16 MiB and the stream's first records) takes about 134 ms of guest time.
    expect(x!.totalGuestMs).toBeGreaterThan(134);
    expect(x!.downtimeGuestMs).toBeGreaterThan(0);
    expect(x!.downtimeGuestMs).toBeLessThan(x!.totalGuestMs);
    expect(x!.bytes).toBeGreaterThan(x!.pagesSent * 4096);
    expect(lines[0]).toBe('probe dirty=64: round 0, 4096 pages');
    const table = renderMigrateBench(r).split('\n');
    expect(table[0]).toMatch(/^\| guest \| workload \| transport \| live rounds \|/);
    expect(table[2]).toMatch(/^\| probe-suspend \(16 MiB, 1 vCPU\) \| dirty=64 period=100 µs \| tcp-loopback, 1 Gbit\/s \| \d+ \(converged\) \| 4096, [\d, ]+ \| \d+ \/ 4096 \| [\d.]+ \| [\d.]+ \| \d+ \| [\d.]+ \| \d+ \| poweroff, TAP (\d+)\/\1 ok \|$/);
    expect(table).toContain('Linux not measured: --no-linux');
  });
});
