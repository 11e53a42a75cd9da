/**
 * x86/exec/fx-image.ts against the CPU's own FXRSTOR64/FXSAVE64 (x87-env.ts): a random 512-byte
 * image loaded with `loadFxImage` on one CPU and with the FXRSTOR64 instruction on another gives
 * the same state, and `storeFxImage` writes what the FXSAVE64 instruction writes (bytes 0-415;
 * 416-511 are reserved or software's). An image with reserved MXCSR bits is refused by both
 * (the instruction's #GP(0)), changing nothing. Seeded by the run's seed (printed at the start).
 */
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { Cpu } from '../../x86/cpu.js';
import { loadFxImage, storeFxImage } from '../../x86/exec/fx-image.js';
import type { Fault } from '../../x86/fault.js';
import { FlatMemory, PROT_R, PROT_W, PROT_X } from '../../x86/flat-memory.js';
import type { Feature } from '../../x86/isa/types.js';

const CODE = 0x401000;
const DATA = 0x600000;
const FEATURES: Feature[] = ['base', 'fpu', 'fxsr', 'sse', 'sse2'];
/** fxrstor64 [rbx]; fxsave64 [rbx+0x200]. */
const RESTORE_SAVE = [0x48, 0x0f, 0xae, 0x0b, 0x48, 0x0f, 0xae, 0x83, 0x00, 0x02, 0x00, 0x00];

function cpuWith(image: Uint8Array): { c: Cpu; m: FlatMemory; fault: Fault | undefined } {
  const m = new FlatMemory();
  m.map(CODE, 4096, PROT_R | PROT_X);
  m.map(DATA, 4096, PROT_R | PROT_W);
  m.writeBytes(CODE, Uint8Array.from([...RESTORE_SAVE, 0x0f, 0x0b]));
  m.writeBytes(DATA, image);
  const end = CODE + RESTORE_SAVE.length;
  const box: { fault: Fault | undefined } = { fault: undefined };
  const c = new Cpu(m, {
    exception: (cpu, f) => {
      if (cpu.rip !== end) box.fault = f;
      cpu.stopRequested = true;
    },
  }, FEATURES);
  c.rip = CODE;
  c.setReg64(3, DATA, 0);
  c.run(1000);
  return { c, m, fault: box.fault };
}

function image(c: Cpu): Uint8Array {
  const b = new Uint8Array(512);
  storeFxImage(c, new DataView(b.buffer), 0);
  return b;
}

describe('FXSAVE images outside the guest', () => {
  it('loadFxImage is FXRSTOR64 and storeFxImage is FXSAVE64 (random images)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 512, maxLength: 512 }), fc.boolean(), (bytes, badMxcsr) => {
        const img = bytes.slice();
        const dv = new DataView(img.buffer);
        if (!badMxcsr) dv.setUint32(24, dv.getUint32(24, true) & 0xffff, true);
        const viaInsn = cpuWith(img);
        const direct = new Cpu(new FlatMemory(), {}, FEATURES);
        const before = image(direct);
        const ok = loadFxImage(direct, dv, 0, true);
        const refused = (dv.getUint32(24, true) & ~0xffff) !== 0;
        expect(ok).toBe(!refused);
        if (refused) {
          expect(viaInsn.fault?.vector).toBe(13);
          expect(image(direct)).toEqual(before);
          return;
        }
        expect(viaInsn.fault).toBeUndefined();
        const mine = image(direct);
        expect(mine).toEqual(image(viaInsn.c));
        expect(mine.subarray(0, 416)).toEqual(viaInsn.m.readBytes(DATA + 0x200, 416));
      }),
      { seed: inject('seed'), numRuns: 200 },
    );
  });

  it('32-bit pointers (FXRSTOR without REX.W): FIP and FDP are the low dwords', () => {
    const img = new Uint8Array(512);
    const dv = new DataView(img.buffer);
    dv.setUint16(0, 0x37f, true);
    dv.setUint32(24, 0x1f80, true);
    dv.setBigUint64(8, 0xffff800012345678n, true);
    dv.setBigUint64(16, 0x00007fff9abcdef0n, true);
    const c = new Cpu(new FlatMemory(), {}, FEATURES);
    expect(loadFxImage(c, dv, 0, false)).toBe(true);
    expect([c.fpu.fip, c.fpu.fdp]).toEqual([0x12345678, 0x9abcdef0]);
    expect(loadFxImage(c, dv, 0, true)).toBe(true);
    expect([c.fpu.fip, c.fpu.fdp]).toEqual([-0x7fffedcba988, 0x7fff9abcdef0]);
  });
});
