/**
 * The rest of an unwanted message (over the size limit, or given up by its consumer) is
 * discarded within bounds of octets and time. Past them the session ends, and what the
 * caller sees says why: MESSAGE_TOO_LARGE naming the RETR, not CONNECTION_CLOSED.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openSession, Pop3Error, Pop3ErrorCode, type MessageStream, type Pop3SessionOptions } from '../../lambda/pop3';
import { startFakePop3, type FakePop3Options, type FakePop3Server, type FakeSession } from '../fixtures/fake-pop3-server';

const servers: FakePop3Server[] = [];
/** Floods of the current test; stopped when it ends. */
const floods: { stopped: boolean }[] = [];
afterEach(async () => {
  for (const f of floods.splice(0)) f.stopped = true;
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function fake(options: FakePop3Options = {}): Promise<FakePop3Server> {
  const s = await startFakePop3(options);
  servers.push(s);
  return s;
}

function opts(server: FakePop3Server, extra: Partial<Pop3SessionOptions> = {}): Pop3SessionOptions {
  return { host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret', sessionTimeoutMs: 20_000, ...extra };
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

const PIECE = `${'e'.repeat(1022)}\r\n`.repeat(64);
const ENDLESS_CAP_OCTETS = 256 * 1024 * 1024;

/** RETR streams message lines forever (until the connection is gone or the test ends), `pauseMs` between pieces. */
function endlessRetr(pauseMs = 0): FakePop3Options['onCommand'] {
  const flood = { stopped: false };
  floods.push(flood);
  return async (cmd, s: FakeSession) => {
    if (cmd.verb !== 'RETR') return false;
    await s.write('+OK here it comes\r\n');
    for (let sent = 0; !flood.stopped && sent < ENDLESS_CAP_OCTETS; sent += PIECE.length) {
      await s.write(PIECE);
      await new Promise((r) => setTimeout(r, pauseMs));
    }
    return true;
  };
}

describe('an endless RETR', () => {
  it('is MESSAGE_TOO_LARGE; the drain stops at maxDrainOctets and later commands say MESSAGE_TOO_LARGE for RETR 1', async () => {
    const server = await fake({ messages: [{ uid: 'u', bytes: Buffer.from('x\r\n') }], onCommand: endlessRetr() });
    const c = await openSession(opts(server, { maxMessageOctets: 100_000, maxDrainOctets: 1024 * 1024 }));
    const stream = await c.retr(1);
    const streamErr = await errorOf(readAll(stream));
    expect(streamErr).toMatchObject({ code: Pop3ErrorCode.MESSAGE_TOO_LARGE, command: 'RETR 1' });
    const later = await errorOf(c.noop());
    expect(later).toMatchObject({ code: Pop3ErrorCode.MESSAGE_TOO_LARGE, command: 'RETR 1' });
    expect(later.message).toBe('RETR 1: the message exceeds the limit of 100000 octets, and its rest (more than 1048576 octets) was not read: the connection is closed');
    await expect(c.stat()).rejects.toMatchObject({ code: Pop3ErrorCode.MESSAGE_TOO_LARGE });
  });

  it('sent slowly: the drain stops at drainTimeoutMs, again MESSAGE_TOO_LARGE', async () => {
    const server = await fake({ messages: [{ uid: 'u', bytes: Buffer.from('x\r\n') }], onCommand: endlessRetr(10) });
    const c = await openSession(opts(server, { maxMessageOctets: 100_000, drainTimeoutMs: 300 }));
    expect((await errorOf(readAll(await c.retr(1)))).code).toBe(Pop3ErrorCode.MESSAGE_TOO_LARGE);
    const start = Date.now();
    const later = await errorOf(c.noop());
    expect(later.code).toBe(Pop3ErrorCode.MESSAGE_TOO_LARGE);
    expect(later.message).toContain('(not over within 300 ms)');
    expect(Date.now() - start).toBeLessThan(2_000);
  });

  it('a consumer that gives up on it: the drain bound closes the session (CONNECTION_CLOSED naming the RETR)', async () => {
    const server = await fake({ messages: [{ uid: 'u', bytes: Buffer.from('x\r\n') }], onCommand: endlessRetr() });
    const c = await openSession(opts(server, { maxDrainOctets: 512 * 1024 }));
    const stream = await c.retr(1);
    stream.destroy();
    const later = await errorOf(c.noop());
    expect(later).toMatchObject({ code: Pop3ErrorCode.CONNECTION_CLOSED, command: 'RETR 1' });
  });
});

describe('a message over the limit that does end', () => {
  it('is drained when within the bounds, and the session goes on', async () => {
    const big = Buffer.from(`Subject: big\r\n\r\n${PIECE.repeat(8)}`, 'latin1');
    const small = Buffer.from('Subject: small\r\n\r\nhi\r\n', 'latin1');
    const server = await fake({ messages: [{ uid: 'big', bytes: big }, { uid: 'small', bytes: small }] });
    const c = await openSession(opts(server, { maxMessageOctets: 10_000, maxDrainOctets: 1024 * 1024 }));
    const first = c.retr(1);
    const second = c.retr(2);
    expect((await errorOf(readAll(await first))).code).toBe(Pop3ErrorCode.MESSAGE_TOO_LARGE);
    expect((await readAll(await second)).equals(small)).toBe(true);
    await c.quit();
  });

  it('when the server closes during the drain, later commands still say MESSAGE_TOO_LARGE', async () => {
    const server = await fake({
      messages: [{ uid: 'u', bytes: Buffer.from('x\r\n') }],
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'RETR') return false;
        await s.write(`+OK\r\n${PIECE}${PIECE}`);
        s.end();
        return true;
      },
    });
    const c = await openSession(opts(server, { maxMessageOctets: 10_000 }));
    expect((await errorOf(readAll(await c.retr(1)))).code).toBe(Pop3ErrorCode.MESSAGE_TOO_LARGE);
    expect(await errorOf(c.noop())).toMatchObject({ code: Pop3ErrorCode.MESSAGE_TOO_LARGE, command: 'RETR 1' });
  });
});
