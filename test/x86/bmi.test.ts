/**
 * The VEX-encoded BMI1/BMI2 rows (x86/isa/rows-bmi.ts) and VEX decoding. Every expected value
 * and flag below was measured on the reference machine (AMD EPYC, BMI1/BMI2) with inline
 * assembly: RAX, RBX, RCX, RDX and RFLAGS after the instruction, starting from RFLAGS with all six
 * arithmetic flags set; the #UD cases were run there too (SIGILL). Only the flags the SDM defines
 * are compared (the row's `flags.write` less `flags.undefined`).
 */
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../x86/cpu.js';
import { decode } from '../../x86/decoder.js';
import { disassembleBytes } from '../../x86/disasm.js';
import { Fault, UD } from '../../x86/fault.js';
import { FlatMemory, PROT_R, PROT_W, PROT_X } from '../../x86/flat-memory.js';
import type { Feature } from '../../x86/isa/types.js';

const CODE = 0x401000;
const DATA = 0x600000;
const ALL: Feature[] = ['base', 'bmi1', 'bmi2'];
/** RFLAGS before each case: CF PF AF ZF SF OF set (and the reserved bit 1). */
const FLAGS_IN = 0x8d7;

function big(c: Cpu, n: number): bigint {
  return (BigInt(c.reg64hi(n) >>> 0) << 32n) | BigInt(c.reg64lo(n) >>> 0);
}
function set(c: Cpu, n: number, v: bigint): void {
  c.setReg64(n, Number(v & 0xffffffffn) | 0, Number((v >> 32n) & 0xffffffffn) | 0);
}

interface Result {
  c: Cpu;
  fault?: Fault;
}

/** Register numbers of RAX, RBX, RCX, RDX: the order of the measured values. */
const ABCD = [0, 3, 1, 2] as const;

/** Runs one instruction (then stops at the UD2 after it) with RAX, RBX, RCX, RDX = `regs`. */
function run(code: readonly number[], regs: readonly bigint[] = [], opts: { features?: Feature[]; mode?: 64 | 32; mem?: bigint } = {}): Result {
  const m = new FlatMemory();
  m.map(CODE, 4096, PROT_R | PROT_X);
  m.map(DATA, 4096, PROT_R | PROT_W);
  m.writeBytes(CODE, Uint8Array.from([...code, 0x0f, 0x0b]));
  if (opts.mem !== undefined) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, opts.mem, true);
    m.writeBytes(DATA, b);
  }
  let fault: Fault | undefined;
  const c = new Cpu(m, {
    exception: (cpu, f) => {
      if (!(f.vector === UD && cpu.rip === CODE + code.length)) fault = f;
      cpu.stopRequested = true;
    },
  }, opts.features ?? ALL);
  if (opts.mode !== undefined) c.mode = opts.mode;
  c.rip = CODE;
  regs.forEach((v, k) => set(c, ABCD[k] as number, v));
  set(c, 6, BigInt(DATA)); // RSI: the memory operand of the memory forms
  c.setFlagBits(0x8d7, FLAGS_IN);
  c.run(100);
  return fault === undefined ? { c } : { c, fault };
}

