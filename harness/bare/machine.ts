/**
 * The bare test machine (`xenlab x86 boot-bare`): one system-level CPU, RAM from physical 0, a
 * local APIC, a 16550 on COM1, QEMU's isa-debug-exit and fw_cfg, and nothing else, booted by a
 * Multiboot (v1) loader. It tests the core on its own and runs bare-metal test kernels written
 * for QEMU's conventions unchanged. See docs/bare-machine.md.
 *
 * Time is deterministic: the TSC counts one tick per retired instruction at a nominal 1 GHz
 * (`NOMINAL_TSC_HZ`), plus the ticks skipped while halted; the APIC timer runs off the same
 * clock. Two runs of one image with the same options print the same bytes and retire the same
 * number of instructions.
 *
 * How a run ends (`BareRunResult.reason`, and the exit status a shell sees):
 *  - 'debug-exit': the guest wrote v to port 0xF4: status (v << 1) | 1 (QEMU's convention, so
 *    v = 0, a passing kvm-unit-tests style kernel, gives 1);
 *  - 'halted': HLT with RFLAGS.IF = 0 and nothing pending, or HLT with IF = 1 and no interrupt
 *    that could ever arrive (no timer armed): status 0, like a machine that powered off;
 *  - 'shutdown': a triple fault: status EXIT_SHUTDOWN, with a register dump;
 *  - 'insn-limit': `maxInsns` retired: status EXIT_INSN_LIMIT.
 */
import { readFileSync } from 'node:fs';
import { Cpu, type CpuHooks } from '../../x86/cpu.js';
import { LocalApic, MSR_IA32_APIC_BASE, MSR_IA32_TSC_DEADLINE } from '../../x86/apic.js';
import { MAXPHYADDR } from '../../x86/paging.js';
import { CR0_ET, CR0_PE, RF_IF, SA_CODE32_FLAT, SA_DATA32_FLAT } from '../../x86/system/regs.js';
import { hexAddr } from '../../x86/fault.js';
import { UserError } from '../errors.js';
import { implementedFeatures } from '../linux-user/cpuid.js';
import { BareCpuid } from './cpuid.js';
import { FW_CFG_PORT_SEL, FwCfg } from './fw-cfg.js';
import { IoBus, type IoSize } from './io-bus.js';
import { DEBUG_EXIT_PORT, PCI_CONFIG_ADDRESS, PIC_MASTER, PIC_SLAVE, PciHostNoDevices, Pic8259 } from './legacy.js';
import { DebugExit } from './legacy.js';
import { loadMultiboot, MULTIBOOT_BOOTLOADER_MAGIC, type MultibootLoad } from './multiboot.js';
import { BareRam, MAX_MEM_MIB, MIN_MEM_MIB } from './ram.js';
import { COM1_BASE, Uart16550 } from './uart16550.js';

/** TSC ticks per second: one instruction retires per tick (the APIC timer ticks at this rate too). */
export const NOMINAL_TSC_HZ = 1_000_000_000;
export const DEFAULT_MEM_MIB = 64;
/** Default instruction limit: about two minutes of emulation, far beyond any test kernel. */
export const DEFAULT_MAX_INSNS = 10_000_000_000;
/** Exit status of a triple fault (even: isa-debug-exit statuses are always odd). */
export const EXIT_SHUTDOWN = 4;
/** Exit status when the instruction limit ends the run. */
export const EXIT_INSN_LIMIT = 6;
/** Exit status of a halted machine. */
export const EXIT_HALTED = 0;

/** Instructions per `Cpu.run` call between looks at devices and the clock. */
const SLICE = 4_000_000;
/** A halted CPU whose clock skips this many times without an interrupt arriving is idle for good. */
const MAX_FRUITLESS_SKIPS = 64;

const TWO32 = 4294967296;

export interface BareFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export interface BareRunOptions {
  /** The kernel: a host path, or bytes with a name for messages. */
  image: string | BareFile;
  /** RAM in MiB (MIN_MEM_MIB..MAX_MEM_MIB); default 64. */
  memMiB?: number;
  /** Kernel command line (the info structure gets "<image> <append>", as GRUB and QEMU give it). */
  append?: string;
  /** Multiboot modules, in order: host paths or bytes. */
  modules?: readonly (string | BareFile)[];
  /** End the run after this many instructions (default DEFAULT_MAX_INSNS). */
  maxInsns?: number;
  /** Where COM1's output goes as it is produced (it is also collected in the result). */
  stdout?: NodeJS.WritableStream;
  /** false: interpret every block (no compilation to JavaScript). Default true. */
  jit?: boolean;
}

export type BareEndReason = 'debug-exit' | 'halted' | 'shutdown' | 'insn-limit';

