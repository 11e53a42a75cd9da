/**
 * xl.cfg(5), the domain configuration file of Xen's `xl create`, parsed with xl's own lexical and
 * grammatical rules (tools/libs/util/libxlu_cfg_l.l and libxlu_cfg_y.y) and interpreted for the
 * subset xenlab boots (docs/boot.md lists every key).
 *
 * Syntax, as libxlu has it:
 *  - `key = value` or `key += value`, ended by a newline or `;`; the last one may lack either.
 *    Keys are `[a-z][._0-9a-z]*` (lower case only).
 *  - Values are strings in single or double quotes (no raw newline; escapes \\ \' \" \a \b \f
 *    \n \r \t \v), numbers (`[0-9][0-9a-fx]*`, read later with strtol base 0: `0x` hex, a
 *    leading `0` octal), or lists `[ v, v, ]` that may be nested, span lines and end with a comma.
 *    A number and a quoted string are the same to xl: `memory = "128"` is valid.
 *  - `#` starts a comment that runs to the end of the line.
 *  - A key given twice: the later one wins. `+=` appends to the earlier string or list.
 *
 * Where we differ from libxlu, on purpose:
 *  - The first error ends the parse (libxlu reports every error, then fails): one line,
 *    `file:line: problem`, as a UserError.
 *  - `\x..` and octal escapes are refused with a clear message: libxlu's decoder for them is
 *    broken (`\x` always fails, octal digits are read in base 10 and the character is dropped).
 *  - A comment on the last line without a newline is accepted (libxlu's lexer wants the newline).
 *  - Values xl only warns about and then ignores (a list where a number is due, a number that
 *    does not parse) are refused: a boot from a config that does not say what it seems to is
 *    worse than no boot.
 *  - `type` must be spelt out (`"pv"`); xl also takes any prefix of "pv"/"hvm"/"pvh".
 *  - Relative `kernel` and `ramdisk` paths, and disk targets, are resolved against the config
 *    file's directory;
 *    xl resolves them against its working directory. A config file is usually kept beside its
 *    kernel and run from anywhere (CI jobs, the conformance harness), so the file's directory is
 *    the one thing that names the same place every time. `--set` values on the command line are
 *    resolved against the working directory, as a path typed there would be.
 *
 * Defaults are libxl's (tools/libs/light/libxl_create.c, tools/xl/xl_parse.c): memory 32 MiB,
 * maxmem = memory, vcpus 1, maxvcpus = vcpus, on_poweroff/on_crash/on_watchdog destroy,
 * on_reboot restart, on_soft_reset soft-reset. The UUID defaults to all zeroes (xl picks a random
 * one; xenlab stays deterministic).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { canonicalDiskSpec, parseDiskSpec, type DiskSpec } from './disk-spec.js';
import { parseNicSpec, type NicSpec } from './nic-spec.js';

/** An xl value: a string (quoted, or a number as written) or a list of values. */
export type XlValue = string | readonly XlValue[];

/** One setting as written: where it came from, for messages and relative paths. */
export interface XlSetting {
  readonly key: string;
  readonly value: XlValue;
  /** The file (or `--set`) and line it was given on. */
  readonly file: string;
  readonly line: number;
}

/** libxl's actions on a domain's shutdown (xl_parse.c `action_on_shutdown_names`). */
export const SHUTDOWN_ACTIONS = ['destroy', 'restart', 'rename-restart', 'preserve', 'coredump-destroy', 'coredump-restart', 'soft-reset'] as const;
export type ShutdownAction = (typeof SHUTDOWN_ACTIONS)[number];

/** What xenlab does for an action: end the run, or build the domain again and boot it. */
export function honouredAction(a: ShutdownAction): 'destroy' | 'restart' | 'soft-reset' {
  if (a === 'restart' || a === 'rename-restart' || a === 'coredump-restart') return 'restart';
  if (a === 'soft-reset') return 'soft-reset';
  return 'destroy';
}

