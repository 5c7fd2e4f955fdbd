import { MailfetchError } from '../errors';

/**
 * Typed errors of the state store. Every AWS error that leaves the adapter is wrapped in a
 * `StateStoreError` with a machine-readable `code`, a `retryable` flag (may the next run
 * succeed?) and the original error as `cause`. Messages name the operation and the table,
 * never item contents: identities are untrusted input.
 */

export const StateStoreErrorCode = {
  /** DynamoDB throttled the request (even after the SDK's own retries). */
  THROTTLED: 'THROTTLED',
  /** A conditional write found the item in a state that forbids it. */
  CONDITION_FAILED: 'CONDITION_FAILED',
  /** DynamoDB answered 5xx or could not be reached. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** The caller aborted the write (its session was stopped at the deadline): it was not sent again. */
  ABORTED: 'ABORTED',
  /** The request was rejected as malformed: a key too long, a missing table, a bad timestamp... */
  INVALID: 'INVALID',
  UNKNOWN: 'UNKNOWN',
} as const;
export type StateStoreErrorCode = (typeof StateStoreErrorCode)[keyof typeof StateStoreErrorCode];

/** Codes whose cause is expected to go away by itself. */
const RETRYABLE: ReadonlySet<StateStoreErrorCode> = new Set<StateStoreErrorCode>([
  StateStoreErrorCode.THROTTLED,
  StateStoreErrorCode.UNAVAILABLE,
]);

export interface StateStoreErrorDetails {
  /** The DynamoDB operation, e.g. `BatchGetItem`. */
  readonly operation?: string;
  readonly cause?: unknown;
}

export class StateStoreError extends MailfetchError<StateStoreErrorCode> {
  override readonly name = 'StateStoreError';
  readonly operation?: string;

  constructor(code: StateStoreErrorCode, message: string, details: StateStoreErrorDetails = {}) {
    super(code, message, RETRYABLE.has(code), details.cause);
    if (details.operation !== undefined) this.operation = details.operation;
  }
}

export function isStateStoreError(err: unknown, code?: StateStoreErrorCode): err is StateStoreError {
  return err instanceof StateStoreError && (code === undefined || err.code === code);
}

// ---------------------------------------------------------------------------------------
// Mapping AWS SDK errors

const CONDITION_FAILED_NAMES: ReadonlySet<string> = new Set(['ConditionalCheckFailedException']);

const THROTTLED_NAMES: ReadonlySet<string> = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  // TransactWriteItems/UpdateItem on an item another transaction holds: try again later.
  'TransactionConflictException',
]);

const INVALID_NAMES: ReadonlySet<string> = new Set([
  'ValidationException',
  'ResourceNotFoundException',
  'SerializationException',
  'ItemCollectionSizeLimitExceededException',
  'UnknownOperationException',
]);

const UNAVAILABLE_NAMES: ReadonlySet<string> = new Set([
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** Node socket errors: the endpoint is down or the network dropped the request. */
const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

interface AwsErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly $fault?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

/** Classifies an AWS SDK (or socket) error by name, HTTP status and fault side. */
export function classifyAwsError(err: unknown): StateStoreErrorCode {
  if (typeof err !== 'object' || err === null) return StateStoreErrorCode.UNKNOWN;
  const shape = err as AwsErrorShape;
  const name = typeof shape.name === 'string' ? shape.name : '';
  if (CONDITION_FAILED_NAMES.has(name)) return StateStoreErrorCode.CONDITION_FAILED;
  if (THROTTLED_NAMES.has(name)) return StateStoreErrorCode.THROTTLED;
  if (INVALID_NAMES.has(name)) return StateStoreErrorCode.INVALID;
  const status = shape.$metadata?.httpStatusCode;
  if (UNAVAILABLE_NAMES.has(name) || shape.$fault === 'server' || (typeof status === 'number' && status >= 500)) {
    return StateStoreErrorCode.UNAVAILABLE;
  }
  if (typeof shape.code === 'string' && NETWORK_ERROR_CODES.has(shape.code)) return StateStoreErrorCode.UNAVAILABLE;
  return StateStoreErrorCode.UNKNOWN;
}

/** Wraps anything thrown by the SDK; a StateStoreError passes through unchanged. */
export function toStateStoreError(err: unknown, operation: string, tableName: string): StateStoreError {
  if (err instanceof StateStoreError) return err;
  // The caller's abortSignal (the SDK throws AbortError): not DynamoDB's doing.
  const code = (err as { name?: unknown })?.name === 'AbortError' ? StateStoreErrorCode.ABORTED : classifyAwsError(err);
  const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new StateStoreError(code, `DynamoDB ${operation} on table ${tableName} failed (${code}): ${reason}`, {
    operation,
    cause: err,
  });
}
