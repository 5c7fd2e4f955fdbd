/**
 * An ambiguous end (a terminator right after a bare LF) that already holds the octets LIST
 * announced is accepted only at a proven reply boundary (lambda/pop3/reply-boundary.ts):
 * a pipelined reply follows (buffered or in flight), or a NOOP sent for the check is
 * answered "+OK". LIST sizes that under-estimate (estimates, LF-counting mbox servers)
 * otherwise let a message cut at an unstuffed "." line through as whole.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openSession, Pop3ErrorCode } from '../../lambda/pop3';
import type { FakeMessage, FakePop3Options, FakePop3Server, FakeSession } from '../fixtures/fake-pop3-server';
import { bareLf, lfOnly, underEstimatedSizes } from '../fixtures/pop3-profiles';
import { closeServers, errorOf, fake, opts, readAll, upload } from './pop3-test-kit';

afterEach(closeServers);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(condition: () => boolean, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error('waitFor: condition not met in time');
    await sleep(5);
  }
}

/** A promise the test resolves by hand. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

const noopsSent = (server: FakePop3Server): number => server.commands.filter((c) => c.line === 'NOOP').length;
const mode = (pipelining: boolean): string => (pipelining ? 'pipelined' : 'lock-step');
const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A CRLF-only server sends its line "." after a bare LF unstuffed: the message seems to end after "x\n". */
const CUT: FakeMessage = { uid: 'cut', bytes: b(`Subject: cut\r\n\r\n${'a'.repeat(240)}\r\nx\n.\r\nend\r\n`) };
/** Octets that arrive before the fake terminator (260 of 268). */
const CUT_RECEIVED = CUT.bytes.indexOf('x\n.') + 2;
const PLAIN: FakeMessage = { uid: 'plain', bytes: b('Subject: plain\r\n\r\nfine\r\n') };
/** Stored with bare LFs and sent as stored by lfOnly(): each ends in "\n.\r\n", ambiguous; dot lines stuffed at LF. */
const LF_MAIL: FakeMessage[] = [1, 2, 3].map((i) => ({ uid: `lf-${i}`, bytes: b(`Subject: lf ${i}\n\n.dot line ${i}\nbare\nLF ${'z'.repeat(i * 60)}\n`) }));

describe('a message cut at a "." after a bare LF, with LIST under the real size', () => {
  it('has the octets LIST announced before the fake terminator (the case the size check alone lets through)', async () => {
    const server = await fake({ messages: [CUT], profiles: [bareLf(), underEstimatedSizes()] });
    const c = await openSession(opts(server));
    expect((await c.list())[0]!.size).toBeLessThan(CUT_RECEIVED);
    await c.quit();
  });

  for (const pipelining of [false, true]) {
    it(`${mode(pipelining)}: is refused with MESSAGE_INCOMPLETE before any end (its rest follows, though no reply can), and the session ends`, async () => {
      const server = await fake({ messages: [CUT, PLAIN], profiles: [bareLf(), underEstimatedSizes()] });
      const c = await openSession(opts(server, { pipelining }));
      const sizes = await c.list();
      const first = c.retr(1, { expectedOctets: sizes[0]!.size });
      const second = c.retr(2, { expectedOctets: sizes[1]!.size });
      const { completed, ended, err } = await upload(await first);
      expect({ completed, ended }).toEqual({ completed: false, ended: false });
      expect(err).toMatchObject({ code: Pop3ErrorCode.MESSAGE_INCOMPLETE, retryable: true, command: 'RETR 1' });
      expect((err as Error).message).toMatch(
        new RegExp(`^RETR 1: the message ended after ${CUT_RECEIVED} octets \\(LIST announced ${sizes[0]!.size}\\) at a terminator that follows a bare LF, and `),
      );
      // Never reading the rest of the message as a reply:
      expect((await errorOf(second)).code).toBe(Pop3ErrorCode.MESSAGE_INCOMPLETE);
      expect((await errorOf(c.noop())).code).toBe(Pop3ErrorCode.MESSAGE_INCOMPLETE);
    });
  }

  it('lock-step, its rest sent only once the NOOP arrived: the NOOP is not answered first, so the message is refused', async () => {
    const head = CUT.bytes.subarray(0, CUT_RECEIVED + 3); // up to and including the fake terminator
    const server = await fake({
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'RETR') return false;
        await s.write(Buffer.concat([b('+OK\r\n'), head]));
        const noop = await s.readLine();
        await s.write(`end\r\n.\r\n+OK ${noop?.toString('latin1')}\r\n`);
        return true;
      },
    });
    const c = await openSession(opts(server, { pipelining: false }));
    const { completed, ended, err } = await upload(await c.retr(1, { expectedOctets: CUT_RECEIVED - 20 }));
    expect({ completed, ended }).toEqual({ completed: false, ended: false });
    expect(err).toMatchObject({ code: Pop3ErrorCode.MESSAGE_INCOMPLETE, command: 'RETR 1' });
    expect((err as Error).message).toContain('and the reply to the NOOP sent to check it is not "+OK"');
    expect(server.commands.map((x) => x.line).slice(-2)).toEqual(['RETR 1', 'NOOP']);
    expect((await errorOf(c.noop())).code).toBe(Pop3ErrorCode.MESSAGE_INCOMPLETE);
  });
});

