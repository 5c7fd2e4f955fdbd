/**
 * SCRAM against the fake server, whose SCRAM is written apart from the client's and binds to
 * its own TLS session: the -PLUS forms over TLS 1.3 (tls-exporter) and TLS 1.2
 * (tls-server-end-point), implicit and after STLS; RFC 5802's downgrade protection; a
 * binding that differs (the far end of a man in the middle); and every way a server can
 * misbehave, each ending in AUTH_CANCELLED with "*" on the wire, or AUTH_FAILED where the
 * server itself refuses.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSession, Pop3ErrorCode, type AuthMechanismName, type Pop3SessionOptions } from '../../lambda/pop3';
import type { FakePop3Options, FakePop3Profile, FakePop3Server } from '../fixtures/fake-pop3-server';
import { makeTestPki, type TestPki } from '../fixtures/test-ca';
import { closeServers, errorOf, fake } from './pop3-test-kit';

const ALL_SCRAM = 'SASL PLAIN SCRAM-SHA-1 SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-256-PLUS';
const MESSAGE = { uid: 'u1', bytes: Buffer.from('Subject: hi\r\n\r\nbody\r\n') };

let pki: TestPki;
beforeAll(async () => {
  pki = await makeTestPki();
});
afterEach(closeServers);

type Mode = 'implicit' | 'starttls';

/** A TLS fake server offering `sasl`, implicit or with STLS. */
function tlsServer(mode: Mode, extra: FakePop3Options = {}, sasl = ALL_SCRAM): Promise<FakePop3Server> {
  return fake({ pki, messages: [MESSAGE], capabilities: ['USER', 'UIDL', sasl], ...(mode === 'implicit' ? { tls: 'implicit' } : { stls: true }), ...extra });
}

function tlsOpts(server: FakePop3Server, mode: Mode, extra: Partial<Pop3SessionOptions> = {}): Pop3SessionOptions {
  return { host: '127.0.0.1', port: server.port, tls: mode, tlsOptions: { ca: pki.caCert }, username: 'alice', password: 'secret', ...extra };
}

/** The lines the server received, without the session number. */
const wire = (server: FakePop3Server): string[] => server.commands.map((c) => c.line);

/** The GS2 header of the client-first message sent with `AUTH <mechanism> <initial response>`. */
function gs2Sent(server: FakePop3Server): string {
  const auth = wire(server).find((l) => l.startsWith('AUTH '))!;
  const first = Buffer.from(auth.split(' ')[2]!, 'base64').toString('utf8');
  return first.slice(0, first.indexOf(',n=') + 1);
}

describe('SCRAM-*-PLUS, bound to the TLS connection', () => {
  for (const [version, type] of [['TLSv1.3', 'tls-exporter'], ['TLSv1.2', 'tls-server-end-point']] as const) {
    for (const mode of ['implicit', 'starttls'] as const) {
      it(`${version}, ${mode === 'implicit' ? 'implicit TLS' : 'STLS'}: SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS bind with ${type}`, async () => {
        for (const auth of ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS'] as const) {
          const server = await tlsServer(mode, { tlsMaxVersion: version });
          const client = await openSession(tlsOpts(server, mode, { auth }));
          expect(client.tls?.protocol).toBe(version);
          expect((await client.channelBinding())?.type).toBe(type);
          expect((await client.stat()).count).toBe(1);
          await client.quit();
          expect(gs2Sent(server), auth).toBe(`p=${type},,`);
          // RFC 5034: the server-final came as a challenge, answered with an empty line.
          expect(wire(server).filter((l) => !/^(CAPA|STLS|AUTH|STAT|QUIT)/.test(l))).toHaveLength(2);
          expect(wire(server).at(-4)).toBe('');
        }
      });
    }
  }

  it('auto: SCRAM-SHA-256-PLUS over TLS; the plain form with "y" when no -PLUS is offered; "n" without TLS', async () => {
    const plus = await tlsServer('implicit');
    await (await openSession(tlsOpts(plus, 'implicit'))).quit();
    expect(wire(plus).find((l) => l.startsWith('AUTH'))).toMatch(/^AUTH SCRAM-SHA-256-PLUS /);
    const noPlus = await tlsServer('implicit', {}, 'SASL PLAIN SCRAM-SHA-1 SCRAM-SHA-256');
    await (await openSession(tlsOpts(noPlus, 'implicit'))).quit();
    expect(wire(noPlus).find((l) => l.startsWith('AUTH'))).toMatch(/^AUTH SCRAM-SHA-256 /);
    expect(gs2Sent(noPlus)).toBe('y,,');
    const plaintext = await fake({ messages: [MESSAGE], capabilities: ['USER', ALL_SCRAM] });
    await (await openSession({ ...tlsOpts(plaintext, 'implicit'), tls: 'none', allowPlaintextAuth: true })).quit();
    expect(wire(plaintext).find((l) => l.startsWith('AUTH'))).toMatch(/^AUTH SCRAM-SHA-256 /);
    expect(gs2Sent(plaintext)).toBe('n,,');
  });

  it('a -PLUS mechanism without TLS is UNSUPPORTED, before anything is sent', async () => {
    const server = await fake({ capabilities: ['USER', ALL_SCRAM] });
    const err = await errorOf(openSession({ ...tlsOpts(server, 'implicit'), tls: 'none', allowPlaintextAuth: true, auth: 'SCRAM-SHA-256-PLUS' }));
    expect(err.code).toBe(Pop3ErrorCode.UNSUPPORTED);
    expect(err.message).toContain('needs a TLS connection with a channel binding');
    expect(wire(server).some((l) => l.startsWith('AUTH'))).toBe(false);
  });

  it('the plain form chosen on purpose while the server offers -PLUS says "n", and the server accepts it', async () => {
    const server = await tlsServer('implicit');
    await (await openSession(tlsOpts(server, 'implicit', { auth: 'SCRAM-SHA-1' }))).quit();
    expect(gs2Sent(server)).toBe('n,,');
  });
});

