/**
 * Region compilation (x86/jit.ts compileRegion) against block-at-a-time execution: loops over
 * several blocks, with branches inside, run with regions, with single compiled blocks and
 * interpreted, from the same state. With regions on or off the run must stop at exactly the
 * same instruction for any limit (the region checks the limit between its blocks as the run
 * loop does); against the interpreter the final state agrees once the loop has finished.
 * Also: a store into the region's own code, a fault in a later block of a region, and an
 * interrupt signalled inside a region.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../x86/cpu.js';
import type { Fault } from '../../x86/fault.js';
import { FlatMemory, PROT_R, PROT_W, PROT_X } from '../../x86/flat-memory.js';
import { KCODE, machine, runAt } from './system-machine.js';

const CODE = 0x401000;
const DATA = 0x600000;

const reg = fc.integer({ min: 0, max: 14 }).filter((r) => r !== 4);
const rex = (w: boolean, r: number, b: number): number => 0x40 | (w ? 8 : 0) | ((r >> 3) << 2) | (b >> 3);
const modrmRR = (r: number, b: number): number => 0xc0 | ((r & 7) << 3) | (b & 7);

/** Loop-body instructions (r15 is the loop counter and is left alone; rbx points at DATA). */
const insn: fc.Arbitrary<number[]> = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.boolean(), fc.boolean(), reg, reg).map(([op, w, dir, a, b]) => [rex(w, a, b), op * 8 + (dir ? 3 : 1), modrmRR(a, b)]),
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.boolean(), reg, fc.integer({ min: -128, max: 127 })).map(([op, w, b, imm]) => [rex(w, 0, b), 0x83, 0xc0 | (op << 3) | (b & 7), imm & 0xff]),
  fc.tuple(fc.boolean(), fc.boolean(), reg).map(([w, dec, r]) => [rex(w, 0, r), 0xff, 0xc0 | ((dec ? 1 : 0) << 3) | (r & 7)]),
  fc.tuple(fc.boolean(), reg, reg).map(([w, a, b]) => [rex(w, a, b), 0x85, modrmRR(a, b)]),
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.boolean(), reg, fc.integer({ min: 0, max: 63 })).map(([op, w, r, n]) => [rex(w, 0, r), 0xc1, 0xc0 | (op << 3) | (r & 7), n]),
  fc.tuple(fc.integer({ min: 0, max: 15 }), fc.boolean(), reg, reg).map(([cc, w, a, b]) => [rex(w, a, b), 0x0f, 0x40 + cc, modrmRR(a, b)]),
  fc.tuple(fc.boolean(), reg, reg).map(([w, a, b]) => [rex(w, a, b), 0x0f, 0xaf, modrmRR(a, b)]),
  // handler instructions: NEG, NOT, ADC
  fc.tuple(fc.boolean(), reg).map(([w, r]) => [rex(w, 0, r), 0xf7, 0xd8 | (r & 7)]),
  fc.tuple(fc.boolean(), reg, reg).map(([w, a, b]) => [rex(w, a, b), 0x11, modrmRR(a, b)]),
  // memory through rbx (DATA): load, store, add to memory
  fc.constant<number[]>([0x48, 0x8b, 0x03]),
  fc.constant<number[]>([0x48, 0x89, 0x0b]),
  fc.constant<number[]>([0x48, 0x01, 0x53, 0x08]),
  // push/pop pair, call to a RET placed after the loop is not generated (the layout is fixed)
  fc.tuple(reg, reg).map(([a, b]) => [rex(false, 0, a), 0x50 + (a & 7), rex(false, 0, b), 0x58 + (b & 7)]),
);

/**
 * L: a; jcc S; b; S: c; [jmp T; <pad>; T:] d; dec r15d; jnz L; hlt — blocks L, the fall-through,
 * S, T, each ending in a relative branch, all in one page.
 */
