import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { readAppContext } from '../../lib/app-context';
import { PROJECT_ROOT } from '../../lib/bundling';

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

describe('readAppContext', () => {
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
        '  - context stackName: must start with a letter and hold only letters, digits and "-" (at most 128)',
        '  - context alarmEmail: must be an e-mail address',
        '  - context fixedEgressIp: must be true or false',
      ].join('\n'),
    );
  });
});
