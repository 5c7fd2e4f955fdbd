/**
 * Sealed credentials against local endpoints: the data keys in a DynamoDB table (dynalite),
 * encrypted by the local KMS endpoint (lambda/local/local-kms.ts), counted per request.
 * One "container" is one DataKeyRing: it decrypts each key version once, whatever the
 * number of mailboxes and runs.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseMailbox } from '../../lambda/config/validate-config';
import { CredentialErrorCode } from '../../lambda/credentials/credential-error';
import type { CredentialSlot } from '../../lambda/credentials/credential-slot';
import { DataKeyRing } from '../../lambda/credentials/data-key-ring';
import { SealedCredentialStore } from '../../lambda/credentials/sealed-credential-store';
import { startLocalKms, type LocalKms } from '../../lambda/local/local-kms';
import { DynamoDbMailboxRegistry } from '../../lambda/registry/dynamodb-mailbox-registry';
import { ensureTable } from '../../lambda/state/table-schema';
import { startDynalite, type LocalDynamo } from '../fixtures/aws-local';
import { CANARIES } from '../fault/regressions/secret-forms';
import { failure } from './credential-failure';

let dynamo: LocalDynamo;
let kms: LocalKms;
let tableSeq = 0;
let table: string;

beforeAll(async () => {
  [dynamo, kms] = await Promise.all([startDynalite(), startLocalKms()]);
});
afterAll(async () => Promise.all([dynamo?.stop(), kms?.close()]));
beforeEach(async () => {
  table = `sealed-${++tableSeq}`;
  await ensureTable(dynamo.dynamodb, table);
  kms.resetCalls();
});

/** A new container: its own ring (and cache) on the shared table. */
function container(options: { kmsKeyId?: string | null } = {}): SealedCredentialStore {
  const kmsKeyId = options.kmsKeyId === null ? undefined : (options.kmsKeyId ?? kms.keyArn);
  return new SealedCredentialStore(new DataKeyRing({ dynamodb: dynamo.dynamodb, tableName: table, kms: kms.createClient(), ...(kmsKeyId ? { kmsKeyId } : {}) }));
}

const slot = (mailboxId: string, field: CredentialSlot['field'] = 'password'): CredentialSlot => ({ mailboxId, field });

