/**
 * Table rows: the system instructions (SDM vol. 2 and vol. 3): SYSCALL/SYSRET, SYSENTER/SYSEXIT,
 * IRET, HLT, CLI/STI, INT3, UD2, CPUID, control and debug registers, the 0F 01 group (LGDT,
 * LIDT, SGDT, SIDT, SMSW, LMSW, INVLPG, SWAPGS, VMCALL, VMMCALL), MSRs, cache and TLB control.
 *
 * Rows whose result on the host depends on the host's kernel (its GDT address, its CR0) or that
 * enter it are not compared natively (`test.skip`); the privileged ones are: at CPL 3 both the
 * silicon and a non-system CPU raise #GP(0). Their system-level behaviour is unit-tested
 * (test/x86/system.test.ts) and exercised by the bare-machine test kernels (fixtures/x86/).
 */
import { BP, Fault, UD } from '../fault.js';
import * as sys from '../exec/system.js';
import { IF, NO_FLAGS, type FlagEffect, type Row } from './types.js';
import { row } from './rows-core.js';

/** CLI/STI/IRET/POPF-like: they write system flags only (no arithmetic flag effects). */
const SYS_FLAGS: FlagEffect = { read: 0, write: IF, undefined: 0 };
const HOST = 'the result depends on the host kernel (its tables and control registers), not on the silicon';

