/**
 * Guest profiles: what to boot and how the guest reports. A profile names an xl.cfg (with
 * optional overrides, as `xl create FILE key=value` takes them), the way the guest must end, and
 * how long it may run in guest time, and optionally a console script that answers the guest's
 * prompts (expect/send, deterministic). The guest reports in TAP on its console.
 *
 * The built-in profiles are the probe guests of `fixtures/guests/` and Debian's GRUB for Xen (its
 * checks are steps of its console script, as it prints no TAP); a porter's own profiles arrive
 * with the profile-file loader (docs/profiles.md, a later issue).
 */
import type { FixtureName } from '../fixtures/pipeline/catalogue.js';
import { GRUB_DISK_HELLO } from '../fixtures/pipeline/grub-disk.js';
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
  /**
   * For a guest that prints no TAP (a third-party port such as GRUB): its tests are these steps,
   * run as its console script; each passes when its pattern is seen (conformance/run.ts).
   */
  readonly checks?: readonly ScriptCheck[];
  /**
   * The Debian fixture the guest comes from: `xenlab conformance` runs the profile by default only
   * when that fixture is cached (`npm run fixtures`); named with --guest, it is fetched.
   */
  readonly fixture?: FixtureName;
  /**
   * ABI checks (conformance/checks/index.ts) that do not apply to this guest, by id, each with the
   * reason: e.g. a probe that makes refused mappings on purpose to test Xen's refusals. Each is a
   * skip "not applicable: <reason>" in the report, never a silent pass.
   */
  readonly notApplicable?: Readonly<Record<string, string>>;
  /**
   * Console text that means the guest's kernel fell over (a hostile run's oracle fails on any,
   * conformance/hostile/oracle.ts), e.g. Linux's "Kernel panic".
   */
  readonly panics?: readonly string[];
  /** Runs before the boot: makes what the guest needs, returns more `KEY=VALUE` overrides. */
  readonly prepare?: () => Promise<readonly string[]>;
}

