import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/soak/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Real HTTP servers and temp folders: keep parallelism modest so a loaded 2-core box copes.
    maxWorkers: 2,
    pool: 'forks',
    // One real PostgreSQL server for the run (a private throwaway cluster unless FILES_SYNC_TEST_DATABASE_URL is set).
    globalSetup: ['test/helpers/postgres-server.ts'],
  },
});
