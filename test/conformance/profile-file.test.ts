/**
 * A porter's own profile files (conformance/profile-file.ts, docs/profiles.md): JSON and
 * TypeScript profiles load, resolve their config against their own directory and run through
 * `xenlab conformance --profile`; every malformed field is refused with one line.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProfileFile } from '../../conformance/profile-file.js';
import { UserError } from '../../harness/errors.js';
import { ROOT, runCli } from '../support/cli.js';
import { scratchDir } from '../support/tmp.js';

const dir = scratchDir('profile-file');

/** A porter's directory: their kernel's config beside the profile (here probe-basics, copied). */
function porterDir(name: string): string {
  const d = join(dir, name);
  mkdirSync(join(d, 'images'), { recursive: true });
  copyFileSync(join(ROOT, 'fixtures/guests/images/probe-basics.elf'), join(d, 'images/probe-basics.elf'));
  writeFileSync(join(d, 'my-kernel.cfg'), readFileSync(join(ROOT, 'fixtures/guests/probe-basics.cfg'), 'utf8').replace('name = "probe-basics"', 'name = "my-kernel"'));
  return d;
}

const refused = async (path: string): Promise<string> => {
  try {
    await loadProfileFile(path);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as UserError).message;
  }
  throw new Error('expected the profile file to be refused');
};

describe('profile files', () => {
  it('loads a JSON profile: config relative to the file, defaults, /REGEX/ patterns and send escapes', async () => {
    const d = porterDir('json');
    const f = join(d, 'my-kernel.json');
    writeFileSync(
      f,
      JSON.stringify({
        name: 'my-kernel',
        description: 'my port',
        config: 'my-kernel.cfg',
        script: [{ expect: '/ok \\d+ - /i', send: 'x\\r', timeoutSeconds: 2 }],
      }),
    );
    const [p] = await loadProfileFile(f);
    expect(p).toMatchObject({ name: 'my-kernel', config: join(d, 'my-kernel.cfg'), expectEnd: 'poweroff', timeoutSeconds: 60 });
    expect(p!.script?.[0]?.expect).toEqual(/ok \d+ - /i);
    expect(p!.script?.[0]?.send).toEqual(Uint8Array.of(0x78, 0x0d));
  });

  it('loads a TypeScript profile module with a RegExp check and a prepare function', async () => {
    const d = porterDir('ts');
    const f = join(d, 'my-kernel.ts');
    writeFileSync(
      f,
      `interface P { name: string; config: string; checks: { name: string; expect: RegExp }[]; prepare(): Promise<string[]> }
const p: P = { name: 'my-ts-kernel', config: 'my-kernel.cfg', checks: [{ name: 'prints TAP', expect: /1\\.\\.\\d+/ }], async prepare() { return ['memory=16']; } };
export default [p];
`,
    );
    const [p] = await loadProfileFile(f);
    expect(p!.name).toBe('my-ts-kernel');
    expect(p!.checks?.[0]).toEqual({ name: 'prints TAP', expect: /1\.\.\d+/ });
    expect(await p!.prepare?.()).toEqual(['memory=16']);
  });

  it('refuses malformed files and fields with one line naming the file, profile and field', async () => {
    const d = porterDir('bad');
    const write = (name: string, body: unknown): string => {
      const f = join(d, name);
      writeFileSync(f, typeof body === 'string' ? body : JSON.stringify(body));
      return f;
    };
    const ok = { name: 'k', config: 'my-kernel.cfg' };
    expect(await refused(join(d, 'none.json'))).toMatch(/none\.json: no such profile file$/);
    expect(await refused(write('a.json', '{ nope'))).toMatch(/a\.json: not valid JSON/);
    expect(await refused(write('b.yaml', 'x'))).toMatch(/b\.yaml: a profile file is \.json/);
    expect(await refused(write('c.json', []))).toMatch(/c\.json: no profiles in the file$/);
    expect(await refused(write('d.json', { config: 'my-kernel.cfg' }))).toMatch(/d\.json: profile 1: 'name' must be/);
    expect(await refused(write('e.json', { ...ok, config: 'gone.cfg' }))).toMatch(/e\.json: profile 'k': 'config' names .*gone\.cfg, which does not exist$/);
    expect(await refused(write('f.json', { ...ok, expectEnd: 'explode' }))).toMatch(/'expectEnd' must be one of poweroff, reboot/);
    expect(await refused(write('g.json', { ...ok, timeoutSeconds: -1 }))).toMatch(/'timeoutSeconds' must be a positive number/);
    expect(await refused(write('h.json', { ...ok, colour: 'red' }))).toMatch(/'colour' is not a profile field/);
    expect(await refused(write('i.json', { ...ok, script: [{ expect: '/(/' }] }))).toMatch(/not a regular expression/);
    expect(await refused(write('j.json', { ...ok, checks: [{ expect: 'x' }] }))).toMatch(/'checks\[0\]\.name' must name the check/);
    expect(await refused(write('k.json', [ok, ok]))).toMatch(/two profiles named 'k'/);
    expect(await refused(write('l.json', { ...ok, overrides: ['memory'] }))).toMatch(/'overrides' must be a list of KEY=VALUE/);
    expect(await refused(write('m.ts', 'export default { name: "x", config: "my-kernel.cfg" ;'))).toMatch(/m\.ts:1: /);
    expect(await refused(write('n.mjs', 'export const x = 1;'))).toMatch(/n\.mjs: the module has no default export/);
    expect(await refused(write('o.json', { ...ok, notApplicable: { 'no.such-check': 'x' } }))).toMatch(/'notApplicable\.no\.such-check' is not a check id \(known: xenbus\.frontend-states/);
    expect(await refused(write('p.json', { ...ok, notApplicable: { 'xenbus.frontend-states': '' } }))).toMatch(/'notApplicable\.xenbus\.frontend-states' must give the reason/);
    expect(await refused(write('q.json', { ...ok, notApplicable: ['xenbus.frontend-states'] }))).toMatch(/'notApplicable' must map check ids/);
  });

  it('xenlab conformance --profile runs the file\'s profiles instead of the built-ins', async () => {
    const d = porterDir('cli');
    const f = join(d, 'my-kernel.json');
    writeFileSync(f, JSON.stringify({ name: 'my-kernel', description: 'my port', config: 'my-kernel.cfg', timeoutSeconds: 10, notApplicable: { 'xenbus.frontend-states': 'my port has no XenBus yet' } }));
    const list = await runCli(['conformance', '--profile', f, '--list']);
    expect(list.stdout).toMatch(/^my-kernel +my port$/m);
    const out = join(d, 'reports');
    const r = await runCli(['conformance', '--profile', f, '--out', out, '--format', 'json']);
    expect(r.stderr).toMatch(/\[1\/1\] my-kernel: ok/);
    expect(r.status).toBe(0);
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { guests: { name: string; ok: boolean; tests: { status: string; detail?: string; check?: { id: string } }[] }[] };
    expect(json.guests.map((g) => [g.name, g.ok])).toEqual([['my-kernel', true]]);
    const xenbus = json.guests[0]!.tests.find((t) => t.check?.id === 'xenbus.frontend-states');
    expect([xenbus?.status, xenbus?.detail]).toEqual(['skip', 'not applicable: my port has no XenBus yet']);
    const bad = await runCli(['conformance', '--profile', join(d, 'missing.json')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^xenlab: .*missing\.json: no such profile file\n$/);
  });
});
