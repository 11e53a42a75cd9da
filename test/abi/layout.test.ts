/**
 * The descriptions in abi/public/ against the ABI of record: Xen 4.17's public headers from
 * Debian's libxen-dev (the `xen-headers` fixture). For both architectures gcc computes, without
 * running anything, the size and alignment of every described type, the offset and size of every
 * field, and the value of every constant; any difference fails with the type, field and both
 * values. A second check lists every macro of the described families that the headers define and
 * we do not, so a family cannot be half described.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { constValue } from '../../abi/layout/constants.js';
import type { Layout } from '../../abi/layout/compute.js';
import { layoutOf } from '../../abi/layout/compute.js';
import { ARCHES, DATA_MODELS, handle64, struct, uint32_t, type Arch, type ScalarClass } from '../../abi/layout/schema.js';
import { CONSTANTS, LAYOUTS, TYPES, XEN_INTERFACE_VERSION, existsOn } from '../../abi/public/index.js';
import * as errno from '../../abi/public/errno.js';
import { ringSlots } from '../../abi/public/io/ring.js';
import { XSD_ERRORS } from '../../abi/public/io/xs-wire.js';
import { requireFixture } from '../../fixtures/pipeline/cache.js';
import { macros, preprocess, runProbes, type Probe } from './c-probe.js';

const HEADERS = [
  'xen/xen.h',
  'xen/event_channel.h',
  'xen/grant_table.h',
  'xen/memory.h',
  'xen/vcpu.h',
  'xen/sched.h',
  'xen/callback.h',
  'xen/features.h',
  'xen/version.h',
  'xen/physdev.h',
  'xen/nmi.h',
  'xen/errno.h',
  'xen/io/ring.h',
  'xen/io/console.h',
  'xen/io/xs_wire.h',
  'xen/io/xenbus.h',
  'xen/io/blkif.h',
  'xen/io/netif.h',
];

/** As a PV guest compiles against them: its chosen interface version, no __XEN_TOOLS__. */
function prelude(): string {
  // xs_wire.h's error table names host errno macros; give them Xen's values.
  const errnos = XSD_ERRORS.map((n) => `#define ${n} ${errno[`XEN_${n}` as keyof typeof errno] as number}`);
  return [
    `#define __XEN_INTERFACE_VERSION__ 0x${XEN_INTERFACE_VERSION.toString(16).padStart(8, '0')}`,
    '#include <stdint.h>',
    '#include <stddef.h>',
    ...errnos,
    ...HEADERS.map((h) => `#include <${h}>`),
  ].join('\n');
}

/** Constant families we describe: every object-like macro with one of these prefixes must be described. */
const FAMILIES = [
  '__HYPERVISOR_',
  'VIRQ_',
  'NR_VIRQS',
  'MMU_',
  'MMUEXT_',
  'UVMF_',
  'CONSOLEIO_',
  'VMASST_',
  'DOMID_',
  'SIF_',
  'XEN_PVCLOCK_',
  'XEN_VGATYPE_',
  'VGCF_',
  'FLAT_',
  'SEGBASE_',
  'HYPERVISOR_VIRT_',
  'MACH2PHYS_',
  'FIRST_RESERVED_GDT_',
  'XEN_LEGACY_MAX_VCPUS',
  'MAX_GUEST_CMDLINE',
  'EVTCHNOP_',
  'EVTCHNSTAT_',
  'EVTCHN_',
  'BIND_PIRQ_',
  'GNTTABOP_',
  'GNTTAB_',
  'GTF_',
  'GNTMAP_',
  'GNTST_',
  'GNTCOPY_',
  'XENMEM_',
  'XENMEMF_',
  'XENMAPSPACE_',
  'XENMAPIDX_',
  'VCPUOP_',
  'RUNSTATE_',
  'XEN_RUNSTATE_',
  'VCPU_SSHOTTMR_',
  'SCHEDOP_',
  'SHUTDOWN_',
  'CALLBACKOP_',
  'CALLBACKTYPE_',
  'CALLBACKF_',
  'XENFEAT_',
  'XENVER_',
  'XEN_EXTRAVERSION_LEN',
  'XEN_CAPABILITIES_INFO_LEN',
  'XEN_CHANGESET_INFO_LEN',
  'PHYSDEVOP_',
  'XENIRQSTAT_',
  'MAP_PIRQ_TYPE_',
  'XEN_PCI_',
  'XENNMI_',
  'XEN_NMIREASON_',
  'XENSTORE_',
  'BLKIF_',
  'VDISK_',
  'NETTXF_',
  'NETRXF_',
  'NETIF_RSP_',
  'XEN_NETIF_',
];

