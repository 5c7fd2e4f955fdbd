/**
 * The `clientCertificate` block and `auth: "EXTERNAL"` in the configuration: what is
 * accepted, and every problem named with its mailbox, its cause and its fix, never quoting
 * PEM text. (Whether a key matches its certificate is known only once both are resolved:
 * test/credentials/client-certificate.test.ts.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../lambda/config/config-error';
import { parseConfig } from '../../lambda/config/validate-config';
import { makeClientPki, type ClientKeyPair } from '../fixtures/client-pki';

const KEY_REF = { sealed: `v1:1:${'A'.repeat(40)}` };
const CERT_REF = { secretId: 'mailfetch/box-cert' };
const AT = 'mailboxes[0] (id "box")';

function mailbox(fields: Record<string, unknown>): Record<string, unknown> {
  return { id: 'box', host: 'pop.example.com', username: 'u', ...fields };
}

function problemsOf(fields: Record<string, unknown>): readonly string[] {
  try {
    parseConfig({ mailboxes: [mailbox(fields)] });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('clientCertificate in the configuration', () => {
  let alice: ClientKeyPair;
  beforeAll(async () => {
    alice = (await makeClientPki(['alice'])).clients.get('alice')!;
  }, 60_000);

  it('a certificate and key from references, or the certificate as PEM text; EXTERNAL alone or auto; frozen', () => {
    const [byRef, literal] = parseConfig({
      mailboxes: [
        mailbox({ auth: 'EXTERNAL', clientCertificate: { certificate: CERT_REF, key: KEY_REF } }),
        { ...mailbox({ clientCertificate: { certificate: alice.cert, key: { env: 'BOX_KEY' } } }), id: 'literal' },
      ],
    }).mailboxes;
    expect(byRef).toMatchObject({ auth: 'EXTERNAL', clientCertificate: { certificate: CERT_REF, key: KEY_REF } });
    expect(byRef).not.toHaveProperty('password');
    expect(literal).toMatchObject({ auth: 'auto', clientCertificate: { certificate: alice.cert, key: { env: 'BOX_KEY' } } });
    expect(Object.isFrozen(literal!.clientCertificate)).toBe(true);
  });

  it('a certificate beside a password or OAuth (a server that wants both): accepted with auto and with the password mechanism', () => {
    const clientCertificate = { certificate: CERT_REF, key: KEY_REF };
    const { mailboxes } = parseConfig({
      mailboxes: [mailbox({ clientCertificate, password: { env: 'PW' } }), { ...mailbox({ clientCertificate, password: { env: 'PW' }, auth: 'PLAIN' }), id: 'plain' }],
    });
    expect(mailboxes.map((m) => [m.auth, m.password, m.clientCertificate])).toEqual([
      ['auto', { env: 'PW' }, clientCertificate],
      ['PLAIN', { env: 'PW' }, clientCertificate],
    ]);
  });

  it('a missing key or certificate: named, with where they come from', () => {
    expect(problemsOf({ clientCertificate: { certificate: CERT_REF } })).toEqual([
      `${AT}.clientCertificate.key: is required: the certificate's private key, as a secret reference: { "sealed": ... } ('mailfetch mailboxes add --client-certificate FILE --client-key FILE' seals both), { "secretId": ... } or { "env": ... }`,
    ]);
    expect(problemsOf({ clientCertificate: { key: KEY_REF } })).toEqual([
      `${AT}.clientCertificate.certificate: is required: the client certificate, PEM text or a secret reference ({ "sealed": ... } ('mailfetch mailboxes add --client-certificate FILE --client-key FILE' seals both), { "secretId": ... } or { "env": ... })`,
    ]);
    expect(problemsOf({ clientCertificate: 'cert.pem' })).toEqual([
      `${AT}.clientCertificate: must be an object: { "certificate": PEM text or a secret reference, "key": a secret reference }`,
    ]);
  });

  it('a private key written into the file: refused, as key or inside the certificate, without quoting it', () => {
    const keyProblems = problemsOf({ clientCertificate: { certificate: CERT_REF, key: alice.key } });
    expect(keyProblems).toEqual([
      `${AT}.clientCertificate.key: must be { "secretId": ... }, { "sealed": ... } or { "env": ... }; literal private keys are not allowed in the config file`,
    ]);
    const combined = problemsOf({ clientCertificate: { certificate: `${alice.cert}${alice.key}`, key: KEY_REF } });
    expect(combined).toEqual([
      `${AT}.clientCertificate.certificate: holds a private key, which must not be in a configuration file: give the certificate alone here, and its key in "key" as a secret reference`,
    ]);
    for (const problem of [...keyProblems, ...combined]) expect(problem).not.toContain('-----BEGIN');
  });

  it('bad PEM text for the certificate: not PEM, or a PEM block that does not decode', () => {
    expect(problemsOf({ clientCertificate: { certificate: 'not a certificate', key: KEY_REF } })).toEqual([
      `${AT}.clientCertificate.certificate: is not a PEM certificate: it holds no "-----BEGIN CERTIFICATE-----" line; give the certificate's PEM text ("-----BEGIN CERTIFICATE-----" ...), or a secret reference`,
    ]);
    const truncated = alice.cert.slice(0, 200) + '\n-----END CERTIFICATE-----\n';
    expect(problemsOf({ clientCertificate: { certificate: truncated, key: KEY_REF } })).toEqual([
      `${AT}.clientCertificate.certificate: is not a valid certificate: its PEM block does not decode to an X.509 certificate; give the certificate's PEM text ("-----BEGIN CERTIFICATE-----" ...), or a secret reference`,
    ]);
  });

  it('auth and credentials that do not fit: EXTERNAL without a certificate or with an unused password; PLAIN with only a certificate', () => {
    expect(problemsOf({ auth: 'EXTERNAL' })).toEqual([`${AT}.clientCertificate: is required for auth EXTERNAL (the certificate is the identity)`]);
    expect(problemsOf({ auth: 'EXTERNAL', password: { env: 'PW' } })).toEqual([
      `${AT}.clientCertificate: is required for auth EXTERNAL (the certificate is the identity)`,
      `${AT}.password: is not used by auth EXTERNAL, which logs in with the client certificate: remove it, or choose a mechanism that uses it`,
    ]);
    expect(problemsOf({ auth: 'PLAIN', clientCertificate: { certificate: CERT_REF, key: KEY_REF } })).toEqual([
      `${AT}.password: is required for auth PLAIN: a client certificate is a login only with auth EXTERNAL`,
    ]);
    expect(problemsOf({})).toEqual([`${AT}.password: is required (or "oauth" for XOAUTH2/OAUTHBEARER, or "clientCertificate" for EXTERNAL)`]);
  });

  it('a certificate on a link without TLS: refused, it would never be presented', () => {
    expect(problemsOf({ tls: 'none', allowPlaintextAuth: true, clientCertificate: { certificate: CERT_REF, key: KEY_REF } })).toEqual([
      `${AT}.clientCertificate: is presented in the TLS handshake, and "tls" is "none": use "implicit" or "starttls"`,
    ]);
  });

  it('the credential is one unit: a mailbox with its own certificate inherits no password from the defaults', () => {
    const { mailboxes } = parseConfig({
      defaults: { password: { secretId: 'mailfetch/shared' } },
      mailboxes: [mailbox({ clientCertificate: { certificate: CERT_REF, key: KEY_REF } })],
    });
    expect(mailboxes[0]).not.toHaveProperty('password');
    const external = { mailboxes: [mailbox({ auth: 'EXTERNAL', clientCertificate: { certificate: CERT_REF, key: KEY_REF } })], defaults: { password: { secretId: 'mailfetch/shared' } } };
    expect(parseConfig(external).mailboxes[0]).toMatchObject({ auth: 'EXTERNAL', clientCertificate: { certificate: CERT_REF } });
  });
});
