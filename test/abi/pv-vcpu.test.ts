/**
 * The PV64 CPU model (abi/pv/vcpu.ts) against the reference's §3: hypercalls through SYSCALL in
 * kernel mode, bounce frames for exceptions from kernel and user mode, the syscall callback and
 * the iret hypercall with the page-table and GS-base toggle, event upcalls, the forced-emulation
 * prefix and the emulated MSR writes. Guest code is hand-assembled; page tables are identity
 * maps built here (the PV MMU's validation is tested on its own).
 */
import { describe, expect, it } from 'vitest';
import { FLAT_KERNEL_CS64, FLAT_KERNEL_SS64, NO_RETURN, PvVcpu, type PvHypervisor, type VcpuInfoRef } from '../../abi/pv/vcpu.js';
import { GuestIoPorts } from '../../abi/pv/io.js';
import { TestRam } from '../support/ram.js';

const MiB = 1 << 20;

class Ram extends TestRam {
  constructor() {
    super(16 * MiB);
  }
}

// Machine layout: kernel L4 at frame 1, user L4 at frame 5 (both identity-map the first 16 MiB
// with 2 MiB user pages; the user one leaves out 8-16 MiB, "the kernel half").
const KL4 = 1;
const UL4 = 5;
const KCODE = 0x100000;
const UCODE = 0x200000;
const KSTACK = 0x900000; // kernel_sp: inside the kernel-only half
const USTACK = 0x300000;
const HANDLERS = 0xa00000; // handler for vector v at HANDLERS + v * 16: a hypercall, which stops the test
const EVENT_CB = 0xa10000;
const SYSCALL_CB = 0xa20000;

interface Setup {
  v: PvVcpu;
  ram: Ram;
  calls: number[][];
  crashes: string[];
  info: { pending: number; mask: number; cr2: number };
}

function setup(hypercall?: (v: PvVcpu, nr: number) => number | typeof NO_RETURN, opts: { architecturalIopl?: boolean } = {}): Setup {
  const ram = new Ram();
  const calls: number[][] = [];
  const crashes: string[] = [];
  const info = { pending: 0, mask: 0, cr2: 0 };
  const ports = new GuestIoPorts();
  const hv: PvHypervisor = {
    hypercall: (v, nr) => {
      calls.push([nr, v.arg(1), v.arg(2), v.arg(3), v.arg(4), v.arg(5)]);
      if (hypercall !== undefined) return hypercall(v, nr);
      if (nr === 23) return v.iret();
      v.cpu.stopRequested = true;
      return 42;
    },
    cpuid: (_v, leaf) => (leaf === 0x40000000 ? [0x40000005, 0x566e6558, 0x65584d4d, 0x4d4d566e] : [1, 2, 3, 4]),
    rdmsr: () => undefined,
    wrmsr: (v, index, lo, hi) => {
      if (index !== 0xc0000101) return false;
      v.cpu.segBase[5] = hi * 4294967296 + (lo >>> 0);
      return true;
    },
    rdtsc: (v) => [v.cpu.retired | 0, 0],
    crash: (v, reason) => {
      crashes.push(reason);
      v.cpu.stopRequested = true;
    },
    ioPorts: () => ports,
    architecturalIopl: () => opts.architecturalIopl === true,
  };
  const v = new PvVcpu(0, ram, hv, ['base', 'fpu', 'sse', 'sse2']);
  const vi: VcpuInfoRef = {
    upcallPending: () => info.pending,
    upcallMask: () => info.mask,
    setUpcallMask: (m) => {
      info.mask = m;
    },
    setCr2: (a) => {
      info.cr2 = a;
    },
  };
  v.vcpuInfo = vi;
  for (const [l4, top] of [[KL4, 8], [UL4, 4]] as const) {
    const l3 = l4 + 1;
    const l2 = l4 + 2;
    ram.u64(l4 * 4096, BigInt(l3 * 4096) | 7n);
    ram.u64(l3 * 4096, BigInt(l2 * 4096) | 7n);
    for (let k = 0; k < top; k++) ram.u64(l2 * 4096 + k * 8, BigInt(k * 2 * MiB) | 0x87n);
  }
  v.guestTable = KL4;
  v.guestTableUser = UL4;
  v.kernelSp = KSTACK;
  v.loadRoot();
  for (let t = 0; t < 256; t++) {
    v.trapAddress[t] = HANDLERS + t * 16;
    ram.bytes(HANDLERS + t * 16, [0x0f, 0x05]);
  }
  v.trapAddress[0x80] = HANDLERS + 0x80 * 16;
  v.trapFlags[0x80] = 3;
  v.eventCallback = EVENT_CB;
  v.syscallCallback = SYSCALL_CB;
  ram.bytes(EVENT_CB, [0x0f, 0x05]);
  ram.bytes(SYSCALL_CB, [0x0f, 0x05]);
  v.setReg(4, KSTACK - 0x200);
  return { v, ram, calls, crashes, info };
}

