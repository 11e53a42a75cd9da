/**
 * C types as data: the vocabulary every description in `abi/public/` is written in.
 *
 * One description serves both guest ABIs. Nothing here holds a size or an offset: those come from
 * `compute.ts`, which applies the data model of the architecture (`DATA_MODELS`) to the
 * description. Glossary:
 *
 *  - `scalar`: an integer with a C spelling (`uint32_t`, `unsigned long`, `xen_pfn_t`) and a
 *    storage class (`ScalarClass`) that decides its size and alignment per architecture;
 *  - `struct` / `union`: named fields in declaration order; a field is a type, or a `FieldSpec`
 *    carrying a direction (IN/OUT of a hypercall argument) or an architecture restriction;
 *  - `array`: a fixed count of an element type (`count` 0 is a flexible array member);
 *  - `by-arch`: a different type per architecture under one name (`xen_callback_t` is an
 *    `unsigned long` on x86_64 and a `{cs, eip}` struct on x86_32; `cpu_user_regs` differs
 *    completely);
 *  - `c`: the C spelling the layout test uses for `sizeof`/`offsetof` (`struct start_info`,
 *    `grant_status_t`); anonymous nested types have none.
 */

export type Arch = 'x86_64' | 'x86_32';
export const ARCHES: readonly Arch[] = ['x86_64', 'x86_32'];

/**
 * How a scalar is stored, independent of its C name:
 *  - `int8`..`int32`: fixed width, naturally aligned on both architectures;
 *  - `int64`: 8 bytes; 8-aligned on x86_64 but only 4-aligned inside structs on i386 (SysV i386
 *    psABI), which is why 32-bit PV structs with a `uint64_t` after a 32-bit field are shorter;
 *  - `int64_aligned`: Xen's `uint64_aligned_t`/`XEN_GUEST_HANDLE_64`, 8 bytes 8-aligned on both
 *    (forced with `__aligned__(8)` in the x86_32 headers, visible to Xen and the tools only);
 *  - `long`: `unsigned long`/`long`, 8 bytes on LP64, 4 on ILP32;
 *  - `pointer`: a guest pointer or `XEN_GUEST_HANDLE(x)` (a struct around one pointer on x86),
 *    8 bytes on x86_64, 4 on x86_32.
 */
export type ScalarClass = 'int8' | 'int16' | 'int32' | 'int64' | 'int64_aligned' | 'long' | 'pointer';

/** Size and in-struct alignment of each storage class, per architecture (LP64 vs ILP32). */
export const DATA_MODELS: { readonly [A in Arch]: { readonly [C in ScalarClass]: { readonly size: number; readonly align: number } } } = {
  x86_64: {
    int8: { size: 1, align: 1 },
    int16: { size: 2, align: 2 },
    int32: { size: 4, align: 4 },
    int64: { size: 8, align: 8 },
    int64_aligned: { size: 8, align: 8 },
    long: { size: 8, align: 8 },
    pointer: { size: 8, align: 8 },
  },
  x86_32: {
    int8: { size: 1, align: 1 },
    int16: { size: 2, align: 2 },
    int32: { size: 4, align: 4 },
    int64: { size: 8, align: 4 },
    int64_aligned: { size: 8, align: 8 },
    long: { size: 4, align: 4 },
    pointer: { size: 4, align: 4 },
  },
};

export interface ScalarType {
  readonly kind: 'scalar';
  readonly c: string;
  readonly class: ScalarClass;
  readonly signed: boolean;
  /** A character type: arrays of it read and write as strings too. */
  readonly char?: boolean;
  /** What a pointer or handle points at (documentation only). */
  readonly target?: string;
}

export type Direction = 'in' | 'out' | 'inout';

/** A field with attributes; a bare `Type` is a field with none. */
export interface FieldSpec<T extends Type = Type> {
  readonly kind: 'field';
  readonly type: T;
  /** IN (read by Xen), OUT (written by Xen on success), or both. Absent: not classified. */
  readonly dir?: Direction;
  /** The field exists on this architecture only. */
  readonly arch?: Arch;
}

