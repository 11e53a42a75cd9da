/**
 * Event channels with the 2-level ABI (reference §5.1, §5.3, §5.4): per-domain port tables,
 * the Xen-wide hub that connects interdomain ports (guest domains and the host's own backends,
 * which appear as domain 0), and the exact "set pending" / unmask sequences on the bits in
 * shared_info. Operations return 0 or Xen's negated error, like the hypercalls they serve;
 * the hypercall layer (hypercall/event-channel.ts) only marshals arguments.
 */
import { XEN_EBUSY, XEN_EEXIST, XEN_EINVAL, XEN_ENOENT, XEN_ENOSPC, XEN_ENOSYS, XEN_EPERM, XEN_ESRCH } from '../public/errno.js';
import { layout } from '../public/index.js';

export const DOMID_SELF = 0x7ff0;
export const NR_VIRQS = 24;
/** Per-vCPU VIRQs (bound on each vCPU separately): TIMER, DEBUG, XENOPROF, XENPMU. */
const PER_VCPU_VIRQS = new Set([0, 1, 7, 13]);
/** Global VIRQs: owned by the control domain; a domU binding one gets -EBUSY (owned elsewhere). */
const GLOBAL_VIRQS = new Set([2, 3, 4, 6, 8, 9, 10, 12, 16]);

/** 2-level capacity for a 64-bit guest: 64 words of 64 bits. */
export const EVTCHN_2L_PORTS = 4096;
/** Ports per allocation bucket (Xen: a page of port structures; 64 here). */
const EVTCHNS_PER_BUCKET = 64;
/** libxl's default max_evtchn_port. */
export const DEFAULT_MAX_PORT = 1023;

export const enum PortState {
  Free = 0,
  Unbound = 1,
  Interdomain = 2,
  Pirq = 3,
  Virq = 4,
  Ipi = 5,
}

export interface Port {
  state: PortState;
  /** Unbound: the domain allowed to bind. Interdomain: the peer domain. */
  remoteDom: number;
  /** Interdomain: the peer port. */
  remotePort: number;
  /** Virq: which VIRQ. */
  virq: number;
  /** The vCPU this port notifies. */
  notifyVcpu: number;
}

/** Where a domain's pending/mask/selector bits live (its shared_info page) and how to wake a vCPU. */
export interface EventSink {
  /** shared_info, x86_64 layout (undefined until the domain has one). */
  readonly sharedInfo: DataView | undefined;
  readonly nrVcpus: number;
  /** The vCPU got a new upcall edge: wake it if blocked, look for the upcall. */
  kick(vcpu: number): void;
}

const SI = layout('shared_info', 'x86_64');
const PENDING = SI.field('evtchn_pending').offset;
const MASK = SI.field('evtchn_mask').offset;
const VCPU_INFO = SI.field('vcpu_info').offset;
const VI_SIZE = 64;
const VI_UPCALL_PENDING = 0;
const VI_PENDING_SEL = 8;

/** A host-side endpoint (a backend in the toolstack process) listening on a port of domain 0. */
export type HostListener = (port: number) => void;

export class EventHub {
  private readonly domains = new Map<number, EventChannels>();
  /** Host endpoints: domain 0's ports that a backend listens on. */
  readonly host = new EventChannels(0, this, { sharedInfo: undefined, nrVcpus: 1, kick: () => {} });
  private readonly listeners = new Map<number, HostListener>();

  constructor() {
    this.domains.set(0, this.host);
  }

  add(domid: number, sink: EventSink, maxPort = DEFAULT_MAX_PORT): EventChannels {
    const ec = new EventChannels(domid, this, sink, maxPort);
    this.domains.set(domid, ec);
    return ec;
  }

  remove(domid: number): void {
    const ec = this.domains.get(domid);
    if (ec === undefined || domid === 0) return;
    ec.reset();
    this.domains.delete(domid);
  }

  get(domid: number): EventChannels | undefined {
    return this.domains.get(domid);
  }

