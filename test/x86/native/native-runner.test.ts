import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CASE_WINDOW_END,
  DEFAULT_CODE_ADDRESS,
  GPR_NAMES,
  NativeRunner,
  PAGE_SIZE,
  PF_ERROR,
  RFLAGS,
  RFLAGS_FIXED,
  VECTOR,
  implicitCodePages,
  makeCase,
  nativeRunnerSupported,
  type NativeCase,
  type NativePage,
  type NativeResult,
} from './native-runner.js';

type GprName = (typeof GPR_NAMES)[number];

function regs(values: Partial<Record<GprName, bigint>>): bigint[] {
  return GPR_NAMES.map((name) => values[name] ?? 0n);
}

function gpr(r: NativeResult, name: GprName): bigint {
  const v = r.gpr[GPR_NAMES.indexOf(name)];
  if (v === undefined) throw new Error(`no ${name}`);
  return v;
}

function page(address: bigint, perms: 'r' | 'rw' | 'rx' | 'rwx', fill?: (i: number) => number): NativePage {
  const data = new Uint8Array(PAGE_SIZE);
  if (fill) for (let i = 0; i < PAGE_SIZE; i++) data[i] = fill(i) & 0xff;
  return { address, data, read: true, write: perms.includes('w'), exec: perms.includes('x') };
}

function u64le(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

function u32x4(...lanes: number[]): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  lanes.forEach((v, i) => dv.setUint32(4 * i, v >>> 0, true));
  return b;
}

function f32x4(...lanes: number[]): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  lanes.forEach((v, i) => dv.setFloat32(4 * i, v, true));
  return b;
}

function xmmWith(index: number, value: Uint8Array, base?: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = base ? base.map((x) => Uint8Array.from(x)) : Array.from({ length: 16 }, () => new Uint8Array(16));
  out[index] = value;
  return out;
}

/** Flags that add/sub/logic instructions define. */
const ARITH_FLAGS = RFLAGS.CF | RFLAGS.PF | RFLAGS.AF | RFLAGS.ZF | RFLAGS.SF | RFLAGS.OF;

const DATA = 0x2000_0000n; // a data page used by several tests
const UNMAPPED = 0x3000_0000n; // never listed

