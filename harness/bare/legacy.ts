/**
 * The small PC devices a bare kernel pokes at: QEMU's isa-debug-exit, the PCI configuration
 * mechanism #1 with no devices behind it, and the two legacy 8259 PICs as registers only.
 */
import type { IoDevice, IoSize } from './io-bus.js';

/** isa-debug-exit, as QEMU's `-device isa-debug-exit,iobase=0xf4,iosize=4`. */
export const DEBUG_EXIT_PORT = 0xf4;
export const PCI_CONFIG_ADDRESS = 0xcf8;
export const PCI_CONFIG_DATA = 0xcfc;
export const PIC_MASTER = 0x20;
export const PIC_SLAVE = 0xa0;
export const POST_PORT = 0x80;

/**
 * A write of value v ends the run with exit status (v << 1) | 1, as QEMU's hw/misc/debugexit.c
 * does (so a guest can never make the emulator exit 0). The status is what a shell sees: the
 * low 8 bits.
 */
export class DebugExit implements IoDevice {
  readonly name = 'isa-debug-exit';
  constructor(private readonly onExit: (value: number, status: number) => void) {}
  read(): number {
    return 0;
  }
  write(_offset: number, _size: IoSize, value: number): void {
    this.onExit(value, ((value << 1) | 1) & 0xff);
  }
}

/**
 * PCI configuration mechanism #1: CONFIG_ADDRESS (0xCF8) latches what the guest writes, and
 * CONFIG_DATA (0xCFC-0xCFF) finds no device for any address: reads all ones (vendor ID 0xFFFF
 * means "nothing here"), writes dropped.
 */
export class PciHostNoDevices implements IoDevice {
  readonly name = 'pci-config';
  private address = 0;
  read(offset: number, size: IoSize): number {
    if (offset < 4) return offset === 0 && size === 4 ? this.address : 0xffffffff;
    return 0xffffffff;
  }
  write(offset: number, size: IoSize, value: number): void {
    if (offset === 0 && size === 4) this.address = value >>> 0;
  }
}

/**
 * One 8259A as registers: the ICW1-ICW4 initialisation sequence, the mask register (OCW1) and
 * OCW3's register-read selection. Nothing raises IRQs here, so IRR and ISR read 0. Enough for a
 * kernel that remaps and masks the PICs before using the local APIC.
 */
export class Pic8259 implements IoDevice {
  private imr = 0;
  /** ICWs still expected after ICW1: 2, 3 (cascade) and 4 (if ICW1.IC4), counted down. */
  private initStep = 0;
  private needIcw4 = false;
  private single = false;
  vectorBase = 0;

  constructor(readonly name: string) {}

  read(offset: number): number {
    return offset === 0 ? 0 : this.imr; // IRR or ISR (OCW3 selects; both are empty)
  }

  write(offset: number, _size: IoSize, value: number): void {
    const v = value & 0xff;
    if (offset === 0) {
      if ((v & 0x10) !== 0) {
        // ICW1: start initialisation; the mask is cleared.
        this.initStep = 2;
        this.needIcw4 = (v & 1) !== 0;
        this.single = (v & 2) !== 0;
        this.imr = 0;
      }
      // OCW2 (EOI, rotate) and OCW3 (read selection) change nothing observable here.
      return;
    }
    switch (this.initStep) {
      case 2:
        this.vectorBase = v & 0xf8;
        this.initStep = this.single ? (this.needIcw4 ? 4 : 0) : 3;
        return;
      case 3:
        this.initStep = this.needIcw4 ? 4 : 0;
        return;
      case 4:
        this.initStep = 0;
        return;
      default:
        this.imr = v;
    }
  }
}
