/**
 * Helpers for the infrastructure tests: an App with the project's feature flags that skips
 * bundling (and CloudFormation's own template validation, which `npm run synth` runs), the
 * fixture configuration, and a template for given MailFetcher props.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { parseConfig } from '../../lambda/config/validate-config';
import type { AppConfig, MailboxConfig } from '../../lambda/config/mailbox-config';
import { PROJECT_ROOT } from '../../lib/bundling';
import { MailFetcher } from '../../lib/mail-fetcher';
import type { MailFetcherProps } from '../../lib/mail-fetcher-props';

export const FIXTURE_CONFIG_PATH = join(PROJECT_ROOT, 'test/infra/fixtures/mailfetch.config.json');
export const EXAMPLE_CONFIG_PATH = join(PROJECT_ROOT, 'examples/mailfetch.config.json');

/** cdk.json's context: the feature flags the real app runs with. */
export function projectContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  return cdkJson.context;
}

export interface TestAppOptions {
  /** Run NodejsFunction bundling. @default false */
  readonly bundle?: boolean;
  readonly outdir?: string;
}

export function testApp(options: TestAppOptions = {}): App {
  return new App({
    context: { ...projectContext(), ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
    builtinCloudFormationValidation: false,
    ...(options.outdir === undefined ? {} : { outdir: options.outdir }),
  });
}

/** The fixture: a password mailbox (name), client_credentials (complete ARN), refresh_token with cron. */
export function fixtureConfig(): AppConfig {
  return parseConfig(JSON.parse(readFileSync(FIXTURE_CONFIG_PATH, 'utf8')));
}

export function fixtureMailboxes(): readonly MailboxConfig[] {
  return fixtureConfig().mailboxes;
}

/** One mailbox, validated and defaulted like the app does. */
export function mailbox(fields: Record<string, unknown>): MailboxConfig {
  const config = parseConfig({
    mailboxes: [{ id: 'mbx', host: 'pop.example.org', username: 'user', password: { secretId: 'mailfetch/mbx' }, ...fields }],
  });
  const [only] = config.mailboxes;
  if (only === undefined) throw new Error('parseConfig returned no mailbox');
  return only;
}

export interface Fetcher {
  readonly stack: Stack;
  readonly fetcher: MailFetcher;
  readonly template: Template;
}

/** A stack with one MailFetcher built from `props` (the fixture mailboxes unless given). */
export function synthFetcher(props: Partial<MailFetcherProps> = {}, build?: (stack: Stack) => Partial<MailFetcherProps>): Fetcher {
  const app = testApp();
  const stack = new Stack(app, 'Test');
  const extra = build?.(stack) ?? {};
  const fetcher = new MailFetcher(stack, 'MailFetcher', { mailboxes: fixtureMailboxes(), ...props, ...extra });
  return { stack, fetcher, template: Template.fromStack(stack) };
}
