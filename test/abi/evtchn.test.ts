/**
 * Event channels, 2-level ABI (abi/evtchn/channels.ts) against the reference's §5: the port life
 * cycle between two domains and the host, the set-pending and unmask sequences on shared_info's
 * bits, the VIRQ rules, and a model-based property: any sequence of operations gives the same
 * results as a small reference model, keeps the bits consistent, and leaks no port.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DOMID_SELF, EventHub, PortState, type EventChannels } from '../../abi/evtchn/channels.js';
import { XEN_EBUSY, XEN_EEXIST, XEN_EINVAL, XEN_ENOENT, XEN_ENOSYS, XEN_EPERM, XEN_ESRCH } from '../../abi/public/errno.js';

const PENDING = 2048;
const MASK = 2560;

interface Dom {
  ec: EventChannels;
  si: DataView;
  kicks: number[];
}

function world(nrVcpus = 2): { hub: EventHub; a: Dom; b: Dom } {
  const hub = new EventHub();
  const mk = (id: number): Dom => {
    const si = new DataView(new ArrayBuffer(4096));
    const kicks: number[] = [];
    const ec = hub.add(id, { sharedInfo: si, nrVcpus, kick: (v) => kicks.push(v) });
    return { ec, si, kicks };
  };
  return { hub, a: mk(1), b: mk(2) };
}

const bit = (dv: DataView, base: number, p: number): boolean => (dv.getUint8(base + (p >>> 3)) & (1 << (p & 7))) !== 0;
const setBit = (dv: DataView, base: number, p: number, on: boolean): void => {
  const a = base + (p >>> 3);
  dv.setUint8(a, on ? dv.getUint8(a) | (1 << (p & 7)) : dv.getUint8(a) & ~(1 << (p & 7)));
};
const upcall = (d: Dom, v: number): number => d.si.getUint8(v * 64);
const sel = (d: Dom, v: number): bigint => d.si.getBigUint64(v * 64 + 8, true);

describe('event channels: ports between domains', () => {
  it('alloc_unbound, bind_interdomain (new port pending), send both ways, status, close', () => {
    const { a, b } = world();
    const pa = a.ec.allocUnbound(DOMID_SELF, 2);
    expect(pa).toBe(1);
    expect(a.ec.status(pa)).toEqual({ status: 1, vcpu: 0, a: 2, b: 0 });
    const pb = b.ec.bindInterdomain(1, pa);
    expect(pb).toBe(1);
    expect(bit(b.si, PENDING, pb)).toBe(true); // the local port is set pending after binding
    expect(upcall(b, 0)).toBe(1);
    expect(b.kicks).toEqual([0]);
    expect(a.ec.send(pa)).toBe(0);
    expect(bit(b.si, PENDING, pb)).toBe(true);
    expect(b.ec.send(pb)).toBe(0);
    expect(bit(a.si, PENDING, pa)).toBe(true);
    expect(sel(a, 0)).toBe(1n);
    expect(a.ec.status(pa)).toEqual({ status: 2, vcpu: 0, a: 2, b: pb });
    expect(b.ec.close(pb)).toBe(0);
    expect(a.ec.status(pa)).toEqual({ status: 1, vcpu: 0, a: 2, b: 0 });
    expect(a.ec.send(pa)).toBe(0); // unbound: dropped silently
    expect(b.ec.send(pb)).toBe(-XEN_EINVAL);
  });

  it('refuses what Xen refuses', () => {
    const { a, b } = world();
    expect(a.ec.allocUnbound(2, 1)).toBe(-XEN_EPERM);
    expect(a.ec.allocUnbound(DOMID_SELF, 9)).toBe(-XEN_ESRCH);
    expect(b.ec.bindInterdomain(9, 1)).toBe(-XEN_ESRCH);
    expect(b.ec.bindInterdomain(1, 5)).toBe(-XEN_EINVAL);
    const p = a.ec.allocUnbound(DOMID_SELF, 1); // for itself, not for domain 2
    expect(b.ec.bindInterdomain(1, p)).toBe(-XEN_EINVAL);
    expect(a.ec.bindVirq(24, 0)).toBe(-XEN_EINVAL);
    expect(a.ec.bindVirq(2, 0)).toBe(-XEN_EBUSY); // VIRQ_CONSOLE is global
    expect(a.ec.bindVirq(0, 5)).toBe(-XEN_ENOENT);
    const t = a.ec.bindVirq(0, 1);
    expect(t).toBeGreaterThan(0);
    expect(a.ec.bindVirq(0, 1)).toBe(-XEN_EEXIST);
    expect(a.ec.bindVcpu(t, 0)).toBe(-XEN_EINVAL); // per-vCPU VIRQs cannot move
    expect(a.ec.bindIpi(7)).toBe(-XEN_ENOENT);
    expect(a.ec.close(0)).toBe(-XEN_EINVAL);
    expect(a.ec.close(999)).toBe(-XEN_EINVAL);
    expect(a.ec.fifo()).toBe(-XEN_ENOSYS);
  });

  it('a masked port stays quiet until EVTCHNOP_unmask, which raises the edge on the notify vCPU', () => {
    const { a } = world();
    const p = a.ec.bindIpi(1);
    setBit(a.si, MASK, p, true);
    expect(a.ec.send(p)).toBe(0);
    expect(bit(a.si, PENDING, p)).toBe(true);
    expect(upcall(a, 1)).toBe(0);
    expect(a.ec.unmask(p)).toBe(0);
    expect(upcall(a, 1)).toBe(1);
    expect(sel(a, 1)).toBe(1n);
    expect(a.kicks).toEqual([1]);
  });

  it('VIRQ_TIMER raised on a vCPU pends its port; a host backend hears guest sends on its port', () => {
    const { hub, a } = world();
    const t = a.ec.bindVirq(0, 1);
    a.ec.raiseVirq(0, 1);
    expect(bit(a.si, PENDING, t)).toBe(true);
    expect(upcall(a, 1)).toBe(1);
    const gp = a.ec.allocUnbound(DOMID_SELF, 0);
    const hp = a.ec.hostBind(gp);
    const heard: number[] = [];
    hub.listen(hp, (port) => heard.push(port));
    a.ec.send(gp);
    expect(heard).toEqual([hp]);
    hub.host.send(hp);
    expect(bit(a.si, PENDING, gp)).toBe(true);
  });
});

// ---- model-based property ------------------------------------------------------------------------

type Op =
  | { k: 'alloc'; d: number; remote: number }
  | { k: 'bind'; d: number; remote: number; port: number }
  | { k: 'virq'; d: number; virq: number; vcpu: number }
  | { k: 'ipi'; d: number; vcpu: number }
  | { k: 'close'; d: number; port: number }
  | { k: 'send'; d: number; port: number }
  | { k: 'unmask'; d: number; port: number }
  | { k: 'mask'; d: number; port: number }
  | { k: 'vcpu'; d: number; port: number; vcpu: number };

const port = fc.integer({ min: 0, max: 8 });
const dom = fc.constantFrom(1, 2);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('alloc' as const), d: dom, remote: fc.constantFrom(1, 2, DOMID_SELF, 7) }),
  fc.record({ k: fc.constant('bind' as const), d: dom, remote: fc.constantFrom(1, 2, 7), port }),
  fc.record({ k: fc.constant('virq' as const), d: dom, virq: fc.constantFrom(0, 1, 2, 5, 24), vcpu: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ k: fc.constant('ipi' as const), d: dom, vcpu: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ k: fc.constant('close' as const), d: dom, port }),
  fc.record({ k: fc.constant('send' as const), d: dom, port }),
  fc.record({ k: fc.constant('unmask' as const), d: dom, port }),
  fc.record({ k: fc.constant('mask' as const), d: dom, port }),
  fc.record({ k: fc.constant('vcpu' as const), d: dom, port, vcpu: fc.integer({ min: 0, max: 2 }) }),
);

/** The reference model: a plain map of port records per domain, straight from §5.3. */
interface MPort {
  s: 'unbound' | 'inter' | 'virq' | 'ipi';
  rd: number;
  rp: number;
  virq: number;
  v: number;
}

