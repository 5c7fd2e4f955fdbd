#!/usr/bin/env node
/**
 * The CDK app: reads the mailbox configuration (the same file the CLI reads; path from the
 * `config` context, `-c config=path` overrides cdk.json), builds the stack and applies the
 * cdk-nag AwsSolutions checks. An invalid configuration stops synth with every problem listed.
 *
 * Context (lib/app-context.ts, README "Deploying"): config (path), stackName (default
 * Mailfetch), alarmEmail, fixedEgressIp, memorySize, timeoutSeconds, secretsKeyArn,
 * bucketName, bucketKeyArn, detailedMetricsMailboxes.
 */
import { resolve } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { isConfigError } from '../lambda/config/config-error';
import { loadConfigFile } from '../lambda/config/validate-config';
import { MailfetchStack } from '../lib/mailfetch-stack';
import { MailFetcherPropsError } from '../lib/props-validation';
import { readAppContext, stackPropsFromContext } from '../lib/app-context';

const app = new App();
try {
  const context = readAppContext(app);
  const config = await loadConfigFile(resolve(context.configPath));
  new MailfetchStack(app, context.stackName, {
    description: 'mailfetch: POP3 mailboxes to S3 on a schedule',
    config,
    ...stackPropsFromContext(context),
  });
} catch (err) {
  if (isConfigError(err) || err instanceof MailFetcherPropsError) {
    process.stderr.write(`mailfetch: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
