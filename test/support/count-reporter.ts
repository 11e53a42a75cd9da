/**
 * vitest's default reporter, plus, as the very last line, the
 * count line CI reads: `N passed, N failed` (`, N skipped` when any were skipped). A test file
 * that fails to load, and an error outside any test, count as failures.
 */
import type { RunnerTask, RunnerTestFile } from 'vitest';
import { DefaultReporter } from 'vitest/reporters';

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

function count(task: RunnerTask, c: Counts): void {
  if (task.type === 'test') {
    const state = task.result?.state;
    if (state === 'pass') c.passed++;
    else if (state === 'fail') c.failed++;
    else c.skipped++;
    return;
  }
  const before = c.failed;
  for (const t of task.tasks) count(t, c);
  // A suite that failed by itself (load error, failing hook) with no failing test inside.
  if (task.result?.state === 'fail' && c.failed === before) c.failed++;
}

export default class CountReporter extends DefaultReporter {
  override onFinished(files: RunnerTestFile[] = [], errors: unknown[] = []): void {
    super.onFinished(files, errors);
    const c: Counts = { passed: 0, failed: 0, skipped: 0 };
    for (const f of files) count(f, c);
    c.failed += errors.length;
    const skipped = c.skipped > 0 ? `, ${c.skipped} skipped` : '';
    process.stdout.write(`\n${c.passed} passed, ${c.failed} failed${skipped}\n`);
  }
}
