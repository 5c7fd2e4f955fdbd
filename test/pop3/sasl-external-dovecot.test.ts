/**
 * SASL EXTERNAL with a TLS client certificate against a real Dovecot 2.3 that asks every TLS
 * client for a certificate (signed by its client CA) and takes the user from its commonName:
 * implicit TLS and STLS, which authorization identity Dovecot accepts, and every way it
 * fails (no certificate, another CA, another user's certificate) without a byte of the PEM
 * in any error or trace line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSession, Pop3Client, Pop3Error, Pop3ErrorCode, type Pop3SessionOptions, type TraceEvent } from '../../lambda/pop3';
import { externalMechanism } from '../../lambda/pop3/sasl-external';
import { makeClientPki, type ClientKeyPair, type ClientPki } from '../fixtures/client-pki';
import { requireDovecot, startDovecot, type DovecotInstance } from '../fixtures/dovecot';

/** Lines of the key's PEM body: none may appear in an error or a trace line. */
function keyLines(pair: ClientKeyPair): string[] {
  return pair.key.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----'));
}

describe.skipIf(!requireDovecot())('SASL EXTERNAL against Dovecot', () => {
  let dovecot: DovecotInstance;
  let pki: ClientPki;
  let alice: ClientKeyPair;
  let bob: ClientKeyPair;

  beforeAll(async () => {
    pki = await makeClientPki(['alice', 'bob']);
    alice = pki.clients.get('alice')!;
    bob = pki.clients.get('bob')!;
    dovecot = await startDovecot({
      users: [{ name: 'alice', password: 'alice-pw' }, { name: 'bob', password: 'bob-pw' }],
      oauth: false,
      clientCertificates: { ca: pki.caCert },
    });
    await dovecot.deliver('alice', [Buffer.from('Subject: for alice\r\n\r\nhello\r\n')]);
  }, 120_000);
  afterAll(async () => dovecot?.stop());

  const options = (pair: ClientKeyPair | undefined, extra: Partial<Pop3SessionOptions> = {}): Pop3SessionOptions => ({
    host: '127.0.0.1',
    port: dovecot.tlsPort,
    tls: 'implicit',
    tlsOptions: { ca: dovecot.ca, ...(pair ? { cert: pair.cert, key: pair.key } : {}) },
    username: 'alice',
    ...extra,
  });

  /** The Dovecot log lines written while `work` ran. */
  async function logDuring(work: () => Promise<void>): Promise<string> {
    const before = (await dovecot.readLog()).length;
    await work();
    return (await dovecot.readLog()).slice(before);
  }

  async function loginFails(opts: Pop3SessionOptions): Promise<{ error: Pop3Error; trace: TraceEvent[] }> {
    const trace: TraceEvent[] = [];
    const error = await openSession({ ...opts, trace: (e) => trace.push(e) }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(Pop3Error);
    return { error: error as Pop3Error, trace };
  }

  function expectNoPem(texts: readonly string[], pair: ClientKeyPair): void {
    for (const text of texts) {
      expect(text).not.toContain('-----BEGIN');
      for (const line of keyLines(pair)) expect(text.includes(line), 'a line of the private key').toBe(false);
    }
  }

  it('implicit TLS: EXTERNAL with the username as authorization identity logs in as the certificate\'s user', async () => {
    const trace: TraceEvent[] = [];
    const log = await logDuring(async () => {
      const client = await openSession(options(alice, { auth: 'EXTERNAL', trace: (e) => trace.push(e) }));
      expect(await client.stat()).toMatchObject({ count: 1 });
      await client.quit();
    });
    expect(log).toMatch(/Login: user=<alice>, method=EXTERNAL, .*TLS/);
    expect(trace.map((e) => e.line)).toContain('AUTH EXTERNAL ***');
    expectNoPem(trace.map((e) => e.line), alice);
  });

  it('STLS: the certificate goes into the upgraded handshake; auto picks EXTERNAL when it is the only credential', async () => {
    const log = await logDuring(async () => {
      const client = await openSession(options(alice, { port: dovecot.port, tls: 'starttls' }));
      expect(client.secure).toBe(true);
      expect(await client.stat()).toMatchObject({ count: 1 });
      await client.quit();
    });
    expect(log).toMatch(/Login: user=<alice>, method=EXTERNAL, /);
  });

  it('with a password beside the certificate, auto logs in with the password: only EXTERNAL takes the certificate as the identity', async () => {
    const log = await logDuring(async () => {
      const client = await openSession(options(alice, { password: 'alice-pw' }));
      await client.quit();
    });
    expect(log).toMatch(/Login: user=<alice>, method=PLAIN, /);
  });

  it('both authorization identities Dovecot 2.3 accepts: empty (AUTH EXTERNAL =) and the certificate\'s own user', async () => {
    for (const authzid of [undefined, 'alice']) {
      const log = await logDuring(async () => {
        const client = await Pop3Client.connect({ host: '127.0.0.1', port: dovecot.tlsPort, tlsOptions: { ca: dovecot.ca, cert: alice.cert, key: alice.key } });
        await client.auth(externalMechanism(authzid));
        await client.quit();
      });
      expect(log, `authzid ${String(authzid)}`).toMatch(/Login: user=<alice>, method=EXTERNAL, /);
    }
  });

  it('another user\'s certificate: an empty identity would open that user\'s mailbox; the username as identity fails with AUTH_FAILED', async () => {
    // Why openSession sends the username: bob's certificate with an empty identity is bob.
    const asBob = await logDuring(async () => {
      const client = await Pop3Client.connect({ host: '127.0.0.1', port: dovecot.tlsPort, tlsOptions: { ca: dovecot.ca, cert: bob.cert, key: bob.key } });
      await client.auth(externalMechanism());
      await client.quit();
    });
    expect(asBob).toMatch(/Login: user=<bob>, method=EXTERNAL, /);

    const log = await logDuring(async () => {
      const { error, trace } = await loginFails(options(bob, { auth: 'EXTERNAL' }));
      expect(error.code).toBe(Pop3ErrorCode.AUTH_FAILED);
      expectNoPem([error.message, String(error.serverText), ...trace.map((e) => e.line)], bob);
    });
    expect(log).toContain('Master user login attempted without master passdbs');
    expect(log).not.toMatch(/Login: user=<bob>/);
  });

  it('a certificate from a CA the server does not trust: AUTH_FAILED, and no PEM in the error or the trace', async () => {
    const log = await logDuring(async () => {
      const { error, trace } = await loginFails(options(pki.foreign, { auth: 'EXTERNAL' }));
      expect(error.code).toBe(Pop3ErrorCode.AUTH_FAILED);
      expectNoPem([error.message, ...trace.map((e) => e.line)], pki.foreign);
    });
    expect(log).toContain('username not known');
  });

  it('EXTERNAL without a client certificate, or over a link without TLS: UNSUPPORTED before any AUTH is sent', async () => {
    const noCertificate = await loginFails(options(undefined, { auth: 'EXTERNAL' }));
    expect(noCertificate.error).toMatchObject({ code: Pop3ErrorCode.UNSUPPORTED, message: expect.stringContaining('no TLS client certificate and key are configured') });
    const plain = await loginFails(options(alice, { port: dovecot.port, tls: 'none', allowPlaintextAuth: true, auth: 'EXTERNAL' }));
    expect(plain.error).toMatchObject({ code: Pop3ErrorCode.UNSUPPORTED, message: expect.stringContaining('the connection has no TLS') });
    for (const { trace } of [noCertificate, plain]) expect(trace.some((e) => e.direction === 'client' && e.line.startsWith('AUTH'))).toBe(false);
  });

  it('a key that is not the certificate\'s: TLS_FAILED before connecting, naming the cause and not the key', async () => {
    const { error } = await loginFails(options({ cert: alice.cert, key: bob.key }, { auth: 'EXTERNAL' }));
    expect(error.code).toBe(Pop3ErrorCode.TLS_FAILED);
    expect(error.message).toMatch(/client certificate or its key cannot be used: .*key values mismatch/);
    expectNoPem([error.message], bob);
  });
});
