/**
 * A mailbox's TLS client certificate and key, resolved from their references and checked
 * before any connection: a certificate that does not decode, a key that does not, is
 * encrypted, or is not the certificate's, or a certificate past its end date fails here
 * with SECRET_INVALID naming the mailbox and the field, instead of as an obscure handshake
 * or login failure at the server. Messages never hold a byte of either PEM.
 */
import { keyMatches, parseCertificatePem, parsePrivateKeyPem } from '../config/client-certificate-pem';
import type { ClientCertificateConfig } from '../config/mailbox-config';
import { CredentialError, CredentialErrorCode } from './credential-error';
import { configPathOf, describeSlot, type CredentialSlot } from './credential-slot';
import type { SecretResolver } from './secret-resolver';

/** PEM text for the TLS options (`cert`, `key`). */
export interface ClientCertificate {
  readonly cert: string;
  readonly key: string;
}

/**
 * @param now the clock, for the end-date check. @default Date.now()
 * @throws CredentialError from resolving either reference, or SECRET_INVALID from the checks
 */
export async function resolveClientCertificate(
  mailboxId: string,
  config: ClientCertificateConfig,
  secrets: SecretResolver,
  now = Date.now(),
): Promise<ClientCertificate> {
  const certSlot: CredentialSlot = { mailboxId, field: 'clientCertificate' };
  const keySlot: CredentialSlot = { mailboxId, field: 'clientKey' };
  const cert = typeof config.certificate === 'string' ? config.certificate : await secrets.resolve(config.certificate, certSlot);
  const key = await secrets.resolve(config.key, keySlot);
  checkClientCertificate(mailboxId, cert, key, now);
  return { cert, key };
}

/**
 * Checks a certificate and its key (also the CLI's, before it seals them).
 * @throws CredentialError SECRET_INVALID naming the mailbox and the field
 */
export function checkClientCertificate(mailboxId: string, cert: string, key: string, now = Date.now()): void {
  const certificate = parseCertificatePem(cert);
  if (typeof certificate === 'string') throw invalid({ mailboxId, field: 'clientCertificate' }, certificate);
  const privateKey = parsePrivateKeyPem(key);
  if (typeof privateKey === 'string') throw invalid({ mailboxId, field: 'clientKey' }, privateKey);
  if (!keyMatches(certificate, privateKey)) {
    throw invalid(
      { mailboxId, field: 'clientKey' },
      `is not the private key of the certificate in ${configPathOf('clientCertificate')} (subject ${certificate.subject.replaceAll('\n', ', ')}): give the key the certificate was issued for`,
    );
  }
  const validTo = Date.parse(certificate.validTo);
  if (Number.isFinite(validTo) && validTo < now) {
    throw invalid({ mailboxId, field: 'clientCertificate' }, `expired on ${new Date(validTo).toISOString()}: renew it with its issuer and store the new one`);
  }
}

function invalid(slot: CredentialSlot, problem: string): CredentialError {
  return new CredentialError(CredentialErrorCode.SECRET_INVALID, `${describeSlot(slot)} (${configPathOf(slot.field)}) ${problem}`);
}
