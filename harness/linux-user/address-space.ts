/**
 * The user-mode runner's address space: a `FlatMemory` plus demand paging. Anonymous memory (the
 * stack, brk, anonymous mmap) is only reserved when the guest asks for it; a page becomes real
 * the first time something touches it, as on Linux. That keeps an 8 MiB stack or a 64 MiB malloc
 * arena from costing host memory up front.
 *
 * Host-side accessors (`read`, `write`, `readCString`) are how syscalls touch guest memory: they
 * check the guest's own permissions and answer `undefined`/`false` for a bad pointer, which the
 * caller turns into -EFAULT. A hostile pointer never becomes a host exception.
 */
import { Fault, PF_VEC } from '../../x86/fault.js';
import { FlatMemory, PROT_R, PROT_W, PROT_X } from '../../x86/flat-memory.js';
import { AccessKind, PAGE_SIZE, pageOf } from '../../x86/memory.js';

/** First address above user space (canonical lower half, 47 bits). */
export const USER_END = 0x800000000000;

export { PROT_R, PROT_W, PROT_X };

/** x86 page tables cannot express write-only: PROT_WRITE implies PROT_READ (as on Linux). */
export function normalizeProt(prot: number): number {
  const p = prot & (PROT_R | PROT_W | PROT_X);
  return (p & PROT_W) !== 0 ? p | PROT_R : p;
}

export function pageDown(a: number): number {
  return Math.floor(a / PAGE_SIZE) * PAGE_SIZE;
}
export function pageUp(a: number): number {
  return Math.ceil(a / PAGE_SIZE) * PAGE_SIZE;
}

export class AddressSpace {
  readonly mem = new FlatMemory();
  /** Reserved but not yet materialised pages: page number -> protection. */
  private readonly lazy = new Map<number, number>();
  /** Pages materialised on demand so far (statistics). */
  faultedIn = 0;
  /** Pages that were ever executable: unmapping or reprotecting one must drop decoded code. */
  private readonly execPages = new Set<number>();
  /** Set when a change touched an executable page; the owner clears it after telling the CPU. */
  codeChanged = false;

  private noteExec(la: number, len: number, prot: number): void {
    for (let pg = pageOf(la), last = pageOf(la + len - 1); pg <= last; pg++) {
      if ((prot & PROT_X) !== 0) this.execPages.add(pg);
      else if (this.execPages.delete(pg)) this.codeChanged = true;
    }
  }

  /** Maps [la, la+len) now, zero-filled (existing pages there are replaced). */
  mapNow(la: number, len: number, prot: number): void {
    this.unmap(la, len);
    this.mem.map(la, len, normalizeProt(prot));
    this.noteExec(la, len, prot);
  }

  /** Reserves [la, la+len) as zero-fill-on-demand memory (existing pages there are replaced). */
  reserve(la: number, len: number, prot: number): void {
    this.unmap(la, len);
    const p = normalizeProt(prot);
    this.noteExec(la, len, p);
    for (let pg = pageOf(la), last = pageOf(la + len - 1); pg <= last; pg++) this.lazy.set(pg, p);
  }

  unmap(la: number, len: number): void {
    if (len <= 0) return;
    this.mem.unmap(la, len);
    this.noteExec(la, len, 0);
    for (let pg = pageOf(la), last = pageOf(la + len - 1); pg <= last; pg++) this.lazy.delete(pg);
  }

  /** Changes protection of the pages in range that exist; returns false if any page is unmapped. */
  protect(la: number, len: number, prot: number): boolean {
    const p = normalizeProt(prot);
    const last = pageOf(la + len - 1);
    for (let pg = pageOf(la); pg <= last; pg++) if (!this.isUsed(pg)) return false;
    this.noteExec(la, len, p);
    for (let pg = pageOf(la); pg <= last; pg++) {
      if (this.lazy.has(pg)) this.lazy.set(pg, p);
      else this.mem.protect(pg * PAGE_SIZE, 1, p);
    }
    return true;
  }

  /** Reserved, not yet materialised pages (bounds what a guest can make us track). */
  get reservedPages(): number {
    return this.lazy.size;
  }

  /** The page is mapped or reserved. */
  isUsed(page: number): boolean {
    return this.lazy.has(page) || this.mem.isMapped(page * PAGE_SIZE);
  }

  /** True when no page of [la, la+len) is mapped or reserved. */
  isFree(la: number, len: number): boolean {
    for (let pg = pageOf(la), last = pageOf(la + len - 1); pg <= last; pg++) if (this.isUsed(pg)) return false;
    return true;
  }

