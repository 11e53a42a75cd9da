/**
 * Views against a byte-level model, over every integer field of every described type on both
 * architectures: a value written through a view reads back the same (modulo its width), lands
 * little-endian at the field's offset, and leaves every other byte alone; DataView and
 * GuestMemory backings agree.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Layout } from '../../abi/layout/compute.js';
import { BufferMemory } from '../../abi/layout/memory.js';
import { ARCHES } from '../../abi/layout/schema.js';
import { View } from '../../abi/layout/view.js';
import { LAYOUTS } from '../../abi/public/index.js';

const cases = ARCHES.flatMap((arch) => {
  const set = LAYOUTS[arch] as unknown as Readonly<Record<string, Layout>>;
  return Object.values(set).flatMap((l) => l.fields.filter((f) => f.kind === 'int').map((f) => ({ l, path: f.path, offset: f.offset, size: f.size, signed: f.signed })));
});

describe('View (property)', () => {
  it('covers every integer field', () => {
    expect(cases.length).toBeGreaterThan(1000);
  });

  it('writes exactly the field, little-endian, and reads it back', () => {
    fc.assert(
      fc.property(fc.constantFrom(...cases), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.uint8Array({ minLength: 1, maxLength: 1 }), (c, raw, fill) => {
        const bits = BigInt(c.size * 8);
        const value = BigInt.asUintN(Number(bits), raw);
        const before = new Uint8Array(c.l.size).fill(fill[0] ?? 0);
        const dv = new DataView(before.slice().buffer);
        const v = View.of(c.l, dv, 0);
        v.setBig(c.path, c.signed ? BigInt.asIntN(Number(bits), value) : value);
        const after = new Uint8Array(dv.buffer);
        for (let k = 0; k < c.l.size; k++) {
          const inField = k >= c.offset && k < c.offset + c.size;
          const expected = inField ? Number((value >> BigInt(8 * (k - c.offset))) & 0xffn) : before[k];
          if (after[k] !== expected) return false;
        }
        const back = BigInt.asUintN(Number(bits), v.getBig(c.path));
        const asNumber = v.get(c.path);
        const exact = c.signed ? BigInt.asIntN(Number(bits), value) : value;
        const mem = View.of(c.l, new BufferMemory(after.slice(), 0x4000), 0x4000);
        return (
          back === value &&
          asNumber === Number(exact) &&
          mem.get(c.path) === asNumber &&
          (BigInt(v.hi(c.path)) << 32n) + BigInt(v.lo(c.path)) === value
        );
      }),
    );
  });
});
