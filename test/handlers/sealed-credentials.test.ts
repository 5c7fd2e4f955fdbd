/**
 * The worker end to end with a password sealed in its registry item: the handler's own
 * wiring (depsFromEnvironment), pointed with the AWS SDK's standard variables at DynamoDB
 * Local, the local KMS endpoint and s3rver, against the fake POP3 server. The operator
 * seals with its own "container" (data key created on first seal); the worker decrypts
 * the data key once per container, whatever the number of runs and mailboxes.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMailbox } from '../../lambda/config/validate-config';
import { DataKeyRing } from '../../lambda/credentials/data-key-ring';
import { SealedCredentialStore } from '../../lambda/credentials/sealed-credential-store';
import { ENV } from '../../lambda/env';
import { depsFromEnvironment, handleEvent, type HandlerDeps } from '../../lambda/handlers/fetch-mailbox';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambda/local/embedded-aws';
import { startLocalKms, type LocalKms } from '../../lambda/local/local-kms';
import { DynamoDbMailboxRegistry } from '../../lambda/registry/dynamodb-mailbox-registry';
import type { RunSummary } from '../../lambda/sync/run-summary';
import { ensureTable } from '../../lambda/state/table-schema';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakePop3, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { CANARIES } from '../fault/regressions/secret-forms';

const TABLE = 'sealed-state';
const BUCKET = 'sealed-mail';
/** The SDK variables the worker's clients read; restored after the file. */
const SDK_VARIABLES = ['AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_KMS', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;

describe('worker with sealed credentials', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  let kms: LocalKms;
  let pop3: FakePop3Server;
  let registry: DynamoDbMailboxRegistry;
  let operator: SealedCredentialStore;
  const saved = new Map<string, string | undefined>();
  const lines: string[] = [];

  beforeAll(async () => {
    [s3, dynamo, kms, pop3] = await Promise.all([
      startS3rver(),
      startDynamoDbLocal(),
      startLocalKms(),
      startFakePop3({ password: CANARIES.password, messages: [{ uid: 'a', bytes: Buffer.from('Subject: a\r\n\r\nhello\r\n') }] }),
    ]);
    await s3.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await ensureTable(dynamo.dynamodb, TABLE);
    registry = new DynamoDbMailboxRegistry({ client: dynamo.dynamodb, tableName: TABLE });
    operator = new SealedCredentialStore(new DataKeyRing({ dynamodb: dynamo.dynamodb, tableName: TABLE, kms: kms.createClient(), kmsKeyId: kms.keyArn }));
    const values = [dynamo.endpoint, kms.endpoint, LOCAL_REGION, LOCAL_CREDENTIALS.accessKeyId, LOCAL_CREDENTIALS.secretAccessKey];
    SDK_VARIABLES.forEach((name, i) => {
      saved.set(name, process.env[name]);
      process.env[name] = values[i];
    });
  }, 120_000);
  afterAll(async () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await Promise.all([s3?.stop(), dynamo?.stop(), kms?.close(), pop3?.close()]);
  });

  /** A fresh Lambda container: the handler's wiring from its environment (s3rver needs path-style S3). */
  function container(): HandlerDeps {
    const deps = depsFromEnvironment({ [ENV.BUCKET]: BUCKET, [ENV.TABLE]: TABLE, [ENV.CREDENTIALS_KEY]: kms.keyArn, [ENV.SECRET_PREFIX]: 'mailfetch/' });
    return { ...deps, s3: s3.s3, write: (line) => lines.push(line) };
  }
  const context = { getRemainingTimeInMillis: () => 60_000, awsRequestId: 'req-sealed' };
  const run = async (deps: HandlerDeps, mailboxId: string): Promise<RunSummary> => (await handleEvent({ action: 'fetch', mailboxId }, context, deps)) as RunSummary;
  const mailbox = (id: string, sealed: string) =>
    parseMailbox({ id, host: '127.0.0.1', port: pop3.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: { sealed } });

  it('logs in with the sealed password; one KMS Decrypt per container for every run and mailbox; no secret in any line', async () => {
    await registry.add(mailbox('sealed-1', await operator.seal(CANARIES.password, { mailboxId: 'sealed-1', field: 'password' })));
    await registry.add(mailbox('sealed-2', await operator.seal(CANARIES.password, { mailboxId: 'sealed-2', field: 'password' })));
    kms.resetCalls();

    const worker = container();
    expect(await run(worker, 'sealed-1')).toMatchObject({ status: 'ok', fetched: 1 });
    expect(await run(worker, 'sealed-1')).toMatchObject({ status: 'ok', fetched: 0 });
    expect(await run(worker, 'sealed-2')).toMatchObject({ status: 'ok', fetched: 1 });
    expect(kms.calls()).toBe(1);
    expect(kms.calls('Decrypt')).toBe(1);

    // A new container decrypts the data key once more, and only once.
    const next = container();
    await run(next, 'sealed-1');
    await run(next, 'sealed-2');
    expect(kms.calls('Decrypt')).toBe(2);
    expect(lines.some((l) => l.includes(CANARIES.password)), 'a log line holds the password').toBe(false);
  });

  it('a sealed value copied into another mailbox does not open there: a typed error naming it, no POP3 session', async () => {
    const stolen = await operator.seal(CANARIES.password, { mailboxId: 'victim', field: 'password' });
    await registry.add(mailbox('copied', stolen));
    const sessions = pop3.sessions;
    lines.length = 0;

    const summary = await run(container(), 'copied');

    expect(summary).toMatchObject({ status: 'error', errors: [{ code: 'SEALED_MISMATCH', retryable: false }] });
    expect(summary.errors[0]!.message).toContain('mailbox "copied" password: the sealed value does not open');
    expect(summary.errors[0]!.message.includes(stolen), 'the error quotes the sealed value').toBe(false);
    expect(pop3.sessions).toBe(sessions);
    expect(lines.some((l) => l.includes('"AuthFailures":1'))).toBe(true);
    expect((await registry.get('copied'))?.health).toMatchObject({ lastRunStatus: 'error', lastErrorCode: 'SEALED_MISMATCH' });
  });

  it('a KMS denial is an alarmable credential error naming the mailbox and the grant to fix', async () => {
    await registry.add(mailbox('denied', await operator.seal('whatever-pw', { mailboxId: 'denied', field: 'password' })));
    kms.failNext('Decrypt', { status: 400, type: 'AccessDeniedException', message: 'not authorized to perform kms:Decrypt' });

    const summary = await run(container(), 'denied');

    expect(summary.errors).toMatchObject([{ code: 'DATA_KEY_ACCESS_DENIED', retryable: false }]);
    expect(summary.errors[0]!.message).toMatch(/^mailbox "denied" password: KMS could not decrypt data key version 1 of table sealed-state/);
    expect(summary.errors[0]!.message).toContain('the role needs kms:Decrypt on the credentials key');
  });
});
