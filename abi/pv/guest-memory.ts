/**
 * Guest virtual memory as a hypercall sees it: addresses translated through the vCPU's current
 * page tables, as Xen's copy_from_guest / copy_to_guest do for a PV guest (the accesses set the
 * accessed and dirty bits like the guest's own would, and a write to a frame holding decoded
 * code invalidates it). A page that is not mapped, or not writable for a write, makes the copy
 * fail; it never throws into the host.
 */
import type { Cpu } from '../../x86/cpu.js';
import { Fault } from '../../x86/fault.js';
import { AccessKind, PAGE_SIZE } from '../../x86/memory.js';
import type { GuestMemory } from '../layout/memory.js';

export class GuestVirtualMemory implements GuestMemory {
  constructor(private readonly cpu: Cpu) {}

  read(addr: number, out: Uint8Array): boolean {
    return this.copy(addr, out, false);
  }

  write(addr: number, data: Uint8Array): boolean {
    return this.copy(addr, data, true);
  }

  private copy(addr: number, buf: Uint8Array, write: boolean): boolean {
    let done = 0;
    while (done < buf.length) {
      const la = addr + done;
      if (!Number.isSafeInteger(la) || la >= 0x800000000000 || la < -0x800000000000) return false;
      let view: DataView | undefined;
      try {
        view = this.cpu.bulkPage(la, write ? AccessKind.Write : AccessKind.Read);
      } catch (e) {
        if (e instanceof Fault) return false;
        throw e;
      }
      const off = ((la % PAGE_SIZE) + PAGE_SIZE) % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, buf.length - done);
      if (view === undefined) {
        // Device memory or a page holding decoded code: byte by byte through the CPU (which
        // invalidates decoded blocks on writes).
        try {
          for (let k = 0; k < n; k++) {
            if (write) this.cpu.write8(la + k, buf[done + k] as number);
            else buf[done + k] = this.cpu.read8(la + k);
          }
        } catch (e) {
          if (e instanceof Fault) return false;
          throw e;
        }
      } else {
        const bytes = new Uint8Array(view.buffer, view.byteOffset + off, n);
        if (write) bytes.set(buf.subarray(done, done + n));
        else buf.set(bytes, done);
      }
      done += n;
    }
    return true;
  }
}
