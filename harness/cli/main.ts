/**
 * The `xenlab` command line: builds yargs from the command modules found on disk and maps
 * every failure to one line and an exit status (0 ok, 1 failure, 2 usage error).
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import yargs, { type Argv } from 'yargs';
import { UserError, describeError, isUserError } from '../errors.js';
import {
  flagName,
  isGroup,
  type CliIo,
  type CommandModule,
  type CommandSpec,
  type OptionSpec,
} from './command.js';
import { packageVersion } from './package-info.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/**
 * Where command modules are discovered: harness's own, and the top layer's (`conformance/`
 * composes a run and its reports). The top layer's commands are found on disk at start-up, never
 * imported from here, so harness/ does not depend on what sits above it.
 */
export const COMMAND_DIRS: readonly string[] = [join(HERE, 'commands'), join(HERE, '..', '..', 'conformance', 'commands')];

/** Every command module under the command directories, in file-name order. */
export async function loadCommands(dirs: readonly string[] = COMMAND_DIRS): Promise<CommandModule[]> {
  const files = dirs
    .filter((dir) => existsSync(dir))
    .flatMap((dir) =>
      readdirSync(dir)
        .filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith('.d.ts') && !f.includes('.test.'))
        .map((f) => ({ dir, f })),
    )
    .sort((a, b) => (a.f < b.f ? -1 : a.f > b.f ? 1 : 0));
  const modules: CommandModule[] = [];
  for (const { dir, f } of files) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { default?: CommandModule };
    if (mod.default === undefined) throw new Error(`command module ${f} has no default export`);
    modules.push(mod.default);
  }
  return modules;
}

export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    interactive: process.stderr.isTTY === true,
    env: process.env,
  };
}

function commandString(spec: CommandSpec<never>): string {
  const table = spec.options as Record<string, OptionSpec<unknown>>;
  const positionals = Object.entries(table)
    .filter(([, o]) => o.positional === true)
    .map(([k, o]) => {
      const name = flagName(k);
      const variadic = o.type === 'array' ? '..' : '';
      return o.required === true ? `<${name}${variadic}>` : `[${name}${variadic}]`;
    });
  return [spec.name, ...positionals].join(' ');
}

/** Outcome of a command handler, carried out of yargs' callback world. */
interface Outcome {
  status: number;
}

function registerSpec(y: Argv, spec: CommandSpec<never>, io: CliIo, outcome: Outcome): Argv {
  const table = spec.options as Record<string, OptionSpec<unknown>>;
  return y.command(
    commandString(spec),
    spec.describe,
    (b) => {
      if (spec.passThrough === true) {
        b.parserConfiguration({ ...PARSER_CONFIG, 'unknown-options-as-args': true, 'populate--': true });
      }
      for (const [key, o] of Object.entries(table)) {
        const common = {
          describe: o.describe,
          ...(o.alias !== undefined ? { alias: o.alias } : {}),
          ...(o.default !== undefined ? { default: o.default } : {}),
          ...(o.choices !== undefined ? { choices: [...o.choices] } : {}),
        };
        if (o.positional === true) {
          b.positional(flagName(key), { ...common, type: o.type === 'array' ? 'string' : o.type });
        } else {
          b.option(flagName(key), {
            ...common,
            type: o.type,
            requiresArg: o.type !== 'boolean',
            demandOption: o.required === true,
          });
        }
      }
      return b;
    },
    async (argv) => {
      const opts: Record<string, unknown> = {};
      for (const [key, o] of Object.entries(table)) {
        const v = (argv as Record<string, unknown>)[flagName(key)];
        if (o.type === 'number' && typeof v === 'number' && Number.isNaN(v)) {
          throw new UserError('bad-option', `--${flagName(key)} expects a number`);
        }
        if (v !== undefined) opts[key] = v;
        const rest = (argv as Record<string, unknown>)['--'];
        if (spec.passThrough === true && o.positional === true && o.type === 'array' && Array.isArray(rest)) {
          opts[key] = [...((v as unknown[] | undefined) ?? []), ...rest].map(String);
        }
      }
      const status = await spec.run(opts as never, io);
      outcome.status = status ?? 0;
    },
  );
}

/**
 * Flags are read back by their kebab-case name; no `--no-x` negations; an array flag takes one
 * word per use (`--guest a --guest b`), so it never swallows a positional that follows it.
 */
const PARSER_CONFIG = { 'camel-case-expansion': false, 'boolean-negation': false, 'greedy-arrays': false } as const;

export function buildParser(modules: readonly CommandModule[], io: CliIo, outcome: Outcome): Argv {
  let y: Argv = yargs()
    .scriptName('xenlab')
    .parserConfiguration(PARSER_CONFIG)
    .usage('xenlab: test operating systems ported to Xen\n\nUsage: xenlab <command> [options]')
    .version(packageVersion())
    .option('debug', { type: 'boolean', describe: 'Show stack traces and debug diagnostics' })
    .strict()
    .demandCommand(1, 'no command given')
    .recommendCommands()
    .help()
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .fail((msg: string | null, err: Error | undefined) => {
      // A handler's own error passes through; a yargs validation message becomes a usage error.
      if (err !== undefined && err !== null && err.name !== 'YError') throw err;
      const text = msg ?? err?.message ?? 'invalid command line';
      throw new UserError('usage', `${usageMessage(text)} (see 'xenlab --help')`);
    });
  for (const m of modules) {
    if (isGroup(m)) {
      y = y.command(m.name, m.describe, (g) => {
        for (const s of m.subcommands) registerSpec(g, s, io, outcome);
        return g.demandCommand(1, `no ${m.name} subcommand given`);
      });
    } else {
      y = registerSpec(y, m, io, outcome);
    }
  }
  return y;
}

/** yargs' validation messages, reworded into one line that names the offending word. */
function usageMessage(raw: string): string {
  const line = raw
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ')
    .replace(/: Argument: /g, ': ');
  const unknown = /^Unknown arguments?: (.*)$/.exec(line);
  if (unknown) return `unknown command or option: ${unknown[1]}`;
  return line.replace(/^./, (c) => c.toLowerCase());
}

/** Runs the CLI and returns the exit status; never throws. */
export async function main(args: readonly string[], io: CliIo = processIo()): Promise<number> {
  const debug = args.includes('--debug');
  const outcome: Outcome = { status: 0 };
  try {
    const modules = await loadCommands();
    const parser = buildParser(modules, io, outcome);
    let output = '';
    await parser.parseAsync([...args], {}, (_err: unknown, _argv: unknown, out: string) => {
      output = out;
    });
    if (output !== '') io.stdout.write(output.endsWith('\n') ? output : `${output}\n`);
    return outcome.status;
  } catch (e) {
    if (isUserError(e)) {
      io.stderr.write(`xenlab: ${e.message}\n`);
      if (debug && e.stack) io.stderr.write(`${e.stack}\n`);
      return e.exitStatus;
    }
    io.stderr.write(`xenlab: internal error: ${describeError(e)}\n`);
    if (debug && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
    else io.stderr.write(`xenlab: this is a bug in xenlab; rerun with --debug for a stack trace\n`);
    return 70;
  }
}
