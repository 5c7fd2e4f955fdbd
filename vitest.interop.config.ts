import { defineConfig } from 'vitest/config';

/**
 * `npm run test:interop`: the interoperability matrix (test/interop), kept out of `npm test`
 * because it needs the POP3 servers that scripts/install-interop-servers.sh installs.
 */
export default defineConfig({
  test: {
    include: ['test/interop/**/*.test.ts'],
    // Fails any test during which a promise rejection went unhandled.
    setupFiles: ['test/setup/unhandled-rejection-guard.ts'],
    // A cell runs the worker twice plus direct sessions; a slow login (wrong-password
    // delays) or a loaded CI box must not make it flaky.
    testTimeout: 60_000,
    // Starting a server, s3rver or DynamoDB Local (a JVM).
    hookTimeout: 120_000,
    pool: 'forks',
    // One file; the servers of a file share s3rver and DynamoDB Local.
    maxWorkers: 1,
  },
});
