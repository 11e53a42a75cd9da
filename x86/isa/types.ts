/**
 * The schema of the instruction table: one readonly row per encoding.
 *
 * Glossary of a row's columns:
 *  - `name`      handler name, by one scheme: mnemonic, then each operand in Intel's notation
 *                (SDM vol. 2 appendix A.2), joined by `_`: `adc_Ev_Gv`, `shl_Ev_CL`, `jcc_Jb`.
 *  - `mnemonic`  as objdump prints it (AT&T suffixes are added by the disassembler).
 *  - `map`       opcode map: `one` (1-byte), `0f`, `0f38`, `0f3a`.
 *  - `opcode`    the opcode byte within the map. Rows whose operand is `Z*` (register in the
 *                opcode's low three bits) cover opcode..opcode+7.
 *  - `prefix`    mandatory prefix (SSE): `none` (default), `66`, `f3`, `f2`. `any` means the
 *                prefixes 66/F2/F3 are not part of the encoding (their usual meaning applies).
 *                For a VEX row it is the prefix VEX.pp implies (`none` = NP).
 *  - `vex`       present: the row is VEX-encoded (C4/C5, SDM vol. 2A §2.3) and matches only VEX
 *                instructions, with VEX.L and VEX.W constrained by `l`/`w` where given (VEX.W
 *                otherwise selects the operand size like REX.W); absent: legacy encoding only.
 *                `map` is VEX.mmmmm (or the 0F of C5).
 *  - `reg`       for group opcodes, the ModRM.reg value (0-7) this row is.
 *  - `mod`       `mem` or `reg`: the row only exists for that ModRM.mod form.
 *  - `rm`        for opcodes that are told apart by ModRM.rm (register form only), its value.
 *  - `operands`  operand kinds in Intel order (destination first), see `OperandKind`.
 *  - `modes`     where the encoding is valid: `any`, `o64` (64-bit mode only), `i64` (invalid
 *                in 64-bit mode).
 *  - `d64`       in 64-bit mode the operand size defaults to 64 (PUSH, POP, near branches);
 *                `f64`: forced to 64, a 66 prefix is ignored (near branches on Intel).
 *  - `flags`     RFLAGS bits read, written, and left undefined (masked in differential tests).
 *  - `cpuid`     the CPUID feature the encoding belongs to (`base` for the 8086..x86-64 core).
 *  - `fpu`       the instruction uses the x87/SSE state, so CR0.EM, MP and TS decide whether it
 *                runs (SDM vol. 3A §2.5, CR0.MP/EM/TS and table 2-2 for x87; the "#NM" and
 *                "#UD" lines of each instruction's exceptions in vol. 2):
 *                  `x87`  every ESC D8-DF instruction, FNINIT/FNSAVE/FNSTSW/FNCLEX included:
 *                         #NM if EM or TS;
 *                  `wait` WAIT/FWAIT: #NM if MP and TS (EM alone does nothing);
 *                  `sse`  SSE..SSE4.2 instructions that read or write an XMM register or MXCSR:
 *                         #UD if EM, else #NM if TS;
 *                  `fxsr` FXSAVE/FXRSTOR: #UD if EM, else #NM if TS.
 *                Absent: CR0's FPU bits do not concern the instruction, also for the SSE-family
 *                encodings that touch no SSE state (MOVNTI, the fences, PREFETCHh, CLFLUSH,
 *                CRC32, POPCNT; the SDM's exception list for CR0.TS). `fpuGate` applies it.
 *                Not modelled: CR4.OSFXSR = 0 making the `sse` rows #UD.
 *  - `lock`      a LOCK prefix is allowed (with a memory destination); otherwise LOCK is #UD.
 *  - `rep`       how F3/F2 act: `rep` (REP), `repcc` (REPE/REPNE); absent: ignored as on hardware.
 *  - `exec`      the semantics: a handler called with the CPU and the decoded instruction.
 *  - `ends`      the instruction can change RIP other than falling through (ends a block).
 *  - `test`      differential-testing notes: `skip` with the reason when a row cannot be run on
 *                the real CPU (e.g. RDRAND is random), `memOnly`/`regOnly` hints.
 */
