import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration, Stack, TimeZone, Validations, type App } from 'aws-cdk-lib';
import { LambdaFunction, SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Code, Function as LambdaFn, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../lambda/config/validate-config';
import { MailFetcher } from '../../lib/mail-fetcher';
import { MailfetchStack } from '../../lib/mailfetch-stack';
import { EXAMPLE_CONFIG_PATH, fixtureConfig, testApp } from './test-app';

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

function nagApp(): App {
  const outdir = mkdtempSync(join(tmpdir(), 'mailfetch-nag-'));
  outdirs.push(outdir);
  const app = testApp({ outdir });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
}

/** Synthesizes; on findings, fails with the rule ids and paths from the validation report. */
function expectNoFindings(app: App): void {
  let error: unknown;
  try {
    app.synth();
  } catch (err) {
    error = err;
  }
  if (error === undefined) return;
  if (!existsSync(join(app.outdir, "validation-report.json"))) throw error;
  const report = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: { violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[];
  };
  const findings = report.pluginReports.flatMap((r) =>
    r.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)),
  );
  expect(findings, String(error)).toEqual([]);
  throw error;
}

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing unacknowledged in the example stack (with the alarm e-mail topic)', async () => {
    const app = nagApp();
    new MailfetchStack(app, 'Mailfetch', { config: await loadConfigFile(EXAMPLE_CONFIG_PATH), alarmEmail: 'ops@example.org' });
    expectNoFindings(app);
  });

  it('finds nothing unacknowledged with every option on (VPC, KMS keys, access logs, downstream rules, onMail rules with read grants)', () => {
    const app = nagApp();
    const stack = new Stack(app, 'Options');
    const logs = new Bucket(stack, 'AccessLogs', { encryption: BucketEncryption.S3_MANAGED, enforceSSL: true });
    Validations.of(logs).acknowledge({ id: 'AwsSolutions-S1', reason: 'Test fixture: this is the access-log bucket itself.' });
    const downstreamDlq = new Queue(stack, 'DownstreamDlq', { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true });
    Validations.of(downstreamDlq).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'Test fixture: this is a dead-letter queue.' });
    const downstream = new Queue(stack, 'Downstream', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: downstreamDlq, maxReceiveCount: 3 },
    });
    const fetcher = new MailFetcher(stack, 'MailFetcher', {
      mailboxes: fixtureConfig().mailboxes,
      fixedEgressIp: true,
      reservedConcurrentExecutions: 2,
      encryptionKey: new Key(stack, 'BucketKey', { enableKeyRotation: true }),
      secretsEncryptionKey: new Key(stack, 'SecretsKey', { enableKeyRotation: true }),
      versioned: true,
      expiration: Duration.days(365),
      serverAccessLogsBucket: logs,
      newMessageTarget: new SqsQueue(downstream),
      hostSessionLimits: { 'pop.example.org': 4 },
      scheduleTimeZone: TimeZone.EUROPE_BERLIN,
    });
    const consumer = new LambdaFn(stack, 'Consumer', { runtime: Runtime.NODEJS_22_X, handler: 'index.handler', code: Code.fromInline('exports.handler = async () => {}') });
    Validations.of(consumer).acknowledge(
      { id: 'AwsSolutions-L1', reason: 'Test fixture: the consumer runs on the runtime the worker is pinned to.' },
      { id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', reason: 'Test fixture: a consumer function with the default execution role.' },
    );
    const [first] = fixtureConfig().mailboxes;
    fetcher.onMail('OneMailbox', { mailbox: first!.id, subjectPrefix: 'Invoice' }, new LambdaFunction(consumer), { grantRead: consumer });
    fetcher.onMail('AllMail', { hasAttachments: true }, new LambdaFunction(consumer), { grantRead: consumer });
    expectNoFindings(app);
  });

  it('finds nothing unacknowledged with an existing SSE-KMS bucket and its key', () => {
    const app = nagApp();
    const stack = new Stack(app, 'Existing');
    new MailFetcher(stack, 'MailFetcher', {
      mailboxes: fixtureConfig().mailboxes,
      bucket: Bucket.fromBucketName(stack, 'Bucket', 'my-mail-bucket'),
      encryptionKey: Key.fromKeyArn(stack, 'BucketKey', 'arn:aws:kms:eu-west-1:123456789012:key/0b9c6d6e-1111-2222-3333-444455556666'),
    });
    expectNoFindings(app);
  });

  it('finds nothing unacknowledged in an empty fleet: new MailFetcher(stack, id) with no props', () => {
    const app = nagApp();
    new MailFetcher(new Stack(app, 'Empty'), 'Mail');
    expectNoFindings(app);
  });

  it('does fail synthesis on an unacknowledged finding (the gate above can fail)', () => {
    const app = nagApp();
    new Queue(new Stack(app, 'Bad'), 'PlainQueue');
    expect(() => app.synth()).toThrow();
    const report = readFileSync(join(app.outdir, 'validation-report.json'), 'utf8');
    expect(report).toContain('AwsSolutions-SQS4');
  });
});
