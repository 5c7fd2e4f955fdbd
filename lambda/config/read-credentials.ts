/**
 * A mailbox's credentials: a password, OAuth, or a TLS client certificate, checked against
 * the mechanism `auth` names. A client certificate may come with a password or OAuth (a
 * server that wants a certificate at the TLS level and a login): only EXTERNAL logs in with it.
 */
import type { AuthMechanismName } from '../pop3';
import type { Field } from './field-readers';
import type { ClientCertificateConfig, OAuthConfig, SecretRef } from './mailbox-config';
import type { Problems } from './problems';
import { readClientCertificate } from './read-client-certificate';
import { readOAuth } from './read-oauth';
import { readSecretRef } from './read-secret-ref';

/** The fields that hold a credential; a mailbox that sets any of them inherits none from `defaults`. */
export const CREDENTIAL_KEYS = ['password', 'oauth', 'clientCertificate'] as const;
type CredentialKey = (typeof CREDENTIAL_KEYS)[number];
const TOKEN_MECHANISMS: readonly AuthMechanismName[] = ['XOAUTH2', 'OAUTHBEARER'];
const CERTIFICATE_REQUIRED = 'is required for auth EXTERNAL (the certificate is the identity)';

export interface Credentials {
  password?: SecretRef;
  oauth?: OAuthConfig;
  clientCertificate?: ClientCertificateConfig;
}

/** The credential an explicitly chosen mechanism logs in with. */
function credentialOf(auth: AuthMechanismName): CredentialKey {
  if (TOKEN_MECHANISMS.includes(auth)) return 'oauth';
  return auth === 'EXTERNAL' ? 'clientCertificate' : 'password';
}

export function readCredentials(
  lookup: (key: CredentialKey) => Field | undefined,
  label: string,
  auth: AuthMechanismName | 'auto',
  problems: Problems,
): Credentials {
  const passwordField = lookup('password');
  const oauthField = lookup('oauth');
  const certificateField = lookup('clientCertificate');
  const password = passwordField && readSecretRef(passwordField, 'passwords', problems);
  const oauth = oauthField && readOAuth(oauthField, problems);
  const clientCertificate = certificateField && readClientCertificate(certificateField, problems);
  const needed = auth === 'auto' ? undefined : credentialOf(auth);
  if (passwordField && oauthField) {
    problems.add(oauthField.path, 'cannot be combined with "password"; give exactly one of them');
  } else if (!passwordField && !oauthField && !certificateField) {
    if (needed === 'oauth') problems.add(`${label}.oauth`, `is required for auth ${auth}`);
    else if (needed === 'clientCertificate') problems.add(`${label}.clientCertificate`, CERTIFICATE_REQUIRED);
    else problems.add(`${label}.password`, 'is required (or "oauth" for XOAUTH2/OAUTHBEARER, or "clientCertificate" for EXTERNAL)');
  } else if (auth !== 'auto') {
    checkFitsMechanism({ passwordField, oauthField, certificateField }, credentialOf(auth), label, auth, problems);
  }
  return { ...(password ? { password } : {}), ...(oauth ? { oauth } : {}), ...(clientCertificate ? { clientCertificate } : {}) };
}

/** An explicit mechanism needs its own credential; a password or OAuth beside EXTERNAL would go unused. */
function checkFitsMechanism(
  given: { passwordField: Field | undefined; oauthField: Field | undefined; certificateField: Field | undefined },
  needed: CredentialKey,
  label: string,
  auth: AuthMechanismName,
  problems: Problems,
): void {
  const { passwordField, oauthField, certificateField } = given;
  if (needed === 'clientCertificate') {
    if (!certificateField) problems.add(`${label}.clientCertificate`, CERTIFICATE_REQUIRED);
    for (const unused of [passwordField, oauthField]) {
      if (unused) problems.add(unused.path, 'is not used by auth EXTERNAL, which logs in with the client certificate: remove it, or choose a mechanism that uses it');
    }
  } else if (needed === 'oauth' && !oauthField) {
    problems.add(passwordField?.path ?? `${label}.oauth`, passwordField ? `auth ${auth} needs "oauth", not "password"` : `is required for auth ${auth}`);
  } else if (needed === 'password' && !passwordField) {
    problems.add(
      oauthField?.path ?? `${label}.password`,
      oauthField ? `auth ${auth} needs "password", not "oauth"` : `is required for auth ${auth}: a client certificate is a login only with auth EXTERNAL`,
    );
  }
}
