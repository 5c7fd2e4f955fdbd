/**
 * The ordering of `Mail Stored` events, at least once and never for a message that is not
 * stored:
 *
 * 1. `open`: the identities of a batch of stored records go into the outbox, durably,
 *    BEFORE those records are written. A durable record therefore always has its outbox
 *    entry until its event was published, whatever crashes when.
 * 2. `publish`: once the records are durable, their events are published (from the header
 *    blocks the run still holds) and the outbox keeps only what failed.
 * 3. `drain`: a later run re-sends what is left: for each identity whose record is
 *    `stored`, the event is made again from the object's header block; an identity without
 *    a stored record never became durable (its message is fetched again, with a new entry).
 *
 * Publishing never fails a message nor holds back a deletion: a failure is logged and left
 * in the outbox. An event can go out twice (a crash between publish and settle); its
 * `eventId` is the same each time, which is what consumers deduplicate on.
 */
import type { EventPublisher, PublishResult } from '../events/event-publisher';
import { mailStoredDetail, type MailStoredDetail, type StoredMessageFacts } from '../events/mail-stored-detail';
import type { OutboxBatch, OutboxStore } from '../state/outbox-store';
import type { MessageRecord, StateStore } from '../state/state-store';
import type { MessageSink } from '../storage/message-sink';
import { forEachLimited } from './for-each-limited';
import { settlesWithin } from './settles-within';

/** Outbox batches one run re-sends at most (25 events each): the rest waits for the next run. */
export const MAX_OUTBOX_BATCHES_PER_RUN = 40;
/** Header blocks read at once while re-sending a batch (one ranged GetObject each). */
export const RESEND_READS_IN_FLIGHT = 8;
/**
 * Record batches whose events are published at once within a run. The others wait as bare
 * identities (their header blocks are let go and read again from S3 when their turn comes),
 * so a slow or hanging EventBridge holds at most this many batches' header blocks (25 of up
 * to 64 KiB each) and PutEvents requests, whatever the number of messages the run stores.
 */
export const MAX_BATCHES_PUBLISHING = 4;

export interface EventOutboxOptions {
  readonly outbox: OutboxStore;
  readonly publisher: EventPublisher;
  readonly state: Pick<StateStore, 'getRecords'>;
  readonly sink: Pick<MessageSink, 'readHeaderBlock'>;
  readonly mailboxId: string;
  /** The bucket the sink stores into (the events name it). */
  readonly bucket: string;
  readonly now: () => number;
  readonly log: (event: string, fields?: Record<string, unknown>) => void;
}

/** One message's event, with the identity its outbox entry names. */
export interface PendingEvent {
  readonly identity: string;
  readonly detail: MailStoredDetail;
}

export interface EventTally {
  published: number;
  failed: number;
  /** Outbox entries without a stored record: their message was never durably stored. */
  dropped: number;
}

/** A record just made durable, with the header block its upload captured. */
export interface StoredForEvent {
  readonly record: MessageRecord;
  readonly headerBlock: Buffer;
}

export class EventOutbox {
  /** Everything this run published, failed to publish, or dropped (drain included). */
  readonly tally: EventTally = { published: 0, failed: 0, dropped: 0 };
  private readonly publishing = new Set<Promise<void>>();
  /** Batches of this run waiting for a publishing place (MAX_BATCHES_PUBLISHING), oldest first. */
  private readonly waiting: OutboxBatch[] = [];

  constructor(private readonly options: EventOutboxOptions) {}

  /** Step 1: the outbox entry of records about to be written. Throws when it is not durable (then neither may they be written). */
  open(identities: readonly string[], signal?: AbortSignal): Promise<OutboxBatch> {
    return this.options.outbox.add(this.options.mailboxId, identities, new Date(this.options.now()).toISOString(), signal ? { signal } : {});
  }

  /** Step 2: the records of `batch` are durable; publish their events and settle. Never throws. */
  async publish(batch: OutboxBatch, events: readonly PendingEvent[]): Promise<EventTally> {
    const tally: EventTally = { published: 0, failed: 0, dropped: 0 };
    await this.publishAndSettle(batch, events, [], tally);
    return tally;
  }

