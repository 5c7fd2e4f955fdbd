/**
 * SASL EXTERNAL without a server: the mechanism's one message, when `openSession` chooses it
 * (and refuses it before AUTH), and the private key scrubbed from everything a server says.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { chooseMechanism, openSession, Pop3Error, Pop3ErrorCode, type Pop3SessionOptions, type TraceEvent } from '../../lambda/pop3';
import { parseCapabilities } from '../../lambda/pop3/capabilities';
import { externalMechanism } from '../../lambda/pop3/sasl-external';

const caps = (...lines: string[]) => parseCapabilities(lines.map((l) => Buffer.from(l)));
const OFFERS_EXTERNAL = caps('USER', 'SASL PLAIN LOGIN EXTERNAL');
/** Stand-ins: chooseMechanism looks only at whether they are there. */
const CERTIFICATE = { cert: 'certificate PEM', key: 'key PEM' };
const base: Pop3SessionOptions = { host: 'pop.example.org', username: 'alice' };
const GREETING = '+OK ready';

function choose(options: Partial<Pop3SessionOptions>, offered = OFFERS_EXTERNAL, secure = true): string {
  return chooseMechanism({ ...base, ...options }, offered, GREETING, secure);
}

describe('externalMechanism', () => {
  it('sends the authorization identity as the initial response, empty when there is none, and answers any challenge with nothing', () => {
    const named = externalMechanism('alice@example.org');
    expect(named.name).toBe('EXTERNAL');
    expect(named.initialResponse?.toString('utf8')).toBe('alice@example.org');
    expect(named.respond(Buffer.from('anything'))).toEqual(Buffer.alloc(0));
    expect(externalMechanism().initialResponse).toEqual(Buffer.alloc(0));
  });
});

describe('choosing EXTERNAL', () => {
  it('auto takes EXTERNAL when a client certificate is the only credential, the password mechanisms when there is a password', () => {
    expect(choose({ tlsOptions: CERTIFICATE })).toBe('EXTERNAL');
    expect(choose({ tlsOptions: CERTIFICATE, password: 'pw' })).toBe('PLAIN');
    expect(choose({ tlsOptions: CERTIFICATE, accessToken: 'token' }, caps('SASL XOAUTH2 EXTERNAL'))).toBe('XOAUTH2');
  });

  it('a certificate-only mailbox on a server that does not offer EXTERNAL: UNSUPPORTED naming what it offers', () => {
    expect(() => choose({ tlsOptions: CERTIFICATE }, caps('USER', 'SASL PLAIN'))).toThrow(
      expect.objectContaining({ code: Pop3ErrorCode.UNSUPPORTED, message: 'authentication mechanism EXTERNAL is not available: the server offers SASL PLAIN' }),
    );
  });

  it('explicit EXTERNAL needs a certificate and key, and TLS: UNSUPPORTED otherwise', () => {
    expect(choose({ auth: 'EXTERNAL', tlsOptions: CERTIFICATE })).toBe('EXTERNAL');
    expect(() => choose({ auth: 'EXTERNAL' })).toThrow(/EXTERNAL is not available: no TLS client certificate and key are configured/);
    expect(() => choose({ auth: 'EXTERNAL', tlsOptions: { cert: CERTIFICATE.cert } })).toThrow(/no TLS client certificate and key are configured/);
    expect(() => choose({ auth: 'EXTERNAL', tlsOptions: CERTIFICATE }, OFFERS_EXTERNAL, false)).toThrow(/the connection has no TLS, so no client certificate was presented/);
  });

});

describe('the client key is a session secret', () => {
  let server: net.Server | undefined;
  afterEach(() => server?.close());

  it('registered like the password: a server that quotes it sees *** in every trace line and in the error', async () => {
    // The option's value as it is (a one-line stand-in: the link has no TLS, so it is never parsed).
    const key = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7';
    server = net.createServer((socket) => {
      socket.write(`+OK ready ${key}\r\n`);
      socket.on('data', () => socket.write(`-ERR [AUTH] no such key ${key}\r\n`));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const trace: TraceEvent[] = [];

    const error = await openSession({
      host: '127.0.0.1',
      port,
      tls: 'none',
      allowPlaintextAuth: true,
      username: 'alice',
      password: 'pw',
      auth: 'USER',
      tlsOptions: { cert: CERTIFICATE.cert, key },
      trace: (e) => trace.push(e),
    }).catch((err: unknown) => err);

    expect(error).toBeInstanceOf(Pop3Error);
    expect((error as Pop3Error).code).toBe(Pop3ErrorCode.AUTH_FAILED);
    const shown = [(error as Pop3Error).message, ...trace.map((e) => e.line)];
    expect(shown.some((text) => text.includes('***'))).toBe(true);
    for (const text of shown) expect(text).not.toContain(key);
  });
});
