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
import { compileBlock, type CompiledBlock } from './jit.js';
import { Fault, GP, PF_VEC } from './fault.js';
import { LazyOp, lazyArith } from './flags.js';
import type { Feature } from './isa/types.js';
import { ARITH, CF } from './isa/types.js';
import { AccessKind, PAGE_SIZE, pageOf, type LinearMemory } from './memory.js';
import { X87 } from './exec/x87-state.js';

export interface CpuHooks {
  /** SYSCALL executed (the driver emulates the OS or hypervisor entry). */
  syscall?(c: Cpu): void;
  /** An exception was raised; RIP points at the faulting instruction. */
  exception(c: Cpu, fault: Fault): void;
  /** CPUID leaf/subleaf: returns [eax, ebx, ecx, edx]. */
  cpuid?(c: Cpu, leaf: number, subleaf: number): readonly [number, number, number, number];
  /** Time-stamp counter for RDTSC/RDTSCP, as [low, high]. */
  rdtsc?(c: Cpu): readonly [number, number];
  /** A random value for RDRAND/RDSEED of `size` bytes, [low, high], or undefined (CF=0). */
  random?(c: Cpu, size: number): readonly [number, number] | undefined;
  /** HLT at CPL 0. */
  hlt?(c: Cpu): void;
  /**
   * INT n (CD ib) executed; RIP is already past the instruction. The driver delivers it (through
   * the IDT, or as its OS would). Absent: #GP(n·8+2), as a CPL 3 INT n through a DPL 0 gate.
   */
  interrupt?(c: Cpu, vector: number): void;
  /** IA32_TSC_AUX for RDTSCP and RDPID (0 when absent). */
  tscAux?(c: Cpu): number;
}

interface Block {
  readonly rip: number;
  readonly insns: readonly Insn[];
  readonly page: number;
  /** False once invalidated (successor links may still point at it). */
  live: boolean;
  /** The last two blocks executed after this one (successor cache). */
  succA: Block | undefined;
  succB: Block | undefined;
  /** Executions so far, until it is compiled. */
  hits: number;
  /** The compiled form (x86/jit.ts), once the block is hot. */
  fn: CompiledBlock | undefined;
}


