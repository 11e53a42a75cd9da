/**
 * The local APIC of one logical processor, in xAPIC mode (Intel SDM vol. 3A, chapter "Advanced
 * Programmable Interrupt Controller (APIC)": ch. 10 in most editions, ch. 11 in recent ones;
 * section numbers below use the ch. 10 numbering).
 *
 * Self-contained: it knows nothing of the `Cpu`. Whoever owns the processor wires it up:
 *
 * - MSR 0x1B (IA32_APIC_BASE): `readBaseMsr()` / `writeBaseMsr(lo, hi)` (false: raise #GP).
 *   MSR 0x6E0 (IA32_TSC_DEADLINE): `readTscDeadline()` / `writeTscDeadline(value)`.
 * - The 4 KiB register page at `base` (physical), while `enabled`: 32-bit aligned accesses go to
 *   `read(offset)` / `write(offset, value)`; narrower or misaligned accesses are the owner's to
 *   split or refuse (the SDM only defines aligned 32-bit accesses, §10.4.1).
 * - Before each instruction boundary where interrupts may be taken: `pending()` (it first
 *   brings the timer up to `now()`); if it is ≥ 0 and RFLAGS.IF allows it, `acknowledge()`
 *   returns the vector to deliver through the IDT (the INTA cycle).
 * - External interrupt messages (I/O APIC, event injection, another APIC's IPI): `accept()`.
 *   Local pins and sensors (LINT0/LINT1, thermal, performance counters, CMCI): `signalLocal()`,
 *   whose answer says whether the CPU itself must act (NMI, SMI, INIT, ExtINT).
 * - An idle (HLT) processor may skip its clock forward to `nextEvent()`.
 * - INIT and RESET of the processor: `init()` and `reset()`.
 *
 * Not modelled: x2APIC (IA32_APIC_BASE bit 10 is refused), EOI-broadcast suppression, the
 * focus-processor and arbitration machinery of the 3-wire APIC bus, remote read (RRD reads 0).
 *
 * Determinism: time only comes from the owner's `now()` (TSC ticks); nothing is random.
 */

// ---- Constants the CPU owner needs ------------------------------------------------------------

/** IA32_APIC_BASE (SDM vol. 4, MSR index 1BH). */
export const MSR_IA32_APIC_BASE = 0x1b;
/** IA32_TSC_DEADLINE (MSR index 6E0H); CPUID.01H:ECX.TSC_Deadline[bit 24] advertises it. */
export const MSR_IA32_TSC_DEADLINE = 0x6e0;
/** Physical address of the register page after reset. */
export const APIC_DEFAULT_BASE = 0xfee00000;
/** IA32_APIC_BASE bits (SDM §10.4.4, figure 10-5). */
export const APIC_BASE_BSP = 1 << 8;
export const APIC_BASE_EXTD = 1 << 10;
export const APIC_BASE_EN = 1 << 11;
/** Version register, bits 7:0: 14H, the integrated APIC of Pentium 4 and later (§10.4.8). */
export const APIC_VERSION = 0x14;
/**
 * Number of LVT entries minus one, version register bits 23:16. Six: the seven entries CMCI,
 * timer, thermal, performance counters, LINT0, LINT1 and error all exist here. (The owner may
 * then set MCG_CAP.MCG_CMCI_P if it models machine checks; the CMCI entry works regardless.)
 */
export const APIC_MAX_LVT = 6;
/** What the version register (offset 30H) reads: no EOI-broadcast suppression (bit 24 clear). */
export const APIC_VERSION_REGISTER = APIC_VERSION | (APIC_MAX_LVT << 16);
/**
 * Default TSC ticks per tick of the timer's input clock (the "bus clock" before the divider):
 * 1, so the timer counts at the TSC rate divided by the divide configuration only. An owner that
 * answers CPUID leaf 15H (TSC/crystal ratio) should report this ratio there.
 */
export const APIC_DEFAULT_TSC_PER_BUS_TICK = 1;
/** Default MAXPHYADDR for the base's reserved-bit check (matches CPUID 8000_0008H = 0x30). */
export const APIC_DEFAULT_PHYS_ADDR_BITS = 48;

/** Register offsets in the page (SDM table 10-1). */
export const APIC_ID = 0x20;
export const APIC_VER = 0x30;
export const APIC_TPR = 0x80;
export const APIC_APR = 0x90;
export const APIC_PPR = 0xa0;
export const APIC_EOI = 0xb0;
export const APIC_RRD = 0xc0;
export const APIC_LDR = 0xd0;
export const APIC_DFR = 0xe0;
export const APIC_SVR = 0xf0;
export const APIC_ISR = 0x100;
export const APIC_TMR = 0x180;
export const APIC_IRR = 0x200;
export const APIC_ESR = 0x280;
export const APIC_LVT_CMCI = 0x2f0;
export const APIC_ICR_LO = 0x300;
export const APIC_ICR_HI = 0x310;
export const APIC_LVT_TIMER = 0x320;
export const APIC_LVT_THERMAL = 0x330;
export const APIC_LVT_PERF = 0x340;
export const APIC_LVT_LINT0 = 0x350;
export const APIC_LVT_LINT1 = 0x360;
export const APIC_LVT_ERROR = 0x370;
export const APIC_TIMER_INITIAL = 0x380;
export const APIC_TIMER_CURRENT = 0x390;
export const APIC_TIMER_DIVIDE = 0x3e0;

