import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { App} from 'aws-cdk-lib';
import { Duration, RemovalPolicy, Stack, TimeZone, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { Vpc } from 'aws-cdk-lib/aws-ec2';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Bucket, StorageClass } from 'aws-cdk-lib/aws-s3';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { afterAll, describe, expect, it } from 'vitest';
import { ENV, SEED_MAILBOXES_BUCKET_PROPERTY, SEED_MAILBOXES_KEY_PROPERTY } from '../../lambda/env';
import { DISPATCHER_METRIC, METRIC } from '../../lambda/observability/metric-names';
import { createTableInput } from '../../lambda/state/table-schema';
import { MailFetcher } from '../../lib/mail-fetcher';
import { MailfetchStack } from '../../lib/mailfetch-stack';
import { fixtureConfig, fixtureMailboxes, synthFetcher, testApp } from './test-app';

afterAll(() => CloudAssembly.cleanupTemporaryDirectories());

/** Every statement of the fetch function's policy. */
function functionStatements(template: Template): Record<string, unknown>[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^MailFetcherFunctionRole') }] },
  });
  return Object.values(policies).flatMap(
    (p) => (p as { Properties: { PolicyDocument: { Statement: Record<string, unknown>[] } } }).Properties.PolicyDocument.Statement,
  );
}

function statementWith(template: Template, action: string): Record<string, unknown> {
  const found = functionStatements(template).filter((s) => ([] as unknown[]).concat(s.Action).includes(action));
  expect(found, `one statement with ${action}`).toHaveLength(1);
  return found[0] as Record<string, unknown>;
}

interface DashboardWidget {
  readonly type: string;
  readonly properties: { title?: string; query?: string; metrics?: unknown[][]; alarms?: string[] };
}

/**
 * The dashboard's widgets, parsed from the synthesized body (a Fn::Join of JSON text and
 * references; each reference becomes `<LogicalId>`).
 */
function dashboardWidgets(template: Template): DashboardWidget[] {
  const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as { Properties: { DashboardBody: unknown } }[];
  expect(dashboards).toHaveLength(1);
  const body = dashboards[0]!.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] };
  const text = body['Fn::Join'][1]
    .map((part) => {
      if (typeof part === 'string') return part;
      const ref = part as { Ref?: string; 'Fn::GetAtt'?: string[] };
      return `<${ref.Ref ?? ref['Fn::GetAtt']?.[0] ?? '?'}>`;
    })
    .join('');
  return (JSON.parse(text) as { widgets: DashboardWidget[] }).widgets;
}

/** Every metric expression of the dashboard's graphs. */
function expressions(widgets: DashboardWidget[]): string[] {
  return widgets.flatMap((w) => (w.properties.metrics ?? []).flatMap((m) => m.map((x) => (x as { expression?: string }).expression).filter((e) => e !== undefined)));
}

/** The logical id of the only resource of a type. */
function onlyId(template: Template, type: string): string {
  const ids = Object.keys(template.findResources(type));
  expect(ids, type).toHaveLength(1);
  return ids[0] as string;
}

describe('MailFetcher without mailboxes (an empty fleet, managed with the CLI)', () => {
  it('with an empty list, still seeds: that deploy removes the mailboxes earlier deploys added', () => {
    const stack = new Stack(testApp(), 'Emptied');
    const fetcher = new MailFetcher(stack, 'Mail', { mailboxes: [] });

    Template.fromStack(stack).resourceCountIs('Custom::MailfetchRegistrySeed', 1);
    expect(fetcher.registrySeed).toBeDefined();
  });

  it('synthesises with no registry seeding, the worker, its table and the dispatch still there', () => {
    const app = testApp();
    const stack = new Stack(app, 'Empty');
    const fetcher = new MailFetcher(stack, 'Mail');
    const template = Template.fromStack(stack);

    expect(fetcher.registrySeed).toBeUndefined();
    template.resourceCountIs('AWS::Scheduler::Schedule', 1);
    template.resourceCountIs('Custom::MailfetchRegistrySeed', 0);
    template.resourceCountIs('AWS::Lambda::Function', 2);
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
  });
});

