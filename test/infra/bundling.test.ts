/**
 * The one infrastructure test that really bundles (esbuild, about a second a handler): the
 * helper the end-to-end tests use produces byte for byte the asset directory that synth puts
 * in the function, and every chunk of each handler's directory loads.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Stack, type CfnElement } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FETCH_BUNDLE, FETCH_RUNTIME_NAME, HANDLERS, MAX_BUNDLE_BYTES, PROJECT_ROOT, type HandlerName } from '../../lib/bundling';
import { FETCH_RUNTIME, MailFetcher } from '../../lib/mail-fetcher';
import { bundleHandler, type HandlerBundle } from './bundle';
import { fixtureMailboxes, testApp } from './test-app';

const root = mkdtempSync(join(tmpdir(), 'mailfetch-bundle-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let bundle: HandlerBundle;
beforeAll(async () => {
  bundle = await bundleHandler(join(root, 'helper'));
});

/** A fresh node (no node_modules near) imports the entry, then each lazy chunk, without a word on stderr. */
function expectEveryChunkLoads(handler: HandlerBundle): void {
  const lazy = handler.files.filter((f) => !f.initial).map((f) => pathToFileURL(join(handler.dir, f.name)).href);
  const script =
    `const m = await import(${JSON.stringify(pathToFileURL(handler.file).href)});` +
    `for (const chunk of ${JSON.stringify(lazy)}) await import(chunk);` +
    `process.stdout.write(typeof m.handler + ' and ' + ${lazy.length});`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: root, env: { PATH: process.env.PATH ?? '' } });
  expect(run.stderr).toBe('');
  expect(run.stdout).toBe(`function and ${lazy.length}`);
}

