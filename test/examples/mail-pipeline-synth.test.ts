/**
 * examples/mail-pipeline synthesised: the stack the example app deploys (MailfetchStack with
 * the example configuration plus a MailPipeline) routes one mailbox's Mail Stored events
 * to the pipeline function, which may read that mailbox's messages and write its output
 * folder and nothing else; cdk-nag's AwsSolutions checks find nothing unacknowledged.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack, Validations, type App, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, describe, expect, it } from 'vitest';
import { MailPipeline, MailPipelinePropsError } from '../../examples/mail-pipeline/pipeline';
import { MailPipelineStack } from '../../examples/mail-pipeline/pipeline-stack';
import { loadConfigFile } from '../../lambda/config/validate-config';
import { MailFetcher } from '../../lib/mail-fetcher';
import { EXAMPLE_CONFIG_PATH, testApp } from '../infra/test-app';

const MAILBOX = 'm365-invoices';

interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Effect: string;
}

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

/** The example app's stack, in an app with cdk-nag's AwsSolutions checks (as app.ts adds them). */
async function exampleStack(): Promise<{ app: App; stack: MailPipelineStack }> {
  const outdir = mkdtempSync(join(tmpdir(), 'mf-pipeline-synth-'));
  outdirs.push(outdir);
  const app = testApp({ outdir });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new MailPipelineStack(app, 'MailfetchPipeline', { config: await loadConfigFile(EXAMPLE_CONFIG_PATH), pipelineMailbox: MAILBOX });
  return { app, stack };
}

function logicalId(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}

/** `<bucket ARN>/<pattern>` as the template writes an object resource. */
function objectsArn(stack: MailPipelineStack, pattern: string): unknown {
  return { 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stack.fetcher.bucket), 'Arn'] }, `/${pattern}`]] };
}

describe('examples/mail-pipeline synthesised', () => {
  it("routes only the one mailbox's Mail Stored events to the pipeline function, retrying into the dead-letter queue", async () => {
    const { stack } = await exampleStack();
    const template = Template.fromStack(stack);
    const pipelineRules = template.findResources('AWS::Events::Rule', {
      Properties: { Targets: Match.arrayWith([Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalId(stack.pipeline.function), 'Arn'] } })]) },
    });
    expect(Object.keys(pipelineRules)).toHaveLength(1);
    const rule = Object.values(pipelineRules)[0] as { Properties: { EventPattern: unknown; Targets: unknown[] } };
    expect(rule.Properties.EventPattern).toEqual({ source: ['mailfetch'], 'detail-type': ['Mail Stored'], detail: { mailbox: [MAILBOX] } });
    expect(rule.Properties.Targets).toEqual([
      expect.objectContaining({
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(stack.pipeline.deadLetterQueue), 'Arn'] } },
        RetryPolicy: { MaximumEventAgeInSeconds: 6 * 3600, MaximumRetryAttempts: 8 },
      }),
    ]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Environment: { Variables: { OUTPUT_BUCKET: { Ref: logicalId(stack.fetcher.bucket) }, OUTPUT_PREFIX: 'parsed/' } },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(stack.pipeline.function) },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(stack.pipeline.deadLetterQueue), 'Arn'] } } },
    });
  });

  it("may read that mailbox's messages and write its output folder, and no other S3 object", async () => {
    const { stack } = await exampleStack();
    const template = Template.fromStack(stack);
    const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: logicalId(stack.pipeline.function.role!) }] } });
    const statements = Object.values(policies).flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement);
    const s3 = statements.filter((s) => ([] as string[]).concat(s.Action).some((a) => a.startsWith('s3:')));
    expect(s3).toHaveLength(2);
    expect(s3).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Effect: 'Allow', Action: 's3:GetObject', Resource: objectsArn(stack, `messages/${MAILBOX}/*`) }),
        expect.objectContaining({ Effect: 'Allow', Action: 's3:PutObject', Resource: objectsArn(stack, `parsed/${MAILBOX}/*`) }),
      ]),
    );
  });

  it('finds nothing unacknowledged with cdk-nag AwsSolutions', async () => {
    const { app } = await exampleStack();
    let failure: unknown;
    try {
      app.synth();
    } catch (err) {
      failure = err;
    }
    const reportPath = join(app.outdir, 'validation-report.json');
    // The report names every finding; without one the error is something else.
    const report = existsSync(reportPath) ? (JSON.parse(readFileSync(reportPath, 'utf8')) as { pluginReports: { violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[] }) : undefined;
    const findings = (report?.pluginReports ?? []).flatMap((r) => r.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} at ${c.constructPath}`)));
    expect(findings).toEqual([]);
    expect(failure).toBeUndefined();
  });

  it('refuses props that would mix the output with the messages or name no mailbox, listing every problem', async () => {
    const fetcher = new MailFetcher(new Stack(testApp(), 'Props'), 'MailFetcher');
    expect(() => new MailPipeline(fetcher, 'Pipeline', { fetcher, mailbox: '../x', outputPrefix: 'messages/parsed' })).toThrow(
      new MailPipelinePropsError([
        'outputPrefix: output prefix "messages/parsed" must end with "/" and not start with it',
        'mailbox: "../x" is not a mailbox id (letters, digits, ".", "_", "-"; at most 64)',
        'outputPrefix: "messages/parsed" overlaps the fetcher\'s message prefix "messages/"; the output must live apart from the messages',
      ]),
    );
    const config = await loadConfigFile(EXAMPLE_CONFIG_PATH);
    expect(() => new MailPipelineStack(testApp(), 'Typo', { config, pipelineMailbox: 'suport' })).toThrow(
      'pipelineMailbox: "suport" is not a mailbox of the configuration ("support", "m365-invoices")',
    );
  });
});
