/**
 * Quirks of real servers the engine accepts end to end: status lines with punctuation
 * after the keyword, SASL mechanisms spread over several CAPA lines, and a UIDL line
 * without an id (that message is set aside, the rest of the listing is used); EXPIRE and
 * LOGIN-DELAY announced before and after login.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openSession, Pop3Client, Pop3ErrorCode, type Pop3SessionOptions } from '../../lambda/pop3';
import { startFakePop3, type FakePop3Options, type FakePop3Server } from '../fixtures/fake-pop3-server';

const servers: FakePop3Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function fake(options: FakePop3Options = {}): Promise<FakePop3Server> {
  const s = await startFakePop3(options);
  servers.push(s);
  return s;
}

function opts(server: FakePop3Server, extra: Partial<Pop3SessionOptions> = {}): Pop3SessionOptions {
  return { host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret', ...extra };
}

const message = (uid: string): { uid: string; bytes: Buffer } => ({ uid, bytes: Buffer.from(`Subject: ${uid}\r\n\r\nbody\r\n`) });

describe('status lines with punctuation after the keyword', () => {
  it('"+OK." greets, "+OK." logs in, and "-ERR:" is a typed failure, not a PROTOCOL_ERROR', async () => {
    const server = await fake({
      greeting: '+OK.',
      capabilities: null,
      onCommand: async (cmd, s) => {
        if (cmd.verb === 'NOOP') await s.writeLine('+OK.');
        else if (cmd.verb === 'PASS' && cmd.args[0] !== 'secret') await s.writeLine('-ERR: invalid password');
        else return false;
        return true;
      },
    });
    const c = await openSession(opts(server, { auth: 'USER' }));
    expect(c.authenticated).toBe(true);
    await c.noop();
    await c.quit();
    await expect(openSession(opts(server, { auth: 'USER', password: 'wrong' }))).rejects.toMatchObject({ code: Pop3ErrorCode.AUTH_FAILED, serverText: ': invalid password' });
    const plain = await Pop3Client.connect({ host: '127.0.0.1', port: server.port, tls: 'none' });
    expect(plain.greeting).toBe('.');
    plain.close();
  });

  it('"+OKAY" is still not "+OK"', async () => {
    const server = await fake({ greeting: '+OKAY ready' });
    await expect(Pop3Client.connect({ host: '127.0.0.1', port: server.port, tls: 'none' })).rejects.toMatchObject({ code: Pop3ErrorCode.PROTOCOL_ERROR });
  });
});

describe('SASL mechanisms on several CAPA lines', () => {
  it('are merged: a token logs in with XOAUTH2 listed on the second SASL line', async () => {
    const server = await fake({
      capabilities: ['USER', 'SASL PLAIN', 'SASL XOAUTH2', 'UIDL'],
      // The fake reads only the first SASL line itself; this stands in for XOAUTH2.
      onCommand: async (cmd, s) => (cmd.verb === 'AUTH' && cmd.args[0] === 'XOAUTH2' ? (await s.writeLine('+OK Logged in.'), true) : false),
    });
    const c = await openSession(opts(server, { password: undefined, accessToken: 'tok' }));
    expect(c.authenticated).toBe(true);
    expect(server.commands.some((l) => l.line.startsWith('AUTH XOAUTH2 '))).toBe(true);
    await c.quit();
    const again = await Pop3Client.connect({ host: '127.0.0.1', port: server.port, tls: 'none' });
    expect((await again.capa()).sasl).toEqual(['PLAIN', 'XOAUTH2']);
    again.close();
  });
});

describe('EXPIRE and LOGIN-DELAY announced per user', () => {
  it('the session policy is what CAPA after login says; what CAPA said before stands where it is silent', async () => {
    const server = await fake({ capabilities: ['USER', 'UIDL', 'EXPIRE 30 USER', 'LOGIN-DELAY 900 USER'], capabilitiesAfterLogin: ['UIDL', 'EXPIRE0'] });
    const c = await openSession(opts(server));
    expect(c.serverPolicy).toEqual({ expireDays: 0, loginDelaySeconds: 900 });
    await c.quit();
  });
});

describe('a UIDL line without an id', () => {
  it('sets that message aside as invalid; the rest of the listing is used', async () => {
    const server = await fake({
      messages: [message('a'), message('b'), message('c')],
      onCommand: async (cmd, s) => (cmd.verb === 'UIDL' && cmd.args.length === 0 ? (await s.write('+OK\r\n1 a\r\n2\r\n3 c\r\n.\r\n'), true) : false),
    });
    const c = await openSession(opts(server));
    const listing = await c.uidl();
    expect(listing.entries.map((e) => e.uid)).toEqual(['a', 'c']);
    expect(listing.invalid).toEqual([{ number: 2, reason: 'empty unique-id' }]);
    await c.quit();
  });
});