export interface DomainConfig {
  /** The config file as named by the caller (messages), or `<text>` for a string. */
  readonly file: string;
  readonly name: string;
  readonly type: 'pv';
  /** Absolute path of the kernel image. */
  readonly kernel: string;
  /** Absolute path of the ramdisk, if any. */
  readonly ramdisk: string | undefined;
  /** The kernel command line: `cmdline`, else `root=ROOT EXTRA` as xl's parse_cmdline combines them. */
  readonly cmdline: string;
  /** MiB of RAM at boot (libxl's target_memkb / 1024). */
  readonly memory: number;
  /** MiB the domain may ever have (max_memkb / 1024); at least `memory`. */
  readonly maxmem: number;
  /** vCPUs online at boot. */
  readonly vcpus: number;
  /** vCPU ids that exist (max_vcpus); at least `vcpus`. */
  readonly maxvcpus: number;
  readonly onPoweroff: ShutdownAction;
  readonly onReboot: ShutdownAction;
  readonly onWatchdog: ShutdownAction;
  readonly onCrash: ShutdownAction;
  readonly onSoftReset: ShutdownAction;
  /** Lower-case 8-4-4-4-12 form, or undefined (all zeroes). */
  readonly uuid: string | undefined;
  /** `disk` specs as written. */
  readonly disk: readonly string[];
  /**
   * The same disks parsed (harness/toolstack/disk-spec.ts), targets absolute: raw images served
   * by xenlab's blkback (docs/blkback.md).
   */
  readonly disks: readonly DiskSpec[];
  /** `vif` specs as written. */
  readonly vif: readonly string[];
  /** The same parsed (harness/toolstack/nic-spec.ts); not attached to a boot yet (docs/netback.md). */
  readonly vifs: readonly NicSpec[];
  /** Other known xl keys, kept as written and not used (in the order last set). */
  readonly other: readonly { readonly key: string; readonly value: XlValue }[];
  /** `file:line: warning: ...` lines: unknown keys, unsupported keys and actions, overridden keys. */
  readonly warnings: readonly string[];
}

/** Most vCPUs a domain may have (libxl's HVM_MAX_VCPUS bound on avail_vcpus). */
export const MAX_VCPUS = 128;
/** Most memory xenlab gives one domain (its machine frame tables grow with it). */
export const MAX_MEMORY_MIB = 16384;
/** start_info.cmd_line is MAX_GUEST_CMDLINE (1024) bytes with the terminating NUL. */
export const MAX_CMDLINE_BYTES = 1023;

/** Keys xenlab uses. */
const USED_KEYS = new Set([
  'name', 'type', 'builder', 'kernel', 'ramdisk', 'cmdline', 'root', 'extra', 'memory', 'maxmem', 'vcpus', 'maxvcpus',
  'on_poweroff', 'on_reboot', 'on_watchdog', 'on_crash', 'on_soft_reset', 'uuid', 'disk', 'vif',
]);

