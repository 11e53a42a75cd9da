/**
 * Constants as data. Most of Xen's numbers are the same on both architectures and are exported
 * as plain `number`s (`EVTCHNOP_bind_virq`); values that exist on one architecture only or differ
 * (`FLAT_KERNEL_CS`, `HYPERVISOR_VIRT_START`) are `PerArch` records. Values beyond 2^53 are
 * `bigint`s (`XEN_RUNSTATE_UPDATE`, x86_64 virtual addresses), converted by whoever needs them.
 */
import type { Arch } from './schema.js';

export type ConstValue = number | bigint;

export interface PerArch<V extends ConstValue = ConstValue> {
  readonly kind: 'per-arch';
  readonly x86_64?: V;
  readonly x86_32?: V;
}

export function perArch(values: { x86_64?: ConstValue; x86_32?: ConstValue }): PerArch {
  return Object.freeze({ kind: 'per-arch', ...values });
}

export function isPerArch(x: unknown): x is PerArch {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'per-arch';
}

/** The value of a constant on `arch`, or undefined where the headers do not define it. */
export function constValue(c: ConstValue | PerArch, arch: Arch): ConstValue | undefined {
  return isPerArch(c) ? c[arch] : c;
}