import type { Cpu } from '../cpu.js';
import type { Insn } from '../decoder.js';
import type { JitGen } from '../jit.js';

export type OpcodeMap = 'one' | '0f' | '0f38' | '0f3a';
export type MandatoryPrefix = 'none' | '66' | 'f3' | 'f2' | 'any';
export type ModeValidity = 'any' | 'o64' | 'i64';

/**
 * Operand kinds, Intel notation: addressing method letter + size code.
 *  E: ModRM r/m (register or memory)    G: ModRM reg (general register)
 *  M: ModRM r/m, memory only            R: ModRM r/m, register only
 *  I: immediate                         J: relative branch offset
 *  O: absolute offset (moffs)           Z: register from the opcode's low bits (with REX.B)
 *  X: memory at DS:rSI                  Y: memory at ES:rDI
 *  S: ModRM reg as a segment register   V/W/U: XMM in reg / r/m / r/m register-only
 *  B: general register from VEX.vvvv      C/D: ModRM reg as a control / debug register
 * Sizes: b byte, w word, d dword, q qword, v word/dword/qword by operand size, z word/dword
 * (dword when the operand size is 64), y dword/qword, dq 128 bits, p far pointer.
 * Fixed operands: AL, AX, eAX, rAX, CL, DX (port), 1 (the constant one).
 * x87 (Intel's instruction-reference notation, SDM vol. 2 §3.1.1.3): ST0 is ST(0), STi is
 * ST(i) from ModRM.rm; memory operands M32fp, M64fp, M80fp (binary32/64/80), M16int, M32int,
 * M64int, Menv (m14/28byte), Msave (m94/108byte), Mfxsave (m512byte).
 */
export type OperandKind =
  | 'Eb' | 'Ew' | 'Ed' | 'Eq' | 'Ev' | 'Ey'
  | 'Gb' | 'Gw' | 'Gd' | 'Gq' | 'Gv' | 'Gy' | 'Gz'
  | 'By'
  | 'M' | 'Mb' | 'Mw' | 'Md' | 'Mq' | 'Mv' | 'My' | 'Mdq' | 'Mp'
  | 'Rd' | 'Rq' | 'Ry' | 'Rv'
  | 'Ib' | 'Iw' | 'Iz' | 'Iv' | 'sIb'
  | 'Jb' | 'Jz'
  | 'Ob' | 'Ov'
  | 'Zb' | 'Zv' | 'Zy'
  | 'Xb' | 'Xv' | 'Xz' | 'Yb' | 'Yv' | 'Yz'
  | 'Sw' | 'Cy' | 'Dy'
  | 'AL' | 'AX' | 'eAX' | 'rAX' | 'CL' | 'DX' | '1'
  | 'Vdq' | 'Wdq' | 'Udq' | 'Vss' | 'Wss' | 'Vsd' | 'Wsd' | 'Vq' | 'Wq' | 'Vd' | 'Wd'
  | 'ST0' | 'STi' | 'M32fp' | 'M64fp' | 'M80fp' | 'M16int' | 'M32int' | 'M64int' | 'Menv' | 'Msave' | 'Mfxsave';

/** RFLAGS bits. */
export const CF = 1 << 0;
export const PF = 1 << 2;
export const AF = 1 << 4;
export const ZF = 1 << 6;
export const SF = 1 << 7;
export const TF = 1 << 8;
export const IF = 1 << 9;
export const DF = 1 << 10;
export const OF = 1 << 11;
export const IOPL = 3 << 12;
export const NT = 1 << 14;
export const RF = 1 << 16;
export const VM = 1 << 17;
export const AC = 1 << 18;
export const VIF = 1 << 19;
export const VIP = 1 << 20;
export const ID = 1 << 21;
/** The six arithmetic status flags. */
export const ARITH = CF | PF | AF | ZF | SF | OF;
/** Logic ops (AND/OR/XOR/TEST): CF and OF cleared, AF undefined. */
export const LOGIC_W = ARITH;

export interface FlagEffect {
  readonly read: number;
  readonly write: number;
  readonly undefined: number;
}

export const NO_FLAGS: FlagEffect = { read: 0, write: 0, undefined: 0 };

