/**
 * How a subcommand describes itself. Each module in `harness/cli/commands/` default-exports a
 * `CommandSpec` (or a `CommandGroup` of them); `main.ts` discovers the modules on disk and
 * registers what they export, so adding a command never touches a central switch.
 *
 * Options are data typed against the options record of the library function the command
 * calls, so flag names, types and the library's signature cannot drift apart: the key is the
 * camelCase property, the flag is its kebab-case spelling (`cacheDir` -> `--cache-dir`).
 *
 * Command modules must stay cheap to import (`xenlab --help` loads all of them): import heavy
 * library code inside `run` with `await import(...)`.
 */

/** Streams and environment a command may touch; injected so tests can run commands in-process. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
  /** True when stderr is a terminal: progress lines go there only then. */
  readonly interactive: boolean;
  readonly env: NodeJS.ProcessEnv;
}

type Kind<T> = [T] extends [boolean]
  ? 'boolean'
  : [T] extends [number]
    ? 'number'
    : [T] extends [string]
      ? 'string'
      : [T] extends [readonly string[]]
        ? 'array'
        : never;

export interface OptionSpec<T> {
  readonly type: Kind<NonNullable<T>>;
  readonly describe: string;
  /** A positional argument rather than a flag; positionals are taken in table order. */
  readonly positional?: boolean;
  readonly alias?: string;
  readonly default?: T;
  readonly choices?: readonly string[];
  /** The user must give it (a flag) or it is `<angled>` in usage (a positional). */
  readonly required?: boolean;
}

/** One entry per property of the library's options record `O`; `required` follows `O`. */
export type OptionTable<O> = { readonly [K in keyof O]-?: OptionSpec<O[K]> };

export interface CommandSpec<O = Record<string, unknown>> {
  readonly name: string;
  readonly describe: string;
  readonly options: OptionTable<O>;
  /**
   * The command passes arguments on to something else (`x86 run PROGRAM ARGS..`): unknown flags
   * are kept as words of the variadic positional, and everything after `--` is appended to it.
   */
  readonly passThrough?: boolean;
  /** Returns the process exit status (0 when omitted). Throws `UserError` for user mistakes. */
  run(options: O, io: CliIo): Promise<number | void>;
}

export interface CommandGroup {
  readonly name: string;
  readonly describe: string;
  readonly subcommands: readonly CommandSpec<never>[];
}

export type CommandModule = CommandSpec<never> | CommandGroup;

export function defineCommand<O>(spec: CommandSpec<O>): CommandSpec<never> {
  return spec as unknown as CommandSpec<never>;
}

export function defineGroup(group: CommandGroup): CommandGroup {
  return group;
}

export function isGroup(m: CommandModule): m is CommandGroup {
  return 'subcommands' in m;
}

/** `cacheDir` -> `cache-dir`. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
