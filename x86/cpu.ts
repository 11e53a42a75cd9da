/**
 * The processor: architectural state, memory access through a software TLB, the decoded-block
 * cache, and the run loop. It knows nothing of Xen or Linux: whatever drives it supplies the
 * memory (`LinearMemory`) and answers events through `CpuHooks`.
 *
 * Representation:
 *  - GPRs live in `r`, an Int32Array of low/high halves (`r[2n]` low, `r[2n+1]` high): 64-bit
 *    values as int32 pairs, never BigInt on the hot path. Functions that produce a 64-bit value
 *    return the low half and leave the high half in `hi`.
 *  - RIP and linear addresses are JS numbers (canonical, sign-extended; see memory.ts).
 *  - Arithmetic flags are lazy (flags.ts); `getFlags()` materialises them.
 */
import { decode, type Insn } from './decoder.js';
import { compileBlock, compileRegion, staticSuccessors, type CompiledBlock } from './jit.js';
import { DB, Fault, GP, NM, PF_VEC, UD } from './fault.js';
import { LazyOp, lazyArith } from './flags.js';
import type { Feature, FpuUse } from './isa/types.js';
import { ARITH, CF, CR0_FPU_BITS, fpuGate } from './isa/types.js';
import { AccessKind, LOOKUP_GLOBAL, LOOKUP_NOCACHE, PAGE_SIZE, pageOf, type LinearMemory, type PhysicalMemory } from './memory.js';
import { Mmu } from './paging.js';
import { X87 } from './exec/x87-state.js';
import {
  CR0_PE, CR0_RESET, CR4_SMAP, DR6_BS, EFER_LMA, PAT_RESET_HI, PAT_RESET_LO, RF_AC, RF_IF, RF_RF, RF_TF, SA_DB, SA_L,
} from './system/regs.js';
import { deliverException, deliverInterrupt } from './system/interrupts.js';

export interface CpuHooks {
  /**
   * SYSCALL executed. Present: the driver emulates the OS or hypervisor entry (RIP is already
   * past the instruction). Absent: the architectural SYSCALL (EFER.SCE, LSTAR/STAR/SFMASK).
   */
  syscall?(c: Cpu): void;
  /**
   * An exception was raised; RIP points at the faulting instruction (after it, for traps).
   * Return `false` to have the CPU deliver it through the IDT (a system-level CPU); any other
   * result means the driver took it over. A CPU that is not system-level has no IDT: an
   * exception the driver does not take over stops `run` with `unhandledFault` set.
   */
  exception?(c: Cpu, fault: Fault): boolean | void;
  /** CPUID leaf/subleaf: returns [eax, ebx, ecx, edx]. */
  cpuid?(c: Cpu, leaf: number, subleaf: number): readonly [number, number, number, number];
  /** Time-stamp counter for RDTSC/RDTSCP and MSR 0x10, as [low, high]. */
  rdtsc?(c: Cpu): readonly [number, number];
  /** A random value for RDRAND/RDSEED of `size` bytes, [low, high], or undefined (CF=0). */
  random?(c: Cpu, size: number): readonly [number, number] | undefined;
  /**
   * HLT at CPL 0. Present: the driver handles it. Absent: the CPU halts (`halted`) and `run`
   * returns; the next `run` resumes it only once an interrupt is delivered.
   */
  hlt?(c: Cpu): void;
  /**
   * INT n (CD ib) executed; RIP is already past the instruction. Present: the driver delivers
   * it (as its OS would). Absent: a system-level CPU delivers it through the IDT with the gate's
   * DPL check; otherwise #GP(n·8+2), as a CPL 3 INT n through a DPL 0 gate.
   */
  interrupt?(c: Cpu, vector: number): void;
  /** IA32_TSC_AUX for RDTSCP and RDPID when the CPU is not system-level (0 when absent). */
  tscAux?(c: Cpu): number;
  /** IN from `port` (after the IOPL / I/O-bitmap checks). Absent: all ones. */
  ioIn?(c: Cpu, port: number, size: 1 | 2 | 4): number;
  /** OUT to `port` (after the IOPL / I/O-bitmap checks). Absent: ignored. */
  ioOut?(c: Cpu, port: number, size: 1 | 2 | 4, value: number): void;
  /** RDMSR of an MSR the CPU does not own: [low, high], or undefined for #GP(0). */
  rdmsr?(c: Cpu, index: number): readonly [number, number] | undefined;
  /** WRMSR of an MSR the CPU does not own: false for #GP(0). */
  wrmsr?(c: Cpu, index: number, lo: number, hi: number): boolean;
  /** VMCALL / VMMCALL (the hypercall instructions of HVM/PVH guests). Absent: #UD. */
  vmcall?(c: Cpu): void;
  /**
   * The highest-priority external interrupt the CPU may take now, or -1. Polled at instruction
   * boundaries while `interruptCheck` is set, RFLAGS.IF = 1 and no interrupt shadow is active.
   */
  pendingInterrupt?(c: Cpu): number;
  /**
   * The CPU takes the pending interrupt: returns its vector (e.g. the APIC moves it to ISR), or
   * a negative number when the driver delivered the event itself (a PV event upcall).
   */
  acknowledgeInterrupt?(c: Cpu): number;
  /**
   * The descriptor for selector `sel` (8 or 16 bytes), when the driver keeps the descriptor
   * tables itself (Xen's GDT for PV guests): [lo, hi, upper?], `null` for "beyond the table"
   * (the CPU raises what the instruction defines), or undefined to read GDTR/LDTR's table.
   */
  descriptor?(c: Cpu, sel: number, size: 8 | 16): readonly [number, number, number?] | null | undefined;
  /** Triple fault (or another shutdown condition). Absent: `shutdownReason` is set and `run` returns. */
  shutdown?(c: Cpu, reason: string): void;
}

interface Block {
  readonly rip: number;
  readonly insns: readonly Insn[];
  readonly page: number;
  /** The frame(s) the instructions were decoded from (identity of the RAM page; see memory.ts). */
  readonly view: DataView | undefined;
  readonly view2: DataView | undefined;
  /** Another block at the same linear RIP decoded from a different frame (another address space). */
  alt: Block | undefined;
  /** False once invalidated (successor links may still point at it). */
  live: boolean;
  /** The last two blocks executed after this one (successor cache). */
  succA: Block | undefined;
  succB: Block | undefined;
  /** Executions so far, until it is compiled. */
  hits: number;
  /** The compiled form (x86/jit.ts), once the block is hot: the block alone, or a region from it. */
  fn: CompiledBlock | undefined;
  /**
   * `Cpu.fetchEpoch` when the frame mapped at `rip` was last found to be `view` through a cached
   * fetch-TLB entry: while the epoch is unchanged that entry is too, so no lookup is needed.
   */
  vEpoch: number;
  /** Reached its compile threshold inside a region (see jit.ts, self-loops in regions). */
  loopHot: boolean;
}


