/**
 * Every ABI check the conformance run applies to every guest, in report order
 * (docs/conformance.md has what each means and how to read a failure). A check is one file in
 * this folder exporting an AbiCheck; adding one here is all it takes to run it.
 */
import type { AbiCheck } from './check.js';
import { ringProtocol } from './rings.js';
import { xenbusFrontendStates } from './xenbus.js';
import { pvStrict } from './pv-mmu.js';
import { grantsLifecycle } from './grants.js';
import { evtchnLifecycle } from './evtchn.js';

export const ABI_CHECKS: readonly AbiCheck[] = [xenbusFrontendStates, ringProtocol, grantsLifecycle, evtchnLifecycle, pvStrict];

export type { AbiCheck, CheckInfo, CheckOutcome, CheckRun } from './check.js';
