/**
 * The worker end to end with SASL EXTERNAL: the handler's own wiring (depsFromEnvironment)
 * against DynamoDB Local, the local KMS endpoint, s3rver and a Dovecot that takes the user
 * from the TLS client certificate. One mailbox with its certificate and key sealed in its
 * registry item (implicit TLS), one with the certificate as PEM text and the key from an
 * environment variable (STLS); a key that is not the certificate's fails before any connection.
 * No log line holds a byte of the key.
 */
import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseMailbox } from '../../lambda/config/validate-config';
import type { ClientCertificateConfig } from '../../lambda/config/mailbox-config';
import { DataKeyRing } from '../../lambda/credentials/data-key-ring';
import { SealedCredentialStore } from '../../lambda/credentials/sealed-credential-store';
import { DEFAULT_PREFIX, ENV } from '../../lambda/env';
import { depsFromEnvironment, handleEvent, type HandlerDeps } from '../../lambda/handlers/fetch-mailbox';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambda/local/embedded-aws';
import { startLocalKms, type LocalKms } from '../../lambda/local/local-kms';
import { DynamoDbMailboxRegistry } from '../../lambda/registry/dynamodb-mailbox-registry';
import type { RunSummary } from '../../lambda/sync/run-summary';
import { ensureTable } from '../../lambda/state/table-schema';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { makeClientPki, type ClientKeyPair } from '../fixtures/client-pki';
import { requireDovecot, startDovecot, type DovecotInstance } from '../fixtures/dovecot';