/** The exec of an `fpu` row that CR0 denies (see `Cpu.translate`): a fault at the instruction. */
const raiseNm = (): never => {
  throw new Fault(NM);
};
const raiseUd = (): never => {
  throw new Fault(UD);
};

/** Direct-mapped TLB size (entries per access kind). */
const TLB_SIZE = 4096;
const MAX_BLOCK = 64;
/** Blocks a region may hold (x86/jit.ts). */
const MAX_REGION = 32;

export class Cpu {
  /** General-purpose registers, low/high int32 halves. */
  readonly r = new Int32Array(32);
  /** High half of the last 64-bit value a helper returned. */
  hi = 0;
  rip = 0;
  /** RIP of the instruction executing now (faults restart it). */
  insnStart = 0;
  /** Materialised RFLAGS; the arithmetic bits are stale while `lfOp` is not None. */
  flags = 0x2;
  lfOp: LazyOp = LazyOp.None;
  lfSize = 4;
  lfA = 0;
  lfAH = 0;
  lfB = 0;
  lfBH = 0;
  lfR = 0;
  lfRH = 0;
  /** ADC/SBB carry-in; INC/DEC the preserved CF. */
  lfCin = 0;

  /** Code size: 64 (long mode), 32 or 16. A system-level CPU derives it from CS (`refreshMode`). */
  mode: 64 | 32 | 16 = 64;
  /** Stack-pointer width in bytes: 8 in 64-bit mode, else 4 or 2 by SS.B. */
  stackSize: 8 | 4 | 2 = 8;
  /** Current privilege level (change it through `setCpl`: cached translations depend on it). */
  cpl = 3;
  /** CPL 3: memory accesses are user accesses. Setting it sets CPL 3 or 0. */
  get user(): boolean {
    return this.cpl === 3;
  }
  set user(v: boolean) {
    this.setCpl(v ? 3 : 0);
  }
  /** Segment caches (ES, CS, SS, DS, FS, GS): selector, base, limit in bytes, attributes (system/regs.ts SA_*). */
  readonly segBase = new Float64Array(6);
  readonly segSel = new Uint16Array(6);
  readonly segLimit = new Float64Array(6).fill(0xffffffff);
  readonly segAttr = new Uint16Array(6);

  // ---- system level (used when `system` is set) ----------------------------------------------
  /**
   * A system-level CPU: exceptions the driver does not take over are delivered through the IDT,
   * CS/SS decide the mode and stack width, and the privileged instructions act on the state
   * below. Otherwise (the user-mode runner, the tests) the driver plays the operating system.
   */
  system = false;
  /**
   * CR0. A change of MP, EM or TS re-decides which `fpu` rows raise #NM or #UD: the decoded
   * blocks are built for one setting of them (see `translate`), so they go when it changes.
   */
  get cr0(): number {
    return this.cr0Bits;
  }
  set cr0(v: number) {
    const old = this.cr0Bits;
    this.cr0Bits = v;
    if (((old ^ v) & CR0_FPU_BITS) !== 0) this.fpuControlChanged();
  }
  private cr0Bits = CR0_RESET;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  efer = 0;
  /** SMAP: an explicit supervisor data access may touch user pages (RFLAGS.AC = 1); read by the paging unit. */
  smapOverride = false;
  gdtrBase = 0;
  gdtrLimit = 0xffff;
  idtrBase = 0;
  idtrLimit = 0xffff;
  ldtrSel = 0;
  ldtrBase = 0;
  ldtrLimit = 0xffff;
  ldtrAttr = 0;
  trSel = 0;
  trBase = 0;
  trLimit = 0xffff;
  trAttr = 0;
  /** CR8 (the task-priority register's bits 7:4, in 64-bit mode). */
  cr8 = 0;
  /** DR0-DR7 (DR4/5 alias DR6/7 when CR4.DE = 0). */
  readonly dr = new Float64Array([0, 0, 0, 0, 0, 0, 0xffff0ff0, 0x400]);
  /** MSRs the CPU owns (system/regs.ts MSR_*); 64-bit addresses as canonical JS numbers. */
  star = 0;
  starHi = 0;
  lstar = 0;
  cstar = 0;
  sfmask = 0;
  kernelGsBase = 0;
  sysenterCs = 0;
  sysenterEsp = 0;
  sysenterEip = 0;
  tscAuxMsr = 0;
  patLo = PAT_RESET_LO;
  patHi = PAT_RESET_HI;
  /** HLT executed with nothing to wake it yet. */
  halted = false;
  /** Set when a triple fault (or another shutdown) ended execution. */
  shutdownReason: string | undefined = undefined;
  /** An exception nobody took over on a CPU without an IDT (see `CpuHooks.exception`). */
  unhandledFault: Fault | undefined = undefined;
  /** Poll `hooks.pendingInterrupt` at the next instruction boundary (set by drivers and by STI/POPF/IRET). */
  interruptCheck = false;
  /** Interrupts stay inhibited while `retired` is below this (STI, MOV SS, POP SS shadows). */
  shadowEnd = 0;
  /**
   * RFLAGS bits that make the run loop step one instruction at a time, at system level: TF, and
   * RF (set by an IRET, it must be cleared once the next instruction completes; checked where TF
   * is, between blocks, so the block path never looks at it).
   */
  traceMask = 0;

  /** XMM0-15 as 4 dwords each, and MXCSR. */
  readonly xmm = new Int32Array(64);
  mxcsr = 0x1f80;
  /** The x87 FPU (exec/x87-state.ts). */
  readonly fpu = new X87();

  /** Instructions retired since reset. */
  retired = 0;
  /** Compile hot blocks to JavaScript (x86/jit.ts); off runs everything in the interpreter. */
  jit = true;
  /** Executions after which a block is compiled (1: compile on first use, for tests). */
  jitThreshold = 20;
  /**
   * Compile hot blocks together with their decoded static successors (x86/jit.ts regions); off:
   * one block at a time. Off by default: measured on the Linux boot they cost more than they save
   * while the scheduler drops all compiled code before every timer deadline (docs/performance.md).
   */
  regions = false;
  /** Set by a hook to leave `run` after the current instruction. */
  stopRequested = false;
  /**
   * Bumped whenever the fetch TLB changes (an entry filled or evicted, a flush, INVLPG): a block
   * whose `vEpoch` equals it is still mapped from the frame it was decoded from.
   */
  fetchEpoch = 0;

  readonly features: ReadonlySet<Feature>;

