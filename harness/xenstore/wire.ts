/**
 * The XenStore wire protocol (io/xs_wire.h, docs/misc/xenstore.txt): the 16-byte `xsd_sockmsg`
 * header (type, req_id, tx_id, len; little-endian u32s), at most XENSTORE_PAYLOAD_MAX payload
 * bytes, payloads made of NUL-terminated strings, errors sent as the errno *name*.
 *
 * The same framing runs over a domain's ring page (ring.ts), a host Unix socket (socket.ts) and
 * in-process host connections (host.ts). `MessageReader` reassembles messages from a byte stream
 * the way xenstored's handle_input does: the header first, then exactly `len` payload bytes; a
 * header announcing more than XENSTORE_PAYLOAD_MAX bytes is a protocol violation that ends the
 * connection (xenstored's `ignore_connection(conn, XENSTORE_ERROR_PROTO)`), never an exception.
 * Everything else about a message (unknown type, missing NUL, wrong argument count) is decided
 * by the daemon with an ERROR reply, as xenstored does.
 */
import {
  XENSTORE_PAYLOAD_MAX,
  XSD_ERRORS,
  XS_CONTROL,
  XS_DIRECTORY,
  XS_DIRECTORY_PART,
  XS_ERROR,
  XS_GET_DOMAIN_PATH,
  XS_GET_PERMS,
  XS_INTRODUCE,
  XS_IS_DOMAIN_INTRODUCED,
  XS_MKDIR,
  XS_READ,
  XS_RELEASE,
  XS_RESET_WATCHES,
  XS_RESUME,
  XS_RM,
  XS_SET_PERMS,
  XS_SET_TARGET,
  XS_TRANSACTION_END,
  XS_TRANSACTION_START,
  XS_UNWATCH,
  XS_WATCH,
  XS_WATCH_EVENT,
  XS_WRITE,
} from '../../abi/public/io/xs-wire.js';

export * from '../../abi/public/io/xs-wire.js';

/** Size of `struct xsd_sockmsg`. */
export const XS_HEADER_SIZE = 16;

/** An errno name xenstored may send in an XS_ERROR payload (xs_wire.h `xsd_errors`). */
export type XsErrno =
  | 'EINVAL'
  | 'EACCES'
  | 'EEXIST'
  | 'EISDIR'
  | 'ENOENT'
  | 'ENOMEM'
  | 'ENOSPC'
  | 'EIO'
  | 'ENOTEMPTY'
  | 'ENOSYS'
  | 'EROFS'
  | 'EBUSY'
  | 'EAGAIN'
  | 'EISCONN'
  | 'E2BIG'
  | 'EPERM';

/** True for the names of xs_wire.h's `xsd_errors` table. */
export function isXsErrno(s: string): s is XsErrno {
  return XSD_ERRORS.includes(s);
}

/** The message type names of xs_wire.h, by number (xenstored's `sockmsg_string`). */
export const XS_TYPE_NAMES: Readonly<Record<number, string>> = {
  [XS_CONTROL]: 'CONTROL',
  [XS_DIRECTORY]: 'DIRECTORY',
  [XS_READ]: 'READ',
  [XS_GET_PERMS]: 'GET_PERMS',
  [XS_WATCH]: 'WATCH',
  [XS_UNWATCH]: 'UNWATCH',
  [XS_TRANSACTION_START]: 'TRANSACTION_START',
  [XS_TRANSACTION_END]: 'TRANSACTION_END',
  [XS_INTRODUCE]: 'INTRODUCE',
  [XS_RELEASE]: 'RELEASE',
  [XS_GET_DOMAIN_PATH]: 'GET_DOMAIN_PATH',
  [XS_WRITE]: 'WRITE',
  [XS_MKDIR]: 'MKDIR',
  [XS_RM]: 'RM',
  [XS_SET_PERMS]: 'SET_PERMS',
  [XS_WATCH_EVENT]: 'WATCH_EVENT',
  [XS_ERROR]: 'ERROR',
  [XS_IS_DOMAIN_INTRODUCED]: 'IS_DOMAIN_INTRODUCED',
  [XS_RESUME]: 'RESUME',
  [XS_SET_TARGET]: 'SET_TARGET',
  [XS_RESET_WATCHES]: 'RESET_WATCHES',
  [XS_DIRECTORY_PART]: 'DIRECTORY_PART',
};

/** The name of message type `t`, or `**UNKNOWN**` as xenstored prints it. */
export function typeName(t: number): string {
  return XS_TYPE_NAMES[t] ?? '**UNKNOWN**';
}

/** One message: the header fields and the payload (exactly `len` bytes). */
export interface XsMessage {
  readonly type: number;
  readonly reqId: number;
  readonly txId: number;
  readonly payload: Uint8Array;
}

/** Header plus payload as bytes. Throws (a host bug) for a payload over the protocol limit. */
export function encodeMessage(m: XsMessage): Uint8Array {
  if (m.payload.length > XENSTORE_PAYLOAD_MAX) throw new Error(`xenstore: encoding a ${m.payload.length}-byte payload (limit ${XENSTORE_PAYLOAD_MAX})`);
  const out = new Uint8Array(XS_HEADER_SIZE + m.payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, m.type >>> 0, true);
  dv.setUint32(4, m.reqId >>> 0, true);
  dv.setUint32(8, m.txId >>> 0, true);
  dv.setUint32(12, m.payload.length, true);
  out.set(m.payload, XS_HEADER_SIZE);
  return out;
}

