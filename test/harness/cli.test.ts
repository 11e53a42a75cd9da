import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCommands } from '../../harness/cli/main.js';
import { ROOT, runCli, spawnCli } from '../support/cli.js';

const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('xenlab CLI', () => {
  it('--help lists the commands found on disk', async () => {
    const r = await runCli(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^xenlab: test operating systems ported to Xen/);
    for (const m of await loadCommands()) expect(r.stdout).toContain(`xenlab ${m.name}`);
  });

  it('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('an unknown command is one line on stderr and exit status 2', async () => {
    const r = await runCli(['nosuchcommand']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("xenlab: unknown command or option: nosuchcommand (see 'xenlab --help')\n");
  });

  it('an unknown flag is one line and exit status 2', async () => {
    const r = await runCli(['fixtures', 'list', '--no-such-flag']);
    expect(r.status).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('no-such-flag');
  });

  it('a missing required option names it', async () => {
    const r = await runCli(['fixtures', 'disk', '--out', '/tmp/x.img']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("xenlab: missing required argument: from (see 'xenlab --help')\n");
  });

  it('a non-numeric number option names the flag', async () => {
    const r = await runCli(['fixtures', 'disk', '--from', '.', '--out', '/tmp/x.img', '--size-mib', 'lots']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('xenlab: --size-mib expects a number\n');
  });

  it('a missing input file is one line naming the file, with no stack trace', async () => {
    const r = await runCli(['fixtures', 'initramfs', '--init', '/nonexistent/init.sh', '--out', '/tmp/i.cpio.gz']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('xenlab: /nonexistent/init.sh: cannot read the /init file\n');
  });

  it('--debug adds the stack trace to a user error', async () => {
    const r = await runCli(['fixtures', 'initramfs', '--init', '/nonexistent/init.sh', '--out', '/tmp/i.cpio.gz', '--debug']);
    expect(r.status).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe('xenlab: /nonexistent/init.sh: cannot read the /init file');
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('the installed binary: unknown command exits 2 with one line', () => {
    const r = spawnCli(['nosuchcommand']);
    expect(r.status).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toEqual(["xenlab: unknown command or option: nosuchcommand (see 'xenlab --help')"]);
  });

  it('the installed binary answers --version', () => {
    const r = spawnCli(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });
});
