/**
 * Fleet operation from the command line against DynamoDB Local and s3rver, as an operator
 * does it: register a mailbox disabled, baseline it, enable it, fetch; import a file with
 * adds, updates and removals (dry run first); see health; remove. The CLI runs as a child
 * process pointed at the local endpoints with the AWS SDK's own variables.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambda/local/embedded-aws';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakePop3, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { jsonLines, runMailfetch, type CliResult } from './cli-runner';

const PASSWORD = 'fleet-pass-5521';
const PASSWORD_ENV = 'MF_FLEET_PASSWORD';
const WRONG_PASSWORD_ENV = 'MF_FLEET_WRONG_PASSWORD';
/** Every CLI run starts Node and tsx; a dozen of them on a busy 2-core machine. */
const SLOW_TEST_MS = 300_000;
const TABLE = ['--table', 'fleet-state'];
const STORAGE = ['--bucket', 'fleet-mail', ...TABLE, '--force-path-style', '--create-missing'];

describe('mailfetch mailboxes against DynamoDB Local', () => {
  let dynamo: LocalDynamo;
  let s3: LocalS3;
  let pop3: FakePop3Server;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    [dynamo, s3, pop3] = await Promise.all([
      startDynamoDbLocal(),
      startS3rver(),
      startFakePop3({ password: PASSWORD, messages: ['old-1', 'old-2', 'old-3'].map((uid) => ({ uid, bytes: Buffer.from(`Subject: ${uid}\r\n\r\nold\r\n`) })) }),
    ]);
    dir = await mkdtemp(join(tmpdir(), 'mailfetch-fleet-'));
    env = {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      // s3rver stores aws-chunked framing verbatim; real S3 does not need this.
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      [PASSWORD_ENV]: PASSWORD,
      [WRONG_PASSWORD_ENV]: 'not-it-8812',
      MAILFETCH_TABLE: '',
      MAILFETCH_BUCKET: '',
    };
  }, 120_000);
  afterAll(async () => {
    await Promise.all([dynamo?.stop(), s3?.stop(), pop3?.close()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const mailfetch = (...args: string[]): Promise<CliResult> => runMailfetch(args, dir, env);
  const box = (id: string, fields: Record<string, unknown> = {}): object => ({
    id,
    host: '127.0.0.1',
    port: pop3.port,
    tls: 'none',
    allowPlaintextAuth: true,
    username: 'alice',
    password: { env: PASSWORD_ENV },
    ...fields,
  });
  const configFile = async (name: string, ...mailboxes: object[]): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, JSON.stringify({ mailboxes }));
    return path;
  };
  const listed = async (): Promise<Record<string, unknown>[]> => jsonLines((await mailfetch('mailboxes', 'list', ...TABLE, '--json')).stdout);

  it('add disabled, refuse to fetch it, check it, baseline, enable, fetch only new mail; health in status', async () => {
    const file = await configFile('support.json', box('support'));

    const added = await mailfetch('mailboxes', 'add', '--config', file, '--disabled', ...TABLE, '--create-missing', '--json');
    const refused = await mailfetch('fetch', '--mailbox', 'support', ...STORAGE);
    const check = await mailfetch('check', '--mailbox', 'support', '--bucket', 'fleet-mail', ...TABLE, '--force-path-style', '--json');
    const baseline = await mailfetch('baseline', '--mailbox', 'support', ...STORAGE, '--json');
    const enabled = await mailfetch('mailboxes', 'enable', '--mailbox', 'support', ...TABLE);
    pop3.deliver('Subject: new\r\n\r\nnew mail\r\n', { uid: 'new-1' });
    const fetched = await mailfetch('fetch', ...STORAGE, '--json');
    const status = await mailfetch('mailboxes', 'status', ...TABLE, '--json');

    expect(added.stderr).toBe('');
    expect(jsonLines(added.stdout)).toEqual([{ mailbox: 'support', change: 'added', enabled: false }]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('mailbox "support" is disabled');
    expect(refused.stderr).toContain("'mailfetch baseline --mailbox support'");
    expect(check.code).toBe(0);
    expect(jsonLines(check.stdout)).toEqual([expect.objectContaining({ mailbox: 'support', ok: true, messages: 3, new: 3 })]);
    expect(baseline.code).toBe(0);
    expect(jsonLines(baseline.stdout)).toEqual([expect.objectContaining({ mailbox: 'support', mode: 'baseline', new: 3, fetched: 0 })]);
    expect(enabled).toMatchObject({ code: 0, stdout: 'support: enabled\n' });
    expect(fetched.code).toBe(0);
    expect(jsonLines(fetched.stdout)).toEqual([expect.objectContaining({ mailbox: 'support', listed: 4, new: 1, fetched: 1, errors: [] })]);
    expect(jsonLines(status.stdout)).toEqual([
      expect.objectContaining({ mailbox: 'support', health: 'ok', enabled: true, consecutiveFailures: 0, backlog: 0, lastRunStatus: 'ok', lastAction: 'fetch', lastSuccessAt: expect.any(String) }),
    ]);
  }, SLOW_TEST_MS);

  it('import: a dry run reports and writes nothing; the import adds, updates and removes, keeping enabled; status puts the failing mailbox first', async () => {
    await mailfetch('mailboxes', 'add', '--config', await configFile('old.json', box('old')), ...TABLE);
    const fleet = await configFile(
      'fleet.json',
      box('support', { limits: { maxMessagesPerRun: 50 } }),
      box('billing', { password: { env: WRONG_PASSWORD_ENV } }),
    );
    const before = await listed();

    const dryRun = await mailfetch('mailboxes', 'import', '--config', fleet, '--dry-run', ...TABLE);
    const afterDryRun = await listed();
    const imported = await mailfetch('mailboxes', 'import', '--config', fleet, ...TABLE, '--json');
    const after = await listed();
    const billing = await mailfetch('fetch', '--mailbox', 'billing', ...STORAGE, '--json');
    const status = await mailfetch('mailboxes', 'status', ...TABLE, '--json');
    const table = await mailfetch('mailboxes', 'status', ...TABLE);

    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toMatch(/^updated\s+support: limits$/m);
    expect(dryRun.stdout).toMatch(/^added\s+billing$/m);
    expect(dryRun.stdout).toMatch(/^removed\s+old$/m);
    expect(dryRun.stdout).toContain('dry run, nothing written: would leave 1 added, 1 updated, 1 removed, 0 unchanged');
    expect(afterDryRun).toEqual(before);
    expect(jsonLines(imported.stdout)).toEqual([
      { mailbox: 'support', change: 'updated', fields: ['limits'], dryRun: false },
      { mailbox: 'billing', change: 'added', dryRun: false },
      { mailbox: 'old', change: 'removed', dryRun: false },
    ]);
    expect(after.map((m) => [m.mailbox, m.enabled, m.configVersion])).toEqual([['billing', true, 1], ['support', true, 2]]);
    expect(after.find((m) => m.mailbox === 'support')).toMatchObject({ config: { limits: { maxMessagesPerRun: 50 } } });
    expect(billing.code).toBe(1);
    expect(jsonLines(status.stdout).map((s) => [s.mailbox, s.health, s.consecutiveFailures, s.lastErrorCode])).toEqual([
      ['billing', 'failing', 1, 'AUTH_FAILED'],
      ['support', 'ok', 0, null],
    ]);
    expect(table.stdout.split('\n')[0]).toMatch(/^MAILBOX\s+HEALTH\s+LAST RUN\s+LAST SUCCESS\s+FAILURES\s+BACKLOG\s+LAST ERROR$/);
    expect(table.stdout.split('\n')[1]).toMatch(/^billing\s+failing\s+\d+ s ago\s+never\s+1\s+0\s+AUTH_FAILED: /);
    for (const output of [billing.stdout, billing.stderr, status.stdout, table.stdout]) expect(output).not.toContain('not-it-8812');
  }, SLOW_TEST_MS);

  it('remove: gone from the registry and refused by fetch; a second remove is MAILBOX_NOT_REGISTERED; reset works from the registry', async () => {
    const removed = await mailfetch('mailboxes', 'remove', '--mailbox', 'billing', ...TABLE);
    const again = await mailfetch('mailboxes', 'remove', '--mailbox', 'billing', ...TABLE);
    const fetchRemoved = await mailfetch('fetch', '--mailbox', 'billing', ...STORAGE);
    const reset = await mailfetch('reset', '--mailbox', 'support', '--yes', ...STORAGE, '--json');

    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain('removed billing');
    expect((await listed()).map((m) => m.mailbox)).toEqual(['support']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('MAILBOX_NOT_REGISTERED: mailbox "billing" is not registered in table fleet-state');
    expect(fetchRemoved.code).toBe(2);
    expect(fetchRemoved.stderr).toContain('no mailbox "billing" in the registry');
    expect(reset.code).toBe(0);
    expect(jsonLines(reset.stdout)).toEqual([{ mailbox: 'support', removed: expect.any(Number) }]);
  }, SLOW_TEST_MS);

  it('add refuses a taken id and an invalid file, changing nothing', async () => {
    const taken = await mailfetch('mailboxes', 'add', '--config', await configFile('taken.json', box('fresh'), box('support')), ...TABLE);
    const invalid = await mailfetch('mailboxes', 'add', '--config', await configFile('bad.json', { id: 'bad', host: '127.0.0.1' }), ...TABLE);

    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('MAILBOX_EXISTS: mailbox "support" is already registered');
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/mailboxes\[0\] \(id "bad"\)\.username: /);
    expect((await listed()).map((m) => m.mailbox)).toEqual(['support']);
  }, SLOW_TEST_MS);
});
