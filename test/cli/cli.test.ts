/**
 * The `mailfetch` command line, run as a child process (`node bin/mailfetch.js ...`)
 * against the fake POP3 server in this process and embedded storage in a temp directory:
 * what an operator types, what they see, and the exit codes scripts rely on.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakePop3, type FakeMessage, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { jsonLines, runMailfetch, type CliResult } from './cli-runner';

/** Distinctive, so finding either one in any output is certainly a leak. */
const PASSWORD = 'correct-horse-battery-7731';
const WRONG_PASSWORD = 'wrong-pony-staple-4412';
const PASSWORD_ENV = 'MF_CLI_TEST_PASSWORD';
const WRONG_PASSWORD_ENV = 'MF_CLI_TEST_WRONG_PASSWORD';
/** The JSON line's leading fields, in order (README "Command line"). */
const JSON_FIELDS = ['mailbox', 'listed', 'new', 'fetched', 'bytes', 'skipped', 'deleted', 'duplicates', 'complete', 'errors'];

/**
 * Each CLI run starts Node, tsx and (for most) the embedded S3/DynamoDB child: about a
 * second or two on an idle machine, many times that on a busy CI runner.
 */
const SLOW_TEST_MS = 120_000;

const message = (uid: string, subject: string, body: string): FakeMessage => ({
  uid,
  bytes: Buffer.from(`From: a@example.org\r\nTo: b@example.org\r\nSubject: ${subject}\r\n\r\n${body}`, 'latin1'),
});

/** Runs the CLI asynchronously: the fake POP3 server answers from this process's event loop. */
function mailfetch(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runMailfetch(args, workDir, { [PASSWORD_ENV]: PASSWORD, [WRONG_PASSWORD_ENV]: WRONG_PASSWORD, ...env });
}

let workDir: string;
let server: FakePop3Server;
let config: string;
let wrongPasswordConfig: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'mailfetch-cli-'));
  server = await startFakePop3({
    user: 'alice',
    password: PASSWORD,
    messages: [message('uid-1', 'one', 'first\r\n'), message('uid-2', 'two', '.dot line\r\n'), message('uid-3', 'three', 'third\r\n')],
  });
  const mailbox = (passwordEnv: string): object => ({
    id: 'box',
    host: '127.0.0.1',
    port: server.port,
    tls: 'none',
    allowPlaintextAuth: true,
    username: 'alice',
    password: { env: passwordEnv },
  });
  config = join(workDir, 'mailfetch.config.json');
  wrongPasswordConfig = join(workDir, 'wrong-password.config.json');
  await writeFile(config, JSON.stringify({ mailboxes: [mailbox(PASSWORD_ENV)] }));
  await writeFile(wrongPasswordConfig, JSON.stringify({ mailboxes: [mailbox(WRONG_PASSWORD_ENV)] }));
});

