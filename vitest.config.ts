import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The interoperability matrix needs extra POP3 servers: `npm run test:interop`; the
    // package test builds and installs the package: `npm run test:package`.
    exclude: [...configDefaults.exclude, 'test/interop/**', 'test/package/**'],
    // Fails any test during which a promise rejection went unhandled.
    setupFiles: ['test/setup/unhandled-rejection-guard.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Real servers (Dovecot, DynamoDB Local) are shared per file; two cores: keep the pool small.
    pool: 'forks',
    maxWorkers: 2,
  },
});