describe('a whole message ending in "\\n.\\r\\n", with LIST under its size: accepted byte-exact at a proven boundary', () => {
  for (const pipelining of [false, true]) {
    it(`${mode(pipelining)}: ${pipelining ? 'the reply in flight behind each proves it; only the last needs a NOOP' : 'one NOOP round trip each'}`, async () => {
      const server = await fake({ messages: LF_MAIL, profiles: [lfOnly(), underEstimatedSizes()] });
      const c = await openSession(opts(server, { pipelining }));
      const sizes = await c.list();
      sizes.forEach((e, i) => expect(e.size).toBeLessThan(LF_MAIL[i]!.bytes.length));
      const replies = sizes.map((e) => c.retr(e.number, { expectedOctets: e.size }));
      for (const [i, reply] of replies.entries()) expect((await readAll(await reply)).toString('latin1')).toBe(LF_MAIL[i]!.bytes.toString('latin1'));
      expect(noopsSent(server)).toBe(pipelining ? 1 : LF_MAIL.length);
      // In sync: the NOOP replies were consumed by the checks.
      expect(await c.stat()).toEqual({ count: LF_MAIL.length, size: sizes.reduce((sum, e) => sum + e.size, 0) });
      await c.quit();
    });
  }

  it('pipelined: the next reply already buffered right behind the end proves it (no NOOP)', async () => {
    const server = await fake({
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'RETR') return false;
        // RETR 1 is answered together with RETR 2, in one write.
        if (cmd.args[0] === '2') await s.write(`+OK\r\nline one\nlast\n.\r\n+OK\r\n${PLAIN.bytes.toString('latin1')}.\r\n`);
        return true;
      },
    });
    const c = await openSession(opts(server, { pipelining: true }));
    const first = c.retr(1, { expectedOctets: 10 });
    const second = c.retr(2, { expectedOctets: PLAIN.bytes.length });
    expect((await readAll(await first)).toString('latin1')).toBe('line one\nlast\n');
    expect((await readAll(await second)).equals(PLAIN.bytes)).toBe(true);
    expect(noopsSent(server)).toBe(0);
    await c.quit();
  });

  it('pipelined: with nothing buffered, the end waits for the reply in flight (no NOOP) and comes only after its first bytes', async () => {
    const second = gate();
    let secondAnswered = false;
    const server = await fake({
      messages: LF_MAIL.slice(0, 2),
      profiles: [lfOnly(), underEstimatedSizes()],
      onCommand: async (cmd) => {
        if (cmd.verb === 'RETR' && cmd.args[0] === '2') {
          await second.opened;
          secondAnswered = true;
        }
        return false;
      },
    });
    const c = await openSession(opts(server, { pipelining: true }));
    const sizes = await c.list();
    const replies = sizes.map((e) => c.retr(e.number, { expectedOctets: e.size }));
    const stream = await replies[0]!;
    const parts: Buffer[] = [];
    let endedBeforeSecond: boolean | undefined;
    const ended = new Promise<void>((resolve) =>
      stream.on('end', () => {
        endedBeforeSecond = !secondAnswered;
        resolve();
      }),
    );
    stream.on('data', (chunk: Buffer) => parts.push(chunk));
    await waitFor(() => Buffer.concat(parts).length === LF_MAIL[0]!.bytes.length);
    await sleep(50);
    expect(endedBeforeSecond).toBeUndefined(); // every byte is there, the end is not decided yet
    second.open();
    await ended;
    expect(endedBeforeSecond).toBe(false);
    expect(Buffer.concat(parts).equals(LF_MAIL[0]!.bytes)).toBe(true);
    expect((await readAll(await replies[1]!)).equals(LF_MAIL[1]!.bytes)).toBe(true);
    expect(server.commands.map((x) => x.line).slice(-3)).toEqual(['RETR 1', 'RETR 2', 'NOOP']); // the NOOP only for the last
    await c.quit();
  });
});

