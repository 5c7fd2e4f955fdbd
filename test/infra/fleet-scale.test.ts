/**
 * Monitoring is flat in the number of mailboxes (issue 9): the alarms, the dashboard and
 * the function's environment of a 1,000-mailbox fleet are those of a 10-mailbox one.
 * One dispatcher schedule serves every mailbox: every resource counts.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { afterAll, describe, expect, it } from 'vitest';
import type { MailboxConfig } from '../../lambda/config/mailbox-config';
import { MailFetcher } from '../../lib/mail-fetcher';
import { mailbox, testApp } from './test-app';

afterAll(() => CloudAssembly.cleanupTemporaryDirectories());

/** CloudWatch shows at most this many alarms in one alarm-status widget. */
const MAX_ALARMS_PER_STATUS_WIDGET = 100;
/** The bound: 1,000 mailboxes at most this many resources more than 10. */
const MAX_EXTRA_RESOURCES = 2;
/** Per-mailbox resources the dispatcher of issue 9 removes (not this branch's business). */
/** The bound on the whole stack (schedules aside, for now). */
const MAX_RESOURCES = 120;
const STACK_RESOURCE_LIMIT_CONTEXT = '@aws-cdk/core:stackResourceLimit';
/** CloudFormation's resources per stack. */
const CLOUDFORMATION_RESOURCE_LIMIT = 500;

function fleet(size: number): MailboxConfig[] {
  return Array.from({ length: size }, (_, i) => mailbox({ id: `mbx-${String(i).padStart(4, '0')}`, password: { secretId: 'mailfetch/fleet' } }));
}

function synth(size: number): { template: Template; fetcher: MailFetcher } {
  const app = testApp();
  // Room for the 1,000 schedules that are still per mailbox until the dispatcher replaces them.
  app.node.setContext(STACK_RESOURCE_LIMIT_CONTEXT, size + CLOUDFORMATION_RESOURCE_LIMIT);
  const stack = new Stack(app, 'Fleet');
  const fetcher = new MailFetcher(stack, 'Mail', { mailboxes: fleet(size) });
  return { template: Template.fromStack(stack), fetcher };
}

function countByType(template: Template): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of Object.values(template.toJSON().Resources as Record<string, { Type: string }>)) counts.set(r.Type, (counts.get(r.Type) ?? 0) + 1);
  return counts;
}

function only(template: Template, type: string): unknown {
  const found = Object.values(template.findResources(type));
  expect(found, type).toHaveLength(1);
  return found[0];
}

describe('monitoring at 10 and 1,000 mailboxes', () => {
  const small = synth(10);
  const large = synth(1_000);

  it('has the same five alarms, none per mailbox', () => {
    expect(large.fetcher.alarms.all).toHaveLength(5);
    expect(countByType(large.template).get('AWS::CloudWatch::Alarm')).toBe(5);
    expect(large.template.findResources('AWS::CloudWatch::Alarm')).toEqual(small.template.findResources('AWS::CloudWatch::Alarm'));
    expect(large.fetcher.alarms.all.length).toBeLessThanOrEqual(MAX_ALARMS_PER_STATUS_WIDGET);
  });

  it('has the same dashboard, byte for byte', () => {
    expect(only(large.template, 'AWS::CloudWatch::Dashboard')).toEqual(only(small.template, 'AWS::CloudWatch::Dashboard'));
  });

  it('gives the function the same environment (no per-mailbox metric setting)', () => {
    const env = (t: Template): unknown =>
      (Object.values(t.findResources('AWS::Lambda::Function')) as { Properties: { Environment?: { Variables?: Record<string, unknown> } } }[])
        .map((f) => f.Properties.Environment?.Variables)
        .filter((v) => v?.MAILFETCH_BUCKET !== undefined);
    expect(env(large.template)).toEqual(env(small.template));
  });

  it(`adds at most ${MAX_EXTRA_RESOURCES} resources, ${MAX_RESOURCES} in all`, () => {
    const total = (t: Template): number => [...countByType(t)].reduce((sum, [, n]) => sum + n, 0);
    expect(total(large.template) - total(small.template)).toBeLessThanOrEqual(MAX_EXTRA_RESOURCES);
    expect(total(large.template)).toBeLessThanOrEqual(MAX_RESOURCES);
  });
});
