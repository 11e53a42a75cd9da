/**
 * Debian's Linux kernel against xenlab's xenstored, as a benchmark-style run (too slow for the
 * test suite: Linux's first XenStore request comes after more than 1.5 G instructions, several
 * minutes of emulation). Boots the fetched cloud kernel headless with no disk, prints every
 * XenStore message the domain exchanges (with the wall time), then how the run ended and the
 * console's tail. With xenstored on its ring Linux gets past balloon_init's watch on
 * memory/target (before, it waited forever in xs_talkv) and on to the panic for a missing root
 * device.
 *
 *   npx vite-node harness/bench/linux-xenstore.ts [MAX_INSTRUCTIONS]     (default 3e9)
 */
import { requireFixture } from '../../fixtures/pipeline/cache.js';
import { bootGuest, parseXlConfig } from '../boot/boot.js';

const max = Number(process.argv[2] ?? 3e9);
const kernel = (await requireFixture('kernel')).file('vmlinuz');
const { config } = parseXlConfig(`name = "debian"\nkernel = "${kernel}"\nmemory = 128\nextra = "console=hvc0"\n`, 'linux-xenstore.cfg');
const t0 = performance.now();
const wall = (): string => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
let guestMessages = 0;
const r = await bootGuest({
  config,
  maxInstructions: max,
  onXenStoreTrace: (line) => {
    if (!line.includes('domain 1')) return;
    if (line.startsWith('IN ')) guestMessages++;
    process.stdout.write(`[${wall()}] ${line}\n`);
  },
  onProgress: (p) => process.stderr.write(`\r${(p.instructions / 1e9).toFixed(2)} G instructions, ${wall()}   `),
});
process.stderr.write('\n');
process.stdout.write(`end: ${r.end} (${r.detail}); ${r.instructions} instructions, ${(r.guestNs / 1e9).toFixed(3)} s guest time, ${wall()} wall\n`);
process.stdout.write(`XenStore requests from the domain: ${guestMessages}; by type: ${JSON.stringify(Object.fromEntries(r.xenstore.daemon.counts))}\n`);
process.stdout.write(`diagnostics: ${JSON.stringify(r.diagnostics)}\n--- console tail\n${r.console.slice(-1500)}\n`);
