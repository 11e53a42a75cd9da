/** Table rows: x87 family (filled in by the CPU issues; see x86/README.md). */
import type { Row } from './types.js';

export const X87_ROWS: readonly Row[] = [];
