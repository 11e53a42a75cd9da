/**
 * Architectural exceptions raised while executing an instruction. Handlers and memory accesses
 * throw a `Fault`; the run loop catches it at the instruction boundary, restores RIP to the
 * faulting instruction and hands it to the driver (`CpuHooks.exception`). A Fault never leaves
 * `x86/` as a JS exception: it is a guest event, not a host error.
 */
export const DE = 0;
export const DB = 1;
export const BP = 3;
export const OF_VEC = 4;
export const BR = 5;
export const UD = 6;
export const NM = 7;
export const DF_VEC = 8;
export const TS = 10;
export const NP = 11;
export const SS = 12;
export const GP = 13;
export const PF_VEC = 14;
export const MF = 16;
export const AC_VEC = 17;
export const XM = 19;

export const VECTOR_NAMES: Readonly<Record<number, string>> = {
  0: '#DE', 1: '#DB', 3: '#BP', 4: '#OF', 5: '#BR', 6: '#UD', 7: '#NM', 8: '#DF', 10: '#TS',
  11: '#NP', 12: '#SS', 13: '#GP', 14: '#PF', 16: '#MF', 17: '#AC', 19: '#XM',
};

/** #PF error-code bits (SDM vol. 3 §4.7). */
export const PFEC_P = 1;
export const PFEC_W = 2;
export const PFEC_U = 4;
export const PFEC_RSVD = 8;
export const PFEC_I = 16;

/** Vectors that push an error code (SDM vol. 3 table 6-1): #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP, #VC, #SX. */
export function pushesErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17 || vector === 21 || vector === 29 || vector === 30;
}

export class Fault {
  constructor(
    readonly vector: number,
    /** The error code pushed with the exception, or -1 when the vector has none. */
    readonly errorCode: number = -1,
    /** Linear address for #PF (CR2). */
    readonly address: number = 0,
    /** A trap (INT3, INTO): reported with RIP after the instruction, not at it. */
    readonly trap: boolean = false,
    /**
     * A software interrupt (INT n, INT3, INTO): delivered through the IDT only if the gate's
     * DPL admits the CPL, and its errors carry no EXT bit.
     */
    readonly software: boolean = false,
  ) {}

  toString(): string {
    const name = VECTOR_NAMES[this.vector] ?? `vector ${this.vector}`;
    const ec = this.errorCode >= 0 ? `(${this.errorCode.toString(16)})` : '';
    return this.vector === PF_VEC ? `${name}${ec} at ${hexAddr(this.address)}` : `${name}${ec}`;
  }
}

export function hexAddr(a: number): string {
  const u = a < 0 ? BigInt(a) + (1n << 64n) : BigInt(a);
  return `0x${u.toString(16)}`;
}

export const ud = (): never => {
  throw new Fault(UD);
};
export const gp0 = (): never => {
  throw new Fault(GP, 0);
};
