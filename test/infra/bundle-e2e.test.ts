/**
 * The deployable artefact end to end: the handler directory the construct ships, loaded by
 * a plain `node` process (no tsx, no node_modules beside it) with a Lambda-like environment,
 * given the id-only event, loading the mailbox from the registry and fetching from a POP3
 * server into S3 (s3rver) and DynamoDB (DynamoDB Local), with events on (the fake
 * EventBridge): the S3, EventBridge and postal-mime code it runs comes from lazy chunks.
 */
import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMailbox } from '../../lambda/config/validate-config';
import { ENV } from '../../lambda/env';
import { DynamoDbMailboxRegistry } from '../../lambda/registry/dynamodb-mailbox-registry';
import { ensureTable } from '../../lambda/state/table-schema';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakeEventBridge, type FakeEventBridge } from '../fixtures/fake-eventbridge';
import { startFakePop3, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { bundleHandler } from './bundle';

/** The budget for the deployable bundle. */
const MAX_BUNDLE_BYTES = 1024 * 1024;

describe('bundled handler', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  let pop3: FakePop3Server;
  let bus: FakeEventBridge;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mf-bundle-'));
    [s3, dynamo, pop3, bus] = await Promise.all([
      startS3rver(),
      startDynamoDbLocal(),
      startFakePop3({ password: 'bundle-pw', messages: Array.from({ length: 5 }, (_, i) => ({ uid: `b${i}`, bytes: Buffer.from(`Subject: ${i}\r\n\r\n.dot\r\nbody ${i}\r\n`) })) }),
      startFakeEventBridge(),
    ]);
    await s3.s3.send(new CreateBucketCommand({ Bucket: 'bundle-mail' }));
    await ensureTable(dynamo.dynamodb, 'bundle-state');
    const registry = new DynamoDbMailboxRegistry({ client: dynamo.dynamodb, tableName: 'bundle-state' });
    await registry.add(parseMailbox({ id: 'bundled', host: '127.0.0.1', port: pop3.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: { env: 'MF_BUNDLE_PASSWORD' } }));
  }, 120_000);
  afterAll(async () => {
    await Promise.all([s3?.stop(), dynamo?.stop(), pop3?.close(), bus?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('is under 1 MB and runs a fetch with only plain node and environment variables', async () => {
    const bundle = await bundleHandler(join(dir, 'asset'));
    expect(bundle.totalBytes).toBeLessThan(MAX_BUNDLE_BYTES);
    const runner = join(dir, 'invoke.mjs');
    writeFileSync(
      runner,
      `const { handler } = await import(${JSON.stringify(pathToFileURL(bundle.file).href)});
       const event = JSON.parse(process.argv[2]);
       const context = { getRemainingTimeInMillis: () => 60_000, awsRequestId: 'bundle-req' };
       const summary = await handler(event, context);
       process.stdout.write('RESULT ' + JSON.stringify(summary) + '\\n');`,
    );
    // The id-only event; the configuration comes from the registry item added above.
    const event = { action: 'fetch', mailboxId: 'bundled' };
    const env = {
      PATH: process.env.PATH,
      [ENV.BUCKET]: 'bundle-mail',
      [ENV.TABLE]: 'bundle-state',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
      [ENV.EVENT_BUS]: 'bundle-bus',
      // s3rver stores aws-chunked framing verbatim; real S3 does not need this.
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      MF_BUNDLE_PASSWORD: 'bundle-pw',
    };
    const run = async (): Promise<Record<string, unknown>> => {
      const { stdout } = await promisify(execFile)(process.execPath, [runner, JSON.stringify(event)], { env, cwd: dir });
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      expect(stdout).not.toContain('bundle-pw');
      return JSON.parse(line!.slice('RESULT '.length)) as Record<string, unknown>;
    };
    expect(await run()).toMatchObject({ mailbox: 'bundled', status: 'ok', fetched: 5, complete: true });
    // Published through the lazily loaded EventBridge chunk, the subjects decoded by the postal-mime one.
    expect(bus.events.map((e) => e.detail.subject).sort()).toEqual(['0', '1', '2', '3', '4']);
    expect(await run()).toMatchObject({ fetched: 0, new: 0 });
    const listed = await s3.s3.send(new ListObjectsV2Command({ Bucket: 'bundle-mail', Prefix: 'messages/bundled/' }));
    expect(listed.KeyCount).toBe(5);
    console.log(`bundle: ${bundle.sizeBytes} bytes loaded by a cold start, ${bundle.totalBytes} with the lazy chunks`);
  }, 120_000);
});
