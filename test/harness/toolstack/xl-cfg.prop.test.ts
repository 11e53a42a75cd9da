/**
 * Properties of the xl.cfg parser (harness/toolstack/xl-cfg.ts), seeded by the run's seed:
 *  - parse(print(cfg)) gives cfg back, for configs with awkward strings (quotes, backslashes,
 *    newlines, control characters, `#`, brackets, non-ASCII), every action, nested lists;
 *  - any text at all either parses or is refused with a one-line UserError naming the file,
 *    never another exception.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../harness/errors.js';
import { canonicalDiskSpec, parseDiskSpec, type DiskSpec } from '../../../harness/toolstack/disk-spec.js';
import { parseNicSpec, type NicSpec } from '../../../harness/toolstack/nic-spec.js';
import { MAX_CMDLINE_BYTES, MAX_MEMORY_MIB, MAX_VCPUS, SHUTDOWN_ACTIONS, parseXlConfig, printXlConfig, type DomainConfig, type XlValue } from '../../../harness/toolstack/xl-cfg.js';

const FILE = '/cfg/guest.cfg';

/** Characters that stress the quoting, plus anything else (NUL excluded: xl strings are C strings). */
const char = fc.oneof(
  fc.constantFrom('"', "'", '\\', '\n', '\r', '\t', '\x07', '\b', '\f', '\v', '#', '[', ']', ',', ';', '=', ' ', 'é', '€', '𝄞'),
  fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
);
const text = (o: { minLength?: number; maxLength?: number } = {}) =>
  fc.string({ unit: char, minLength: o.minLength ?? 0, maxLength: o.maxLength ?? 40 }).filter((s) => !s.includes('\0'));
const path = text({ minLength: 1 }).map((s) => `/${s}`);
const action = fc.constantFrom(...SHUTDOWN_ACTIONS);
const value: fc.Arbitrary<XlValue> = fc.letrec<{ v: XlValue }>((tie) => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, text(), fc.array(tie('v'), { maxLength: 4 })),
})).v;
/** Known xl keys xenlab keeps but does not use. */
const OTHER_KEYS = ['cpus', 'vfb', 'pci', 'serial', 'bootloader_args', 'channel', 'localtime', 'tsc_mode'] as const;

const config: fc.Arbitrary<DomainConfig> = fc
  .record({
    name: text({ minLength: 1 }),
    kernel: path,
    ramdisk: fc.option(path, { nil: undefined }),
    cmdline: text({ maxLength: 200 }).filter((s) => Buffer.byteLength(s) <= MAX_CMDLINE_BYTES),
    memory: fc.integer({ min: 1, max: MAX_MEMORY_MIB }),
    maxmemExtra: fc.integer({ min: 0, max: MAX_MEMORY_MIB }),
    vcpus: fc.integer({ min: 1, max: MAX_VCPUS }),
    maxvcpusExtra: fc.integer({ min: 0, max: MAX_VCPUS }),
    onPoweroff: action,
    onReboot: action,
    onWatchdog: action,
    onCrash: action,
    onSoftReset: action,
    uuid: fc.option(fc.uuid(), { nil: undefined }),
    disks: fc.uniqueArray(
      fc.record({ vdev: fc.constantFrom('xvda', 'xvdb', 'xvdc1', 'hdc', 'sdb', 'xvdaa', 'd3p4'), rw: fc.boolean(), cdrom: fc.boolean(), discard: fc.boolean(), target: path }),
      { selector: (d) => d.vdev.slice(0, 4), maxLength: 3 },
    ),
    vif: fc.array(
      fc.record({ mac: fc.boolean(), bridge: fc.constantFrom('xenbr0', 'xenbr1', 'br-lab'), ip: fc.option(fc.constantFrom('10.0.0.5', '192.168.1.2'), { nil: undefined }), mtu: fc.option(fc.integer({ min: 576, max: 9000 }), { nil: undefined }), trusted: fc.boolean() }),
      { maxLength: 3 },
    ),
    other: fc.uniqueArray(fc.record({ key: fc.constantFrom(...OTHER_KEYS), value }), { selector: (e) => e.key, maxLength: 4 }),
  })
  .map(({ disks: ds, vif: vs, ...c }) => {
    // Vifs as a user writes them (explicit MACs distinct per entry), parsed to get the specs.
    const vif = vs.map((v, i) => [v.mac ? `mac=00:16:3e:aa:bb:0${i}` : '', `bridge=${v.bridge}`, v.ip !== undefined ? `ip=${v.ip}` : '', v.mtu !== undefined ? `mtu=${v.mtu}` : '', v.trusted ? '' : 'untrusted'].filter((x) => x !== '').join(','));
    const vifs = vif.map((v, i) => parseNicSpec(v, i, c.name) as NicSpec);
    // Disks as the printer writes them (key=value, target last), parsed once to get the spec.
    const spec = (d: (typeof ds)[number]) => parseDiskSpec(`format=raw, vdev=${d.vdev}, access=${d.rw ? 'rw' : 'ro'}${d.cdrom ? ', devtype=cdrom' : ''}${d.discard ? '' : ', no-discard'}, target=${d.target}`) as DiskSpec;
    const disks = ds.map((d) => parseDiskSpec(canonicalDiskSpec(spec(d))) as DiskSpec);
    return { ...c, disks, disk: disks.map(canonicalDiskSpec), vif, vifs };
  })
  .map(({ maxmemExtra, maxvcpusExtra, ...c }) => ({
    ...c,
    file: FILE,
    type: 'pv' as const,
    maxmem: Math.min(MAX_MEMORY_MIB, c.memory + maxmemExtra),
    maxvcpus: Math.min(MAX_VCPUS, c.vcpus + maxvcpusExtra),
    warnings: [],
  }));

const withoutWarnings = ({ warnings: _w, ...c }: DomainConfig) => c;

describe('xl.cfg properties', () => {
  it('parse(print(cfg)) is cfg', () => {
    fc.assert(
      fc.property(config, (c) => {
        const back = parseXlConfig(printXlConfig(c), FILE).config;
        expect(withoutWarnings(back)).toEqual(withoutWarnings(c));
      }),
    );
  });

  it('any text parses or is one UserError line naming the file', () => {
    const pieces = fc.oneof(
      fc.constantFrom('name', 'kernel', 'memory', 'disk', 'type', ' = ', ' += ', '"', "'", '[', ']', ',', ';', '\n', '#', '0x1f', '12', '"pv"', '"/k"', '\\', '\r', 'Z', '(', '\0'),
      fc.string({ maxLength: 6, unit: 'binary' }),
    );
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 30 }), (parts) => {
        const t = parts.join('');
        try {
          parseXlConfig(t, FILE);
        } catch (e) {
          expect(e).toBeInstanceOf(UserError);
          const m = (e as UserError).message;
          expect(m.startsWith(`${FILE}`)).toBe(true);
          expect(m).not.toContain('\n');
        }
      }),
    );
  });
});