/** The header fields of 16 bytes. */
export function decodeHeader(b: Uint8Array): { type: number; reqId: number; txId: number; len: number } {
  const dv = new DataView(b.buffer, b.byteOffset, XS_HEADER_SIZE);
  return { type: dv.getUint32(0, true), reqId: dv.getUint32(4, true), txId: dv.getUint32(8, true), len: dv.getUint32(12, true) };
}

const enc = new TextEncoder();
const dec = new TextDecoder('latin1');

/**
 * Bytes of a protocol string: one byte per char (latin1), so guest bytes decoded with `latin1`
 * go back unchanged; a string with chars above U+00FF (host input only) is sent as UTF-8.
 */
export function bytes(s: string): Uint8Array {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return enc.encode(s);
  return fromLatin1(s);
}

/** A payload of NUL-terminated strings: `strings("a", "b")` is "a\0b\0". */
export function strings(...parts: readonly string[]): Uint8Array {
  return bytes(parts.map((p) => `${p}\0`).join(''));
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Bytes as a string, one char per byte (latin1): keeps arbitrary guest bytes exactly. */
export function latin1(b: Uint8Array): string {
  return dec.decode(b);
}

/** A string of latin1 chars back to bytes. */
export function fromLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/**
 * The NUL-terminated strings of a payload, in order (xenstored's get_strings): bytes after the
 * last NUL are not a string and are not returned; `count` is the number of NULs.
 */
export function splitStrings(p: Uint8Array): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) {
      out.push(latin1(p.subarray(start, i)));
      start = i + 1;
    }
  }
  return out;
}

/**
 * The payload as exactly one NUL-terminated string (xenstored's `onearg`): undefined when the
 * payload is empty or its first NUL is not its last byte.
 */
export function oneArg(p: Uint8Array): string | undefined {
  if (p.length === 0) return undefined;
  const nul = p.indexOf(0);
  if (nul !== p.length - 1) return undefined;
  return latin1(p.subarray(0, nul));
}

/** Result of feeding bytes to a reader. */
export type ReadResult = { kind: 'message'; message: XsMessage } | { kind: 'partial' } | { kind: 'too-long'; len: number };

/**
 * Reassembles messages from a byte stream: feed bytes with `push`, take complete messages with
 * `next`. A header with `len` > XENSTORE_PAYLOAD_MAX stops the reader ('too-long'): the
 * connection is to be dropped, as xenstored does.
 */
export class MessageReader {
  private readonly header = new Uint8Array(XS_HEADER_SIZE);
  private headerUsed = 0;
  private payload: Uint8Array | undefined;
  private payloadUsed = 0;
  private hdr: { type: number; reqId: number; txId: number; len: number } | undefined;
  private failed: number | undefined;

  /** How many more bytes the current message needs (header or payload). */
  wanted(): number {
    if (this.failed !== undefined) return 0;
    if (this.hdr === undefined) return XS_HEADER_SIZE - this.headerUsed;
    return this.hdr.len - this.payloadUsed;
  }

  /** True between messages (no partial header or payload held). */
  idle(): boolean {
    return this.hdr === undefined && this.headerUsed === 0;
  }

  /**
   * Takes at most `wanted()` bytes of `b` (the caller reads no more than that from its
   * transport, as xenstored reads the header and then exactly the payload); returns how many it
   * took and the state after them.
   */
  push(b: Uint8Array): { used: number; result: ReadResult } {
    if (this.failed !== undefined) return { used: 0, result: { kind: 'too-long', len: this.failed } };
    let used = 0;
    if (this.hdr === undefined) {
      const n = Math.min(b.length, XS_HEADER_SIZE - this.headerUsed);
      this.header.set(b.subarray(0, n), this.headerUsed);
      this.headerUsed += n;
      used += n;
      if (this.headerUsed < XS_HEADER_SIZE) return { used, result: { kind: 'partial' } };
      const h = decodeHeader(this.header);
      if (h.len > XENSTORE_PAYLOAD_MAX) {
        this.failed = h.len;
        return { used, result: { kind: 'too-long', len: h.len } };
      }
      this.hdr = h;
      this.payload = new Uint8Array(h.len);
      this.payloadUsed = 0;
    }
    const h = this.hdr;
    const payload = this.payload as Uint8Array;
    const n = Math.min(b.length - used, h.len - this.payloadUsed);
    payload.set(b.subarray(used, used + n), this.payloadUsed);
    this.payloadUsed += n;
    used += n;
    if (this.payloadUsed < h.len) return { used, result: { kind: 'partial' } };
    this.hdr = undefined;
    this.payload = undefined;
    this.headerUsed = 0;
    this.payloadUsed = 0;
    return { used, result: { kind: 'message', message: { type: h.type, reqId: h.reqId, txId: h.txId, payload } } };
  }

  /** Forgets a partial message (ring reset on INTRODUCE, RESET). */
  reset(): void {
    this.hdr = undefined;
    this.payload = undefined;
    this.headerUsed = 0;
    this.payloadUsed = 0;
    this.failed = undefined;
  }
}

/** Payload of a reply to a client: an ERROR message carries the errno name and a NUL. */
export function errorPayload(e: XsErrno): Uint8Array {
  return strings(e);
}
