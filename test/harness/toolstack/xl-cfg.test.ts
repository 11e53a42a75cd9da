/**
 * The xl.cfg parser (harness/toolstack/xl-cfg.ts): libxlu's syntax (quotes, escapes, numbers in
 * three bases, lists over several lines with comments and trailing commas, `;`, `+=`, later
 * wins), xl's interpretation (root + extra → cmdline, defaults, actions), warnings once per key
 * with file:line, and every refusal as one `file:line: problem` line.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../harness/errors.js';
import { loadXlConfig, parseXlConfig, strtol0, type DomainConfig } from '../../../harness/toolstack/xl-cfg.js';
import { scratchDir } from '../../support/tmp.js';

const FILE = '/guests/web/web.cfg';
const BASE = 'name = "web"\nkernel = "/boot/vmlinuz"\n';

const parse = (text: string, file = FILE) => parseXlConfig(text, file);
const cfg = (extra: string): DomainConfig => parse(BASE + extra).config;

/** The UserError a config raises: its code and message. */
function refusal(text: string, file = FILE): { code: string; message: string } {
  try {
    parseXlConfig(text, file);
  } catch (e) {
    if (e instanceof UserError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('the config was accepted');
}

describe('xl.cfg syntax', () => {
  it('reads a config as xl writes them: comments, both quotes, numbers, lists over lines, trailing commas, ;', () => {
    const { config, warnings } = parse(
      [
        '# a web server',
        "name = 'web'   # trailing comment",
        'type = "pv"',
        'kernel = "vmlinuz"; ramdisk = "../initrd.gz"',
        'memory = 0x100',
        'maxmem = 0400',
        'vcpus = 2',
        'maxvcpus = "4"',
        'root = "/dev/xvda1 ro"',
        'extra = "console=hvc0 quiet"',
        'on_reboot = "destroy"',
        "uuid = 'C0FFEE00-1234-5678-9ABC-DEF012345678'",
        'disk = [ "phy:/dev/vg/web,xvda,w",',
        '         # the data disk',
        "         'file:/srv/data.img,xvdb,w',",
        '       ]',
        'vif = [ ]',
        '',
      ].join('\n'),
    );
    expect(config).toMatchObject({
      file: FILE,
      name: 'web',
      type: 'pv',
      kernel: '/guests/web/vmlinuz',
      ramdisk: '/guests/initrd.gz',
      cmdline: 'root=/dev/xvda1 ro console=hvc0 quiet',
      memory: 256,
      maxmem: 256,
      vcpus: 2,
      maxvcpus: 4,
      onPoweroff: 'destroy',
      onReboot: 'destroy',
      onCrash: 'destroy',
      onWatchdog: 'destroy',
      onSoftReset: 'soft-reset',
      uuid: 'c0ffee00-1234-5678-9abc-def012345678',
      disk: ['phy:/dev/vg/web,xvda,w', 'file:/srv/data.img,xvdb,w'],
      vif: [],
    });
    expect(config.disks.map((d) => [d.target, d.vdev, d.devid, d.readwrite])).toEqual([
      ['/dev/vg/web', 'xvda', 51712, true],
      ['/srv/data.img', 'xvdb', 51728, true],
    ]);
    expect(warnings).toEqual([]);
  });

  it("fills in libxl's defaults", () => {
    const { config, warnings } = parse(BASE);
    expect(config).toMatchObject({
      type: 'pv', ramdisk: undefined, cmdline: '', memory: 32, maxmem: 32, vcpus: 1, maxvcpus: 1,
      onPoweroff: 'destroy', onReboot: 'restart', onWatchdog: 'destroy', onCrash: 'destroy', onSoftReset: 'soft-reset',
      uuid: undefined, disk: [], vif: [], other: [],
    });
    expect(warnings).toEqual([]);
  });

  it('decodes the escapes libxlu decodes', () => {
    expect(cfg('cmdline = "a\\"b\\\\c\\n\\t\\r\\a\\b\\f\\v\'"').cmdline).toBe('a"b\\c\n\t\r\x07\b\f\v\'');
    expect(cfg("cmdline = 'it\\'s \"quoted\"'").cmdline).toBe('it\'s "quoted"');
  });

  it('takes the later of two settings, and += appends to a string or a list', () => {
    expect(cfg('memory = 64\nmemory = 128\n').memory).toBe(128);
    expect(cfg('cmdline = "console=hvc0"\ncmdline += " quiet"\n').cmdline).toBe('console=hvc0 quiet');
    expect(cfg('disk = [ "/a,,xvda" ]\ndisk += [ "/b,,xvdb", "/c,,xvdc" ]\n').disk).toEqual(['/a,,xvda', '/b,,xvdb', '/c,,xvdc']);
    expect(cfg('cmdline += "alone"\n').cmdline).toBe('alone');
  });

  it('accepts a last setting without a newline and a comment without one', () => {
    expect(parse('name = "x"\nkernel = "/k"').config.kernel).toBe('/k');
    expect(parse('name = "x"\nkernel = "/k"\n# end').config.name).toBe('x');
  });

  it('reads numbers as strtol(s, 0) does', () => {
    expect(strtol0('42')).toBe(42n);
    expect(strtol0('0x2A')).toBe(42n);
    expect(strtol0('052')).toBe(42n);
    expect(strtol0('0')).toBe(0n);
    expect(strtol0(' -7')).toBe(-7n);
    expect(strtol0('+7')).toBe(7n);
    for (const bad of ['', '08', '0x', '1e3', '12M', '4 ', 'x1']) expect(strtol0(bad)).toBeUndefined();
    expect(cfg('memory = "0x40"\n').memory).toBe(64);
  });
});

describe('xl.cfg interpretation', () => {
  it('combines root and extra into the command line as xl does, and prefers cmdline', () => {
    expect(cfg('root = "/dev/xvda"\n').cmdline).toBe('root=/dev/xvda');
    expect(cfg('extra = "quiet"\n').cmdline).toBe('quiet');
    const both = parse(`${BASE}root = "/dev/xvda"\nextra = "quiet"\ncmdline = "console=hvc0"\n`);
    expect(both.config.cmdline).toBe('console=hvc0');
    expect(both.warnings).toEqual([`${FILE}:5: warning: ignoring root= and extra= in favour of cmdline= (as xl does)`]);
  });

  it('parses disk= entries (positional and key=value), resolving relative targets against the config file', () => {
    const c = parse(`${BASE}disk = [ "file:img/root.img,xvda,w", "format=raw, vdev=xvdb, access=ro, target=/data/b,c.img" ]\n`, 'rel/dir/x.cfg').config;
    expect(c.disks.map((d) => [d.target, d.vdev, d.devid, d.readwrite])).toEqual([
      [resolve('rel/dir/img/root.img'), 'xvda', 51712, true],
      ['/data/b,c.img', 'xvdb', 51728, false],
    ]);
  });

  it('refuses disks xenlab cannot serve, naming file, line and entry', () => {
    const cases: [string, string][] = [
      ['"/a,,xvda,rx"', `disk entry 0 ("/a,,xvda,rx"): unknown value for access: near \`rx'`],
      ['"/a,,xvda", "/b,qcow2,xvdb"', 'disk entry 1 ("/b,qcow2,xvdb"): format qcow2 is not supported (xenlab serves raw images)'],
      ['"/a,,xvda", "/b,,d0p0"', 'disk entry 1 ("/b,,d0p0"): vdev d0p0 is the same device as xvda (51712)'],
      ['",hdc:cdrom,r"', 'disk entry 0 (",hdc:cdrom,r"): an empty CD-ROM drive is not supported'],
      ['"/a,,xvda,backend=driver"', 'disk entry 0 ("/a,,xvda,backend=driver"): backend=driver: xenlab\'s backends run as domain 0 only'],
    ];
    for (const [list, why] of cases) expect(() => parse(`${BASE}disk = [ ${list} ]\n`)).toThrow(`${FILE}:3: ${why}`);
  });

  it('parses vif specs (mac, bridge, ip; deterministic default MACs) and refuses bad ones with file:line', () => {
    const c = parse(`${BASE}vif = [ "mac=00:16:3E:74:3d:76,bridge=xenbr1,ip=10.0.0.5", "" ]\n`).config;
    expect(c.vifs.map((v) => [v.devid, v.mac, v.bridge, v.ip])).toEqual([
      [0, '00:16:3e:74:3d:76', 'xenbr1', '10.0.0.5'],
      [1, c.vifs[1]!.mac, 'xenbr0', undefined],
    ]);
    expect(c.vifs[1]!.mac).toMatch(/^00:16:3e:/);
    expect(parse(`${BASE}vif = [ "" ]\n`).config.vifs[0]!.mac).toBe(parse(`${BASE}vif = [ "" ]\n`).config.vifs[0]!.mac);
    const cases: [string, string][] = [
      ['"colour=red"', 'vif entry 0 ("colour=red"): unrecognized argument `colour=red\''],
      ['"", "mac=zz"', 'vif entry 1 ("mac=zz"): invalid mac "zz" (six hex octets separated by \':\')'],
      ['"devid=2", "devid=2"', 'vif entry 1 ("devid=2"): devid 2 is already used by vif entry 0'],
      ['"mac=00:16:3e:00:00:01", "mac=00:16:3e:00:00:01"', 'vif entry 1 ("mac=00:16:3e:00:00:01"): mac 00:16:3e:00:00:01 is already used by vif entry 0'],
    ];
    for (const [list, why] of cases) expect(() => parse(`${BASE}vif = [ ${list} ]\n`)).toThrow(`${FILE}:3: ${why}`);
  });

  it('resolves relative kernel and ramdisk paths against the config file, absolute ones as given', () => {
    const c = parse('name = "x"\nkernel = "k/vmlinuz"\nramdisk = "/abs/initrd"\n', 'rel/dir/x.cfg').config;
    expect(c.kernel).toBe(resolve('rel/dir/k/vmlinuz'));
    expect(c.ramdisk).toBe('/abs/initrd');
  });

  it('warns once per unknown key and per known key it does not use, with file:line, and keeps the known ones', () => {
    const { config, warnings } = parse(`${BASE}colour = "blue"\ncolour = "red"\ncpus = "0-3"\nvfb = [ "vnc=1" ]\nvif = [ "bridge=xenbr0" ]\n`);
    expect(warnings).toEqual([
      `${FILE}:4: warning: unknown key 'colour' (not an xl.cfg key; ignored)`,
      `${FILE}:5: warning: cpus is not supported yet (ignored)`,
      `${FILE}:6: warning: vfb is not supported yet (ignored)`,
    ]);
    expect(config.other).toEqual([
      { key: 'cpus', value: '0-3' },
      { key: 'vfb', value: ['vnc=1'] },
    ]);
    expect(config.vif).toEqual(['bridge=xenbr0']);
  });

  it('accepts every xl action, and says which ones it does differently', () => {
    const { config, warnings } = parse(`${BASE}on_poweroff = "preserve"\non_reboot = "rename-restart"\non_crash = "coredump-restart"\non_watchdog = "coredump-destroy"\non_soft_reset = "soft-reset"\n`);
    expect(config).toMatchObject({ onPoweroff: 'preserve', onReboot: 'rename-restart', onCrash: 'coredump-restart', onWatchdog: 'coredump-destroy', onSoftReset: 'soft-reset' });
    expect(warnings).toEqual([
      `${FILE}:3: warning: on_poweroff = "preserve" is not supported; xenlab does "destroy"`,
      `${FILE}:4: warning: on_reboot = "rename-restart" is not supported; xenlab does "restart"`,
      `${FILE}:6: warning: on_watchdog = "coredump-destroy" is not supported; xenlab does "destroy"`,
      `${FILE}:5: warning: on_crash = "coredump-restart" is not supported; xenlab does "restart"`,
    ]);
    expect(parse(`${BASE}on_crash = "soft-reset"\n`).warnings).toEqual([`${FILE}:3: warning: on_crash = "soft-reset" is not supported; xenlab does "destroy"`]);
  });

  it('takes vcpus below 1 as 1, as xl does, with a warning; builder = "generic" as type pv', () => {
    const z = parse(`${BASE}vcpus = 0\n`);
    expect(z.config.vcpus).toBe(1);
    expect(z.warnings).toEqual([`${FILE}:3: warning: vcpus = 0 taken as 1 (as xl does)`]);
    const b = parse(`${BASE}builder = "generic"\n`);
    expect(b.config.type).toBe('pv');
    expect(b.warnings).toEqual([`${FILE}:3: warning: builder is deprecated since Xen 4.10; write type = "pv"`]);
  });
});

describe('xl.cfg refusals: one line naming file:line', () => {
  const cases: [string, string, string][] = [
    ['unterminated string', 'name = "web\n', `${FILE}:1: unterminated string (the double quote opened here is not closed on this line)`],
    ['string ending in a backslash', "name = 'web\\\n", `${FILE}:1: unterminated string (a backslash ends the line)`],
    ['bad number', `${BASE}memory = "12x"\n`, `${FILE}:3: memory = "12x" is not a number (decimal, 0x hex or 0-prefixed octal)`],
    ['a number with a unit', `${BASE}memory = 1e3\n`, `${FILE}:3: memory = "1e3" is not a number (decimal, 0x hex or 0-prefixed octal)`],
    ['octal out of its digits', `${BASE}memory = 0128\n`, `${FILE}:3: memory = "0128" is not a number (decimal, 0x hex or 0-prefixed octal)`],
    ['memory 0', `${BASE}memory = 0\n`, `${FILE}:3: memory = 0 MiB: must be between 1 and 16384 MiB`],
    ['memory too large', `${BASE}memory = 20000\n`, `${FILE}:3: memory = 20000 MiB: must be between 1 and 16384 MiB`],
    ['negative memory', `${BASE}memory = "-4"\n`, `${FILE}:3: memory = -4 MiB: must be between 1 and 16384 MiB`],
    ['maxmem below memory', `${BASE}memory = 256\nmaxmem = 128\n`, `${FILE}:4: maxmem = 128 MiB is less than memory = 256 MiB`],
    ['vcpus > 128', `${BASE}vcpus = 129\n`, `${FILE}:3: vcpus = 129: must be between -2147483648 and 128`],
    ['maxvcpus > 128', `${BASE}maxvcpus = 200\n`, `${FILE}:3: maxvcpus = 200: must be between 1 and 128`],
    ['maxvcpus below vcpus', `${BASE}vcpus = 4\nmaxvcpus = 2\n`, `${FILE}:4: maxvcpus = 2 is less than vcpus = 4`],
    ['a list for a number', `${BASE}memory = [ 128 ]\n`, `${FILE}:3: memory is a list but should be a number`],
    ['a list for a string', `name = [ "web" ]\nkernel = "/k"\n`, `${FILE}:1: name is a list but should be a single value`],
    ['a string for a list', `${BASE}disk = "phy:/dev/sda,xvda,w"\n`, `${FILE}:3: disk is a single value but should be a list ([ '...', ... ])`],
    ['a nested list in disk', `${BASE}disk = [ [ "a" ] ]\n`, `${FILE}:3: disk: entry 0 is a list but should be a string`],
    ['+= with a number', `${BASE}memory += 64\n`, `${FILE}:3: memory: += cannot be used with numbers`],
    ['+= of a list to a string', `${BASE}cmdline = "a"\ncmdline += [ "b" ]\n`, `${FILE}:4: cmdline += [list]: cannot add a list to a string`],
    ['type hvm', `${BASE}type = "hvm"\n`, `${FILE}:3: type = "hvm": xenlab runs PV guests only (type = "pv")`],
    ['type pvh', `${BASE}type = "pvh"\n`, `${FILE}:3: type = "pvh": xenlab runs PV guests only (type = "pv")`],
    ['an unknown type', `${BASE}type = "pv64"\n`, `${FILE}:3: type = "pv64": not a domain type (pv, pvh or hvm; xenlab runs pv)`],
    ['builder hvm', `${BASE}builder = "hvm"\n`, `${FILE}:3: builder = "hvm": xenlab runs PV guests only (type = "pv")`],
    ['no name', 'kernel = "/k"\n', `${FILE}: name is not set (xl needs a domain name: name = "...")`],
    ['an empty name', 'name = ""\nkernel = "/k"\n', `${FILE}:1: name is empty`],
    ['no kernel', 'name = "web"\n', `${FILE}: kernel is not set (a PV guest needs kernel = "PATH")`],
    ['an empty kernel', 'name = "web"\nkernel = ""\n', `${FILE}:2: kernel is empty`],
    ['a bootloader instead of a kernel', 'name = "web"\nbootloader = "pygrub"\n', `${FILE}:2: bootloader is not supported: give the kernel (and ramdisk) directly with kernel = "..."`],
    ['an unknown action', `${BASE}on_crash = "explode"\n`, `${FILE}:3: on_crash = "explode": not an action (destroy, restart, rename-restart, preserve, coredump-destroy, coredump-restart, soft-reset)`],
    ['a bad uuid', `${BASE}uuid = "1234"\n`, `${FILE}:3: uuid = "1234" is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`],
    ['a command line too long', `${BASE}extra = "${'x'.repeat(1024)}"\n`, `${FILE}:3: the kernel command line is 1024 bytes; start_info holds at most 1023`],
    ['an upper-case key', `${BASE}Memory = 128\n`, `${FILE}:3: 'Memory': keys are lower case in xl.cfg`],
    ['Python', `${BASE}memory = 64 * 2\n`, `${FILE}:3: unexpected '*'`],
    ['a Python-looking value', `${BASE}kernel = /boot/vmlinuz\n`, `${FILE}:3: unexpected '/boot/vmlinuz'`],
    ['a Python call', `${BASE}memory = int(64)\n`, `${FILE}:3: unexpected '(64)': values are quoted strings, numbers or [lists] (xl.cfg is not Python; quote paths and words)`],
    ['a DOS line ending', 'name = "web"\r\nkernel = "/k"\r\n', `${FILE}:1: carriage return (a DOS line ending?): xl.cfg files have Unix line endings, and xl refuses this too`],
    ['an unquoted word', `${BASE}type = pv\n`, `${FILE}:3: type = pv: an unquoted word; strings need quotes (type = "pv")`],
    ['no value', `${BASE}memory =\n`, `${FILE}:3: memory has no value`],
    ['no =', `${BASE}memory 128\n`, `${FILE}:3: number 128 after memory: expected '=' or '+='`],
    ['two settings on a line', `${BASE}memory = 128 vcpus = 2\n`, `${FILE}:3: 'vcpus' after the value of memory: one setting per line, or separate them with ';'`],
    ['a quoted key', `${BASE}"memory" = 128\n`, `${FILE}:3: string "memory" where a key should be (keys are not quoted)`],
    ['a list without commas', `${BASE}disk = [ "a" "b" ]\n`, `${FILE}:3: string "b" in the list of disk: expected ',' or ']'`],
    ['an unclosed list', `${BASE}disk = [ "a",\n`, `${FILE}:4: the list of disk opened on line 3 is not closed`],
    ['an unknown escape', `${BASE}cmdline = "a\\qb"\n`, `${FILE}:3: invalid escape '\\q' in a string (valid: \\\\ \\' \\" \\a \\b \\f \\n \\r \\t \\v)`],
    ['a hex escape', `${BASE}cmdline = "\\x41"\n`, `${FILE}:3: numeric escape '\\x' in a string: xl cannot decode these (write the character itself)`],
    ['an octal escape', `${BASE}cmdline = "\\101"\n`, `${FILE}:3: numeric escape '\\1' in a string: xl cannot decode these (write the character itself)`],
    ['a NUL byte', `${BASE}cmdline = "a\0b"\n`, `${FILE}:3: NUL byte inside a string`],
  ];
  for (const [what, text, message] of cases) {
    it(`refuses ${what}`, () => {
      expect(refusal(text)).toEqual({ code: 'bad-file', message });
    });
  }
});

describe('loadXlConfig', () => {
  const dir = scratchDir('xlcfg');

  it('reads a file, names it when it cannot, and applies --set overrides after it', () => {
    const path = join(dir, 'g.cfg');
    writeFileSync(path, 'name = "g"\nkernel = "vmlinuz"\nmemory = 64\n');
    expect(loadXlConfig(path)).toMatchObject({ file: path, name: 'g', kernel: join(dir, 'vmlinuz'), memory: 64 });
    const o = loadXlConfig(path, ['memory=0x80', 'name=web-1', 'extra="console=hvc0"', 'cmdline=root=/dev/xvda ro', 'disk=[ "a.img,,xvda", "/b,,xvdb,r" ]', 'kernel=other/k']);
    expect(o).toMatchObject({ name: 'web-1', memory: 128, cmdline: 'root=/dev/xvda ro', disk: ['a.img,,xvda', '/b,,xvdb,r'], kernel: resolve('other/k') });
    expect(o.disks.map((d) => d.target)).toEqual([resolve('a.img'), '/b']);
    expect(() => loadXlConfig(join(dir, 'missing.cfg'))).toThrow(new UserError('file-not-found', `${join(dir, 'missing.cfg')}: cannot read the domain config`));
  });

  it('names the --set that is wrong', () => {
    const path = join(dir, 'h.cfg');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, 'name = "h"\nkernel = "/k"\n');
    const err = (o: string) => {
      try {
        loadXlConfig(path, [o]);
      } catch (e) {
        return e instanceof UserError ? `${e.code}: ${e.message}` : String(e);
      }
      return 'accepted';
    };
    expect(err('memory=lots')).toBe('bad-file: --set memory=lots: memory = "lots" is not a number (decimal, 0x hex or 0-prefixed octal)');
    expect(err('memory')).toBe('bad-option: --set memory: expected KEY=VALUE with a lower-case xl.cfg key');
    expect(err('Memory=4')).toBe('bad-option: --set Memory=4: expected KEY=VALUE with a lower-case xl.cfg key');
    expect(err('type=hvm')).toBe('bad-file: --set type=hvm: type = "hvm": xenlab runs PV guests only (type = "pv")');
  });
});