export const SYSTEM_ROWS: readonly Row[] = [
  row({
    name: 'syscall', mnemonic: 'syscall', map: '0f', opcode: 0x05, operands: [], modes: 'o64', flags: NO_FLAGS, ends: true, exec: sys.syscall,
    test: { skip: 'enters the operating system' },
  }),
  row({ name: 'sysret', mnemonic: 'sysret', map: '0f', opcode: 0x07, operands: [], modes: 'o64', flags: NO_FLAGS, ends: true, exec: sys.sysret }),
  row({ name: 'sysenter', mnemonic: 'sysenter', map: '0f', opcode: 0x34, operands: [], flags: NO_FLAGS, ends: true, exec: sys.sysenter }),
  row({ name: 'sysexit', mnemonic: 'sysexit', map: '0f', opcode: 0x35, operands: [], flags: NO_FLAGS, ends: true, exec: sys.sysexit }),
  row({
    name: 'iret', mnemonic: 'iret', map: 'one', opcode: 0xcf, operands: [], flags: SYS_FLAGS, ends: true, exec: sys.iret,
    test: { skip: 'a same-privilege IRET succeeds on the host at CPL 3; compared in the system-level unit tests instead' },
  }),
  row({ name: 'hlt', mnemonic: 'hlt', map: 'one', opcode: 0xf4, operands: [], flags: NO_FLAGS, ends: true, exec: sys.hlt }),
  row({ name: 'cli', mnemonic: 'cli', map: 'one', opcode: 0xfa, operands: [], flags: SYS_FLAGS, exec: sys.cli }),
  row({ name: 'sti', mnemonic: 'sti', map: 'one', opcode: 0xfb, operands: [], flags: SYS_FLAGS, ends: true, exec: sys.sti }),
  row({ name: 'int3', mnemonic: 'int3', map: 'one', opcode: 0xcc, operands: [], flags: NO_FLAGS, ends: true, exec: () => { throw new Fault(BP, -1, 0, true, true); } }),
  row({ name: 'ud2', mnemonic: 'ud2', map: '0f', opcode: 0x0b, operands: [], flags: NO_FLAGS, ends: true, exec: () => { throw new Fault(UD); } }),
  row({
    name: 'cpuid', mnemonic: 'cpuid', map: '0f', opcode: 0xa2, operands: [], flags: NO_FLAGS,
    exec: (c) => {
      const [a, b, cc, d] = c.hooks.cpuid?.(c, c.reg32(0), c.reg32(1)) ?? [0, 0, 0, 0];
      c.setReg32(0, a);
      c.setReg32(3, b);
      c.setReg32(1, cc);
      c.setReg32(2, d);
    },
    test: { driver: { reason: 'CPUID is answered by the driver, not the silicon', regs: [[0, 0xffffffffn], [1, 0xffffffffn], [2, 0xffffffffn], [3, 0xffffffffn]] } },
  }),
  // Control and debug registers: the r/m field is a register whatever mod says; 64-bit in 64-bit mode.
  row({ name: 'mov_Ry_Cy', mnemonic: 'mov', map: '0f', opcode: 0x20, operands: ['Ry', 'Cy'], anyMod: true, f64: true, flags: NO_FLAGS, exec: sys.movFromCr }),
  row({ name: 'mov_Cy_Ry', mnemonic: 'mov', map: '0f', opcode: 0x22, operands: ['Cy', 'Ry'], anyMod: true, f64: true, flags: NO_FLAGS, ends: true, exec: sys.movToCr }),
  row({ name: 'mov_Ry_Dy', mnemonic: 'mov', map: '0f', opcode: 0x21, operands: ['Ry', 'Dy'], anyMod: true, f64: true, flags: NO_FLAGS, exec: sys.movFromDr }),
  row({ name: 'mov_Dy_Ry', mnemonic: 'mov', map: '0f', opcode: 0x23, operands: ['Dy', 'Ry'], anyMod: true, f64: true, flags: NO_FLAGS, ends: true, exec: sys.movToDr }),
  row({ name: 'clts', mnemonic: 'clts', map: '0f', opcode: 0x06, operands: [], flags: NO_FLAGS, exec: sys.clts }),
  row({ name: 'invd', mnemonic: 'invd', map: '0f', opcode: 0x08, operands: [], flags: NO_FLAGS, exec: sys.wbinvd }),
  row({ name: 'wbinvd', mnemonic: 'wbinvd', map: '0f', opcode: 0x09, operands: [], flags: NO_FLAGS, exec: sys.wbinvd }),
  row({ name: 'wrmsr', mnemonic: 'wrmsr', map: '0f', opcode: 0x30, operands: [], flags: NO_FLAGS, ends: true, exec: sys.wrmsr }),
  row({ name: 'rdmsr', mnemonic: 'rdmsr', map: '0f', opcode: 0x32, operands: [], flags: NO_FLAGS, exec: sys.rdmsr }),
  row({
    name: 'rdpmc', mnemonic: 'rdpmc', map: '0f', opcode: 0x33, operands: [], flags: NO_FLAGS, exec: sys.rdpmc,
    test: { skip: 'the host kernel may allow user RDPMC (CR4.PCE); no counters are modelled here' },
  }),
  // The 0F 01 group.
  row({ name: 'sgdt_M', mnemonic: 'sgdt', map: '0f', opcode: 0x01, reg: 0, mod: 'mem', operands: ['M'], flags: NO_FLAGS, exec: sys.sgdt, test: { skip: HOST } }),
  row({ name: 'sidt_M', mnemonic: 'sidt', map: '0f', opcode: 0x01, reg: 1, mod: 'mem', operands: ['M'], flags: NO_FLAGS, exec: sys.sidt, test: { skip: HOST } }),
  row({ name: 'lgdt_M', mnemonic: 'lgdt', map: '0f', opcode: 0x01, reg: 2, mod: 'mem', operands: ['M'], flags: NO_FLAGS, exec: sys.lgdt }),
  row({ name: 'lidt_M', mnemonic: 'lidt', map: '0f', opcode: 0x01, reg: 3, mod: 'mem', operands: ['M'], flags: NO_FLAGS, exec: sys.lidt }),
  row({ name: 'smsw_Mw', mnemonic: 'smsw', map: '0f', opcode: 0x01, reg: 4, mod: 'mem', operands: ['Mw'], flags: NO_FLAGS, exec: sys.smsw, test: { skip: HOST } }),
  row({ name: 'smsw_Rv', mnemonic: 'smsw', map: '0f', opcode: 0x01, reg: 4, mod: 'reg', operands: ['Rv'], flags: NO_FLAGS, exec: sys.smsw, test: { skip: HOST } }),
  row({ name: 'lmsw_Ew', mnemonic: 'lmsw', map: '0f', opcode: 0x01, reg: 6, operands: ['Ew'], flags: NO_FLAGS, ends: true, exec: sys.lmsw }),
  row({ name: 'invlpg_Mb', mnemonic: 'invlpg', map: '0f', opcode: 0x01, reg: 7, mod: 'mem', operands: ['Mb'], flags: NO_FLAGS, exec: sys.invlpg }),
  row({
    name: 'vmcall', mnemonic: 'vmcall', map: '0f', opcode: 0x01, reg: 0, mod: 'reg', rm: 1, operands: [], flags: NO_FLAGS, ends: true, exec: sys.vmcall,
  }),
  row({
    name: 'vmmcall', mnemonic: 'vmmcall', map: '0f', opcode: 0x01, reg: 3, mod: 'reg', rm: 1, operands: [], flags: NO_FLAGS, ends: true, exec: sys.vmcall,
  }),
  row({ name: 'swapgs', mnemonic: 'swapgs', map: '0f', opcode: 0x01, reg: 7, mod: 'reg', rm: 0, operands: [], modes: 'o64', flags: NO_FLAGS, exec: sys.swapgs }),
];
