/**
 * The block compiler against the interpreter: random straight-line sequences of templated
 * instructions (and some that fall back to handlers) run both ways from the same state; every
 * register, the materialised flags, RIP, the retired count and memory must agree — also when a
 * memory access faults in the middle of a block (flags, RIP and retired at the fault).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../x86/cpu.js';
import type { Fault } from '../../x86/fault.js';
import { FlatMemory, PROT_R, PROT_W, PROT_X } from '../../x86/flat-memory.js';

const CODE = 0x401000;
const DATA = 0x600000;

/** Encodings of instructions the templates cover (r1, r2: register numbers 0-15 except rsp). */
const reg = fc.integer({ min: 0, max: 15 }).filter((r) => r !== 4);
const rex = (w: boolean, r: number, b: number): number => 0x40 | (w ? 8 : 0) | ((r >> 3) << 2) | (b >> 3);
const modrmRR = (r: number, b: number): number => 0xc0 | ((r & 7) << 3) | (b & 7);

const insn: fc.Arbitrary<number[]> = fc.oneof(
  // op Ev,Gv / Gv,Ev for add/or/adc/sbb/and/sub/xor/cmp, 32 or 64 bit, register forms
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.boolean(), fc.boolean(), reg, reg).map(([op, w, dir, a, b]) => [rex(w, a, b), op * 8 + (dir ? 3 : 1), modrmRR(a, b)]),
  // 83 /op Ev, imm8 and 81 /op Ev, imm32
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.boolean(), reg, fc.integer({ min: -128, max: 127 })).map(([op, w, b, imm]) => [rex(w, 0, b), 0x83, 0xc0 | (op << 3) | (b & 7), imm & 0xff]),
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.boolean(), reg, fc.integer()).map(([op, w, b, imm]) => [rex(w, 0, b), 0x81, 0xc0 | (op << 3) | (b & 7), imm & 0xff, (imm >> 8) & 0xff, (imm >> 16) & 0xff, (imm >>> 24) & 0xff]),
  // test, mov reg-reg, mov imm, inc/dec, lea, movzx/movsx, push/pop pairs
  fc.tuple(fc.boolean(), reg, reg).map(([w, a, b]) => [rex(w, a, b), 0x85, modrmRR(a, b)]),
  fc.tuple(fc.boolean(), reg, reg).map(([w, a, b]) => [rex(w, a, b), 0x89, modrmRR(a, b)]),
  fc.tuple(reg, fc.integer()).map(([r, imm]) => [rex(false, 0, r), 0xb8 + (r & 7), imm & 0xff, (imm >> 8) & 0xff, (imm >> 16) & 0xff, (imm >>> 24) & 0xff]),
  fc.tuple(fc.boolean(), fc.boolean(), reg).map(([w, dec, r]) => [rex(w, 0, r), 0xff, 0xc0 | ((dec ? 1 : 0) << 3) | (r & 7)]),
  fc.tuple(fc.boolean(), reg, reg, reg, fc.integer({ min: -128, max: 127 })).filter(([, , , x]) => x !== 4).map(([w, d, b, x, disp]) => [0x40 | (w ? 8 : 0) | ((d >> 3) << 2) | ((x >> 3) << 1) | (b >> 3), 0x8d, 0x44 | ((d & 7) << 3), ((x & 7) << 3) | (b & 7), disp & 0xff]),
  fc.tuple(reg, reg).map(([a, b]) => [rex(false, a, b), 0x0f, 0xb6, modrmRR(a, b)]),
  fc.tuple(reg, reg).map(([a, b]) => [rex(true, a, b), 0x0f, 0xbf, modrmRR(a, b)]),
  fc.tuple(reg, reg).map(([a, b]) => [rex(false, 0, a), 0x50 + (a & 7), rex(false, 0, b), 0x58 + (b & 7)]),
  // byte forms: op Eb,Gb / Gb,Eb with and without REX (AH..BH vs SPL..DIL), 80 /op Eb,Ib, test, mov
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 7 })).map(([op, withRex, dir, a, b]) =>
    withRex ? [0x40, op * 8 + (dir ? 2 : 0), modrmRR(a, b)] : [op * 8 + (dir ? 2 : 0), modrmRR(a, b)]),
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 255 })).map(([op, b, imm]) => [0x80, 0xc0 | (op << 3) | b, imm]),
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 7 })).map(([a, b]) => [0x84, modrmRR(a, b)]),
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 7 })).map(([a, b]) => [0x88, modrmRR(a, b)]),
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 255 })).map(([r, imm]) => [0xb0 + r, imm]),
  // byte store and compare through rbx
  fc.integer({ min: 0, max: 255 }).map((imm) => [0xc6, 0x03, imm]),
  fc.integer({ min: 0, max: 255 }).map((imm) => [0x80, 0x3b, imm]),
  // a handler fallback (shl r, imm8) and a flag reader (adc) mixed in
  fc.tuple(reg, fc.integer({ min: 0, max: 63 })).map(([r, n]) => [rex(true, 0, r), 0xc1, 0xe0 | (r & 7), n]),
  // shifts/rotates by imm and by 1, all eight group-2 ops; IMUL 2- and 3-operand forms
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.boolean(), reg, fc.integer({ min: 0, max: 255 })).map(([op, w, r, n]) => [rex(w, 0, r), 0xc1, 0xc0 | (op << 3) | (r & 7), n]),
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.boolean(), reg).map(([op, w, r]) => [rex(w, 0, r), 0xd1, 0xc0 | (op << 3) | (r & 7)]),
  fc.tuple(fc.boolean(), reg, reg).map(([w, a, b]) => [rex(w, a, b), 0x0f, 0xaf, modrmRR(a, b)]),
  fc.tuple(fc.boolean(), reg, reg, fc.integer({ min: -128, max: 127 })).map(([w, a, b, imm]) => [rex(w, a, b), 0x6b, modrmRR(a, b), imm & 0xff]),
  // CMOVcc and SETcc (register forms), after whatever set the flags
  fc.tuple(fc.integer({ min: 0, max: 15 }), fc.boolean(), reg, reg).map(([cc, w, a, b]) => [rex(w, a, b), 0x0f, 0x40 + cc, modrmRR(a, b)]),
  fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 7 })).map(([cc, r]) => [0x0f, 0x90 + cc, 0xc0 | r]),
  // a load from the data page through rbx (rbx is pinned to DATA by the setup when used)
  fc.constant<number[]>([0x48, 0x8b, 0x03]),
  // FS-relative load and store through rbx (FS base 0): the generic address path, which reads
  // the registers from c.r, so the compiled block must have stored its register locals first
  fc.constant<number[]>([0x64, 0x48, 0x8b, 0x03]),
  fc.constant<number[]>([0x64, 0x48, 0x89, 0x0b]),
  // op AL, Ib; TEST AL, Ib / rAX, Iz / Eb, Ib / Ev, Iz; NOT and NEG (register and through rbx)
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 255 })).map(([op, imm]) => [op * 8 + 4, imm]),
  fc.integer({ min: 0, max: 255 }).map((imm) => [0xa8, imm]),
  fc.tuple(fc.boolean(), fc.integer()).map(([w, imm]) => [rex(w, 0, 0), 0xa9, ...[0, 8, 16, 24].map((s) => (imm >>> s) & 0xff)]),
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 255 })).map(([r, imm]) => [0xf6, 0xc0 | r, imm]),
  fc.tuple(fc.boolean(), reg, fc.integer()).map(([w, r, imm]) => [rex(w, 0, r), 0xf7, 0xc0 | (r & 7), ...[0, 8, 16, 24].map((s) => (imm >>> s) & 0xff)]),
  fc.tuple(fc.boolean(), fc.boolean(), reg).map(([w, neg, r]) => [rex(w, 0, r), 0xf7, (neg ? 0xd8 : 0xd0) | (r & 7)]),
  fc.tuple(fc.boolean(), fc.boolean()).map(([w, neg]) => [rex(w, 0, 0), 0xf7, neg ? 0x1b : 0x13]),
  // ADC/SBB chains after a flag producer, and INC/DEC runs before a Jcc (carry and fusion paths)
  fc.tuple(fc.boolean(), fc.boolean(), reg, reg, reg).map(([w, sbb, a, b, x]) => [rex(w, a, b), 0x01, modrmRR(a, b), rex(w, a, x), sbb ? 0x19 : 0x11, modrmRR(a, x), rex(w, b, x), sbb ? 0x19 : 0x11, modrmRR(b, x)]),
  fc.tuple(fc.boolean(), reg, reg, fc.integer({ min: 0, max: 15 })).map(([w, a, b, cc]) => [rex(w, 0, a), 0xff, 0xc0 | (a & 7), rex(w, 0, b), 0xff, 0xc8 | (b & 7), 0x70 + cc, 0x02, 0x66, 0x90]),
  // a conditional forward jump over the next instruction (2-byte nop)
  fc.integer({ min: 0, max: 15 }).map((cc) => [0x70 + cc, 0x02, 0x66, 0x90]),
);

