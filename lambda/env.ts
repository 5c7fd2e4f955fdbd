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
  /** The KMS key (ARN) that encrypts the data keys of sealed credentials. */
  CREDENTIALS_KEY: 'MAILFETCH_CREDENTIALS_KEY',
  /** The Secrets Manager name prefix the function may read (named in access-denied errors). */
  SECRET_PREFIX: 'MAILFETCH_SECRET_PREFIX',
} as const;

export const DEFAULT_PREFIX = 'messages/';
export const DEFAULT_METRICS_NAMESPACE = 'Mailfetch';
/** Secrets Manager secrets the deployed function may read and write are named under this. */
export const DEFAULT_SECRET_NAME_PREFIX = 'mailfetch/';

/** Path of the Lambda entry (relative to the repository root), used by the CDK construct. */
export const FETCH_HANDLER_ENTRY = 'lambda/handlers/fetch-mailbox.ts';
export const FETCH_HANDLER_EXPORT = 'handler';
/** The deployment's registry seeding (a custom resource), bundled like the fetch handler. */
export const SEED_HANDLER_ENTRY = 'lambda/handlers/seed-registry.ts';
export const SEED_HANDLER_EXPORT = 'handler';
/** The seeding custom resource's property holding the mailboxes (a JSON string). */
export const SEED_MAILBOXES_PROPERTY = 'Mailboxes';
