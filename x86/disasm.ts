/**
 * Disassembler for diagnostics: a decoded `Insn` in the AT&T syntax GNU objdump -d prints for
 * x86-64 (binutils 2.40), minus the `<symbol>` annotations objdump adds when it has a symbol
 * table. Everything comes from the row: the mnemonic from `row.mnemonic`, each operand's text
 * from its kind, the AT&T size suffix from the operand kinds (objdump adds one only where no
 * register operand tells the size). The handful of names objdump spells differently from Intel
 * (`movzbl`, `cltq`, `movabs`, ...) are in small tables below, each with the reason.
 *
 * Deliberate differences from objdump: near branches ignore a 66 prefix (Intel behaviour, which
 * the decoder implements) where objdump decodes AMD's `callw`/`jmpw`; we print `data16` there.
 * Repeated prefixes (`66 66 2e 0f 1f ...`) print once, since the `Insn` keeps no prefix bytes.
 */
import { Cpu } from './cpu.js';
import { decode, FS, NO_REG, type Insn } from './decoder.js';
import { Fault } from './fault.js';
import { FlatMemory, PROT_R, PROT_X } from './flat-memory.js';
import { ROWS } from './isa/table.js';
import type { Feature, OperandKind } from './isa/types.js';

const R64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const R32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'];
const R16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'];
/** Byte registers: 0-15 as with a REX prefix, 16-19 the high bytes (the decoder's numbering). */
const R8 = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b', 'ah', 'ch', 'dh', 'bh'];
const SEGS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];
const SUFFIX: Readonly<Record<number, string>> = { 1: 'b', 2: 'w', 4: 'l', 8: 'q' };

/**
 * Mnemonics objdump spells by operand size (index: 2, 4, 8 bytes), so they never take a
 * suffix: the sign-extension family has AT&T names of its own.
 */
const BY_OPSIZE: Readonly<Record<string, readonly [string, string, string]>> = {
  cbw: ['cbtw', 'cwtl', 'cltq'],
  cwde: ['cbtw', 'cwtl', 'cltq'],
  cdqe: ['cbtw', 'cwtl', 'cltq'],
  cwd: ['cwtd', 'cltd', 'cqto'],
  cdq: ['cwtd', 'cltd', 'cqto'],
  cqo: ['cwtd', 'cltd', 'cqto'],
  iret: ['iretw', 'iret', 'iretq'],
  iretd: ['iretw', 'iret', 'iretq'],
  iretq: ['iretw', 'iret', 'iretq'],
  sysret: ['sysretw', 'sysretl', 'sysretq'],
  sysexit: ['sysexitw', 'sysexitl', 'sysexitq'],
  lret: ['lretw', 'lret', 'lretq'],
  pusha: ['pushaw', 'pusha', 'pusha'],
  popa: ['popaw', 'popa', 'popa'],
  // 66 0F 6E/7E: REX.W turns MOVD into MOVQ.
  movd: ['movd', 'movd', 'movq'],
  // 66 0F 3A 16/22: REX.W turns PEXTRD/PINSRD into PEXTRQ/PINSRQ; objdump marks the 64-bit
  // lengths of PCMPESTRI/PCMPESTRM (66 0F 3A 60/61) with a q.
  pextrd: ['pextrd', 'pextrd', 'pextrq'],
  pinsrd: ['pinsrd', 'pinsrd', 'pinsrq'],
  pcmpestri: ['pcmpestri', 'pcmpestri', 'pcmpestriq'],
  pcmpestrm: ['pcmpestrm', 'pcmpestrm', 'pcmpestrmq'],
};

/**
 * Mnemonics objdump prints without a suffix even with only a memory operand: the size is
 * fixed by the instruction (SETcc is always a byte; descriptor-table and segment-selector
 * operands are always words; indirect branches take the size of RIP).
 */