  /**
   * Step 2 for a batch of records the run just wrote: the events are made from the header
   * blocks it still holds and published in the background, so that neither the session nor
   * its deletions wait for EventBridge; `idle()` waits for them. Never throws.
   */
  publishStored(batch: OutboxBatch, stored: readonly StoredForEvent[]): void {
    if (this.publishing.size >= MAX_BATCHES_PUBLISHING) {
      this.waiting.push(batch);
      return;
    }
    this.track(batch.id, async () => {
      const events = await Promise.all(
        stored.filter(({ record }) => isStored(record)).map(async ({ record, headerBlock }) => ({
          identity: record.identity,
          detail: await detailOf(this.options, factsOf(this.options, record as StoredRecord), headerBlock),
        })),
      );
      await this.publishAndSettle(batch, events, [], this.tally);
    });
  }

  /** Runs `work` as one of the batches publishing; when it ends, the next waiting batch (made again from S3) takes its place. */
  private track(batchId: string, work: () => Promise<void>): void {
    const publishing: Promise<void> = work()
      .catch((err: unknown) => this.options.log('events-not-published', { batch: batchId, error: describe(err) }))
      .finally(() => {
        this.publishing.delete(publishing);
        const next = this.waiting.shift();
        if (next !== undefined) this.track(next.id, () => this.resend(next, this.tally));
      });
    this.publishing.add(publishing);
  }

  /** Resolves once every publishStored() of this run has settled (the batches waiting for a place included). */
  async idle(): Promise<void> {
    while (this.publishing.size > 0) await Promise.all(this.publishing);
  }

  /**
   * Step 3: re-sends what earlier runs left, oldest first, until `deadline` (epoch ms). Never
   * throws. Returns by the deadline whatever EventBridge, S3 or DynamoDB do: a batch still
   * being re-sent then goes on in the background (idle() waits for it) and the drain stops
   * there. Every batch it listed was written before this run's sessions began (it lists
   * before returning), so it never meets a batch whose records are still being written.
   */
  async drain(deadline: number, maxBatches = MAX_OUTBOX_BATCHES_PER_RUN): Promise<EventTally> {
    const before = { ...this.tally };
    const work = this.drainInto(this.tally, deadline, maxBatches);
    if (!(await settlesWithin(work, deadline - this.options.now()))) {
      this.options.log('events-resend-late', { deadline: new Date(deadline).toISOString() });
      this.track('drain', () => work);
    }
    return { published: this.tally.published - before.published, failed: this.tally.failed - before.failed, dropped: this.tally.dropped - before.dropped };
  }

  private async drainInto(tally: EventTally, deadline: number, maxBatches: number): Promise<void> {
    let batches: OutboxBatch[];
    try {
      batches = await this.options.outbox.list(this.options.mailboxId, maxBatches);
    } catch (err) {
      this.options.log('events-outbox-unreadable', { error: describe(err) });
      return;
    }
    // A full listing may leave newer batches out: those re-sent in vain then go to the back
    // of the outbox, or batches that can never go out would take every run's drain for good.
    const requeue = batches.length >= maxBatches;
    for (const batch of batches) {
      if (this.options.now() >= deadline) break;
      try {
        await this.resend(batch, tally, requeue);
      } catch (err) {
        // Left as it is: the next run tries again.
        this.options.log('events-resend-failed', { batch: batch.id, error: describe(err) });
      }
    }
  }

  /** A batch's events made again from its records and stored objects, published, and the batch settled. */
  private async resend(batch: OutboxBatch, tally: EventTally, requeue = false): Promise<void> {
    const { events, missing } = await this.remake(batch);
    tally.dropped += missing.length;
    await this.publishAndSettle(batch, events, missing, tally, requeue);
  }

