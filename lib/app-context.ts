/**
 * The CDK context the app reads (cdk.json `context`, overridden with `-c key=value`), in one
 * typed place: what a real account needs without writing TypeScript. `-c` values arrive as
 * strings, cdk.json values as JSON.
 */
import { Duration, type App } from 'aws-cdk-lib';
import { ConfigError } from '../lambda/config/config-error';
import { ContextReader } from './context-reader';
import type { MailfetchStackProps } from './mailfetch-stack';

export const CONTEXT_KEYS = {
  /** Path of the mailbox configuration file (relative to the working directory). */
  CONFIG: 'config',
  STACK_NAME: 'stackName',
  ALARM_EMAIL: 'alarmEmail',
  FIXED_EGRESS_IP: 'fixedEgressIp',
  /** Function memory, MiB. */
  MEMORY_SIZE: 'memorySize',
  /** Function timeout, seconds. */
  TIMEOUT_SECONDS: 'timeoutSeconds',
  /** ARN of the customer-managed KMS key of the mailbox secrets. */
  SECRETS_KEY_ARN: 'secretsKeyArn',
  /** Name of an existing bucket for the messages (instead of a new one). */
  BUCKET_NAME: 'bucketName',
  /** ARN of the KMS key of the messages: the existing bucket's, or the new bucket's SSE-KMS key. */
  BUCKET_KEY_ARN: 'bucketKeyArn',
  /** Mailbox ids whose metrics get the Mailbox dimension. */
  DETAILED_METRICS_MAILBOXES: 'detailedMetricsMailboxes',
} as const;

export const DEFAULT_STACK_NAME = 'Mailfetch';

const STACK_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+$/;
/** A key ARN, not an alias: IAM grants on an alias ARN do not cover the key. */
const KMS_KEY_ARN_PATTERN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const KMS_KEY_ARN_HINT = 'a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>; not an alias)';
/** S3's general-purpose bucket naming rules (length, characters, ends). */
const BUCKET_NAME_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export interface AppContext {
  readonly configPath: string;
  readonly stackName: string;
  readonly alarmEmail?: string;
  readonly fixedEgressIp: boolean;
  readonly memorySize?: number;
  readonly timeoutSeconds?: number;
  readonly secretsKeyArn?: string;
  readonly bucketName?: string;
  readonly bucketKeyArn?: string;
  readonly detailedMetricsMailboxes?: readonly string[];
}

/** @throws ConfigError listing every bad context value */
export function readAppContext(app: App): AppContext {
  const read = new ContextReader(app);
  const configPath = read.raw(CONTEXT_KEYS.CONFIG);
  if (typeof configPath !== 'string' || configPath === '') {
    read.problems.push(`context ${CONTEXT_KEYS.CONFIG}: the configuration file path is missing (set it in cdk.json or pass -c config=path)`);
  }
  const stackName = read.string(CONTEXT_KEYS.STACK_NAME, STACK_NAME_PATTERN, 'a name that starts with a letter and holds only letters, digits and "-" (at most 128)');
  const context: AppContext = {
    configPath: configPath as string,
    stackName: stackName ?? DEFAULT_STACK_NAME,
    ...defined('alarmEmail', read.string(CONTEXT_KEYS.ALARM_EMAIL, EMAIL_PATTERN, 'an e-mail address')),
    fixedEgressIp: read.boolean(CONTEXT_KEYS.FIXED_EGRESS_IP, false),
    ...defined('memorySize', read.integer(CONTEXT_KEYS.MEMORY_SIZE, 'a whole number of MiB')),
    ...defined('timeoutSeconds', read.integer(CONTEXT_KEYS.TIMEOUT_SECONDS, 'a whole number of seconds')),
    ...defined('secretsKeyArn', read.string(CONTEXT_KEYS.SECRETS_KEY_ARN, KMS_KEY_ARN_PATTERN, KMS_KEY_ARN_HINT)),
    ...defined('bucketName', read.string(CONTEXT_KEYS.BUCKET_NAME, BUCKET_NAME_PATTERN, 'an S3 bucket name')),
    ...defined('bucketKeyArn', read.string(CONTEXT_KEYS.BUCKET_KEY_ARN, KMS_KEY_ARN_PATTERN, KMS_KEY_ARN_HINT)),
    ...defined('detailedMetricsMailboxes', read.list(CONTEXT_KEYS.DETAILED_METRICS_MAILBOXES)),
  };
  if (read.problems.length > 0) throw new ConfigError(read.problems, { source: 'CDK context' });
  return context;
}

/** The stack props the context sets (all but the configuration and the description). */
export function stackPropsFromContext(context: AppContext): Omit<MailfetchStackProps, 'config'> {
  return {
    ...defined('alarmEmail', context.alarmEmail),
    ...defined('bucketName', context.bucketName),
    ...defined('bucketKeyArn', context.bucketKeyArn),
    ...defined('secretsKeyArn', context.secretsKeyArn),
    fetcher: {
      fixedEgressIp: context.fixedEgressIp,
      ...defined('memorySize', context.memorySize),
      ...defined('timeout', context.timeoutSeconds === undefined ? undefined : Duration.seconds(context.timeoutSeconds)),
      ...defined('detailedMetricsMailboxes', context.detailedMetricsMailboxes),
    },
  };
}

/** `{ [name]: value }`, or nothing for undefined (exactOptionalPropertyTypes). */
function defined<K extends string, V>(name: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: V };
}
