/**
 * `npm run gen`: writes every generated file from ROWS. `npm run gen:check` (`--check`) writes
 * nothing; it exits 1 with one line naming the first stale file. A build tool, run from dist/
 * at the repository root, so it alone in x86/ touches the host's files.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GENERATED_FILES } from './generated-files.js';

/** The repository root, whether this runs compiled (dist/x86/gen/) or from source (x86/gen/). */
function repoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, here.split(/[\\/]/).includes('dist') ? '../../..' : '../..');
}

function main(argv: readonly string[]): number {
  const check = argv.includes('--check');
  const root = repoRoot();
  for (const f of GENERATED_FILES) {
    const want = f.render();
    const file = join(root, f.path);
    const have = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    if (check) {
      if (have !== want) {
        process.stderr.write(`${f.path} is stale: run \`npm run gen\`\n`);
        return 1;
      }
    } else if (have !== want) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, want);
      process.stdout.write(`wrote ${f.path}\n`);
    }
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
