/** Scratch directories for one test file, removed when its tests end. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

export function scratchDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `xenlab-test-${tag}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
