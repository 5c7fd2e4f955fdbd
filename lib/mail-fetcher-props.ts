/**
 * The `MailFetcher` construct's props, their defaults (applied once, in `applyDefaults`)
 * and the resolved shape the construct builds from.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import type { IEventBus, IRuleTarget } from 'aws-cdk-lib/aws-events';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket, Transition } from 'aws-cdk-lib/aws-s3';
import type { TimeZone } from 'aws-cdk-lib';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { MailboxConfig, MailboxInput } from '../lambda/config/mailbox-config';
import type { MailEventsProps } from './mail-events';
import { DEFAULT_METRICS_NAMESPACE, DEFAULT_PREFIX, DEFAULT_SECRET_NAME_PREFIX } from '../lambda/env';

export interface MailFetcherProps {
  /**
   * The mailboxes, as plain objects in the configuration file's shape, e.g.
   * `{ id: 'support', host: 'pop.example.org', username: 'support', password: { secretId: 'mailfetch/support' } }`
   * (or as `parseConfig` / `loadConfigFile` return them). They are validated and defaulted
   * here, with the messages the CLI gives for a configuration file; every problem is listed
   * in one `MailFetcherPropsError`. They are put into the mailbox registry at deploy time (one custom resource);
   * the dispatcher runs every enabled mailbox of the registry on its own `schedule`, with no
   * resource per mailbox. More mailboxes can be registered without a deploy
   * (`mailfetch mailboxes add`). Given, even empty, the list decides the deployment's
   * mailboxes: those it put in and the list no longer names are removed at the next deploy
   * (an empty list removes them all); mailboxes added with the CLI are left alone. Leaving
   * the prop out removes nothing.
   * Credentials must be sealed (`{ "sealed": ... }`) or Secrets Manager references named
   * under `secretNamePrefix` (`{ "secretId": ... }`).
   * @default none: an empty fleet, managed with the CLI
   */
  readonly mailboxes?: readonly MailboxInput[];

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
   * The KMS key of the message objects (SSE-KMS). With a new bucket: its default
   * encryption, with S3 Bucket Keys. With `bucket`: the key that existing bucket encrypts
   * with (`Key.fromKeyArn(...)`; its key policy must let this account's IAM policies grant
   * it, as the default key policy does). The function is granted `kms:GenerateDataKey` and
   * `kms:Decrypt` on it (a PUT needs the first, a multipart upload both), and
   * `grantReadMessages` grants `kms:Decrypt`.
   * @default SSE-S3 for a new bucket; for `bucket`, the key it was imported with (if any)
   */
  readonly encryptionKey?: IKey;
  /**
   * Keep object versions in the new bucket. With `expiration`, noncurrent versions (an
   * overwritten message, or an expired one's last version) are deleted `expiration` after
   * they became noncurrent. Not allowed with `bucket`.
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
   * Delete message objects (under `prefix`) this long after creation; with `versioned`, also
   * their noncurrent versions this long after they became noncurrent. Not allowed with `bucket`.
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
   * `Mail Stored` events: one per newly stored message, with the routing headers decoded
   * (from, to, subject, sizes...), on `eventBus`; `onMail(id, filter, target)` adds rules
   * for them. `{ enabled: false }` turns them off (no PutEvents grant, no S3 reads).
   * @default on, to the account's default bus
   */
  readonly events?: MailEventsProps;
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
   * Reserved concurrency of the fetch function (at least 2: the run queue's event source
   * mapping needs 2). Guarantees the worker that much of the account's concurrency; the
   * run queue uses at most `maxConcurrentInvocations` of it.
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

  // ---- Dispatch ---------------------------------------------------------------------

  /**
   * The global cap: worker invocations the run queue starts at once (the event source
   * mapping's `maximumConcurrency`, 2 to 1000). Each invocation runs up to 4 of its
   * message's mailboxes at once, so at most 4 × this many POP3 sessions are open. When the
   * fleet needs more, runs wait in the queue: late, never dropped (`LateMailboxes`,
   * `DispatchLagSeconds`). At most `reservedConcurrentExecutions` when that is set.
   * @default 10, or `reservedConcurrentExecutions` when that is lower (at least 2)
   */
  readonly maxConcurrentInvocations?: number;
  /**
   * Concurrent POP3 sessions per mail server host (providers rate-limit and lock mailboxes
   * that see too many). Enforced across all invocations with leases in the state table.
   * A host's own setting in the table (`#HOST#<host>`, `#CONFIG`, `maxSessions`; see
   * docs/registry.md) wins over this and `hostSessionLimits`.
   * @default 10
   */
  readonly hostSessionLimit?: number;
  /**
   * Per-host caps that differ from `hostSessionLimit`, by host name (case-insensitive),
   * e.g. `{ 'pop.gmail.com': 15, 'pop.small-isp.example': 2 }`.
   * @default none (every host gets `hostSessionLimit`)
   */
  readonly hostSessionLimits?: Readonly<Record<string, number>>;
  /**
   * Mailboxes packed into one queue message, run by one invocation (1 to 50). Most runs
   * find nothing new and wait on the network, so sharing an invocation cuts Lambda cost,
   * and each of its 4 lanes takes one host slot for all its runs on a host (docs/cost.md);
   * a larger value makes slow mailboxes delay more others.
   * @default 40
   */
  readonly mailboxesPerMessage?: number;
  /**
   * Time zone of `cron(...)` schedules (the dispatcher evaluates them).
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
   * A mailbox is stale when it had no successful run for this many of its schedule periods.
   * The dispatcher reports how many are (metric `StaleMailboxes`, no dimensions), and the
   * `StaleMailboxes` alarm fires at one or more.
   * @default 3
   */
  readonly missedRunPeriods?: number;
  /**
   * The period assumed, for `missedRunPeriods`, of mailboxes scheduled with `cron(...)`
   * (their period is not fixed). A multiple of 1 minute.
   * @default Duration.hours(1)
   */
  readonly cronAlarmPeriod?: Duration;
  /**
   * The `FailedRuns` alarm fires when at least this percentage of the fleet's runs failed
   * (status error) in each of 3 consecutive 5-minute periods. Greater than 0, at most 100.
   * @default 10
   */
  readonly failedRunAlarmPercent?: number;
  /**
   * Mailbox ids whose metrics also get the `Mailbox` dimension (at most 25), e.g. the few
   * that matter most. Every other mailbox counts in the fleet metrics only: CloudWatch
   * bills each metric name + dimension combination (USD 0.30 a month), about a dozen per
   * listed mailbox. Per-mailbox health is in the registry (`mailfetch mailboxes status`)
   * and the dashboard's worst-mailboxes table either way. Ids need not be in `mailboxes`
   * (mailboxes added with the CLI count too). Passed to the worker as
   * `MAILFETCH_DETAILED_METRICS_MAILBOXES`.
   * @default none: fleet metrics only
   */
  readonly detailedMetricsMailboxes?: readonly string[];
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
  /** The global cap on concurrent worker invocations fed by the run queue. */
  maxConcurrentInvocations: 10,
  /** SQS event source mappings accept a maximumConcurrency from 2. */
  minConcurrentInvocations: 2,
  hostSessionLimit: 10,
  mailboxesPerMessage: 40,
  missedRunPeriods: 3,
  cronAlarmPeriod: Duration.hours(1),
  failedRunAlarmPercent: 10,
  detailedMetricsMailboxes: [] as readonly string[],
  dashboard: true,
  events: { enabled: true },
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
  | 'hostSessionLimits'
  | 'scheduleTimeZone'
  | 'alarmTopic';

