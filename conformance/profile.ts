/**
 * Guest profiles: what to boot and how the guest reports. A profile names an xl.cfg (with
 * optional overrides, as `xl create FILE key=value` takes them), the way the guest must end, and
 * how long it may run in guest time, and optionally a console script that answers the guest's
 * prompts (expect/send, deterministic). The guest reports in TAP on its console.
 *
 * The built-in profiles are the probe guests of `fixtures/guests/`; a porter's own profiles
 * arrive with the profile-file loader (docs/profiles.md, a later issue).
 */
import type { ConsoleExpect } from '../harness/boot/console-script.js';

export interface GuestProfile {
  readonly name: string;
  readonly description: string;
  /** The xl.cfg to boot: absolute, or relative to the repository root for built-ins. */
  readonly config: string;
  /** `KEY=VALUE` settings applied after the file, as `xl create FILE KEY=VALUE` takes them. */
  readonly overrides?: readonly string[];
  /** How the domain must end: "poweroff", "reboot", "crash", "suspend", "watchdog". */
  readonly expectEnd: string;
  /** Guest seconds before the run counts as hung. */
  readonly timeoutSeconds: number;
  /** Console input: expect/send steps answered as the console is drained (harness/boot/console-script.ts). */
  readonly script?: readonly ConsoleExpect[];
}

const probe = (name: string, description: string, extra: Partial<GuestProfile> = {}): GuestProfile => ({
  name,
  description,
  config: `fixtures/guests/${name}.cfg`,
  expectEnd: 'poweroff',
  timeoutSeconds: 10,
  ...extra,
});

const shutdown = (mode: string, end: string): GuestProfile =>
  probe(`probe-shutdown-${mode}`, `SHUTDOWN_${mode} after its TAP: the domain must end as ${end}`, {
    config: 'fixtures/guests/probe-shutdown.cfg',
    overrides: [`extra=shutdown=${mode}`],
    expectEnd: end,
  });

/** probe-console's `tap` mode: a prompt per test, answered here (fixtures/guests/console/main.c). */
const CONSOLE_SCRIPT: readonly ConsoleExpect[] = [
  { expect: '# prompt: line\n', send: 'hello\n' },
  // Three times the in ring's 1024 bytes: the backend feeds it as the guest takes it.
  { expect: '# prompt: big\n', send: `${Array.from({ length: 3000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('')}\n` },
  { expect: '# prompt: cr\n', send: 'one\r' },
  { expect: '# prompt: two\n', send: 'first\nsecond\n' },
];

/** The probe guests (fixtures/guests/README.md and docs/probe-guests.md say what each tests). */
export const BUILTIN_PROFILES: readonly GuestProfile[] = [
  probe('probe-basics', 'xen_version, start_info, P2M/M2P, memory_op, console_io, error codes, first traps'),
  probe('probe-events', 'event channels (IPI, masking, interdomain loopback), VIRQ_TIMER, block, poll, pvclock'),
  probe('probe-traps', 'bounce frames for every exception, iret, user mode and the syscall callback, #NM, segment bases, MSRs, debug registers, I/O ports'),
  probe('probe-mmu', 'PV MMU: pinning, refused writable mappings of page tables, updates and flushes, M2P, base pointers, LDT'),
  probe('probe-grants', 'grant tables v1/v2: setup, copy with its statuses, status frames, host mappings, unmap_and_replace'),
  probe('probe-multicall', 'multicall: per-entry results, partial failure, -ENOSYS, nesting refused, bad lists, lazy-MMU batches'),
  probe('probe-console', "the console's input ring: lines typed by a console script, one three times the ring's size, CR, two at once", {
    overrides: ['extra=tap'],
    script: CONSOLE_SCRIPT,
  }),
  shutdown('poweroff', 'poweroff'),
  shutdown('reboot', 'reboot'),
  shutdown('crash', 'crash'),
  shutdown('watchdog', 'watchdog'),
];
