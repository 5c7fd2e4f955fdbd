import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { readAppContext, stackPropsFromContext } from '../../lib/app-context';
import { PROJECT_ROOT } from '../../lib/bundling';
import { EXAMPLE_CONFIG_PATH, projectContext } from './test-app';

const BUCKET_KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/0b9c6d6e-1111-2222-3333-444455556666';
const SECRETS_KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/mrk-7a8b9c';

const dir = mkdtempSync(join(tmpdir(), 'mailfetch-app-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bin/mailfetch-cdk.ts', () => {
  it('stops with every problem of an invalid configuration file and exit code 1, no stack trace', () => {
    const config = join(dir, 'bad.json');
    writeFileSync(config, JSON.stringify({ mailboxes: [{ id: 'a b', host: 'pop.example.org', username: 'u', password: { secretId: 'x' }, port: 0 }] }));
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bin/mailfetch-cdk.ts'], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ config }), CDK_OUTDIR: join(dir, 'cdk.out') },
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^mailfetch: invalid configuration in ${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(2 problems\\):\\n {2}- mailboxes\\[0\\]\\.id: `));
    expect(run.stderr).toContain('mailboxes[0].port: ');
    expect(run.stderr).not.toContain('    at ');
  });
});

describe('bin/mailfetch-cdk.ts with the context a real account sets', () => {
  it('imports the bucket and the keys, sizes the function, lists the detailed mailboxes; cdk-nag passes', () => {
    const outdir = join(dir, 'real.out');
    const context = {
      // cdk.json's feature flags, as `cdk synth` passes them.
      ...projectContext(),
      config: EXAMPLE_CONFIG_PATH,
      stackName: 'Mailfetch-prod',
      bucketName: 'acme-mail-archive',
      bucketKeyArn: BUCKET_KEY_ARN,
      secretsKeyArn: SECRETS_KEY_ARN,
      memorySize: '1024',
      timeoutSeconds: '600',
      detailedMetricsMailboxes: 'support',
      // No bundling: this test is about the template.
      'aws:cdk:bundling-stacks': [],
    };
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bin/mailfetch-cdk.ts'], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: outdir },
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const template = Template.fromJSON(JSON.parse(readFileSync(join(outdir, 'Mailfetch-prod.template.json'), 'utf8')) as Record<string, unknown>);
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1024,
      Timeout: 600,
      Environment: { Variables: Match.objectLike({ MAILFETCH_BUCKET: 'acme-mail-archive', MAILFETCH_DETAILED_METRICS_MAILBOXES: 'support' }) },
    });
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => (p as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement,
    );
    const on = (arn: string): string[] => statements.filter((st) => st.Resource === arn).flatMap((st) => ([] as string[]).concat(st.Action)).sort();
    expect(on(BUCKET_KEY_ARN)).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(on(SECRETS_KEY_ARN)).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']); // PutSecretValue of rotated tokens encrypts
  }, 60_000);
});

describe('readAppContext', () => {
  it('reads the account settings: memory, timeout, existing bucket and keys, detailed mailboxes', () => {
    const app = new App({
      context: {
        config: 'c.json',
        memorySize: 2048,
        timeoutSeconds: '900',
        bucketName: 'acme-mail-archive',
        bucketKeyArn: BUCKET_KEY_ARN,
        secretsKeyArn: SECRETS_KEY_ARN,
        detailedMetricsMailboxes: ['support', 'billing'],
      },
    });
    const context = readAppContext(app);
    expect(context).toEqual({
      configPath: 'c.json',
      stackName: 'Mailfetch',
      fixedEgressIp: false,
      memorySize: 2048,
      timeoutSeconds: 900,
      bucketName: 'acme-mail-archive',
      bucketKeyArn: BUCKET_KEY_ARN,
      secretsKeyArn: SECRETS_KEY_ARN,
      detailedMetricsMailboxes: ['support', 'billing'],
    });
    const props = stackPropsFromContext(context);
    expect(props).toMatchObject({ bucketName: 'acme-mail-archive', bucketKeyArn: BUCKET_KEY_ARN, secretsKeyArn: SECRETS_KEY_ARN });
    expect(props.fetcher).toMatchObject({ fixedEgressIp: false, memorySize: 2048, detailedMetricsMailboxes: ['support', 'billing'] });
    expect(props.fetcher?.timeout?.toSeconds()).toBe(900);
    expect(readAppContext(new App({ context: { config: 'c.json', detailedMetricsMailboxes: 'a, b' } })).detailedMetricsMailboxes).toEqual(['a', 'b']);
  });

  it('refuses malformed account settings, every one at once', () => {
    const app = new App({
      context: { config: 'c.json', memorySize: '1 GB', timeoutSeconds: 1.5, bucketName: 'Bad_Bucket', bucketKeyArn: 'alias/mail', secretsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:alias/x', detailedMetricsMailboxes: [1] },
    });
    const hint = 'a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>; not an alias)';
    expect(() => readAppContext(app)).toThrow(
      [
        'invalid configuration in CDK context (6 problems):',
        '  - context memorySize: must be a whole number of MiB',
        '  - context timeoutSeconds: must be a whole number of seconds',
        `  - context secretsKeyArn: must be ${hint}`,
        '  - context bucketName: must be an S3 bucket name',
        `  - context bucketKeyArn: must be ${hint}`,
        '  - context detailedMetricsMailboxes: must be a list of strings (JSON array, or comma-separated)',
      ].join('\n'),
    );
  });

  it('reads -c strings and cdk.json values', () => {
    const app = new App({ context: { config: 'c.json', alarmEmail: 'ops@example.org', fixedEgressIp: 'true' } });
    expect(readAppContext(app)).toEqual({ configPath: 'c.json', stackName: 'Mailfetch', alarmEmail: 'ops@example.org', fixedEgressIp: true });
    expect(readAppContext(new App({ context: { config: 'c.json', fixedEgressIp: false, stackName: 'Mail-2' } }))).toEqual({
      configPath: 'c.json',
      stackName: 'Mail-2',
      fixedEgressIp: false,
    });
  });

  it('lists every bad context value at once', () => {
    const app = new App({ context: { stackName: '1x', alarmEmail: 'nobody', fixedEgressIp: 'yes' } });
    expect(() => readAppContext(app)).toThrow(
      [
        'invalid configuration in CDK context (4 problems):',
        '  - context config: the configuration file path is missing (set it in cdk.json or pass -c config=path)',
        '  - context stackName: must be a name that starts with a letter and holds only letters, digits and "-" (at most 128)',
        '  - context alarmEmail: must be an e-mail address',
        '  - context fixedEgressIp: must be true or false',
      ].join('\n'),
    );
  });
});