  /**
   * The events of a batch made again from the records and the objects' header blocks;
   * `missing`: identities without a stored message. An object that cannot be read now (S3
   * throttling, an archived storage class) keeps its identity in the batch, alone: it
   * neither holds back the others' events nor counts as missing.
   */
  private async remake(batch: OutboxBatch): Promise<{ events: PendingEvent[]; missing: string[] }> {
    const records = await this.options.state.getRecords(this.options.mailboxId, batch.identities);
    const made = new Map<string, PendingEvent>();
    const unreadable = new Set<string>();
    await forEachLimited(batch.identities, RESEND_READS_IN_FLIGHT, async (identity) => {
      const record = records.get(identity);
      if (!isStored(record)) return;
      let headerBlock: Buffer | undefined;
      try {
        headerBlock = await this.options.sink.readHeaderBlock(record.objectKey);
      } catch (err) {
        unreadable.add(identity);
        this.options.log('events-object-unreadable', { batch: batch.id, key: record.objectKey, error: describe(err) });
        return;
      }
      if (headerBlock !== undefined) made.set(identity, { identity, detail: await detailOf(this.options, factsOf(this.options, record), headerBlock) });
    });
    // In the batch's order, so a re-send goes out as the first send did.
    const events = batch.identities.flatMap((identity) => made.get(identity) ?? []);
    return { events, missing: batch.identities.filter((identity) => !made.has(identity) && !unreadable.has(identity)) };
  }

  /** `requeue`: what is left goes into a new batch, at the back of the outbox (written before this one is removed). */
  private async publishAndSettle(batch: OutboxBatch, events: readonly PendingEvent[], missing: readonly string[], tally: EventTally, requeue = false): Promise<void> {
    const result = events.length > 0 ? await this.options.publisher.publish(events.map((e) => e.detail)) : { published: [], failed: [] };
    tally.published += result.published.length;
    tally.failed += result.failed.length;
    if (result.failed.length > 0) this.options.log('events-not-published', { count: result.failed.length, first: result.failed[0] });
    const remaining = remainingIdentities(batch, events, result, missing);
    try {
      if (requeue && remaining.length > 0) {
        await this.open(remaining);
        await this.options.outbox.settle(this.options.mailboxId, batch, []);
        return;
      }
      await this.options.outbox.settle(this.options.mailboxId, batch, remaining);
    } catch (err) {
      // Published but not settled: the next run sends them again (same eventIds).
      this.options.log('events-outbox-not-settled', { batch: batch.id, error: describe(err) });
    }
  }
}

/** Identities of the batch still to publish: all but those published and those without a stored message. */
function remainingIdentities(batch: OutboxBatch, events: readonly PendingEvent[], result: PublishResult, missing: readonly string[]): string[] {
  const published = new Set(result.published);
  const done = new Set([...missing, ...events.filter((e) => published.has(e.detail.eventId)).map((e) => e.identity)]);
  return batch.identities.filter((identity) => !done.has(identity));
}

type StoredRecord = MessageRecord & { readonly objectKey: string; readonly sha256: string; readonly storedAt: string };

function isStored(record: MessageRecord | undefined): record is StoredRecord {
  return record?.status === 'stored' && record.objectKey !== undefined && record.sha256 !== undefined && record.storedAt !== undefined;
}

/**
 * The detail from the header block; should decoding ever fail, the event still goes out
 * with where the message is (its header fields empty, `truncated: ['headers']`): an entry
 * that could never be made would otherwise stay in the outbox for good.
 */
async function detailOf(o: Pick<EventOutboxOptions, 'log'>, facts: StoredMessageFacts, headerBlock: Buffer): Promise<MailStoredDetail> {
  try {
    return await mailStoredDetail(facts, headerBlock);
  } catch (err) {
    o.log('events-headers-undecodable', { key: facts.key, error: describe(err) });
    const bare = await mailStoredDetail(facts, Buffer.alloc(0));
    return { ...bare, truncated: ['headers'] };
  }
}

function factsOf(o: Pick<EventOutboxOptions, 'mailboxId' | 'bucket'>, record: StoredRecord): StoredMessageFacts {
  return {
    mailbox: o.mailboxId,
    bucket: o.bucket,
    key: record.objectKey,
    size: record.size,
    sha256: record.sha256,
    uidl: record.uid,
    identity: record.identity,
    firstSeenAt: record.firstSeenAt,
    storedAt: record.storedAt,
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
