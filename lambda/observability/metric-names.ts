/**
 * CloudWatch metrics the worker emits (embedded metric format), shared with the CDK
 * construct's alarms and dashboard. Every metric has the dimension `Mailbox`; `Errors`
 * is also emitted with `Mailbox, ErrorCode`.
 */
export const METRIC = {
  MESSAGES_FETCHED: 'MessagesFetched',
  BYTES_FETCHED: 'BytesFetched',
  MESSAGES_SKIPPED: 'MessagesSkipped',
  MESSAGES_DELETED: 'MessagesDeleted',
  DUPLICATE_UIDLS: 'DuplicateUidls',
  /** Messages still new at the end of the run. */
  BACKLOG: 'Backlog',
  RUN_DURATION_MS: 'RunDuration',
  /** 1 for every run that finished without errors (complete or not). Alarm on its absence. */
  RUN_SUCCEEDED: 'RunSucceeded',
  /** 1 for every run that failed (status error). */
  RUN_FAILED: 'RunFailed',
  /** Credentials rejected (POP3 AUTH_FAILED, OAuth TOKEN_INVALID, missing secret). Never retried by itself. */
  AUTH_FAILURES: 'AuthFailures',
  /** Errors by code (dimension ErrorCode). */
  ERRORS: 'Errors',
  DYNAMODB_READ_UNITS: 'StateReadUnits',
  DYNAMODB_WRITE_UNITS: 'StateWriteUnits',
} as const;

export const DIMENSION_MAILBOX = 'Mailbox';
export const DIMENSION_ERROR_CODE = 'ErrorCode';
