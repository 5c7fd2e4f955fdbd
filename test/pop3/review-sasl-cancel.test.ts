/**
 * Adversarial review of the SASL cancel flow (issue 13): what a server does after the client's
 * "*" must not change why the exchange failed. An impostor that cannot prove it knows the
 * password (a SCRAM server signature that does not verify) is the case that matters: its
 * AUTH_CANCELLED is the operator's only sign of a man in the middle.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSession, Pop3ErrorCode, type Pop3SessionOptions } from '../../lambda/pop3';
import type { FakePop3Server, FakeSession } from '../fixtures/fake-pop3-server';
import { makeTestPki, type TestPki } from '../fixtures/test-ca';
import { closeServers, errorOf, fake } from './pop3-test-kit';

let pki: TestPki;
beforeAll(async () => {
  pki = await makeTestPki();
});
afterEach(closeServers);

/** What the impostor does once it has read the client's "*". */
type AfterCancel = 'hang up' | 'go silent' | 'challenge again' | 'log in anyway';

/**
 * A SCRAM-SHA-256 server that does not know the password: a well-formed server-first, then a
 * server signature it cannot have computed; then `after` instead of RFC 5034's -ERR.
 */
function impostor(after: AfterCancel): Promise<FakePop3Server> {
  const b64 = (text: string): string => Buffer.from(text, 'latin1').toString('base64');
  return fake({
    pki,
    tls: 'implicit',
    capabilities: ['USER', 'SASL SCRAM-SHA-256'],
    onCommand: async (cmd, s: FakeSession) => {
      if (cmd.verb !== 'AUTH') return false;
      const clientFirst = Buffer.from(cmd.args[1] ?? '', 'base64').toString('latin1');
      const clientNonce = /,r=([^,]+)/.exec(clientFirst)?.[1] ?? '';
      await s.writeLine(`+ ${b64(`r=${clientNonce}${randomBytes(12).toString('base64')},s=${randomBytes(16).toString('base64')},i=4096`)}`);
      await s.readLine(); // the client-final message, with its proof
      await s.writeLine(`+ ${b64(`v=${randomBytes(32).toString('base64')}`)}`);
      const cancel = await s.readLine();
      if (cancel?.toString('latin1') !== '*') return true;
      if (after === 'hang up') s.destroy();
      else if (after === 'go silent') s.stall();
      else await s.writeLine(after === 'challenge again' ? '+ ' : '+OK logged in');
      return true;
    },
  });
}

function options(server: FakePop3Server, extra: Partial<Pop3SessionOptions> = {}): Pop3SessionOptions {
  return { host: '127.0.0.1', port: server.port, tlsOptions: { ca: pki.caCert }, username: 'alice', password: 'secret', ...extra };
}

const UNVERIFIED = /AUTH SCRAM-SHA-256 cancelled: the server's signature does not verify: the server does not know the password/;

describe('after "*", the reason for the cancel stands', () => {
  it('FINDING: an impostor that hangs up after "*" (or goes silent) turns AUTH_CANCELLED into a retryable connection error, and the unverified signature is never reported', async () => {
    const hangsUp = await impostor('hang up');
    const silent = await impostor('go silent');

    const closed = await errorOf(openSession(options(hangsUp)));
    const quiet = await errorOf(openSession(options(silent, { idleTimeoutMs: 300 })));

    for (const err of [closed, quiet]) {
      expect({ code: err.code, retryable: err.retryable }).toEqual({ code: Pop3ErrorCode.AUTH_CANCELLED, retryable: false });
      expect(err.message).toMatch(UNVERIFIED);
    }
    expect(hangsUp.commands.at(-1)?.line).toBe('*');
  });

  it('an impostor that challenges again, or logs the client in after "*": AUTH_CANCELLED, and the session is dropped before any other command', async () => {
    for (const after of ['challenge again', 'log in anyway'] as const) {
      const server = await impostor(after);

      const err = await errorOf(openSession(options(server)));

      expect(err.code, after).toBe(Pop3ErrorCode.AUTH_CANCELLED);
      expect(err.message).toMatch(UNVERIFIED);
      expect(server.commands.at(-1)?.line, after).toBe('*');
    }
  });
});
