/**
 * No silent truncation: a message that ends early (a "." line after a bare LF that a
 * CRLF-only server did not stuff, or far fewer octets than LIST announced) must fail its
 * stream with MESSAGE_INCOMPLETE before any 'end', so nothing partial is stored.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openSession, Pop3ErrorCode } from '../../lambda/pop3';
import { INCOMPLETE_TOLERANCE_OCTETS, INCOMPLETE_TOLERANCE_RATIO } from '../../lambda/pop3/constants';
import type { FakeMessage, FakePop3Options, FakePop3Server } from '../fixtures/fake-pop3-server';
import { closeServers, errorOf, fake, opts, readAll, upload } from './pop3-test-kit';

afterEach(closeServers);

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
/** 51 octets, with a line "." after a bare LF. */
const BARE_LF_DOT: FakeMessage = { uid: 'lf-dot', bytes: b('Subject: x\r\n\r\nline one\n.\r\nline three, long enough\r\n') };
const PLAIN: FakeMessage = { uid: 'plain', bytes: b('Subject: y\r\n\r\nfine\r\n') };

/**
 * RETR 1 as a server that splits lines on CRLF only sends it: the "." after the bare LF is
 * not stuffed, so the message seems to end after 23 octets. Everything else is default.
 */
const crlfOnlyStuffing: FakePop3Options['onCommand'] = async (cmd, s) => {
  if (cmd.verb !== 'RETR' || cmd.args[0] !== '1') return false;
  await s.write(Buffer.concat([b('+OK 51 octets\r\n'), BARE_LF_DOT.bytes, b('.\r\n')]));
  return true;
};

describe('a "." line after a bare LF, unstuffed by a CRLF-only server', () => {
  it('fails the stream with MESSAGE_INCOMPLETE (23 of the 51 octets LIST announced) before any end, and fails the session', async () => {
    const server = await fake({ messages: [BARE_LF_DOT, PLAIN], onCommand: crlfOnlyStuffing });
    const c = await openSession(opts(server));
    const size = (await c.list())[0]!.size;
    expect(size).toBe(51);
    const stream = await c.retr(1, { expectedOctets: size });
    let ended = false;
    stream.on('end', () => (ended = true));
    const { completed, err } = await upload(stream);
    expect(completed).toBe(false);
    expect(ended).toBe(false);
    expect(err).toMatchObject({ code: Pop3ErrorCode.MESSAGE_INCOMPLETE, retryable: true, command: 'RETR 1' });
    expect((err as Error).message).toMatch(/^RETR 1: the message ended after 23 of the 51 octets LIST announced at a terminator that follows a bare LF/);
    // The rest of the message would be read as the next reply: the session is over.
    expect(await errorOf(c.noop())).toMatchObject({ code: Pop3ErrorCode.MESSAGE_INCOMPLETE });
  });

  it('without a LIST size the terminator cannot be trusted either', async () => {
    const server = await fake({ messages: [BARE_LF_DOT], onCommand: crlfOnlyStuffing });
    const c = await openSession(opts(server));
    const err = await errorOf(readAll(await c.retr(1)));
    expect(err.code).toBe(Pop3ErrorCode.MESSAGE_INCOMPLETE);
    expect(err.message).toContain('after 23 octets (no LIST size to check against)');
  });

  for (const pipelining of [true, false]) {
    it(`${pipelining ? 'pipelined' : 'lock-step'}: the next RETR fails too, never reading the rest of the message as its reply`, async () => {
      const server = await fake({ messages: [BARE_LF_DOT, PLAIN], onCommand: crlfOnlyStuffing });
      const c = await openSession(opts(server, { pipelining }));
      expect(c.pipelining).toBe(pipelining);
      const sizes = await c.list();
      const first = c.retr(1, { expectedOctets: sizes[0]!.size });
      const second = c.retr(2, { expectedOctets: sizes[1]!.size });
      expect((await errorOf(readAll(await first))).code).toBe(Pop3ErrorCode.MESSAGE_INCOMPLETE);
      expect((await errorOf(second)).code).toBe(Pop3ErrorCode.MESSAGE_INCOMPLETE);
    });
  }

  it('is accepted when the message is whole: a message that itself ends in a bare LF', async () => {
    const server = await fake({
      onCommand: async (cmd, s) => (cmd.verb === 'RETR' ? (await s.write('+OK\r\nabc\n.\r\n'), true) : false),
    });
    const c = await openSession(opts(server));
    expect((await readAll(await c.retr(1, { expectedOctets: 4 }))).toString('latin1')).toBe('abc\n');
    await c.noop();
    await c.quit();
  });
});

