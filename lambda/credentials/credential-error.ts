import { MailfetchError } from '../errors';

/**
 * Typed errors of credential resolution (Secrets Manager, environment, OAuth token
 * endpoints). `retryable` tells "the next run may succeed" from "a human must fix the
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
} as const;
export type CredentialErrorCode = (typeof CredentialErrorCode)[keyof typeof CredentialErrorCode];

/** Codes whose cause is expected to go away by itself. */
const RETRYABLE_BY_DEFAULT: ReadonlySet<CredentialErrorCode> = new Set<CredentialErrorCode>([
  CredentialErrorCode.SECRET_UNAVAILABLE,
  CredentialErrorCode.TOKEN_REQUEST_FAILED,
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
