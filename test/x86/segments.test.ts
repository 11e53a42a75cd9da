/**
 * Segmentation and privilege on a system-level CPU (SDM vol. 3 ch. 3, 5; vol. 2 under each
 * instruction): segment-register loads and their exceptions, limit checks, far JMP/CALL/RET
 * with call gates and stack switches, the descriptor-table instructions, port I/O with the I/O
 * permission bitmap. Each test builds a GDT (and TSS, LDT) in a flat memory with paging off
 * (linear = physical) and runs a few instructions.
 */
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../x86/cpu.js';
import { Fault, GP, NP, SS, TS, UD } from '../../x86/fault.js';
import { FlatMemory, PROT_R, PROT_W, PROT_X } from '../../x86/flat-memory.js';
import {
  CR0_PE, EFER_LMA, EFER_LME, SA_ACCESSED, SA_CE, SA_CODE, SA_CODE32_FLAT, SA_DATA32_FLAT, SA_DB, SA_DPL, SA_G, SA_L, SA_P, SA_RW, SA_S,
} from '../../x86/system/regs.js';

const GDT = 0x1000;
const TSS = 0x3000;
const LDT = 0x3800;
const CODE = 0x10000;
const STACK0 = 0x8000;
const STACK3 = 0x9000;
const IOMAP = 0x68;

const CODE64 = SA_P | SA_S | SA_CODE | SA_RW | SA_ACCESSED | SA_L | SA_G;
const dpl = (n: number): number => n << 5;

// Selectors of the test GDT.
const K_CODE = 0x08;
const K_DATA = 0x10;
const U_CODE = 0x18 | 3;
const U_DATA = 0x20 | 3;
const K_CODE64 = 0x28;
const U_CODE64 = 0x30 | 3;
const SMALL = 0x38; // data, base 0x20000, limit 0xfff
const RODATA = 0x40;
const XONLY = 0x48; // execute-only code
const ABSENT = 0x50;
const CONFORM = 0x58; // conforming readable code, DPL 0
const EXPDOWN = 0x60; // expand-down data, limit 0xfff, B = 1
const TSS_SEL = 0x68;
const LDT_SEL = 0x70;
const GATE32 = 0x78 | 3; // 32-bit call gate, DPL 3, to K_CODE, 2 parameters
const GATE16 = 0x80; // 16-bit call gate, DPL 0
const U_CODE16 = 0x88 | 3;
const GATE64 = 0x90 | 3; // 64-bit call gate (16 bytes, 0x90-0x9f), DPL 3, to K_CODE64
const TSS64_SEL = 0xa0; // 16 bytes
const GDT_LIMIT = 0xaf;

function descriptor(base: number, limit: number, attr: number): [number, number] {
  const g = (attr & SA_G) !== 0;
  const raw = g ? limit >>> 12 : limit;
  const lo = ((raw & 0xffff) | ((base & 0xffff) << 16)) >>> 0;
  const hi = (((base >>> 16) & 0xff) | ((attr & 0xff) << 8) | (raw & 0xf0000) | (((attr >> 8) & 0xf) << 20) | (base & 0xff000000)) >>> 0;
  return [lo, hi];
}

function gate(sel: number, offset: number, type: number, d: number, params = 0): [number, number] {
  const lo = ((offset & 0xffff) | (sel << 16)) >>> 0;
  const hi = ((offset & 0xffff0000) | 0x8000 | (d << 13) | (type << 8) | params) >>> 0;
  return [lo, hi];
}

interface Machine {
  readonly c: Cpu;
  readonly mem: FlatMemory;
  readonly faults: Fault[];
  readonly io: string[];
  /**
   * Runs `bytes` at CODE followed by an INT3, until the first fault (returned, the INT3's #BP
   * excepted) or `n` instructions (counted at block ends: use 1 to stop after a branch).
   */
  run(bytes: readonly number[], n?: number): Fault | undefined;
  put32(a: number, v: number): void;
  get32(a: number): number;
  get16(a: number): number;
  setDesc(sel: number, d: [number, number]): void;
}

