/**
 * Known differences between x86/ and the native CPU that are not fixed yet, by row. Each entry
 * is a real bug of x86/ with its reason (found by this harness; details in test/x86/diff/README.md).
 * The differential CI test keeps comparing these rows in full and prints their mismatch counts,
 * but does not gate on them. Remove a row when its bug is fixed (the CI test fails if a listed
 * name is not a row).
 *
 * `npm run x86:fuzz` does not use this list: it counts every mismatch.
 */

/** x87 arithmetic is computed in binary64 and rounded from there. */
const ARITH =
  'x87 arithmetic is computed in binary64: with FCW.PC = 64-bit (the FNINIT default) results differ from hardware in the low ' +
  '11 significand bits, with PE/C1 following; also DE reported with a NaN operand where hardware reports none';
/** Transcendentals are Math.* in binary64. */
const TRANS = 'x87 transcendental computed with Math.* in binary64: result bits, PE/C1 and the C2 out-of-range rule differ from hardware';
const PREM = 'FPREM/FPREM1: partial remainder computed in binary64; the quotient bits in C0/C3/C1 and C2 (incomplete) differ from hardware';
const CMP =
  'x87 compares: with an empty register and IE unmasked hardware still reports unordered (C3=C2=C0=1 / ZF=PF=CF=1); ' +
  'DE precedence with NaN operands; C1 differences';
const LDST = 'x87 loads/stores: exception-flag precedence (DE vs IE/SF with NaN operands or a stack fault) and C1 on stack overflow';

const RNDINT = 'FRNDINT: C1 (rounded up) differs from hardware in about 0.3% of random cases (seen with seeds 99 and 1126; not yet diagnosed)';

export const KNOWN_MISMATCHES: ReadonlyMap<string, string> = new Map<string, string>([
  ['frndint', RNDINT],
  ['fadd_M32fp', ARITH],
  ['fadd_M64fp', ARITH],
  ['fiadd_M32int', ARITH],
  ['fiadd_M16int', ARITH],
  ['fadd_ST0_STi', ARITH],
  ['fadd_STi_ST0', ARITH],
  ['faddp_STi_ST0', ARITH],
  ['fmul_M32fp', ARITH],
  ['fmul_M64fp', ARITH],
  ['fimul_M32int', ARITH],
  ['fimul_M16int', ARITH],
  ['fmul_ST0_STi', ARITH],
  ['fmul_STi_ST0', ARITH],
  ['fmulp_STi_ST0', ARITH],
  ['fcom_M32fp', CMP],
  ['fcom_M64fp', CMP],
  ['ficom_M32int', CMP],
  ['ficom_M16int', CMP],
  ['fcom_ST0_STi', CMP],
  ['fcomp_M32fp', CMP],
  ['fcomp_M64fp', CMP],
  ['ficomp_M32int', CMP],
  ['ficomp_M16int', CMP],
  ['fcomp_ST0_STi', CMP],
  ['fsub_M32fp', ARITH],
  ['fsub_M64fp', ARITH],
  ['fisub_M32int', ARITH],
  ['fisub_M16int', ARITH],
  ['fsub_ST0_STi', ARITH],
  ['fsub_STi_ST0', ARITH],
  ['fsubp_STi_ST0', ARITH],
  ['fsubr_M32fp', ARITH],
  ['fsubr_M64fp', ARITH],
  ['fisubr_M32int', ARITH],
  ['fisubr_M16int', ARITH],
  ['fsubr_ST0_STi', ARITH],
  ['fsubr_STi_ST0', ARITH],
  ['fsubrp_STi_ST0', ARITH],
  ['fdiv_M32fp', ARITH],
  ['fdiv_M64fp', ARITH],
  ['fidiv_M32int', ARITH],
  ['fidiv_M16int', ARITH],
  ['fdiv_ST0_STi', ARITH],
  ['fdiv_STi_ST0', ARITH],
  ['fdivp_STi_ST0', ARITH],
  ['fdivr_M32fp', ARITH],
  ['fdivr_M64fp', ARITH],
  ['fidivr_M32int', ARITH],
  ['fidivr_M16int', ARITH],
  ['fdivr_ST0_STi', ARITH],
  ['fdivr_STi_ST0', ARITH],
  ['fdivrp_STi_ST0', ARITH],
  ['fld_M32fp', LDST],
  ['fst_M32fp', LDST],
  ['fstp_M32fp', LDST],
  ['fld_M64fp', LDST],
  ['fst_M64fp', LDST],
  ['fstp_M64fp', LDST],
  ['fistp_M16int', LDST],
  ['fistp_M32int', LDST],
  ['fild_M64int', LDST],
  ['fld_STi', LDST],
  ['fucom_STi', CMP],
  ['fucomp_STi', CMP],
  ['fcompp', CMP],
  ['fucompp', CMP],
  ['fucomi_ST0_STi', CMP],
  ['fcomi_ST0_STi', CMP],
  ['fucomip_ST0_STi', CMP],
  ['fcomip_ST0_STi', CMP],
  ['ftst', CMP],
  ['f2xm1', TRANS],
  ['fyl2x', TRANS],
  ['fptan', TRANS],
  ['fpatan', TRANS],
  ['fxtract', ARITH],
  ['fprem1', PREM],
  ['fprem', PREM],
  ['fyl2xp1', TRANS],
  ['fsqrt', ARITH],
  ['fsincos', TRANS],
  ['fscale', ARITH],
  ['fsin', TRANS],
  ['fcos', TRANS],
]);
