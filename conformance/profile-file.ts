/**
 * A porter's own guest profiles, from a file (`xenlab conformance --profile my-kernel.json`):
 * docs/profiles.md. A file holds one profile or an array of them.
 *
 *  - `.json`: the GuestProfile fields as data. Console patterns are text, or `/REGEX/FLAGS` as
 *    `--expect` takes them; `send` text takes `--send`'s escapes (\n \r \t \e \xHH \\ \0).
 *  - `.js`/`.mjs`, and `.ts`/`.mts` (transpiled with the TypeScript compiler, type-stripped, not
 *    type-checked): a module whose default export is a profile or an array; it may give RegExp
 *    patterns and a `prepare` function directly.
 *
 * Relative `config` paths are resolved against the profile file's directory. Every field is
 * checked; a bad one is one line naming the file, the profile and the field.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decodeSendEscapes, parseExpectPattern, type ConsoleExpect } from '../harness/boot/console-script.js';
import { UserError } from '../harness/errors.js';
import type { GuestProfile, ScriptCheck } from './profile.js';
import { ABI_CHECKS } from './checks/index.js';

/** How a domain may be expected to end (the boot's end names, docs/boot.md). */
export const PROFILE_ENDS = ['poweroff', 'reboot', 'crash', 'suspend', 'watchdog', 'soft_reset'] as const;

const KNOWN_KEYS = new Set(['name', 'description', 'config', 'overrides', 'expectEnd', 'timeoutSeconds', 'script', 'checks', 'notApplicable', 'prepare']);

/** Loads and checks the profiles of one file. */
export async function loadProfileFile(path: string): Promise<GuestProfile[]> {
  const file = resolve(path);
  if (!existsSync(file)) throw new UserError('file-not-found', `${path}: no such profile file`);
  const ext = extname(file);
  let data: unknown;
  if (ext === '.json') {
    try {
      data = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new UserError('bad-file', `${path}: not valid JSON (${(e as Error).message})`);
    }
  } else if (ext === '.js' || ext === '.mjs') {
    data = await importDefault(path, pathToFileURL(file).href);
  } else if (ext === '.ts' || ext === '.mts') {
    data = await importTypeScript(path, file);
  } else {
    throw new UserError('bad-file', `${path}: a profile file is .json, .js, .mjs, .ts or .mts`);
  }
  const list = Array.isArray(data) ? data : [data];
  if (list.length === 0) throw new UserError('bad-file', `${path}: no profiles in the file`);
  const profiles = list.map((p, k) => checkProfile(p, path, dirname(file), k, ext === '.json'));
  const seen = new Set<string>();
  for (const p of profiles) {
    if (seen.has(p.name)) throw new UserError('bad-file', `${path}: two profiles named '${p.name}'`);
    seen.add(p.name);
  }
  return profiles;
}

async function importDefault(shown: string, url: string): Promise<unknown> {
  let mod: { default?: unknown };
  try {
    mod = (await import(url)) as { default?: unknown };
  } catch (e) {
    throw new UserError('bad-file', `${shown}: cannot load the module (${(e as Error).message.split('\n')[0] ?? ''})`);
  }
  if (mod.default === undefined) throw new UserError('bad-file', `${shown}: the module has no default export (export default { name: ..., config: ... })`);
  return mod.default;
}

