/**
 * SSE/SSE2: hand-assembled instructions on a fresh CPU. Expected values for the tricky cases
 * (NaN propagation, exception flags, directed rounding, underflow, saturating packs, COMISS
 * flags, integer indefinite) were taken from a real x86-64 CPU with small C/asm probes.
 */
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../x86/cpu.js';
import { Fault, GP, UD, XM } from '../../x86/fault.js';
import { FlatMemory, PROT_R, PROT_W, PROT_X } from '../../x86/flat-memory.js';
import { AF, CF, OF, PF, SF, ZF } from '../../x86/isa/types.js';

const CODE = 0x401000;
const DATA = 0x600000;

function run(code: number[], setup?: (c: Cpu, m: FlatMemory) => void): { c: Cpu; m: FlatMemory; fault?: Fault } {
  const m = new FlatMemory();
  m.map(CODE, 4096, PROT_R | PROT_X);
  m.map(DATA, 8192, PROT_R | PROT_W);
  m.writeBytes(CODE, Uint8Array.from([...code, 0x0f, 0x0b])); // ud2 ends the run
  let fault: Fault | undefined;
  const c = new Cpu(m, { exception: (cpu, f) => { if (!(f.vector === UD && cpu.rip === CODE + code.length)) fault = f; cpu.stopRequested = true; } }, ['base', 'sse', 'sse2']);
  c.rip = CODE;
  c.setReg64(3, DATA, 0); // rbx -> data
  setup?.(c, m);
  c.run(1000);
  return fault === undefined ? { c, m } : { c, m, fault };
}

function setX(c: Cpu, n: number, d: readonly number[]): void {
  for (let k = 0; k < 4; k++) c.xmm[n * 4 + k] = d[k] ?? 0;
}
function getX(c: Cpu, n: number): number[] {
  return [0, 1, 2, 3].map((k) => (c.xmm[n * 4 + k] as number) >>> 0);
}
function words(v: readonly number[]): number[] {
  const out: number[] = [];
  for (let k = 0; k < 8; k += 2) out.push(((v[k] as number) & 0xffff) | (((v[k + 1] as number) & 0xffff) << 16));
  return out;
}
const F = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0] as number;
function D(x: number): [number, number] {
  const u = new Uint32Array(new Float64Array([x]).buffer);
  return [u[0] as number, u[1] as number];
}

// Scalar ops: xmm0 op= xmm1 (F3/F2 0F op C1).
const ADDSS = [0xf3, 0x0f, 0x58, 0xc1];
const MULSS = [0xf3, 0x0f, 0x59, 0xc1];
const DIVSS = [0xf3, 0x0f, 0x5e, 0xc1];
const MINSS = [0xf3, 0x0f, 0x5d, 0xc1];
const SQRTSS = [0xf3, 0x0f, 0x51, 0xc1];
const ADDSD = [0xf2, 0x0f, 0x58, 0xc1];

function scalar32(code: number[], a: number, b: number, mxcsr = 0x1f80): { r: number; flags: number; c: Cpu; fault?: Fault } {
  const res = run(code, (c) => {
    setX(c, 0, [a, 0x11111111, 0x22222222, 0x33333333]);
    setX(c, 1, [b, 0x44444444, 0x55555555, 0x66666666]);
    c.mxcsr = mxcsr;
  });
  const x = getX(res.c, 0);
  expect(x.slice(1)).toEqual([0x11111111, 0x22222222, 0x33333333]); // scalar ops keep the upper lanes
  return { r: x[0] as number, flags: res.c.mxcsr & 0x3f, c: res.c, ...(res.fault ? { fault: res.fault } : {}) };
}

