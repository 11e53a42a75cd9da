/**
 * What `xenlab xenstore ls|read|write|rm|watch` do, against a running instance's socket
 * (socket.ts): the library half of harness/cli/commands/xenstore.ts, also used by tests.
 * Output follows Xen's xenstore-ls / xenstore-read / xenstore-watch.
 */
import { XsSocketClient } from './socket.js';
import { XS_DIRECTORY, XS_ERROR, XS_GET_PERMS, XS_READ, XS_RM, XS_WATCH, XS_WRITE, bytes, concatBytes, latin1, splitStrings, strings, type XsMessage } from './wire.js';

/** An error reply, as the tools print it ("ENOENT"). */
export class XsToolError extends Error {
  constructor(
    readonly errno: string,
    what: string,
  ) {
    super(`${what}: ${errno}`);
  }
}

function ok(r: XsMessage, what: string): Uint8Array {
  if (r.type === XS_ERROR) throw new XsToolError(splitStrings(r.payload)[0] ?? 'EINVAL', what);
  return r.payload;
}

/** xenstore-ls's quoting: printable ASCII as is, `"` and `\` escaped, the rest as \xNN. */
export function quoteValue(b: Uint8Array): string {
  let s = '';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) s += `\\${String.fromCharCode(c)}`;
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return s;
}

/** The tree below `path` as xenstore-ls prints it (one space of indent per level; `perms` adds "(n0,r1)"). */
export async function xsLs(c: XsSocketClient, path: string, o: { perms?: boolean } = {}): Promise<string> {
  const lines: string[] = [];
  const walk = async (p: string, depth: number): Promise<void> => {
    const names = splitStrings(ok(await c.request(XS_DIRECTORY, strings(p)), `DIRECTORY ${p}`));
    for (const n of names) {
      const full = p === '/' ? `/${n}` : `${p}/${n}`;
      const v = await c.request(XS_READ, strings(full));
      const value = v.type === XS_ERROR ? '' : quoteValue(v.payload);
      let perm = '';
      if (o.perms === true) {
        const pr = await c.request(XS_GET_PERMS, strings(full));
        if (pr.type !== XS_ERROR) perm = `  (${splitStrings(pr.payload).join(',')})`;
      }
      lines.push(`${' '.repeat(depth)}${n} = "${value}"${perm}`);
      await walk(full, depth + 1);
    }
  };
  await walk(path, 0);
  return lines.map((l) => `${l}\n`).join('');
}

export async function xsRead(c: XsSocketClient, path: string): Promise<string> {
  return latin1(ok(await c.request(XS_READ, strings(path)), `READ ${path}`));
}

export async function xsWrite(c: XsSocketClient, path: string, value: string): Promise<void> {
  ok(await c.request(XS_WRITE, concatBytes(bytes(`${path}\0`), new TextEncoder().encode(value))), `WRITE ${path}`);
}

export async function xsRm(c: XsSocketClient, path: string): Promise<void> {
  ok(await c.request(XS_RM, strings(path)), `RM ${path}`);
}

/** Watches `path`, calling `onEvent` for each event (the initial one first) until `count` were seen. */
export async function xsWatch(c: XsSocketClient, path: string, count: number, onEvent: (path: string) => void): Promise<void> {
  let seen = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  c.onEvent = (p) => {
    if (seen >= count) return;
    seen++;
    onEvent(p);
    if (seen >= count) done();
  };
  ok(await c.request(XS_WATCH, strings(path, 'xenlab')), `WATCH ${path}`);
  await finished;
}
