/**
 * An in-process L2 switch joining every vif (and the built-in gateway): MAC learning, flooding of
 * broadcast, multicast and unknown destinations, deterministic delivery.
 *
 *  - Ports are numbered in the order they attach; a flood goes to every other port in that order.
 *  - A frame is queued, not delivered inside `send`: `send` returns after the whole cascade
 *    (replies to replies...) has been delivered, breadth-first in send order, so a netback
 *    transmitting inside its guest's EVTCHNOP_send never re-enters itself, and the same inputs
 *    give the same deliveries in the same order. A cascade longer than MAX_CASCADE frames is
 *    cut (counted), so two ports answering each other forever cannot hang the host.
 *  - The learning table maps a source MAC to the last port it came from; it is bounded
 *    (MAX_MACS; the oldest entry goes) so a guest forging source addresses cannot grow it.
 *  - Runts (under 14 bytes) are dropped and counted.
 */
import type { NetFrame } from '../backends/netback.js';

export const MAX_MACS = 1024;
export const MAX_CASCADE = 10000;
const ETH_HLEN = 14;

export interface SwitchPort {
  readonly id: number;
  readonly name: string;
}

export interface SwitchStats {
  forwarded: number;
  flooded: number;
  dropped: number;
  cut: number;
}

interface Port extends SwitchPort {
  readonly deliver: (frame: NetFrame) => void;
  detached: boolean;
}

/** "aa:bb:cc:dd:ee:ff" of the 6 bytes at `off`. */
export function macString(b: Uint8Array, off = 0): string {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push((b[off + i] ?? 0).toString(16).padStart(2, '0'));
  return out.join(':');
}

export class Switch {
  private readonly ports: Port[] = [];
  /** MAC → port id; Map keeps insertion order, which is the eviction order. */
  private readonly table = new Map<string, number>();
  private readonly queue: { from: number; frame: NetFrame }[] = [];
  private delivering = false;
  readonly stats: SwitchStats = { forwarded: 0, flooded: 0, dropped: 0, cut: 0 };

  constructor(readonly name = 'xenbr0') {}

  /** Adds a port; `deliver` receives the frames switched to it. */
  attach(name: string, deliver: (frame: NetFrame) => void): SwitchPort {
    const p: Port = { id: this.ports.length, name, deliver, detached: false };
    this.ports.push(p);
    return { id: p.id, name };
  }

  /** Removes a port and forgets the MACs learnt on it. */
  detach(port: SwitchPort): void {
    const p = this.ports[port.id];
    if (p === undefined) return;
    p.detached = true;
    for (const [mac, id] of [...this.table]) if (id === port.id) this.table.delete(mac);
  }

  /** The port a MAC was last seen on. */
  lookup(mac: string): number | undefined {
    return this.table.get(mac);
  }

  /** A frame entering from `port`. Delivery (and whatever it causes) completes before return. */
  send(port: SwitchPort, frame: NetFrame): void {
    this.queue.push({ from: port.id, frame });
    if (this.delivering) return;
    this.delivering = true;
    try {
      let n = 0;
      while (this.queue.length > 0) {
        const q = this.queue.shift() as { from: number; frame: NetFrame };
        if (++n > MAX_CASCADE) {
          this.stats.cut += this.queue.length + 1;
          this.queue.length = 0;
          break;
        }
        this.forward(q.from, q.frame);
      }
    } finally {
      this.delivering = false;
    }
  }

  private forward(from: number, frame: NetFrame): void {
    const src = this.ports[from];
    if (src === undefined || src.detached || frame.data.length < ETH_HLEN) {
      this.stats.dropped++;
      return;
    }
    const d = frame.data;
    const srcMac = macString(d, 6);
    // Learn unicast sources only (a multicast source is bogus).
    if (((d[6] as number) & 1) === 0) {
      this.table.delete(srcMac);
      this.table.set(srcMac, from);
      if (this.table.size > MAX_MACS) this.table.delete(this.table.keys().next().value as string);
    }
    const group = ((d[0] as number) & 1) !== 0;
    const to = group ? undefined : this.table.get(macString(d, 0));
    if (to !== undefined) {
      const p = this.ports[to];
      if (to === from || p === undefined || p.detached) {
        this.stats.dropped++;
        return;
      }
      this.stats.forwarded++;
      p.deliver(frame);
      return;
    }
    this.stats.flooded++;
    for (const p of this.ports) if (p.id !== from && !p.detached) p.deliver(frame);
  }
}
