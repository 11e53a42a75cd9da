/**
 * Views: typed get/set of a layout's fields over guest memory or a DataView.
 *
 * A view is a window, not a copy: every `get` reads the bytes at that moment (STYLE §5). To
 * decide on guest input, take a private copy first (`View.copyIn`), decide on the copy, and copy
 * the OUT fields back on success (`view.copyOut`), as Xen's `copy_from_guest`/`copy_to_guest`
 * pairs do.
 *
 * Numbers, following x86/'s convention (no BigInt on hot paths):
 *  - fields up to 32 bits read as exact JS numbers, signed or unsigned as the C type says;
 *  - 64-bit fields: `get` returns `hi * 2^32 + lo` as a double: exact below 2^53, otherwise
 *    correctly rounded, so comparisons against Xen's limits (all below 2^53) still decide right;
 *    `lo`/`hi` give the exact int32 halves (unsigned), `getBig`/`setBig` a BigInt for cold paths;
 *  - `set` takes a safe integer in the field's signed or unsigned range; anything else is a host
 *    bug and throws (guest input never reaches `set` unchecked).
 *
 * Over a `GuestMemory`, an access to an unreadable or unwritable address throws
 * `GuestMemoryFault` (the dispatcher's -EFAULT); over a DataView nothing is guest-dependent.
 *
 * Paths are checked by the compiler against the description, which covers both ABIs: a field of
 * the other architecture (`user_regs.eip` in an x86_64 layout) type-checks and throws at run time.
 */
import type { FieldLayout, Layout } from './compute.js';
import { GuestMemoryFault, type GuestMemory } from './memory.js';
import type { ElemOf, FieldPath, Type, TypeAt } from './schema.js';

const TWO32 = 4294967296;

interface Backing {
  u8(a: number): number;
  u16(a: number): number;
  u32(a: number): number;
  w8(a: number, v: number): void;
  w16(a: number, v: number): void;
  w32(a: number, v: number): void;
  get(a: number, n: number): Uint8Array;
  put(a: number, data: Uint8Array): void;
}

class DataViewBacking implements Backing {
  constructor(private readonly dv: DataView) {}
  u8(a: number): number {
    return this.dv.getUint8(a);
  }
  u16(a: number): number {
    return this.dv.getUint16(a, true);
  }
  u32(a: number): number {
    return this.dv.getUint32(a, true);
  }
  w8(a: number, v: number): void {
    this.dv.setUint8(a, v);
  }
  w16(a: number, v: number): void {
    this.dv.setUint16(a, v, true);
  }
  w32(a: number, v: number): void {
    this.dv.setUint32(a, v, true);
  }
  get(a: number, n: number): Uint8Array {
    return new Uint8Array(this.dv.buffer.slice(this.dv.byteOffset + a, this.dv.byteOffset + a + n));
  }
  put(a: number, data: Uint8Array): void {
    new Uint8Array(this.dv.buffer, this.dv.byteOffset + a, data.length).set(data);
  }
}

class MemoryBacking implements Backing {
  private readonly scratch = new Uint8Array(4);
  private readonly sv = new DataView(this.scratch.buffer);
  constructor(private readonly mem: GuestMemory) {}
  private load(a: number, n: number): DataView {
    if (!this.mem.read(a, this.scratch.subarray(0, n))) throw new GuestMemoryFault(a, n, false);
    return this.sv;
  }
  private store(a: number, n: number): void {
    if (!this.mem.write(a, this.scratch.subarray(0, n))) throw new GuestMemoryFault(a, n, true);
  }
  u8(a: number): number {
    return this.load(a, 1).getUint8(0);
  }
  u16(a: number): number {
    return this.load(a, 2).getUint16(0, true);
  }
  u32(a: number): number {
    return this.load(a, 4).getUint32(0, true);
  }
  w8(a: number, v: number): void {
    this.sv.setUint8(0, v);
    this.store(a, 1);
  }
  w16(a: number, v: number): void {
    this.sv.setUint16(0, v, true);
    this.store(a, 2);
  }
  w32(a: number, v: number): void {
    this.sv.setUint32(0, v, true);
    this.store(a, 4);
  }
  get(a: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    if (!this.mem.read(a, out)) throw new GuestMemoryFault(a, n, false);
    return out;
  }
  put(a: number, data: Uint8Array): void {
    if (!this.mem.write(a, data)) throw new GuestMemoryFault(a, data.length, true);
  }
}

type Sub<T extends Type, P extends string> = TypeAt<T, P> extends Type ? TypeAt<T, P> : Type;
type SubElem<T extends Type, P extends string> = ElemOf<TypeAt<T, P>> extends Type ? ElemOf<TypeAt<T, P>> : Type;

export class View<T extends Type = Type> {
  private constructor(
    readonly layout: Layout<T>,
    private readonly backing: Backing,
    /** Where the struct starts: a guest address, or a byte offset into the DataView. */
    readonly address: number,
  ) {}

