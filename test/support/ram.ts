/**
 * Guest-physical RAM for tests that build a system-level CPU: `size` bytes from address 0, one
 * DataView per 4 KiB frame (the same object every time, as the CPU requires), device reads all
 * ones, plus host-side helpers to place bytes and 64-bit entries.
 */
import type { PhysicalMemory } from '../../x86/memory.js';

export class TestRam implements PhysicalMemory {
  readonly buf: ArrayBuffer;
  private readonly frames: DataView[] = [];

  constructor(readonly size: number) {
    this.buf = new ArrayBuffer(size);
  }

  frame(pfn: number): DataView | undefined {
    if (pfn < 0 || (pfn + 1) * 4096 > this.size) return undefined;
    return (this.frames[pfn] ??= new DataView(this.buf, pfn * 4096, 4096));
  }
  mmioRead(): number {
    return -1;
  }
  mmioWrite(): void {}

  bytes(pa: number, b: ArrayLike<number>): void {
    new Uint8Array(this.buf, pa, b.length).set(b);
  }
  u64(pa: number, v: bigint): void {
    new DataView(this.buf).setBigUint64(pa, BigInt.asUintN(64, v), true);
  }
  get64(pa: number): bigint {
    return new DataView(this.buf).getBigUint64(pa, true);
  }
}
