/**
 * Signal numbers (x86-64, include/uapi/asm-generic/signal.h) and how the runner maps CPU
 * exceptions to them, following Linux's arch/x86/kernel/traps.c: #DE and #MF/#XM are SIGFPE,
 * #UD SIGILL, #BP and #DB SIGTRAP, #SS and #AC SIGBUS, #PF, #GP and the rest SIGSEGV.
 *
 * No signal is ever delivered to a guest handler: a signal whose default action terminates the
 * process ends the run, one whose default is to be ignored (or that the guest set to SIG_IGN)
 * is dropped.
 */
import { AC_VEC, BP, DB, DE, MF, SS, UD, XM } from '../../x86/fault.js';

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGTRAP = 5;
export const SIGABRT = 6;
export const SIGBUS = 7;
export const SIGFPE = 8;
export const SIGKILL = 9;
export const SIGSEGV = 11;
export const SIGPIPE = 13;
export const SIGTERM = 15;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGURG = 23;
export const SIGWINCH = 28;
/** Highest real-time signal number (_NSIG - 1). */
export const SIGRTMAX = 64;

const NAMES = [
  '', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL',
  'SIGUSR1', 'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCHLD', 'SIGCONT',
  'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF',
  'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS',
];

export function signalName(sig: number): string {
  return NAMES[sig] ?? `SIGRT${sig - 32}`;
}

/** Signals whose default action is to do nothing (signal(7)); SIGSTOP-like ones are ignored too. */
export function defaultIgnored(sig: number): boolean {
  return sig === SIGCHLD || sig === SIGCONT || sig === SIGURG || sig === SIGWINCH || (sig >= 19 && sig <= 22);
}

export function signalForVector(vector: number): number {
  switch (vector) {
    case DE:
    case MF:
    case XM:
      return SIGFPE;
    case UD:
      return SIGILL;
    case BP:
    case DB:
      return SIGTRAP;
    case SS:
    case AC_VEC:
      return SIGBUS;
    default:
      return SIGSEGV;
  }
}
