/**
 * The general-purpose integer rows (rows-int.ts): shifts, multiply/divide, bit operations,
 * flag instructions, strings, atomics and the rest. Expected values for the tricky cases
 * (undefined-in-the-SDM results, flags after shifts, IMUL/DIV results, BT with negative offsets)
 * were measured on the reference machine (AMD EPYC) with inline assembly.
 */
import { describe, expect, it } from 'vitest';
import { Cpu, type CpuHooks } from '../../x86/cpu.js';
import { DB, DE, Fault, GP, OF_VEC, PF_VEC, UD } from '../../x86/fault.js';
import { FlatMemory, PROT_R, PROT_W, PROT_X } from '../../x86/flat-memory.js';
import { ROWS } from '../../x86/isa/table.js';
import { AC, AF, CF, DF, ID, IF, IOPL, OF, PF, RF, SF, ZF, type Feature } from '../../x86/isa/types.js';

const CODE = 0x401000;
const DATA = 0x600000;
/** A page mapped alone, with nothing after it (for faults part way through a string). */
const LONE = 0x700000;
const ARITH = CF | PF | AF | ZF | SF | OF;
const ALL: Feature[] = ['base', 'cmov', 'cx8', 'cx16', 'popcnt', 'lzcnt', 'bmi1', 'adx', 'movbe', 'sse', 'sse2', 'sse4_2', 'clflush', 'clflushopt', 'rdtscp', 'rdrand', 'rdseed', 'rdpid', 'lahf_lm'];

interface Opts {
  features?: Feature[];
  mode?: 64 | 32;
  hooks?: Partial<CpuHooks>;
  user?: boolean;
}

/** Runs `code` to its end (a trailing UD2) on a fresh CPU; returns the CPU and any other fault. */
function run(code: number[], setup?: (c: Cpu, m: FlatMemory) => void, opts: Opts = {}): { c: Cpu; m: FlatMemory; fault?: Fault; faultRip?: number } {
  const m = new FlatMemory();
  m.map(CODE, 4096, PROT_R | PROT_X);
  m.map(DATA, 4 * 4096, PROT_R | PROT_W);
  m.map(LONE, 4096, PROT_R | PROT_W);
  m.writeBytes(CODE, Uint8Array.from([...code, 0x0f, 0x0b]));
  let fault: Fault | undefined;
  let faultRip = 0;
  const hooks: CpuHooks = {
    ...opts.hooks,
    exception: (cpu, f) => {
      if (!(f.vector === UD && cpu.rip === CODE + code.length)) {
        fault = f;
        faultRip = cpu.rip;
      }
      cpu.stopRequested = true;
    },
  };
  const c = new Cpu(m, hooks, opts.features ?? ALL);
  if (opts.mode !== undefined) c.mode = opts.mode;
  if (opts.user !== undefined) c.user = opts.user;
  c.rip = CODE;
  c.setReg64(4, DATA + 4 * 4096, 0);
  setup?.(c, m);
  c.run(1_000_000);
  return fault === undefined ? { c, m } : { c, m, fault, faultRip };
}

function set(c: Cpu, n: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  c.setReg64(n, Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0);
}
function get(c: Cpu, n: number): bigint {
  return (BigInt(c.reg64hi(n) >>> 0) << 32n) | BigInt(c.reg64lo(n) >>> 0);
}
const RAX = 0;
const RCX = 1;
const RDX = 2;
const RBX = 3;
const RSP = 4;
const RBP = 5;
const RSI = 6;
const RDI = 7;

function le(v: bigint, n: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) out.push(Number((BigInt.asUintN(64, v) >> BigInt(8 * k)) & 0xffn));
  return out;
}
function peek(m: FlatMemory, la: number, n: number): bigint {
  const b = m.readBytes(la, n);
  let v = 0n;
  for (let k = n - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[k] as number);
  return v;
}
const flags = (c: Cpu, mask = ARITH): number => c.getFlags() & mask;