export interface BareRunResult {
  /** The exit status a shell sees (see the module comment). */
  readonly exitCode: number;
  readonly reason: BareEndReason;
  /** One line saying why the run ended. */
  readonly message: string;
  /** Everything the guest wrote to COM1 (bytes as Latin-1). */
  readonly output: string;
  readonly retired: number;
  /** TSC at the end: retired instructions plus the ticks skipped while halted. */
  readonly tsc: number;
  /** The value written to isa-debug-exit, for 'debug-exit'. */
  readonly debugExitValue?: number;
  /** Registers at the end, for 'shutdown' and 'insn-limit' (multi-line). */
  readonly registerDump?: string;
  /** Where the loader put things. */
  readonly load: MultibootLoad;
  /** Accesses to unassigned I/O ports. */
  readonly unassignedIo: number;
}

function readHostFile(f: string | BareFile, what: string): BareFile {
  if (typeof f !== 'string') return f;
  try {
    return { name: f, bytes: readFileSync(f) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError('file-not-found', `${f}: cannot read the ${what}${code !== undefined ? ` (${code})` : ''}`);
  }
}

/** Boots `image` on a fresh bare machine and runs it to the end. */
export function runBareMachine(options: BareRunOptions): BareRunResult {
  const machine = new BareMachine(options);
  return machine.run();
}

/** The machine, for callers that want to look inside (tests); `runBareMachine` is the usual entry. */
export class BareMachine {
  readonly ram: BareRam;
  readonly io = new IoBus();
  readonly uart: Uart16550;
  readonly apic: LocalApic;
  readonly cpu: Cpu;
  readonly load: MultibootLoad;
  private readonly maxInsns: number;
  private readonly stdout: NodeJS.WritableStream | undefined;
  private readonly out: number[] = [];
  private pending: number[] = [];
  /** TSC ticks skipped while halted. */
  private idleTicks = 0;
  private end: { reason: BareEndReason; exitCode: number; message: string; value?: number } | undefined;
  private shutdownReason: string | undefined;

  constructor(options: BareRunOptions) {
    const memMiB = options.memMiB ?? DEFAULT_MEM_MIB;
    if (!Number.isInteger(memMiB) || memMiB < MIN_MEM_MIB || memMiB > MAX_MEM_MIB) {
      throw new UserError('bad-option', `--mem expects a whole number of MiB from ${MIN_MEM_MIB} to ${MAX_MEM_MIB} (got ${memMiB})`);
    }
    const maxInsns = options.maxInsns ?? DEFAULT_MAX_INSNS;
    if (!Number.isSafeInteger(maxInsns) || maxInsns < 1) {
      throw new UserError('bad-option', `--max-insns expects a positive whole number (got ${maxInsns})`);
    }
    this.maxInsns = maxInsns;
    this.stdout = options.stdout;
    const image = readHostFile(options.image, 'kernel image');
    const modules = (options.modules ?? []).map((m) => readHostFile(m, 'module'));

    this.ram = new BareRam(memMiB);
    this.load = loadMultiboot(this.ram, {
      name: image.name,
      bytes: image.bytes,
      ...(options.append !== undefined ? { cmdline: options.append } : {}),
      modules: modules.map((m) => ({ name: m.name, bytes: m.bytes })),
    });

    this.apic = new LocalApic({ now: () => this.now(), physAddrBits: MAXPHYADDR });
    this.ram.mapMmio(() => (this.apic.enabled ? this.apic.baseAddress : undefined), 4096, {
      read: (offset, size) => this.apicRead(offset, size),
      write: (offset, size, value) => this.apicWrite(offset, size, value),
    });

    this.uart = new Uart16550((b) => this.emit(b));
    this.io.claim(COM1_BASE, 8, this.uart);
    this.io.claim(DEBUG_EXIT_PORT, 4, new DebugExit((value, status) => this.finish('debug-exit', status, `guest wrote ${value} to isa-debug-exit (exit status ${status})`, value)));
    this.io.claim(FW_CFG_PORT_SEL, 2, new FwCfg({ ramBytes: this.ram.bytes, cpus: 1 }));
    this.io.claim(PCI_CONFIG_ADDRESS, 8, new PciHostNoDevices());
    this.io.claim(PIC_MASTER, 2, new Pic8259('pic-master'));
    this.io.claim(PIC_SLAVE, 2, new Pic8259('pic-slave'));
    // Port 0x80 (POST codes) stays unassigned: writes vanish, reads give all ones, as on a PC.

    const features = implementedFeatures();
    const cpuid = new BareCpuid(new Set(features));
    const hooks: CpuHooks = {
      cpuid: cpuid.hook(),
      rdtsc: () => split(this.now()),
      ioIn: (_c, port, size) => this.io.read(port, size as IoSize),
      ioOut: (c, port, size, value) => {
        this.io.write(port, size as IoSize, value);
        if (this.end !== undefined) c.stopRequested = true;
      },
      rdmsr: (_c, index) => this.rdmsr(index),
      wrmsr: (_c, index, lo, hi) => this.wrmsr(index, lo, hi),
      pendingInterrupt: () => this.apic.pending(),
      acknowledgeInterrupt: () => this.apic.acknowledge(),
      shutdown: (c, reason) => {
        this.shutdownReason = reason;
        c.stopRequested = true;
      },
    };
    this.cpu = Cpu.system(this.ram, hooks, features);
    this.cpu.jit = options.jit !== false;
    this.enterMultiboot();
  }

  /** The Multiboot machine state (spec §3.2): 32-bit protected mode, flat segments, paging off. */
  private enterMultiboot(): void {
    const cpu = this.cpu;
    cpu.cr0 = CR0_PE | CR0_ET;
    cpu.cr4 = 0;
    cpu.efer = 0;
    cpu.loadSegmentCache(1, 0x08, 0, 0xffffffff, SA_CODE32_FLAT);
    for (const seg of [0, 2, 3, 4, 5]) cpu.loadSegmentCache(seg, 0x10, 0, 0xffffffff, SA_DATA32_FLAT);
    cpu.refreshMode();
    cpu.setFlags(0x2); // IF = 0, VM = 0
    for (let r = 0; r < 16; r++) cpu.setReg64(r, 0, 0);
    cpu.setReg32(0, MULTIBOOT_BOOTLOADER_MAGIC | 0);
    cpu.setReg32(3, this.load.infoAddr);
    cpu.rip = this.load.entry;
  }

  /** TSC ticks since power-on. */
  now(): number {
    return this.cpu.retired + this.idleTicks;
  }

  run(): BareRunResult {
    const cpu = this.cpu;
    let fruitless = 0;
    while (this.end === undefined) {
      const left = this.maxInsns - cpu.retired;
      if (left <= 0) {
        this.finish('insn-limit', EXIT_INSN_LIMIT, `instruction limit reached: ${cpu.retired} instructions retired (raise --max-insns)`);
        break;
      }
      let slice = Math.min(left, SLICE);
      const next = this.apic.nextEvent();
      if (next !== Infinity) slice = Math.max(1, Math.min(slice, Math.ceil(next - this.now())));
      if (this.apic.pending() >= 0) cpu.interruptCheck = true;
      const ran = cpu.run(slice);
      this.flush();
      if (this.end !== undefined) break;
      if (this.shutdownReason !== undefined || cpu.shutdownReason !== undefined) {
        const why = this.shutdownReason ?? cpu.shutdownReason ?? 'shutdown';
        this.finish('shutdown', EXIT_SHUTDOWN, `guest shut down (${why}) at rip ${hexAddr(cpu.rip)} after ${cpu.retired} instructions`);
        break;
      }
      if (!cpu.halted) {
        if (ran > 0) fruitless = 0;
        continue;
      }
      // Halted: wake for a pending interrupt, else skip the clock to the next timer event.
      if ((cpu.getFlags() & RF_IF) === 0) {
        this.finish('halted', EXIT_HALTED, `guest halted with interrupts disabled at rip ${hexAddr(cpu.rip)} after ${cpu.retired} instructions`);
        break;
      }
      if (this.apic.pending() >= 0) {
        cpu.interruptCheck = true;
        continue;
      }
      const event = this.apic.nextEvent();
      if (event === Infinity || ++fruitless > MAX_FRUITLESS_SKIPS) {
        this.finish('halted', EXIT_HALTED, `guest halted with interrupts enabled and nothing to wake it (no timer armed) at rip ${hexAddr(cpu.rip)} after ${cpu.retired} instructions`);
        break;
      }
      const t = this.now();
      if (event > t) this.idleTicks += Math.ceil(event - t);
      this.apic.update();
      cpu.interruptCheck = true;
    }
    this.flush();
    const end = this.end as NonNullable<typeof this.end>;
    return {
      exitCode: end.exitCode,
      reason: end.reason,
      message: end.message,
      output: latin1(this.out),
      retired: cpu.retired,
      tsc: this.now(),
      ...(end.value !== undefined ? { debugExitValue: end.value } : {}),
      ...(end.reason === 'shutdown' || end.reason === 'insn-limit' ? { registerDump: registerDump(cpu) } : {}),
      load: this.load,
      unassignedIo: this.io.unassigned,
    };
  }

  private finish(reason: BareEndReason, exitCode: number, message: string, value?: number): void {
    if (this.end !== undefined) return;
    this.end = { reason, exitCode, message, ...(value !== undefined ? { value } : {}) };
    this.cpu.stopRequested = true;
  }

  private emit(b: number): void {
    this.out.push(b);
    this.pending.push(b);
    if (b === 10 || this.pending.length >= 4096) this.flush();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    if (this.stdout !== undefined) this.stdout.write(Buffer.from(this.pending));
    this.pending = [];
  }

  // ---- the local APIC's page and MSRs ---------------------------------------------------------

  private apicRead(offset: number, size: 1 | 2 | 4): number {
    // The SDM defines only aligned 32-bit accesses; a narrower read sees its bytes of the dword.
    const dword = this.apic.read(offset & 0xffc);
    const shift = (offset & 3) * 8;
    const v = size === 4 ? dword : (dword >>> shift) & (size === 1 ? 0xff : 0xffff);
    return v >>> 0;
  }

  private apicWrite(offset: number, size: 1 | 2 | 4, value: number): void {
    // Narrower or misaligned writes are dropped (undefined by the SDM; no kernel does them).
    if (size !== 4 || (offset & 3) !== 0) return;
    this.apic.write(offset, value >>> 0);
    // EOI, TPR and ICR writes may make an interrupt deliverable.
    this.cpu.interruptCheck = true;
  }

  private rdmsr(index: number): readonly [number, number] | undefined {
    switch (index >>> 0) {
      case MSR_IA32_APIC_BASE:
        return this.apic.readBaseMsr();
      case MSR_IA32_TSC_DEADLINE:
        return split(this.apic.readTscDeadline());
      default:
        return undefined;
    }
  }

  private wrmsr(index: number, lo: number, hi: number): boolean {
    switch (index >>> 0) {
      case MSR_IA32_APIC_BASE: {
        const ok = this.apic.writeBaseMsr(lo >>> 0, hi >>> 0);
        // The register page may have moved: translations cached over the old place go.
        if (ok) this.cpu.flushTlb();
        return ok;
      }
      case MSR_IA32_TSC_DEADLINE:
        this.apic.writeTscDeadline((hi >>> 0) * TWO32 + (lo >>> 0));
        this.cpu.interruptCheck = true;
        return true;
      default:
        return false;
    }
  }
}

function split(v: number): readonly [number, number] {
  return [(v % TWO32) | 0, Math.floor(v / TWO32) | 0];
}

function latin1(bytes: readonly number[]): string {
  let s = '';
  for (let k = 0; k < bytes.length; k += 8192) s += String.fromCharCode(...bytes.slice(k, k + 8192));
  return s;
}

const hex16 = (lo: number, hi: number): string =>
  `${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')}`;

/** The CPU's registers, for a run that ended abnormally (triple fault, instruction limit). */
export function registerDump(cpu: Cpu): string {
  const names = ['RAX', 'RCX', 'RDX', 'RBX', 'RSP', 'RBP', 'RSI', 'RDI', 'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15'];
  const lines: string[] = [];
  for (let k = 0; k < 16; k += 4) {
    lines.push(names.slice(k, k + 4).map((n, j) => `${n.padStart(3)}=${hex16(cpu.reg64lo(k + j), cpu.reg64hi(k + j))}`).join(' '));
  }
  const rip = cpu.rip < 0 ? BigInt(cpu.rip) + (1n << 64n) : BigInt(cpu.rip);
  lines.push(`RIP=${rip.toString(16).padStart(16, '0')} RFLAGS=${(cpu.getFlags() >>> 0).toString(16).padStart(8, '0')} CPL=${cpu.cpl} mode=${cpu.mode}-bit${cpu.halted ? ' (halted)' : ''}`);
  const segs = ['ES', 'CS', 'SS', 'DS', 'FS', 'GS'];
  lines.push(segs.map((s, k) => `${s}=${(cpu.segSel[k] ?? 0).toString(16).padStart(4, '0')}`).join(' ') +
    ` TR=${cpu.trSel.toString(16).padStart(4, '0')} LDTR=${cpu.ldtrSel.toString(16).padStart(4, '0')}`);
  lines.push(segs.map((s, k) => `${s}.base=${hexAddr(cpu.segBase[k] ?? 0)}`).join(' '));
  lines.push(`CR0=${(cpu.cr0 >>> 0).toString(16).padStart(8, '0')} CR2=${hexAddr(cpu.cr2)} CR3=${hexAddr(cpu.cr3)} CR4=${(cpu.cr4 >>> 0).toString(16).padStart(8, '0')} EFER=${(cpu.efer >>> 0).toString(16)}`);
  lines.push(`GDTR=${hexAddr(cpu.gdtrBase)}/${cpu.gdtrLimit.toString(16)} IDTR=${hexAddr(cpu.idtrBase)}/${cpu.idtrLimit.toString(16)}`);
  lines.push(`retired=${cpu.retired}`);
  return lines.join('\n');
}