  private readonly tlbTag: Float64Array[] = [0, 1, 2].map(() => new Float64Array(TLB_SIZE).fill(Number.NaN));
  private readonly tlbView: (DataView | undefined)[][] = [0, 1, 2].map(() => new Array<DataView | undefined>(TLB_SIZE));
  /** The read TLB, reachable directly for the load fast path. */
  private readonly rTag = this.tlbTag[AccessKind.Read] as Float64Array;
  private readonly rView = this.tlbView[AccessKind.Read] as (DataView | undefined)[];
  /** The write TLB, also reachable directly for the store fast path. */
  private readonly wTag = this.tlbTag[AccessKind.Write] as Float64Array;
  private readonly wView = this.tlbView[AccessKind.Write] as (DataView | undefined)[];
  /** Whether each TLB entry came from a global page (kept across CR3 loads), per access kind. */
  private readonly tlbGlobal: Uint8Array[] = [0, 1, 2].map(() => new Uint8Array(TLB_SIZE));
  /** Decoded blocks by linear RIP (with `alt` chains for the same RIP in other address spaces). */
  private readonly blocks = new Map<number, Block>();
  /** Blocks decoded from each frame, so a write through any mapping of it invalidates them. */
  private readonly codeViews = new Map<DataView, Set<Block>>();
  /** The current block was invalidated by a write into it (self-modifying code); read by compiled blocks. */
  blockBroken = false;
  /**
   * What CR0.MP/EM/TS make of the `fpu` rows now (`fpuGate`): the exception each class raises,
   * 0 where it runs; undefined while every class runs (the usual state: eager FPU switching).
   */
  private fpuTrap: Readonly<Record<FpuUse, number>> | undefined = undefined;

  constructor(
    readonly mem: LinearMemory,
    readonly hooks: CpuHooks,
    features: Iterable<Feature> = ['base'],
  ) {
    this.features = new Set(features);
    // Fields that will hold full int32s, addresses or large counts are first given a value
    // outside V8's small-integer range, so their representation is chosen once, here. Letting
    // it widen later (the first 0x7fffffff in `hi`, the first stack address in `rip`) would
    // change the object's hidden class mid-run and deoptimise every compiled block at once.
    const wide = 2 ** 40 + 0.5;
    this.hi = this.rip = this.insnStart = this.retired = wide;
    this.lfA = this.lfAH = this.lfB = this.lfBH = this.lfR = this.lfRH = wide;
    this.hi = this.rip = this.insnStart = this.retired = 0;
    this.lfA = this.lfAH = this.lfB = this.lfBH = this.lfR = this.lfRH = 0;
  }

  // ---- registers --------------------------------------------------------------------------

  reg64lo(n: number): number {
    return this.r[n << 1] as number;
  }
  reg64hi(n: number): number {
    return this.r[(n << 1) + 1] as number;
  }
  setReg64(n: number, lo: number, hi: number): void {
    this.r[n << 1] = lo;
    this.r[(n << 1) + 1] = hi;
  }
  reg32(n: number): number {
    return this.r[n << 1] as number;
  }
  /** Writing a 32-bit register zero-extends into the high half (64-bit mode rule). */
  setReg32(n: number, v: number): void {
    this.r[n << 1] = v;
    this.r[(n << 1) + 1] = 0;
  }
  reg16(n: number): number {
    return (this.r[n << 1] as number) & 0xffff;
  }
  setReg16(n: number, v: number): void {
    this.r[n << 1] = ((this.r[n << 1] as number) & ~0xffff) | (v & 0xffff);
  }
  /** Byte register: 0-15 low bytes, 16-19 AH/CH/DH/BH. */
  reg8(n: number): number {
    return n < 16 ? (this.r[n << 1] as number) & 0xff : ((this.r[(n - 16) << 1] as number) >> 8) & 0xff;
  }
  setReg8(n: number, v: number): void {
    if (n < 16) this.r[n << 1] = ((this.r[n << 1] as number) & ~0xff) | (v & 0xff);
    else {
      const k = (n - 16) << 1;
      this.r[k] = ((this.r[k] as number) & ~0xff00) | ((v & 0xff) << 8);
    }
  }
  /** Register of `size` bytes, zero-extended into a number (size 8: low half, high in `hi`). */
  getReg(n: number, size: number): number {
    switch (size) {
      case 1:
        return this.reg8(n);
      case 2:
        return this.reg16(n);
      case 4:
        return this.reg32(n);
      default:
        this.hi = this.r[(n << 1) + 1] as number;
        return this.r[n << 1] as number;
    }
  }
  setReg(n: number, size: number, lo: number, hi: number): void {
    switch (size) {
      case 1:
        this.setReg8(n, lo);
        break;
      case 2:
        this.setReg16(n, lo);
        break;
      case 4:
        this.setReg32(n, lo);
        break;
      default:
        this.setReg64(n, lo, hi);
    }
  }

  // ---- flags ------------------------------------------------------------------------------

  getFlags(): number {
    if (this.lfOp !== LazyOp.None) {
      this.flags = (this.flags & ~ARITH) | lazyArith(this);
      this.lfOp = LazyOp.None;
    }
    return this.flags;
  }
  getCF(): number {
    return this.getFlags() & CF;
  }
  /** Replaces the bits in `mask` with `bits` (materialising lazy flags first). */
  setFlagBits(mask: number, bits: number): void {
    this.flags = (this.getFlags() & ~mask) | (bits & mask) | 0x2;
  }
  /**
   * Sets all six arithmetic flags at once. Unlike setFlagBits this does not materialise the
   * pending lazy record first: every bit it would produce is overwritten anyway.
   */
  setArithFlags(bits: number): void {
    this.lfOp = LazyOp.None;
    this.flags = (this.flags & ~ARITH) | (bits & ARITH) | 0x2;
  }
  /** Records an arithmetic result for lazy flag evaluation (sizes 1, 2, 4: low halves only). */
  lazy(op: LazyOp, size: number, a: number, b: number, r: number): void {
    this.lfOp = op;
    this.lfSize = size;
    this.lfA = a;
    this.lfB = b;
    this.lfR = r;
  }
  lazy64(op: LazyOp, a: number, ah: number, b: number, bh: number, r: number, rh: number): void {
    this.lfOp = op;
    this.lfSize = 8;
    this.lfA = a;
    this.lfAH = ah;
    this.lfB = b;
    this.lfBH = bh;
    this.lfR = r;
    this.lfRH = rh;
  }

  // ---- memory -----------------------------------------------------------------------------

