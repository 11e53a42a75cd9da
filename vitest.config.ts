import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/fast-check-seed.ts'],
    reporters: ['./test/support/count-reporter.ts'],
    // Fixture builds and native-runner compiles take seconds; guest boots more.
    testTimeout: 120_000,
    hookTimeout: 600_000,
    pool: 'forks',
  },
});
