/**
 * `xenlab abi dump`: every described type with its size, alignment and fields, and every
 * constant, for one architecture, as a record (`--json`) or a text table.
 *
 * JSON shape (`format` "xenlab-abi-dump/1"; stable: types and constants sorted by name in
 * code-point order, fields in declaration order with nested fields after their parent, keys
 * always in this order):
 *
 *   { format, arch, xen: "4.17", interfaceVersion: "0x00040e00",
 *     types: [{ name, c, header, kind, size, align,
 *               fields: [{ path, offset, size, type, dir? }] }],
 *     constants?: [{ name, header, scope, value, hex }] }
 *
 * `value` is a JSON number when it is a safe integer, else its decimal string; `hex` is the
 * value as the headers would spell it (two's complement in 64 bits for negative values).
 */
import { constValue } from './layout/constants.js';
import type { Layout } from './layout/compute.js';
import type { Arch } from './layout/schema.js';
import { CONSTANTS, LAYOUTS, TYPES, XEN_HEADERS_RELEASE, XEN_INTERFACE_VERSION, existsOn, type ConstScope } from './public/index.js';

export interface DumpField {
  readonly path: string;
  readonly offset: number;
  readonly size: number;
  readonly type: string;
  readonly dir?: 'in' | 'out' | 'inout';
}

export interface DumpType {
  readonly name: string;
  readonly c: string;
  readonly header: string;
  readonly kind: 'scalar' | 'struct' | 'union' | 'array';
  readonly size: number;
  readonly align: number;
  readonly fields: readonly DumpField[];
}

export interface DumpConstant {
  readonly name: string;
  readonly header: string;
  readonly scope: ConstScope;
  readonly value: number | string;
  readonly hex: string;
}

export interface AbiDump {
  readonly format: 'xenlab-abi-dump/1';
  readonly arch: Arch;
  readonly xen: string;
  readonly interfaceVersion: string;
  readonly types: readonly DumpType[];
  readonly constants?: readonly DumpConstant[];
}

export interface AbiDumpOptions {
  readonly arch: Arch;
  /** Include the constants (always in JSON output from the CLI). */
  readonly constants?: boolean;
}

export function abiDump(opts: AbiDumpOptions): AbiDump {
  const set = LAYOUTS[opts.arch] as unknown as Readonly<Record<string, Layout>>;
  const types: DumpType[] = [];
  for (const t of TYPES) {
    if (!existsOn(t.type, opts.arch)) continue;
    const l = set[t.name];
    if (l === undefined) continue;
    types.push({
      name: t.name,
      c: l.c ?? t.name,
      header: t.header,
      kind: l.kind,
      size: l.size,
      align: l.align,
      fields: l.fields.map((f) => ({ path: f.path, offset: f.offset, size: f.size, type: f.ctype, ...(f.dir !== undefined ? { dir: f.dir } : {}) })),
    });
  }
  const dump: AbiDump = {
    format: 'xenlab-abi-dump/1',
    arch: opts.arch,
    xen: XEN_HEADERS_RELEASE,
    interfaceVersion: `0x${XEN_INTERFACE_VERSION.toString(16).padStart(8, '0')}`,
    types,
  };
  if (opts.constants !== true) return dump;
  const constants: DumpConstant[] = [];
  for (const c of CONSTANTS) {
    const v = constValue(c.value, opts.arch);
    if (v === undefined) continue;
    const big = BigInt(v);
    const safe = big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER);
    const value = safe ? Number(big) : big.toString();
    constants.push({ name: c.name, header: c.header, scope: c.scope, value, hex: `0x${BigInt.asUintN(64, big).toString(16)}` });
  }
  return { ...dump, constants };
}

function pad(rows: readonly (readonly string[])[], right: ReadonlySet<number>): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((cell, k) => (widths[k] = Math.max(widths[k] ?? 0, cell.length)));
  return rows
    .map((r) => r.map((cell, k) => (right.has(k) ? cell.padStart(widths[k] ?? 0) : cell.padEnd(widths[k] ?? 0))).join('  ').trimEnd())
    .join('\n');
}

/** The dump as text: one block per type (its fields indented by nesting), then the constants. */
export function renderAbiDump(d: AbiDump): string {
  const out: string[] = [`Xen ${d.xen} guest ABI, ${d.arch} (interface version ${d.interfaceVersion}): ${d.types.length} types`, ''];
  for (const t of d.types) {
    out.push(`${t.c}  [${t.header}]  size ${t.size}, align ${t.align}`);
    if (t.fields.length > 0) {
      const dirs = t.fields.some((f) => f.dir !== undefined);
      const rows = [
        ['offset', 'size', 'field', 'type', ...(dirs ? ['dir'] : [])],
        ...t.fields.map((f) => {
          const depth = f.path.split('.').length - 1;
          const name = `${'  '.repeat(depth)}${f.path.split('.').pop() ?? f.path}`;
          return [String(f.offset), String(f.size), name, f.type, ...(dirs ? [f.dir ?? ''] : [])];
        }),
      ];
      out.push(pad(rows, new Set([0, 1])).replace(/^/gm, '  '));
    }
    out.push('');
  }
  if (d.constants !== undefined) {
    out.push(`${d.constants.length} constants`);
    out.push(pad([['name', 'value', 'hex', 'header', 'scope'], ...d.constants.map((c) => [c.name, String(c.value), c.hex, c.header, c.scope])], new Set([1])));
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
