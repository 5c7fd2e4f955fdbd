/**
 * Adversarial review of SCRAM against a real Dovecot (2.3) (issue 13). RFC 5802 has the client
 * prepare the password with SASLprep; Dovecot 2.3 computes SCRAM from the password as stored,
 * unprepared. For a password SASLprep changes (a decomposed accent, a no-break space, a
 * trademark sign, a soft hyphen), the two disagree: the right password fails SCRAM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSession, Pop3ErrorCode, type Pop3SessionOptions } from '../../lambda/pop3';
import { requireDovecot, startDovecot, type DovecotInstance } from '../fixtures/dovecot';
import { errorOf } from './pop3-test-kit';

/** Passwords SASLprep changes: NFKC composes or replaces, C.1.2 maps to SPACE, B.1 to nothing. */
const USERS = [
  { name: 'nfd', password: 'cafe\u0301-pw-1' },
  { name: 'nbsp', password: 'my\u00a0secret-2' },
  { name: 'tm', password: 'Brand\u2122-pw-3' },
  { name: 'shy', password: 'pass\u00adword-4' },
];

describe.skipIf(!requireDovecot())('passwords that SASLprep changes, against Dovecot', () => {
  let dovecot: DovecotInstance;

  beforeAll(async () => {
    dovecot = await startDovecot({ users: USERS, oauth: false, authMechanisms: 'plain login scram-sha-1 scram-sha-256' });
  }, 60_000);
  afterAll(async () => dovecot?.stop());

  const options = (user: (typeof USERS)[number], extra: Partial<Pop3SessionOptions> = {}): Pop3SessionOptions => ({
    host: '127.0.0.1',
    port: dovecot.tlsPort,
    tlsOptions: { ca: dovecot.ca },
    username: user.name,
    password: user.password,
    ...extra,
  });

  /** Dovecot's login lines (auth_verbose) since `from` characters of its log. */
  async function loginsSince(from: number): Promise<string[]> {
    return (await dovecot.readLog()).slice(from).split('\n').filter((l) => l.includes('Login: user=<'));
  }

  it('FINDING: auto picks SCRAM-SHA-256, which Dovecot 2.3 refuses for the right password: AUTH_FAILED (wrong credentials, not retried) where PLAIN, auto\'s choice before SCRAM, logs in', async () => {
    for (const user of USERS) {
      const from = (await dovecot.readLog()).length;

      const client = await openSession(options(user)).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));

      expect(client, user.name).not.toBeInstanceOf(Error);
      if (client instanceof Error) continue;
      await client.quit();
      const logins = await loginsSince(from);
      expect(logins, user.name).toHaveLength(1);
      expect(logins[0]).toContain('method=PLAIN,');
    }
  });

  it('SCRAM configured on purpose prepares the password as RFC 5802 says, and Dovecot 2.3 refuses it: AUTH_FAILED', async () => {
    for (const user of USERS) {
      const err = await errorOf(openSession(options(user, { auth: 'SCRAM-SHA-256' })));

      expect(err.code, user.name).toBe(Pop3ErrorCode.AUTH_FAILED);
    }
  });
});
