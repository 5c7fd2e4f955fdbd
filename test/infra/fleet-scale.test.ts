/**
 * Monitoring is flat in the number of mailboxes (issue 9): the alarms, the dashboard and
 * the function's environment of a 1,000-mailbox fleet are those of a 10-mailbox one.
 * One dispatcher schedule serves every mailbox: every resource counts.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
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
/** The bound on the whole stack. */
const MAX_RESOURCES = 120;
/** The bound on the template of 1,000 mailboxes (CloudFormation stops at 1 MB). */
const MAX_TEMPLATE_BYTES = 400 * 1024;

function fleet(size: number): MailboxConfig[] {
  return Array.from({ length: size }, (_, i) => mailbox({ id: `mbx-${String(i).padStart(4, '0')}`, password: { secretId: 'mailfetch/fleet' } }));
}

function synth(size: number): { template: Template; fetcher: MailFetcher; templateBytes: number; mailboxesAsset: unknown[] } {
  const app = testApp();
  const stack = new Stack(app, 'Fleet');
  const fetcher = new MailFetcher(stack, 'Mail', { mailboxes: fleet(size) });
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stack.stackName);
  const templateBytes = statSync(join(assembly.directory, artifact.templateFile)).size;
  const assetPath = join(assembly.directory, fetcher.registrySeed!.mailboxesAsset.assetPath);
  const mailboxesAsset = JSON.parse(readFileSync(assetPath, 'utf8')) as unknown[];
  return { template: Template.fromStack(stack), fetcher, templateBytes, mailboxesAsset };
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

  it('has the same six alarms (five, and the events one), none per mailbox', () => {
    expect(large.fetcher.alarms.all).toHaveLength(6);
    expect(countByType(large.template).get('AWS::CloudWatch::Alarm')).toBe(6);
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

  it('keeps the template under 400 KB: the mailbox list travels as an asset, every mailbox in it', () => {
    expect(large.templateBytes).toBeLessThan(MAX_TEMPLATE_BYTES);
    expect(large.templateBytes - small.templateBytes).toBeLessThan(1024);
    expect(large.mailboxesAsset).toHaveLength(1_000);
    expect(large.mailboxesAsset[999]).toMatchObject({ id: 'mbx-0999', host: 'pop.example.org' });
  });

  it(`adds at most ${MAX_EXTRA_RESOURCES} resources, ${MAX_RESOURCES} in all`, () => {
    const total = (t: Template): number => [...countByType(t)].reduce((sum, [, n]) => sum + n, 0);
    expect(total(large.template) - total(small.template)).toBeLessThanOrEqual(MAX_EXTRA_RESOURCES);
    expect(total(large.template)).toBeLessThanOrEqual(MAX_RESOURCES);
  });
});
