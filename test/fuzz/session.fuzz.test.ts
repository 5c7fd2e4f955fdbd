/**
 * End-to-end fuzzing of the POP3 engine: a fake server answers each command with a random
 * or mutated reply (or stalls, drops, resets), in random chunks. openSession + UIDL + LIST
 * + RETR + QUIT must each either succeed or reject with a Pop3Error, within a bounded
 * time (no hang), with no unhandled rejection, and with bounded buffers: no line longer
 * than the line limit, no message chunk larger than the stream's high-water mark. Floods
 * (an endless line, a message far over the size limit) must not grow memory.
 */
import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { openSession, Pop3Client, Pop3Error, Pop3ErrorCode, type MessageStream, type Pop3SessionOptions } from '../../lambda/pop3';
import { encodeMultiline } from '../../lambda/pop3/dot-decoder';
import { MESSAGE_STREAM_HIGH_WATER_MARK_OCTETS } from '../../lambda/pop3/constants';
import { startFakePop3, type FakeCommand, type FakePop3Server, type FakeSession } from '../fixtures/fake-pop3-server';
import { bytes, chunkSizes, fuzzParams, mutated, tokenSoup } from './fuzz-support';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

const IDLE_MS = 120;
const SESSION_MS = 1_500;
/** A session may take the session deadline plus one idle timeout to give up; anything past this is a hang. */
const HANG_MS = SESSION_MS + 2_000;
const MAX_LINE = 512;
const MAX_MESSAGE = 4_096;

/** What the server does instead of its normal reply to one command (or the greeting). */
type Plan =
  | { kind: 'default' }
  | { kind: 'reply'; data: Buffer }
  | { kind: 'partial'; data: Buffer; then: 'stall' | 'destroy' | 'reset' | 'end' }
  | { kind: 'stall' }
  | { kind: 'destroy' }
  | { kind: 'reset' };

/** A plausible reply to `verb`, for the mutator to start from. */
const template = (verb: string): fc.Arbitrary<Buffer> => {
  const body = fc.array(fc.oneof(fc.constantFrom('.', '..', 'x', 'Subject: hi', '', '.\r', 'From: a'), fc.string({ maxLength: 20 })), { maxLength: 8 });
  switch (verb) {
    case 'GREETING':
      return fc.constantFrom(b('+OK ready <1.2@x>\r\n'), b('+OK\r\n'), b('-ERR [SYS/TEMP] busy\r\n'), b('-ERR [IN-USE] locked\r\n'));
    case 'CAPA':
      return fc.constantFrom(b('+OK\r\nTOP\r\nUIDL\r\nUSER\r\nPIPELINING\r\n.\r\n'), b('+OK\r\nUIDL\r\n.\r\n'), b('-ERR no\r\n'), b('+OK\r\nSASL PLAIN\r\nLOGIN-DELAY 60\r\n.\r\n'));
    case 'UIDL':
      return fc
        .array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.stringMatching(/^[\x21-\x7e]{1,12}$/)), { maxLength: 5 })
        .map((es) => b(`+OK\r\n${es.map(([n, u]) => `${n} ${u}\r\n`).join('')}.\r\n`));
    case 'LIST':
      return fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.nat(99_999)), { maxLength: 5 }).map((es) => b(`+OK\r\n${es.map(([n, s]) => `${n} ${s}\r\n`).join('')}.\r\n`));
    case 'RETR':
    case 'TOP':
      return body.map((lines) => Buffer.concat([b('+OK message follows\r\n'), encodeMultiline(b(lines.join('\r\n')))]));
    case 'QUIT':
      return fc.constantFrom(b('+OK bye\r\n'), b('-ERR [SYS/TEMP] could not delete\r\n'));
    case 'AUTH':
      // SASL challenges (LOGIN's prompts, CRAM-MD5's nonce, an XOAUTH2-style error), or the outcome.
      return fc.constantFrom(b('+ VXNlcm5hbWU6\r\n'), b('+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n'), b('+ \r\n'), b('+OK\r\n'), b('-ERR [AUTH] no\r\n'), b('+ eyJzdGF0dXMiOiI0MDEifQ==\r\n'));
    default:
      return fc.constantFrom(b('+OK\r\n'), b('-ERR no\r\n'), b('-ERR [AUTH] bad\r\n'), b('+ \r\n'));
  }
};

const VERBS = ['GREETING', 'CAPA', 'USER', 'PASS', 'APOP', 'AUTH', 'UIDL', 'LIST', 'RETR', 'TOP', 'QUIT'];

const planFor = (verb: string): fc.Arbitrary<Plan> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant<Plan>({ kind: 'default' }) },
    { weight: 4, arbitrary: mutated(template(verb), 3).map((data): Plan => ({ kind: 'reply', data })) },
    { weight: 1, arbitrary: fc.oneof(bytes(40), tokenSoup(10)).map((data): Plan => ({ kind: 'reply', data })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(template(verb), fc.nat(), fc.constantFrom('stall' as const, 'destroy' as const, 'reset' as const, 'end' as const))
        .map(([t, at, then]): Plan => ({ kind: 'partial', data: t.subarray(0, at % (t.length + 1)), then })),
    },
    { weight: 1, arbitrary: fc.constantFrom<Plan>({ kind: 'stall' }, { kind: 'destroy' }, { kind: 'reset' }) },
  );

