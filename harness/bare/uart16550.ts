/**
 * A 16550A UART as COM1 (ports 0x3F8-0x3FF), transmit side only: every byte the guest writes to
 * THR leaves at once on `sink`, so the transmitter is always empty (LSR.THRE and LSR.TEMT set)
 * and nothing is ever received (RBR reads 0, LSR.DR clear), except in loopback mode.
 *
 * Enough of the register file for the drivers kernels carry (Linux's 8250 probe, kvm-unit-tests'
 * serial_init, a polled printf): the divisor latch behind LCR.DLAB, IER, IIR with the FIFO bits
 * FCR enabled, LCR, MCR with loopback (MSR then mirrors MCR's outputs, and transmitted bytes come
 * back on the receive side instead of leaving), MSR and the scratch register. Interrupt
 * identification follows the datasheet's priorities; no interrupt line is wired to a controller
 * (the machine has no I/O APIC), so a guest must poll. Register layout: the PC16550D datasheet.
 */
import type { IoDevice, IoSize } from './io-bus.js';

export const COM1_BASE = 0x3f8;

const LSR_DR = 0x01;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
const IER_RDA = 0x01;
const IER_THRE = 0x02;
const IIR_NONE = 0x01;
const IIR_THRE = 0x02;
const IIR_RDA = 0x04;
const IIR_FIFO = 0xc0;
const LCR_DLAB = 0x80;
const MCR_LOOP = 0x10;

export class Uart16550 implements IoDevice {
  readonly name = 'uart16550';
  private dll = 0x0c; // 9600 baud, what a PC BIOS leaves behind
  private dlm = 0;
  private ier = 0;
  private lcr = 0x03;
  private mcr = 0;
  private scr = 0;
  private fifo = false;
  /** A byte waiting in RBR (loopback only). */
  private rbr: number | undefined;
  /** THR-empty interrupt condition: set when THR empties with IER.THRE on, cleared by an IIR read. */
  private threPending = false;
  /** Bytes transmitted, for `--stats`. */
  transmitted = 0;

  constructor(private readonly sink: (byte: number) => void) {}

  read(offset: number, size: IoSize): number {
    // A wider access reads the first register only (the byte lanes above are the next ports on
    // real hardware, but no driver does this).
    void size;
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case 0: {
        if (dlab) return this.dll;
        const b = this.rbr ?? 0;
        this.rbr = undefined;
        return b;
      }
      case 1:
        return dlab ? this.dlm : this.ier;
      case 2: {
        const fifoBits = this.fifo ? IIR_FIFO : 0;
        if ((this.ier & IER_RDA) !== 0 && this.rbr !== undefined) return fifoBits | IIR_RDA;
        if ((this.ier & IER_THRE) !== 0 && this.threPending) {
          this.threPending = false; // reading IIR acknowledges the THRE interrupt
          return fifoBits | IIR_THRE;
        }
        return fifoBits | IIR_NONE;
      }
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5:
        return LSR_THRE | LSR_TEMT | (this.rbr !== undefined ? LSR_DR : 0);
      case 6:
        if ((this.mcr & MCR_LOOP) !== 0) {
          // Loopback: CTS<-RTS, DSR<-DTR, RI<-OUT1, DCD<-OUT2 (no delta bits).
          const m = this.mcr;
          return ((m & 2) << 3) | ((m & 1) << 5) | ((m & 4) << 4) | ((m & 8) << 4);
        }
        return 0xb0; // DCD, DSR and CTS: a terminal is attached and ready
      default:
        return this.scr;
    }
  }

  write(offset: number, size: IoSize, value: number): void {
    void size;
    const v = value & 0xff;
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case 0:
        if (dlab) this.dll = v;
        else {
          this.transmit(v);
        }
        break;
      case 1:
        if (dlab) this.dlm = v;
        else {
          // Enabling the THRE interrupt while THR is empty raises it at once (datasheet note).
          if ((v & IER_THRE) !== 0 && (this.ier & IER_THRE) === 0) this.threPending = true;
          this.ier = v & 0x0f;
        }
        break;
      case 2:
        this.fifo = (v & 1) !== 0;
        if ((v & 2) !== 0) this.rbr = undefined;
        break;
      case 3:
        this.lcr = v;
        break;
      case 4:
        this.mcr = v & 0x1f;
        break;
      case 5:
      case 6:
        break; // LSR and MSR are read-only (factory test writes are ignored)
      default:
        this.scr = v;
    }
  }

  private transmit(b: number): void {
    if ((this.mcr & MCR_LOOP) !== 0) this.rbr = b;
    else {
      this.transmitted++;
      this.sink(b);
    }
    this.threPending = (this.ier & IER_THRE) !== 0;
  }
}
