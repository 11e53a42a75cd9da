import { describe, expect, it } from 'vitest';
import { BENCH_INIT, ConsoleWatch, USERSPACE_MARKER, ratios, renderBootBench, type BootFigures } from '../../../harness/bench/boot-bench.js';

describe('bench:boot console watch', () => {
  it('takes the wall time of the marker line and the printk time of /init, across chunk boundaries', () => {
    let now = 1;
    const w = new ConsoleWatch(() => now);
    w.feed('[    2.35');
    w.feed('7068] Run /init as init process\r\n');
    now = 3;
    w.feed('ok 1 - userspace ');
    expect(w.userspaceWall).toBeUndefined();
    now = 4;
    w.feed('reached\nlater output\n');
    expect(w.userspaceWall).toBe(4);
    expect(w.initGuestSeconds).toBeCloseTo(2.357068, 6);
  });

  it('wants the marker as a whole line, not inside another one', () => {
    const w = new ConsoleWatch(() => 1);
    w.feed(`echo "${USERSPACE_MARKER}"\n`);
    expect(w.userspaceWall).toBeUndefined();
  });

  it('is what the bench init prints', () => {
    expect(BENCH_INIT).toContain(`echo "${USERSPACE_MARKER}"`);
    expect(BENCH_INIT.startsWith('#!/bin/sh\n')).toBe(true);
  });
});

describe('bench:boot report', () => {
  const runs: BootFigures[] = [
    { engine: 'qemu-tcg', vcpus: 1, userspaceWall: 2, initGuestSeconds: 1.9, endWall: 2.5, end: 'poweroff' },
    { engine: 'xenlab', vcpus: 1, userspaceWall: 10, initGuestSeconds: 2.7, endWall: 10.5, end: 'poweroff', userspaceInstructions: 2.8e9, endInstructions: 2.84e9 },
    { engine: 'xenlab', vcpus: 2, userspaceWall: undefined, initGuestSeconds: undefined, endWall: 30, end: 'stalled: nothing to run', endInstructions: 1e9 },
  ];

  it('pairs xenlab and QEMU runs of the same vCPU count that both reached userspace', () => {
    expect(ratios(runs)).toEqual([{ vcpus: 1, ratio: 5 }]);
  });

  it('renders a table with MIPS, the ratio against the 5x target and how runs ended', () => {
    const text = renderBootBench({ kernel: '/k/vmlinuz', cmdline: '', runs, ratios: ratios(runs) });
    expect(text).toContain('vcpus=1: xenlab takes 5.00x QEMU TCG');
    expect(text).toMatch(/xenlab\s+1\s+10\.00\s+10\.50\s+2\.800 G\s+2\.840 G\s+270\.5/);
    expect(text).toContain('stalled: nothing to run');
    expect(text).toContain('(none)');
  });

  it('says why QEMU was not measured', () => {
    const text = renderBootBench({ kernel: '/k', cmdline: 'quiet', runs: [], ratios: [], qemuSkipped: 'qemu-system-x86_64 is not installed' });
    expect(text).toContain('QEMU TCG not measured: qemu-system-x86_64 is not installed');
    expect(text).toContain('quiet');
  });
});
