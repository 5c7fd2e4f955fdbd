/**
 * The README's "Stack outputs" table names exactly the stack's CfnOutputs (every option
 * that adds one on), and every output the README mentions elsewhere is one of them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/bundling';
import { MailfetchStack } from '../../lib/mailfetch-stack';
import { fixtureConfig, testApp } from './test-app';

afterAll(() => CloudAssembly.cleanupTemporaryDirectories());

const README = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');

/** The first column of the table under the `### Stack outputs` heading. */
function outputsTable(): string[] {
  const section = README.split(/^### Stack outputs$/m)[1]?.split(/^#{2,3} /m)[0] ?? '';
  return [...section.matchAll(/^\| `([A-Za-z0-9]+)` \|/gm)].map((m) => m[1]!);
}

/** Names the README calls outputs anywhere: "output `X`", "outputs `X` and `Y`", "the `X` output". */
function mentionedOutputs(): string[] {
  const names = new Set<string>();
  for (const m of README.matchAll(/outputs? ((?:`[A-Za-z0-9]+`(?:,? (?:and )?)?)+)/g)) {
    for (const name of m[1]!.matchAll(/`([A-Za-z0-9]+)`/g)) names.add(name[1]!);
  }
  for (const m of README.matchAll(/`([A-Za-z0-9]+)` output/g)) names.add(m[1]!);
  return [...names];
}

describe('README stack outputs', () => {
  const stack = new MailfetchStack(testApp(), 'Mailfetch', { config: fixtureConfig(), alarmEmail: 'ops@example.org', fetcher: { fixedEgressIp: true } });
  const outputs = Object.keys(Template.fromStack(stack).findOutputs('*')).sort();

  it('lists exactly the outputs of the stack', () => {
    expect(outputs.length).toBeGreaterThan(0);
    expect(outputsTable().sort()).toEqual(outputs);
  });

  it('mentions no output the stack does not have', () => {
    expect(mentionedOutputs().filter((name) => !outputs.includes(name))).toEqual([]);
  });
});
