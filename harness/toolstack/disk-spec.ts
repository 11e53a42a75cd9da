/**
 * xl.cfg `disk = [ 'DISKSPEC', ... ]` (xl-disk-configuration(5)): the DISKSPEC syntax as libxlu's
 * scanner reads it (tools/libs/util/libxlu_disk_l.l, libxlu_disk.c `xlu_disk_parse`), and the
 * virtual-device numbers of xen-vbd-interface(7) as libxl computes them
 * (libxl_device.c `libxl__device_disk_dev_number`).
 *
 * The scanner, rule for rule: at each position the longest match among the rules wins, the
 * earlier rule on a tie; `key=value` parameters (format, vdev, access, devtype, backendtype,
 * script, backend, specification, colo-*, grant_usage), flags (cdrom, discard, no-discard,
 * trusted, untrusted, direct-io-safe, colo), `target=` eating the rest of the spec, the
 * deprecated prefixes (`raw:`, `qcow2:`, `vhd:`, `file:`, `phy:`, `tap:`, `aio:`, ...; a prefix
 * only counts when the whole rest follows it) and positional parameters filling target,
 * format, vdev, access in turn (`vdev:cdrom` the deprecated form). Errors read as libxlu
 * prints them, without the config-file prefix: "unknown value for access: near `x'".
 */

/** What one disk spec says (libxl_device_disk's fields that xenlab uses or reports). */
export interface DiskSpec {
  /** The spec as written. */
  readonly spec: string;
  /** Image path (`pdev_path`); '' for an empty CD-ROM drive. */
  readonly target: string;
  readonly format: 'raw' | 'qcow' | 'qcow2' | 'vhd' | 'qed' | 'empty';
  readonly vdev: string;
  /** The virtual-device number written to XenStore (xvda: 51712). */
  readonly devid: number;
  readonly readwrite: boolean;
  readonly cdrom: boolean;
  readonly removable: boolean;
  readonly discard: boolean;
  readonly trusted: boolean;
  readonly directIoSafe: boolean;
  readonly backendtype: 'phy' | 'tap' | 'qdisk' | 'standalone' | undefined;
  readonly specification: 'xen' | 'virtio' | undefined;
  readonly script: string | undefined;
  /** Backend domain name, if not domain 0. */
  readonly backend: string | undefined;
}

/** libxl_device_disk while the scanner fills it. */
interface Draft {
  target: string | undefined;
  format: DiskSpec['format'] | undefined;
  vdev: string | undefined;
  readwrite: boolean;
  accessSet: boolean;
  cdrom: boolean;
  discard: boolean | undefined;
  trusted: boolean | undefined;
  directIoSafe: boolean;
  backendtype: DiskSpec['backendtype'];
  specification: DiskSpec['specification'];
  script: string | undefined;
  backend: string | undefined;
  hadDeprPrefix: boolean;
  error: string | undefined;
}

type Action = (d: Draft, text: string) => 'stop' | void;

/** One scanner rule: its pattern (sticky), how much of the match it consumes, its action. */
interface Rule {
  readonly re: RegExp;
  /** Length consumed from a match of length `len` (trailing context: `file:/.*` consumes "file:"). */
  readonly consume?: (m: string) => number;
  readonly act: Action;
}

const err = (d: Draft, near: string | undefined, message: string): void => {
  d.error ??= near === undefined ? message : `${message}: near \`${near}'`;
};

/** Drops one trailing delimiter (libxlu's STRIP). */
const strip = (s: string, c: string): string => (s.endsWith(c) ? s.slice(0, -1) : s);
const value = (s: string): string => strip(s, ',').slice(s.indexOf('=') + 1);

/** libxlu's savestring: a second non-empty value for the same field is an error. */
function save(d: Draft, what: string, key: 'target' | 'vdev' | 'script' | 'backend', v: string): void {
  const cur = d[key];
  if (cur !== undefined && cur !== '') return err(d, v, `${what} respecified`);
  d[key] = v;
}

