import { describe, expect, it } from 'vitest';
import type { Domain } from '../../../abi/hv/domain.js';
import { GuestProfiler, byFunction, parseSystemMap, symbolize, toAddress } from '../../../harness/bench/guest-profile.js';

const MAP = `ffffffff81000000 T _stext
ffffffff81002c20 T calibrate_delay
ffffffff81002000 t early_helper
ffffffff81003000 D some_data
ffffffff819c2960 T clear_page_rep
ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package
not a symbol line
`;

/** A canonical JS-number RIP (sign-extended, as the CPU keeps it) for a kernel address. */
const rip = (hex: string): number => Number(BigInt.asIntN(64, BigInt(hex)));

const fakeDomain = (rips: (number | undefined)[], blocked: boolean[] = []): Domain =>
  ({ vcpus: rips.map((r, i) => (r === undefined ? undefined : { blocked: blocked[i] ?? false, cpu: { rip: r } })) }) as unknown as Domain;

describe('guest profiler symbol attribution', () => {
  it('keeps text symbols only, sorted by address', () => {
    const syms = parseSystemMap(MAP);
    expect(syms.map((s) => s.name)).toEqual(['_stext', 'early_helper', 'calibrate_delay', 'clear_page_rep']);
  });

  it('attributes an address to the last symbol at or below it', () => {
    const syms = parseSystemMap(MAP);
    expect(symbolize(syms, 0xffffffff81002c20n)?.name).toBe('calibrate_delay');
    expect(symbolize(syms, 0xffffffff81002c1fn)?.name).toBe('early_helper');
    expect(symbolize(syms, 0xffffffff819c2961n)?.name).toBe('clear_page_rep');
    expect(symbolize(syms, 0xffffffff80ffffffn)).toBeUndefined();
  });

  it('turns canonical RIPs back into kernel addresses', () => {
    expect(toAddress(rip('0xffffffff81002c25'))).toBe(0xffffffff81002c25n);
    expect(toAddress(0x401000)).toBe(0x401000n);
  });

  it('charges each slice to the RIP the running vCPUs stopped at, and sums per function', () => {
    const p = new GuestProfiler();
    p.sample(10_000, fakeDomain([rip('0xffffffff81002c30')]));
    p.sample(25_000, fakeDomain([rip('0xffffffff81002c40')]));
    p.markPhase('Calibrating delay loop');
    // Two running vCPUs split the slice; a blocked one is not charged.
    p.sample(35_000, fakeDomain([rip('0xffffffff819c2970'), rip('0xffffffff81000010'), rip('0xffffffff81002c30')], [false, false, true]));
    p.sample(35_000, fakeDomain([rip('0xffffffff819c2970')])); // nothing retired: no charge
    p.sample(36_000, fakeDomain([0x401000]));
    const fns = byFunction(p.byRip, parseSystemMap(MAP));
    expect(fns).toEqual([
      { name: 'calibrate_delay', instructions: 25_000 },
      { name: '_stext', instructions: 5_000 },
      { name: 'clear_page_rep', instructions: 5_000 },
      { name: '?401000', instructions: 1_000 },
    ]);
    expect(p.phases.map((ph) => [ph.label, ph.from])).toEqual([
      ['(start)', 0],
      ['Calibrating delay loop', 25_000],
    ]);
    expect([...(p.phases[1]?.byRip.values() ?? [])].reduce((a, b) => a + b, 0)).toBe(11_000);
    expect(p.samples).toBe(4);
  });
});