interface Final {
  regs: number[];
  flags: number;
  rip: number;
  retired: number;
  fault?: string;
  mem: number[];
}

function run(code: number[], regs: number[], jit: boolean, faultAt?: number, limit = 10_000): Final {
  const m = new FlatMemory();
  m.map(CODE, 8192, PROT_R | PROT_X);
  m.map(DATA, 4096, PROT_R | PROT_W);
  m.map(DATA + 0x10000, 4096, PROT_R | PROT_W); // stack
  m.writeBytes(CODE, Uint8Array.from([...code, 0xf4])); // hlt (#GP at CPL3) ends the run
  let fault: Fault | undefined;
  const c = new Cpu(m, { exception: (cpu, f) => { fault = f; cpu.stopRequested = true; } }, ['base', 'cmov']);
  c.jit = jit;
  c.jitThreshold = 1;
  regs.forEach((v, n) => c.setReg64(n, v, n * 0x1111));
  c.setReg64(4, DATA + 0x10800, 0);
  c.setReg64(3, faultAt ?? DATA + 8, 0);
  c.rip = CODE;
  c.run(limit);
  const out: number[] = [];
  for (let n = 0; n < 16; n++) out.push(c.reg64lo(n), c.reg64hi(n));
  return {
    regs: out,
    flags: c.getFlags(),
    rip: c.rip,
    retired: c.retired,
    mem: [...m.readBytes(DATA, 16), ...m.readBytes(DATA + 0x107f0, 16)],
    ...(fault !== undefined ? { fault: String(fault) } : {}),
  };
}

