/**
 * The architecture's arrows, checked mechanically: conformance/, reports/ -> harness/ -> abi/
 * -> x86/, with fixtures/pipeline/ beside harness/ (it may use harness's leaf modules errors.ts
 * and elf.ts). Every relative import of every source file is resolved and its layer checked.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/cli.js';

const LAYERS = ['x86', 'abi', 'harness', 'fixtures', 'conformance', 'reports'] as const;
type Layer = (typeof LAYERS)[number];

/** What each layer may import besides itself. */
const ALLOWED: Record<Layer, readonly string[]> = {
  x86: [],
  abi: ['x86/'],
  harness: ['x86/', 'abi/', 'fixtures/pipeline/'],
  fixtures: ['harness/errors.ts', 'harness/elf.ts'],
  // conformance/'s command composes a run and its reports; reports/ renders harness's record.
  conformance: ['x86/', 'abi/', 'harness/', 'fixtures/pipeline/', 'reports/'],
  reports: ['harness/'],
};

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const rel = join(dir, e.name);
    if (e.isDirectory() && e.name !== 'cache' && e.name !== 'node_modules') out.push(...sources(rel));
    else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

function imports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1] ?? '');
  return specs.map((s) => relative(ROOT, join(ROOT, dirname(file), s)).replace(/\.js$/, '.ts'));
}

describe('layering', () => {
  for (const layer of LAYERS) {
    it(`${layer}/ imports only ${ALLOWED[layer].join(', ') || 'itself'}`, () => {
      const bad: string[] = [];
      for (const f of sources(layer)) {
        for (const target of imports(f)) {
          const ok = target.startsWith(`${layer}/`) || ALLOWED[layer].some((a) => target.startsWith(a));
          if (!ok) bad.push(`${f} -> ${target}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }

  it('finds the imports it checks', () => {
    expect(imports('harness/cli/main.ts')).toContain('harness/errors.ts');
    expect(imports('harness/cli/commands/fixtures.ts')).toContain('fixtures/pipeline/cache.ts');
  });
});
