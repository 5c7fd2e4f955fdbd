/**
 * `mailfetch fetch --event-bus`: the command line publishes the same `Mail Stored` events as
 * the Lambda worker when it fetches into a deployment's bucket and table (with the outbox
 * in that table), through the AWS SDK's standard endpoint variables; `--local` has none.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambda/local/embedded-aws';
import { startDynalite, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakeEventBridge, type FakeEventBridge } from '../fixtures/fake-eventbridge';
import { startFakePop3, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { runMailfetch } from './cli-runner';

const PASSWORD_ENV = 'MF_EVENTS_PASSWORD';
/** Every CLI run starts Node and tsx; slow on a busy 2-core machine. */
const SLOW_TEST_MS = 120_000;

describe('mailfetch fetch --event-bus', () => {
  let dynamo: LocalDynamo;
  let s3: LocalS3;
  let bus: FakeEventBridge;
  let pop3: FakePop3Server;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    [dynamo, s3, bus, pop3] = await Promise.all([
      startDynalite(),
      startS3rver(),
      startFakeEventBridge(),
      startFakePop3({ password: 'events-pass-7', messages: [{ uid: 'm1', bytes: Buffer.from('From: billing@vendor.example\r\nSubject: Invoice 7\r\n\r\nhello\r\n') }] }),
    ]);
    dir = await mkdtemp(join(tmpdir(), 'mailfetch-cli-events-'));
    env = {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      [PASSWORD_ENV]: 'events-pass-7',
      MAILFETCH_TABLE: '',
      MAILFETCH_BUCKET: '',
      MAILFETCH_EVENT_BUS: '',
    };
    await writeFile(
      join(dir, 'mailfetch.config.json'),
      JSON.stringify({ mailboxes: [{ id: 'billing', host: '127.0.0.1', port: pop3.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: { env: PASSWORD_ENV } }] }),
    );
  }, 120_000);
  afterAll(async () => {
    await Promise.all([dynamo?.stop(), s3?.stop(), bus?.close(), pop3?.close()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('publishes one event per stored message to the named bus, and refuses --event-bus with --local', async () => {
    const storage = ['--bucket', 'cli-events', '--table', 'cli-events-state', '--force-path-style', '--create-missing'];
    const fetched = await runMailfetch(['fetch', '--config', 'mailfetch.config.json', ...storage, '--event-bus', 'mail-bus', '--json'], dir, env);
    expect(fetched.stderr).toBe('');
    expect(fetched.code).toBe(0);
    expect(JSON.parse(fetched.stdout.trim().split('\n').at(-1)!)).toMatchObject({ mailbox: 'billing', fetched: 1, eventsPublished: 1 });
    expect(bus.events).toEqual([
      expect.objectContaining({ bus: 'mail-bus', detailType: 'Mail Stored', detail: expect.objectContaining({ mailbox: 'billing', bucket: 'cli-events', subject: 'Invoice 7', from: { address: 'billing@vendor.example' } }) }),
    ]);

    const local = await runMailfetch(['fetch', '--config', 'mailfetch.config.json', '--local', join(dir, 'local'), '--event-bus', 'mail-bus'], dir, env);
    expect(local.code).toBe(2);
    expect(local.stderr).toContain('--local cannot be combined with --event-bus');
  }, SLOW_TEST_MS);
});