/** SVR bit 8: APIC software enable. */
export const SVR_APIC_ENABLE = 1 << 8;

/** Error status register bits (§10.5.3). Bits 0-1 (checksum errors) belong to the 3-wire bus. */
export const ESR_SEND_ACCEPT = 1 << 2;
export const ESR_RECEIVE_ACCEPT = 1 << 3;
export const ESR_REDIRECTABLE_IPI = 1 << 4;
export const ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
export const ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;
export const ESR_ILLEGAL_REGISTER = 1 << 7;

/** LVT and ICR bits (§10.5.1, §10.6.1). */
export const LVT_MASKED = 1 << 16;
export const LVT_REMOTE_IRR = 1 << 14;
export const LVT_LEVEL = 1 << 15;
/** LVT timer mode, bits 18:17. 11b is reserved; here it behaves as one-shot. */
export const TIMER_ONE_SHOT = 0;
export const TIMER_PERIODIC = 1;
export const TIMER_TSC_DEADLINE = 2;

/** Delivery modes (LVT bits 10:8, ICR bits 10:8). */
export const DM_FIXED = 0;
export const DM_LOWEST = 1;
export const DM_SMI = 2;
export const DM_NMI = 4;
export const DM_INIT = 5;
export const DM_STARTUP = 6;
export const DM_EXTINT = 7;

/** ICR destination shorthand (bits 19:18). */
export const SHORTHAND_NONE = 0;
export const SHORTHAND_SELF = 1;
export const SHORTHAND_ALL = 2;
export const SHORTHAND_ALL_BUT_SELF = 3;

// ---- Options and records ----------------------------------------------------------------------

/** An IPI leaving this APIC for others (or for itself, in modes it cannot deliver alone). */
export interface Ipi {
  /** APIC ID of the sender. */
  readonly source: number;
  /** ICR bits 63:56. Meaningful only with `shorthand` SHORTHAND_NONE. */
  readonly destination: number;
  /** false: physical destination mode (an APIC ID, FFH = all); true: logical (against LDR/DFR). */
  readonly logical: boolean;
  readonly vector: number;
  /** DM_* (never DM_EXTINT or a reserved mode: those are dropped). */
  readonly deliveryMode: number;
  /** SHORTHAND_* (never SHORTHAND_SELF: self-IPIs stay here). */
  readonly shorthand: number;
  /** ICR bit 14 (assert); 0 with INIT and trigger level is the INIT level de-assert message. */
  readonly level: boolean;
  /** ICR bit 15: level-triggered. */
  readonly triggerLevel: boolean;
  /**
   * The sender was itself a target and has already taken a fixed interrupt: the owner must not
   * deliver it to the sender again. When false and the sender matches (say, NMI to all
   * including self), the owner delivers to the sender too.
   */
  readonly selfHandled: boolean;
}

export interface ApicOptions {
  /** The time: TSC ticks, never decreasing. The only clock the APIC sees. */
  readonly now: () => number;
  /** Initial APIC ID (0-255): the ID register after reset. Default 0. */
  readonly id?: number;
  /** IA32_APIC_BASE.BSP: this is the bootstrap processor. Default true. */
  readonly bsp?: boolean;
  /** TSC ticks per timer input-clock tick, a positive integer; APIC_DEFAULT_TSC_PER_BUS_TICK. */
  readonly tscPerBusTick?: number;
  /** MAXPHYADDR: base bits at and above it are reserved. APIC_DEFAULT_PHYS_ADDR_BITS. */
  readonly physAddrBits?: number;
  /**
   * IPIs this APIC cannot deliver alone (§10.6). Absent: a uniprocessor, so they are dropped
   * (and lowest-priority IPIs that match this APIC are taken as fixed ones).
   */
  readonly sendIpi?: (ipi: Ipi) => void;
  /**
   * EOI of a level-triggered interrupt (TMR bit set): the EOI message the I/O APICs receive so
   * they can clear their remote IRR (§10.8.5).
   */
  readonly onLevelEoi?: (vector: number) => void;
}

/** Local sources the owner raises with `signalLocal` (the timer and error entries are internal). */
export type LocalSource = 'lint0' | 'lint1' | 'thermal' | 'perf' | 'cmci';

/**
 * The whole guest-visible state, for save/restore (STYLE §6). Every field is saved; nothing is
 * rebuilt. `timerStart` and `tscDeadline` are TSC times: restore against the same clock (or
 * shift them by the clock's offset).
 */