  /**
   * The highest free, page-aligned range of `len` bytes that ends at or below `top` and starts at
   * or above `bottom`, or undefined. Walks down over used pages.
   */
  findFree(len: number, top: number, bottom: number): number | undefined {
    const pages = pageUp(len) / PAGE_SIZE;
    let end = pageOf(top); // exclusive page bound
    const floor = pageOf(pageUp(bottom));
    while (end - pages >= floor) {
      let clash = -1;
      for (let pg = end - 1; pg >= end - pages; pg--) {
        if (this.isUsed(pg)) {
          clash = pg;
          break;
        }
      }
      if (clash < 0) return (end - pages) * PAGE_SIZE;
      end = clash;
    }
    return undefined;
  }

  /** Materialises a reserved page; false when `la` is not in a reservation. */
  private faultIn(la: number): boolean {
    const pg = pageOf(la);
    const prot = this.lazy.get(pg);
    if (prot === undefined) return false;
    this.lazy.delete(pg);
    this.mem.map(pg * PAGE_SIZE, PAGE_SIZE, prot);
    this.faultedIn++;
    return true;
  }

  /**
   * Demand paging for the CPU: a #PF on a reserved page maps it (the instruction is then
   * restarted). Returns false when the fault is the guest's own (not-present outside any
   * reservation, or a protection violation).
   */
  handleFault(f: Fault): boolean {
    return f.vector === PF_VEC && this.faultIn(f.address);
  }

  /** The page holding `la` for a user access of `kind`, materialising reserved pages; undefined if not allowed. */
  private view(la: number, kind: AccessKind): DataView | undefined {
    if (!(la >= 0 && la < USER_END)) return undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return this.mem.lookup(la, kind, true);
      } catch (e) {
        if (!(e instanceof Fault)) throw e;
        if (attempt > 0 || !this.faultIn(la)) return undefined;
      }
    }
    return undefined;
  }

  private rangeOk(la: number, len: number): boolean {
    return Number.isSafeInteger(la) && Number.isSafeInteger(len) && len >= 0 && la >= 0 && la + len <= USER_END;
  }

  /** Copies `len` guest bytes in, with the guest's read permission; undefined on a bad pointer. */
  read(la: number, len: number): Uint8Array | undefined {
    if (!this.rangeOk(la, len)) return undefined;
    const out = new Uint8Array(len);
    let pos = 0;
    while (pos < len) {
      const a = la + pos;
      const v = this.view(a, AccessKind.Read);
      if (v === undefined) return undefined;
      const off = a % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, len - pos);
      out.set(new Uint8Array(v.buffer, v.byteOffset + off, n), pos);
      pos += n;
    }
    return out;
  }

  /** The guest could write all of [la, la+len) (reserved pages are materialised). */
  writable(la: number, len: number): boolean {
    if (!this.rangeOk(la, len)) return false;
    for (let a = la; a < la + len; a = pageDown(a) + PAGE_SIZE) if (this.view(a, AccessKind.Write) === undefined) return false;
    return true;
  }

  /** Copies bytes out to the guest, with the guest's write permission; false on a bad pointer (nothing written). */
  write(la: number, bytes: Uint8Array): boolean {
    const len = bytes.length;
    if (!this.rangeOk(la, len)) return false;
    const views: DataView[] = [];
    for (let pos = 0; pos < len; ) {
      const a = la + pos;
      const v = this.view(a, AccessKind.Write);
      if (v === undefined) return false;
      views.push(v);
      pos += Math.min(PAGE_SIZE - (a % PAGE_SIZE), len - pos);
    }
    let pos = 0;
    for (const v of views) {
      const off = (la + pos) % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, len - pos);
      new Uint8Array(v.buffer, v.byteOffset + off, n).set(bytes.subarray(pos, pos + n));
      pos += n;
    }
    return true;
  }

  /** A NUL-terminated string of at most `max` bytes (without the NUL); undefined if bad or too long. */
  readCString(la: number, max = 4096): Uint8Array | undefined {
    if (!(Number.isSafeInteger(la) && la >= 0 && la < USER_END)) return undefined;
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let a = la; total < max; ) {
      const v = this.view(a, AccessKind.Read);
      if (v === undefined) return undefined;
      const off = a % PAGE_SIZE;
      const page = new Uint8Array(v.buffer, v.byteOffset + off, PAGE_SIZE - off);
      const nul = page.indexOf(0);
      const take = nul >= 0 ? nul : page.length;
      parts.push(page.subarray(0, Math.min(take, max - total)));
      total += take;
      if (nul >= 0) break;
      a += page.length;
    }
    if (total >= max) return undefined;
    const out = new Uint8Array(total);
    let pos = 0;
    for (const p of parts) {
      out.set(p, pos);
      pos += p.length;
    }
    return out;
  }

  /** Host-side store ignoring permissions (the loader); pages must exist or be reserved. */
  poke(la: number, bytes: Uint8Array): void {
    for (let pg = pageOf(la), last = pageOf(la + Math.max(bytes.length, 1) - 1); pg <= last; pg++) this.faultIn(pg * PAGE_SIZE);
    this.mem.writeBytes(la, bytes);
  }
}