/** Macros of those families we do not describe, and why. */
const NOT_DESCRIBED: readonly (readonly [RegExp, string])[] = [
  [/^__HYPERVISOR_VIRT_/, 'the same values as HYPERVISOR_VIRT_*'],
  [/^GNTTABOP_error_msgs$/, 'a table of strings'],
  [/^XENMEM_(sharing_op|paging_op|access_op)_/, 'commands inside tools-only memory_op sub-ops'],
  [/^XENMEM_(SHARING_OP|FORK|RDM)_/, 'flags of tools-only memory_op sub-ops'],
];

function typeProbes(arch: Arch): { probes: Probe[]; ours: bigint[]; types: number; fields: number } {
  const probes: Probe[] = [];
  const ours: bigint[] = [];
  const set = LAYOUTS[arch] as unknown as Readonly<Record<string, Layout>>;
  let types = 0;
  let fields = 0;
  const add = (label: string, expr: string, value: number): void => {
    probes.push({ label, expr });
    ours.push(BigInt(value));
  };
  for (const t of TYPES) {
    if (!existsOn(t.type, arch)) continue;
    const l = set[t.name];
    if (l === undefined) throw new Error(`no ${arch} layout of ${t.name}`);
    const c = l.c;
    if (c === undefined) throw new Error(`${t.name} has no C spelling`);
    types++;
    add(`${t.name}: size`, `sizeof(${c})`, l.size);
    add(`${t.name}: alignment`, `offsetof(struct { char c; ${c} x; }, x)`, l.align);
    for (const f of l.fields) {
      fields++;
      add(`${t.name}.${f.path}: offset`, `offsetof(${c}, ${f.path})`, f.offset);
      if (f.count !== 0) add(`${t.name}.${f.path}: size`, `sizeof(((${c} *)0)->${f.path})`, f.size);
    }
    if (t.name.endsWith('_sring')) {
      const ring = l.find('ring');
      if (ring === undefined) throw new Error(`${t.name} has no ring`);
      add(`${t.name}: slots in a page`, `__CONST_RING_SIZE(${t.name.replace(/_sring$/, '')}, 4096)`, ringSlots(4096, ring.offset, ring.elemSize ?? 0));
    }
  }
  add('xsd_errors: entries', 'sizeof(xsd_errors) / sizeof(xsd_errors[0])', XSD_ERRORS.length);
  return { probes, ours, types, fields };
}

function constProbes(arch: Arch, scope: 'guest' | 'tools'): { probes: Probe[]; ours: bigint[] } {
  const probes: Probe[] = [];
  const ours: bigint[] = [];
  for (const c of CONSTANTS) {
    const v = constValue(c.value, arch);
    if (v === undefined || c.scope !== scope) continue;
    probes.push({ label: `${c.name} (${c.header})`, expr: c.name });
    ours.push(BigInt(v));
  }
  return { probes, ours };
}

function differences(probes: readonly Probe[], ours: readonly bigint[], theirs: readonly bigint[]): string[] {
  const out: string[] = [];
  probes.forEach((p, k) => {
    const a = BigInt.asUintN(64, ours[k] ?? -1n);
    const b = theirs[k] ?? -1n;
    if (a !== b) out.push(`${p.label}: xenlab ${BigInt.asIntN(64, a)}, gcc ${BigInt.asIntN(64, b)}`);
  });
  return out;
}

