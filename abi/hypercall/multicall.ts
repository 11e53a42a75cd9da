/**
 * multicall (hypercall 13, Xen `do_multicall` in common/multicall.c with x86's
 * `pv_do_multicall_call`): `multicall(multicall_entry *call_list, unsigned int nr_calls)`.
 *
 * Each entry is read (64 bytes), run through the same hypercall table as a direct call — its
 * `op` as the number, `args[0..4]` as the arguments, counted in the statistics like any other
 * call — and its return value is written to the entry's `result`. A failing entry does not stop
 * the batch: an unknown op gets -ENOSYS in its `result`, and the multicall itself returns 0.
 * The multicall returns something else only when:
 *  - it is nested (a multicall entry inside a multicall): that inner call is -EINVAL;
 *  - `call_list` fails Xen's `__addr_ok` (the start of the list only): -EFAULT, nothing run;
 *  - an entry cannot be read, or its `result` cannot be written: -EFAULT, the entries before
 *    it done and their results written;
 *  - an entry is `iret` (Xen's mc_exit): its result is written (best effort), the batch ends
 *    there and the vCPU returns where the iret context says, with the RAX it holds.
 * A call that does not return otherwise (shutdown, a crash) ends the batch too: Xen pauses the
 * vCPU, so its preemption check stops the loop before the next entry. Xen's debug builds
 * overwrite each entry except `result` with 0xAA after running it; release builds, as here,
 * leave them alone. Nothing here needs preemption: every call completes at once.
 */
import { layout } from '../public/index.js';
import { XEN_EFAULT, XEN_EINVAL } from '../public/errno.js';
import * as X from '../public/xen.js';
import { addrOk } from '../pv/mmu.js';
import { NO_RETURN, type Handler } from './context.js';

const ENTRY = layout('multicall_entry', 'x86_64');
const RESULT = ENTRY.find('result')?.offset ?? -1;
const ARGS = ENTRY.find('args')?.offset ?? -1;
if (ENTRY.size !== 64 || RESULT !== 8 || ARGS !== 16) throw new Error('multicall_entry: unexpected layout');

const TWO32 = 4294967296;

export const multicall: Handler = (ctx) => {
  const v = ctx.vcpu;
  if (v.inMulticall) return -XEN_EINVAL;
  const [lo, hi] = ctx.argHalves(1);
  const list = (hi | 0) * TWO32 + (lo >>> 0);
  const nr = ctx.argHalves(2)[0] >>> 0;
  // array_access_ok: the count can never overflow for a 32-bit nr_calls; access_ok checks the start.
  if (!addrOk(list)) return -XEN_EFAULT;
  v.inMulticall = true;
  try {
    const buf = new Uint8Array(ENTRY.size);
    const dv = new DataView(buf.buffer);
    for (let k = 0; k < nr; k++) {
      const at = list + k * ENTRY.size;
      if (!ctx.mem.read(at, buf)) return -XEN_EFAULT;
      const opLo = dv.getUint32(0, true);
      const opHi = dv.getUint32(4, true);
      const args: [number, number][] = [];
      for (let a = 0; a < 5; a++) args.push([dv.getInt32(ARGS + a * 8, true), dv.getInt32(ARGS + a * 8 + 4, true)]);
      // Xen compares the whole unsigned long: an op with high bits set matches no hypercall.
      const op = opHi === 0 ? opLo : opHi * TWO32 + opLo;
      const r = ctx.table.call(op, {
        vcpu: v,
        domain: ctx.domain,
        mem: ctx.mem,
        arg: (n) => {
          const h = args[n - 1] ?? [0, 0];
          return h[1] * TWO32 + (h[0] >>> 0);
        },
        argHalves: (n) => args[n - 1] ?? [0, 0],
      });
      if (op === X.__HYPERVISOR_iret) {
        // mc_exit: the result is what iret restored into RAX (0 if it crashed the domain).
        writeResult(ctx.mem, at, v.crashed === undefined ? v.reg(0) : 0);
        return NO_RETURN;
      }
      if (r === NO_RETURN || !ctx.domain.running) {
        writeResult(ctx.mem, at, 0);
        return NO_RETURN;
      }
      if (!writeResult(ctx.mem, at, r)) return -XEN_EFAULT;
    }
    return 0;
  } finally {
    v.inMulticall = false;
  }
};

/** `__copy_field_to_guest(call_list, call, result)`: the 64-bit result, two's complement. */
function writeResult(mem: Parameters<Handler>[0]['mem'], entry: number, r: number): boolean {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  const lo = ((r % TWO32) + TWO32) % TWO32;
  dv.setUint32(0, lo, true);
  dv.setUint32(4, Math.floor((r - lo) / TWO32) >>> 0, true);
  return mem.write(entry + RESULT, b);
}
