import { defineConfig } from 'vitest/config';

/** `npm run soak`: the long reliability runs (20 crash rounds, 100k files); not part of `npm test`. */
export default defineConfig({
  test: {
    include: ['test/soak/**/*.test.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 600_000,
    // One at a time: each soak test sizes itself to the whole machine.
    fileParallelism: false,
    maxWorkers: 1,
    pool: 'forks',
  },
});