/** Every other key xl's parser reads (tools/xl/xl_parse.c): accepted, kept, not used yet. */
const OTHER_XL_KEYS = new Set([
  'acpi', 'acpi_firmware', 'acpi_laptop_slate', 'acpi_s3', 'acpi_s4', 'altp2m', 'altp2m_count', 'altp2mhvm', 'apic', 'arm_sci',
  'bios', 'bios_path_override', 'boot', 'bootloader', 'bootloader_args', 'bootloader_restrict', 'bootloader_user', 'cap',
  'channel', 'cpu_weight', 'cpuid', 'cpus', 'cpus_soft', 'device_model', 'device_model_args', 'device_model_args_hvm',
  'device_model_args_pv', 'device_model_override', 'device_model_stubdomain_override', 'device_model_stubdomain_seclabel',
  'device_model_user', 'device_model_version', 'device_tree', 'display', 'dm_restrict', 'driver_domain', 'dtdev', 'e820_host',
  'extratime', 'firmware', 'firmware_override', 'gfx_passthru', 'gic_version', 'hap', 'hdtype', 'hpet', 'hvm_pirq',
  'init_seclabel', 'iomem', 'ioports', 'irqs', 'keymap', 'latency', 'llc_colors', 'localtime', 'max_event_channels',
  'max_grant_frames', 'max_grant_version', 'max_maptrack_frames', 'mca_caps', 'mmio_hole', 'ms_vm_genid', 'msr_relaxed',
  'nestedhvm', 'nographic', 'nomigrate', 'nr_spis', 'nx', 'oos', 'opengl', 'p9', 'pae', 'passthrough', 'pci',
  'pci_msitranslate', 'pci_permissive', 'pci_power_mgmt', 'pci_seize', 'period', 'pool', 'pvcalls', 'pvshim',
  'pvshim_cmdline', 'pvshim_extra', 'pvshim_path', 'rdm', 'rdm_mem_boundary', 'rtc_timeoffset', 'sdl', 'seclabel', 'serial',
  'shadow_memory', 'slice', 'smbios', 'smbios_firmware', 'soundhw', 'spice', 'spice_clipboard_sharing',
  'spice_image_compression', 'spice_streaming_video', 'spiceagent_mouse', 'spicedisable_ticketing', 'spicehost',
  'spicepasswd', 'spiceport', 'spicetls_port', 'spiceusbredirection', 'spicevdagent', 'stdvga', 'stubdomain_cmdline',
  'stubdomain_kernel', 'stubdomain_memory', 'stubdomain_ramdisk', 'sve', 'tee', 'timer_mode', 'trap_unmapped_accesses',
  'tsc_mode', 'usb', 'usbctrl', 'usbdev', 'usbdevice', 'usbversion', 'vdispl', 'vendor_device', 'vfb', 'vga', 'videoram',
  'vif2', 'viridian', 'virtio', 'vkb', 'vkb_device', 'vmtrace_buf_kb', 'vnc', 'vncdisplay', 'vnclisten', 'vncpasswd',
  'vncunused', 'vncviewer', 'vnuma', 'vpmu', 'vpt_align', 'vsnd', 'vtpm', 'vuart', 'xauthority', 'xen_platform_pci',
  'xen_platform_pci_bar_uc', 'xend_suspend_evtchn_compat', 'xenstore_feature_mask', 'xenstore_quota',
]);

/** `file:line`, or just the `--set KEY=VALUE` an override came from. */
function where(file: string, line: number): string {
  return file.startsWith('--set ') ? file : `${file}:${line}`;
}

// ---- lexer ------------------------------------------------------------------------------------

type Tok =
  | { readonly t: 'ident' | 'number' | 'string'; readonly text: string; readonly line: number }
  | { readonly t: ',' | '[' | ']' | '=' | '+=' | ';' | 'nl' | 'eof'; readonly line: number };

const IDENT_RE = /[a-z][._0-9a-z]*/y;
const NUMBER_RE = /[0-9][0-9a-fx]*/y;
const WORD_RE = /[^ \t\n\r]{1,40}/y;

/** The match of sticky `re` at `at` (the caller has checked its first character). */
function match(re: RegExp, text: string, at: number): string {
  re.lastIndex = at;
  return (re.exec(text) as RegExpExecArray)[0];
}

