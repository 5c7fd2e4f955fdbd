/**
 * The `MailFetcher` construct's props, their defaults (applied once, in `applyDefaults`)
 * and the resolved shape the construct builds from.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import type { IRuleTarget } from 'aws-cdk-lib/aws-events';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket, Transition } from 'aws-cdk-lib/aws-s3';
import type { TimeZone } from 'aws-cdk-lib';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { MailboxConfig } from '../lambda/config/mailbox-config';
import { DEFAULT_METRICS_NAMESPACE, DEFAULT_PREFIX, DEFAULT_SECRET_NAME_PREFIX } from '../lambda/env';

export interface MailFetcherProps {
  /**
   * The mailboxes, as returned by `parseConfig` / `loadConfigFile` (validated, defaults
   * applied). They are put into the mailbox registry at deploy time (one custom resource),
   * and each gets its own schedule whose input is the id-only worker event. More mailboxes
   * can be registered without a deploy (`mailfetch mailboxes add`).
   * Credentials must be sealed (`{ "sealed": ... }`) or Secrets Manager references named
   * under `secretNamePrefix` (`{ "secretId": ... }`).
   * @default none: an empty fleet, managed with the CLI
   */
  readonly mailboxes?: readonly MailboxConfig[];

  // ---- Storage ----------------------------------------------------------------------

  /**
   * An existing bucket for the raw messages. Its encryption, versioning, lifecycle and
   * EventBridge notifications are its owner's business: enable "Send notifications to
   * Amazon EventBridge" on it for `newMessageTarget` and downstream rules to fire.
   * @default a new bucket: SSE-S3 (or `encryptionKey`), public access blocked, TLS enforced,
   *   EventBridge notifications on, incomplete multipart uploads aborted
   */
  readonly bucket?: IBucket;
  /**
   * KMS key for SSE-KMS on the new bucket (the function is granted encrypt on it).
   * Not allowed with `bucket`.
   * @default SSE-S3 (S3-managed keys)
   */
  readonly encryptionKey?: IKey;
  /**
   * Keep object versions in the new bucket. Not allowed with `bucket`.
   * @default false (message keys are deterministic; a re-fetch rewrites the same bytes)
   */
  readonly versioned?: boolean;
  /**
   * Key prefix of the message objects: non-empty, ends with `/`, no leading `/`. The
   * function may write under it and nowhere else.
   * @default 'messages/'
   */
  readonly prefix?: string;
  /**
   * Storage-class transitions for message objects (under `prefix`). Not allowed with `bucket`.
   * @default none
   */
  readonly transitions?: readonly Transition[];
  /**
   * Delete message objects (under `prefix`) this long after creation. Not allowed with `bucket`.
   * @default never
   */
  readonly expiration?: Duration;
  /**
   * Abort incomplete multipart uploads (a run that died mid-message) after this many days.
   * Not allowed with `bucket`.
   * @default Duration.days(1)
   */
  readonly abortIncompleteMultipartUploadAfter?: Duration;
  /**
   * Bucket for S3 server access logs of the new bucket. Not allowed with `bucket`.
   * @default no server access logs (CloudTrail data events are the alternative)
   */
  readonly serverAccessLogsBucket?: IBucket;
  /**
   * Adds an EventBridge rule that sends every new message object ("Object Created" under
   * `prefix`) to this target, e.g. `new SqsQueue(queue)` or `new LambdaFunction(fn)`.
   * @default no rule (subscribe your own rules to the bucket's events)
   */
  readonly newMessageTarget?: IRuleTarget;
  /**
   * What happens to the new bucket and the state table when the stack is deleted. With
   * `RETAIN` the table also has deletion protection on. `DESTROY` fails on a non-empty bucket.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  // ---- Function ---------------------------------------------------------------------

  /**
   * Memory of the fetch function, in MiB (128 to 10240). CPU share grows with it, which
   * speeds up TLS.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Timeout of the fetch function: 30 seconds to 15 minutes. The worker aborts its POP3
   * session `safetyMargin` before it (and starts no new message in the half margin before that).
   * @default Duration.minutes(5)
   */
  readonly timeout?: Duration;
  /**
   * Time kept free at the end of each invocation for the run's own ending (summary, lease
   * release, upload aborts): the POP3 session is aborted when it begins, whatever the
   * server does. Passed to the worker as `MAILFETCH_SAFETY_MARGIN_MS`. Less than `timeout`.
   * @default 10% of `timeout`, at least 10 seconds and at most 1 minute
   */
  readonly safetyMargin?: Duration;
  /**
   * Retention of the function's log group.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Reserved concurrency of the fetch function (at least 1). Caps the POP3 connections open
   * at once across all mailboxes; throttled scheduled invocations are retried by Lambda.
   * @default none (the account's unreserved pool)
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * CloudWatch namespace of the worker's metrics (alarms and dashboard read it).
   * @default 'Mailfetch'
   */
  readonly metricsNamespace?: string;
  /**
   * Customer-managed KMS key that encrypts the mailbox secrets. The function is granted
   * decrypt (and encrypt, for refresh tokens written back) through Secrets Manager only.
   * @default the secrets use the AWS-managed `aws/secretsmanager` key (no grant needed)
   */
  readonly secretsEncryptionKey?: IKey;
  /**
   * Secrets Manager secrets the function may read (and write rotated refresh tokens back
   * to) are those named `<secretNamePrefix>*`: one IAM statement, whatever the number of
   * mailboxes, and mailboxes added later with the CLI need no deploy. A `secretId` of the
   * `mailboxes` prop outside the prefix is refused. Letters, digits and `/_+=.@-`, at most 256.
   * @default 'mailfetch/'
   */
  readonly secretNamePrefix?: string;
  /**
   * KMS key that encrypts the data keys of credentials sealed in the registry (`{ "sealed": ... }`,
   * `mailfetch mailboxes add --password-stdin`). The function may only decrypt, and only
   * data keys of its own state table. Exported as the stack output CredentialsKeyArn.
   * @default a new key with automatic rotation, removed with `removalPolicy` (USD 1/month)
   */
  readonly credentialsKey?: IKey;

  // ---- Network ----------------------------------------------------------------------

  /**
   * Run the function in this VPC (for mail servers that allow-list source addresses: give
   * it private subnets behind NAT gateways with Elastic IPs). Not allowed with `fixedEgressIp`.
   * @default not in a VPC, unless `fixedEgressIp`
   */
  readonly vpc?: IVpc;
  /**
   * Subnets of `vpc` for the function. Only with `vpc`.
   * @default private subnets with egress
   */
  readonly vpcSubnets?: SubnetSelection;
  /**
   * Create a VPC whose only way out is one NAT gateway with an Elastic IP, so every POP3
   * connection comes from one fixed address (exported as a stack output). S3 and DynamoDB
   * are reached through gateway endpoints. Costs a NAT gateway (~USD 33/month plus data).
   * @default false
   */
  readonly fixedEgressIp?: boolean;

  // ---- Schedules --------------------------------------------------------------------

  /**
   * Let EventBridge Scheduler start each run up to this long after its time (spreads load).
   * 1 to 1440 minutes.
   * @default no flexible time window
   */
  readonly flexibleTimeWindow?: Duration;
  /**
   * How often Scheduler retries an invocation it could not deliver (0 to 185) before the
   * event goes to the dead-letter queue.
   * @default 3
   */
  readonly scheduleRetryAttempts?: number;
  /**
   * How long Scheduler keeps trying to deliver one invocation (1 minute to 24 hours).
   * @default the mailbox's schedule period (the next run supersedes it), between 1 minute
   *   and 24 hours; 1 hour for cron schedules
   */
  readonly scheduleMaxEventAge?: Duration;
  /**
   * Time zone of `cron(...)` schedules.
   * @default UTC
   */
  readonly scheduleTimeZone?: TimeZone;

  // ---- Operations -------------------------------------------------------------------

  /**
   * Topic that alarms notify (on ALARM and on OK).
   * @default alarms without actions
   */
  readonly alarmTopic?: ITopic;
  /**
   * A mailbox alarms when it had no successful run for this many schedule periods.
   * @default 3
   */
  readonly missedRunPeriods?: number;
  /**
   * The period used for the missed-run alarm of mailboxes scheduled with `cron(...)` (their
   * period is not fixed). A multiple of 1 minute.
   * @default Duration.hours(1)
   */
  readonly cronAlarmPeriod?: Duration;
  /**
   * Create the CloudWatch dashboard.
   * @default true
   */
  readonly dashboard?: boolean;
}