/** [AT&T text, bytes, RAX RBX RCX RDX before, the same after, RFLAGS after] as measured. */
const MEASURED: readonly [string, readonly number[], readonly bigint[], readonly bigint[], number][] = [
  ['mulx %rcx,%rbx,%rax', [0xc4, 0xe2, 0xe3, 0xf6, 0xc1], [0x1111n, 0x2222n, 0x123456789abcdef0n, 0xfedcba9876543210n], [0x121fa00ad77d7422n, 0x236d88fe5618cf00n, 0x123456789abcdef0n, 0xfedcba9876543210n], 0xad7],
  ['mulx %rcx,%rax,%rax', [0xc4, 0xe2, 0xfb, 0xf6, 0xc1], [0x1111n, 0x2222n, 0x123456789abcdef0n, 0xfedcba9876543210n], [0x121fa00ad77d7422n, 0x2222n, 0x123456789abcdef0n, 0xfedcba9876543210n], 0xad7],
  ['mulx %ecx,%ebx,%eax', [0xc4, 0xe2, 0x63, 0xf6, 0xc1], [0xffffffffffffffffn, 0xffffffffffffffffn, 0xdeadbeef9abcdef0n, 0x11111111fedcba98n], [0x9a0cd04an, 0xd05ebe80n, 0xdeadbeef9abcdef0n, 0x11111111fedcba98n], 0xad7],
  ['mulx %rcx,%rbx,%rax', [0xc4, 0xe2, 0xe3, 0xf6, 0xc1], [0x0n, 0x0n, 0xffffffffffffffffn, 0xffffffffffffffffn], [0xfffffffffffffffen, 0x1n, 0xffffffffffffffffn, 0xffffffffffffffffn], 0xad7],
  ['pdep %rcx,%rbx,%rax', [0xc4, 0xe2, 0xe3, 0xf5, 0xc1], [0x0n, 0xffb7n, 0xf0f0f0f00ff000f1n, 0x0n], [0x700fd000b1n, 0xffb7n, 0xf0f0f0f00ff000f1n, 0x0n], 0xad7],
  ['pdep %rcx,%rbx,%rax', [0xc4, 0xe2, 0xe3, 0xf5, 0xc1], [0x0n, 0x123456789abcdef1n, 0x8000000180000001n, 0x0n], [0x1n, 0x123456789abcdef1n, 0x8000000180000001n, 0x0n], 0xad7],
  ['pdep %ecx,%ebx,%eax', [0xc4, 0xe2, 0x63, 0xf5, 0xc1], [0xffffffffffffffffn, 0xffffffff0000abcdn, 0x1234567880f0ff01n, 0x0n], [0x8050e601n, 0xffffffff0000abcdn, 0x1234567880f0ff01n, 0x0n], 0xad7],
  ['pext %rcx,%rbx,%rax', [0xc4, 0xe2, 0xe2, 0xf5, 0xc1], [0x0n, 0x123456789abcdef1n, 0xf0f0f0f00ff000f1n, 0x0n], [0x26af57fn, 0x123456789abcdef1n, 0xf0f0f0f00ff000f1n, 0x0n], 0xad7],
  ['pext %rcx,%rbx,%rax', [0xc4, 0xe2, 0xe2, 0xf5, 0xc1], [0x0n, 0xfedcba9876543210n, 0x8000000180000001n, 0x0n], [0x8n, 0xfedcba9876543210n, 0x8000000180000001n, 0x0n], 0xad7],
  ['pext %ecx,%ebx,%eax', [0xc4, 0xe2, 0x62, 0xf5, 0xc1], [0xffffffffffffffffn, 0x12345678fedcba98n, 0xffffffffff00ff00n, 0x0n], [0xfeban, 0x12345678fedcba98n, 0xffffffffff00ff00n, 0x0n], 0xad7],
  ['bextr %rcx,%rbx,%rax', [0xc4, 0xe2, 0xf0, 0xf7, 0xc3], [0x0n, 0xfedcba9876543210n, 0xa3cn, 0x0n], [0xfn, 0xfedcba9876543210n, 0xa3cn, 0x0n], 0x216],
  ['bextr %rcx,%rbx,%rax', [0xc4, 0xe2, 0xf0, 0xf7, 0xc3], [0x0n, 0xfedcba9876543210n, 0x2046n, 0x0n], [0x0n, 0xfedcba9876543210n, 0x2046n, 0x0n], 0x256],
  ['bextr %rcx,%rbx,%rax', [0xc4, 0xe2, 0xf0, 0xf7, 0xc3], [0x0n, 0xfedcba9876543210n, 0xc804n, 0x0n], [0xfedcba987654321n, 0xfedcba9876543210n, 0xc804n, 0x0n], 0x216],
  ['bextr %rcx,%rbx,%rax', [0xc4, 0xe2, 0xf0, 0xf7, 0xc3], [0x0n, 0xfedcba9876543210n, 0x1234560008n, 0x0n], [0x0n, 0xfedcba9876543210n, 0x1234560008n, 0x0n], 0x256],
  ['bextr %ecx,%ebx,%eax', [0xc4, 0xe2, 0x70, 0xf7, 0xc3], [0xffffffffffffffffn, 0xfedcba9876543210n, 0x101cn, 0x0n], [0x7n, 0xfedcba9876543210n, 0x101cn, 0x0n], 0x212],
  ['bextr %ecx,%ebx,%eax', [0xc4, 0xe2, 0x70, 0xf7, 0xc3], [0xffffffffffffffffn, 0xfedcba9876543210n, 0x1020n, 0x0n], [0x0n, 0xfedcba9876543210n, 0x1020n, 0x0n], 0x256],
  ['bzhi %rcx,%rbx,%rax', [0xc4, 0xe2, 0xf0, 0xf5, 0xc3], [0x0n, 0xffffffffffffffffn, 0x5n, 0x0n], [0x1fn, 0xffffffffffffffffn, 0x5n, 0x0n], 0x202],
  ['bzhi %rcx,%rbx,%rax', [0xc4, 0xe2, 0xf0, 0xf5, 0xc3], [0x0n, 0x8000000000000001n, 0x40n, 0x0n], [0x8000000000000001n, 0x8000000000000001n, 0x40n, 0x0n], 0x283],
  ['bzhi %rcx,%rbx,%rax', [0xc4, 0xe2, 0xf0, 0xf5, 0xc3], [0x0n, 0x8000000000000001n, 0x1ffn, 0x0n], [0x8000000000000001n, 0x8000000000000001n, 0x1ffn, 0x0n], 0x283],
  ['bzhi %rcx,%rbx,%rax', [0xc4, 0xe2, 0xf0, 0xf5, 0xc3], [0x0n, 0x8000000000000001n, 0x100n, 0x0n], [0x0n, 0x8000000000000001n, 0x100n, 0x0n], 0x246],
  ['bzhi %ecx,%ebx,%eax', [0xc4, 0xe2, 0x70, 0xf5, 0xc3], [0xffffffffffffffffn, 0xffffffff80000001n, 0x28n, 0x0n], [0x80000001n, 0xffffffff80000001n, 0x28n, 0x0n], 0x283],
  ['bzhi %ecx,%ebx,%eax', [0xc4, 0xe2, 0x70, 0xf5, 0xc3], [0xffffffffffffffffn, 0xffffffff80000001n, 0x1fn, 0x0n], [0x1n, 0xffffffff80000001n, 0x1fn, 0x0n], 0x202],
  ['andn %rcx,%rbx,%rax', [0xc4, 0xe2, 0xe0, 0xf2, 0xc1], [0x0n, 0xff00ff00ff00ff00n, 0xf0f0f0f0f0f0f0f0n, 0x0n], [0xf000f000f000f0n, 0xff00ff00ff00ff00n, 0xf0f0f0f0f0f0f0f0n, 0x0n], 0x206],
  ['andn %rcx,%rbx,%rax', [0xc4, 0xe2, 0xe0, 0xf2, 0xc1], [0x0n, 0xffffffffffffffffn, 0x1234n, 0x0n], [0x0n, 0xffffffffffffffffn, 0x1234n, 0x0n], 0x246],
  ['andn %ecx,%ebx,%eax', [0xc4, 0xe2, 0x60, 0xf2, 0xc1], [0xffffffffffffffffn, 0xf0f0f0fn, 0x80f0f0f0n, 0x0n], [0x80f0f0f0n, 0xf0f0f0fn, 0x80f0f0f0n, 0x0n], 0x286],
  ['blsr %rcx,%rax', [0xc4, 0xe2, 0xf8, 0xf3, 0xc9], [0xffffffffffffffffn, 0x0n, 0x8000000000000000n, 0x0n], [0x0n, 0x0n, 0x8000000000000000n, 0x0n], 0x246],
  ['blsr %rcx,%rax', [0xc4, 0xe2, 0xf8, 0xf3, 0xc9], [0xffffffffffffffffn, 0x0n, 0x0n, 0x0n], [0x0n, 0x0n, 0x0n, 0x0n], 0x247],
  ['blsmsk %rcx,%rax', [0xc4, 0xe2, 0xf8, 0xf3, 0xd1], [0xffffffffffffffffn, 0x0n, 0x100000000n, 0x0n], [0x1ffffffffn, 0x0n, 0x100000000n, 0x0n], 0x206],
  ['blsmsk %rcx,%rax', [0xc4, 0xe2, 0xf8, 0xf3, 0xd1], [0xffffffffffffffffn, 0x0n, 0x0n, 0x0n], [0xffffffffffffffffn, 0x0n, 0x0n, 0x0n], 0x287],
  ['blsi %rcx,%rax', [0xc4, 0xe2, 0xf8, 0xf3, 0xd9], [0xffffffffffffffffn, 0x0n, 0x8000001800000000n, 0x0n], [0x800000000n, 0x0n, 0x8000001800000000n, 0x0n], 0x207],
  ['blsi %ecx,%eax', [0xc4, 0xe2, 0x78, 0xf3, 0xd9], [0xffffffffffffffffn, 0x0n, 0xffffffff00000000n, 0x0n], [0x0n, 0x0n, 0xffffffff00000000n, 0x0n], 0x246],
  ['blsi %ecx,%eax', [0xc4, 0xe2, 0x78, 0xf3, 0xd9], [0xffffffffffffffffn, 0x0n, 0x18n, 0x0n], [0x8n, 0x0n, 0x18n, 0x0n], 0x203],
  ['shlx %rcx,%rbx,%rax', [0xc4, 0xe2, 0xf1, 0xf7, 0xc3], [0x0n, 0x8123456789abcdefn, 0x44n, 0x0n], [0x123456789abcdef0n, 0x8123456789abcdefn, 0x44n, 0x0n], 0xad7],
  ['shrx %rcx,%rbx,%rax', [0xc4, 0xe2, 0xf3, 0xf7, 0xc3], [0x0n, 0x8123456789abcdefn, 0x7fn, 0x0n], [0x1n, 0x8123456789abcdefn, 0x7fn, 0x0n], 0xad7],
  ['sarx %rcx,%rbx,%rax', [0xc4, 0xe2, 0xf2, 0xf7, 0xc3], [0x0n, 0x8123456789abcdefn, 0x24n, 0x0n], [0xfffffffff8123456n, 0x8123456789abcdefn, 0x24n, 0x0n], 0xad7],
  ['sarx %ecx,%ebx,%eax', [0xc4, 0xe2, 0x72, 0xf7, 0xc3], [0xffffffffffffffffn, 0x89abcdefn, 0x2cn, 0x0n], [0xfff89abcn, 0x89abcdefn, 0x2cn, 0x0n], 0xad7],
  ['shlx %ecx,%ebx,%eax', [0xc4, 0xe2, 0x71, 0xf7, 0xc3], [0xffffffffffffffffn, 0x89abcdefn, 0x3fn, 0x0n], [0x80000000n, 0x89abcdefn, 0x3fn, 0x0n], 0xad7],
  ['rorx $0x24,%rbx,%rax', [0xc4, 0xe3, 0xfb, 0xf0, 0xc3, 0x24], [0x0n, 0x8123456789abcdefn, 0x0n, 0x0n], [0x789abcdef8123456n, 0x8123456789abcdefn, 0x0n, 0x0n], 0xad7],
  ['rorx $0x5,%rbx,%rax', [0xc4, 0xe3, 0xfb, 0xf0, 0xc3, 0x05], [0x0n, 0x8123456789abcdefn, 0x0n, 0x0n], [0x7c091a2b3c4d5e6fn, 0x8123456789abcdefn, 0x0n, 0x0n], 0xad7],
  ['rorx $0x25,%ebx,%eax', [0xc4, 0xe3, 0x7b, 0xf0, 0xc3, 0x25], [0xffffffffffffffffn, 0xffffffff89abcdefn, 0x0n, 0x0n], [0x7c4d5e6fn, 0xffffffff89abcdefn, 0x0n, 0x0n], 0xad7],
];