function machine(opts: { long?: boolean; ports?: Map<number, number> } = {}): Machine {
  const mem = new FlatMemory();
  mem.map(0, 0x40000, PROT_R | PROT_W | PROT_X);
  mem.writeBytes(CODE, new Uint8Array(0x1000).fill(0xcc));
  const faults: Fault[] = [];
  const io: string[] = [];
  const c = new Cpu(
    mem,
    {
      exception: (cc, f) => {
        faults.push(f);
        cc.stopRequested = true;
      },
      ioIn: (_c, port, size) => {
        io.push(`in ${port.toString(16)}/${size}`);
        return opts.ports?.get(port) ?? 0x12345678;
      },
      ioOut: (_c, port, size, v) => {
        io.push(`out ${port.toString(16)}/${size}=${(v >>> 0).toString(16)}`);
      },
    },
    ['base'],
  );
  const put32 = (a: number, v: number): void => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    mem.writeBytes(a, b);
  };
  const get32 = (a: number): number => new DataView(mem.readBytes(a, 4).buffer).getUint32(0, true);
  const get16 = (a: number): number => new DataView(mem.readBytes(a, 2).buffer).getUint16(0, true);
  const setDesc = (sel: number, d: [number, number]): void => {
    put32(GDT + (sel & 0xfff8), d[0]);
    put32(GDT + (sel & 0xfff8) + 4, d[1]);
  };
  setDesc(K_CODE, descriptor(0, 0xffffffff, SA_CODE32_FLAT));
  setDesc(K_DATA, descriptor(0, 0xffffffff, SA_DATA32_FLAT));
  setDesc(U_CODE, descriptor(0, 0xffffffff, SA_CODE32_FLAT | dpl(3)));
  setDesc(U_DATA, descriptor(0, 0xffffffff, SA_DATA32_FLAT | dpl(3)));
  setDesc(K_CODE64, descriptor(0, 0xffffffff, CODE64));
  setDesc(U_CODE64, descriptor(0, 0xffffffff, CODE64 | dpl(3)));
  setDesc(SMALL, descriptor(0x20000, 0xfff, SA_P | SA_S | SA_RW | SA_DB));
  setDesc(RODATA, descriptor(0, 0xffff, SA_P | SA_S | SA_DB));
  setDesc(XONLY, descriptor(0, 0xfffff, SA_P | SA_S | SA_CODE | SA_DB));
  setDesc(ABSENT, descriptor(0, 0xffff, SA_S | SA_RW | SA_DB));
  setDesc(CONFORM, descriptor(0, 0xffffffff, SA_P | SA_S | SA_CODE | SA_RW | SA_CE | SA_DB | SA_G));
  setDesc(EXPDOWN, descriptor(0, 0xfff, SA_P | SA_S | SA_RW | SA_CE | SA_DB));
  setDesc(TSS_SEL, descriptor(TSS, IOMAP + 8192 / 8, SA_P | 9));
  setDesc(LDT_SEL, descriptor(LDT, 0x17, SA_P | 2));
  setDesc(GATE32, gate(K_CODE, CODE + 0x800, 12, 3, 2));
  setDesc(GATE16, gate(K_CODE, CODE + 0x900, 4, 0, 0));
  setDesc(U_CODE16, descriptor(0, 0xffff, SA_P | SA_S | SA_CODE | SA_RW | dpl(3)));
  setDesc(GATE64, gate(K_CODE64, CODE + 0xa00, 12, 3));
  put32(GDT + 0x98, 0); // upper half of the 64-bit gate: offset 63:32 = 0, type 0
  put32(GDT + 0x9c, 0);
  setDesc(TSS64_SEL, descriptor(TSS, IOMAP + 8192 / 8, SA_P | 9));
  put32(GDT + 0xa8, 0);
  put32(GDT + 0xac, 0);
  // LDT: entry 1 (selector 0x0c) is a ring-3 data segment, base 0x30000.
  put32(LDT + 8, descriptor(0x30000, 0xffff, SA_P | SA_S | SA_RW | SA_DB | dpl(3))[0]);
  put32(LDT + 12, descriptor(0x30000, 0xffff, SA_P | SA_S | SA_RW | SA_DB | dpl(3))[1]);
  // TSS: ESP0/SS0 (32-bit layout), RSP0 (64-bit layout shares offset 4), the I/O bitmap at IOMAP.
  put32(TSS + 4, STACK0);
  put32(TSS + 8, K_DATA);
  put32(TSS + 0x64, IOMAP << 16);
  mem.writeBytes(TSS + IOMAP, new Uint8Array(8192 / 8).fill(0xff));

  c.system = true;
  c.jit = false;
  c.gdtrBase = GDT;
  c.gdtrLimit = GDT_LIMIT;
  c.cr0 |= CR0_PE;
  if (opts.long === true) c.efer = EFER_LME | EFER_LMA;
  c.setCpl(0);
  c.trSel = TSS_SEL;
  c.trBase = TSS;
  c.trLimit = IOMAP + 8192 / 8;
  c.trAttr = SA_P | 11;
  c.loadSegmentCache(1, opts.long === true ? K_CODE64 : K_CODE, 0, 0xffffffff, opts.long === true ? CODE64 : SA_CODE32_FLAT);
  c.loadSegmentCache(2, K_DATA, 0, 0xffffffff, SA_DATA32_FLAT);
  for (const s of [0, 3, 4, 5]) c.loadSegmentCache(s, K_DATA, 0, 0xffffffff, SA_DATA32_FLAT);
  c.setReg32(4, STACK0);

  return {
    c,
    mem,
    faults,
    io,
    put32,
    get32,
    get16,
    setDesc,
    run(bytes, n = 100) {
      mem.writeBytes(CODE, Uint8Array.from([...bytes, 0xcc]));
      c.invalidateAllCode(); // the host wrote the code behind the CPU's back
      c.rip = CODE;
      faults.length = 0;
      c.run(n);
      const f = faults[0];
      return f === undefined || f.vector === 3 ? undefined : f;
    },
  };
}

