/** `xenlab abi dump` and the record behind it (abi/dump.ts). */
import { describe, expect, it } from 'vitest';
import { abiDump, type AbiDump } from '../../abi/dump.js';
import { runCli } from '../support/cli.js';

describe('xenlab abi dump', () => {
  it('--json prints every type sorted, with fields and constants, for the chosen ABI', async () => {
    const r = await runCli(['abi', 'dump', '--arch', 'x86_32', '--json']);
    expect(r.status).toBe(0);
    const d = JSON.parse(r.stdout) as AbiDump;
    expect([d.format, d.arch, d.interfaceVersion]).toEqual(['xenlab-abi-dump/1', 'x86_32', '0x00040e00']);
    const names = d.types.map((t) => t.name);
    expect(names).toEqual([...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const si = d.types.find((t) => t.name === 'start_info');
    expect(si?.size).toBe(1112);
    expect(si?.fields.find((f) => f.path === 'console.domU.evtchn')).toEqual({ path: 'console.domU.evtchn', offset: 56, size: 4, type: 'uint32_t' });
    expect(names).not.toContain('iret_context');
    const consts = new Map((d.constants ?? []).map((c) => [c.name, c]));
    expect(consts.get('GNTST_bad_domain')).toMatchObject({ value: -2, hex: '0xfffffffffffffffe', header: 'grant_table.h' });
    expect(consts.get('FLAT_KERNEL_CS')?.value).toBe(0xe019);
    expect(consts.has('SEGBASE_FS')).toBe(false);
  });

  it('keeps values beyond 2^53 exact as decimal strings', () => {
    const d = abiDump({ arch: 'x86_64', constants: true });
    const c = d.constants?.find((k) => k.name === 'HYPERVISOR_VIRT_START');
    expect(c).toMatchObject({ value: '18446603336221196288', hex: '0xffff800000000000' });
  });

  it('prints a table per structure, constants with --constants', async () => {
    const r = await runCli(['abi', 'dump']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^struct start_info {2}\[xen\.h\] {2}size 1168, align 8$/m);
    expect(r.stdout).toMatch(/^ {6}80 {5}4 {6}evtchn +uint32_t$/m);
    expect(r.stdout).not.toContain('__HYPERVISOR_iret');
    const c = await runCli(['abi', 'dump', '--constants']);
    expect(c.stdout).toMatch(/^__HYPERVISOR_iret +23 +0x17 +xen\.h +guest$/m);
  });

  it('refuses an unknown architecture in one line', async () => {
    const r = await runCli(['abi', 'dump', '--arch', 'arm64']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('arch');
  });
});