function setAccess(d: Draft, s: string): void {
  if (s === 'r' || s === 'ro') d.readwrite = false;
  else if (s === 'rw' || s === 'w' || s === '') d.readwrite = true;
  else err(d, s, 'unknown value for access');
}

function setFormat(d: Draft, s: string): void {
  const f = s === '' ? 'raw' : s;
  if (f !== 'raw' && f !== 'qcow' && f !== 'qcow2' && f !== 'vhd' && f !== 'empty' && f !== 'qed') return err(d, s, 'unknown value for format');
  if (d.format !== undefined && d.format !== f) return err(d, s, 'format respecified');
  d.format = f;
}

function setBackendtype(d: Draft, s: string): void {
  if (s !== 'phy' && s !== 'tap' && s !== 'qdisk' && s !== 'standalone') return err(d, s, 'unknown value for backendtype');
  if (d.backendtype !== undefined && d.backendtype !== s) return err(d, s, 'backend respecified');
  d.backendtype = s;
}

function setSpecification(d: Draft, s: string): void {
  if (s !== 'xen' && s !== 'virtio') return err(d, s, 'unknown value for specification');
  if (d.specification !== undefined && d.specification !== s) return err(d, s, 'specification respecified');
  d.specification = s;
}

/** `vdev:devtype` (deprecated): true if `s` had the colon form. */
function vdevAndDevtype(d: Draft, s: string): boolean {
  const colon = s.lastIndexOf(':');
  if (colon < 0) return false;
  save(d, 'vdev', 'vdev', s.slice(0, colon));
  const t = s.slice(colon + 1);
  if (t === 'cdrom') d.cdrom = true;
  else if (t === 'disk') d.cdrom = false;
  else err(d, t, 'unknown deprecated type');
  return true;
}

const kv = (key: string, act: (d: Draft, v: string) => void): Rule => ({ re: new RegExp(`${key}=[^,]*,?`, 'y'), act: (d, t) => act(d, value(t)) });
const flag = (name: string, act: (d: Draft) => void): Rule => ({ re: new RegExp(`${name},?`, 'y'), act: (d) => act(d) });
/** flex's `PREFIX:/.*`: the `/` is trailing context, so the rest of the spec counts for the longest match but only "PREFIX:" is consumed. */
const prefix = (re: string, act: Action): Rule => ({ re: new RegExp(`(?:${re}):[^]*`, 'y'), consume: (m) => m.indexOf(':') + 1, act });

