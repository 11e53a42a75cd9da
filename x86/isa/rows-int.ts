/** Table rows: int family (filled in by the CPU issues; see x86/README.md). */
import type { Row } from './types.js';

export const INT_ROWS: readonly Row[] = [];