/** Moves the CPU to CPL 3 in flat ring-3 segments (as an IRET would). */
function toUser(m: Machine): void {
  const c = m.c;
  c.setCpl(3);
  const long = c.mode === 64;
  c.loadSegmentCache(1, long ? U_CODE64 : U_CODE, 0, 0xffffffff, long ? CODE64 | dpl(3) : SA_CODE32_FLAT | dpl(3));
  c.loadSegmentCache(2, U_DATA, 0, 0xffffffff, SA_DATA32_FLAT | dpl(3));
  for (const s of [0, 3, 4, 5]) c.loadSegmentCache(s, U_DATA, 0, 0xffffffff, SA_DATA32_FLAT | dpl(3));
  c.setReg32(4, STACK3);
}

const fault = (v: number, e?: number): { vector: number; errorCode?: number } => (e === undefined ? { vector: v } : { vector: v, errorCode: e });
const movDsAx = [0x8e, 0xd8];
const movAx = (v: number): number[] => [0x66, 0xb8, v & 0xff, v >> 8];

describe('segment-register loads (SDM MOV, POP, LDS)', () => {
  it('loads a data segment: base, limit, attributes, accessed bit set in the GDT', () => {
    const m = machine();
    expect(m.run([...movAx(SMALL), ...movDsAx])).toBeUndefined();
    expect(m.c.segSel[3]).toBe(SMALL);
    expect(m.c.segBase[3]).toBe(0x20000);
    expect(m.c.segLimit[3]).toBe(0xfff);
    expect((m.get32(GDT + SMALL + 4) >>> 8) & 1).toBe(1);
  });

  it('accepts a null selector in DS; an access through it is #GP(0)', () => {
    const m = machine();
    expect(m.run([...movAx(0), ...movDsAx])).toBeUndefined();
    expect(m.run([0x8b, 0x05, 0, 0x20, 0, 0])).toMatchObject(fault(GP, 0)); // mov eax, [0x2000]
  });

  it('raises #GP(sel) beyond the GDT limit, for an LDT selector without an LDT, a system or execute-only segment', () => {
    for (const sel of [0xb0, 0x0c, TSS_SEL, XONLY]) {
      const m = machine();
      expect(m.run([...movAx(sel), ...movDsAx])).toMatchObject(fault(GP, sel & 0xfffc));
      expect(m.c.segSel[3]).toBe(K_DATA);
    }
    const m = machine();
    expect(m.run([...movAx(CONFORM), ...movDsAx])).toBeUndefined(); // readable code is fine
  });

  it('checks DPL >= max(CPL, RPL) for data, not for conforming code; #NP(sel) when not present', () => {
    const m = machine();
    toUser(m);
    expect(m.run([...movAx(K_DATA | 3), ...movDsAx])).toMatchObject(fault(GP, K_DATA));
    expect(m.run([...movAx(CONFORM | 3), ...movDsAx])).toBeUndefined();
    const k = machine();
    expect(k.run([...movAx(SMALL | 1), ...movDsAx])).toMatchObject(fault(GP, SMALL)); // RPL 1 > DPL 0
    expect(k.run([...movAx(ABSENT), ...movDsAx])).toMatchObject(fault(NP, ABSENT));
  });

  it('SS: null is #GP(0), RPL or DPL not CPL or not writable is #GP(sel), not present #SS(sel); a load starts a shadow', () => {
    const m = machine();
    const movSsAx = [0x8e, 0xd0];
    expect(m.run([...movAx(0), ...movSsAx])).toMatchObject(fault(GP, 0));
    expect(m.run([...movAx(K_DATA | 3), ...movSsAx])).toMatchObject(fault(GP, K_DATA));
    expect(m.run([...movAx(RODATA), ...movSsAx])).toMatchObject(fault(GP, RODATA));
    expect(m.run([...movAx(U_DATA), ...movSsAx])).toMatchObject(fault(GP, U_DATA & 0xfffc));
    expect(m.run([...movAx(ABSENT), ...movSsAx])).toMatchObject(fault(SS, ABSENT));
    expect(m.run([...movAx(SMALL), ...movSsAx])).toBeUndefined();
    expect(m.c.segBase[2]).toBe(0x20000);
    expect(m.c.shadowEnd).toBe(m.c.retired + 1);
  });

  it('64-bit mode: null SS at CPL 0 with RPL 0 is allowed, not at CPL 3; FS takes a 32-bit base', () => {
    const m = machine({ long: true });
    expect(m.c.mode).toBe(64);
    expect(m.run([...movAx(0), 0x8e, 0xd0])).toBeUndefined();
    expect(m.run([...movAx(1), 0x8e, 0xd0])).toMatchObject(fault(GP, 0));
    expect(m.run([...movAx(SMALL), 0x8e, 0xe0])).toBeUndefined(); // mov fs, ax
    expect(m.c.segBase[4]).toBe(0x20000);
    toUser(m);
    expect(m.run([...movAx(3), 0x8e, 0xd0])).toMatchObject(fault(GP, 0));
  });

  it('MOV CS and MOV to segment registers 6 and 7 are #UD; MOV r, Sreg zero-extends, MOV m, Sreg stores 16 bits', () => {
    const m = machine();
    expect(m.run([0x8e, 0xc8])).toMatchObject(fault(UD));
    expect(m.run([0x8e, 0xf0])).toMatchObject(fault(UD));
    m.c.setReg32(0, -1);
    expect(m.run([0x8c, 0xd0])).toBeUndefined(); // mov eax, ss
    expect(m.c.reg32(0)).toBe(K_DATA);
    m.put32(0x5000, 0xaaaaaaaa);
    expect(m.run([0x8c, 0x0d, 0, 0x50, 0, 0])).toBeUndefined(); // mov [0x5000], cs
    expect(m.get32(0x5000)).toBe((0xaaaa0000 | K_CODE) >>> 0);
  });

  it('LDS/LSS load the register and the segment; a bad selector leaves both unchanged', () => {
    const m = machine();
    m.put32(0x5000, 0x11223344);
    m.put32(0x5004, SMALL);
    m.c.setReg32(3, 7);
    expect(m.run([0xc5, 0x1d, 0, 0x50, 0, 0])).toBeUndefined(); // lds ebx, [0x5000]
    expect(m.c.reg32(3) >>> 0).toBe(0x11223344);
    expect(m.c.segSel[3]).toBe(SMALL);
    m.put32(0x5004, ABSENT);
    m.c.loadSegmentCache(3, K_DATA, 0, 0xffffffff, SA_DATA32_FLAT);
    m.c.setReg32(3, 7);
    expect(m.run([0x0f, 0xb2, 0x1d, 0, 0x50, 0, 0])).toMatchObject(fault(SS, ABSENT)); // lss ebx, [0x5000]
    expect(m.c.reg32(3)).toBe(7);
  });

  it('PUSH/POP segment registers; a failing POP leaves ESP; POP SS starts a shadow', () => {
    const m = machine();
    expect(m.run([0x1e], 1)).toBeUndefined(); // push ds
    expect(m.c.reg32(4)).toBe(STACK0 - 4);
    expect(m.get32(STACK0 - 4)).toBe(K_DATA);
    m.put32(STACK0 - 4, ABSENT);
    expect(m.run([0x07])).toMatchObject(fault(NP, ABSENT)); // pop es
    expect(m.c.reg32(4)).toBe(STACK0 - 4);
    m.put32(STACK0 - 4, K_DATA);
    expect(m.run([0x17])).toBeUndefined(); // pop ss
    expect(m.c.reg32(4)).toBe(STACK0);
    expect(m.c.shadowEnd).toBe(m.c.retired + 1);
    expect(m.run([0x0f, 0xa0, 0x0f, 0xa9])).toBeUndefined(); // push fs; pop gs
    expect(m.c.segSel[5]).toBe(K_DATA);
  });

  it('a non-system CPU loads the selector with base 0, keeping the FS/GS bases', () => {
    const mem = new FlatMemory();
    mem.map(0x1000, 0x1000, PROT_R | PROT_X);
    mem.writeBytes(0x1000, Uint8Array.from([0x8e, 0xd8, 0x8e, 0xe0, 0xcc]));
    const c = new Cpu(mem, { exception: (cc) => { cc.stopRequested = true; } });
    c.segBase[3] = 0x100;
    c.segBase[4] = 0x200;
    c.setReg32(0, 0x2b);
    c.rip = 0x1000;
    c.run(3);
    expect([c.segSel[3], c.segBase[3], c.segSel[4], c.segBase[4]]).toEqual([0x2b, 0, 0x2b, 0x200]);
  });
});

