/**
 * Writes a run record's reports into a directory, one file per format, each first under a
 * temporary name and then renamed, so a report is never half-written under its final name.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RunRecord } from '../harness/record.js';
import { UserError } from '../harness/errors.js';
import { RENDERERS, REPORT_FORMATS, type ReportFormat } from '../reports/index.js';

/** `--format` values, checked; all formats when none is given. */
export function reportFormats(given: readonly string[] | undefined): ReportFormat[] {
  const formats = given === undefined || given.length === 0 ? REPORT_FORMATS : given;
  for (const f of formats) {
    if (!(REPORT_FORMATS as readonly string[]).includes(f)) throw new UserError('bad-option', `--format: unknown format '${f}' (expected ${REPORT_FORMATS.join(', ')})`);
  }
  return formats as ReportFormat[];
}

/** Returns the paths written, as `outDir` spells them. */
export function writeReports(record: RunRecord, outDir: string, formats: readonly ReportFormat[]): string[] {
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const f of formats) {
    const r = RENDERERS[f];
    const path = join(dir, r.file);
    writeFileSync(`${path}.tmp`, r.render(record));
    renameSync(`${path}.tmp`, path);
    written.push(join(outDir, r.file));
  }
  return written;
}
