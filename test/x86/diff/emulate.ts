/**
 * Runs a differential case on our CPU (x86/), with the memory the native runner would give it
 * (the listed pages plus the implicit int3-filled code page), and reports the outcome in the
 * native runner's terms: `completed` when the int3 trailer is reached, else the exception.
 */
import { Cpu } from '../../../x86/cpu.js';
import { BP, Fault, PF_VEC } from '../../../x86/fault.js';
import { FlatMemory, PROT_R, PROT_W, PROT_X } from '../../../x86/flat-memory.js';
import { ROWS } from '../../../x86/isa/table.js';
import type { Feature } from '../../../x86/isa/types.js';
import { AccessKind } from '../../../x86/memory.js';
import { implicitCodePages, type NativeCase, type NativeOutcome } from '../native/native-runner.js';
import { EMU_LIMIT } from './layout.js';

/** The architectural result of a case, from either side. */
export interface Outcome {
  outcome: NativeOutcome;
  vector?: number;
  errorCode?: number;
  faultAddress?: bigint;
  gpr: bigint[];
  rip: bigint;
  rflags: bigint;
  xmm: Uint8Array[];
  mxcsr: number;
  pages: { address: bigint; data: Uint8Array }[];
  reason?: string;
}

/**
 * Every feature the table has rows for, plus CX16: CMPXCHG16B is the REX.W form of the CX8 row
 * and its handler checks CX16 (the table cannot select rows on REX.W).
 */
export const EMU_FEATURES: readonly Feature[] = [...new Set<Feature>([...ROWS.map((r) => r.cpuid ?? 'base'), 'cx16'])];

const num = (v: bigint): number => Number(BigInt.asIntN(64, v));
const big = (v: number): bigint => BigInt.asUintN(64, BigInt(v));

export type Path = 'interp' | 'jit';

/** The host bytes of a mapped page (every mapped page here is readable). */
function pageBytes(mem: FlatMemory, la: number): Uint8Array {
  const v = mem.lookup(la, AccessKind.Read, false);
  return new Uint8Array(v.buffer, v.byteOffset, 4096);
}

export function emulate(k: NativeCase, path: Path): Outcome {
  const mem = new FlatMemory();
  for (const p of [...k.pages, ...implicitCodePages(k)]) {
    const prot = (p.read ? PROT_R : 0) | (p.write ? PROT_W | PROT_R : 0) | (p.exec ? PROT_X | PROT_R : 0);
    if (prot === 0) continue;
    const a = num(p.address);
    mem.map(a, 4096, prot);
    pageBytes(mem, a).set(p.data);
  }
  let fault: Fault | undefined;
  const cpu = new Cpu(mem, {
    exception: (c, f) => {
      fault = f;
      c.stopRequested = true;
    },
    // Fixed answers for the driver's hooks: those bits are masked in the comparison.
    cpuid: () => [0x11111111, 0x22222222, 0x33333333, 0x44444444],
    rdtsc: () => [0x55555555, 0x66666666],
    random: () => [0x77777777, 0x88888888 | 0],
    tscAux: () => 9,
  }, EMU_FEATURES);
  cpu.jit = path === 'jit';
  cpu.jitThreshold = 1;
  k.gpr.forEach((v, n) => cpu.setReg64(n, Number(BigInt.asIntN(32, v)), Number(BigInt.asIntN(32, v >> 32n))));
  cpu.flags = Number(k.rflags & 0xffffffffn) | 0x202;
  cpu.segBase[4] = num(k.fsBase ?? 0n);
  cpu.segBase[5] = num(k.gsBase ?? 0n);
  k.xmm.forEach((x, n) => {
    const dv = new DataView(x.buffer, x.byteOffset, 16);
    for (let d = 0; d < 4; d++) cpu.xmm[n * 4 + d] = dv.getInt32(4 * d, true);
  });
  cpu.mxcsr = k.mxcsr;
  cpu.rip = num(k.codeAddress);
  cpu.run(EMU_LIMIT);

  const trailer = k.codeAddress + BigInt(k.code.length);
  const out: Outcome = {
    outcome: 'completed',
    gpr: Array.from({ length: 16 }, (_, n) => (BigInt(cpu.reg64hi(n) >>> 0) << 32n) | BigInt(cpu.reg64lo(n) >>> 0)),
    rip: big(cpu.rip),
    rflags: BigInt(cpu.getFlags() >>> 0),
    xmm: Array.from({ length: 16 }, (_, n) => {
      const x = new Uint8Array(16);
      const dv = new DataView(x.buffer);
      for (let d = 0; d < 4; d++) dv.setInt32(4 * d, cpu.xmm[n * 4 + d] as number, true);
      return x;
    }),
    mxcsr: cpu.mxcsr >>> 0,
    pages: k.pages.filter((p) => p.write).map((p) => ({ address: p.address, data: pageBytes(mem, num(p.address)).slice() })),
  };
  const f = fault as Fault | undefined;
  if (f === undefined) {
    out.outcome = 'timeout';
  } else if (f.vector === BP && f.trap && out.rip === trailer + 1n) {
    out.rip = trailer;
  } else {
    out.outcome = 'exception';
    out.vector = f.vector;
    if (f.errorCode >= 0) out.errorCode = f.errorCode;
    if (f.vector === PF_VEC) out.faultAddress = big(f.address);
  }
  return out;
}
