/**
 * The data every compression sample holds: 32 KiB that compress like a kernel (text, tables,
 * and x86-like code with CALL/JMP rel32 operands, so xz's BCJ filter has work to do), made by a
 * fixed xorshift generator so the committed samples and the host's tools agree on it.
 */
export const SAMPLE_SIZE = 32 * 1024;

/** sha256 of `sampleData()`; the committed samples decompress to it. */
export const SAMPLE_SHA256 = '39ef64447720c6892fe27ac157ad2116f16cd983111636dd86c10c5f4728138a';

export function sampleData(): Uint8Array {
  const out = new Uint8Array(SAMPLE_SIZE);
  let x = 0x2545f491;
  const rand = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const words = ['xen', 'event', 'channel', 'grant', 'table', 'hypercall', 'page', 'start_info', 'shared_info', 'vcpu'];
  let at = 0;
  while (at < SAMPLE_SIZE) {
    const kind = rand() % 3;
    if (kind === 0) {
      // A line of text.
      const line = Array.from({ length: 4 + (rand() % 6) }, () => words[rand() % words.length]).join(' ') + '\n';
      for (let i = 0; i < line.length && at < SAMPLE_SIZE; i++) out[at++] = line.charCodeAt(i);
    } else if (kind === 1) {
      // Code: a few ordinary bytes, then CALL or JMP with a small signed displacement.
      for (let i = 0; i < 3 + (rand() % 5) && at < SAMPLE_SIZE; i++) out[at++] = 0x48 + (rand() % 8);
      const rel = (rand() % 0x20000) - 0x10000;
      const op = [rand() % 2 === 0 ? 0xe8 : 0xe9, rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >> 24) & 0xff];
      for (const b of op) if (at < SAMPLE_SIZE) out[at++] = b;
    } else {
      // A table of small little-endian words.
      for (let i = 0; i < 8 && at + 4 <= SAMPLE_SIZE; i++, at += 4) out[at] = rand() % 16;
    }
  }
  return out;
}