const NEVER_SUFFIX = new Set([
  'call', 'jmp', 'lcall', 'ljmp', 'lldt', 'sldt', 'ltr', 'str', 'verr', 'verw', 'lmsw', 'smsw', 'invlpg',
  'cmpxchg8b', 'cmpxchg16b', 'movd', 'movq', 'pinsrw', 'pinsrb', 'pinsrd', 'pinsrq', 'pextrw', 'pextrb', 'pextrd', 'pextrq',
  'extractps', 'insertps',
]);

/** objdump adds the source size to CRC32 with a memory operand although a register names the destination. */
const ALWAYS_MEM_SUFFIX = new Set(['crc32']);

/**
 * Opcodes where the table has rows told apart by a mandatory prefix (BSF/TZCNT, SSE): objdump
 * reads 66 there as part of the opcode, so it never names it `data16`.
 */
const PREFIXED_OPCODES: ReadonlySet<string> = new Set([
  ...ROWS.filter((r) => r.prefix === '66' || r.prefix === 'f2' || r.prefix === 'f3').map((r) => `${r.map}:${r.opcode}`),
  // Hint NOPs objdump decodes through prefix tables (CLDEMOTE at 0F 1C, ENDBR/RDSSP at 0F 1E).
  `0f:${0x1c}`,
  `0f:${0x1e}`,
]);

/** AT&T suffixes of x87 memory operands: s/l/t for binary32/64/80, s/l/ll for 16/32/64-bit integers. */
const X87_SUFFIX: Readonly<Partial<Record<OperandKind, string>>> = {
  M32fp: 's',
  M64fp: 'l',
  M80fp: 't',
  M16int: 's',
  M32int: 'l',
  M64int: 'll',
};

/** x87 compares and exchanges whose ST(0) operand objdump leaves implicit (`fcom %st(1)`). */
const IMPLICIT_ST0 = new Set(['fcom', 'fcomp', 'fucom', 'fucomp', 'fxch']);

/** SSE4.1 variable blends: objdump prints their implicit XMM0 mask operand (Intel's last). */
const IMPLICIT_XMM0 = new Set(['pblendvb', 'blendvps', 'blendvpd']);

/** Mnemonics objdump spells another way: SAL is SHL (objdump names both C0-D3 /4 and /6 `shl`). */
const SYNONYMS: Readonly<Record<string, string>> = { sal: 'shl' };

/** Instructions objdump prints in Intel operand order even in AT&T syntax (two immediates or sources). */
const INTEL_ORDER = new Set(['enter', 'bound']);

/** Far branches through memory print `*` like indirect near ones, and `w` at a 16-bit operand size. */
const FAR_BRANCH = new Set(['lcall', 'ljmp']);

/** Rows whose r/m operand is a word in memory whatever the operand size: objdump leaves 66/REX.W unused there. */
const WORD_IN_MEMORY = new Set(['mov_Ev_Sw', 'mov_Sw_Ev', 'sldt_Ev', 'str_Ev']);

/** Port I/O ignores REX.W (the accumulator is at most 32 bits): objdump prints it as unused. */
const REX_W_IGNORED = new Set(['in', 'out', 'ins', 'outs']);

/** Mnemonics that read DX as an I/O port, printed `(%dx)`. */
const PORT_IO = new Set(['in', 'out', 'ins', 'outs', 'insb', 'insw', 'insd', 'outsb', 'outsw', 'outsd']);

/** Size in bytes of an operand kind's size code (0: none or not a general-register size). */
function kindSize(kind: OperandKind, i: Insn): number {
  // Letter kinds are an addressing method then a size code (`Ev`, `Mdq`); fixed registers are all capitals.
  const code = /^[A-Z][a-z]+$/.test(kind) ? kind.slice(1) : '';
  switch (code) {
    case 'b':
      return 1;
    case 'w':
      return 2;
    case 'd':
      return 4;
    case 'q':
      return 8;
    case 'v':
      return i.opsize;
    case 'y':
      return i.opsize === 8 ? 8 : 4;
    case 'z':
      return i.opsize === 2 ? 2 : 4;
    case 'dq':
      return 16;
    default:
      return 0;
  }
}

