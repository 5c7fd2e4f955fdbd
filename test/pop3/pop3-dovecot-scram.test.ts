/**
 * SCRAM against a real Dovecot (2.3, which computes SCRAM from the {PLAIN} passwords of the
 * fixture's passwd-file): SCRAM-SHA-256 and SCRAM-SHA-1 over implicit TLS and STLS, with
 * Dovecot's log confirming the mechanism; `auto` choosing SCRAM-SHA-256; a wrong password;
 * and Dovecot 2.3 offering no -PLUS form (channel binding came with Dovecot 2.4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSession, Pop3Error, Pop3ErrorCode, type Pop3SessionOptions } from '../../lambda/pop3';
import { requireDovecot, startDovecot, type DovecotInstance } from '../fixtures/dovecot';

const ALICE = { name: 'alice', password: 'alice-pw' };
/** Non-ASCII, and the "," and "=" of SCRAM's message syntax. */
const BOB = { name: 'bob', password: 'pä$$-wörd,=€' };

describe.skipIf(!requireDovecot())('SCRAM against Dovecot', () => {
  let dovecot: DovecotInstance;

  beforeAll(async () => {
    dovecot = await startDovecot({ users: [ALICE, BOB], oauth: false, authMechanisms: 'plain login scram-sha-1 scram-sha-256' });
    await dovecot.deliver(ALICE.name, [Buffer.from('Subject: one\r\n\r\nbody\r\n')]);
  });
  afterAll(async () => dovecot?.stop());

  const implicit = (): Pop3SessionOptions => ({ host: '127.0.0.1', port: dovecot.tlsPort, tls: 'implicit', tlsOptions: { ca: dovecot.ca }, username: ALICE.name, password: ALICE.password });
  const stls = (): Pop3SessionOptions => ({ ...implicit(), port: dovecot.port, tls: 'starttls' });

  /** Dovecot's login lines (auth_verbose) since `from` characters of its log. */
  async function loginsSince(from: number): Promise<string[]> {
    return (await dovecot.readLog()).slice(from).split('\n').filter((l) => l.includes('Login: user=<'));
  }

  async function logsIn(options: Pop3SessionOptions): Promise<{ trace: string[]; count: number; bound: boolean }> {
    const trace: string[] = [];
    const client = await openSession({ ...options, trace: (e) => trace.push(`${e.direction}: ${e.line}`) });
    const bound = (await client.channelBinding()) !== undefined;
    const count = (await client.stat()).count;
    await client.quit();
    return { trace, count, bound };
  }

  it('SCRAM-SHA-256 and SCRAM-SHA-1 log in over implicit TLS and after STLS, as Dovecot\'s log confirms', async () => {
    for (const auth of ['SCRAM-SHA-256', 'SCRAM-SHA-1'] as const) {
      for (const [mode, options] of [['implicit TLS', implicit()], ['STLS', stls()]] as const) {
        const from = (await dovecot.readLog()).length;
        const { trace, count, bound } = await logsIn({ ...options, auth });
        expect(count, `${auth} ${mode}`).toBe(1);
        expect(trace, `${auth} ${mode}`).toContain(`client: AUTH ${auth} ***`);
        // Over TLS the client could bind; Dovecot 2.3 offers no -PLUS, so the GS2 flag was "y", which it accepts.
        expect(bound).toBe(true);
        const logins = await loginsSince(from);
        expect(logins, `${auth} ${mode}`).toHaveLength(1);
        expect(logins[0]).toContain(`method=${auth},`);
        expect(logins[0]).toContain('TLS');
      }
    }
  });

  it('a non-ASCII password holding "," and "=" (which SASLprep leaves as it is)', async () => {
    const from = (await dovecot.readLog()).length;
    const { count } = await logsIn({ ...implicit(), username: BOB.name, password: BOB.password, auth: 'SCRAM-SHA-256' });
    expect(count).toBe(0);
    expect((await loginsSince(from))[0]).toContain('user=<bob>, method=SCRAM-SHA-256,');
  });

  it('auto picks SCRAM-SHA-256 when Dovecot offers it, over TLS and over an allowed plaintext link', async () => {
    for (const options of [implicit(), { ...implicit(), port: dovecot.port, tls: 'none' as const, allowPlaintextAuth: true }]) {
      const from = (await dovecot.readLog()).length;
      const { trace } = await logsIn(options);
      expect(trace).toContain('client: AUTH SCRAM-SHA-256 ***');
      expect((await loginsSince(from))[0]).toContain('method=SCRAM-SHA-256,');
    }
  });

  it('a wrong password fails cleanly with AUTH_FAILED, and neither the password nor the proof shows', async () => {
    for (const auth of ['SCRAM-SHA-256', 'SCRAM-SHA-1'] as const) {
      const trace: string[] = [];
      const err = (await openSession({ ...implicit(), auth, password: 'wrong-secret-pw', trace: (e) => trace.push(e.line) }).catch((e: unknown) => e)) as Pop3Error;
      expect(err).toBeInstanceOf(Pop3Error);
      expect(err.code, auth).toBe(Pop3ErrorCode.AUTH_FAILED);
      expect(err.responseCode).toBe('AUTH');
      expect(err.command).toBe(`AUTH ${auth}`);
      const shown = JSON.stringify({ message: err.message, err, trace });
      expect(shown).not.toContain('wrong-secret-pw');
      // Every answer went out as "***": no client-first, client-final or proof in a trace.
      expect(trace.filter((l) => !/^(CAPA|QUIT|\+|-ERR|\.)/.test(l) && l !== '***' && !l.startsWith(`AUTH ${auth}`))).toEqual([]);
    }
  });

  it('Dovecot 2.3 offers no -PLUS mechanism: an explicit one is UNSUPPORTED', async () => {
    const client = await openSession(implicit());
    const err = (await openSession({ ...implicit(), auth: 'SCRAM-SHA-256-PLUS' }).catch((e: unknown) => e)) as Pop3Error;
    await client.quit();
    expect(err.code).toBe(Pop3ErrorCode.UNSUPPORTED);
    expect(err.message).toMatch(/SCRAM-SHA-256-PLUS is not available: the server offers SASL PLAIN LOGIN SCRAM-SHA-1 SCRAM-SHA-256/);
  });
});
