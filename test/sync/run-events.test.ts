/**
 * `Mail Stored` events from whole runs (runMailbox with the outbox in dynalite, objects in
 * s3rver, events to the local PutEvents endpoint): an event goes out only once its record
 * is durable; a run whose publishing fails loses no event (the next run sends it, with the
 * same eventId) and fails no message; a crash between the record and its event, or an
 * outbox that cannot be written, loses nothing either.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventPublisher } from '../../lambda/events/event-publisher';
import { eventIdFor, mailStoredDetail, type MailStoredDetail } from '../../lambda/events/mail-stored-detail';
import { StateStoreError, StateStoreErrorCode } from '../../lambda/state/errors';
import type { OutboxStore } from '../../lambda/state/outbox-store';
import { captureHeaderBlock } from '../../lambda/storage/header-block';
import type { RunSummary } from '../../lambda/sync/run-summary';
import { startDynalite, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakeEventBridge, type FakeEventBridge } from '../fixtures/fake-eventbridge';
import { startFakePop3, type FakeMessage, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { SimulatedCrash, WorkerBench, type BenchEvents } from './harness';

const MESSAGES: FakeMessage[] = [
  { uid: 'u1', bytes: Buffer.from('From: =?UTF-8?B?SsO8cmdlbg==?= <j@example.org>\r\nSubject: =?ISO-8859-1?Q?Rechnung_f=FCr_Mai?=\r\nMessage-ID: <1@example.org>\r\n\r\nbody one\r\n', 'latin1') },
  { uid: 'u2', bytes: Buffer.from('From: billing@vendor.example\r\nTo: a@example.org, b@example.org\r\nSubject: Invoice 42\r\n\r\nbody two\r\n', 'latin1') },
  { uid: 'u3', bytes: Buffer.from('Subject: \xff\xfe raw 8-bit\r\n\r\nbody three\r\n', 'latin1') },
];

function ok(r: RunSummary | SimulatedCrash): RunSummary {
  if (r instanceof SimulatedCrash) throw r;
  return r;
}

describe('Mail Stored events from runs', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  let bus: FakeEventBridge;
  const servers: FakePop3Server[] = [];

  beforeAll(async () => {
    [s3, dynamo, bus] = await Promise.all([startS3rver(), startDynalite(), startFakeEventBridge()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([...servers.map((s) => s.close()), s3?.stop(), dynamo?.stop(), bus?.close()]);
  });

  async function setup(events: Omit<BenchEvents, 'bus'> = {}, retention: 'keep' | 'delete' = 'delete'): Promise<{ bench: WorkerBench; server: FakePop3Server }> {
    const server = await startFakePop3({ messages: MESSAGES.map((m) => ({ ...m })) });
    servers.push(server);
    const bench = await WorkerBench.create({
      s3,
      dynamo,
      pop3: { host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret' },
      mailbox: { retention },
      events: { bus, ...events },
    });
    return { bench, server };
  }

  /** The events this bench's bucket got, by eventId. */
  function eventsOf(bench: WorkerBench): MailStoredDetail[] {
    return bus.events.filter((e) => e.detail.bucket === bench.bucket).map((e) => e.detail as unknown as MailStoredDetail);
  }

  /** The detail each stored record should have, made from its stored object, by eventId. */
  async function expectedDetails(bench: WorkerBench): Promise<Map<string, MailStoredDetail>> {
    const objects = await bench.objects();
    const out = new Map<string, MailStoredDetail>();
    for (const r of (await bench.records()).filter((x) => x.status === 'stored')) {
      const facts = { mailbox: bench.mailbox.id, bucket: bench.bucket, key: r.objectKey!, size: r.size, sha256: r.sha256!, uidl: r.uid, identity: r.identity, firstSeenAt: r.firstSeenAt, storedAt: r.storedAt! };
      out.set(eventIdFor(facts), await mailStoredDetail(facts, captureHeaderBlock(objects.get(r.objectKey!)!)));
    }
    return out;
  }

  it('one event per stored message, sent once its record is durable, with the decoded headers; the outbox ends empty', async () => {
    const recordedWhenPublished: boolean[] = [];
    const { bench } = await setup({
      wrapPublisher: (inner): EventPublisher => ({
        publish: async (details) => {
          const records = await bench.records();
          for (const d of details) recordedWhenPublished.push(records.some((r) => r.status === 'stored' && r.objectKey === d.key && r.sha256 === d.sha256));
          return inner.publish(details);
        },
      }),
    });
    const summary = ok(await bench.run());
    expect(summary).toMatchObject({ fetched: 3, deleted: 3, eventsPublished: 3, eventsFailed: 0, errors: [] });
    expect(recordedWhenPublished).toEqual([true, true, true]);
    const expected = await expectedDetails(bench);
    const sent = eventsOf(bench);
    expect(new Map(sent.map((d) => [d.eventId, d]))).toEqual(expected);
    expect(sent).toHaveLength(3);
    const byUidl = new Map(sent.map((d) => [d.uidl, d]));
    expect(byUidl.get('u1')).toMatchObject({ subject: 'Rechnung für Mai', from: { name: 'Jürgen', address: 'j@example.org' }, messageId: '<1@example.org>' });
    expect(byUidl.get('u2')?.to.map((a) => a.address)).toEqual(['a@example.org', 'b@example.org']);
    expect(byUidl.get('u3')?.subject).toContain('\ufffd');
    expect(await bench.outbox.list(bench.mailbox.id, 10)).toEqual([]);
    // Nothing new, nothing sent again.
    expect(ok(await bench.run())).toMatchObject({ fetched: 0, eventsPublished: 0 });
    expect(eventsOf(bench)).toHaveLength(3);
  });

  it('PutEvents failing for a whole run fails no message; the next run sends each event once, with the same eventId', async () => {
    const { bench, server } = await setup();
    bus.failEntries((entry) => (entry.detail.bucket === bench.bucket ? 'InternalFailure' : undefined));
    try {
      const first = ok(await bench.run());
      expect(first).toMatchObject({ status: 'ok', fetched: 3, deleted: 3, eventsPublished: 0, eventsFailed: 3, errors: [] });
      expect(server.messages.length).toBe(0);
    } finally {
      bus.failEntries(undefined);
    }
    expect(eventsOf(bench)).toEqual([]);
    expect((await bench.outbox.list(bench.mailbox.id, 10)).flatMap((b) => b.identities).sort()).toEqual(['u1', 'u2', 'u3']);

    const second = ok(await bench.run());
    expect(second).toMatchObject({ fetched: 0, eventsPublished: 3, eventsFailed: 0 });
    const expected = await expectedDetails(bench);
    expect(new Map(eventsOf(bench).map((d) => [d.eventId, d]))).toEqual(expected);
    expect(eventsOf(bench)).toHaveLength(3);
    expect(await bench.outbox.list(bench.mailbox.id, 10)).toEqual([]);
  });

  it('a crash after the records were written, before their events: the next run sends them', async () => {
    const { bench } = await setup({}, 'keep');
    expect(await bench.run({ crash: { at: 'after-record', n: 1 } })).toBeInstanceOf(SimulatedCrash);
    // The dead run's lease holds until it expires, as in Lambda.
    const next = ok(await bench.run({ now: () => Date.now() + 10 * 60_000 }));
    const expected = await expectedDetails(bench);
    expect(expected.size).toBe(3);
    const sent = eventsOf(bench);
    // At least once: every stored message has its event; none other was sent.
    expect(new Set(sent.map((d) => d.eventId))).toEqual(new Set(expected.keys()));
    for (const d of sent) expect(d).toEqual(expected.get(d.eventId));
    expect(next.eventsPublished).toBeGreaterThanOrEqual(1);
    expect(await bench.outbox.list(bench.mailbox.id, 10)).toEqual([]);
  });

  it('an outbox that cannot be written: the records are not written either, nothing is deleted, the next run fetches again and sends', async () => {
    let failing = true;
    const { bench, server } = await setup({
      wrapOutbox: (inner): OutboxStore => ({
        add: (...args) => (failing ? Promise.reject(new StateStoreError(StateStoreErrorCode.THROTTLED, 'throttled (test)', { operation: 'PutItem' })) : inner.add(...args)),
        list: (...args) => inner.list(...args),
        settle: (...args) => inner.settle(...args),
      }),
    });
    const first = ok(await bench.run());
    expect(first.fetched).toBe(0);
    expect(first.errors.map((e) => e.code)).toContain(StateStoreErrorCode.THROTTLED);
    expect((await bench.records()).filter((r) => r.status === 'stored')).toEqual([]);
    expect(server.messages.length).toBe(3);
    expect(eventsOf(bench)).toEqual([]);

    failing = false;
    expect(ok(await bench.run())).toMatchObject({ fetched: 3, deleted: 3, eventsPublished: 3 });
    expect(new Set(eventsOf(bench).map((d) => d.eventId))).toEqual(new Set((await expectedDetails(bench)).keys()));
  });
});
