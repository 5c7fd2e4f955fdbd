/**
 * Interoperability matrix: the worker against Dovecot, GNU mailutils pop3d, popa3d, Courier
 * and Cyrus, each started privately on 127.0.0.1 (test/interop/servers). Every cell is its
 * own test: server | security mode | mechanism | pipelined or lock-step | keep or delete.
 * Then each server's quirks (test/interop/quirks). `npm run test:interop`; with
 * INTEROP_WRITE_RESULTS=1 the outcome goes to test/interop/results.json for the docs/testing.md table.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import type { Aws } from './bench';
import { combinations, describeCombination, featuresOf } from './combinations';
import { QUIRK_SUITES } from './quirks';
import { Results } from './results';
import { runCombination } from './run-combination';
import { requireServer, SERVER_MODULES, warnLoudly } from './servers';
import type { InteropServer } from './servers/types';

/** INTEROP_FULL=1: the full cross product for every server, not only for Dovecot. */
const FULL = process.env.INTEROP_FULL === '1';
/** DynamoDB Local (a JVM) takes a few seconds; a loaded CI box several times that. */
const AWS_START_TIMEOUT_MS = 120_000;

const results = new Results();
let s3: LocalS3 | undefined;
let dynamo: LocalDynamo | undefined;
const aws = (): Aws => ({ s3: s3!, dynamo: dynamo! });

beforeAll(async () => {
  [s3, dynamo] = await Promise.all([startS3rver(), startDynamoDbLocal()]);
}, AWS_START_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all([s3?.stop(), dynamo?.stop()]);
  results.writeIfAsked();
});

for (const module of SERVER_MODULES) {
  const { profile } = module;
  const runs = requireServer(module);
  if (!runs) results.skipped(profile, module.unavailable() ?? 'unavailable');

  describe.skipIf(!runs)(profile.label, () => {
    let server: InteropServer | undefined;
    const current = (): InteropServer => server!;

    let startFailure: string | undefined;

    beforeAll(async () => {
      try {
        server = await module.start();
      } catch (error) {
        // Installed but cannot start: an error in CI; locally a loud skip, like a missing server.
        if (process.env.CI === 'true') throw error;
        startFailure = String((error as Error)?.stack ?? error);
        results.skipped(profile, `could not start: ${(error as Error)?.message ?? error}`);
        warnLoudly(`${profile.label} could not start; SKIPPING its interop tests:\n${startFailure}`);
        return;
      }
      results.started(profile, server.version);
      // Test names come from the static profile: it must match what was started.
      expect([...server.mechanisms]).toEqual([...profile.mechanisms]);
      expect(server.ports.plain !== undefined).toBe(profile.modes.includes('none'));
      expect(server.ports.implicitTls !== undefined).toBe(profile.modes.includes('implicit'));
      expect(server.stls).toBe(profile.modes.includes('starttls'));
    });
    afterAll(async () => {
      await server?.stop();
    });
    beforeEach((context) => {
      if (startFailure !== undefined) context.skip();
    });

    for (const c of combinations(profile, FULL || profile.name === 'dovecot')) {
      it(`${profile.name} | ${describeCombination(c)}`, () =>
        results.track(
          (passed) => results.combination(profile, featuresOf(profile, c), passed),
          () => runCombination(aws(), current(), profile, c),
        ));
    }

    QUIRK_SUITES[profile.name]?.({ aws, server: current, profile, results });
  });
}
