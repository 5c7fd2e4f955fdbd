/**
 * Where a credential belongs: a mailbox and one of its credential fields. A sealed value is
 * bound to its slot (the AES-GCM additional data), so it opens in that slot only.
 */
import type { MailboxConfig, SecretRef } from '../config/mailbox-config';

/** The credential fields of a mailbox configuration. */
export const CREDENTIAL_FIELDS = ['password', 'clientSecret', 'refreshToken', 'clientCertificate', 'clientKey'] as const;
export type CredentialField = (typeof CREDENTIAL_FIELDS)[number];

export interface CredentialSlot {
  readonly mailboxId: string;
  readonly field: CredentialField;
}

/** Where each field's reference sits in a mailbox configuration, key by key. */
const CONFIG_KEYS: Readonly<Record<CredentialField, readonly [string, ...string[]]>> = {
  password: ['password'],
  clientSecret: ['oauth', 'clientSecret'],
  refreshToken: ['oauth', 'refreshToken'],
  clientCertificate: ['clientCertificate', 'certificate'],
  clientKey: ['clientCertificate', 'key'],
};

/** PEM fields: sealed from a file, not typed on standard input. */
const PEM_FIELDS: ReadonlySet<CredentialField> = new Set(['clientCertificate', 'clientKey']);

export function isCredentialField(value: unknown): value is CredentialField {
  return typeof value === 'string' && (CREDENTIAL_FIELDS as readonly string[]).includes(value);
}

/** `mailbox "support" password`, for messages. */
export function describeSlot(slot: CredentialSlot): string {
  return `mailbox "${slot.mailboxId}" ${slot.field}`;
}

/** The field's path in a mailbox configuration: `password`, `oauth.clientSecret`, `clientCertificate.key`... */
export function configPathOf(field: CredentialField): string {
  return CONFIG_KEYS[field].join('.');
}

/** The keys leading to the field's reference in a mailbox configuration (`['oauth', 'refreshToken']`). */
export function configKeysOf(field: CredentialField): readonly [string, ...string[]] {
  return CONFIG_KEYS[field];
}

/** Whether the field holds PEM text (a certificate or a private key). */
export function isPemField(field: CredentialField): boolean {
  return PEM_FIELDS.has(field);
}

/**
 * The CLI options that seal a new value into the field, as a fix to name in messages:
 * `--password-stdin`, `--client-secret-stdin`; a certificate and its key go together.
 */
export function sealOptionOf(field: CredentialField): string {
  if (isPemField(field)) return '--client-certificate FILE --client-key FILE';
  return `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}-stdin`;
}

/** Every secret reference of a mailbox, with its field. A certificate given as PEM text is no reference. */
export function credentialRefs(config: MailboxConfig): [CredentialField, SecretRef][] {
  const refs: [CredentialField, SecretRef | string | undefined][] = [
    ['password', config.password],
    ['clientSecret', config.oauth?.clientSecret],
    ['refreshToken', config.oauth?.refreshToken],
    ['clientCertificate', config.clientCertificate?.certificate],
    ['clientKey', config.clientCertificate?.key],
  ];
  return refs.filter((entry): entry is [CredentialField, SecretRef] => entry[1] !== undefined && typeof entry[1] !== 'string');
}
