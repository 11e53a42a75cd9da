/**
 * The bare machine's I/O port space. Devices claim ranges of ports; an access goes to the device
 * owning its first port, with the port's offset in the range and the access size (a device
 * decides what a 2- or 4-byte access to its byte-wide registers means). Ports nobody claims
 * behave as on a PC with nothing decoding them: reads return all ones, writes are dropped.
 */

export type IoSize = 1 | 2 | 4;

export interface IoDevice {
  /** Short name, for diagnostics and `--stats`. */
  readonly name: string;
  read(offset: number, size: IoSize): number;
  write(offset: number, size: IoSize, value: number): void;
}

interface Claim {
  readonly base: number;
  readonly device: IoDevice;
}

export const ONES: Readonly<Record<IoSize, number>> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff };

export class IoBus {
  private readonly claims = new Map<number, Claim>();
  /** Accesses to unclaimed ports (reads + writes), for `--stats`. */
  unassigned = 0;

  /** Gives ports base..base+count-1 to `device` (a port claimed twice is a host bug). */
  claim(base: number, count: number, device: IoDevice): void {
    for (let p = base; p < base + count; p++) {
      const prev = this.claims.get(p);
      if (prev !== undefined) throw new Error(`IoBus: port 0x${p.toString(16)} claimed by ${prev.device.name} and ${device.name}`);
      this.claims.set(p, { base, device });
    }
  }

  read(port: number, size: IoSize): number {
    const c = this.claims.get(port & 0xffff);
    if (c === undefined) {
      this.unassigned++;
      return ONES[size];
    }
    return (c.device.read((port & 0xffff) - c.base, size) & ONES[size]) >>> 0;
  }

  write(port: number, size: IoSize, value: number): void {
    const c = this.claims.get(port & 0xffff);
    if (c === undefined) {
      this.unassigned++;
      return;
    }
    c.device.write((port & 0xffff) - c.base, size, (value & ONES[size]) >>> 0);
  }
}