describe('SSE moves, alignment and MXCSR', () => {
  it('MOVDQA from a misaligned address raises #GP(0); MOVDQU loads it', () => {
    const setup = (c: Cpu, m: FlatMemory): void => {
      c.setReg64(3, DATA + 8, 0);
      m.writeBytes(DATA + 8, Uint8Array.from({ length: 16 }, (_, k) => k + 1));
    };
    const a = run([0x66, 0x0f, 0x6f, 0x03], setup);
    expect(a.fault?.vector).toBe(GP);
    expect(a.fault?.errorCode).toBe(0);
    const u = run([0xf3, 0x0f, 0x6f, 0x03], setup);
    expect(u.fault).toBeUndefined();
    expect(getX(u.c, 0)).toEqual([0x04030201, 0x08070605, 0x0c0b0a09, 0x100f0e0d]);
  });

  it('MOVAPS store writes 16 bytes; MOVQ m64 store writes 8', () => {
    const { m } = run([0x0f, 0x29, 0x0b, 0x66, 0x0f, 0xd6, 0x4b, 0x10], (c) => setX(c, 1, [0x11223344, 0x55667788, 0x99aabbcc, 0xddeeff00]));
    expect(Array.from(m.readBytes(DATA, 4))).toEqual([0x44, 0x33, 0x22, 0x11]);
    expect(Array.from(m.readBytes(DATA + 12, 4))).toEqual([0x00, 0xff, 0xee, 0xdd]);
    expect(Array.from(m.readBytes(DATA + 16, 12))).toEqual([0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55, 0, 0, 0, 0]);
  });

  it('LDMXCSR with a reserved bit raises #GP(0); STMXCSR stores the value', () => {
    const bad = run([0x0f, 0xae, 0x13], (_c, m) => m.writeBytes(DATA, Uint8Array.from([0x80, 0x1f, 0x01, 0x00])));
    expect(bad.fault?.vector).toBe(GP);
    expect(bad.c.mxcsr).toBe(0x1f80);
    const ok = run([0x0f, 0xae, 0x13, 0x0f, 0xae, 0x5b, 0x04], (_c, m) => m.writeBytes(DATA, Uint8Array.from([0xc0, 0x7f, 0, 0])));
    expect(ok.c.mxcsr).toBe(0x7fc0);
    expect(Array.from(ok.m.readBytes(DATA + 4, 4))).toEqual([0xc0, 0x7f, 0, 0]);
  });

  it('MOVSS merges from a register and zero-extends from memory', () => {
    const r = run([0xf3, 0x0f, 0x10, 0xc1], (c) => {
      setX(c, 0, [1, 2, 3, 4]);
      setX(c, 1, [9, 8, 7, 6]);
    });
    expect(getX(r.c, 0)).toEqual([9, 2, 3, 4]);
    const m = run([0xf3, 0x0f, 0x10, 0x03], (c, mem) => {
      setX(c, 0, [1, 2, 3, 4]);
      mem.writeBytes(DATA, Uint8Array.from([5, 0, 0, 0, 6, 0, 0, 0]));
    });
    expect(getX(m.c, 0)).toEqual([5, 0, 0, 0]);
  });

  it('MOVQ xmm, xmm clears the upper qword; MOVQ xmm, rax and MOVD eax, xmm', () => {
    const r = run([0xf3, 0x0f, 0x7e, 0xc1, 0x66, 0x48, 0x0f, 0x6e, 0xd0, 0x66, 0x0f, 0x7e, 0xcb], (c) => {
      setX(c, 1, [0xaaaa, 0xbbbb, 0xcccc, 0xdddd]);
      c.setReg64(0, 0x12345678, 0x9abcdef0 | 0);
      c.setReg64(3, -1, -1);
    });
    expect(getX(r.c, 0)).toEqual([0xaaaa, 0xbbbb, 0, 0]);
    expect(getX(r.c, 2)).toEqual([0x12345678, 0x9abcdef0, 0, 0]); // movq xmm2, rax
    expect([r.c.reg64lo(3) >>> 0, r.c.reg64hi(3)]).toEqual([0xaaaa, 0]); // movd ebx, xmm1 zero-extends
  });

  it('PMOVMSKB and MOVMSKPS collect sign bits', () => {
    const r = run([0x66, 0x0f, 0xd7, 0xc1, 0x0f, 0x50, 0xd9], (c) => setX(c, 1, [0x80000080, 0x00800000, 0x7f7f7f7f, 0xff000000]));
    expect(r.c.reg32(0)).toBe(0x8049);
    expect(r.c.reg32(3)).toBe(0b1001);
  });

  it('XMM8-15 are reached through REX (paddd xmm8, xmm9)', () => {
    const r = run([0x66, 0x45, 0x0f, 0xfe, 0xc1], (c) => {
      setX(c, 8, [1, 2, 3, 0x7fffffff]);
      setX(c, 9, [10, 20, 30, 1]);
    });
    expect(getX(r.c, 8)).toEqual([11, 22, 33, 0x80000000]);
    expect(getX(r.c, 0)).toEqual([0, 0, 0, 0]);
  });

  it('an SSE2 encoding is #UD on a CPU without SSE2', () => {
    const m = new FlatMemory();
    m.map(CODE, 4096, PROT_R | PROT_X);
    m.writeBytes(CODE, Uint8Array.from([0x66, 0x0f, 0xfe, 0xc1]));
    let v = -1;
    const c = new Cpu(m, { exception: (cpu, f) => { v = f.vector; cpu.stopRequested = true; } }, ['base', 'sse']);
    c.rip = CODE;
    c.run(10);
    expect(v).toBe(UD);
  });
});

