/**
 * The EventBridge adapter of {@link EventPublisher}: `Mail Stored` events in PutEvents
 * requests of at most ten entries and 256 KB (EventBridge's limits, counted its way), each
 * naming the stored object as its resource. A request that fails marks its entries failed;
 * an entry EventBridge refuses is failed alone. Nothing here retries beyond the SDK client's
 * own attempts: the outbox holds what failed until a later run.
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { EventPublisher, PublishFailure, PublishResult } from './event-publisher';
import { MAIL_STORED_DETAIL_TYPE, MAIL_STORED_SOURCE, type MailStoredDetail } from './mail-stored-detail';

/** PutEvents takes at most this many entries per request. */
export const MAX_ENTRIES_PER_PUT_EVENTS = 10;
/** ...and at most this many octets of entries, counted as EventBridge counts them. */
export const MAX_PUT_EVENTS_OCTETS = 256 * 1024;
/**
 * What an EventBridgeClient of ours waits for an answer: a PutEvents that has not answered
 * by then fails (and the SDK tries again, as after any timeout); its events stay in the
 * outbox. Without it the SDK waits for ever, and the run waits for its events until its
 * deadline.
 */
export const EVENTS_REQUEST_TIMEOUT_MS = 10_000;

/**
 * The `requestHandler` options of our EventBridgeClients. `throwOnRequestTimeout`: without
 * it the SDK's HTTP handler only logs a warning when `requestTimeout` passes, and goes on
 * waiting.
 */
export const EVENTS_REQUEST_HANDLER = { requestTimeout: EVENTS_REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true } as const;

/** An EventBridgeClient of ours, from the environment (region and credentials): {@link EVENTS_REQUEST_HANDLER}. */
export function eventBridgeClient(): EventBridgeClient {
  return new EventBridgeClient({ requestHandler: EVENTS_REQUEST_HANDLER });
}

/** EventBridge counts a Time field as 14 octets. */
const TIME_FIELD_OCTETS = 14;

export interface EventBridgePublisherOptions {
  readonly client: EventBridgeClient;
  /**
   * Name or ARN of the event bus.
   * @default 'default'
   */
  readonly eventBusName?: string;
}

export class EventBridgePublisher implements EventPublisher {
  private readonly eventBusName: string;

  constructor(private readonly options: EventBridgePublisherOptions) {
    this.eventBusName = options.eventBusName ?? 'default';
  }

  async publish(details: readonly MailStoredDetail[]): Promise<PublishResult> {
    const published: string[] = [];
    const failed: PublishFailure[] = [];
    for (const chunk of chunksOf(details.map((detail) => ({ detail, entry: this.entryOf(detail) })))) {
      const outcome = await this.send(chunk);
      published.push(...outcome.published);
      failed.push(...outcome.failed);
    }
    return { published, failed };
  }

  private entryOf(detail: MailStoredDetail): PutEventsRequestEntry {
    return {
      Source: MAIL_STORED_SOURCE,
      DetailType: MAIL_STORED_DETAIL_TYPE,
      Detail: JSON.stringify(detail),
      EventBusName: this.eventBusName,
      Resources: [`arn:aws:s3:::${detail.bucket}/${detail.key}`],
      Time: new Date(detail.storedAt),
    };
  }

  private async send(chunk: readonly Pending[]): Promise<PublishResult> {
    try {
      const response = await this.options.client.send(new PutEventsCommand({ Entries: chunk.map((p) => p.entry) }));
      const results = response.Entries ?? [];
      const published: string[] = [];
      const failed: PublishFailure[] = [];
      chunk.forEach((p, i) => {
        const result = results[i];
        // Entries come back in request order; one without an EventId was not accepted.
        if (result?.EventId && !result.ErrorCode) published.push(p.detail.eventId);
        else failed.push({ eventId: p.detail.eventId, code: result?.ErrorCode ?? 'NoResult', message: result?.ErrorMessage ?? 'EventBridge returned no result for the entry' });
      });
      return { published, failed };
    } catch (err) {
      const code = (err as { name?: string }).name ?? 'Error';
      const message = err instanceof Error ? err.message : String(err);
      return { published: [], failed: chunk.map((p) => ({ eventId: p.detail.eventId, code, message })) };
    }
  }
}

interface Pending {
  readonly detail: MailStoredDetail;
  readonly entry: PutEventsRequestEntry;
}

/** Consecutive runs of entries within both PutEvents limits. */
function chunksOf(pending: readonly Pending[]): Pending[][] {
  const chunks: Pending[][] = [];
  let current: Pending[] = [];
  let octets = 0;
  for (const p of pending) {
    const size = entryOctets(p.entry);
    if (current.length === MAX_ENTRIES_PER_PUT_EVENTS || (current.length > 0 && octets + size > MAX_PUT_EVENTS_OCTETS)) {
      chunks.push(current);
      current = [];
      octets = 0;
    }
    current.push(p);
    octets += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** EventBridge's own count: Time, Source, DetailType, Detail and each Resource, in UTF-8 octets. */
export function entryOctets(entry: PutEventsRequestEntry): number {
  const utf8 = (s: string | undefined): number => (s === undefined ? 0 : Buffer.byteLength(s, 'utf8'));
  return (
    (entry.Time ? TIME_FIELD_OCTETS : 0) +
    utf8(entry.Source) +
    utf8(entry.DetailType) +
    utf8(entry.Detail) +
    (entry.Resources ?? []).reduce((sum, r) => sum + utf8(r), 0)
  );
}