  /**
   * Drops cached translations (the driver changed mappings or permissions; a CR3 load). With
   * `keepGlobal`, entries from global pages survive, as on a CR3 load with CR4.PGE set.
   */
  flushTlb(keepGlobal = false): void {
    this.fetchEpoch++;
    for (let k = 0; k < 3; k++) {
      const tags = this.tlbTag[k] as Float64Array;
      const glob = this.tlbGlobal[k] as Uint8Array;
      if (!keepGlobal) {
        tags.fill(Number.NaN);
        glob.fill(0);
      } else {
        for (let s = 0; s < TLB_SIZE; s++) if (glob[s] === 0) tags[s] = Number.NaN;
      }
    }
  }

  /** INVLPG: drops the translation of the page holding `la`, global or not. */
  invlpg(la: number): void {
    this.fetchEpoch++;
    const pn = pageOf(la);
    const slot = pn & (TLB_SIZE - 1);
    for (let k = 0; k < 3; k++) {
      const tags = this.tlbTag[k] as Float64Array;
      if (tags[slot] === pn) tags[slot] = Number.NaN;
    }
  }

  private page(la: number, kind: AccessKind): DataView | undefined {
    const pn = pageOf(la);
    const slot = pn & (TLB_SIZE - 1);
    const tags = this.tlbTag[kind] as Float64Array;
    if (tags[slot] === pn) return (this.tlbView[kind] as (DataView | undefined)[])[slot];
    const mem = this.mem;
    const view = mem.lookup(la, kind, this.user);
    let lf = mem.lookupFlags ?? 0;
    if (this.dataBreakpointPages.size > 0 && this.dataBreakpointPages.has(pn) && kind !== AccessKind.Fetch) {
      this.checkDataBreakpoints(la, kind);
      lf |= LOOKUP_NOCACHE;
    }
    // Writes to frames holding decoded code stay on the slow path so they can invalidate blocks;
    // so do pages the memory asks not to cache (a frame with a write observer).
    if (view !== undefined && (lf & LOOKUP_NOCACHE) === 0 && !(kind === AccessKind.Write && this.codeViews.has(view))) {
      if (kind === AccessKind.Fetch) this.fetchEpoch++;
      tags[slot] = pn;
      (this.tlbView[kind] as (DataView | undefined)[])[slot] = view;
      (this.tlbGlobal[kind] as Uint8Array)[slot] = (lf & LOOKUP_GLOBAL) !== 0 ? 1 : 0;
    }
    return view;
  }

  /** Read-TLB hit for the page of `la`, or undefined (small enough for V8 to inline everywhere). */
  private rfast(la: number): DataView | undefined {
    const pn = pageOf(la);
    const slot = pn & (TLB_SIZE - 1);
    return this.rTag[slot] === pn ? this.rView[slot] : undefined;
  }

  /** Write-TLB hit for the page of `la`, or undefined (miss, device page, page holding code). */
  private wfast(la: number): DataView | undefined {
    const pn = pageOf(la);
    const slot = pn & (TLB_SIZE - 1);
    return this.wTag[slot] === pn ? this.wView[slot] : undefined;
  }

  /** A write within one page that missed the write TLB: translate, write, invalidate code. */
  private writeSlow(la: number, size: 1 | 2 | 4 | 8, lo: number, hi: number): void {
    const v = this.page(la, AccessKind.Write);
    const off = la & 0xfff;
    if (v === undefined) {
      if (size === 8) {
        this.mmioWrite(la, 4, lo);
        this.mmioWrite(la + 4, 4, hi);
      } else this.mmioWrite(la, size, lo);
    } else if (size === 1) v.setUint8(off, lo);
    else if (size === 2) v.setUint16(off, lo, true);
    else {
      v.setInt32(off, lo, true);
      if (size === 8) v.setInt32(off + 4, hi, true);
    }
    if (v !== undefined && this.codeViews.has(v)) this.invalidateView(v);
  }

  fetch8(la: number): number {
    const v = this.page(la, AccessKind.Fetch);
    if (v === undefined) throw new Fault(PF_VEC, 0x10 | (this.user ? 4 : 0), la);
    return v.getUint8(la & 0xfff);
  }

  read8(la: number): number {
    const v = this.rfast(la) ?? this.page(la, AccessKind.Read);
    return v !== undefined ? v.getUint8(la & 0xfff) : this.mmioRead(la, 1);
  }
  read16(la: number): number {
    const off = la & 0xfff;
    if (off > PAGE_SIZE - 2) return this.read8(la) | (this.read8(la + 1) << 8);
    const v = this.rfast(la) ?? this.page(la, AccessKind.Read);
    return v !== undefined ? v.getUint16(off, true) : this.mmioRead(la, 2);
  }
  read32(la: number): number {
    const off = la & 0xfff;
    if (off > PAGE_SIZE - 4) return this.read16(la) | (this.read16(la + 2) << 16);
    const v = this.rfast(la) ?? this.page(la, AccessKind.Read);
    return v !== undefined ? v.getInt32(off, true) : this.mmioRead(la, 4) | 0;
  }
  /** Returns the low half; the high half is in `hi`. */
  read64(la: number): number {
    const off = la & 0xfff;
    if (off <= PAGE_SIZE - 8) {
      const v = this.rfast(la) ?? this.page(la, AccessKind.Read);
      if (v !== undefined) {
        this.hi = v.getInt32(off + 4, true);
        return v.getInt32(off, true);
      }
      const lo = this.mmioRead(la, 4) | 0;
      this.hi = this.mmioRead(la + 4, 4) | 0;
      return lo;
    }
    const lo = this.read32(la);
    this.hi = this.read32(la + 4);
    return lo;
  }
  /** Reads `size` bytes (1, 2, 4; 8 gives the low half and sets `hi`). */
  read(la: number, size: number): number {
    switch (size) {
      case 1:
        return this.read8(la);
      case 2:
        return this.read16(la);
      case 4:
        return this.read32(la);
      default:
        return this.read64(la);
    }
  }