/** Defaults, in one place. */
export const MAIL_FETCHER_DEFAULTS = {
  prefix: DEFAULT_PREFIX,
  versioned: false,
  abortIncompleteMultipartUploadAfter: Duration.days(1),
  removalPolicy: RemovalPolicy.RETAIN,
  memorySize: 512,
  timeout: Duration.minutes(5),
  logRetention: RetentionDays.ONE_MONTH,
  metricsNamespace: DEFAULT_METRICS_NAMESPACE,
  fixedEgressIp: false,
  scheduleRetryAttempts: 3,
  /** For cron schedules, whose period is not fixed. */
  cronMaxEventAge: Duration.hours(1),
  missedRunPeriods: 3,
  cronAlarmPeriod: Duration.hours(1),
  dashboard: true,
  secretNamePrefix: DEFAULT_SECRET_NAME_PREFIX,
  /** The default safety margin: 10% of the timeout within these bounds. */
  minSafetyMargin: Duration.seconds(10),
  maxSafetyMargin: Duration.minutes(1),
} as const;

/** Props without a default: they stay optional after defaults are applied. */
type PropWithoutDefault =
  | 'bucket'
  | 'encryptionKey'
  | 'transitions'
  | 'expiration'
  | 'serverAccessLogsBucket'
  | 'newMessageTarget'
  | 'reservedConcurrentExecutions'
  | 'secretsEncryptionKey'
  | 'credentialsKey'
  | 'vpc'
  | 'vpcSubnets'
  | 'flexibleTimeWindow'
  | 'scheduleMaxEventAge'
  | 'scheduleTimeZone'
  | 'alarmTopic';

