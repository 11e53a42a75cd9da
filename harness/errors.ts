/**
 * The error vocabulary shared by everything that runs on the host.
 *
 * xenlab keeps three kinds of failure apart (../shared/STYLE.md §4):
 *  - guest errors never become JS exceptions (they are Xen errnos or architectural faults);
 *  - host bugs are ordinary exceptions and are reported as a xenlab crash;
 *  - user errors (a flag, a file, a missing fixture) are a `UserError`: one line naming the
 *    file or option, a stable `code`, a non-zero exit, and no stack trace unless `--debug`.
 *
 * This module imports nothing, so any host-side layer (harness/, fixtures/pipeline/) may use it.
 */

/** Stable codes for user errors; tests and scripts match on these, never on the wording. */
export type UserErrorCode =
  | 'usage'
  | 'file-not-found'
  | 'bad-file'
  | 'bad-option'
  | 'fixture-missing'
  | 'fixture-unavailable'
  | 'tool-failed';

/** Exit status per code: 2 for command-line usage (as yargs and most Unix tools do), 1 otherwise. */
const EXIT_STATUS: Readonly<Record<UserErrorCode, number>> = {
  usage: 2,
  'file-not-found': 1,
  'bad-file': 1,
  'bad-option': 2,
  'fixture-missing': 1,
  'fixture-unavailable': 1,
  'tool-failed': 1,
};

export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(
    readonly code: UserErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get exitStatus(): number {
    return EXIT_STATUS[this.code];
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

/** The message of anything thrown, for one-line diagnostics. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