function loop(a: number[][], b: number[][], c: number[][], d: number[][], cc: number, jmp: boolean): number[] {
  const B = b.flat();
  const D = d.flat();
  const out = [...a.flat(), 0x0f, 0x80 + cc, ...le32(B.length)];
  out.push(...B, ...c.flat());
  if (jmp) out.push(0xeb, 0x02, 0x0f, 0x0b); // jmp over a ud2
  out.push(...D, 0x41, 0xff, 0xcf, 0x0f, 0x85);
  const rel = -(out.length + 4);
  out.push(...le32(rel), 0xf4);
  return out;
}
const le32 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];

interface Final {
  regs: number[];
  flags: number;
  rip: number;
  retired: number;
  fault?: string;
  mem: number[];
}

function run(code: number[], regs: number[], how: 'interp' | 'blocks' | 'regions', limit: number, threshold: number, faultAt?: number): Final {
  const m = new FlatMemory();
  m.map(CODE, 8192, PROT_R | PROT_X | PROT_W);
  m.map(DATA, 4096, PROT_R | PROT_W);
  m.map(DATA + 0x10000, 4096, PROT_R | PROT_W); // stack
  m.writeBytes(CODE, Uint8Array.from(code));
  let fault: Fault | undefined;
  const c = new Cpu(m, { exception: (cpu, f) => { fault = f; cpu.stopRequested = true; } }, ['base', 'cmov']);
  c.jit = how !== 'interp';
  c.regions = how === 'regions';
  c.jitThreshold = threshold;
  regs.forEach((v, n) => c.setReg64(n, v, n * 0x1111));
  c.setReg64(4, DATA + 0x10800, 0);
  c.setReg64(3, faultAt ?? DATA + 8, 0);
  c.rip = CODE;
  // Several runs, as a scheduler's slices: each stops where its limit is first checked.
  for (let left = limit; left > 0 && fault === undefined; ) {
    const n = c.run(Math.min(left, 97));
    if (n === 0) break;
    left -= n;
  }
  const out: number[] = [];
  for (let n = 0; n < 16; n++) out.push(c.reg64lo(n), c.reg64hi(n));
  return {
    regs: out,
    flags: c.getFlags(),
    rip: c.rip,
    retired: c.retired,
    mem: [...m.readBytes(DATA, 24), ...m.readBytes(DATA + 0x107f0, 16)],
    ...(fault !== undefined ? { fault: String(fault) } : {}),
  };
}

const body = fc.array(insn, { maxLength: 5 });