  /** A backend listens on host port `port` (sends from the guest call it). */
  listen(port: number, fn: HostListener): void {
    this.listeners.set(port, fn);
  }

  /** Called when a port of domain 0 becomes pending. */
  hostPending(port: number): void {
    this.listeners.get(port)?.(port);
  }
}

export class EventChannels {
  private readonly ports: Port[] = [];

  constructor(
    readonly domid: number,
    private readonly hub: EventHub,
    readonly sink: EventSink,
    readonly maxPort = DEFAULT_MAX_PORT,
  ) {}

  /**
   * Ports below this are "valid" in Xen's sense (port_is_valid): Xen allocates port structures
   * in buckets, the first at domain creation, so a free port in an allocated bucket is valid
   * (EVTCHNOP_unmask of it succeeds; close and send find it free and say -EINVAL).
   */
  private validLimit = EVTCHNS_PER_BUCKET;

  /** The port record (a free one for a valid, unallocated port), or undefined for an invalid port. */
  port(p: number): Port | undefined {
    if (!Number.isInteger(p) || p < 0 || p >= this.validLimit) return undefined;
    return (this.ports[p] ??= freePort());
  }

  /** Whether `dom` (DOMID_SELF allowed) names an existing domain. */
  domainExists(dom: number): boolean {
    return this.resolve(dom) !== undefined;
  }

  /** Ports in use (not free; port 0 is reserved and never in use). */
  boundPorts(): number[] {
    const out: number[] = [];
    this.ports.forEach((r, p) => {
      if (r !== undefined && r.state !== PortState.Free) out.push(p);
    });
    return out;
  }

  private alloc(): number {
    for (let p = 1; p <= Math.min(this.maxPort, EVTCHN_2L_PORTS - 1); p++) {
      const r = this.ports[p];
      if (r === undefined || r.state === PortState.Free) {
        this.ports[p] = freePort();
        this.validLimit = Math.max(this.validLimit, (Math.floor(p / EVTCHNS_PER_BUCKET) + 1) * EVTCHNS_PER_BUCKET);
        return p;
      }
    }
    return -XEN_ENOSPC;
  }

  private resolve(dom: number): EventChannels | undefined {
    return this.hub.get(dom === DOMID_SELF ? this.domid : dom);
  }

  // ---- operations (results are 0/port or -errno) --------------------------------------------------

  /** EVTCHNOP_alloc_unbound: a port in this domain that `remoteDom` may bind to. */
  allocUnbound(dom: number, remoteDom: number): number {
    if (dom !== DOMID_SELF && dom !== this.domid) return -XEN_EPERM;
    const remote = this.resolve(remoteDom);
    if (remote === undefined) return -XEN_ESRCH;
    const p = this.alloc();
    if (p < 0) return p;
    const r = this.ports[p] as Port;
    r.state = PortState.Unbound;
    r.remoteDom = remote.domid;
    return p;
  }

  /** EVTCHNOP_bind_interdomain: connect to `remotePort` of `remoteDom`; the new port is set pending. */
  bindInterdomain(remoteDom: number, remotePort: number): number {
    const remote = this.resolve(remoteDom);
    if (remote === undefined) return -XEN_ESRCH;
    const rp = remote.port(remotePort);
    if (rp === undefined || rp.state !== PortState.Unbound || rp.remoteDom !== this.domid) return -XEN_EINVAL;
    const p = this.alloc();
    if (p < 0) return p;
    const r = this.ports[p] as Port;
    r.state = PortState.Interdomain;
    r.remoteDom = remote.domid;
    r.remotePort = remotePort;
    rp.state = PortState.Interdomain;
    rp.remoteDom = this.domid;
    rp.remotePort = p;
    this.setPending(p);
    return p;
  }

  /** A host backend (domain 0) binds to a guest's unbound port, as a backend driver does. */
  hostBind(guestPort: number): number {
    const guest = this;
    return this.hub.host.bindInterdomain(guest.domid, guestPort);
  }

