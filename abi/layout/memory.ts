/**
 * Guest memory as the ABI layer needs it: copy bytes in and out at a guest address. The
 * hypervisor backs it by whatever the address means for the call at hand (a guest virtual
 * address through the guest's page tables for hypercall arguments, a machine address for the
 * frame pool), so the layout code never knows which.
 */

export interface GuestMemory {
  /**
   * Copies `out.length` bytes starting at `addr` into `out`. Returns false when any byte is not
   * readable (unmapped, not RAM, or not allowed for the accessing context); `out` is then
   * unspecified. Must not throw for any address a guest can name.
   */
  read(addr: number, out: Uint8Array): boolean;
  /**
   * Copies `data` to guest memory at `addr`. Returns false when any byte is not writable; what
   * was written before the failing byte stays written, as with Xen's `copy_to_guest`.
   */
  write(addr: number, data: Uint8Array): boolean;
}

/**
 * A guest address a view could not read or write. Thrown by views over a `GuestMemory`; the
 * hypercall dispatcher turns it into -XEN_EFAULT (it is Xen's failed `copy_from_guest`). Views
 * over a `DataView` never throw it.
 */
export class GuestMemoryFault extends Error {
  constructor(
    readonly address: number,
    readonly length: number,
    readonly write: boolean,
  ) {
    super(`guest ${write ? 'write' : 'read'} of ${length} byte(s) at 0x${address.toString(16)} faulted`);
    this.name = 'GuestMemoryFault';
  }
}

/** A `GuestMemory` over one flat byte range starting at guest address `base` (tests, private copies). */
export class BufferMemory implements GuestMemory {
  constructor(
    readonly bytes: Uint8Array,
    readonly base = 0,
  ) {}

  read(addr: number, out: Uint8Array): boolean {
    const off = addr - this.base;
    if (!(off >= 0 && off + out.length <= this.bytes.length)) return false;
    out.set(this.bytes.subarray(off, off + out.length));
    return true;
  }

  write(addr: number, data: Uint8Array): boolean {
    const off = addr - this.base;
    if (!(off >= 0 && off + data.length <= this.bytes.length)) return false;
    this.bytes.set(data, off);
    return true;
  }
}
