/**
 * EventOutbox (lambda/sync/event-outbox.ts) with real parts: the outbox and the records in
 * dynalite, messages in a FileMessageSink, events through a real EventBridgeClient to the
 * local PutEvents endpoint. Publishing settles the outbox down to what failed; a later
 * drain re-sends that, made again from the stored object, with the same eventId, and drops
 * entries whose message was never durably stored.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBridgePublisher } from '../../lambda/events/eventbridge-publisher';
import { mailStoredDetail } from '../../lambda/events/mail-stored-detail';
import { DynamoDbOutboxStore } from '../../lambda/state/dynamodb-outbox-store';
import { DynamoDbStateStore } from '../../lambda/state/dynamodb-state-store';
import { ensureTable } from '../../lambda/state/table-schema';
import { FileMessageSink } from '../../lambda/storage/file-message-sink';
import { EventOutbox, type PendingEvent } from '../../lambda/sync/event-outbox';
import { startDynalite, type LocalDynamo } from '../fixtures/aws-local';
import { startFakeEventBridge, type FakeEventBridge } from '../fixtures/fake-eventbridge';

const MAILBOX = 'acme';
const BUCKET = 'mail-bucket';
const NOW = Date.parse('2026-12-06T10:00:00.000Z');

describe('EventOutbox', () => {
  let dynamo: LocalDynamo;
  let bus: FakeEventBridge;
  let dir: string;
  let tables = 0;

  beforeAll(async () => {
    [dynamo, bus] = await Promise.all([startDynalite(), startFakeEventBridge()]);
    dir = await mkdtemp(join(tmpdir(), 'mailfetch-outbox-'));
  });
  afterAll(async () => {
    await Promise.all([dynamo?.stop(), bus?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh table and sink; `stored` messages are stored and recorded, as a run would have. */
  async function world(stored: readonly string[]) {
    const tableName = `outbox-${++tables}`;
    await ensureTable(dynamo.dynamodb, tableName);
    const state = new DynamoDbStateStore({ client: dynamo.dynamodb, tableName });
    const outboxStore = new DynamoDbOutboxStore({ client: dynamo.dynamodb, tableName });
    const sink = new FileMessageSink({ directory: join(dir, tableName) });
    const logs: string[] = [];
    const outbox = new EventOutbox({
      outbox: outboxStore,
      publisher: new EventBridgePublisher({ client: bus.createClient() }),
      state,
      sink,
      mailboxId: MAILBOX,
      bucket: BUCKET,
      now: () => NOW,
      log: (event) => logs.push(event),
    });
    const events: PendingEvent[] = [];
    for (const identity of stored) {
      const body = Buffer.from(`From: billing@vendor.example\r\nSubject: Invoice ${identity}\r\n\r\nbody\r\n`);
      const message = await sink.store({ mailboxId: MAILBOX, identity, uid: identity, body: Readable.from([body]), sizeHint: body.length, firstSeenAt: new Date(NOW).toISOString() });
      const facts = { mailbox: MAILBOX, bucket: BUCKET, key: message.key, size: message.size, sha256: message.sha256, uidl: identity, identity, firstSeenAt: new Date(NOW).toISOString(), storedAt: new Date(NOW).toISOString() };
      await state.putStoredRecords(MAILBOX, [{ identity, uid: identity, status: 'stored', objectKey: message.key, size: message.size, sha256: message.sha256, firstSeenAt: facts.firstSeenAt, storedAt: facts.storedAt }]);
      events.push({ identity, detail: await mailStoredDetail(facts, message.headerBlock) });
    }
    return { outbox, outboxStore, events, logs };
  }

  it('publishes a batch once its records are durable and removes its outbox entry', async () => {
    const w = await world(['u1', 'u2']);
    bus.events.length = 0;
    const batch = await w.outbox.open(['u1', 'u2']);

    expect(await w.outbox.publish(batch, w.events)).toEqual({ published: 2, failed: 0, dropped: 0 });

    expect(bus.events.map((e) => e.detail.subject)).toEqual(['Invoice u1', 'Invoice u2']);
    expect(await w.outboxStore.list(MAILBOX, 10)).toEqual([]);
  });

  it('keeps what failed to publish; a later drain re-sends it from the stored object with the same eventId', async () => {
    const w = await world(['u1', 'u2', 'u3']);
    bus.events.length = 0;
    bus.failEntries(({ detail }) => (detail.uidl === 'u2' ? 'InternalFailure' : undefined));
    const batch = await w.outbox.open(['u1', 'u2', 'u3']);

    expect(await w.outbox.publish(batch, w.events)).toEqual({ published: 2, failed: 1, dropped: 0 });
    expect((await w.outboxStore.list(MAILBOX, 10)).map((b) => b.identities)).toEqual([['u2']]);
    expect(w.logs).toContain('events-not-published');

    bus.failEntries(undefined);
    expect(await w.outbox.drain(NOW + 60_000)).toEqual({ published: 1, failed: 0, dropped: 0 });
    const resent = bus.events.at(-1)!.detail;
    expect(resent).toEqual({ ...w.events[1]!.detail });
    expect(await w.outboxStore.list(MAILBOX, 10)).toEqual([]);
  });

  it('a whole run whose publishing fails loses nothing: the next run publishes every event once', async () => {
    const w = await world(['a1', 'a2', 'a3']);
    bus.events.length = 0;
    bus.failEntries(() => 'AccessDeniedException');
    for (const event of w.events) await w.outbox.publish(await w.outbox.open([event.identity]), [event]);
    expect(bus.events).toEqual([]);

    bus.failEntries(undefined);
    expect(await w.outbox.drain(NOW + 60_000)).toEqual({ published: 3, failed: 0, dropped: 0 });
    expect(bus.events.map((e) => e.detail.eventId).sort()).toEqual(w.events.map((e) => e.detail.eventId).sort());
    expect(await w.outbox.drain(NOW + 60_000)).toEqual({ published: 0, failed: 0, dropped: 0 });
  });

  it('drops outbox entries whose record was never written (a crash between the outbox and the records): no event for them', async () => {
    const w = await world(['kept']);
    bus.events.length = 0;
    await w.outboxStore.add(MAILBOX, ['kept', 'never-recorded'], new Date(NOW).toISOString());

    expect(await w.outbox.drain(NOW + 60_000)).toEqual({ published: 1, failed: 0, dropped: 1 });
    expect(bus.events.map((e) => e.detail.uidl)).toEqual(['kept']);
    expect(await w.outboxStore.list(MAILBOX, 10)).toEqual([]);
  });

  it('stops draining at the deadline; what is left waits for the next run', async () => {
    const w = await world(['d1']);
    await w.outboxStore.add(MAILBOX, ['d1'], new Date(NOW).toISOString());
    expect(await w.outbox.drain(NOW)).toEqual({ published: 0, failed: 0, dropped: 0 });
    expect(await w.outboxStore.list(MAILBOX, 10)).toHaveLength(1);
  });
});
