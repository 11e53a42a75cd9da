import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../harness/errors.js';
import {
  CheckpointReader,
  CheckpointWriter,
  DOMAIN_TYPE_X86_PV,
  PFINFO,
  REC,
  decodePageData,
  encodePageData,
  parseCheckpoint,
  writeFileAtomic,
  type PageEntry,
} from '../../../harness/toolstack/checkpoint-stream.js';

const HEADER = { type: DOMAIN_TYPE_X86_PV, pageShift: 12, xenMajor: 4, xenMinor: 17 };
const page = (fill: number): Uint8Array => new Uint8Array(4096).fill(fill);

function sample(): Uint8Array {
  const w = new CheckpointWriter(HEADER);
  w.record(REC.X86_PV_INFO, Uint8Array.of(8, 4, 0, 0, 0, 0, 0, 0));
  w.record(REC.PAGE_DATA, encodePageData([{ pfn: 3, type: PFINFO.NOTAB, data: page(0xaa) }, { pfn: 9, type: PFINFO.XTAB }]));
  w.record(REC.XENLAB_XENSTORE, new TextEncoder().encode('{"a":1}'));
  w.end();
  return w.toBytes();
}

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).code).toBe('bad-file');
    return (e as UserError).message;
  }
  throw new Error('expected the stream to be refused');
};

describe('checkpoint stream framing', () => {
  it('round-trips headers and records, END excluded, bodies exact (odd lengths padded)', () => {
    const { header, records } = parseCheckpoint(sample(), 'x.ckpt');
    expect(header).toEqual(HEADER);
    expect(records.map((r) => r.type)).toEqual([REC.X86_PV_INFO, REC.PAGE_DATA, REC.XENLAB_XENSTORE]);
    expect(new TextDecoder().decode(records[2]?.body)).toBe('{"a":1}');
    expect(sample().length % 8).toBe(0);
  });

  it('gives the same records fed one byte at a time as all at once', () => {
    const bytes = sample();
    const r = new CheckpointReader('stream');
    const got: number[] = [];
    for (let k = 0; k < bytes.length; k++) got.push(...r.push(bytes.subarray(k, k + 1)).map((x) => x.type));
    r.finish();
    expect(got).toEqual([REC.X86_PV_INFO, REC.PAGE_DATA, REC.XENLAB_XENSTORE, REC.END]);
  });

  it('refuses every truncation, naming the file', () => {
    const bytes = sample();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), (n) => {
        const msg = refusal(() => parseCheckpoint(bytes.subarray(0, n), 'cut.ckpt'));
        expect(msg.startsWith('cut.ckpt: ')).toBe(true);
        expect(msg).toMatch(/truncated/);
      }),
    );
  });

  it('refuses any single corrupted byte', () => {
    const bytes = sample();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const bad = bytes.slice();
        bad[at] = (bad[at] as number) ^ x;
        refusal(() => parseCheckpoint(bad, 'flip.ckpt'));
      }),
    );
  });

  it('refuses a dropped record even though every remaining record checks out', () => {
    const w = new CheckpointWriter(HEADER);
    const a = w.record(REC.X86_PV_INFO, new Uint8Array(8));
    w.record(REC.SHARED_INFO, new Uint8Array(16));
    const end = w.end();
    const dropped = new Uint8Array([...w.headers(), ...a, ...end]);
    expect(refusal(() => parseCheckpoint(dropped, 'd.ckpt'))).toMatch(/SHA-256 does not match/);
  });

  it('says what is wrong with the headers: not ours, Xen stream, version, endianness', () => {
    const bytes = sample();
    const v = (f: (d: DataView) => void): Uint8Array => {
      const b = bytes.slice();
      f(new DataView(b.buffer));
      return b;
    };
    expect(refusal(() => parseCheckpoint(v((d) => d.setUint8(0, 0)), 'f'))).toBe('f: not a xenlab checkpoint (bad marker)');
    expect(refusal(() => parseCheckpoint(v((d) => d.setUint32(8, 0x58454e46)), 'f'))).toMatch(/Xen migration stream/);
    expect(refusal(() => parseCheckpoint(v((d) => d.setUint32(12, 2)), 'f'))).toBe('f: checkpoint version 2 is not supported (this xenlab reads version 1)');
    expect(refusal(() => parseCheckpoint(v((d) => d.setUint16(16, 1)), 'f'))).toMatch(/big-endian/);
    expect(refusal(() => parseCheckpoint(v((d) => d.setUint32(24, 2, true)), 'f'))).toMatch(/not x86 PV/);
  });

  it('refuses an unknown mandatory record and skips an unknown optional one', () => {
    const w = new CheckpointWriter(HEADER);
    w.record(0x80001234, new Uint8Array(3));
    w.end();
    expect(parseCheckpoint(w.toBytes(), 'o').records.map((r) => r.type)).toEqual([0x80001234]);
    const m = new CheckpointWriter(HEADER);
    m.record(0x00000777, new Uint8Array(3));
    m.end();
    expect(refusal(() => parseCheckpoint(m.toBytes(), 'm'))).toMatch(/record 1 \(type 0x00000777\) at offset 40: unknown mandatory record type/);
  });

  it('take() hands the stream over in pieces (a migration sender) and keeps no copy', () => {
    const w = new CheckpointWriter(HEADER);
    w.record(REC.X86_PV_INFO, Uint8Array.of(8, 4, 0, 0, 0, 0, 0, 0));
    const parts = [w.take()];
    w.record(REC.PAGE_DATA, encodePageData([{ pfn: 3, type: PFINFO.NOTAB, data: page(0xaa) }, { pfn: 9, type: PFINFO.XTAB }]));
    w.record(REC.XENLAB_XENSTORE, new TextEncoder().encode('{"a":1}'));
    parts.push(w.take());
    w.end();
    parts.push(w.take(), w.take());
    expect(parts.map((p) => p.length)).toEqual([3, 2, 1, 0]);
    expect(Buffer.concat(parts.flat())).toEqual(Buffer.from(sample()));
    expect(() => w.toBytes()).toThrow(/after take/);
    expect(() => w.headers()).toThrow(/after take/);
  });

  it('refuses bytes after END and an absurd body length before reading it', () => {
    expect(refusal(() => parseCheckpoint(new Uint8Array([...sample(), 0, 0, 0, 0, 0, 0, 0, 0]), 'e'))).toMatch(/after the END record/);
    const b = sample().slice(0, 48);
    new DataView(b.buffer).setUint32(44, 0xfffffff0, true);
    expect(refusal(() => new CheckpointReader('big').push(b))).toMatch(/exceeds the limit/);
  });
});