/** Runs until the first trap-table delivery of `hlt`'s #GP ends in a crash-free stop, or `limit`. */
function run(s: Setup, at: number, code: readonly number[], limit = 200): void {
  s.ram.bytes(at, code);
  s.v.cpu.rip = at;
  s.v.cpu.run(limit);
}

/** The frame words at RSP. */
function frame(s: Setup, n: number): bigint[] {
  const sp = s.v.reg(4);
  return Array.from({ length: n }, (_, k) => s.ram.get64(sp + k * 8));
}

describe('PV64 vCPU: hypercalls and bounce frames', () => {
  it('SYSCALL in kernel mode is a hypercall: number in RAX, arguments in RDI RSI RDX R10 R8, result in RAX', () => {
    const s = setup();
    const v = s.v;
    v.setReg(0, 17);
    [7, 6, 2, 10, 8].forEach((r, k) => v.setReg(r, k + 1));
    run(s, KCODE, [0x0f, 0x05, 0x90]);
    expect(s.calls).toEqual([[17, 1, 2, 3, 4, 5]]);
    expect(v.reg(0)).toBe(42);
    expect(v.reg(1)).toBe(KCODE + 2); // RCX as SYSCALL leaves it
    expect(v.kernelMode).toBe(true);
  });

  it('#UD in kernel mode: frame on the interrupted stack, CS RPL cleared, saved mask in bits 39:32', () => {
    const s = setup();
    s.info.mask = 1;
    s.v.setReg(1, 0x1111);
    s.v.setReg(11, 0x2222);
    run(s, KCODE, [0x0f, 0x0b]);
    const f = frame(s, 7);
    expect(f[0]).toBe(0x1111n);
    expect(f[1]).toBe(0x2222n);
    expect(f[2]).toBe(BigInt(KCODE));
    expect(f[3]).toBe(BigInt(FLAT_KERNEL_CS64 & ~3) | (1n << 32n));
    expect(Number(f[4]) & 0x200).toBe(0); // IF = !saved mask
    expect(f[5]).toBe(BigInt(KSTACK - 0x200));
    expect(f[6]).toBe(BigInt(FLAT_KERNEL_SS64));
    expect(s.v.cpu.rip).toBe(HANDLERS + 6 * 16 + 2); // the handler ran (its hypercall stopped the test)
  });

  it('the forced-emulation prefix runs Xen CPUID and skips seven bytes', () => {
    const s = setup();
    s.v.setReg(0, 0x40000000);
    run(s, KCODE, [0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2, 0x0f, 0x05]);
    expect(s.v.cpu.reg32(3)).toBe(0x566e6558); // "XenV"
    expect(s.calls.length).toBe(1); // reached the SYSCALL after the seven bytes
  });

  it('WRMSR to GS_BASE in kernel mode is emulated after its #GP', () => {
    const s = setup();
    s.v.setReg(1, 0xc0000101);
    s.v.setReg(0, 0x1000);
    s.v.setReg(2, 0xffff8880);
    run(s, KCODE, [0x0f, 0x30, 0x0f, 0x05]);
    expect(s.v.cpu.segBase[5]).toBe(-0x777ffffff000); // 0xffff888000001000
    expect(s.calls.length).toBe(1);
  });
});

