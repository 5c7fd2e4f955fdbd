import { checkKeys } from './check-keys';
import { parseCertificatePem, PRIVATE_KEY_BLOCK } from './client-certificate-pem';
import { fieldAt, type Field } from './field-readers';
import { isObject } from './json-object';
import type { ClientCertificateConfig, SecretRef } from './mailbox-config';
import type { Problems } from './problems';
import { readSecretRef } from './read-secret-ref';

export const CLIENT_CERTIFICATE_KEYS = ['certificate', 'key'] as const;
const SHAPE = 'must be an object: { "certificate": PEM text or a secret reference, "key": a secret reference }';
const KEY_SOURCES = `{ "sealed": ... } ('mailfetch mailboxes add --client-certificate FILE --client-key FILE' seals both), { "secretId": ... } or { "env": ... }`;

/**
 * The `clientCertificate` block. A certificate given as PEM text is checked here (it must
 * decode, and hold no private key); one from a secret, and the key, when it is resolved.
 */
export function readClientCertificate(field: Field, problems: Problems): ClientCertificateConfig | undefined {
  const v = field.value;
  if (!isObject(v)) {
    problems.add(field.path, SHAPE);
    return undefined;
  }
  const before = problems.count;
  checkKeys(v, CLIENT_CERTIFICATE_KEYS, field.path, problems);
  const certificateField = fieldAt(v, 'certificate', field.path);
  const keyField = fieldAt(v, 'key', field.path);
  const certificate = certificateField && readCertificate(certificateField, problems);
  const key = keyField && readSecretRef(keyField, 'private keys', problems);
  if (!certificateField) problems.add(`${field.path}.certificate`, `is required: the client certificate, PEM text or a secret reference (${KEY_SOURCES})`);
  if (!keyField) problems.add(`${field.path}.key`, `is required: the certificate's private key, as a secret reference: ${KEY_SOURCES}`);
  if (problems.count > before || certificate === undefined || key === undefined) return undefined;
  return Object.freeze({ certificate, key });
}

function readCertificate(field: Field, problems: Problems): SecretRef | string | undefined {
  if (typeof field.value !== 'string') return readSecretRef(field, 'certificates', problems);
  if (PRIVATE_KEY_BLOCK.test(field.value)) {
    problems.add(field.path, 'holds a private key, which must not be in a configuration file: give the certificate alone here, and its key in "key" as a secret reference');
    return undefined;
  }
  const parsed = parseCertificatePem(field.value);
  if (typeof parsed !== 'string') return field.value;
  problems.add(field.path, `${parsed}; give the certificate's PEM text ("-----BEGIN CERTIFICATE-----" ...), or a secret reference`);
  return undefined;
}