describe('SSE2 integer', () => {
  // Operands from the real-CPU probe: words a = [-200,200,127,-128,-129,128,0,300], b = [-1,1,255,256,-32768,32767,1,-1].
  const A = words([-200, 200, 127, -128, -129, 128, 0, 300]);
  const B = words([-1, 1, 255, 256, -32768, 32767, 1, -1]);
  const op = (byte: number): number[] =>
    getX(run([0x66, 0x0f, byte, 0xc1], (c) => { setX(c, 0, A); setX(c, 1, B); }).c, 0);

  it('saturating packs match the real CPU', () => {
    expect(op(0x63)).toEqual([0x807f7f80, 0x7f007f80, 0x7f7f01ff, 0xff017f80]); // packsswb
    expect(op(0x67)).toEqual([0x007fc800, 0xff008000, 0xffff0100, 0x0001ff00]); // packuswb
    expect(op(0x6b)).toEqual([0x80007fff, 0x7fff7fff, 0x7fff7fff, 0x80007fff]); // packssdw
  });

  it('PMADDWD, PMULUDQ, PSADBW, PMULHW match the real CPU', () => {
    expect(op(0xf5)).toEqual([0x00000190, 0xfffffe81, 0x00807f80, 0xfffffed4]);
    expect(op(0xf4)).toEqual([0xfda700c8, 0x00000191, 0x00408000, 0x00407f7f]);
    expect(op(0xf6)).toEqual([0x0000038c, 0, 0x000003ce, 0]);
    expect(op(0xe5)).toEqual([0x00000000, 0xffff0000, 0x003f0040, 0xffff0000]);
  });

  it('PSRLDQ by 16 or more clears the register; PSRLW by an xmm count > 15 clears every word', () => {
    const r = run([0x66, 0x0f, 0x73, 0xd8, 0x10, 0x66, 0x0f, 0x73, 0xd9, 0x03, 0x66, 0x0f, 0xd1, 0xd3], (c) => {
      setX(c, 0, [-1, -1, -1, -1]);
      setX(c, 1, [0x04030201, 0x08070605, 0x0c0b0a09, 0x100f0e0d]);
      setX(c, 2, [-1, -1, -1, -1]);
      setX(c, 3, [16, 0, 0, 0]);
    });
    expect(getX(r.c, 0)).toEqual([0, 0, 0, 0]);
    expect(getX(r.c, 1)).toEqual([0x07060504, 0x0b0a0908, 0x0f0e0d0c, 0x00000010]);
    expect(getX(r.c, 2)).toEqual([0, 0, 0, 0]);
  });

  it('PSRAD by 40 fills with the sign; PSLLQ by 33 crosses halves', () => {
    const r = run([0x66, 0x0f, 0x72, 0xe0, 0x28, 0x66, 0x0f, 0x73, 0xf1, 0x21], (c) => {
      setX(c, 0, [0x80000000, 0x7fffffff, -5, 3]);
      setX(c, 1, [0x00000003, 0, 0x80000001, 0]);
    });
    expect(getX(r.c, 0)).toEqual([0xffffffff, 0, 0xffffffff, 0]);
    expect(getX(r.c, 1)).toEqual([0, 6, 0, 2]);
  });

  it('PSHUFD reverses dwords; PINSRW/PEXTRW move words', () => {
    const r = run([0x66, 0x0f, 0x70, 0xc1, 0x1b, 0x66, 0x0f, 0xc4, 0xd0, 0x05, 0x66, 0x0f, 0xc5, 0xd9, 0x03], (c) => {
      setX(c, 1, [0x11110000, 0x33332222, 0x55554444, 0x77776666]);
      c.setReg64(0, 0xabcd1234, 0);
    });
    expect(getX(r.c, 0)).toEqual([0x77776666, 0x55554444, 0x33332222, 0x11110000]);
    expect(getX(r.c, 2)).toEqual([0, 0, 0x12340000, 0]);
    expect(r.c.reg32(3)).toBe(0x3333);
  });

  it('a packed integer op with a misaligned m128 raises #GP(0)', () => {
    const r = run([0x66, 0x0f, 0xfe, 0x03], (c) => c.setReg64(3, DATA + 4, 0)); // paddd xmm0, [rbx]
    expect(r.fault?.vector).toBe(GP);
  });
});