/** Flags the SDM defines for each mnemonic (written less undefined). */
const DEFINED: Readonly<Record<string, number>> = {
  andn: 0x8c1, // OF SF ZF CF
  bextr: 0x841, // OF ZF CF
  blsr: 0x8c1,
  blsmsk: 0x8c1,
  blsi: 0x8c1,
  bzhi: 0x8c1,
};

describe('VEX-encoded BMI1/BMI2 against values measured on the host', () => {
  for (const [text, bytes, before, after, flags] of MEASURED) {
    it(`${text} (${before.map((v) => v.toString(16)).join(', ')})`, () => {
      const { c, fault } = run(bytes, before);
      expect(fault).toBeUndefined();
      expect(ABCD.map((n) => big(c, n))).toEqual(after);
      const m = text.split(' ')[0] as string;
      // BMI2 shifts, rotates, MULX, PDEP and PEXT leave every flag as it was.
      const mask = DEFINED[m] ?? 0x8d5;
      expect(c.getFlags() & mask).toBe(flags & mask);
      expect(disassembleBytes(Uint8Array.from(bytes), CODE)[0]?.text.replace(/ +/, ' ')).toBe(text);
    });
  }

  it('MULX with the same register for both halves keeps the high half', () => {
    const { c } = run([0xc4, 0xe2, 0xfb, 0xf6, 0xc1], [0x1111n, 0n, 0x123456789abcdef0n, 0xfedcba9876543210n]);
    expect(big(c, 0)).toBe(0x121fa00ad77d7422n);
  });

  it('reads the r/m source from memory (ANDN rax, rbx, [rsi]; PEXT eax, ebx, [rsi])', () => {
    const andn = run([0xc4, 0xe2, 0xe0, 0xf2, 0x06], [0n, 0xff00ff00ff00ff00n], { mem: 0xf0f0f0f0f0f0f0f0n });
    expect(big(andn.c, 0)).toBe(0x00f000f000f000f0n);
    const pext = run([0xc4, 0xe2, 0x62, 0xf5, 0x06], [0xffffffffffffffffn, 0x12345678fedcba98n], { mem: 0xffffffffff00ff00n });
    expect(big(pext.c, 0)).toBe(0xfeban);
  });

  it('decodes VEX fields into the Insn: vvvv (inverted), L, W as the operand size', () => {
    const m = new FlatMemory();
    m.map(CODE, 4096, PROT_R | PROT_X);
    m.writeBytes(CODE, Uint8Array.of(0xc4, 0x62, 0x83, 0xf6, 0xc1)); // mulx %rcx,%r15,%r8
    const c = new Cpu(m, { exception: () => {} }, ALL);
    const i = decode(c, CODE);
    expect([i.vex, i.vvvv, i.vexL, i.opsize, i.reg, i.rm, i.rex, i.len]).toEqual([true, 15, 0, 8, 8, 1, 0, 5]);
    expect(i.row.name).toBe('mulx_Gy_By_Ey');
    expect(disassembleBytes(Uint8Array.of(0xc4, 0x62, 0x83, 0xf6, 0xc1), CODE)[0]?.text).toBe('mulx   %rcx,%r15,%r8');
  });
});