  /** EVTCHNOP_bind_virq. */
  bindVirq(virq: number, vcpu: number): number {
    if (!Number.isInteger(virq) || virq < 0 || virq >= NR_VIRQS) return -XEN_EINVAL;
    if (GLOBAL_VIRQS.has(virq) && this.domid !== 0) return -XEN_EBUSY;
    if (!PER_VCPU_VIRQS.has(virq) && vcpu !== 0) return -XEN_EINVAL;
    if (vcpu < 0 || vcpu >= this.sink.nrVcpus) return -XEN_ENOENT;
    if (this.virqPort(virq, vcpu) !== 0) return -XEN_EEXIST;
    const p = this.alloc();
    if (p < 0) return p;
    const r = this.ports[p] as Port;
    r.state = PortState.Virq;
    r.virq = virq;
    r.notifyVcpu = vcpu;
    return p;
  }

  /** The port VIRQ `virq` of `vcpu` is bound to, or 0. */
  virqPort(virq: number, vcpu: number): number {
    for (let p = 1; p < this.ports.length; p++) {
      const r = this.ports[p];
      if (r !== undefined && r.state === PortState.Virq && r.virq === virq && r.notifyVcpu === vcpu) return p;
    }
    return 0;
  }

  /** Raises VIRQ `virq` on `vcpu` (the timer, the debug key): nothing if unbound. */
  raiseVirq(virq: number, vcpu: number): void {
    const p = this.virqPort(virq, PER_VCPU_VIRQS.has(virq) ? vcpu : 0);
    if (p !== 0) this.setPending(p);
  }

  /** EVTCHNOP_bind_ipi. */
  bindIpi(vcpu: number): number {
    if (vcpu < 0 || vcpu >= this.sink.nrVcpus) return -XEN_ENOENT;
    const p = this.alloc();
    if (p < 0) return p;
    const r = this.ports[p] as Port;
    r.state = PortState.Ipi;
    r.notifyVcpu = vcpu;
    return p;
  }

  /** EVTCHNOP_bind_vcpu: per-vCPU VIRQs and IPIs cannot move. */
  bindVcpu(port: number, vcpu: number): number {
    const r = this.port(port);
    if (r === undefined || r.state === PortState.Free) return -XEN_EINVAL;
    if (vcpu < 0 || vcpu >= this.sink.nrVcpus) return -XEN_ENOENT;
    if (r.state === PortState.Ipi || (r.state === PortState.Virq && PER_VCPU_VIRQS.has(r.virq))) return -XEN_EINVAL;
    r.notifyVcpu = vcpu;
    return 0;
  }

  /** EVTCHNOP_close: an interdomain peer goes back to unbound (waiting for this domain again). */
  close(port: number): number {
    const r = this.port(port);
    if (r === undefined || r.state === PortState.Free) return -XEN_EINVAL;
    if (r.state === PortState.Interdomain) {
      const remote = this.hub.get(r.remoteDom);
      const rp = remote?.port(r.remotePort);
      if (rp !== undefined && rp.state === PortState.Interdomain && rp.remoteDom === this.domid) {
        rp.state = PortState.Unbound;
        rp.remoteDom = this.domid;
        rp.remotePort = 0;
      }
    }
    this.ports[port] = freePort();
    this.clearPending(port);
    return 0;
  }

  /** EVTCHNOP_send. */
  send(port: number): number {
    const r = this.port(port);
    if (r === undefined || r.state === PortState.Free) return -XEN_EINVAL;
    switch (r.state) {
      case PortState.Interdomain: {
        const remote = this.hub.get(r.remoteDom);
        remote?.setPending(r.remotePort);
        return 0;
      }
      case PortState.Ipi:
        this.setPending(port);
        return 0;
      case PortState.Unbound:
        return 0; // dropped silently
      default:
        return -XEN_EINVAL;
    }
  }

