/**
 * The one infrastructure test that really bundles (esbuild, well under a second): the helper
 * the end-to-end tests use produces byte for byte the asset that synth puts in the function.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Stack, type CfnElement } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FETCH_BUNDLE, FETCH_RUNTIME_NAME, MAX_BUNDLE_BYTES } from '../../lib/bundling';
import { FETCH_RUNTIME, MailFetcher } from '../../lib/mail-fetcher';
import { bundleHandler, type HandlerBundle } from './bundle';
import { fixtureMailboxes, testApp } from './test-app';

const root = mkdtempSync(join(tmpdir(), 'mailfetch-bundle-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let bundle: HandlerBundle;
beforeAll(async () => {
  bundle = await bundleHandler(join(root, 'helper'));
});

describe('the fetch handler bundle', () => {
  it(`stays under ${MAX_BUNDLE_BYTES} bytes`, () => {
    expect(bundle.sizeBytes).toBeGreaterThan(0);
    expect(bundle.sizeBytes).toBeLessThan(MAX_BUNDLE_BYTES);
    // No source map ships: Node would parse it on every cold start (lib/bundling.ts).
    expect(existsSync(`${bundle.file}.map`)).toBe(false);
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

  it('targets the Lambda runtime the function runs on', () => {
    expect(FETCH_RUNTIME.name).toBe(FETCH_RUNTIME_NAME);
    expect(FETCH_BUNDLE.target).toBe(FETCH_RUNTIME_NAME.replace(/^nodejs(\d+)\.x$/, 'node$1'));
  });

  it('is the asset NodejsFunction bundles for the construct, byte for byte', () => {
    const outdir = join(root, 'cdk.out');
    const app = testApp({ bundle: true, outdir });
    const stack = new Stack(app, 'Bundled');
    const fetcher = new MailFetcher(stack, 'MailFetcher', { mailboxes: fixtureMailboxes() });
    const template = app.synth().getStackByName('Bundled').template as { Resources: Record<string, { Properties: { Code?: { S3Key?: unknown } } }> };
    // The stack has other functions too (the registry seeding): take the worker's asset, `<hash>.zip`.
    const workerId = stack.getLogicalId(fetcher.function.node.defaultChild as CfnElement);
    const s3Key = template.Resources[workerId]?.Properties.Code?.S3Key;
    expect(s3Key).toMatch(/^[0-9a-f]{64}\.zip$/);
    const assetPath = `asset.${(s3Key as string).replace(/\.zip$/, '')}`;
    const asset = readFileSync(join(outdir, assetPath as string, 'index.mjs'));
    expect(asset.equals(readFileSync(bundle.file))).toBe(true);
  });
});
