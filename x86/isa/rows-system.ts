/** Table rows: instructions that hand control to the driver (SYSCALL, HLT, INT3, UD2, CPUID). */
import { BP, Fault, GP, UD } from '../fault.js';
import { NO_FLAGS, type Row } from './types.js';
import { row } from './rows-core.js';

export const SYSTEM_ROWS: readonly Row[] = [
  row({
    name: 'syscall', mnemonic: 'syscall', map: '0f', opcode: 0x05, operands: [], modes: 'o64', flags: NO_FLAGS, ends: true,
    exec: (c) => {
      if (c.hooks.syscall === undefined) throw new Fault(UD);
      c.hooks.syscall(c);
    },
    test: { skip: 'enters the operating system' },
  }),
  row({
    name: 'hlt', mnemonic: 'hlt', map: 'one', opcode: 0xf4, operands: [], flags: NO_FLAGS, ends: true,
    exec: (c) => {
      if (c.user || c.hooks.hlt === undefined) throw new Fault(GP, 0);
      c.hooks.hlt(c);
    },
  }),
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
    test: { skip: 'answered by the driver, not the silicon' },
  }),
];
