/**
 * The kernel's symbol table recovered from its own kallsyms data, for kernels shipped without a
 * System.map (Debian's linux-image has a placeholder; the real one is in the -dbg package).
 * Layout of Linux 6.1's scripts/kallsyms.c output (CONFIG_KALLSYMS_BASE_RELATIVE, each table
 * 8-aligned): kallsyms_offsets (int32 each), kallsyms_relative_base (u64), kallsyms_num_syms
 * (u32), kallsyms_names (per symbol: a length byte, two when its top bit is set, then that many
 * token numbers), kallsyms_markers (u32 per 256 symbols), kallsyms_token_table (256
 * NUL-terminated strings), kallsyms_token_index (256 u16). The token table is found by its run of
 * single-digit tokens "0\0".."9\0", the rest by walking back from it with checks at every step.
 *
 *   npx vite-node harness/bench/linux-profile.ts symbols VMLINUZ > System.map
 */
import type { Symbol } from './guest-profile.js';

const align8 = (n: number): number => (n + 7) & ~7;

/** Symbols (every type, `type` is kallsyms' letter) from a decompressed kernel's bytes; throws when the tables are not found. */
export function extractKallsyms(b: Uint8Array, absolutePercpu = true): (Symbol & { type: string })[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const digits = new TextEncoder().encode('0\x001\x002\x003\x004\x005\x006\x007\x008\x009\x00');
  for (let p = indexOf(b, digits, 0); p >= 0; p = indexOf(b, digits, p + 1)) {
    const r = tryAt(b, dv, p, absolutePercpu);
    if (r !== undefined) return r;
  }
  throw new Error('kallsyms: tables not found');
}

function indexOf(b: Uint8Array, pat: Uint8Array, from: number): number {
  outer: for (let i = b.indexOf(pat[0] as number, from); i >= 0 && i + pat.length <= b.length; i = b.indexOf(pat[0] as number, i + 1)) {
    for (let k = 1; k < pat.length; k++) if (b[i + k] !== pat[k]) continue outer;
    return i;
  }
  return -1;
}

function tryAt(b: Uint8Array, dv: DataView, p: number, absolutePercpu: boolean): (Symbol & { type: string })[] | undefined {
  // Token table start: 0x30 strings before the "0" token.
  let t = p;
  for (let k = 0; k < 0x30; k++) {
    t--; // the previous string's NUL
    while (t > 0 && b[t - 1] !== 0) t--;
  }
  if (t % 8 !== 0) return undefined;
  const tokens: string[] = [];
  let q = t;
  for (let k = 0; k < 256; k++) {
    const e = b.indexOf(0, q);
    if (e < 0 || e - q > 64) return undefined;
    tokens.push(String.fromCharCode(...b.subarray(q, e)));
    q = e + 1;
  }
  const ti = align8(q);
  if (dv.getUint16(ti, true) !== 0 || dv.getUint16(ti + 0x30 * 2, true) !== p - t) return undefined;
  // Markers: u32 from 0, increasing, one per 256 symbols; between them and the token table either
  // nothing (alignment) or kallsyms_seqs_of_names (3 bytes a symbol; Linux 6.2, backported to 6.1.y).
  for (let x = t - 8; x >= 0 && x > t - 16 * 1024 * 1024; x -= 4) {
    if (dv.getUint32(x, true) !== 0 || x % 4 !== 0) continue;
    let k = 1;
    while (x + 4 * k < t && dv.getUint32(x + 4 * k, true) > dv.getUint32(x + 4 * (k - 1), true)) k++;
    // The run may take in a following seqs_of_names word or two; kallsyms_num_syms decides.
    if (x % 8 === 0 && k >= 8) {
      const r = namesAt(b, dv, x, k, tokens, absolutePercpu);
      if (r !== undefined) return r;
    }
  }
  return undefined;
}

function namesAt(b: Uint8Array, dv: DataView, m: number, markers: number, tokens: readonly string[], absolutePercpu: boolean): (Symbol & { type: string })[] | undefined {
  // kallsyms_num_syms sits 8 bytes before kallsyms_names; names run into the markers, the last
  // marker is the offset of the last group of 256 names (the run may have taken in a few seqs_of_names words after it).
  for (let back = 1; back <= 8 && back < markers; back++) {
  const last = dv.getUint32(m + 4 * (markers - back), true);
  for (let n = m - last; n >= 16 && n > m - last - 65536; n -= 4) {
    const count = dv.getUint32(n - 8, true);
    if (count <= (markers - back) * 256 || count > (markers - back + 1) * 256) continue;
    const names: string[] = [];
    let x = n;
    for (let i = 0; i < count && x < m; i++) {
      let len = b[x++] as number;
      if (len & 0x80) len = (len & 0x7f) | ((b[x++] as number) << 7);
      let s = '';
      for (let k = 0; k < len; k++) s += tokens[b[x + k] as number];
      x += len;
      names.push(s);
    }
    if (names.length !== count || x < m - 8 || x > m) continue;
    const base = dv.getBigUint64(n - 16, true);
    const offsets = n - 16 - align8(count * 4);
    const out: (Symbol & { type: string })[] = [];
    for (let i = 0; i < count; i++) {
      const o = dv.getInt32(offsets + i * 4, true);
      const address = absolutePercpu ? (o >= 0 ? BigInt(o) : base - 1n - BigInt(o)) : base + BigInt(o >>> 0);
      const s = names[i] as string;
      out.push({ address, type: s.slice(0, 1), name: s.slice(1) });
    }
    return out;
  }
  }
  return undefined;
}

