/**
 * Boots a probe guest (fixtures/guests/images/) on a fresh machine: the PV64 domain builder, the
 * console backend bound to the guest's console port (harness/backends/console.ts: drains the ring
 * on every notification and notifies back, as xenconsoled does), and the deterministic scheduler.
 * Returns the console text, Xen's console (CONSOLEIO_write) and how the domain ended.
 */
import { fileURLToPath } from 'node:url';
import { MachineMemory } from '../../abi/hv/machine.js';
import { PageTypes } from '../../abi/hv/page-types.js';
import { Xen } from '../../abi/hv/xen.js';
import type { Domain } from '../../abi/hv/domain.js';
import { runMachine, type RunResult } from '../../abi/time/scheduler.js';
import { ConsoleBackend } from '../../harness/backends/console.js';
import { loadKernelImage } from '../../harness/builder/image.js';
import { buildPv64 } from '../../harness/builder/pv64.js';
import { implementedFeatures } from '../../x86/cpuid.js';

export const PROBE_IMAGES = fileURLToPath(new URL('../../fixtures/guests/images/', import.meta.url));

export interface ProbeOptions {
  readonly cmdline?: string;
  readonly memMiB?: number;
  /** Instruction budget (default 200 million). */
  readonly maxInstructions?: number;
  readonly seed?: number;
}

export interface ProbeRun {
  /** What the guest wrote to its PV console ring. */
  readonly console: string;
  /** What it wrote with CONSOLEIO_write. */
  readonly xenLog: string;
  readonly domain: Domain;
  readonly result: RunResult;
  /** Console notifications the backend took. */
  readonly notifications: number;
}

export async function bootProbe(name: string, o: ProbeOptions = {}): Promise<ProbeRun> {
  const memMiB = o.memMiB ?? 16;
  const image = await loadKernelImage(`${PROBE_IMAGES}${name}.elf`);
  const machine = new MachineMemory({ frames: 256 * (memMiB + 16), seed: o.seed ?? 11 });
  const types = new PageTypes(machine);
  const features = new Set(implementedFeatures());
  const xen = new Xen(features);
  const b = buildPv64({ xen, machine, types, image, domid: 1, name, memMiB, cmdline: o.cmdline ?? '', features });
  const backend = new ConsoleBackend({
    events: xen.events,
    domain: b.domain,
    page: machine.view(b.p2m[b.layout.consolePfn] as number),
    port: b.layout.consoleEvtchn,
  });
  const result = runMachine({ xen, domains: [b.domain], maxInstructions: o.maxInstructions ?? 200_000_000 });
  backend.drain();
  if (backend.broken !== undefined) throw new Error(backend.broken);
  return {
    console: backend.text(),
    xenLog: String.fromCharCode(...b.domain.consoleOut),
    domain: b.domain,
    result,
    notifications: backend.notifications,
  };
}
