/**
 * The sample CI workflow (docs/ci/github-actions.yml, docs/conformance.md "Running it in CI"): a
 * structural check without a YAML library — plain spaces, the jobs and steps the docs describe, a
 * shard matrix of 1..SHARDS, each `npx xenlab` line naming a real command with options it has,
 * and the artifact and directory names agreeing from the shards to the merge.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandGroup, CommandSpec } from '../../harness/cli/command.js';
import conformance from '../../conformance/commands/conformance.js';
import report from '../../conformance/commands/report.js';
import { ROOT } from '../support/cli.js';

const text = readFileSync(join(ROOT, 'docs/ci/github-actions.yml'), 'utf8');
const lines = text.split('\n');

/** The option names of `xenlab <words>` (`conformance`, `report merge`). */
function optionsOf(words: readonly string[]): Set<string> | undefined {
  const spec: CommandSpec<never> | undefined =
    words[0] === 'conformance' ? conformance : words[0] === 'report' ? (report as CommandGroup).subcommands.find((c) => c.name === words[1]) : undefined;
  return spec === undefined ? undefined : new Set(Object.keys(spec.options as Record<string, unknown>));
}

describe('docs/ci/github-actions.yml', () => {
  it('is plain YAML of spaces: no tabs, even indentation, the top-level keys and two jobs', () => {
    expect(text).not.toContain('\t');
    for (const l of lines.filter((x) => x.trim() !== '')) expect(/^ */.exec(l)![0].length % 2, l).toBe(0);
    expect(lines.filter((l) => /^[a-z]/.test(l)).map((l) => l.replace(/:.*/, ''))).toEqual(['name', 'on', 'env', 'jobs']);
    const jobs = lines.slice(lines.indexOf('jobs:') + 1).filter((l) => /^ {2}[a-z_-]+:$/.test(l));
    expect(jobs.map((l) => l.trim())).toEqual(['conformance:', 'report:']);
  });

  it('runs a matrix of shards 1..SHARDS, and the merge job after all of them', () => {
    const shards = Number(/^ {2}SHARDS: (\d+)$/m.exec(text)![1]);
    expect(shards).toBeGreaterThan(1);
    const matrix = /^ {8}shard: \[([\d, ]+)\]$/m.exec(text)![1]!.split(',').map((s) => Number(s.trim()));
    expect(matrix).toEqual(Array.from({ length: shards }, (_, k) => k + 1));
    expect(text).toMatch(/^ {4}needs: conformance\n {4}# .*\n {4}if: always\(\)$/m);
  });

  it("each `npx xenlab` line names a real command with options it has", () => {
    const commands = lines.filter((l) => l.includes('npx xenlab ')).map((l) => l.slice(l.indexOf('npx xenlab ') + 'npx xenlab '.length).replace(/ > .*/, '').trim());
    expect(commands).toEqual([
      'conformance --shard ${{ matrix.shard }}/${{ env.SHARDS }} --out reports-${{ matrix.shard }}',
      'report merge shards/*/report.json --out reports/out',
    ]);
    for (const c of commands) {
      const words = c.split(' ');
      const options = optionsOf(words);
      expect(options, c).toBeDefined();
      for (const flag of words.filter((w) => w.startsWith('--'))) expect(options!.has(flag.slice(2)), `${c}: ${flag}`).toBe(true);
    }
  });

  it('the names agree: each shard uploads its --out report.json, the merge downloads them all and publishes its own --out', () => {
    expect(text).toContain('name: report-shard-${{ matrix.shard }}\n          path: reports-${{ matrix.shard }}/report.json');
    expect(text).toContain('pattern: report-shard-*\n          path: shards');
    expect(text).toContain('path: reports/out/\n');
    expect(text).toContain('path: reports/out/junit.xml');
    expect(text).toContain('key: xenlab-fixtures-${{ hashFiles(\'fixtures/pipeline/catalogue.ts\') }}');
    expect(text).toMatch(/^ {10}path: fixtures\/cache$/m);
  });
});