/** The rules in libxlu_disk_l.l's order (ties go to the earlier rule). */
const RULES: readonly Rule[] = [
  kv('format', setFormat),
  flag('cdrom', (d) => void (d.cdrom = true)),
  flag('devtype=cdrom', (d) => void (d.cdrom = true)),
  flag('devtype=disk', (d) => void (d.cdrom = false)),
  { re: /devtype=[^,]*,?/y, act: (d, t) => err(d, t, 'unknown value for type') },
  kv('access', setAccess),
  kv('backend', (d, v) => save(d, 'backend', 'backend', v)),
  kv('backendtype', setBackendtype),
  kv('specification', setSpecification),
  kv('vdev', (d, v) => save(d, 'vdev', 'vdev', v)),
  kv('script', (d, v) => save(d, 'script', 'script', v)),
  flag('direct-io-safe', (d) => void (d.directIoSafe = true)),
  flag('discard', (d) => void (d.discard = true)),
  flag('no-discard', (d) => void (d.discard = false)),
  flag('colo', () => undefined),
  flag('no-colo', () => undefined),
  kv('colo-host', () => undefined),
  kv('colo-port', (d, v) => {
    if (!(Number.parseInt(v, 10) > 0)) err(d, v, 'unknown value for colo_port');
  }),
  kv('colo-export', () => undefined),
  kv('active-disk', () => undefined),
  kv('hidden-disk', () => undefined),
  flag('trusted', (d) => void (d.trusted = true)),
  flag('untrusted', (d) => void (d.trusted = false)),
  flag('grant_usage=1', () => undefined),
  flag('grant_usage=0', () => undefined),
  { re: /target=[^]*/y, act: (d, t) => save(d, 'target', 'target', value(t)) },
  { re: /[a-z][-a-z0-9]*=[^,],?/y, act: (d, t) => err(d, t, 'unknown parameter') },
  prefix('raw|qcow2?|vhd', (d, t) => {
    d.hadDeprPrefix = true;
    setFormat(d, strip(t, ':'));
  }),
  prefix('iscsi|e?nbd|drbd', (d, t) => {
    d.hadDeprPrefix = true;
    save(d, 'script', 'script', `block-${strip(t, ':')}`);
  }),
  prefix('tapdisk|tap2?|aio|ioemu|file|phy', (d) => void (d.hadDeprPrefix = true)),
  {
    re: /[a-z][a-z0-9]*:(?:[^a-z0-9][^]*)?/y,
    consume: (m) => m.indexOf(':') + 1,
    act: (d, t) => {
      err(d, t, 'unknown deprecated disk prefix');
      return 'stop';
    },
  },
  {
    re: /[^=,]*,|[^=,]+,?/y,
    act: (d, t) => {
      const s = strip(t, ',');
      if (d.error !== undefined) return;
      if (d.target === undefined) d.target = s;
      else if (!d.hadDeprPrefix && d.format === undefined) {
        if (d.target === '' && vdevAndDevtype(d, s)) d.format = 'empty';
        else setFormat(d, s);
      } else if (d.vdev === undefined) {
        if (!vdevAndDevtype(d, s)) save(d, 'vdev', 'vdev', s);
      } else if (!d.accessSet) {
        d.accessSet = true;
        setAccess(d, s);
      } else {
        err(d, s, 'too many positional parameters');
        return 'stop';
      }
    },
  },
];

/** Parses one DISKSPEC; a string is libxlu's error message. */
export function parseDiskSpec(spec: string): DiskSpec | string {
  const d: Draft = {
    target: undefined,
    format: undefined,
    vdev: undefined,
    readwrite: true,
    accessSet: false,
    cdrom: false,
    discard: undefined,
    trusted: undefined,
    directIoSafe: false,
    backendtype: undefined,
    specification: undefined,
    script: undefined,
    backend: undefined,
    hadDeprPrefix: false,
    error: undefined,
  };
  let i = 0;
  while (i < spec.length) {
    // Whitespace is skipped (its rule's trailing context makes it the longest match).
    const ws = /[ \t\n]+/y;
    ws.lastIndex = i;
    if (ws.test(spec)) {
      i = ws.lastIndex;
      continue;
    }
    let best: { rule: Rule; m: string } | undefined;
    for (const rule of RULES) {
      rule.re.lastIndex = i;
      const m = rule.re.exec(spec);
      if (m !== null && m[0].length > 0 && (best === undefined || m[0].length > best.m.length)) best = { rule, m: m[0] };
    }
    if (best === undefined) {
      err(d, spec.slice(i), 'bad disk syntax');
      break;
    }
    const n = best.rule.consume?.(best.m) ?? best.m.length;
    const text = best.m.slice(0, n);
    i += n;
    if (best.rule.act(d, text) === 'stop') break;
  }
  if (d.error !== undefined) return d.error;
  let format = d.format ?? 'raw';
  let readwrite = d.readwrite;
  if (d.cdrom) {
    readwrite = false;
    if (d.target === undefined || d.target === '') format = 'empty';
  }
  if (d.vdev === undefined) {
    // target= swallows the rest of the spec: a common slip is to put it first.
    return /(^|[ ,])target=.*,\s*vdev=/.test(spec) ? 'no vdev specified (target= takes the rest of the spec, commas included: put it last)' : 'no vdev specified';
  }
  if (d.target === undefined && !d.cdrom) return 'no target specified (and device not removable)';
  const devid = vdevNumber(d.vdev);
  if (devid === undefined) return `invalid or unsupported virtual disk identifier ${d.vdev}`;
  return {
    spec,
    target: d.target ?? '',
    format,
    vdev: d.vdev,
    devid,
    readwrite,
    cdrom: d.cdrom,
    removable: d.cdrom,
    discard: d.discard ?? true,
    trusted: d.trusted ?? true,
    directIoSafe: d.directIoSafe,
    backendtype: d.backendtype,
    specification: d.specification,
    script: d.script,
    backend: d.backend,
  };
}

