/**
 * event_channel_op (32) and the legacy event_channel_op_compat (16): argument marshalling for
 * evtchn/channels.ts, which holds the semantics. FIFO operations answer -ENOSYS, so Linux falls
 * back to the 2-level ABI (reference §5.2).
 */
import { DOMID_SELF, type EventChannels } from '../evtchn/channels.js';
import { View } from '../layout/view.js';
import * as E from '../public/event-channel.js';
import { XEN_EFAULT, XEN_ENOSYS, XEN_EPERM, XEN_ESRCH } from '../public/errno.js';
import { layout } from '../public/index.js';
import { cmdOf, type Handler, type HypercallContext } from './context.js';

const L = {
  alloc: layout('evtchn_alloc_unbound', 'x86_64'),
  inter: layout('evtchn_bind_interdomain', 'x86_64'),
  virq: layout('evtchn_bind_virq', 'x86_64'),
  ipi: layout('evtchn_bind_ipi', 'x86_64'),
  close: layout('evtchn_close', 'x86_64'),
  send: layout('evtchn_send', 'x86_64'),
  status: layout('evtchn_status', 'x86_64'),
  vcpu: layout('evtchn_bind_vcpu', 'x86_64'),
  unmask: layout('evtchn_unmask', 'x86_64'),
  reset: layout('evtchn_reset', 'x86_64'),
};

const NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(E).filter(([k, v]) => k.startsWith('EVTCHNOP_') && typeof v === 'number').map(([k, v]) => [v as number, k]),
);

/** The event channels of the calling domain (set up with the domain). */
export type ChannelsOf = (ctx: HypercallContext) => EventChannels;

export function eventChannelOp(channelsOf: ChannelsOf): Handler {
  return (ctx) => op(ctx, channelsOf(ctx), cmdOf(ctx, 1), ctx.arg(2));
}

/** event_channel_op_compat(struct evtchn_op *): {u32 cmd; union u @4}. */
export function eventChannelOpCompat(channelsOf: ChannelsOf): Handler {
  return (ctx) => {
    const b = new Uint8Array(4);
    if (!ctx.mem.read(ctx.arg(1), b)) return -XEN_EFAULT;
    const cmd = new DataView(b.buffer).getUint32(0, true);
    return op(ctx, channelsOf(ctx), cmd, ctx.arg(1) + 4);
  };
}

function op(ctx: HypercallContext, ec: EventChannels, cmd: number, at: number): number {
  ctx.subop(NAMES[cmd] ?? `EVTCHNOP ${cmd}`);
  const m = ctx.mem;
  switch (cmd) {
    case E.EVTCHNOP_alloc_unbound: {
      const a = View.copyIn(L.alloc, m, at);
      if (a === undefined) return -XEN_EFAULT;
      const p = ec.allocUnbound(a.get('dom'), a.get('remote_dom'));
      if (p < 0) return p;
      a.set('port', p);
      return a.copyOut(m, at) ? 0 : -XEN_EFAULT;
    }
    case E.EVTCHNOP_bind_interdomain: {
      const a = View.copyIn(L.inter, m, at);
      if (a === undefined) return -XEN_EFAULT;
      const p = ec.bindInterdomain(a.get('remote_dom'), a.get('remote_port'));
      if (p < 0) return p;
      a.set('local_port', p);
      return a.copyOut(m, at) ? 0 : -XEN_EFAULT;
    }
    case E.EVTCHNOP_bind_virq: {
      const a = View.copyIn(L.virq, m, at);
      if (a === undefined) return -XEN_EFAULT;
      const p = ec.bindVirq(a.get('virq'), a.get('vcpu'));
      if (p < 0) return p;
      a.set('port', p);
      return a.copyOut(m, at) ? 0 : -XEN_EFAULT;
    }
    case E.EVTCHNOP_bind_ipi: {
      const a = View.copyIn(L.ipi, m, at);
      if (a === undefined) return -XEN_EFAULT;
      const p = ec.bindIpi(a.get('vcpu'));
      if (p < 0) return p;
      a.set('port', p);
      return a.copyOut(m, at) ? 0 : -XEN_EFAULT;
    }
    case E.EVTCHNOP_bind_pirq:
      return -XEN_EPERM;
    case E.EVTCHNOP_close: {
      const a = View.copyIn(L.close, m, at);
      return a === undefined ? -XEN_EFAULT : ec.close(a.get('port'));
    }
    case E.EVTCHNOP_send: {
      const a = View.copyIn(L.send, m, at);
      return a === undefined ? -XEN_EFAULT : ec.send(a.get('port'));
    }
    case E.EVTCHNOP_status: {
      const a = View.copyIn(L.status, m, at);
      if (a === undefined) return -XEN_EFAULT;
      const dom = a.get('dom');
      if (dom !== DOMID_SELF && dom !== ec.domid) return ec.domainExists(dom) ? -XEN_EPERM : -XEN_ESRCH;
      const s = ec.status(a.get('port'));
      if (typeof s === 'number') return s;
      a.set('status', s.status);
      a.set('vcpu', s.vcpu);
      if (s.status === 1) a.set('u.unbound.dom', s.a);
      else if (s.status === 2) {
        a.set('u.interdomain.dom', s.a);
        a.set('u.interdomain.port', s.b);
      } else if (s.status === 4) a.set('u.virq', s.a);
      return a.copyOut(m, at) ? 0 : -XEN_EFAULT;
    }
    case E.EVTCHNOP_bind_vcpu: {
      const a = View.copyIn(L.vcpu, m, at);
      return a === undefined ? -XEN_EFAULT : ec.bindVcpu(a.get('port'), a.get('vcpu'));
    }
    case E.EVTCHNOP_unmask: {
      const a = View.copyIn(L.unmask, m, at);
      return a === undefined ? -XEN_EFAULT : ec.unmask(a.get('port'));
    }
    case E.EVTCHNOP_reset: {
      const a = View.copyIn(L.reset, m, at);
      if (a === undefined) return -XEN_EFAULT;
      const dom = a.get('dom');
      if (dom !== DOMID_SELF && dom !== ec.domid) return -XEN_EPERM;
      return ec.reset();
    }
    case E.EVTCHNOP_init_control:
    case E.EVTCHNOP_expand_array:
    case E.EVTCHNOP_set_priority:
      return ec.fifo();
    default:
      return -XEN_ENOSYS;
  }
}