describe('an LF-only server (every line ends in a bare LF, the terminator ".\\r\\n", LIST counts what it sends)', () => {
  for (const pipelining of [false, true]) {
    it(`${mode(pipelining)}: every message byte-exact though its replies come in 1-3 octet chunks, and the session stays in sync`, async () => {
      const server = await fake({ messages: LF_MAIL, profiles: [lfOnly()], chunkSizes: [1, 2, 3] });
      const c = await openSession(opts(server, { pipelining }));
      const sizes = await c.list();
      expect(sizes.map((e) => e.size)).toEqual(LF_MAIL.map((m) => m.bytes.length));
      const replies = sizes.map((e) => c.retr(e.number, { expectedOctets: e.size }));
      for (const [i, reply] of replies.entries()) expect((await readAll(await reply)).equals(LF_MAIL[i]!.bytes)).toBe(true);
      expect(noopsSent(server)).toBe(pipelining ? 1 : LF_MAIL.length);
      expect((await c.uidl()).entries.map((e) => e.uid)).toEqual(LF_MAIL.map((m) => m.uid));
      await c.quit();
    });
  }
});

/** An ambiguous end with 4 octets where LIST (3 are passed) announced fewer. */
const AMBIGUOUS = '+OK\r\nabc\n.\r\n';
const AMBIGUOUS_LIST_SIZE = 3;

/** Answers RETR with the ambiguous end, then the NOOP that comes to check it with `line`. */
function noopAnswered(line: string): (retr: string, s: FakeSession) => Promise<void> {
  return async (_retr, s) => {
    await s.write(AMBIGUOUS);
    await s.readLine();
    await s.write(`${line}\r\n`);
  };
}

describe('a follow-up that is not a reply: MESSAGE_INCOMPLETE, and the session ends', () => {
  const cases: { name: string; pipelining: boolean; answer: (retr: string, s: FakeSession) => Promise<void>; why: string }[] = [
    {
      name: 'bytes right behind the end while no command awaits a reply (even a status line)',
      pipelining: false,
      answer: (_retr, s) => s.write(`${AMBIGUOUS}+OK unasked\r\n`),
      why: 'bytes follow it although no command awaits a reply',
    },
    { name: 'the NOOP answered -ERR', pipelining: false, answer: noopAnswered('-ERR not now'), why: 'the reply to the NOOP sent to check it is not "+OK"' },
    { name: 'the NOOP answered with "+OKAY", not a status line', pipelining: false, answer: noopAnswered('+OKAY'), why: 'the reply to the NOOP sent to check it is not "+OK"' },
    {
      name: 'the pipelined next reply does not start with a status line',
      pipelining: true,
      // RETR 1 is answered together with RETR 2.
      answer: async (retr, s) => (retr === '2' ? s.write(`${AMBIGUOUS}hello\r\n`) : undefined),
      why: 'what follows it is not the status line of the next reply',
    },
  ];
  for (const { name, pipelining, answer, why } of cases) {
    it(`${mode(pipelining)}: ${name}`, async () => {
      const server = await fake({
        onCommand: async (cmd, s) => {
          if (cmd.verb !== 'RETR') return false;
          await answer(cmd.args[0]!, s);
          return true;
        },
      });
      const c = await openSession(opts(server, { pipelining }));
      const first = c.retr(1, { expectedOctets: AMBIGUOUS_LIST_SIZE });
      const second = pipelining ? c.retr(2) : undefined;
      const { completed, ended, err } = await upload(await first);
      expect({ completed, ended }).toEqual({ completed: false, ended: false });
      expect(err).toMatchObject({ code: Pop3ErrorCode.MESSAGE_INCOMPLETE, command: 'RETR 1' });
      expect((err as Error).message).toContain(`RETR 1: the message ended after 4 octets (LIST announced 3) at a terminator that follows a bare LF, and ${why};`);
      if (second) expect((await errorOf(second)).code).toBe(Pop3ErrorCode.MESSAGE_INCOMPLETE);
      expect((await errorOf(c.noop())).code).toBe(Pop3ErrorCode.MESSAGE_INCOMPLETE);
    });
  }
});

