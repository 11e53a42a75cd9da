/**
 * Where a Linux PV boot spends its guest instructions: boots the fetched Debian cloud kernel
 * headless (no disk, xenstored on its ring) with the sampling profiler of guest-profile.ts on
 * `bootGuest`'s `onSlice` hook, cuts the run into phases at every console line (hvc0 and
 * earlyprintk=xen), and writes the raw profile as JSON. Then, or later from that JSON, prints the
 * top functions and the phases that cost the most, attributing RIPs to the kernel's symbols.
 *
 *   npx vite-node harness/bench/linux-profile.ts run OUT.json [MAX_INSTRUCTIONS] [CMDLINE]
 *   npx vite-node harness/bench/linux-profile.ts report OUT.json SYMBOLS [TOP]
 *
 * SYMBOLS is a System.map-format file ("ffffffff81000000 T _stext"); Debian's linux-image ships
 * only a placeholder System.map, so `kallsyms.ts` recovers the table from the kernel image:
 *
 *   npx vite-node harness/bench/linux-profile.ts symbols fixtures/cache/pkg/linux-image-VERSION/boot/vmlinuz-VERSION > MAP
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { requireFixture } from '../../fixtures/pipeline/cache.js';
import { bootGuest, parseXlConfig } from '../boot/boot.js';
import { loadKernelImage } from '../builder/image.js';
import { extractKallsyms } from './kallsyms.js';
import { GuestProfiler, byFunction, parseSystemMap } from './guest-profile.js';

interface RawProfile {
  readonly instructions: number;
  readonly end: string;
  readonly wallSeconds: number;
  readonly phases: { label: string; from: number; rips: [number, number][] }[];
}

async function run(out: string, max: number, cmdline: string): Promise<void> {
  const kernel = (await requireFixture('kernel')).file('vmlinuz');
  const { config } = parseXlConfig(`name = "debian"\nkernel = "${kernel}"\nmemory = 128\nextra = "${cmdline}"\n`, 'linux-profile.cfg');
  const prof = new GuestProfiler();
  const t0 = performance.now();
  let pending = '';
  const onText = (text: string): void => {
    pending += text;
    for (;;) {
      const nl = pending.indexOf('\n');
      if (nl < 0) break;
      const line = pending.slice(0, nl).trimEnd();
      pending = pending.slice(nl + 1);
      if (line !== '') prof.markPhase(line);
    }
  };
  const decoder = new TextDecoder();
  const r = await bootGuest({
    config,
    maxInstructions: max,
    onSlice: (n, d) => prof.sample(n, d),
    onConsole: (b) => onText(decoder.decode(b, { stream: true })),
    onXenLog: (line) => onText(`${line}\n`),
    onProgress: (p) => process.stderr.write(`\r${(p.instructions / 1e9).toFixed(2)} G instructions, ${((performance.now() - t0) / 1000).toFixed(0)} s   `),
  });
  const raw: RawProfile = {
    instructions: r.instructions,
    end: `${r.end}: ${r.detail}`,
    wallSeconds: (performance.now() - t0) / 1000,
    phases: prof.phases.map((p) => ({ label: p.label, from: p.from, rips: [...p.byRip] })),
  };
  writeFileSync(out, JSON.stringify(raw));
  process.stderr.write(`\n${raw.end}; ${r.instructions} instructions, ${prof.samples} samples, ${raw.wallSeconds.toFixed(0)} s wall -> ${out}\n`);
}

const g = (n: number): string => `${(n / 1e6).toFixed(1)} M`;

function report(file: string, symbolsFile: string, top: number): void {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RawProfile;
  const symbols = parseSystemMap(readFileSync(symbolsFile, 'utf8'));
  const all = new Map<number, number>();
  for (const p of raw.phases) for (const [rip, n] of p.rips) all.set(rip, (all.get(rip) ?? 0) + n);
  const total = [...all.values()].reduce((a, b) => a + b, 0);
  process.stdout.write(`${raw.end}; ${g(raw.instructions)} instructions (${g(total)} sampled), ${raw.wallSeconds.toFixed(0)} s wall\n\n`);
  process.stdout.write(`top functions\n| instructions | share | function |\n|---:|---:|---|\n`);
  for (const f of byFunction(all, symbols).slice(0, top)) process.stdout.write(`| ${g(f.instructions)} | ${((100 * f.instructions) / total).toFixed(1)}% | ${f.name} |\n`);
  process.stdout.write(`\nphases costing more than 1% (the console line that ends the phase; instructions before it)\n| at | instructions | top functions | ended by |\n|---:|---:|---|---|\n`);
  for (let i = 0; i < raw.phases.length; i++) {
    const p = raw.phases[i] as RawProfile['phases'][number];
    const cost = p.rips.reduce((a, [, n]) => a + n, 0);
    if (cost < total / 100) continue;
    const next = raw.phases[i + 1];
    const fns = byFunction(new Map(p.rips), symbols).slice(0, 3).map((f) => `${f.name} ${((100 * f.instructions) / cost).toFixed(0)}%`).join(', ');
    process.stdout.write(`| ${g(p.from)} | ${g(cost)} | ${fns} | ${(next?.label ?? '(end of run)').slice(0, 90).replace(/\|/g, '/')} |\n`);
  }
}

const [cmd, file, a3, a4] = process.argv.slice(2);
if (cmd === 'run' && file !== undefined) await run(file, Number(a3 ?? 3e9), a4 ?? 'console=hvc0 earlyprintk=xen loglevel=7');
else if (cmd === 'report' && file !== undefined && a3 !== undefined) report(file, a3, Number(a4 ?? 25));
else if (cmd === 'symbols' && file !== undefined) {
  const syms = extractKallsyms((await loadKernelImage(file)).elfBytes);
  process.stdout.write(syms.map((s) => `${s.address.toString(16).padStart(16, '0')} ${s.type} ${s.name}\n`).join(''));
} else {
  process.stderr.write('usage: linux-profile.ts run OUT.json [MAX] [CMDLINE] | report OUT.json SYMBOLS [TOP] | symbols VMLINUZ\n');
  process.exitCode = 2;
}