/** Props with every default applied; what the construct and the validation read. */
export type ResolvedMailFetcherProps = Omit<Required<MailFetcherProps>, PropWithoutDefault> & Pick<MailFetcherProps, PropWithoutDefault>;

/** Applies the defaults, once. */
export function applyDefaults(props: MailFetcherProps): ResolvedMailFetcherProps {
  const d = MAIL_FETCHER_DEFAULTS;
  const timeout = props.timeout ?? d.timeout;
  return {
    ...props,
    mailboxes: props.mailboxes ?? [],
    prefix: props.prefix ?? d.prefix,
    versioned: props.versioned ?? d.versioned,
    abortIncompleteMultipartUploadAfter: props.abortIncompleteMultipartUploadAfter ?? d.abortIncompleteMultipartUploadAfter,
    removalPolicy: props.removalPolicy ?? d.removalPolicy,
    memorySize: props.memorySize ?? d.memorySize,
    timeout,
    safetyMargin: props.safetyMargin ?? defaultSafetyMargin(timeout),
    logRetention: props.logRetention ?? d.logRetention,
    metricsNamespace: props.metricsNamespace ?? d.metricsNamespace,
    fixedEgressIp: props.fixedEgressIp ?? d.fixedEgressIp,
    scheduleRetryAttempts: props.scheduleRetryAttempts ?? d.scheduleRetryAttempts,
    missedRunPeriods: props.missedRunPeriods ?? d.missedRunPeriods,
    cronAlarmPeriod: props.cronAlarmPeriod ?? d.cronAlarmPeriod,
    dashboard: props.dashboard ?? d.dashboard,
    secretNamePrefix: props.secretNamePrefix ?? d.secretNamePrefix,
  };
}

/** 10% of the timeout, clamped to [10 s, 60 s], in whole seconds. */
function defaultSafetyMargin(timeout: Duration): Duration {
  const d = MAIL_FETCHER_DEFAULTS;
  const tenth = Math.floor(timeout.toSeconds() / 10);
  return Duration.seconds(Math.min(d.maxSafetyMargin.toSeconds(), Math.max(d.minSafetyMargin.toSeconds(), tenth)));
}