describe('limit and type checks outside 64-bit mode (SDM vol. 3 §5.3)', () => {
  it('#GP(0) beyond a data segment limit, counting the access size', () => {
    const m = machine();
    m.c.loadSegmentCache(3, SMALL, 0x20000, 0xfff, SA_P | SA_S | SA_RW | SA_DB);
    expect(m.run([0x8b, 0x05, 0xfc, 0x0f, 0, 0])).toBeUndefined(); // mov eax, [0xffc]
    expect(m.run([0x8b, 0x05, 0xfd, 0x0f, 0, 0])).toMatchObject(fault(GP, 0));
    expect(m.run([0x8a, 0x05, 0xff, 0x0f, 0, 0])).toBeUndefined(); // mov al, [0xfff]
    expect(m.run([0x8a, 0x05, 0x00, 0x10, 0, 0])).toMatchObject(fault(GP, 0));
  });

  it('#SS(0) for stack references beyond SS limit', () => {
    const m = machine();
    m.c.loadSegmentCache(2, SMALL, 0x20000, 0xfff, SA_P | SA_S | SA_RW | SA_DB);
    m.c.setReg32(4, 0x1002);
    expect(m.run([0x50])).toMatchObject(fault(SS, 0)); // push eax: ESP-4 = 0xffe, 4 bytes cross 0xfff
    m.c.setReg32(5, 0x2000);
    expect(m.run([0x8b, 0x45, 0x00])).toMatchObject(fault(SS, 0)); // mov eax, [ebp]
  });

  it('writes to read-only data and reads of execute-only code are #GP(0); expand-down segments', () => {
    const m = machine();
    m.c.loadSegmentCache(0, RODATA, 0, 0xffff, SA_P | SA_S | SA_DB);
    expect(m.run([0x26, 0x8b, 0x05, 0, 0x50, 0, 0])).toBeUndefined(); // mov eax, es:[0x5000]
    expect(m.run([0x26, 0x89, 0x05, 0, 0x50, 0, 0])).toMatchObject(fault(GP, 0));
    expect(m.run([0x26, 0x01, 0x05, 0, 0x50, 0, 0])).toMatchObject(fault(GP, 0)); // add es:[..], eax
    m.c.loadSegmentCache(1, XONLY, 0, 0xfffff, SA_P | SA_S | SA_CODE | SA_DB);
    expect(m.run([0x2e, 0x8b, 0x05, 0, 0x50, 0, 0])).toMatchObject(fault(GP, 0));
    m.c.loadSegmentCache(1, K_CODE, 0, 0xffffffff, SA_CODE32_FLAT);
    m.c.loadSegmentCache(3, EXPDOWN, 0, 0xfff, SA_P | SA_S | SA_RW | SA_CE | SA_DB);
    expect(m.run([0x8b, 0x05, 0xff, 0x0f, 0, 0])).toMatchObject(fault(GP, 0));
    expect(m.run([0x8b, 0x05, 0x00, 0x10, 0, 0])).toBeUndefined();
  });

  it('64-bit mode ignores limits', () => {
    const m = machine({ long: true });
    m.c.loadSegmentCache(3, SMALL, 0x20000, 0xfff, SA_P | SA_S | SA_RW | SA_DB);
    expect(m.run([0x8b, 0x04, 0x25, 0, 0x50, 0, 0])).toBeUndefined(); // mov eax, [0x5000]
  });
});