const ESCAPES: Readonly<Record<string, string>> = { '"': '"', "'": "'", '\\': '\\', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

function lex(text: string, file: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  let line = 1;
  const fail = (why: string): never => {
    throw new UserError('bad-file', `${where(file, line)}: ${why}`);
  };
  while (i < text.length) {
    const c = text[i] as string;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '\n') {
      toks.push({ t: 'nl', line });
      line++;
      i++;
    } else if (c === '#') {
      // A comment runs to the newline, which ends the statement like a bare newline.
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
    } else if (/[a-z]/.test(c)) {
      const word = match(IDENT_RE, text, i);
      toks.push({ t: 'ident', text: word, line });
      i += word.length;
    } else if (/[0-9]/.test(c)) {
      const word = match(NUMBER_RE, text, i);
      toks.push({ t: 'number', text: word, line });
      i += word.length;
    } else if (c === "'" || c === '"') {
      const start = line;
      let out = '';
      let j = i + 1;
      for (;;) {
        const d = text[j];
        if (d === undefined || d === '\n') return fail(`unterminated string (the ${c === '"' ? 'double' : 'single'} quote opened here is not closed on this line)`);
        if (d === '\0') return fail('NUL byte inside a string');
        if (d === c) break;
        if (d === '\\') {
          const e = text[j + 1];
          if (e === undefined || e === '\n') return fail('unterminated string (a backslash ends the line)');
          const mapped = ESCAPES[e];
          if (mapped !== undefined) out += mapped;
          else if (e === 'x' || /[0-7]/.test(e)) return fail(`numeric escape '\\${e}' in a string: xl cannot decode these (write the character itself)`);
          else return fail(`invalid escape '\\${e}' in a string (valid: \\\\ \\' \\" \\a \\b \\f \\n \\r \\t \\v)`);
          j += 2;
          continue;
        }
        out += d;
        j++;
      }
      toks.push({ t: 'string', text: out, line: start });
      i = j + 1;
    } else if (c === '+' && text[i + 1] === '=') {
      toks.push({ t: '+=', line });
      i += 2;
    } else if (c === ',' || c === '[' || c === ']' || c === '=' || c === ';') {
      toks.push({ t: c, line });
      i++;
    } else if (c === '\r') {
      fail('carriage return (a DOS line ending?): xl.cfg files have Unix line endings, and xl refuses this too');
    } else if (c === '\0') {
      fail('NUL byte');
    } else {
      const word = match(WORD_RE, text, i);
      if (/[A-Z]/.test(c)) fail(`'${word}': keys are lower case in xl.cfg`);
      if ('+-.():'.includes(c)) fail(`unexpected '${word}': values are quoted strings, numbers or [lists] (xl.cfg is not Python; quote paths and words)`);
      fail(`unexpected '${word}'`);
    }
  }
  toks.push({ t: 'eof', line });
  return toks;
}

// ---- grammar ----------------------------------------------------------------------------------

interface Statement {
  readonly key: string;
  readonly add: boolean;
  readonly value: XlValue;
  readonly line: number;
}

function describeTok(t: Tok): string {
  switch (t.t) {
    case 'nl':
      return 'end of line';
    case 'eof':
      return 'end of file';
    case 'ident':
      return `'${t.text}'`;
    case 'number':
      return `number ${t.text}`;
    case 'string':
      return `string ${JSON.stringify(t.text)}`;
    default:
      return `'${t.t}'`;
  }
}

function parseStatements(text: string, file: string): Statement[] {
  const toks = lex(text, file);
  let p = 0;
  const peek = (): Tok => toks[p] as Tok;
  const next = (): Tok => toks[p++] as Tok;
  const fail = (t: Tok, why: string): never => {
    throw new UserError('bad-file', `${where(file, t.line)}: ${why}`);
  };
  const skipNl = (): void => {
    while (peek().t === 'nl') p++;
  };
  const value = (key: string): XlValue => {
    const t = next();
    if (t.t === 'string' || t.t === 'number') return t.text;
    if (t.t === '[') {
      const items: XlValue[] = [];
      skipNl();
      if (peek().t === ']') {
        p++;
        return items;
      }
      const unclosed = (): void => {
        if (peek().t === 'eof') fail(peek(), `the list of ${key} opened on line ${t.line} is not closed`);
      };
      for (;;) {
        unclosed();
        items.push(value(key));
        skipNl();
        unclosed();
        const sep = next();
        if (sep.t === ']') return items;
        if (sep.t !== ',') return fail(sep, `${describeTok(sep)} in the list of ${key}: expected ',' or ']'`);
        skipNl();
        unclosed();
        if (peek().t === ']') {
          p++;
          return items;
        }
      }
    }
    if (t.t === 'ident') return fail(t, `${key} = ${t.text}: an unquoted word; strings need quotes (${key} = "${t.text}")`);
    if (t.t === 'nl' || t.t === 'eof') return fail(t, `${key} has no value`);
    return fail(t, `${describeTok(t)} where the value of ${key} should be`);
  };
  const out: Statement[] = [];
  for (;;) {
    const t = next();
    if (t.t === 'eof') return out;
    if (t.t === 'nl' || t.t === ';') continue;
    if (t.t !== 'ident') {
      if (t.t === 'string') return fail(t, `${describeTok(t)} where a key should be (keys are not quoted)`);
      return fail(t, `${describeTok(t)} where a key should be`);
    }
    const op = next();
    if (op.t !== '=' && op.t !== '+=') return fail(op, `${describeTok(op)} after ${t.text}: expected '=' or '+='`);
    const v = value(t.text);
    out.push({ key: t.text, add: op.t === '+=', value: v, line: t.line });
    const end = peek();
    if (end.t === 'eof') return out;
    if (end.t !== 'nl' && end.t !== ';') return fail(end, `${describeTok(end)} after the value of ${t.text}: one setting per line, or separate them with ';'`);
  }
}