describe('abi/ layouts and constants against the libxen-dev headers', () => {
  let include = '';
  let version = '';
  beforeAll(async () => {
    const fx = await requireFixture('xen-headers');
    include = join(fx.root, 'usr', 'include');
    version = `${fx.package} ${fx.version}`;
  });

  for (const arch of ARCHES) {
    it(`${arch}: every size, alignment, field offset and field size is gcc's`, () => {
      const { probes, ours, types, fields } = typeProbes(arch);
      const theirs = runProbes({ prelude: prelude(), probes }, arch, include, version);
      expect(differences(probes, ours, theirs)).toEqual([]);
      expect(types).toBeGreaterThan(100);
      console.log(`abi ${arch}: ${types} types, ${fields} fields, ${probes.length} numbers compared with gcc -m${arch === 'x86_64' ? 64 : 32}`);
    });

    it(`${arch}: every constant has the headers' value`, () => {
      const guest = constProbes(arch, 'guest');
      const tools = constProbes(arch, 'tools');
      const g = runProbes({ prelude: prelude(), probes: guest.probes }, arch, include, version);
      const t = runProbes({ prelude: prelude(), probes: tools.probes, flags: ['-D__XEN_TOOLS__'] }, arch, include, version);
      expect([...differences(guest.probes, guest.ours, g), ...differences(tools.probes, tools.ours, t)]).toEqual([]);
      console.log(`abi ${arch}: ${guest.probes.length} guest and ${tools.probes.length} tools-only constants compared`);
    });

    it(`${arch}: every macro of a described family is described`, () => {
      const have = new Set(CONSTANTS.filter((c) => constValue(c.value, arch) !== undefined).map((c) => c.name));
      const defined = new Map([...macros(prelude(), arch, include), ...macros(prelude(), arch, include, ['-D__XEN_TOOLS__'])]);
      const missing = [...defined]
        .filter(([name, body]) => FAMILIES.some((f) => name.startsWith(f)) && !have.has(name) && !NOT_DESCRIBED.some(([re]) => re.test(name)) && body !== '')
        .filter(([, body]) => !/^"/.test(body))
        .map(([name, body]) => `${name} = ${body}`);
      expect(missing).toEqual([]);
      // And nothing we describe is absent from this architecture's headers.
      const absent = [...have].filter((n) => !defined.has(n) && FAMILIES.some((f) => n.startsWith(f)));
      expect(absent).toEqual([]);
    });
  }

  /** How each storage class is spelled in C, to check DATA_MODELS itself. */
  const SPELLING: Readonly<Record<ScalarClass, string>> = {
    int8: 'int8_t',
    int16: 'int16_t',
    int32: 'int32_t',
    int64: 'uint64_t',
    int64_aligned: 'uint64_t __attribute__((__aligned__(8)))',
    long: 'unsigned long',
    pointer: 'void *',
  };

  for (const arch of ARCHES) {
    it(`${arch}: the data model (incl. 8-aligned uint64_aligned_t and XEN_GUEST_HANDLE_64) is gcc's`, () => {
      const probes: Probe[] = [];
      const ours: bigint[] = [];
      for (const [cls, c] of Object.entries(SPELLING) as [ScalarClass, string][]) {
        probes.push({ label: `${cls}: size`, expr: `sizeof(${c})` }, { label: `${cls}: alignment`, expr: `offsetof(struct { char c; ${c} x; }, x)` });
        ours.push(BigInt(DATA_MODELS[arch][cls].size), BigInt(DATA_MODELS[arch][cls].align));
      }
      // A tools-only struct built on XEN_GUEST_HANDLE_64: 16 bytes on both ABIs.
      const bitmap = layoutOf(struct('struct xenctl_bitmap', { bitmap: handle64('uint8'), nr_bits: uint32_t }), arch);
      probes.push(
        { label: 'xenctl_bitmap: size', expr: 'sizeof(struct xenctl_bitmap)' },
        { label: 'xenctl_bitmap.nr_bits: offset', expr: 'offsetof(struct xenctl_bitmap, nr_bits)' },
      );
      ours.push(BigInt(bitmap.size), BigInt(bitmap.field('nr_bits').offset));
      const theirs = runProbes({ prelude: prelude(), probes, flags: ['-D__XEN_TOOLS__'] }, arch, include, version);
      expect(differences(probes, ours, theirs)).toEqual([]);
    });
  }

  it('errno: every XEN_E* value, the hypervisor-internal ones included', () => {
    const text = preprocess('#define XEN_ERRNO(name, value) XENLAB_ERRNO name value\n#include <xen/errno.h>\n', include, ['-D__XEN__']);
    const fromHeader = [...text.matchAll(/XENLAB_ERRNO (\w+) (\d+)/g)].map((m) => [`XEN_${m[1]}`, Number(m[2])] as const);
    const ours = Object.entries(errno).filter(([, v]) => typeof v === 'number');
    expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(fromHeader));
    expect(errno.XEN_ERRNO_INTERNAL.every((n) => fromHeader.some(([h]) => h === n))).toBe(true);
  });

  it("xs_wire: XenStore's error names in the header's order", () => {
    const text = preprocess('#define EINVAL 22\n#include <stdint.h>\n#include <xen/io/xs_wire.h>\n', include);
    const names = [...text.matchAll(/\{\s*\w+\s*,\s*"(E[A-Z0-9]+)"\s*\}/g)].map((m) => m[1]);
    expect(names).toEqual(XSD_ERRORS);
  });
});
