/**
 * Save and restore of a suspended PV domain (harness/toolstack/checkpoint.ts) with probe-suspend:
 * the domain suspends on control/shutdown = "suspend", its checkpoint is written, and a second
 * host (another Xen, machine memory shuffled with another seed, its own xenstored and console)
 * restores it as a new domain: the guest returns 0 from its suspend hypercall, reconnects, finds
 * its p2m rewritten and its memory intact, and works on to its poweroff.
 */
import { describe, expect, it } from 'vitest';
import { MachineMemory } from '../../../abi/hv/machine.js';
import { PageTypes } from '../../../abi/hv/page-types.js';
import { Xen } from '../../../abi/hv/xen.js';
import { GrantHub } from '../../../abi/gnttab/grants.js';
import { runMachine } from '../../../abi/time/scheduler.js';
import { ConsoleBackend } from '../../../harness/backends/console.js';
import { EXTRA_MACHINE_MIB, introduceToXenStore } from '../../../harness/boot/boot.js';
import { readCheckpoint, saveDomain } from '../../../harness/toolstack/checkpoint.js';
import { writeDom0Tree } from '../../../harness/toolstack/xenstore-tree.js';
import { loadXlConfig } from '../../../harness/toolstack/xl-cfg.js';
import { XenStore } from '../../../harness/xenstore/host.js';
import { implementedFeatures } from '../../../x86/cpuid.js';
import { parseGuestTap } from '../../../conformance/tap.js';
import { PROBE_CONFIGS, startProbe } from '../../support/probe-session.js';

const MS = 1_000_000;

function restoreOnNewHost(bytes: Uint8Array, seed: number) {
  const r = readCheckpoint(bytes, 'test.xlck');
  const cfg = loadXlConfig(`${PROBE_CONFIGS}probe-suspend.cfg`);
  const machine = new MachineMemory({ frames: 256 * (cfg.maxmem + EXTRA_MACHINE_MIB), seed });
  const types = new PageTypes(machine);
  const xen = new Xen(new Set(implementedFeatures()));
  const grants = new GrantHub(machine, { types });
  const restored = r.finish({ xen, machine, types, grants }, 5);
  const d = restored.domain;
  const console = new ConsoleBackend({ events: xen.events, domain: d, page: machine.view(restored.consoleMfn), port: restored.consoleEvtchn });
  const xs = new XenStore({ domainExists: (id) => id === 0 || id === d.id });
  writeDom0Tree(xs);
  introduceToXenStore(xs, xen, machine, d, restored.config, restored);
  return { xen, machine, d, console, xs, restored };
}

describe('save and restore (probe-suspend)', () => {
  it('restores a suspended domain on another host as a new domain that works on to its end', async () => {
    const s = await startProbe('probe-suspend', { extra: 'dirty=16 period=200 suspends=1' });
    s.run({ untilNs: 5 * MS });
    s.xs.host.write(s.path('control/shutdown'), 'suspend');
    s.run();
    expect(s.domain.suspended).toBe(true);
    const bytes = saveDomain({ machine: s.machine, xen: s.xen, domain: s.domain, config: loadXlConfig(`${PROBE_CONFIGS}probe-suspend.cfg`), xenstore: s.xs });
    const h = restoreOnNewHost(bytes, 99);
    expect(h.restored.p2m.filter((m, pfn) => m >= 0 && m !== s.built.p2m[pfn]).length).toBeGreaterThan(1000);
    const r = runMachine({ xen: h.xen, domains: [h.d], maxInstructions: 200_000_000 });
    h.console.drain();
    const text = s.console() + h.console.text();
    expect(r.reason).toBe('ended');
    expect(h.d.state).toEqual({ kind: 'shutdown', reason: 0, code: 0 });
    const t = parseGuestTap(text);
    expect(t.tests.filter((x) => x.status !== 'pass').map((x) => `${x.name} ${x.detail ?? ''}`)).toEqual([]);
    expect(h.console.text()).toContain("resumed in a new domain");
  });
});
