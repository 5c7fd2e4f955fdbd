/**
 * A mailbox's TLS client certificate and key, resolved and checked before any connection:
 * every failure a SECRET_INVALID naming the mailbox and the field, never a byte of the PEM;
 * sealed in their own slots, within the sealed-value size limit even for RSA-4096.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClientCertificateConfig, MailboxConfig } from '../../lambda/config/mailbox-config';
import { parseMailbox } from '../../lambda/config/validate-config';
import { resolveClientCertificate } from '../../lambda/credentials/client-certificate';
import { CredentialError, CredentialErrorCode } from '../../lambda/credentials/credential-error';
import { configPathOf, credentialRefs, sealOptionOf, type CredentialSlot } from '../../lambda/credentials/credential-slot';
import { MAX_SEALED_PLAINTEXT_BYTES, openSealed, parseSealed, sealValue, type DataKey } from '../../lambda/credentials/sealed-value';
import { SecretResolver } from '../../lambda/credentials/secret-resolver';
import { collectMailboxSecrets } from '../../lib/secret-refs';
import { makeClientPki, type ClientKeyPair } from '../fixtures/client-pki';

const FROM_ENV: ClientCertificateConfig = { certificate: { env: 'BOX_CERT' }, key: { env: 'BOX_KEY' } };
const DAY_MS = 86_400_000;

async function failure(run: () => Promise<unknown>): Promise<CredentialError> {
  const err = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CredentialError);
  expect((err as CredentialError).code).toBe(CredentialErrorCode.SECRET_INVALID);
  expect((err as CredentialError).retryable).toBe(false);
  // No run of base64 that a line of PEM would leave.
  expect((err as CredentialError).message).not.toMatch(/[A-Za-z0-9+/]{40}/);
  return err as CredentialError;
}

describe('resolving a client certificate', () => {
  let alice: ClientKeyPair;
  let bob: ClientKeyPair;
  beforeAll(async () => {
    const pki = await makeClientPki(['alice', 'bob']);
    alice = pki.clients.get('alice')!;
    bob = pki.clients.get('bob')!;
  }, 60_000);

  const resolverWith = (cert: string, key: string): SecretResolver => new SecretResolver({ env: { BOX_CERT: cert, BOX_KEY: key } });
  const resolve = (cert: string, key: string, now?: number) => resolveClientCertificate('box', FROM_ENV, resolverWith(cert, key), now);

  it('both from references, or the certificate as PEM text: the PEM for the TLS options, as stored', async () => {
    expect(await resolve(alice.cert, alice.key)).toEqual({ cert: alice.cert, key: alice.key });
    const literal = await resolveClientCertificate('box', { certificate: alice.cert, key: { env: 'BOX_KEY' } }, resolverWith('unused', alice.key));
    expect(literal).toEqual({ cert: alice.cert, key: alice.key });
  });

  it('a key that is not the certificate\'s: SECRET_INVALID naming the mailbox, the field and the certificate\'s subject', async () => {
    const err = await failure(() => resolve(alice.cert, bob.key));
    expect(err.message).toBe(
      'mailbox "box" clientKey (clientCertificate.key) is not the private key of the certificate in clientCertificate.certificate (subject CN=alice): give the key the certificate was issued for',
    );
  });

  it('bad PEM on either side, a certificate where the key belongs, an encrypted key: each named', async () => {
    expect((await failure(() => resolve('hello', alice.key))).message).toBe(
      'mailbox "box" clientCertificate (clientCertificate.certificate) is not a PEM certificate: it holds no "-----BEGIN CERTIFICATE-----" line',
    );
    const garbled = alice.cert.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!!!!!!!!!');
    expect((await failure(() => resolve(garbled, alice.key))).message).toMatch(/^mailbox "box" clientCertificate \(clientCertificate.certificate\) is not a valid certificate/);
    expect((await failure(() => resolve(alice.cert, alice.cert))).message).toMatch(/^mailbox "box" clientKey \(clientCertificate.key\) is not a PEM private key/);
    const { privateKey: encrypted } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' },
    });
    expect((await failure(() => resolve(alice.cert, encrypted))).message).toMatch(/clientKey \(clientCertificate.key\) is encrypted with a passphrase/);
  });

  it('a certificate past its end date: SECRET_INVALID saying when it expired', async () => {
    const err = await failure(() => resolve(alice.cert, alice.key, Date.now() + 10 * DAY_MS));
    expect(err.message).toMatch(/^mailbox "box" clientCertificate \(clientCertificate.certificate\) expired on \d{4}-\d{2}-\d{2}T.*: renew it/);
  });

  it('a missing variable is the resolver\'s ENV_MISSING, before any check', async () => {
    await expect(resolveClientCertificate('box', FROM_ENV, new SecretResolver({ env: {} }))).rejects.toMatchObject({ code: CredentialErrorCode.ENV_MISSING });
  });
});

describe('client certificate slots', () => {
  const dataKey: DataKey = { version: 1, bytes: randomBytes(32) };
  const slot = (field: CredentialSlot['field']): CredentialSlot => ({ mailboxId: 'box', field });

  it('an RSA-4096 key and a certificate chain fit a sealed value, and a key sealed as clientKey opens only there', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 4096, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const pki = await makeClientPki(['alice']);
    const chain = `${pki.clients.get('alice')!.cert}${pki.caCert.toString('utf8')}`;
    for (const [field, pem] of [['clientKey', privateKey], ['clientCertificate', chain]] as const) {
      expect(Buffer.byteLength(pem)).toBeLessThan(MAX_SEALED_PLAINTEXT_BYTES);
      const sealed = sealValue(pem, slot(field), dataKey);
      expect(openSealed(parseSealed(sealed, slot(field)), slot(field), dataKey) === pem).toBe(true);
    }
    const sealedKey = sealValue(privateKey, slot('clientKey'), dataKey);
    expect(() => openSealed(parseSealed(sealedKey, slot('clientCertificate')), slot('clientCertificate'), dataKey)).toThrow(
      "mailbox \"box\" clientCertificate: the sealed value does not open; it was sealed for another mailbox or field, or altered. Seal it for this mailbox: 'mailfetch mailboxes update --mailbox box --client-certificate FILE --client-key FILE'",
    );
  }, 60_000);

  it('their paths, their CLI options, and every reference of a mailbox (a certificate given as text is none)', () => {
    expect([configPathOf('clientCertificate'), configPathOf('clientKey')]).toEqual(['clientCertificate.certificate', 'clientCertificate.key']);
    expect([sealOptionOf('password'), sealOptionOf('clientKey')]).toEqual(['--password-stdin', '--client-certificate FILE --client-key FILE']);
    const mailbox: MailboxConfig = parseMailbox({
      id: 'box',
      host: 'pop.example.org',
      username: 'u',
      password: { secretId: 'mailfetch/pw' },
      clientCertificate: { certificate: { secretId: 'mailfetch/cert' }, key: { env: 'BOX_KEY' } },
    });
    expect(credentialRefs(mailbox).map(([field]) => field)).toEqual(['password', 'clientCertificate', 'clientKey']);
    const { readSecretIds, envRefs } = collectMailboxSecrets([mailbox]);
    expect(readSecretIds).toEqual(['mailfetch/pw', 'mailfetch/cert']);
    expect(envRefs.map((use) => use.path)).toEqual(['mailboxes[0] (box).clientCertificate.key']);
  });
});