describe('PV64 vCPU: user mode', () => {
  function toUser(s: Setup): void {
    s.v.toggleMode();
    const c = s.v.cpu;
    c.loadSegmentCache(1, FLAT_KERNEL_CS64, 0, 0xffffffff, 0xafb);
    s.v.setReg(4, USTACK);
  }

  it('a user SYSCALL switches to the kernel table and GS base and bounces to the syscall callback', () => {
    const s = setup();
    s.v.cpu.segBase[5] = 0x5000; // kernel GS base
    toUser(s);
    expect(s.v.cpu.segBase[5]).toBe(0);
    expect(s.v.cpu.cr3).toBe(UL4 * 4096);
    run(s, UCODE, [0x0f, 0x05]);
    const v = s.v;
    expect(v.kernelMode).toBe(true);
    expect(v.cpu.cr3).toBe(KL4 * 4096);
    expect(v.cpu.segBase[5]).toBe(0x5000);
    const sysFrame = KSTACK - 56;
    expect(v.reg(4)).toBe(sysFrame);
    expect(s.ram.get64(sysFrame + 16)).toBe(BigInt(UCODE + 2)); // RIP after the SYSCALL
    expect(s.ram.get64(sysFrame + 40)).toBe(BigInt(USTACK));
    expect(s.calls.length).toBe(1); // the callback's own hypercall
    expect(v.cpu.rip).toBe(SYSCALL_CB + 2);
  });

  it('#PF from user mode: CR2 in vcpu_info, the user bit from the guest mode', () => {
    const s = setup();
    toUser(s);
    s.v.setReg(3, 10 * MiB); // kernel half: not mapped in the user table
    run(s, UCODE, [0x48, 0x8b, 0x03]);
    expect(s.info.cr2).toBe(10 * MiB);
    const f = frame(s, 8);
    expect(f[2]).toBe(4n); // U, not present, read
    expect(f[3]).toBe(BigInt(UCODE));
  });

  it('INT 0x80 from user mode goes straight to its handler; INT 0x81 (DPL 0) is #GP(0x40a)', () => {
    const s = setup();
    toUser(s);
    run(s, UCODE, [0xcd, 0x80]);
    expect(s.v.kernelMode).toBe(true);
    expect(s.ram.get64(KSTACK - 56 + 16)).toBe(BigInt(UCODE + 2));
    const s2 = setup();
    toUser(s2);
    run(s2, UCODE, [0xcd, 0x81]);
    expect(s2.ram.get64(KSTACK - 64 + 16)).toBe(0x40an);
    expect(s2.ram.get64(KSTACK - 64 + 24)).toBe(BigInt(UCODE));
  });

  it('the iret hypercall returns to user mode with the frame\'s registers and sets the mask from IF', () => {
    const s = setup();
    const v = s.v;
    // iret_context on the kernel stack: rax r11 rcx flags rip cs rflags rsp ss.
    const sp = KSTACK - 0x400;
    [7n, 0x11n, 0x22n, 0n, BigInt(UCODE), 0xe033n, 0x202n, BigInt(USTACK), 0xe02bn].forEach((w, k) => s.ram.u64(sp + k * 8, w));
    v.setReg(4, sp);
    v.setReg(0, 23);
    s.info.mask = 1;
    s.ram.bytes(UCODE, [0x90, 0x0f, 0x0b]);
    run(s, KCODE, [0x0f, 0x05], 1);
    expect(v.kernelMode).toBe(false);
    expect(v.cpu.cr3).toBe(UL4 * 4096);
    expect(v.reg(0)).toBe(7);
    expect(v.reg(11)).toBe(0x11);
    expect(v.reg(1)).toBe(0x22);
    expect(v.reg(4)).toBe(USTACK);
    expect(s.info.mask).toBe(0);
    expect(v.cpu.rip).toBe(UCODE);
  });

  it('a pending, unmasked event is delivered to the event callback with events masked', () => {
    const s = setup();
    s.info.pending = 1;
    s.v.kick();
    run(s, KCODE, [0x90, 0x90, 0x90]);
    expect(s.info.mask).toBe(1);
    expect(s.v.cpu.rip).toBe(EVENT_CB + 2);
    const f = frame(s, 7);
    expect(f[2]).toBe(BigInt(KCODE));
    expect((f[3] ?? 1n << 32n) >> 32n).toBe(0n); // saved mask 0
  });

  it('a missing handler crashes the domain with a reason', () => {
    const s = setup();
    s.v.trapAddress[6] = 0;
    run(s, KCODE, [0x0f, 0x0b]);
    expect(s.crashes).toEqual(['no guest handler for vector 6']);
  });
});