  write8(la: number, x: number): void {
    const v = this.wfast(la);
    if (v !== undefined) v.setUint8(la & 0xfff, x);
    else this.writeSlow(la, 1, x, 0);
  }
  write16(la: number, x: number): void {
    const off = la & 0xfff;
    if (off > PAGE_SIZE - 2) {
      // Check both pages, in order, before writing either, so a fault leaves memory unchanged.
      this.page(la, AccessKind.Write);
      this.page(la + 1, AccessKind.Write);
      this.write8(la, x);
      this.write8(la + 1, x >> 8);
      return;
    }
    const v = this.wfast(la);
    if (v !== undefined) v.setUint16(off, x, true);
    else this.writeSlow(la, 2, x, 0);
  }
  write32(la: number, x: number): void {
    const off = la & 0xfff;
    if (off > PAGE_SIZE - 4) {
      this.page(la, AccessKind.Write);
      this.page(la - off + PAGE_SIZE, AccessKind.Write); // CR2 is the next page's first byte
      for (let k = 0; k < 4; k++) this.write8(la + k, x >> (8 * k));
      return;
    }
    const v = this.wfast(la);
    if (v !== undefined) v.setInt32(off, x, true);
    else this.writeSlow(la, 4, x, 0);
  }
  write64(la: number, lo: number, hi: number): void {
    const off = la & 0xfff;
    if (off > PAGE_SIZE - 8) {
      this.page(la, AccessKind.Write);
      this.page(la - off + PAGE_SIZE, AccessKind.Write);
      this.write32(la, lo);
      this.write32(la + 4, hi);
      return;
    }
    const v = this.wfast(la);
    if (v !== undefined) {
      v.setInt32(off, lo, true);
      v.setInt32(off + 4, hi, true);
    } else this.writeSlow(la, 8, lo, hi);
  }
  write(la: number, size: number, lo: number, hi: number): void {
    switch (size) {
      case 1:
        this.write8(la, lo);
        break;
      case 2:
        this.write16(la, lo);
        break;
      case 4:
        this.write32(la, lo);
        break;
      default:
        this.write64(la, lo, hi);
    }
  }
  /**
   * The RAM page holding `la` for a bulk access of `kind` (REP MOVS/STOS fast paths), faulting
   * as an access would. Undefined for MMIO, and for a write to a page holding decoded code: the
   * caller then goes element by element so self-modifying code is noticed.
   */
  bulkPage(la: number, kind: AccessKind): DataView | undefined {
    const v = this.page(la, kind);
    if (kind === AccessKind.Write && v !== undefined && this.codeViews.has(v)) return undefined;
    return v;
  }
  /** Faults like a write of `size` bytes at `la` would, without writing (read-modify-write checks). */
  probeWrite(la: number, size: number): void {
    this.page(la, AccessKind.Write);
    if ((la & 0xfff) + size > PAGE_SIZE) this.page(la - (la & 0xfff) + PAGE_SIZE, AccessKind.Write);
  }

  /**
   * An implicit supervisor access (descriptor tables, the TSS, stack frames of interrupt
   * delivery, SYSCALL and IRET at a new privilege): translated for supervisor privilege without
   * the TLB (whose entries belong to the current privilege) and without SMAP's AC override.
   * Sizes 1, 2, 4 and 8 (low half returned, high half in `hi`).
   */
  sysRead(la: number, size: number): number {
    if ((la & 0xfff) + size > PAGE_SIZE) {
      // Byte-wise across the page boundary (rare: misaligned descriptor tables or stacks).
      let lo = 0;
      let hi = 0;
      for (let k = 0; k < size; k++) {
        const b = this.sysRead(la + k, 1);
        if (k < 4) lo |= b << (8 * k);
        else hi |= b << (8 * (k - 4));
      }
      this.hi = hi;
      return lo;
    }
    const v = this.sysView(la, AccessKind.Read);
    const off = la & 0xfff;
    if (v === undefined) {
      if (size === 8) {
        const lo = (this.mem.mmioRead?.(la, 4) ?? -1) | 0;
        this.hi = (this.mem.mmioRead?.(la + 4, 4) ?? -1) | 0;
        return lo;
      }
      return this.mem.mmioRead?.(la, size as 1 | 2 | 4) ?? (size === 4 ? -1 : (1 << (8 * size)) - 1);
    }
    switch (size) {
      case 1:
        return v.getUint8(off);
      case 2:
        return v.getUint16(off, true);
      case 4:
        return v.getInt32(off, true);
      default:
        this.hi = v.getInt32(off + 4, true);
        return v.getInt32(off, true);
    }
  }

  /** The write counterpart of `sysRead`. Both pages of a straddling write are checked first. */
  sysWrite(la: number, size: number, lo: number, hi: number): void {
    if ((la & 0xfff) + size > PAGE_SIZE) {
      this.sysView(la, AccessKind.Write);
      this.sysView(la - (la & 0xfff) + PAGE_SIZE, AccessKind.Write);
      for (let k = 0; k < size; k++) this.sysWrite(la + k, 1, k < 4 ? lo >> (8 * k) : hi >> (8 * (k - 4)), 0);
      return;
    }
    const v = this.sysView(la, AccessKind.Write);
    const off = la & 0xfff;
    if (v === undefined) {
      if (size === 8) {
        this.mem.mmioWrite?.(la, 4, lo);
        this.mem.mmioWrite?.(la + 4, 4, hi);
      } else this.mem.mmioWrite?.(la, size as 1 | 2 | 4, lo);
      return;
    }
    if (size === 1) v.setUint8(off, lo);
    else if (size === 2) v.setUint16(off, lo, true);
    else {
      v.setInt32(off, lo, true);
      if (size === 8) v.setInt32(off + 4, hi, true);
    }
    if (this.codeViews.has(v)) this.invalidateView(v);
  }

  private sysView(la: number, kind: AccessKind): DataView | undefined {
    const ac = this.smapOverride;
    this.smapOverride = false;
    try {
      return this.mem.lookup(la, kind, false);
    } finally {
      this.smapOverride = ac;
    }
  }

  private mmioRead(la: number, size: 1 | 2 | 4): number {
    if (this.mem.mmioRead === undefined) throw new Fault(PF_VEC, this.user ? 4 : 0, la);
    return this.mem.mmioRead(la, size);
  }
  private mmioWrite(la: number, size: 1 | 2 | 4, v: number): void {
    if (this.mem.mmioWrite === undefined) throw new Fault(PF_VEC, 2 | (this.user ? 4 : 0), la);
    this.mem.mmioWrite(la, size, v);
  }

  // ---- system state -------------------------------------------------------------------------

  /**
   * A system-level CPU over `phys`: the paging unit (`mmu`) in front of it, CR0 as after reset
   * (real mode is not modelled: a loader puts the CPU in protected mode with `loadSegmentCache`,
   * `cr0` and `refreshMode`), CPL 0, IDT delivery of exceptions the driver does not take over.
   */
  static system(phys: PhysicalMemory, hooks: CpuHooks, features: Iterable<Feature> = ['base']): Cpu {
    const regs = { cr0: 0, cr3: 0, cr4: 0, efer: 0, smapOverride: false };
    const mmu = new Mmu(phys, regs);
    const cpu = new Cpu(mmu, hooks, features);
    mmu.regs = cpu;
    cpu.mmu = mmu;
    cpu.system = true;
    cpu.traceMask = RF_TF | RF_RF;
    cpu.setCpl(0);
    cpu.refreshMode();
    return cpu;
  }

  /** The paging unit of a system-level CPU (`Cpu.system`). */
  mmu: Mmu | undefined = undefined;

