import { defineConfig } from 'vitest/config';

/**
 * `npm run test:package`: the published package as a consumer installs it (test/package).
 * Slow (a build, an npm install), so not part of `npm test`; CI runs it right after.
 */
export default defineConfig({
  test: {
    include: ['test/package/**/*.test.ts'],
    setupFiles: ['test/setup/unhandled-rejection-guard.ts'],
    testTimeout: 180_000,
    // npm pack (which builds dist/) and npm install of the tarball with aws-cdk-lib.
    hookTimeout: 900_000,
    pool: 'forks',
    maxWorkers: 1,
  },
});
