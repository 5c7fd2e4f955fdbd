/**
 * When the record batch goes out, and what its writers learn. The store here is the port
 * with a recorder behind it (the DynamoDB adapter is covered by the contract suite); the
 * clock is vitest's fake one, so the linger is exact.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MessageRecord } from '../../lambda/state/state-store';
import { BATCH_LINGER_MS, StoredRecordBatch } from '../../lambda/sync/stored-record-batch';

function record(identity: string): MessageRecord {
  return { identity, uid: identity, status: 'stored', objectKey: `k/${identity}`, size: 1, firstSeenAt: '2026-01-01T00:00:00.000Z' };
}

/** A store whose writes the test resolves or fails, one by one. */
class RecordingStore {
  readonly calls: string[][] = [];
  private readonly settles: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  putStoredRecords = (_mailbox: string, records: readonly MessageRecord[]): Promise<void> => {
    this.calls.push(records.map((r) => r.identity));
    return new Promise((resolve, reject) => this.settles.push({ resolve, reject }));
  };

  finish(index: number, err?: Error): void {
    const s = this.settles[index]!;
    if (err) s.reject(err);
    else s.resolve();
  }
}

const flushMicrotasks = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('StoredRecordBatch', () => {
  let store: RecordingStore;
  let inFlight: number;
  let batch: StoredRecordBatch;
  beforeEach(() => {
    vi.useFakeTimers();
    store = new RecordingStore();
    inFlight = 100;
    batch = new StoredRecordBatch({ state: store, mailboxId: 'm', inFlight: () => inFlight });
  });
  afterEach(() => vi.useRealTimers());

  it('sends 25 records in one request as soon as they are there; the 26th starts the next batch', async () => {
    const writes = Array.from({ length: 26 }, (_, i) => batch.write(record(`u${i}`)));
    await flushMicrotasks();
    expect(store.calls).toEqual([Array.from({ length: 25 }, (_, i) => `u${i}`)]);
    store.finish(0);
    await Promise.all(writes.slice(0, 25));
    // The 26th waits for others, up to the linger.
    await flushMicrotasks();
    expect(store.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(BATCH_LINGER_MS);
    expect(store.calls[1]).toEqual(['u25']);
    store.finish(1);
    await writes[25];
  });

  it('goes at once when every upload in flight is waiting for it (nothing else could join)', async () => {
    inFlight = 3;
    const writes = ['a', 'b'].map((id) => batch.write(record(id)));
    await flushMicrotasks();
    expect(store.calls).toEqual([]);
    const third = batch.write(record('c'));
    await flushMicrotasks();
    expect(store.calls).toEqual([['a', 'b', 'c']]);
    store.finish(0);
    await Promise.all([...writes, third]);
  });

  it('goes when an upload leaves without a record and the rest are all waiting (poke)', async () => {
    inFlight = 3;
    const writes = ['a', 'b'].map((id) => batch.write(record(id)));
    await flushMicrotasks();
    inFlight = 2; // the third upload failed
    batch.poke();
    await flushMicrotasks();
    expect(store.calls).toEqual([['a', 'b']]);
    store.finish(0);
    await Promise.all(writes);
  });

  it('waits at most the linger for more records', async () => {
    const write = batch.write(record('a'));
    await vi.advanceTimersByTimeAsync(BATCH_LINGER_MS - 1);
    expect(store.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(store.calls).toEqual([['a']]);
    store.finish(0);
    await write;
  });

  it('settles each writer with its own batch only: a failed write fails its writers, the next batch still goes', async () => {
    inFlight = 2;
    const first = ['a', 'b'].map((id) => batch.write(record(id)));
    const outcomes = first.map((p) => p.then(() => 'ok', (e: Error) => e.message));
    await flushMicrotasks();
    inFlight = 4; // two more uploads reach their record while the first batch is written
    const second = ['c', 'd'].map((id) => batch.write(record(id)));
    await flushMicrotasks();
    // One batch at a time: the second waits for the first to settle.
    expect(store.calls).toEqual([['a', 'b']]);
    store.finish(0, new Error('throttled'));
    expect(await Promise.all(outcomes)).toEqual(['throttled', 'throttled']);
    await flushMicrotasks();
    expect(store.calls).toEqual([['a', 'b'], ['c', 'd']]);
    store.finish(1);
    await Promise.all(second);
  });

  it('never puts one identity twice in a request (DynamoDB refuses duplicate keys)', async () => {
    const first = batch.write(record('a'));
    const again = batch.write(record('a'));
    await flushMicrotasks();
    expect(store.calls).toEqual([['a']]);
    store.finish(0);
    await first;
    await vi.advanceTimersByTimeAsync(BATCH_LINGER_MS);
    expect(store.calls).toEqual([['a'], ['a']]);
    store.finish(1);
    await again;
  });
});