// ---- interpretation ---------------------------------------------------------------------------

interface Source {
  readonly text: string;
  readonly file: string;
  /** Directory relative paths are resolved against. */
  readonly base: string;
}

/** The effective settings: the last one of each key, `+=` applied. */
function mergeSettings(sources: readonly Source[]): Map<string, XlSetting & { readonly add: boolean; readonly base: string }> {
  const map = new Map<string, XlSetting & { readonly add: boolean; readonly base: string }>();
  for (const src of sources) {
    for (const s of parseStatements(src.text, src.file)) {
      let value = s.value;
      const prev = map.get(s.key);
      if (s.add && prev !== undefined) {
        const pl = typeof prev.value !== 'string';
        const nl = typeof value !== 'string';
        if (pl !== nl) throw new UserError('bad-file', `${where(src.file, s.line)}: ${s.key} += ${nl ? '[list]' : '"string"'}: cannot add a ${nl ? 'list to a string' : 'string to a list'}`);
        value = typeof value === 'string' ? (prev.value as string) + value : [...(prev.value as readonly XlValue[]), ...value];
      }
      // A key set again moves to where it was set last, as xl's lookup finds the latest.
      map.delete(s.key);
      map.set(s.key, { key: s.key, value, file: src.file, line: s.line, add: s.add, base: src.base });
    }
  }
  return map;
}