export interface ApicState {
  readonly kind: 'xapic';
  readonly version: 1;
  /** IA32_APIC_BASE as [low, high] 32-bit halves. */
  readonly baseMsr: readonly [number, number];
  readonly id: number;
  readonly tpr: number;
  readonly ldr: number;
  readonly dfr: number;
  readonly svr: number;
  /** ESR as software last latched it, and the errors recorded since (latched by the next write). */
  readonly esr: number;
  readonly esrPending: number;
  readonly icrLo: number;
  readonly icrHi: number;
  readonly lvt: Readonly<Record<LvtName, number>>;
  /** 256-bit registers as eight 32-bit words, word 0 holding vectors 0-31. */
  readonly irr: readonly number[];
  readonly isr: readonly number[];
  readonly tmr: readonly number[];
  readonly initialCount: number;
  readonly divideConfig: number;
  /** One-shot/periodic: counting (initial count written non-zero and, one-shot, not expired). */
  readonly timerArmed: boolean;
  /** TSC time the current count was last (re)loaded with the initial count. */
  readonly timerStart: number;
  /** IA32_TSC_DEADLINE; 0 = disarmed. */
  readonly tscDeadline: number;
}

type LvtName = 'cmci' | 'timer' | 'thermal' | 'perf' | 'lint0' | 'lint1' | 'error';

/**
 * The LVT entries. Columns: `offset` in the page; `writable`, the bits software sets (vector 7:0,
 * delivery mode 10:8, pin polarity 13, trigger mode 15, mask 16, timer mode 18:17, per figure
 * 10-8); delivery status (12) is always 0 here because delivery is immediate, and remote IRR
 * (14, LINT only) is read-only.
 */
const LVTS = [
  { name: 'cmci', offset: APIC_LVT_CMCI, writable: 0x107ff },
  { name: 'timer', offset: APIC_LVT_TIMER, writable: 0x700ff },
  { name: 'thermal', offset: APIC_LVT_THERMAL, writable: 0x107ff },
  { name: 'perf', offset: APIC_LVT_PERF, writable: 0x107ff },
  { name: 'lint0', offset: APIC_LVT_LINT0, writable: 0x1a7ff },
  { name: 'lint1', offset: APIC_LVT_LINT1, writable: 0x1a7ff },
  { name: 'error', offset: APIC_LVT_ERROR, writable: 0x100ff },
] as const satisfies readonly { name: LvtName; offset: number; writable: number }[];

const LVT_BY_OFFSET: ReadonlyMap<number, (typeof LVTS)[number]> = new Map(LVTS.map((l) => [l.offset, l]));

/** ICR low bits software writes: vector, delivery mode, destination mode, level, trigger, shorthand. */
const ICR_LO_WRITABLE = 0x000ccfff;

/** Divide configuration (bits 0, 1, 3) → divisor (§10.5.4, figure 10-10). */
const DIVISORS = [2, 4, 8, 16, 32, 64, 128, 1] as const;

/** Highest set bit of a 256-bit register, or -1. */
function highest(bits: Uint32Array): number {
  for (let w = 7; w >= 0; w--) {
    const word = bits[w]!;
    if (word !== 0) return w * 32 + 31 - Math.clz32(word);
  }
  return -1;
}

function testBit(bits: Uint32Array, v: number): boolean {
  return ((bits[v >>> 5]! >>> (v & 31)) & 1) !== 0;
}

function setBit(bits: Uint32Array, v: number): void {
  bits[v >>> 5] = bits[v >>> 5]! | (1 << (v & 31));
}

function clearBit(bits: Uint32Array, v: number): void {
  bits[v >>> 5] = bits[v >>> 5]! & ~(1 << (v & 31));
}

export class LocalApic {
  // IA32_APIC_BASE
  private base = APIC_DEFAULT_BASE;
  private readonly bsp: boolean;
  private globalEnable = true;

  // Registers. All values are kept as unsigned 32-bit numbers.
  private readonly initialId: number;
  private id = 0;
  private tpr = 0;
  private ldr = 0;
  private dfr = 0xffffffff;
  private svr = 0xff;
  private esr = 0;
  private esrPending = 0;
  private icrLo = 0;
  private icrHi = 0;
  private readonly lvt: Record<LvtName, number> = {
    cmci: LVT_MASKED, timer: LVT_MASKED, thermal: LVT_MASKED, perf: LVT_MASKED,
    lint0: LVT_MASKED, lint1: LVT_MASKED, error: LVT_MASKED,
  };
  private readonly irr = new Uint32Array(8);
  private readonly isr = new Uint32Array(8);
  private readonly tmr = new Uint32Array(8);

  // Timer
  private initialCount = 0;
  private divideConfig = 0;
  private timerArmed = false;
  private timerStart = 0;
  private tscDeadline = 0;

  private readonly now: () => number;
  private readonly tscPerBusTick: number;
  private readonly physAddrBits: number;
  private readonly sendIpi: ((ipi: Ipi) => void) | undefined;
  private readonly onLevelEoi: ((vector: number) => void) | undefined;

  constructor(options: ApicOptions) {
    const id = options.id ?? 0;
    const ratio = options.tscPerBusTick ?? APIC_DEFAULT_TSC_PER_BUS_TICK;
    const bits = options.physAddrBits ?? APIC_DEFAULT_PHYS_ADDR_BITS;
    if (!Number.isInteger(id) || id < 0 || id > 255) throw new Error(`LocalApic: APIC ID ${id} is not 0..255`);
    if (!Number.isInteger(ratio) || ratio < 1) throw new Error(`LocalApic: tscPerBusTick ${ratio} is not a positive integer`);
    if (!Number.isInteger(bits) || bits < 32 || bits > 52) throw new Error(`LocalApic: physAddrBits ${bits} is not 32..52`);
    this.now = options.now;
    this.initialId = id;
    this.bsp = options.bsp ?? true;
    this.tscPerBusTick = ratio;
    this.physAddrBits = bits;
    this.sendIpi = options.sendIpi;
    this.onLevelEoi = options.onLevelEoi;
    this.reset();
  }