describe('what channel binding is for', () => {
  /** A man in the middle removed the -PLUS forms from CAPA; the server itself still offers them. */
  const stripPlus: FakePop3Profile = { name: 'strip-plus', capabilities: (caps) => caps.map((c) => c.replace(/ SCRAM-SHA-(1|256)-PLUS/g, '')) };

  it('downgrade: the client says "y" (it could bind), and a server that offers -PLUS refuses: AUTH_FAILED', async () => {
    const server = await tlsServer('implicit', { profiles: [stripPlus] });
    const err = await errorOf(openSession(tlsOpts(server, 'implicit')));
    expect(gs2Sent(server)).toBe('y,,');
    expect(err.code).toBe(Pop3ErrorCode.AUTH_FAILED);
    expect(err.command).toBe('AUTH SCRAM-SHA-256');
  });

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`${version}: a server whose binding differs (the far end of a man in the middle) refuses the proof: AUTH_FAILED`, async () => {
      const server = await tlsServer('implicit', { tlsMaxVersion: version, scram: { misbehave: 'other-binding' } });
      const err = await errorOf(openSession(tlsOpts(server, 'implicit', { auth: 'SCRAM-SHA-256-PLUS' })));
      expect(err.code).toBe(Pop3ErrorCode.AUTH_FAILED);
      // The error names the binding sent and the fix when it is the server's binding type.
      const type = version === 'TLSv1.3' ? 'tls-exporter' : 'tls-server-end-point';
      expect(err.message).toContain(`channel binding ${type} was sent; if the password is right, the server takes another binding type`);
      expect(err.message).toContain('set auth to SCRAM-SHA-256');
      expect(wire(server)).not.toContain('*');
    });
  }
});

