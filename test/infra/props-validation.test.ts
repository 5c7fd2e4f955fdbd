import { App, Duration, Stack } from 'aws-cdk-lib';
import { Vpc } from 'aws-cdk-lib/aws-ec2';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { MailFetcher } from '../../lib/mail-fetcher';
import type { MailFetcherProps } from '../../lib/mail-fetcher-props';
import { MailFetcherPropsError } from '../../lib/props-validation';
import { fixtureMailboxes, mailbox } from './test-app';

function build(props: Partial<MailFetcherProps> | ((stack: Stack) => Partial<MailFetcherProps>)): () => MailFetcher {
  return () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');
    const extra = typeof props === 'function' ? props(stack) : props;
    return new MailFetcher(stack, 'MailFetcher', { mailboxes: fixtureMailboxes(), ...extra });
  };
}

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof MailFetcherPropsError) return err.problems;
    throw err;
  }
  throw new Error('expected a MailFetcherPropsError');
}

describe('MailFetcher props validation', () => {
  it('reports every problem at once, in one message', () => {
    const attempt = build({
      memorySize: 64,
      timeout: Duration.minutes(20),
      prefix: 'messages',
      scheduleRetryAttempts: 200,
      missedRunPeriods: 0,
    });
    expect(attempt).toThrow(
      new MailFetcherPropsError([
        'prefix: must be non-empty, end with "/" and not start with "/" (got "messages")',
        'memorySize: must be a whole number of MiB from 128 to 10240 (got 64)',
        'timeout: must be from 30 seconds to 15 minutes (got 20 minutes)',
        'scheduleRetryAttempts: must be a whole number from 0 to 185 (got 200)',
        'missedRunPeriods: must be a whole number of at least 1 (got 0)',
      ]),
    );
    expect(attempt).toThrow(/^Invalid MailFetcher props \(5 problems\):\n {2}- prefix: /);
  });

  it('accepts an empty fleet; refuses duplicate ids', () => {
    expect(build({ mailboxes: [] })).not.toThrow();
    const one = mailbox({ id: 'same' });
    expect(problemsOf(build({ mailboxes: [one, one] }))).toEqual(['mailboxes: id "same" is used more than once']);
  });

  it('refuses { "env": ... } secrets, which a deployed function cannot read', () => {
    const local = mailbox({ id: 'local', password: { env: 'POP3_PASSWORD' } });
    expect(problemsOf(build({ mailboxes: [local] }))).toEqual([
      'mailboxes[0] (local).password: { "env": ... } works only for local runs; a deployed function reads sealed values ({ "sealed": ... }) or Secrets Manager ({ "secretId": ... })',
    ]);
  });

  it('refuses secrets outside secretNamePrefix, naming the mailbox, the secret and the fix; accepts sealed values', () => {
    const outside = mailbox({ id: 'support', password: { secretId: 'team/support', key: 'password' } });
    const arn = mailbox({ id: 'billing', password: { secretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:mailfetch/billing-AbC123' } });
    const sealed = mailbox({ id: 'sealed', password: { sealed: `v1:1:${'A'.repeat(40)}` } });

    expect(problemsOf(build({ mailboxes: [outside, arn, sealed] }))).toEqual([
      'mailboxes[0] (support).password: secret "team/support" is not named under secretNamePrefix "mailfetch/", so the function may not read it; rename the secret to "mailfetch/..." (or set secretNamePrefix to a prefix it has), or seal the credential into the registry instead (\'mailfetch mailboxes update --password-stdin\')',
    ]);
    expect(build({ mailboxes: [outside], secretNamePrefix: 'team/' })).not.toThrow();
    expect(problemsOf(build({ mailboxes: [], secretNamePrefix: 'mail*' }))).toEqual([
      'secretNamePrefix: must be 1 to 256 of the characters Secrets Manager names allow (letters, digits, /_+=.@-), without * or ? (got "mail*")',
    ]);
  });

  it('accepts a configuration larger than a schedule input holds (8 KB): the schedule carries only the id', () => {
    const big = mailbox({ id: 'big', tlsCa: `-----BEGIN CERTIFICATE-----\n${'A'.repeat(9000)}\n-----END CERTIFICATE-----` });
    expect(build({ mailboxes: [big] })).not.toThrow();
  });

  it('refuses bucket options together with an existing bucket', () => {
    const problems = problemsOf(
      build((s) => ({ bucket: Bucket.fromBucketName(s, 'B', 'existing-bucket'), encryptionKey: new Key(s, 'K'), versioned: false, expiration: Duration.days(7) })),
    );
    expect(problems).toEqual([
      'encryptionKey: applies to a new bucket only; it cannot be combined with bucket',
      'versioned: applies to a new bucket only; it cannot be combined with bucket',
      'expiration: applies to a new bucket only; it cannot be combined with bucket',
    ]);
  });

  it('checks durations that CloudFormation would reject', () => {
    expect(
      problemsOf(
        build({
          expiration: Duration.hours(36),
          safetyMargin: Duration.minutes(6),
          flexibleTimeWindow: Duration.seconds(90),
          scheduleMaxEventAge: Duration.seconds(30),
          cronAlarmPeriod: Duration.seconds(90),
        }),
      ),
    ).toEqual([
      'expiration: must be a whole number of days, at least 1 (got 1 day 12 hours)',
      'safetyMargin: must be shorter than timeout (5 minutes) (got 6 minutes)',
      'flexibleTimeWindow: must be whole minutes from 1 to 1440 (got 1 minute 30 seconds)',
      'scheduleMaxEventAge: must be from 1 minute to 24 hours (got 30 seconds)',
      'cronAlarmPeriod: must be a whole number of minutes (got 1 minute 30 seconds)',
    ]);
  });

  it('refuses a missed-run window longer than CloudWatch can evaluate', () => {
    const daily = mailbox({ id: 'daily', schedule: 'rate(3 days)' });
    const minutely = mailbox({ id: 'minutely', schedule: 'rate(30 minutes)' });
    expect(problemsOf(build({ mailboxes: [daily, minutely], missedRunPeriods: 60 }))).toEqual([
      'mailboxes[0] (daily): missedRunPeriods (60) × 3 days (schedule rate(3 days)) exceeds the 7 days a CloudWatch alarm with this period can look back; lower missedRunPeriods',
      'mailboxes[1] (minutely): missedRunPeriods (60) × 30 minutes (schedule rate(30 minutes)) exceeds the 1 day a CloudWatch alarm with this period can look back; lower missedRunPeriods',
    ]);
  });

  it('refuses conflicting network and concurrency settings', () => {
    expect(problemsOf(build((s) => ({ vpc: new Vpc(s, 'V'), fixedEgressIp: true, reservedConcurrentExecutions: 0 })))).toEqual([
      'reservedConcurrentExecutions: must be a whole number of at least 1 (got 0)',
      'fixedEgressIp: creates its own VPC; it cannot be combined with vpc (give your VPC NAT gateways with Elastic IPs instead)',
    ]);
    expect(problemsOf(build({ vpcSubnets: {} }))).toEqual(['vpcSubnets: only applies with vpc']);
  });

  it('refuses IAM wildcards in the prefix and a reserved metrics namespace', () => {
    expect(problemsOf(build({ prefix: 'mail/*/', metricsNamespace: 'AWS/Lambda' }))).toEqual([
      'prefix: must not contain "*" or "?" (they are IAM wildcards)',
      'metricsNamespace: must be 1 to 255 characters, without ":" and not starting with "AWS/"',
    ]);
  });

  it('accepts the fixture with every default', () => {
    expect(build({})).not.toThrow();
  });
});
