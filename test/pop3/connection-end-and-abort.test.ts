/**
 * Nothing waits longer than it must: a command queued behind an unread message after the
 * server closed fails at once, and the caller's AbortSignal ends every kind of wait
 * (connect, greeting, STLS handshake, reply, drain, QUIT) promptly with ABORTED.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openSession, Pop3Client, Pop3Error, Pop3ErrorCode, type MessageStream, type Pop3SessionOptions } from '../../lambda/pop3';
import { startFakePop3, type FakeMessage, type FakePop3Options, type FakePop3Server } from '../fixtures/fake-pop3-server';

const servers: FakePop3Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function fake(options: FakePop3Options = {}): Promise<FakePop3Server> {
  const s = await startFakePop3(options);
  servers.push(s);
  return s;
}

/** Long timeouts, so that only the behaviour under test can end a wait quickly. */
function opts(server: FakePop3Server, extra: Partial<Pop3SessionOptions> = {}): Pop3SessionOptions {
  return {
    host: '127.0.0.1',
    port: server.port,
    tls: 'none',
    allowPlaintextAuth: true,
    username: 'alice',
    password: 'secret',
    idleTimeoutMs: 20_000,
    greetingTimeoutMs: 20_000,
    connectTimeoutMs: 20_000,
    sessionTimeoutMs: 25_000,
    ...extra,
  };
}

async function readAll(stream: MessageStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** The rejection of `p` and how long it took. */
async function timedError(p: Promise<unknown>): Promise<{ err: Pop3Error; ms: number }> {
  const start = Date.now();
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Pop3Error);
  return { err: err as Pop3Error, ms: Date.now() - start };
}

const PROMPT_MS = 1_000;
const msg = (uid: string, text: string): FakeMessage => ({ uid, bytes: Buffer.from(text, 'latin1') });
const FIRST = msg('u1', 'Subject: one\r\n\r\nbody one\r\n');
const SECOND = msg('u2', 'Subject: two\r\n\r\nbody two\r\n');

describe('the server closes while a message stream is unread', () => {
  it('a command queued behind it fails promptly with CONNECTION_CLOSED, and the stream still reads whole', async () => {
    const server = await fake({
      messages: [FIRST],
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'RETR') return false;
        await s.writeLine('+OK');
        await s.writeMultiline(FIRST.bytes);
        s.end(); // FIN after the message
        return true;
      },
    });
    const c = await openSession(opts(server, { pipelining: false }));
    const stream = await c.retr(1);
    const { err, ms } = await timedError(c.noop());
    expect(err).toMatchObject({ code: Pop3ErrorCode.CONNECTION_CLOSED, command: 'NOOP' });
    expect(ms).toBeLessThan(PROMPT_MS);
    expect((await readAll(stream)).equals(FIRST.bytes)).toBe(true);
    // Later commands fail at once too.
    expect((await timedError(c.stat())).ms).toBeLessThan(PROMPT_MS);
  });

  it('pipelined: the next RETR fails promptly when the server closes instead of answering it', async () => {
    const server = await fake({
      messages: [FIRST, SECOND],
      onCommand: (cmd, s) => {
        if (cmd.verb !== 'RETR' || cmd.args[0] !== '2') return false;
        s.end();
        return true;
      },
    });
    const c = await openSession(opts(server));
    expect(c.pipelining).toBe(true);
    const first = c.retr(1);
    const second = c.retr(2);
    const stream = await first; // left unread while the second reply is awaited
    const { err, ms } = await timedError(second);
    expect(err).toMatchObject({ code: Pop3ErrorCode.CONNECTION_CLOSED, command: 'RETR 2' });
    expect(ms).toBeLessThan(PROMPT_MS);
    expect((await readAll(stream)).equals(FIRST.bytes)).toBe(true);
  });

  it('replies already received behind the unread message are not lost: a pipelined QUIT still gets its +OK', async () => {
    const server = await fake({ messages: [FIRST] });
    const c = await openSession(opts(server));
    const stream = await c.retr(1);
    const quit = c.quit(); // the server answers and closes while the message is still unread
    await new Promise((r) => setTimeout(r, 200));
    expect((await readAll(stream)).equals(FIRST.bytes)).toBe(true);
    await expect(quit).resolves.toBeUndefined();
  });
});

