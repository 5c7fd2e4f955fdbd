/**
 * A TLS client certificate from the command line, in the embedded mode (--local DIR), against
 * a Dovecot that logs users in with SASL EXTERNAL: `mailboxes add --client-certificate FILE
 * --client-key FILE` seals both, `check` shows the EXTERNAL login, `fetch` stores the mail;
 * a wrong pair, a lone flag or a missing file changes nothing; `secrets seal --field clientKey`
 * takes the PEM file on standard input. No output holds a line of the key.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeClientPki, type ClientKeyPair } from '../fixtures/client-pki';
import { requireDovecot, startDovecot, type DovecotInstance } from '../fixtures/dovecot';
import { jsonLines, runMailfetch, type CliResult } from './cli-runner';

/** Every CLI run starts Node and tsx; several of them on a busy 2-core machine. */
const SLOW_TEST_MS = 300_000;

describe.skipIf(!requireDovecot())('mailfetch with a TLS client certificate', () => {
  let dovecot: DovecotInstance;
  let alice: ClientKeyPair;
  let bob: ClientKeyPair;
  let dir: string;
  let local: string[];

  beforeAll(async () => {
    const pki = await makeClientPki(['alice', 'bob']);
    alice = pki.clients.get('alice')!;
    bob = pki.clients.get('bob')!;
    dovecot = await startDovecot({ oauth: false, clientCertificates: { ca: pki.caCert } });
    await dovecot.deliver('alice', [Buffer.from('Subject: one\r\n\r\nhello\r\n')]);
    dir = await mkdtemp(join(tmpdir(), 'mailfetch-client-cert-cli-'));
    local = ['--local', join(dir, 'state')];
    await Promise.all([
      writeFile(join(dir, 'alice.pem'), alice.cert),
      writeFile(join(dir, 'alice.key'), alice.key, { mode: 0o600 }),
      writeFile(join(dir, 'bob.key'), bob.key, { mode: 0o600 }),
      writeFile(
        join(dir, 'box.json'),
        JSON.stringify({ mailboxes: [{ id: 'ext', host: '127.0.0.1', port: dovecot.tlsPort, tlsCa: dovecot.ca.toString('utf8'), username: 'alice', auth: 'EXTERNAL' }] }),
      ),
    ]);
  }, 120_000);
  afterAll(async () => {
    await dovecot?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const keyLines = (): string[] => [alice, bob].flatMap((pair) => pair.key.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----')));
  const mailfetch = async (args: string[], input?: string): Promise<CliResult> => {
    const result = await runMailfetch(args, dir, { MAILFETCH_TABLE: '', MAILFETCH_BUCKET: '' }, input);
    for (const line of keyLines()) expect(`${result.stdout}${result.stderr}`.includes(line), `the output of mailfetch ${args.join(' ')} holds the key`).toBe(false);
    return result;
  };
  const add = (cert: string, key: string): string[] => ['mailboxes', 'add', ...local, '--config', 'box.json', '--mailbox', 'ext', '--client-certificate', cert, '--client-key', key, '--json'];

  it(
    'refuses a key that is not the certificate\'s, a lone flag and a missing file: exit 2, nothing registered',
    async () => {
      const mismatch = await mailfetch(add('alice.pem', 'bob.key'));
      const lone = await mailfetch(['mailboxes', 'add', ...local, '--config', 'box.json', '--mailbox', 'ext', '--client-key', 'alice.key']);
      const missing = await mailfetch(add('alice.pem', 'nowhere.key'));

      expect(mismatch).toMatchObject({
        code: 2,
        stderr: expect.stringContaining('mailbox "ext" clientKey (clientCertificate.key) is not the private key of the certificate in clientCertificate.certificate (subject CN=alice)'),
      });
      expect(mismatch.stderr).toContain('(read from alice.pem and bob.key); nothing was changed');
      expect(lone).toMatchObject({ code: 2, stderr: expect.stringContaining('--client-certificate FILE and --client-key FILE go together') });
      expect(missing).toMatchObject({ code: 2, stderr: expect.stringContaining('--client-key nowhere.key: cannot be read (ENOENT)') });
      const list = await mailfetch(['mailboxes', 'list', ...local, '--json']);
      expect(list.code, list.stderr).toBe(0);
      expect(jsonLines(list.stdout).map((m) => m.mailbox)).not.toContain('ext');
    },
    SLOW_TEST_MS,
  );

  it(
    'add seals the certificate and key; check shows the EXTERNAL login; fetch stores the mail',
    async () => {
      const added = await mailfetch(add('alice.pem', 'alice.key'));
      expect(added.code, added.stderr).toBe(0);
      expect(jsonLines(added.stdout)).toEqual([{ mailbox: 'ext', change: 'added', enabled: true, sealed: ['clientCertificate', 'clientKey'] }]);

      const checked = await mailfetch(['check', ...local, '--mailbox', 'ext', '--json']);
      expect(checked.code, checked.stderr).toBe(0);
      expect(jsonLines(checked.stdout)[0]).toMatchObject({ mailbox: 'ext', ok: true, auth: { mechanism: 'EXTERNAL', result: 'ok' } });
      const text = await mailfetch(['check', ...local, '--mailbox', 'ext']);
      expect(text.stdout).toMatch(/login\s+EXTERNAL: ok/);

      const fetched = await mailfetch(['fetch', ...local, '--mailbox', 'ext', '--json']);
      expect(fetched.code, fetched.stderr).toBe(0);
      expect(jsonLines(fetched.stdout)[0]).toMatchObject({ mailbox: 'ext', status: 'ok', fetched: 1 });
      expect(await dovecot.readLog()).toMatch(/Login: user=<alice>, method=EXTERNAL, /);
    },
    SLOW_TEST_MS,
  );

  it(
    'secrets seal --field clientKey reads the PEM file from standard input, and refuses a certificate in its place',
    async () => {
      const sealed = await mailfetch(['secrets', 'seal', ...local, '--mailbox', 'ext', '--field', 'clientKey'], alice.key);
      expect(sealed.code, sealed.stderr).toBe(0);
      expect(JSON.parse(sealed.stdout) as unknown).toEqual({ sealed: expect.stringMatching(/^v1:\d+:[A-Za-z0-9_-]+$/) });
      const wrong = await mailfetch(['secrets', 'seal', ...local, '--mailbox', 'ext', '--field', 'clientKey'], alice.cert);
      expect(wrong).toMatchObject({ code: 2, stderr: expect.stringContaining('clientKey for mailbox ext on standard input is not a PEM private key') });
    },
    SLOW_TEST_MS,
  );
});