  // ---- Processor-level events -----------------------------------------------------------------

  /** Power-up or RESET (§10.4.7.1): IA32_APIC_BASE back to FEE00000H + EN, registers to reset values. */
  reset(): void {
    this.base = APIC_DEFAULT_BASE;
    this.globalEnable = true;
    this.resetRegisters(this.initialId);
  }

  /**
   * INIT (§10.4.7.3, and §10.12.5.1 for the xAPIC state): every register is initialised except
   * the APIC ID; IA32_APIC_BASE is unchanged.
   */
  init(): void {
    this.resetRegisters(this.id);
  }

  private resetRegisters(id: number): void {
    this.id = id;
    this.tpr = 0;
    this.ldr = 0;
    this.dfr = 0xffffffff;
    this.svr = 0xff;
    this.esr = 0;
    this.esrPending = 0;
    this.icrLo = 0;
    this.icrHi = 0;
    for (const l of LVTS) this.lvt[l.name] = LVT_MASKED;
    this.irr.fill(0);
    this.isr.fill(0);
    this.tmr.fill(0);
    this.initialCount = 0;
    this.divideConfig = 0;
    this.timerArmed = false;
    this.timerStart = 0;
    this.tscDeadline = 0;
  }

  // ---- IA32_APIC_BASE -------------------------------------------------------------------------

  /** IA32_APIC_BASE (globally enabled, hardware-enabled in SDM terms). */
  get enabled(): boolean {
    return this.globalEnable;
  }

  /** SVR bit 8 (and the APIC globally enabled): the APIC accepts fixed interrupts. */
  get softwareEnabled(): boolean {
    return this.globalEnable && (this.svr & SVR_APIC_ENABLE) !== 0;
  }

  /** Physical address of the register page (where the owner decodes `read`/`write`). */
  get baseAddress(): number {
    return this.base;
  }

  /** The current APIC ID (ID register bits 31:24). */
  get apicId(): number {
    return this.id;
  }

  /** RDMSR 0x1B as [EAX, EDX]. */
  readBaseMsr(): [number, number] {
    const lo = ((this.base % 2 ** 32) | (this.bsp ? APIC_BASE_BSP : 0) | (this.globalEnable ? APIC_BASE_EN : 0)) >>> 0;
    return [lo, Math.floor(this.base / 2 ** 32)];
  }

  /**
   * WRMSR 0x1B. Returns false, changing nothing, when the CPU must raise #GP(0): a reserved bit
   * set (7:0, 9, and base bits at or above MAXPHYADDR) or x2APIC enable (bit 10), which is not
   * offered (every transition into x2APIC mode is then invalid, SDM §10.12.5 figure 10-27).
   * BSP (bit 8) is read-only: the written value is ignored. Clearing EN (bit 11) disables the
   * APIC globally and returns it to its power-up register state (§10.4.3 allows it; we always
   * do it), so re-enabling starts from reset values with SVR software-disabled.
   */
  writeBaseMsr(lo: number, hi: number): boolean {
    lo >>>= 0;
    hi >>>= 0;
    if ((lo & 0x2ff) !== 0 || (lo & APIC_BASE_EXTD) !== 0) return false;
    if (hi >= 2 ** (this.physAddrBits - 32)) return false;
    this.update();
    const enable = (lo & APIC_BASE_EN) !== 0;
    this.base = hi * 2 ** 32 + ((lo & 0xfffff000) >>> 0);
    if (this.globalEnable && !enable) this.resetRegisters(this.initialId);
    this.globalEnable = enable;
    return true;
  }

  // ---- Register page ----------------------------------------------------------------------------

  /**
   * A 32-bit read at `offset` (a multiple of 4 below 1000H) in the register page.
   * - Write-only EOI and the unimplemented RRD read 0.
   * - Bytes 4-15 of each 16-byte register slot read 0.
   * - A reserved slot reads 0 and records "illegal register address" in the ESR (§10.5.3),
   *   which raises the error interrupt if its LVT entry allows.
   * - While the APIC is globally disabled the page is not the APIC's (§10.4.3: the processor
   *   behaves as one without an APIC); the owner should not route it here, and if it does, reads
   *   give all ones, like unassigned memory on a PC.
   */
  read(offset: number): number {
    checkOffset(offset);
    if (!this.globalEnable) return 0xffffffff;
    if ((offset & 0xf) !== 0) return 0;
    this.update();
    if (offset >= APIC_ISR && offset < APIC_ESR) {
      const index = (offset - APIC_ISR) >>> 4;
      const bank = index >>> 3 === 0 ? this.isr : index >>> 3 === 1 ? this.tmr : this.irr;
      return bank[index & 7]!;
    }
    const lvt = LVT_BY_OFFSET.get(offset);
    if (lvt !== undefined) return this.lvt[lvt.name];
    switch (offset) {
      case APIC_ID: return (this.id << 24) >>> 0;
      case APIC_VER: return APIC_VERSION_REGISTER;
      case APIC_TPR: return this.tpr;
      case APIC_APR: return this.apr();
      case APIC_PPR: return this.ppr();
      case APIC_EOI: return 0;
      case APIC_RRD: return 0;
      case APIC_LDR: return this.ldr;
      case APIC_DFR: return this.dfr;
      case APIC_SVR: return this.svr;
      case APIC_ESR: return this.esr;
      case APIC_ICR_LO: return this.icrLo;
      case APIC_ICR_HI: return this.icrHi;
      case APIC_TIMER_INITIAL: return this.initialCount;
      case APIC_TIMER_CURRENT: return this.currentCount();
      case APIC_TIMER_DIVIDE: return this.divideConfig;
      default:
        this.error(ESR_ILLEGAL_REGISTER);
        return 0;
    }
  }