describe('MailFetcher defaults', () => {
  const { template, fetcher, stack } = synthFetcher();
  const bucketId = onlyId(template, 'AWS::S3::Bucket');
  const tableId = onlyId(template, 'AWS::DynamoDB::Table');
  const logicalId = (construct: IConstruct): string => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const functionId = logicalId(fetcher.function);
  const dlqId = logicalId(fetcher.deadLetterQueue);
  const runQueueId = logicalId(fetcher.dispatch.queue);
  const dispatcherId = logicalId(fetcher.dispatch.function);

  it('creates a bucket with SSE-S3, every public access block, EventBridge notifications, retained', () => {
    template.hasResource('AWS::S3::Bucket', {
      Properties: {
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LifecycleConfiguration: { Rules: [{ Id: 'abort-incomplete-multipart-uploads', Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }] },
        VersioningConfiguration: Match.absent(),
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('enforces TLS (and TLS 1.2 at least) in the bucket policy', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
        ]),
      },
    });
  });

  it('does not need the S3 notifications custom resource: the only functions are the worker, the dispatcher and the registry seeding (with its Provider framework)', () => {
    template.resourceCountIs('Custom::S3BucketNotifications', 0);
    template.resourceCountIs('AWS::Lambda::Function', 4);
  });

  it('puts the mailboxes into the registry with one custom resource, which may write only the registry partition', () => {
    const mailboxes = fixtureMailboxes();
    template.resourceCountIs('Custom::MailfetchRegistrySeed', 1);
    const asset = fetcher.registrySeed!.mailboxesAsset;
    template.hasResourceProperties('Custom::MailfetchRegistrySeed', {
      [SEED_MAILBOXES_BUCKET_PROPERTY]: stack.resolve(asset.s3BucketName),
      [SEED_MAILBOXES_KEY_PROPERTY]: stack.resolve(asset.s3ObjectKey),
    });
    const staged = join((stack.node.root as App).outdir, asset.assetPath);
    expect(JSON.parse(readFileSync(staged, 'utf8'))).toEqual(JSON.parse(JSON.stringify(mailboxes)));
    const seedStatements = (Object.values(template.findResources('AWS::IAM::Policy')) as { Properties: { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } } }[])
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((st) => st.Action === 's3:GetObject');
    expect(seedStatements.map((st) => st.Resource)).toEqual([stack.resolve(asset.bucket.arnForObjects(asset.s3ObjectKey))]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Environment: { Variables: { [ENV.TABLE]: { Ref: tableId } } },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Action: ['dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
            Resource: { 'Fn::GetAtt': [tableId, 'Arn'] },
            Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['#REGISTRY'] } },
          },
        ]),
      },
    });
  });

  it('creates the state table as lambda/state/table-schema.ts defines it, with PITR, TTL and deletion protection', () => {
    const expected = createTableInput('ignored');
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: expected.KeySchema,
        AttributeDefinitions: Match.arrayEquals(expected.AttributeDefinitions ?? []),
        GlobalSecondaryIndexes: [
          {
            IndexName: expected.GlobalSecondaryIndexes?.[0]?.IndexName,
            KeySchema: expected.GlobalSecondaryIndexes?.[0]?.KeySchema,
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        DeletionProtectionEnabled: true,
      },
      DeletionPolicy: 'Retain',
    });
  });

  it('runs the handler on Node.js 22, arm64, with the shared environment names and a log group with retention', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 512,
      Timeout: 300,
      Environment: {
        Variables: {
          [ENV.BUCKET]: { Ref: bucketId },
          [ENV.TABLE]: { Ref: tableId },
          [ENV.PREFIX]: 'messages/',
          [ENV.SAFETY_MARGIN_MS]: '30000',
          [ENV.METRICS_NAMESPACE]: 'Mailfetch',
        },
      },
      LoggingConfig: { LogGroup: { Ref: logicalId(fetcher.logGroup) } },
      VpcConfig: Match.absent(),
      ReservedConcurrentExecutions: Match.absent(),
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlqId, 'Arn'] } } },
    });
  });

  it('runs every mailbox through one dispatch schedule: no schedule, group or fixed name per mailbox', () => {
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 0);
    template.resourceCountIs('AWS::Scheduler::Schedule', 1);
    template.hasResource('AWS::Scheduler::Schedule', {
      Properties: {
        ScheduleExpression: 'rate(1 minute)',
        Name: Match.absent(),
        GroupName: Match.absent(),
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: Match.objectLike({
          Arn: { 'Fn::GetAtt': [dispatcherId, 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlqId, 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
        }),
      },
      // The first tick after a deploy sees the deployed mailboxes.
      DependsOn: Match.arrayWith([logicalId(fetcher.registrySeed!.resource)]),
    });
  });

  it('feeds the worker from the run queue: maximumConcurrency, batch item failures, redrive to the dead-letter queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [runQueueId, 'Arn'] },
      FunctionName: { Ref: functionId },
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: 10 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 1_800,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.QUEUE_URL]: { Ref: runQueueId }, [ENV.HOST_SESSION_LIMIT]: '10' }) },
    });
    const consume = statementWith(template, 'sqs:ReceiveMessage');
    expect(consume.Resource).toEqual({ 'Fn::GetAtt': [runQueueId, 'Arn'] });
    // Deferred runs go back to the run queue; failed direct invocations to the dead-letter queue.
    expect(statementWith(template, 'sqs:SendMessage').Resource).toEqual([{ 'Fn::GetAtt': [dlqId, 'Arn'] }, { 'Fn::GetAtt': [runQueueId, 'Arn'] }]);
  });

  it('lets the dispatcher Query the registry partition, read and write its cursor, and send to the run queue: nothing else', () => {
    const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^MailFetcherDispatchRole') }] } });
    const statements = Object.values(policies).flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Record<string, unknown>[] } } }).Properties.PolicyDocument.Statement);
    const table = { 'Fn::GetAtt': [tableId, 'Arn'] };
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Action: 'dynamodb:Query', Resource: table, Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['#REGISTRY'] } } }),
        expect.objectContaining({ Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: table, Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['#DISPATCH'] } } }),
        // The run queue; the dead-letter queue for its own failed ticks.
        expect.objectContaining({ Action: expect.arrayContaining(['sqs:SendMessage']), Resource: [{ 'Fn::GetAtt': [dlqId, 'Arn'] }, { 'Fn::GetAtt': [runQueueId, 'Arn'] }] }),
      ]),
    );
    const actions = statements.flatMap((s) => [].concat(s.Action as never) as string[]);
    expect(actions.filter((a) => !a.startsWith('logs:')).sort()).toEqual(
      ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'].sort(),
    );
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Timeout: 60,
      Environment: { Variables: Match.objectLike({ [ENV.QUEUE_URL]: { Ref: runQueueId }, [ENV.STALE_PERIODS]: '3', [ENV.MAILBOXES_PER_MESSAGE]: '40' }) },
    });
  });

  it('encrypts the dead-letter queue and enforces TLS on it', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('limits S3 access to the message prefix: writes, and the reads that re-send events (on by default)', () => {
    const s3 = statementWith(template, 's3:PutObject');
    expect(s3.Action).toEqual(['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject']);
    expect(s3.Resource).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/messages/*']] });
  });

  it('grants the state-store operations on the table and the pendingDelete index only', () => {
    const ddb = statementWith(template, 'dynamodb:GetItem');
    expect(ddb.Action).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    expect(ddb.Resource).toEqual([
      { 'Fn::GetAtt': [tableId, 'Arn'] },
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId, 'Arn'] }, '/index/pendingDelete']] },
    ]);
  });

  it('lets the function read and write back secrets under the name prefix, in one statement (never UpdateSecret)', () => {
    const secrets = statementWith(template, 'secretsmanager:GetSecretValue');
    expect(secrets.Action).toEqual(['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue']);
    expect(secrets.Resource).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':secret:mailfetch/*']],
    });
    expect(functionStatements(template).flatMap((s) => [].concat(s.Action as never))).not.toContain('secretsmanager:UpdateSecret');
  });

  it('grants nothing on "*" and attaches no managed policy to the function', () => {
    for (const statement of functionStatements(template)) expect(statement.Resource).not.toBe('*');
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })] }),
      ManagedPolicyArns: Match.absent(),
    });
  });

  it('lets only Scheduler of this account (default schedule group) assume the scheduler role', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } }, ArnLike: { 'aws:SourceArn': Match.anyValue() } },
          }),
        ],
      },
    });
  });

  it('has six fleet alarms: function errors, dead letters, authentication failures, failed-run share, stale mailboxes, events refused', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 6);
    expect(fetcher.alarms.all).toHaveLength(6);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Mailfetch',
      MetricName: METRIC.EVENTS_FAILED,
      Dimensions: Match.absent(),
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Namespace: 'AWS/Lambda', Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Namespace: 'AWS/SQS' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Mailfetch',
      MetricName: METRIC.AUTH_FAILURES,
      Dimensions: Match.absent(),
      Statistic: 'Sum',
      Period: 300,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Mailfetch',
      MetricName: METRIC.RUN_FAILED,
      Dimensions: Match.absent(),
      Statistic: 'Average',
      Threshold: 0.1,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Mailfetch',
      MetricName: DISPATCHER_METRIC.STALE_MAILBOXES,
      Dimensions: Match.absent(),
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      // The dispatcher reports every sweep: no report means it is not running.
      TreatMissingData: 'breaching',
    });
    // No alarm has a per-mailbox dimension.
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(JSON.stringify(alarm)).not.toContain('"Mailbox"');
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: Match.absent() });
  });

  it('builds a dashboard of fleet metrics, the worst mailboxes from the summary lines, and the alarms', () => {
    const widgets = dashboardWidgets(template);
    const titles = widgets.map((w) => w.properties.title ?? '').join('\n');
    for (const text of ['Runs succeeded', 'Failed runs', 'Stale mailboxes', 'Messages fetched', 'Bytes fetched', 'Errors by code', 'Backlog', 'Worst mailboxes']) {
      expect(titles).toContain(text);
    }
    expect(expressions(widgets)).toContain(`SEARCH('{"Mailfetch",ErrorCode} MetricName="Errors"', 'Sum', 300)`);
    // The Logs Insights table reads the function's log group, ranked from the summary lines.
    const [table, ...moreTables] = widgets.filter((w) => w.type === 'log');
    expect(moreTables).toEqual([]);
    expect(table!.properties.query).toMatch(new RegExp(`^SOURCE '<${logicalId(fetcher.logGroup)}>' \\| filter message = "run summary"\n`));
    expect(table!.properties.query).toContain('by mailbox');
    const [alarms] = widgets.filter((w) => w.type === 'alarm');
    expect(alarms!.properties.alarms).toHaveLength(6);
    expect(titles).not.toContain('Detailed mailboxes');
    // No per-mailbox dimension, neither in a metric nor in a search.
    for (const w of widgets) for (const metric of w.properties.metrics ?? []) expect(metric).not.toContain('Mailbox');
    for (const e of expressions(widgets)) expect(e).not.toContain(',Mailbox}');
  });
});

describe('MailFetcher options', () => {
  it('uses SSE-KMS with the given key and grants the function that key for its PUTs', () => {
    const { template, stack } = synthFetcher({}, (s) => ({ encryptionKey: new Key(s, 'Key') }));
    const keyId = Object.keys(template.findResources('AWS::KMS::Key'))[0] as string;
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] } }, BucketKeyEnabled: true },
        ],
      },
    });
    const kms = statementWith(template, 'kms:GenerateDataKey');
    expect(kms.Action).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(kms.Resource).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    expect(stack).toBeInstanceOf(Stack);
  });

  it('grants an existing SSE-KMS bucket\'s key to the function (writes) and to readers (decrypt)', () => {
    const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/0b9c6d6e-1111-2222-3333-444455556666';
    const stack = new Stack(testApp(), 'Test');
    const fetcher = new MailFetcher(stack, 'MailFetcher', {
      mailboxes: fixtureMailboxes(),
      bucket: Bucket.fromBucketName(stack, 'Existing', 'my-mail-bucket'),
      encryptionKey: Key.fromKeyArn(stack, 'BucketKey', keyArn),
    });
    const reader = new Role(stack, 'Reader', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    fetcher.grantReadMessages(reader);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::S3::Bucket', 0);
    const kms = statementWith(template, 'kms:GenerateDataKey');
    expect(kms.Action).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(kms.Resource).toBe(keyArn);
    expect(fetcher.encryptionKey?.keyArn).toBe(keyArn);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Reader') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'kms:Decrypt', Resource: keyArn })]) },
    });
  });

  it('uses the key an existing bucket was imported with', () => {
    const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/imported';
    const { template } = synthFetcher({}, (s) => ({
      bucket: Bucket.fromBucketAttributes(s, 'Existing', { bucketName: 'my-mail-bucket', encryptionKey: Key.fromKeyArn(s, 'BucketKey', keyArn) }),
    }));
    expect(statementWith(template, 'kms:GenerateDataKey').Resource).toBe(keyArn);
  });

  it('expires noncurrent versions too when the bucket is versioned and messages expire', () => {
    const { template } = synthFetcher({ versioned: true, expiration: Duration.days(90) });
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Id: 'messages', Prefix: 'messages/', ExpirationInDays: 90, NoncurrentVersionExpiration: { NoncurrentDays: 90 } })]),
      },
    });
    const unversioned = synthFetcher({ expiration: Duration.days(90) }).template;
    unversioned.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'messages', NoncurrentVersionExpiration: Match.absent() })]) },
    });
  });

  it('adds versioning, transitions and expiry for the message prefix', () => {
    const { template } = synthFetcher({
      versioned: true,
      transitions: [{ storageClass: StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) }],
      expiration: Duration.days(365),
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Id: 'messages',
            Prefix: 'messages/',
            ExpirationInDays: 365,
            Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }],
          }),
        ]),
      },
    });
  });

  it('writes into an existing bucket under its own prefix without creating one', () => {
    const { template } = synthFetcher({ prefix: 'inbound/mail/' }, (s) => ({ bucket: Bucket.fromBucketName(s, 'Existing', 'my-mail-bucket') }));
    template.resourceCountIs('AWS::S3::Bucket', 0);
    const s3 = statementWith(template, 's3:PutObject');
    expect(s3.Resource).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::my-mail-bucket/inbound/mail/*']] });
  });

  it('drops deletion protection and retention with RemovalPolicy.DESTROY', () => {
    const { template } = synthFetcher({ removalPolicy: RemovalPolicy.DESTROY });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete', Properties: { DeletionProtectionEnabled: false } });
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
  });

  it('passes memory, timeout (and the safety margin derived from it), reserved concurrency and namespace through', () => {
    const { template } = synthFetcher({ memorySize: 1024, timeout: Duration.minutes(15), reservedConcurrentExecutions: 2, metricsNamespace: 'Mail/Prod' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1024,
      Timeout: 900,
      ReservedConcurrentExecutions: 2,
      Environment: { Variables: Match.objectLike({ [ENV.SAFETY_MARGIN_MS]: '60000', [ENV.METRICS_NAMESPACE]: 'Mail/Prod' }) },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'Mail/Prod', MetricName: METRIC.RUN_FAILED });
  });

  it('passes the dispatch settings through: global cap, host caps, packing, time zone, stale periods', () => {
    const { template } = synthFetcher({
      maxConcurrentInvocations: 50,
      hostSessionLimit: 4,
      hostSessionLimits: { 'pop.gmail.com': 15 },
      mailboxesPerMessage: 25,
      scheduleTimeZone: TimeZone.EUROPE_BERLIN,
      missedRunPeriods: 5,
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 50 } });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.HOST_SESSION_LIMIT]: '4', [ENV.HOST_SESSION_LIMITS]: JSON.stringify({ 'pop.gmail.com': 15 }) }) },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.MAILBOXES_PER_MESSAGE]: '25', [ENV.SCHEDULE_TIME_ZONE]: 'Europe/Berlin', [ENV.STALE_PERIODS]: '5' }) },
    });
  });

  it('applies failedRunAlarmPercent and names missedRunPeriods in the stale-mailbox alarm', () => {
    const { template } = synthFetcher({ failedRunAlarmPercent: 25, missedRunPeriods: 5 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: METRIC.RUN_FAILED, Threshold: 0.25 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: DISPATCHER_METRIC.STALE_MAILBOXES,
      AlarmDescription: Match.stringLikeRegexp('no successful run for 5 of its periods'),
    });
  });

  it('gives only the detailedMetricsMailboxes the Mailbox dimension: an environment variable and searched graphs', () => {
    const { template } = synthFetcher({ detailedMetricsMailboxes: ['support', 'cli-added'] });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.DETAILED_METRICS_MAILBOXES]: 'support,cli-added' }) },
    });
    const widgets = dashboardWidgets(template);
    expect(widgets.map((w) => w.properties.title).join('\n')).toContain('Detailed mailboxes');
    expect(expressions(widgets)).toContain(`SEARCH('{"Mailfetch",Mailbox} MetricName="RunFailed"', 'Sum', 300)`);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 6);
  });

  it('keeps the resource count flat in the number of mailboxes', () => {
    const config = (n: number): ReturnType<typeof fixtureMailboxes> =>
      Array.from({ length: n }, (_, i) => ({ ...fixtureMailboxes()[0]!, id: `mbx-${i}`, password: { secretId: 'mailfetch/shared' } }));
    const count = (n: number): number => {
      const resources = Object.values(synthFetcher({ mailboxes: config(n) }).template.toJSON().Resources as Record<string, { Type: string }>);
      return resources.length;
    };
    expect(count(150)).toBe(count(10));
  });

  it('notifies the alarm topic on ALARM and OK', () => {
    const { template } = synthFetcher({}, (s) => ({ alarmTopic: new Topic(s, 'Topic') }));
    const topicRef = { Ref: Object.keys(template.findResources('AWS::SNS::Topic'))[0] };
    template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [topicRef], OKActions: [topicRef] });
  });

  it('sends new message objects to the given target with an EventBridge rule', () => {
    const { template } = synthFetcher({}, (s) => ({ newMessageTarget: new SqsQueue(new Queue(s, 'Downstream', { enforceSSL: true })) }));
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: [{ Ref: Match.stringLikeRegexp('^MailFetcherBucket') }] }, object: { key: [{ prefix: 'messages/' }] } },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Downstream'), 'Arn'] } })],
    });
  });

  it('with fixedEgressIp: runs in a new VPC whose one NAT gateway uses an Elastic IP, egress only to POP3 and HTTPS', () => {
    const { template } = synthFetcher({ fixedEgressIp: true });
    template.resourceCountIs('AWS::EC2::EIP', 1);
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    template.hasResourceProperties('AWS::EC2::NatGateway', { AllocationId: { 'Fn::GetAtt': [Match.stringLikeRegexp('EgressIp'), 'AllocationId'] } });
    template.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: { SubnetIds: Match.anyValue(), SecurityGroupIds: Match.anyValue() } });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: [
        Match.objectLike({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '0.0.0.0/0' }),
        Match.objectLike({ IpProtocol: 'tcp', FromPort: 995, ToPort: 995, CidrIp: '0.0.0.0/0' }),
      ],
      SecurityGroupIngress: Match.absent(),
    });
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 2);
    template.resourceCountIs('AWS::EC2::FlowLog', 1);
    // The address is the stack's output (EgressIpAddress, see MailfetchStack), not the construct's.
    expect(template.findOutputs('*')).toEqual({});
  });

  it('runs in a given VPC', () => {
    const { template } = synthFetcher({}, (s) => ({ vpc: new Vpc(s, 'Existing', { natGateways: 1 }) }));
    template.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: Match.anyValue() });
    template.resourceCountIs('AWS::EC2::EIP', 1);
  });

  it('grants the secrets key through Secrets Manager only', () => {
    const { template } = synthFetcher({}, (s) => ({ secretsEncryptionKey: Key.fromKeyArn(s, 'SecretsKey', 'arn:aws:kms:eu-west-1:123456789012:key/abc') }));
    const viaSecretsManager = functionStatements(template).filter((s) => s.Resource === 'arn:aws:kms:eu-west-1:123456789012:key/abc');
    expect(viaSecretsManager).toHaveLength(1);
    // GenerateDataKey too: the rotated refresh token is written back, encrypted with the key.
    expect(viaSecretsManager[0]!.Action).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(viaSecretsManager[0]!.Condition).toEqual({ StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } });
  });
});

describe('MailfetchStack', () => {
  it('with alarmEmail: an encrypted topic that CloudWatch can publish to, subscribed by e-mail', () => {
    const app = testApp();
    const stack = new MailfetchStack(app, 'Mailfetch', { config: fixtureConfig(), alarmEmail: 'ops@example.org' });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.org' });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] }),
        ]),
      },
    });
    template.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlarmTopic') }] });
  });

  it('matches the snapshot (a backstop; the tests above state what matters)', () => {
    const app = testApp();
    const stack = new MailfetchStack(app, 'Mailfetch', { config: fixtureConfig() });
    const json = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Properties?: { Code?: unknown } }> };
    // The asset hash follows the handler sources, which change independently.
    for (const resource of Object.values(json.Resources)) if (resource.Properties?.Code !== undefined) resource.Properties.Code = '<asset>';
    expect(json).toMatchSnapshot();
  });
});

describe('MailFetcher.grantReadMessages', () => {
  it('lets a downstream reader get the message objects, under the prefix only', () => {
    const app = testApp();
    const stack = new Stack(app, 'Test');
    const fetcher = new MailFetcher(stack, 'MailFetcher', { mailboxes: fixtureMailboxes() });
    const reader = new Role(stack, 'Reader', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    fetcher.grantReadMessages(reader);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Reader') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['s3:GetObject*']),
            Resource: Match.arrayWith([{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^MailFetcherBucket'), 'Arn'] }, '/messages/*']] }]),
          }),
        ]),
      },
    });
  });
});