  /** Changes CPL; cached translations were checked for the old privilege, so they go. */
  setCpl(cpl: number): void {
    if (cpl === this.cpl) return;
    // Only the change between supervisor (0-2) and user (3) alters what the TLB checked.
    const flush = (cpl === 3) !== (this.cpl === 3);
    this.cpl = cpl;
    if (flush) this.flushTlb();
  }

  /** CR0.MP, EM or TS changed: recompute `fpuTrap`; blocks decoded under the old rule go. */
  private fpuControlChanged(): void {
    const cr0 = this.cr0Bits;
    const x87 = fpuGate('x87', cr0);
    const wait = fpuGate('wait', cr0);
    const sse = fpuGate('sse', cr0);
    const fxsr = fpuGate('fxsr', cr0);
    const next = x87 === 0 && wait === 0 && sse === 0 && fxsr === 0 ? undefined : { x87, wait, sse, fxsr };
    const prev = this.fpuTrap;
    this.fpuTrap = next;
    if (prev?.x87 !== next?.x87 || prev?.wait !== next?.wait || prev?.sse !== next?.sse || prev?.fxsr !== next?.fxsr) this.invalidateAllCode();
  }

  /**
   * Recomputes the code size and stack width from CR0.PE, EFER.LMA, CS.L/D and SS.B after a
   * change to any of them. Blocks decoded for another mode are dropped.
   */
  refreshMode(): void {
    if (!this.system) return;
    const cs = this.segAttr[1] as number;
    let mode: 64 | 32 | 16;
    if ((this.cr0 & CR0_PE) === 0) mode = 16;
    else if ((this.efer & EFER_LMA) !== 0 && (cs & SA_L) !== 0) mode = 64;
    else mode = (cs & SA_DB) !== 0 ? 32 : 16;
    this.stackSize = mode === 64 ? 8 : ((this.segAttr[2] as number) & SA_DB) !== 0 ? 4 : 2;
    if (mode !== this.mode) {
      this.mode = mode;
      this.invalidateAllCode();
    }
  }

  /** Loads a segment register's cache without any check (loaders; the descriptor checks are in system/segments.ts). */
  loadSegmentCache(seg: number, sel: number, base: number, limit: number, attr: number): void {
    this.segSel[seg] = sel;
    this.segBase[seg] = base;
    this.segLimit[seg] = limit;
    this.segAttr[seg] = attr;
    if (seg === 1 || seg === 2) this.refreshMode();
  }

  /**
   * Replaces RFLAGS (all bits as given, bit 1 forced). Keeps the derived state right: SMAP's
   * AC override, the single-step mode, an interrupt poll when IF may have come on.
   */
  setFlags(v: number): void {
    this.lfOp = LazyOp.None;
    const old = this.flags;
    this.flags = (v | 2) & ~0x8028 & 0x3f7fd7;
    this.flagsChanged(old);
  }

  /**
   * DR7 or DR0-3 changed. Any enabled breakpoint makes the run loop step one instruction at a
   * time; the pages of data breakpoints are kept out of the TLB so every access to them goes
   * through `page`, which records hits (SDM vol. 3 §17.2.4-17.3.1.2).
   */
  debugRegistersChanged(): void {
    const dr7 = this.dr[7] as number;
    this.breakpoints = this.system && (dr7 & 0xff) !== 0;
    this.dataBreakpointPages.clear();
    for (let k = 0; k < 4 && this.breakpoints; k++) {
      const rw = (dr7 >>> (16 + 4 * k)) & 3;
      if (((dr7 >>> (2 * k)) & 3) === 0 || rw === 0 || rw === 2) continue;
      const a = this.dr[k] as number;
      this.dataBreakpointPages.add(pageOf(a));
      this.dataBreakpointPages.add(pageOf(a + 7));
    }
    this.flushTlb();
  }
  /** Some DR0-3 breakpoint is enabled in DR7 (checked by the single-step path). */
  breakpoints = false;
  /** Linear pages holding an enabled data breakpoint (never cached in the TLB). */
  private readonly dataBreakpointPages = new Set<number>();
  /** DR6 B0-B3 bits of data breakpoints hit by the current instruction. */
  private dataBreakpointHits = 0;

  /** Records a data-breakpoint hit for an access at `la` (its first byte: a documented simplification). */
  private checkDataBreakpoints(la: number, kind: AccessKind): void {
    const dr7 = this.dr[7] as number;
    for (let k = 0; k < 4; k++) {
      if (((dr7 >>> (2 * k)) & 3) === 0) continue;
      const rw = (dr7 >>> (16 + 4 * k)) & 3;
      if (rw === 0 || rw === 2 || (rw === 1 && kind !== AccessKind.Write)) continue;
      const len = [1, 2, 8, 4][(dr7 >>> (18 + 4 * k)) & 3] as number;
      const start = Math.floor((this.dr[k] as number) / len) * len;
      if (la >= start && la < start + len) this.dataBreakpointHits |= 1 << k;
    }
  }

  /** Call after writing `flags` directly with system bits possibly changed. */
  flagsChanged(old: number): void {
    const f = this.flags;
    if (((old ^ f) & RF_AC) !== 0) {
      this.smapOverride = (f & RF_AC) !== 0;
      if ((this.cr4 & CR4_SMAP) !== 0) this.flushTlb();
    }
    if ((f & RF_IF) !== 0 && (old & RF_IF) === 0) this.interruptCheck = true;
  }

  // ---- control transfer -------------------------------------------------------------------

  /** Sets RIP, checking canonical form in 64-bit mode (#GP(0) on the branch itself). */
  jump(target: number): void {
    if (this.mode === 64) {
      if (target >= 0x800000000000 || target < -0x800000000000) throw new Fault(GP, 0);
      this.rip = target;
    } else this.rip = this.mode === 32 ? target >>> 0 : target & 0xffff;
  }

  // ---- block cache and run loop -----------------------------------------------------------

  /** Forgets the blocks decoded from frame `view` (it was written). */
  private invalidateView(view: DataView): void {
    const set = this.codeViews.get(view);
    if (set === undefined) return;
    this.codeViews.delete(view);
    for (const b of set) {
      b.live = false;
      const head = this.blocks.get(b.rip);
      if (head === undefined) continue;
      // Rebuild the chain at this RIP without the dead blocks.
      let first: Block | undefined;
      let last: Block | undefined;
      for (let x: Block | undefined = head; x !== undefined; x = x.alt) {
        if (!x.live) continue;
        if (last === undefined) first = x;
        else last.alt = x;
        last = x;
      }
      if (last !== undefined) last.alt = undefined;
      if (first === undefined) this.blocks.delete(b.rip);
      else this.blocks.set(b.rip, first);
    }
    this.blockBroken = true;
  }

