/**
 * The shape every ABI check has (docs/conformance.md): an identity the reports show (id, one-line
 * description, the Xen header or document it checks against), and, per guest run, an observer
 * the run feeds (xenstored's trace, each boot's world once attached and once the guest stopped)
 * that says at the end whether the guest passed, failed, or gave the check nothing to look at.
 */
import type { BootResult, BootWorld } from '../../harness/boot/boot.js';

export interface CheckInfo {
  /** Stable, dotted: `<area>.<rule>`, e.g. `xenbus.frontend-states`. */
  readonly id: string;
  readonly description: string;
  readonly reference: string;
}

export interface CheckOutcome {
  /** A skip's detail starts "not applicable: " and says why. */
  readonly status: 'pass' | 'fail' | 'skip';
  /** For a failure: one line per violation, then what helps to read them. */
  readonly detail?: string;
}

/** One guest run's observer; every method but `result` is optional. */
export interface CheckRun {
  /** A line of xenstored's trace (every message in and out). */
  xenStoreTrace?(line: string): void;
  /** A boot's world, backends attached, before the guest runs (once per boot; restarts boot again). */
  attached?(w: BootWorld): void;
  /**
   * After every scheduler slice of a boot (the world `attached` gave): a check samples live state
   * here, so it must be cheap (rate-limit on the guest clock).
   */
  slice?(): void;
  /** The same world once the guest has stopped, before the backends are detached. */
  ended?(w: BootWorld): void;
  /** What the check found, once the run is over. */
  result(r: BootResult): CheckOutcome;
}

export interface AbiCheck extends CheckInfo {
  /** A fresh observer for one guest run. */
  start(): CheckRun;
}
