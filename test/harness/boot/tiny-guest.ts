/**
 * A tiny PV64 guest kernel written byte by byte for the boot tests: an ELF with Xen notes whose
 * code writes a line with CONSOLEIO_write, a line into its console ring (found as a real guest
 * finds it: start_info's console MFN through the M2P, then its VA from VIRT_BASE) with an
 * EVTCHNOP_send, and then ends the way the test asks (SCHEDOP_shutdown with a reason and
 * code, a loop, SCHEDOP_block with no timer left, a watchdog, an invalid instruction).
 *
 * Hypercalls are made as a 64-bit PV kernel without a hypercall page makes them: SYSCALL with
 * the number in RAX and the arguments in RDI, RSI, RDX.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { layout } from '../../../abi/public/index.js';
import { buildElf, num, str, type NoteSpec } from '../builder/elf-builder.js';

export const VIRT_BASE = 0xffffffff80000000n;
const LOAD_PADDR = 0x2000n;
const M2P = 0xffff800000000000n;

const SI = layout('start_info', 'x86_64');
const SI_CONSOLE_MFN = SI.field('console.domU.mfn').offset;
const SI_CONSOLE_EVTCHN = SI.field('console.domU.evtchn').offset;

export type TinyEnd =
  | { readonly shutdown: number; readonly code?: number }
  | { readonly watchdog: number }
  | 'loop'
  | 'block'
  | 'ud2';

export interface TinyGuest {
  /** Written with CONSOLEIO_write. */
  readonly xenLog?: string;
  /** Written into the console ring. */
  readonly console?: string;
  /** Notify the console backend after the ring write (default true). */
  readonly notify?: boolean;
  readonly end: TinyEnd;
}

/** Just enough of an x86-64 assembler: bytes, and RIP-relative LEAs to data placed after the code. */
class Asm {
  readonly code: number[] = [];
  private readonly data: { bytes: Uint8Array; fixups: number[] }[] = [];

  b(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }
  imm32(v: number): this {
    return this.b(...num(v >>> 0, 4));
  }
  imm64(v: bigint): this {
    return this.b(...num(BigInt.asUintN(64, v), 8));
  }
  /** mov r32, imm32 for eax/ecx/edx/esi/edi (B8+r). */
  mov32(reg: 'eax' | 'ecx' | 'edx' | 'esi' | 'edi', v: number): this {
    return this.b(0xb8 + { eax: 0, ecx: 1, edx: 2, esi: 6, edi: 7 }[reg]).imm32(v);
  }
  /** lea rdx/rsi, [rip + data] (48 8D modrm disp32), the data appended after the code. */
  lea(reg: 'rdx' | 'rsi', bytes: Uint8Array): this {
    this.b(0x48, 0x8d, reg === 'rdx' ? 0x15 : 0x35);
    const fix = this.code.length;
    this.imm32(0);
    this.data.push({ bytes, fixups: [fix] });
    return this;
  }
  syscall(): this {
    return this.b(0x0f, 0x05);
  }
  hypercall(nr: number): this {
    return this.mov32('eax', nr).syscall();
  }
  /** Code then data; each LEA's displacement patched (relative to the end of its 4 bytes). */
  assemble(): Uint8Array {
    const out = [...this.code];
    for (const d of this.data) {
      const at = out.length;
      for (const f of d.fixups) {
        const disp = at - (f + 4);
        out.splice(f, 4, ...num(disp, 4));
      }
      out.push(...d.bytes);
    }
    return Uint8Array.from(out);
  }
}

const HYPERVISOR_console_io = 18;
const HYPERVISOR_sched_op = 29;
const HYPERVISOR_event_channel_op = 32;
const HYPERVISOR_vcpu_op = 24;
const VCPUOP_stop_periodic_timer = 7;
const CONSOLEIO_write = 0;
const SCHEDOP_block = 1;
const SCHEDOP_shutdown = 2;
const SCHEDOP_shutdown_code = 5;
const SCHEDOP_watchdog = 6;
const EVTCHNOP_send = 4;