const TABLE = 'external-state';
const BUCKET = 'external-mail';
const BOB_KEY_VARIABLE = 'MAILFETCH_TEST_BOB_CLIENT_KEY';
/** The variables the worker reads (stubbed for the file). */
const VARIABLES = ['AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_KMS', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', BOB_KEY_VARIABLE] as const;

describe.skipIf(!requireDovecot())('worker logging in with SASL EXTERNAL on Dovecot', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  let kms: LocalKms;
  let dovecot: DovecotInstance;
  let registry: DynamoDbMailboxRegistry;
  let operator: SealedCredentialStore;
  let alice: ClientKeyPair;
  let bob: ClientKeyPair;
  const lines: string[] = [];

  beforeAll(async () => {
    const pki = await makeClientPki(['alice', 'bob']);
    alice = pki.clients.get('alice')!;
    bob = pki.clients.get('bob')!;
    [s3, dynamo, kms, dovecot] = await Promise.all([
      startS3rver(),
      startDynamoDbLocal(),
      startLocalKms(),
      startDovecot({ users: [{ name: 'alice', password: 'alice-pw' }, { name: 'bob', password: 'bob-pw' }], oauth: false, clientCertificates: { ca: pki.caCert } }),
    ]);
    await s3.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await ensureTable(dynamo.dynamodb, TABLE);
    registry = new DynamoDbMailboxRegistry({ client: dynamo.dynamodb, tableName: TABLE });
    operator = new SealedCredentialStore(new DataKeyRing({ dynamodb: dynamo.dynamodb, tableName: TABLE, kms: kms.createClient(), kmsKeyId: kms.keyArn }));
    const values = [dynamo.endpoint, kms.endpoint, LOCAL_REGION, LOCAL_CREDENTIALS.accessKeyId, LOCAL_CREDENTIALS.secretAccessKey, bob.key];
    VARIABLES.forEach((name, i) => vi.stubEnv(name, values[i]));
    await dovecot.deliver('alice', [Buffer.from('Subject: a1\r\n\r\none\r\n'), Buffer.from('Subject: a2\r\n\r\ntwo\r\n')]);
    await dovecot.deliver('bob', [Buffer.from('Subject: b1\r\n\r\nthree\r\n')]);
  }, 120_000);
  afterAll(async () => {
    vi.unstubAllEnvs();
    await Promise.all([s3?.stop(), dynamo?.stop(), kms?.close(), dovecot?.stop()]);
  });

  const container = (): HandlerDeps => {
    const deps = depsFromEnvironment({ [ENV.BUCKET]: BUCKET, [ENV.TABLE]: TABLE, [ENV.CREDENTIALS_KEY]: kms.keyArn, [ENV.SECRET_PREFIX]: 'mailfetch/' });
    return { ...deps, s3: s3.s3, write: (line) => lines.push(line) };
  };
  const context = { getRemainingTimeInMillis: () => 60_000, awsRequestId: 'req-external' };
  const run = async (mailboxId: string): Promise<RunSummary> => (await handleEvent({ action: 'fetch', mailboxId }, context, container())) as RunSummary;
  const sealedPair = async (id: string, cert: string, key: string): Promise<ClientCertificateConfig> => ({
    certificate: { sealed: await operator.seal(cert, { mailboxId: id, field: 'clientCertificate' }) },
    key: { sealed: await operator.seal(key, { mailboxId: id, field: 'clientKey' }) },
  });
  const objectsUnder = async (id: string): Promise<number> =>
    ((await s3.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${DEFAULT_PREFIX}${id}/` }))).KeyCount ?? 0);
  /** Registers a mailbox on Dovecot's implicit-TLS port (fields override). */
  const register = async (id: string, username: string, clientCertificate: ClientCertificateConfig, fields: Record<string, unknown> = {}): Promise<void> => {
    await registry.add(parseMailbox({ id, host: '127.0.0.1', port: dovecot.tlsPort, tlsCa: dovecot.ca.toString('utf8'), username, clientCertificate, ...fields }));
  };
  const keyLines = (pair: ClientKeyPair): string[] => pair.key.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));

  it('sealed certificate and key, implicit TLS: the run stores the mail, Dovecot logs the EXTERNAL login, no log line holds the key', async () => {
    await register('ext-sealed', 'alice', await sealedPair('ext-sealed', alice.cert, alice.key), { auth: 'EXTERNAL' });
    lines.length = 0;

    expect(await run('ext-sealed')).toMatchObject({ status: 'ok', fetched: 2, errors: [] });
    expect(await run('ext-sealed')).toMatchObject({ status: 'ok', fetched: 0 });
    expect(await objectsUnder('ext-sealed')).toBe(2);
    expect(await dovecot.readLog()).toMatch(/Login: user=<alice>, method=EXTERNAL, .*TLS/);
    for (const line of keyLines(alice)) expect(lines.some((l) => l.includes(line)), 'a log line holds the key').toBe(false);
  });

  it('certificate as PEM text and key from the environment, STLS with auto: EXTERNAL, the mail stored', async () => {
    await register('ext-env', 'bob', { certificate: bob.cert, key: { env: BOB_KEY_VARIABLE } }, { port: dovecot.port, tls: 'starttls' });
    expect(await run('ext-env')).toMatchObject({ status: 'ok', fetched: 1, errors: [] });
    expect(await objectsUnder('ext-env')).toBe(1);
    expect(await dovecot.readLog()).toMatch(/Login: user=<bob>, method=EXTERNAL, /);
  });

  it('a sealed key that is not the certificate\'s: SECRET_INVALID naming the mailbox and field, and no connection to the server', async () => {
    await register('ext-mismatch', 'alice', await sealedPair('ext-mismatch', alice.cert, bob.key), { auth: 'EXTERNAL' });
    const logBefore = await dovecot.readLog();
    lines.length = 0;

    const summary = await run('ext-mismatch');

    expect(summary).toMatchObject({ status: 'error', errors: [{ code: 'SECRET_INVALID', retryable: false }] });
    expect(summary.errors[0]!.message).toMatch(/^mailbox "ext-mismatch" clientKey \(clientCertificate.key\) is not the private key of the certificate/);
    expect(await dovecot.readLog()).toBe(logBefore);
    for (const line of keyLines(bob)) expect(lines.some((l) => l.includes(line)), 'a log line holds the key').toBe(false);
    expect((await registry.get('ext-mismatch'))?.health).toMatchObject({ lastRunStatus: 'error', lastErrorCode: 'SECRET_INVALID' });
  });
});
