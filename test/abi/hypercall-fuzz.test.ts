/**
 * Hypercall fuzzing (issue 5, item 9): random hypercall numbers with random arguments — small
 * numbers, pointers into mapped guest memory full of random bytes, pointers to unmapped and
 * non-canonical addresses — never throw in the host; each returns a Xen error or a result, and
 * the same inputs on a fresh machine give the same result and the same guest memory.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Domain } from '../../abi/hv/domain.js';
import { Xen } from '../../abi/hv/xen.js';
import * as E from '../../abi/public/errno.js';
import { NO_RETURN, PvVcpu } from '../../abi/pv/vcpu.js';
import { TestRam } from '../support/ram.js';

const MiB = 1 << 20;
const DATA = 0x200000;
const ERRNOS = new Set(Object.entries(E).filter(([k, v]) => k.startsWith('XEN_E') && typeof v === 'number').map(([, v]) => v as number));

class Ram extends TestRam {
  constructor() {
    super(4 * MiB);
  }
}

function machine(data: Uint8Array): { xen: Xen; dom: Domain; v: PvVcpu; ram: Ram } {
  const ram = new Ram();
  const dv = new DataView(ram.buf);
  dv.setBigUint64(0x1000, 0x2000n | 7n, true);
  dv.setBigUint64(0x2000, 0x3000n | 7n, true);
  dv.setBigUint64(0x3000, 0x87n, true); // 0-2 MiB
  dv.setBigUint64(0x3008, BigInt(2 * MiB) | 0x87n, true); // 2-4 MiB: the argument area
  new Uint8Array(ram.buf, DATA, data.length).set(data);
  const features = new Set(['base', 'sse', 'sse2'] as const);
  const xen = new Xen(features);
  const dom = new Domain(1, 'fuzz');
  const v = new PvVcpu(0, ram, xen, features);
  xen.attach(v, dom);
  xen.addEvents(dom, new DataView(new ArrayBuffer(4096)));
  v.guestTable = 1;
  v.loadRoot();
  v.setReg(4, DATA + 0x10000);
  return { xen, dom, v, ram };
}

const argArb = fc.oneof(
  fc.nat({ max: 64 }),
  fc.integer({ min: DATA, max: DATA + 0x1fff }),
  fc.constantFrom(0, 0x7ffffffff000, 0x800000000000, -0x800000000000, 5 * MiB, -1),
);

describe('hypercall fuzzing', () => {
  it('never throws; answers a Xen error or a result; deterministic', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 63 }),
        fc.array(argArb, { minLength: 5, maxLength: 5 }),
        fc.uint8Array({ minLength: 0x2000, maxLength: 0x2000 }),
        (nr, args, data) => {
          const outcome = (): { r: number | string; mem: Buffer; state: string } => {
            const m = machine(data);
            [7, 6, 2, 10, 8].forEach((reg, k) => m.v.setReg(reg, args[k] ?? 0));
            m.v.setReg(0, nr);
            const r = m.xen.hypercall(m.v, nr);
            return { r: r === NO_RETURN ? 'no-return' : r, mem: Buffer.from(new Uint8Array(m.ram.buf, DATA, 0x2000)), state: JSON.stringify(m.dom.state) };
          };
          const a = outcome();
          if (typeof a.r === 'number' && a.r < 0) expect(ERRNOS.has(-a.r), `hypercall ${nr} returned ${a.r}`).toBe(true);
          const b = outcome();
          expect(b.r).toBe(a.r);
          expect(b.state).toBe(a.state);
          expect(b.mem.equals(a.mem)).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });
});