  /**
   * A 32-bit write at `offset` (a multiple of 4 below 1000H).
   * - Writes to read-only registers (version, APR, PPR, RRD, ISR/TMR/IRR, current count) and to
   *   bytes 4-15 of a register slot are ignored; reserved bits of writable registers are
   *   dropped (they read 0, or 1 in DFR bits 27:0).
   * - A reserved slot records "illegal register address" in the ESR, like a read.
   * - Globally disabled: ignored (see `read`).
   */
  write(offset: number, value: number): void {
    checkOffset(offset);
    if (!this.globalEnable || (offset & 0xf) !== 0) return;
    value >>>= 0;
    this.update();
    if (offset >= APIC_ISR && offset < APIC_ESR) return;
    const lvt = LVT_BY_OFFSET.get(offset);
    if (lvt !== undefined) {
      this.writeLvt(lvt.name, value & lvt.writable);
      return;
    }
    switch (offset) {
      case APIC_ID: this.id = value >>> 24; return;
      case APIC_TPR: this.tpr = value & 0xff; return;
      case APIC_EOI: this.eoi(); return;
      case APIC_LDR: this.ldr = (value & 0xff000000) >>> 0; return;
      case APIC_DFR: this.dfr = (value | 0x0fffffff) >>> 0; return;
      case APIC_SVR:
        // Bits 7:0 spurious vector, 8 software enable, 9 focus processor checking (kept, no
        // effect); bit 12 (EOI-broadcast suppression) is reserved since version bit 24 is clear.
        this.svr = value & 0x3ff;
        if ((this.svr & SVR_APIC_ENABLE) === 0) {
          // §10.4.7.2: software disable sets every LVT mask bit.
          for (const l of LVTS) this.lvt[l.name] = (this.lvt[l.name] | LVT_MASKED) >>> 0;
        }
        return;
      case APIC_ESR:
        // §10.5.3: a write latches the errors recorded since the previous write; the value
        // written does not matter.
        this.esr = this.esrPending;
        this.esrPending = 0;
        return;
      case APIC_ICR_LO:
        this.icrLo = value & ICR_LO_WRITABLE;
        this.sendIcr();
        return;
      case APIC_ICR_HI: this.icrHi = (value & 0xff000000) >>> 0; return;
      case APIC_TIMER_INITIAL: this.writeInitialCount(value); return;
      case APIC_TIMER_DIVIDE: this.writeDivide(value & 0xb); return;
      case APIC_VER: case APIC_APR: case APIC_PPR: case APIC_RRD: case APIC_TIMER_CURRENT:
        return;
      default:
        this.error(ESR_ILLEGAL_REGISTER);
    }
  }

  private writeLvt(name: LvtName, value: number): void {
    const old = this.lvt[name];
    // Remote IRR is the APIC's, not software's; a software-disabled APIC keeps every mask set.
    let v = value | (old & LVT_REMOTE_IRR);
    if ((this.svr & SVR_APIC_ENABLE) === 0) v |= LVT_MASKED;
    if (name === 'timer') {
      const wasDeadline = timerMode(old) === TIMER_TSC_DEADLINE;
      const isDeadline = timerMode(v) === TIMER_TSC_DEADLINE;
      // §10.5.4.1: switching into or out of TSC-deadline mode disarms the timer.
      if (wasDeadline !== isDeadline) {
        this.timerArmed = false;
        this.initialCount = 0;
        this.tscDeadline = 0;
      }
    }
    this.lvt[name] = v >>> 0;
  }

  // ---- Priorities (§10.8.3) ---------------------------------------------------------------------

  /** Processor priority: TPR if its class is at least the highest in-service class, else that class. */
  ppr(): number {
    const isrv = Math.max(highest(this.isr), 0);
    return (this.tpr & 0xf0) >= (isrv & 0xf0) ? this.tpr : isrv & 0xf0;
  }

  /** Arbitration priority (§10.8.3.1, figure 10-15 rule). */
  private apr(): number {
    const isrv = Math.max(highest(this.isr), 0) & 0xf0;
    const irrv = Math.max(highest(this.irr), 0) & 0xf0;
    const tprClass = this.tpr & 0xf0;
    if (tprClass >= irrv && tprClass > isrv) return this.tpr;
    return Math.max(tprClass, isrv, irrv);
  }

  // ---- Interrupt acceptance and dispensing ------------------------------------------------------

