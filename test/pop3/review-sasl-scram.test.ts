/**
 * Adversarial review of SCRAM (issue 13) against scripted servers: what a hostile server can
 * make the client log (the proof, which with the salt and the iteration count in the trace
 * can be brute-forced offline, is as good as the password), and server-first messages as
 * large as a line allows.
 */
import { createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSession, Pop3ErrorCode, type Pop3SessionOptions, type TraceEvent } from '../../lambda/pop3';
import type { FakeCommand, FakePop3Server, FakeSession } from '../fixtures/fake-pop3-server';
import { makeTestPki, type TestPki } from '../fixtures/test-ca';
import { closeServers, errorOf, fake } from './pop3-test-kit';

let pki: TestPki;
beforeAll(async () => {
  pki = await makeTestPki();
});
afterEach(closeServers);

const PASSWORD = 'correct horse battery staple';
const b64 = (text: string): string => Buffer.from(text, 'latin1').toString('base64');
const unb64 = (text: string): string => Buffer.from(text, 'base64').toString('latin1');

/** What a scripted SCRAM-SHA-256 server has seen once the client-final message arrived. */
interface Exchange {
  readonly clientFirstBare: string;
  readonly serverFirst: string;
  /** The client-final message, decoded. */
  readonly clientFinal: string;
  readonly proof: string;
}

/**
 * A SCRAM-SHA-256 server over implicit TLS: answers the client-first with `serverFirst(nonce)`
 * (nonce: the client's), reads the client-final, then lets `then` end the exchange.
 */
function scramServer(serverFirst: (clientNonce: string) => string, then: (s: FakeSession, exchange: Exchange) => Promise<void>): Promise<FakePop3Server> {
  return fake({
    pki,
    tls: 'implicit',
    capabilities: ['USER', 'UIDL', 'SASL SCRAM-SHA-256'],
    onCommand: async (cmd: FakeCommand, s) => {
      if (cmd.verb !== 'AUTH') return false;
      const clientFirstBare = unb64(cmd.args[1] ?? '').replace(/^[ny],,/, '');
      const first = serverFirst(/,r=([^,]+)/.exec(clientFirstBare)?.[1] ?? '');
      await s.writeLine(`+ ${b64(first)}`);
      const final = await s.readLine();
      if (final === null || final.toString('latin1') === '*') return true;
      const clientFinal = unb64(final.toString('latin1'));
      await then(s, { clientFirstBare, serverFirst: first, clientFinal, proof: /,p=([^,]+)$/.exec(clientFinal)?.[1] ?? '' });
      return true;
    },
  });
}

function options(server: FakePop3Server, extra: Partial<Pop3SessionOptions> = {}): Pop3SessionOptions {
  return { host: '127.0.0.1', port: server.port, tlsOptions: { ca: pki.caCert }, username: 'alice', password: PASSWORD, ...extra };
}

/** Every text a base64 blob in `line` decodes to, at each of the 4 character offsets. */
function decodings(line: string): string[] {
  const blob = line.replace(/^\S+\s*/, '');
  return [0, 1, 2, 3].map((skip) => unb64(blob.slice(skip)));
}

describe('the proof does not reach a log line', () => {
  it('FINDING: echoed back inside a challenge at another byte offset (the proof as the server\'s "signature", the client-final after a prefix), the proof reaches the trace, where it decodes', async () => {
    const echoes: [string, (exchange: Exchange) => string][] = [
      ['v=<proof>', (exchange) => `v=${exchange.proof}`],
      ['a prefixed client-final', (exchange) => `?${exchange.clientFinal}`],
    ];
    for (const [what, echo] of echoes) {
      let proof = '';
      const server = await scramServer(
        (nonce) => `r=${nonce}srv,s=${randomBytes(16).toString('base64')},i=4096`,
        async (s, exchange) => {
          proof = exchange.proof;
          await s.writeLine(`+ ${b64(echo(exchange))}`);
          await s.readLine();
          await s.writeLine('-ERR [AUTH] no');
        },
      );
      const trace: TraceEvent[] = [];

      const err = await errorOf(openSession(options(server, { trace: (e) => trace.push(e) })));

      expect(err.code, what).toBe(Pop3ErrorCode.AUTH_CANCELLED);
      expect(proof, what).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      const shown = trace.flatMap((e) => [e.line, ...decodings(e.line)]);
      expect(shown.filter((text) => text.includes(proof.slice(0, 16))), what).toEqual([]);
    }
  });

  it('FINDING: an e= server error that quotes the proof after 80 characters: the cut at 100 left part of the proof in AUTH_FAILED, where the scrubber no longer knew it', async () => {
    let proof = '';
    const server = await scramServer(
      (nonce) => `r=${nonce}srv,s=${randomBytes(16).toString('base64')},i=4096`,
      async (s, exchange) => {
        proof = exchange.proof;
        await s.writeLine(`+ ${b64(`e=${'x'.repeat(80)}${exchange.proof}`)}`);
        await s.readLine();
        await s.writeLine('-ERR [AUTH] no');
      },
    );

    const err = await errorOf(openSession(options(server)));

    // The e= text is scrubbed whole before it is cut to length: the proof shows as ***.
    expect(err.code).toBe(Pop3ErrorCode.AUTH_FAILED);
    expect(err.message).toContain(`(the server says: ${'x'.repeat(80)}***)`);
    expect(proof).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(err.message).not.toContain(proof.slice(0, 12));
  });

  it('echoed exactly, decoded, or the proof alone in -ERR: *** in the error and the trace', async () => {
    let proof = '';
    let clientFinal = '';
    const server = await scramServer(
      (nonce) => `r=${nonce}srv,s=${randomBytes(16).toString('base64')},i=4096`,
      async (s, exchange) => {
        ({ proof, clientFinal } = exchange);
        await s.writeLine(`+ ${b64(`v=${randomBytes(32).toString('base64')}`)}`);
        await s.readLine();
        await s.writeLine(`-ERR [AUTH] you sent ${b64(exchange.clientFinal)} = ${exchange.clientFinal}; proof ${exchange.proof}`);
      },
    );
    const trace: TraceEvent[] = [];

    const err = await errorOf(openSession(options(server, { trace: (e) => trace.push(e) })));

    expect(err.code).toBe(Pop3ErrorCode.AUTH_CANCELLED);
    expect(err.serverText).toBe('you sent *** = ***; proof ***');
    const everything = JSON.stringify([err.message, err.serverText, trace]);
    for (const form of [proof, clientFinal, b64(clientFinal)]) expect(everything).not.toContain(form);
  });
});