class Model {
  readonly ports = new Map<number, Map<number, MPort>>([[1, new Map()], [2, new Map()]]);
  readonly pending = new Map<number, Set<number>>([[1, new Set()], [2, new Set()]]);
  readonly masked = new Map<number, Set<number>>([[1, new Set()], [2, new Set()]]);

  private free(d: number): number {
    const m = this.ports.get(d)!;
    for (let p = 1; ; p++) if (!m.has(p)) return p;
  }
  private exists(d: number): boolean {
    return d === 1 || d === 2;
  }
  apply(op: Op): number {
    const me = this.ports.get(op.d)!;
    switch (op.k) {
      case 'alloc': {
        const r = op.remote === DOMID_SELF ? op.d : op.remote;
        if (!this.exists(r)) return -XEN_ESRCH;
        const p = this.free(op.d);
        me.set(p, { s: 'unbound', rd: r, rp: 0, virq: 0, v: 0 });
        return p;
      }
      case 'bind': {
        if (!this.exists(op.remote)) return -XEN_ESRCH;
        const rp = this.ports.get(op.remote)!.get(op.port);
        if (rp === undefined || rp.s !== 'unbound' || rp.rd !== op.d || op.port === 0) return -XEN_EINVAL;
        const p = this.free(op.d);
        me.set(p, { s: 'inter', rd: op.remote, rp: op.port, virq: 0, v: 0 });
        rp.s = 'inter';
        rp.rd = op.d;
        rp.rp = p;
        this.pending.get(op.d)!.add(p);
        return p;
      }
      case 'virq': {
        if (op.virq >= 24) return -XEN_EINVAL;
        if (op.virq === 2) return -XEN_EBUSY;
        if (op.virq === 5 && op.vcpu !== 0) return -XEN_EINVAL;
        if (op.vcpu >= 2) return -XEN_ENOENT;
        for (const r of me.values()) if (r.s === 'virq' && r.virq === op.virq && r.v === op.vcpu) return -XEN_EEXIST;
        const p = this.free(op.d);
        me.set(p, { s: 'virq', rd: 0, rp: 0, virq: op.virq, v: op.vcpu });
        return p;
      }
      case 'ipi': {
        if (op.vcpu >= 2) return -XEN_ENOENT;
        const p = this.free(op.d);
        me.set(p, { s: 'ipi', rd: 0, rp: 0, virq: 0, v: op.vcpu });
        return p;
      }
      case 'close': {
        const r = me.get(op.port);
        if (r === undefined) return -XEN_EINVAL;
        if (r.s === 'inter') {
          const peer = this.ports.get(r.rd)!.get(r.rp)!;
          peer.s = 'unbound';
          peer.rd = op.d;
          peer.rp = 0;
        }
        me.delete(op.port);
        this.pending.get(op.d)!.delete(op.port);
        return 0;
      }
      case 'send': {
        const r = me.get(op.port);
        if (r === undefined) return -XEN_EINVAL;
        if (r.s === 'inter') this.pending.get(r.rd)!.add(r.rp);
        else if (r.s === 'ipi') this.pending.get(op.d)!.add(op.port);
        else if (r.s !== 'unbound') return -XEN_EINVAL;
        return 0;
      }
      case 'unmask':
        // Every port below 64 is valid (the first bucket), allocated or not.
        this.masked.get(op.d)!.delete(op.port);
        return 0;
      case 'mask':
        this.masked.get(op.d)!.add(op.port);
        return 0;
      case 'vcpu': {
        const r = me.get(op.port);
        if (r === undefined) return -XEN_EINVAL;
        if (op.vcpu >= 2) return -XEN_ENOENT;
        if (r.s === 'ipi' || (r.s === 'virq' && r.virq !== 5)) return -XEN_EINVAL;
        r.v = op.vcpu;
        return 0;
      }
    }
  }
}

