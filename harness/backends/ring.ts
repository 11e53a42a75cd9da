/**
 * The back end of an io/ring.h shared ring (reference §8.7), for any split driver: the
 * producer/consumer bookkeeping that Xen's RING_* macros do for a backend, over the granted
 * ring pages (one or several, not contiguous in machine memory).
 *
 *  - Private state (`reqCons`, `rspProdPvt`) is ours; the shared header is guest memory that we
 *    read once per decision and never trust: `requestsAvailable` refuses a `req_prod` that
 *    claims more requests than the ring holds (RING_REQUEST_PROD_OVERFLOW), and the consume loop
 *    stops where the ring would overrun its unanswered responses (RING_REQUEST_CONS_OVERFLOW).
 *  - `copyRequest` takes the whole slot once into a private buffer (RING_COPY_REQUEST): every
 *    check and use of the request reads that copy, never the shared slot again.
 *  - `pushResponses` publishes responses and says whether the frontend wants an event
 *    (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY); `finalCheckForRequests` re-arms req_event before
 *    the backend goes idle (RING_FINAL_CHECK_FOR_REQUESTS).
 *
 * Single-threaded and synchronous, so Xen's barriers are program order here.
 */
import { ringSlots } from '../../abi/public/io/ring.js';

const PAGE = 4096;
/** Offsets in the shared header (struct <name>_sring, io/ring.h). */
const REQ_PROD = 0;
const REQ_EVENT = 4;
const RSP_PROD = 8;
const RSP_EVENT = 12;
/** The slots start after the 64-byte header. */
export const RING_HEADER = 64;

/**
 * Bytes spread over several pages (a multi-page ring's grants), addressed as one range. Reads
 * and writes may straddle a page boundary; nothing outside `pages.length * 4096` is touched.
 */
export class PagedBytes {
  readonly length: number;
  constructor(private readonly pages: readonly DataView[]) {
    for (const p of pages) if (p.byteLength < PAGE) throw new Error(`ring page of ${p.byteLength} bytes`);
    this.length = pages.length * PAGE;
  }

  private check(off: number, n: number): void {
    if (!(Number.isInteger(off) && off >= 0 && n >= 0 && off + n <= this.length)) {
      throw new Error(`ring access [${off}, +${n}) outside ${this.length} bytes`);
    }
  }

  read(off: number, out: Uint8Array): void {
    this.check(off, out.length);
    let at = 0;
    while (at < out.length) {
      const pos = off + at;
      const page = this.pages[Math.floor(pos / PAGE)] as DataView;
      const po = pos % PAGE;
      const n = Math.min(PAGE - po, out.length - at);
      out.set(new Uint8Array(page.buffer, page.byteOffset + po, n), at);
      at += n;
    }
  }

  write(off: number, data: Uint8Array): void {
    this.check(off, data.length);
    let at = 0;
    while (at < data.length) {
      const pos = off + at;
      const page = this.pages[Math.floor(pos / PAGE)] as DataView;
      const po = pos % PAGE;
      const n = Math.min(PAGE - po, data.length - at);
      new Uint8Array(page.buffer, page.byteOffset + po, n).set(data.subarray(at, at + n));
      at += n;
    }
  }

  /** A 32-bit little-endian word in the first page (the ring header). */
  u32(off: number): number {
    return (this.pages[0] as DataView).getUint32(off, true);
  }

  setU32(off: number, v: number): void {
    (this.pages[0] as DataView).setUint32(off, v >>> 0, true);
  }
}

export class BackRing {
  /** Slots in the ring (a power of two). */
  readonly size: number;
  /** Our next request to consume (free-running). */
  reqCons = 0;
  /** Our next response slot (free-running); published as rsp_prod by pushResponses. */
  rspProdPvt = 0;

  /**
   * `bytes`: the ring pages; `slotSize`: the size of the union of request and response
   * (`<name>_sring_entry`). The frontend initialised the header (SHARED_RING_INIT); a backend
   * attaching starts from zero (BACK_RING_INIT), or from `start` when reattaching.
   */
  constructor(
    readonly bytes: PagedBytes,
    readonly slotSize: number,
    start = 0,
  ) {
    this.size = ringSlots(bytes.length, RING_HEADER, slotSize);
    if (this.size === 0) throw new Error(`a ring of ${bytes.length} bytes holds no ${slotSize}-byte slot`);
    this.reqCons = start >>> 0;
    this.rspProdPvt = start >>> 0;
  }

  get reqProd(): number {
    return this.bytes.u32(REQ_PROD);
  }

  /**
   * The frontend's req_prod, read once, if it is believable: undefined when it claims more
   * unanswered requests than the ring has slots (RING_REQUEST_PROD_OVERFLOW: the ring is broken).
   */
  requestsAvailable(): number | undefined {
    const rp = this.reqProd;
    if (((rp - this.rspProdPvt) >>> 0) > this.size) return undefined;
    return rp;
  }

  /** True when consuming index `cons` would overwrite a response not yet produced (RING_REQUEST_CONS_OVERFLOW). */
  consOverflow(cons: number): boolean {
    return ((cons - this.rspProdPvt) >>> 0) >= this.size;
  }

  /** RING_HAS_UNCONSUMED_REQUESTS for a backend. */
  unconsumedRequests(): number {
    const req = (this.reqProd - this.reqCons) >>> 0;
    const rsp = this.size - ((this.reqCons - this.rspProdPvt) >>> 0);
    return Math.min(req, rsp);
  }

  /** Byte offset of slot `idx` (free-running index). */
  slotOffset(idx: number): number {
    return RING_HEADER + (idx & (this.size - 1)) * this.slotSize;
  }

  /** RING_COPY_REQUEST: a private copy of the request at `idx` (`n` bytes of its slot). */
  copyRequest(idx: number, n: number): Uint8Array {
    if (n > this.slotSize) throw new Error(`request of ${n} bytes in a ${this.slotSize}-byte slot`);
    const out = new Uint8Array(n);
    this.bytes.read(this.slotOffset(idx), out);
    return out;
  }

  /** Writes `rsp` into the next response slot (RING_GET_RESPONSE at rsp_prod_pvt) and advances. */
  putResponse(rsp: Uint8Array): void {
    if (rsp.length > this.slotSize) throw new Error(`response of ${rsp.length} bytes in a ${this.slotSize}-byte slot`);
    this.bytes.write(this.slotOffset(this.rspProdPvt), rsp);
    this.rspProdPvt = (this.rspProdPvt + 1) >>> 0;
  }

  /**
   * RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: publishes rsp_prod and returns whether the frontend
   * asked to be notified (its rsp_event lies in the newly published range).
   */
  pushResponses(): boolean {
    const old = this.bytes.u32(RSP_PROD);
    const next = this.rspProdPvt;
    this.bytes.setU32(RSP_PROD, next);
    const event = this.bytes.u32(RSP_EVENT);
    return ((next - event) >>> 0) < ((next - old) >>> 0);
  }

  /**
   * RING_FINAL_CHECK_FOR_REQUESTS: true when requests are waiting; otherwise sets req_event so
   * the next request notifies us, and looks once more.
   */
  finalCheckForRequests(): boolean {
    if (this.unconsumedRequests() > 0) return true;
    this.bytes.setU32(REQ_EVENT, (this.reqCons + 1) >>> 0);
    return this.unconsumedRequests() > 0;
  }
}
