/**
 * The worker end to end on real servers: Dovecot (POP3), s3rver (S3), DynamoDB Local.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectKeyFor } from '../../lambda/storage/object-key';
import type { RunSummary } from '../../lambda/sync/run-summary';
import { LOOKAHEAD_MESSAGES, MAX_UPLOADS_IN_FLIGHT } from '../../lambda/sync/run-session';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { dovecotWireForm, requireDovecot, startDovecot, type DovecotInstance } from '../fixtures/dovecot';
import { SimulatedCrash, WorkerBench, type CrashPoint } from './harness';

function message(i: number, extra = 0): Buffer {
  return Buffer.concat([
    Buffer.from(`Message-ID: <m${i}.${randomBytes(4).toString('hex')}@example.com>\r\nFrom: Zoë <z@example.com>\r\nSubject: =?UTF-8?B?${Buffer.from(`héllo ${i}`).toString('base64')}?=\r\n\r\n`),
    Buffer.from(`.dot line\r\nbody ${i}\r\n`),
    randomBytes(extra),
    Buffer.from('\r\n'),
  ]);
}

/** A clock past any lease a crashed run in this file can hold (run deadline 120 s + slack 60 s). */
const afterLeaseExpiry = (): number => Date.now() + 200_000;

function ok(r: RunSummary | SimulatedCrash): RunSummary {
  if (r instanceof SimulatedCrash) throw r;
  return r;
}

