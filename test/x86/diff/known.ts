/**
 * Known differences between x86/ and the native CPU that are not fixed yet, by row. Each entry
 * is a real bug of x86/ with its reason (found by this harness; details in test/x86/diff/README.md).
 * The differential CI test keeps comparing these rows in full and prints their mismatch counts,
 * but does not gate on them. Remove a row when its bug is fixed (the CI test fails if a listed
 * name is not a row).
 *
 * `npm run x86:fuzz` does not use this list: it counts every mismatch.
 */

/**
 * Fixed by the exact 80-bit arithmetic (x86/exec/x87-soft.ts) and the measured precedence rules,
 * but not yet through the acceptance run: 0 mismatches in 2,000-5,000 cases per row with seed
 * 20261126 (test/x86/diff/x87-probe.ts, interpreter), and 0 in the first 25,000 cases of a
 * `npm run x86:fuzz -- --seed 1` over these rows. Remove after 20,000 cases per row with two seeds.
 */
const VERIFY = 'x87: believed fixed (exact 80-bit arithmetic, measured precedence); pending the 20,000-case two-seed fuzz run';

/** Transcendentals: correctly rounded here, not always on the reference CPU. */
const TRANS =
  'x87 transcendental: x86/ returns the correctly rounded value (after reduction by the 66-bit pi); the reference AMD CPU ' +
  'is 1 ulp off (or rounds the other way, C1) in some cases';
const TRANS2 =
  TRANS + '; for FPTAN/FSINCOS more often (the cotangent branch and the pushed cosine), not yet analysed';
const LOG = TRANS + '; FYL2X/FYL2XP1 about 2% of random cases (operands near 1 and tiny products), not yet analysed';

export const KNOWN_MISMATCHES: ReadonlyMap<string, string> = new Map<string, string>([
  ['frndint', VERIFY],
  ['fadd_M32fp', VERIFY],
  ['fadd_M64fp', VERIFY],
  ['fiadd_M32int', VERIFY],
  ['fiadd_M16int', VERIFY],
  ['fadd_ST0_STi', VERIFY],
  ['fadd_STi_ST0', VERIFY],
  ['faddp_STi_ST0', VERIFY],
  ['fmul_M32fp', VERIFY],
  ['fmul_M64fp', VERIFY],
  ['fimul_M32int', VERIFY],
  ['fimul_M16int', VERIFY],
  ['fmul_ST0_STi', VERIFY],
  ['fmul_STi_ST0', VERIFY],
  ['fmulp_STi_ST0', VERIFY],
  ['fcom_M32fp', VERIFY],
  ['fcom_M64fp', VERIFY],
  ['ficom_M32int', VERIFY],
  ['ficom_M16int', VERIFY],
  ['fcom_ST0_STi', VERIFY],
  ['fcomp_M32fp', VERIFY],
  ['fcomp_M64fp', VERIFY],
  ['ficomp_M32int', VERIFY],
  ['ficomp_M16int', VERIFY],
  ['fcomp_ST0_STi', VERIFY],
  ['fsub_M32fp', VERIFY],
  ['fsub_M64fp', VERIFY],
  ['fisub_M32int', VERIFY],
  ['fisub_M16int', VERIFY],
  ['fsub_ST0_STi', VERIFY],
  ['fsub_STi_ST0', VERIFY],
  ['fsubp_STi_ST0', VERIFY],
  ['fsubr_M32fp', VERIFY],
  ['fsubr_M64fp', VERIFY],
  ['fisubr_M32int', VERIFY],
  ['fisubr_M16int', VERIFY],
  ['fsubr_ST0_STi', VERIFY],
  ['fsubr_STi_ST0', VERIFY],
  ['fsubrp_STi_ST0', VERIFY],
  ['fdiv_M32fp', VERIFY],
  ['fdiv_M64fp', VERIFY],
  ['fidiv_M32int', VERIFY],
  ['fidiv_M16int', VERIFY],
  ['fdiv_ST0_STi', VERIFY],
  ['fdiv_STi_ST0', VERIFY],
  ['fdivp_STi_ST0', VERIFY],
  ['fdivr_M32fp', VERIFY],
  ['fdivr_M64fp', VERIFY],
  ['fidivr_M32int', VERIFY],
  ['fidivr_M16int', VERIFY],
  ['fdivr_ST0_STi', VERIFY],
  ['fdivr_STi_ST0', VERIFY],
  ['fdivrp_STi_ST0', VERIFY],
  ['fld_M32fp', VERIFY],
  ['fst_M32fp', VERIFY],
  ['fstp_M32fp', VERIFY],
  ['fld_M64fp', VERIFY],
  ['fst_M64fp', VERIFY],
  ['fstp_M64fp', VERIFY],
  ['fistp_M16int', VERIFY],
  ['fistp_M32int', VERIFY],
  ['fild_M64int', VERIFY],
  ['fld_STi', VERIFY],
  ['fucom_STi', VERIFY],
  ['fucomp_STi', VERIFY],
  ['fcompp', VERIFY],
  ['fucompp', VERIFY],
  ['fucomi_ST0_STi', VERIFY],
  ['fcomi_ST0_STi', VERIFY],
  ['fucomip_ST0_STi', VERIFY],
  ['fcomip_ST0_STi', VERIFY],
  ['ftst', VERIFY],
  ['f2xm1', TRANS],
  ['fyl2x', LOG],
  ['fptan', TRANS2],
  ['fpatan', TRANS],
  ['fxtract', VERIFY],
  ['fprem1', VERIFY],
  ['fprem', VERIFY],
  ['fyl2xp1', LOG],
  ['fsqrt', VERIFY],
  ['fsincos', TRANS2],
  ['fscale', VERIFY],
  ['fsin', TRANS],
  ['fcos', TRANS],
]);
