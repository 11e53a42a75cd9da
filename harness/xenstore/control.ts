/**
 * XS_CONTROL sub-commands (xenstored_control.c), for privileged callers: the command word, then
 * its arguments, each NUL-terminated. Supported as xenstored does: `check` (OK), `log on|off`
 * (turns the daemon's trace on or off), `print STRING` (into the trace), `quota` (the quota
 * table), `quota set NAME VALUE`, `quota DOMID` (that domain's usage), `quota-soft` (and `set
 * memory`), `help`. An unknown command or wrong argument count is EINVAL, as in xenstored;
 * `logfile`, `memreport` and `live-update` concern xenstored's own process and are not offered
 * (EINVAL, like any command this daemon does not list in `help`).
 */
import type { Conn, Quotas } from './store.js';
import { splitStrings, strings, type XsErrno } from './wire.js';
import type { Xenstored } from './xenstored.js';

const OK = strings('OK');

/** Hard quotas: CONTROL name, Quotas key, description (xenstored's hard_quotas table). */
const HARD: readonly (readonly [string, keyof Quotas, string])[] = [
  ['nodes', 'nodes', 'Nodes per domain'],
  ['watches', 'watches', 'Watches per domain'],
  ['transactions', 'transactions', 'Transactions per domain'],
  ['outstanding', 'outstanding', 'Outstanding requests per domain'],
  ['transaction-nodes', 'transactionNodes', 'Max. number of accessed nodes per transaction'],
  ['memory', 'memory', 'Total Xenstore memory per domain (error level)'],
  ['node-size', 'nodeSize', 'Max. size of a node'],
  ['path-max', 'pathMax', 'Max. length of a node path'],
  ['permissions', 'permissions', 'Max. number of permissions per node'],
];
const SOFT: readonly (readonly [string, keyof Quotas, string])[] = [['memory', 'memorySoft', 'Total Xenstore memory per domain (warning level)']];

const COMMANDS: readonly (readonly [string, string])[] = [
  ['check', ''],
  ['log', 'on|off'],
  ['print', '<string>'],
  ['quota', '[set <name> <val>|<domid>]'],
  ['quota-soft', '[set <name> <val>]'],
  ['help', ''],
];

/** Runs one CONTROL message; the reply payload or an errno. */
export function controlCommand(d: Xenstored, conn: Conn, p: Uint8Array): Uint8Array | XsErrno {
  if (conn.unprivileged) return 'EACCES';
  if (p.length === 0 || p.indexOf(0) < 0) return 'EINVAL';
  const v = splitStrings(p);
  const cmd = v[0] as string;
  const args = v.slice(1);
  const table = (rows: readonly (readonly [string, keyof Quotas, string])[]): Uint8Array =>
    strings(`Quota settings:\n${rows.map(([n, k, what]) => `${n.padEnd(17)}: ${String(d.store.quotas[k]).padStart(8)} ${what}\n`).join('')}`);
  const set = (rows: readonly (readonly [string, keyof Quotas, string])[], a: readonly string[]): Uint8Array | XsErrno => {
    if (a.length !== 2) return 'EINVAL';
    const val = Number.parseInt(a[1] as string, 10);
    if (!(val >= 1)) return 'EINVAL';
    const row = rows.find(([n]) => n === a[0]);
    if (row === undefined) return 'EINVAL';
    d.store.quotas[row[1]] = row[1] === 'pathMax' ? Math.min(val, 2048) : val;
    return OK;
  };
  switch (cmd) {
    case 'check':
      return args.length === 0 ? OK : 'EINVAL';
    case 'log':
      if (args.length !== 1) return 'EINVAL';
      if (args[0] === 'on') d.tracing = true;
      else if (args[0] === 'off') d.tracing = false;
      else return 'EINVAL';
      return OK;
    case 'print':
      if (args.length !== 1) return 'EINVAL';
      d.trace(`control: ${args[0] as string}`);
      return OK;
    case 'quota': {
      if (args.length === 0) return table(HARD);
      if (args[0] === 'set') return set(HARD, args.slice(1));
      if (args.length !== 1) return 'EINVAL';
      const domid = Number.parseInt(args[0] as string, 10) >>> 0;
      const dom = d.store.findDomain(domid);
      if (dom === undefined) return 'ENOENT';
      const ent = (name: string, n: number): string => `${name.padEnd(16)}: ${String(n).padStart(8)}\n`;
      const ta = dom.conn?.transactions.length ?? 0;
      return strings(`Domain ${domid}:\n${ent('nodes', dom.nbentry)}${ent('watches', dom.nbwatch)}${ent('transactions', ta)}${ent('outstanding', dom.nboutstanding)}${ent('memory', 0)}`);
    }
    case 'quota-soft':
      if (args.length === 0) return table(SOFT);
      if (args[0] === 'set') return set(SOFT, args.slice(1));
      return 'EINVAL';
    case 'help':
      if (args.length !== 0) return 'EINVAL';
      return strings(COMMANDS.map(([c, a]) => `${c}\t${a}\n`).join(''));
    default:
      return 'EINVAL';
  }
}
