/**
 * Errors a new user meets before any mail moves: each says what is wrong, what was given
 * and what to do, and exits 2 (nothing attempted), instead of failing a mailbox with
 * `UNKNOWN: Region is missing` or calling a missing file an invalid configuration.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runMailfetch } from './cli-runner';

const dir = mkdtempSync(join(tmpdir(), 'mailfetch-setup-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(
  join(dir, 'mailfetch.config.json'),
  JSON.stringify({ mailboxes: [{ id: 'inbox', host: '127.0.0.1', port: 9, tls: 'none', allowPlaintextAuth: true, username: 'u', password: { env: 'PW' } }] }),
);

/** No region, no credentials, no shared config files, no instance metadata: a bare machine. */
const BARE_AWS = {
  AWS_REGION: undefined,
  AWS_DEFAULT_REGION: undefined,
  AWS_PROFILE: undefined,
  AWS_ACCESS_KEY_ID: undefined,
  AWS_SECRET_ACCESS_KEY: undefined,
  AWS_SESSION_TOKEN: undefined,
  AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
  AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
  AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
  AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
  MAILFETCH_BUCKET: undefined,
  MAILFETCH_TABLE: undefined,
};

describe('setup errors name the cause and the fix', () => {
  const fetchFromAws = ['fetch', '--config', 'mailfetch.config.json', '--bucket', 'b', '--table', 't'];

  it('no AWS region: exit 2 before any mailbox runs, saying what to set', async () => {
    const result = await runMailfetch(fetchFromAws, dir, BARE_AWS);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('no AWS region is configured: set AWS_REGION (e.g. AWS_REGION=eu-west-1)');
    expect(result.stderr).toContain('./.mailfetch');
  });

  it('no AWS credentials: exit 2, naming the ways to provide them', async () => {
    const result = await runMailfetch(fetchFromAws, dir, { ...BARE_AWS, AWS_REGION: 'eu-west-1' });

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/no AWS credentials were found \(.+\): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  });

  it('a configuration file that is not there is not called invalid: it says how to write one', async () => {
    const result = await runMailfetch(['check', '--config', 'absent.json'], dir);

    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`mailfetch: cannot read the configuration: ${join(dir, 'absent.json')}: no such file; write one with 'mailfetch init', or check the path given to --config (ENOENT)\n`);
  });
});
