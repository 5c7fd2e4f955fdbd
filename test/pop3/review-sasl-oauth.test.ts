/**
 * Adversarial review of the OAuth error challenge and AUTH-RESP-CODE (issue 13): a hostile
 * provider that hides the token in the JSON it sends back (escaped, nested, in every field),
 * JSON as deep or as long as a line allows; and AUTH-RESP-CODE announced on one side of STLS only.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSession, Pop3ErrorCode, type TraceEvent } from '../../lambda/pop3';
import type { FakePop3Profile, FakePop3Server } from '../fixtures/fake-pop3-server';
import { makeTestPki, type TestPki } from '../fixtures/test-ca';
import { closeServers, errorOf, fake, opts } from './pop3-test-kit';

let pki: TestPki;
beforeAll(async () => {
  pki = await makeTestPki();
});
afterEach(closeServers);

const TOKEN = 'ya29.a0AfB_byC-9Xk2QmZt7LpWv3RsNd';
/** The token as JSON \u escapes: no byte of the challenge holds it, or its base64. */
const ESCAPED = [...TOKEN].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');

/** A provider that answers AUTH XOAUTH2 with the error challenge `json`, then -ERR [AUTH]. */
function provider(json: string): Promise<FakePop3Server> {
  return fake({
    onCommand: async (cmd, s) => {
      if (cmd.verb !== 'AUTH') return false;
      await s.writeLine(`+ ${Buffer.from(json, 'utf8').toString('base64')}`);
      await s.readLine();
      await s.writeLine('-ERR [AUTH] Invalid credentials');
      return true;
    },
  });
}

async function rejected(json: string): Promise<{ message: string; everything: string }> {
  const server = await provider(json);
  const trace: TraceEvent[] = [];
  const err = await errorOf(openSession(opts(server, { password: undefined, accessToken: TOKEN, auth: 'XOAUTH2', trace: (e) => trace.push(e) })));
  expect(err.code).toBe(Pop3ErrorCode.AUTH_FAILED);
  return { message: err.message, everything: JSON.stringify([err.message, err.serverText, trace]) };
}

describe('the token in the OAuth error challenge', () => {
  it('escaped (\\u) in status, scope and schemes: decoded, then scrubbed: *** in the error', async () => {
    const { message, everything } = await rejected(`{"status":"${ESCAPED}","scope":"mail ${ESCAPED} pop","schemes":"Bearer"}`);

    expect(message).toContain('the provider said: status ***, scope mail *** pop, schemes Bearer');
    expect(everything).not.toContain(TOKEN);
  });

  it('escaped, in nested objects and arrays: not read (only string fields are), the token nowhere', async () => {
    const { message, everything } = await rejected(`{"status":{"token":"${ESCAPED}"},"scope":["${ESCAPED}"],"schemes":"Bearer","token":"${ESCAPED}"}`);

    expect(message).toContain('(the provider said: schemes Bearer)');
    expect(everything).not.toContain(TOKEN);
  });
});

describe('JSON as large as a line allows', () => {
  it('nested 2,000 deep, or a 5,000-character scope: AUTH_FAILED with what can be shown, bounded', async () => {
    const deep = await rejected(`${'['.repeat(2_000)}${']'.repeat(2_000)}`);
    const long = await rejected(JSON.stringify({ status: 'invalid_token', scope: 's'.repeat(5_000) }));

    expect(deep.message).toBe('AUTH XOAUTH2 failed: -ERR [AUTH] Invalid credentials');
    expect(long.message).toBe('AUTH XOAUTH2 failed: -ERR [AUTH] Invalid credentials (the provider said: status invalid_token (the token is expired, revoked or not for this server))');
  });
});

describe('AUTH-RESP-CODE on one side of STLS', () => {
  /** AUTH-RESP-CODE in CAPA only before STLS, or only after. */
  const onlyWhen = (tls: boolean): FakePop3Profile => ({
    name: `auth-resp-code-${tls ? 'after' : 'before'}-stls`,
    capabilities: (caps, session) => (session.tls === tls ? [...caps, 'AUTH-RESP-CODE'] : caps),
  });

  async function codeLessRefusal(profile: FakePop3Profile): Promise<string> {
    const server = await fake({
      pki,
      stls: true,
      capabilities: ['USER', 'SASL PLAIN'],
      profiles: [profile],
      onCommand: async (cmd, s) => (cmd.verb === 'AUTH' ? (await s.writeLine('-ERR try again later'), true) : false),
    });
    const err = await errorOf(openSession({ ...opts(server), tls: 'starttls', tlsOptions: { ca: pki.caCert }, allowPlaintextAuth: false, auth: 'PLAIN' }));
    expect(server.commands.map((c) => c.line.split(' ')[0])).toEqual(['STLS', 'CAPA', 'AUTH']);
    return err.code;
  }

  it('announced before STLS only: not believed (a man in the middle may have added it), a code-less -ERR is AUTH_FAILED', async () => {
    expect(await codeLessRefusal(onlyWhen(false))).toBe(Pop3ErrorCode.AUTH_FAILED);
  });

  it('announced after STLS only: believed, a code-less -ERR is a passing SERVER_ERROR', async () => {
    expect(await codeLessRefusal(onlyWhen(true))).toBe(Pop3ErrorCode.SERVER_ERROR);
  });
});
