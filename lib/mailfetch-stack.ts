/**
 * The mailfetch stack: a `MailFetcher` for the mailboxes of one configuration file, an
 * optional e-mail alarm topic, and outputs for the things users look up after deploying.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import type { AppConfig } from '../lambda/config/mailbox-config';
import { MailFetcher } from './mail-fetcher';
import type { MailFetcherProps } from './mail-fetcher-props';

export interface MailfetchStackProps extends StackProps {
  /** The validated configuration (`loadConfigFile`): its mailboxes go into the registry. */
  readonly config: AppConfig;
  /**
   * Send alarm notifications to this address (creates an encrypted SNS topic; confirm the
   * subscription e-mail after deploying).
   * @default no topic, alarms without actions
   */
  readonly alarmEmail?: string;
  /**
   * Write the messages into this existing bucket (by name) instead of a new one.
   * @default a new bucket
   */
  readonly bucketName?: string;
  /**
   * ARN of the KMS key of the messages (the MailFetcher's `encryptionKey`): the key
   * `bucketName` encrypts with, or the SSE-KMS key of the new bucket. The function is
   * granted `kms:GenerateDataKey` and `kms:Decrypt` on it.
   * @default none: SSE-S3 for a new bucket
   */
  readonly bucketKeyArn?: string;
  /**
   * ARN of the customer-managed KMS key of the mailbox secrets (`secretsEncryptionKey`).
   * @default the AWS-managed `aws/secretsmanager` key
   */
  readonly secretsKeyArn?: string;
  /**
   * Everything else the `MailFetcher` takes.
   * @default the MailFetcher defaults
   */
  readonly fetcher?: Omit<MailFetcherProps, 'mailboxes' | 'alarmTopic'>;
}

export class MailfetchStack extends Stack {
  readonly fetcher: MailFetcher;
  readonly alarmTopic?: Topic;

  constructor(scope: Construct, id: string, props: MailfetchStackProps) {
    super(scope, id, props);
    if (props.alarmEmail !== undefined) this.alarmTopic = this.createAlarmTopic(props.alarmEmail);

    this.fetcher = new MailFetcher(this, 'MailFetcher', {
      ...props.fetcher,
      ...this.importExisting(props),
      mailboxes: props.config.mailboxes,
      ...(this.alarmTopic === undefined ? {} : { alarmTopic: this.alarmTopic }),
    });

    new CfnOutput(this, 'BucketName', { description: 'Raw messages are written here', value: this.fetcher.bucket.bucketName });
    new CfnOutput(this, 'MessagePrefix', { description: 'Key prefix of the message objects', value: this.fetcher.prefix });
    new CfnOutput(this, 'TableName', { description: 'UIDL state and the mailbox registry (mailfetch mailboxes --table)', value: this.fetcher.table.tableName });
    new CfnOutput(this, 'FunctionName', { description: 'The fetch function (the worker)', value: this.fetcher.function.functionName });
    new CfnOutput(this, 'DeadLetterQueueUrl', { description: 'Runs that kept failing, failed dispatcher ticks', value: this.fetcher.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'CredentialsKeyArn', {
      description: 'Encrypts the data keys of sealed credentials (MAILFETCH_CREDENTIALS_KEY for mailfetch mailboxes add --password-stdin)',
      value: this.fetcher.credentials.key.keyArn,
    });
    new CfnOutput(this, 'RunQueueUrl', { description: 'Runs the dispatcher queued for the fetch function', value: this.fetcher.dispatch.queue.queueUrl });
    if (this.fetcher.eventBus) {
      new CfnOutput(this, 'EventBusName', { description: 'Where Mail Stored events go (mailfetch fetch --event-bus)', value: this.fetcher.eventBus.eventBusName });
    }
    new CfnOutput(this, 'DispatcherFunctionName', { description: 'Queues the mailboxes due each minute (its log shows what is late)', value: this.fetcher.dispatch.function.functionName });
    if (this.fetcher.dashboard !== undefined) {
      new CfnOutput(this, 'DashboardName', { description: 'The fleet dashboard', value: this.fetcher.dashboard.dashboard.dashboardName });
    }
    if (this.fetcher.egress !== undefined) {
      new CfnOutput(this, 'EgressIpAddress', {
        description: 'The fixed source address of POP3 connections: allow-list it on the mail servers',
        value: this.fetcher.egress.elasticIp.attrPublicIp,
      });
    }
  }

  /** The existing bucket and the keys named by ARN or name (from the CDK context), as MailFetcher props. */
  private importExisting(props: MailfetchStackProps): Pick<MailFetcherProps, 'bucket' | 'encryptionKey' | 'secretsEncryptionKey'> {
    return {
      ...(props.bucketName === undefined ? {} : { bucket: Bucket.fromBucketName(this, 'ExistingBucket', props.bucketName) }),
      ...(props.bucketKeyArn === undefined ? {} : { encryptionKey: Key.fromKeyArn(this, 'BucketKey', props.bucketKeyArn) }),
      ...(props.secretsKeyArn === undefined ? {} : { secretsEncryptionKey: Key.fromKeyArn(this, 'SecretsKey', props.secretsKeyArn) }),
    };
  }

  /**
   * CloudWatch cannot publish to a topic encrypted with the AWS-managed `aws/sns` key, so the
   * topic gets its own key that CloudWatch may use.
   */
  private createAlarmTopic(email: string): Topic {
    const key = new Key(this, 'AlarmTopicKey', {
      description: 'mailfetch alarm topic',
      enableKeyRotation: true,
    });
    const cloudwatch = key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    cloudwatch.resourceStatement?.addCondition('StringEquals', { 'aws:SourceAccount': this.account });
    const topic = new Topic(this, 'AlarmTopic', { displayName: 'mailfetch alarms', masterKey: key, enforceSSL: true });
    topic.addSubscription(new EmailSubscription(email));
    return topic;
  }
}
