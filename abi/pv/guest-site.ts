/**
 * Where in the guest something happened, for `--strict` observations and the conformance run's
 * `pv.strict` check (docs/conformance.md): the vCPU, the RIP of the instruction (the `syscall`
 * of a hypercall, the instruction Xen emulated or whose #PF it fixed up), the instruction's bytes
 * as the guest's page tables showed them at that moment (the page may change or go later), and,
 * for a hypercall made through a stub, where the stub was called from.
 *
 * Stubs: Xen's hypercall page for PV64 (`push %rcx; push %r11; mov $nr,%eax; syscall; pop %r11;
 * pop %rcx; ret`, Xen `hypercall_page_initialise_ring3_kernel`) and Linux's `xen_hypercall_pv`
 * (the same push/syscall/pop sequence) leave the return address 16 bytes above RSP at the
 * `syscall`; a stub that is `syscall; ret` leaves it at RSP. A raw `syscall` inline in a function
 * has no caller: its RIP is in the function that made the call.
 *
 * Reading is side-effect free (x86/paging.ts `translate`: no accessed or dirty bit set, no TLB
 * entry filled), so collecting observations changes nothing the guest can see.
 */
import { AccessKind, PAGE_SIZE } from '../../x86/memory.js';
import type { PvVcpu } from './vcpu.js';

export interface GuestSite {
  readonly vcpu: number;
  /** Sign-extended linear address. */
  readonly rip: number;
  /** Up to 15 bytes at `rip` (fewer when the rest was not mapped). */
  readonly bytes: Uint8Array;
  /** A hypercall through a stub: the return address into the caller and the 16 bytes before it (the call is their tail). */
  readonly caller?: { readonly ret: number; readonly before: Uint8Array };
}

/** Bytes at `la` through the vCPU's current page tables, without side effects; stops at the first unmapped byte. */
export function peekGuest(v: PvVcpu, la: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const mmu = v.cpu.mmu;
  if (mmu === undefined) return out.subarray(0, 0);
  let done = 0;
  while (done < n) {
    const a = la + done;
    if (!Number.isSafeInteger(a) || a >= 0x800000000000 || a < -0x800000000000) break;
    const t = mmu.translate(a, AccessKind.Read, false);
    if (!('pa' in t)) break;
    const frame = mmu.phys.frame(Math.floor(t.pa / PAGE_SIZE));
    if (frame === undefined) break;
    const off = t.pa % PAGE_SIZE;
    const k = Math.min(PAGE_SIZE - off, n - done);
    out.set(new Uint8Array(frame.buffer, frame.byteOffset + off, k), done);
    done += k;
  }
  return out.subarray(0, done);
}

function u64(b: Uint8Array): number | undefined {
  if (b.length < 8) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, 8);
  return dv.getInt32(4, true) * 4294967296 + dv.getUint32(0, true);
}

/** The instruction at `rip` (an emulated one, a faulting one). */
export function siteAt(v: PvVcpu, rip: number): GuestSite {
  return { vcpu: v.id, rip, bytes: peekGuest(v, rip, 15) };
}

/** A hypercall's `syscall` at `rip` (2 bytes), RSP as the instruction left it. */
export function hypercallSite(v: PvVcpu, rip: number): GuestSite {
  const bytes = peekGuest(v, rip, 15);
  let slot: number | undefined;
  if (bytes[2] === 0x41 && bytes[3] === 0x5b && bytes[4] === 0x59) slot = 16; // pop %r11; pop %rcx
  else if (bytes[2] === 0xc3) slot = 0; // ret
  if (slot === undefined) return { vcpu: v.id, rip, bytes };
  const ret = u64(peekGuest(v, v.reg(4) + slot, 8));
  if (ret === undefined) return { vcpu: v.id, rip, bytes };
  return { vcpu: v.id, rip, bytes, caller: { ret, before: peekGuest(v, ret - 16, 16) } };
}
