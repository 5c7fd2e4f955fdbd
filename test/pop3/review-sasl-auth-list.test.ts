/**
 * Adversarial review of the bare AUTH listing (issue 13): what `auto` asks a server without
 * CAPA. No credential goes with a bare AUTH, so however the server refuses it, the refusal
 * says nothing about the credentials; and whatever it lists, memory and time stay bounded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openSession, Pop3ErrorCode } from '../../lambda/pop3';
import type { FakePop3Server, FakeSession } from '../fixtures/fake-pop3-server';
import { closeServers, errorOf, fake, opts } from './pop3-test-kit';

afterEach(closeServers);

/** A server without CAPA whose answer to a bare AUTH is `answer` (the rest is the fake's default). */
function withoutCapa(answer: (s: FakeSession) => Promise<void>): Promise<FakePop3Server> {
  return fake({
    capabilities: null,
    greeting: '+OK',
    onCommand: async (cmd, s) => {
      if (cmd.verb !== 'AUTH' || cmd.args.length > 0) return false;
      await answer(s);
      return true;
    },
  });
}

const verbs = (server: FakePop3Server): string[] => server.commands.map((c) => c.line.split(' ')[0]!);

describe('a server that takes a bare AUTH for a login attempt', () => {
  it('FINDING: refused with -ERR [AUTH], no credential having been sent, the mailbox fails with AUTH_FAILED (wrong credentials) instead of logging in with USER', async () => {
    const server = await withoutCapa((s) => s.writeLine('-ERR [AUTH] Authentication failed'));

    const client = await openSession(opts(server));
    await client.quit();

    expect(verbs(server)).toEqual(['CAPA', 'AUTH', 'USER', 'PASS', 'CAPA', 'QUIT']);
  });

  it('FINDING: answered with a "+" continuation, the session fails with PROTOCOL_ERROR instead of cancelling with "*" and logging in with USER (dropped when "*" is not refused)', async () => {
    const server = await withoutCapa(async (s) => {
      await s.writeLine('+ ');
      const line = await s.readLine();
      await s.writeLine(line?.toString('latin1') === '*' ? '-ERR cancelled' : '-ERR [AUTH] Authentication failed');
    });

    const client = await openSession(opts(server));
    await client.quit();

    expect(server.commands.map((c) => c.line)).toEqual(['CAPA', 'AUTH', '*', 'USER alice', 'PASS secret', 'CAPA', 'QUIT']);

    // A server that does not end the exchange after "*" (it logs the client in) is dropped.
    const loggedIn = await withoutCapa(async (s) => {
      await s.writeLine('+ ');
      await s.readLine();
      await s.writeLine('+OK logged in');
    });
    const err = await errorOf(openSession(opts(loggedIn)));
    expect(err.code).toBe(Pop3ErrorCode.PROTOCOL_ERROR);
    expect(loggedIn.commands.map((c) => c.line)).toEqual(['CAPA', 'AUTH', '*']);
  });
});

describe('what a bare AUTH lists', () => {
  it('garbage names, over-long names and lower case: only well-formed names count, upper-cased', async () => {
    const server = await withoutCapa((s) => s.writeLine('+OK\r\nx!y CRAM-MD5-BUT-FAR-TOO-LONG-A-NAME\r\n\tplain  ???\r\n.'));

    await (await openSession(opts(server))).quit();

    // Over an allowed plaintext link CRAM-MD5 and APOP come before PLAIN: neither is offered.
    expect(server.commands.find((c) => c.line.startsWith('AUTH '))?.line).toMatch(/^AUTH PLAIN /);
  });

  it('a listing of more than 256 lines is REPLY_TOO_LARGE; one that never ends is an IDLE_TIMEOUT: bounded either way', async () => {
    const huge = await withoutCapa((s) => s.writeLine(`+OK\r\n${'PLAIN\r\n'.repeat(300)}.`));
    const endless = await withoutCapa((s) => s.writeLine('+OK\r\nPLAIN'));

    expect((await errorOf(openSession(opts(huge)))).code).toBe(Pop3ErrorCode.REPLY_TOO_LARGE);
    expect((await errorOf(openSession(opts(endless, { idleTimeoutMs: 200 })))).code).toBe(Pop3ErrorCode.IDLE_TIMEOUT);
  });
});