  /**
   * A view of `layout` at `address`: a guest address when `target` is a `GuestMemory`, a byte
   * offset when it is a DataView (which must hold the whole struct).
   */
  static of<T extends Type>(layout: Layout<T>, target: DataView | GuestMemory, address = 0): View<T> {
    if (target instanceof DataView) {
      if (!(Number.isInteger(address) && address >= 0 && address + layout.size <= target.byteLength)) {
        throw new RangeError(`${layout.name} (${layout.size} bytes) at ${address} does not fit a ${target.byteLength}-byte DataView`);
      }
      return new View<T>(layout, new DataViewBacking(target), address);
    }
    return new View<T>(layout, new MemoryBacking(target), address);
  }

  /** A zero-filled private instance (for building a record to copy out). */
  static alloc<T extends Type>(layout: Layout<T>): View<T> {
    return View.of<T>(layout, new DataView(new ArrayBuffer(layout.size)), 0);
  }

  /**
   * A private copy of the struct at `addr`: reads `layout.size` bytes once. Undefined when any
   * byte is unreadable (the caller returns -XEN_EFAULT).
   */
  static copyIn<T extends Type>(layout: Layout<T>, mem: GuestMemory, addr: number): View<T> | undefined {
    const bytes = new Uint8Array(layout.size);
    if (!mem.read(addr, bytes)) return undefined;
    return View.of<T>(layout, new DataView(bytes.buffer), 0);
  }

  /**
   * Writes this view's OUT and IN/OUT fields (`layout.outRanges`) to `mem` at `addr`; false when
   * a write faulted. Throws for a layout without directions (which fields to write is unknown).
   */
  copyOut(mem: GuestMemory, addr: number): boolean {
    if (!this.layout.directed) throw new Error(`${this.layout.name}: no IN/OUT directions described, copyOut cannot choose fields`);
    for (const [off, len] of this.layout.outRanges) {
      if (!mem.write(addr + off, this.backing.get(this.address + off, len))) return false;
    }
    return true;
  }

  /** Writes the whole struct to `mem` at `addr`; false when a write faulted. */
  copyAllOut(mem: GuestMemory, addr: number): boolean {
    return mem.write(addr, this.bytes());
  }

  /** A copy of the struct's bytes. */
  bytes(): Uint8Array {
    return this.backing.get(this.address, this.layout.size);
  }

  private int(path: string): FieldLayout {
    const f = this.layout.find(path);
    if (f === undefined || f.kind !== 'int') throw new Error(`${this.layout.name}: '${path}' is not an integer field`);
    return f;
  }

  private arr(path: string, i: number): { f: FieldLayout; a: number } {
    const f = this.layout.find(path);
    if (f === undefined || f.kind !== 'array') throw new Error(`${this.layout.name}: '${path}' is not an array field`);
    const count = f.count ?? 0;
    if (!Number.isInteger(i) || i < 0 || (count > 0 && i >= count)) throw new RangeError(`${this.layout.name}.${path}[${i}] out of range`);
    return { f, a: this.address + f.offset + i * (f.elemSize ?? 0) };
  }

  private readInt(a: number, size: number, signed: boolean): number {
    const b = this.backing;
    switch (size) {
      case 1:
        return signed ? (b.u8(a) << 24) >> 24 : b.u8(a);
      case 2:
        return signed ? (b.u16(a) << 16) >> 16 : b.u16(a);
      case 4:
        return signed ? b.u32(a) | 0 : b.u32(a);
      default: {
        const lo = b.u32(a);
        const hi = b.u32(a + 4);
        return (signed ? hi | 0 : hi) * TWO32 + lo;
      }
    }
  }

  private writeInt(a: number, size: number, v: number, what: string): void {
    const bits = size * 8;
    const ok = size === 8 ? Number.isSafeInteger(v) : Number.isInteger(v) && v >= -(2 ** (bits - 1)) && v < 2 ** bits;
    if (!ok) throw new RangeError(`${this.layout.name}.${what}: ${v} does not fit ${bits} bits`);
    const b = this.backing;
    switch (size) {
      case 1:
        b.w8(a, v & 0xff);
        return;
      case 2:
        b.w16(a, v & 0xffff);
        return;
      case 4:
        b.w32(a, v >>> 0);
        return;
      default:
        b.w32(a, ((v % TWO32) + TWO32) % TWO32);
        b.w32(a + 4, Math.floor(v / TWO32) >>> 0);
    }
  }

  /** The integer field at `path` (see the file comment for 64-bit fields). */
  get(path: FieldPath<T>): number {
    const f = this.int(path);
    return this.readInt(this.address + f.offset, f.size, f.signed);
  }

  set(path: FieldPath<T>, value: number): void {
    const f = this.int(path);
    this.writeInt(this.address + f.offset, f.size, value, path);
  }

  /** Low 32 bits of an integer field, unsigned. */
  lo(path: FieldPath<T>): number {
    const f = this.int(path);
    return this.readInt(this.address + f.offset, Math.min(f.size, 4), false);
  }

  /** Bits 63..32 of an integer field, unsigned (0 for fields of 32 bits or fewer). */
  hi(path: FieldPath<T>): number {
    const f = this.int(path);
    return f.size === 8 ? this.backing.u32(this.address + f.offset + 4) : 0;
  }