describe.skipIf(!nativeRunnerSupported())('native x86-64 oracle runner', () => {
  let runner: NativeRunner;

  beforeAll(async () => {
    runner = await NativeRunner.start();
  });

  afterAll(async () => {
    await runner?.close();
  });

  async function one(c: NativeCase): Promise<NativeResult> {
    const [r] = await runner.run([c]);
    if (!r) throw new Error('no result');
    return r;
  }

  it('reports its case window', () => {
    expect(runner.info.windowStart).toBe(0x1_0000n);
    expect(runner.info.windowEnd).toBe(CASE_WINDOW_END);
    expect(runner.info.maxCodeBytes).toBe(64);
  });

  it('add rax, rbx: sum and flags (signed overflow)', async () => {
    const c = makeCase({ code: [0x48, 0x01, 0xd8], gpr: regs({ rax: 0x7fff_ffff_ffff_ffffn, rbx: 1n, rcx: 0x1234n }) });
    const r = await one(c);
    expect(r.outcome).toBe('completed');
    expect(gpr(r, 'rax')).toBe(0x8000_0000_0000_0000n);
    expect(gpr(r, 'rbx')).toBe(1n);
    expect(gpr(r, 'rcx')).toBe(0x1234n);
    expect(r.rip).toBe(DEFAULT_CODE_ADDRESS + 3n);
    // OF SF AF PF set, CF ZF clear; bit 1 and IF always set
    expect(r.rflags).toBe(RFLAGS_FIXED | RFLAGS.OF | RFLAGS.SF | RFLAGS.AF | RFLAGS.PF);
    expect(r.cs).toBe(0x33);
  });

  it('add rax, rbx: carry out and zero', async () => {
    const r = await one(makeCase({ code: [0x48, 0x01, 0xd8], gpr: regs({ rax: -1n, rbx: 1n }) }));
    expect(r.outcome).toBe('completed');
    expect(gpr(r, 'rax')).toBe(0n);
    expect(r.rflags & ARITH_FLAGS).toBe(RFLAGS.CF | RFLAGS.ZF | RFLAGS.PF | RFLAGS.AF);
  });

  it('xor eax, eax zeroes all of rax and sets ZF|PF, clears CF/OF', async () => {
    const c = makeCase({
      code: [0x31, 0xc0],
      gpr: regs({ rax: 0xdead_beef_cafe_baben }),
      rflags: RFLAGS.CF | RFLAGS.OF | RFLAGS.SF,
    });
    const r = await one(c);
    expect(r.outcome).toBe('completed');
    expect(gpr(r, 'rax')).toBe(0n);
    expect(r.rflags & (RFLAGS.CF | RFLAGS.PF | RFLAGS.ZF | RFLAGS.SF | RFLAGS.OF)).toBe(RFLAGS.ZF | RFLAGS.PF);
  });

  it('ID is honoured, and flags a test sets with popf do not leak into the next case', async () => {
    const pushfPop = [0x9c, 0x58];
    const stack = [page(DATA, 'rw')];
    // pushfq; or qword [rsp], 0x204000 (NT|ID); popfq
    const setNtId = [0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00, 0x40, 0x20, 0x00, 0x9d];
    const [withId, setsItself, after] = await runner.run([
      makeCase({ code: pushfPop, gpr: regs({ rsp: DATA + 0x800n }), rflags: RFLAGS.ID, pages: stack }),
      makeCase({ code: setNtId, gpr: regs({ rsp: DATA + 0x800n }), pages: stack }),
      makeCase({ code: pushfPop, gpr: regs({ rsp: DATA + 0x800n }), pages: stack }),
    ]);
    expect(withId && gpr(withId, 'rax')).toBe(RFLAGS_FIXED | RFLAGS.ID);
    expect(setsItself?.rflags).toBe(RFLAGS_FIXED | RFLAGS.NT | RFLAGS.ID);
    expect(after && gpr(after, 'rax')).toBe(RFLAGS_FIXED);
  });

  it('honours CF DF AC in the initial RFLAGS (pushfq; pop rax)', async () => {
    const c = makeCase({
      code: [0x9c, 0x58],
      gpr: regs({ rsp: DATA + 0x800n }),
      rflags: RFLAGS.CF | RFLAGS.DF | RFLAGS.AC,
      pages: [page(DATA, 'rw')],
    });
    const r = await one(c);
    expect(r.outcome).toBe('completed');
    expect(gpr(r, 'rax')).toBe(RFLAGS_FIXED | RFLAGS.CF | RFLAGS.DF | RFLAGS.AC);
    expect(gpr(r, 'rsp')).toBe(DATA + 0x800n);
    // the pushed value is still visible in the stack page
    expect(r.pages[0]?.data.slice(0x7f8, 0x800)).toEqual(u64le(RFLAGS_FIXED | RFLAGS.CF | RFLAGS.DF | RFLAGS.AC));
  });

  it('div rcx with rcx = 0 raises #DE (vector 0) at the div', async () => {
    const r = await one(makeCase({ code: [0x48, 0xf7, 0xf1], gpr: regs({ rax: 10n, rcx: 0n }) }));
    expect(r.outcome).toBe('exception');
    expect(r.vector).toBe(VECTOR.DE);
    expect(r.errorCode).toBeUndefined();
    expect(r.rip).toBe(DEFAULT_CODE_ADDRESS);
    expect(gpr(r, 'rax')).toBe(10n);
  });

  it('ud2 raises #UD (vector 6)', async () => {
    const r = await one(makeCase({ code: [0x90, 0x0f, 0x0b] }));
    expect(r.outcome).toBe('exception');
    expect(r.vector).toBe(VECTOR.UD);
    expect(r.rip).toBe(DEFAULT_CODE_ADDRESS + 1n);
  });

  it('int3 inside the code is #BP (vector 3) with RIP after it, not completion', async () => {
    const r = await one(makeCase({ code: [0xcc, 0x90] }));
    expect(r.outcome).toBe('exception');
    expect(r.vector).toBe(VECTOR.BP);
    expect(r.rip).toBe(DEFAULT_CODE_ADDRESS + 1n);
  });

  it('a stray jump lands on the int3 filler of the implicit code page', async () => {
    const r = await one(makeCase({ code: [0xeb, 0x10] })); // jmp +0x10
    expect(r.outcome).toBe('exception');
    expect(r.vector).toBe(VECTOR.BP);
    expect(r.rip).toBe(DEFAULT_CODE_ADDRESS + 0x12n + 1n);
  });

  it('store to an unmapped address: #PF with CR2 and error code W|U', async () => {
    const r = await one(makeCase({ code: [0x48, 0x89, 0x18], gpr: regs({ rax: UNMAPPED + 0x18n, rbx: 5n }) }));
    expect(r.outcome).toBe('exception');
    expect(r.vector).toBe(VECTOR.PF);
    expect(r.faultAddress).toBe(UNMAPPED + 0x18n);
    expect(r.errorCode).toBe(PF_ERROR.W | PF_ERROR.U);
    expect(r.rip).toBe(DEFAULT_CODE_ADDRESS);
  });

  it('load from an unmapped address: #PF with error code U', async () => {
    const r = await one(makeCase({ code: [0x48, 0x8b, 0x18], gpr: regs({ rax: UNMAPPED }) }));
    expect(r.vector).toBe(VECTOR.PF);
    expect(r.faultAddress).toBe(UNMAPPED);
    expect(r.errorCode).toBe(PF_ERROR.U);
  });

  it('store to a read-only page: #PF with error code P|W|U', async () => {
    const c = makeCase({
      code: [0x48, 0x89, 0x58, 0x08], // mov [rax+8], rbx
      gpr: regs({ rax: DATA, rbx: 0x1122n }),
      pages: [page(DATA, 'r', (i) => i)],
    });
    const r = await one(c);
    expect(r.outcome).toBe('exception');
    expect(r.vector).toBe(VECTOR.PF);
    expect(r.faultAddress).toBe(DATA + 8n);
    expect(r.errorCode).toBe(PF_ERROR.P | PF_ERROR.W | PF_ERROR.U);
    expect(r.pages).toEqual([]); // only writable pages are reported
  });

  it('instruction fetch from a non-executable page: #PF with error code P|U|I', async () => {
    const r = await one(makeCase({ code: [0xff, 0xe0], gpr: regs({ rax: DATA + 0x40n }), pages: [page(DATA, 'rw')] }));
    expect(r.vector).toBe(VECTOR.PF);
    expect(r.rip).toBe(DATA + 0x40n);
    expect(r.faultAddress).toBe(DATA + 0x40n);
    expect(r.errorCode).toBe(PF_ERROR.P | PF_ERROR.U | PF_ERROR.I);
  });

  it('a write to a writable page shows up in the result, other bytes intact', async () => {
    const pg = page(DATA, 'rw', (i) => i * 7);
    const c = makeCase({ code: [0x48, 0x89, 0x58, 0x08], gpr: regs({ rax: DATA, rbx: 0x0102_0304_0506_0708n }), pages: [pg] });
    const r = await one(c);
    expect(r.outcome).toBe('completed');
    expect(r.pages).toHaveLength(1);
    const expected = Uint8Array.from(pg.data);
    expected.set(u64le(0x0102_0304_0506_0708n), 8);
    expect(r.pages[0]?.address).toBe(DATA);
    expect(r.pages[0]?.data).toEqual(expected);
    // the input is not modified
    expect(pg.data[8]).toBe(56);
  });

  it('writes spread over several pages and a page-crossing store', async () => {
    // mov [rax], rbx ; mov [rcx], rbx  (rcx straddles two pages)
    const pages = [page(DATA, 'rw', () => 0xaa), page(DATA + 0x1000n, 'rw', () => 0xbb), page(DATA + 0x2000n, 'rw')];
    const c = makeCase({
      code: [0x48, 0x89, 0x18, 0x48, 0x89, 0x19],
      gpr: regs({ rax: DATA + 0x2ff8n, rcx: DATA + 0xffcn, rbx: 0x1111_2222_3333_4444n }),
      pages,
    });
    const r = await one(c);
    expect(r.outcome).toBe('completed');
    expect(r.pages.map((p) => p.address)).toEqual([DATA, DATA + 0x1000n, DATA + 0x2000n]);
    const bytes = u64le(0x1111_2222_3333_4444n);
    expect(r.pages[0]?.data.slice(0xffc)).toEqual(bytes.slice(0, 4));
    expect(r.pages[1]?.data.slice(0, 4)).toEqual(bytes.slice(4));
    expect(r.pages[1]?.data[4]).toBe(0xbb);
    expect(r.pages[2]?.data.slice(0xff8)).toEqual(bytes);
  });

  it('SSE: movdqa load, paddd, movdqa store', async () => {
    const pg = page(DATA, 'rw');
    pg.data.set(u32x4(1, 2, 3, 0xffff_ffff), 0);
    const c = makeCase({
      // movdqa xmm0,[rax] ; paddd xmm0,xmm1 ; movdqa [rax+16],xmm0
      code: [0x66, 0x0f, 0x6f, 0x00, 0x66, 0x0f, 0xfe, 0xc1, 0x66, 0x0f, 0x7f, 0x40, 0x10],
      gpr: regs({ rax: DATA }),
      xmm: xmmWith(1, u32x4(10, 20, 30, 2), xmmWith(7, u32x4(7, 7, 7, 7))),
      pages: [pg],
    });
    const r = await one(c);
    expect(r.outcome).toBe('completed');
    expect(r.xmm[0]).toEqual(u32x4(11, 22, 33, 1));
    expect(r.xmm[1]).toEqual(u32x4(10, 20, 30, 2));
    expect(r.xmm[7]).toEqual(u32x4(7, 7, 7, 7));
    expect(r.pages[0]?.data.slice(16, 32)).toEqual(u32x4(11, 22, 33, 1));
    expect(r.mxcsr).toBe(0x1f80);
  });

  it('misaligned movdqa raises #GP(0)', async () => {
    const r = await one(makeCase({ code: [0x66, 0x0f, 0x6f, 0x00], gpr: regs({ rax: DATA + 8n }), pages: [page(DATA, 'rw')] }));
    expect(r.outcome).toBe('exception');
    expect(r.vector).toBe(VECTOR.GP);
    expect(r.errorCode).toBe(0);
  });

  it('MXCSR: masked divide-by-zero sets ZE; unmasked raises #XM (vector 19)', async () => {
    const xmm = xmmWith(0, f32x4(1, 0, 0, 0), xmmWith(1, f32x4(0, 0, 0, 0)));
    const divss = [0xf3, 0x0f, 0x5e, 0xc1]; // divss xmm0, xmm1
    const [masked, unmasked] = await runner.run([
      makeCase({ code: divss, xmm, mxcsr: 0x1f80 }),
      makeCase({ code: divss, xmm, mxcsr: 0x1f80 & ~0x200 }),
    ]);
    expect(masked?.outcome).toBe('completed');
    expect(masked?.mxcsr).toBe(0x1f80 | 0x4);
    expect(new DataView(masked!.xmm[0]!.buffer).getFloat32(0, true)).toBe(Infinity);
    expect(unmasked?.outcome).toBe('exception');
    expect(unmasked?.vector).toBe(VECTOR.XM);
    expect(unmasked?.rip).toBe(DEFAULT_CODE_ADDRESS);
  });

  it('EFLAGS.AC set + misaligned load raises #AC (vector 17)', async () => {
    const r = await one(
      makeCase({ code: [0x8b, 0x00], gpr: regs({ rax: DATA + 1n }), rflags: RFLAGS.AC, pages: [page(DATA, 'rw')] }),
    );
    expect(r.outcome).toBe('exception');
    expect(r.vector).toBe(VECTOR.AC);
    expect(r.errorCode).toBe(0);
  });

  it('push/pop through a stack page', async () => {
    const r = await one(makeCase({ code: [0x53, 0x59], gpr: regs({ rbx: 77n, rsp: DATA + 0x1000n }), pages: [page(DATA, 'rw')] }));
    expect(r.outcome).toBe('completed');
    expect(gpr(r, 'rcx')).toBe(77n);
    expect(gpr(r, 'rsp')).toBe(DATA + 0x1000n);
    expect(r.pages[0]?.data.slice(0xff8)).toEqual(u64le(77n));
  });

  it('FS base is applied (mov rax, fs:[8]) and reported', async () => {
    const pg = page(DATA, 'r');
    pg.data.set(u64le(0x1122_3344_5566_7788n), 8);
    const r = await one(makeCase({ code: [0x64, 0x48, 0x8b, 0x04, 0x25, 0x08, 0, 0, 0], fsBase: DATA, pages: [pg] }));
    expect(r.outcome).toBe('completed');
    expect(gpr(r, 'rax')).toBe(0x1122_3344_5566_7788n);
    expect(r.fsBase).toBe(DATA);
    // and the next case starts from FS base 0 again
    const r2 = await one(makeCase({ code: [0x64, 0x48, 0x8b, 0x04, 0x25, 0x08, 0, 0, 0], pages: [pg] }));
    expect(r2.vector).toBe(VECTOR.PF);
    expect(r2.faultAddress).toBe(8n);
  });

  it('code crossing a page boundary gets two implicit code pages', async () => {
    const c = makeCase({ codeAddress: 0x1000_0ffen, code: [0x48, 0x01, 0xd8], gpr: regs({ rax: 2n, rbx: 3n }) });
    const implicit = implicitCodePages(c);
    expect(implicit.map((p) => p.address)).toEqual([0x1000_0000n, 0x1000_1000n]);
    expect(implicit[0]?.data.slice(0xffe)).toEqual(Uint8Array.of(0x48, 0x01));
    expect(implicit[0]?.data[0]).toBe(0xcc);
    expect(implicit[1]?.data.slice(0, 3)).toEqual(Uint8Array.of(0xd8, 0xcc, 0xcc));
    const r = await one(c);
    expect(r.outcome).toBe('completed');
    expect(gpr(r, 'rax')).toBe(5n);
    expect(r.rip).toBe(0x1000_1001n);
  });

  it('jmp $ is stopped with outcome timeout', async () => {
    const r = await one(makeCase({ code: [0xeb, 0xfe], gpr: regs({ rbx: 9n }) }));
    expect(r.outcome).toBe('timeout');
    expect(r.rip).toBe(DEFAULT_CODE_ADDRESS);
    expect(gpr(r, 'rbx')).toBe(9n);
  });

  it('syscall does not escape: reported as invalid with the post-SYSCALL state', async () => {
    // rax = 60 would be exit() if it reached the kernel
    const r = await one(makeCase({ code: [0x0f, 0x05], gpr: regs({ rax: 60n, rdi: 1n }), rflags: RFLAGS.CF }));
    expect(r.outcome).toBe('invalid');
    expect(r.reason).toMatch(/syscall/i);
    expect(r.rip).toBe(DEFAULT_CODE_ADDRESS + 2n);
    expect(gpr(r, 'rcx')).toBe(DEFAULT_CODE_ADDRESS + 2n); // SYSCALL saves RIP in RCX
    expect(gpr(r, 'r11')).toBe(RFLAGS_FIXED | RFLAGS.CF); // ... and RFLAGS in R11
    const after = await one(makeCase({ code: [0x90] }));
    expect(after.outcome).toBe('completed');
  });

  it('int 0x80 does not escape (seccomp trap, or #GP if the kernel has no 32-bit ABI)', async () => {
    const r = await one(makeCase({ code: [0xcd, 0x80], gpr: regs({ rax: 1n /* i386 exit */ }) }));
    if (r.outcome === 'invalid') {
      expect(r.reason).toMatch(/syscall/i);
    } else {
      expect(r.outcome).toBe('exception');
      expect(r.vector).toBe(VECTOR.GP);
      expect(r.errorCode).toBe(0x80 * 8 + 2); // IDT entry 0x80, not user-callable
    }
    const after = await one(makeCase({ code: [0x90] }));
    expect(after.outcome).toBe('completed');
  });

  it('int 0x21 and hlt raise #GP like at CPL3 on hardware', async () => {
    const [intn, hlt] = await runner.run([makeCase({ code: [0xcd, 0x21] }), makeCase({ code: [0xf4] })]);
    expect(intn?.vector).toBe(VECTOR.GP);
    expect(intn?.errorCode).toBe(0x21 * 8 + 2);
    expect(hlt?.vector).toBe(VECTOR.GP);
    expect(hlt?.errorCode).toBe(0);
  });

  it('refuses cases it cannot run faithfully, and keeps working', async () => {
    const results = await runner.run([
      makeCase({ code: [0x90], rflags: RFLAGS.TF }),
      makeCase({ code: [0x90], rflags: RFLAGS.NT }),
      makeCase({ code: [0x90], pages: [page(0x7100_0000_0000n, 'rw')] }), // the runner's own image
      makeCase({ code: [0x90], pages: [page(DATA + 1n, 'rw')] }),
      makeCase({ code: [0x90], pages: [page(DATA, 'rw'), page(DATA, 'r')] }),
      makeCase({ code: [0x90], codeAddress: 0x100n }),
      makeCase({ code: [0x90] }),
    ]);
    expect(results.map((r) => r.outcome)).toEqual(['invalid', 'invalid', 'invalid', 'invalid', 'invalid', 'invalid', 'completed']);
    expect(results[0]?.reason).toMatch(/TF/);
    expect(results[1]?.reason).toMatch(/NT/);
    expect(results[2]?.reason).toMatch(/window/);
    expect(results[3]?.reason).toMatch(/aligned/);
    expect(results[4]?.reason).toMatch(/twice/);
    expect(results[5]?.reason).toMatch(/window/);
  });

  it('rejects malformed cases synchronously with the case index', async () => {
    const bad = { ...makeCase({ code: [0x90] }), gpr: [1n] };
    await expect(runner.run([makeCase({ code: [0x90] }), bad])).rejects.toThrow(/native case 1: gpr/);
  });

  it('overlapping run() calls resolve in order', async () => {
    const a = runner.run([makeCase({ code: [0x48, 0xff, 0xc0], gpr: regs({ rax: 1n }) })]); // inc rax
    const b = runner.run([makeCase({ code: [0x48, 0xff, 0xc0], gpr: regs({ rax: 41n }) })]);
    const [[ra], [rb]] = await Promise.all([a, b]);
    expect(ra && gpr(ra, 'rax')).toBe(2n);
    expect(rb && gpr(rb, 'rax')).toBe(42n);
  });

  it('runs 10,000 nop cases in one batch, all correct', async () => {
    const cases: NativeCase[] = [];
    for (let i = 0; i < 10_000; i++) {
      const values = GPR_NAMES.map((_, k) => (BigInt(i) << 32n) | BigInt(k * 0x1111));
      cases.push(
        makeCase({
          codeAddress: DEFAULT_CODE_ADDRESS + BigInt((i % 16) * 0x100),
          code: [0x90],
          gpr: values,
          rflags: BigInt(i & 1) * RFLAGS.CF | RFLAGS_FIXED,
        }),
      );
    }
    const results = await runner.run(cases);
    expect(results).toHaveLength(cases.length);
    let bad = 0;
    results.forEach((r, i) => {
      const c = cases[i]!;
      const ok =
        r.outcome === 'completed' &&
        r.rip === c.codeAddress + 1n &&
        r.gpr.every((v, k) => v === c.gpr[k]) &&
        (r.rflags & ARITH_FLAGS) === (c.rflags & ARITH_FLAGS);
      if (!ok) bad++;
    });
    expect(bad).toBe(0);
  });
});

describe.skipIf(!nativeRunnerSupported())('native runner process failures', () => {
  it('rejects with the case index when the runner dies mid-batch', async () => {
    const r = await NativeRunner.start({ timeoutMs: 50 });
    const pending = r.run(Array.from({ length: 200 }, () => makeCase({ code: [0xeb, 0xfe] })));
    setTimeout(() => {
      if (r.pid !== undefined) process.kill(r.pid, 'SIGKILL');
    }, 300);
    await expect(pending).rejects.toThrow(/died unexpectedly \(killed by SIGKILL\) while running case \d+ .* batch of 200/);
    await expect(r.run([makeCase({ code: [0x90] })])).rejects.toThrow(/died/);
    await r.close();
  });
});
