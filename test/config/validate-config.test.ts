import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../lambda/config/config-error';
import { DEFAULT_LIMITS, type MailboxConfig } from '../../lambda/config/mailbox-config';
import { loadConfigFile, parseConfig, parseMailbox } from '../../lambda/config/validate-config';

const EXAMPLE = new URL('../../examples/mailfetch.config.json', import.meta.url).pathname;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailfetch-config-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The problems a ConfigError carries; fails the test when nothing is thrown. */
function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('INVALID_CONFIG');
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

/** A minimal valid mailbox, to be spoiled one field at a time. */
function mailbox(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'box', host: 'pop.example.com', username: 'u', password: { env: 'POP3_PASSWORD' }, ...fields };
}

function problemsOfMailbox(fields: Record<string, unknown>): readonly string[] {
  return problemsOf(() => parseConfig({ mailboxes: [mailbox(fields)] }));
}

function isDeepFrozen(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  return Object.isFrozen(value) && Object.values(value).every(isDeepFrozen);
}

describe('the example configuration', () => {
  it('parses with every default applied, deep-merged, and frozen', async () => {
    const config = await loadConfigFile(EXAMPLE);

    expect(config.mailboxes).toEqual([
      {
        id: 'support',
        host: 'mail.example.org',
        port: 995,
        tls: 'implicit',
        username: 'support@example.org',
        auth: 'auto',
        password: { secretId: 'mailfetch/support', key: 'password' },
        allowPlaintextAuth: false,
        retention: { deleteAfterDays: 30 },
        limits: { maxMessagesPerRun: 2000, maxBytesPerRun: DEFAULT_LIMITS.maxBytesPerRun, maxMessageBytes: 26_214_400 },
        pipelining: true,
        schedule: 'rate(5 minutes)',
      },
      {
        id: 'm365-invoices',
        host: 'outlook.office365.com',
        port: 995,
        tls: 'implicit',
        username: 'invoices@contoso.onmicrosoft.com',
        auth: 'XOAUTH2',
        oauth: {
          grant: 'client_credentials',
          tokenEndpoint: 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/oauth2/v2.0/token',
          clientId: '11111111-1111-1111-1111-111111111111',
          clientSecret: { secretId: 'mailfetch/m365', key: 'clientSecret' },
          scope: 'https://outlook.office365.com/.default',
        },
        allowPlaintextAuth: false,
        retention: 'keep',
        limits: { maxMessagesPerRun: DEFAULT_LIMITS.maxMessagesPerRun, maxBytesPerRun: DEFAULT_LIMITS.maxBytesPerRun, maxMessageBytes: 26_214_400 },
        pipelining: true,
        schedule: 'rate(1 minute)',
      },
    ] satisfies MailboxConfig[]);
    expect(isDeepFrozen(config)).toBe(true);
  });

  it('round-trips a parsed mailbox through parseMailbox (the Lambda event)', async () => {
    const config = await loadConfigFile(EXAMPLE);
    for (const m of config.mailboxes) {
      expect(parseMailbox(JSON.parse(JSON.stringify(m)))).toEqual(m);
    }
  });
});

