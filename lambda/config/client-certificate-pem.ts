/**
 * Checks of a TLS client certificate and its private key (PEM), shared by the configuration
 * (a certificate given as PEM text) and credential resolution (values from secrets). Each
 * says what is wrong in words for a message: never a byte of the PEM, and no OpenSSL error
 * is kept (its text says nothing the message does not).
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';

const CERTIFICATE_BEGIN = '-----BEGIN CERTIFICATE-----';
/** `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1), `EC PRIVATE KEY` (SEC1), `ENCRYPTED PRIVATE KEY`. */
export const PRIVATE_KEY_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
/** PKCS#8 encrypted, or a traditional OpenSSL key with a passphrase. */
const ENCRYPTED_KEY = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: *4, *ENCRYPTED/;

/** The certificate (the first of a chain), or what is wrong with the text. */
export function parseCertificatePem(pem: string): X509Certificate | string {
  if (!pem.includes(CERTIFICATE_BEGIN)) return `is not a PEM certificate: it holds no "${CERTIFICATE_BEGIN}" line`;
  try {
    return new X509Certificate(pem);
  } catch {
    return 'is not a valid certificate: its PEM block does not decode to an X.509 certificate';
  }
}

/** The private key, or what is wrong with the text. */
export function parsePrivateKeyPem(pem: string): KeyObject | string {
  if (ENCRYPTED_KEY.test(pem)) {
    return 'is encrypted with a passphrase, which a scheduled run cannot enter: store it decrypted (openssl pkey -in key.pem -out key-plain.pem)';
  }
  if (!PRIVATE_KEY_BLOCK.test(pem)) return 'is not a PEM private key: it holds no "-----BEGIN PRIVATE KEY-----" line (or RSA/EC PRIVATE KEY)';
  try {
    return createPrivateKey(pem);
  } catch {
    return 'is not a valid private key: its PEM block does not decode to a key';
  }
}

/** Whether `key` is the private key of `certificate`'s public key. */
export function keyMatches(certificate: X509Certificate, key: KeyObject): boolean {
  return certificate.checkPrivateKey(key);
}
