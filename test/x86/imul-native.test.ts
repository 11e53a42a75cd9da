/**
 * 64-bit IMUL's lazily computed CF/OF (flags.ts, LazyOp.Imul64) against the real CPU, on the
 * edge values where the signed 128-bit product just fits or just does not, plus random ones.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cpu } from '../../x86/cpu.js';
import { FlatMemory, PROT_R, PROT_X } from '../../x86/flat-memory.js';
import { CF, OF } from '../../x86/isa/types.js';
import { NativeRunner, makeCase } from './native/native-runner.js';

const EDGES = [0n, 1n, -1n, 2n, -2n, 3n, 1n << 31n, -(1n << 31n), (1n << 32n) - 1n, 1n << 32n, -(1n << 32n), (1n << 62n), -(1n << 62n), (1n << 63n) - 1n, -(1n << 63n), 0x9e3779b97f4a7c15n, 0x2545f4914f6cdd1dn, 3037000499n, 3037000500n, -3037000499n, -3037000500n, 4294967296n * 2147483648n - 1n];

function ours(a: bigint, b: bigint, jit: boolean): { rax: bigint; cfof: number } {
  const m = new FlatMemory();
  m.map(0x400000, 4096, PROT_R | PROT_X);
  m.writeBytes(0x400000, Uint8Array.from([0x48, 0x0f, 0xaf, 0xc3, 0xcc])); // imul rax, rbx; int3
  const c = new Cpu(m, { exception: (cpu) => { cpu.stopRequested = true; } }, ['base']);
  c.jit = jit;
  c.jitThreshold = 1;
  const set = (n: number, v: bigint): void => c.setReg64(n, Number(BigInt.asIntN(32, v)), Number(BigInt.asIntN(32, v >> 32n)));
  set(0, a);
  set(3, b);
  c.rip = 0x400000;
  c.run(100);
  const rax = BigInt.asUintN(64, (BigInt(c.reg64hi(0)) << 32n) | BigInt(c.reg64lo(0) >>> 0));
  return { rax, cfof: c.getFlags() & (CF | OF) };
}

describe('IMUL r64, r/m64: result and CF/OF equal the real CPU', () => {
  let native: NativeRunner;
  beforeAll(async () => {
    native = await NativeRunner.start();
  });
  afterAll(async () => {
    await native.close();
  });

  it('on edge values and random pairs, interpreted and compiled', async () => {
    const pairs: [bigint, bigint][] = [];
    for (const a of EDGES) for (const b of EDGES) pairs.push([a, b]);
    fc.sample(fc.tuple(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), fc.bigInt({ min: -(1n << 40n), max: 1n << 40n })), 300).forEach((p) => pairs.push(p));
    const results = await native.run(pairs.map(([a, b]) => makeCase({ code: [0x48, 0x0f, 0xaf, 0xc3], gpr: [a, 0n, 0n, b, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n] })));
    pairs.forEach(([a, b], k) => {
      const n = results[k];
      expect(n?.outcome).toBe('completed');
      const want = { rax: n?.gpr[0] ?? -1n, cfof: Number((n?.rflags ?? 0n) & BigInt(CF | OF)) };
      expect(ours(a, b, false), `imul ${a} * ${b}`).toEqual(want);
      expect(ours(a, b, true), `imul ${a} * ${b} (compiled)`).toEqual(want);
    });
  });
});
