/** Xen error numbers as names ("-EINVAL"), for statistics and diagnostics. */
import * as E from '../public/errno.js';

const NAMES = new Map<number, string>();
for (const [k, v] of Object.entries(E)) {
  if (typeof v === 'number' && k.startsWith('XEN_E') && !NAMES.has(v)) NAMES.set(v, k.slice('XEN_'.length));
}

/** "-EINVAL" for -22; "-E<n>" for a number Xen does not name. */
export function errorName(r: number): string {
  return `-${NAMES.get(-r) ?? `E${-r}`}`;
}
