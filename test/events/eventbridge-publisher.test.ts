/**
 * EventBridgePublisher with a real EventBridgeClient against the local PutEvents endpoint
 * (test/fixtures/fake-eventbridge.ts): the entries it sends, how it splits them, and what
 * it reports when a request or single entries fail.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EventBridgePublisher, MAX_ENTRIES_PER_PUT_EVENTS } from '../../lambda/events/eventbridge-publisher';
import { MAX_DETAIL_OCTETS, mailStoredDetail, type MailStoredDetail } from '../../lambda/events/mail-stored-detail';
import { startFakeEventBridge, type FakeEventBridge } from '../fixtures/fake-eventbridge';

async function details(count: number, subject = 'Invoice'): Promise<MailStoredDetail[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      mailStoredDetail(
        { mailbox: 'acme', bucket: 'mail', key: `messages/acme/u${i}.eml`, size: 100 + i, sha256: String(i).padStart(64, '0'), uidl: `u${i}`, identity: `u${i}`, firstSeenAt: '2026-12-06T10:00:00.000Z', storedAt: '2026-12-06T10:00:01.000Z' },
        Buffer.from(`From: billing@vendor.example\r\nSubject: ${subject} ${i}\r\n`),
      ),
    ),
  );
}

describe('EventBridgePublisher', () => {
  let bus: FakeEventBridge;

  beforeAll(async () => {
    bus = await startFakeEventBridge();
  });
  beforeEach(() => {
    bus.events.length = 0;
    bus.failEntries(undefined);
  });
  afterAll(async () => {
    await bus?.close();
  });

  it('sends each detail as a Mail Stored event from mailfetch on the bus, naming the object, ten to a request', async () => {
    const publisher = new EventBridgePublisher({ client: bus.createClient(), eventBusName: 'mail-bus' });
    const sent = await details(23);
    const before = bus.calls();

    const result = await publisher.publish(sent);

    expect(result).toEqual({ published: sent.map((d) => d.eventId), failed: [] });
    expect(bus.calls() - before).toBe(Math.ceil(23 / MAX_ENTRIES_PER_PUT_EVENTS));
    expect(bus.events).toHaveLength(23);
    expect(bus.events[4]).toMatchObject({
      bus: 'mail-bus',
      source: 'mailfetch',
      detailType: 'Mail Stored',
      resources: ['arn:aws:s3:::mail/messages/acme/u4.eml'],
      time: Date.parse('2026-12-06T10:00:01.000Z') / 1000,
      detail: { eventId: sent[4]!.eventId, subject: 'Invoice 4', from: { address: 'billing@vendor.example' } },
    });
  });

  it('keeps each request within 256 KB, splitting by size when ten entries would not fit', async () => {
    // Larger than mailStoredDetail ever makes them (MAX_DETAIL_OCTETS): ten of these are ~400 KB.
    const large = (await details(12)).map((d) => ({ ...d, references: Array.from({ length: 100 }, (_, i) => `<${'r'.repeat(400)}${i}@example.org>`) }));
    expect(Buffer.byteLength(JSON.stringify(large[0]))).toBeGreaterThan(MAX_DETAIL_OCTETS);
    const before = bus.calls();

    const result = await new EventBridgePublisher({ client: bus.createClient() }).publish(large);

    expect(result.failed).toEqual([]);
    // Six per request: ten (the count limit) would be refused whole by the endpoint's 256 KB check.
    expect(bus.events).toHaveLength(12);
    expect(bus.calls() - before).toBe(2);
  });

  it('reports the entries EventBridge refused, with their codes, and publishes the others', async () => {
    const sent = await details(5);
    bus.failEntries(({ detail }) => (detail.uidl === 'u1' || detail.uidl === 'u3' ? 'ThrottlingException' : undefined));

    const result = await new EventBridgePublisher({ client: bus.createClient() }).publish(sent);

    expect(result.published).toEqual([sent[0]!.eventId, sent[2]!.eventId, sent[4]!.eventId]);
    expect(result.failed).toEqual([
      { eventId: sent[1]!.eventId, code: 'ThrottlingException', message: 'refused by the test: ThrottlingException' },
      { eventId: sent[3]!.eventId, code: 'ThrottlingException', message: 'refused by the test: ThrottlingException' },
    ]);
  });

  it('a request that fails fails its entries only, with the error name; it does not throw', async () => {
    const sent = await details(15);
    bus.failNext({ status: 400, type: 'AccessDeniedException', message: 'not authorized to perform events:PutEvents' });

    const result = await new EventBridgePublisher({ client: bus.createClient() }).publish(sent);

    expect(result.failed.map((f) => f.eventId)).toEqual(sent.slice(0, 10).map((d) => d.eventId));
    expect(result.failed[0]).toMatchObject({ code: 'AccessDeniedException', message: 'not authorized to perform events:PutEvents' });
    expect(result.published).toEqual(sent.slice(10).map((d) => d.eventId));
  });
});
