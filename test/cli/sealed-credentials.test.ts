/**
 * Sealed credentials from the command line, as an operator types them: `mailboxes add
 * --password-stdin` against DynamoDB Local (the credentials key on the local KMS endpoint,
 * found through AWS_ENDPOINT_URL_KMS and MAILFETCH_CREDENTIALS_KEY), then a fetch that
 * logs in with it; `mailboxes update --password-stdin`; `secrets seal` for a file; and the
 * same in the embedded mode (--local DIR), whose KMS key lives under DIR. The password
 * is a canary: the output of every command is checked for it.
 */
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambda/local/embedded-aws';
import { startLocalKms, type LocalKms } from '../../lambda/local/local-kms';
import { DynamoDbMailboxRegistry } from '../../lambda/registry/dynamodb-mailbox-registry';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakePop3, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { CANARIES } from '../fault/regressions/secret-forms';
import { jsonLines, runMailfetch, type CliResult } from './cli-runner';

/** Every CLI run starts Node and tsx; several of them on a busy 2-core machine. */
const SLOW_TEST_MS = 300_000;
const TABLE = ['--table', 'sealed-cli-state'];
const STORAGE = ['--bucket', 'sealed-cli-mail', ...TABLE, '--force-path-style', '--create-missing'];

describe('mailfetch with sealed credentials', () => {
  let dynamo: LocalDynamo;
  let s3: LocalS3;
  let kms: LocalKms;
  let pop3: FakePop3Server;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    [dynamo, s3, kms, pop3] = await Promise.all([
      startDynamoDbLocal(),
      startS3rver(),
      startLocalKms(),
      startFakePop3({ password: CANARIES.password, messages: [{ uid: 'm1', bytes: Buffer.from('Subject: m1\r\n\r\nhello\r\n') }] }),
    ]);
    dir = await mkdtemp(join(tmpdir(), 'mailfetch-sealed-cli-'));
    env = {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_KMS: kms.endpoint,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      MAILFETCH_CREDENTIALS_KEY: kms.keyArn,
      MAILFETCH_TABLE: '',
      MAILFETCH_BUCKET: '',
    };
  }, 120_000);
  afterAll(async () => {
    await Promise.all([dynamo?.stop(), s3?.stop(), kms?.close(), pop3?.close()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const mailfetch = async (args: string[], input?: string): Promise<CliResult> => {
    const result = await runMailfetch(args, dir, env, input);
    expect(`${result.stdout}${result.stderr}`.includes(CANARIES.password), `the output of mailfetch ${args[0]} holds the password`).toBe(false);
    return result;
  };
  /** A mailbox without any credential reference: the password comes from stdin. */
  const configFile = async (name: string, id: string, extra: Record<string, unknown> = {}): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, JSON.stringify({ mailboxes: [{ id, host: '127.0.0.1', port: pop3.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', ...extra }] }));
    return path;
  };
  const registry = (): DynamoDbMailboxRegistry => new DynamoDbMailboxRegistry({ client: dynamo.dynamodb, tableName: 'sealed-cli-state' });

  it(
    'add --password-stdin seals the password into the registry item; fetch logs in with it; update replaces it',
    async () => {
      const file = await configFile('support.json', 'support');

      const added = await mailfetch(['mailboxes', 'add', '--config', file, '--mailbox', 'support', '--password-stdin', ...TABLE, '--create-missing', '--json'], `${CANARIES.password}\n`);
      expect(added.code, added.stderr).toBe(0);
      expect(jsonLines(added.stdout)).toEqual([{ mailbox: 'support', change: 'added', enabled: true, sealed: ['password'] }]);
      const stored = (await registry().get('support'))!.config.password as { sealed: string };
      expect(stored.sealed).toMatch(/^v1:1:/);

      const fetched = await mailfetch(['fetch', '--mailbox', 'support', ...STORAGE, '--json']);
      expect(fetched.code, fetched.stderr).toBe(0);
      expect(jsonLines(fetched.stdout)[0]).toMatchObject({ mailbox: 'support', status: 'ok', fetched: 1 });

      const updated = await mailfetch(['mailboxes', 'update', '--mailbox', 'support', '--password-stdin', ...TABLE], 'not-the-password-77\n');
      expect(updated.code, updated.stderr).toBe(0);
      expect(updated.stdout).toBe('updated support: password (password sealed)\n');
      const refused = await mailfetch(['fetch', '--mailbox', 'support', ...STORAGE, '--json']);
      expect(jsonLines(refused.stdout)[0]).toMatchObject({ status: 'error', errors: [expect.objectContaining({ code: 'AUTH_FAILED' })] });
    },
    SLOW_TEST_MS,
  );

  it(
    'secrets seal prints a value for a file, which opens for its mailbox only; rotate-key --reseal moves values to a new key version',
    async () => {
      const sealed = await mailfetch(['secrets', 'seal', '--mailbox', 'from-file', '--field', 'password', ...TABLE, '--create-missing'], CANARIES.password);
      expect(sealed.code, sealed.stderr).toBe(0);
      const ref = JSON.parse(sealed.stdout) as { sealed: string };
      expect(ref.sealed).toMatch(/^v1:1:[A-Za-z0-9_-]+$/);

      const good = await configFile('from-file.json', 'from-file', { password: ref });
      const copied = await configFile('copied.json', 'copied', { password: ref });
      expect((await mailfetch(['mailboxes', 'add', '--config', good, ...TABLE])).code).toBe(0);
      expect((await mailfetch(['mailboxes', 'add', '--config', copied, ...TABLE])).code).toBe(0);

      const ok = await mailfetch(['fetch', '--mailbox', 'from-file', ...STORAGE, '--json']);
      const refused = await mailfetch(['fetch', '--mailbox', 'copied', ...STORAGE, '--json']);
      expect(jsonLines(ok.stdout)[0]).toMatchObject({ mailbox: 'from-file', status: 'ok' });
      expect(jsonLines(refused.stdout)[0]).toMatchObject({ mailbox: 'copied', status: 'error', errors: [expect.objectContaining({ code: 'SEALED_MISMATCH' })] });

      // A new data key version; every registered value sealed again, the copied one reported.
      const rotated = await mailfetch(['secrets', 'rotate-key', '--reseal', ...TABLE, '--json']);
      expect(rotated.code).toBe(1);
      const lines = jsonLines(rotated.stdout);
      expect(lines[0]).toEqual({ change: 'rotated', keyVersion: 2 });
      expect(lines).toEqual(
        expect.arrayContaining([
          { mailbox: 'from-file', field: 'password', keyVersion: 2, change: 'resealed' },
          expect.objectContaining({ mailbox: 'copied', field: 'password', change: 'failed', code: 'SEALED_MISMATCH' }),
        ]),
      );
      expect(((await registry().get('from-file'))!.config.password as { sealed: string }).sealed).toMatch(/^v1:2:/);
      expect(jsonLines((await mailfetch(['fetch', '--mailbox', 'from-file', ...STORAGE, '--json'])).stdout)[0]).toMatchObject({ status: 'ok' });
    },
    SLOW_TEST_MS,
  );

  it(
    'refuses what it cannot do safely: no --mailbox, missing or extra lines, a password for an OAuth mailbox',
    async () => {
      const file = await configFile('usage.json', 'usage-box');
      const withSecret = await configFile('usage-pw.json', 'usage-pw', { password: { secretId: 'mailfetch/usage-pw' } });
      expect((await mailfetch(['mailboxes', 'add', '--config', withSecret, ...TABLE, '--create-missing'])).code).toBe(0);
      const noMailbox = await mailfetch(['mailboxes', 'add', '--config', file, '--password-stdin', ...TABLE], 'x\n');
      const twoLines = await mailfetch(['mailboxes', 'add', '--config', file, '--mailbox', 'usage-box', '--password-stdin', ...TABLE], `${CANARIES.password}\nsecond\n`);
      const empty = await mailfetch(['secrets', 'seal', '--mailbox', 'usage-box', ...TABLE], '');
      const oauthFile = await configFile('oauth.json', 'oauth-box', {
        auth: 'XOAUTH2',
        oauth: { grant: 'client_credentials', tokenEndpoint: 'https://login.example.org/token', clientId: 'c', clientSecret: { secretId: 'mailfetch/c' }, scope: 's' },
      });
      const passwordForOAuth = await mailfetch(['mailboxes', 'add', '--config', oauthFile, '--mailbox', 'oauth-box', '--password-stdin', ...TABLE], 'x\n');
      const secretForPassword = await mailfetch(['mailboxes', 'update', '--mailbox', 'usage-pw', '--client-secret-stdin', ...TABLE], 'x\n');

      expect(noMailbox).toMatchObject({ code: 2, stderr: expect.stringContaining('name it with --mailbox ID') });
      expect(twoLines).toMatchObject({ code: 2, stderr: expect.stringContaining('standard input must hold one line (password for mailbox usage-box); it holds 2') });
      expect(empty).toMatchObject({ code: 2, stderr: expect.stringContaining('it holds 0') });
      expect(passwordForOAuth).toMatchObject({ code: 2, stderr: expect.stringContaining('cannot be combined with "password"') });
      expect(secretForPassword).toMatchObject({ code: 2, stderr: expect.stringContaining('mailbox "usage-pw" logs in with a password: give --password-stdin') });
      expect(await registry().get('usage-box')).toBeUndefined();
      expect(await registry().get('oauth-box')).toBeUndefined();
    },
    SLOW_TEST_MS,
  );

  it(
    'works in the embedded mode: the KMS key is kept under the --local directory',
    async () => {
      const local = join(dir, 'embedded');
      const file = await configFile('local.json', 'local-box');

      const added = await mailfetch(['mailboxes', 'add', '--local', local, '--config', file, '--mailbox', 'local-box', '--password-stdin'], `${CANARIES.password}\n`);
      expect(added.code, added.stderr).toBe(0);
      await access(join(local, 'kms', 'keys.json'));
      const fetched = await mailfetch(['fetch', '--local', local, '--mailbox', 'local-box', '--json']);
      expect(fetched.code, fetched.stderr).toBe(0);
      expect(jsonLines(fetched.stdout)[0]).toMatchObject({ mailbox: 'local-box', status: 'ok', fetched: 1 });
    },
    SLOW_TEST_MS,
  );
});
