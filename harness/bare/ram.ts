/**
 * The bare machine's physical address space: RAM from physical 0 up to the configured size,
 * memory-mapped devices (the local APIC page), and nothing else. Implements the CPU's
 * `PhysicalMemory` (x86/memory.ts).
 *
 * RAM lives in a few large ArrayBuffers ("banks", allocated on first touch: an untouched bank
 * costs nothing, and a fresh ArrayBuffer is zeroed, as the Multiboot machine promises). Each
 * 4 KiB frame is handed out as a DataView created on first use and cached, so the same frame is
 * always the same object (the CPU finds decoded code through that identity).
 *
 * Physical addresses that are neither RAM nor a device behave as on a PC with nothing decoding
 * them: reads return all ones, writes are dropped.
 */
import { PAGE_SIZE, type PhysicalMemory } from '../../x86/memory.js';

/** RAM sizes the machine accepts (MiB): enough for Multiboot's low memory plus a kernel, and
 * below the 3 GiB line so RAM never meets the device window under 4 GiB (APIC at 0xFEE00000). */
export const MIN_MEM_MIB = 2;
export const MAX_MEM_MIB = 3072;

/** Frames per bank: 64 MiB banks keep each allocation modest and untouched banks free. */
const BANK_FRAMES = 16384;

/** A memory-mapped device: `offset` is relative to the start of its window. */
export interface MmioDevice {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

interface MmioWindow {
  /** Current physical base (a function: the APIC page can be moved through IA32_APIC_BASE). */
  readonly base: () => number | undefined;
  readonly size: number;
  readonly device: MmioDevice;
}

const ONES: Readonly<Record<1 | 2 | 4, number>> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff };

export class BareRam implements PhysicalMemory {
  readonly bytes: number;
  readonly frames: number;
  private readonly banks: (ArrayBuffer | undefined)[];
  private readonly views: (DataView | undefined)[];
  private readonly windows: MmioWindow[] = [];

  constructor(memMiB: number) {
    if (!Number.isInteger(memMiB) || memMiB < MIN_MEM_MIB || memMiB > MAX_MEM_MIB) {
      throw new RangeError(`BareRam: memory size ${memMiB} MiB outside ${MIN_MEM_MIB}..${MAX_MEM_MIB}`);
    }
    this.bytes = memMiB * 1024 * 1024;
    this.frames = this.bytes / PAGE_SIZE;
    this.banks = new Array<ArrayBuffer | undefined>(Math.ceil(this.frames / BANK_FRAMES));
    this.views = new Array<DataView | undefined>(this.frames);
  }

  /** Maps a device at a (possibly movable) physical window; it takes precedence over RAM. */
  mapMmio(base: () => number | undefined, size: number, device: MmioDevice): void {
    this.windows.push({ base, size, device });
  }

  frame(pfn: number): DataView | undefined {
    if (pfn < 0 || pfn >= this.frames || !Number.isInteger(pfn)) return undefined;
    if (this.windows.length > 0 && this.window(pfn * PAGE_SIZE) !== undefined) return undefined;
    let v = this.views[pfn];
    if (v === undefined) {
      const b = Math.floor(pfn / BANK_FRAMES);
      let bank = this.banks[b];
      if (bank === undefined) {
        const frames = Math.min(BANK_FRAMES, this.frames - b * BANK_FRAMES);
        bank = new ArrayBuffer(frames * PAGE_SIZE);
        this.banks[b] = bank;
      }
      v = new DataView(bank, (pfn - b * BANK_FRAMES) * PAGE_SIZE, PAGE_SIZE);
      this.views[pfn] = v;
    }
    return v;
  }

  mmioRead(pa: number, size: 1 | 2 | 4): number {
    const w = this.window(pa);
    if (w !== undefined) return w.window.device.read(pa - w.base, size);
    return ONES[size];
  }

  mmioWrite(pa: number, size: 1 | 2 | 4, value: number): void {
    const w = this.window(pa);
    if (w !== undefined) {
      w.window.device.write(pa - w.base, size, value);
      return;
    }
    // Anything else is unassigned: the write goes nowhere.
  }

  /** Host-side access for the loader: is [pa, pa+len) all RAM? */
  isRam(pa: number, len: number): boolean {
    return pa >= 0 && len >= 0 && pa + len <= this.bytes;
  }

  /** Copies host bytes into RAM at `pa` (the caller checked `isRam`). */
  writeBytes(pa: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const at = pa + done;
      const off = at & 0xfff;
      const n = Math.min(PAGE_SIZE - off, data.length - done);
      const v = this.ramFrame(at);
      new Uint8Array(v.buffer, v.byteOffset + off, n).set(data.subarray(done, done + n));
      done += n;
    }
  }

  /** Zeroes [pa, pa+len) (RAM starts zeroed; a loader zeroes bss it may have overwritten). */
  fill(pa: number, len: number, value = 0): void {
    let done = 0;
    while (done < len) {
      const at = pa + done;
      const off = at & 0xfff;
      const n = Math.min(PAGE_SIZE - off, len - done);
      const v = this.ramFrame(at);
      new Uint8Array(v.buffer, v.byteOffset + off, n).fill(value);
      done += n;
    }
  }

  /** Reads `len` bytes of RAM at `pa` (tests and diagnostics). */
  readBytes(pa: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const at = pa + done;
      const off = at & 0xfff;
      const n = Math.min(PAGE_SIZE - off, len - done);
      const v = this.ramFrame(at);
      out.set(new Uint8Array(v.buffer, v.byteOffset + off, n), done);
      done += n;
    }
    return out;
  }

  write32(pa: number, value: number): void {
    this.ramFrame(pa).setUint32(pa & 0xfff, value >>> 0, true);
  }
  read32(pa: number): number {
    return this.ramFrame(pa).getUint32(pa & 0xfff, true);
  }

  /** The RAM frame under `pa`, bypassing device windows (host-side loader access). */
  private ramFrame(pa: number): DataView {
    const pfn = Math.floor(pa / PAGE_SIZE);
    if (pfn < 0 || pfn >= this.frames) throw new Error(`BareRam: host access at 0x${pa.toString(16)} outside RAM`);
    let v = this.views[pfn];
    if (v === undefined) {
      // frame() refuses frames under a device window; the loader never writes there.
      v = this.frame(pfn);
      if (v === undefined) throw new Error(`BareRam: host access at 0x${pa.toString(16)} hits a device window`);
    }
    return v;
  }

  private window(pa: number): { window: MmioWindow; base: number } | undefined {
    for (const w of this.windows) {
      const base = w.base();
      if (base !== undefined && pa >= base && pa < base + w.size) return { window: w, base };
    }
    return undefined;
  }
}