function gpr(n: number, size: number): string {
  const names = size === 1 ? R8 : size === 2 ? R16 : size === 4 ? R32 : R64;
  return `%${names[n] ?? `?${n}`}`;
}

function hex(v: number): string {
  return `0x${v.toString(16)}`;
}

function signedHex(v: number): string {
  return v < 0 ? `-0x${(-v).toString(16)}` : hex(v);
}

/** A 64-bit value from int32 halves, as unsigned hex digits. */
function hex64(lo: number, hi: number): string {
  return BigInt.asUintN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0)).toString(16);
}

/** A (possibly negative) linear address as objdump prints it: unsigned, in the mode's width. */
function addrHex(a: number, mode: number): string {
  if (mode === 64) return BigInt.asUintN(64, BigInt(a)).toString(16);
  return (mode === 32 ? a >>> 0 : a & 0xffff).toString(16);
}

/** What the operands of one instruction use, for suffix and unused-prefix decisions. */
interface Usage {
  /** A general or segment register operand fixes the size, so objdump prints no suffix. */
  sizedReg: boolean;
  /** Size of the first general-purpose-sized memory operand (E kinds, strings), 0 if none. */
  memSize: number;
  hasMem: boolean;
  /** An operand whose size depends on the operand size (v, y, z kinds). */
  opsizeDep: boolean;
  rexUsed: number;
  segUsed: boolean;
  p66Used: boolean;
  x87Suffix: string;
  ripComment: number | undefined;
}

function isMemoryOperand(kind: OperandKind, i: Insn): boolean {
  const c = kind[0];
  if (c === 'M' || c === 'X' || c === 'Y' || c === 'O') return true;
  return (c === 'E' || c === 'W') && i.rm < 0;
}

class Printer {
  readonly u: Usage = { sizedReg: false, memSize: 0, hasMem: false, opsizeDep: false, rexUsed: 0, segUsed: false, p66Used: false, x87Suffix: '', ripComment: undefined };
  private immIndex = 0;

  constructor(
    readonly i: Insn,
    readonly mode: number,
  ) {}

  private useRex(bit: number): void {
    if ((this.i.rex & bit) !== 0) this.u.rexUsed |= bit;
  }

  /** A bare REX prefix is what turns byte registers 4-7 into SPL..DIL instead of AH..BH. */
  private byteReg(size: number, n: number): void {
    if (size === 1 && n >= 4 && n < 8 && this.i.rex !== 0) this.u.rexUsed |= 0x40;
  }

  segOverrideText(): string {
    return `%${SEGS[this.i.segOverride] ?? '?'}:`;
  }

  /** Segment prefix text for a memory operand (objdump shows ES/CS/SS/DS overrides as prefix names in 64-bit mode). */
  private segPrefix(forced?: string): string {
    const s = this.i.segOverride;
    if (s >= 0 && (this.mode !== 64 || s >= FS || forced !== undefined)) {
      this.u.segUsed = true;
      return `%${SEGS[s]}:`;
    }
    return forced !== undefined ? `%${forced}:` : '';
  }