describe('far JMP, CALL and RET (SDM "JMP", "CALL", "RET", vol. 3 §5.8)', () => {
  it('JMP ptr16:32 to a code segment; RPL becomes CPL; offset beyond the limit is #GP(0)', () => {
    const m = machine();
    const jmp = (sel: number, off: number): number[] => [0xea, off & 0xff, (off >> 8) & 0xff, (off >> 16) & 0xff, off >>> 24, sel & 0xff, sel >> 8];
    expect(m.run(jmp(CONFORM, CODE + 0x40), 1)).toBeUndefined();
    expect([m.c.segSel[1], m.c.rip]).toEqual([CONFORM, CODE + 0x40]);
    expect(m.run(jmp(U_CODE, CODE))).toMatchObject(fault(GP, U_CODE & 0xfffc)); // DPL 3 != CPL 0
    expect(m.run(jmp(ABSENT | 0, CODE))).toMatchObject(fault(GP, ABSENT)); // data segment
    expect(m.run(jmp(0, CODE))).toMatchObject(fault(GP, 0));
    expect(m.run(jmp(TSS_SEL, 0))).toMatchObject(fault(GP, TSS_SEL)); // task switches are not modelled
    m.setDesc(0xa8, descriptor(0, 0xfff, SA_P | SA_S | SA_CODE | SA_RW | SA_DB));
    m.c.gdtrLimit = 0xaf;
    expect(m.run(jmp(0xa8, 0x1000))).toMatchObject(fault(GP, 0));
    m.setDesc(0xa8, descriptor(0, 0xfff, SA_S | SA_CODE | SA_RW | SA_DB));
    expect(m.run(jmp(0xa8, 0x100))).toMatchObject(fault(NP, 0xa8));
  });

  it('CALL far and RET far at the same level push and pop CS:EIP', () => {
    const m = machine();
    // call far [0x5000]; at the target: retf 8
    m.put32(0x5000, CODE + 0x100);
    m.put32(0x5004, K_CODE);
    m.mem.writeBytes(CODE + 0x100, Uint8Array.from([0xca, 8, 0]));
    expect(m.run([0xff, 0x1d, 0, 0x50, 0, 0], 1)).toBeUndefined();
    expect(m.c.rip).toBe(CODE + 0x100);
    expect(m.c.reg32(4)).toBe(STACK0 - 8);
    expect([m.get32(STACK0 - 8), m.get32(STACK0 - 4)]).toEqual([CODE + 6, K_CODE]);
    m.c.run(1);
    expect(m.c.rip).toBe(CODE + 6);
    expect(m.c.reg32(4)).toBe(STACK0 + 8);
  });

  it('CALL through a 32-bit gate to ring 0: stack from the TSS, parameters copied; RET back nulls DS', () => {
    const m = machine();
    toUser(m);
    m.put32(STACK3 - 8, 0x1111); // two parameters on the caller's stack
    m.put32(STACK3 - 4, 0x2222);
    m.c.setReg32(4, STACK3 - 8);
    m.mem.writeBytes(CODE + 0x800, Uint8Array.from([0xca, 8, 0])); // retf 8
    expect(m.run([0x9a, 0, 0, 0, 0, GATE32, 0], 1)).toBeUndefined();
    expect([m.c.cpl, m.c.segSel[1], m.c.segSel[2], m.c.rip]).toEqual([0, K_CODE, K_DATA, CODE + 0x800]);
    const sp = STACK0 - 24;
    expect(m.c.reg32(4)).toBe(sp);
    expect([0, 4, 8, 12, 16, 20].map((k) => m.get32(sp + k))).toEqual([CODE + 7, U_CODE, 0x1111, 0x2222, STACK3 - 8, U_DATA]);
    // The handler loads a ring-0 DS; the far RET to ring 3 nulls it.
    m.c.loadSegmentCache(3, K_DATA, 0, 0xffffffff, SA_DATA32_FLAT);
    m.c.run(1);
    expect([m.c.cpl, m.c.segSel[1], m.c.segSel[2], m.c.rip, m.c.reg32(4)]).toEqual([3, U_CODE, U_DATA, CODE + 7, STACK3]);
    expect(m.c.segSel[3]).toBe(0);
    expect(m.c.segSel[0]).toBe(U_DATA);
  });

  it('gate DPL below CPL is #GP(gate); a bad TSS stack is #TS; RET to an outer level checks SS', () => {
    const m = machine();
    toUser(m);
    expect(m.run([0x9a, 0, 0, 0, 0, GATE16, 0])).toMatchObject(fault(GP, GATE16));
    m.put32(TSS + 8, RODATA);
    expect(m.run([0x9a, 0, 0, 0, 0, GATE32, 0])).toMatchObject(fault(TS, RODATA));
    expect(m.c.cpl).toBe(3);
    m.put32(TSS + 8, 0);
    expect(m.run([0x9a, 0, 0, 0, 0, GATE32, 0])).toMatchObject(fault(TS, 0));
    const k = machine();
    // retf with CS = user code and SS = ring-0 data: #GP(SS).
    k.put32(STACK0, CODE);
    k.put32(STACK0 + 4, U_CODE);
    k.put32(STACK0 + 8, STACK3);
    k.put32(STACK0 + 12, K_DATA);
    expect(k.run([0xcb])).toMatchObject(fault(GP, K_DATA));
    expect(k.c.cpl).toBe(0);
    k.put32(STACK0 + 4, K_CODE | 3);
    expect(k.run([0xcb])).toMatchObject(fault(GP, K_CODE)); // DPL 0 != RPL 3
  });

  it('long mode: a far JMP to a CS with L = 0 enters compatibility mode and back to 64-bit', () => {
    const m = machine({ long: true });
    m.put32(0x5000, CODE + 0x100);
    m.put32(0x5004, K_CODE);
    m.mem.writeBytes(CODE + 0x100, Uint8Array.from([0xea, 0x00, 0x02, 0x01, 0x00, K_CODE64, 0]));
    expect(m.run([0xff, 0x2c, 0x25, 0, 0x50, 0, 0], 1)).toBeUndefined(); // jmp far [0x5000]
    expect(m.c.mode).toBe(32);
    m.c.run(1);
    expect([m.c.mode, m.c.rip]).toEqual([64, CODE + 0x200]);
  });

  it('long mode: CALL through a 64-bit gate from ring 3 switches to RSP0 with a null SS; RETFQ returns', () => {
    const m = machine({ long: true });
    toUser(m);
    m.put32(TSS + 8, 0); // RSP0 bits 63:32 (the 32-bit tests' SS0 lives there)
    m.c.setReg64(4, STACK3, 0);
    m.put32(0x5000, 0);
    m.put32(0x5004, GATE64);
    m.mem.writeBytes(CODE + 0xa00, Uint8Array.from([0x48, 0xcb])); // retfq
    expect(m.run([0xff, 0x1c, 0x25, 0, 0x50, 0, 0], 1)).toBeUndefined(); // call far [0x5000]
    expect([m.c.cpl, m.c.segSel[1], m.c.segSel[2], m.c.rip, m.c.reg32(4)]).toEqual([0, K_CODE64, 0, CODE + 0xa00, STACK0 - 32]);
    expect([0, 8, 16, 24].map((k) => m.get32(STACK0 - 32 + k))).toEqual([CODE + 7, U_CODE64, STACK3, U_DATA]);
    m.c.run(1);
    expect([m.c.cpl, m.c.segSel[1], m.c.segSel[2], m.c.rip, m.c.reg32(4), m.c.mode]).toEqual([3, U_CODE64, U_DATA, CODE + 7, STACK3, 64]);
  });

  it('long mode: legacy gates are #GP(sel)', () => {
    const m = machine({ long: true });
    m.put32(0x5000, 0);
    m.put32(0x5004, GATE16);
    expect(m.run([0xff, 0x1c, 0x25, 0, 0x50, 0, 0])).toMatchObject(fault(GP, GATE16));
  });
});

