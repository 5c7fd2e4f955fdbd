import { MailfetchError } from '../errors';

/**
 * Typed errors of credential resolution (Secrets Manager, sealed values in the registry,
 * environment, OAuth token endpoints). `retryable` tells "the next run may succeed" from "a human must fix the
 * configuration or the grant". Messages name secrets and variables, never their values.
 */

export const CredentialErrorCode = {
  /** The secret does not exist (or is scheduled for deletion). */
  SECRET_NOT_FOUND: 'SECRET_NOT_FOUND',
  /** The secret exists but its value is unusable: not JSON, key missing, not a string, empty. */
  SECRET_INVALID: 'SECRET_INVALID',
  /** IAM or KMS refused reading or writing the secret. */
  SECRET_ACCESS_DENIED: 'SECRET_ACCESS_DENIED',
  /** Secrets Manager could not be reached, throttled, or failed on its side. */
  SECRET_UNAVAILABLE: 'SECRET_UNAVAILABLE',
  /** The referenced environment variable is unset or empty. */
  ENV_MISSING: 'ENV_MISSING',
  /** The token endpoint could not be reached, timed out, or failed (5xx, 429, malformed reply). */
  TOKEN_REQUEST_FAILED: 'TOKEN_REQUEST_FAILED',
  /** The token endpoint rejected the client or the grant (invalid_grant, invalid_client...). */
  TOKEN_INVALID: 'TOKEN_INVALID',
  /** A `{ "sealed": ... }` value that is not in a known format (or no sealed store is set up). */
  SEALED_INVALID: 'SEALED_INVALID',
  /** A sealed value that does not open: sealed for another mailbox or field, or altered. */
  SEALED_MISMATCH: 'SEALED_MISMATCH',
  /** The data key version a sealed value names is not in the state table. */
  DATA_KEY_NOT_FOUND: 'DATA_KEY_NOT_FOUND',
  /** KMS (or DynamoDB) refused access to the data key. */
  DATA_KEY_ACCESS_DENIED: 'DATA_KEY_ACCESS_DENIED',
  /** KMS or DynamoDB could not be reached, throttled, or failed on its side. */
  DATA_KEY_UNAVAILABLE: 'DATA_KEY_UNAVAILABLE',
} as const;
export type CredentialErrorCode = (typeof CredentialErrorCode)[keyof typeof CredentialErrorCode];

/** Codes whose cause is expected to go away by itself. */
const RETRYABLE_BY_DEFAULT: ReadonlySet<CredentialErrorCode> = new Set<CredentialErrorCode>([
  CredentialErrorCode.SECRET_UNAVAILABLE,
  CredentialErrorCode.TOKEN_REQUEST_FAILED,
  CredentialErrorCode.DATA_KEY_UNAVAILABLE,
]);

export interface CredentialErrorDetails {
  /** Overrides the code's default (e.g. a token endpoint's 404 is a failed request, but permanent). */
  readonly retryable?: boolean;
  /** Never an error whose message could hold a secret value (JSON.parse errors quote their input). */
  readonly cause?: unknown;
}

export class CredentialError extends MailfetchError<CredentialErrorCode> {
  override readonly name = 'CredentialError';

  constructor(code: CredentialErrorCode, message: string, details: CredentialErrorDetails = {}) {
    super(code, message, details.retryable ?? RETRYABLE_BY_DEFAULT.has(code), details.cause);
  }
}

export function isCredentialError(err: unknown, code?: CredentialErrorCode): err is CredentialError {
  return err instanceof CredentialError && (code === undefined || err.code === code);
}

/**
 * Text from outside (AWS messages, a token endpoint's error_description) is untrusted:
 * printable ASCII only, bounded, before it goes into a message.
 */
export function sanitizeText(text: string, maxChars = 200): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > maxChars ? `${clean.slice(0, maxChars)}...` : clean;
}

/** At most this much of an AWS error message goes into ours. */
const MAX_AWS_MESSAGE_CHARS = 200;

/** An AWS SDK (or socket) error's name, HTTP status and sanitized message. */
export function describeAwsError(err: unknown): { name: string; status: number | undefined; message: string } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { name?: unknown; message?: unknown; code?: unknown; $metadata?: { httpStatusCode?: number } };
  // Network failures are plain Errors with a Node error code (ECONNREFUSED...) and no HTTP status.
  const name = typeof e.name === 'string' && e.name !== 'Error' ? e.name : typeof e.code === 'string' ? e.code : 'Error';
  const message = typeof e.message === 'string' ? sanitizeText(e.message, MAX_AWS_MESSAGE_CHARS) : '';
  return { name, status: e.$metadata?.httpStatusCode, message };
}

/** `AccessDeniedException, HTTP 400: not authorized`: an AWS error in one parenthesis-ready phrase. */
export function awsErrorDetail(err: unknown): string {
  const { name, status, message } = describeAwsError(err);
  return `${name}${status === undefined ? '' : `, HTTP ${status}`}${message ? `: ${message}` : ''}`;
}