  private mem(): string {
    const i = this.i;
    this.u.hasMem = true;
    const seg = this.segPrefix();
    const names = i.adsize === 8 ? R64 : i.adsize === 4 ? R32 : R16;
    if (i.ripRel) {
      this.useRex(1);
      this.u.ripComment = i.addr + i.len + i.disp;
      return `${seg}${signedHex(i.disp)}(%${i.adsize === 8 ? 'rip' : 'eip'})`;
    }
    const mod = i.modrm >> 6;
    const hasSib = i.sib >= 0;
    if (hasSib) this.useRex(2);
    // objdump counts REX.B as used by any ModRM memory operand, even RIP-relative or base-less.
    this.useRex(1);
    // A SIB byte with no index (index field 4) prints as %riz unless it is the plain (%rsp)
    // or absolute form; objdump keeps it visible because the encoding is unusual.
    let riz = hasSib && i.index === NO_REG && (i.sib >> 6 !== 0 || (i.base !== NO_REG && (i.sib & 7) !== 4));
    if (hasSib && i.base === NO_REG && i.index === NO_REG && i.adsize === 4 && this.mode === 64) riz = true;
    if (i.base === NO_REG && i.index === NO_REG && !riz) {
      const a = i.adsize === 8 ? `0x${BigInt.asUintN(64, BigInt(i.disp)).toString(16)}` : i.adsize === 4 ? hex(i.disp >>> 0) : hex(i.disp & 0xffff);
      return `${seg}${a}`;
    }
    let s = seg;
    if (i.base === NO_REG) s += i.adsize === 4 && this.mode === 64 ? hex(i.disp >>> 0) : signedHex(i.disp);
    else if (mod !== 0) s += signedHex(i.disp);
    s += '(';
    if (i.base !== NO_REG) s += `%${names[i.base]}`;
    if (i.adsize === 2) {
      if (i.index !== NO_REG) s += `,%${names[i.index]}`;
    } else if (i.index !== NO_REG || riz) {
      const idx = i.index !== NO_REG ? names[i.index] : i.adsize === 8 ? 'riz' : 'eiz';
      s += `,%${idx},${i.scale}`;
    }
    return `${s})`;
  }

  private imm(kind: OperandKind): string {
    const i = this.i;
    const v = this.immIndex++ === 0 ? i.imm : i.imm2;
    const size = kind === 'Ib' ? 1 : kind === 'Iw' ? 2 : i.opsize;
    if (size === 1) return `$${hex(v & 0xff)}`;
    if (size === 2) return `$${hex(v & 0xffff)}`;
    if (size === 4) return `$${hex(v >>> 0)}`;
    return `$0x${hex64(v, kind === 'Iv' ? i.immHi : v >> 31)}`;
  }

