import { App, Duration, Stack } from 'aws-cdk-lib';
import { Vpc } from 'aws-cdk-lib/aws-ec2';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { isConfigError } from '../../lambda/config/config-error';
import { parseConfig } from '../../lambda/config/validate-config';
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

/** What `parseConfig` (the CLI's validation) says of a configuration. */
function configProblems(json: unknown): readonly string[] {
  try {
    parseConfig(json);
  } catch (err) {
    if (isConfigError(err)) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
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
      maxConcurrentInvocations: 1,
      missedRunPeriods: 0,
    });
    expect(attempt).toThrow(
      new MailFetcherPropsError([
        'prefix: must be non-empty, end with "/" and not start with "/" (got "messages")',
        'memorySize: must be a whole number of MiB from 128 to 10240 (got 64)',
        'timeout: must be from 30 seconds to 15 minutes (got 20 minutes)',
        'maxConcurrentInvocations: must be a whole number from 2 to 1000 (got 1)',
        'missedRunPeriods: must be a whole number of at least 1 (got 0)',
      ]),
    );
    expect(attempt).toThrow(/^Invalid MailFetcher props \(5 problems\):\n {2}- prefix: /);
  });

  it('accepts an empty fleet; refuses duplicate ids', () => {
    expect(build({ mailboxes: [] })).not.toThrow();
    const one = mailbox({ id: 'same' });
    expect(problemsOf(build({ mailboxes: [one, one] }))).toEqual(['mailboxes[1] (id "same").id: duplicates the id of mailboxes[0]; ids must be unique']);
  });

  it('takes plain mailbox objects and applies the configuration file\'s defaults', () => {
    const plain = { id: 'support', host: 'pop.example.org', username: 'support', password: { secretId: 'mailfetch/support' } };
    const fetcher = build({ mailboxes: [plain] })();
    expect(fetcher.mailboxes).toEqual(parseConfig({ mailboxes: [plain] }).mailboxes);
    expect(fetcher.mailboxes[0]).toMatchObject({ port: 995, tls: 'implicit', retention: 'keep', schedule: 'rate(5 minutes)' });
    // A validated mailbox is taken as it is.
    expect(build({ mailboxes: fetcher.mailboxes })().mailboxes).toEqual(fetcher.mailboxes);
  });

  it('reports invalid plain mailboxes with the messages the CLI gives for a configuration file, with the other problems', () => {
    const mailboxes = [
      { id: 'ok', host: 'pop.example.org', username: 'ok', password: { secretId: 'mailfetch/ok' } },
      { id: 'bad', host: 'pop.example.org', port: 0, tls: 'none', colour: 'red', password: { secretId: 'mailfetch/bad' } },
      'not a mailbox',
    ];
    const cliProblems = configProblems({ mailboxes });
    expect(cliProblems).toContain('mailboxes[1] (id "bad").username: is required');
    expect(cliProblems).toContain('mailboxes[2]: must be an object');
    expect(problemsOf(build({ mailboxes: mailboxes as never, memorySize: 64 }))).toEqual([
      ...cliProblems,
      'memorySize: must be a whole number of MiB from 128 to 10240 (got 64)',
    ]);
    expect(problemsOf(build({ mailboxes: 'support' as never }))).toEqual(['mailboxes: must be an array of mailboxes']);
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

  it('checks the dispatch props: caps, packing, reserved concurrency against the global cap', () => {
    expect(problemsOf(build({ hostSessionLimit: 0, hostSessionLimits: { 'pop.example.org': 2.5, ' ': 3 }, mailboxesPerMessage: 51 }))).toEqual([
      'hostSessionLimit: must be a whole number from 1 to 1000 (got 0)',
      'hostSessionLimits["pop.example.org"]: must be a whole number from 1 to 1000 (got 2.5)',
      'hostSessionLimits: a host name must not be empty',
      'mailboxesPerMessage: must be a whole number from 1 to 50 (got 51)',
    ]);
    expect(problemsOf(build({ reservedConcurrentExecutions: 1 }))).toEqual([
      "reservedConcurrentExecutions: must be at least 2: the run queue's event source mapping needs that many (got 1)",
    ]);
    expect(problemsOf(build({ reservedConcurrentExecutions: 4, maxConcurrentInvocations: 8 }))).toEqual([
      'maxConcurrentInvocations: must not exceed reservedConcurrentExecutions (4); throttled deliveries would count towards the dead-letter queue (got 8)',
    ]);
    expect(build({ reservedConcurrentExecutions: 4 })).not.toThrow(); // the default follows it down
  });

  it('accepts a configuration larger than a schedule input holds (8 KB): the queue message carries only the id', () => {
    const big = mailbox({ id: 'big', tlsCa: `-----BEGIN CERTIFICATE-----\n${'A'.repeat(9000)}\n-----END CERTIFICATE-----` });
    expect(build({ mailboxes: [big] })).not.toThrow();
  });

  it('refuses new-bucket options together with an existing bucket; its encryption key is allowed', () => {
    const problems = problemsOf(
      build((s) => ({ bucket: Bucket.fromBucketName(s, 'B', 'existing-bucket'), encryptionKey: new Key(s, 'K'), versioned: false, expiration: Duration.days(7) })),
    );
    expect(problems).toEqual([
      'versioned: applies to a new bucket only; it cannot be combined with bucket',
      'expiration: applies to a new bucket only; it cannot be combined with bucket',
    ]);
  });

  it('refuses two different keys for an existing bucket', () => {
    const problems = problemsOf(
      build((s) => ({
        bucket: Bucket.fromBucketAttributes(s, 'B', { bucketName: 'existing-bucket', encryptionKey: Key.fromKeyArn(s, 'Own', 'arn:aws:kms:eu-west-1:123456789012:key/own') }),
        encryptionKey: Key.fromKeyArn(s, 'Other', 'arn:aws:kms:eu-west-1:123456789012:key/other'),
      })),
    );
    expect(problems).toEqual(['encryptionKey: bucket already names its key (imported with encryptionKey); give one of them']);
  });

  it('checks durations that CloudFormation would reject', () => {
    expect(
      problemsOf(
        build({
          expiration: Duration.hours(36),
          safetyMargin: Duration.minutes(6),
          cronAlarmPeriod: Duration.seconds(90),
        }),
      ),
    ).toEqual([
      'expiration: must be a whole number of days, at least 1 (got 1 day 12 hours)',
      'safetyMargin: must be shorter than timeout (5 minutes) (got 6 minutes)',
      'cronAlarmPeriod: must be a whole number of minutes (got 1 minute 30 seconds)',
    ]);
  });

  it('accepts any missed-run window: no per-mailbox alarm has to look back over it', () => {
    const daily = mailbox({ id: 'daily', schedule: 'rate(3 days)' });
    expect(build({ mailboxes: [daily], missedRunPeriods: 60 })).not.toThrow();
  });

  it('checks the failed-run alarm percentage and the detailed-metrics mailboxes', () => {
    const many = Array.from({ length: 26 }, (_, i) => `m${i}`);
    expect(problemsOf(build({ failedRunAlarmPercent: 0, detailedMetricsMailboxes: ['ok', 'not an id', 'ok'] }))).toEqual([
      'failedRunAlarmPercent: must be greater than 0 and at most 100 (got 0)',
      'detailedMetricsMailboxes[1]: "not an id" is not a mailbox id (letters, digits, ".", "_", "-"; at most 64)',
      'detailedMetricsMailboxes: "ok" is listed more than once',
    ]);
    expect(problemsOf(build({ failedRunAlarmPercent: 101, detailedMetricsMailboxes: many }))).toEqual([
      'failedRunAlarmPercent: must be greater than 0 and at most 100 (got 101)',
      'detailedMetricsMailboxes: at most 25 mailboxes (got 26); the others are in the fleet metrics and mailfetch mailboxes status',
    ]);
    expect(build({ failedRunAlarmPercent: 100, detailedMetricsMailboxes: many.slice(0, 25) })).not.toThrow();
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