/** C's strtol(s, &end, 0) with the whole string consumed; undefined when it is not a number. */
export function strtol0(s: string): bigint | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (m === null) return undefined;
  const digits = m[2] as string;
  const v = /^0[xX]/.test(digits) ? BigInt(digits) : digits.length > 1 && digits.startsWith('0') ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  return m[1] === '-' ? -v : v;
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Interprets the merged settings; throws the first problem as a UserError naming file:line. */
function interpret(file: string, settings: ReturnType<typeof mergeSettings>): DomainConfig {
  const warnings: string[] = [];
  const at = (s: XlSetting): string => where(s.file, s.line);
  const bad = (s: XlSetting, why: string): never => {
    throw new UserError('bad-file', `${at(s)}: ${why}`);
  };
  const get = (key: string) => settings.get(key);
  const str = (key: string): string | undefined => {
    const s = get(key);
    if (s === undefined) return undefined;
    if (typeof s.value !== 'string') return bad(s, `${key} is a list but should be a single value`);
    return s.value;
  };
  const num = (key: string, min: number, max: number, unit: string): number | undefined => {
    const s = get(key);
    if (s === undefined) return undefined;
    if (typeof s.value !== 'string') return bad(s, `${key} is a list but should be a number`);
    if (s.add) return bad(s, `${key}: += cannot be used with numbers`);
    const n = strtol0(s.value);
    if (n === undefined) return bad(s, `${key} = ${JSON.stringify(s.value)} is not a number (decimal, 0x hex or 0-prefixed octal)`);
    if (n < BigInt(min) || n > BigInt(max)) return bad(s, `${key} = ${n}${unit}: must be between ${min} and ${max}${unit}`);
    return Number(n);
  };
  const list = (key: string): string[] => {
    const s = get(key);
    if (s === undefined) return [];
    if (typeof s.value === 'string') return bad(s, `${key} is a single value but should be a list ([ '...', ... ])`);
    return s.value.map((v, k) => (typeof v === 'string' ? v : bad(s, `${key}: entry ${k} is a list but should be a string`)));
  };
  const path = (key: string): string | undefined => {
    const v = str(key);
    if (v === undefined) return undefined;
    const s = get(key) as XlSetting & { base: string };
    if (v === '') return bad(s, `${key} is empty`);
    return isAbsolute(v) ? v : resolve(s.base, v);
  };

  // Keys xl knows but xenlab does not use, and keys nobody knows: one warning each.
  const other: { key: string; value: XlValue }[] = [];
  for (const s of settings.values()) {
    if (USED_KEYS.has(s.key)) continue;
    if (OTHER_XL_KEYS.has(s.key)) {
      other.push({ key: s.key, value: s.value });
      warnings.push(`${at(s)}: warning: ${s.key} is not supported yet (ignored)`);
    } else {
      warnings.push(`${at(s)}: warning: unknown key '${s.key}' (not an xl.cfg key; ignored)`);
    }
  }

  // type / builder (xl_parse.c: builder is the pre-4.10 spelling; the two must agree).
  let type: 'pv' | undefined;
  const typeSetting = get('type');
  const t = str('type');
  if (t !== undefined) {
    if (t === 'pvh' || t === 'hvm') bad(typeSetting as XlSetting, `type = "${t}": xenlab runs PV guests only (type = "pv")`);
    if (t !== 'pv') bad(typeSetting as XlSetting, `type = ${JSON.stringify(t)}: not a domain type (pv, pvh or hvm; xenlab runs pv)`);
    type = 'pv';
  }
  const b = str('builder');
  if (b !== undefined) {
    const bs = get('builder') as XlSetting;
    if (b === 'hvm') bad(bs, 'builder = "hvm": xenlab runs PV guests only (type = "pv")');
    if (b !== 'generic') bad(bs, `builder = ${JSON.stringify(b)}: not a builder (generic or hvm)`);
    warnings.push(`${at(bs)}: warning: builder is deprecated since Xen 4.10; write type = "pv"`);
  }

  const name = str('name');
  if (name === undefined) throw new UserError('bad-file', `${file}: name is not set (xl needs a domain name: name = "...")`);
  if (name === '') bad(get('name') as XlSetting, 'name is empty');

  if (str('bootloader') !== undefined && get('kernel') === undefined) {
    bad(get('bootloader') as XlSetting, 'bootloader is not supported: give the kernel (and ramdisk) directly with kernel = "..."');
  }
  const kernel = path('kernel');
  if (kernel === undefined) throw new UserError('bad-file', `${file}: kernel is not set (a PV guest needs kernel = "PATH")`);
  const ramdisk = path('ramdisk');

  // cmdline, else root= and extra= (xl_parse.c parse_cmdline).
  const cmd = str('cmdline');
  const root = str('root');
  const extra = str('extra');
  let cmdline: string;
  if (cmd !== undefined) {
    cmdline = cmd;
    if (root !== undefined || extra !== undefined) {
      warnings.push(`${at(get('cmdline') as XlSetting)}: warning: ignoring root= and extra= in favour of cmdline= (as xl does)`);
    }
  } else if (root !== undefined) {
    cmdline = extra !== undefined ? `root=${root} ${extra}` : `root=${root}`;
  } else {
    cmdline = extra ?? '';
  }
  const cmdBytes = Buffer.byteLength(cmdline, 'utf8');
  if (cmdBytes > MAX_CMDLINE_BYTES) {
    const s = (get('cmdline') ?? get('extra') ?? get('root')) as XlSetting;
    bad(s, `the kernel command line is ${cmdBytes} bytes; start_info holds at most ${MAX_CMDLINE_BYTES}`);
  }

  const memory = num('memory', 1, MAX_MEMORY_MIB, ' MiB') ?? 32;
  const maxmem = num('maxmem', 1, MAX_MEMORY_MIB, ' MiB') ?? memory;
  if (maxmem < memory) bad(get('maxmem') as XlSetting, `maxmem = ${maxmem} MiB is less than memory = ${memory} MiB`);

  // xl takes vcpus < 1 as 1 (xl_parse.c); more than libxl's bound is refused.
  const vs = get('vcpus');
  let vcpus = num('vcpus', -(2 ** 31), MAX_VCPUS, '') ?? 1;
  if (vcpus < 1) {
    warnings.push(`${at(vs as XlSetting)}: warning: vcpus = ${vcpus} taken as 1 (as xl does)`);
    vcpus = 1;
  }
  const maxvcpus = num('maxvcpus', 1, MAX_VCPUS, '') ?? vcpus;
  if (maxvcpus < vcpus) bad(get('maxvcpus') as XlSetting, `maxvcpus = ${maxvcpus} is less than vcpus = ${vcpus}`);

  const action = (key: string, dflt: ShutdownAction): ShutdownAction => {
    const v = str(key);
    if (v === undefined) return dflt;
    const s = get(key) as XlSetting;
    const a = SHUTDOWN_ACTIONS.find((x) => x === v) ?? bad(s, `${key} = ${JSON.stringify(v)}: not an action (${SHUTDOWN_ACTIONS.join(', ')})`);
    const honoured = honouredAction(a);
    if (honoured !== a && !(key === 'on_soft_reset' && a === 'soft-reset')) {
      warnings.push(`${at(s)}: warning: ${key} = "${a}" is not supported; xenlab does "${honoured}"`);
    } else if (a === 'soft-reset' && key !== 'on_soft_reset') {
      warnings.push(`${at(s)}: warning: ${key} = "soft-reset" is not supported; xenlab does "destroy"`);
    }
    return a;
  };
  const onPoweroff = action('on_poweroff', 'destroy');
  const onReboot = action('on_reboot', 'restart');
  const onWatchdog = action('on_watchdog', 'destroy');
  const onCrash = action('on_crash', 'destroy');
  const onSoftReset = action('on_soft_reset', 'soft-reset');

  const u = str('uuid');
  if (u !== undefined && !UUID_RE.test(u)) bad(get('uuid') as XlSetting, `uuid = ${JSON.stringify(u)} is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`);

  const disk = list('disk');
  const disks: DiskSpec[] = [];
  disk.forEach((spec, k) => {
    const s = get('disk') as XlSetting & { base: string };
    const refuse = (why: string): never => bad(s, `disk entry ${k} (${JSON.stringify(spec)}): ${why}`);
    const d = parseDiskSpec(spec);
    if (typeof d === 'string') return refuse(d);
    if (d.format !== 'raw') return refuse(d.format === 'empty' ? 'an empty CD-ROM drive is not supported' : `format ${d.format} is not supported (xenlab serves raw images)`);
    if (d.backend !== undefined && d.backend !== '' && d.backend !== '0' && d.backend !== 'Domain-0') return refuse(`backend=${d.backend}: xenlab's backends run as domain 0 only`);
    if (d.specification === 'virtio') return refuse('specification=virtio is not supported (xenlab serves the Xen PV block protocol)');
    const other = disks.find((e) => e.devid === d.devid);
    if (other !== undefined) return refuse(`vdev ${d.vdev} is the same device as ${other.vdev} (${d.devid})`);
    disks.push({ ...d, target: isAbsolute(d.target) ? d.target : resolve(s.base, d.target) });
  });
  const vif = list('vif');
  const vifs: NicSpec[] = [];
  vif.forEach((spec, k) => {
    const s = get('vif') as XlSetting;
    const refuse = (why: string): never => bad(s, `vif entry ${k} (${JSON.stringify(spec)}): ${why}`);
    const n = parseNicSpec(spec, k, name);
    if (typeof n === 'string') return refuse(n);
    const sameDev = vifs.find((e) => e.devid === n.devid);
    if (sameDev !== undefined) return refuse(`devid ${n.devid} is already used by vif entry ${vifs.indexOf(sameDev)}`);
    const sameMac = vifs.find((e) => e.mac === n.mac);
    if (sameMac !== undefined) return refuse(`mac ${n.mac} is already used by vif entry ${vifs.indexOf(sameMac)}`);
    vifs.push(n);
  });

  return {
    file,
    name,
    type: type ?? 'pv',
    kernel,
    ramdisk,
    cmdline,
    memory,
    maxmem,
    vcpus,
    maxvcpus,
    onPoweroff,
    onReboot,
    onWatchdog,
    onCrash,
    onSoftReset,
    uuid: u?.toLowerCase(),
    disk,
    disks,
    vif,
    vifs,
    other,
    warnings,
  };
}

