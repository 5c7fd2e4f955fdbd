/**
 * Multi-line replies are bounded by octets, not only by lines: a server cannot make the
 * client hold a huge CAPA, AUTH listing, UIDL or LIST in memory.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openSession, Pop3Client, Pop3Error, Pop3ErrorCode, type Pop3SessionOptions } from '../../lambda/pop3';
import { MAX_CAPA_LINES, MAX_CAPA_OCTETS } from '../../lambda/pop3/constants';
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

async function errorOf(p: Promise<unknown>): Promise<Pop3Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Pop3Error);
  return err as Pop3Error;
}

/** A reply of `count` lines of `width` octets each to `verb`. */
function floodReply(verb: string, count: number, width: number): FakePop3Options['onCommand'] {
  return async (cmd, s) => {
    if (cmd.verb !== verb || cmd.args.length > 0) return false;
    await s.write('+OK\r\n');
    const line = `${'X'.repeat(width)}\r\n`;
    for (let sent = 0; sent < count; sent += 100) await s.write(line.repeat(Math.min(100, count - sent)));
    await s.write('.\r\n');
    return true;
  };
}

describe('multi-line replies are bounded by octets', () => {
  it(`a CAPA of more than ${MAX_CAPA_LINES} short lines is REPLY_TOO_LARGE and ends the session`, async () => {
    const server = await fake({ onCommand: floodReply('CAPA', MAX_CAPA_LINES + 1, 4) });
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: server.port, tls: 'none' });
    const err = await errorOf(c.capa());
    expect(err).toMatchObject({ code: Pop3ErrorCode.REPLY_TOO_LARGE, command: 'CAPA', retryable: false });
    expect(err.message).toBe(`CAPA: the reply has more than ${MAX_CAPA_LINES} lines; refused as hostile or broken`);
    await expect(c.noop()).rejects.toMatchObject({ code: Pop3ErrorCode.REPLY_TOO_LARGE });
  });

  it(`a CAPA of a few long lines over ${MAX_CAPA_OCTETS} octets is REPLY_TOO_LARGE (the session fails at login)`, async () => {
    const server = await fake({ onCommand: floodReply('CAPA', 20, 8_000) });
    const err = await errorOf(openSession(opts(server)));
    expect(err.code).toBe(Pop3ErrorCode.REPLY_TOO_LARGE);
    expect(err.message).toBe(`CAPA: the reply has more than ${MAX_CAPA_OCTETS} octets; refused as hostile or broken`);
  });

  it('the mechanism list of a bare AUTH has the CAPA bounds', async () => {
    const server = await fake({ onCommand: floodReply('AUTH', 40, 4_000) });
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: server.port, tls: 'none' });
    const err = await errorOf(c.multiline('AUTH'));
    expect(err).toMatchObject({ code: Pop3ErrorCode.REPLY_TOO_LARGE, command: 'AUTH' });
  });

  it('UIDL and LIST over the listing octet bound are REPLY_TOO_LARGE, naming the command and the bound', async () => {
    for (const verb of ['UIDL', 'LIST']) {
      const server = await fake({ onCommand: floodReply(verb, 1_000, 100) });
      const c = await openSession(opts(server, { maxListingOctets: 50_000 }));
      const err = await errorOf(verb === 'UIDL' ? c.uidl() : c.list());
      expect(err).toMatchObject({ code: Pop3ErrorCode.REPLY_TOO_LARGE, command: verb });
      expect(err.message).toBe(`${verb}: the reply has more than 50000 octets; refused as hostile or broken`);
      c.close();
    }
  });

  it('listings within the bounds are read whole', async () => {
    const messages = Array.from({ length: 300 }, (_, i) => ({ uid: `uid-${i}-${'u'.repeat(60)}`, bytes: Buffer.from(`Subject: ${i}\r\n\r\nx\r\n`) }));
    const server = await fake({ messages });
    const c = await openSession(opts(server));
    expect((await c.uidl()).entries).toHaveLength(300);
    expect(await c.list()).toHaveLength(300);
    await c.quit();
  });
});
