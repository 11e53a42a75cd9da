/**
 * Layouts: a description (`schema.ts`) laid out for one architecture with the C rules gcc uses on
 * x86 (SysV psABI): each field at the next multiple of its alignment, a struct aligned to its
 * most aligned member and padded to a multiple of that, a union as large as its largest member
 * rounded up the same way, an array `count` elements back to back. Sizes and offsets are only ever
 * computed here; the layout test compares them with gcc's for every structure and field.
 */
import {
  DATA_MODELS,
  isFieldSpec,
  type Arch,
  type Direction,
  type FieldPath,
  type Member,
  type Type,
} from './schema.js';

/**
 * What a field holds, for accessors:
 *  - `int`: an integer of `size` 1, 2, 4 or 8 bytes (`signed` says how to read it);
 *  - `record`: a nested struct or union (`layout` describes it, offsets relative to it);
 *  - `array`: `count` elements of `elemSize` bytes (`elem` is the element's layout; scalar
 *    elements have `elemInt` set instead, char elements also `chars`).
 */
export type FieldKind = 'int' | 'record' | 'array';

export interface FieldLayout {
  /** Dotted path from the top-level type (`console.domU.mfn`). */
  readonly path: string;
  readonly name: string;
  /** Byte offset from the start of the top-level type. */
  readonly offset: number;
  readonly size: number;
  readonly align: number;
  /** C-like spelling of the field's type (`uint32_t`, `char[32]`, `struct vcpu_info[32]`, `union`). */
  readonly ctype: string;
  readonly kind: FieldKind;
  readonly signed: boolean;
  /** The direction of the field or of the nearest enclosing field that has one. */
  readonly dir?: Direction;
  /** Nested struct/union (kind `record`) or struct/union array elements (kind `array`). */
  readonly layout?: Layout;
  readonly count?: number;
  readonly elemSize?: number;
  /** Array of integers: the element is one, `signed` applies to it. */
  readonly elemInt?: boolean;
  /** Array of a character type: also readable as a string. */
  readonly chars?: boolean;
}

export interface Layout<T extends Type = Type> {
  /** Registry name (`start_info`) or the C spelling for nested and anonymous types. */
  readonly name: string;
  /** C spelling (`struct start_info`), when the type has one. */
  readonly c?: string;
  readonly arch: Arch;
  readonly kind: 'scalar' | 'struct' | 'union' | 'array';
  readonly size: number;
  readonly align: number;
  /** Every field, nested ones too, depth-first in declaration order. */
  readonly fields: readonly FieldLayout[];
  /** True when any field carries a direction (then `outRanges` lists what Xen writes back). */
  readonly directed: boolean;
  /** Merged [offset, size) byte ranges of OUT and IN/OUT fields, ascending. */
  readonly outRanges: readonly (readonly [number, number])[];
  /** The field at a path; throws for an unknown path (a host bug). */
  field(path: FieldPath<T>): FieldLayout;
  /** Like `field`, for paths computed at run time: undefined when there is none. */
  find(path: string): FieldLayout | undefined;
  /** The description it was computed from. */
  readonly type: T;
}

function roundUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** Resolves `by-arch` choices. */
export function resolve(t: Type, arch: Arch): Exclude<Type, { kind: 'by-arch' }> {
  let r: Type = t;
  while (r.kind === 'by-arch') r = r[arch];
  return r;
}

export function sizeAlign(t: Type, arch: Arch): { size: number; align: number } {
  const r = resolve(t, arch);
  switch (r.kind) {
    case 'scalar':
      return DATA_MODELS[arch][r.class];
    case 'array': {
      const e = sizeAlign(r.elem, arch);
      return { size: e.size * r.count, align: e.align };
    }
    case 'struct':
    case 'union': {
      let end = 0;
      let align = 1;
      for (const [, m] of members(r.fields, arch)) {
        const f = sizeAlign(m.type, arch);
        align = Math.max(align, f.align);
        end = r.kind === 'struct' ? roundUp(end, f.align) + f.size : Math.max(end, f.size);
      }
      return { size: roundUp(end, align), align };
    }
  }
}

/** Size in bytes of a type on `arch`. */
export function sizeOf(t: Type, arch: Arch): number {
  return sizeAlign(t, arch).size;
}

