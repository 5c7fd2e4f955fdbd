/**
 * The Lambda handler as Lambda calls it: event = one mailbox's configuration, clients for
 * local S3 (s3rver) and DynamoDB (DynamoDB Local), secrets from a local Secrets Manager.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuthTokenProvider } from '../../lambda/credentials/oauth-token-provider';
import { SecretResolver } from '../../lambda/credentials/secret-resolver';
import { handleEvent, type HandlerDeps } from '../../lambda/handlers/fetch-mailbox';
import { ensureTable } from '../../lambda/state/table-schema';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakePop3, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { startFakeSecretsManager } from '../fixtures/fake-secrets-manager';

describe('fetch-mailbox handler', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  let pop3: FakePop3Server;
  let secretsManager: Awaited<ReturnType<typeof startFakeSecretsManager>>;
  const lines: string[] = [];
  let deps: HandlerDeps;

  beforeAll(async () => {
    [s3, dynamo, pop3, secretsManager] = await Promise.all([
      startS3rver(),
      startDynamoDbLocal(),
      startFakePop3({ password: 'pop-secret-4711', messages: [{ uid: 'a', bytes: Buffer.from('Subject: a\r\n\r\nhello\r\n') }] }),
      startFakeSecretsManager(),
    ]);
    secretsManager.secrets.set('mail/alice', JSON.stringify({ password: 'pop-secret-4711' }));
    await s3.s3.send(new CreateBucketCommand({ Bucket: 'mail' }));
    await ensureTable(dynamo.dynamodb, 'state');
    const secrets = new SecretResolver({ client: secretsManager.createClient() });
    deps = {
      s3: s3.s3,
      dynamodb: dynamo.dynamodb,
      bucket: 'mail',
      table: 'state',
      prefix: 'messages/',
      safetyMarginMs: 5_000,
      metricsNamespace: 'MailfetchTest',
      secrets,
      oauth: new OAuthTokenProvider({ secrets }),
      write: (line) => lines.push(line),
    };
  }, 120_000);
  afterAll(async () => {
    await Promise.all([s3?.stop(), dynamo?.stop(), pop3?.close(), secretsManager?.close()]);
  });

  const event = (password: object = { secretId: 'mail/alice', key: 'password' }): object => ({
    id: 'alice-box',
    host: '127.0.0.1',
    port: pop3.port,
    tls: 'none',
    allowPlaintextAuth: true,
    username: 'alice',
    password,
  });
  const context = { getRemainingTimeInMillis: () => 60_000, awsRequestId: 'req-1' };

  it('fetches, logs one summary line with the mailbox id, emits EMF metrics, never logs the secret', async () => {
    lines.length = 0;
    const summary = await handleEvent(event(), context, deps);
    expect(summary).toMatchObject({ mailbox: 'alice-box', status: 'ok', fetched: 1, complete: true });
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const summaries = parsed.filter((p) => p.message === 'run summary');
    expect(summaries).toHaveLength(1);
    expect(parsed.filter((p) => p.message !== undefined).every((p) => p.mailbox === 'alice-box' && p.requestId === 'req-1')).toBe(true);
    const emf = parsed.find((p) => p._aws !== undefined)!;
    expect(emf).toMatchObject({ Mailbox: 'alice-box', MessagesFetched: 1, RunSucceeded: 1, AuthFailures: 0 });
    expect((emf._aws as { CloudWatchMetrics: { Namespace: string }[] }).CloudWatchMetrics[0]!.Namespace).toBe('MailfetchTest');
    expect(lines.join('\n')).not.toContain('pop-secret-4711');
  });

  it('bad credentials: no throw (no retry), status error, AuthFailures metric, secret nowhere', async () => {
    lines.length = 0;
    secretsManager.secrets.set('mail/wrong', 'not-the-password-99');
    const summary = await handleEvent(event({ secretId: 'mail/wrong' }), context, deps);
    expect(summary.status).toBe('error');
    expect(summary.errors).toMatchObject([{ code: 'AUTH_FAILED', retryable: false }]);
    const emf = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((p) => p._aws !== undefined && p.AuthFailures !== undefined)!;
    expect(emf).toMatchObject({ AuthFailures: 1, RunFailed: 1 });
    expect(lines.some((l) => l.includes('"ErrorCode":"AUTH_FAILED"'))).toBe(true);
    expect(lines.join('\n')).not.toContain('not-the-password-99');
  });

  it('a missing secret is an alarmable credential error, not a crash', async () => {
    const summary = await handleEvent(event({ secretId: 'mail/missing' }), context, deps);
    expect(summary.errors).toMatchObject([{ code: 'SECRET_NOT_FOUND', retryable: false }]);
  });

  it('an invalid event throws (so Lambda retries and the DLQ sees it) with a message naming the field', async () => {
    await expect(handleEvent({ ...event(), port: 'x' }, context, deps)).rejects.toThrow(/event\.mailbox.*port/);
  });

  it('operator actions: reset forgets the state; baseline records without fetching', async () => {
    await handleEvent({ action: 'reset', mailbox: event() }, context, deps);
    const base = await handleEvent({ action: 'baseline', mailbox: event() }, context, deps);
    expect(base).toMatchObject({ fetched: 0, new: 1 });
    const after = await handleEvent(event(), context, deps);
    expect(after).toMatchObject({ fetched: 0, new: 0 });
  });

  it('OAuth (client credentials): gets a token from the endpoint, logs in with XOAUTH2; a rejected client is an auth failure', async () => {
    const oauthPop3 = await startFakePop3({ oauthTokens: ['access-token-xyz'], messages: [{ uid: 'o1', bytes: Buffer.from('Subject: o\r\n\r\nhi\r\n') }] });
    let requests = 0;
    const endpoint = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        requests++;
        const form = new URLSearchParams(body);
        res.setHeader('content-type', 'application/json');
        if (form.get('client_secret') !== 'client-secret-123') {
          res.statusCode = 401;
          res.end(JSON.stringify({ error: 'invalid_client', error_description: 'bad secret' }));
          return;
        }
        res.end(JSON.stringify({ access_token: 'access-token-xyz', expires_in: 3600, token_type: 'Bearer' }));
      });
    });
    await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
    try {
      secretsManager.secrets.set('oauth/good', 'client-secret-123');
      secretsManager.secrets.set('oauth/bad', 'wrong-secret');
      const oauthEvent = (secretId: string): object => ({
        id: `oauth-${secretId.replace('/', '-')}`,
        host: '127.0.0.1',
        port: oauthPop3.port,
        tls: 'none',
        allowPlaintextAuth: true,
        username: 'alice',
        auth: 'XOAUTH2',
        oauth: {
          grant: 'client_credentials',
          tokenEndpoint: `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/token`,
          clientId: 'client-1',
          clientSecret: { secretId },
          scope: 'https://outlook.office365.com/.default',
        },
      });
      lines.length = 0;
      expect(await handleEvent(oauthEvent('oauth/good'), context, deps)).toMatchObject({ status: 'ok', fetched: 1 });
      expect(await handleEvent(oauthEvent('oauth/good'), context, deps)).toMatchObject({ status: 'ok', fetched: 0 });
      expect(requests).toBe(1); // the access token is cached across invocations
      const bad = await handleEvent(oauthEvent('oauth/bad'), context, deps);
      expect(bad).toMatchObject({ status: 'error', errors: [{ code: 'TOKEN_INVALID', retryable: false }] });
      expect(lines.some((l) => l.includes('"AuthFailures":1'))).toBe(true);
      expect(lines.join('\n')).not.toMatch(/client-secret-123|access-token-xyz|wrong-secret/);
    } finally {
      endpoint.close();
      await oauthPop3.close();
    }
  });
});
