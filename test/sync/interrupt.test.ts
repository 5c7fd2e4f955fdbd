/**
 * RunMailboxOptions.stop (the command line's first Ctrl-C): no message is started after it,
 * the ones in flight are stored, the session ends as usual, and the lease is released; a
 * message that does not finish within the grace period is cut off without QUIT. On a
 * server that hides retrieved mail at QUIT (Gmail), nothing retrieved is ever lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../lambda/sync/run-summary';
import { LOOKAHEAD_MESSAGES } from '../../lambda/sync/run-session';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakePop3, type FakeMessage, type FakePop3Options, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { gmail } from '../fixtures/pop3-profiles';
import { SimulatedCrash, WorkerBench } from './harness';

const MESSAGES = 30;
const STOP_AT_RETR = 3;
/** Where the grace period must run out (a stall). */
const SHORT_GRACE_MS = 1_000;
/** Where it must not: storing the look-ahead on a cold DynamoDB Local on a busy machine takes seconds. */
const AMPLE_GRACE_MS = 60_000;
const msg = (n: number): FakeMessage => ({ uid: `u${n}`, bytes: Buffer.from(`Subject: ${n}\r\n\r\n${'body\r\n'.repeat(n)}`, 'latin1') });

function ok(r: RunSummary | SimulatedCrash): RunSummary {
  if (r instanceof SimulatedCrash) throw r;
  return r;
}

describe('interrupting a run', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  const servers: FakePop3Server[] = [];
  beforeAll(async () => {
    [s3, dynamo] = await Promise.all([startS3rver(), startDynamoDbLocal()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([...servers.map((s) => s.close()), s3?.stop(), dynamo?.stop()]);
  });

  async function setup(options: FakePop3Options): Promise<{ bench: WorkerBench; server: FakePop3Server }> {
    const server = await startFakePop3({ messages: Array.from({ length: MESSAGES }, (_, i) => msg(i + 1)), ...options });
    servers.push(server);
    const bench = await WorkerBench.create({
      s3,
      dynamo,
      pop3: { host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret' },
      mailbox: { retention: 'delete' },
    });
    return { bench, server };
  }

  /** Stored objects are messages byte for byte, each once; every message that left the server is stored. */
  async function expectNothingLost(bench: WorkerBench, server: FakePop3Server): Promise<number> {
    const objects = [...(await bench.objects()).values()].map((b) => b.toString('latin1'));
    const all = new Map(server.truth.all().map((r) => [r.bytes.toString('latin1'), r.uid]));
    const uids = objects.map((o) => all.get(o));
    expect(uids).not.toContain(undefined);
    expect(new Set(uids).size).toBe(uids.length);
    for (const gone of server.truth.left()) expect(uids).toContain(gone.uid);
    return uids.length;
  }

  it('starts nothing after the stop, stores what was in flight, QUITs (DELEs applied) and releases the lease', async () => {
    // Prepare: the stop comes while the 3rd RETR arrives; RETRs are pipelined ahead.
    const stop = new AbortController();
    let retrs = 0;
    let retrsWhenStopped = 0;
    const { bench, server } = await setup({
      onCommand: (cmd) => {
        if (cmd.verb !== 'RETR') return false;
        if (++retrs === STOP_AT_RETR) {
          stop.abort();
          retrsWhenStopped = retrs;
        }
        return false;
      },
    });

    // Act
    const summary = ok(await bench.run({ stop: stop.signal, stopGraceMs: AMPLE_GRACE_MS }));

    // Assess: only the look-ahead already issued went on; all of it stored and deleted at QUIT.
    const retrieved = retrs;
    expect(summary).toMatchObject({ interrupted: true, complete: false, errors: [] });
    expect(summary.fetched).toBe(retrieved);
    expect(retrieved - retrsWhenStopped).toBeLessThanOrEqual(LOOKAHEAD_MESSAGES);
    expect(summary.backlog).toBe(MESSAGES - retrieved);
    expect(summary.sessions).toBe(1);
    expect(server.commands.at(-1)?.line).toBe('QUIT');
    expect(summary.deleted).toBe(retrieved);
    expect(await expectNothingLost(bench, server)).toBe(retrieved);
    expect(await bench.state.getLease('box-1')).toBeUndefined();

    // The next run takes the rest.
    const next = ok(await bench.run());
    expect(next).toMatchObject({ fetched: MESSAGES - retrieved, complete: true });
    expect(next.interrupted).toBeUndefined();
    expect(await expectNothingLost(bench, server)).toBe(MESSAGES);
  });

  it('a message that stalls past the grace period is cut off without QUIT: Gmail hides nothing, the lease is released', async () => {
    // Prepare: Gmail (no pipelining; retrieved mail hidden at a QUIT) stalls mid-message;
    // the stop comes then.
    const stop = new AbortController();
    const { bench, server } = await setup({
      profiles: [gmail()],
      onCommand: async (cmd, session) => {
        if (cmd.verb !== 'RETR' || cmd.args[0] !== String(STOP_AT_RETR)) return false;
        const bytes = session.mailbox[STOP_AT_RETR - 1]!.bytes;
        await session.writeLine(`+OK ${bytes.length} octets`);
        await session.write(bytes.subarray(0, 10));
        session.stall();
        stop.abort();
        return true;
      },
    });
    bench.mailbox = { ...bench.mailbox, hidesRetrievedMail: true };

    // Act
    const summary = ok(await bench.run({ stop: stop.signal, stopGraceMs: SHORT_GRACE_MS }));

    // Assess: named INTERRUPTED, no QUIT, nothing hidden or removed, nothing partial.
    expect(summary).toMatchObject({ interrupted: true, complete: false, deleted: 0 });
    expect(summary.errors.map((e) => e.code)).toContain('INTERRUPTED');
    expect(server.commands.some((c) => c.line === 'QUIT')).toBe(false);
    expect(server.truth.left()).toEqual([]);
    await expectNothingLost(bench, server);
    expect(await bench.state.getLease('box-1')).toBeUndefined();
  });

  it('a stop before the run starts a session: no session, lease released, incomplete', async () => {
    const stop = new AbortController();
    stop.abort();
    const { bench, server } = await setup({});

    const summary = ok(await bench.run({ stop: stop.signal }));

    expect(summary).toMatchObject({ interrupted: true, complete: false, sessions: 0, fetched: 0, errors: [] });
    expect(server.sessions).toBe(0);
    expect(await bench.state.getLease('box-1')).toBeUndefined();
  });
});