/**
 * `prefix` + drive letters (base 26 with a–z, "aa" after "z") + optional partition without a
 * leading zero; undefined when `vdev` does not have that shape or the numbers are too large.
 */
function letters(vdev: string, prefix: string, maxDisk: number, maxPart: number): { disk: number; part: number } | undefined {
  if (!vdev.startsWith(prefix)) return undefined;
  let disk = -1;
  let i = prefix.length;
  for (; i < vdev.length; i++) {
    const c = vdev.charCodeAt(i);
    if (c < 97 || c > 122) break;
    disk = (disk + 1) * 26 + (c - 97);
    if (disk > maxDisk) return undefined;
  }
  if (disk < 0) return undefined;
  const rest = vdev.slice(i);
  if (rest === '') return { disk, part: 0 };
  if (!/^[1-9]\d*$/.test(rest)) return undefined;
  const part = Number(rest);
  return part > maxPart ? undefined : { disk, part };
}

/**
 * The virtual-device number of `vdev` (xen-vbd-interface(7)): xvd (202<<8 | disk<<4 | part, or
 * 1<<28 | disk<<8 | part beyond disk 15 or partition 15), `dNpM`, a plain number, hd (3<<8 or
 * 22<<8), sd (8<<8). Undefined for anything else.
 */
export function vdevNumber(vdev: string): number | undefined {
  const dp = /^d(\d+)p(\d+)$/.exec(vdev);
  const xvd = dp !== null ? { disk: Number(dp[1]), part: Number(dp[2]) } : letters(vdev, 'xvd', (1 << 20) - 1, 255);
  if (xvd !== undefined && xvd.disk < 1 << 20 && xvd.part < 256) {
    return xvd.disk <= 15 && xvd.part <= 15 ? (202 << 8) | (xvd.disk << 4) | xvd.part : ((1 << 28) | (xvd.disk << 8) | xvd.part) >>> 0;
  }
  // A number as strtoul(.., 0) reads it: hex, octal or decimal.
  if (/^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)$/.test(vdev)) {
    const n = vdev.startsWith('0x') || vdev.startsWith('0X') ? Number.parseInt(vdev.slice(2), 16) : vdev.startsWith('0') ? Number.parseInt(vdev, 8) || 0 : Number(vdev);
    return n <= 0x7fffffff ? n : undefined;
  }
  const hd = letters(vdev, 'hd', 3, 63);
  if (hd !== undefined) return ((hd.disk < 2 ? 3 : 22) << 8) | ((hd.disk & 1) << 6) | hd.part;
  const sd = letters(vdev, 'sd', 15, 15);
  if (sd !== undefined) return (8 << 8) | (sd.disk << 4) | sd.part;
  return undefined;
}

/**
 * The spec in key=value form, target last (so it may hold commas): what `printXlConfig` writes,
 * and a fixed point of `parseDiskSpec`.
 */
export function canonicalDiskSpec(d: DiskSpec): string {
  const parts = [`format=${d.format}`, `vdev=${d.vdev}`, `access=${d.readwrite ? 'rw' : 'ro'}`];
  if (d.cdrom) parts.push('devtype=cdrom');
  if (!d.discard) parts.push('no-discard');
  if (!d.trusted) parts.push('untrusted');
  if (d.directIoSafe) parts.push('direct-io-safe');
  if (d.backendtype !== undefined) parts.push(`backendtype=${d.backendtype}`);
  if (d.specification !== undefined) parts.push(`specification=${d.specification}`);
  if (d.script !== undefined) parts.push(`script=${d.script}`);
  if (d.backend !== undefined) parts.push(`backend=${d.backend}`);
  parts.push(`target=${d.target}`);
  return parts.join(', ');
}
