/**
 * A small PV64 domain over real machine memory for the memory_op and descriptor-table tests:
 * 64 frames from a shuffled pool, validated page tables (L4 pinned and loaded) mapping PFN k at
 * VA k·4096 for k = 4..31 read-write, vCPU 0 attached to Xen, and hypercalls issued as the
 * guest's SYSCALL would (arguments in RDI, RSI, RDX, R10, R8).
 */
import { Domain } from '../../abi/hv/domain.js';
import { MachineMemory } from '../../abi/hv/machine.js';
import { PageTypes } from '../../abi/hv/page-types.js';
import { Xen } from '../../abi/hv/xen.js';
import { DomainMemory } from '../../abi/hypercall/memory.js';
import { MMUEXT_PIN_L4_TABLE } from '../../abi/public/xen.js';
import { PvMmu, pte } from '../../abi/pv/mmu.js';
import { PvVcpu } from '../../abi/pv/vcpu.js';

export const FEATURES = new Set(['base', 'sse', 'sse2'] as const);
export const NR_PAGES = 64;
/** VAs of pages the guest can use (PFN = VA / 4096). */
export const CODE = 0x8000;
export const ARG = 0x10000;
export const LIST = 0x11000;
/** Mapped by no page table. */
export const UNMAPPED = 0x200000;

export interface PvDomain {
  mem: MachineMemory;
  types: PageTypes;
  xen: Xen;
  d: Domain;
  v: PvVcpu;
  p2m: number[];
  /** A second domain (id 2) with 8 frames, for ownership checks. */
  other: number[];
  /** Issues hypercall `nr` with up to five arguments (numbers or exact 64-bit bigints). */
  call(nr: number, ...args: (number | bigint)[]): number;
  /** Writes bytes at a guest VA (through the guest's page tables). */
  write(va: number, bytes: Uint8Array): void;
  u64s(va: number, values: readonly (number | bigint)[]): void;
  readU64(va: number, n: number): number[];
}

const ARG_REGS = [7, 6, 2, 10, 8] as const;

/** A CPUID policy without DE (debugging extensions), which Xen itself offers every PV guest: DR4/DR5 alias DR6/DR7. */
export class XenWithoutDe extends Xen {
  override cpuid(v: PvVcpu, leaf: number, sub: number): readonly [number, number, number, number] {
    const r = [...super.cpuid(v, leaf, sub)] as [number, number, number, number];
    if (leaf === 1) r[3] &= ~(1 << 2);
    return r;
  }
}

/**
 * `xen`: a hypervisor to use instead of a plain one (a test's subclass with another CPUID policy);
 * `vcpus`: the domain's max_vcpus (vCPU 0 is attached; the others wait for VCPUOP_initialise).
 */
export function pvDomain(xen = new Xen(FEATURES), vcpus = 1): PvDomain {
  const mem = new MachineMemory({ frames: 4096, seed: 3 });
  const types = new PageTypes(mem);
  const d = new Domain(1, 'guest');
  const p2m = mem.allocDomainMemory(1, NR_PAGES) as number[];
  const other = mem.allocDomainMemory(2, 8) as number[];
  const mmu = new PvMmu(types, { domid: 1, vcpus });
  new PvMmu(types, { domid: 2, vcpus: 1 });
  d.mmu = mmu;
  d.maxVcpus = vcpus;
  d.machine = mem;
  d.p2m = p2m;
  d.memory = DomainMemory.libxlPv(NR_PAGES * 4);
  const put = (table: number, i: number, e: [number, number]) => {
    mem.view(table).setUint32(i * 8, e[0], true);
    mem.view(table).setUint32(i * 8 + 4, e[1], true);
  };
  const [l4, l3, l2, l1] = p2m as [number, number, number, number];
  put(l4, 0, pte(l3, 7));
  put(l3, 0, pte(l2, 7));
  put(l2, 0, pte(l1, 7));
  for (let k = 4; k < 32; k++) put(l1, k, pte(p2m[k] as number, 7));
  const pin = mmu.mmuextOp(0, [{ cmd: MMUEXT_PIN_L4_TABLE, arg1: l4, arg2: 0 }]);
  if (pin.rc !== 0) throw new Error(`test page tables do not validate: ${pin.rc}`);
  if (mmu.setBaseptrs(0, l4, 0) !== 0) throw new Error('no base pointer');
  const v = new PvVcpu(0, mem, xen, FEATURES);
  xen.attach(v, d);
  v.guestTable = l4;
  v.loadRoot();
  v.setReg(4, 0x20000);
  const call = (nr: number, ...args: (number | bigint)[]): number => {
    args.forEach((a, k) => {
      const n = ARG_REGS[k] as number;
      if (typeof a === 'bigint') {
        const u = BigInt.asUintN(64, a);
        v.cpu.setReg64(n, Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0);
      } else v.setReg(n, a);
    });
    const r = xen.hypercall(v, nr);
    if (typeof r !== 'number') throw new Error('no-return hypercall');
    return r;
  };
  const write = (va: number, bytes: Uint8Array) => {
    if (!v.mem.write(va, bytes)) throw new Error(`test write at ${va.toString(16)} faulted`);
  };
  const u64s = (va: number, values: readonly (number | bigint)[]) => {
    const b = new Uint8Array(values.length * 8);
    const dv = new DataView(b.buffer);
    values.forEach((x, k) => dv.setBigUint64(k * 8, BigInt.asUintN(64, BigInt(x)), true));
    write(va, b);
  };
  const readU64 = (va: number, n: number) => {
    const b = new Uint8Array(n * 8);
    if (!v.mem.read(va, b)) throw new Error('test read faulted');
    const dv = new DataView(b.buffer);
    return Array.from({ length: n }, (_, k) => Number(dv.getBigUint64(k * 8, true)));
  };
  return { mem, types, xen, d, v, p2m, other, call, write, u64s, readU64 };
}