function applyReal(w: ReturnType<typeof world>, op: Op): number {
  const d = op.d === 1 ? w.a : w.b;
  switch (op.k) {
    case 'alloc':
      return d.ec.allocUnbound(DOMID_SELF, op.remote);
    case 'bind':
      return d.ec.bindInterdomain(op.remote, op.port);
    case 'virq':
      return d.ec.bindVirq(op.virq, op.vcpu);
    case 'ipi':
      return d.ec.bindIpi(op.vcpu);
    case 'close':
      return d.ec.close(op.port);
    case 'send':
      return d.ec.send(op.port);
    case 'unmask':
      return d.ec.unmask(op.port);
    case 'mask':
      setBit(d.si, MASK, op.port, true);
      return 0;
    case 'vcpu':
      return d.ec.bindVcpu(op.port, op.vcpu);
  }
}

describe('event channels: model-based property', () => {
  it('any operation sequence matches the model, keeps the bits consistent and leaks no port', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const w = world();
        const model = new Model();
        for (const op of ops) {
          expect(applyReal(w, op), JSON.stringify(op)).toBe(model.apply(op));
        }
        for (const [id, d] of [[1, w.a], [2, w.b]] as const) {
          // Same ports, same states.
          const mp = model.ports.get(id)!;
          expect(d.ec.boundPorts()).toEqual([...mp.keys()].sort((x, y) => x - y));
          for (const [p, r] of mp) {
            const real = d.ec.port(p)!;
            const st = { unbound: PortState.Unbound, inter: PortState.Interdomain, virq: PortState.Virq, ipi: PortState.Ipi }[r.s];
            expect(real.state).toBe(st);
          }
          // Pending bits equal the model's; a pending, unmasked port has its selector and upcall set.
          for (let p = 1; p < 64; p++) {
            expect(bit(d.si, PENDING, p), `dom ${id} port ${p}`).toBe(model.pending.get(id)!.has(p));
            if (bit(d.si, PENDING, p) && !bit(d.si, MASK, p)) {
              const v = d.ec.port(p)?.notifyVcpu ?? 0;
              expect(sel(d, v) & 1n).toBe(1n);
              expect(upcall(d, v)).toBe(1);
            }
          }
        }
        // Teardown: nothing left bound anywhere, and the peers' interdomain ports are released.
        w.a.ec.reset();
        w.b.ec.reset();
        expect(w.a.ec.boundPorts()).toEqual([]);
        expect(w.b.ec.boundPorts()).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
