/**
 * `MailFetcher`: the whole mail-ingestion worker as one construct. A bucket for raw messages,
 * a state table (UIDL state and the mailbox registry), the fetch function, the dispatch
 * (one schedule, a dispatcher function, the run queue; lib/run-dispatch.ts), a dead-letter
 * queue, alarms and a dashboard. No resource is created per mailbox.
 *
 *   Scheduler (1 schedule, every minute) --> dispatcher --> run queue --(max concurrency)--> fetch function (Node 22, arm64)
 *   registry seeding (1 custom resource): the mailboxes prop -> registry items in the state table
 *        |  undeliverable ticks, failed runs                    |  POP3 (TLS) -> mail server (per-host session cap)
 *        v                                                      |  GetSecretValue (the config's secrets only)
 *   dead-letter queue  <----------------------------------------+  PutObject   -> bucket/<prefix>
 *                                                               +  Get/Put/Query -> state table
 *                                                               +  PutEvents -> event bus ("Mail Stored") --> onMail rules
 *   bucket --(Object Created)--> EventBridge --> your rules / newMessageTarget
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Peer, Port, SecurityGroup, SubnetType, type IVpc } from 'aws-cdk-lib/aws-ec2';
import { Match, Rule, type IEventBus, type IRuleTarget } from 'aws-cdk-lib/aws-events';
import { Grant, ManagedPolicy, Role, ServicePrincipal, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, type Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { AttributeType, BillingMode, ProjectionType, Table } from 'aws-cdk-lib/aws-dynamodb';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  BucketGrants,
  ObjectOwnership,
  type CfnBucket,
  type IBucket,
  type LifecycleRule,
} from 'aws-cdk-lib/aws-s3';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { MailboxConfig } from '../lambda/config/mailbox-config';
import { ENV } from '../lambda/env';
import { formatDetailedMetricsMailboxes } from '../lambda/observability/detailed-metrics-mailboxes';
import {
  PARTITION_KEY,
  PENDING_DELETE_INDEX,
  PENDING_DELETE_PARTITION_KEY,
  PENDING_DELETE_SORT_KEY,
  SORT_KEY,
  TTL_ATTRIBUTE,
} from '../lambda/state/table-schema';
import { FixedEgressVpc } from './fixed-egress-vpc';
import { mailEventBus, mailRule, ruleEventBus, type MailEventBus, type OnMailOptions } from './mail-events';
import type { MailFilter } from './mail-filter';
import { nagArn } from './nag-arn';
import { handlerFunction } from './handler-function';
import { RegistrySeed } from './registry-seed';
import { MailFetcherAlarms } from './mail-fetcher-alarms';
import { MailboxCredentials } from './mailbox-credentials';
import { MailFetcherDashboard } from './mail-fetcher-dashboard';
import { RunDispatch } from './run-dispatch';
import type { MailFetcherProps, ResolvedMailFetcherProps } from './mail-fetcher-props';
import { resolveMailFetcherProps } from './props-validation';
import { collectMailboxSecrets, secretIdKind } from './secret-refs';

export type { MailFetcherProps } from './mail-fetcher-props';

/** Node.js 22: the runtime the bundle targets (`lib/bundling.ts`) and the tests run on. */
export const FETCH_RUNTIME = Runtime.NODEJS_22_X;

/** The state-table operations of `lambda/state/dynamodb-state-store.ts`, and nothing else. */
const STATE_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:Query',
] as const;
/** PutObject covers single PUTs and multipart create/part/complete; Abort cleans up a failed one. */
const MESSAGE_OBJECT_ACTIONS = ['s3:PutObject', 's3:AbortMultipartUpload'] as const;
/** Events: a later run re-sends an unpublished event from the stored object's first 64 KiB (a ranged GET). */
const EVENT_RESEND_OBJECT_ACTIONS = ['s3:GetObject'] as const;
/** SSE-KMS: a PUT needs GenerateDataKey; multipart uploads also Decrypt (to complete the parts). */
const MESSAGE_KEY_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt'] as const;
/** A failed invocation (bug, invalid event, timeout) goes to the dead-letter queue after these. */
const ASYNC_RETRY_ATTEMPTS = 2;
/** An async invocation older than this is stale: later scheduled runs have taken over. */
const ASYNC_MAX_EVENT_AGE = Duration.hours(1);
const DLQ_RETENTION = Duration.days(14);
/** POP3 itself (mailbox ports) plus HTTPS for AWS APIs and OAuth token endpoints. */
const HTTPS_PORT = 443;

