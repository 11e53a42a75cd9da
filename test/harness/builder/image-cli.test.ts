import { describe, expect, it } from 'vitest';
import { requireFixture } from '../../../fixtures/pipeline/cache.js';
import { runCli } from '../../support/cli.js';

describe('xenlab image info', () => {
  it("prints the format, notes, layout and segments of GRUB's x86_64 image", async () => {
    const path = (await requireFixture('grub-xen')).file('x86_64-xen');
    const r = await runCli(['image', 'info', path]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toContain('guest type:     xen-3.0-x86_64');
    expect(lines).toContain('notes:          PT_NOTE (5 Xen notes)');
    expect(lines).toContain('  GUEST_OS            "GRUB"');
    expect(lines).toContain('virt_base:      0x0');
    expect(lines.filter((l) => /^ {2}\d+ +0x/.test(l))).toHaveLength(2);
  });

  it('--json gives the same facts as a record', async () => {
    const path = (await requireFixture('kernel')).file('vmlinuz');
    const r = await runCli(['image', 'info', path, '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { format: string; compression: string; layout: { virtBase: string; hypercallPage: null }; features: { required: string[] } };
    expect(j.format).toBe('bzImage');
    expect(j.compression).toBe('lz4-legacy');
    expect(j.layout.virtBase).toBe('0xffffffff80000000');
    expect(j.layout.hypercallPage).toBeNull();
    expect(j.features.required).toEqual(['writable_page_tables']);
  });

  it('a refused image is one line naming it and exit status 1', async () => {
    const path = (await requireFixture('kernel')).file('vmlinuz');
    const r = await runCli(['image', 'info', path, '--mem', '16']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^xenlab: ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: the kernel needs \\d+\\.\\d MiB of guest memory .* more than the domain's 16\\.0 MiB\\n$`));
    const missing = await runCli(['image', 'info', '/nonexistent/vmlinuz']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe('xenlab: /nonexistent/vmlinuz: cannot read the kernel image\n');
    const bad = await runCli(['image', 'info', path, '--mem', '0']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('xenlab: --mem expects a whole number of MiB\n');
  });
});