  /**
   * A fixed (or lowest-priority, already arbitrated) interrupt message for this APIC: from an
   * I/O APIC, another APIC's IPI, or event injection. `level`: level-triggered (sets the TMR
   * bit, so the EOI is reported through `onLevelEoi`). Returns whether the IRR bit was set:
   * false when the APIC is disabled (globally, or by SVR: a software-disabled APIC only answers
   * INIT, NMI, SMI and SIPI, §10.4.7.2) or the vector is illegal (0-15: ESR bit 6, §10.5.2).
   * A vector already requested stays a single request (§10.8.4).
   */
  accept(vector: number, level = false): boolean {
    if (!Number.isInteger(vector) || vector < 0 || vector > 255) throw new Error(`LocalApic.accept: vector ${vector}`);
    if (!this.globalEnable) return false;
    this.update();
    return this.deliverFixed(vector, level);
  }

  private deliverFixed(vector: number, level: boolean): boolean {
    if (vector < 16) {
      this.error(ESR_RECEIVE_ILLEGAL_VECTOR);
      return false;
    }
    if ((this.svr & SVR_APIC_ENABLE) === 0) return false;
    setBit(this.irr, vector);
    if (level) setBit(this.tmr, vector);
    else clearBit(this.tmr, vector);
    return true;
  }

  /**
   * The vector the processor should take now, or -1: the highest requested vector whose
   * priority class is above the processor priority class (§10.8.3.1). Brings the timer up to
   * `now()` first, so the owner can simply poll this. Says nothing about RFLAGS.IF.
   */
  pending(): number {
    if (!this.globalEnable) return -1;
    this.update();
    return this.deliverable();
  }

  private deliverable(): number {
    const v = highest(this.irr);
    if (v < 0 || (v & 0xf0) <= (this.ppr() & 0xf0)) return -1;
    return v;
  }

  /**
   * The INTA cycle: the processor takes the interrupt. Moves the highest deliverable vector from
   * IRR to ISR and returns it. If nothing is deliverable any more (say, TPR was raised since
   * `pending()`), returns the spurious vector (SVR bits 7:0) without touching ISR: its handler
   * must not write EOI (§10.9). -1 if the APIC is globally disabled.
   */
  acknowledge(): number {
    if (!this.globalEnable) return -1;
    this.update();
    const v = this.deliverable();
    if (v < 0) return this.svr & 0xff;
    clearBit(this.irr, v);
    setBit(this.isr, v);
    return v;
  }

  /**
   * End of interrupt (a write to EOI): the highest in-service vector is done. A level-triggered
   * one clears the remote IRR of a LINT entry with that vector and is reported to `onLevelEoi`.
   */
  private eoi(): void {
    const v = highest(this.isr);
    if (v < 0) return;
    clearBit(this.isr, v);
    if (!testBit(this.tmr, v)) return;
    for (const name of ['lint0', 'lint1'] as const) {
      const e = this.lvt[name];
      if ((e & 0xff) === v && (e & LVT_REMOTE_IRR) !== 0) this.lvt[name] = (e & ~LVT_REMOTE_IRR) >>> 0;
    }
    this.onLevelEoi?.(v);
  }

  /**
   * A local interrupt source fires: a LINT pin is asserted, the thermal sensor or a performance
   * counter trips, a corrected machine check is signalled. Returns what the processor must do:
   * - -1: nothing (entry masked, the APIC software-disabled, a reserved delivery mode, a level
   *   LINT interrupt whose previous one is still unacknowledged by EOI (remote IRR), or an
   *   illegal vector, which records ESR bit 6);
   * - DM_FIXED: the vector is now requested (see `pending`);
   * - DM_NMI, DM_SMI, DM_INIT: raise that event in the processor;
   * - DM_EXTINT: take the vector from the external 8259-style controller (virtual wire mode).
   * While the APIC is globally disabled, the processor has no APIC: LINT0 is the INTR pin
   * (DM_EXTINT) and LINT1 the NMI pin (DM_NMI); other sources give -1.
   * A level-triggered fixed LINT line that stays asserted is signalled again after the EOI.
   */
  signalLocal(source: LocalSource): number {
    if (!this.globalEnable) return source === 'lint0' ? DM_EXTINT : source === 'lint1' ? DM_NMI : -1;
    this.update();
    const e = this.lvt[source];
    if ((e & LVT_MASKED) !== 0) return -1;
    // Pentium 4 and later mask the performance-counter entry when it fires (figure 10-8).
    if (source === 'perf') this.lvt.perf = (e | LVT_MASKED) >>> 0;
    const mode = (e >>> 8) & 7;
    switch (mode) {
      case DM_FIXED: {
        const isLint = source === 'lint0' || source === 'lint1';
        const level = isLint && (e & LVT_LEVEL) !== 0;
        if (level && (e & LVT_REMOTE_IRR) !== 0) return -1;
        if (!this.deliverFixed(e & 0xff, level)) return -1;
        if (level) this.lvt[source] = (e | LVT_REMOTE_IRR) >>> 0;
        return DM_FIXED;
      }
      case DM_SMI: case DM_NMI: case DM_INIT: case DM_EXTINT:
        return mode;
      default:
        return -1;
    }
  }