async function importTypeScript(shown: string, file: string): Promise<unknown> {
  let ts: typeof import('typescript');
  try {
    ts = (await import('typescript')).default;
  } catch {
    throw new UserError('bad-file', `${shown}: loading a .ts profile needs the typescript package (npm install typescript), or write it as .json or .mjs`);
  }
  const out = ts.transpileModule(readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: file,
    reportDiagnostics: true,
  });
  const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) {
    const d = errors[0]!;
    const where = d.file !== undefined && d.start !== undefined ? `:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}` : '';
    throw new UserError('bad-file', `${shown}${where}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
  }
  // Beside nothing of ours: a temporary .mjs; relative imports of the profile are not supported.
  const dir = mkdtempSync(join(tmpdir(), 'xenlab-profile-'));
  try {
    const js = join(dir, 'profile.mjs');
    writeFileSync(js, out.outputText);
    return await importDefault(shown, pathToFileURL(js).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function checkProfile(raw: unknown, file: string, base: string, index: number, json: boolean): GuestProfile {
  const at = (field: string, name?: string): string => `${file}: profile ${name !== undefined ? `'${name}'` : index + 1}: ${field}`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UserError('bad-file', `${file}: profile ${index + 1} is not an object`);
  const o = raw as Record<string, unknown>;
  const name = o.name;
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new UserError('bad-file', at("'name' must be a name of letters, digits, '.', '_' and '-'"));
  }
  const bad = (field: string, what: string): never => {
    throw new UserError('bad-file', at(`'${field}' ${what}`, name));
  };
  for (const k of Object.keys(o)) if (!KNOWN_KEYS.has(k)) bad(k, `is not a profile field (known: ${[...KNOWN_KEYS].join(', ')})`);
  if (typeof o.config !== 'string' || o.config === '') bad('config', 'must name the xl.cfg to boot');
  const config = isAbsolute(o.config as string) ? (o.config as string) : resolve(base, o.config as string);
  if (!existsSync(config)) bad('config', `names ${config}, which does not exist`);
  const description = o.description ?? '';
  if (typeof description !== 'string') bad('description', 'must be text');
  const expectEnd = o.expectEnd ?? 'poweroff';
  if (typeof expectEnd !== 'string' || !(PROFILE_ENDS as readonly string[]).includes(expectEnd)) bad('expectEnd', `must be one of ${PROFILE_ENDS.join(', ')}`);
  const timeoutSeconds = o.timeoutSeconds ?? 60;
  if (typeof timeoutSeconds !== 'number' || !Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) bad('timeoutSeconds', 'must be a positive number of guest seconds');
  let overrides: string[] | undefined;
  if (o.overrides !== undefined) {
    if (!Array.isArray(o.overrides) || o.overrides.some((x) => typeof x !== 'string' || !x.includes('='))) bad('overrides', 'must be a list of KEY=VALUE texts');
    overrides = o.overrides as string[];
  }
  if (o.prepare !== undefined && typeof o.prepare !== 'function') bad('prepare', 'must be a function returning a list of KEY=VALUE overrides');
  if (o.script !== undefined && o.checks !== undefined) bad('checks', 'and a script cannot both be given (checks are the script of a guest without TAP)');
  const step = (field: string, s: unknown, k: number, named: boolean): ScriptCheck | ConsoleExpect => {
    const where = `${field}[${k}]`;
    if (typeof s !== 'object' || s === null) return bad(where, 'must be an object with expect (and send, timeoutSeconds)');
    const x = s as Record<string, unknown>;
    let expect: string | RegExp;
    if (typeof x.expect === 'string') expect = json ? parseExpectPattern(x.expect, `${where}.expect`) : x.expect;
    else if (x.expect instanceof RegExp && !json) expect = x.expect;
    else return bad(`${where}.expect`, 'must be text or /REGEX/FLAGS');
    const out: { name?: string; expect: string | RegExp; send?: string | Uint8Array; timeoutSeconds?: number } = { expect };
    if (x.send !== undefined) {
      if (typeof x.send !== 'string') return bad(`${where}.send`, 'must be text');
      out.send = json ? decodeSendEscapes(x.send, `${where}.send`) : x.send;
    }
    if (x.timeoutSeconds !== undefined) {
      if (typeof x.timeoutSeconds !== 'number' || !(x.timeoutSeconds > 0)) return bad(`${where}.timeoutSeconds`, 'must be a positive number');
      out.timeoutSeconds = x.timeoutSeconds;
    }
    if (named) {
      if (typeof x.name !== 'string' || x.name === '') return bad(`${where}.name`, 'must name the check');
      out.name = x.name;
    }
    return out as ScriptCheck;
  };
  const steps = (field: 'script' | 'checks', named: boolean): (ScriptCheck | ConsoleExpect)[] | undefined => {
    const v = o[field];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length === 0) return bad(field, 'must be a non-empty list of steps');
    return v.map((s, k) => step(field, s, k, named));
  };
  const script = steps('script', false);
  const checks = steps('checks', true) as ScriptCheck[] | undefined;
  const na = o.notApplicable;
  if (na !== undefined) {
    if (typeof na !== 'object' || na === null || Array.isArray(na)) bad('notApplicable', 'must map check ids to the reason each does not apply');
    const ids = ABI_CHECKS.map((c) => c.id);
    for (const [id, why] of Object.entries(na as Record<string, unknown>)) {
      if (!ids.includes(id)) bad(`notApplicable.${id}`, `is not a check id (known: ${ids.join(', ')})`);
      if (typeof why !== 'string' || why.trim() === '') bad(`notApplicable.${id}`, 'must give the reason the check does not apply');
    }
  }
  return {
    name,
    description: description as string,
    config,
    expectEnd: expectEnd as string,
    timeoutSeconds: timeoutSeconds as number,
    ...(overrides !== undefined ? { overrides } : {}),
    ...(script !== undefined ? { script } : {}),
    ...(checks !== undefined ? { checks } : {}),
    ...(na !== undefined ? { notApplicable: na as Record<string, string> } : {}),
    ...(o.prepare !== undefined ? { prepare: o.prepare as () => Promise<readonly string[]> } : {}),
  };
}