describe('the fetch handler bundle', () => {
  it(`stays under ${MAX_BUNDLE_BYTES} bytes, all chunks together`, () => {
    expect(bundle.sizeBytes).toBeGreaterThan(0);
    expect(bundle.totalBytes).toBeLessThan(MAX_BUNDLE_BYTES);
    // No source map ships: Node would parse it on every cold start (lib/bundling.ts).
    expect(readdirSync(bundle.dir).filter((name) => name.endsWith('.map'))).toEqual([]);
  });

  it('leaves what only some runs need out of what a cold start loads: the AWS SDK (DynamoDB, S3, EventBridge, SQS, KMS, Secrets Manager), postal-mime', () => {
    const lazy = /node_modules\/(@aws-sdk\/client-(dynamodb|s3|eventbridge|sqs|kms|secrets-manager)|postal-mime)\//;
    expect(bundle.initialInputs.filter((path) => lazy.test(path))).toEqual([]);
    // ...but the bundle has them, in chunks of their own.
    for (const sdk of ['client-dynamodb', 'client-s3', 'client-eventbridge', 'client-sqs', 'client-kms', 'client-secrets-manager']) {
      expect(bundle.inputs.some((path) => path.includes(`node_modules/@aws-sdk/${sdk}/`))).toBe(true);
    }
    // Every run's DynamoDB requests go direct (lambda/state/direct-dynamodb.ts), with their signer and HTTP client.
    const direct = /lambda\/(state\/(direct-dynamodb|routed-dynamodb-api)|aws-direct\/(sigv4|http1-pool|http1-response-parser|direct-path|aws-environment))\.ts$/;
    expect(bundle.initialInputs.filter((path) => direct.test(path))).toHaveLength(7);
  });

  it('leaves login code only some mailboxes use out of it too: SCRAM with SASLprep and channel binding, the OAuth token provider', () => {
    const lazy = /lambda\/(pop3\/(sasl-scram|saslprep|saslprep-tables|channel-binding)|credentials\/oauth-token-provider)\.ts$/;
    expect(bundle.initialInputs.filter((path) => lazy.test(path))).toEqual([]);
    expect(bundle.inputs.filter((path) => lazy.test(path))).toHaveLength(5);
  });

  it('leaves the direct PutObject out of it (loaded with the first object)', () => {
    const lazy = /lambda\/storage\/direct-put-object\.ts$/;
    expect(bundle.initialInputs.filter((path) => lazy.test(path))).toEqual([]);
    expect(bundle.inputs.filter((path) => lazy.test(path))).toHaveLength(1);
  });

  it('carries only the credential provider Lambda uses (the environment), not the SDK default chain', () => {
    expect(bundle.inputs.some((path) => path.endsWith('lambda/credentials/lambda-environment-credentials.ts'))).toBe(true);
    const chain = bundle.inputs.filter((path) => /@aws-sdk\/(credential-provider-|nested-clients|token-providers)/.test(path));
    expect(chain).toEqual([]);
  });

  it('loads as an ES module on plain Node and exports the handler', () => {
    const script = `const m = await import(${JSON.stringify(pathToFileURL(bundle.file).href)}); process.stdout.write(typeof m.handler);`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: root, env: { PATH: process.env.PATH ?? '' } });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('function');
  });

  it('loads every lazy chunk from a fresh node after the entry: no chunk of the directory is missing or broken', () => {
    expect(bundle.files.filter((f) => !f.initial).length).toBeGreaterThanOrEqual(5);
    expectEveryChunkLoads(bundle);
  });

  it.each(Object.keys(HANDLERS).filter((name) => name !== 'fetch'))('%s handler: loads, and so does every chunk of its directory', async (name) => {
    const other = await bundleHandler(join(root, name), join(PROJECT_ROOT, HANDLERS[name as HandlerName].entry));
    expect(other.totalBytes).toBeLessThan(MAX_BUNDLE_BYTES);
    expectEveryChunkLoads(other);
  });

  it('targets the Lambda runtime the function runs on', () => {
    expect(FETCH_RUNTIME.name).toBe(FETCH_RUNTIME_NAME);
    expect(FETCH_BUNDLE.target).toBe(FETCH_RUNTIME_NAME.replace(/^nodejs(\d+)\.x$/, 'node$1'));
    // CI and the bench run on this release (scripts/install-lambda-node.sh): the runtime's major version.
    const lambdaNode = readFileSync(join(PROJECT_ROOT, 'scripts', 'lambda-node-version'), 'utf8').trim();
    expect(`node${lambdaNode.split('.')[0]}`).toBe(FETCH_BUNDLE.target);
  });

  it('is the asset directory synth bundles for the construct, byte for byte', () => {
    const outdir = join(root, 'cdk.out');
    const app = testApp({ bundle: true, outdir });
    const stack = new Stack(app, 'Bundled');
    const fetcher = new MailFetcher(stack, 'MailFetcher', { mailboxes: fixtureMailboxes() });
    const template = app.synth().getStackByName('Bundled').template as { Resources: Record<string, { Properties: { Code?: { S3Key?: unknown } } }> };
    // The stack has other functions too (the registry seeding): take the worker's asset, `<hash>.zip`.
    const workerId = stack.getLogicalId(fetcher.function.node.defaultChild as CfnElement);
    const s3Key = template.Resources[workerId]?.Properties.Code?.S3Key;
    expect(s3Key).toMatch(/^[0-9a-f]{64}\.zip$/);
    const assetDir = join(outdir, `asset.${(s3Key as string).replace(/\.zip$/, '')}`);
    const names = readdirSync(assetDir).sort();
    expect(names).toEqual(bundle.files.map((f) => f.name).sort());
    expect(names).toContain(FETCH_BUNDLE.outFile);
    for (const name of names) expect(readFileSync(join(assetDir, name)).equals(readFileSync(join(bundle.dir, name)))).toBe(true);
    const workerHandler = template.Resources[workerId] as unknown as { Properties: { Handler?: string } };
    expect(workerHandler.Properties.Handler).toBe('index.handler');
  });
});