describe('PV64 vCPU: what probe-traps found', () => {
  it('the bounce frame carries RCX and R11 bit for bit, also above 2^53', () => {
    const s = setup();
    s.v.cpu.setReg64(1, 0x3c3c4c4c, 0x1c1c2c2c);
    s.v.cpu.setReg64(11, 0x3b3b4b4b, 0x1b1b2b2b);
    run(s, KCODE, [0x0f, 0x0b]);
    const f = frame(s, 2);
    expect(f).toEqual([0x1c1c2c2c3c3c4c4cn, 0x1b1b2b2b3b3b4b4bn]);
  });

  it('the iret hypercall restores RAX, R11 and RCX bit for bit', () => {
    const s = setup();
    const v = s.v;
    const sp = KSTACK - 0x400;
    [0x5a5a5a5a12345678n, 0xfedcba9876543211n, 0x8000000000000001n, 0n, BigInt(KCODE + 0x10), 0xe030n, 0x202n, BigInt(KSTACK - 0x200), 0xe02bn].forEach((w, k) =>
      s.ram.u64(sp + k * 8, w),
    );
    v.setReg(4, sp);
    v.setReg(0, 23);
    run(s, KCODE, [0x0f, 0x05], 1);
    const c = v.cpu;
    const r64 = (n: number): bigint => (BigInt(c.r[2 * n + 1] as number) << 32n) | BigInt((c.r[2 * n] as number) >>> 0);
    expect([r64(0), r64(11), r64(1)].map((x) => BigInt.asUintN(64, x))).toEqual([0x5a5a5a5a12345678n, 0xfedcba9876543211n, 0x8000000000000001n]);
    expect(c.rip).toBe(KCODE + 0x10);
  });

  it('with VGCF_in_syscall the iret hypercall returns as SYSRET: RCX = the new RIP, R11 = the new RFLAGS', () => {
    const s = setup();
    const v = s.v;
    const sp = KSTACK - 0x400;
    // rflags 0x3083: IOPL 3 in the frame goes, IF is forced on.
    [7n, 0x11n, 0x22n, 0x100n, BigInt(UCODE), 0xe033n, 0x3083n, BigInt(USTACK), 0xe02bn].forEach((w, k) => s.ram.u64(sp + k * 8, w));
    v.setReg(4, sp);
    v.setReg(0, 23);
    run(s, KCODE, [0x0f, 0x05], 1);
    expect(v.kernelMode).toBe(false);
    expect(v.reg(1)).toBe(UCODE);
    expect(v.reg(11)).toBe(0x283);
    expect(v.cpu.getFlags() & 0xfff).toBe(0x283);
    expect(v.reg(0)).toBe(7);
  });

  it('a fault\'s frame has RFLAGS.RF set (the processor saves it so), a trap\'s (int3) not; the handler runs with RF clear', () => {
    const s = setup();
    run(s, KCODE, [0x0f, 0x0b]);
    expect(Number(frame(s, 5)[4]) & 0x10000).toBe(0x10000);
    expect(s.v.cpu.getFlags() & 0x10000).toBe(0);
    const s2 = setup();
    run(s2, KCODE, [0xcc]);
    expect(frame(s2, 3)[2]).toBe(BigInt(KCODE + 1));
    expect(Number(frame(s2, 5)[4]) & 0x10000).toBe(0);
  });

  it('an instruction Xen emulates (the forced-emulation CPUID) retires with RF clear', () => {
    const s = setup();
    s.v.setReg(0, 0x40000000);
    run(s, KCODE, [0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2, 0x0f, 0x0b]);
    // The second ud2 faults with RF set in its frame by the processor, not left over from the first.
    expect(s.v.cpu.getFlags() & 0x10000).toBe(0);
    expect(frame(s, 3)[2]).toBe(BigInt(KCODE + 7));
  });

  it('an instruction after an iret hypercall that restored RF runs with RF cleared: a later trap\'s frame has RF clear', () => {
    const s = setup();
    const v = s.v;
    const sp = KSTACK - 0x400;
    // iret_context: back to KCODE + 0x10 in kernel mode with RF set in RFLAGS.
    [0n, 0n, 0n, 0n, BigInt(KCODE + 0x10), 0xe030n, 0x10202n, BigInt(KSTACK - 0x200), 0xe02bn].forEach((w, k) => s.ram.u64(sp + k * 8, w));
    v.setReg(4, sp);
    v.setReg(0, 23);
    s.ram.bytes(KCODE + 0x10, [0x90, 0xcc]); // nop; int3
    run(s, KCODE, [0x0f, 0x05]);
    expect(frame(s, 3)[2]).toBe(BigInt(KCODE + 0x12));
    expect(Number(frame(s, 5)[4]) & 0x10000).toBe(0);
    // And with the int3 as the very instruction the iret returns to.
    const s2 = setup();
    [0n, 0n, 0n, 0n, BigInt(KCODE + 0x11), 0xe030n, 0x10202n, BigInt(KSTACK - 0x200), 0xe02bn].forEach((w, k) => s2.ram.u64(sp + k * 8, w));
    s2.v.setReg(4, sp);
    s2.v.setReg(0, 23);
    s2.ram.bytes(KCODE + 0x10, [0x90, 0xcc]);
    run(s2, KCODE, [0x0f, 0x05]);
    expect(frame(s2, 3)[2]).toBe(BigInt(KCODE + 0x12));
    expect(Number(frame(s2, 5)[4]) & 0x10000).toBe(0);
  });
});