describe('table', () => {
  it('row names are unique', () => {
    const names = ROWS.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('shifts and rotates', () => {
  it('shl al, cl: count 1 sets CF and OF; counts 8 and 9 shift everything out (CF = bit 0, then 0)', () => {
    const one = run([0xd2, 0xe0], (c) => set(c, RAX, 0x81n)).c; // cl = 0 -> then 1 below
    expect(one.reg8(0)).toBe(0x81);
    const s1 = run([0xd2, 0xe0], (c) => { set(c, RAX, 0x81n); set(c, RCX, 1n); }).c;
    expect(s1.reg8(0)).toBe(0x02);
    expect(flags(s1, CF | OF | ZF | SF | PF)).toBe(CF | OF);
    const s8 = run([0xd2, 0xe0], (c) => { set(c, RAX, 0x81n); set(c, RCX, 8n); }).c;
    expect(s8.reg8(0)).toBe(0);
    expect(flags(s8, CF | ZF | SF | PF)).toBe(CF | ZF | PF);
    const s9 = run([0xd2, 0xe0], (c) => { set(c, RAX, 0x81n); set(c, RCX, 9n); }).c;
    expect(flags(s9, CF | ZF | SF | PF)).toBe(ZF | PF);
  });

  it('a masked count of 0 leaves the flags but a 32-bit destination is still zero-extended', () => {
    // cmp al, 1 with al = 0 (CF SF AF PF), then shl eax, cl with cl = 32 (masked to 0).
    const { c } = run([0x3c, 0x01, 0xd3, 0xe0], (c) => { set(c, RAX, 0xdeadbeef00000000n); set(c, RCX, 32n); });
    expect(get(c, RAX)).toBe(0n);
    expect(flags(c)).toBe(CF | SF | AF | PF);
    const r = run([0xd3, 0xe0], (c) => { set(c, RAX, 0xdeadbeef12345678n); set(c, RCX, 0n); }).c;
    expect(get(r, RAX)).toBe(0x12345678n);
  });

  it('rol/ror rax, 1 and rcl/rcr through CF', () => {
    const rol = run([0x48, 0xd1, 0xc0], (c) => set(c, RAX, 0x8000000000000001n)).c;
    expect(get(rol, RAX)).toBe(3n);
    expect(flags(rol, CF | OF)).toBe(CF | OF);
    const ror = run([0x48, 0xd1, 0xc8], (c) => set(c, RAX, 0x8000000000000001n)).c;
    expect(get(ror, RAX)).toBe(0xc000000000000000n);
    expect(flags(ror, CF | OF)).toBe(CF);
    const rcr = run([0xf9, 0x48, 0xd1, 0xd8], (c) => set(c, RAX, 0x8000000000000001n)).c; // stc; rcr rax,1
    expect(get(rcr, RAX)).toBe(0xc000000000000000n);
    expect(flags(rcr, CF | OF)).toBe(CF);
    const rcl = run([0xf9, 0x48, 0xc1, 0xd0, 0x03], (c) => set(c, RAX, 0x8000000000000001n)).c; // stc; rcl rax,3
    expect(get(rcl, RAX)).toBe(0xen);
    expect(flags(rcl, CF)).toBe(0);
  });

  it('rcl ax, cl counts modulo 17', () => {
    const c17 = run([0xf9, 0x66, 0xd3, 0xd0], (c) => { set(c, RAX, 0x4000n); set(c, RCX, 17n); }).c;
    expect(c17.reg16(0)).toBe(0x4000);
    expect(flags(c17, CF)).toBe(CF);
    const c34 = run([0xf9, 0x66, 0xd3, 0xd0], (c) => { set(c, RAX, 0x4000n); set(c, RCX, 34n); }).c;
    expect(c34.reg16(0)).toBe(0x0002);
    expect(flags(c34, CF)).toBe(CF);
  });

  it('sar copies the sign in', () => {
    const b = run([0xc0, 0xf8, 0x05], (c) => set(c, RAX, 0xf0n)).c;
    expect(b.reg8(0)).toBe(0xff);
    expect(flags(b, CF | ZF | SF | PF)).toBe(CF | SF | PF);
    const q = run([0x48, 0xc1, 0xf8, 0x3f], (c) => set(c, RAX, 0x8000000000000000n)).c;
    expect(get(q, RAX)).toBe(0xffffffffffffffffn);
    expect(flags(q, CF | ZF | SF | PF)).toBe(SF | PF);
  });

  it('shld/shrd: 64-bit count 1 OF, 32-bit count masked, 16-bit counts above 16', () => {
    const a = run([0x48, 0x0f, 0xa4, 0xd8, 0x01], (c) => { set(c, RAX, 0x4000000000000000n); set(c, RBX, -1n); }).c;
    expect(get(a, RAX)).toBe(0x8000000000000001n);
    expect(flags(a, CF | OF | SF)).toBe(OF | SF);
    const b = run([0x0f, 0xac, 0xd8, 0x24], (c) => { set(c, RAX, 0x12345678n); set(c, RBX, 0x9abcdef0n); }).c;
    expect(get(b, RAX)).toBe(0x01234567n);
    expect(flags(b, CF)).toBe(CF);
    const cases: [number, number, number][] = [[0xa5, 20, 0x2341], [0xa5, 29, 0x8246], [0xad, 17, 0x091a], [0xad, 26, 0x8d04]];
    for (const [op, n, want] of cases) {
      const r = run([0x66, 0x0f, op, 0xd8], (c) => { set(c, RAX, 0x8001n); set(c, RBX, 0x1234n); set(c, RCX, BigInt(n)); }).c;
      expect(r.reg16(0)).toBe(want);
    }
  });

  it('shl to memory with the /6 (SAL) encoding', () => {
    const { m } = run([0xd1, 0x33], (c, mm) => { set(c, RBX, BigInt(DATA)); mm.writeBytes(DATA, Uint8Array.from(le(0x40000001n, 4))); });
    expect(peek(m, DATA, 4)).toBe(0x80000002n);
  });
});

describe('multiply and divide', () => {
  const A = 0x123456789abcdef0n;
  const B = 0xfedcba9876543210n;

  it('mul/imul r64: exact 128-bit products', () => {
    const mu = run([0x48, 0xf7, 0xe3], (c) => { set(c, RAX, A); set(c, RBX, B); }).c;
    expect([get(mu, RDX), get(mu, RAX)]).toEqual([0x121fa00ad77d7422n, 0x236d88fe5618cf00n]);
    expect(flags(mu, CF | OF)).toBe(CF | OF);
    const im = run([0x48, 0xf7, 0xeb], (c) => { set(c, RAX, A); set(c, RBX, B); }).c;
    expect([get(im, RDX), get(im, RAX)]).toEqual([0xffeb49923cc09532n, 0x236d88fe5618cf00n]);
  });

  it('mul r32, mul r8 and imul overflow flags', () => {
    const m32 = run([0xf7, 0xe1], (c) => { set(c, RAX, 0xffffffffn); set(c, RCX, 0xffffffffn); set(c, RDX, -1n); }).c;
    expect([get(m32, RDX), get(m32, RAX)]).toEqual([0xfffffffen, 1n]);
    const m8 = run([0xf6, 0xe3], (c) => { set(c, RAX, 0x80n); set(c, RBX, 2n); }).c;
    expect(m8.reg16(0)).toBe(0x100);
    expect(flags(m8, CF | OF)).toBe(CF | OF);
    const i3 = run([0x6b, 0xc0, 0x02], (c) => set(c, RAX, 0x40000000n)).c; // imul eax, eax, 2
    expect(get(i3, RAX)).toBe(0x80000000n);
    expect(flags(i3, CF | OF)).toBe(CF | OF);
    const i2 = run([0x48, 0x0f, 0xaf, 0xc3], (c) => { set(c, RAX, -3n); set(c, RBX, 5n); }).c; // imul rax, rbx
    expect(get(i2, RAX)).toBe(BigInt.asUintN(64, -15n));
    expect(flags(i2, CF | OF)).toBe(0);
    const i69 = run([0x66, 0x69, 0xc3, 0x00, 0x01], (c) => set(c, RBX, 0x0100n)).c; // imul ax, bx, 0x100
    expect(i69.reg16(0)).toBe(0);
    expect(flags(i69, CF | OF)).toBe(CF | OF);
  });

  it('div/idiv r64 with 128-bit dividends', () => {
    const d = run([0x48, 0xf7, 0xf3], (c) => { set(c, RDX, 0x1234n); set(c, RAX, 0xffffffffffff0000n); set(c, RBX, 0x8765432112345n); }).c;
    expect([get(d, RAX), get(d, RDX)]).toEqual([0x226cd0an, 0x663cc8bd75e4en]);
    const s = run([0x48, 0xf7, 0xf3], (c) => { set(c, RDX, 1n); set(c, RAX, 0n); set(c, RBX, 3n); }).c;
    expect([get(s, RAX), get(s, RDX)]).toEqual([0x5555555555555555n, 1n]);
    const i = run([0x48, 0xf7, 0xfb], (c) => { set(c, RAX, 0x0123456789abcdefn); set(c, RDX, 0xfffffffffff12345n); set(c, RBX, 0x7654321fedcba987n); }).c;
    expect([get(i, RAX), get(i, RDX)]).toEqual([0xffffffffffdfd89dn, 0xdb533e6fb721ee24n]);
  });

  it('idiv r8 and r32 round toward zero; the remainder takes the dividend sign', () => {
    const b = run([0xf6, 0xf9], (c) => { set(c, RAX, 0xfff9n); set(c, RCX, 2n); }).c;
    expect(b.reg16(0)).toBe(0xfffd);
    const d = run([0xf7, 0xf9], (c) => { set(c, RAX, BigInt.asUintN(32, -100n)); set(c, RDX, 0xffffffffn); set(c, RCX, 7n); }).c;
    expect([get(d, RAX), get(d, RDX)]).toEqual([BigInt.asUintN(32, -14n), BigInt.asUintN(32, -2n)]);
  });

  it('#DE on divide by zero and on quotient overflow, registers untouched', () => {
    const z = run([0x48, 0xf7, 0xf1], (c) => { set(c, RAX, 5n); set(c, RCX, 0n); });
    expect(z.fault?.vector).toBe(DE);
    expect(z.faultRip).toBe(CODE);
    expect(get(z.c, RAX)).toBe(5n);
    const o = run([0xf7, 0xf1], (c) => { set(c, RDX, 2n); set(c, RCX, 2n); });
    expect(o.fault?.vector).toBe(DE);
    const io = run([0xf7, 0xf9], (c) => { set(c, RAX, 0x80000000n); set(c, RDX, 0xffffffffn); set(c, RCX, 0xffffffffn); });
    expect(io.fault?.vector).toBe(DE);
    const io64 = run([0x48, 0xf7, 0xf9], (c) => { set(c, RAX, 1n << 63n); set(c, RDX, -1n); set(c, RCX, -1n); });
    expect(io64.fault?.vector).toBe(DE);
    // The most negative quotient fits: -2^63 / 1.
    const ok = run([0x48, 0xf7, 0xf9], (c) => { set(c, RAX, 1n << 63n); set(c, RDX, -1n); set(c, RCX, 1n); });
    expect(ok.fault).toBeUndefined();
    expect(get(ok.c, RAX)).toBe(1n << 63n);
  });
});

describe('bit operations', () => {
  it('bts with a negative register offset reaches memory below the operand', () => {
    const { m, c } = run([0x0f, 0xab, 0x03], (c, mm) => {
      set(c, RBX, BigInt(DATA + 8));
      set(c, RAX, BigInt.asUintN(64, -33n));
      mm.writeBytes(DATA, Uint8Array.from([...le(0x11111111n, 4), ...le(0x22222222n, 4), ...le(0x33333333n, 4)]));
    });
    expect(peek(m, DATA, 4)).toBe(0x91111111n);
    expect(peek(m, DATA + 8, 4)).toBe(0x33333333n);
    expect(flags(c, CF)).toBe(0);
  });

  it('btc word with offset -1 flips bit 15 of the previous word; bt with an immediate', () => {
    const { m } = run([0x66, 0x0f, 0xbb, 0x03], (c, mm) => {
      set(c, RBX, BigInt(DATA + 4));
      set(c, RAX, 0xffffn);
      mm.writeBytes(DATA, Uint8Array.from([1, 0, 2, 0, 3, 0]));
    });
    expect(peek(m, DATA + 2, 2)).toBe(0x8002n);
    const bt = run([0x48, 0x0f, 0xba, 0xe0, 0x45], (c) => set(c, RAX, 0x20n)).c; // bt rax, 69 -> bit 5
    expect(flags(bt, CF)).toBe(CF);
  });

  it('bsf/bsr: zero source sets ZF and leaves the whole destination', () => {
    const z = run([0x0f, 0xbc, 0xc3], (c) => { set(c, RAX, 0x1111111122222222n); set(c, RBX, 0n); }).c;
    expect(get(z, RAX)).toBe(0x1111111122222222n);
    expect(flags(z, ZF)).toBe(ZF);
    const r = run([0x48, 0x0f, 0xbd, 0xc3], (c) => set(c, RBX, 1n << 47n)).c;
    expect(get(r, RAX)).toBe(47n);
    expect(flags(r, ZF)).toBe(0);
  });

  it('tzcnt/lzcnt/popcnt', () => {
    const t = run([0xf3, 0x0f, 0xbc, 0xc0], (c) => set(c, RAX, 0x100n)).c;
    expect(get(t, RAX)).toBe(8n);
    expect(flags(t, CF | ZF)).toBe(0);
    const t0 = run([0xf3, 0x48, 0x0f, 0xbc, 0xc0], (c) => set(c, RAX, 0n)).c;
    expect(get(t0, RAX)).toBe(64n);
    expect(flags(t0, CF | ZF)).toBe(CF);
    const l = run([0xf3, 0x0f, 0xbd, 0xc0], (c) => set(c, RAX, 1n)).c;
    expect(get(l, RAX)).toBe(31n);
    const p = run([0xf3, 0x48, 0x0f, 0xb8, 0xc3], (c) => set(c, RBX, -1n)).c;
    expect(get(p, RAX)).toBe(64n);
    expect(flags(p)).toBe(0);
    const p0 = run([0xf3, 0x48, 0x0f, 0xb8, 0xc3], (c) => set(c, RBX, 0n)).c;
    expect(flags(p0)).toBe(ZF);
    expect(run([0xf3, 0x0f, 0xbc, 0xc0], undefined, { features: ['base'] }).fault?.vector).toBe(UD);
  });

  it('bswap and movbe', () => {
    const b = run([0x48, 0x0f, 0xc8], (c) => set(c, RAX, 0x0102030405060708n)).c;
    expect(get(b, RAX)).toBe(0x0807060504030201n);
    const b32 = run([0x41, 0x0f, 0xc9], (c) => set(c, 9, 0xaaaaaaaa11223344n)).c; // bswap r9d
    expect(get(b32, 9)).toBe(0x44332211n);
    const { c, m } = run([0x0f, 0x38, 0xf0, 0x03, 0x66, 0x0f, 0x38, 0xf1, 0x4b, 0x08], (c, mm) => {
      set(c, RBX, BigInt(DATA));
      set(c, RCX, 0xbeefn);
      mm.writeBytes(DATA, Uint8Array.from([0x11, 0x22, 0x33, 0x44]));
    });
    expect(get(c, RAX)).toBe(0x11223344n);
    expect(peek(m, DATA + 8, 2)).toBe(0xefben);
  });

  it('crc32 (CRC-32C) of a byte and of a qword', () => {
    const b = run([0xf2, 0x0f, 0x38, 0xf0, 0xc3], (c) => { set(c, RAX, 0xffffffffn); set(c, RBX, 0x5an); }).c;
    expect(get(b, RAX)).toBe(0x97455e45n);
    const q = run([0xf2, 0x48, 0x0f, 0x38, 0xf1, 0xc3], (c) => { set(c, RAX, 0x12345678n); set(c, RBX, 0x0123456789abcdefn); }).c;
    expect(get(q, RAX)).toBe(0xa3d207ben);
  });

  it('adcx uses only CF, adox only OF', () => {
    const x = run([0xf9, 0x66, 0x48, 0x0f, 0x38, 0xf6, 0xc3], (c) => { set(c, RAX, -1n); set(c, RBX, 0n); }).c;
    expect(get(x, RAX)).toBe(0n);
    expect(flags(x, CF | OF | ZF)).toBe(CF);
    const o = run([0xf3, 0x0f, 0x38, 0xf6, 0xc3], (c) => { set(c, RAX, 0xfffffffen); set(c, RBX, 1n); }).c;
    expect(get(o, RAX)).toBe(0xffffffffn);
    expect(flags(o, OF)).toBe(0);
  });
});

describe('flag instructions', () => {
  it('stc/cmc/std/cld and lahf/sahf', () => {
    const a = run([0xf9, 0xf5, 0xfd], undefined).c;
    expect(a.getFlags() & (CF | DF)).toBe(DF);
    const l = run([0xf9, 0x9f], (c) => set(c, RAX, 0n)).c; // stc; lahf
    expect(l.reg8(16) & 0x03).toBe(0x03);
    const s = run([0x9e], (c) => set(c, RAX, 0xd500n)).c; // sahf with SF ZF AF PF CF
    expect(flags(s)).toBe(SF | ZF | AF | PF | CF);
    expect(run([0x9f], undefined, { features: ['base'] }).fault?.vector).toBe(UD);
    expect(run([0x9f], undefined, { features: ['base'], mode: 32 }).fault).toBeUndefined();
  });

  it('pushfq clears VM/RF in the image; popfq at CPL 3 keeps IOPL and IF, writes AC and ID, clears RF', () => {
    const { c, m } = run([0x9c, 0x9d], (c, mm) => {
      c.flags = 0x2 | CF | RF;
      void mm;
    }, { user: true });
    expect(peek(m, DATA + 4 * 4096 - 8, 8)).toBe(BigInt(0x2 | CF));
    expect(c.getFlags() & RF).toBe(0);
    // push imm32 with IOPL=3, IF, AC, ID, DF; popfq.
    const img = IOPL | IF | AC | ID | DF | ZF;
    const code = [0x68, ...le(BigInt(img), 4), 0x9d];
    const u = run(code, (c) => { c.flags = 0x2; }, { user: true }).c;
    expect(u.getFlags()).toBe(0x2 | AC | ID | DF | ZF);
    const k = run(code, (c) => { c.flags = 0x2; }, { user: false }).c;
    expect(k.getFlags()).toBe(0x2 | img);
    // At CPL 3 with IOPL 3, IF is writable.
    const u3 = run(code, (c) => { c.flags = 0x2 | IOPL; }, { user: true }).c;
    expect(u3.getFlags() & IF).toBe(IF);
  });
});

describe('string instructions', () => {
  function fill(m: FlatMemory, la: number, n: number, f: (k: number) => number): void {
    m.writeBytes(la, Uint8Array.from({ length: n }, (_, k) => f(k) & 0xff));
  }

  it('rep movsq across pages copies everything and leaves the registers at the end', () => {
    const { c, m } = run([0xf3, 0x48, 0xa5], (c, mm) => {
      fill(mm, DATA, 0x1800, (k) => k * 7);
      set(c, RSI, BigInt(DATA));
      set(c, RDI, BigInt(DATA + 0x1804));
      set(c, RCX, 0x300n);
    });
    expect(get(c, RCX)).toBe(0n);
    expect(get(c, RSI)).toBe(BigInt(DATA + 0x1800));
    expect(get(c, RDI)).toBe(BigInt(DATA + 0x3004));
    expect(Array.from(m.readBytes(DATA + 0x1804, 0x1800))).toEqual(Array.from({ length: 0x1800 }, (_, k) => (k * 7) & 0xff));
  });

  it('overlapping forward rep movsb replicates the pattern, element by element', () => {
    const { m } = run([0xf3, 0xa4], (c, mm) => {
      mm.writeBytes(DATA, Uint8Array.from([0xab, 0xcd]));
      set(c, RSI, BigInt(DATA));
      set(c, RDI, BigInt(DATA + 2));
      set(c, RCX, 10n);
    });
    expect(Array.from(m.readBytes(DATA, 12))).toEqual([0xab, 0xcd, 0xab, 0xcd, 0xab, 0xcd, 0xab, 0xcd, 0xab, 0xcd, 0xab, 0xcd]);
  });

  it('std; rep movsd goes backwards', () => {
    const { c, m } = run([0xfd, 0xf3, 0xa5], (c, mm) => {
      mm.writeBytes(DATA, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
      set(c, RSI, BigInt(DATA + 4));
      set(c, RDI, BigInt(DATA + 0x104));
      set(c, RCX, 2n);
    });
    expect(Array.from(m.readBytes(DATA + 0x100, 8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(get(c, RSI)).toBe(BigInt(DATA - 4));
  });

  it('a #PF in the middle of rep movsd leaves rSI/rDI/rCX at the progress made', () => {
    const r = run([0xf3, 0xa5], (c) => {
      set(c, RSI, BigInt(DATA));
      set(c, RDI, BigInt(LONE + 0x800));
      set(c, RCX, 2000n);
    });
    expect(r.fault?.vector).toBe(PF_VEC);
    expect(r.fault?.address).toBe(LONE + 0x1000);
    expect(r.faultRip).toBe(CODE);
    expect(get(r.c, RCX)).toBe(2000n - 512n);
    expect(get(r.c, RSI)).toBe(BigInt(DATA + 0x800));
    expect(get(r.c, RDI)).toBe(BigInt(LONE + 0x1000));
    // An element straddling into the missing page: no progress at all.
    const s = run([0xf3, 0xa5], (c) => {
      set(c, RSI, BigInt(DATA));
      set(c, RDI, BigInt(LONE + 0xffe));
      set(c, RCX, 3n);
    });
    expect(s.fault?.vector).toBe(PF_VEC);
    expect(s.fault?.address).toBe(LONE + 0x1000); // CR2: the first byte of the missing page
    expect(get(s.c, RCX)).toBe(3n);
    expect(get(s.c, RDI)).toBe(BigInt(LONE + 0xffe));
  });

  it('rep stosq fills a pattern; a long rep stosb completes across several executions', () => {
    const { c, m } = run([0xf3, 0x48, 0xab], (c) => {
      set(c, RAX, 0x0102030405060708n);
      set(c, RDI, BigInt(DATA + 4));
      set(c, RCX, 700n);
    });
    expect(get(c, RCX)).toBe(0n);
    expect(peek(m, DATA + 4 + 8 * 699, 8)).toBe(0x0102030405060708n);
    expect(peek(m, DATA + 4 + 8 * 700, 1)).toBe(0n);
    const big = run([0xf3, 0xaa], (c, mm) => {
      mm.map(0x800000, 0x40000, PROT_R | PROT_W);
      set(c, RAX, 0x5an);
      set(c, RDI, 0x800000n);
      set(c, RCX, 0x30001n);
    });
    expect(get(big.c, RCX)).toBe(0n);
    expect(big.c.retired).toBeGreaterThan(2);
    expect(peek(big.m, 0x830000, 1)).toBe(0x5an);
  });

  it('repe cmpsb stops at the first difference; repne scasb finds the terminator', () => {
    const e = run([0xf3, 0xa6], (c, mm) => {
      mm.writeBytes(DATA, new TextEncoder().encode('abcdef'));
      mm.writeBytes(DATA + 0x100, new TextEncoder().encode('abcxef'));
      set(c, RSI, BigInt(DATA));
      set(c, RDI, BigInt(DATA + 0x100));
      set(c, RCX, 6n);
    }).c;
    expect(get(e, RCX)).toBe(2n);
    expect(get(e, RSI)).toBe(BigInt(DATA + 4));
    expect(flags(e, ZF | CF)).toBe(CF); // 'd' < 'x'
    const s = run([0xf2, 0xae], (c, mm) => {
      mm.writeBytes(DATA, new TextEncoder().encode('hello\0'));
      set(c, RAX, 0n);
      set(c, RDI, BigInt(DATA));
      set(c, RCX, -1n);
    }).c;
    expect(get(s, RCX)).toBe(BigInt.asUintN(64, -7n));
    expect(get(s, RDI)).toBe(BigInt(DATA + 6));
    expect(flags(s, ZF)).toBe(ZF);
    // A zero count runs no iteration and keeps the flags (stc first).
    const z = run([0xf9, 0xf3, 0xa6], (c) => set(c, RCX, 0n)).c;
    expect(flags(z, CF)).toBe(CF);
  });

  it('segment override applies to the source only; 32-bit address size uses ECX/ESI/EDI', () => {
    const fs = run([0x64, 0xa4], (c, mm) => {
      c.segBase[4] = 0x100;
      mm.writeBytes(DATA + 0x100, Uint8Array.from([0x77]));
      set(c, RSI, BigInt(DATA));
      set(c, RDI, BigInt(DATA + 0x10));
    }).m;
    expect(peek(fs, DATA + 0x10, 1)).toBe(0x77n);
    // fs: stosb in 32-bit mode still writes ES:EDI.
    const st = run([0x64, 0xaa], (c) => {
      c.segBase[4] = 0x1000;
      set(c, RAX, 0x42n);
      set(c, RDI, BigInt(DATA + 0x20));
    }, { mode: 32 }).m;
    expect(peek(st, DATA + 0x20, 1)).toBe(0x42n);
    const a32 = run([0x67, 0xf3, 0xa4], (c, mm) => {
      mm.writeBytes(DATA, Uint8Array.from([9, 8, 7, 6]));
      set(c, RCX, 0xffffffff00000003n);
      set(c, RSI, BigInt(DATA));
      set(c, RDI, BigInt(DATA + 0x40));
    });
    expect(Array.from(a32.m.readBytes(DATA + 0x40, 4))).toEqual([9, 8, 7, 0]);
    expect(a32.c.reg32(RCX)).toBe(0);
  });

  it('lodsq and 16-bit addressing in 32-bit mode', () => {
    const l = run([0x48, 0xad], (c, mm) => {
      mm.writeBytes(DATA, Uint8Array.from(le(0x1122334455667788n, 8)));
      set(c, RSI, BigInt(DATA));
    }).c;
    expect(get(l, RAX)).toBe(0x1122334455667788n);
    expect(get(l, RSI)).toBe(BigInt(DATA + 8));
    // 67 rep movsb in 32-bit mode: SI/DI/CX, segment bases supply the high part.
    const r16 = run([0x67, 0xf3, 0xa4], (c, mm) => {
      c.segBase[3] = DATA;
      c.segBase[0] = DATA + 0x10000;
      mm.map(DATA + 0x10000, 0x1000, PROT_R | PROT_W);
      mm.writeBytes(DATA + 0x10, Uint8Array.from([1, 2, 3]));
      set(c, RSI, 0xabcd0010n);
      set(c, RDI, 0x20n);
      set(c, RCX, 0x55550003n);
    }, { mode: 32 });
    expect(r16.fault).toBeUndefined();
    expect(Array.from(r16.m.readBytes(DATA + 0x10020, 3))).toEqual([1, 2, 3]);
    expect(r16.c.reg32(RCX)).toBe(0x55550000);
    expect(r16.c.reg32(RSI)).toBe(0xabcd0013 | 0);
  });
});

describe('atomics', () => {
  it('cmpxchg r32: success writes the destination (zero-extended), failure loads only the accumulator', () => {
    const ok = run([0x0f, 0xb1, 0xd3], (c) => { set(c, RBX, 0x1111111122222222n); set(c, RAX, 0x3333333322222222n); set(c, RDX, 0x5555555566666666n); }).c;
    expect(get(ok, RBX)).toBe(0x66666666n);
    expect(get(ok, RAX)).toBe(0x3333333322222222n);
    expect(flags(ok, ZF)).toBe(ZF);
    const no = run([0x0f, 0xb1, 0xd3], (c) => { set(c, RBX, 0x1111111122222222n); set(c, RAX, 0x3333333344444444n); set(c, RDX, 0x5555555566666666n); }).c;
    expect(get(no, RBX)).toBe(0x1111111122222222n);
    expect(get(no, RAX)).toBe(0x22222222n);
    expect(flags(no, ZF)).toBe(0);
  });

  it('lock cmpxchg16b: success, failure, and #GP(0) when misaligned', () => {
    const code = [0xf0, 0x48, 0x0f, 0xc7, 0x0f]; // lock cmpxchg16b [rdi]
    const init = (c: Cpu, mm: FlatMemory, at: number): void => {
      mm.writeBytes(at, Uint8Array.from([...le(5n, 8), ...le(6n, 8)]));
      set(c, RDI, BigInt(at));
      set(c, RAX, 5n);
      set(c, RDX, 6n);
      set(c, RBX, 7n);
      set(c, RCX, 8n);
    };
    const ok = run(code, (c, mm) => init(c, mm, DATA + 0x10));
    expect([peek(ok.m, DATA + 0x10, 8), peek(ok.m, DATA + 0x18, 8)]).toEqual([7n, 8n]);
    expect(flags(ok.c, ZF)).toBe(ZF);
    const no = run(code, (c, mm) => { init(c, mm, DATA + 0x10); set(c, RDX, 9n); });
    expect([get(no.c, RAX), get(no.c, RDX)]).toEqual([5n, 6n]);
    expect(flags(no.c, ZF)).toBe(0);
    const mis = run(code, (c, mm) => init(c, mm, DATA + 0x18));
    expect(mis.fault?.vector).toBe(GP);
    expect(mis.fault?.errorCode).toBe(0);
    expect(run(code, (c, mm) => init(c, mm, DATA + 0x10), { features: ['base', 'cx8'] }).fault?.vector).toBe(UD);
  });

  it('cmpxchg8b failure loads EDX:EAX zero-extended; xadd exchanges and adds', () => {
    const f = run([0x0f, 0xc7, 0x0f], (c, mm) => {
      mm.writeBytes(DATA, Uint8Array.from(le(5n, 8)));
      set(c, RDI, BigInt(DATA));
      set(c, RAX, 0x77777777aaaaaaaan);
      set(c, RDX, 0x8888888899999999n);
    }).c;
    expect([get(f, RAX), get(f, RDX)]).toEqual([5n, 0n]);
    const x = run([0xf0, 0x48, 0x0f, 0xc1, 0x07], (c, mm) => {
      mm.writeBytes(DATA, Uint8Array.from(le(-1n, 8)));
      set(c, RDI, BigInt(DATA));
      set(c, RAX, 1n);
    });
    expect(peek(x.m, DATA, 8)).toBe(0n);
    expect(get(x.c, RAX)).toBe(0xffffffffffffffffn);
    expect(flags(x.c, ZF | CF)).toBe(ZF | CF);
  });
});

describe('misc', () => {
  it('enter with nesting level 2 copies the frame pointer and allocates', () => {
    const top = DATA + 4 * 4096;
    const { c, m } = run([0xc8, 0x10, 0x00, 0x02], (c, mm) => {
      set(c, RBP, BigInt(top - 0x100));
      mm.writeBytes(top - 0x108, Uint8Array.from(le(0xfeedn, 8)));
    });
    // push rbp; push [rbp-8]; push frame temp; rbp = frame temp; rsp -= 16.
    expect(peek(m, top - 8, 8)).toBe(BigInt(top - 0x100));
    expect(peek(m, top - 16, 8)).toBe(0xfeedn);
    expect(peek(m, top - 24, 8)).toBe(BigInt(top - 8));
    expect(get(c, RBP)).toBe(BigInt(top - 8));
    expect(get(c, RSP)).toBe(BigInt(top - 24 - 16));
  });

  it('enter touches the final stack pointer first: a #PF there leaves rSP and rBP unchanged', () => {
    const top = DATA + 4 * 4096;
    const r = run([0xc8, 0x00, 0x50, 0x01], (c) => set(c, RBP, 0x1234n)); // enter 0x5000, 1
    expect(r.fault?.vector).toBe(PF_VEC);
    expect(r.fault?.address).toBe(top - 16 - 0x5000);
    expect([get(r.c, RSP), get(r.c, RBP)]).toEqual([BigInt(top), 0x1234n]);
  });

  it('xlat, mov moffs (64-bit and 8-bit forms)', () => {
    const x = run([0xd7], (c, mm) => {
      mm.writeBytes(DATA + 0x85, Uint8Array.from([0x99]));
      set(c, RBX, BigInt(DATA));
      set(c, RAX, 0x85n);
    }).c;
    expect(x.reg8(0)).toBe(0x99);
    const mo = run([0x48, 0xa1, ...le(BigInt(DATA + 8), 8), 0xa2, ...le(BigInt(DATA + 0x20), 8)], (c, mm) => {
      mm.writeBytes(DATA + 8, Uint8Array.from(le(0x0102030405060708n, 8)));
    });
    expect(get(mo.c, RAX)).toBe(0x0102030405060708n);
    expect(peek(mo.m, DATA + 0x20, 1)).toBe(0x08n);
  });

  it('int n: the interrupt hook, or #GP(n*8+2) without one; into and int1 trap', () => {
    const seen: [number, number][] = [];
    const h = run([0xcd, 0x80], undefined, { hooks: { interrupt: (c, v) => { seen.push([v, c.rip]); } } });
    expect(h.fault).toBeUndefined();
    expect(seen).toEqual([[0x80, CODE + 2]]);
    const g = run([0xcd, 0x80]);
    expect(g.fault?.vector).toBe(GP);
    expect(g.fault?.errorCode).toBe(0x402);
    expect(g.faultRip).toBe(CODE);
    // into in 32-bit mode with OF set (add al, 0x7f with al = 1): a trap, RIP after.
    const o = run([0x04, 0x7f, 0xce], (c) => set(c, RAX, 1n), { mode: 32 });
    expect(o.fault?.vector).toBe(OF_VEC);
    expect(o.faultRip).toBe(CODE + 3);
    expect(run([0xce]).fault?.vector).toBe(UD);
    const d = run([0xf1]);
    expect(d.fault?.vector).toBe(DB);
    expect(d.faultRip).toBe(CODE + 1);
  });

  it('ud0/ud1 are #UD at the instruction; pause, hint NOPs and prefetches of unmapped memory do nothing', () => {
    const u = run([0x90, 0x0f, 0xb9, 0x84, 0x24, 0, 0, 0, 0]);
    expect(u.fault?.vector).toBe(UD);
    expect(u.faultRip).toBe(CODE + 1);
    expect(run([0x0f, 0xff, 0xc0]).fault?.vector).toBe(UD);
    const n = run([0xf3, 0x90, 0x0f, 0x18, 0x03, 0x0f, 0x0d, 0x0b, 0xf3, 0x0f, 0x1e, 0xfa, 0x0f, 0x19, 0x00, 0x0f, 0xae, 0xe8, 0x0f, 0xae, 0xf0, 0x0f, 0xae, 0xf8], (c) => set(c, RBX, 0x900000n));
    expect(n.fault).toBeUndefined();
    expect(n.c.rip).toBe(CODE + 24);
  });

  it('clflush faults like a read; clflushopt works on mapped memory', () => {
    const f = run([0x0f, 0xae, 0x3b], (c) => set(c, RBX, 0x900000n));
    expect(f.fault?.vector).toBe(PF_VEC);
    expect(f.fault?.address).toBe(0x900000);
    expect(run([0x66, 0x0f, 0xae, 0x3b], (c) => set(c, RBX, BigInt(DATA))).fault).toBeUndefined();
  });

  it('rdtsc/rdtscp/rdpid/rdrand through the hooks', () => {
    const hooks: Partial<CpuHooks> = { rdtsc: () => [0x89abcdef | 0, 0x1234], tscAux: () => 7, random: (_c, size) => (size === 8 ? [0x11, 0x22] : undefined) };
    const t = run([0x0f, 0x01, 0xf9, 0xf3, 0x0f, 0xc7, 0xfb], (c) => set(c, RAX, -1n), { hooks }).c;
    expect([get(t, RAX), get(t, RDX), get(t, RCX), get(t, RBX)]).toEqual([0x89abcdefn, 0x1234n, 7n, 7n]);
    const r = run([0x48, 0x0f, 0xc7, 0xf0], undefined, { hooks }).c;
    expect(get(r, RAX)).toBe(0x2200000011n);
    expect(flags(r, CF)).toBe(CF);
    const no = run([0x0f, 0xc7, 0xf0, 0xf9], (c) => set(c, RAX, 5n), { hooks }).c; // 32-bit: hook says no; stc after
    expect(get(no, RAX)).toBe(0n);
    const no2 = run([0xf9, 0x0f, 0xc7, 0xf0], (c) => set(c, RAX, 5n), { hooks }).c;
    expect(flags(no2, CF)).toBe(0);
  });
});