describe('block compiler = interpreter', () => {
  it('random straight-line blocks of templated and handler instructions', () => {
    fc.assert(
      fc.property(fc.array(insn, { minLength: 1, maxLength: 24 }), fc.array(fc.integer(), { minLength: 16, maxLength: 16 }), (seq, regs) => {
        const code = seq.flat();
        const a = run(code, regs, false);
        const b = run(code, regs, true);
        expect(b).toEqual(a);
        // Both ended at the hlt (#GP) or at the load through a clobbered rbx (#PF).
        expect(a.fault).toMatch(/^#GP\(0\)$|^#PF/);
      }),
      { numRuns: 400 },
    );
  });

  it('self-looping blocks (loop inside the compiled function) count and exit like the interpreter', () => {
    fc.assert(
      fc.property(fc.array(insn, { maxLength: 10 }), fc.integer({ min: 1, max: 9000 }), fc.array(fc.integer(), { minLength: 16, maxLength: 16 }), (body, count, regs) => {
        // L: body; dec r15d; jnz L  (r15 = count); bodies that clobber r15 may not finish.
        const flat = body.flat().filter(() => true);
        const code = [...flat, 0x41, 0xff, 0xcf, 0x0f, 0x85];
        const rel = -(code.length + 4);
        code.push(rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >>> 24) & 0xff);
        const r = [...regs];
        r[15] = count;
        const a = run(code, r, false, undefined, 1_000_000);
        fc.pre(a.fault === '#GP(0)');
        const b = run(code, r, true, undefined, 1_000_000);
        expect(b).toEqual(a);
      }),
      { numRuns: 100 },
    );
  });

  it('indirect CALL/JMP through a register, and their #GP on a non-canonical target', () => {
    // lea rax,[rip+10]; call rax; add ecx,1; hlt; (target:) add edx,1; ret
    const good = [0x48, 0x8d, 0x05, 0x06, 0, 0, 0, 0xff, 0xd0, 0x83, 0xc1, 0x01, 0xf4, 0x83, 0xc2, 0x01, 0xc3];
    // mov rax, 0x0000800000000000 (non-canonical); call rax / jmp rax
    const bad = (modrm: number): number[] => [0x48, 0xb8, 0, 0, 0, 0, 0, 0x80, 0, 0, 0xff, modrm];
    for (const code of [good, bad(0xd0), bad(0xe0)]) {
      // Run the block several times so it is compiled (threshold 1) and re-entered.
      const regs = Array.from({ length: 16 }, (_, k) => k * 3);
      const a = run(code, regs, false);
      const b = run(code, regs, true);
      expect(b).toEqual(a);
    }
    expect(run(bad(0xd0), [], true).fault).toBe('#GP(0)');
    const g = run(good, Array.from({ length: 16 }, () => 100), true);
    expect([g.regs[2], g.regs[4]]).toEqual([101, 101]); // ecx and edx each incremented once
  });

  it('a load that faults mid-block leaves the same flags, RIP and retired count', () => {
    fc.assert(
      fc.property(fc.array(insn, { minLength: 1, maxLength: 12 }), fc.array(insn, { maxLength: 6 }), fc.array(fc.integer(), { minLength: 16, maxLength: 16 }), (pre, post, regs) => {
        // mov rax, [rbx] with rbx pointing at an unmapped page
        const code = [...pre.flat(), 0x48, 0x8b, 0x03, ...post.flat()];
        const a = run(code, regs, false, 0x900000);
        const b = run(code, regs, true, 0x900000);
        expect(b).toEqual(a);
      }),
      { numRuns: 300 },
    );
  });
});