/**
 * Parses xl.cfg text. `file` names it in messages and its directory anchors relative paths.
 * Throws a UserError (`file:line: problem`) for anything that is not a bootable PV config.
 */
export function parseXlConfig(text: string, file: string): { config: DomainConfig; warnings: string[] } {
  const config = interpret(file, mergeSettings([{ text, file, base: dirname(resolve(file)) }]));
  return { config, warnings: [...config.warnings] };
}

/**
 * Reads and parses a config file. `overrides` are `KEY=VALUE` settings applied after the file,
 * as `xl create FILE KEY=VALUE..` does; VALUE is xl syntax (`memory=256`, `name="web"`, a list),
 * and anything that is not (`name=web`, `kernel=/boot/vmlinuz`) is taken as a string.
 */
export function loadXlConfig(path: string, overrides: readonly string[] = []): DomainConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UserError('file-not-found', `${path}: cannot read the domain config`);
  }
  const sources: Source[] = [{ text, file: path, base: dirname(resolve(path)) }];
  for (const o of overrides) sources.push(overrideSource(o));
  return interpret(path, mergeSettings(sources));
}

/** `KEY=VALUE` from the command line as one line of xl.cfg text. */
function overrideSource(o: string): Source {
  const file = `--set ${o}`;
  const eq = o.indexOf('=');
  const key = eq < 0 ? o : o.slice(0, eq).trim();
  if (eq < 0 || !/^[a-z][._0-9a-z]*$/.test(key)) throw new UserError('bad-option', `--set ${o}: expected KEY=VALUE with a lower-case xl.cfg key`);
  const raw = o.slice(eq + 1).trim();
  let text = `${key} = ${raw}`;
  try {
    const st = parseStatements(text, file);
    if (st.length !== 1) throw new Error('not one setting');
  } catch {
    text = `${key} = ${quote(raw)}`;
  }
  return { text: `${text}\n`, file, base: process.cwd() };
}

