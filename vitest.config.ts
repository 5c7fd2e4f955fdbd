import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Real servers (Dovecot, DynamoDB Local) are shared per file; two cores: keep the pool small.
    pool: 'forks',
    maxWorkers: 2,
  },
});
