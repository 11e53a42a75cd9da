import { describe, expect, it } from 'vitest';
import { Cpu } from '../../x86/cpu.js';
import { Fault, GP, PF_VEC, UD } from '../../x86/fault.js';
import { FlatMemory, PROT_R, PROT_W, PROT_X } from '../../x86/flat-memory.js';
import { AF, CF, OF, PF, SF, ZF } from '../../x86/isa/types.js';

const CODE = 0x401000;
const DATA = 0x600000;

/** Runs `code` (bytes) to its end on a fresh CPU; returns the CPU and any fault. */
function run(code: number[], setup?: (c: Cpu, m: FlatMemory) => void): { c: Cpu; fault?: Fault } {
  const m = new FlatMemory();
  m.map(CODE, 4096, PROT_R | PROT_X);
  m.map(DATA, 8192, PROT_R | PROT_W);
  m.writeBytes(CODE, Uint8Array.from([...code, 0x0f, 0x0b])); // ud2 ends the run
  let fault: Fault | undefined;
  const c = new Cpu(m, { exception: (cpu, f) => { if (!(f.vector === UD && cpu.rip === CODE + code.length)) fault = f; cpu.stopRequested = true; } }, ['base', 'cmov']);
  c.rip = CODE;
  c.setReg64(4, DATA + 4096, 0);
  setup?.(c, m);
  c.run(10_000);
  return fault === undefined ? { c } : { c, fault };
}

const ARITH_MASK = CF | PF | AF | ZF | SF | OF;

describe('x86 core: integer basics', () => {
  it('add rax, rbx: 64-bit carry across halves and flags', () => {
    const { c } = run([0x48, 0x01, 0xd8], (c) => {
      c.setReg64(0, -1, 0); // 0x00000000_ffffffff
      c.setReg64(3, 1, 0);
    });
    expect([c.reg64lo(0), c.reg64hi(0)]).toEqual([0, 1]);
    expect(c.getFlags() & ARITH_MASK).toBe(AF | PF);
  });

  it('sub eax, eax zero-extends and sets ZF|PF', () => {
    const { c } = run([0x29, 0xc0], (c) => c.setReg64(0, 5, 7));
    expect([c.reg64lo(0), c.reg64hi(0)]).toEqual([0, 0]);
    expect(c.getFlags() & ARITH_MASK).toBe(ZF | PF);
  });

  it('cmp al, 0x80 with al=0x7f: signed overflow and borrow', () => {
    const { c } = run([0x3c, 0x80], (c) => c.setReg64(0, 0x7f, 0));
    expect(c.getFlags() & ARITH_MASK).toBe(CF | OF | SF | PF); // 0xff has an even bit count
  });

  it('inc preserves CF; AH is byte register 4 without REX', () => {
    // CF=1 from cmp al(0), 1 (borrow); then inc ah (0xff -> 0): ZF set, CF kept.
    const { c } = run([0x3c, 0x01, 0xfe, 0xc4], (c) => c.setReg64(0, 0xff00, 0));
    expect(c.reg16(0)).toBe(0x0000);
    expect(c.getFlags() & (CF | ZF)).toBe(CF | ZF);
  });

  it('push/pop, call/ret and a loop with jnz', () => {
    // mov ecx,5; xor eax,eax; L: add eax,ecx; dec ecx; jnz L; push rax; pop rbx; call +0; pop rdx
    const { c } = run([0xb9, 5, 0, 0, 0, 0x31, 0xc0, 0x01, 0xc8, 0xff, 0xc9, 0x75, 0xfa, 0x50, 0x5b, 0xe8, 0, 0, 0, 0, 0x5a]);
    expect(c.reg32(0)).toBe(15);
    expect(c.reg32(3)).toBe(15);
    expect(c.reg32(2)).toBe(CODE + 20);
  });

  it('RIP-relative store and load', () => {
    // mov [rip+0x1ff000-...] : store to DATA via rip-relative: disp = DATA - (CODE+10)
    const disp = DATA - (CODE + 10);
    const d = [disp & 0xff, (disp >> 8) & 0xff, (disp >> 16) & 0xff, (disp >> 24) & 0xff];
    const { c } = run([0xc7, 0x05, ...d, 0x78, 0x56, 0x34, 0x12, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x60, 0x00]);
    expect(c.reg32(3)).toBe(0x12345678);
  });

  it('a store to a read-only page raises #PF with W|P|U and CR2', () => {
    const { fault } = run([0x89, 0x04, 0x25, 0x00, 0x10, 0x40, 0x00]); // mov [0x401000], eax
    expect(fault?.vector).toBe(PF_VEC);
    expect(fault?.errorCode).toBe(7);
    expect(fault?.address).toBe(CODE);
  });

  it('a non-canonical memory operand raises #GP(0)', () => {
    const { fault } = run([0x8b, 0x03], (c) => c.setReg64(3, 0, 0x00800000)); // mov eax, [rbx]
    expect(fault?.vector).toBe(GP);
    expect(fault?.errorCode).toBe(0);
  });

  it('self-modifying code: a store into the running block takes effect', () => {
    // mov byte [rip+1], 0x90... patch the next instruction (an int3 at offset 7) into a nop.
    const { c, fault } = run([0xc6, 0x05, 0x00, 0x00, 0x00, 0x00, 0x90, 0xcc, 0xb8, 1, 0, 0, 0], (c, m) => m.protect(CODE, 4096, PROT_R | PROT_W | PROT_X));
    expect(fault).toBeUndefined();
    expect(c.reg32(0)).toBe(1);
  });
});
