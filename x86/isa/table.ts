/**
 * The instruction table: every row of every family, in one readonly list. The decoder, the
 * disassembler, CPUID's feature bits, the coverage report and the differential-test generators
 * all derive from it.
 */
import { BMI_ROWS } from './rows-bmi.js';
import { CORE_ROWS } from './rows-core.js';
import { INT_ROWS } from './rows-int.js';
import { SEG_ROWS } from './rows-seg.js';
import { SSE_ROWS } from './rows-sse.js';
import { SSE4_ROWS } from './rows-sse4.js';
import { SYSTEM_ROWS } from './rows-system.js';
import { X87_ROWS } from './rows-x87.js';
import type { Row } from './types.js';

export const ROWS: readonly Row[] = [...CORE_ROWS, ...INT_ROWS, ...BMI_ROWS, ...SYSTEM_ROWS, ...SEG_ROWS, ...SSE_ROWS, ...SSE4_ROWS, ...X87_ROWS];

/** Rows by name; names are unique (checked by the table test). */
export const ROWS_BY_NAME: ReadonlyMap<string, Row> = new Map(ROWS.map((r) => [r.name, r]));