afterAll(async () => {
  await server?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('mailfetch fetch, check and reset on one local store', () => {
  it('fetches only new mail, checks read-only, and fetches everything again after reset', async () => {
    const local = join(workDir, 'store');

    // Prepare / Act: two fetches.
    const first = await mailfetch(['fetch', '--config', config, '--local', local, '--json']);
    const second = await mailfetch(['fetch', '--config', config, '--local', local, '--json']);

    // Assess: one JSON line each, the documented fields first; the second run finds nothing new.
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const [run1] = jsonLines(first.stdout);
    expect(jsonLines(first.stdout)).toHaveLength(1);
    expect(Object.keys(run1!).slice(0, JSON_FIELDS.length)).toEqual(JSON_FIELDS);
    expect(run1).toMatchObject({ mailbox: 'box', listed: 3, new: 3, fetched: 3, skipped: 0, deleted: 0, duplicates: 0, complete: true, errors: [] });
    expect(run1!.bytes).toBeGreaterThan(0);
    // Each message is a plain .eml file, byte-exact, where the summary says.
    expect(run1!.messageLocation).toBe(`${join(local, 'messages', 'box')}${sep}`);
    expect((await readdir(join(local, 'messages', 'box'))).sort()).toEqual(['uid-1.eml', 'uid-2.eml', 'uid-3.eml']);
    for (const m of server.messages) expect((await readFile(join(local, 'messages', 'box', `${m.uid}.eml`))).equals(m.bytes)).toBe(true);
    expect(second.code).toBe(0);
    expect(jsonLines(second.stdout)).toEqual([expect.objectContaining({ mailbox: 'box', listed: 3, new: 0, fetched: 0, bytes: 0, complete: true, errors: [] })]);

    // check: capabilities, login, counts, and new = 0 from the state; no DELE, nothing removed.
    const commandsBefore = server.commands.length;
    const check = await mailfetch(['check', '--config', config, '--local', local]);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/capabilities\s+TOP, UIDL, RESP-CODES, PIPELINING/);
    expect(check.stdout).toMatch(/login\s+CRAM-MD5: ok/);
    expect(check.stdout).toMatch(/messages\s+3 \(/);
    expect(check.stdout).toMatch(/new\s+0\n/);
    expect(check.stdout).toMatch(/result\s+ok/);
    const checkCommands = server.commands.slice(commandsBefore).map((c) => c.line.split(' ')[0]);
    expect(checkCommands).toContain('QUIT');
    expect(checkCommands).not.toContain('DELE');
    expect(checkCommands).not.toContain('RETR');
    expect(server.messages).toHaveLength(3);

    // reset needs --yes; then the next fetch stores everything again.
    const unconfirmed = await mailfetch(['reset', '--config', config, '--mailbox', 'box', '--local', local]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('--yes');
    const reset = await mailfetch(['reset', '--config', config, '--mailbox', 'box', '--local', local, '--yes']);
    expect(reset.code).toBe(0);
    expect(reset.stdout).toMatch(/box: state reset, \d+ items removed/);
    const third = await mailfetch(['fetch', '--config', config, '--local', local, '--json']);
    expect(jsonLines(third.stdout)).toEqual([expect.objectContaining({ new: 3, fetched: 3, complete: true })]);
  }, SLOW_TEST_MS);
});

describe.concurrent('mailfetch outcomes and exit codes', { timeout: SLOW_TEST_MS }, () => {
  it('check without storage options: reports TLS off, STAT, and "new" from the default store ./.mailfetch (empty: all new), as JSON too', async () => {
    const text = await mailfetch(['check', '--config', config]);
    const json = await mailfetch(['check', '--config', config, '--json']);

    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/tls\s+none: this connection is not encrypted/);
    expect(text.stdout).toMatch(/new\s+3 \(nothing recorded yet under .*\.mailfetch\)/);
    expect(json.code).toBe(0);
    expect(jsonLines(json.stdout)).toEqual([
      expect.objectContaining({
        mailbox: 'box',
        ok: true,
        tls: null,
        auth: { mechanism: 'CRAM-MD5', result: 'ok' },
        capabilities: expect.arrayContaining(['TOP', 'UIDL', 'PIPELINING']),
        messages: 3,
        new: 3,
        newNote: expect.stringMatching(/^nothing recorded yet under .*\.mailfetch$/),
        error: null,
      }),
    ]);
  });

  it('wrong password: exit 1, AUTH_FAILED in the output, no password anywhere', async () => {
    const fetch = await mailfetch(['fetch', '--config', wrongPasswordConfig, '--local', join(workDir, 'wrong'), '--json']);
    const check = await mailfetch(['check', '--config', wrongPasswordConfig]);
    const text = await mailfetch(['fetch', '--config', wrongPasswordConfig, '--local', join(workDir, 'wrong')]);

    expect(text.stdout).toContain('hint: the server refused the credentials');
    expect(fetch.code).toBe(1);
    const [summary] = jsonLines(fetch.stdout);
    expect(summary).toMatchObject({ mailbox: 'box', fetched: 0, complete: false, status: 'error' });
    expect((summary!.errors as { code: string }[]).map((e) => e.code)).toEqual(['AUTH_FAILED']);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/login\s+CRAM-MD5: failed/);
    expect(check.stdout).toMatch(/error\s+AUTH_FAILED: /);
    for (const output of [fetch.stdout, fetch.stderr, check.stdout, check.stderr, text.stdout, text.stderr]) {
      expect(output).not.toContain(WRONG_PASSWORD);
      expect(output).not.toContain(PASSWORD);
    }
  });

  it('an invalid configuration: exit 2 with every problem, nothing run', async () => {
    const bad = join(workDir, 'bad.config.json');
    await writeFile(bad, JSON.stringify({ mailboxes: [{ id: 'x y', host: '127.0.0.1', tls: 'sometimes' }] }));

    const result = await mailfetch(['fetch', '--config', bad, '--local', join(workDir, 'bad')]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`invalid configuration in ${bad}`);
    expect(result.stderr).toMatch(/mailboxes\[0\]\.id: /);
    expect(result.stderr).toMatch(/mailboxes\[0\]\.username: /);
    expect(result.stdout).toBe('');
  });

  it('usage errors: exit 2 naming the flag, the missing option or the unknown mailbox', async () => {
    const [unknownFlag, noConfig, unknownMailbox, badMode, unknownCommand, configWithoutValue] = await Promise.all([
      mailfetch(['fetch', '--config', config, '--frobnicate']),
      mailfetch(['check']),
      mailfetch(['check', '--config', config, '--mailbox', 'nope']),
      mailfetch(['fetch', '--config', config, '--mode', 'sometimes']),
      mailfetch(['fletch']),
      mailfetch(['fetch', '--config']),
    ]);

    expect(unknownFlag).toMatchObject({ code: 2, stdout: '' });
    expect(unknownFlag.stderr).toContain('unknown option --frobnicate');
    expect(unknownFlag.stderr).toContain("Run 'mailfetch fetch --help'");
    expect(noConfig.code).toBe(2);
    expect(noConfig.stderr).toMatch(/no registry: nothing recorded yet under .*\.mailfetch; give --config FILE/);
    expect(unknownMailbox.code).toBe(2);
    expect(unknownMailbox.stderr).toContain('no mailbox "nope"');
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toContain('--mode must be fetch or baseline');
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toContain('unknown command "fletch"');
    expect(configWithoutValue.code).toBe(2);
    expect(configWithoutValue.stderr).toContain('option --config needs a value');
  });

  it('--help: usage for the program and for each command, exit 0', async () => {
    const [main, fetch, check] = await Promise.all([mailfetch(['--help']), mailfetch(['fetch', '--help']), mailfetch(['help', 'check'])]);

    expect(main.code).toBe(0);
    expect(main.stdout).toContain('Usage: mailfetch <command>');
    for (const command of ['check', 'fetch', 'baseline', 'reset', 'demo']) expect(main.stdout).toContain(`  ${command} `);
    expect(fetch.code).toBe(0);
    expect(fetch.stdout).toContain('--mode MODE');
    expect(fetch.stdout).toContain('AWS_ENDPOINT_URL_S3');
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('Usage: mailfetch check');
  });

  it('demo: exits 0 and shows the runs and the object keys', async () => {
    const result = await mailfetch(['demo', '--dir', join(workDir, 'demo')]);

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/listed 4, new 4, fetched 4 /);
    expect(result.stdout).toMatch(/listed 4, new 0, fetched 0 /);
    expect(result.stdout).toMatch(/listed 6, new 2, fetched 2 /);
    for (let n = 1; n <= 6; n++) expect(result.stdout).toContain(`messages/demo/demo-000${n}.eml`);
    expect(result.stdout).toContain(`On disk:     ${join(workDir, 'demo', 'messages', 'demo')}${sep}\n`);
    expect((await readdir(join(workDir, 'demo', 'messages', 'demo'))).sort()).toEqual([1, 2, 3, 4, 5, 6].map((n) => `demo-000${n}.eml`));
  });
});