describe('the AbortSignal interrupts every wait promptly with ABORTED', () => {
  /** Aborts after `afterMs` and returns the signal. */
  function abortSoon(afterMs = 100): AbortSignal {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('caller gave up')), afterMs);
    return controller.signal;
  }

  it('during the TLS handshake of implicit TLS (connect)', async () => {
    const silent = net.createServer(() => {}); // accepts, never answers the ClientHello
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const { err, ms } = await timedError(Pop3Client.connect({ host: '127.0.0.1', port, tls: 'implicit', connectTimeoutMs: 20_000, signal: abortSoon() }));
      expect(err.code).toBe(Pop3ErrorCode.ABORTED);
      expect(ms).toBeLessThan(PROMPT_MS);
    } finally {
      silent.close();
    }
  });

  it('while waiting for the greeting', async () => {
    const server = await fake({ onConnect: () => true });
    const { err, ms } = await timedError(Pop3Client.connect({ host: '127.0.0.1', port: server.port, tls: 'none', greetingTimeoutMs: 20_000, signal: abortSoon() }));
    expect(err.code).toBe(Pop3ErrorCode.ABORTED);
    expect(ms).toBeLessThan(PROMPT_MS);
  });

  it('during the STLS handshake (not CONNECTION_CLOSED)', async () => {
    const server = await fake({
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'STLS') return false;
        await s.writeLine('+OK Begin TLS');
        s.stall(); // never answers the ClientHello
        return true;
      },
    });
    const { err, ms } = await timedError(openSession(opts(server, { tls: 'starttls', allowPlaintextAuth: false, signal: abortSoon() })));
    expect(err.code).toBe(Pop3ErrorCode.ABORTED);
    expect(ms).toBeLessThan(PROMPT_MS);
  });

  it('while the rest of an over-large message is being drained', async () => {
    let stop = false;
    const server = await fake({
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'RETR') return false;
        await s.write('+OK\r\n');
        // A slow trickle that never ends: the drain waits on it.
        while (!stop) {
          await s.write(`${'d'.repeat(1000)}\r\n`);
          await new Promise((r) => setTimeout(r, 20));
        }
        return true;
      },
      messages: [FIRST],
    });
    try {
      const controller = new AbortController();
      const c = await openSession(opts(server, { maxMessageOctets: 2_000, signal: controller.signal }));
      const stream = await c.retr(1);
      expect((await timedError(readAll(stream))).err.code).toBe(Pop3ErrorCode.MESSAGE_TOO_LARGE);
      const noop = c.noop(); // waits for the drain, which the abort ends
      setTimeout(() => controller.abort(new Error('caller gave up')), 100);
      const { err, ms } = await timedError(noop);
      expect(err.code).toBe(Pop3ErrorCode.ABORTED);
      expect(ms).toBeLessThan(PROMPT_MS);
    } finally {
      stop = true;
    }
  });

  it('while QUIT waits for its reply', async () => {
    const server = await fake({ onCommand: (cmd, s) => (cmd.verb === 'QUIT' ? (s.stall(), true) : false) });
    const controller = new AbortController();
    const c = await openSession(opts(server, { quitTimeoutMs: 20_000, signal: controller.signal }));
    const quit = c.quit();
    setTimeout(() => controller.abort(new Error('caller gave up')), 100);
    const { err, ms } = await timedError(quit);
    expect(err.code).toBe(Pop3ErrorCode.ABORTED);
    expect(ms).toBeLessThan(PROMPT_MS);
  });
});

describe('quitTimeoutMs', () => {
  it('bounds the wait for the reply to QUIT (IDLE_TIMEOUT), and the session is closed', async () => {
    const server = await fake({ onCommand: (cmd, s) => (cmd.verb === 'QUIT' ? (s.stall(), true) : false) });
    const c = await openSession(opts(server, { quitTimeoutMs: 150 }));
    const { err, ms } = await timedError(c.quit());
    expect(err).toMatchObject({ code: Pop3ErrorCode.IDLE_TIMEOUT, message: 'no reply to QUIT within 150 ms' });
    expect(ms).toBeLessThan(PROMPT_MS);
    await expect(c.noop()).rejects.toMatchObject({ code: Pop3ErrorCode.USAGE });
  });
});