describe('a server that misbehaves', () => {
  /** Fails the session with `options.scram`; returns the error and the lines the server got. */
  async function failing(scram: FakePop3Options['scram'], auth: AuthMechanismName = 'SCRAM-SHA-256-PLUS', password = 'secret'): Promise<{ code: string; message: string; lines: string[] }> {
    const server = await tlsServer('implicit', { scram });
    const err = await errorOf(openSession(tlsOpts(server, 'implicit', { auth, password })));
    // The server's -ERR (or the dropped connection) must have arrived: nothing follows.
    await new Promise((resolve) => setImmediate(resolve));
    return { code: err.code, message: err.message, lines: wire(server) };
  }

  const CANCELLING: [string, FakePop3Options['scram'], RegExp][] = [
    ['a server signature that does not verify', { misbehave: 'wrong-signature' }, /signature does not verify: .*man in the middle/],
    ['a nonce that does not extend the client\'s', { misbehave: 'foreign-nonce' }, /nonce does not extend/],
    ['an iteration count that would take minutes', { iterations: 2_000_000_000 }, /iteration count outside 4096\.\.1000000/],
    ['a mandatory extension (m=)', { misbehave: 'mandatory-extension' }, /extension \(m=\)/],
  ];
  for (const [what, scram, reason] of CANCELLING) {
    it(`${what}: "*" on the wire, AUTH_CANCELLED`, async () => {
      const { code, message, lines } = await failing(scram);
      expect(code).toBe(Pop3ErrorCode.AUTH_CANCELLED);
      expect(message).toMatch(reason);
      expect(lines.at(-1)).toBe('*');
      expect(lines.filter((l) => l.startsWith('CAPA'))).toHaveLength(1); // never logged in
    });
  }

  it('+OK without the server-final message: AUTH_CANCELLED, the connection dropped, nothing sent after', async () => {
    for (const auth of ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1'] as const) {
      const { code, message, lines } = await failing({ misbehave: 'ok-without-final' }, auth);
      expect(code).toBe(Pop3ErrorCode.AUTH_CANCELLED);
      expect(message).toMatch(/without proving that it knows the password.*mutual authentication did not happen/);
      // AUTH (with the client-first), the client-final, and not a command more.
      expect(lines.slice(lines.findIndex((l) => l.startsWith('AUTH')))).toHaveLength(2);
    }
  });

  it('an e= server error: answered, then -ERR: AUTH_FAILED with the server\'s reason', async () => {
    const { code, message, lines } = await failing({ serverError: 'invalid-proof' });
    expect(code).toBe(Pop3ErrorCode.AUTH_FAILED);
    expect(message).toContain('(the server says: invalid-proof)');
    expect(lines.at(-1)).toBe('');
  });

  it('e=invalid-proof then a code-less -ERR from a server with AUTH-RESP-CODE: still AUTH_FAILED, not a retried SERVER_ERROR', async () => {
    // The server announces AUTH-RESP-CODE (a code-less -ERR is not about credentials) but
    // said so itself in the SCRAM exchange: that wins.
    const withoutCode = { name: 'code-less', errorLine: (line: string) => line.replace(/ \[AUTH\]/, '') };
    const server = await tlsServer('implicit', { capabilities: ['USER', 'UIDL', 'AUTH-RESP-CODE', ALL_SCRAM], scram: { serverError: 'invalid-proof' }, profiles: [withoutCode] });
    const err = await errorOf(openSession(tlsOpts(server, 'implicit', { auth: 'SCRAM-SHA-256' })));
    expect(err).toMatchObject({ code: Pop3ErrorCode.AUTH_FAILED, retryable: false });
    expect(err.responseCode).toBeUndefined();
    const other = await tlsServer('implicit', { capabilities: ['USER', 'UIDL', 'AUTH-RESP-CODE', ALL_SCRAM], scram: { serverError: 'no-resources' }, profiles: [withoutCode] });
    expect(await errorOf(openSession(tlsOpts(other, 'implicit', { auth: 'SCRAM-SHA-256' })))).toMatchObject({ code: Pop3ErrorCode.SERVER_ERROR, retryable: true });
  });

  it('a wrong password: AUTH_FAILED, not cancelled', async () => {
    for (const auth of ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1'] as const) {
      const { code, lines } = await failing(undefined, auth, 'not-the-password');
      expect(code, auth).toBe(Pop3ErrorCode.AUTH_FAILED);
      expect(lines).not.toContain('*');
    }
  });
});

describe('user names', () => {
  it('a one-character password logs in every time, though it turns up in random base64 challenges (they are decoded as received)', async () => {
    const server = await fake({ capabilities: ['USER', ALL_SCRAM], password: 'x' });
    for (let i = 0; i < 10; i++) {
      const client = await openSession({ ...tlsOpts(server, 'implicit'), tls: 'none', allowPlaintextAuth: true, password: 'x', auth: 'SCRAM-SHA-256' });
      await client.quit();
    }
  });

  it('escapes "," and "=" so that the server finds the account', async () => {
    const server = await fake({ capabilities: ['USER', ALL_SCRAM], accounts: [{ user: 'b,o=b', password: 'pw', messages: [MESSAGE] }] });
    const client = await openSession({ ...tlsOpts(server, 'implicit'), tls: 'none', allowPlaintextAuth: true, username: 'b,o=b', password: 'pw', auth: 'SCRAM-SHA-1' });
    expect((await client.stat()).count).toBe(1);
    await client.quit();
    expect(Buffer.from(wire(server).find((l) => l.startsWith('AUTH'))!.split(' ')[2]!, 'base64').toString()).toMatch(/^n,,n=b=2Co=3Db,r=/);
  });

  it('auto passes over SCRAM when SASLprep refuses the password, and a configured SCRAM is a USAGE error', async () => {
    const server = await fake({ capabilities: ['USER', 'SASL PLAIN SCRAM-SHA-256'], greeting: '+OK no APOP here', password: 'tab\there' });
    await (await openSession({ ...tlsOpts(server, 'implicit'), tls: 'none', allowPlaintextAuth: true, password: 'tab\there' })).quit();
    expect(wire(server).find((l) => l.startsWith('AUTH'))).toMatch(/^AUTH PLAIN /);
    const err = await errorOf(openSession({ ...tlsOpts(server, 'implicit'), tls: 'none', allowPlaintextAuth: true, password: 'tab\there', auth: 'SCRAM-SHA-256' }));
    expect(err.code).toBe(Pop3ErrorCode.USAGE);
    expect(err.message).not.toContain('tab');
  });
});