/** The guest's code and data (entry at the first byte). */
export function tinyGuestCode(g: TinyGuest): Uint8Array {
  const a = new Asm();
  a.b(0x48, 0x89, 0xf3); // mov rbx, rsi: start_info
  if (g.xenLog !== undefined) {
    const msg = new TextEncoder().encode(g.xenLog);
    a.mov32('edi', CONSOLEIO_write).mov32('esi', msg.length).lea('rdx', msg).hypercall(HYPERVISOR_console_io);
  }
  if (g.console !== undefined) {
    const msg = new TextEncoder().encode(g.console);
    if (msg.length > 2048) throw new Error('tiny guest: the ring holds 2048 bytes');
    a.b(0x48, 0x8b, 0x83).imm32(SI_CONSOLE_MFN); // mov rax, [rbx + console.domU.mfn]
    a.b(0x48, 0xb9).imm64(M2P); // mov rcx, MACH2PHYS_VIRT_START
    a.b(0x48, 0x8b, 0x04, 0xc1); // mov rax, [rcx + rax*8]: the PFN
    a.b(0x48, 0xc1, 0xe0, 0x0c); // shl rax, 12
    a.b(0x48, 0xb9).imm64(VIRT_BASE); // mov rcx, VIRT_BASE
    a.b(0x48, 0x01, 0xc8); // add rax, rcx
    a.b(0x49, 0x89, 0xc4); // mov r12, rax: the ring page
    a.lea('rsi', msg);
    a.b(0x49, 0x8d, 0xbc, 0x24).imm32(1024); // lea rdi, [r12 + 1024]: out[]
    a.mov32('ecx', msg.length).b(0xf3, 0xa4); // rep movsb
    a.b(0x41, 0xc7, 0x84, 0x24).imm32(3084).imm32(msg.length); // mov dword [r12 + out_prod], len
    if (g.notify !== false) {
      a.b(0x8b, 0x83).imm32(SI_CONSOLE_EVTCHN); // mov eax, [rbx + console.domU.evtchn]
      a.b(0x50); // push rax: evtchn_send { port }
      a.b(0x48, 0x89, 0xe6); // mov rsi, rsp
      a.mov32('edi', EVTCHNOP_send).hypercall(HYPERVISOR_event_channel_op);
    }
  }
  const e = g.end;
  if (e === 'loop') {
    a.b(0xeb, 0xfe); // jmp $
  } else if (e === 'ud2') {
    a.b(0x0f, 0x0b);
  } else if (e === 'block') {
    // Without Xen's default 10 ms periodic timer nothing can ever wake the vCPU.
    a.mov32('edi', VCPUOP_stop_periodic_timer).mov32('esi', 0).mov32('edx', 0).hypercall(HYPERVISOR_vcpu_op);
    a.mov32('edi', SCHEDOP_block).hypercall(HYPERVISOR_sched_op).b(0xeb, 0xf2); // and again (back 14 bytes)
  } else if ('watchdog' in e) {
    a.b(0x48, 0xb8).imm64(BigInt(e.watchdog) << 32n); // mov rax, { id 0, timeout }
    a.b(0x50, 0x48, 0x89, 0xe6); // push rax; mov rsi, rsp
    a.mov32('edi', SCHEDOP_watchdog).hypercall(HYPERVISOR_sched_op);
    a.mov32('edi', SCHEDOP_block).hypercall(HYPERVISOR_sched_op).b(0xeb, 0xf2);
  } else {
    if (e.code !== undefined) {
      a.b(0x68).imm32(e.code).b(0x48, 0x89, 0xe6); // push code; mov rsi, rsp
      a.mov32('edi', SCHEDOP_shutdown_code).hypercall(HYPERVISOR_sched_op);
    }
    a.b(0x68).imm32(e.shutdown).b(0x48, 0x89, 0xe6); // push reason; mov rsi, rsp
    a.mov32('edi', SCHEDOP_shutdown).hypercall(HYPERVISOR_sched_op);
    a.b(0xeb, 0xfe);
  }
  return a.assemble();
}

/** The notes a minimal PV64 kernel carries. */
function notes(entry: bigint): NoteSpec[] {
  return [
    { type: 6, desc: str('xenlab-tiny') }, // GUEST_OS
    { type: 5, desc: str('xen-3.0') }, // XEN_VERSION
    { type: 8, desc: str('generic') }, // LOADER
    { type: 3, desc: num(VIRT_BASE) }, // VIRT_BASE
    { type: 4, desc: num(0n) }, // PADDR_OFFSET
    { type: 1, desc: num(entry) }, // ENTRY
  ];
}

/** The ELF image of `g`. */
export function tinyGuestImage(g: TinyGuest): Uint8Array {
  const code = tinyGuestCode(g);
  const va = VIRT_BASE + LOAD_PADDR;
  return buildElf({
    entry: va,
    loads: [{ paddr: LOAD_PADDR, vaddr: va, size: code.length, flags: 7, data: code }],
    segmentNotes: notes(va),
  });
}

/** Writes the image and a config beside it; returns the config's path. */
export function writeTinyGuest(dir: string, name: string, g: TinyGuest, cfgExtra = ''): string {
  writeFileSync(join(dir, `${name}.elf`), tinyGuestImage(g));
  const cfg = join(dir, `${name}.cfg`);
  writeFileSync(cfg, `name = "${name}"\ntype = "pv"\nkernel = "${name}.elf"\nmemory = 16\n${cfgExtra}`);
  return cfg;
}