  operand(kind: OperandKind): string | undefined {
    const i = this.i;
    const c = kind[0];
    const size = kindSize(kind, i);
    if (/^[A-Z][vyz]$/.test(kind)) this.u.opsizeDep = true;
    switch (kind) {
      case '1':
        return undefined; // objdump omits the implicit count of the D0-D3 shifts
      case 'AL':
        this.u.sizedReg = true;
        return '%al';
      case 'AX':
        this.u.sizedReg = true;
        return '%ax';
      case 'eAX':
        this.u.sizedReg = true;
        this.u.opsizeDep = true;
        return i.opsize === 2 ? '%ax' : '%eax';
      case 'rAX':
        this.u.sizedReg = true;
        this.u.opsizeDep = true;
        return gpr(0, i.opsize);
      case 'CL':
        return '%cl';
      case 'DX':
        return PORT_IO.has(i.row.mnemonic) ? '(%dx)' : '%dx';
      case 'ST0':
        return '%st';
      case 'STi':
        return `%st(${i.rm & 7})`; // REX.B does not extend ST(i)
      case 'Cy':
        this.useRex(4);
        return `%cr${i.reg}`;
      case 'Dy':
        this.useRex(4);
        return `%db${i.reg}`;
      case 'Sw':
        // REX.R does not extend a segment register: objdump counts it unused.
        this.u.sizedReg = true;
        return `%${SEGS[i.reg & 7] ?? '?'}`;
      default:
        break;
    }
    switch (c) {
      case 'E':
      case 'R':
        if (i.rm >= 0) {
          this.u.sizedReg = true;
          this.useRex(1);
          this.byteReg(size, i.rm);
          // SSE inserts (PINSRB/PINSRW) take r32/m8, r32/m16: the register form names the dword register.
          const xmmInsert = size < 4 && i.row.operands.some((k) => k[0] === 'V');
          return gpr(i.rm, xmmInsert ? 4 : size);
        }
        if (this.u.memSize === 0) this.u.memSize = size;
        return this.mem();
      case 'M':
        this.u.x87Suffix ||= X87_SUFFIX[kind] ?? '';
        if (kind === 'Menv' || kind === 'Msave') {
          // The x87 environment has a 16-bit layout under a 66 prefix: objdump's `fldenvs`.
          if (i.p66) {
            this.u.p66Used = true;
            this.u.x87Suffix = 's';
          }
        }
        return this.mem();
      case 'G':
      case 'Z':
        this.u.sizedReg = true;
        this.useRex(c === 'G' ? 4 : 1);
        this.byteReg(size, i.reg);
        return gpr(i.reg, size);
      case 'B':
        // VEX.vvvv (BMI1/BMI2): objdump reverses it with the others, `andn %rcx,%rbx,%rax`.
        this.u.sizedReg = true;
        return gpr(i.vvvv, size);
      case 'V':
        this.useRex(4);
        return `%xmm${i.reg}`;
      case 'U':
      case 'W':
        if (i.rm >= 0) {
          this.useRex(1);
          return `%xmm${i.rm}`;
        }
        return this.mem();
      case 'I':
      case 's':
        return this.imm(kind);
      case 'J': {
        const target = i.addr + i.len + i.imm;
        return addrHex(target, this.mode);
      }
      case 'O': {
        this.u.hasMem = true;
        const a = i.adsize === 8 ? `0x${hex64(i.imm, i.immHi)}` : i.adsize === 4 ? hex(i.imm >>> 0) : hex(i.imm & 0xffff);
        return `${this.segPrefix()}${a}`;
      }
      case 'X':
      case 'Y': {
        this.u.hasMem = true;
        if (this.u.memSize === 0) this.u.memSize = size;
        const names = i.adsize === 8 ? R64 : i.adsize === 4 ? R32 : R16;
        const seg = c === 'X' ? this.segPrefix('ds') : '%es:';
        return `${seg}(%${names[c === 'X' ? 6 : 7]})`;
      }
      default:
        return `?${kind}`;
    }
  }
}

