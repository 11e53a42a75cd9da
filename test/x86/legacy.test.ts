/**
 * The instructions that exist only outside 64-bit mode (exec/legacy.ts), in 32-bit mode on a
 * CPU without system level, with worked examples from the SDM's descriptions: decimal
 * arithmetic, PUSHA/POPA, BOUND; and #UD for them in 64-bit mode. qemu-i386 checks them on
 * random inputs (test/x86/diff/i386.ts).
 */
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../x86/cpu.js';
import { BR, DE, Fault, UD } from '../../x86/fault.js';
import { FlatMemory, PROT_R, PROT_W, PROT_X } from '../../x86/flat-memory.js';
import { AF, CF, PF, SF, ZF } from '../../x86/isa/types.js';

const CODE = 0x1000;
const STACK = 0x3000;

function run(bytes: readonly number[], setup: (c: Cpu) => void, mode: 32 | 64 = 32): { c: Cpu; fault: Fault | undefined; mem: FlatMemory } {
  const mem = new FlatMemory();
  mem.map(CODE, 0x1000, PROT_R | PROT_X);
  mem.map(0x2000, 0x2000, PROT_R | PROT_W);
  mem.writeBytes(CODE, Uint8Array.from([...bytes, 0xcc]));
  let fault: Fault | undefined;
  const c = new Cpu(mem, { exception: (cc, f) => { fault = f; cc.stopRequested = true; } });
  c.mode = mode;
  c.jit = false;
  c.rip = CODE;
  c.setReg32(4, STACK);
  setup(c);
  c.run(20);
  return { c, fault: fault?.vector === 3 ? undefined : fault, mem };
}

const flagsOf = (c: Cpu, mask: number): number => c.getFlags() & mask;

describe('decimal arithmetic', () => {
  it('DAA after ADD of packed BCD 79 + 35 = 114: AL = 14, CF = 1 (SDM "DAA" example)', () => {
    const { c } = run([0x04, 0x35, 0x27], (c) => c.setReg32(0, 0x79)); // add al, 0x35; daa
    expect(c.reg8(0)).toBe(0x14);
    expect(flagsOf(c, CF | AF)).toBe(CF | AF);
  });

  it('DAS after SUB of packed BCD 35 - 47 = -12: AL = 88, CF = 1 (SDM "DAS" example)', () => {
    const { c } = run([0x2c, 0x47, 0x2f], (c) => c.setReg32(0, 0x35)); // sub al, 0x47; das
    expect(c.reg8(0)).toBe(0x88);
    expect(flagsOf(c, CF | SF)).toBe(CF | SF);
  });

  it('AAA after ADD of unpacked 9 + 5: AX = 0104, CF = AF = 1; AAS after SUB of 3 - 5', () => {
    let { c } = run([0x04, 0x05, 0x37], (c) => c.setReg32(0, 0x09)); // add al, 5; aaa
    expect(c.reg16(0)).toBe(0x0104);
    expect(flagsOf(c, CF | AF)).toBe(CF | AF);
    ({ c } = run([0x2c, 0x05, 0x3f], (c) => c.setReg32(0, 0x0103))); // sub al, 5; aas
    expect(c.reg16(0)).toBe(0x0008);
    expect(flagsOf(c, CF | AF)).toBe(CF | AF);
    ({ c } = run([0x37], (c) => c.setReg32(0, 0x0203)));
    expect(c.reg16(0)).toBe(0x0203);
    expect(flagsOf(c, CF | AF)).toBe(0);
  });

  it('AAM splits AL by the base (AAM 0 is #DE); AAD joins AH:AL', () => {
    let { c, fault } = run([0xd4, 0x0a], (c) => c.setReg32(0, 63));
    expect(c.reg16(0)).toBe(0x0603);
    expect(flagsOf(c, ZF | SF | PF)).toBe(PF);
    ({ c, fault } = run([0xd4, 0x00], (c) => c.setReg32(0, 63)));
    expect(fault?.vector).toBe(DE);
    expect(c.rip).toBe(CODE);
    ({ c } = run([0xd5, 0x0a], (c) => c.setReg32(0, 0x0603)));
    expect(c.reg16(0)).toBe(63);
    ({ c } = run([0xd5, 0x10], (c) => c.setReg32(0, 0x1000)));
    expect(c.reg16(0)).toBe(0);
    expect(flagsOf(c, ZF)).toBe(ZF);
  });
});

describe('PUSHA / POPA', () => {
  it('PUSHAD pushes the eight registers with the original ESP; POPAD restores all but ESP', () => {
    const { c, mem } = run([0x60, 0x31, 0xc0, 0x31, 0xed, 0x61], (c) => {
      for (let n = 0; n < 8; n++) if (n !== 4) c.setReg32(n, 0x100 + n);
    });
    const dv = new DataView(mem.readBytes(STACK - 32, 32).buffer);
    expect(Array.from({ length: 8 }, (_, k) => dv.getUint32(4 * k, true))).toEqual([0x107, 0x106, 0x105, STACK, 0x103, 0x102, 0x101, 0x100]);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((n) => c.reg32(n))).toEqual([0x100, 0x101, 0x102, 0x103, STACK, 0x105, 0x106, 0x107]);
  });

  it('PUSHAW pushes words; a fault leaves ESP unchanged', () => {
    let { c } = run([0x66, 0x60], (c) => c.setReg32(0, 0x12345678));
    expect(c.reg32(4)).toBe(STACK - 16);
    const r = run([0x60], (c) => c.setReg32(4, 0x2010)); // the sixth push leaves the mapped pages
    c = r.c;
    expect(r.fault?.vector).toBe(14);
    expect(c.reg32(4)).toBe(0x2010);
  });
});

describe('BOUND', () => {
  it('#BR unless lower <= index <= upper (signed)', () => {
    const bounds = (lo: number, hi: number) => (c: Cpu): void => {
      c.write32(0x2000, lo);
      c.write32(0x2004, hi);
    };
    const bound = [0x62, 0x05, 0x00, 0x20, 0x00, 0x00]; // bound eax, [0x2000]
    expect(run(bound, (c) => { bounds(-5, 5)(c); c.setReg32(0, -5); }).fault).toBeUndefined();
    expect(run(bound, (c) => { bounds(-5, 5)(c); c.setReg32(0, 6); }).fault?.vector).toBe(BR);
    expect(run(bound, (c) => { bounds(-5, 5)(c); c.setReg32(0, -6); }).fault?.vector).toBe(BR);
    expect(run([0x66, ...bound], (c) => { bounds(0x7fff0000, 0); c.setReg32(0, 0); }).fault?.vector).toBeUndefined();
  });
});

describe('64-bit mode', () => {
  it('the legacy-only opcodes are #UD (62 is EVEX, 63 MOVSXD, C4/C5 VEX there)', () => {
    for (const op of [[0x27], [0x2f], [0x37], [0x3f], [0x60], [0x61], [0xd4, 0x0a], [0xd5, 0x0a], [0x06], [0x1f], [0xea, 0, 0, 0, 0, 0, 0], [0xd6]]) {
      expect(run(op, () => {}, 64).fault).toMatchObject({ vector: UD });
    }
    expect(run([0xd6], () => {}).fault).toMatchObject({ vector: UD }); // SALC: not in the manuals
  });
});
