/**
 * Environment variable names shared by the Lambda handler, the CLI and the CDK construct.
 * The construct sets them; the runtime reads them here, in one typed place.
 */
export const ENV = {
  BUCKET: 'MAILFETCH_BUCKET',
  TABLE: 'MAILFETCH_TABLE',
  /** Key prefix for message objects. */
  PREFIX: 'MAILFETCH_PREFIX',
  /** Milliseconds kept free at the end of a Lambda invocation (stop starting new messages). */
  SAFETY_MARGIN_MS: 'MAILFETCH_SAFETY_MARGIN_MS',
  /** CloudWatch metric namespace. */
  METRICS_NAMESPACE: 'MAILFETCH_METRICS_NAMESPACE',
  /** Comma-separated mailbox ids whose metrics also get the `Mailbox` dimension (absent: none). */
  DETAILED_METRICS_MAILBOXES: 'MAILFETCH_DETAILED_METRICS_MAILBOXES',
  /** URL of the run queue: the dispatcher sends to it, the worker re-queues deferred runs. */
  QUEUE_URL: 'MAILFETCH_QUEUE_URL',
  /** Dispatcher: StaleMailboxes counts mailboxes with no success in this many periods. */
  STALE_PERIODS: 'MAILFETCH_STALE_PERIODS',
  /** Dispatcher: mailboxes packed into one queue message. */
  MAILBOXES_PER_MESSAGE: 'MAILFETCH_MAILBOXES_PER_MESSAGE',
  /** Dispatcher: IANA time zone of cron(...) schedules. */
  SCHEDULE_TIME_ZONE: 'MAILFETCH_SCHEDULE_TIME_ZONE',
  /** Worker: concurrent POP3 sessions per host unless the host has its own cap. */
  HOST_SESSION_LIMIT: 'MAILFETCH_HOST_SESSION_LIMIT',
  /** Worker: per-host caps, JSON `{ "pop.example.org": 4 }`. */
  HOST_SESSION_LIMITS: 'MAILFETCH_HOST_SESSION_LIMITS',
  /** The KMS key (ARN) that encrypts the data keys of sealed credentials. */
  CREDENTIALS_KEY: 'MAILFETCH_CREDENTIALS_KEY',
  /** The Secrets Manager name prefix the function may read (named in access-denied errors). */
  SECRET_PREFIX: 'MAILFETCH_SECRET_PREFIX',
  /**
   * Worker: the EventBridge bus (name or ARN) that gets a `Mail Stored` event per newly
   * stored message. Absent: no events (and no outbox).
   */
  EVENT_BUS: 'MAILFETCH_EVENT_BUS',
} as const;

export const DEFAULT_PREFIX = 'messages/';
export const DEFAULT_METRICS_NAMESPACE = 'Mailfetch';
/** Secrets Manager secrets the deployed function may read and write are named under this. */
export const DEFAULT_SECRET_NAME_PREFIX = 'mailfetch/';

/** Path of the Lambda entry (relative to the repository root), used by the CDK construct. */
export const FETCH_HANDLER_ENTRY = 'lambda/handlers/fetch-mailbox.ts';
export const FETCH_HANDLER_EXPORT = 'handler';
/** The dispatcher (one schedule, every minute), bundled like the fetch handler. */
export const DISPATCH_HANDLER_ENTRY = 'lambda/handlers/dispatch-runs.ts';
export const DISPATCH_HANDLER_EXPORT = 'handler';
/** The deployment's registry seeding (a custom resource), bundled like the fetch handler. */
export const SEED_HANDLER_ENTRY = 'lambda/handlers/seed-registry.ts';
export const SEED_HANDLER_EXPORT = 'handler';
/**
 * The seeding custom resource's properties: where the mailbox list (a JSON array) lies, as
 * an S3 asset of the deployment, so the template stays small whatever the number of
 * mailboxes. `Mailboxes` (the list inline, as a JSON string) is still read for tests.
 */
export const SEED_MAILBOXES_PROPERTY = 'Mailboxes';
export const SEED_MAILBOXES_BUCKET_PROPERTY = 'MailboxesBucket';
export const SEED_MAILBOXES_KEY_PROPERTY = 'MailboxesKey';