/** One step of a guest's console script that is also one of its tests. */
export interface ScriptCheck extends ConsoleExpect {
  readonly name: string;
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

const regexText = (t: string): string => t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** The command's output, then GRUB's next prompt (where the next command is typed). */
const thenPrompt = (t: string): RegExp => new RegExp(`${t}[\\s\\S]*?grub> `);

/**
 * GRUB's session (docs/grub.md): each pattern is output GRUB prints that the typed command does
 * not contain, so the echo of a command line never satisfies it. GRUB reaches its prompt in
 * 0.057 s of guest time (57 M instructions); 2 s per step is ample and fails fast.
 */
export const GRUB_CHECKS: readonly ScriptCheck[] = [
  { name: "GRUB finds the disk through XenStore and reads its grub.cfg over blkfront", expect: 'xenlab: read grub.cfg from (xen/xvda)', timeoutSeconds: 2 },
  { name: 'GRUB shows its prompt', expect: 'grub> ', send: 'ls\r', timeoutSeconds: 2 },
  { name: '`ls` lists the Xen disk (xen/xvda)', expect: thenPrompt(regexText('(xen/xvda)')), send: 'ls (xen/xvda)\r', timeoutSeconds: 2 },
  { name: '`ls (xen/xvda)` finds an ext* file system on it', expect: thenPrompt(regexText('Filesystem type ext*')), send: 'ls (xen/xvda)/\r', timeoutSeconds: 2 },
  { name: '`ls (xen/xvda)/` lists hello.txt', expect: thenPrompt(regexText('hello.txt')), send: 'cat (xen/xvda)/hello.txt\r', timeoutSeconds: 2 },
  { name: '`cat (xen/xvda)/hello.txt` prints the file', expect: thenPrompt(regexText(GRUB_DISK_HELLO.trimEnd())), send: 'halt\r', timeoutSeconds: 2 },
];

/**
 * Debian's GRUB for Xen with the pipeline's disk: the sample config, its kernel and disk given
 * from the fixture cache wherever it is (XENLAB_FIXTURES_CACHE), the disk built afresh.
 */
const GRUB_PROFILE: GuestProfile = {
  name: 'grub',
  description: "Debian's GRUB for Xen (grub-x86_64-xen.bin): XenStore, blkfront on xenlab's blkback, an ext4 disk, its prompt driven by a console script",
  config: 'fixtures/configs/grub.cfg',
  expectEnd: 'poweroff',
  timeoutSeconds: 10,
  checks: GRUB_CHECKS,
  fixture: 'grub-xen',
  async prepare() {
    const { requireFixture } = await import('../fixtures/pipeline/cache.js');
    const { buildGrubDisk, grubDiskPath } = await import('../fixtures/pipeline/grub-disk.js');
    const kernel = (await requireFixture('grub-xen')).file('x86_64-xen');
    const disk = (await buildGrubDisk({ out: grubDiskPath() })).out;
    return [`kernel=${kernel}`, `disk=[ "format=raw,vdev=xvda,access=ro,target=${disk}" ]`];
  },
};

/**
 * Debian's Linux cloud kernel with the pipeline's TAP initramfs (docs/linux.md): the sample
 * config fixtures/configs/linux-pv.cfg (a disk and a vif on xenbr0), booted with the TAP init
 * instead of the shell and two vCPUs. Its /init prints TAP over hvc0: userspace, /proc/cpuinfo
 * against the vCPUs given, /sys/hypervisor, the frontends' modules, ext4 on xvda (read a known
 * file, write one and sync), eth0 by DHCP from the built-in gateway and a ping; then poweroff -f.
 * About 2 G guest instructions.
 */
const LINUX_VCPUS = 2;
const LINUX_PROFILE: GuestProfile = {
  name: 'linux',
  description: "Debian's Linux cloud kernel, 2 vCPUs: userspace TAP over hvc0 — frontends, ext4 on blkfront, DHCP and ping over netfront",
  config: 'fixtures/configs/linux-pv.cfg',
  // cryptomgr.notests: the kernel's crypto self-tests (a third of the boot's instructions) test
  // its crypto code, not its use of the Xen ABI.
  overrides: [`vcpus=${LINUX_VCPUS}`, `extra="console=hvc0 xenlab.vcpus=${LINUX_VCPUS} cryptomgr.notests"`],
  expectEnd: 'poweroff',
  timeoutSeconds: 60,
  panics: ['Kernel panic', 'BUG:', 'Oops', 'general protection fault'],
  fixture: 'kernel',
  async prepare() {
    const { buildLinuxGuest } = await import('../fixtures/pipeline/linux-guest.js');
    const m = await buildLinuxGuest();
    return [`kernel=${m.kernel}`, `ramdisk=${m.initrd}`, `disk=[ "format=raw,vdev=xvda,access=rw,target=${m.disk}" ]`];
  },
};

/**
 * The probe guests (fixtures/guests/README.md and docs/probe-guests.md say what each tests),
 * GRUB (docs/grub.md) and Linux (docs/linux.md).
 */
export const BUILTIN_PROFILES: readonly GuestProfile[] = [
  probe('probe-basics', 'xen_version, start_info, P2M/M2P, memory_op, console_io, error codes, first traps'),
  probe('probe-events', 'event channels (IPI, masking, interdomain loopback), VIRQ_TIMER, block, poll, pvclock'),
  probe('probe-traps', 'bounce frames for every exception, iret, user mode and the syscall callback, #NM, segment bases, MSRs, debug registers, I/O ports'),
  probe('probe-mmu', 'PV MMU: pinning, refused writable mappings of page tables, updates and flushes, M2P, base pointers, LDT', {
    notApplicable: { 'pv.strict': "it asks for what Xen must refuse (writable mappings of pinned tables, bad MFNs, bad pins) to test Xen's errors" },
  }),
  probe('probe-grants', 'grant tables v1/v2: setup, copy with its statuses, status frames, host mappings, unmap_and_replace'),
  probe('probe-multicall', 'multicall: per-entry results, partial failure, -ENOSYS, nesting refused, bad lists, lazy-MMU batches', {
    notApplicable: { 'pv.strict': 'its entries with bad arguments (mmu_update command 7, update_va_mapping in Xen\'s area) are refused on purpose, to test per-entry errors' },
  }),
  probe('probe-frontend', 'a minimal blkfront on xvda: grants, an unbound port, the ring, xenbus states; reads, a write read back, two reads at once; a clean close'),
  probe('probe-console', "the console's input ring: lines typed by a console script, one three times the ring's size, CR, two at once", {
    overrides: ['extra=tap'],
    script: CONSOLE_SCRIPT,
  }),
  shutdown('poweroff', 'poweroff'),
  shutdown('reboot', 'reboot'),
  shutdown('crash', 'crash'),
  shutdown('watchdog', 'watchdog'),
  GRUB_PROFILE,
  LINUX_PROFILE,
];