  /** Records errors (§10.5.3) and raises the error interrupt through its LVT entry. */
  private error(bits: number): void {
    this.esrPending |= bits;
    const e = this.lvt.error;
    if ((e & LVT_MASKED) !== 0 || (this.svr & SVR_APIC_ENABLE) === 0) return;
    const vector = e & 0xff;
    // An illegal vector in the error entry itself: record it without a further error interrupt.
    if (vector < 16) this.esrPending |= ESR_RECEIVE_ILLEGAL_VECTOR;
    else this.deliverFixed(vector, false);
  }

  // ---- Interprocessor interrupts (§10.6) --------------------------------------------------------

  /**
   * Does a message for `destination` (in `logical` or physical mode) reach this APIC? Physical:
   * the APIC ID or FFH (broadcast). Logical (§10.6.2.2): FFH is everyone; flat model (DFR 31:28 =
   * 1111b) matches any common bit with LDR 31:24; cluster model (0000b) needs the same cluster
   * (high nibble) and a common bit in the low nibble. For owners routing IPIs and I/O APIC messages.
   */
  matchesDestination(destination: number, logical: boolean): boolean {
    destination &= 0xff;
    if (destination === 0xff) return true;
    if (!logical) return destination === this.id;
    const ldr = this.ldr >>> 24;
    switch (this.dfr >>> 28) {
      case 0xf: return (destination & ldr) !== 0;
      case 0x0: return destination >>> 4 === ldr >>> 4 && (destination & ldr & 0xf) !== 0;
      default: return false;
    }
  }

  /**
   * A write to ICR low sends the IPI at once (so delivery status, bit 12, always reads idle).
   * Fixed IPIs that reach this APIC (self shorthand, all-including-self, or a destination
   * matching it) are taken here; the rest goes to `sendIpi`. Self shorthand with a mode other
   * than fixed is invalid (§10.6.1) and dropped. An illegal vector (0-15) in a fixed or
   * lowest-priority IPI is not sent: ESR bit 5, plus bit 6 when this APIC was a target.
   */
  private sendIcr(): void {
    const lo = this.icrLo;
    const vector = lo & 0xff;
    const mode = (lo >>> 8) & 7;
    const logical = (lo & (1 << 11)) !== 0;
    const shorthand = (lo >>> 18) & 3;
    const destination = this.icrHi >>> 24;
    const triggerLevel = (lo & LVT_LEVEL) !== 0;
    const toSelf = shorthand === SHORTHAND_SELF || shorthand === SHORTHAND_ALL
      || (shorthand === SHORTHAND_NONE && this.matchesDestination(destination, logical));
    const onlySelf = shorthand === SHORTHAND_SELF
      || (shorthand === SHORTHAND_NONE && !logical && destination === this.id);
    const fixedLike = mode === DM_FIXED || mode === DM_LOWEST;
    if (fixedLike && vector < 16) {
      this.error(ESR_SEND_ILLEGAL_VECTOR | (toSelf ? ESR_RECEIVE_ILLEGAL_VECTOR : 0));
      return;
    }
    if (mode === 3 || mode === DM_EXTINT) return; // reserved in the ICR
    let selfHandled = false;
    if (toSelf && (mode === DM_FIXED || (mode === DM_LOWEST && this.sendIpi === undefined))) {
      this.deliverFixed(vector, triggerLevel);
      selfHandled = true;
    }
    if (shorthand === SHORTHAND_SELF) return;
    if (onlySelf && selfHandled) return;
    this.sendIpi?.({
      source: this.id, destination, logical, vector, deliveryMode: mode, shorthand,
      level: (lo & (1 << 14)) !== 0, triggerLevel, selfHandled,
    });
  }

  // ---- Timer (§10.5.4) --------------------------------------------------------------------------

  /** TSC ticks per count: the input clock through the divide configuration. */
  private countPeriod(divide = this.divideConfig): number {
    return this.tscPerBusTick * DIVISORS[(divide & 3) | ((divide >>> 1) & 4)]!;
  }

  private timerIsDeadline(): boolean {
    return timerMode(this.lvt.timer) === TIMER_TSC_DEADLINE;
  }

  private writeInitialCount(value: number): void {
    // §10.5.4.1: in TSC-deadline mode the initial count is ignored.
    if (this.timerIsDeadline()) return;
    this.initialCount = value;
    this.timerArmed = value !== 0;
    this.timerStart = this.now();
  }

  /**
   * The divisor changes while counting: the count reached so far is kept and counting goes on
   * at the new rate (the fraction of the current count already elapsed is dropped).
   */
  private writeDivide(value: number): void {
    if (this.timerArmed) {
      const done = this.initialCount - this.currentCount();
      this.timerStart = this.now() - done * this.countPeriod(value);
    }
    this.divideConfig = value;
  }

  private currentCount(): number {
    if (!this.timerArmed || this.timerIsDeadline()) return 0;
    const elapsed = Math.floor(Math.max(0, this.now() - this.timerStart) / this.countPeriod());
    // `update` has reloaded a periodic timer, so at most one period has elapsed here.
    return Math.max(0, this.initialCount - elapsed);
  }

