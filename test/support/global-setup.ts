/**
 * Once per test run: pick the seed, build dist/ (tests of the `xenlab` binary spawn it), and
 * make sure the guest fixtures are cached, so parallel workers never race to fetch them.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { fetchFixtures } from '../../fixtures/pipeline/cache.js';
import { runSeed } from './seed.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default async function setup(project: TestProject): Promise<void> {
  const seed = runSeed();
  project.provide('seed', seed);
  process.env.XENLAB_SEED = String(seed);
  process.stdout.write(`fast-check seed: ${seed} (repeat with XENLAB_SEED=${seed}; explore with XENLAB_SEED=random)\n`);

  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    cwd: root,
    encoding: 'utf8',
  });
  if (tsc.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed:\n${tsc.stdout}${tsc.stderr}`);

  await fetchFixtures({ includeTools: true, log: (l) => process.stderr.write(`fixtures: ${l}\n`) });
}