/** Direct-mapped TLB size (entries per access kind). */
const TLB_SIZE = 4096;
const MAX_BLOCK = 64;

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

  /** Code size: 64 (long mode), 32 or 16. */
  mode: 64 | 32 | 16 = 64;
  /** CPL 3: memory accesses are user accesses. */
  user = true;
  /** Segment bases (ES, CS, SS, DS, FS, GS); in 64-bit mode only FS and GS count. */
  readonly segBase = new Float64Array(6);
  readonly segSel = new Uint16Array(6);

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
  /** Set by a hook to leave `run` after the current instruction. */
  stopRequested = false;

  readonly features: ReadonlySet<Feature>;

  private readonly tlbTag: Float64Array[] = [0, 1, 2].map(() => new Float64Array(TLB_SIZE).fill(Number.NaN));
  private readonly tlbView: (DataView | undefined)[][] = [0, 1, 2].map(() => new Array<DataView | undefined>(TLB_SIZE));
  /** The read TLB, reachable directly for the load fast path. */
  private readonly rTag = this.tlbTag[AccessKind.Read] as Float64Array;
  private readonly rView = this.tlbView[AccessKind.Read] as (DataView | undefined)[];
  /** The write TLB, also reachable directly for the store fast path. */
  private readonly wTag = this.tlbTag[AccessKind.Write] as Float64Array;
  private readonly wView = this.tlbView[AccessKind.Write] as (DataView | undefined)[];
  private readonly blocks = new Map<number, Block>();
  private readonly codePages = new Map<number, Set<number>>();
  /** The current block was invalidated by a write into it (self-modifying code); read by compiled blocks. */
  blockBroken = false;

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

  /** Drops every cached translation (the driver changed mappings or permissions). */
  flushTlb(): void {
    for (const t of this.tlbTag) t.fill(Number.NaN);
  }

  private page(la: number, kind: AccessKind): DataView | undefined {
    const pn = pageOf(la);
    const slot = pn & (TLB_SIZE - 1);
    const tags = this.tlbTag[kind] as Float64Array;
    if (tags[slot] === pn) return (this.tlbView[kind] as (DataView | undefined)[])[slot];
    const view = this.mem.lookup(la, kind, this.user);
    // Writes to pages holding decoded code stay on the slow path so they can invalidate blocks.
    if (view !== undefined && !(kind === AccessKind.Write && this.codePages.has(pn))) {
      tags[slot] = pn;
      (this.tlbView[kind] as (DataView | undefined)[])[slot] = view;
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
    const pn = pageOf(la);
    if (this.codePages.has(pn)) this.invalidatePage(pn);
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
    if (kind === AccessKind.Write && this.codePages.has(pageOf(la))) return undefined;
    return v;
  }
  /** Faults like a write of `size` bytes at `la` would, without writing (read-modify-write checks). */
  probeWrite(la: number, size: number): void {
    this.page(la, AccessKind.Write);
    if ((la & 0xfff) + size > PAGE_SIZE) this.page(la - (la & 0xfff) + PAGE_SIZE, AccessKind.Write);
  }

  private mmioRead(la: number, size: 1 | 2 | 4): number {
    if (this.mem.mmioRead === undefined) throw new Fault(PF_VEC, this.user ? 4 : 0, la);
    return this.mem.mmioRead(la, size);
  }
  private mmioWrite(la: number, size: 1 | 2 | 4, v: number): void {
    if (this.mem.mmioWrite === undefined) throw new Fault(PF_VEC, 2 | (this.user ? 4 : 0), la);
    this.mem.mmioWrite(la, size, v);
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

  private invalidatePage(page: number): void {
    const rips = this.codePages.get(page);
    if (rips === undefined) return;
    for (const rip of rips) {
      const b = this.blocks.get(rip);
      if (b !== undefined) b.live = false;
      this.blocks.delete(rip);
    }
    this.codePages.delete(page);
    this.blockBroken = true;
  }

  /** Forgets every decoded block (the driver changed code behind the CPU's back, e.g. a mapping). */
  invalidateAllCode(): void {
    for (const b of this.blocks.values()) b.live = false;
    this.blocks.clear();
    this.codePages.clear();
    this.flushTlb();
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
      insns.push(insn);
      la += insn.len;
      if (insn.row.ends === true || insns.length >= MAX_BLOCK || pageOf(la) !== page || pageOf(la - 1) !== page) break;
    }
    const block: Block = { rip, insns, page, live: true, succA: undefined, succB: undefined, hits: 0, fn: undefined };
    this.blocks.set(rip, block);
    let set = this.codePages.get(page);
    if (set === undefined) {
      set = new Set();
      this.codePages.set(page, set);
      // Evict this page from the write TLB so stores to it take writeSlow, which invalidates.
      const slot = page & (TLB_SIZE - 1);
      const wtags = this.tlbTag[AccessKind.Write] as Float64Array;
      if (wtags[slot] === page) wtags[slot] = Number.NaN;
    }
    set.add(rip);
    const lastPage = pageOf(la - 1);
    if (lastPage !== page) {
      // An instruction straddling into the next page: writes there invalidate this block too.
      let s2 = this.codePages.get(lastPage);
      if (s2 === undefined) {
        s2 = new Set();
        this.codePages.set(lastPage, s2);
        const wtags = this.tlbTag[AccessKind.Write] as Float64Array;
        if (wtags[lastPage & (TLB_SIZE - 1)] === lastPage) wtags[lastPage & (TLB_SIZE - 1)] = Number.NaN;
      }
      s2.add(rip);
    }
    return block;
  }

  /**
   * Runs until `limit` instructions have retired or a hook sets `stopRequested`. Exceptions are
   * handed to `hooks.exception` with RIP at the faulting instruction; execution then continues
   * wherever the hook left RIP (or stops, if it asked to).
   */
  run(limit: number): number {
    const start = this.retired;
    const end = start + limit;
    this.stopRequested = false;
    while (!this.stopRequested && this.retired < end) {
      try {
        this.runBlocks(end);
      } catch (e) {
        if (!(e instanceof Fault)) throw e;
        if (!e.trap) this.rip = this.insnStart;
        this.hooks.exception(this, e);
      }
    }
    return this.retired - start;
  }

  /**
   * The block at RIP: first the successors remembered on the previous block (a branch has at
   * most two, and loops and calls keep hitting them), else the block map, else a new one.
   */
  private nextBlock(prev: Block | undefined): Block {
    const rip = this.rip;
    if (prev !== undefined) {
      const a = prev.succA;
      if (a !== undefined && a.rip === rip && a.live) return a;
      const b = prev.succB;
      if (b !== undefined && b.rip === rip && b.live) return b;
    }
    const block = this.blocks.get(rip) ?? this.translate(rip);
    if (prev !== undefined) {
      prev.succB = prev.succA;
      prev.succA = block;
    }
    return block;
  }

  private runBlocks(end: number): void {
    const mask = this.mode === 64 ? 0 : this.mode === 32 ? 1 : 2;
    let prev: Block | undefined;
    while (!this.stopRequested && this.retired < end) {
      const block = this.nextBlock(prev);
      prev = block;
      this.blockBroken = false;
      if (block.fn !== undefined) {
        block.fn(this);
        continue;
      }
      if (this.jit && ++block.hits >= this.jitThreshold) {
        block.fn = compileBlock(block.insns, this.mode);
        if (block.fn !== undefined) {
          block.fn(this);
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
