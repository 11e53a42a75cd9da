/**
 * A simple LinearMemory: 4 KiB pages created on demand by `map`, each with read/write/execute
 * permission, and #PF with the architectural error code for anything else. Used by tests, the
 * differential harness and the user-mode runner; the Xen layer brings its own (paging over the
 * frame pool).
 */
import { Fault, PFEC_I, PFEC_P, PFEC_U, PFEC_W, PF_VEC } from './fault.js';
import { AccessKind, PAGE_SIZE, pageOf, type LinearMemory } from './memory.js';

export const PROT_R = 1;
export const PROT_W = 2;
export const PROT_X = 4;

interface Page {
  readonly view: DataView;
  prot: number;
}

export class FlatMemory implements LinearMemory {
  private readonly pages = new Map<number, Page>();

  /** Maps [la, la+len) (rounded out to pages) with `prot`; existing pages keep their contents. */
  map(la: number, len: number, prot: number): void {
    const first = pageOf(la);
    const last = pageOf(la + Math.max(len, 1) - 1);
    for (let p = first; p <= last; p++) {
      const page = this.pages.get(p);
      if (page !== undefined) page.prot = prot;
      else this.pages.set(p, { view: new DataView(new ArrayBuffer(PAGE_SIZE)), prot });
    }
  }

  unmap(la: number, len: number): void {
    const first = pageOf(la);
    const last = pageOf(la + Math.max(len, 1) - 1);
    for (let p = first; p <= last; p++) this.pages.delete(p);
  }

  protect(la: number, len: number, prot: number): void {
    const first = pageOf(la);
    const last = pageOf(la + Math.max(len, 1) - 1);
    for (let p = first; p <= last; p++) {
      const page = this.pages.get(p);
      if (page !== undefined) page.prot = prot;
    }
  }

  isMapped(la: number): boolean {
    return this.pages.has(pageOf(la));
  }

  /** Host-side copy in (ignores permissions; the pages must be mapped). */
  writeBytes(la: number, bytes: Uint8Array): void {
    for (let k = 0; k < bytes.length; k++) this.hostPage(la + k).setUint8((la + k) & 0xfff, bytes[k] as number);
  }

  readBytes(la: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let k = 0; k < len; k++) out[k] = this.hostPage(la + k).getUint8((la + k) & 0xfff);
    return out;
  }

  private hostPage(la: number): DataView {
    const p = this.pages.get(pageOf(la));
    if (p === undefined) throw new Error(`host access to unmapped guest address ${la.toString(16)}`);
    return p.view;
  }

  lookup(la: number, kind: AccessKind, user: boolean): DataView {
    const p = this.pages.get(pageOf(la));
    const u = user ? PFEC_U : 0;
    const why = kind === AccessKind.Write ? PFEC_W : kind === AccessKind.Fetch ? PFEC_I : 0;
    if (p === undefined) throw new Fault(PF_VEC, u | why, la);
    const need = kind === AccessKind.Write ? PROT_W : kind === AccessKind.Fetch ? PROT_X : PROT_R;
    if ((p.prot & need) === 0) throw new Fault(PF_VEC, PFEC_P | u | why, la);
    return p.view;
  }
}
