/**
 * Disks in a boot (harness/boot/disks.ts through bootGuest): xl.cfg `disk=` entries become the
 * toolstack's vbd nodes and a blkback waiting in InitWait for the guest's frontend; the image
 * files are opened copy-on-write by default and never modified; the export writes each disk
 * as the guest left it (its directory created when missing); a missing image is a user error naming it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootGuest } from '../../../harness/boot/boot.js';
import { UserError } from '../../../harness/errors.js';
import { loadXlConfig } from '../../../harness/toolstack/xl-cfg.js';
import { scratchDir } from '../../support/tmp.js';
import { writeTinyGuest } from './tiny-guest.js';

const dir = scratchDir('x2-disks');

describe('bootGuest with disks', () => {
  it('adds each disk as xl does: vbd nodes, backend in InitWait with its properties; images untouched; export', async () => {
    const root = join(dir, 'root.img');
    const data = join(dir, 'data.img');
    const rootBytes = Buffer.alloc(64 * 512, 0x5a);
    writeFileSync(root, rootBytes);
    writeFileSync(data, Buffer.alloc(8 * 512, 0x11));
    const cfg = writeTinyGuest(dir, 'withdisks', { console: 'hi\n', end: { shutdown: 0 } }, `disk = [ "file:root.img,xvda,w", "${data},raw,xvdb,r" ]\n`);
    // The export directory is created when missing, parents included.
    const out = join(dir, 'export', 'nested');
    const r = await bootGuest({ config: loadXlConfig(cfg), diskExportDir: out });
    expect(r.end).toBe('poweroff');
    const h = r.xenstore.host;
    const be = '/local/domain/0/backend/vbd/1/51712';
    expect(h.read(`${be}/state`)).toBe('2');
    expect(h.read(`${be}/params`)).toBe(root);
    expect(h.read(`${be}/mode`)).toBe('w');
    expect(h.read(`${be}/sectors`)).toBe('64');
    expect(h.read(`${be}/info`)).toBe('0');
    expect(h.read('/local/domain/1/device/vbd/51712/backend')).toBe(be);
    expect(h.read('/local/domain/1/device/vbd/51712/protocol')).toBe('x86_64-abi');
    expect(h.read('/local/domain/0/backend/vbd/1/51728/info')).toBe('4');
    expect(h.read('/local/domain/0/backend/vbd/1/51728/mode')).toBe('r');
    expect(readFileSync(root).equals(rootBytes)).toBe(true);
    expect(readFileSync(join(out, 'xvda.img')).equals(rootBytes)).toBe(true);
    expect(readFileSync(join(out, 'xvdb.img')).length).toBe(8 * 512);
  });

  it('a missing image is a user error naming the file', async () => {
    const cfg = writeTinyGuest(dir, 'nodisk', { end: { shutdown: 0 } }, `disk = [ "missing.img,,xvda" ]\n`);
    await expect(bootGuest({ config: loadXlConfig(cfg) })).rejects.toThrow(new UserError('file-not-found', `${join(dir, 'missing.img')}: no such disk image`));
  });
});
