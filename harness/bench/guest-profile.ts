/**
 * A sampling instruction profiler for guest runs. `GuestProfiler.sample` goes into `bootGuest`'s
 * `onSlice` hook: after every scheduler slice (about SLICE_INSTRUCTIONS instructions) it charges
 * the instructions retired since the last sample to the RIP each running vCPU stopped at (split
 * evenly between them). Cheap: one Map update per slice. The RIP histogram is then attributed to
 * kernel symbols (System.map text, `parseSystemMap`) and can be cut into phases by console
 * messages (`markConsole` records the instruction count at which each console line appeared).
 *
 * Slice ends are biased toward block boundaries (a plain slice ends at the first block end after
 * its budget), so per-RIP counts are approximate; per-function totals over thousands of slices are
 * what the tool is for.
 */
import type { Domain } from '../../abi/hv/domain.js';

/** Canonical (sign-extended) JS number RIP as an unsigned 64-bit address. */
export const toAddress = (rip: number): bigint => BigInt.asUintN(64, BigInt(rip));

export interface Symbol {
  readonly address: bigint;
  readonly name: string;
}

/** Text symbols of a System.map ("ffffffff81000000 T _stext"), sorted by address. */
export function parseSystemMap(text: string): Symbol[] {
  const out: Symbol[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-fA-F]{8,16})\s+([A-Za-z])\s+(\S+)/.exec(line);
    if (m === null) continue;
    if (!'TtWw'.includes(m[2] as string)) continue;
    out.push({ address: BigInt(`0x${m[1]}`), name: m[3] as string });
  }
  return out.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/** The symbol covering `address` (the last one at or below it), or undefined below the first. */
export function symbolize(symbols: readonly Symbol[], address: bigint): Symbol | undefined {
  let lo = 0;
  let hi = symbols.length - 1;
  let found: Symbol | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = symbols[mid] as Symbol;
    if (s.address <= address) {
      found = s;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

export interface Phase {
  /** Console line that starts the phase ('(start)' for the first). */
  readonly label: string;
  readonly from: number;
}

export class GuestProfiler {
  /** Instructions charged per RIP (canonical JS number). */
  readonly byRip = new Map<number, number>();
  /** Per-RIP histograms of each phase, in order (a new one per `markPhase`). */
  readonly phases: { label: string; from: number; byRip: Map<number, number> }[] = [{ label: '(start)', from: 0, byRip: new Map() }];
  private last = 0;
  samples = 0;

  /** `onSlice` hook: charge the instructions since the previous call to the running vCPUs' RIPs. */
  sample(instructions: number, domain: Domain): void {
    const delta = instructions - this.last;
    if (delta <= 0) {
      this.last = instructions;
      return;
    }
    this.last = instructions;
    const rips: number[] = [];
    for (const v of domain.vcpus) if (v !== undefined && !v.blocked) rips.push(v.cpu.rip);
    if (rips.length === 0) for (const v of domain.vcpus) if (v !== undefined) rips.push(v.cpu.rip);
    const share = delta / Math.max(1, rips.length);
    const phase = (this.phases[this.phases.length - 1] as { byRip: Map<number, number> }).byRip;
    for (const rip of rips) {
      this.byRip.set(rip, (this.byRip.get(rip) ?? 0) + share);
      phase.set(rip, (phase.get(rip) ?? 0) + share);
    }
    this.samples++;
  }

  /** Starts a new phase at the current instruction count (e.g. at a console line). */
  markPhase(label: string): void {
    this.phases.push({ label, from: this.last, byRip: new Map() });
  }
}

export interface FunctionCost {
  readonly name: string;
  readonly instructions: number;
}

/** Instructions per function (unknown RIPs as `?<hex>` rounded down to 4 KiB), most first. */
export function byFunction(byRip: ReadonlyMap<number, number>, symbols: readonly Symbol[]): FunctionCost[] {
  const acc = new Map<string, number>();
  for (const [rip, n] of byRip) {
    const a = toAddress(rip);
    const s = symbolize(symbols, a);
    const name = s !== undefined && a - s.address < 0x100000n ? s.name : `?${(a & ~0xfffn).toString(16)}`;
    acc.set(name, (acc.get(name) ?? 0) + n);
  }
  return [...acc].map(([name, instructions]) => ({ name, instructions })).sort((x, y) => y.instructions - x.instructions || (x.name < y.name ? -1 : 1));
}
