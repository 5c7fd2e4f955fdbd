/**
 * Where a credential belongs: a mailbox and one of its credential fields. A sealed value is
 * bound to its slot (the AES-GCM additional data), so it opens in that slot only.
 */

/** The credential fields of a mailbox configuration. */
export const CREDENTIAL_FIELDS = ['password', 'clientSecret', 'refreshToken'] as const;
export type CredentialField = (typeof CREDENTIAL_FIELDS)[number];

export interface CredentialSlot {
  readonly mailboxId: string;
  readonly field: CredentialField;
}

export function isCredentialField(value: unknown): value is CredentialField {
  return typeof value === 'string' && (CREDENTIAL_FIELDS as readonly string[]).includes(value);
}

/** `mailbox "support" password`, for messages. */
export function describeSlot(slot: CredentialSlot): string {
  return `mailbox "${slot.mailboxId}" ${slot.field}`;
}

/** The field's path in a mailbox configuration: `password`, `oauth.clientSecret`, `oauth.refreshToken`. */
export function configPathOf(field: CredentialField): string {
  return field === 'password' ? 'password' : `oauth.${field}`;
}
