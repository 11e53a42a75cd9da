/**
 * Test helpers: an in-memory transport standing in for a domain's ring (1 KiB each way, so flow
 * control matters) and a client that speaks xs_wire over it.
 */
import { XenStore } from '../../../harness/xenstore/host.js';
import { MessageReader, encodeMessage, splitStrings, strings, concatBytes, bytes, latin1, XS_ERROR, XS_WATCH_EVENT, type XsMessage } from '../../../harness/xenstore/wire.js';
import type { Transport } from '../../../harness/xenstore/xenstored.js';

export class PipeTransport implements Transport {
  req: number[] = [];
  rsp: number[] = [];
  flushes = 0;
  droppedWith: { error: number; reason: string } | undefined;
  resets = 0;
  constructor(public capacity = 1024) {}
  read(max: number): Uint8Array {
    const n = Math.min(max, this.req.length);
    return Uint8Array.from(this.req.splice(0, n));
  }
  hasInput(): boolean {
    return this.req.length > 0;
  }
  write(b: Uint8Array): number {
    const n = Math.min(b.length, this.capacity - this.rsp.length);
    for (let i = 0; i < n; i++) this.rsp.push(b[i] as number);
    return n;
  }
  canWrite(): boolean {
    return this.rsp.length < this.capacity;
  }
  flush(): void {
    this.flushes++;
  }
  dropped(error: number, reason: string): void {
    this.droppedWith = { error, reason };
  }
  reset(): void {
    this.resets++;
    this.req = [];
    this.rsp = [];
  }
}

/** A domain's side of the protocol over a PipeTransport. */
export class DomClient {
  private readonly reader = new MessageReader();
  readonly events: { path: string; token: string }[] = [];
  readonly replies: XsMessage[] = [];
  private reqId = 0;
  constructor(
    readonly xs: XenStore,
    readonly t: PipeTransport,
  ) {}

  /** Queues raw bytes as the guest would and lets the daemon run. */
  sendRaw(b: Uint8Array): void {
    for (const x of b) this.t.req.push(x);
    this.xs.pump();
    this.drain();
  }

  /** Moves every complete message out of the response pipe. */
  drain(): void {
    for (;;) {
      if (this.t.rsp.length === 0) break;
      const want = this.reader.wanted();
      const chunk = Uint8Array.from(this.t.rsp.splice(0, want));
      const { result } = this.reader.push(chunk);
      if (result.kind === 'message') {
        if (result.message.type === XS_WATCH_EVENT) {
          const [path, token] = splitStrings(result.message.payload) as [string, string];
          this.events.push({ path, token });
        } else {
          this.replies.push(result.message);
        }
      }
      // Room freed: the daemon may write more.
      this.xs.pump();
    }
  }

  /** Sends one request and returns its reply. */
  request(type: number, payload: Uint8Array, txId = 0): XsMessage {
    const reqId = ++this.reqId;
    this.sendRaw(encodeMessage({ type, reqId, txId, payload }));
    const i = this.replies.findIndex((r) => r.reqId === reqId);
    if (i < 0) throw new Error(`no reply to request ${reqId}`);
    return this.replies.splice(i, 1)[0] as XsMessage;
  }

  /** Reply as a short string: "OK", "ERROR ENOENT", or the payload with NULs as '|'. */
  ask(type: number, ...args: (string | Uint8Array)[]): string {
    const payload = concatBytes(...args.map((a) => (typeof a === 'string' ? bytes(a) : a)));
    const r = this.request(type, payload);
    return show(r);
  }

  takeEvents(): string[] {
    this.drain();
    return this.events.splice(0).map((e) => `${e.path} ${e.token}`);
  }
}

export function show(r: XsMessage): string {
  if (r.type === XS_ERROR) return `ERROR ${splitStrings(r.payload)[0] ?? ''}`;
  const s = latin1(r.payload);
  if (s === 'OK\0') return 'OK';
  return s.replace(/\0/g, '|');
}

export const z = (...s: string[]): Uint8Array => strings(...s);

/** A store with domains 1..n introduced over pipes. */
export function world(domains: number[], quotas = {}): { xs: XenStore; dom: Map<number, DomClient> } {
  const xs = new XenStore({ domainExists: (d) => d === 0 || domains.includes(d), quotas });
  const dom = new Map<number, DomClient>();
  for (const d of domains) {
    const t = new PipeTransport();
    xs.host.mkdir(`/local/domain/${d}`);
    xs.host.setPerms(`/local/domain/${d}`, [`n${d}`]);
    xs.introduce(d, 0x1000 + d, 5, t);
    dom.set(d, new DomClient(xs, t));
  }
  return { xs, dom };
}