describe('descriptor-table instructions (SDM LLDT, LTR, SLDT, STR, LAR, LSL, VERR, VERW, ARPL)', () => {
  it('LTR loads an available TSS and marks it busy; a busy one, or at CPL 3, faults', () => {
    const m = machine();
    m.c.trSel = 0;
    expect(m.run([...movAx(TSS_SEL), 0x0f, 0x00, 0xd8])).toBeUndefined(); // ltr ax
    expect(m.c.trSel).toBe(TSS_SEL);
    expect((m.get32(GDT + TSS_SEL + 4) >>> 8) & 0xf).toBe(11);
    expect(m.run([...movAx(TSS_SEL), 0x0f, 0x00, 0xd8])).toMatchObject(fault(GP, TSS_SEL));
    expect(m.run([...movAx(0), 0x0f, 0x00, 0xd8])).toMatchObject(fault(GP, 0));
    expect(m.run([0x0f, 0x00, 0xc8])).toBeUndefined(); // str eax
    expect(m.c.reg32(0)).toBe(TSS_SEL);
    toUser(m);
    expect(m.run([0x0f, 0x00, 0xd8])).toMatchObject(fault(GP, 0));
  });

  it('LTR in long mode reads a 16-byte descriptor', () => {
    const m = machine({ long: true });
    m.put32(GDT + TSS64_SEL + 8, 0x1);
    expect(m.run([...movAx(TSS64_SEL), 0x0f, 0x00, 0xd8])).toBeUndefined();
    expect(m.c.trBase).toBe(0x100000000 + TSS);
    m.put32(GDT + TSS64_SEL + 12, 0x900);
    expect(m.run([...movAx(TSS64_SEL), 0x0f, 0x00, 0xd8])).toMatchObject(fault(GP, TSS64_SEL));
  });

  it('LLDT loads an LDT whose selectors then load; a non-LDT descriptor is #GP(sel)', () => {
    const m = machine();
    expect(m.run([...movAx(LDT_SEL), 0x0f, 0x00, 0xd0])).toBeUndefined(); // lldt ax
    expect([m.c.ldtrSel, m.c.ldtrBase, m.c.ldtrLimit]).toEqual([LDT_SEL, LDT, 0x17]);
    toUser(m);
    expect(m.run([...movAx(0x0f), ...movDsAx])).toBeUndefined();
    expect(m.c.segBase[3]).toBe(0x30000);
    const k = machine();
    expect(k.run([...movAx(K_DATA), 0x0f, 0x00, 0xd0])).toMatchObject(fault(GP, K_DATA));
    expect(k.run([0x0f, 0x00, 0xc0])).toBeUndefined(); // sldt eax
    expect(k.c.reg32(0)).toBe(0);
  });

  it('LAR and LSL: access rights and limit with ZF = 1, or ZF = 0 and the register kept', () => {
    const m = machine();
    m.c.setReg32(1, SMALL);
    expect(m.run([0x0f, 0x02, 0xc1])).toBeUndefined(); // lar eax, ecx
    expect(m.c.getFlags() & 0x40).toBe(0x40);
    expect(m.c.reg32(0) >>> 0).toBe((m.get32(GDT + SMALL + 4) & 0x00f0ff00) >>> 0);
    expect(m.run([0x0f, 0x03, 0xc1])).toBeUndefined(); // lsl eax, ecx
    expect(m.c.reg32(0)).toBe(0xfff);
    m.c.setReg32(1, GATE32);
    expect(m.run([0x0f, 0x02, 0xc1])).toBeUndefined();
    expect(m.c.getFlags() & 0x40).toBe(0x40); // call gates are valid for LAR
    m.c.setReg32(0, 5);
    expect(m.run([0x0f, 0x03, 0xc1])).toBeUndefined();
    expect(m.c.getFlags() & 0x40).toBe(0); // but have no limit for LSL
    expect(m.c.reg32(0)).toBe(5);
    toUser(m);
    m.c.setReg32(1, K_DATA);
    expect(m.run([0x0f, 0x03, 0xc1])).toBeUndefined();
    expect(m.c.getFlags() & 0x40).toBe(0); // DPL 0 < CPL 3
    m.c.setReg32(1, CONFORM);
    expect(m.run([0x0f, 0x03, 0xc1])).toBeUndefined();
    expect(m.c.getFlags() & 0x40).toBe(0x40); // conforming code is visible
  });

  it('VERR/VERW: readable/writable at this CPL, not-present segments included', () => {
    const m = machine();
    const ver = (sel: number, w: boolean): number => {
      m.c.setReg32(1, sel);
      expect(m.run([0x0f, 0x00, w ? 0xe9 : 0xe1])).toBeUndefined();
      return (m.c.getFlags() >> 6) & 1;
    };
    expect([ver(K_DATA, false), ver(K_DATA, true), ver(RODATA, true), ver(XONLY, false), ver(CONFORM, false), ver(ABSENT, true), ver(0, false), ver(TSS_SEL, false)]).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
  });

  it('ARPL raises the RPL and sets ZF', () => {
    const m = machine();
    m.c.setReg32(0, 0x10);
    m.c.setReg32(1, 0x3);
    expect(m.run([0x63, 0xc8])).toBeUndefined(); // arpl ax, cx
    expect([m.c.reg32(0), (m.c.getFlags() >> 6) & 1]).toEqual([0x13, 1]);
    expect(m.run([0x63, 0xc8])).toBeUndefined();
    expect([m.c.reg32(0), (m.c.getFlags() >> 6) & 1]).toEqual([0x13, 0]);
  });
});

