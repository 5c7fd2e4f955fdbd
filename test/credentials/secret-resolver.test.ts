import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CredentialErrorCode } from '../../lambda/credentials/credential-error';
import { SecretResolver } from '../../lambda/credentials/secret-resolver';
import { startFakeSecretsManager, type FakeSecretsManager } from '../fixtures/fake-secrets-manager';
import { failure } from './credential-failure';

const TTL_MS = 60_000;

let sm: FakeSecretsManager;
let client: SecretsManagerClient;

beforeAll(async () => {
  sm = await startFakeSecretsManager();
  client = sm.createClient();
});

afterAll(async () => {
  await sm.close();
});

beforeEach(() => {
  sm.secrets.clear();
  sm.resetCalls();
});

/** A resolver with a clock the test moves by hand. */
function resolverAt(start = 1_000_000): { resolver: SecretResolver; advance(ms: number): void } {
  let now = start;
  const resolver = new SecretResolver({ client, cacheTtlMs: TTL_MS, now: () => now, env: {} });
  return { resolver, advance: (ms) => void (now += ms) };
}

describe('SecretResolver with env references', () => {
  it('returns the variable, and names a missing or empty one without touching AWS', async () => {
    const resolver = new SecretResolver({ client, env: { POP3_PASSWORD: 's3cret', EMPTY: '' } });

    expect(await resolver.resolve({ env: 'POP3_PASSWORD' })).toBe('s3cret');
    const missing = await failure(resolver.resolve({ env: 'NOT_SET' }));
    const empty = await failure(resolver.resolve({ env: 'EMPTY' }));

    expect(missing).toMatchObject({ code: CredentialErrorCode.ENV_MISSING, retryable: false, message: 'environment variable NOT_SET is not set' });
    expect(empty).toMatchObject({ code: CredentialErrorCode.ENV_MISSING, message: 'environment variable EMPTY is empty' });
    expect(sm.calls()).toBe(0);
  });

  it('refuses to write to an environment variable', async () => {
    const resolver = new SecretResolver({ client, env: { TOKEN: 'old' } });
    const err = await failure(resolver.update({ env: 'TOKEN' }, 'new-token-value'));
    expect(err.code).toBe(CredentialErrorCode.SECRET_INVALID);
    expect(err.message).not.toContain('new-token-value');
  });
});

