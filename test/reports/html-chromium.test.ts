/**
 * The HTML report in a real browser: the report of a small conformance run (three probe guests,
 * a tiny guest that fails one TAP point and prints hostile text, a profile whose config is
 * missing) rendered by headless Chromium. The screenshot must be a PNG of the window's size that
 * shows the matrix's pass and fail cells in their colours; the DOM Chromium built must hold the
 * matrix with one row per guest, the marked failure line, and the hostile console text as text.
 *
 * Chromium is a Debian package (`apt-get install -y --no-install-recommends chromium`; .ci/run
 * installs it). Without it this test fails and says so: it is not skipped.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BUILTIN_PROFILES, type GuestProfile } from '../../conformance/profile.js';
import { runConformance } from '../../conformance/run.js';
import { writeReports } from '../../conformance/write-reports.js';
import type { RunRecord } from '../../harness/record.js';
import { writeTinyGuest } from '../harness/boot/tiny-guest.js';
import { ROOT } from '../support/cli.js';
import { scratchDir } from '../support/tmp.js';

const dir = scratchDir('html-chromium');
const WIDTH = 1280;
const HEIGHT = 2000;
const HOSTILE = '</script><img src=x onerror="document.title=1"><script>document.title=2</script>';

/** Runs `chromium` headless with `args` and the page; its stdout. Fails clearly when it is not installed. */
function chromium(args: readonly string[], page: string): string {
  const r = spawnSync(
    'chromium',
    ['--headless=new', '--disable-gpu', '--no-sandbox', `--user-data-dir=${join(dir, 'profile')}`, `--window-size=${WIDTH},${HEIGHT}`, ...args, `file://${page}`],
    { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 },
  );
  const error = r.error as NodeJS.ErrnoException | undefined;
  if (error?.code === 'ENOENT') {
    throw new Error('chromium is not installed: this test renders the HTML report in headless Chromium; install it with `apt-get install -y --no-install-recommends chromium` (.ci/run does)');
  }
  if (error !== undefined) throw error;
  if (r.status !== 0) throw new Error(`chromium exited ${r.status}: ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

interface Png {
  readonly width: number;
  readonly height: number;
  /** Bytes per pixel: 3 (RGB) or 4 (RGBA). */
  readonly bpp: number;
  /** Unfiltered scanlines, `width * bpp` bytes each. */
  readonly rows: Uint8Array[];
}

/** Just enough PNG: 8-bit RGB or RGBA, not interlaced; the IDAT inflated and unfiltered (PNG spec §9). */
function decodePng(b: Buffer): Png {
  expect(b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  let pos = 8;
  let width = 0;
  let height = 0;
  let bpp = 0;
  const idat: Buffer[] = [];
  while (pos < b.length) {
    const len = b.readUInt32BE(pos);
    const type = b.toString('latin1', pos + 4, pos + 8);
    const data = b.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8];
      const colour = data[9];
      expect({ depth, colour, interlace: data[12] }).toMatchObject({ depth: 8, interlace: 0 });
      expect([2, 6]).toContain(colour);
      bpp = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  expect(raw.length).toBe(height * (stride + 1));
  const rows: Uint8Array[] = [];
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? out[i - bpp]! : 0;
      const up = prev[i]!;
      const c = i >= bpp ? prev[i - bpp]! : 0;
      let pred = 0;
      if (filter === 1) pred = a;
      else if (filter === 2) pred = up;
      else if (filter === 3) pred = (a + up) >> 1;
      else if (filter === 4) {
        const p = a + up - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - up);
        const pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
      } else expect(filter).toBe(0);
      out[i] = (line[i]! + pred) & 0xff;
    }
    rows.push(out);
    prev = out;
  }
  return { width, height, bpp, rows };
}

/** Pixels within `tol` of an RGB colour. */
function countColour(png: Png, [r, g, b]: readonly [number, number, number], tol = 6): number {
  let n = 0;
  for (const row of png.rows) {
    for (let i = 0; i < row.length; i += png.bpp) {
      if (Math.abs(row[i]! - r) <= tol && Math.abs(row[i + 1]! - g) <= tol && Math.abs(row[i + 2]! - b) <= tol) n++;
    }
  }
  return n;
}

async function smallRun(): Promise<RunRecord> {
  const probes = BUILTIN_PROFILES.filter((p) => ['probe-basics', 'probe-shutdown-poweroff', 'probe-shutdown-crash'].includes(p.name));
  expect(probes).toHaveLength(3);
  const failing = writeTinyGuest(dir, 'failing', { console: `1..2\nok 1 - first\nnot ok 2 - second\n# got 1\n${HOSTILE}\n`, end: { shutdown: 0 } });
  const own: GuestProfile[] = [
    { name: 'failing', description: 'a tiny guest that fails its second TAP point and prints hostile text', config: failing, expectEnd: 'poweroff', timeoutSeconds: 1 },
    { name: 'missing', description: 'a profile whose config is not there', config: join(dir, 'nope.cfg'), expectEnd: 'poweroff', timeoutSeconds: 1 },
  ];
  const run = await runConformance({ profiles: [...probes, ...own], root: ROOT, version: 'test' });
  // A shrunk counterexample as a property-tested check records it (harness/record.ts).
  return {
    ...run,
    seed: 20261126,
    guests: run.guests.map((g) => (g.name === 'failing' ? { ...g, counterexample: { seed: 20261126, path: '4:0:2', command: 'xenlab conformance --guest failing --replay 20261126:4:0:2' } } : g)),
  };
}

describe('HTML report in headless Chromium', () => {
  it('renders a small run: a PNG of the window size with the matrix in colour, and the matrix in the DOM with a row per guest', async () => {
    const record = await smallRun();
    expect(record.guests.map((g) => [g.name, g.ok])).toEqual([
      ['probe-basics', true],
      ['probe-shutdown-poweroff', true],
      ['probe-shutdown-crash', true],
      ['failing', false],
      ['missing', false],
    ]);
    const [page] = writeReports(record, dir, ['html']);
    const shot = join(dir, 'report.png');
    chromium([`--screenshot=${shot}`], page!);
    const png = decodePng(readFileSync(shot));
    expect([png.width, png.height]).toEqual([WIDTH, HEIGHT]);
    // Not blank (a blank page has none of these): most pixel rows of the top of the page carry
    // something (in this run: 587 of 600), and the matrix cells
    // show their backgrounds (reports/html.ts: pass #dff3e3 on ~48000 pixels, fail #f9d6db on ~800).
    const inked = png.rows.slice(0, 600).filter((row) => row.some((v) => v < 200)).length;
    expect(inked).toBeGreaterThan(400);
    expect(countColour(png, [0xdf, 0xf3, 0xe3])).toBeGreaterThan(2000);
    expect(countColour(png, [0xf9, 0xd6, 0xdb])).toBeGreaterThan(300);

    const dom = chromium(['--dump-dom'], page!);
    const table = /<table id="matrix">[\s\S]*?<\/table>/.exec(dom);
    expect(table, 'the dumped DOM has no table#matrix').not.toBeNull();
    const rows = [...table![0].matchAll(/<tr data-guest="([^"]*)"/g)].map((m) => m[1]);
    expect(rows).toEqual(record.guests.map((g) => g.name));
    expect(table![0]).toContain('<a href="#failing-failure">✘ FAIL</a>');
    expect(dom).toContain('<mark class="failure" id="failing-failure">not ok 2 - second</mark>');
    expect(dom).toContain('<section id="counterexamples">');
    // The guest's markup stayed text: no element came of it, and no script ran (it would retitle the page).
    expect(dom).toContain('&lt;/script&gt;&lt;img src=x onerror="document.title=1"&gt;');
    expect(dom).not.toMatch(/<img|<script/);
    expect(dom).toMatch(/<title>xenlab conformance: \d+ passed, 2 failed<\/title>/);
  }, 300_000);
});
