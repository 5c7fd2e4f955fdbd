/**
 * SASL flows against the fake server: the bare AUTH listing of servers without CAPA, the
 * OAuth error challenge explained in AUTH_FAILED (never the token), OAUTHBEARER's host and
 * port (RFC 7628), and AUTH-RESP-CODE (RFC 3206) deciding what a code-less -ERR means.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openSession, Pop3ErrorCode } from '../../lambda/pop3';
import type { FakePop3Options, FakePop3Server } from '../fixtures/fake-pop3-server';
import { closeServers, errorOf, fake, opts } from './pop3-test-kit';

afterEach(closeServers);

/** The commands the server got (SASL answers left out), with at most their first argument. */
const verbs = (server: FakePop3Server): string[] =>
  server.commands.map((l) => l.line.split(' ').slice(0, 2).join(' ')).filter((l) => /^[A-Z]{4}( |$)/.test(l));

describe('a server without CAPA', () => {
  it('is asked for its mechanisms with a bare AUTH, and auto picks from them by preference', async () => {
    const server = await fake({ capabilities: null, greeting: '+OK' });
    const c = await openSession(opts(server));
    await c.quit();
    // Over an allowed plaintext link CRAM-MD5 comes first: the password stays off the wire.
    expect(verbs(server)).toEqual(['CAPA', 'AUTH', 'AUTH CRAM-MD5', 'CAPA', 'QUIT']);
  });

  it('listing only PLAIN gets PLAIN over TLS; a configured mechanism is tried without asking', async () => {
    const server = await fake({ capabilities: null, greeting: '+OK', onCommand: async (cmd, s) => (cmd.verb === 'AUTH' && cmd.args.length === 0 ? (await s.writeLine('+OK\r\nPLAIN\r\n.'), true) : false) });
    await (await openSession(opts(server))).quit();
    expect(verbs(server)).toEqual(['CAPA', 'AUTH', 'AUTH PLAIN', 'CAPA', 'QUIT']);
    const before = server.commands.length;
    await (await openSession(opts(server, { auth: 'LOGIN' }))).quit();
    expect(verbs(server).slice(before)).toEqual(['CAPA', 'AUTH LOGIN', 'CAPA', 'QUIT']);
  });

  it('with a token and nothing fitting listed, XOAUTH2 is still tried', async () => {
    const server = await fake({
      capabilities: null,
      greeting: '+OK',
      oauthTokens: ['token-5521'],
      onCommand: async (cmd, s) => (cmd.verb === 'AUTH' && cmd.args.length === 0 ? (await s.writeLine('+OK\r\nGSSAPI\r\n.'), true) : false),
    });
    const c = await openSession(opts(server, { password: undefined, accessToken: 'token-5521' }));
    c.close();
    // With a token and no fitting mechanism listed, XOAUTH2 is still the best guess.
    expect(verbs(server)).toContain('AUTH XOAUTH2');
  });
});

describe('OAuth error challenges', () => {
  for (const [auth, said] of [
    ['XOAUTH2', 'the provider said: status 400 (Google: the token is expired, revoked or not for this user), scope https://mail.google.com/, schemes Bearer'],
    ['OAUTHBEARER', 'the provider said: status invalid_token (the token is expired, revoked or not for this server), scope pop'],
  ] as const) {
    it(`${auth}: the decoded status and scope explain AUTH_FAILED; the token is nowhere`, async () => {
      const server = await fake({ oauthTokens: ['good-token'] });
      const trace: string[] = [];
      const err = await errorOf(openSession(opts(server, { password: undefined, accessToken: 'rejected-token-1234', auth, trace: (e) => trace.push(e.line) })));
      expect(err.code).toBe(Pop3ErrorCode.AUTH_FAILED);
      expect(err.message).toContain(said);
      expect(JSON.stringify({ ...err, message: err.message, trace })).not.toMatch(/rejected-token-1234|cmVqZWN0ZWQtdG9rZW4tMTIzNA/);
    });
  }

  it('a challenge that puts the token into its scope: AUTH_FAILED with the scope scrubbed, the token nowhere', async () => {
    const token = 'tok-7f3a9c2e5b1d4f6a8c0e';
    const server = await fake({
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'AUTH') return false;
        await s.writeLine(`+ ${Buffer.from(JSON.stringify({ status: '401', scope: token })).toString('base64')}`);
        await s.readLine();
        await s.writeLine('-ERR [AUTH] no');
        return true;
      },
    });
    const err = await errorOf(openSession(opts(server, { password: undefined, accessToken: token, auth: 'XOAUTH2' })));
    expect(err.code).toBe(Pop3ErrorCode.AUTH_FAILED);
    expect(err.message).toContain('the provider said: status 401 (the token is expired or revoked), scope ***');
    expect(JSON.stringify({ ...err, message: err.message })).not.toContain(token);
  });

  it('OAUTHBEARER names the host and port connected to (RFC 7628)', async () => {
    const server = await fake({ oauthTokens: ['good-token'] });
    await (await openSession(opts(server, { password: undefined, accessToken: 'good-token', auth: 'OAUTHBEARER' }))).quit();
    const line = server.commands.find((l) => l.line.startsWith('AUTH OAUTHBEARER '))!.line;
    const decoded = Buffer.from(line.split(' ')[2]!, 'base64').toString('utf8');
    expect(decoded).toBe(`n,a=alice,\x01host=127.0.0.1\x01port=${server.port}\x01auth=Bearer good-token\x01\x01`);
  });
});

describe('AUTH-RESP-CODE (RFC 3206)', () => {
  const refusing = (caps: string[], reply: string): FakePop3Options => ({
    capabilities: caps,
    onCommand: async (cmd, s) => (cmd.verb === 'PASS' ? (await s.writeLine(reply), true) : false),
  });

  it('announced: an -ERR without [AUTH] is a passing server trouble, retried; with [AUTH] the credentials are wrong', async () => {
    const passing = await fake(refusing(['USER', 'AUTH-RESP-CODE', 'RESP-CODES'], '-ERR mail store unavailable'));
    const err = await errorOf(openSession(opts(passing, { auth: 'USER' })));
    expect(err).toMatchObject({ code: Pop3ErrorCode.SERVER_ERROR, retryable: true });
    const wrong = await fake(refusing(['USER', 'AUTH-RESP-CODE', 'RESP-CODES'], '-ERR [AUTH] bad password'));
    expect(await errorOf(openSession(opts(wrong, { auth: 'USER' })))).toMatchObject({ code: Pop3ErrorCode.AUTH_FAILED, retryable: false });
  });

  it('not announced: an -ERR to a login command is taken for wrong credentials', async () => {
    const server = await fake(refusing(['USER', 'RESP-CODES'], '-ERR mail store unavailable'));
    expect(await errorOf(openSession(opts(server, { auth: 'USER' })))).toMatchObject({ code: Pop3ErrorCode.AUTH_FAILED, retryable: false });
  });

  it('announced, and a SASL exchange ends in a code-less -ERR: SERVER_ERROR', async () => {
    const server = await fake({
      capabilities: ['SASL PLAIN', 'AUTH-RESP-CODE'],
      onCommand: async (cmd, s) => (cmd.verb === 'AUTH' ? (await s.writeLine('-ERR try again later'), true) : false),
    });
    expect(await errorOf(openSession(opts(server, { auth: 'PLAIN' })))).toMatchObject({ code: Pop3ErrorCode.SERVER_ERROR, retryable: true });
  });
});