describe('while the check waits for the NOOP reply', () => {
  /** RETR answered with an ambiguous end; the NOOP is read, then answered only once `reply` opens (if ever). */
  async function holdNoop(reply: Promise<void>, extra: FakePop3Options = {}): Promise<{ server: FakePop3Server; noopArrived: Promise<void> }> {
    const arrived = gate();
    const server = await fake({
      ...extra,
      onCommand: async (cmd, s) => {
        if (cmd.verb !== 'RETR') return false;
        await s.write(AMBIGUOUS);
        expect((await s.readLine())?.toString('latin1')).toBe('NOOP');
        arrived.open();
        await reply;
        await s.write('+OK\r\n');
        return true;
      },
    });
    return { server, noopArrived: arrived.opened };
  }

  it('no reply: IDLE_TIMEOUT within the idle timeout, never an end', async () => {
    const { server } = await holdNoop(new Promise<void>(() => undefined));
    const c = await openSession(opts(server, { pipelining: false, idleTimeoutMs: 1_000 }));
    const start = Date.now();
    const { completed, ended, err } = await upload(await c.retr(1, { expectedOctets: AMBIGUOUS_LIST_SIZE }));
    expect({ completed, ended }).toEqual({ completed: false, ended: false });
    expect(err).toMatchObject({ code: Pop3ErrorCode.IDLE_TIMEOUT });
    expect(Date.now() - start).toBeLessThan(10_000);
  });

  it('an abort: ABORTED at once, never an end', async () => {
    const { server, noopArrived } = await holdNoop(new Promise<void>(() => undefined));
    const controller = new AbortController();
    const c = await openSession(opts(server, { pipelining: false, signal: controller.signal }));
    const result = upload(await c.retr(1, { expectedOctets: AMBIGUOUS_LIST_SIZE }));
    await noopArrived;
    controller.abort();
    const { completed, ended, err } = await result;
    expect({ completed, ended }).toEqual({ completed: false, ended: false });
    expect(err).toMatchObject({ code: Pop3ErrorCode.ABORTED });
  });

  for (const pipelining of [false, true]) {
    it(`${mode(pipelining)}: a consumer that destroys the stream meanwhile: the check still takes the NOOP's reply, the next command gets its own`, async () => {
      const reply = gate();
      const { server, noopArrived } = await holdNoop(reply.opened);
      const c = await openSession(opts(server, { pipelining }));
      const stream = await c.retr(1, { expectedOctets: AMBIGUOUS_LIST_SIZE });
      let ended = false;
      stream.on('end', () => (ended = true));
      stream.resume();
      await noopArrived;
      stream.destroy();
      const stat = c.stat();
      await sleep(20);
      reply.open();
      expect(await stat).toEqual({ count: 0, size: 0 });
      expect(ended).toBe(false);
      expect(server.commands.map((x) => x.line).slice(-3)).toEqual(['RETR 1', 'NOOP', 'STAT']);
      await c.quit();
    });
  }
});

describe('".\\n" after a bare LF: the end of an LF-splitting server, or a content line "." of a CRLF-only one', () => {
  /** A CRLF-only server with exact LIST sizes sends the content line "." after a bare LF as "\n.\n", unstuffed. */
  const DOT_LINE: FakeMessage = { uid: 'dot', bytes: b('Subject: dot\r\n\r\nfirst\n.\nthe rest of the message\r\n') };

  for (const pipelining of [false, true]) {
    it(`${mode(pipelining)}: a CRLF-only server's content line "." is not taken for the end (MESSAGE_INCOMPLETE, nothing ends)`, async () => {
      const server = await fake({ messages: [DOT_LINE, PLAIN], profiles: [bareLf()] });
      const c = await openSession(opts(server, { pipelining }));
      const sizes = await c.list();
      expect(sizes[0]!.size).toBe(DOT_LINE.bytes.length);
      const first = c.retr(1, { expectedOctets: sizes[0]!.size });
      const second = c.retr(2, { expectedOctets: sizes[1]!.size });
      const { completed, ended, err } = await upload(await first);
      expect({ completed, ended }).toEqual({ completed: false, ended: false });
      expect(err).toMatchObject({ code: Pop3ErrorCode.MESSAGE_INCOMPLETE, command: 'RETR 1' });
      expect((await errorOf(second)).code).toBe(Pop3ErrorCode.MESSAGE_INCOMPLETE);
    });
  }

  /** LF line ends, dots stuffed at LF, ".\n" as terminator: every end follows a bare LF. */
  const LF_ENDED = [1, 2, 3].map((i) => b(`Subject: lf ${i}\n\n.dot line ${i}\nbody ${'y'.repeat(i * 40)}\n`));
  const lfWire = (bytes: Buffer): Buffer => Buffer.concat([b(bytes.toString('latin1').replace(/\n\./g, '\n..')), b('.\n')]);

  for (const pipelining of [false, true]) {
    it(`${mode(pipelining)}: an LF-splitting server's ".\\n" ends are proven by what follows, and every message is byte-exact`, async () => {
      const server = await fake({
        messages: LF_ENDED.map((bytes, i) => ({ uid: `lf-end-${i}`, bytes })),
        onCommand: async (cmd, s) => {
          if (cmd.verb !== 'RETR') return false;
          await s.write(Buffer.concat([b('+OK\r\n'), lfWire(LF_ENDED[Number(cmd.args[0]) - 1]!)]));
          return true;
        },
      });
      const c = await openSession(opts(server, { pipelining }));
      const replies = LF_ENDED.map((bytes, i) => c.retr(i + 1, { expectedOctets: bytes.length }));
      for (const [i, reply] of replies.entries()) expect((await readAll(await reply)).equals(LF_ENDED[i]!)).toBe(true);
      // Lock-step: one NOOP per message; pipelined: only the last message of the batch needs one.
      expect(noopsSent(server)).toBe(pipelining ? 1 : LF_ENDED.length);
      await c.quit();
    });
  }
});