/** One plan per verb (and per RETR number), so every command of a session can misbehave. */
const scenario = fc.record({
  plans: fc.record(Object.fromEntries(VERBS.map((v) => [v, fc.array(planFor(v), { minLength: 1, maxLength: 3 })])) as Record<string, fc.Arbitrary<Plan[]>>),
  chunks: fc.option(chunkSizes(9), { nil: undefined }),
  pipelining: fc.boolean(),
  retrieve: fc.integer({ min: 0, max: 3 }),
  auth: fc.constantFrom('USER' as const, 'APOP' as const, 'PLAIN' as const, 'LOGIN' as const, 'CRAM-MD5' as const, 'auto' as const),
  top: fc.boolean(),
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

async function perform(session: FakeSession, plan: Plan): Promise<boolean> {
  switch (plan.kind) {
    case 'default':
      return false;
    case 'reply':
      await session.write(plan.data);
      return true;
    case 'partial':
      await session.write(plan.data);
      if (plan.then === 'stall') session.stall();
      else if (plan.then === 'destroy') session.destroy();
      else if (plan.then === 'reset') session.reset();
      else session.end();
      return true;
    case 'stall':
      session.stall();
      return true;
    case 'destroy':
      session.destroy();
      return true;
    case 'reset':
      session.reset();
      return true;
  }
}

const servers: FakePop3Server[] = [];
afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function fakeFor(s: Scenario): Promise<FakePop3Server> {
  const used = new Map<string, number>();
  const next = (verb: string): Plan => {
    const list = s.plans[verb] ?? [{ kind: 'default' }];
    const i = used.get(verb) ?? 0;
    used.set(verb, i + 1);
    return list[i % list.length]!;
  };
  const server = await startFakePop3({
    messages: [
      { uid: 'a1', bytes: b('Subject: one\r\n\r\n.dot\r\n') },
      { uid: 'b2', bytes: b('Subject: two\r\n\r\nbody\r\n') },
      { uid: 'c3', bytes: b('Subject: three\r\n\r\n\r\n') },
    ],
    ...(s.chunks ? { chunkSizes: s.chunks } : {}),
    onConnect: (session) => perform(session, next('GREETING')),
    onCommand: (cmd: FakeCommand, session) => perform(session, next(VERBS.includes(cmd.verb) ? cmd.verb : 'OTHER')),
  });
  servers.push(server);
  return server;
}

interface Observed {
  maxChunk: number;
  maxLine: number;
  outcome: string[];
}

/** Runs a whole session the way the worker does; returns what happened at each step. */
async function drive(server: FakePop3Server, s: Scenario, observed: Observed): Promise<void> {
  const options: Pop3SessionOptions = {
    host: '127.0.0.1',
    port: server.port,
    tls: 'none',
    allowPlaintextAuth: true,
    auth: s.auth,
    username: 'alice',
    password: 'secret',
    pipelining: s.pipelining,
    connectTimeoutMs: 1_000,
    greetingTimeoutMs: IDLE_MS,
    idleTimeoutMs: IDLE_MS,
    sessionTimeoutMs: SESSION_MS,
    maxLineOctets: MAX_LINE,
    maxMessageOctets: MAX_MESSAGE,
  };
  const step = async <T>(name: string, p: Promise<T>): Promise<T | undefined> => {
    try {
      const v = await p;
      observed.outcome.push(`${name}:ok`);
      return v;
    } catch (err) {
      if (!(err instanceof Pop3Error)) throw new Error(`${name} rejected with a non-Pop3Error: ${String(err)}`, { cause: err });
      expect(Object.values(Pop3ErrorCode)).toContain(err.code);
      observed.outcome.push(`${name}:${err.code}`);
      return undefined;
    }
  };
  const client = await step('open', openSession(options));
  if (!client) return;
  try {
    // Pipelined like the worker: both sent before either reply is read.
    const [listing, sizes] = await Promise.all([step('uidl', client.uidl()), step('list', client.list())]);
    for (const e of listing?.entries ?? []) observed.maxLine = Math.max(observed.maxLine, e.uid.length);
    void sizes;
    const streams: Promise<MessageStream>[] = [];
    for (let n = 1; n <= s.retrieve; n++) streams.push(client.retr(n));
    for (const [i, reply] of streams.entries()) {
      const stream = await step(`retr${i + 1}`, reply);
      if (!stream) continue;
      await step(
        `read${i + 1}`,
        (async () => {
          for await (const c of stream) observed.maxChunk = Math.max(observed.maxChunk, (c as Buffer).length);
        })(),
      );
    }
    if (s.top) {
      const head = await step('top', client.top(1, 0, MAX_MESSAGE));
      if (head) {
        await step(
          'readTop',
          (async () => {
            for await (const c of head) observed.maxChunk = Math.max(observed.maxChunk, (c as Buffer).length);
          })(),
        );
      }
    }
    await step('quit', client.quit());
  } finally {
    client.close();
  }
}

describe('fuzz: a POP3 session against a misbehaving server', () => {
  it('every step succeeds or fails with a Pop3Error, in bounded time, with bounded buffers', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        runs++;
        const server = await fakeFor(s);
        const observed: Observed = { maxChunk: 0, maxLine: 0, outcome: [] };
        let timer: NodeJS.Timeout | undefined;
        const hang = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), HANG_MS)));
        try {
          const result = await Promise.race([drive(server, s, observed).then(() => 'done' as const), hang]);
          expect(result, `no hang; steps so far: ${observed.outcome.join(' ')}`).toBe('done');
        } finally {
          clearTimeout(timer);
          servers.splice(servers.indexOf(server), 1);
          await server.close();
        }
        expect(observed.maxChunk).toBeLessThanOrEqual(MESSAGE_STREAM_HIGH_WATER_MARK_OCTETS);
        expect(observed.maxLine).toBeLessThanOrEqual(MAX_LINE);
        // The fake itself must not have tripped over the scenario (that would hide a client bug).
        expect(server.errors).toEqual([]);
      }),
      { ...fuzzParams(60), interruptAfterTimeLimit: 120_000 },
    );
    expect(runs).toBeGreaterThan(0);
  }, 300_000);
});

