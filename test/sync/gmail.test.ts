/**
 * Gmail's POP semantics (test/fixtures/pop3-profiles/gmail.ts): every message retrieved in
 * a session is hidden at its QUIT; a session without QUIT changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMailbox } from '../../lambda/config/validate-config';
import type { RunSummary } from '../../lambda/sync/run-summary';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakePop3, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { gmail } from '../fixtures/pop3-profiles';
import { SimulatedCrash, WorkerBench } from './harness';

function ok(r: RunSummary | SimulatedCrash): RunSummary {
  if (r instanceof SimulatedCrash) throw r;
  return r;
}

const mail = (n: number): string => `Message-ID: <g${n}@test>\r\nSubject: g${n}\r\n\r\nbody ${n}\r\n`;

describe('gmail: retrieved mail is hidden at QUIT', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  const servers: FakePop3Server[] = [];
  beforeAll(async () => {
    [s3, dynamo] = await Promise.all([startS3rver(), startDynamoDbLocal()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([...servers.map((s) => s.close()), s3?.stop(), dynamo?.stop()]);
  });

  it('hidesRetrievedMail defaults to true for pop.gmail.com, not in recent mode, and can be set', () => {
    const base = { id: 'g', username: 'me@gmail.com', password: { env: 'P' } };
    expect(parseMailbox({ ...base, host: 'pop.gmail.com' }).hidesRetrievedMail).toBe(true);
    expect(parseMailbox({ ...base, host: 'POP.GOOGLEMAIL.COM' }).hidesRetrievedMail).toBe(true);
    expect(parseMailbox({ ...base, host: 'pop.gmail.com', username: 'recent:me@gmail.com' }).hidesRetrievedMail).toBeUndefined();
    expect(parseMailbox({ ...base, host: 'pop.example.com' }).hidesRetrievedMail).toBeUndefined();
    expect(parseMailbox({ ...base, host: 'pop.example.com', hidesRetrievedMail: true }).hidesRetrievedMail).toBe(true);
  });

  it('mail stored in a session that died before QUIT is retrieved once more, checked, and hidden; the window moves on', async () => {
    const server = await startFakePop3({ profiles: [gmail({ perSession: 3 })] });
    servers.push(server);
    for (let n = 1; n <= 3; n++) server.deliver(mail(n));
    const bench = await WorkerBench.create({
      s3,
      dynamo,
      pop3: { host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret' },
      mailbox: { hidesRetrievedMail: true, retention: 'keep' },
    });
    // Stored and recorded, then the process dies before QUIT: nothing is hidden.
    expect(await bench.run({ crash: { at: 'before-quit' } })).toBeInstanceOf(SimulatedCrash);
    expect((await bench.objects()).size).toBe(3);
    expect(server.truth.hidden()).toHaveLength(0);
    server.deliver(mail(4));
    // The window shows only the three known messages; they are checked and hidden, then the
    // follow-up session sees the fourth.
    const later = Date.now() + 10 * 60_000; // past the dead run's lease
    ok(await bench.run({ now: () => later }));
    ok(await bench.run({ now: () => later + 10 * 60_000 }));
    expect((await bench.objects()).size).toBe(4);
    expect(server.truth.hidden().map((r) => r.id).sort()).toEqual(server.truth.all().map((r) => r.id).sort());
    // Each message was stored once: four objects for four messages, all hidden now.
    const stored = [...(await bench.objects()).values()].map((b) => b.toString('latin1')).sort();
    expect(stored).toEqual([1, 2, 3, 4].map(mail).sort());
  });
});
