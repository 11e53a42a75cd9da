/**
 * CR0.MP, EM and TS against the x87 and SSE instructions (SDM vol. 3A §2.5 and table 2-2; each
 * instruction's #NM and #UD lines in vol. 2): the instruction table's `fpu` column, applied by
 * the block builder (x86/cpu.ts `translate`), interpreted and compiled alike. Runs on the
 * system-level test machine: an exception is delivered through the IDT to a handler that halts.
 */
import { describe, expect, it } from 'vitest';
import type { Cpu } from '../../x86/cpu.js';
import { type Fault, NM, PF_VEC, UD } from '../../x86/fault.js';
import { CR0_EM, CR0_MP, CR0_TS } from '../../x86/system/regs.js';
import { DATA, HANDLERS, KCODE, type Machine, machine, rsp, runAt } from './system-machine.js';

const FEATURES = ['base', 'fpu', 'fxsr', 'sse', 'sse2', 'sse4_2', 'clflush'] as const;
const RAN = -1;

/** The vector `code` (then HLT) raises at KCODE with CR0's MP/EM/TS set to `bits`, or RAN. */
function outcome(code: readonly number[], bits: number, compiled: boolean): number {
  const m = machine({}, FEATURES);
  const c = m.cpu;
  c.cr0 |= bits;
  if (compiled) c.jitThreshold = 1;
  else c.jit = false;
  c.setReg64(3, DATA, 0); // RBX: a 16-byte aligned operand
  runAt(m, KCODE, [...code, 0xf4]);
  expect(m.halts).toBe(1);
  if (c.rip === KCODE + code.length + 1) return RAN;
  const v = (c.rip - 1 - HANDLERS) / 16;
  expect(m.ram.get64(rsp(c))).toBe(BigInt(KCODE)); // a fault: the frame's RIP is the instruction
  return v;
}

/** One instruction of each `fpu` class, and SSE-family ones that touch no SSE state. */
const X87: readonly (readonly [string, readonly number[]])[] = [
  ['fldz', [0xd9, 0xee]],
  ['fninit', [0xdb, 0xe3]],
  ['fnstsw ax', [0xdf, 0xe0]],
  ['fnstcw [rbx]', [0xd9, 0x3b]],
  ['fnsave [rbx]', [0xdd, 0x33]],
];
const WAIT: readonly (readonly [string, readonly number[]])[] = [['fwait', [0x9b]]];
const SSE: readonly (readonly [string, readonly number[]])[] = [
  ['xorps xmm0, xmm0', [0x0f, 0x57, 0xc0]],
  ['pxor xmm1, xmm2', [0x66, 0x0f, 0xef, 0xca]],
  ['movd xmm0, eax', [0x66, 0x0f, 0x6e, 0xc0]],
  ['movaps [rbx], xmm0', [0x0f, 0x29, 0x03]],
  ['ldmxcsr [rbx]', [0x0f, 0xae, 0x13]],
  ['stmxcsr [rbx]', [0x0f, 0xae, 0x1b]],
  ['pmovmskb eax, xmm0', [0x66, 0x0f, 0xd7, 0xc0]],
];
const FXSR: readonly (readonly [string, readonly number[]])[] = [
  ['fxsave [rbx]', [0x0f, 0xae, 0x03]],
  ['fxrstor [rbx]', [0x0f, 0xae, 0x0b]],
];
const NONE: readonly (readonly [string, readonly number[]])[] = [
  ['movnti [rbx], eax', [0x0f, 0xc3, 0x03]],
  ['sfence', [0x0f, 0xae, 0xf8]],
  ['lfence', [0x0f, 0xae, 0xe8]],
  ['mfence', [0x0f, 0xae, 0xf0]],
  ['crc32 eax, bl', [0xf2, 0x0f, 0x38, 0xf0, 0xc3]],
  ['clflush [rbx]', [0x0f, 0xae, 0x3b]],
  ['prefetchnta [rbx]', [0x0f, 0x18, 0x03]],
  ['pause', [0xf3, 0x90]],
];

/**
 * SDM vol. 3A table 2-2, EM MP TS -> x87 instruction, WAIT/FWAIT; and for SSE and FXSAVE/FXRSTOR
 * their exception lists: #UD if EM, #NM if TS.
 */
const TABLE: readonly (readonly [number, number, number, number, number, number])[] = [
  // EM MP TS  x87   WAIT  SSE/FXSR
  [0, 0, 0, RAN, RAN, RAN],
  [0, 0, 1, NM, RAN, NM],
  [0, 1, 0, RAN, RAN, RAN],
  [0, 1, 1, NM, NM, NM],
  [1, 0, 0, NM, RAN, UD],
  [1, 0, 1, NM, RAN, UD],
  [1, 1, 0, NM, RAN, UD],
  [1, 1, 1, NM, NM, UD],
];

