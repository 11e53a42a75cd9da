/**
 * busybox-static (glibc, from the fixtures) in the user-mode runner against the same binary run
 * natively on the host: each applet's stdout (bytes) and exit status must be identical. Inputs
 * are fixture files, so both sides read exactly the same data.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireFixture } from '../../fixtures/pipeline/cache.js';
import { runLinuxProgram } from '../../harness/linux-user/process.js';
import { scratchDir } from '../support/tmp.js';

class Sink extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk);
    cb();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

const dir = scratchDir('busybox');
let busybox = '';
let text = '';
let lines = '';

beforeAll(async () => {
  busybox = (await requireFixture('busybox')).file('busybox');
  const config = readFileSync((await requireFixture('kernel')).file('config'), 'utf8');
  // A few thousand lines of real text: the kernel's config, and a numeric column from it.
  text = join(dir, 'config.txt');
  writeFileSync(text, config.split('\n').slice(0, 1500).join('\n'));
  lines = join(dir, 'numbers.txt');
  writeFileSync(lines, config.split('\n').slice(0, 800).map((l, k) => `${(l.length * 7919 + k * 31) % 1000} ${l}`).join('\n'));
});

async function both(args: string[]): Promise<void> {
  const native = spawnSync(busybox, args, { cwd: dir });
  const stdout = new Sink();
  const stderr = new Sink();
  const r = await runLinuxProgram({ program: busybox, args, stdout, stderr, insnLimit: 2_000_000_000 });
  expect(stderr.bytes.toString()).toBe(native.stderr.toString());
  expect(r.status).toBe(native.status);
  // Buffer.equals: deep equality of large buffers is slow in vitest.
  expect(stdout.bytes.equals(native.stdout), `stdout of busybox ${args.join(' ')}`).toBe(true);
  expect(stdout.bytes.length).toBeGreaterThan(0);
}

describe('busybox applets: emulated output = native output', () => {
  it('echo', () => both(['echo', 'hello', 'from', 'xenlab', '-n']));
  it('sha256sum', () => both(['sha256sum', text]));
  it('md5sum', () => both(['md5sum', text]));
  it('gzip -c', () => both(['gzip', '-c', text]));
  it('sort -n', () => both(['sort', '-n', lines]));
  it('sed', () => both(['sed', '-n', 's/^CONFIG_\\([A-Z0-9_]*\\)=y$/\\1/p', text]));
  it('wc', () => both(['wc', text]));
});
