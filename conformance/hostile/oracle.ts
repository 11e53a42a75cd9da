/**
 * The hostile-backend oracle: what one boot under a fault plan must still get right.
 *
 *  - The domain ends as the profile expects within the profile's guest-time bound
 *    (`timeoutSeconds`): not crash, timeout (hung), stalled, instruction-limit. After a plan with
 *    error-class faults (plan.ts ERROR_CLASS) a console-script guest may also stop answering its
 *    script (expect-timeout: it printed an error instead of what the step waits for) — a hang
 *    looks the same to the script, so for such guests the oracle cannot tell them apart.
 *  - No kernel panic on the console: none of the profile's `panics` patterns (Linux: "Kernel
 *    panic", "BUG:", "Oops", "general protection fault").
 *  - Without error-class faults every test passes: the guest's own (its TAP or its script steps,
 *    which read and compare data end to end: Linux's sha256 of known.txt, GRUB's `cat`) and the
 *    harness's ABI checks. With them, the guest's own tests may fail (it saw I/O errors), the
 *    ABI checks and a complete TAP stream may not — except a check a fault itself misleads (a
 *    response with a wrong id makes the ring check see the guest reuse an id: CHECKS_BROKEN_BY).
 *  - No leak: when the run is over every backend is disconnected and the host holds no grant
 *    mapping of the guest.
 *  - Data end to end: what the guest reported as written and synced (Linux's "written.txt
 *    written and synced", then "umount") is on the disk the backend wrote.
 */
import type { BootWorld } from '../../harness/boot/boot.js';
import { hasErrorFaults, type HostilePlan } from '../../harness/hostile/plan.js';
import type { GuestRecord } from '../../harness/record.js';
import type { GuestProfile } from '../profile.js';

/**
 * ABI checks whose bookkeeping a fault itself breaks, so their verdict says nothing about the
 * guest: after a response with another request's id or an id never handed out, the ring check
 * still counts the real request as unanswered and calls the guest's next use of that id a reuse.
 */
const CHECKS_BROKEN_BY: Readonly<Record<string, readonly string[]>> = {
  duplicate: ['ring.protocol'],
  'unknown-id': ['ring.protocol'],
};

/** Ends that are a crash or a hang whatever the plan. */
const ENDS_THAT_FAIL = new Set(['crash', 'timeout', 'stalled', 'instruction-limit', 'not-booted']);

/** Violations of the oracle (empty: the run passed). */
export function judge(profile: GuestProfile, plan: HostilePlan, g: GuestRecord, extra: { leaks: readonly string[]; data: readonly string[] }): string[] {
  const out: string[] = [];
  if (g.error !== undefined) out.push(`the guest did not boot: ${g.error}`);
  const errors = hasErrorFaults(plan);
  const scriptStopped = errors && profile.checks !== undefined && g.end === 'expect-timeout';
  if (g.end !== profile.expectEnd && !scriptStopped) {
    const bound = `${profile.timeoutSeconds} s of guest time`;
    out.push(`the domain ended with ${g.end}${ENDS_THAT_FAIL.has(g.end) ? '' : ' (not ' + profile.expectEnd + ')'} within ${bound}, expected ${profile.expectEnd}: ${g.detail}`);
  }
  for (const p of profile.panics ?? []) {
    const at = g.console.indexOf(p);
    if (at < 0) continue;
    const line = g.console.slice(g.console.lastIndexOf('\n', at) + 1).split('\n')[0] ?? p;
    out.push(`the console shows "${p}": ${line.trim()}`);
  }
  const kinds = [...(plan.blk?.faults ?? []), ...(plan.net?.faults ?? [])].map((f) => f.kind as string);
  const moot = new Set(kinds.flatMap((k) => CHECKS_BROKEN_BY[k] ?? []));
  for (const t of g.tests) {
    if (t.status !== 'fail') continue;
    if (t.check !== undefined && moot.has(t.check.id)) continue;
    if (t.name.startsWith('the domain ended with')) continue; // judged above, with the plan in mind
    if (errors && t.source === 'guest') continue;
    out.push(`test failed: ${t.name}${t.detail !== undefined ? ` (${t.detail.split('\n')[0]})` : ''}`);
  }
  out.push(...extra.leaks, ...extra.data);
  return out;
}

/** What the backends of the boots still hold once the run is over. */
export function leaksOf(worlds: readonly BootWorld[]): string[] {
  const out: string[] = [];
  worlds.forEach((w, boot) => {
    for (const v of w.vbds) {
      if (v.blkback.connected || v.blkback.mappedGrants > 0) out.push(`leak (boot ${boot + 1}): vbd ${v.path} still holds ${v.blkback.mappedGrants} grant mappings`);
    }
    for (const v of w.vifs) {
      if (v.backend.netback.connected) out.push(`leak (boot ${boot + 1}): vif ${v.backend.path} is still connected`);
    }
    const live = (w.domain.gnttab?.hub.host.maptrack ?? []).filter((m) => m.flags !== 0).length;
    if (live > 0) out.push(`leak (boot ${boot + 1}): the host still maps ${live} grants of domain ${w.domain.id}`);
  });
  return out;
}
