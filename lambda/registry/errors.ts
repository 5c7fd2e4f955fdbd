import { MailfetchError } from '../errors';
import { classifyAwsError } from '../state/errors';

/**
 * Typed errors of the mailbox registry. Messages name the mailbox, the cause and the
 * likely fix; they never quote configuration values beyond the id.
 */
export const RegistryErrorCode = {
  /** No mailbox has this id. */
  MAILBOX_NOT_REGISTERED: 'MAILBOX_NOT_REGISTERED',
  /** The mailbox is registered but disabled: the worker does not run it. */
  MAILBOX_DISABLED: 'MAILBOX_DISABLED',
  /** add: the id is taken. */
  MAILBOX_EXISTS: 'MAILBOX_EXISTS',
  /** The registry is a configuration file: edit the file instead. */
  REGISTRY_READ_ONLY: 'REGISTRY_READ_ONLY',
  /** A stored item does not hold a valid configuration (edited by hand, or an older format). */
  REGISTRY_ITEM_INVALID: 'REGISTRY_ITEM_INVALID',
  /** DynamoDB throttled or could not be reached. */
  REGISTRY_UNAVAILABLE: 'REGISTRY_UNAVAILABLE',
  /** DynamoDB refused the request (a missing table, no permission, ...). */
  REGISTRY_FAILED: 'REGISTRY_FAILED',
} as const;
export type RegistryErrorCode = (typeof RegistryErrorCode)[keyof typeof RegistryErrorCode];

export class RegistryError extends MailfetchError<RegistryErrorCode> {
  override readonly name = 'RegistryError';
  /** The mailbox concerned, when one is. */
  readonly mailboxId?: string;

  constructor(code: RegistryErrorCode, message: string, details: { readonly mailboxId?: string; readonly cause?: unknown } = {}) {
    super(code, message, code === RegistryErrorCode.REGISTRY_UNAVAILABLE, details.cause);
    if (details.mailboxId !== undefined) this.mailboxId = details.mailboxId;
  }
}

export function isRegistryError(err: unknown, code?: RegistryErrorCode): err is RegistryError {
  return err instanceof RegistryError && (code === undefined || err.code === code);
}

export function notRegistered(id: string, where: string): RegistryError {
  return new RegistryError(
    RegistryErrorCode.MAILBOX_NOT_REGISTERED,
    `mailbox "${id}" is not registered in ${where}; add it with 'mailfetch mailboxes add' (or check the id and the table)`,
    { mailboxId: id },
  );
}

export function alreadyRegistered(id: string, where: string): RegistryError {
  return new RegistryError(
    RegistryErrorCode.MAILBOX_EXISTS,
    `mailbox "${id}" is already registered in ${where}; 'mailfetch mailboxes update' changes its configuration`,
    { mailboxId: id },
  );
}

export function disabled(id: string): RegistryError {
  return new RegistryError(
    RegistryErrorCode.MAILBOX_DISABLED,
    `mailbox "${id}" is disabled; 'mailfetch mailboxes enable --mailbox ${id}' turns it on (baseline it first to skip its old mail)`,
    { mailboxId: id },
  );
}

/** Wraps a DynamoDB SDK error; a RegistryError passes through unchanged. */
export function toRegistryError(err: unknown, operation: string, table: string, mailboxId?: string): RegistryError {
  if (err instanceof RegistryError) return err;
  const kind = classifyAwsError(err);
  const code = kind === 'THROTTLED' || kind === 'UNAVAILABLE' ? RegistryErrorCode.REGISTRY_UNAVAILABLE : RegistryErrorCode.REGISTRY_FAILED;
  const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const hint = /ResourceNotFoundException/.test(reason) ? ' (does the table exist? --create-missing creates it)' : '';
  const which = mailboxId === undefined ? '' : ` for mailbox "${mailboxId}"`;
  return new RegistryError(code, `registry ${operation}${which} on table ${table} failed: ${reason}${hint}`, {
    ...(mailboxId === undefined ? {} : { mailboxId }),
    cause: err,
  });
}
