import { MailfetchError } from '../errors';

/**
 * Typed errors of the message sink. Every error carries a machine-readable `code`, a
 * `retryable` flag ("the next run may succeed" versus "a human must act") and the
 * original error as `cause`. Built by the factories below, one per shape.
 */

export const StorageErrorCode = {
  /** The message source (the POP3 connection) failed while its bytes were being stored. */
  SOURCE_FAILED: 'SOURCE_FAILED',
  /** S3 asked us to slow down (SlowDown, 503, 429...). */
  THROTTLED: 'THROTTLED',
  /** The credentials may not write to the bucket (or its KMS key), or the process to the directory. */
  ACCESS_DENIED: 'ACCESS_DENIED',
  /** The bucket does not exist: a configuration error. */
  BUCKET_NOT_FOUND: 'BUCKET_NOT_FOUND',
  /** Any other failure talking to S3 (network, 5xx, unexpected 4xx). */
  UPLOAD_FAILED: 'UPLOAD_FAILED',
  /** Writing a message file failed (disk full, I/O error, a file where a directory belongs...). */
  WRITE_FAILED: 'WRITE_FAILED',
  /** The caller passed something the sink refuses (a bad mailbox id, an empty identity...). A bug. */
  INVALID_INPUT: 'INVALID_INPUT',
} as const;
export type StorageErrorCode = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

export interface StorageErrorDetails {
  /** Overrides the code's default retryability (e.g. UPLOAD_FAILED on a 4xx). */
  readonly retryable?: boolean;
  readonly cause?: unknown;
}

/** Codes whose cause usually goes away by itself; UPLOAD_FAILED is decided per cause. */
const RETRYABLE_BY_DEFAULT: ReadonlySet<StorageErrorCode> = new Set<StorageErrorCode>([
  StorageErrorCode.SOURCE_FAILED,
  StorageErrorCode.THROTTLED,
  StorageErrorCode.UPLOAD_FAILED,
  StorageErrorCode.WRITE_FAILED,
]);

/** A failure to store a message. Nothing new is left under the key when this is thrown. */
export class StorageError extends MailfetchError<StorageErrorCode> {
  override readonly name = 'StorageError';
  /**
   * SOURCE_FAILED: the header fingerprint of the message, when its header block had arrived
   * whole before the source failed (so a message that is never received whole can still be
   * told apart from another one with its UIDL).
   */
  headerFingerprint?: string;

  constructor(code: StorageErrorCode, message: string, details: StorageErrorDetails = {}) {
    super(code, message, details.retryable ?? RETRYABLE_BY_DEFAULT.has(code), details.cause);
  }
}

/** True when `err` is a StorageError (with the given code, if one is given). */
export function isStorageError(err: unknown, code?: StorageErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code);
}

/** The input stream failed: the original error stays available as `cause`. */
export function sourceFailed(cause: unknown): StorageError {
  return new StorageError(StorageErrorCode.SOURCE_FAILED, `message source failed: ${describe(cause)}`, { cause });
}

export function invalidInput(message: string): StorageError {
  return new StorageError(StorageErrorCode.INVALID_INPUT, message);
}

/** S3 error names that mean "slow down" (the SDK's own throttling list, as far as S3 uses it). */
const THROTTLING_ERROR_NAMES: ReadonlySet<string> = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestThrottled',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'BandwidthLimitExceeded',
]);
const ACCESS_DENIED_ERROR_NAMES: ReadonlySet<string> = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AllAccessDisabled',
  'KMS.AccessDeniedException',
]);
const HTTP_TOO_MANY_REQUESTS = 429;
const HTTP_FORBIDDEN = 403;
const HTTP_SERVER_ERROR_MIN = 500;

/** Shape of the SDK's service and transport errors, as far as classification needs it. */
interface SdkErrorLike {
  readonly name?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $retryable?: unknown;
}

/**
 * Classifies an error thrown by the S3 client (or the multipart upload) into a StorageError.
 * A failure without an HTTP status (connection reset, timeout) is retryable; so is a 5xx.
 * Other 4xx are not: retrying the same request gives the same answer.
 */
export function fromS3Error(cause: unknown, operation: string): StorageError {
  const sdk = (typeof cause === 'object' && cause !== null ? cause : {}) as SdkErrorLike;
  const name = typeof sdk.name === 'string' ? sdk.name : '';
  const status = sdk.$metadata?.httpStatusCode;
  const message = `${operation} failed: ${describe(cause)}`;
  if (THROTTLING_ERROR_NAMES.has(name) || status === HTTP_TOO_MANY_REQUESTS) {
    return new StorageError(StorageErrorCode.THROTTLED, message, { cause });
  }
  if (name === 'NoSuchBucket') return new StorageError(StorageErrorCode.BUCKET_NOT_FOUND, message, { cause });
  if (ACCESS_DENIED_ERROR_NAMES.has(name) || status === HTTP_FORBIDDEN) {
    return new StorageError(StorageErrorCode.ACCESS_DENIED, message, { cause });
  }
  const retryable = status === undefined || status >= HTTP_SERVER_ERROR_MIN || sdk.$retryable !== undefined;
  return new StorageError(StorageErrorCode.UPLOAD_FAILED, message, { cause, retryable });
}

/** File system error codes that mean "this process may not write there". */
const FILE_ACCESS_DENIED_CODES: ReadonlySet<string> = new Set(['EACCES', 'EPERM', 'EROFS']);
/** File system error codes that the same write will meet again: a human must act. */
const FILE_PERMANENT_CODES: ReadonlySet<string> = new Set(['ENOTDIR', 'EISDIR', 'EEXIST', 'ENAMETOOLONG', 'ELOOP', 'EINVAL']);

/**
 * Classifies a failed file system call of the file sink. Access problems are ACCESS_DENIED;
 * a path that cannot work (a file where a directory belongs) is WRITE_FAILED, not
 * retryable; anything else (disk full, I/O error, too many open files) may clear by itself.
 */
export function fromFileError(cause: unknown, operation: string, path: string): StorageError {
  const code = (cause as { code?: unknown } | null)?.code;
  const message = `${operation} ${path} failed: ${describe(cause)}`;
  if (typeof code === 'string' && FILE_ACCESS_DENIED_CODES.has(code)) {
    return new StorageError(StorageErrorCode.ACCESS_DENIED, `${message} (check the directory's owner and permissions)`, { cause });
  }
  const retryable = !(typeof code === 'string' && FILE_PERMANENT_CODES.has(code));
  return new StorageError(StorageErrorCode.WRITE_FAILED, message, { cause, retryable });
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  return String(err);
}
