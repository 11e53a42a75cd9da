/** The run record itself, as JSON (report.json): the machine-readable report, versioned. */
import type { RunRecord } from '../harness/record.js';

export function renderJson(r: RunRecord): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}
