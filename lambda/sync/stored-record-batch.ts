/**
 * Groups the `stored` records of a session's uploads into batch writes: one request for up
 * to 25 records instead of one conditional PutItem each (a fifth of the SDK's CPU per small
 * message, and 25 times fewer requests). Each writer's promise settles when the batch that
 * holds its record is durable, or fails with it: only then may the message be deleted.
 *
 * When a batch goes out: it is full; or every upload still in flight is waiting on it (no
 * record can join before one of them is let go, so waiting longer would only stall the
 * session); or its first record has waited {@link BATCH_LINGER_MS}. Batches go out one
 * after another (their order does not matter to the state; the limit is politeness).
 *
 * With events on, a batch's outbox entry is written first, under the same signal, and a
 * batch whose entry failed is not written either (event-outbox.ts): a durable record always
 * has its event, published or kept. The events go out after the writers were let go.
 */
import type { MessageRecord, StateStore } from '../state/state-store';
import { MAX_STORED_RECORDS_PER_CALL } from '../state/state-store';
import type { EventOutbox } from './event-outbox';

/** Longest a record waits for others to join its batch: bounds the delay of its DELE. */
export const BATCH_LINGER_MS = 50;

const NO_HEADERS = Buffer.alloc(0);

interface Waiting {
  readonly record: MessageRecord;
  /** What the upload captured, for the record's event. */
  readonly headerBlock: Buffer;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export interface StoredRecordBatchOptions {
  readonly state: Pick<StateStore, 'putStoredRecords'>;
  readonly mailboxId: string;
  /** Once aborted, batches are no longer sent (they fail with the store's ABORTED). @default never */
  readonly signal?: AbortSignal;
  /** How many uploads are in flight now, each of which may still add a record. */
  readonly inFlight: () => number;
  /** The run's outbox when events are on. @default no events */
  readonly events?: Pick<EventOutbox, 'open' | 'publishStored'>;
  /** @default MAX_STORED_RECORDS_PER_CALL (25) */
  readonly maxRecords?: number;
  /** @default BATCH_LINGER_MS */
  readonly lingerMs?: number;
}

export class StoredRecordBatch {
  private pending: Waiting[] = [];
  /** Writers whose batch is being written now (still counted as in flight by the caller). */
  private writing = 0;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly maxRecords: number;
  private readonly lingerMs: number;

  constructor(private readonly options: StoredRecordBatchOptions) {
    this.maxRecords = Math.min(options.maxRecords ?? MAX_STORED_RECORDS_PER_CALL, MAX_STORED_RECORDS_PER_CALL);
    this.lingerMs = options.lingerMs ?? BATCH_LINGER_MS;
  }

  /** Resolves once `record` is durable; rejects with the batch's error. `headerBlock` makes its event. */
  write(record: MessageRecord, headerBlock: Buffer = NO_HEADERS): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // One identity per request (BatchWriteItem refuses duplicate keys): a second record
      // of the same identity goes in the next batch, after the first one.
      if (this.pending.some((w) => w.record.identity === record.identity)) this.flush();
      this.pending.push({ record, headerBlock, resolve, reject });
      this.timer ??= setTimeout(() => this.flush(), this.lingerMs);
      this.poke();
    });
  }

  /**
   * Re-checks whether the batch should go now: the caller calls it whenever an upload
   * leaves the in-flight set without adding a record (a failure), which may leave every
   * remaining one waiting here.
   */
  poke(): void {
    if (this.pending.length >= this.maxRecords || (this.pending.length > 0 && this.pending.length + this.writing >= this.options.inFlight())) this.flush();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.writing += batch.length;
    this.chain = this.chain.then(async () => {
      try {
        const { signal, events } = this.options;
        const opened = events ? await events.open(batch.map((w) => w.record.identity), signal) : undefined;
        await this.options.state.putStoredRecords(this.options.mailboxId, batch.map((w) => w.record), signal ? { signal } : {});
        for (const w of batch) w.resolve();
        if (opened) events!.publishStored(opened, batch);
      } catch (err) {
        for (const w of batch) w.reject(err);
      } finally {
        this.writing -= batch.length;
      }
    });
  }
}