export type Member = Type | FieldSpec;
export type Fields = { readonly [name: string]: Member };

export interface RecordType<F extends Fields = Fields> {
  readonly kind: 'struct' | 'union';
  readonly c?: string;
  readonly fields: F;
  /** The type exists in one architecture's headers only (`struct iret_context` is x86_64's). */
  readonly onlyOn?: Arch;
}

export interface ArrayType<E extends Type = Type> {
  readonly kind: 'array';
  readonly c?: string;
  readonly elem: E;
  /** 0: a flexible array member (`x[]`), which occupies no space. */
  readonly count: number;
}

export interface ByArchType<A extends Type = Type, B extends Type = Type> {
  readonly kind: 'by-arch';
  readonly c?: string;
  readonly x86_64: A;
  readonly x86_32: B;
}

export type Type = ScalarType | RecordType | ArrayType | ByArchType;

// ------------------------------------------------------------------------------------------------
// Constructors

export function scalar(c: string, cls: ScalarClass, signed: boolean, extra: { char?: boolean; target?: string } = {}): ScalarType {
  return Object.freeze({ kind: 'scalar', c, class: cls, signed, ...extra });
}

/** A struct or union that one architecture's headers define and the other's do not. */
export function onlyOn<T extends RecordType, A extends Arch>(arch: A, t: T): T & { readonly onlyOn: A } {
  return Object.freeze({ ...t, onlyOn: arch });
}

/** The same scalar under a typedef name (`typedef uint16_t domid_t`). */
export function typedef(c: string, base: ScalarType): ScalarType {
  return Object.freeze({ ...base, c });
}

/** `struct NAME { ... }`; pass `undefined` for an anonymous struct. */
export function struct<F extends Fields>(c: string | undefined, fields: F): RecordType<F> {
  return Object.freeze({ kind: 'struct', ...(c !== undefined ? { c } : {}), fields: Object.freeze(fields) });
}

/** `union NAME { ... }`; pass `undefined` for an anonymous union. */
export function union<F extends Fields>(c: string | undefined, fields: F): RecordType<F> {
  return Object.freeze({ kind: 'union', ...(c !== undefined ? { c } : {}), fields: Object.freeze(fields) });
}

export function array<E extends Type>(elem: E, count: number, c?: string): ArrayType<E> {
  if (!Number.isInteger(count) || count < 0) throw new Error(`array count ${count}`);
  return Object.freeze({ kind: 'array', elem, count, ...(c !== undefined ? { c } : {}) });
}

/** A type known to C under a typedef name (`typedef char xen_extraversion_t[16]`). */
export function named<T extends RecordType | ArrayType>(c: string, t: T): T {
  return Object.freeze({ ...t, c }) as unknown as T;
}

export function byArch<A extends Type, B extends Type>(c: string | undefined, x86_64: A, x86_32: B): ByArchType<A, B> {
  return Object.freeze({ kind: 'by-arch', ...(c !== undefined ? { c } : {}), x86_64, x86_32 });
}

/** An IN field: Xen reads it. */
export function IN<T extends Type>(type: T): FieldSpec<T> {
  return Object.freeze({ kind: 'field', type, dir: 'in' });
}

/** An OUT field: Xen writes it (copied back to the guest only when the operation succeeds). */
export function OUT<T extends Type>(type: T): FieldSpec<T> {
  return Object.freeze({ kind: 'field', type, dir: 'out' });
}

/** An IN/OUT field: Xen reads it and writes a result into it. */
export function INOUT<T extends Type>(type: T): FieldSpec<T> {
  return Object.freeze({ kind: 'field', type, dir: 'inout' });
}

/** A field present on one architecture only (`wc_sec_hi` of shared_info lives in `arch` on x86_32). */
export function only<T extends Type>(arch: Arch, member: T | FieldSpec<T>): FieldSpec<T> {
  const spec: FieldSpec<T> = isFieldSpec(member) ? member : { kind: 'field', type: member };
  return Object.freeze({ ...spec, arch });
}