  /** Sets a 64-bit field from its int32 halves (either signedness). */
  set64(path: FieldPath<T>, lo: number, hi: number): void {
    const f = this.int(path);
    if (f.size !== 8) throw new Error(`${this.layout.name}: '${path}' is not a 64-bit field`);
    this.backing.w32(this.address + f.offset, lo >>> 0);
    this.backing.w32(this.address + f.offset + 4, hi >>> 0);
  }

  getBig(path: FieldPath<T>): bigint {
    const f = this.int(path);
    const a = this.address + f.offset;
    const raw = f.size === 8 ? (BigInt(this.backing.u32(a + 4)) << 32n) | BigInt(this.backing.u32(a)) : BigInt(this.readInt(a, f.size, false));
    return f.signed ? BigInt.asIntN(f.size * 8, raw) : raw;
  }

  setBig(path: FieldPath<T>, value: bigint): void {
    const f = this.int(path);
    const bits = f.size * 8;
    if (value < -(1n << BigInt(bits - 1)) || value >= 1n << BigInt(bits)) throw new RangeError(`${this.layout.name}.${path}: ${value} does not fit ${bits} bits`);
    const u = BigInt.asUintN(bits, value);
    const a = this.address + f.offset;
    if (f.size === 8) {
      this.backing.w32(a, Number(u & 0xffffffffn));
      this.backing.w32(a + 4, Number(u >> 32n));
    } else {
      this.writeInt(a, f.size, Number(u), path);
    }
  }

  /** Element `i` of an integer array field. */
  getAt(path: FieldPath<T>, i: number): number {
    const { f, a } = this.arr(path, i);
    if (f.elemInt !== true) throw new Error(`${this.layout.name}: '${path}' is not an integer array`);
    return this.readInt(a, f.elemSize ?? 0, f.signed);
  }

  setAt(path: FieldPath<T>, i: number, value: number): void {
    const { f, a } = this.arr(path, i);
    if (f.elemInt !== true) throw new Error(`${this.layout.name}: '${path}' is not an integer array`);
    this.writeInt(a, f.elemSize ?? 0, value, `${path}[${i}]`);
  }

  /** Low / high 32 bits of element `i` of an integer array (`evtchn_pending` words). */
  loAt(path: FieldPath<T>, i: number): number {
    const { f, a } = this.arr(path, i);
    return this.readInt(a, Math.min(f.elemSize ?? 0, 4), false);
  }

  hiAt(path: FieldPath<T>, i: number): number {
    const { f, a } = this.arr(path, i);
    return f.elemSize === 8 ? this.backing.u32(a + 4) : 0;
  }

  /** The nested struct or union at `path`. */
  at<P extends FieldPath<T>>(path: P): View<Sub<T, P>> {
    const f = this.layout.find(path);
    if (f === undefined || f.kind !== 'record' || f.layout === undefined) throw new Error(`${this.layout.name}: '${path}' is not a struct or union field`);
    return new View<Sub<T, P>>(f.layout as unknown as Layout<Sub<T, P>>, this.backing, this.address + f.offset);
  }

  /** Element `i` of an array of structs or unions. */
  elem<P extends FieldPath<T>>(path: P, i: number): View<SubElem<T, P>> {
    const { f, a } = this.arr(path, i);
    if (f.layout === undefined) throw new Error(`${this.layout.name}: '${path}' is not an array of structs`);
    return new View<SubElem<T, P>>(f.layout as unknown as Layout<SubElem<T, P>>, this.backing, a);
  }

  /** The raw bytes of any field. */
  getBytes(path: FieldPath<T>): Uint8Array {
    const f = this.layout.field(path);
    return this.backing.get(this.address + f.offset, f.size);
  }

  /** Overwrites a field's bytes; `data` must not be longer than the field (the rest is left as is). */
  setBytes(path: FieldPath<T>, data: Uint8Array): void {
    const f = this.layout.field(path);
    if (data.length > f.size) throw new RangeError(`${this.layout.name}.${path}: ${data.length} bytes do not fit ${f.size}`);
    this.backing.put(this.address + f.offset, data);
  }

  /** A char array up to its first NUL (or its end), one byte per character (latin1). */
  getString(path: FieldPath<T>): string {
    const bytes = this.getBytes(path);
    const end = bytes.indexOf(0);
    return String.fromCharCode(...bytes.subarray(0, end < 0 ? bytes.length : end));
  }

  /**
   * Stores `s` (latin1) in a char array, NUL-padded to its size, truncated so a NUL always ends it
   * (Xen's `safe_strcpy`/`strlcpy` behaviour for the strings it hands out).
   */
  setString(path: FieldPath<T>, s: string): void {
    const f = this.layout.field(path);
    if (f.size === 0) return;
    const bytes = new Uint8Array(f.size);
    for (let k = 0; k < Math.min(s.length, f.size - 1); k++) bytes[k] = s.charCodeAt(k) & 0xff;
    this.backing.put(this.address + f.offset, bytes);
  }
}