describe('VEX #UD conditions (SIGILL on the host)', () => {
  const cases: readonly [string, readonly number[]][] = [
    ['VEX.L = 1 (MULX)', [0xc4, 0xe2, 0xe7, 0xf6, 0xc1]],
    ['VEX.L = 1 (ANDN)', [0xc4, 0xe2, 0xe4, 0xf2, 0xc1]],
    ['66 before VEX', [0x66, 0xc4, 0xe2, 0xe3, 0xf6, 0xc1]],
    ['F3 before VEX', [0xf3, 0xc4, 0xe2, 0xe3, 0xf6, 0xc1]],
    ['REX before VEX', [0x40, 0xc4, 0xe2, 0xe3, 0xf6, 0xc1]],
    ['RORX with VEX.vvvv other than 1111b', [0xc4, 0xe3, 0xf3, 0xf0, 0xc3, 0x05]],
    ['a reserved VEX.mmmmm (4)', [0xc4, 0xe4, 0xe3, 0xf6, 0xc1]],
  ];
  for (const [what, bytes] of cases) {
    it(`raises #UD for ${what}`, () => {
      const { c, fault } = run(bytes, [0x1111n, 0x2222n, 3n, 4n]);
      expect(fault?.vector).toBe(UD);
      expect(c.rip).toBe(CODE);
      expect(big(c, 0)).toBe(0x1111n);
      expect(big(c, 3)).toBe(0x2222n);
    });
  }

  it('raises #UD for BMI2 rows without the bmi2 feature, and runs BMI1 rows with bmi1 alone', () => {
    expect(run([0xc4, 0xe2, 0xe3, 0xf6, 0xc1], [], { features: ['base', 'bmi1'] }).fault?.vector).toBe(UD);
    const andn = run([0xc4, 0xe2, 0xe0, 0xf2, 0xc1], [0n, 0xffn, 0xf0f0n], { features: ['base', 'bmi1'] });
    expect(andn.fault).toBeUndefined();
    expect(big(andn.c, 0)).toBe(0xf000n);
    expect(run([0xc4, 0xe2, 0xe0, 0xf2, 0xc1], [], { features: ['base', 'bmi2'] }).fault?.vector).toBe(UD);
  });
});

describe('VEX outside 64-bit mode', () => {
  it('decodes C4 as VEX when the next byte has bits 7:6 = 11b (ANDN eax, ebx, ecx)', () => {
    const { c, fault } = run([0xc4, 0xe2, 0x60, 0xf2, 0xc1], [0n, 0x0f0f0f0fn, 0x80f0f0f0n], { mode: 32 });
    expect(fault).toBeUndefined();
    expect(c.reg32(0) >>> 0).toBe(0x80f0f0f0);
  });

  it('treats C4 with a memory ModRM as LES', () => {
    const mem = new FlatMemory();
    mem.map(CODE, 4096, PROT_R | PROT_X);
    mem.writeBytes(CODE, Uint8Array.of(0xc4, 0x06));
    const c = new Cpu(mem, {});
    c.mode = 32;
    expect(decode(c, CODE).row.name).toBe('les_Gz_Mp');
  });
});