// ---- printing ---------------------------------------------------------------------------------

/** A string as an xl.cfg double-quoted string. */
export function quote(s: string): string {
  let out = '"';
  for (const c of s) {
    if (c === '\\') out += '\\\\';
    else if (c === '"') out += '\\"';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\x07') out += '\\a';
    else if (c === '\b') out += '\\b';
    else if (c === '\f') out += '\\f';
    else if (c === '\v') out += '\\v';
    else out += c;
  }
  return `${out}"`;
}

function printValue(v: XlValue): string {
  return typeof v === 'string' ? quote(v) : `[ ${v.map(printValue).join(', ')} ]`;
}

/**
 * The config as xl.cfg text that parses back to the same config (kernel and ramdisk as absolute
 * paths, the command line as `cmdline`, every default spelt out). Warnings are not part of it.
 */
export function printXlConfig(c: DomainConfig): string {
  const lines = [
    `name = ${quote(c.name)}`,
    `type = ${quote(c.type)}`,
    `kernel = ${quote(c.kernel)}`,
    ...(c.ramdisk !== undefined ? [`ramdisk = ${quote(c.ramdisk)}`] : []),
    `cmdline = ${quote(c.cmdline)}`,
    `memory = ${c.memory}`,
    `maxmem = ${c.maxmem}`,
    `vcpus = ${c.vcpus}`,
    `maxvcpus = ${c.maxvcpus}`,
    `on_poweroff = ${quote(c.onPoweroff)}`,
    `on_reboot = ${quote(c.onReboot)}`,
    `on_watchdog = ${quote(c.onWatchdog)}`,
    `on_crash = ${quote(c.onCrash)}`,
    `on_soft_reset = ${quote(c.onSoftReset)}`,
    ...(c.uuid !== undefined ? [`uuid = ${quote(c.uuid)}`] : []),
    ...(c.disks.length > 0 ? [`disk = ${printValue(c.disks.map(canonicalDiskSpec))}`] : []),
    ...(c.vif.length > 0 ? [`vif = ${printValue(c.vif)}`] : []),
    ...c.other.map((s) => `${s.key} = ${printValue(s.value)}`),
  ];
  return `${lines.join('\n')}\n`;
}
