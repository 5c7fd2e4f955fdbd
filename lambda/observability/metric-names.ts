/**
 * CloudWatch metrics the worker emits (embedded metric format), shared with the CDK
 * construct's alarms and dashboard.
 *
 * Every metric is emitted fleet-wide, without dimensions (`Errors` also by `ErrorCode`), so
 * their number does not grow with the fleet: CloudWatch prices each metric name + dimension
 * combination. Only the mailboxes listed in `MAILFETCH_DETAILED_METRICS_MAILBOXES` also get
 * the `Mailbox` dimension.
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
  /** 1 for a run that finished without errors (complete or not), 0 for a failed run. */
  RUN_SUCCEEDED: 'RunSucceeded',
  /** 1 for a run that failed (status error), 0 for a successful one: its average is the failure ratio. */
  RUN_FAILED: 'RunFailed',
  /** Credentials rejected (POP3 AUTH_FAILED, OAuth TOKEN_INVALID, missing secret). Never retried by itself. */
  AUTH_FAILURES: 'AuthFailures',
  /** Errors, in all and by code (dimension ErrorCode). */
  ERRORS: 'Errors',
  DYNAMODB_READ_UNITS: 'StateReadUnits',
  DYNAMODB_WRITE_UNITS: 'StateWriteUnits',
  /** `Mail Stored` events published (re-sends of earlier runs' included). */
  EVENTS_PUBLISHED: 'EventsPublished',
  /** Events EventBridge did not take: kept in the outbox for a later run. */
  EVENTS_FAILED: 'EventsFailed',
} as const;

/**
 * Fleet metrics emitted by the dispatcher, not the worker, in the same namespace and
 * without dimensions.
 */
export const DISPATCHER_METRIC = {
  /** Enabled mailboxes without a successful run for `missedRunPeriods` of their periods; emitted every sweep (0 included). */
  STALE_MAILBOXES: 'StaleMailboxes',
} as const;

export const DIMENSION_MAILBOX = 'Mailbox';
export const DIMENSION_ERROR_CODE = 'ErrorCode';
