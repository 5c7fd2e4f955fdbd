/**
 * The Lambda handler as Lambda calls it: event = a mailbox id, the configuration from the
 * registry in the state table; clients for local S3 (s3rver) and DynamoDB (DynamoDB
 * Local), secrets from a local Secrets Manager.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuthTokenProvider } from '../../lambda/credentials/oauth-token-provider';
import { SecretResolver } from '../../lambda/credentials/secret-resolver';
import { parseMailbox } from '../../lambda/config/validate-config';
import { ENV } from '../../lambda/env';
import { depsFromEnvironment, handleEvent, type HandlerDeps } from '../../lambda/handlers/fetch-mailbox';
import { DynamoDbMailboxRegistry } from '../../lambda/registry/dynamodb-mailbox-registry';
import type { RunSummary } from '../../lambda/sync/run-summary';
import { ensureTable } from '../../lambda/state/table-schema';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakePop3, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { startFakeEventBridge } from '../fixtures/fake-eventbridge';
import { startFakeSecretsManager } from '../fixtures/fake-secrets-manager';

describe('fetch-mailbox handler', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  let pop3: FakePop3Server;
  let secretsManager: Awaited<ReturnType<typeof startFakeSecretsManager>>;
  const lines: string[] = [];
  let deps: HandlerDeps;
  let registry: DynamoDbMailboxRegistry;

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
    registry = new DynamoDbMailboxRegistry({ client: dynamo.dynamodb, tableName: 'state' });
    await registry.add(mailbox('alice-box'));
    await registry.add(mailbox('wrong-box', { secretId: 'mail/wrong' }));
    await registry.add(mailbox('missing-box', { secretId: 'mail/missing' }));
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
      registry,
      write: (line) => lines.push(line),
    };
  }, 120_000);
  afterAll(async () => {
    await Promise.all([s3?.stop(), dynamo?.stop(), pop3?.close(), secretsManager?.close()]);
  });

  const mailbox = (id: string, password: object = { secretId: 'mail/alice', key: 'password' }, port = pop3.port) =>
    parseMailbox({ id, host: '127.0.0.1', port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password });
  const context = { getRemainingTimeInMillis: () => 60_000, awsRequestId: 'req-1' };
  /** A single-id event: the handler returns one summary. */
  const run = async (event: object): Promise<RunSummary> => {
    const result = await handleEvent(event, context, deps);
    if (Array.isArray(result)) throw new Error('expected one summary');
    return result;
  };

  it('fetches, logs one summary line with the mailbox id, emits EMF metrics, never logs the secret', async () => {
    lines.length = 0;
    const summary = await run({ action: 'fetch', mailboxId: 'alice-box' });
    expect(summary).toMatchObject({ mailbox: 'alice-box', status: 'ok', fetched: 1, complete: true });
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const summaries = parsed.filter((p) => p.message === 'run summary');
    expect(summaries).toHaveLength(1);
    expect(parsed.filter((p) => p.message !== undefined).every((p) => p.mailbox === 'alice-box' && p.requestId === 'req-1')).toBe(true);
    // The line the dashboard's worst-mailboxes query reads: mailbox, a numeric failed, the summary.
    expect(summaries[0]).toMatchObject({ mailbox: 'alice-box', failed: 0, backlog: 0, summary: { status: 'ok', fetched: 1 } });
    const emf = parsed.find((p) => p._aws !== undefined)!;
    expect(emf).toMatchObject({ Mailbox: 'alice-box', MessagesFetched: 1, RunSucceeded: 1, RunFailed: 0, AuthFailures: 0 });
    const directive = (emf._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] }).CloudWatchMetrics[0]!;
    expect(directive.Namespace).toBe('MailfetchTest');
    // Fleet-level only: alice-box is not listed in detailedMetricsMailboxes.
    expect(directive.Dimensions).toEqual([[]]);
    expect(lines.join('\n')).not.toContain('pop-secret-4711');
    expect((await registry.get('alice-box'))?.health).toMatchObject({ lastRunStatus: 'ok', lastAction: 'fetch', consecutiveFailures: 0, backlog: 0, lastSuccessAt: expect.any(String) });
  });

  it('bad credentials: no throw (no retry), status error, AuthFailures metric, secret nowhere', async () => {
    lines.length = 0;
    secretsManager.secrets.set('mail/wrong', 'not-the-password-99');
    const summary = await run({ mailboxId: 'wrong-box' });
    expect(summary.status).toBe('error');
    expect(summary.errors).toMatchObject([{ code: 'AUTH_FAILED', retryable: false }]);
    const emf = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((p) => p._aws !== undefined && p.AuthFailures !== undefined)!;
    expect(emf).toMatchObject({ AuthFailures: 1, RunFailed: 1 });
    expect(lines.some((l) => l.includes('"ErrorCode":"AUTH_FAILED"'))).toBe(true);
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((p) => p.message === 'run summary')).toMatchObject({ failed: 1 });
    expect(lines.join('\n')).not.toContain('not-the-password-99');
    expect((await registry.get('wrong-box'))?.health).toMatchObject({ lastRunStatus: 'error', consecutiveFailures: 1, lastErrorCode: 'AUTH_FAILED' });
  });

  it('gives a mailbox listed in detailedMetricsMailboxes the Mailbox dimension too', async () => {
    lines.length = 0;
    await handleEvent({ action: 'fetch', mailboxId: 'alice-box' }, context, { ...deps, detailedMetricsMailboxes: new Set(['alice-box']) });
    const emf = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((p) => p._aws !== undefined)!;
    expect((emf._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0]!.Dimensions).toEqual([[], ['Mailbox']]);
  });

  it('a missing secret is an alarmable credential error, not a crash', async () => {
    const summary = await run({ mailboxId: 'missing-box' });
    expect(summary.errors).toMatchObject([{ code: 'SECRET_NOT_FOUND', retryable: false }]);
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
      const oauthMailbox = (secretId: string): object => ({
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
      await registry.add(parseMailbox(oauthMailbox('oauth/good')));
      await registry.add(parseMailbox(oauthMailbox('oauth/bad')));
      lines.length = 0;
      expect(await run({ mailboxId: 'oauth-oauth-good' })).toMatchObject({ status: 'ok', fetched: 1 });
      expect(await run({ mailboxId: 'oauth-oauth-good' })).toMatchObject({ status: 'ok', fetched: 0 });
      expect(requests).toBe(1); // the access token is cached across invocations
      const bad = await run({ mailboxId: 'oauth-oauth-bad' });
      expect(bad).toMatchObject({ status: 'error', errors: [{ code: 'TOKEN_INVALID', retryable: false }] });
      expect(lines.some((l) => l.includes('"AuthFailures":1'))).toBe(true);
      expect(lines.join('\n')).not.toMatch(/client-secret-123|access-token-xyz|wrong-secret/);
    } finally {
      endpoint.close();
      await oauthPop3.close();
    }
  });

  it('refuses an unregistered and a disabled mailbox with a typed error naming it, connecting nowhere, writing no health', async () => {
    await registry.add(mailbox('off-box'), { enabled: false });
    const sessions = pop3.sessions;

    await expect(run({ mailboxId: 'nobody' })).rejects.toMatchObject({ code: 'MAILBOX_NOT_REGISTERED', message: expect.stringContaining('"nobody"') });
    await expect(run({ action: 'baseline', mailboxId: 'off-box' })).rejects.toMatchObject({ code: 'MAILBOX_DISABLED', message: expect.stringContaining('mailboxes enable --mailbox off-box') });

    expect(pop3.sessions).toBe(sessions);
    expect(await registry.get('nobody')).toBeUndefined();
    expect((await registry.get('off-box'))?.health).toEqual({ consecutiveFailures: 0 });
  });

  it('refuses an event carrying a host, TLS settings, a secret reference or a whole mailbox: the other server never hears from it', async () => {
    const attacker = await startFakePop3({ password: 'pop-secret-4711' });
    try {
      const smuggling = [
        { mailboxId: 'alice-box', host: '127.0.0.1', port: attacker.port, tls: 'none', allowPlaintextAuth: true },
        { mailboxId: 'alice-box', password: { secretId: 'mail/alice', key: 'password' } },
        { action: 'fetch', mailbox: mailbox('alice-box', undefined, attacker.port) },
        { ...mailbox('alice-box', undefined, attacker.port) },
      ];

      for (const event of smuggling) {
        await expect(run(event)).rejects.toMatchObject({ code: 'EVENT_CARRIES_CONFIG', message: expect.stringContaining('reads host, TLS settings and credentials from the registry') });
      }

      expect(attacker.sessions).toBe(0);
    } finally {
      await attacker.close();
    }
  });

  it('refuses reset (a CLI operation) and events that are not { action, mailboxId }', async () => {
    const cases: [unknown, string][] = [
      [{ action: 'reset', mailboxId: 'alice-box' }, 'ACTION_NOT_ALLOWED'],
      [{ action: 'delete-everything', mailboxId: 'alice-box' }, 'INVALID_EVENT'],
      [{}, 'INVALID_EVENT'],
      ['alice-box', 'INVALID_EVENT'],
      [{ mailboxId: '../state' }, 'INVALID_EVENT'],
      [{ mailboxId: 'alice-box', mailboxIds: ['alice-box'] }, 'INVALID_EVENT'],
      [{ mailboxIds: ['alice-box', 'alice-box'] }, 'INVALID_EVENT'],
      [{ mailboxId: 'alice-box', priority: 'high' }, 'INVALID_EVENT'],
    ];

    for (const [event, code] of cases) await expect(handleEvent(event, context, deps)).rejects.toMatchObject({ code });
  });

  it('loads the configuration from the registry on every run: baseline, then an update moves the mailbox to another server', async () => {
    const other = await startFakePop3({ password: 'pop-secret-4711', messages: [{ uid: 'm1', bytes: Buffer.from('Subject: moved\r\n\r\nhi\r\n') }] });
    try {
      await registry.add(mailbox('moving-box'));
      expect(await run({ action: 'baseline', mailboxId: 'moving-box' })).toMatchObject({ fetched: 0, new: 1 });
      expect(await run({ mailboxId: 'moving-box' })).toMatchObject({ fetched: 0, new: 0 });

      await registry.update(mailbox('moving-box', undefined, other.port));
      const moved = await run({ mailboxId: 'moving-box' });

      expect(moved).toMatchObject({ status: 'ok', listed: 1, new: 1, fetched: 1 });
      expect(other.sessions).toBeGreaterThan(0);
      expect((await registry.get('moving-box'))?.health).toMatchObject({ lastAction: 'fetch', lastRunStatus: 'ok' });
    } finally {
      await other.close();
    }
  });

  it('a batch runs every runnable mailbox and reports refused ones as error summaries, without throwing', async () => {
    await registry.add(mailbox('batch-off'), { enabled: false });

    const result = await handleEvent({ action: 'fetch', mailboxIds: ['alice-box', 'nobody', 'batch-off'] }, context, deps);

    expect(result).toEqual([
      expect.objectContaining({ mailbox: 'alice-box', status: 'ok' }),
      expect.objectContaining({ mailbox: 'nobody', status: 'error', errors: [expect.objectContaining({ code: 'MAILBOX_NOT_REGISTERED' })] }),
      expect.objectContaining({ mailbox: 'batch-off', status: 'error', errors: [expect.objectContaining({ code: 'MAILBOX_DISABLED' })] }),
    ]);
  });

  it('a run that finds the mailbox busy names the Lambda request holding it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    // The first invocation's session waits at CAPA (then gets no capabilities) while the second one runs.
    const slow = await startFakePop3({
      password: 'pop-secret-4711',
      messages: [],
      onCommand: async (cmd, session) => {
        if (cmd.verb !== 'CAPA') return false;
        held();
        await gate;
        await session.writeLine('-ERR no capabilities');
        return true;
      },
    });
    const previous = process.env.AWS_LAMBDA_FUNCTION_NAME;
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'mailfetch-Worker';
    try {
      await registry.add(mailbox('held-box', undefined, slow.port));
      const first = handleEvent({ action: 'fetch', mailboxId: 'held-box' }, { ...context, awsRequestId: 'req-holding' }, deps);
      await holding;
      const second = await run({ action: 'fetch', mailboxId: 'held-box' });
      expect(second).toMatchObject({ status: 'busy', heldBy: { holder: 'Lambda mailfetch-Worker request req-holding' } });
      release();
      expect(await first).toMatchObject({ mailbox: 'held-box', status: 'ok' });
    } finally {
      release();
      if (previous === undefined) delete process.env.AWS_LAMBDA_FUNCTION_NAME;
      else process.env.AWS_LAMBDA_FUNCTION_NAME = previous;
      await slow.close();
    }
  });

  it('with an event bus: a Mail Stored event per stored message on that bus; a bus refusing them fails no run, warns, and counts them', async () => {
    const bus = await startFakeEventBridge();
    try {
      const withEvents: HandlerDeps = { ...deps, events: { eventBridge: bus.createClient(), eventBusName: 'mail-bus' } };
      await registry.add(mailbox('events-box'));
      lines.length = 0;
      const summary = await handleEvent({ action: 'fetch', mailboxId: 'events-box' }, context, withEvents);
      expect(summary).toMatchObject({ status: 'ok', fetched: 1, eventsPublished: 1, eventsFailed: 0 });
      expect(bus.events).toEqual([expect.objectContaining({ bus: 'mail-bus', source: 'mailfetch', detailType: 'Mail Stored', detail: expect.objectContaining({ mailbox: 'events-box', bucket: 'mail', subject: 'a', key: expect.stringMatching(/^messages\/events-box\//) }) })]);
      expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((p) => p._aws !== undefined)).toMatchObject({ EventsPublished: 1, EventsFailed: 0 });

      await registry.add(mailbox('refused-box'));
      bus.failEntries(() => 'InternalFailure');
      lines.length = 0;
      const refused = await handleEvent({ action: 'fetch', mailboxId: 'refused-box' }, context, withEvents);
      expect(refused).toMatchObject({ status: 'ok', fetched: 1, eventsPublished: 0, eventsFailed: 1, errors: [] });
      const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(parsed.find((p) => p.message === 'events-not-published')).toMatchObject({ level: 'warn', mailbox: 'refused-box' });
      expect(parsed.find((p) => p._aws !== undefined)).toMatchObject({ EventsFailed: 1, RunFailed: 0 });
      expect((await registry.get('refused-box'))?.health).toMatchObject({ lastRunStatus: 'ok', consecutiveFailures: 0 });
    } finally {
      bus.failEntries(undefined);
      await bus.close();
    }
  });

  it(`${ENV.EVENT_BUS} turns events on, naming the bus; without it there are none`, () => {
    const on = depsFromEnvironment({ [ENV.BUCKET]: 'b', [ENV.TABLE]: 't', [ENV.EVENT_BUS]: 'arn:aws:events:eu-west-1:123456789012:event-bus/mail' });
    expect(on.events?.eventBusName).toBe('arn:aws:events:eu-west-1:123456789012:event-bus/mail');
    expect(depsFromEnvironment({ [ENV.BUCKET]: 'b', [ENV.TABLE]: 't' }).events).toBeUndefined();
  });
});