describe('CR0.EM, MP and TS (#NM, #UD) by the table\'s fpu column', () => {
  for (const compiled of [false, true]) {
    it(`every combination, for x87, FWAIT, SSE, FXSAVE/FXRSTOR and SSE-family instructions without SSE state (${compiled ? 'compiled' : 'interpreted'})`, () => {
      const got: string[] = [];
      const want: string[] = [];
      for (const [em, mp, ts, x87, wait, sse] of TABLE) {
        const bits = (em ? CR0_EM : 0) | (mp ? CR0_MP : 0) | (ts ? CR0_TS : 0);
        const groups = [[X87, x87], [WAIT, wait], [SSE, sse], [FXSR, sse], [NONE, RAN]] as const;
        for (const [insns, expected] of groups) {
          for (const [name, code] of insns) {
            const key = `EM=${em} MP=${mp} TS=${ts} ${name}: `;
            got.push(key + outcome(code, bits, compiled));
            want.push(key + expected);
          }
        }
      }
      expect(got).toEqual(want);
    });
  }

  it('#NM comes before the memory operand is touched (an unmapped SSE load raises #NM, not #PF)', () => {
    for (const ts of [CR0_TS, 0]) {
      const m = machine({}, FEATURES);
      m.cpu.cr0 |= ts;
      m.cpu.setReg64(3, 0, 1); // RBX = 4 GiB: not mapped
      runAt(m, KCODE, [0x0f, 0x28, 0x03]); // movaps xmm0, [rbx]
      expect(m.cpu.rip).toBe(HANDLERS + (ts !== 0 ? NM : PF_VEC) * 16 + 1);
    }
  });
});

/** A machine whose #NM handler is `clts; iretq` (lazy FPU switching), recording where each #NM was raised. */
function lazyFpu(compiled: boolean): Machine & { nmAt: number[]; nm: () => number } {
  const nmAt: number[] = [];
  const m = machine({
    exception: (c, f: Fault) => {
      if (f.vector === NM) nmAt.push(c.rip);
      return false;
    },
  }, FEATURES);
  m.ram.bytes(HANDLERS + NM * 16, [0x0f, 0x06, 0x48, 0xcf]);
  if (compiled) m.cpu.jitThreshold = 1;
  else m.cpu.jit = false;
  return Object.assign(m, { nmAt, nm: () => nmAt.length });
}

describe('decoded blocks follow CR0.TS', () => {
  for (const compiled of [false, true]) {
    const how = compiled ? 'compiled' : 'interpreted';
    it(`a block decoded with TS clear raises #NM once TS is set behind it, and runs after the handler's CLTS (${how})`, () => {
      const m = lazyFpu(compiled);
      const c: Cpu = m.cpu;
      const code = [0x0f, 0x57, 0xc0, 0x66, 0x0f, 0xef, 0xc9, 0xf4]; // xorps xmm0, xmm0; pxor xmm1, xmm1; hlt
      runAt(m, KCODE, code);
      expect([m.halts, m.nm()]).toEqual([1, 0]);
      c.cr0 |= CR0_TS; // the driver sets TS (a PV fpu_taskswitch)
      c.xmm[0] = 5;
      runAt(m, KCODE, code);
      expect([m.halts, m.nm(), c.xmm[0], c.cr0 & CR0_TS]).toEqual([2, 1, 0, 0]);
      // TS stays clear: the block runs without #NM again.
      runAt(m, KCODE, code);
      expect([m.halts, m.nm()]).toEqual([3, 1]);
    });

    it(`CLTS and MOV to CR0 in the middle of a block decide the SSE instruction after them (${how})`, () => {
      const m = lazyFpu(compiled);
      const c = m.cpu;
      c.cr0 |= CR0_TS;
      runAt(m, KCODE, [0x0f, 0x06, 0x0f, 0x57, 0xc0, 0xf4]); // clts; xorps xmm0, xmm0; hlt
      expect([m.halts, m.nm()]).toEqual([1, 0]);
      // mov rax, cr0; or eax, TS; mov cr0, rax; xorps xmm0, xmm0; hlt: #NM at the xorps.
      runAt(m, KCODE + 0x100, [0x0f, 0x20, 0xc0, 0x83, 0xc8, 0x08, 0x0f, 0x22, 0xc0, 0x0f, 0x57, 0xc0, 0xf4]);
      expect([m.halts, m.nmAt]).toEqual([2, [KCODE + 0x100 + 9]]);
      expect(c.cr0 & CR0_TS).toBe(0); // the handler's CLTS
    });
  }
});
