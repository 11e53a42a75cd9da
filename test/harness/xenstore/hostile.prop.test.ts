/**
 * Hostile guests against xenstored: random bytes and random (often malformed) messages from one
 * domain, and random ring indices in its page, never make the daemon throw, never touch another
 * domain's nodes, and never stop the other domain's service. Seeded by the run.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EVTCHNOP_send } from '../../../abi/public/event-channel.js';
import { __HYPERVISOR_event_channel_op } from '../../../abi/public/xen.js';
import { XenStore } from '../../../harness/xenstore/host.js';
import { XenStoreRing } from '../../../harness/xenstore/ring.js';
import { XS_READ, XS_WRITE, encodeMessage, strings } from '../../../harness/xenstore/wire.js';
import { pvDomain } from '../../abi/pv-domain.js';
import { show, world } from './helpers.js';

const message = fc.record({
  type: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.constant(0xffff), fc.nat()),
  reqId: fc.nat(),
  txId: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 }), fc.nat()),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.array(fc.constantFrom('/local/domain/1/secret', '/local/domain/2/x', 'x', '@releaseDomain', 'n2', 'b2', 'T', '1', '', '/', 'a//b'), { maxLength: 4 }).map((a) => strings(...a)),
  ),
});

describe('hostile domains', () => {
  it('garbage and malformed messages from domain 2: no throw, domain 1 untouched and still served', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(message.map((m) => encodeMessage(m)), fc.uint8Array({ maxLength: 40 })), { maxLength: 30 }), (chunks) => {
        const { xs, dom } = world([1, 2]);
        const [d1, d2] = [dom.get(1)!, dom.get(2)!];
        d1.ask(XS_WRITE, 'secret\0', 'mine');
        xs.host.setPerms('/local/domain/1/secret', ['n1']);
        const before = xs.host.getPerms('/local/domain/1/secret');
        for (const c of chunks) d2.sendRaw(c);
        expect(xs.host.read('/local/domain/1/secret')).toBe('mine');
        expect(xs.host.getPerms('/local/domain/1/secret')).toEqual(before);
        expect(xs.host.directory('/local/domain/1')).toEqual(['secret']);
        expect(show(d1.request(XS_READ, strings('secret')))).toBe('mine');
        d1.ask(XS_WRITE, 'after\0', 'ok');
        expect(xs.host.read('/local/domain/1/after')).toBe('ok');
      }),
      { numRuns: 200 },
    );
  });

  it('random ring indices in a real page: the ring is dropped or served, nothing else is touched', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ reqProd: fc.nat(), reqCons: fc.nat(), rspCons: fc.nat(), rspProd: fc.nat(), fill: fc.uint8Array({ minLength: 0, maxLength: 64 }) }), { minLength: 1, maxLength: 5 }),
        (steps) => {
          const xs = new XenStore({ domainExists: (d) => d <= 2 });
          const p = pvDomain();
          const sharedInfo = new DataView(new ArrayBuffer(4096));
          p.xen.addEvents(p.d, sharedInfo);
          const port = p.d.evtchn!.allocUnbound(1, 0);
          const page = p.mem.view(p.p2m[0x12000 / 4096]!);
          const ring = new XenStoreRing({ events: p.xen.events, domain: p.d, page, port, service: () => xs.pump() });
          xs.host.write('/local/domain/2/keep', 'v');
          xs.introduce(1, 1, port, ring);
          const pageCopyAround = p.mem.view(p.p2m[0x13000 / 4096]!);
          const other = new Uint8Array(pageCopyAround.buffer.slice(pageCopyAround.byteOffset, pageCopyAround.byteOffset + 4096));
          for (const s of steps) {
            for (let i = 0; i < s.fill.length; i++) page.setUint8((s.reqCons + i) & 1023, s.fill[i]!);
            page.setUint32(2048, s.reqCons >>> 0, true);
            page.setUint32(2052, s.reqProd >>> 0, true);
            page.setUint32(2056, s.rspCons >>> 0, true);
            page.setUint32(2060, s.rspProd >>> 0, true);
            const arg = new Uint8Array(4);
            new DataView(arg.buffer).setUint32(0, port, true);
            p.write(0x10000, arg);
            expect(p.call(__HYPERVISOR_event_channel_op, EVTCHNOP_send, 0x10000)).toBe(0);
          }
          expect(xs.host.read('/local/domain/2/keep')).toBe('v');
          const after = new Uint8Array(pageCopyAround.buffer.slice(pageCopyAround.byteOffset, pageCopyAround.byteOffset + 4096));
          expect(after).toEqual(other);
          if (ring.broken !== undefined) expect(page.getUint32(2072, true)).toBeGreaterThan(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