  /**
   * The driver wrote frame `view` behind the CPU's back (a hypervisor's page copy or clear):
   * the blocks decoded from it go, as if the guest had written it.
   */
  invalidateFrame(view: DataView): void {
    this.invalidateView(view);
  }

  /** Forgets every decoded block (the driver changed code behind the CPU's back, or the mode changed). */
  invalidateAllCode(): void {
    for (const b of this.blocks.values()) for (let x: Block | undefined = b; x !== undefined; x = x.alt) x.live = false;
    this.blocks.clear();
    this.codeViews.clear();
    this.flushTlb();
    this.blockBroken = true;
  }

  private registerCode(view: DataView, block: Block): void {
    let set = this.codeViews.get(view);
    if (set === undefined) {
      set = new Set();
      this.codeViews.set(view, set);
      // Evict every write-TLB entry for this frame (through any mapping) so stores to it take
      // writeSlow, which invalidates.
      const wv = this.wView;
      const wt = this.wTag;
      for (let s = 0; s < TLB_SIZE; s++) if (wv[s] === view) wt[s] = Number.NaN;
    }
    set.add(block);
  }

  private translate(rip: number): Block {
    const insns: Insn[] = [];
    const page = pageOf(rip);
    let la = rip;
    for (;;) {
      let insn: Insn;
      try {
        insn = decode(this, la);
      } catch (e) {
        // A fault while decoding a later instruction belongs to that instruction: end the block
        // before it, so the instructions before it run and the fault is raised at the right RIP.
        if (insns.length > 0 && e instanceof Fault) break;
        // At the block's first instruction the fault is that instruction's (run() restores RIP from insnStart).
        this.insnStart = rip;
        throw e;
      }
      // CR0.MP/EM/TS: an `fpu` row they deny becomes its exception at decode time, so running a
      // block never looks at CR0 (blocks are dropped when those bits change).
      const trap = this.fpuTrap;
      if (trap !== undefined && insn.row.fpu !== undefined) {
        const v = trap[insn.row.fpu];
        if (v !== 0) insn = { ...insn, exec: v === NM ? raiseNm : raiseUd };
      }
      insns.push(insn);
      la += insn.len;
      if (insn.row.ends === true || insns.length >= MAX_BLOCK || pageOf(la) !== page || pageOf(la - 1) !== page) break;
    }
    const view = this.page(rip, AccessKind.Fetch);
    const lastPage = pageOf(la - 1);
    // An instruction straddling into the next page: writes there invalidate this block too.
    const view2 = lastPage !== page ? this.page(la - 1, AccessKind.Fetch) : undefined;
    const block: Block = {
      rip, insns, page, view, view2, alt: this.blocks.get(rip), live: true, succA: undefined, succB: undefined, hits: 0, fn: undefined,
      vEpoch: -1, loopHot: false,
    };
    this.blocks.set(rip, block);
    if (view !== undefined) this.registerCode(view, block);
    if (view2 !== undefined) this.registerCode(view2, block);
    return block;
  }

  /**
   * Runs until `limit` instructions have retired, a hook sets `stopRequested`, the CPU halts
   * with nothing to wake it, or it shuts down. Exceptions go to `hooks.exception` with RIP at the
   * faulting instruction (after it, for traps); a system-level CPU delivers those the driver
   * does not take over through the IDT. Execution continues wherever that left RIP.
   */
  run(limit: number): number {
    const start = this.retired;
    const end = start + limit;
    this.stopRequested = false;
    while (!this.stopRequested && this.retired < end && this.shutdownReason === undefined) {
      if (this.interruptCheck) {
        if (this.system) this.pollInterrupt();
        else this.interruptCheck = false;
      }
      if (this.halted) break;
      try {
        // One instruction at a time for TF, instruction breakpoints, and the instruction in an
        // interrupt shadow (STI, MOV SS) while an interrupt poll waits for it to retire.
        if (this.system && ((this.flags & this.traceMask) !== 0 || this.breakpoints || (this.interruptCheck && this.retired < this.shadowEnd))) {
          this.stepTraced();
        } else this.runBlocks(end);
      } catch (e) {
        if (!(e instanceof Fault)) throw e;
        if (!e.trap) this.rip = this.insnStart;
        this.raise(e);
      }
    }
    return this.retired - start;
  }

  /** Hands a fault to the driver, then (system level) to the IDT. */
  raise(f: Fault): void {
    const h = this.hooks.exception;
    if (h !== undefined && h(this, f) !== false) return;
    if (!this.system) {
      this.unhandledFault = f;
      this.stopRequested = true;
      return;
    }
    deliverException(this, f);
  }

  /** Takes a pending external interrupt if RFLAGS.IF and no shadow allow it (also wakes HLT). */
  private pollInterrupt(): void {
    if ((this.flags & RF_IF) === 0) {
      // Nothing can be taken until IF is set again (STI/POPF/IRET set interruptCheck then).
      this.interruptCheck = false;
      return;
    }
    if (this.retired < this.shadowEnd) return;
    const pending = this.hooks.pendingInterrupt?.(this) ?? -1;
    if (pending < 0) {
      this.interruptCheck = false;
      return;
    }
    const vector = this.hooks.acknowledgeInterrupt?.(this) ?? pending;
    this.halted = false;
    if (vector < 0) return; // the driver delivered it itself (a PV event upcall)
    try {
      deliverInterrupt(this, vector);
    } catch (e) {
      if (!(e instanceof Fault)) throw e;
      this.raise(e);
    }
  }

  /** Requests an interrupt poll at the next boundary (the driver raised or unmasked one). */
  signalInterrupt(): void {
    this.interruptCheck = true;
  }