/** The instruction in objdump's AT&T syntax (`mov    %rsp,%rbp`), without symbol annotations. */
export function disassemble(insn: Insn, mode: 64 | 32 | 16 = 64): string {
  const i = insn;
  const row = i.row;
  let m = SYNONYMS[row.mnemonic] ?? row.mnemonic;
  let kinds: readonly OperandKind[] = row.operands;
  let sized = false; // the mnemonic already names the size

  // 90 without REX.B is NOP (F3 90: PAUSE), not XCHG rAX, rAX; 66 90 stays `xchg %ax,%ax`.
  if (row.map === 'one' && row.opcode === 0x90 && m === 'xchg' && i.reg === 0 && i.opsize !== 2) {
    m = i.rep === 0xf3 ? 'pause' : 'nop';
    kinds = [];
  }
  if (IMPLICIT_ST0.has(m) && kinds.includes('STi')) kinds = kinds.filter((k) => k !== 'ST0');
  // AT&T's historical swap (kept by gas and objdump): with ST(i) as destination, Intel's FSUB
  // is written fsubr and FSUBR fsub, and likewise FDIV/FDIVR (DC/DE E0-FF).
  if (/^f(sub|div)r?p?$/.test(m) && kinds[0] === 'STi' && kinds[1] === 'ST0') {
    m = m.includes('r') ? m.replace('r', '') : m.replace(/^(fsub|fdiv)/, '$1r');
  }
  const bySize = BY_OPSIZE[m];
  if (bySize !== undefined) {
    m = bySize[i.opsize === 2 ? 0 : i.opsize === 4 ? 1 : 2];
    sized = true;
  } else if (m === 'movzx' || m === 'movsx') {
    const from = kindSize(kinds[1] ?? 'Eb', i);
    m = `mov${m === 'movzx' ? 'z' : 's'}${SUFFIX[from] ?? ''}${SUFFIX[i.opsize] ?? ''}`;
    sized = true;
  } else if (m === 'movsxd' && i.opsize === 8) {
    m = 'movslq';
    sized = true;
  } else if (m === 'mov' && ((kinds.includes('Iv') && i.opsize === 8) || (kinds.some((k) => k[0] === 'O') && i.adsize === 8))) {
    m = 'movabs';
  } else if (m === 'jrcxz' && i.adsize !== 8) {
    m = i.adsize === 4 ? 'jecxz' : 'jcxz';
  } else if (m.startsWith('loop') && i.adsize !== (mode === 64 ? 8 : mode === 32 ? 4 : 2)) {
    m += i.adsize === 4 ? 'l' : i.adsize === 2 ? 'w' : 'q';
  }

  const p = new Printer(i, mode);
  const texts: string[] = [];
  for (const k of kinds) {
    const t = p.operand(k);
    if (t !== undefined) texts.push(t);
  }
  const u = p.u;
  // PUSH/POP of a segment register (rows `push_es` ...): the register is in the row's name.
  const segName = /^(push|pop)_([a-z]s)$/.exec(row.name);
  if (segName !== null) texts.push(`%${segName[2]}`);
  if (WORD_IN_MEMORY.has(row.name) && i.rm < 0) u.opsizeDep = false;
  if (FAR_BRANCH.has(m) && i.opsize === 2) m += 'w';
  const isIndirectBranch = (m === 'call' || m === 'jmp' || FAR_BRANCH.has(m.replace(/w$/, ''))) && kinds.some((k) => k[0] === 'E' || k[0] === 'M');
  const operands = isIndirectBranch ? texts.map((t) => `*${t}`) : texts;
  // XLAT's table operand is implicit in the row, but objdump prints it (with any override).
  const xlat = m === 'xlat';
  if (IMPLICIT_XMM0.has(m)) operands.push('%xmm0');
  if (xlat) operands.push(`${i.segOverride >= 0 ? p.segOverrideText() : '%ds:'}(%${(i.adsize === 8 ? R64 : i.adsize === 4 ? R32 : R16)[3]})`);

  // AT&T suffix: objdump adds one when a memory operand's size is not told by a register.
  if (u.x87Suffix !== '') m += u.x87Suffix;
  else if (ALWAYS_MEM_SUFFIX.has(m) && u.memSize > 0) m += SUFFIX[u.memSize] ?? '';
  else if (!sized && u.memSize > 0 && !u.sizedReg && !NEVER_SUFFIX.has(m) && !m.startsWith('set')) {
    const implicit64 = (row.d64 === true || row.f64 === true) && i.opsize === 8;
    if (!implicit64) m += SUFFIX[u.memSize] ?? '';
  } else if ((m === 'push' || (m === 'pop' && segName !== null)) && row.d64 === true && i.opsize === 2 && !u.sizedReg && !u.hasMem) {
    m += 'w';
  }

  // Prefixes: the ones the instruction did not use print by name, as objdump does.
  const pre: string[] = [];
  if (i.p66 && row.prefix !== '66') {
    // objdump counts 66 as used by the register form of MOVSXD even under REX.W.
    const used = u.p66Used || PREFIXED_OPCODES.has(`${row.map}:${row.opcode}`) || ((u.opsizeDep || sized || (row.d64 === true && i.opsize === 2)) && (i.rex & 8) === 0 && row.f64 !== true) || (row.mnemonic === 'movsxd' && i.rm >= 0);
    if (!used) pre.push('data16');
  }
  const defaultAd = mode === 64 ? 8 : mode === 32 ? 4 : 2;
  if (i.adsize !== defaultAd && !u.hasMem && !xlat && !/^(jrcxz|loop)/.test(row.mnemonic)) pre.push(mode === 32 ? 'addr16' : 'addr32');
  const isJcc = /^j/.test(m) && m !== 'jmp' && kinds.some((k) => k[0] === 'J') && !/cxz$/.test(m);
  if (i.segOverride >= 0 && !u.segUsed && !xlat) {
    if (isJcc && (i.segOverride === 1 || i.segOverride === 3)) m += i.segOverride === 1 ? ',pn' : ',pt';
    else if (isIndirectBranch && i.segOverride === 3 && mode === 64) pre.push('notrack');
    else pre.push(SEGS[i.segOverride] ?? '?');
  }
  if (i.lock) pre.push('lock');
  if (i.rep !== 0 && row.prefix !== 'f3' && row.prefix !== 'f2' && m !== 'pause') {
    const f3 = i.rep === 0xf3;
    const branch = row.ends === true && (row.mnemonic === 'ret' || kinds.some((k) => k[0] === 'J') || isIndirectBranch);
    if (row.rep === 'rep') pre.push(f3 ? 'rep' : 'repnz');
    else if (!f3 && branch) pre.push('bnd');
    else pre.push(f3 ? 'repz' : 'repnz');
  }
  if (i.rex !== 0) {
    let used = u.rexUsed;
    if ((u.opsizeDep || sized) && row.d64 !== true && row.f64 !== true && !REX_W_IGNORED.has(row.mnemonic)) used |= i.rex & 8;
    if (used !== 0) used |= 0x40;
    if ((i.rex ^ used) !== 0) {
      const bits = ['W', 'R', 'X', 'B'].filter((_, k) => (i.rex & (8 >> k)) !== 0).join('');
      pre.push(bits === '' ? 'rex' : `rex.${bits}`);
    }
  }

  const head = [...pre, m].join(' ');
  if (operands.length === 0) return head;
  const ordered = INTEL_ORDER.has(m) || (m === 'xchg' && /^(rAX|eAX|AX|AL)$/.test(kinds[0] ?? '')) ? operands : [...operands].reverse();
  let text = `${head.padEnd(6)} ${ordered.join(',')}`;
  if (u.ripComment !== undefined) text += `        # ${addrHex(u.ripComment, mode)}`;
  return text;
}