export function isFieldSpec(m: Member): m is FieldSpec {
  return m.kind === 'field';
}

export function isType(x: unknown): x is Type {
  if (typeof x !== 'object' || x === null) return false;
  const k = (x as { kind?: unknown }).kind;
  return k === 'scalar' || k === 'struct' || k === 'union' || k === 'array' || k === 'by-arch';
}

// ------------------------------------------------------------------------------------------------
// C base types (the platform's, not Xen's)

export const uint8_t = scalar('uint8_t', 'int8', false);
export const int8_t = scalar('int8_t', 'int8', true);
export const uint16_t = scalar('uint16_t', 'int16', false);
export const int16_t = scalar('int16_t', 'int16', true);
export const uint32_t = scalar('uint32_t', 'int32', false);
export const int32_t = scalar('int32_t', 'int32', true);
export const uint64_t = scalar('uint64_t', 'int64', false);
export const int64_t = scalar('int64_t', 'int64', true);
/** Xen's `uint64_aligned_t` (tools and hypervisor view of the x86_32 headers). */
export const uint64_aligned_t = scalar('uint64_aligned_t', 'int64_aligned', false);
export const char = scalar('char', 'int8', true, { char: true });
export const unsigned_char = scalar('unsigned char', 'int8', false, { char: true });
export const int = scalar('int', 'int32', true);
export const unsigned_int = scalar('unsigned int', 'int32', false);
export const long = scalar('long', 'long', true);
export const unsigned_long = scalar('unsigned long', 'long', false);

/** `XEN_GUEST_HANDLE(target)`: a guest virtual address, pointer-sized. */
export function handle(target: string): ScalarType {
  return scalar(`XEN_GUEST_HANDLE(${target})`, 'pointer', false, { target });
}

/**
 * `XEN_GUEST_HANDLE_64(target)`: a handle widened to 8 bytes, 8-aligned, on both ABIs (the
 * tools/hypervisor view on x86_32; on x86_64 it is an ordinary handle of the same shape).
 */
export function handle64(target: string): ScalarType {
  return scalar(`XEN_GUEST_HANDLE_64(${target})`, 'int64_aligned', false, { target });
}

/** A plain C pointer field (`struct vcpu_runstate_info *v`). */
export function pointer(target: string): ScalarType {
  return scalar(`${target} *`, 'pointer', false, { target });
}

// ------------------------------------------------------------------------------------------------
// Type-level helpers: field paths ('console.domU.mfn') and the type at a path

type MemberType<M> = M extends FieldSpec<infer T> ? T : M;
type Prev = [never, 0, 1, 2, 3, 4];
/** The record(s) a type stands for: both variants of a `by-arch` (never nested in another). */
type Records<T> = T extends ByArchType<infer A, infer B> ? A | B : T;

/**
 * The dotted paths of every field of `T` (nested structs and unions included, array elements
 * not); plain `string` when `T` is not a specific description.
 */
export type FieldPath<T> = (Type extends T ? string : Paths<Records<T>, 4>) & string;

type Paths<T, D extends number> = [D] extends [never]
  ? never
  : T extends RecordType<infer F>
    ? string extends keyof F
      ? string
      : { [K in keyof F & string]: K | `${K}.${Paths<Records<MemberType<F[K]>>, Prev[D]>}` }[keyof F & string]
    : never;

type FieldType<T, K extends string> = T extends RecordType<infer F> ? (K extends keyof F ? MemberType<F[K]> : never) : never;

/** The type of the field at `P` in `T`. */
export type TypeAt<T, P extends string, D extends number = 4> = [D] extends [never]
  ? never
  : P extends `${infer H}.${infer R}`
    ? TypeAt<FieldType<Records<T>, H>, R, Prev[D]>
    : FieldType<Records<T>, P>;

/** The element type of an array field. */
export type ElemOf<T> = Records<T> extends ArrayType<infer E> ? E : never;
