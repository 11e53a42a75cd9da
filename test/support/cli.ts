/** Runs the CLI in-process with captured streams, or as the real `bin/xenlab.js` in a child. */
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../../harness/cli/command.js';
import { main } from '../../harness/cli/main.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

/** `stdin`: what the command reads from its stdin, which then ends (empty by default). */
export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env, stdin: string | Uint8Array = ''): Promise<CliRun> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdout = new PassThrough().on('data', (b: Buffer) => out.push(b));
  const stderr = new PassThrough().on('data', (b: Buffer) => err.push(b));
  const input = new PassThrough();
  input.end(stdin);
  const io: CliIo = { stdout, stderr, stdin: input, interactive: false, env };
  const status = await main(args, io);
  return { status, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** The built binary, as a user runs it (dist/ is built by the global setup). */
export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env, input?: string): CliRun {
  const r = spawnSync(process.execPath, ['bin/xenlab.js', ...args], { cwd: ROOT, env, encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
