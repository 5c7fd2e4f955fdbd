/**
 * The POP3 engine against a real Dovecot on 127.0.0.1: every security mode, every
 * mechanism Dovecot offers, and byte-for-byte fetches of many messages, pipelined and not.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSession, Pop3Error, Pop3ErrorCode, type MessageStream, type Pop3Client, type Pop3SessionOptions } from '../../lambda/pop3';
import { dovecotWireForm, requireDovecot, startDovecot, type DovecotInstance } from '../fixtures/dovecot';

async function readAll(stream: MessageStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** A message with 8-bit bytes, dot lines, bare LFs and CRs: what real mail throws at a client. */
function awkwardMessage(i: number, bodyOctets: number): Buffer {
  const body = randomBytes(bodyOctets);
  // Sprinkle line ends and dot-leading lines through the binary body.
  for (let k = 0; k < body.length; k += 61) body[k] = 0x0a;
  for (let k = 1; k < body.length; k += 177) body[k] = 0x2e;
  return Buffer.concat([Buffer.from(`Subject: message ${i}\r\nFrom: a@example.com\r\n\r\n..starts with dots\r\n.\r\n`), body, Buffer.from('\r\nend\r\n')]);
}

describe.skipIf(!requireDovecot())('POP3 engine against Dovecot', () => {
  let dovecot: DovecotInstance;
  const sent: Buffer[] = [];

  beforeAll(async () => {
    dovecot = await startDovecot({ users: [{ name: 'alice', password: 'alice-pw' }, { name: 'bob', password: 'bob-pw' }], extraConfig: 'auth_mechanisms = plain login apop cram-md5 xoauth2 oauthbearer\n' });
    for (let i = 0; i < 120; i++) sent.push(awkwardMessage(i, 200 + ((i * 7919) % 30_000)));
    sent.push(Buffer.from('Subject: no final newline\r\n\r\nlast line'));
    await dovecot.deliver('alice', sent);
  });
  afterAll(async () => dovecot?.stop());

  const base = (): Pop3SessionOptions => ({
    host: '127.0.0.1',
    port: dovecot.port,
    tls: 'starttls',
    tlsOptions: { ca: dovecot.ca },
    username: 'alice',
    password: 'alice-pw',
  });

  async function withSession<T>(options: Pop3SessionOptions, fn: (c: Pop3Client) => Promise<T>): Promise<T> {
    const client = await openSession(options);
    try {
      return await fn(client);
    } finally {
      await client.quit().catch(() => client.close());
    }
  }

  it('STLS: upgrades, verifies the certificate, and asks CAPA again after TLS and after login', async () => {
    const trace: string[] = [];
    await withSession({ ...base(), trace: (e) => trace.push(`${e.direction}: ${e.line}`) }, async (c) => {
      expect(c.secure).toBe(true);
      expect(c.tls).toMatchObject({ authorized: true, protocol: expect.stringMatching(/^TLSv1\.[23]$/) });
      expect(c.capabilities?.pipelining).toBe(true);
      expect(c.capabilities?.stls).toBe(false);
      expect(c.pipelining).toBe(true);
    });
    const client = trace.filter((l) => l.startsWith('client: '));
    // RFC 2595: what was learned before STLS is discarded; CAPA again after TLS and after login.
    expect(client).toEqual(['client: STLS', 'client: CAPA', 'client: AUTH PLAIN ***', 'client: CAPA', 'client: QUIT']);
    expect(trace.join('\n')).not.toContain('alice-pw');
  });

  it('implicit TLS with each mechanism Dovecot offers: USER, PLAIN, LOGIN, CRAM-MD5, APOP', async () => {
    for (const auth of ['USER', 'PLAIN', 'LOGIN', 'CRAM-MD5', 'APOP'] as const) {
      const count = await withSession({ ...base(), port: dovecot.tlsPort, tls: 'implicit', auth }, async (c) => (await c.stat()).count);
      expect(count, auth).toBe(sent.length);
    }
    const log = await dovecot.readLog();
    for (const method of ['PLAIN', 'LOGIN', 'CRAM-MD5', 'APOP']) expect(log).toContain(`method=${method}`);
  });

  it('XOAUTH2 (one step and two step) and OAUTHBEARER, validated by the token endpoint', async () => {
    dovecot.addToken('tok-alice-1', 'alice');
    const before = dovecot.tokenInfoRequests;
    for (const [auth, twoStep] of [['XOAUTH2', false], ['XOAUTH2', true], ['OAUTHBEARER', false]] as const) {
      const opts: Pop3SessionOptions = { ...base(), password: undefined, accessToken: 'tok-alice-1', auth, xoauth2TwoStep: twoStep };
      expect(await withSession(opts, async (c) => (await c.stat()).count), `${auth} ${twoStep}`).toBe(sent.length);
    }
    expect(dovecot.tokenInfoRequests - before).toBeGreaterThanOrEqual(3);
  });

  it('a rejected bearer token is AUTH_FAILED, not a hang, and the token is not in the error', async () => {
    for (const auth of ['XOAUTH2', 'OAUTHBEARER'] as const) {
      const err = await openSession({ ...base(), password: undefined, accessToken: 'not-a-valid-token-123', auth }).catch((e: unknown) => e);
      expect(err, auth).toBeInstanceOf(Pop3Error);
      expect((err as Pop3Error).code).toBe(Pop3ErrorCode.AUTH_FAILED);
      expect((err as Pop3Error).retryable).toBe(false);
      expect(JSON.stringify({ m: (err as Error).message, e: err })).not.toContain('not-a-valid-token-123');
    }
  });

  it('a wrong password is AUTH_FAILED with the [AUTH] code and no password in the error', async () => {
    const err = (await openSession({ ...base(), password: 'wrong-secret-pw' }).catch((e: unknown) => e)) as Pop3Error;
    expect(err.code).toBe(Pop3ErrorCode.AUTH_FAILED);
    expect(err.responseCode).toBe('AUTH');
    expect(err.message).not.toContain('wrong-secret-pw');
    expect(err.command).toBe('AUTH PLAIN');
  });

  it('refuses to send credentials without TLS unless allowed, and logs in when allowed', async () => {
    const err = (await openSession({ ...base(), tls: 'none' }).catch((e: unknown) => e)) as Pop3Error;
    expect(err.code).toBe(Pop3ErrorCode.PLAINTEXT_REFUSED);
    expect(await withSession({ ...base(), tls: 'none', allowPlaintextAuth: true }, async (c) => c.secure)).toBe(false);
  });

  it('fails certificate verification against an unknown CA with TLS_FAILED', async () => {
    const err = (await openSession({ ...base(), port: dovecot.tlsPort, tls: 'implicit', tlsOptions: {} }).catch((e: unknown) => e)) as Pop3Error;
    expect(err.code).toBe(Pop3ErrorCode.TLS_FAILED);
    expect(err.message).toMatch(/not signed by a trusted CA: .* put that CA's certificate \(PEM\) in "tlsCa"/);
    const err2 = (await openSession({ ...base(), tlsOptions: { ca: dovecot.ca, servername: 'mail.example.org' } }).catch((e: unknown) => e)) as Pop3Error;
    expect(err2.code).toBe(Pop3ErrorCode.TLS_FAILED);
    expect(err2.message).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID: the certificate is for .*localhost.*set "tlsServername" to the name the certificate carries/);
  });

  async function fetchEverything(pipelining: boolean): Promise<{ uids: string[]; bodies: Buffer[]; sizes: number[] }> {
    return withSession({ ...base(), pipelining }, async (c) => {
      expect(c.pipelining).toBe(pipelining);
      const [listing, list] = await Promise.all([c.uidl(), c.list()]);
      // All RETRs issued at once: the engine pipelines them (or sends them one by one).
      const streams = listing.entries.map((e) => c.retr(e.number));
      const bodies: Buffer[] = [];
      for (const s of streams) bodies.push(await readAll(await s));
      return { uids: listing.entries.map((e) => e.uid), bodies, sizes: list.map((l) => l.size) };
    });
  }

  it('fetches every message byte-for-byte, pipelined and lock-step, with identical results', async () => {
    const piped = await fetchEverything(true);
    const lockstep = await fetchEverything(false);
    expect(piped.bodies).toHaveLength(sent.length);
    for (let i = 0; i < sent.length; i++) {
      expect(piped.bodies[i]!.equals(dovecotWireForm(sent[i]!)), `message ${i}`).toBe(true);
      expect(lockstep.bodies[i]!.equals(piped.bodies[i]!)).toBe(true);
    }
    expect(lockstep.uids).toEqual(piped.uids);
    expect(new Set(piped.uids).size).toBe(sent.length);
    // LIST sizes are CRLF sizes; the unterminated last message arrives 2 octets longer.
    expect(piped.sizes.slice(0, -1)).toEqual(piped.bodies.slice(0, -1).map((b) => b.length));
  });

  it('TOP returns the header block; UIDL n and LIST n agree with the listings', async () => {
    await withSession(base(), async (c) => {
      const top = await readAll(await c.top(1, 0));
      expect(top.toString('latin1')).toBe('Subject: message 0\r\nFrom: a@example.com\r\n\r\n');
      const listing = await c.uidl();
      expect(await c.uidlOne(2)).toBe(listing.entries[1]!.uid);
      expect((await c.listOne(2)).size).toBe(dovecotWireForm(sent[1]!).length);
      await c.noop();
    });
  });

  it('DELE takes effect only at QUIT: a dropped session deletes nothing, RSET unmarks', async () => {
    await dovecot.deliver('bob', [Buffer.from('Subject: a\r\n\r\na\r\n'), Buffer.from('Subject: b\r\n\r\nb\r\n'), Buffer.from('Subject: c\r\n\r\nc\r\n')]);
    const bob = { ...base(), username: 'bob', password: 'bob-pw' };
    const dropped = await openSession(bob);
    await dropped.dele(1);
    dropped.close();
    const rset = await openSession(bob);
    expect((await rset.stat()).count).toBe(3);
    await rset.dele(1);
    await rset.rset();
    await rset.quit();
    const quitting = await openSession(bob);
    expect((await quitting.stat()).count).toBe(3);
    await quitting.dele(1);
    await expect(quitting.retr(1)).rejects.toMatchObject({ code: Pop3ErrorCode.SERVER_ERROR });
    await quitting.quit();
    expect(await withSession(bob, async (c) => (await c.stat()).count)).toBe(2);
  });
});
