/**
 * The POP3 engine against a scriptable fake server that misbehaves: split chunks, dropped
 * and stalled connections, hostile lines, injected bytes, SASL flows, TLS trust failures.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openSession, Pop3Client, Pop3Error, Pop3ErrorCode, type MessageStream, type Pop3SessionOptions } from '../../lambda/pop3';
import { startFakePop3, type FakeMessage, type FakePop3Options, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { makeTestPki } from '../fixtures/test-ca';

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

async function readAll(stream: MessageStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function errorOf(p: Promise<unknown>): Promise<Pop3Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Pop3Error);
  return err as Pop3Error;
}

const msg = (uid: string, text: string): FakeMessage => ({ uid, bytes: Buffer.from(text, 'latin1') });
const TRICKY = msg('u1', 'Subject: dots\r\n\r\n.\r\n..\r\n.x\r\nend.\r\n\r\n.\r\n');

describe('chunk boundaries', () => {
  it('delivers exact bytes whatever the chunking: split terminators and stuffed dots at every offset', async () => {
    const second = msg('u2', 'Subject: two\r\n\r\n\xff\xfe 8-bit\r\n');
    for (const size of [1, 2, 3, 4, 5, 7, 11, 13]) {
      const server = await fake({ messages: [TRICKY, second], chunkSizes: [size] });
      const c = await openSession(opts(server));
      const [a, b] = [c.retr(1), c.retr(2)];
      expect((await readAll(await a)).equals(TRICKY.bytes), `chunk ${size}`).toBe(true);
      expect((await readAll(await b)).equals(second.bytes), `chunk ${size}`).toBe(true);
      await c.quit();
    }
  });
});

describe('broken connections never look like complete messages', () => {
  it('drop mid-RETR: the stream errors with CONNECTION_CLOSED and never ends', async () => {
    const server = await fake({
      messages: [TRICKY],
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'RETR') return false;
        await s.write('+OK\r\nSubject: half\r\n\r\nsome of the bo');
        s.destroy();
        return true;
      },
    });
    const c = await openSession(opts(server));
    const stream = await c.retr(1);
    let ended = false;
    stream.on('end', () => (ended = true));
    const err = await errorOf(readAll(stream));
    expect(err.code).toBe(Pop3ErrorCode.CONNECTION_CLOSED);
    expect(err.retryable).toBe(true);
    expect(ended).toBe(false);
    // The session is dead: later commands fail instead of hanging.
    await expect(c.noop()).rejects.toMatchObject({ code: Pop3ErrorCode.CONNECTION_CLOSED });
  });

  it('stall mid-RETR: the stream errors with IDLE_TIMEOUT', async () => {
    const server = await fake({
      messages: [TRICKY],
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'RETR') return false;
        await s.write('+OK\r\nSubject: stalled\r\n');
        s.stall();
        return true;
      },
    });
    const c = await openSession(opts(server, { idleTimeoutMs: 300 }));
    const err = await errorOf(readAll(await c.retr(1)));
    expect(err.code).toBe(Pop3ErrorCode.IDLE_TIMEOUT);
  });

  it('a RST mid-reply fails the pending command', async () => {
    const server = await fake({
      onCommand: (cmd, s) => {
        if (cmd.verb !== 'STAT') return false;
        s.reset();
        return true;
      },
    });
    const c = await openSession(opts(server));
    expect((await errorOf(c.stat())).code).toBe(Pop3ErrorCode.CONNECTION_CLOSED);
  });
});

describe('greetings and status lines', () => {
  it('garbage greeting is a PROTOCOL_ERROR; no greeting is a GREETING_TIMEOUT', async () => {
    const garbage = await fake({ greeting: 'HTTP/1.1 400 Bad Request' });
    expect((await errorOf(Pop3Client.connect({ host: '127.0.0.1', port: garbage.port, tls: 'none' }))).code).toBe(Pop3ErrorCode.PROTOCOL_ERROR);
    const silent = await fake({ onConnect: () => true });
    const err = await errorOf(Pop3Client.connect({ host: '127.0.0.1', port: silent.port, tls: 'none', greetingTimeoutMs: 200 }));
    expect(err.code).toBe(Pop3ErrorCode.GREETING_TIMEOUT);
  });

  it('-ERR greeting keeps the server response code', async () => {
    const busy = await fake({ greeting: '-ERR [SYS/TEMP] overloaded' });
    const err = await errorOf(Pop3Client.connect({ host: '127.0.0.1', port: busy.port, tls: 'none' }));
    expect(err).toMatchObject({ code: Pop3ErrorCode.SYS_TEMP, retryable: true });
  });

  it('an endless line fails with LINE_TOO_LONG instead of eating memory', async () => {
    const server = await fake({ greeting: Buffer.alloc(64 * 1024, 0x41) });
    const err = await errorOf(Pop3Client.connect({ host: '127.0.0.1', port: server.port, tls: 'none', maxLineOctets: 4096 }));
    expect(err.code).toBe(Pop3ErrorCode.LINE_TOO_LONG);
  });

  it('an over-long UIDL line is LINE_TOO_LONG and ends the session', async () => {
    const server = await fake({
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'UIDL') return false;
        await s.write(`+OK\r\n1 ${'x'.repeat(20_000)}\r\n.\r\n`);
        return true;
      },
    });
    const c = await openSession(opts(server));
    expect((await errorOf(c.uidl())).code).toBe(Pop3ErrorCode.LINE_TOO_LONG);
    await expect(c.noop()).rejects.toBeInstanceOf(Pop3Error);
  });

  it('IN-USE and LOGIN-DELAY at login are typed and retryable', async () => {
    for (const [code, expected] of [['IN-USE', Pop3ErrorCode.IN_USE], ['LOGIN-DELAY', Pop3ErrorCode.LOGIN_DELAY]] as const) {
      const server = await fake({
        onCommand: async (cmd, s) => {
          if (cmd.verb !== 'PASS') return false;
          await s.writeLine(`-ERR [${code}] try later`);
          return true;
        },
      });
      const err = await errorOf(openSession(opts(server, { auth: 'USER' })));
      expect(err).toMatchObject({ code: expected, retryable: true, responseCode: code });
    }
  });

  it('duplicate UIDLs are reported, not merged', async () => {
    const server = await fake({ messages: [msg('same', 'a\r\n'), msg('other', 'b\r\n'), msg('same', 'c\r\n')] });
    const c = await openSession(opts(server));
    const listing = await c.uidl();
    expect(listing.entries).toHaveLength(3);
    expect([...listing.duplicates]).toEqual([['same', [1, 3]]]);
    await c.quit();
  });
});

describe('message size limit', () => {
  it('MESSAGE_TOO_LARGE fails the stream but leaves the session usable', async () => {
    const big = msg('big', `Subject: big\r\n\r\n${'y'.repeat(50_000)}\r\n`);
    const server = await fake({ messages: [big, TRICKY], chunkSizes: [1000] });
    const c = await openSession(opts(server, { maxMessageOctets: 10_000 }));
    const first = c.retr(1);
    const second = c.retr(2);
    expect((await errorOf(readAll(await first))).code).toBe(Pop3ErrorCode.MESSAGE_TOO_LARGE);
    expect((await readAll(await second)).equals(TRICKY.bytes)).toBe(true);
    await c.quit();
  });

  it('a consumer that gives up on a stream does not break the next command', async () => {
    const big = msg('big', `Subject: big\r\n\r\n${'z'.repeat(300_000)}\r\n`);
    const server = await fake({ messages: [big, TRICKY] });
    const c = await openSession(opts(server));
    const s = await c.retr(1);
    s.destroy();
    expect((await readAll(await c.retr(2))).equals(TRICKY.bytes)).toBe(true);
    expect((await c.stat()).count).toBe(2);
    await c.quit();
  });
});

describe('aborts and deadlines', () => {
  it('an AbortSignal ends a stalled session with ABORTED', async () => {
    const server = await fake({ onCommand: (cmd, s) => (cmd.verb === 'STAT' ? (s.stall(), true) : false) });
    const controller = new AbortController();
    const c = await openSession(opts(server, { signal: controller.signal }));
    const pending = c.stat();
    setTimeout(() => controller.abort(), 50);
    expect((await errorOf(pending)).code).toBe(Pop3ErrorCode.ABORTED);
  });

  it('the session deadline ends a session with ABORTED', async () => {
    const server = await fake({ onCommand: (cmd, s) => (cmd.verb === 'STAT' ? (s.stall(), true) : false) });
    const c = await openSession(opts(server, { sessionTimeoutMs: 300 }));
    expect((await errorOf(c.stat())).code).toBe(Pop3ErrorCode.ABORTED);
  });

  it('a TLS handshake that never completes is a CONNECT_TIMEOUT; a plaintext answer to it is TLS_FAILED', async () => {
    const silent = net.createServer(() => {}); // accepts, never answers the ClientHello
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const err = await errorOf(Pop3Client.connect({ host: '127.0.0.1', port, tls: 'implicit', connectTimeoutMs: 300 }));
      expect(err.code).toBe(Pop3ErrorCode.CONNECT_TIMEOUT);
    } finally {
      silent.close();
    }
    const plain = await fake();
    const notTls = await errorOf(Pop3Client.connect({ host: '127.0.0.1', port: plain.port, tls: 'implicit' }));
    expect(notTls.code).toBe(Pop3ErrorCode.TLS_FAILED);
    expect(notTls.message).toContain('the server answered without TLS: this port speaks plain POP3 (110 usually does); use "tls": "starttls" on it');
  });

  it('a refused connection is CONNECT_FAILED', async () => {
    const server = await fake();
    const port = server.port;
    await server.close();
    expect((await errorOf(Pop3Client.connect({ host: '127.0.0.1', port, tls: 'none' }))).code).toBe(Pop3ErrorCode.CONNECT_FAILED);
  });
});

describe('TLS', () => {
  it('implicit TLS verifies against the given CA, and fails against another', async () => {
    const pki = await makeTestPki();
    const server = await fake({ tls: 'implicit', pki, messages: [TRICKY] });
    const c = await openSession(opts(server, { tls: 'implicit', tlsOptions: { ca: pki.caCert }, allowPlaintextAuth: false }));
    expect(c.tls?.authorized).toBe(true);
    expect((await readAll(await c.retr(1))).equals(TRICKY.bytes)).toBe(true);
    await c.quit();
    const err = await errorOf(openSession(opts(server, { tls: 'implicit', tlsOptions: { ca: pki.otherCaCert } })));
    expect(err.code).toBe(Pop3ErrorCode.TLS_FAILED);
    expect(server.commands.some((l) => l.line.startsWith('PASS') || l.line.startsWith('AUTH'))).toBe(true); // only from the good session
  });

  it('STLS: bytes injected before the handshake are refused (CVE-2011-0411 class), no credentials sent', async () => {
    const pki = await makeTestPki();
    const server = await fake({
      stls: true,
      pki,
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'STLS') return false;
        await s.write('+OK go ahead\r\n-ERR injected\r\n');
        return true;
      },
    });
    const err = await errorOf(openSession(opts(server, { tls: 'starttls', tlsOptions: { ca: pki.caCert }, allowPlaintextAuth: false })));
    expect(err.code).toBe(Pop3ErrorCode.PROTOCOL_ERROR);
    expect(server.commands.map((c) => c.line)).toEqual(['STLS']);
  });

  it('STLS refused by the server is UNSUPPORTED, and nothing secret was sent', async () => {
    const server = await fake({ onCommand: async (cmd, s) => (cmd.verb === 'STLS' ? (await s.writeLine('-ERR not here'), true) : false) });
    const err = await errorOf(openSession(opts(server, { tls: 'starttls', allowPlaintextAuth: false })));
    expect(err.code).toBe(Pop3ErrorCode.UNSUPPORTED);
    expect(server.commands.map((c) => c.line)).toEqual(['STLS']);
  });
});

describe('authentication flows', () => {
  it('LOGIN and CRAM-MD5 answer their challenges; USER works without CAPA and a bare AUTH listing', async () => {
    for (const auth of ['LOGIN', 'CRAM-MD5', 'PLAIN', 'APOP'] as const) {
      const server = await fake();
      const c = await openSession(opts(server, { auth }));
      expect(c.authenticated, auth).toBe(true);
      await c.quit();
    }
    const old = await fake({ capabilities: null, greeting: '+OK', onCommand: async (cmd, s) => (cmd.verb === 'AUTH' && cmd.args.length === 0 ? (await s.writeLine('-ERR what?'), true) : false) });
    const c = await openSession(opts(old));
    expect(c.capabilities?.lines).toEqual([]);
    expect(old.commands.map((l) => l.line.split(' ')[0])).toEqual(['CAPA', 'AUTH', 'USER', 'PASS', 'CAPA']);
    await c.quit();
  });

  it('auto picks by preference from CAPA; a configured mechanism the server lacks is UNSUPPORTED', async () => {
    // Over plaintext APOP comes first (no password on the wire) when the greeting allows it.
    const withApop = await fake({ capabilities: ['USER', 'SASL LOGIN', 'PIPELINING'] });
    await (await openSession(opts(withApop))).quit();
    expect(withApop.commands.some((l) => l.line.startsWith('APOP alice '))).toBe(true);
    const server = await fake({ capabilities: ['USER', 'SASL LOGIN', 'PIPELINING'], greeting: '+OK ready' });
    const c = await openSession(opts(server));
    await c.quit();
    expect(server.commands.some((l) => l.line === 'AUTH LOGIN')).toBe(true);
    const err = await errorOf(openSession(opts(server, { auth: 'CRAM-MD5' })));
    expect(err.code).toBe(Pop3ErrorCode.UNSUPPORTED);
    expect(err.message).toContain('SASL LOGIN');
  });

  it('XOAUTH2 two-step (Microsoft 365 form), and a long token is withheld from the AUTH line (RFC 5034)', async () => {
    const longToken = `eyJ${'a'.repeat(1500)}`;
    const server = await fake({ oauthTokens: ['short-token', longToken], xoauth2TwoStep: true });
    const a = await openSession(opts(server, { password: undefined, accessToken: 'short-token', auth: 'XOAUTH2', xoauth2TwoStep: true }));
    await a.quit();
    const b = await openSession(opts(server, { password: undefined, accessToken: longToken }));
    await b.quit();
    const authLines = server.commands.filter((l) => l.line.startsWith('AUTH')).map((l) => l.line);
    expect(authLines).toEqual(['AUTH XOAUTH2', 'AUTH XOAUTH2']);
    expect(server.commands.every((l) => l.line.length <= 2100)).toBe(true);
  });

  it('a rejected token gets the error continuation answered, then AUTH_FAILED; the token is nowhere in errors or traces', async () => {
    const server = await fake({ oauthTokens: ['good'] });
    const trace: string[] = [];
    for (const auth of ['XOAUTH2', 'OAUTHBEARER'] as const) {
      const err = await errorOf(openSession(opts(server, { password: undefined, accessToken: 'bad-token-value', auth, trace: (e) => trace.push(e.line) })));
      expect(err.code).toBe(Pop3ErrorCode.AUTH_FAILED);
      expect(JSON.stringify([err.message, err.serverText, err.command])).not.toContain('bad-token-value');
    }
    expect(trace.join('\n')).not.toMatch(/bad-token-value|YmFkLXRva2Vu/);
  });

  it('a server that echoes the password in its error does not leak it', async () => {
    const server = await fake({ onCommand: async (cmd, s) => (cmd.verb === 'PASS' ? (await s.writeLine(`-ERR bad password ${cmd.args[0]}`), true) : false) });
    const err = await errorOf(openSession(opts(server, { auth: 'USER', password: 'hunter2-secret' })));
    expect(err.code).toBe(Pop3ErrorCode.AUTH_FAILED);
    expect(JSON.stringify([err.message, err.serverText])).not.toContain('hunter2-secret');
  });

  it('a SASL exchange that never ends is cancelled with "*"; a server that challenges on is dropped', async () => {
    const answers: string[] = [];
    const server = await fake({
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'AUTH') return false;
        for (;;) {
          await s.writeLine('+ ');
          const line = await s.readLine();
          if (line === null) return true;
          answers.push(line.toString('latin1'));
        }
      },
    });
    const err = await errorOf(openSession(opts(server, { auth: 'LOGIN' })));
    expect(err.code).toBe(Pop3ErrorCode.AUTH_CANCELLED);
    expect(err.message).toContain('more than 10 challenges');
    expect(answers.at(-1)).toBe('*');
    expect(answers).toHaveLength(11);
  });

  it('a cancelled exchange that the server ends with -ERR is AUTH_CANCELLED, not retried as wrong credentials', async () => {
    const server = await fake({
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'AUTH') return false;
        await s.writeLine('+ not~base64!');
        const line = await s.readLine();
        await s.writeLine(line?.toString('latin1') === '*' ? '-ERR AUTH cancelled by client' : '-ERR [AUTH] no');
        return true;
      },
    });
    const err = await errorOf(openSession(opts(server, { auth: 'CRAM-MD5' })));
    expect(err.code).toBe(Pop3ErrorCode.AUTH_CANCELLED);
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/AUTH CRAM-MD5 cancelled: the server sent a challenge that is not base64: "not~base64!"/);
    expect(err.serverText).toBe('AUTH cancelled by client');
  });
});

describe('streams nobody reads', () => {
  it('once the connection fails, commands queued behind an unconsumed stream fail instead of hanging', async () => {
    const server = await fake({ messages: [TRICKY, TRICKY, TRICKY] });
    const c = await openSession(opts(server));
    const first = c.retr(1);
    const second = c.retr(2);
    await first; // never read
    c.close();
    expect((await errorOf(second)).code).toBe(Pop3ErrorCode.CONNECTION_CLOSED);
  });
});