describe('unambiguous terminators', () => {
  it('an LF-only server that stuffs at LF: whole, though LIST counted CRLF', async () => {
    const server = await fake({
      onCommand: async (cmd, s) => (cmd.verb === 'RETR' ? (await s.write('+OK\r\nline one\n..\nline three\n.\n'), true) : false),
    });
    const c = await openSession(opts(server));
    expect((await readAll(await c.retr(1, { expectedOctets: 24 }))).toString('latin1')).toBe('line one\n.\nline three\n');
    await c.noop();
    await c.quit();
  });

  it(`a shortfall beyond ${INCOMPLETE_TOLERANCE_RATIO} x LIST size - ${INCOMPLETE_TOLERANCE_OCTETS} octets is MESSAGE_INCOMPLETE, and the session stays usable`, async () => {
    const expected = 100_000;
    const least = expected * INCOMPLETE_TOLERANCE_RATIO - INCOMPLETE_TOLERANCE_OCTETS; // 70,904
    const body = (octets: number): string => `${'a'.repeat(octets - 2)}\r\n`;
    const server = await fake({
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'RETR') return false;
        await s.write(`+OK\r\n${body(cmd.args[0] === '1' ? least : least - 1)}.\r\n`);
        return true;
      },
    });
    for (const pipelining of [true, false]) {
      const c = await openSession(opts(server, { pipelining }));
      const atBound = c.retr(1, { expectedOctets: expected });
      const below = c.retr(2, { expectedOctets: expected });
      expect((await readAll(await atBound)).length).toBe(least);
      const err = await errorOf(readAll(await below));
      expect(err).toMatchObject({ code: Pop3ErrorCode.MESSAGE_INCOMPLETE, command: 'RETR 2' });
      expect(err.message).toBe(`RETR 2: the message ended after ${least - 1} of the ${expected} octets LIST announced (fewer than 75% minus 4096 octets)`);
      await c.noop(); // framing was sound: the session goes on
      await c.quit();
    }
  });

  it('more octets than LIST announced is fine, up to maxOctets', async () => {
    const big: FakeMessage = { uid: 'big', bytes: b(`Subject: z\r\n\r\n${'q'.repeat(1000)}\r\n`) };
    const server = await fake({ messages: [big] });
    const c = await openSession(opts(server));
    expect((await readAll(await c.retr(1, { expectedOctets: 10 }))).equals(big.bytes)).toBe(true);
    // The old form, retr(n, maxOctets), still works.
    expect((await errorOf(readAll(await c.retr(1, 100)))).code).toBe(Pop3ErrorCode.MESSAGE_TOO_LARGE);
    await c.quit();
  });
});

describe('a dot after a bare LF that a CRLF-only server did not stuff', () => {
  /** RETR answered with `body` (and the terminator) as the wire holds it. */
  const serve = (body: string): Promise<FakePop3Server> =>
    fake({
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'RETR') return false;
        await s.write(`+OK\r\n${body}.\r\n`);
        return true;
      },
    });

  // "a\n.b": a server that stuffs at LF would have sent "a\n..b" for the line ".b", so a
  // single dot there is content that a CRLF-only server sent as it is: kept, whatever LIST says.
  for (const listed of [5, 6, 7]) {
    it(`a single dot ("\\n.b") is kept as content (LIST ${listed})`, async () => {
      const server = await serve('a\n.b\r\n');
      const client = await openSession(opts(server));
      expect((await readAll(await client.retr(1, { expectedOctets: listed }))).toString('latin1')).toBe('a\n.b\r\n');
      await client.quit();
    });
  }

  // "a\n..b": the stuffed line ".b" of a server that stuffs at LF, or the line "..b" of a
  // CRLF-only server. The dot is dropped; the message may then arrive one octet short of LIST.
  it('a doubled dot ("\\n..b") that leaves the message short of LIST: MESSAGE_INCOMPLETE before any end; the session goes on', async () => {
    const server = await serve('a\n..b\r\n');
    const client = await openSession(opts(server));
    const result = await upload(await client.retr(1, { expectedOctets: 7 }));
    expect(result.completed).toBe(false);
    expect(result.err).toMatchObject({ code: Pop3ErrorCode.MESSAGE_INCOMPLETE });
    // Framing was sound: the next command is answered.
    await expect(client.noop()).resolves.toBeUndefined();
    await client.quit();
  });

  it('a doubled dot is taken as stuffing when LIST agrees with what arrived (an LF-splitting server)', async () => {
    const server = await serve('a\n..b\r\n');
    const client = await openSession(opts(server));
    expect((await readAll(await client.retr(1, { expectedOctets: 6 }))).toString('latin1')).toBe('a\n.b\r\n');
    await client.quit();
  });
});