describe('region compiler = block compiler = interpreter', () => {
  it(`loops over several blocks stop at the same instruction for any limit`, () => {
    fc.assert(
      fc.property(
        body, body, body, body, fc.integer({ min: 0, max: 15 }), fc.boolean(), fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 30_000 }),
        fc.integer({ min: 1, max: 25 }), fc.array(fc.integer(), { minLength: 16, maxLength: 16 }),
        (a, b, c, d, cc, jmp, count, limit, threshold, regs) => {
          const code = loop(a, b, c, d, cc, jmp);
          const r = [...regs];
          r[15] = count;
          const x = run(code, r, 'blocks', limit, threshold);
          const y = run(code, r, 'regions', limit, threshold);
          expect(y).toEqual(x);
        },
      ),
      { numRuns: 150 },
    );
  });

  it(`finished loops agree with the interpreter`, () => {
    fc.assert(
      fc.property(body, body, body, body, fc.integer({ min: 0, max: 15 }), fc.boolean(), fc.integer({ min: 1, max: 2000 }), fc.array(fc.integer(), { minLength: 16, maxLength: 16 }), (a, b, c, d, cc, jmp, count, regs) => {
        const code = loop(a, b, c, d, cc, jmp);
        const r = [...regs];
        r[15] = count;
        const x = run(code, r, 'interp', 10_000_000, 2);
        fc.pre(x.fault !== undefined); // reached the final hlt (#GP at CPL 3) or faulted
        const y = run(code, r, 'regions', 10_000_000, 2);
        expect(y).toEqual(x);
      }),
      { numRuns: 100 },
    );
  });

  it('a load that faults in a later block of a region: same RIP, flags and retired count', () => {
    // L: add ecx,1; cmp ecx,50; jne S; mov rbx, 0x900000; S: mov rax,[rbx]; dec r15d; jnz L
    const code = [0x83, 0xc1, 0x01, 0x83, 0xf9, 0x32, 0x75, 0x07, 0x48, 0xc7, 0xc3, 0x00, 0x00, 0x90, 0x00, 0x48, 0x8b, 0x03, 0x41, 0xff, 0xcf, 0x75, 0xe9, 0xf4];
    const regs = Array.from({ length: 16 }, () => 0);
    regs[15] = 1000;
    const x = run(code, regs, 'interp', 100_000, 2);
    expect(x.fault).toMatch(/^#PF/);
    expect(x.retired).toBe(49 * 6 + 4); // 49 full iterations, then up to the load
    for (const how of ['blocks', 'regions'] as const) expect(run(code, regs, how, 100_000, 2)).toEqual(x);
  });

  it('a store into the region rewrites a later block of it: the new code runs at once', () => {
    // L: add ecx,1; cmp ecx,30; jne S; mov byte [rip+P], 2 (P: the imm8 of the add edx below); S: add edx,1; dec r15d; jnz L; hlt
    // After the store the add edx adds 2 per iteration.
    const head = [0x83, 0xc1, 0x01, 0x83, 0xf9, 0x1e, 0x75, 0x07];
    const store = [0xc6, 0x05, 0, 0, 0, 0, 0x02];
    const tail = [0x83, 0xc2, 0x01, 0x41, 0xff, 0xcf, 0x75, 0x00, 0xf4];
    // disp32 of the store: from the end of the store to the add edx's immediate (offset 2 of tail).
    store.splice(2, 4, ...le32(2));
    const code = [...head, ...store, ...tail];
    code[head.length + store.length + 7] = (-(head.length + store.length + 8)) & 0xff;
    const regs = Array.from({ length: 16 }, () => 0);
    regs[15] = 100;
    const x = run(code, regs, 'interp', 100_000, 2);
    // 29 iterations add 1; from the 30th (which stores first) they add 2.
    expect(x.regs[2 * 2]).toBe(29 + 71 * 2);
    for (const how of ['blocks', 'regions'] as const) expect(run(code, regs, how, 100_000, 2)).toEqual(x);
  });

  it('an interrupt signalled inside a region is taken where block-at-a-time execution takes it', () => {
    // sti; L: add ecx,1; cmp ecx,40; jne S; out 0x80,al (signals vector 0x40); S: add edx,1; dec r15d; jnz L; hlt
    const code = [0xfb, 0x83, 0xc1, 0x01, 0x83, 0xf9, 0x28, 0x75, 0x02, 0xe6, 0x80, 0x83, 0xc2, 0x01, 0x41, 0xff, 0xcf, 0x75, 0xee, 0xf4];
    const results = (['interp', 'blocks', 'regions'] as const).map((how) => {
      let pending = -1;
      const m = machine({
        ioOut: (c) => {
          pending = 0x40;
          c.signalInterrupt();
        },
        pendingInterrupt: () => pending,
        acknowledgeInterrupt: () => {
          const v = pending;
          pending = -1;
          return v;
        },
      });
      m.cpu.jit = how !== 'interp';
      m.cpu.regions = how === 'regions';
      m.cpu.jitThreshold = 2;
      m.cpu.setReg64(15, 1000, 0);
      runAt(m, KCODE, code, 1_000_000);
      return { retired: m.cpu.retired, rip: m.cpu.rip, rcx: m.cpu.reg64lo(1), rdx: m.cpu.reg64lo(2), halts: m.halts };
    });
    // The handler (HLT at the vector's entry) ran right after the block holding the OUT.
    expect(results[0]?.rcx).toBe(40);
    expect(results[0]?.rdx).toBe(40);
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });
});
