/**
 * Check `pv.strict` (docs/conformance.md): what the hypervisor's `--strict` mode sees of the guest's
 * use of the PV MMU and CPU, each with where the guest was — vCPU, RIP, the instruction there as the
 * guest's page tables showed it at that moment, and the function it lies in when the kernel has
 * symbols (its ELF .symtab, else Linux's kallsyms read from guest memory):
 *
 *  - refused page-table operations (fail): mmu_update, mmuext_op, update_va_mapping(_otherdomain)
 *    or a write Xen emulates into an L1 table (writable page tables) that Xen answered with an
 *    error — a writable mapping of a page table, a frame the domain does not own, a table that
 *    cannot be pinned... A correct kernel never asks for what the page-type rules forbid; a port
 *    that does and ignores the error runs on with a mapping it does not have;
 *  - suspicious-but-accepted operations (fail): Xen does them, but they mean the guest's model of
 *    its page tables is off (a kernel page mapped GLOBAL, a base pointer to an unpinned L4, junk
 *    in Xen's L4 slots); two that Linux relies on are listed on a pass instead (NOTED_CODES);
 *  - privileged instructions the guest kernel relied on Xen to emulate (reported, not a failure):
 *    port I/O, RDMSR/WRMSR, MOV to/from CR and DR, CLTS, WBINVD, a CPUID without the
 *    forced-emulation prefix. Legal on Xen, each a trap and an emulation; listed per kind with
 *    how often and the first one.
 *
 * Collection: the check sets the domain's PvMmu observer when the boot's world is attached (after
 * the domain builder's own work) and reads each vCPU's emulated-instruction counts when the guest
 * has stopped. Observations are grouped by kind and RIP; a hostile guest's flood is bounded.
 */
import { readFileSync } from 'node:fs';
import type { BootWorld } from '../../harness/boot/boot.js';
import { parseElf } from '../../harness/elf.js';
import { elfSymbols, kallsymsSymbols, symbolAt, type KernelSymbol } from '../../harness/kernel-symbols.js';
import type { MmuDiagnostic } from '../../abi/hv/page-types.js';
import { peekGuest, type GuestSite } from '../../abi/pv/guest-site.js';
import { describeSite, type Symbolizer } from '../../harness/guest-site-text.js';
import type { EmulatedKind } from '../../abi/pv/vcpu.js';
import { errorName } from '../../abi/hypercall/errors.js';
import type { AbiCheck, CheckOutcome } from './check.js';

/** The check's identity, as the reports show it. */
export const PV_STRICT = {
  id: 'pv.strict',
  description: 'Xen refused no page-table operation of the guest and saw nothing suspicious in its PV MMU use; privileged instructions it emulated are listed',
  reference: 'xen/include/public/xen.h (mmu_update, mmuext_op, update_va_mapping); docs/pv-abi-reference.md §3.7, §4',
} as const;

/**
 * Observations listed but not failed, because Linux relies on them and Xen does them as asked:
 *  - `mmu-update-plain-write`: Linux's `__xen_set_pte` sets every PTE with MMU_NORMAL_PT_UPDATE,
 *    also in tables it has not pinned (yet), which Xen writes as plain memory;
 *  - `uvm-no-flush`: update_va_mapping without a flush flag is how Linux's lazy MMU mode queues
 *    updates (the batch's last entry or a following MMUEXT_TLB_FLUSH flushes), and how
 *    `xen_load_gdt_boot` makes the GDT read-only before set_gdt; a per-call observation cannot
 *    tell these from a missing flush.
 */
export const NOTED_CODES: ReadonlySet<string> = new Set(['mmu-update-plain-write', 'uvm-no-flush']);

/** Groups of observations kept (by kind and RIP); later ones are only counted. */
export const MAX_GROUPS = 256;

/** One kind of observation at one RIP, with how often it was made. */
export interface StrictFinding {
  /** 'refused' or the observation's code (`global-kernel-page`, ...). */
  readonly code: string;
  /** The first one's message. */
  readonly message: string;
  readonly site?: GuestSite;
  count: number;
}

export { describeSite, type Symbolizer };

/**
 * Collects one guest run's observations (every boot: restarts add up), and says what the check
 * found. `observe` takes the PV MMU's observations, `emulatedOn` a vCPU's emulated instructions.
 */
export class PvStrictObserver {
  private readonly groups = new Map<string, StrictFinding>();
  private dropped = 0;
  private readonly emulated = new Map<string, EmulatedKind>();

  observe(d: MmuDiagnostic): void {
    const what = d.code === 'refused' ? `refused ${d.op ?? ''} ${errorName(d.error ?? 0)}` : d.code;
    const key = `${what} @${d.site?.rip ?? 'none'}`;
    const g = this.groups.get(key);
    if (g !== undefined) g.count++;
    else if (this.groups.size >= MAX_GROUPS) this.dropped++;
    else this.groups.set(key, { code: d.code, message: d.message, ...(d.site !== undefined ? { site: d.site } : {}), count: 1 });
  }

  /** A vCPU's counts (PvVcpu.emulated), added to the run's. */
  emulatedOn(kinds: ReadonlyMap<string, EmulatedKind>): void {
    for (const [kind, k] of kinds) {
      const have = this.emulated.get(kind);
      if (have === undefined) this.emulated.set(kind, { count: k.count, first: k.first });
      else have.count += k.count;
    }
  }