/** One line of a listing: address, the instruction's bytes, and its text (`(bad)` for #UD). */
export interface DisasmLine {
  readonly addr: number;
  readonly bytes: Uint8Array;
  readonly text: string;
}

/** Every CPUID feature with a row, so a throwaway CPU decodes everything the table knows. */
const ALL_FEATURES: readonly Feature[] = [...new Set(ROWS.map((r) => r.cpuid ?? 'base'))];

/**
 * Disassembles `bytes` loaded at `addr` in the given mode, with a throwaway CPU over a
 * `FlatMemory`. Bytes the decoder rejects print as `(bad)` (one byte each), like objdump.
 */
export function disassembleBytes(bytes: Uint8Array, addr: number, mode: 64 | 32 | 16 = 64): DisasmLine[] {
  const mem = new FlatMemory();
  mem.map(addr, bytes.length + 16, PROT_R | PROT_X);
  mem.writeBytes(addr, bytes);
  const cpu = new Cpu(mem, { exception: () => {} }, ALL_FEATURES);
  cpu.mode = mode;
  cpu.user = false;
  const out: DisasmLine[] = [];
  let off = 0;
  while (off < bytes.length) {
    let insn: Insn | undefined;
    try {
      insn = decode(cpu, addr + off);
    } catch (e) {
      if (!(e instanceof Fault)) throw e;
    }
    if (insn === undefined || off + insn.len > bytes.length) {
      out.push({ addr: addr + off, bytes: bytes.slice(off, off + 1), text: '(bad)' });
      off += 1;
      continue;
    }
    out.push({ addr: addr + off, bytes: bytes.slice(off, off + insn.len), text: disassemble(insn, mode) });
    off += insn.len;
  }
  return out;
}