describe('PV64 vCPU: the virtual CR0.TS and #NM', () => {
  it('with TS set by fpu_taskswitch an SSE or x87 instruction raises #NM at itself; Xen clears TS before the handler runs', () => {
    for (const [what, code] of [['xorps', [0x0f, 0x57, 0xc0]], ['fldz', [0xd9, 0xee]]] as const) {
      const s = setup();
      const v = s.v;
      v.virtualTs = true;
      expect(v.cpu.cr0 & 8).toBe(8); // the core's CR0.TS follows the guest's
      run(s, KCODE, [...code, 0x0f, 0x05]);
      const f = frame(s, 7);
      expect([what, v.cpu.rip]).toEqual([what, HANDLERS + 7 * 16 + 2]); // the #NM handler's hypercall
      expect(f[2]).toBe(BigInt(KCODE)); // no error code: RIP is the third word
      expect(Number(f[4]) & 0x10000).toBe(0x10000); // a fault: RF set in the frame
      expect(v.virtualTs).toBe(false);
      expect(v.cpu.cr0 & 8).toBe(0);
      // The instruction now runs: the hypercall after it is reached.
      const calls = s.calls.length;
      run(s, KCODE, [...code, 0x0f, 0x05]);
      expect(v.cpu.rip).toBe(KCODE + code.length + 2);
      expect(s.calls.length).toBe(calls + 1);
    }
  });

  it('TS clear (the default, fpu_taskswitch(0), CLTS) leaves SSE and x87 alone', () => {
    const s = setup();
    s.v.virtualTs = true;
    s.v.virtualTs = false;
    run(s, KCODE, [0x0f, 0x57, 0xc0, 0xd9, 0xee, 0x0f, 0x05]);
    expect(s.v.cpu.rip).toBe(KCODE + 7);
    const s2 = setup();
    s2.v.virtualTs = true;
    run(s2, KCODE, [0x0f, 0x06, 0x0f, 0x57, 0xc0, 0x0f, 0x05]); // clts (emulated after its #GP); xorps
    expect(s2.v.virtualTs).toBe(false);
    expect(s2.v.cpu.rip).toBe(KCODE + 7);
  });
});

describe('PV64 vCPU: IOPL in bounce frames', () => {
  it('with VMASST_TYPE_architectural_iopl the frame\'s RFLAGS carries the virtual IOPL, without it IOPL 0', () => {
    for (const arch of [true, false]) {
      const s = setup(undefined, { architecturalIopl: arch });
      s.v.iopl = 2;
      run(s, KCODE, [0x0f, 0x0b]);
      expect([arch, Number(frame(s, 5)[4]) & 0x3000]).toEqual([arch, arch ? 0x2000 : 0]);
      // The handler itself runs with IOPL 0 (the guest kernel is at CPL 3; its IOPL is virtual).
      expect(s.v.cpu.getFlags() & 0x3000).toBe(0);
    }
  });

  it('the IOPL an iret hypercall set comes back in the next frame, also for an event upcall and a user system call', () => {
    const s = setup(undefined, { architecturalIopl: true });
    const v = s.v;
    const sp = KSTACK - 0x400;
    [0n, 0n, 0n, 0n, BigInt(KCODE + 0x10), 0xe030n, 0x3202n, BigInt(KSTACK - 0x200), 0xe02bn].forEach((w, k) => s.ram.u64(sp + k * 8, w));
    v.setReg(4, sp);
    v.setReg(0, 23);
    s.ram.bytes(KCODE + 0x10, [0x90, 0x90, 0x90]);
    // An event waits behind the mask; the iret (IF set in its RFLAGS) unmasks it.
    s.info.pending = 1;
    s.info.mask = 1;
    run(s, KCODE, [0x0f, 0x05]);
    expect(v.iopl).toBe(3);
    expect(v.cpu.rip).toBe(EVENT_CB + 2);
    expect(Number(frame(s, 5)[4]) & 0x3000).toBe(0x3000);

    const u = setup(undefined, { architecturalIopl: true });
    u.v.iopl = 1;
    u.v.toggleMode();
    u.v.cpu.loadSegmentCache(1, FLAT_KERNEL_CS64, 0, 0xffffffff, 0xafb);
    u.v.setReg(4, USTACK);
    run(u, UCODE, [0x0f, 0x05]);
    expect(u.v.cpu.rip).toBe(SYSCALL_CB + 2);
    expect(u.ram.get64(KSTACK - 56 + 32) & 0x3000n).toBe(0x1000n);
  });
});