  /** Whether anything was seen (symbols are only worth loading then). */
  get empty(): boolean {
    return this.groups.size === 0 && this.dropped === 0 && this.emulated.size === 0;
  }

  /** Guest addresses the observations name (to find the kernel's symbols around them). */
  rips(): number[] {
    return [...[...this.groups.values()].flatMap((g) => (g.site !== undefined ? [g.site.rip] : [])), ...[...this.emulated.values()].map((k) => k.first.rip)];
  }

  findings(): readonly StrictFinding[] {
    return [...this.groups.values()];
  }

  result(sym: Symbolizer = () => undefined): CheckOutcome {
    const at = (site: GuestSite | undefined): string => (site === undefined ? '' : ` — ${describeSite(site, sym)}`);
    const times = (n: number): string => (n > 1 ? ` (${n} times)` : '');
    const line = (g: StrictFinding): string => `${g.code === 'refused' ? 'refused' : `suspicious (${g.code})`}: ${g.message}${times(g.count)}${at(g.site)}`;
    const groups = [...this.groups.values()];
    const violations = groups.filter((g) => !NOTED_CODES.has(g.code)).map(line);
    if (this.dropped > 0) violations.push(`… and ${this.dropped} more observations (only the first ${MAX_GROUPS} kinds and places are kept)`);
    const noted = groups.filter((g) => NOTED_CODES.has(g.code)).map((g) => `  ${line(g)}`);
    const emulated = [...this.emulated].map(([kind, k]) => `  ${kind}: ${k.count} time${k.count === 1 ? '' : 's'}, first ${describeSite(k.first, sym)}`);
    const notes = [
      ...(noted.length === 0 ? [] : ['accepted and noted (Xen does them as asked; Linux relies on both):', ...noted]),
      ...(emulated.length === 0 ? [] : ['privileged instructions the guest kernel relied on Xen to emulate (legal, each a trap):', ...emulated]),
    ];
    if (violations.length > 0) return { status: 'fail', detail: [...violations, ...notes].join('\n') };
    if (notes.length === 0) return { status: 'pass', detail: 'no observations' };
    return { status: 'pass', detail: ['no refused or suspicious PV MMU operation', ...notes].join('\n') };
  }
}

/** The kernel file xl recorded for the domain (`/vm/<uuid>/image/kernel`), if any. */
function kernelPath(w: BootWorld): string | undefined {
  // Peeked, not read through a connection: no message in xenstored's trace, which other checks follow.
  const peek = (path: string): string | undefined => {
    const n = w.xenstore.daemon.store.peek(path);
    return n === undefined ? undefined : new TextDecoder().decode(n.value);
  };
  const vm = peek(`/local/domain/${w.domain.id}/vm`);
  return vm === undefined ? undefined : peek(`${vm}/image/kernel`);
}

/** The ELF symbol table of a plain-ELF kernel file (the probe guests), or none. */
function fileSymbols(path: string | undefined): KernelSymbol[] {
  if (path === undefined) return [];
  try {
    const bytes = new Uint8Array(readFileSync(path));
    if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) return [];
    return elfSymbols({ elf: parseElf(bytes, path) });
  } catch {
    return [];
  }
}

const KALLSYMS_SPAN = 64 * 2 ** 20;
const KALLSYMS_ALIGN = 16 * 2 ** 20;

/**
 * Linux's kallsyms read from guest memory: the 64 MiB of the kernel's mapping from the 16 MiB
 * boundary below the lowest kernel-half RIP observed (text, then rodata with the tables), through
 * the kernel's page tables, holes read as zeros; none when the tables are not there.
 */
function guestKallsyms(w: BootWorld, rips: readonly number[]): KernelSymbol[] {
  const v = w.domain.vcpus[0];
  const kernel = rips.filter((r) => r < 0);
  if (v === undefined || kernel.length === 0) return [];
  const start = Math.floor(Math.min(...kernel) / KALLSYMS_ALIGN) * KALLSYMS_ALIGN;
  const bytes = new Uint8Array(KALLSYMS_SPAN);
  v.withKernelTables(() => {
    for (let off = 0; off < KALLSYMS_SPAN; off += 4096) bytes.set(peekGuest(v, start + off, 4096), off);
  });
  return kallsymsSymbols({ elfBytes: bytes });
}

/** The check as the conformance run applies it (conformance/checks/index.ts). */
export const pvStrict: AbiCheck = {
  ...PV_STRICT,
  start() {
    const o = new PvStrictObserver();
    let symbols: KernelSymbol[] | undefined;
    return {
      attached: (w) => {
        if (w.domain.mmu !== undefined) w.domain.mmu.observer = (d) => o.observe(d);
      },
      ended: (w) => {
        if (w.domain.mmu !== undefined) w.domain.mmu.observer = undefined;
        for (const v of w.domain.vcpus) if (v !== undefined) o.emulatedOn(v.emulated);
        if (o.empty || symbols !== undefined) return;
        // Named now, while the guest's memory is as it stopped (the same kernel on every boot).
        symbols = fileSymbols(kernelPath(w));
        if (symbols.length === 0) symbols = guestKallsyms(w, o.rips());
      },
      result: () => {
        const s = symbols ?? [];
        return o.result((a) => symbolAt(s, a));
      },
    };
  },
};