/** A forced garbage collection, so that what is measured is what is retained, not what awaits collection. */
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/**
 * Peak growth of retained Buffer memory (process.memoryUsage().arrayBuffers after a forced
 * GC) while `work` runs, sampled every 20 ms. Socket chunks the client read and dropped are
 * garbage, not growth; a client that kept them would show the whole flood.
 */
async function peakArrayBufferGrowth(work: () => Promise<void>): Promise<number> {
  collectGarbage();
  const base = process.memoryUsage().arrayBuffers;
  let peak = 0;
  const sample = (): void => {
    collectGarbage();
    peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
  };
  const sampler = setInterval(sample, 20);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  return peak;
}

const FLOOD_OCTETS = 24 * 1024 * 1024;
/** Far below the flood: a client that kept what it was sent would cross it. */
const MEMORY_BOUND_OCTETS = 12 * 1024 * 1024;

/** Writes `total` octets of `piece` (reused, never copied), honouring back-pressure. */
async function flood(session: FakeSession, piece: Buffer, total: number): Promise<void> {
  for (let sent = 0; sent < total; sent += piece.length) await session.write(piece);
}

describe('fuzz: floods do not grow memory', () => {
  it('an endless line is LINE_TOO_LONG, not a growing buffer', async () => {
    const piece = Buffer.alloc(64 * 1024, 0x41);
    const server = await startFakePop3({
      onCommand: async (cmd, session) => {
        if (cmd.verb !== 'UIDL') return false;
        await session.write('+OK\r\n');
        await flood(session, piece, FLOOD_OCTETS);
        return true;
      },
    });
    servers.push(server);
    const growth = await peakArrayBufferGrowth(async () => {
      const c = await Pop3Client.connect({ host: '127.0.0.1', port: server.port, tls: 'none', idleTimeoutMs: 2_000 });
      const err = await c.multiline('UIDL').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: Pop3ErrorCode.LINE_TOO_LONG });
      c.close();
    });
    expect(growth).toBeLessThan(MEMORY_BOUND_OCTETS);
  }, 60_000);

  it('a message far over the size limit is MESSAGE_TOO_LARGE, drained without buffering, and the session goes on', async () => {
    const line = Buffer.from(`${'x'.repeat(1022)}\r\n`, 'latin1');
    const piece = Buffer.concat(Array.from({ length: 64 }, () => line));
    const server = await startFakePop3({
      messages: [{ uid: 'u1', bytes: b('Subject: small\r\n\r\nhi\r\n') }],
      onCommand: async (cmd, session) => {
        if (cmd.verb !== 'RETR' || cmd.args[0] !== '1') return false;
        await session.write('+OK\r\n');
        await flood(session, piece, FLOOD_OCTETS);
        await session.write('.\r\n');
        return true;
      },
    });
    servers.push(server);
    const growth = await peakArrayBufferGrowth(async () => {
      const c = await openSession({ host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret', idleTimeoutMs: 2_000 });
      const stream = await c.retr(1, 1024 * 1024);
      let got = 0;
      const err = await (async () => {
        for await (const chunk of stream) got += (chunk as Buffer).length;
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: Pop3ErrorCode.MESSAGE_TOO_LARGE });
      expect(got).toBeLessThanOrEqual(1024 * 1024);
      // The rest of the message is read and discarded; the next command works.
      await c.noop();
      await c.quit();
    });
    expect(growth).toBeLessThan(MEMORY_BOUND_OCTETS);
  }, 60_000);
});