  /** RDMSR IA32_TSC_DEADLINE: the armed deadline, 0 when disarmed or not in TSC-deadline mode. */
  readTscDeadline(): number {
    if (!this.globalEnable || !this.timerIsDeadline()) return 0;
    this.update();
    return this.tscDeadline;
  }

  /**
   * WRMSR IA32_TSC_DEADLINE (a 64-bit value as a double: exact below 2^53). In TSC-deadline mode
   * a non-zero value arms the timer (a deadline already past fires at the next `update`), 0
   * disarms it; in other modes the write is ignored (§10.5.4.1).
   */
  writeTscDeadline(value: number): void {
    if (!Number.isFinite(value) || value < 0) throw new Error(`LocalApic.writeTscDeadline: ${value}`);
    if (!this.globalEnable || !this.timerIsDeadline()) return;
    this.update();
    this.tscDeadline = value;
    this.update();
  }

  /**
   * TSC time at which the timer next requests an interrupt; Infinity when it is disarmed, its
   * LVT entry masked, or the APIC disabled. A halted processor may advance its clock to it.
   */
  nextEvent(): number {
    if (!this.softwareEnabled) return Infinity;
    this.update();
    if ((this.lvt.timer & LVT_MASKED) !== 0) return Infinity;
    if (this.timerIsDeadline()) return this.tscDeadline === 0 ? Infinity : this.tscDeadline;
    if (!this.timerArmed) return Infinity;
    return this.timerStart + this.initialCount * this.countPeriod();
  }

  /**
   * Brings the timer up to `now()`: an expiry since the last call requests the LVT timer vector
   * once (unless masked). A periodic timer reloads; several periods elapsed since the last call
   * still request the vector once, the others are lost as on a real APIC. A one-shot timer stops
   * at 0; a TSC deadline disarms and clears IA32_TSC_DEADLINE. `pending`, `acknowledge`, `read`,
   * `write` and `nextEvent` call this themselves.
   */
  update(): void {
    if (!this.globalEnable) return;
    const t = this.now();
    if (this.timerIsDeadline()) {
      if (this.tscDeadline !== 0 && t >= this.tscDeadline) {
        this.tscDeadline = 0;
        this.timerFired();
      }
      return;
    }
    if (!this.timerArmed) return;
    const span = this.initialCount * this.countPeriod();
    if (t < this.timerStart + span) return;
    if (timerMode(this.lvt.timer) === TIMER_PERIODIC) {
      let k = Math.floor((t - this.timerStart) / span);
      if (this.timerStart + k * span > t) k--; // guard against the division rounding up
      this.timerStart += k * span;
    } else {
      this.timerArmed = false;
    }
    this.timerFired();
  }

  private timerFired(): void {
    const e = this.lvt.timer;
    if ((e & LVT_MASKED) !== 0 || (this.svr & SVR_APIC_ENABLE) === 0) return;
    this.deliverFixed(e & 0xff, false);
  }

  // ---- Save / restore ---------------------------------------------------------------------------

  save(): ApicState {
    return {
      kind: 'xapic', version: 1,
      baseMsr: this.readBaseMsr(),
      id: this.id, tpr: this.tpr, ldr: this.ldr, dfr: this.dfr, svr: this.svr,
      esr: this.esr, esrPending: this.esrPending, icrLo: this.icrLo, icrHi: this.icrHi,
      lvt: { ...this.lvt },
      irr: [...this.irr], isr: [...this.isr], tmr: [...this.tmr],
      initialCount: this.initialCount, divideConfig: this.divideConfig,
      timerArmed: this.timerArmed, timerStart: this.timerStart, tscDeadline: this.tscDeadline,
    };
  }

  /** Loads a record from `save` (of an APIC with the same options). Throws on a foreign record. */
  restore(s: ApicState): void {
    if (s.kind !== 'xapic' || s.version !== 1) throw new Error(`LocalApic.restore: unknown record ${String(s.kind)} v${String(s.version)}`);
    if (s.irr.length !== 8 || s.isr.length !== 8 || s.tmr.length !== 8) throw new Error('LocalApic.restore: IRR/ISR/TMR need 8 words');
    const [lo, hi] = s.baseMsr;
    this.base = hi * 2 ** 32 + ((lo & 0xfffff000) >>> 0);
    this.globalEnable = (lo & APIC_BASE_EN) !== 0;
    this.id = s.id; this.tpr = s.tpr; this.ldr = s.ldr; this.dfr = s.dfr; this.svr = s.svr;
    this.esr = s.esr; this.esrPending = s.esrPending; this.icrLo = s.icrLo; this.icrHi = s.icrHi;
    for (const l of LVTS) this.lvt[l.name] = s.lvt[l.name];
    this.irr.set(s.irr); this.isr.set(s.isr); this.tmr.set(s.tmr);
    this.initialCount = s.initialCount; this.divideConfig = s.divideConfig;
    this.timerArmed = s.timerArmed; this.timerStart = s.timerStart; this.tscDeadline = s.tscDeadline;
  }
}

function timerMode(lvtTimer: number): number {
  return (lvtTimer >>> 17) & 3;
}

function checkOffset(offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset > 0xffc || (offset & 3) !== 0) {
    throw new Error(`LocalApic: register access at offset ${offset} (the owner must align and split)`);
  }
}