  /**
   * One instruction at a time, for RFLAGS.TF, RFLAGS.RF and DR0-3 instruction breakpoints (SDM
   * vol. 3B §17.3.1): an enabled execute breakpoint at RIP is a #DB fault unless RFLAGS.RF is
   * set; RF is cleared once an instruction completes (whether or not a breakpoint is armed); with
   * TF set at its start, the instruction is followed by a #DB trap (DR6.BS), unless it faulted or
   * ran in a MOV SS / POP SS shadow.
   */
  private stepTraced(): void {
    const rip = this.rip;
    this.insnStart = rip;
    if (this.breakpoints && (this.flags & RF_RF) === 0) {
      const dr7 = this.dr[7] as number;
      let hit = 0;
      for (let k = 0; k < 4; k++) {
        // Enabled (L or G) and R/W = 00 (execution); the length field must be 00 for execution.
        if (((dr7 >>> (2 * k)) & 3) !== 0 && ((dr7 >>> (16 + 4 * k)) & 3) === 0 && this.dr[k] === rip) hit |= 1 << k;
      }
      if (hit !== 0) {
        this.dr[6] = (((this.dr[6] as number) & ~0xf) | hit) >>> 0;
        throw new Fault(DB);
      }
    }
    const block = this.blockFor(rip) ?? this.translate(rip);
    const i = block.insns[0] as Insn;
    const traced = (this.flags & RF_TF) !== 0;
    const suppressed = this.retired < this.shadowEnd;
    const nxt = rip + i.len;
    this.rip = this.mode === 64 ? nxt : this.mode === 32 ? nxt >>> 0 : nxt & 0xffff;
    // RF has done its work (the breakpoint check above) and is clear once the instruction
    // completes (§17.3.1.1); clearing it before running the instruction gives the same state, and
    // also the RF = 0 of the frame a trap or INT n it raises pushes (a fault's delivery sets RF in
    // its frame itself). An IRET may set it again, for the instruction after it.
    this.flags &= ~RF_RF;
    this.dataBreakpointHits = 0;
    i.exec(this, i);
    this.retired++;
    const hits = this.dataBreakpointHits;
    if ((!traced && hits === 0) || suppressed || this.shutdownReason !== undefined) return;
    // Data breakpoints and single-step are both traps after the instruction: one #DB reports both.
    this.dr[6] = (((this.dr[6] as number) & ~0xf) | hits | (traced ? DR6_BS : 0)) >>> 0;
    throw new Fault(DB, -1, 0, true);
  }

  /** The live block at `rip` decoded from the frame currently mapped there, if any. */
  private blockFor(rip: number): Block | undefined {
    let b = this.blocks.get(rip);
    if (b === undefined || !this.system) return b;
    const view = this.fetchView(rip);
    while (b !== undefined && b.view !== view) b = b.alt;
    return b;
  }

  /** The frame mapped at `rip` for instruction fetch (the fetch TLB's fast path, else a walk). */
  private fetchView(rip: number): DataView | undefined {
    const pn = pageOf(rip);
    const slot = pn & (TLB_SIZE - 1);
    const tags = this.tlbTag[AccessKind.Fetch] as Float64Array;
    if (tags[slot] === pn) return (this.tlbView[AccessKind.Fetch] as (DataView | undefined)[])[slot];
    // A fetch fault here belongs to the instruction at `rip` (the branch to it completed).
    this.insnStart = rip;
    return this.page(rip, AccessKind.Fetch);
  }

  /**
   * The block at RIP: first the successors remembered on the previous block (a branch has at
   * most two, and loops and calls keep hitting them), else the block map, else a new one. At
   * system level a block is used only if it was decoded from the frame mapped at RIP now.
   */
  private nextBlock(prev: Block | undefined): Block {
    const rip = this.rip;
    if (prev !== undefined) {
      const a = prev.succA;
      if (a !== undefined && a.rip === rip && a.live && (!this.system || a.vEpoch === this.fetchEpoch || this.mappedAt(a, rip))) return a;
      const b = prev.succB;
      if (b !== undefined && b.rip === rip && b.live && (!this.system || b.vEpoch === this.fetchEpoch || this.mappedAt(b, rip))) return b;
    }
    const block = this.blockFor(rip) ?? this.translate(rip);
    if (this.system) this.mappedAt(block, rip);
    if (prev !== undefined) {
      prev.succB = prev.succA;
      prev.succA = block;
    }
    return block;
  }

  /**
   * Whether `b` was decoded from the frame mapped at `rip` now; when the fetch TLB holds that
   * mapping, the answer is remembered until the TLB changes (`vEpoch`).
   */
  private mappedAt(b: Block, rip: number): boolean {
    if (b.view !== this.fetchView(rip)) return false;
    const pn = pageOf(rip);
    if ((this.tlbTag[AccessKind.Fetch] as Float64Array)[pn & (TLB_SIZE - 1)] === pn) b.vEpoch = this.fetchEpoch;
    return true;
  }

  /**
   * The hot block `b` compiled with the blocks statically reachable from it that are already
   * decoded from the same frame and page (see jit.ts, regions); alone if there are none.
   */
  private compile(b: Block): CompiledBlock | undefined {
    const members: Block[] = [b];
    if (this.regions && this.mode === 64 && b.view !== undefined && b.view2 === undefined) {
      const index = new Map<number, number>([[b.rip, 0]]);
      for (let k = 0; k < members.length && members.length < MAX_REGION; k++) {
        for (const t of staticSuccessors((members[k] as Block).insns)) {
          if (index.has(t) || pageOf(t) !== b.page || members.length >= MAX_REGION) continue;
          let m = this.blocks.get(t);
          while (m !== undefined && !(m.live && m.view === b.view)) m = m.alt;
          if (m === undefined || m.view2 !== undefined) continue;
          index.set(t, members.length);
          members.push(m);
        }
      }
    }
    if (members.length === 1) return compileBlock(b.insns, this.mode);
    // Keep the blocks on a loop through the entry: those that can get back to it inside the
    // region. Straight-line successors would only make the function bigger (V8 optimises a
    // small loop far better) for a dispatch saved once.
    const back = new Set<number>([0]);
    for (let changed = true; changed; ) {
      changed = false;
      members.forEach((m, k) => {
        if (!back.has(k) && staticSuccessors(m.insns).some((t) => back.has(members.findIndex((x) => x.rip === t)))) {
          back.add(k);
          changed = true;
        }
      });
    }
    const loop = members.filter((_, k) => back.has(k));
    if (loop.length === 1) return compileBlock(b.insns, this.mode);
    return compileRegion(loop, this.system);
  }

  private runBlocks(end: number): void {
    const mask = this.mode === 64 ? 0 : this.mode === 32 ? 1 : 2;
    let prev: Block | undefined;
    while (!this.stopRequested && !this.interruptCheck && this.retired < end && (this.flags & this.traceMask) === 0 && !this.breakpoints) {
      const block = this.nextBlock(prev);
      prev = block;
      this.blockBroken = false;
      if (block.fn !== undefined) {
        // A region returns the member it left from, whose successors come next.
        prev = (block.fn(this, end) as Block | undefined) ?? block;
        continue;
      }
      if (this.jit && ++block.hits >= this.jitThreshold) {
        block.fn = this.compile(block);
        if (block.fn !== undefined) {
          prev = (block.fn(this, end) as Block | undefined) ?? block;
          continue;
        }
      }
      const insns = block.insns;
      for (let k = 0; k < insns.length; k++) {
        const i = insns[k] as Insn;
        const at = this.rip;
        this.insnStart = at;
        const nxt = at + i.len;
        this.rip = mask === 0 ? nxt : mask === 1 ? nxt >>> 0 : nxt & 0xffff;
        i.exec(this, i);
        this.retired++;
        if (this.blockBroken || this.stopRequested) break;
      }
    }
  }
}