/** `events` with its default applied; `eventBus` stays optional (the default bus is imported by the construct). */
export interface ResolvedMailEventsProps {
  readonly enabled: boolean;
  readonly eventBus?: IEventBus;
}

/** Props with every default applied and the mailboxes validated; what the construct and the validation read. */
export type ResolvedMailFetcherProps = Omit<Required<MailFetcherProps>, PropWithoutDefault | 'mailboxes' | 'events'> &
  Pick<MailFetcherProps, PropWithoutDefault> & { readonly mailboxes: readonly MailboxConfig[]; readonly events: ResolvedMailEventsProps };

/**
 * Applies the defaults, once.
 * @param mailboxes the `mailboxes` prop, validated and defaulted (`parseMailboxEntries`)
 */
export function applyDefaults(props: MailFetcherProps, mailboxes: readonly MailboxConfig[]): ResolvedMailFetcherProps {
  const d = MAIL_FETCHER_DEFAULTS;
  const timeout = props.timeout ?? d.timeout;
  return {
    ...props,
    mailboxes,
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
    maxConcurrentInvocations: props.maxConcurrentInvocations ?? defaultConcurrentInvocations(props.reservedConcurrentExecutions),
    hostSessionLimit: props.hostSessionLimit ?? d.hostSessionLimit,
    mailboxesPerMessage: props.mailboxesPerMessage ?? d.mailboxesPerMessage,
    missedRunPeriods: props.missedRunPeriods ?? d.missedRunPeriods,
    cronAlarmPeriod: props.cronAlarmPeriod ?? d.cronAlarmPeriod,
    failedRunAlarmPercent: props.failedRunAlarmPercent ?? d.failedRunAlarmPercent,
    detailedMetricsMailboxes: props.detailedMetricsMailboxes ?? d.detailedMetricsMailboxes,
    dashboard: props.dashboard ?? d.dashboard,
    events: { ...props.events, enabled: props.events?.enabled ?? d.events.enabled },
    secretNamePrefix: props.secretNamePrefix ?? d.secretNamePrefix,
  };
}

/** 10, or the reserved concurrency when lower, but never below the mapping's minimum of 2. */
function defaultConcurrentInvocations(reserved: number | undefined): number {
  const d = MAIL_FETCHER_DEFAULTS;
  if (reserved === undefined) return d.maxConcurrentInvocations;
  return Math.max(d.minConcurrentInvocations, Math.min(d.maxConcurrentInvocations, reserved));
}

/** 10% of the timeout, clamped to [10 s, 60 s], in whole seconds. */
function defaultSafetyMargin(timeout: Duration): Duration {
  const d = MAIL_FETCHER_DEFAULTS;
  const tenth = Math.floor(timeout.toSeconds() / 10);
  return Duration.seconds(Math.min(d.maxSafetyMargin.toSeconds(), Math.max(d.minSafetyMargin.toSeconds(), tenth)));
}