export type Feature =
  | 'base' | 'cmov' | 'cx8' | 'cx16' | 'popcnt' | 'lzcnt' | 'bmi1' | 'bmi2' | 'adx' | 'movbe'
  | 'sse' | 'sse2' | 'sse3' | 'ssse3' | 'sse4_1' | 'sse4_2' | 'fpu' | 'fxsr' | 'clflush'
  | 'clflushopt' | 'rdtscp' | 'rdrand' | 'rdseed' | 'rdpid' | 'aes' | 'pclmulqdq' | 'lahf_lm';

export type Handler = (c: Cpu, i: Insn) => void;

/** How an instruction uses the x87/SSE state (the `fpu` column). */
export type FpuUse = 'x87' | 'wait' | 'sse' | 'fxsr';

/** CR0 bits that gate the `fpu` rows: MP (1), EM (2), TS (3). */
export const CR0_FPU_BITS = 0xe;

/**
 * What CR0.MP/EM/TS (`cr0`, other bits ignored) make of an instruction whose `fpu` column is
 * `use`: 0 (it runs), 7 (#NM) or 6 (#UD). The rule of the glossary's `fpu` column, as code.
 */
export function fpuGate(use: FpuUse, cr0: number): 0 | 6 | 7 {
  const mp = (cr0 & 2) !== 0;
  const em = (cr0 & 4) !== 0;
  const ts = (cr0 & 8) !== 0;
  switch (use) {
    case 'x87':
      return em || ts ? 7 : 0;
    case 'wait':
      return mp && ts ? 7 : 0;
    case 'sse':
    case 'fxsr':
      return em ? 6 : ts ? 7 : 0;
  }
}

/**
 * For rows whose result the driver supplies through a hook (CPUID, RDTSC, RDRAND, INT n...):
 * the differential comparison masks those bits and compares everything else (decoding, faults,
 * RIP, the other registers, zero-extension of the written ones).
 */
export interface DriverAnswer {
  readonly reason: string;
  /** General registers whose bits the driver supplies: [register number, mask of those bits]. */
  readonly regs?: readonly (readonly [number, bigint])[];
  /** The ModRM r/m register's written bits are the driver's (RDRAND, RDSEED, RDPID). */
  readonly rm?: boolean;
  /** RFLAGS bits the driver decides (RDRAND's CF: whether a value was available). */
  readonly flags?: number;
  /** Immediate bytes the generator avoids (INT n vectors the host OS answers itself). */
  readonly imm8Exclude?: readonly number[];
}

export interface Row {
  readonly name: string;
  readonly mnemonic: string;
  readonly map: OpcodeMap;
  readonly opcode: number;
  readonly prefix?: MandatoryPrefix;
  readonly vex?: { readonly l?: 0 | 1; readonly w?: 0 | 1 };
  readonly reg?: number;
  readonly mod?: 'mem' | 'reg';
  /**
   * The r/m field names a register whatever ModRM.mod says (MOV to and from control and debug
   * registers: SDM vol. 2B "MOV—Move to/from Control Registers", mod bits ignored).
   */
  readonly anyMod?: boolean;
  readonly rm?: number;
  readonly operands: readonly OperandKind[];
  readonly modes?: ModeValidity;
  readonly d64?: boolean;
  readonly f64?: boolean;
  readonly flags: FlagEffect;
  readonly cpuid?: Feature;
  readonly fpu?: FpuUse;
  readonly lock?: boolean;
  readonly rep?: 'rep' | 'repcc';
  readonly ends?: boolean;
  readonly exec: Handler;
  readonly test?: {
    /** Why the row gets no differential case against the native CPU. */
    readonly skip?: string;
    /** Part of the result comes from the driver (a CpuHooks answer), not the silicon: see DriverAnswer. */
    readonly driver?: DriverAnswer;
  };
  /**
   * Optional translation to JavaScript for the block compiler (x86/jit.ts): source text for this
   * decoded instruction with its operands as constants, or undefined to call `exec` instead.
   * Must behave exactly like `exec` (the differential tests run both).
   */
  readonly jit?: (i: Insn, g: JitGen) => string | undefined;
}

/** Handler name from mnemonic and operands, by the scheme in the glossary. */
export function rowName(mnemonic: string, operands: readonly OperandKind[]): string {
  return [mnemonic, ...operands].join('_');
}