describe('server-first messages at the limits', () => {
  /** The server side of SCRAM-SHA-256 (RFC 5802), for a server that knows the password. */
  function serverSignature(exchange: Exchange, salt: Buffer, iterations: number): string {
    const salted = pbkdf2Sync(PASSWORD, salt, iterations, 32, 'sha256');
    const serverKey = createHmac('sha256', salted).update('Server Key').digest();
    const withoutProof = exchange.clientFinal.slice(0, exchange.clientFinal.lastIndexOf(',p='));
    return createHmac('sha256', serverKey).update(`${exchange.clientFirstBare},${exchange.serverFirst},${withoutProof}`).digest('base64');
  }

  it('a 2 KB salt, a 1,000-character server nonce and 300 extensions, within the line limit: the login succeeds, the extensions counted in the signature', async () => {
    const salt = randomBytes(2_000);
    const server = await scramServer(
      (nonce) => `r=${nonce}${'n'.repeat(1_000)},s=${salt.toString('base64')},i=4096,${Array.from({ length: 300 }, (_, i) => `x${i % 10}=${i}`).join(',')}`,
      async (s, exchange) => {
        await s.writeLine(`+ ${b64(`v=${serverSignature(exchange, salt, 4096)}`)}`);
        const empty = await s.readLine();
        await s.writeLine(empty?.length === 0 ? '+OK logged in' : '-ERR [AUTH] expected an empty response');
      },
    );

    const client = await openSession(options(server));

    expect(client.authenticated).toBe(true);
    client.close();
  });

  it('the server-final carried by +OK (RFC 5034 has it sent as a challenge), even with a signature that verifies: AUTH_CANCELLED, the session dropped', async () => {
    const salt = randomBytes(16);
    const server = await scramServer(
      (nonce) => `r=${nonce}srv,s=${salt.toString('base64')},i=4096`,
      async (s, exchange) => {
        await s.writeLine(`+OK ${b64(`v=${serverSignature(exchange, salt, 4096)}`)}`);
      },
    );

    const err = await errorOf(openSession(options(server)));

    expect(err.code).toBe(Pop3ErrorCode.AUTH_CANCELLED);
    expect(err.message).toContain('without proving that it knows the password');
    expect(server.commands.map((c) => c.line.split(' ')[0])).toEqual(['CAPA', 'AUTH', expect.any(String)]);
  });

  it('a server-first longer than a line may be: LINE_TOO_LONG, and nothing is answered', async () => {
    const server = await scramServer(
      (nonce) => `r=${nonce}srv,s=${randomBytes(8_000).toString('base64')},i=4096`,
      async () => undefined,
    );

    const err = await errorOf(openSession(options(server)));

    expect(err.code).toBe(Pop3ErrorCode.LINE_TOO_LONG);
    expect(server.commands.map((c) => c.line.split(' ')[0])).toEqual(['CAPA', 'AUTH']);
  });
});

describe('a client-first message too long for the AUTH line', () => {
  it('a 200-character user name holding "," and "=": the client-first is withheld (RFC 5034) and sent as the answer to "+", with and without -PLUS', async () => {
    const user = `${'u'.repeat(200)},=x`;
    for (const auth of ['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS'] as const) {
      const server = await fake({ pki, tls: 'implicit', user, capabilities: ['USER', 'SASL SCRAM-SHA-256 SCRAM-SHA-256-PLUS'] });

      const client = await openSession(options(server, { username: user, password: 'secret', auth }));
      client.close();

      const lines = server.commands.map((c) => c.line);
      expect(lines[1], auth).toBe(`AUTH ${auth}`);
      expect(unb64(lines[2]!), auth).toMatch(new RegExp(`^(n|p=tls-exporter),,n=${'u'.repeat(200)}=2C=3Dx,r=`));
    }
  });
});
