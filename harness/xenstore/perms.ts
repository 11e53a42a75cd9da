/**
 * XenStore permissions and path rules (docs/misc/xenstore.txt; xenstored's xs_lib.c
 * `xs_strings_to_perms`/`xs_perm_to_string`, core.c `perm_for_conn`/`is_valid_nodename`).
 *
 * A node's permission list: entry 0 names the owner (full access) and, by its letter, the
 * access of every domain without an entry of its own; later entries grant a domain `r`, `w`,
 * `b` (both) or `n` (none). The control domain (0) and host tools bypass them. An entry naming
 * a domain that no longer exists (or was created after the node was last written) is kept but
 * ignored (xenstored's XS_PERM_IGNORE), so a new domain reusing the id inherits nothing.
 */

export const XS_PERM_NONE = 0;
export const XS_PERM_READ = 1;
export const XS_PERM_WRITE = 2;
/** xenstored-internal: "may change permissions" (owner or privileged). */
export const XS_PERM_OWNER = 4;
/** xenstored-internal: the entry names a domain that does not exist (any more). */
export const XS_PERM_IGNORE = 8;

export interface Perm {
  /** XS_PERM_* bits (READ, WRITE, and the internal IGNORE). */
  perms: number;
  /** Domain id, as the u32 xenstored keeps. */
  id: number;
}

/**
 * Parses perm strings ("r5", "n0", "b0x10": the id is C `strtol(.., 0)`, so hex and octal and a
 * sign are accepted, as xenstored does) into entries; undefined for a malformed one (EINVAL).
 */
export function parsePerms(strs: readonly string[]): Perm[] | undefined {
  const out: Perm[] = [];
  for (const s of strs) {
    let perms: number;
    switch (s[0]) {
      case 'r':
        perms = XS_PERM_READ;
        break;
      case 'w':
        perms = XS_PERM_WRITE;
        break;
      case 'b':
        perms = XS_PERM_READ | XS_PERM_WRITE;
        break;
      case 'n':
        perms = XS_PERM_NONE;
        break;
      default:
        return undefined;
    }
    const id = strtolWhole(s.slice(1));
    if (id === undefined) return undefined;
    out.push({ perms, id });
  }
  return out;
}

/**
 * C `strtol(s, &end, 0)` requiring `*end == 0` and a non-empty `s`, truncated to u32 as
 * xenstored stores it: leading white space, a sign, 0x/0 prefixes; out-of-range values clamp to
 * LONG_MIN/LONG_MAX first (64-bit long).
 */
function strtolWhole(s: string): number | undefined {
  if (s.length === 0) return undefined;
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (m === null) {
    // "0x" with no hex digits parses as "0" followed by "x": not the whole string.
    return undefined;
  }
  const digits = m[2] as string;
  let v: bigint;
  if (/^0[xX]/.test(digits)) v = BigInt(digits);
  else if (digits.length > 1 && digits.startsWith('0')) v = BigInt(`0o${digits.slice(1)}`);
  else v = BigInt(digits);
  if (m[1] === '-') v = -v;
  const max = (1n << 63n) - 1n;
  const min = -(1n << 63n);
  if (v > max) v = max;
  if (v < min) v = min;
  return Number(BigInt.asUintN(32, v));
}

/** One entry as xenstored prints it ("%c%i": the id as a signed int). */
export function permToString(p: Perm): string {
  const letter = ['n', 'r', 'w', 'b'][p.perms & 3] as string;
  return `${letter}${p.id | 0}`;
}

/** Perm strings for the host API (`["n0", "r1"]`) into entries; throws for a malformed one. */
export function perms(...strs: readonly string[]): Perm[] {
  const p = parsePerms(strs);
  if (p === undefined || p.length === 0) throw new Error(`xenstore: bad permissions ${JSON.stringify(strs)}`);
  return p;
}

export function clonePerms(p: readonly Perm[]): Perm[] {
  return p.map((e) => ({ perms: e.perms, id: e.id }));
}

/** Who asks, for permission checks. */
export interface PermSubject {
  /** The caller's domain id (0 for host tools). */
  readonly id: number;
  /** False for dom0 and host tools: they bypass permissions. */
  readonly unprivileged: boolean;
  /** SET_TARGET: the domain this one acts for (a device model's guest). */
  readonly targetId?: number;
}

/** xenstored's perm_for_conn: the READ/WRITE/OWNER bits `who` has on a node with `p`. */
export function permFor(who: PermSubject | undefined, p: readonly Perm[]): number {
  const all = XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;
  const owner = p[0];
  if (who === undefined || !who.unprivileged || owner === undefined) return all;
  if (owner.id === who.id || (who.targetId !== undefined && owner.id === who.targetId)) return all;
  for (let i = 1; i < p.length; i++) {
    const e = p[i] as Perm;
    if ((e.perms & XS_PERM_IGNORE) === 0 && (e.id === who.id || (who.targetId !== undefined && e.id === who.targetId))) return e.perms & all;
  }
  return owner.perms & all;
}

const VALID_CHARS = /^[A-Za-z0-9\-/_@]*$/;
/** sscanf("/local/domain/%5u/%n"): a domain's home prefix does not count toward the limit. */
const LOCAL_PREFIX = /^\/local\/domain\/(?:[+-][0-9]{1,4}|[0-9]{1,5})\//;

/** xenstored's is_valid_nodename, with the path-length quota `pathMax` (default 2048). */
export function isValidNodename(name: string, pathMax: number): boolean {
  if (!name.startsWith('/')) return false;
  if (name.endsWith('/') && name !== '/') return false;
  if (name.includes('//')) return false;
  const m = LOCAL_PREFIX.exec(name);
  const localOff = m === null ? 0 : m[0].length;
  if (name.length > localOff + pathMax) return false;
  return VALID_CHARS.test(name);
}

/** The parent of a path ("/a/b" → "/a", "/a" → "/"), xenstored's get_parent. */
export function parentOf(name: string): string {
  const slash = name.lastIndexOf('/');
  return slash <= 0 ? '/' : name.slice(0, slash);
}

/** The last component of a path. */
export function basenameOf(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/** A child's full path. */
export function childPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}

/** xenstored's is_child for watches: `child` is `parent` or below it. */
export function isChild(child: string, parent: string): boolean {
  if (parent === '/') return true;
  if (!child.startsWith(parent)) return false;
  const c = child[parent.length];
  return c === undefined || c === '/';
}
