/**
 * A small PV64 machine for the time, timer, scheduler and vcpu_op tests: 16 MiB of RAM
 * identity-mapped with 2 MiB user pages, one domain with shared_info and event channels, vCPU 0
 * attached to Xen, and a few hand-assembled instruction helpers.
 */
import { Domain } from '../../abi/hv/domain.js';
import { Xen, type XenOptions } from '../../abi/hv/xen.js';
import { PvVcpu } from '../../abi/pv/vcpu.js';
import type { PhysicalMemory } from '../../x86/memory.js';

export const MiB = 1 << 20;
export const L4 = 1;
export const CODE = 0x100000;
export const CODE1 = 0x180000;
export const DATA = 0x200000;
export const STACK = 0x300000;
export const STACK1 = 0x380000;
export const EVENT_CB = 0x400000;
export const SHARED_INFO_PFN = 0x500;
export const SPARE_PFN = 0x600;

export class Ram implements PhysicalMemory {
  readonly buf = new ArrayBuffer(16 * MiB);
  readonly dv = new DataView(this.buf);
  private readonly frames: DataView[] = [];
  frame(pfn: number): DataView | undefined {
    return pfn >= 0 && pfn < 4096 ? (this.frames[pfn] ??= new DataView(this.buf, pfn * 4096, 4096)) : undefined;
  }
  mmioRead(): number {
    return -1;
  }
  mmioWrite(): void {}
  bytes(pa: number, b: readonly number[]): void {
    new Uint8Array(this.buf, pa, b.length).set(b);
  }
  u64(pa: number): bigint {
    return this.dv.getBigUint64(pa, true);
  }
  i64(pa: number): number {
    return Number(this.dv.getBigInt64(pa, true));
  }
}

export interface World {
  xen: Xen;
  dom: Domain;
  v: PvVcpu;
  ram: Ram;
  si: DataView;
}

export const FEATURES = new Set(['base', 'sse', 'sse2'] as const);

/** A machine with one domain; with `on`, a further domain (id 2, its own RAM) on that Xen. */
export function world(opts: XenOptions = {}, maxVcpus = 2, on?: Xen): World {
  const ram = new Ram();
  ram.dv.setBigUint64(L4 * 4096, 0x2000n | 7n, true);
  ram.dv.setBigUint64(0x2000, 0x3000n | 7n, true);
  for (let k = 0; k < 8; k++) ram.dv.setBigUint64(0x3000 + k * 8, BigInt(k * 2 * MiB) | 0x87n, true);
  const xen = on ?? new Xen(FEATURES, opts);
  const dom = new Domain(on === undefined ? 1 : 2, 'time');
  dom.machine = ram;
  dom.maxVcpus = maxVcpus;
  const v = new PvVcpu(0, ram, xen, FEATURES);
  xen.attach(v, dom);
  const si = ram.frame(SHARED_INFO_PFN) as DataView;
  xen.addEvents(dom, si);
  v.guestTable = L4;
  v.loadRoot();
  v.setReg(4, STACK);
  v.eventCallback = EVENT_CB;
  return { xen, dom, v, ram, si };
}

/** Loads guest code at `at` and points vCPU `v` there. */
export function load(w: World, at: number, code: readonly number[], v: PvVcpu = w.v): void {
  w.ram.bytes(at, code);
  v.cpu.invalidateAllCode();
  v.cpu.rip = at;
}

function le64(v: number | bigint): number[] {
  const b = BigInt.asUintN(64, BigInt(v));
  return Array.from({ length: 8 }, (_, k) => Number((b >> BigInt(8 * k)) & 0xffn));
}

/** Hand assembly. Register numbers: 0 rax, 1 rcx, 2 rdx, 3 rbx, 4 rsp, 5 rbp, 6 rsi, 7 rdi, 8-15. */
export const asm = {
  /** mov r64, imm64 */
  mov: (r: number, v: number | bigint): number[] => [0x48 | (r >= 8 ? 1 : 0), 0xb8 + (r & 7), ...le64(v)],
  syscall: [0x0f, 0x05],
  /** rdtsc; shl rdx, 32; or rax, rdx */
  rdtsc64: [0x0f, 0x31, 0x48, 0xc1, 0xe2, 0x20, 0x48, 0x09, 0xd0],
  /** mov rbx, addr; mov [rbx], rax */
  storeRax: (addr: number): number[] => [...asm.mov(3, addr), 0x48, 0x89, 0x03],
  /** mov rbx, addr; inc qword [rbx] */
  incMem: (addr: number): number[] => [...asm.mov(3, addr), 0x48, 0xff, 0x03],
  jmpSelf: [0xeb, 0xfe],
  /** jmp rel8 back to the start of a sequence of `len` bytes ending with this 2-byte jump */
  jmpBack: (len: number): number[] => [0xeb, (0x100 - (len + 2)) & 0xff],
  /** Hypercall `nr` with up to five arguments (RDI RSI RDX R10 R8); the result stays in RAX. */
  hc: (nr: number, ...args: (number | bigint)[]): number[] => {
    const out = asm.mov(0, nr);
    [7, 6, 2, 10, 8].forEach((r, k) => {
      const a = args[k];
      if (a !== undefined) out.push(...asm.mov(r, a));
    });
    out.push(...asm.syscall);
    return out;
  },
};

export const HC = { set_timer_op: 15, vcpu_op: 24, sched_op: 29, event_channel_op: 32 } as const;

/** A zero u32 at `at` (the SHUTDOWN_poweroff reason) and the code that shuts the domain down with it. */
export function shutdownCode(w: World, at: number): number[] {
  w.ram.dv.setUint32(at, 0, true);
  return asm.hc(HC.sched_op, 2, at);
}

/** RAX of a finished hypercall as a signed number. */
export function signed(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}
