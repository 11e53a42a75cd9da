/**
 * Everything `abi/public/` describes, gathered from the per-header modules: every exported
 * type description is a registry type under its export name (the C name without `struct`),
 * every exported number, bigint or `PerArch` is a constant. Layouts for both architectures are
 * computed once, here, from the descriptions.
 *
 * Use: `LAYOUTS.x86_64.start_info` (or `layout('start_info', arch)`) for sizes and offsets,
 * `View.of(layout, memory, address)` for access; constants by name from their header's module
 * (`import { EVTCHNOP_send } from '../public/event-channel.js'`).
 */
import { constValue, isPerArch, type ConstValue, type PerArch } from '../layout/constants.js';
import { layoutOf, type Layout } from '../layout/compute.js';
import { ARCHES, isType, type Arch, type Type } from '../layout/schema.js';
import * as archX86 from './arch-x86.js';
import * as callback from './callback.js';
import * as errno from './errno.js';
import * as eventChannel from './event-channel.js';
import * as features from './features.js';
import * as grantTable from './grant-table.js';
import * as blkif from './io/blkif.js';
import * as consoleIo from './io/console.js';
import * as netif from './io/netif.js';
import * as ring from './io/ring.js';
import * as xenbus from './io/xenbus.js';
import * as xsWire from './io/xs-wire.js';
import * as memory from './memory.js';
import * as nmi from './nmi.js';
import * as physdev from './physdev.js';
import * as sched from './sched.js';
import * as vcpu from './vcpu.js';
import * as version from './version.js';
import * as xen from './xen.js';

/**
 * The interface version the descriptions follow: `__XEN_LATEST_INTERFACE_VERSION__` of the Xen
 * 4.17 headers. Guests choose their own; nothing a PV domU exchanges differs from 0x00040d00 on.
 */
export const XEN_INTERFACE_VERSION = 0x00040e00;
/** The Xen release whose public headers (Debian's libxen-dev) are the ABI of record. */
export const XEN_HEADERS_RELEASE = '4.17';

/** Each module with the header (under xen/) it mirrors. */
export const HEADERS = [
  { header: 'xen.h', module: xen },
  { header: 'arch-x86/xen.h', module: archX86 },
  { header: 'event_channel.h', module: eventChannel },
  { header: 'grant_table.h', module: grantTable },
  { header: 'memory.h', module: memory },
  { header: 'vcpu.h', module: vcpu },
  { header: 'sched.h', module: sched },
  { header: 'callback.h', module: callback },
  { header: 'features.h', module: features },
  { header: 'version.h', module: version },
  { header: 'physdev.h', module: physdev },
  { header: 'nmi.h', module: nmi },
  { header: 'errno.h', module: errno },
  { header: 'io/ring.h', module: ring },
  { header: 'io/console.h', module: consoleIo },
  { header: 'io/xs_wire.h', module: xsWire },
  { header: 'io/xenbus.h', module: xenbus },
  { header: 'io/blkif.h', module: blkif },
  { header: 'io/netif.h', module: netif },
] as const;

type Modules = typeof xen &
  typeof archX86 &
  typeof eventChannel &
  typeof grantTable &
  typeof memory &
  typeof vcpu &
  typeof sched &
  typeof callback &
  typeof features &
  typeof version &
  typeof physdev &
  typeof nmi &
  typeof errno &
  typeof ring &
  typeof consoleIo &
  typeof xsWire &
  typeof xenbus &
  typeof blkif &
  typeof netif;

/** Names of every described type. */
export type TypeName = { [K in keyof Modules]: Modules[K] extends Type ? K : never }[keyof Modules];
/** Names of the types that exist on `A` (all but the other architecture's `onlyOn` ones). */
export type TypeNameOn<A extends Arch> = {
  [K in TypeName]: Modules[K] extends { readonly onlyOn: infer O } ? (O extends A ? K : never) : K;
}[TypeName];
type TypeOf<N extends TypeName> = Modules[N] extends Type ? Modules[N] : never;

/**
 * Where a constant is visible: `guest` in the headers a guest compiles against, `tools` only
 * with `__XEN_TOOLS__`, `xen` only inside the hypervisor.
 */
export type ConstScope = 'guest' | 'tools' | 'xen';

export interface TypeEntry {
  readonly name: string;
  readonly header: string;
  readonly type: Type;
}

export interface ConstEntry {
  readonly name: string;
  readonly header: string;
  readonly value: ConstValue | PerArch;
  readonly scope: ConstScope;
}

function scopeOf(name: string): ConstScope {
  if (memory.XENMEM_TOOLS_ONLY.includes(name)) return 'tools';
  if (errno.XEN_ERRNO_INTERNAL.includes(name)) return 'xen';
  return 'guest';
}

function gather(): { types: TypeEntry[]; constants: ConstEntry[] } {
  const types: TypeEntry[] = [];
  const constants: ConstEntry[] = [];
  const seen = new Map<string, string>();
  for (const { header, module } of HEADERS) {
    for (const [name, value] of Object.entries(module)) {
      const isConst = typeof value === 'number' || typeof value === 'bigint' || isPerArch(value);
      if (!isConst && !isType(value)) continue;
      const prior = seen.get(name);
      if (prior !== undefined) throw new Error(`abi/public: '${name}' is exported by both ${prior} and ${header}`);
      seen.set(name, header);
      if (isType(value)) types.push(Object.freeze({ name, header, type: value }));
      else constants.push(Object.freeze({ name, header, value: value as ConstValue | PerArch, scope: scopeOf(name) }));
    }
  }
  const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return { types: types.sort(byName), constants: constants.sort(byName) };
}

const gathered = gather();
/** Every described type, sorted by name. */
export const TYPES: readonly TypeEntry[] = Object.freeze(gathered.types);
/** Every described constant, sorted by name. */
export const CONSTANTS: readonly ConstEntry[] = Object.freeze(gathered.constants);

/** Whether a described type exists on `arch` (`iret_context` is x86_64's only). */
export function existsOn(t: Type, arch: Arch): boolean {
  return !('onlyOn' in t) || t.onlyOn === undefined || t.onlyOn === arch;
}

export type LayoutSet<A extends Arch> = { readonly [N in TypeNameOn<A>]: Layout<TypeOf<N>> };

function layoutsFor<A extends Arch>(arch: A): LayoutSet<A> {
  const out: Record<string, Layout> = {};
  for (const t of TYPES) if (existsOn(t.type, arch)) out[t.name] = layoutOf(t.type, arch, t.name);
  return Object.freeze(out) as unknown as LayoutSet<A>;
}

/** Every type's layout, per architecture (computed once at load; immutable). */
export const LAYOUTS: { readonly x86_64: LayoutSet<'x86_64'>; readonly x86_32: LayoutSet<'x86_32'> } = Object.freeze({
  x86_64: layoutsFor('x86_64'),
  x86_32: layoutsFor('x86_32'),
});

/** The layout of a described type on `arch`. Throws for a type the architecture lacks. */
export function layout<N extends TypeName>(name: N, arch: Arch): Layout<TypeOf<N>> {
  const l = (LAYOUTS[arch] as unknown as Readonly<Record<string, Layout>>)[name];
  if (l === undefined) throw new Error(`no layout of '${name}' on ${arch}`);
  return l as unknown as Layout<TypeOf<N>>;
}

/** The value of a constant by name on `arch`; undefined when the headers do not define it there. */
export function constant(name: string, arch: Arch): ConstValue | undefined {
  const c = CONSTANTS.find((e) => e.name === name);
  return c === undefined ? undefined : constValue(c.value, arch);
}

export { ARCHES };