describe('problems', () => {
  it('reports every problem of a file at once, each with its field path and the mailbox id', () => {
    const problems = problemsOf(() =>
      parseConfig({
        mailboxs: [],
        mailboxes: [
          mailbox({ id: 'support', port: 0, tls: 'tls', hots: 'x', retention: { deleteAfterDays: 0 }, schedule: 'rate(1 minutes)' }),
          { host: 'pop3s://mail.example.com', port: 70000, username: '', password: { secretId: '' } },
          mailbox({ id: 'm365', host: 'mail.example.com:995', auth: 'XOAUTH2', limits: { maxMessageBytes: 6 * 1024 ** 3, maxMesagesPerRun: 5 } }),
          'not a mailbox',
        ],
      }),
    );

    expect(problems).toEqual([
      'mailboxs: unknown field (did you mean "mailboxes"?)',
      'mailboxes[0] (id "support").hots: unknown field (did you mean "host"?)',
      'mailboxes[0] (id "support").tls: must be one of implicit, starttls, none',
      'mailboxes[0] (id "support").port: must be an integer from 1 to 65535, got 0',
      'mailboxes[0] (id "support").retention.deleteAfterDays: must be an integer from 1 to 3650, got 0',
      'mailboxes[0] (id "support").schedule: must be "rate(1 minute)": the unit is singular for 1 and plural otherwise',
      'mailboxes[1].id: is required',
      'mailboxes[1].host: must be a host name or IP address without a scheme (no "pop3s://")',
      'mailboxes[1].port: must be an integer from 1 to 65535, got 70000',
      'mailboxes[1].username: must be a non-empty string, got an empty string',
      'mailboxes[1].password.secretId: must be a non-empty string, got an empty string',
      'mailboxes[2] (id "m365").host: must be a host name or IP address without a port (set "port" instead) or brackets',
      'mailboxes[2] (id "m365").password: auth XOAUTH2 needs "oauth", not "password"',
      'mailboxes[2] (id "m365").limits.maxMesagesPerRun: unknown field (did you mean "maxMessagesPerRun"?)',
      'mailboxes[2] (id "m365").limits.maxMessageBytes: must be an integer from 1 to 5368709120 (5 GiB), got 6442450944',
      'mailboxes[3]: must be an object',
    ]);
  });

  it('says what was given, quoting a number or boolean in quotes, never another string', () => {
    const problems = (fields: Record<string, unknown>): readonly string[] => {
      try {
        parseConfig({ mailboxes: [mailbox(fields)] });
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };

    expect(problems({ port: '995' })).toEqual(['mailboxes[0] (id "box").port: must be an integer from 1 to 65535, got "995", a string: write 995 without quotes']);
    expect(problems({ pipelining: 'false' })).toEqual(['mailboxes[0] (id "box").pipelining: must be true or false, got "false", a string: write false without quotes']);
    expect(problems({ tls: 1 })).toEqual(['mailboxes[0] (id "box").tls: must be one of implicit, starttls, none, got 1']);
    expect(problems({ limits: { maxMessagesPerRun: [] } })).toEqual(['mailboxes[0] (id "box").limits.maxMessagesPerRun: must be a positive integer, got an array']);
    const secretLike = problems({ port: 'hunter2-secret', username: { pass: 'x' } });
    expect(secretLike).toEqual([
      'mailboxes[0] (id "box").port: must be an integer from 1 to 65535, got a string',
      'mailboxes[0] (id "box").username: must be a non-empty string, got an object',
    ]);
  });

  it('puts every problem into the message, one per line', () => {
    let message = '';
    try {
      parseConfig({ mailboxes: [mailbox({ port: 'pop3' }), mailbox({ id: 'two', tls: 'ssl' })] });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(
      'invalid configuration (2 problems):\n' +
        '  - mailboxes[0] (id "box").port: must be an integer from 1 to 65535, got a string\n' +
        '  - mailboxes[1] (id "two").tls: must be one of implicit, starttls, none',
    );
  });

  it('suggests the nearest field for a typo, case-insensitively, and nothing for a stranger', () => {
    expect(problemsOfMailbox({ prot: 995, allowPlainTextAuth: true, colour: 'blue' })).toEqual([
      'mailboxes[0] (id "box").prot: unknown field (did you mean "port"?)',
      'mailboxes[0] (id "box").allowPlainTextAuth: unknown field (did you mean "allowPlaintextAuth"?)',
      'mailboxes[0] (id "box").colour: unknown field',
    ]);
    expect(problemsOfMailbox({ password: { secretID: 'x' } })).toEqual([
      'mailboxes[0] (id "box").password.secretID: unknown field (did you mean "secretId"?)',
      'mailboxes[0] (id "box").password: must be { "secretId": ... }, { "sealed": ... } or { "env": ... }',
    ]);
    expect(problemsOfMailbox({ auth: 'xoauth2', oauth: undefined })).toEqual([
      'mailboxes[0] (id "box").auth: must be one of auto, USER, APOP, PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER, SCRAM-SHA-1, SCRAM-SHA-256, SCRAM-SHA-1-PLUS, SCRAM-SHA-256-PLUS, EXTERNAL (did you mean "XOAUTH2"?)',
    ]);
  });

  it('refuses a literal password, naming the field and never the value', () => {
    const problems = problemsOfMailbox({ password: 'hunter2' });
    expect(problems).toEqual([
      'mailboxes[0] (id "box").password: must be { "secretId": ... }, { "sealed": ... } or { "env": ... }; literal passwords are not allowed in the config file',
    ]);
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('refuses tls "none" unless allowPlaintextAuth is true, and then defaults the port to 110', () => {
    expect(problemsOfMailbox({ tls: 'none' })).toEqual([
      'mailboxes[0] (id "box").tls: "none" would send credentials unencrypted; use "implicit" or "starttls", or set "allowPlaintextAuth": true to accept that',
    ]);
    const config = parseConfig({ mailboxes: [mailbox({ tls: 'none', allowPlaintextAuth: true })] });
    expect(config.mailboxes[0]).toMatchObject({ tls: 'none', port: 110, allowPlaintextAuth: true });
    expect(parseConfig({ mailboxes: [mailbox({ tls: 'starttls' })] }).mailboxes[0]!.port).toBe(110);
  });

  it('refuses duplicate ids, pointing at the first use', () => {
    expect(problemsOf(() => parseConfig({ mailboxes: [mailbox({ id: 'a' }), mailbox({ id: 'b' }), mailbox({ id: 'a' })] }))).toEqual([
      'mailboxes[2] (id "a").id: duplicates the id of mailboxes[0]; ids must be unique',
    ]);
  });

  it('checks the top level', () => {
    expect(problemsOf(() => parseConfig([]))).toEqual(['(top level): must be a JSON object with a "mailboxes" array']);
    expect(problemsOf(() => parseConfig({}))).toEqual(['mailboxes: is required (a non-empty array of mailboxes)']);
    expect(problemsOf(() => parseConfig({ mailboxes: [] }))).toEqual(['mailboxes: must be a non-empty array']);
  });

  it('checks ids, hosts and secret references', () => {
    expect(problemsOfMailbox({ id: 'has space' })).toEqual(['mailboxes[0].id: must be 1 to 64 characters from A-Z a-z 0-9 . _ - (and not "." or "..")']);
    expect(problemsOfMailbox({ id: '..' })).toEqual(['mailboxes[0].id: must be 1 to 64 characters from A-Z a-z 0-9 . _ - (and not "." or "..")']);
    expect(problemsOfMailbox({ id: 'x'.repeat(65) })).toEqual(['mailboxes[0].id: must be 1 to 64 characters from A-Z a-z 0-9 . _ - (and not "." or "..")']);
    for (const host of ['mail.example.com', '192.0.2.10', '2001:db8::1', 'localhost', 'pop.example.com.']) {
      expect(parseConfig({ mailboxes: [mailbox({ host })] }).mailboxes[0]!.host, host).toBe(host);
    }
    for (const host of ['10.0.0.300', 'mail example.com', '-bad.example.com', '']) {
      expect(problemsOfMailbox({ host }), host).toHaveLength(1);
    }
    expect(problemsOfMailbox({ host: '[2001:db8::1]:995' })).toEqual([
      'mailboxes[0] (id "box").host: must be a host name or IP address without a port (set "port" instead) or brackets',
    ]);
    expect(problemsOfMailbox({ password: { env: '1ABC' } })).toEqual([
      'mailboxes[0] (id "box").password.env: must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)',
    ]);
    expect(problemsOfMailbox({ password: { env: 'A', secretId: 'b' } })).toEqual(['mailboxes[0] (id "box").password: must have one of "secretId", "sealed" and "env", not "secretId" and "env"']);
    expect(problemsOfMailbox({ password: { env: 'A', key: 'k' } })).toEqual(['mailboxes[0] (id "box").password.key: unknown field']);
    const sealed = `v1:3:${'A'.repeat(40)}`;
    expect(parseConfig({ mailboxes: [mailbox({ password: { sealed } })] }).mailboxes[0]!.password).toEqual({ sealed });
    // A pasted plaintext password is refused without being quoted.
    expect(problemsOfMailbox({ password: { sealed: 'hunter2-plain' } })).toEqual([
      'mailboxes[0] (id "box").password.sealed: must be a sealed value ("v1:<key version>:<base64url>") from \'mailfetch secrets seal\'',
    ]);
    expect(problemsOfMailbox({ password: { sealed, env: 'A' } })).toEqual(['mailboxes[0] (id "box").password: must have one of "secretId", "sealed" and "env", not "sealed" and "env"']);
    expect(problemsOfMailbox({ password: undefined })).toEqual(['mailboxes[0] (id "box").password: is required (or "oauth" for XOAUTH2/OAUTHBEARER, or "clientCertificate" for EXTERNAL)']);
    expect(problemsOfMailbox({ tlsCa: 'not pem' })).toEqual(['mailboxes[0] (id "box").tlsCa: must be PEM text containing "-----BEGIN CERTIFICATE-----"']);
  });

  it('checks schedules against EventBridge Scheduler syntax', () => {
    for (const schedule of ['rate(1 minute)', 'rate(5 minutes)', 'rate(1 hour)', 'rate(2 days)', 'cron(0/10 * * * ? *)']) {
      expect(parseConfig({ mailboxes: [mailbox({ schedule })] }).mailboxes[0]!.schedule).toBe(schedule);
    }
    const at = 'mailboxes[0] (id "box").schedule';
    expect(problemsOfMailbox({ schedule: 'rate(5 minute)' })).toEqual([`${at}: must be "rate(5 minutes)": the unit is singular for 1 and plural otherwise`]);
    expect(problemsOfMailbox({ schedule: 'rate(0 minutes)' })).toEqual([`${at}: rate value must be at least 1`]);
    expect(problemsOfMailbox({ schedule: 'rate(5 weeks)' })).toEqual([`${at}: rate unit must be minute(s), hour(s) or day(s)`]);
    expect(problemsOfMailbox({ schedule: 'cron(*/5 * * * *)' })).toEqual([
      `${at}: cron(...) must have 6 fields (minutes hours day-of-month month day-of-week year), not 5`,
    ]);
    // The dispatcher evaluates cron itself: what it cannot run is refused here already.
    expect(problemsOfMailbox({ schedule: 'cron(0 * * * * *)' })).toEqual([`${at}: cron(...): exactly one of day-of-month and day-of-week must be "?"`]);
    expect(problemsOfMailbox({ schedule: 'cron(0 25 * * ? *)' })).toEqual([`${at}: cron(...): hours: "25" is not from 0 to 23`]);
    expect(problemsOfMailbox({ schedule: 'every 5 minutes' })).toEqual([`${at}: must be "rate(<N> <unit>)" or "cron(<6 fields>)", e.g. "rate(5 minutes)"`]);
  });
});

describe('oauth', () => {
  const oauth = (fields: Record<string, unknown>): Record<string, unknown> => ({
    password: undefined,
    auth: 'XOAUTH2',
    oauth: { grant: 'refresh_token', tokenEndpoint: 'https://oauth2.googleapis.com/token', clientId: 'c', refreshToken: { secretId: 'rt' }, ...fields },
  });

  it('accepts a refresh_token grant and an http:// endpoint on loopback only', () => {
    expect(parseConfig({ mailboxes: [mailbox(oauth({}))] }).mailboxes[0]!.oauth).toEqual({
      grant: 'refresh_token',
      tokenEndpoint: 'https://oauth2.googleapis.com/token',
      clientId: 'c',
      refreshToken: { secretId: 'rt' },
    });
    for (const tokenEndpoint of ['http://127.0.0.1:8080/token', 'http://localhost/token', 'http://[::1]:9000/token']) {
      expect(parseConfig({ mailboxes: [mailbox(oauth({ tokenEndpoint }))] }).mailboxes[0]!.oauth!.tokenEndpoint).toBe(tokenEndpoint);
    }
    expect(problemsOfMailbox(oauth({ tokenEndpoint: 'http://login.example.com/token' }))).toEqual([
      'mailboxes[0] (id "box").oauth.tokenEndpoint: must be an https:// URL (http:// only for localhost, 127.0.0.1 or ::1)',
    ]);
  });

  it('requires the secret each grant needs, and refuses literal secrets', () => {
    const at = 'mailboxes[0] (id "box").oauth';
    expect(problemsOfMailbox(oauth({ refreshToken: undefined }))).toEqual([`${at}.refreshToken: is required for grant refresh_token`]);
    expect(problemsOfMailbox(oauth({ grant: 'client_credentials', refreshToken: undefined, scope: 's' }))).toEqual([
      `${at}.clientSecret: is required for grant client_credentials`,
    ]);
    expect(problemsOfMailbox(oauth({ clientSecret: 'abc' }))).toEqual([
      `${at}.clientSecret: must be { "secretId": ... }, { "sealed": ... } or { "env": ... }; literal client secrets are not allowed in the config file`,
    ]);
    expect(problemsOfMailbox(oauth({ grant: 'password' }))).toEqual([`${at}.grant: must be one of client_credentials, refresh_token`]);
  });

  it('matches the credential to the mechanism', () => {
    expect(problemsOfMailbox({ ...oauth({}), auth: 'PLAIN' })).toEqual(['mailboxes[0] (id "box").oauth: auth PLAIN needs "password", not "oauth"']);
    expect(problemsOfMailbox({ ...oauth({}), password: { env: 'P' } })).toEqual([
      'mailboxes[0] (id "box").oauth: cannot be combined with "password"; give exactly one of them',
    ]);
    expect(problemsOfMailbox({ password: undefined, auth: 'OAUTHBEARER' })).toEqual(['mailboxes[0] (id "box").oauth: is required for auth OAUTHBEARER']);
  });
});

describe('defaults', () => {
  it('merges under each mailbox: limits field by field, the credential as a whole', () => {
    const config = parseConfig({
      defaults: {
        host: 'pop.example.com',
        password: { secretId: 'shared' },
        limits: { maxMessagesPerRun: 50, maxMessageBytes: 1000 },
        pipelining: false,
      },
      mailboxes: [
        { id: 'a', username: 'a' },
        { id: 'b', username: 'b', host: 'other.example.com', limits: { maxMessageBytes: 2000 }, password: { env: 'B_PASSWORD' } },
        { id: 'c', username: 'c', auth: 'XOAUTH2', oauth: { grant: 'refresh_token', tokenEndpoint: 'https://t.example/token', clientId: 'x', refreshToken: { env: 'RT' } } },
      ],
    });

    const [a, b, c] = config.mailboxes;
    expect(a).toMatchObject({ host: 'pop.example.com', password: { secretId: 'shared' }, pipelining: false, limits: { maxMessagesPerRun: 50, maxMessageBytes: 1000 } });
    expect(b).toMatchObject({ host: 'other.example.com', password: { env: 'B_PASSWORD' }, limits: { maxMessagesPerRun: 50, maxMessageBytes: 2000 } });
    expect(b!.limits.maxBytesPerRun).toBe(DEFAULT_LIMITS.maxBytesPerRun);
    expect(c!.password).toBeUndefined();
    expect(c!.oauth).toBeDefined();
  });

  it('reports a bad default once, at its own path, and refuses an id or unknown field in defaults', () => {
    const problems = problemsOf(() =>
      parseConfig({ defaults: { id: 'x', port: 0, hots: 'h', limits: { maxBytesPerRun: -1 } }, mailboxes: [mailbox({ id: 'a' }), mailbox({ id: 'b' })] }),
    );
    expect(problems).toEqual([
      'defaults.id: cannot be set in defaults: every mailbox needs its own id',
      'defaults.hots: unknown field (did you mean "host"?)',
      'defaults.port: must be an integer from 1 to 65535, got 0',
      'defaults.limits.maxBytesPerRun: must be a positive integer, got -1',
    ]);
  });
});

describe('parseMailbox', () => {
  it('validates one mailbox under the given path', () => {
    expect(parseMailbox(mailbox()).port).toBe(995);
    expect(problemsOf(() => parseMailbox(mailbox({ port: -1 })))).toEqual(['mailbox (id "box").port: must be an integer from 1 to 65535, got -1']);
    expect(problemsOf(() => parseMailbox({ id: 'e' }, 'event'))).toEqual([
      'event (id "e").host: is required',
      'event (id "e").username: is required',
      'event (id "e").password: is required (or "oauth" for XOAUTH2/OAUTHBEARER, or "clientCertificate" for EXTERNAL)',
    ]);
  });
});

describe('loadConfigFile', () => {
  it('names the file, line and column of a syntax error without quoting the text', async () => {
    const file = join(dir, 'broken.json');
    await writeFile(file, '{\n  "mailboxes": [\n    { "id": "a", "password": hunter2secret }\n  ]\n}\n');

    const err = await loadConfigFile(file).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([`${file}: invalid JSON at line 3, column 30: unexpected "h"`]);
    expect((err as Error).message).not.toContain('hunter2secret');
  });

  it('reports a truncated file and a missing file', async () => {
    const file = join(dir, 'truncated.json');
    await writeFile(file, '{ "mailboxes": [');
    await expect(loadConfigFile(file)).rejects.toMatchObject({ problems: [`${file}: invalid JSON at line 1, column 17: unexpected end of file`] });
    const absent = join(dir, 'absent.json');
    await expect(loadConfigFile(absent)).rejects.toMatchObject({
      problems: [`${absent}: no such file; write one with 'mailfetch init', or check the path given to --config (ENOENT)`],
      message: `cannot read the configuration: ${absent}: no such file; write one with 'mailfetch init', or check the path given to --config (ENOENT)`,
    });
    await expect(loadConfigFile(dir)).rejects.toMatchObject({ message: `cannot read the configuration: ${dir}: is a directory; give the path of the JSON file in it (EISDIR)` });
  });

  it('names the file in validation errors and accepts a byte-order mark', async () => {
    const file = join(dir, 'bom.json');
    await writeFile(file, `\uFEFF${JSON.stringify({ mailboxes: [mailbox({ port: 0 })] })}`);
    await expect(loadConfigFile(file)).rejects.toThrow(`invalid configuration in ${file} (1 problem):\n  - mailboxes[0] (id "box").port: must be an integer from 1 to 65535`);
  });
});
