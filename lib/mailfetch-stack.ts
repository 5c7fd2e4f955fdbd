/**
 * The mailfetch stack: a `MailFetcher` for the mailboxes of one configuration file, an
 * optional e-mail alarm topic, and outputs for the things users look up after deploying.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import type { AppConfig } from '../lambda/config/mailbox-config';
import { MailFetcher } from './mail-fetcher';
import type { MailFetcherProps } from './mail-fetcher-props';

export interface MailfetchStackProps extends StackProps {
  /** The validated configuration (`loadConfigFile`): one schedule per mailbox. */
  readonly config: AppConfig;
  /**
   * Send alarm notifications to this address (creates an encrypted SNS topic; confirm the
   * subscription e-mail after deploying).
   * @default no topic, alarms without actions
   */
  readonly alarmEmail?: string;
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
      mailboxes: props.config.mailboxes,
      ...(this.alarmTopic === undefined ? {} : { alarmTopic: this.alarmTopic }),
    });

    new CfnOutput(this, 'BucketName', { description: 'Raw messages are written here', value: this.fetcher.bucket.bucketName });
    new CfnOutput(this, 'MessagePrefix', { description: 'Key prefix of the message objects', value: this.fetcher.prefix });
    new CfnOutput(this, 'TableName', { description: 'UIDL state and the mailbox registry (mailfetch mailboxes --table)', value: this.fetcher.table.tableName });
    new CfnOutput(this, 'FunctionName', { description: 'The fetch function (one mailbox per invocation)', value: this.fetcher.function.functionName });
    new CfnOutput(this, 'CredentialsKeyArn', {
      description: 'Encrypts the data keys of sealed credentials (MAILFETCH_CREDENTIALS_KEY for mailfetch mailboxes add --password-stdin)',
      value: this.fetcher.credentials.key.keyArn,
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', { description: 'Failed runs and undeliverable schedules', value: this.fetcher.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'ScheduleGroupName', { value: this.fetcher.scheduleGroup.scheduleGroupName });
    if (this.fetcher.dashboard !== undefined) {
      new CfnOutput(this, 'DashboardName', { value: this.fetcher.dashboard.dashboard.dashboardName });
    }
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