describe('SealedCredentialStore', () => {
  it('creates the data key on first seal; another container decrypts it once for any number of opens', async () => {
    const operator = container();
    const sealed = await Promise.all(Array.from({ length: 20 }, (_, i) => operator.seal(`password-${i}`, slot(`box-${i}`))));
    expect(kms.calls('GenerateDataKey')).toBe(1);
    expect(kms.calls('Decrypt')).toBe(0);

    const worker = container();
    for (let run = 0; run < 3; run++) {
      const opened = await Promise.all(sealed.map((value, i) => worker.open(value, slot(`box-${i}`))));
      expect(opened.every((value, i) => value === `password-${i}`)).toBe(true);
    }
    expect(kms.calls('Decrypt')).toBe(1);
    expect(kms.calls()).toBe(2);
  });

  it('two containers creating the first data key at once end with one key that opens both values', async () => {
    const [a, b] = [container(), container()];
    const [fromA, fromB] = await Promise.all([a.seal('alpha', slot('a')), b.seal('beta', slot('b'))]);
    const reader = container();
    expect(await reader.open(fromA, slot('a'))).toBe('alpha');
    expect(await reader.open(fromB, slot('b'))).toBe('beta');
  });

  it('rotation: the new version seals, the old one still opens, reseal moves a value to the new version', async () => {
    const operator = container();
    const old = await operator.seal(CANARIES.password, slot('support'));
    const registry = new DynamoDbMailboxRegistry({ client: dynamo.dynamodb, tableName: table });
    await registry.add(parseMailbox({ id: 'support', host: 'pop.example.org', username: 'u', password: { sealed: old } }));

    const key = await operator.ring.rotate();
    expect(key.version).toBe(2);
    const fresh = await operator.seal('new-password', slot('other'));
    expect(fresh.startsWith('v1:2:')).toBe(true);
    const worker = container();
    expect((await worker.open(old, slot('support'))) === CANARIES.password).toBe(true);
    expect(await worker.open(fresh, slot('other'))).toBe('new-password');

    expect(await operator.reseal(slot('support'), 2)).toBe(true);
    const resealed = (await registry.get('support'))!.config.password as { sealed: string };
    expect(resealed.sealed.startsWith('v1:2:')).toBe(true);
    expect((await worker.open(resealed.sealed, slot('support'))) === CANARIES.password).toBe(true);
    expect(await operator.reseal(slot('support'), 2)).toBe(false);
  });

  it('replace writes a rotated value sealed, conditionally: an operator change made meanwhile wins', async () => {
    const operator = container();
    const registry = new DynamoDbMailboxRegistry({ client: dynamo.dynamodb, tableName: table });
    const oauth = (refreshToken: string) => ({
      grant: 'refresh_token',
      tokenEndpoint: 'https://login.example.org/token',
      clientId: 'c',
      refreshToken: { sealed: refreshToken },
    });
    await registry.add(parseMailbox({ id: 'gmail', host: 'pop.gmail.com', username: 'u', auth: 'XOAUTH2', oauth: oauth(await operator.seal('token-1', slot('gmail', 'refreshToken'))) }));

    expect(await operator.replace(slot('gmail', 'refreshToken'), 'token-1', 'token-2')).toBe(true);
    const stored = await registry.get('gmail');
    const ref = stored!.config.oauth!.refreshToken as { sealed: string };
    expect(await container().open(ref.sealed, slot('gmail', 'refreshToken'))).toBe('token-2');
    expect(stored!.configVersion).toBe(2);

    // The operator has sealed another token since: the worker's stale rotation is not written.
    expect(await operator.replace(slot('gmail', 'refreshToken'), 'token-1', 'token-3')).toBe(false);
    expect(await operator.replace(slot('nobody', 'refreshToken'), 'x', 'y')).toBe(false);
  });

  it('a KMS denial names the mailbox and the fix, is not cached, and the next open succeeds', async () => {
    const sealed = await container().seal('pw', slot('support'));
    const worker = container();
    kms.failNext('Decrypt', { status: 400, type: 'AccessDeniedException', message: 'User is not authorized to perform: kms:Decrypt' });

    const err = await failure(worker.open(sealed, slot('support')));
    expect(err).toMatchObject({ code: CredentialErrorCode.DATA_KEY_ACCESS_DENIED, retryable: false });
    expect(err.message).toMatch(/^mailbox "support" password: KMS could not decrypt data key version 1 of table sealed-\d+ \(AccessDeniedException/);
    expect(err.message).toContain('kms:Decrypt on the credentials key (stack output CredentialsKeyArn) with encryption context purpose=mailfetch-credentials');
    expect(await worker.open(sealed, slot('support'))).toBe('pw');
  });

  it('a data key under another KMS key, or no key configured to create one, is a clear error', async () => {
    const sealed = await container().seal('pw', slot('support'));
    const otherKey = await kms.createKey();
    expect((await failure(container({ kmsKeyId: otherKey }).open(sealed, slot('support')))).code).toBe(CredentialErrorCode.DATA_KEY_ACCESS_DENIED);
    // Without a configured key, existing data keys still open (KMS knows their key).
    expect(await container({ kmsKeyId: null }).open(sealed, slot('support'))).toBe('pw');

    table = `sealed-empty-${tableSeq}`;
    await ensureTable(dynamo.dynamodb, table);
    const err = await failure(container({ kmsKeyId: null }).seal('pw', slot('support')));
    expect(err.code).toBe(CredentialErrorCode.DATA_KEY_NOT_FOUND);
    expect(err.message).toContain('set MAILFETCH_CREDENTIALS_KEY (or --credentials-key) to the stack output CredentialsKeyArn');
    expect((await failure(container().open(sealed, slot('support')))).code).toBe(CredentialErrorCode.DATA_KEY_NOT_FOUND);
  });
});
