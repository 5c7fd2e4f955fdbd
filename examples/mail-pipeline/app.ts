#!/usr/bin/env node
/**
 * The example's CDK app: the mailfetch app (bin/mailfetch-cdk.ts: the configuration file and
 * the same context keys) plus a MailPipeline for one mailbox, checked with cdk-nag. From the
 * repository root:
 *
 *   npx cdk deploy --app 'node --import tsx examples/mail-pipeline/app.ts' -c pipelineMailbox=support
 *
 * Context besides the app's (lib/app-context.ts): pipelineMailbox (default: the
 * configuration's first mailbox), outputPrefix (default parsed/). The stack is named
 * MailfetchPipeline unless `-c stackName=...` says otherwise.
 */
import { resolve } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { isConfigError } from '../../lambda/config/config-error';
import { loadConfigFile } from '../../lambda/config/validate-config';
import { CONTEXT_KEYS, readAppContext, stackPropsFromContext } from '../../lib/app-context';
import { MailFetcherPropsError } from '../../lib/props-validation';
import { MailPipelinePropsError } from './pipeline';
import { MailPipelineStack } from './pipeline-stack';

const DEFAULT_STACK_NAME = 'MailfetchPipeline';

const app = new App();
try {
  const context = readAppContext(app);
  const config = await loadConfigFile(resolve(context.configPath));
  const optional = (key: string): string | undefined => (app.node.tryGetContext(key) as string | undefined) || undefined;
  new MailPipelineStack(app, optional(CONTEXT_KEYS.STACK_NAME) === undefined ? DEFAULT_STACK_NAME : context.stackName, {
    description: 'mailfetch with the example mail pipeline: POP3 mailboxes to S3, one mailbox parsed into attachments and summaries',
    config,
    ...stackPropsFromContext(context),
    ...(optional('pipelineMailbox') === undefined ? {} : { pipelineMailbox: optional('pipelineMailbox') }),
    ...(optional('outputPrefix') === undefined ? {} : { outputPrefix: optional('outputPrefix') }),
  });
} catch (err) {
  if (isConfigError(err) || err instanceof MailFetcherPropsError || err instanceof MailPipelinePropsError) {
    process.stderr.write(`mail-pipeline: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
