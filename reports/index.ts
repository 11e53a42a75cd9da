/**
 * The renderers of a run record, by name: each writes one file of `reports/out/` (or the
 * directory given). Adding a format is one entry here and one module beside it.
 */
import type { RunRecord } from '../harness/record.js';
import { renderHtml } from './html.js';
import { renderJson } from './json.js';
import { renderJunit } from './junit.js';
import { renderTap } from './tap.js';

export interface Renderer {
  /** The file it writes, in the output directory. */
  readonly file: string;
  render(r: RunRecord): string;
}

export const RENDERERS = {
  tap: { file: 'results.tap', render: renderTap },
  junit: { file: 'junit.xml', render: renderJunit },
  json: { file: 'report.json', render: renderJson },
  html: { file: 'report.html', render: renderHtml },
} as const satisfies Record<string, Renderer>;

export type ReportFormat = keyof typeof RENDERERS;

export const REPORT_FORMATS = Object.keys(RENDERERS) as ReportFormat[];
