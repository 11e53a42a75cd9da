/** `xenlab fixtures ...`: fetch, list and build guest fixtures (see fixtures/README.md). */
import type { FetchOptions } from '../../../fixtures/pipeline/cache.js';
import type { FixtureName } from '../../../fixtures/pipeline/catalogue.js';
import { defineCommand, defineGroup, type CliIo, type OptionTable } from '../command.js';

const cacheDir = {
  type: 'string',
  describe: 'Fixture cache directory (default: $XENLAB_FIXTURES_CACHE or fixtures/cache/)',
} as const;

function progress(io: CliIo): (line: string) => void {
  return io.interactive ? (line) => io.stderr.write(`xenlab: ${line}\n`) : () => {};
}

type FetchCli = Pick<FetchOptions, 'cacheDir' | 'includeTools'> & { only?: FixtureName[] };

const fetch = defineCommand<FetchCli>({
  name: 'fetch',
  describe: "Download and unpack the guest fixtures from Debian's archive (idempotent)",
  options: {
    cacheDir,
    only: {
      type: 'array',
      describe: 'Only these fixtures',
      choices: ['kernel', 'grub-xen', 'busybox', 'xen-headers', 'e2fsprogs', 'cpio'] satisfies FixtureName[],
    },
    includeTools: { type: 'boolean', describe: 'Also cache cpio and e2fsprogs even when installed' },
  } satisfies OptionTable<FetchCli>,
  async run(opts, io) {
    const { fetchFixtures } = await import('../../../fixtures/pipeline/cache.js');
    const report = await fetchFixtures({ ...opts, log: progress(io) });
    const rows = report.packages.map((p) => [p.fixture, p.package, p.version, p.action + (p.reason ? ` (${p.reason})` : '')]);
    io.stdout.write(table(rows));
    const count = (a: string): number => report.packages.filter((p) => p.action === a).length;
    io.stdout.write(`${count('downloaded')} downloaded, ${count('repaired')} repaired, ${count('cached')} cached\n`);
    // The disk of the sample GRUB config (fixtures/configs/grub.cfg), built from GRUB's fixture.
    if (report.packages.some((p) => p.fixture === 'grub-xen')) {
      const { buildGrubDisk, grubDiskPath } = await import('../../../fixtures/pipeline/grub-disk.js');
      const r = await buildGrubDisk({ out: grubDiskPath(opts), ...(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {}) });
      io.stdout.write(`GRUB disk: ${r.out} (ext4, ${r.sizeMiB} MiB)\n`);
    }
    // The Linux guest of the sample config (fixtures/configs/linux-pv.cfg), from the kernel and busybox.
    if (report.packages.some((p) => p.fixture === 'kernel') && report.packages.some((p) => p.fixture === 'busybox')) {
      const { buildLinuxGuest } = await import('../../../fixtures/pipeline/linux-guest.js');
      const m = await buildLinuxGuest(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {});
      io.stdout.write(`Linux guest: ${m.kernel}, ${m.initrd}, ${m.shellInitrd}, ${m.disk} (${m.built ? 'built' : 'cached'})\n`);
    }
  },
});

interface ListCli {
  cacheDir?: string;
  json?: boolean;
}

const list = defineCommand<ListCli>({
  name: 'list',
  describe: 'Show the cached fixtures with their Debian package versions',
  options: { cacheDir, json: { type: 'boolean', describe: 'Print JSON' } } satisfies OptionTable<ListCli>,
  async run(opts, io) {
    const { listFixtures } = await import('../../../fixtures/pipeline/cache.js');
    const items = listFixtures(opts);
    if (opts.json === true) {
      io.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      return;
    }
    if (items.length === 0) {
      io.stdout.write("no fixtures cached; run 'npm run fixtures'\n");
      return;
    }
    io.stdout.write(
      table([
        ['FIXTURE', 'PACKAGE', 'VERSION', 'FILES', 'SIZE'],
        ...items.map((i) => [i.fixture, i.package, i.version, String(i.files), `${(i.bytes / 2 ** 20).toFixed(1)} MiB`]),
      ]),
    );
  },
});

interface InitramfsCli {
  init: string;
  out: string;
  module?: string[];
  add?: string[];
  cacheDir?: string;
}

const initramfs = defineCommand<InitramfsCli>({
  name: 'initramfs',
  describe: 'Build an initramfs (cpio newc, gzip): busybox, kernel modules and your /init',
  options: {
    init: { type: 'string', describe: 'File to install as /init', required: true },
    out: { type: 'string', describe: 'Output .cpio.gz', required: true },
    module: { type: 'array', describe: 'Kernel module to include with its dependencies (repeatable)' },
    add: { type: 'array', describe: 'Extra file HOST:/GUEST/PATH[:MODE] (repeatable)' },
    cacheDir,
  } satisfies OptionTable<InitramfsCli>,
  async run(opts, io) {
    const { readFile } = await import('node:fs/promises');
    const { UserError } = await import('../../errors.js');
    const { buildInitramfs } = await import('../../../fixtures/pipeline/initramfs.js');
    const init = await readFile(opts.init).catch(() => {
      throw new UserError('file-not-found', `${opts.init}: cannot read the /init file`);
    });
    const files = (opts.add ?? []).map((spec) => {
      const [source, path, mode] = spec.split(':');
      if (source === undefined || path === undefined || source === '' || !path.startsWith('/') || (mode !== undefined && !/^[0-7]{3,4}$/.test(mode))) {
        throw new UserError('bad-option', `--add ${spec}: expected HOST:/GUEST/PATH or HOST:/GUEST/PATH:MODE (octal)`);
      }
      return { source, path, ...(mode !== undefined ? { mode: Number.parseInt(mode, 8) } : {}) };
    });
    const r = await buildInitramfs({ init, out: opts.out, modules: opts.module ?? [], files, cacheDir: opts.cacheDir, log: progress(io) });
    io.stdout.write(`${r.out}: ${r.entries.length} entries, ${r.bytes} bytes, sha256 ${r.sha256}\n`);
    if (r.modules.length > 0) io.stdout.write(`modules (${r.kernelRelease}): ${r.modules.map((m) => m.name).join(' ')}\n`);
  },
});

interface DiskCli {
  from: string;
  out: string;
  sizeMib?: number;
  label?: string;
  cacheDir?: string;
}

const disk = defineCommand<DiskCli>({
  name: 'disk',
  describe: 'Build an ext4 disk image from a directory (mke2fs -d; no root needed)',
  options: {
    from: { type: 'string', describe: 'Directory to copy into the image', required: true },
    out: { type: 'string', describe: 'Output image file', required: true },
    sizeMib: { type: 'number', describe: 'Image size in MiB (default: fits the directory)' },
    label: { type: 'string', describe: 'File-system label' },
    cacheDir,
  } satisfies OptionTable<DiskCli>,
  async run(opts, io) {
    const { buildDiskImage } = await import('../../../fixtures/pipeline/disk-image.js');
    const r = await buildDiskImage({
      from: opts.from,
      out: opts.out,
      ...(opts.sizeMib !== undefined ? { sizeMiB: opts.sizeMib } : {}),
      ...(opts.label !== undefined ? { label: opts.label } : {}),
      ...(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {}),
    });
    io.stdout.write(`${r.out}: ext4, ${r.sizeMiB} MiB\n`);
  },
});

function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n') + (rows.length > 0 ? '\n' : '');
}

export default defineGroup({
  name: 'fixtures',
  describe: 'Guest fixtures: Debian kernel, GRUB, busybox, Xen headers; initramfs and disk images',
  subcommands: [fetch, list, initramfs, disk],
});