export class MailFetcher extends Construct {
  /** Where raw messages are written, under `prefix`. */
  readonly bucket: IBucket;
  /** The bucket created by this construct; undefined when `bucket` was passed in. */
  readonly createdBucket?: Bucket;
  /**
   * The KMS key that encrypts the message objects (SSE-KMS): `encryptionKey`, else the key
   * `bucket` was imported with; undefined for SSE-S3.
   */
  readonly encryptionKey?: IKey;
  /** The key prefix of message objects. */
  readonly prefix: string;
  /** The `mailboxes` prop, validated and with every default applied, as deployed to the registry. */
  readonly mailboxes: readonly MailboxConfig[];
  /** UIDL state. */
  readonly table: Table;
  readonly function: LambdaFunction;
  readonly logGroup: LogGroup;
  /**
   * Runs that failed `RUN_MAX_RECEIVE_COUNT` times, dispatcher ticks that failed or could
   * not be delivered, and direct invocations that failed after Lambda's retries.
   */
  readonly deadLetterQueue: Queue;
  /** Puts the `mailboxes` prop into the registry at deploy time (absent without the prop). */
  readonly registrySeed?: RegistrySeed;
  /** The one schedule, the dispatcher and the run queue that run every registered mailbox. */
  readonly dispatch: RunDispatch;
  /** The `mailboxes` prop's Secrets Manager secrets, imported, by secret id (the function may use every secret under the prefix). */
  readonly secrets: ReadonlyMap<string, ISecret>;
  /** The credentials key (sealed values) and the Secrets Manager prefix grant; `grantSeal` for operator roles. */
  readonly credentials: MailboxCredentials;
  readonly alarms: MailFetcherAlarms;
  readonly dashboard?: MailFetcherDashboard;
  /** The function's VPC, when it runs in one. */
  readonly vpc?: IVpc;
  /** The VPC created for `fixedEgressIp`. */
  readonly egress?: FixedEgressVpc;
  /** The rule created for `newMessageTarget`. */
  readonly newMessageRule?: Rule;
  /** The bus that gets the `Mail Stored` events; undefined when `events.enabled` is false. */
  readonly eventBus?: IEventBus;