function members(fields: { readonly [name: string]: Member }, arch: Arch): [string, { type: Type; dir?: Direction }][] {
  const out: [string, { type: Type; dir?: Direction }][] = [];
  for (const [name, m] of Object.entries(fields)) {
    if (isFieldSpec(m)) {
      if (m.arch !== undefined && m.arch !== arch) continue;
      out.push([name, m.dir !== undefined ? { type: m.type, dir: m.dir } : { type: m.type }]);
    } else {
      out.push([name, { type: m }]);
    }
  }
  return out;
}

/** C-like spelling of a type, for dumps and diagnostics. */
export function ctypeOf(t: Type, arch: Arch): string {
  if (t.c !== undefined && t.kind !== 'array') return t.c;
  const r = resolve(t, arch);
  if (r.c !== undefined && r.kind !== 'array') return r.c;
  switch (r.kind) {
    case 'scalar':
      return r.c;
    case 'array':
      return `${ctypeOf(r.elem, arch)}[${r.count === 0 ? '' : r.count}]`;
    case 'struct':
    case 'union':
      return r.kind;
  }
}

/** Lays out `t` for `arch`. `name` is what the layout is called in dumps (default: its C name). */
export function layoutOf<T extends Type>(t: T, arch: Arch, name?: string): Layout<T> {
  const r = resolve(t, arch);
  const { size, align } = sizeAlign(r, arch);
  const fields: FieldLayout[] = [];
  if (r.kind === 'struct' || r.kind === 'union') collect(r, arch, 0, '', undefined, fields);
  const byPath = new Map(fields.map((f) => [f.path, f]));
  const outRanges = mergeRanges(fields.filter((f) => f.dir === 'out' || f.dir === 'inout').map((f) => [f.offset, f.size] as const));
  const layout: Layout = {
    name: name ?? t.c ?? r.c ?? ctypeOf(t, arch),
    ...(t.c !== undefined ? { c: t.c } : r.c !== undefined ? { c: r.c } : {}),
    arch,
    kind: r.kind,
    size,
    align,
    fields: Object.freeze(fields),
    directed: fields.some((f) => f.dir !== undefined),
    outRanges,
    type: t,
    field(path: string): FieldLayout {
      const f = byPath.get(path);
      if (f === undefined) throw new Error(`${this.name} (${arch}) has no field '${path}'`);
      return f;
    },
    find(path: string): FieldLayout | undefined {
      return byPath.get(path);
    },
  };
  return Object.freeze(layout) as unknown as Layout<T>;
}

function collect(
  r: Extract<Type, { kind: 'struct' | 'union' }>,
  arch: Arch,
  base: number,
  prefix: string,
  inheritedDir: Direction | undefined,
  out: FieldLayout[],
): void {
  let end = 0;
  for (const [name, m] of members(r.fields, arch)) {
    const ft = resolve(m.type, arch);
    const { size, align } = sizeAlign(ft, arch);
    const rel = r.kind === 'struct' ? roundUp(end, align) : 0;
    end = r.kind === 'struct' ? rel + size : Math.max(end, size);
    const path = prefix === '' ? name : `${prefix}.${name}`;
    const dir = m.dir ?? inheritedDir;
    const common = {
      path,
      name,
      offset: base + rel,
      size,
      align,
      ctype: ctypeOf(m.type, arch),
      ...(dir !== undefined ? { dir } : {}),
    };
    if (ft.kind === 'scalar') {
      out.push(Object.freeze({ ...common, kind: 'int' as const, signed: ft.signed }));
    } else if (ft.kind === 'array') {
      const et = resolve(ft.elem, arch);
      const elemSize = sizeAlign(et, arch).size;
      const elem =
        et.kind === 'scalar'
          ? { elemInt: true, signed: et.signed, ...(et.char === true ? { chars: true } : {}) }
          : { signed: false, layout: layoutOf(et, arch) as unknown as Layout };
      out.push(Object.freeze({ ...common, kind: 'array' as const, count: ft.count, elemSize, ...elem }));
    } else {
      out.push(Object.freeze({ ...common, kind: 'record' as const, signed: false, layout: layoutOf(ft, arch) as unknown as Layout }));
      collect(ft, arch, base + rel, path, dir, out);
    }
  }
}

function mergeRanges(ranges: (readonly [number, number])[]): readonly (readonly [number, number])[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [off, len] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && off <= last[0] + last[1]) last[1] = Math.max(last[1], off + len - last[0]);
    else out.push([off, len]);
  }
  return Object.freeze(out.map((r) => Object.freeze(r)));
}