describe.skipIf(!requireDovecot())('worker on Dovecot + s3rver + DynamoDB Local', () => {
  let dovecot: DovecotInstance;
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  let user = 0;

  beforeAll(async () => {
    [dovecot, s3, dynamo] = await Promise.all([
      startDovecot({ users: Array.from({ length: 20 }, (_, i) => ({ name: `u${i}`, password: `pw${i}` })) }),
      startS3rver(),
      startDynamoDbLocal(),
    ]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([dovecot?.stop(), s3?.stop(), dynamo?.stop()]);
  });

  /** A fresh mailbox (own Dovecot user, bucket and table) with `count` messages. */
  async function setup(count: number, mailbox: Parameters<typeof WorkerBench.create>[0]['mailbox'] = {}, sink = {}): Promise<{ bench: WorkerBench; name: string; sent: Buffer[] }> {
    const name = `u${user++}`;
    const sent = Array.from({ length: count }, (_, i) => message(i, (i * 997) % 5000));
    if (count > 0) await dovecot.deliver(name, sent);
    const bench = await WorkerBench.create({
      s3,
      dynamo,
      pop3: { host: '127.0.0.1', port: dovecot.port, tls: 'starttls', tlsOptions: { ca: dovecot.ca }, username: name, password: `pw${name.slice(1)}` },
      mailbox,
      sink,
    });
    return { bench, name, sent };
  }

  async function expectExactlyOnce(bench: WorkerBench, sent: Buffer[]): Promise<void> {
    const objects = await bench.objects();
    const wanted = sent.map((m) => dovecotWireForm(m).toString('base64')).sort();
    expect([...objects.values()].map((b) => b.toString('base64')).sort()).toEqual(wanted);
    const records = await bench.records();
    expect(records.filter((r) => r.status === 'stored').map((r) => r.objectKey).sort()).toEqual([...objects.keys()].sort());
  }

  it('fetches only new mail: all, then nothing, then only what arrived; byte-exact with metadata', async () => {
    const { bench, name, sent } = await setup(12);
    const first = ok(await bench.run());
    expect(first).toMatchObject({ status: 'ok', listed: 12, new: 12, fetched: 12, complete: true, deleted: 0, errors: [] });
    await expectExactlyOnce(bench, sent);

    const second = ok(await bench.run());
    expect(second).toMatchObject({ listed: 12, new: 0, fetched: 0, complete: true, fullDiff: false });

    const more = [message(100), message(101)];
    await dovecot.deliver(name, more);
    const third = ok(await bench.run());
    expect(third).toMatchObject({ listed: 14, new: 2, fetched: 2, fullDiff: false, complete: true });
    await expectExactlyOnce(bench, [...sent, ...more]);

    const records = await bench.records();
    const r = records[0]!;
    expect(r.objectKey).toBe(objectKeyFor('messages/', 'box-1', r.identity));
    const { contentType, meta } = await bench.metadata(r.objectKey!);
    expect(contentType).toBe('message/rfc822');
    expect(meta).toMatchObject({ mailbox: 'box-1', uidl: r.uid, sha256: r.sha256 });
    expect(meta.subject).toMatch(/^h%C3%A9llo \d+$/);
    expect(meta['first-seen']).toBe(r.firstSeenAt);
  });

  it('delete: removes mail from the server only after it is stored and recorded', async () => {
    const { bench, name, sent } = await setup(6, { retention: 'delete' });
    const r = ok(await bench.run());
    expect(r).toMatchObject({ fetched: 6, deleted: 6, complete: true });
    expect(await dovecot.listMessages(name)).toHaveLength(0);
    await expectExactlyOnce(bench, sent);
    expect((await bench.records()).every((x) => x.deletedAt !== undefined)).toBe(true);
    const again = ok(await bench.run());
    expect(again).toMatchObject({ listed: 0, fetched: 0, deleted: 0, complete: true });
  });

  it('deleteAfterDays: keeps mail until it is due, then deletes it', async () => {
    const { bench, name } = await setup(3, { retention: { deleteAfterDays: 7 } });
    const t0 = Date.now();
    ok(await bench.run({ now: () => t0 }));
    expect(await dovecot.listMessages(name)).toHaveLength(3);
    expect(ok(await bench.run({ now: () => t0 + 6 * 86_400_000 })).deleted).toBe(0);
    expect(ok(await bench.run({ now: () => t0 + 8 * 86_400_000 })).deleted).toBe(3);
    expect(await dovecot.listMessages(name)).toHaveLength(0);
  });

  it('a second concurrent run is "busy"; an expired lease is taken over', async () => {
    const { bench } = await setup(2);
    expect(await bench.state.acquireLease('box-1', 'someone-else', Date.now(), 60_000)).toBe(true);
    const busy = ok(await bench.run());
    expect(busy).toMatchObject({ status: 'busy', fetched: 0, errors: [] });
    const later = Date.now() + 61_000;
    expect(ok(await bench.run({ now: () => later })).fetched).toBe(2);
  });

  it('limits: messages per run continue next run; oversized messages are skipped and recorded, never dropped silently', async () => {
    const { bench, name, sent } = await setup(5, { limits: { maxMessagesPerRun: 2, maxBytesPerRun: 1e9, maxMessageBytes: 50_000 } });
    await dovecot.deliver(name, [Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.alloc(80_000, 0x61), Buffer.from('\r\n')])]);
    const a = ok(await bench.run());
    expect(a).toMatchObject({ fetched: 2, complete: false, backlog: 4 });
    const b = ok(await bench.run());
    expect(b.fetched).toBe(2);
    const c = ok(await bench.run());
    expect(c).toMatchObject({ fetched: 1, skipped: 1, complete: true });
    const skipped = (await bench.records()).filter((r) => r.status === 'skipped');
    expect(skipped).toMatchObject([{ skipReason: 'too-large' }]);
    expect(ok(await bench.run())).toMatchObject({ new: 0, fetched: 0, skipped: 0 });
    await expectExactlyOnce(bench, sent);
  });

  it('time budget: stops starting messages near the deadline, reports complete: false, continues next run', async () => {
    const { bench, sent } = await setup(20);
    let stored = 0;
    const t0 = Date.now();
    // Each stored message "takes" 20 s; the budget leaves room to start three.
    const clock = (): number => t0 + stored * 20_000;
    const inner = bench.sink.store.bind(bench.sink);
    bench.sink.store = async (input) => {
      const r = await inner(input);
      stored++;
      return r;
    };
    const first = ok(await bench.run({ now: clock, deadline: t0 + 55_000 + 10_000, safetyMarginMs: 10_000 }));
    expect(first.complete).toBe(false);
    expect(first.fetched).toBeGreaterThan(0);
    // RETRs already sent ahead (the look-ahead) are still stored; nothing after them starts.
    // Uploads in flight do not advance this test's clock, so they may also admit a few more.
    expect(first.fetched).toBeLessThanOrEqual(LOOKAHEAD_MESSAGES + MAX_UPLOADS_IN_FLIGHT + 3);
    expect(first.backlog).toBe(20 - first.fetched);
    const second = ok(await bench.run());
    expect(second.fetched).toBe(20 - first.fetched);
    await expectExactlyOnce(bench, sent);
  });

  it('reset forgets the mailbox; baseline records what is there without fetching it', async () => {
    const { bench, name } = await setup(4);
    const b = ok(await bench.run({ mode: 'baseline' }));
    expect(b).toMatchObject({ fetched: 0, new: 4 });
    expect(await bench.objects()).toHaveProperty('size', 0);
    expect(ok(await bench.run())).toMatchObject({ new: 0, fetched: 0 });
    await dovecot.deliver(name, [message(50)]);
    expect(ok(await bench.run())).toMatchObject({ new: 1, fetched: 1 });
    expect(await bench.state.resetMailbox('box-1')).toBeGreaterThan(4);
    expect(ok(await bench.run())).toMatchObject({ new: 5, fetched: 5 });
    expect((await bench.objects()).size).toBe(5);
  });

  const crashPoints: CrashPoint[] = [
    { at: 'after-store', n: 2 },
    { at: 'after-record', n: 3 },
    { at: 'mid-retr', n: 2, afterOctets: 100 },
    { at: 'before-quit' },
  ];
  for (const point of crashPoints) {
    it(`crash ${JSON.stringify(point)} with delete retention: rerun stores every message exactly once, nothing deleted before stored and recorded`, async () => {
      const { bench, name, sent } = await setup(5, { retention: 'delete' });
      const crashed = await bench.run({ crash: point });
      expect(crashed).toBeInstanceOf(SimulatedCrash);
      // Whatever left the server is in S3 and recorded.
      const onServer = (await dovecot.listMessages(name)).length;
      const stored = (await bench.records()).filter((r) => r.status === 'stored').length;
      expect(onServer + stored).toBeGreaterThanOrEqual(sent.length);
      expect(onServer).toBe(sent.length); // no QUIT happened, so nothing was deleted
      // The dead run's lease blocks runs until it expires, as it would in Lambda.
      expect(ok(await bench.run())).toMatchObject({ status: 'busy', fetched: 0 });
      const again = ok(await bench.run({ now: afterLeaseExpiry }));
      expect(again.complete).toBe(true);
      expect(await dovecot.listMessages(name)).toHaveLength(0);
      await expectExactlyOnce(bench, sent);
    });
  }

  it('crash mid-multipart: no partial object; the rerun stores the whole message once', async () => {
    const big = Buffer.concat([Buffer.from('Subject: large\r\n\r\n'), randomBytes(11 * 1024 * 1024), Buffer.from('\r\n')]);
    const { bench, name } = await setup(0, { retention: 'delete' }, { singlePartMaxOctets: 1024 * 1024, partSizeOctets: 5 * 1024 * 1024 });
    await dovecot.deliver(name, [big]);
    expect(await bench.run({ crash: { at: 'mid-multipart' } })).toBeInstanceOf(SimulatedCrash);
    expect((await bench.objects()).size).toBe(0);
    expect(await dovecot.listMessages(name)).toHaveLength(1);
    expect(ok(await bench.run({ now: afterLeaseExpiry }))).toMatchObject({ fetched: 1, deleted: 1, complete: true });
    await expectExactlyOnce(bench, [big]);
  }, 120_000);

  it('lock-step and pipelined runs store identical objects', async () => {
    const a = await setup(15);
    const b = await setup(0, { pipelining: false });
    await dovecot.deliver(b.name, a.sent);
    ok(await a.bench.run());
    ok(await b.bench.run());
    const objectsA = [...(await a.bench.objects()).values()].map((x) => x.toString('base64')).sort();
    const objectsB = [...(await b.bench.objects()).values()].map((x) => x.toString('base64')).sort();
    expect(objectsB).toEqual(objectsA);
  });
});