describe('SecretResolver with Secrets Manager', () => {
  it('reads a plain secret by name or ARN, and one field of a JSON secret', async () => {
    sm.secrets.set('mailfetch/plain', 'plain-password');
    sm.secrets.set('mailfetch/json', JSON.stringify({ username: 'u', password: 'json-password' }));
    const { resolver } = resolverAt();

    expect(await resolver.resolve({ secretId: 'mailfetch/plain' })).toBe('plain-password');
    expect(await resolver.resolve({ secretId: sm.arnOf('mailfetch/json'), key: 'password' })).toBe('json-password');
  });

  it('decodes a binary secret as UTF-8', async () => {
    sm.secrets.set('bin', Buffer.from('bïnary-pässword', 'utf8'));
    const { resolver } = resolverAt();
    expect(await resolver.resolve({ secretId: 'bin' })).toBe('bïnary-pässword');
  });

  it('serves a secret from the cache until the TTL passes, for every key of it', async () => {
    sm.secrets.set('s', JSON.stringify({ a: 'A', b: 'B' }));
    const { resolver, advance } = resolverAt();

    expect(await resolver.resolve({ secretId: 's', key: 'a' })).toBe('A');
    expect(await resolver.resolve({ secretId: 's', key: 'b' })).toBe('B');
    expect(sm.calls('GetSecretValue')).toBe(1);

    advance(TTL_MS - 1);
    await resolver.resolve({ secretId: 's', key: 'a' });
    expect(sm.calls('GetSecretValue')).toBe(1);

    sm.secrets.set('s', JSON.stringify({ a: 'A2' }));
    advance(1);
    expect(await resolver.resolve({ secretId: 's', key: 'a' })).toBe('A2');
    expect(sm.calls('GetSecretValue')).toBe(2);
  });

  it('shares one request between concurrent resolves of one secret', async () => {
    sm.secrets.set('s', 'v');
    const { resolver } = resolverAt();
    const values = await Promise.all([1, 2, 3].map(() => resolver.resolve({ secretId: 's' })));
    expect(values).toEqual(['v', 'v', 'v']);
    expect(sm.calls('GetSecretValue')).toBe(1);
  });

  it('reports a missing secret as SECRET_NOT_FOUND, not retryable, and asks again next time', async () => {
    const { resolver } = resolverAt();

    const err = await failure(resolver.resolve({ secretId: 'mailfetch/missing' }));

    expect(err).toMatchObject({ code: CredentialErrorCode.SECRET_NOT_FOUND, retryable: false });
    expect(err.message).toBe(
      'secret "mailfetch/missing" was not found (ResourceNotFoundException, HTTP 400: Secrets Manager can\'t find the specified secret.)',
    );
    sm.secrets.set('mailfetch/missing', 'now-here');
    expect(await resolver.resolve({ secretId: 'mailfetch/missing' })).toBe('now-here');
  });

  it('explains unusable values without quoting them', async () => {
    sm.secrets.set('not-json', 'hunter2-not-json');
    sm.secrets.set('json', JSON.stringify({ password: 12345678, other: 'other-secret-value' }));
    const { resolver } = resolverAt();

    const notJson = await failure(resolver.resolve({ secretId: 'not-json', key: 'password' }));
    const missingKey = await failure(resolver.resolve({ secretId: 'json', key: 'pasword' }));
    const notString = await failure(resolver.resolve({ secretId: 'json', key: 'password' }));

    expect(notJson.message).toBe('secret "not-json" is not a JSON object, so key "password" cannot be used');
    expect(missingKey.message).toBe('secret "json" has no key "pasword"');
    expect(notString.message).toBe('key "password" of secret "json" is not a string');
    for (const err of [notJson, missingKey, notString]) {
      expect(err).toMatchObject({ code: CredentialErrorCode.SECRET_INVALID, retryable: false });
      expect(err.cause).toBeUndefined(); // JSON.parse's message would quote the secret
      expect(err.message).not.toMatch(/hunter2|12345678|other-secret-value/);
    }
  });

  it('classifies access denied as permanent and throttling or server faults as retryable', async () => {
    sm.secrets.set('s', 'v');
    const { resolver } = resolverAt();
    sm.failNext('GetSecretValue', { status: 400, type: 'AccessDeniedException', message: 'not authorized to perform secretsmanager:GetSecretValue' });
    sm.failNext('GetSecretValue', { status: 400, type: 'ThrottlingException', message: 'Rate exceeded' });
    sm.failNext('GetSecretValue', { status: 500, type: 'InternalServiceError', message: 'oops' });

    const denied = await failure(resolver.resolve({ secretId: 's' }));
    const throttled = await failure(resolver.resolve({ secretId: 's' }));
    const broken = await failure(resolver.resolve({ secretId: 's' }));

    expect(denied).toMatchObject({ code: CredentialErrorCode.SECRET_ACCESS_DENIED, retryable: false });
    expect(denied.message).toContain('access denied to read secret "s" (AccessDeniedException, HTTP 400');
    expect(throttled).toMatchObject({ code: CredentialErrorCode.SECRET_UNAVAILABLE, retryable: true });
    expect(broken).toMatchObject({ code: CredentialErrorCode.SECRET_UNAVAILABLE, retryable: true });
    expect(await resolver.resolve({ secretId: 's' })).toBe('v');
  });

  it('with the slot, an access denial names the mailbox, the secret (not its value) and the likely fix', async () => {
    sm.secrets.set('team/support', 'v');
    sm.secrets.set('mailfetch/support', 'v');
    const resolver = new SecretResolver({ client, env: {}, secretNamePrefix: 'mailfetch/' });
    const slot = { mailboxId: 'support', field: 'password' } as const;
    const deny = (): void => sm.failNext('GetSecretValue', { status: 400, type: 'AccessDeniedException', message: 'not authorized' });

    deny();
    const outside = await failure(resolver.resolve({ secretId: sm.arnOf('team/support') }, slot));
    deny();
    const inside = await failure(resolver.resolve({ secretId: 'mailfetch/support' }, slot));

    expect(outside).toMatchObject({ code: CredentialErrorCode.SECRET_ACCESS_DENIED, retryable: false });
    expect(outside.message).toMatch(/^mailbox "support" password: access denied to read secret "arn:aws:secretsmanager:[^"]+:secret:team\/support-AbCdEf" \(AccessDeniedException/);
    expect(outside.message).toContain('; the function may read secrets named "mailfetch/*" only: move the secret under that prefix, or deploy with secretNamePrefix matching it');
    expect(inside.message).toMatch(/^mailbox "support" password: access denied to read secret "mailfetch\/support"/);
    expect(inside.message).toContain("; check the function role's grant on secrets named \"mailfetch/*\", the secret's resource policy and its KMS key");
  });

  it('reports an unreachable Secrets Manager as retryable', async () => {
    const other = await startFakeSecretsManager();
    const deadClient = other.createClient();
    await other.close();
    const resolver = new SecretResolver({ client: deadClient });

    const err = await failure(resolver.resolve({ secretId: 's' }));

    expect(err).toMatchObject({ code: CredentialErrorCode.SECRET_UNAVAILABLE, retryable: true });
    expect(err.message).toMatch(/^could not read secret "s" \(ECONNREFUSED/);
  });
});

describe('SecretResolver.update', () => {
  it('with a key, rewrites only that field of the current JSON and updates the cache', async () => {
    sm.secrets.set('oauth', JSON.stringify({ clientSecret: 'cs', refreshToken: 'rt-1' }));
    const { resolver } = resolverAt();
    expect(await resolver.resolve({ secretId: 'oauth', key: 'refreshToken' })).toBe('rt-1');
    // Changed elsewhere after we cached it: the update must not put the old value back.
    sm.secrets.set('oauth', JSON.stringify({ clientSecret: 'cs-rotated', refreshToken: 'rt-1' }));
    sm.resetCalls();

    await resolver.update({ secretId: 'oauth', key: 'refreshToken' }, 'rt-2');

    expect(JSON.parse(sm.secrets.get('oauth') as string)).toEqual({ clientSecret: 'cs-rotated', refreshToken: 'rt-2' });
    expect(sm.calls('GetSecretValue')).toBe(1);
    expect(sm.calls('PutSecretValue')).toBe(1);
    expect(await resolver.resolve({ secretId: 'oauth', key: 'refreshToken' })).toBe('rt-2');
    expect(await resolver.resolve({ secretId: 'oauth', key: 'clientSecret' })).toBe('cs-rotated');
    expect(sm.calls('GetSecretValue')).toBe(1);
  });

  it('without a key, writes the string as the whole secret', async () => {
    sm.secrets.set('rt', 'old');
    const { resolver } = resolverAt();

    await resolver.update({ secretId: 'rt' }, 'new');

    expect(sm.secrets.get('rt')).toBe('new');
    expect(await resolver.resolve({ secretId: 'rt' })).toBe('new');
    expect(sm.calls('GetSecretValue')).toBe(0);
  });

  it('reports a refused write without the value', async () => {
    sm.secrets.set('rt', 'old');
    sm.failNext('PutSecretValue', { status: 400, type: 'AccessDeniedException', message: 'not authorized to perform secretsmanager:PutSecretValue' });
    const { resolver } = resolverAt();

    const err = await failure(resolver.update({ secretId: 'rt' }, 'brand-new-token'));

    expect(err).toMatchObject({ code: CredentialErrorCode.SECRET_ACCESS_DENIED, retryable: false });
    expect(err.message).toMatch(/^access denied to write secret "rt"/);
    expect(err.message).not.toContain('brand-new-token');
    expect(sm.secrets.get('rt')).toBe('old');
  });
});
