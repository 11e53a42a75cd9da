/**
 * The one seed of a test run. Every fast-check property and every seeded generator in the tests
 * derives from it, so a run is repeatable; set XENLAB_SEED to explore (`XENLAB_SEED=random`
 * picks one and prints it).
 */
export const DEFAULT_SEED = 20261126;

export function runSeed(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.XENLAB_SEED;
  if (raw === undefined || raw === '') return DEFAULT_SEED;
  if (raw === 'random') return (Date.now() ^ (process.pid << 8)) >>> 0;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`XENLAB_SEED=${raw}: expected an integer or 'random'`);
  return n >>> 0;
}