  constructor(scope: Construct, id: string, props: MailFetcherProps = {}) {
    super(scope, id);
    const p = resolveMailFetcherProps(props);
    this.prefix = p.prefix;
    this.mailboxes = p.mailboxes;

    if (p.bucket === undefined) {
      this.createdBucket = this.createBucket(p);
      this.bucket = this.createdBucket;
    } else {
      this.bucket = p.bucket;
    }
    this.encryptionKey = p.encryptionKey ?? this.bucket.encryptionKey;
    this.table = this.createTable(p);
    this.deadLetterQueue = this.createDeadLetterQueue();

    if (p.fixedEgressIp) this.egress = new FixedEgressVpc(this, 'Egress');
    this.vpc = p.vpc ?? this.egress?.vpc;
    this.logGroup = new LogGroup(this, 'LogGroup', { retention: p.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    const events = p.events.enabled ? mailEventBus(this, p.events.eventBus) : undefined;
    this.eventBus = events?.bus;
    this.function = this.createFunction(p, events);

    this.grantMessageWrites(this.function);
    this.eventBus?.grantPutEventsTo(this.function);
    this.grantStateAccess(this.function);
    this.credentials = this.createCredentials(this.function, p);
    this.secrets = this.importConfigSecrets(p);

    // An empty list still seeds: it is how the deployment's mailboxes are removed.
    if (props.mailboxes !== undefined) {
      this.registrySeed = new RegistrySeed(this, 'RegistrySeed', { table: this.table, mailboxes: p.mailboxes, runtime: FETCH_RUNTIME, logRetention: p.logRetention });
    }
    this.dispatch = new RunDispatch(this, 'Dispatch', {
      table: this.table,
      worker: this.function,
      deadLetterQueue: this.deadLetterQueue,
      workerTimeout: p.timeout,
      runtime: FETCH_RUNTIME,
      logRetention: p.logRetention,
      metricsNamespace: p.metricsNamespace,
      maxConcurrentInvocations: p.maxConcurrentInvocations,
      mailboxesPerMessage: p.mailboxesPerMessage,
      stalePeriods: p.missedRunPeriods,
      ...(p.scheduleTimeZone === undefined ? {} : { timeZone: p.scheduleTimeZone.timezoneName }),
    });
    // The first tick after a deploy should see the deployed mailboxes.
    if (this.registrySeed !== undefined) this.dispatch.schedule.node.addDependency(this.registrySeed.resource);
    this.function.addEnvironment(ENV.QUEUE_URL, this.dispatch.queue.queueUrl);

    if (p.newMessageTarget !== undefined) this.newMessageRule = this.onNewMessage('NewMessageRule', p.newMessageTarget);

    // Fleet-level: neither the alarms nor the dashboard grow with the number of mailboxes.
    this.alarms = new MailFetcherAlarms(this, 'Alarms', {
      fn: this.function,
      deadLetterQueue: this.deadLetterQueue,
      namespace: p.metricsNamespace,
      missedRunPeriods: p.missedRunPeriods,
      failedRunAlarmPercent: p.failedRunAlarmPercent,
      events: this.eventBus !== undefined,
      ...(p.alarmTopic === undefined ? {} : { topic: p.alarmTopic }),
    });
    if (p.dashboard) {
      this.dashboard = new MailFetcherDashboard(this, 'Dashboard', {
        fn: this.function,
        logGroup: this.logGroup,
        deadLetterQueue: this.deadLetterQueue,
        namespace: p.metricsNamespace,
        alarms: this.alarms,
        detailedMailboxes: p.detailedMetricsMailboxes.length > 0,
      });
    }
  }

  /**
   * Adds an EventBridge rule sending "Object Created" events of new message objects (this
   * bucket, under `prefix`) to `target`. The bucket must have EventBridge notifications on
   * (a bucket created here has).
   */
  onNewMessage(id: string, target: IRuleTarget): Rule {
    return new Rule(this, id, {
      description: `mailfetch: new raw messages under ${this.prefix}`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [this.bucket.bucketName] }, object: { key: Match.prefix(this.prefix) } },
      },
      targets: [target],
    });
  }

  /**
   * Adds an EventBridge rule on `eventBus` sending the `Mail Stored` events that match
   * `filter` to `target` (fields AND, the values of a field OR; `{}` matches all), e.g.
   * `fetcher.onMail('Invoices', { mailbox: 'billing', subjectPrefix: 'Invoice' }, new LambdaFunction(fn), { grantRead: fn })`.
   * @throws MailFilterError for a bad filter; MailFetcherPropsError when events are off
   */
  onMail(id: string, filter: MailFilter, target: IRuleTarget, options: OnMailOptions = {}): Rule {
    const bus = ruleEventBus(this, id, this.eventBus);
    return mailRule(this, id, {
      bus,
      bucket: this.bucket,
      prefix: this.prefix,
      ...(this.encryptionKey === undefined ? {} : { encryptionKey: this.encryptionKey }),
      filter,
      target,
      options,
    });
  }

  /** Lets `grantee` read the message objects (e.g. a downstream consumer), and decrypt them under SSE-KMS. */
  grantReadMessages(grantee: IGrantable): Grant {
    const grant = BucketGrants.fromBucket(this.bucket).read(grantee, `${this.prefix}*`);
    // The bucket grants its own key, if it knows one; an existing bucket's key given as a prop it does not.
    if (this.encryptionKey !== undefined && this.bucket.encryptionKey === undefined) this.encryptionKey.grantDecrypt(grantee);
    return grant;
  }

  // ---------------------------------------------------------------------------------------

  private createBucket(p: ResolvedMailFetcherProps): Bucket {
    const lifecycleRules: LifecycleRule[] = [
      { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: p.abortIncompleteMultipartUploadAfter },
    ];
    if (p.transitions !== undefined || p.expiration !== undefined) {
      lifecycleRules.push({
        id: 'messages',
        prefix: p.prefix,
        ...(p.transitions === undefined ? {} : { transitions: [...p.transitions] }),
        ...(p.expiration === undefined ? {} : { expiration: p.expiration }),
        // Expiring a versioned object only adds a delete marker: the message stays as a
        // noncurrent version unless that expires too (S3 then drops the lone marker).
        ...(p.expiration !== undefined && p.versioned ? { noncurrentVersionExpiration: p.expiration } : {}),
      });
    }
    const bucket = new Bucket(this, 'Bucket', {
      encryption: p.encryptionKey === undefined ? BucketEncryption.S3_MANAGED : BucketEncryption.KMS,
      ...(p.encryptionKey === undefined ? {} : { encryptionKey: p.encryptionKey, bucketKeyEnabled: true }),
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: p.versioned,
      lifecycleRules,
      removalPolicy: p.removalPolicy,
      ...(p.serverAccessLogsBucket === undefined
        ? {}
        : { serverAccessLogsBucket: p.serverAccessLogsBucket, serverAccessLogsPrefix: 'mailfetch-access-logs/' }),
    });
    // EventBridge notifications set on the resource itself: the `eventBridgeEnabled` prop
    // would add a custom-resource Lambda to a stack that needs none.
    (bucket.node.defaultChild as CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };
    if (p.serverAccessLogsBucket === undefined) {
      Validations.of(bucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'Server access logs are opt-in (prop serverAccessLogsBucket): the only writer is the fetch function, whose every PUT is logged with the run summary; CloudTrail data events are the account-wide alternative.',
      });
    }
    return bucket;
  }

  private createTable(p: ResolvedMailFetcherProps): Table {
    // Mirrors createTableInput() in lambda/state/table-schema.ts (a test compares them).
    const table = new Table(this, 'StateTable', {
      partitionKey: { name: PARTITION_KEY, type: AttributeType.STRING },
      sortKey: { name: SORT_KEY, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      deletionProtection: p.removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy: p.removalPolicy,
    });
    table.addGlobalSecondaryIndex({
      indexName: PENDING_DELETE_INDEX,
      partitionKey: { name: PENDING_DELETE_PARTITION_KEY, type: AttributeType.STRING },
      sortKey: { name: PENDING_DELETE_SORT_KEY, type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
    return table;
  }

  private createDeadLetterQueue(): Queue {
    const queue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: DLQ_RETENTION,
    });
    Validations.of(queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue (of the run queue, the dispatch schedule and the functions\' failed invocations).',
    });
    return queue;
  }

  private createFunction(p: ResolvedMailFetcherProps, events: MailEventBus | undefined): LambdaFunction {
    const role = new Role(this, 'FunctionRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'mailfetch fetch function: its log group, message PUTs under the prefix, the state table, the configured secrets',
    });
    // Instead of AWSLambdaBasicExecutionRole (logs:* on every log group): this one log group.
    this.logGroup.grantWrite(role);

    let securityGroup: SecurityGroup | undefined;
    if (this.vpc !== undefined) {
      securityGroup = this.createSecurityGroup(this.vpc, p.mailboxes);
      const vpcPolicy = ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole');
      role.addManagedPolicy(vpcPolicy);
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason:
          'Lambda needs the EC2 network-interface actions to attach to the VPC; they support no resource-level scoping, and this AWS-maintained policy grants exactly those.',
      });
    }

    const fn = handlerFunction(this, 'Function', 'fetch', {
      description: 'mailfetch: fetches new mail of the POP3 mailboxes of its event or run-queue message into S3',
      runtime: FETCH_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: p.memorySize,
      timeout: p.timeout,
      role,
      logGroup: this.logGroup,
      environment: {
        [ENV.BUCKET]: this.bucket.bucketName,
        [ENV.TABLE]: this.table.tableName,
        [ENV.PREFIX]: p.prefix,
        [ENV.SAFETY_MARGIN_MS]: String(p.safetyMargin.toMilliseconds()),
        [ENV.METRICS_NAMESPACE]: p.metricsNamespace,
        ...(p.detailedMetricsMailboxes.length === 0
          ? {}
          : { [ENV.DETAILED_METRICS_MAILBOXES]: formatDetailedMetricsMailboxes(p.detailedMetricsMailboxes) }),
        [ENV.HOST_SESSION_LIMIT]: String(p.hostSessionLimit),
        ...(p.hostSessionLimits === undefined ? {} : { [ENV.HOST_SESSION_LIMITS]: JSON.stringify(p.hostSessionLimits) }),
        ...(events === undefined ? {} : { [ENV.EVENT_BUS]: events.reference }),
      },
      retryAttempts: ASYNC_RETRY_ATTEMPTS,
      maxEventAge: ASYNC_MAX_EVENT_AGE,
      onFailure: new SqsDestination(this.deadLetterQueue),
      ...(p.reservedConcurrentExecutions === undefined ? {} : { reservedConcurrentExecutions: p.reservedConcurrentExecutions }),
      ...(this.vpc === undefined
        ? {}
        : {
            vpc: this.vpc,
            vpcSubnets: p.vpcSubnets ?? { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
            ...(securityGroup === undefined ? {} : { securityGroups: [securityGroup] }),
          }),
    });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to Node.js 22 on purpose: the bundle target and the tests run on it; moving to a newer runtime is a deliberate, tested change.',
    });
    return fn;
  }

  /** Egress only to the mailboxes' POP3 ports and HTTPS; no ingress. */
  private createSecurityGroup(vpc: IVpc, mailboxes: readonly MailboxConfig[]): SecurityGroup {
    const group = new SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'mailfetch fetch function: POP3 and HTTPS out, nothing in',
      allowAllOutbound: false,
    });
    const ports = new Set<number>([HTTPS_PORT, ...mailboxes.map((m) => m.port)]);
    for (const port of [...ports].sort((a, b) => a - b)) {
      group.addEgressRule(Peer.anyIpv4(), Port.tcp(port), port === HTTPS_PORT ? 'HTTPS: AWS APIs, OAuth token endpoints' : 'POP3');
    }
    return group;
  }

  /** Writes under the prefix; with events, also reads there (re-sends). The key's Decrypt covers those reads. */
  private grantMessageWrites(grantee: IGrantable): void {
    const objects = `${this.prefix}*`;
    const actions = [...MESSAGE_OBJECT_ACTIONS, ...(this.eventBus === undefined ? [] : EVENT_RESEND_OBJECT_ACTIONS)];
    BucketGrants.fromBucket(this.bucket).actionsOnObjectKeys(grantee, objects, ...actions);
    // On the key itself, not through the bucket: an existing bucket does not know its key.
    this.encryptionKey?.grant(grantee, ...MESSAGE_KEY_ACTIONS);
    this.acknowledgeOnFunctionPolicy(
      `Resource::${nagArn(this, this.bucket.bucketArn)}/${objects}`,
      `Writes (and, with events, the reads that re-send an unpublished event) are limited to the message prefix "${this.prefix}"; object keys are derived per message at run time, so the prefix is the narrowest resource.`,
    );
  }

  private grantStateAccess(grantee: IGrantable): void {
    // The table and the one index the worker queries: no `index/*`.
    Grant.addToPrincipal({
      grantee,
      actions: [...STATE_TABLE_ACTIONS],
      resourceArns: [this.table.tableArn, `${this.table.tableArn}/index/${PENDING_DELETE_INDEX}`],
    });
  }

  /**
   * Credentials by prefix, flat in mailbox count: the credentials key (sealed values) and
   * the secrets named under `secretNamePrefix`, whichever mailboxes exist now or later.
   */
  private createCredentials(fn: LambdaFunction, p: ResolvedMailFetcherProps): MailboxCredentials {
    const credentials = new MailboxCredentials(this, 'Credentials', {
      table: this.table,
      secretNamePrefix: p.secretNamePrefix,
      removalPolicy: p.removalPolicy,
      ...(p.credentialsKey === undefined ? {} : { key: p.credentialsKey }),
      ...(p.secretsEncryptionKey === undefined ? {} : { secretsEncryptionKey: p.secretsEncryptionKey }),
    });
    credentials.grantWorker(fn);
    this.acknowledgeOnFunctionPolicy(
      `Resource::${nagArn(this, credentials.secretArnPattern)}`,
      `Secrets are granted by name prefix ("${p.secretNamePrefix}"), not one by one: mailboxes added with the CLI must not need a deploy, and the policy must not grow with the fleet. Only GetSecretValue and PutSecretValue (rotated refresh tokens).`,
    );
    return credentials;
  }

  /** The configuration's Secrets Manager secrets, imported (the grant is the prefix's: no statement per secret). */
  private importConfigSecrets(p: ResolvedMailFetcherProps): ReadonlyMap<string, ISecret> {
    const { readSecretIds } = collectMailboxSecrets(p.mailboxes);
    return new Map(readSecretIds.map((secretId, index) => [secretId, this.importSecret(`Secret${index}`, secretId)]));
  }

  private importSecret(id: string, secretId: string): ISecret {
    const kind = secretIdKind(secretId);
    if (kind === 'completeArn') return Secret.fromSecretCompleteArn(this, id, secretId);
    if (kind === 'partialArn') return Secret.fromSecretPartialArn(this, id, secretId);
    return Secret.fromSecretNameV2(this, id, secretId);
  }

  /** Acknowledges one cdk-nag IAM5 finding on the function role's policy. */
  private acknowledgeOnFunctionPolicy(finding: string, reason: string): void {
    const role = this.node.tryFindChild('FunctionRole');
    if (role === undefined) return;
    Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
  }
}
