/**
 * Guest sites as text (abi/pv/guest-site.ts): `vcpu 0 rip 0xffffffff80001234 <naive_port+0x17>:
 * syscall, called from …: call …` — the instruction disassembled from the bytes taken when the
 * observation was made, addresses named when symbols are given (harness/kernel-symbols.ts). For
 * the conformance run's pv.strict check and `--strict` diagnostics.
 */
import type { MmuDiagnostic } from '../abi/hv/page-types.js';
import type { GuestSite } from '../abi/pv/guest-site.js';
import { disassembleBytes } from '../x86/disasm.js';

/** Names addresses; `symbolAt` over a kernel's symbols. */
export type Symbolizer = (address: number) => string | undefined;

const hexAddr = (a: number): string => `0x${BigInt.asUintN(64, BigInt(a)).toString(16)}`;

function named(a: number, sym: Symbolizer): string {
  const s = sym(a);
  return s === undefined ? hexAddr(a) : `${hexAddr(a)} <${s}>`;
}

/** Addresses in a disassembly (`call ffffffff80001015`) followed by their symbol. */
function annotate(text: string, sym: Symbolizer): string {
  return text.replace(/\b(?:0x)?(ffff[0-9a-f]{12})\b/g, (m, h: string) => {
    const s = sym(Number(BigInt.asIntN(64, BigInt(`0x${h}`))));
    return s === undefined ? m : `${m} <${s}>`;
  });
}

/** The instruction a site's bytes start with, as text. */
function insnText(bytes: Uint8Array, rip: number, sym: Symbolizer): string {
  if (bytes.length === 0) return '(not mapped)';
  const first = disassembleBytes(bytes, rip)[0];
  return first === undefined ? '(bad)' : annotate(first.text, sym);
}

/** The call that ends at `ret` (the 16 bytes before it), tried at the lengths calls have. */
function callBefore(before: Uint8Array, ret: number): { at: number; text: string } | undefined {
  for (const k of [5, 6, 2, 3, 7, 4]) {
    if (before.length < k) continue;
    const line = disassembleBytes(before.subarray(before.length - k), ret - k)[0];
    if (line !== undefined && line.bytes.length === k && line.text.startsWith('call')) return { at: ret - k, text: line.text };
  }
  return undefined;
}

/**
 * `vcpu 0 rip 0xffffffff80001234 <naive_port+0x17>: syscall`, and for a hypercall through a stub
 * `, called from 0x… <caller+0x2a>: call …`.
 */
export function describeSite(site: GuestSite, sym: Symbolizer): string {
  let s = `vcpu ${site.vcpu} rip ${named(site.rip, sym)}: ${insnText(site.bytes, site.rip, sym)}`;
  if (site.caller !== undefined) {
    const call = callBefore(site.caller.before, site.caller.ret);
    s += call !== undefined ? `, called from ${named(call.at, sym)}: ${annotate(call.text, sym)}` : `, returning to ${named(site.caller.ret, sym)}`;
  }
  return s;
}

/** A `--strict` observation as a diagnostic line: `strict: CODE: MESSAGE — vcpu … rip …: insn` (no symbols). */
export function strictDiagnostic(m: MmuDiagnostic): string {
  return `strict: ${m.code}: ${m.message}${m.site !== undefined ? ` — ${describeSite(m.site, () => undefined)}` : ''}`;
}
