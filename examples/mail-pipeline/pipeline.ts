/**
 * `MailPipeline`: parses the mail of one mailbox as it arrives. A `Mail Stored` rule (the
 * fetcher's `onMail`) invokes a function (handler.ts) that writes each message's
 * attachments and a JSON summary to `<outputPrefix><mailbox>/<eventId>/` in the fetcher's
 * bucket. The function may read that mailbox's messages and write that folder, nothing else.
 *
 *   fetch function --PutEvents--> bus --(rule: source mailfetch, Mail Stored, mailbox)--> pipeline function
 *                                                                                           |  GetObject messages/<mailbox>/*
 *   failed deliveries and invocations (after retries) --> dead-letter queue                 +  PutObject parsed/<mailbox>/*
 */
import { fileURLToPath } from 'node:url';
import { Duration, Names, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction as LambdaTarget } from 'aws-cdk-lib/aws-events-targets';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BucketGrants } from 'aws-cdk-lib/aws-s3';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { validId } from '../../lambda/config/parse-mailbox';
import { DEPS_LOCK_FILE_PATH, PROJECT_ROOT, fetchBundlingOptions } from '../../lib/bundling';
import { FETCH_RUNTIME, type MailFetcher } from '../../lib/mail-fetcher';
import { nagArn } from '../../lib/nag-arn';
import { PIPELINE_ENV } from './env';
import { DEFAULT_OUTPUT_PREFIX, outputPrefixProblems } from './output-layout';

/** Enough for a MAX_MESSAGE_OCTETS (50 MiB) message, its decoded attachments and the parser's copies. */
const MEMORY_MIB = 1024;
/** Reading, parsing and writing a 50 MiB message takes seconds; this leaves room for slow S3. */
const TIMEOUT = Duration.minutes(2);
/** Lambda retries a failed invocation this often before the dead-letter queue (a stale object fails every time). */
const INVOCATION_RETRY_ATTEMPTS = 2;
/** EventBridge retries a delivery that Lambda refused (throttling) this often within TARGET_MAX_EVENT_AGE. */
const TARGET_RETRY_ATTEMPTS = 8;
const TARGET_MAX_EVENT_AGE = Duration.hours(6);
const DLQ_RETENTION = Duration.days(14);

export interface MailPipelineProps {
  /** The fetcher whose `Mail Stored` events are parsed; the output goes to its bucket. */
  readonly fetcher: MailFetcher;
  /** The mailbox whose mail is parsed (an id of the fetcher's registry). */
  readonly mailbox: string;
  /**
   * Key prefix of the output, ending in `/`; must not overlap the fetcher's message prefix.
   * @default 'parsed/'
   */
  readonly outputPrefix?: string;
  /**
   * @default one month
   */
  readonly logRetention?: RetentionDays;
}

/** Every problem of the props, at once. */
export class MailPipelinePropsError extends Error {
  override readonly name = 'MailPipelinePropsError';
  readonly code = 'INVALID_MAIL_PIPELINE_PROPS';

  constructor(readonly problems: readonly string[]) {
    super(`Invalid MailPipeline props:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export class MailPipeline extends Construct {
  readonly function: LambdaFunction;
  readonly rule: Rule;
  /** Events EventBridge could not deliver and invocations that failed after Lambda's retries. */
  readonly deadLetterQueue: Queue;
  readonly logGroup: LogGroup;
  /** Where this mailbox's output goes: `<outputPrefix><mailbox>/`. */
  readonly outputFolder: string;

  constructor(scope: Construct, id: string, props: MailPipelineProps) {
    super(scope, id);
    const prefix = props.outputPrefix ?? DEFAULT_OUTPUT_PREFIX;
    validate(props, prefix);
    this.outputFolder = `${prefix}${props.mailbox}/`;
    this.logGroup = new LogGroup(this, 'LogGroup', { retention: props.logRetention ?? RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    this.deadLetterQueue = this.createDeadLetterQueue();
    this.function = this.createFunction(props, prefix);
    this.grantOutputWrites(props.fetcher);
    const target = new LambdaTarget(this.function, { retryAttempts: TARGET_RETRY_ATTEMPTS, maxEventAge: TARGET_MAX_EVENT_AGE, deadLetterQueue: this.deadLetterQueue });
    this.rule = props.fetcher.onMail(`MailPipeline${Names.uniqueId(this)}`, { mailbox: props.mailbox }, target, {
      grantRead: this.function,
      description: `mailfetch example: parse the mail of ${props.mailbox} into ${this.outputFolder}`,
    });
  }

  private createFunction(props: MailPipelineProps, prefix: string): LambdaFunction {
    const role = new Role(this, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com'), description: `mailfetch example pipeline of ${props.mailbox}` });
    // Instead of AWSLambdaBasicExecutionRole (logs on every log group): this one.
    this.logGroup.grantWrite(role);
    const fn = new NodejsFunction(this, 'Function', {
      description: `mailfetch example: parses the mail of ${props.mailbox} (attachments and a JSON summary)`,
      entry: fileURLToPath(new URL('./handler.ts', import.meta.url)),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: DEPS_LOCK_FILE_PATH,
      bundling: fetchBundlingOptions(),
      runtime: FETCH_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: MEMORY_MIB,
      timeout: TIMEOUT,
      role,
      logGroup: this.logGroup,
      environment: { [PIPELINE_ENV.OUTPUT_BUCKET]: props.fetcher.bucket.bucketName, [PIPELINE_ENV.OUTPUT_PREFIX]: prefix },
      retryAttempts: INVOCATION_RETRY_ATTEMPTS,
      onFailure: new SqsDestination(this.deadLetterQueue),
    });
    Validations.of(fn).acknowledge({ id: 'AwsSolutions-L1', reason: "The fetch function's runtime (Node.js 22), which the repository's bundle options target and its tests run on." });
    return fn;
  }

  /** PutObject on this mailbox's output folder only (and the bucket key under SSE-KMS). */
  private grantOutputWrites(fetcher: MailFetcher): void {
    BucketGrants.fromBucket(fetcher.bucket).actionsOnObjectKeys(this.function, `${this.outputFolder}*`, 's3:PutObject');
    fetcher.encryptionKey?.grant(this.function, 'kms:GenerateDataKey');
    // On the role: the grant lands in its default policy.
    Validations.of(this.function.role!).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagArn(this, fetcher.bucket.bucketArn)}/${this.outputFolder}*]`,
      reason: 'Output keys are derived per message (event id, attachment names) at run time; the mailbox output folder is the narrowest resource.',
    });
  }

  private createDeadLetterQueue(): Queue {
    const queue = new Queue(this, 'DeadLetterQueue', { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: DLQ_RETENTION });
    Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter queue of the pipeline.' });
    return queue;
  }
}

function validate(props: MailPipelineProps, prefix: string): void {
  const problems = outputPrefixProblems(prefix).map((p) => `outputPrefix: ${p}`);
  if (validId(props.mailbox) === undefined) problems.push(`mailbox: ${JSON.stringify(props.mailbox)} is not a mailbox id (letters, digits, ".", "_", "-"; at most 64)`);
  const messages = props.fetcher.prefix;
  if (prefix.startsWith(messages) || messages.startsWith(prefix)) {
    problems.push(`outputPrefix: ${JSON.stringify(prefix)} overlaps the fetcher's message prefix ${JSON.stringify(messages)}; the output must live apart from the messages`);
  }
  if (problems.length > 0) throw new MailPipelinePropsError(problems);
}
