/**
 * QEMU's firmware configuration device, the traditional port interface: a 16-bit selector at
 * 0x510 picks an item, and each byte read from 0x511 returns the item's next byte (0 past its
 * end, and for every byte of an item that does not exist). Selecting an item rewinds it. No DMA
 * interface (port 0x514 is unassigned, and FW_CFG_ID says so) and no writable items.
 *
 * Keys and value encodings are QEMU's (include/standard-headers/linux/qemu_fw_cfg.h and
 * hw/nvram/fw_cfg.c): numbers little-endian, except the file directory's big-endian count.
 */
import type { IoDevice, IoSize } from './io-bus.js';

export const FW_CFG_PORT_SEL = 0x510;
export const FW_CFG_PORT_DATA = 0x511;

export const FW_CFG_SIGNATURE = 0x00;
export const FW_CFG_ID = 0x01;
export const FW_CFG_UUID = 0x02;
export const FW_CFG_RAM_SIZE = 0x03;
export const FW_CFG_NOGRAPHIC = 0x04;
export const FW_CFG_NB_CPUS = 0x05;
export const FW_CFG_MAX_CPUS = 0x0f;
export const FW_CFG_FILE_DIR = 0x19;

/** FW_CFG_ID bit 0: the traditional (port) interface; bit 1 (DMA) stays clear. */
const ID_TRADITIONAL = 1;

export interface FwCfgConfig {
  readonly ramBytes: number;
  readonly cpus: number;
}

function le(value: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = BigInt(value);
  for (let k = 0; k < bytes; k++) {
    out[k] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export class FwCfg implements IoDevice {
  readonly name = 'fw_cfg';
  private readonly items = new Map<number, Uint8Array>();
  private item: Uint8Array | undefined;
  private offset = 0;

  constructor(config: FwCfgConfig) {
    this.items.set(FW_CFG_SIGNATURE, new TextEncoder().encode('QEMU'));
    this.items.set(FW_CFG_ID, le(ID_TRADITIONAL, 4));
    this.items.set(FW_CFG_UUID, new Uint8Array(16));
    this.items.set(FW_CFG_RAM_SIZE, le(config.ramBytes, 8));
    this.items.set(FW_CFG_NOGRAPHIC, le(1, 2));
    this.items.set(FW_CFG_NB_CPUS, le(config.cpus, 2));
    this.items.set(FW_CFG_MAX_CPUS, le(config.cpus, 2));
    this.items.set(FW_CFG_FILE_DIR, new Uint8Array(4)); // no files (count, big-endian)
    this.select(FW_CFG_SIGNATURE);
  }

  /** Ports 0x510 (offset 0) and 0x511 (offset 1). */
  read(offset: number, size: IoSize): number {
    if (offset !== 1) return 0; // the selector register is write-only (QEMU reads it as 0)
    let v = 0;
    for (let k = 0; k < size; k++) v |= this.nextByte() << (8 * k);
    return v >>> 0;
  }

  write(offset: number, size: IoSize, value: number): void {
    if (offset === 0 && size !== 1) this.select(value & 0xffff);
    // Byte writes to the selector and any write to the data port are ignored (no writable items).
  }

  private select(key: number): void {
    // Bit 14 marks a write selection and bit 15 an architecture-specific key (QEMU's
    // FW_CFG_WRITE_CHANNEL and FW_CFG_ARCH_LOCAL); this machine has none of either.
    this.item = this.items.get(key);
    this.offset = 0;
  }

  private nextByte(): number {
    const it = this.item;
    if (it === undefined || this.offset >= it.length) return 0;
    return it[this.offset++] ?? 0;
  }
}