describe('SSE floating point', () => {
  it('NaN propagation: the first operand NaN wins, an SNaN is quieted with IE', () => {
    expect(scalar32(ADDSS, 0x7fc00001, 0x7f800002)).toMatchObject({ r: 0x7fc00001, flags: 1 });
    expect(scalar32(ADDSS, 0x7f800002, 0xffc00003)).toMatchObject({ r: 0x7fc00002, flags: 1 });
    // A QNaN with a denormal operand: no DE.
    expect(scalar32(ADDSS, 0x7fc00001, 0x00000001)).toMatchObject({ r: 0x7fc00001, flags: 0 });
  });

  it('MINSS returns the second operand unquieted on a NaN; DAZ compares denormals as zero', () => {
    expect(scalar32(MINSS, F(1), 0x7f800002)).toMatchObject({ r: 0x7f800002, flags: 1 });
    expect(scalar32(MINSS, 0x7fc00000, F(1))).toMatchObject({ r: F(1), flags: 1 });
    expect(scalar32(MINSS, 0x00000001, F(1), 0x1fc0)).toMatchObject({ r: 0, flags: 0 });
  });

  it('ZE and IE take priority over DE; invalid gives the default NaN', () => {
    expect(scalar32(DIVSS, 0x00000001, 0)).toMatchObject({ r: 0x7f800000, flags: 4 });
    expect(scalar32(SQRTSS, 0, 0x80000001)).toMatchObject({ r: 0xffc00000, flags: 1 });
  });

  it('underflow: tininess after rounding, UE only when inexact, FTZ flushes exact tiny results', () => {
    expect(scalar32(MULSS, 0x1a000000, 0x25800000)).toMatchObject({ r: 0x00400000, flags: 0 }); // exact 2^-127
    expect(scalar32(MULSS, 0x1a000000, 0x25800000, 0x9f80)).toMatchObject({ r: 0, flags: 0x30 });
    expect(scalar32(MULSS, 0x3f7fffff, 0x00800000)).toMatchObject({ r: 0x00800000, flags: 0x30 });
    expect(scalar32(MULSS, 0x0c800000, 0x0c800000)).toMatchObject({ r: 0, flags: 0x30 });
  });

  it('rounding control: toward zero, up, down; overflow under RZ gives the largest finite', () => {
    expect(scalar32(DIVSS, F(1), F(3), 0x7f80)).toMatchObject({ r: 0x3eaaaaaa, flags: 0x20 });
    expect(scalar32(DIVSS, F(1), F(3), 0x5f80)).toMatchObject({ r: 0x3eaaaaab, flags: 0x20 });
    expect(scalar32(SQRTSS, 0, F(2), 0x5f80)).toMatchObject({ r: 0x3fb504f4, flags: 0x20 });
    expect(scalar32(ADDSS, F(1), 0xb3000001, 0x3f80)).toMatchObject({ r: 0x3f7fffff, flags: 0x20 });
    expect(scalar32(ADDSS, F(1), F(-1), 0x3f80)).toMatchObject({ r: 0x80000000, flags: 0 });
    expect(scalar32(MULSS, 0x7f000000, F(2), 0x7f80)).toMatchObject({ r: 0x7f7fffff, flags: 0x28 });
  });

  it('double precision: RU of 1 + 2^-60, subnormal product rounding', () => {
    const r = run(ADDSD, (c) => {
      setX(c, 0, [...D(1), 0, 0]);
      setX(c, 1, [...D(2 ** -60), 0, 0]);
      c.mxcsr = 0x5f80;
    });
    expect(getX(r.c, 0).slice(0, 2)).toEqual([1, 0x3ff00000]);
    expect(r.c.mxcsr & 0x3f).toBe(0x20);
    const m = run([0xf2, 0x0f, 0x59, 0xc1], (c) => {
      setX(c, 0, [1, 0x00100000, 0, 0]); // 2^-1022 * (1 + 2^-52)
      setX(c, 1, [...D(0.5), 0, 0]);
    });
    expect(getX(m.c, 0).slice(0, 2)).toEqual([0, 0x00080000]);
    expect(m.c.mxcsr & 0x3f).toBe(0x30);
  });

  it('an unmasked exception raises #XM and leaves the destination unchanged', () => {
    const res = scalar32(DIVSS, F(1), 0, 0x1f80 & ~0x200);
    expect(res.fault?.vector).toBe(XM);
    expect(res.r).toBe(F(1));
    expect(res.flags).toBe(4);
  });

  it('COMISS sets ZF PF CF, clears OF SF AF, and signals IE on a QNaN', () => {
    const MASK = CF | PF | AF | ZF | SF | OF;
    const un = run([0x0f, 0x2f, 0xc1], (c) => {
      setX(c, 0, [F(1)]);
      setX(c, 1, [0x7fc00000]);
      c.setFlagBits(MASK, OF | SF | AF);
    });
    expect(un.c.getFlags() & MASK).toBe(ZF | PF | CF);
    expect(un.c.mxcsr & 0x3f).toBe(1);
    const lt = run([0x0f, 0x2e, 0xc1], (c) => {
      setX(c, 0, [F(1)]);
      setX(c, 1, [F(2)]);
    });
    expect(lt.c.getFlags() & MASK).toBe(CF);
    expect(lt.c.mxcsr & 0x3f).toBe(0);
  });

  it('CVTTSD2SI overflow gives the integer indefinite with IE; CVTSD2SI rounds half to even', () => {
    const r = run([0xf2, 0x48, 0x0f, 0x2c, 0xc0, 0xf2, 0x0f, 0x2c, 0xd8, 0xf2, 0x48, 0x0f, 0x2d, 0xc9], (c) => {
      setX(c, 0, [...D(1e20), 0, 0]);
      setX(c, 1, [...D(-2.5), 0, 0]);
    });
    expect([r.c.reg64lo(0) >>> 0, r.c.reg64hi(0) >>> 0]).toEqual([0, 0x80000000]);
    expect([r.c.reg64lo(3) >>> 0, r.c.reg64hi(3)]).toEqual([0x80000000, 0]);
    expect([r.c.reg64lo(1), r.c.reg64hi(1)]).toEqual([-2, -1]);
    expect(r.c.mxcsr & 0x3f).toBe(0x21);
  });

  it('CVTSD2SS: RZ just below 2^128 is the largest float without OE; an SNaN narrows to a QNaN', () => {
    const r = run([0xf2, 0x0f, 0x5a, 0xc1], (c) => {
      setX(c, 1, [-1, 0x47efffff, 0, 0]);
      c.mxcsr = 0x7f80;
    });
    expect(getX(r.c, 0)[0]).toBe(0x7f7fffff);
    expect(r.c.mxcsr & 0x3f).toBe(0x20);
    const n = run([0xf2, 0x0f, 0x5a, 0xc1], (c) => setX(c, 1, [0x00012345, 0x7ff00000, 0, 0]));
    expect(getX(n.c, 0)[0]).toBe(0x7fc00000);
    expect(n.c.mxcsr & 0x3f).toBe(1);
  });

  it('CVTSI2SD with REX.W rounds a 64-bit integer; CVTSS2SD widens an SNaN payload', () => {
    const r = run([0xf2, 0x48, 0x0f, 0x2a, 0xc0, 0xf3, 0x0f, 0x5a, 0xca], (c) => {
      c.setReg64(0, -1, 0x7fffffff); // 2^63 - 1 rounds to 2^63
      setX(c, 2, [0xff812345]);
    });
    expect(getX(r.c, 0).slice(0, 2)).toEqual(D(2 ** 63));
    expect(getX(r.c, 1)[0]).toBe(0xa0000000);
    expect(getX(r.c, 1)[1]).toBe(0xfff82468);
    expect(r.c.mxcsr & 0x3f).toBe(0x21);
  });
});