describe('port I/O and the I/O permission bitmap (SDM vol. 1 §19.5)', () => {
  it('at CPL <= IOPL ports go to the hooks', () => {
    const m = machine({ ports: new Map([[0x60, 0xab]]) });
    expect(m.run([0xe4, 0x60, 0x66, 0xba, 0xf8, 0x03, 0xee], 3)).toBeUndefined(); // in al, 0x60; mov dx, 0x3f8; out dx, al
    expect(m.io).toEqual(['in 60/1', 'out 3f8/1=ab']);
    expect(m.c.reg8(0)).toBe(0xab);
  });

  it('at CPL > IOPL every bit for the ports must be clear in the bitmap; beyond the TSS limit is #GP(0)', () => {
    const m = machine();
    toUser(m);
    m.mem.writeBytes(TSS + IOMAP + (0x3f8 >> 3), Uint8Array.of(0x00, 0xfe)); // ports 0x3f8-0x400 allowed
    m.c.setReg32(2, 0x3f8);
    expect(m.run([0xed])).toBeUndefined(); // in eax, dx (0x3f8-0x3fb)
    m.c.setReg32(2, 0x3fe);
    expect(m.run([0x66, 0xed])).toBeUndefined(); // in ax, dx (0x3fe-0x3ff)
    expect(m.run([0xed])).toMatchObject(fault(GP, 0)); // 0x3fe-0x401: 0x401 denied
    m.c.trLimit = IOMAP + (0x3f8 >> 3);
    m.c.setReg32(2, 0x3f8);
    expect(m.run([0xec])).toMatchObject(fault(GP, 0)); // the second byte is beyond the limit
    m.c.setFlags(m.c.getFlags() | 0x3000);
    expect(m.run([0xec])).toBeUndefined(); // IOPL 3
    expect(m.io).toEqual(['in 3f8/4', 'in 3fe/2', 'in 3f8/1']);
  });

  it('REP INS and REP OUTS move rCX elements in the DF direction', () => {
    const m = machine();
    m.c.setReg32(2, 0x80);
    m.c.setReg32(7, 0x6000);
    m.c.setReg32(1, 3);
    expect(m.run([0xf3, 0x66, 0x6d])).toBeUndefined(); // rep insw
    expect([m.c.reg32(7), m.c.reg32(1), m.get16(0x6000), m.get16(0x6004)]).toEqual([0x6006, 0, 0x5678, 0x5678]);
    m.c.setFlags(m.c.getFlags() | 0x400);
    m.c.setReg32(6, 0x6004);
    m.c.setReg32(1, 2);
    m.io.length = 0;
    expect(m.run([0xf3, 0x6e])).toBeUndefined(); // rep outsb, backwards
    expect(m.io).toEqual(['out 80/1=78', 'out 80/1=56']);
    expect(m.c.reg32(6)).toBe(0x6002);
  });

  it('a non-system CPU raises #GP(0) for IN and OUT', () => {
    const mem = new FlatMemory();
    mem.map(0x1000, 0x1000, PROT_R | PROT_X);
    mem.writeBytes(0x1000, Uint8Array.from([0xec]));
    let f: Fault | undefined;
    const c = new Cpu(mem, { exception: (cc, e) => { f = e; cc.stopRequested = true; } });
    c.rip = 0x1000;
    c.run(1);
    expect(f).toMatchObject(fault(GP, 0));
  });
});