describe('PAGE_DATA', () => {
  it('round-trips pfns, types and contents; types without data carry none', () => {
    const pages: PageEntry[] = [
      { pfn: 0, type: PFINFO.L4TAB_PIN, data: page(1) },
      { pfn: 2 ** 40, type: PFINFO.NOTAB, data: page(2) },
      { pfn: 7, type: PFINFO.XTAB },
    ];
    const fail = (p: string): never => {
      throw new Error(p);
    };
    expect(decodePageData(encodePageData(pages), fail)).toEqual(pages);
  });

  it('refuses hostile bodies with a description, never reading past the record', () => {
    const fail = (p: string): never => {
      throw new UserError('bad-file', p);
    };
    const good = encodePageData([{ pfn: 1, type: PFINFO.NOTAB, data: page(0) }]);
    const zero = good.slice();
    new DataView(zero.buffer).setUint32(0, 0, true);
    expect(() => decodePageData(zero, fail)).toThrow('count of 0');
    const many = good.slice();
    new DataView(many.buffer).setUint32(0, 1000, true);
    expect(() => decodePageData(many, fail)).toThrow('does not fit');
    const badType = good.slice();
    badType[15] = 0x50;
    expect(() => decodePageData(badType, fail)).toThrow('unknown page type 0x5');
    expect(() => decodePageData(good.subarray(0, 100), fail)).toThrow('past the end');
    expect(() => decodePageData(new Uint8Array([...good, 0]), fail)).toThrow('beyond its pages');
  });
});

describe('writeFileAtomic', () => {
  it('leaves the complete file under its name and nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenlab-ckpt-'));
    const path = join(dir, 'dom.ckpt');
    writeFileSync(path, 'old');
    writeFileAtomic(path, [sample()]);
    expect(parseCheckpoint(new Uint8Array(readFileSync(path)), path).records).toHaveLength(3);
    expect(readdirSync(dir)).toEqual(['dom.ckpt']);
  });

  it('on failure keeps what was under the name and leaves no partial file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenlab-ckpt-'));
    const path = join(dir, 'missing-dir', 'dom.ckpt');
    expect(() => writeFileAtomic(path, [sample()])).toThrow(UserError);
    expect(existsSync(join(dir, 'missing-dir'))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });
});
