/**
 * Credentials in the template: one KMS key for the sealed values, the Secrets Manager grant
 * by name prefix, and a worker policy whose size does not depend on the number of mailboxes.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/config/validate-config';
import type { MailboxConfig } from '../../lambda/config/mailbox-config';
import { ENV } from '../../lambda/env';
import { MailFetcher } from '../../lib/mail-fetcher';
import type { MailFetcherProps } from '../../lib/mail-fetcher-props';
import { MailfetchStack } from '../../lib/mailfetch-stack';
import { fixtureConfig, projectContext, synthFetcher, testApp } from './test-app';

afterAll(() => CloudAssembly.cleanupTemporaryDirectories());

const SEALED = `v1:1:${'A'.repeat(40)}`;

/** `count` mailboxes: every other one with a secret under the prefix, the rest sealed. */
function fleet(count: number): readonly MailboxConfig[] {
  const mailboxes = Array.from({ length: count }, (_, i) => ({
    id: `box-${i}`,
    host: `pop${i % 7}.example.org`,
    username: `user${i}`,
    password: i % 2 === 0 ? { secretId: `mailfetch/box-${i}`, key: 'password' } : { sealed: SEALED },
  }));
  return parseConfig({ mailboxes }).mailboxes;
}

/** The worker role's policy statements, as JSON. The per-mailbox stack of today exceeds 500 resources: lift CDK's own guard. */
function workerPolicy(props: Partial<MailFetcherProps>): { statements: Record<string, unknown>[]; template: Template } {
  const app = new App({
    context: { ...projectContext(), 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:stackResourceLimit': 0 },
    builtinCloudFormationValidation: false,
  });
  const stack = new Stack(app, 'Fleet');
  new MailFetcher(stack, 'MailFetcher', props);
  const template = Template.fromStack(stack);
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^MailFetcherFunctionRole') }] } });
  const statements = Object.values(policies).flatMap(
    (p) => (p as { Properties: { PolicyDocument: { Statement: Record<string, unknown>[] } } }).Properties.PolicyDocument.Statement,
  );
  return { statements, template };
}

function statementsWith(statements: Record<string, unknown>[], action: string): Record<string, unknown>[] {
  return statements.filter((s) => ([] as unknown[]).concat(s.Action).includes(action));
}

describe('MailFetcher credentials', () => {
  it('gives the worker the same policy for 10 and for 1,000 mailboxes: no statement per secret', () => {
    const ten = workerPolicy({ mailboxes: fleet(10) }).statements;
    const thousand = workerPolicy({ mailboxes: fleet(1_000) }).statements;

    expect(JSON.stringify(thousand).length).toBe(JSON.stringify(ten).length);
    expect(thousand).toEqual(ten);
    expect(JSON.stringify(thousand)).not.toMatch(/box-\d/);
    expect(workerPolicy({}).statements).toEqual(ten);
  });

  it('creates one rotating credentials key, retained with the table, and lets the worker only decrypt this table\'s data keys', () => {
    const { statements, template } = workerPolicy({ mailboxes: fleet(3) });
    const keyId = Object.keys(template.findResources('AWS::KMS::Key'))[0]!;
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResource('AWS::KMS::Key', { Properties: { EnableKeyRotation: true }, DeletionPolicy: 'Retain' });
    const tableId = Object.keys(template.findResources('AWS::DynamoDB::Table'))[0]!;

    const kms = statements.filter((s) => JSON.stringify(s.Resource).includes(keyId));
    expect(kms).toEqual([
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
        Condition: { StringEquals: { 'kms:EncryptionContext:purpose': 'mailfetch-credentials', 'kms:EncryptionContext:table': { Ref: tableId } } },
      },
    ]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.CREDENTIALS_KEY]: { 'Fn::GetAtt': [keyId, 'Arn'] }, [ENV.SECRET_PREFIX]: 'mailfetch/' }) },
    });
  });

  it('grants secrets under the prefix given, and uses a credentials key given instead of creating one', () => {
    const { template, fetcher } = synthFetcher({ mailboxes: [] }, (s) => ({
      secretNamePrefix: 'mail/prod/',
      credentialsKey: Key.fromKeyArn(s, 'Given', 'arn:aws:kms:eu-west-1:123456789012:key/given'),
    }));
    template.resourceCountIs('AWS::KMS::Key', 0);
    expect(fetcher.credentials.secretNamePrefix).toBe('mail/prod/');
    const policy = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policy).toContain(':secret:mail/prod/*');
    expect(policy).toContain('arn:aws:kms:eu-west-1:123456789012:key/given');
  });

  it('grantSeal lets an operator role create and decrypt this table\'s data keys, nothing else', () => {
    const stack = new Stack(testApp(), 'Operators');
    const fetcher = new MailFetcher(stack, 'MailFetcher');
    const operator = new Role(stack, 'Operator', { assumedBy: new ServicePrincipal('ec2.amazonaws.com') });
    fetcher.credentials.grantSeal(operator);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Operator') }],
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Condition: { StringEquals: Match.objectLike({ 'kms:EncryptionContext:purpose': 'mailfetch-credentials' }) },
          }),
        ],
      },
    });
  });

  it('exports the credentials key for the CLI (CredentialsKeyArn)', () => {
    const stack = new MailfetchStack(testApp(), 'Mailfetch', { config: fixtureConfig() });
    Template.fromStack(stack).hasOutput('CredentialsKeyArn', { Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('Credentials'), 'Arn'] } });
  });

  it('the prefix statement is the only Secrets Manager grant', () => {
    const { statements } = workerPolicy({ mailboxes: fleet(4) });
    expect(statementsWith(statements, 'secretsmanager:GetSecretValue')).toHaveLength(1);
    expect(statementsWith(statements, 'secretsmanager:PutSecretValue')).toHaveLength(1);
    expect(statementsWith(statements, 'secretsmanager:DescribeSecret')).toHaveLength(0);
  });
});