  /** EVTCHNOP_status (of this domain's port). */
  status(port: number): { status: number; vcpu: number; a: number; b: number } | number {
    const r = this.port(port);
    if (r === undefined) return -XEN_EINVAL;
    switch (r.state) {
      case PortState.Free:
        return { status: 0, vcpu: r.notifyVcpu, a: 0, b: 0 };
      case PortState.Unbound:
        return { status: 1, vcpu: r.notifyVcpu, a: r.remoteDom, b: 0 };
      case PortState.Interdomain:
        return { status: 2, vcpu: r.notifyVcpu, a: r.remoteDom, b: r.remotePort };
      case PortState.Virq:
        return { status: 4, vcpu: r.notifyVcpu, a: r.virq, b: 0 };
      case PortState.Ipi:
        return { status: 5, vcpu: r.notifyVcpu, a: 0, b: 0 };
      default:
        return { status: 3, vcpu: r.notifyVcpu, a: 0, b: 0 };
    }
  }

  /** EVTCHNOP_unmask: clear the mask; a pending edge that arrived while masked is raised now. */
  unmask(port: number): number {
    const r = this.port(port);
    if (r === undefined) return -XEN_EINVAL;
    const si = this.sink.sharedInfo;
    if (si === undefined) return 0;
    const wasMasked = testAndClear(si, MASK, port);
    if (wasMasked && testBit(si, PENDING, port)) this.markVcpuPending(r.notifyVcpu, port);
    return 0;
  }

  /** EVTCHNOP_reset / domain teardown: closes every port. */
  reset(): number {
    for (const p of this.boundPorts()) this.close(p);
    return 0;
  }

  /** FIFO operations: not offered (Linux falls back to 2-level). */
  fifo(): number {
    return -XEN_ENOSYS;
  }

  // ---- the bits ----------------------------------------------------------------------------------------

  /** Xen's set-pending sequence for `port` (reference §5.1). */
  setPending(port: number): void {
    if (this.domid === 0) {
      this.hub.hostPending(port);
      return;
    }
    const si = this.sink.sharedInfo;
    const r = this.ports[port];
    if (si === undefined || r === undefined) return;
    if (testAndSet(si, PENDING, port)) return;
    if (!testBit(si, MASK, port)) this.markVcpuPending(r.notifyVcpu, port);
  }

  private markVcpuPending(vcpu: number, port: number): void {
    const si = this.sink.sharedInfo;
    if (si === undefined || vcpu >= 32) return;
    const vi = VCPU_INFO + vcpu * VI_SIZE;
    if (testAndSet(si, vi + VI_PENDING_SEL, port >>> 6)) return;
    const was = si.getUint8(vi + VI_UPCALL_PENDING);
    si.setUint8(vi + VI_UPCALL_PENDING, 1);
    if (was === 0) this.sink.kick(vcpu);
  }

  private clearPending(port: number): void {
    const si = this.sink.sharedInfo;
    if (si === undefined) return;
    const a = PENDING + (port >>> 3);
    si.setUint8(a, si.getUint8(a) & ~(1 << (port & 7)));
  }
}

function freePort(): Port {
  return { state: PortState.Free, remoteDom: 0, remotePort: 0, virq: 0, notifyVcpu: 0 };
}

function testBit(dv: DataView, base: number, bit: number): boolean {
  return (dv.getUint8(base + (bit >>> 3)) & (1 << (bit & 7))) !== 0;
}

function testAndSet(dv: DataView, base: number, bit: number): boolean {
  const a = base + (bit >>> 3);
  const v = dv.getUint8(a);
  const m = 1 << (bit & 7);
  dv.setUint8(a, v | m);
  return (v & m) !== 0;
}

function testAndClear(dv: DataView, base: number, bit: number): boolean {
  const a = base + (bit >>> 3);
  const v = dv.getUint8(a);
  const m = 1 << (bit & 7);
  dv.setUint8(a, v & ~m);
  return (v & m) !== 0;
}
